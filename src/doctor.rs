//! `korthbox doctor`: checks over the host facts, each ending ok, warn, fail or skip, with the
//! exact fix for this OS when it is not ok.

use std::path::PathBuf;

use serde::Serialize;

use crate::base::env::Env;
use crate::base::spec::HostPorts;
use crate::host::engines::{EndpointSource, Engine, EngineKind, EngineState};
use crate::host::linux::{self, InotifyLimits};
use crate::host::os::{HostOs, OsFamily, is_wsl2_kernel};
use crate::host::tools::{Tool, ToolName};
use crate::host::{self, HostFacts};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// A VM given N GiB reports about 5% less as MemTotal (kernel reservations), so the limits
/// allow 10%: an engine configured with 8 GB passes.
const MEMORY_FAIL_BELOW: f64 = 4.0 * GIB * 0.9;
const MEMORY_WARN_BELOW: f64 = 8.0 * GIB * 0.9;
const CPUS_FAIL_BELOW: i64 = 2;
const CPUS_WARN_BELOW: i64 = 4;
/// Three node images, the stack's images pulled once per node, and the sandbox's volumes.
const DISK_FAIL_BELOW: f64 = 5.0 * GIB;
const DISK_WARN_BELOW: f64 = 20.0 * GIB;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Did not apply to this host (the reason is in the detail).
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// Which check a finding comes from; shown as `engine.memory`, `tools.kind`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckId {
    HostOs,
    /// One per port the sandbox maps: `host.port.http`, `host.port.dicom`, `host.port.api`.
    HostPort(PortRole),
    HostInotify,
    HostProxy,
    EngineReachable,
    EngineUnreachable,
    EngineMemory,
    EngineCpus,
    EngineDisk,
    EngineCgroup,
    EngineRootless,
    ToolsDriver,
    Tool(ToolName),
    KubeConfig,
    KubeDockerDesktop,
}

/// The ports a sandbox maps on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    Http,
    Dicom,
    Api,
}

impl PortRole {
    fn label(self) -> &'static str {
        match self {
            PortRole::Http => "Orthanc HTTP",
            PortRole::Dicom => "Orthanc DICOM",
            PortRole::Api => "Kubernetes API server",
        }
    }
}

