//! The cluster tools on PATH — kind, k3d, minikube, kubectl — and their versions, read from
//! each tool's own version command.

use std::cmp::Ordering;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use tokio::task::JoinSet;

use crate::base::env::{self, Env};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolName {
    Kind,
    K3d,
    Minikube,
    Kubectl,
}

impl ToolName {
    pub const ALL: [ToolName; 4] = [
        ToolName::Kind,
        ToolName::K3d,
        ToolName::Minikube,
        ToolName::Kubectl,
    ];
    /// The tools that can create a cluster, in the order `--driver auto` tries them.
    pub const DRIVERS: [ToolName; 3] = [ToolName::Kind, ToolName::K3d, ToolName::Minikube];

    pub fn executable(self) -> &'static str {
        match self {
            ToolName::Kind => "kind",
            ToolName::K3d => "k3d",
            ToolName::Minikube => "minikube",
            ToolName::Kubectl => "kubectl",
        }
    }

    /// The oldest release korthbox works with, and why.
    ///
    /// - kind v0.20.0: requires Docker 20.10+ and starts every node in a private cgroup
    ///   namespace, which multi-node clusters rely on (kind's v0.20.0 release notes).
    /// - k3d v5.5.0: the first release that reads `k3d.io/v1alpha5` Simple configs, the format
    ///   korthbox renders.
    /// - minikube v1.33.0: the first release with multi-control-plane clusters (`--ha`), which
    ///   `--control-planes 3` uses.
    /// - kubectl: optional (korthbox talks to the API itself); v1.28 is the oldest client whose
    ///   version skew still covers the Kubernetes versions the drivers create.
    pub fn minimum(self) -> Version {
        match self {
            ToolName::Kind => Version::new(0, 20, 0),
            ToolName::K3d => Version::new(5, 5, 0),
            ToolName::Minikube => Version::new(1, 33, 0),
            ToolName::Kubectl => Version::new(1, 28, 0),
        }
    }
}

/// A release version: `v1.2.3`, with whatever pre-release or build text followed it kept for
/// display only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub text: String,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
            text: String::new(),
        }
    }

    /// Parses `v0.11.1`, `1.39.0`, `v1.32.4-dispatcher`, `v1.21.2+k3s1`.
    ///
    /// ```
    /// use korthbox::host::tools::Version;
    ///
    /// let v = Version::parse("v1.21.2+k3s1").unwrap();
    /// assert_eq!((v.major, v.minor, v.patch), (1, 21, 2));
    /// assert!(v > Version::new(1, 21, 1));
    /// assert_eq!(v.to_string(), "v1.21.2+k3s1");
    /// ```
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let core = text.strip_prefix('v').unwrap_or(text);
        let end = core
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(core.len());
        let mut parts = core[..end].split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().map(|p| p.parse().ok()).unwrap_or(Some(0))?;
        Some(Version {
            major,
            minor,
            patch,
            text: format!("v{core}"),
        })
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.triple().cmp(&other.triple()))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
        } else {
            f.write_str(&self.text)
        }
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: ToolName,
    /// The copy korthbox runs ([`find`]); `None` when it is not installed.
    pub path: Option<PathBuf>,
    pub version: Option<Version>,
    /// Why the version could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Another copy passed over: an older one in korthbox's bin directory, or one on PATH older
    /// than korthbox's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<Other>,
}

/// A copy of a tool that is not the one used.
#[derive(Debug, Clone, Serialize)]
pub struct Other {
    pub path: PathBuf,
    pub version: Option<Version>,
}

impl Tool {
    pub fn installed(&self) -> bool {
        self.path.is_some()
    }

    /// Installed, with a readable version at or above the minimum.
    pub fn usable(&self) -> bool {
        self.version
            .as_ref()
            .is_some_and(|v| *v >= self.name.minimum())
    }
}

/// Finds every tool (on PATH, and in korthbox's bin directory) and reads their versions at once,
/// each within `timeout`; where both places have one, [`find`]'s rule picks it.
///
/// A tool's version is remembered in the cache directory against the executable's size,
/// modification time and inode, so a later run reads it without starting the tool (a Go
/// binary's start-up alone costs tens of milliseconds); replacing the executable invalidates it.
pub async fn probe_all(env: &Env, timeout: Duration) -> Vec<Tool> {
    let cache_file = env.cache_dir().map(|d| d.join(CACHE_FILE));
    let mut cache = cache_file
        .as_deref()
        .map(VersionCache::load)
        .unwrap_or_default();
    let mut tasks = JoinSet::new();
    // Every candidate: its tool, path, and version or why it has none.
    let mut found: Vec<(ToolName, PathBuf, Result<Version, String>)> = Vec::new();
    for name in ToolName::ALL {
        let (on_path, installed) = candidates(env, name);
        for path in on_path.into_iter().chain(installed) {
            let print = fingerprint(&path);
            match print.as_ref().and_then(|p| cache.get(&path, p)) {
                Some(version) => found.push((name, path, Ok(version))),
                None => {
                    let env = env.clone();
                    tasks.spawn(async move {
                        let version = read_version(&env, name, &path, timeout).await;
                        (name, path, print, version)
                    });
                }
            }
        }
    }
    let mut changed = false;
    while let Some(joined) = tasks.join_next().await {
        let Ok((name, path, print, result)) = joined else {
            continue;
        };
        if let (Ok(version), Some(print)) = (&result, print) {
            cache.put(path.clone(), print, version);
            changed = true;
        }
        found.push((name, path, result));
    }
    if changed && let Some(file) = &cache_file {
        // Best effort: a read-only cache only costs the next run a few milliseconds.
        let _ = cache.save(file);
    }
    ToolName::ALL
        .into_iter()
        .map(|name| chosen(env, name, &found))
        .collect()
}

