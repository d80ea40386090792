//! korthbox deletes and overwrites only what it made: each scenario of a user's own clusters,
//! contexts, namespaces and objects next to a sandbox, through the real binary with stand-in
//! drivers and the fake API server recording every write.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::kube_api::{FakeApi, write_kubeconfig};
use support::stand_ins::{self, add_cluster, add_korthbox_cluster};
use support::world::World;
use support::{Sandbox, failed_with};

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "exit {:?}: {stderr}",
        out.status.code()
    );
    stderr
}

fn deletes(sandbox: &Sandbox) -> Vec<String> {
    stand_ins::calls(sandbox)
        .iter()
        .map(|c| c.line())
        .filter(|l| l.contains("delete"))
        .collect()
}

// 1. A context, cluster and user of the user's, named like a sandbox with no cluster, stay.
#[test]
fn reset_leaves_kubeconfig_entries_it_did_not_write() {
    needs_shared!();
    let mut sandbox = stand_ins::with_docker_engine();
    let first = sandbox.path("kube/first");
    let second = sandbox.path("kube/staging");
    write_kubeconfig(&first, "corp", "https://corp.example.invalid:6443");
    write_kubeconfig(&second, "staging", "https://staging.example.invalid:6443");
    let list = format!("{}:{}", first.display(), second.display());
    sandbox.set("KUBECONFIG", &list);
    let before = [
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    ];
    let out = sandbox.run(&[
        "reset", "--name", "staging", "--driver", "minikube", "--yes", "--wait", "1",
    ]);
    // No minikube profile `staging` existed: nothing was deleted, and `up` then failed on the
    // remote cluster the context names.
    assert_eq!(out.status.code(), Some(1));
    assert!(deletes(&sandbox).is_empty(), "{:?}", deletes(&sandbox));
    assert_eq!(std::fs::read(&first).unwrap(), before[0]);
    assert_eq!(std::fs::read(&second).unwrap(), before[1]);
}

// 1, 5. Only the entries of the cluster korthbox deleted go; a user still used elsewhere stays.
#[test]
fn a_deleted_clusters_context_goes_and_what_others_use_stays() {
    let sandbox = Sandbox::new();
    let mine = sandbox.write(
        "kube/mine",
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-korthbox\nclusters:\n- name: kind-korthbox\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: kind-korthbox\n  context:\n    cluster: kind-korthbox\n    user: shared\nusers:\n- name: shared\n  user:\n    token: t\n",
    );
    let theirs = sandbox.write(
        "kube/theirs",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: corp\n  cluster:\n    server: https://corp.example.invalid\ncontexts:\n- name: corp\n  context:\n    cluster: corp\n    user: shared\n",
    );
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o600)).unwrap();
    let list = format!("{}:{}", mine.display(), theirs.display());
    let env = korthbox::env::Env::from_vars([("KUBECONFIG".to_string(), list.into())]);
    let changed = korthbox::host::kubeconfig::remove_context(&env, "kind-korthbox").unwrap();
    assert_eq!(changed, std::slice::from_ref(&mine));
    let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&mine).unwrap()).unwrap();
    assert_eq!(doc["contexts"].as_array().unwrap().len(), 0);
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 0);
    assert_eq!(
        doc["users"][0]["name"], "shared",
        "still used by context corp"
    );
    assert_eq!(doc["current-context"], "");
    let mode = std::fs::metadata(&mine).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file keeps its mode");
    assert!(
        std::fs::read_to_string(&theirs)
            .unwrap()
            .contains("name: corp")
    );
}

