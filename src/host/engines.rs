//! Container engines on this workstation: where their sockets are, what each one is
//! (Docker Engine, Docker Desktop, Rancher Desktop, colima, OrbStack, Podman) and what it has.
//!
//! Engines are found by endpoint (DOCKER_HOST, the Docker CLI's current context, well-known
//! sockets) and then asked through the Docker API with bollard; no CLI text is parsed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::{SystemInfo, SystemVersion};
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};
use hyper::body::Bytes;
use serde::Serialize;

use super::os::{Arch, OsFamily};
use crate::base::env::{self, Env};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    DockerEngine,
    DockerDesktop,
    RancherDesktop,
    Colima,
    #[serde(rename = "orbstack")]
    OrbStack,
    Podman,
}

impl EngineKind {
    pub fn label(self) -> &'static str {
        match self {
            EngineKind::DockerEngine => "Docker Engine",
            EngineKind::DockerDesktop => "Docker Desktop",
            EngineKind::RancherDesktop => "Rancher Desktop",
            EngineKind::Colima => "colima",
            EngineKind::OrbStack => "OrbStack",
            EngineKind::Podman => "Podman",
        }
    }
}

/// Why korthbox looked at an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EndpointSource {
    /// The `DOCKER_HOST` variable.
    DockerHost,
    /// The Docker CLI's current context (`DOCKER_CONTEXT` or `currentContext`).
    DockerContext { name: String },
    /// A socket at a well-known place for some engine.
    WellKnown,
}

impl EndpointSource {
    /// Named by the user (DOCKER_HOST, a Docker context): that is the engine, as it is for the
    /// Docker CLI, and no other is used in its place.
    pub fn is_explicit(&self) -> bool {
        !matches!(self, EndpointSource::WellKnown)
    }

