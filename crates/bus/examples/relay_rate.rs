//! How fast the relay publishes a store's backlog to JetStream: N events committed first, then
//! timed from the relay's start to the last acknowledgement. A measurement, not a test:
//!
//! ```sh
//! cargo run --release -p bus --example relay_rate -- 20000 256
//! ```
//!
//! Arguments: events (default 20000) and the relay's batch (default 256). Uses the NATS of the
//! tests (`CUSTOMS_TEST_NATS`, else 127.0.0.1:4222) and a stream of its own, deleted at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit::AuditSigner;
use bus::testing::{TestStream, nats_url};
use bus::{JetStreamPublisher, Relay, RelayOptions};
use store::Store;
use store_sqlite::{SqliteOptions, SqliteStore};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map_or(20_000, |a| a.parse().expect("a count"));
    let batch: usize = args
        .next()
        .map_or(256, |a| a.parse().expect("a batch size"));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(
            &dir.path().join("customs.db"),
            AuditSigner::from_secret_bytes(&[5; 32]),
            SqliteOptions::production(),
        )
        .unwrap(),
    );
    // Committed concurrently so the writer groups them: the backlog, not the lodging, is timed.
    let mut tasks = Vec::new();
    for n in 0..events {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.append(bus::testing::registration(n)).await.unwrap()
        }));
        if tasks.len() == 256 {
            for task in tasks.drain(..) {
                task.await.unwrap();
            }
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let test_stream = TestStream::new(&nats_url());
    let publisher = Arc::new(JetStreamPublisher::new(test_stream.config.clone()));
    let started = Instant::now();
    let mut relay = Relay::spawn(
        store.clone(),
        publisher,
        RelayOptions {
            batch,
            ..Default::default()
        },
    );
    let status = relay
        .wait_for(events as u64, Duration::from_secs(600))
        .await;
    let took = started.elapsed();
    relay.task.abort();
    assert_eq!(status.published_seq, Some(events as u64), "{status:?}");
    println!(
        "{events} events, batch {batch}: published and acknowledged in {:.2} s, {:.0} events/s",
        took.as_secs_f64(),
        events as f64 / took.as_secs_f64()
    );
    store.close().await;
}
