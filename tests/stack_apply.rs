//! `korthbox stack apply` against the in-memory fake API server: the order objects are applied
//! in, a second apply that changes nothing, Secrets that are never regenerated, and a readiness
//! timeout that names the object and the reason.

mod support;

use serde_json::{Value, json};
use support::Sandbox;
use support::kube_api::FakeApi;
use support::s3::Moto;

const CONTEXT: &str = "kind-korthbox";

fn world() -> (Sandbox, FakeApi) {
    let mut sandbox = Sandbox::new();
    // kind's nodes and its own default class.
    let api = FakeApi::kind();
    let kubeconfig = api.kubeconfig(&sandbox.path("home/.kube/config"), CONTEXT);
    sandbox.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    (sandbox, api)
}

fn apply(sandbox: &Sandbox, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "stack",
        "apply",
        "--context",
        CONTEXT,
        "--wait",
        "3",
        "--json",
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

fn applied(out: &std::process::Output) -> Vec<(String, String)> {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["object"].as_str().unwrap().to_string(),
                a["change"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The writes, as "METHOD path" without the query.
fn writes(api: &FakeApi) -> Vec<String> {
    api.writes()
        .into_iter()
        .map(|w| w.split('?').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_stack_is_applied_what_it_needs_first_then_the_components_at_once() {
    needs_shared!();
    let (sandbox, api) = world();
    let out = apply(&sandbox, &[]);
    let objects: Vec<String> = applied(&out).into_iter().map(|(o, _)| o).collect();
    assert_eq!(
        objects,
        [
            "Namespace korthbox",
            "Secret korthbox/postgres-credentials",
            "Secret korthbox/orthanc-credentials",
            "ConfigMap korthbox/orthanc-config",
            "Service korthbox/postgres",
            "StatefulSet korthbox/postgres",
            "PersistentVolumeClaim korthbox/orthanc-storage",
            "Deployment korthbox/orthanc",
            "Service korthbox/orthanc",
        ]
    );
    // What the components need, in order — the namespace created, then korthbox's record of
    // it — then the components at once, each in its own order.
    let writes = writes(&api);
    assert_eq!(
        writes[..5],
        [
            "POST /api/v1/namespaces",
            "PATCH /api/v1/namespaces/korthbox",
            "POST /api/v1/namespaces/korthbox/secrets",
            "POST /api/v1/namespaces/korthbox/secrets",
            "PATCH /api/v1/namespaces/korthbox/configmaps/orthanc-config",
        ]
    );
    let component = |name: &str| -> Vec<&str> {
        writes[5..]
            .iter()
            .map(String::as_str)
            .filter(|w| w.contains(&format!("/{name}")))
            .collect()
    };
    assert_eq!(
        component("postgres"),
        [
            "PATCH /api/v1/namespaces/korthbox/services/postgres",
            "PATCH /apis/apps/v1/namespaces/korthbox/statefulsets/postgres",
        ]
    );
    assert_eq!(
        component("orthanc"),
        [
            "PATCH /api/v1/namespaces/korthbox/persistentvolumeclaims/orthanc-storage",
            "PATCH /apis/apps/v1/namespaces/korthbox/deployments/orthanc",
            "PATCH /api/v1/namespaces/korthbox/services/orthanc",
        ]
    );
    assert_eq!(writes.len(), 10);
    // Both were applied before either was waited for: they start together.
    let requests = api.requests();
    let position = |needle: &str| requests.iter().position(|r| r.starts_with(needle)).unwrap();
    let watched = |name: &str| {
        requests
            .iter()
            .position(|r| {
                r.starts_with("GET /apis/apps/v1/namespaces/korthbox/")
                    && r.contains(&format!("fieldSelector=metadata.name%3D{name}"))
            })
            .unwrap()
    };
    // Orthanc's first object was asked for before PostgreSQL was waited for: they start
    // together (Orthanc's init container waits for the database by itself).
    assert!(
        position("GET /api/v1/namespaces/korthbox/persistentvolumeclaims/orthanc-storage")
            < watched("postgres"),
        "the components overlap: {requests:#?}"
    );
    assert!(
        watched("postgres")
            > position("PATCH /apis/apps/v1/namespaces/korthbox/statefulsets/postgres")
    );
    // Every apply is server-side with korthbox's field manager.
    assert!(
        api.writes()
            .iter()
            .filter(|w| w.starts_with("PATCH"))
            .all(|w| w.contains("fieldManager=korthbox") && w.contains("force=true"))
    );
    // kind has a default class: no provisioner, no storageClassName.
    assert!(!api.paths().iter().any(|p| p.contains("local-path")));
    let pvc = api
        .get("/api/v1/namespaces/korthbox/persistentvolumeclaims/orthanc-storage")
        .unwrap();
    assert!(pvc["spec"].get("storageClassName").is_none(), "{pvc:#}");
}

#[test]
fn a_second_apply_changes_nothing_and_keeps_the_secrets() {
    needs_shared!();
    let (sandbox, api) = world();
    let first = applied(&apply(&sandbox, &[]));
    assert!(first.iter().all(|(_, c)| c == "created"), "{first:?}");
    let secret = |name: &str| {
        api.get(&format!("/api/v1/namespaces/korthbox/secrets/{name}"))
            .unwrap()
    };
    let (pg, orthanc) = (
        secret("postgres-credentials"),
        secret("orthanc-credentials"),
    );
    let password = String::from_utf8(support::http::base64_decode(
        pg["data"]["password"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(password.len(), 48, "a generated 24-byte hex password");
    assert!(password.chars().all(|c| c.is_ascii_hexdigit()));
    let versions = |api: &FakeApi| {
        api.paths()
            .into_iter()
            .map(|p| {
                (
                    p.clone(),
                    api.get(&p).unwrap()["metadata"]["resourceVersion"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = versions(&api);
    let posts_before = api
        .writes()
        .iter()
        .filter(|w| w.starts_with("POST"))
        .count();

    let out = apply(&sandbox, &[]);
    let second = applied(&out);
    for (object, change) in &second {
        let expected = if object.starts_with("Secret ") {
            "kept"
        } else {
            "unchanged"
        };
        assert_eq!(change, expected, "{object}");
    }
    assert_eq!(versions(&api), before, "nothing was written for real");
    assert_eq!(
        api.writes()
            .iter()
            .filter(|w| w.starts_with("POST"))
            .count(),
        posts_before,
        "no Secret was created again"
    );
    assert_eq!(secret("postgres-credentials"), pg);
    assert_eq!(secret("orthanc-credentials"), orthanc);

    let human = sandbox.run(&["stack", "apply", "--context", CONTEXT, "--wait", "3"]);
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains("the stack was already as planned; nothing changed"),
        "{stderr}"
    );
}

#[test]
fn a_readiness_timeout_names_the_object_and_the_reason() {
    needs_shared!();
    let (sandbox, api) = world();
    api.set_ready(false);
    let image = "docker.io/library/postgres:17.11-bookworm@sha256:051f7b7b3abdd564d5d1bd1e8c4b9c1b6e77087d1dd22020ede611c096a272e0";
    api.put(
        "/api/v1/namespaces/korthbox/pods/postgres-0",
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "postgres-0", "namespace": "korthbox",
                            "labels": {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "korthbox"}},
               "status": {"phase": "Pending", "containerStatuses": [{
                   "name": "postgres", "image": image, "imageID": "", "ready": false, "restartCount": 0,
                   "state": {"waiting": {"reason": "ImagePullBackOff",
                                         "message": format!("Back-off pulling image \"{image}\"")}}}]}}),
    );
    let started = std::time::Instant::now();
    let out = sandbox.run(&["stack", "apply", "--context", CONTEXT, "--wait", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: StatefulSet korthbox/postgres was not ready within 2s"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("pod postgres-0: container postgres ({image}) is waiting: ImagePullBackOff: Back-off pulling image")), "{stderr}");
    assert!(
        stderr.contains(&format!("hint: the nodes could not pull {image}")),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // Orthanc was applied beside PostgreSQL (its init container waits for the database), and
    // the failure is PostgreSQL's alone.
    assert!(
        writes(&api)
            .iter()
            .any(|w| w.contains("deployments/orthanc"))
    );
    assert!(
        !stderr.contains("error: Deployment korthbox/orthanc"),
        "{stderr}"
    );
}

#[test]
fn minio_that_cannot_be_pulled_names_the_flags_that_get_another() {
    needs_shared!();
    let (sandbox, api) = world();
    api.set_ready(false);
    let image = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z";
    api.put(
        "/api/v1/namespaces/korthbox/pods/minio-0",
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "minio-0", "namespace": "korthbox",
                            "labels": {"app.kubernetes.io/name": "minio", "app.kubernetes.io/instance": "korthbox"}},
               "status": {"phase": "Pending", "containerStatuses": [{
                   "name": "minio", "image": image, "imageID": "", "ready": false, "restartCount": 0,
                   "state": {"waiting": {"reason": "ErrImagePull", "message": "quay.io: no such host"}}}]}}),
    );
    // Everything before MinIO is ready; MinIO never is.
    api.set_ready(true);
    api.hold("/apis/apps/v1/namespaces/korthbox/deployments/minio");
    let out = sandbox.run(&[
        "stack",
        "apply",
        "--context",
        CONTEXT,
        "--wait",
        "2",
        "--storage",
        "minio",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: Deployment korthbox/minio was not ready within 2s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: MinIO stopped publishing community images")
            && stderr.contains("--minio-image")
            && stderr.contains("--registry-mirror"),
        "{stderr}"
    );
}

#[test]
fn a_refused_cluster_gets_no_write() {
    needs_shared!();
    let mut sandbox = Sandbox::new();
    let api = FakeApi::serve(vec![support::fixture_json("docker-desktop-k8s-node.json")]);
    let kubeconfig = api.kubeconfig(&sandbox.path("home/.kube/config"), "docker-desktop");
    sandbox.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    let out = sandbox.run(&[
        "stack",
        "apply",
        "--context",
        "docker-desktop",
        "--wait",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("it is Docker Desktop's built-in Kubernetes"),
        "{stderr}"
    );
    assert!(api.writes().is_empty(), "{:?}", api.writes());
}

/// MinIO's Secret, as if an earlier `up` had made it, holding `keys` (apply keeps Secrets).
fn minio_secret(api: &FakeApi, keys: (&str, &str)) {
    api.put(
        "/api/v1/namespaces/korthbox/secrets/minio-credentials",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "minio-credentials", "namespace": "korthbox", "resourceVersion": "1"},
               "data": {"root-user": support::http::base64(keys.0.as_bytes()), "root-password": support::http::base64(keys.1.as_bytes())}}),
    );
}

const MINIO_S3: [&str; 4] = ["--storage", "minio", "--orthanc-storage", "s3"];

#[test]
fn the_components_start_together_and_each_is_ready_in_its_own_time() {
    needs_shared!();
    if !support::s3::available() {
        return;
    }
    let (sandbox, api) = world();
    // MinIO is moto (credentials not checked), so that its bucket is made.
    let moto = Moto::start(&sandbox.path(""), false);
    api.forward(9000, moto.port);
    let ms = std::time::Duration::from_millis;
    let (postgres, minio, orthanc) = (
        "/apis/apps/v1/namespaces/korthbox/statefulsets/postgres",
        "/apis/apps/v1/namespaces/korthbox/deployments/minio",
        "/apis/apps/v1/namespaces/korthbox/deployments/orthanc",
    );
    api.ready_after(postgres, ms(1500), None);
    api.ready_after(minio, ms(500), None);
    api.ready_after(orthanc, ms(700), Some(postgres));
    let out = sandbox.run(&[
        "stack",
        "apply",
        "--context",
        CONTEXT,
        "--wait",
        "20",
        "--storage",
        "minio",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle} in {err}"))
    };
    let first_done = at("done: Applying PostgreSQL")
        .min(at("done: Applying MinIO"))
        .min(at("done: Applying Orthanc"));
    for started in [
        "Applying PostgreSQL ...",
        "Applying MinIO ...",
        "Applying Orthanc ...",
    ] {
        assert!(at(started) < first_done, "{started} started late:\n{err}");
    }
    // Each is ready in its own time: MinIO first, PostgreSQL, then Orthanc after it.
    assert!(
        at("done: Applying MinIO") < at("done: Applying PostgreSQL"),
        "{err}"
    );
    assert!(
        at("done: Applying PostgreSQL") < at("done: Applying Orthanc"),
        "{err}"
    );
}

// MinIO is moto here, a real S3 server with Signature V4 and IAM checks, behind the fake's
// port-forward to the MinIO pod's 9000.
#[test]
fn minio_and_s3_make_the_bucket_after_minio_is_ready_and_once() {
    needs_shared!();
    if !support::s3::available() {
        return;
    }
    let (sandbox, api) = world();
    let moto = Moto::start(&sandbox.path(""), true);
    api.forward(9000, moto.port);
    let (id, secret) = moto.keys.clone().unwrap();
    minio_secret(&api, (&id, &secret));
    let out = apply(&sandbox, &MINIO_S3);
    let objects: Vec<String> = applied(&out).into_iter().map(|(o, _)| o).collect();
    let at = |name: &str| {
        objects
            .iter()
            .position(|o| o == name)
            .unwrap_or_else(|| panic!("{name} in {objects:?}"))
    };
    assert!(at("Secret korthbox/minio-credentials") < at("StatefulSet korthbox/postgres"));
    assert!(at("StatefulSet korthbox/postgres") < at("Deployment korthbox/minio"));
    assert!(at("Deployment korthbox/minio") < at("Deployment korthbox/orthanc"));
    assert!(
        !objects
            .iter()
            .any(|o| o.contains("Job") || o.contains("orthanc-storage")),
        "no bucket Job, no volume for files in s3 mode: {objects:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let made = err
        .find("done: Making MinIO bucket orthanc: created")
        .expect(&err);
    assert!(err.find("done: Applying MinIO").unwrap() < made, "{err}");
    assert_eq!(
        moto.keys("orthanc"),
        Vec::<String>::new(),
        "the bucket is there"
    );
    // A second apply finds it.
    let again = apply(&sandbox, &MINIO_S3);
    applied(&again);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("done: Making MinIO bucket orthanc: already there"),
        "{err}"
    );
    let deployment = api
        .get("/apis/apps/v1/namespaces/korthbox/deployments/orthanc")
        .unwrap();
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains("MINIO_ROOT_PASSWORD") && env.contains("minio-credentials"),
        "{env}"
    );
}

#[test]
fn wrong_minio_credentials_stop_the_apply_with_a_clear_error() {
    needs_shared!();
    if !support::s3::available() {
        return;
    }
    let (sandbox, api) = world();
    let moto = Moto::start(&sandbox.path(""), true);
    api.forward(9000, moto.port);
    let (id, _) = moto.keys.clone().unwrap();
    minio_secret(&api, (&id, "not-the-secret"));
    let out = apply(&sandbox, &MINIO_S3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: could not make MinIO bucket orthanc"),
        "{err}"
    );
    assert!(
        err.contains("answered SignatureDoesNotMatch (the access key or secret key is wrong"),
        "{err}"
    );
    assert!(err.contains("Secret minio-credentials"), "{err}");
}

#[test]
fn without_a_default_class_local_path_is_installed_but_not_made_the_default() {
    needs_shared!();
    let (sandbox, api) = world();
    api.put(
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "standard"}, "provisioner": "x"}),
    );
    let out = apply(&sandbox, &[]);
    let objects: Vec<String> = applied(&out).into_iter().map(|(o, _)| o).collect();
    assert_eq!(objects[1], "Namespace local-path-storage");
    assert!(objects.contains(&"Deployment local-path-storage/local-path-provisioner".to_string()));
    // The cluster is the user's (an existing one): its default class stays as it is, and
    // korthbox's claims name local-path.
    api.assert_local_path_named_not_default();
    // The provisioner's objects (its StorageClass among them) were applied before PostgreSQL's
    // volume was asked for; the provisioner was waited for beside the components.
    let requests = api.requests();
    let position = |needle: &str| requests.iter().position(|r| r.starts_with(needle)).unwrap();
    let provisioner = position(
        "PATCH /apis/apps/v1/namespaces/local-path-storage/deployments/local-path-provisioner",
    );
    let postgres = position("PATCH /apis/apps/v1/namespaces/korthbox/statefulsets/postgres");
    assert!(provisioner < postgres);
    assert!(requests.iter().any(|r| {
        r.starts_with("GET /apis/apps/v1/namespaces/local-path-storage/deployments?")
            && r.contains("local-path-provisioner")
    }));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("done: Waiting for storage"), "{err}");
}

#[test]
fn on_minikube_local_path_is_used_by_name_beside_the_default() {
    needs_shared!();
    let (mut sandbox, api) = world();
    support::stand_ins::install(&mut sandbox, None);
    // minikube's context is the profile name.
    api.kubeconfig(&sandbox.path("home/.kube/config"), "korthbox");
    let out = sandbox.run(&[
        "stack", "apply", "--driver", "minikube", "--wait", "3", "--json",
    ]);
    applied(&out);
    api.assert_local_path_named_not_default();
    let sts = api
        .get("/apis/apps/v1/namespaces/korthbox/statefulsets/postgres")
        .unwrap();
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "local-path"
    );
}

#[test]
fn s3_without_minio_is_a_usage_error_before_any_request() {
    needs_shared!();
    let (sandbox, api) = world();
    let out = sandbox.run(&[
        "stack",
        "apply",
        "--context",
        CONTEXT,
        "--orthanc-storage",
        "s3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("add --storage minio"), "{stderr}");
    assert!(api.requests().is_empty());
}

/// The sandbox's PostgreSQL StatefulSet as an earlier korthbox left it, running `image`.
fn put_postgres(api: &FakeApi, image: &str) {
    api.put(
        "/apis/apps/v1/namespaces/korthbox/statefulsets/postgres",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": "postgres", "namespace": "korthbox",
                            "labels": {"app.kubernetes.io/managed-by": "korthbox", "app.kubernetes.io/instance": "korthbox"}},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "postgres", "image": image}]}}},
               "status": {"readyReplicas": 1}}),
    );
}

