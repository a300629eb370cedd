//! `customs admin credit`: an administrator sets an enterprise's credit level (企业信用等级); a
//! wrong level or an unregistered enterprise is refused naming the field.

use crate::support::{TRADER, customs, ok, seed_broker};

#[test]
fn an_administrator_sets_a_credit_level_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_broker(&data);
    let set = |level: &str| {
        let args = [
            "admin",
            "credit",
            "--credit-code",
            TRADER,
            "--level",
            level,
            "--reason",
            "失信企业认定 2026-17",
        ];
        customs(&data, &args)
    };

    let first = ok(
        &data,
        &[
            "admin",
            "credit",
            "--credit-code",
            TRADER,
            "--level",
            "untrustworthy",
            "--reason",
            "失信企业认定 2026-17",
        ],
    );
    assert!(
        first.contains("credit level untrustworthy") && first.contains("was general (not set)"),
        "{first}"
    );
    let again = set("general");
    assert!(again.status.success());
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(again.contains("was untrustworthy"), "{again}");

    let wrong = set("excellent");
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("level") && stderr.contains("untrustworthy"),
        "{stderr}"
    );

    let unknown = customs(
        &data,
        &[
            "admin",
            "credit",
            "--credit-code",
            // Well-formed (its check character is right), but no enterprise has it.
            "91310000MA1FL0002W",
            "--level",
            "general",
            "--reason",
            "rating",
        ],
    );
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("credit_code"), "{stderr}");
    assert!(stderr.contains("is registered"), "{stderr}");
    assert!(!stderr.contains("check character"), "{stderr}");
}
