//! Chapter: the receipts feed and webhook delivery state (issue 14). The feed is every event of
//! the declarations a trade enterprise sees, chain by chain after a position, read in windows;
//! the delivery state is a webhook per enterprise (cursor moved compare-and-set, a lease that
//! one holder has at a time) and its dead letters.

use std::collections::BTreeSet;

use store::{DeadLetterRow, DeliveryChange, FeedEvent, Store, Visibility, WebhookRow};

use crate::Story;
use crate::fixtures::{T0, broker, trader};

/// Every event of the feed for `visibility`, chain by chain, read `limit` at a time through
/// windows of `window` positions.
pub async fn whole_feed<S: Store>(
    store: &S,
    visibility: &Visibility,
    window: u64,
    limit: usize,
) -> Vec<FeedEvent> {
    let mut all = Vec::new();
    for chain in 0..store.chain_count() {
        let mut after = 0;
        loop {
            let read = store
                .trade_feed(visibility, chain, after, window, limit)
                .await
                .unwrap();
            assert!(read.events.len() <= limit);
            assert!(read.read_to <= after + window, "a window is bounded");
            let mut previous = after;
            for event in &read.events {
                assert_eq!(event.chain, chain);
                assert!(event.chain_seq > previous, "in chain order");
                assert!(event.chain_seq <= read.read_to);
                previous = event.chain_seq;
            }
            if read.events.is_empty() && read.read_to == after {
                break;
            }
            assert!(read.read_to > after, "the reader moves on");
            after = read.read_to;
            all.extend(read.events);
        }
    }
    all
}