impl CheckId {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::HostOs => "host.os",
            CheckId::HostPort(PortRole::Http) => "host.port.http",
            CheckId::HostPort(PortRole::Dicom) => "host.port.dicom",
            CheckId::HostPort(PortRole::Api) => "host.port.api",
            CheckId::HostInotify => "host.inotify",
            CheckId::HostProxy => "host.proxy",
            CheckId::EngineReachable => "engine.reachable",
            CheckId::EngineUnreachable => "engine.unreachable",
            CheckId::EngineMemory => "engine.memory",
            CheckId::EngineCpus => "engine.cpus",
            CheckId::EngineDisk => "engine.disk",
            CheckId::EngineCgroup => "engine.cgroup",
            CheckId::EngineRootless => "engine.rootless",
            CheckId::ToolsDriver => "tools.driver",
            CheckId::Tool(ToolName::Kind) => "tools.kind",
            CheckId::Tool(ToolName::K3d) => "tools.k3d",
            CheckId::Tool(ToolName::Minikube) => "tools.minikube",
            CheckId::Tool(ToolName::Kubectl) => "tools.kubectl",
            CheckId::KubeConfig => "kube.config",
            CheckId::KubeDockerDesktop => "kube.docker-desktop",
        }
    }

    /// A check of the container engine (which an existing cluster does not need).
    pub fn is_engine(self) -> bool {
        matches!(
            self,
            CheckId::EngineReachable
                | CheckId::EngineUnreachable
                | CheckId::EngineMemory
                | CheckId::EngineCpus
                | CheckId::EngineDisk
                | CheckId::EngineCgroup
                | CheckId::EngineRootless
        )
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: CheckId,
    pub status: Status,
    pub detail: String,
    /// What to do, for warn and fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(id: CheckId, detail: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn skip(id: CheckId, detail: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(id: CheckId, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(id: CheckId, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What the checks read besides [`HostFacts`]: the state of ports, disks and kernel settings.
#[derive(Debug, Clone)]
pub struct LocalFacts {
    pub ports: Vec<(PortRole, u16, bool)>,
    /// Free bytes where the selected engine keeps its data, when that is on this host.
    pub data_free: Option<(PathBuf, Option<u64>)>,
    pub inotify: InotifyLimits,
    pub uid: u32,
    pub delegated: Option<Vec<String>>,
    /// The proxy the shell has (credentials masked).
    pub proxy: crate::host::proxy::Settings,
}

impl LocalFacts {
    pub fn read(env: &Env, facts: &HostFacts, ports: HostPorts) -> Self {
        let data_free = facts
            .selected_engine()
            .filter(|e| e.data_is_local(facts.host.family))
            .and_then(|e| e.resources.as_ref()?.data_root.clone())
            .map(|root| {
                let path = env.host_path(&root);
                let free = host::free_bytes(&path);
                (PathBuf::from(root), free)
            });
        let uid = host::engines::current_uid();
        Self {
            proxy: crate::host::proxy::Settings::from_env(env),
            ports: [
                (PortRole::Http, ports.http),
                (PortRole::Dicom, ports.dicom),
                (PortRole::Api, ports.api_server),
            ]
            .into_iter()
            .map(|(what, port)| (what, port, host::port_is_free(port)))
            .collect(),
            data_free,
            inotify: linux::inotify_limits(env),
            uid,
            delegated: linux::delegated_controllers(env, uid),
        }
    }
}

/// Runs every check.
pub fn checks(facts: &HostFacts, local: &LocalFacts) -> Vec<Check> {
    let os = facts.host.family;
    let mut out = vec![host_os(facts)];
    out.extend(engine_checks(facts, local));
    out.extend(tool_checks(facts));
    out.extend(port_checks(local, os));
    out.extend(kube_checks(facts));
    out.extend(proxy_check(facts.selected_engine(), &local.proxy));
    out
}

/// The proxy the shell has against the one the engine has: pulls go through the engine, so a
/// shell behind a proxy with an engine that has none cannot pull; and tools that do not exempt
/// loopback themselves need `localhost` and `127.0.0.1` in `NO_PROXY`.
fn proxy_check(engine: Option<&Engine>, shell: &crate::host::proxy::Settings) -> Option<Check> {
    let engine_proxy = engine.and_then(|e| e.proxy.clone()).unwrap_or_default();
    let show = |s: &crate::host::proxy::Settings| {
        let mut parts = Vec::new();
        if let Some(h) = &s.https {
            parts.push(format!("HTTPS {h}"));
        }
        if let Some(h) = &s.http
            && s.https.as_ref() != Some(h)
        {
            parts.push(format!("HTTP {h}"));
        }
        if let Some(n) = &s.no_proxy {
            parts.push(format!("NO_PROXY {n}"));
        }
        parts.join(", ")
    };
    if shell.is_empty() && engine_proxy.is_empty() {
        return engine
            .map(|_| Check::ok(CheckId::HostProxy, "no proxy, in the shell or the engine"));
    }
    if !shell.is_empty() {
        if let Some(engine) = engine.filter(|_| engine_proxy.is_empty()) {
            let fix = match engine.kind {
                EngineKind::DockerDesktop => "set the same proxy in Docker Desktop: Settings ▸ Resources ▸ Proxies ▸ Manual proxy configuration, then Apply & restart".to_string(),
                EngineKind::Podman => "give the Podman service the proxy: `http_proxy`/`https_proxy`/`no_proxy` in the environment of `podman system service` (or `[engine] env` in containers.conf), then restart it".to_string(),
                _ => format!(
                    "give Docker Engine the proxy: in /etc/docker/daemon.json `{{\"proxies\": {{\"https-proxy\": \"…\", \"http-proxy\": \"…\", \"no-proxy\": \"{}\"}}}}` (or a systemd drop-in with `Environment=HTTPS_PROXY=…`), then `sudo systemctl restart docker`",
                    shell.no_proxy.as_deref().unwrap_or("localhost,127.0.0.1")
                ),
            };
            return Some(Check::warn(
                CheckId::HostProxy,
                format!(
                    "the shell goes through a proxy ({}), but {} has none: its image pulls (and the cluster's) will fail where only the proxy reaches out",
                    show(shell),
                    engine.kind.label()
                ),
                fix,
            ));
        }
        if !shell.exempts_loopback() {
            return Some(Check::warn(
                CheckId::HostProxy,
                format!(
                    "the shell goes through a proxy ({}) and NO_PROXY lacks localhost and 127.0.0.1: tools that do not exempt this machine themselves send the sandbox's API server traffic to the proxy",
                    show(shell)
                ),
                format!(
                    "`export NO_PROXY={}localhost,127.0.0.1` (and no_proxy likewise)",
                    shell
                        .no_proxy
                        .as_deref()
                        .map(|n| format!("{n},"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    let mut detail = Vec::new();
    if !shell.is_empty() {
        detail.push(format!("shell: {}", show(shell)));
    }
    if !engine_proxy.is_empty() {
        detail.push(format!("engine: {}", show(&engine_proxy)));
    }
    Some(Check::ok(CheckId::HostProxy, detail.join("; ")))
}

fn host_os(facts: &HostFacts) -> Check {
    let host = &facts.host;
    let kernel = host.kernel.as_deref().unwrap_or("");
    if host.family == OsFamily::Linux && kernel.contains("Microsoft") && !is_wsl2_kernel(kernel) {
        return Check::fail(
            CheckId::HostOs,
            format!(
                "{} on WSL1 (kernel {kernel}): WSL1 has no Linux kernel to run containers",
                host.summary()
            ),
            "convert the distribution to WSL2 from Windows: `wsl --set-version <distribution> 2`",
        );
    }
    match host.arch {
        crate::host::os::Arch::Other => Check::warn(
            CheckId::HostOs,
            format!(
                "{}: kind, k3d and minikube publish node images for x86_64 and arm64 only",
                host.summary()
            ),
            "use an x86_64 or arm64 machine",
        ),
        _ => Check::ok(CheckId::HostOs, host.summary()),
    }
}

fn engine_checks(facts: &HostFacts, local: &LocalFacts) -> Vec<Check> {
    let os = facts.host.family;
    let mut out = Vec::new();
    let Some(engine) = facts.selected_engine() else {
        out.push(no_reachable_engine(facts));
        return out;
    };
    let others = facts.engines.iter().filter(|e| e.is_reachable()).count() - 1;
    let mut detail = format!("{} at {}", engine_title(engine), engine.endpoint);
    if others > 0 {
        detail.push_str(&format!(" ({others} more reachable)"));
    }
    out.push(Check::ok(CheckId::EngineReachable, detail));
    // One check (one id) for every engine found that does not answer.
    let silent: Vec<&Engine> = facts.engines.iter().filter(|e| !e.is_reachable()).collect();
    if let Some(first) = silent.first() {
        let details: Vec<String> = silent.iter().map(|e| unreachable_detail(e)).collect();
        out.push(Check::warn(
            CheckId::EngineUnreachable,
            details.join("; "),
            start_fix(first, os),
        ));
    }

    let res = engine.resources.clone().unwrap_or_default();
    out.push(match res.memory_bytes {
        None => Check::warn(CheckId::EngineMemory, "the engine did not report its memory", resize_fix(engine, os)),
        Some(bytes) => {
            let detail = format!("{} has {} of memory", engine.kind.label(), gib(bytes as f64));
            let b = bytes as f64;
            if b < MEMORY_FAIL_BELOW {
                Check::fail(CheckId::EngineMemory, format!("{detail}; a 3-node cluster with PostgreSQL and Orthanc needs at least 4 GiB (8 GiB recommended)"), resize_fix(engine, os))
            } else if b < MEMORY_WARN_BELOW {
                Check::warn(CheckId::EngineMemory, format!("{detail}; 8 GiB is recommended for a 3-node cluster with PostgreSQL and Orthanc"), resize_fix(engine, os))
            } else {
                Check::ok(CheckId::EngineMemory, detail)
            }
        }
    });
    out.push(match res.cpus {
        None => Check::warn(
            CheckId::EngineCpus,
            "the engine did not report its CPUs",
            resize_fix(engine, os),
        ),
        Some(n) if n < CPUS_FAIL_BELOW => Check::fail(
            CheckId::EngineCpus,
            format!(
                "{} has {n} CPU; a multi-node cluster needs at least 2 (4 recommended)",
                engine.kind.label()
            ),
            resize_fix(engine, os),
        ),
        Some(n) if n < CPUS_WARN_BELOW => Check::warn(
            CheckId::EngineCpus,
            format!("{} has {n} CPUs; 4 are recommended", engine.kind.label()),
            resize_fix(engine, os),
        ),
        Some(n) => Check::ok(
            CheckId::EngineCpus,
            format!("{} has {n} CPUs", engine.kind.label()),
        ),
    });
    out.push(disk_check(engine, local, os));
    out.push(cgroup_check(engine, os));
    if res.rootless {
        out.push(rootless_check(engine, local, os));
    }
    out.push(inotify_check(engine, local, os));
    out
}

fn engine_title(engine: &Engine) -> String {
    let version = engine
        .server_version
        .as_deref()
        .unwrap_or("(version unknown)");
    match &engine.platform {
        Some(product) if engine.kind == EngineKind::DockerDesktop => {
            format!("{product}, engine {version}")
        }
        _ => format!("{} {version}", engine.kind.label()),
    }
}

fn unreachable_detail(engine: &Engine) -> String {
    let why = engine.error.as_deref().unwrap_or("no answer");
    format!(
        "{} at {} ({}): {why}",
        engine.kind.label(),
        engine.endpoint,
        engine.source.label()
    )
}

fn no_reachable_engine(facts: &HostFacts) -> Check {
    let os = facts.host.family;
    if facts.engines.is_empty() {
        return Check::fail(
            CheckId::EngineReachable,
            "no container engine found: no DOCKER_HOST, no Docker context and no engine socket",
            install_engine_fix(os),
        );
    }
    if let Some(named) = facts.named_engine_silent() {
        let others = facts.engines.iter().filter(|e| e.is_reachable()).count();
        let unset = match &named.source {
            EndpointSource::DockerContext { .. } => "`docker context use default`",
            _ => "`unset DOCKER_HOST`",
        };
        let silent: Vec<String> = facts.engines[1..]
            .iter()
            .filter(|e| !e.is_reachable())
            .map(unreachable_detail)
            .collect();
        let also = match silent.is_empty() {
            true => String::new(),
            false => format!("; not answering either: {}", silent.join("; ")),
        };
        return Check::fail(
            CheckId::EngineReachable,
            format!(
                "{}; korthbox uses no other in its place ({others} other engine(s) answer){also}",
                unreachable_detail(named)
            ),
            format!("{}; or {unset} to use another", start_fix(named, os)),
        );
    }
    let details: Vec<String> = facts.engines.iter().map(unreachable_detail).collect();
    let first = &facts.engines[0];
    Check::fail(
        CheckId::EngineReachable,
        format!("no container engine answered: {}", details.join("; ")),
        start_fix(first, os),
    )
}

fn install_engine_fix(os: OsFamily) -> String {
    match os {
        OsFamily::Macos => "install and start an engine: Docker Desktop, OrbStack, Rancher Desktop, or colima (`brew install colima docker && colima start --cpu 4 --memory 8`)".into(),
        OsFamily::Windows => "install Docker Desktop with the WSL2 backend and start it".into(),
        OsFamily::Wsl2 => "enable WSL integration for this distribution in Docker Desktop (Settings → Resources → WSL integration), or install Docker Engine inside it: `sudo apt-get install docker.io && sudo service docker start`".into(),
        OsFamily::Linux | OsFamily::Other => "start Docker Engine (`sudo systemctl enable --now docker`) or Podman (`sudo systemctl enable --now podman.socket`), installing it first if needed (`sudo apt-get install docker.io` or `sudo apt-get install podman`)".into(),
    }
}

/// How to start (or reach) an engine that did not answer.
fn start_fix(engine: &Engine, os: OsFamily) -> String {
    let error = engine.error.as_deref().unwrap_or("");
    if error.contains("ermission denied") {
        return "let your user use the socket: `sudo usermod -aG docker $USER`, then log out and back in (or run `newgrp docker`)".into();
    }
    if engine.state == EngineState::Error && error.starts_with("korthbox cannot talk to") {
        return "point DOCKER_HOST at a unix://, tcp:// or npipe:// endpoint (for ssh:// engines, forward the socket with `ssh -L`)".into();
    }
    // Rootless engines put their sockets under the user's runtime directory.
    let rootless = engine.endpoint.contains("/run/user/");
    match engine.kind {
        EngineKind::DockerEngine => match os {
            OsFamily::Wsl2 => "start it: `sudo service docker start`".into(),
            _ if rootless => "start rootless Docker: `systemctl --user start docker`".into(),
            _ => "start it: `sudo systemctl start docker`".into(),
        },
        EngineKind::DockerDesktop => match os {
            OsFamily::Linux => {
                "start Docker Desktop: `systemctl --user start docker-desktop`".into()
            }
            _ => "start Docker Desktop and wait until it says the engine is running".into(),
        },
        EngineKind::RancherDesktop => "start Rancher Desktop: `rdctl start`".into(),
        EngineKind::Colima => match colima_profile(&engine.endpoint) {
            Some(p) if p != "default" => format!("start it: `colima start --profile {p}`"),
            _ => "start it: `colima start`".into(),
        },
        EngineKind::OrbStack => "start OrbStack: `orb start`".into(),
        EngineKind::Podman => match os {
            OsFamily::Macos | OsFamily::Windows => {
                "start the Podman machine: `podman machine start`".into()
            }
            _ if rootless => {
                "start the rootless Podman socket: `systemctl --user enable --now podman.socket`"
                    .into()
            }
            _ => "start the Podman socket: `sudo systemctl enable --now podman.socket`".into(),
        },
    }
}

fn colima_profile(endpoint: &str) -> Option<&str> {
    let rest = &endpoint[endpoint.find("/.colima/")? + "/.colima/".len()..];
    rest.split('/').next()
}

/// How to give an engine more memory and CPUs.
fn resize_fix(engine: &Engine, os: OsFamily) -> String {
    match engine.kind {
        EngineKind::DockerDesktop if os == OsFamily::Windows || os == OsFamily::Wsl2 => "give WSL2 more: in %UserProfile%\\.wslconfig set `[wsl2]` `memory=8GB` and `processors=4`, then run `wsl --shutdown` and restart Docker Desktop".into(),
        EngineKind::DockerDesktop => "Docker Desktop → Settings → Resources: Memory 8 GB or more, CPUs 4 or more; then Apply & restart".into(),
        EngineKind::RancherDesktop => "`rdctl set --virtual-machine.memory-in-gb 8 --virtual-machine.number-cpus 4` (or Preferences → Virtual Machine)".into(),
        EngineKind::Colima => match colima_profile(&engine.endpoint) {
            Some(p) if p != "default" => format!("`colima stop --profile {p} && colima start --profile {p} --cpu 4 --memory 8`"),
            _ => "`colima stop && colima start --cpu 4 --memory 8`".into(),
        },
        EngineKind::OrbStack => "`orb config set memory_mib 8192 && orb config set cpu 4`, then restart OrbStack".into(),
        EngineKind::Podman if matches!(os, OsFamily::Macos | OsFamily::Windows) => "`podman machine stop && podman machine set --cpus 4 --memory 8192 && podman machine start`".into(),
        EngineKind::Podman | EngineKind::DockerEngine => match os {
            OsFamily::Wsl2 => "give WSL2 more: in %UserProfile%\\.wslconfig set `[wsl2]` `memory=8GB` and `processors=4`, then run `wsl --shutdown` from Windows".into(),
            _ => "the engine uses this machine's own memory and CPUs: close other programs or use a larger machine".into(),
        },
    }
}

fn disk_check(engine: &Engine, local: &LocalFacts, os: OsFamily) -> Check {
    if !engine.data_is_local(os) {
        return Check::skip(
            CheckId::EngineDisk,
            format!(
                "{} keeps its data inside its own VM; korthbox cannot measure it from here",
                engine.kind.label()
            ),
        );
    }
    let Some((root, free)) = &local.data_free else {
        return Check::skip(
            CheckId::EngineDisk,
            "the engine did not report where it keeps its data",
        );
    };
    let Some(free) = free else {
        return Check::skip(
            CheckId::EngineDisk,
            format!(
                "{} is not readable from this user (it belongs to the engine)",
                root.display()
            ),
        );
    };
    let detail = format!("{} free at {}", gib(*free as f64), root.display());
    let fix = format!(
        "free space on the filesystem of {}: `docker system prune` removes unused images and containers",
        root.display()
    );
    let f = *free as f64;
    if f < DISK_FAIL_BELOW {
        Check::fail(
            CheckId::EngineDisk,
            format!("{detail}; a sandbox needs at least 5 GiB (20 GiB recommended)"),
            fix,
        )
    } else if f < DISK_WARN_BELOW {
        Check::warn(
            CheckId::EngineDisk,
            format!("{detail}; 20 GiB is recommended"),
            fix,
        )
    } else {
        Check::ok(CheckId::EngineDisk, detail)
    }
}

fn cgroup_check(engine: &Engine, os: OsFamily) -> Check {
    let version = engine
        .resources
        .as_ref()
        .and_then(|r| r.cgroup_version.clone());
    let driver = engine
        .resources
        .as_ref()
        .and_then(|r| r.cgroup_driver.clone())
        .unwrap_or_else(|| "unknown driver".into());
    match version.as_deref() {
        Some("2") => Check::ok(CheckId::EngineCgroup, format!("cgroup v2 ({driver})")),
        Some("1") => Check::warn(
            CheckId::EngineCgroup,
            format!("cgroup v1 ({driver}): Kubernetes 1.35+ kubelets refuse it by default; `up` copes — kind gets Kubernetes 1.34 (kind's newer images drop cgroup v1; 1.34 reached its end of life on 2026-10-27), k3d's kubelets `fail-cgroupv1=false`, minikube does the same itself — but cgroup v1 is on its way out"),
            match (engine.kind, os) {
                (EngineKind::DockerDesktop | EngineKind::RancherDesktop | EngineKind::Colima | EngineKind::OrbStack, _) => format!("update {} (current releases run cgroup v2)", engine.kind.label()),
                (_, OsFamily::Wsl2) => "in %UserProfile%\\.wslconfig set `[wsl2]` `kernelCommandLine = cgroup_no_v1=all`, then `wsl --shutdown`".into(),
                _ => "boot with cgroup v2: add `systemd.unified_cgroup_hierarchy=1` to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then `sudo update-grub` and reboot)".into(),
            },
        ),
        _ => Check::skip(CheckId::EngineCgroup, "the engine did not report its cgroup version"),
    }
}

fn rootless_check(engine: &Engine, local: &LocalFacts, os: OsFamily) -> Check {
    let label = engine.kind.label();
    if !os.is_linux_kernel() {
        return Check::skip(
            CheckId::EngineRootless,
            format!("rootless {label} runs in a VM; its cgroups are not visible here"),
        );
    }
    let version = engine
        .resources
        .as_ref()
        .and_then(|r| r.cgroup_version.as_deref());
    if version != Some("2") {
        return Check::fail(
            CheckId::EngineRootless,
            format!(
                "rootless {label} on cgroup v1: Kubernetes nodes cannot limit resources without cgroup v2"
            ),
            "boot with cgroup v2: add `systemd.unified_cgroup_hierarchy=1` to the kernel command line, then reboot",
        );
    }
    let delegate_fix = "delegate cgroup controllers to users: `sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload`, then log out and back in";
    match &local.delegated {
        None => Check::fail(
            CheckId::EngineRootless,
            format!(
                "rootless {label}, but no systemd user cgroup for uid {} was found",
                local.uid
            ),
            delegate_fix,
        ),
        Some(have) => {
            let missing: Vec<&str> = linux::ROOTLESS_CONTROLLERS
                .into_iter()
                .filter(|c| !have.iter().any(|h| h == c))
                .collect();
            if missing.is_empty() {
                Check::ok(
                    CheckId::EngineRootless,
                    format!(
                        "rootless {label}: cgroup v2 with {} delegated",
                        have.join(" ")
                    ),
                )
            } else {
                Check::fail(
                    CheckId::EngineRootless,
                    format!(
                        "rootless {label}: systemd does not delegate {} to uid {}",
                        missing.join(", "),
                        local.uid
                    ),
                    delegate_fix,
                )
            }
        }
    }
}

fn inotify_check(engine: &Engine, local: &LocalFacts, os: OsFamily) -> Check {
    if !engine.data_is_local(os) {
        return Check::skip(
            CheckId::HostInotify,
            format!(
                "{}'s nodes run in its VM, under the VM's inotify limits",
                engine.kind.label()
            ),
        );
    }
    let InotifyLimits {
        max_user_watches: w,
        max_user_instances: i,
    } = local.inotify;
    let (Some(w), Some(i)) = (w, i) else {
        return Check::skip(CheckId::HostInotify, "fs.inotify limits are not readable");
    };
    let detail = format!("fs.inotify.max_user_watches={w}, max_user_instances={i}");
    if w >= linux::MIN_INOTIFY_WATCHES && i >= linux::MIN_INOTIFY_INSTANCES {
        Check::ok(CheckId::HostInotify, detail)
    } else {
        Check::warn(
            CheckId::HostInotify,
            format!(
                "{detail}: multi-node clusters fail with \"too many open files\" below {} and {}",
                linux::MIN_INOTIFY_WATCHES,
                linux::MIN_INOTIFY_INSTANCES
            ),
            format!(
                "`sudo sysctl fs.inotify.max_user_watches={w2} fs.inotify.max_user_instances={i2}`; to keep it across reboots: `printf 'fs.inotify.max_user_watches = {w2}\\nfs.inotify.max_user_instances = {i2}\\n' | sudo tee /etc/sysctl.d/99-korthbox.conf`",
                w2 = w.max(linux::MIN_INOTIFY_WATCHES),
                i2 = i.max(linux::MIN_INOTIFY_INSTANCES),
            ),
        )
    }
}

fn tool_checks(facts: &HostFacts) -> Vec<Check> {
    let host = &facts.host;
    let mut out = Vec::new();
    let drivers: Vec<&Tool> = ToolName::DRIVERS
        .iter()
        .filter_map(|n| facts.tool(*n))
        .collect();
    let usable: Vec<String> = drivers
        .iter()
        .filter(|t| t.usable())
        .map(|t| {
            format!(
                "{} {}{}",
                t.name.executable(),
                t.version
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                passed_over(t)
            )
        })
        .collect();
    out.push(if usable.is_empty() {
        Check::fail(
            CheckId::ToolsDriver,
            "none of kind, k3d or minikube is installed at a usable version",
            install_fix(ToolName::Kind, host),
        )
    } else {
        Check::ok(CheckId::ToolsDriver, usable.join(", "))
    });
    for tool in drivers.iter().filter(|t| t.installed() && !t.usable()) {
        out.push(old_tool(tool, host));
    }
    match facts.tool(ToolName::Kubectl) {
        Some(t) if t.version.is_some() => out.push(kubectl_skew(t, facts)),
        Some(t) if t.installed() => out.push(old_tool(t, host)),
        _ => out.push(Check::warn(
            CheckId::Tool(ToolName::Kubectl),
            "kubectl is not installed; korthbox does not need it, but you will want it to look at the sandbox",
            install_fix(ToolName::Kubectl, host),
        )),
    }
    out
}

/// Which copy of a tool is used when there are two (one on PATH, one `korthbox install` put in
/// korthbox's bin directory): the newer, and where the other is.
fn passed_over(tool: &Tool) -> String {
    let (Some(used), Some(other)) = (&tool.path, &tool.other) else {
        return String::new();
    };
    let version = other
        .version
        .as_ref()
        .map_or("of unknown version".to_string(), |v| v.to_string());
    format!(
        " (used: {}; {version} at {} is not)",
        used.display(),
        other.path.display()
    )
}

/// kubectl against the Kubernetes version `up` would create on this host (kind's is older on a
/// cgroup v1 engine): kubectl is supported within one minor version of the API server, older
/// or newer.
fn kubectl_skew(kubectl: &Tool, facts: &HostFacts) -> Check {
    let id = CheckId::Tool(ToolName::Kubectl);
    let Some(version) = &kubectl.version else {
        return old_tool(kubectl, &facts.host);
    };
    let driver = crate::driver::pick(None, facts).unwrap_or(crate::driver::DriverKind::Kind);
    let cluster = match crate::driver::provider(facts, None) {
        Some(provider) => driver.driver().kubernetes_version_on(&provider),
        None => driver.driver().default_kubernetes_version(),
    };
    let cluster_minor = cluster
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u64>().ok());
    match cluster_minor {
        Some(minor) if version.major == 1 && version.minor.abs_diff(minor) > 1 => {
            let arch = facts.host.arch.release_name().unwrap_or("amd64");
            let plain = cluster.split('+').next().unwrap_or(cluster);
            Check::warn(
                id,
                format!(
                    "kubectl {version} is more than one minor version from Kubernetes {plain}, what `up` creates with {}: kubectl supports one minor version either side",
                    driver.label()
                ),
                match facts.host.family {
                    OsFamily::Linux | OsFamily::Wsl2 | OsFamily::Other => format!(
                        "`curl -LO https://dl.k8s.io/release/{plain}/bin/linux/{arch}/kubectl && sudo install kubectl /usr/local/bin/`"
                    ),
                    _ => format!("install kubectl {plain} (`korthbox doctor` checks again)"),
                },
            )
        }
        _ => Check::ok(id, format!("kubectl {version}")),
    }
}

fn old_tool(tool: &Tool, host: &HostOs) -> Check {
    let name = tool.name.executable();
    let id = CheckId::Tool(tool.name);
    let detail = match (&tool.version, &tool.error) {
        (Some(v), _) => format!(
            "{name} {v} is older than {}, the oldest korthbox supports",
            tool.name.minimum()
        ),
        (None, Some(e)) => format!("{name} is installed but its version could not be read: {e}"),
        (None, None) => format!("{name} is installed but its version could not be read"),
    };
    Check::warn(id, detail, install_fix(tool.name, host))
}

/// The usual install command for a tool on this host: the driver's own hint, or kubectl's.
fn install_fix(name: ToolName, host: &HostOs) -> String {
    if let Some(hint) = crate::driver::for_tool(name).and_then(|d| d.install_hint(host)) {
        return hint;
    }
    match host.family {
        OsFamily::Macos => "`brew install kubectl`".into(),
        OsFamily::Windows => "`winget install -e --id Kubernetes.kubectl`".into(),
        _ => format!(
            "`curl -LO https://dl.k8s.io/release/$(curl -Ls https://dl.k8s.io/release/stable.txt)/bin/linux/{}/kubectl && sudo install kubectl /usr/local/bin/`",
            host.arch.release_name().unwrap_or("amd64")
        ),
    }
}

fn port_checks(local: &LocalFacts, os: OsFamily) -> Vec<Check> {
    local
        .ports
        .iter()
        .map(|(role, port, free)| {
            let what = role.label();
            if *free {
                Check::ok(CheckId::HostPort(*role), format!("127.0.0.1:{port} is free ({what})"))
            } else {
                let who = match os {
                    OsFamily::Macos => format!("`lsof -nP -iTCP:{port} -sTCP:LISTEN`"),
                    OsFamily::Windows => format!("`netstat -ano | findstr :{port}`"),
                    _ => format!("`sudo ss -ltnp 'sport = :{port}'`"),
                };
                Check::fail(
                    CheckId::HostPort(*role),
                    format!("127.0.0.1:{port} ({what}) is already in use"),
                    format!("find what listens there with {who} and stop it, or give korthbox another port"),
                )
            }
        })
        .collect()
}

fn kube_checks(facts: &HostFacts) -> Vec<Check> {
    let kube = &facts.kubeconfig;
    let mut out = Vec::new();
    // One check for every kubeconfig file that could not be used, one line each.
    let mut problems: Vec<String> = kube
        .errors
        .iter()
        .map(|e| format!("kubeconfig not readable: {e}"))
        .collect();
    if !problems.is_empty() {
        problems.extend(
            kube.missing
                .iter()
                .map(|p| format!("KUBECONFIG names {}, which does not exist yet", p.display())),
        );
        out.push(Check::warn(
            CheckId::KubeConfig,
            problems.join("; "),
            "fix or remove that file (kubectl reads it too), or leave it out of KUBECONFIG",
        ));
    }
    // A file KUBECONFIG names that is not there yet is not a problem: the first one is where
    // the driver writes the sandbox's context.
    if problems.is_empty() && !kube.missing.is_empty() {
        let missing: Vec<String> = kube
            .missing
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        out.push(Check::ok(
            CheckId::KubeConfig,
            format!(
                "KUBECONFIG names {}, which does not exist yet: it will be created when a cluster is (kind, k3d and minikube write their context there)",
                missing.join(", ")
            ),
        ));
    }
    if let Some(dd) = kube.docker_desktop() {
        out.push(Check::ok(
            CheckId::KubeDockerDesktop,
            format!(
                "context `{}` found: Docker Desktop's built-in cluster (single node, Docker Engine as its runtime) is never used as a sandbox; korthbox creates a kind cluster on Docker Desktop's engine instead (`korthbox up --driver kind`)",
                dd.name
            ),
        ));
    }
    out
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / GIB)
}

/// The whole `doctor --json` document.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub host: &'a crate::host::os::HostOs,
    pub engines: &'a [Engine],
    pub tools: &'a [Tool],
    pub contexts: &'a crate::host::kubeconfig::KubeContexts,
    pub checks: &'a [Check],
    pub summary: Summary,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

impl Summary {
    pub fn of(checks: &[Check]) -> Self {
        let mut s = Summary::default();
        for c in checks {
            match c.status {
                Status::Ok => s.ok += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
            }
        }
        s
    }
}

impl<'a> Report<'a> {
    pub fn new(facts: &'a HostFacts, checks: &'a [Check]) -> Self {
        Report {
            schema_version: 1,
            host: &facts.host,
            engines: &facts.engines,
            tools: &facts.tools,
            contexts: &facts.kubeconfig,
            checks,
            summary: Summary::of(checks),
        }
    }
}
