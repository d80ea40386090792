//! Cluster checks against a fake API server serving real node objects (or nodes built from
//! real `kubectl get nodes` captures): good clusters pass; Docker Desktop's built-in cluster,
//! single-node and non-containerd clusters are refused, whatever the context is called; and
//! nothing but reads ever reaches the API.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::kube_api::{FakeApi, nodes_from_table, write_kubeconfig};
use support::{Sandbox, fixture, fixture_json};

fn nodes(fixture_name: &str) -> Vec<Value> {
    match fixture_name {
        "docker-desktop-k8s-node.json" => vec![fixture_json(fixture_name)],
        // Docker Desktop's kind mode: the capture has no runtime column; its nodes are
        // kindest/node containers, so containerd (../shared/fixtures/SOURCES.md, section 3).
        "docker-desktop-kind-mode-get-nodes.txt" => {
            nodes_from_table(&fixture(fixture_name), Some("containerd://1.7.18"))
        }
        _ => nodes_from_table(&fixture(fixture_name), None),
    }
}

/// A sandbox whose kubeconfig has `context` pointing at a fake API serving `fixture_name`.
fn world(fixture_name: &str, context: &str) -> (Sandbox, FakeApi) {
    let mut sandbox = Sandbox::new();
    let api = FakeApi::serve(nodes(fixture_name));
    let kubeconfig = api.kubeconfig(&sandbox.path("home/.kube/config"), context);
    sandbox.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    (sandbox, api)
}

