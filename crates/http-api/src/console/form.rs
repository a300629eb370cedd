//! The trade's declaration form (报关单): header, parties and an items table laid out like the
//! paper form, each input named by the JSON path of the API's body (`items[1].origin_country`),
//! so the real parser's errors land beside their field. Validation as you type (htmx, the same
//! service call), code pickers over the code lists in both languages, a duty estimate, "check
//! your answers" before lodging (one lodging per form: the key is a nonce of the check page),
//! drafts (暂存) kept for the user's enterprise, a copy of a previous declaration, and the
//! supporting documents (随附单证) of a lodged declaration.
//!
//! Everything goes through the service (`state.clearance`): `validate`, `lodge`, `estimate`,
//! `save_draft` / `drafts` / `draft` / `discard_draft`, `search_codes`, `add_document` /
//! `documents` / `document_content`. Without script the form still works: every button posts
//! the whole form and the page comes back with the errors in place.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clearance::console::{CODE_CHOICES_MAX, DOCUMENT_BYTES_MAX, DOCUMENT_KINDS};
use clearance::{Caller, ClearanceError};
use domain::FieldError;
use serde::Deserialize;
use serde_json::{Map, Value};
use store::Store;

use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/form", get(form_page::<S>).post(form_post::<S>))
        .route("/console/form/validate", post(validate_fragment::<S>))
        .route("/console/form/codes", get(codes_fragment::<S>))
        .route("/console/drafts", get(drafts_page::<S>))
        .route("/console/drafts/{id}/discard", post(discard_draft::<S>))
        .route(
            "/console/declarations/{id}/documents",
            get(documents_page::<S>)
                .post(add_document::<S>)
                .layer(DefaultBodyLimit::max(
                    DOCUMENT_BYTES_MAX + CONSOLE_DOCUMENT_FORM_OVERHEAD,
                )),
        )
        .route(
            "/console/declarations/{id}/documents/{digest}",
            get(document_download::<S>),
        )
}

/// Fields (JSON paths and values) one posted form may carry; more is refused before any work.
pub const CONSOLE_FORM_FIELDS_MAX: usize = 3000;
/// The longest value of one field, in characters.
pub const CONSOLE_FORM_VALUE_LENGTH_MAX: usize = 1000;
/// Item lines the form shows at most (a larger declaration goes through the file upload or the
/// API).
pub const CONSOLE_FORM_ITEMS_MAX: usize = 50;
/// Room in an upload's body for the form's other fields and the multipart framing.
pub const CONSOLE_DOCUMENT_FORM_OVERHEAD: usize = 64 * 1024;

/// How a field is typed in.
#[derive(Clone, Copy)]
enum Input {
    Text,
    Date,
    Decimal,
    /// One of these values (each with its message `form-opt-<value>`).
    Choice(&'static [&'static str]),
    /// A code of this list (a picker searches it).
    Code(&'static str),
}

/// A field of the form: its JSON path (for items, relative to the item), its label's message
/// id, and how it is typed.
struct Def {
    path: &'static str,
    label: &'static str,
    input: Input,
}

const fn def(path: &'static str, label: &'static str, input: Input) -> Def {
    Def { path, label, input }
}

/// The sections of the form's header and parties, in the order of the paper form.
const SECTIONS: &[(&str, &[Def])] = &[
    (
        "form-section-header",
        &[
            def(
                "direction",
                "form-direction",
                Input::Choice(&["import", "export"]),
            ),
            def(
                "kind",
                "form-kind",
                Input::Choice(&["ordinary", "summary", "full"]),
            ),
            def("summary_number", "form-summary-number", Input::Text),
            def(
                "procedure",
                "form-procedure",
                Input::Code("customs_procedure"),
            ),
            def(
                "levy_nature",
                "form-levy-nature",
                Input::Code("levy_nature"),
            ),
            def(
                "office_of_lodging",
                "form-office-of-lodging",
                Input::Code("customs_office"),
            ),
            def(
                "office_of_entry_exit",
                "form-office-of-entry-exit",
                Input::Code("customs_office"),
            ),
        ],
    ),
    (
        "form-section-parties",
        &[
            def("trader.credit_code", "form-trader-credit-code", Input::Text),
            def(
                "trader.customs_code",
                "form-trader-customs-code",
                Input::Text,
            ),
            def("trader.name", "form-trader-name", Input::Text),
            def(
                "declarant.credit_code",
                "form-declarant-credit-code",
                Input::Text,
            ),
            def(
                "declarant.customs_code",
                "form-declarant-customs-code",
                Input::Text,
            ),
            def("declarant.name", "form-declarant-name", Input::Text),
            def("overseas_party.name", "form-overseas-name", Input::Text),
            def(
                "overseas_party.country",
                "form-overseas-country",
                Input::Code("country"),
            ),
        ],
    ),
    (
        "form-section-transport",
        &[
            def(
                "transport.mode",
                "form-transport-mode",
                Input::Code("transport_mode"),
            ),
            def("transport.means_name", "form-means-name", Input::Text),
            def("transport.voyage", "form-voyage", Input::Text),
            def(
                "transport.document.kind",
                "form-transport-document-kind",
                Input::Choice(&[
                    "bill_of_lading",
                    "air_waybill",
                    "rail_waybill",
                    "road_consignment_note",
                    "postal_receipt",
                ]),
            ),
            def(
                "transport.document.number",
                "form-transport-document-number",
                Input::Text,
            ),
            def(
                "transport.departure_date",
                "form-departure-date",
                Input::Date,
            ),
            def("transport.arrival_date", "form-arrival-date", Input::Date),
            def(
                "dispatch_country",
                "form-dispatch-country",
                Input::Code("country"),
            ),
            def(
                "destination_country",
                "form-destination-country",
                Input::Code("country"),
            ),
            def("port", "form-port", Input::Text),
        ],
    ),
    (
        "form-section-trade",
        &[
            def(
                "transaction_terms",
                "form-transaction-terms",
                Input::Code("incoterm"),
            ),
            def("invoice.number", "form-invoice-number", Input::Text),
            def("invoice.date", "form-invoice-date", Input::Date),
            def(
                "invoice.currency",
                "form-invoice-currency",
                Input::Code("currency"),
            ),
            def("invoice.amount", "form-invoice-amount", Input::Decimal),
            def(
                "freight.kind",
                "form-freight-kind",
                Input::Choice(&["amount", "rate", "per_unit"]),
            ),
            def("freight.amount", "form-freight-amount", Input::Decimal),
            def("freight.percent", "form-freight-percent", Input::Decimal),
            def(
                "freight.currency",
                "form-freight-currency",
                Input::Code("currency"),
            ),
            def("packages.count", "form-packages-count", Input::Decimal),
            def(
                "packages.package_type",
                "form-package-type",
                Input::Code("package_type"),
            ),
            def("gross_mass_kg", "form-gross-mass", Input::Decimal),
            def("net_mass_kg", "form-net-mass", Input::Decimal),
        ],
    ),
];

