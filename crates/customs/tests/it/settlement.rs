//! From the command line: an import the engine could not assess (no tariff release in force)
//! is not released until an officer assesses it by hand and the paying bank confirms payment.

use std::path::Path;

use serde_json::Value;

use crate::support::{EXAMPLE, customs, ok, seed_broker};

fn token_of(data: &Path, name: &str, role: &str) -> String {
    ok(data, &["admin", "user", "--name", name, "--role", role]);
    ok(data, &["admin", "token", "--user", name])
        .trim()
        .to_owned()
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unassessed_import_is_assessed_by_hand_and_confirmed_by_the_bank_before_release() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let officer = token_of(&data, "officer-li", "officer");
    let admin = token_of(&data, "admin-chen", "admin");
    let file = dir.path().join("declaration.json");
    std::fs::write(&file, EXAMPLE).unwrap();
    let lodged: Value = serde_json::from_str(
        ok(
            &data,
            &[
                "lodge",
                file.to_str().unwrap(),
                "--token",
                &broker,
                "--json",
            ],
        )
        .trim(),
    )
    .unwrap();
    let number = lodged["number"].as_str().unwrap().to_owned();

    let refused = customs(&data, &["release", &number, "--token", &officer]);
    assert!(!refused.status.success(), "released unassessed");
    assert!(
        stderr_of(&refused).contains("not assessed") && stderr_of(&refused).contains("尚未审核"),
        "{}",
        stderr_of(&refused)
    );
    let by_broker = customs(
        &data,
        &[
            "tasks",
            "assess",
            &number,
            "--customs-duty",
            "0",
            "--import-vat",
            "13.00",
            "--reason",
            "x",
            "--token",
            &broker,
        ],
    );
    assert!(!by_broker.status.success(), "the trade assessed itself");
    let assessed = ok(
        &data,
        &[
            "tasks",
            "assess",
            &number,
            "--customs-duty",
            "120.00",
            "--import-vat",
            "1560.00",
            "--reason",
            "no tariff release in force",
            "--token",
            &officer,
        ],
    );
    assert!(assessed.contains("1680.00 CNY payable"), "{assessed}");

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
    // The broker's own word covers nothing; the bank's confirmation does.
    ok(
        &data,
        &[
            "pay",
            &number,
            "--amount",
            "1680.00",
            "--reference",
            "EPAY-1",
            "--token",
            &broker,
        ],
    );
    let unpaid = customs(&data, &["release", &number, "--token", &officer]);
    assert!(
        stderr_of(&unpaid).contains("neither paid nor guaranteed"),
        "{}",
        stderr_of(&unpaid)
    );
    ok(
        &data,
        &[
            "bank",
            "confirm",
            "--key",
            key,
            "--connector",
            "SIMBANK",
            "--number",
            &number,
            "--amount",
            "1680.00",
            "--reference",
            "EPAY-1",
            "--submit",
        ],
    );
    // The random check (2 %) may have asked for a check too: the officer closes what is open.
    let listed: Value = serde_json::from_str(&ok(
        &data,
        &[
            "tasks", "list", "--status", "open", "--token", &officer, "--json",
        ],
    ))
    .unwrap();
    let nothing = dir.path().join("nothing.json");
    std::fs::write(&nothing, r#"{"discrepancy": false}"#).unwrap();
    for task in listed.as_array().unwrap() {
        if task["declaration_id"] == lodged["id"] {
            ok(
                &data,
                &[
                    "tasks",
                    "finding",
                    task["id"].as_str().unwrap(),
                    nothing.to_str().unwrap(),
                    "--token",
                    &officer,
                ],
            );
        }
    }
    let released = ok(&data, &["release", &number, "--token", &officer]);
    assert!(released.contains("released"), "{released}");
}
