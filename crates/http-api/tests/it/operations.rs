//! What the IT administrator runs into: TLS (and its reload), who may read /metrics, probes that
//! a flood cannot starve, and a shutdown bounded with slow clients connected.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_api::{ApiConfig, ConnectionLimits, MetricsAccess, Tls, TlsFiles};
use reqwest::StatusCode;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Serving, roomy_config, send, spawn_app_served, spawn_app_with};

/// Long enough for anything that is going to happen in a test to happen.
const PATIENCE: Duration = Duration::from_secs(10);

/// A self-signed certificate for localhost (its PEM, its key's PEM, its DER).
fn certificate() -> (String, String, CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (
        made.cert.pem(),
        made.signing_key.serialize_pem(),
        made.cert.der().clone(),
    )
}

/// A TLS client that trusts `root` only.
fn connector(root: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let provider = Arc::new(http_api::ring_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// `GET path` over TLS trusting `root`: the certificate the server presented and the answer.
async fn get_over_tls(
    socket: std::net::SocketAddr,
    root: &CertificateDer<'static>,
    path: &str,
) -> Result<(CertificateDer<'static>, String), std::io::Error> {
    let tcp = TcpStream::connect(socket).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(PATIENCE, connector(root).connect(name, tcp))
        .await
        .expect("the handshake ends in time")?;
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, tls.read_to_end(&mut answer))
        .await
        .expect("the answer ends in time")?;
    Ok((presented, String::from_utf8_lossy(&answer).into_owned()))
}

struct TlsFolder {
    _dir: tempfile::TempDir,
    files: TlsFiles,
}

fn tls_folder(certificate_pem: &str, key_pem: &str) -> TlsFolder {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        certificate: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.certificate, certificate_pem).unwrap();
    std::fs::write(&files.key, key_pem).unwrap();
    TlsFolder { _dir: dir, files }
}