/// The columns of the items table, relative to `items[i]`.
const ITEM_FIELDS: &[Def] = &[
    def(
        "commodity_code",
        "form-commodity-code",
        Input::Code("commodity"),
    ),
    def("description", "form-description", Input::Text),
    def("quantity.value", "form-quantity", Input::Decimal),
    def("quantity.unit", "form-unit", Input::Code("unit")),
    def(
        "statutory_quantities[0].value",
        "form-statutory-quantity",
        Input::Decimal,
    ),
    def(
        "statutory_quantities[0].unit",
        "form-statutory-unit",
        Input::Code("unit"),
    ),
    def("unit_price", "form-unit-price", Input::Decimal),
    def("amount", "form-amount", Input::Decimal),
    def(
        "origin_country",
        "form-origin-country",
        Input::Code("country"),
    ),
    def("levy_mode", "form-levy-mode", Input::Code("levy_mode")),
];

/// Members that are JSON booleans, not text (kept through a copy).
const BOOLEAN_MEMBERS: &[&str] = &[
    "retroactive",
    "direct_consignment_evidence",
    "indivisible_item",
];

/// Form inputs that are not fields of the declaration.
const CONTROL_NAMES: &[&str] = &[
    "csrf",
    "action",
    "nonce",
    "draft_id",
    "draft_title",
    "rows",
    "q",
];

// ---------------------------------------------------------------------------------------------
// The form's values, by JSON path.

/// The form's values by JSON path (`items[1].quantity.value`), in a stable order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Values {
    fields: BTreeMap<String, String>,
    /// Item lines shown (at least one; more than the values name when a line was just added).
    rows: usize,
}

/// Whether `name` is a JSON path of the form's kind: `member(.member|[index])*`.
fn is_path(name: &str) -> bool {
    let mut chars = name.chars().peekable();
    let mut expect_member = true;
    if name.is_empty() || name.len() > 200 {
        return false;
    }
    while let Some(c) = chars.next() {
        if expect_member {
            if !(c.is_ascii_lowercase() || c == '_') {
                return false;
            }
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            {
                chars.next();
            }
            expect_member = false;
        } else if c == '.' {
            expect_member = true;
        } else if c == '[' {
            let mut digits = 0;
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
                digits += 1;
            }
            if digits == 0 || digits > 4 || chars.next() != Some(']') {
                return false;
            }
        } else {
            return false;
        }
    }
    !expect_member
}

/// The index of the item line a path belongs to (`items[3]...` is 3).
fn item_index(path: &str) -> Option<usize> {
    path.strip_prefix("items[")?.split(']').next()?.parse().ok()
}

/// The path with its item line's index changed.
fn with_item_index(path: &str, index: usize) -> String {
    match path.find(']') {
        Some(end) if path.starts_with("items[") => format!("items[{index}{}", &path[end..]),
        _ => path.to_owned(),
    }
}

/// A form that cannot be read: too many fields or a value too long.
#[derive(Debug)]
struct Unreadable;

impl Values {
    /// The posted form's fields (the controls left out), bounded.
    fn from_form(pairs: &[(String, String)]) -> Result<Values, Unreadable> {
        if pairs.len() > CONSOLE_FORM_FIELDS_MAX {
            return Err(Unreadable);
        }
        let mut values = Values::default();
        for (name, value) in pairs {
            if value.chars().count() > CONSOLE_FORM_VALUE_LENGTH_MAX {
                return Err(Unreadable);
            }
            if name == "rows" {
                values.rows = value.parse().unwrap_or(1);
            }
            if CONTROL_NAMES.contains(&name.as_str()) || !is_path(name) {
                continue;
            }
            // No line beyond what a declaration may have: the page shows every line up to it.
            if item_index(name).is_some_and(|i| i >= domain::limits::ITEMS_PER_DECLARATION_MAX) {
                return Err(Unreadable);
            }
            values.fields.insert(name.clone(), value.clone());
        }
        values.settle_rows();
        Ok(values)
    }

    /// A lodged declaration (or a draft) as form values: every member, nested by path.
    fn from_json(document: &Value) -> Values {
        fn walk(value: &Value, path: String, out: &mut BTreeMap<String, String>) {
            match value {
                Value::Object(members) => {
                    for (key, member) in members {
                        let sub = if path.is_empty() {
                            key.clone()
                        } else {
                            format!("{path}.{key}")
                        };
                        walk(member, sub, out);
                    }
                }
                Value::Array(elements) => {
                    for (i, element) in elements.iter().enumerate() {
                        walk(element, format!("{path}[{i}]"), out);
                    }
                }
                Value::Null => {}
                Value::String(text) => {
                    out.insert(path, text.clone());
                }
                other => {
                    out.insert(path, other.to_string());
                }
            }
        }
        let mut values = Values::default();
        walk(document, String::new(), &mut values.fields);
        values.settle_rows();
        values
    }

    fn settle_rows(&mut self) {
        let named = self
            .fields
            .keys()
            .filter_map(|p| item_index(p))
            .max()
            .map_or(0, |i| i + 1);
        self.rows = self
            .rows
            .max(named)
            .clamp(1, CONSOLE_FORM_ITEMS_MAX.max(named));
    }

    fn get(&self, path: &str) -> &str {
        self.fields.get(path).map_or("", String::as_str)
    }

    fn add_row(&mut self) {
        if self.rows < CONSOLE_FORM_ITEMS_MAX {
            self.rows += 1;
        }
    }

    /// Removes item line `index`; the lines after it move up.
    fn remove_row(&mut self, index: usize) {
        let fields = std::mem::take(&mut self.fields);
        for (path, value) in fields {
            match item_index(&path) {
                Some(i) if i == index => {}
                Some(i) if i > index => {
                    self.fields.insert(with_item_index(&path, i - 1), value);
                }
                _ => {
                    self.fields.insert(path, value);
                }
            }
        }
        self.rows = self.rows.saturating_sub(1).max(1);
    }

