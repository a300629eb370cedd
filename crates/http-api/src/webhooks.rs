//! Delivering receipts to each enterprise's webhook (issue 14).
//!
//! **What is sent.** Each receipt of the enterprise's feed (`Clearance::enterprise_receipts`,
//! built from the trade's allow-list) is POSTed on its own, rendered in the format its
//! declaration was lodged in (`renderer`), with:
//! - `Customs-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (the
//!   scheme of Stripe's webhooks): a receiver recomputes it with the secret it was given at
//!   registration, compares in constant time, and refuses a `t` older than a few minutes
//!   (replay). Nothing is ever sent without it.
//! - `Customs-Webhook-Id`, `Customs-Receipt-Cursor` (the receipt's feed cursor: a receiver that
//!   sees one twice has it already; delivery is at least once) and `Customs-Declaration-Id`.
//!
//! **Retries.** A delivery fails on a transport error, a timeout ([`DELIVERY_REQUEST_TIMEOUT`])
//! or an answer other than 2xx; it is tried [`DELIVERY_ATTEMPTS`] times, waiting between
//! attempts an exponential back-off from [`DELIVERY_FIRST_DELAY`], capped at
//! [`DELIVERY_DELAY_MAX`], with "equal jitter" (half fixed, half random). After the last
//! attempt the receipt becomes a dead letter (readable and redeliverable by the enterprise) and
//! delivery moves on: receipts are sent in order per enterprise, one at a time.
//!
//! **Nothing lost.** The cursor of the last receipt delivered (or dead-lettered) is in the
//! store, moved only after the receiver answered 2xx (or the dead letter was written); the feed
//! is read from the record. A restarted deliverer resumes after that cursor.
//!
//! **One deliverer per enterprise.** On PostgreSQL, several instances run a deliverer each; an
//! enterprise's receipts are delivered by the one holding its lease (a conditional UPDATE of
//! the webhook's row: free, expired or already its own), lasting one attempt and a margin,
//! renewed before each attempt and while waiting between attempts. An instance that stops
//! gives its leases up ([`DelivererHandle::stop`]); one that dies leaves them to expire. The
//! next holder resumes from the stored cursor (so a receipt in flight may be sent twice).
//!
//! **SSRF.** URLs are http or https; a target on a private, loopback or link-local network is
//! refused at registration and at each delivery (after resolving the host) unless the operator
//! allowed it (`serve.webhook_private_targets = "yes"`,
//! `CUSTOMS_WEBHOOK_PRIVATE_TARGETS=yes`). A host name is resolved and checked before each
//! attempt and then resolved again by the client, so a name that changes its address between
//! the two (DNS rebinding) is not caught: where that matters, send webhooks through an egress
//! proxy that refuses private networks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clearance::receipts::{is_private_host, is_private_ip, render_json};
use clearance::{Clearance, ClearanceError};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use store::{DeadLetterRow, DeliveryChange, Store, WebhookRow};
use wire::MessageFormat;
use wire::views::FeedReceiptView;

/// Attempts of one receipt before it becomes a dead letter.
pub const DELIVERY_ATTEMPTS: u32 = 8;
/// The wait after the first failed attempt; doubled after each failure.
pub const DELIVERY_FIRST_DELAY: Duration = Duration::from_secs(2);
/// The longest wait between two attempts.
pub const DELIVERY_DELAY_MAX: Duration = Duration::from_secs(300);
/// The longest one attempt may take, connection included.
pub const DELIVERY_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the deliverer looks for new receipts and new webhooks.
pub const DELIVERY_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Receipts read per page of the feed while delivering.
pub const DELIVERY_BATCH: usize = 100;
/// What a lease lasts beyond one attempt and the wait after it: slack for a slow store.
pub const DELIVERY_LEASE_MARGIN: Duration = Duration::from_secs(20);
/// Bytes of an error kept with a dead letter.
pub const DELIVERY_ERROR_LENGTH_MAX: usize = 500;

pub const SIGNATURE_HEADER: &str = "customs-signature";
pub const WEBHOOK_ID_HEADER: &str = "customs-webhook-id";
pub const CURSOR_HEADER: &str = "customs-receipt-cursor";
pub const DECLARATION_HEADER: &str = "customs-declaration-id";

/// How the deliverer works: the production constants, or a test's shorter ones.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub delay_max: Duration,
    pub request_timeout: Duration,
    pub poll_interval: Duration,
    /// See [`DELIVERY_LEASE_MARGIN`].
    pub lease_margin: Duration,
    /// Whether targets on private networks are allowed (see the module's SSRF note).
    pub private_targets: bool,
}

