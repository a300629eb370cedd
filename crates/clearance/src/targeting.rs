//! Targeting (风险布控) in the service: analysts' rules proposed, tested, approved by a second
//! analyst and retired; every accepted declaration selected into a lane by the pure `risk` crate,
//! the decision recorded as a `declaration.targeted` event in the lodging's transaction.
//!
//! A rule's definition travels as JSON (the request body an analyst sends), kept by the store as
//! given after it compiled; the active rules are compiled once into a `risk::RuleSet` and cached
//! like the releases (refreshed after a change made here, at most `CATALOG_REFRESH` after one
//! made elsewhere). Trade roles never see rules or reasons: only their lane and what is asked.
//!
//! The watch list and the value-control table in force on the day are passed too
//! (`crate::watch_list`), and the trader's credit level (企业信用等级, `general` until an
//! administrator sets one), read from the store per lodging through a small cache
//! ([`CreditLevels`]: at most `CATALOG_REFRESH` old, emptied by a change made here). Not yet
//! here: the importer's history counts.

use crate::invalidation::Freshness;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use domain::{Declaration, DeclarationKind, Direction, FieldError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{DeclarationQuery, LinkedEvent, Projection, RiskRuleRow, Store};

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::releases::CATALOG_REFRESH;

/// The event that records a declaration's selection.
pub const TARGETED_ACTION: &str = "declaration.targeted";

/// Declarations a rule test runs over, at most.
pub const RULE_TEST_SAMPLE_MAX: usize = 1_000;

/// The longest period a back-test covers, in days, both ends included (a leap year).
pub const BACKTEST_PERIOD_DAYS_MAX: i64 = 366;
/// Declarations a back-test evaluates, at most: a period lodging more is refused (narrow it),
/// rather than judged on part of it.
pub const BACKTEST_DECLARATIONS_MAX: usize = 10_000;
/// Closed checks read per declaration in a back-test, at most (a declaration has one or two).
pub const BACKTEST_CHECKS_PER_DECLARATION_MAX: usize = 100;
/// Hits listed one by one in a back-test's report, at most (all are counted).
pub const BACKTEST_HITS_LISTED_MAX: usize = 500;

/// The counter new rules are numbered from (`R-000001`, ...). Declaration numbers' counters are
/// keyed by their number's prefix, which never holds a colon.
const RULE_COUNTER: &str = "id:risk_rule";

/// A rule as an analyst sends it (and as it is stored).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// Absent for a new rule; the id of the rule a new version replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub scope: ScopeRequest,
    /// `safety`, `revenue` or `both`.
    pub purpose: String,
    /// `document_check`, `physical_inspection`, `lab_sampling` or `hold`.
    pub action: String,
    /// The share of matching declarations selected, a decimal string in 0..=1.
    pub expected_selection_rate: String,
    pub priority: u8,
    pub reason_en: String,
    pub reason_zh: String,
    pub expression: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub procedures: Vec<String>,
    /// `import` or `export`; absent for both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// `ordinary`, `summary`, `full`; empty for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

fn invalid(errors: Vec<FieldError>) -> ClearanceError {
    ClearanceError::Invalid(errors)
}

fn one_of<T: Copy>(
    errors: &mut Vec<FieldError>,
    path: &str,
    raw: &str,
    choices: &[(&str, T)],
) -> Option<T> {
    let found = choices
        .iter()
        .find(|(name, _)| *name == raw)
        .map(|(_, v)| *v);
    if found.is_none() {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        errors.push(FieldError::invalid_format(
            path,
            &format!("one of {}", names.join(", ")),
            &format!("以下之一：{}", names.join("、")),
        ));
    }
    found
}

const PURPOSES: [(&str, risk::Purpose); 3] = [
    ("safety", risk::Purpose::Safety),
    ("revenue", risk::Purpose::Revenue),
    ("both", risk::Purpose::Both),
];
const ACTIONS: [(&str, risk::Action); 4] = [
    ("document_check", risk::Action::DocumentCheck),
    ("physical_inspection", risk::Action::PhysicalInspection),
    ("lab_sampling", risk::Action::LabSampling),
    ("hold", risk::Action::Hold),
];
const DIRECTIONS: [(&str, risk::Direction); 2] = [
    ("import", risk::Direction::Import),
    ("export", risk::Direction::Export),
];
const KINDS: [(&str, risk::DeclarationKind); 3] = [
    ("ordinary", risk::DeclarationKind::Ordinary),
    ("summary", risk::DeclarationKind::Summary),
    ("full", risk::DeclarationKind::Full),
];

fn date(errors: &mut Vec<FieldError>, path: &str, raw: &Option<String>) -> Option<NaiveDate> {
    let raw = raw.as_deref()?;
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok();
    if parsed.is_none() {
        errors.push(FieldError::invalid_format(
            path,
            "a date as YYYY-MM-DD",
            "YYYY-MM-DD 格式的日期",
        ));
    }
    parsed
}

/// The request as the engine's definition, compiled: every problem at once, each naming its
/// field (an expression problem with its line and column).
pub fn compile_request(
    request: &RuleRequest,
    id: &str,
    version: u32,
) -> Result<risk::CompiledRule, ClearanceError> {
    compile_request_after(request, id, version, Vec::new())
}

/// [`compile_request`] after the problems `prior` found reading the request (reported first),
/// all of them within `RULE_PROBLEMS_MAX`.
fn compile_request_after(
    request: &RuleRequest,
    id: &str,
    version: u32,
    prior: Vec<FieldError>,
) -> Result<risk::CompiledRule, ClearanceError> {
    let mut errors = Vec::new();
    let purpose = one_of(&mut errors, "purpose", &request.purpose, &PURPOSES);
    let action = one_of(&mut errors, "action", &request.action, &ACTIONS);
    let direction = request
        .scope
        .direction
        .as_deref()
        .map(|d| one_of(&mut errors, "scope.direction", d, &DIRECTIONS));
    let kinds: Vec<Option<risk::DeclarationKind>> = request
        .scope
        .kinds
        .iter()
        .enumerate()
        .map(|(i, k)| one_of(&mut errors, &format!("scope.kinds[{i}]"), k, &KINDS))
        .collect();
    let valid_from = date(&mut errors, "scope.valid_from", &request.scope.valid_from);
    let valid_to = date(&mut errors, "scope.valid_to", &request.scope.valid_to);
    let rate = request.expected_selection_rate.parse::<Decimal>().ok();
    if rate.is_none() {
        errors.push(FieldError::invalid_format(
            "expected_selection_rate",
            "a decimal from 0 to 1, e.g. \"0.25\"",
            "0 到 1 之间的小数，如 \"0.25\"",
        ));
    }
    // A field the request got wrong is replaced by a placeholder the engine accepts, so the
    // definition's other problems (the expression's above all) are reported with it, at once.
    let definition = risk::RuleDefinition {
        id: id.to_owned(),
        version,
        scope: risk::Scope {
            offices: request.scope.offices.clone(),
            procedures: request.scope.procedures.clone(),
            direction: direction.flatten(),
            kinds: kinds.into_iter().flatten().collect(),
            valid_from,
            valid_to,
        },
        purpose: purpose.unwrap_or(risk::Purpose::Both),
        action: action.unwrap_or(risk::Action::DocumentCheck),
        expected_selection_rate: rate.unwrap_or(Decimal::ZERO),
        priority: request.priority,
        reason_en: request.reason_en.clone(),
        reason_zh: request.reason_zh.clone(),
        expression: request.expression.clone(),
    };
    // Uncapped here: the definition's problems, the engine's and the caller's are capped
    // together below.
    let compiled = risk::compile_within(definition, usize::MAX);
    let problems = match compiled {
        Ok(compiled) if errors.is_empty() && prior.is_empty() => return Ok(compiled),
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    };
    let engine = problems.into_iter().map(|p| {
        let at = p
            .position
            .map(|p| {
                (
                    format!(" at {}:{}", p.line, p.column),
                    format!("（第 {} 行第 {} 列）", p.line, p.column),
                )
            })
            .unwrap_or_default();
        FieldError {
            path: p.field,
            code: domain::ErrorCode::InvalidFormat,
            message_en: format!("{}{} [{}]", p.en, at.0, p.code),
            message_zh: format!("{}{}", p.zh, at.1),
        }
        // A rule's text of any length gives a message of bounded length.
        .bounded()
    });
    // A member the JSON got wrong was replaced by a placeholder: nothing said of the
    // placeholder is said of the member.
    let wrong: Vec<String> = prior.iter().map(|e| e.path.clone()).collect();
    let within = |path: &str| {
        wrong.iter().any(|w| {
            path == w
                || path
                    .strip_prefix(w.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    };
    let all: Vec<FieldError> = prior
        .into_iter()
        .chain(errors.into_iter().filter(|e| !within(&e.path)))
        .chain(engine.filter(|e| !within(&e.path)))
        .collect();
    Err(invalid(problems_at_most(all, risk::RULE_PROBLEMS_MAX)))
}

/// The first `max` problems of a rule, and one more saying how many were left out, if any were
/// (as the engine says it of its own).
fn problems_at_most(mut problems: Vec<FieldError>, max: usize) -> Vec<FieldError> {
    if problems.len() > max {
        let left_out = problems.len() - max;
        let path = problems[max].path.clone();
        problems.truncate(max);
        problems.push(FieldError {
            path,
            code: domain::ErrorCode::InvalidFormat,
            message_en: format!(
                "{left_out} more problem(s) not shown; at most {max} are reported at once \
                 [too_many_problems]"
            ),
            message_zh: format!("另有 {left_out} 个问题未列出；一次最多报告 {max} 个"),
        });
    }
    problems
}

/// A rule request read from JSON. A body that is not a JSON object is refused as such; in an
/// object every member of the wrong type, missing or unknown is reported (each with its path)
/// together with the rest of the rule's problems, the expression's above all: the members that
/// were right are checked with placeholders for the wrong ones.
pub fn read_rule_request(body: &[u8]) -> Result<RuleRequest, ClearanceError> {
    // Most bodies are well-formed: read them at full speed.
    if let Ok(request) = serde_json::from_slice::<RuleRequest>(body) {
        return Ok(request);
    }
    let whole = || {
        wire::parse_json::<RuleRequest>(body)
            .err()
            .map(|e| invalid(vec![e]))
            .unwrap_or_else(|| anyhow::anyhow!("a rule request read twice differently").into())
    };
    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(body) else {
        return Err(whole());
    };
    let mut problems = Vec::new();
    let mut request = RuleRequest {
        id: None,
        scope: ScopeRequest::default(),
        purpose: "both".into(),
        action: "document_check".into(),
        expected_selection_rate: "0".into(),
        priority: 0,
        reason_en: "-".into(),
        reason_zh: "-".into(),
        expression: "true".into(),
    };
    let mut seen = std::collections::HashSet::new();
    for (name, value) in members {
        let path = name.clone();
        match name.as_str() {
            "id" => {
                if !value.is_null() {
                    request.id = text_member(&mut problems, &path, value);
                }
            }
            "scope" => request.scope = scope_member(&mut problems, value),
            "purpose"
            | "action"
            | "expected_selection_rate"
            | "reason_en"
            | "reason_zh"
            | "expression" => {
                seen.insert(name.clone());
                if let Some(text) = text_member(&mut problems, &path, value) {
                    match name.as_str() {
                        "purpose" => request.purpose = text,
                        "action" => request.action = text,
                        "expected_selection_rate" => request.expected_selection_rate = text,
                        "reason_en" => request.reason_en = text,
                        "reason_zh" => request.reason_zh = text,
                        _ => request.expression = text,
                    }
                }
            }
            "priority" => {
                seen.insert(name.clone());
                match value.as_u64().and_then(|p| u8::try_from(p).ok()) {
                    Some(p) => request.priority = p,
                    None => problems.push(wrong_type(
                        &path,
                        "an integer from 0 to 255",
                        "0 至 255 的整数",
                    )),
                }
            }
            _ => problems.push(FieldError::unknown_field(&path)),
        }
    }
    for required in [
        "purpose",
        "action",
        "expected_selection_rate",
        "priority",
        "reason_en",
        "reason_zh",
        "expression",
    ] {
        if !seen.contains(required) {
            problems.push(FieldError::required(required));
        }
    }
    if problems.is_empty() {
        // serde refused what this reader accepts: say serde's reason rather than nothing.
        return Err(whole());
    }
    // Every problem together: the placeholders compile, so what remains is the rule's own.
    let id = request.id.clone().unwrap_or_else(|| "R-NEW".into());
    match compile_request_after(&request, &id, 1, problems) {
        Err(e) => Err(e),
        Ok(_) => Err(anyhow::anyhow!("a rule with problems compiled").into()),
    }
}

fn wrong_type(path: &str, en: &str, zh: &str) -> FieldError {
    FieldError {
        path: path.to_owned(),
        code: domain::ErrorCode::InvalidType,
        message_en: format!("has the wrong type: {en} is expected"),
        message_zh: format!("数据类型错误：应为{zh}"),
    }
    .bounded()
}

fn text_member(problems: &mut Vec<FieldError>, path: &str, value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        _ => {
            problems.push(wrong_type(path, "a string", "字符串"));
            None
        }
    }
}

fn texts_member(problems: &mut Vec<FieldError>, path: &str, value: Value) -> Vec<String> {
    let Value::Array(values) = value else {
        problems.push(wrong_type(path, "a list of strings", "字符串列表"));
        return Vec::new();
    };
    values
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| text_member(problems, &format!("{path}[{i}]"), v))
        .collect()
}

fn scope_member(problems: &mut Vec<FieldError>, value: Value) -> ScopeRequest {
    let mut scope = ScopeRequest::default();
    let Value::Object(members) = value else {
        problems.push(wrong_type("scope", "an object", "对象"));
        return scope;
    };
    for (name, value) in members {
        let path = format!("scope.{name}");
        match name.as_str() {
            "offices" => scope.offices = texts_member(problems, &path, value),
            "procedures" => scope.procedures = texts_member(problems, &path, value),
            "kinds" => scope.kinds = texts_member(problems, &path, value),
            "direction" | "valid_from" | "valid_to" if value.is_null() => {}
            "direction" => scope.direction = text_member(problems, &path, value),
            "valid_from" => scope.valid_from = text_member(problems, &path, value),
            "valid_to" => scope.valid_to = text_member(problems, &path, value),
            _ => problems.push(FieldError::unknown_field(&path)),
        }
    }
    scope
}

/// The analysts' reference as JSON: every variable, field, function, macro and limit a rule can
/// use, from the checker's own catalogue (`risk::catalogue`, `risk::reference`), the same lists
/// as `docs/rule-reference.md`.
pub fn rule_reference() -> Value {
    use risk::catalogue::{FIELDS, FUNCTIONS, MACROS, NameType, VARIABLES};
    let ty = |t: NameType| json!({ "en": t.en(), "zh": t.zh() });
    let functions = |list: &[risk::catalogue::FunctionName]| -> Vec<Value> {
        list.iter()
            .map(|f| {
                json!({
                    "name": f.name, "type": ty(f.ty), "example": f.example,
                    "en": f.en, "zh": f.zh,
                })
            })
            .collect()
    };
    json!({
        "variables": VARIABLES.iter().map(|v| json!({
            "name": v.name, "type": ty(v.ty), "example": v.example, "en": v.en, "zh": v.zh,
        })).collect::<Vec<_>>(),
        "fields": FIELDS.iter().map(|f| json!({
            "name": f.path(), "variable": f.root, "type": ty(f.ty), "optional": f.optional,
            "per_item": f.item_level, "example": f.example(), "en": f.en, "zh": f.zh,
        })).collect::<Vec<_>>(),
        "functions": functions(FUNCTIONS),
        "macros": functions(MACROS),
        "limits": risk::reference::LIMITS.iter().map(|l| json!({
            "name": l.name, "value": l.value, "en": l.en, "zh": l.zh,
        })).collect::<Vec<_>>(),
    })
}

/// The limits of one back-test (the constants, or smaller in tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BacktestLimits {
    pub(crate) declarations: usize,
    pub(crate) history_rows: usize,
}

/// What the checks closed on one declaration found: one label for the back-test.
#[derive(Debug, Default, Clone)]
struct CheckLabel {
    checked: bool,
    discrepancy: bool,
    /// The additional duty and tax the checks that found a discrepancy recorded (a refund counts
    /// as none), exact.
    revenue: Decimal,
}

/// A back-test's totals: over the declarations of the period, and over the rule's hits.
#[derive(Debug, Default)]
struct BacktestTotals {
    declarations: u64,
    checked: u64,
    frauds: u64,
    revenue: Decimal,
}

impl BacktestTotals {
    fn add(&mut self, label: &CheckLabel) -> Result<(), ClearanceError> {
        self.declarations += 1;
        self.checked += u64::from(label.checked);
        self.frauds += u64::from(label.discrepancy);
        sum(&mut self.revenue, label.revenue)
    }
}

fn ratio(n: u64, of: u64) -> Value {
    if of == 0 {
        Value::Null
    } else {
        json!(n as f64 / of as f64)
    }
}

fn sum(total: &mut Decimal, add: Decimal) -> Result<(), ClearanceError> {
    *total = total
        .checked_add(add)
        .ok_or_else(|| anyhow::anyhow!("revenue sum overflows"))?;
    Ok(())
}

/// A rule version as the API shows it (to customs roles).
pub fn rule_view(row: &RiskRuleRow) -> Value {
    json!({
        "id": row.id,
        "version": row.version,
        "status": row.status,
        "definition": serde_json::from_str::<Value>(&row.definition).unwrap_or(Value::Null),
        "author": row.author,
        "proposed_at": crate::views::rfc3339(row.proposed_at_ms),
        "approved_by": row.approved_by,
        "approved_seq": row.approved_seq,
        "ended_seq": row.ended_seq,
    })
}

/// The active rules, compiled and indexed, refreshed when stale.
#[derive(Default)]
pub(crate) struct RuleCatalog {
    state: Mutex<Option<(Instant, Arc<risk::RuleSet>)>>,
    freshness: Arc<Freshness>,
}

impl RuleCatalog {
    pub(crate) fn watched(freshness: &Arc<Freshness>) -> RuleCatalog {
        RuleCatalog {
            state: Mutex::new(None),
            freshness: freshness.clone(),
        }
    }

    pub(crate) fn invalidate(&self) {
        *self.state.lock().expect("rule catalog lock") = None;
    }

    async fn rules<S: Store>(&self, store: &S) -> Result<Arc<risk::RuleSet>, ClearanceError> {
        if let Some((at, rules)) = self.state.lock().expect("rule catalog lock").as_ref()
            && at.elapsed() < CATALOG_REFRESH
            && self.freshness.trusted()
        {
            return Ok(rules.clone());
        }
        let ticket = self.freshness.ticket();
        let mut compiled = Vec::new();
        for row in store.risk_rules(Some("active")).await? {
            let request: RuleRequest = serde_json::from_str(&row.definition).map_err(|e| {
                anyhow::anyhow!(
                    "stored rule {} v{} is not readable: {e}",
                    row.id,
                    row.version
                )
            })?;
            let rule = compile_request(&request, &row.id, row.version).map_err(|e| {
                anyhow::anyhow!(
                    "stored rule {} v{} no longer compiles: {e}",
                    row.id,
                    row.version
                )
            })?;
            compiled.push(rule);
        }
        let rules = Arc::new(risk::RuleSet::build(compiled));
        let mut state = self.state.lock().expect("rule catalog lock");
        if self.freshness.still(ticket) {
            *state = Some((Instant::now(), rules.clone()));
        }
        Ok(rules)
    }
}

/// Traders' profiles as targeting reads them (credit level and record): two store reads per
/// trader, kept at most `CATALOG_REFRESH` (a level set or a check closed elsewhere is seen that
/// late at worst; the declaration count lags as much), emptied when a level is set or a finding
/// recorded here.
#[derive(Default)]
pub(crate) struct CreditLevels {
    levels: Mutex<HashMap<String, (Instant, TraderProfile)>>,
    freshness: Arc<Freshness>,
}

/// What targeting knows of a trader besides its declaration: its credit level and its record.
#[derive(Debug, Clone, Copy)]
pub struct TraderProfile {
    pub credit: risk::CreditLevel,
    pub history: risk::History,
}

/// The window of a trader's declaration count (`features.importer_declarations_365d`).
const HISTORY_WINDOW_MS: i64 = 365 * 24 * 3600 * 1000;

/// Traders whose level is remembered at most; the cache is emptied when full rather than grown.
const CREDIT_CACHE_MAX: usize = 10_000;

impl CreditLevels {
    pub(crate) fn watched(freshness: &Arc<Freshness>) -> CreditLevels {
        CreditLevels {
            levels: Mutex::new(HashMap::new()),
            freshness: freshness.clone(),
        }
    }

    pub(crate) fn invalidate(&self) {
        self.levels.lock().expect("credit level lock").clear();
    }

    /// The trader's level in force (`General` when none was set) and its record, at most
    /// `CATALOG_REFRESH` old.
    async fn profile<S: Store>(
        &self,
        store: &S,
        credit_code: &str,
        now_ms: i64,
    ) -> Result<TraderProfile, ClearanceError> {
        if let Some((at, profile)) = self
            .levels
            .lock()
            .expect("credit level lock")
            .get(credit_code)
            && at.elapsed() < CATALOG_REFRESH
            && self.freshness.trusted()
        {
            return Ok(*profile);
        }
        let ticket = self.freshness.ticket();
        let credit = match store.credit_level(credit_code).await? {
            None => risk::CreditLevel::General,
            Some(name) => crate::admin::parse_credit_level(&name).ok_or_else(|| {
                anyhow::anyhow!("stored credit level {name:?} of {credit_code} is unknown")
            })?,
        };
        let record = store
            .trader_history(credit_code, now_ms - HISTORY_WINDOW_MS)
            .await?;
        let profile = TraderProfile {
            credit,
            history: risk::History {
                declarations_365d: u32::try_from(record.declarations).unwrap_or(u32::MAX),
                discrepancies: u32::try_from(record.discrepancies).unwrap_or(u32::MAX),
            },
        };
        let mut levels = self.levels.lock().expect("credit level lock");
        if !self.freshness.still(ticket) {
            return Ok(profile);
        }
        if levels.len() >= CREDIT_CACHE_MAX {
            levels.clear();
        }
        levels.insert(credit_code.to_owned(), (Instant::now(), profile));
        Ok(profile)
    }
}

/// The declaration as targeting sees it, for a trader of `General` credit with no record (the
/// bench; tests).
pub fn risk_input(
    declaration: &Declaration,
    figures: Option<&crate::AssessedFigures>,
) -> risk::RiskInput {
    let profile = TraderProfile {
        credit: risk::CreditLevel::General,
        history: risk::History::default(),
    };
    risk_input_with_profile(declaration, figures, profile)
}

/// The declaration as targeting sees it, with its assessment's customs values and total payable
/// when it was assessed, and what is known of its trader.
pub fn risk_input_with_profile(
    declaration: &Declaration,
    figures: Option<&crate::AssessedFigures>,
    profile: TraderProfile,
) -> risk::RiskInput {
    let header = risk::DeclarationHeader {
        direction: match declaration.direction {
            Direction::Import => risk::Direction::Import,
            Direction::Export => risk::Direction::Export,
        },
        kind: match declaration.kind {
            DeclarationKind::Summary => risk::DeclarationKind::Summary,
            DeclarationKind::Full { .. } => risk::DeclarationKind::Full,
            _ => risk::DeclarationKind::Ordinary,
        },
        procedure: declaration.procedure.as_str().to_owned(),
        office_of_lodging: declaration.office_of_lodging.as_str().to_owned(),
        office_of_entry_exit: declaration.office_of_entry_exit.as_str().to_owned(),
        transport_mode: declaration.transport.mode.as_str().to_owned(),
        transport_means: declaration.transport.means_name.clone(),
        trader: declaration.trader.credit_code.as_str().to_owned(),
        declarant: declaration.declarant.credit_code.as_str().to_owned(),
        overseas_party_name: declaration.overseas_party.name.clone(),
        overseas_party_country: declaration
            .overseas_party
            .country
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        // The declaration has no shipper of its own: the consignor is the overseas party on an
        // import (境外发货人) and the domestic exporter, by name, on an export (境内发货人).
        consignor: Some(match declaration.direction {
            Direction::Import => declaration.overseas_party.name.clone(),
            Direction::Export => declaration.trader.name.clone(),
        }),
        dispatch_country: declaration
            .dispatch_country
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        invoice_currency: declaration.invoice.currency.as_str().to_owned(),
        invoice_amount: declaration.invoice.amount,
        customs_value_cny: figures.map(|f| f.item_customs_values.iter().sum()),
        payable_cny: figures.map(|f| f.total_payable),
        documents: declaration
            .documents
            .iter()
            .map(|d| d.document_type.as_str().to_owned())
            .collect(),
    };
    let items = declaration
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let statutory = |i: usize| {
                item.statutory_quantities
                    .get(i)
                    .map(|q| (q.value, q.unit.as_str().to_owned()))
            };
            risk::RiskItem {
                commodity_code: item.commodity_code.as_str().to_owned(),
                description: item.description.clone(),
                origin_country: item.origin_country.as_str().to_owned(),
                quantity: item.quantity.value,
                unit: item.quantity.unit.as_str().to_owned(),
                statutory_quantity_1: statutory(0),
                statutory_quantity_2: statutory(1),
                amount: item.amount,
                customs_value_cny: figures
                    .and_then(|f| f.item_customs_values.get(index))
                    .copied(),
                net_mass_kg: None,
                licence_codes: Vec::new(),
            }
        })
        .collect();
    risk::RiskInput {
        declaration: header,
        items,
        credit: profile.credit,
        history: profile.history,
        model_score: None,
        model: None,
    }
}

