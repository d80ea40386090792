//! The command line tells the truth and behaves like its neighbours (kind, minikube, kubectl):
//! hints that repeat the user's whole command line, the engine checked being the engine used,
//! valid multi-document YAML, a broken `korthbox.toml` that cannot break help, the neighbours'
//! words, JSON on failure, plain output for `TERM=dumb`.

mod support;

use std::process::Output;

use serde_json::Value;
use support::{Sandbox, failed_with, fixture_json, stand_ins};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// The command a hint says to run (`… `korthbox down --name dev --yes``), as words.
fn hinted_command(stderr: &str) -> Vec<String> {
    let hint = stderr
        .lines()
        .find(|l| l.starts_with("hint:") && l.contains("`korthbox "))
        .unwrap_or_else(|| panic!("no hint with a command in:\n{stderr}"));
    let command = hint.split('`').nth(1).unwrap();
    shell_words(command.strip_prefix("korthbox ").unwrap())
}

/// Splits a command line quoted for a POSIX shell (single quotes, as korthbox quotes).
fn shell_words(line: &str) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("for w in {line}; do printf '%s\\n' \"$w\"; done"),
        ])
        .output()
        .unwrap();
    stdout(&out).lines().map(String::from).collect()
}

// 1. The hint that adds --yes repeats the whole command line, so running it targets the same
// sandbox.
#[test]
fn the_yes_hint_run_as_printed_deletes_the_same_sandbox() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    stand_ins::add_korthbox_cluster(&sandbox, "kind", "korthbox");
    stand_ins::add_korthbox_cluster(&sandbox, "kind", "dev");
    for typed in [
        vec!["down", "--name", "dev"],
        vec!["reset", "--name", "dev", "--workers", "1", "--wait", "1"],
    ] {
        let out = sandbox.run(&typed);
        let err = failed_with(&out, 2, &["there is no terminal to ask on"]);
        let hinted = hinted_command(&err);
        let mut expected: Vec<String> = typed.iter().map(|s| s.to_string()).collect();
        expected.push("--yes".into());
        assert_eq!(hinted, expected, "{err}");
    }
    let hinted = hinted_command(&stderr(&sandbox.run(&["down", "--name", "dev"])));
    let words: Vec<&str> = hinted.iter().map(String::as_str).collect();
    ok(&sandbox.run(&words));
    assert!(stand_ins::has_cluster(&sandbox, "kind", "korthbox"));
    assert!(!stand_ins::has_cluster(&sandbox, "kind", "dev"));
}

// 2. An explicit DOCKER_HOST is the engine: when it does not answer, up stops there.
#[test]
fn a_dead_docker_host_stops_up_naming_it() {
    needs_shared!();
    let mut sandbox = stand_ins::with_docker_engine();
    // A working engine at the well-known socket must not be used instead.
    let _fallback = sandbox.serve_engine(
        "root/var/run/docker.sock",
        fixture_json("docker-engine-linux-fedora-info.json"),
    );
    let dead = sandbox.path("nothing.sock");
    sandbox.set("DOCKER_HOST", &format!("unix://{}", dead.display()));
    let out = sandbox.run(&["up", "--driver", "kind", "--wait", "1"]);
    let err = failed_with(&out, 1, &["DOCKER_HOST", &dead.display().to_string()]);
    // The host check fails; it does not pass on the engine at the well-known socket.
    assert!(err.contains("failed: Checking the host"), "{err}");
    assert!(!err.contains("done: Checking the host"), "{err}");
    assert!(
        stand_ins::calls(&sandbox).is_empty(),
        "{:?}",
        stand_ins::calls(&sandbox)
    );

    // A tcp:// engine that does not answer is said in words.
    sandbox.set("DOCKER_HOST", "tcp://127.0.0.1:9");
    let out = sandbox.run(&["up", "--driver", "kind", "--wait", "1"]);
    let err = failed_with(&out, 1, &["tcp://127.0.0.1:9", "DOCKER_HOST"]);
    assert!(!err.contains("hyper"), "{err}");
    assert!(!err.contains("client error"), "{err}");
}

