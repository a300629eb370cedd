//! The failover drill (issue 13, high availability): PostgreSQL as two Patroni nodes (a primary
//! and its synchronous standby, strict; three etcd members deciding the leader) behind HAProxy,
//! two `customs serve` instances on it, clients lodging at once. The primary's machine is lost
//! (`kill -9` of its Patroni and postmaster, and of one etcd member) mid-way; the standby is
//! promoted; the old primary's machine comes back and rejoins as the synchronous standby
//! (pg_rewind); the instances reconnect; lodging goes on. Then the new primary is lost in turn
//! and the cluster fails back to the first node, which rejoins again. Then: every acknowledged
//! lodging is present exactly once, numbers are unique, the audit chain verifies, and the
//! outages the clients saw are printed. Before the kills: a stalled standby (nothing is
//! acknowledged that it does not have), and a lost standby (strict synchronous replication:
//! a lodging waits, unacknowledged, for as long as no standby streams, and is acknowledged once
//! it is back).
//!
//! The cluster is the real one of `ops/ha/cluster.sh` (Debian's `patroni`, `etcd-server`,
//! `haproxy`, which `.ci/run` installs); the test fails, never skips, when it cannot start it.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clearance::{Clearance, ClearanceConfig, PinnedClock, Role};

use crate::postgres::psql;
use crate::support::{BROKER, EXAMPLE, NOW, TRADER, start_server};

/// Clients lodging at once, each with its own idempotency keys.
const CLIENTS: usize = 6;
/// Lodgings acknowledged before the primary is killed...
const LODGINGS_BEFORE_KILL: usize = 40;
/// ...and sent after it was killed, acknowledged by the new primary.
const LODGINGS_AFTER_KILL: usize = 40;
/// How long the drill waits for lodging to resume after the kill: Patroni's ttl (10 s in
/// ops/ha/patroni.yml) plus a loop, HAProxy's checks and the instances' reconnection fit well
/// inside it.
/// With strict synchronous replication lodging resumes only once the old primary has rejoined
/// as the synchronous standby (crash recovery, pg_rewind: about 15 s more).
const FAILOVER_DEADLINE: Duration = Duration::from_secs(90);
/// Lodgings acknowledged after the second failover (back to the first node).
const LODGINGS_AFTER_FAILBACK: usize = 20;
/// How long the drill keeps the standby down while a lodging waits for it: longer than
/// Patroni's ttl (10 s) plus a loop, after which a leader that is not strict would have dropped
/// the lost standby from synchronous replication and let the commit through from one copy;
/// shorter than the instances' request timeout (30 s), so the lodging is still waiting when the
/// standby returns.
const STANDBY_LOST_HOLD: Duration = Duration::from_secs(15);
/// How long the drill waits for the lodgings before the kill (a cold debug build is slow).
const LODGING_DEADLINE: Duration = Duration::from_secs(60);
/// How long the drill waits for an answer that must not come while the standby is stopped.
const STALL_WAIT: Duration = Duration::from_secs(2);
/// A client whose lodging was taken in continuity (202) waits this long before its next one:
/// with strict synchronous replication the two outages last about 25 s each (promotion, then
/// the old primary's rejoin), and six clients lodging back to back would queue thousands of
/// provisional lodgings, whose reconciliation alone would make the drill minutes longer.
const CONTINUITY_PACE: Duration = Duration::from_secs(1);
/// A client's wait for one answer before it sends the same request again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A client honours Retry-After, but waits at most this long: the drill measures the outage to
/// a fraction of a second.
const RETRY_WAIT_MAX: Duration = Duration::from_millis(250);

fn cluster_script() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../ops/ha/cluster.sh")
}

/// The cluster of `ops/ha/cluster.sh`, stopped (every process by its id) when dropped.
struct Cluster {
    env: HashMap<String, String>,
}