// 5. A kubeconfig write that cannot complete (the file-size limit, as on a full disk) leaves the
// original as it was and says so.
#[test]
fn a_failed_kubeconfig_write_leaves_the_original_intact() {
    let mut sandbox = Sandbox::new();
    stand_ins::install(&mut sandbox, None);
    add_korthbox_cluster(&sandbox, "kind", "korthbox");
    let config = sandbox.path("home/.kube/config");
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for i in 0..60 {
        text.push_str(&format!(
            "- name: c{i}\n  cluster:\n    server: https://c{i}.example.invalid:6443\n"
        ));
    }
    text.push_str("- name: kind-korthbox\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: kind-korthbox\n  context:\n    cluster: kind-korthbox\n    user: kind-korthbox\n");
    for i in 0..60 {
        text.push_str(&format!(
            "- name: c{i}\n  context:\n    cluster: c{i}\n    user: c{i}\n"
        ));
    }
    text.push_str("users:\n- name: kind-korthbox\n  user:\n    token: t\n");
    sandbox.write("home/.kube/config", &text);
    sandbox.set("KUBECONFIG", config.to_str().unwrap());
    // A 4 KiB file-size limit (dash counts 512-byte blocks), its signal ignored so that the
    // write fails with EFBIG instead of killing korthbox.
    let korthbox = env!("CARGO_BIN_EXE_korthbox");
    let mut cmd = Command::new("/bin/sh");
    cmd.env_clear();
    for (k, v) in &sandbox.envs {
        cmd.env(k, v);
    }
    let out = cmd
        .args([
            "-c",
            &format!("trap '' XFSZ; ulimit -f 8; exec {korthbox} reset --yes --wait 1"),
        ])
        .output()
        .unwrap();
    let stderr = failed_with(&out, 1, &["could not rewrite", "it is unchanged"]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text, "{stderr}");
    let left: Vec<String> = std::fs::read_dir(config.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["config"], "no temporary or lock file left");
}

/// An existing cluster (kind's nodes) behind context `corp`.
fn existing() -> (Sandbox, FakeApi) {
    let mut sandbox = Sandbox::new();
    let api = FakeApi::kind();
    let config = api.kubeconfig(&sandbox.path("home/.kube/config"), "corp");
    sandbox.set("KUBECONFIG", config.to_str().unwrap());
    (sandbox, api)
}

fn down_existing(sandbox: &Sandbox, namespace: &str) -> std::process::Output {
    sandbox.run(&[
        "down",
        "--driver",
        "existing",
        "--context",
        "corp",
        "--namespace",
        namespace,
        "--yes",
    ])
}

// 2. A namespace korthbox never labelled is not deleted; nor are other sandboxes' namespaces.
#[test]
fn down_on_an_existing_cluster_deletes_only_the_sandboxs_own_namespace() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.put_namespace("orthanc", None);
    api.put_namespace("other", Some("other"));
    api.put_namespace("korthbox", Some("korthbox"));
    let out = down_existing(&sandbox, "orthanc");
    failed_with(
        &out,
        1,
        &["namespace orthanc is not sandbox korthbox's; korthbox deleted nothing"],
    );
    assert!(api.writes().is_empty(), "{:?}", api.writes());

    ok(&down_existing(&sandbox, "korthbox"));
    let deleted: Vec<String> = api
        .writes()
        .into_iter()
        .filter(|w| w.starts_with("DELETE"))
        .map(|w| w.split('?').next().unwrap().to_string())
        .collect();
    assert_eq!(deleted, ["DELETE /api/v1/namespaces/korthbox"]);
    assert!(api.get("/api/v1/namespaces/other").is_some());
    assert!(api.get("/api/v1/namespaces/orthanc").is_some());
}

// 3. `up` into a namespace that is someone else's is refused before any write.
#[test]
fn up_refuses_a_namespace_that_is_not_the_sandboxs() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.put_namespace("data", None);
    api.put(
        "/apis/apps/v1/namespaces/data/statefulsets/postgres",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "postgres", "namespace": "data"}}),
    );
    let out = sandbox.run(&[
        "up",
        "--driver",
        "existing",
        "--context",
        "corp",
        "--namespace",
        "data",
        "--wait",
        "3",
    ]);
    failed_with(
        &out,
        1,
        &[
            "namespace data exists and is not sandbox korthbox's",
            "--namespace",
        ],
    );
    assert!(api.writes().is_empty(), "{:?}", api.writes());
    // The cluster's own namespaces are not for a sandbox at all.
    for reserved in ["default", "kube-system", "local-path-storage"] {
        let out = sandbox.run(&["plan", "--namespace", reserved]);
        failed_with(&out, 2, &["the cluster's own namespace"]);
    }
}

// 3. An object korthbox did not make is not taken over by force; the conflict names its owner.
#[test]
fn an_object_someone_else_manages_is_not_forced() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.put_namespace("korthbox", Some("korthbox"));
    let theirs = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres", "namespace": "korthbox",
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}]}, "spec": {"ports": [{"port": 5432}]}});
    api.put("/api/v1/namespaces/korthbox/services/postgres", theirs);
    let out = sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "3"]);
    failed_with(
        &out,
        1,
        &[
            "Service korthbox/postgres exists and is managed by kubectl-client-side-apply, not by korthbox",
        ],
    );
    let service = api
        .get("/api/v1/namespaces/korthbox/services/postgres")
        .unwrap();
    assert_eq!(
        service["metadata"]["managedFields"][0]["manager"],
        "kubectl-client-side-apply"
    );
    // What korthbox made before is forced as usual.
    assert!(
        api.writes()
            .iter()
            .filter(|w| w.starts_with("PATCH"))
            .all(|w| w.contains("force=true") || w.contains("/services/postgres"))
    );
}

