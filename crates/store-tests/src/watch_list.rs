//! Chapter 9: the watch list (布控名单). Entries are added and removed by events; a removed entry
//! is kept (with the seq that removed it), so the list in force on any past day reads back.

use store::{Actor, Append, Projection, Store, StoreError, WatchEntryRow};

use crate::Story;
use crate::fixtures::{T0, append};

fn analyst() -> Actor {
    Actor {
        user_id: "usr-wang".to_owned(),
        role: "risk_analyst".to_owned(),
    }
}

fn entry(id: &str, kind: &str, value: &str, valid_to: Option<&str>) -> WatchEntryRow {
    WatchEntryRow {
        id: id.to_owned(),
        kind: kind.to_owned(),
        value: value.to_owned(),
        reason_en: "undervaluation found twice".to_owned(),
        reason_zh: "两次查获低报价格".to_owned(),
        action: "document_check".to_owned(),
        valid_from: Some("2026-01-01".to_owned()),
        valid_to: valid_to.map(str::to_owned),
        added_by: "usr-wang".to_owned(),
        added_at_ms: T0 + 60_000,
        added_seq: None,
        approved_by: None,
        approved_seq: None,
        removal_requested_by: None,
        removal_requested_seq: None,
        removed_by: None,
        removed_seq: None,
    }
}

fn other_analyst() -> Actor {
    Actor {
        user_id: "usr-zhao".to_owned(),
        role: "risk_analyst".to_owned(),
    }
}

fn approve(key: &str, id: &str, approver: &str) -> Append {
    append(
        &other_analyst(),
        key,
        &format!("watch:{id}"),
        "watch_entry.approved",
        Projection::ApproveWatchEntry {
            id: id.to_owned(),
            approver: approver.to_owned(),
        },
    )
}

fn add(key: &str, entry: &WatchEntryRow) -> Append {
    append(
        &analyst(),
        key,
        &format!("watch:{}", entry.id),
        "watch_entry.added",
        Projection::AddWatchEntry(entry.clone()),
    )
}

fn remove(key: &str, id: &str) -> Append {
    append(
        &analyst(),
        key,
        &format!("watch:{id}"),
        "watch_entry.removed",
        Projection::RemoveWatchEntry {
            id: id.to_owned(),
            by: "usr-wang".to_owned(),
        },
    )
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_watch_list(&mut self) {
        assert!(self.store.watch_entries().await.unwrap().is_empty());
        let seller = entry("W-1", "seller", "Pacific Electronics Inc.", None);
        let vessel = entry("W-2", "transport_means", "EVER GIVEN", Some("2026-12-31"));
        let seller_seq = self.appended(add("watch-1", &seller)).await;
        let vessel_seq = self.appended(add("watch-2", &vessel)).await;

        // An id is taken once; an entry is added without seqs.
        match self.refused(add("watch-x", &seller)).await {
            StoreError::Conflict(what) => assert_eq!(what, "watch entry W-1"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let seeded = WatchEntryRow {
            removed_seq: Some(1),
            ..entry("W-3", "importer", "91310000MA1TRADER1", None)
        };
        assert!(matches!(
            self.refused(add("watch-x", &seeded)).await,
            StoreError::Other(_)
        ));

        // Four eyes: the proposer cannot approve; another analyst does, once.
        match self.refused(approve("approve-x", "W-1", "usr-wang")).await {
            StoreError::Conflict(what) => assert!(what.contains("cannot approve"), "{what}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let approved_seq = self.appended(approve("approve-1", "W-1", "usr-zhao")).await;
        match self.refused(approve("approve-y", "W-1", "usr-zhao")).await {
            StoreError::Conflict(what) => {
                assert_eq!(what, "watch entry W-1 has nothing awaiting approval")
            }
            other => panic!("expected a conflict, got {other:?}"),
        }

        // Removing an entry in force is a request another analyst approves; the entry is kept.
        // Requesting twice, removing twice, or an unknown id, is refused.
        let requested_seq = self.appended(remove("unwatch-1", "W-1")).await;
        match self.refused(remove("unwatch-x", "W-1")).await {
            StoreError::Conflict(what) => {
                assert_eq!(what, "watch entry W-1 has a removal awaiting approval")
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        match self.refused(approve("approve-z", "W-1", "usr-wang")).await {
            StoreError::Conflict(what) => assert!(what.contains("cannot approve"), "{what}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let removed_seq = self.appended(approve("approve-2", "W-1", "usr-zhao")).await;
        match self.refused(remove("unwatch-y", "W-1")).await {
            StoreError::Conflict(what) => assert_eq!(what, "watch entry W-1 is removed"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        match self.refused(remove("unwatch-x", "W-9")).await {
            StoreError::NotFound(what) => assert_eq!(what, "watch entry W-9"),
            other => panic!("expected not found, got {other:?}"),
        }

        let entries = self.store.watch_entries().await.unwrap();
        assert_eq!(
            entries,
            [
                WatchEntryRow {
                    added_seq: Some(seller_seq),
                    approved_by: Some("usr-zhao".to_owned()),
                    approved_seq: Some(approved_seq),
                    removal_requested_by: Some("usr-wang".to_owned()),
                    removal_requested_seq: Some(requested_seq),
                    removed_by: Some("usr-zhao".to_owned()),
                    removed_seq: Some(removed_seq),
                    ..seller
                },
                WatchEntryRow {
                    added_seq: Some(vessel_seq),
                    ..vessel
                },
            ]
        );
    }
}
