//! The certificates HTTPS servers are checked against: the system's store, plus what
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` name. A leaf of `host`: the HTTP client and the proxy
//! tunnels both build their TLS from it.

use crate::base::error::Error;

/// The fix for a certificate this machine does not trust: a network that re-signs TLS with a
/// private authority needs that authority's certificate.
pub const HINT: &str = "if your network re-signs HTTPS with a private certificate authority, point SSL_CERT_FILE at a PEM file that holds it (or install it in the system's store)";

/// Where systems keep their bundle of trusted certificates as one PEM file (Debian and
/// Ubuntu, Fedora and RHEL, openSUSE, Alpine and macOS's OpenSSL).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// What HTTPS servers are checked against: the system's store, plus the certificates
/// `SSL_CERT_FILE` and `SSL_CERT_DIR` name when set (rustls-native-certs reads those *instead*
/// of the system's store, so the system's bundle file is added back). Built once.
pub fn config() -> Result<rustls::ClientConfig, Error> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    check_named(&crate::base::env::Env::from_process())?;
    CONFIG
        .get_or_init(build)
        .clone()
        .map_err(|e| {
            Error::failure("this system has no CA certificates to check HTTPS servers against")
                .caused_by(e)
                .hint("install them (`sudo apt-get install ca-certificates` on Debian and Ubuntu), or point SSL_CERT_FILE at a PEM bundle")
        })
}

/// A misspelt or unreadable `SSL_CERT_FILE` or `SSL_CERT_DIR` is an error that names it —
/// not a certificate that is untrusted later for no visible reason.
fn check_named(env: &crate::base::env::Env) -> Result<(), Error> {
    for (name, dir) in [
        (crate::base::env::SSL_CERT_FILE, false),
        (crate::base::env::SSL_CERT_DIR, true),
    ] {
        let Some(value) = env.var(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        // SSL_CERT_DIR may list several folders, as OpenSSL reads it.
        let paths: Vec<std::path::PathBuf> = match dir {
            true => std::env::split_paths(value).collect(),
            false => vec![value.into()],
        };
        for path in paths {
            let readable = match dir {
                true => std::fs::read_dir(&path).map(|_| ()),
                false => std::fs::File::open(&path).map(|_| ()),
            };
            if let Err(e) = readable {
                return Err(Error::usage(format!(
                    "{name} names {}, which cannot be read",
                    path.display()
                ))
                .because(e)
                .hint(format!(
                    "point {name} at the {} that holds your network's CA certificates, or unset it",
                    if dir { "folder" } else { "PEM file" }
                )));
            }
        }
    }
    Ok(())
}

fn build() -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let env = crate::base::env::Env::from_process();
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    let chosen = [
        crate::base::env::SSL_CERT_FILE,
        crate::base::env::SSL_CERT_DIR,
    ]
    .iter()
    .any(|v| env.var(v).is_some());
    if chosen {
        let system = SYSTEM_BUNDLES
            .iter()
            .map(|p| env.host_path(p))
            .find(|p| p.is_file());
        if let Some(certs) = system.and_then(|p| CertificateDer::pem_file_iter(p).ok()) {
            for cert in certs.flatten() {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(format!("none found ({:?})", native.errors));
    }
    rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}
