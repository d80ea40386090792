//! A real Orthanc for tests: Debian's Orthanc with its PostgreSQL and DICOMweb plugins, run
//! with the configuration `korthbox plan` renders (only hosts, ports, paths and plugin locations
//! substituted), against a real PostgreSQL 15 started here as the `postgres` user.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::request;
use super::{Sandbox, real_part_available};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const ORTHANC: &str = "/usr/sbin/Orthanc";
const PLUGINS: [&str; 3] = [
    "/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so",
    "/usr/share/orthanc/plugins/libOrthancPostgreSQLStorage.so",
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
];

pub fn available() -> bool {
    let mut paths: Vec<String> = vec![
        ORTHANC.into(),
        format!("{PG_BIN}/initdb"),
        format!("{PG_BIN}/pg_ctl"),
    ];
    paths.extend(PLUGINS.iter().map(|p| p.to_string()));
    paths.extend(
        [
            "/usr/bin/echoscu",
            "/usr/bin/storescu",
            "/usr/bin/dump2dcm",
            "/usr/bin/psql",
            "/usr/bin/python3",
        ]
        .map(String::from),
    );
    let missing: Vec<&String> = paths.iter().filter(|p| !Path::new(p).exists()).collect();
    if !missing.is_empty() {
        eprintln!("missing: {missing:?}");
    }
    real_part_available(
        "Orthanc with orthanc-postgresql and orthanc-dicomweb, PostgreSQL 15, dcmtk and python3 (apt-get install orthanc orthanc-postgresql orthanc-dicomweb dcmtk)",
        missing.is_empty(),
    )
}

/// A loopback port nothing listens on, never the same twice in a process. Taken below Linux's
/// ephemeral range (32768–60999), so that no outgoing connection is given it between now and
/// its use (which `bind(0)` ports suffer from), and spread by process id.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 60) as u16 * 200;
    for _ in 0..200 {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 200;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {base}..{}", base + 200)
}

pub fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A PostgreSQL 15 cluster in a temporary directory, run as the `postgres` user (initdb refuses
/// root), listening on 127.0.0.1 only, with the database and user the manifests name.
pub struct Postgres {
    data: PathBuf,
    pub port: u16,
    password: String,
    /// With TLS: the test CA's certificate, which signed the server's (for 127.0.0.1).
    pub ca: Option<PathBuf>,
}

/// A CA made here, and a server certificate for 127.0.0.1 it signs, for PostgreSQL in `dir`
/// (owned by the postgres user, as the server wants its key): the CA's path.
fn make_certificates(dir: &Path) -> PathBuf {
    let ssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir));
    ssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=korthbox test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    ssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    ssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
    for file in ["server.key", "server.pem"] {
        run(Command::new("chown").args(["postgres", dir.join(file).to_str().unwrap()]));
    }
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    dir.join("ca.pem")
}

impl Postgres {
    pub fn start(dir: &Path, password: &str) -> Postgres {
        Self::start_with(dir, password, false)
    }

