//! One grammar for the command line, checked over every command (issue 26): the sandbox's name
//! as a word wherever `--name` is taken, `-n` for `--namespace`, `-o json|yaml` where a
//! document is printed and refused in the command's own words elsewhere, time limits named for
//! what they limit, the same value type for the same flag everywhere, a question (or `--yes`)
//! before every deletion, and `--dicom` only where DICOM is spoken.

mod support;

use std::collections::BTreeMap;

use clap::{CommandFactory, Parser};
use korthbox::cli::argv::{self, Output};
use korthbox::cli::grammar::Cli;
use support::Sandbox;

/// Every command that does something (`up`, `cluster delete`), built, by its path.
fn commands() -> Vec<(String, clap::Command)> {
    fn walk(prefix: &str, command: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in command.get_subcommands() {
            let path = format!("{prefix} {}", sub.get_name()).trim().to_string();
            if sub.get_name() == "help" {
                continue;
            }
            let mut built = sub.clone();
            built.build();
            if built.has_subcommands() {
                walk(&path, &built, out);
            } else {
                out.push((path, built));
            }
        }
    }
    let mut out = Vec::new();
    walk("", &Cli::command(), &mut out);
    assert!(out.len() >= 20, "{}", out.len());
    out
}

fn has(command: &clap::Command, id: &str) -> bool {
    command.get_arguments().any(|a| a.get_id() == id)
}

fn words(line: &str) -> Vec<std::ffi::OsString> {
    std::iter::once("korthbox")
        .chain(line.split_whitespace())
        .map(Into::into)
        .collect()
}

#[test]
fn the_name_is_a_word_wherever_name_is_taken() {
    for (path, command) in commands() {
        if !has(&command, "name") {
            continue;
        }
        let others: Vec<String> = command
            .get_positionals()
            .filter(|a| a.get_id() != "word")
            .map(|a| a.get_id().to_string())
            .collect();
        if others.is_empty() {
            assert!(
                has(&command, "word"),
                "`korthbox {path}` takes --name but no NAME word"
            );
            let named = argv::name_word(words(&format!("{path} dev")));
            assert_eq!(named, words(&format!("{path} --name dev")), "{path}");
        } else {
            // Its words are something else (`upload PATH…`): the name stays a flag.
            assert!(!has(&command, "word"), "{path}");
        }
    }
}

#[test]
fn n_is_namespace_everywhere() {
    let mut seen = 0;
    for (path, command) in commands() {
        for arg in command.get_arguments() {
            if arg.get_long() == Some("namespace") {
                assert_eq!(arg.get_short(), Some('n'), "{path}");
                seen += 1;
            }
            if arg.get_short() == Some('n') {
                assert_eq!(arg.get_long(), Some("namespace"), "{path}");
            }
        }
    }
    assert!(seen >= 8, "{seen}");
}

#[test]
fn o_json_and_yaml_where_a_document_is_printed_and_refused_in_its_words_elsewhere() {
    let (mut documents, mut none) = (0, 0);
    for (path, command) in commands() {
        for format in ["json", "yaml"] {
            let result = argv::output_flag(words(&format!("{path} -o {format}")));
            if has(&command, "json") {
                let (args, output) = result.unwrap();
                assert_eq!(args, words(&format!("{path} --json")), "{path}");
                let wanted = if format == "json" {
                    Output::Json
                } else {
                    Output::Yaml
                };
                assert_eq!(output, wanted, "{path}");
                documents += 1;
            } else {
                let err = result.unwrap_err();
                assert!(
                    err.message
                        .starts_with(&format!("`korthbox {path}` prints no document")),
                    "{path}: {err}"
                );
                assert!(!err.to_string().contains("--json"), "{path}: {err}");
                none += 1;
            }
        }
    }
    assert!(documents >= 2 * 14 && none >= 2 * 4, "{documents} {none}");
}

#[test]
fn time_limits_are_named_for_what_they_limit() {
    for (path, command) in commands() {
        for arg in command.get_arguments() {
            assert_ne!(
                arg.get_long(),
                Some("timeout"),
                "`korthbox {path} --timeout`"
            );
        }
    }
}