    /// The API's JSON body: each non-empty value at its path; item lines between filled ones are
    /// empty objects, so each error keeps the line's number.
    fn to_json(&self) -> Value {
        let mut root = Value::Object(Map::new());
        for (path, value) in &self.fields {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let last = path.rsplit(['.', '[']).next().unwrap_or("");
            let leaf = match value {
                "true" | "false" if BOOLEAN_MEMBERS.contains(&last) => Value::Bool(value == "true"),
                _ => Value::String(value.to_owned()),
            };
            set_path(&mut root, path, leaf);
        }
        root
    }

    fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }

    /// Every value as a hidden input (the check page carries the form on).
    fn hidden(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Sets `value` at `path` in `root`, making the objects and arrays on the way.
fn set_path(root: &mut Value, path: &str, value: Value) {
    // Split `a.b[2].c` into steps: Member("a"), Member("b"), Index(2), Member("c").
    enum Step<'a> {
        Member(&'a str),
        Index(usize),
    }
    let mut steps = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            steps.push(Step::Member(&rest[..open]));
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                steps.push(Step::Index(stripped[..close].parse().unwrap_or(0)));
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            steps.push(Step::Member(rest));
        }
    }
    let mut at = root;
    let count = steps.len();
    for (n, step) in steps.into_iter().enumerate() {
        let last = n + 1 == count;
        match step {
            Step::Member(name) => {
                if !at.is_object() {
                    *at = Value::Object(Map::new());
                }
                let members = at.as_object_mut().expect("an object");
                if last {
                    members.insert(name.to_owned(), value);
                    return;
                }
                at = members.entry(name.to_owned()).or_insert(Value::Null);
            }
            Step::Index(i) => {
                if !at.is_array() {
                    *at = Value::Array(Vec::new());
                }
                let elements = at.as_array_mut().expect("an array");
                while elements.len() <= i {
                    elements.push(Value::Object(Map::new()));
                }
                if last {
                    elements[i] = value;
                    return;
                }
                at = &mut elements[i];
            }
        }
    }
}

/// The element id of the field at `path`.
fn field_id(path: &str) -> String {
    let mut id = String::from("f-");
    for c in path.chars() {
        match c {
            '.' | '[' => id.push('-'),
            ']' => {}
            c => id.push(c),
        }
    }
    id
}

/// Every field path the form shows for `rows` item lines.
fn shown_paths(rows: usize) -> Vec<String> {
    let mut paths: Vec<String> = SECTIONS
        .iter()
        .flat_map(|(_, defs)| defs.iter().map(|d| d.path.to_owned()))
        .collect();
    for i in 0..rows {
        paths.extend(ITEM_FIELDS.iter().map(|d| format!("items[{i}].{}", d.path)));
    }
    paths
}

// ---------------------------------------------------------------------------------------------
// Errors, placed by path.

/// The errors of a check, each beside its field (by path) or, without one, in the summary only.
#[derive(Default)]
pub(crate) struct Placed {
    /// Field id → message.
    by_field: BTreeMap<String, String>,
    /// The summary: (link target id, text).
    summary: Vec<(String, String)>,
}

impl Placed {
    fn of(&self, id: &str) -> Option<String> {
        self.by_field.get(id).cloned()
    }
}

fn pick(language: Language, en: &str, zh: &str) -> String {
    match language {
        Language::Zh => zh.to_owned(),
        Language::En => en.to_owned(),
    }
}

