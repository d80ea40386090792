//! `up`, `status`, `down`, `reset` end to end: stand-in kind/k3d/minikube, the in-memory fake
//! API server, and behind its port-forwards a real Orthanc (with a real PostgreSQL) running
//! the configuration korthbox renders, so that the proof's HTTP requests and DICOM C-ECHO are
//! answered for real.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::kube_api::{FakeApi, nodes_from_table};
use support::orthanc::free_port;
use support::stand_ins::{self, Call};
use support::world::{World, docker, start_registry};
use support::{Sandbox, fixture, fixture_json};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Phases that run at once (the stack's components) end in any order: each run of their
/// `done:` lines sorted, so that a snapshot holds.
fn concurrent_in_order(text: &str) -> String {
    // The stack applies what the components need first (namespace, secrets, configuration),
    // then the components at once: they start and finish in any order, so the lines after the
    // configuration's are put as their starts and then their ends, each sorted.
    let lines: Vec<&str> = text.lines().collect();
    let concurrent = |l: &str| {
        (l.starts_with("Applying ") || l.starts_with("Waiting for ")) && l.ends_with(" ...")
            || l.starts_with("done: Applying ")
            || l.starts_with("done: Waiting for ")
    };
    let Some(after) = lines
        .iter()
        .position(|l| l.starts_with("done: Applying configuration"))
        .map(|i| i + 1)
    else {
        return text.to_string();
    };
    let run = lines[after..].iter().take_while(|l| concurrent(l)).count();
    let (mut starts, mut ends): (Vec<&str>, Vec<&str>) = lines[after..after + run]
        .iter()
        .partition(|l| l.ends_with(" ..."));
    starts.sort();
    ends.sort();
    let mut out: Vec<&str> = lines[..after].to_vec();
    out.extend(starts);
    out.extend(ends);
    out.extend(&lines[after + run..]);
    out.join("\n") + "\n"
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Waits until `child` prints a stderr line containing `needle`; returns the rest of its
/// stderr as it comes.
fn wait_for_line(child: &mut Child, needle: &str) -> std::sync::mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return rx;
            }
        }
    }
    panic!("no line with {needle:?} within 30s; saw {seen:#?}");
}

fn interrupt(mut child: Child, rest: std::sync::mpsc::Receiver<String>) -> std::process::Output {
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut out = child.wait_with_output().unwrap();
    out.stderr = rest.try_iter().collect::<Vec<_>>().join("\n").into_bytes();
    out
}

#[test]
fn up_creates_proves_and_summarises_then_changes_nothing_when_run_again() {
    let Some(world) = World::new() else { return };
    let out = world.run("up", &[]);
    let stdout = ok(&out);
    let err = stderr(&out);
    assert!(
        stdout.starts_with(
            "Sandbox korthbox is ready (created): kind cluster, context kind-korthbox"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{}", world.ports[0])),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("127.0.0.1:{}  AE title KORTHBOX", world.ports[1])),
        "{stdout}"
    );
    assert!(
        stdout.contains("user admin, password: `korthbox password`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kubectl --context kind-korthbox -n korthbox get pods"),
        "{stdout}"
    );
    assert!(stdout.contains("Proof     passed"), "{stdout}");
    for phase in [
        "Checking the host",
        "Creating kind cluster korthbox",
        "Checking the cluster of context kind-korthbox",
        "Applying PostgreSQL",
        "Applying Orthanc",
        "Proving Orthanc works",
    ] {
        assert!(
            err.contains(&format!("done: {phase}")),
            "{phase} missing from:\n{err}"
        );
    }
    // The proof ran against the real Orthanc through the fake's port-forwards (one per
    // connection: echo, store and find on one DICOM association, HTTP kept alive), asked the
    // volume through exec in the Orthanc pod, and cleaned up.
    let requests = world.api.requests();
    let count = |needle: &str| requests.iter().filter(|r| r.contains(needle)).count();
    assert_eq!(count("/portforward?&ports=4242"), 1, "{requests:#?}");
    assert!(count("/portforward?&ports=8042") >= 1, "{requests:#?}");
    assert!(count("/pods/orthanc-0/exec?") >= 3, "{requests:#?}");
    assert!(
        requests
            .iter()
            .filter(|r| r.contains("/exec?"))
            .all(|r| r.contains("container=orthanc")),
        "{requests:#?}"
    );
    assert_eq!(
        world.orthanc.get("/statistics").json()["CountInstances"],
        0,
        "the proof deleted its instance"
    );
    let ns = world.api.get("/api/v1/namespaces/korthbox").unwrap();
    assert_eq!(
        ns["metadata"]["annotations"]["korthbox.io/last-proof"],
        "passed"
    );
    // The password was never printed.
    assert!(!stdout.contains(&world.orthanc.password) && !err.contains(&world.orthanc.password));

    // Again: the cluster is reused, nothing changes, and it says so; --json for scripts.
    let out = world.run("up", &["--json"]);
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(summary["cluster_created"], false);
    assert_eq!(summary["changed"], 0);
    assert_eq!(summary["proof"]["passed"], true);
    let steps: Vec<&str> = summary["proof"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "echo", "store", "find", "read", "dicomweb", "storage", "cleanup"
        ]
    );
    let storage = summary["proof"]["steps"][5]["detail"].as_str().unwrap();
    assert!(
        storage.starts_with("Orthanc's volume (/var/lib/orthanc/db): ")
            && storage.contains(" /var/lib/orthanc/db/"),
        "{storage}"
    );
    assert_eq!(
        summary["endpoints"]["orthanc_url"],
        format!("http://127.0.0.1:{}", world.ports[0])
    );
    let creates = world
        .calls()
        .iter()
        .filter(|c| c.line().starts_with("kind create"))
        .count();
    assert_eq!(creates, 1);
    assert!(
        stderr(&out).contains("it exists; reusing it"),
        "{}",
        stderr(&out)
    );

    let out = world.run("up", &["--timings"]);
    ok(&out);
    assert!(stdout_or(&out).contains("already up; nothing changed"));
    assert!(
        stderr(&out).lines().any(|l| l.starts_with("total")),
        "{}",
        stderr(&out)
    );
}