/// The tool [`find`] runs, with the other copy (if any) it passed over.
fn chosen(
    env: &Env,
    name: ToolName,
    found: &[(ToolName, PathBuf, Result<Version, String>)],
) -> Tool {
    let path = find(env, name);
    let of = |p: &PathBuf| found.iter().find(|(n, q, _)| *n == name && q == p);
    let mut tool = Tool {
        name,
        path: path.clone(),
        version: None,
        error: None,
        other: None,
    };
    if let Some((_, _, result)) = path.as_ref().and_then(of) {
        match result {
            Ok(v) => tool.version = Some(v.clone()),
            Err(e) => tool.error = Some(e.clone()),
        }
    }
    let (on_path, installed) = candidates(env, name);
    tool.other = on_path
        .into_iter()
        .chain(installed)
        .find(|p| Some(p) != path.as_ref())
        .map(|p| Other {
            version: of(&p).and_then(|(_, _, r)| r.clone().ok()),
            path: p,
        });
    tool
}

/// Where `name` is: first on PATH, and in korthbox's bin directory (where `korthbox install`
/// puts drivers) when that is another file.
fn candidates(env: &Env, name: ToolName) -> (Option<PathBuf>, Option<PathBuf>) {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let on_path = env
        .var_os(env::PATH)
        .and_then(|p| which::which_in(name.executable(), Some(p), &cwd).ok());
    let installed = env
        .bin_dir()
        .and_then(|d| which::which_in(name.executable(), Some(d), &cwd).ok())
        .filter(|i| Some(i) != on_path.as_ref());
    (on_path, installed)
}

const CACHE_FILE: &str = "tool-versions.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct VersionCache {
    entries: Vec<CacheEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheEntry {
    path: PathBuf,
    fingerprint: String,
    version: String,
}

