//! Chapter 2: lodging, amending, replaying and completing declarations; numbering serials.

use store::{AppendOutcome, DeclarationUpdate, LinkedEvent, Projection, Store, StoreError};

use crate::Story;
use crate::fixtures::{
    Lodging, T0, actor, append, broker, broker_clerk, carrying, declaration, document,
    first_lodgings, other, other_clerk, trader,
};

/// The lodging key of a declaration, in its clerk's scope.
fn lodging_key(id: &str) -> String {
    format!("lodge-{id}")
}

impl<S: Store> Story<'_, S> {
    /// Seven declarations for two traders; three share a lodging time so pagination must break
    /// ties by row.
    pub(crate) async fn lodge_declarations(&mut self) {
        for row in first_lodgings() {
            self.lodge(row).await;
        }
        for row in self.ledger.clone() {
            let by_id = self.store.declaration(&row.id).await.unwrap();
            assert_eq!(
                by_id.as_ref(),
                Some(&row),
                "declaration {} as lodged",
                row.id
            );
            let by_number = self.store.declaration_by_number(&row.number).await.unwrap();
            assert_eq!(by_number, Some(row));
        }
        assert_eq!(self.store.declaration("D-NONE").await.unwrap(), None);
        assert_eq!(
            self.store.declaration_by_number("N-NONE").await.unwrap(),
            None
        );
        self.refuse_second_lodgings().await;
    }

    pub(crate) async fn lodge(&mut self, row: store::DeclarationRow) {
        let clerk = if row.declarant_credit_code == other().credit_code {
            other_clerk()
        } else {
            broker_clerk()
        };
        let key = lodging_key(&row.id);
        let subject = row.id.clone();
        let projection = Projection::NewDeclaration(row.clone());
        self.appended(append(
            &actor(&clerk),
            &key,
            &subject,
            "declaration.lodged",
            projection,
        ))
        .await;
        self.ledger.push(row);
    }

    /// The same id again is a version conflict (the subject exists); a taken number a conflict.
    async fn refuse_second_lodgings(&mut self) {
        let clerk = actor(&broker_clerk());
        let mut again = self.ledger_entry("D-T1").clone();
        again.number = "N-FRESH".to_owned();
        let relodge = append(
            &clerk,
            "lodge-D-T1-again",
            "D-T1",
            "declaration.lodged",
            Projection::NewDeclaration(again),
        );
        let expected = AppendOutcome::VersionConflict {
            subject: "D-T1".to_owned(),
            current_version: Some(1),
        };
        assert_eq!(self.not_appended(relodge).await, expected);

        let mut copy = self.ledger_entry("D-T1").clone();
        copy.id = "D-COPY".to_owned();
        let copied = append(
            &clerk,
            "lodge-D-COPY",
            "D-COPY",
            "declaration.lodged",
            Projection::NewDeclaration(copy),
        );
        assert!(
            matches!(self.refused(copied).await, StoreError::Conflict(_)),
            "number taken"
        );
        assert_eq!(self.store.declaration("D-COPY").await.unwrap(), None);
    }

    /// An amendment decided on version 1 is recorded once and its document, carried by the
    /// amendment event, is then in force; the same decision again is stale.
    pub(crate) async fn amend_declaration(&mut self) {
        let clerk = actor(&broker_clerk());
        let amended = document("D-T1", "8800.00");
        let update = DeclarationUpdate {
            id: "D-T1".to_owned(),
            status: "accepted".to_owned(),
            version: 2,
            updated_at_ms: T0 + 20_000,
            completed_by: None,
            replaces_document: true,
        };
        let mut amend = append(
            &clerk,
            "amend-D-T1",
            "D-T1",
            "declaration.amended",
            Projection::UpdateDeclaration(update.clone()),
        );
        amend.payload = carrying(&amended, None, Some(r#"value corrected: \"CIF\" 8800.00"#));
        amend.expected_version = Some(1);
        self.appended(amend.clone()).await;
        let in_force = self.ledger_entry("D-T1");
        in_force.status = update.status.clone();
        in_force.version = 2;
        in_force.updated_at_ms = update.updated_at_ms;
        in_force.document = amended;
        let in_force = in_force.clone();
        assert_eq!(
            self.store.declaration("D-T1").await.unwrap(),
            Some(in_force.clone())
        );
        let by_number = self.store.declaration_by_number(&in_force.number).await;
        assert_eq!(by_number.unwrap(), Some(in_force));

        amend.idempotency_key = "amend-D-T1-stale".to_owned();
        let stale = AppendOutcome::VersionConflict {
            subject: "D-T1".to_owned(),
            current_version: Some(2),
        };
        assert_eq!(self.not_appended(amend.clone()).await, stale);

        amend.subject = "D-NONE".to_owned();
        amend.projection = Projection::UpdateDeclaration(DeclarationUpdate {
            id: "D-NONE".to_owned(),
            ..update
        });
        let missing = AppendOutcome::VersionConflict {
            subject: "D-NONE".to_owned(),
            current_version: None,
        };
        assert_eq!(self.not_appended(amend).await, missing);
    }

    /// A retried request finds its first event; a different request under the same key is told so.
    pub(crate) async fn replay_requests(&mut self) {
        let clerk = actor(&broker_clerk());
        let key = lodging_key("D-T2");
        let first = self
            .store
            .event_by_idempotency(&clerk.user_id, &key)
            .await
            .unwrap();
        let first = first.expect("the lodging of D-T2 is found by its key");
        assert_eq!(
            (first.subject.as_str(), first.action.as_str()),
            ("D-T2", "declaration.lodged")
        );
        let history_before = self.store.events("D-T2").await.unwrap();

        let row = self.ledger_entry("D-T2").clone();
        let mut retry = append(
            &clerk,
            &key,
            "D-T2",
            "declaration.lodged",
            Projection::NewDeclaration(row),
        );
        let honest = AppendOutcome::Duplicate {
            first: first.clone(),
            same_request: true,
        };
        assert_eq!(self.not_appended(retry.clone()).await, honest);

        retry.request_digest = "digest-of-another-request".to_owned();
        let reused = AppendOutcome::Duplicate {
            first,
            same_request: false,
        };
        assert_eq!(self.not_appended(retry).await, reused);
        assert_eq!(
            self.store.events("D-T2").await.unwrap(),
            history_before,
            "nothing written"
        );
    }

    /// A full declaration completes the summary D-T3 through a linked event, all or nothing.
    pub(crate) async fn complete_summary(&mut self) {
        let (t, b) = (trader(), broker());
        let lodging = Lodging {
            id: "D-T6",
            trader: &t,
            declarant: &b,
            kind: "full",
            direction: "import",
            office: "2201",
            lodged_at_ms: T0 + 5_000,
        };
        let mut full = declaration(&lodging);
        full.summary_number = Some(self.ledger_entry("D-T3").number.clone());
        let completion = DeclarationUpdate {
            id: "D-T3".to_owned(),
            status: "completed".to_owned(),
            version: 2,
            updated_at_ms: T0 + 5_000,
            completed_by: Some(full.number.clone()),
            replaces_document: false,
        };
        let clerk = actor(&broker_clerk());
        let mut lodge = append(
            &clerk,
            "complete-D-T3",
            "D-T6",
            "declaration.lodged",
            Projection::NewDeclaration(full.clone()),
        );
        lodge.linked.push(LinkedEvent {
            actor: None,
            subject: "D-T3".to_owned(),
            action: "declaration.completed".to_owned(),
            payload: r#"{"completed_by":"N-D-T6"}"#.to_owned(),
            expected_version: Some(7),
            projection: Projection::UpdateDeclaration(completion.clone()),
        });
        let stale = AppendOutcome::VersionConflict {
            subject: "D-T3".to_owned(),
            current_version: Some(1),
        };
        assert_eq!(self.not_appended(lodge.clone()).await, stale);
        assert_eq!(
            self.store.declaration("D-T6").await.unwrap(),
            None,
            "all or nothing"
        );
        assert!(self.store.events("D-T6").await.unwrap().is_empty());

        lodge.linked[0].expected_version = Some(1);
        let seq = self.appended(lodge).await;
        self.ledger.push(full);
        let summary = self.ledger_entry("D-T3");
        summary.status = completion.status;
        summary.version = 2;
        summary.updated_at_ms = completion.updated_at_ms;
        summary.completed_by = completion.completed_by;
        let summary = summary.clone();
        let stored = self.store.declaration("D-T3").await.unwrap();
        assert_eq!(
            stored.as_ref().map(|s| &s.document),
            Some(&summary.document),
            "the completion carries no document: the lodged one stays in force"
        );
        assert_eq!(stored, Some(summary));
        let full = self.store.declaration("D-T6").await.unwrap();
        assert_eq!(
            full.as_ref(),
            self.ledger.last(),
            "lodged with a linked event"
        );
        self.check_linked_event(seq).await;
    }

    async fn check_linked_event(&mut self, main_seq: u64) {
        let clerk = actor(&broker_clerk());
        let main = self.store.events("D-T6").await.unwrap();
        assert_eq!(main.len(), 1);
        assert_eq!(main[0].seq, main_seq);
        let summary_history = self.store.events("D-T3").await.unwrap();
        let linked = summary_history
            .last()
            .expect("the summary has its completion event")
            .clone();
        assert_eq!(
            linked.seq,
            main_seq + 1,
            "linked events follow the main event"
        );
        assert_eq!(linked.action, "declaration.completed");
        assert_eq!(linked.idempotency_key, "complete-D-T3#1");
        assert_eq!(
            (&linked.actor, linked.recorded_at_ms),
            (&clerk, main[0].recorded_at_ms)
        );
        let by_key = self
            .store
            .event_by_idempotency(&clerk.user_id, "complete-D-T3#1")
            .await;
        assert_eq!(by_key.unwrap(), Some(linked));
    }

    /// Two reservations on one counter never overlap, even with nothing else in between.
    pub(crate) async fn reserve_number_serials(&mut self) {
        let counter = "declaration-number/2201/2025";
        let first = self.store.reserve_serials(counter, 10).await.unwrap();
        let second = self.store.reserve_serials(counter, 5).await.unwrap();
        assert!(first >= 1, "serials start at 1 or later");
        assert!(
            second >= first + 10,
            "serials {first}..+10 and {second}..+5 overlap"
        );
        let elsewhere = self
            .store
            .reserve_serials("declaration-number/5301/2025", 3)
            .await;
        assert!(elsewhere.unwrap() >= 1);
        let third = self.store.reserve_serials(counter, 1).await.unwrap();
        assert!(
            third >= second + 5,
            "serials {second}..+5 and {third} overlap"
        );
    }
}
