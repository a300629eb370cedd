//! Bulk lodging: `POST /v1/declaration-batches/{batch_id}` with many declarations in one body,
//! as JSON lines (`application/x-ndjson`) or CSV in the documented template (`text/csv`,
//! docs/bulk-csv-template.md). Each declaration is lodged through the same service call as a
//! single one, one after the other, and its result is streamed as a JSON line as soon as it is
//! done; `GET /v1/declaration-batches/{batch_id}` reads the results again.
//!
//! Resumable: each row's idempotency key is derived from the batch id and the row (its number,
//! or a CSV declaration's own `declaration_ref`), so re-sending the same file under the same
//! batch id lodges nothing twice and answers the rows already done with their first result.
//!
//! A format is one function from the body to rows (`ndjson_rows`, `csv_rows`); another (WCO XML)
//! is one more such function in `rows_of`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clearance::{Caller, Clearance, ClearanceError};
use domain::{ErrorCode, FieldError};
use serde_json::{Value, json};
use sha2::Digest;
use store::Store;
use tokio::sync::mpsc;

use crate::AppState;
use crate::admission::HeldJob;
use crate::extract::Authenticated;
use crate::problem::ApiError;
use crate::telemetry::Metrics;

/// Declarations in one batch: refused whole above it, before any is lodged.
pub const BATCH_ROWS_MAX: usize = 1_000;
/// The body of one batch, refused before it is read past it (a single declaration's body is
/// at most `ApiConfig::body_limit_bytes`, 4 MiB by default).
pub const BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;
/// A batch id: 1 to this many characters of `A-Z a-z 0-9 . _ -`.
pub const BATCH_ID_LENGTH_MAX: usize = 64;
/// Batches whose results are kept at once (the oldest goes first), and for how long: re-sending
/// the file answers every row again after that, lodging nothing twice.
pub const BATCHES_KEPT: usize = 256;
pub const BATCH_RESULTS_TTL_SECONDS: u64 = 24 * 3600;
/// Result lines buffered between the lodging and a slow reader; the lodging waits beyond it.
const RESULT_LINES_BUFFERED: usize = 16;

pub(crate) const NDJSON: &str = "application/x-ndjson";
pub(crate) const CSV: &str = "text/csv";
/// WCO DM declarations, each a child of one root element of any name (`text/xml` too).
pub(crate) const WCO_XML: &str = "application/xml";
const WCO_XML_TEXT: &str = "text/xml";

/// One declaration of a batch: its ordinal (from 1), where it starts in the file, its own key
/// if it has one, its JSON form or the problems reading it, and where each field came from.
pub(crate) struct BatchRow {
    pub row: usize,
    pub line: usize,
    pub own_key: Option<String>,
    pub body: Result<Vec<u8>, Vec<FieldError>>,
    pub places: Places,
    /// The format it came in, recorded with its acceptance (its receipts are pushed in it).
    pub format: wire::MessageFormat,
}

/// Where a row's fields are in the file, to name them in its errors.
pub(crate) enum Places {
    /// A JSON line: every field is on it.
    Line(usize),
    /// CSV: the declaration's first line and each item's line; a field's column is the
    /// template's (`CSV_COLUMNS`).
    Csv { first: usize, items: Vec<usize> },
    /// A WCO declaration starting on this line; the lodging path's refusals are named by WCO
    /// element path through the declaration it was mapped to (`wco::wco_errors`).
    Wco {
        line: usize,
        declaration: Option<Box<wire::DeclarationDto>>,
    },
}

impl Places {
    fn place(&self, path: &str) -> String {
        match self {
            Places::Line(line) | Places::Wco { line, .. } => format!("line {line}"),
            Places::Csv { first, items } => {
                let item = path
                    .strip_prefix("items[")
                    .and_then(|rest| rest.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok());
                let line = item.and_then(|i| items.get(i)).unwrap_or(first);
                match column_of(path) {
                    Some(column) => format!("line {line}, column {column}"),
                    None => format!("line {line}"),
                }
            }
        }
    }
}

