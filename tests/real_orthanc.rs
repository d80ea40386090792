//! The Orthanc configuration korthbox renders, run for real: Debian's Orthanc with its
//! PostgreSQL plugins against a real PostgreSQL 15, both started here on loopback ports. Only
//! hosts, ports, paths and plugin locations are substituted. A DICOM file goes in through the
//! REST API and comes back byte-identical; PostgreSQL shows where it went; dcmtk's echoscu and
//! storescu talk to the DICOM port; the readiness probe passes, and fails once PostgreSQL stops.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Sandbox;
use support::http::request;
use support::orthanc::{
    Orthanc, Postgres, Rendered, available, dicom_file, files_under, render, run, start_orthanc,
};

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

// Issue 25: three Orthancs started at once from the rendered `--orthanc-replicas 3`
// configuration (files in PostgreSQL) on one real PostgreSQL: an instance stored through one is
// read back byte-identical through each other one, and six writers storing instances of one
// patient, study and series through all three at once lose nothing and create no duplicate.
#[test]
fn three_orthancs_share_one_postgresql_without_losing_or_duplicating_anything() {
    if !available() {
        return;
    }
    let sandbox = Sandbox::new();
    let flags = ["--orthanc-storage", "postgres", "--orthanc-replicas", "3"];
    let rendered = support::orthanc::render_with(&sandbox, &flags);
    let config = &rendered.config;
    assert_eq!(config["PostgreSQL"]["Lock"], false);
    assert_eq!(config["DatabaseServerIdentifier"], "${POD_NAME}");
    assert_eq!(config["SaveJobs"], false);
    assert_eq!(config["CheckRevisions"], true);
    assert!(
        rendered.comments.contains("Manually setting this")
            && rendered.comments.contains("SaveJobs false"),
        "{}",
        rendered.comments
    );
    let dir = sandbox.path("replicas");
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    // Started at once, as a Deployment's pods are, on a database none of them made yet.
    let orthancs: Vec<Orthanc> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3)
            .map(|i| {
                let (dir, rendered, pg) = (dir.join(format!("orthanc-{i}")), &rendered, &pg);
                std::fs::create_dir_all(&dir).unwrap();
                s.spawn(move || start_orthanc(&dir, rendered, pg))
            })
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, o) in orthancs.iter().enumerate() {
        let system = o.get("/system").json();
        if let Some(id) = system["DatabaseServerIdentifier"].as_str() {
            assert_eq!(id, format!("orthanc-{i}"), "{system}");
        }
    }
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let first = dicom_file(&files, "first", "1");
    let id = upload_and_read_back(&orthancs[0], &first);
    let bytes = std::fs::read(&first).unwrap();
    for other in &orthancs[1..] {
        let back = other.get(&format!("/instances/{id}/file"));
        assert_eq!(back.status, 200, "{}", other.log());
        assert!(
            back.body == bytes,
            "read through another Orthanc, it differs"
        );
    }

    // Six writers, two per Orthanc, 15 instances each of the same patient, study and series.
    let (writers, each) = (6, 15);
    let batches: Vec<Vec<Vec<u8>>> = (0..writers)
        .map(|w| {
            (0..each)
                .map(|n| {
                    let name = format!("w{w}-{n}");
                    std::fs::read(dicom_file(
                        &files,
                        &name,
                        &format!("{}", 1000 + w * 100 + n),
                    ))
                    .unwrap()
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let stored: usize = std::thread::scope(|s| {
        let running: Vec<_> = batches
            .iter()
            .enumerate()
            .map(|(w, batch)| {
                let orthanc = &orthancs[w % 3];
                s.spawn(move || {
                    batch
                        .iter()
                        .filter(|file| {
                            let auth = ("admin", orthanc.password.as_str());
                            let r = request("POST", orthanc.http, "/instances", auth, file);
                            matches!(r, Ok(r) if r.status == 200)
                        })
                        .count()
                })
            })
            .collect();
        running.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let took = started.elapsed();
    let sent = writers * each;
    assert_eq!(stored, sent, "every store answered 200");
    for o in &orthancs {
        let stats = o.get("/statistics").json();
        assert_eq!(stats["CountInstances"], sent + 1, "{stats}\n{}", o.log());
        assert_eq!(stats["CountPatients"], 1, "no duplicate patient: {stats}");
        assert_eq!(stats["CountStudies"], 1, "no duplicate study: {stats}");
        assert_eq!(stats["CountSeries"], 1, "no duplicate series: {stats}");
        let studies = o.get("/studies").json();
        assert_eq!(studies.as_array().unwrap().len(), 1, "{studies}");
    }
    eprintln!(
        "replicas: {sent} instances sent by {writers} writers through 3 Orthancs ({} each) in {:.2} s; every Orthanc counts {} instances, 1 patient, 1 study, 1 series",
        sent / 3,
        took.as_secs_f64(),
        sent + 1
    );
}

// Issue 25: a PostgreSQL of one's own (`--postgres-url … sslmode=verify-full --postgres-ca`):
// the rendered Orthanc connects to a real PostgreSQL that refuses every connection without TLS,
// checking its certificate against a CA the test made, stores a file and reads it back; the
// same configuration with a wrong password does not start, and Orthanc's log says why.
#[test]
fn an_own_postgresql_is_reached_over_verified_tls_and_a_wrong_password_is_said() {
    if !available() {
        return;
    }
    let mut sandbox = Sandbox::new();
    let dir = sandbox.path("own-pg");
    let password = "the-teams-password";
    let pg = Postgres::start_with(&dir.join("pg"), password, true);
    // Without TLS the server refuses.
    let plain = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "orthanc",
            "-d",
            "orthanc",
            "-c",
            "select 1",
        ])
        .env("PGPASSWORD", password)
        .env("PGSSLMODE", "disable")
        .output()
        .unwrap();
    assert!(
        !plain.status.success(),
        "the server must refuse connections without TLS"
    );
    let ca = pg.ca.clone().unwrap();
    let url = format!(
        "postgresql://orthanc@127.0.0.1:{}/orthanc?sslmode=verify-full",
        pg.port
    );
    sandbox.set("KORTHBOX_POSTGRES_PASSWORD", password);
    let flags = [
        "--postgres-url",
        &url,
        "--postgres-ca",
        ca.to_str().unwrap(),
    ];
    let rendered = support::orthanc::render_with(&sandbox, &flags);
    let section = &rendered.config["PostgreSQL"];
    assert_eq!(
        section["ConnectionUri"],
        format!("{url}&sslrootcert=/etc/korthbox/postgres/ca.pem")
    );
    assert!(
        section["Password"].is_null() && section["Host"].is_null(),
        "{section}"
    );
    assert_eq!(rendered.postgres_password, password);
    for sub in ["orthanc", "wrong"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let orthanc = start_orthanc(&dir.join("orthanc"), &rendered, &pg);
    let file = dicom_file(&dir, "own", "77");
    upload_and_read_back(&orthanc, &file);
    let tls = pg
        .psql("orthanc", "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND usename = 'orthanc' AND application_name <> 'psql'")
        .unwrap();
    assert_ne!(tls, "0", "Orthanc's connections use TLS");
    drop(orthanc);

    // korthbox's check, as its Job runs it in the cluster (the CA's path the test's): passes;
    // a wrong password says it cannot connect (exit 3); a user that may not create tables says
    // so (exit 4).
    let uri = section["ConnectionUri"]
        .as_str()
        .unwrap()
        .replace("/etc/korthbox/postgres/ca.pem", ca.to_str().unwrap());
    let check = |uri: &str, password: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", korthbox::kube::stack::POSTGRES_CHECK])
            .env("POSTGRES_URI", uri)
            .env("PGPASSWORD", password)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, said) = check(&uri, password);
    assert_eq!(code, Some(0), "{said}");
    let (code, said) = check(&uri, "not-the-password");
    assert_eq!(code, Some(3), "{said}");
    assert!(
        said.contains("cannot connect to PostgreSQL as Orthanc will")
            && said.contains("password authentication failed"),
        "{said}"
    );
    pg.psql("orthanc", "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
        .unwrap();
    let (code, said) = check(&uri.replace("orthanc@", "reader@"), "reader-pw");
    assert_eq!(code, Some(4), "{said}");
    assert!(
        said.contains("may not create tables") && said.contains("permission denied"),
        "{said}"
    );

    let mut wrong = rendered.clone();
    wrong.postgres_password = "not-the-password".into();
    let log = match support::orthanc::try_orthanc(&dir.join("wrong"), &wrong, &pg) {
        Ok(_) => panic!("Orthanc started with a wrong password"),
        Err(log) => log,
    };
    assert!(
        log.contains("password authentication failed for user \"orthanc\""),
        "{log}"
    );
}
