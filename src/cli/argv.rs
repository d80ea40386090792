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
fn value_taker(ours: &str) -> impl Fn(&str) -> bool + use<> {
    use clap::CommandFactory;
    let cli = crate::cli::grammar::Cli::command();
    let command = cli.find_subcommand(ours).cloned().map(|mut c| {
        c.build();
        c
    });
    flags_taking_values(&cli, command.as_ref())
}

/// Whether a flag of `command` (or a global one of `cli`) takes a value.
fn flags_taking_values(
    cli: &clap::Command,
    command: Option<&clap::Command>,
) -> impl Fn(&str) -> bool + use<> {
    // Only this command is built (its flags are deferred, see `cli::Lazy`); the global flags
    // are the top level's own.
    let arguments: Vec<(Option<String>, Option<char>)> = cli
        .get_arguments()
        .chain(command.into_iter().flat_map(|c| c.get_arguments()))
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

/// `korthbox stop dev` as `korthbox stop --name dev`, for every command that takes the
/// sandbox's name as a word (those with `--name` and no other word of their own: not
/// `upload PATH…`, `export DIR`, `cluster load IMAGE…` or `logs COMPONENT`): the name then
/// reaches every message that repeats the command's targeting flags. Other words are left to
/// clap, which refuses a second name (`stop dev --name x`) in its own words.
pub fn name_word(args: Vec<OsString>) -> Vec<OsString> {
    use clap::CommandFactory;
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    // Only a command with [`NameWord`]'s argument takes the name as a word.
    //
    // [`NameWord`]: crate::cli::grammar::NameWord
    let Some((_, end, command)) = command_named(&words[1..])
        .filter(|(_, _, c)| c.get_arguments().any(|a| a.get_id() == "word"))
    else {
        return args;
    };
    let takes_value = flags_taking_values(&crate::cli::grammar::Cli::command(), Some(&command));
    // The command's last word, counting the program's name.
    let at = end;
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

/// `--timeout` before 0.2 limited six different things; each command's limit now has the name
/// of what it limits. The old spelling is read for a release, with a notice.
const TIMEOUTS: [(&str, &str); 13] = [
    ("up", "--create-timeout"),
    ("reset", "--create-timeout"),
    ("start", "--create-timeout"),
    ("cluster create", "--create-timeout"),
    ("down", "--delete-timeout"),
    ("cluster delete", "--delete-timeout"),
    ("stop", "--stop-timeout"),
    ("cluster load", "--load-timeout"),
    ("samples", "--exchange-timeout"),
    ("upload", "--file-timeout"),
    ("export", "--file-timeout"),
    ("install", "--download-timeout"),
    ("doctor", "--probe-timeout"),
];

/// The old `--timeout` as the command's own time limit, and a one-line notice for each.
pub fn old_spellings(args: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    let Some((name, _, _)) = command_named(&words) else {
        return (args, Vec::new());
    };
    let Some((_, new)) = TIMEOUTS.iter().find(|(command, _)| *command == name) else {
        return (args, Vec::new());
    };
    let mut notices = Vec::new();
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    for arg in iter.by_ref() {
        let text = arg.to_string_lossy().to_string();
        if text == "--" {
            out.push(arg);
            break;
        }
        let renamed = match text.strip_prefix("--timeout") {
            Some("") => new.to_string(),
            Some(value) if value.starts_with('=') => format!("{new}{value}"),
            _ => {
                out.push(arg);
                continue;
            }
        };
        notices.push(format!(
            "note: `korthbox {name} --timeout` is now `{new}`; the old spelling works until the next release"
        ));
        out.push(renamed.into());
    }
    out.extend(iter);
    (out, notices)
}

/// What `-o`/`--output` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Nothing: korthbox's own output for people.
    Text,
    Json,
    /// The same document as JSON, written as YAML.
    Yaml,
}

/// The command `words` (the arguments after the program's name) name — `password`, or
/// `cluster list` — built, with its name as typed and the index just after its last word.
fn command_named(words: &[String]) -> Option<(String, usize, clap::Command)> {
    use clap::CommandFactory;
    let cli = crate::cli::grammar::Cli::command();
    let bare = |from: usize| Some(words[from..].iter().position(|w| !w.starts_with('-'))? + from);
    let mut at = bare(0)?;
    let mut command = cli.find_subcommand(&words[at])?.clone();
    let mut name = words[at].clone();
    if command.has_subcommands() {
        at = bare(at + 1)?;
        command = command.find_subcommand(&words[at])?.clone();
        name = format!("{name} {}", words[at]);
    }
    command.build();
    Some((name, at + 1, command))
}

/// kubectl's `-o json|yaml` (`--output json`, `-ojson`, `--output=yaml`) as korthbox's
/// `--json` and the format asked for. `-o` on a command that prints no document, or a format
/// other than json and yaml, is a usage error in korthbox's words (not clap's about a
/// `--json` the user never typed).
pub fn output_flag(args: Vec<OsString>) -> Result<(Vec<OsString>, Output), Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut asked = None;
    let mut iter = args.into_iter().peekable();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy().to_string();
        if text == "--" {
            out.push(arg);
            out.extend(iter);
            break;
        }
        let value = match text.as_str() {
            "-o" | "--output" => Some(
                iter.next()
                    .map_or_else(String::new, |v| v.to_string_lossy().to_string()),
            ),
            t if t.starts_with("--output=") => Some(t["--output=".len()..].to_string()),
            t if t.starts_with("-o") && t.len() > 2 => {
                Some(t[2..].trim_start_matches('=').to_string())
            }
            _ => None,
        };
        match value {
            // `--json` where `-o` was, so that it stays before a `--`.
            Some(v) => {
                asked = Some(v);
                out.push("--json".into());
            }
            None => out.push(arg),
        }
    }
    let Some(format) = asked else {
        return Ok((out, Output::Text));
    };
    let output = match format.as_str() {
        "json" => Output::Json,
        "yaml" => Output::Yaml,
        other => {
            return Err(Error::usage(format!(
                "-o {other}: korthbox writes its documents as json or yaml"
            ))
            .hint("`-o json` or `-o yaml`"));
        }
    };
    let words: Vec<String> = out
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    if let Some((name, _, command)) = command_named(&words)
        && !command.get_arguments().any(|a| a.get_id() == "json")
    {
        return Err(Error::usage(format!(
            "`korthbox {name}` prints no document, so there is nothing for `-o {format}` to write"
        ))
        .hint(format!(
            "leave -o out: `korthbox {name} --help` says what it prints"
        )));
    }
    Ok((out, output))
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
    fn the_old_timeout_is_the_commands_own_limit_with_a_notice() {
        for (line, renamed) in [
            ("up --timeout 10m", "up --create-timeout 10m"),
            (
                "cluster delete dev --timeout=30",
                "cluster delete dev --delete-timeout=30",
            ),
            (
                "doctor --timeout 0.5 --json",
                "doctor --probe-timeout 0.5 --json",
            ),
            ("upload x --timeout 5", "upload x --file-timeout 5"),
        ] {
            let (args, notices) = old_spellings(args(line));
            assert_eq!(args, self::args(renamed), "{line}");
            assert_eq!(notices.len(), 1, "{line}");
            assert!(notices[0].contains("is now `--"), "{}", notices[0]);
        }
        // New spellings, commands without a limit and words after `--` are left alone.
        for line in [
            "up --create-timeout 1",
            "prove --step-timeout 5",
            "upload -- --timeout",
        ] {
            assert_eq!(
                old_spellings(args(line)),
                (args(line), Vec::new()),
                "{line}"
            );
        }
    }

    #[test]
    fn kubectls_output_flag_is_json_or_yaml() {
        let ok = |line: &str| output_flag(args(line)).unwrap();
        for line in [
            "status -o json",
            "status --output json",
            "status -ojson",
            "status --output=json",
            "status -o=json",
        ] {
            assert_eq!(ok(line), (args("status --json"), Output::Json), "{line}");
        }
        assert_eq!(ok("status -o yaml"), (args("status --json"), Output::Yaml));
        assert_eq!(
            ok("cluster list --output=yaml"),
            (args("cluster list --json"), Output::Yaml)
        );
        assert_eq!(
            ok("upload -- -o json"),
            (args("upload -- -o json"), Output::Text)
        );
        // A command without a document says so in its own words, not clap's about --json.
        let err = output_flag(args("password -o json")).unwrap_err();
        assert_eq!(
            err.message,
            "`korthbox password` prints no document, so there is nothing for `-o json` to write"
        );
        let err = output_flag(args("cluster delete -o yaml")).unwrap_err();
        assert!(
            err.message.starts_with("`korthbox cluster delete`"),
            "{err}"
        );
        let err = output_flag(args("status -o wide")).unwrap_err();
        assert!(err.message.contains("json or yaml"), "{err}");
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
        // Under a command group too, and wherever --name is taken without a word of its own.
        assert_eq!(
            name_word(args("cluster delete dev --yes")),
            args("cluster delete --name dev --yes")
        );
        assert_eq!(
            name_word(args("cluster load x:1")),
            args("cluster load x:1")
        );
        assert_eq!(
            name_word(args("forward --http-port 18042 dev")),
            args("forward --http-port 18042 --name dev")
        );
        assert_eq!(name_word(args("open dev")), args("open --name dev"));
    }
}
