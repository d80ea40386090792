//! A whole sandbox world for lifecycle tests and benchmarks: stand-in drivers, the in-memory
//! fake API server, an engine (captured or the real one), and behind the fake's port-forwards a
//! real Orthanc with a real PostgreSQL; plus Debian's docker-registry for image tests.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::kube_api::{ExecRoute, FakeApi};
use super::orthanc::{Orthanc, Postgres, available, free_port, render_with, start_orthanc};
use super::stand_ins::{self, Call};
use super::{FakeEngine, Sandbox, fixture_json};

pub struct World {
    pub sandbox: Sandbox,
    pub api: FakeApi,
    _engine: FakeEngine,
    pub orthanc: Orthanc,
    /// With several Orthancs (`with_replicas`), the others, on the same PostgreSQL.
    pub others: Vec<Orthanc>,
    _postgres: Postgres,
    pub ports: [String; 3],
}

impl World {
    /// None when the real parts (Orthanc, PostgreSQL) are missing and not required.
    pub fn new() -> Option<World> {
        Self::with_engine(None)
    }

    /// With `docker_host`, the nodes' engine is that real one instead of a captured one.
    pub fn with_engine(docker_host: Option<&str>) -> Option<World> {
        Self::build(docker_host, &["--orthanc-storage", "pv"], 1)
    }

    /// With Orthanc keeping its files as `--orthanc-storage mode` says (`pv` or `postgres`).
    pub fn with_storage(mode: &str) -> Option<World> {
        Self::build(None, &["--orthanc-storage", mode], 1)
    }

    /// With `n` real Orthancs from the `--orthanc-replicas n --orthanc-storage postgres`
    /// configuration on one PostgreSQL, pod `orthanc-i`'s port-forwards reaching the i-th.
    pub fn with_replicas(n: usize) -> Option<World> {
        let n_text = n.to_string();
        let flags = [
            "--orthanc-storage",
            "postgres",
            "--orthanc-replicas",
            &n_text,
        ];
        Self::build(None, &flags, n)
    }

    fn build(docker_host: Option<&str>, flags: &[&str], replicas: usize) -> Option<World> {
        if !available() || super::shared().is_none() {
            return None;
        }
        let mut sandbox = Sandbox::new();
        let engine = sandbox.serve_engine(
            "engine/docker.sock",
            fixture_json("docker-engine-linux-fedora-info.json"),
        );
        let uri = docker_host
            .map(String::from)
            .unwrap_or_else(|| engine.uri());
        sandbox.set("DOCKER_HOST", &uri);
        let api = FakeApi::kind();
        stand_ins::install(&mut sandbox, Some(&api.url()));
        let rendered = render_with(&sandbox, flags);
        let dir = sandbox.path("orthanc");
        let postgres = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
        let orthanc = start_orthanc(&dir, &rendered, &postgres);
        api.forward(8042, orthanc.http);
        api.forward(4242, orthanc.dicom);
        let mut others = Vec::new();
        if replicas > 1 {
            // The first pod reaches the first Orthanc; each other pod its own.
            api.forward_pod("orthanc-0", 8042, orthanc.http);
            for i in 1..replicas {
                let pod = format!("orthanc-{i}");
                let own = dir.join(&pod);
                std::fs::create_dir_all(&own).unwrap();
                let other = start_orthanc(&own, &rendered, &postgres);
                api.forward_pod(&pod, 8042, other.http);
                api.forward_pod(&pod, 4242, other.dicom);
                others.push(other);
            }
        }
        // Commands exec'd in the pods run here: in Orthanc's, its volume is the storage
        // directory; in PostgreSQL's, `psql` reaches the real server.
        let volume = rendered.config["StorageDirectory"]
            .as_str()
            .unwrap()
            .to_string();
        api.exec(
            "orthanc",
            ExecRoute {
                env: Vec::new(),
                paths: vec![(volume, orthanc.storage.display().to_string())],
            },
        );
        api.exec(
            "postgres",
            ExecRoute {
                env: [
                    ("POSTGRES_USER", "orthanc".to_string()),
                    ("PGHOST", "127.0.0.1".into()),
                    ("PGPORT", postgres.port.to_string()),
                    ("PGPASSWORD", rendered.postgres_password.clone()),
                ]
                .map(|(k, v)| (k.to_string(), v))
                .to_vec(),
                paths: Vec::new(),
            },
        );
        // The Secrets Orthanc was started with; `up` keeps Secrets that exist. Seeded: a reset
        // that deletes the namespace finds them again, since this Orthanc keeps its passwords.
        for (name, password) in [
            ("orthanc-credentials", &rendered.orthanc_password),
            ("postgres-credentials", &rendered.postgres_password),
        ] {
            api.put_seed(
                &format!("/api/v1/namespaces/korthbox/secrets/{name}"),
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "korthbox", "resourceVersion": "1"},
                       "data": {"password": super::http::base64(password.as_bytes())}}),
            );
        }
        let ports = [free_port(), free_port(), free_port()].map(|p| p.to_string());
        Some(World {
            sandbox,
            api,
            _engine: engine,
            orthanc,
            others,
            _postgres: postgres,
            ports,
        })
    }

    pub fn args<'a>(&'a self, command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![command];
        if matches!(command, "up" | "reset" | "start") {
            for (flag, value) in [
                ("--http-port", self.ports[0].as_str()),
                ("--dicom-port", &self.ports[1]),
                ("--api-server-port", &self.ports[2]),
                ("--wait", "5"),
            ] {
                if !extra.contains(&flag) {
                    args.extend([flag, value]);
                }
            }
        }
        args.extend_from_slice(extra);
        args
    }

    pub fn run(&self, command: &str, extra: &[&str]) -> std::process::Output {
        self.sandbox.run(&self.args(command, extra))
    }

    pub fn spawn(&self, command: &str, extra: &[&str]) -> Child {
        self.sandbox
            .command()
            .args(self.args(command, extra))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn calls(&self) -> Vec<Call> {
        stand_ins::calls(&self.sandbox)
    }
}

