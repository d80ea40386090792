//! What the user typed, before clap parses it: the spellings korthbox's neighbours use
//! (kubectl's `-o json`, kind's and minikube's verbs and flags) turned into korthbox's, or
//! answered with korthbox's word for them. Destructive words are suggested, never aliased.

use std::ffi::OsString;

use crate::base::error::Error;

/// The subcommands, so that a neighbour's verb is told apart from korthbox's own.
const COMMANDS: [&str; 22] = [
    "up",
    "status",
    "down",
    "stop",
    "start",
    "reset",
    "forward",
    "password",
    "prove",
    "samples",
    "upload",
    "export",
    "open",
    "install",
    "completions",
    "doctor",
    "plan",
    "cluster",
    "stack",
    "version",
    "logs",
    "help",
];

/// Neighbours' verbs (kind, k3d, minikube, kubectl, docker compose) and korthbox's word.
const VERBS: [(&str, &str); 10] = [
    ("delete", "down"),
    ("destroy", "down"),
    ("remove", "down"),
    ("rm", "down"),
    ("teardown", "down"),
    ("create", "up"),
    ("run", "up"),
    ("deploy", "up"),
    ("get", "status"),
    ("describe", "status"),
];

/// Flags of the neighbours and what korthbox calls them.
const FLAGS: [(&str, &str); 2] = [
    // minikube's profile is korthbox's sandbox name.
    ("--profile", "--name"),
    ("-p", "--name"),
];

/// kubectl's `-o json`/`--output json`/`-ojson`/`--output=json`, as korthbox's `--json`.
/// The rest of a neighbour's command line as korthbox's command `ours` takes it: `--profile`
/// and `-p` are `--name`, and so is a bare word that is no flag's value (`k3d cluster delete
/// dev`), since korthbox's commands take the sandbox's name as a flag.
fn in_our_words(ours: &str, rest: &[&str]) -> Vec<String> {
    let takes_value = value_taker(ours);
    let mut out = Vec::new();
    let mut value_next = false;
    for word in rest {
        let (flag, value) = word.split_once('=').unwrap_or((word, ""));
        if value_next {
            value_next = false;
            out.push(word.to_string());
        } else if let Some((_, name)) = FLAGS.iter().find(|(theirs, _)| *theirs == flag) {
            value_next = value.is_empty();
            out.push(match value {
                "" => name.to_string(),
                _ => format!("{name}={value}"),
            });
        } else if word.starts_with('-') {
            value_next = value.is_empty() && takes_value(flag);
            out.push(word.to_string());
        } else {
            out.extend(["--name".to_string(), word.to_string()]);
        }
    }
    out
}

/// Whether a flag of korthbox's command `ours` takes a value (so the word after it is that
/// value, not a name).
fn value_taker(ours: &str) -> impl Fn(&str) -> bool {
    use clap::CommandFactory;
    let cli = crate::cli::grammar::Cli::command();
    // Only this command is built (its flags are deferred, see `cli::Lazy`); the global flags
    // are the top level's own.
    let command = cli.find_subcommand(ours).cloned().map(|mut c| {
        c.build();
        c
    });
    let arguments: Vec<(Option<String>, Option<char>)> = cli
        .get_arguments()
        .chain(command.iter().flat_map(|c| c.get_arguments()))
        .filter(|a| a.get_action().takes_values())
        .map(|a| (a.get_long().map(String::from), a.get_short()))
        .collect();
    move |flag: &str| {
        arguments
            .iter()
            .any(|(long, short)| match flag.strip_prefix("--") {
                Some(l) => long.as_deref() == Some(l),
                None => flag.len() == 2 && flag.chars().nth(1) == *short,
            })
    }
}

/// The commands that take the sandbox's name as a word: `korthbox stop dev`.
pub const NAMED: [&str; 6] = ["up", "status", "down", "stop", "start", "reset"];

/// `korthbox stop dev` as `korthbox stop --name dev`, for the commands in [`NAMED`]: the
/// name then reaches every message that repeats the command's targeting flags. Other words
/// are left to clap, which refuses a second name (`stop dev --name x`) in its own words.
pub fn name_word(args: Vec<OsString>) -> Vec<OsString> {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    let Some(at) = words
        .iter()
        .skip(1)
        .position(|w| !w.starts_with('-'))
        .map(|i| i + 1)
    else {
        return args;
    };
    if !NAMED.contains(&words[at].as_str()) {
        return args;
    }
    let takes_value = value_taker(&words[at]);
    let mut out: Vec<OsString> = args[..=at].to_vec();
    let mut value_next = false;
    let mut named = false;
    let mut rest = args[at + 1..].iter();
    for (arg, word) in rest.by_ref().zip(&words[at + 1..]) {
        if word == "--" {
            out.push(arg.clone());
            break;
        }
        if value_next {
            value_next = false;
        } else if word.starts_with('-') {
            // A neighbour's flag (`-p dev`) keeps its value, to be answered in our words.
            let theirs = FLAGS.iter().any(|(flag, _)| flag == word);
            value_next = !word.contains('=') && (theirs || takes_value(word));
        } else if !named {
            // The first word only: a second is clap's to refuse as the stray word it is.
            named = true;
            out.push("--name".into());
        }
        out.push(arg.clone());
    }
    out.extend(rest.cloned());
    out
}

