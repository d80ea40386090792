//! Engine detection and classification against captured real API answers, served over unix
//! sockets by a fake engine, through the real korthbox binary.

mod support;

use serde_json::Value;
use support::{
    FakeEngine, HangingSocket, Sandbox, check, docker_text, engine, fixture, fixture_json,
    version_from_info,
};

/// Where a case's engine is served when only its API answers may name it.
const NEUTRAL: &str = "sock/engine.sock";

/// One line of tests/engine-cases.tsv: a captured engine and what doctor must say about it.
struct Case {
    capture: String,
    socket: String,
    kind: String,
    server_version: String,
    cpus: i64,
    cgroup_version: Option<String>,
    arch: String,
    rootless: bool,
}

fn cases() -> Vec<Case> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engine-cases.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(w.len(), 8, "{line}");
            Case {
                capture: w[0].into(),
                socket: w[1].into(),
                kind: w[2].into(),
                server_version: w[3].into(),
                cpus: w[4].parse().unwrap(),
                cgroup_version: (w[5] != "-").then(|| w[5].to_string()),
                arch: w[6].into(),
                rootless: w[7] == "true",
            }
        })
        .collect()
}

fn info(capture: &str) -> Value {
    match capture.split_once(':') {
        Some(("json", name)) => fixture_json(name),
        Some(("text", name)) => docker_text::info_json(&fixture(name)),
        _ => panic!("unknown capture {capture}"),
    }
}

/// Serves the case's `/info` (and a `/version` made from it), runs doctor and checks what it
/// says about that engine.
fn detect(case: &Case) -> Value {
    let mut sandbox = Sandbox::new();
    let info = info(&case.capture);
    let version = version_from_info(&info);
    let fake = FakeEngine::serve(&sandbox.path(&case.socket), version, info.clone(), None);
    if case.socket == NEUTRAL {
        sandbox.set("DOCKER_HOST", &fake.uri());
    }
    let (doc, _) = sandbox.doctor_json(&[]);
    let e = engine(&doc, &fake.uri()).clone();
    let what = format!("{}: {e:#}", case.capture);
    let resources = &e["resources"];
    assert_eq!(e["state"], "reachable", "{what}");
    assert_eq!(e["kind"], case.kind.as_str(), "{what}");
    assert_eq!(e["server_version"], case.server_version.as_str(), "{what}");
    assert_eq!(resources["cpus"], case.cpus, "{what}");
    assert_eq!(resources["memory_bytes"], info["MemTotal"], "{what}");
    let cgroup = case.cgroup_version.clone().map_or(Value::Null, Value::from);
    assert_eq!(resources["cgroup_version"], cgroup, "{what}");
    assert_eq!(resources["architecture"], case.arch.as_str(), "{what}");
    assert_eq!(resources["rootless"], case.rootless, "{what}");
    assert_eq!(resources["data_root"], info["DockerRootDir"], "{what}");
    e
}

#[test]
fn every_captured_engine_is_classified_and_measured() {
    needs_shared!();
    let cases = cases();
    assert_eq!(cases.len(), 12);
    for case in &cases {
        let e = detect(case);
        if case.capture.contains("fedora") {
            assert_eq!(e["resources"]["cgroup_driver"], "systemd");
        }
    }
}

#[test]
fn docker_desktop_on_linux_is_told_by_its_label() {
    needs_shared!();
    let info = docker_text::info_json(&fixture("docker-desktop-linux-info.txt"));
    assert_eq!(
        info["Labels"][0],
        "com.docker.desktop.address=unix:///home/user/.docker/desktop/docker-cli.sock"
    );
}

#[test]
fn docker_desktop_from_platform_name_alone() {
    needs_shared!();
    // The `docker version` captures carry the product name; served with an /info that says
    // nothing about Docker Desktop (a plain Fedora engine), Platform.Name decides where
    // `/version` is asked: `doctor -v`. (Every captured Docker Desktop `/info` names it, so
    // korthbox asks `/info` alone otherwise.)
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
        let (doc, _) = s.doctor_json(&["-v"]);
        let e = engine(&doc, &fake.uri());
        assert_eq!(e["kind"], "docker-desktop", "{name}");
        assert_eq!(e["platform"], product);
        assert_eq!(e["asked"], "everything");
    }
}

#[test]
fn docker_desktop_told_by_info_is_asked_its_release() {
    needs_shared!();
    // `/info` says Docker Desktop; only `/version` says which release, which doctor shows.
    let mut s = Sandbox::new();
    let version = fixture_json("docker-desktop-mac-version.json")["Server"].clone();
    let info = fixture_json("docker-desktop-mac-info.json");
    let fake = FakeEngine::serve(&s.path("sock/dd.sock"), version, info, None);
    s.set("DOCKER_HOST", &fake.uri());
    let (doc, _) = s.doctor_json(&[]);
    let e = engine(&doc, &fake.uri());
    assert_eq!(e["kind"], "docker-desktop");
    assert_eq!(e["asked"], "everything");
    assert_eq!(e["platform"], "Docker Desktop 4.7.1 (77678)");
    assert_eq!(asked(&fake), ["info", "version"]);
    let reachable = check(&doc, "engine.reachable")["detail"].as_str().unwrap();
    assert!(
        reachable.contains("Docker Desktop 4.7.1 (77678)"),
        "{reachable}"
    );
}

