//! `customs rules ...` as two risk analysts run them: a rule added from a file, tested, refused to
//! its author's approval, approved by the other analyst, selecting the example's US smartphones
//! (seen in `customs show`), listed and retired. The binary selects 2 % at random as well, so
//! the test looks for the rule among the reasons rather than for a green lane before it.

use std::path::Path;

use crate::support::{customs, declarations_file, ok, seed_broker};

fn analyst_token(data: &Path, name: &str) -> String {
    ok(
        data,
        &["admin", "user", "--name", name, "--role", "risk_analyst"],
    );
    ok(data, &["admin", "token", "--user", name])
        .trim()
        .to_owned()
}

/// Lodges the last of `n` distinct declarations (earlier ones are already lodged: the CLI keys
/// each by its content) and returns its number.
fn lodged_number(data: &Path, dir: &Path, token: &str, n: usize) -> String {
    let file = declarations_file(dir, n);
    let out = ok(
        data,
        &["lodge", file.to_str().unwrap(), "--token", token, "--json"],
    );
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    last["number"]
        .as_str()
        .unwrap_or_else(|| panic!("no number in {out}"))
        .to_owned()
}

#[test]
fn two_analysts_add_approve_and_retire_a_rule_that_sends_smartphones_to_the_red_lane() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let wang = analyst_token(&data, "analyst-wang");
    let zhao = analyst_token(&data, "analyst-zhao");
    let before = lodged_number(&data, dir.path(), &broker, 1);

    let rule = dir.path().join("rule.json");
    let definition = serde_json::json!({
        "purpose": "revenue",
        "action": "physical_inspection",
        "expected_selection_rate": "1",
        "priority": 200,
        "reason_en": "US smartphones: undervaluation seen in 2026",
        "reason_zh": "美国产手机：2026年发现低报价格",
        "expression": "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"",
    });
    std::fs::write(&rule, definition.to_string()).unwrap();
    let rule = rule.to_str().unwrap();

    // A mistake in the expression is refused with its field and position.
    let broken = dir.path().join("broken.json");
    let mut wrong = definition.clone();
    wrong["expression"] = "item.origin == \"US\"".into();
    std::fs::write(&broken, wrong.to_string()).unwrap();
    let refused = customs(
        &data,
        &["rules", "add", broken.to_str().unwrap(), "--token", &wang],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("expression:") && stderr.contains(" at 1:"),
        "{stderr}"
    );

    let tested = ok(
        &data,
        &[
            "rules", "test", rule, "--sample", "10", "--token", &wang, "--json",
        ],
    );
    let tested: serde_json::Value = serde_json::from_str(&tested).unwrap();
    assert_eq!(tested["matched"], 1, "{tested:#}");
    assert_eq!(tested["hits"][0]["number"], before.as_str());

    let added = ok(&data, &["rules", "add", rule, "--token", &wang]);
    assert!(added.contains("R-000001 version 1: proposed"), "{added}");
    let own = customs(
        &data,
        &["rules", "approve", "R-000001", "1", "--token", &wang],
    );
    assert!(!own.status.success(), "the author may not approve");
    assert!(
        String::from_utf8_lossy(&own.stderr).contains("four eyes"),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    let approved = ok(
        &data,
        &["rules", "approve", "R-000001", "1", "--token", &zhao],
    );
    assert!(
        approved.contains("R-000001 version 1: active"),
        "{approved}"
    );
    let list = ok(
        &data,
        &[
            "rules", "list", "--status", "active", "--token", &zhao, "--json",
        ],
    );
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["id"], "R-000001", "{list:#}");
    let refused = customs(&data, &["rules", "list", "--token", &broker]);
    assert!(!refused.status.success(), "the trade never sees the rules");

    let number = lodged_number(&data, dir.path(), &broker, 2);
    let shown = ok(&data, &["show", &number]);
    assert!(shown.contains("lane / 查验通道: red"), "{shown}");
    assert!(shown.contains("rule R-000001 v1"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&data, &["show", &number, "--json"])).unwrap();
    assert_eq!(json["selection"]["lane"], "red");

    let retired = ok(
        &data,
        &[
            "rules",
            "retire",
            "R-000001",
            "1",
            "--reason",
            "measure ended",
            "--token",
            &zhao,
        ],
    );
    assert!(retired.contains("R-000001 version 1: retired"), "{retired}");
    let after = lodged_number(&data, dir.path(), &broker, 3);
    let shown = ok(&data, &["show", &after]);
    assert!(shown.contains("lane / 查验通道:"), "{shown}");
    assert!(!shown.contains("rule R-000001"), "{shown}");
    let list = ok(&data, &["rules", "list", "--token", &wang]);
    assert!(list.contains("retired"), "{list}");
    // Author and approver by name, not by id.
    let ids: serde_json::Value =
        serde_json::from_str(&ok(&data, &["rules", "list", "--token", &wang, "--json"])).unwrap();
    let author = ids[0]["author"].as_str().unwrap();
    assert!(!list.contains(author), "{list}");
    assert!(
        list.contains("┆ analyst-wang ") && list.contains("┆ analyst-zhao "),
        "{list}"
    );
}

