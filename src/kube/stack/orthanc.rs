//! Orthanc: its configuration (JSON in a ConfigMap, secrets only through environment variables
//! that Orthanc expands), its Deployment and its Services.

use serde_json::{Value, json};

use super::manifest::{Manifest, Stage, docs};
use super::spec::StackSpec;
use crate::base::spec::{
    DICOM_NODE_PORT, DicomService, HTTP_NODE_PORT, ORTHANC_AET, OrthancStorage, Viewer,
};
use crate::base::template::{self, Vars};

const CONFIG: &str = include_str!("../../../assets/orthanc.json");
const CONFIG_S3: &str = include_str!("../../../assets/orthanc-s3.json");

/// Where the image reads its configuration files, and where the pv mode keeps files.
const CONFIG_DIR: &str = "/etc/orthanc";
const STORAGE_DIR: &str = "/var/lib/orthanc/db";

/// The readiness and liveness check: `GET /changes?last` answers only when the database does.
/// The admin password is read from the environment inside the container, so neither the pod
/// spec nor `kubectl describe` shows it.
const PROBE: &str = "import base64, os, urllib.request as r; \
auth = base64.b64encode(('admin:' + os.environ['ORTHANC_ADMIN_PASSWORD']).encode()).decode(); \
r.urlopen(r.Request('http://127.0.0.1:8042/changes?last', headers={'Authorization': 'Basic ' + auth}), timeout=5).read()";

/// Orthanc's configuration for `spec`, before it is put in the ConfigMap.
pub fn config(spec: &StackSpec) -> Result<Value, String> {
    let vars = Vars::from([
        ("orthanc_name", json!(spec.instance.as_str())),
        ("aet", json!(ORTHANC_AET)),
        (
            "postgres_storage",
            json!(spec.orthanc_storage == OrthancStorage::Postgres),
        ),
        ("bucket", json!(crate::base::spec::BUCKET)),
    ]);
    let mut config = template::render_yaml(CONFIG, &vars)?;
    if let Some(own) = &spec.external_s3 {
        config["AwsS3Storage"] = own_s3(own);
    } else if spec.orthanc_storage == OrthancStorage::S3 {
        let s3 = template::render_yaml(CONFIG_S3, &vars)?;
        if let (Some(base), Value::Object(extra)) = (config.as_object_mut(), s3) {
            base.extend(extra);
        }
    }
    if let (Some(base), Some((section, settings))) = (config.as_object_mut(), viewer(spec.viewer)) {
        base.insert(section.into(), settings);
    }
    if let Some(pg) = &spec.external_postgres {
        // libpq's URI, without a password (PGPASSWORD in the container): TLS as sslmode says,
        // the CA from --postgres-ca. The plugin takes ConnectionUri instead of Host, Port…
        let enable_storage = config["PostgreSQL"]["EnableStorage"].clone();
        config["PostgreSQL"] = json!({
            "EnableIndex": true,
            "EnableStorage": enable_storage,
            "ConnectionUri": pg.uri(),
            "Lock": false,
        });
    }
    if spec.orthanc_replicas > 1 {
        for (key, value) in several() {
            config[key] = value;
        }
    }
    Ok(config)
}