fn source_view(source: &risk::ReasonSource) -> Value {
    match source {
        risk::ReasonSource::Rule { id, version, items } => {
            json!({ "kind": "rule", "rule": id, "version": version, "items": items })
        }
        risk::ReasonSource::WatchList { kind, value } => {
            json!({ "kind": "watch_list", "entity": kind.as_str(), "value": value })
        }
        risk::ReasonSource::ValueControl {
            item,
            unit,
            unit_value_cny,
            min_unit_value_cny,
            max_unit_value_cny,
        } => json!({
            "kind": "value_control", "item": item, "unit": unit,
            "unit_value_cny": unit_value_cny.to_string(),
            "min_unit_value_cny": min_unit_value_cny.map(|v| v.to_string()),
            "max_unit_value_cny": max_unit_value_cny.map(|v| v.to_string()),
        }),
        risk::ReasonSource::Licence { item, code } => {
            json!({ "kind": "licence", "item": item, "code": code })
        }
        // Why the model selected it, and with what chance: its label's weight when the model
        // learns from the checks it asked for (`models::label_weight`).
        risk::ReasonSource::Model {
            model,
            item,
            score,
            threshold,
            selected_by,
        } => json!({
            "kind": "model", "model": model, "item": item, "score": score, "threshold": threshold,
            "selected_by": selected_by.as_str(),
        }),
        risk::ReasonSource::Random => json!({ "kind": "random" }),
    }
}

