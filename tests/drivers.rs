//! The drivers against stand-in kind, k3d and minikube executables: the exact command lines
//! and provider environment for create, list, delete and load, on Docker and on Podman;
//! delete-on-failure, --retain, idempotent delete, and driver selection.

mod support;

use serde_json::Value;
use support::kube_api::{FakeApi, nodes_from_table};
use support::stand_ins::{self, Call};
use support::{FakeEngine, Sandbox, fixture, fixture_json};

/// A sandbox with the stand-ins, a fake API server with three Ready containerd nodes, and an
/// engine: Docker Engine through DOCKER_HOST, or rootless Podman at its well-known socket.
struct World {
    sandbox: Sandbox,
    api: FakeApi,
    engine: FakeEngine,
}

impl World {
    fn docker() -> World {
        let mut sandbox = Sandbox::new();
        let engine = sandbox.serve_docker_host(
            "engine/docker.sock",
            fixture_json("docker-engine-linux-fedora-info.json"),
        );
        Self::finish(sandbox, engine)
    }

    fn podman() -> World {
        let sandbox = Sandbox::new();
        // $XDG_RUNTIME_DIR/podman/podman.sock: where rootless Podman's service listens.
        let engine = sandbox.serve_engine(
            "home/run/podman/podman.sock",
            fixture_json("podman-docker-api-info.json"),
        );
        Self::finish(sandbox, engine)
    }

    fn finish(mut sandbox: Sandbox, engine: FakeEngine) -> World {
        let api = FakeApi::serve(nodes_from_table(
            &fixture("kind-multinode-get-nodes-wide.txt"),
            None,
        ));
        stand_ins::install(&mut sandbox, Some(&api.url()));
        World {
            sandbox,
            api,
            engine,
        }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.sandbox.run(args)
    }