/// Runs the real Docker CLI against the real engine.
pub fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .args(["-H", "unix:///var/run/docker.sock"])
        .args(args)
        .output()
        .unwrap()
}

/// Debian's docker-registry on a free loopback port, storing in the sandbox.
pub struct Registry {
    child: Child,
    pub port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_registry(sandbox: &Sandbox) -> Registry {
    let port = free_port();
    let config = sandbox.write(
        "registry/config.yml",
        &format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            sandbox.path("registry/data").display()
        ),
    );
    let child = std::process::Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Registry { child, port }
}

/// Builds a one-file image, pushes it to the registry as `repository:kb-test`, removes it from
/// the engine, and returns its registry digest.
pub fn push_tiny_image(sandbox: &Sandbox, registry: &Registry, repository: &str) -> String {
    push_image(sandbox, registry, repository, 0)
}

/// Like [`push_tiny_image`], with `random_bytes` of incompressible data in the image.
pub fn push_image(
    sandbox: &Sandbox,
    registry: &Registry,
    repository: &str,
    random_bytes: usize,
) -> String {
    let dir = format!("build/{}", repository.replace('/', "-"));
    if random_bytes > 0 {
        use std::io::Read;
        let mut data = vec![0u8; random_bytes];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut data)
            .unwrap();
        let path = sandbox.path(&format!("{dir}/rootfs/data"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    let file = sandbox.write(
        &format!("{dir}/rootfs/content"),
        &format!("{repository} {}\n", std::process::id()),
    );
    let tar = sandbox.path(&format!("{dir}/image.tar"));
    assert!(super::tar_dir(file.parent().unwrap(), &tar));
    let name = format!("127.0.0.1:{}/{repository}:kb-test", registry.port);
    assert!(
        docker(&["import", tar.to_str().unwrap(), &name])
            .status
            .success()
    );
    let out = docker(&["push", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .RepoDigests 0}}",
        &name,
    ]);
    let digest = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split('@')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(docker(&["rmi", "-f", &name]).status.success());
    digest
}

/// Pushes an Orthanc and a PostgreSQL image of `random_bytes` each to `registry`, and returns
/// the `up` flags that take the stack's images from there by digest (with `--json`).
pub fn mirrored_stack(sandbox: &Sandbox, registry: &Registry, random_bytes: usize) -> Vec<String> {
    let orthanc = push_image(sandbox, registry, "orthancteam/orthanc", random_bytes);
    let postgres = push_image(sandbox, registry, "library/postgres", random_bytes);
    [
        "--json".to_string(),
        "--registry-mirror".into(),
        format!("127.0.0.1:{}", registry.port),
        "--orthanc-image".into(),
        format!("docker.io/orthancteam/orthanc:kb-test@{orthanc}"),
        "--postgres-image".into(),
        format!("docker.io/library/postgres:kb-test@{postgres}"),
    ]
    .to_vec()
}
