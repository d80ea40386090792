//! The sandbox's proof asks the storage backend itself: through the fake API server, exec in
//! the Orthanc pod reaches the real Orthanc's storage directory, exec `psql` in the PostgreSQL
//! pod reaches the real PostgreSQL, and a port-forward to MinIO's 9000 reaches a real S3 server
//! (moto). Files that are not where the storage mode says fail the storage step.

mod support;

use std::time::Duration;

use korthbox::evaluate::proof::storage::Backend;
use korthbox::host::s3::S3;
use serde_json::{Value, json};
use support::s3::Moto;
use support::world::World;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn up_json(world: &World, extra: &[&str]) -> (std::process::Output, Value) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let out = world.run("up", &args);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, doc)
}

fn step<'a>(proof: &'a Value, name: &str) -> &'a Value {
    proof["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {proof:#}"))
}

#[test]
fn in_postgres_mode_the_files_are_rows_of_storagearea_and_go_away_again() {
    let Some(world) = World::with_storage("postgres") else {
        return;
    };
    let (out, doc) = up_json(&world, &["--orthanc-storage", "postgres"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let proof = &doc["proof"];
    assert_eq!(proof["passed"], true, "{proof:#}");
    let storage = step(proof, "storage")["detail"].as_str().unwrap();
    assert!(
        storage.starts_with("PostgreSQL's storagearea table: row ")
            && storage.ends_with("(0 → 2 rows)"),
        "{storage}"
    );
    let cleanup = step(proof, "cleanup")["detail"].as_str().unwrap();
    assert!(cleanup.ends_with("0 rows as before"), "{cleanup}");
    // Asked of PostgreSQL, in its pod.
    let requests = world.api.requests();
    let execs: Vec<&String> = requests.iter().filter(|r| r.contains("/exec?")).collect();
    assert!(
        !execs.is_empty()
            && execs
                .iter()
                .all(|r| r.contains("/pods/postgres-0/exec?") && r.contains("container=postgres")),
        "{execs:#?}"
    );
}

#[test]
fn files_that_are_not_on_the_volume_fail_the_storage_step() {
    let Some(world) = World::new() else {
        return;
    };
    // Orthanc's volume, as exec in its pod sees it, is an empty directory: not where Orthanc
    // writes.
    let empty = world.sandbox.path("elsewhere");
    std::fs::create_dir_all(&empty).unwrap();
    world.api.exec(
        "orthanc",
        support::kube_api::ExecRoute {
            env: Vec::new(),
            paths: vec![("/var/lib/orthanc/db".into(), empty.display().to_string())],
        },
    );
    let (out, doc) = up_json(&world, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: the sandbox is up but the proof failed at step storage"),
        "{err}"
    );
    assert!(
        err.contains("caused by: expected attachment ")
            && err.contains(" in Orthanc's volume (/var/lib/orthanc/db), it is not there"),
        "{err}"
    );
    // No summary on failure: the error, as a JSON document for scripts.
    assert!(doc.get("endpoints").is_none(), "{doc}");
    assert_eq!(
        doc["error"],
        "the sandbox is up but the proof failed at step storage"
    );
    assert_eq!(doc["exit"], 1);
    // The study was still deleted.
    assert_eq!(world.orthanc.get("/statistics").json()["CountInstances"], 0);
}

#[test]
fn in_s3_mode_files_that_are_not_in_the_bucket_fail_the_storage_step() {
    if !support::s3::available() {
        return;
    }
    let Some(world) = World::new() else {
        return;
    };
    // MinIO is moto; Orthanc (Debian's, which has no S3 plugin) keeps writing to disk.
    let moto = Moto::start(&world.sandbox.path(""), true);
    world.api.forward(9000, moto.port);
    let (id, secret) = moto.keys.clone().unwrap();
    world.api.put(
        "/api/v1/namespaces/korthbox/secrets/minio-credentials",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "minio-credentials", "namespace": "korthbox", "resourceVersion": "1"},
               "data": {"root-user": support::http::base64(id.as_bytes()), "root-password": support::http::base64(secret.as_bytes())}}),
    );
    let out = world.run("up", &["--storage", "minio", "--orthanc-storage", "s3"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("done: Making MinIO bucket orthanc: created"),
        "{err}"
    );
    assert!(
        err.contains("error: the sandbox is up but the proof failed at step storage"),
        "{err}"
    );
    assert!(
        err.contains(" in MinIO bucket orthanc, it is not there"),
        "{err}"
    );
}

#[test]
fn the_bucket_backend_finds_objects_named_after_the_attachments() {
    if !support::s3::available() {
        return;
    }
    let sandbox = support::Sandbox::new();
    let moto = Moto::start(&sandbox.path(""), true);
    let (id, secret) = moto.keys.clone().unwrap();
    let s3 = S3::new(
        &moto.endpoint(),
        "orthanc",
        &id,
        &secret,
        Duration::from_secs(20),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(s3.ensure_bucket()).unwrap();
    // As Orthanc's S3 plugin names them (flat layout: the attachment's uuid and ".dcm").
    let present = "4b02b7e7-c21d-4afd-974c-2b7d850e7fe5";
    let absent = "fa890880-002e-48d0-a7a8-49f8e1fcc90f";
    moto.put("orthanc", &format!("{present}.dcm"), "DICM");
    moto.put("orthanc", "unrelated.dcm", "DICM");
    let backend = Backend::Bucket { s3, _tunnel: None };
    assert_eq!(runtime.block_on(backend.count()), Ok(2));
    let found = runtime
        .block_on(backend.find(&[present.to_string(), absent.to_string()]))
        .unwrap();
    assert_eq!(found, [format!("object {present}.dcm"), String::new()]);
}
