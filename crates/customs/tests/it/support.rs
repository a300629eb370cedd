//! Running the real binary against a fresh data folder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const EXAMPLE: &str = include_str!("../../../../examples/declaration-import.json");
pub const TRADER: &str = "91310115MA1H000024";
pub const BROKER: &str = "91310000MA1FL0001R";

/// The instant every run of the binary starts its clock at (`CUSTOMS_CLOCK_FIXED`), unless a
/// test pins another: inside the sample tariff's year and after the example's arrival date, far
/// from midnight (10:00 in China), month-end and New Year, so no test races the calendar or
/// loses its assessment when the sample's rates run out.
pub const NOW: &str = "2026-11-27T02:00:00Z";
/// [`NOW`]'s day and month in China (UTC+8).
pub const TODAY: &str = "2026-11-27";
pub const THIS_MONTH: &str = "2026-11";

pub fn customs_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_customs"))
}

/// `customs` with its clock pinned at [`NOW`] (a test may set `CUSTOMS_CLOCK_FIXED` again).
pub fn command() -> Command {
    let mut command = Command::new(customs_binary());
    command.env("CUSTOMS_CLOCK_FIXED", NOW);
    command
}

/// Starts `customs --data DATA serve --listen 127.0.0.1:0 ARGS...` with its clock at `clock`.
/// `Ok` with the server, its address and what it printed before listening; `Err` with what it
/// printed when it stopped instead.
pub fn start_server(
    data: &Path,
    args: &[&str],
    clock: &str,
) -> Result<(Child, String, String), String> {
    let mut child = command()
        .env("CUSTOMS_CLOCK_FIXED", clock)
        .env("CUSTOMS_LOG", "warn")
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the server starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut printed = String::new();
    loop {
        let Some(Ok(line)) = lines.next() else {
            child.wait().unwrap();
            return Err(printed);
        };
        let listening = line
            .split("listening on http://")
            .nth(1)
            .or_else(|| line.split("listening on https://").nth(1));
        if let Some(rest) = listening {
            let address = rest.split_whitespace().next().unwrap().to_owned();
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((child, address, printed));
        }
        printed.push_str(&line);
        printed.push('\n');
    }
}

/// Runs `customs --data DATA ARGS...`. Administration (`admin`, `tariff`, `rates`,
/// `value-control`) without its own `--token` runs as the folder's first administrator,
/// bootstrapped on first use ([`admin_token`]).
pub fn customs(data: &Path, args: &[&str]) -> Output {
    let mut command = command();
    command
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("CUSTOMS_TOKEN");
    let administers = matches!(
        args.first(),
        Some(&"admin" | &"tariff" | &"rates" | &"value-control")
    );
    if administers && args.get(1) != Some(&"init") && !args.contains(&"--token") {
        command.env("CUSTOMS_TOKEN", admin_token(data));
    }
    command.output().expect("the customs binary runs")
}

/// The token of the folder's first administrator (`root`), made by `customs admin init` on first
/// use and kept beside the folder.
pub fn admin_token(data: &Path) -> String {
    let kept = data.with_extension("admin-token");
    if let Ok(token) = std::fs::read_to_string(&kept) {
        return token.trim().to_owned();
    }
    let output = command()
        .arg("--data")
        .arg(data)
        .args(["admin", "init", "--name", "root"])
        .output()
        .expect("the customs binary runs");
    assert!(
        output.status.success(),
        "admin init failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    std::fs::write(&kept, &token).unwrap();
    token
}

/// Runs a command that must succeed; returns its standard output.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let output = customs(data, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "customs {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// A broker enterprise authorised by a trader, and the broker's token.
pub fn seed_broker(data: &Path) -> String {
    ok(
        data,
        &[
            "admin",
            "enterprise",
            "--credit-code",
            TRADER,
            "--customs-code",
            "3115960002",
            "--name",
            "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.",
        ],
    );
    ok(
        data,
        &[
            "admin",
            "enterprise",
            "--credit-code",
            BROKER,
            "--customs-code",
            "3122260001",
            "--name",
            "上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.",
        ],
    );
    ok(
        data,
        &[
            "admin",
            "authorise-broker",
            "--broker",
            BROKER,
            "--principal",
            TRADER,
        ],
    );
    ok(
        data,
        &[
            "admin",
            "user",
            "--name",
            "broker",
            "--role",
            "broker",
            "--enterprise",
            BROKER,
        ],
    );
    ok(data, &["admin", "token", "--user", "broker"])
        .trim()
        .to_owned()
}

/// `n` distinct valid declarations (different descriptions), as a JSON array file.
pub fn declarations_file(dir: &Path, n: usize) -> PathBuf {
    let values: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::from_str(&EXAMPLE.replace("Smartphones", &format!("Smartphones lot {i}")))
                .unwrap()
        })
        .collect();
    let path = dir.join(format!("declarations-{n}.json"));
    std::fs::write(&path, serde_json::to_vec(&values).unwrap()).unwrap();
    path
}