fn stdout_or(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn up_repairs_what_it_owns() {
    let Some(world) = World::new() else { return };
    ok(&world.run("up", &[]));
    // Someone deleted Orthanc's Service.
    world
        .api
        .remove("/api/v1/namespaces/korthbox/services/orthanc");
    let out = world.run("up", &["--json"]);
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(summary["changed"], 1);
    assert!(
        world
            .api
            .get("/api/v1/namespaces/korthbox/services/orthanc")
            .is_some()
    );
}

#[test]
fn status_down_and_absent() {
    let Some(world) = World::new() else { return };
    ok(&world.run("up", &[]));
    let out = world.run("status", &["--json"]);
    let report: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(report["state"], "healthy", "{report:#}");
    assert_eq!(report["driver"], "kind");
    assert_eq!(report["nodes"].as_array().unwrap().len(), 3);
    let components = support::strings(&report["components"], "name");
    assert_eq!(components, ["postgres", "orthanc"]);
    assert_eq!(report["last_proof"]["result"], "passed");
    let table = ok(&world.run("status", &[]));
    assert!(
        table.starts_with("Sandbox korthbox: healthy (kind cluster, context kind-korthbox)"),
        "{table}"
    );
    // The ports `up` mapped, not the defaults.
    assert!(
        table.contains(&format!(
            "http://127.0.0.1:{} (DICOM 127.0.0.1:{}",
            world.ports[0], world.ports[1]
        )),
        "{table}"
    );

    // Degraded: Orthanc not ready.
    let mut deployment = world
        .api
        .get("/apis/apps/v1/namespaces/korthbox/deployments/orthanc")
        .unwrap();
    deployment["status"]["readyReplicas"] = json!(0);
    world.api.put(
        "/apis/apps/v1/namespaces/korthbox/deployments/orthanc",
        deployment,
    );
    let out = world.run("status", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout_or(&out).contains("problem: Deployment orthanc has 0/1 ready"),
        "{}",
        stdout_or(&out)
    );

    // down without a terminal and without --yes asks for --yes.
    let out = world.run("down", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint: add --yes"), "{}", stderr(&out));
    assert!(stand_ins::has_cluster(&world.sandbox, "kind", "korthbox"));

    ok(&world.run("down", &["--yes"]));
    assert_eq!(
        world.calls().last().unwrap().line(),
        "kind delete cluster --name korthbox"
    );
    let out = world.run("status", &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "absent");
    // Idempotent.
    let out = world.run("down", &["--yes"]);
    ok(&out);
    assert!(stderr(&out).contains("there is no sandbox korthbox; nothing to delete"));
}

#[test]
fn a_second_korthbox_on_the_same_sandbox_waits_or_names_the_holder() {
    let Some(mut world) = World::new() else {
        return;
    };
    world.sandbox.set("STANDIN_SLEEP", "4");
    let mut first = world.spawn("up", &[]);
    let _rest = wait_for_line(&mut first, "Creating kind cluster");
    let out = world.run("down", &["--yes", "--lock-wait", "0"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: sandbox korthbox is busy: `korthbox up` (pid {}",
            first.id()
        )),
        "{err}"
    );
    assert!(err.contains(&format!("kill {}", first.id())), "{err}");
    // With time to wait, the second one runs after the first.
    let second = world.run("up", &["--lock-wait", "60"]);
    let err = stderr(&second);
    assert!(err.contains("waiting for `korthbox up`"), "{err}");
    ok(&second);
    assert!(first.wait().unwrap().success());
}

#[test]
fn interrupted_while_creating_then_up_continues() {
    let Some(mut world) = World::new() else {
        return;
    };
    world.sandbox.set("STANDIN_SLEEP", "30");
    let mut child = world.spawn("up", &[]);
    let rest = wait_for_line(&mut child, "Creating kind cluster korthbox");
    let out = interrupt(child, rest);
    assert_eq!(out.status.code(), Some(130));
    let err = stderr(&out);
    assert!(
        err.contains("error: interrupted during \"Creating kind cluster korthbox\""),
        "{err}"
    );
    assert!(err.contains("hint: nothing is left half-done that `korthbox up` cannot continue from; `korthbox reset` starts over"), "{err}");
    world.sandbox.set("STANDIN_SLEEP", "0");
    // The half-made cluster exists; up takes it from there.
    let stdout = ok(&world.run("up", &[]));
    assert!(stdout.contains("is ready"), "{stdout}");
}

#[test]
fn interrupted_while_applying_then_reset_starts_over() {
    let Some(world) = World::new() else { return };
    world.api.set_ready(false);
    let mut child = world.spawn("up", &["--wait", "60"]);
    let rest = wait_for_line(&mut child, "Applying PostgreSQL");
    let out = interrupt(child, rest);
    assert_eq!(out.status.code(), Some(130));
    world.api.set_ready(true);
    let out = world.run("reset", &["--yes"]);
    let stdout = ok(&out);
    assert!(
        stdout.contains("is ready (created)"),
        "{stdout}\n{}",
        stderr(&out)
    );
    let lines: Vec<String> = world.calls().iter().map(Call::line).collect();
    let delete = lines
        .iter()
        .position(|l| l == "kind delete cluster --name korthbox")
        .unwrap();
    let create = lines
        .iter()
        .rposition(|l| l.starts_with("kind create cluster"))
        .unwrap();
    assert!(delete < create, "{lines:#?}");
}

#[test]
fn failure_classes_have_one_error_a_hint_and_the_right_code() {
    let Some(world) = World::new() else { return };
    // Port busy.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = world.run("up", &["--http-port", &port]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: this machine cannot host the sandbox yet"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "host.port.http: 127.0.0.1:{port} (Orthanc HTTP) is already in use"
        )),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(err.contains("hint:"), "{err}");
    // Bad name.
    let out = world.run("up", &["--name", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2));
    // Driver missing.
    std::fs::remove_file(world.sandbox.bin().join("minikube")).unwrap();
    let out = world.run("up", &["--driver", "minikube", "--name", "other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--driver minikube needs minikube, which is not installed"),
        "{}",
        stderr(&out)
    );
    // Image pull failure, named with the image.
    world.api.set_ready(false);
    let image = "docker.io/library/postgres:17.11-bookworm@sha256:051f7b7b3abdd564d5d1bd1e8c4b9c1b6e77087d1dd22020ede611c096a272e0";
    world.api.put(
        "/api/v1/namespaces/korthbox/pods/postgres-0",
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "postgres-0", "namespace": "korthbox",
                            "labels": {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "korthbox"}},
               "status": {"phase": "Pending", "containerStatuses": [{"name": "postgres", "image": image, "imageID": "", "ready": false, "restartCount": 0,
                   "state": {"waiting": {"reason": "ErrImagePull", "message": "failed to pull: dial tcp: lookup registry-1.docker.io: no such host"}}}]}}),
    );
    let out = world.run("up", &["--wait", "2"]);
    let hint = format!("hint: the nodes could not pull {image}");
    support::failed_with(
        &out,
        1,
        &[
            "error: StatefulSet korthbox/postgres was not ready within 2s",
            &hint,
        ],
    );
}

/// `up` on the existing cluster `context` of the kubeconfig at `config`.
fn up_existing(world: &World, config: &std::path::Path, context: &str) -> std::process::Output {
    let mut cmd = world.sandbox.command();
    cmd.env("KUBECONFIG", config).args([
        "up",
        "--driver",
        "existing",
        "--context",
        context,
        "--wait",
        "2",
    ]);
    cmd.output().unwrap()
}

#[test]
fn api_unreachable_and_refused_clusters() {
    let Some(world) = World::new() else { return };
    let dead = free_port();
    let config = world.sandbox.path("home/.kube/other");
    support::kube_api::write_kubeconfig(&config, "lab", &format!("https://127.0.0.1:{dead}"));
    let out = up_existing(&world, &config, "lab");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the API server of context `lab` (https://127.0.0.1:{dead}) cannot be reached"
        )),
        "{err}"
    );

    let dd = FakeApi::serve(vec![fixture_json("docker-desktop-k8s-node.json")]);
    let config = world.sandbox.path("home/.kube/dd");
    dd.kubeconfig(&config, "docker-desktop");
    let out = up_existing(&world, &config, "docker-desktop");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("it is Docker Desktop's built-in Kubernetes"),
        "{err}"
    );
    assert!(dd.writes().is_empty());
}