    pub fn label(&self) -> String {
        match self {
            EndpointSource::DockerHost => "DOCKER_HOST".into(),
            EndpointSource::DockerContext { name } => format!("docker context {name}"),
            EndpointSource::WellKnown => "well-known socket".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///path`, `tcp://host:port`, `npipe:////./pipe/name`, …
    pub uri: String,
    pub source: EndpointSource,
}

impl Endpoint {
    fn unix(path: &Path, source: EndpointSource) -> Self {
        Self {
            uri: format!("unix://{}", path.display()),
            source,
        }
    }

    /// The socket path of a `unix://` endpoint.
    pub fn socket_path(&self) -> Option<&Path> {
        self.uri.strip_prefix("unix://").map(Path::new)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineState {
    /// Answered what it was asked.
    Reachable,
    /// Accepted nothing or answered nothing before the probe timeout.
    NoAnswer,
    /// Refused the connection or answered with an error.
    Error,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Resources {
    pub cpus: Option<i64>,
    pub memory_bytes: Option<i64>,
    /// "1" or "2".
    pub cgroup_version: Option<String>,
    /// "cgroupfs", "systemd" or "none".
    pub cgroup_driver: Option<String>,
    pub architecture: Option<Arch>,
    pub rootless: bool,
    /// Where the engine keeps images and containers, as the engine sees it.
    pub data_root: Option<String>,
}

/// Which API an engine speaks beyond Docker's: what `/_ping`'s `Server` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Docker Engine, and the products built on it (Docker Desktop, colima, OrbStack, Rancher
    /// Desktop with moby).
    Docker,
    Podman,
}

/// How much korthbox asked an engine: everything (`/info` and `/version`), `/info` (all that
/// korthbox uses), or only `/_ping`, which answers in a millisecond where Podman takes
/// 0.2–0.3 s for `/info` and `/version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Asked {
    Everything,
    Info,
    Ping,
}

#[derive(Debug, Clone, Serialize)]
pub struct Engine {
    pub kind: EngineKind,
    /// `/info` for the engine korthbox uses, everything for all with `doctor -v` (and for
    /// Docker Desktop), a ping for the others.
    pub asked: Asked,
    pub endpoint: String,
    pub source: EndpointSource,
    pub state: EngineState,
    /// What went wrong when `state` is not `reachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub server_version: Option<String>,
    pub api_version: Option<String>,
    /// `Platform.Name` from `/version`: Docker Desktop's product and release ("Docker Desktop
    /// 4.34.2 (167172)"), Podman's platform ("linux/amd64/debian-12"), often empty elsewhere.
    pub platform: Option<String>,
    pub operating_system: Option<String>,
    pub name: Option<String>,
    pub kernel_version: Option<String>,
    pub resources: Option<Resources>,
    /// The proxy the engine pulls through (`/info`'s `HttpProxy`, `HttpsProxy`, `NoProxy`),
    /// credentials masked; `None` when it was not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<super::proxy::Settings>,
}

impl Engine {
    fn new(endpoint: &Endpoint, asked: Asked) -> Engine {
        Engine {
            kind: kind_from_path(&endpoint.uri).unwrap_or(EngineKind::DockerEngine),
            asked,
            endpoint: endpoint.uri.clone(),
            source: endpoint.source.clone(),
            state: EngineState::Error,
            error: None,
            server_version: None,
            api_version: None,
            platform: None,
            operating_system: None,
            name: None,
            kernel_version: None,
            resources: None,
            proxy: None,
        }
    }

    pub fn is_reachable(&self) -> bool {
        self.state == EngineState::Reachable
    }

    pub fn api(&self) -> Api {
        match self.kind {
            EngineKind::Podman => Api::Podman,
            _ => Api::Docker,
        }
    }

    /// Whether the engine's data root is a directory of this host (and not inside a VM),
    /// so that its free space can be measured here.
    pub fn data_is_local(&self, os: OsFamily) -> bool {
        os.is_linux_kernel()
            && matches!(self.kind, EngineKind::DockerEngine | EngineKind::Podman)
            && self.endpoint.starts_with("unix://")
    }
}

/// Every endpoint worth probing, in the order korthbox prefers them: DOCKER_HOST, the Docker
/// CLI's current context, then the well-known sockets. Sockets that do not exist are left out,
/// and an endpoint reached through several names is listed once.
pub fn discover(env: &Env, os: OsFamily) -> Vec<Endpoint> {
    let mut found: Vec<Endpoint> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut push = |endpoint: Endpoint, found: &mut Vec<Endpoint>| {
        if let Some(path) = endpoint.socket_path() {
            let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            if seen.contains(&key) {
                return;
            }
            seen.push(key);
        } else if found.iter().any(|e| e.uri == endpoint.uri) {
            return;
        }
        found.push(endpoint);
    };

    if let Some(host) = env.var(env::DOCKER_HOST) {
        push(
            Endpoint {
                uri: host.to_string(),
                source: EndpointSource::DockerHost,
            },
            &mut found,
        );
    }
    if let Some((name, uri)) = current_docker_context(env) {
        push(
            Endpoint {
                uri,
                source: EndpointSource::DockerContext { name },
            },
            &mut found,
        );
    }
    for path in well_known_sockets(env, os) {
        if path.exists() {
            push(Endpoint::unix(&path, EndpointSource::WellKnown), &mut found);
        }
    }
    if os == OsFamily::Windows {
        for pipe in WINDOWS_PIPES {
            if Path::new(&pipe.replace('/', "\\")).exists() {
                push(
                    Endpoint {
                        uri: format!("npipe://{pipe}"),
                        source: EndpointSource::WellKnown,
                    },
                    &mut found,
                );
            }
        }
    }
    found
}

/// Docker Engine's (and Docker Desktop's) pipe, then Podman machine's default pipe.
const WINDOWS_PIPES: [&str; 2] = ["//./pipe/docker_engine", "//./pipe/podman-machine-default"];

/// The sockets engines create, in preference order.
fn well_known_sockets(env: &Env, os: OsFamily) -> Vec<PathBuf> {
    let mut paths = vec![env.host_path("/var/run/docker.sock")];
    let home = |rel: &str| env.home_path(rel);
    paths.extend(home(".docker/run/docker.sock"));
    paths.extend(home(".docker/desktop/docker.sock"));
    paths.extend(home(".rd/docker.sock"));
    paths.extend(colima_sockets(env));
    paths.extend(home(".orbstack/run/docker.sock"));
    // Rootless Docker Engine.
    let runtime_dir = env
        .var(env::XDG_RUNTIME_DIR)
        .map(PathBuf::from)
        .or_else(|| {
            os.is_linux_kernel()
                .then(|| env.host_path(format!("/run/user/{}", current_uid())))
        });
    if let Some(dir) = &runtime_dir {
        paths.push(dir.join("docker.sock"));
    }
    paths.push(env.host_path("/run/podman/podman.sock"));
    if let Some(dir) = &runtime_dir {
        paths.push(dir.join("podman/podman.sock"));
    }
    // Podman machine on macOS.
    paths.extend(home(".local/share/containers/podman/machine/podman.sock"));
    paths.extend(home(
        ".local/share/containers/podman/machine/qemu/podman.sock",
    ));
    paths
}

/// `~/.colima/<profile>/docker.sock` for every profile, `default` first.
fn colima_sockets(env: &Env) -> Vec<PathBuf> {
    let Some(dir) = env.home_path(".colima") else {
        return Vec::new();
    };
    let mut profiles: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("docker.sock").exists())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    profiles.sort_by_key(|p| (p != "default", p.clone()));
    profiles
        .into_iter()
        .map(|p| dir.join(p).join("docker.sock"))
        .collect()
}

pub fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        rustix::process::getuid().as_raw()
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// The Docker CLI's current context and its endpoint, unless it is `default` (which means
/// DOCKER_HOST or the platform's default socket, both probed anyway).
fn current_docker_context(env: &Env) -> Option<(String, String)> {
    let config_dir = env
        .var(env::DOCKER_CONFIG)
        .map(PathBuf::from)
        .or_else(|| env.home_path(".docker"))?;
    let name = match env.var(env::DOCKER_CONTEXT) {
        Some(name) => name.to_string(),
        None => {
            let text = std::fs::read_to_string(config_dir.join("config.json")).ok()?;
            let config: serde_json::Value = serde_json::from_str(&text).ok()?;
            config.get("currentContext")?.as_str()?.to_string()
        }
    };
    if name.is_empty() || name == "default" {
        return None;
    }
    // Contexts live in contexts/meta/<sha256 of the name>/meta.json; reading each one and
    // matching its Name avoids depending on the hashing scheme.
    let meta_dir = config_dir.join("contexts/meta");
    for entry in std::fs::read_dir(meta_dir).ok()?.filter_map(|e| e.ok()) {
        let Ok(text) = std::fs::read_to_string(entry.path().join("meta.json")) else {
            continue;
        };
        let Ok(meta) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if meta.get("Name").and_then(|n| n.as_str()) == Some(name.as_str()) {
            let host = meta.pointer("/Endpoints/docker/Host")?.as_str()?;
            return Some((name, host.to_string()));
        }
    }
    None
}

/// The engine a socket path belongs to, when the path alone says so.
pub fn kind_from_path(uri: &str) -> Option<EngineKind> {
    let p = uri.replace('\\', "/");
    if p.contains("/.orbstack/") {
        Some(EngineKind::OrbStack)
    } else if p.contains("/.colima/") || p.contains("/colima") && p.ends_with("docker.sock") {
        Some(EngineKind::Colima)
    } else if p.contains("/.rd/") {
        Some(EngineKind::RancherDesktop)
    } else if p.contains("/.docker/desktop/") || p.contains("/.docker/run/") {
        Some(EngineKind::DockerDesktop)
    } else if p.contains("podman") {
        Some(EngineKind::Podman)
    } else {
        None
    }
}

/// Names the engine from what its API says, falling back on the socket path.
///
/// Evidence, most specific first: Podman names itself in `/version` components ("Podman
/// Engine") and licenses itself Apache-2.0 in `/info`; OrbStack reports `OperatingSystem:
/// OrbStack`; Rancher Desktop's VM is named `lima-rancher-desktop` (or reports "Rancher Desktop
/// WSL Distribution"); colima's VM is `colima` or `colima-<profile>`; Docker Desktop gives its
/// product in `Platform.Name`, reports `OperatingSystem: Docker Desktop`, or labels its engine
/// `com.docker.desktop.address`.
pub fn classify(version: Option<&SystemVersion>, info: &SystemInfo, uri: &str) -> EngineKind {
    let platform = version
        .and_then(|v| v.platform.as_ref())
        .map(|p| p.name.as_str())
        .unwrap_or("");
    let components = version.and_then(|v| v.components.as_ref());
    let os = info.operating_system.as_deref().unwrap_or("");
    let name = info.name.as_deref().unwrap_or("");
    let kernel = info.kernel_version.as_deref().unwrap_or("");
    let labels = info.labels.as_deref().unwrap_or(&[]);

    let podman_component =
        components.is_some_and(|cs| cs.iter().any(|c| c.name.starts_with("Podman")));
    if podman_component || info.product_license.as_deref() == Some("Apache-2.0") {
        return EngineKind::Podman;
    }
    if os == "OrbStack" || name == "orbstack" || kernel.contains("-orbstack") {
        return EngineKind::OrbStack;
    }
    if name == "lima-rancher-desktop" || os.starts_with("Rancher Desktop") {
        return EngineKind::RancherDesktop;
    }
    if name == "colima" || name.starts_with("colima-") {
        return EngineKind::Colima;
    }
    if platform.starts_with("Docker Desktop")
        || os == "Docker Desktop"
        || labels.iter().any(|l| l.starts_with("com.docker.desktop."))
    {
        return EngineKind::DockerDesktop;
    }
    kind_from_path(uri).unwrap_or(EngineKind::DockerEngine)
}

/// Reads the resource figures out of `/info`.
pub fn resources(info: &SystemInfo) -> Resources {
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    Resources {
        cpus: info.ncpu,
        memory_bytes: info.mem_total,
        cgroup_version: info
            .cgroup_version
            .as_ref()
            .and_then(|v| non_empty(v.to_string())),
        cgroup_driver: info
            .cgroup_driver
            .as_ref()
            .and_then(|d| non_empty(d.to_string())),
        architecture: info.architecture.as_deref().map(Arch::parse),
        rootless: info
            .security_options
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|o| o.split(',').any(|part| part == "name=rootless")),
        data_root: info.docker_root_dir.clone(),
    }
}

/// Asks one engine what korthbox needs, giving up after `timeout`: `/info`, and `/version` as
/// well when `depth` is [`Asked::Everything`] or the engine is Docker Desktop (only
/// `/version` names its release).
pub async fn probe(endpoint: Endpoint, timeout: Duration, depth: Asked) -> Engine {
    let mut engine = Engine::new(&endpoint, depth);
    match tokio::time::timeout(timeout, query(&endpoint.uri, timeout, depth)).await {
        Err(_) => engine.no_answer(timeout),
        Ok(Err(message)) => engine.error = Some(message),
        Ok(Ok(answers)) => engine.fill(answers),
    }
    engine
}

/// What an engine answered: `/info`, the API version its answer's headers carry, and
/// `/version` when it was asked.
struct Answers {
    info: SystemInfo,
    api_version: Option<String>,
    version: Option<SystemVersion>,
}

impl Engine {
    fn fill(&mut self, answers: Answers) {
        let Answers {
            info,
            api_version,
            version,
        } = answers;
        self.kind = classify(version.as_ref(), &info, &self.endpoint);
        self.asked = match version {
            Some(_) => Asked::Everything,
            None => Asked::Info,
        };
        self.state = EngineState::Reachable;
        let version = version.unwrap_or_default();
        self.server_version = info.server_version.clone().or(version.version);
        self.api_version = version.api_version.or(api_version);
        self.platform = version.platform.map(|p| p.name).filter(|n| !n.is_empty());
        self.operating_system = info.operating_system.clone();
        self.name = info.name.clone();
        self.kernel_version = info.kernel_version.clone();
        let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        self.proxy = Some(super::proxy::Settings {
            http: set(&info.http_proxy).map(|u| super::proxy::mask(&u)),
            https: set(&info.https_proxy).map(|u| super::proxy::mask(&u)),
            no_proxy: set(&info.no_proxy),
        });
        self.resources = Some(resources(&info));
    }