#[tokio::test]
async fn the_server_speaks_tls_and_serves_a_renewed_certificate_without_a_restart() {
    let (first_pem, first_key, first) = certificate();
    let folder = tls_folder(&first_pem, &first_key);
    let tls = Tls::from_files(folder.files.clone())
        .unwrap()
        .with_poll_interval(Duration::from_millis(50));
    let app = spawn_app_served(
        roomy_config(),
        Serving {
            limits: ConnectionLimits::production(),
            tls: Some(tls),
            shutdown: None,
        },
    )
    .await;

    let (presented, answer) = get_over_tls(app.socket, &first, "/v1/health")
        .await
        .unwrap();
    assert_eq!(presented, first);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    // Plain HTTP on the TLS port gets no answer of the API.
    let mut plain = TcpStream::connect(app.socket).await.unwrap();
    plain
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut refused = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut refused)).await;
    assert!(!String::from_utf8_lossy(&refused).contains("200 OK"));

    // A half-written renewal (a key that is not the certificate's) keeps the old certificate.
    let (second_pem, second_key, second) = certificate();
    std::fs::write(&folder.files.certificate, &second_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (still, _) = get_over_tls(app.socket, &first, "/v1/health")
        .await
        .unwrap();
    assert_eq!(still, first, "a certificate without its key is not taken");

    // The key follows: the renewed certificate is served on the next connections.
    std::fs::write(&folder.files.key, &second_key).unwrap();
    let started = Instant::now();
    let renewed = loop {
        if let Ok((presented, answer)) = get_over_tls(app.socket, &second, "/v1/health").await {
            break (presented, answer);
        }
        assert!(started.elapsed() < PATIENCE, "the renewal was never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(renewed.0, second);
    assert!(renewed.1.starts_with("HTTP/1.1 200 "), "{}", renewed.1);
}

#[test]
fn unusable_certificate_files_are_refused_naming_the_file() {
    let (pem, _, _) = certificate();
    let (_, other_key, _) = certificate();
    let missing = TlsFiles {
        certificate: "/nonexistent/cert.pem".into(),
        key: "/nonexistent/key.pem".into(),
    };
    let not_pem = tls_folder("hello", "world");
    let mismatched = tls_folder(&pem, &other_key);

    let missing = Tls::from_files(missing).err().unwrap().to_string();
    let not_pem = Tls::from_files(not_pem.files.clone())
        .err()
        .unwrap()
        .to_string();
    let mismatched = Tls::from_files(mismatched.files.clone())
        .err()
        .unwrap()
        .to_string();

    assert!(
        missing.contains("/nonexistent/cert.pem cannot be read"),
        "{missing}"
    );
    assert!(not_pem.contains("holds no certificate"), "{not_pem}");
    assert!(
        mismatched.contains("cannot be used with the certificate"),
        "{mismatched}"
    );
    for message in [missing, not_pem, mismatched] {
        assert!(message.contains(" / "), "bilingual: {message}");
    }
}

#[tokio::test]
async fn a_tls_handshake_holds_a_place_among_the_connection_caps_until_its_timeout() {
    // One place per address: while a client dawdles in its handshake, a second from the address
    // is refused; once the handshake timeout has cut the dawdler off, the place is free again.
    let handshake_timeout = Duration::from_secs(1);
    let (pem, key, root) = certificate();
    let folder = tls_folder(&pem, &key);
    let app = spawn_app_served(
        roomy_config(),
        Serving {
            limits: ConnectionLimits {
                connections_per_address_max: 1,
                tls_handshake_timeout: handshake_timeout,
                ..ConnectionLimits::production()
            },
            tls: Some(Tls::from_files(folder.files.clone()).unwrap()),
            shutdown: None,
        },
    )
    .await;
    let started = Instant::now();
    let mut dawdler = TcpStream::connect(app.socket).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let while_dawdling = get_over_tls(app.socket, &root, "/v1/health").await;
    let mut cut_off = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, dawdler.read_to_end(&mut cut_off)).await;
    let cut_after = started.elapsed();
    let (_, afterwards) = get_over_tls(app.socket, &root, "/v1/health").await.unwrap();

    assert!(
        !matches!(&while_dawdling, Ok((_, answer)) if answer.contains("200 OK")),
        "refused while the dawdler holds the place"
    );
    assert!(
        cut_after >= handshake_timeout && cut_after < PATIENCE,
        "the dawdler was cut off after {cut_after:?}"
    );
    assert!(afterwards.starts_with("HTTP/1.1 200 "), "{afterwards}");
}

#[tokio::test]
async fn metrics_answer_clients_on_this_machine_when_no_token_is_configured() {
    let app = spawn_app_with(roomy_config()).await;
    let local = send(app.http.get(app.url("/metrics"))).await;
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();

    // 127.0.0.2 is a loopback address too; only a real other machine is refused, which a test
    // on one machine cannot be: the refusal is tested without a peer address below.
    let from_other_loopback = send(elsewhere.get(app.url("/metrics"))).await;

    assert_eq!(local.status, StatusCode::OK);
    assert!(local.text.contains("# TYPE"), "{}", local.text);
    assert_eq!(from_other_loopback.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_refused_to_a_peer_that_is_not_known_to_be_local() {
    use tower::ServiceExt;
    // The router without `serve`: no peer address is known, which is not known to be local.
    let app = spawn_app_with(roomy_config()).await;
    let router = http_api::router(app.clearance.clone(), roomy_config());
    let request = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();

    let answer = router.oneshot(request).await.unwrap();

    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn metrics_behind_a_token_need_the_token() {
    let token = "metrics-token-0123456789";
    let app = spawn_app_with(ApiConfig {
        metrics_access: MetricsAccess {
            token: Some(token.into()),
            own_listener: false,
        },
        ..roomy_config()
    })
    .await;

    let without = send(app.http.get(app.url("/metrics"))).await;
    let wrong = send(
        app.http
            .get(app.url("/metrics"))
            .bearer_auth("metrics-token-0123456788"),
    )
    .await;
    let right = send(app.http.get(app.url("/metrics")).bearer_auth(token)).await;

    without.assert_problem(401);
    assert_eq!(
        without.body["type"],
        "urn:opencustoms:problem:metrics-token"
    );
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(right.status, StatusCode::OK);
    assert!(right.text.contains("# TYPE"));
}

#[tokio::test]
async fn metrics_on_their_own_listener_are_not_on_the_apis() {
    let app = spawn_app_with(ApiConfig {
        metrics_access: MetricsAccess {
            token: None,
            own_listener: true,
        },
        ..roomy_config()
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_at = listener.local_addr().unwrap();
    tokio::spawn(http_api::serve(
        listener,
        app.metrics_router.clone(),
        ConnectionLimits::production(),
        std::future::pending(),
    ));

    let on_api = send(app.http.get(app.url("/metrics"))).await;
    let on_own = send(app.http.get(format!("http://{metrics_at}/metrics"))).await;
    let api_on_own = send(app.http.get(format!("http://{metrics_at}/v1/health"))).await;

    assert_eq!(on_api.status, StatusCode::NOT_FOUND);
    assert_eq!(on_own.status, StatusCode::OK);
    assert!(on_own.text.contains("# TYPE"));
    assert_eq!(
        api_on_own.status,
        StatusCode::NOT_FOUND,
        "only /metrics there"
    );
}

#[tokio::test]
async fn a_flood_of_bogus_tokens_does_not_make_health_answer_429() {
    // The production budget per client, which the flood exhausts for its address.
    let app = spawn_app_with(ApiConfig::production()).await;
    let mut refused = 0;
    for n in 0..(http_api::BURST_PER_CLIENT_DEFAULT * 2) {
        let reply = send(
            app.http
                .get(app.url("/v1/declarations"))
                .bearer_auth(format!("oc_bogus_{n}")),
        )
        .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }

    let health = send(app.http.get(app.url("/v1/health"))).await;

    assert!(refused > 0, "the flood met the address's budget");
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
}

/// The app with these connection limits, and the sender that begins its shutdown.
async fn stoppable_app(
    limits: ConnectionLimits,
) -> (tokio::sync::oneshot::Sender<()>, crate::helpers::TestApp) {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let app = spawn_app_served(
        roomy_config(),
        Serving {
            limits,
            tls: None,
            shutdown: Some(stopped),
        },
    )
    .await;
    (stop, app)
}

#[tokio::test]
async fn shutdown_with_slow_clients_connected_ends_at_once() {
    let (stop, app) = stoppable_app(ConnectionLimits::production()).await;
    // Five clients that send half a header each, and one idle kept-alive connection.
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(app.socket).await.unwrap();
        stream
            .write_all(b"GET /v1/health HTTP/1.1\r\nHost: te")
            .await
            .unwrap();
        slow.push(stream);
    }
    let mut idle = TcpStream::connect(app.socket).await.unwrap();
    idle.write_all(b"GET /v1/health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0_u8; 512];
    let n = idle.read(&mut buffer).await.unwrap();
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200 "));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    stop.send(()).unwrap();
    let ended = tokio::time::timeout(PATIENCE, app.server).await;

    assert!(ended.is_ok(), "the server stopped within {PATIENCE:?}");
    // Not held by the slow heads until their header-read timeout (10 s), nor the grace.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "stopped in {:?}",
        started.elapsed()
    );
    drop(slow);
}

#[tokio::test]
async fn shutdown_lets_a_request_in_progress_finish_within_the_grace() {
    let (stop, app) = stoppable_app(ConnectionLimits::production()).await;
    // A lodging whose body is still being sent when the shutdown begins: in progress.
    let body = serde_json::to_vec(&crate::helpers::example()).unwrap();
    let mut stream = TcpStream::connect(app.socket).await.unwrap();
    let head = format!(
        "POST /v1/declarations HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: shutdown-1\r\nContent-Length: {}\r\n\r\n",
        app.token("broker"),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed in time")
        .unwrap();
    let ended = tokio::time::timeout(PATIENCE, app.server).await;

    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    assert!(ended.is_ok());
}

#[tokio::test]
async fn a_request_still_in_progress_at_the_end_of_the_grace_is_cut_off() {
    let grace = Duration::from_secs(1);
    let (stop, app) = stoppable_app(ConnectionLimits {
        shutdown_grace: grace,
        ..ConnectionLimits::production()
    })
    .await;
    // A lodging whose body never finishes arriving.
    let mut stream = TcpStream::connect(app.socket).await.unwrap();
    let head = format!(
        "POST /v1/declarations HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        app.token("broker"),
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    stop.send(()).unwrap();
    let ended = tokio::time::timeout(PATIENCE, app.server).await;

    assert!(ended.is_ok(), "the server stopped");
    let took = started.elapsed();
    assert!(took >= grace, "the request had its grace: {took:?}");
    assert!(took < grace * 3, "and no more: {took:?}");
}
