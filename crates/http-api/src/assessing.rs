//! The handlers of duty assessment (estimates, a declaration's assessments, an officer's
//! reassessment) and of the reference releases assessment uses (tariff releases and exchange-rate
//! tables: import, list, dry run, activate, roll back).
//!
//! The service builds the reports and release views as free-form JSON; the types here name them
//! in the API description and hold the request bodies that `wire` does not define.

use std::fmt;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clearance::releases::NewRelease;
use clearance::{Action, Caller};
use domain::FieldError;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use store::{ReleaseFileRow, Store};
use utoipa::ToSchema;
use wire::{DeclarationDto, Problem};

use crate::AppState;
use crate::extract::{
    Authenticated, DeclarationRef, DryRunQuery, EstimateQuery, IdempotencyKey, JsonBody,
    ReleaseBody, ReleaseKindQuery, ReleaseRef, parse_date, parse_release_kind,
};
use crate::problem::ApiError;

pub(crate) const RELEASES_PATH: &str = "/v1/releases";

// ---------------------------------------------------------------------------------------------
// What the API description says of the service's JSON.

/// The duty and taxes of a declaration, every figure with its explanation in English and
/// Chinese. Main members: `acceptance_date`; `currency` (CNY); `items` (per goods item: `index`,
/// `commodity_code`, `customs_value` with the exchange rate used, `duty_rate` with the column
/// chosen and why, `taxes`); `customs_value`; `totals` (per tax: `kind`, `nominal`, `exempt`,
/// `payable`); `total_payable` (yuan, a decimal string); `explanation`. An estimate adds
/// `estimate: true`, `tariff_release` and `exchange_rate_tables`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct AssessmentReport(Value);

/// One assessment of a declaration, as recorded. Main members: `assessment` (1, 2, ...);
/// `basis` (acceptance, amendment or officer); `acceptance_date`; `tariff_release` and
/// `exchange_rate_tables` (the releases in force on that date, `null` / empty when none);
/// `outcome`: `assessed` (with `total_payable`, the `report` and, from the second assessment on,
/// the `difference` to the previous one per tax and in total, to pay or to refund) or
/// `not_assessed` (with `problems`, each naming its field, for an officer to resolve); `note` (an
/// officer's reason).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct AssessmentRecord(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssessmentList {
    /// Oldest first: the last one is in force.
    #[schema(value_type = Vec<AssessmentRecord>)]
    assessments: Vec<Value>,
}

/// A tariff release, exchange-rate table or value-control table. Main members: `id` (TR-0001,
/// XR-0001, VC-0001, ...); `kind`; `label`; `digest` (SHA-256 of its files); `status` (imported,
/// active or rolled_back); `effective_from` (once activated); `imported_at`, `imported_by`;
/// `activated_seq` and `rolled_back_seq` (the audit-chain entries); `summary` (counts of lines,
/// rates, remedies; of rates and months; or of value-control rows).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ReleaseView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReleaseList {
    /// Oldest first.
    #[schema(value_type = Vec<ReleaseView>)]
    releases: Vec<Value>,
}

/// What a tariff release or exchange-rate table would change on recent import declarations, had
/// it been in force on their acceptance dates. Main members: `release`, `release_status`; `declarations_compared`;
/// `unchanged`; `changed` (a count) and `changes` (per declaration: `number`, `current_release`,
/// `total_payable_now`, `total_payable_candidate`, `difference`, the rates now and under the
/// candidate); `total_difference`; `not_assessable_under_candidate` and `newly_not_assessable`
/// (with the problems); `assessable_only_under_candidate`; `not_assessable_under_either`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct DryRunReport(Value);

/// The kinds of release.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum ReleaseKind {
    /// Tariff lines with their rates: lines.csv, duty_rates.csv, consumption_tax.csv,
    /// trade_remedies.csv, and optionally origin_rules.csv (product-specific rules of origin).
    Tariff,
    /// Monthly customs exchange rates: exchange_rates.csv.
    ExchangeRates,
    /// The value-control table targeting consults (价格风险参数): value_control.csv
    /// (`code_prefix,origin,unit,min_unit_value_cny,max_unit_value_cny,valid_from,valid_to`;
    /// format in `crates/clearance/src/value_control.rs`).
    ValueControl,
    /// Customs offices (关区代码): customs_office.csv (`code,name_en,name_zh[,valid_from,valid_to]`,
    /// as every code list below; formats in `docs/import-formats.md`).
    CustomsOffice,
    /// Customs procedures (监管方式): customs_procedure.csv.
    CustomsProcedure,
    /// Levy natures (征免性质): levy_nature.csv.
    LevyNature,
    /// Levy modes (征免方式): levy_mode.csv.
    LevyMode,
    /// Modes of transport (运输方式): transport_mode.csv.
    TransportMode,
    /// Document types (监管证件 and commercial documents): document_type.csv.
    DocumentType,
    /// Trade terms (成交方式): incoterm.csv.
    Incoterm,
    /// Statutory units of quantity by HS prefix: statutory_unit.csv (`hs_prefix,units`).
    StatutoryUnit,
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

