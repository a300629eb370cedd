//! The desk commands against a running server (issue 14): a broker, two analysts and an officer
//! each work from a profile of one configuration file (the server's address, a private token
//! file, the private CA that signed the server's certificate), never touching the data folder.
//! The story: the analysts put a rule in force that sends the example to a physical inspection,
//! the broker lodges, the officer finds the task in its queue and closes it with a finding,
//! accepts a guarantee for what is owed and releases the goods; the broker finds the declaration
//! released by its container. `show --json` answers the same over the API as on the folder.
//! Also: commands that need the folder refuse one that does not exist, a token file others may
//! read is refused, and the server's refusals are told in full.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};

use serde_json::{Value, json};

use crate::support::{EXAMPLE, NOW, TODAY, command, customs, ok, seed_broker, start_server};
use crate::tasks::{tariff_in_force, token_of};

/// A private CA and a certificate it signed for localhost: (CA file, certificate, key).
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "OpenCustoms test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, leaf.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// A token kept in a file of its owner's only (0600).
fn token_file(dir: &Path, name: &str, token: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("{name}.token"));
    std::fs::write(&path, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `customs --config FILE --profile PROFILE ARGS...` with a data folder that does not exist:
/// a desk command with a server never opens one.
fn desk(config: &Path, profile: &str, args: &[&str]) -> Output {
    command()
        .env_remove("CUSTOMS_TOKEN")
        .env_remove("CUSTOMS_PROFILE")
        .args(["--data", "/nonexistent/customs-data", "--config"])
        .arg(config)
        .args(["--profile", profile])
        .args(args)
        .output()
        .expect("the customs binary runs")
}

fn desk_ok(config: &Path, profile: &str, args: &[&str]) -> String {
    let output = desk(config, profile, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "customs --profile {profile} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_broker_and_the_officer_clear_a_declaration_from_their_own_desks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The folder is set up on the server's machine before it serves.
    let broker = seed_broker(&data);
    let wang = token_of(&data, "analyst-wang", "risk_analyst");
    let zhao = token_of(&data, "analyst-zhao", "risk_analyst");
    let officer = token_of(&data, "officer-li", "officer");
    ok(
        &data,
        &["tasks", "duty", "--office", "2200", "--token", &officer],
    );
    tariff_in_force(&data, dir.path());
    let (ca, cert, key) = private_ca(dir.path());
    let (child, address, _) = start_server(
        &data,
        &[
            "--tls-certificate",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        NOW,
    )
    .expect("the server starts");
    let _server = Server(child);
    let port = address.rsplit(':').next().unwrap();
    let server = format!("https://localhost:{port}");

    let desks = dir.path().join("desks");
    std::fs::create_dir(&desks).unwrap();
    let mut file = String::new();
    for (profile, token) in [
        ("broker", &broker),
        ("analyst-wang", &wang),
        ("analyst-zhao", &zhao),
        ("officer", &officer),
    ] {
        let token_file = token_file(&desks, profile, token);
        file.push_str(&format!(
            "[profiles.{profile}]\nserver = {server:?}\ntoken_file = {:?}\nca_file = {:?}\n",
            token_file.to_str().unwrap(),
            ca.to_str().unwrap()
        ));
    }
    let config = desks.join("customs.toml");
    std::fs::write(&config, &file).unwrap();
    let checked = command()
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", stderr_of(&checked));

    // Two analysts put the rule in force, from their desks.
    let rule = desks.join("rule.json");
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
    let proposed = json_of(&desk_ok(
        &config,
        "analyst-wang",
        &["rules", "add", rule.to_str().unwrap(), "--json"],
    ));
    let id = proposed["id"].as_str().unwrap().to_owned();
    let approved = desk_ok(&config, "analyst-zhao", &["rules", "approve", &id, "1"]);
    assert!(approved.contains("active"), "{approved}");
    let own = desk(&config, "analyst-wang", &["rules", "approve", &id, "1"]);
    assert!(!own.status.success());

    // The broker lodges the declaration, with its container, from its desk.
    let mut declaration: Value = serde_json::from_str(EXAMPLE).unwrap();
    declaration["transport"]["containers"] = json!(["CSQU3054383"]);
    let lodging = desks.join("declaration.json");
    std::fs::write(&lodging, declaration.to_string()).unwrap();
    let lodged = json_of(&desk_ok(
        &config,
        "broker",
        &["lodge", lodging.to_str().unwrap(), "--json"],
    ));
    let number = lodged["number"].as_str().unwrap().to_owned();
    // A container with a wrong check digit is refused, the field named in both languages.
    declaration["transport"]["containers"] = json!(["CSQU3054383", "MSKU9070323", "MSCU1234567"]);
    std::fs::write(&lodging, declaration.to_string()).unwrap();
    let refused = desk(&config, "broker", &["lodge", lodging.to_str().unwrap()]);
    assert!(!refused.status.success());
    let told = stderr_of(&refused);
    assert!(
        told.contains("transport.containers[2]") && told.contains("校验码"),
        "{told}"
    );

    // The officer finds the inspection in its queue and closes every task of the declaration.
    let queue = json_of(&desk_ok(
        &config,
        "officer",
        &["tasks", "list", "--mine", "--status", "open", "--json"],
    ));
    let tasks: Vec<String> = queue
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["declaration_id"] == lodged["id"])
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "physical_inspection"),
        "{queue:#}"
    );
    let table = desk_ok(&config, "officer", &["tasks", "list", "--mine"]);
    assert!(table.contains(&tasks[0]), "{table}");
    // A photo as evidence, sent to the server; its kind is read from its content.
    let photo = desks.join("markings.jpg");
    std::fs::write(&photo, b"\xff\xd8\xff\xe0 made in the USA").unwrap();
    let attached = desk_ok(
        &config,
        "officer",
        &["tasks", "attach", &tasks[0], photo.to_str().unwrap()],
    );
    assert!(
        attached.contains("markings.jpg attached") && attached.contains("image/jpeg"),
        "{attached}"
    );
    let roster = desk_ok(&config, "officer", &["tasks", "roster", "--office", "2200"]);
    assert!(roster.contains("2200"), "{roster}");
    let finding = desks.join("finding.json");
    std::fs::write(
        &finding,
        json!({"discrepancy": false, "note": "goods as declared"}).to_string(),
    )
    .unwrap();
    for task in &tasks {
        let closed = desk_ok(
            &config,
            "officer",
            &["tasks", "finding", task, finding.to_str().unwrap()],
        );
        assert!(closed.contains(&format!("task {task} closed")), "{closed}");
    }

    // What is owed; the broker may not release, and the server's refusal is told in full.
    let owed = json_of(&desk_ok(&config, "broker", &["owed", &number, "--json"]));
    let outstanding = owed["outstanding"].as_str().unwrap().to_owned();
    assert_ne!(outstanding, "0.00", "{owed:#}");
    let by_broker = desk(&config, "broker", &["release", &number]);
    assert!(!by_broker.status.success());
    let told = stderr_of(&by_broker);
    assert!(told.contains("HTTP 403"), "{told}");
    let unpaid = desk(&config, "officer", &["release", &number]);
    let told = stderr_of(&unpaid);
    assert!(
        told.contains("neither paid nor guaranteed") && told.contains("未缴纳"),
        "{told}"
    );

    // The officer accepts a guarantee for it and releases the goods.
    let guaranteed = desk_ok(
        &config,
        "officer",
        &[
            "pay",
            &number,
            "--guarantee",
            "--amount",
            &outstanding,
            "--reference",
            "BG-2026-0001",
        ],
    );
    assert!(
        guaranteed.contains("outstanding / 未缴:   0.00 CNY"),
        "{guaranteed}"
    );
    let released = desk_ok(&config, "officer", &["release", &number]);
    assert!(released.contains("released / 已放行"), "{released}");

    // The broker finds it released, by its container and by its bill of lading.
    let found = json_of(&desk_ok(
        &config,
        "broker",
        &["search", "--container", "csqu 3054383", "--json"],
    ));
    let listed = found["declarations"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{found:#}");
    assert_eq!(listed[0]["number"], json!(number));
    assert_eq!(listed[0]["status"], "released");
    let bill = declaration["transport"]["document"]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let table = desk_ok(&config, "broker", &["search", "--bill-of-lading", &bill]);
    assert!(
        table.contains(&number) && table.contains("released"),
        "{table}"
    );
    // Search terms are the server's to apply: another container finds nothing.
    let other = json_of(&desk_ok(
        &config,
        "broker",
        &["search", "--container", "MSKU9070323", "--json"],
    ));
    assert_eq!(other["declarations"], json!([]), "{other:#}");
    let short = desk(&config, "broker", &["search", "--trader-name", "上"]);
    let told = stderr_of(&short);
    assert!(
        told.contains("trader_name") && told.contains("至少 2 个字符"),
        "{told}"
    );

    // The same command answers the same on the folder and over the API.
    let remote = desk_ok(&config, "officer", &["show", &number, "--json"]);
    let local = ok(&data, &["show", &number, "--json"]);
    assert_eq!(remote, local, "show --json over the API and on the folder");
    let remote = desk_ok(
        &config,
        "broker",
        &["search", "--invoice", "PE-2026-1107", "--json"],
    );
    let local = ok(
        &data,
        &[
            "search",
            "--invoice",
            "PE-2026-1107",
            "--json",
            "--token",
            &broker,
        ],
    );
    assert_eq!(
        remote, local,
        "search --json over the API and on the folder"
    );
    let remote = desk_ok(&config, "broker", &["owed", &number]);
    let local = ok(&data, &["owed", &number, "--token", &broker]);
    assert_eq!(remote, local, "owed over the API and on the folder");
    // The tables too, people by name (the API's directory of names).
    let remote = desk_ok(&config, "officer", &["show", &number]);
    let local = ok(&data, &["show", &number]);
    assert_eq!(remote, local, "show over the API and on the folder");
    assert!(remote.contains("officer-li"), "{remote}");
    // The broker's `show` is the trade's view, built by the API from its allow-list: the
    // declaration, where it stands and its receipts; no event, selection reason, score or officer.
    let shown = json_of(&desk_ok(&config, "broker", &["show", &number, "--json"]));
    let keys: Vec<&str> = shown
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["clearance_status", "declaration", "receipts"],
        "{shown:#}"
    );
    assert_eq!(shown["clearance_status"], "released", "{shown:#}");
    let receipts: Vec<&str> = shown["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["receipt"].as_str().unwrap())
        .collect();
    assert!(
        receipts.contains(&"accepted") && receipts.contains(&"released"),
        "{receipts:?}"
    );
    let table = desk_ok(&config, "broker", &["show", &number]);
    assert!(
        table.contains("released") && !table.contains("officer-li"),
        "{table}"
    );
    let remote = desk_ok(&config, "officer", &["tasks", "list", "--mine"]);
    let local = ok(&data, &["tasks", "list", "--mine", "--token", &officer]);
    assert_eq!(remote, local, "tasks list over the API and on the folder");
    assert!(remote.contains("officer-li"), "{remote}");

    // The statistics, the watch list and a hold from the desks too.
    let times = json_of(&desk_ok(
        &config,
        "officer",
        &[
            "stats",
            "release-times",
            "--from",
            TODAY,
            "--to",
            TODAY,
            "--json",
        ],
    ));
    assert_eq!(times["released"], 1, "{times:#}");
    let local = ok(
        &data,
        &[
            "stats",
            "release-times",
            "--from",
            TODAY,
            "--to",
            TODAY,
            "--token",
            &officer,
        ],
    );
    let remote = desk_ok(
        &config,
        "officer",
        &["stats", "release-times", "--from", TODAY, "--to", TODAY],
    );
    assert_eq!(remote, local, "stats over the API and on the folder");
    let held = desk(
        &config,
        "officer",
        &["hold", &number, "--reason", "late intelligence"],
    );
    assert!(!held.status.success(), "released goods are not held");
    assert!(
        stderr_of(&held).contains("HTTP 409"),
        "{}",
        stderr_of(&held)
    );
    let entry = json_of(&desk_ok(
        &config,
        "analyst-wang",
        &[
            "watch",
            "add",
            "--kind",
            "consignor",
            "--value",
            "Shady Exports Ltd",
            "--action",
            "document_check",
            "--reason-en",
            "intelligence",
            "--reason-zh",
            "情报",
            "--json",
        ],
    ));
    let entry = entry["id"].as_str().unwrap().to_owned();
    desk_ok(&config, "analyst-zhao", &["watch", "approve", &entry]);
    let listed = json_of(&desk_ok(
        &config,
        "analyst-wang",
        &["watch", "list", "--json"],
    ));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == json!(entry) && e["value"] == "Shady Exports Ltd"),
        "{listed:#}"
    );

    // A token file others may read is refused before anything is sent.
    use std::os::unix::fs::PermissionsExt;
    let broker_file = desks.join("broker.token");
    std::fs::set_permissions(&broker_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = desk(&config, "broker", &["owed", &number]);
    let told = stderr_of(&refused);
    assert!(
        !refused.status.success() && told.contains("mode 644") && told.contains("chmod 600"),
        "{told}"
    );
    let checked = command()
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .output()
        .unwrap();
    let told = stderr_of(&checked);
    assert!(
        !checked.status.success() && told.contains("profiles.broker.token_file"),
        "{told}"
    );
    // Without the private CA, the server's certificate is not trusted.
    let untrusted = command()
        .env_remove("CUSTOMS_TOKEN")
        .args(["--server", &server, "owed", &number, "--token", &broker])
        .output()
        .unwrap();
    let told = stderr_of(&untrusted);
    assert!(
        !untrusted.status.success() && told.contains("cannot be reached"),
        "{told}"
    );
    // A command that works on the folder only is refused with a server.
    let admin = desk(&config, "officer", &["audit", "verify"]);
    assert!(
        stderr_of(&admin).contains("works on the data folder only"),
        "{}",
        stderr_of(&admin)
    );
}

#[test]
fn a_data_folder_that_does_not_exist_is_refused_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mistyped");
    for args in [
        &["show", "220020261000000001"][..],
        &["owed", "220020261000000001", "--token", "t"],
        &["tasks", "list", "--token", "t"],
        &["search", "--invoice", "INV-1", "--token", "t"],
        &["audit", "verify"],
        &[
            "admin", "user", "--name", "x", "--role", "officer", "--token", "t",
        ],
        &["tariff", "list", "--token", "t"],
    ] {
        let output = command()
            .env_remove("CUSTOMS_TOKEN")
            .arg("--data")
            .arg(&missing)
            .args(args)
            .output()
            .unwrap();
        let told = stderr_of(&output);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            told.contains(&format!(
                "the data folder {} does not exist",
                missing.display()
            )) && told.contains("admin init")
                && told.contains("数据目录"),
            "{args:?}: {told}"
        );
        assert!(!missing.exists(), "{args:?} created the folder");
    }
    // `admin init` makes one.
    let made = customs(&missing, &["admin", "init", "--name", "root"]);
    assert!(made.status.success(), "{}", stderr_of(&made));
    assert!(missing.join("customs.db").exists());
}