/// `customs watch ...`: an analyst proposes the example's shipper for the watch list as a
/// consignor (on an import, the overseas party ships the goods) and a second analyst approves it
/// (four eyes; the proposer cannot); the next lodging is selected for it, and once a removal is
/// requested and approved by the other analyst the next one is not. A refused entry names its
/// field.
#[test]
fn an_analyst_watches_a_consignor_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let wang = analyst_token(&data, "analyst-wang");
    let zhao = analyst_token(&data, "analyst-zhao");

    let refused = customs(
        &data,
        &[
            "watch",
            "add",
            "--kind",
            "shipper",
            "--value",
            "X",
            "--action",
            "hold",
            "--reason-en",
            "r",
            "--reason-zh",
            "r",
            "--token",
            &wang,
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("kind"), "{stderr}");

    let added = ok(
        &data,
        &[
            "watch",
            "add",
            "--kind",
            "consignor",
            "--value",
            "pacific  electronics inc.",
            "--action",
            "document_check",
            "--reason-en",
            "shipper of misdeclared lots",
            "--reason-zh",
            "曾申报不实的发货人",
            "--token",
            &wang,
            "--json",
        ],
    );
    let entry: serde_json::Value = serde_json::from_str(&added).unwrap();
    let id = entry["id"].as_str().unwrap().to_owned();
    assert_eq!(entry["status"], "proposed");
    let own = customs(&data, &["watch", "approve", &id, "--token", &wang]);
    assert!(!own.status.success(), "the proposer approved its own entry");
    let approved = ok(&data, &["watch", "approve", &id, "--token", &zhao]);
    assert!(approved.contains("listed"), "{approved}");

    let number = lodged_number(&data, dir.path(), &broker, 1);
    let shown = ok(&data, &["show", &number, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let reasons = shown["selection"]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["source"]["kind"] == "watch_list" && r["source"]["entity"] == "consignor"),
        "{reasons:#?}"
    );

    let listed = ok(&data, &["watch", "list", "--token", &wang]);
    assert!(
        listed.contains(&id) && listed.contains("listed"),
        "{listed}"
    );
    let refused = customs(&data, &["watch", "list", "--token", &broker]);
    assert!(
        !refused.status.success(),
        "the trade never sees the watch list"
    );

    let removed = ok(
        &data,
        &[
            "watch", "remove", &id, "--reason", "cleared", "--token", &wang,
        ],
    );
    assert!(removed.contains("removal_requested"), "{removed}");
    let removed = ok(&data, &["watch", "approve", &id, "--token", &zhao]);
    assert!(removed.contains("removed"), "{removed}");
    let after = lodged_number(&data, dir.path(), &broker, 2);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&data, &["show", &after, "--json"])).unwrap();
    let reasons = shown["selection"]["reasons"].as_array().unwrap();
    assert!(
        !reasons.iter().any(|r| r["source"]["kind"] == "watch_list"),
        "{reasons:#?}"
    );
}

/// `customs rules reference` prints the binary's own catalogue without a data folder or a token:
/// as Markdown it is docs/rule-reference.md byte for byte, as JSON what the API serves.
#[test]
fn the_rule_reference_is_printed_without_a_folder_or_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("no-such-folder");
    let markdown = ok(&nowhere, &["rules", "reference", "--markdown"]);
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rule-reference.md"),
    )
    .unwrap();
    assert_eq!(markdown, committed);
    let json: serde_json::Value =
        serde_json::from_str(&ok(&nowhere, &["rules", "reference", "--json"])).unwrap();
    assert_eq!(
        json["fields"].as_array().unwrap().len(),
        risk::catalogue::FIELDS.len()
    );
    let tables = ok(&nowhere, &["rules", "reference"]);
    assert!(
        tables.contains("item.origin_country") && tables.contains("RULE_PROBLEMS_MAX"),
        "{tables}"
    );
    assert!(!nowhere.exists(), "no folder is made for the reference");
}