    fn no_answer(&mut self, timeout: Duration) {
        self.state = EngineState::NoAnswer;
        self.error = Some(format!(
            "did not answer within {}",
            crate::base::report::seconds(timeout)
        ));
    }
}

/// Asks one engine only `/_ping`: whether it answers, and from its headers which API it
/// speaks and its version (`Server: Libpod/4.3.1 (linux)`, `Server: Docker/28.2.2 (linux)`).
/// Endpoints korthbox does not speak HTTP to itself are asked `/info` instead.
pub async fn ping(endpoint: Endpoint, timeout: Duration) -> Engine {
    if !plain_http(&endpoint.uri) {
        return probe(endpoint, timeout, Asked::Info).await;
    }
    let mut engine = Engine::new(&endpoint, Asked::Ping);
    let headers = match tokio::time::timeout(timeout, get(&endpoint.uri, "/_ping")).await {
        Err(_) => {
            engine.no_answer(timeout);
            return engine;
        }
        Ok(Err(message)) => {
            engine.error = Some(message);
            return engine;
        }
        Ok(Ok((headers, _))) => headers,
    };
    let server = header(&headers, "server").unwrap_or_default();
    let (product, version) = server
        .split_whitespace()
        .next()
        .and_then(|p| p.split_once('/'))
        .unwrap_or(("", ""));
    if product == "Libpod" || header(&headers, "libpod-api-version").is_some() {
        engine.kind = EngineKind::Podman;
    }
    engine.state = EngineState::Reachable;
    engine.server_version = (!version.is_empty()).then(|| version.to_string());
    engine.api_version = header(&headers, "api-version");
    engine
}

fn header(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether korthbox speaks HTTP to `uri` itself (a unix socket, TCP), reading the answer's
/// headers as well as its body; other endpoints (a Windows named pipe) go through bollard.
fn plain_http(uri: &str) -> bool {
    (cfg!(unix) && uri.starts_with("unix://"))
        || uri.starts_with("tcp://")
        || uri.starts_with("http://")
}

/// One `GET` of the engine's API over a connection of its own: the answer's headers and body.
/// The path carries no `/v1.NN` prefix, so every engine answers in its own API version.
async fn get(uri: &str, path: &str) -> Result<(hyper::HeaderMap, Bytes), String> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::TokioIo;

    async fn over<S>(stream: S, path: &str) -> Result<(hyper::HeaderMap, Bytes), String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header("host", "docker")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        match parts.status.as_u16() {
            200 => Ok((parts.headers, body)),
            status => Err(refusal(status, path, &body)),
        }
    }

