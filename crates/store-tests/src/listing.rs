//! Chapter 3: listing declarations with every filter, visibility, and keyset pagination.

use std::collections::BTreeSet;

use store::{DeclarationQuery, DeclarationRow, ListedDeclaration, Projection, Store};

use crate::Story;
use crate::fixtures::{
    Lodging, T0, actor, append, broker, declaration, other, other_clerk, trader,
};

/// Enough to list everything in one page.
const ALL: usize = 1_000;

fn query() -> DeclarationQuery {
    DeclarationQuery {
        limit: ALL,
        ..DeclarationQuery::default()
    }
}

fn codes(enterprises: &[&store::EnterpriseRow]) -> Option<store::Visibility> {
    let own = enterprises.iter().map(|e| e.credit_code.clone()).collect();
    Some(store::Visibility {
        own,
        principals: vec![],
    })
}

/// Newest first: lodging times never increase and cursors strictly decrease.
fn assert_newest_first(listed: &[ListedDeclaration]) {
    for pair in listed.windows(2) {
        let (newer, older) = (&pair[0].cursor, &pair[1].cursor);
        assert!(
            (newer.lodged_at_ms, newer.row) > (older.lodged_at_ms, older.row),
            "{newer:?} should come before {older:?}"
        );
        assert_eq!(pair[0].cursor.lodged_at_ms, pair[0].row.lodged_at_ms);
    }
}