/// `customs rules backtest`: a rule run over the declarations of a period, read only, for risk
/// analysts; a period too long or a misspelt name is refused with every problem named.
#[test]
fn an_analyst_back_tests_a_rule_on_a_period_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let wang = analyst_token(&data, "analyst-wang");
    let number = lodged_number(&data, dir.path(), &broker, 1);
    let rule = dir.path().join("rule.json");
    let definition = serde_json::json!({
        "purpose": "revenue",
        "action": "physical_inspection",
        "expected_selection_rate": "1",
        "priority": 200,
        "reason_en": "US smartphones",
        "reason_zh": "美国产手机",
        "expression": "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"",
    });
    std::fs::write(&rule, definition.to_string()).unwrap();
    let rule = rule.to_str().unwrap();
    // The binary's clock is pinned at NOW: 27 November 2026 in Beijing.
    let (from, to) = ("2026-11-27".to_owned(), "2026-11-27".to_owned());
    let args = |extra: &[&str]| -> Vec<String> {
        ["rules", "backtest", rule, "--from", &from, "--to", &to]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        customs(&data, &args)
    };
    let json = run(args(&["--token", &wang, "--json"]));
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (&report["declarations"], &report["hits"], &report["checked"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(0)
        ),
        "{report:#}"
    );
    assert_eq!(report["hit_list"][0]["number"], number.as_str());
    let table = run(args(&["--token", &wang]));
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("1 hit(s) (hit rate 100.0 %)"), "{table}");
    assert!(table.contains(&number), "{table}");
    assert!(
        table.contains("precision (frauds found / checked hits) / 查获率: -"),
        "{table}"
    );

    let refused = run(args(&["--token", &broker]));
    assert!(!refused.status.success(), "the trade may not back-test");

    let long = customs(
        &data,
        &[
            "rules",
            "backtest",
            rule,
            "--from",
            "2025-01-01",
            "--to",
            "2026-12-31",
            "--token",
            &wang,
        ],
    );
    assert!(!long.status.success());
    let stderr = String::from_utf8_lossy(&long.stderr);
    assert!(stderr.contains("to") && stderr.contains("366"), "{stderr}");
}

/// `customs rules backtest --source history`: the rule over the imported labelled history (the
/// KCS slice of the model crate's test data) of a period. The figures were counted from the file
/// with awk: 2020-01-01 to 2020-01-03 hold 339 rows (one declaration each, all labelled), 70
/// found misdeclared; 162 have their goods from China, 36 of them misdeclared.
#[test]
fn an_analyst_back_tests_a_rule_on_the_labelled_history_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_broker(&data);
    let wang = analyst_token(&data, "analyst-wang");
    let history = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../model/test_data/kcs_train_600.csv"
    );
    let imported = customs(
        &data,
        &[
            "history", "import", history, "--format", "kcs", "--token", &wang,
        ],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let rule = dir.path().join("rule.json");
    let definition = |expression: &str| {
        serde_json::json!({
            "purpose": "revenue",
            "action": "document_check",
            "expected_selection_rate": "1",
            "priority": 100,
            "reason_en": "Goods from China",
            "reason_zh": "原产于中国的货物",
            "expression": expression,
        })
        .to_string()
    };
    std::fs::write(&rule, definition("item.origin_country == \"CN\"")).unwrap();
    let rule = rule.to_str().unwrap();
    let backtest = |extra: &[&str]| {
        let mut args = vec![
            "rules",
            "backtest",
            rule,
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-03",
            "--source",
            "history",
            "--token",
            &wang,
        ];
        args.extend_from_slice(extra);
        customs(&data, &args)
    };
    let json = backtest(&["--json"]);
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let figures: Vec<&serde_json::Value> = [
        "rows",
        "declarations",
        "hits",
        "checked",
        "frauds",
        "frauds_found",
    ]
    .iter()
    .map(|k| &report[*k])
    .collect();
    assert_eq!(
        figures,
        [339, 339, 162, 339, 70, 36]
            .iter()
            .map(|n| serde_json::json!(n))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
        "{report:#}"
    );
    assert_eq!(report["source"], "history");
    assert_eq!(report["precision"], serde_json::json!(36.0 / 162.0));
    // The file records no revenue: none is given.
    assert_eq!(report["revenue"], serde_json::Value::Null);
    let table = backtest(&[]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("labelled history: 339 row(s)"), "{table}");
    assert!(table.contains("162 hit(s)"), "{table}");

    // A name the history does not record is refused, named.
    std::fs::write(rule, definition("item.description.contains(\"phone\")")).unwrap();
    let refused = backtest(&[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("item.description") && stderr.contains("历史标注数据中没有"),
        "{stderr}"
    );
}
