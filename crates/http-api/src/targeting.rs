//! The handlers of targeting (风险布控): analysts' rules proposed, tested on recent declarations,
//! approved by a second analyst and retired; and a declaration's selection (its lane).
//!
//! The service builds the rule views, test reports and selections as free-form JSON; the types
//! here name them in the API description and hold the request bodies that `wire` does not define.
//! Who sees what is the service's: trade roles are refused the rules and see of a selection only
//! the lane and what is asked of them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clearance::{Action, ClearanceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::assessing::parse_body;
use crate::extract::{
    Authenticated, DeclarationRef, JsonBody, RuleBacktestQuery, RuleStatusQuery, RuleTestQuery,
    RuleVersionRef, WatchEntryRef,
};
use crate::problem::ApiError;

pub(crate) const RULES_PATH: &str = "/v1/rules";
pub(crate) const WATCH_LIST_PATH: &str = "/v1/watch-list";

// ---------------------------------------------------------------------------------------------
// What the API description says of the service's JSON.

/// A targeting rule as an analyst writes it. The service parses it (every problem at once, each
/// naming its field; an expression problem with its line and column).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RuleDefinition {
    /// Absent for a new rule (the service numbers it, R-000001, ...); the id of the rule a new
    /// version replaces.
    id: Option<String>,
    scope: Option<RuleScope>,
    #[schema(value_type = RulePurpose)]
    purpose: String,
    #[schema(value_type = RuleAction)]
    action: String,
    /// The share of matching declarations selected, a decimal string from 0 to 1, e.g. "0.25".
    #[schema(example = "1")]
    expected_selection_rate: String,
    /// The heavier reason decides the lane when several rules match, 0 to 255.
    priority: u8,
    /// Why a declaration is selected, in English (shown to customs, never to trade).
    reason_en: String,
    /// The same in Chinese.
    reason_zh: String,
    /// A boolean expression over the declaration (`declaration.`) and each goods item (`item.`),
    /// e.g. `item.commodity_code.startsWith("8517") && item.origin_country == "US"`.
    expression: String,
}

/// Where and when a rule applies; every member left out means "all".
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RuleScope {
    /// Customs office codes of lodging, e.g. 2200.
    offices: Option<Vec<String>>,
    /// Procedure codes (监管方式), e.g. 0110.
    procedures: Option<Vec<String>>,
    /// import or export.
    direction: Option<String>,
    /// ordinary, summary or full.
    kinds: Option<Vec<String>>,
    /// The first day the rule applies, YYYY-MM-DD.
    #[schema(format = Date)]
    valid_from: Option<String>,
    /// The last day the rule applies, YYYY-MM-DD.
    #[schema(format = Date)]
    valid_to: Option<String>,
}

/// What a rule is for.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum RulePurpose {
    Safety,
    Revenue,
    Both,
}

/// What a rule asks for when it selects a declaration.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum RuleAction {
    DocumentCheck,
    PhysicalInspection,
    LabSampling,
    Hold,
}

/// The statuses of a rule version.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum RuleStatus {
    /// Waiting for another analyst's approval.
    Proposed,
    /// In force: declarations accepted now are selected by it.
    Active,
    /// Replaced by a later version that was approved.
    Superseded,
    /// Taken out of force.
    Retired,
}

/// One version of a rule. Members: `id`; `version`; `status` (proposed, active, superseded or
/// retired); `definition` (the rule as proposed, with its id); `author`; `proposed_at`;
/// `approved_by` and `approved_seq` (the audit-chain entry of the approval); `ended_seq` (of the
/// approval of the next version or of the retirement).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct RuleView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleList {
    /// Every version asked for.
    #[schema(value_type = Vec<RuleView>)]
    rules: Vec<Value>,
}

/// What a rule would have done on recent declarations. Members: `declarations_tested`;
/// `matched` and `match_rate` (0 to 1); `selected` (after the rule's expected selection rate);
/// `hits` (per matching declaration: `number`, the 0-based `items` that matched, `selected`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct RuleTestReport(Value);

