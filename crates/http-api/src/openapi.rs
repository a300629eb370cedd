//! The OpenAPI document, generated from the handlers' annotations.
//!
//! The problems every route can answer (401, 413, 429, 503, ...) are added here to each operation
//! rather than repeated in each annotation, so that no route can forget one.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{Ref, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Object, RefOr};
use utoipa::{Modify, OpenApi};

use crate::problem::PROBLEM_CONTENT_TYPE;
use crate::{
    assessing, batches, ceb, enterprises, health, models, modifications, payments, receipts,
    reference, routes, statistics, targeting, tasks, tokens,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenCustoms API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Lodging and clearance of customs declarations. Every error is an RFC 9457 problem \
                       (`application/problem+json`) with English and Chinese details and, for a refused \
                       document, every field error with its path.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::lodge,
        ceb::receive,
        ceb::inventory_list,
        ceb::tax_bill,
        ceb::register_enterprise,
        ceb::add_certificate,
        ceb::register_guarantee,
        ceb::top_up_guarantee,
        ceb::guarantee,
        batches::lodge_batch,
        batches::batch_results,
        receipts::receipts,
        receipts::register,
        receipts::webhook,
        receipts::delete,
        receipts::replay,
        receipts::dead_letters,
        receipts::redeliver_dead_letter,
        routes::list,
        routes::declaration,
        routes::events,
        routes::amend,
        routes::cancel,
        routes::release,
        assessing::estimate,
        assessing::assessments,
        assessing::reassess,
        assessing::import_release,
        assessing::releases,
        assessing::dry_run,
        assessing::activate_release,
        assessing::roll_back_release,
        assessing::affected_declarations,
        assessing::bulk_reassess,
        assessing::bulk_reassessments,
        assessing::bulk_reassessment,
        reference::reference_list,
        targeting::propose_rule,
        targeting::rules,
        targeting::test_rule,
        targeting::backtest_rule,
        targeting::rule_reference,
        targeting::approve_rule,
        targeting::retire_rule,
        targeting::selection,
        targeting::add_watch_entry,
        targeting::watch_entries,
        targeting::remove_watch_entry,
        targeting::approve_watch_entry,
        models::import_history,
        models::train,
        models::request_training,
        models::training_job,
        models::models,
        models::promote,
        models::roll_back,
        models::drift,
        models::scores,
        tasks::tasks,
        tasks::record_finding,
        tasks::reassign_task,
        tasks::go_on_duty,
        tasks::go_off_duty,
        tasks::duty_roster,
        tasks::names,
        tasks::place_hold,
        tasks::add_attachment,
        tasks::attachments,
        tasks::attachment_content,
        statistics::release_times,
        enterprises::set_credit_level,
        tokens::tokens,
        tokens::issue_token,
        tokens::revoke_token,
        tokens::revoke_user_tokens,
        tokens::disable_user,
        tokens::authorise_broker,
        tokens::withdraw_broker,
        payments::payments,
        payments::record_payment,
        payments::confirm_payment,
        payments::connectors,
        payments::register_connector,
        payments::withdraw_connector,
        modifications::requests,
        modifications::decide,
        modifications::assess_manually,
        routes::audit_entries,
        routes::audit_verification,
        routes::health,
        health::live,
        health::ready,
        routes::metrics,
        routes::openapi,
    ),
    components(schemas(
        wire::Problem,
        wire::FieldErrorView,
        // Named by a query parameter only, which utoipa does not collect.
        targeting::RuleStatus,
        tasks::TaskStatus,
    )),
    modifiers(&BearerScheme, &CommonProblems),
    tags(
        (name = "declarations", description = "Customs declarations (报关单)"),
        (name = "e-commerce", description = "Cross-border e-commerce (跨境电商): CEB messages and their receipts, three-document matching (三单对碰), the CEB register and the agents' guarantees (担保)"),
        (name = "assessment", description = "Duty and taxes: estimates and the assessments of declarations (计征税款)"),
        (name = "releases", description = "Tariff releases, exchange-rate tables, value-control tables and national code lists: import, dry run, activation, roll-back (税则版本、价格风险参数、参数代码表)"),
        (name = "reference", description = "The code lists in force for clients: customs offices, procedures, levy natures and modes, transport modes, document types and more (参数代码表)"),
        (name = "targeting", description = "Risk targeting: analysts' rules (four eyes), the watch list, and the lanes declarations are selected into (风险布控、布控名单)"),
        (name = "statistics", description = "Clearance statistics for customs roles: the time from lodging to release (通关时间)"),
        (name = "officer work", description = "Officers' tasks from the lanes (document checks, inspections, sampling, holds) and the findings that close them (单证审核、查验)"),
        (name = "administration", description = "Administration: credit levels (企业信用等级), tokens, users and broker authorisations"),
        (name = "receipts", description = "Receipts pushed to the trade: the feed and the enterprise's webhook (回执)"),
        (name = "audit", description = "The record of the whole enforcement process (执法全过程记录)"),
        (name = "operations", description = "Health, metrics and this description"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for path_item in openapi.paths.paths.values_mut() {
            let operations = [&mut path_item.get, &mut path_item.post];
            for operation in operations.into_iter().flatten() {
                add_common_problems(operation);
            }
        }
    }
}

fn add_common_problems(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    if secured {
        add_problem(
            operation,
            "401",
            "No or an unknown bearer token",
            Some(WWW_AUTHENTICATE),
        );
        add_problem(
            operation,
            "429",
            "Too many requests from this client, or too many of this user's requests in progress \
             (a declarant or broker 8, a customs user 16)",
            Some(RETRY_AFTER),
        );
    }
    if has_body {
        add_problem(operation, "413", "The body is larger than the limit", None);
        add_problem(operation, "415", "The body is not application/json", None);
    }
    add_problem(
        operation,
        "500",
        "The server failed; the cause is logged under the request id",
        None,
    );
    add_problem(
        operation,
        "503",
        "Timed out, busy (every slot of a heavy job is taken: training, imports, reports, \
         statistics, pages of more than 100 rows; one at a time per user), or temporarily \
         unavailable; retrying with the same Idempotency-Key is safe",
        Some(RETRY_AFTER),
    );
}

/// A response header: name, meaning, type.
type HeaderDoc = (&'static str, &'static str, Type);

const WWW_AUTHENTICATE: HeaderDoc = ("WWW-Authenticate", "The challenge: Bearer", Type::String);
const RETRY_AFTER: HeaderDoc = (
    "Retry-After",
    "Seconds to wait before retrying",
    Type::Integer,
);

fn add_problem(
    operation: &mut Operation,
    status: &str,
    description: &str,
    header: Option<HeaderDoc>,
) {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_CONTENT_TYPE, content);
    if let Some((name, meaning, schema_type)) = header {
        let schema = Object::with_type(schema_type);
        response = response.header(
            name,
            HeaderBuilder::new()
                .schema(schema)
                .description(Some(meaning))
                .build(),
        );
    }
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(response.build()));
}