    /// With `tls`: SSL on with a certificate from a CA made here, and every TCP connection
    /// without SSL refused (pg_hba `hostnossl … reject`).
    pub fn start_with(dir: &Path, password: &str, tls: bool) -> Postgres {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.join("data");
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, password).unwrap();
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let port = free_port();
        let as_postgres = |args: &[&str]| {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).args(args);
            cmd
        };
        run(&mut as_postgres(&[
            &format!("{PG_BIN}/initdb"),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "orthanc",
            &format!("--pwfile={}", pwfile.display()),
            "-A",
            "scram-sha-256",
            "--no-sync",
        ]));
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        );
        let ca = tls.then(|| {
            let ca = make_certificates(dir);
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                dir.join("server.pem").display(),
                dir.join("server.key").display()
            ));
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .unwrap();
            ca
        });
        run(&mut as_postgres(&[
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            data.to_str().unwrap(),
            "-l",
            dir.join("log").to_str().unwrap(),
            "-o",
            &options,
            "-w",
            "-t",
            "60",
            "start",
        ]));
        let pg = Postgres {
            data,
            port,
            password: password.into(),
            ca,
        };
        pg.psql("postgres", "CREATE DATABASE orthanc")
            .unwrap_or_else(|e| panic!("CREATE DATABASE: {e}"));
        pg
    }

    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "orthanc",
                "-d",
                db,
                "-tAc",
                sql,
            ])
            .env("PGPASSWORD", &self.password)
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    pub fn stop(&self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{PG_BIN}/pg_ctl"),
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Orthanc {
    child: Child,
    pub http: u16,
    pub dicom: u16,
    pub password: String,
    pub storage: PathBuf,
    log: PathBuf,
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Orthanc {
    pub fn get(&self, path: &str) -> super::http::Response {
        request("GET", self.http, path, ("admin", &self.password), b"").unwrap()
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// What `korthbox plan` renders: the Orthanc configuration, the Secret values, and the
/// readiness probe's command.
#[derive(Clone)]
pub struct Rendered {
    pub config: Value,
    /// The `//` lines above the JSON in the ConfigMap, written again above it.
    pub comments: String,
    pub postgres_password: String,
    pub orthanc_password: String,
    pub probe: Vec<String>,
}

pub fn render(sandbox: &Sandbox, orthanc_storage: &str) -> Rendered {
    render_with(sandbox, &["--orthanc-storage", orthanc_storage])
}

/// What `korthbox plan` renders with `flags` added.
pub fn render_with(sandbox: &Sandbox, flags: &[&str]) -> Rendered {
    let mut args = vec![
        "plan",
        "--only",
        "manifests",
        "--show-secrets",
        "--driver",
        "kind",
        "--provider",
        "docker",
    ];
    args.extend(flags);
    let out = sandbox.run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name}"))
    };
    let text = find("ConfigMap", "orthanc-config")["data"]["orthanc.json"]
        .as_str()
        .unwrap();
    // The comment lines on top (several Orthancs), kept to be written again before the JSON.
    let comments: String = text
        .lines()
        .take_while(|l| l.starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = serde_json::from_str(&text[comments.len()..]).unwrap();
    let secret = |name: &str| {
        // A PostgreSQL of one's own (--postgres-url): its password is in postgres-external.
        let other = if name == "postgres-credentials" {
            "postgres-external"
        } else {
            name
        };
        let doc = docs
            .iter()
            .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == name)
            .unwrap_or_else(|| find("Secret", other));
        doc["stringData"]["password"].as_str().unwrap().to_string()
    };
    let probe = find("Deployment", "orthanc")["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    Rendered {
        config,
        comments,
        postgres_password: secret("postgres-credentials"),
        orthanc_password: secret("orthanc-credentials"),
        probe,
    }
}

pub fn start_orthanc(dir: &Path, rendered: &Rendered, pg: &Postgres) -> Orthanc {
    try_orthanc(dir, rendered, pg).unwrap_or_else(|log| panic!("Orthanc did not start:\n{log}"))
}

/// Orthanc as [`start_orthanc`] starts it; `Err` with its log when it exits (or does not
/// answer within 60 s) instead.
pub fn try_orthanc(dir: &Path, rendered: &Rendered, pg: &Postgres) -> Result<Orthanc, String> {
    let (http, dicom) = (free_port(), free_port());
    let storage = dir.join("storage");
    let mut config = rendered.config.clone();
    // Only hosts, ports, paths and plugin locations change.
    config["HttpPort"] = json!(http);
    config["DicomPort"] = json!(dicom);
    config["StorageDirectory"] = json!(storage);
    config["IndexDirectory"] = json!(dir.join("index"));
    // A PostgreSQL of one's own is named by a URI that already says where; its CA's path is the
    // test's.
    match config["PostgreSQL"]["ConnectionUri"].as_str() {
        Some(uri) => {
            let ca = pg
                .ca
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let uri = uri.replace("/etc/korthbox/postgres/ca.pem", &ca);
            config["PostgreSQL"]["ConnectionUri"] = json!(uri);
        }
        None => {
            config["PostgreSQL"]["Host"] = json!("127.0.0.1");
            config["PostgreSQL"]["Port"] = json!(pg.port);
        }
    }
    config["Plugins"] = json!(PLUGINS);
    let path = dir.join("orthanc.json");
    let text = rendered.comments.clone() + &serde_json::to_string_pretty(&config).unwrap();
    std::fs::write(&path, text).unwrap();
    let log = dir.join("orthanc.log");
    let child = Command::new(ORTHANC)
        .arg(&path)
        .env("ORTHANC_ADMIN_PASSWORD", &rendered.orthanc_password)
        .env("POSTGRES_PASSWORD", &rendered.postgres_password)
        // libpq's own variable, which a PostgreSQL of one's own is given through.
        .env("PGPASSWORD", &rendered.postgres_password)
        // What the pod's name is in a cluster (several Orthancs' DatabaseServerIdentifier).
        .env("POD_NAME", dir.file_name().unwrap())
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::options().append(true).open(&log).unwrap(),
        ))
        .spawn()
        .unwrap();
    let orthanc = Orthanc {
        child,
        http,
        dicom,
        password: rendered.orthanc_password.clone(),
        storage,
        log,
    };
    let mut orthanc = orthanc;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = request("GET", http, "/system", ("admin", &orthanc.password), b"")
            && r.status == 200
        {
            return Ok(orthanc);
        }
        if orthanc.child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
            return Err(orthanc.log());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A small DICOM file made by dcmtk's dump2dcm.
pub fn dicom_file(dir: &Path, name: &str, instance: &str) -> PathBuf {
    let dump = dir.join(format!("{name}.dump"));
    std::fs::write(
        &dump,
        format!(
            "(0008,0016) UI =SecondaryCaptureImageStorage\n\
             (0008,0018) UI [1.2.826.0.1.3680043.8.498.{instance}]\n\
             (0008,0060) CS [OT]\n\
             (0010,0010) PN [Korthbox^Test]\n\
             (0010,0020) LO [KB-1]\n\
             (0020,000d) UI [1.2.826.0.1.3680043.8.498.100]\n\
             (0020,000e) UI [1.2.826.0.1.3680043.8.498.101]\n"
        ),
    )
    .unwrap();
    let file = dir.join(format!("{name}.dcm"));
    run(Command::new("dump2dcm").arg(&dump).arg(&file));
    file
}

pub fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { files_under(&p) } else { 1 }
        })
        .sum()
}

/// Debian's Orthanc running the configuration korthbox renders for `mode` (edited first by
/// `edit`), against its own PostgreSQL, in a fresh sandbox; None (skipped, or failed under
/// KORTHBOX_TEST_REQUIRE) when those are not installed.
pub struct Local {
    pub sandbox: Sandbox,
    pub orthanc: Orthanc,
    pub aet: String,
    pub pg: Postgres,
}

impl Local {
    pub fn start(mode: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Option<Local> {
        if !available() {
            return None;
        }
        let sandbox = Sandbox::new();
        let dir = sandbox.path(mode);
        let mut rendered = render(&sandbox, mode);
        edit(&mut rendered.config);
        let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
        let orthanc = start_orthanc(&dir, &rendered, &pg);
        let aet = rendered.config["DicomAet"].as_str().unwrap().to_string();
        Some(Local {
            sandbox,
            orthanc,
            aet,
            pg,
        })
    }
}