// 2. --provider podman: the host check reports the Podman engine that will be used.
#[test]
fn the_provider_asked_for_is_the_engine_reported() {
    needs_shared!();
    let mut sandbox = Sandbox::new();
    let _docker = sandbox.serve_engine(
        "root/var/run/docker.sock",
        fixture_json("docker-engine-linux-fedora-info.json"),
    );
    // The captured Podman, as root (rootless Podman needs delegated cgroups this host lacks).
    let mut podman = fixture_json("podman-docker-api-info.json");
    podman["SecurityOptions"]
        .as_array_mut()
        .unwrap()
        .retain(|o| !o.as_str().unwrap().contains("rootless"));
    let _podman = sandbox.serve_engine("root/run/podman/podman.sock", podman);
    stand_ins::install(&mut sandbox, None);
    let out = sandbox.run(&[
        "up",
        "--driver",
        "kind",
        "--provider",
        "podman",
        "--wait",
        "1",
    ]);
    let err = stderr(&out);
    let host_line = err
        .lines()
        .find(|l| l.contains("Checking the host") && (l.contains('✓') || l.contains("done")))
        .unwrap_or_else(|| panic!("no host phase line:\n{err}"));
    assert!(host_line.contains("Podman"), "{host_line}");
    assert!(!host_line.contains("Docker Engine"), "{host_line}");
}

// 3. Every multi-document output is valid YAML with one object per document; the kind
// Cluster and the k3d Simple config validate against their tools' schemas.
#[test]
fn plan_prints_one_object_per_yaml_document() {
    needs_shared!();
    let sandbox = Sandbox::new();
    for driver in ["kind", "k3d", "minikube"] {
        let out = sandbox.run(&["plan", "--driver", driver, "--provider", "docker"]);
        let text = ok(&out);
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{driver}: not YAML ({e}):\n{text}"));
        let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
        for doc in &docs {
            assert!(doc["kind"].is_string(), "{driver}: {doc}");
            assert!(doc["apiVersion"].is_string(), "{driver}: {doc}");
        }
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        let schema = match driver {
            "kind" => Some(("Cluster", "kind-cluster-v1alpha4.schema.json")),
            "k3d" => Some(("Simple", "k3d-simple-v1alpha5.schema.json")),
            _ => None,
        };
        if let Some((kind, file)) = schema {
            assert_eq!(kinds[0], kind, "{driver}");
            let path = support::shared_path(&format!("schemas/{file}"));
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&docs[0])
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{driver}: {errors:?}");
        } else {
            assert!(!kinds.contains(&"Cluster"), "{driver}: {kinds:?}");
        }
        assert!(kinds.contains(&"Namespace"), "{driver}: {kinds:?}");
        assert!(kinds.contains(&"Deployment"), "{driver}: {kinds:?}");
    }
}

