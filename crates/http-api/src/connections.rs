//! The connections: how many at once, how many from one address, and how long a client may take
//! to send a request's head, including the wait for the next request on an idle keep-alive
//! connection. `axum::serve` has none of these, so a client that opens connections and sends
//! nothing (or half a header line, slowly) could hold them for ever and starve the others.
//!
//! A connection over a cap is answered `503` with a problem and closed at once, rather than
//! left waiting in the listen queue: a client learns to retry, and the queue does not fill with
//! connections that the slow ones keep out. The body of a request is bounded by the request
//! timeout (`ApiConfig::request_timeout`), its head and the idle time between requests by
//! [`ConnectionLimits::header_read_timeout`], and a client that stops reading its answers by
//! [`ConnectionLimits::write_stall_timeout`].
//!
//! HTTP/1.1 only: a reverse proxy in front speaks HTTP/1.1 to its upstream, and one protocol is
//! one set of slow-client limits to get right (HTTP/2 would need its own).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Sleep;
use tower::ServiceExt;

use crate::tls::Tls;

/// Longest a client may take to send a request's head (request line and headers), counted from
/// when the server starts waiting for it: on a new connection, and on a kept-alive one after the
/// previous answer. A real client sends its head in one packet; ten seconds only cuts off the
/// slow and the idle.
pub const HEADER_READ_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Longest the server waits for a client to take more of an answer (a write that makes no
/// progress): a client that sends requests and never reads the answers would otherwise hold its
/// connection for ever.
pub const WRITE_STALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Connections served at once, from everyone: about one file descriptor and a few tens of KiB
/// each.
pub const CONNECTIONS_MAX_DEFAULT: usize = 1024;
/// Connections served at once from one client address. Behind a reverse proxy every connection
/// comes from the proxy's address, which then shares this; raise it there
/// (`customs serve --connections-per-address`).
pub const CONNECTIONS_PER_ADDRESS_MAX_DEFAULT: usize = 128;

/// Longest `serve` takes to stop once its shutdown begins. At that moment a connection with no
/// request in progress (idle, or still sending its head) is closed at once; one whose request is
/// in progress has this long to finish its answer, then is closed too. Longer than a lodging
/// takes; short enough that a service manager's stop (systemd's default is 90 s) is never the
/// one to kill the process.
pub const SHUTDOWN_GRACE_DEFAULT: Duration = Duration::from_secs(10);

/// Refused connections are logged together, at most once in this time.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(1);

/// How the server protects itself from slow or numerous connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// See [`HEADER_READ_TIMEOUT_DEFAULT`]. Not zero.
    pub header_read_timeout: Duration,
    /// See [`WRITE_STALL_TIMEOUT_DEFAULT`]. Not zero.
    pub write_stall_timeout: Duration,
    /// At least 1.
    pub connections_max: usize,
    /// At least 1.
    pub connections_per_address_max: usize,
    /// See [`SHUTDOWN_GRACE_DEFAULT`].
    pub shutdown_grace: Duration,
    /// See [`crate::TLS_HANDSHAKE_TIMEOUT`]; used only by [`serve_tls`]. Not zero.
    pub tls_handshake_timeout: Duration,
}

impl ConnectionLimits {
    pub fn production() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: HEADER_READ_TIMEOUT_DEFAULT,
            write_stall_timeout: WRITE_STALL_TIMEOUT_DEFAULT,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            connections_per_address_max: CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
            shutdown_grace: SHUTDOWN_GRACE_DEFAULT,
            tls_handshake_timeout: crate::TLS_HANDSHAKE_TIMEOUT,
        }
    }
}

/// Who holds how many connections.
struct Connections {
    total: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    per_address_max: usize,
}

/// A connection's place, given back when it closes.
struct ConnectionSlot {
    _total: OwnedSemaphorePermit,
    connections: Arc<Connections>,
    address: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut per_address = self.connections.lock();
        if let Some(n) = per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                per_address.remove(&self.address);
            }
        }
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // One counter changes at a time: a poisoned map is still consistent.
        self.per_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one more connection from `address`, or `None` over either cap.
    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<ConnectionSlot> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        let mut per_address = self.lock();
        let n = per_address.entry(address).or_insert(0);
        if *n >= self.per_address_max {
            if *n == 0 {
                per_address.remove(&address);
            }
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            _total: total,
            connections: self.clone(),
            address,
        })
    }
}