/// The field an error's path belongs to: the field itself, or the first field under it (a
/// missing object), or the field it is under (a member the form does not show).
fn field_for(path: &str, shown: &[String]) -> Option<String> {
    if shown.iter().any(|p| p == path) {
        return Some(path.to_owned());
    }
    let under = |p: &&String| {
        p.strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    if let Some(first) = shown.iter().find(under) {
        return Some(first.clone());
    }
    shown
        .iter()
        .filter(|p| {
            path.strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
        .max_by_key(|p| p.len())
        .cloned()
}

/// The label of the field at `path`, as the summary names it ("Item 2 · Origin").
fn label_of(tr: &Tr, path: &str) -> Option<String> {
    if let Some(d) = SECTIONS
        .iter()
        .flat_map(|(_, defs)| defs.iter())
        .find(|d| d.path == path)
    {
        return Some(tr.t(d.label));
    }
    let index = item_index(path)?;
    let relative = path.split_once("].")?.1;
    let d = ITEM_FIELDS.iter().find(|d| d.path == relative)?;
    Some(format!(
        "{} · {}",
        tr.with("form-item-line", "line", &(index + 1).to_string()),
        tr.t(d.label)
    ))
}

/// Places a refusal's field errors. `only_filled`: as the user types, only the errors of fields
/// that have a value (a field not reached yet is not an error yet).
fn place(
    tr: &Tr,
    language: Language,
    error: &ClearanceError,
    values: &Values,
    only_filled: bool,
) -> Option<Placed> {
    let (head, errors): (Option<String>, &[FieldError]) = match error {
        ClearanceError::Invalid(errors) => (None, errors),
        ClearanceError::Forbidden {
            message_en,
            message_zh,
            errors,
        } => (Some(pick(language, message_en, message_zh)), errors),
        _ => return None,
    };
    let shown = shown_paths(values.rows);
    let mut placed = Placed::default();
    if let Some(head) = head
        && !only_filled
    {
        placed.summary.push(("form-top".to_owned(), head));
    }
    for e in errors {
        let message = pick(language, &e.message_en, &e.message_zh);
        let field = field_for(&e.path, &shown);
        if only_filled
            && field
                .as_deref()
                .is_none_or(|f| values.get(f).trim().is_empty())
        {
            continue;
        }
        match field {
            Some(field) => {
                let id = field_id(&field);
                let label = label_of(tr, &field).unwrap_or_else(|| field.clone());
                let text = if field == e.path {
                    format!("{label}: {message}")
                } else {
                    format!("{label} ({}): {message}", e.path)
                };
                placed
                    .by_field
                    .entry(id.clone())
                    .and_modify(|m| {
                        m.push_str("; ");
                        m.push_str(&message);
                    })
                    .or_insert(message);
                placed.summary.push((id, text));
            }
            None => placed
                .summary
                .push(("form-top".to_owned(), format!("{}: {message}", e.path))),
        }
    }
    Some(placed)
}

// ---------------------------------------------------------------------------------------------
// What the templates show.

pub(crate) struct FieldView {
    pub id: String,
    pub name: String,
    pub label: String,
    pub value: String,
    pub error: Option<String>,
    /// text, date
    pub kind: &'static str,
    pub decimal: bool,
    /// For a choice: (value, label, selected).
    pub options: Vec<(String, String, bool)>,
    /// For a code: its list, searched by the picker.
    pub list: Option<&'static str>,
    /// For a code: the choices the picker offers before anything is typed (code, name).
    pub choices: Vec<(String, String)>,
}

pub(crate) struct SectionView {
    pub title: String,
    pub fields: Vec<FieldView>,
}

pub(crate) struct ItemView {
    pub index: usize,
    pub line: usize,
    pub fields: Vec<FieldView>,
}

pub(crate) struct EstimateView {
    pub total: String,
    pub currency: String,
    /// (tax, nominal, exempt, payable)
    pub taxes: Vec<(String, String, String, String)>,
}

fn field_view(tr: &Tr, d: &Def, path: String, values: &Values, placed: &Placed) -> FieldView {
    let id = field_id(&path);
    let value = values.get(&path).to_owned();
    let (kind, decimal, options, list) = match d.input {
        Input::Text => ("text", false, Vec::new(), None),
        Input::Date => ("date", false, Vec::new(), None),
        Input::Decimal => ("text", true, Vec::new(), None),
        Input::Code(list) => ("text", false, Vec::new(), Some(list)),
        Input::Choice(choices) => {
            let mut options = vec![(String::new(), tr.t("form-choose"), value.is_empty())];
            options.extend(
                choices
                    .iter()
                    .map(|c| ((*c).to_owned(), tr.of("form-opt", c), value == *c)),
            );
            ("select", false, options, None)
        }
    };
    FieldView {
        error: placed.of(&id),
        id,
        name: path,
        label: tr.t(d.label),
        value,
        kind,
        decimal,
        options,
        list,
        choices: Vec::new(),
    }
}

fn sections(tr: &Tr, values: &Values, placed: &Placed) -> Vec<SectionView> {
    SECTIONS
        .iter()
        .map(|(title, defs)| SectionView {
            title: tr.t(title),
            fields: defs
                .iter()
                .map(|d| field_view(tr, d, d.path.to_owned(), values, placed))
                .collect(),
        })
        .collect()
}

fn items(tr: &Tr, values: &Values, placed: &Placed) -> Vec<ItemView> {
    (0..values.rows)
        .map(|i| ItemView {
            index: i,
            line: i + 1,
            fields: ITEM_FIELDS
                .iter()
                .map(|d| {
                    let mut field =
                        field_view(tr, d, format!("items[{i}].{}", d.path), values, placed);
                    // In the table, each input's label names its line too.
                    field.label = format!(
                        "{} · {}",
                        tr.with("form-item-line", "line", &(i + 1).to_string()),
                        field.label
                    );
                    field
                })
                .collect(),
        })
        .collect()
}

/// The values the form does not show as inputs (kept through a copy or a draft).
fn kept(values: &Values) -> Vec<(String, String)> {
    let shown = shown_paths(values.rows);
    values
        .fields
        .iter()
        .filter(|(k, v)| !v.is_empty() && !shown.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[derive(Template)]
#[template(path = "console/form_edit.html")]
struct FormPage {
    page: Page,
    sections: Vec<SectionView>,
    items: Vec<ItemView>,
    /// The items table's column headings.
    item_labels: Vec<String>,
    kept: Vec<(String, String)>,
    rows: usize,
    rows_max: usize,
    summary: Vec<(String, String)>,
    notice: Option<String>,
    estimate: Option<EstimateView>,
    draft_id: String,
    draft_title: String,
    /// The key of a draft's saving: a double click saves once.
    nonce: String,
}

#[derive(Template)]
#[template(path = "console/form_errors.html")]
struct ErrorsFragment {
    page: Page,
    summary: Vec<(String, String)>,
    /// Every field's slot: (id, message), empty when the field is right.
    slots: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/form_codes.html")]
struct CodesFragment {
    choices: Vec<(String, String)>,
}

pub(crate) struct AnswerRow {
    pub label: String,
    pub value: String,
}

pub(crate) struct AnswerSection {
    pub title: String,
    pub rows: Vec<AnswerRow>,
}

#[derive(Template)]
#[template(path = "console/form_check.html")]
struct CheckPage {
    page: Page,
    answers: Vec<AnswerSection>,
    item_labels: Vec<String>,
    /// Each item line's values, in the columns of `item_labels`.
    item_rows: Vec<Vec<String>>,
    hidden: Vec<(String, String)>,
    rows: usize,
    nonce: String,
    draft_id: String,
    draft_title: String,
}

pub(crate) struct DraftView {
    pub id: String,
    pub title: String,
    pub saved_by: String,
}

#[derive(Template)]
#[template(path = "console/form_drafts.html")]
struct DraftsPage {
    page: Page,
    drafts: Vec<DraftView>,
    notice: Option<String>,
    drafts_max: usize,
}

pub(crate) struct DocumentView {
    pub digest: String,
    pub kind: String,
    pub file_name: String,
    pub media_type: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "console/form_documents.html")]
struct DocumentsPage {
    page: Page,
    id: String,
    number: String,
    documents: Vec<DocumentView>,
    may_add: bool,
    kinds: Vec<(String, String)>,
    summary: Vec<(String, String)>,
    kind_error: Option<String>,
    file_error: Option<String>,
    nonce: String,
    documents_max: usize,
    bytes_max_mb: usize,
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// The trade only: anyone else gets the not-found page (the form is not theirs to know of).
async fn trade_caller<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    visit: &Visit,
) -> Result<Caller, Response> {
    let caller = signed_in(state, headers).await?;
    if !caller.role.is_trade() {
        return Err(not_found(visit, Some(user_bar(&caller))));
    }
    Ok(caller)
}

fn internal(error: ClearanceError) -> Response {
    crate::problem::ApiError::from(error).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct FormQuery {
    lang: Option<String>,
    draft: Option<String>,
    copy: Option<String>,
    saved: Option<String>,
}

/// The form: empty, a draft reopened (`?draft=`), or a copy of a lodged declaration (`?copy=`).
async fn form_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<FormQuery>,
) -> Response {
    let language_query = LanguageQuery {
        lang: query.lang.clone(),
        cursor: None,
    };
    let visit = Visit::of(&headers, &language_query, "/console/form");
    let caller = match trade_caller(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let (mut values, mut draft_id, mut draft_title, mut notice) =
        (Values::default(), String::new(), String::new(), None);
    values.rows = 1;
    if let Some(id) = query.draft.as_deref() {
        match state.clearance.draft(&caller, id).await {
            Ok(draft) => {
                let body = draft["body"].as_str().unwrap_or("{}");
                let pairs: Vec<(String, String)> = serde_json::from_str(body).unwrap_or_default();
                values = Values::from_form(&pairs).unwrap_or_default();
                draft_id = id.to_owned();
                draft_title = text(&draft["title"]);
                if query.saved.is_some() {
                    notice = Some(tr.t("form-draft-saved"));
                }
            }
            Err(ClearanceError::NotFound) => return not_found(&visit, Some(user_bar(&caller))),
            Err(other) => return internal(other),
        }
    } else if let Some(id) = query.copy.as_deref() {
        match state.clearance.declaration(&caller, id).await {
            Ok(view) => {
                let mut document = serde_json::to_value(&view.declaration).unwrap_or(Value::Null);
                // The buyer's identity as customs keeps it cannot be lodged again.
                if let Some(buyer) = document
                    .pointer_mut("/cbec_order/buyer")
                    .and_then(Value::as_object_mut)
                {
                    buyer.remove("id_hash");
                    buyer.remove("id_masked");
                }
                values = Values::from_json(&document);
                notice = Some(tr.with("form-copied", "number", &view.number));
            }
            Err(ClearanceError::NotFound) => return not_found(&visit, Some(user_bar(&caller))),
            Err(other) => return internal(other),
        }
    } else {
        values.settle_rows();
    }
    render_form(
        &state,
        &visit,
        &caller,
        &values,
        &Placed::default(),
        FormExtras {
            notice,
            estimate: None,
            draft_id,
            draft_title,
        },
        StatusCode::OK,
    )
    .await
}

struct FormExtras {
    notice: Option<String>,
    estimate: Option<EstimateView>,
    draft_id: String,
    draft_title: String,
}

async fn render_form<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    values: &Values,
    placed: &Placed,
    extras: FormExtras,
    status: StatusCode,
) -> Response {
    let tr = visit.tr();
    let mut sections = sections(&tr, values, placed);
    let mut items = items(&tr, values, placed);
    if let Err(error) = fill_choices(state, visit.language, &mut sections, &mut items).await {
        return internal(error);
    }
    let page = FormPage {
        sections,
        items,
        item_labels: ITEM_FIELDS.iter().map(|d| tr.t(d.label)).collect(),
        nonce: hex_of(&rand::random::<[u8; 16]>()),
        kept: kept(values),
        rows: values.rows,
        rows_max: CONSOLE_FORM_ITEMS_MAX,
        summary: placed.summary.clone(),
        notice: extras.notice,
        estimate: extras.estimate,
        draft_id: extras.draft_id,
        draft_title: extras.draft_title,
        page: visit.page(Some(user_bar(caller))),
    };
    respond(status, page.render(), visit.cookies.clone())
}

/// The posted form's controls.
fn control<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Every button of the form and of the check page: check, add or remove a line, save a draft,
/// estimate, change (back from the check page) and lodge.
async fn form_post<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let csrf = control(&pairs, "csrf").to_owned();
    let (visit, caller) = match acting(&state, &headers, &csrf, "/console/form").await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    if !caller.role.is_trade() {
        return not_found(&visit, Some(user_bar(&caller)));
    }
    let tr = visit.tr();
    let Ok(mut values) = Values::from_form(&pairs) else {
        let placed = Placed {
            summary: vec![("form-top".to_owned(), tr.t("form-too-large"))],
            ..Placed::default()
        };
        return render_form(
            &state,
            &visit,
            &caller,
            &Values {
                rows: 1,
                ..Values::default()
            },
            &placed,
            FormExtras {
                notice: None,
                estimate: None,
                draft_id: String::new(),
                draft_title: String::new(),
            },
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
    };
    let action = control(&pairs, "action").to_owned();
    let mut extras = FormExtras {
        notice: None,
        estimate: None,
        draft_id: control(&pairs, "draft_id").to_owned(),
        draft_title: control(&pairs, "draft_title").to_owned(),
    };
    match action.as_str() {
        "add-item" => {
            values.add_row();
            render_form(
                &state,
                &visit,
                &caller,
                &values,
                &Placed::default(),
                extras,
                StatusCode::OK,
            )
            .await
        }
        remove if remove.starts_with("remove-item-") => {
            if let Ok(index) = remove["remove-item-".len()..].parse::<usize>() {
                values.remove_row(index);
            }
            render_form(
                &state,
                &visit,
                &caller,
                &values,
                &Placed::default(),
                extras,
                StatusCode::OK,
            )
            .await
        }
        "edit" => {
            render_form(
                &state,
                &visit,
                &caller,
                &values,
                &Placed::default(),
                extras,
                StatusCode::OK,
            )
            .await
        }
        "save-draft" => save_draft(&state, &visit, &caller, &pairs, &values, extras).await,
        "estimate" => {
            match state
                .clearance
                .estimate(&caller, &values.to_body(), None)
                .await
            {
                Ok(report) => {
                    extras.estimate = Some(estimate_view(&tr, &report));
                    render_form(
                        &state,
                        &visit,
                        &caller,
                        &values,
                        &Placed::default(),
                        extras,
                        StatusCode::OK,
                    )
                    .await
                }
                Err(error) => refused(&state, &visit, &caller, &values, error, extras).await,
            }
        }
        "lodge" => {
            let nonce = control(&pairs, "nonce");
            let key = if nonce.len() == 32 && nonce.chars().all(|c| c.is_ascii_hexdigit()) {
                format!("form-{nonce}")
            } else {
                return forbidden(&visit);
            };
            match state
                .clearance
                .lodge(&caller, Some(&key), &values.to_body())
                .await
            {
                Ok(receipt) => {
                    // The draft it came from has served: it goes (its history stays in the chain).
                    if !extras.draft_id.is_empty()
                        && let Err(error) = state
                            .clearance
                            .discard_draft(&caller, &extras.draft_id)
                            .await
                    {
                        tracing::warn!(%error, "a lodged draft could not be discarded");
                    }
                    Redirect::to(&format!("/console/declarations/{}", receipt.id)).into_response()
                }
                Err(error) => refused(&state, &visit, &caller, &values, error, extras).await,
            }
        }
        // "check" (and Enter in any field): the check, then the answers to confirm.
        _ => match state.clearance.validate(&caller, &values.to_body()).await {
            Ok(()) => check_page(&state, &visit, &caller, &values, &extras).await,
            Err(error) => refused(&state, &visit, &caller, &values, error, extras).await,
        },
    }
}

/// The form again with a refusal's errors in place (422), or the refusal's page.
async fn refused<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    values: &Values,
    error: ClearanceError,
    extras: FormExtras,
) -> Response {
    let tr = visit.tr();
    match place(&tr, visit.language, &error, values, false) {
        Some(placed) => {
            render_form(
                state,
                visit,
                caller,
                values,
                &placed,
                extras,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        None => match refusal_text(visit.language, &error) {
            Some(text) => {
                let placed = Placed {
                    summary: vec![("form-top".to_owned(), text)],
                    ..Placed::default()
                };
                render_form(
                    state,
                    visit,
                    caller,
                    values,
                    &placed,
                    extras,
                    StatusCode::CONFLICT,
                )
                .await
            }
            None => internal(error),
        },
    }
}

async fn check_page<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    values: &Values,
    extras: &FormExtras,
) -> Response {
    let tr = visit.tr();
    let mut answers = Vec::new();
    for (title, defs) in SECTIONS {
        let mut rows = Vec::new();
        for d in defs.iter().filter(|d| !values.get(d.path).is_empty()) {
            let raw = values.get(d.path);
            let mut value = shown_value(&tr, d, raw);
            // A code with its name, as the list in force names it.
            if let Input::Code(list) = d.input {
                match choices_of(state, visit.language, list, raw).await {
                    Ok(choices) => {
                        if let Some((_, name)) = choices.iter().find(|(code, _)| code == raw) {
                            value = format!("{raw} {name}");
                        }
                    }
                    Err(error) => return internal(error),
                }
            }
            rows.push(AnswerRow {
                label: tr.t(d.label),
                value,
            });
        }
        answers.push(AnswerSection {
            title: tr.t(title),
            rows,
        });
    }
    let item_rows = (0..values.rows)
        .map(|i| {
            ITEM_FIELDS
                .iter()
                .map(|d| shown_value(&tr, d, values.get(&format!("items[{i}].{}", d.path))))
                .collect()
        })
        .collect();
    let page = CheckPage {
        answers,
        item_labels: ITEM_FIELDS.iter().map(|d| tr.t(d.label)).collect(),
        item_rows,
        hidden: values.hidden(),
        rows: values.rows,
        nonce: hex_of(&rand::random::<[u8; 16]>()),
        draft_id: extras.draft_id.clone(),
        draft_title: extras.draft_title.clone(),
        page: visit.page(Some(user_bar(caller))),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

fn shown_value(tr: &Tr, d: &Def, value: &str) -> String {
    match d.input {
        Input::Choice(_) => tr.of("form-opt", value),
        _ => value.to_owned(),
    }
}

fn estimate_view(tr: &Tr, report: &Value) -> EstimateView {
    let taxes = report["totals"]
        .as_array()
        .map(|totals| {
            totals
                .iter()
                .map(|t| {
                    (
                        tr.of("form-tax", &text(&t["kind"])),
                        text(&t["nominal"]),
                        text(&t["exempt"]),
                        text(&t["payable"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    EstimateView {
        total: text(&report["total_payable"]),
        currency: match text(&report["currency"]) {
            c if c.is_empty() => "CNY".to_owned(),
            c => c,
        },
        taxes,
    }
}

async fn save_draft<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    pairs: &[(String, String)],
    values: &Values,
    extras: FormExtras,
) -> Response {
    let tr = visit.tr();
    let mut saved: Vec<(String, String)> = values.hidden();
    saved.push(("rows".to_owned(), values.rows.to_string()));
    let body = serde_json::to_string(&saved).unwrap_or_default();
    let title = match extras.draft_title.trim() {
        "" => {
            let described = values.get("items[0].description");
            let trader = values.get("trader.name");
            match (trader.trim(), described.trim()) {
                ("", "") => tr.t("form-untitled"),
                (t, "") => t.to_owned(),
                ("", d) => d.to_owned(),
                (t, d) => format!("{t} · {d}"),
            }
        }
        title => title.to_owned(),
    };
    let title: String = title
        .chars()
        .take(clearance::console::DRAFT_TITLE_LENGTH_MAX)
        .collect();
    let nonce = control(pairs, "nonce");
    let key = (nonce.len() == 32).then(|| format!("draft-{nonce}"));
    let id = (!extras.draft_id.is_empty()).then_some(extras.draft_id.as_str());
    match state
        .clearance
        .save_draft(caller, id, &title, &body, key.as_deref())
        .await
    {
        Ok(id) => Redirect::to(&format!("/console/form?draft={id}&saved=1")).into_response(),
        Err(ClearanceError::NotFound) => not_found(visit, Some(user_bar(caller))),
        Err(error) => {
            let language = visit.language;
            let text = match &error {
                ClearanceError::Invalid(errors) => errors
                    .iter()
                    .map(|e| pick(language, &e.message_en, &e.message_zh))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => return internal(error),
            };
            let placed = Placed {
                summary: vec![(
                    "form-top".to_owned(),
                    format!("{}: {text}", tr.t("form-draft-refused")),
                )],
                ..Placed::default()
            };
            render_form(
                state,
                visit,
                caller,
                values,
                &placed,
                extras,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// htmx: the form checked as typed; the error summary, and each field's message out of band.
async fn validate_fragment<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let csrf = control(&pairs, "csrf").to_owned();
    let (visit, caller) = match acting(&state, &headers, &csrf, "/console/form").await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    if !caller.role.is_trade() {
        return not_found(&visit, Some(user_bar(&caller)));
    }
    let tr = visit.tr();
    let Ok(values) = Values::from_form(&pairs) else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let placed = match state.clearance.validate(&caller, &values.to_body()).await {
        Ok(()) => Placed::default(),
        Err(error) => match place(&tr, visit.language, &error, &values, true) {
            Some(placed) => placed,
            None => return internal(error),
        },
    };
    let slots = shown_paths(values.rows)
        .iter()
        .map(|p| {
            let id = field_id(p);
            let message = placed.of(&id).unwrap_or_default();
            (id, message)
        })
        .collect();
    let fragment = ErrorsFragment {
        summary: placed.summary.clone(),
        slots,
        page: visit.page(Some(user_bar(&caller))),
    };
    respond(StatusCode::OK, fragment.render(), visit.cookies.clone())
}

/// The codes of `list` matching `typed`, each named in the user's language first.
async fn choices_of<S: Store>(
    state: &AppState<S>,
    language: Language,
    list: &str,
    typed: &str,
) -> Result<Vec<(String, String)>, ClearanceError> {
    let choices = match state
        .clearance
        .search_codes(list, typed, CODE_CHOICES_MAX)
        .await
    {
        Ok(choices) => choices,
        Err(ClearanceError::Invalid(_)) => Vec::new(),
        Err(other) => return Err(other),
    };
    Ok(choices
        .into_iter()
        .map(|c| {
            let name = match language {
                Language::Zh if c.name_zh != c.name_en => format!("{} {}", c.name_zh, c.name_en),
                Language::Zh => c.name_zh,
                Language::En => c.name_en,
            };
            (c.code, name)
        })
        .collect())
}

/// Fills each code field's picker with the choices matching its value (the list's first ones
/// when empty), so that without script the datalist still offers codes.
async fn fill_choices<S: Store>(
    state: &AppState<S>,
    language: Language,
    sections: &mut [SectionView],
    items: &mut [ItemView],
) -> Result<(), ClearanceError> {
    let mut first: BTreeMap<&'static str, Vec<(String, String)>> = BTreeMap::new();
    let fields = sections
        .iter_mut()
        .flat_map(|s| s.fields.iter_mut())
        .chain(items.iter_mut().flat_map(|i| i.fields.iter_mut()));
    for field in fields {
        let Some(list) = field.list else { continue };
        field.choices = if field.value.trim().is_empty() {
            if !first.contains_key(list) {
                first.insert(list, choices_of(state, language, list, "").await?);
            }
            first[list].clone()
        } else {
            choices_of(state, language, list, field.value.trim()).await?
        };
    }
    Ok(())
}

/// htmx: the codes of a list matching what was typed, at most `CODE_CHOICES_MAX`, in the
/// user's language first.
async fn codes_fragment<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    // `list`, `for` (the field's path) and what was typed: the field's own value (htmx sends
    // the input by its name) or `q`.
    let list = control(&query, "list").to_owned();
    let field = control(&query, "for").to_owned();
    let typed = match control(&query, &field) {
        "" => control(&query, "q"),
        typed => typed,
    };
    let visit = Visit::of(&headers, &LanguageQuery::default(), "/console/form");
    let caller = match trade_caller(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let q: String = typed.chars().take(100).collect();
    let choices = match choices_of(&state, visit.language, &list, &q).await {
        Ok(choices) => choices,
        Err(other) => return internal(other),
    };
    let _ = &caller;
    let fragment = CodesFragment { choices };
    respond(StatusCode::OK, fragment.render(), visit.cookies.clone())
}

async fn drafts_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/drafts");
    let caller = match trade_caller(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    drafts_list(&state, &visit, &caller, None).await
}

async fn drafts_list<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    notice: Option<String>,
) -> Response {
    let drafts = match state.clearance.drafts(caller).await {
        Ok(drafts) => drafts,
        Err(ClearanceError::NotFound) => Vec::new(),
        Err(other) => return internal(other),
    };
    let page = DraftsPage {
        drafts: drafts
            .iter()
            .map(|d| DraftView {
                id: text(&d["id"]),
                title: text(&d["title"]),
                saved_by: match text(&d["saved_by_name"]) {
                    name if name.is_empty() => text(&d["saved_by"]),
                    name => name,
                },
            })
            .collect(),
        notice,
        drafts_max: clearance::console::DRAFTS_PER_ENTERPRISE_MAX,
        page: visit.page(Some(user_bar(caller))),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

async fn discard_draft<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let (visit, caller) = match acting(&state, &headers, &form.csrf, "/console/drafts").await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    if !caller.role.is_trade() {
        return not_found(&visit, Some(user_bar(&caller)));
    }
    match state.clearance.discard_draft(&caller, &id).await {
        Ok(()) => {
            let notice = Some(visit.tr().t("drafts-discarded"));
            drafts_list(&state, &visit, &caller, notice).await
        }
        Err(ClearanceError::NotFound) => not_found(&visit, Some(user_bar(&caller))),
        Err(other) => internal(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Supporting documents (随附单证).

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DocumentsQuery {
    lang: Option<String>,
    /// htmx: only the list, for the declaration's page.
    fragment: Option<String>,
}

#[derive(Template)]
#[template(path = "console/form_documents_list.html")]
struct DocumentsFragment {
    page: Page,
    id: String,
    documents: Vec<DocumentView>,
}

async fn documents_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<DocumentsQuery>,
) -> Response {
    let language_query = LanguageQuery {
        lang: query.lang.clone(),
        cursor: None,
    };
    let visit = Visit::of(
        &headers,
        &language_query,
        &format!("/console/declarations/{id}/documents"),
    );
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if query.fragment.is_some() {
        let documents = match state.clearance.documents(&caller, &id).await {
            Ok(documents) => documents,
            Err(ClearanceError::NotFound) => return not_found(&visit, Some(user_bar(&caller))),
            Err(other) => return internal(other),
        };
        let fragment = DocumentsFragment {
            documents: document_views(&visit.tr(), &documents),
            id,
            page: visit.page(Some(user_bar(&caller))),
        };
        return respond(StatusCode::OK, fragment.render(), visit.cookies.clone());
    }
    documents_view(
        &state,
        &visit,
        &caller,
        &id,
        Vec::new(),
        (None, None),
        StatusCode::OK,
    )
    .await
}

fn document_views(tr: &Tr, documents: &[Value]) -> Vec<DocumentView> {
    documents
        .iter()
        .map(|d| DocumentView {
            digest: text(&d["digest"]),
            kind: tr.of("doc-kind", &text(&d["kind"])),
            file_name: text(&d["file_name"]),
            media_type: text(&d["media_type"]),
            size: text(&d["size"]),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn documents_view<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    id: &str,
    summary: Vec<(String, String)>,
    (kind_error, file_error): (Option<String>, Option<String>),
    status: StatusCode,
) -> Response {
    let view = match state.clearance.declaration(caller, id).await {
        Ok(view) => view,
        Err(ClearanceError::NotFound) => return not_found(visit, Some(user_bar(caller))),
        Err(other) => return internal(other),
    };
    let documents = match state.clearance.documents(caller, &view.id).await {
        Ok(documents) => documents,
        Err(ClearanceError::NotFound) => return not_found(visit, Some(user_bar(caller))),
        Err(other) => return internal(other),
    };
    let tr = visit.tr();
    let page = DocumentsPage {
        id: view.id.clone(),
        number: view.number.clone(),
        documents: document_views(&tr, &documents),
        may_add: caller.role.is_trade(),
        kinds: DOCUMENT_KINDS
            .iter()
            .map(|k| ((*k).to_owned(), tr.of("doc-kind", k)))
            .collect(),
        summary,
        kind_error,
        file_error,
        nonce: hex_of(&rand::random::<[u8; 16]>()),
        documents_max: clearance::console::DOCUMENTS_PER_DECLARATION_MAX,
        bytes_max_mb: DOCUMENT_BYTES_MAX / (1024 * 1024),
        page: visit.page(Some(user_bar(caller))),
    };
    respond(status, page.render(), visit.cookies.clone())
}

async fn add_document<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let (mut csrf, mut kind, mut nonce) = (String::new(), String::new(), String::new());
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut too_large = false;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("kind") => kind = field.text().await.unwrap_or_default(),
                Some("nonce") => nonce = field.text().await.unwrap_or_default(),
                Some("file") => {
                    let name = field.file_name().unwrap_or("").to_owned();
                    match field.bytes().await {
                        Ok(bytes) => file = Some((name, bytes.to_vec())),
                        Err(_) => too_large = true,
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                too_large = true;
                break;
            }
        }
    }
    let path = format!("/console/declarations/{id}/documents");
    let (visit, caller) = match acting(&state, &headers, &csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let tr = visit.tr();
    if !caller.role.is_trade() {
        return not_found(&visit, Some(user_bar(&caller)));
    }
    let file_problem = |message: String| {
        (
            vec![("document-file".to_owned(), message.clone())],
            (None, Some(message)),
        )
    };
    let (summary, errors) = if too_large {
        file_problem(tr.t("doc-too-large"))
    } else {
        match file.filter(|(_, content)| !content.is_empty()) {
            None => file_problem(tr.t("doc-no-file")),
            Some((name, content)) => {
                let key = (nonce.len() == 32).then(|| format!("doc-{nonce}"));
                match state
                    .clearance
                    .add_document(&caller, &id, &kind, &name, &content, key.as_deref())
                    .await
                {
                    Ok(_) => {
                        return Redirect::to(&path).into_response();
                    }
                    Err(ClearanceError::NotFound) => {
                        return not_found(&visit, Some(user_bar(&caller)));
                    }
                    Err(ClearanceError::Invalid(errors)) => {
                        let mut summary = Vec::new();
                        let (mut kind_error, mut file_error) = (None, None);
                        for e in &errors {
                            let message = pick(visit.language, &e.message_en, &e.message_zh);
                            let (target, slot) = if e.path == "kind" {
                                ("document-kind", &mut kind_error)
                            } else {
                                ("document-file", &mut file_error)
                            };
                            summary.push((target.to_owned(), format!("{}: {message}", e.path)));
                            *slot = Some(message);
                        }
                        (summary, (kind_error, file_error))
                    }
                    Err(other) => return internal(other),
                }
            }
        }
    };
    documents_view(
        &state,
        &visit,
        &caller,
        &id,
        summary,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn document_download<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path((id, digest)): Path<(String, String)>,
) -> Response {
    let visit = Visit::of(&headers, &LanguageQuery::default(), "/console/declarations");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match state
        .clearance
        .document_content(&caller, &id, &digest)
        .await
    {
        Ok((name, media_type, content)) => {
            let mut response = content.into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&media_type) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            // ASCII only in the header; the name is the stored one, folders refused at upload.
            let ascii: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            secure(headers);
            response
        }
        Err(ClearanceError::NotFound) => not_found(&visit, Some(user_bar(&caller))),
        Err(other) => internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_and_written_like_the_parser_names_them() {
        assert!(is_path("items[12].statutory_quantities[0].value"));
        assert!(is_path("office_of_lodging"));
        assert!(!is_path("items[].x"));
        assert!(!is_path("csrf]"));
        assert!(!is_path("a..b"));
        assert!(!is_path("Items"));
        let pairs: Vec<(String, String)> = [
            ("items[1].origin_country", "US"),
            ("invoice.amount", "10.50"),
            ("trader.name", ""),
            ("csrf", "x"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        let values = Values::from_form(&pairs).unwrap();
        assert_eq!(values.rows, 2);
        let json = values.to_json();
        assert_eq!(json["items"][1]["origin_country"], "US");
        assert_eq!(json["items"][0], serde_json::json!({}));
        assert_eq!(json["invoice"]["amount"], "10.50", "decimals stay text");
        assert!(json.get("trader").is_none(), "an empty field is absent");
        assert!(json.get("csrf").is_none());
        let back = Values::from_json(&json);
        assert_eq!(back.get("items[1].origin_country"), "US");
    }

    #[test]
    fn a_removed_line_moves_the_next_ones_up() {
        let mut values = Values::from_json(&serde_json::json!({
            "items": [{"description": "a"}, {"description": "b"}, {"description": "c"}]
        }));
        values.remove_row(1);
        assert_eq!(values.rows, 2);
        assert_eq!(values.get("items[1].description"), "c");
        values.remove_row(0);
        values.remove_row(0);
        assert_eq!(values.rows, 1, "one line is always shown");
    }

    #[test]
    fn an_error_finds_its_field() {
        let shown = shown_paths(2);
        assert_eq!(
            field_for("items[1].origin_country", &shown).as_deref(),
            Some("items[1].origin_country")
        );
        assert_eq!(
            field_for("invoice", &shown).as_deref(),
            Some("invoice.number")
        );
        assert_eq!(
            field_for("items[0].preference.agreement", &shown).as_deref(),
            None,
            "no field under or over it but the line itself"
        );
        assert_eq!(
            field_id("items[1].origin_country"),
            "f-items-1-origin_country"
        );
    }

    #[test]
    fn too_many_fields_or_too_long_a_value_is_refused() {
        let at_limit: Vec<(String, String)> = (0..CONSOLE_FORM_FIELDS_MAX)
            .map(|i| (format!("x{i}"), String::new()))
            .collect();
        assert!(Values::from_form(&at_limit).is_ok());
        let mut over = at_limit.clone();
        over.push(("y".into(), String::new()));
        assert!(Values::from_form(&over).is_err());
        let long = vec![("port".to_owned(), "a".repeat(CONSOLE_FORM_VALUE_LENGTH_MAX))];
        assert!(Values::from_form(&long).is_ok());
        let longer = vec![(
            "port".to_owned(),
            "a".repeat(CONSOLE_FORM_VALUE_LENGTH_MAX + 1),
        )];
        assert!(Values::from_form(&longer).is_err());
        let last = domain::limits::ITEMS_PER_DECLARATION_MAX - 1;
        let last_line = vec![(format!("items[{last}].amount"), "1".to_owned())];
        assert_eq!(Values::from_form(&last_line).unwrap().rows, last + 1);
        let beyond = vec![(format!("items[{}].amount", last + 1), "1".to_owned())];
        assert!(Values::from_form(&beyond).is_err());
    }

    #[test]
    fn lines_are_bounded() {
        let mut values = Values {
            rows: CONSOLE_FORM_ITEMS_MAX - 1,
            ..Values::default()
        };
        values.add_row();
        assert_eq!(values.rows, CONSOLE_FORM_ITEMS_MAX);
        values.add_row();
        assert_eq!(values.rows, CONSOLE_FORM_ITEMS_MAX);
    }
}
