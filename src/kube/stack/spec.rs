//! What is deployed into the cluster: the user's choices, the images, and where volumes come
//! from.

use serde::Serialize;

use super::images::{ImageRef, StackImages};
use crate::base::spec::{
    DicomService, ExternalPostgres, OrthancStorage, Placement, SandboxName, StorageLayer, Viewer,
    VolumeSource,
};

/// What the user chose for the stack (flags or korthbox.toml).
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub namespace: String,
    pub storage: StorageLayer,
    pub orthanc_storage: OrthancStorage,
    pub viewer: Viewer,
    /// How many Orthancs (0 is taken as 1).
    pub orthanc_replicas: u8,
    /// The StorageClass every claim names, instead of what the driver's placement says.
    pub storage_class: Option<String>,
    /// Orthanc's HTTP through an Ingress, when asked.
    pub ingress: Option<Ingress>,
    pub dicom_service: DicomService,
    /// The user's own S3 bucket instead of MinIO's.
    pub external_s3: Option<ExternalS3>,
    /// The user's own PostgreSQL instead of the StatefulSet.
    pub external_postgres: Option<ExternalPostgres>,
    pub orthanc_image: Option<String>,
    pub postgres_image: Option<String>,
    pub minio_image: Option<String>,
    /// Every image from this registry instead (`HOST[:PORT]`).
    pub registry_mirror: Option<String>,
}

/// A bucket of the user's own S3 service, where `--orthanc-storage s3` puts files instead of
/// MinIO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalS3 {
    pub bucket: String,
    /// The service's URL; Amazon S3 when none.
    pub endpoint: Option<String>,
    pub region: String,
    /// An existing Secret in the namespace with the keys; else korthbox writes
    /// [`S3_SECRET`] from the environment's `AWS_*` variables.
    pub secret: Option<String>,
}

/// The Secret korthbox writes the environment's S3 keys into.
pub const S3_SECRET: &str = "s3-credentials";

impl ExternalS3 {
    /// The Secret Orthanc takes the keys from.
    pub fn secret_name(&self) -> &str {
        self.secret.as_deref().unwrap_or(S3_SECRET)
    }

    /// Where it is, in words: `bucket team-dicom at https://…` or `on Amazon S3 (eu-west-1)`.
    pub fn describe(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("bucket {} at {e}", self.bucket),
            None => format!("bucket {} on Amazon S3 ({})", self.bucket, self.region),
        }
    }
}

/// An Ingress for Orthanc's HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ingress {
    pub host: String,
    pub class: Option<String>,
    pub tls_secret: Option<String>,
}

/// What is deployed into the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct StackSpec {
    pub instance: SandboxName,
    pub namespace: String,
    pub storage: StorageLayer,
    pub orthanc_storage: OrthancStorage,
    pub viewer: Viewer,
    /// How many Orthancs share the database.
    pub orthanc_replicas: u8,
    pub storage_class: Option<String>,
    pub ingress: Option<Ingress>,
    pub dicom_service: DicomService,
    pub external_s3: Option<ExternalS3>,
    pub external_postgres: Option<ExternalPostgres>,
    pub volumes: VolumeSource,
    /// The pinned images (tag and digest), with the registry mirror applied.
    pub images: StackImages,
    /// Whether korthbox side-loads the images into the nodes; then the manifests name them by
    /// tag, which is how the nodes know a loaded image (its registry digest is not kept).
    pub side_loaded: bool,
    /// Whether Orthanc's Service is a NodePort (the driver maps host ports to it) or ClusterIP.
    pub node_ports: bool,
}

