//! TLS from an instance to PostgreSQL (issue 13): a PostgreSQL server of the test's own (initdb
//! into a temporary folder, on a free port) with `ssl = on`, a certificate for `localhost`
//! signed by a CA the test makes with the openssl CLI, and a pg_hba.conf that admits `hostssl`
//! only: a connection that succeeds is encrypted, and PostgreSQL says so
//! (`pg_stat_ssl.ssl` of the session). Each `sslmode` is tried against it, the store opened
//! through `verify-full`, and `verify-full` refuses a host name the certificate does not hold,
//! saying so. It fails, never skips, without PostgreSQL's server binaries or openssl.

use std::path::{Path, PathBuf};
use std::process::Command;

use store_postgres::{PostgresOptions, PostgresStore, parse_database_url};
use store_tests::story_signer;

/// The newest PostgreSQL server binaries installed.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server binaries under /usr/lib/postgresql (Debian's postgresql)")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version with pg_ctl").1
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn run(program: &Path, args: &[&str], as_postgres: bool) -> String {
    let output = if as_postgres && running_as_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .output()
    } else {
        Command::new(program).args(args).output()
    }
    .unwrap_or_else(|err| panic!("{} runs: {err}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn openssl(args: &[&str]) {
    run(Path::new("openssl"), args, false);
}

/// A CA (key and self-signed certificate) in `dir`, named `name`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name}"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    cert
}

/// A PostgreSQL server with ssl = on, hostssl only, stopped (immediately) when dropped.
struct TlsPostgres {
    bin: PathBuf,
    folder: tempfile::TempDir,
    port: u16,
    ca: PathBuf,
    other_ca: PathBuf,
}

impl TlsPostgres {
    fn start() -> TlsPostgres {
        let bin = postgres_bin();
        let folder = tempfile::tempdir().unwrap();
        let dir = folder.path().to_owned();
        let dir = dir.as_path();
        let ca = make_ca(dir, "customs-test-ca");
        let other_ca = make_ca(dir, "another-ca");
        // The server's certificate: for localhost only (not for 127.0.0.1), signed by the CA.
        let key = dir.join("server.key");
        let csr = dir.join("server.csr");
        let cert = dir.join("server.pem");
        let ext = dir.join("server.ext");
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
        ]);
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            ca.to_str().unwrap(),
            "-CAkey",
            dir.join("customs-test-ca.key").to_str().unwrap(),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            ext.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        if running_as_root() {
            // PostgreSQL refuses to run as root, and to read a key others can read.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let mut mode = std::fs::metadata(&key).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o600);
        std::fs::set_permissions(&key, mode).unwrap();
        let mut open = std::fs::metadata(dir).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut open, 0o755);
        std::fs::set_permissions(dir, open).unwrap();

        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let server = TlsPostgres {
            bin,
            folder,
            port,
            ca,
            other_ca,
        };
        let cluster = server.cluster();
        run(
            &server.bin.join("initdb"),
            &[
                "-D",
                &cluster,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            true,
        );
        // Encrypted connections only: a plain one finds no pg_hba.conf line.
        std::fs::write(
            Path::new(&cluster).join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} \
             -c ssl_key_file={}",
            server.port,
            dir.display(),
            cert.display(),
            key.display()
        );
        let log = dir.join("server.log").display().to_string();
        run(
            &server.bin.join("pg_ctl"),
            &["-D", &cluster, "-o", &options, "-l", &log, "-w", "start"],
            true,
        );
        server
    }

    fn cluster(&self) -> String {
        self.folder.path().join("cluster").display().to_string()
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres{query}", self.port)
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let cluster = self.cluster();
        let args = ["-D", cluster.as_str(), "-m", "immediate", "stop"];
        let _ = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .args(args)
                .output()
        } else {
            Command::new(&pg_ctl).args(args).output()
        };
    }
}

/// Connects with `url` as the store does; PostgreSQL's view of the session's TLS
/// (`ssl`, `version`), or the error in full.
async fn session_tls(url: &str) -> Result<(bool, String), String> {
    let (config, tls) = parse_database_url(url)?;
    let (client, connection) = config.connect(tls).await.map_err(|err| {
        format!(
            "{err}: {}",
            std::error::Error::source(&err)
                .map(|s| s.to_string())
                .unwrap_or_default()
        )
    })?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT ssl, coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|err| err.to_string())?;
    Ok((row.get(0), row.get(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_to_postgresql_are_encrypted_and_verify_full_checks_the_host() {
    let server = TlsPostgres::start();
    let ca = server.ca.display().to_string();
    let other_ca = server.other_ca.display().to_string();
    let verify = |mode: &str, ca: &str| format!("?sslmode={mode}&sslrootcert={ca}");

    // (host, query, Ok(()) when encrypted, or Err(what the refusal says))
    let cases: Vec<(&str, String, Result<(), &str>)> = vec![
        ("localhost", verify("verify-full", &ca), Ok(())),
        ("localhost", verify("verify-ca", &ca), Ok(())),
        // The certificate names localhost, not the address.
        ("127.0.0.1", verify("verify-ca", &ca), Ok(())),
        (
            "127.0.0.1",
            verify("verify-full", &ca),
            Err("PostgreSQL's certificate does not name the host 127.0.0.1 (sslmode=verify-full"),
        ),
        (
            "localhost",
            verify("verify-full", &other_ca),
            Err("PostgreSQL's certificate at localhost is not trusted (sslmode=verify-full)"),
        ),
        ("127.0.0.1", "?sslmode=require".to_owned(), Ok(())),
        // libpq's default, prefer: encrypted when the server offers it.
        ("127.0.0.1", String::new(), Ok(())),
        // Plain text: this server admits none.
        (
            "127.0.0.1",
            "?sslmode=disable".to_owned(),
            Err("no encryption"),
        ),
    ];
    for (host, query, expected) in &cases {
        let url = server.url(host, query);
        match (session_tls(&url).await, expected) {
            (Ok((ssl, version)), Ok(())) => {
                assert!(ssl, "{url}: connected but pg_stat_ssl says unencrypted");
                assert!(version.starts_with("TLSv1."), "{url}: {version}");
            }
            (Err(err), Err(says)) => assert!(err.contains(says), "{url}: {err}"),
            (got, _) => panic!("{url}: expected {expected:?}, got {got:?}"),
        }
    }

    // The store itself, on verify-full: migrates and opens over TLS (the server admits nothing
    // else), and refuses the wrong host name with the same clear reason.
    let store = PostgresStore::connect(
        &server.url("localhost", &verify("verify-full", &ca)),
        PostgresOptions::production(),
        story_signer(),
    )
    .await
    .expect("the store opens over verify-full");
    store.close();
    let refused = PostgresStore::connect(
        &server.url("127.0.0.1", &verify("verify-full", &ca)),
        PostgresOptions::production(),
        story_signer(),
    )
    .await
    .err()
    .expect("verify-full refuses a host the certificate does not name");
    let refused = format!("{refused:#}");
    eprintln!("verify-full to 127.0.0.1 refused: {refused}");
    assert!(
        refused.contains("does not name the host 127.0.0.1"),
        "{refused}"
    );
}
