//! Who acts, with which credential (issue 10, defects 7, 8 and 9): administration authenticates
//! as a user and is recorded as that user; tokens are revoked and users disabled from the CLI and
//! stop working at once; one process writes to a data folder at a time; the folder and its files
//! are private; demo mode keeps to demo folders and leaves no earlier token valid.

use std::path::Path;
use std::process::Child;

use crate::support::{NOW, admin_token, customs, declarations_file, ok, seed_broker, start_server};

/// Starts `customs serve` with `extra` arguments (see [`start_server`]).
fn start(data: &Path, extra: &[&str]) -> Result<(Child, String, String), String> {
    start_server(data, extra, NOW)
}

fn stop(mut server: Child) {
    // SIGTERM would be gentler; a kill is enough here, the lock goes with the process.
    server.kill().unwrap();
    server.wait().unwrap();
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The actor recorded with the first event of `action`.
fn actor_of(data: &Path, action: &str) -> (String, String) {
    let db = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    db.query_row(
        "SELECT actor_user, actor_role FROM events WHERE action = ?1 ORDER BY seq LIMIT 1",
        [action],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .unwrap()
}

#[test]
fn administration_needs_an_administrators_token_and_is_recorded_as_that_user() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let register = [
        "admin",
        "enterprise",
        "--credit-code",
        "91310115MA1H000024",
        "--customs-code",
        "3115960002",
        "--name",
        "Trader",
    ];
    // No token: refused, and nothing is written (the folder has no administrator yet either).
    std::fs::create_dir_all(&data).unwrap();
    let mut bare = crate::support::command();
    bare.arg("--data")
        .arg(&data)
        .args(register)
        .env_remove("CUSTOMS_TOKEN")
        .env("USER", "root");
    let refused = bare.output().unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr_of(&refused).contains("needs a token"),
        "{}",
        stderr_of(&refused)
    );

    let root = admin_token(&data);
    let again = customs(&data, &["admin", "init", "--name", "root-2"]);
    assert!(!again.status.success(), "a second bootstrap is refused");
    assert!(stderr_of(&again).contains("root"), "{}", stderr_of(&again));

    ok(&data, &register);
    let (user, role) = actor_of(&data, "enterprise.registered");
    assert_eq!(role, "admin");
    assert!(
        !user.starts_with("cli:"),
        "recorded as the administrator's user id, not an environment variable: {user}"
    );
    let (bootstrapped_by, _) = actor_of(&data, "user.admin_bootstrapped");
    assert_eq!(bootstrapped_by, "system");
    let tokens: serde_json::Value =
        serde_json::from_str(&ok(&data, &["admin", "tokens", "--json"])).unwrap();
    let root_tokens = tokens["tokens"].as_array().unwrap();
    assert_eq!(root_tokens.len(), 1);
    assert_eq!(root_tokens[0]["user_id"], user.as_str());
    assert!(!tokens.to_string().contains(&root));

    // Another role's token is refused for administration.
    ok(
        &data,
        &["admin", "user", "--name", "wang", "--role", "risk_analyst"],
    );
    let wang = ok(&data, &["admin", "token", "--user", "wang"])
        .trim()
        .to_owned();
    let forbidden = customs(
        &data,
        &[
            "admin", "user", "--name", "zhao", "--role", "officer", "--token", &wang,
        ],
    );
    assert!(!forbidden.status.success());
    assert!(
        stderr_of(&forbidden).contains("may not"),
        "{}",
        stderr_of(&forbidden)
    );
}

#[test]
fn a_token_revoked_from_the_command_line_stops_working_and_so_does_a_disabled_users() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let file = declarations_file(dir.path(), 1);
    let file = file.to_str().unwrap();
    ok(&data, &["lodge", file, "--token", &broker]);

    let listed: serde_json::Value = serde_json::from_str(&ok(
        &data,
        &["admin", "tokens", "--user", "broker", "--json"],
    ))
    .unwrap();
    let id = listed["tokens"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["tokens"][0]["status"], "active");
    let revoked = ok(&data, &["admin", "revoke-token", &id]);
    assert!(revoked.contains(&id), "{revoked}");
    let refused = customs(&data, &["lodge", file, "--token", &broker]);
    assert!(!refused.status.success());
    assert!(
        stderr_of(&refused).contains("revoked") && stderr_of(&refused).contains("吊销"),
        "{}",
        stderr_of(&refused)
    );

    // Revoked by its secret too; then the user is disabled and a fresh token fails as well.
    let fresh = ok(
        &data,
        &["admin", "token", "--user", "broker", "--expires-in", "1"],
    )
    .trim()
    .to_owned();
    ok(&data, &["lodge", file, "--token", &fresh]);
    ok(&data, &["admin", "revoke-token", &fresh]);
    assert!(
        !customs(&data, &["lodge", file, "--token", &fresh])
            .status
            .success()
    );
    let newer = ok(&data, &["admin", "token", "--user", "broker"])
        .trim()
        .to_owned();
    ok(
        &data,
        &[
            "admin",
            "disable-user",
            "--name",
            "broker",
            "--reason",
            "left",
        ],
    );
    let disabled = customs(&data, &["lodge", file, "--token", &newer]);
    assert!(!disabled.status.success());
    assert!(
        stderr_of(&disabled).contains("disabled"),
        "{}",
        stderr_of(&disabled)
    );
    let too_long = customs(
        &data,
        &["admin", "token", "--user", "root", "--expires-in", "367"],
    );
    assert!(stderr_of(&too_long).contains("expires_in_days"));
}