    let connect_error = |e: std::io::Error| super::words::io(&e);
    if let Some(_socket) = uri.strip_prefix("unix://") {
        #[cfg(unix)]
        {
            return match tokio::net::UnixStream::connect(_socket).await {
                Ok(stream) => over(stream, path).await,
                Err(e) => Err(connect_error(e)),
            };
        }
    }
    let address = uri
        .strip_prefix("tcp://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or_else(|| format!("korthbox does not speak HTTP to {uri} itself"))?;
    match tokio::net::TcpStream::connect(address.trim_end_matches('/')).await {
        Ok(stream) => over(stream, path).await,
        Err(e) => Err(connect_error(e)),
    }
}

/// An engine's error answer, with the message its JSON body gives (`{"message": …}`).
fn refusal(status: u16, path: &str, body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string));
    match message {
        Some(message) => format!("the engine answered {status} to {path}: {message}"),
        None => format!("the engine answered {status} to {path}"),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], path: &str) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("the engine's answer to {path} is not what the Docker API says: {e}"))
}

/// `/info`, and `/version` when `depth` asks for everything (both at once: Podman computes
/// each by running conmon and the OCI runtime, so one after the other would double the wait)
/// or when `/info` says Docker Desktop.
///
/// Decided for issue 13: `/info` alone tells the engines apart (every captured Docker Desktop
/// `/info` says `OperatingSystem: Docker Desktop`), and `/version` costs Docker Engine another
/// run of runc and docker-init, so only `doctor -v` asks it of every engine.
async fn query(uri: &str, timeout: Duration, depth: Asked) -> Result<Answers, String> {
    if !plain_http(uri) {
        return query_bollard(uri, timeout, depth).await;
    }
    let ((headers, body), version) = match depth {
        Asked::Everything => {
            let (info, version) = tokio::join!(get(uri, "/info"), get(uri, "/version"));
            (info?, Some(version?.1))
        }
        Asked::Info | Asked::Ping => (get(uri, "/info").await?, None),
    };
    let info: SystemInfo = parse(&body, "/info")?;
    let version = match version {
        Some(body) => Some(parse(&body, "/version")?),
        // Only for Docker Desktop's release: without it the engine is still what /info says.
        None if classify(None, &info, uri) == EngineKind::DockerDesktop => get(uri, "/version")
            .await
            .ok()
            .and_then(|(_, body)| parse(&body, "/version").ok()),
        None => None,
    };
    Ok(Answers {
        info,
        api_version: header(&headers, "api-version"),
        version,
    })
}

