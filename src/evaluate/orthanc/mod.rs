//! The Orthanc korthbox talks to — the sandbox's, through tunnels, or any other by URL — and
//! how: its REST API (`rest`), its DICOM peer, its DICOMweb root. The proof, the samples and
//! uploads all reach Orthanc through this.

pub mod rest;
pub mod sandbox;

use std::time::Duration;

use crate::base::error::Error;
use crate::evaluate::dicom::Peer;
use rest::Rest;

/// Orthanc's DICOMweb root unless told otherwise (the plugin's default).
pub const DICOMWEB_ROOT: &str = "/dicom-web/";

/// An Orthanc and how to reach it.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Orthanc's base URL for the REST API.
    pub url: String,
    pub user: String,
    /// No password: no authentication.
    pub password: Option<String>,
    /// DICOMweb's root under the base URL.
    pub dicomweb: String,
    pub dicom: Peer,
    /// How long one exchange may take.
    pub timeout: Duration,
}

impl Endpoints {
    /// A REST client for this Orthanc.
    pub fn rest(&self) -> Result<Rest, Error> {
        Rest::new(
            &self.url,
            &self.user,
            self.password.as_deref(),
            self.timeout,
        )
    }
}

/// Orthanc's configuration as korthbox renders it: JSON, with `//` comment lines on top when
/// there is something to say (Orthanc reads such comments; JSON parsers do not).
pub fn parse_config(text: &str) -> serde_json::Result<serde_json::Value> {
    let json: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    serde_json::from_str(&json.join("\n"))
}
