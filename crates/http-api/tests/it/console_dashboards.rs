//! The supervisors' dashboards through HTTP: customs roles only, figures checked against a store
//! holding known declarations, every chart's CSV equal to its table, and the window bounded.

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;

use crate::console_admin::{NOW, Visitor, with_passwords};
use crate::helpers::{example, spawn_app_at};

const CHARTS: [&str; 7] = [
    "lodged",
    "lanes",
    "release-times",
    "revenue",
    "tasks",
    "rules",
    "continuity",
];

/// HTML text back to what it says (askama escapes `<`, `>`, `&`, quotes).
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The cells between `open` and `close` tags, in order.
fn cells(html: &str, open: &str, close: &str) -> Vec<String> {
    html.split(open)
        .skip(1)
        .map(|part| unescape(part.split(close).next().unwrap()))
        .collect()
}

/// A chart's table: its header row, then its rows.
fn table(page: &str, chart: &str) -> Vec<Vec<String>> {
    let start = page
        .find(&format!(r#"<table id="table-{chart}">"#))
        .unwrap_or_else(|| panic!("the table of {chart}"));
    let html = &page[start..];
    let html = &html[..html.find("</table>").unwrap()];
    let (head, body) = html.split_once("<tbody>").unwrap();
    let mut rows = vec![cells(head, r#"<th scope="col">"#, "</th>")];
    for row in body.split("<tr>").skip(1) {
        rows.push(cells(row, "<td>", "</td>"));
    }
    rows
}

/// RFC 4180 rows (quoted fields, doubled quotes, CRLF).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        rows.push(fields);
    }
    rows
}

#[tokio::test]
async fn customs_roles_see_the_dashboards_and_the_trade_gets_not_found() {
    let app = spawn_app_at(NOW).await;
    let customs = ["officer", "risk_analyst", "auditor", "admin"];
    let trade = ["broker", "declarant"];
    with_passwords(&app, &customs).await;
    with_passwords(&app, &trade).await;
    for user in customs {
        let mut visitor = Visitor::new(&app);
        visitor.sign_in_in_english(user).await;
        let page = visitor.get("/console/dashboards").await;
        assert_eq!(page.status, StatusCode::OK, "{user}");
        assert!(
            page.body
                .contains(r#"<a href="/console/dashboards">Dashboards</a>"#)
        );
        let csv = visitor.get("/console/dashboards/lanes.csv").await;
        assert_eq!(csv.status, StatusCode::OK, "{user}");
    }
    for user in trade {
        let mut visitor = Visitor::new(&app);
        visitor.sign_in_in_english(user).await;
        let list = visitor.get("/console/declarations").await;
        assert!(
            !list.body.contains("/console/dashboards"),
            "{user}: no link"
        );
        for path in [
            "/console/dashboards",
            "/console/dashboards?window=7d",
            "/console/dashboards/lanes.csv",
            "/console/dashboards/revenue.csv?window=30d",
        ] {
            let page = visitor.get(path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{user} {path}");
            assert!(page.body.contains("Page not found"));
        }
    }
    let mut anonymous = Visitor::new(&app);
    let page = anonymous.get("/console/dashboards/lanes.csv").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "sign in first");
}

#[tokio::test]
async fn the_figures_are_those_of_known_declarations_and_each_csv_equals_its_table() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    // A rule asks for a document check of Korean goods; the check finds a discrepancy.
    let rule = json!({
        "purpose": "revenue", "action": "document_check", "expected_selection_rate": "1",
        "priority": 10, "reason_en": "Korean goods", "reason_zh": "韩国货物",
        "expression": "item.origin_country == \"KR\"",
    });
    let proposed = app.post("/v1/rules", "risk_analyst", None, &rule).await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{}", proposed.text);
    let rule_id = proposed.body["id"].as_str().unwrap().to_owned();
    let approval = format!("/v1/rules/{rule_id}/versions/1/approval");
    let approved = app
        .post(&approval, "other_risk_analyst", None, &json!({}))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.lodged_id("broker", &example()).await);
    }
    let mut korean = example();
    korean["items"][0]["origin_country"] = json!("KR");
    ids.push(app.lodged_id("broker", &korean).await);
    let queue = app.get("/v1/tasks?mine=true&status=open", "officer").await;
    let check = queue.body["tasks"][0]["id"].as_str().unwrap().to_owned();
    let finding = json!({ "discrepancy": true, "note": "invoice understates the value" });
    let closed = app
        .post(
            &format!("/v1/tasks/{check}/finding"),
            "officer",
            Some("f-1"),
            &finding,
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    let held = app
        .post(
            &format!("/v1/declarations/{}/hold", ids[0]),
            "officer",
            None,
            &json!({ "reason": "seal to be checked" }),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    let mut assessed = Decimal::ZERO;
    for id in &ids {
        let owed = app
            .get(&format!("/v1/declarations/{id}/payments"), "officer")
            .await;
        let payable: Decimal = owed.body["payable"].as_str().unwrap().parse().unwrap();
        assessed += payable;
    }
    assert!(assessed > Decimal::ZERO);

    with_passwords(&app, &["auditor"]).await;
    let mut auditor = Visitor::new(&app);
    auditor.sign_in_in_english("auditor").await;
    let page = auditor.get("/console/dashboards?window=24h").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(!body.contains("style="), "no inline style");
    assert!(!body.contains("<script>"), "no inline script");

    // 10:00 in Beijing: four declarations lodged in that hour, none in the others.
    let lodged = table(body, "lodged");
    assert_eq!(lodged[0], ["Hour starting", "Declarations"]);
    assert_eq!(lodged.len(), 1 + 24);
    let counted: Vec<&Vec<String>> = lodged[1..].iter().filter(|r| r[1] != "0").collect();
    assert_eq!(counted.len(), 1, "{lodged:?}");
    assert_eq!(
        counted[0],
        &vec!["2026-11-27 10:00".to_owned(), "4".to_owned()]
    );
    // No random selection: green but for the Korean goods, selected for a document check.
    let lanes = table(body, "lanes");
    assert_eq!(lanes[1], ["Green".to_owned(), "3".to_owned()], "{lanes:?}");
    assert_eq!(lanes.len(), 3, "{lanes:?}");
    assert_eq!(lanes[2][1], "1", "{lanes:?}");
    // The rule matched once, selected once, its one closed check found a discrepancy: 100 %.
    let rules = table(body, "rules");
    assert_eq!(
        rules[1],
        [&rule_id, "1", "1", "1", "1", "100.0"].map(str::to_owned),
        "{rules:?}"
    );
    // Revenue: exact, the sum of the payables the API shows.
    let revenue = table(body, "revenue");
    assert_eq!(revenue[1], ["Assessed".to_owned(), assessed.to_string()]);
    assert_eq!(revenue[2][1], "0.00", "no bank confirmed a payment");
    assert_eq!(revenue[3][1], "0.00", "no guarantee");
    // The hold is an open task of the office of lodging, not overdue.
    let office = example()["office_of_lodging"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    let tasks = table(body, "tasks");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    if !office.is_empty() {
        assert_eq!(tasks[1][0], office);
    }
    assert_eq!(tasks[1][1..], ["1".to_owned(), "0".to_owned()]);
    // Nothing was released yet.
    let releases = table(body, "release-times");
    assert!(releases[1..].iter().all(|r| r[1] == "0"), "{releases:?}");

    // Each chart: an SVG with a title, a table, and a CSV with the very same numbers.
    // Nothing went through continuity here: that table is empty (the next test fills it).
    assert_eq!(table(body, "continuity").len(), 1);
    for chart in CHARTS {
        // Release times are all zero but drawn; every other chart here has figures.
        assert!(
            chart == "continuity" || body.contains(&format!(r#"<title id="chart-{chart}-title">"#)),
            "{chart}"
        );
        let link = format!(r#"href="/console/dashboards/{chart}.csv?window=24h""#);
        assert!(body.contains(&link), "{chart}");
        let csv = auditor
            .get(&format!("/console/dashboards/{chart}.csv?window=24h"))
            .await;
        assert_eq!(csv.status, StatusCode::OK, "{chart}");
        assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(
            csv.headers["content-disposition"],
            format!("attachment; filename=\"dashboard-{chart}-24h.csv\"").as_str()
        );
        assert_eq!(csv_rows(&csv.body), table(body, chart), "{chart}");
    }

    // A week: daily bars; the same declarations and revenue.
    let week = auditor.get("/console/dashboards?window=7d").await;
    let days = table(&week.body, "lodged");
    assert_eq!(days[0][0], "Day");
    assert_eq!(days.len(), 1 + 7);
    assert_eq!(days[7], ["2026-11-27".to_owned(), "4".to_owned()]);
    assert_eq!(table(&week.body, "revenue")[1][1], assessed.to_string());
    // Chinese.
    let chinese = auditor.get("/console/dashboards?window=7d&lang=zh").await;
    assert!(chinese.body.contains("统计看板"));
    assert!(chinese.body.contains("每日申报数"));
}

#[tokio::test]
async fn the_window_is_one_of_those_offered_up_to_thirty_days() {
    let app = spawn_app_at(NOW).await;
    with_passwords(&app, &["officer"]).await;
    let mut officer = Visitor::new(&app);
    officer.sign_in_in_english("officer").await;
    let month = officer.get("/console/dashboards?window=30d").await;
    assert_eq!(month.status, StatusCode::OK);
    assert_eq!(table(&month.body, "lodged").len(), 1 + 30);
    assert!(
        month
            .body
            .contains(r#"href="/console/dashboards?window=30d" aria-current="page""#)
    );
    for refused in ["31d", "90d", "all"] {
        let page = officer
            .get(&format!("/console/dashboards?window={refused}"))
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert!(page.body.contains("error-summary"));
        assert!(page.body.contains("at most 30 days"), "{}", page.body);
        let csv = officer
            .get(&format!("/console/dashboards/lanes.csv?window={refused}"))
            .await;
        assert_eq!(csv.status, StatusCode::NOT_FOUND, "{refused}");
    }
    let unknown = officer.get("/console/dashboards/secrets.csv").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let no_suffix = officer.get("/console/dashboards/lanes").await;
    assert_eq!(no_suffix.status, StatusCode::NOT_FOUND);
}

/// Declarations received in continuity (lodged from an instance's queue, the outcome recorded
/// under the provisional reference): officers list them with `continuity=true` and see their
/// count per office on the dashboards; the trade lists only its own that way and sees on its
/// acceptance receipt that it went through continuity; a bad value is refused, naming the
/// parameter in English and Chinese.
#[tokio::test]
async fn declarations_received_in_continuity_are_listed_by_filter_and_counted_per_office() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    let direct = app.lodged_id("broker", &example()).await;
    let mut through = Vec::new();
    for (user, seq) in [("broker", 1), ("broker", 2)] {
        let caller = app.clearance.authenticate(app.token(user)).await.unwrap();
        let receipt = clearance::continuity::ContinuityReceipt {
            provisional_reference: format!("CP-0a1b2c3d-{seq:09}"),
            received_at: "2026-11-27T01:59:00.000Z".to_owned(),
            instance: "0a1b2c3d".to_owned(),
        };
        let key = format!("continuity-{seq}");
        let body = example().to_string();
        let view = app
            .clearance
            .lodge_from_continuity(&caller, &key, body.as_bytes(), &receipt)
            .await
            .unwrap();
        app.clearance
            .record_continuity_reconciled(
                &receipt,
                caller.user_id(),
                &key,
                (&view.id, &view.number),
            )
            .await
            .unwrap();
        through.push((view.id.clone(), receipt.provisional_reference));
    }
    let ids = |body: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = body["declarations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![through[0].0.clone(), through[1].0.clone()];
    both.sort();
    // Customs roles: the two, not the direct one; without the filter, all three.
    for user in ["officer", "auditor", "supervisor"] {
        let listed = app.get("/v1/declarations?continuity=true", user).await;
        assert_eq!(listed.status, StatusCode::OK, "{user}: {}", listed.text);
        assert_eq!(ids(&listed.body), both, "{user}");
        let all = app.get("/v1/declarations?continuity=false", user).await;
        assert_eq!(ids(&all.body).len(), 3, "{user}");
        assert!(ids(&all.body).contains(&direct));
    }
    // The trade: its own only. The broker lodged one through continuity and one directly; the
    // declarant's trader is declared in all three (visible), the other declarant sees none.
    let broker = app.get("/v1/declarations?continuity=true", "broker").await;
    assert_eq!(broker.status, StatusCode::OK, "{}", broker.text);
    assert!(ids(&broker.body).contains(&through[0].0), "{}", broker.text);
    assert!(!ids(&broker.body).contains(&direct));
    let other = app
        .get("/v1/declarations?continuity=true", "other_declarant")
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
    assert!(ids(&other.body).is_empty(), "{}", other.text);
    // The trade's acceptance receipt says it went through continuity (reference and time only).
    let events = app
        .get(
            &format!("/v1/declarations/{}/events", through[0].0),
            "broker",
        )
        .await;
    let accepted = &events.body["receipts"][0];
    assert_eq!(accepted["receipt"], "accepted", "{}", events.text);
    assert_eq!(
        accepted["continuity"]["provisional_reference"],
        json!(through[0].1),
        "{}",
        events.text
    );
    assert!(accepted["continuity"].get("instance").is_none());
    let plain = app
        .get(&format!("/v1/declarations/{direct}/events"), "broker")
        .await;
    assert!(
        plain.body["receipts"][0].get("continuity").is_none(),
        "{}",
        plain.text
    );
    // A value that is not a boolean: refused with the parameter named.
    let bad = app.get("/v1/declarations?continuity=yes", "officer").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["errors"][0]["path"], "continuity", "{}", bad.text);
    assert!(bad.body["errors"][0]["message_zh"].is_string());

    // The dashboards: two received in continuity at the office of lodging.
    with_passwords(&app, &["auditor"]).await;
    let mut auditor = Visitor::new(&app);
    auditor.sign_in_in_english("auditor").await;
    let page = auditor.get("/console/dashboards?window=24h").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let office = example()["office_of_lodging"].as_str().unwrap().to_owned();
    assert!(page.body.contains(r#"<title id="chart-continuity-title">"#));
    let counted = table(&page.body, "continuity");
    assert_eq!(
        counted[1..],
        [vec![office.clone(), "2".to_owned()]],
        "{counted:?}"
    );
    let csv = auditor
        .get("/console/dashboards/continuity.csv?window=24h")
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains(&format!("{office},2")), "{}", csv.body);
}