fn check(sandbox: &Sandbox, context: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["cluster", "check", "--context", context, "--wait", "5"];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

fn assert_only_reads(api: &FakeApi) {
    let requests = api.requests();
    assert!(!requests.is_empty(), "the API server was never asked");
    for r in &requests {
        assert!(r.starts_with("GET /api/v1/nodes"), "unexpected request {r}");
    }
}

#[test]
fn good_clusters_pass_with_their_nodes_reported() {
    needs_shared!();
    for (fixture_name, context, count, runtime) in [
        (
            "kind-multinode-get-nodes-wide.txt",
            "kind-kind",
            3,
            "containerd://1.6.4",
        ),
        (
            "k3d-multinode-get-nodes-wide.txt",
            "k3d-vyking-dev",
            3,
            "containerd://1.7.23-k3s2",
        ),
        // Docker Desktop's kind-based mode is a real multi-node containerd cluster; its context
        // is still called docker-desktop, and it passes by evidence.
        (
            "docker-desktop-kind-mode-get-nodes.txt",
            "docker-desktop",
            3,
            "containerd://1.7.18",
        ),
    ] {
        let (sandbox, api) = world(fixture_name, context);
        let out = check(&sandbox, context, &["--json"]);
        assert!(
            out.status.success(),
            "{fixture_name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["context"], context);
        assert_eq!(report["server"], api.url());
        let nodes = report["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), count, "{fixture_name}");
        assert!(
            nodes
                .iter()
                .all(|n| n["ready"] == true && n["container_runtime"] == runtime)
        );
        assert!(nodes.iter().any(|n| {
            n["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "control-plane")
        }));
        assert_only_reads(&api);
    }
}

#[test]
fn docker_desktop_is_refused_by_evidence_whatever_the_context_is_called() {
    needs_shared!();
    for (fixture_name, runtime) in [
        ("docker-desktop-k8s-node.json", "docker://24.0.2"),
        (
            "docker-desktop-k8s-get-nodes-wide-mac.txt",
            "docker://27.2.0",
        ),
        (
            "docker-desktop-k8s-get-nodes-wide-wsl2.txt",
            "docker://27.4.0",
        ),
    ] {
        for context in ["docker-desktop", "my-laptop"] {
            let (sandbox, api) = world(fixture_name, context);
            let out = check(&sandbox, context, &[]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{fixture_name}: {stderr}");
            assert!(
                stderr.contains(&format!("error: refusing the cluster of context `{context}`: it is Docker Desktop's built-in Kubernetes")),
                "{stderr}"
            );
            assert!(
                stderr.contains("it has 1 node; a sandbox needs at least 2"),
                "{stderr}"
            );
            assert!(
                stderr.contains(&format!(
                    "node docker-desktop runs its containers on {runtime}"
                )),
                "{stderr}"
            );
            assert!(stderr.contains("not containerd"), "{stderr}");
            assert!(
                stderr.contains("hint: `korthbox up --driver kind`"),
                "{stderr}"
            );
            assert!(out.stdout.is_empty());
            assert_only_reads(&api);
        }
    }
}

#[test]
fn single_node_and_docker_runtime_clusters_are_refused() {
    needs_shared!();
    // minikube v1.39.0 on containerd, but one node.
    let (sandbox, api) = world("minikube-single-get-nodes-wide.txt", "minikube");
    let out = check(&sandbox, "minikube", &[]);
    let stderr = support::failed_with(
        &out,
        1,
        &[
            "refusing the cluster of context `minikube`: it cannot host a sandbox",
            "it has 1 node; a sandbox needs at least 2",
        ],
    );
    assert!(!stderr.contains("Docker Desktop's built-in"), "{stderr}");
    assert_only_reads(&api);

    // minikube, three nodes, on the docker runtime.
    let (sandbox, api) = world("minikube-multinode-get-nodes-wide.txt", "minikube");
    let out = check(&sandbox, "minikube", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for node in ["minikube", "minikube-m02", "minikube-m03"] {
        assert!(
            stderr.contains(&format!(
                "node {node} runs its containers on docker://20.10.3"
            )),
            "{stderr}"
        );
    }
    assert_only_reads(&api);
}

#[test]
fn docker_desktop_context_is_refused_by_name_when_its_api_is_down() {
    let mut sandbox = Sandbox::new();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = sandbox.path("home/.kube/config");
    write_kubeconfig(
        &path,
        "docker-desktop",
        &format!("https://127.0.0.1:{port}"),
    );
    sandbox.set("KUBECONFIG", path.to_str().unwrap());
    let started = Instant::now();
    let out = check(&sandbox, "docker-desktop", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refusing context `docker-desktop`: it is Docker Desktop's built-in Kubernetes, a single node that does not run containerd"), "{stderr}");
    assert!(
        stderr.contains(&format!("at https://127.0.0.1:{port} did not answer")),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `korthbox up --driver kind`"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "refused without waiting"
    );

    // Any other context with a dead API server is waited for, then named.
    write_kubeconfig(&path, "lab", &format!("https://127.0.0.1:{port}"));
    let out = sandbox.run(&["cluster", "check", "--context", "lab", "--wait", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the API server of context `lab` (https://127.0.0.1:{port}) cannot be reached"
        )),
        "{stderr}"
    );
}

#[test]
fn nodes_that_stay_not_ready_are_named_with_their_reason() {
    needs_shared!();
    let mut text = fixture("kind-multinode-get-nodes-wide.txt");
    text = text.replacen(
        "kind-worker2         Ready   ",
        "kind-worker2         NotReady",
        1,
    );
    let mut sandbox = Sandbox::new();
    let api = FakeApi::serve(nodes_from_table(&text, None));
    let kubeconfig = api.kubeconfig(&sandbox.path("home/.kube/config"), "kind-kind");
    sandbox.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    let started = Instant::now();
    let out = sandbox.run(&["cluster", "check", "--context", "kind-kind", "--wait", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the nodes of context `kind-kind` were not all Ready within 3s"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "node kind-worker2 is not Ready: KubeletNotReady: container runtime network not ready"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("node kind-worker is not"), "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(api.requests().len() >= 2, "asked again while waiting");

    // A node that becomes Ready while korthbox waits passes.
    let ready = nodes_from_table(&fixture("kind-multinode-get-nodes-wide.txt"), None);
    let flip = std::thread::spawn({
        let api_nodes = ready.clone();
        let api_ref = std::sync::Arc::new(api);
        let api2 = api_ref.clone();
        move || {
            std::thread::sleep(Duration::from_millis(1500));
            api2.set_nodes(api_nodes);
            api_ref
        }
    });
    let out = sandbox.run(&["cluster", "check", "--context", "kind-kind", "--wait", "20"]);
    let api = flip.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_only_reads(&api);
}

#[test]
fn an_unknown_context_says_where_it_looked() {
    needs_shared!();
    let (sandbox, _api) = world("kind-multinode-get-nodes-wide.txt", "kind-kind");
    let out = check(&sandbox, "nope", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A context that is not there is a usage error (exit 2), as for every command.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: there is no kube context `nope`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("looked in") && stderr.contains(".kube/config"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `kubectl config get-contexts`"),
        "{stderr}"
    );
}

#[test]
fn an_existing_cluster_is_checked_and_nothing_is_created() {
    needs_shared!();
    let (mut sandbox, api) = world("k3d-multinode-get-nodes-wide.txt", "prod-like");
    support::stand_ins::install(&mut sandbox, None);
    // install() points KUBECONFIG at the same file.
    let out = sandbox.run(&[
        "cluster",
        "create",
        "--driver",
        "existing",
        "--context",
        "prod-like",
        "--wait",
        "5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("k3d-vyking-dev-server-0") && table.contains("containerd://1.7.23-k3s2"),
        "{table}"
    );
    assert!(support::stand_ins::calls(&sandbox).is_empty());
    let out = sandbox.run(&[
        "cluster",
        "delete",
        "--driver",
        "existing",
        "--context",
        "prod-like",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("korthbox deletes nothing of it"),
        "{stderr}"
    );
    assert_only_reads(&api);

    let out = sandbox.run(&["cluster", "create", "--driver", "existing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --context NAME"));
}
