//! The clearance story: one acceptance test every `Store` implementation runs.
//!
//! It drives the trait the way clearance does (register parties, lodge, amend, complete a
//! summary, list, audit) and checks what a caller relies on, not how a store is built: only
//! relative positions of pagination cursors are compared, never their values. SQLite runs it
//! now; the PostgreSQL store will run the same story.
//!
//! Contract points the story pins down beyond the trait's docs:
//! - `lodged_from_ms` and `lodged_to_ms` are both inclusive;
//! - `visible_to: Some(vec![])` lists nothing, `limit: 0` lists nothing;
//! - linked events get the idempotency key `<key>#<n>` (n from 1), the main event's actor and time;
//! - an `UpdateDeclaration` with `replaces_document: false` leaves the document in force, one with
//!   `completed_by: None` leaves the stored value;
//! - a declaration's document reads back byte for byte as the `declaration` member of the event
//!   that lodged or last amended it (Chinese text, escapes and nesting untouched);
//! - a refused append (conflict, version conflict) writes nothing, so its key can be reused;
//! - a CBEC booking that exceeds the allowance writes nothing, so its order reference can be
//!   booked later; a repeated reference returns the first booking; every booking is an event
//!   (`cbec.purchase_booked`, subject `cbec:<buyer>:<year>`, keyed by the order reference);
//! - release digests are unique per kind (another kind may hold the same one); a refused import
//!   writes neither the release nor any of its files; a release's files read back byte for byte
//!   in the order given; `releases(kind)` of an unknown kind is empty;
//! - an activation's date must be `YYYY-MM-DD`; re-activating a rolled-back release sets the new
//!   date and seq and clears `rolled_back_seq`;
//! - a proof key repeated within one `OriginProofUses` list is no error;
//! - a task's `created_seq` is the seq of the event that created it (a linked event's own seq,
//!   not its main event's); a closed task keeps its place in every list; a task not new (closed,
//!   with an outcome or a seq) is refused as `Other`; `users_by_role` of an unknown role is empty;
//! - a watch-list entry added with a seq is refused as `Other`; `watch_entries` lists removed
//!   entries too, in the order they were added, with `added_seq` set;
//! - a credit level set to something not in `CREDIT_LEVELS` is refused as `Other`; the latest
//!   change is the level in force, even when it returns to an earlier level;
//! - only an existing user with the role `officer` goes on duty (`NotFound("officer <id>")`);
//!   an officer is on duty at one office at most: their latest change;
//! - a search finds the declarations whose document in force (lodged, or last amended) has every
//!   key given: bill of lading, container and invoice exactly, a commodity code by prefix of any
//!   item's, a part of the trader's name in any case; an amendment replaces the keys, a change
//!   that keeps the document keeps them; `visible_to` applies to a search like to any listing;
//! - a declaration's release time is that of the update that first set the status `released`;
//!   `release_durations` reads a period of release times (end exclusive), ascending;
//! - an attachment whose `size` is not its content's length, or added with a seq, is refused as
//!   `Other`; attachments are listed per task in the order added and read back byte for byte;
//! - a history batch is refused twice by digest; at most one risk model is active; promoting
//!   retires the active one in the same transaction; a roll-back re-activates the model the
//!   active one replaced (none if it replaced none);
//! - a CEB document's guid is recorded once: the same guid again answers `CebDocumentAlready`
//!   and writes nothing; the documents in force for a key are the latest version of each kind,
//!   none for a kind whose latest version deletes it (`app_type` 3); `expired_waiting` lists the
//!   waiting lists whose deadline is strictly before `now_ms`;
//! - a guarantee debit is its own event (`guarantee.debited`) before the append's; a balance of
//!   exactly the debit passes (leaving 0), one fen less writes nothing; a credit-back of an order
//!   twice credits it once (the second event changes no table).

mod attachments;
mod audit_chain;
mod cbec;
mod console;
mod credit;
mod declarations;
mod duty;
mod ecommerce;
mod ecommerce_race;
mod fixtures;
mod listing;
mod models;
mod parties;
mod receipts;
mod release_times;
mod releases;
mod rules;
mod search;
mod tasks;
mod watch_list;