#[test]
fn korthbox_toml_sets_defaults_that_flags_override() {
    let Some(world) = World::new() else { return };
    let dir = world.sandbox.path("project");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("korthbox.toml"),
        "workers = 3\nkubernetes-version = \"v1.35.8\"\n",
    )
    .unwrap();
    let plan = |extra: &[&str]| {
        let mut cmd = world.sandbox.command();
        cmd.current_dir(&dir)
            .args([
                "plan",
                "--only",
                "cluster",
                "--driver",
                "kind",
                "--provider",
                "docker",
            ])
            .args(extra);
        cmd.output().unwrap()
    };
    let text = stdout_or(&plan(&[]));
    assert_eq!(text.matches("role: worker").count(), 3, "{text}");
    assert!(text.contains("kindest/node:v1.35.8@"), "{text}");
    let text = stdout_or(&plan(&["--workers", "1"]));
    assert_eq!(text.matches("role: worker").count(), 1, "the flag wins");

    std::fs::write(dir.join("korthbox.toml"), "workers = 3\nwrokers = 4\n").unwrap();
    let out = plan(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("korthbox.toml, line 2") && err.contains("wrokers"),
        "{err}"
    );

    std::fs::write(dir.join("other.toml"), "workers = \"two\"\n").unwrap();
    let out = plan(&["--config", "other.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("other.toml, line 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_are_printed_for_every_shell() {
    let sandbox = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = sandbox.run(&["completions", shell]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("korthbox") && text.contains("reset"),
            "{shell}"
        );
    }
}

#[test]
fn reset_removes_what_the_driver_left_behind_on_the_real_engine() {
    let engine_up = std::path::Path::new("/var/run/docker.sock").exists()
        && docker(&["version"]).status.success();
    if !support::real_part_available("Docker Engine with its CLI", engine_up) {
        return;
    }
    let Some(world) = World::with_engine(Some("unix:///var/run/docker.sock")) else {
        return;
    };
    let name = format!("rs{}", std::process::id());
    let label = format!("io.x-k8s.kind.cluster={name}");
    // What a kind cluster that broke half-way leaves: a node container, a network, a volume;
    // plus a container of someone else's that must survive.
    let rootfs = world.sandbox.write("rootfs/hello", "korthbox\n");
    let tar = world.sandbox.path("tiny.tar");
    assert!(support::tar_dir(rootfs.parent().unwrap(), &tar));
    assert!(
        docker(&["import", tar.to_str().unwrap(), "korthbox-test/tiny:1"])
            .status
            .success()
    );
    let node = format!("{name}-control-plane");
    let other = format!("{name}-not-ours");
    for (container, labelled) in [(&node, true), (&other, false)] {
        let mut args = vec!["create", "--name", container.as_str()];
        if labelled {
            args.extend(["--label", label.as_str()]);
        }
        args.extend(["korthbox-test/tiny:1", "/hello"]);
        let out = docker(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let network = format!("{name}-net");
    assert!(
        docker(&["network", "create", "--label", &label, &network])
            .status
            .success()
    );
    let volume = format!("{name}-vol");
    assert!(
        docker(&["volume", "create", "--label", &label, &volume])
            .status
            .success()
    );
    stand_ins::add_korthbox_cluster(&world.sandbox, "kind", &name);
    // A stale context in a second kubeconfig file, beside one to keep.
    let second = world.sandbox.path("home/.kube/second");
    let merged = format!(
        "{}\n",
        serde_json::to_string(&json!({
            "apiVersion": "v1", "kind": "Config", "current-context": format!("kind-{name}"),
            "clusters": [{"name": format!("kind-{name}"), "cluster": {"server": "https://127.0.0.1:1"}},
                         {"name": "keep-me", "cluster": {"server": "https://127.0.0.1:2"}}],
            "contexts": [{"name": format!("kind-{name}"), "context": {"cluster": format!("kind-{name}"), "user": format!("kind-{name}")}},
                         {"name": "keep-me", "context": {"cluster": "keep-me", "user": "keep-me"}}],
            "users": [{"name": format!("kind-{name}"), "user": {"token": "x"}}, {"name": "keep-me", "user": {"token": "y"}}],
        }))
        .unwrap()
    );
    std::fs::create_dir_all(second.parent().unwrap()).unwrap();
    std::fs::write(&second, merged).unwrap();
    let first = world.sandbox.path("home/.kube/config");
    let mut cmd = world.sandbox.command();
    cmd.env(
        "KUBECONFIG",
        format!("{}:{}", first.display(), second.display()),
    );
    // Images the real engine has (no registry is reachable here): nothing to download.
    cmd.args(world.args(
        "reset",
        &[
            "--yes",
            "--name",
            &name,
            "--orthanc-image",
            "korthbox-test/tiny:1",
            "--postgres-image",
            "korthbox-test/tiny:1",
        ],
    ));
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    ok(&out);
    assert!(err.contains(&format!("removed containers {node}")), "{err}");
    assert!(
        err.contains(&format!("networks {network}")) && err.contains(&format!("volumes {volume}")),
        "{err}"
    );
    assert!(
        !docker(&["container", "inspect", &node]).status.success(),
        "the node container is gone"
    );
    assert!(!docker(&["network", "inspect", &network]).status.success());
    assert!(!docker(&["volume", "inspect", &volume]).status.success());
    assert!(
        docker(&["container", "inspect", &other]).status.success(),
        "someone else's container stays"
    );
    let kept = std::fs::read_to_string(&second).unwrap();
    assert!(
        kept.contains("keep-me") && !kept.contains(&format!("kind-{name}")),
        "{kept}"
    );
    let _ = docker(&["rm", "-f", &other]);
}

#[test]
fn snapshots_of_the_human_output() {
    let Some(world) = World::new() else { return };
    let out = world.run("up", &[]);
    let stdout = ok(&out);
    insta::with_settings!({filters => vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\(\d+\.\d+s\)", "([TIME])"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[DATE]"),
        (r"sport = :\d+", "sport = :[PORT]"),
        (r"\(Orthanc \d+\.\d+\.\d+\)", "(Orthanc [VERSION])"),
    ]}, {
        insta::assert_snapshot!("up_stdout", stdout);
        insta::assert_snapshot!("up_stderr", concurrent_in_order(&stderr(&out)));
        insta::assert_snapshot!("status_healthy", ok(&world.run("status", &[])));
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port().to_string();
        insta::assert_snapshot!("up_port_busy", stderr(&world.run("up", &["--name", "other", "--http-port", &port])));
        insta::assert_snapshot!("down_without_yes", stderr(&world.run("down", &[])));
    });
}

#[test]
fn interrupted_while_checking_the_cluster_then_up_continues() {
    let Some(world) = World::new() else { return };
    let ready = nodes_from_table(&fixture("kind-multinode-get-nodes-wide.txt"), None);
    let text = fixture("kind-multinode-get-nodes-wide.txt").replace(
        "kind-worker2         Ready   ",
        "kind-worker2         NotReady",
    );
    world.api.set_nodes(nodes_from_table(&text, None));
    let mut child = world.spawn("up", &["--wait", "60"]);
    let rest = wait_for_line(&mut child, "Checking the cluster of context kind-korthbox");
    let out = interrupt(child, rest);
    assert_eq!(out.status.code(), Some(130));
    assert!(
        world.api.writes().is_empty(),
        "nothing was applied before the nodes were Ready"
    );
    world.api.set_nodes(ready);
    ok(&world.run("up", &[]));
}

#[test]
fn forward_password_and_prove() {
    let Some(world) = World::new() else { return };
    ok(&world.run("up", &[]));
    let password = ok(&world.run("password", &[]));
    assert_eq!(
        password.trim(),
        world.orthanc.password,
        "the admin password, when asked"
    );

    let proof = ok(&world.run("prove", &[]));
    let marks: Vec<&str> = proof
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        marks,
        [
            "echo", "store", "find", "read", "dicomweb", "storage", "cleanup"
        ],
        "{proof}"
    );
    assert!(proof.lines().all(|l| l.starts_with('✓')), "{proof}");
    let json: Value = serde_json::from_str(&ok(&world.run("prove", &["--json"]))).unwrap();
    assert_eq!(json["passed"], true);

    let (http, dicom) = (free_port().to_string(), free_port().to_string());
    let mut child = world.spawn("forward", &["--http-port", &http, "--dicom-port", &dicom]);
    let rest = wait_for_line(&mut child, "Forwarding");
    let port: u16 = http.parse().unwrap();
    let r = support::http::request(
        "GET",
        port,
        "/system",
        ("admin", &world.orthanc.password),
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["DicomAet"], "KORTHBOX");
    let out = interrupt(child, rest);
    assert_eq!(
        out.status.code(),
        Some(0),
        "Ctrl-C is how forward ends: {}",
        stderr(&out)
    );
}

