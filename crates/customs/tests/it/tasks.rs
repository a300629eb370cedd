//! `customs tasks ...` as an officer runs them: two analysts put a rule in force that sends the
//! example's US smartphones to a physical inspection; the only officer finds the task in its queue
//! (`tasks list --mine`) and closes it with a finding that corrects the origin (`tasks finding`);
//! `customs show` then has the officer's reassessment. The story runs to the end: the declaration
//! (assessed under the sample tariff release) owes duty and taxes (`customs owed`), the officer
//! cannot release it unpaid, the broker pays (`customs pay`), the officer releases it
//! (`customs release`) and the audit chain is intact. The binary also selects 2 % at random, so
//! the test looks for the inspection among the tasks rather than counting them, and closes any
//! other task of the declaration before the release. Of the two officers only Li is on duty at
//! the office of lodging (`tasks duty`), so every task is Li's.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{THIS_MONTH, TODAY, customs, declarations_file, ok, seed_broker};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tariff/sample_release_cn_2026"
);

/// The sample tariff release and an exchange-rate table for this month in China (USD 7.1000), both
/// in force, so that a declaration lodged today is assessed.
pub(crate) fn tariff_in_force(data: &Path, dir: &Path) {
    let rates: PathBuf = dir.join("rates");
    std::fs::create_dir_all(&rates).unwrap();
    std::fs::write(
        rates.join("exchange_rates.csv"),
        format!("# test table\ncurrency,month,rate\nUSD,{THIS_MONTH},7.1000\n"),
    )
    .unwrap();
    ok(data, &["tariff", "import", SAMPLE, "--label", "sample"]);
    ok(data, &["rates", "import", rates.to_str().unwrap()]);
    ok(
        data,
        &["tariff", "activate", "TR-0001", "--from", "2026-01-01"],
    );
    ok(
        data,
        &["rates", "activate", "XR-0001", "--from", "2026-01-01"],
    );
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn owed(data: &Path, number: &str, token: &str) -> Value {
    let owed = ok(data, &["owed", number, "--token", token, "--json"]);
    serde_json::from_str(&owed).unwrap_or_else(|e| panic!("{e}: {owed}"))
}

pub(crate) fn token_of(data: &Path, name: &str, role: &str) -> String {
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
    // Two officers; only Li is on duty at the office of lodging, so the inspection is Li's.
    let ma = token_of(&data, "officer-ma", "officer");
    let on = ok(
        &data,
        &["tasks", "duty", "--office", "2200", "--token", &officer],
    );
    assert!(on.contains("on duty at 2200"), "{on}");
    ok(
        &data,
        &["tasks", "duty", "--office", "5300", "--token", &ma],
    );
    let refused = customs(&data, &["tasks", "duty", "--office", "22", "--token", &ma]);
    assert!(
        stderr_of(&refused).contains("office"),
        "{}",
        stderr_of(&refused)
    );
    let roster = ok(
        &data,
        &["tasks", "roster", "--office", "2200", "--token", &wang],
    );
    assert!(
        roster.contains("2200") && !roster.contains("5300"),
        "{roster}"
    );

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
    tariff_in_force(&data, dir.path());

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

    // The officer on duty has the inspection in its queue; the other has nothing.
    assert!(open_tasks(&data, &ma).is_empty());
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

    // A photo of the markings as evidence; a text file is not one.
    let photo = dir.path().join("markings.jpg");
    std::fs::write(&photo, b"\xff\xd8\xff\xe0 made in China").unwrap();
    let attached = ok(
        &data,
        &[
            "tasks",
            "attach",
            &task,
            photo.to_str().unwrap(),
            "--token",
            &officer,
        ],
    );
    assert!(
        attached.contains("markings.jpg attached") && attached.contains("image/jpeg"),
        "{attached}"
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a photo").unwrap();
    let refused = customs(
        &data,
        &[
            "tasks",
            "attach",
            &task,
            text.to_str().unwrap(),
            "--token",
            &officer,
        ],
    );
    assert!(
        stderr_of(&refused).contains("content"),
        "{}",
        stderr_of(&refused)
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

    // The declaration owes its reassessed duty and taxes; nothing is paid yet.
    let owes = owed(&data, &number, &broker);
    let payable = last["report"]["total_payable"].as_str().unwrap().to_owned();
    assert_eq!(owes["payable"], json!(payable), "{owes:#}");
    assert_eq!(owes["paid"], "0.00", "{owes:#}");
    let outstanding = owes["outstanding"].as_str().unwrap().to_owned();
    assert_eq!(outstanding, payable, "{owes:#}");
    // By hand (../shared/rules/china-import-taxes.md; the test's USD rate 7.1000; MFN 0% on
    // both lines, also from China; VAT 13%; freight shared by amount; insurance 3‰):
    //   8,000 + 400 + 25.20 = 8,425.20 USD → 59,818.92 CNY, VAT 7,776.46
    //   2,000 + 100 + 6.30 = 2,106.30 USD → 14,954.73 CNY, VAT 1,944.11; total 9,720.57.
    assert_eq!(
        outstanding, "9720.57",
        "the sample release assesses the phones: {owes:#}"
    );
    let table = ok(&data, &["owed", &number, "--token", &officer]);
    assert!(
        table.contains(&format!("outstanding / 未缴:   {outstanding} CNY")),
        "{table}"
    );

    // Unpaid goods are not released, in English and Chinese.
    let unpaid = customs(&data, &["release", &number, "--token", &officer]);
    assert!(!unpaid.status.success(), "released unpaid");
    let stderr = stderr_of(&unpaid);
    assert!(
        stderr.contains("neither paid nor guaranteed") && stderr.contains("未缴纳"),
        "{stderr}"
    );
    // Payments are the trade's, guarantees an officer's.
    let by_officer = customs(
        &data,
        &[
            "pay",
            &number,
            "--amount",
            &outstanding,
            "--reference",
            "x",
            "--token",
            &officer,
        ],
    );
    assert!(!by_officer.status.success());
    assert!(
        stderr_of(&by_officer).contains("缴款由企业申报"),
        "{}",
        stderr_of(&by_officer)
    );

    // The broker pays what is outstanding; paying again with the same key records nothing new.
    let pay = [
        "pay",
        number.as_str(),
        "--amount",
        outstanding.as_str(),
        "--reference",
        "EPAY-2026-0001",
        "--token",
        broker.as_str(),
        "--key",
        "pay-1",
    ];
    let paid = ok(&data, &pay);
    // The broker's payment is a claim: nothing is covered until the paying bank confirms it.
    assert!(
        paid.contains(&format!("outstanding / 未缴:   {outstanding} CNY")),
        "{paid}"
    );
    ok(&data, &pay);
    let unconfirmed = customs(&data, &["release", &number, "--token", &officer]);
    assert!(
        stderr_of(&unconfirmed).contains("neither paid nor guaranteed"),
        "{}",
        stderr_of(&unconfirmed)
    );
    // The bank's connector is registered by an administrator; its signed confirmation counts,
    // once, however often it is sent.
    let admin = token_of(&data, "admin-chen", "admin");
    let key = dir.path().join("bank.key");
    let key = key.to_str().unwrap();
    let public_key = ok(&data, &["bank", "keygen", "--out", key])
        .trim()
        .to_owned();
    ok(
        &data,
        &[
            "bank",
            "register",
            "--connector",
            "SIMBANK",
            "--name",
            "Simulated bank",
            "--public-key",
            &public_key,
            "--token",
            &admin,
        ],
    );
    let confirm = [
        "bank",
        "confirm",
        "--key",
        key,
        "--connector",
        "SIMBANK",
        "--number",
        &number,
        "--amount",
        &outstanding,
        "--reference",
        "EPAY-2026-0001",
        "--paid-at",
        "2026-11-27T10:00:00+08:00",
        "--submit",
    ];
    ok(&data, &confirm);
    ok(&data, &confirm);
    let owes = owed(&data, &number, &broker);
    assert_eq!(owes["paid"], json!(outstanding), "{owes:#}");
    assert_eq!(owes["outstanding"], "0.00", "{owes:#}");

    // The officer holds the goods by hand: released neither by the broker's payment nor anyhow
    // until the hold is lifted (the loop below closes it with the random checks, if any).
    let held = ok(
        &data,
        &[
            "hold",
            &number,
            "--reason",
            "seal number differs from the manifest",
            "--token",
            &officer,
            "--json",
        ],
    );
    let held: Value = serde_json::from_str(&held).unwrap();
    assert_eq!(held["kind"], "hold", "{held:#}");
    let refused = customs(&data, &["release", &number, "--token", &officer]);
    assert!(
        stderr_of(&refused).contains("hold"),
        "{}",
        stderr_of(&refused)
    );
    let by_broker = customs(
        &data,
        &["hold", &number, "--reason", "x", "--token", &broker],
    );
    assert!(!by_broker.status.success(), "the trade does not hold goods");

    // The random 2 % may have asked for another check: the officer closes whatever is still open.
    let listed = ok(
        &data,
        &[
            "tasks", "list", "--status", "open", "--token", &officer, "--json",
        ],
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    for open in listed.as_array().unwrap() {
        if open["declaration_id"] == json["declaration"]["id"] {
            let nothing = dir.path().join("nothing.json");
            std::fs::write(&nothing, json!({ "discrepancy": false }).to_string()).unwrap();
            ok(
                &data,
                &[
                    "tasks",
                    "finding",
                    open["id"].as_str().unwrap(),
                    nothing.to_str().unwrap(),
                    "--token",
                    &officer,
                ],
            );
        }
    }

    // The broker cannot release; the officer can.
    let by_broker = customs(&data, &["release", &number, "--token", &broker]);
    assert!(!by_broker.status.success(), "the trade does not release");
    let released = ok(
        &data,
        &[
            "release",
            &number,
            "--note",
            "duty paid, inspection closed",
            "--token",
            &officer,
            "--key",
            "release-1",
        ],
    );
    assert!(
        released.contains(&format!("declaration {number} released")),
        "{released}"
    );
    let shown: Value = serde_json::from_str(&ok(&data, &["show", &number, "--json"])).unwrap();
    assert_eq!(shown["declaration"]["status"], "released", "{shown:#}");
    let actions: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"declaration.paid"), "{actions:?}");

    // The time from lodging to release is measured: one release today, within a day.
    let today = TODAY;
    let times = ok(
        &data,
        &[
            "stats",
            "release-times",
            "--from",
            today,
            "--to",
            today,
            "--office",
            "2200",
            "--token",
            &wang,
            "--json",
        ],
    );
    let times: Value = serde_json::from_str(&times).unwrap();
    assert_eq!(times["released"], 1, "{times:#}");
    assert_eq!(times["released_within_24h"], 1, "{times:#}");
    let table = ok(
        &data,
        &[
            "stats",
            "release-times",
            "--from",
            today,
            "--to",
            today,
            "--token",
            &wang,
        ],
    );
    assert!(table.contains("1 declaration(s), 1 within 24 h"), "{table}");

    let verified = ok(&data, &["audit", "verify"]);
    assert!(verified.contains("the audit chain is intact"), "{verified}");
}
