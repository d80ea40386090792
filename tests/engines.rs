//! Engine detection and classification against captured real API answers, served over unix
//! sockets by a fake engine, through the real korthbox binary.

mod support;

use serde_json::Value;
use support::{
    FakeEngine, HangingSocket, Sandbox, check, docker_text, engine, fixture, fixture_json,
    version_from_info,
};

struct Expect {
    kind: &'static str,
    server_version: &'static str,
    cpus: i64,
    cgroup_version: Option<&'static str>,
    arch: &'static str,
    rootless: bool,
}

/// Serves `info` (and a version made from it, or the given one) at `rel` under the sandbox,
/// runs doctor and checks what it says about that engine.
fn detect(
    sandbox: &mut Sandbox,
    rel: &str,
    info: Value,
    version: Option<Value>,
    via_docker_host: bool,
    expect: Expect,
) -> Value {
    let version = version.unwrap_or_else(|| version_from_info(&info));
    let fake = FakeEngine::serve(&sandbox.path(rel), version, info.clone(), None);
    if via_docker_host {
        sandbox.set("DOCKER_HOST", &fake.uri());
    }
    let (doc, _) = sandbox.doctor_json(&[]);
    let e = engine(&doc, &fake.uri()).clone();
    assert_eq!(e["state"], "reachable", "{e:#}");
    assert_eq!(e["kind"], expect.kind, "{e:#}");
    assert_eq!(e["server_version"], expect.server_version);
    assert_eq!(e["resources"]["cpus"], expect.cpus);
    assert_eq!(e["resources"]["memory_bytes"], info["MemTotal"]);
    assert_eq!(
        e["resources"]["cgroup_version"],
        expect.cgroup_version.map_or(Value::Null, Value::from)
    );
    assert_eq!(e["resources"]["architecture"], expect.arch);
    assert_eq!(e["resources"]["rootless"], expect.rootless);
    assert_eq!(e["resources"]["data_root"], info["DockerRootDir"]);
    e
}

#[test]
fn docker_desktop_mac_json_capture() {
    let mut s = Sandbox::new();
    // A neutral socket path through DOCKER_HOST: the API answers alone must name the engine.
    let info = fixture_json("docker-desktop-mac-info.json");
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "docker-desktop",
            server_version: "24.0.6",
            cpus: 10,
            cgroup_version: Some("2"),
            arch: "arm64",
            rootless: false,
        },
    );
}

#[test]
fn docker_desktop_2020_captures() {
    for (name, cpus) in [
        ("docker-desktop-mac-info-2020-minikube.json", 4),
        ("docker-desktop-windows-info-2020-minikube.json", 4),
    ] {
        let mut s = Sandbox::new();
        let info = fixture_json(name);
        assert_eq!(info["NCPU"], cpus, "{name}");
        detect(
            &mut s,
            "sock/engine.sock",
            info,
            None,
            true,
            Expect {
                kind: "docker-desktop",
                server_version: "19.03.12",
                cpus,
                cgroup_version: None,
                arch: "x86_64",
                rootless: false,
            },
        );
    }
}

#[test]
fn docker_desktop_linux_text_capture_by_label() {
    let mut s = Sandbox::new();
    let info = docker_text::info_json(&fixture("docker-desktop-linux-info.txt"));
    assert_eq!(
        info["Labels"][0],
        "com.docker.desktop.address=unix:///home/user/.docker/desktop/docker-cli.sock"
    );
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "docker-desktop",
            server_version: "29.4.1",
            cpus: 12,
            cgroup_version: Some("2"),
            arch: "x86_64",
            rootless: false,
        },
    );
}

#[test]
fn docker_desktop_wsl2_text_capture() {
    let mut s = Sandbox::new();
    let info = docker_text::info_json(&fixture("docker-desktop-windows-wsl2-info.txt"));
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "docker-desktop",
            server_version: "20.10.21",
            cpus: 32,
            cgroup_version: Some("1"),
            arch: "x86_64",
            rootless: false,
        },
    );
}

