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
use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use clearance::{Caller, ClearanceError, ListFilter};
use cookie::{Cookie, SameSite};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use serde::Deserialize;
use serde_json::Value;
use store::Store;
use unic_langid::LanguageIdentifier;

use crate::AppState;

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

const STYLESHEET: &str = include_str!("../static/console.css");

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

fn bundle(tag: &str, source: &str) -> Bundle {
    let language: LanguageIdentifier = tag.parse().expect("a valid language tag");
    let resource = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(_, errors)| {
        panic!("locales/{tag}/console.ftl does not parse: {errors:?}")
    });
    let mut bundle = FluentBundle::new_concurrent(vec![language]);
    // The pages are HTML: Unicode isolation marks around placeables would only be noise.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .unwrap_or_else(|errors| panic!("locales/{tag}/console.ftl repeats a message: {errors:?}"));
    bundle
}

/// The messages of both languages, parsed once.
fn bundles() -> &'static (Bundle, Bundle) {
    static BUNDLES: OnceLock<(Bundle, Bundle)> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        (
            bundle("en", include_str!("../locales/en/console.ftl")),
            bundle("zh-CN", include_str!("../locales/zh-CN/console.ftl")),
        )
    })
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

    pub(crate) fn signed_in(&self, name: &str, role: &str) -> String {
        let mut args = FluentArgs::new();
        args.set("name", name.to_owned());
        args.set("role", role.to_owned());
        self.format("signed-in-as", Some(&args))
    }

    pub(crate) fn declaration_title(&self, number: &str) -> String {
        self.with("declaration-title", "number", number)
    }

    pub(crate) fn lane(&self, lane: &str) -> String {
        self.with("lane", "lane", lane)
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

pub(crate) struct ListedRow {
    pub id: String,
    pub number: String,
    pub status: String,
    pub kind: String,
    pub direction: String,
    pub office: String,
    pub trader: String,
    pub lodged_at: String,
}

#[derive(Template)]
#[template(path = "console/declarations.html")]
struct DeclarationsPage {
    page: Page,
    rows: Vec<ListedRow>,
    next_cursor: Option<String>,
}

pub(crate) struct ItemRow {
    pub line: usize,
    pub commodity_code: String,
    pub description: String,
    pub quantity: String,
    pub amount: String,
    pub origin: String,
}

pub(crate) struct HistoryRow {
    pub when: String,
    pub what: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "console/declaration.html")]
struct DeclarationPage {
    page: Page,
    id: String,
    /// Why the last action was refused, in the user's language.
    notice: Option<String>,
    /// An officer may ask for the release (the service still decides).
    may_release: bool,
    /// The caller's own open tasks on the declaration, each with its form.
    my_tasks: Vec<MyTask>,
    settlement: Option<MoneyView>,
    number: String,
    status: String,
    clearance_status: Option<String>,
    procedure: String,
    office: String,
    lodged_at: String,
    trader: String,
    declarant: String,
    overseas_party: String,
    items: Vec<ItemRow>,
    lane: Option<String>,
    /// Customs only: the reasons of the selection, in the user's language.
    reasons: Vec<String>,
    /// The trade only: its receipts.
    receipts: Vec<HistoryRow>,
    /// Customs only: every event.
    history: Vec<HistoryRow>,
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

/// What a declaration owes and has covered, in CNY.
pub(crate) struct MoneyView {
    pub payable: String,
    pub paid: String,
    pub guaranteed: String,
    pub claimed: String,
    pub outstanding: String,
}

pub(crate) struct MyTask {
    pub id: String,
    pub kind: String,
    pub title: String,
}

pub(crate) struct TaskRowView {
    pub kind: String,
    pub declaration_id: String,
    pub office: String,
    pub created_at: String,
}

#[derive(Template)]
#[template(path = "console/tasks.html")]
struct TasksPage {
    page: Page,
    rows: Vec<TaskRowView>,
}

/// Declarations one uploaded file may hold: the file is refused whole above it, before any is
/// lodged (a larger batch goes through the API or `customs lodge`).
pub const CONSOLE_UPLOAD_DECLARATIONS_MAX: usize = 100;

pub(crate) struct UploadRow {
    pub index: usize,
    pub id: Option<String>,
    pub number: String,
    pub outcome: String,
    pub errors: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/lodge.html")]
struct LodgePage {
    page: Page,
    problem: Option<String>,
    results: Vec<UploadRow>,
}

/// Tasks the queue page lists at most.
pub(crate) const CONSOLE_TASKS_MAX: usize = 100;

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
            switch_url: format!("{}?lang={}", self.path, other.code()),
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

pub(crate) async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
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

pub(crate) async fn declarations<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/declarations");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let filter = ListFilter {
        cursor: query.cursor.clone(),
        limit: Some(CONSOLE_PAGE_SIZE),
        ..ListFilter::default()
    };
    let listed = match state.clearance.list(&caller, &filter).await {
        Ok(page) => page,
        Err(ClearanceError::Invalid(_)) => return not_found(&visit, Some(user_bar(&caller))),
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let tr = visit.tr();
    let rows = listed
        .declarations
        .iter()
        .map(|d| {
            let document = serde_json::to_value(&d.declaration).unwrap_or(Value::Null);
            ListedRow {
                id: d.id.clone(),
                number: d.number.clone(),
                status: tr.of("status", &d.status),
                kind: d.kind.clone(),
                direction: d.direction.clone(),
                office: text(&document["office_of_lodging"]),
                trader: text(&document["trader"]["name"]),
                lodged_at: d.lodged_at.clone(),
            }
        })
        .collect();
    let page = DeclarationsPage {
        page: visit.page(Some(user_bar(&caller))),
        rows,
        next_cursor: listed.next_cursor,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

pub(crate) async fn declaration<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, &format!("/console/declarations/{id}"));
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    declaration_page(&state, &visit, &caller, &id, None, StatusCode::OK).await
}

/// An officer releases the goods from the declaration's page; a refusal (not assessed, unpaid,
/// a task open) is shown on the page in the user's language.
pub(crate) async fn release<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let outcome = state.clearance.release(&caller, &id, None, b"{}").await;
    after_action(&state, &visit, &caller, &id, outcome).await
}

