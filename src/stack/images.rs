//! Every image the stack runs, pinned by tag and digest, in one place.

use crate::spec::StackImages;

/// orthancteam/orthanc (osimis/orthanc was renamed in 2024): Orthanc 1.12.11 with the
/// PostgreSQL, DICOMweb and S3 plugins.
pub const ORTHANC: &str = "docker.io/orthancteam/orthanc:26.6.0@sha256:510ef4ce24699104244b00d2b93350a801fc2f1c6b0bfc6a1f15e546bff2d1f4";
/// PostgreSQL 17: data under /var/lib/postgresql/data (18 moved it to /var/lib/postgresql/18/docker).
pub const POSTGRES: &str = "docker.io/library/postgres:17.6-bookworm@sha256:f3bd19c606e442c3d7bdfa8002e03fe260a1023351e0ea4598032022b68dd6e3";
/// MinIO's last community release, from MinIO's own quay.io (Docker Hub no longer serves it).
pub const MINIO: &str = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e";
/// The MinIO client that creates the bucket.
pub const MINIO_CLIENT: &str = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z@sha256:a7fe349ef4bd8521fb8497f55c6042871b2ae640607cf99d9bede5e9bdf11727";
/// rancher/local-path-provisioner.
pub const LOCAL_PATH: &str = "docker.io/rancher/local-path-provisioner:v0.0.32@sha256:9289da488b07912cb4128eb96928a331a5f3e60c28c5cfc5790f354a4ad0cc68";
/// The helper local-path-provisioner runs to create and remove volume directories.
pub const BUSYBOX: &str = "docker.io/library/busybox:1.37.0@sha256:bdf57e528e45e4433820e045b29b4597825a1c9e38353532d90a01445013f82e";

impl Default for StackImages {
    fn default() -> Self {
        Self {
            orthanc: ORTHANC.into(),
            postgres: POSTGRES.into(),
            minio: MINIO.into(),
            minio_client: MINIO_CLIENT.into(),
            local_path: LOCAL_PATH.into(),
            busybox: BUSYBOX.into(),
        }
    }
}
