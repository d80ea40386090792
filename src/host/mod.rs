//! Facts about the workstation, gathered concurrently and each under a timeout: the OS, the
//! container engines, the cluster tools, kubeconfig contexts and a few Linux kernel settings.

pub mod engines;
pub mod fs;
pub mod http;
pub mod kubeconfig;
pub mod linux;
pub mod os;
pub mod process;
pub mod proxy;
pub mod s3;
pub mod tls;
pub mod tools;
pub mod words;

use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;

use crate::base::env::Env;
use engines::{Api, Asked, Endpoint, Engine, EngineKind};
use kubeconfig::KubeContexts;
use os::HostOs;
use tools::{Tool, ToolName};

#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    pub host: HostOs,
    /// The engines asked, in preference order (see [`engines::discover`]).
    pub engines: Vec<Engine>,
    /// Which of them korthbox would use.
    #[serde(skip)]
    pub selected: Option<usize>,
    pub tools: Vec<Tool>,
    pub kubeconfig: KubeContexts,
}

impl HostFacts {
    /// The engine korthbox would use: the first in preference order that answers (and speaks
    /// the API asked for), the one asked `/info`.
    pub fn selected_engine(&self) -> Option<&Engine> {
        self.engines.get(self.selected?)
    }

    /// The engine the user named (DOCKER_HOST, a Docker context) when it is not answering:
    /// korthbox uses no other in its place.
    pub fn named_engine_silent(&self) -> Option<&Engine> {
        self.engines
            .first()
            .filter(|e| e.source.is_explicit() && self.selected.is_none())
    }

    pub fn tool(&self, name: ToolName) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// Which engines are asked what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every engine asked everything (`doctor -v`).
    Everything,
    /// The engine korthbox would use asked `/info`, every other one pinged (`doctor`).
    Listed,
    /// Only the engine korthbox would use, speaking `Api` if given, asked `/info`; the
    /// others are pinged only when the first choice does not answer (and left out otherwise).
    Use(Option<Api>),
}

/// Gathers every fact at once; each engine and tool probe gives up after `timeout`.
pub async fn gather(env: &Env, timeout: Duration, scope: Scope) -> HostFacts {
    let host = os::detect(env);
    let endpoints = engines::discover(env, host.family);

    let kube_env = env.clone();
    let kube = async move {
        tokio::task::spawn_blocking(move || kubeconfig::read(&kube_env))
            .await
            .unwrap_or_default()
    };
    // The engine's answer is the longest wait (Docker Engine takes ~5 ms to compose `/info`):
    // `join!` polls in order, so its request is on the wire before the rest is even started.
    let ((engines, selected), tools, kubeconfig) = tokio::join!(
        ask_engines(endpoints, timeout, scope),
        tools::probe_all(env, timeout),
        kube
    );
    HostFacts {
        host,
        engines,
        selected,
        tools,
        kubeconfig,
    }
}

/// The engines asked as `scope` says, and which one korthbox would use. The likely choice
/// (the first endpoint whose socket path does not rule it out) is asked `/info` while the
/// others are pinged, so that the usual case costs one engine's answer.
async fn ask_engines(
    endpoints: Vec<Endpoint>,
    timeout: Duration,
    scope: Scope,
) -> (Vec<Engine>, Option<usize>) {
    let want = match scope {
        Scope::Use(api) => api,
        Scope::Everything | Scope::Listed => None,
    };
    let fits = |e: &Engine| e.is_reachable() && want.is_none_or(|w| e.api() == w);
    let explicit = named_first(&endpoints, want);
    let choose = |all: &[Engine]| match explicit {
        true => all.first().filter(|e| fits(e)).map(|_| 0),
        false => all.iter().position(fits),
    };
    if scope == Scope::Everything {
        let mut tasks = JoinSet::new();
        for (i, endpoint) in endpoints.into_iter().enumerate() {
            tasks.spawn(async move {
                (
                    i,
                    engines::probe(endpoint, timeout, Asked::Everything).await,
                )
            });
        }
        let all = collect_in_order(tasks).await;
        let selected = choose(&all);
        return (all, selected);
    }
    let likely = endpoints
        .iter()
        .position(|e| want.is_none_or(|w| guessed_api(e) == w));
    // Asked in this task (not spawned) so that its request goes out on the first poll.
    let full = async {
        match likely {
            Some(i) => Some(engines::probe(endpoints[i].clone(), timeout, Asked::Info).await),
            None => None,
        }
    };
    // For `Use`, the others are asked only if the first choice does not do (an endpoint skipped
    // for its path might still speak the API asked for, so then they are pinged as well).
    let first_only = matches!(scope, Scope::Use(_)) && likely == Some(0);
    let ping_all = |pings: &mut JoinSet<(usize, Engine)>| {
        for (i, endpoint) in endpoints.iter().cloned().enumerate() {
            if Some(i) != likely {
                pings.spawn(async move { (i, engines::ping(endpoint, timeout).await) });
            }
        }
    };
    let mut pings = JoinSet::new();
    if !first_only {
        ping_all(&mut pings);
    }
    let full = full.await;
    if first_only {
        match full {
            Some(engine) if fits(&engine) => return (vec![engine], Some(0)),
            Some(engine) if explicit => return (vec![engine], None),
            _ => ping_all(&mut pings),
        }
    }
    let mut all = collect_in_order(pings).await;
    if let (Some(i), Some(engine)) = (likely, full) {
        all.insert(i, engine);
    }
    let Some(selected) = choose(&all) else {
        return (all, None);
    };
    if all[selected].asked == Asked::Ping {
        let endpoint = endpoints[selected].clone();
        all[selected] = engines::probe(endpoint, timeout, Asked::Info).await;
        if !fits(&all[selected]) {
            return (all, None);
        }
    }
    (all, Some(selected))
}

/// The API an endpoint likely speaks, from its path alone.
fn guessed_api(endpoint: &Endpoint) -> Api {
    match engines::kind_from_path(&endpoint.uri) {
        Some(EngineKind::Podman) => Api::Podman,
        _ => Api::Docker,
    }
}

/// Whether the first endpoint is one the user named (DOCKER_HOST, a Docker context) that may
/// speak the API asked for: then it is the engine, and when it does not answer none is
/// selected in its place.
fn named_first(endpoints: &[Endpoint], want: Option<Api>) -> bool {
    endpoints
        .first()
        .is_some_and(|e| e.source.is_explicit() && want.is_none_or(|w| guessed_api(e) == w))
}

async fn collect_in_order<T: 'static>(mut set: JoinSet<(usize, T)>) -> Vec<T> {
    let mut items = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        // A probe task only ends by returning; a panic inside one is a bug worth surfacing.
        match joined {
            Ok(item) => items.push(item),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    items.sort_by_key(|(i, _)| *i);
    items.into_iter().map(|(_, t)| t).collect()
}

/// Whether 127.0.0.1:`port` can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Free bytes on the filesystem holding `path`.
pub fn free_bytes(path: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(path).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
