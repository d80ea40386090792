//! doctor's checks and output, through the real binary: tools on PATH (stand-ins answering
//! with the real tools' captured output), kubeconfig contexts, kernel settings, ports, and the
//! command line itself.

mod support;

use support::{FakeEngine, Sandbox, check, fixture, fixture_json, fixture_path};

fn tool<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
}

/// A stand-in that prints a captured file for `version` (and `version -q` etc.).
fn stand_in_printing(s: &Sandbox, name: &str, fixture_name: &str) {
    s.stand_in(
        name,
        &format!("cat '{}'", fixture_path(fixture_name).display()),
    );
}

#[test]
fn tool_versions_from_real_output_formats() {
    needs_shared!();
    let s = Sandbox::new();
    // kind v0.11.1 (the capture) is older than the minimum, v0.20.0.
    stand_in_printing(&s, "kind", "kind-version.txt");
    // k3d v4 knows no `-o json`: it fails the way cobra fails, then prints text.
    s.stand_in(
        "k3d",
        &format!(
            "if [ \"$2\" = \"-o\" ]; then echo 'Error: unknown shorthand flag: '\\''o'\\'' in -o' >&2; exit 1; fi\ncat '{}'",
            fixture_path("k3d-version.txt").display()
        ),
    );
    // minikube's text form (its JSON form is a unit test of the parser).
    stand_in_printing(&s, "minikube", "minikube-version.txt");
    s.stand_in(
        "kubectl",
        r#"printf '{\n  "clientVersion": {\n    "major": "1",\n    "minor": "32+",\n    "gitVersion": "v1.32.4-dispatcher",\n    "platform": "linux/amd64"\n  },\n  "kustomizeVersion": "v5.5.0"\n}\n'"#,
    );
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(tool(&doc, "kind")["version"], "v0.11.1");
    assert_eq!(tool(&doc, "k3d")["version"], "v4.4.7");
    assert_eq!(tool(&doc, "minikube")["version"], "v1.39.0");
    assert_eq!(tool(&doc, "kubectl")["version"], "v1.32.4-dispatcher");
    assert_eq!(
        tool(&doc, "kind")["path"],
        s.bin().join("kind").to_str().unwrap()
    );

    // minikube is usable; kind and k3d are too old and each get a warning with an upgrade fix.
    let driver = check(&doc, "tools.driver");
    assert_eq!(driver["status"], "ok");
    assert_eq!(driver["detail"], "minikube v1.39.0");
    let kind = check(&doc, "tools.kind");
    assert_eq!(kind["status"], "warn");
    assert_eq!(
        kind["detail"],
        "kind v0.11.1 is older than v0.20.0, the oldest korthbox supports"
    );
    assert!(kind["fix"].as_str().unwrap().contains("kind"));
    assert_eq!(check(&doc, "tools.k3d")["status"], "warn");
    // kubectl v1.32 against the v1.36 clusters `up` creates: outside kubectl's skew of one
    // minor version, with the matching release in the fix.
    let kubectl = check(&doc, "tools.kubectl");
    assert_eq!(kubectl["status"], "warn");
    assert!(
        kubectl["detail"]
            .as_str()
            .unwrap()
            .contains("more than one minor version from Kubernetes v1.36"),
        "{kubectl}"
    );
    assert!(
        kubectl["fix"].as_str().unwrap().contains("/release/v1.36."),
        "{kubectl}"
    );
    s.stand_in(
        "kubectl",
        r#"printf '{"clientVersion": {"major": "1", "minor": "35", "gitVersion": "v1.35.2"}}\n'"#,
    );
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(check(&doc, "tools.kubectl")["status"], "ok");
}

#[test]
fn k3d_json_output_is_preferred() {
    let s = Sandbox::new();
    s.stand_in(
        "k3d",
        r#"[ "$2 $3" = "-o json" ] && printf '{"k3d":"v5.8.3","k3s":"v1.31.5-k3s1"}\n'"#,
    );
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(tool(&doc, "k3d")["version"], "v5.8.3");
    assert_eq!(check(&doc, "tools.driver")["detail"], "k3d v5.8.3");
}