// A namespace still being deleted is waited for and said plainly, not blamed on RBAC.
#[test]
fn a_terminating_namespace_is_said_plainly() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.put_namespace("korthbox", Some("korthbox"));
    let mut ns = api.get("/api/v1/namespaces/korthbox").unwrap();
    ns["metadata"]["deletionTimestamp"] = json!("2026-11-29T00:00:00Z");
    ns["status"] = json!({"phase": "Terminating"});
    api.put("/api/v1/namespaces/korthbox", ns);
    let started = Instant::now();
    let out = sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "2"]);
    failed_with(
        &out,
        1,
        &["namespace korthbox is still being deleted (Terminating) after 2s"],
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(api.writes().is_empty(), "{:?}", api.writes());
}

// The provisioner korthbox installed stays while another namespace's volumes use it, and is
// not made the default class of a cluster that is the user's.
#[test]
fn the_shared_provisioner_stays_while_other_volumes_use_it() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.remove("/apis/storage.k8s.io/v1/storageclasses/standard");
    ok(&sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "3"]));
    api.assert_local_path_named_not_default();
    api.put(
        "/api/v1/namespaces/team/persistentvolumeclaims/data",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "team"},
               "spec": {"storageClassName": "local-path"}}),
    );
    let out = down_existing(&sandbox, "korthbox");
    let stderr = ok(&out);
    assert!(
        stderr.contains("local-path-provisioner stays: volumes in team use it"),
        "{stderr}\n{:#?}",
        api.requests()
    );
    assert!(
        api.get("/apis/storage.k8s.io/v1/storageclasses/local-path")
            .is_some()
    );
    assert!(api.get("/api/v1/namespaces/local-path-storage").is_some());

    // Once nothing else uses it, a second sandbox's down removes it.
    api.remove("/api/v1/namespaces/team/");
    ok(&sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "3"]));
    ok(&down_existing(&sandbox, "korthbox"));
    assert!(
        api.get("/apis/storage.k8s.io/v1/storageclasses/local-path")
            .is_none()
    );
    assert!(api.get("/api/v1/namespaces/local-path-storage").is_none());
}

// 4. A kind cluster of the sandbox's name that korthbox did not make is the user's.
#[test]
fn a_same_named_cluster_korthbox_did_not_make_needs_force() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    add_cluster(&sandbox, "kind", "dev");
    let out = sandbox.run(&["down", "--name", "dev", "--yes"]);
    let stderr = failed_with(
        &out,
        1,
        &["kind cluster dev exists, but korthbox did not make it"],
    );
    assert!(
        stderr.contains("`korthbox down --name dev --yes --force`"),
        "{stderr}"
    );
    assert!(deletes(&sandbox).is_empty());
    let out = sandbox.run(&["cluster", "delete", "--name", "dev"]);
    failed_with(&out, 1, &["korthbox did not make it"]);
    assert!(deletes(&sandbox).is_empty());
    // `up` does not deploy into it either.
    let out = sandbox.run(&["up", "--name", "dev", "--wait", "1"]);
    failed_with(
        &out,
        1,
        &[
            "korthbox did not make it",
            "--driver existing --context kind-dev",
        ],
    );
    assert!(
        !stand_ins::calls(&sandbox)
            .iter()
            .any(|c| c.line().contains("create"))
    );

    ok(&sandbox.run(&["down", "--name", "dev", "--yes", "--force"]));
    assert_eq!(deletes(&sandbox), ["kind delete cluster --name dev"]);
}

// 4. korthbox's own cluster is deleted as before, and forgotten after.
#[test]
fn korthboxs_own_cluster_is_deleted_and_forgotten() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    add_korthbox_cluster(&sandbox, "kind", "dev");
    ok(&sandbox.run(&["down", "--name", "dev", "--yes"]));
    assert_eq!(deletes(&sandbox), ["kind delete cluster --name dev"]);
    assert!(
        !sandbox
            .path("home/.cache/korthbox/clusters/dev/kind.yaml")
            .exists()
    );
}

