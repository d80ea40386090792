//! The process environment korthbox reads, captured once so tests can drive every detection.
//!
//! Every environment variable the program reads is named here and nowhere else.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The home directory on Unix.
pub const HOME: &str = "HOME";
/// The home directory on Windows.
pub const USERPROFILE: &str = "USERPROFILE";
/// Where the Docker CLI and engines say the daemon is (`unix://…`, `tcp://…`, `npipe://…`).
pub const DOCKER_HOST: &str = "DOCKER_HOST";
/// Overrides the Docker CLI's `currentContext`.
pub const DOCKER_CONTEXT: &str = "DOCKER_CONTEXT";
/// The Docker CLI's configuration directory (default `~/.docker`).
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
/// One or more kubeconfig files, merged as kubectl merges them.
pub const KUBECONFIG: &str = "KUBECONFIG";
/// Set (not read) by korthbox: kind's switch from Docker to Podman nodes.
pub const KIND_EXPERIMENTAL_PROVIDER: &str = "KIND_EXPERIMENTAL_PROVIDER";
/// Where rootless Podman and rootless Docker put their sockets.
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
/// The search path for kind, k3d, minikube and kubectl.
pub const PATH: &str = "PATH";
/// Proxies for korthbox's own requests and for the tools it runs, read as curl reads them
/// (lower case first); loopback never goes through one. See `host::proxy`.
pub const HTTP_PROXY: &str = "HTTP_PROXY";
pub const HTTP_PROXY_LOWER: &str = "http_proxy";
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
pub const HTTPS_PROXY_LOWER: &str = "https_proxy";
pub const ALL_PROXY: &str = "ALL_PROXY";
pub const ALL_PROXY_LOWER: &str = "all_proxy";
pub const NO_PROXY: &str = "NO_PROXY";
pub const NO_PROXY_LOWER: &str = "no_proxy";
/// A PEM bundle (or a directory of certificates) to trust instead of the system's store, as
/// for OpenSSL and curl (read by rustls-native-certs).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
pub const SSL_CERT_DIR: &str = "SSL_CERT_DIR";
/// The terminal's type; `dumb` gets plain lines and no escape codes, as in every other tool.
pub const TERM: &str = "TERM";
/// The terminal's width, as shells set it: long lines (doctor's) are wrapped to it.
pub const COLUMNS: &str = "COLUMNS";
/// Disables colour when set to anything (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Prefix for every absolute host path korthbox reads (`/etc/os-release`, `/proc/sys/…`,
/// `/var/run/docker.sock`, …). Tests point it at a temporary directory; default `/`.
pub const KORTHBOX_HOST_ROOT: &str = "KORTHBOX_HOST_ROOT";
/// Where korthbox keeps its cache (default: the platform's cache directory + `korthbox`).
pub const KORTHBOX_CACHE_DIR: &str = "KORTHBOX_CACHE_DIR";
/// How long one probe (an engine, a tool's version) may take, in seconds (default 2).
pub const KORTHBOX_PROBE_TIMEOUT: &str = "KORTHBOX_PROBE_TIMEOUT";
/// Where `korthbox install` puts drivers (default: the user's data directory, `korthbox/bin`).
pub const KORTHBOX_BIN_DIR: &str = "KORTHBOX_BIN_DIR";
/// The SHA-256 `korthbox install` expects instead of the pinned one, honoured only with a
/// `KORTHBOX_DOWNLOAD_BASE` on this machine (your own builds; the tests).
pub const KORTHBOX_INSTALL_SHA256: &str = "KORTHBOX_INSTALL_SHA256";
/// Where `korthbox install` downloads from instead of the drivers' GitHub releases
/// (`BASE/TOOL/VERSION/FILE`): a mirror, or the tests' local server.
pub const KORTHBOX_DOWNLOAD_BASE: &str = "KORTHBOX_DOWNLOAD_BASE";
/// The password `korthbox prove --url` logs in with (empty: Orthanc has no authentication).
pub const KORTHBOX_ORTHANC_PASSWORD: &str = "KORTHBOX_ORTHANC_PASSWORD";
/// The password of the user's own PostgreSQL (`--postgres-url`).
pub const KORTHBOX_POSTGRES_PASSWORD: &str = "KORTHBOX_POSTGRES_PASSWORD";

/// A snapshot of the environment: variables, home directory and the host root.
#[derive(Debug, Clone)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
    home: Option<PathBuf>,
    root: PathBuf,
}