impl DeliveryPolicy {
    pub fn production(private_targets: bool) -> DeliveryPolicy {
        DeliveryPolicy {
            attempts: DELIVERY_ATTEMPTS,
            first_delay: DELIVERY_FIRST_DELAY,
            delay_max: DELIVERY_DELAY_MAX,
            request_timeout: DELIVERY_REQUEST_TIMEOUT,
            poll_interval: DELIVERY_POLL_INTERVAL,
            lease_margin: DELIVERY_LEASE_MARGIN,
            private_targets,
        }
    }

    /// The wait after failed attempt `attempt` (1-based): exponential, capped, equal jitter.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exponential = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.delay_max);
        let half = exponential / 2;
        half + half.mul_f64(rand::thread_rng().r#gen::<f64>())
    }

    /// How long a lease lasts: one attempt and the margin. It is renewed before each attempt
    /// and while waiting between attempts, so a dead instance's lease expires soon.
    fn lease(&self) -> Duration {
        self.request_timeout + self.lease_margin
    }
}

/// The `Customs-Signature` value of a body sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// A receiver's check of a signature: the MAC in constant time, and a timestamp no further than
/// `tolerance_seconds` from `now` (unix seconds).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_seconds: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if (now - timestamp).abs() > tolerance_seconds {
        return false;
    }
    signatures.iter().any(|signature| {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    })
}

/// A running deliverer.
pub struct DelivererHandle<S: Store> {
    task: tokio::task::JoinHandle<()>,
    clearance: Arc<Clearance<S>>,
    holder: String,
}

impl<S: Store> DelivererHandle<S> {
    /// Stops at once, as a crash would: its leases expire on their own.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Stops and gives up its leases, so that another instance (or this one restarted)
    /// delivers at once.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        let released = self
            .clearance
            .store()
            .change_delivery(DeliveryChange::Release {
                holder: self.holder.clone(),
            })
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "the webhook leases could not be given up");
        }
    }
}

/// Starts the deliverer: it runs until stopped or aborted.
pub fn spawn_deliverer<S: Store>(
    clearance: Arc<Clearance<S>>,
    policy: DeliveryPolicy,
) -> DelivererHandle<S> {
    let holder = format!("{:016x}", rand::thread_rng().r#gen::<u64>());
    let task = tokio::spawn(run_deliverer(clearance.clone(), policy, holder.clone()));
    DelivererHandle {
        task,
        clearance,
        holder,
    }
}

async fn run_deliverer<S: Store>(
    clearance: Arc<Clearance<S>>,
    policy: DeliveryPolicy,
    holder: String,
) {
    {
        let client = match client(&policy) {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "the webhook deliverer cannot start");
                return;
            }
        };
        let deliverer = Arc::new(Deliverer {
            clearance,
            policy,
            holder,
            client,
        });
        // Aborting the deliverer aborts each enterprise's delivery with it (dropped with it).
        let mut running = Running(HashMap::new());
        loop {
            running.0.retain(|_, task| !task.is_finished());
            match deliverer.clearance.store().webhooks(None).await {
                Ok(webhooks) => {
                    let now_ms = deliverer.clearance.now().timestamp_millis();
                    for webhook in webhooks {
                        let free = webhook.lease_until_ms < now_ms
                            || webhook.lease_holder.as_deref() == Some(&deliverer.holder);
                        if free && !running.0.contains_key(&webhook.enterprise) {
                            let task =
                                tokio::spawn(deliverer.clone().run(webhook.enterprise.clone()));
                            running.0.insert(webhook.enterprise, task);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "webhooks could not be read"),
            }
            tokio::time::sleep(deliverer.policy.poll_interval).await;
        }
    }
}

/// The deliveries in progress, by enterprise; aborted when dropped.
struct Running(HashMap<String, tokio::task::JoinHandle<()>>);

impl Drop for Running {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.abort();
        }
    }
}

fn client(policy: &DeliveryPolicy) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(policy.request_timeout)
        .connect_timeout(policy.request_timeout)
        // A redirect could lead to a target the URL check never saw.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("OpenCustoms-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

struct Deliverer<S: Store> {
    clearance: Arc<Clearance<S>>,
    policy: DeliveryPolicy,
    holder: String,
    client: reqwest::Client,
}

impl<S: Store> Deliverer<S> {
    fn store(&self) -> &S {
        self.clearance.store()
    }

