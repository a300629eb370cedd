//! Chapter 7: targeting rules (布控指令) proposed in versions, approved by a second analyst
//! (four eyes), superseded by a later version, retired. Nothing is edited in place.

use store::{Actor, Append, Projection, RiskRuleRow, Store, StoreError};

use crate::Story;
use crate::fixtures::{T0, append};

fn analyst(name: &str) -> Actor {
    Actor {
        user_id: format!("usr-{name}"),
        role: "risk_analyst".to_owned(),
    }
}

fn proposed(id: &str, version: u32, author: &Actor, definition: &str) -> RiskRuleRow {
    RiskRuleRow {
        id: id.to_owned(),
        version,
        status: "proposed".to_owned(),
        definition: definition.to_owned(),
        author: author.user_id.clone(),
        proposed_at_ms: T0 + 40_000,
        approved_by: None,
        approved_seq: None,
        ended_seq: None,
    }
}

fn propose(key: &str, rule: &RiskRuleRow) -> Append {
    let author = analyst(rule.author.trim_start_matches("usr-"));
    append(
        &author,
        key,
        &rule.id,
        "rule.proposed",
        Projection::ProposeRule(rule.clone()),
    )
}

fn approve(key: &str, by: &Actor, id: &str, version: u32) -> Append {
    let projection = Projection::ApproveRule {
        id: id.to_owned(),
        version,
        approver: by.user_id.clone(),
    };
    append(by, key, id, "rule.approved", projection)
}

fn retire(key: &str, by: &Actor, id: &str, version: u32) -> Append {
    let projection = Projection::RetireRule {
        id: id.to_owned(),
        version,
    };
    append(by, key, id, "rule.retired", projection)
}

fn assert_refused(err: &StoreError, conflict: bool, expected: &str) {
    let matched = match err {
        StoreError::Conflict(what) => conflict && what == expected,
        StoreError::NotFound(what) => !conflict && what == expected,
        _ => false,
    };
    assert!(matched, "expected {expected:?}, got {err:?}");
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_targeting_rules(&mut self) {
        let (wang, zhao) = (analyst("wang"), analyst("zhao"));
        // A definition as the caller writes it: the store keeps it byte for byte.
        let v1 = proposed(
            "R-1",
            1,
            &wang,
            r#"{"expression":"item.origin_country == \"XX\"","reason_zh":"低报价格"}"#,
        );
        self.appended(propose("rule-1", &v1)).await;

        // A version that is not the next one is refused: two analysts editing at once.
        let err = self
            .refused(propose("rule-x", &proposed("R-1", 1, &zhao, "{}")))
            .await;
        assert_refused(&err, true, "rule R-1 v1 (the next version is v2)");
        let err = self
            .refused(propose("rule-x", &proposed("R-1", 3, &zhao, "{}")))
            .await;
        assert_refused(&err, true, "rule R-1 v3 (the next version is v2)");
        let err = self
            .refused(propose("rule-x", &proposed("R-2", 2, &zhao, "{}")))
            .await;
        assert_refused(&err, true, "rule R-2 v2 (the next version is v1)");

        // Four eyes: the author cannot approve; another analyst can, once.
        let err = self.refused(approve("appr-x", &wang, "R-1", 1)).await;
        assert_refused(&err, true, "rule R-1 v1: its author cannot approve it");
        let approved_seq = self.appended(approve("appr-1", &zhao, "R-1", 1)).await;
        let err = self.refused(approve("appr-x", &zhao, "R-1", 1)).await;
        assert_refused(&err, true, "rule R-1 v1 is active");
        let err = self.refused(approve("appr-x", &zhao, "R-9", 1)).await;
        assert_refused(&err, false, "rule R-9 v1");

        // A second version supersedes the first when it is approved, in the same transaction.
        let v2 = proposed("R-1", 2, &zhao, r#"{"expression":"true"}"#);
        self.appended(propose("rule-2", &v2)).await;
        let active = self.store.risk_rules(Some("active")).await.unwrap();
        assert_eq!(active.len(), 1, "v2 is proposed, v1 still active");
        assert_eq!(
            (active[0].version, active[0].approved_seq),
            (1, Some(approved_seq))
        );
        let superseding_seq = self.appended(approve("appr-2", &wang, "R-1", 2)).await;
        let all = self.store.risk_rules(None).await.unwrap();
        let statuses: Vec<(&str, u32, &str)> = all
            .iter()
            .map(|r| (r.id.as_str(), r.version, r.status.as_str()))
            .collect();
        assert_eq!(statuses, [("R-1", 1, "superseded"), ("R-1", 2, "active")]);
        assert_eq!(all[0].ended_seq, Some(superseding_seq));
        assert_eq!(all[0].definition, v1.definition);
        assert_eq!(all[1].approved_by.as_deref(), Some(wang.user_id.as_str()));

        // Retirement is an event; a retired or superseded version cannot be retired again.
        let retired_seq = self.appended(retire("ret-1", &zhao, "R-1", 2)).await;
        let err = self.refused(retire("ret-x", &zhao, "R-1", 2)).await;
        assert_refused(&err, true, "rule R-1 v2 is retired");
        let err = self.refused(retire("ret-x", &zhao, "R-1", 1)).await;
        assert_refused(&err, true, "rule R-1 v1 is superseded");
        let err = self.refused(retire("ret-x", &zhao, "R-7", 1)).await;
        assert_refused(&err, false, "rule R-7 v1");
        assert!(
            self.store
                .risk_rules(Some("active"))
                .await
                .unwrap()
                .is_empty()
        );
        let retired = self.store.risk_rules(Some("retired")).await.unwrap();
        assert_eq!(retired[0].ended_seq, Some(retired_seq));
    }
}