/// The outcome of lodging one declaration: created, repeated (its first result) or refused
/// with every problem. Shared by the API's batches and the console's "Lodge a file".
pub(crate) struct RowOutcome {
    pub outcome: &'static str,
    pub id: Option<String>,
    pub number: String,
    pub errors: Vec<FieldError>,
}

/// Lodges one declaration of a file under `key`, counted in `lodgements_total` like a single
/// lodging; a refusal of the declaration is an outcome, anything else (the store unavailable,
/// ...) is the caller's to answer.
pub(crate) async fn lodge_one<S: Store>(
    clearance: &Clearance<S>,
    metrics: &Metrics,
    caller: &Caller,
    key: &str,
    body: &[u8],
    format: wire::MessageFormat,
) -> Result<RowOutcome, ClearanceError> {
    let refused = |errors| RowOutcome {
        outcome: "refused",
        id: None,
        number: String::new(),
        errors,
    };
    let result = clearance.lodge_as(caller, Some(key), body, format).await;
    metrics.record_lodgement(&result);
    match result {
        Ok(receipt) => Ok(RowOutcome {
            outcome: if receipt.created {
                "created"
            } else {
                "repeated"
            },
            id: Some(receipt.id),
            number: receipt.number,
            errors: Vec::new(),
        }),
        Err(ClearanceError::Invalid(errors)) => Ok(refused(errors)),
        Err(ClearanceError::Forbidden {
            message_en,
            message_zh,
            errors,
        }) => {
            let mut all = vec![FieldError {
                path: String::new(),
                code: ErrorCode::NotAllowed,
                message_en,
                message_zh,
            }];
            all.extend(errors);
            Ok(refused(all))
        }
        Err(ClearanceError::IdempotencyKeyReused) => Ok(refused(vec![FieldError {
            path: String::new(),
            code: ErrorCode::NotAllowed,
            message_en: "this row was lodged before in this batch with other content; send it in \
                         a new batch"
                .into(),
            message_zh: "本批次中该行此前已以不同内容申报；请在新批次中发送".into(),
        }])),
        Err(other) => Err(other),
    }
}

/// The idempotency key of a batch's row.
fn row_key(batch_id: &str, row: &BatchRow) -> String {
    let identity = match &row.own_key {
        Some(own) => format!("{batch_id}\u{0}ref\u{0}{own}"),
        None => format!("{batch_id}\u{0}row\u{0}{}", row.row),
    };
    let digest = sha2::Sha256::digest(identity.as_bytes());
    format!("batch-{}", hex::encode(&digest[..16]))
}

fn check_batch_id(batch_id: &str) -> Result<(), ApiError> {
    let ok = !batch_id.is_empty()
        && batch_id.len() <= BATCH_ID_LENGTH_MAX
        && batch_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        return Ok(());
    }
    Err(ApiError::invalid(&[FieldError::invalid_format(
        "batch_id",
        &format!("1 to {BATCH_ID_LENGTH_MAX} of A-Z a-z 0-9 . _ -"),
        &format!("1 到 {BATCH_ID_LENGTH_MAX} 个 A-Z a-z 0-9 . _ - 字符"),
    )]))
}

/// The rows of a body in its format: the one place a new format is added.
fn rows_of(content_type: &str, body: &[u8]) -> Result<Vec<BatchRow>, ApiError> {
    let rows = match content_type {
        NDJSON => ndjson_rows(body),
        CSV => csv_rows(body),
        WCO_XML | WCO_XML_TEXT => wco_rows(body),
        _ => return Err(ApiError::unsupported_media_type()),
    };
    rows.map_err(|errors| ApiError::invalid(&errors))
}

