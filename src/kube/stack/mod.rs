//! What is deployed into the cluster: the storage layer, PostgreSQL, MinIO and Orthanc, each
//! rendered from its readable YAML under assets/ (embedded at build time) with a small set of
//! substitutions, and tagged with the stage of the apply order it belongs to.
//!
//! Adding a component is one file here and its manifest in assets/.

pub mod images;
pub mod manifest;
mod minio;
mod orthanc;
mod postgres;
pub mod secrets;
pub mod spec;
mod storage;

use serde_json::{Value, json};

pub use images::StackImages;
pub use manifest::{Manifest, Stage};
pub use secrets::{S3Keys, Secrets};
pub use spec::{Choices, StackSpec};
pub use storage::{CLASS as LOCAL_PATH_CLASS, NAMESPACE as LOCAL_PATH_NAMESPACE};

use crate::base::spec::{StorageLayer, VolumeSource};
use crate::base::template::{self, Vars};
use manifest::{docs, labels, selector};

/// What the check of a PostgreSQL of the user's own runs (with `POSTGRES_URI` and `PGPASSWORD`
/// set): exit 3 and why when it cannot connect as Orthanc will, exit 4 and why when the user
/// may not create tables (Orthanc creates its schema at first start).
pub const POSTGRES_CHECK: &str = r#"out=$(psql "$POSTGRES_URI" -v ON_ERROR_STOP=1 -qAtc 'SELECT 1' 2>&1) || { echo "korthbox: cannot connect to PostgreSQL as Orthanc will: $out"; exit 3; }
out=$(psql "$POSTGRES_URI" -v ON_ERROR_STOP=1 -qc 'CREATE TABLE korthbox_check (id integer); DROP TABLE korthbox_check;' 2>&1) || { echo "korthbox: PostgreSQL's user may not create tables, which Orthanc does at its first start: $out"; exit 4; }
echo "korthbox: PostgreSQL answers, and its user may create tables""#;