// 6. Ports are 1–65535 and different.
#[test]
fn ports_must_be_distinct_and_not_zero() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "plan",
        "--driver",
        "kind",
        "--provider",
        "docker",
        "--http-port",
        "4242",
    ]);
    failed_with(&out, 2, &["--http-port and --dicom-port are both 4242"]);
    let out = sandbox.run(&[
        "plan",
        "--driver",
        "kind",
        "--provider",
        "docker",
        "--dicom-port",
        "6443",
    ]);
    failed_with(
        &out,
        2,
        &["--dicom-port and --api-server-port are both 6443"],
    );
    let out = sandbox.run(&["up", "--http-port", "0"]);
    failed_with(&out, 2, &["--http-port"]);
    let out = sandbox.run(&["forward", "--http-port", "5000", "--dicom-port", "5000"]);
    failed_with(&out, 2, &["--http-port and --dicom-port are both 5000"]);
}

// 7. A file holding secrets is its owner's only.
#[test]
fn plan_writes_secrets_readable_by_their_owner_only() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("plan");
    let base = [
        "plan",
        "--driver",
        "kind",
        "--provider",
        "docker",
        "--output-dir",
    ];
    ok(&sandbox.run(&[&base[..], &[dir.to_str().unwrap(), "--show-secrets"]].concat()));
    let mode = |f: &str| std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("manifests.yaml"), 0o600);
    let redacted = sandbox.path("redacted");
    ok(&sandbox.run(&[&base[..], &[redacted.to_str().unwrap()]].concat()));
    let plain = std::fs::metadata(redacted.join("manifests.yaml")).unwrap();
    assert_eq!(
        plain.permissions().mode() & 0o077,
        0o044 & !0o022 | 0o044,
        "redacted manifests stay readable"
    );
}

// 8. Orthanc is a NodePort only where kind or k3d map host ports to it.
#[test]
fn orthanc_is_a_node_port_only_where_the_driver_maps_ports() {
    let sandbox = Sandbox::new();
    for (driver, extra, expected) in [
        ("kind", vec!["--provider", "docker"], "NodePort"),
        ("k3d", vec!["--provider", "docker"], "NodePort"),
        ("minikube", vec!["--provider", "docker"], "ClusterIP"),
        ("existing", vec!["--context", "corp"], "ClusterIP"),
    ] {
        let mut args = vec!["plan", "--only", "manifests", "--driver", driver];
        args.extend(extra);
        let out = sandbox.run(&args);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        let service = docs
            .iter()
            .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "orthanc")
            .unwrap();
        assert_eq!(service["spec"]["type"], expected, "{driver}");
        let node_ports = service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p.get("nodePort").is_some())
            .count();
        assert_eq!(
            node_ports > 0,
            expected == "NodePort",
            "{driver}: {service:#}"
        );
    }
}

