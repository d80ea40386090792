//! Small things every driver shares: quoting command lines for people, reading Kubernetes
//! versions, and where the definitions korthbox hands to the tools are kept.

use std::path::{Path, PathBuf};

use crate::base::error::Error;
use crate::base::spec::{SandboxName, VolumeSource};

/// Where korthbox keeps what it hands to a tool for cluster `name` (the definition, the output
/// of a failed create), so that it can be read afterwards.
pub fn cluster_dir(cache_dir: &Path, name: &SandboxName) -> PathBuf {
    cache_dir.join("clusters").join(name.as_str())
}

/// Where korthbox writes the definition it hands to a tool.
pub fn definition_path(cache_dir: &Path, name: &SandboxName, file_name: &str) -> PathBuf {
    cluster_dir(cache_dir, name).join(file_name)
}

/// Where the output of a failed create is kept, beside the definition.
pub const CREATE_LOG: &str = "create.log";

/// Which images korthbox loaded into the cluster's nodes, one per line, beside the definition.
pub const LOADED: &str = "loaded-images";

/// The volume source of a driver whose clusters come with a default StorageClass (kind's
/// `standard`, k3s's `local-path`), or may (an existing cluster): that class when the cluster
/// has one, else local-path-provisioner, made the cluster's default only in a cluster korthbox
/// made (`make_default`). `assume` is what to plan for when the cluster was not asked.
pub fn default_class_or_local_path(
    cluster_has_default: Option<bool>,
    assume: bool,
    make_default: bool,
) -> VolumeSource {
    if cluster_has_default.unwrap_or(assume) {
        VolumeSource::ClusterDefault
    } else {
        VolumeSource::InstallLocalPath {
            default: make_default,
        }
    }
}

/// Writes a definition file, creating its directory.
/// Writes a file of korthbox's cache (a definition, a tool's output): readable by its owner
/// only, in directories only its owner can enter, and with no credential in a URL.
pub fn write_definition(path: &Path, text: &str) -> Result<(), Error> {
    crate::host::fs::write_private(path, crate::base::error::redact(text).as_bytes())
        .map_err(|e| Error::failure(format!("could not write {}", path.display())).because(e))
}

/// Quotes a word for a POSIX shell when it needs it.
///
/// ```
/// use korthbox::driver::common::shell_quote;
/// assert_eq!(shell_quote("--nodes=3"), "--nodes=3");
/// assert_eq!(shell_quote("a b"), "'a b'");
/// assert_eq!(shell_quote("it's"), r#"'it'\''s'"#);
/// ```
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=/.:,@+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A Kubernetes version as a user writes it: `1.36`, `v1.36.4`, `1.36.4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: Option<u64>,
}

impl KubeVersion {
    /// ```
    /// use korthbox::driver::common::KubeVersion;
    /// let v = KubeVersion::parse("v1.36.4").unwrap();
    /// assert_eq!((v.major, v.minor, v.patch), (1, 36, Some(4)));
    /// assert_eq!(KubeVersion::parse("1.35").unwrap().patch, None);
    /// assert!(KubeVersion::parse("latest").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a Kubernetes version: write it as v1.36.4 (or 1.36 where the driver allows)"
            )
        };
        let core = text.strip_prefix('v').unwrap_or(text);
        let mut parts = core.split('.');
        let mut number = |required: bool| -> Result<Option<u64>, String> {
            match parts.next() {
                Some(p) => p.parse().map(Some).map_err(|_| bad()),
                None if required => Err(bad()),
                None => Ok(None),
            }
        };
        let major = number(true)?.ok_or_else(bad)?;
        let minor = number(true)?.ok_or_else(bad)?;
        let patch = number(false)?;
        if parts.next().is_some() || major != 1 {
            return Err(bad());
        }
        Ok(Self {
            major,
            minor,
            patch,
        })
    }
}

impl std::fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.patch {
            Some(p) => write!(f, "v{}.{}.{p}", self.major, self.minor),
            None => write!(f, "v{}.{}", self.major, self.minor),
        }
    }
}
