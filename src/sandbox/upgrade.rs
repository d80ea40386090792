//! What applying the stack changes in a sandbox that is already there, read from the sandbox
//! itself — the images its PostgreSQL StatefulSet and Orthanc Deployment run — not from
//! korthbox's memory. Newer releases of the same PostgreSQL major version, and newer Orthanc
//! images, roll forward and are said. A PostgreSQL of another major version (it refuses to
//! start on a data directory of another major version) and an older Orthanc than the one
//! running (the PostgreSQL plugin upgrades Orthanc's schema on its first start, with no way
//! back) are refused before anything is written.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodSpec;
use kube::Client;
use kube::api::Api;
use serde::Serialize;

use crate::base::error::Error;
use crate::kube::stack::images::ImageRef;

/// The images a sandbox's components run now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Running {
    pub postgres: Option<String>,
    pub orthanc: Option<String>,
}

/// The image of container `name` in a pod template.
fn image_of(spec: Option<&PodSpec>, name: &str) -> Option<String> {
    spec?
        .containers
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.image.clone())
}

/// Reads what the sandbox in `namespace` runs (nothing, for a new sandbox).
pub async fn running(client: &Client, namespace: &str) -> Result<Running, Error> {
    let failed = |what: &str, e: kube::Error| {
        Error::failure(format!("could not read {what} in namespace {namespace}")).because(e)
    };
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let postgres = statefulsets
        .get_opt("postgres")
        .await
        .map_err(|e| failed("StatefulSet postgres", e))?;
    let orthanc = deployments
        .get_opt("orthanc")
        .await
        .map_err(|e| failed("Deployment orthanc", e))?;
    Ok(Running {
        postgres: postgres.and_then(|s| image_of(s.spec?.template.spec.as_ref(), "postgres")),
        orthanc: orthanc.and_then(|d| image_of(d.spec?.template.spec.as_ref(), "orthanc")),
    })
}

/// The leading dotted numbers of an image's tag: `17.11-bookworm` → [17, 11], `26.8.1` →
/// [26, 8, 1]; `None` for a tag that does not start with a version.
fn version(image: &str) -> Option<Vec<u64>> {
    let tag = ImageRef::parse(image).tag?;
    let numbers: Vec<u64> = tag
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?
        .split('.')
        .map_while(|n| n.parse().ok())
        .collect();
    (!numbers.is_empty()).then_some(numbers)
}

fn dotted(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// What applying `postgres` and `orthanc` to a sandbox running `running` does, in words
/// (`PostgreSQL 17.6 → 17.11`); `Err` when it must not: a PostgreSQL of another major version,
/// or an Orthanc older than the one running. Images whose tags name no version (your own
/// builds) are compared by nothing but their names, and said when they change.
pub fn changes(running: &Running, postgres: &str, orthanc: &str) -> Result<Vec<String>, Error> {
    let mut said = Vec::new();
    if let Some(now) = &running.postgres
        && now != postgres
    {
        match (version(now), version(postgres)) {
            (Some(a), Some(b)) if a[0] != b[0] => {
                return Err(Error::failure(format!(
                    "the sandbox's PostgreSQL is version {} ({now}); this korthbox runs {} ({postgres}), and PostgreSQL does not start on a data directory of another major version; nothing was changed",
                    a[0], dotted(&b)
                ))
                .hint(format!(
                    "keep the sandbox's PostgreSQL: add --postgres-image {now} (or postgres-image in korthbox.toml)"
                ))
                .hint("or move the studies to a new sandbox: `korthbox up --name NEW`, then send them there (Orthanc's REST API, or `korthbox upload` of an export)"));
            }
            (Some(a), Some(b)) => said.push(format!("PostgreSQL {} → {}", dotted(&a), dotted(&b))),
            _ => said.push(format!("PostgreSQL image {now} → {postgres}")),
        }
    }
    if let Some(now) = &running.orthanc
        && now != orthanc
    {
        match (version(now), version(orthanc)) {
            (Some(a), Some(b)) if b < a => {
                return Err(Error::failure(format!(
                    "the sandbox runs Orthanc image {} ({now}); this korthbox's is older, {} ({orthanc}): its PostgreSQL plugin may not read the database schema the newer one upgraded; nothing was changed",
                    dotted(&a),
                    dotted(&b)
                ))
                .hint(format!(
                    "keep the sandbox's Orthanc: add --orthanc-image {now}; or use the korthbox that made the sandbox"
                )));
            }
            (Some(a), Some(b)) if a != b => said.push(format!(
                "Orthanc image {} → {} (Orthanc upgrades its database schema on its first start)",
                dotted(&a),
                dotted(&b)
            )),
            _ => said.push(format!("Orthanc image {now} → {orthanc}")),
        }
    }
    Ok(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(postgres: &str, orthanc: &str) -> Running {
        Running {
            postgres: Some(postgres.into()),
            orthanc: Some(orthanc.into()),
        }
    }

    #[test]
    fn minor_upgrades_roll_forward_and_majors_and_downgrades_are_refused() {
        let new_pg = "docker.io/library/postgres:17.11-bookworm@sha256:00";
        let new_or = "docker.io/orthancteam/orthanc:26.8.1";
        let said = changes(
            &running(
                "docker.io/library/postgres:17.6-bookworm",
                "docker.io/orthancteam/orthanc:26.6.0",
            ),
            new_pg,
            new_or,
        )
        .unwrap();
        assert_eq!(said[0], "PostgreSQL 17.6 → 17.11");
        assert!(
            said[1].starts_with("Orthanc image 26.6.0 → 26.8.1"),
            "{said:?}"
        );
        let err = changes(&running("postgres:16.4", new_or), new_pg, new_or).unwrap_err();
        assert!(
            err.message.contains("PostgreSQL is version 16"),
            "{}",
            err.message
        );
        let err = changes(
            &running(new_pg, "orthancteam/orthanc:26.9.0"),
            new_pg,
            new_or,
        );
        assert!(err.unwrap_err().message.contains("older, 26.8.1"));
        assert!(
            changes(&Running::default(), new_pg, new_or)
                .unwrap()
                .is_empty()
        );
    }
}
