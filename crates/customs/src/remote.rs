//! The desk commands against a running server (`--server URL`, or a profile's `server`): the same
//! calls the commands make on the data folder's store, made over the HTTP API as the user of a
//! bearer token. TLS is rustls with the ring provider; the system's roots are trusted, and a
//! private CA's certificates besides them with `client.ca_file`.
//!
//! An answer the server refuses is its problem (application/problem+json) told in full: the
//! detail in English and Chinese, every field error with its path, the status and the request id.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::de::DeserializeOwned;
use wire::Problem;

/// Time to open a connection (TCP and TLS) to the server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Time for one request's whole answer: above the server's own request timeout (30 s by
/// default), so that the server's answer, not the client's impatience, says what happened.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest answer read from the server: a page of 500 declarations is far below it; anything
/// larger is not an answer of this API.
pub const ANSWER_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Times a request the server turned away for now (429 too many requests, 503 unavailable, both
/// before doing anything) is sent again, after the `Retry-After` it names.
pub const RETRIES_MAX: u32 = 3;

/// Longest wait before sending again, whatever `Retry-After` says.
pub const RETRY_WAIT_MAX: Duration = Duration::from_secs(10);

/// Largest token file read: a token is a few dozen characters.
pub const TOKEN_FILE_BYTES_MAX: u64 = 4096;

/// A refusal by the server: its status and problem (or the text of an answer that is not one).
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub problem: Option<Problem>,
    pub text: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(problem) = &self.problem else {
            return write!(
                f,
                "the server answered HTTP {} without a problem: {} / 服务器返回 HTTP {}",
                self.status,
                self.text.chars().take(500).collect::<String>(),
                self.status
            );
        };
        if problem.errors.is_empty() {
            write!(f, "{} / {}", problem.detail, problem.detail_zh)?;
        } else {
            write!(f, "refused with {} error(s):", problem.errors.len())?;
            for e in &problem.errors {
                write!(
                    f,
                    "\n  {}: {} / {} [{}]",
                    e.path, e.message_en, e.message_zh, e.code
                )?;
            }
            write!(f, "\n{} / {}", problem.detail, problem.detail_zh)?;
        }
        write!(
            f,
            " (HTTP {} {}",
            problem.status,
            problem
                .problem_type
                .strip_prefix(http_api::PROBLEM_TYPE_PREFIX)
                .unwrap_or(&problem.problem_type)
        )?;
        if let Some(id) = &problem.request_id {
            write!(f, ", request {id}")?;
        }
        write!(f, ")")
    }
}

impl std::error::Error for Refused {}

/// The server's status of a refusal, if the error is one.
pub fn refused_status(error: &anyhow::Error) -> Option<u16> {
    error.downcast_ref::<Refused>().map(|r| r.status)
}

/// A client of one server, as the user of one token.
#[derive(Clone)]
pub struct Remote {
    client: reqwest::Client,
    base: reqwest::Url,
    token: String,
}

/// A path that starts with `~/` is in the user's home folder (`$HOME`), as a shell reads it: a
/// configuration file names `~/.config/customs/broker.token`.
pub fn expand_home(path: &Path) -> std::path::PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => Path::new(&home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// The bearer token kept in a file: refused if others may read it (as ssh refuses a private
/// key), if it is larger than a token, or empty.
pub fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let path = &expand_home(path);
    let metadata = std::fs::metadata(path).with_context(|| {
        format!(
            "the token file {} cannot be read / 无法读取令牌文件",
            path.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "the token file {path} may be read by others (mode {mode:03o}): refusing to use \
                 it; make it private with `chmod 600 {path}` / 令牌文件 {path} 可被他人读取（权限 \
                 {mode:03o}），拒绝使用；请执行 chmod 600 {path}",
                path = path.display()
            );
        }
    }
    if metadata.len() > TOKEN_FILE_BYTES_MAX {
        anyhow::bail!(
            "the token file {} holds {} bytes, more than a token ({TOKEN_FILE_BYTES_MAX} at most) \
             / 令牌文件过大",
            path.display(),
            metadata.len()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("the token file {} is empty / 令牌文件为空", path.display());
    }
    Ok(token.to_owned())
}

/// A private CA's certificates (PEM), checked to hold at least one.
pub fn read_ca_file(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let path = &expand_home(path);
    let pem = std::fs::read(path).with_context(|| {
        format!(
            "the CA file {} cannot be read / 无法读取 CA 证书文件",
            path.display()
        )
    })?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
        anyhow::anyhow!(
            "the CA file {} is not PEM certificates: {error} / CA 证书文件不是 PEM 证书",
            path.display()
        )
    })?;
    if certificates.is_empty() {
        anyhow::bail!(
            "the CA file {} holds no certificate / CA 证书文件中没有证书",
            path.display()
        );
    }
    Ok(certificates)
}

