//! Every image the stack runs, pinned by tag and digest, in one place.

use serde::Serialize;

/// orthancteam/orthanc (osimis/orthanc was renamed in 2024): Orthanc 1.12.11 with the
/// PostgreSQL, DICOMweb and S3 plugins.
pub const ORTHANC: &str = "docker.io/orthancteam/orthanc:26.6.0@sha256:510ef4ce24699104244b00d2b93350a801fc2f1c6b0bfc6a1f15e546bff2d1f4";
/// PostgreSQL 17: data under /var/lib/postgresql/data (18 moved it to /var/lib/postgresql/18/docker).
pub const POSTGRES: &str = "docker.io/library/postgres:17.6-bookworm@sha256:f3bd19c606e442c3d7bdfa8002e03fe260a1023351e0ea4598032022b68dd6e3";
/// MinIO's last community release, from MinIO's own quay.io copy: MinIO stopped publishing
/// community images and withdrew its Docker Hub repositories in September 2026.
pub const MINIO: &str = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e";
/// rancher/local-path-provisioner.
pub const LOCAL_PATH: &str = "docker.io/rancher/local-path-provisioner:v0.0.32@sha256:9289da488b07912cb4128eb96928a331a5f3e60c28c5cfc5790f354a4ad0cc68";
/// The helper local-path-provisioner runs to create and remove volume directories.
pub const BUSYBOX: &str = "docker.io/library/busybox:1.37.0@sha256:bdf57e528e45e4433820e045b29b4597825a1c9e38353532d90a01445013f82e";

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
