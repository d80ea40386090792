//! The stack's images — pinned in `crate::base::pins` — overridden, mirrored and taken apart.

use serde::Serialize;

pub use crate::base::pins::{BUSYBOX, LOCAL_PATH, MINIO, ORTHANC, POSTGRES};

/// What korthbox says wherever `--storage minio` is chosen: the pinned image is MinIO's last
/// published community image, without the fix its last source release carries.
pub const MINIO_NOTE: &str = "note: MinIO's community edition is archived; its last source release (2025-10-15) fixes GHSA-jjjj-jwhf-8rgr but was never published as an image, so the pinned RELEASE.2025-09-07 image lacks that fix — fine for a sandbox on this machine, not for data that matters (--minio-image takes an image you build from that release)";

/// What to say when `image` cannot be pulled, beyond "is the registry reachable": MinIO's
/// images are no longer published where people expect them.
pub fn pull_note(image: &str) -> Option<&'static str> {
    image.contains("minio/minio").then_some(
        "MinIO stopped publishing community images (its Docker Hub repositories were withdrawn in September 2026); korthbox pins MinIO's own quay.io copy. If quay.io is not reachable, pass an image you can pull with --minio-image, or a registry that mirrors quay.io with --registry-mirror",
    )
}

/// The images the stack runs; each can be overridden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackImages {
    pub orthanc: String,
    pub postgres: String,
    pub minio: String,
    pub local_path: String,
    pub busybox: String,
}

impl StackImages {
    /// The same images, each changed by `f` (a mirror, a tag instead of a digest).
    pub fn map(self, f: impl Fn(&str) -> String) -> Self {
        Self {
            orthanc: f(&self.orthanc),
            postgres: f(&self.postgres),
            minio: f(&self.minio),
            local_path: f(&self.local_path),
            busybox: f(&self.busybox),
        }
    }
}

impl Default for StackImages {
    fn default() -> Self {
        Self {
            orthanc: ORTHANC.into(),
            postgres: POSTGRES.into(),
            minio: MINIO.into(),
            local_path: LOCAL_PATH.into(),
            busybox: BUSYBOX.into(),
        }
    }
}

/// Whether an image's name (before its tag) is a registry host (with a port) and lower-case
/// path components, as registries take them; why not otherwise.
fn check_name(name: &str) -> Result<(), &'static str> {
    let mut parts: Vec<&str> = name.split('/').collect();
    let host = parts.first().copied().filter(|first| {
        parts.len() > 1 && (first.contains('.') || first.contains(':') || *first == "localhost")
    });
    if let Some(host) = host {
        parts.remove(0);
        let (domain, port) = host.split_once(':').unwrap_or((host, "1"));
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !domain_ok || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err("its registry is not a host name with an optional port");
        }
    }
    let component_ok = |c: &str| {
        let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
        if !c.starts_with(alnum) || !c.ends_with(alnum) {
            return false;
        }
        let mut previous_separator = String::new();
        for ch in c.chars() {
            if alnum(ch) {
                previous_separator.clear();
                continue;
            }
            previous_separator.push(ch);
            let ok = matches!(previous_separator.as_str(), "." | "_" | "__")
                || previous_separator.chars().all(|s| s == '-');
            if !ok {
                return false;
            }
        }
        true
    };
    if parts.is_empty() || !parts.iter().all(|p| component_ok(p)) {
        return Err("a name is lower-case letters and digits, separated by '/', '.', '_' or '-'");
    }
    Ok(())
}

/// An image reference taken apart: `registry/repository:tag@digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `docker.io`, `quay.io`, `127.0.0.1:5000`…
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:…`
    pub digest: Option<String>,
}

impl ImageRef {
    /// ```
    /// use korthbox::kube::stack::images::ImageRef;
    /// let r = ImageRef::parse("postgres:17.6@sha256:abc");
    /// assert_eq!(r.registry, "docker.io");
    /// assert_eq!(r.repository, "library/postgres");
    /// assert_eq!(r.to_string(), "docker.io/library/postgres:17.6@sha256:abc");
    /// assert_eq!(r.with_registry("127.0.0.1:5000").tagged(), "127.0.0.1:5000/library/postgres:17.6");
    /// ```
    pub fn parse(text: &str) -> ImageRef {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (text, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        ImageRef {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// Whether `text` is an image reference a registry takes (the distribution project's
    /// grammar): lower-case path components of letters and digits joined by `.`, `_`, `__` or
    /// dashes, an optional registry host (with a port) first, a tag of up to 128 word
    /// characters, dots and dashes, a digest `algorithm:hex` (sha256 with 64 hex digits).
    ///
    /// ```
    /// use korthbox::kube::stack::images::ImageRef;
    /// assert!(ImageRef::check("registry.example:5000/team/orthanc:26.8.1").is_ok());
    /// assert!(ImageRef::check("Bad Image!!").is_err());
    /// assert!(ImageRef::check("").is_err());
    /// assert!(ImageRef::check("postgres@sha256:abc").is_err());
    /// ```
    pub fn check(text: &str) -> Result<(), String> {
        let bad = |why: &str| Err(format!("{text:?} is not an image reference: {why}"));
        if text.is_empty() {
            return bad("it is empty (give e.g. docker.io/library/postgres:17.11-bookworm)");
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("it has white space in it");
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        if let Some(digest) = digest {
            let Some((algorithm, hex)) = digest.split_once(':') else {
                return bad("a digest is algorithm:hex, e.g. sha256:…");
            };
            let hex_ok = !hex.is_empty()
                && hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
            if algorithm == "sha256" && (hex.len() != 64 || !hex_ok) {
                return bad("a sha256 digest has 64 lower-case hex digits");
            }
            if algorithm.is_empty() || !hex_ok {
                return bad("a digest is algorithm:hex");
            }
        }
        let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
            let ok = tag.len() <= 128
                && tag.starts_with(word)
                && tag.chars().all(|c| word(c) || c == '.' || c == '-');
            if !ok {
                return bad(
                    "a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
                );
            }
        }
        check_name(name).or_else(bad)
    }

    /// The same image from another registry (a mirror).
    pub fn with_registry(&self, registry: &str) -> ImageRef {
        ImageRef {
            registry: registry.to_string(),
            ..self.clone()
        }
    }

    /// `registry/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository:tag`, the name an image side-loaded into the nodes goes by: an
    /// image archive keeps tags, not the registry's digests, so nodes find it by tag.
    pub fn tagged(&self) -> String {
        format!(
            "{}:{}",
            self.name(),
            self.tag.as_deref().unwrap_or("latest")
        )
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}
