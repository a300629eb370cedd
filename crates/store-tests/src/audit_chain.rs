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

    /// Every acknowledged event is in a chain, each chain verifies against the signer's key
    /// (anchored, with several chains, by the signed heads of all chains), and a checkpoint can
    /// be forced (once) at the heads.
    pub(crate) async fn verify_audit_chain(&mut self) {
        let head = self.events_appended;
        let chains = self.store.chain_count();
        let mut all = Vec::new();
        for chain in 0..chains {
            let entries = self.read_chain_in_pages(chain, 5).await;
            let seqs: Vec<u64> = entries.iter().map(|e| e.entry.seq).collect();
            assert_eq!(
                seqs,
                (1..=seqs.len() as u64).collect::<Vec<_>>(),
                "chain {chain}: one gap-free entry per event"
            );
            all.push(entries);
        }
        assert_eq!(
            all.iter().map(Vec::len).sum::<usize>() as u64,
            head,
            "one entry per acknowledged event"
        );
        if chains > 1 {
            assert!(
                all.iter().filter(|entries| !entries.is_empty()).count() > 1,
                "the story's subjects are spread over several chains"
            );
        }
        self.check_entries_match_events().await;
        self.check_record_listing(&all).await;

        let heads = self.store.chain_heads().await.unwrap();
        assert_eq!(heads.iter().sum::<u64>(), head);
        match self.store.checkpoint_now().await.unwrap() {
            Some(checkpoint) => assert!(heads.contains(&checkpoint.seq)),
            // The store's own policy may already have signed the heads.
            None => {
                let checkpoints = self.store.checkpoints().await.unwrap();
                assert_eq!(checkpoints.last().map(|c| c.seq), Some(heads[0]));
            }
        }
        assert_eq!(
            self.store.checkpoint_now().await.unwrap(),
            None,
            "nothing new to sign"
        );

        let key = story_signer().public_key();
        let rounds = self.store.checkpoint_rounds().await.unwrap();
        let anchors = audit::round_anchors(&rounds, usize::from(chains), &key)
            .expect("every round of signed heads verifies");
        if chains > 1 {
            let last = rounds.last().expect("a round was signed");
            let signed: Vec<u64> = last.heads.iter().map(|h| h.seq).collect();
            assert_eq!(signed, heads, "the last round signs every chain's head");
        }
        for (chain, entries) in all.into_iter().enumerate() {
            let chain_number = u16::try_from(chain).unwrap();
            let checkpoints = self.store.chain_checkpoints(chain_number).await.unwrap();
            let signed: Vec<u64> = checkpoints.iter().map(|c| c.seq).collect();
            assert!(
                signed.windows(2).all(|w| w[0] < w[1]),
                "checkpoints in seq order: {signed:?}"
            );
            let chain_head = heads[chain];
            let options = audit::VerifyOptions {
                anchors: anchors[chain].clone(),
                checkpoint_bound: None,
            };
            let mut verifier = audit::ChainVerifier::with_options(&checkpoints, &key, &options);
            for stored in &entries {
                verifier.push(stored);
            }
            let report = verifier.finish();
            assert!(report.is_ok(), "chain {chain} verifies: {report:?}");
            assert_eq!(report.last_seq, chain_head);
            if chain_head > 0 {
                assert_eq!(report.last_checkpoint_seq, Some(chain_head));
            }
            assert_eq!(report.checkpoints_checked, checkpoints.len() as u64);
            // The plain verifier (no anchors) agrees.
            assert!(verify_chain(entries, &checkpoints, &key).is_ok());
        }

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
            "ceb_documents",
            "inventory_lists",
            "guarantees",
            "guarantee_movements",
            "cbec_credit_backs",
            "ceb_enterprises",
            "ceb_certificates",
        ] {
            assert!(
                rebuilt.tables.iter().any(|t| t == table),
                "{table}: {rebuilt:?}"
            );
        }
    }

    /// The whole record read page by page by the global number (`record_entries`, what an
    /// auditor lists): every entry of every chain exactly once, numbers rising across pages and
    /// chains, each entry as its chain holds it at its seq, and the event of that number.
    async fn check_record_listing(&self, chains: &[Vec<StoredEntry>]) {
        // A page size that makes pages end inside chains' runs and across them.
        const PAGE: usize = 7;
        let mut listed: Vec<store::RecordEntry> = Vec::new();
        loop {
            let after = listed.last().map_or(0, |e| e.row);
            let page = self.store.record_entries(after, PAGE).await.unwrap();
            assert!(page.len() <= PAGE);
            if page.is_empty() {
                break;
            }
            listed.extend(page);
        }
        let total: usize = chains.iter().map(Vec::len).sum();
        assert_eq!(
            listed.len(),
            total,
            "every entry of every chain listed once"
        );
        assert!(
            listed.windows(2).all(|w| w[0].row < w[1].row),
            "in the order of their numbers, none repeated"
        );
        let mut seen = std::collections::HashSet::new();
        for listed in &listed {
            let chain = &chains[usize::from(listed.chain)];
            let at = usize::try_from(listed.stored.entry.seq - 1).unwrap();
            assert_eq!(
                chain.get(at),
                Some(&listed.stored),
                "number {} is entry {} of chain {}",
                listed.row,
                listed.stored.entry.seq,
                listed.chain
            );
            assert!(seen.insert((listed.chain, listed.stored.entry.seq)));
            let (chain_of_event, entry) = self
                .store
                .entry_of_event(listed.row)
                .await
                .unwrap()
                .expect("the number is an event's");
            assert_eq!((chain_of_event, &entry), (listed.chain, &listed.stored));
        }
        assert!(
            self.store
                .record_entries(listed.last().map_or(0, |e| e.row), PAGE)
                .await
                .unwrap()
                .is_empty(),
            "nothing after the last"
        );
    }

    async fn read_chain_in_pages(&self, chain: u16, page: usize) -> Vec<StoredEntry> {
        let mut entries: Vec<StoredEntry> = Vec::new();
        loop {
            let after = entries.last().map_or(0, |e| e.entry.seq);
            let batch = self.store.chain_entries(chain, after, page).await.unwrap();
            assert!(batch.len() <= page);
            if batch.is_empty() {
                return entries;
            }
            entries.extend(batch);
        }
    }

    /// The chain records the events as the store reports them, field for field.
    async fn check_entries_match_events(&self) {
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
                let (_, stored) = self
                    .store
                    .entry_of_event(event.seq)
                    .await
                    .unwrap()
                    .expect("every event is in a chain");
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
