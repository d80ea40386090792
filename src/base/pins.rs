//! Every pin korthbox has, in one place: each image by tag and digest (the stack's, and the
//! nodes' for kind and k3d), and each driver release `korthbox install` downloads with the
//! SHA-256 of its binaries — each with what it is, why this version, where its digest was
//! found and when. Everything that uses an image or a release takes it from here
//! (tests/architecture.rs fails on a digest anywhere else).
//!
//! The install hashes were pinned by earlier releases of korthbox from each project's
//! published checksum files (kind's `.sha256sum` beside each binary, k3d's `checksums.txt`,
//! minikube's `.sha256`); `korthbox install` checks that the published checksum still agrees.

use crate::host::tools::Version;

// The stack's images.

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
/// community images and withdrew its Docker Hub repositories in September 2026. Digest
/// checked 2026-12-06 in ten public files (search index), among them a `docker run` of this
/// very tag (68425940366) and a test script pinning RELEASE.2025-09-07T16-13-09Z with it
/// (63490697036).
pub const MINIO: &str = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e";
/// rancher/local-path-provisioner v0.0.37 (2026-08-05): CVE-2025-62878 (path traversal through
/// `pathPattern`, fixed in v0.0.34) and the helper-pod template injection (v0.0.36) fixed; its
/// image has no shell, which korthbox does not need (the provisioner is started as its binary,
/// and the helper pod runs busybox). Digest found 2026-12-06 in ten public files (search index),
/// among them a kustomize image override (65766803129), a Nix image lock (71049362867) and a
/// Dockerfile `FROM` line (67640414895).
pub const LOCAL_PATH: &str = "docker.io/rancher/local-path-provisioner:v0.0.37@sha256:e757967a5ec338f6a9b371c5a9688bedaa8c3578ea3dd4db329ea0084be0a86f";
/// The helper local-path-provisioner runs to create and remove volume directories. Digest
/// checked 2026-12-06 in ten public files (search index), among them a Nix image lock naming
/// tag 1.37.0 (71049362867) and a Go test constant (70393449168).
pub const BUSYBOX: &str = "docker.io/library/busybox:1.37.0@sha256:bdf57e528e45e4433820e045b29b4597825a1c9e38353532d90a01445013f82e";

// kind.

/// The kind release whose node images are pinned below; older releases may not boot them.
pub const KIND_NODE_IMAGES_RELEASE: Version = Version::new(0, 33, 0);

/// Node images published with kind v0.33.0, pinned by digest as kind's release notes ask
/// (source: kind v0.33.0's release notes, which list each image with its digest). Each digest
/// checked again 2026-12-06 in at least two public files (search index): v1.36.4 in a kind
/// create script (68827819299) and a Python test of `KIND_NODE_IMAGE` (63101602283); v1.37.0
/// in a kind config (70361944721) and a Go constant (70205422572); v1.35.8 in a Makefile
/// (71327525293) and a version table (58045008090); v1.34.11 in a digest table (68518768006)
/// and a CI note pinning kind v0.33.0 (70903365930).
/// ("you must use the @sha256 digest to guarantee an image built for this release").
/// The first is the default.
pub const KIND_NODE_IMAGES: [(&str, &str); 4] = [
    (
        "v1.36.4",
        "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
    ),
    (
        "v1.37.0",
        "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
    ),
    (
        "v1.35.8",
        "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
    ),
    (
        "v1.34.11",
        "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
    ),
];

/// What `korthbox install kind` downloads: the release whose node images are pinned.
pub const KIND_RELEASE: Release = Release {
    version: KIND_NODE_IMAGES_RELEASE,
    repository: "kubernetes-sigs/kind",
    checksums: Checksums::Beside(".sha256sum"),
    sha256: &[
        (
            "linux-amd64",
            "aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d",
        ),
        (
            "linux-arm64",
            "20022bee6cfcd5086cb7234d218e3454e6090022f2a8f55d1fa7fcf42c3867a2",
        ),
        (
            "darwin-amd64",
            "5a99f26f57246dc9319dd294803313197a0f34d33c525b3ea8b655db5916ece0",
        ),
        (
            "darwin-arm64",
            "0c8c7dbe5e23594a198b786c4bc13dacc101fa6196b0cb0b23a1ca44e61f4b4f",
        ),
    ],
};

// k3d.

/// The k3s release used when no version is asked for: the newest 1.36 patch korthbox could
/// confirm (Kubernetes v1.36.4).
pub const DEFAULT_K3S_VERSION: &str = "v1.36.4+k3s1";
pub const K3S_IMAGE: &str = "rancher/k3s";
/// Its image, pinned by digest: found 2026-12-06 in ten public files (search index), among
/// them a k3d install script for CI (70725083500), a Go table of pinned k3s images per minor
/// (58696986931) and a PowerShell cluster config (70227956522).
pub const DEFAULT_K3S_IMAGE: &str = "rancher/k3s:v1.36.4-k3s1@sha256:edad48e12bf81c3a09ac1c05c0c0ffaaa22145980b989d6fae84543a76b83657";

/// What `korthbox install k3d` downloads.
pub const K3D_RELEASE: Release = Release {
    version: Version::new(5, 8, 3),
    repository: "k3d-io/k3d",
    checksums: Checksums::List("checksums.txt"),
    sha256: &[
        (
            "linux-amd64",
            "dbaa79a76ace7f4ca230a1ff41dc7d8a5036a8ad0309e9c54f9bf3836dbe853e",
        ),
        (
            "linux-arm64",
            "0b8110f2229631af7402fb828259330985918b08fefd38b7f1b788a1c8687216",
        ),
        (
            "darwin-amd64",
            "fd0f8e9e8ea4d8bc3674572ca6ed0833b639bf57c43c708616d937377324cfea",
        ),
        (
            "darwin-arm64",
            "8da468daa7dc7cf7cdd4735f90a9bb05179fa27858250f62e3d8cdf5b5ca0698",
        ),
    ],
};

// minikube: its node image (kicbase) is minikube's own choice, not pinned here.

/// What `korthbox install minikube` downloads.
pub const MINIKUBE_RELEASE: Release = Release {
    version: Version::new(1, 39, 0),
    repository: "kubernetes/minikube",
    checksums: Checksums::Beside(".sha256"),
    // Only the Linux amd64 binary's is pinned: the others could not be confirmed from a source
    // korthbox trusts, so `korthbox install minikube` refuses them (brew and winget install it).
    sha256: &[(
        "linux-amd64",
        "b738496da01be06bbaf80c688f57ce25acd3849fbb518155f3a88e03ef555aa4",
    )],
};

// What a pinned release is.

/// The release `korthbox install` downloads, from the project's GitHub releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: Version,
    /// `owner/repository` on GitHub.
    pub repository: &'static str,
    pub checksums: Checksums,
    /// The SHA-256 of each binary korthbox knows, by `os-arch` (`linux-amd64`): what a download
    /// must match, whatever the server publishes beside it.
    pub sha256: &'static [(&'static str, &'static str)],
}

impl Release {
    /// The pinned SHA-256 of the binary for `os`-`arch`, if korthbox has it.
    pub fn sha256_for(&self, os: &str, arch: &str) -> Option<&'static str> {
        let platform = format!("{os}-{arch}");
        self.sha256
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, hash)| *hash)
    }
}

/// Where a project publishes the SHA-256 of its binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksums {
    /// Beside each binary, its name plus this suffix (`kind-linux-amd64.sha256sum`).
    Beside(&'static str),
    /// One list for every binary of the release (`checksums.txt`).
    List(&'static str),
}