// Issue 23: upgrades keep the data. What the sandbox runs is read from the sandbox itself; a
// newer PostgreSQL of the same major version rolls forward and is said; another major version
// is refused before any write, naming the ways forward.
#[test]
fn postgresql_minor_upgrades_roll_forward_and_another_major_is_refused() {
    needs_shared!();
    let (sandbox, api) = world();
    api.put_sandbox_namespace("korthbox", "korthbox");
    put_postgres(&api, "docker.io/library/postgres:16.4-bookworm");
    let out = apply(&sandbox, &[]);
    let stderr = support::failed_with(
        &out,
        1,
        &[
            "the sandbox's PostgreSQL is version 16",
            "--postgres-image docker.io/library/postgres:16.4-bookworm",
            "korthbox up --name NEW",
        ],
    );
    assert!(writes(&api).is_empty(), "{:?}\n{stderr}", writes(&api));

    // `status` says what `up` would do.
    let status = sandbox.run(&["status", "--driver", "existing", "--context", CONTEXT]);
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(
        said.contains("`korthbox up` would refuse: the sandbox's PostgreSQL is version 16"),
        "{said}"
    );

    put_postgres(&api, "docker.io/library/postgres:17.6-bookworm");
    let status = sandbox.run(&["status", "--driver", "existing", "--context", CONTEXT]);
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(
        said.contains("Upgrade   `korthbox up` would move PostgreSQL 17.6 → 17.11"),
        "{said}"
    );
    let out = apply(&sandbox, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("upgrading: PostgreSQL 17.6 → 17.11"),
        "{stderr}"
    );
    let sts = api
        .get("/apis/apps/v1/namespaces/korthbox/statefulsets/postgres")
        .unwrap();
    let image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert!(image.contains("postgres:17.11-bookworm"), "{image}");
}

