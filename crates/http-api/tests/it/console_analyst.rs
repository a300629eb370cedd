//! The risk analyst's pages through HTTP as a browser sees them: the rule editor's errors in
//! place in both languages, a test against history, four-eyes approval (the proposer refused, a
//! second analyst approving), the watch list, the models, and the trade shown the not-found page
//! on every one of them.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

use crate::browser::Visitor;
use crate::helpers::{TestApp, example, spawn_app};

const SMARTPHONES_FROM_US: &str =
    "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"";

async fn with_passwords(app: &TestApp) {
    let users = [
        "risk_analyst",
        "other_risk_analyst",
        "officer",
        "broker",
        "declarant",
        "auditor",
    ];
    crate::browser::with_passwords(app, &users).await;
}

/// The editor's fields of a right rule, with `expression`.
fn rule_form<'a>(expression: &'a str, intent: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("intent", intent),
        ("id", ""),
        ("purpose", "revenue"),
        ("action", "physical_inspection"),
        ("expected_selection_rate", "1"),
        ("priority", "200"),
        ("reason_en", "US smartphones: undervaluation seen in 2026"),
        ("reason_zh", "美国产手机：2026年发现低报价格"),
        ("expression", expression),
        ("offices", ""),
        ("procedures", ""),
        ("direction", ""),
        ("valid_from", ""),
        ("valid_to", ""),
        ("sample", "200"),
    ]
}

fn with<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    for field in &mut form {
        if field.0 == name {
            field.1 = value;
        }
    }
    form
}

