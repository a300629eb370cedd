//! Chapter 4: histories per subject, and the audit chain with its signed checkpoints.

use audit::{StoredEntry, verify_chain};
use store::Store;

use crate::{Story, story_signer};

impl<S: Store> Story<'_, S> {
    pub(crate) async fn read_histories(&mut self) {
        let history = self.store.events("D-T1").await.unwrap();
        let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["declaration.lodged", "declaration.amended"]);
        assert!(history[0].seq < history[1].seq, "a history is in seq order");
        assert!(history.iter().all(|e| e.subject == "D-T1"));
        let summary: Vec<String> = self
            .store
            .events("D-T3")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(summary, ["declaration.lodged", "declaration.completed"]);
        assert!(self.store.events("D-NONE").await.unwrap().is_empty());
    }

    /// Every acknowledged event is in the chain, the chain verifies against the signer's key,
    /// and a checkpoint can be forced (once) at the head.
    pub(crate) async fn verify_audit_chain(&mut self) {
        let entries = self.read_chain_in_pages(5).await;
        let head = self.events_appended;
        let seqs: Vec<u64> = entries.iter().map(|e| e.entry.seq).collect();
        assert_eq!(
            seqs,
            (1..=head).collect::<Vec<_>>(),
            "one gap-free entry per event"
        );
        self.check_entries_match_events(&entries).await;

        match self.store.checkpoint_now().await.unwrap() {
            Some(checkpoint) => assert_eq!(checkpoint.seq, head),
            // The store's own policy may already have signed the head.
            None => {
                let checkpoints = self.store.checkpoints().await.unwrap();
                assert_eq!(checkpoints.last().map(|c| c.seq), Some(head));
            }
        }
        assert_eq!(
            self.store.checkpoint_now().await.unwrap(),
            None,
            "nothing new to sign"
        );

        let checkpoints = self.store.checkpoints().await.unwrap();
        let signed: Vec<u64> = checkpoints.iter().map(|c| c.seq).collect();
        assert!(
            signed.windows(2).all(|w| w[0] < w[1]),
            "checkpoints in seq order: {signed:?}"
        );
        let key = story_signer().public_key();
        let report = verify_chain(entries, &checkpoints, &key);
        assert!(report.is_ok(), "the chain verifies: {report:?}");
        assert_eq!(report.last_seq, head);
        assert_eq!(report.last_checkpoint_seq, Some(head));
        assert_eq!(report.checkpoints_checked, checkpoints.len() as u64);

        // Every table the story changed is what the chain's recorded projections rebuild.
        let rebuilt = self.store.check_projections().await.unwrap();
        assert_eq!(rebuilt.not_rebuilt, None);
        assert_eq!(rebuilt.differences, Vec::<String>::new());
        assert_eq!(rebuilt.events_replayed, head);
        for table in [
            "users",
            "tokens",
            "broker_authorisations",
            "cbec_ledger",
            "declarations",
        ] {
            assert!(
                rebuilt.tables.iter().any(|t| t == table),
                "{table}: {rebuilt:?}"
            );
        }
    }

    async fn read_chain_in_pages(&self, page: usize) -> Vec<StoredEntry> {
        let mut entries: Vec<StoredEntry> = Vec::new();
        loop {
            let after = entries.last().map_or(0, |e| e.entry.seq);
            let batch = self.store.audit_entries(after, page).await.unwrap();
            assert!(batch.len() <= page);
            if batch.is_empty() {
                return entries;
            }
            entries.extend(batch);
        }
    }

    /// The chain records the events as the store reports them, field for field.
    async fn check_entries_match_events(&self, entries: &[StoredEntry]) {
        let buyer = "a".repeat(64);
        let cbec = format!("cbec:{buyer}:2025");
        for subject in [
            "D-T1",
            "D-T3",
            "ent-trader",
            cbec.as_str(),
            "TR-0001",
            "D-T4",
            "T-1",
        ] {
            for event in self.store.events(subject).await.unwrap() {
                let stored = entries
                    .iter()
                    .find(|e| e.entry.seq == event.seq)
                    .expect("every event is in the chain");
                let entry = &stored.entry;
                assert_eq!(entry.subject, event.subject);
                assert_eq!(entry.action, event.action);
                assert_eq!(
                    (&entry.actor, &entry.role),
                    (&event.actor.user_id, &event.actor.role)
                );
                assert_eq!(entry.recorded_at_ms, event.recorded_at_ms);
                assert_eq!(entry.idempotency_key, event.idempotency_key);
                assert_eq!(entry.payload, event.payload);
            }
        }
    }
}
