//! MinIO object storage and its bucket, for `--storage minio`.

use super::manifest::{Manifest, Stage, docs};
use crate::template::Vars;

pub fn render(vars: &Vars) -> Result<Vec<Manifest>, String> {
    let mut out = docs(
        Stage::Secrets,
        include_str!("../../assets/minio-secret.yaml"),
        vars,
    )?;
    for mut m in docs(Stage::Minio, include_str!("../../assets/minio.yaml"), vars)? {
        if m.kind() == "Job" {
            m.stage = Stage::Bucket;
        }
        out.push(m);
    }
    Ok(out)
}
