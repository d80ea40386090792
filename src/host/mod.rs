//! Facts about the workstation, gathered concurrently and each under a timeout: the OS, the
//! container engines, the cluster tools, kubeconfig contexts and a few Linux kernel settings.

pub mod engines;
pub mod fs;
pub mod http;
pub mod kubeconfig;
pub mod linux;
pub mod os;
pub mod process;
pub mod tools;

use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;

use crate::env::Env;
use engines::Engine;
use kubeconfig::KubeContexts;
use os::HostOs;
use tools::{Tool, ToolName};

#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    pub host: HostOs,
    /// Every engine found, in preference order (see [`engines::discover`]).
    pub engines: Vec<Engine>,
    pub tools: Vec<Tool>,
    pub kubeconfig: KubeContexts,
}

impl HostFacts {
    /// The engine korthbox would use: the first reachable one in preference order.
    pub fn selected_engine(&self) -> Option<&Engine> {
        self.engines.iter().find(|e| e.is_reachable())
    }

    pub fn tool(&self, name: ToolName) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// Gathers every fact at once; each engine and tool probe gives up after `timeout`.
pub async fn gather(env: &Env, timeout: Duration) -> HostFacts {
    let host = os::detect(env);
    let endpoints = engines::discover(env, host.family);

    let mut engine_tasks = JoinSet::new();
    for (i, endpoint) in endpoints.into_iter().enumerate() {
        engine_tasks.spawn(async move { (i, engines::probe(endpoint, timeout).await) });
    }
    let tool_env = env.clone();
    let tool_task = tokio::spawn(async move { tools::probe_all(&tool_env, timeout).await });
    let kube_env = env.clone();
    let kube = tokio::task::spawn_blocking(move || kubeconfig::read(&kube_env));

    let engines = collect_in_order(engine_tasks).await;
    let tools = tool_task
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let kubeconfig = kube.await.unwrap_or_default();
    HostFacts {
        host,
        engines,
        tools,
        kubeconfig,
    }
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
