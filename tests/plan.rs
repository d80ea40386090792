//! `korthbox plan --only cluster`: every rendered kind and k3d definition, for every option
//! korthbox supports, validates against the tools' schemas (kind decodes v1alpha4 strictly);
//! everything the host sees is bound to 127.0.0.1; plan needs no driver and no cluster.

mod support;

use serde_json::Value;
use support::{Sandbox, fixture_json};

fn schema(name: &str) -> jsonschema::Validator {
    let path = support::shared_path(&format!("schemas/{name}"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{doc:#}");
}

fn plan(sandbox: &Sandbox, args: &[&str]) -> (String, String) {
    let mut all = vec!["plan", "--only", "cluster"];
    all.extend_from_slice(args);
    let out = sandbox.run(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "plan {args:?}: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

const WORKERS: [&str; 4] = ["1", "2", "5", "9"];

/// The cluster `plan` renders for `args` with these node counts and version, validated against
/// the schema; with the arguments, for messages.
fn planned(
    sandbox: &Sandbox,
    validator: &jsonschema::Validator,
    args: &[&str],
    (workers, control_planes, version): (&str, &str, Option<&str>),
) -> (Value, String) {
    let mut args = args.to_vec();
    args.extend(["--workers", workers, "--control-planes", control_planes]);
    args.extend(
        version
            .map(|v| ["--kubernetes-version", v])
            .into_iter()
            .flatten(),
    );
    let what = format!("{args:?}");
    let (text, _) = plan(sandbox, &args);
    let doc = yaml(&text);
    assert_valid(validator, &doc, &what);
    (doc, what)
}

#[test]
fn every_kind_definition_validates_and_binds_to_loopback() {
    needs_shared!();
    let validator = schema("kind-cluster-v1alpha4.schema.json");
    let sandbox = Sandbox::new();
    let versions = [
        None,
        Some("v1.37.0"),
        Some("1.36"),
        Some("v1.35.8"),
        Some("1.34"),
    ];
    for workers in WORKERS {
        for planes in ["1", "3"] {
            for version in versions {
                let args = ["--driver", "kind", "--name", "dev-2"];
                let (doc, what) = planned(&sandbox, &validator, &args, (workers, planes, version));

                assert_eq!(doc["name"], "dev-2");
                assert_eq!(doc["networking"]["apiServerAddress"], "127.0.0.1", "{what}");
                assert_eq!(doc["networking"]["apiServerPort"], 6443);
                let nodes = doc["nodes"].as_array().unwrap();
                let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
                let cps: usize = planes.parse().unwrap();
                let ws: usize = workers.parse().unwrap();
                assert_eq!(roles.len(), cps + ws, "{what}");
                assert!(
                    roles[..cps].iter().all(|r| *r == "control-plane")
                        && roles[cps..].iter().all(|r| *r == "worker")
                );
                for node in nodes {
                    let image = node["image"].as_str().unwrap();
                    assert!(
                        image.starts_with("kindest/node:v1.") && image.contains("@sha256:"),
                        "{image}"
                    );
                    if let Some(v) = version {
                        assert!(
                            image.contains(&format!(":v{}", v.trim_start_matches('v'))),
                            "{what}: {image}"
                        );
                    }
                }
                // Host ports are mapped once, on the first node, and only on 127.0.0.1.
                let mappings = nodes[0]["extraPortMappings"].as_array().unwrap();
                let pairs: Vec<(u64, u64)> = mappings
                    .iter()
                    .map(|m| {
                        assert_eq!(m["listenAddress"], "127.0.0.1", "{what}");
                        (
                            m["hostPort"].as_u64().unwrap(),
                            m["containerPort"].as_u64().unwrap(),
                        )
                    })
                    .collect();
                assert_eq!(pairs, [(8042, 30042), (4242, 30242)]);
                assert!(
                    nodes[1..]
                        .iter()
                        .all(|n| n.get("extraPortMappings").is_none())
                );
            }
        }
    }
}

#[test]
fn every_k3d_definition_validates_and_binds_to_loopback() {
    needs_shared!();
    let validator = schema("k3d-simple-v1alpha5.schema.json");
    let sandbox = Sandbox::new();
    for workers in WORKERS {
        for planes in ["1", "3"] {
            for (version, image) in [
                (
                    None,
                    "rancher/k3s:v1.36.4-k3s1@sha256:edad48e12bf81c3a09ac1c05c0c0ffaaa22145980b989d6fae84543a76b83657",
                ),
                (Some("v1.35.3"), "rancher/k3s:v1.35.3-k3s1"),
                (Some("v1.34.6+k3s2"), "rancher/k3s:v1.34.6-k3s2"),
            ] {
                let args = [
                    "--driver",
                    "k3d",
                    "--http-port",
                    "18042",
                    "--dicom-port",
                    "14242",
                ];
                let args = [&args[..], &["--api-server-port", "16443"]].concat();
                let (doc, what) = planned(&sandbox, &validator, &args, (workers, planes, version));
                assert_eq!(doc["metadata"]["name"], "korthbox");
                assert_eq!(
                    doc["servers"].as_u64().unwrap(),
                    planes.parse::<u64>().unwrap()
                );
                assert_eq!(
                    doc["agents"].as_u64().unwrap(),
                    workers.parse::<u64>().unwrap()
                );
                assert_eq!(doc["image"], image, "{what}");
                assert_eq!(doc["kubeAPI"]["hostIP"], "127.0.0.1");
                assert_eq!(doc["kubeAPI"]["hostPort"], "16443");
                let ports = support::strings(&doc["ports"], "port");
                assert_eq!(ports, ["127.0.0.1:18042:30042", "127.0.0.1:14242:30242"]);
            }
        }
    }
}

#[test]
fn the_schemas_catch_what_the_tools_would_reject() {
    needs_shared!();
    // The validators are not vacuous: a field kind does not know, a wrong type for k3d.
    let sandbox = Sandbox::new();
    let (text, _) = plan(&sandbox, &["--driver", "kind"]);
    let mut doc = yaml(&text);
    doc["nodes"][0]["extraPortMapping"] = serde_json::json!([]);
    assert!(!schema("kind-cluster-v1alpha4.schema.json").is_valid(&doc));
    let (text, _) = plan(&sandbox, &["--driver", "k3d"]);
    let mut doc = yaml(&text);
    doc["kubeAPI"]["hostIP"] = serde_json::json!("localhost:6443");
    assert!(!schema("k3d-simple-v1alpha5.schema.json").is_valid(&doc));
}

#[test]
fn minikube_plan_is_the_argv() {
    let sandbox = Sandbox::new();
    let (text, _) = plan(
        &sandbox,
        &[
            "--driver",
            "minikube",
            "--provider",
            "podman",
            "--node-cpus",
            "4",
            "--node-memory",
            "4096",
            "--kubernetes-version",
            "v1.35.2",
        ],
    );
    assert_eq!(
        text,
        "minikube start --profile=korthbox --driver=podman --container-runtime=containerd --kubernetes-version=v1.35.2 --nodes=3 --cpus=4 --memory=4096m --listen-address=127.0.0.1\n"
    );
}

#[test]
fn output_dir_writes_the_same_as_stdout() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("out");
    for (driver, file) in [("kind", "kind.yaml"), ("k3d", "k3d.yaml")] {
        let (printed, _) = plan(&sandbox, &["--driver", driver]);
        let (stdout, stderr) = plan(
            &sandbox,
            &["--driver", driver, "--output-dir", dir.to_str().unwrap()],
        );
        assert!(stdout.is_empty());
        assert_eq!(std::fs::read_to_string(dir.join(file)).unwrap(), printed);
        assert!(
            stderr.contains(&format!("wrote {}", dir.join(file).display())),
            "{stderr}"
        );
        assert!(stderr.contains("`korthbox up` would run:"), "{stderr}");
    }
    plan(
        &sandbox,
        &[
            "--driver",
            "minikube",
            "--output-dir",
            dir.to_str().unwrap(),
        ],
    );
    let args = std::fs::read_to_string(dir.join("minikube.args")).unwrap();
    assert_eq!(args.lines().next(), Some("start"));
    assert!(args.lines().any(|l| l == "--container-runtime=containerd"));
}

#[test]
fn plan_needs_no_driver_engine_or_cluster() {
    // The sandbox's PATH holds nothing, no engine answers, and there is no kubeconfig.
    let sandbox = Sandbox::new();
    let (text, stderr) = plan(&sandbox, &[]);
    assert!(
        stderr.contains("no cluster driver is installed; planning as for kind"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no container engine answered; planning for Docker"),
        "{stderr}"
    );
    assert_eq!(yaml(&text)["kind"], "Cluster");
}

#[test]
fn the_provider_follows_the_engine_found() {
    needs_shared!();
    let sandbox = Sandbox::new();
    let _podman = sandbox.serve_engine(
        "home/run/podman/podman.sock",
        fixture_json("podman-docker-api-info.json"),
    );
    let (text, _) = plan(&sandbox, &["--driver", "minikube"]);
    assert!(text.contains("--driver=podman"), "{text}");
    let (_, stderr) = plan(&sandbox, &["--driver", "kind", "-v"]);
    assert!(stderr.contains("would run: KIND_EXPERIMENTAL_PROVIDER=podman kind create cluster --name korthbox --config"), "{stderr}");
    // --provider overrides what was found.
    let (text, _) = plan(&sandbox, &["--driver", "minikube", "--provider", "docker"]);
    assert!(text.contains("--driver=docker"), "{text}");
}

#[test]
fn bad_options_are_usage_errors() {
    let sandbox = Sandbox::new();
    for (args, says) in [
        (vec!["--workers", "0"], "--workers"),
        (vec!["--workers", "10"], "--workers"),
        (vec!["--control-planes", "2"], "1 control-plane node, or 3"),
        (
            vec!["--name", "a-name-that-is-far-too-long-for-k3d-x"],
            "the limit is 32",
        ),
        (vec!["--name", "dev-"], "must end with a letter or a digit"),
        (
            vec!["--driver", "k3d", "--kubernetes-version", "1.36"],
            "write the full version, such as v1.36.1",
        ),
        (
            vec!["--driver", "kind", "--kubernetes-version", "latest"],
            "is not a Kubernetes version",
        ),
        (
            vec!["--driver", "kind", "--context", "x"],
            "--driver existing --context NAME",
        ),
    ] {
        let mut all = vec!["plan"];
        all.extend(args.iter().copied());
        let out = sandbox.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn existing_cluster_plans_nothing() {
    let sandbox = Sandbox::new();
    let (text, stderr) = plan(&sandbox, &["--driver", "existing", "--context", "gke-dev"]);
    assert!(text.is_empty());
    assert!(
        stderr.contains("context `gke-dev` is used as it is"),
        "{stderr}"
    );
}

/// A sandbox whose only engine is Docker Engine (a real capture) reporting cgroup `version`.
fn engine_on_cgroup(version: &str) -> (Sandbox, support::FakeEngine) {
    let mut sandbox = Sandbox::new();
    let mut info = fixture_json("docker-engine-linux-fedora-info.json");
    info["CgroupVersion"] = serde_json::json!(version);
    let engine = sandbox.serve_docker_host("engine/docker.sock", info);
    (sandbox, engine)
}

#[test]
fn cgroup_v1_engines_get_definitions_whose_kubelets_start() {
    needs_shared!();
    let kind_schema = schema("kind-cluster-v1alpha4.schema.json");
    let k3d_schema = schema("k3d-simple-v1alpha5.schema.json");
    let (v1, _engine) = engine_on_cgroup("1");
    let (v2, _engine2) = engine_on_cgroup("2");

    // kind: its 1.35+ node images drop cgroup v1, so the newest pinned image below 1.35.
    let (text, stderr) = plan(&v1, &["--driver", "kind"]);
    let doc = yaml(&text);
    assert_valid(&kind_schema, &doc, "kind on cgroup v1");
    assert!(
        doc["nodes"][0]["image"]
            .as_str()
            .unwrap()
            .starts_with("kindest/node:v1.34.11@sha256:")
    );
    assert!(doc.get("kubeadmConfigPatches").is_none());
    assert!(
        stderr.contains("note: the engine runs cgroup v1: korthbox picks Kubernetes v1.34.11"),
        "{stderr}"
    );
    // A note about the cluster only when the cluster is shown (issue 26).
    let out = v1.run(&["plan", "--driver", "kind", "--only", "images"]);
    let images = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && images.contains("orthanc"),
        "{images}{stderr}"
    );
    assert!(!stderr.contains("cgroup"), "{stderr}");
    // An asked-for 1.35+ is respected, with the kubelet setting.
    let (text, stderr) = plan(&v1, &["--driver", "kind", "--kubernetes-version", "v1.36"]);
    let doc = yaml(&text);
    assert_valid(&kind_schema, &doc, "kind 1.36 on cgroup v1");
    assert!(
        doc["nodes"][0]["image"]
            .as_str()
            .unwrap()
            .starts_with("kindest/node:v1.36.4@")
    );
    let patch = doc["kubeadmConfigPatches"][0].as_str().unwrap();
    let patch: Value = yaml(patch);
    assert_eq!(patch["kind"], "KubeletConfiguration");
    assert_eq!(patch["failCgroupV1"], false);
    assert!(stderr.contains("`failCgroupV1: false`"), "{stderr}");

    // k3d: every k3s node's kubelet gets the flag.
    let (text, stderr) = plan(&v1, &["--driver", "k3d"]);
    let doc = yaml(&text);
    assert_valid(&k3d_schema, &doc, "k3d on cgroup v1");
    let args = doc["options"]["k3s"]["extraArgs"].as_array().unwrap();
    let allow = args
        .iter()
        .find(|a| a["arg"] == "--kubelet-arg=fail-cgroupv1=false")
        .unwrap_or_else(|| panic!("{args:?}"));
    assert_eq!(
        allow["nodeFilters"],
        serde_json::json!(["server:*", "agent:*"])
    );
    assert!(
        stderr.contains("note: the engine runs cgroup v1"),
        "{stderr}"
    );
    // A Kubernetes that still runs on cgroup v1 needs nothing.
    let (text, stderr) = plan(&v1, &["--driver", "k3d", "--kubernetes-version", "v1.34.5"]);
    assert!(!text.contains("fail-cgroupv1"), "{text}");
    assert!(
        stderr.contains("Kubernetes v1.34.5 still starts there as it is"),
        "{stderr}"
    );

    // minikube does it itself: the command line is the same, the note says so.
    let (on_v1, stderr) = plan(&v1, &["--driver", "minikube"]);
    let (on_v2, _) = plan(&v2, &["--driver", "minikube"]);
    assert_eq!(on_v1, on_v2);
    assert!(
        stderr.contains("minikube v1.39.0 gives the kubelets `failCgroupV1: false` itself"),
        "{stderr}"
    );

    // cgroup v2 engines get exactly what korthbox planned before (the engine not asked).
    let bare = Sandbox::new();
    for driver in ["kind", "k3d"] {
        let (text, stderr) = plan(&v2, &["--driver", driver]);
        let (before, _) = plan(&bare, &["--driver", driver, "--provider", "docker"]);
        assert_eq!(text, before, "{driver}");
        assert!(!stderr.contains("cgroup"), "{stderr}");
    }
}

#[test]
fn doctor_says_what_up_does_on_cgroup_v1() {
    needs_shared!();
    let (v1, _engine) = engine_on_cgroup("1");
    let (doc, _) = v1.doctor_json(&[]);
    let check = support::check(&doc, "engine.cgroup");
    assert_eq!(check["status"], "warn", "{check}");
    let message = check["detail"].as_str().unwrap();
    assert!(
        message.contains("`up` copes — kind gets Kubernetes 1.34")
            && message.contains("k3d's kubelets `fail-cgroupv1=false`"),
        "{message}"
    );
}

// Issue 23: `--registry-mirror` covers the nodes' images: kind's node image and k3d's k3s image
// come from the mirror; minikube gets `--image-repository` and is told its kicbase is left.
// `plan --only images` lists every image a sandbox pulls, the nodes' first.
#[test]
fn the_mirror_covers_the_node_images_and_plan_lists_them() {
    needs_shared!();
    let sandbox = Sandbox::new();
    let mirror = "mirror.corp.example:5000";
    let (kind, _) = plan(&sandbox, &["--driver", "kind", "--registry-mirror", mirror]);
    let doc = yaml(&kind);
    for node in doc["nodes"].as_array().unwrap() {
        let image = node["image"].as_str().unwrap();
        assert!(
            image.starts_with(&format!("{mirror}/kindest/node:v1.36.4@sha256:")),
            "{image}"
        );
    }
    let (k3d, _) = plan(&sandbox, &["--driver", "k3d", "--registry-mirror", mirror]);
    let image = yaml(&k3d)["image"].as_str().unwrap().to_string();
    assert!(
        image.starts_with(&format!("{mirror}/rancher/k3s:v1.36.4-k3s1@sha256:")),
        "{image}"
    );
    let (minikube, said) = plan(
        &sandbox,
        &["--driver", "minikube", "--registry-mirror", mirror],
    );
    assert!(
        minikube
            .split_whitespace()
            .any(|w| w == format!("--image-repository={mirror}")),
        "{minikube}"
    );
    assert!(said.contains("kicbase"), "{said}");
    // Without a mirror, nothing of it.
    let (minikube, _) = plan(&sandbox, &["--driver", "minikube"]);
    assert!(!minikube.contains("--image-repository"), "{minikube}");

    for (driver, node, local_path) in [
        ("kind", Some("kindest/node:"), false),
        ("k3d", Some("rancher/k3s:"), false),
        ("minikube", None, true),
    ] {
        let out = sandbox.run(&["plan", "--only", "images", "--driver", driver]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let images = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = images.lines().collect();
        match node {
            Some(node) => assert!(lines[0].contains(node), "{driver}: {images}"),
            None => assert!(lines.iter().all(|l| !l.contains("kicbase")), "{images}"),
        }
        assert_eq!(
            lines
                .iter()
                .any(|l| l.contains("local-path-provisioner:v0.0.37")),
            local_path,
            "{driver}: {images}"
        );
        assert_eq!(
            lines.iter().any(|l| l.contains("busybox")),
            local_path,
            "{images}"
        );
        for line in lines {
            assert!(
                line.contains(":") && line.contains("@sha256:") && line.len() > 80,
                "{driver}: not pinned by tag and digest: {line}"
            );
        }
    }
    // `korthbox version -o json` lists every pin: the stack's images and each driver's nodes'.
    let out = sandbox.run(&["version", "-o", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for component in ["orthanc", "postgres", "minio", "local_path", "busybox"] {
        let image = doc["images"][component].as_str().unwrap_or_default();
        assert!(image.contains("@sha256:"), "{component}: {doc:#}");
    }
    assert!(
        doc["drivers"]["kind"]["node_images"][0]
            .as_str()
            .unwrap()
            .starts_with("kindest/node:v1.36.4@sha256:")
    );
    assert!(
        doc["drivers"]["k3d"]["node_images"][0]
            .as_str()
            .unwrap()
            .starts_with("rancher/k3s:v1.36.4-k3s1@sha256:")
    );
}