#[test]
fn a_failed_proof_fails_up_with_the_step() {
    let Some(world) = World::new() else { return };
    // The DICOM port leads nowhere: everything else works, the C-ECHO cannot.
    world.api.forward(4242, free_port());
    let out = world.run("up", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: the sandbox is up but the proof failed at step echo"),
        "{err}"
    );
    assert!(
        err.contains("caused by: expected a C-ECHO answer, got: could not associate with KORTHBOX"),
        "{err}"
    );
    assert!(
        err.contains(
            "(port-forward: orthanc-0:4242: error forwarding port 4242: connection refused)"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: the port-forward to Orthanc's pod failed"),
        "{err}"
    );
    assert!(
        err.contains("`korthbox prove` runs the proof again"),
        "{err}"
    );
    let ns = world.api.get("/api/v1/namespaces/korthbox").unwrap();
    let last = ns["metadata"]["annotations"]["korthbox.io/last-proof"]
        .as_str()
        .unwrap();
    assert!(
        last.starts_with("failed: echo: expected a C-ECHO answer"),
        "{last}"
    );
    let out = world.run("status", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout_or(&out).contains("the last proof failed"),
        "{}",
        stdout_or(&out)
    );
}

#[test]
fn on_an_existing_cluster_down_deletes_only_what_korthbox_installed() {
    let Some(world) = World::new() else { return };
    // A cluster without a default class: korthbox installs local-path, labelled as its own.
    world
        .api
        .remove("/apis/storage.k8s.io/v1/storageclasses/standard");
    world
        .api
        .kubeconfig(&world.sandbox.path("home/.kube/config"), "lab");
    let out = world.run("up", &["--driver", "existing", "--context", "lab"]);
    let stdout = ok(&out);
    assert!(
        stdout.contains("run `korthbox forward --context lab`"),
        "{stdout}"
    );
    assert!(
        world
            .api
            .get("/apis/storage.k8s.io/v1/storageclasses/local-path")
            .is_some()
    );
    assert!(
        world.calls().iter().all(|c| !c.line().contains("create")),
        "nothing is created"
    );

    ok(&world
        .sandbox
        .run(&["down", "--yes", "--driver", "existing", "--context", "lab"]));
    let paths = world.api.paths();
    assert!(
        !paths.iter().any(|p| p.contains("/namespaces/korthbox")),
        "{paths:#?}"
    );
    assert!(
        !paths.iter().any(|p| p.contains("local-path")),
        "{paths:#?}"
    );
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.starts_with("/api/v1/nodes/"))
            .count(),
        3,
        "the cluster stays"
    );
}

#[test]
fn up_without_an_engine_says_how_to_get_one() {
    let mut sandbox = Sandbox::new();
    stand_ins::install(&mut sandbox, None);
    let out = sandbox.run(&["up"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: no container engine answered"), "{err}");
    assert!(err.contains("caused by: no engine socket exists"), "{err}");
    assert!(
        err.contains("hint: start your engine") && err.contains("`korthbox doctor`"),
        "{err}"
    );
    assert!(
        stand_ins::calls(&sandbox)
            .iter()
            .all(|c| !c.line().contains("create"))
    );
}

#[test]
fn images_come_through_the_mirror_in_parallel_with_creation_and_load_into_the_nodes() {
    let ready = std::path::Path::new("/var/run/docker.sock").exists()
        && docker(&["version"]).status.success()
        && std::path::Path::new("/usr/bin/docker-registry").exists();
    if !support::real_part_available("Docker Engine and Debian's docker-registry", ready) {
        return;
    }
    let Some(mut world) = World::with_engine(Some("unix:///var/run/docker.sock")) else {
        return;
    };
    let registry = start_registry(&world.sandbox);
    // Big enough (48 MiB each) that a pull takes a measurable time.
    let flags = support::world::mirrored_stack(&world.sandbox, &registry, 48 << 20);
    let mirror = format!("127.0.0.1:{}", registry.port);
    let (orthanc_image, postgres_image) = (flags[4].clone(), flags[6].clone());
    let digest = |image: &str| image.rsplit_once('@').unwrap().1.to_string();
    let (orthanc, postgres) = (digest(&orthanc_image), digest(&postgres_image));
    world.sandbox.set("STANDIN_SLEEP", "2");
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let out = world.run("up", &args);
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    let images: Vec<(String, bool)> = summary["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["reference"].as_str().unwrap().to_string(),
                i["pulled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            (
                format!("{mirror}/library/postgres:kb-test@{postgres}"),
                true
            ),
            (
                format!("{mirror}/orthancteam/orthanc:kb-test@{orthanc}"),
                true
            ),
        ]
    );
    // The two pulls ran at the same time: each began before the other ended.
    let windows: Vec<(f64, f64)> = summary["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let start = i["start"].as_f64().unwrap();
            (start, start + i["seconds"].as_f64().unwrap())
        })
        .collect();
    assert!(
        windows[0].0 < windows[1].1 && windows[1].0 < windows[0].1,
        "{windows:?}"
    );
    assert!(windows.iter().all(|w| w.1 - w.0 >= 0.1), "{windows:?}");
    // The pulls ran while the cluster was being created.
    let phase = |name: &str| {
        summary["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["phase"].as_str().unwrap().starts_with(name))
            .cloned()
            .unwrap()
    };
    let (create, pulls) = (phase("Creating kind cluster"), phase("Pulling images"));
    let create_end = create["start"].as_f64().unwrap() + create["seconds"].as_f64().unwrap();
    assert!(create["seconds"].as_f64().unwrap() >= 1.9, "{create}");
    assert!(
        pulls["start"].as_f64().unwrap() <= create["start"].as_f64().unwrap() + 0.2,
        "{pulls} vs {create}"
    );
    assert!(pulls["start"].as_f64().unwrap() < create_end);
    // Loaded into the nodes by tag, and the manifests name them so.
    let load = world
        .calls()
        .into_iter()
        .find(|c| c.line().starts_with("kind load"))
        .unwrap();
    assert_eq!(
        load.line(),
        format!(
            "kind load docker-image {mirror}/library/postgres:kb-test {mirror}/orthancteam/orthanc:kb-test --name korthbox"
        )
    );
    let deployment = world
        .api
        .get("/apis/apps/v1/namespaces/korthbox/deployments/orthanc")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{mirror}/orthancteam/orthanc:kb-test")
    );
    assert!(
        docker(&[
            "image",
            "inspect",
            &format!("{mirror}/orthancteam/orthanc:kb-test")
        ])
        .status
        .success()
    );

    // A warm cache downloads nothing, and what is in the nodes is not loaded again.
    world.sandbox.set("STANDIN_SLEEP", "0");
    let summary: Value = serde_json::from_str(&ok(&world.run("up", &args))).unwrap();
    assert!(
        summary["images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["pulled"] == false),
        "{summary:#}"
    );
    let loads = |world: &World| {
        world
            .calls()
            .into_iter()
            .filter(|c| c.line().starts_with("kind load"))
            .count()
    };
    assert_eq!(loads(&world), 1, "the second up loaded nothing");
    // A cluster made again gets its images again.
    ok(&world.run("down", &["--yes"]));
    ok(&world.run("up", &args));
    assert_eq!(loads(&world), 2);

    // A pull failure names the image and the registry — and, behind a proxy, the shell's
    // proxy (masked) and its NO_PROXY, since the engine pulls with its own settings.
    world
        .sandbox
        .set(
            "HTTPS_PROXY",
            "http://frank:pr0xy-pw@proxy.corp.example:3128",
        )
        .set("NO_PROXY", "localhost,127.0.0.1");
    let missing = format!(
        "docker.io/library/postgres:absent@sha256:{}",
        "0".repeat(64)
    );
    let out = world.run(
        "up",
        &[
            "--registry-mirror",
            &mirror,
            "--postgres-image",
            &missing,
            "--orthanc-image",
            &orthanc_image,
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: could not pull {mirror}/library/postgres:absent@sha256:{} from {mirror}",
            "0".repeat(64)
        )),
        "{err}"
    );
    assert!(err.contains("--registry-mirror"), "{err}");
    assert!(
        err.contains("caused by: the shell goes through proxy http://***@proxy.corp.example:3128 (NO_PROXY: localhost,127.0.0.1)")
            && err.contains("host.proxy")
            && !err.contains("pr0xy-pw"),
        "{err}"
    );
    world.sandbox.set("HTTPS_PROXY", "").set("NO_PROXY", "");
    // MinIO's image is not where people expect it any more: its failure says what to do.
    let out = world.run(
        "up",
        &[
            "--registry-mirror",
            &mirror,
            "--postgres-image",
            &postgres_image,
            "--orthanc-image",
            &orthanc_image,
            "--storage",
            "minio",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: could not pull {mirror}/minio/minio:RELEASE."
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: MinIO stopped publishing community images (its Docker Hub repositories were withdrawn in September 2026)")
            && err.contains("--minio-image"),
        "{err}"
    );
    for image in [
        format!("{mirror}/orthancteam/orthanc:kb-test"),
        format!("{mirror}/library/postgres:kb-test"),
    ] {
        let _ = docker(&["rmi", "-f", &image]);
    }
}

#[test]
fn up_offers_to_install_a_driver_at_a_terminal() {
    let Some(world) = World::new() else { return };
    // No driver on PATH; the "release" served is the stand-in kind itself.
    let kind = std::fs::read(world.sandbox.bin().join("kind")).unwrap();
    for tool in ["kind", "k3d", "minikube"] {
        std::fs::remove_file(world.sandbox.bin().join(tool)).unwrap();
    }
    let hash = support::sha256(&kind);
    let pin = hash.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            let Some(request) = support::read_request_full(&mut reader) else {
                continue;
            };
            let body = if request.line.contains(".sha256sum") {
                format!("{hash}  kind-linux-amd64\n").into_bytes()
            } else {
                kind.clone()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
            let _ = std::io::Write::write_all(&mut stream, &body);
        }
    });
    let bin_dir = world.sandbox.path("installed");
    // `script` gives korthbox a terminal; "y" answers the offer.
    let command = world
        .args("up", &[])
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    if !std::path::Path::new("/usr/bin/script").exists() {
        assert!(
            !support::require_real_parts(),
            "util-linux's `script` is required"
        );
        return;
    }
    let mut cmd = std::process::Command::new("/usr/bin/script");
    cmd.env_clear();
    for (k, v) in &world.sandbox.envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .env("KORTHBOX_DOWNLOAD_BASE", format!("http://127.0.0.1:{port}"))
        .env("KORTHBOX_INSTALL_SHA256", &pin)
        .env("KORTHBOX_BIN_DIR", &bin_dir)
        // A terminal that draws (without TERM, spinners are not drawn at all).
        .env("TERM", "xterm-256color")
        .args([
            "-qec",
            &format!("{} {command}", env!("CARGO_BIN_EXE_korthbox")),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The terminal's output as it comes, to see what is drawn while the question waits.
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn({
        let screen = screen.clone();
        move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });
    let question = "No cluster driver is installed. Download kind v0.33.0 into";
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !shown().contains("[Y/n] ") {
        assert!(
            std::time::Instant::now() < deadline,
            "no question: {}",
            shown()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Nothing is drawn while the question waits: the spinner stopped first.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let waiting = shown();
    let after = &waiting[waiting.rfind("[Y/n] ").unwrap() + "[Y/n] ".len()..];
    assert_eq!(after, "", "drawn while the question waited: {after:?}");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"y\n").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = shown();
    assert!(status.success(), "{text}");
    assert!(text.contains(question), "{text}");
    assert!(bin_dir.join("kind").exists(), "{text}");
    assert!(text.contains("is ready (created): kind cluster"), "{text}");
}

/// Whether container `name` runs, and when it last started.
/// A real engine the node containers are made on, through its own CLI.
#[derive(Clone, Copy)]
struct Engine {
    cli: &'static str,
    socket: &'static str,
    /// Flags for `run`: Podman asks for the host's open-file and process limits, which a host
    /// that is itself a container may refuse to grant ("error setting rlimit"); lower ones work.
    run: &'static [&'static str],
}

const DOCKER: Engine = Engine {
    cli: "docker",
    socket: "/var/run/docker.sock",
    run: &[],
};
const PODMAN: Engine = Engine {
    cli: "podman",
    socket: "/run/podman/podman.sock",
    run: &[
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ],
};

impl Engine {
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut command = std::process::Command::new(self.cli);
        if self.cli == "docker" {
            command.args(["-H", &format!("unix://{}", self.socket)]);
        }
        command.args(args).output().unwrap()
    }

    fn container_state(&self, name: &str) -> (bool, String) {
        let out = self.run(&[
            "container",
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.StartedAt}}",
            name,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (running, started) = text.split_once(' ').unwrap_or(("false", ""));
        (running == "true", started.to_string())
    }
}