/// A rule back-tested on the declarations lodged in a period, labelled by the checks closed on
/// them. Members: `from`, `to`; `declarations` (lodged in the period); `hits` (the rule's
/// conditions matched, before its expected selection rate) and `hit_rate` (0 to 1, null without
/// declarations); `checked` (declarations with a closed check) and `checked_hits`; `frauds`
/// (checks that found a discrepancy) and `frauds_found` (of them, hits); `precision`
/// (`frauds_found` / `checked_hits`) and `recall` (`frauds_found` / `frauds`), null when
/// undefined; `revenue` and `revenue_found` (the additional duty and tax those checks recovered,
/// a decimal string, exact), `currency` (CNY); `hit_list` (at most 500: `number`, `lodged_on`,
/// the 0-based `items` matched, `checked`, `discrepancy`, `revenue_found`) and `hits_listed`;
/// `source` (`declarations`).
///
/// With `source=history`, over the imported labelled history's rows dated in the period (a
/// declaration being the rows of one declaration id): `batches` (`history`, `rows` of the
/// period), `rows`, `names_read` (what the rule reads, all of it recorded by the history),
/// `checked` counts labelled declarations, `frauds` those with a row found misdeclared,
/// `revenue` / `revenue_found` are the history's own figures (null when no row of the period
/// records revenue), `evaluation_errors`, and each listed hit gives `declaration`, `date`,
/// `items`, `labelled`, `discrepancy`, `revenue_found`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct RuleBacktestReport(Value);

/// The analysts' reference of rules, from the checker's own catalogue (the same as
/// docs/rule-reference.md). Members: `variables` (`name`, `type` {`en`, `zh`}, `example`, `en`,
/// `zh`); `fields` (`name` as written, e.g. `item.origin_country`, `variable`, `type`, `optional`:
/// absent when unknown, test with has() first, `per_item`, `example`, `en`, `zh`); `functions` and
/// `macros` (`name`, `type` of the result, `example`, `en`, `zh`); `limits` (`name`, `value`, `en`,
/// `zh`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct RuleReference(Value);

/// A declaration's selection at acceptance. Customs roles see: `lane` (green, yellow or red);
/// `reasons` in order of weight, selected or not (each with its `source`: a rule with its id,
/// version and items, a watch list, value control, a licence, the risk model with its
/// `selected_by`, exploitation or exploration, or the random check; `action`, `priority`, `rate`
/// (for the model, its propensity), `draw`, `selected`, `en`, `zh`); `random` (its rate, draw
/// and outcome); `model_exploration` (the model's exploration rate, draw and outcome, or null);
/// `seed` (replays the draws); `rules_in_force`, `rules_evaluated`; `errors` (rules that could not
/// be evaluated). Trade roles see only `lane` and `asked` (what is asked of them, e.g.
/// `["physical_inspection"]`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct SelectionView(Value);

// ---------------------------------------------------------------------------------------------
// Request bodies.

/// Why a rule is taken out of force.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetirementRequest {
    reason: String,
}