impl Env {
    /// Captures the current process environment.
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))))
    }

    /// Builds an environment from explicit variables (the home directory comes from `HOME`,
    /// else `USERPROFILE` (Windows), falling back to the platform's lookup).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, OsString)>) -> Self {
        let vars: BTreeMap<String, OsString> = vars.into_iter().collect();
        let home = [HOME, USERPROFILE]
            .into_iter()
            .find_map(|name| vars.get(name).filter(|h| !h.is_empty()))
            .map(PathBuf::from)
            .or_else(dirs::home_dir);
        let root = vars
            .get(KORTHBOX_HOST_ROOT)
            .filter(|r| !r.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        Self { vars, home, root }
    }

    /// The same environment with `name` set to `value` (a flag that stands for a variable,
    /// such as `--kubeconfig`); tools korthbox runs get it too.
    pub fn with_var(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    /// A variable's value when it is set, valid UTF-8 and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .and_then(|v| v.to_str())
            .filter(|v| !v.is_empty())
    }

    /// A variable's value when it is set, even empty (where empty means something).
    pub fn var_set(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(|v| v.to_str())
    }

    /// A variable's raw value when it is set and not empty.
    pub fn var_os(&self, name: &str) -> Option<&OsString> {
        self.vars.get(name).filter(|v| !v.is_empty())
    }

    /// Every variable, for handing the same environment to a child process.
    pub fn vars(&self) -> impl Iterator<Item = (&String, &OsString)> {
        self.vars.iter()
    }

    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// A path below the home directory.
    pub fn home_path(&self, rel: &str) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(rel))
    }

    /// korthbox's cache directory, from [`KORTHBOX_CACHE_DIR`] or the platform's default.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        match self.var_os(KORTHBOX_CACHE_DIR) {
            Some(dir) => Some(PathBuf::from(dir)),
            None => dirs::cache_dir().map(|d| d.join("korthbox")),
        }
    }

    /// Where `korthbox install` puts the drivers it downloads; searched after PATH.
    pub fn bin_dir(&self) -> Option<PathBuf> {
        match self.var_os(KORTHBOX_BIN_DIR) {
            Some(dir) => Some(PathBuf::from(dir)),
            None => dirs::data_local_dir().map(|d| d.join("korthbox").join("bin")),
        }
    }

    /// An absolute host path, re-rooted under [`KORTHBOX_HOST_ROOT`].
    pub fn host_path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        match abs.strip_prefix("/") {
            Ok(rel) => self.root.join(rel),
            Err(_) => abs.to_path_buf(),
        }
    }

    /// Reads a small host file (see [`Env::host_path`]) as trimmed text.
    pub fn read_host_file(&self, abs: &str) -> Option<String> {
        std::fs::read_to_string(self.host_path(abs))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// Parses a duration as kubectl and Go write them: a number of seconds (`90`, `0.5`), or
/// numbers with units (`5m`, `1m30s`, `2h`, `500ms`).
///
/// ```
/// use std::time::Duration;
/// use korthbox::base::env::parse_duration;
///
/// assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
/// assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
/// assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
/// assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
/// assert_eq!(parse_duration("soon"), None);
/// assert_eq!(parse_duration("5x"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total))
}

/// Parses `2`, `0.5`, `2s` or `500ms` as a duration (more than 0, at most an hour).
///
/// ```
/// use std::time::Duration;
/// use korthbox::base::env::parse_seconds;
///
/// assert_eq!(parse_seconds("2"), Some(Duration::from_secs(2)));
/// assert_eq!(parse_seconds("0.5s"), Some(Duration::from_millis(500)));
/// assert_eq!(parse_seconds("0"), None);
/// assert_eq!(parse_seconds("soon"), None);
/// ```
pub fn parse_seconds(text: &str) -> Option<Duration> {
    parse_duration(text).filter(|d| !d.is_zero() && *d <= Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_vars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v))),
        )
    }

    #[test]
    fn host_paths_are_rerooted() {
        let e = env(&[(KORTHBOX_HOST_ROOT, "/tmp/root"), ("HOME", "/home/u")]);
        assert_eq!(
            e.host_path("/etc/os-release"),
            PathBuf::from("/tmp/root/etc/os-release")
        );
        assert_eq!(
            e.home_path(".rd/docker.sock"),
            Some(PathBuf::from("/home/u/.rd/docker.sock"))
        );
        let plain = env(&[]);
        assert_eq!(
            plain.host_path("/etc/os-release"),
            PathBuf::from("/etc/os-release")
        );
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let e = env(&[(DOCKER_HOST, ""), (KUBECONFIG, "/a")]);
        assert_eq!(e.var(DOCKER_HOST), None);
        assert_eq!(e.var(KUBECONFIG), Some("/a"));
    }
}
