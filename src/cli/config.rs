//! `korthbox.toml`: defaults for the flags, read from the current directory (or `--config
//! FILE`). Its keys are the flags' names; a flag given on the command line wins over the file,
//! and the file wins over korthbox's own defaults. An unknown key or a wrong type is a usage
//! error naming the key and the line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::base::error::Error;

/// The file read from the current directory when `--config` is not given.
pub const FILE_NAME: &str = "korthbox.toml";

/// Every key the file may have: the flags of `up` (and of the commands sharing them), without
/// their dashes. `[images] registry` is `registry-mirror` by another name.
pub const KEYS: [&str; 35] = [
    "driver",
    "name",
    "context",
    "provider",
    "workers",
    "control-planes",
    "kubernetes-version",
    "node-cpus",
    "node-memory",
    "http-port",
    "dicom-port",
    "api-server-port",
    "namespace",
    "storage",
    "orthanc-storage",
    "viewer",
    "orthanc-replicas",
    "storage-class",
    "ingress-host",
    "ingress-class",
    "tls-secret",
    "dicom-service",
    "s3-bucket",
    "s3-endpoint",
    "s3-region",
    "s3-secret",
    "postgres-url",
    "postgres-ca",
    "orthanc-image",
    "postgres-image",
    "minio-image",
    "registry-mirror",
    "create-timeout",
    "wait",
    "lock-wait",
];

/// The file as read: where it is and each key set in it.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub settings: Vec<Setting>,
    /// Old spellings the file used, each as a one-line notice naming the new one.
    pub renamed: Vec<String>,
}

/// One key of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// As written (`control-planes`, `images.registry`).
    pub key: String,
    /// The flag's id in clap (`control_planes`).
    pub id: String,
    /// The value as the flag would get it on the command line.
    pub value: String,
    pub line: usize,
}

impl Config {
    /// The value the file gives key `id` (clap's id).
    pub fn get(&self, id: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.value.as_str())
    }

    fn defaults(&self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|s| (s.id.clone(), s.value.clone()))
            .collect()
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

/// The line (1-based) at byte `offset` of `text`, and its column.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    (
        before.matches('\n').count() + 1,
        before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1,
    )
}

/// The line on which `key` is set (in `[section]` when given).
fn line_of(text: &str, section: Option<&str>, key: &str) -> usize {
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            continue;
        }
        let Some((k, _)) = trimmed.split_once('=') else {
            continue;
        };
        let k = k.trim().trim_matches('"');
        if k == key && current.as_deref() == section {
            return i + 1;
        }
    }
    0
}

/// The closest known key to a mistyped one, if any is close.
fn closest_key(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| (strsim::levenshtein(k, key), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Parses the file's text: TOML whose keys are known and whose values are text or numbers.
/// Whether each value is one its flag accepts is [`validate`]'s job.
pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
    let at = |line: usize| format!("{}, line {line}", path.display());
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        Error::usage(format!(
            "{}, column {column}: {}",
            at(line),
            e.message().trim()
        ))
        .hint("it is not valid TOML there: one `key = value` per line, text in double quotes (`driver = \"k3d\"`), numbers bare (`workers = 3`)")
    })?;
    let mut settings = Vec::new();
    let mut renamed = Vec::new();
    let mut flat: Vec<(Option<&str>, &str, &toml::Value)> = Vec::new();
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("images", toml::Value::Table(images)) => {
                flat.extend(images.iter().map(|(k, v)| (Some("images"), k.as_str(), v)))
            }
            _ => flat.push((None, key.as_str(), value)),
        }
    }
    for (section, key, value) in flat {
        let line = line_of(text, section, key);
        let id = match (section, key) {
            (Some("images"), "registry") => "registry_mirror".to_string(),
            (None, k) if KEYS.contains(&k) => k.replace('-', "_"),
            // Renamed in 0.2 (time limits are named for what they limit); read for a release.
            (None, "timeout") => {
                renamed.push(format!(
                    "{}: `timeout` is now `create-timeout`; the old key is read until the next release",
                    at(line)
                ));
                "create_timeout".to_string()
            }
            _ => {
                let shown = section.map_or(key.to_string(), |s| format!("{s}.{key}"));
                let mut err = Error::usage(format!(
                    "{}: `{shown}` is not a setting korthbox knows",
                    at(line)
                ));
                if let Some(near) = closest_key(key) {
                    err = err.hint(format!("did you mean `{near}`?"));
                }
                return Err(err.hint(FILE_HINT));
            }
        };
        let value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            other => {
                return Err(Error::usage(format!(
                    "{}: `{key}` is given a value of type {}, but it takes text or a number (as its flag does)",
                    at(line),
                    other.type_str()
                ))
                .hint(FILE_HINT));
            }
        };
        let shown = section.map_or(key.to_string(), |s| format!("{s}.{key}"));
        settings.push(Setting {
            key: shown,
            id,
            value,
            line,
        });
    }
    Ok(Config {
        path: path.to_path_buf(),
        settings,
        renamed,
    })
}

const FILE_HINT: &str = "the keys are the flags of `korthbox up` without their dashes, e.g. `workers = 3`, `driver = \"k3d\"`; `korthbox up --help` lists them";