/// The check Job's name: `postgres-check-` and 8 hex digits of a hash (FNV-1a) of what it
/// checks and the image it runs.
fn check_name(uri: &str, image: &str) -> String {
    let hash = uri
        .bytes()
        .chain([0])
        .chain(image.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("postgres-check-{:08x}", hash as u32)
}

/// Every object of the stack, in apply order.
pub fn render(spec: &StackSpec, secrets: &Secrets) -> Result<Vec<Manifest>, String> {
    spec.check()?;
    let vars = vars(spec, secrets)?;
    let mut out = Vec::new();
    out.extend(docs(
        Stage::Namespace,
        include_str!("../../../assets/namespace.yaml"),
        &vars,
    )?);
    out.extend(storage::render(spec, &vars)?);
    // With a PostgreSQL of the user's own, none is deployed and no password generated for it.
    let own_postgres = spec.external_postgres.as_ref();
    out.extend(
        docs(
            Stage::Secrets,
            include_str!("../../../assets/secrets.yaml"),
            &vars,
        )?
        .into_iter()
        .filter(|m| {
            own_postgres.is_none() || m.object["metadata"]["name"] != "postgres-credentials"
        }),
    );
    match own_postgres {
        None => out.extend(postgres::render(&vars)?),
        Some(pg) => {
            out.extend(docs(
                Stage::Config,
                include_str!("../../../assets/postgres-external.yaml"),
                &vars,
            )?);
            out.extend(docs(
                Stage::Check,
                include_str!("../../../assets/postgres-check.yaml"),
                &vars,
            )?);
            if pg.ca.is_some() {
                out.extend(docs(
                    Stage::Config,
                    include_str!("../../../assets/postgres-ca.yaml"),
                    &vars,
                )?);
            }
        }
    }
    if spec.storage == StorageLayer::Minio {
        out.extend(minio::render(&vars)?);
    }
    if let (Some(own), Some(_)) = (&spec.external_s3, &secrets.s3)
        && own.secret.is_none()
    {
        // Applied like the configuration, not created once: new keys in the environment
        // replace the old ones.
        out.extend(docs(
            Stage::Config,
            include_str!("../../../assets/s3-credentials.yaml"),
            &vars,
        )?);
    }
    out.extend(orthanc::render(spec, &vars)?);
    out.sort_by_key(|m| m.stage);
    Ok(out)
}

/// Orthanc's configuration for `spec`, as the ConfigMap holds it.
pub fn orthanc_config(spec: &StackSpec) -> Result<Value, String> {
    orthanc::config(spec)
}

/// The objects as one multi-document YAML stream.
pub fn to_yaml(manifests: &[Manifest]) -> String {
    manifests
        .iter()
        .map(|m| template::to_yaml(&m.object))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Where Orthanc finds PostgreSQL — the StatefulSet's Service, or the user's own server with
/// its password, CA certificates and the check Job.
fn postgres_vars(
    spec: &StackSpec,
    secrets: &Secrets,
    postgres_image: &str,
) -> Vec<(&'static str, Value)> {
    let pg = spec.external_postgres.as_ref();
    let mut vars = vec![
        (
            "postgres_host",
            json!(pg.map_or("postgres", |p| p.host.as_str())),
        ),
        ("postgres_port", json!(pg.map_or(5432, |p| p.port))),
        (
            "postgres_user",
            json!(pg.map_or("orthanc", |p| p.user.as_str())),
        ),
        (
            "postgres_db",
            json!(pg.map_or("orthanc", |p| p.database.as_str())),
        ),
        ("postgres_ca", json!(pg.and_then(|p| p.ca.clone()))),
        (
            "postgres_external_password",
            json!(secrets.postgres_external),
        ),
        ("postgres_uri", json!(pg.map(|p| p.uri()))),
        ("postgres_check", json!(POSTGRES_CHECK)),
        (
            "postgres_check_name",
            json!(pg.map(|p| check_name(&p.uri(), postgres_image))),
        ),
        (
            "labels_postgres_check",
            labels(spec, "postgres-check", "database-check"),
        ),
    ];
    // The check mounts the CA certificates where the URI says, as Orthanc does.
    let ca = pg.is_some_and(|p| p.ca.is_some());
    let dir = crate::base::spec::ExternalPostgres::CA_PATH.trim_end_matches("/ca.pem");
    let mounts = json!([{"name": "postgres-ca", "mountPath": dir, "readOnly": true}]);
    let volumes = json!([{"name": "postgres-ca", "configMap": {"name": "postgres-ca"}}]);
    vars.extend([
        (
            "postgres_check_mounts",
            if ca { mounts } else { Value::Null },
        ),
        (
            "postgres_check_volumes",
            if ca { volumes } else { Value::Null },
        ),
    ]);
    vars
}

fn vars(spec: &StackSpec, secrets: &Secrets) -> Result<Vars, String> {
    let storage_class = match (&spec.storage_class, &spec.volumes) {
        (Some(class), _) => json!(class),
        (None, VolumeSource::ClusterDefault | VolumeSource::InstallLocalPath { default: true }) => {
            Value::Null
        }
        (
            None,
            VolumeSource::InstallLocalPath { default: false } | VolumeSource::ExistingLocalPath,
        ) => json!(storage::CLASS),
    };
    let images = spec.manifest_images();
    let mut vars = Vars::from([
        ("namespace", json!(spec.namespace)),
        ("labels_namespace", labels(spec, "korthbox", "sandbox")),
        (
            "labels_storage",
            labels(spec, "local-path-provisioner", "storage"),
        ),
        ("selector_storage", selector(spec, "local-path-provisioner")),
        ("labels_postgres", labels(spec, "postgres", "database")),
        ("selector_postgres", selector(spec, "postgres")),
        ("labels_minio", labels(spec, "minio", "object-storage")),
        ("selector_minio", selector(spec, "minio")),
        ("labels_orthanc", labels(spec, "orthanc", "dicom-server")),
        ("selector_orthanc", selector(spec, "orthanc")),
        ("image_orthanc", json!(images.orthanc)),
        ("image_postgres", json!(images.postgres)),
        ("image_minio", json!(images.minio)),
        ("image_local_path", json!(images.local_path)),
        ("image_busybox", json!(images.busybox)),
        ("storage_class", storage_class),
        ("bucket", json!(crate::base::spec::BUCKET)),
        ("postgres_password", json!(secrets.postgres_password)),
        ("orthanc_password", json!(secrets.orthanc_password)),
        ("minio_password", json!(secrets.minio_password)),
        ("s3_secret", json!(spec::S3_SECRET)),
    ]);
    vars.extend(postgres_vars(spec, secrets, &images.postgres));
    if let Some(keys) = &secrets.s3 {
        vars.extend([
            ("s3_access_key_id", json!(keys.access_key_id)),
            ("s3_secret_access_key", json!(keys.secret_access_key)),
            ("s3_session_token", json!(keys.session_token)),
        ]);
    }
    orthanc::add_vars(spec, &mut vars)?;
    Ok(vars)
}
