//! The relay against the real NATS JetStream at 127.0.0.1:4222 (`CUSTOMS_TEST_NATS` overrides).
//! Each test makes its own stream and subject prefix and deletes them at the end, so runs do not
//! collide. NATS not running is a failure with a message, never a skip.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use audit::AuditSigner;
use bus::testing::{TestStream, jetstream, nats_url, registration};
use bus::{
    BusEvent, DedupConsumer, Delivery, HEADER_ACTION, HEADER_CHAIN, HEADER_SEQ, InProcessBus,
    JetStreamConfig, JetStreamPublisher, Relay, RelayOptions,
};
use store::{AppendOutcome, Store};
use store_sqlite::{SqliteOptions, SqliteStore};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long a test waits for the relay to reach a seq before it fails.
const WAIT: Duration = Duration::from_secs(30);

fn open_store(dir: &Path) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(
            &dir.join("customs.db"),
            AuditSigner::from_secret_bytes(&[5; 32]),
            SqliteOptions::production(),
        )
        .expect("the store opens"),
    )
}

/// Registers enterprises `from..to`: real appends, one event each.
async fn lodge(store: &SqliteStore, from: usize, to: usize) {
    for n in from..to {
        let outcome = store
            .append(registration(n))
            .await
            .expect("the append commits");
        assert!(
            matches!(outcome, AppendOutcome::Appended { .. }),
            "{outcome:?}"
        );
    }
}

/// Reads the whole stream in order through a deduplicating consumer and checks it holds seqs
/// `1..=count`, each once, in order, each message well formed; returns the events.
async fn read_stream(
    context: &jetstream::Context,
    config: &JetStreamConfig,
    count: u64,
) -> Vec<BusEvent> {
    let mut stream = context
        .get_stream(&config.stream)
        .await
        .expect("the stream exists");
    let info = stream.info().await.expect("the stream's state");
    assert_eq!(
        info.state.messages, count,
        "the stream holds every event exactly once"
    );
    let mut consumer = DedupConsumer::after(0);
    let mut events = Vec::new();
    for sequence in 1..=info.state.last_sequence {
        let message = stream.get_raw_message(sequence).await.expect("a message");
        let event = BusEvent::from_json(&message.payload).expect("a bus event");
        assert_eq!(
            consumer.accept(event.seq),
            Ok(Delivery::New),
            "stream message {sequence} holds event {}",
            event.seq
        );
        assert_eq!(
            message.subject.as_str(),
            format!("{}.{}", config.subject_prefix, event.action)
        );
        let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(header(HEADER_SEQ), Some(event.seq.to_string()));
        assert_eq!(header(HEADER_ACTION), Some(event.action.clone()));
        assert_eq!(header(HEADER_CHAIN), Some(event.chain.clone()));
        assert_eq!(header("Nats-Msg-Id"), Some(event.message_id()));
        events.push(event);
    }
    assert_eq!(consumer.last_seq(), count);
    events
}

