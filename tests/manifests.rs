//! `korthbox plan --only manifests`: every object, for every option combination, validates
//! strictly (unknown fields are errors) against the Kubernetes schemas of every version the
//! drivers deploy (extracted from the kubernetes-validate package's "-local-strict" schemas by
//! tests/support/k8s_schemas.py, never committed: they are another project's files); and
//! what the manifests promise: no secret in plain sight, pinned images, the NodePorts the
//! drivers map, and a usage error for an impossible combination.

mod support;

use std::collections::HashMap;

use serde_json::{Value, json};
use support::Sandbox;

const VERSIONS: [&str; 4] = ["1.34", "1.35", "1.36", "1.37"];
/// Orthanc on MinIO, planned for kind.
const S3_ON_KIND: [&str; 6] = [
    "--driver",
    "kind",
    "--storage",
    "minio",
    "--orthanc-storage",
    "s3",
];

struct Schemas {
    defs: HashMap<&'static str, Value>,
    validators: HashMap<(String, String), jsonschema::Validator>,
}

impl Schemas {
    /// The schemas, extracted once per test run into a scratch directory; None when the
    /// kubernetes-validate package is not installed (skipped, or failed under
    /// KORTHBOX_TEST_REQUIRE).
    fn load() -> Option<Schemas> {
        static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
        let dir = DIR.get_or_init(extract).as_ref()?;
        let defs = VERSIONS
            .iter()
            .map(|v| {
                let text = std::fs::read_to_string(dir.join(format!("v{v}.json"))).unwrap();
                (*v, serde_json::from_str(&text).unwrap())
            })
            .collect();
        Some(Schemas {
            defs,
            validators: HashMap::new(),
        })
    }

    /// The definition for an object's apiVersion and kind, found by its group-version-kind.
    fn definition(&self, version: &str, object: &Value) -> String {
        let api_version = object["apiVersion"].as_str().unwrap();
        let (group, v) = api_version.split_once('/').unwrap_or(("", api_version));
        let kind = object["kind"].as_str().unwrap();
        self.defs[version]["$defs"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, d)| {
                d["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|gvks| {
                        gvks.iter()
                            .any(|g| g["group"] == group && g["version"] == v && g["kind"] == kind)
                    })
            })
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| panic!("no schema for {api_version} {kind} in v{version}"))
    }

    fn errors(&mut self, version: &str, object: &Value) -> Vec<String> {
        let name = self.definition(version, object);
        let defs = &self.defs[version];
        let validator = self
            .validators
            .entry((version.to_string(), name.clone()))
            .or_insert_with(|| {
                let schema = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "$ref": format!("#/$defs/{name}"),
                    "$defs": defs["$defs"],
                });
                jsonschema::options().build(&schema).unwrap()
            });
        validator
            .iter_errors(object)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }
}

/// Runs tests/support/k8s_schemas.py into the target directory (rewritten on every run, by this
/// test binary alone).
fn extract() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("k8s-schemas");
    let out = std::process::Command::new("python3")
        .arg(root.join("tests/support/k8s_schemas.py"))
        .arg(&dir)
        .output();
    let reason = match out {
        Ok(out) if out.status.success() => return Some(dir),
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
        Err(e) => format!("python3 could not run: {e}"),
    };
    support::real_part_available(&format!("Kubernetes' strict schemas ({reason})"), false);
    None
}