/// An officer's reassessment of a declaration, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReassessmentRequest {
    reason: String,
}

/// A release to import: inert until activated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseImport {
    #[schema(value_type = ReleaseKind)]
    kind: String,
    /// Up to 200 characters, e.g. "China tariff 2026, second edition".
    label: String,
    /// Each file's text by its name: for a tariff, lines.csv, duty_rates.csv,
    /// consumption_tax.csv and trade_remedies.csv, and optionally origin_rules.csv; for exchange
    /// rates, exchange_rates.csv; for value control, value_control.csv. Formats in
    /// `docs/import-formats.md`, `crates/tariff/src/release.rs`,
    /// `crates/tariff/src/origin_rules.rs` and `crates/clearance/src/value_control.rs`.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    files: ReleaseFiles,
}

/// The files of a release in the order given, repeated names kept (and refused by the handler
/// rather than silently overwritten).
#[derive(Debug)]
struct ReleaseFiles(Vec<(String, String)>);

impl<'de> Deserialize<'de> for ReleaseFiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FilesVisitor;

        impl<'de> Visitor<'de> for FilesVisitor {
            type Value = ReleaseFiles;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of file names and their text")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReleaseFiles, A::Error> {
                let mut files = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    files.push(entry);
                }
                Ok(ReleaseFiles(files))
            }
        }

        deserializer.deserialize_map(FilesVisitor)
    }
}

/// When a release comes into force.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActivationRequest {
    /// The first day (YYYY-MM-DD) on which the release is in force; declarations accepted from
    /// that day are assessed with it.
    #[schema(format = Date, example = "2026-01-01")]
    effective_from: String,
}

/// Withdrawing the latest activation of a kind.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollbackRequest {
    #[schema(value_type = ReleaseKind)]
    kind: String,
    reason: String,
}

/// The refusal of a request with `errors`: a caller whose role may not do `action` at all is told
/// that first, rather than what is wrong with a body it may not send. The service decides who
/// may do what (`Action::allowed`); this only orders the two answers as the service does.
fn refused(caller: &Caller, action: Action, errors: &[FieldError]) -> ApiError {
    match caller.require(action) {
        Err(forbidden) => forbidden.into(),
        Ok(()) => ApiError::invalid(errors),
    }
}

pub(crate) fn parse_body<T: DeserializeOwned>(
    caller: &Caller,
    action: Action,
    body: &[u8],
) -> Result<T, ApiError> {
    wire::parse_json(body).map_err(|error| refused(caller, action, &[error]))
}

// ---------------------------------------------------------------------------------------------
// Assessment.

#[utoipa::path(
    post,
    path = "/v1/estimates",
    tag = "assessment",
    summary = "Estimate the duty and taxes of a declaration",
    description = "Checks the declaration like a lodging and assesses it with the tariff release and \
                   exchange-rate tables in force on `date`. Nothing is lodged or recorded.",
    params(("date" = Option<String>, Query, format = Date,
            description = "The acceptance date to assess on, YYYY-MM-DD (default: today, UTC+8)")),
    request_body(content = DeclarationDto, content_type = "application/json"),
    responses(
        (status = 200, description = "The estimate", body = AssessmentReport),
        (status = 422, description = "The document has errors, it cannot be assessed (each reason names \
            its field, e.g. no tariff in force, no exchange rate), it is an export, or a query parameter \
            is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn estimate<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: EstimateQuery,
    JsonBody(body): JsonBody,
) -> Result<Json<AssessmentReport>, ApiError> {
    let report = state.clearance.estimate(&caller, &body, query.date).await?;
    Ok(Json(AssessmentReport(report)))
}

#[utoipa::path(
    get,
    path = "/v1/declarations/{id_or_number}/assessments",
    tag = "assessment",
    summary = "A declaration's assessments",
    description = "Every assessment of the declaration (at acceptance, after each amendment, on an \
                   officer's request), oldest first.",
    params(("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number")),
    responses(
        (status = 200, description = "The assessments", body = AssessmentList),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn assessments<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
) -> Result<Json<AssessmentList>, ApiError> {
    let assessments = state.clearance.assessments(&caller, &id_or_number).await?;
    Ok(Json(AssessmentList { assessments }))
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/assessments",
    tag = "assessment",
    summary = "Reassess a declaration",
    description = "For officers. Assesses the declaration as it stands with the releases in force on its \
                   acceptance date now (e.g. after a roll-back) and records the difference to the last \
                   assessment. A retry with the same Idempotency-Key answers the first record.",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = ReassessmentRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new assessment", body = AssessmentRecord),
        (status = 200, description = "The first record of this Idempotency-Key", body = AssessmentRecord),
        (status = 403, description = "The role may not reassess", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, the declaration is not assessed (an export, \
            a summary declaration), or the Idempotency-Key was used for another request",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn reassess<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ReassessmentRequest = parse_body(&caller, Action::Reassess, &body)?;
    let reassessed = state
        .clearance
        .reassess(&caller, &id_or_number, key.as_deref(), &request.reason)
        .await?;
    let status = if reassessed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(AssessmentRecord(reassessed.record))).into_response())
}

