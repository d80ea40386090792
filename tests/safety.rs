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
    // No minikube profile `staging` existed: nothing was deleted, and `up` then refused to
    // let minikube write over the context of that name.
    failed_with(
        &out,
        2,
        &["the kubeconfig already has context staging, cluster staging, user staging"],
    );
    assert!(deletes(&sandbox).is_empty(), "{:?}", deletes(&sandbox));
    assert_eq!(std::fs::read(&first).unwrap(), before[0]);
    assert_eq!(std::fs::read(&second).unwrap(), before[1]);
}

// 2. A minikube sandbox named like a context the user has is refused before minikube runs:
// minikube would write over the context, cluster and user, and its delete would remove them.
#[test]
fn a_sandbox_named_like_a_kube_context_is_refused_before_the_driver_runs() {
    needs_shared!();
    let mut sandbox = stand_ins::with_docker_engine();
    let config = sandbox.path("home/.kube/config");
    write_kubeconfig(&config, "staging", "https://staging.example.invalid:6443");
    sandbox.set("KUBECONFIG", config.to_str().unwrap());
    let before = std::fs::read(&config).unwrap();
    for (driver, name, taken) in [
        (
            "minikube",
            "staging",
            "context staging, cluster staging, user staging",
        ),
        ("kind", "staging", ""),
    ] {
        let out = sandbox.run(&["up", "--driver", driver, "--name", name, "--wait", "1"]);
        let creates: Vec<String> = stand_ins::calls(&sandbox)
            .iter()
            .map(|c| c.line())
            .filter(|l| l.contains(" start") || l.contains("create cluster"))
            .collect();
        if taken.is_empty() {
            // kind writes kind-staging: nothing of the user's is in the way.
            assert!(!creates.is_empty(), "kind was not asked to create");
            continue;
        }
        failed_with(
            &out,
            2,
            &[
                &format!("the kubeconfig already has {taken}; minikube would write over it"),
                "--name staging-sandbox",
            ],
        );
        assert!(creates.is_empty(), "{creates:?}");
    }
    assert_eq!(std::fs::read(&config).unwrap(), before);
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
    let env = korthbox::base::env::Env::from_vars([("KUBECONFIG".to_string(), list.into())]);
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

// 2. A namespace korthbox did not create is not deleted, whatever its labels say; nor are
// other sandboxes' namespaces.
#[test]
fn down_on_an_existing_cluster_deletes_only_the_sandboxs_own_namespace() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.put_namespace("orthanc", None);
    api.put_sandbox_namespace("other", "other");
    // Labelled for the sandbox by someone else: labels prove nothing.
    api.put_namespace("forged", Some("korthbox"));
    api.put_sandbox_namespace("korthbox", "korthbox");
    let out = down_existing(&sandbox, "orthanc");
    failed_with(
        &out,
        1,
        &["namespace orthanc is not sandbox korthbox's; korthbox deleted nothing"],
    );
    let out = down_existing(&sandbox, "forged");
    failed_with(
        &out,
        1,
        &[
            "namespace forged is not sandbox korthbox's; korthbox deleted nothing",
            "labels prove nothing",
            "kubectl annotate namespace forged korthbox.io/sandbox=korthbox",
        ],
    );
    // Another sandbox's record is not this sandbox's.
    let out = down_existing(&sandbox, "other");
    failed_with(&out, 1, &["namespace other is not sandbox korthbox's"]);
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
    api.put_sandbox_namespace("korthbox", "korthbox");
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

// Ctrl-C at a prompt stops korthbox (130) saying nothing was changed; "n", Enter and the end
// of input mean "no", which is not an error: exit 1, what was kept, no `error:` and no hint
// pushing `--yes`.
#[test]
fn ctrl_c_and_no_at_a_prompt() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    add_korthbox_cluster(&sandbox, "kind", "korthbox");
    let prompt = "[y/N]";
    let Some((code, shown)) = at_terminal(&sandbox, "down", prompt, b"\x03") else {
        return;
    };
    assert_eq!(code, 130, "{shown}");
    assert!(shown.contains("nothing was changed"), "{shown}");
    assert!(!shown.contains("reset"), "{shown}");
    for keys in [&b"\x04"[..], b"n\n", b"\n"] {
        let Some((code, shown)) = at_terminal(&sandbox, "down", prompt, keys) else {
            return;
        };
        assert_eq!(code, 1, "{keys:?}: {shown}");
        assert!(
            shown.contains("Kept the kind cluster korthbox"),
            "{keys:?}: {shown}"
        );
        assert!(shown.contains("nothing was deleted"), "{keys:?}: {shown}");
        assert!(!shown.contains("error:"), "{keys:?}: {shown}");
        assert!(!shown.contains("--yes"), "{keys:?}: {shown}");
    }
    assert!(deletes(&sandbox).is_empty());
    assert!(sandbox.path("standin/state/kind/korthbox").exists());
}