/// JSON lines: each non-blank line one declaration. A line that is not a JSON object is that
/// row's refusal, not the batch's.
pub(crate) fn ndjson_rows(body: &[u8]) -> Result<Vec<BatchRow>, Vec<FieldError>> {
    let mut rows = Vec::new();
    for (index, line) in body.split(|&b| b == b'\n').enumerate() {
        let line_text = line.trim_ascii();
        if line_text.is_empty() {
            continue;
        }
        if rows.len() == BATCH_ROWS_MAX {
            return Err(vec![too_many_rows()]);
        }
        let body = match serde_json::from_slice::<Value>(line_text) {
            Ok(Value::Object(_)) => Ok(line_text.to_vec()),
            _ => Err(vec![FieldError::invalid_json(
                "",
                "each line of a batch is one declaration, a JSON object",
            )]),
        };
        rows.push(BatchRow {
            row: rows.len() + 1,
            line: index + 1,
            own_key: None,
            body,
            places: Places::Line(index + 1),
            format: wire::MessageFormat::Json,
        });
    }
    Ok(rows)
}

/// WCO XML: each child of the root one declaration, read and mapped alone (a part that cannot
/// be read, or carries what the China profile cannot, is that row's refusal by WCO element path);
/// its LRN (`FunctionalReferenceID`) is its own key, like a CSV declaration's reference.
pub(crate) fn wco_rows(body: &[u8]) -> Result<Vec<BatchRow>, Vec<FieldError>> {
    let parts = wco::xml::split_batch(body, BATCH_ROWS_MAX).map_err(|refusal| {
        if matches!(refusal, wco::xml::XmlRefusal::TooManyElements) {
            return vec![too_many_rows()];
        }
        let (en, zh) = refusal.messages();
        vec![FieldError {
            path: String::new(),
            code: ErrorCode::InvalidJson,
            message_en: en,
            message_zh: zh,
        }]
    })?;
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| {
            let (own_key, body, declaration) = match wco::parse_declaration(&part.bytes) {
                Err(unreadable) => (
                    unreadable.functional_reference,
                    Err(unreadable.errors),
                    None,
                ),
                Ok(read) if !read.problems.is_empty() => {
                    (read.functional_reference, Err(read.problems), None)
                }
                Ok(read) => {
                    let json = serde_json::to_vec(&read.declaration)
                        .expect("a mapped declaration serialises");
                    (
                        read.functional_reference,
                        Ok(json),
                        Some(Box::new(read.declaration)),
                    )
                }
            };
            BatchRow {
                row: index + 1,
                line: part.line,
                own_key,
                body,
                places: Places::Wco {
                    line: part.line,
                    declaration,
                },
                format: wire::MessageFormat::WcoXml,
            }
        })
        .collect())
}

fn too_many_rows() -> FieldError {
    FieldError::too_many("", BATCH_ROWS_MAX)
}

