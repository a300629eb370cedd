//! Two `serve --database --bus` instances on one PostgreSQL database and one NATS stream: one
//! instance at a time holds the relay's lock and publishes, one at a time holds the drift
//! check's; the relay's holder killed (-9), the other instance holds the lock within
//! `LEADER_TAKEOVER_MAX` and publishes what was committed meanwhile: the stream holds every
//! event once, per chain in order. Against the real PostgreSQL and NATS; fails, never skips.

use std::time::{Duration, Instant};

use crate::instances::admin;
use crate::postgres::{TestDatabase, psql};
use crate::worker::start;

/// How long the instances may take to publish what is committed (the relay polls every 100 ms;
/// the margin is for a loaded CI machine).
const WAIT: Duration = Duration::from_secs(60);

/// The process ids holding the advisory lock `key` on the database at `url`, read from the
/// holding connections' application names (`customs-<lock>-leader:<pid>`).
fn holders(url: &str, key: i64) -> Vec<u32> {
    let names = psql(
        url,
        &format!(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND ((l.classid::bigint << 32) | l.objid::bigint) = {key}"
        ),
    );
    names
        .lines()
        .map(|name| {
            name.rsplit_once(':')
                .and_then(|(_, pid)| pid.parse().ok())
                .unwrap_or_else(|| panic!("a leader's connection is named {name:?}"))
        })
        .collect()
}

