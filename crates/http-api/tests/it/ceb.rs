//! Cross-border e-commerce messages through the real server (issue 15): the consistent flow of
//! the `ceb` crate (an order, its payment, its waybill, the list, a cancellation), each signed
//! with a test key (their placeholder signatures replaced), from five enterprises registered for
//! their roles over the admin routes. Matching in several orders, late, duplicated and
//! disagreeing; tampering, unregistered senders, guarantee exhaustion, cancellation and the
//! deadline sweep.

use std::collections::HashMap;

use clearance::Role;
use dsig::Identity;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::{Actor, Store};

use crate::helpers::{Reply, TestApp, send, spawn_app};

const EBP: &str = "3301960001";
const EBC: &str = "3301960002";
const PAY: &str = "3301960003";
const LOGISTICS: &str = "3301960004";
const AGENT: &str = "3301960005";
/// The list's guid (InventoryHead/guid) in the flow fixture.
const LIST: &str = "0B6E3C8A-1D2F-4E5A-9B7C-2026111100D2";

/// The five enterprises: customs code, the first 17 characters of the credit code, name, CEB
/// role, and the user that sends for it.
const PARTIES: [(&str, &str, &str, &str, &str); 5] = [
    (
        EBP,
        "91330100MA2CEB001",
        "测试跨境电商平台有限公司",
        "ebp",
        "ebp_user",
    ),
    (
        EBC,
        "91330100MA2CEB002",
        "测试跨境电商企业有限公司",
        "ebc",
        "ebc_user",
    ),
    (
        PAY,
        "91330100MA2CEB003",
        "测试支付有限公司",
        "payment",
        "pay_user",
    ),
    (
        LOGISTICS,
        "91330100MA2CEB004",
        "测试国际物流有限公司",
        "logistics",
        "logistics_user",
    ),
    (
        AGENT,
        "91330100MA2CEB005",
        "测试报关有限公司",
        "agent",
        "agent_user",
    ),
];

fn credit_code(first_17: &str) -> String {
    domain::codes::credit_code_with_check(first_17).expect("17 valid characters")
}

/// A flow fixture as written (unsigned: its placeholder signature is replaced when sent).
fn flow(name: &str) -> String {
    let path = format!(
        "{}/../ceb/test_data/flow/{name}Message.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The flow's messages for another order `n` (1-99) of the same buyer: new order, waybill,
/// payment and list numbers and new guids, everything else the same.
fn variant(xml: &str, n: u32) -> String {
    xml.replace("TM2026111100000001", &format!("TM20261111000000{n:02}"))
        .replace("YT2026111100000001", &format!("YT20261111000000{n:02}"))
        .replace("PAY2026111100000001", &format!("PAY20261111000000{n:02}"))
        .replace("AG2026111100000001", &format!("AG20261111000000{n:02}"))
        .replace("-2026111100", &format!("-20261111{n:02}"))
}

struct Ceb {
    app: TestApp,
    tokens: HashMap<&'static str, String>,
    identities: HashMap<&'static str, Identity>,
}

/// The app with the five enterprises in the register, registered for their CEB roles with
/// their certificates (over HTTP, as the administrator), the agent authorised by the e-commerce
/// enterprise, a guarantee of `guarantee` CNY, and the sample tariff in force.
async fn setup(guarantee: &str) -> Ceb {
    let app = spawn_app().await;
    app.activate_sample_releases("2026-11-01").await;
    let actor = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    let mut tokens = HashMap::new();
    let mut identities = HashMap::new();
    for (code, first_17, name, role, user) in PARTIES {
        let credit = credit_code(first_17);
        app.clearance
            .create_enterprise(&actor, &credit, code, name)
            .await
            .expect("an enterprise");
        let user_role = if role == "agent" {
            Role::Broker
        } else {
            Role::Declarant
        };
        app.clearance
            .create_user(&actor, user, user_role, Some(&credit))
            .await
            .expect("a user");
        tokens.insert(
            user,
            app.clearance
                .issue_token(&actor, user)
                .await
                .expect("a token")
                .token,
        );
        let registered = app
            .post(
                "/v1/ceb/enterprises",
                "admin",
                None,
                &json!({ "customs_code": code, "credit_code": credit, "name": name, "roles": [role] }),
            )
            .await;
        assert_eq!(
            registered.status,
            StatusCode::NO_CONTENT,
            "{}",
            registered.text
        );
        let identity = Identity::generate(code, code.as_bytes()).expect("a test identity");
        let added = app
            .post(
                &format!("/v1/ceb/enterprises/{code}/certificates"),
                "admin",
                None,
                &json!({ "certificate_pem": identity.certificate_pem().unwrap() }),
            )
            .await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.text);
        identities.insert(user, identity);
    }
    app.clearance
        .authorise_broker(
            &actor,
            &credit_code(PARTIES[4].1),
            &credit_code(PARTIES[1].1),
        )
        .await
        .expect("the e-commerce enterprise authorises its agent");
    let registered = app
        .post(
            "/v1/ceb/guarantees",
            "admin",
            None,
            &json!({ "assure_code": AGENT, "agent_code": AGENT, "amount": guarantee }),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::NO_CONTENT,
        "{}",
        registered.text
    );
    Ceb {
        app,
        tokens,
        identities,
    }
}

/// Who sends each message of the flow.
fn sender(name: &str) -> &'static str {
    match name {
        "CEB311" => "ebp_user",
        "CEB411" => "pay_user",
        "CEB511" => "logistics_user",
        _ => "agent_user",
    }
}

