//! Chapter 10: enterprise credit levels (企业信用等级). A change is an event; every change is
//! kept, and the latest is the level in force.

use store::{Actor, Append, Projection, Store, StoreError};

use crate::Story;
use crate::fixtures::{append, other, trader};

fn administrator() -> Actor {
    Actor {
        user_id: "usr-admin".to_owned(),
        role: "admin".to_owned(),
    }
}

fn set(key: &str, credit_code: &str, level: &str) -> Append {
    append(
        &administrator(),
        key,
        &format!("enterprise:{credit_code}"),
        "enterprise.credit_level_set",
        Projection::SetCreditLevel {
            credit_code: credit_code.to_owned(),
            level: level.to_owned(),
        },
    )
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_credit_levels(&mut self) {
        let trader = trader().credit_code;
        assert_eq!(self.store.credit_level(&trader).await.unwrap(), None);

        self.appended(set("credit-1", &trader, "general_certified"))
            .await;
        self.appended(set("credit-2", &trader, "untrustworthy"))
            .await;
        assert_eq!(
            self.store.credit_level(&trader).await.unwrap().as_deref(),
            Some("untrustworthy")
        );
        // The latest change is in force, even when it goes back to an earlier level.
        self.appended(set("credit-3", &trader, "general_certified"))
            .await;
        assert_eq!(
            self.store.credit_level(&trader).await.unwrap().as_deref(),
            Some("general_certified")
        );
        // Another enterprise's level is its own.
        assert_eq!(
            self.store.credit_level(&other().credit_code).await.unwrap(),
            None
        );

        // The enterprise must exist; the level must be one of the four.
        match self
            .refused(set("credit-x", "91000000000000000X", "general"))
            .await
        {
            StoreError::NotFound(what) => assert_eq!(what, "enterprise 91000000000000000X"),
            other => panic!("expected not found, got {other:?}"),
        }
        assert!(matches!(
            self.refused(set("credit-x", &trader, "excellent")).await,
            StoreError::Other(_)
        ));
        assert_eq!(
            self.store.credit_level("91000000000000000X").await.unwrap(),
            None
        );
    }
}
