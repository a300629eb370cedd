//! Continuity: what the service does for an instance that took lodgings into its local queue
//! while the central store was unreachable (`customs serve --database`, see the `customs`
//! crate's `continuity` module for the queue, the door and the reconciler).
//!
//! Two things only, both here so that nothing outside the service decides what a lodging is:
//! - [`Clearance::check_at_the_door`]: the checks a lodging can pass without the store (the
//!   role, the idempotency key, the parser and the cross-field rules against the code lists last
//!   read, whether the caller may declare for the trader), so that a broken declaration is
//!   refused with its field paths even in continuity;
//! - [`Clearance::lodge_from_continuity`]: the normal lodging, with the caller it was received
//!   from and its idempotency key, whose acceptance event records the receipt in continuity
//!   ([`ContinuityReceipt`]): the audit chain then holds both times, the receipt's in the
//!   payload and the acceptance's as the entry's time.

use serde::Serialize;
use store::Store;
use wire::{DeclarationDto, LodgementView};

pub use crate::releases::SavedCodeList;

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;

/// The event that records a lodging received in continuity and refused when the store took it:
/// the refusal is then in the audit chain, not only in the instance's queue.
pub const REFUSED_ACTION: &str = "continuity.refused";

/// The event that records, under the provisional reference, which declaration a lodging
/// received in continuity became: any instance then answers the reference (the acceptance's own
/// payload carries the receipt too, but is found by the declaration, not by the reference).
pub const RECONCILED_ACTION: &str = "continuity.reconciled";

/// The idempotency scope of those events; the key is the provisional reference, so recording
/// one refusal again (a retry after a failure) records nothing new.
const REFUSED_SCOPE: &str = "continuity";

/// The member of an acceptance event's payload that says the lodging went through continuity.
pub const CONTINUITY_MEMBER: &str = "continuity";

/// How a lodging was received in continuity, as recorded with its acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContinuityReceipt {
    /// The reference the instance answered with (unique across instances: it names the
    /// instance).
    pub provisional_reference: String,
    /// When the instance received it and made it durable, RFC 3339 UTC.
    pub received_at: String,
    /// The instance that received it.
    pub instance: String,
}

/// `payload` (an acceptance's canonical JSON object) with the receipt appended as its last
/// member, `continuity`. The members before it are untouched, so the declaration's document is
/// still the same bytes.
pub(crate) fn with_receipt(payload: &str, receipt: &ContinuityReceipt) -> String {
    let receipt = serde_json::to_string(receipt).expect("a receipt serialises");
    let body = payload
        .strip_suffix('}')
        .expect("an acceptance payload is a JSON object");
    format!("{body},\"{CONTINUITY_MEMBER}\":{receipt}}}")
}

/// The receipt in continuity recorded in an acceptance event's payload, if any.
pub fn receipt_of(payload: &serde_json::Value) -> Option<ContinuityReceiptView> {
    let member = payload.get(CONTINUITY_MEMBER)?;
    Some(ContinuityReceiptView {
        provisional_reference: member["provisional_reference"].as_str()?.to_owned(),
        received_at: member["received_at"].as_str()?.to_owned(),
        instance: member["instance"].as_str().unwrap_or_default().to_owned(),
    })
}

/// A receipt in continuity as read back from the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinuityReceiptView {
    pub provisional_reference: String,
    pub received_at: String,
    pub instance: String,
}

impl<S: Store> Clearance<S> {
    /// What can be checked of a lodging without the store; `Ok` gives the request's digest (the
    /// same as lodging computes, so that the queue can tell a resend from another request
    /// under the same key). Refuses, like lodging, a caller who may not lodge, a malformed key,
    /// a declaration with errors (each naming its field) and a trader the caller may not declare
    /// for. The code lists are those last read from the store; `Unavailable` if none were ever
    /// read (nothing to check against: fail closed). The checks that need the store (the
    /// parties as registered, a full declaration's summary, numbering, ...) are made when the
    /// store takes the lodging.
    pub fn check_at_the_door(
        &self,
        caller: &Caller,
        idempotency_key: &str,
        body: &[u8],
    ) -> Result<String, ClearanceError> {
        caller.require(Action::Lodge)?;
        crate::idempotency_key_or_new(Some(idempotency_key))?;
        let day = self.today();
        let reference = self
            .releases_cache
            .reference_on_last_known(&self.reference, day)
            .ok_or_else(|| {
                ClearanceError::Unavailable(
                    "the code lists in force were never read from the store".into(),
                )
            })?;
        let dto: DeclarationDto =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        crate::declared_by(caller, &dto, &reference, day)?;
        Ok(crate::request_digest("lodge", body))
    }