    /// Takes or renews the lease for `duration` from now.
    async fn lease(&self, enterprise: &str, duration: Duration) -> bool {
        let now_ms = self.clearance.now().timestamp_millis();
        let until_ms = now_ms + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2);
        self.store()
            .change_delivery(DeliveryChange::Lease {
                enterprise: enterprise.to_owned(),
                holder: self.holder.clone(),
                now_ms,
                until_ms,
            })
            .await
            .unwrap_or(false)
    }

    /// Delivers the enterprise's receipts while this instance holds the lease and the webhook
    /// exists.
    async fn run(self: Arc<Self>, enterprise: String) {
        loop {
            let webhook = match self.store().webhooks(Some(&enterprise)).await {
                Ok(mut found) => match found.pop() {
                    Some(webhook) => webhook,
                    None => return,
                },
                Err(error) => {
                    tracing::warn!(%error, %enterprise, "the webhook could not be read");
                    tokio::time::sleep(self.policy.poll_interval).await;
                    continue;
                }
            };
            if !self.lease(&enterprise, self.policy.lease()).await {
                return;
            }
            match self.deliver_page(&webhook).await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(self.policy.poll_interval).await,
                Err(error) => {
                    tracing::warn!(%error, %enterprise, "webhook delivery paused");
                    tokio::time::sleep(self.policy.poll_interval).await;
                }
            }
        }
    }

    /// Delivers one page of the feed after the webhook's cursor; true when there was something.
    async fn deliver_page(&self, webhook: &WebhookRow) -> Result<bool, ClearanceError> {
        let page = self
            .clearance
            .enterprise_receipts(&webhook.enterprise, &webhook.delivered, DELIVERY_BATCH)
            .await?;
        let mut from = webhook.delivered.clone();
        let any = !page.receipts.is_empty();
        for receipt in &page.receipts {
            let format = self
                .clearance
                .lodging_format(&receipt.declaration_id)
                .await?;
            let (content_type, body) = renderer(format)(receipt);
            let outcome = self
                .deliver(
                    webhook,
                    &receipt.cursor,
                    &receipt.declaration_id,
                    content_type,
                    &body,
                )
                .await;
            if let Err(Undelivered::LeaseLost) = outcome {
                // Another instance delivers now: nothing is recorded of this attempt.
                return Ok(true);
            }
            if let Err(Undelivered::Failed(attempts, error)) = outcome {
                tracing::warn!(enterprise = %webhook.enterprise, cursor = %receipt.cursor,
                    %error, "a receipt became a dead letter");
                let letter = DeadLetterRow {
                    id: format!("{}:{}", webhook.id, receipt.cursor),
                    enterprise: webhook.enterprise.clone(),
                    cursor: receipt.cursor.clone(),
                    declaration_id: receipt.declaration_id.clone(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    content_type: content_type.to_owned(),
                    attempts,
                    last_error: error,
                    failed_at_ms: self.clearance.now().timestamp_millis(),
                };
                self.store()
                    .change_delivery(DeliveryChange::DeadLetter(letter))
                    .await?;
            }
            if !self.advance(webhook, &from, &receipt.cursor).await? {
                // Replayed or registered again meanwhile: read the webhook again.
                return Ok(true);
            }
            from = receipt.cursor.clone();
        }
        if page.next_after != from {
            self.advance(webhook, &from, &page.next_after).await?;
        }
        Ok(any)
    }

    async fn advance(
        &self,
        webhook: &WebhookRow,
        from: &str,
        to: &str,
    ) -> Result<bool, ClearanceError> {
        Ok(self
            .store()
            .change_delivery(DeliveryChange::Advance {
                enterprise: webhook.enterprise.clone(),
                webhook_id: webhook.id.clone(),
                from: from.to_owned(),
                to: to.to_owned(),
            })
            .await?)
    }

    /// Every attempt at one receipt; the attempts made and the last error if all failed.
    async fn deliver(
        &self,
        webhook: &WebhookRow,
        cursor: &str,
        declaration_id: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), Undelivered> {
        let mut last_error = String::new();
        for attempt in 1..=self.policy.attempts {
            if !self.lease(&webhook.enterprise, self.policy.lease()).await {
                return Err(Undelivered::LeaseLost);
            }
            match attempt_once(
                &self.client,
                &self.policy,
                self.clearance.now().timestamp(),
                webhook,
                (cursor, declaration_id),
                content_type,
                body,
            )
            .await
            {
                Ok(()) => return Ok(()),
                Err(error) => last_error = error,
            }
            if attempt < self.policy.attempts
                && !self
                    .wait(&webhook.enterprise, self.policy.delay_after(attempt))
                    .await
            {
                return Err(Undelivered::LeaseLost);
            }
        }
        Err(Undelivered::Failed(self.policy.attempts, last_error))
    }

    /// Waits between attempts, renewing the lease as it goes; false if the lease was lost.
    async fn wait(&self, enterprise: &str, delay: Duration) -> bool {
        let step = (self.policy.lease_margin / 2).max(Duration::from_millis(10));
        let until = tokio::time::Instant::now() + delay;
        loop {
            let now = tokio::time::Instant::now();
            if now >= until {
                return true;
            }
            tokio::time::sleep((until - now).min(step)).await;
            if !self.lease(enterprise, self.policy.lease()).await {
                return false;
            }
        }
    }
}

