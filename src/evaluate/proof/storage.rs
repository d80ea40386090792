//! Where the sandbox's DICOM files land, asked of the backend itself rather than of Orthanc:
//! the files on Orthanc's volume (exec in the Orthanc pod), the rows of PostgreSQL's
//! `storagearea` table (exec `psql` in the PostgreSQL pod), or the objects in MinIO's bucket
//! (the S3 API through a port-forward).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::host::s3::S3;
use crate::kube::pod::{self, Tunnel};

/// A command run in a container of whichever pod of a component is Ready (the pod found
/// once, for the few commands of one proof).
pub struct Exec {
    pub pods: Api<Pod>,
    pub selector: String,
    pub container: String,
    pub timeout: Duration,
    pub pod: tokio::sync::OnceCell<String>,
}

impl Exec {
    async fn run(&self, argv: &[&str]) -> Result<String, String> {
        let pod = self
            .pod
            .get_or_try_init(|| pod::ready(&self.pods, &self.selector))
            .await?;
        pod::exec(&self.pods, pod, &self.container, argv, self.timeout).await
    }
}

/// The backend of one storage mode.
pub enum Backend {
    /// `pv`: files under Orthanc's StorageDirectory, in `aa/bb/<uuid>`.
    Volume { exec: Exec, dir: String },
    /// `postgres`: rows of the `storagearea` table (EnableStorage).
    Database { exec: Exec },
    /// `s3`: objects in MinIO's bucket, named after the attachment's uuid.
    Bucket { s3: S3, _tunnel: Option<Tunnel> },
}

/// Attachment uuids are Orthanc's own (hex and dashes); anything else is not put into a
/// command line or SQL.
fn checked(uuids: &[String]) -> Result<(), String> {
    match uuids
        .iter()
        .find(|u| u.len() < 4 || !u.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
    {
        Some(bad) => Err(format!(
            "Orthanc gave an attachment id that is not a uuid: {bad:?}"
        )),
        None => Ok(()),
    }
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{what} answered {:?}, not a number", text.trim()))
}

/// `psql` in the PostgreSQL container, as the database's owner, on its own socket.
const PSQL: &str = r#"psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d orthanc -tAc "$0""#;

impl Backend {
    /// Where the files are, in words.
    pub fn describe(&self) -> String {
        match self {
            Backend::Volume { dir, .. } => format!("Orthanc's volume ({dir})"),
            Backend::Database { .. } => "PostgreSQL's storagearea table".into(),
            Backend::Bucket {
                s3,
                _tunnel: Some(_),
            } => format!("MinIO bucket {}", s3.bucket()),
            Backend::Bucket { s3, _tunnel: None } => format!("S3 bucket {}", s3.bucket()),
        }
    }

    /// What the count counts.
    pub fn unit(&self) -> &'static str {
        match self {
            Backend::Volume { .. } => "files",
            Backend::Database { .. } => "rows",
            Backend::Bucket { .. } => "objects",
        }
    }

    /// How many files, rows or objects there are.
    pub async fn count(&self) -> Result<u64, String> {
        match self {
            Backend::Volume { exec, dir } => {
                let out = exec
                    .run(&["sh", "-c", r#"find "$0" -type f | wc -l"#, dir])
                    .await?;
                number(&out, "counting the files on Orthanc's volume")
            }
            Backend::Database { exec } => {
                let sql = "SELECT count(*) FROM storagearea";
                let out = exec.run(&["sh", "-c", PSQL, sql]).await?;
                number(&out, "counting storagearea's rows")
            }
            Backend::Bucket { s3, .. } => Ok(s3.keys().await?.len() as u64),
        }
    }

    /// For each attachment uuid, where the backend has it ("" when it does not).
    pub async fn find(&self, uuids: &[String]) -> Result<Vec<String>, String> {
        checked(uuids)?;
        let found: Vec<String> = match self {
            Backend::Volume { exec, dir } => {
                let paths: Vec<String> = uuids
                    .iter()
                    .map(|u| format!("{dir}/{}/{}/{u}", &u[..2], &u[2..4]))
                    .collect();
                let mut argv = vec![
                    "sh",
                    "-c",
                    r#"for f; do [ -f "$f" ] && stat -c '%s %n' "$f"; done; true"#,
                    "sh",
                ];
                argv.extend(paths.iter().map(String::as_str));
                let out = exec.run(&argv).await?;
                out.lines()
                    .filter_map(|l| l.split_once(' '))
                    .map(|(size, path)| format!("{path} ({size} bytes)"))
                    .collect()
            }
            Backend::Database { exec } => {
                let list = uuids
                    .iter()
                    .map(|u| format!("'{u}'"))
                    .collect::<Vec<_>>()
                    .join(",");
                let sql = format!("SELECT uuid FROM storagearea WHERE uuid IN ({list})");
                let out = exec.run(&["sh", "-c", PSQL, &sql]).await?;
                out.lines().map(|l| format!("row {}", l.trim())).collect()
            }
            Backend::Bucket { s3, .. } => s3
                .keys()
                .await?
                .into_iter()
                .filter(|k| uuids.iter().any(|u| k.contains(u.as_str())))
                .map(|k| format!("object {k}"))
                .collect(),
        };
        Ok(uuids
            .iter()
            .map(|u| {
                found
                    .iter()
                    .find(|f| f.contains(u.as_str()))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::checked;

    #[test]
    fn only_uuids_reach_a_command_line() {
        assert!(checked(&["3a1f0c2e-5a7d-4a0b-9a61-0f0d0c0b0a09".into()]).is_ok());
        assert!(checked(&["x'; DROP TABLE storagearea; --".into()]).is_err());
        assert!(checked(&[String::new()]).is_err());
    }
}