fn plan(sandbox: &Sandbox, args: &[&str]) -> (Vec<Value>, String) {
    let mut all = vec!["plan", "--only", "manifests", "--provider", "docker"];
    all.extend_from_slice(args);
    let out = sandbox.run(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "plan {args:?}: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (docs.into_iter().filter(|d| !d.is_null()).collect(), text)
}

/// `plan` refuses each of `cases` with exit 2 saying what it says, and never echoes `secret`.
fn refused(sandbox: &Sandbox, cases: &[(Vec<&str>, &str)], secret: &str) {
    for (bad, says) in cases {
        let out = sandbox.run(&[&["plan", "--only", "manifests"][..], bad].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains(says), "{bad:?}: {stderr}");
        assert!(!stderr.contains(secret), "{bad:?}: {stderr}");
    }
}

/// What a shared cluster asks for (issue 25).
const SHARED: [&str; 10] = [
    "--storage-class",
    "fast-ssd",
    "--ingress-host",
    "orthanc.example.org",
    "--ingress-class",
    "nginx",
    "--tls-secret",
    "orthanc-tls",
    "--dicom-service",
    "loadbalancer",
];

/// Every valid combination of the stack's choices, on drivers that put volumes differently.
fn combinations() -> Vec<Vec<&'static str>> {
    let mut out = Vec::new();
    for driver in ["kind", "minikube", "existing"] {
        for (storage, orthanc) in [
            ("local-path", "pv"),
            ("local-path", "postgres"),
            ("minio", "pv"),
            ("minio", "s3"),
            ("minio", "postgres"),
        ] {
            let mut args = vec![
                "--driver",
                driver,
                "--storage",
                storage,
                "--orthanc-storage",
                orthanc,
            ];
            if driver == "existing" {
                args.extend(["--context", "lab"]);
            }
            // Several Orthancs wherever the files are where each reaches them; on a shared
            // cluster, with its class, an Ingress with TLS and DICOM on a LoadBalancer.
            if orthanc != "pv" || driver == "existing" {
                let mut several = args.clone();
                several.extend(["--orthanc-replicas", "3"]);
                if driver == "existing" {
                    several.extend(SHARED);
                }
                out.push(several);
            }
            out.push(args);
        }
    }
    // The user's own S3 service, with and without an endpoint, with several Orthancs; and the
    // user's own PostgreSQL.
    for extra in [
        vec![
            "--s3-endpoint",
            "https://s3.example.org",
            "--postgres-url",
            "postgresql://orthanc@db.example.org/pacs",
        ],
        vec![
            "--s3-region",
            "eu-west-1",
            "--s3-secret",
            "team-s3",
            "--orthanc-replicas",
            "2",
        ],
    ] {
        let mut args = vec![
            "--driver",
            "existing",
            "--context",
            "lab",
            "--orthanc-storage",
            "s3",
            "--s3-bucket",
            "team-dicom",
        ];
        args.extend(extra);
        out.push(args);
    }
    out
}

