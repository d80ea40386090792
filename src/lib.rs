//! korthbox: one command to a multi-node Kubernetes sandbox running PostgreSQL and Orthanc.

pub mod apply;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod dicom;
pub mod doctor;
pub mod driver;
pub mod env;
pub mod error;
pub mod host;
pub mod install;
pub mod lock;
pub mod proof;
pub mod pull;
pub mod sandbox;
pub mod spec;
pub mod stack;
pub mod template;
pub mod ui;