/// The settings several Orthancs on one database need, each with where it comes from: the
/// configuration reference of Orthanc 1.10.1 (Debian's `/etc/orthanc/orthanc.json`, the
/// upstream `OrthancServer/Resources/Configuration.json`) and the changelog of the PostgreSQL
/// plugins 4.0 (`orthanc-postgresql`). `PostgreSQL.Lock` is `false` in every korthbox
/// configuration already (the plugin's advisory lock would keep a second Orthanc out).
fn several() -> [(&'static str, Value); 3] {
    [
        ("DatabaseServerIdentifier", json!("${POD_NAME}")),
        ("SaveJobs", json!(false)),
        ("CheckRevisions", json!(true)),
    ]
}

/// The comment above a configuration for several Orthancs: which settings, and why.
const SEVERAL_COMMENT: &str = "\
// Several Orthancs share this PostgreSQL database (korthbox --orthanc-replicas). From the
// Orthanc configuration reference (Orthanc 1.10.1, OrthancServer/Resources/Configuration.json)
// and the PostgreSQL plugins' changelog (4.0: \"Support of multiple readers/writers, by handling
// retries from Orthanc SDK 1.9.2\"):
// - PostgreSQL.Lock false: the plugin's advisory lock keeps every other Orthanc out of the
//   database; several instances need it off.
// - DatabaseServerIdentifier ${POD_NAME}: \"only useful in the case of multiple readers/writers,
//   in order to avoid collisions between multiple Orthanc servers ... Manually setting this
//   option is needed in Docker/Kubernetes environments\" (new in 1.9.2); the pod's name, unique.
// - SaveJobs false: jobs are each Orthanc's own; \"This option should be set to false if
//   multiple Orthanc servers are using the same database\".
// - CheckRevisions true: \"needed to handle collisions between concurrent modifications in the
//   case of multiple writers\" (new in 1.9.2; the PostgreSQL plugins support revisions since 4.0).
// Jobs, and when a study is stable (StableAge), are counted by each Orthanc on its own.
";

/// The configuration as the ConfigMap holds it: JSON, with a comment on top saying why the
/// settings for several Orthancs are what they are (Orthanc reads `//` comments).
pub fn config_text(spec: &StackSpec) -> Result<String, String> {
    let json = serde_json::to_string_pretty(&config(spec)?).map_err(|e| e.to_string())? + "\n";
    Ok(match spec.orthanc_replicas > 1 {
        true => format!("{SEVERAL_COMMENT}{json}"),
        false => json,
    })
}

/// The S3 plugin's section for the user's own bucket: no keys in it — the plugin then takes
/// them from the AWS SDK's default credentials, the container's `AWS_*` variables (object
/// storage plugin 1.3.0: "optional: if not specified, the plugin will use the default
/// credentials manager"), so a session token works too. Amazon S3 is addressed by virtual host,
/// another service by path.
fn own_s3(own: &super::spec::ExternalS3) -> Value {
    let mut section = json!({
        "BucketName": own.bucket,
        "Region": own.region,
        "VirtualAddressing": own.endpoint.is_none(),
        "ConnectionTimeout": 30,
        "RequestTimeout": 1200,
    });
    if let Some(endpoint) = &own.endpoint {
        section["Endpoint"] = json!(endpoint);
    }
    section
}

/// The viewer's configuration section (the plugin itself is loaded by the variable
/// [`Viewer::variable`] names).
fn viewer(viewer: Viewer) -> Option<(&'static str, Value)> {
    match viewer {
        Viewer::Stone => Some(("StoneWebViewer", json!({"DateFormat": "YYYY-MM-DD"}))),
        Viewer::Ohif => Some(("OHIF", json!({"DataSource": "dicom-web"}))),
        Viewer::None => None,
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

/// Orthanc's environment: its password, the database's, the viewer's switch, its pod's name
/// (several Orthancs), and the object store's keys.
fn env(spec: &StackSpec) -> Vec<Value> {
    let mut env = vec![secret_env(
        "ORTHANC_ADMIN_PASSWORD",
        "orthanc-credentials",
        "password",
    )];
    env.push(match spec.external_postgres {
        None => secret_env("POSTGRES_PASSWORD", "postgres-credentials", "password"),
        Some(_) => secret_env("PGPASSWORD", "postgres-external", "password"),
    });
    if let Some(variable) = spec.viewer.variable() {
        env.push(json!({"name": variable, "value": "true"}));
    }
    if spec.orthanc_replicas > 1 {
        // DatabaseServerIdentifier: the pod's own name.
        env.push(
            json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
        );
    }
    match (spec.orthanc_storage, &spec.external_s3) {
        (OrthancStorage::S3, Some(own)) => {
            let secret = own.secret_name();
            for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                env.push(secret_env(key, secret, key));
            }
            env.push(
                json!({"name": "AWS_SESSION_TOKEN", "valueFrom": {"secretKeyRef":
                {"name": secret, "key": "AWS_SESSION_TOKEN", "optional": true}}}),
            );
        }
        (OrthancStorage::S3, None) => {
            env.push(secret_env(
                "MINIO_ROOT_USER",
                "minio-credentials",
                "root-user",
            ));
            env.push(secret_env(
                "MINIO_ROOT_PASSWORD",
                "minio-credentials",
                "root-password",
            ));
        }
        _ => {}
    }
    env
}

/// Orthanc's mounts and volumes: its configuration, the database's CA certificates, its files.
fn mounts(spec: &StackSpec) -> (Vec<Value>, Vec<Value>) {
    let mut mounts = vec![json!({"name": "config", "mountPath": CONFIG_DIR, "readOnly": true})];
    let mut volumes = vec![json!({"name": "config", "configMap": {"name": "orthanc-config"}})];
    let own_ca = spec
        .external_postgres
        .as_ref()
        .is_some_and(|pg| pg.ca.is_some());
    if own_ca {
        let dir = crate::base::spec::ExternalPostgres::CA_PATH.trim_end_matches("/ca.pem");
        mounts.push(json!({"name": "postgres-ca", "mountPath": dir, "readOnly": true}));
        volumes.push(json!({"name": "postgres-ca", "configMap": {"name": "postgres-ca"}}));
    }
    if spec.orthanc_storage == OrthancStorage::Pv {
        mounts.push(json!({"name": "storage", "mountPath": STORAGE_DIR}));
        volumes.push(
            json!({"name": "storage", "persistentVolumeClaim": {"claimName": "orthanc-storage"}}),
        );
    }
    (mounts, volumes)
}

pub fn add_vars(spec: &StackSpec, vars: &mut Vars) -> Result<(), String> {
    let config = config_text(spec)?;
    let (mounts, volumes) = mounts(spec);
    vars.extend([
        ("orthanc_json", json!(config)),
        ("orthanc_env", Value::Array(env(spec))),
        ("orthanc_probe", json!(["python3", "-c", PROBE])),
        ("orthanc_mounts", Value::Array(mounts)),
        ("orthanc_volumes", Value::Array(volumes)),
        // A NodePort only where the driver maps host ports to it; elsewhere nothing outside
        // the cluster reaches Orthanc but `korthbox forward`.
        (
            "orthanc_service_type",
            json!(if spec.node_ports {
                "NodePort"
            } else {
                "ClusterIP"
            }),
        ),
        ("http_node_port", node_port(spec, HTTP_NODE_PORT)),
        ("dicom_node_port", node_port(spec, DICOM_NODE_PORT)),
        ("orthanc_replicas", json!(spec.orthanc_replicas)),
        ("files_access", json!(spec.files_access())),
    ]);
    if let Some(ingress) = &spec.ingress {
        let tls = ingress
            .tls_secret
            .as_ref()
            .map(|secret| json!([{"hosts": [ingress.host], "secretName": secret}]));
        vars.extend([
            ("ingress_host", json!(ingress.host)),
            ("ingress_class", json!(ingress.class)),
            ("ingress_tls", tls.unwrap_or(Value::Null)),
        ]);
    }
    vars.extend(spread(spec));
    Ok(())
}

/// One Orthanc: replaced by stopping it first (its ReadWriteOnce volume); several: rolled one
/// at a time, spread over the nodes, one kept serving through voluntary disruptions.
fn spread(spec: &StackSpec) -> [(&'static str, Value); 3] {
    if spec.orthanc_replicas == 1 {
        return [
            ("orthanc_strategy", json!({"type": "Recreate"})),
            ("orthanc_spread", Value::Null),
            ("orthanc_pdb_min", Value::Null),
        ];
    }
    let labels = super::manifest::selector(spec, "orthanc");
    [
        (
            "orthanc_strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}),
        ),
        (
            "orthanc_spread",
            json!([{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": labels}}]),
        ),
        ("orthanc_pdb_min", json!(1)),
    ]
}

fn node_port(spec: &StackSpec, port: u16) -> Value {
    if spec.node_ports {
        json!(port)
    } else {
        Value::Null
    }
}

pub fn render(spec: &StackSpec, vars: &Vars) -> Result<Vec<Manifest>, String> {
    // The volume before the Deployment whose pod mounts it.
    let mut out = Vec::new();
    if spec.orthanc_storage == OrthancStorage::Pv {
        out.extend(docs(
            Stage::Orthanc,
            include_str!("../../../assets/orthanc-storage.yaml"),
            vars,
        )?);
    }
    // Only when asked: several Orthancs, an Ingress, DICOM on a LoadBalancer.
    let optional = [
        (
            spec.orthanc_replicas > 1,
            include_str!("../../../assets/orthanc-pdb.yaml"),
        ),
        (
            spec.ingress.is_some(),
            include_str!("../../../assets/orthanc-ingress.yaml"),
        ),
        (
            spec.dicom_service == DicomService::Loadbalancer,
            include_str!("../../../assets/orthanc-dicom.yaml"),
        ),
    ];
    for (wanted, asset) in optional {
        if wanted {
            out.extend(docs(Stage::Orthanc, asset, vars)?);
        }
    }
    for mut m in docs(
        Stage::Orthanc,
        include_str!("../../../assets/orthanc.yaml"),
        vars,
    )? {
        if m.kind() == "ConfigMap" {
            m.stage = Stage::Config;
        }
        out.push(m);
    }
    Ok(out)
}