#[test]
fn every_object_validates_strictly_for_every_kubernetes_version() {
    let sandbox = Sandbox::new();
    let Some(mut schemas) = Schemas::load() else {
        return;
    };
    let mut checked = 0;
    for args in combinations() {
        let (docs, _) = plan(&sandbox, &args);
        for version in VERSIONS {
            for doc in &docs {
                let errors = schemas.errors(version, doc);
                assert!(
                    errors.is_empty(),
                    "v{version} {args:?} {} {}: {errors:#?}",
                    doc["kind"],
                    doc["metadata"]["name"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
}

#[test]
fn the_schemas_are_strict() {
    // An unknown field anywhere, and a wrong type, are errors: the check is not vacuous.
    let sandbox = Sandbox::new();
    let Some(mut schemas) = Schemas::load() else {
        return;
    };
    let (docs, _) = plan(&sandbox, &["--driver", "kind"]);
    let mut deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap()
        .clone();
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = json!("Always");
    assert!(!schemas.errors("1.36", &deployment).is_empty());
    let mut service = docs
        .iter()
        .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "orthanc")
        .unwrap()
        .clone();
    service["spec"]["ports"][0]["nodePort"] = json!("30042");
    assert!(!schemas.errors("1.36", &service).is_empty());
}

#[test]
fn secrets_are_redacted_unless_asked_and_never_outside_secrets() {
    let sandbox = Sandbox::new();
    let (docs, text) = plan(&sandbox, &S3_ON_KIND);
    let secrets: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Secret").collect();
    assert_eq!(secrets.len(), 3);
    for s in &secrets {
        for (key, value) in s["stringData"].as_object().unwrap() {
            if key.contains("password") {
                assert!(value.as_str().unwrap().starts_with("<redacted"), "{s:#}");
            }
        }
    }

    let (docs, text_shown) = plan(&sandbox, &[&S3_ON_KIND[..], &["--show-secrets"]].concat());
    assert_ne!(text, text_shown);
    let mut passwords = Vec::new();
    for s in docs.iter().filter(|d| d["kind"] == "Secret") {
        for (key, value) in s["stringData"].as_object().unwrap() {
            if key.contains("password") {
                let p = value.as_str().unwrap().to_string();
                assert!(
                    p.len() == 48 && p.chars().all(|c| c.is_ascii_hexdigit()),
                    "{p}"
                );
                passwords.push(p);
            }
        }
    }
    assert_eq!(passwords.len(), 3);
    // Outside the Secrets, no password appears: not in the ConfigMap, not in a pod spec.
    for doc in docs.iter().filter(|d| d["kind"] != "Secret") {
        let text = doc.to_string();
        for p in &passwords {
            assert!(
                !text.contains(p.as_str()),
                "{} {} carries a password",
                doc["kind"],
                doc["metadata"]["name"]
            );
        }
    }
    let config = orthanc_config(&docs);
    assert_eq!(
        config["RegisteredUsers"]["admin"],
        "${ORTHANC_ADMIN_PASSWORD}"
    );
    assert_eq!(config["PostgreSQL"]["Password"], "${POSTGRES_PASSWORD}");
    assert_eq!(
        config["AwsS3Storage"]["SecretKey"],
        "${MINIO_ROOT_PASSWORD}"
    );
}

fn orthanc_config(docs: &[Value]) -> Value {
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "orthanc-config")
        .unwrap();
    korthbox::evaluate::orthanc::parse_config(cm["data"]["orthanc.json"].as_str().unwrap()).unwrap()
}

/// Every container of every workload (init containers too), with the workload's name.
fn containers(docs: &[Value]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for d in docs {
        let spec = &d["spec"]["template"]["spec"];
        for key in ["initContainers", "containers"] {
            for c in spec[key].as_array().into_iter().flatten() {
                let name = format!("{} {}/{}", d["kind"], d["metadata"]["name"], c["name"]);
                out.push((name, c.clone()));
            }
        }
    }
    out
}

// Issue 25: on a shared cluster every container says what it needs and how much memory it may
// take; the Ingress, its class and TLS, the LoadBalancer for DICOM (with a warning) and the
// StorageClass come only when asked, and the sandbox's defaults do not change.
#[test]
fn a_shared_cluster_gets_limits_its_class_an_ingress_and_dicom_only_when_asked() {
    let sandbox = Sandbox::new();
    for args in combinations() {
        let (docs, _) = plan(&sandbox, &args);
        for (name, c) in containers(&docs) {
            let r = &c["resources"];
            assert!(
                r["requests"]["cpu"].is_string() && r["requests"]["memory"].is_string(),
                "{args:?} {name}: no requests: {r}"
            );
            assert!(
                r["limits"]["memory"].is_string(),
                "{args:?} {name}: no memory limit: {r}"
            );
        }
    }
    let mut args = vec![
        "--driver",
        "existing",
        "--context",
        "lab",
        "--orthanc-storage",
        "postgres",
    ];
    args.extend(SHARED);
    let (docs, _) = plan(&sandbox, &args);
    let ingress = docs
        .iter()
        .find(|d| d["kind"] == "Ingress")
        .expect("an Ingress");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "orthanc.example.org");
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "orthanc");
    assert_eq!(backend["port"]["name"], "http");
    assert_eq!(ingress["spec"]["tls"][0]["secretName"], "orthanc-tls");
    let dicom = docs
        .iter()
        .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "orthanc-dicom")
        .expect("a DICOM LoadBalancer");
    assert_eq!(dicom["spec"]["type"], "LoadBalancer");
    assert_eq!(dicom["spec"]["ports"].as_array().unwrap().len(), 1);
    assert_eq!(dicom["spec"]["ports"][0]["port"], 4242);
    let claims: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "PersistentVolumeClaim")
        .chain(docs.iter().flat_map(|d| {
            d["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
        }))
        .collect();
    assert!(!claims.is_empty());
    for claim in claims {
        assert_eq!(claim["spec"]["storageClassName"], "fast-ssd", "{claim}");
    }
    let out = sandbox.run(&[&["plan", "--only", "manifests"][..], &args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("anyone who reaches that address can store in it"),
        "{stderr}"
    );
    // The sandbox's defaults: no Ingress, no DICOM LoadBalancer, no warning.
    let out = sandbox.run(&[
        "plan",
        "--only",
        "manifests",
        "--driver",
        "kind",
        "--provider",
        "docker",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("kind: Ingress") && !text.contains("LoadBalancer"),
        "{text}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    // Flags that make no sense alone, and names that are not names.
    refused(
        &sandbox,
        &[
            (vec!["--tls-secret", "x"], "--ingress-host"),
            (vec!["--ingress-host", "orthanc"], "is not a host name"),
            (
                vec!["--storage-class", "Fast_SSD"],
                "is not a Kubernetes object name",
            ),
        ],
        "\u{0}",
    );
}

// Issue 25: files in the user's own S3 bucket: no MinIO, the plugin's section names the bucket,
// region and endpoint but no keys (the AWS SDK takes them from the container's environment, from
// a Secret), the keys never in `plan` without --show-secrets, and the combinations that make no
// sense refused with the reason.
#[test]
fn an_own_s3_bucket_replaces_minio_and_its_keys_stay_in_a_secret() {
    let mut sandbox = Sandbox::new();
    sandbox.set("AWS_ACCESS_KEY_ID", "AKIAKORTHBOXTEST0001");
    sandbox.set("AWS_SECRET_ACCESS_KEY", "very-secret-key-value");
    let args = [
        "--driver",
        "existing",
        "--context",
        "lab",
        "--orthanc-storage",
        "s3",
        "--s3-bucket",
        "team-dicom",
        "--s3-endpoint",
        "https://s3.example.org",
    ];
    let (docs, text) = plan(&sandbox, &args);
    assert!(!text.contains("very-secret-key-value") && !text.contains("AKIAKORTHBOXTEST0001"));
    assert!(!docs.iter().any(|d| {
        d["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .contains("minio")
    }));
    let section = &orthanc_config(&docs)["AwsS3Storage"];
    assert_eq!(section["BucketName"], "team-dicom");
    assert_eq!(section["Endpoint"], "https://s3.example.org");
    assert_eq!(section["VirtualAddressing"], false);
    assert!(
        section["AccessKey"].is_null() && section["SecretKey"].is_null(),
        "{section}"
    );
    let secret = docs
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "s3-credentials")
        .expect("the keys' Secret");
    assert!(
        secret["stringData"]["AWS_SECRET_ACCESS_KEY"]
            .as_str()
            .unwrap()
            .starts_with("<redacted")
    );
    let (_, shown) = plan(&sandbox, &[&args[..], &["--show-secrets"]].concat());
    assert!(
        shown.contains("very-secret-key-value"),
        "--show-secrets shows them"
    );
    // Amazon S3 itself: virtual-hosted addressing, no endpoint; a Secret of the user's.
    let (docs, _) = plan(
        &sandbox,
        &[
            "--driver",
            "existing",
            "--context",
            "lab",
            "--orthanc-storage",
            "s3",
            "--s3-bucket",
            "team-dicom",
            "--s3-region",
            "eu-west-1",
            "--s3-secret",
            "team-s3",
        ],
    );
    let section = &orthanc_config(&docs)["AwsS3Storage"];
    assert_eq!(section["VirtualAddressing"], true);
    assert_eq!(section["Region"], "eu-west-1");
    assert!(section["Endpoint"].is_null());
    assert!(
        !docs
            .iter()
            .any(|d| d["metadata"]["name"] == "s3-credentials")
    );
    let env = orthanc_container(&docs)["env"].to_string();
    assert!(
        env.contains("team-s3") && env.contains("AWS_SESSION_TOKEN"),
        "{env}"
    );
    refused(
        &sandbox,
        &[
            (
                vec!["--s3-bucket", "b", "--orthanc-storage", "pv"],
                "add --orthanc-storage s3",
            ),
            (
                vec![
                    "--s3-bucket",
                    "b",
                    "--orthanc-storage",
                    "s3",
                    "--storage",
                    "minio",
                ],
                "keep one of them",
            ),
            (
                vec![
                    "--s3-bucket",
                    "b",
                    "--orthanc-storage",
                    "s3",
                    "--s3-endpoint",
                    "https://k:s@s3.example.org",
                ],
                "keys do not go in the URL",
            ),
            (
                vec!["--s3-endpoint", "https://s3.example.org"],
                "--s3-bucket",
            ),
        ],
        "k:s@",
    );
}

// Issue 25: a PostgreSQL of one's own: no StatefulSet, no generated password; Orthanc is given a
// libpq URI without a password (PGPASSWORD from a Secret), the CA mounted where the URI says;
// the password never in `plan` without --show-secrets; and what libpq would refuse, refused.
#[test]
fn an_own_postgresql_replaces_the_statefulset() {
    let mut sandbox = Sandbox::new();
    sandbox.set("KORTHBOX_POSTGRES_PASSWORD", "the-teams-password");
    let ca = sandbox.path("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let url = "postgresql://orthanc@db.example.org:6432/pacs?sslmode=verify-full";
    let args = [
        "--driver",
        "kind",
        "--postgres-url",
        url,
        "--postgres-ca",
        ca.to_str().unwrap(),
    ];
    let (docs, text) = plan(&sandbox, &args);
    assert!(!text.contains("the-teams-password"));
    assert!(
        !docs.iter().any(|d| d["kind"] == "StatefulSet"),
        "no PostgreSQL deployed"
    );
    assert!(
        !docs
            .iter()
            .any(|d| d["metadata"]["name"] == "postgres-credentials")
    );
    let config = orthanc_config(&docs);
    assert_eq!(
        config["PostgreSQL"]["ConnectionUri"],
        "postgresql://orthanc@db.example.org:6432/pacs?sslmode=verify-full&sslrootcert=/etc/korthbox/postgres/ca.pem"
    );
    let container = orthanc_container(&docs);
    let env = container["env"].to_string();
    assert!(
        env.contains("PGPASSWORD") && env.contains("postgres-external"),
        "{env}"
    );
    assert!(
        container["volumeMounts"]
            .to_string()
            .contains("/etc/korthbox/postgres")
    );
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "orthanc")
        .unwrap();
    let wait = deployment["spec"]["template"]["spec"]["initContainers"][0]["command"][2]
        .as_str()
        .unwrap();
    assert!(
        wait.contains("pg_isready -h db.example.org -p 6432 -U orthanc -d pacs"),
        "{wait}"
    );
    let map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "postgres-ca")
        .unwrap();
    assert!(
        map["data"]["ca.pem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let (_, shown) = plan(&sandbox, &[&args[..], &["--show-secrets"]].concat());
    assert!(shown.contains("the-teams-password"));
    refused(
        &sandbox,
        &[
            (
                vec!["--postgres-url", "postgresql://orthanc:hunter2@db/pacs"],
                "KORTHBOX_POSTGRES_PASSWORD",
            ),
            (
                vec![
                    "--postgres-url",
                    "postgresql://orthanc@db/pacs?sslmode=verify-full",
                ],
                "--postgres-ca",
            ),
            (
                vec!["--postgres-ca", ca.to_str().unwrap()],
                "--postgres-url",
            ),
        ],
        "hunter2",
    );
}

// Issue 25: several Orthancs are spread over the nodes, rolled one at a time, kept serving by a
// PodDisruptionBudget, each named in the database by its pod; one Orthanc is as before; several
// on one ReadWriteOnce volume are refused with the reason.
#[test]
fn several_orthancs_spread_roll_keep_one_serving_and_need_shared_files() {
    let sandbox = Sandbox::new();
    let find = |docs: &[Value], kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == "orthanc")
            .cloned()
    };
    let (docs, _) = plan(
        &sandbox,
        &[
            "--driver",
            "kind",
            "--orthanc-storage",
            "postgres",
            "--orthanc-replicas",
            "3",
        ],
    );
    let deployment = find(&docs, "Deployment").unwrap();
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 3);
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let spread = &spec["template"]["spec"]["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(spread["maxSkew"], 1);
    assert_eq!(
        spread["labelSelector"]["matchLabels"],
        spec["selector"]["matchLabels"]
    );
    let pdb = find(&docs, "PodDisruptionBudget").expect("a PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"], spec["selector"]);
    let env = spec["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let pod_name = env
        .iter()
        .find(|e| e["name"] == "POD_NAME")
        .expect("POD_NAME");
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    let config = orthanc_config(&docs);
    assert_eq!(config["DatabaseServerIdentifier"], "${POD_NAME}");
    assert_eq!(config["SaveJobs"], false);
    assert_eq!(config["CheckRevisions"], true);
    assert_eq!(config["PostgreSQL"]["Lock"], false);
    assert!(
        !docs
            .iter()
            .any(|d| d["metadata"]["name"] == "orthanc-storage")
    );

    // One Orthanc, as before.
    let (docs, _) = plan(&sandbox, &["--driver", "kind"]);
    let deployment = find(&docs, "Deployment").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    assert!(deployment["spec"]["template"]["spec"]["topologySpreadConstraints"].is_null());
    assert!(find(&docs, "PodDisruptionBudget").is_none());
    assert!(orthanc_config(&docs)["DatabaseServerIdentifier"].is_null());

    let out = sandbox.run(&["plan", "--only", "manifests", "--orthanc-replicas", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--orthanc-replicas 2 needs the DICOM files where every Orthanc reaches them"
        ) && stderr.contains("add --orthanc-storage postgres")
            && stderr.contains("ReadWriteMany class"),
        "{stderr}"
    );
    // On a ReadWriteMany class the user names, several Orthancs share one volume.
    let (docs, _) = plan(
        &sandbox,
        &[
            "--driver",
            "kind",
            "--orthanc-replicas",
            "2",
            "--storage-class",
            "nfs-client",
        ],
    );
    let claim = docs
        .iter()
        .find(|d| {
            d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == "orthanc-storage"
        })
        .expect("the shared files volume");
    assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteMany");
    assert_eq!(claim["spec"]["storageClassName"], "nfs-client");
    let (docs, _) = plan(&sandbox, &["--driver", "kind"]);
    let claim = docs
        .iter()
        .find(|d| {
            d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == "orthanc-storage"
        })
        .unwrap();
    assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteOnce");
}

#[test]
fn orthanc_storage_modes_change_the_configuration_and_the_volumes() {
    let sandbox = Sandbox::new();
    let volume_claims = |docs: &[Value]| {
        docs.iter()
            .filter(|d| d["kind"] == "PersistentVolumeClaim")
            .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (pv, _) = plan(&sandbox, &["--driver", "kind"]);
    assert_eq!(orthanc_config(&pv)["PostgreSQL"]["EnableStorage"], false);
    assert_eq!(orthanc_config(&pv)["PostgreSQL"]["EnableIndex"], true);
    assert_eq!(
        orthanc_config(&pv)["StorageDirectory"],
        "/var/lib/orthanc/db"
    );
    assert_eq!(volume_claims(&pv), ["orthanc-storage"]);

    let (pg, _) = plan(
        &sandbox,
        &["--driver", "kind", "--orthanc-storage", "postgres"],
    );
    assert_eq!(orthanc_config(&pg)["PostgreSQL"]["EnableStorage"], true);
    assert!(volume_claims(&pg).is_empty());

    let (s3, _) = plan(&sandbox, &S3_ON_KIND);
    let config = orthanc_config(&s3);
    assert_eq!(config["AwsS3Storage"]["Endpoint"], "http://minio:9000");
    assert_eq!(config["AwsS3Storage"]["VirtualAddressing"], false);
    assert_eq!(config["AwsS3Storage"]["BucketName"], "orthanc");
    assert_eq!(volume_claims(&s3), ["minio-data"]);
    // The bucket is made through the S3 API, not by a Job with MinIO's client image.
    assert!(!s3.iter().any(|d| d["kind"] == "Job"));
    assert!(!s3.iter().any(|d| d.to_string().contains("minio/mc")));
}

#[test]
fn the_s3_keys_are_ones_the_plugin_documents() {
    // The AWS S3 plugin is not packaged for Debian, so its keys are checked against the set the
    // Orthanc Book documents (plugins/object-storage.rst, "AwsS3Storage" sample configuration).
    const DOCUMENTED: [&str; 16] = [
        "BucketName",
        "Region",
        "AccessKey",
        "SecretKey",
        "Endpoint",
        "ConnectionTimeout",
        "RequestTimeout",
        "RootPath",
        "MigrationFromFileSystemEnabled",
        "StorageStructure",
        "EnableLegacyUnknownFiles",
        "VirtualAddressing",
        "StorageEncryption",
        "HybridMode",
        "UseTransferManager",
        "EnableAwsSdkLogs",
    ];
    let sandbox = Sandbox::new();
    let (docs, _) = plan(&sandbox, &S3_ON_KIND);
    let config = orthanc_config(&docs);
    let keys: Vec<&String> = config["AwsS3Storage"].as_object().unwrap().keys().collect();
    for key in &keys {
        assert!(
            DOCUMENTED.contains(&key.as_str()),
            "{key} is not a documented AwsS3Storage key"
        );
    }
    for required in [
        "BucketName",
        "Region",
        "Endpoint",
        "AccessKey",
        "SecretKey",
        "VirtualAddressing",
    ] {
        assert!(keys.iter().any(|k| *k == required), "{required} missing");
    }
}

#[test]
fn images_are_pinned_by_digest_and_minio_is_overridable() {
    let sandbox = Sandbox::new();
    let (docs, text) = plan(
        &sandbox,
        &[
            "--driver",
            "existing",
            "--context",
            "lab",
            "--storage",
            "minio",
        ],
    );
    let images: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .map(|i| i.trim_matches('"').to_string())
        .collect();
    assert!(images.len() >= 6, "{images:?}");
    for image in &images {
        assert!(
            image.contains(":") && image.contains("@sha256:"),
            "{image} is not pinned by tag and digest"
        );
    }
    assert!(
        images
            .iter()
            .any(|i| i.starts_with("quay.io/minio/minio:RELEASE."))
    );
    assert!(
        images
            .iter()
            .any(|i| i.starts_with("docker.io/orthancteam/orthanc:"))
    );
    assert!(
        text.contains("image: \"docker.io/library/busybox:1.37.0@sha256:"),
        "local-path's helper image is pinned too"
    );
    assert!(docs.iter().any(|d| d["kind"] == "StorageClass"));

    let (docs, _) = plan(
        &sandbox,
        &[
            "--driver",
            "kind",
            "--storage",
            "minio",
            "--minio-image",
            "registry.example:5000/minio:test",
        ],
    );
    let minio = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "minio")
        .unwrap();
    assert_eq!(
        minio["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example:5000/minio:test"
    );
}

#[test]
fn services_probes_and_data_paths() {
    let sandbox = Sandbox::new();
    let (docs, _) = plan(&sandbox, &["--driver", "kind"]);
    let service = docs
        .iter()
        .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "orthanc")
        .unwrap();
    assert_eq!(service["spec"]["type"], "NodePort");
    let ports: Vec<(u64, u64)> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["port"].as_u64().unwrap(), p["nodePort"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        ports,
        [(8042, 30042), (4242, 30242)],
        "the NodePorts kind's and k3d's mappings point at"
    );

    let orthanc = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "orthanc")
        .unwrap();
    let pod = &orthanc["spec"]["template"]["spec"];
    let probe = pod["containers"][0]["readinessProbe"]["exec"]["command"].to_string();
    assert!(
        probe.contains("/changes?last") && probe.contains("ORTHANC_ADMIN_PASSWORD"),
        "{probe}"
    );
    assert!(
        pod["initContainers"][0]["command"]
            .to_string()
            .contains("pg_isready -h postgres")
    );
    for doc in &docs {
        let labels = &doc["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/managed-by"], "korthbox",
            "{} {}",
            doc["kind"], doc["metadata"]["name"]
        );
        assert_eq!(labels["app.kubernetes.io/part-of"], "korthbox");
    }

    let postgres = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    let container = &postgres["spec"]["template"]["spec"]["containers"][0];
    let env = container["env"].as_array().unwrap();
    let pgdata = env.iter().find(|e| e["name"] == "PGDATA").unwrap();
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert!(
        pgdata["value"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{mount}/")),
        "PGDATA is inside the volume"
    );
    assert_eq!(
        container["readinessProbe"]["exec"]["command"][2]
            .as_str()
            .unwrap()
            .split_whitespace()
            .next(),
        Some("pg_isready")
    );

    // Requests and limits fit the 8 GiB doctor asks for.
    let mut limits_mib = 0;
    for doc in docs
        .iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet")))
    {
        for c in doc["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
        {
            let limit = c["resources"]["limits"]["memory"]
                .as_str()
                .expect("a memory limit");
            limits_mib += match limit.strip_suffix("Gi") {
                Some(g) => g.parse::<u64>().unwrap() * 1024,
                None => limit.strip_suffix("Mi").unwrap().parse::<u64>().unwrap(),
            };
        }
    }
    assert!(limits_mib <= 4096, "{limits_mib} MiB of limits");
}

#[test]
fn s3_without_minio_says_which_flag_to_add() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["plan", "--only", "manifests", "--orthanc-storage", "s3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: --orthanc-storage s3") && stderr.contains("add --storage minio"),
        "{stderr}"
    );
}