// Issue 25: `--orthanc-storage s3 --s3-bucket` puts the files in the user's own S3 service (moto
// here, IAM on): the bucket is checked before anything of the stack is applied, no MinIO is
// deployed, the environment's keys go into a Secret Orthanc reads them from, and a bucket that
// is not there stops the apply with the reason and nothing of the stack written.
#[test]
fn an_own_s3_bucket_is_checked_first_and_no_minio_is_deployed() {
    needs_shared!();
    if !support::s3::available() {
        return;
    }
    let (mut sandbox, api) = world();
    let moto = Moto::start(&sandbox.path(""), true);
    let (id, secret) = moto.keys.clone().unwrap();
    let endpoint = moto.endpoint();
    let admin = korthbox::host::s3::S3::new(
        &endpoint,
        "team-dicom",
        &id,
        &secret,
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(admin.ensure_bucket()).unwrap();
    let flags = [
        "--orthanc-storage",
        "s3",
        "--s3-endpoint",
        &endpoint,
        "--s3-bucket",
    ];

    // No keys anywhere: a usage error naming both ways to give them; nothing written.
    let out = apply(&sandbox, &[&flags[..], &["team-dicom"]].concat());
    support::failed_with(
        &out,
        2,
        &["AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", "--s3-secret"],
    );

    sandbox.set("AWS_ACCESS_KEY_ID", &id);
    sandbox.set("AWS_SECRET_ACCESS_KEY", &secret);
    let out = apply(&sandbox, &[&flags[..], &["not-there"]].concat());
    let err = support::failed_with(
        &out,
        1,
        &[
            "Orthanc could not use S3 bucket not-there",
            "does not exist",
        ],
    );
    assert!(!err.contains(&secret), "{err}");
    assert!(
        !writes(&api).iter().any(|w| w.contains("/deployments/")),
        "nothing of the stack applied: {:?}",
        writes(&api)
    );

    let out = apply(&sandbox, &[&flags[..], &["team-dicom"]].concat());
    let objects: Vec<String> = applied(&out).into_iter().map(|(o, _)| o).collect();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("done: Checking S3 bucket team-dicom at {endpoint}: there; an object put, read back and deleted")),
        "{err}"
    );
    assert!(!objects.iter().any(|o| o.contains("minio")), "{objects:?}");
    assert!(
        objects.contains(&"Secret korthbox/s3-credentials".to_string()),
        "{objects:?}"
    );
    assert!(!err.contains(&secret) && !String::from_utf8_lossy(&out.stdout).contains(&secret));
    let stored = api
        .get("/api/v1/namespaces/korthbox/secrets/s3-credentials")
        .unwrap();
    let key =
        support::http::base64_decode(stored["data"]["AWS_SECRET_ACCESS_KEY"].as_str().unwrap());
    assert_eq!(key, secret.as_bytes());
    let deployment = api
        .get("/apis/apps/v1/namespaces/korthbox/deployments/orthanc")
        .unwrap();
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains("AWS_SECRET_ACCESS_KEY") && env.contains("s3-credentials"),
        "{env}"
    );
    assert_eq!(
        moto.keys("team-dicom"),
        Vec::<String>::new(),
        "the test object is gone"
    );
}
