//! MinIO object storage, for `--storage minio`. Its bucket is made through the S3 API once
//! MinIO is ready (`sandbox::steps::apply_stack`), not by a Job.

use super::manifest::{Manifest, Stage, docs};
use crate::base::template::Vars;

pub fn render(vars: &Vars) -> Result<Vec<Manifest>, String> {
    let mut out = docs(
        Stage::Secrets,
        include_str!("../../../assets/minio-secret.yaml"),
        vars,
    )?;
    out.extend(docs(
        Stage::Minio,
        include_str!("../../../assets/minio.yaml"),
        vars,
    )?);
    Ok(out)
}