/// Why a receipt was not delivered.
enum Undelivered {
    /// Every attempt failed: the attempts made and the last error.
    Failed(u32, String),
    /// Another instance holds the enterprise's lease now.
    LeaseLost,
}

/// One signed POST; the error in words when it did not succeed.
pub async fn attempt_once(
    client: &reqwest::Client,
    policy: &DeliveryPolicy,
    timestamp: i64,
    webhook: &WebhookRow,
    (cursor, declaration_id): (&str, &str),
    content_type: &str,
    body: &[u8],
) -> Result<(), String> {
    let cut = |mut text: String| {
        if text.len() > DELIVERY_ERROR_LENGTH_MAX {
            let mut end = DELIVERY_ERROR_LENGTH_MAX;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        text
    };
    if !policy.private_targets {
        check_target(&webhook.url).await.map_err(cut)?;
    }
    let answer = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(SIGNATURE_HEADER, sign(&webhook.secret, timestamp, body))
        .header(WEBHOOK_ID_HEADER, &webhook.id)
        .header(CURSOR_HEADER, cursor)
        .header(DECLARATION_HEADER, declaration_id)
        .body(body.to_vec())
        .send()
        .await
        .map_err(|error| cut(format!("{error:#}")))?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(cut(format!("the receiver answered {status}")))
    }
}

/// Resolves the URL's host and refuses an address on a private network.
async fn check_target(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("the URL is not valid: {e}"))?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']']);
    if is_private_host(host) {
        return Err("the target is on a private network".into());
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("the host could not be resolved: {e}"))?;
    for address in addresses {
        if is_private_ip(address.ip()) {
            return Err("the target resolves to a private network".into());
        }
    }
    Ok(())
}

/// Delivers a dead letter once more, now; removes it when the receiver took it.
pub async fn redeliver<S: Store>(
    clearance: &Clearance<S>,
    policy: &DeliveryPolicy,
    webhook: &WebhookRow,
    letter: &DeadLetterRow,
) -> Result<Result<(), String>, ClearanceError> {
    let client = client(policy).map_err(|e| ClearanceError::Unavailable(e.to_string()))?;
    let outcome = attempt_once(
        &client,
        policy,
        clearance.now().timestamp(),
        webhook,
        (&letter.cursor, &letter.declaration_id),
        &letter.content_type,
        letter.body.as_bytes(),
    )
    .await;
    if outcome.is_ok() {
        clearance
            .store()
            .change_delivery(DeliveryChange::RemoveDeadLetter {
                enterprise: letter.enterprise.clone(),
                id: letter.id.clone(),
            })
            .await?;
    }
    Ok(outcome)
}

/// How a receipt is rendered in one format: its content type and bytes.
pub(crate) type RenderReceipt = fn(&FeedReceiptView) -> (&'static str, Vec<u8>);

/// The renderer of the format a declaration was lodged in: its own JSON, a WCO DMS notification
/// (`wco::render_receipt`) or a CUSRES interchange (`edifact::render_receipt`). The functional
/// reference is not repeated in a pushed receipt: the declaration number identifies it.
pub(crate) fn renderer(format: MessageFormat) -> RenderReceipt {
    match format {
        MessageFormat::Json => render_json,
        MessageFormat::WcoXml => |feed| {
            let xml =
                wco::render_receipt(&feed.receipt, &feed.declaration_number, None).into_bytes();
            ("application/xml", xml)
        },
        MessageFormat::Edifact => |feed| {
            let interchange =
                edifact::render_receipt(&feed.receipt, &feed.declaration_number, None).into_bytes();
            ("application/edifact", interchange)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_secret_body_and_time_only() {
        let body = br#"{"receipt":"accepted"}"#;
        let header = sign("whsec_a", 1_800_000_000, body);
        assert!(verify("whsec_a", &header, body, 1_800_000_100, 300));
        assert!(!verify("whsec_b", &header, body, 1_800_000_100, 300));
        assert!(!verify("whsec_a", &header, b"{}", 1_800_000_100, 300));
        assert!(!verify("whsec_a", &header, body, 1_800_000_301, 300));
        assert!(!verify("whsec_a", "v1=00", body, 1_800_000_000, 300));
    }

    #[test]
    fn the_back_off_doubles_up_to_its_cap_with_jitter() {
        let policy = DeliveryPolicy::production(false);
        for attempt in 1..=DELIVERY_ATTEMPTS {
            let full = (DELIVERY_FIRST_DELAY * 2u32.pow(attempt - 1)).min(DELIVERY_DELAY_MAX);
            let delay = policy.delay_after(attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
        }
        assert!(policy.delay_after(40) <= DELIVERY_DELAY_MAX);
    }
}
