//! The web console: the single window's pages, served by the same process and reading and
//! writing through the same service calls as the API (no second path to the data).
//!
//! Server-rendered (askama templates under `templates/console/`, checked at compile time), in
//! English and Chinese (Fluent messages under `locales/`; Chinese by default for the China
//! profile, switched per user by `?lang=`, remembered in a cookie). No script at all yet, and a
//! content security policy that allows only this site's own files.
//!
//! People sign in with a user name and password (`Clearance::log_in`, Argon2id): the session is a
//! short-lived bearer token of the platform's own token machinery (expiry, revocation, the audit
//! chain), kept in an HttpOnly, Secure, SameSite=Strict cookie that pages send back; signing out
//! revokes it. Every form carries a CSRF token that must equal its cookie (double submit); the
//! log-in form is charged to the client's address before the password is checked.
//!
//! What a page shows a trade user is built from the trade's own views (`TradeEventPage`, the
//! selection's lane and what is asked): no targeting reason can reach it, as in the API. A
//! declaration another enterprise's user asks for is the not-found page, like an absent one.

use std::net::SocketAddr;
use std::sync::OnceLock;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use clearance::{Caller, ClearanceError};
use cookie::{Cookie, SameSite};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use serde::Deserialize;
use serde_json::Value;
use store::Store;
use unic_langid::LanguageIdentifier;

use crate::AppState;

// Each area of the console in its own module, with its routes, templates and message file.
mod admin;
mod analyst;
mod audit;
mod dashboards;
mod declarations;
mod form;
mod lodging;
mod officer;
mod payment;
mod reassessments;
mod tasks;

pub use admin::CONSOLE_RELEASE_UPLOAD_BYTES_MAX;
pub use lodging::CONSOLE_UPLOAD_DECLARATIONS_MAX;
pub use lodging::{CONSOLE_UPLOAD_RESULT_TTL_SECONDS, CONSOLE_UPLOAD_RESULTS_KEPT};
pub use officer::{CONSOLE_FINDING_PARTS_MAX, CONSOLE_FINDING_PHOTOS_MAX};

/// Every page and form of the console. Its own sessions (cookies) and rate limits, not the API's
/// bearer guard.
pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(home))
        .route(CONSOLE_PATH, get(home))
        .route("/console/static/{name}", get(static_file))
        .route("/console/login", get(log_in_page).post(log_in::<S>))
        .route("/console/logout", post(log_out::<S>))
        .merge(audit::routes())
        .merge(declarations::routes())
        .merge(form::routes())
        .merge(lodging::routes())
        .merge(tasks::routes())
        .merge(admin::routes())
        .merge(dashboards::routes())
        .merge(officer::routes())
        .merge(payment::routes())
        .merge(analyst::routes())
        .merge(reassessments::routes())
        .route("/console/{*rest}", get(unknown_page))
}

/// Where the console lives.
pub(crate) const CONSOLE_PATH: &str = "/console";
/// The cookie holding the session's bearer token.
pub(crate) const SESSION_COOKIE: &str = "oc_session";
/// The cookie holding the CSRF token every form must repeat.
pub(crate) const CSRF_COOKIE: &str = "oc_csrf";
/// The cookie remembering the user's language.
pub(crate) const LANGUAGE_COOKIE: &str = "oc_lang";
/// Declarations a page lists.
pub(crate) const CONSOLE_PAGE_SIZE: usize = 50;
/// Longest user name or password a log-in form may carry; more is refused before any hashing.
pub(crate) const LOG_IN_FIELD_LENGTH_MAX: usize = 128;
/// Only this site's files: no inline script or style, no framing, forms post only here.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// The console's own files, served from the binary (the console works offline): name, media
/// type, content. Vendored libraries keep their licence and provenance beside them.
const STATIC_FILES: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../static/console.css"),
    ),
    (
        "form.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/form.js"),
    ),
    (
        "console-upload.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console-upload.js"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/vendor/htmx/htmx.min.js"),
    ),
];

/// The console's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    En,
    Zh,
}

