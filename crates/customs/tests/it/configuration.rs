//! The configuration file, the settings an administrator gets wrong, and what `serve` tells them:
//! run as the real binary.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::customs_binary;

const EXAMPLE_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/customs.example.toml"
);

/// `customs ARGS` with none of the configuration's variables inherited, `env` set, and
/// RUST_BACKTRACE=1 (an ordinary error must still print no backtrace).
fn customs(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args, env)
        .output()
        .expect("the customs binary runs")
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(customs_binary());
    command.args(args).env("RUST_BACKTRACE", "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("CUSTOMS_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An ordinary error: exit 1, the message, no panic and no backtrace.
fn assert_refused(output: &Output) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.contains("stack backtrace"), "{text}");
    assert!(!text.contains("Stack backtrace"), "{text}");
    text
}

#[test]
fn the_example_configuration_is_valid() {
    let output = customs(&["--config", EXAMPLE_CONFIG, "config", "check"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("the configuration is valid"));
}

#[test]
fn every_problem_of_a_configuration_is_named_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customs.toml");
    std::fs::write(
        &file,
        "colour = \"blue\"\n[serve]\nrate_per_client = 0\nlisten = \"nowhere\"\n[log]\nformat = \"xml\"\n",
    )
    .unwrap();

    let output = customs(
        &["--config", file.to_str().unwrap(), "config", "check"],
        &[("CUSTOMS_CONNECTIONS_PER_ADDRESS", "-3")],
    );

    let text = assert_refused(&output);
    for expected in [
        "colour = \"blue\"",
        "serve.rate_per_client = 0 (file ",
        "must be from 1 to 4294967295 / 必须在 1 到 4294967295 之间",
        "serve.listen = \"nowhere\"",
        "log.format = \"xml\"",
        "serve.connections_per_address = -3 (environment CUSTOMS_CONNECTIONS_PER_ADDRESS)",
        "the configuration has 5 problem(s) / 配置有 5 处问题",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
}

#[test]
fn a_zero_rate_or_an_unparsable_number_is_refused_naming_the_setting_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let zero = customs(&["--data", data, "serve", "--rate-per-client", "0"], &[]);
    let words = customs(
        &["--data", data, "serve", "--connections-per-address", "many"],
        &[],
    );
    let from_env = customs(
        &["--data", data, "serve"],
        &[("CUSTOMS_RATE_PER_CLIENT", "0")],
    );

    let zero = assert_refused(&zero);
    assert!(
        zero.contains("serve.rate_per_client = 0 (flag --rate-per-client): must be from 1"),
        "{zero}"
    );
    let words = assert_refused(&words);
    assert!(words.contains("serve.connections_per_address = \"many\" (flag --connections-per-address): not a whole number / 不是整数"), "{words}");
    let from_env = assert_refused(&from_env);
    assert!(
        from_env.contains("(environment CUSTOMS_RATE_PER_CLIENT)"),
        "{from_env}"
    );
    assert!(
        !Path::new(data).exists(),
        "nothing is created before the settings are valid"
    );
}

#[test]
fn flags_win_over_variables_which_win_over_the_file_and_the_token_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customs.toml");
    std::fs::write(
        &file,
        "[serve]\nlisten = \"127.0.0.1:7000\"\nrate_per_client = 5\nconnections_max = 9\n\
         [metrics]\ntoken = \"file-token-0123456789\"\n",
    )
    .unwrap();

    let output = customs(
        &[
            "--config",
            file.to_str().unwrap(),
            "--data",
            "elsewhere",
            "config",
            "show",
        ],
        &[
            ("CUSTOMS_LISTEN", "localhost:7001"),
            ("CUSTOMS_METRICS_TOKEN", "env-token-0123456789"),
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let shown = stdout(&output);
    assert!(
        shown.contains("data = \"elsewhere\"  # flag --data"),
        "{shown}"
    );
    assert!(
        shown.contains("listen = \"localhost:7001\"  # environment CUSTOMS_LISTEN"),
        "{shown}"
    );
    assert!(shown.contains("rate_per_client = 5  # file "), "{shown}");
    assert!(
        shown.contains("burst_per_client = 40  # default"),
        "{shown}"
    );
    assert!(
        shown.contains("token = \"<redacted>\"  # environment CUSTOMS_METRICS_TOKEN"),
        "{shown}"
    );
    assert!(!shown.contains("token-0123456789"), "{shown}");
    assert!(shown.contains("# certificate is not set"), "{shown}");
}

#[test]
fn an_unresolvable_listen_host_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = customs(
        &[
            "--data",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            "no-such-host.invalid:8080",
        ],
        &[],
    );
    let text = assert_refused(&output);
    assert!(
        text.contains("serve.listen = \"no-such-host.invalid:8080\": the host cannot be resolved"),
        "{text}"
    );
}

#[test]
fn tls_files_that_do_not_load_fail_the_check_naming_the_file() {
    let output = customs(
        &["config", "check"],
        &[
            ("CUSTOMS_TLS_CERTIFICATE", "/nonexistent/cert.pem"),
            ("CUSTOMS_TLS_KEY", "/nonexistent/key.pem"),
        ],
    );
    let text = assert_refused(&output);
    assert!(
        text.contains("/nonexistent/cert.pem cannot be read"),
        "{text}"
    );
    let only_one = customs(&["config", "check"], &[("CUSTOMS_TLS_KEY", "/etc/key.pem")]);
    let text = assert_refused(&only_one);
    assert!(
        text.contains("tls.certificate and tls.key are set together"),
        "{text}"
    );
}

