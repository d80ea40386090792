//! `korthbox.toml`: defaults for the flags, read from the current directory (or `--config
//! FILE`). Its keys are the flags' names; a flag given on the command line wins over the file,
//! and the file wins over korthbox's own defaults. An unknown key or a wrong type is a usage
//! error naming the key and the line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// The file read from the current directory when `--config` is not given.
pub const FILE_NAME: &str = "korthbox.toml";

/// Every key the file may have: the flags of `up` (and of the commands sharing them).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub driver: Option<String>,
    pub name: Option<String>,
    pub context: Option<String>,
    pub provider: Option<String>,
    pub workers: Option<u8>,
    pub control_planes: Option<u8>,
    pub kubernetes_version: Option<String>,
    pub node_cpus: Option<u8>,
    pub node_memory: Option<u32>,
    pub http_port: Option<u16>,
    pub dicom_port: Option<u16>,
    pub api_server_port: Option<u16>,
    pub namespace: Option<String>,
    pub storage: Option<String>,
    pub orthanc_storage: Option<String>,
    pub viewer: Option<String>,
    pub orthanc_image: Option<String>,
    pub postgres_image: Option<String>,
    pub minio_image: Option<String>,
    pub registry_mirror: Option<String>,
    /// `[images] registry = "HOST:PORT"`, the same as `registry-mirror`.
    pub images: Option<ImagesConfig>,
    pub timeout: Option<u64>,
    pub wait: Option<u64>,
    pub lock_wait: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesConfig {
    pub registry: Option<String>,
}

impl Config {
    /// (argument id, value) for every key set, the ids being clap's (field names).
    fn defaults(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |id: &'static str, value: Option<String>| {
            if let Some(v) = value {
                out.push((id, v));
            }
        };
        put("driver", self.driver.clone());
        put("name", self.name.clone());
        put("context", self.context.clone());
        put("provider", self.provider.clone());
        put("workers", self.workers.map(|v| v.to_string()));
        put("control_planes", self.control_planes.map(|v| v.to_string()));
        put("kubernetes_version", self.kubernetes_version.clone());
        put("node_cpus", self.node_cpus.map(|v| v.to_string()));
        put("node_memory", self.node_memory.map(|v| v.to_string()));
        put("http_port", self.http_port.map(|v| v.to_string()));
        put("dicom_port", self.dicom_port.map(|v| v.to_string()));
        put(
            "api_server_port",
            self.api_server_port.map(|v| v.to_string()),
        );
        put("namespace", self.namespace.clone());
        put("storage", self.storage.clone());
        put("orthanc_storage", self.orthanc_storage.clone());
        put("viewer", self.viewer.clone());
        put("orthanc_image", self.orthanc_image.clone());
        put("postgres_image", self.postgres_image.clone());
        put("minio_image", self.minio_image.clone());
        put(
            "registry_mirror",
            self.registry_mirror
                .clone()
                .or_else(|| self.images.as_ref().and_then(|i| i.registry.clone())),
        );
        put("timeout", self.timeout.map(|v| v.to_string()));
        put("wait", self.wait.map(|v| v.to_string()));
        put("lock_wait", self.lock_wait.map(|v| v.to_string()));
        out
    }
}

/// The `--config` value, read from argv before clap parses it (the file changes how clap
/// parses).
fn config_flag(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(value) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
    }
    None
}

/// Parses the file's text.
pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                (
                    before.matches('\n').count() + 1,
                    before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1,
                )
            })
            .unwrap_or((0, 0));
        Error::usage(format!(
            "{}, line {line}, column {column}: {}",
            path.display(),
            e.message()
        ))
        .hint("the keys are the flags of `korthbox up` without the dashes' prefix, e.g. `workers = 3`, `driver = \"k3d\"`; `korthbox up --help` lists them")
    })
}

/// The configuration in effect: `--config FILE` (which must exist), else ./korthbox.toml if
/// there is one.
pub fn load(args: &[OsString]) -> Result<Option<(PathBuf, Config)>, Error> {
    let (path, required) = match config_flag(args) {
        Some(path) => (path, true),
        None => (PathBuf::from(FILE_NAME), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => {
            return Err(Error::usage(format!("could not read {}", path.display())).because(e));
        }
    };
    Ok(Some((path.clone(), parse(&text, &path)?)))
}

/// The command line with the file's values as defaults, on the commands where each key means
/// what it means for `up`.
pub fn command(config: Option<&Config>) -> clap::Command {
    use clap::CommandFactory;
    let command = crate::cli::Cli::command();
    match config {
        None => command,
        Some(config) => with_defaults(command, &config.defaults(), ""),
    }
}

/// Whether key `id` of the file applies to the command at `path` (`up`, `cluster create`).
/// `timeout` is how long the driver may take to create the cluster: doctor's per-probe
/// `--timeout`, install's download limit and delete's are other things; `wait` and
/// `lock-wait` likewise apply only where the flags mean the same.
fn applies(id: &str, path: &str) -> bool {
    match id {
        "timeout" => matches!(path, "up" | "reset" | "cluster create"),
        "wait" => matches!(
            path,
            "up" | "reset" | "cluster create" | "cluster check" | "stack apply"
        ),
        "lock_wait" => matches!(path, "up" | "reset" | "down"),
        _ => true,
    }
}

fn with_defaults(
    command: clap::Command,
    defaults: &[(&'static str, String)],
    path: &str,
) -> clap::Command {
    command
        .mut_args(|arg| {
            let value = defaults
                .iter()
                .find(|(id, _)| arg.get_id() == *id && applies(id, path));
            match value {
                // clap keeps defaults for the program's life; leaking a few short strings once
                // at start-up is what that costs.
                Some((_, value)) => arg.default_value(&*Box::leak(value.clone().into_boxed_str())),
                None => arg,
            }
        })
        .mut_subcommands(|sub| {
            let path = format!("{path} {}", sub.get_name()).trim().to_string();
            with_defaults(sub, defaults, &path)
        })
}

/// The keys of the file that chose which sandbox a command acts on (given on the command line,
/// a flag would have won): for `down` and `reset` to say so before they delete.
pub fn chose_target(config: &Config, matches: &clap::ArgMatches) -> Vec<String> {
    let mut sub = matches;
    while let Some((_, next)) = sub.subcommand() {
        sub = next;
    }
    let from_file =
        |id: &str| sub.value_source(id) == Some(clap::parser::ValueSource::DefaultValue);
    [
        ("name", &config.name),
        ("driver", &config.driver),
        ("context", &config.context),
        ("namespace", &config.namespace),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        let value = value.as_ref()?;
        from_file(key).then(|| format!("{key} = \"{value}\""))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_names_the_key_and_the_line() {
        let err = parse("workers = 3\nwrokers = 4\n", Path::new("korthbox.toml")).unwrap_err();
        assert!(err.message.contains("line 2"), "{}", err.message);
        assert!(err.message.contains("wrokers"), "{}", err.message);
    }

    #[test]
    fn a_wrong_type_names_the_line() {
        let err = parse(
            "driver = \"kind\"\nworkers = \"three\"\n",
            Path::new("k.toml"),
        )
        .unwrap_err();
        assert!(err.message.contains("line 2"), "{}", err.message);
    }

    #[test]
    fn the_config_flag_is_found_before_clap() {
        let args: Vec<OsString> = ["korthbox", "up", "--config=x.toml"]
            .map(Into::into)
            .to_vec();
        assert_eq!(config_flag(&args), Some(PathBuf::from("x.toml")));
    }
}