impl Language {
    fn parse(text: &str) -> Option<Language> {
        match text {
            "en" => Some(Language::En),
            "zh" | "zh-CN" => Some(Language::Zh),
            _ => None,
        }
    }

    /// The tag of the page's `lang` attribute.
    fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh-CN",
        }
    }

    /// The value of `?lang=` and of the cookie.
    fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }

    fn other(self) -> Language {
        match self {
            Language::En => Language::Zh,
            Language::Zh => Language::En,
        }
    }
}

type Bundle = FluentBundle<FluentResource>;

/// Each area's messages: one Fluent file per area of the console and language, so that areas are
/// written side by side. Both languages list the same areas (a test checks every message).
macro_rules! locales {
    ($($area:literal),* $(,)?) => {
        (
            &[$(($area, include_str!(concat!("../../locales/en/", $area, ".ftl")))),*],
            &[$(($area, include_str!(concat!("../../locales/zh-CN/", $area, ".ftl")))),*],
        )
    };
}

type Locale = &'static [(&'static str, &'static str)];

/// The console's message files, English then Chinese.
const LOCALES: (Locale, Locale) = locales!(
    "console",
    "audit",
    "form",
    "admin",
    "dashboards",
    "officer",
    "payment",
    "analyst"
);

fn bundle(tag: &str, sources: Locale) -> Bundle {
    let language: LanguageIdentifier = tag.parse().expect("a valid language tag");
    let mut bundle = FluentBundle::new_concurrent(vec![language]);
    // The pages are HTML: Unicode isolation marks around placeables would only be noise.
    bundle.set_use_isolating(false);
    for (area, source) in sources {
        let resource =
            FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(_, errors)| {
                panic!("locales/{tag}/{area}.ftl does not parse: {errors:?}")
            });
        bundle.add_resource(resource).unwrap_or_else(|errors| {
            panic!("locales/{tag}/{area}.ftl repeats a message: {errors:?}")
        });
    }
    bundle
}

/// The messages of both languages, parsed once.
fn bundles() -> &'static (Bundle, Bundle) {
    static BUNDLES: OnceLock<(Bundle, Bundle)> = OnceLock::new();
    BUNDLES.get_or_init(|| (bundle("en", LOCALES.0), bundle("zh-CN", LOCALES.1)))
}

/// The translator a page renders with.
pub(crate) struct Tr {
    language: Language,
}

impl Tr {
    fn bundle(&self) -> &'static Bundle {
        let (en, zh) = bundles();
        match self.language {
            Language::En => en,
            Language::Zh => zh,
        }
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> String {
        let bundle = self.bundle();
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            // A missing message shows its id rather than nothing (and a test lists them).
            return id.to_owned();
        };
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned()
    }

    pub(crate) fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// A message whose id is `prefix-key` (a status, a receipt), or the key itself if none.
    pub(crate) fn of(&self, prefix: &str, key: &str) -> String {
        let id = format!("{prefix}-{key}");
        match self.bundle().get_message(&id) {
            Some(_) => self.t(&id),
            None => key.to_owned(),
        }
    }

    fn with(&self, id: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), value.to_owned());
        self.format(id, Some(&args))
    }

    /// That a lodging was received in continuity (the central store unreachable), when, and the
    /// provisional reference it was answered with.
    pub(crate) fn received_in_continuity(&self, received: &str, reference: &str) -> String {
        let mut args = FluentArgs::new();
        args.set("received", received.to_owned());
        args.set("reference", reference.to_owned());
        self.format("continuity-received", Some(&args))
    }

    pub(crate) fn signed_in(&self, name: &str, role: &str) -> String {
        let mut args = FluentArgs::new();
        args.set("name", name.to_owned());
        args.set("role", role.to_owned());
        self.format("signed-in-as", Some(&args))
    }

    pub(crate) fn declaration_title(&self, number: &str) -> String {
        self.with("declaration-title", "number", number)
    }

    /// The lane in words (绿色通道...), or its code if it has no name.
    pub(crate) fn lane(&self, lane: &str) -> String {
        self.with("lane", "lane", &self.of("lane-name", lane))
    }
}

