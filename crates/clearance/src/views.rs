//! Rows → API views, and listing with filters and keyset pagination.

use chrono::{DateTime, NaiveDate, SecondsFormat};
use domain::{Declaration, Direction, FieldError};
use store::{DeclarationCursor, DeclarationQuery, DeclarationRow, EventRow, Store};
use wire::{DeclarationDto, DeclarationPage, DeclarationView, EventView, LodgementView};

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;

/// Page size when the caller does not say.
pub const PAGE_SIZE_DEFAULT: usize = 50;
/// Largest page: bounds the memory and time one request can take.
pub const PAGE_SIZE_MAX: usize = 500;

pub(crate) fn direction_name(declaration: &Declaration) -> &'static str {
    match declaration.direction {
        Direction::Import => "import",
        Direction::Export => "export",
    }
}

pub(crate) fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn receipt(
    row: &DeclarationRow,
    created: bool,
    facts: crate::trade_view::LodgingFacts,
) -> LodgementView {
    LodgementView {
        lane: facts.lane,
        assessment: facts.assessment.to_owned(),
        amount_due: facts.amount_due,
        regime: facts.regime,
        created,
        id: row.id.clone(),
        number: row.number.clone(),
        status: row.status.clone(),
        kind: row.kind.clone(),
        direction: row.direction.clone(),
        version: row.version,
        lodged_at: rfc3339(row.lodged_at_ms),
        summary_number: row.summary_number.clone(),
    }
}

pub(crate) fn declaration_view(row: &DeclarationRow) -> Result<DeclarationView, ClearanceError> {
    let declaration: DeclarationDto = serde_json::from_str(&row.document)
        .map_err(|e| anyhow::anyhow!("stored declaration {} is not readable: {e}", row.id))?;
    Ok(DeclarationView {
        id: row.id.clone(),
        number: row.number.clone(),
        status: row.status.clone(),
        kind: row.kind.clone(),
        direction: row.direction.clone(),
        version: row.version,
        lodged_at: rfc3339(row.lodged_at_ms),
        updated_at: rfc3339(row.updated_at_ms),
        summary_number: row.summary_number.clone(),
        completed_by: row.completed_by.clone(),
        declaration,
    })
}

pub(crate) fn event_view(event: &EventRow) -> Result<EventView, ClearanceError> {
    let payload = serde_json::from_str(&event.payload)
        .map_err(|e| anyhow::anyhow!("stored event {} is not readable: {e}", event.seq))?;
    Ok(EventView {
        seq: event.seq,
        action: event.action.clone(),
        actor_user: event.actor.user_id.clone(),
        actor_role: event.actor.role.clone(),
        recorded_at: rfc3339(event.recorded_at_ms),
        idempotency_key: event.idempotency_key.clone(),
        payload,
    })
}

/// Filters a caller may give when listing declarations (query parameters of the API).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub direction: Option<String>,
    pub office_of_lodging: Option<String>,
    pub trader_credit_code: Option<String>,
    /// Lodged on or after this date (the administration's time zone), YYYY-MM-DD.
    pub lodged_from: Option<String>,
    /// Lodged on or before this date, YYYY-MM-DD.
    pub lodged_to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    /// `true`: only declarations received in continuity; `false` or absent: all.
    pub continuity: Option<String>,
    /// Bill of lading (提运单号, `transport.document.number`), exactly.
    pub bill_of_lading: Option<String>,
    /// A container number (ISO 6346) among `transport.containers`.
    pub container: Option<String>,
    /// The invoice number (`invoice.number`), exactly.
    pub invoice: Option<String>,
    /// The first digits of any item's commodity code.
    pub commodity_code: Option<String>,
    /// A part of the trader's name, in any case.
    pub trader_name: Option<String>,
}

/// Shortest part of a trader's name searched for: one character (one letter, or one Chinese
/// character such as 公) matches most names, a scan that finds nothing in particular.
pub const TRADER_NAME_SEARCH_CHARS_MIN: usize = 2;

/// Longest search term: longer than any bill of lading, invoice number or name kept.
pub const SEARCH_TERM_CHARS_MAX: usize = 100;

/// The search terms checked, each problem named by its parameter.
fn search_terms(filter: &ListFilter, errors: &mut Vec<FieldError>) -> store::DeclarationSearch {
    fn term(errors: &mut Vec<FieldError>, path: &str, value: &Option<String>) -> Option<String> {
        let value = value.as_deref()?.trim();
        let chars = value.chars().count();
        if chars == 0 || chars > SEARCH_TERM_CHARS_MAX {
            errors.push(FieldError::out_of_range(
                path,
                &format!("from 1 to {SEARCH_TERM_CHARS_MAX} characters"),
                &format!("1 到 {SEARCH_TERM_CHARS_MAX} 个字符"),
            ));
            return None;
        }
        Some(value.to_owned())
    }
    let bill_of_lading = term(errors, "bill_of_lading", &filter.bill_of_lading);
    let invoice = term(errors, "invoice", &filter.invoice);
    let container = term(errors, "container", &filter.container).and_then(|text| {
        match domain::codes::ContainerNumber::parse("container", &text) {
            Ok(number) => Some(number.as_str().to_owned()),
            Err(error) => {
                errors.push(error);
                None
            }
        }
    });
    let commodity_code_prefix =
        term(errors, "commodity_code", &filter.commodity_code).and_then(|code| {
            let digits = code.replace('.', "");
            if (2..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Some(digits)
            } else {
                errors.push(FieldError::invalid_format(
                    "commodity_code",
                    "2 to 10 digits of a commodity code (dots allowed), e.g. 8517",
                    "商品编码的前 2 到 10 位数字（可含点），例如 8517",
                ));
                None
            }
        });
    let trader_name = term(errors, "trader_name", &filter.trader_name).and_then(|name| {
        if name.chars().count() < TRADER_NAME_SEARCH_CHARS_MIN {
            errors.push(FieldError::out_of_range(
                "trader_name",
                &format!("at least {TRADER_NAME_SEARCH_CHARS_MIN} characters"),
                &format!("至少 {TRADER_NAME_SEARCH_CHARS_MIN} 个字符"),
            ));
            None
        } else {
            Some(name)
        }
    });
    store::DeclarationSearch {
        bill_of_lading,
        container,
        invoice,
        commodity_code_prefix,
        trader_name,
    }
}

