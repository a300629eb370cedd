//! `customs tasks ...` as an officer runs them: two analysts put a rule in force that sends the
//! example's US smartphones to a physical inspection; the only officer finds the task in its queue
//! (`tasks list --mine`) and closes it with a finding that corrects the origin (`tasks finding`);
//! `customs show` then has the officer's reassessment. The binary also selects 2 % at random, so
//! the test looks for the inspection among the tasks rather than counting them.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{customs, declarations_file, ok, seed_broker};

fn token_of(data: &Path, name: &str, role: &str) -> String {
    ok(data, &["admin", "user", "--name", name, "--role", role]);
    ok(data, &["admin", "token", "--user", name])
        .trim()
        .to_owned()
}

fn open_tasks(data: &Path, token: &str) -> Vec<Value> {
    let listed = ok(
        data,
        &[
            "tasks", "list", "--mine", "--status", "open", "--token", token, "--json",
        ],
    );
    serde_json::from_str::<Value>(&listed)
        .unwrap_or_else(|e| panic!("{e}: {listed}"))
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn an_officer_closes_a_red_lane_inspection_with_a_finding_that_corrects_the_origin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let wang = token_of(&data, "analyst-wang", "risk_analyst");
    let zhao = token_of(&data, "analyst-zhao", "risk_analyst");
    let officer = token_of(&data, "officer-li", "officer");

    let rule = dir.path().join("rule.json");
    let definition = json!({
        "purpose": "revenue",
        "action": "physical_inspection",
        "expected_selection_rate": "1",
        "priority": 200,
        "reason_en": "US smartphones: origin and undervaluation",
        "reason_zh": "美国产手机：原产地与低报价格",
        "expression": "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"",
    });
    std::fs::write(&rule, definition.to_string()).unwrap();
    ok(
        &data,
        &["rules", "add", rule.to_str().unwrap(), "--token", &wang],
    );
    ok(
        &data,
        &["rules", "approve", "R-000001", "1", "--token", &zhao],
    );
    assert!(open_tasks(&data, &officer).is_empty());

    let file = declarations_file(dir.path(), 1);
    let lodged = ok(
        &data,
        &[
            "lodge",
            file.to_str().unwrap(),
            "--token",
            &broker,
            "--json",
        ],
    );
    let lodged: Value = serde_json::from_str(lodged.trim()).unwrap();
    let number = lodged["number"].as_str().unwrap().to_owned();
    let shown: Value = serde_json::from_str(&ok(&data, &["show", &number, "--json"])).unwrap();
    assert_eq!(shown["selection"]["lane"], "red", "{shown:#}");

    // The only officer has the inspection in its queue.
    let queue = open_tasks(&data, &officer);
    let inspection = queue
        .iter()
        .find(|t| t["kind"] == "physical_inspection")
        .unwrap_or_else(|| panic!("{queue:#?}"));
    assert_eq!(inspection["declaration_id"], shown["declaration"]["id"]);
    let task = inspection["id"].as_str().unwrap().to_owned();
    let table = ok(&data, &["tasks", "list", "--mine", "--token", &officer]);
    assert!(table.contains(&task), "{table}");
    let refused = customs(&data, &["tasks", "list", "--token", &broker]);
    assert!(!refused.status.success(), "the trade sees no queue");
    let wrong = customs(
        &data,
        &["tasks", "list", "--status", "pending", "--token", &officer],
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("--status"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    // The phones were made in China: the finding corrects the origin and closes the task.
    let finding = dir.path().join("finding.json");
    std::fs::write(
        &finding,
        json!({
            "discrepancy": true,
            "corrections": [{ "path": "items[0].origin_country", "value": "CN" }],
            "note": "markings and packing list show China",
        })
        .to_string(),
    )
    .unwrap();
    let finding = finding.to_str().unwrap();
    let by_analyst = customs(
        &data,
        &["tasks", "finding", &task, finding, "--token", &zhao],
    );
    assert!(
        !by_analyst.status.success(),
        "only officers record findings"
    );
    let closed = ok(
        &data,
        &[
            "tasks", "finding", &task, finding, "--token", &officer, "--key", "f-1",
        ],
    );
    assert!(closed.contains(&format!("task {task} closed")), "{closed}");
    assert!(
        closed.contains("corrected items[0].origin_country to CN"),
        "{closed}"
    );
    assert!(
        !open_tasks(&data, &officer)
            .iter()
            .any(|t| t["id"] == json!(task))
    );

    // The declaration now has the corrected origin and the officer's reassessment.
    let shown = ok(&data, &["show", &number]);
    assert!(shown.contains("(officer)"), "{shown}");
    assert!(shown.contains("task.closed"), "{shown}");
    let json: Value = serde_json::from_str(&ok(&data, &["show", &number, "--json"])).unwrap();
    let last = json["assessments"].as_array().unwrap().last().unwrap();
    assert_eq!(last["basis"], "officer", "{json:#}");
    assert_eq!(
        json["declaration"]["declaration"]["items"][0]["origin_country"],
        "CN"
    );
}
