//! The command line: clap types only; the work happens in `commands`.

use clap::{Args, Parser, Subcommand};

use crate::spec::{DEFAULT_API_SERVER_PORT, DEFAULT_DICOM_PORT, DEFAULT_HTTP_PORT};

/// A multi-node Kubernetes sandbox with PostgreSQL and Orthanc, in one command.
#[derive(Debug, Parser)]
#[command(name = "korthbox", version, about, propagate_version = true)]
pub struct Cli {
    /// Say more about what korthbox finds and does.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Print only problems and the final result.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check whether this machine can host a sandbox, and say what to fix if it cannot.
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print a JSON document (host, engines, tools, contexts, checks) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// How long each probe (an engine, a tool) may take, in seconds. Two seconds is enough for
    /// a cold `minikube version` and short enough that a hung engine cannot hold doctor up.
    #[arg(long, value_name = "SECONDS", env = crate::env::KORTHBOX_PROBE_TIMEOUT, default_value = "2", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,

    /// Host port the sandbox will use for Orthanc's HTTP API.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_HTTP_PORT)]
    pub http_port: u16,

    /// Host port the sandbox will use for Orthanc's DICOM listener.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_DICOM_PORT)]
    pub dicom_port: u16,

    /// Host port the sandbox will use for the Kubernetes API server.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_API_SERVER_PORT)]
    pub api_server_port: u16,
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    crate::env::parse_seconds(text).ok_or_else(|| {
        format!(
            "{text:?} is not a number of seconds between 0 and 3600 (set by --timeout or {})",
            crate::env::KORTHBOX_PROBE_TIMEOUT
        )
    })
}