#[test]
fn only_old_drivers_fail_and_missing_kubectl_warns() {
    needs_shared!();
    let s = Sandbox::new();
    stand_in_printing(&s, "kind", "kind-version.txt");
    let (doc, out) = s.doctor_json(&[]);
    assert_eq!(check(&doc, "tools.driver")["status"], "fail");
    assert_eq!(check(&doc, "tools.kubectl")["status"], "warn");
    assert!(tool(&doc, "kubectl")["path"].is_null());
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_tool_that_hangs_is_given_up_on() {
    let s = Sandbox::new();
    s.stand_in("minikube", "sleep 30");
    let started = std::time::Instant::now();
    let (doc, _) = s.doctor_json(&["--probe-timeout", "0.5"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let m = tool(&doc, "minikube");
    assert!(m["version"].is_null());
    assert!(
        m["error"]
            .as_str()
            .unwrap()
            .contains("did not finish within 0.5s"),
        "{m:#}"
    );
}

#[test]
fn kubeconfig_files_merge_and_docker_desktop_is_noticed() {
    needs_shared!();
    let mut s = Sandbox::new();
    let list = std::env::join_paths([
        fixture_path("kubeconfig-view-docker-desktop-kind-minikube-orbstack.yaml"),
        s.path("missing/config"), // kubectl skips files that do not exist; so does korthbox
        fixture_path("kubeconfig-docker-desktop-legacy.yaml"),
    ])
    .unwrap();
    s.set("KUBECONFIG", list.to_str().unwrap());
    let (doc, _) = s.doctor_json(&[]);
    let contexts = &doc["contexts"];
    let names = support::strings(&contexts["contexts"], "name");
    for expected in [
        "docker-desktop",
        "kind-girus",
        "kind-kind",
        "minikube",
        "orbstack",
        "docker-for-desktop",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // The first file to define docker-desktop wins: its server is the newer style.
    let dd = contexts["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "docker-desktop")
        .unwrap();
    assert_eq!(dd["server"], "https://127.0.0.1:50192");
    assert_eq!(dd["docker_desktop"], true);
    assert_eq!(contexts["files"].as_array().unwrap().len(), 2);
    let notice = check(&doc, "kube.docker-desktop");
    assert_eq!(notice["status"], "ok");
    let detail = notice["detail"].as_str().unwrap();
    assert!(
        detail.contains("single node") && detail.contains("korthbox up --driver kind"),
        "{detail}"
    );
}

#[test]
fn a_broken_kubeconfig_is_a_warning() {
    let mut s = Sandbox::new();
    let bad = s.write("kube/bad", "clusters: [ this is not yaml");
    s.set("KUBECONFIG", bad.to_str().unwrap());
    let (doc, _) = s.doctor_json(&[]);
    let c = check(&doc, "kube.config");
    assert_eq!(c["status"], "warn");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains(bad.to_str().unwrap())
    );
    // One line naming the file (not the parser's drawing of it).
    assert!(!c["detail"].as_str().unwrap().contains('\n'), "{c}");
    // A KUBECONFIG entry that does not exist is noted in the same check.
    let missing = s.path("kube/not-there");
    let list = std::env::join_paths([bad.clone(), missing.clone()]).unwrap();
    s.set("KUBECONFIG", list.to_str().unwrap());
    let (doc, _) = s.doctor_json(&[]);
    let detail = check(&doc, "kube.config")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains(&format!(
            "KUBECONFIG names {}, which does not exist",
            missing.display()
        )),
        "{detail}"
    );
}

/// A sandbox whose host root holds os-release, kernel settings and a Docker data root, with
/// a Docker Engine (the Fedora capture) at DOCKER_HOST: an engine whose data is local.
fn linux_host(watches: u64, instances: u64) -> (Sandbox, FakeEngine) {
    let mut s = Sandbox::new();
    s.write(
        "root/etc/os-release",
        "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n",
    );
    s.write(
        "root/proc/sys/kernel/osrelease",
        "5.15.153.1-microsoft-standard-WSL2\n",
    );
    s.write(
        "root/proc/sys/fs/inotify/max_user_watches",
        &format!("{watches}\n"),
    );
    s.write(
        "root/proc/sys/fs/inotify/max_user_instances",
        &format!("{instances}\n"),
    );
    std::fs::create_dir_all(s.path("root/var/lib/docker")).unwrap();
    let info = fixture_json("docker-engine-linux-fedora-info.json");
    let engine = s.serve_docker_host("sock/engine.sock", info);
    (s, engine)
}

#[test]
fn host_os_and_kernel_settings_are_read_from_the_host() {
    needs_shared!();
    if !cfg!(target_os = "linux") {
        return;
    }
    let (s, _engine) = linux_host(8192, 128);
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(doc["host"]["family"], "wsl2");
    assert_eq!(doc["host"]["name"], "Ubuntu");
    assert_eq!(doc["host"]["version"], "22.04");
    let inotify = check(&doc, "host.inotify");
    assert_eq!(inotify["status"], "warn");
    assert!(
        inotify["fix"]
            .as_str()
            .unwrap()
            .contains("fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512")
    );
    let disk = check(&doc, "engine.disk");
    assert_ne!(disk["status"], "skip", "{disk:#}");
    assert!(
        disk["detail"]
            .as_str()
            .unwrap()
            .contains("free at /var/lib/docker")
    );
    // A WSL2 Docker Engine is given more memory through .wslconfig.
    assert_eq!(check(&doc, "engine.memory")["status"], "ok");

    let (s, _engine) = linux_host(1_048_576, 8192);
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(check(&doc, "host.inotify")["status"], "ok");
}

#[test]
fn engines_in_a_vm_skip_host_only_checks() {
    needs_shared!();
    let mut s = Sandbox::new();
    let info = fixture_json("docker-desktop-mac-info.json");
    let _engine = s.serve_docker_host("sock/engine.sock", info);
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(check(&doc, "engine.disk")["status"], "skip");
    assert_eq!(check(&doc, "host.inotify")["status"], "skip");
    assert_eq!(check(&doc, "engine.cgroup")["status"], "ok");
}

#[test]
fn small_engines_fail_with_the_engine_specific_fix() {
    needs_shared!();
    let mut s = Sandbox::new();
    let info = support::docker_text::info_json(&fixture("colima-info.txt"));
    let _engine = s.serve_docker_host("home/.colima/default/docker.sock", info);
    let (doc, out) = s.doctor_json(&[]);
    let memory = check(&doc, "engine.memory");
    assert_eq!(memory["status"], "fail");
    assert_eq!(
        memory["detail"]
            .as_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap(),
        "colima has 1.9 GiB of memory"
    );
    assert_eq!(
        memory["fix"],
        "`colima stop && colima start --cpu 4 --memory 8`"
    );
    let cpus = check(&doc, "engine.cpus");
    assert_eq!(cpus["status"], "warn");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn rootless_podman_needs_delegated_controllers() {
    needs_shared!();
    if !cfg!(target_os = "linux") {
        return;
    }
    let uid = rustix_uid();
    let mut s = Sandbox::new();
    let info = fixture_json("podman-docker-api-info.json");
    let _engine = s.serve_docker_host("sock/podman.sock", info);
    let controllers = format!(
        "root/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.controllers"
    );
    s.write(&controllers, "memory pids\n");
    let (doc, _) = s.doctor_json(&[]);
    let c = check(&doc, "engine.rootless");
    assert_eq!(c["status"], "fail");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("does not delegate cpu, cpuset, io"),
        "{c:#}"
    );
    assert!(c["fix"].as_str().unwrap().contains("Delegate="));

    s.write(&controllers, "cpuset cpu io memory pids\n");
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(check(&doc, "engine.rootless")["status"], "ok");
}

fn rustix_uid() -> u32 {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_busy_port_fails_and_names_the_port() {
    let s = Sandbox::new();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    // Free ports of its own for the other two, so that doctors run by tests in parallel (each
    // binding 4242 and 6443 for an instant) cannot make this one see them busy.
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string()
    };
    let (dicom, api) = (free(), free());
    let (doc, out) = s.doctor_json(&[
        "--http-port",
        &port,
        "--dicom-port",
        &dicom,
        "--api-server-port",
        &api,
    ]);
    let ports: Vec<&serde_json::Value> = ["host.port.http", "host.port.dicom", "host.port.api"]
        .iter()
        .map(|id| check(&doc, id))
        .collect();
    let failed: Vec<_> = ports.iter().filter(|c| c["status"] == "fail").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], "host.port.http");
    // Every check has an id of its own.
    let ids: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert!(failed[0]["detail"].as_str().unwrap().contains(&format!(
        "127.0.0.1:{port} (Orthanc HTTP) is already in use"
    )));
    assert!(
        failed[0]["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("sport = :{port}"))
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn human_output_is_plain_off_a_terminal() {
    let s = Sandbox::new();
    let out = s.run(&["doctor"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour off a terminal: {text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("fail  engine.reachable")),
        "{text}"
    );
    assert!(text.contains("fix: "));
    assert!(text.trim_end().ends_with("skipped"));

    let quiet = s.run(&["doctor", "--quiet"]);
    let text = String::from_utf8(quiet.stdout).unwrap();
    assert!(!text.contains("Host "), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("ok ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("fail ")));
}

#[test]
fn usage_errors_exit_2() {
    let s = Sandbox::new();
    let out = s.run(&["doctor", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));

    let out = s.run(&["doctor", "--probe-timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a number of seconds"));

    let mut s = Sandbox::new();
    s.set("KORTHBOX_PROBE_TIMEOUT", "-3");
    let out = s.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(2));

    let out = Sandbox::new().run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("doctor"));
}

#[test]
fn tool_versions_are_cached_until_the_executable_changes() {
    let s = Sandbox::new();
    let count = s.path("kind-runs");
    let script = |version: &str| {
        format!(
            "echo run >> '{}'\necho 'kind v{version} go1.22.1 linux/amd64'",
            count.display()
        )
    };
    let runs = || {
        std::fs::read_to_string(&count)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };

    s.stand_in("kind", &script("0.23.0"));
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(tool(&doc, "kind")["version"], "v0.23.0");
    assert_eq!(runs(), 1);

    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(tool(&doc, "kind")["version"], "v0.23.0");
    assert_eq!(runs(), 1, "the second run reads the cached version");

    // An upgrade replaces the executable: the cache no longer matches it.
    std::fs::remove_file(s.bin().join("kind")).unwrap();
    s.stand_in("kind", &script("0.31.0"));
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(tool(&doc, "kind")["version"], "v0.31.0");
    assert_eq!(runs(), 2);
}

// Issue 26: an old kind first on PATH does not hide the one `korthbox install` put in korthbox's
// bin directory: the newer is used (by doctor and by the commands alike), and doctor says where
// the other is — so its "upgrade it" hint cannot come back forever.
#[test]
fn a_newer_installed_driver_wins_over_an_older_one_on_path() {
    let mut s = Sandbox::new();
    s.stand_in(
        "kind",
        "[ \"$1\" = version ] && echo 'kind v0.19.0 go1.20.4 linux/amd64' && exit 0\ntouch \"$0.ran\"",
    );
    let installed = s.path("installed");
    std::fs::create_dir_all(&installed).unwrap();
    let kind = installed.join("kind");
    std::fs::write(
        &kind,
        "#!/bin/sh\nPATH=/usr/bin:/bin\n[ \"$1\" = version ] && echo 'kind v0.33.0 go1.25.4 linux/amd64' && exit 0\n[ \"$1 $2\" = 'get clusters' ] && touch \"$0.ran\"\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&kind, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    s.set("KORTHBOX_BIN_DIR", installed.to_str().unwrap());
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(tool(&doc, "kind")["version"], "v0.33.0");
    assert_eq!(tool(&doc, "kind")["path"], kind.to_str().unwrap());
    assert_eq!(tool(&doc, "kind")["other"]["version"], "v0.19.0");
    let driver = check(&doc, "tools.driver");
    assert_eq!(driver["status"], "ok");
    assert_eq!(
        driver["detail"],
        format!(
            "kind v0.33.0 (used: {}; v0.19.0 at {} is not)",
            kind.display(),
            s.bin().join("kind").display()
        )
    );
    assert!(
        !doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "tools.kind"),
        "no upgrade warning for the copy not used: {doc:#}"
    );
    // The commands run the same copy.
    let out = s.run(&["cluster", "list", "--driver", "kind"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(installed.join("kind.ran").exists());
    assert!(!s.bin().join("kind.ran").exists());
}

// Issue 26: on a cgroup v1 engine kind's sandbox is Kubernetes 1.34, and kubectl's skew is
// measured against that, not against the 1.36 `up` creates elsewhere.
#[test]
fn kubectl_skew_is_against_what_up_creates_on_this_host() {
    needs_shared!();
    let mut s = Sandbox::new();
    let mut info = fixture_json("docker-engine-linux-fedora-info.json");
    info["CgroupVersion"] = "1".into();
    let _engine = s.serve_docker_host("sock/engine.sock", info);
    s.stand_in("kind", "echo 'kind v0.33.0 go1.25.4 linux/amd64'");
    s.stand_in(
        "kubectl",
        r#"printf '{"clientVersion": {"major": "1", "minor": "36", "gitVersion": "v1.36.1"}}\n'"#,
    );
    let (doc, _) = s.doctor_json(&[]);
    let kubectl = check(&doc, "tools.kubectl");
    assert_eq!(kubectl["status"], "warn", "{kubectl}");
    assert!(
        kubectl["detail"]
            .as_str()
            .unwrap()
            .contains("from Kubernetes v1.34.11, what `up` creates with kind"),
        "{kubectl}"
    );
    s.stand_in(
        "kubectl",
        r#"printf '{"clientVersion": {"major": "1", "minor": "34", "gitVersion": "v1.34.2"}}\n'"#,
    );
    let (doc, _) = s.doctor_json(&[]);
    assert_eq!(check(&doc, "tools.kubectl")["status"], "ok");
}

// Issue 26: doctor at 80 columns — the blocking problems first, wrapped lines indented under
// their check, a command never broken (a long one on a line of its own), and a KUBECONFIG that
// does not exist yet "will be created".
#[test]
fn doctor_reads_well_at_80_columns() {
    needs_shared!();
    let mut s = Sandbox::new();
    let mut info = fixture_json("docker-engine-linux-fedora-info.json");
    info["CgroupVersion"] = "1".into();
    info["NCPU"] = 2.into();
    let _engine = s.serve_docker_host("sock/engine.sock", info);
    s.write(
        "root/etc/os-release",
        "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    );
    s.stand_in(
        "kubectl",
        r#"printf '{"clientVersion": {"major": "1", "minor": "36", "gitVersion": "v1.36.1"}}\n'"#,
    );
    let kubeconfig = s.path("home/.kube/new-config");
    s.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    s.set("COLUMNS", "80");
    // Ports nothing else on a test machine uses.
    let out = s.run(&[
        "doctor",
        "--http-port",
        "1",
        "--dicom-port",
        "2",
        "--api-server-port",
        "3",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let checks = text.split("\n\n").nth(1).unwrap_or_default().to_string();
    let root = s.dir.path().to_str().unwrap().to_string();
    let checks = checks.replace(&root, "<sandbox>");
    // No line of a check is wider than 80 columns unless it is one command alone.
    for line in checks.lines() {
        let width = line.chars().count();
        let alone = line.trim_start().trim_start_matches("fix: ");
        assert!(
            width <= 80
                || (alone.starts_with('`')
                    && alone.trim_end_matches([';', ',', '.']).ends_with('`')),
            "{width} columns: {line}"
        );
    }
    assert!(checks.starts_with("fail  tools.driver"), "{checks}");
    assert!(checks.contains("will be created"), "{checks}");
    insta::assert_snapshot!("doctor_at_80_columns", checks);
}