// Issue 26: `cluster delete` deletes like `down`: it asks, or needs --yes.
#[test]
fn cluster_delete_asks_first() {
    needs_shared!();
    let sandbox = stand_ins::with_docker_engine();
    add_korthbox_cluster(&sandbox, "kind", "dev");
    let out = sandbox.run(&["cluster", "delete", "dev"]);
    let stderr = failed_with(&out, 2, &["there is no terminal to ask on"]);
    assert!(
        stderr.contains("`korthbox cluster delete --name dev --yes`"),
        "{stderr}"
    );
    assert!(deletes(&sandbox).is_empty());
    let Some((code, shown)) = at_terminal(&sandbox, "cluster delete dev", "[y/N]", b"n\n") else {
        return;
    };
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("Kept the kind cluster dev"), "{shown}");
    assert!(deletes(&sandbox).is_empty());
    ok(&sandbox.run(&["cluster", "delete", "dev", "--yes"]));
    assert_eq!(deletes(&sandbox).len(), 1);
}

// A tool that times out is killed with everything it started.
#[test]
fn a_timed_out_tool_is_killed_with_its_children() {
    needs_shared!();
    let mut sandbox = stand_ins::with_docker_engine();
    sandbox.set("STANDIN_SLEEP", "30");
    sandbox.set("STANDIN_CHILD", "1");
    let started = Instant::now();
    let out = sandbox.run(&[
        "cluster",
        "create",
        "--driver",
        "kind",
        "--create-timeout",
        "2",
    ]);
    let stderr = failed_with(&out, 1, &["did not finish within 2s"]);
    // The hint names the flag that limits this (issue 26).
    assert!(
        stderr.contains("raise the limit with --create-timeout"),
        "{stderr}"
    );
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
    // The old key is read as `create-timeout`, with a notice (issue 26).
    assert!(
        stderr.contains("line 1: `timeout` is now `create-timeout`"),
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

/// A platform team's local-path-provisioner, as upstream's manifest installs it with
/// `kubectl apply` (its class not the default), at an older release than korthbox's.
fn put_platform_provisioner(api: &FakeApi, default: bool) -> Vec<(String, Value)> {
    let by_kubectl = json!([{"manager": "kubectl-client-side-apply", "operation": "Update"}]);
    let mut class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"});
    if default {
        class["metadata"]["annotations"] =
            json!({"storageclass.kubernetes.io/is-default-class": "true"});
    }
    let objects = [
        (
            "/api/v1/namespaces/local-path-storage",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "local-path-storage"}}),
        ),
        (
            "/api/v1/namespaces/local-path-storage/serviceaccounts/local-path-provisioner-service-account",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "local-path-provisioner-service-account", "namespace": "local-path-storage"}}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/local-path-provisioner-role",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "local-path-provisioner-role"},
                   "rules": [{"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["*"]}]}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/local-path-provisioner-bind",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "local-path-provisioner-bind"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "local-path-provisioner-role"}}),
        ),
        (
            "/apis/apps/v1/namespaces/local-path-storage/deployments/local-path-provisioner",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "local-path-provisioner", "namespace": "local-path-storage"},
                   "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "local-path-provisioner", "image": "rancher/local-path-provisioner:v0.0.31"}]}}}}),
        ),
        ("/apis/storage.k8s.io/v1/storageclasses/local-path", class),
    ];
    objects
        .into_iter()
        .map(|(path, mut object)| {
            object["metadata"]["managedFields"] = by_kubectl.clone();
            api.put(path, object);
            (path.to_string(), api.get(path).unwrap())
        })
        .collect()
}