/// Runs `korthbox ARGS` at a terminal (util-linux `script`), sends `keys` once `prompt` shows,
/// and returns the exit code with what the terminal showed.
fn at_terminal(sandbox: &Sandbox, args: &str, prompt: &str, keys: &[u8]) -> Option<(i32, String)> {
    if !std::path::Path::new("/usr/bin/script").exists() {
        assert!(
            !support::require_real_parts(),
            "util-linux's `script` is required"
        );
        return None;
    }
    let mut cmd = Command::new("/usr/bin/script");
    cmd.env_clear();
    for (k, v) in &sandbox.envs {
        cmd.env(k, v);
    }
    let korthbox = env!("CARGO_BIN_EXE_korthbox");
    let mut child = cmd
        .args(["-qec", &format!("{korthbox} {args}"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = std::thread::spawn({
        let screen = screen.clone();
        move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !shown().contains(prompt) {
        assert!(Instant::now() < deadline, "no prompt: {}", shown());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), keys).unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    Some((status.code().unwrap_or(-1), shown()))
}

// Ctrl-C at a prompt stops korthbox (130); the end of input means "no".
#[test]
fn ctrl_c_and_end_of_input_at_a_prompt() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    add_korthbox_cluster(&sandbox, "kind", "korthbox");
    let prompt = "[y/N]";
    let Some((code, shown)) = at_terminal(&sandbox, "down", prompt, b"\x03") else {
        return;
    };
    assert_eq!(code, 130, "{shown}");
    assert!(shown.contains("interrupted"), "{shown}");
    let Some((code, shown)) = at_terminal(&sandbox, "down", prompt, b"\x04") else {
        return;
    };
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("nothing was deleted"), "{shown}");
    assert!(deletes(&sandbox).is_empty());
    assert!(sandbox.path("standin/state/kind/korthbox").exists());
}

// A tool that times out is killed with everything it started.
#[test]
fn a_timed_out_tool_is_killed_with_its_children() {
    needs_shared!();
    let mut sandbox = stand_ins::with_docker_engine();
    sandbox.set("STANDIN_SLEEP", "30");
    sandbox.set("STANDIN_CHILD", "1");
    let started = Instant::now();
    let out = sandbox.run(&["cluster", "create", "--driver", "kind", "--timeout", "2"]);
    failed_with(&out, 1, &["did not finish within 2s"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    let pid = std::fs::read_to_string(sandbox.path("standin/child.pid")).unwrap();
    let pid = pid.trim();
    // Gone, or a zombie waiting for its reaper: not running either way.
    std::thread::sleep(Duration::from_millis(200));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        status.is_empty() || status.contains("State:\tZ"),
        "sleep {pid} still runs: {status}"
    );
}

// `reset` holds the sandbox's lock from its first look to the end of its `up`.
#[test]
fn reset_holds_the_lock_through_its_up() {
    let Some(mut world) = World::new() else {
        return;
    };
    add_korthbox_cluster(&world.sandbox, "kind", "korthbox");
    world.sandbox.set("STANDIN_SLEEP", "4");
    let reset = world.spawn("reset", &["--yes"]);
    std::thread::sleep(Duration::from_millis(2500));
    let out = world.run("up", &["--lock-wait", "0"]);
    failed_with(&out, 1, &["sandbox korthbox is busy: `korthbox reset`"]);
    let finished = reset.wait_with_output().unwrap();
    ok(&finished);
}

// korthbox.toml: doctor's per-probe timeout is not `up`'s create timeout; down says when the
// file chose the sandbox.
#[test]
fn korthbox_toml_keys_apply_where_they_mean_the_same() {
    needs_shared!();
    let mut sandbox = stand_ins::with_docker_engine();
    let hung = support::HangingSocket::listen(&sandbox.path("sock/hung.sock"));
    sandbox.set("DOCKER_HOST", &hung.uri());
    sandbox.write("work/korthbox.toml", "timeout = 1\nname = \"dev\"\n");
    let run = |args: &[&str]| {
        let mut cmd = sandbox.command();
        cmd.current_dir(sandbox.path("work"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["doctor", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let engine = &doc["engines"][0];
    assert_eq!(engine["error"], "did not answer within 2s", "{engine:#}");
    let out = run(&["down", "--yes"]);
    let stderr = ok(&out);
    assert!(
        stderr.contains("korthbox.toml chose the sandbox: name = \"dev\""),
        "{stderr}"
    );
}

// A forwarded connection stays open while idle longer than the API client's 10 s read timeout
// (an idle browser tab, a paused DICOM association).
#[tokio::test(flavor = "multi_thread")]
async fn a_forward_stays_open_while_idle() {
    let Some(world) = World::new() else { return };
    add_korthbox_cluster(&world.sandbox, "kind", "korthbox");
    world
        .api
        .kubeconfig(&world.sandbox.path("home/.kube/config"), "kind-korthbox");
    world.api.put(
        "/api/v1/namespaces/korthbox/pods/orthanc-0",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orthanc-0", "namespace": "korthbox",
               "labels": {"app.kubernetes.io/name": "orthanc", "app.kubernetes.io/instance": "korthbox"}},
               "status": {"phase": "Running"}}),
    );
    let (http, dicom) = (&world.ports[0], &world.ports[1]);
    let mut forward = world
        .sandbox
        .command()
        .args(["forward", "--http-port", http, "--dicom-port", dicom])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = format!("127.0.0.1:{http}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        match tokio::net::TcpStream::connect(&address).await {
            Ok(stream) => break stream,
            Err(e) => {
                assert!(Instant::now() < deadline, "forward never listened: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    tokio::time::sleep(Duration::from_secs(11)).await;
    // After the pause, the same connection still carries a request and its answer.
    let answered = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let auth = support::http::base64(format!("admin:{}", world.orthanc.password).as_bytes());
        let request = format!(
            "GET /system HTTP/1.1\r\nHost: orthanc\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok::<String, std::io::Error>(answer)
    }
    .await;
    let _ = forward.kill();
    let out = forward.wait_with_output().unwrap();
    assert!(
        answered
            .as_ref()
            .is_ok_and(|a| a.starts_with("HTTP/1.1 200") && a.contains("\"DicomAet\"")),
        "{answered:?}; forward said: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