// ---------------------------------------------------------------------------------------------
// Releases.

#[utoipa::path(
    post,
    path = "/v1/releases",
    tag = "releases",
    summary = "Import a release",
    description = "For administrators. Checks every file and reports every problem at once, each named \
                   `file:line.field` (e.g. `duty_rates.csv:12.rate_percent`). The release is inert until \
                   activated. The same files imported again are refused. This route takes larger bodies \
                   than the others (`release_body_limit_bytes`, 80 MiB by default).",
    request_body(content = ReleaseImport, content_type = "application/json"),
    responses(
        (status = 201, description = "The imported release", body = ReleaseView),
        (status = 403, description = "The role may not manage releases", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request or a file has errors, or these files were imported before",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn import_release<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ReleaseBody(body): ReleaseBody,
) -> Result<Response, ApiError> {
    let action = Action::ManageReleases;
    let request: ReleaseImport = parse_body(&caller, action, &body)?;
    let mut errors = Vec::new();
    let kind = parse_release_kind("kind", &request.kind)
        .map_err(|error| errors.push(error))
        .ok();
    let ReleaseFiles(entries) = request.files;
    let mut files: Vec<ReleaseFileRow> = Vec::with_capacity(entries.len());
    for (name, text) in entries {
        if files.iter().any(|f| f.name == name) {
            errors.push(FieldError::duplicate(
                format!("files[{name}]"),
                "a file of this name",
                "同名文件",
            ));
        } else {
            files.push(ReleaseFileRow { name, text });
        }
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return Err(refused(&caller, action, &errors));
    };
    let release = NewRelease {
        kind,
        label: request.label,
        files,
    };
    let view = state.clearance.import_release(&caller, release).await?;
    Ok((StatusCode::CREATED, Json(ReleaseView(view))).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/releases",
    tag = "releases",
    summary = "List releases",
    description = "Every release of a kind, oldest first, whatever its status.",
    params(("kind" = ReleaseKind, Query, description = "tariff, exchange_rates, value_control or a code list (customs_office, ...)")),
    responses(
        (status = 200, description = "The releases", body = ReleaseList),
        (status = 422, description = "`kind` is missing or unknown, or another parameter was given",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn releases<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ReleaseKindQuery(kind): ReleaseKindQuery,
) -> Result<Json<ReleaseList>, ApiError> {
    let releases = state.clearance.releases(&caller, kind).await?;
    Ok(Json(ReleaseList { releases }))
}

#[utoipa::path(
    get,
    path = "/v1/releases/{id}/dry-run",
    tag = "releases",
    summary = "Try a tariff release, an exchange-rate table or a code list on recent declarations",
    description = "For administrators. A tariff release: re-assesses the most recent import declarations \
                   under it as if it were in force on their acceptance dates, next to the tariff in force, \
                   and reports what would change. An exchange-rate table: the same, the table laid over \
                   the tables in force as activating it would. A code list (customs_office, ...): the codes it adds, \
                   removes, renames and re-dates against the list in force today (`added`, `removed`, \
                   `renamed`, `redated`; for statutory units `added`, `removed`, `changed`) and the recent \
                   declarations it would refuse (`refused_under_it`, with their problems). Nothing is \
                   recorded.",
    params(
        ("id" = String, Path, description = "The release's id, e.g. TR-0002 or RCO-0001"),
        ("sample" = Option<usize>, Query, minimum = 1, maximum = 500,
            description = "How many recent declarations to compare, 1 to 500 (default 200)"),
    ),
    responses(
        (status = 200, description = "What would change", body = DryRunReport),
        (status = 403, description = "The role may not manage releases", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such tariff release, exchange-rate table or code list, or `sample` is out of range",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn dry_run<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ReleaseRef(id): ReleaseRef,
    query: DryRunQuery,
) -> Result<Json<DryRunReport>, ApiError> {
    let report = state.clearance.dry_run(&caller, &id, query.sample).await?;
    Ok(Json(DryRunReport(report)))
}

#[utoipa::path(
    post,
    path = "/v1/releases/{id}/activation",
    tag = "releases",
    summary = "Activate a release",
    description = "For administrators. Puts the release in force from `effective_from` (inclusive): on a \
                   day, the active release with the latest `effective_from` on or before it is in force; \
                   exchange-rate tables in force are laid over each other.",
    params(("id" = String, Path, description = "The release's id, e.g. TR-0001")),
    request_body(content = ActivationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The activated release", body = ReleaseView),
        (status = 403, description = "The role may not manage releases", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, there is no such release, or its status does \
            not allow it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn activate_release<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ReleaseRef(id): ReleaseRef,
    JsonBody(body): JsonBody,
) -> Result<Json<ReleaseView>, ApiError> {
    let action = Action::ManageReleases;
    let request: ActivationRequest = parse_body(&caller, action, &body)?;
    let effective_from = parse_date("effective_from", &request.effective_from)
        .map_err(|error| refused(&caller, action, &[error]))?;
    let view = state
        .clearance
        .activate_release(&caller, &id, effective_from)
        .await?;
    Ok(Json(ReleaseView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/releases/rollback",
    tag = "releases",
    summary = "Roll back the latest activation",
    description = "For administrators. Withdraws the latest activation of a kind: the release before it is \
                   in force again. Assessments already recorded keep the release they name; officers \
                   reassess the declarations concerned.",
    request_body(content = RollbackRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The release rolled back", body = ReleaseView),
        (status = 403, description = "The role may not manage releases", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, or no release of the kind is active",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn roll_back_release<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Json<ReleaseView>, ApiError> {
    let action = Action::ManageReleases;
    let request: RollbackRequest = parse_body(&caller, action, &body)?;
    let kind = parse_release_kind("kind", &request.kind)
        .map_err(|error| refused(&caller, action, &[error]))?;
    let view = state
        .clearance
        .roll_back_release(&caller, kind, &request.reason)
        .await?;
    Ok(Json(ReleaseView(view)))
}

// ---------------------------------------------------------------------------------------------
// Bulk reassessment after a roll-back.

/// The declarations whose latest assessment used a tariff release or exchange-rate table, most
/// recent first, at most 200 (`clearance::bulk_reassessment::BULK_REASSESSMENT_DECLARATIONS_MAX`).
/// Members: `release`, `kind`, `status` (the release's); `declarations` (each: `id`, `number`,
/// `status` — `accepted` ones are reassessed by a bulk job, `released` ones are listed only —,
/// `assessment` number, `total_payable`); `more` (more used it than are listed: the next job
/// takes them); `examined`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct AffectedDeclarationList(Value);

/// A bulk reassessment job. Members: `job` (its Idempotency-Key); `release`, `kind`; `mode`
/// (`dry_run` or `apply`); `state` (`started`: running, or interrupted and resumed by the same
/// key; `finished`); `declarations` (open declarations it took); `released_not_reassessed`;
/// `more` (more remain for the next job); `totals`: `processed`, `changed`, `unchanged`,
/// `skipped` (reassessed by another job since), `failed`, and exact CNY `pay_more_total`,
/// `refund_total`, `refund_due_total` (paid beyond the new totals). A finished job's answer adds
/// `lines` (per declaration: `number`, `outcome` — `pay_more`, `refund`, `unchanged`,
/// `skipped`, `not_assessed` with `problems`, or `failed` with `reason` —, `previous_total`,
/// `total_payable`, `difference`, `per_tax`, `paid`, `outstanding`, `refund_due`); `replayed`
/// when the same key answers again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct BulkReassessmentView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BulkReassessmentList {
    /// Most recent first, at most 100.
    #[schema(value_type = Vec<BulkReassessmentView>)]
    jobs: Vec<Value>,
}

/// A bulk reassessment of the declarations assessed with a rolled-back release.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkReassessmentRequest {
    /// `false` (a dry run: each difference computed, nothing recorded on any declaration) or
    /// `true` (each difference recorded as the officer's reassessment, told to the trade).
    apply: bool,
}

#[utoipa::path(
    get,
    path = "/v1/releases/{id}/declarations",
    tag = "releases",
    summary = "List the declarations assessed with a release",
    description = "For officers. The import declarations whose latest assessment used the tariff release \
                   or exchange-rate table (cancelled ones aside), most recent first, at most 200; `more` \
                   says more remain. A heavy job: one at a time with bulk reassessments.",
    params(("id" = String, Path, description = "The release's id, e.g. TR-0002 or XR-0002")),
    responses(
        (status = 200, description = "The declarations", body = AffectedDeclarationList),
        (status = 403, description = "The role may not reassess", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such release, or a kind that enters no assessment",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A bulk reassessment is running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn affected_declarations<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ReleaseRef(id): ReleaseRef,
) -> Result<Json<AffectedDeclarationList>, ApiError> {
    let affected = state
        .clearance
        .declarations_assessed_with(&caller, &id)
        .await?;
    let view = serde_json::to_value(affected)
        .map_err(|e| ApiError::from(clearance::ClearanceError::Internal(e.into())))?;
    Ok(Json(AffectedDeclarationList(view)))
}

#[utoipa::path(
    post,
    path = "/v1/releases/{id}/reassessments",
    tag = "releases",
    summary = "Reassess in bulk the declarations assessed with a rolled-back release",
    description = "For officers, after the release was rolled back. Takes the open import declarations \
                   whose latest assessment used it (at most 200 a job; `more` says the next job has \
                   more) and assesses each with what is in force on its acceptance date now: a dry run \
                   (`apply: false`) reports each difference and the totals (`pay_more_total`, \
                   `refund_total`, `refund_due_total`, exact CNY) and records nothing on any declaration; \
                   applied (`apply: true`), each difference is recorded as the officer's reassessment and \
                   told to the trade (its receipt says `pay_more` or `refund`; a pay-more blocks the \
                   release until paid; `refund_due` shows what was paid beyond the new total). The \
                   Idempotency-Key names the job: the same key again resumes an interrupted job or \
                   answers the finished one; nothing is recorded twice. One bulk job at a time.",
    params(
        ("id" = String, Path, description = "The rolled-back release's id, e.g. TR-0002 or XR-0002"),
        ("Idempotency-Key" = Option<String>, Header, description = "The job's key: retrying with it is safe"),
    ),
    request_body(content = BulkReassessmentRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The finished job", body = BulkReassessmentView),
        (status = 200, description = "The job of this Idempotency-Key, finished before", body = BulkReassessmentView),
        (status = 403, description = "The role may not reassess", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, no such release, a release not rolled back, or \
            the Idempotency-Key was used for another job", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A bulk reassessment is running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn bulk_reassess<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ReleaseRef(id): ReleaseRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: BulkReassessmentRequest = parse_body(&caller, Action::Reassess, &body)?;
    let job = state
        .clearance
        .bulk_reassess(&caller, key.as_deref(), &id, request.apply)
        .await?;
    let status = if job["replayed"] == true {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(BulkReassessmentView(job))).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/reassessments",
    tag = "releases",
    summary = "List bulk reassessment jobs",
    description = "For officers. The bulk jobs, most recent first (at most 100), each with its release, mode, \
                   state, progress and totals.",
    responses(
        (status = 200, description = "The jobs", body = BulkReassessmentList),
        (status = 403, description = "The role may not reassess", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn bulk_reassessments<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<BulkReassessmentList>, ApiError> {
    let jobs = state.clearance.bulk_reassessments(&caller).await?;
    Ok(Json(BulkReassessmentList { jobs }))
}

#[utoipa::path(
    get,
    path = "/v1/reassessments/{job}",
    tag = "releases",
    summary = "Read one bulk reassessment job with its differences",
    description = "For officers. The job as the list shows it and, once finished, its `lines`: each \
                   declaration's outcome (`pay_more`, `refund`, `unchanged`, ...), previous and new totals and \
                   the difference, exact CNY. A job's key is in its officer's scope: `started_by` names the \
                   officer (the caller when absent).",
    params(
        ("job" = String, Path, description = "The job's Idempotency-Key"),
        ("started_by" = Option<String>, Query, description = "The user id of the officer who ran it"),
    ),
    responses(
        (status = 200, description = "The job", body = BulkReassessmentView),
        (status = 403, description = "The role may not reassess", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn bulk_reassessment<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    axum::extract::Path(job): axum::extract::Path<String>,
    query: crate::extract::ReassessmentJobQuery,
) -> Result<Json<BulkReassessmentView>, ApiError> {
    let started_by = query
        .started_by
        .unwrap_or_else(|| caller.user_id().to_owned());
    let job = state
        .clearance
        .bulk_reassessment(&caller, &started_by, &job)
        .await?;
    Ok(Json(BulkReassessmentView(job)))
}
