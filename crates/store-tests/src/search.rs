//! Chapter 3b: searching declarations by the keys of their document in force (bill of lading,
//! container, invoice, commodity code prefix, part of the trader's name), combined with each
//! other and with what the caller may see, and kept right by an amendment.

use std::collections::BTreeSet;

use store::{DeclarationQuery, DeclarationSearch, DeclarationUpdate, Projection, Store};

use crate::Story;
use crate::fixtures::{
    Lodging, T0, actor, append, broker, broker_clerk, carrying, declaration, other, trader,
};

/// A declaration document with the search keys where the declaration model has them.
fn searchable(
    trader: &str,
    bill: &str,
    containers: &[&str],
    invoice: &str,
    codes: &[&str],
) -> String {
    let list = |values: &[&str]| {
        values
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let items: Vec<String> = codes
        .iter()
        .map(|c| format!(r#"{{"commodity_code":"{c}"}}"#))
        .collect();
    format!(
        r#"{{"trader":{{"name":"{trader}"}},"transport":{{"mode":"2","document":{{"kind":"bill_of_lading","number":"{bill}"}},"containers":[{}]}},"invoice":{{"number":"{invoice}","currency":"USD","amount":"100.00"}},"items":[{}]}}"#,
        list(containers),
        items.join(",")
    )
}

const PUDONG: &str = "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.";

impl<S: Store> Story<'_, S> {
    async fn found(&self, what: &str, query: DeclarationQuery) -> BTreeSet<String> {
        let listed = self.store.list_declarations(&query).await.unwrap();
        let found: BTreeSet<String> = listed.into_iter().map(|l| l.row.id).collect();
        // Whatever is found is listed whole, as the ledger has it.
        for id in &found {
            assert!(
                self.ledger.iter().any(|d| &d.id == id),
                "{what}: found {id}, which the story never lodged"
            );
        }
        found
    }

    async fn search(&self, what: &str, search: DeclarationSearch) -> BTreeSet<String> {
        let query = DeclarationQuery {
            limit: 1_000,
            search,
            ..DeclarationQuery::default()
        };
        self.found(what, query).await
    }

    pub(crate) async fn search_declarations(&mut self) {
        let (t, b, o) = (trader(), broker(), other());
        let lodgings = [
            (
                "D-S1",
                &t,
                &b,
                PUDONG,
                "MSCU-BL-0001",
                &["CSQU3054383", "MSKU9070323"][..],
                "INV-7",
                &["8517130000", "8471300000", "8517130000"][..],
            ),
            (
                "D-S2",
                &t,
                &t,
                PUDONG,
                "MSCU-BL-0002",
                &[][..],
                "INV-8",
                &["6109100000"][..],
            ),
            (
                "D-S3",
                &o,
                &o,
                "深圳前海电子有限公司 Qianhai Electronics",
                "COSU-BL-0003",
                &["CSQU3054383"][..],
                "INV-9",
                &["8517620000"][..],
            ),
        ];
        for (n, (id, trader, declarant, name, bill, containers, invoice, codes)) in
            lodgings.into_iter().enumerate()
        {
            let mut row = declaration(&Lodging {
                id,
                trader,
                declarant,
                kind: "full",
                direction: "import",
                office: "2201",
                lodged_at_ms: T0 + 5_000 + n as i64,
            });
            row.document = searchable(name, bill, containers, invoice, codes);
            self.lodge(row).await;
        }
        let ids = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<BTreeSet<_>>();
        let by = |f: fn(&mut DeclarationSearch, String), value: &str| {
            let mut search = DeclarationSearch::default();
            f(&mut search, value.to_owned());
            search
        };
        let bill = |s: &mut DeclarationSearch, v| s.bill_of_lading = Some(v);
        let container = |s: &mut DeclarationSearch, v| s.container = Some(v);
        let invoice = |s: &mut DeclarationSearch, v| s.invoice = Some(v);
        let code = |s: &mut DeclarationSearch, v| s.commodity_code_prefix = Some(v);
        let name = |s: &mut DeclarationSearch, v| s.trader_name = Some(v);

        let cases: &[(&str, DeclarationSearch, &[&str])] = &[
            ("by bill of lading", by(bill, "MSCU-BL-0001"), &["D-S1"]),
            (
                "by a bill of lading's part (exact only)",
                by(bill, "MSCU-BL"),
                &[],
            ),
            (
                "by a container two declarations share",
                by(container, "CSQU3054383"),
                &["D-S1", "D-S3"],
            ),
            (
                "by a declaration's second container",
                by(container, "MSKU9070323"),
                &["D-S1"],
            ),
            ("by invoice", by(invoice, "INV-8"), &["D-S2"]),
            ("by a heading", by(code, "8517"), &["D-S1", "D-S3"]),
            ("by a subheading", by(code, "851713"), &["D-S1"]),
            ("by a chapter", by(code, "61"), &["D-S2"]),
            ("by a whole code", by(code, "8471300000"), &["D-S1"]),
            ("by a code nobody declared", by(code, "99"), &[]),
            (
                "by a part of the name in another case",
                by(name, "pudong TRADING"),
                &["D-S1", "D-S2"],
            ),
            (
                "by a part of the name in Chinese",
                by(name, "浦东贸易"),
                &["D-S1", "D-S2"],
            ),
            ("by another trader's name", by(name, "前海"), &["D-S3"]),
        ];
        for (what, search, expected) in cases {
            assert_eq!(
                self.search(what, search.clone()).await,
                ids(expected),
                "{what}"
            );
        }
        let both = DeclarationSearch {
            container: Some("CSQU3054383".into()),
            trader_name: Some("Pudong".into()),
            ..DeclarationSearch::default()
        };
        assert_eq!(
            self.search("two terms", both.clone()).await,
            ids(&["D-S1"]),
            "terms combine (AND)"
        );

        // What a trade caller may see is part of the query, not filtered after it.
        let seen_by_other = DeclarationQuery {
            visible_to: Some(store::Visibility {
                own: vec![o.credit_code.clone()],
                principals: vec![],
            }),
            limit: 1_000,
            search: DeclarationSearch {
                container: Some("CSQU3054383".into()),
                ..DeclarationSearch::default()
            },
            ..DeclarationQuery::default()
        };
        assert_eq!(
            self.found("as the other trader", seen_by_other.clone())
                .await,
            ids(&["D-S3"])
        );
        let page = DeclarationQuery {
            limit: 1,
            ..seen_by_other
        };
        assert_eq!(self.found("a page of one", page).await, ids(&["D-S3"]));
        // Search with other filters.
        let exports = DeclarationQuery {
            direction: Some("export".into()),
            limit: 1_000,
            search: both,
            ..DeclarationQuery::default()
        };
        assert!(self.found("no export matches", exports).await.is_empty());

        // An amendment's document replaces the keys.
        let amended = searchable(
            PUDONG,
            "MSCU-BL-0002",
            &["MSCU1234566"],
            "INV-8A",
            &["6110200000"],
        );
        let update = DeclarationUpdate {
            id: "D-S2".to_owned(),
            status: "accepted".to_owned(),
            version: 2,
            updated_at_ms: T0 + 30_000,
            completed_by: None,
            replaces_document: true,
        };
        let mut amend = append(
            &actor(&broker_clerk()),
            "amend-D-S2",
            "D-S2",
            "declaration.amended",
            Projection::UpdateDeclaration(update.clone()),
        );
        amend.payload = carrying(&amended, None, Some("invoice corrected"));
        amend.expected_version = Some(1);
        self.appended(amend).await;
        let entry = self.ledger_entry("D-S2");
        entry.status = update.status;
        entry.version = 2;
        entry.updated_at_ms = update.updated_at_ms;
        entry.document = amended;
        assert!(
            self.search("the old invoice", by(invoice, "INV-8"))
                .await
                .is_empty()
        );
        assert_eq!(
            self.search("the new invoice", by(invoice, "INV-8A")).await,
            ids(&["D-S2"])
        );
        assert_eq!(
            self.search("the added container", by(container, "MSCU1234566"))
                .await,
            ids(&["D-S2"])
        );
        assert_eq!(
            self.search("the old chapter", by(code, "6109")).await,
            ids(&[])
        );
        assert_eq!(
            self.search("the new chapter", by(code, "61")).await,
            ids(&["D-S2"])
        );
        // A change that keeps the document keeps the keys (not a release: the release-times
        // chapter counts the story's releases).
        let release = DeclarationUpdate {
            id: "D-S2".to_owned(),
            status: "accepted".to_owned(),
            version: 3,
            updated_at_ms: T0 + 31_000,
            completed_by: None,
            replaces_document: false,
        };
        let mut released = append(
            &actor(&broker_clerk()),
            "restate-D-S2",
            "D-S2",
            "declaration.restated",
            Projection::UpdateDeclaration(release.clone()),
        );
        released.expected_version = Some(2);
        self.appended(released).await;
        let entry = self.ledger_entry("D-S2");
        entry.status = release.status;
        entry.version = 3;
        entry.updated_at_ms = release.updated_at_ms;
        assert_eq!(
            self.search("kept after a change of state", by(invoice, "INV-8A"))
                .await,
            ids(&["D-S2"])
        );
    }
}