// Issue 24: `stop` keeps everything and stops exactly the sandbox's node containers on the real
// engine (kind has no stop command); `start` starts them load balancer and control plane first,
// then does what `up` does and proves the sandbox; a bystander container is never touched.
#[test]
fn stop_and_start_touch_only_the_sandboxs_nodes_on_the_real_docker_engine() {
    stop_and_start_on(DOCKER);
}

// The same against the real Podman service (kind's `KIND_EXPERIMENTAL_PROVIDER=podman` labels
// its nodes the same way).
#[test]
fn stop_and_start_touch_only_the_sandboxs_nodes_on_the_real_podman_service() {
    stop_and_start_on(PODMAN);
}

fn stop_and_start_on(engine: Engine) {
    let engine_up =
        std::path::Path::new(engine.socket).exists() && engine.run(&["version"]).status.success();
    let busybox = std::path::Path::new("/bin/busybox");
    if !support::real_part_available(
        &format!(
            "{} at {} with its CLI, and busybox-static",
            engine.cli, engine.socket
        ),
        engine_up && busybox.exists(),
    ) {
        return;
    }
    let uri = format!("unix://{}", engine.socket);
    let Some(world) = World::with_engine(Some(&uri)) else {
        return;
    };
    let name = format!("ss{}{}", &engine.cli[..1], std::process::id());
    let rootfs = world.sandbox.path("rootfs/bin");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::copy(busybox, rootfs.join("busybox")).unwrap();
    let tar = world.sandbox.path("busybox.tar");
    assert!(support::tar_dir(rootfs.parent().unwrap(), &tar));
    // Podman names an imported image under `localhost/`, Docker under `docker.io/`.
    let image = if engine.cli == "podman" {
        "localhost/korthbox-test/busybox:1"
    } else {
        "korthbox-test/busybox:1"
    };
    assert!(
        engine
            .run(&["import", tar.to_str().unwrap(), image])
            .status
            .success()
    );
    let label = format!("io.x-k8s.kind.cluster={name}");
    // Made in the wrong order on purpose: start must order them by role.
    let nodes = [
        (format!("{name}-worker"), "worker"),
        (format!("{name}-control-plane"), "control-plane"),
        (
            format!("{name}-external-load-balancer"),
            "external-load-balancer",
        ),
    ];
    let bystander = format!("{name}-bystander");
    for (container, role) in nodes
        .iter()
        .map(|(c, r)| (c.as_str(), Some(*r)))
        .chain([(bystander.as_str(), None)])
    {
        let mut args = vec!["run", "-d", "--name", container];
        args.extend(engine.run);
        let role_label = role.map(|r| format!("io.x-k8s.kind.role={r}"));
        if let Some(role_label) = &role_label {
            args.extend(["--label", label.as_str(), "--label", role_label.as_str()]);
        }
        args.extend([image, "/bin/busybox", "sleep", "3600"]);
        let out = engine.run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Removed however the test ends.
    struct Cleanup(Engine, Vec<String>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for c in &self.1 {
                let _ = self.0.run(&["rm", "-f", c]);
            }
        }
    }
    let _cleanup = Cleanup(
        engine,
        nodes
            .iter()
            .map(|(c, _)| c.clone())
            .chain([bystander.clone()])
            .collect(),
    );
    stand_ins::add_korthbox_cluster(&world.sandbox, "kind", &name);
    world.api.kubeconfig(
        &world.sandbox.path("home/.kube/config"),
        &format!("kind-{name}"),
    );

    let out = world.run("stop", &[&name, "--driver", "kind"]);
    let said = stderr(&out);
    ok(&out);
    assert!(said.contains("korthbox start"), "{said}");
    for (c, _) in &nodes {
        assert!(!engine.container_state(c).0, "{c} still runs");
    }
    assert!(
        engine.container_state(&bystander).0,
        "the bystander was stopped"
    );
    // `status` says it is stopped, and how to bring it back.
    let status = world.run("status", &["--name", &name, "--driver", "kind", "--json"]);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    assert_eq!(doc["state"], "stopped", "{doc:#}");
    assert_eq!(status.status.code(), Some(1));
    assert!(
        doc["problems"][0]
            .as_str()
            .unwrap_or_default()
            .contains("korthbox start"),
        "{doc:#}"
    );
    let again = world.run("stop", &["--name", &name, "--driver", "kind"]);
    ok(&again);
    assert!(
        stderr(&again).contains("stopped already"),
        "{}",
        stderr(&again)
    );

    let out = world.run(
        "start",
        &[
            &name,
            "--driver",
            "kind",
            "--orthanc-image",
            image,
            "--postgres-image",
            image,
        ],
    );
    let said = stderr(&out);
    let states: Vec<(bool, String)> = nodes
        .iter()
        .map(|(c, _)| engine.container_state(c))
        .collect();
    assert!(out.status.success(), "{said}");
    assert!(states.iter().all(|(running, _)| *running), "{states:?}");
    // Load balancer, then control plane, then worker.
    assert!(
        states[2].1 <= states[1].1 && states[1].1 <= states[0].1,
        "{states:?}"
    );
    assert!(said.contains("Proving Orthanc works"), "{said}");

    // `up` on a stopped sandbox starts its nodes first, then proves it as usual.
    ok(&world.run("stop", &[&name, "--driver", "kind"]));
    let images = ["--orthanc-image", image, "--postgres-image", image];
    let out = world.run(
        "up",
        &[&[name.as_str(), "--driver", "kind"][..], &images].concat(),
    );
    let said = stderr(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "done: Starting 3 stopped nodes of kind cluster {name}"
        )),
        "{said}"
    );
    assert!(said.contains("done: Proving Orthanc works"), "{said}");
    for (c, _) in &nodes {
        assert!(engine.container_state(c).0, "{c} is not running");
    }

    // Its nodes run but its API server does not answer: the cluster does not come back, and
    // `up` and `status` say so with the two ways forward.
    let config = world.sandbox.path("home/.kube/config");
    support::kube_api::write_kubeconfig(&config, &format!("kind-{name}"), "https://127.0.0.1:1");
    let out = world.run(
        "up",
        &[
            &[name.as_str(), "--driver", "kind", "--wait", "2"][..],
            &images,
        ]
        .concat(),
    );
    support::failed_with(
        &out,
        1,
        &[
            &format!(
                "kind cluster {name}: the cluster does not come back: 3 of its 3 node containers run but its API server does not answer"
            ),
            "--keep-studies",
            &format!("`korthbox up --name {name} --driver kind` again"),
            &format!("`korthbox reset --name {name} --driver kind` makes a new cluster"),
        ],
    );
    let status = world.run("status", &[&name, "--driver", "kind", "--json"]);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    assert_eq!(doc["state"], "degraded", "{doc:#}");
    assert_eq!(doc["diagnoses"][0]["reason"], "api-server-down", "{doc:#}");
}