/// What a flag takes: nothing, or its value's name and possible values.
fn value_type(arg: &clap::Arg) -> String {
    if !arg.get_action().takes_values() {
        return "switch".into();
    }
    let names = arg
        .get_value_names()
        .map(|n| {
            n.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|v| v.get_name().to_string())
        .filter(|v| v != "none" && v != "auto")
        .collect();
    format!("{names} {values:?}")
}

#[test]
fn the_same_flag_takes_the_same_type_on_every_command() {
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (path, command) in commands() {
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let ty = value_type(arg);
            match seen.get(long) {
                Some((first, ty0)) => assert_eq!(
                    &ty, ty0,
                    "--{long} takes {ty} on `korthbox {path}` but {ty0} on `korthbox {first}`"
                ),
                None => {
                    seen.insert(long.to_string(), (path.clone(), ty));
                }
            }
        }
    }
    assert!(seen.contains_key("viewer"));
}

#[test]
fn every_command_that_deletes_asks_or_takes_yes() {
    let mut deleting = 0;
    for (path, command) in commands() {
        let about = command
            .get_about()
            .map(|a| a.to_string())
            .unwrap_or_default();
        if about.to_lowercase().contains("delete") && !path.ends_with("list") {
            assert!(has(&command, "yes"), "`korthbox {path}`: {about}");
            assert!(about.contains("asks first"), "`korthbox {path}`: {about}");
            deleting += 1;
        }
    }
    // down, reset, cluster delete
    assert!(deleting >= 3, "{deleting}");
}

// --dicom is asked for only by the commands that speak DICOM.
#[test]
fn dicom_is_required_only_where_dicom_is_used() {
    let sandbox = Sandbox::new();
    for command in ["prove", "samples"] {
        let out = sandbox.run(&[command, "--url", "http://127.0.0.1:9"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "`korthbox {command} --url` needs Orthanc's DICOM address"
            )),
            "{stderr}"
        );
    }
    // upload and export use the REST API alone: they go as far as Orthanc (which is not there).
    let dir = sandbox.path("out");
    for args in [
        vec!["upload", "--url", "http://127.0.0.1:9", "/nonexistent"],
        vec![
            "export",
            "--url",
            "http://127.0.0.1:9",
            dir.to_str().unwrap(),
        ],
    ] {
        let out = sandbox.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("--dicom"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// The examples a command's help ends with, each as the words a shell would pass.
fn examples(command: &clap::Command) -> Vec<String> {
    let help = command
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    help.lines()
        .skip_while(|l| !l.starts_with("Examples:"))
        .skip(1)
        .take_while(|l| l.starts_with("  korthbox"))
        // A comment column after two spaces, a pipe to another program: the command alone.
        .map(|l| {
            l.trim()
                .split("  ")
                .next()
                .unwrap()
                .split(" | ")
                .next()
                .unwrap()
                .split(" >")
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

// Every command's help ends with examples, and every example is a command line korthbox
// parses (through the same argv steps as main).
#[test]
fn every_command_has_examples_that_parse() {
    let mut all = examples(&Cli::command());
    assert!(all.len() >= 5, "the top-level help has examples: {all:?}");
    for (path, command) in commands() {
        let own = examples(&command);
        assert!(!own.is_empty(), "`korthbox {path}` has no examples");
        all.extend(own);
    }
    for example in all.iter().filter(|e| !e.contains(" / ")) {
        let line = example.strip_prefix("korthbox ").unwrap();
        let (args, _) = argv::output_flag(words(line)).unwrap_or_else(|e| panic!("{example}: {e}"));
        let args = argv::name_word(args);
        if let Err(e) = Cli::try_parse_from(&args) {
            panic!("`{example}` does not parse: {e}");
        }
    }
}

// `up --help` is grouped by topic (issue 26), and so are the commands that share its flags.
#[test]
fn up_help_is_grouped_by_topic() {
    let mut up = Cli::command().find_subcommand("up").unwrap().clone();
    up.build();
    let help = up.render_long_help().to_string();
    let headings: Vec<&str> = help
        .lines()
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .collect();
    for topic in [
        "Cluster:",
        "Ports:",
        "Stack:",
        "Images:",
        "Time limits:",
        "Output:",
    ] {
        assert!(headings.contains(&topic), "{headings:?}");
    }
    // Only help and version are left ungrouped.
    let options = help
        .split("\nOptions:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| l.trim_start().starts_with('-'))
        .count();
    assert!(options <= 2, "{help}");
}
