//! Receipts pushed to the trade (回执, issue 14): the feed of every receipt of the declarations
//! an enterprise may see, and the registration of its webhook. The deliverer that POSTs them is
//! an edge (`http-api::webhooks`); what it sends is built here, from the trade's allow-list
//! (`trade_view::receipt`) and nothing else.
//!
//! The feed is read from the record itself (each chain's events of the visible declarations),
//! not from a table of its own: it survives every restart exactly as the chain does, and
//! needs no second write on the lodging path. A cursor is one position per audit chain
//! (SQLite keeps one chain, so a plain number; PostgreSQL 16, dot-separated): within a chain
//! events commit in order, so a reader that resumes after a cursor misses nothing, even when
//! another chain's append committed late. Receipts are strictly in order per declaration (one
//! chain holds all its events) and merged by the global event number across declarations.
//!
//! A lodging refused at the door gets no receipt in the feed: it has no declaration (nothing
//! was numbered or recorded) and its refusal is the answer to the lodging itself.

use domain::FieldError;
use rand::RngCore;
use serde_json::Value;
use store::{DeliveryChange, Store, Visibility, WebhookRow};
use wire::{
    DeadLetterPage, DeadLetterView, FeedReceiptView, MessageFormat, ReceiptFeedPage, WebhookView,
};

use crate::access::{Caller, Role};
use crate::error::ClearanceError;
use crate::views::rfc3339;
use crate::{ACCEPTED_ACTION, Clearance};

/// Receipts per page of the feed when the caller does not say.
pub const RECEIPTS_PAGE_SIZE_DEFAULT: usize = 100;
/// Largest page of the feed: bounds what one request reads and sends.
pub const RECEIPTS_PAGE_SIZE_MAX: usize = 500;
/// Chain positions one page reads at most in each chain: an enterprise that sees little of a
/// busy store still reads a bounded amount, and continues from where the window ended.
pub const FEED_WINDOW: u64 = 20_000;
/// Longest webhook URL.
pub const WEBHOOK_URL_LENGTH_MAX: usize = 2048;
/// Random bytes of a webhook's signing secret.
pub const WEBHOOK_SECRET_BYTES: usize = 32;

/// The acceptance payload's member naming the format a declaration was lodged in (absent: JSON).
const FORMAT_MEMBER: &str = "message_format";

/// The acceptance payload with the lodging's format recorded (only for a format other than
/// JSON, so that every record written before formats existed reads as JSON).
pub(crate) fn with_format(payload: &str, format: MessageFormat) -> String {
    let body = payload
        .strip_suffix('}')
        .expect("an acceptance payload is a JSON object");
    format!("{body},\"{FORMAT_MEMBER}\":\"{}\"}}", format.as_str())
}

/// The format an acceptance payload records.
pub fn format_of(acceptance: &Value) -> MessageFormat {
    acceptance[FORMAT_MEMBER]
        .as_str()
        .and_then(MessageFormat::parse)
        .unwrap_or_default()
}

/// The feed's own JSON form (and a JSON lodging's webhook body). The other formats' renderers
/// live with their edges (`http-api`'s `webhooks::renderer`): this service knows no message
/// format but JSON.
pub fn render_json(receipt: &FeedReceiptView) -> (&'static str, Vec<u8>) {
    (
        "application/json",
        serde_json::to_vec(receipt).expect("a receipt serialises"),
    )
}