// Issue 24: k3d and minikube stop and start with their own commands; an existing cluster is not
// korthbox's to stop.
#[test]
fn stop_uses_the_tools_own_commands_and_refuses_an_existing_cluster() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    stand_ins::add_korthbox_cluster(&sandbox, "k3d", "dev");
    stand_ins::add_korthbox_cluster(&sandbox, "minikube", "lab");
    ok(&sandbox.run(&["stop", "--name", "dev", "--driver", "k3d"]));
    ok(&sandbox.run(&["stop", "--name", "lab", "--driver", "minikube"]));
    let lines: Vec<String> = stand_ins::calls(&sandbox)
        .iter()
        .map(|c| c.line())
        .collect();
    assert!(
        lines.iter().any(|l| l == "k3d cluster stop dev"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "minikube stop --profile=lab"),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("delete")), "{lines:?}");

    let mut sandbox = Sandbox::new();
    let config = sandbox.path("home/.kube/config");
    support::kube_api::write_kubeconfig(&config, "corp", "https://127.0.0.1:1");
    sandbox.set("KUBECONFIG", config.to_str().unwrap());
    let out = sandbox.run(&["stop", "--driver", "existing", "--context", "corp"]);
    support::failed_with(&out, 2, &["does not stop a cluster it did not make"]);
}

// Issue 24: `reset --keep-cluster` deletes only the sandbox's namespace (and the volumes behind
// its claims) and applies the stack again: the driver's delete is never called, no cluster is
// made, no image loaded; the namespace goes (Terminating first, as a real one) and comes back.
#[test]
fn reset_keep_cluster_deletes_the_namespace_only_and_brings_the_stack_back() {
    let Some(world) = World::new() else { return };
    ok(&world.run("up", &[]));
    let ns_path = "/api/v1/namespaces/korthbox";
    let uid = |path: &str| world.api.get(path).map(|o| o["metadata"]["uid"].clone());
    let before = uid(ns_path).expect("the sandbox's namespace");
    let volumes = || -> Vec<Value> {
        let paths = world.api.paths();
        let pvs = paths
            .iter()
            .filter(|p| p.starts_with("/api/v1/persistentvolumes/"));
        pvs.filter_map(|p| uid(p)).collect()
    };
    let volumes_before = volumes();
    assert!(!volumes_before.is_empty(), "the sandbox has volumes");
    // A plain reset of a cluster that answers points at the faster one (and, with no one to
    // ask, deletes nothing).
    let out = world.run("reset", &[]);
    support::failed_with(&out, 2, &["--keep-cluster` resets only the stack", "--yes"]);
    assert_eq!(uid(ns_path).as_ref(), Some(&before));
    let calls_before = stand_ins::calls(&world.sandbox).len();
    world
        .api
        .namespace_deletion_takes(Duration::from_millis(800));

    let out = world.run("reset", &["--keep-cluster", "--yes"]);
    let said = stderr(&out);
    ok(&out);
    assert!(
        said.contains("done: Deleting namespace korthbox: deleted, with its volumes"),
        "{said}"
    );
    assert!(
        said.contains("the cluster, its nodes and their images stay"),
        "{said}"
    );
    assert!(said.contains("done: Proving Orthanc works"), "{said}");
    let calls: Vec<String> = stand_ins::calls(&world.sandbox)[calls_before..]
        .iter()
        .map(|c| c.line())
        .collect();
    for forbidden in ["delete", "create cluster", "load"] {
        assert!(
            !calls.iter().any(|c| c.contains(forbidden)),
            "`{forbidden}` was called: {calls:?}"
        );
    }
    // The namespace came back as a new object; the old volumes are gone, new ones bound.
    let after = uid(ns_path).expect("the namespace is back");
    assert_ne!(before, after);
    let volumes_after = volumes();
    assert!(
        volumes_before.iter().all(|v| !volumes_after.contains(v)),
        "{volumes_before:?} {volumes_after:?}"
    );
    assert_eq!(volumes_after.len(), volumes_before.len());
    let writes = world.api.writes();
    assert!(
        writes
            .iter()
            .any(|w| w.starts_with("DELETE /api/v1/namespaces/korthbox")),
        "{writes:#?}"
    );

    // Without a terminal and without --yes it asks for --yes, and deletes nothing.
    let out = world.run("reset", &["--keep-cluster"]);
    support::failed_with(&out, 2, &["--yes"]);
    assert_eq!(uid(ns_path), Some(after));
}

/// Deletes every patient in the real Orthanc: what deleting the sandbox's namespace does to
/// the studies of a real one.
fn empty(orthanc: &support::orthanc::Orthanc) {
    for patient in orthanc.get("/patients").json().as_array().unwrap() {
        let path = format!("/patients/{}", patient.as_str().unwrap());
        let auth = ("admin", orthanc.password.as_str());
        let r = support::http::request("DELETE", orthanc.http, &path, auth, b"").unwrap();
        assert_eq!(r.status, 200);
    }
}