// 1. A platform team's provisioner is used as it is: korthbox labels none of it, writes none
// of it, and `down` deletes none of it — while korthbox's own sandbox still goes completely.
#[test]
fn a_platform_teams_provisioner_is_used_never_taken_over_or_deleted() {
    needs_shared!();
    for default in [false, true] {
        let (sandbox, api) = existing();
        api.remove("/apis/storage.k8s.io/v1/storageclasses/standard");
        let theirs = put_platform_provisioner(&api, default);
        let out = sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "3"]);
        let stderr = ok(&out);
        if !default {
            assert!(
                stderr.contains("using the cluster's StorageClass local-path as it is"),
                "{stderr}"
            );
        }
        let pvc = api
            .get("/api/v1/namespaces/korthbox/persistentvolumeclaims/orthanc-storage")
            .expect("Orthanc's claim");
        let class = pvc["spec"]["storageClassName"].as_str();
        assert!(
            class == Some("local-path") || (default && class.is_none()),
            "{pvc:#}"
        );
        ok(&down_existing(&sandbox, "korthbox"));
        for (path, before) in &theirs {
            assert_eq!(api.get(path).as_ref(), Some(before), "{path} was changed");
            assert!(
                !api.writes().iter().any(|w| w.contains(path.as_str())),
                "{path} was written: {:#?}",
                api.writes()
            );
        }
        assert!(api.get("/api/v1/namespaces/korthbox").is_none());
        assert!(
            api.paths()
                .iter()
                .all(|p| !p.contains("/namespaces/korthbox/")),
            "{:#?}",
            api.paths()
        );
    }
}

// Part of the provisioner someone else left, without a class korthbox could use: refused
// before the first write, naming the object and who manages it.
#[test]
fn a_provisioner_korthbox_cannot_use_is_refused_before_any_write() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.remove("/apis/storage.k8s.io/v1/storageclasses/standard");
    put_platform_provisioner(&api, false);
    api.remove("/apis/storage.k8s.io/v1/storageclasses/local-path");
    let out = sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "3"]);
    failed_with(
        &out,
        1,
        &[
            "korthbox did not create it; korthbox wrote nothing",
            "kubectl-client-side-apply",
        ],
    );
    assert!(api.writes().is_empty(), "{:#?}", api.writes());
}

/// The volumes of the cluster whose claims were in `namespace`.
fn volumes_of(api: &FakeApi, namespace: &str) -> Vec<String> {
    api.paths()
        .into_iter()
        .filter(|p| p.starts_with("/api/v1/persistentvolumes/"))
        .filter(|p| api.get(p).unwrap()["spec"]["claimRef"]["namespace"] == namespace)
        .collect()
}

// Two sandboxes share the provisioner korthbox installed: `down` of either keeps the other
// working, the last one removes it — after its volumes (and their data) are gone.
#[test]
fn two_sandboxes_share_the_provisioner_and_the_last_down_removes_it() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.remove("/apis/storage.k8s.io/v1/storageclasses/standard");
    let apply = |name: &str| {
        ok(&sandbox.run(&[
            "stack",
            "apply",
            "--context",
            "corp",
            "--name",
            name,
            "--namespace",
            name,
            "--wait",
            "3",
        ]))
    };
    let down = |name: &str| {
        ok(&sandbox.run(&[
            "down",
            "--driver",
            "existing",
            "--context",
            "corp",
            "--name",
            name,
            "--namespace",
            name,
            "--yes",
        ]))
    };
    apply("alpha");
    apply("bravo");
    let class = api
        .get("/apis/storage.k8s.io/v1/storageclasses/local-path")
        .unwrap();
    assert!(!volumes_of(&api, "alpha").is_empty() && !volumes_of(&api, "bravo").is_empty());

    let stderr = down("alpha");
    assert!(
        stderr.contains("local-path-provisioner stays: the sandboxes in bravo use it"),
        "{stderr}"
    );
    assert_eq!(
        api.get("/apis/storage.k8s.io/v1/storageclasses/local-path"),
        Some(class)
    );
    assert!(api.get("/api/v1/namespaces/bravo").is_some());
    // The provisioner that stays removes alpha's volumes in its own time.
    std::thread::sleep(Duration::from_millis(400));
    assert!(volumes_of(&api, "alpha").is_empty(), "{:#?}", api.paths());
    // bravo still applies cleanly on the provisioner alpha made.
    apply("bravo");

    down("bravo");
    assert!(volumes_of(&api, "bravo").is_empty(), "{:#?}", api.paths());
    assert!(
        api.get("/apis/storage.k8s.io/v1/storageclasses/local-path")
            .is_none()
    );
    assert!(api.get("/api/v1/namespaces/local-path-storage").is_none());
    assert!(
        api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/local-path-provisioner-role")
            .is_none()
    );
}