#[test]
fn one_process_writes_to_a_data_folder_and_it_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_broker(&data);
    let (server, _address, _) = start(&data, &[]).expect("the first server starts");
    let second = start(&data, &[]).map(|(child, ..)| stop(child));
    let printed = second.expect_err("a second server on the same folder is refused");
    assert!(
        printed.contains("in use by another customs process"),
        "{printed}"
    );
    let writing = customs(
        &data,
        &["admin", "user", "--name", "li", "--role", "officer"],
    );
    assert!(!writing.status.success());
    assert!(
        stderr_of(&writing).contains("in use"),
        "{}",
        stderr_of(&writing)
    );
    // Reading needs no lock.
    let verified = customs(&data, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", stderr_of(&verified));
    stop(server);
    ok(
        &data,
        &["admin", "user", "--name", "li", "--role", "officer"],
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "the data folder");
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[cfg(unix)]
#[test]
fn a_loosened_folder_is_made_private_again() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_broker(&data);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("customs.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    ok(&data, &["admin", "tokens"]);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("customs.db")), 0o600);
}

#[test]
fn demo_mode_keeps_to_demo_folders_and_leaves_no_earlier_token_valid() {
    let dir = tempfile::tempdir().unwrap();
    // A folder with real data is refused.
    let real = dir.path().join("real");
    seed_broker(&real);
    let refused = start(&real, &["--demo"]).map(|(child, ..)| stop(child));
    let printed = refused.expect_err("demo mode refuses a folder with real data");
    assert!(printed.contains("not a demo's"), "{printed}");

    let demo = dir.path().join("demo");
    let (server, _, printed) = start(&demo, &["--demo"]).expect("a new folder becomes a demo");
    assert!(printed.contains("new tokens"), "{printed}");
    stop(server);
    let tokens_file = demo.join("demo-tokens.txt");
    let first = std::fs::read_to_string(&tokens_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tokens_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(
            mode, 0o600,
            "the demo tokens are readable by their owner only"
        );
    }
    // Each demo user has a password for the console, printed and kept with the tokens.
    assert!(
        first.contains("demo-officer") && first.contains("demo-officer-password"),
        "{first}"
    );
    assert!(printed.contains("demo-admin-password"), "{printed}");
    let passwords_set = || -> i64 {
        let db = rusqlite::Connection::open(demo.join("customs.db")).unwrap();
        db.query_row(
            "SELECT count(*) FROM events WHERE action = 'user.password_set'",
            [],
            |row| row.get(0),
        )
        .unwrap()
    };
    assert_eq!(
        passwords_set(),
        8,
        "one per demo user (two analysts, for four eyes)"
    );
    // A restart mints nothing while the tokens work, and sets no password again.
    let (server, _, printed) = start(&demo, &["--demo"]).expect("the demo restarts");
    assert!(printed.contains("previous start"), "{printed}");
    stop(server);
    assert_eq!(std::fs::read_to_string(&tokens_file).unwrap(), first);
    assert_eq!(
        passwords_set(),
        8,
        "a password is set only where there is none"
    );
    // Without the file, new tokens are minted and every earlier one is revoked.
    std::fs::remove_file(&tokens_file).unwrap();
    let (server, _, _) = start(&demo, &["--demo"]).expect("the demo restarts");
    stop(server);
    let second = std::fs::read_to_string(&tokens_file).unwrap();
    assert_ne!(first, second);
    let old_broker = first
        .lines()
        .find(|l| l.starts_with("broker"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap();
    let file = declarations_file(dir.path(), 1);
    let lodged = customs(
        &demo,
        &["lodge", file.to_str().unwrap(), "--token", old_broker],
    );
    assert!(!lodged.status.success(), "an earlier demo token is revoked");
    assert!(
        stderr_of(&lodged).contains("revoked"),
        "{}",
        stderr_of(&lodged)
    );
    // A demo folder is never served as a real one.
    let plain = start(&demo, &[]).map(|(child, ..)| stop(child));
    let printed = plain.expect_err("a demo folder is not served without --demo");
    assert!(printed.contains("is a demo folder"), "{printed}");
}

#[test]
fn a_demo_folder_of_an_earlier_version_is_still_a_demo_folder() {
    // What `serve --demo` made before demo folders were marked: the demo broker, officer and
    // administrator, with no marker.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(
        &data,
        &[
            "admin",
            "enterprise",
            "--credit-code",
            "91310000MA1FL0001R",
            "--customs-code",
            "3122260001",
            "--name",
            "上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.",
        ],
    );
    for (name, role) in [("demo-officer", "officer"), ("demo-admin", "admin")] {
        ok(&data, &["admin", "user", "--name", name, "--role", role]);
    }
    let plain = start(&data, &[]).map(|(child, ..)| stop(child));
    let printed = plain.expect_err("an earlier demo folder is not served as a real one");
    assert!(printed.contains("is a demo folder"), "{printed}");
    let (server, _, printed) = start(&data, &["--demo"]).expect("demo mode takes it");
    assert!(printed.contains("new tokens"), "{printed}");
    stop(server);
}