    /// Reads the code lists in force today from the store, so that [`Self::check_at_the_door`]
    /// has recent ones when the store becomes unreachable.
    pub async fn read_code_lists_for_continuity(&self) -> Result<(), ClearanceError> {
        self.reference_on(self.today()).await?;
        Ok(())
    }

    /// The active code lists (reference releases) with their files, read from the store, for
    /// an instance to keep in its folder; `None` when their ids and activations are `known`
    /// (nothing to save again; `None`: nothing kept yet).
    pub async fn code_lists_for_continuity(
        &self,
        known: Option<&[(String, u64)]>,
    ) -> Result<Option<Vec<SavedCodeList>>, ClearanceError> {
        let mut ids = Vec::new();
        for list in crate::releases::ReferenceList::ALL {
            let kind = crate::releases::ReleaseKind::Reference(list);
            for row in self.store.releases(kind.as_str()).await? {
                if row.status == "active"
                    && let Some(seq) = row.activated_seq
                {
                    ids.push((row.id, seq));
                }
            }
        }
        if known == Some(ids.as_slice()) {
            return Ok(None);
        }
        Ok(Some(
            self.releases_cache.code_lists_to_save(&self.store).await?,
        ))
    }

    /// Code lists kept by an instance, as the ones last read, for [`Self::check_at_the_door`]
    /// in an instance that started while the store was unreachable (none read in this process).
    pub fn restore_code_lists_for_continuity(
        &self,
        saved: &[SavedCodeList],
    ) -> Result<(), ClearanceError> {
        self.releases_cache.restore_last_read(saved)
    }

    /// The caller a token (by its hash) belongs to now, for lodging what was received from it in
    /// continuity: `None` if the token was revoked or its user disabled since (the lodging is
    /// then refused). Its expiry is not checked again: it was checked when the lodging was
    /// received.
    pub async fn caller_of_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<Caller>, ClearanceError> {
        Ok(self
            .store
            .principal_by_token(token_hash)
            .await?
            .and_then(Caller::from_principal))
    }

    /// Records in the audit chain, as the platform's own act, that a lodging received in
    /// continuity by `user` under `idempotency_key` was refused when the store took it, and why
    /// (`refusal`: code, messages, field errors). Idempotent on the provisional reference.
    pub async fn record_continuity_refusal(
        &self,
        receipt: &ContinuityReceipt,
        user: &str,
        idempotency_key: &str,
        refusal: &serde_json::Value,
    ) -> Result<(), ClearanceError> {
        let payload = serde_json::json!({
            "provisional_reference": receipt.provisional_reference,
            "received_at": receipt.received_at,
            "instance": receipt.instance,
            "user": user,
            "idempotency_key": idempotency_key,
            "refusal": refusal,
        })
        .to_string();
        self.record_continuity_outcome(receipt, REFUSED_ACTION, payload)
            .await
    }

    /// Records in the audit chain, as the platform's own act, that the lodging received in
    /// continuity under `receipt` is the declaration `id` numbered `number` (lodged from the
    /// queue, or found lodged under its key). Idempotent on the provisional reference.
    pub async fn record_continuity_reconciled(
        &self,
        receipt: &ContinuityReceipt,
        user: &str,
        idempotency_key: &str,
        (id, number): (&str, &str),
    ) -> Result<(), ClearanceError> {
        let payload = serde_json::json!({
            "provisional_reference": receipt.provisional_reference,
            "received_at": receipt.received_at,
            "instance": receipt.instance,
            "user": user,
            "idempotency_key": idempotency_key,
            "id": id,
            "number": number,
        })
        .to_string();
        self.record_continuity_outcome(receipt, RECONCILED_ACTION, payload)
            .await
    }

