//! The sandbox's life: `up` as an ordered list of small steps over one context (host → pulls
//! alongside the cluster's creation → load → cluster checks → the stack → the proof), and
//! `status`, `down`, `reset` and access beside it. Library code: it reports through the
//! context's [`Steps`] and returns data for `commands` to render.

pub mod access;
pub mod down;
pub mod host;
pub mod parts;
pub mod plan;
pub mod status;
pub mod steps;
pub mod target;
pub mod up;

use std::time::Duration;

use crate::env::{self, Env};
use crate::host::{self as host_facts, HostFacts};
use crate::report::Steps;

/// What every step runs with: the environment and where its phases go.
#[derive(Clone)]
pub struct Context {
    pub env: Env,
    pub steps: Steps,
}

impl Context {
    pub fn new(env: Env, steps: Steps) -> Self {
        Self { env, steps }
    }

    /// How long host probes may take when a command (not doctor) gathers host facts.
    pub fn probe_timeout(&self) -> Duration {
        self.env
            .var(env::KORTHBOX_PROBE_TIMEOUT)
            .and_then(env::parse_seconds)
            .unwrap_or(Duration::from_secs(2))
    }

    /// What this host has: its OS, engines, tools and kube contexts.
    pub async fn gather(&self) -> HostFacts {
        host_facts::gather(&self.env, self.probe_timeout()).await
    }
}