/// The CSV template's columns and the JSON path each fills (`items[]` for the goods item of the
/// line). docs/bulk-csv-template.md lists them; `documents` is `TYPE:NUMBER` pairs joined by `;`.
pub const CSV_COLUMNS: [(&str, &str); 64] = [
    ("declaration_ref", ""),
    ("direction", "direction"),
    ("kind", "kind"),
    ("summary_number", "summary_number"),
    ("procedure", "procedure"),
    ("levy_nature", "levy_nature"),
    ("office_of_lodging", "office_of_lodging"),
    ("office_of_entry_exit", "office_of_entry_exit"),
    ("declarant_credit_code", "declarant.credit_code"),
    ("declarant_customs_code", "declarant.customs_code"),
    ("declarant_name", "declarant.name"),
    ("trader_credit_code", "trader.credit_code"),
    ("trader_customs_code", "trader.customs_code"),
    ("trader_name", "trader.name"),
    ("overseas_party_name", "overseas_party.name"),
    ("overseas_party_country", "overseas_party.country"),
    ("transport_mode", "transport.mode"),
    ("transport_means_name", "transport.means_name"),
    ("transport_voyage", "transport.voyage"),
    ("transport_document_kind", "transport.document.kind"),
    ("transport_document_number", "transport.document.number"),
    ("transport_departure_date", "transport.departure_date"),
    ("transport_arrival_date", "transport.arrival_date"),
    ("dispatch_country", "dispatch_country"),
    ("destination_country", "destination_country"),
    ("port", "port"),
    ("transaction_terms", "transaction_terms"),
    ("invoice_number", "invoice.number"),
    ("invoice_date", "invoice.date"),
    ("invoice_currency", "invoice.currency"),
    ("invoice_amount", "invoice.amount"),
    ("freight_kind", "freight.kind"),
    ("freight_amount", "freight.amount"),
    ("freight_currency", "freight.currency"),
    ("freight_percent", "freight.percent"),
    ("freight_unit", "freight.unit"),
    ("insurance_kind", "insurance.kind"),
    ("insurance_amount", "insurance.amount"),
    ("insurance_currency", "insurance.currency"),
    ("insurance_percent", "insurance.percent"),
    ("insurance_unit", "insurance.unit"),
    ("other_costs_kind", "other_costs.kind"),
    ("other_costs_amount", "other_costs.amount"),
    ("other_costs_currency", "other_costs.currency"),
    ("other_costs_percent", "other_costs.percent"),
    ("other_costs_unit", "other_costs.unit"),
    ("packages_count", "packages.count"),
    ("packages_type", "packages.package_type"),
    ("gross_mass_kg", "gross_mass_kg"),
    ("net_mass_kg", "net_mass_kg"),
    ("documents", "documents"),
    ("item_commodity_code", "items[].commodity_code"),
    ("item_description", "items[].description"),
    ("item_quantity", "items[].quantity.value"),
    ("item_quantity_unit", "items[].quantity.unit"),
    (
        "item_statutory_quantity_1",
        "items[].statutory_quantities[0].value",
    ),
    (
        "item_statutory_unit_1",
        "items[].statutory_quantities[0].unit",
    ),
    (
        "item_statutory_quantity_2",
        "items[].statutory_quantities[1].value",
    ),
    (
        "item_statutory_unit_2",
        "items[].statutory_quantities[1].unit",
    ),
    ("item_unit_price", "items[].unit_price"),
    ("item_amount", "items[].amount"),
    ("item_origin_country", "items[].origin_country"),
    ("item_levy_mode", "items[].levy_mode"),
    ("item_preference", "items[].preference"),
];

/// The column that fills `path` (`items[3].origin_country` → `item_origin_country`), or that of
/// its nearest ancestor.
fn column_of(path: &str) -> Option<&'static str> {
    // The goods item's index is the line's; later indices (statutory quantities) are columns'.
    let mut pattern = match path
        .strip_prefix("items[")
        .and_then(|rest| rest.split_once(']'))
    {
        Some((_, rest)) => format!("items[]{rest}"),
        None => path.to_owned(),
    };
    loop {
        if let Some((column, _)) = CSV_COLUMNS.iter().find(|(_, p)| *p == pattern) {
            return Some(column);
        }
        let cut = pattern.rfind(['.', '['])?;
        pattern.truncate(cut);
    }
}

/// Sets `path` (dotted, with `[i]` indices) in a JSON object to a string.
fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (*part, None),
        };
        let Some(object) = node.as_object_mut() else {
            return;
        };
        match index {
            None if last => {
                object.insert(name.to_owned(), value);
                return;
            }
            None => node = object.entry(name).or_insert_with(|| json!({})),
            Some(index) => {
                let array = object.entry(name).or_insert_with(|| json!([]));
                let Some(array) = array.as_array_mut() else {
                    return;
                };
                while array.len() <= index {
                    array.push(json!({}));
                }
                if last {
                    array[index] = value;
                    return;
                }
                node = &mut array[index];
            }
        }
    }
}

/// A declaration's CSV lines: its reference, its first line, and each line with its record.
type CsvGroup = (String, usize, Vec<(usize, csv::StringRecord)>);

