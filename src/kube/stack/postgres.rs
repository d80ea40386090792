//! PostgreSQL: a StatefulSet from the official image, its volume from volumeClaimTemplates.

use super::manifest::{Manifest, Stage, docs};
use crate::base::template::Vars;

pub fn render(vars: &Vars) -> Result<Vec<Manifest>, String> {
    docs(
        Stage::Postgres,
        include_str!("../../../assets/postgres.yaml"),
        vars,
    )
}