/// Every file and folder below `dir`, with its mode.
fn modes_below(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        out.push((path.clone(), mode));
        if path.is_dir() {
            out.extend(modes_below(&path));
        }
    }
    out
}

// 3. Proxy credentials: the driver's own output quoting them, a SOCKS proxy's URL and a URL
// given to `--url` are masked everywhere korthbox shows or stores them; what it stores is its
// owner's alone.
#[test]
fn credentials_in_urls_are_never_shown_nor_stored() {
    needs_shared!();
    const SECRET: &str = "S3cretPW";
    let mut sandbox = stand_ins::with_docker_engine();
    sandbox.set(
        "HTTPS_PROXY",
        &format!("http://alice:{SECRET}@proxy.corp.example.invalid:3128"),
    );
    sandbox.set("STANDIN_FAIL", "1");
    // The failed cluster is deleted after the first, and kept (with its log) by the second.
    let outs = [
        sandbox.run(&["up", "--driver", "minikube", "--json", "--wait", "1"]),
        sandbox.run(&[
            "up", "--driver", "minikube", "-v", "--retain", "--wait", "1",
        ]),
    ];
    for out in &outs {
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            !stdout.contains(SECRET) && !stderr.contains(SECRET),
            "{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("http://***@proxy.corp.example.invalid:3128")
                || stderr.contains("http://***@proxy.corp.example.invalid:3128"),
            "{stdout}\n{stderr}"
        );
    }
    let cache = sandbox.path("home/.cache/korthbox");
    let stored = modes_below(&cache);
    assert!(
        stored.iter().any(|(p, _)| p.ends_with("create.log")),
        "{stored:?}"
    );
    for (path, mode) in &stored {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
        if path.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).to_string();
            assert!(!text.contains(SECRET), "{}: {text}", path.display());
        }
    }

    // A SOCKS proxy for a remote API server: refused before any client is built, masked.
    let mut sandbox = Sandbox::new();
    let config = sandbox.path("home/.kube/config");
    write_kubeconfig(&config, "corp", "https://corp.example.invalid:6443");
    sandbox.set("KUBECONFIG", config.to_str().unwrap());
    sandbox.set(
        "HTTPS_PROXY",
        &format!("socks5://alice:{SECRET}@proxy.corp.example.invalid:1080"),
    );
    let out = sandbox.run(&[
        "status",
        "--driver",
        "existing",
        "--context",
        "corp",
        "--json",
    ]);
    let stderr = failed_with(
        &out,
        2,
        &["SOCKS proxies are not supported", "socks5://***@proxy"],
    );
    assert!(!stderr.contains(SECRET) && !String::from_utf8_lossy(&out.stdout).contains(SECRET));

    // A URL with user-info given to --url: its password is the login, and never printed.
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "prove",
        "--url",
        &format!("http://admin:{SECRET}@127.0.0.1:9"),
        "--dicom",
        "127.0.0.1:9",
        "--json",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // No prompt and no "no password" usage error: the URL gave it.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}\n{stderr}"
    );
}

