//! The console's TLS identity: a certificate and key it made itself at the
//! first start (kept in its data folder, readable by the user only) or a
//! clinic's own, and the SHA-256 fingerprint headsets pin.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// What the console serves TLS with.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The server configuration: this certificate chain, HTTP/1.1 only.
    pub server: Arc<rustls::ServerConfig>,
    /// SHA-256 of the certificate (DER), as colon-separated upper-case hex
    /// pairs, the way browsers show it.
    pub fingerprint: String,
    /// Where the certificate is.
    pub cert: PathBuf,
}

/// Why the console has no identity.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: {what}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The certificate could not be made.
    #[error("making a certificate: {0}")]
    Generate(String),
}

/// SHA-256 of `der` as `AB:CD:…` (32 pairs).
pub fn fingerprint(der: &[u8]) -> String {
    protocol::fingerprint_text(&Sha256::digest(der))
}

/// The identity in `<data>/tls/`, made there at the first call: a
/// self-signed certificate for `names` (host names and addresses the
/// console answers to; `localhost` and `127.0.0.1` are always added).
pub fn load_or_create(data: &Path, names: &[String]) -> Result<Identity, TlsError> {
    let dir = data.join("tls");
    let (cert, key) = (dir.join("console.crt"), dir.join("console.key"));
    if !cert.exists() || !key.exists() {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TlsError::Io { path, source }
        };
        crate::table::create_private_dir(&dir).map_err(io(&dir))?;
        let mut all: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
        all.extend(names.iter().filter(|n| !n.is_empty()).cloned());
        all.dedup();
        let made = rcgen::generate_simple_self_signed(all).map_err(|e| TlsError::Generate(e.to_string()))?;
        // The key first: a certificate without its key would be reused and fail.
        crate::table::write_private(&key, made.signing_key.serialize_pem().as_bytes()).map_err(io(&key))?;
        crate::table::write_private(&cert, made.cert.pem().as_bytes()).map_err(io(&cert))?;
    }
    from_files(&cert, &key)
}

/// The identity in a certificate chain (PEM, leaf first) and its key (PEM).
pub fn from_files(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
    let read = |path: &Path| std::fs::read(path).map_err(|source| TlsError::Io { path: path.into(), source });
    let invalid = |path: &Path, what: String| TlsError::Invalid { path: path.into(), what };
    let cert_pem = read(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, format!("not a PEM certificate: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(invalid(cert, "no certificate in it".into()));
    };
    let fingerprint = fingerprint(leaf);
    let key_der =
        PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| invalid(key, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| invalid(key, format!("does not go with the certificate: {e}")))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity { server: Arc::new(server), fingerprint, cert: cert.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused_readable_by_the_user_only() {
        let dir = std::env::temp_dir().join(format!("trinvis-tls-{}", crate::new_token()));
        let first = load_or_create(&dir, &["clinic-laptop".into()]).unwrap();
        let again = load_or_create(&dir, &[]).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("tls/console.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
        }
        std::fs::write(dir.join("tls/console.key"), "not a key").unwrap();
        let error = load_or_create(&dir, &[]).unwrap_err().to_string();
        assert!(error.contains("console.key") && error.contains("not a PEM private key"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