    fn calls(&self) -> Vec<Call> {
        stand_ins::calls(&self.sandbox)
    }
}

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {stderr}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn failed(out: &std::process::Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn lines(calls: &[Call]) -> Vec<String> {
    calls.iter().map(Call::line).collect()
}

fn config_path(world: &World, file: &str) -> String {
    world
        .sandbox
        .path(&format!("home/.cache/korthbox/clusters/korthbox/{file}"))
        .display()
        .to_string()
}

#[test]
fn kind_on_docker_creates_lists_and_deletes_with_exact_command_lines() {
    needs_shared!();
    let world = World::docker();
    ok(&world.run(&["cluster", "create", "--driver", "kind", "--wait", "5"]));
    ok(&world.run(&["cluster", "delete", "--driver", "kind", "--yes"]));
    let calls = world.calls();
    let config = config_path(&world, "kind.yaml");
    assert_eq!(
        lines(&calls),
        [
            "kind get clusters".to_string(),
            format!("kind create cluster --name korthbox --config {config}"),
            "kind get clusters".to_string(),
            "kind delete cluster --name korthbox".to_string(),
        ]
    );
    // Docker through DOCKER_HOST: the tool inherits it; no provider switch.
    for call in &calls {
        assert_eq!(call.env("KIND_EXPERIMENTAL_PROVIDER"), "<unset>");
        assert_eq!(call.env("DOCKER_HOST"), world.engine.uri());
    }
    // The file handed to kind is the one `plan` prints.
    let handed = calls[1].config.clone().expect("kind got its config file");
    let planned = world.run(&["plan", "--driver", "kind", "--only", "cluster"]);
    assert_eq!(handed, String::from_utf8_lossy(&planned.stdout));
    assert!(
        handed.contains("apiServerAddress: \"127.0.0.1\""),
        "{handed}"
    );
    assert!(!stand_ins::has_cluster(&world.sandbox, "kind", "korthbox"));
}

#[test]
fn kind_on_podman_sets_the_provider_and_loads_through_an_archive() {
    needs_shared!();
    let world = World::podman();
    ok(&world.run(&["cluster", "create", "--driver", "kind", "--wait", "5"]));
    ok(&world.run(&[
        "cluster",
        "load",
        "--driver",
        "kind",
        "docker.io/library/postgres:17.6",
        "orthancteam/orthanc:25.8.2",
    ]));
    let calls = world.calls();
    for call in &calls {
        assert_eq!(
            call.env("KIND_EXPERIMENTAL_PROVIDER"),
            "podman",
            "{}",
            call.line()
        );
    }
    let archive = world
        .sandbox
        .path("home/.cache/korthbox/clusters/korthbox/images.tar")
        .display()
        .to_string();
    assert_eq!(
        calls.last().unwrap().line(),
        format!("kind load image-archive {archive} --name korthbox")
    );
    // The archive came from the engine's API (`docker save` of both images), and is gone after.
    let saved: Vec<String> = world
        .engine
        .requests()
        .into_iter()
        .filter(|r| r.contains("/images/get"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(
        saved[0].contains("postgres") && saved[0].contains("orthanc"),
        "{saved:?}"
    );
    assert!(!std::path::Path::new(&archive).exists());
}

#[test]
fn kind_on_docker_loads_from_the_engine() {
    needs_shared!();
    let world = World::docker();
    ok(&world.run(&["cluster", "create", "--driver", "kind", "--wait", "5"]));
    ok(&world.run(&["cluster", "load", "--driver", "kind", "postgres:17.6"]));
    assert_eq!(
        world.calls().last().unwrap().line(),
        "kind load docker-image postgres:17.6 --name korthbox"
    );
}

#[test]
fn k3d_on_docker_and_on_podman() {
    needs_shared!();
    let world = World::docker();
    ok(&world.run(&[
        "cluster", "create", "--driver", "k3d", "--name", "dev", "--wait", "5",
    ]));
    ok(&world.run(&[
        "cluster",
        "load",
        "--driver",
        "k3d",
        "--name",
        "dev",
        "postgres:17.6",
    ]));
    ok(&world.run(&[
        "cluster", "delete", "--driver", "k3d", "--name", "dev", "--yes",
    ]));
    let config = world
        .sandbox
        .path("home/.cache/korthbox/clusters/dev/k3d.yaml")
        .display()
        .to_string();
    assert_eq!(
        lines(&world.calls()),
        [
            "k3d cluster list -o json".to_string(),
            format!("k3d cluster create dev --config {config}"),
            // load checks that the cluster is there first
            "k3d cluster list -o json".to_string(),
            "k3d image import postgres:17.6 --cluster dev".to_string(),
            "k3d cluster list -o json".to_string(),
            "k3d cluster delete dev".to_string(),
        ]
    );

    // Podman found at its well-known socket: k3d is pointed at it with DOCKER_HOST.
    let world = World::podman();
    ok(&world.run(&["cluster", "create", "--driver", "k3d", "--wait", "5"]));
    for call in world.calls() {
        assert_eq!(
            call.env("DOCKER_HOST"),
            world.engine.uri(),
            "{}",
            call.line()
        );
        assert_eq!(call.env("KIND_EXPERIMENTAL_PROVIDER"), "<unset>");
    }
}

#[test]
fn minikube_on_docker_and_on_podman() {
    needs_shared!();
    let world = World::docker();
    ok(&world.run(&[
        "cluster",
        "create",
        "--driver",
        "minikube",
        "--workers",
        "1",
        "--wait",
        "5",
    ]));
    ok(&world.run(&["cluster", "load", "--driver", "minikube", "postgres:17.6"]));
    ok(&world.run(&["cluster", "delete", "--driver", "minikube", "--yes"]));
    assert_eq!(
        lines(&world.calls()),
        [
            "minikube profile list -o json",
            "minikube start --profile=korthbox --driver=docker --container-runtime=containerd --kubernetes-version=v1.36.4 --nodes=2 --cpus=2 --memory=2048m --listen-address=127.0.0.1",
            "minikube profile list -o json",
            "minikube image load postgres:17.6 --profile=korthbox",
            "minikube profile list -o json",
            "minikube delete --profile korthbox",
        ]
    );

    let world = World::podman();
    ok(&world.run(&[
        "cluster",
        "create",
        "--driver",
        "minikube",
        "--control-planes",
        "3",
        "--wait",
        "5",
    ]));
    let create = &world.calls()[1];
    assert_eq!(
        create.line(),
        "minikube start --profile=korthbox --driver=podman --container-runtime=containerd --kubernetes-version=v1.36.4 --nodes=5 --ha --cpus=2 --memory=2048m --listen-address=127.0.0.1"
    );
    // minikube drives the podman CLI itself; it is not pointed at the socket.
    assert_eq!(create.env("DOCKER_HOST"), "<unset>");
}

// Issue 26: no registry reachable — the error names the proxy, doctor's check and the mirror,
// and claims no clean-up of a cluster that was never made.
#[test]
fn a_create_that_cannot_pull_points_at_the_proxy_and_the_mirror() {
    needs_shared!();
    let mut world = World::docker();
    world.sandbox.set("STANDIN_FAIL", "pull");
    let stderr = failed(&world.run(&["cluster", "create", "--driver", "kind"]), 1);
    assert!(stderr.contains("no such host"), "{stderr}");
    assert!(stderr.contains("HTTPS_PROXY"), "{stderr}");
    assert!(stderr.contains("`korthbox doctor`"), "{stderr}");
    assert!(stderr.contains("--registry-mirror"), "{stderr}");
    assert!(!stderr.contains("half-made"), "{stderr}");
    assert!(!stderr.contains("--retain"), "{stderr}");
    assert!(!lines(&world.calls()).iter().any(|l| l.contains("delete")));
    // `up --timings` shows the phases that ran, the failed one marked, also on failure.
    let stderr = failed(&world.run(&["up", "--driver", "kind", "--timings"]), 1);
    let table = stderr
        .lines()
        .skip_while(|l| !l.starts_with("PHASE"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        table.contains("Creating kind cluster korthbox (failed)"),
        "{stderr}"
    );
    assert!(table.contains("total"), "{stderr}");
}

#[test]
fn a_failed_create_is_deleted_unless_retained() {
    needs_shared!();
    for (driver, tool, delete) in [
        ("kind", "kind", "kind delete cluster --name korthbox"),
        ("k3d", "k3d", "k3d cluster delete korthbox"),
        ("minikube", "minikube", "minikube delete --profile korthbox"),
    ] {
        let mut world = World::docker();
        world.sandbox.set("STANDIN_FAIL", "1");
        let stderr = failed(&world.run(&["cluster", "create", "--driver", driver]), 1);
        assert!(
            stderr.contains(&format!(
                "error: {driver} could not create cluster korthbox"
            )),
            "{stderr}"
        );
        // The tool's own last words are in the error, and so is the clean-up.
        assert!(stderr.contains("its output ended with:"), "{stderr}");
        assert!(
            stderr.contains("the half-made cluster was deleted"),
            "{stderr}"
        );
        assert_eq!(world.calls().last().unwrap().line(), delete);
        assert!(!stand_ins::has_cluster(&world.sandbox, tool, "korthbox"));

        let mut world = World::docker();
        world.sandbox.set("STANDIN_FAIL", "1");
        let stderr = failed(
            &world.run(&["cluster", "create", "--driver", driver, "--retain"]),
            1,
        );
        assert!(stderr.contains("kept (--retain)"), "{stderr}");
        assert!(
            stderr.contains(&format!("delete it with `{delete}`")),
            "{stderr}"
        );
        assert!(stand_ins::has_cluster(&world.sandbox, tool, "korthbox"));
        assert!(!lines(&world.calls()).contains(&delete.to_string()));
    }
    // kind and k3d are told to keep a failed cluster too (they clean up after themselves).
    let mut world = World::docker();
    world.sandbox.set("STANDIN_FAIL", "1");
    world.run(&["cluster", "create", "--driver", "k3d", "--retain"]);
    assert!(world.calls()[1].args.contains(&"--no-rollback".to_string()));
}

#[test]
fn deleting_a_cluster_that_does_not_exist_is_not_an_error() {
    needs_shared!();
    let world = World::docker();
    for driver in ["kind", "k3d", "minikube"] {
        let stderr = ok(&world.run(&["cluster", "delete", "--driver", driver, "--yes"]));
        assert!(stderr.contains("there was no such cluster"), "{stderr}");
    }
    // Only the listings ran: k3d would exit 1 on a missing cluster.
    assert_eq!(
        lines(&world.calls()),
        [
            "kind get clusters",
            "k3d cluster list -o json",
            "minikube profile list -o json"
        ]
    );
}

#[test]
fn an_existing_cluster_is_kept_and_checked() {
    needs_shared!();
    let world = World::docker();
    ok(&world.run(&["cluster", "create", "--driver", "kind", "--wait", "5"]));
    let stderr = ok(&world.run(&["cluster", "create", "--driver", "kind", "--wait", "5"]));
    assert!(stderr.contains("it exists; reusing it"), "{stderr}");
    let creates = lines(&world.calls())
        .iter()
        .filter(|l| l.starts_with("kind create"))
        .count();
    assert_eq!(creates, 1);
    assert!(world.api.requests().iter().all(|r| r.starts_with("GET ")));
}

#[test]
fn cluster_list_reads_every_installed_driver() {
    needs_shared!();
    let world = World::docker();
    ok(&world.run(&["cluster", "create", "--driver", "kind", "--wait", "5"]));
    ok(&world.run(&[
        "cluster", "create", "--driver", "k3d", "--name", "other", "--wait", "5",
    ]));
    let out = world.run(&["cluster", "list", "--json"]);
    ok(&out);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([
            {"driver": "kind", "name": "korthbox", "context": "kind-korthbox"},
            {"driver": "k3d", "name": "other", "context": "k3d-other"},
        ])
    );
    let table = String::from_utf8(world.run(&["cluster", "list"]).stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["k3d", "other", "k3d-other"]),
        "{table}"
    );
}

#[test]
fn auto_takes_the_first_installed_driver() {
    needs_shared!();
    let world = World::docker();
    std::fs::remove_file(world.sandbox.bin().join("kind")).unwrap();
    ok(&world.run(&["cluster", "create", "--wait", "5"]));
    assert!(
        world.calls()[1]
            .line()
            .starts_with("k3d cluster create korthbox")
    );
}

#[test]
fn no_driver_installed_is_an_error_with_the_install_command() {
    needs_shared!();
    let world = World::docker();
    for tool in ["kind", "k3d", "minikube"] {
        std::fs::remove_file(world.sandbox.bin().join(tool)).unwrap();
    }
    let stderr = failed(&world.run(&["cluster", "create"]), 1);
    assert!(
        stderr.contains("error: no cluster driver is installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `korthbox install kind`")
            && stderr.contains(
                "https://github.com/kubernetes-sigs/kind/releases/download/v0.33.0/kind-linux-amd64"
            )
            && !stderr.contains("latest"),
        "{stderr}"
    );

    let stderr = failed(
        &world.run(&["cluster", "create", "--driver", "minikube"]),
        1,
    );
    assert!(
        stderr.contains("--driver minikube needs minikube, which is not installed"),
        "{stderr}"
    );
}

#[test]
fn no_driver_and_no_engine_are_said_at_once() {
    // A new machine: neither a driver nor an engine. Both are said, so that one round of fixes
    // does, by `cluster create` and by `up`.
    let sandbox = Sandbox::new();
    for words in [&["cluster", "create"][..], &["up"]] {
        let stderr = failed(&sandbox.run(words), 1);
        for says in [
            "error: no cluster driver is installed",
            "hint: `korthbox install kind`",
            "hint: also: no container engine answered",
            "hint: start your engine",
        ] {
            assert!(stderr.contains(says), "{words:?}: {stderr}");
        }
    }
}

#[test]
fn no_engine_is_an_error_before_any_tool_runs() {
    let mut sandbox = Sandbox::new();
    stand_ins::install(&mut sandbox, None);
    let stderr = failed(&sandbox.run(&["cluster", "create", "--driver", "kind"]), 1);
    assert!(
        stderr.contains("error: no container engine answered"),
        "{stderr}"
    );
    assert!(
        stderr.contains("caused by: no engine socket exists"),
        "{stderr}"
    );
    assert!(stderr.contains("korthbox doctor"), "{stderr}");
    assert!(stand_ins::calls(&sandbox).is_empty());
}

#[test]
fn a_bad_kubernetes_version_is_a_usage_error_before_any_tool_runs() {
    needs_shared!();
    let world = World::docker();
    let stderr = failed(
        &world.run(&[
            "cluster",
            "create",
            "--driver",
            "kind",
            "--kubernetes-version",
            "1.29",
        ]),
        2,
    );
    assert!(
        stderr.contains("no pinned kind node image for Kubernetes v1.29"),
        "{stderr}"
    );
    assert!(world.calls().is_empty());
}

#[test]
fn an_older_kind_is_warned_about_the_pinned_images() {
    needs_shared!();
    let mut world = World::docker();
    world.sandbox.set("STANDIN_KIND_VERSION", "v0.25.0");
    let stderr = ok(&world.run(&["cluster", "create", "--driver", "kind", "--wait", "5"]));
    assert!(
        stderr.contains(
            "warning: the pinned node images are kind v0.33.0's and kind v0.25.0 may not boot them"
        ),
        "{stderr}"
    );
    // `up` says it too (in its host phase), once.
    let out = world.run(&["up", "--driver", "kind", "--wait", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("kind v0.25.0 may not boot them").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn install_hints_name_the_pinned_release_never_a_branch_or_latest() {
    needs_shared!();
    // doctor's fix for each missing driver on this (Linux amd64) host.
    let sandbox = support::Sandbox::new();
    let (doc, _) = sandbox.doctor_json(&[]);
    let fix = support::check(&doc, "tools.driver")["fix"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        fix.starts_with("`korthbox install kind` (v0.33.0, checksum verified), or system-wide: `curl -Lo kind https://github.com/kubernetes-sigs/kind/releases/download/v0.33.0/kind-linux-"),
        "{fix}"
    );
    for driver in ["kind", "k3d", "minikube"] {
        let world = World::docker();
        for tool in ["kind", "k3d", "minikube"] {
            std::fs::remove_file(world.sandbox.bin().join(tool)).unwrap();
        }
        let stderr = failed(&world.run(&["cluster", "create", "--driver", driver]), 1);
        let version = match driver {
            "kind" => "v0.33.0",
            "k3d" => "v5.8.3",
            _ => "v1.39.0",
        };
        assert!(
            stderr.contains(&format!("releases/download/{version}/{driver}-linux-")),
            "{driver}: {stderr}"
        );
        for moving in ["/latest", "main/install.sh", "dl/latest"] {
            assert!(!stderr.contains(moving), "{driver}: {stderr}");
        }
    }
}
