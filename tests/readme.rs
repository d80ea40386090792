//! The README, CONTRIBUTING.md and docs/ say what the binary does. Every `$ korthbox …` line in
//! an example block, and every `korthbox …` in backticks, names only commands and flags the
//! binary has (checked against its `--help`); docs/commands.md's flag reference is the binary's
//! own, defaults included; every link resolves; the commands that need no cluster (`plan`,
//! `doctor`) are run and their output compared with the docs'; and the examples of `up` and
//! `status`, which need a cluster, are compared with the snapshots the lifecycle tests take of
//! the real binary against a fake cluster.

mod support;

use std::collections::BTreeSet;

use support::Sandbox;

/// One `$ korthbox …` line of the docs and the output shown under it.
#[derive(Debug)]
struct Example {
    /// `README.md`, `docs/commands.md`, … and the line there.
    file: String,
    line: usize,
    words: Vec<String>,
    output: Vec<String>,
    /// A synopsis (`[--json]`, `PATH...`, `stone|ohif`) rather than a command to run as is.
    synopsis: bool,
}

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every document a user or a contributor reads: README.md, CONTRIBUTING.md and docs/*.md, each
/// with its path from the repository's root.
fn documents() -> Vec<(String, String)> {
    let mut names = vec!["README.md".to_string(), "CONTRIBUTING.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ folder")
        .map(|e| format!("docs/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 8, "{docs:?}");
    names.extend(docs);
    names
        .into_iter()
        .map(|n| (read(&n), n))
        .map(|(t, n)| (n, t))
        .collect()
}

fn examples() -> Vec<Example> {
    documents()
        .iter()
        .flat_map(|(file, text)| examples_in(file, text))
        .collect()
}

fn examples_in(file: &str, text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut fence: Option<usize> = None; // the indentation of the open block
    for (i, raw) in text.lines().enumerate() {
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim_start();
        if line.starts_with("```") {
            // Output ends with its block: a later block without a `$` line is not its output.
            out.push(Example {
                file: file.to_string(),
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
                file: file.to_string(),
                line: i + 1,
                words: command.split_whitespace().map(String::from).collect(),
                output: Vec::new(),
                synopsis,
            });
        } else if line.starts_with('$') {
            // Another program's command line ends the previous example's output.
            out.push(Example {
                file: file.to_string(),
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
            "{} line {}: `korthbox {}` is not a command",
            example.file,
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
                    "{} line {}: `korthbox {}` has no flag {flag}",
                    example.file,
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
        assert!(
            out.status.success(),
            "{} line {}",
            example.file,
            example.line
        );
        let actual: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(
            example.output,
            actual,
            "{} line {}: `korthbox {}`",
            example.file,
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
        .find(|e| e.words == ["doctor"] && !e.output.is_empty())
        .expect("the docs show `korthbox doctor`");
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
        .expect("the docs show `korthbox up`");
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
        "{} line {}",
        example.file,
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
        "{} line {}",
        example.file,
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
        "{} line {}",
        example.file,
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
        .find(|e| e.words == ["status"] && !e.output.is_empty())
        .expect("the docs show `korthbox status`");
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
        "{} line {}",
        example.file,
        example.line
    );
    let digests = |lines: &[String]| lines.iter().any(|l| l.contains("@sha256"));
    assert_eq!(
        digests(&example.output),
        digests(&body),
        "{} line {}: images with or without digests as status prints them",
        example.file,
        example.line
    );
}

/// Every source file is named in CONTRIBUTING.md's Layout section.
#[test]
fn the_layout_names_every_source_file() {
    let text = read("CONTRIBUTING.md");
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
                // src/dir/…: in the `src/dir/` entry (up to the next `src/` line), which names
                // each folder below it (`commands/`) and each file but a folder's mod.rs.
                Some((dir, below)) => layout
                    .split(&format!("\nsrc/{dir}/"))
                    .nth(1)
                    .map(|entry| entry.split("\nsrc/").next().unwrap())
                    .is_some_and(|entry| {
                        let parts: Vec<&str> = below.split('/').collect();
                        let (file, folders) = parts.split_last().unwrap();
                        folders.iter().all(|f| entry.contains(&format!("{f}/")))
                            && (*file == "mod.rs" || entry.contains(file))
                    }),
                None => layout.contains(&format!("src/{rel}")),
            };
            !named
        })
        .collect();
    assert!(
        missing.is_empty(),
        "CONTRIBUTING.md's Layout does not name {missing:?}"
    );
}

// Issue 26: a README a newcomer reads in five minutes, starting with the two set-up commands.
#[test]
fn the_readme_is_short_and_starts_with_the_two_setup_commands() {
    let text = read("README.md");
    let lines = text.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; the rest belongs in docs/"
    );
    let first_block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert_eq!(first_block, ["cargo run --release -- up", "cargo test"]);
    // It says how to put korthbox on PATH, before the examples that use it.
    let install = text
        .find("cargo install --path .")
        .expect("the install command");
    let first_example = text.find("$ korthbox").unwrap();
    assert!(install < first_example);
}

/// Every flag korthbox's commands take, by the command's path (`cluster delete`), with their
/// globals.
fn flags_by_command() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    use clap::CommandFactory;
    fn walk(
        prefix: &str,
        command: &clap::Command,
        globals: &BTreeSet<String>,
        out: &mut std::collections::BTreeMap<String, BTreeSet<String>>,
    ) {
        for sub in command.get_subcommands() {
            let path = format!("{prefix} {}", sub.get_name()).trim().to_string();
            let mut built = sub.clone();
            built.build();
            let mut flags = globals.clone();
            for arg in built.get_arguments() {
                flags.extend(arg.get_long().map(|l| format!("--{l}")));
                flags.extend(arg.get_short().map(|c| format!("-{c}")));
            }
            flags.extend([
                "-o".to_string(),
                "--output".to_string(),
                "--help".to_string(),
            ]);
            out.insert(path.clone(), flags);
            walk(&path, &built, globals, out);
        }
    }
    let cli = korthbox::cli::grammar::Cli::command();
    let globals: BTreeSet<String> = cli
        .get_arguments()
        .flat_map(|a| {
            let long = a.get_long().map(|l| format!("--{l}"));
            let short = a.get_short().map(|c| format!("-{c}"));
            long.into_iter().chain(short)
        })
        .collect();
    let mut out = std::collections::BTreeMap::new();
    walk("", &cli, &globals, &mut out);
    out
}

// Every `korthbox …` in backticks in the docs names a command the binary has, and only flags
// that command takes.
#[test]
fn every_inline_command_names_commands_and_flags_the_binary_has() {
    let commands = flags_by_command();
    let mut checked = 0;
    for (file, text) in documents() {
        for (at, span) in text.split('`').enumerate().filter(|(i, _)| i % 2 == 1) {
            let Some(rest) = span.strip_prefix("korthbox ") else {
                continue;
            };
            // The command's path: its first words that are commands.
            let words: Vec<&str> = rest.split_whitespace().collect();
            let mut path = String::new();
            for word in &words {
                let trial = format!("{path} {word}").trim().to_string();
                if commands.contains_key(&trial) {
                    path = trial;
                } else {
                    break;
                }
            }
            if path.is_empty() {
                // `korthbox COMMAND --help`, a placeholder; anything else is a wrong name.
                let first = words.first().copied().unwrap_or_default();
                // The neighbours' verbs, which korthbox answers with its own word.
                const NEIGHBOURS: [&str; 10] = [
                    "delete", "destroy", "remove", "rm", "teardown", "create", "run", "deploy",
                    "get", "describe",
                ];
                if NEIGHBOURS.contains(&first) {
                    continue;
                }
                assert!(
                    !first.chars().all(|c| c.is_ascii_lowercase()) || first.is_empty(),
                    "{file} (span {at}): `korthbox {rest}` is not a command"
                );
                continue;
            }
            for word in &words {
                let flag = word
                    .trim_matches(|c| matches!(c, '[' | ']' | '(' | ')' | ',' | '…'))
                    .split('=')
                    .next()
                    .unwrap();
                let is_flag = flag.starts_with("--") || (flag.starts_with('-') && flag.len() == 2);
                if is_flag
                    && flag
                        .chars()
                        .nth(1)
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '-')
                {
                    assert!(
                        commands[&path].contains(flag),
                        "{file}: `korthbox {rest}`: `korthbox {path}` has no flag {flag}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

// Every link to a file of the repository, or to a heading, resolves.
#[test]
fn every_link_resolves() {
    let anchor = |heading: &str| -> String {
        heading
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' | '-' => Some('-'),
                c if c.is_alphanumeric() || c == '_' => Some(c),
                _ => None,
            })
            .collect()
    };
    let headings = |rel: &str| -> Vec<String> {
        let mut fence = false;
        read(rel)
            .lines()
            .filter(|l| {
                if l.starts_with("```") {
                    fence = !fence;
                }
                !fence && l.starts_with('#')
            })
            .map(anchor)
            .collect()
    };
    for (file, text) in documents() {
        let dir = std::path::Path::new(&file).parent().unwrap().to_path_buf();
        for (at, _) in text.match_indices("](") {
            let target = &text[at + 2..];
            let target = &target[..target.find(')').unwrap()];
            if target.starts_with("http") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
            let rel = match path {
                "" => file.clone(),
                p => {
                    let joined = dir.join(p);
                    let mut parts: Vec<String> = Vec::new();
                    for c in joined.components() {
                        match c.as_os_str().to_str().unwrap() {
                            ".." => {
                                parts.pop();
                            }
                            "." => {}
                            other => parts.push(other.to_string()),
                        }
                    }
                    parts.join("/")
                }
            };
            assert!(
                root().join(&rel).exists(),
                "{file}: link to {target}: no {rel}"
            );
            if !fragment.is_empty() {
                assert!(
                    headings(&rel).contains(&fragment.to_string()),
                    "{file}: link to {target}: {rel} has no heading #{fragment}"
                );
            }
        }
    }
}

/// docs/commands.md's reference: every command with each flag and its default, as clap has
/// them.
fn reference() -> String {
    use clap::CommandFactory;
    fn walk(prefix: &str, command: &clap::Command, out: &mut String) {
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            let path = format!("{prefix} {}", sub.get_name()).trim().to_string();
            let mut built = sub.clone();
            built.build();
            if built.has_subcommands() {
                walk(&path, &built, out);
                continue;
            }
            out.push_str(&format!("### `korthbox {path}`\n\n"));
            let about = built.get_about().map(|a| a.to_string()).unwrap_or_default();
            out.push_str(&format!("{about}\n\n| flag | default |\n|---|---|\n"));
            for arg in built.get_arguments() {
                if arg.is_global_set()
                    || arg.is_hide_set()
                    || ["help", "version"].contains(&arg.get_id().as_str())
                {
                    continue;
                }
                let value = arg
                    .get_value_names()
                    .map(|v| {
                        v.iter()
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                let takes = arg.get_action().takes_values();
                let choices: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .filter(|v| !v.is_hide_set())
                    .map(|v| v.get_name().to_string())
                    .collect();
                let value = match choices.is_empty() {
                    true => value,
                    false => choices.join("\\|"),
                };
                let name = match (arg.get_long(), arg.get_short()) {
                    (Some(l), Some(s)) if takes => format!("`-{s}, --{l} {value}`"),
                    (Some(l), Some(s)) => format!("`-{s}, --{l}`"),
                    (Some(l), None) if takes => format!("`--{l} {value}`"),
                    (Some(l), None) => format!("`--{l}`"),
                    _ => format!("`{value}`"),
                };
                let default: Vec<String> = arg
                    .get_default_values()
                    .iter()
                    .map(|d| d.to_string_lossy().to_string())
                    .collect();
                let default = match default.is_empty() || !takes {
                    true => "–".to_string(),
                    false => format!("`{}`", default.join(",")),
                };
                out.push_str(&format!("| {name} | {default} |\n"));
            }
            out.push('\n');
        }
    }
    let mut out = String::new();
    walk("", &korthbox::cli::grammar::Cli::command(), &mut out);
    out
}

// docs/commands.md lists every flag of every command with the binary's default. With
// KORTHBOX_BLESS=1 the reference is written from the binary.
#[test]
fn the_flag_reference_is_the_binarys() {
    const BEGIN: &str = "<!-- reference: generated from the binary by tests/readme.rs -->\n";
    const END: &str = "<!-- end of reference -->";
    let path = root().join("docs/commands.md");
    let text = read("docs/commands.md");
    let start = text
        .find(BEGIN)
        .expect("docs/commands.md has the reference")
        + BEGIN.len();
    let end = text.find(END).expect("the reference's end");
    let expected = reference();
    if std::env::var_os("KORTHBOX_BLESS").is_some() {
        std::fs::write(
            &path,
            format!("{}{expected}{}", &text[..start], &text[end..]),
        )
        .unwrap();
        return;
    }
    assert!(
        text[start..end] == expected,
        "docs/commands.md's flag reference is not the binary's; run `KORTHBOX_BLESS=1 cargo test --test readme the_flag_reference_is_the_binarys` and review the diff"
    );
}