// 4. A broken korthbox.toml breaks neither help, version, completions nor doctor; a bad value
// names the file and its line; -v says which file was read.
#[test]
fn a_broken_config_file_breaks_nothing_that_helps_fix_it() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("project");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("korthbox.toml"),
        "workers = 2\ndriver = \"kubernetes\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        sandbox
            .command()
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        vec!["--help"],
        vec!["up", "--help"],
        vec!["--version"],
        vec!["version"],
        vec!["completions", "bash"],
        vec!["help", "up"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
    let out = run(&["doctor", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("doctor printed its document");
    assert!(doc["checks"].is_array());

    let out = run(&["up"]);
    let err = failed_with(&out, 2, &["korthbox.toml, line 2: driver = \"kubernetes\""]);
    assert!(!err.contains("--driver <"), "{err}");
    // The hint's command works.
    assert!(err.contains("`korthbox up --help`"), "{err}");

    // Numbers written as text are numbers; a mistyped key names the line and the nearest key.
    std::fs::write(dir.join("korthbox.toml"), "workers = \"3\"\n").unwrap();
    let out = run(&["plan", "--only", "cluster", "--driver", "kind", "-v"]);
    let text = ok(&out);
    assert_eq!(text.matches("role: worker").count(), 3, "{text}");
    assert!(
        stderr(&out).contains("settings from korthbox.toml"),
        "{}",
        stderr(&out)
    );
    std::fs::write(dir.join("korthbox.toml"), "\nwrokers = 3\n").unwrap();
    failed_with(
        &run(&["plan"]),
        2,
        &[
            "korthbox.toml, line 2: `wrokers` is not a setting",
            "did you mean `workers`?",
        ],
    );
}

// 5. The neighbours' words get korthbox's, suggested (destructive verbs are never aliased).
#[test]
fn the_neighbours_words_get_korthboxs() {
    let sandbox = Sandbox::new();
    for (typed, says) in [
        (
            vec!["delete", "cluster", "--name", "dev"],
            "`korthbox down --name dev`",
        ),
        (vec!["destroy"], "`korthbox down`"),
        // k3d's `cluster delete NAME`, minikube's `-p NAME`: korthbox takes the name as a flag,
        // and the suggestion runs as printed.
        (vec!["delete", "dev"], "`korthbox down --name dev`"),
        (
            vec!["delete", "cluster", "dev", "--yes"],
            "`korthbox down --name dev --yes`",
        ),
        (vec!["delete", "-p", "dev"], "`korthbox down --name dev`"),
        (
            vec!["run", "--workers", "3", "dev"],
            "`korthbox up --workers 3 --name dev`",
        ),
        (vec!["create", "cluster"], "`korthbox up`"),
        (
            vec!["deploy", "--workers", "1"],
            "`korthbox up --workers 1`",
        ),
        // `stop` and `start` are korthbox's own now; minikube's -p is still --name.
        (vec!["stop", "-p", "dev"], "`--name dev`"),
        (vec!["up", "--driver", "docker"], "`--provider docker`"),
        (vec!["up", "--profile", "dev"], "`--name dev`"),
    ] {
        let out = sandbox.run(&typed);
        let err = failed_with(&out, 2, &[says]);
        assert!(!err.contains("reset"), "{typed:?}: {err}");
        // A whole suggested command line is one korthbox accepts (its help shows).
        if let Some(line) = says.strip_prefix("`korthbox ") {
            let mut words: Vec<&str> = line.trim_end_matches('`').split(' ').collect();
            words.push("--help");
            let out = sandbox.run(&words);
            assert!(out.status.success(), "{says}: {}", stderr(&out));
        }
    }
    // kubectl's --kubeconfig is the kubeconfig read.
    let config = sandbox.path("elsewhere/config");
    support::kube_api::write_kubeconfig(&config, "lab", "https://127.0.0.1:1");
    let (doc, _) = sandbox.doctor_json(&["--kubeconfig", config.to_str().unwrap()]);
    let contexts = doc["contexts"].to_string();
    assert!(contexts.contains("\"lab\""), "{contexts}");
}

// 6. -o json, -y, durations with units, `version`.
#[test]
fn kubectls_spellings_and_durations_are_understood() {
    let sandbox = Sandbox::new();
    for flags in [["-o", "json"], ["--output", "json"]] {
        let out = sandbox.run(&["version", flags[0], flags[1]]);
        let doc: Value = serde_json::from_str(&ok(&out)).unwrap();
        assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
        assert!(
            doc["drivers"]["kind"]["kubernetes"]
                .as_str()
                .unwrap()
                .starts_with("v1.")
        );
    }
    let out = sandbox.run(&["version"]);
    assert!(ok(&out).starts_with(&format!("korthbox {}", env!("CARGO_PKG_VERSION"))));
    // Durations: accepted with units, refused without sense.
    let out = sandbox.run(&[
        "down",
        "--name",
        "nothere",
        "--yes",
        "--delete-timeout",
        "1m30s",
    ]);
    ok(&out);
    assert!(
        stderr(&out).contains("nothing to delete"),
        "{}",
        stderr(&out)
    );
    // The old spelling still works for a release, with a notice naming the new one (issue 26).
    let out = sandbox.run(&["down", "nothere", "--yes", "--timeout", "1m30s"]);
    ok(&out);
    assert!(
        stderr(&out).contains(
            "note: `korthbox down --timeout` is now `--delete-timeout`; the old spelling works until the next release"
        ),
        "{}",
        stderr(&out)
    );
    failed_with(
        &sandbox.run(&["up", "--wait", "soon"]),
        2,
        &["is not a duration"],
    );
    failed_with(
        &sandbox.run(&["up", "--registry-mirror", "https://mirror.example.com"]),
        2,
        &["no scheme"],
    );
    failed_with(
        &sandbox.run(&["up", "--registry-mirror", "mirror example"]),
        2,
        &["no spaces"],
    );
    // -y is --yes.
    let help = ok(&sandbox.run(&["down", "--help"]));
    assert!(help.contains("-y, --yes"), "{help}");
}

// 7. --json on failure: a JSON document on stdout as well as the error on stderr.
#[test]
fn a_failure_with_json_prints_json_too() {
    let sandbox = Sandbox::new();
    for args in [
        vec!["up", "--json", "--wait", "soon"],
        vec!["delete", "--json"],
        vec!["password", "--json"],
        vec![
            "prove",
            "-o",
            "json",
            "--url",
            "http://127.0.0.1:1",
            "--step-timeout",
            "1",
        ],
    ] {
        let out = sandbox.run(&args);
        let code = out.status.code().unwrap();
        assert_ne!(code, 0, "{args:?}");
        assert!(
            stderr(&out).contains("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: no JSON on stdout ({e}): {}", stdout(&out)));
        if doc.get("error").is_some() {
            assert_eq!(doc["exit"], code, "{args:?}");
            assert!(doc["causes"].is_array() && doc["hints"].is_array(), "{doc}");
        } else {
            // prove --json prints its steps, which say what failed.
            assert_eq!(doc["passed"], false, "{args:?}: {doc}");
        }
    }
}

// 8. TERM=dumb: plain phase lines and no escape codes, on a terminal too.
#[test]
fn a_dumb_terminal_gets_plain_lines() {
    let sandbox = Sandbox::new();
    if !support::real_part_available("script (util-linux), for a terminal", which("script")) {
        return;
    }
    // korthbox on a pseudo-terminal that `script` gives it.
    let script = |term: &str, command: &str| {
        let mut cmd = std::process::Command::new("script");
        cmd.env_clear();
        for (k, v) in &sandbox.envs {
            cmd.env(k, v);
        }
        cmd.env("TERM", term)
            .env("PATH", format!("{}:/usr/bin:/bin", sandbox.bin().display()));
        let line = format!("{} {command}", env!("CARGO_BIN_EXE_korthbox"));
        stdout(&cmd.args(["-qec", &line, "/dev/null"]).output().unwrap())
    };
    let coloured = script("xterm-256color", "doctor");
    assert!(
        coloured.contains('\u{1b}'),
        "a real terminal gets colour: {coloured:?}"
    );
    let plain = script("dumb", "doctor");
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    let up = script("dumb", "up --driver kind --wait 1");
    assert!(!up.contains('\u{1b}'), "{up:?}");
    assert!(up.contains("Checking the host"), "{up:?}");
}

fn which(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

// 6. `korthbox logs`: the stack's logs with the sandbox's context and namespace.
#[test]
fn logs_prints_a_components_log_from_the_sandboxs_namespace() {
    needs_shared!();
    let mut sandbox = Sandbox::new();
    let api = support::kube_api::FakeApi::kind();
    let config = api.kubeconfig(&sandbox.path("home/.kube/config"), "corp");
    sandbox.set("KUBECONFIG", config.to_str().unwrap());
    ok(&sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "5"]));
    api.log(
        "orthanc",
        "I1206 Orthanc has started\nI1206 Orthanc is ready\n",
    );
    api.log(
        "postgres",
        "database system is ready to accept connections\n",
    );
    let target = ["--driver", "existing", "--context", "corp"];
    let run = |extra: &[&str]| sandbox.run(&[&["logs"][..], extra, &target[..]].concat());
    let out = run(&[]);
    assert_eq!(
        ok(&out),
        "I1206 Orthanc has started\nI1206 Orthanc is ready\n"
    );
    assert!(
        stderr(&out).contains("-n korthbox logs pod/orthanc"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        ok(&run(&["postgres"])),
        "database system is ready to accept connections\n"
    );
    assert_eq!(ok(&run(&["--tail", "1"])), "I1206 Orthanc is ready\n");
    let requests = api.requests();
    assert!(
        requests.iter().any(|r| r.contains("/log?")
            && r.contains("container=orthanc")
            && r.contains("tailLines=1")),
        "{requests:#?}"
    );
    // MinIO is not there without --storage minio: said, with the flag that adds it.
    failed_with(&run(&["minio"]), 1, &["no minio pod", "--storage minio"]);
}

// 10. Options that do not apply say so once; a registry mirror is HOST[:PORT][/PATH].
#[test]
fn options_that_do_not_apply_say_so() {
    let sandbox = Sandbox::new();
    for (args, says) in [
        (
            vec!["--driver", "kind", "--node-cpus", "4"],
            "--node-cpus does not apply to --driver kind",
        ),
        (
            vec!["--driver", "k3d", "--node-memory=4096"],
            "--node-memory does not apply to --driver k3d",
        ),
        (
            vec!["--driver", "minikube", "--api-server-port", "7443"],
            "--api-server-port does not apply to --driver minikube",
        ),
        (
            vec!["--driver", "existing", "--context", "x", "--workers", "1"],
            "--workers does not apply to --driver existing",
        ),
        (
            vec![
                "--driver",
                "kind",
                "--storage",
                "minio",
                "--orthanc-storage",
                "postgres",
            ],
            "Orthanc keeps its files in PostgreSQL",
        ),
    ] {
        let mut all = vec!["plan", "--only", "images", "--provider", "docker"];
        all.extend(&args);
        let out = sandbox.run(&all);
        ok(&out);
        assert_eq!(
            stderr(&out).matches(says).count(),
            1,
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Nothing is said when the flag is not typed.
    let out = sandbox.run(&[
        "plan",
        "--only",
        "images",
        "--driver",
        "kind",
        "--provider",
        "docker",
    ]);
    assert!(!stderr(&out).contains("does not apply"), "{}", stderr(&out));
}

// 11. An API server that does not answer is said the same way by every command.
#[test]
fn an_unreachable_api_server_is_said_plainly_everywhere() {
    let mut sandbox = Sandbox::new();
    let config = sandbox.path("home/.kube/config");
    support::kube_api::write_kubeconfig(&config, "lab", "https://127.0.0.1:1");
    sandbox.set("KUBECONFIG", config.to_str().unwrap());
    let target = ["--driver", "existing", "--context", "lab"];
    for command in [
        vec!["password"],
        vec!["prove"],
        vec!["down", "--yes"],
        vec!["forward"],
        vec!["logs"],
    ] {
        let out = sandbox.run(&[&command[..], &target[..]].concat());
        let err = failed_with(
            &out,
            1,
            &[
                "the API server of context `lab` (https://127.0.0.1:1) cannot be reached",
                "connection refused",
                "`kubectl --context lab get nodes`",
                "`korthbox reset`",
            ],
        );
        assert!(!err.contains("ServiceError"), "{command:?}: {err}");
    }
    let out = sandbox.run(&[&["status"][..], &target[..]].concat());
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("(https://127.0.0.1:1) cannot be reached"),
        "{text}"
    );
    assert!(text.contains("`kubectl --context lab get nodes`"), "{text}");
    // A context that is not there is a usage error.
    for command in ["status", "password", "prove"] {
        let out = sandbox.run(&[command, "--driver", "existing", "--context", "nope"]);
        failed_with(&out, 2, &["there is no kube context `nope`"]);
    }
}

// 12. status while another korthbox holds the sandbox's lock says who is working on it.
#[test]
fn status_while_up_runs_says_it_is_being_created() {
    let sandbox = Sandbox::new();
    let path = sandbox.path("home/.cache/korthbox/locks/korthbox.lock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::fs::File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap();
    use std::io::Write;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    write!(file, "4242 {since} up --driver kind").unwrap();
    file.lock().unwrap();
    let out = sandbox.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["state"], "busy", "{doc}");
    let problem = doc["problems"][0].as_str().unwrap();
    assert!(problem.contains("is being created"), "{problem}");
    assert!(
        problem.contains("`korthbox up --driver kind` (pid 4242"),
        "{problem}"
    );
    drop(file);
    let out = sandbox.run(&["status", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["state"], "absent", "{doc}");
}

// 13. cluster load checks the cluster and the images first; no driver is exit 1 everywhere.
#[test]
fn cluster_load_checks_before_it_runs_the_tool() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    let out = sandbox.run(&[
        "cluster",
        "load",
        "--driver",
        "kind",
        "--name",
        "dev",
        "postgres:17.6",
    ]);
    failed_with(&out, 1, &["there is no sandbox dev"]);
    stand_ins::add_korthbox_cluster(&sandbox, "kind", "dev");
    let out = sandbox.run(&[
        "cluster",
        "load",
        "--driver",
        "kind",
        "--name",
        "dev",
        "postgres:17.6",
        "team/orthanc:not-built",
    ]);
    failed_with(
        &out,
        1,
        &[
            "not in the Docker engine",
            "team/orthanc:not-built",
            "`docker pull team/orthanc:not-built`",
        ],
    );
    assert!(!stderr(&out).contains("postgres:17.6"), "{}", stderr(&out));
    assert!(
        !stand_ins::calls(&sandbox)
            .iter()
            .any(|c| c.line().contains("load")),
        "{:?}",
        stand_ins::calls(&sandbox)
    );
    ok(&sandbox.run(&[
        "cluster",
        "load",
        "--driver",
        "kind",
        "--name",
        "dev",
        "postgres:17.6",
    ]));

    // No driver installed: exit 1 from every command that needs one.
    let bare = Sandbox::new();
    for args in [
        vec!["cluster", "load", "x:1"],
        vec!["cluster", "delete"],
        vec!["cluster", "create"],
        vec!["stack", "apply"],
        vec!["up"],
    ] {
        let out = bare.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    }
}

// plan with --provider names the socket `up` will point the tools at, without asking it.
#[test]
fn plan_with_a_provider_shows_the_docker_host_up_will_set() {
    let sandbox = Sandbox::new();
    // Podman's rootless socket exists (nothing answers on it: plan asks nothing).
    sandbox.write("home/run/podman/podman.sock", "");
    let out = sandbox.run(&[
        "plan",
        "--only",
        "cluster",
        "--driver",
        "k3d",
        "--provider",
        "podman",
        "-v",
    ]);
    let err = stderr(&out);
    ok(&out);
    let socket = sandbox.path("home/run/podman/podman.sock");
    assert!(
        err.contains(&format!(
            "would run: DOCKER_HOST=unix://{} k3d cluster create",
            socket.display()
        )),
        "{err}"
    );
}

// 8. Parse, don't accept: a bad image reference or port is refused by the argument parser
// (exit 2) before anything is created, on the command line and in korthbox.toml alike.
#[test]
fn bad_images_and_ports_are_refused_before_anything_runs() {
    needs_shared!();
    let sandbox = support::stand_ins::with_docker_engine();
    for (flag, value) in [
        ("--orthanc-image", "Bad Image!!"),
        ("--postgres-image", ""),
        ("--minio-image", "quay.io/minio/minio@sha256:abc"),
    ] {
        let out = sandbox.run(&["up", "--driver", "kind", flag, value]);
        failed_with(&out, 2, &[flag, "is not an image reference"]);
    }
    let out = sandbox.run(&["open", "--http-port", "0", "--print"]);
    failed_with(&out, 2, &["--http-port"]);
    assert!(
        support::stand_ins::calls(&sandbox).is_empty(),
        "a driver ran: {:?}",
        support::stand_ins::calls(&sandbox)
    );
    let dir = sandbox.path("project");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("korthbox.toml"),
        "orthanc-image = \"Bad Image!!\"\n",
    )
    .unwrap();
    let out = sandbox
        .command()
        .current_dir(&dir)
        .args(["up", "--driver", "kind"])
        .output()
        .unwrap();
    failed_with(
        &out,
        2,
        &["korthbox.toml, line 1", "is not an image reference"],
    );
    assert!(support::stand_ins::calls(&sandbox).is_empty());
    // A good one is taken.
    let out = sandbox.run(&[
        "plan",
        "--only",
        "images",
        "--driver",
        "kind",
        "--orthanc-image",
        "registry.example:5000/team/orthanc:26.8.1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