/// What a restart must keep: the feed of the story's trader and every webhook.
pub async fn receipts_snapshot<S: Store>(store: &S) -> (Vec<(u16, u64, u64)>, Vec<WebhookRow>) {
    let visibility = Visibility {
        own: vec![trader().credit_code],
        principals: vec![],
    };
    let feed = whole_feed(store, &visibility, 7, 3)
        .await
        .into_iter()
        .map(|e| (e.chain, e.chain_seq, e.event.seq))
        .collect();
    (feed, store.webhooks(None).await.unwrap())
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn read_the_receipts_feed(&mut self) {
        let visibility = Visibility {
            own: vec![trader().credit_code],
            principals: vec![],
        };
        let feed = whole_feed(self.store, &visibility, 1_000, 1_000).await;
        // Read in small windows and pages, the feed is the same.
        let small = whole_feed(self.store, &visibility, 5, 2).await;
        let key = |events: &[FeedEvent]| -> BTreeSet<(u16, u64, u64)> {
            events
                .iter()
                .map(|e| (e.chain, e.chain_seq, e.event.seq))
                .collect()
        };
        assert_eq!(key(&feed), key(&small));
        assert_eq!(feed.len(), small.len());
        // Exactly the events of the declarations the trader sees, with their numbers.
        let visible: Vec<_> = self
            .ledger
            .iter()
            .filter(|d| {
                d.trader_credit_code == visibility.own[0]
                    || d.declarant_credit_code == visibility.own[0]
            })
            .cloned()
            .collect();
        assert!(!visible.is_empty());
        let mut expected = BTreeSet::new();
        for declaration in &visible {
            for event in self.store.events(&declaration.id).await.unwrap() {
                expected.insert(event.seq);
            }
        }
        let got: BTreeSet<u64> = feed.iter().map(|e| e.event.seq).collect();
        assert_eq!(got, expected);
        for event in &feed {
            let declaration = visible
                .iter()
                .find(|d| d.id == event.declaration_id)
                .unwrap_or_else(|| panic!("{} is not the trader's", event.declaration_id));
            assert_eq!(event.number, declaration.number);
            assert_eq!(event.event.subject, declaration.id);
        }
        // Nobody sees nothing; a broker's principal is matched on the trader only.
        let nobody = Visibility::default();
        assert!(whole_feed(self.store, &nobody, 1_000, 10).await.is_empty());
        let as_principal = Visibility {
            own: vec![],
            principals: vec![trader().credit_code],
        };
        let principal_feed = whole_feed(self.store, &as_principal, 1_000, 1_000).await;
        assert!(principal_feed.iter().all(|e| {
            visible
                .iter()
                .any(|d| d.id == e.declaration_id && d.trader_credit_code == trader().credit_code)
        }));
        // A window of one position reads at most one event.
        let one = self
            .store
            .trade_feed(&visibility, 0, 0, 1, 10)
            .await
            .unwrap();
        assert!(one.events.len() <= 1 && one.read_to <= 1);
    }

    pub(crate) async fn keep_webhook_delivery_state(&mut self) {
        let enterprise = broker().credit_code;
        let hook = WebhookRow {
            enterprise: enterprise.clone(),
            id: "W-1".into(),
            url: "https://hooks.example.com/customs".into(),
            secret: "whsec_story".into(),
            created_at_ms: T0,
            created_by: "U-BROKER".into(),
            delivered: "0".into(),
            lease_holder: None,
            lease_until_ms: 0,
        };
        let store = self.store;
        let change = |c: DeliveryChange| async move { store.change_delivery(c).await.unwrap() };
        assert!(change(DeliveryChange::PutWebhook(hook.clone())).await);
        assert_eq!(
            self.store.webhooks(Some(&enterprise)).await.unwrap(),
            std::slice::from_ref(&hook)
        );
        assert!(
            self.store
                .webhooks(Some("nobody"))
                .await
                .unwrap()
                .is_empty()
        );
        let advance = |webhook_id: &str, from: &str, to: &str| DeliveryChange::Advance {
            enterprise: enterprise.clone(),
            webhook_id: webhook_id.into(),
            from: from.into(),
            to: to.into(),
        };
        // Compare-and-set: a stale cursor or another registration moves nothing.
        assert!(!change(advance("W-1", "5", "6")).await);
        assert!(!change(advance("W-0", "0", "6")).await);
        assert!(change(advance("W-1", "0", "6")).await);
        assert_eq!(self.store.webhooks(None).await.unwrap()[0].delivered, "6");
        // One lease holder at a time, until it expires.
        let lease = |holder: &str, now_ms: i64| DeliveryChange::Lease {
            enterprise: enterprise.clone(),
            holder: holder.into(),
            now_ms,
            until_ms: now_ms + 1_000,
        };
        assert!(change(lease("A", T0)).await);
        assert!(!change(lease("B", T0 + 500)).await);
        assert!(change(lease("A", T0 + 500)).await, "the holder renews");
        assert!(!change(lease("B", T0 + 1_500)).await);
        assert!(
            change(lease("B", T0 + 1_501)).await,
            "an expired lease is taken"
        );
        let held = &self.store.webhooks(None).await.unwrap()[0];
        assert_eq!(held.lease_holder.as_deref(), Some("B"));
        assert_eq!(held.lease_until_ms, T0 + 2_501);
        // A holder that stops gives its leases up: another takes it at once.
        let release = |holder: &str| DeliveryChange::Release {
            holder: holder.into(),
        };
        assert!(!change(release("A")).await);
        assert!(change(release("B")).await);
        assert!(change(lease("A", T0 + 1_600)).await);
        // A replay sets the cursor back.
        assert!(
            change(DeliveryChange::Rewind {
                enterprise: enterprise.clone(),
                to: "2".into(),
            })
            .await
        );
        assert_eq!(self.store.webhooks(None).await.unwrap()[0].delivered, "2");
        // Dead letters, oldest first, removed once.
        let letter = |id: &str, at: i64| DeadLetterRow {
            id: id.into(),
            enterprise: enterprise.clone(),
            cursor: "3".into(),
            declaration_id: "D-1".into(),
            body: "{\"receipt\":\"accepted\",\"name\":\"上海\"}".into(),
            content_type: "application/json".into(),
            attempts: 8,
            last_error: "the receiver answered 500".into(),
            failed_at_ms: at,
        };
        assert!(change(DeliveryChange::DeadLetter(letter("L-2", T0 + 2))).await);
        assert!(change(DeliveryChange::DeadLetter(letter("L-1", T0 + 1))).await);
        assert!(!change(DeliveryChange::DeadLetter(letter("L-1", T0 + 1))).await);
        assert_eq!(
            self.store.dead_letters(&enterprise).await.unwrap(),
            [letter("L-1", T0 + 1), letter("L-2", T0 + 2)]
        );
        let remove = |id: &str| DeliveryChange::RemoveDeadLetter {
            enterprise: enterprise.clone(),
            id: id.into(),
        };
        assert!(change(remove("L-1")).await);
        assert!(!change(remove("L-1")).await);
        assert_eq!(self.store.dead_letters(&enterprise).await.unwrap().len(), 1);
        // At most DEAD_LETTERS_LISTED_MAX are read, the oldest.
        let other = crate::fixtures::other().credit_code;
        for n in 0..=store::DEAD_LETTERS_LISTED_MAX as i64 {
            let row = DeadLetterRow {
                id: format!("M-{n:04}"),
                enterprise: other.clone(),
                ..letter("-", T0 + n)
            };
            assert!(change(DeliveryChange::DeadLetter(row)).await);
        }
        let listed = self.store.dead_letters(&other).await.unwrap();
        assert_eq!(listed.len(), store::DEAD_LETTERS_LISTED_MAX);
        assert_eq!(listed[0].id, "M-0000");
        assert_eq!(
            listed.last().unwrap().id,
            format!("M-{:04}", store::DEAD_LETTERS_LISTED_MAX - 1)
        );
        // A new registration replaces the webhook; deleting removes it.
        let again = WebhookRow {
            id: "W-2".into(),
            delivered: "9".into(),
            ..hook.clone()
        };
        assert!(change(DeliveryChange::PutWebhook(again.clone())).await);
        assert_eq!(self.store.webhooks(None).await.unwrap(), [again]);
        let delete = || DeliveryChange::DeleteWebhook {
            enterprise: enterprise.clone(),
        };
        assert!(change(delete()).await);
        assert!(!change(delete()).await);
        // Kept for the restart check of the binaries' tests.
        assert!(change(DeliveryChange::PutWebhook(hook)).await);
    }
}
