//! The cast of the clearance story: enterprises, users, tokens and declarations.

use store::{Actor, Append, DeclarationRow, EnterpriseRow, Projection, TokenRow, UserRow};

/// 2025-01-01T00:00:00Z; every time in the story is an offset from it.
pub(crate) const T0: i64 = 1_735_689_600_000;

pub(crate) fn trader() -> EnterpriseRow {
    enterprise(
        "ent-trader",
        "91310000MA1TRADER1",
        "3101000001",
        "Harbour Trading Co.",
    )
}

pub(crate) fn broker() -> EnterpriseRow {
    enterprise(
        "ent-broker",
        "91310000MA1BROKER1",
        "3101980001",
        "Pudong Customs Brokerage",
    )
}

/// A second trader, declaring for itself and unrelated to the broker.
pub(crate) fn other() -> EnterpriseRow {
    enterprise(
        "ent-other",
        "91440300MA5OTHER01",
        "4403000002",
        "Shenzhen Other Imports",
    )
}

fn enterprise(id: &str, credit_code: &str, customs_code: &str, name: &str) -> EnterpriseRow {
    EnterpriseRow {
        id: id.to_owned(),
        credit_code: credit_code.to_owned(),
        customs_code: customs_code.to_owned(),
        name: name.to_owned(),
    }
}

pub(crate) fn user(
    id: &str,
    name: &str,
    role: &str,
    enterprise: Option<&EnterpriseRow>,
) -> UserRow {
    UserRow {
        id: id.to_owned(),
        name: name.to_owned(),
        role: role.to_owned(),
        enterprise_id: enterprise.map(|e| e.id.clone()),
        disabled_seq: None,
    }
}

pub(crate) fn trader_clerk() -> UserRow {
    user(
        "usr-trader-clerk",
        "trader.clerk",
        "trader",
        Some(&trader()),
    )
}

pub(crate) fn broker_clerk() -> UserRow {
    user(
        "usr-broker-clerk",
        "broker.clerk",
        "declarant",
        Some(&broker()),
    )
}

pub(crate) fn other_clerk() -> UserRow {
    user("usr-other-clerk", "other.clerk", "trader", Some(&other()))
}

pub(crate) fn officer() -> UserRow {
    user("usr-officer", "officer.li", "officer", None)
}

pub(crate) fn actor(user: &UserRow) -> Actor {
    Actor {
        user_id: user.id.clone(),
        role: user.role.clone(),
    }
}

/// Registrations are made by an administrator who needs no row of its own.
pub(crate) fn administrator() -> Actor {
    Actor {
        user_id: "usr-admin".to_owned(),
        role: "administrator".to_owned(),
    }
}

/// A stand-in for the SHA-256 hex of a bearer token.
pub(crate) fn token_hash(tag: char) -> String {
    tag.to_string().repeat(64)
}

pub(crate) fn token(tag: char, user: &UserRow) -> TokenRow {
    TokenRow {
        id: format!("T-{}", tag.to_string().repeat(16)),
        token_hash: token_hash(tag),
        user_id: user.id.clone(),
        created_at_ms: T0,
        expires_at_ms: T0 + 90 * 86_400_000,
        revoked_seq: None,
    }
}

/// The parts of a declaration the story varies.
pub(crate) struct Lodging<'a> {
    pub id: &'a str,
    pub trader: &'a EnterpriseRow,
    pub declarant: &'a EnterpriseRow,
    pub kind: &'a str,
    pub direction: &'a str,
    pub office: &'a str,
    pub lodged_at_ms: i64,
}

pub(crate) fn declaration(l: &Lodging<'_>) -> DeclarationRow {
    DeclarationRow {
        id: l.id.to_owned(),
        number: format!("N-{}", l.id),
        direction: l.direction.to_owned(),
        kind: l.kind.to_owned(),
        status: "lodged".to_owned(),
        office_of_lodging: l.office.to_owned(),
        trader_credit_code: l.trader.credit_code.clone(),
        declarant_credit_code: l.declarant.credit_code.clone(),
        summary_number: None,
        completed_by: None,
        lodged_at_ms: l.lodged_at_ms,
        updated_at_ms: l.lodged_at_ms,
        version: 1,
        document: document(l.id, "8000.00"),
    }
}

/// A declaration document as a writer encodes it (minified JSON): Chinese text, escaped quotes
/// and backslashes, control characters and nested arrays, so the story checks that a store gives
/// back the text it was given byte for byte, not an equivalent re-encoding.
pub(crate) fn document(id: &str, value: &str) -> String {
    format!(
        r#"{{"id":"{id}","consignee":{{"name":"上海港湾贸易有限公司","marks":"箱唛 \"N/M\" \\ 第1/2箱\n\t\u0001"}},"items":[{{"hs":"8471300000","description":"便携式计算机 💻","value":"{value}","packages":[["CT",2],["PK",1,[true,null]]],"quantity":12.5,"tags":[]}}],"notes":{{}}}}"#
    )
}

/// The payload of an event that carries a declaration document, as `wire` encodes an acceptance
/// (`{"number":...,"declaration":...}`) or an amendment (`{"declaration":...,"reason":...}`).
pub(crate) fn carrying(document: &str, number: Option<&str>, reason: Option<&str>) -> String {
    match (number, reason) {
        (Some(number), _) => format!(r#"{{"number":"{number}","declaration":{document}}}"#),
        (None, Some(reason)) => format!(r#"{{"declaration":{document},"reason":"{reason}"}}"#),
        (None, None) => format!(r#"{{"declaration":{document}}}"#),
    }
}

/// The declarations lodged first: five for the trader (one it declares itself, one a summary)
/// and two for the other trader. Three share a lodging time, so pagination must break ties.
pub(crate) fn first_lodgings() -> Vec<DeclarationRow> {
    let (t, b, o) = (trader(), broker(), other());
    // id, trader, declarant, kind, direction, office, lodged at (ms after T0)
    let table = [
        ("D-T1", &t, &b, "full", "import", "2201", 1_000),
        ("D-T2", &t, &b, "full", "export", "2202", 2_000),
        ("D-T3", &t, &b, "summary", "import", "2201", 2_000),
        ("D-T4", &t, &b, "full", "import", "2201", 3_000),
        ("D-T5", &t, &t, "full", "export", "2202", 2_000),
        ("D-O1", &o, &o, "full", "import", "5301", 1_500),
        ("D-O2", &o, &o, "full", "export", "5301", 4_000),
    ];
    let lodge = |(id, trader, declarant, kind, direction, office, after_t0)| {
        declaration(&Lodging {
            id,
            trader,
            declarant,
            kind,
            direction,
            office,
            lodged_at_ms: T0 + after_t0,
        })
    };
    table.into_iter().map(lodge).collect()
}

/// An append as a real caller builds one: scoped to the acting user, digest of the request. A
/// lodging's payload carries its document, as the store requires.
pub(crate) fn append(
    actor: &Actor,
    key: &str,
    subject: &str,
    action: &str,
    projection: Projection,
) -> Append {
    Append {
        actor: actor.clone(),
        recorded_at_ms: T0 + 10_000,
        subject: subject.to_owned(),
        action: action.to_owned(),
        idempotency_scope: actor.user_id.clone(),
        idempotency_key: key.to_owned(),
        request_digest: format!("digest-of-{key}"),
        payload: match &projection {
            Projection::NewDeclaration(row) => carrying(&row.document, Some(&row.number), None),
            _ => format!(r#"{{"action":"{action}","subject":"{subject}"}}"#),
        },
        expected_version: None,
        projection,
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}