fn options(batch: usize) -> RelayOptions {
    RelayOptions {
        batch,
        poll_interval: Duration::from_millis(20),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_publishes_every_committed_event_in_order() {
    let context = jetstream().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    lodge(&store, 0, 120).await;
    let test_stream = TestStream::new(&nats_url());
    let config = &test_stream.config;
    let publisher = Arc::new(JetStreamPublisher::new(config.clone()));
    let mut relay = Relay::spawn(store.clone(), publisher, options(16));
    let status = relay.wait_for(120, WAIT).await;
    assert_eq!(status.published_seq, Some(120), "{status:?}");
    // Events committed while it runs follow.
    lodge(&store, 120, 130).await;
    let status = relay.wait_for(130, WAIT).await;
    assert_eq!(status.published_seq, Some(130), "{status:?}");
    relay.task.abort();

    let events = read_stream(&context, config, 130).await;
    let stored = store.audit_entries(0, 200).await.unwrap();
    for (event, stored) in events.iter().zip(&stored) {
        assert_eq!(event.seq, stored.entry.seq);
        assert_eq!(event.action, "enterprise.registered");
        assert_eq!(event.subject, stored.entry.subject);
        assert_eq!(event.actor, "usr-admin");
        assert_eq!(event.recorded_at_ms, stored.entry.recorded_at_ms);
        assert_eq!(
            event.payload, stored.entry.payload,
            "the payload byte for byte"
        );
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_stream_and_restarted_loses_nothing_and_repeats_nothing() {
    let context = jetstream().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    lodge(&store, 0, 300).await;
    let test_stream = TestStream::new(&nats_url());
    let config = &test_stream.config;

    // Small batches, so the relay is stopped between (or inside) them.
    let mut first = Relay::spawn(
        store.clone(),
        Arc::new(JetStreamPublisher::new(config.clone())),
        options(7),
    );
    let status = first.wait_for(50, WAIT).await;
    first.task.abort();
    let _ = first.task.await;
    let stopped_at = first.status.borrow().published_seq.unwrap();
    assert!(stopped_at >= 50, "{status:?}");
    assert!(
        stopped_at < 300,
        "the relay was stopped mid-stream ({stopped_at})"
    );

    lodge(&store, 300, 320).await;
    // A new publisher, as after a restart of the process: it knows nothing but the stream.
    let mut second = Relay::spawn(
        store.clone(),
        Arc::new(JetStreamPublisher::new(config.clone())),
        options(7),
    );
    let status = second.wait_for(320, WAIT).await;
    assert_eq!(status.published_seq, Some(320), "{status:?}");
    assert_eq!(status.failures, 0, "{status:?}");
    second.task.abort();

    read_stream(&context, config, 320).await;
    store.close().await;
}

/// Runs a relay to `config`'s stream until every event up to `seq` is acknowledged, then stops it.
async fn relay_until(store: &Arc<SqliteStore>, config: &JetStreamConfig, seq: u64) {
    let mut relay = Relay::spawn(
        store.clone(),
        Arc::new(JetStreamPublisher::new(config.clone())),
        options(10),
    );
    let status = relay.wait_for(seq, WAIT).await;
    assert_eq!(status.published_seq, Some(seq), "{status:?}");
    relay.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_drops_a_republished_event_within_the_duplicate_window() {
    // A second relay's late copy (or any republish) carries the same message id.
    let context = jetstream().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    lodge(&store, 0, 3).await;
    let test_stream = TestStream::new(&nats_url());
    let config = &test_stream.config;
    relay_until(&store, config, 3).await;

    let publisher = JetStreamPublisher::new(config.clone());
    let stream = publisher.stream().await.unwrap();
    assert_eq!(
        stream.cached_info().config.duplicate_window,
        bus::DUPLICATE_WINDOW
    );
    let events = read_stream(&context, config, 3).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", events[1].message_id().as_str());
    let ack = context
        .publish_with_headers(
            format!("{}.{}", config.subject_prefix, events[1].action),
            headers,
            events[1].to_json().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate, "{ack:?}");
    read_stream(&context, config, 3).await;
    store.close().await;
}

/// A TCP proxy in front of NATS that can be cut: while down it refuses new connections and
/// closes open ones, as an outage or a partition would.
struct Proxy {
    port: u16,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut watch = watch.clone();
                if !*watch.borrow() {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy { port, up, task }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_retries_while_nats_is_unreachable_and_catches_up() {
    let context = jetstream().await;
    let target = nats_url().trim_start_matches("nats://").to_owned();
    let proxy = Proxy::start(target).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    lodge(&store, 0, 40).await;
    let test_stream = TestStream::new(&format!("nats://127.0.0.1:{}", proxy.port));
    let config = &test_stream.config;
    let mut relay = Relay::spawn(
        store.clone(),
        Arc::new(JetStreamPublisher::new(config.clone())),
        options(8),
    );

    // Unreachable from the start: the relay fails, backs off and retries.
    let mut status = relay.status.clone();
    tokio::time::timeout(WAIT, status.wait_for(|s| s.failures >= 3))
        .await
        .expect("the relay keeps retrying")
        .expect("the relay's status");
    let status = relay.status.borrow().clone();
    assert_eq!(status.published_seq, None, "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap()
            .contains("unreachable"),
        "{status:?}"
    );

    proxy.set(true);
    let status = relay.wait_for(40, WAIT).await;
    assert_eq!(status.published_seq, Some(40), "{status:?}");
    assert_eq!(status.last_error, None);

    // Cut while running; events committed meanwhile wait for the bus.
    proxy.set(false);
    let failures = status.failures;
    lodge(&store, 40, 70).await;
    let mut status = relay.status.clone();
    tokio::time::timeout(WAIT, status.wait_for(|s| s.failures > failures))
        .await
        .expect("the relay notices the outage")
        .expect("the relay's status");
    proxy.set(true);
    let status = relay.wait_for(70, WAIT).await;
    assert_eq!(status.published_seq, Some(70), "{status:?}");
    relay.task.abort();
    proxy.task.abort();

    read_stream(&context, config, 70).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_bus_relays_what_is_committed_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    lodge(&store, 0, 5).await;
    let bus = Arc::new(InProcessBus::new());
    let mut events = bus.subscribe();
    let mut relay = Relay::spawn(store.clone(), bus.clone(), options(4));
    assert_eq!(relay.wait_for(5, WAIT).await.published_seq, Some(5));
    lodge(&store, 5, 11).await;
    let mut consumer = DedupConsumer::after(5);
    for _ in 5..11 {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("an event arrives")
            .unwrap();
        assert_eq!(consumer.accept(event.seq), Ok(Delivery::New));
        assert_eq!(event.action, "enterprise.registered");
    }
    assert_eq!(consumer.last_seq(), 11);
    relay.task.abort();
    store.close().await;
}

/// The in-process bus refusing its first publish, as a subscriber-side failure would: the relay
/// must retry from its own cursor, since the bus keeps none.
struct RefusesOnce {
    bus: InProcessBus,
    refused: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl bus::Publisher for RefusesOnce {
    async fn resume(&self) -> Result<bus::Resume, bus::BusError> {
        self.bus.resume().await
    }

    async fn publish(&self, events: &[BusEvent]) -> bus::PublishOutcome {
        if !self.refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return bus::PublishOutcome {
                acked: 0,
                error: Some(bus::BusError::NotAcknowledged("refused once".to_owned())),
            };
        }
        self.bus.publish(events).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failure_the_in_process_relay_skips_nothing_committed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    lodge(&store, 0, 5).await;
    let publisher = Arc::new(RefusesOnce {
        bus: InProcessBus::new(),
        refused: std::sync::atomic::AtomicBool::new(false),
    });
    let mut events = publisher.bus.subscribe();
    let mut relay = Relay::spawn(store.clone(), publisher.clone(), options(4));
    assert_eq!(relay.wait_for(5, WAIT).await.published_seq, Some(5));
    lodge(&store, 5, 8).await;
    let status = relay.wait_for(8, WAIT).await;
    assert_eq!(status.published_seq, Some(8), "{status:?}");
    assert_eq!(status.failures, 1, "{status:?}");
    for seq in 6..=8 {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap_or_else(|_| panic!("event {seq} never arrived"))
            .unwrap();
        assert_eq!(event.seq, seq);
    }
    relay.task.abort();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_behind_the_stream_is_refused_and_stores_nothing() {
    // Two relays on one stream: the one that read the stream before the other published holds a
    // stale expected sequence, and JetStream refuses its copies instead of storing them again.
    let context = jetstream().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    lodge(&store, 0, 3).await;
    let test_stream = TestStream::new(&nats_url());
    let config = &test_stream.config;
    let stale = JetStreamPublisher::new(config.clone());
    assert_eq!(
        bus::Publisher::resume(&stale).await.unwrap(),
        bus::Resume::After {
            seq: 0,
            chain: None,
            cursors: Vec::new(),
        }
    );
    relay_until(&store, config, 3).await;

    let events = read_stream(&context, config, 3).await;
    // A copy of what is in the stream: dropped as a duplicate (its message id).
    let outcome = bus::Publisher::publish(&stale, &events[..1]).await;
    assert_eq!(outcome.acked, 0);
    let error = outcome.error.unwrap().to_string();
    assert!(error.contains("already in the stream"), "{error}");
    // A new event: refused, for the stream has moved past the sequence it expects.
    let behind = JetStreamPublisher::new(config.clone());
    bus::Publisher::resume(&behind).await.unwrap();
    lodge(&store, 3, 4).await;
    relay_until(&store, config, 4).await;
    lodge(&store, 4, 5).await;
    let entries = store.audit_entries(4, 1).await.unwrap();
    let fifth = BusEvent::from_entry(&events[0].chain, 0, &entries[0].entry);
    let outcome = bus::Publisher::publish(&behind, &[fifth]).await;
    assert_eq!(outcome.acked, 0);
    let error = outcome.error.unwrap().to_string();
    assert!(error.contains("wrong last sequence"), "{error}");
    read_stream(&context, config, 4).await;
    // Resuming, it learns where the stream is.
    assert_eq!(
        bus::Publisher::resume(&behind).await.unwrap(),
        bus::Resume::After {
            seq: 4,
            chain: Some(events[0].chain.clone()),
            cursors: vec![4],
        }
    );
    store.close().await;
}

/// A database of this test's own on the test PostgreSQL (`CUSTOMS_TEST_POSTGRES`), dropped at
/// the end, passed or failed.
struct PostgresDatabase {
    admin: String,
    name: String,
}

impl PostgresDatabase {
    async fn create() -> (PostgresDatabase, tokio_postgres::Config) {
        let admin = std::env::var("CUSTOMS_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("customs_bus_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("this test needs PostgreSQL at {admin}: {e}"));
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let mut config: tokio_postgres::Config = admin.parse().unwrap();
        config.dbname(&name);
        (PostgresDatabase { admin, name }, config)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let (client, connection) =
                        tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
                    tokio::spawn(connection);
                    client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await
                })
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_follows_every_chain_of_a_postgres_store_and_resumes_each_from_the_stream() {
    let context = jetstream().await;
    let (_database, config) = PostgresDatabase::create().await;
    let store = Arc::new(
        store_postgres::PostgresStore::open(
            config,
            store_postgres::PostgresOptions::production(),
            AuditSigner::from_secret_bytes(&[5; 32]),
        )
        .await
        .expect("the store opens"),
    );
    let register = |from: usize, to: usize| {
        let store = store.clone();
        async move {
            for n in from..to {
                let outcome = store.append(registration(n)).await.unwrap();
                assert!(matches!(outcome, AppendOutcome::Appended { .. }));
            }
        }
    };
    register(0, 60).await;
    let heads = store.chain_heads().await.unwrap();
    assert!(
        heads.iter().filter(|h| **h > 0).count() > 1,
        "the events are in several chains: {heads:?}"
    );
    let test_stream = TestStream::new(&nats_url());
    let stream_config = &test_stream.config;
    let mut relay = Relay::spawn(
        store.clone(),
        Arc::new(JetStreamPublisher::new(stream_config.clone())),
        options(4),
    );
    let status = relay.wait_for(60, WAIT).await;
    assert_eq!(status.published_seq, Some(60), "{status:?}");
    assert_eq!(status.published, heads, "each chain's cursor at its head");
    // Killed; more events commit; a new relay resumes every chain from the stream's last
    // message, publishing each remaining event once.
    relay.task.abort();
    register(60, 90).await;
    let mut relay = Relay::spawn(
        store.clone(),
        Arc::new(JetStreamPublisher::new(stream_config.clone())),
        options(4),
    );
    let status = relay.wait_for(90, WAIT).await;
    assert_eq!(status.published_seq, Some(90), "{status:?}");
    relay.task.abort();

    let mut stream = context.get_stream(&stream_config.stream).await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 90, "every event once");
    let mut consumers: std::collections::HashMap<String, DedupConsumer> = Default::default();
    let mut last_cursors = String::new();
    for sequence in 1..=info.state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let event = BusEvent::from_json(&message.payload).unwrap();
        let consumer = consumers.entry(event.chain.clone()).or_default();
        assert_eq!(
            consumer.accept(event.seq),
            Ok(Delivery::New),
            "chain {} in order, each once",
            event.chain
        );
        last_cursors = message
            .headers
            .get(bus::HEADER_CURSORS)
            .map(|v| v.as_str().to_owned())
            .expect("every message carries the cursors");
    }
    let heads = store.chain_heads().await.unwrap();
    let expected: Vec<String> = heads.iter().map(u64::to_string).collect();
    assert_eq!(
        last_cursors,
        expected.join(","),
        "the last message holds every head"
    );
    let delivered: u64 = consumers.values().map(DedupConsumer::last_seq).sum();
    assert_eq!(delivered, 90);
    store.close();
}

/// Two instances on one PostgreSQL store, each with its relay to one stream, each relay led by
/// its own `store_postgres::Leadership` on the relay's lock: one publishes, the other stands
/// by without asking the stream anything; the leader dies (its relay and its lock's
/// connection gone), the other takes over within `LEADER_TAKEOVER_MAX` and resumes from the
/// stream: every event once, per chain in order, for a deduplicating consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_relays_on_one_postgres_store_one_publishes_and_the_other_takes_over() {
    use store_postgres::{LEADER_TAKEOVER_MAX, Leadership, RELAY_LEADER};
    let context = jetstream().await;
    let (_database, config) = PostgresDatabase::create().await;
    let open = || async {
        Arc::new(
            store_postgres::PostgresStore::open(
                config.clone(),
                store_postgres::PostgresOptions::production(),
                AuditSigner::from_secret_bytes(&[5; 32]),
            )
            .await
            .expect("the store opens"),
        )
    };
    let stores = [open().await, open().await];
    let register = |from: usize, to: usize| {
        let store = stores[0].clone();
        async move {
            for n in from..to {
                let outcome = store.append(registration(n)).await.unwrap();
                assert!(matches!(outcome, AppendOutcome::Appended { .. }));
            }
        }
    };
    register(0, 60).await;
    let test_stream = TestStream::new(&nats_url());
    let stream_config = &test_stream.config;
    let mut instances: Vec<(Leadership, bus::RelayHandle)> = stores
        .iter()
        .map(|store| {
            let leadership = Leadership::start(config.clone(), RELAY_LEADER);
            let relay = Relay::spawn_led(
                store.clone(),
                Arc::new(JetStreamPublisher::new(stream_config.clone())),
                options(4),
                leadership.watch(),
            );
            (leadership, relay)
        })
        .collect();
    // Whichever leads publishes everything; the other never started.
    let started = std::time::Instant::now();
    let leader = loop {
        let leading: Vec<usize> = (0..2).filter(|i| instances[*i].0.is_leading()).collect();
        assert!(leading.len() <= 1, "two lead at once");
        if let [one] = leading[..] {
            break one;
        }
        assert!(started.elapsed() < LEADER_TAKEOVER_MAX, "nobody leads");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let follower = 1 - leader;
    let status = instances[leader].1.wait_for(60, WAIT).await;
    assert_eq!(status.published_seq, Some(60), "{status:?}");
    assert_eq!(status.leading, Some(true));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let standing_by = instances[follower].1.status.borrow().clone();
    assert_eq!(
        (
            standing_by.leading,
            standing_by.published_seq,
            standing_by.failures
        ),
        (Some(false), None, 0),
        "the follower neither published nor was refused: {standing_by:?}"
    );

    // The leader dies: its relay stops and its lock's connection closes with it.
    let (gone_leadership, gone_relay) = instances.remove(leader);
    gone_relay.task.abort();
    let died = std::time::Instant::now();
    drop(gone_leadership);
    register(60, 90).await;
    let (survivor_leadership, survivor) = &mut instances[0];
    let mut leading = survivor_leadership.watch();
    tokio::time::timeout(LEADER_TAKEOVER_MAX, leading.wait_for(|l| *l))
        .await
        .expect("the follower takes over within LEADER_TAKEOVER_MAX")
        .unwrap();
    let took_over = died.elapsed();
    let status = survivor.wait_for(90, WAIT).await;
    assert_eq!(status.published_seq, Some(90), "{status:?}");
    assert_eq!(
        status.failures, 0,
        "it resumed after what the leader published: {status:?}"
    );
    eprintln!("the follower led {took_over:?} after the leader died");
    survivor.task.abort();

    let mut stream = context.get_stream(&stream_config.stream).await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 90, "every event once");
    let mut consumers: std::collections::HashMap<String, DedupConsumer> = Default::default();
    for sequence in 1..=info.state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let event = BusEvent::from_json(&message.payload).unwrap();
        assert_eq!(
            consumers
                .entry(event.chain.clone())
                .or_default()
                .accept(event.seq),
            Ok(Delivery::New),
            "chain {} in order, each once",
            event.chain
        );
    }
    let delivered: u64 = consumers.values().map(DedupConsumer::last_seq).sum();
    assert_eq!(delivered, 90);
    for store in &stores {
        store.close();
    }
}
