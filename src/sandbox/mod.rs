//! The sandbox's life: `up` as an ordered list of small steps over one context (host → pulls
//! alongside the cluster's creation → load → cluster checks → the stack → the proof), and
//! `status`, `down`, `reset` and access beside it. Library code: it reports through the
//! context's [`Steps`] and returns data for `commands` to render.

pub mod access;
pub mod diagnose;
pub mod down;
pub mod host;
pub mod install;
pub mod lock;
pub mod parts;
pub mod pause;
pub mod plan;
pub mod pull;
pub mod repair;
pub mod status;
pub mod steps;
pub mod studies;
pub mod target;
pub mod up;
pub mod upgrade;

use std::time::Duration;

use crate::base::env::{self, Env};
use crate::base::report::Steps;
use crate::driver::ProviderKind;
use crate::driver::common::shell_quote;
use crate::host::{self as host_facts, HostFacts, Scope};

/// What every step runs with: the environment, where its phases go, and the command line
/// (for hints that repeat it).
#[derive(Clone)]
pub struct Context {
    pub env: Env,
    pub steps: Steps,
    /// The arguments after the program's name, as typed.
    pub args: Vec<String>,
}

impl Context {
    pub fn new(env: Env, steps: Steps) -> Self {
        Self {
            env,
            steps,
            args: Vec::new(),
        }
    }

    pub fn with_args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }

    /// The user's command line with `flags` added (those it already has are not repeated),
    /// quoted for a shell: what a hint tells them to run. `command` stands in when korthbox was
    /// not run from a command line.
    pub fn command_with(&self, command: &str, flags: &[&str]) -> String {
        let mut words: Vec<String> = if self.args.is_empty() {
            command.split_whitespace().map(String::from).collect()
        } else {
            self.args.clone()
        };
        for flag in flags {
            if !words.iter().any(|w| w == flag) {
                words.push(flag.to_string());
            }
        }
        let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        format!("korthbox {}", quoted.join(" "))
    }

    /// Another korthbox command for the same sandbox (`korthbox logs orthanc --name dev`): the
    /// flags that chose the sandbox on this command line are carried over, quoted for a shell.
    pub fn same_target(&self, command: &str) -> String {
        const TARGET: [&str; 6] = [
            "--name",
            "--driver",
            "--context",
            "--namespace",
            "--kubeconfig",
            "--config",
        ];
        let mut words: Vec<String> = command.split_whitespace().map(String::from).collect();
        let mut typed = self.args.iter().peekable();
        while let Some(word) = typed.next() {
            let flag = word.split_once('=').map_or(word.as_str(), |(f, _)| f);
            if !TARGET.contains(&flag) {
                continue;
            }
            words.push(word.clone());
            if !word.contains('=')
                && let Some(value) = typed.next()
            {
                words.push(value.clone());
            }
        }
        let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        format!("korthbox {}", quoted.join(" "))
    }

    /// Whether `flag` was typed on this command line (`--node-cpus 4` or `--node-cpus=4`).
    pub fn typed(&self, flag: &str) -> bool {
        self.args
            .iter()
            .any(|w| w == flag || w.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
    }

    /// Says once for each typed flag that does not apply here, and why.
    pub fn note_unused(
        &self,
        driver: &dyn crate::driver::Driver,
        stack: &crate::kube::stack::spec::Choices,
    ) {
        for (flag, why) in driver.unused_flags() {
            if self.typed(flag) {
                self.steps.note(&format!(
                    "note: {flag} does not apply to --driver {}: {why}",
                    driver.kind().label()
                ));
            }
        }
        if self.typed("--storage")
            && stack.storage == crate::base::spec::StorageLayer::Minio
            && stack.orthanc_storage != crate::base::spec::OrthancStorage::S3
        {
            let (place, flag) = match stack.orthanc_storage {
                crate::base::spec::OrthancStorage::Postgres => ("in PostgreSQL", "postgres"),
                _ => ("on a persistent volume", "pv"),
            };
            self.steps.note(&format!(
                "note: --storage minio installs MinIO, but Orthanc keeps its files {place} (--orthanc-storage {flag}); --orthanc-storage s3 puts them in MinIO"
            ));
        }
        if stack.storage == crate::base::spec::StorageLayer::Minio {
            self.steps.note(crate::kube::stack::images::MINIO_NOTE);
        }
        if stack.dicom_service == crate::base::spec::DicomService::Loadbalancer {
            self.steps.note("warning: --dicom-service loadbalancer puts Orthanc's DICOM port on an address outside the cluster, and Orthanc accepts stores from any modality: anyone who reaches that address can store in it (and find, with DicomAlwaysAllowFind)");
        }
    }

    /// How long host probes may take when a command (not doctor) gathers host facts.
    /// A value that is not a duration is said, and the default used (doctor, which takes it as
    /// its `--probe-timeout`, refuses it with exit 2).
    pub fn probe_timeout(&self) -> Duration {
        const DEFAULT: Duration = Duration::from_secs(2);
        let Some(text) = self.env.var(env::KORTHBOX_PROBE_TIMEOUT) else {
            return DEFAULT;
        };
        static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        env::parse_seconds(text).unwrap_or_else(|| {
            if SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                return DEFAULT;
            }
            self.steps.note(&format!(
                "warning: {}={text:?} is not a number of seconds between 0 and 3600; probes take up to 2 s",
                env::KORTHBOX_PROBE_TIMEOUT
            ));
            DEFAULT
        })
    }

    /// What this host has: its OS, engines (the one korthbox would use), tools and kube
    /// contexts.
    pub async fn gather(&self) -> HostFacts {
        self.gather_for(None).await
    }

    /// Like [`Context::gather`], the engine being one of `provider`'s kind.
    pub async fn gather_for(&self, provider: Option<ProviderKind>) -> HostFacts {
        let api = provider.map(ProviderKind::api);
        host_facts::gather(&self.env, self.probe_timeout(), Scope::Use(api)).await
    }
}