/// CSV in the template: one line per goods item; consecutive lines with the same
/// `declaration_ref` are one declaration, whose header columns are read from its first line
/// (later lines leave them empty or repeat them exactly).
pub(crate) fn csv_rows(body: &[u8]) -> Result<Vec<BatchRow>, Vec<FieldError>> {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let headers = reader
        .headers()
        .map_err(|_| {
            vec![FieldError::invalid_format(
                "line 1",
                "a CSV header line",
                "CSV 标题行",
            )]
        })?
        .clone();
    let mut columns = Vec::with_capacity(headers.len());
    let mut problems = Vec::new();
    for (i, name) in headers.iter().enumerate() {
        match CSV_COLUMNS.iter().position(|(c, _)| *c == name.trim()) {
            Some(at) => columns.push(at),
            None => problems.push(FieldError::unknown_field(format!(
                "line 1, column {}",
                i + 1
            ))),
        }
    }
    if !columns.contains(&0) {
        problems.push(FieldError::required("line 1, column declaration_ref"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut groups: Vec<CsvGroup> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            vec![FieldError::invalid_format(
                format!("line {line}"),
                "a CSV line with as many fields as the header",
                "字段数与标题行相同的 CSV 行",
            )]
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let reference = columns
            .iter()
            .position(|&c| c == 0)
            .and_then(|i| record.get(i))
            .unwrap_or("")
            .trim()
            .to_owned();
        match groups.last_mut() {
            Some((last, _, lines)) if *last == reference && !reference.is_empty() => {
                lines.push((line, record));
            }
            _ => {
                if groups.len() == BATCH_ROWS_MAX {
                    return Err(vec![too_many_rows()]);
                }
                groups.push((reference, line, vec![(line, record)]));
            }
        }
    }
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(i, (reference, first, lines))| {
            csv_declaration(i + 1, reference, first, &columns, &lines)
        })
        .collect())
}

/// One declaration from its CSV lines.
fn csv_declaration(
    row: usize,
    reference: String,
    first: usize,
    columns: &[usize],
    lines: &[(usize, csv::StringRecord)],
) -> BatchRow {
    let mut document = json!({});
    let mut errors = Vec::new();
    if reference.is_empty() {
        errors.push(FieldError::required(format!(
            "line {first}, column declaration_ref"
        )));
    }
    for (item, (line, record)) in lines.iter().enumerate() {
        for (i, &column) in columns.iter().enumerate() {
            let (name, path) = CSV_COLUMNS[column];
            let cell = record.get(i).unwrap_or("").trim();
            if cell.is_empty() || path.is_empty() {
                continue;
            }
            if let Some(item_path) = path.strip_prefix("items[]") {
                let path = format!("items[{item}]{item_path}");
                let value = if name == "item_preference" {
                    preference(cell)
                } else {
                    Value::String(cell.to_owned())
                };
                set_path(&mut document, &path, value);
            } else if item == 0 {
                let value = if name == "documents" {
                    documents(cell)
                } else {
                    Value::String(cell.to_owned())
                };
                set_path(&mut document, path, value);
            } else {
                let first_record = &lines[0].1;
                if first_record.get(i).unwrap_or("").trim() != cell {
                    errors.push(FieldError::not_allowed(
                        format!("line {line}, column {name}"),
                        "a header column of a declaration's later line is empty or repeats its first line",
                        "报关单后续行的表头列须为空或与首行相同",
                    ));
                }
            }
        }
    }
    BatchRow {
        row,
        line: first,
        own_key: Some(reference).filter(|r| !r.is_empty()),
        body: if errors.is_empty() {
            Ok(document.to_string().into_bytes())
        } else {
            Err(errors)
        },
        places: Places::Csv {
            first,
            items: lines.iter().map(|(line, _)| *line).collect(),
        },
        format: wire::MessageFormat::Json,
    }
}

/// `INV:PE-1;PKL:PL-1` → the documents array.
fn documents(cell: &str) -> Value {
    Value::Array(
        cell.split(';')
            .filter(|d| !d.trim().is_empty())
            .map(|d| {
                let (kind, number) = d.split_once(':').unwrap_or((d, ""));
                json!({"type": kind.trim(), "number": number.trim()})
            })
            .collect(),
    )
}