/// Waits until one of `among` holds `key`, and only one; its pid.
fn one_holder(url: &str, key: i64, among: &[u32], within: Duration) -> u32 {
    let started = Instant::now();
    loop {
        let held = holders(url, key);
        assert!(held.len() <= 1, "two sessions hold lock {key}: {held:?}");
        if let [pid] = held[..] {
            assert!(
                among.contains(&pid),
                "lock {key} held by {pid}, not one of {among:?}"
            );
            return pid;
        }
        assert!(
            started.elapsed() < within,
            "nobody holds lock {key} after {:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the stream holds as many messages as the database has events; that number.
async fn until_published(url: &str, stream: &str) -> u64 {
    let context = bus::testing::jetstream().await;
    let started = Instant::now();
    loop {
        let events: u64 = psql(url, "SELECT count(*) FROM events").parse().unwrap();
        let published = match context.get_stream(stream).await {
            Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        };
        if published == events && events > 0 {
            return events;
        }
        assert!(
            published <= events,
            "the stream holds {published} messages for {events} events"
        );
        assert!(
            started.elapsed() < WAIT,
            "the stream holds {published} messages, the database {events} events"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_instances_one_relays_and_one_checks_drift_and_the_relay_is_taken_over() {
    use store_postgres::{DRIFT_LEADER, LEADER_TAKEOVER_MAX, RELAY_LEADER};
    let database = TestDatabase::create();
    let url = database.url();
    let nats = bus::testing::nats_url();
    let test_stream = bus::testing::TestStream::new(&nats);
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let root = admin(&data_a, &url, None, &["init", "--name", "root"]);
    // Every instance holds the same keys (docs/operations.md).
    std::fs::create_dir_all(&data_b).unwrap();
    for key in ["audit-signing.key", "buyer-id.key"] {
        std::fs::copy(data_a.join(key), data_b.join(key)).unwrap();
    }
    let bus_env = [
        ("CUSTOMS_BUS_STREAM", test_stream.config.stream.as_str()),
        (
            "CUSTOMS_BUS_SUBJECT_PREFIX",
            test_stream.config.subject_prefix.as_str(),
        ),
    ];
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &url,
        "--bus",
        &nats,
    ];
    let (a, at_a) = start(&data_a, &serve, &bus_env, "listening on http://");
    let (b, at_b) = start(&data_b, &serve, &bus_env, "listening on http://");
    let mut instances = vec![a, b];
    let pids: Vec<u32> = instances.iter().map(|i| i.0.id()).collect();

    // One holder of each lock, and it stays so.
    let relay = one_holder(&url, RELAY_LEADER.key, &pids, LEADER_TAKEOVER_MAX);
    let drift = one_holder(&url, DRIFT_LEADER.key, &pids, LEADER_TAKEOVER_MAX);
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(holders(&url, RELAY_LEADER.key), vec![relay]);
        assert_eq!(holders(&url, DRIFT_LEADER.key), vec![drift]);
    }
    // Each instance tells its operators which locks it holds.
    for (pid, at) in pids.iter().zip([&at_a, &at_b]) {
        until_gauge(at, "relay", u8::from(*pid == relay)).await;
        until_gauge(at, "drift", u8::from(*pid == drift)).await;
    }
    // Events committed (by `admin`, a third process) are published by the relay's holder.
    for n in 0..8 {
        admin(
            &data_a,
            &url,
            Some(&root),
            &["user", "--name", &format!("clerk-{n}"), "--role", "officer"],
        );
    }
    let events = until_published(&url, &test_stream.config.stream).await;
    read_the_whole_record(&at_a, &root, events).await;

    // The relay's holder dies: the other instance takes the lock and publishes on.
    let killed = pids.iter().position(|pid| *pid == relay).unwrap();
    let mut gone = instances.remove(killed);
    let died = Instant::now();
    gone.0.kill().unwrap();
    gone.0.wait().unwrap();
    let survivor = instances[0].0.id();
    assert_eq!(
        one_holder(&url, RELAY_LEADER.key, &[survivor], LEADER_TAKEOVER_MAX),
        survivor
    );
    let at_survivor = if survivor == pids[0] { &at_a } else { &at_b };
    until_gauge(at_survivor, "relay", 1).await;
    eprintln!(
        "the relay's lock was taken over {:?} after the kill",
        died.elapsed()
    );
    assert_eq!(
        one_holder(&url, DRIFT_LEADER.key, &[survivor], LEADER_TAKEOVER_MAX),
        survivor,
        "the drift check's lock too, if the dead instance held it"
    );
    for n in 8..14 {
        admin(
            &data_a,
            &url,
            Some(&root),
            &["user", "--name", &format!("clerk-{n}"), "--role", "officer"],
        );
    }
    let events = until_published(&url, &test_stream.config.stream).await;

    // Every event once, each chain in order, for a deduplicating consumer.
    let context = bus::testing::jetstream().await;
    let mut stream = context
        .get_stream(&test_stream.config.stream)
        .await
        .unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, events);
    let mut consumers: std::collections::HashMap<String, bus::DedupConsumer> = Default::default();
    for sequence in 1..=info.state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let event = bus::BusEvent::from_json(&message.payload).unwrap();
        assert_eq!(
            consumers
                .entry(event.chain.clone())
                .or_default()
                .accept(event.seq),
            Ok(bus::Delivery::New),
            "chain {} in order, each once",
            event.chain
        );
    }
    let delivered: u64 = consumers.values().map(bus::DedupConsumer::last_seq).sum();
    assert_eq!(delivered, events);
}

/// Waits (at most a second) until the instance at `at` says in `/metrics` that it holds `lock`
/// (1) or not (0).
async fn until_gauge(at: &str, lock: &str, expected: u8) {
    let line = format!("customs_leader{{lock=\"{lock}\"}} {expected}");
    let started = Instant::now();
    loop {
        let text = reqwest::get(format!("http://{at}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.lines().any(|l| l == line) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{at} does not say {line}:\n{}",
            text.lines()
                .filter(|l| l.contains("customs_leader"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /v1/audit/entries` on PostgreSQL, three entries a page: every chain's entries, by their
/// global number, each with its chain, row and seq, none missing or repeated across pages.
async fn read_the_whole_record(at: &str, token: &str, events: u64) {
    let http = reqwest::Client::new();
    let mut listed: Vec<serde_json::Value> = Vec::new();
    let mut after = 0;
    loop {
        let page: serde_json::Value = http
            .get(format!(
                "http://{at}/v1/audit/entries?after={after}&limit=3"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let entries = page["entries"].as_array().unwrap();
        listed.extend(entries.iter().cloned());
        match page["next_after"].as_u64() {
            Some(next) => {
                assert_eq!(entries.len(), 3, "{page}");
                assert_eq!(Some(next), entries.last().unwrap()["row"].as_u64());
                after = next;
            }
            None => break,
        }
    }
    assert_eq!(listed.len() as u64, events, "every entry of every chain");
    let rows: Vec<u64> = listed.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
    let mut chains: std::collections::HashMap<u64, Vec<u64>> = Default::default();
    for entry in &listed {
        chains
            .entry(entry["chain"].as_u64().unwrap())
            .or_default()
            .push(entry["seq"].as_u64().unwrap());
    }
    assert!(chains.len() > 1, "several chains: {chains:?}");
    for (chain, seqs) in &chains {
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, &expected, "chain {chain} whole, in order");
    }
}
