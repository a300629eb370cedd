//! The door of the declaration routes: who is calling, and are they calling too often.
//!
//! A request with a token the service knows is limited per token; any other request (no token, an
//! unknown one) per client address as well, so that guessing tokens is throttled like any flood.
//! Both budgets are charged before the token is looked up: an unknown token costs its address a
//! request before it costs the store a read. The address is the TCP peer's: behind a reverse
//! proxy all anonymous traffic shares one budget, which is the safe side, since
//! `X-Forwarded-For` can be forged.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clearance::{Caller, ClearanceError};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use store::Store;

use crate::AppState;
use crate::config::ApiConfig;
use crate::problem::ApiError;

/// How long a token that authenticated is spared its address's budget. Short, so that a token
/// revoked or expired since pays from its address again soon; long next to one request.
pub const AUTHENTICATED_MEMORY: Duration = Duration::from_secs(60);

/// Whom a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    /// A keyed hash of the bearer token: the limiter never holds a token itself.
    Token(u64),
    /// No usable token; `None` when the server was started without peer addresses.
    Address(Option<IpAddr>),
}

pub(crate) struct ClientLimiter {
    limiter: DefaultKeyedRateLimiter<Client>,
    /// Seeded randomly per process, so that nobody can craft a token that shares another's budget.
    token_hasher: RandomState,
    clients_max: usize,
    /// Tokens (their keyed hashes) that authenticated within [`AUTHENTICATED_MEMORY`], which
    /// are not charged to their address: many users behind one proxy keep their own budgets.
    /// This decides only whose budget is charged, never whether a token is valid.
    authenticated: Mutex<HashMap<Client, Instant>>,
}

impl ClientLimiter {
    pub(crate) fn new(config: &ApiConfig, clients_max: usize) -> ClientLimiter {
        let per_second = NonZeroU32::new(config.requests_per_second_per_client)
            .expect("ApiConfig::requests_per_second_per_client is at least 1");
        let burst = NonZeroU32::new(config.burst_per_client)
            .expect("ApiConfig::burst_per_client is at least 1");
        let quota = Quota::per_second(per_second).allow_burst(burst);
        ClientLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            token_hasher: RandomState::new(),
            clients_max,
            authenticated: Mutex::new(HashMap::new()),
        }
    }

    fn authenticated(&self) -> MutexGuard<'_, HashMap<Client, Instant>> {
        // Each change is one insert or remove: a panic cannot leave the map half-changed.
        self.authenticated
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn recently_authenticated(&self, client: Client) -> bool {
        self.authenticated()
            .get(&client)
            .is_some_and(|at| at.elapsed() < AUTHENTICATED_MEMORY)
    }

    fn remember_authenticated(&self, client: Client) {
        let mut authenticated = self.authenticated();
        // Bounded like the limiter: forget the stale ones first, and if every one is fresh, all
        // of them (the next request of each pays once from its address's budget again).
        if authenticated.len() >= self.clients_max {
            authenticated.retain(|_, at| at.elapsed() < AUTHENTICATED_MEMORY);
            if authenticated.len() >= self.clients_max {
                authenticated.clear();
            }
        }
        authenticated.insert(client, Instant::now());
    }

    fn forget_authenticated(&self, client: Client) {
        self.authenticated().remove(&client);
    }

    fn check(&self, client: Client) -> Result<(), ApiError> {
        // Forget clients whose budget is full again, so that the map stays bounded by the clients
        // active within one refill period rather than growing with every address ever seen.
        if self.limiter.len() >= self.clients_max {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Retry-After counts whole seconds; rounding down would invite a retry that fails.
            ApiError::too_many_requests(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }

    /// Charges a console log-in to its address, before the password is checked (a password
    /// costs an Argon2 hash: guessing is as slow as the address budget).
    pub(crate) fn check_log_in(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        self.check(Client::Address(address))
    }

    /// Charges a console page to its session's token, like an API call with that token.
    pub(crate) fn check_session(&self, token: &str) -> Result<(), ApiError> {
        self.check(self.token(token))
    }

    fn token(&self, token: &str) -> Client {
        Client::Token(self.token_hasher.hash_one(token))
    }

    #[cfg(test)]
    pub(crate) fn n_clients(&self) -> usize {
        self.limiter.len()
    }

    #[cfg(test)]
    pub(crate) fn check_address(&self, address: IpAddr) -> bool {
        self.check(Client::Address(Some(address))).is_ok()
    }
}

/// Authenticates and rate-limits; the handler finds the `Caller` in the request's extensions.
pub(crate) async fn guard<S: Store>(
    State(state): State<AppState<S>>,
    mut request: Request,
    next: Next,
) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    match admit(&state, request.headers(), address).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// The door of the open routes (health, metrics, the API description): no token needed, but each
/// client address has a budget, so an anonymous flood cannot cost unlimited store reads.
pub(crate) async fn open_guard<S: Store>(
    State(state): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    match state.limiter.check(Client::Address(address)) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn admit<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    address: Option<IpAddr>,
) -> Result<Caller, ApiError> {
    let Some(token) = bearer_token(headers) else {
        state.limiter.check(Client::Address(address))?;
        return Err(ApiError::unauthenticated());
    };
    // Every budget is charged before the token is looked up, so that no request costs a store
    // read its client could not afford: the token's own budget always, and its address's
    // budget unless the token authenticated recently. Guessed tokens are each new, so a guesser
    // pays from its address's budget for every guess, before the read.
    let client = state.limiter.token(token);
    state.limiter.check(client)?;
    if !state.limiter.recently_authenticated(client) {
        state.limiter.check(Client::Address(address))?;
    }
    match state.clearance.authenticate(token).await {
        Ok(caller) => {
            state.limiter.remember_authenticated(client);
            Ok(caller)
        }
        Err(ClearanceError::Unauthenticated) => {
            state.metrics.record_unknown_token();
            state.limiter.forget_authenticated(client);
            Err(ApiError::unauthenticated())
        }
        // Expired, revoked or its user disabled: charged like an unknown token, told why.
        Err(refused @ ClearanceError::TokenRefused(_)) => {
            state.limiter.check(Client::Address(address))?;
            Err(refused.into())
        }
        Err(other) => Err(other.into()),
    }
}

/// The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn authorization(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn bearer_tokens_are_read_and_other_schemes_are_not() {
        assert_eq!(
            bearer_token(&authorization("Bearer oc_abc")),
            Some("oc_abc")
        );
        assert_eq!(
            bearer_token(&authorization("bearer  oc_abc ")),
            Some("oc_abc")
        );
        assert_eq!(bearer_token(&authorization("Basic dXNlcjpwdw==")), None);
        assert_eq!(bearer_token(&authorization("Bearer ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