/// `RCEP:E261234567890001:2` → agreement, proof number and the item on the proof.
fn preference(cell: &str) -> Value {
    let mut parts = cell.splitn(3, ':').map(str::trim);
    json!({
        "agreement": parts.next().unwrap_or(""),
        "proof_number": parts.next().unwrap_or(""),
        "proof_item": parts.next().unwrap_or(""),
    })
}

/// The kept results of recent batches, by user and batch id.
struct KeptBatch {
    user_id: String,
    batch_id: String,
    made: Instant,
    rows: usize,
    lines: Vec<String>,
    complete: bool,
}

fn kept() -> &'static Mutex<VecDeque<KeptBatch>> {
    static KEPT: OnceLock<Mutex<VecDeque<KeptBatch>>> = OnceLock::new();
    KEPT.get_or_init(Default::default)
}

fn with_kept<T>(f: impl FnOnce(&mut VecDeque<KeptBatch>) -> T) -> T {
    let mut batches = kept().lock().unwrap_or_else(|e| e.into_inner());
    let ttl = Duration::from_secs(BATCH_RESULTS_TTL_SECONDS);
    let now = Instant::now();
    batches.retain(|b| now.saturating_duration_since(b.made) < ttl);
    f(&mut batches)
}

fn start_kept(user_id: &str, batch_id: &str, rows: usize) {
    with_kept(|batches| {
        batches.retain(|b| !(b.user_id == user_id && b.batch_id == batch_id));
        while batches.len() >= BATCHES_KEPT {
            batches.pop_front();
        }
        batches.push_back(KeptBatch {
            user_id: user_id.to_owned(),
            batch_id: batch_id.to_owned(),
            made: Instant::now(),
            rows,
            lines: Vec::new(),
            complete: false,
        });
    });
}

fn keep_line(user_id: &str, batch_id: &str, line: Option<String>) {
    with_kept(|batches| {
        if let Some(batch) = batches
            .iter_mut()
            .rev()
            .find(|b| b.user_id == user_id && b.batch_id == batch_id)
        {
            match line {
                Some(line) => batch.lines.push(line),
                None => batch.complete = true,
            }
        }
    });
}

fn row_line(row: &BatchRow, outcome: &RowOutcome) -> String {
    let errors: Vec<Value> = outcome
        .errors
        .iter()
        .map(|e| {
            json!({
                "path": e.path,
                "place": row.places.place(&e.path),
                "code": e.code.as_str(),
                "message_en": e.message_en,
                "message_zh": e.message_zh,
            })
        })
        .collect();
    let mut line = json!({"row": row.row, "line": row.line, "outcome": outcome.outcome});
    if let Some(id) = &outcome.id {
        line["id"] = json!(id);
        line["number"] = json!(outcome.number);
    }
    if !errors.is_empty() {
        line["errors"] = Value::Array(errors);
    }
    line.to_string()
}

fn summary_line(batch_id: &str, rows: usize, lines: &[String], complete: bool) -> String {
    let count = |outcome: &str| {
        lines
            .iter()
            .filter(|l| l.contains(&format!("\"outcome\":\"{outcome}\"")))
            .count()
    };
    json!({
        "batch": batch_id,
        "rows": rows,
        "done": lines.len(),
        "created": count("created"),
        "repeated": count("repeated"),
        "refused": count("refused"),
        "complete": complete,
    })
    .to_string()
}

/// A response body of lines sent as they come.
struct Lines(mpsc::Receiver<Bytes>);

impl http_body::Body for Lines {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(http_body::Frame::data(l))))
    }
}

fn ndjson_response(status: StatusCode, body: Body) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON))],
        body,
    )
        .into_response()
}

