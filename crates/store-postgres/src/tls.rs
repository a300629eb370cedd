//! TLS from the instances to PostgreSQL, by rustls (the ring provider: no C or C++ build of a
//! crypto library), with libpq's `sslmode` and `sslrootcert` read from the database URL.
//!
//! tokio-postgres itself knows `sslmode` disable, prefer and require only, and no `sslrootcert`:
//! [`parse_database_url`] takes both out of the URL, hands tokio-postgres the rest (`require`
//! for the two verifying modes, so that a server without TLS is refused) and keeps what must be
//! verified in [`PostgresTls`], the connector every connection of the store uses.
//!
//! | sslmode | encrypted | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | not read |
//! | `prefer` (also when the URL says none, as libpq) | if the server offers TLS | not verified |
//! | `require` | always, or no connection | not verified, unless `sslrootcert` is given: then as `verify-ca` (as libpq) |
//! | `verify-ca` | always | signed by the CA of `sslrootcert` |
//! | `verify-full` | always | signed by that CA and naming the host the URL connects to |
//!
//! Only `verify-full` stops a machine in the middle that holds any certificate of its own:
//! production uses it (docs/operations.md, "TLS to PostgreSQL").

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

/// libpq's `sslmode` values this store understands (`allow` is not one: it only ever falls back
/// to plain text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }
}

/// The TLS connector of a store's connections: what to verify, and rustls's configuration.
#[derive(Clone)]
pub struct PostgresTls {
    mode: SslMode,
    /// What is verified of the server's certificate, said in errors.
    verifies: Verifies,
    config: Arc<ClientConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verifies {
    Nothing,
    Chain,
    ChainAndName,
}

impl std::fmt::Debug for PostgresTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTls")
            .field("mode", &self.mode)
            .field("verifies", &self.verifies)
            .finish()
    }
}

/// A PostgreSQL URL (`postgres://...`, or a `key=value` string) split into what tokio-postgres
/// reads and the TLS connector. Errors name the setting, never the URL (it may hold a password).
pub fn parse_database_url(text: &str) -> Result<(tokio_postgres::Config, PostgresTls), String> {
    let (rest, mode, root) = take_tls_settings(text)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|err| format!("is not a PostgreSQL connection string ({err})"))?;
    let mode = mode.unwrap_or(SslMode::Prefer);
    config.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    Ok((config, PostgresTls::new(mode, root.as_deref())?))
}

impl PostgresTls {
    /// The connector for `mode`, verifying against the CA certificates of the PEM file `root`.
    pub fn new(mode: SslMode, root: Option<&str>) -> Result<PostgresTls, String> {
        let provider = Arc::new(ring_provider());
        let roots = match root {
            Some(path) => Some(read_roots(path)?),
            None => None,
        };
        let verifies = match (mode, &roots) {
            (SslMode::VerifyFull, Some(_)) => Verifies::ChainAndName,
            (SslMode::VerifyCa | SslMode::Require, Some(_)) => Verifies::Chain,
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                return Err(format!(
                    "sslmode={} needs sslrootcert=FILE (the PEM file of the CA that signed \
                     PostgreSQL's certificate)",
                    mode.name()
                ));
            }
            _ => Verifies::Nothing,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            Some(roots) if verifies != Verifies::Nothing => {
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|err| format!("sslrootcert: {err}"))?;
                if verifies == Verifies::ChainAndName {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
            _ => Arc::new(Unverified(provider.clone())),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| format!("TLS: {err}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(PostgresTls {
            mode,
            verifies,
            config: Arc::new(config),
        })
    }

    /// The connector for a configuration parsed without [`parse_database_url`]: its
    /// `sslmode` (disable, prefer or require), nothing verified.
    pub fn unverified(config: &tokio_postgres::Config) -> PostgresTls {
        let mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        PostgresTls::new(mode, None).expect("a mode that reads no file builds")
    }

    pub fn mode(&self) -> SslMode {
        self.mode
    }
}