#[test]
fn docker_desktop_from_platform_name_alone() {
    // The `docker version` captures carry the product name; served with an /info that says
    // nothing about Docker Desktop (a plain Fedora engine), Platform.Name decides.
    for (name, product) in [
        (
            "docker-desktop-mac-version.json",
            "Docker Desktop 4.7.1 (77678)",
        ),
        (
            "docker-desktop-wsl2-version-sortedkeys.json",
            "Docker Desktop 4.90.0 (238679)",
        ),
    ] {
        let mut s = Sandbox::new();
        let version = fixture_json(name)["Server"].clone();
        let info = fixture_json("docker-engine-linux-fedora-info.json");
        let fake = FakeEngine::serve(&s.path("sock/engine.sock"), version, info, None);
        s.set("DOCKER_HOST", &fake.uri());
        let (doc, _) = s.doctor_json(&[]);
        let e = engine(&doc, &fake.uri());
        assert_eq!(e["kind"], "docker-desktop", "{name}");
        assert_eq!(e["platform"], product);
    }
}

#[test]
fn docker_engine_captures() {
    let mut s = Sandbox::new();
    let info = fixture_json("docker-engine-linux-fedora-info.json");
    let e = detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "docker-engine",
            server_version: "28.2.2",
            cpus: 12,
            cgroup_version: Some("2"),
            arch: "x86_64",
            rootless: false,
        },
    );
    assert_eq!(e["resources"]["cgroup_driver"], "systemd");

    let mut s = Sandbox::new();
    let info = fixture_json("docker-engine-linux-info-2020-minikube.json");
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "docker-engine",
            server_version: "18.09.0",
            cpus: 16,
            cgroup_version: None,
            arch: "x86_64",
            rootless: false,
        },
    );
}

#[test]
fn podman_docker_api_capture_is_rootless_podman() {
    let mut s = Sandbox::new();
    let info = fixture_json("podman-docker-api-info.json");
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "podman",
            server_version: "5.5.2",
            cpus: 32,
            cgroup_version: Some("2"),
            arch: "x86_64",
            rootless: true,
        },
    );
}

#[test]
fn colima_text_captures() {
    // The current colima, at its own socket path (no DOCKER_HOST: found as a well-known socket).
    let mut s = Sandbox::new();
    let info = docker_text::info_json(&fixture("colima-info.txt"));
    detect(
        &mut s,
        "home/.colima/default/docker.sock",
        info,
        None,
        false,
        Expect {
            kind: "colima",
            server_version: "29.5.2",
            cpus: 2,
            cgroup_version: Some("2"),
            arch: "arm64",
            rootless: false,
        },
    );
    // The older, Alpine-based colima through a neutral path: its Name tells it from Rancher Desktop.
    let mut s = Sandbox::new();
    let info = docker_text::info_json(&fixture("colima-info-alpine-2023.txt"));
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "colima",
            server_version: "23.0.6",
            cpus: 2,
            cgroup_version: Some("1"),
            arch: "arm64",
            rootless: false,
        },
    );
}

#[test]
fn orbstack_text_capture() {
    let mut s = Sandbox::new();
    let info = docker_text::info_json(&fixture("orbstack-info.txt"));
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "orbstack",
            server_version: "28.5.2",
            cpus: 6,
            cgroup_version: Some("2"),
            arch: "x86_64",
            rootless: false,
        },
    );
}

#[test]
fn rancher_desktop_text_capture() {
    let mut s = Sandbox::new();
    let info = docker_text::info_json(&fixture("rancher-desktop-mac-info.txt"));
    detect(
        &mut s,
        "sock/engine.sock",
        info,
        None,
        true,
        Expect {
            kind: "rancher-desktop",
            server_version: "26.1.5",
            cpus: 2,
            cgroup_version: Some("2"),
            arch: "x86_64",
            rootless: false,
        },
    );
}

#[test]
fn every_engine_is_found_in_preference_order() {
    let mut s = Sandbox::new();
    let host = {
        let info = fixture_json("docker-desktop-mac-info.json");
        s.serve_engine("sock/dd.sock", info)
    };
    let orb = {
        let info = docker_text::info_json(&fixture("orbstack-info.txt"));
        s.serve_engine("home/.orbstack/run/docker.sock", info)
    };
    let colima = {
        let info = docker_text::info_json(&fixture("colima-info.txt"));
        s.serve_engine("home/.colima/work/docker.sock", info)
    };
    s.set("DOCKER_HOST", &host.uri());
    let (doc, _) = s.doctor_json(&[]);
    let kinds = support::engine_kinds(&doc);
    assert_eq!(kinds, ["docker-desktop", "colima", "orbstack"]);
    assert_eq!(doc["engines"][0]["source"]["type"], "docker-host");
    assert_eq!(doc["engines"][1]["endpoint"], colima.uri());
    assert_eq!(doc["engines"][2]["endpoint"], orb.uri());
    // The first reachable engine is the one checked: Docker Desktop set to 8 GB reports 7.7 GiB,
    // which passes; colima's 1.9 GiB (listed second) is not what korthbox would use.
    let memory = check(&doc, "engine.memory");
    assert_eq!(memory["status"], "ok", "{memory:#}");
    assert_eq!(memory["detail"], "Docker Desktop has 7.7 GiB of memory");
}