/// A rule version that does not exist: a problem of its own, not "declaration not found".
fn rule_refusal(error: ClearanceError) -> ApiError {
    match error {
        ClearanceError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "rule-not-found",
            "Rule not found",
            "there is no rule version with this id and version".into(),
            "没有此编号和版本的规则".into(),
        ),
        other => other.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Rules.

#[utoipa::path(
    post,
    path = "/v1/rules",
    tag = "targeting",
    summary = "Propose a rule, or a new version of one",
    description = "For risk analysts. The rule is checked and compiled like an active one and kept as \
                   `proposed` until another analyst approves it (four eyes). With an `id`, it is the \
                   next version of that rule, which replaces the active one once approved.",
    request_body(content = RuleDefinition, content_type = "application/json"),
    responses(
        (status = 201, description = "The proposed version", body = RuleView),
        (status = 403, description = "The role may not write rules", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The rule has errors, each naming its field (an `expression` problem \
            with its line and column), or its `id` names no rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn propose_rule<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let view = state.clearance.propose_rule(&caller, &body).await?;
    Ok((StatusCode::CREATED, Json(RuleView(view))).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/rules",
    tag = "targeting",
    summary = "List rules",
    description = "For customs roles (never trade: rules are not disclosed to those they target). Every \
                   version of every rule, or those with a status.",
    params(("status" = Option<RuleStatus>, Query,
            description = "proposed, active, superseded or retired (default: all)")),
    responses(
        (status = 200, description = "The rule versions", body = RuleList),
        (status = 403, description = "The role may not read rules", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`status` is unknown, or another parameter was given",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn rules<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    RuleStatusQuery(status): RuleStatusQuery,
) -> Result<Json<RuleList>, ApiError> {
    let rules = state.clearance.rules(&caller, status.as_deref()).await?;
    Ok(Json(RuleList { rules }))
}

#[utoipa::path(
    post,
    path = "/v1/rules/test",
    tag = "targeting",
    summary = "Test a rule on recent declarations",
    description = "For risk analysts. Runs the rule (not stored, whatever its status) over the most recent \
                   declarations and reports which it matches and how many it would select. Nothing is \
                   recorded.",
    params(("sample" = Option<usize>, Query, minimum = 1, maximum = 1000,
            description = "How many recent declarations to test, 1 to 1000 (default 200)")),
    request_body(content = RuleDefinition, content_type = "application/json"),
    responses(
        (status = 200, description = "What the rule would have done", body = RuleTestReport),
        (status = 403, description = "The role may not write rules", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The rule has errors, each naming its field, or `sample` is out of range",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn test_rule<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: RuleTestQuery,
    JsonBody(body): JsonBody,
) -> Result<Json<RuleTestReport>, ApiError> {
    let report = state
        .clearance
        .test_rule(&caller, &body, query.sample)
        .await?;
    Ok(Json(RuleTestReport(report)))
}

#[utoipa::path(
    post,
    path = "/v1/rules/backtest",
    tag = "targeting",
    summary = "Back-test a rule on the labelled declarations of a period",
    description = "For risk analysts. Runs the rule (not stored, whatever its status) over the declarations \
                   lodged from `from` to `to` (days in the administration's time zone, both included) and \
                   compares its hits with what the checks closed on them found: hit rate, precision, recall \
                   and the revenue recovered, exact. Nothing is recorded. At most 366 days and 10,000 \
                   declarations: a period lodging more is refused (shorten it). With `source=history`, over \
                   the imported labelled history's rows dated in the period instead (at most 200,000 rows), \
                   by the same engine; a rule reading a name the history does not record is refused, each \
                   such name said.",
    params(
        ("from" = String, Query, format = Date, description = "The first day, YYYY-MM-DD"),
        ("to" = String, Query, format = Date, description = "The last day, YYYY-MM-DD, at most 365 days after `from`"),
        ("source" = Option<String>, Query, description = "`declarations` (default): the platform's declarations, \
            labelled by their closed checks; `history`: the imported labelled history"),
    ),
    request_body(content = RuleDefinition, content_type = "application/json"),
    responses(
        (status = 200, description = "The rule's record over the period", body = RuleBacktestReport),
        (status = 403, description = "The role may not write rules", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The rule has errors, each naming its field, or `from` / `to` is missing, \
            not a date, or the period is reversed, too long or lodged too many declarations (or history rows); \
            `source` is not declarations or history, or the rule reads what the history does not record",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn backtest_rule<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: RuleBacktestQuery,
    JsonBody(body): JsonBody,
) -> Result<Json<RuleBacktestReport>, ApiError> {
    let report = state
        .clearance
        .backtest_rule(
            &caller,
            &body,
            &query.from,
            &query.to,
            query.source.as_deref(),
        )
        .await?;
    Ok(Json(RuleBacktestReport(report)))
}

#[utoipa::path(
    get,
    path = "/v1/rules/reference",
    tag = "targeting",
    summary = "The reference of what a rule can use",
    description = "For customs roles (never trade). Every variable, field, function, macro and limit a rule's \
                   expression can use, with its type, meaning in English and Chinese and an example that \
                   compiles; generated from the checker's own catalogue (docs/rule-reference.md is the same).",
    responses(
        (status = 200, description = "The reference", body = RuleReference),
        (status = 403, description = "The role may not read rules", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn rule_reference<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<RuleReference>, ApiError> {
    Ok(Json(RuleReference(
        state.clearance.rule_reference(&caller)?,
    )))
}

#[utoipa::path(
    post,
    path = "/v1/rules/{id}/versions/{version}/approval",
    tag = "targeting",
    summary = "Approve a proposed rule version",
    description = "For risk analysts other than the version's author (four eyes). Puts the version in \
                   force for declarations accepted from now on; the version it replaces is superseded.",
    params(
        ("id" = String, Path, description = "The rule's id, e.g. R-000001"),
        ("version" = u32, Path, minimum = 1, description = "The version, from 1"),
    ),
    responses(
        (status = 200, description = "The version, now active", body = RuleView),
        (status = 403, description = "The role may not write rules, or the caller is the version's author",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`version` is not a whole number from 1, or the version is not proposed",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn approve_rule<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    rule: RuleVersionRef,
) -> Result<Json<RuleView>, ApiError> {
    let view = state
        .clearance
        .approve_rule(&caller, &rule.id, rule.version)
        .await
        .map_err(rule_refusal)?;
    Ok(Json(RuleView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/rules/{id}/versions/{version}/retirement",
    tag = "targeting",
    summary = "Retire an active rule version",
    description = "For risk analysts. Takes the version out of force: declarations accepted from now on are \
                   not selected by it. Selections already recorded keep it as their reason.",
    params(
        ("id" = String, Path, description = "The rule's id, e.g. R-000001"),
        ("version" = u32, Path, minimum = 1, description = "The version, from 1"),
    ),
    request_body(content = RetirementRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The version, now retired", body = RuleView),
        (status = 403, description = "The role may not write rules", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, `version` is not a whole number from 1, or the \
            version is not active", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn retire_rule<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    rule: RuleVersionRef,
    JsonBody(body): JsonBody,
) -> Result<Json<RuleView>, ApiError> {
    let request: RetirementRequest = parse_body(&caller, Action::WriteRules, &body)?;
    let view = state
        .clearance
        .retire_rule(&caller, &rule.id, rule.version, &request.reason)
        .await
        .map_err(rule_refusal)?;
    Ok(Json(RuleView(view)))
}

// ---------------------------------------------------------------------------------------------
// Selections.

#[utoipa::path(
    get,
    path = "/v1/declarations/{id_or_number}/selection",
    tag = "targeting",
    summary = "A declaration's selection",
    description = "The lane the declaration was selected into at acceptance. Customs roles see every reason; \
                   the trade sees only its lane and what is asked of it, never the rules.",
    params(("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number")),
    responses(
        (status = 200, description = "The selection", body = SelectionView),
        (status = 404, description = "No such declaration is visible to the caller (or it was accepted \
            before targeting and has no selection)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn selection<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
) -> Result<Json<SelectionView>, ApiError> {
    let selection = state.clearance.selection(&caller, &id_or_number).await?;
    Ok(Json(SelectionView(selection)))
}

// ---------------------------------------------------------------------------------------------
// The watch list.

/// What a watch-list entry names.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum WatchEntityKind {
    /// The trader (境内收发货人), by credit code.
    Importer,
    /// The declarant (申报单位), by credit code.
    Declarant,
    /// The overseas party (境外收发货人), by name.
    Seller,
    /// The consignor, by name.
    Consignor,
    /// The means of transport (vessel, flight), by its identification.
    TransportMeans,
}

/// A watch-list entry as an analyst writes it. The service reports every problem naming its
/// field; unknown members are refused.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct WatchEntryRequest {
    #[schema(value_type = WatchEntityKind)]
    kind: String,
    /// The credit code, name or identification, up to 200 characters; compared ignoring case and
    /// repeated spaces.
    #[schema(example = "Pacific Electronics Inc.")]
    value: String,
    /// Why, in English (shown to customs, never to trade), up to 500 characters.
    reason_en: String,
    /// The same in Chinese.
    reason_zh: String,
    /// What a hit asks for.
    #[schema(value_type = RuleAction)]
    action: String,
    /// The first day the entry applies, YYYY-MM-DD (absent: open).
    #[schema(format = Date)]
    valid_from: Option<String>,
    /// The last day the entry applies, YYYY-MM-DD (absent: open).
    #[schema(format = Date)]
    valid_to: Option<String>,
}

/// A watch-list entry. Members: `id` (W-000001, ...); `kind`; `value`; `reason_en`, `reason_zh`;
/// `action`; `valid_from`, `valid_to`; `added_by`, `added_at`, `added_seq`; `status`
/// (`proposed`: awaiting a second analyst, not acting; `listed`: in force; `removal_requested`:
/// in force, its removal awaiting a second analyst; `removed`); `approved_by`, `approved_seq`;
/// `removal_requested_by`, `removal_requested_seq`; `removed_by` and `removed_seq` (the
/// audit-chain entry of the removal).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct WatchEntryView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WatchList {
    /// Every entry, removed ones included, in the order they were added.
    #[schema(value_type = Vec<WatchEntryView>)]
    entries: Vec<Value>,
}

/// Why an entry is taken off the watch list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemovalRequest {
    reason: String,
}

/// An entry that does not exist: a problem of its own, not "declaration not found".
fn watch_entry_refusal(error: ClearanceError) -> ApiError {
    match error {
        ClearanceError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "watch-entry-not-found",
            "Watch-list entry not found",
            "there is no watch-list entry with this id".into(),
            "没有此编号的布控名单条目".into(),
        ),
        other => other.into(),
    }
}

#[utoipa::path(
    post,
    path = "/v1/watch-list",
    tag = "targeting",
    summary = "Propose an entry for the watch list",
    description = "For risk analysts. The entry is `proposed`: it acts once another analyst approves it \
                   (four eyes, `POST /v1/watch-list/{id}/approval`). From then, declarations accepted \
                   that name the party or means of transport, on a day within the entry's validity, are \
                   selected for its action.",
    request_body(content = WatchEntryRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The entry, proposed", body = WatchEntryView),
        (status = 403, description = "The role may not write the watch list", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The entry has errors, each naming its field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_watch_entry<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let view = state.clearance.add_watch_entry(&caller, &body).await?;
    Ok((StatusCode::CREATED, Json(WatchEntryView(view))).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/watch-list",
    tag = "targeting",
    summary = "The watch list",
    description = "For customs roles (never trade). Every entry, removed ones included.",
    responses(
        (status = 200, description = "The entries", body = WatchList),
        (status = 403, description = "The role may not read the watch list", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn watch_entries<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<WatchList>, ApiError> {
    let entries = state.clearance.watch_entries(&caller).await?;
    Ok(Json(WatchList { entries }))
}

#[utoipa::path(
    post,
    path = "/v1/watch-list/{id}/removal",
    tag = "targeting",
    summary = "Remove an entry from the watch list",
    description = "For risk analysts. A proposed entry (never in force) is withdrawn at once. An entry in \
                   force gets a removal request and stays in force until another analyst approves the \
                   removal (four eyes, `POST /v1/watch-list/{id}/approval`); from then, declarations \
                   accepted are not selected by it. The entry is kept, and selections already recorded \
                   keep it as their reason.",
    params(("id" = String, Path, description = "The entry's id, e.g. W-000001")),
    request_body(content = RemovalRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The entry, removed or with its removal requested", body = WatchEntryView),
        (status = 403, description = "The role may not write the watch list", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, or the entry was removed or its removal \
            requested before", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn remove_watch_entry<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    WatchEntryRef(id): WatchEntryRef,
    JsonBody(body): JsonBody,
) -> Result<Json<WatchEntryView>, ApiError> {
    let request: RemovalRequest = parse_body(&caller, Action::WriteRules, &body)?;
    let view = state
        .clearance
        .remove_watch_entry(&caller, &id, &request.reason)
        .await
        .map_err(watch_entry_refusal)?;
    Ok(Json(WatchEntryView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/watch-list/{id}/approval",
    tag = "targeting",
    summary = "Approve a watch-list change (four eyes)",
    description = "For risk analysts other than the one who asked. Approves what awaits approval on the \
                   entry: a proposed entry comes into force for declarations accepted from now on; an \
                   entry whose removal was requested is taken off.",
    params(("id" = String, Path, description = "The entry's id, e.g. W-000001")),
    responses(
        (status = 200, description = "The entry, now listed or removed", body = WatchEntryView),
        (status = 403, description = "The role may not write the watch list, or the caller asked for the change",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Nothing awaits approval on the entry",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn approve_watch_entry<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    WatchEntryRef(id): WatchEntryRef,
) -> Result<Json<WatchEntryView>, ApiError> {
    let view = state
        .clearance
        .approve_watch_entry(&caller, &id)
        .await
        .map_err(watch_entry_refusal)?;
    Ok(Json(WatchEntryView(view)))
}