/// [`query`] through bollard, for endpoints korthbox does not speak HTTP to itself.
async fn query_bollard(uri: &str, timeout: Duration, depth: Asked) -> Result<Answers, String> {
    // bollard's own request timeout is set past ours, so a silent engine is reported by the
    // caller's timeout as "did not answer", not as a transport error.
    let docker = connect(uri, timeout.as_secs() + 5, API_DEFAULT_VERSION)?;
    let (info, version) = match depth {
        Asked::Everything => {
            let (info, version) = tokio::join!(docker.info(), docker.version());
            (info.map_err(describe)?, Some(version.map_err(describe)?))
        }
        Asked::Info | Asked::Ping => (docker.info().await.map_err(describe)?, None),
    };
    let version = match version {
        None if classify(None, &info, uri) == EngineKind::DockerDesktop => {
            docker.version().await.ok()
        }
        other => other,
    };
    Ok(Answers {
        info,
        api_version: None,
        version,
    })
}

/// A Docker API client for an engine's endpoint; requests give up after `timeout`.
pub fn client(uri: &str, timeout: Duration) -> Result<Docker, String> {
    connect(uri, timeout.as_secs().max(1), API_DEFAULT_VERSION)
}

fn connect(uri: &str, secs: u64, version: &ClientVersion) -> Result<Docker, String> {
    let result = if uri.starts_with("unix://") {
        #[cfg(unix)]
        {
            Docker::connect_with_unix(uri, secs, version)
        }
        #[cfg(not(unix))]
        {
            return Err("unix sockets are not supported on this OS".into());
        }
    } else if uri.starts_with("npipe://") {
        #[cfg(windows)]
        {
            Docker::connect_with_named_pipe(uri, secs, version)
        }
        #[cfg(not(windows))]
        {
            return Err("named pipes exist only on Windows".into());
        }
    } else if uri.starts_with("tcp://") || uri.starts_with("http://") {
        Docker::connect_with_http(uri, secs, version)
    } else {
        return Err(format!(
            "korthbox cannot talk to {uri}: only unix://, tcp:// and npipe:// endpoints are supported"
        ));
    };
    result.map_err(describe)
}