impl Remote {
    pub fn new(server: &str, ca_file: Option<&Path>, token: String) -> anyhow::Result<Remote> {
        // Checked by the configuration; parsed again for its type.
        let mut base = reqwest::Url::parse(server)
            .with_context(|| format!("client.server {server:?} is not a URL"))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(true)
            .https_only(base.scheme() == "https")
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A redirect would carry the token to another place: none is followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("customs-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(ca_file) = ca_file {
            for certificate in read_ca_file(ca_file)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        Ok(Remote {
            client: builder.build().context("building the HTTP client")?,
            base,
            token,
        })
    }

    fn url(&self, path: &str) -> anyhow::Result<reqwest::Url> {
        self.base
            .join(path.trim_start_matches('/'))
            .with_context(|| format!("{path} on {}", self.base))
    }

    /// One path segment (a number, an id), encoded.
    pub fn segment(text: &str) -> String {
        let mut url = reqwest::Url::parse("http://x/").expect("a URL");
        url.path_segments_mut().expect("a base").push(text);
        url.path().trim_start_matches('/').to_owned()
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let request = self.client.get(self.url(path)?).query(query);
        self.send(request).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<T> {
        self.send_body(
            reqwest::Method::POST,
            path,
            &[],
            key,
            body,
            Some("application/json"),
        )
        .await
    }

    pub async fn send_body<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        key: Option<&str>,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> anyhow::Result<T> {
        let mut request = self
            .client
            .request(method, self.url(path)?)
            .query(query)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let request = self.client.delete(self.url(path)?);
        self.send(request).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let request = request.bearer_auth(&self.token).build()?;
        let url = request.url().clone();
        let mut attempt = 0;
        let mut answer = loop {
            let this = request
                .try_clone()
                .context("the request cannot be sent again")?;
            let answer = self.client.execute(this).await.map_err(|error| {
                anyhow::anyhow!(
                    "the server {} cannot be reached: {} / 无法连接服务器",
                    self.base,
                    chain(&error)
                )
            })?;
            let status = answer.status().as_u16();
            if !matches!(status, 429 | 503) || attempt == RETRIES_MAX {
                break answer;
            }
            attempt += 1;
            let wait = answer
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs);
            tokio::time::sleep(wait.min(RETRY_WAIT_MAX)).await;
        };
        let status = answer.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .with_context(|| format!("reading the answer of {url}"))?
        {
            if bytes.len() + chunk.len() > ANSWER_BYTES_MAX {
                anyhow::bail!(
                    "the answer of {url} is larger than {ANSWER_BYTES_MAX} bytes / 服务器应答过大"
                );
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(Refused {
                status: status.as_u16(),
                problem: serde_json::from_slice(&bytes).ok(),
                text: String::from_utf8_lossy(&bytes).into_owned(),
            }
            .into());
        }
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the answer of {url} is not what this version of customs reads (HTTP {status}) / \
                 服务器应答格式不符"
            )
        })
    }
}

/// An error and its causes on one line (reqwest's own message hides the TLS or DNS cause).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.token");
        std::fs::write(&path, "secret-token\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let text = read_token_file(&path).unwrap_err().to_string();
            assert!(text.contains(&format!("mode {mode:03o}")), "{text}");
            assert!(
                text.contains("chmod 600") && text.contains("令牌文件"),
                "{text}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "secret-token");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "secret-token");
    }

    #[test]
    fn a_token_file_is_a_token_at_most() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        for (size, ok) in [
            (TOKEN_FILE_BYTES_MAX as usize, true),
            (TOKEN_FILE_BYTES_MAX as usize + 1, false),
        ] {
            std::fs::write(&path, "a".repeat(size)).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(read_token_file(&path).is_ok(), ok, "{size} bytes");
        }
        std::fs::write(&path, " \n").unwrap();
        assert!(
            read_token_file(&path)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn a_refusal_is_told_in_full() {
        let problem: Problem = serde_json::from_value(serde_json::json!({
            "type": "urn:opencustoms:problem:invalid-request", "title": "The request has errors",
            "status": 422, "detail": "the request has 1 error(s); each names its field",
            "detail_zh": "请求有 1 处错误，每处均注明字段", "request_id": "r-1",
            "errors": [{"path": "transport.containers[2]", "code": "invalid_format",
                        "message_en": "check digit", "message_zh": "校验位"}]
        }))
        .unwrap();
        let text = Refused {
            status: 422,
            problem: Some(problem),
            text: String::new(),
        }
        .to_string();
        assert!(
            text.contains("transport.containers[2]: check digit / 校验位 [invalid_format]"),
            "{text}"
        );
        assert!(
            text.contains("HTTP 422 invalid-request, request r-1"),
            "{text}"
        );
        assert!(text.contains("请求有 1 处错误"), "{text}");
    }

    #[test]
    fn a_path_in_the_home_folder_is_expanded() {
        let home = std::env::var_os("HOME").expect("HOME is set");
        assert_eq!(
            expand_home(Path::new("~/.config/customs/broker.token")),
            Path::new(&home).join(".config/customs/broker.token")
        );
        assert_eq!(
            expand_home(Path::new("/etc/ca.pem")),
            Path::new("/etc/ca.pem")
        );
        assert_eq!(expand_home(Path::new("~other/x")), Path::new("~other/x"));
    }

    /// A server that turns every request away for now: the client sends it again
    /// `RETRIES_MAX` times, then tells the refusal.
    #[tokio::test]
    async fn a_request_turned_away_is_sent_again_at_most_the_retries() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let seen = Arc::new(AtomicU32::new(0));
        let counted = seen.clone();
        let app = axum::Router::new().route(
            "/v1/tasks",
            axum::routing::get(move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    (
                        axum::http::StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "0"), ("content-type", "application/problem+json")],
                        r#"{"type":"urn:opencustoms:problem:too-many-requests","title":"Too many requests","status":429,"detail":"slow down","detail_zh":"请稍后再试"}"#,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let remote = Remote::new(&format!("http://{address}"), None, "t".into()).unwrap();

        let refused = remote
            .get::<serde_json::Value>("/v1/tasks", &[])
            .await
            .unwrap_err();

        assert_eq!(seen.load(Ordering::SeqCst), RETRIES_MAX + 1);
        assert_eq!(refused_status(&refused), Some(429));
        assert!(
            refused.to_string().contains("slow down / 请稍后再试"),
            "{refused}"
        );
    }

    #[test]
    fn a_segment_is_encoded() {
        assert_eq!(Remote::segment("2200/x y"), "2200%2Fx%20y");
        assert_eq!(Remote::segment("220020261000000001"), "220020261000000001");
    }
}