/// `returnStatus` and `returnInfo` of each entity of a receipt.
fn statuses(receipt: &str) -> Vec<(String, String)> {
    let between = |text: &str, open: &str, close: &str| -> Vec<String> {
        text.split(open)
            .skip(1)
            .map(|rest| rest.split(close).next().unwrap().to_owned())
            .collect()
    };
    between(receipt, "<returnStatus>", "</returnStatus>")
        .into_iter()
        .zip(between(receipt, "<returnInfo>", "</returnInfo>"))
        .collect()
}

impl Ceb {
    async fn post_as(&self, user: &str, body: Vec<u8>) -> Reply {
        send(
            self.app
                .http
                .post(self.app.url("/v1/ceb/messages"))
                .bearer_auth(&self.tokens[user])
                .header("content-type", "application/xml")
                .body(body),
        )
        .await
    }

    /// Signs `xml` with `user`'s key and sends it as `user`.
    async fn send_signed(&self, user: &str, xml: &str) -> Reply {
        let signed = dsig::sign(xml.as_bytes(), &self.identities[user]).expect("signed");
        self.post_as(user, signed).await
    }

    /// Sends a flow message (`CEB311`...) of order `n` (1: the fixture's) and answers the
    /// receipt's first entity's status and info.
    async fn send_flow(&self, name: &str, n: u32) -> (String, String) {
        let xml = flow(name);
        let xml = if n == 1 { xml } else { variant(&xml, n) };
        let reply = self.send_signed(sender(name), &xml).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text);
        assert!(reply.content_type().starts_with("application/xml"));
        statuses(&reply.text).remove(0)
    }

    async fn list(&self, id: &str) -> Value {
        let reply = send(
            self.app
                .http
                .get(self.app.url(&format!("/v1/ceb/inventory-lists/{id}")))
                .bearer_auth(&self.tokens["agent_user"]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body
    }

    async fn balance(&self) -> String {
        let reply = self
            .app
            .get(&format!("/v1/ceb/guarantees/{AGENT}"), "admin")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["balance"].as_str().unwrap().to_owned()
    }
}

fn list_id(n: u32) -> String {
    if n == 1 {
        LIST.to_owned()
    } else {
        LIST.replace("-2026111100", &format!("-20261111{n:02}"))
    }
}

#[tokio::test]
async fn the_flow_in_every_order_accepts_the_list_once_its_last_document_arrives() {
    let ceb = setup("1000.00").await;
    let orders: [[&str; 4]; 5] = [
        ["CEB311", "CEB411", "CEB511", "CEB621"], // list last
        ["CEB621", "CEB311", "CEB411", "CEB511"], // list first
        ["CEB311", "CEB621", "CEB511", "CEB411"], // list second
        ["CEB511", "CEB411", "CEB621", "CEB311"], // list third
        ["CEB411", "CEB621", "CEB311", "CEB511"],
    ];
    for (i, order) in orders.iter().enumerate() {
        let n = i as u32 + 1;
        let list_at = order.iter().position(|m| *m == "CEB621").unwrap();
        for (j, name) in order.iter().enumerate() {
            let (status, info) = ceb.send_flow(name, n).await;
            if *name == "CEB621" {
                let expected = if j == 3 { "120" } else { "2" };
                assert_eq!(status, expected, "order {n} {order:?}: {info}");
            } else if j < 3 || list_at == 3 {
                assert_eq!(status, "120", "order {n} {name}: {info}");
            }
            let list_state = if j >= list_at {
                Some(ceb.list(&list_id(n)).await["status"].clone())
            } else {
                None
            };
            if let Some(state) = list_state {
                let expected = if j == 3 { "accepted" } else { "waiting" };
                assert_eq!(state, expected, "order {n} after {name}");
            }
        }
        let list = ceb.list(&list_id(n)).await;
        let number = list["declaration_number"].as_str().unwrap();
        assert_eq!(number.len(), 18);
        assert!(
            list["receipt"]
                .as_str()
                .unwrap()
                .contains(&format!("<invtNo>{number}</invtNo>"))
        );
    }
    // Each list's taxes debited from the guarantee: 28.21 CNY, VAT 13 % × 70 % on the 310 CNY of
    // goods and freight.
    assert_eq!(ceb.balance().await, "858.95");
}

#[tokio::test]
async fn the_list_answers_with_its_declaration_and_the_taxes_debited() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB411", "CEB511"] {
        assert_eq!(ceb.send_flow(name, 1).await.0, "120");
    }
    let (status, info) = ceb.send_flow("CEB621", 1).await;
    assert_eq!(status, "120", "{info}");
    assert!(info.contains("28.21"), "{info}");
    // The platform withheld 27.30 (taxTotal): the difference is reported, not refused.
    assert!(info.contains("OrderHead/taxTotal"), "{info}");
    assert_eq!(ceb.balance().await, "971.79");
    let list = ceb.list(LIST).await;
    let id = list["declaration_id"].as_str().unwrap();
    let assessments = ceb
        .app
        .get(&format!("/v1/declarations/{id}/assessments"), "officer")
        .await;
    assert_eq!(assessments.status, StatusCode::OK, "{}", assessments.text);
    let cbec = &assessments.body["assessments"][0]["cbec"];
    assert_eq!(cbec["order_value"], "310.00", "{cbec}");
    assert_eq!(cbec["annual_total_after"], "310.00", "{cbec}");
    // The tax bill (CEB816), for the agent.
    let bill = send(
        ceb.app
            .http
            .get(ceb.app.url(&format!("/v1/ceb/tax-bills/{LIST}")))
            .bearer_auth(&ceb.tokens["agent_user"]),
    )
    .await;
    assert_eq!(bill.status, StatusCode::OK, "{}", bill.text);
    assert!(bill.text.contains("CEB816Message"), "{}", bill.text);
    let number = list["declaration_number"].as_str().unwrap();
    assert!(
        bill.text.contains(&format!("<invtNo>{number}</invtNo>")),
        "{}",
        bill.text
    );
    assert!(
        bill.text.contains("<valueAddedTax>28.21</valueAddedTax>"),
        "{}",
        bill.text
    );
    assert!(
        bill.text.contains("<gcode>8471300000</gcode>"),
        "{}",
        bill.text
    );
    // Another enterprise's user does not see the list.
    let other = send(
        ceb.app
            .http
            .get(ceb.app.url(&format!("/v1/ceb/inventory-lists/{LIST}")))
            .bearer_auth(&ceb.tokens["ebp_user"]),
    )
    .await;
    other.assert_problem(404);
    let bill = send(
        ceb.app
            .http
            .get(ceb.app.url(&format!("/v1/ceb/tax-bills/{LIST}")))
            .bearer_auth(&ceb.tokens["ebp_user"]),
    )
    .await;
    bill.assert_problem(404);
}