fn action_key(action: risk::Action) -> &'static str {
    ACTIONS
        .iter()
        .find(|(_, a)| *a == action)
        .map_or("", |(name, _)| name)
}

/// The `declaration.targeted` payload: the lane, every reason in order of weight (selected or
/// not), the random check, the risk model's exploration draw (when it drew one) and the seed
/// that replays the draws.
fn selection_record(selection: &risk::Selection) -> Value {
    let reasons: Vec<Value> = selection
        .reasons
        .iter()
        .map(|r| {
            json!({
                "source": source_view(&r.source),
                "action": action_key(r.action),
                "priority": r.priority,
                "weight": r.weight,
                "selected": r.selected,
                "rate": r.rate,
                "draw": r.draw,
                "en": r.en,
                "zh": r.zh,
            })
        })
        .collect();
    json!({
        "lane": selection.lane.as_str(),
        "reasons": reasons,
        "random": {
            "rate": selection.random.rate,
            "draw": selection.random.draw,
            "selected": selection.random.selected,
        },
        "model_exploration": selection.exploration.map(|e| json!({
            "rate": e.rate, "draw": e.draw, "selected": e.selected,
        })),
        "seed": selection.seed.to_string(),
        "rules_in_force": selection.stats.rules,
        "rules_evaluated": selection.stats.evaluated_rules,
        "errors": selection.errors.iter().map(|e| json!({
            "rule": e.rule_id, "version": e.version, "item": e.item, "en": e.en, "zh": e.zh,
        })).collect::<Vec<_>>(),
    })
}