/// The ring provider: deprecated by rustls 0.23.48 only for lacking post-quantum key exchange,
/// which aws-lc-rs has but which would need a C and cmake build of a crypto library (as
/// `http_api::tls::ring_provider`, which this crate does not depend on).
#[allow(deprecated)]
fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a `key=value` string.
fn take_tls_settings(text: &str) -> Result<(String, Option<SslMode>, Option<String>), String> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: String| -> Result<bool, String> {
        match key {
            "sslmode" => {
                mode = Some(SslMode::parse(&value)?);
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(value);
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        match text.split_once('?') {
            None => text.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(key, percent_decoded(value)?)? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for pair in text.split_whitespace() {
            let taken = match pair.split_once('=') {
                Some((key, value)) => take(key.trim(), value.trim_matches('\'').to_owned())?,
                None => false,
            };
            if !taken {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

fn percent_decoded(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a % in the URL's query is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's query is not UTF-8 once decoded".to_owned())
}

fn read_roots(path: &str) -> Result<RootCertStore, String> {
    let pem =
        std::fs::read(path).map_err(|err| format!("sslrootcert {path} cannot be read: {err}"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|err| format!("sslrootcert {path}: {err}"))?;
        roots
            .add(cert)
            .map_err(|err| format!("sslrootcert {path}: a certificate is not usable: {err}"))?;
    }
    if roots.is_empty() {
        return Err(format!("sslrootcert {path} holds no PEM certificate"));
    }
    Ok(roots)
}

/// `require` or `prefer` without a CA: the session is encrypted, the peer not authenticated
/// (a machine in the middle could hold any certificate), as libpq. The handshake's signature is
/// still checked, so the server holds the key of the certificate it sent.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain up to the CA is verified, the host name is not (WebPKI checks the
/// name last, so a name error means the chain verified).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A TLS failure, said with the host and what was being verified.
#[derive(Debug)]
pub struct TlsError(String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl<S> MakeTlsConnect<S> for PostgresTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, TlsError> {
        let name = match ServerName::try_from(domain.to_owned()) {
            Ok(name) => name,
            // A Unix socket (no host name): nothing to check the name against, and PostgreSQL
            // offers no TLS there; a mode that verifies the name cannot go on.
            Err(_) if self.verifies != Verifies::ChainAndName => {
                ServerName::try_from("localhost").expect("a valid name")
            }
            Err(err) => {
                return Err(TlsError(format!(
                    "sslmode=verify-full needs a host name or address to verify PostgreSQL's \
                     certificate against; {domain:?} is not one ({err})"
                )));
            }
        };
        Ok(RustlsConnect {
            host: domain.to_owned(),
            name,
            mode: self.mode,
            verifies: self.verifies,
            config: self.config.clone(),
        })
    }
}

pub struct RustlsConnect {
    host: String,
    name: ServerName<'static>,
    mode: SslMode,
    verifies: Verifies,
    config: Arc<ClientConfig>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream<S>, TlsError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        Box::pin(async move {
            connector
                .connect(self.name, stream)
                .await
                .map(RustlsStream)
                .map_err(|err| {
                    TlsError(handshake_failure(
                        &self.host,
                        self.mode,
                        self.verifies,
                        &err,
                    ))
                })
        })
    }
}

/// What went wrong in the handshake, in words an operator acts on.
fn handshake_failure(host: &str, mode: SslMode, verifies: Verifies, err: &io::Error) -> String {
    let mode = mode.name();
    let tls = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => format!(
            "PostgreSQL's certificate does not name the host {host} (sslmode={mode} checks that \
             the certificate names the host the URL connects to): connect by a name the \
             certificate holds, or give the server a certificate for {host} ({err})"
        ),
        Some(rustls::Error::InvalidCertificate(_)) if verifies != Verifies::Nothing => format!(
            "PostgreSQL's certificate at {host} is not trusted (sslmode={mode}): it is not \
             signed by the CA of sslrootcert, or is expired or unusable ({err})"
        ),
        _ => format!("TLS with PostgreSQL at {host} failed (sslmode={mode}): {err}"),
    }
}

/// A TLS session with PostgreSQL.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    /// No channel binding: SCRAM runs without `-PLUS` (tls-server-end-point would need the hash
    /// of the certificate's own signature algorithm); `verify-full` is what authenticates the
    /// server.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_taken_out_of_the_url() {
        let cases: &[(&str, &str, Option<SslMode>, Option<&str>)] = &[
            ("postgres://u@h/db", "postgres://u@h/db", None, None),
            (
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
                "postgres://u@h/db?application_name=x",
                Some(SslMode::VerifyFull),
                Some("/etc/ca.pem"),
            ),
            (
                "postgres://u@h/db?sslmode=require",
                "postgres://u@h/db",
                Some(SslMode::Require),
                None,
            ),
            (
                "host=h dbname=db sslmode=verify-ca sslrootcert=/ca.pem",
                "host=h dbname=db",
                Some(SslMode::VerifyCa),
                Some("/ca.pem"),
            ),
        ];
        for (url, rest, mode, root) in cases {
            let (kept, got_mode, got_root) = take_tls_settings(url).unwrap();
            assert_eq!(&kept, rest, "{url}");
            assert_eq!(got_mode, *mode, "{url}");
            assert_eq!(got_root.as_deref(), *root, "{url}");
        }
    }

    #[test]
    fn bad_tls_settings_are_named() {
        let cases = [
            (
                "postgres://u@h/db?sslmode=allow",
                "sslmode=allow is not one of",
            ),
            (
                "postgres://u@h/db?sslmode=verify-full",
                "sslmode=verify-full needs sslrootcert",
            ),
            (
                "postgres://u@h/db?sslmode=verify-ca",
                "sslmode=verify-ca needs sslrootcert",
            ),
            (
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
                "sslrootcert /nonexistent/ca.pem cannot be read",
            ),
        ];
        for (url, expected) in cases {
            let err = parse_database_url(url).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
        }
    }

    #[test]
    fn verifying_modes_ask_tokio_postgres_for_tls_always() {
        let (config, tls) = parse_database_url("postgres://u@h/db").unwrap();
        assert_eq!(tls.mode(), SslMode::Prefer);
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Prefer
        );
        let (config, _) = parse_database_url("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
    }
}