impl Cluster {
    fn start() -> Cluster {
        let output = Command::new(cluster_script())
            .arg("start")
            .output()
            .expect("ops/ha/cluster.sh runs");
        assert!(
            output.status.success(),
            "the PostgreSQL cluster did not start (this test never skips: .ci/run installs \
             patroni, etcd-server and haproxy):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let env = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Cluster { env }
    }

    fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("cluster.sh printed no {key}: {:?}", self.env))
    }

    fn run(&self, command: &str) -> String {
        let output = Command::new(cluster_script())
            .args([command, self.get("HA_DIR")])
            .output()
            .expect("ops/ha/cluster.sh runs");
        assert!(
            output.status.success(),
            "cluster.sh {command} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// `cluster.sh start-node FOLDER NODE`: NODE's machine is back.
    fn start_node(&self, node: &str) {
        let output = Command::new(cluster_script())
            .args(["start-node", self.get("HA_DIR"), node])
            .output()
            .expect("ops/ha/cluster.sh runs");
        assert!(
            output.status.success(),
            "cluster.sh start-node {node} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The member Patroni reports as synchronous standby, if any.
    fn sync_standby(&self) -> Option<String> {
        let status: serde_json::Value =
            serde_json::from_str(&self.run("status")).unwrap_or_default();
        status["members"]
            .as_array()?
            .iter()
            .find(|m| {
                m["role"] == "sync_standby"
                    && (m["state"] == "streaming" || m["state"] == "running")
            })
            .and_then(|m| m["name"].as_str().map(str::to_owned))
    }
}

impl Cluster {
    /// Waits until Patroni reports a synchronous standby streaming from the leader.
    async fn wait_for_sync_standby(&self) {
        let started = Instant::now();
        loop {
            let status: serde_json::Value =
                serde_json::from_str(&self.run("status")).unwrap_or_default();
            let members = status["members"].as_array().cloned().unwrap_or_default();
            if members.iter().any(|m| {
                m["role"] == "sync_standby"
                    && (m["state"] == "streaming" || m["state"] == "running")
            }) {
                return;
            }
            assert!(
                started.elapsed() < FAILOVER_DEADLINE,
                "no synchronous standby within {FAILOVER_DEADLINE:?}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = self.env.get("HA_DIR") {
            let _ = Command::new(cluster_script()).args(["stop", dir]).output();
        }
    }
}

struct Tokens {
    broker: String,
    auditor: String,
}

/// The data folder every instance shares (its audit signing key, made here), and the first
/// administrator, the broker and an auditor recorded in PostgreSQL through the service itself
/// (in the test process, so that the drill holds the signing key it made).
async fn seed(data: &Path, url: &str) -> Tokens {
    std::fs::DirBuilder::new().mode(0o700).create(data).unwrap();
    let secret: [u8; 32] = rand::random();
    let mut key = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(data.join("audit-signing.key"))
        .unwrap();
    key.write_all(hex::encode(secret).as_bytes()).unwrap();
    let signer = audit::AuditSigner::from_secret_bytes(&secret);
    let config = ClearanceConfig {
        audit_public_key: Some(signer.public_key()),
        ..ClearanceConfig::china()
    };
    let store = store_postgres::PostgresStore::connect(
        url,
        store_postgres::PostgresOptions::production(),
        signer,
    )
    .await
    .expect("the seeding process reaches PostgreSQL through HAProxy");
    let clearance = Clearance::new(
        store,
        Arc::new(reference::ReferenceData::embedded().clone()),
        config,
        Arc::new(PinnedClock::parse(NOW).unwrap()),
    );
    let root = clearance.bootstrap_admin("root").await.unwrap();
    let admin = clearance.authenticate(&root.token).await.unwrap();
    for (credit_code, customs_code, name) in [
        (
            TRADER,
            "3115960002",
            "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.",
        ),
        (
            BROKER,
            "3122260001",
            "上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.",
        ),
    ] {
        clearance
            .create_enterprise_as(&admin, credit_code, customs_code, name)
            .await
            .unwrap();
    }
    clearance
        .authorise_broker_as(&admin, BROKER, TRADER)
        .await
        .unwrap();
    clearance
        .create_user_as(&admin, "broker", Role::Broker, Some(BROKER))
        .await
        .unwrap();
    clearance
        .create_user_as(&admin, "auditor", Role::Auditor, None)
        .await
        .unwrap();
    let broker = clearance.issue_token_as(&admin, "broker", None).await;
    let auditor = clearance.issue_token_as(&admin, "auditor", None).await;
    clearance.store().close();
    Tokens {
        broker: broker.unwrap().token,
        auditor: auditor.unwrap().token,
    }
}

/// One lodging a client heard acknowledged (201, or 200 for a resent request).
#[derive(Debug, Clone)]
struct Ack {
    key: String,
    id: String,
    number: String,
    created: bool,
    /// The instance that answered.
    server: usize,
    /// When the lodging was first sent, when the acknowledged attempt was sent, when the
    /// acknowledgement came.
    first_sent: Instant,
    sent: Instant,
    acked: Instant,
}

/// A lodging answered 202 in continuity: its key, provisional reference, the instance that holds
/// it (only that one answers the reference) and when it was sent.
#[derive(Debug, Clone)]
struct Provisional {
    key: String,
    reference: String,
    server: usize,
    first_sent: Instant,
    sent: Instant,
}

/// What all clients saw.
#[derive(Default)]
struct Seen {
    acks: Mutex<Vec<Ack>>,
    /// Answers no client may ever get during a failover: a 500, a 4xx, a 503 without
    /// Retry-After or without its reason in English and Chinese.
    faults: Mutex<Vec<String>>,
    /// Lodgings an instance took into its continuity queue while the store was unreachable
    /// (202 with a provisional reference): each must end with exactly one number.
    provisional: Mutex<Vec<Provisional>>,
    refused: AtomicU64,
    failed_to_connect: AtomicU64,
    timed_out: AtomicU64,
}

struct Client {
    http: reqwest::Client,
    servers: Arc<Vec<String>>,
    token: String,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

impl Client {
    /// Lodges declarations one after another until told to stop, each resent with its
    /// idempotency key until acknowledged, alternating between the instances like a client
    /// behind a load balancer.
    async fn run(self, client: usize) {
        let mut n = 0;
        while !self.stop.load(Ordering::Acquire) {
            let key = format!("drill-{client}-{n}");
            let body = EXAMPLE.replace("Smartphones", &format!("Smartphones drill {client}-{n}"));
            if let Some(ack) = self.lodge(client + n, &key, body).await {
                self.seen.acks.lock().unwrap().push(ack);
            }
            n += 1;
        }
    }

    async fn lodge(&self, first_server: usize, key: &str, body: String) -> Option<Ack> {
        let first_sent = Instant::now();
        for attempt in 0.. {
            if first_sent.elapsed() > FAILOVER_DEADLINE + LODGING_DEADLINE {
                self.fault(format!("{key}: not acknowledged after {attempt} attempts"));
                return None;
            }
            let server = (first_server + attempt) % self.servers.len();
            let sent = Instant::now();
            let answer = self
                .http
                .post(format!("http://{}/v1/declarations", self.servers[server]))
                .bearer_auth(&self.token)
                .header("Idempotency-Key", key)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await;
            let response = match answer {
                Ok(response) => response,
                Err(err) => {
                    let counter = if err.is_timeout() {
                        &self.seen.timed_out
                    } else {
                        &self.seen.failed_to_connect
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(RETRY_WAIT_MAX).await;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            let text = response.text().await.unwrap_or_default();
            match status {
                200 | 201 => {
                    let receipt: serde_json::Value = serde_json::from_str(&text).unwrap();
                    return Some(Ack {
                        key: key.to_owned(),
                        id: receipt["id"].as_str().unwrap_or_default().to_owned(),
                        number: receipt["number"].as_str().unwrap_or_default().to_owned(),
                        created: status == 201,
                        server,
                        first_sent,
                        sent,
                        acked: Instant::now(),
                    });
                }
                202 => {
                    let receipt: serde_json::Value =
                        serde_json::from_str(&text).unwrap_or_default();
                    let Some(reference) = receipt["provisional_reference"].as_str() else {
                        self.fault(format!(
                            "{key}: a 202 without a provisional reference: {text}"
                        ));
                        return None;
                    };
                    self.seen.provisional.lock().unwrap().push(Provisional {
                        key: key.to_owned(),
                        reference: reference.to_owned(),
                        server,
                        first_sent,
                        sent,
                    });
                    tokio::time::sleep(CONTINUITY_PACE).await;
                    return None;
                }
                503 => {
                    self.seen.refused.fetch_add(1, Ordering::Relaxed);
                    let problem: serde_json::Value =
                        serde_json::from_str(&text).unwrap_or_default();
                    if retry_after.is_none()
                        || problem["detail"].as_str().is_none()
                        || problem["detail_zh"].as_str().is_none()
                    {
                        self.fault(format!(
                            "{key}: a 503 without Retry-After or its reason in both languages: {text}"
                        ));
                    }
                    let wait = Duration::from_secs(retry_after.unwrap_or(1));
                    tokio::time::sleep(wait.min(RETRY_WAIT_MAX)).await;
                }
                _ => {
                    self.fault(format!("{key}: answered {status}: {text}"));
                    return None;
                }
            }
        }
        unreachable!("the loop returns")
    }

    fn fault(&self, what: String) {
        self.seen.faults.lock().unwrap().push(what);
    }
}

/// Before the kill, with the standby's PostgreSQL stopped (SIGSTOP): a lodging is not
/// acknowledged while the synchronous standby cannot take it (its COMMIT waits). Its session is
/// then terminated, as by an operator clearing stuck sessions: PostgreSQL keeps the commit
/// locally and shows it to other sessions, though the standby never got it. Neither the
/// instance that lodged it (which looks the key up after the failed commit) nor the other one,
/// to which it is resent meanwhile, may acknowledge it: an instance confirms what it read
/// durable before it answers from it. Once the standby resumes, the resend is acknowledged,
/// stored once.
async fn stalled_standby_acknowledges_nothing(cluster: &Cluster, url: &str, client: &Client) {
    // A first lodging on instance 0 reserves its block of serials (that reservation is a commit
    // too, which would wait for the standby before the lodging reached its own).
    let warm_up = client
        .lodge(
            0,
            "drill-warm-up",
            EXAMPLE.replace("Smartphones", "Smartphones drill warm-up"),
        )
        .await
        .expect("a lodging before the stall");
    client.seen.acks.lock().unwrap().push(warm_up);

    let key = "drill-stalled";
    let body = EXAMPLE.replace("Smartphones", "Smartphones drill stalled");
    let send = |server: usize, wait: Duration| {
        client
            .http
            .post(format!("http://{}/v1/declarations", client.servers[server]))
            .bearer_auth(&client.token)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .timeout(wait)
            .send()
    };
    let superuser = cluster.get("HA_SUPERUSER_URL");
    let waiting_for_standby = "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = 'customs' AND wait_event = 'SyncRep'";
    cluster.run("pause-standby");
    let first = tokio::spawn(send(0, STALL_WAIT * 2));
    let started = Instant::now();
    while psql(superuser, waiting_for_standby) != "1" {
        assert!(
            started.elapsed() < STALL_WAIT * 2,
            "the stalled lodging's COMMIT never waited for the standby"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!first.is_finished(), "answered before the standby had it");
    psql(
        superuser,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = 'customs' AND wait_event = 'SyncRep'",
    );
    // The primary now shows the lodging the standby never got.
    let visible = psql(url, "SELECT count(*) FROM declarations");
    // Resent at once to the other instance, while the first waits: the standby stays stopped
    // no longer than STALL_WAIT or so.
    let (first, resent) = tokio::join!(first, send(1, STALL_WAIT));
    let first_status = first.unwrap().map(|r| r.status().as_u16());
    let resent_status = resent.as_ref().map(|r| r.status().as_u16());
    cluster.run("resume-standby");
    // Its session cut, the instance looks the key up (the commit might have been made), finds
    // the lodging the primary shows, and must not answer from it before the standby has it:
    // the client hears nothing, or 503, never 201.
    assert!(
        matches!(&first_status, Err(err) if err.is_timeout()) || matches!(first_status, Ok(503)),
        "a lodging whose commit the standby never got was answered: {first_status:?}"
    );
    assert_eq!(visible, "2", "the terminated commit stays on the primary");
    assert!(
        !matches!(resent_status, Ok(200 | 201)),
        "a lodging resent before the standby had it was acknowledged: {resent_status:?}"
    );
    let ack = client
        .lodge(0, key, body.clone())
        .await
        .expect("the stalled lodging is acknowledged once the standby resumes");
    assert!(!ack.created, "the resend found the first lodging: {ack:?}");
    client.seen.acks.lock().unwrap().push(ack);
}

/// What the lost standby cost: how long the lodging waited, and how long after the standby's
/// machine came back it was acknowledged.
struct StandbyLost {
    waited: Duration,
    after_return: Duration,
}

/// Strict synchronous replication: the standby's machine is lost (`kill -9` of its Patroni and
/// postmaster). A lodging sent then is not acknowledged while no standby streams, even after
/// Patroni's ttl (a leader that is not strict would by then have dropped the standby from
/// synchronous replication and let the commit through from one copy): the primary keeps
/// `synchronous_standby_names = '*'` and the COMMIT waits. Once the standby's machine is back
/// it rejoins, and the lodging is acknowledged (or, had the instance's request timeout answered
/// 503 first, its resend is), stored once.
async fn lost_standby_blocks_lodging(cluster: &Cluster, client: &Client) -> StandbyLost {
    let key = "drill-standby-lost";
    let body = EXAMPLE.replace("Smartphones", "Smartphones drill standby lost");
    let superuser = cluster.get("HA_SUPERUSER_URL");
    let leader = cluster.run("leader");
    let standby = cluster.run("kill-standby");
    let lost = Instant::now();
    let first_sent = Instant::now();
    let first = tokio::spawn(
        client
            .http
            .post(format!("http://{}/v1/declarations", client.servers[0]))
            .bearer_auth(&client.token)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .timeout(FAILOVER_DEADLINE)
            .send(),
    );
    let waiting_for_standby = "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = 'customs' AND wait_event = 'SyncRep'";
    while psql(superuser, waiting_for_standby) == "0" {
        assert!(
            lost.elapsed() < STANDBY_LOST_HOLD,
            "the lodging's COMMIT never waited for the lost standby"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(STANDBY_LOST_HOLD.saturating_sub(lost.elapsed())).await;
    assert!(
        !first.is_finished(),
        "a lodging was answered {:?} after the standby was lost (strict mode must hold it)",
        lost.elapsed()
    );
    assert_eq!(
        psql(superuser, "SHOW synchronous_standby_names"),
        "*",
        "strict mode: the primary waits for any standby"
    );
    assert_eq!(cluster.run("leader"), leader, "the primary kept its lead");
    assert_eq!(cluster.sync_standby(), None, "{}", cluster.run("status"));

    cluster.start_node(&standby);
    let back = Instant::now();
    let answer = first
        .await
        .unwrap()
        .expect("an answer once the standby is back");
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    let ack = match status {
        201 => {
            let receipt: serde_json::Value = serde_json::from_str(&text).unwrap();
            Ack {
                key: key.to_owned(),
                id: receipt["id"].as_str().unwrap().to_owned(),
                number: receipt["number"].as_str().unwrap().to_owned(),
                created: true,
                server: 0,
                first_sent,
                sent: first_sent,
                acked: Instant::now(),
            }
        }
        // The instance's request timeout answered before the standby was back: the client
        // resends, as any client does.
        503 => client
            .lodge(0, key, body)
            .await
            .expect("the lodging is acknowledged once the standby is back"),
        _ => panic!("a lodging waiting for the lost standby was answered {status}: {text}"),
    };
    let figures = StandbyLost {
        waited: ack.acked - first_sent,
        after_return: ack.acked - back,
    };
    client.seen.acks.lock().unwrap().push(ack);
    cluster.wait_for_sync_standby().await;
    figures
}

/// One failover, as seen from beside the lodging.
struct Failover {
    killed: Instant,
    old_leader: String,
    new_leader: String,
    /// From the kill to Patroni naming another leader.
    promoted: Duration,
    /// From the kill to the old primary streaming again as the synchronous standby.
    rejoined: Duration,
}

/// Loses the primary's machine (and, with `etcd_too`, one etcd member), then, once Patroni has
/// named the standby leader, brings the old primary's machine back: it rejoins as the
/// synchronous standby (pg_rewind after crash recovery, or a new clone). Returns at once; the
/// task answers when the cluster is again a primary and a synchronous standby.
fn lose_primary(cluster: &Cluster, etcd_too: bool) -> tokio::task::JoinHandle<Failover> {
    let script = cluster_script();
    let dir = cluster.get("HA_DIR").to_owned();
    if etcd_too {
        cluster.run("kill-etcd");
    }
    let old_leader = cluster.run("kill-primary");
    let killed = Instant::now();
    let status = move || -> serde_json::Value {
        let out = Command::new(script).args(["status", &dir]).output();
        out.ok()
            .and_then(|out| serde_json::from_slice(&out.stdout).ok())
            .unwrap_or_default()
    };
    let in_role = |status: &serde_json::Value, role: &str| -> Option<String> {
        status["members"]
            .as_array()?
            .iter()
            .find(|m| m["role"] == role && (m["state"] == "running" || m["state"] == "streaming"))
            .and_then(|m| m["name"].as_str().map(str::to_owned))
    };
    let start_node = {
        let dir = cluster.get("HA_DIR").to_owned();
        move |node: &str| {
            let out = Command::new(script)
                .args(["start-node", &dir, node])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    tokio::task::spawn_blocking(move || {
        let (new_leader, promoted) = loop {
            let now = status();
            if let Some(leader) = in_role(&now, "leader")
                && leader != old_leader
            {
                break (leader, killed.elapsed());
            }
            assert!(
                killed.elapsed() < FAILOVER_DEADLINE,
                "no new leader within {FAILOVER_DEADLINE:?}: {now}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        start_node(&old_leader);
        let rejoined = loop {
            let now = status();
            if in_role(&now, "sync_standby").as_deref() == Some(old_leader.as_str())
                && in_role(&now, "leader").as_deref() == Some(new_leader.as_str())
            {
                break killed.elapsed();
            }
            assert!(
                killed.elapsed() < FAILOVER_DEADLINE,
                "{old_leader} did not rejoin as the synchronous standby within \
                 {FAILOVER_DEADLINE:?}: {now}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        Failover {
            killed,
            old_leader,
            new_leader,
            promoted,
            rejoined,
        }
    })
}

/// The lodging a provisional reference became once its instance reconciled it, asked of that
/// instance until it is no longer queued (at most `FAILOVER_DEADLINE + LODGING_DEADLINE`).
async fn reconciled(
    http: &reqwest::Client,
    addresses: &[String],
    token: &str,
    taken: &Provisional,
) -> Ack {
    let at = &addresses[taken.server];
    let started = Instant::now();
    let settled = loop {
        let answer = http
            .get(format!("http://{at}/v1/declarations/{}", taken.reference))
            .bearer_auth(token)
            .send()
            .await;
        if let Ok(answer) = answer
            && answer.status() == 200
        {
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            if body["status"] != "queued" {
                break body;
            }
        }
        assert!(
            started.elapsed() < FAILOVER_DEADLINE + LODGING_DEADLINE,
            "{} ({}) still not reconciled",
            taken.reference,
            taken.key
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(settled["status"], "reconciled", "{}: {settled}", taken.key);
    let number = settled["number"].as_str().unwrap().to_owned();
    let read: serde_json::Value = http
        .get(format!("http://{at}/v1/declarations/{number}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Ack {
        key: taken.key.clone(),
        id: read["id"].as_str().unwrap().to_owned(),
        number,
        created: true,
        server: taken.server,
        first_sent: taken.first_sent,
        sent: taken.sent,
        acked: Instant::now(),
    }
}

/// Waits until `done` holds, failing with `what` after `deadline`.
async fn wait_for(what: &str, deadline: Duration, seen: &Seen, done: impl Fn(&[Ack]) -> bool) {
    let started = Instant::now();
    loop {
        if done(&seen.acks.lock().unwrap()) {
            return;
        }
        let faults = seen.faults.lock().unwrap().clone();
        assert!(faults.is_empty(), "while waiting for {what}: {faults:#?}");
        assert!(
            started.elapsed() < deadline,
            "{what}: not within {deadline:?} ({} acknowledged)",
            seen.acks.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_drill_loses_no_acknowledged_lodging() {
    let drill_started = Instant::now();
    let cluster = Cluster::start();
    let url = cluster.get("HA_DATABASE_URL").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tokens = seed(&data, &url).await;

    // Two instances on one database through HAProxy, one after the other (the first makes the
    // folder's other keys).
    // Killed when dropped: a failed assertion leaves no process behind.
    let mut servers = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..2 {
        let (child, address, printed) = start_server(
            &data,
            // One broker's six clients resending every 250 ms through an outage: the drill
            // measures the failover, not the per-client rate (429 would count as a fault).
            &["--database", &url, "--rate-per-client", "1000000"],
            NOW,
        )
        .unwrap_or_else(|printed| panic!("serve --database did not start:\n{printed}"));
        assert!(printed.contains("Records: PostgreSQL"), "{printed}");
        servers.push(crate::instances::Killed(child));
        addresses.push(address);
    }

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::new();
    let addresses = Arc::new(addresses);

    let first_client = Client {
        http: http.clone(),
        servers: addresses.clone(),
        token: tokens.broker.clone(),
        seen: seen.clone(),
        stop: stop.clone(),
    };
    stalled_standby_acknowledges_nothing(&cluster, &url, &first_client).await;
    let standby_lost = lost_standby_blocks_lodging(&cluster, &first_client).await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let client = Client {
                http: http.clone(),
                servers: addresses.clone(),
                token: tokens.broker.clone(),
                seen: seen.clone(),
                stop: stop.clone(),
            };
            tokio::spawn(client.run(i))
        })
        .collect();

    wait_for(
        "lodgings before the kill",
        LODGING_DEADLINE,
        &seen,
        |acks| acks.len() >= LODGINGS_BEFORE_KILL,
    )
    .await;
    // Patroni promotes only the synchronous standby: wait until there is one before the
    // primary's machine is lost, with one etcd member.
    cluster.wait_for_sync_standby().await;
    let failover = lose_primary(&cluster, true);
    let killed = Instant::now();
    let sent_after = |since: Instant, acks: &[Ack]| acks.iter().filter(|a| a.sent > since).count();
    wait_for(
        "lodgings after the kill",
        FAILOVER_DEADLINE,
        &seen,
        |acks| sent_after(killed, acks) >= LODGINGS_AFTER_KILL,
    )
    .await;
    let failover = failover.await.unwrap();
    assert_ne!(failover.new_leader, failover.old_leader);
    // The old primary is back as the synchronous standby: lose the new primary in turn, and the
    // cluster fails back to the first node.
    let failback = lose_primary(&cluster, false);
    let killed_again = Instant::now();
    wait_for(
        "lodgings after the failback",
        FAILOVER_DEADLINE,
        &seen,
        |acks| sent_after(killed_again, acks) >= LODGINGS_AFTER_FAILBACK,
    )
    .await;
    let failback = failback.await.unwrap();
    assert_eq!(failback.old_leader, failover.new_leader);
    assert_eq!(
        failback.new_leader, failover.old_leader,
        "failed back to the first primary"
    );
    stop.store(true, Ordering::Release);
    for client in clients {
        client.await.unwrap();
    }
    let faults = seen.faults.lock().unwrap().clone();
    assert!(faults.is_empty(), "{faults:#?}");
    // What continuity took while the store was unreachable is lodged once it is back: each
    // provisional reference ends with its number, and counts as acknowledged from then on.
    let provisional = seen.provisional.lock().unwrap().clone();
    for taken in &provisional {
        let ack = reconciled(&http, &addresses, &tokens.broker, taken).await;
        seen.acks.lock().unwrap().push(ack);
    }
    eprintln!(
        "failover drill: {} lodgings taken in continuity (202) during the outage, each reconciled",
        provisional.len()
    );
    let acks = seen.acks.lock().unwrap().clone();

    // The first node leads again, the second is its synchronous standby.
    assert_eq!(
        cluster.run("leader"),
        failover.old_leader,
        "{}",
        cluster.run("status")
    );
    assert_eq!(
        cluster.sync_standby().as_deref(),
        Some(failover.new_leader.as_str()),
        "{}",
        cluster.run("status")
    );

    // Every acknowledged lodging is present exactly once, under the number it was given.
    let keys: HashSet<&str> = acks.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys.len(), acks.len(), "each lodging acknowledged once");
    let numbers: HashSet<&str> = acks.iter().map(|a| a.number.as_str()).collect();
    assert_eq!(numbers.len(), acks.len(), "no number given twice");
    let stored: HashMap<String, String> = psql(&url, "SELECT number, id FROM declarations")
        .lines()
        .filter_map(|line| line.split_once('|'))
        .map(|(number, id)| (number.to_owned(), id.to_owned()))
        .collect();
    for ack in &acks {
        assert_eq!(
            stored.get(&ack.number),
            Some(&ack.id),
            "acknowledged lodging {} ({}) is not stored as acknowledged",
            ack.key,
            ack.number
        );
    }
    // Every client lodging was resent until acknowledged: one declaration per key, no more.
    assert_eq!(
        stored.len(),
        acks.len(),
        "a lodging stored twice or unacknowledged"
    );
    assert_eq!(
        psql(
            &url,
            "SELECT count(*) FROM (SELECT number FROM declarations GROUP BY number \
             HAVING count(*) > 1) duplicated"
        ),
        "0"
    );

    // Both instances reconnected: each acknowledged lodgings sent after each kill, and each
    // reads back one lodged by the other before it.
    for server in 0..addresses.len() {
        for (kill, since) in [("failover", killed), ("failback", killed_again)] {
            assert!(
                acks.iter().any(|a| a.server == server && a.sent > since),
                "instance {server} acknowledged nothing after the {kill}"
            );
        }
    }
    let before_kill = acks.iter().find(|a| a.acked < killed).unwrap();
    for address in addresses.iter() {
        let read: serde_json::Value = http
            .get(format!(
                "http://{address}/v1/declarations/{}",
                before_kill.number
            ))
            .bearer_auth(&tokens.broker)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(read["id"], before_kill.id.as_str(), "{read}");
    }

    // The audit chain verifies after the failover.
    let verification: serde_json::Value = http
        .get(format!("http://{}/v1/audit/verification", addresses[0]))
        .bearer_auth(&tokens.auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The instances reach PostgreSQL over TLS (sslmode=verify-full with the cluster's CA, in
    // HA_DATABASE_URL; the nodes' pg_hba.conf admits nothing else over TCP).
    let sessions = |encrypted: bool| {
        psql(
            cluster.get("HA_SUPERUSER_URL"),
            &format!(
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.datname = 'customs' AND s.ssl = {encrypted}"
            ),
        )
    };
    assert_eq!(
        sessions(false),
        "0",
        "a session of the instances without TLS"
    );
    assert_ne!(sessions(true), "0", "no session of the instances seen");

    // What the clients saw (printed: `cargo test ... -- --nocapture`).
    let outage = |failover: &Failover| {
        let first_after = acks
            .iter()
            .filter(|a| a.sent > failover.killed)
            .map(|a| a.acked)
            .min()
            .unwrap();
        format!(
            "{} killed (kill -9), {} leader after {:.1} s, {} rejoined as synchronous standby \
             after {:.1} s, outage (kill to first lodging acknowledged that was sent after it) \
             {:.1} s",
            failover.old_leader,
            failover.new_leader,
            failover.promoted.as_secs_f64(),
            failover.old_leader,
            failover.rejoined.as_secs_f64(),
            (first_after - failover.killed).as_secs_f64()
        )
    };
    let longest = acks.iter().map(|a| a.acked - a.first_sent).max().unwrap();
    let replayed = acks.iter().filter(|a| !a.created).count();
    eprintln!(
        "failover drill: standby lost: a lodging waited {:.1} s unacknowledged, acknowledged \
         {:.1} s after the standby's machine was back",
        standby_lost.waited.as_secs_f64(),
        standby_lost.after_return.as_secs_f64()
    );
    eprintln!(
        "failover drill: failover (one etcd member lost too): {}",
        outage(&failover)
    );
    eprintln!("failover drill: failback: {}", outage(&failback));
    eprintln!(
        "failover drill: {} lodgings acknowledged by {} instances from {CLIENTS} clients, {} \
         stored, duplicated numbers 0; longest single lodging {:.1} s; {} \
         answers 503, {} connection failures, {} time-outs, {replayed} acknowledged as resent \
         (200); audit chain intact over {} entries; drill {:.0} s",
        acks.len(),
        addresses.len(),
        stored.len(),
        longest.as_secs_f64(),
        seen.refused.load(Ordering::Relaxed),
        seen.failed_to_connect.load(Ordering::Relaxed),
        seen.timed_out.load(Ordering::Relaxed),
        verification["entries_checked"],
        drill_started.elapsed().as_secs_f64(),
    );
    assert_eq!(verification["intact"], true, "{verification:#}");
    drop(servers);
    drop(cluster);
}