#[test]
fn docker_context_endpoint_is_probed() {
    let s = Sandbox::new();
    let info = docker_text::info_json(&fixture("colima-info.txt"));
    let fake = s.serve_engine("elsewhere/colima.sock", info);
    s.write(
        "home/.docker/config.json",
        r#"{"auths":{},"currentContext":"colima"}"#,
    );
    s.write(
        "home/.docker/contexts/meta/0123abcd/meta.json",
        &format!(r#"{{"Name":"colima","Metadata":{{"Description":"colima"}},"Endpoints":{{"docker":{{"Host":"{}","SkipTLSVerify":false}}}}}}"#, fake.uri()),
    );
    let (doc, _) = s.doctor_json(&[]);
    let e = engine(&doc, &fake.uri());
    assert_eq!(e["source"]["type"], "docker-context");
    assert_eq!(e["source"]["name"], "colima");
    assert_eq!(e["kind"], "colima");
}

#[test]
fn a_hanging_engine_does_not_hang_doctor() {
    let mut s = Sandbox::new();
    let hung = HangingSocket::listen(&s.path("home/.orbstack/run/docker.sock"));
    let hung_host = HangingSocket::listen(&s.path("sock/hung.sock"));
    s.set("DOCKER_HOST", &hung_host.uri());
    let started = std::time::Instant::now();
    let (doc, out) = s.doctor_json(&[]);
    let elapsed = started.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "doctor took {elapsed:?}"
    );
    for uri in [hung.uri(), hung_host.uri()] {
        let e = engine(&doc, &uri);
        assert_eq!(e["state"], "no-answer");
        assert_eq!(e["error"], "did not answer within 2s");
    }
    assert_eq!(engine(&doc, &hung.uri())["kind"], "orbstack");
    let reachable = check(&doc, "engine.reachable");
    assert_eq!(reachable["status"], "fail");
    let detail = reachable["detail"].as_str().unwrap();
    assert!(
        detail.contains(&hung.uri()) && detail.contains("did not answer within 2s"),
        "{detail}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_hanging_engine_beside_a_working_one_is_a_warning() {
    let s = Sandbox::new();
    let hung = HangingSocket::listen(&s.path("home/.rd/docker.sock"));
    let info = docker_text::info_json(&fixture("orbstack-info.txt"));
    let _orb = s.serve_engine("home/.orbstack/run/docker.sock", info);
    let (doc, _) = s.doctor_json(&["--timeout", "0.5"]);
    assert_eq!(check(&doc, "engine.reachable")["status"], "ok");
    let warn = check(&doc, "engine.unreachable");
    assert_eq!(warn["status"], "warn");
    assert!(warn["detail"].as_str().unwrap().contains(&hung.uri()));
    assert!(
        warn["detail"]
            .as_str()
            .unwrap()
            .contains("did not answer within 0.5s")
    );
    assert_eq!(warn["fix"], "start Rancher Desktop: `rdctl start`");
}

#[test]
fn no_engine_at_all_fails_with_the_install_fix() {
    let s = Sandbox::new();
    let (doc, out) = s.doctor_json(&[]);
    assert_eq!(doc["engines"].as_array().unwrap().len(), 0);
    let c = check(&doc, "engine.reachable");
    assert_eq!(c["status"], "fail");
    assert!(c["fix"].as_str().unwrap().contains("docker.io"), "{c:#}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_stale_socket_says_how_to_start_the_engine() {
    let s = Sandbox::new();
    // A socket file nobody listens on: what a stopped colima leaves behind.
    let path = s.path("home/.colima/default/docker.sock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let (doc, _) = s.doctor_json(&[]);
    let e = &doc["engines"][0];
    assert_eq!(e["kind"], "colima");
    assert_eq!(e["state"], "error");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("connection refused"),
        "{e:#}"
    );
    assert_eq!(
        check(&doc, "engine.reachable")["fix"],
        "start it: `colima start`"
    );
}