// 9. A kubeconfig that is a link (to a dotfiles repository) stays a link: the file it leads
// to is replaced, with its mode; and a misspelt SSL_CERT_FILE is an error that names it.
#[test]
fn a_linked_kubeconfig_stays_a_link_and_a_missing_ca_file_is_named() {
    let sandbox = Sandbox::new();
    let target = sandbox.write(
        "dotfiles/kubeconfig",
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-korthbox\nclusters:\n- name: kind-korthbox\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: kind-korthbox\n  context:\n    cluster: kind-korthbox\n    user: kind-korthbox\nusers:\n- name: kind-korthbox\n  user:\n    token: t\n",
    );
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = sandbox.path("home/.kube/config");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let env =
        korthbox::base::env::Env::from_vars([("KUBECONFIG".to_string(), link.clone().into())]);
    let changed = korthbox::host::kubeconfig::remove_context(&env, "kind-korthbox").unwrap();
    assert_eq!(changed, std::slice::from_ref(&link));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(!text.contains("kind-korthbox"), "{text}");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let mut sandbox = Sandbox::new();
    sandbox.set("SSL_CERT_FILE", "/etc/ssl/certs/corp-ca.pme");
    sandbox.set("KORTHBOX_ORTHANC_PASSWORD", "");
    let out = sandbox.run(&[
        "prove",
        "--url",
        "https://127.0.0.1:9",
        "--dicom",
        "127.0.0.1:9",
    ]);
    failed_with(
        &out,
        2,
        &["SSL_CERT_FILE names /etc/ssl/certs/corp-ca.pme, which cannot be read"],
    );
}

// The test API server's server-side apply behaves like the real one where the tests above
// depend on it: new fields merge silently into another manager's object, a different value of
// a field another manager owns conflicts unless forced, a field no longer applied goes.
/// A StorageClass a platform team made with `kubectl apply`.
fn theirs() -> Value {
    let mut sc = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete"});
    support::ssa::created(&mut sc, "kubectl-client-side-apply", "Update");
    sc
}

#[test]
fn new_fields_merge_without_conflict_and_equal_values_are_shared() {
    let applied = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local-path", "labels": {"a": "b"}},
        "provisioner": "rancher.io/local-path"});
    let after = support::ssa::apply(Some(&theirs()), &applied, "korthbox", false).unwrap();
    assert_eq!(after["metadata"]["labels"]["a"], "b");
    assert_eq!(
        after["metadata"]["managedFields"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn a_different_value_of_anothers_field_conflicts_unless_forced() {
    let applied = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local-path"}, "reclaimPolicy": "Retain"});
    let err = support::ssa::apply(Some(&theirs()), &applied, "korthbox", false).unwrap_err();
    assert!(
        err.contains("conflict with \"kubectl-client-side-apply\"")
            && err.contains(".reclaimPolicy"),
        "{err}"
    );
    let forced = support::ssa::apply(Some(&theirs()), &applied, "korthbox", true).unwrap();
    assert_eq!(forced["reclaimPolicy"], "Retain");
}

#[test]
fn a_field_no_longer_applied_is_removed() {
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"}});
    let once = support::ssa::apply(None, &first, "korthbox", false).unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"a": "1"}});
    let twice = support::ssa::apply(Some(&once), &second, "korthbox", false).unwrap();
    assert!(twice["data"].get("b").is_none(), "{twice}");
}

// 6. `down` on an existing cluster removes the provisioner korthbox installed only after the
// sandbox's volumes are gone: their data is deleted by the provisioner's helper pods.
#[test]
fn down_removes_the_provisioner_only_after_the_sandboxs_volumes() {
    needs_shared!();
    let (sandbox, api) = existing();
    api.remove("/apis/storage.k8s.io/v1/storageclasses/standard");
    ok(&sandbox.run(&["stack", "apply", "--context", "corp", "--wait", "3"]));
    assert!(
        !volumes_of(&api, "korthbox").is_empty(),
        "{:#?}",
        api.paths()
    );
    ok(&down_existing(&sandbox, "korthbox"));
    assert!(
        volumes_of(&api, "korthbox").is_empty(),
        "{:#?}",
        api.paths()
    );
    assert!(api.get("/api/v1/namespaces/local-path-storage").is_none());
    // The provisioner's namespace went after the last volume did.
    let requests = api.requests();
    let provisioner_deleted = requests
        .iter()
        .position(|r| r.starts_with("DELETE /api/v1/namespaces/local-path-storage"))
        .expect("the provisioner was deleted");
    let volumes_watched = requests
        .iter()
        .position(|r| r.starts_with("GET /api/v1/persistentvolumes"))
        .expect("the volumes were watched");
    assert!(volumes_watched < provisioner_deleted, "{requests:#?}");
}
