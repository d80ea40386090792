//! korthbox: one command to a multi-node Kubernetes sandbox running PostgreSQL and Orthanc.
//!
//! Each folder is a layer or a domain; layers use only those below them:
//! `cli` (the command line: its grammar, `korthbox.toml`, the commands and the terminal) →
//! `sandbox` (the orchestration of a sandbox's life) → `doctor`, `evaluate` (Orthanc, DICOM,
//! the proof, samples, upload, export) → `kube` (the cluster, the stack, applying, ownership,
//! pods) and `driver` (kind, k3d, minikube, an existing cluster) → `host` (the workstation:
//! OS, engines, tools, HTTP, proxies, S3) → `base` (spec, environment, errors, reporting, pins).

pub mod base;
pub mod cli;
pub mod doctor;
pub mod driver;
pub mod evaluate;
pub mod host;
pub mod kube;
pub mod sandbox;