impl VersionCache {
    fn load(file: &std::path::Path) -> Self {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn get(&self, path: &PathBuf, print: &str) -> Option<Version> {
        let entry = self
            .entries
            .iter()
            .find(|e| &e.path == path && e.fingerprint == print)?;
        Version::parse(&entry.version)
    }

    fn put(&mut self, path: PathBuf, fingerprint: String, version: &Version) {
        self.entries.retain(|e| e.path != path);
        self.entries.push(CacheEntry {
            path,
            fingerprint,
            version: version.to_string(),
        });
    }

    fn save(&self, file: &std::path::Path) -> std::io::Result<()> {
        let partial = file.with_extension(format!("partial.{}", std::process::id()));
        super::fs::write_private(
            &partial,
            &serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&partial, file)
    }
}

/// Identifies one build of an executable: size, modification time and (on unix) inode of the
/// file the path resolves to.
fn fingerprint(path: &std::path::Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    Some(format!("{}:{modified}:{inode}", meta.len()))
}

/// The executable korthbox runs for `name`: the one on PATH, unless korthbox's bin directory
/// has a newer one (`korthbox install` put it there; an old kind first on PATH would otherwise
/// hide it, and the hint to install it would come back forever). Versions come from the cache
/// [`probe_all`] keeps; a version not known yet leaves PATH's first.
pub fn find(env: &Env, name: ToolName) -> Option<PathBuf> {
    let (on_path, installed) = candidates(env, name);
    let (Some(on_path), Some(installed)) = (&on_path, &installed) else {
        return on_path.or(installed);
    };
    let cache = env
        .cache_dir()
        .map(|d| VersionCache::load(&d.join(CACHE_FILE)))
        .unwrap_or_default();
    let version = |p: &PathBuf| fingerprint(p).and_then(|f| cache.get(p, &f));
    match (version(on_path), version(installed)) {
        (Some(old), Some(new)) if new > old => Some(installed.clone()),
        _ => Some(on_path.clone()),
    }
}

async fn read_version(
    env: &Env,
    name: ToolName,
    path: &PathBuf,
    timeout: Duration,
) -> Result<Version, String> {
    let machine_args: &[&str] = match name {
        ToolName::Kind => &["version"],
        ToolName::K3d => &["version", "-o", "json"],
        ToolName::Minikube => &["version", "-o", "json"],
        ToolName::Kubectl => &["version", "--client", "-o", "json"],
    };
    let first = run(env, path, machine_args, timeout).await;
    if let Ok(out) = &first
        && let Some(v) = parse_version(name, out)
    {
        return Ok(v);
    }
    // k3d releases without `-o json` reject the flag; their plain output is parsed instead.
    if name == ToolName::K3d {
        let out = run(env, path, &["version"], timeout).await?;
        return parse_version(name, &out).ok_or_else(|| unreadable(name, &out));
    }
    match first {
        Ok(out) => Err(unreadable(name, &out)),
        Err(e) => Err(e),
    }
}

fn unreadable(name: ToolName, out: &str) -> String {
    let first_line = out.lines().next().unwrap_or("").trim();
    format!(
        "could not read a version from `{} version`: {first_line:?}",
        name.executable()
    )
}

async fn run(
    env: &Env,
    path: &PathBuf,
    args: &[&str],
    timeout: Duration,
) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(path);
    cmd.args(args)
        .env_clear()
        .envs(env.vars())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let shown = format!("{} {}", path.display(), args.join(" "));
    let output = match tokio::time::timeout(timeout, cmd.output()).await {
        Err(_) => {
            return Err(format!(
                "`{shown}` did not finish within {}",
                crate::base::report::seconds(timeout)
            ));
        }
        Ok(Err(e)) => return Err(format!("could not run `{shown}`: {e}")),
        Ok(Ok(output)) => output,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            stderr.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Reads a version from the output of the tool's version command.
///
/// - kind: `kind v0.11.1 go1.16.4 darwin/amd64` (or only `0.11.1` with `-q`)
/// - k3d: `{"k3d":"v5.6.3","k3s":"v1.28.8-k3s1"}` or `k3d version v4.4.7` / `k3s version …`
/// - minikube: `{"commit":"…","minikubeVersion":"v1.39.0"}` or `minikube version: v1.39.0`
/// - kubectl: `{"clientVersion":{"gitVersion":"v1.32.4",…}}`
pub fn parse_version(name: ToolName, output: &str) -> Option<Version> {
    let json: Option<serde_json::Value> = serde_json::from_str(output.trim()).ok();
    let from_json = |pointer: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(pointer))
            .and_then(|v| v.as_str())
            .and_then(Version::parse)
    };
    match name {
        ToolName::Kind => output.split_whitespace().find_map(|word| {
            let word = word.strip_prefix("kind").unwrap_or(word);
            word.starts_with(|c: char| c == 'v' || c.is_ascii_digit())
                .then(|| Version::parse(word))
                .flatten()
        }),
        ToolName::K3d => from_json("/k3d").or_else(|| line_version(output, "k3d version")),
        ToolName::Minikube => {
            from_json("/minikubeVersion").or_else(|| line_version(output, "minikube version:"))
        }
        ToolName::Kubectl => from_json("/clientVersion/gitVersion")
            .or_else(|| line_version(output, "Client Version:")),
    }
}

fn line_version(output: &str, prefix: &str) -> Option<Version> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix))
        .and_then(|rest| Version::parse(rest.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_compare() {
        let v = Version::parse("v1.32.4-dispatcher").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 32, 4));
        assert_eq!(v.to_string(), "v1.32.4-dispatcher");
        assert!(Version::parse("v0.19.0").unwrap() < ToolName::Kind.minimum());
        assert!(Version::parse("0.20.0").unwrap() >= ToolName::Kind.minimum());
        assert!(Version::parse("v1.21.2+k3s1").unwrap() > Version::new(1, 21, 1));
        assert_eq!(
            Version::parse("1.30"),
            Some(Version {
                major: 1,
                minor: 30,
                patch: 0,
                text: "v1.30".into()
            })
        );
        assert_eq!(Version::parse("kind"), None);
    }

    #[test]
    fn kind_quiet_output() {
        assert_eq!(
            parse_version(ToolName::Kind, "0.23.0\n")
                .unwrap()
                .to_string(),
            "v0.23.0"
        );
    }

    #[test]
    fn k3d_json() {
        let v = parse_version(ToolName::K3d, r#"{"k3d":"v5.6.3","k3s":"v1.28.8-k3s1"}"#).unwrap();
        assert_eq!(v.to_string(), "v5.6.3");
    }

    #[test]
    fn minikube_json() {
        let v = parse_version(
            ToolName::Minikube,
            r#"{"commit":"7a9f6a8","minikubeVersion":"v1.39.0"}"#,
        )
        .unwrap();
        assert_eq!(
            v,
            Version {
                major: 1,
                minor: 39,
                patch: 0,
                text: "v1.39.0".into()
            }
        );
    }

    #[test]
    fn garbage_is_no_version() {
        assert_eq!(
            parse_version(ToolName::Minikube, "error: unknown flag\n"),
            None
        );
        assert_eq!(parse_version(ToolName::Kubectl, "{}"), None);
    }
}