#[utoipa::path(
    post,
    path = "/v1/declaration-batches/{batch_id}",
    tag = "declarations",
    summary = "Lodge many declarations",
    description = "One body of many declarations: JSON lines (`application/x-ndjson`, one declaration a \
                   line), CSV in the template of docs/bulk-csv-template.md (`text/csv`, one line a goods \
                   item), or WCO DM 3.6 XML (`application/xml`: one root element of any name whose children \
                   are WCO declarations, each read as `POST /v1/declarations` reads one, its errors named by \
                   WCO element path, its LRN its key). Each is lodged as `POST /v1/declarations` would, one after the other, and its \
                   result is streamed as a JSON line as soon as it is done (`row`, `line`, `outcome` \
                   created/repeated/refused, `id` and `number`, or `errors` each with its `path`, its \
                   `place` in the file, code and words in English and Chinese); a last line sums up. \
                   Re-sending the same file under the same batch id lodges nothing twice: each row's \
                   idempotency key comes from the batch id and the row (a CSV declaration's \
                   `declaration_ref`), and the rows done before answer `repeated` with their first \
                   result. At most 1,000 declarations and 16 MiB; one batch at a time per user.",
    params(("batch_id" = String, Path, description = "The client's id of this batch: 1 to 64 of A-Z a-z 0-9 . _ -")),
    request_body(content(
        (String = "application/x-ndjson"),
        (String = "text/csv"),
        (String = "application/xml"),
    )),
    responses(
        (status = 200, description = "The rows' results as they are done, then a summary", body = String,
            content_type = "application/x-ndjson"),
        (status = 403, description = "The role may not lodge", body = wire::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over 16 MiB", body = wire::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON lines, CSV nor WCO XML", body = wire::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Over 1,000 declarations, a bad batch id, or a CSV file not in the template",
            body = wire::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Another batch of this user (or too many batches) in progress",
            body = wire::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn lodge_batch<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    check_batch_id(&batch_id)?;
    let held = request.extensions().get::<HeldJob>().cloned();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if ![NDJSON, CSV, WCO_XML, WCO_XML_TEXT].contains(&content_type.as_str()) {
        return Err(ApiError::unsupported_media_type());
    }
    let body = crate::extract::body_within(request, BATCH_BYTES_MAX).await?;
    let rows = rows_of(&content_type, &body)?;
    drop(body);
    let user_id = caller.user_id().to_owned();
    start_kept(&user_id, &batch_id, rows.len());
    let (sender, receiver) = mpsc::channel::<Bytes>(RESULT_LINES_BUFFERED);
    // The slot goes with the lodging, which outlives this handler's future while it streams.
    let permit = held.and_then(|h| h.take());
    let clearance = state.clearance.clone();
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let mut lines = Vec::with_capacity(rows.len());
        for row in &rows {
            let outcome = match &row.body {
                Err(errors) => RowOutcome {
                    outcome: "refused",
                    id: None,
                    number: String::new(),
                    errors: errors.clone(),
                },
                Ok(body) => {
                    let key = row_key(&batch_id, row);
                    let result =
                        lodge_one(&clearance, &metrics, &caller, &key, body, row.format).await;
                    match result {
                        Ok(mut outcome) => {
                            if let Places::Wco {
                                declaration: Some(declaration),
                                ..
                            } = &row.places
                            {
                                outcome.errors = wco::wco_errors(outcome.errors, declaration);
                            }
                            outcome
                        }
                        Err(stopped) => {
                            // The store cannot take it now: the batch stops here, and re-sending
                            // it later resumes (the rows done answer their first result).
                            let problem = ApiError::from(stopped);
                            let line =
                                json!({"row": row.row, "line": row.line, "outcome": "stopped",
                                "status": problem.status().as_u16()})
                                .to_string();
                            let _ = sender.send(Bytes::from(line + "\n")).await;
                            break;
                        }
                    }
                }
            };
            let line = row_line(row, &outcome);
            keep_line(&user_id, &batch_id, Some(line.clone()));
            lines.push(line.clone());
            // A client that went away stops the batch: what was lodged is kept, and re-sending
            // the file answers those rows with their first result.
            if sender.send(Bytes::from(line + "\n")).await.is_err() {
                return;
            }
        }
        let complete = lines.len() == rows.len();
        if complete {
            keep_line(&user_id, &batch_id, None);
        }
        let summary = summary_line(&batch_id, rows.len(), &lines, complete);
        let _ = sender.send(Bytes::from(summary + "\n")).await;
    });
    Ok(ndjson_response(StatusCode::OK, Body::new(Lines(receiver))))
}