/// A one-line description of a bollard error, with its causes.
fn describe(e: bollard::errors::Error) -> String {
    use std::error::Error as _;
    let mut text = match &e {
        bollard::errors::Error::SocketNotFoundError(path) => format!("no socket at {path}"),
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            format!("the engine answered {status_code}: {message}")
        }
        other => other.to_string(),
    };
    // A transport failure is said in words (the io error at the bottom of hyper's chain),
    // not as the client library's chain of wrappers.
    let mut source = e.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return super::words::io(io);
        }
        source = cause.source();
    }
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(json: &str) -> SystemInfo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn paths_name_engines() {
        assert_eq!(
            kind_from_path("unix:///Users/u/.colima/default/docker.sock"),
            Some(EngineKind::Colima)
        );
        assert_eq!(
            kind_from_path("unix:///Users/u/.orbstack/run/docker.sock"),
            Some(EngineKind::OrbStack)
        );
        assert_eq!(
            kind_from_path("unix:///Users/u/.rd/docker.sock"),
            Some(EngineKind::RancherDesktop)
        );
        assert_eq!(
            kind_from_path("unix:///home/u/.docker/desktop/docker.sock"),
            Some(EngineKind::DockerDesktop)
        );
        assert_eq!(
            kind_from_path("unix:///run/user/1000/podman/podman.sock"),
            Some(EngineKind::Podman)
        );
        assert_eq!(kind_from_path("unix:///var/run/docker.sock"), None);
    }

    #[test]
    fn api_beats_path() {
        // Podman serving the Docker socket path (podman-docker): the API decides.
        let podman = info(r#"{"ProductLicense":"Apache-2.0","Name":"host"}"#);
        assert_eq!(
            classify(None, &podman, "unix:///var/run/docker.sock"),
            EngineKind::Podman
        );
        let colima = info(r#"{"Name":"colima-work","OperatingSystem":"Ubuntu 24.04.4 LTS"}"#);
        assert_eq!(
            classify(None, &colima, "unix:///var/run/docker.sock"),
            EngineKind::Colima
        );
        let plain = info(r#"{"Name":"vm","OperatingSystem":"Debian GNU/Linux 12 (bookworm)"}"#);
        assert_eq!(
            classify(None, &plain, "unix:///var/run/docker.sock"),
            EngineKind::DockerEngine
        );
    }

    #[test]
    fn rootless_from_security_options() {
        let i = info(
            r#"{"SecurityOptions":["name=seccomp,profile=default","name=rootless","name=cgroupns"]}"#,
        );
        assert!(resources(&i).rootless);
        let i = info(r#"{"SecurityOptions":["name=seccomp,profile=builtin"]}"#);
        assert!(!resources(&i).rootless);
    }
}
