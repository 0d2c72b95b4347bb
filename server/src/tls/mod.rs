//! HTTPS served by Limen itself: the certificate (given as PEM files, or made on first start and
//! kept in `<data_dir>/tls/`), and the listener that speaks TLS and answers plain HTTP on the same
//! port with a redirect (`listener`).

pub mod listener;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::config::{Config, TlsSetting};

pub use listener::TlsListener;

/// A self-signed certificate is made valid for this long; `limen doctor` warns a month before.
const SELF_SIGNED_DAYS: i64 = 825;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the TLS {what} {path} holds no PEM {what} (expected a \"-----BEGIN …\" block)")]
    Empty { what: &'static str, path: PathBuf },
    #[error("the TLS certificate and key cannot be used together")]
    Mismatch(#[source] rustls::Error),
    #[error("cannot make the self-signed certificate")]
    Generate(#[source] rcgen::Error),
    #[error("cannot write the self-signed certificate into {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The certificate Limen serves, ready for the listener.
pub struct Certificate {
    pub server_config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate, as browsers show it (`AB:CD:…`).
    pub fingerprint: String,
    pub cert_path: PathBuf,
    /// Made by Limen (rather than given).
    pub self_signed: bool,
}

/// Where a self-signed certificate and its key live.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The certificate files the configuration names (made for `self-signed`), None for plain HTTP.
pub fn certificate_paths(config: &Config) -> Option<(PathBuf, PathBuf)> {
    match &config.tls {
        TlsSetting::Off => None,
        TlsSetting::SelfSigned => Some(self_signed_paths(&config.data_dir)),
        TlsSetting::Files { cert, key } => Some((cert.clone(), key.clone())),
    }
}

/// Loads the configured certificate, making the self-signed one first if it is missing or
/// expired. None: plain HTTP.
pub fn load(config: &Config) -> Result<Option<Certificate>, TlsError> {
    let Some((cert_path, key_path)) = certificate_paths(config) else {
        return Ok(None);
    };
    let self_signed = config.tls == TlsSetting::SelfSigned;
    if self_signed && !usable_self_signed(&cert_path) {
        generate(config, &cert_path, &key_path)?;
    }
    let chain = read_chain(&cert_path)?;
    let key = read_key(&key_path)?;
    let fingerprint = fingerprint(&chain[0]);
    let mut server_config = server_config(chain, key)?;
    // HTTP/2 first: one connection carries every event stream and page of a browser's tabs
    // (HTTP/1.1 allows six per host, which a few open VM pages use up).
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Certificate {
        server_config: Arc::new(server_config),
        fingerprint,
        cert_path,
        self_signed,
    }))
}

pub fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        what: "certificate",
        path: path.into(),
        source,
    })?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::Empty {
            what: "certificate",
            path: path.into(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        what: "key",
        path: path.into(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::Empty {
        what: "key",
        path: path.into(),
    })
}

/// Checks a certificate and key as `load` would use them: the fingerprint and the end of the
/// leaf certificate's validity.
pub fn inspect(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(String, chrono::DateTime<chrono::Utc>), TlsError> {
    let chain = read_chain(cert_path)?;
    let key = read_key(key_path)?;
    let (_, until) = validity(&chain[0]).ok_or_else(|| TlsError::Empty {
        what: "certificate",
        path: cert_path.into(),
    })?;
    let fingerprint = fingerprint(&chain[0]);
    server_config(chain, key)?;
    Ok((fingerprint, until))
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Mismatch)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Mismatch)
}

/// The SHA-256 fingerprint of a certificate, colon-separated upper-case hex.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether the self-signed certificate on disk can be served another day (exists, parses, and
/// has not expired); otherwise a new one is made.
fn usable_self_signed(cert_path: &Path) -> bool {
    read_chain(cert_path)
        .ok()
        .and_then(|chain| validity(&chain[0]))
        .is_some_and(|(_, not_after)| not_after > chrono::Utc::now())
}

/// A certificate's validity period.
pub fn validity(
    cert: &CertificateDer<'_>,
) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let from = chrono::DateTime::from_timestamp(parsed.validity().not_before.timestamp(), 0)?;
    let until = chrono::DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)?;
    Some((from, until))
}

/// Makes a self-signed certificate for the names browsers may use: `localhost`, the host's name,
/// the listen address, and the public URL's host.
fn generate(config: &Config, cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Some(host) = host_name() {
        names.push(host);
    }
    if !config.listen.ip().is_unspecified() {
        names.push(config.listen.ip().to_string());
    }
    if let Some(url) = &config.public_url {
        let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority, |(host, _)| host);
        names.push(host.trim_matches(['[', ']']).to_string());
    }
    names.dedup();
    let mut params = rcgen::CertificateParams::new(names).map_err(TlsError::Generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Limen (self-signed)");
    let now = time_now();
    params.not_before = now - std::time::Duration::from_secs(3_600);
    params.not_after = now + std::time::Duration::from_secs(SELF_SIGNED_DAYS as u64 * 86_400);
    let key = rcgen::KeyPair::generate().map_err(TlsError::Generate)?;
    let cert = params.self_signed(&key).map_err(TlsError::Generate)?;
    let dir = cert_path.parent().unwrap_or(Path::new("."));
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), TlsError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let error = |source| TlsError::Write {
            path: dir.into(),
            source,
        };
        // Written beside and renamed: a crash never leaves half a key.
        let partial = path.with_extension("partial");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&partial)
            .map_err(error)?;
        file.write_all(text.as_bytes()).map_err(error)?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&partial, path).map_err(error)
    };
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| TlsError::Write {
                path: dir.into(),
                source,
            })?;
    }
    write(key_path, &key.serialize_pem(), 0o600)?;
    write(cert_path, &cert.pem(), 0o644)?;
    tracing::info!(path = %cert_path.display(), "made a self-signed TLS certificate");
    Ok(())
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(chrono::Utc::now().timestamp())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}