/// The signed-in user, as the bar shows it.
pub(crate) struct UserBar {
    pub name: String,
    pub role: String,
    /// Officers see their task queue in the bar.
    pub officer: bool,
    /// The trade sees where to lodge.
    pub trade: bool,
    /// Who may read the audit chain sees the auditor's pages.
    pub auditor: bool,
    /// Administrators see the administration pages.
    pub admin: bool,
    /// Customs roles see the dashboards.
    pub dashboards: bool,
    /// Who may reassess (officers) sees the bulk reassessment jobs.
    pub reassess: bool,
}

/// What every page's layout needs.
pub(crate) struct Page {
    pub tr: Tr,
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub switch_url: String,
    pub user: Option<UserBar>,
    pub csrf: String,
}

pub(crate) struct FormError {
    pub field: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    page: Page,
    errors: Vec<FormError>,
    name: String,
    name_error: Option<String>,
    password_error: Option<String>,
}
#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage {
    page: Page,
    title: String,
    body: String,
}

/// The cookies of a request, by name.
fn cookie_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cookie<'a>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_of(headers, name).map(|c| c.value().to_owned())
}

/// A cookie the browser keeps to itself: never readable by script, never sent from another site.
fn private_cookie(name: &'static str, value: String, max_age_seconds: i64) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age_seconds))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a cookie is a header value")
}