#[test]
fn plan_without_only_shows_the_cluster_then_the_manifests() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["plan", "--driver", "k3d", "--provider", "docker"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    assert_eq!(docs[0]["kind"], "Simple");
    assert_eq!(docs[1]["kind"], "Namespace");

    let dir = sandbox.path("out");
    let out = sandbox.run(&[
        "plan",
        "--driver",
        "minikube",
        "--provider",
        "docker",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(dir.join("minikube.args").exists());
    let manifests = std::fs::read_to_string(dir.join("manifests.yaml")).unwrap();
    assert!(
        manifests.contains("kind: StorageClass"),
        "minikube gets local-path"
    );
}

/// The Orthanc Deployment's container among the rendered objects.
fn orthanc_container(docs: &[Value]) -> Value {
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "orthanc")
        .unwrap();
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "orthanc")
        .unwrap()
        .clone()
}

// Issue 23: the rendered Orthanc holds against the pinned image's own rules, read from its build
// repository's data files (tag 26.8.1, in ../shared/orthanc): no legacy variable (from 26.7 on
// the image refuses to start with one), no variable its generator would read into the
// configuration (`ORTHANC__*`, `*_SECRET`, `ORTHANC_JSON`), and every plugin korthbox relies on
// enabled the way the generator decides it (orthanc-builder's docker/orthanc/configurator.py,
// read through the search tool): by its variable where that is required, else by its section
// in the configuration or its variable.
#[test]
fn orthanc_holds_against_the_images_own_rules() {
    needs_shared!();
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(support::shared_path(&format!("orthanc/{name}")));
        serde_json::from_str(&text.unwrap()).unwrap()
    };
    let (legacy, plugins) = (read("env-var-legacy.json"), read("plugins-def.json"));
    let sandbox = Sandbox::new();
    for (viewer, storage, orthanc) in [
        ("stone", "local-path", "pv"),
        ("ohif", "minio", "s3"),
        ("none", "local-path", "postgres"),
    ] {
        let (docs, _) = plan(
            &sandbox,
            &[
                "--driver",
                "kind",
                "--viewer",
                viewer,
                "--storage",
                storage,
                "--orthanc-storage",
                orthanc,
            ],
        );
        let container = orthanc_container(&docs);
        let env: Vec<(String, String)> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let value = e["value"].as_str().unwrap_or("(from a Secret)");
                (e["name"].as_str().unwrap().to_string(), value.to_string())
            })
            .collect();
        for (name, _) in &env {
            assert!(
                legacy.get(name).is_none(),
                "{name} is a legacy variable the image refuses"
            );
            // What else the image's generator (docker/orthanc/configurator.py) reads into the
            // configuration from a variable's name: korthbox configures Orthanc by its file.
            assert!(
                !name.starts_with("ORTHANC__")
                    && !name.ends_with("_SECRET")
                    && name != "ORTHANC_JSON",
                "{name} would be read into Orthanc's configuration by the image"
            );
        }
        let config = orthanc_config(&docs);
        let mut wanted = vec!["PostgreSQL", "DicomWeb", "OrthancExplorer2"];
        match viewer {
            "stone" => wanted.push("StoneWebViewer"),
            "ohif" => wanted.push("Ohif"),
            _ => {}
        }
        if orthanc == "s3" {
            wanted.push("AwsS3Storage");
        }
        for plugin in wanted {
            let def = &plugins[plugin];
            assert!(def.is_object(), "the image knows no plugin {plugin}");
            let variable = def["enablingEnvVar"].as_str().unwrap();
            let by_variable = env.iter().any(|(n, v)| n == variable && v == "true");
            let section = def["section"].as_str().unwrap_or(plugin);
            let by_section = config.get(section).is_some();
            let enabled = if def["enablingEnvVarIsRequired"] == true {
                by_variable
            } else {
                by_variable || by_section || def["enabledByDefault"] == true
            };
            assert!(
                enabled,
                "{viewer}/{orthanc}: plugin {plugin} is not enabled ({variable})"
            );
        }
    }
}

