//! Every image the stack runs, pinned by tag and digest, in one place.

use serde::Serialize;

/// orthancteam/orthanc (osimis/orthanc was renamed in 2024) 26.8.1, released 2026-08-19:
/// Orthanc 1.13.0 (fixes ICSMA-26-253-02, a heap out-of-bounds write decoding PNG/JPEG in
/// Orthanc < 1.13.0) with the PostgreSQL 10.3, DICOMweb 1.24 and S3 plugins. From 26.7 on the
/// image refuses the legacy environment variables (korthbox sets none; tests/manifests.rs
/// holds the rendered Deployment against the image's own list). Digest found 2026-12-06 in two
/// independent public sources (search index): an image policy naming
/// `orthancteam/orthanc:26.8.1@sha256:ffdfa114…` (file 59782150082), and a Dockerfile built
/// `FROM orthancteam/orthanc@sha256:ffdfa114…` adding the Worklists plugin (file 68675429794).
pub const ORTHANC: &str = "docker.io/orthancteam/orthanc:26.8.1@sha256:ffdfa1141b6b89a631c10d5ac612e18b934d601c3501e73b597bd700ecfd4004";
/// PostgreSQL 17.11 (2026-08; the 2026-02 and 2026-05 security releases included, e.g.
/// CVE-2026-6473): data under /var/lib/postgresql/data (18 moved it to
/// /var/lib/postgresql/18/docker). The multi-arch index digest found 2026-12-06 in four public
/// files (search index 60977143661, 65783185330, 70586448970, 69422338933: a pins table
/// naming it the official multi-arch manifest, a components list, a job-hook test, a
/// private-CA test script).
pub const POSTGRES: &str = "docker.io/library/postgres:17.11-bookworm@sha256:051f7b7b3abdd564d5d1bd1e8c4b9c1b6e77087d1dd22020ede611c096a272e0";
/// MinIO's last community release, from MinIO's own quay.io copy: MinIO stopped publishing
/// community images and withdrew its Docker Hub repositories in September 2026.
pub const MINIO: &str = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e";
/// rancher/local-path-provisioner v0.0.37 (2026-08-05): CVE-2025-62878 (path traversal through
/// `pathPattern`, fixed in v0.0.34) and the helper-pod template injection (v0.0.36) fixed; its
/// image has no shell, which korthbox does not need (the provisioner is started as its binary,
/// and the helper pod runs busybox). Digest found 2026-12-06 in ten public files (search index),
/// among them a kustomize image override (65766803129), a Nix image lock (71049362867) and a
/// Dockerfile `FROM` line (67640414895).
pub const LOCAL_PATH: &str = "docker.io/rancher/local-path-provisioner:v0.0.37@sha256:e757967a5ec338f6a9b371c5a9688bedaa8c3578ea3dd4db329ea0084be0a86f";
/// The helper local-path-provisioner runs to create and remove volume directories.
pub const BUSYBOX: &str = "docker.io/library/busybox:1.37.0@sha256:bdf57e528e45e4433820e045b29b4597825a1c9e38353532d90a01445013f82e";

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
    /// use korthbox::stack::images::ImageRef;
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
    /// use korthbox::stack::images::ImageRef;
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
