//! korthbox: one command to a multi-node Kubernetes sandbox running PostgreSQL and Orthanc.
//!
//! Layers, each using only those below it: `commands` (with `cli`, `argv` and `config`) → `ui` →
//! `sandbox` (the orchestration) → `doctor`, `proof`, `apply`, `pull`, `install`, `ownership` →
//! `cluster`, `driver`, `stack`, `pod`, `minio` → `host`, `lock`, `dicom`, `s3`, `template` →
//! `spec`, `env`, `error`, `report`.

pub mod apply;
pub mod argv;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod dicom;
pub mod doctor;
pub mod driver;
pub mod env;
pub mod error;
pub mod export;
pub mod host;
pub mod install;
pub mod lock;
pub mod minio;
pub mod orthanc;
pub mod ownership;
pub mod pins;
pub mod pod;
pub mod proof;
pub mod pull;
pub mod report;
pub mod s3;
pub mod samples;
pub mod sandbox;
pub mod spec;
pub mod stack;
pub mod template;
pub mod ui;
pub mod upgrade;
pub mod upload;
