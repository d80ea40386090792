//! The generated credentials: values go into Secrets only, and are printed only when asked.

/// What `plan` shows in place of a secret value.
pub const REDACTED: &str = "<redacted: korthbox plan --show-secrets prints values>";

#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    pub postgres_password: String,
    pub orthanc_password: String,
    pub minio_password: String,
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
        })
    }

    pub fn redacted() -> Self {
        Self {
            postgres_password: REDACTED.into(),
            orthanc_password: REDACTED.into(),
            minio_password: REDACTED.into(),
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