    async fn record_continuity_outcome(
        &self,
        receipt: &ContinuityReceipt,
        action: &str,
        payload: String,
    ) -> Result<(), ClearanceError> {
        let append = store::Append {
            actor: crate::admin::system_actor(),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: receipt.provisional_reference.clone(),
            action: action.to_owned(),
            // One outcome per reference: a second (reconciled after refused, or the reverse)
            // is refused as a reuse of the key, never recorded.
            idempotency_scope: REFUSED_SCOPE.to_owned(),
            idempotency_key: receipt.provisional_reference.clone(),
            request_digest: crate::request_digest(action, payload.as_bytes()),
            payload,
            expected_version: None,
            projection: store::Projection::Nothing,
            linked: vec![],
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            store::AppendOutcome::Appended { .. } | store::AppendOutcome::Duplicate { .. } => {
                Ok(())
            }
            other => Err(anyhow::anyhow!("recording a continuity outcome: {other:?}").into()),
        }
    }

    /// What the central store knows of a provisional reference, for any instance: the payload
    /// of its `continuity.reconciled` or `continuity.refused` event (with `status` and
    /// `settled_at` added), if the caller may see it (the user who sent it, or a customs role
    /// that reads every declaration); `None` if it was not settled yet, or is not the caller's.
    pub async fn continuity_outcome(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> Result<Option<serde_json::Value>, ClearanceError> {
        let events = self.store.events(reference).await?;
        let Some(event) = events
            .iter()
            .find(|e| e.action == RECONCILED_ACTION || e.action == REFUSED_ACTION)
        else {
            return Ok(None);
        };
        let mut payload: serde_json::Value = serde_json::from_str(&event.payload)
            .map_err(|e| anyhow::anyhow!("a continuity outcome's payload: {e}"))?;
        let everything = caller.visibility().is_none() && Action::Read.allowed(caller.role);
        if !everything && payload["user"].as_str() != Some(caller.user_id()) {
            return Ok(None);
        }
        payload["status"] = serde_json::json!(if event.action == RECONCILED_ACTION {
            "reconciled"
        } else {
            "refused"
        });
        payload["settled_at"] = serde_json::json!(crate::views::rfc3339(event.recorded_at_ms));
        Ok(Some(payload))
    }

    /// Lodges what an instance received in continuity, as the caller it came from and under its
    /// idempotency key (a resend lodged directly, or queued twice, is one declaration); the
    /// acceptance event records `receipt`.
    pub async fn lodge_from_continuity(
        &self,
        caller: &Caller,
        idempotency_key: &str,
        body: &[u8],
        receipt: &ContinuityReceipt,
    ) -> Result<LodgementView, ClearanceError> {
        self.lodge_with(caller, Some(idempotency_key), body, Some(receipt))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_is_appended_and_read_back_and_the_document_is_untouched() {
        let payload = r#"{"number":"220020261000000002","declaration":{"a":"b"}}"#;
        let receipt = ContinuityReceipt {
            provisional_reference: "CP-a1b2c3d4-000000001".into(),
            received_at: "2026-12-07T10:00:00Z".into(),
            instance: "a1b2c3d4".into(),
        };
        let with = with_receipt(payload, &receipt);
        assert!(with.starts_with(&payload[..payload.len() - 1]));
        let value: serde_json::Value = serde_json::from_str(&with).unwrap();
        assert_eq!(value["declaration"], serde_json::json!({"a": "b"}));
        let read = receipt_of(&value).unwrap();
        assert_eq!(read.provisional_reference, receipt.provisional_reference);
        assert_eq!(read.received_at, receipt.received_at);
        assert_eq!(read.instance, receipt.instance);
        let plain: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(receipt_of(&plain), None);
    }
}