#[tokio::test]
async fn a_message_sent_twice_is_recorded_once_and_answered_again() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB311", "CEB411", "CEB511"] {
        assert_eq!(ceb.send_flow(name, 1).await.0, "120");
    }
    let first = ceb.send_flow("CEB621", 1).await;
    let again = ceb.send_flow("CEB621", 1).await;
    assert_eq!(first.0, "120");
    assert_eq!(again.0, "120", "{}", again.1);
    let store = ceb.app.clearance.store();
    let order_events = store
        .events("ceb:order:0B6E3C8A-1D2F-4E5A-9B7C-2026111100A2")
        .await
        .unwrap();
    assert_eq!(order_events.len(), 1);
    let list_events = store
        .events(&format!("ceb:inventory:{LIST}"))
        .await
        .unwrap();
    assert_eq!(list_events.len(), 1);
    // One lodging, one debit.
    assert_eq!(ceb.balance().await, "971.79");
    // The buyer's ID number is nowhere in what the store keeps of the documents (a pseudonym
    // instead), nor in the declaration.
    for guid in [
        "0B6E3C8A-1D2F-4E5A-9B7C-2026111100A2",
        "0B6E3C8A-1D2F-4E5A-9B7C-2026111100B2",
        LIST,
    ] {
        let kept = store.ceb_document(guid).await.unwrap().expect("kept");
        assert!(!kept.document.contains("11010519491231002X"), "{guid}");
        assert!(kept.document.contains("110105********002X#"), "{guid}");
    }
    let list = ceb.list(LIST).await;
    let declaration = store
        .declaration(list["declaration_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{declaration:?}").contains("11010519491231002X"));
}

#[tokio::test]
async fn the_last_two_documents_arriving_together_lodge_the_list_once() {
    let ceb = setup("1000.00").await;
    for n in 1..=3 {
        ceb.send_flow("CEB311", n).await;
        ceb.send_flow("CEB621", n).await;
        let (payment, waybill) =
            tokio::join!(ceb.send_flow("CEB411", n), ceb.send_flow("CEB511", n));
        assert_eq!((payment.0.as_str(), waybill.0.as_str()), ("120", "120"));
        assert_eq!(
            ceb.list(&list_id(n)).await["status"],
            "accepted",
            "order {n}"
        );
    }
    // Three lists, three debits of 28.21.
    assert_eq!(ceb.balance().await, "915.37");
}

#[tokio::test]
async fn a_list_without_its_enterprise_number_is_answered_with_the_pre_entry_number() {
    let ceb = setup("1000.00").await;
    let list = flow("CEB621").replace("<ceb:copNo>AG2026111100000001</ceb:copNo>", "");
    let reply = ceb.send_signed("agent_user", &list).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(statuses(&reply.text)[0].0, "2", "{}", reply.text);
    assert!(reply.text.contains("<copNo>CEB"), "{}", reply.text);
}

#[tokio::test]
async fn documents_that_disagree_refuse_the_list_naming_the_field() {
    let ceb = setup("1000.00").await;
    let order = flow("CEB311").replace(
        "<consigneeAddress>上海市浦东新区测试路1号</consigneeAddress>",
        "<consigneeAddress>北京市朝阳区测试路9号</consigneeAddress>",
    );
    let reply = ceb.send_signed("ebp_user", &order).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    for name in ["CEB411", "CEB511"] {
        assert_eq!(ceb.send_flow(name, 1).await.0, "120");
    }
    let (status, info) = ceb.send_flow("CEB621", 1).await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("consigneeAddress"), "{info}");
    let list = ceb.list(LIST).await;
    assert_eq!(list["status"], "refused");
    assert!(
        list["reason"]["errors"][0]["path"]
            .as_str()
            .unwrap()
            .contains("consigneeAddress")
    );
    assert_eq!(ceb.balance().await, "1000.00");
}