impl StackSpec {
    /// The stack for `choices`, placed as the driver says; a combination that cannot work is an
    /// error saying the fix.
    pub fn new(
        choices: &Choices,
        instance: &SandboxName,
        placement: Placement,
    ) -> Result<Self, String> {
        let mut images = StackImages::default();
        for (image, wanted) in [
            (&mut images.orthanc, &choices.orthanc_image),
            (&mut images.postgres, &choices.postgres_image),
            (&mut images.minio, &choices.minio_image),
        ] {
            if let Some(wanted) = wanted {
                *image = wanted.clone();
            }
        }
        if let Some(mirror) = &choices.registry_mirror {
            images = images.map(|image| ImageRef::parse(image).with_registry(mirror).to_string());
        }
        let spec = StackSpec {
            instance: instance.clone(),
            namespace: choices.namespace.clone(),
            storage: choices.storage,
            orthanc_storage: choices.orthanc_storage,
            viewer: choices.viewer,
            orthanc_replicas: choices.orthanc_replicas.max(1),
            storage_class: choices.storage_class.clone(),
            ingress: choices.ingress.clone(),
            dicom_service: choices.dicom_service,
            external_s3: choices.external_s3.clone(),
            external_postgres: choices.external_postgres.clone(),
            volumes: placement.volumes,
            images,
            side_loaded: placement.side_loaded,
            node_ports: placement.node_ports,
        };
        spec.check()?;
        Ok(spec)
    }

    /// Puts the stack where the driver says.
    pub fn place(&mut self, placement: Placement) {
        self.volumes = placement.volumes;
        self.side_loaded = placement.side_loaded;
        self.node_ports = placement.node_ports;
    }

    /// How Orthanc's files volume is mounted: by one node, or — several Orthancs on the class
    /// the user named — by every one.
    pub fn files_access(&self) -> &'static str {
        match self.orthanc_replicas > 1 {
            true => "ReadWriteMany",
            false => "ReadWriteOnce",
        }
    }

    /// Checks the combination of choices.
    pub fn check(&self) -> Result<(), String> {
        let own = self.external_s3.is_some();
        let minio = self.storage == StorageLayer::Minio;
        if self.orthanc_storage == OrthancStorage::S3 && !minio && !own {
            return Err("--orthanc-storage s3 keeps DICOM files in MinIO, which --storage local-path does not install; add --storage minio, or name a bucket of your own S3 service with --s3-bucket".into());
        }
        if own && self.orthanc_storage != OrthancStorage::S3 {
            return Err("--s3-bucket is where --orthanc-storage s3 puts the DICOM files; add --orthanc-storage s3".into());
        }
        if own && minio {
            return Err("--s3-bucket names your own S3 service and --storage minio deploys one for the sandbox; keep one of them".into());
        }
        if self.orthanc_replicas > 1
            && self.orthanc_storage == OrthancStorage::Pv
            && self.storage_class.is_none()
        {
            return Err(format!(
                "--orthanc-replicas {} needs the DICOM files where every Orthanc reaches them, and --orthanc-storage pv is a ReadWriteOnce volume one node mounts; add --orthanc-storage postgres (or s3), or name a ReadWriteMany class (NFS, EFS, Azure Files…) with --storage-class",
                self.orthanc_replicas
            ));
        }
        Ok(())
    }

    /// The images as the manifests name them.
    pub fn manifest_images(&self) -> StackImages {
        if self.side_loaded {
            self.images
                .clone()
                .map(|image| ImageRef::parse(image).tagged())
        } else {
            self.images.clone()
        }
    }

    /// Every image the stack runs, as pinned (with the mirror applied), by component.
    pub fn images_used(&self) -> Vec<(&'static str, ImageRef)> {
        let images = &self.images;
        let mut out = vec![
            ("postgres", images.postgres.as_str()),
            ("orthanc", images.orthanc.as_str()),
        ];
        if self.storage == StorageLayer::Minio {
            out.push(("minio", images.minio.as_str()));
        }
        if matches!(self.volumes, VolumeSource::InstallLocalPath { .. }) {
            out.push(("local-path-provisioner", images.local_path.as_str()));
            out.push(("local-path-helper", images.busybox.as_str()));
        }
        out.into_iter()
            .map(|(component, text)| (component, ImageRef::parse(text)))
            .collect()
    }
}