fn new_csrf_token() -> String {
    hex_of(&rand::random::<[u8; 32]>())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so the time taken says nothing of where two tokens differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LanguageQuery {
    lang: Option<String>,
    cursor: Option<String>,
}

/// The page's language: `?lang=` first, then the cookie, then Chinese (the China profile).
fn language(headers: &HeaderMap, query: &LanguageQuery) -> (Language, bool) {
    if let Some(chosen) = query.lang.as_deref().and_then(Language::parse) {
        return (chosen, true);
    }
    let remembered = cookie_value(headers, LANGUAGE_COOKIE).and_then(|c| Language::parse(&c));
    (remembered.unwrap_or(Language::Zh), false)
}

/// Everything a rendered page answers with: the page, its security headers, and the cookies.
fn respond(
    status: StatusCode,
    html: Result<String, askama::Error>,
    cookies: Vec<HeaderValue>,
) -> Response {
    let Ok(html) = html else {
        tracing::error!("a console page did not render");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (status, html).into_response();
    response
        .extensions_mut()
        .insert(crate::problem::RenderedPage);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(headers);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The request as a page needs it: language, the CSRF token (made if absent) and its cookies.
struct Visit {
    language: Language,
    csrf: String,
    cookies: Vec<HeaderValue>,
    path: String,
}

impl Visit {
    fn of(headers: &HeaderMap, query: &LanguageQuery, path: &str) -> Visit {
        let (language, chosen) = language(headers, query);
        let mut cookies = Vec::new();
        if chosen {
            cookies.push(private_cookie(
                LANGUAGE_COOKIE,
                language.code().to_owned(),
                365 * 24 * 3600,
            ));
        }
        let csrf = match cookie_value(headers, CSRF_COOKIE) {
            Some(token) if token.len() == 64 => token,
            _ => {
                let token = new_csrf_token();
                cookies.push(private_cookie(CSRF_COOKIE, token.clone(), 24 * 3600));
                token
            }
        };
        Visit {
            language,
            csrf,
            cookies,
            path: path.to_owned(),
        }
    }

    fn page(&self, user: Option<UserBar>) -> Page {
        let other = self.language.other();
        Page {
            tr: Tr {
                language: self.language,
            },
            lang: self.language.tag(),
            other_lang: other.tag(),
            // A path with a query (a page of entries, a draw) keeps it.
            switch_url: match self.path.contains('?') {
                true => format!("{}&lang={}", self.path, other.code()),
                false => format!("{}?lang={}", self.path, other.code()),
            },
            user,
            csrf: self.csrf.clone(),
        }
    }

    fn tr(&self) -> Tr {
        Tr {
            language: self.language,
        }
    }
}

fn user_bar(caller: &Caller) -> UserBar {
    UserBar {
        name: caller.principal.user.name.clone(),
        role: caller.role.as_str().to_owned(),
        officer: caller.role == clearance::Role::Officer,
        trade: caller.role.is_trade(),
        auditor: clearance::Action::ReadAudit.allowed(caller.role),
        admin: admin::administers(caller.role),
        dashboards: clearance::dashboards::may_see_dashboards(caller.role),
        reassess: !caller.role.is_trade() && clearance::Action::Reassess.allowed(caller.role),
    }
}

/// The signed-in caller, or `None` (no session, or it ended: expired, revoked, user disabled).
async fn session<S: Store>(state: &AppState<S>, headers: &HeaderMap) -> Option<(Caller, String)> {
    let token = cookie_value(headers, SESSION_COOKIE)?;
    let caller = state.clearance.authenticate(&token).await.ok()?;
    Some((caller, token))
}

/// The signed-in caller of a page, its session charged to its budget; otherwise the answer to
/// give instead (the log-in page, or too many requests).
async fn signed_in<S: Store>(state: &AppState<S>, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some((caller, token)) = session(state, headers).await else {
        return Err(to_log_in());
    };
    state
        .limiter
        .check_session(&token)
        .map_err(IntoResponse::into_response)?;
    Ok(caller)
}

fn to_log_in() -> Response {
    Redirect::to("/console/login").into_response()
}

fn not_found(visit: &Visit, user: Option<UserBar>) -> Response {
    let tr = visit.tr();
    let page = MessagePage {
        title: tr.t("not-found-title"),
        body: tr.t("not-found-body"),
        page: visit.page(user),
    };
    respond(StatusCode::NOT_FOUND, page.render(), visit.cookies.clone())
}

fn forbidden(visit: &Visit) -> Response {
    let tr = visit.tr();
    let page = MessagePage {
        title: tr.t("forbidden-title"),
        body: tr.t("forbidden-body"),
        page: visit.page(None),
    };
    respond(StatusCode::FORBIDDEN, page.render(), visit.cookies.clone())
}

/// One of the console's static files (`STATIC_FILES`), or not found.
async fn static_file(Path(name): Path<String>) -> Response {
    let Some((_, media_type, content)) = STATIC_FILES.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (*content).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `/` and `/console`: the user's declarations, or the log-in page.
pub(crate) async fn home() -> Redirect {
    Redirect::to("/console/declarations")
}

pub(crate) async fn log_in_page(
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/login");
    let page = LoginPage {
        page: visit.page(None),
        errors: Vec::new(),
        name: String::new(),
        name_error: None,
        password_error: None,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

#[derive(Debug, Deserialize)]
pub(crate) struct LogInForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn log_in<S: Store>(
    State(state): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LogInForm>,
) -> Response {
    let visit = Visit::of(&headers, &LanguageQuery::default(), "/console/login");
    if !cookie_value(&headers, CSRF_COOKIE).is_some_and(|c| same_token(&c, &form.csrf)) {
        return forbidden(&visit);
    }
    if let Err(refused) = state.limiter.check_log_in(Some(peer.ip())) {
        return refused.into_response();
    }
    let tr = visit.tr();
    let name = form.name.trim().to_owned();
    let mut name_error = None;
    let mut password_error = None;
    if name.is_empty() || name.chars().count() > LOG_IN_FIELD_LENGTH_MAX {
        name_error = Some(tr.t("error-name-required"));
    }
    if form.password.is_empty() || form.password.chars().count() > LOG_IN_FIELD_LENGTH_MAX {
        password_error = Some(tr.t("error-password-required"));
    }
    if name_error.is_none() && password_error.is_none() {
        match state.clearance.log_in(&name, &form.password).await {
            Ok(session) => {
                // The cookie lasts as long as the session's token (which alone decides).
                let lifetime_s = i64::from(clearance::SESSION_LIFETIME_HOURS) * 3600;
                let mut response = Redirect::to("/console/declarations").into_response();
                let cookies = response.headers_mut();
                cookies.append(
                    header::SET_COOKIE,
                    private_cookie(SESSION_COOKIE, session.token, lifetime_s.max(1)),
                );
                // A new CSRF token with the new session: one seen before signing in is not reused.
                cookies.append(
                    header::SET_COOKIE,
                    private_cookie(CSRF_COOKIE, new_csrf_token(), 24 * 3600),
                );
                return response;
            }
            Err(ClearanceError::Unauthenticated | ClearanceError::TokenRefused(_)) => {
                password_error = Some(tr.t("error-credentials"));
            }
            Err(other) => return crate::problem::ApiError::from(other).into_response(),
        }
    }
    let mut errors = Vec::new();
    if let Some(message) = &name_error {
        errors.push(FormError {
            field: "name",
            message: message.clone(),
        });
    }
    if let Some(message) = &password_error {
        errors.push(FormError {
            field: "password",
            message: message.clone(),
        });
    }
    let page = LoginPage {
        page: visit.page(None),
        errors,
        name,
        name_error,
        password_error,
    };
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        page.render(),
        visit.cookies.clone(),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn log_out<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visit = Visit::of(&headers, &LanguageQuery::default(), "/console/login");
    if !cookie_value(&headers, CSRF_COOKIE).is_some_and(|c| same_token(&c, &form.csrf)) {
        return forbidden(&visit);
    }
    if let Some((caller, token)) = session(&state, &headers).await
        && let Err(error) = state.clearance.log_out(&caller, &token).await
    {
        tracing::warn!(%error, "a console session could not be revoked at sign-out");
    }
    let mut response = to_log_in();
    response.headers_mut().append(
        header::SET_COOKIE,
        private_cookie(SESSION_COOKIE, String::new(), 0),
    );
    response
}

/// A member of a JSON view as text.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The refusal of an action in the user's language: its message, and each field's.
fn refusal_text(language: Language, error: &ClearanceError) -> Option<String> {
    let pick = |en: &str, zh: &str| {
        if language == Language::Zh {
            zh.to_owned()
        } else {
            en.to_owned()
        }
    };
    match error {
        ClearanceError::Transition(t) => Some(pick(&t.message_en, &t.message_zh)),
        ClearanceError::Forbidden {
            message_en,
            message_zh,
            ..
        } => Some(pick(message_en, message_zh)),
        ClearanceError::Invalid(errors) => Some(
            errors
                .iter()
                .map(|e| format!("{}: {}", e.path, pick(&e.message_en, &e.message_zh)))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ClearanceError::Conflict => Some(pick(
            "the declaration changed meanwhile: look again and retry",
            "报关单已被同时修改：请刷新后重试",
        )),
        _ => None,
    }
}

/// What an officer's action from a declaration's page answers: back to the page, or the page
/// The session and CSRF checks every form of an officer's action passes first.
async fn acting<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    csrf: &str,
    path: &str,
) -> Result<(Visit, Caller), Response> {
    let visit = Visit::of(headers, &LanguageQuery::default(), path);
    if !cookie_value(headers, CSRF_COOKIE).is_some_and(|c| same_token(&c, csrf)) {
        return Err(forbidden(&visit));
    }
    Ok((visit, signed_in(state, headers).await?))
}

/// Any other path under `/console`: the not-found page.
pub(crate) async fn unknown_page(headers: HeaderMap) -> Response {
    let visit = Visit::of(&headers, &LanguageQuery::default(), "/console/declarations");
    not_found(&visit, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message id the pages and handlers use exists in both languages.
    #[test]
    fn both_languages_have_every_message() {
        let ids = |text: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_owned()))
                .collect()
        };
        let (en, zh) = bundles();
        assert_eq!(
            LOCALES.0.len(),
            LOCALES.1.len(),
            "both languages have every area"
        );
        for ((area, english), (zh_area, chinese)) in LOCALES.0.iter().zip(LOCALES.1) {
            assert_eq!(area, zh_area);
            for id in ids(english) {
                assert!(en.get_message(&id).is_some(), "en lacks {id}");
                assert!(
                    zh.get_message(&id).is_some(),
                    "zh-CN lacks {id} ({area}.ftl)"
                );
            }
            assert_eq!(
                ids(english).len(),
                ids(chinese).len(),
                "{area}.ftl: the two languages have the same messages"
            );
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", "a"));
    }
}