/// What a connection over a cap is told before it is closed: a problem, as every error is.
fn too_many_connections() -> Vec<u8> {
    let body = concat!(
        r#"{"type":"urn:opencustoms:problem:too-many-connections","title":"Too many connections","#,
        r#""status":503,"detail":"the server, or this client address, has as many connections "#,
        r#"open as it may; retry after 1 s","detail_zh":"服务器或此客户端地址的连接数已达上限，"#,
        r#"请在 1 秒后重试"}"#
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, closes the
/// connections with no request in progress, gives the others [`ConnectionLimits::shutdown_grace`]
/// to finish theirs, and returns. Each request carries `ConnectInfo<SocketAddr>`, so that clients
/// without a token are rate-limited by address. Panics if a limit is zero (a server that admits
/// nothing is a configuration mistake).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, limits, None, shutdown).await
}

/// [`serve`] over TLS: each connection's handshake, under [`crate::TLS_HANDSHAKE_TIMEOUT`],
/// holds its place among the connection caps like a plain one; the certificate is reloaded
/// when its files change (see `tls`).
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Tls,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let watcher = tokio::spawn(tls.clone().watch());
    let served = serve_with(listener, app, limits, Some(tls), shutdown).await;
    watcher.abort();
    served
}

async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    assert!(
        !limits.header_read_timeout.is_zero()
            && !limits.write_stall_timeout.is_zero()
            && !limits.tls_handshake_timeout.is_zero()
            && limits.connections_max >= 1
            && limits.connections_per_address_max >= 1,
        "every connection limit admits something: {limits:?}"
    );
    let connections = Arc::new(Connections {
        total: Arc::new(Semaphore::new(limits.connections_max)),
        per_address: Mutex::new(HashMap::new()),
        per_address_max: limits.connections_per_address_max,
    });
    // Closed when the shutdown begins (the receiver is dropped), which each connection watches.
    let (shutting_down, shutdown_signal) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(shutdown_signal);
    });
    // Each connection holds a receiver; the sender's `closed` is when all have ended.
    let (all_closed, open_connection) = watch::channel(());
    let (mut last_logged, mut refused_unlogged) = (None, 0_u64);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a little rather than spin, and go on.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutting_down.closed() => break,
        };
        let Some(slot) = connections.admit(peer.ip()) else {
            refuse(stream);
            // A flood of connections would be a flood of log lines: one a second at most.
            refused_unlogged += 1;
            if last_logged.is_none_or(|at: Instant| at.elapsed() >= REFUSALS_LOGGED_EVERY) {
                tracing::warn!(%peer, refused = refused_unlogged, "connections refused: too many connections");
                (last_logged, refused_unlogged) = (Some(Instant::now()), 0);
            }
            continue;
        };
        let connection = Connection {
            app: app.clone(),
            peer,
            limits: limits.clone(),
            shutting_down: shutting_down.clone(),
        };
        let open_connection = open_connection.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.serve(stream).await,
                Some(tls) => {
                    let shutting_down = connection.shutting_down.clone();
                    let mut shutdown_begun = pin!(shutting_down.closed());
                    let handshake = tokio::time::timeout(
                        connection.limits.tls_handshake_timeout,
                        tls.acceptor.accept(stream),
                    );
                    tokio::select! {
                        shaken = handshake => match shaken {
                            Ok(Ok(stream)) => connection.serve(stream).await,
                            Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        },
                        () = &mut shutdown_begun => {}
                    }
                }
            }
            drop(slot);
            drop(open_connection);
        });
    }
    drop(open_connection);
    drop(listener);
    all_closed.closed().await;
    Ok(())
}

/// One accepted connection and what it needs to serve it.
struct Connection {
    app: Router,
    peer: std::net::SocketAddr,
    limits: ConnectionLimits,
    shutting_down: watch::Sender<()>,
}