async fn declaration_page<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    id: &str,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let caller = caller.clone();
    let id = id.to_owned();
    let user = Some(user_bar(&caller));
    let clearance: &Arc<clearance::Clearance<S>> = &state.clearance;
    let view = match clearance.declaration(&caller, &id).await {
        Ok(view) => view,
        Err(ClearanceError::NotFound) => return not_found(visit, user),
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let tr = visit.tr();
    let document = serde_json::to_value(&view.declaration).unwrap_or(Value::Null);
    let party = |p: &Value| {
        let code = text(&p["credit_code"]);
        let name = text(&p["name"]);
        if code.is_empty() {
            name
        } else {
            format!("{name} ({code})")
        }
    };
    let items = document["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, item)| ItemRow {
            line: i + 1,
            commodity_code: text(&item["commodity_code"]),
            description: text(&item["description"]),
            quantity: format!(
                "{} {}",
                text(&item["quantity"]["value"]),
                text(&item["quantity"]["unit"])
            ),
            amount: text(&item["amount"]),
            origin: text(&item["origin_country"]),
        })
        .collect();
    let (mut lane, mut reasons, mut receipts, mut history, mut clearance_status) =
        (None, Vec::new(), Vec::new(), Vec::new(), None);
    if let Ok(selection) = clearance.selection(&caller, &view.id).await {
        lane = Some(text(&selection["lane"]));
        // Customs see why; the trade's view has no reasons to show.
        let key = if visit.language == Language::Zh {
            "zh"
        } else {
            "en"
        };
        reasons = selection["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["selected"] == true)
            .map(|r| text(&r[key]))
            .collect();
    }
    match clearance.events(&caller, &view.id).await {
        Ok(wire::EventsAnswer::Trade(page)) => {
            clearance_status = Some(tr.of("standing", &page.clearance_status));
            receipts = page
                .receipts
                .iter()
                .map(|r| HistoryRow {
                    when: r.recorded_at.clone(),
                    what: tr.of("receipt", &r.receipt),
                    by: tr.of("by", &r.by),
                })
                .collect();
        }
        Ok(wire::EventsAnswer::Customs(page)) => {
            history = page
                .events
                .iter()
                .map(|e| HistoryRow {
                    when: e.recorded_at.clone(),
                    what: e.action.clone(),
                    by: format!("{} ({})", e.actor_user, e.actor_role),
                })
                .collect();
        }
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    }
    let settlement = clearance.payments(&caller, &view.id).await.ok().map(|s| {
        let cny = |v: &Value| match v {
            Value::Null => tr.t("duty-not-assessed"),
            other => format!("{} CNY", text(other)),
        };
        MoneyView {
            payable: cny(&s["payable"]),
            paid: cny(&s["paid"]),
            guaranteed: cny(&s["guaranteed"]),
            claimed: cny(&s["claimed_unconfirmed"]),
            outstanding: cny(&s["outstanding"]),
        }
    });
    let may_release = caller.role == clearance::Role::Officer && view.status == "accepted";
    let my_tasks = if caller.role == clearance::Role::Officer {
        clearance
            .tasks(
                &caller,
                true,
                None,
                Some("open"),
                clearance::tasks::TASK_PAGE_MAX,
            )
            .await
            .unwrap_or_default()
            .iter()
            .filter(|t| t["declaration_id"] == view.id.as_str())
            .map(|t| MyTask {
                id: text(&t["id"]),
                kind: text(&t["kind"]),
                title: tr.of("task", &text(&t["kind"])),
            })
            .collect()
    } else {
        Vec::new()
    };
    let page = DeclarationPage {
        page: visit.page(user),
        id: view.id.clone(),
        notice,
        may_release,
        my_tasks,
        settlement,
        number: view.number.clone(),
        status: tr.of("status", &view.status),
        clearance_status,
        procedure: text(&document["procedure"]),
        office: text(&document["office_of_lodging"]),
        lodged_at: view.lodged_at.clone(),
        trader: party(&document["trader"]),
        declarant: party(&document["declarant"]),
        overseas_party: text(&document["overseas_party"]["name"]),
        items,
        lane,
        reasons,
        receipts,
        history,
    };
    respond(status, page.render(), visit.cookies.clone())
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
/// with the refusal.
async fn after_action<S: Store, T>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    id: &str,
    outcome: Result<T, ClearanceError>,
) -> Response {
    match outcome {
        Ok(_) => Redirect::to(&format!("/console/declarations/{id}")).into_response(),
        Err(ClearanceError::NotFound) => not_found(visit, Some(user_bar(caller))),
        Err(error) => match refusal_text(visit.language, &error) {
            Some(notice) => {
                declaration_page(state, visit, caller, id, Some(notice), StatusCode::CONFLICT).await
            }
            None => crate::problem::ApiError::from(error).into_response(),
        },
    }
}

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

