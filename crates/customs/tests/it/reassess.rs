//! `customs rates dry-run` and `customs reassess ...` as an administrator and an officer run them:
//! a wrong USD rate (6.1000 for 7.1000) tried on a lodged declaration, put in force, rolled back,
//! and the declaration assessed with it reassessed in bulk: dry run, applied, listed. The example
//! at 7.1000 owes 9,720.57 (VAT 7,776.46 + 1,944.11, duty 0 %); at 6.1000, 8,351.48 (rules §1,
//! §2.6): 1,369.09 less, then more once the wrong table is withdrawn.

use serde_json::Value;

use crate::support::{THIS_MONTH, declarations_file, ok, seed_broker};
use crate::tasks::{tariff_in_force, token_of};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_wrong_rate_table_is_tried_rolled_back_and_its_declarations_reassessed_in_bulk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let officer = token_of(&data, "bulk-officer", "officer");
    tariff_in_force(&data, dir.path());
    let wrong = dir.path().join("wrong.csv");
    std::fs::write(
        &wrong,
        format!("currency,month,rate\nUSD,{THIS_MONTH},6.1000\n"),
    )
    .unwrap();
    let imported = ok(&data, &["rates", "import", wrong.to_str().unwrap()]);
    assert!(imported.contains("imported XR-0002"), "{imported}");

    // Tried on a declaration lodged under the right rate: 1,369.09 less, nothing written.
    let first = declarations_file(dir.path(), 1);
    ok(
        &data,
        &["lodge", first.to_str().unwrap(), "--token", &broker],
    );
    let tried = json(&ok(&data, &["rates", "dry-run", "XR-0002", "--json"]));
    assert_eq!(tried["declarations_compared"], 1, "{tried:#}");
    assert_eq!(tried["total_difference"], "-1369.09", "{tried:#}");
    let table = ok(&data, &["rates", "dry-run", "XR-0002"]);
    assert!(table.contains("dry run of XR-0002"), "{table}");

    // In force from the first of the month: the next declaration is assessed with it.
    ok(
        &data,
        &[
            "rates",
            "activate",
            "XR-0002",
            "--from",
            &format!("{THIS_MONTH}-01"),
        ],
    );
    let two = declarations_file(dir.path(), 2);
    ok(&data, &["lodge", two.to_str().unwrap(), "--token", &broker]);
    ok(&data, &["rates", "roll-back", "--reason", "USD typo"]);

    let listed = json(&ok(
        &data,
        &[
            "reassess",
            "declarations",
            "XR-0002",
            "--token",
            &officer,
            "--json",
        ],
    ));
    let declarations = listed["declarations"].as_array().unwrap();
    assert_eq!(declarations.len(), 1, "{listed:#}");
    assert_eq!(declarations[0]["total_payable"], "8351.48");
    let number = declarations[0]["number"].as_str().unwrap().to_owned();

    let dry = json(&ok(
        &data,
        &[
            "reassess", "run", "XR-0002", "--job", "dry", "--token", &officer, "--json",
        ],
    ));
    assert_eq!(dry["totals"]["pay_more_total"], "1369.09", "{dry:#}");
    let applied = ok(
        &data,
        &[
            "reassess", "run", "XR-0002", "--job", "apply", "--apply", "--token", &officer,
        ],
    );
    assert!(applied.contains("pay more 1369.09 CNY"), "{applied}");
    let again = ok(
        &data,
        &[
            "reassess", "run", "XR-0002", "--job", "apply", "--apply", "--token", &officer,
        ],
    );
    assert!(again.contains("(recorded before)"), "{again}");
    let owed = json(&ok(&data, &["owed", &number, "--token", &broker, "--json"]));
    assert_eq!(owed["outstanding"], "9720.57", "{owed:#}");
    let jobs = json(&ok(
        &data,
        &["reassess", "jobs", "--token", &officer, "--json"],
    ));
    assert_eq!(jobs[0]["job"], "apply");
    assert_eq!(jobs[0]["state"], "finished");
    assert_eq!(jobs[1]["mode"], "dry_run");

    // The broker may not run a job.
    let refused = crate::support::customs(&data, &["reassess", "jobs", "--token", &broker]);
    assert!(!refused.status.success());
}