#[test]
fn every_engine_is_found_in_preference_order() {
    needs_shared!();
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
    needs_shared!();
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
    needs_shared!();
    let s = Sandbox::new();
    let hung = HangingSocket::listen(&s.path("home/.rd/docker.sock"));
    let info = docker_text::info_json(&fixture("orbstack-info.txt"));
    let _orb = s.serve_engine("home/.orbstack/run/docker.sock", info);
    let (doc, _) = s.doctor_json(&["--probe-timeout", "0.5"]);
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

/// Docker Engine at its default socket and Podman at the user's, both answering.
fn docker_and_podman() -> (Sandbox, support::FakeEngine, support::FakeEngine) {
    let s = Sandbox::new();
    let docker = s.serve_engine(
        "root/var/run/docker.sock",
        fixture_json("docker-engine-linux-fedora-info.json"),
    );
    let podman = s.serve_engine(
        "home/run/podman/podman.sock",
        fixture_json("podman-docker-api-info.json"),
    );
    (s, docker, podman)
}

fn asked(engine: &support::FakeEngine) -> Vec<String> {
    let mut paths: Vec<String> = engine
        .requests()
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn only_the_engine_korthbox_uses_is_asked_info() {
    needs_shared!();
    let (s, docker, podman) = docker_and_podman();
    let (doc, _) = s.doctor_json(&[]);
    // `/info` is all korthbox needs of Docker Engine; `/version` would cost the engine another
    // run of runc and docker-init.
    assert_eq!(asked(&docker), ["info"]);
    assert_eq!(asked(&podman), ["_ping"], "Podman is only pinged");
    let engines = doc["engines"].as_array().unwrap();
    assert_eq!(engines[0]["kind"], "docker-engine");
    assert_eq!(engines[0]["asked"], "info");
    // The API version comes from the answer's headers.
    assert_eq!(engines[0]["api_version"], "1.53");
    // What the ping's headers say: Podman, its version and API version.
    assert_eq!(engines[1]["kind"], "podman");
    assert_eq!(engines[1]["asked"], "ping");
    assert_eq!(engines[1]["state"], "reachable");
    assert_eq!(
        engines[1]["server_version"],
        fixture_json("podman-docker-api-info.json")["ServerVersion"]
    );
    assert_eq!(engines[1]["api_version"], "1.53");
    assert!(engines[1]["resources"].is_null());
    let reachable = check(&doc, "engine.reachable")["detail"].as_str().unwrap();
    assert!(reachable.ends_with("(1 more reachable)"), "{reachable}");
    // The human form says how to see more.
    let out = s.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("answers (only pinged; `korthbox doctor -v` asks it everything)"),
        "{text}"
    );
    // -v asks every engine everything.
    let (doc, _) = s.doctor_json(&["-v"]);
    assert_eq!(asked(&podman), ["_ping", "info", "version"]);
    assert_eq!(doc["engines"][1]["asked"], "everything");
    assert!(doc["engines"][1]["resources"]["cpus"].is_number());
}

#[test]
fn a_provider_asked_for_is_the_engine_asked() {
    needs_shared!();
    let (s, docker, podman) = docker_and_podman();
    // `cluster list --provider podman` gathers the host for Podman: Docker, first in preference
    // order, is pinged (it might have been Podman behind an unusual path), Podman asked.
    let _ = s.run(&["cluster", "list", "--provider", "podman"]);
    assert_eq!(asked(&podman), ["info"]);
    assert!(
        asked(&docker).iter().all(|p| p == "_ping"),
        "{:?}",
        asked(&docker)
    );
    // Without a provider, the first choice answers and the others are not asked at all.
    let (s, docker, podman) = docker_and_podman();
    let _ = s.run(&["cluster", "list"]);
    assert_eq!(asked(&docker), ["info"]);
    assert!(asked(&podman).is_empty(), "{:?}", asked(&podman));
}

#[test]
fn an_engine_refusing_info_is_said_with_its_message() {
    // An engine that answers `/info` with an error (here a 500 and Docker's JSON message), as a
    // daemon shutting down does: the engine is reported as failing, in the engine's words.
    use std::io::{BufReader, Write};
    let mut s = Sandbox::new();
    let socket = s.path("sock/failing.sock");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            while support::read_request(&mut reader).is_some() {
                let body = r#"{"message":"daemon is shutting down"}"#;
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nApi-Version: 1.53\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if writer.write_all(answer.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    s.set("DOCKER_HOST", &format!("unix://{}", socket.display()));
    let (doc, _) = s.doctor_json(&[]);
    let e = &doc["engines"][0];
    assert_eq!(e["state"], "error", "{e:#}");
    assert_eq!(
        e["error"],
        "the engine answered 500 to /info: daemon is shutting down"
    );
    assert_eq!(check(&doc, "engine.reachable")["status"], "fail");
}
