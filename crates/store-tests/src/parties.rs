//! Chapter 1: enterprises, users, tokens and a broker authorisation; principals by token.

use store::{Append, Principal, Projection, Store, StoreError};

use crate::Story;
use crate::fixtures::{
    administrator, append, broker, broker_clerk, officer, other, other_clerk, token, token_hash,
    trader, trader_clerk, user,
};

/// An administrator's registration, keyed by what it registers.
fn registration(subject: &str, action: &str, projection: Projection) -> Append {
    let key = format!("{action}/{subject}");
    append(&administrator(), &key, subject, action, projection)
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn register_parties(&mut self) {
        for e in [trader(), broker(), other()] {
            let subject = e.id.clone();
            let register = registration(
                &subject,
                "enterprise.registered",
                Projection::NewEnterprise(e),
            );
            self.appended(register).await;
        }
        self.refuse_copycat_enterprise().await;
        self.register_users().await;
        self.issue_tokens().await;
        let authorisation = Projection::BrokerAuthorisation {
            broker_enterprise_id: broker().id,
            principal_enterprise_id: trader().id,
        };
        self.appended(registration(
            &trader().id,
            "broker.authorised",
            authorisation,
        ))
        .await;

        let found = self
            .store
            .enterprise_by_credit_code(&trader().credit_code)
            .await;
        assert_eq!(found.unwrap(), Some(trader()));
        let unknown = self
            .store
            .enterprise_by_credit_code("91000000000000000X")
            .await;
        assert_eq!(unknown.unwrap(), None);
    }

    /// A second enterprise with a taken credit code is refused and leaves no trace.
    async fn refuse_copycat_enterprise(&mut self) {
        let mut copycat = trader();
        copycat.id = "ent-copycat".to_owned();
        let register = registration(
            "ent-copycat",
            "enterprise.registered",
            Projection::NewEnterprise(copycat),
        );
        let key = register.idempotency_key.clone();
        let refusal = self.refused(register).await;
        assert!(
            matches!(refusal, StoreError::Conflict(_)),
            "credit code taken: {refusal}"
        );
        let recorded = self
            .store
            .event_by_idempotency(&administrator().user_id, &key)
            .await;
        assert_eq!(recorded.unwrap(), None, "a refused append leaves no event");
        assert!(self.store.events("ent-copycat").await.unwrap().is_empty());
    }

    async fn register_users(&mut self) {
        for u in [trader_clerk(), broker_clerk(), other_clerk(), officer()] {
            let subject = u.id.clone();
            self.appended(registration(
                &subject,
                "user.registered",
                Projection::NewUser(u),
            ))
            .await;
        }
        let impostor = user("usr-impostor", "broker.clerk", "declarant", Some(&broker()));
        let register = registration(
            "usr-impostor",
            "user.registered",
            Projection::NewUser(impostor),
        );
        let refusal = self.refused(register).await;
        assert!(
            matches!(refusal, StoreError::Conflict(_)),
            "user name taken: {refusal}"
        );

        let mut homeless = user("usr-homeless", "homeless", "trader", None);
        homeless.enterprise_id = Some("ent-missing".to_owned());
        let register = registration(
            "usr-homeless",
            "user.registered",
            Projection::NewUser(homeless),
        );
        let refusal = self.refused(register).await;
        assert!(
            matches!(refusal, StoreError::NotFound(_)),
            "no such enterprise: {refusal}"
        );

        let found = self.store.user_by_name("broker.clerk").await.unwrap();
        assert_eq!(found, Some(broker_clerk()));
        assert_eq!(self.store.user_by_name("nobody").await.unwrap(), None);
    }

    async fn issue_tokens(&mut self) {
        for (tag, holder) in [
            ('b', broker_clerk()),
            ('o', officer()),
            ('t', trader_clerk()),
        ] {
            let issue = Projection::NewToken(token(tag, &holder));
            self.appended(registration(&holder.id, "token.issued", issue))
                .await;
        }
        let revoke = Projection::RevokeToken {
            token_hash: token_hash('t'),
        };
        self.appended(registration(&trader_clerk().id, "token.revoked", revoke))
            .await;

        let ghost = user("usr-ghost", "ghost", "trader", None);
        let stray = registration(
            "usr-ghost",
            "token.issued",
            Projection::NewToken(token('s', &ghost)),
        );
        let refusal = self.refused(stray).await;
        assert!(
            matches!(refusal, StoreError::NotFound(_)),
            "no such user: {refusal}"
        );
    }

    pub(crate) async fn resolve_principals(&mut self) {
        let broker_view = self
            .store
            .principal_by_token(&token_hash('b'))
            .await
            .unwrap();
        let expected = Principal {
            user: broker_clerk(),
            enterprise: Some(broker()),
            principals: vec![trader().credit_code],
        };
        assert_eq!(
            broker_view,
            Some(expected),
            "a broker sees the traders that authorised it"
        );

        let officer_view = self
            .store
            .principal_by_token(&token_hash('o'))
            .await
            .unwrap();
        let expected = Principal {
            user: officer(),
            enterprise: None,
            principals: Vec::new(),
        };
        assert_eq!(officer_view, Some(expected));

        let revoked = self
            .store
            .principal_by_token(&token_hash('t'))
            .await
            .unwrap();
        assert_eq!(revoked, None, "a revoked token authenticates nobody");
        let unknown = self
            .store
            .principal_by_token(&token_hash('z'))
            .await
            .unwrap();
        assert_eq!(unknown, None);
    }
}
