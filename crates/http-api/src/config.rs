//! The limits of the HTTP API: every one a named constant, and the ones an operator tunes gathered
//! in `ApiConfig`.

use std::time::Duration;

/// Largest request body. A declaration of 999 items (the most allowed) with 255-character
/// Chinese descriptions is about 1 MiB of JSON; 4 MiB leaves room for that without letting one
/// request hold much memory.
pub const BODY_LIMIT_BYTES_DEFAULT: usize = 4 * 1024 * 1024;
/// Largest body of a release import (`POST /v1/releases`), the only route that takes more than
/// [`BODY_LIMIT_BYTES_DEFAULT`]. The service takes up to `clearance::releases::RELEASE_BYTES_MAX`
/// bytes of file text; in a JSON string each line break becomes `\n` and each quote of a quoted
/// CSV field `\"`, one byte more each. A quarter more is ample for CSV lines of tens of bytes, so
/// that a release the service would take is not refused at the door for its escaping.
pub const RELEASE_BODY_LIMIT_BYTES_DEFAULT: usize =
    clearance::releases::RELEASE_BYTES_MAX + clearance::releases::RELEASE_BYTES_MAX / 4;
const _: () = assert!(
    RELEASE_BODY_LIMIT_BYTES_DEFAULT > clearance::releases::RELEASE_BYTES_MAX
        && RELEASE_BODY_LIMIT_BYTES_DEFAULT > BODY_LIMIT_BYTES_DEFAULT
);
/// Sustained requests per second one client (a bearer token, or an address without one) may send.
/// A broker's system lodging a batch sends a few per second; twenty is generous for that and
/// small next to what one SQLite writer commits.
pub const REQUESTS_PER_SECOND_PER_CLIENT_DEFAULT: u32 = 20;
/// Requests one client may send at once before the sustained rate applies.
pub const BURST_PER_CLIENT_DEFAULT: u32 = 40;
/// Longest a request may take, body upload included. A lodging of 999 items takes well under a
/// second; thirty seconds only cuts off what is stuck.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Longest `x-request-id` taken from a client; a longer or non-printable one is replaced, so that a
/// client cannot write large or control characters into our logs.
pub const REQUEST_ID_LENGTH_MAX: usize = 128;
/// Clients the rate limiter remembers before it forgets the idle ones (about 100 bytes each).
pub const RATE_LIMITED_CLIENTS_MAX: usize = 100_000;

/// How the API protects itself. No `Default`: the caller chooses (`production()`, or a test's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Larger bodies get 413.
    pub body_limit_bytes: usize,
    /// Larger release imports get 413; every other route takes `body_limit_bytes`.
    pub release_body_limit_bytes: usize,
    /// At least 1.
    pub requests_per_second_per_client: u32,
    /// At least 1.
    pub burst_per_client: u32,
    /// Slower requests get 503.
    pub request_timeout: Duration,
    /// Requests a declarant or broker may have in progress at once; one more gets 429. At least 1.
    pub trade_requests_in_progress_max: usize,
    /// Requests a customs user may have in progress at once; one more gets 429. At least 1.
    pub customs_requests_in_progress_max: usize,
    /// The time zone the console shows times in (`--time-zone`; default
    /// `DISPLAY_TIME_ZONE_DEFAULT`, UTC+08:00). The API's own times stay UTC.
    pub display_offset: chrono::FixedOffset,
    /// Who may read `/metrics` (see [`MetricsAccess`]).
    pub metrics_access: MetricsAccess,
    /// Whether webhooks may target private, loopback or link-local networks
    /// (`serve --webhook-private-targets`; off by default: SSRF).
    pub webhook_private_targets: bool,
}

/// Who may read `/metrics`. The metrics say how busy the server is, which routes are called and
/// how many tokens are guessed: not secret, but not for anyone on the network either. Fail-closed:
/// with nothing configured, only a client on the same machine reads them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct MetricsAccess {
    /// `Authorization: Bearer <token>` is required, on whichever listener serves `/metrics`.
    pub token: Option<String>,
    /// `/metrics` is served on a listener of its own (`metrics_router`), not on the API's, which
    /// then answers 404 for it. Without a token, whoever reaches that listener reads them: the
    /// operator chose its address.
    pub own_listener: bool,
}

/// Never the token itself, which this config's `Debug` would otherwise print into logs.
impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("own_listener", &self.own_listener)
            .finish()
    }
}

impl ApiConfig {
    pub fn production() -> ApiConfig {
        ApiConfig {
            body_limit_bytes: BODY_LIMIT_BYTES_DEFAULT,
            release_body_limit_bytes: RELEASE_BODY_LIMIT_BYTES_DEFAULT,
            requests_per_second_per_client: REQUESTS_PER_SECOND_PER_CLIENT_DEFAULT,
            burst_per_client: BURST_PER_CLIENT_DEFAULT,
            request_timeout: REQUEST_TIMEOUT_DEFAULT,
            trade_requests_in_progress_max: crate::admission::TRADE_REQUESTS_IN_PROGRESS_MAX,
            customs_requests_in_progress_max: crate::admission::CUSTOMS_REQUESTS_IN_PROGRESS_MAX,
            display_offset: crate::time_zone::display_offset_default(),
            metrics_access: MetricsAccess::default(),
            webhook_private_targets: false,
        }
    }
}