// Issue 23: local-path-provisioner v0.0.37 validates `pathPattern` (CVE-2025-62878) and ships an
// image without a shell. The rendered configuration sets no pattern that could leave the base
// path (korthbox sets none: the default is the claim's own folder), the provisioner is started
// as its binary, and the helper pod that runs the setup and teardown scripts is busybox's, not
// the provisioner's image.
#[test]
fn local_path_needs_no_shell_from_its_image_and_sets_no_path_pattern() {
    needs_shared!();
    let sandbox = Sandbox::new();
    let (docs, _) = plan(&sandbox, &["--driver", "minikube"]);
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "local-path-config")
        .expect("local-path's configuration");
    let json: Value =
        serde_json::from_str(config["data"]["config.json"].as_str().unwrap()).unwrap();
    for entry in json["nodePathMap"].as_array().unwrap() {
        for path in entry["paths"].as_array().unwrap() {
            let path = path.as_str().unwrap();
            assert!(path.starts_with('/') && !path.contains(".."), "{path}");
        }
    }
    let pattern = json["pathPattern"].as_str().unwrap_or_default();
    assert!(!pattern.contains(".."), "{pattern}");
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "local-path-provisioner")
        .unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let provisioner = container["image"].as_str().unwrap();
    assert!(
        provisioner.contains("local-path-provisioner:v0.0.37"),
        "{provisioner}"
    );
    assert_eq!(
        container["command"][0], "local-path-provisioner",
        "started as its binary"
    );
    let helper: Value =
        serde_saphyr::from_str(config["data"]["helperPod.yaml"].as_str().unwrap()).unwrap();
    let helper_image = helper["spec"]["containers"][0]["image"].as_str().unwrap();
    assert!(helper_image.contains("/busybox:"), "{helper_image}");
    assert_ne!(helper_image, provisioner);
    for script in ["setup", "teardown"] {
        let text = config["data"][script].as_str().unwrap();
        assert!(
            text.starts_with("#!/bin/sh"),
            "{script} runs in busybox's shell"
        );
    }
}