/// Runs `reset` with `args`; once its export is done, `meanwhile` runs (the test's stand-in
/// for the deletion that follows); the whole output.
fn reset_with(world: &World, args: &[&str], meanwhile: impl FnOnce()) -> std::process::Output {
    let mut child = world.spawn("reset", args);
    let rest = wait_for_line(&mut child, "done: Exporting the sandbox's studies");
    meanwhile();
    let mut out = child.wait_with_output().unwrap();
    out.stderr = rest.iter().collect::<Vec<_>>().join("\n").into_bytes();
    out
}

// Issue 24: `reset --keep-studies` exports every instance before deleting anything, uploads
// them to the new sandbox and deletes the export once Orthanc holds them all; when the upload
// fails, the export stays and the error says where it is and how to finish.
#[test]
fn reset_keep_studies_brings_every_instance_back_and_keeps_the_export_when_it_cannot() {
    let Some(world) = World::new() else { return };
    ok(&world.run("up", &[]));
    ok(&world.run("samples", &["--studies", "1"]));
    let count = || world.orthanc.get("/statistics").json()["CountInstances"].clone();
    assert_eq!(count(), 64);
    let export = world.sandbox.path("home/.cache/korthbox/exports/korthbox");
    world
        .api
        .namespace_deletion_takes(Duration::from_millis(500));

    let args = ["--keep-cluster", "--keep-studies", "--yes"];
    let out = reset_with(&world, &args, || {
        assert_eq!(
            support::orthanc::files_under(&export),
            64,
            "exported before anything is deleted"
        );
        empty(&world.orthanc);
    });
    let said = stderr(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("64 instances back in Orthanc"), "{said}");
    assert_eq!(count(), 64);
    assert!(!export.exists(), "the export is deleted once all are back");

    // A file of the export Orthanc cannot store: the reset fails, the export stays, and the
    // error names the folder and the command that finishes.
    let out = reset_with(&world, &args, || {
        empty(&world.orthanc);
        let first = std::fs::read_dir(&export).unwrap().next().unwrap().unwrap();
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\x02\x00\x10\x00UI");
        std::fs::write(first.path().join("truncated.dcm"), dicom).unwrap();
    });
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("the export is kept"), "{said}");
    assert!(
        said.contains(&format!("`korthbox upload {}`", export.display())),
        "{said}"
    );
    assert!(export.exists());
    assert_eq!(support::orthanc::files_under(&export), 65);
}