#[utoipa::path(
    get,
    path = "/v1/declaration-batches/{batch_id}",
    tag = "declarations",
    summary = "A batch's results",
    description = "The results of the caller's batch so far, as `POST` streamed them (one JSON line a \
                   row done, then a summary with `complete`), while they are kept (24 hours, the 256 \
                   latest batches). Re-sending the file gives every row's result at any time.",
    params(("batch_id" = String, Path, description = "The batch's id")),
    responses(
        (status = 200, description = "The rows done, then a summary", body = String, content_type = "application/x-ndjson"),
        (status = 404, description = "No such batch of the caller's is kept", body = wire::Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn batch_results<S: Store>(
    State(_state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
) -> Result<Response, ApiError> {
    let text = with_kept(|batches| {
        batches
            .iter()
            .rev()
            .find(|b| b.user_id == caller.user_id() && b.batch_id == batch_id)
            .map(|b| {
                let mut text = String::new();
                for line in &b.lines {
                    text.push_str(line);
                    text.push('\n');
                }
                text.push_str(&summary_line(&b.batch_id, b.rows, &b.lines, b.complete));
                text.push('\n');
                text
            })
    });
    let text = text.ok_or_else(|| ApiError::from(ClearanceError::NotFound))?;
    Ok(ndjson_response(StatusCode::OK, Body::from(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_for_paths_with_indices() {
        assert_eq!(
            column_of("items[3].origin_country"),
            Some("item_origin_country")
        );
        assert_eq!(column_of("items[0].quantity.value"), Some("item_quantity"));
        assert_eq!(
            column_of("items[2].statutory_quantities[1].unit"),
            Some("item_statutory_unit_2")
        );
        assert_eq!(
            column_of("transport.document.number"),
            Some("transport_document_number")
        );
        assert_eq!(
            column_of("items[1].preference.proof_number"),
            Some("item_preference")
        );
        assert_eq!(column_of("cbec_order"), None);
    }

    #[test]
    fn the_template_document_lists_every_column() {
        let doc = include_str!("../../../docs/bulk-csv-template.md");
        let template = include_str!("../../../docs/bulk-csv-template.csv");
        let header: Vec<&str> = template.lines().next().unwrap_or("").split(',').collect();
        for (column, _) in CSV_COLUMNS {
            assert!(
                doc.contains(&format!("| `{column}` |")),
                "{column} is documented"
            );
            assert!(header.contains(&column), "{column} is in the template file");
        }
    }

    #[test]
    fn paths_are_set_in_nested_objects_and_arrays() {
        let mut v = json!({});
        set_path(&mut v, "items[1].statutory_quantities[0].value", json!("5"));
        set_path(&mut v, "transport.document.kind", json!("bill_of_lading"));
        assert_eq!(v["items"][1]["statutory_quantities"][0]["value"], "5");
        assert_eq!(v["items"][0], json!({}));
        assert_eq!(v["transport"]["document"]["kind"], "bill_of_lading");
    }

    #[test]
    fn rows_per_batch_are_limited_at_their_edge() {
        let at_limit = "{}\n".repeat(BATCH_ROWS_MAX);
        assert_eq!(
            ndjson_rows(at_limit.as_bytes()).map(|r| r.len()).ok(),
            Some(BATCH_ROWS_MAX)
        );
        let over = "{}\n".repeat(BATCH_ROWS_MAX + 1);
        assert!(ndjson_rows(over.as_bytes()).is_err());
        let mut csv = String::from("declaration_ref,direction\n");
        for i in 0..BATCH_ROWS_MAX {
            csv.push_str(&format!("R{i},import\n"));
        }
        assert_eq!(
            csv_rows(csv.as_bytes()).map(|r| r.len()).ok(),
            Some(BATCH_ROWS_MAX)
        );
        csv.push_str("R-extra,import\n");
        assert!(csv_rows(csv.as_bytes()).is_err());
    }
}