pub fn output_flag(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter().peekable();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy().to_string();
        if text == "--" {
            out.push(arg);
            out.extend(iter);
            break;
        }
        let joined = matches!(text.as_str(), "-ojson" | "--output=json" | "-o=json");
        let split = matches!(text.as_str(), "-o" | "--output")
            && iter.peek().is_some_and(|next| next == "json");
        if joined {
            out.push("--json".into());
        } else if split {
            iter.next();
            out.push("--json".into());
        } else {
            out.push(arg);
        }
    }
    out
}

/// Whether the command line asks for JSON (`--json`, after [`output_flag`]): then a failure
/// is a JSON document on stdout too, so that a script never reads an empty stdout.
pub fn wants_json(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

/// A neighbour's word where korthbox has another: a usage error naming korthbox's, with the
/// rest of the command line carried over.
pub fn neighbours_words(args: &[OsString]) -> Option<Error> {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    // The first word that is not a flag (global flags may come first).
    let first = words.iter().position(|w| !w.starts_with('-'))?;
    let typed = words[first].as_str();
    if !COMMANDS.contains(&typed)
        && let Some((_, ours)) = VERBS.iter().find(|(theirs, _)| *theirs == typed)
    {
        let mut rest: Vec<&str> = words[first + 1..].iter().map(String::as_str).collect();
        // `create cluster`, `delete cluster`: the object is implied.
        if rest.first() == Some(&"cluster") {
            rest.remove(0);
        }
        let suggestion = std::iter::once(ours.to_string())
            .chain(in_our_words(ours, &rest))
            .collect::<Vec<_>>()
            .join(" ");
        let what = match *ours {
            "down" => "deletes the sandbox",
            "up" => "creates (or repairs) the sandbox",
            _ => "shows the sandbox",
        };
        return Some(
            Error::usage(format!("korthbox has no `{typed}` command"))
                .hint(format!("`korthbox {ours}` {what}: `korthbox {suggestion}`"))
                .hint("`korthbox --help` lists the commands"),
        );
    }
    for (i, word) in words.iter().enumerate() {
        let (flag, value) = word.split_once('=').unwrap_or((word, ""));
        if let Some((_, ours)) = FLAGS.iter().find(|(theirs, _)| *theirs == flag) {
            let value = if value.is_empty() {
                words.get(i + 1).map(String::as_str).unwrap_or("NAME")
            } else {
                value
            };
            return Some(
                Error::usage(format!("korthbox has no `{flag}` flag"))
                    .hint(format!("the sandbox's name is `{ours}`: `{ours} {value}`")),
            );
        }
        // kind's and minikube's `--driver docker` is korthbox's `--provider docker`.
        if flag == "--driver" {
            let value = if value.is_empty() {
                words.get(i + 1).map(String::as_str).unwrap_or("")
            } else {
                value
            };
            if matches!(value, "docker" | "podman") {
                return Some(
                    Error::usage(format!(
                        "`--driver {value}`: korthbox's drivers are kind, k3d, minikube and existing; the engine the nodes run on is the provider"
                    ))
                    .hint(format!("`--provider {value}` (with `--driver kind`, `k3d` or `minikube`)")),
                );
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        std::iter::once("korthbox")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn kubectls_output_flag_is_json() {
        for line in [
            "status -o json",
            "status --output json",
            "status -ojson",
            "status --output=json",
        ] {
            assert_eq!(output_flag(args(line)), args("status --json"), "{line}");
        }
        assert_eq!(output_flag(args("status -o yaml")), args("status -o yaml"));
        assert_eq!(
            output_flag(args("upload -- -o json")),
            args("upload -- -o json")
        );
    }

    #[test]
    fn neighbours_verbs_are_answered_with_korthboxs() {
        let err = neighbours_words(&args("delete cluster --name dev")).unwrap();
        assert!(
            err.hints()[0].contains("`korthbox down --name dev`"),
            "{err}"
        );
        let err = neighbours_words(&args("-v create cluster")).unwrap();
        assert!(err.hints()[0].contains("`korthbox up`"), "{err}");
        assert!(neighbours_words(&args("down --name dev")).is_none());
        let err = neighbours_words(&args("up --profile dev")).unwrap();
        assert!(err.hints()[0].contains("--name dev"), "{err}");
        let err = neighbours_words(&args("up --driver=docker")).unwrap();
        assert!(err.hints()[0].contains("--provider docker"), "{err}");
        assert!(neighbours_words(&args("up --driver kind --provider docker")).is_none());
    }

    #[test]
    fn a_name_word_is_the_name_flag_for_the_commands_that_take_it() {
        assert_eq!(name_word(args("stop dev")), args("stop --name dev"));
        assert_eq!(
            name_word(args("-v start --driver k3d dev --json")),
            args("-v start --driver k3d --name dev --json")
        );
        assert_eq!(name_word(args("down --name=dev")), args("down --name=dev"));
        assert_eq!(
            name_word(args("upload ./studies")),
            args("upload ./studies")
        );
        assert_eq!(name_word(args("logs orthanc")), args("logs orthanc"));
        assert_eq!(name_word(args("status -- dev")), args("status -- dev"));
        assert_eq!(name_word(args("stop -p dev")), args("stop -p dev"));
        assert_eq!(
            name_word(args("stop dev extra")),
            args("stop --name dev extra")
        );
    }
}
