//! The README says what the binary does. Every `$ korthbox …` line in an example block names
//! only commands and flags the binary has (checked against its `--help`); the commands that need
//! no cluster (`plan`, `doctor`, `version`) are run and their output compared with the README's;
//! and the examples of `up` and `status`, which need a cluster, are compared with the snapshots
//! the lifecycle tests take of the real binary against a fake cluster.

mod support;

use std::collections::BTreeSet;

use support::Sandbox;

/// One `$ korthbox …` line of the README and the output shown under it.
#[derive(Debug)]
struct Example {
    line: usize,
    words: Vec<String>,
    output: Vec<String>,
    /// A synopsis (`[--json]`, `PATH...`, `stone|ohif`) rather than a command to run as is.
    synopsis: bool,
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn examples() -> Vec<Example> {
    let text = readme();
    let mut out: Vec<Example> = Vec::new();
    let mut fence: Option<usize> = None; // the indentation of the open block
    for (i, raw) in text.lines().enumerate() {
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim_start();
        if line.starts_with("```") {
            // Output ends with its block: a later block without a `$` line is not its output.
            out.push(Example {
                line: i + 1,
                words: Vec::new(),
                output: Vec::new(),
                synopsis: true,
            });
            fence = match fence {
                Some(_) => None,
                None if line == "```text" || line == "```sh" => Some(indent),
                None => Some(usize::MAX), // another language: not examples
            };
            continue;
        }
        let Some(indent) = fence.filter(|i| *i != usize::MAX) else {
            continue;
        };
        if let Some(command) = line.strip_prefix("$ korthbox") {
            // A trailing `# comment` is the README's, not the command's.
            let command = command.split("  #").next().unwrap().trim();
            let synopsis = command.contains('[')
                || command.contains('|')
                || command.contains("...")
                || command
                    .split_whitespace()
                    .any(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase()));
            out.push(Example {
                line: i + 1,
                words: command.split_whitespace().map(String::from).collect(),
                output: Vec::new(),
                synopsis,
            });
        } else if line.starts_with('$') {
            // Another program's command line ends the previous example's output.
            out.push(Example {
                line: i + 1,
                words: Vec::new(),
                output: Vec::new(),
                synopsis: true,
            });
        } else if let Some(last) = out.last_mut() {
            last.output
                .push(raw.get(indent.min(raw.len())..).unwrap_or("").to_string());
        }
    }
    out.retain(|e| !e.words.is_empty() || !e.output.is_empty());
    out.into_iter().filter(|e| !e.words.is_empty()).collect()
}