fn one_of(errors: &mut Vec<FieldError>, path: &str, value: &Option<String>, allowed: &[&str]) {
    if let Some(value) = value
        && !allowed.contains(&value.as_str())
    {
        let list = allowed.join(", ");
        errors.push(FieldError::invalid_format(
            path,
            &format!("one of {list}"),
            &format!("以下之一：{list}"),
        ));
    }
}

fn encode_cursor(cursor: DeclarationCursor) -> String {
    format!("{}_{}", cursor.lodged_at_ms, cursor.row)
}

fn decode_cursor(text: &str) -> Option<DeclarationCursor> {
    let (ms, row) = text.split_once('_')?;
    Some(DeclarationCursor {
        lodged_at_ms: ms.parse().ok()?,
        row: row.parse().ok()?,
    })
}

impl<S: Store> Clearance<S> {
    pub(crate) fn day_bound_ms(
        &self,
        errors: &mut Vec<FieldError>,
        path: &str,
        raw: &Option<String>,
        end: bool,
    ) -> Option<i64> {
        let raw = raw.as_deref()?;
        let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") else {
            errors.push(FieldError::invalid_format(
                path,
                "a date as YYYY-MM-DD",
                "YYYY-MM-DD 格式的日期",
            ));
            return None;
        };
        let day = if end { date.succ_opt() } else { Some(date) };
        let local = day
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .and_then(|midnight| midnight.and_local_timezone(self.config.utc_offset).single());
        let Some(local) = local else {
            // A date at the very end of the calendar has no next day: refuse rather than drop it.
            errors.push(FieldError::out_of_range(
                path,
                "a date within the calendar",
                "日历范围内的日期",
            ));
            return None;
        };
        Some(local.timestamp_millis() - i64::from(end))
    }

    /// Declarations visible to the caller, newest first, a page at a time.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: &ListFilter,
    ) -> Result<DeclarationPage, ClearanceError> {
        caller.require(Action::Read)?;
        let mut errors = Vec::new();
        one_of(
            &mut errors,
            "status",
            &filter.status,
            &["accepted", "released", "cancelled"],
        );
        one_of(
            &mut errors,
            "kind",
            &filter.kind,
            &["ordinary", "summary", "full"],
        );
        one_of(
            &mut errors,
            "direction",
            &filter.direction,
            &["import", "export"],
        );
        let limit = filter.limit.unwrap_or(PAGE_SIZE_DEFAULT);
        if !(1..=PAGE_SIZE_MAX).contains(&limit) {
            errors.push(FieldError::out_of_range(
                "limit",
                &format!("from 1 to {PAGE_SIZE_MAX}"),
                &format!("在 1 到 {PAGE_SIZE_MAX} 之间"),
            ));
        }
        let before = filter.cursor.as_deref().map(|c| decode_cursor(c).ok_or(()));
        if let Some(Err(())) = before {
            errors.push(FieldError::invalid_format(
                "cursor",
                "a cursor returned by a previous page",
                "上一页返回的游标",
            ));
        }
        let lodged_from_ms =
            self.day_bound_ms(&mut errors, "lodged_from", &filter.lodged_from, false);
        let lodged_to_ms = self.day_bound_ms(&mut errors, "lodged_to", &filter.lodged_to, true);
        let search = search_terms(filter, &mut errors);
        let continuity = match filter.continuity.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                errors.push(FieldError::invalid_format(
                    "continuity",
                    "true or false",
                    "true 或 false",
                ));
                false
            }
        };
        if !errors.is_empty() {
            return Err(ClearanceError::Invalid(errors));
        }
        let query = DeclarationQuery {
            visible_to: caller.visibility(),
            status: filter.status.clone(),
            kind: filter.kind.clone(),
            direction: filter.direction.clone(),
            office_of_lodging: filter.office_of_lodging.clone(),
            trader_credit_code: filter.trader_credit_code.clone(),
            lodged_from_ms,
            lodged_to_ms,
            before: before.and_then(Result::ok),
            limit: limit + 1,
            search,
            continuity,
        };
        let mut listed = self.store.list_declarations(&query).await?;
        let next_cursor = (listed.len() > limit).then(|| encode_cursor(listed[limit - 1].cursor));
        listed.truncate(limit);
        let declarations = listed
            .iter()
            .map(|l| declaration_view(&l.row))
            .collect::<Result<_, _>>()?;
        Ok(DeclarationPage {
            declarations,
            next_cursor,
        })
    }
}
