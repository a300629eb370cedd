//! Chapter 14: history batches and the risk-model registry. A history file is kept byte for
//! byte and refused twice; a model is registered in shadow, promoted (the one in force retired in
//! the same transaction), and rolled back to the one it replaced.

use store::{Append, HistoryBatchRow, Projection, RiskModelRow, Store, StoreError};

use crate::Story;
use crate::fixtures::{administrator, append};

fn batch(id: &str, digest: &str) -> HistoryBatchRow {
    HistoryBatchRow {
        id: id.to_owned(),
        format: "kcs".to_owned(),
        label: "KCS 2020".to_owned(),
        digest: digest.to_owned(),
        rows: 2,
        labelled: 2,
        first_date: "2020-01-01".to_owned(),
        last_date: "2020-12-31".to_owned(),
        imported_by: "usr-admin".to_owned(),
        imported_seq: None,
    }
}

fn import(key: &str, batch: HistoryBatchRow, text: &str) -> Append {
    append(
        &administrator(),
        key,
        &format!("history:{}", batch.id),
        "history.imported",
        Projection::ImportHistory {
            batch,
            text: text.to_owned(),
        },
    )
}

fn model(id: &str) -> RiskModelRow {
    RiskModelRow {
        id: id.to_owned(),
        status: "shadow".to_owned(),
        source: "trained".to_owned(),
        author: "usr-analyst-wang".to_owned(),
        model_hash: format!("hash-{id}"),
        summary: r#"{"rows":2}"#.to_owned(),
        created_seq: None,
        promoted_by: None,
        promoted_seq: None,
        ended_seq: None,
    }
}

fn register(id: &str) -> Append {
    append(
        &administrator(),
        &format!("register-{id}"),
        &format!("model:{id}"),
        "risk_model.registered",
        Projection::NewRiskModel {
            model: model(id),
            bytes: format!("bytes of {id}").into_bytes(),
        },
    )
}

fn promote(key: &str, id: &str) -> Append {
    append(
        &administrator(),
        key,
        &format!("model:{id}"),
        "risk_model.promoted",
        Projection::PromoteRiskModel {
            id: id.to_owned(),
            promoted_by: "usr-analyst-zhao".to_owned(),
        },
    )
}

impl<S: Store> Story<'_, S> {
    async fn statuses(&self) -> Vec<(String, String)> {
        self.store
            .risk_models()
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.id, m.status))
            .collect()
    }

    pub(crate) async fn keep_history_and_models(&mut self) {
        let text = "Declaration ID,Date\n1,2020-01-01\n2,2020-12-31\n";
        let seq = self
            .appended(import("history-1", batch("H-0001", "d1"), text))
            .await;
        let listed = self.store.history_batches().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].imported_seq, Some(seq));
        let read = self.store.history_text("H-0001").await.unwrap();
        assert_eq!(read.as_deref(), Some(text));
        assert_eq!(self.store.history_text("H-0009").await.unwrap(), None);
        match self
            .refused(import("history-2", batch("H-0002", "d1"), text))
            .await
        {
            StoreError::Conflict(what) => assert_eq!(what, "history d1"),
            other => panic!("expected a conflict, got {other:?}"),
        }

        let created = self.appended(register("M-0001")).await;
        self.appended(register("M-0002")).await;
        let models = self.store.risk_models().await.unwrap();
        assert_eq!(models[0].created_seq, Some(created));
        assert_eq!(
            self.store.risk_model_bytes("M-0001").await.unwrap(),
            Some(b"bytes of M-0001".to_vec())
        );
        let mut again = register("M-0001");
        again.idempotency_key = "register-M-0001-again".to_owned();
        match self.refused(again).await {
            StoreError::Conflict(what) => assert_eq!(what, "risk model M-0001"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let s = |id: &str, status: &str| (id.to_owned(), status.to_owned());

        // Without an active model there is nothing to roll back.
        let roll_back = |key: &str| {
            append(
                &administrator(),
                key,
                "model:active",
                "risk_model.rolled_back",
                Projection::RollBackRiskModel,
            )
        };
        match self.refused(roll_back("roll-x")).await {
            StoreError::Conflict(what) => assert_eq!(what, "no active risk model"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let promoted = self.appended(promote("promote-1", "M-0001")).await;
        assert_eq!(
            self.statuses().await,
            [s("M-0001", "active"), s("M-0002", "shadow")]
        );
        let m1 = &self.store.risk_models().await.unwrap()[0];
        assert_eq!(m1.promoted_seq, Some(promoted));
        assert_eq!(m1.promoted_by.as_deref(), Some("usr-analyst-zhao"));
        match self.refused(promote("promote-x", "M-0001")).await {
            StoreError::Conflict(what) => assert_eq!(what, "risk model M-0001 is active"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        match self.refused(promote("promote-y", "M-0009")).await {
            StoreError::NotFound(what) => assert_eq!(what, "risk model M-0009"),
            other => panic!("expected not found, got {other:?}"),
        }
        // Promoting the second retires the first in the same transaction.
        self.appended(promote("promote-2", "M-0002")).await;
        assert_eq!(
            self.statuses().await,
            [s("M-0001", "retired"), s("M-0002", "active")]
        );
        // Rolling back puts the first in force again; rolling back once more leaves none.
        self.appended(roll_back("roll-1")).await;
        assert_eq!(
            self.statuses().await,
            [s("M-0001", "active"), s("M-0002", "retired")]
        );
        self.appended(roll_back("roll-2")).await;
        assert_eq!(
            self.statuses().await,
            [s("M-0001", "retired"), s("M-0002", "retired")]
        );
    }
}
