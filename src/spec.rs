//! What a sandbox is made of, as far as the host needs to know before one exists.

/// Host port for Orthanc's HTTP API and web UI (Orthanc's own default).
pub const DEFAULT_HTTP_PORT: u16 = 8042;
/// Host port for Orthanc's DICOM listener (Orthanc's own default).
pub const DEFAULT_DICOM_PORT: u16 = 4242;
/// Host port for the Kubernetes API server. kind and k3d pick a random port by default;
/// korthbox pins one so the kubeconfig stays the same across resets.
pub const DEFAULT_API_SERVER_PORT: u16 = 6443;

/// The host ports a sandbox binds on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPorts {
    pub http: u16,
    pub dicom: u16,
    pub api_server: u16,
}

impl Default for HostPorts {
    fn default() -> Self {
        Self {
            http: DEFAULT_HTTP_PORT,
            dicom: DEFAULT_DICOM_PORT,
            api_server: DEFAULT_API_SERVER_PORT,
        }
    }
}