impl<S: Store> Clearance<S> {
    /// The selection of a declaration, and the officers' tasks it asks for, to append with its
    /// acceptance; and what was decided, to count once it is accepted.
    pub(crate) async fn targeting(
        &self,
        declaration_id: &str,
        declaration: &Declaration,
        figures: Option<&crate::AssessedFigures>,
        day: NaiveDate,
        now_ms: i64,
    ) -> Result<(Vec<LinkedEvent>, crate::operations::Decided), ClearanceError> {
        let rules = self.rule_catalog.rules(&self.store).await?;
        let lists = self.lists_in_force(day).await?;
        let profile = self
            .credit_levels
            .profile(&self.store, declaration.trader.credit_code.as_str(), now_ms)
            .await?;
        let mut input = risk_input_with_profile(declaration, figures, profile);
        let scoring = self
            .score_declaration(declaration_id, declaration, figures, day)
            .await?;
        input.model_score = scoring.verdict.as_ref().map(|v| v.score);
        input.model = scoring.verdict;
        let draw = risk::RandomDraw {
            seed: rand::random(),
        };
        let selection = risk::select(&input, &rules, &lists, &self.config.selection, day, draw);
        let record = selection_record(&selection);
        let decided = crate::operations::Decided {
            lane: selection.lane.as_str(),
            rules: selection
                .reasons
                .iter()
                .filter_map(|r| match &r.source {
                    risk::ReasonSource::Rule { id, .. } => Some((id.to_string(), r.selected)),
                    _ => None,
                })
                .collect(),
            scored_by: scoring.scored_by,
        };
        let tasks = if crate::tasks::kinds_asked(&record).is_empty() {
            Vec::new()
        } else {
            let office = declaration.office_of_lodging.as_str();
            let (officers, pool) = self.task_candidates(office).await?;
            crate::tasks::task_events(
                declaration_id,
                office,
                &record,
                selection.seed,
                (&officers, pool),
                now_ms,
            )
        };
        let targeted = LinkedEvent {
            // The selection is the engine's: the rules, lists, model and seeded draw it names.
            actor: Some(crate::system_actor()),
            subject: declaration_id.to_owned(),
            action: TARGETED_ACTION.to_owned(),
            payload: record.to_string(),
            expected_version: None,
            projection: Projection::Nothing,
        };
        let events = scoring
            .event
            .into_iter()
            .chain(std::iter::once(targeted))
            .chain(tasks)
            .collect();
        Ok((events, decided))
    }

