//! TLS terminated by `serve` itself: rustls (with the ring provider), a certificate chain and its
//! private key read from PEM files, and read again when the files change, so that a renewed
//! certificate (certbot, an internal CA's agent) is served without a restart.
//!
//! The files are polled every [`CERTIFICATE_POLL_INTERVAL`]: their bytes are compared with those
//! last loaded (not their times, which a copy may keep). A change that does not load (half
//! written, a key that does not match its certificate) keeps the certificate in use and is
//! logged; the next change is tried again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// How often the certificate and key files are compared with those in use. A renewal is served
/// within this; reading two small files this often costs nothing.
pub const CERTIFICATE_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Longest a client may take to complete the TLS handshake, from its connection being accepted:
/// a handshake is two round trips; a client that opens connections and never finishes one would
/// otherwise hold them (the header-read timeout starts only after it).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the certificate chain and its key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server's certificate first, then the intermediates.
    pub certificate: PathBuf,
    /// PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key of the certificate.
    pub key: PathBuf,
}

/// Why the certificate and key could not be used, naming the file.
#[derive(Debug)]
pub struct TlsError(String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// The bytes of both files, as last read.
type FileBytes = (Vec<u8>, Vec<u8>);

/// The certificate in use, swapped when the files change.
#[derive(Debug)]
struct Reloading {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// What the files held when last tried (loaded or not): a change is a difference from this.
    last_read: Mutex<FileBytes>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }
}

/// The TLS side of a listener: its acceptor and the certificate it reloads.
#[derive(Clone)]
pub struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    reloading: Arc<Reloading>,
    poll_interval: Duration,
}

impl Tls {
    /// Loads the certificate and key, or says what is wrong with them.
    pub fn from_files(files: TlsFiles) -> Result<Tls, TlsError> {
        let bytes = read_both(&files)?;
        let key = certified_key(&files, &bytes)?;
        let reloading = Arc::new(Reloading {
            files,
            current: RwLock::new(Arc::new(key)),
            last_read: Mutex::new(bytes),
        });
        let provider = Arc::new(ring_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError(format!("TLS cannot be set up: {error} / 无法启用 TLS")))?
            .with_no_client_auth()
            .with_cert_resolver(reloading.clone());
        // HTTP/1.1 only, as `serve` speaks (see `connections`).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            reloading,
            poll_interval: CERTIFICATE_POLL_INTERVAL,
        })
    }

    /// Polls the files this often instead of [`CERTIFICATE_POLL_INTERVAL`] (tests).
    pub fn with_poll_interval(mut self, every: Duration) -> Tls {
        self.poll_interval = every;
        self
    }

    /// Reads the files and, if they changed since last read, loads them: `Ok(true)` when a new
    /// certificate is now in use, `Ok(false)` when nothing changed, `Err` when the change does not
    /// load (the certificate in use stays).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let files = &self.reloading.files;
        let bytes = read_both(files)?;
        {
            let mut last_read = self
                .reloading
                .last_read
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if *last_read == bytes {
                return Ok(false);
            }
            // Tried once per change: a broken file is reported once, not every poll.
            *last_read = bytes.clone();
        }
        let key = certified_key(files, &bytes)?;
        *self
            .reloading
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(key);
        Ok(true)
    }

    /// Polls the files for ever, logging each reload and each failed one.
    pub(crate) async fn watch(self) {
        let mut ticks = tokio::time::interval(self.poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let tls = self.clone();
            // Reading files is blocking I/O: off the request workers.
            match tokio::task::spawn_blocking(move || tls.reload_if_changed()).await {
                Ok(Ok(true)) => tracing::info!(
                    certificate = %self.reloading.files.certificate.display(),
                    "TLS certificate reloaded"
                ),
                Ok(Ok(false)) => {}
                Ok(Err(error)) => tracing::warn!(
                    %error,
                    "the changed TLS certificate or key could not be loaded; the previous one is still served"
                ),
                Err(error) => tracing::warn!(%error, "the TLS reload task failed"),
            }
        }
    }
}

/// The ring provider: deprecated by rustls 0.23.48 only for lacking post-quantum key exchange,
/// which aws-lc-rs has but which would need a C and cmake build of a crypto library. TLS 1.3 with
/// X25519 and P-256 remains what browsers and curl negotiate by default.
#[allow(deprecated)]
pub fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn read_both(files: &TlsFiles) -> Result<FileBytes, TlsError> {
    Ok((
        read(&files.certificate, "certificate", "证书")?,
        read(&files.key, "key", "私钥")?,
    ))
}

fn read(path: &Path, what: &str, what_zh: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| {
        TlsError(format!(
            "the TLS {what} file {} cannot be read: {error} / 无法读取 TLS {what_zh}文件 {}",
            path.display(),
            path.display()
        ))
    })
}

fn certified_key(
    files: &TlsFiles,
    (certificate, key): &FileBytes,
) -> Result<CertifiedKey, TlsError> {
    let (cert_path, key_path) = (files.certificate.display(), files.key.display());
    let chain = CertificateDer::pem_slice_iter(certificate)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            TlsError(format!(
                "the TLS certificate file {cert_path} is not PEM certificates: {error} / \
                 TLS 证书文件 {cert_path} 不是 PEM 格式的证书"
            ))
        })?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "the TLS certificate file {cert_path} holds no certificate (-----BEGIN CERTIFICATE-----) \
             / TLS 证书文件 {cert_path} 中没有证书"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|error| {
        TlsError(format!(
            "the TLS key file {key_path} holds no private key in PEM: {error} / \
             TLS 私钥文件 {key_path} 中没有 PEM 格式的私钥"
        ))
    })?;
    let provider = ring_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|error| {
        TlsError(format!(
            "the TLS key {key_path} cannot be used with the certificate {cert_path}: {error} / \
             TLS 私钥 {key_path} 与证书 {cert_path} 不匹配或不受支持"
        ))
    })?;
    Ok(certified)
}