#[tokio::test]
async fn a_tampered_message_is_refused() {
    let ceb = setup("1000.00").await;
    let signed = dsig::sign(flow("CEB311").as_bytes(), &ceb.identities["ebp_user"]).unwrap();
    let tampered = String::from_utf8(signed).unwrap().replace(
        "<goodsValue>300.00</goodsValue>",
        "<goodsValue>30.00</goodsValue>",
    );
    let reply = ceb.post_as("ebp_user", tampered.into_bytes()).await;
    reply.assert_problem(403);
    // Signed by another enterprise's key: refused too.
    let signed = dsig::sign(flow("CEB311").as_bytes(), &ceb.identities["pay_user"]).unwrap();
    ceb.post_as("ebp_user", signed).await.assert_problem(403);
    // Unsigned.
    ceb.post_as("ebp_user", flow("CEB311").into_bytes())
        .await
        .assert_problem(403);
}

/// A new certificate comes into force at once, though the sender's registration was read (and
/// kept in memory) for its earlier messages: the old key is refused from then on, the new one
/// accepted.
#[tokio::test]
async fn a_new_certificate_is_in_force_for_the_next_message() {
    let ceb = setup("1000.00").await;
    assert_eq!(ceb.send_flow("CEB311", 1).await.0, "120");
    let renewed = Identity::generate(EBP, b"renewed").expect("a test identity");
    let added = ceb
        .app
        .post(
            &format!("/v1/ceb/enterprises/{EBP}/certificates"),
            "admin",
            None,
            &json!({ "certificate_pem": renewed.certificate_pem().unwrap() }),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    let order = variant(&flow("CEB311"), 2);
    let old_key = dsig::sign(order.as_bytes(), &ceb.identities["ebp_user"]).unwrap();
    ceb.post_as("ebp_user", old_key).await.assert_problem(403);
    let new_key = dsig::sign(order.as_bytes(), &renewed).unwrap();
    let reply = ceb.post_as("ebp_user", new_key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(statuses(&reply.text)[0].0, "120", "{}", reply.text);
}

#[tokio::test]
async fn an_unregistered_or_wrong_sender_is_refused() {
    let ceb = setup("1000.00").await;
    // Not the message's sender.
    let reply = ceb.send_signed("pay_user", &flow("CEB311")).await;
    reply.assert_problem(403);
    assert!(
        reply.text.contains("BaseTransfer/copCode"),
        "{}",
        reply.text
    );
    // The sender, but not registered for the role (the platform sends a payment of its own).
    let payment = flow("CEB411").replace(
        "<copCode>3301960003</copCode>",
        "<copCode>3301960001</copCode>",
    );
    let reply = ceb.send_signed("ebp_user", &payment).await;
    reply.assert_problem(403);
    // Registered for the role, but the order names a platform that did not authorise it.
    let also_ebp = ceb
        .app
        .post(
            "/v1/ceb/enterprises",
            "admin",
            None,
            &json!({ "customs_code": EBC, "name": "测试跨境电商企业有限公司", "roles": ["ebp"] }),
        )
        .await;
    assert_eq!(also_ebp.status, StatusCode::NO_CONTENT, "{}", also_ebp.text);
    let order = flow("CEB311").replace(
        "<copCode>3301960001</copCode>",
        "<copCode>3301960002</copCode>",
    );
    let reply = ceb.send_signed("ebc_user", &order).await;
    reply.assert_problem(403);
    assert!(
        reply.text.contains("Order[1]/OrderHead/ebpCode"),
        "{}",
        reply.text
    );
    // A user whose enterprise is not registered for CEB at all.
    let reply = send(
        ceb.app
            .http
            .post(ceb.app.url("/v1/ceb/messages"))
            .bearer_auth(ceb.app.token("declarant"))
            .header("content-type", "application/xml")
            .body(flow("CEB311")),
    )
    .await;
    reply.assert_problem(403);
    // No token.
    let reply = send(
        ceb.app
            .http
            .post(ceb.app.url("/v1/ceb/messages"))
            .header("content-type", "application/xml")
            .body(flow("CEB311")),
    )
    .await;
    reply.assert_problem(401);
}

#[tokio::test]
async fn a_message_the_schema_refuses_gets_a_ceb900() {
    let ceb = setup("1000.00").await;
    let broken = flow("CEB311").replace("<goodsValue>300.00</goodsValue>", "");
    let reply = ceb.send_signed("ebp_user", &broken).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(reply.text.contains("CEB900Message"), "{}", reply.text);
    assert!(reply.text.contains("goodsValue"), "{}", reply.text);
    // At the limit the message is read (and refused for what it is); one byte over, not read.
    let at_limit = vec![b' '; ceb::MESSAGE_BYTES_MAX];
    let reply = ceb.post_as("ebp_user", at_limit).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(reply.text.contains("CEB900Message"));
    let too_large = vec![b' '; ceb::MESSAGE_BYTES_MAX + 1];
    ceb.post_as("ebp_user", too_large).await.assert_problem(413);
}

#[tokio::test]
async fn a_guarantee_that_does_not_cover_the_taxes_refuses_the_list() {
    let ceb = setup("20.00").await;
    for name in ["CEB311", "CEB411", "CEB511"] {
        assert_eq!(ceb.send_flow(name, 1).await.0, "120");
    }
    let (status, info) = ceb.send_flow("CEB621", 1).await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("assureCode"), "{info}");
    assert_eq!(ceb.balance().await, "20.00");
    let list = ceb.list(LIST).await;
    assert_eq!(list["status"], "refused");
    assert_eq!(list["declaration_id"], Value::Null);
}

#[tokio::test]
async fn a_cancellation_credits_the_allowance_and_the_guarantee_back() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
        ceb.send_flow(name, 1).await;
    }
    assert_eq!(ceb.list(LIST).await["status"], "accepted");
    let number = ceb.list(LIST).await["declaration_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancellation = flow("CEB623").replace(
        &flow("CEB623")
            .split("<ceb:invtNo>")
            .nth(1)
            .unwrap()
            .split("</ceb:invtNo>")
            .next()
            .unwrap()
            .to_owned(),
        &number,
    );
    let reply = ceb.send_signed("agent_user", &cancellation).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.text.contains("CEB624Message"), "{}", reply.text);
    let (status, info) = statuses(&reply.text).remove(0);
    assert_eq!(status, "120", "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "cancelled");
    assert_eq!(ceb.balance().await, "1000.00");
    // The buyer's next order counts from zero again: the cancelled one was credited back.
    for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
        ceb.send_flow(name, 2).await;
    }
    let list = ceb.list(&list_id(2)).await;
    assert_eq!(list["status"], "accepted", "{list}");
    let id = list["declaration_id"].as_str().unwrap();
    let assessments = ceb
        .app
        .get(&format!("/v1/declarations/{id}/assessments"), "officer")
        .await;
    // 310, not 620: the cancelled order no longer counts toward the buyer's year.
    assert_eq!(
        assessments.body["assessments"][0]["cbec"]["annual_total_after"], "310.00",
        "{}",
        assessments.text
    );
}