    /// A declaration's selection. Customs roles see every reason; trade roles only the lane and
    /// what is asked of them (never the rules).
    pub async fn selection(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Read)?;
        let row = self.visible_row(caller, id_or_number).await?;
        let event = self
            .store
            .events(&row.id)
            .await?
            .into_iter()
            .rfind(|e| e.action == TARGETED_ACTION)
            .ok_or(ClearanceError::NotFound)?;
        let record: Value = serde_json::from_str(&event.payload)
            .map_err(|e| anyhow::anyhow!("stored selection {} is not readable: {e}", event.seq))?;
        if !caller.role.is_trade() {
            return Ok(record);
        }
        // What is asked: the actions of the reasons that selected it, not why.
        let asked = crate::tasks::kinds_asked(&record);
        Ok(json!({ "lane": record["lane"], "asked": asked }))
    }

    /// Proposes a rule, or a new version of one: checked and compiled like an active rule, then
    /// kept as `proposed` until another analyst approves it.
    pub async fn propose_rule(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        let request = read_rule_request(body)?;
        let versions = self.store.risk_rules(None).await?;
        let (id, version) = match &request.id {
            Some(id) => {
                let latest = versions
                    .iter()
                    .filter(|r| &r.id == id)
                    .map(|r| r.version)
                    .max();
                let Some(latest) = latest else {
                    return Err(invalid(vec![FieldError::not_allowed(
                        "id",
                        &format!("no rule {id}: leave the id out to propose a new rule"),
                        &format!("不存在规则 {id}：新规则请勿填写编号"),
                    )]));
                };
                (id.clone(), latest + 1)
            }
            // A new rule's number comes from its own counter, so two analysts proposing at
            // once get two rules. (Two new versions of one rule at once: the second is refused
            // as taken and is proposed again on the version that won.)
            None => {
                // A refused rule takes no number.
                compile_request(&request, "R-NEW", 1)?;
                let serial = self.store.reserve_serials(RULE_COUNTER, 1).await?;
                (format!("R-{serial:06}"), 1)
            }
        };
        compile_request(&request, &id, version)?;
        let stored = RuleRequest {
            id: Some(id.clone()),
            ..request
        };
        let row = RiskRuleRow {
            id: id.clone(),
            version,
            status: "proposed".into(),
            definition: serde_json::to_string(&stored).expect("a rule serializes"),
            author: caller.user_id().to_owned(),
            proposed_at_ms: self.now().timestamp_millis(),
            approved_by: None,
            approved_seq: None,
            ended_seq: None,
        };
        let payload = json!({ "rule": id, "version": version, "definition": stored });
        self.rule_event(
            caller,
            &id,
            "rule.proposed",
            payload,
            Projection::ProposeRule(row.clone()),
        )
        .await?;
        Ok(rule_view(&row))
    }

    /// Four eyes: another analyst than the author puts a proposed version in force.
    pub async fn approve_rule(
        &self,
        caller: &Caller,
        id: &str,
        version: u32,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        let row = self.rule_version(id, version).await?;
        if row.author == caller.user_id() {
            return Err(ClearanceError::Forbidden {
                message_en: "the author of a rule cannot approve it (four eyes)".into(),
                message_zh: "规则起草人不能审批本人起草的规则（双人复核）".into(),
                errors: vec![],
            });
        }
        let payload = json!({ "rule": id, "version": version });
        let projection = Projection::ApproveRule {
            id: id.to_owned(),
            version,
            approver: caller.user_id().to_owned(),
        };
        self.rule_event(caller, id, "rule.approved", payload, projection)
            .await?;
        Ok(rule_view(&self.rule_version(id, version).await?))
    }

    /// Retires an active version (deactivation is an event).
    pub async fn retire_rule(
        &self,
        caller: &Caller,
        id: &str,
        version: u32,
        reason: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        let reason =
            domain::numbers::parse_text("reason", reason, domain::limits::REASON_LENGTH_MAX)
                .map_err(|e| invalid(vec![e]))?;
        let payload = json!({ "rule": id, "version": version, "reason": reason });
        let projection = Projection::RetireRule {
            id: id.to_owned(),
            version,
        };
        self.rule_event(caller, id, "rule.retired", payload, projection)
            .await?;
        Ok(rule_view(&self.rule_version(id, version).await?))
    }

    /// Every rule version, or those with `status`.
    pub async fn rules(
        &self,
        caller: &Caller,
        status: Option<&str>,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadRules)?;
        Ok(self
            .store
            .risk_rules(status)
            .await?
            .iter()
            .map(rule_view)
            .collect())
    }

    async fn rule_version(&self, id: &str, version: u32) -> Result<RiskRuleRow, ClearanceError> {
        self.store
            .risk_rules(None)
            .await?
            .into_iter()
            .find(|r| r.id == id && r.version == version)
            .ok_or(ClearanceError::NotFound)
    }

    /// Checks a rule (a request, not stored, nothing read or written) as `propose_rule` would:
    /// every problem at once, each naming its field. For an analyst's editor, validating as they
    /// type.
    pub fn check_rule(&self, caller: &Caller, body: &[u8]) -> Result<(), ClearanceError> {
        caller.require(Action::WriteRules)?;
        let request = read_rule_request(body)?;
        let id = request.id.clone().unwrap_or_else(|| "R-NEW".into());
        compile_request(&request, &id, 1).map(|_| ())
    }

    /// Runs a rule (a request, not stored) over the most recent `sample` declarations: what it
    /// would hit and how often it would select. Nothing is written.
    pub async fn test_rule(
        &self,
        caller: &Caller,
        body: &[u8],
        sample: usize,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        if !(1..=RULE_TEST_SAMPLE_MAX).contains(&sample) {
            return Err(invalid(vec![FieldError::out_of_range(
                "sample",
                &format!("from 1 to {RULE_TEST_SAMPLE_MAX}"),
                &format!("在 1 到 {RULE_TEST_SAMPLE_MAX} 之间"),
            )]));
        }
        let request = read_rule_request(body)?;
        let id = request.id.clone().unwrap_or_else(|| "R-TEST".into());
        let rule = compile_request(&request, &id, 0)?;
        let rules = risk::RuleSet::build(vec![rule]);
        let listed = self
            .store
            .list_declarations(&DeclarationQuery {
                limit: sample,
                ..DeclarationQuery::default()
            })
            .await?;
        let (mut matched, mut selected, mut hits) = (0usize, 0usize, Vec::new());
        let config = risk::SelectionConfig {
            default_random_rate: Decimal::ZERO,
            random_rates: Vec::new(),
            ..self.config.selection.clone()
        };
        for listed in &listed {
            let row = &listed.row;
            let draw = risk::RandomDraw {
                seed: rand::random(),
            };
            let selection = self.select_again(row, &rules, &config, draw).await?;
            if let Some((_, items, was_selected)) = selection.matched_rules().next() {
                matched += 1;
                selected += usize::from(was_selected);
                hits.push(
                    json!({ "number": row.number, "items": items, "selected": was_selected }),
                );
            }
        }
        let compared = listed.len();
        Ok(json!({
            "declarations_tested": compared,
            "matched": matched,
            "match_rate": if compared == 0 { 0.0 } else { matched as f64 / compared as f64 },
            "selected": selected,
            "hits": hits,
        }))
    }

    /// The analysts' reference (customs roles that read rules): see [`rule_reference`].
    pub fn rule_reference(&self, caller: &Caller) -> Result<Value, ClearanceError> {
        caller.require(Action::ReadRules)?;
        Ok(rule_reference())
    }

    /// Back-tests a rule (a request, not stored) on the declarations lodged from `from` to `to`
    /// (days in the administration's time zone, both included), labelled by the checks closed on
    /// them: how many it hits (its conditions match, before any sampling by its expected rate),
    /// how many of those hits were checked and found a discrepancy (precision), the share of the
    /// period's frauds it hits (recall) and the revenue those checks recovered, exact. Read only:
    /// nothing is written. At most [`BACKTEST_PERIOD_DAYS_MAX`] days and
    /// [`BACKTEST_DECLARATIONS_MAX`] declarations, refused beyond, before any is evaluated.
    ///
    /// `source` chooses the labelled declarations: `declarations` (the default) or `history`, the
    /// imported labelled history (`crate::backtest_history`: its rows dated in the period, at
    /// most `BACKTEST_HISTORY_ROWS_MAX`, evaluated by the same engine; a rule reading a name the
    /// history does not record is refused, naming it).
    pub async fn backtest_rule(
        &self,
        caller: &Caller,
        body: &[u8],
        from: &str,
        to: &str,
        source: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        self.backtest_rule_limited(
            caller,
            body,
            from,
            to,
            source,
            BacktestLimits {
                declarations: BACKTEST_DECLARATIONS_MAX,
                history_rows: crate::backtest_history::BACKTEST_HISTORY_ROWS_MAX,
            },
        )
        .await
    }

    /// [`Clearance::backtest_rule`] with the declarations' limit as an argument, so the tests
    /// reach it cheaply.
    pub(crate) async fn backtest_rule_limited(
        &self,
        caller: &Caller,
        body: &[u8],
        from: &str,
        to: &str,
        source: Option<&str>,
        limits: BacktestLimits,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        let declarations_max = limits.declarations;
        let mut errors = Vec::new();
        let source = crate::backtest_history::BacktestSource::parse(source)
            .map_err(|e| errors.push(e))
            .ok();
        let (from_day, to_day) = (
            date(&mut errors, "from", &Some(from.to_owned())),
            date(&mut errors, "to", &Some(to.to_owned())),
        );
        let request = read_rule_request(body);
        if let (Some(f), Some(t)) = (from_day, to_day) {
            let days = (t - f).num_days() + 1;
            if days < 1 {
                errors.push(FieldError::out_of_range(
                    "to",
                    &format!("on or after from ({f})"),
                    &format!("不早于起始日（{f}）"),
                ));
            } else if days > BACKTEST_PERIOD_DAYS_MAX {
                errors.push(FieldError::out_of_range(
                    "to",
                    &format!("at most {BACKTEST_PERIOD_DAYS_MAX} days from from ({days} asked)"),
                    &format!("距起始日最多 {BACKTEST_PERIOD_DAYS_MAX} 天（请求 {days} 天）"),
                ));
            }
        }
        let (rule, errors) = match request {
            Err(ClearanceError::Invalid(mut problems)) => (None, {
                errors.append(&mut problems);
                errors
            }),
            Err(other) => return Err(other),
            Ok(request) => {
                let id = request.id.clone().unwrap_or_else(|| "R-BACKTEST".into());
                match compile_request(&request, &id, 0) {
                    Ok(rule) => (Some(rule), errors),
                    Err(ClearanceError::Invalid(mut problems)) => {
                        errors.append(&mut problems);
                        (None, errors)
                    }
                    Err(other) => return Err(other),
                }
            }
        };
        let (Some(rule), Some(from_day), Some(to_day), Some(source), true) =
            (rule, from_day, to_day, source, errors.is_empty())
        else {
            return Err(invalid(errors));
        };
        if source == crate::backtest_history::BacktestSource::History {
            let unsupplied = crate::backtest_history::history_unsupplied(&rule);
            if !unsupplied.is_empty() {
                return Err(invalid(unsupplied));
            }
            return self
                .backtest_history(
                    rule,
                    from_day,
                    to_day,
                    limits.history_rows,
                    BACKTEST_HITS_LISTED_MAX,
                )
                .await;
        }
        let mut bounds = Vec::new();
        let lodged_from_ms = self.day_bound_ms(&mut bounds, "from", &Some(from.to_owned()), false);
        let lodged_to_ms = self.day_bound_ms(&mut bounds, "to", &Some(to.to_owned()), true);
        if !bounds.is_empty() {
            return Err(invalid(bounds));
        }
        let listed = self
            .store
            .list_declarations(&DeclarationQuery {
                lodged_from_ms,
                lodged_to_ms,
                limit: declarations_max + 1,
                ..DeclarationQuery::default()
            })
            .await?;
        if listed.len() > declarations_max {
            return Err(invalid(vec![FieldError::out_of_range(
                "to",
                &format!(
                    "a period lodging at most {declarations_max} declarations: this one lodged \
                     more, shorten it"
                ),
                &format!("所选期间申报的报关单不超过 {declarations_max} 份：该期间更多，请缩短"),
            )]));
        }
        let rules = risk::RuleSet::build(vec![rule]);
        let config = risk::SelectionConfig {
            default_random_rate: Decimal::ZERO,
            random_rates: Vec::new(),
            ..self.config.selection.clone()
        };
        let (mut period, mut hit) = (BacktestTotals::default(), BacktestTotals::default());
        let mut hit_list = Vec::new();
        // Oldest first, so the list reads as the period went.
        for listed in listed.iter().rev() {
            let row = &listed.row;
            let label = self.check_label(&row.id).await?;
            period.add(&label)?;
            // No draw decides a hit (the random rate is zero and a hit is a match, selected by
            // the rule's rate or not): the seed is fixed so the same period gives the same report.
            let selection = self
                .select_again(row, &rules, &config, risk::RandomDraw { seed: 0 })
                .await?;
            let Some((_, items, _)) = selection.matched_rules().next() else {
                continue;
            };
            hit.add(&label)?;
            if hit_list.len() < BACKTEST_HITS_LISTED_MAX {
                hit_list.push(json!({
                    "number": row.number,
                    "lodged_on": self.date_of_ms(row.lodged_at_ms).to_string(),
                    "items": items,
                    "checked": label.checked,
                    "discrepancy": label.discrepancy,
                    "revenue_found": label.revenue.to_string(),
                }));
            }
        }
        Ok(json!({
            "source": "declarations",
            "from": from_day.to_string(),
            "to": to_day.to_string(),
            "declarations": period.declarations,
            "hits": hit.declarations,
            "hit_rate": ratio(hit.declarations, period.declarations),
            "checked": period.checked,
            "checked_hits": hit.checked,
            "frauds": period.frauds,
            "frauds_found": hit.frauds,
            "precision": ratio(hit.frauds, hit.checked),
            "recall": ratio(hit.frauds, period.frauds),
            "revenue": period.revenue.to_string(),
            "revenue_found": hit.revenue.to_string(),
            "currency": "CNY",
            "hits_listed": hit_list.len(),
            "hit_list": hit_list,
        }))
    }

    /// The checks closed on a declaration, as one label: checked if any closed, a discrepancy if
    /// any found one, the revenue the finding ones recovered (each check's reassessment
    /// difference, a refund counted as none; like the rule statistics).
    async fn check_label(&self, declaration_id: &str) -> Result<CheckLabel, ClearanceError> {
        let closed = self
            .store
            .tasks(&store::TaskQuery {
                declaration_id: Some(declaration_id.to_owned()),
                status: Some("closed".to_owned()),
                limit: BACKTEST_CHECKS_PER_DECLARATION_MAX,
                ..store::TaskQuery::default()
            })
            .await?;
        let mut label = CheckLabel::default();
        for task in closed
            .iter()
            .filter(|t| crate::tasks::is_check_kind(&t.kind))
        {
            let outcome: Value = task
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            label.checked = true;
            if outcome["discrepancy"] == true {
                label.discrepancy = true;
                let revenue = outcome["revenue_difference"]["total"]
                    .as_str()
                    .and_then(|t| t.parse::<Decimal>().ok())
                    .unwrap_or_default()
                    .max(Decimal::ZERO);
                sum(&mut label.revenue, revenue)?;
            }
        }
        Ok(label)
    }

    async fn rule_event(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        payload: Value,
        projection: Projection,
    ) -> Result<(), ClearanceError> {
        let subject = format!("rule:{id}");
        let appended = self
            .append_reference_event(caller, subject, action, payload, projection, "rule", |_| {
                ClearanceError::NotFound
            })
            .await;
        self.invalidate(&[crate::invalidation::Cache::Rules]);
        appended
    }
}

