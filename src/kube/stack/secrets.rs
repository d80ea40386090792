//! The generated credentials: values go into Secrets only, and are printed only when asked.

/// What `plan` shows in place of a secret value.
pub const REDACTED: &str = "<redacted: korthbox plan --show-secrets prints values>";

#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    pub postgres_password: String,
    pub orthanc_password: String,
    pub minio_password: String,
    /// The keys of the user's own S3 service (`--s3-bucket` without `--s3-secret`), from the
    /// environment; not generated.
    pub s3: Option<S3Keys>,
    /// The password of the user's own PostgreSQL (`--postgres-url`); not generated.
    pub postgres_external: Option<String>,
}

/// An S3 access key, as the AWS tools name its parts.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl S3Keys {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` as `var` gives
    /// them; `None` without the first two.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<S3Keys> {
        Some(S3Keys {
            access_key_id: var("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?,
            session_token: var("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
        })
    }

    pub fn redacted() -> S3Keys {
        S3Keys {
            access_key_id: REDACTED.into(),
            secret_access_key: REDACTED.into(),
            session_token: None,
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { <redacted> }")
    }
}

impl Secrets {
    /// Fresh random passwords: 24 bytes from the operating system's generator, as hex.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self {
            postgres_password: random_hex(24)?,
            orthanc_password: random_hex(24)?,
            minio_password: random_hex(24)?,
            s3: None,
            postgres_external: None,
        })
    }

    pub fn redacted() -> Self {
        Self {
            postgres_password: REDACTED.into(),
            orthanc_password: REDACTED.into(),
            minio_password: REDACTED.into(),
            s3: None,
            postgres_external: None,
        }
    }
}

fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_fresh_hex() {
        let a = super::Secrets::generate().unwrap();
        let b = super::Secrets::generate().unwrap();
        assert_eq!(a.orthanc_password.len(), 48);
        assert!(a.orthanc_password.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.orthanc_password, b.orthanc_password);
    }
}