#[derive(Debug, Deserialize)]
pub(crate) struct FindingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    declaration: String,
    #[serde(default)]
    discrepancy: String,
    #[serde(default)]
    note: String,
}

/// The officer's finding on a task, from the declaration's page.
pub(crate) async fn record_finding<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(task): Path<String>,
    Form(form): Form<FindingForm>,
) -> Response {
    let path = format!("/console/declarations/{}", form.declaration);
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let note = form.note.trim();
    let body = serde_json::json!({
        "discrepancy": form.discrepancy == "yes",
        "note": (!note.is_empty()).then_some(note),
    });
    let outcome = state
        .clearance
        .record_finding(&caller, &task, None, body.to_string().as_bytes())
        .await;
    after_action(&state, &visit, &caller, &form.declaration, outcome).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// The officer's decision on a request to amend or cancel (修撤单).
pub(crate) async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path((id, request)): Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let reason = form.reason.trim();
    let body = serde_json::json!({
        "approve": form.decision == "approve",
        "reason": (!reason.is_empty()).then_some(reason),
    });
    let outcome = state
        .clearance
        .decide_modification(&caller, &id, &request, None, body.to_string().as_bytes())
        .await;
    after_action(&state, &visit, &caller, &id, outcome).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct AssessmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    customs_duty: String,
    #[serde(default)]
    consumption_tax: String,
    #[serde(default)]
    import_vat: String,
    #[serde(default)]
    reason: String,
}

/// The officer's assessment by hand.
pub(crate) async fn assess<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<AssessmentForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let optional = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    let body = serde_json::json!({
        "customs_duty": form.customs_duty.trim(),
        "consumption_tax": optional(&form.consumption_tax),
        "import_vat": form.import_vat.trim(),
        "reason": form.reason,
    });
    let outcome = state
        .clearance
        .assess_manually(&caller, &id, None, body.to_string().as_bytes())
        .await;
    after_action(&state, &visit, &caller, &id, outcome).await
}

pub(crate) async fn lodge_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/lodge");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let page = LodgePage {
        page: visit.page(Some(user_bar(&caller))),
        problem: None,
        results: Vec::new(),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