fn parse_cursor(text: &str, chains: u16) -> Result<Vec<u64>, FieldError> {
    let chains = usize::from(chains);
    if text.is_empty() || text == "0" {
        return Ok(vec![0; chains]);
    }
    let wrong = || {
        FieldError::invalid_format(
            "after",
            &format!("a cursor given by this feed ({chains} dot-separated numbers)"),
            &format!("本接口返回的游标（{chains} 个以点分隔的数字）"),
        )
    };
    let positions = text
        .split('.')
        .map(|n| {
            n.parse::<u64>()
                .ok()
                .filter(|_| n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(wrong)?;
    if positions.len() != chains {
        return Err(wrong());
    }
    Ok(positions)
}

fn format_cursor(positions: &[u64]) -> String {
    positions
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn forbidden(en: &str, zh: &str) -> ClearanceError {
    ClearanceError::Forbidden {
        message_en: en.to_owned(),
        message_zh: zh.to_owned(),
        errors: vec![],
    }
}

fn invalid(error: FieldError) -> ClearanceError {
    ClearanceError::Invalid(vec![error])
}

impl<S: Store> Clearance<S> {
    /// The receipts of every declaration the trade caller may see, oldest first, after `after`.
    /// Customs roles are refused: the feed is the trade's view, and customs read the record
    /// (`/v1/audit`) and every event of a declaration.
    pub async fn receipts(
        &self,
        caller: &Caller,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ReceiptFeedPage, ClearanceError> {
        let Some(visibility) = caller.visibility() else {
            return Err(forbidden(
                "the receipts feed is the trade's: customs read the declarations' events",
                "回执订阅仅供企业使用：海关请查阅报关单事件",
            ));
        };
        let limit = limit.unwrap_or(RECEIPTS_PAGE_SIZE_DEFAULT);
        if limit == 0 || limit > RECEIPTS_PAGE_SIZE_MAX {
            return Err(invalid(FieldError::out_of_range(
                "limit",
                &format!("from 1 to {RECEIPTS_PAGE_SIZE_MAX}"),
                &format!("在 1 至 {RECEIPTS_PAGE_SIZE_MAX} 之间"),
            )));
        }
        self.feed(&visibility, after.unwrap_or(""), limit).await
    }

    /// What an enterprise may see, as its webhook is told: its own declarations (as trader or
    /// declarant) and, as a broker, those of the enterprises whose authorisation is in force.
    pub async fn enterprise_visibility(
        &self,
        credit_code: &str,
    ) -> Result<Visibility, ClearanceError> {
        let principals = match self.store.enterprise_by_credit_code(credit_code).await? {
            Some(enterprise) => self.store.broker_principals(&enterprise.id).await?,
            None => Vec::new(),
        };
        Ok(Visibility {
            own: vec![credit_code.to_owned()],
            principals,
        })
    }

    /// The receipts an enterprise's webhook delivers after `after`.
    pub async fn enterprise_receipts(
        &self,
        credit_code: &str,
        after: &str,
        limit: usize,
    ) -> Result<ReceiptFeedPage, ClearanceError> {
        let visibility = self.enterprise_visibility(credit_code).await?;
        self.feed(&visibility, after, limit.clamp(1, RECEIPTS_PAGE_SIZE_MAX))
            .await
    }

    async fn feed(
        &self,
        visibility: &Visibility,
        after: &str,
        limit: usize,
    ) -> Result<ReceiptFeedPage, ClearanceError> {
        let chains = self.store.chain_count();
        let mut positions = parse_cursor(after, chains).map_err(invalid)?;
        let mut windows = Vec::with_capacity(usize::from(chains));
        for chain in 0..chains {
            let window = self
                .store
                .trade_feed(
                    visibility,
                    chain,
                    positions[usize::from(chain)],
                    FEED_WINDOW,
                    limit,
                )
                .await?;
            windows.push(window);
        }
        let read_to: Vec<u64> = windows.iter().map(|w| w.read_to).collect();
        let mut events: Vec<store::FeedEvent> =
            windows.into_iter().flat_map(|w| w.events).collect();
        events.sort_by_key(|e| e.event.seq);
        let mut receipts = Vec::new();
        let mut full = false;
        for event in events {
            if receipts.len() == limit {
                full = true;
                break;
            }
            positions[usize::from(event.chain)] = event.chain_seq;
            if let Some(receipt) = crate::trade_view::receipt(&event.event) {
                receipts.push(FeedReceiptView {
                    cursor: format_cursor(&positions),
                    declaration_id: event.declaration_id,
                    declaration_number: event.number,
                    receipt,
                });
            }
        }
        if !full {
            // Everything read was gone through: each chain continues after its window.
            positions = read_to;
        }
        Ok(ReceiptFeedPage {
            receipts,
            next_after: format_cursor(&positions),
        })
    }

    /// The format a declaration was lodged in (JSON when its acceptance records none).
    pub async fn lodging_format(
        &self,
        declaration_id: &str,
    ) -> Result<MessageFormat, ClearanceError> {
        let events = self.store.events(declaration_id).await?;
        Ok(events
            .iter()
            .find(|e| e.action == ACCEPTED_ACTION)
            .map(|e| format_of(&serde_json::from_str(&e.payload).unwrap_or(Value::Null)))
            .unwrap_or_default())
    }

    /// The enterprise whose webhook the caller manages: a trade user's own, or (an
    /// administrator) the one it names.
    async fn webhook_owner(
        &self,
        caller: &Caller,
        enterprise: Option<&str>,
    ) -> Result<String, ClearanceError> {
        if caller.role.is_trade() {
            let own = caller
                .principal
                .enterprise
                .as_ref()
                .map(|e| e.credit_code.clone())
                .ok_or_else(|| forbidden("the user has no enterprise", "该用户不属于任何企业"))?;
            return match enterprise {
                Some(named) if named != own => Err(forbidden(
                    "an enterprise manages its own webhook only",
                    "企业只能管理本企业的推送地址",
                )),
                _ => Ok(own),
            };
        }
        if caller.role != Role::Admin {
            return Err(forbidden(
                "webhooks are managed by the enterprise's users or an administrator",
                "推送地址由企业用户或管理员管理",
            ));
        }
        let Some(named) = enterprise else {
            return Err(invalid(FieldError::required("enterprise")));
        };
        self.store
            .enterprise_by_credit_code(named)
            .await?
            .map(|e| e.credit_code)
            .ok_or_else(|| {
                invalid(FieldError::not_allowed(
                    "enterprise",
                    &format!("no enterprise {named} is registered"),
                    &format!("未登记企业 {named}"),
                ))
            })
    }

    /// Registers (or replaces) an enterprise's webhook; the answer carries the signing secret,
    /// which is never shown again. Private-network targets only when `private_targets`.
    pub async fn register_webhook(
        &self,
        caller: &Caller,
        enterprise: Option<&str>,
        body: &[u8],
        private_targets: bool,
    ) -> Result<WebhookView, ClearanceError> {
        let owner = self.webhook_owner(caller, enterprise).await?;
        let request: wire::WebhookRequest = wire::parse_json(body).map_err(invalid)?;
        check_webhook_url(&request.url, private_targets).map_err(invalid)?;
        let chains = self.store.chain_count();
        let delivered = match request.after.as_deref() {
            Some(after) => format_cursor(&parse_cursor(after, chains).map_err(invalid)?),
            // From now on: after every chain's head.
            None => format_cursor(&self.store.chain_heads().await?),
        };
        let mut secret = [0u8; WEBHOOK_SECRET_BYTES];
        rand::thread_rng().fill_bytes(&mut secret);
        let row = WebhookRow {
            enterprise: owner,
            id: uuid::Uuid::now_v7().to_string(),
            url: request.url,
            secret: format!("whsec_{}", hex::encode(secret)),
            created_at_ms: self.now().timestamp_millis(),
            created_by: caller.user_id().to_owned(),
            delivered,
            lease_holder: None,
            lease_until_ms: 0,
        };
        self.store
            .change_delivery(DeliveryChange::PutWebhook(row.clone()))
            .await?;
        tracing::info!(enterprise = %row.enterprise, webhook = %row.id, "webhook registered");
        Ok(WebhookView {
            secret: Some(row.secret.clone()),
            ..webhook_view(&row)
        })
    }

    /// Every enterprise's webhook, without secrets: what an administrator's page lists.
    pub async fn webhooks_as(&self, caller: &Caller) -> Result<Vec<WebhookView>, ClearanceError> {
        if caller.role != Role::Admin {
            return Err(forbidden(
                "only an administrator lists every enterprise's webhook",
                "仅管理员可查看全部企业的推送地址",
            ));
        }
        let rows = self.store.webhooks(None).await?;
        Ok(rows.iter().map(webhook_view).collect())
    }

    pub async fn webhook(
        &self,
        caller: &Caller,
        enterprise: Option<&str>,
    ) -> Result<WebhookView, ClearanceError> {
        let owner = self.webhook_owner(caller, enterprise).await?;
        let row = self.store.webhooks(Some(&owner)).await?.pop();
        row.map(|r| webhook_view(&r))
            .ok_or(ClearanceError::NotFound)
    }

    pub async fn delete_webhook(
        &self,
        caller: &Caller,
        enterprise: Option<&str>,
    ) -> Result<(), ClearanceError> {
        let owner = self.webhook_owner(caller, enterprise).await?;
        let deleted = self
            .store
            .change_delivery(DeliveryChange::DeleteWebhook { enterprise: owner })
            .await?;
        if deleted {
            Ok(())
        } else {
            Err(ClearanceError::NotFound)
        }
    }

    /// Delivers again every receipt after `after`: the webhook's cursor is set back.
    pub async fn replay_webhook(
        &self,
        caller: &Caller,
        enterprise: Option<&str>,
        after: &str,
    ) -> Result<WebhookView, ClearanceError> {
        let owner = self.webhook_owner(caller, enterprise).await?;
        let to = format_cursor(&parse_cursor(after, self.store.chain_count()).map_err(invalid)?);
        let changed = self
            .store
            .change_delivery(DeliveryChange::Rewind {
                enterprise: owner.clone(),
                to,
            })
            .await?;
        if !changed {
            return Err(ClearanceError::NotFound);
        }
        self.webhook(caller, Some(&owner)).await
    }

    pub async fn dead_letters(
        &self,
        caller: &Caller,
        enterprise: Option<&str>,
    ) -> Result<DeadLetterPage, ClearanceError> {
        let owner = self.webhook_owner(caller, enterprise).await?;
        let rows = self.store.dead_letters(&owner).await?;
        Ok(DeadLetterPage {
            dead_letters: rows
                .into_iter()
                .map(|d| DeadLetterView {
                    id: d.id,
                    cursor: d.cursor,
                    declaration_id: d.declaration_id,
                    attempts: d.attempts,
                    last_error: d.last_error,
                    failed_at: rfc3339(d.failed_at_ms),
                })
                .collect(),
        })
    }

    /// A dead letter the caller may have delivered again, with its webhook.
    pub async fn dead_letter(
        &self,
        caller: &Caller,
        enterprise: Option<&str>,
        id: &str,
    ) -> Result<(WebhookRow, store::DeadLetterRow), ClearanceError> {
        let owner = self.webhook_owner(caller, enterprise).await?;
        let webhook = self
            .store
            .webhooks(Some(&owner))
            .await?
            .pop()
            .ok_or(ClearanceError::NotFound)?;
        let letter = self
            .store
            .dead_letters(&owner)
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(ClearanceError::NotFound)?;
        Ok((webhook, letter))
    }
}

fn webhook_view(row: &WebhookRow) -> WebhookView {
    WebhookView {
        id: row.id.clone(),
        enterprise: row.enterprise.clone(),
        url: row.url.clone(),
        created_at: rfc3339(row.created_at_ms),
        delivered: row.delivered.clone(),
        secret: None,
    }
}

/// A webhook URL: http or https, a host, no user name or password, no spaces; a target on a
/// private, loopback or link-local network only when the operator allowed it (a webhook must
/// not let an enterprise make the server call its own network, SSRF). Host names are checked
/// again where they are resolved, at each delivery.
pub fn check_webhook_url(url: &str, private_targets: bool) -> Result<(), FieldError> {
    if url.chars().count() > WEBHOOK_URL_LENGTH_MAX {
        return Err(FieldError::too_long("url", WEBHOOK_URL_LENGTH_MAX));
    }
    let shape = || {
        FieldError::invalid_format(
            "url",
            "an http:// or https:// URL with a host, without spaces or a user name",
            "带主机名的 http:// 或 https:// 地址，不含空格或用户名",
        )
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(shape)?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(shape());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(shape());
    }
    let host = host_of(authority).ok_or_else(shape)?;
    if !private_targets && is_private_host(host) {
        return Err(FieldError::not_allowed(
            "url",
            "targets on a private, loopback or link-local network are not allowed on this server",
            "本服务器不允许推送到内网、环回或链路本地地址",
        ));
    }
    Ok(())
}

/// The host of an authority (`host[:port]`, `[v6][:port]`), if well formed.
fn host_of(authority: &str) -> Option<&str> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        return (rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)).then_some(host);
    }
    match authority.split_once(':') {
        Some((host, port)) => (is_port(port) && !host.is_empty()).then_some(host),
        None => Some(authority),
    }
}

fn is_port(port: &str) -> bool {
    port.parse::<u16>().is_ok() && port.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a host names this machine or a private network: `localhost` and IP literals of
/// loopback, private, link-local, unique-local, unspecified or CGNAT ranges.
pub fn is_private_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => is_private_ip(ip),
        Err(_) => false,
    }
}

pub fn is_private_ip(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_ip(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_one_position_per_chain() {
        assert_eq!(parse_cursor("", 1).unwrap(), vec![0]);
        assert_eq!(parse_cursor("0", 3).unwrap(), vec![0, 0, 0]);
        assert_eq!(parse_cursor("4.0.9", 3).unwrap(), vec![4, 0, 9]);
        assert_eq!(format_cursor(&[4, 0, 9]), "4.0.9");
        for wrong in ["4.0", "a", "1..2", "-1", "+1", "1.2.3.4"] {
            assert_eq!(parse_cursor(wrong, 3).unwrap_err().path, "after", "{wrong}");
        }
    }

    #[test]
    fn webhook_urls_are_http_and_public_unless_allowed() {
        for good in [
            "https://hooks.example.com/customs",
            "http://example.com:8080/x?y=1",
            "https://[2001:db8::1]:443/",
        ] {
            assert!(check_webhook_url(good, false).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://",
            "https://user:pw@example.com/",
            "https://example.com:99999/",
            "https://exa mple.com/",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                check_webhook_url(bad, true).unwrap_err().path,
                "url",
                "{bad}"
            );
        }
        for private in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://100.64.0.1/",
        ] {
            assert!(check_webhook_url(private, false).is_err(), "{private}");
            assert!(check_webhook_url(private, true).is_ok(), "{private}");
        }
        let long = format!("https://example.com/{}", "a".repeat(WEBHOOK_URL_LENGTH_MAX));
        assert_eq!(
            check_webhook_url(&long, true).unwrap_err().code,
            domain::ErrorCode::TooLong
        );
        let edge = format!("https://e.com/{}", "a".repeat(WEBHOOK_URL_LENGTH_MAX - 14));
        assert_eq!(edge.len(), WEBHOOK_URL_LENGTH_MAX);
        assert!(check_webhook_url(&edge, true).is_ok());
    }

    #[test]
    fn the_format_is_recorded_only_when_not_json() {
        let payload = r#"{"number":"1","declaration":{}}"#;
        let with = with_format(payload, MessageFormat::WcoXml);
        let value: Value = serde_json::from_str(&with).unwrap();
        assert_eq!(format_of(&value), MessageFormat::WcoXml);
        let plain: Value = serde_json::from_str(payload).unwrap();
        assert_eq!(format_of(&plain), MessageFormat::Json);
    }
}