#[tokio::test]
async fn the_editor_shows_the_parsers_errors_in_place_in_both_languages_with_the_catalogue() {
    let app = spawn_app().await;
    with_passwords(&app).await;
    let mut english = Visitor::signed_in(&app, "risk_analyst", "en").await;

    let editor = english.get("/console/rules/editor").await;
    assert_eq!(editor.status, StatusCode::OK, "{}", editor.body);
    assert!(
        editor
            .body
            .contains(r#"href="/console/rules">Analysis</a>"#)
    );
    // Checked as one types: htmx posts the form, which carries its CSRF token.
    assert!(editor.body.contains(r#"hx-post="/console/rules/check""#));
    assert!(
        editor
            .body
            .contains(&format!(r#"name="csrf" value="{}""#, english.csrf()))
    );
    assert!(!editor.body.contains("style="), "no inline style");
    // The catalogue is the checker's own: every name, with its type and description.
    for field in risk::catalogue::FIELDS {
        assert!(
            editor
                .body
                .contains(&format!("<code>{}</code>", field.path())),
            "{} is not listed",
            field.path()
        );
        if !field.en.contains(['"', '&', '<', '>', '\'']) {
            assert!(editor.body.contains(field.en), "{}", field.en);
        }
    }
    for function in risk::catalogue::FUNCTIONS
        .iter()
        .chain(risk::catalogue::MACROS)
    {
        assert!(
            editor
                .body
                .contains(&format!("<code>{}</code>", function.name))
        );
    }

    // As one types: the problem with its line and column, in English.
    let wrong = rule_form(
        "item.origin_country == \"US\" &&\n  item.colour == \"red\"",
        "",
    );
    let check = english.submit("/console/rules/check", &wrong).await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    assert!(
        check.body.contains("has no field `colour`"),
        "{}",
        check.body
    );
    assert!(check.body.contains("at 2:8"), "{}", check.body);
    let fine = english
        .submit("/console/rules/check", &rule_form(SMARTPHONES_FROM_US, ""))
        .await;
    assert!(fine.body.contains("No problems found"), "{}", fine.body);

    // The same in Chinese.
    let mut chinese = Visitor::signed_in(&app, "other_risk_analyst", "zh").await;
    let check = chinese.submit("/console/rules/check", &wrong).await;
    assert!(check.body.contains("没有字段 `colour`"), "{}", check.body);
    assert!(check.body.contains("第 2 行第 8 列"), "{}", check.body);

    // Sent: each error beside its field, and a summary linking to each.
    let sent = english
        .submit(
            "/console/rules/editor",
            &with(with(wrong.clone(), "intent", "propose"), "priority", "300"),
        )
        .await;
    assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        sent.body.contains(r##"<a href="#priority">priority"##),
        "{}",
        sent.body
    );
    let sent = english
        .submit(
            "/console/rules/editor",
            &with(wrong.clone(), "intent", "propose"),
        )
        .await;
    assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        sent.body
            .contains(r##"<a href="#expression">expression: "##),
        "{}",
        sent.body
    );
    assert!(sent.body.contains(r#"id="expression-error-1""#));
    assert!(
        sent.body
            .contains(r#"aria-describedby="expression-error-1""#)
    );
    assert!(sent.body.contains("item.colour"), "what was typed is kept");
    let scoped = english
        .submit(
            "/console/rules/editor",
            &with(
                with(
                    rule_form(SMARTPHONES_FROM_US, "propose"),
                    "offices",
                    "2200, 22-00",
                ),
                "valid_from",
                "2026-13-01",
            ),
        )
        .await;
    assert!(
        scoped.body.contains(r##"<a href="#scope-valid_from">"##),
        "{}",
        scoped.body
    );
    let zh = chinese
        .submit("/console/rules/editor", &with(wrong, "intent", "propose"))
        .await;
    assert!(zh.body.contains("第 2 行第 8 列"), "{}", zh.body);
    assert!(
        app.clearance
            .rules(
                &app.clearance
                    .authenticate(app.token("risk_analyst"))
                    .await
                    .unwrap(),
                None
            )
            .await
            .unwrap()
            .is_empty(),
        "nothing refused was kept"
    );
}

#[tokio::test]
async fn the_rule_text_and_the_test_sample_are_refused_just_past_their_limits() {
    let app = spawn_app().await;
    with_passwords(&app).await;
    let mut analyst = Visitor::signed_in(&app, "risk_analyst", "en").await;
    let longest = format!(
        "{}{}",
        " ".repeat(risk::EXPRESSION_LENGTH_MAX - SMARTPHONES_FROM_US.len()),
        SMARTPHONES_FROM_US
    );
    assert_eq!(longest.len(), risk::EXPRESSION_LENGTH_MAX);
    let at = analyst
        .submit("/console/rules/check", &rule_form(&longest, ""))
        .await;
    assert!(at.body.contains("No problems found"), "{}", at.body);
    let beyond = format!(" {longest}");
    let past = analyst
        .submit("/console/rules/check", &rule_form(&beyond, ""))
        .await;
    assert!(
        past.body
            .contains(&format!("at most {}", risk::EXPRESSION_LENGTH_MAX)),
        "{}",
        past.body
    );

    let most = clearance::targeting::RULE_TEST_SAMPLE_MAX.to_string();
    let too_many = (clearance::targeting::RULE_TEST_SAMPLE_MAX + 1).to_string();
    let tested = analyst
        .submit(
            "/console/rules/editor",
            &with(rule_form(SMARTPHONES_FROM_US, "test"), "sample", &most),
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    let refused = analyst
        .submit(
            "/console/rules/editor",
            &with(rule_form(SMARTPHONES_FROM_US, "test"), "sample", &too_many),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(r##"<a href="#sample">sample"##),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn a_rule_tested_against_history_is_approved_by_a_second_analyst_never_its_proposer() {
    let app = spawn_app().await;
    with_passwords(&app).await;
    let lodged = app.lodge("broker", &example()).await;
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    let number = lodged.body["number"].as_str().unwrap().to_owned();
    let mut wang = Visitor::signed_in(&app, "risk_analyst", "en").await;

    // Tested on history: the hit, with its rate and a link to its page.
    let tested = wang
        .submit(
            "/console/rules/editor",
            &rule_form(SMARTPHONES_FROM_US, "test"),
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    assert!(
        tested.body.contains(r#"<dd id="report-tested">1</dd>"#),
        "{}",
        tested.body
    );
    assert!(tested.body.contains(r#"<dd id="report-matched">1</dd>"#));
    assert!(tested.body.contains(r#"<dd id="report-rate">100.0 %</dd>"#));
    assert!(
        tested
            .body
            .contains(&format!(r#"<a href="/console/declarations/{number}">"#))
    );
    let missed = wang
        .submit(
            "/console/rules/editor",
            &rule_form("item.origin_country == \"FR\"", "test"),
        )
        .await;
    assert!(
        missed.body.contains(r#"<dd id="report-matched">0</dd>"#),
        "{}",
        missed.body
    );

    // Proposed: not in force until another analyst approves it.
    let proposed = wang
        .submit(
            "/console/rules/editor",
            &rule_form(SMARTPHONES_FROM_US, "propose"),
        )
        .await;
    assert_eq!(proposed.status, StatusCode::SEE_OTHER, "{}", proposed.body);
    let to = proposed.headers[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(to, "/console/rules?done=proposed&rule=R-000001&version=1");
    let listed = wang.get(&to).await;
    assert!(
        listed.body.contains("Proposed R-000001 v1"),
        "{}",
        listed.body
    );
    assert!(listed.body.contains("You proposed this version"));

    // The proposer cannot approve it, and the page says why.
    let approval = "/console/rules/R-000001/versions/1/approval";
    let own = wang.submit(approval, &[]).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert!(
        own.body.contains("cannot approve it (four eyes)"),
        "{}",
        own.body
    );
    let mut zhao = Visitor::signed_in(&app, "other_risk_analyst", "zh").await;
    // Without the form's token, nothing is done.
    let forged = zhao.post(approval, &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let rules = zhao.get("/console/rules").await;
    assert!(rules.body.contains("待审批"), "{}", rules.body);
    // Another analyst approves it.
    let approved = zhao.submit(approval, &[]).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let rules = zhao.get("/console/rules?lang=en").await;
    assert!(
        rules
            .body
            .contains("R-000001 v1 · <span class=\"status status-active\">active"),
        "{}",
        rules.body
    );
    assert!(
        rules.body.contains("<dd>other_risk_analyst</dd>"),
        "the approver by name, not by id: {}",
        rules.body
    );

    // In force: a lodging is selected by it, which the performance page counts.
    let selected = app.lodge("broker", &example()).await;
    assert_eq!(selected.status, StatusCode::CREATED, "{}", selected.text);
    let performance = zhao.get("/console/rules/performance").await;
    assert_eq!(performance.status, StatusCode::OK);
    assert!(
        performance
            .body
            .contains(r#"<th scope="row">R-000001</th>"#),
        "{}",
        performance.body
    );
    assert!(
        performance.body.contains("<td>1</td>"),
        "{}",
        performance.body
    );

    // Retired with a reason (none: the page says so).
    let retirement = "/console/rules/R-000001/versions/1/retirement";
    let no_reason = wang.submit(retirement, &[("reason", "")]).await;
    assert_eq!(
        no_reason.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_reason.body
    );
    assert!(no_reason.body.contains("reason"), "{}", no_reason.body);
    let retired = wang
        .submit(retirement, &[("reason", "measure ended")])
        .await;
    assert_eq!(retired.status, StatusCode::SEE_OTHER, "{}", retired.body);
    let rules = wang.get("/console/rules").await;
    assert!(rules.body.contains("status-retired"), "{}", rules.body);

    // An officer reads the rules, without the analyst's forms.
    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    let read = officer.get("/console/rules").await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body.contains("R-000001"));
    assert!(!read.body.contains("/approval"), "{}", read.body);
    assert!(
        !read.body.contains(r#">Analysis</a>"#),
        "the link is the analyst's"
    );
}

#[tokio::test]
async fn trade_users_get_the_not_found_page_on_every_analyst_page() {
    let app = spawn_app().await;
    with_passwords(&app).await;
    for user in ["broker", "declarant"] {
        let mut trade = Visitor::signed_in(&app, user, "en").await;
        for path in [
            "/console/rules",
            "/console/rules/editor",
            "/console/rules/performance",
            "/console/watch-list",
            "/console/models",
            "/console/models/M-0001/drift",
        ] {
            let page = trade.get(path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{user} {path}");
            assert!(!page.body.contains("R-0"), "{user} {path}");
        }
        for path in [
            "/console/rules/check",
            "/console/rules/editor",
            "/console/rules/R-000001/versions/1/approval",
            "/console/rules/R-000001/versions/1/retirement",
            "/console/watch-list",
            "/console/watch-list/W-000001/approval",
            "/console/watch-list/W-000001/removal",
            "/console/models/rollback",
            "/console/models/M-0001/promotion",
        ] {
            let page = trade
                .submit(path, &rule_form(SMARTPHONES_FROM_US, "propose"))
                .await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{user} {path}");
        }
        let home = trade.get("/console/declarations").await;
        assert!(
            !home.body.contains("/console/rules"),
            "no link for the trade"
        );
    }
}

#[tokio::test]
async fn a_watch_list_entry_is_proposed_with_its_errors_in_place_and_approved_by_another() {
    let app = spawn_app().await;
    with_passwords(&app).await;
    let mut wang = Visitor::signed_in(&app, "risk_analyst", "en").await;
    let page = wang.get("/console/watch-list").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("The watch list is empty"));

    let refused = wang.submit("/console/watch-list", &entry("")).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(r##"<a href="#value">value"##),
        "{}",
        refused.body
    );
    let longest = "P".repeat(clearance::watch_list::WATCH_VALUE_LENGTH_MAX);
    let too_long = "P".repeat(clearance::watch_list::WATCH_VALUE_LENGTH_MAX + 1);
    let past = wang.submit("/console/watch-list", &entry(&too_long)).await;
    assert_eq!(
        past.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        past.body
    );
    let added = wang.submit("/console/watch-list", &entry(&longest)).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let listed = wang.get(added.headers[LOCATION].to_str().unwrap()).await;
    assert!(
        listed.body.contains("proposed, awaiting approval"),
        "{}",
        listed.body
    );
    assert!(listed.body.contains("You asked for this change"));

    let own = wang
        .submit("/console/watch-list/W-000001/approval", &[])
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    let mut zhao = Visitor::signed_in(&app, "other_risk_analyst", "en").await;
    let approved = zhao
        .submit("/console/watch-list/W-000001/approval", &[])
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let listed = zhao.get("/console/watch-list").await;
    assert!(listed.body.contains("<td>in force</td>"), "{}", listed.body);

    let removal = zhao
        .submit(
            "/console/watch-list/W-000001/removal",
            &[("reason", "ended")],
        )
        .await;
    assert_eq!(removal.status, StatusCode::SEE_OTHER, "{}", removal.body);
    let listed = wang.get("/console/watch-list").await;
    assert!(
        listed.body.contains("removal awaiting approval"),
        "{}",
        listed.body
    );
    let gone = wang
        .submit("/console/watch-list/W-000009/approval", &[])
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

/// A watch-list entry's fields, naming the overseas party `value`.
fn entry(value: &str) -> Vec<(&str, &str)> {
    vec![
        ("kind", "seller"),
        ("value", value),
        ("reason_en", "undervaluation seen"),
        ("reason_zh", "发现低报价格"),
        ("action", "physical_inspection"),
        ("valid_from", ""),
        ("valid_to", ""),
    ]
}

fn history() -> Vec<u8> {
    let mut text = String::from(
        "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,\
Payment Type,Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,\
Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,\
Item Price,Fraud,Critical Fraud\n",
    );
    for i in 0..40 {
        text.push_str(&format!(
            "{i},2026-02-{:02},2200,B,11,21,11,2,D1,I{},S2,,851713,US,US,0.0,A,N,336.0,{}.00,{},0\n",
            1 + i % 28,
            i % 3,
            7000 + i * 100,
            u32::from(i % 5 == 0)
        ));
    }
    text.into_bytes()
}

#[tokio::test]
async fn a_model_is_promoted_by_another_analyst_rolled_back_and_its_drift_drawn() {
    let app = spawn_app().await;
    with_passwords(&app).await;
    let imported = app
        .post_file(
            "/v1/history?format=kcs&label=2026",
            "risk_analyst",
            Some("text/csv"),
            history(),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    let trained = app
        .post(
            "/v1/models/training",
            "risk_analyst",
            None,
            &json!({"label": "first", "until": "2026-12-31"}),
        )
        .await;
    assert_eq!(trained.status, StatusCode::CREATED, "{}", trained.text);
    app.lodge("broker", &example()).await;

    let mut wang = Visitor::signed_in(&app, "risk_analyst", "en").await;
    let models = wang.get("/console/models").await;
    assert_eq!(models.status, StatusCode::OK);
    assert!(
        models.body.contains(r#"<th scope="row">M-0001</th>"#),
        "{}",
        models.body
    );
    assert!(models.body.contains("<td>shadow</td>"));
    assert!(models.body.contains("You registered this model"));
    let own = wang.submit("/console/models/M-0001/promotion", &[]).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert!(own.body.contains("four eyes"));

    let mut zhao = Visitor::signed_in(&app, "other_risk_analyst", "en").await;
    let promoted = zhao.submit("/console/models/M-0001/promotion", &[]).await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.body);
    let models = zhao.get("/console/models").await;
    assert!(models.body.contains("<td>active</td>"), "{}", models.body);

    // The drift: a chart with its title, and the same numbers in a table.
    let drift = zhao.get("/console/models/M-0001/drift").await;
    assert_eq!(drift.status, StatusCode::OK, "{}", drift.body);
    assert!(
        drift
            .body
            .contains(r#"<svg xmlns="http://www.w3.org/2000/svg" role="img""#)
    );
    assert!(drift.body.contains(r#"<title id="drift-chart-title">"#));
    assert!(drift.body.contains("<rect x=\"240\""));
    assert!(
        drift.body.contains(r#"<th scope="row">model score</th>"#),
        "{}",
        drift.body
    );
    assert!(!drift.body.contains("style="));
    assert_eq!(
        zhao.get("/console/models/M-0009/drift").await.status,
        StatusCode::NOT_FOUND
    );

    let no_reason = zhao
        .submit("/console/models/rollback", &[("reason", "")])
        .await;
    assert_eq!(
        no_reason.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_reason.body
    );
    let rolled = zhao
        .submit("/console/models/rollback", &[("reason", "drift")])
        .await;
    assert_eq!(rolled.status, StatusCode::SEE_OTHER, "{}", rolled.body);
    let models = zhao.get("/console/models").await;
    assert!(!models.body.contains("<td>active</td>"), "{}", models.body);
}
