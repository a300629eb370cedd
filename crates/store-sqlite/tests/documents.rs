//! A declaration's document is stored once, in the event that carries it: the `declarations` row
//! points at that event, and reads give back exactly the text the writer embedded in the payload.

use std::path::Path;

use audit::AuditSigner;
use store::{
    Actor, Append, AppendOutcome, DeclarationQuery, DeclarationRow, DeclarationUpdate, Projection,
    Store, StoreError,
};
use store_sqlite::{SqliteOptions, SqliteStore};

fn open(path: &Path) -> SqliteStore {
    let signer = AuditSigner::from_secret_bytes(&[5; 32]);
    SqliteStore::open(path, signer, SqliteOptions::production()).expect("the store opens")
}

/// Documents in the shapes `serde_json::to_string` writes (minified; `"`, `\`, `\n`, `\r`, `\t`,
/// `\b`, `\f` escaped by letter and other control characters as `\u00XX`; everything else,
/// Chinese, emoji, `/`, DEL and U+2028 included, raw UTF-8; floats in shortest round-trip form).
fn documents() -> Vec<String> {
    let rich = concat!(
        r#"{"id":"D-1","consignee":{"name":"上海港湾贸易有限公司","#,
        r#""marks":"箱唛 \"N/M\" \\ 第1/2箱\n\r\t\b\f\u0001\u001f","#,
        "\"raw\":\"\u{7f} \u{2028} \u{2029} é ß 𠀀 💻\"},",
        r#""items":[{"hs":"8471300000","description":"便携式计算机（笔记本）","value":"8000.00","#,
        r#""packages":[["CT",2],["PK",1,[true,null,false]]],"nested":[[[[[]]]],[{}]],"tags":[]}],"#,
        r#""numbers":[0,-1,12.5,-0.0,0.1,1e20,1e300,1.5e-7,-2.2250738585072014e-308,"#,
        r#"18446744073709551615,-9223372036854775808],"#,
        r#""名称":"值","a\"b\\c":"","notes":{}}"#,
    );
    vec![
        rich.to_owned(),
        r#"{}"#.to_owned(),
        r#"{"id":"D-3","items":[]}"#.to_owned(),
        format!(r#"{{"id":"D-4","remarks":"{}"}}"#, "长文本".repeat(2_000)),
    ]
}

fn actor() -> Actor {
    Actor {
        user_id: "usr-clerk".to_owned(),
        role: "declarant".to_owned(),
    }
}

fn row(n: usize, document: &str) -> DeclarationRow {
    DeclarationRow {
        id: format!("D-{n}"),
        number: format!("220120251000{n:06}"),
        direction: "import".to_owned(),
        kind: "full".to_owned(),
        status: "accepted".to_owned(),
        office_of_lodging: "2201".to_owned(),
        trader_credit_code: "91310000MA1TRADER1".to_owned(),
        declarant_credit_code: "91310000MA1BROKER1".to_owned(),
        summary_number: None,
        completed_by: None,
        lodged_at_ms: 1_735_689_600_000 + n as i64,
        updated_at_ms: 1_735_689_600_000 + n as i64,
        version: 1,
        document: document.to_owned(),
    }
}

fn event(
    key: &str,
    subject: &str,
    action: &str,
    payload: String,
    projection: Projection,
) -> Append {
    Append {
        actor: actor(),
        recorded_at_ms: 1_735_689_700_000,
        subject: subject.to_owned(),
        action: action.to_owned(),
        idempotency_scope: "usr-clerk".to_owned(),
        idempotency_key: key.to_owned(),
        request_digest: format!("digest-{key}"),
        payload,
        expected_version: None,
        projection,
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}

/// A lodging as clearance makes one: the payload embeds the document as `wire` does.
fn lodging(row: &DeclarationRow) -> Append {
    let payload = format!(
        r#"{{"number":"{}","declaration":{}}}"#,
        row.number, row.document
    );
    let projection = Projection::NewDeclaration(row.clone());
    event(
        &format!("lodge-{}", row.id),
        &row.id,
        "declaration.accepted",
        payload,
        projection,
    )
}

fn update(row: &DeclarationRow, version: u32, status: &str, replaces: bool) -> DeclarationUpdate {
    DeclarationUpdate {
        id: row.id.clone(),
        status: status.to_owned(),
        version,
        updated_at_ms: row.updated_at_ms + i64::from(version),
        completed_by: None,
        replaces_document: replaces,
    }
}

async fn appended(store: &SqliteStore, append: Append) -> u64 {
    let what = format!("{} of {}", append.action, append.subject);
    match store.append(append).await {
        Ok(AppendOutcome::Appended { seq }) => seq,
        other => panic!("{what} should be appended, got {other:?}"),
    }
}

/// `(document_seq, the declarations table's columns)` as stored in the file.
fn stored(path: &Path, id: &str) -> (u64, Vec<String>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let seq = conn
        .query_row(
            "SELECT document_seq FROM declarations WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .unwrap();
    let columns = conn
        .prepare("SELECT name FROM pragma_table_info('declarations')")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (seq, columns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn documents_read_back_byte_for_byte_from_their_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path);
    let rows: Vec<_> = documents()
        .iter()
        .enumerate()
        .map(|(n, document)| row(n + 1, document))
        .collect();
    for row in &rows {
        let seq = appended(&store, lodging(row)).await;
        let (document_seq, columns) = stored(&path, &row.id);
        assert_eq!(document_seq, seq, "the row points at its lodging event");
        assert!(
            !columns.iter().any(|c| c == "document"),
            "no second copy: {columns:?}"
        );
    }
    for row in &rows {
        let by_id = store.declaration(&row.id).await.unwrap().unwrap();
        assert_eq!(by_id.document, row.document, "{} byte for byte", row.id);
        assert_eq!(&by_id, row);
        let by_number = store.declaration_by_number(&row.number).await.unwrap();
        assert_eq!(by_number.as_ref(), Some(row));
    }
    let listed = store
        .list_declarations(&DeclarationQuery {
            status: Some("accepted".to_owned()),
            limit: 10,
            ..DeclarationQuery::default()
        })
        .await
        .unwrap();
    let listed: Vec<_> = listed.into_iter().map(|l| l.row).rev().collect();
    assert_eq!(listed, rows, "listing reads the same documents");
}

/// An amendment moves the document to its own event; a status change leaves it where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_an_amendment_replaces_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path);
    let lodged = row(1, r#"{"id":"D-1","value":"8000.00","名称":"原件"}"#);
    let lodging_seq = appended(&store, lodging(&lodged)).await;

    let released = update(&lodged, 2, "released", false);
    let payload = r#"{"note":"放行 \"ok\""}"#.to_owned();
    let projection = Projection::UpdateDeclaration(released);
    appended(
        &store,
        event(
            "release",
            "D-1",
            "declaration.released",
            payload,
            projection,
        ),
    )
    .await;
    let read = store.declaration("D-1").await.unwrap().unwrap();
    assert_eq!((read.status.as_str(), read.version), ("released", 2));
    assert_eq!(
        read.document, lodged.document,
        "a status change keeps the document"
    );
    assert_eq!(stored(&path, "D-1").0, lodging_seq);

    let amended_document =
        r#"{"id":"D-1","value":"8800.00","名称":"修改 \"二\"","items":[[1,2],[]]}"#;
    let payload = format!(r#"{{"declaration":{amended_document},"reason":"更正 \"价格\""}}"#);
    let projection = Projection::UpdateDeclaration(update(&lodged, 3, "released", true));
    let amendment_seq = appended(
        &store,
        event("amend", "D-1", "declaration.amended", payload, projection),
    )
    .await;
    let read = store.declaration("D-1").await.unwrap().unwrap();
    assert_eq!(read.document, amended_document);
    assert_eq!(read.version, 3);
    assert_eq!(stored(&path, "D-1").0, amendment_seq);

    // Reopened, the pointer and the event still agree.
    store.close().await;
    drop(store);
    let store = open(&path);
    let read = store.declaration("D-1").await.unwrap().unwrap();
    assert_eq!(read.document, amended_document);
}

/// A declaration whose carrying event is gone (a damaged file) is an error, not a missing row.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declaration_without_its_event_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path);
    let lodged = row(1, r#"{"id":"D-1"}"#);
    let seq = appended(&store, lodging(&lodged)).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM events WHERE seq = ?1", [seq])
        .expect("no foreign key refuses the edit: the audit chain is what detects it");
    let read = store.declaration("D-1").await;
    let message = format!("{:#}", read.expect_err("the document is missing"));
    assert!(message.contains("D-1 has no document"), "{message}");
}

/// Debug builds check that the event carries what the projection relies on; a breach is refused
/// and writes nothing (release builds skip the extra parse on the writer).
#[cfg(debug_assertions)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debug_builds_refuse_an_event_that_does_not_carry_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("customs.db"));
    let lodged = row(1, r#"{"id":"D-1"}"#);

    let mut without = lodging(&lodged);
    without.payload = r#"{"number":"N-1"}"#.to_owned();
    let mut other = lodging(&lodged);
    other.payload = r#"{"number":"N-1","declaration":{"id":"D-2"}}"#.to_owned();
    let mut reformatted = lodging(&lodged);
    reformatted.payload = r#"{"number":"N-1", "declaration": { "id": "D-1" }}"#.to_owned();
    let mut not_json = lodging(&lodged);
    not_json.payload = "declaration".to_owned();
    for (what, append) in [
        ("no declaration", without),
        ("another declaration", other),
        ("not json", not_json),
    ] {
        let refused = store.append(append).await;
        assert!(
            matches!(refused, Err(StoreError::Other(_))),
            "{what}: {refused:?}"
        );
    }
    assert_eq!(store.declaration("D-1").await.unwrap(), None);
    assert!(
        store.events("D-1").await.unwrap().is_empty(),
        "nothing written"
    );

    // Whitespace in the payload is fine: the member itself comes back minified, as given.
    assert_eq!(appended(&store, reformatted).await, 1);
    let amend = Projection::UpdateDeclaration(update(&lodged, 2, "accepted", true));
    let payload = r#"{"reason":"no document"}"#.to_owned();
    let refused = store
        .append(event("amend", "D-1", "declaration.amended", payload, amend))
        .await;
    assert!(matches!(refused, Err(StoreError::Other(_))), "{refused:?}");
    let read = store.declaration("D-1").await.unwrap().unwrap();
    assert_eq!(
        (read.version, read.document.as_str()),
        (1, r#"{"id":"D-1"}"#)
    );
}