/// Checks every value with the parser its flag uses on the command line, so that a bad value
/// is blamed on the file and its line, not on a flag nobody typed.
pub fn validate(config: &Config) -> Result<(), Error> {
    use clap::CommandFactory;
    let mut cli = crate::cli::grammar::Cli::command();
    cli.build();
    let Some(up) = cli.find_subcommand("up") else {
        return Ok(());
    };
    for setting in &config.settings {
        let Some(arg) = up
            .get_arguments()
            .find(|a| a.get_id() == setting.id.as_str())
        else {
            continue;
        };
        let Some(long) = arg.get_long() else {
            continue;
        };
        // The flag alone, parsing the value as it would from the command line.
        let parsed = clap::Command::new("korthbox")
            .arg(arg.clone().required(false))
            .try_get_matches_from([
                "korthbox".to_string(),
                format!("--{long}={}", setting.value),
            ]);
        if let Err(e) = parsed {
            let why = clap_reason(&e);
            return Err(Error::usage(format!(
                "{}, line {}: {} = \"{}\": {why}",
                config.path.display(),
                setting.line,
                setting.key,
                setting.value
            ))
            .hint(format!(
                "fix or remove line {} of {}; `korthbox up --help` describes `--{}`",
                setting.line,
                config.path.display(),
                setting.id.replace('_', "-")
            )));
        }
    }
    Ok(())
}

/// What a value parser said, without the flag's name (the value came from the file).
fn clap_reason(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    if let Some(source) = std::error::Error::source(e) {
        return source.to_string();
    }
    match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(values)) => {
            format!("it is not one of {}", values.join(", "))
        }
        _ => e
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string(),
    }
}

/// The configuration in effect: `--config FILE` (which must exist), else ./korthbox.toml if
/// there is one.
pub fn load(args: &[OsString]) -> Result<Option<Config>, Error> {
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
    let config = parse(&text, &path)?;
    validate(&config)?;
    Ok(Some(config))
}

/// The command line with the file's values as defaults, on the commands where each key means
/// what it means for `up`.
pub fn command(config: Option<&Config>) -> clap::Command {
    use clap::CommandFactory;
    let mut command = crate::cli::grammar::Cli::command();
    match config {
        None => command,
        Some(config) => {
            // The commands' flags are added when built (see `cli::Lazy`); defaults need them.
            command.build();
            with_defaults(command, &config.defaults(), "")
        }
    }
}

/// Whether key `id` of the file applies to the command at `path` (`up`, `cluster create`).
/// `wait` (how long the nodes and components may take to be ready) and `lock-wait` apply only
/// where the flags mean the same; every other time limit has a name of its own.
fn applies(id: &str, path: &str) -> bool {
    match id {
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
    defaults: &[(String, String)],
    path: &str,
) -> clap::Command {
    command
        .mut_args(|arg| {
            let value = defaults
                .iter()
                .find(|(id, _)| arg.get_id() == id.as_str() && applies(id, path));
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
    ["name", "driver", "context", "namespace"]
        .into_iter()
        .filter_map(|key| {
            let value = config.get(key)?;
            from_file(key).then(|| format!("{key} = \"{value}\""))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_names_the_key_the_line_and_the_nearest() {
        let err = parse("workers = 3\nwrokers = 4\n", Path::new("korthbox.toml")).unwrap_err();
        assert!(
            err.message.contains("korthbox.toml, line 2"),
            "{}",
            err.message
        );
        assert!(err.message.contains("wrokers"), "{}", err.message);
        assert!(
            err.hints().iter().any(|h| h.contains("`workers`")),
            "{:?}",
            err.hints()
        );
    }

    #[test]
    fn numbers_may_be_written_as_text_and_other_types_name_the_line() {
        let config = parse("driver = \"kind\"\nworkers = \"3\"\n", Path::new("k.toml")).unwrap();
        assert_eq!(config.get("workers"), Some("3"));
        assert_eq!(config.settings[1].line, 2);
        let err = parse("driver = \"kind\"\nworkers = true\n", Path::new("k.toml")).unwrap_err();
        assert!(err.message.contains("k.toml, line 2"), "{}", err.message);
        assert!(err.message.contains("boolean"), "{}", err.message);
    }

    #[test]
    fn a_bad_value_is_blamed_on_the_file_not_a_flag() {
        let config = parse(
            "\nworkers = 2\ndriver = \"kubernetes\"\n",
            Path::new("korthbox.toml"),
        )
        .unwrap();
        let err = validate(&config).unwrap_err();
        assert!(
            err.message
                .starts_with("korthbox.toml, line 3: driver = \"kubernetes\""),
            "{}",
            err.message
        );
        assert!(!err.message.contains("--driver"), "{}", err.message);
        let config = parse(
            "[images]\nregistry = \"http://x\"\n",
            Path::new("korthbox.toml"),
        )
        .unwrap();
        assert_eq!(config.settings[0].line, 2);
    }

    #[test]
    fn the_config_flag_is_found_before_clap() {
        let args: Vec<OsString> = ["korthbox", "up", "--config=x.toml"]
            .map(Into::into)
            .to_vec();
        assert_eq!(config_flag(&args), Some(PathBuf::from("x.toml")));
    }
}
