//! What is deployed into the cluster: the user's choices, the images, and where volumes come
//! from.

use serde::Serialize;

use super::images::{ImageRef, StackImages};
use crate::spec::{
    DicomService, OrthancStorage, Placement, SandboxName, StorageLayer, Viewer, VolumeSource,
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
    pub orthanc_image: Option<String>,
    pub postgres_image: Option<String>,
    pub minio_image: Option<String>,
    /// Every image from this registry instead (`HOST[:PORT]`).
    pub registry_mirror: Option<String>,
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

    /// Checks the combination of choices.
    pub fn check(&self) -> Result<(), String> {
        if self.orthanc_storage == OrthancStorage::S3 && self.storage != StorageLayer::Minio {
            return Err("--orthanc-storage s3 keeps DICOM files in MinIO, which --storage local-path does not install; add --storage minio".into());
        }
        if self.orthanc_replicas > 1 && self.orthanc_storage == OrthancStorage::Pv {
            return Err(format!(
                "--orthanc-replicas {} needs the DICOM files where every Orthanc reaches them, and --orthanc-storage pv is a ReadWriteOnce volume one node mounts; add --orthanc-storage postgres (or s3 with --storage minio)",
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