/// The subcommand path of an example (`cluster check`), and the help text it has.
fn help_of(sandbox: &Sandbox, words: &[String]) -> (Vec<String>, String) {
    let mut path: Vec<String> = Vec::new();
    for word in words.iter().take(2) {
        if word.starts_with('-') || !word.chars().all(|c| c.is_ascii_lowercase()) {
            break;
        }
        let mut trial = path.clone();
        trial.push(word.clone());
        let mut args: Vec<&str> = trial.iter().map(String::as_str).collect();
        args.push("--help");
        if !sandbox.run(&args).status.success() {
            break;
        }
        path = trial;
    }
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let out = sandbox.run(&args);
    (path, String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn every_example_names_commands_and_flags_the_binary_has() {
    let sandbox = Sandbox::new();
    let all = examples();
    assert!(
        all.len() > 15,
        "the README's examples were not found: {all:?}"
    );
    for example in &all {
        let (path, help) = help_of(&sandbox, &example.words);
        assert!(
            !path.is_empty(),
            "README line {}: `korthbox {}` is not a command",
            example.line,
            example.words.join(" ")
        );
        for word in &example.words {
            let flag = word
                .trim_matches(|c| matches!(c, '[' | ']' | '(' | ')' | ','))
                .split('=')
                .next()
                .unwrap();
            if flag.starts_with("--") || (flag.starts_with('-') && flag.len() == 2) {
                let listed = help.match_indices(flag).any(|(at, _)| {
                    help[at + flag.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
                });
                assert!(
                    listed,
                    "README line {}: `korthbox {}` has no flag {flag}",
                    example.line,
                    path.join(" ")
                );
            }
        }
    }
}

/// `plan` examples run in a sandbox with no engine and no driver are printed exactly as shown.
#[test]
fn plan_examples_print_what_the_readme_shows() {
    let sandbox = Sandbox::new();
    let plans: Vec<&Example> = examples()
        .into_iter()
        .filter(|e| !e.synopsis && e.words[0] == "plan" && !e.output.is_empty())
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .collect();
    assert!(plans.len() >= 2, "{plans:?}");
    for example in plans {
        let args: Vec<&str> = example.words.iter().map(String::as_str).collect();
        let out = sandbox.run(&args);
        assert!(out.status.success(), "README line {}", example.line);
        let actual: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(
            example.output,
            actual,
            "README line {}: `korthbox {}`",
            example.line,
            args.join(" ")
        );
    }
}

/// The words a line starts with: a doctor line's status and check id, a table's label.
fn shape(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    match first {
        "ok" | "warn" | "fail" | "skip" => Some(format!("check {}", words.next()?)),
        "fix:" => None,
        _ if first.chars().next()?.is_ascii_digit() => {
            // the summary: "1 failed, 3 warnings, 8 ok, 0 skipped"
            let words: Vec<&str> = line
                .split_whitespace()
                .filter(|w| !w.chars().next().unwrap().is_ascii_digit())
                .collect();
            Some(words.join(" "))
        }
        _ => Some(first.to_string()),
    }
}

/// `doctor` on this machine (its real engines) prints the sections, checks and summary the
/// README's example shows; checks that depend on the host (a warning here, ok there) are
/// compared by id.
#[test]
fn the_doctor_example_has_the_shape_of_doctors_output() {
    let docker = std::path::Path::new("/var/run/docker.sock").exists();
    if !support::real_part_available("Docker Engine at /var/run/docker.sock", docker) {
        return;
    }
    let example = examples()
        .into_iter()
        .find(|e| e.words == ["doctor"])
        .expect("the README shows `korthbox doctor`");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_korthbox"))
        .arg("doctor")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let actual: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(shape)
        .collect();
    for line in example.output.iter().filter(|l| !l.starts_with(' ')) {
        if let Some(shape) = shape(line) {
            assert!(
                actual.contains(&shape),
                "README's doctor example shows `{shape}`, which doctor does not print: {actual:#?}"
            );
        }
    }
}

/// The phases of the README's `up` example are the phases `up` runs (the lifecycle test's
/// snapshot of its stderr), in order; its summary has the same lines.
#[test]
fn the_up_example_has_the_phases_up_runs() {
    let example = examples()
        .into_iter()
        .find(|e| e.words.first().is_some_and(|w| w == "up") && !e.output.is_empty())
        .expect("the README shows `korthbox up`");
    let snapshot = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/lifecycle__up_stderr.snap"
    ))
    .unwrap();
    let title = |text: &str| text.split([':', '(']).next().unwrap().trim().to_string();
    let ran: Vec<String> = snapshot
        .lines()
        .filter_map(|l| l.strip_suffix(" ..."))
        .map(title)
        .collect();
    let samples = example.words.iter().any(|w| w == "--samples");
    let shown: Vec<String> = example
        .output
        .iter()
        .filter_map(|l| l.strip_prefix("✓ "))
        .map(title)
        .filter(|t| !(samples && t == "Loading the sample studies"))
        .collect();
    // The stack's components start together, so the snapshot has them sorted: compare their
    // order only up to that.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(shown.clone()),
        sorted(ran.clone()),
        "README line {}",
        example.line
    );
    let sequential = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|t| !t.starts_with("Applying "))
            .cloned()
            .collect()
    };
    assert_eq!(
        sequential(&shown),
        sequential(&ran),
        "README line {}",
        example.line
    );

    let summary = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/lifecycle__up_stdout.snap"
    ))
    .unwrap();
    let labels =
        |lines: Vec<&str>| -> Vec<String> { lines.iter().filter_map(|l| shape(l)).collect() };
    let after_header = |text: &str| -> Vec<String> {
        text.split("---\n")
            .last()
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let snapshot_lines = after_header(&summary);
    let mut expected = labels(snapshot_lines.iter().map(String::as_str).collect());
    if samples {
        expected.push("Samples".into());
    }
    let shown_summary: Vec<&str> = example
        .output
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with('✓'))
        .collect();
    assert_eq!(
        labels(shown_summary),
        expected,
        "README line {}",
        example.line
    );
}

/// The README's `status` example has the lines `status` prints for a healthy kind sandbox
/// (the lifecycle test's snapshot): the same labels, a volume per claim, images named as the
/// nodes have them (by tag when side-loaded).
#[test]
fn the_status_example_has_the_shape_of_status() {
    let example = examples()
        .into_iter()
        .find(|e| e.words == ["status"])
        .expect("the README shows `korthbox status`");
    let snapshot = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/lifecycle__status_healthy.snap"
    ))
    .unwrap();
    let body: Vec<String> = snapshot
        .split("---\n")
        .last()
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // Node rows are the capture's names in the snapshot and the sandbox's in the README.
    let shapes = |lines: &[String]| -> Vec<String> {
        let mut in_nodes = false;
        let mut out = Vec::new();
        for line in lines {
            if line.starts_with("NODE") {
                in_nodes = true;
            } else if line.trim().is_empty() {
                in_nodes = false;
            } else if in_nodes {
                out.push("node".into());
                continue;
            }
            out.extend(shape(line));
        }
        out
    };
    assert_eq!(
        shapes(&example.output),
        shapes(&body),
        "README line {}",
        example.line
    );
    let digests = |lines: &[String]| lines.iter().any(|l| l.contains("@sha256"));
    assert_eq!(
        digests(&example.output),
        digests(&body),
        "README line {}: images with or without digests as status prints them",
        example.line
    );
}

/// Every source file is named in the README's Layout section.
#[test]
fn the_layout_names_every_source_file() {
    let text = readme();
    let layout = &text[text.find("## Layout").expect("a Layout section")..];
    let layout = &layout[..layout.find("\nAdding a driver").unwrap_or(layout.len())];
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let missing: Vec<String> = support::files_below(&src, &[])
        .iter()
        .map(|path| {
            path.strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .to_string()
        })
        .filter(|rel| {
            let named = match rel.split_once('/') {
                // A directory's mod.rs is the directory's entry.
                Some((dir, "mod.rs")) => layout.contains(&format!("\nsrc/{dir}/")),
                // src/dir/file.rs: in the `src/dir/` entry (up to the next `src/` line).
                Some((dir, file)) => layout
                    .split(&format!("\nsrc/{dir}/"))
                    .nth(1)
                    .is_some_and(|entry| entry.split("\nsrc/").next().unwrap().contains(file)),
                None => layout.contains(&format!("src/{rel}")),
            };
            !named
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the README's Layout does not name {missing:?}"
    );
}