/// A running `customs serve`, killed when dropped.
struct Server {
    child: Child,
    address: String,
    /// Every line of stderr up to the address line.
    head: Vec<String>,
    rest: std::sync::mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The first line of stderr after the address line that contains `needle`, waiting up to
    /// 10 s for it.
    fn line_with(&self, needle: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(line) = self.rest.recv_timeout(Duration::from_millis(200))
                && line.contains(needle)
            {
                return Some(line);
            }
        }
        None
    }
}

fn serve(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    serve_with(data, args, env, None)
}

/// `serve`, with its limit of open files lowered to `open_files` if given (through the shell's
/// `ulimit -n`).
fn serve_with(data: &Path, args: &[&str], env: &[(&str, &str)], open_files: Option<u32>) -> Server {
    let mut full = vec!["--data", data.to_str().unwrap(), "serve"];
    full.extend_from_slice(args);
    let mut command = command(&full, env);
    if let Some(open_files) = open_files {
        let program = command.get_program().to_owned();
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -n {open_files} && exec \"$0\" \"$@\""))
            .arg(program)
            .args(command.get_args());
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => shell.env(name, value),
                None => shell.env_remove(name),
            };
        }
        command = shell;
    }
    let mut child = command
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the server starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut head = Vec::new();
    let address = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the server prints its address: {head:#?}"))
            .unwrap();
        head.push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let (send, rest) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    Server {
        child,
        address,
        head,
        rest,
    }
}

#[test]
fn localhost_is_accepted_and_logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("data"), &["--listen", "localhost:0"], &[]);

    assert!(
        server.address.starts_with("http://127.0.0.1:")
            || server.address.starts_with("http://[::1]:"),
        "{}",
        server.address
    );
    let logged = server.head.join("\n");
    assert!(logged.contains("OpenCustoms is listening"), "{logged}");
    assert!(
        !logged.contains('\u{1b}'),
        "no ANSI escape codes: {logged:?}"
    );
    assert!(
        !logged.contains("WARNING"),
        "loopback draws no warning: {logged}"
    );
}

#[test]
fn a_non_loopback_address_without_tls_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("data"), &["--listen", "0.0.0.0:0"], &[]);
    // The warning follows the address line.
    assert!(
        server.line_with("WITHOUT TLS").is_some(),
        "the non-loopback address without TLS is warned about"
    );
}

#[cfg(unix)]
#[test]
fn connections_are_capped_below_the_limit_of_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve_with(
        &data,
        &["--listen", "127.0.0.1:0"],
        &[("CUSTOMS_CONNECTIONS_MAX", "1000")],
        Some(300),
    );
    let warning = server.line_with("serve.connections_max is above");
    let warning = warning.expect("the cap is lowered with a warning");
    assert!(warning.contains("used=220"), "{warning}");
}

#[test]
fn serve_terminates_tls_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let file = dir.path().join("customs.toml");
    std::fs::write(
        &file,
        format!(
            "[serve]\nlisten = \"127.0.0.1:0\"\n[tls]\ncertificate = {:?}\nkey = {:?}\n",
            cert.to_str().unwrap(),
            key.to_str().unwrap()
        ),
    )
    .unwrap();

    let check = customs(
        &["--config", file.to_str().unwrap(), "config", "check"],
        &[],
    );
    let server = serve(
        &dir.path().join("data"),
        &[],
        &[("CUSTOMS_CONFIG", file.to_str().unwrap())],
    );

    assert!(check.status.success(), "{}", stderr(&check));
    assert!(
        server.address.starts_with("https://127.0.0.1:"),
        "{}",
        server.address
    );
}

#[cfg(unix)]
#[test]
fn sigterm_with_slow_clients_connected_stops_the_server_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(&dir.path().join("data"), &["--listen", "127.0.0.1:0"], &[]);
    let socket = server.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut stream = std::net::TcpStream::connect(&socket).unwrap();
        stream
            .write_all(b"GET /v1/health HTTP/1.1\r\nHost: te")
            .unwrap();
        slow.push(stream);
    }
    std::thread::sleep(Duration::from_millis(200));

    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still running {:?} after SIGTERM",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    assert!(status.success(), "{status:?}");
    // Far below the shutdown grace: the half-sent heads are owed nothing.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(slow);
}

/// `GET path` on `socket` (host:port) over plain HTTP/1.1, with a bearer token if given: the
/// whole answer.
fn http_get(socket: &str, path: &str, token: Option<&str>) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\n{authorization}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn metrics_on_their_own_listener_behind_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "scrape-token-0123456789";
    let server = serve(
        &dir.path().join("data"),
        &["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
        &[("CUSTOMS_METRICS_TOKEN", token)],
    );
    let mut metrics_at = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = server.head.clone();
    while metrics_at.is_none() && Instant::now() < deadline {
        if let Ok(line) = server.rest.recv_timeout(Duration::from_millis(200)) {
            metrics_at = line
                .strip_prefix("Metrics: http://")
                .map(|rest| rest.trim_end_matches("/metrics").to_owned());
            seen.push(line);
        }
    }
    let metrics_at = metrics_at.unwrap_or_else(|| panic!("the metrics address: {seen:#?}"));
    let api = server.address.trim_start_matches("http://");

    let with_token = http_get(&metrics_at, "/metrics", Some(token));
    let without = http_get(&metrics_at, "/metrics", None);
    let on_the_api = http_get(api, "/metrics", Some(token));

    assert!(with_token.starts_with("HTTP/1.1 200 "), "{with_token}");
    assert!(with_token.contains("# TYPE"), "{with_token}");
    assert!(without.starts_with("HTTP/1.1 401 "), "{without}");
    assert!(on_the_api.starts_with("HTTP/1.1 404 "), "{on_the_api}");
}
