//! `serve --bus`: every event of the served folder reaches NATS JetStream at 127.0.0.1:4222
//! (`CUSTOMS_TEST_NATS` overrides), in seq order, each once, as the store recorded it. NATS not
//! running is a failure with a message, never a skip.

use std::process::Stdio;
use std::time::{Duration, Instant};

use store::Store;

use crate::instances::Killed;
use crate::support::command;

/// How long the relay may take to publish the demo's events.
const WAIT: Duration = Duration::from_secs(60);

/// The server, killed when the test ends, passed or failed.

#[test]
fn serve_with_a_bus_publishes_every_committed_event_to_jetstream() {
    let url = bus::testing::nats_url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let context = runtime.block_on(bus::testing::jetstream());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A stream and prefix of this run's own, so that runs never share a stream.
    let test_stream = bus::testing::TestStream::new(&url);
    let stream_name = test_stream.config.stream.clone();
    let prefix = test_stream.config.subject_prefix.clone();
    let server = command()
        .env("CUSTOMS_LOG", "warn")
        .env("CUSTOMS_BUS_STREAM", &stream_name)
        .env("CUSTOMS_BUS_SUBJECT_PREFIX", &prefix)
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--demo", "--bus", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let mut server = Killed(server);

    // The demo lodges declarations at start; wait until the stream holds the whole chain.
    let started = Instant::now();
    let (head, published) = loop {
        std::thread::sleep(Duration::from_millis(200));
        // The demo's declarations are in the store, and the stream holds as many messages.
        let stored = std::fs::exists(data.join("customs.db"))
            .unwrap_or(false)
            .then(|| {
                let store =
                    store_sqlite::SqliteStore::open_read_only(&data.join("customs.db"), 1).ok()?;
                runtime.block_on(store.audit_entries(0, usize::MAX)).ok()
            })
            .flatten()
            .unwrap_or_default();
        let head = stored.len() as u64;
        let lodged = stored
            .iter()
            .any(|e| e.entry.action == "declaration.accepted");
        let published = runtime.block_on(async {
            let mut stream = context.get_stream(&stream_name).await.ok()?;
            Some(stream.info().await.ok()?.state.messages)
        });
        if lodged && published == Some(head) {
            break (head, head);
        }
        assert!(
            started.elapsed() < WAIT,
            "the stream holds {published:?} messages, the store {head} events"
        );
    };
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let store =
        store_sqlite::SqliteStore::open_read_only(&data.join("customs.db"), 1).expect("the store");
    let entries = runtime
        .block_on(store.audit_entries(0, usize::MAX))
        .unwrap();
    assert_eq!(published, head);
    runtime.block_on(async {
        let stream = context.get_stream(&stream_name).await.unwrap();
        for (i, stored) in entries.iter().enumerate() {
            let message = stream.get_raw_message(i as u64 + 1).await.unwrap();
            let event = bus::BusEvent::from_json(&message.payload).unwrap();
            assert_eq!(event.seq, stored.entry.seq);
            assert_eq!(event.action, stored.entry.action);
            assert_eq!(event.payload, stored.entry.payload);
            assert_eq!(
                message.subject.as_str(),
                format!("{prefix}.{}", stored.entry.action)
            );
        }
    });
}

#[test]
fn serve_starts_while_the_bus_is_unreachable_and_says_so() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bus = format!("nats://127.0.0.1:{port}");
    let mut server = Killed(
        command()
            .env("CUSTOMS_LOG", "warn")
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(["serve", "--listen", "127.0.0.1:0", "--bus", &bus])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts"),
    );
    let stderr = BufReader::new(server.0.stderr.take().unwrap());
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    let (mut listening, mut warned) = (false, false);
    while !(listening && warned) && Instant::now() < deadline {
        let Ok(line) = received.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        listening |= line.contains("listening on http://");
        warned |= line.contains("event relay") && line.contains("unreachable");
    }
    assert!(
        listening && warned,
        "listening {listening}, warned {warned}"
    );
}
