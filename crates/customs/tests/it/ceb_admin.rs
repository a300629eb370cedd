//! `customs admin ceb-enterprise`, `ceb-certificate`, `guarantee`: an administrator registers a
//! CEB agent, its signing certificate and its tax guarantee on the data folder; what is wrong is
//! refused naming the field.

use crate::support::{BROKER, customs, ok, seed_broker};

#[test]
fn an_administrator_registers_a_ceb_agent_its_certificate_and_its_guarantee() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_broker(&data);
    let registered = ok(
        &data,
        &[
            "admin",
            "ceb-enterprise",
            "--customs-code",
            "3122260001",
            "--credit-code",
            BROKER,
            "--name",
            "上海报关服务有限公司",
            "--roles",
            "agent",
        ],
    );
    assert!(registered.contains("3122260001 registered"), "{registered}");

    let identity = dsig::Identity::generate("3122260001", b"cli").unwrap();
    let pem = dir.path().join("agent.pem");
    std::fs::write(&pem, identity.certificate_pem().unwrap()).unwrap();
    let pem_arg = pem.to_str().unwrap();
    let added = ok(
        &data,
        &[
            "admin",
            "ceb-certificate",
            "--code",
            "3122260001",
            "--pem",
            pem_arg,
        ],
    );
    assert!(added.contains("of 3122260001 in force"), "{added}");
    // Not a certificate.
    std::fs::write(&pem, "not a certificate").unwrap();
    let refused = customs(
        &data,
        &[
            "admin",
            "ceb-certificate",
            "--code",
            "3122260001",
            "--pem",
            pem_arg,
        ],
    );
    assert!(!refused.status.success());

    let guarantee = |amount: &str| {
        customs(
            &data,
            &[
                "admin",
                "guarantee",
                "--assure-code",
                "3122260001",
                "--agent-code",
                "3122260001",
                "--amount",
                amount,
            ],
        )
    };
    let first = guarantee("5000.00");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("5000.00 CNY"));
    // A third decimal, and the same assure code again: refused, naming what.
    let fen = guarantee("1.234");
    assert!(!fen.status.success());
    assert!(String::from_utf8_lossy(&fen.stderr).contains("--amount"));
    let again = guarantee("100.00");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("assure_code"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