impl<S: Store> Story<'_, S> {
    async fn list(&self, query: &DeclarationQuery) -> Vec<ListedDeclaration> {
        let listed = self.store.list_declarations(query).await.unwrap();
        assert_newest_first(&listed);
        listed
    }

    /// Lists with `query` and compares with the ledger filtered by `keep`, rows and all.
    async fn check_listing(
        &self,
        what: &str,
        query: DeclarationQuery,
        keep: impl Fn(&DeclarationRow) -> bool,
    ) {
        let listed = self.list(&query).await;
        let mut got: Vec<DeclarationRow> = listed.into_iter().map(|l| l.row).collect();
        let mut expected: Vec<DeclarationRow> =
            self.ledger.iter().filter(|d| keep(d)).cloned().collect();
        got.sort_by(|a, b| a.id.cmp(&b.id));
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(got, expected, "listing {what}");
    }

    pub(crate) async fn list_with_filters(&mut self) {
        self.check_listing("everything", query(), |_| true).await;
        self.list_by_each_filter().await;
        self.list_visible_to().await;
        self.list_with_combined_filters_and_limits().await;
        self.list_received_in_continuity().await;
    }

    /// Declarations received in continuity are those a `continuity.reconciled` event (its
    /// subject the provisional reference) names: listed with `continuity`, alone or with
    /// visibility, and counted per office on the dashboards.
    async fn list_received_in_continuity(&mut self) {
        self.check_listing(
            "received in continuity, before any",
            DeclarationQuery {
                continuity: true,
                ..query()
            },
            |_| false,
        )
        .await;
        let named: Vec<DeclarationRow> = self.ledger.iter().take(2).cloned().collect();
        for (seq, row) in (1..).zip(&named) {
            let reference = format!("CP-0a1b2c3d-{seq:09}");
            let mut event = append(
                &actor(&other_clerk()),
                &reference,
                &reference,
                store::CONTINUITY_RECONCILED_ACTION,
                Projection::Nothing,
            );
            event.idempotency_scope = "continuity".to_owned();
            event.payload = format!(
                r#"{{"provisional_reference":"{reference}","id":"{}","number":"{}"}}"#,
                row.id, row.number
            );
            let outcome = self.store.append(event).await.unwrap();
            assert!(
                matches!(outcome, store::AppendOutcome::Appended { .. }),
                "{outcome:?}"
            );
            self.events_appended += 1;
        }
        let ids: BTreeSet<String> = named.iter().map(|d| d.id.clone()).collect();
        self.check_listing(
            "received in continuity",
            DeclarationQuery {
                continuity: true,
                ..query()
            },
            |d| ids.contains(&d.id),
        )
        .await;
        let t = trader();
        self.check_listing(
            "received in continuity, visible to the trader",
            DeclarationQuery {
                continuity: true,
                visible_to: codes(&[&t]),
                ..query()
            },
            |d| {
                ids.contains(&d.id)
                    && (d.trader_credit_code == t.credit_code
                        || d.declarant_credit_code == t.credit_code)
            },
        )
        .await;
        let figures = self
            .store
            .dashboard_figures(&store::DashboardQuery {
                from_ms: 0,
                to_ms: T0 + 100_000_000,
                bucket_ms: 3_600_000,
                release_bounds_ms: vec![3_600_000],
                overdue_before_ms: 0,
            })
            .await
            .unwrap();
        let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
        for row in &named {
            *expected.entry(row.office_of_lodging.clone()).or_default() += 1;
        }
        assert_eq!(
            figures.continuity,
            expected.into_iter().collect::<Vec<_>>(),
            "received in continuity per office"
        );
    }

    async fn list_by_each_filter(&self) {
        let lodged = DeclarationQuery {
            status: Some("lodged".into()),
            ..query()
        };
        self.check_listing("by status", lodged, |d| d.status == "lodged")
            .await;
        let summaries = DeclarationQuery {
            kind: Some("summary".into()),
            ..query()
        };
        self.check_listing("by kind", summaries, |d| d.kind == "summary")
            .await;
        let exports = DeclarationQuery {
            direction: Some("export".into()),
            ..query()
        };
        self.check_listing("by direction", exports, |d| d.direction == "export")
            .await;
        let office = DeclarationQuery {
            office_of_lodging: Some("5301".into()),
            ..query()
        };
        self.check_listing("by office", office, |d| d.office_of_lodging == "5301")
            .await;
        let code = other().credit_code;
        let traded = DeclarationQuery {
            trader_credit_code: Some(code.clone()),
            ..query()
        };
        self.check_listing("by trader", traded, |d| d.trader_credit_code == code)
            .await;
        let (from, to) = (T0 + 2_000, T0 + 3_000);
        let window = DeclarationQuery {
            lodged_from_ms: Some(from),
            lodged_to_ms: Some(to),
            ..query()
        };
        let in_window = |d: &DeclarationRow| (from..=to).contains(&d.lodged_at_ms);
        self.check_listing("by lodging time, both ends inclusive", window, in_window)
            .await;
    }

    async fn list_with_combined_filters_and_limits(&self) {
        let t = trader();
        let combined = DeclarationQuery {
            visible_to: codes(&[&t]),
            status: Some("lodged".into()),
            direction: Some("export".into()),
            ..query()
        };
        let keep = |d: &DeclarationRow| {
            d.trader_credit_code == t.credit_code && d.status == "lodged" && d.direction == "export"
        };
        self.check_listing("with combined filters", combined, keep)
            .await;

        let everything = self.list(&query()).await;
        let newest = self
            .list(&DeclarationQuery {
                limit: 3,
                ..query()
            })
            .await;
        assert_eq!(newest, everything[..3], "the limit keeps the newest");
        let none = self
            .list(&DeclarationQuery {
                limit: 0,
                ..query()
            })
            .await;
        assert!(none.is_empty(), "limit 0 lists nothing");
    }

    /// A trader sees what it trades or declares; a broker what it declares; nobody sees nothing.
    async fn list_visible_to(&self) {
        let (t, b, o) = (trader(), broker(), other());
        let involves = |codes: Vec<String>| {
            move |d: &DeclarationRow| {
                codes.contains(&d.trader_credit_code) || codes.contains(&d.declarant_credit_code)
            }
        };
        for parties in [vec![&t], vec![&b], vec![&o, &b]] {
            let visible = codes(&parties);
            let q = DeclarationQuery {
                visible_to: visible.clone(),
                ..query()
            };
            let keep = involves(visible.map(|v| v.own).unwrap_or_default());
            self.check_listing("visible to parties", q, keep).await;
        }
        let nobody = DeclarationQuery {
            visible_to: Some(store::Visibility::default()),
            ..query()
        };
        assert!(
            self.list(&nobody).await.is_empty(),
            "an empty visibility list sees nothing"
        );
    }

    /// Walks every page of several listings: no repeats, no gaps, and a declaration lodged
    /// while paging (newer than the cursor) does not shift later pages.
    pub(crate) async fn page_through_all(&mut self) {
        let everything: Vec<String> = self.ledger.iter().map(|d| d.id.clone()).collect();
        for limit in [1, 2, 3] {
            let paged = self
                .page_through(&DeclarationQuery { limit, ..query() }, None)
                .await;
            assert_eq!(
                paged,
                everything.iter().cloned().collect(),
                "paging by {limit}"
            );
        }
        let t = trader();
        let traders = DeclarationQuery {
            visible_to: codes(&[&t]),
            limit: 2,
            ..query()
        };
        let expected: BTreeSet<String> = self
            .ledger
            .iter()
            .filter(|d| d.trader_credit_code == t.credit_code)
            .map(|d| d.id.clone())
            .collect();
        let paged = self.page_through(&traders, None).await;
        assert_eq!(paged, expected, "paging through a trader's declarations");

        let o = other();
        let late = Lodging {
            id: "D-O3",
            trader: &o,
            declarant: &o,
            kind: "full",
            direction: "import",
            office: "5301",
            lodged_at_ms: T0 + 9_000,
        };
        let late = declaration(&late);
        let paged = self
            .page_through(
                &DeclarationQuery {
                    limit: 2,
                    ..query()
                },
                Some(late.clone()),
            )
            .await;
        assert_eq!(
            paged,
            everything.into_iter().collect(),
            "a late lodging is not on later pages"
        );
        self.ledger.push(late);
    }

    /// The ids of every page of `query`; lodges `lodged_meanwhile` after the first page.
    async fn page_through(
        &mut self,
        query: &DeclarationQuery,
        mut lodged_meanwhile: Option<DeclarationRow>,
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut page_query = query.clone();
        loop {
            let page = self.list(&page_query).await;
            assert!(page.len() <= query.limit, "a page holds at most the limit");
            let Some(last) = page.last() else { break };
            if let Some(before) = page_query.before {
                let first = page[0].cursor;
                assert!((first.lodged_at_ms, first.row) < (before.lodged_at_ms, before.row));
            }
            page_query.before = Some(last.cursor);
            for listed in page {
                assert!(
                    seen.insert(listed.row.id.clone()),
                    "{} listed twice",
                    listed.row.id
                );
            }
            if let Some(row) = lodged_meanwhile.take() {
                let key = format!("lodge-{}", row.id);
                let subject = row.id.clone();
                let lodge = append(
                    &actor(&other_clerk()),
                    &key,
                    &subject,
                    "declaration.lodged",
                    Projection::NewDeclaration(row),
                );
                self.appended(lodge).await;
            }
        }
        seen
    }
}
