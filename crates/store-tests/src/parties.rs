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
            token: Some(token('b', &broker_clerk())),
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
            token: Some(token('o', &officer())),
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

    /// Tokens listed, revoked all at once, users disabled and a broker's authorisation
    /// withdrawn: each an event whose projection the principal lookup follows at once.
    pub(crate) async fn keep_token_lifecycle(&mut self) {
        let broker_token = self.store.token("T-bbbbbbbbbbbbbbbb").await.unwrap();
        assert_eq!(broker_token, Some(token('b', &broker_clerk())));
        let revoked = self.store.token_by_hash(&token_hash('t')).await.unwrap();
        assert!(
            revoked.is_some_and(|t| t.revoked_seq.is_some()),
            "a revoked token is kept, with the event that revoked it"
        );
        let all = self.store.tokens(None).await.unwrap();
        assert_eq!(all.len(), 3);
        let officers = self.store.tokens(Some(&officer().id)).await.unwrap();
        assert_eq!(officers, vec![token('o', &officer())]);

        // A second officer with two tokens: both revoked by one event, then disabled.
        let deputy = user("usr-deputy", "officer.wu", "officer", None);
        self.appended(registration(
            &deputy.id,
            "user.created",
            Projection::NewUser(deputy.clone()),
        ))
        .await;
        for tag in ['d', 'e'] {
            let issue = Projection::NewToken(token(tag, &deputy));
            self.appended(registration(
                &deputy.id,
                &format!("token.issued.{tag}"),
                issue,
            ))
            .await;
        }
        let revoke_all = Projection::RevokeUserTokens {
            user_id: deputy.id.clone(),
        };
        let seq = self
            .appended(registration(&deputy.id, "token.revoked_all", revoke_all))
            .await;
        for tag in ['d', 'e'] {
            let row = self.store.token_by_hash(&token_hash(tag)).await.unwrap();
            assert_eq!(row.and_then(|t| t.revoked_seq), Some(seq));
            let principal = self.store.principal_by_token(&token_hash(tag)).await;
            assert_eq!(
                principal.unwrap(),
                None,
                "a revoked token authenticates nobody"
            );
        }
        let fresh = Projection::NewToken(token('f', &deputy));
        self.appended(registration(&deputy.id, "token.issued.f", fresh))
            .await;
        assert!(
            self.store
                .principal_by_token(&token_hash('f'))
                .await
                .unwrap()
                .is_some()
        );
        let officers = self.store.users_by_role("officer").await.unwrap();
        assert!(officers.iter().any(|u| u.id == deputy.id));
        let disable = Projection::DisableUser {
            user_id: deputy.id.clone(),
        };
        let disabled_at = self
            .appended(registration(&deputy.id, "user.disabled", disable))
            .await;
        let principal = self.store.principal_by_token(&token_hash('f')).await;
        assert_eq!(
            principal.unwrap(),
            None,
            "a disabled user's tokens authenticate nobody"
        );
        let officers = self.store.users_by_role("officer").await.unwrap();
        assert!(
            officers.iter().all(|u| u.id != deputy.id),
            "a disabled officer is drawn for no task"
        );
        let row = self.store.user(&deputy.id).await.unwrap().unwrap();
        assert_eq!(row.disabled_seq, Some(disabled_at));

        // The trader withdraws its broker's authorisation: the broker's clerk sees it no more.
        let withdraw = || Projection::WithdrawBrokerAuthorisation {
            broker_enterprise_id: broker().id,
            principal_enterprise_id: trader().id,
        };
        self.appended(registration(
            &trader().id,
            "broker.authorisation_withdrawn",
            withdraw(),
        ))
        .await;
        let broker_view = self
            .store
            .principal_by_token(&token_hash('b'))
            .await
            .unwrap()
            .unwrap();
        assert!(broker_view.principals.is_empty());
        assert!(
            self.store
                .broker_principals(&broker().id)
                .await
                .unwrap()
                .is_empty()
        );
        let again = registration(&trader().id, "broker.withdrawn.again", withdraw());
        assert!(matches!(self.refused(again).await, StoreError::NotFound(_)));
        // Granted again: a new authorisation in force.
        let grant = Projection::BrokerAuthorisation {
            broker_enterprise_id: broker().id,
            principal_enterprise_id: trader().id,
        };
        self.appended(registration(&trader().id, "broker.authorised.again", grant))
            .await;
        assert_eq!(
            self.store.broker_principals(&broker().id).await.unwrap(),
            vec![trader().credit_code]
        );
    }
    /// A user's password hash: none until set, replaced by the next, never in the user's row; a
    /// password for nobody is refused.
    pub(crate) async fn keep_passwords(&mut self) {
        let officer = officer();
        assert_eq!(self.store.password_hash(&officer.id).await.unwrap(), None);
        assert_eq!(self.store.password_hash("usr-nobody").await.unwrap(), None);
        for (n, hash) in [
            "$argon2id$v=19$m=19456,t=2,p=1$first",
            "$argon2id$v=19$m=19456,t=2,p=1$second",
        ]
        .into_iter()
        .enumerate()
        {
            let set = Projection::SetPassword {
                user_id: officer.id.clone(),
                password_hash: hash.to_owned(),
            };
            self.appended(registration(
                &officer.id,
                &format!("user.password_set.{n}"),
                set,
            ))
            .await;
            assert_eq!(
                self.store
                    .password_hash(&officer.id)
                    .await
                    .unwrap()
                    .as_deref(),
                Some(hash)
            );
        }
        assert_eq!(self.store.user(&officer.id).await.unwrap(), Some(officer));
        let nobody = Projection::SetPassword {
            user_id: "usr-nobody".into(),
            password_hash: "$argon2id$x".into(),
        };
        let refusal = self
            .refused(registration("usr-nobody", "user.password_set", nobody))
            .await;
        assert!(matches!(refusal, StoreError::NotFound(_)), "{refusal}");
    }
}
