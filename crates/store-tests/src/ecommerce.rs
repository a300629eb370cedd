//! Chapter 12: cross-border e-commerce (issue 15). The CEB documents received and their
//! versions, the inventory lists' state, the agent's tax guarantee debited with a lodging, the
//! buyer's allowance credited back, and the enterprises registered for CEB roles.

use store::{
    AppendOutcome, CbecBooking, CebCertificateRow, CebDocumentRow, CebEnterpriseRow, CebKey,
    GuaranteeDebit, InventoryListChange, InventoryListRow, Projection, Store, StoreError,
};

use crate::Story;
use crate::fixtures::{T0, actor, administrator, append, officer};

const PLATFORM: &str = "3105961682";
const AGENT: &str = "3120980025";
const AGENT_CREDIT: &str = "91310000MA1AGENT01";
const LOGISTICS: &str = "3105960001";
const OTHER_AGENT: &str = "3120980099";

pub(crate) fn ceb_document(guid: &str, kind: &str, app_type: u8, order_no: &str) -> CebDocumentRow {
    let order = kind != "waybill";
    let waybill = kind == "waybill" || kind == "inventory";
    CebDocumentRow {
        guid: guid.to_owned(),
        kind: kind.to_owned(),
        app_type,
        sender_code: if kind == "waybill" {
            LOGISTICS
        } else {
            PLATFORM
        }
        .to_owned(),
        ebp_code: order.then(|| PLATFORM.to_owned()),
        order_no: order.then(|| order_no.to_owned()),
        logistics_code: waybill.then(|| LOGISTICS.to_owned()),
        logistics_no: waybill.then(|| format!("SF{order_no}")),
        document: format!(r#"{{"guid":"{guid}","kind":"{kind}","note":"订单 {order_no}"}}"#),
        message_digest: format!("{:0>64}", guid.len()),
        received_at_ms: T0 + 30_000,
        recorded_seq: None,
    }
}

pub(crate) fn inventory_list(id: &str, order_no: &str, deadline_ms: i64) -> InventoryListRow {
    InventoryListRow {
        id: id.to_owned(),
        ebp_code: PLATFORM.to_owned(),
        order_no: order_no.to_owned(),
        logistics_code: LOGISTICS.to_owned(),
        logistics_no: format!("SF{order_no}"),
        agent_code: AGENT.to_owned(),
        status: "waiting".to_owned(),
        deadline_ms,
        declaration_id: None,
        reason: None,
        created_seq: None,
        status_seq: None,
    }
}

fn debit(amount_fen: i64, debit_ref: &str) -> GuaranteeDebit {
    GuaranteeDebit {
        assure_code: "ASSURE-1".to_owned(),
        agent_code: AGENT.to_owned(),
        amount_fen,
        debit_ref: debit_ref.to_owned(),
    }
}

fn certificate(serial: &str, fill: u8) -> CebCertificateRow {
    CebCertificateRow {
        serial_number: serial.to_owned(),
        der: vec![0x30, 0x82, 0x01, fill, fill],
        added_seq: None,
    }
}

fn is_other_naming(err: &StoreError, path: &str) -> bool {
    matches!(err, StoreError::Other(_))
        && err.to_string().starts_with(path)
        && err.to_string().contains('：')
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_cross_border_ecommerce(&mut self) {
        self.register_ceb_enterprises().await;
        self.receive_ceb_documents().await;
        self.keep_inventory_lists().await;
        self.debit_guarantees().await;
        self.credit_back_allowances().await;
    }

    async fn admin(&mut self, key: &str, subject: &str, projection: Projection) -> u64 {
        let seq = self
            .appended(append(
                &administrator(),
                key,
                subject,
                "ceb.registered",
                projection,
            ))
            .await;
        self.saw_newest(seq, key);
        seq
    }

    async fn admin_refused(&mut self, key: &str, projection: Projection) -> StoreError {
        self.refused(append(
            &administrator(),
            key,
            "ceb",
            "ceb.registered",
            projection,
        ))
        .await
    }

    async fn register_ceb_enterprises(&mut self) {
        let enterprise = |customs: Option<&str>, credit: Option<&str>, roles: &[&str]| {
            Projection::RegisterCebEnterprise(CebEnterpriseRow {
                customs_code: customs.map(str::to_owned),
                credit_code: credit.map(str::to_owned),
                name: "跨境 Co.".to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                registered_seq: None,
            })
        };
        let platform = enterprise(Some(PLATFORM), None, &["ebp", "ebc"]);
        let first = self.admin("ceb-ent-1", "ceb:platform", platform).await;
        self.admin(
            "ceb-ent-2",
            "ceb:agent",
            enterprise(Some(AGENT), None, &["agent"]),
        )
        .await;
        // Registered again with its credit code and one more role: one enterprise, both roles.
        let again = enterprise(Some(AGENT), Some(AGENT_CREDIT), &["logistics", "agent"]);
        self.admin("ceb-ent-3", "ceb:agent", again).await;
        let by_credit = self.store.ceb_registration(AGENT_CREDIT).await.unwrap();
        let by_customs = self.store.ceb_registration(AGENT).await.unwrap().unwrap();
        assert_eq!(by_credit.as_ref(), Some(&by_customs));
        assert_eq!(by_customs.enterprise.roles, ["logistics", "agent"]);
        assert_eq!(
            by_customs.enterprise.credit_code.as_deref(),
            Some(AGENT_CREDIT)
        );
        assert_eq!(by_customs.certificate, None);
        let platform = self
            .store
            .ceb_registration(PLATFORM)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(platform.enterprise.roles, ["ebp", "ebc"]);
        assert_eq!(platform.enterprise.registered_seq, Some(first));
        assert!(
            self.store
                .ceb_registration("0000000000")
                .await
                .unwrap()
                .is_none()
        );

        // The platform's customs code with the agent's credit code names two enterprises.
        let crossed = enterprise(Some(PLATFORM), Some(AGENT_CREDIT), &["ebp"]);
        let err = self.admin_refused("ceb-ent-4", crossed).await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let err = self
            .admin_refused("ceb-ent-5", enterprise(Some(LOGISTICS), None, &["bank"]))
            .await;
        assert!(is_other_naming(&err, "ceb_enterprise.roles[0]"), "{err}");
        let err = self
            .admin_refused("ceb-ent-6", enterprise(Some("31"), None, &["ebp"]))
            .await;
        assert!(
            is_other_naming(&err, "ceb_enterprise.customs_code"),
            "{err}"
        );

        // Certificates: several over time, the latest in force, all kept.
        let add = |code: &str, c: CebCertificateRow| Projection::AddCebCertificate {
            enterprise_code: code.to_owned(),
            certificate: c,
        };
        self.admin("ceb-cert-1", "ceb:agent", add(AGENT, certificate("01", 1)))
            .await;
        let latest = self
            .admin(
                "ceb-cert-2",
                "ceb:agent",
                add(AGENT_CREDIT, certificate("02", 2)),
            )
            .await;
        let registration = self.store.ceb_registration(AGENT).await.unwrap().unwrap();
        let in_force = registration.certificate.unwrap();
        assert_eq!(
            (in_force.serial_number.as_str(), in_force.der.as_slice()),
            ("02", [0x30, 0x82, 0x01, 2, 2].as_slice())
        );
        assert_eq!(in_force.added_seq, Some(latest));
        assert_eq!(registration.certificates_kept, 2);
        let err = self
            .admin_refused("ceb-cert-3", add(AGENT, certificate("01", 3)))
            .await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let err = self
            .admin_refused("ceb-cert-4", add(OTHER_AGENT, certificate("09", 3)))
            .await;
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    }

    async fn receive(&mut self, key: &str, document: CebDocumentRow) -> u64 {
        let subject = format!("ceb:{}", document.guid);
        let projection = Projection::CebDocument(document);
        let seq = self
            .appended(append(
                &officer_actor(),
                key,
                &subject,
                "ceb.received",
                projection,
            ))
            .await;
        self.saw_newest(seq, key);
        seq
    }

    async fn receive_ceb_documents(&mut self) {
        let order_seq = self
            .receive("ceb-doc-1", ceb_document("G-ORDER-1", "order", 1, "O-1"))
            .await;
        self.receive("ceb-doc-2", ceb_document("G-PAY-1", "payment", 1, "O-1"))
            .await;
        self.receive("ceb-doc-3", ceb_document("G-WAY-1", "waybill", 1, "O-1"))
            .await;
        self.receive("ceb-doc-4", ceb_document("G-INV-1", "inventory", 1, "O-1"))
            .await;
        let in_force = self
            .store
            .ceb_documents_for_order(PLATFORM, "O-1")
            .await
            .unwrap();
        let kinds: Vec<&str> = in_force.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["order", "payment", "inventory"]);
        let mut expected = ceb_document("G-ORDER-1", "order", 1, "O-1");
        expected.recorded_seq = Some(order_seq);
        assert_eq!(in_force[0], expected, "kept as given, JSON byte for byte");
        let waybill = self.store.ceb_waybill(LOGISTICS, "SFO-1").await.unwrap();
        assert_eq!(waybill.map(|w| w.guid), Some("G-WAY-1".to_owned()));

        // The same message again (a resend, under another request key): nothing written.
        let resent = Projection::CebDocument(ceb_document("G-PAY-1", "payment", 1, "O-1"));
        let outcome = self
            .not_appended(append(
                &officer_actor(),
                "ceb-doc-5",
                "ceb:G-PAY-1",
                "ceb.received",
                resent,
            ))
            .await;
        assert!(
            matches!(&outcome, AppendOutcome::CebDocumentAlready { guid, .. } if guid == "G-PAY-1"),
            "{outcome:?}"
        );
        let written = self.store.event_by_idempotency("usr-officer", "ceb-doc-5");
        assert!(written.await.unwrap().is_none());

        // A modification is in force instead; a deletion takes the kind out of force. Every
        // version is kept.
        self.receive("ceb-doc-6", ceb_document("G-ORDER-2", "order", 2, "O-1"))
            .await;
        self.receive("ceb-doc-7", ceb_document("G-PAY-2", "payment", 3, "O-1"))
            .await;
        let in_force = self
            .store
            .ceb_documents_for_order(PLATFORM, "O-1")
            .await
            .unwrap();
        let guids: Vec<&str> = in_force.iter().map(|d| d.guid.as_str()).collect();
        assert_eq!(guids, ["G-ORDER-2", "G-INV-1"]);
        let first = self.store.ceb_document("G-ORDER-1").await.unwrap().unwrap();
        assert_eq!(first.app_type, 1, "the first version is kept");
        assert!(
            self.store
                .ceb_documents_for_order(PLATFORM, "O-2")
                .await
                .unwrap()
                .is_empty()
        );

        let mut bad = ceb_document("G-BAD-1", "order", 1, "O-1");
        bad.message_digest = "not a digest".to_owned();
        let err = self
            .refused(append(
                &officer_actor(),
                "ceb-doc-8",
                "ceb:G-BAD-1",
                "ceb.received",
                Projection::CebDocument(bad),
            ))
            .await;
        assert!(
            is_other_naming(&err, "ceb_document.message_digest"),
            "{err}"
        );
    }

    async fn list_event(&mut self, key: &str, projection: Projection) -> u64 {
        let seq = self
            .appended(append(
                &officer_actor(),
                key,
                "ceb:lists",
                "ceb.list",
                projection,
            ))
            .await;
        self.saw_newest(seq, key);
        seq
    }

    async fn list_refused(&mut self, key: &str, projection: Projection) -> StoreError {
        self.refused(append(
            &officer_actor(),
            key,
            "ceb:lists",
            "ceb.list",
            projection,
        ))
        .await
    }

    async fn keep_inventory_lists(&mut self) {
        let waiting = |l: InventoryListRow| Projection::InventoryListWaiting(l);
        let change = |id: &str, change: InventoryListChange| Projection::InventoryListChange {
            id: id.to_owned(),
            change,
        };
        let l1 = self
            .list_event("list-1", waiting(inventory_list("L-1", "O-1", T0 + 100)))
            .await;
        self.list_event("list-2", waiting(inventory_list("L-2", "O-2", T0 + 50)))
            .await;
        self.list_event(
            "list-3",
            waiting(inventory_list("L-3", "O-3", T0 + 900_000)),
        )
        .await;
        let err = self
            .list_refused("list-4", waiting(inventory_list("L-1", "O-9", T0)))
            .await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let mut accepted = inventory_list("L-9", "O-9", T0);
        accepted.status = "accepted".to_owned();
        let err = self.list_refused("list-5", waiting(accepted)).await;
        assert!(is_other_naming(&err, "inventory_list.status"), "{err}");

        let order_key = CebKey::Order {
            ebp_code: PLATFORM.to_owned(),
            order_no: "O-1".to_owned(),
        };
        let ids = |lists: Vec<InventoryListRow>| -> Vec<String> {
            lists.into_iter().map(|l| l.id).collect()
        };
        let found = self
            .store
            .inventory_lists_waiting(&order_key)
            .await
            .unwrap();
        assert_eq!(found[0].created_seq, Some(l1));
        assert_eq!(ids(found), ["L-1"]);
        let waybill_key = CebKey::Waybill {
            logistics_code: LOGISTICS.to_owned(),
            logistics_no: "SFO-2".to_owned(),
        };
        let found = self
            .store
            .inventory_lists_waiting(&waybill_key)
            .await
            .unwrap();
        assert_eq!(ids(found), ["L-2"]);
        // Past the deadline means after it; earliest deadline first; the limit holds.
        let store = self.store;
        let expired = |now, limit| store.expired_waiting(now, limit);
        assert_eq!(ids(expired(T0 + 100, 10).await.unwrap()), ["L-2"]);
        assert_eq!(ids(expired(T0 + 101, 10).await.unwrap()), ["L-2", "L-1"]);
        assert_eq!(ids(expired(T0 + 101, 1).await.unwrap()), ["L-2"]);
        assert!(expired(T0 + 101, 0).await.unwrap().is_empty());

        let accept = InventoryListChange::Accepted {
            declaration_id: "D-CEB-1".to_owned(),
        };
        let seq = self
            .list_event("list-6", change("L-1", accept.clone()))
            .await;
        let list = self.store.inventory_list("L-1").await.unwrap().unwrap();
        assert_eq!(
            (list.status.as_str(), list.declaration_id.as_deref()),
            ("accepted", Some("D-CEB-1"))
        );
        assert_eq!((list.created_seq, list.status_seq), (Some(l1), Some(seq)));
        let err = self.list_refused("list-7", change("L-1", accept)).await;
        assert!(
            matches!(&err, StoreError::Conflict(what) if what == "inventory list L-1 is accepted"),
            "{err}"
        );
        // A cancellation decided on the waiting list does not cancel it once accepted.
        let err = self
            .list_refused(
                "list-7-waiting",
                change("L-1", InventoryListChange::CancelledWaiting),
            )
            .await;
        assert!(
            matches!(&err, StoreError::Conflict(what) if what == "inventory list L-1 is accepted"),
            "{err}"
        );
        let reason = r#"{"code":"no_payment","zh":"未收到支付单"}"#.to_owned();
        self.list_event(
            "list-8",
            change(
                "L-2",
                InventoryListChange::Refused {
                    reason: reason.clone(),
                },
            ),
        )
        .await;
        let list = self.store.inventory_list("L-2").await.unwrap().unwrap();
        assert_eq!(
            (list.status.as_str(), list.reason),
            ("refused", Some(reason))
        );
        let err = self
            .list_refused("list-9", change("L-2", InventoryListChange::Returned))
            .await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let err = self
            .list_refused("list-10", change("L-404", InventoryListChange::Cancelled))
            .await;
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        self.list_event("list-11", change("L-1", InventoryListChange::Returned))
            .await;
        assert_eq!(
            self.store
                .inventory_list("L-1")
                .await
                .unwrap()
                .unwrap()
                .status,
            "returned"
        );
        // Neither waits any more.
        assert_eq!(
            ids(expired(T0 + 101, 10).await.unwrap()),
            Vec::<String>::new()
        );
    }

    async fn debit_guarantees(&mut self) {
        self.admin(
            "guarantee-1",
            "guarantee:ASSURE-1",
            Projection::RegisterGuarantee {
                assure_code: "ASSURE-1".to_owned(),
                agent_code: AGENT.to_owned(),
                amount_fen: 10_000,
            },
        )
        .await;
        let registered = Projection::RegisterGuarantee {
            assure_code: "ASSURE-1".to_owned(),
            agent_code: OTHER_AGENT.to_owned(),
            amount_fen: 1,
        };
        let err = self.admin_refused("guarantee-2", registered).await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let top_up = Projection::TopUpGuarantee {
            assure_code: "ASSURE-1".to_owned(),
            amount_fen: 500,
        };
        self.admin("guarantee-3", "guarantee:ASSURE-1", top_up)
            .await;
        assert_eq!(self.assure_1_balance().await, 10_500);

        // The acceptance of L-3 debits its taxes: one fen short is refused with nothing written.
        let accepting = |key: &str, d: GuaranteeDebit| {
            let mut event = append(
                &officer_actor(),
                key,
                "ceb:lists",
                "ceb.list_accepted",
                Projection::InventoryListChange {
                    id: "L-3".to_owned(),
                    change: InventoryListChange::Accepted {
                        declaration_id: "D-CEB-3".to_owned(),
                    },
                },
            );
            event.guarantee_debit = Some(d);
            event
        };
        let outcome = self
            .not_appended(accepting("debit-1", debit(10_501, "L-3")))
            .await;
        assert_eq!(
            outcome,
            AppendOutcome::GuaranteeExhausted {
                balance_fen: 10_500,
                needed_fen: 10_501
            }
        );
        let written = self.store.event_by_idempotency("usr-officer", "debit-1");
        assert!(written.await.unwrap().is_none());
        assert_eq!(
            self.store
                .inventory_list("L-3")
                .await
                .unwrap()
                .unwrap()
                .status,
            "waiting"
        );
        assert!(self.store.events("guarantee:ASSURE-1").await.unwrap().len() == 2);
        // Exactly the balance passes: the debit is its own event, before the append's.
        let outcome = self
            .store
            .append(accepting("debit-2", debit(10_500, "L-3")))
            .await
            .unwrap();
        self.events_appended += 2;
        let AppendOutcome::Appended { seq } = outcome else {
            panic!("a covered debit is appended, got {outcome:?}");
        };
        self.saw_newest(seq, "an acceptance with a debit");
        assert_eq!(self.assure_1_balance().await, 0);
        let history = self.store.events("guarantee:ASSURE-1").await.unwrap();
        let debited = history.last().unwrap();
        assert_eq!(debited.action, "guarantee.debited");
        assert!(debited.seq < seq);
        assert_eq!(
            debited.payload,
            r#"{"agent_code":"3120980025","amount_fen":10500,"assure_code":"ASSURE-1","balance_after_fen":0,"debit_ref":"L-3"}"#
        );
        assert_eq!(
            self.store
                .inventory_list("L-3")
                .await
                .unwrap()
                .unwrap()
                .status,
            "accepted"
        );

        // Another agent, an unknown guarantee, a reference debited before: refused.
        self.admin(
            "guarantee-4",
            "guarantee:ASSURE-1",
            Projection::TopUpGuarantee {
                assure_code: "ASSURE-1".to_owned(),
                amount_fen: 20_000,
            },
        )
        .await;
        let mut other = debit(1, "L-X");
        other.agent_code = OTHER_AGENT.to_owned();
        let err = self
            .store
            .append(accepting("debit-3", other))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let mut unknown = debit(1, "L-X");
        unknown.assure_code = "ASSURE-404".to_owned();
        let err = self
            .store
            .append(accepting("debit-4", unknown))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        let err = self
            .store
            .append(accepting("debit-5", debit(1, "L-3")))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let err = self
            .store
            .append(accepting("debit-6", debit(0, "L-Y")))
            .await
            .unwrap_err();
        assert!(is_other_naming(&err, "guarantee_debit.amount_fen"), "{err}");
        assert_eq!(self.assure_1_balance().await, 20_000);

        // L-3 cancelled: its debit released, once.
        let release = Projection::ReleaseGuaranteeDebit {
            assure_code: "ASSURE-1".to_owned(),
            debit_ref: "L-3".to_owned(),
        };
        // The cancellation and the release are one append (the release a linked event).
        let mut cancelling = append(
            &officer_actor(),
            "guarantee-5",
            "ceb:lists",
            "ceb.list_cancelled",
            Projection::InventoryListChange {
                id: "L-3".to_owned(),
                change: InventoryListChange::Cancelled,
            },
        );
        cancelling.linked.push(store::LinkedEvent {
            actor: None,
            subject: "guarantee:ASSURE-1".to_owned(),
            action: "guarantee.released".to_owned(),
            payload: r#"{"debit_ref":"L-3"}"#.to_owned(),
            expected_version: None,
            projection: release.clone(),
        });
        let seq = self.appended(cancelling).await;
        let released = self.store.events("guarantee:ASSURE-1").await.unwrap();
        assert!(
            released.last().is_some_and(|e| e.seq > seq),
            "the linked release after"
        );
        assert_eq!(self.assure_1_balance().await, 30_500);
        let list = self.store.inventory_list("L-3").await.unwrap().unwrap();
        assert_eq!(list.status, "cancelled");
        let err = self.admin_refused("guarantee-6", release).await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let unknown = Projection::ReleaseGuaranteeDebit {
            assure_code: "ASSURE-1".to_owned(),
            debit_ref: "L-404".to_owned(),
        };
        let err = self.admin_refused("guarantee-7", unknown).await;
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        let overflow = Projection::TopUpGuarantee {
            assure_code: "ASSURE-1".to_owned(),
            amount_fen: store::GUARANTEE_MOVEMENT_FEN_MAX + 1,
        };
        let err = self.admin_refused("guarantee-8", overflow).await;
        assert!(is_other_naming(&err, "guarantee.amount_fen"), "{err}");
        let guarantee = self.store.guarantee("ASSURE-1").await.unwrap().unwrap();
        assert_eq!(guarantee.agent_code, AGENT);
        assert!(self.store.guarantee("ASSURE-404").await.unwrap().is_none());
    }

    async fn assure_1_balance(&self) -> i64 {
        let guarantee = self.store.guarantee("ASSURE-1").await.unwrap();
        guarantee.expect("ASSURE-1 is registered").balance_fen
    }

    async fn credit_back_allowances(&mut self) {
        let buyer = "e".repeat(64);
        let booking = CbecBooking {
            buyer_id: buyer.clone(),
            year: 2026,
            amount_fen: 1_000_000,
            annual_limit_fen: 2_600_000,
            order_ref: "O-CEB-1".to_owned(),
            actor: actor(&officer()),
            recorded_at_ms: T0 + 40_000,
        };
        let outcome = self.store.book_cbec_purchase(booking).await.unwrap();
        let store::CbecBookingOutcome::Booked { seq, .. } = outcome else {
            panic!("the order is booked, got {outcome:?}");
        };
        self.events_appended += 1;
        self.saw_newest(seq, "a CBEC booking");
        assert_eq!(
            self.store.cbec_year_to_date(&buyer, 2026).await.unwrap(),
            1_000_000
        );
        let credit = |amount_fen, credited_before_fen| Projection::CbecCreditBack {
            order_ref: "O-CEB-1".to_owned(),
            amount_fen,
            credited_before_fen,
        };
        // A partial return: its part of the booking, decided on no credit-back yet.
        self.list_event("credit-part-1", credit(Some(300_000), Some(0)))
            .await;
        assert_eq!(
            self.store.cbec_year_to_date(&buyer, 2026).await.unwrap(),
            700_000
        );
        // Another decided on the same state (a concurrent return) conflicts; so does one
        // crediting back more than remains. Neither writes anything.
        let err = self
            .list_refused("credit-part-2", credit(Some(100_000), Some(0)))
            .await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let err = self
            .list_refused("credit-part-3", credit(Some(700_001), Some(300_000)))
            .await;
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert_eq!(
            self.store.cbec_year_to_date(&buyer, 2026).await.unwrap(),
            700_000
        );
        // The rest: all that remains, once.
        self.list_event("credit-1", credit(None, None)).await;
        assert_eq!(self.store.cbec_year_to_date(&buyer, 2026).await.unwrap(), 0);
        // A second cancellation of the order credits nothing more.
        self.list_event("credit-2", credit(None, None)).await;
        assert_eq!(self.store.cbec_year_to_date(&buyer, 2026).await.unwrap(), 0);
        let err = self
            .list_refused(
                "credit-3",
                Projection::CbecCreditBack {
                    order_ref: "O-NONE".to_owned(),
                    amount_fen: None,
                    credited_before_fen: None,
                },
            )
            .await;
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        // The booking itself is unchanged: the order stays booked (a retry is a duplicate).
        let again = CbecBooking {
            buyer_id: buyer.clone(),
            year: 2026,
            amount_fen: 1_000_000,
            annual_limit_fen: 2_600_000,
            order_ref: "O-CEB-1".to_owned(),
            actor: actor(&officer()),
            recorded_at_ms: T0 + 41_000,
        };
        let outcome = self.store.book_cbec_purchase(again).await.unwrap();
        assert!(
            matches!(
                outcome,
                store::CbecBookingOutcome::Duplicate {
                    same_booking: true,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
}

fn officer_actor() -> store::Actor {
    actor(&officer())
}
