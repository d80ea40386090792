//! The Orthanc configuration korthbox renders, run for real: Debian's Orthanc with its
//! PostgreSQL plugins against a real PostgreSQL 15, both started here on loopback ports. Only
//! hosts, ports, paths and plugin locations are substituted. A DICOM file goes in through the
//! REST API and comes back byte-identical; PostgreSQL shows where it went; dcmtk's echoscu and
//! storescu talk to the DICOM port; the readiness probe passes, and fails once PostgreSQL stops.

mod support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http::request;
use support::{Sandbox, real_part_available};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const ORTHANC: &str = "/usr/sbin/Orthanc";
const PLUGINS: [&str; 3] = [
    "/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so",
    "/usr/share/orthanc/plugins/libOrthancPostgreSQLStorage.so",
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
];

fn available() -> bool {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) -> std::process::Output {
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
struct Postgres {
    data: PathBuf,
    port: u16,
    password: String,
}

impl Postgres {
    fn start(dir: &Path, password: &str) -> Postgres {
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
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        );
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
        };
        pg.psql("postgres", "CREATE DATABASE orthanc")
            .unwrap_or_else(|e| panic!("CREATE DATABASE: {e}"));
        pg
    }

    fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
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

    fn stop(&self) {
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

struct Orthanc {
    child: Child,
    http: u16,
    dicom: u16,
    password: String,
    storage: PathBuf,
    log: PathBuf,
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Orthanc {
    fn get(&self, path: &str) -> support::http::Response {
        request("GET", self.http, path, ("admin", &self.password), b"").unwrap()
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// What `korthbox plan` renders: the Orthanc configuration, the Secret values, and the
/// readiness probe's command.
struct Rendered {
    config: Value,
    postgres_password: String,
    orthanc_password: String,
    probe: Vec<String>,
}

fn render(sandbox: &Sandbox, orthanc_storage: &str) -> Rendered {
    let out = sandbox.run(&[
        "plan",
        "--only",
        "manifests",
        "--show-secrets",
        "--driver",
        "kind",
        "--provider",
        "docker",
        "--orthanc-storage",
        orthanc_storage,
    ]);
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
    let config = serde_json::from_str(
        find("ConfigMap", "orthanc-config")["data"]["orthanc.json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let secret = |name: &str| {
        find("Secret", name)["stringData"]["password"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let probe = find("Deployment", "orthanc")["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    Rendered {
        config,
        postgres_password: secret("postgres-credentials"),
        orthanc_password: secret("orthanc-credentials"),
        probe,
    }
}

fn start_orthanc(dir: &Path, rendered: &Rendered, pg: &Postgres) -> Orthanc {
    let (http, dicom) = (free_port(), free_port());
    let storage = dir.join("storage");
    let mut config = rendered.config.clone();
    // Only hosts, ports, paths and plugin locations change.
    config["HttpPort"] = json!(http);
    config["DicomPort"] = json!(dicom);
    config["StorageDirectory"] = json!(storage);
    config["IndexDirectory"] = json!(dir.join("index"));
    config["PostgreSQL"]["Host"] = json!("127.0.0.1");
    config["PostgreSQL"]["Port"] = json!(pg.port);
    config["Plugins"] = json!(PLUGINS);
    let path = dir.join("orthanc.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let log = dir.join("orthanc.log");
    let child = Command::new(ORTHANC)
        .arg(&path)
        .env("ORTHANC_ADMIN_PASSWORD", &rendered.orthanc_password)
        .env("POSTGRES_PASSWORD", &rendered.postgres_password)
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
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = request("GET", http, "/system", ("admin", &orthanc.password), b"")
            && r.status == 200
        {
            return orthanc;
        }
        assert!(
            Instant::now() < deadline,
            "Orthanc did not answer within 60s:\n{}",
            orthanc.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A small DICOM file made by dcmtk's dump2dcm.
fn dicom_file(dir: &Path, name: &str, instance: &str) -> PathBuf {
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

fn files_under(dir: &Path) -> usize {
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

/// Stores a file through the REST API, reads it back, and returns its Orthanc ID.
fn upload_and_read_back(orthanc: &Orthanc, file: &Path) -> String {
    let bytes = std::fs::read(file).unwrap();
    let r = request(
        "POST",
        orthanc.http,
        "/instances",
        ("admin", &orthanc.password),
        &bytes,
    )
    .unwrap();
    assert_eq!(
        r.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&r.body),
        orthanc.log()
    );
    let id = r.json()["ID"].as_str().unwrap().to_string();
    let back = orthanc.get(&format!("/instances/{id}/file"));
    assert_eq!(back.status, 200);
    assert!(
        back.body == bytes,
        "the file read back differs from the one stored"
    );
    id
}

fn dcmtk_talks_to_the_dicom_port(orthanc: &Orthanc, dir: &Path, aet: &str) {
    run(Command::new("echoscu").args(["-aec", aet, "127.0.0.1", &orthanc.dicom.to_string()]));
    let second = dicom_file(dir, "second", "2");
    run(Command::new("storescu")
        .args(["-aec", aet, "127.0.0.1", &orthanc.dicom.to_string()])
        .arg(&second));
    let stats = orthanc.get("/statistics").json();
    assert_eq!(stats["CountInstances"], 2, "{stats}");
}

fn probe_passes(rendered: &Rendered, orthanc: &Orthanc, password: &str) -> bool {
    // The probe as rendered, pointed at this Orthanc's port.
    let script =
        rendered.probe[2].replace("127.0.0.1:8042", &format!("127.0.0.1:{}", orthanc.http));
    Command::new(&rendered.probe[0])
        .args([&rendered.probe[1], &script])
        .env("ORTHANC_ADMIN_PASSWORD", password)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn pv_mode_keeps_files_on_the_volume_and_the_index_in_postgresql() {
    if !available() {
        return;
    }
    let sandbox = Sandbox::new();
    let dir = sandbox.path("pv");
    let rendered = render(&sandbox, "pv");
    assert_eq!(rendered.config["PostgreSQL"]["EnableStorage"], false);
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    let orthanc = start_orthanc(&dir, &rendered, &pg);

    let file = dicom_file(&dir, "first", "1");
    upload_and_read_back(&orthanc, &file);
    // The index is in PostgreSQL; the file is on the volume, not in the database.
    assert_eq!(
        pg.psql(
            "orthanc",
            "SELECT count(*) FROM resources WHERE resourcetype = 3"
        ),
        Ok("1".into())
    );
    match pg.psql("orthanc", "SELECT count(*) FROM storagearea") {
        Ok(n) => assert_eq!(n, "0"),
        Err(e) => assert!(e.contains("does not exist"), "{e}"),
    }
    assert!(
        files_under(&orthanc.storage) >= 1,
        "no file in the storage directory"
    );

    dcmtk_talks_to_the_dicom_port(
        &orthanc,
        &dir,
        rendered.config["DicomAet"].as_str().unwrap(),
    );

    // The probe reaches the database: it passes, refuses a wrong password, and fails (within
    // its 5 s timeout) once PostgreSQL is gone although the Orthanc process still runs.
    assert!(probe_passes(
        &rendered,
        &orthanc,
        &rendered.orthanc_password
    ));
    assert!(!probe_passes(&rendered, &orthanc, "wrong"));
    pg.stop();
    let started = Instant::now();
    assert!(!probe_passes(
        &rendered,
        &orthanc,
        &rendered.orthanc_password
    ));
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn postgres_mode_keeps_files_in_the_storagearea_table() {
    if !available() {
        return;
    }
    let sandbox = Sandbox::new();
    let dir = sandbox.path("pg-mode");
    let rendered = render(&sandbox, "postgres");
    assert_eq!(rendered.config["PostgreSQL"]["EnableStorage"], true);
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    let orthanc = start_orthanc(&dir, &rendered, &pg);

    let file = dicom_file(&dir, "first", "1");
    upload_and_read_back(&orthanc, &file);
    let stored: u64 = pg
        .psql("orthanc", "SELECT count(*) FROM storagearea")
        .unwrap()
        .parse()
        .unwrap();
    assert!(stored >= 1, "no storagearea row");
    let size = std::fs::metadata(&file).unwrap().len();
    let largest: u64 = pg
        .psql(
            "orthanc",
            "SELECT max(length(lo_get(content))) FROM storagearea",
        )
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(largest, size, "the DICOM file itself is in PostgreSQL");
    assert_eq!(files_under(&orthanc.storage), 0, "nothing on the volume");

    dcmtk_talks_to_the_dicom_port(
        &orthanc,
        &dir,
        rendered.config["DicomAet"].as_str().unwrap(),
    );
}

#[test]
fn authentication_is_on() {
    if !available() {
        return;
    }
    let sandbox = Sandbox::new();
    let dir = sandbox.path("auth");
    let rendered = render(&sandbox, "pv");
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    let orthanc = start_orthanc(&dir, &rendered, &pg);
    let anonymous = request(
        "GET",
        orthanc.http,
        "/system",
        ("admin", "not-the-password"),
        b"",
    )
    .unwrap();
    assert_eq!(anonymous.status, 401);
    // DICOMweb is enabled.
    assert_eq!(
        orthanc.get("/dicom-web/studies").status,
        200,
        "{}",
        orthanc.log()
    );
}