impl Connection {
    /// Serves HTTP/1.1 on `io` until the client closes, a limit cuts it off, or the shutdown
    /// closes it (at once if no request is in progress, else after the grace at most).
    async fn serve<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let in_progress = Arc::new(AtomicUsize::new(0));
        let counted = in_progress.clone();
        let service = TowerToHyperService::new(
            self.app
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                })
                .map_future(move |answer| {
                    // Counted from the call until the answer's body is dropped (written or
                    // abandoned): the request is in progress all that time.
                    let guard = InProgress::enter(counted.clone());
                    async move {
                        let response: axum::response::Response = answer.await?;
                        Ok::<_, std::convert::Infallible>(response.map(|body| {
                            axum::body::Body::new(CountedBody {
                                body,
                                _guard: guard,
                            })
                        }))
                    }
                }),
        );
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        let io = StallLimited::new(io, self.limits.write_stall_timeout);
        let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service));
        let mut shutdown_begun = pin!(self.shutting_down.closed());
        let mut grace_over = pin!(tokio::time::sleep(Duration::MAX));
        let mut draining = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, %peer, "connection ended");
                    }
                    break;
                }
                () = &mut shutdown_begun, if !draining => {
                    if in_progress.load(Ordering::SeqCst) == 0 {
                        // Idle, or a head still arriving: nothing is owed to it.
                        break;
                    }
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                    grace_over.as_mut().reset(tokio::time::Instant::now() + self.limits.shutdown_grace);
                }
                () = &mut grace_over, if draining => {
                    tracing::warn!(%peer, grace = ?self.limits.shutdown_grace, "a request still in progress at the end of the shutdown grace was cut off");
                    break;
                }
            }
        }
    }
}

/// One request in progress on a connection, until dropped.
struct InProgress(Arc<AtomicUsize>);

impl InProgress {
    fn enter(counter: Arc<AtomicUsize>) -> InProgress {
        counter.fetch_add(1, Ordering::SeqCst);
        InProgress(counter)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An answer's body that keeps its request counted in progress until it is dropped.
struct CountedBody {
    body: axum::body::Body,
    _guard: InProgress,
}

impl http_body::Body for CountedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection whose writes fail once one has made no progress for `timeout`: the client has
/// stopped reading, and its connection is closed rather than held.
struct StallLimited<I> {
    io: I,
    timeout: Duration,
    stalled_since: Option<Pin<Box<Sleep>>>,
}

impl<I> StallLimited<I> {
    fn new(io: I, timeout: Duration) -> StallLimited<I> {
        StallLimited {
            io,
            timeout,
            stalled_since: None,
        }
    }

    /// `written` is the outcome of a write; a pending one starts (or keeps) the stall's clock,
    /// any other stops it.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if written.is_ready() {
            self.stalled_since = None;
            return written;
        }
        let timeout = self.timeout;
        let stall = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stall.as_mut().poll(cx).is_ready() {
            self.stalled_since = None;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the answer",
            )));
        }
        Poll::Pending
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for StallLimited<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for StallLimited<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, flushed)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let shut = Pin::new(&mut this.io).poll_shutdown(cx);
        this.watch(cx, shut)
    }
}

/// Tells a connection over a cap why, without waiting for it (a client that does not read
/// gets nothing), and closes it.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(&too_many_connections());
    // Dropping the stream closes it.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_well_formed_problem() {
        let response = String::from_utf8(too_many_connections()).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let problem: wire::Problem = serde_json::from_str(body).expect("a problem");
        assert_eq!(problem.status, 503);
        assert!(!problem.detail_zh.is_empty());
    }

    #[test]
    fn each_address_has_its_cap_within_the_total() {
        let connections = Arc::new(Connections {
            total: Arc::new(Semaphore::new(3)),
            per_address: Mutex::new(HashMap::new()),
            per_address_max: 2,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());

        let a1 = connections.admit(a).expect("first of a");
        let a2 = connections.admit(a).expect("second of a: at the cap");
        let a3 = connections.admit(a);
        let b1 = connections.admit(b).expect("b has its own cap");
        let b2 = connections.admit(b);

        assert!(a3.is_none(), "one over the address's cap");
        assert!(b2.is_none(), "one over the total");
        drop(a1);
        assert!(
            connections.admit(b).is_some(),
            "a place given back is taken"
        );
        drop((a2, b1));
    }
}