/// One rule's record, for the analyst deciding whether to keep it.
#[derive(Debug, Default, Clone)]
struct RuleFigures {
    matches: u64,
    selections: u64,
    checks_closed: u64,
    hits: u64,
    revenue: Decimal,
}

/// Events read per page when rule statistics scan the record.
const STATISTICS_PAGE: usize = 1_000;

impl<S: Store> Clearance<S> {
    /// A recorded declaration selected again with `rules` and `config` as targeting saw it at
    /// acceptance: the lists in force on its day, its trader's profile then, and the figures of
    /// its assessment in force.
    async fn select_again(
        &self,
        row: &store::DeclarationRow,
        rules: &risk::RuleSet,
        config: &risk::SelectionConfig,
        draw: risk::RandomDraw,
    ) -> Result<risk::Selection, ClearanceError> {
        let state = self.state_of(row).await?;
        let day = self.date_of_ms(row.lodged_at_ms);
        let lists = self.lists_in_force(day).await?;
        let profile = self
            .credit_levels
            .profile(
                &self.store,
                state.declaration.trader.credit_code.as_str(),
                row.lodged_at_ms,
            )
            .await?;
        let figures = self
            .assessment_records(&row.id)
            .await?
            .last()
            .and_then(crate::AssessedFigures::of_record);
        Ok(risk::select(
            &risk_input_with_profile(&state.declaration, figures.as_ref(), profile),
            rules,
            &lists,
            config,
            day,
            draw,
        ))
    }
    /// Per rule: matches, selections, closed checks, hits (a discrepancy found), hit rate and
    /// revenue recovered per check — the figures an analyst retires a rule on. Computed from the
    /// record (selections and closed tasks), so they always agree with it; a summary table kept by
    /// the writer is the way to make this cheap on a large store.
    pub async fn rule_statistics(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadRules)?;
        let mut figures: BTreeMap<String, RuleFigures> = BTreeMap::new();
        // Every chain: the PostgreSQL store keeps several, SQLite one.
        for chain in 0..self.store.chain_count() {
            let mut after = 0;
            loop {
                let page = self
                    .store
                    .chain_entries(chain, after, STATISTICS_PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.entry.seq;
                for stored in &page {
                    let entry = &stored.entry;
                    let rules_in = |reasons: &Value, selected_only: bool| -> Vec<(String, bool)> {
                        reasons
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|r| {
                                let source = if r["source"].is_object() {
                                    &r["source"]
                                } else {
                                    r
                                };
                                source["kind"] == "rule"
                                    && (!selected_only || r["selected"] != false)
                            })
                            .filter_map(|r| {
                                let source = if r["source"].is_object() {
                                    &r["source"]
                                } else {
                                    r
                                };
                                Some((source["rule"].as_str()?.to_owned(), r["selected"] == true))
                            })
                            .collect()
                    };
                    if entry.action == TARGETED_ACTION {
                        let record: Value =
                            serde_json::from_str(&entry.payload).unwrap_or_default();
                        for (rule, selected) in rules_in(&record["reasons"], false) {
                            let f = figures.entry(rule).or_default();
                            f.matches += 1;
                            f.selections += u64::from(selected);
                        }
                    } else if entry.action == "task.closed" {
                        let record: Value =
                            serde_json::from_str(&entry.payload).unwrap_or_default();
                        let outcome = &record["outcome"];
                        let revenue = outcome["revenue_difference"]["total"]
                            .as_str()
                            .and_then(|t| t.parse::<Decimal>().ok())
                            .unwrap_or_default()
                            .max(Decimal::ZERO);
                        for (rule, _) in rules_in(&outcome["selected_by"]["reasons"], true) {
                            let f = figures.entry(rule).or_default();
                            f.checks_closed += 1;
                            if outcome["discrepancy"] == true {
                                f.hits += 1;
                                f.revenue += revenue;
                            }
                        }
                    }
                }
            }
        }
        Ok(figures
            .into_iter()
            .map(|(rule, f)| {
                let per_check = |n: u64, of: u64| if of == 0 { None } else { Some(n as f64 / of as f64) };
                json!({
                    "rule": rule,
                    "matches": f.matches,
                    "selections": f.selections,
                    "checks_closed": f.checks_closed,
                    "hits": f.hits,
                    "hit_rate": per_check(f.hits, f.checks_closed),
                    "revenue_recovered": tariff::money::fen_text(f.revenue),
                    "revenue_per_check": (f.checks_closed > 0)
                        .then(|| tariff::money::fen_text(f.revenue / Decimal::from(f.checks_closed))),
                })
            })
            .collect())
    }
}