/// A file of declarations lodged one after the other, each answered on its own row: its number,
/// or every error with its field path. Each declaration's idempotency key is the hash of its
/// text, so sending the same file again lodges nothing twice.
pub(crate) async fn lodge_file<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let (mut csrf, mut file) = (String::new(), None::<Vec<u8>>);
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => file = field.bytes().await.ok().map(|b| b.to_vec()),
            _ => {}
        }
    }
    let (visit, caller) = match acting(&state, &headers, &csrf, "/console/lodge").await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let refuse = |problem: String| {
        let page = LodgePage {
            page: visit.page(Some(user_bar(&caller))),
            problem: Some(problem),
            results: Vec::new(),
        };
        respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            page.render(),
            visit.cookies.clone(),
        )
    };
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return refuse(tr.t("lodge-no-file"));
    };
    let declarations = match serde_json::from_slice::<Value>(&file) {
        Ok(Value::Array(values)) => values,
        Ok(single @ Value::Object(_)) => vec![single],
        _ => return refuse(tr.t("lodge-not-json")),
    };
    if declarations.len() > CONSOLE_UPLOAD_DECLARATIONS_MAX {
        return refuse(tr.t("lodge-too-many"));
    }
    let pick = |en: &str, zh: &str| {
        if visit.language == Language::Zh {
            zh.to_owned()
        } else {
            en.to_owned()
        }
    };
    let mut results = Vec::new();
    for (index, declaration) in declarations.iter().enumerate() {
        use sha2::Digest;
        let body = serde_json::to_vec(declaration).unwrap_or_default();
        let key = format!("file-{}", hex::encode(&sha2::Sha256::digest(&body)[..16]));
        let mut row = UploadRow {
            index: index + 1,
            id: None,
            number: String::new(),
            outcome: String::new(),
            errors: Vec::new(),
        };
        match state.clearance.lodge(&caller, Some(&key), &body).await {
            Ok(receipt) => {
                row.outcome = tr.t(if receipt.created {
                    "lodge-created"
                } else {
                    "lodge-repeated"
                });
                row.id = Some(receipt.id);
                row.number = receipt.number;
            }
            Err(ClearanceError::Invalid(errors)) => {
                row.outcome = tr.t("lodge-refused");
                row.errors = errors
                    .iter()
                    .map(|e| (e.path.clone(), pick(&e.message_en, &e.message_zh)))
                    .collect();
            }
            Err(ClearanceError::Forbidden {
                message_en,
                message_zh,
                errors,
            }) => {
                row.outcome = tr.t("lodge-refused");
                row.errors = std::iter::once((String::new(), pick(&message_en, &message_zh)))
                    .chain(
                        errors
                            .iter()
                            .map(|e| (e.path.clone(), pick(&e.message_en, &e.message_zh))),
                    )
                    .collect();
            }
            Err(other) => return crate::problem::ApiError::from(other).into_response(),
        }
        results.push(row);
    }
    let page = LodgePage {
        page: visit.page(Some(user_bar(&caller))),
        problem: None,
        results,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

/// An officer's open tasks, oldest first.
pub(crate) async fn tasks<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/tasks");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let listed = match state
        .clearance
        .tasks(&caller, true, None, Some("open"), CONSOLE_TASKS_MAX)
        .await
    {
        Ok(listed) => listed,
        // Not a customs user: the page does not exist for them.
        Err(ClearanceError::Forbidden { .. }) => {
            return not_found(&visit, Some(user_bar(&caller)));
        }
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let rows = listed
        .iter()
        .map(|t| TaskRowView {
            kind: tr.of("task", &text(&t["kind"])),
            declaration_id: text(&t["declaration_id"]),
            office: text(&t["office"]),
            created_at: text(&t["created_at"]),
        })
        .collect();
    let page = TasksPage {
        page: visit.page(Some(user_bar(&caller))),
        rows,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
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
        let english = include_str!("../locales/en/console.ftl");
        let ids = |text: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_owned()))
                .collect()
        };
        let (en, zh) = bundles();
        for id in ids(english) {
            assert!(en.get_message(&id).is_some(), "en lacks {id}");
            assert!(zh.get_message(&id).is_some(), "zh-CN lacks {id}");
        }
        assert_eq!(
            ids(english).len(),
            ids(include_str!("../locales/zh-CN/console.ftl")).len(),
            "the two languages have the same messages"
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", "a"));
    }
}