#[tokio::test]
async fn a_return_names_the_list_s_number_and_credits_back() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
        ceb.send_flow(name, 1).await;
    }
    let number = ceb.list(LIST).await["declaration_number"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another list number: refused by the field, nothing changes.
    let reply = ceb.send_signed("agent_user", &flow("CEB625")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.text.contains("CEB626Message"), "{}", reply.text);
    let (status, info) = statuses(&reply.text).remove(0);
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("InvtRefundHead/invtNo"), "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "accepted");
    // The list's own number, all its goods: returned, the guarantee debit released.
    let reply = ceb
        .send_signed("agent_user", &refund(&number, 1, &[(1, "2"), (2, "1")]))
        .await;
    let (status, info) = statuses(&reply.text).remove(0);
    assert_eq!(status, "120", "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "returned");
    assert_eq!(ceb.balance().await, "1000.00");
    // Void tax bill once returned.
    let bill = send(
        ceb.app
            .http
            .get(ceb.app.url(&format!("/v1/ceb/tax-bills/{LIST}")))
            .bearer_auth(&ceb.tokens["agent_user"]),
    )
    .await;
    assert!(bill.text.contains("<status>3</status>"), "{}", bill.text);
}

#[tokio::test]
async fn the_sweep_refuses_a_list_past_its_deadline() {
    let ceb = setup("1000.00").await;
    ceb.app.clearance.set_ceb_match_wait_ms(1);
    assert_eq!(ceb.send_flow("CEB311", 1).await.0, "120");
    let (status, _) = ceb.send_flow("CEB621", 1).await;
    assert_eq!(status, "2");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(ceb.app.clearance.sweep_ceb_waiting().await.unwrap(), 1);
    let list = ceb.list(LIST).await;
    assert_eq!(list["status"], "refused");
    let reason = list["reason"].to_string();
    assert!(
        reason.contains("payment") && reason.contains("waybill"),
        "{reason}"
    );
    assert!(!reason.contains("order (CEB311)"), "{reason}");
    // Swept once: nothing left.
    assert_eq!(ceb.app.clearance.sweep_ceb_waiting().await.unwrap(), 0);
    // A late document finds no list waiting.
    assert_eq!(ceb.send_flow("CEB411", 1).await.0, "120");
    assert_eq!(ceb.list(LIST).await["status"], "refused");
}

/// The official samples' transmitting enterprise (`copCode` of all four) and the enterprises
/// their documents name: customs code, the first 17 characters of the credit code, CEB roles.
const SAMPLE_TRANSMITTER: &str = "1101180326";
const SAMPLE_PARTIES: [(&str, &str, &[&str]); 3] = [
    ("1105910159", "91110000MA2XMP002", &["ebp", "ebc", "agent"]),
    ("1101110323", "91110000MA2XMP003", &["payment"]),
    ("1101110325", "91110000MA2XMP004", &["ebp", "ebc"]),
];

fn sample(name: &str) -> String {
    let path = format!(
        "{}/../ceb/test_data/samples/{name}Message.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn every_official_sample_through_http_is_answered_document_by_document() {
    let mut ceb = setup("1000.00").await;
    let actor = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    let transmitter = credit_code("91110000MA2XMP001");
    register_sample(
        &ceb.app,
        SAMPLE_TRANSMITTER,
        &transmitter,
        &["ebp", "payment", "logistics", "agent"],
    )
    .await;
    for (code, first_17, roles) in SAMPLE_PARTIES {
        register_sample(&ceb.app, code, &credit_code(first_17), roles).await;
        ceb.app
            .clearance
            .authorise_broker(&actor, &transmitter, &credit_code(first_17))
            .await
            .expect("the enterprise authorises the transmitter");
    }
    let identity = Identity::generate(SAMPLE_TRANSMITTER, b"sample").unwrap();
    let added = ceb
        .app
        .post(
            &format!("/v1/ceb/enterprises/{SAMPLE_TRANSMITTER}/certificates"),
            "admin",
            None,
            &json!({ "certificate_pem": identity.certificate_pem().unwrap() }),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    ceb.app
        .clearance
        .create_user(&actor, "transmitter", Role::Broker, Some(&transmitter))
        .await
        .unwrap();
    let token = ceb
        .app
        .clearance
        .issue_token(&actor, "transmitter")
        .await
        .unwrap()
        .token;
    ceb.tokens.insert("transmitter", token);
    ceb.identities.insert("transmitter", identity);

    // The order sample: item 2 of each of its 6 orders is 200 × 10 with a total of 12000.
    let reply = ceb.send_signed("transmitter", &sample("CEB311")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.text.contains("CEB312Message"));
    let answers = statuses(&reply.text);
    assert_eq!(answers.len(), 6);
    for (i, (status, info)) in answers.iter().enumerate() {
        assert_eq!(status, "100");
        assert!(
            info.contains(&format!("Order[{}]/OrderList[2]/totalPrice", i + 1)),
            "{info}"
        );
    }
    for (name, receipt) in [("CEB411", "CEB412Message"), ("CEB511", "CEB512Message")] {
        let reply = ceb.send_signed("transmitter", &sample(name)).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text);
        assert!(reply.text.contains(receipt));
        for (status, info) in statuses(&reply.text) {
            assert_eq!(status, "120", "{name}: {info}");
        }
    }
    // The list sample: items 1 and 2 of each of its 10 lists have totals that are not qty × price.
    let reply = ceb.send_signed("transmitter", &sample("CEB621")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let answers = statuses(&reply.text);
    assert_eq!(answers.len(), 10);
    for (status, info) in answers {
        assert_eq!(status, "100");
        assert!(info.contains("InventoryList[1]/totalPrice"), "{info}");
        assert!(info.contains("InventoryList[2]/totalPrice"), "{info}");
    }
}

async fn register_sample(app: &TestApp, code: &str, credit: &str, roles: &[&str]) {
    let actor = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    let name = format!("样例企业 {code}");
    app.clearance
        .create_enterprise(&actor, credit, code, &name)
        .await
        .expect("an enterprise");
    let registered = app
        .post(
            "/v1/ceb/enterprises",
            "admin",
            None,
            &json!({ "customs_code": code, "credit_code": credit, "name": name, "roles": roles }),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::NO_CONTENT,
        "{}",
        registered.text
    );
}

/// The flow's cancellation (CEB623) naming `invt_no`.
fn cancellation(invt_no: &str) -> String {
    flow("CEB623").replace(
        "<ceb:invtNo>22002026I000000001</ceb:invtNo>",
        &format!("<ceb:invtNo>{invt_no}</ceb:invtNo>"),
    )
}

/// A return (CEB625) of list 1 naming `invt_no`, its `k`-th (its own guids), of `items`: gnum
/// and quantity, the item's code, name and unit as listed.
fn refund(invt_no: &str, k: u32, items: &[(u32, &str)]) -> String {
    let xml = flow("CEB625")
        .replace("22002026I000000001", invt_no)
        .replace("2026111100F", &format!("20261111{k:02}F"));
    let start = xml.find("\t\t<ceb:InvtRefundList>").unwrap();
    let end = xml.find("\t</ceb:InvtRefund>").unwrap();
    let lines: String = items
        .iter()
        .map(|(gnum, qty)| {
            let (gcode, gname) = match gnum {
                1 => ("8471300000", "便携式电脑"),
                2 => ("8517130000", "智能手机"),
                _ => ("9503000000", "玩具"),
            };
            format!(
                "\t\t<ceb:InvtRefundList>\n\t\t\t<ceb:gnum>{gnum}</ceb:gnum>\n\t\t\t<ceb:gcode>{gcode}</ceb:gcode>\n\t\t\t<ceb:gname>{gname}</ceb:gname>\n\t\t\t<ceb:qty>{qty}</ceb:qty>\n\t\t\t<ceb:unit>001</ceb:unit>\n\t\t</ceb:InvtRefundList>\n"
            )
        })
        .collect();
    format!("{}{lines}{}", &xml[..start], &xml[end..])
}

impl Ceb {
    /// Sends `xml` as the agent and answers the receipt's first entity's status and info.
    async fn agent_sends(&self, xml: &str) -> (String, String) {
        let reply = self.send_signed("agent_user", xml).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        statuses(&reply.text).remove(0)
    }

    /// The annual total after order `n`'s list (sent whole now), as its assessment shows it.
    async fn annual_total_after(&self, n: u32) -> String {
        for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
            self.send_flow(name, n).await;
        }
        let list = self.list(&list_id(n)).await;
        assert_eq!(list["status"], "accepted", "{list}");
        let id = list["declaration_id"].as_str().unwrap();
        let assessments = self
            .app
            .get(&format!("/v1/declarations/{id}/assessments"), "officer")
            .await;
        assessments.body["assessments"][0]["cbec"]["annual_total_after"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn a_cancellation_cancels_the_declaration_which_then_cannot_be_released() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
        ceb.send_flow(name, 1).await;
    }
    let list = ceb.list(LIST).await;
    let id = list["declaration_id"].as_str().unwrap().to_owned();
    let number = list["declaration_number"].as_str().unwrap().to_owned();
    let (status, info) = ceb.agent_sends(&cancellation(&number)).await;
    assert_eq!(status, "120", "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "cancelled");
    let declaration = ceb
        .app
        .get(&format!("/v1/declarations/{id}"), "officer")
        .await;
    assert_eq!(
        declaration.body["status"], "cancelled",
        "{}",
        declaration.text
    );
    // In the declaration's history, written by the cancellation's own append (its linked
    // events are keyed by the CEB623's guid), its reason naming the CEB623.
    let store = ceb.app.clearance.store();
    let events = store.events(&id).await.unwrap();
    let cancelled = events
        .iter()
        .find(|e| e.action == "declaration.cancelled")
        .expect("the declaration's cancellation");
    let guid = "0B6E3C8A-1D2F-4E5A-9B7C-2026111100E2";
    assert!(cancelled.payload.contains(guid), "{}", cancelled.payload);
    assert!(
        cancelled.idempotency_key.starts_with(&format!("{guid}#")),
        "{}",
        cancelled.idempotency_key
    );
    // An officer cannot release it any more.
    let release = ceb
        .app
        .post(
            &format!("/v1/declarations/{id}/release"),
            "officer",
            None,
            &json!({}),
        )
        .await;
    release.assert_problem(409);
    assert!(release.text.contains("cancelled"), "{}", release.text);
    let declaration = ceb
        .app
        .get(&format!("/v1/declarations/{id}"), "officer")
        .await;
    assert_eq!(declaration.body["status"], "cancelled");
    assert_eq!(ceb.balance().await, "1000.00");
}

#[tokio::test]
async fn a_released_list_is_returned_not_cancelled() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
        ceb.send_flow(name, 1).await;
    }
    let list = ceb.list(LIST).await;
    let id = list["declaration_id"].as_str().unwrap().to_owned();
    let number = list["declaration_number"].as_str().unwrap().to_owned();
    // The taxes are settled by the guarantee's debit (recorded on the declaration as
    // guaranteed in the lodging's append): nothing is outstanding, the goods can be released.
    let path = format!("/v1/declarations/{id}");
    let owed = ceb.app.get(&format!("{path}/payments"), "officer").await;
    assert_eq!(owed.body["payable"], "28.21", "{}", owed.text);
    assert_eq!(owed.body["guaranteed"], "28.21", "{}", owed.text);
    assert_eq!(owed.body["outstanding"], "0.00", "{}", owed.text);
    let released = ceb
        .app
        .post(&format!("{path}/release"), "officer", None, &json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    let (status, info) = ceb.agent_sends(&cancellation(&number)).await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("InvtCancel/invtNo"), "{info}");
    assert!(info.contains("CEB625"), "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "accepted");
    assert_eq!(
        ceb.app.get(&path, "officer").await.body["status"],
        "released"
    );
    assert_eq!(ceb.balance().await, "971.79");
}

#[tokio::test]
async fn a_waiting_list_is_cancelled_by_the_pre_entry_number_its_receipt_gave() {
    let ceb = setup("1000.00").await;
    let reply = ceb.send_signed("agent_user", &flow("CEB621")).await;
    assert_eq!(statuses(&reply.text)[0].0, "2", "{}", reply.text);
    let pre_no = reply
        .text
        .split("<preNo>")
        .nth(1)
        .unwrap()
        .split("</preNo>")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(pre_no.len(), 18, "{pre_no}");
    // A number the list does not have: refused by the field.
    let (status, info) = ceb.agent_sends(&flow("CEB623")).await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("InvtCancel/invtNo"), "{info}");
    assert!(info.contains(&pre_no), "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "waiting");
    // Its pre-entry number: cancelled; nothing was booked or debited.
    let (status, info) = ceb.agent_sends(&cancellation(&pre_no)).await;
    assert_eq!(status, "120", "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "cancelled");
    assert_eq!(ceb.balance().await, "1000.00");
    // Late documents find no list waiting.
    assert_eq!(ceb.send_flow("CEB311", 1).await.0, "120");
    assert_eq!(ceb.list(LIST).await["status"], "cancelled");
}

#[tokio::test]
async fn partial_returns_credit_back_what_they_return_and_never_more_than_the_list() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
        ceb.send_flow(name, 1).await;
    }
    let number = ceb.list(LIST).await["declaration_number"]
        .as_str()
        .unwrap()
        .to_owned();
    // The phone (item 2, 101.00): its value credited back; the list stays accepted and its
    // taxes debited.
    let (status, info) = ceb.agent_sends(&refund(&number, 1, &[(2, "1")])).await;
    assert_eq!(status, "120", "{info}");
    assert!(info.contains("101.00"), "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "accepted");
    assert_eq!(ceb.balance().await, "971.79");
    // The buyer's next order counts 310 − 101 + 310.
    assert_eq!(ceb.annual_total_after(2).await, "519.00");
    // The phone again: more than the list cleared, with the return before.
    let (status, info) = ceb.agent_sends(&refund(&number, 2, &[(2, "1")])).await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("InvtRefundList[1]/qty"), "{info}");
    // An item not on the list.
    let (status, info) = ceb.agent_sends(&refund(&number, 2, &[(3, "1")])).await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("InvtRefundList[1]/gnum"), "{info}");
    // One laptop of two (199 × 1/2 = 99.50); then two more are one too many with it, the
    // phone's line aside.
    let (status, info) = ceb.agent_sends(&refund(&number, 3, &[(1, "1")])).await;
    assert_eq!(status, "120", "{info}");
    assert!(info.contains("99.50"), "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "accepted");
    let (status, info) = ceb
        .agent_sends(&refund(&number, 2, &[(2, "1"), (1, "2")]))
        .await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("InvtRefundList[1]/qty"), "{info}");
    assert!(info.contains("InvtRefundList[2]/qty"), "{info}");
    // The other laptop: the list is returned, the rest of the order (the freight with it)
    // credited back and the guarantee debit released.
    let (status, info) = ceb.agent_sends(&refund(&number, 4, &[(1, "1")])).await;
    assert_eq!(status, "120", "{info}");
    assert_eq!(ceb.list(LIST).await["status"], "returned");
    // Order 2's debit remains.
    assert_eq!(ceb.balance().await, "971.79");
    // Order 1 no longer counts at all: 310 (order 2) + 310.
    assert_eq!(ceb.annual_total_after(3).await, "620.00");
    // A returned list takes no more returns.
    let (status, info) = ceb.agent_sends(&refund(&number, 5, &[(2, "1")])).await;
    assert_eq!(status, "100", "{info}");
}

#[tokio::test]
async fn an_administrator_tops_up_a_guarantee_once_per_key() {
    let ceb = setup("100.00").await;
    let path = format!("/v1/ceb/guarantees/{AGENT}/top-ups");
    let topped = ceb
        .app
        .post(
            &path,
            "admin",
            Some("top-up-1"),
            &json!({ "amount": "2000.50" }),
        )
        .await;
    assert_eq!(topped.status, StatusCode::OK, "{}", topped.text);
    assert_eq!(topped.body["balance"], "2100.50");
    // The same request again adds nothing; the key with another amount is refused.
    let again = ceb
        .app
        .post(
            &path,
            "admin",
            Some("top-up-1"),
            &json!({ "amount": "2000.50" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(ceb.balance().await, "2100.50");
    let reused = ceb
        .app
        .post(
            &path,
            "admin",
            Some("top-up-1"),
            &json!({ "amount": "1.00" }),
        )
        .await;
    reused.assert_problem(422);
    assert!(reused.text.contains("Idempotency-Key"), "{}", reused.text);
    // At the largest movement it is kept; above, zero, negative or finer than the fen, refused
    // naming the amount.
    let largest = ceb
        .app
        .post(
            &path,
            "admin",
            None,
            &json!({ "amount": "100000000000.00" }),
        )
        .await;
    assert_eq!(largest.status, StatusCode::OK, "{}", largest.text);
    for amount in ["100000000000.01", "0", "0.00", "-5.00", "1.005", "ten"] {
        let refused = ceb
            .app
            .post(&path, "admin", None, &json!({ "amount": amount }))
            .await;
        refused.assert_problem(422);
        assert_eq!(
            refused.body["errors"][0]["path"], "amount",
            "{amount}: {}",
            refused.text
        );
    }
    // Only administrators: the agent itself may read its balance, not top it up.
    let by_agent = send(
        ceb.app
            .http
            .post(ceb.app.url(&path))
            .bearer_auth(&ceb.tokens["agent_user"])
            .header("content-type", "application/json")
            .body(json!({ "amount": "1.00" }).to_string()),
    )
    .await;
    by_agent.assert_problem(403);
    let unknown = ceb
        .app
        .post(
            "/v1/ceb/guarantees/NO-SUCH/top-ups",
            "admin",
            None,
            &json!({ "amount": "1.00" }),
        )
        .await;
    unknown.assert_problem(404);
    assert_eq!(ceb.balance().await, "100000002100.50");
}

#[tokio::test]
async fn a_list_whose_goods_are_held_is_not_cancelled_until_the_hold_is_lifted() {
    let ceb = setup("1000.00").await;
    for name in ["CEB311", "CEB411", "CEB511", "CEB621"] {
        ceb.send_flow(name, 1).await;
    }
    let list = ceb.list(LIST).await;
    let id = list["declaration_id"].as_str().unwrap().to_owned();
    let number = list["declaration_number"].as_str().unwrap().to_owned();
    let held = ceb
        .app
        .post(
            &format!("/v1/declarations/{id}/hold"),
            "officer",
            None,
            &json!({ "reason": "parcel X-rayed" }),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    let (status, info) = ceb.agent_sends(&cancellation(&number)).await;
    assert_eq!(status, "100", "{info}");
    assert!(info.contains("InvtCancel/invtNo"), "{info}");
    assert!(info.contains("hold"), "{info}");
    // Nothing changed: the list, the declaration, the allowance and the guarantee.
    assert_eq!(ceb.list(LIST).await["status"], "accepted");
    let declaration = ceb
        .app
        .get(&format!("/v1/declarations/{id}"), "officer")
        .await;
    assert_eq!(declaration.body["status"], "accepted");
    assert_eq!(ceb.balance().await, "971.79");
}