pub use ecommerce_race::{ecommerce_race, waiting_lists_limit};
pub use receipts::{receipts_snapshot, whole_feed};

use audit::AuditSigner;
use store::{Append, AppendOutcome, DeclarationRow, Store, StoreError};

/// The checkpoint signer a store must be opened with to run the story; its public key is what
/// the story verifies the chain against.
pub fn story_signer() -> AuditSigner {
    AuditSigner::from_secret_bytes(&[7; 32])
}

/// Runs the whole story against a fresh, empty store opened with [`story_signer`].
/// Panics (like any test) at the first broken expectation.
pub async fn clearance_story<S: Store>(store: &S) {
    let mut story = Story {
        store,
        events_appended: 0,
        last_seq: 0,
        ledger: Vec::new(),
    };
    story.register_parties().await;
    story.resolve_principals().await;
    story.lodge_declarations().await;
    story.amend_declaration().await;
    story.replay_requests().await;
    story.complete_summary().await;
    story.reserve_number_serials().await;
    story.list_with_filters().await;
    story.page_through_all().await;
    story.search_declarations().await;
    story.read_histories().await;
    story.book_cbec_purchases().await;
    story.append_with_cbec_purchases().await;
    story.keep_reference_releases().await;
    story.record_origin_proof_uses().await;
    story.keep_targeting_rules().await;
    story.keep_officer_tasks().await;
    story.keep_task_attachments().await;
    story.keep_console_drafts_and_documents().await;
    story.keep_watch_list().await;
    story.keep_credit_levels().await;
    story.keep_officers_duty().await;
    story.read_release_times().await;
    story.read_the_receipts_feed().await;
    story.keep_webhook_delivery_state().await;
    story.keep_history_and_models().await;
    story.keep_token_lifecycle().await;
    story.keep_passwords().await;
    story.keep_cross_border_ecommerce().await;
    story.verify_audit_chain().await;
}

/// The story's memory of what it did, to compare the store against.
struct Story<'a, S> {
    store: &'a S,
    /// Events the store acknowledged (main and linked): the chain must be exactly this long.
    events_appended: u64,
    /// The newest event's number the store answered (`EventRow::seq`).
    last_seq: u64,
    /// Every declaration as it should now be in force.
    ledger: Vec<DeclarationRow>,
}

impl<S: Store> Story<'_, S> {
    /// The store answered `seq` for the newest event. With one chain events are numbered
    /// without gaps, so it is the count of events so far; with several (PostgreSQL) an event's
    /// number is global across chains and rises, but a refused append may leave a gap.
    fn saw_newest(&mut self, seq: u64, what: &str) {
        if self.store.chain_count() == 1 {
            assert_eq!(seq, self.events_appended, "{what} is the newest event");
        } else {
            assert!(
                seq > self.last_seq,
                "{what}: event {seq} comes after {}",
                self.last_seq
            );
        }
        self.last_seq = seq;
    }

    /// Appends and insists it was recorded; returns the main event's seq.
    async fn appended(&mut self, append: Append) -> u64 {
        let events = 1 + append.linked.len() as u64;
        let what = format!("{} of {}", append.action, append.subject);
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { seq }) => {
                self.events_appended += events;
                seq
            }
            other => panic!("{what} should be appended, got {other:?}"),
        }
    }

    /// Appends and returns the store's refusal, insisting there was one.
    async fn refused(&self, append: Append) -> StoreError {
        let what = format!("{} of {}", append.action, append.subject);
        match self.store.append(append).await {
            Err(err) => err,
            Ok(outcome) => panic!("{what} should be refused, got {outcome:?}"),
        }
    }

    /// Appends and returns the outcome, insisting it was not appended (duplicate or conflict).
    async fn not_appended(&self, append: Append) -> AppendOutcome {
        let what = format!("{} of {}", append.action, append.subject);
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { seq }) => panic!("{what} should not append, got {seq}"),
            Ok(outcome) => outcome,
            Err(err) => panic!("{what} should return an outcome, got {err}"),
        }
    }

    fn ledger_entry(&mut self, id: &str) -> &mut DeclarationRow {
        self.ledger
            .iter_mut()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("the story never lodged {id}"))
    }
}