// Issue 24: `status` diagnoses each way a sandbox breaks, with the cluster's own evidence and
// the fix, in `--json` too; one case at a time, each undone before the next.
#[test]
fn status_diagnoses_each_reason_with_its_evidence_and_fix() {
    let Some(world) = World::new() else { return };
    ok(&world.run("up", &[]));
    let ns = "/api/v1/namespaces/korthbox";
    let worker = "/api/v1/nodes/kind-worker";
    let orthanc_pod = format!("{ns}/pods/orthanc-0");
    let postgres_pod = format!("{ns}/pods/postgres-0");
    let claim = format!("{ns}/persistentvolumeclaims/orthanc-storage");
    let condition = |kind: &str, status: &str, reason: &str, message: &str| json!({"type": kind, "status": status, "reason": reason, "message": message});
    let waiting = |name: &str, reason: &str, message: &str| {
        json!({"phase": "Pending", "containerStatuses": [{"name": name, "image": "docker.io/library/postgres:17.11-bookworm",
               "imageID": "", "ready": false, "restartCount": 7,
               "state": {"waiting": {"reason": reason, "message": message}}}]})
    };
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, String, Change, &str, &[&str])> = vec![
        (
            "node-not-ready",
            worker.to_string(),
            Box::new(move |n: &mut Value| {
                n["status"]["conditions"] = json!([condition(
                    "Ready",
                    "False",
                    "KubeletNotReady",
                    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady"
                )]);
            }),
            "node kind-worker",
            &[
                "KubeletNotReady: container runtime network not ready",
                "korthbox up",
            ],
        ),
        (
            "node-pressure",
            worker.to_string(),
            Box::new(move |n: &mut Value| {
                let conditions = n["status"]["conditions"].as_array_mut().unwrap();
                conditions.push(condition(
                    "DiskPressure",
                    "True",
                    "KubeletHasDiskPressure",
                    "kubelet has disk pressure",
                ));
            }),
            "node kind-worker",
            &[
                "DiskPressure: kubelet has disk pressure",
                "docker system prune",
            ],
        ),
        (
            "crash-loop",
            orthanc_pod.clone(),
            Box::new(move |p: &mut Value| {
                p["status"] = waiting(
                    "orthanc",
                    "CrashLoopBackOff",
                    "back-off 5m0s restarting failed container",
                );
            }),
            "pod orthanc-0 (container orthanc)",
            &[
                "CrashLoopBackOff, restarted 7 times",
                "E1206 PostgreSQL: connection refused",
                "korthbox logs",
            ],
        ),
        (
            "image-pull",
            postgres_pod.clone(),
            Box::new(move |p: &mut Value| {
                p["status"] = waiting(
                    "postgres",
                    "ImagePullBackOff",
                    "Back-off pulling image \"docker.io/library/postgres:17.11-bookworm\"",
                );
            }),
            "pod postgres-0 (container postgres)",
            &[
                "ImagePullBackOff: the node cannot pull docker.io/library/postgres:17.11-bookworm",
                "--registry-mirror",
            ],
        ),
        (
            "volume-pending",
            claim.clone(),
            Box::new(|c: &mut Value| c["status"] = json!({"phase": "Pending"})),
            "volume orthanc-storage",
            &[
                "Pending (ProvisioningFailed: storageclass.storage.k8s.io \"fast\" not found)",
                "--storage local-path",
            ],
        ),
    ];
    world.api.log(
        "orthanc",
        "W1206 starting\nE1206 PostgreSQL: connection refused\nE1206 exiting\n",
    );
    world.api.put(
        &format!("{ns}/events/orthanc-storage.1"),
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "orthanc-storage.1", "namespace": "korthbox"},
               "involvedObject": {"kind": "PersistentVolumeClaim", "name": "orthanc-storage", "namespace": "korthbox"},
               "reason": "ProvisioningFailed", "message": "storageclass.storage.k8s.io \"fast\" not found",
               "lastTimestamp": "2026-12-06T10:00:00Z", "type": "Warning"}),
    );
    let healthy = world.run("status", &["--json"]);
    let doc: Value = serde_json::from_slice(&healthy.stdout).unwrap();
    assert_eq!(doc["state"], "healthy", "{doc:#}");
    assert_eq!(doc["diagnoses"], json!([]), "{doc:#}");
    for (reason, path, change, subject, says) in cases {
        let before = world
            .api
            .get(&path)
            .unwrap_or_else(|| panic!("{path}: {:#?}", world.api.paths()));
        let mut broken = before.clone();
        change(&mut broken);
        world.api.put(&path, broken);
        let out = world.run("status", &["--json"]);
        // The table says it too.
        let table = world.run("status", &[]);
        world.api.put(&path, before);
        assert_eq!(out.status.code(), Some(1), "{reason}");
        let table = String::from_utf8_lossy(&table.stdout).to_string();
        assert!(table.contains(&format!("{subject}: ")), "{reason}: {table}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["state"], "degraded", "{reason}: {doc:#}");
        let found = doc["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["reason"] == reason)
            .unwrap_or_else(|| panic!("no {reason} in {doc:#}"));
        assert_eq!(found["subject"], subject, "{found:#}");
        let text = format!("{} {}", found["detail"], found["fix"]).replace("\\\"", "\"");
        for said in says {
            assert!(
                text.contains(said),
                "{reason}: {said:?} missing from {text}"
            );
        }
    }
}

// Issue 24: `up` restarts korthbox's pods stuck in a back-off (the cause fixed meanwhile) and
// proves the sandbox; the stuck pod is deleted with its UID as precondition.
#[test]
fn up_restarts_korthboxs_stuck_pods_then_proves() {
    let Some(world) = World::new() else { return };
    ok(&world.run("up", &[]));
    let path = "/api/v1/namespaces/korthbox/pods/orthanc-0";
    let mut stuck = world.api.get(path).unwrap();
    let uid = stuck["metadata"]["uid"].clone();
    stuck["status"] = json!({"phase": "Running", "containerStatuses": [{"name": "orthanc", "image": "x",
        "imageID": "", "ready": false, "restartCount": 9,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]});
    world.api.put(path, stuck);
    let out = world.run("up", &[]);
    let said = stderr(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("done: Restarting korthbox's stuck pods: orthanc-0 (CrashLoopBackOff)"),
        "{said}"
    );
    assert!(said.contains("done: Proving Orthanc works"), "{said}");
    let now = world.api.get(path).unwrap();
    assert_ne!(now["metadata"]["uid"], uid, "a new pod");
    // Healthy pods are left alone.
    let out = world.run("up", &[]);
    assert!(!stderr(&out).contains("Restarting"), "{}", stderr(&out));

    // A pod that cannot pull korthbox's image: the nodes lost it, so it is loaded again (its
    // record said loaded) and the pod restarted.
    let path = "/api/v1/namespaces/korthbox/pods/postgres-0";
    let mut stuck = world.api.get(path).unwrap();
    let image = "docker.io/library/postgres:17.11-bookworm";
    stuck["status"] = json!({"phase": "Pending", "containerStatuses": [{"name": "postgres", "image": image,
        "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]});
    world.api.put(path, stuck);
    let loads_before = stand_ins::calls(&world.sandbox)
        .iter()
        .filter(|c| c.line().contains(" load "))
        .count();
    let out = world.run("up", &[]);
    let said = stderr(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("done: Loading 1 images into the nodes"),
        "{said}"
    );
    assert!(
        said.contains("done: Restarting korthbox's stuck pods: postgres-0 (ImagePullBackOff)"),
        "{said}"
    );
    let loads = stand_ins::calls(&world.sandbox)
        .iter()
        .filter(|c| c.line().contains(" load "))
        .count();
    assert_eq!(loads, loads_before + 1);
}

// Issue 25: several Orthancs in the sandbox (three real ones on one PostgreSQL behind the fake's
// pods): the proof stores through one and reads the file back through each Orthanc directly,
// `status` lists each with its node, and an Orthanc that does not answer fails the proof by name.
#[test]
fn several_orthancs_are_each_proven_and_listed_with_their_nodes() {
    let Some(world) = World::with_replicas(3) else {
        return;
    };
    let flags = ["--orthanc-storage", "postgres", "--orthanc-replicas", "3"];
    let out = world.run("up", &[&flags[..], &["--json"]].concat());
    let summary: Value = serde_json::from_str(&ok(&out)).unwrap();
    let read = summary["proof"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "read")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        read.ends_with("the same file through each Orthanc (orthanc-0, orthanc-1, orthanc-2)"),
        "{read}"
    );
    let requests = world.api.requests();
    for pod in ["orthanc-1", "orthanc-2"] {
        assert!(
            requests
                .iter()
                .any(|r| r.contains(&format!("/pods/{pod}/portforward?&ports=8042"))),
            "{pod}: {requests:#?}"
        );
    }
    // Each Orthanc stored nothing of its own: they share one database, back to empty.
    for other in &world.others {
        assert_eq!(other.get("/statistics").json()["CountInstances"], 0);
    }

    let status = world.run("status", &["--json"]);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    let instances = doc["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 3, "{doc:#}");
    let mut nodes: Vec<&str> = instances
        .iter()
        .map(|i| i["node"].as_str().unwrap())
        .collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 3, "spread over the nodes: {doc:#}");
    assert!(instances.iter().all(|i| i["ready"] == true));
    let table = String::from_utf8_lossy(&world.run("status", &[]).stdout).to_string();
    assert!(table.contains("orthanc orthanc-2"), "{table}");

    // One Orthanc stops answering: the proof fails at read, naming it.
    world.api.forward_pod("orthanc-2", 8042, free_port());
    let out = world.run("prove", &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let read = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "read")
        .unwrap();
    assert_eq!(read["ok"], false, "{doc:#}");
    assert!(
        read["detail"]
            .as_str()
            .unwrap()
            .contains("through Orthanc orthanc-2"),
        "{doc:#}"
    );
}

// Issue 25: `up --postgres-url`: without the password (and no terminal to ask on) a usage error
// naming the variable, nothing applied; with it, no PostgreSQL is deployed, the password is in
// the Secret Orthanc takes PGPASSWORD from, and `status` does not miss the StatefulSet.
#[test]
fn up_with_an_own_postgresql_deploys_none_and_status_does_not_miss_it() {
    let Some(mut world) = World::new() else {
        return;
    };
    let url = "postgresql://orthanc@db.example.org/pacs?sslmode=require";
    let out = world.run("up", &["--postgres-url", url]);
    support::failed_with(&out, 2, &["KORTHBOX_POSTGRES_PASSWORD is not set"]);
    assert!(
        world
            .api
            .get("/apis/apps/v1/namespaces/korthbox/deployments/orthanc")
            .is_none()
    );
    world
        .sandbox
        .set("KORTHBOX_POSTGRES_PASSWORD", "the-teams-password");
    // The check fails (as its script says when the password is wrong): the error quotes it,
    // and Orthanc is not even applied.
    world.api.fail_jobs(3, "korthbox: cannot connect to PostgreSQL as Orthanc will: FATAL:  password authentication failed for user \"orthanc\"\n");
    let out = world.run("up", &["--postgres-url", url]);
    let err = support::failed_with(
        &out,
        1,
        &[
            "password authentication failed for user",
            "exited with code 3",
        ],
    );
    assert!(
        err.contains("failed: Checking PostgreSQL from inside the cluster"),
        "{err}"
    );
    assert!(!err.contains("Applying Orthanc"), "{err}");
    let orthanc = "/apis/apps/v1/namespaces/korthbox/deployments/orthanc";
    assert!(world.api.get(orthanc).is_none());
    // The password fixed: the failed check is run again (deleted first, as a Job runs once).
    world.api.clear_failing_jobs();
    let out = world.run("up", &["--postgres-url", url]);
    let text = stderr(&out);
    let checked = text
        .find("done: Checking PostgreSQL from inside the cluster")
        .expect(&text);
    assert!(
        checked < text.find("done: Applying Orthanc").expect(&text),
        "{text}"
    );
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("the-teams-password"));
    assert!(
        world
            .api
            .get("/apis/apps/v1/namespaces/korthbox/statefulsets/postgres")
            .is_none()
    );
    let secret = world
        .api
        .get("/api/v1/namespaces/korthbox/secrets/postgres-external")
        .unwrap();
    let password = support::http::base64_decode(secret["data"]["password"].as_str().unwrap());
    assert_eq!(password, b"the-teams-password");
    let status = world.run("status", &["--json"]);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    let problems = doc["problems"].to_string();
    assert!(!problems.contains("postgres is not deployed"), "{doc:#}");
}

// Safety: `up` restarts stuck pods only in the namespace korthbox recorded creating for the
// sandbox; in someone's namespace that merely carries korthbox's labels, their pod is left as
// it is (and the claim on the namespace is refused, as before).
#[test]
fn stuck_pods_in_a_namespace_korthbox_did_not_make_are_left_alone() {
    let Some(world) = World::new() else { return };
    world.api.put_namespace("korthbox", Some("korthbox"));
    let path = "/api/v1/namespaces/korthbox/pods/orthanc-0";
    world.api.put(
        path,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "orthanc-0", "namespace": "korthbox",
                            "labels": {"app.kubernetes.io/managed-by": "korthbox", "app.kubernetes.io/instance": "korthbox"}},
               "status": {"phase": "Running", "containerStatuses": [{"name": "orthanc", "image": "x", "imageID": "",
                   "ready": false, "restartCount": 9, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
    );
    let uid = world.api.get(path).unwrap()["metadata"]["uid"].clone();
    let out = world.run(
        "up",
        &["--driver", "existing", "--context", "kind-korthbox"],
    );
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Restarting"), "{}", stderr(&out));
    assert_eq!(
        world.api.get(path).unwrap()["metadata"]["uid"],
        uid,
        "their pod is untouched"
    );
}
