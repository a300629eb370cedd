//! Labelled past goods items: the history a fraud model learns from.
//!
//! The first source is the Korea Customs Service synthetic import data (KCS CSV, MIT licence):
//! one row per goods item with its declaration's office, procedure, parties, commodity, origin,
//! tax, net mass and price, and the outcome of the inspection (`Fraud`, `Critical Fraud`).
//! Columns are found by header name, so their order does not matter and extra columns are ignored.

use std::io::Read;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Rows read from one history file at most. The full KCS training split has 37 385 rows; a
/// national year of goods items fits too, and a runaway file stops instead of filling memory.
pub const HISTORY_ROWS_MAX: usize = 5_000_000;

/// Decimal places every amount of a history row (tax rate, net mass, item price, revenue) is
/// rounded to at import, half away from zero, then normalised (no trailing zeros). Source files
/// written from binary floating point carry noise in the last digits (73.72000000000001 and
/// 73.71999999999998 are the same price): four places remove noise up to 5·10⁻⁵, which covers a
/// 64-bit float's error on amounts up to about 10¹¹, and keep sub-cent unit prices. The stored
/// file is kept byte for byte; every read goes through this reader, so the rounded value is the
/// one the models, the row identities and the price folds see.
pub const HISTORY_DECIMAL_PLACES: u32 = 4;

/// An amount as the history reader keeps it: rounded to [`HISTORY_DECIMAL_PLACES`] (half away
/// from zero), normalised.
pub fn normalise_amount(value: Decimal) -> Decimal {
    value
        .round_dp_with_strategy(
            HISTORY_DECIMAL_PLACES,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        )
        .normalize()
}

/// The identity of each row of one file, in order: `<declaration id>/<item>`, the item being
/// the row's 1-based position among the file's rows of the same declaration (KCS writes one row
/// per goods item and no item number). Two imports that hold the same goods item give it the
/// same identity whatever else differs, so an overlap is found even when a row was corrected.
pub fn row_ids(records: &[HistoryRecord]) -> Vec<String> {
    let mut items: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    records
        .iter()
        .map(|record| {
            let item = items.entry(record.declaration_id.as_str()).or_default();
            *item += 1;
            format!("{}/{}", record.declaration_id, item)
        })
        .collect()
}

/// Errors reported for one history file at most. After that the reader stops: a file with this
/// many bad cells is the wrong file, and listing more would only hide the first ones.
pub const HISTORY_ERRORS_MAX: usize = 100;

/// The outcome of inspecting a goods item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The inspection found a discrepancy (KCS `Fraud` = 1).
    pub discrepancy: bool,
    /// The discrepancy was critical (KCS `Critical Fraud` = 2).
    pub critical: bool,
    /// Duty and taxes recovered by the finding, when the source records them.
    pub revenue: Option<Decimal>,
}

/// One labelled past goods item, in the platform's vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRecord {
    pub declaration_id: String,
    pub date: NaiveDate,
    pub office: String,
    /// KCS "Process Type".
    pub procedure: String,
    /// KCS "Import Type".
    pub import_kind: String,
    pub import_use: String,
    pub payment: String,
    pub transport_mode: String,
    pub declarant: String,
    pub importer: String,
    pub seller: String,
    pub courier: Option<String>,
    /// Six digits, leading zeros kept.
    pub hs6: String,
    /// KCS "Country of Departure".
    pub dispatch_country: String,
    pub origin_country: String,
    pub tax_rate: Decimal,
    pub tax_type: String,
    pub origin_indicator: String,
    pub net_mass_kg: Decimal,
    pub item_price: Decimal,
    /// `None` for a goods item not inspected (or a file without outcomes).
    pub label: Option<Label>,
}

/// A problem with one cell, row or header of a history file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    /// 1-based line in the file; the header is line 1.
    pub line: u64,
    /// The KCS column name, or `None` for a problem with the whole row or file.
    pub column: Option<String>,
    pub message_en: String,
    pub message_zh: String,
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column \"{column}\": ", self.line)?,
            None => write!(f, "line {}: ", self.line)?,
        }
        write!(f, "{} / {}", self.message_en, self.message_zh)
    }
}

/// The KCS columns this reader needs, by header name.
const COLUMNS_REQUIRED: [&str; 20] = [
    "Declaration ID",
    "Date",
    "Office ID",
    "Process Type",
    "Import Type",
    "Import Use",
    "Payment Type",
    "Mode of Transport",
    "Declarant ID",
    "Importer ID",
    "Seller ID",
    "Courier ID",
    "HS6 Code",
    "Country of Departure",
    "Country of Origin",
    "Tax Rate",
    "Tax Type",
    "Country of Origin Indicator",
    "Net Mass",
    "Item Price",
];
/// Outcome columns: without `Fraud` the rows are unlabelled (live declarations to score).
const COLUMN_FRAUD: &str = "Fraud";
const COLUMN_CRITICAL: &str = "Critical Fraud";
const COLUMN_REVENUE: &str = "Revenue";

/// Reads a KCS CSV file. Every bad cell is reported (up to [`HISTORY_ERRORS_MAX`]), not just
/// the first, so a file is fixed in one round.
pub fn parse_kcs<R: Read>(reader: R) -> Result<Vec<HistoryRecord>, Vec<HistoryError>> {
    parse_kcs_limited(reader, HISTORY_ROWS_MAX, HISTORY_ERRORS_MAX)
}

/// [`parse_kcs`] with the limits as arguments, so the tests reach the row limit cheaply.
pub(crate) fn parse_kcs_limited<R: Read>(
    reader: R,
    rows_max: usize,
    errors_max: usize,
) -> Result<Vec<HistoryRecord>, Vec<HistoryError>> {
    let mut csv_reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let header = match csv_reader.headers() {
        Ok(header) => header.clone(),
        Err(error) => {
            return Err(vec![row_error(
                1,
                format!("the header cannot be read: {error}"),
                format!("无法读取表头: {error}"),
            )]);
        }
    };
    let position = |name: &str| header.iter().position(|cell| cell.trim() == name);
    let mut missing = Vec::new();
    let mut required = [0usize; COLUMNS_REQUIRED.len()];
    for (idx, name) in COLUMNS_REQUIRED.iter().enumerate() {
        match position(name) {
            Some(column_idx) => required[idx] = column_idx,
            None => missing.push(HistoryError {
                line: 1,
                column: Some((*name).to_owned()),
                message_en: "the header has no such column".to_owned(),
                message_zh: "表头缺少该列".to_owned(),
            }),
        }
    }
    if !missing.is_empty() {
        missing.truncate(errors_max);
        return Err(missing);
    }
    let columns = Columns {
        required,
        fraud: position(COLUMN_FRAUD),
        critical: position(COLUMN_CRITICAL),
        revenue: position(COLUMN_REVENUE),
    };

    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut row = csv::StringRecord::new();
    let mut rows_read = 0usize;
    loop {
        let line = csv_reader.position().line();
        match csv_reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                errors.push(row_error(
                    line,
                    format!("the row cannot be read: {error}"),
                    format!("无法读取该行: {error}"),
                ));
                if errors.len() >= errors_max {
                    break;
                }
                continue;
            }
        }
        rows_read += 1;
        if rows_read > rows_max {
            errors.push(row_error(
                line,
                format!("the file has more than {rows_max} rows"),
                format!("文件超过 {rows_max} 行"),
            ));
            break;
        }
        let mut cells = RowCells {
            row: &row,
            line,
            errors: Vec::new(),
        };
        let record = cells.record(&columns);
        match record {
            Some(record) if cells.errors.is_empty() => records.push(record),
            _ => {
                let room = errors_max - errors.len();
                errors.extend(cells.errors.into_iter().take(room));
            }
        }
        if errors.len() >= errors_max {
            break;
        }
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

fn row_error(line: u64, message_en: String, message_zh: String) -> HistoryError {
    HistoryError {
        line,
        column: None,
        message_en,
        message_zh,
    }
}

struct Columns {
    required: [usize; COLUMNS_REQUIRED.len()],
    fraud: Option<usize>,
    critical: Option<usize>,
    revenue: Option<usize>,
}

struct RowCells<'a> {
    row: &'a csv::StringRecord,
    line: u64,
    errors: Vec<HistoryError>,
}

impl RowCells<'_> {
    fn cell(&self, column_idx: usize) -> &str {
        self.row.get(column_idx).unwrap_or("").trim()
    }

    fn fail(&mut self, column: &str, message_en: String, message_zh: String) {
        self.errors.push(HistoryError {
            line: self.line,
            column: Some(column.to_owned()),
            message_en,
            message_zh,
        });
    }

    /// A code or party identifier: must not be empty.
    fn text(&mut self, columns: &Columns, idx: usize) -> String {
        let value = self.cell(columns.required[idx]).to_owned();
        if value.is_empty() {
            self.fail(
                COLUMNS_REQUIRED[idx],
                "is empty".to_owned(),
                "为空".to_owned(),
            );
        }
        value
    }

    /// An identifier that may be absent, such as the seller of a KCS row.
    fn text_or_empty(&self, columns: &Columns, idx: usize) -> String {
        self.cell(columns.required[idx]).to_owned()
    }

    /// A non-negative decimal: masses, prices and rates. Negative values are refused because
    /// every feature takes their logarithm and a negative price is a data error, not a risk.
    fn amount(&mut self, columns: &Columns, idx: usize) -> Decimal {
        let text = self.cell(columns.required[idx]).to_owned();
        let column = COLUMNS_REQUIRED[idx];
        match Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)) {
            Ok(value) if value.is_sign_negative() && !value.is_zero() => {
                self.fail(
                    column,
                    format!("{text:?} is negative"),
                    format!("{text:?} 为负数"),
                );
                Decimal::ZERO
            }
            Ok(value) => normalise_amount(value),
            Err(_) => {
                self.fail(
                    column,
                    format!("{text:?} is not a decimal number"),
                    format!("{text:?} 不是十进制数"),
                );
                Decimal::ZERO
            }
        }
    }

    fn record(&mut self, columns: &Columns) -> Option<HistoryRecord> {
        let date_text = self.cell(columns.required[1]).to_owned();
        let date = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d").ok();
        if date.is_none() {
            self.fail(
                COLUMNS_REQUIRED[1],
                format!("{date_text:?} is not a date (YYYY-MM-DD)"),
                format!("{date_text:?} 不是日期 (YYYY-MM-DD)"),
            );
        }
        let hs6_text = self.cell(columns.required[12]).to_owned();
        // KCS writes HS6 as an integer, so chapters 01-09 may have lost their leading zero.
        let hs6_valid = !hs6_text.is_empty()
            && hs6_text.len() <= 6
            && hs6_text.bytes().all(|b| b.is_ascii_digit());
        if !hs6_valid {
            self.fail(
                COLUMNS_REQUIRED[12],
                format!("{hs6_text:?} is not a six-digit HS subheading"),
                format!("{hs6_text:?} 不是六位HS子目"),
            );
        }
        let courier = self.cell(columns.required[11]);
        let courier = if courier.is_empty() {
            None
        } else {
            Some(courier.to_owned())
        };
        let record = HistoryRecord {
            declaration_id: self.text(columns, 0),
            date: date.unwrap_or_default(),
            office: self.text(columns, 2),
            procedure: self.text(columns, 3),
            import_kind: self.text(columns, 4),
            import_use: self.text(columns, 5),
            payment: self.text(columns, 6),
            transport_mode: self.text(columns, 7),
            declarant: self.text(columns, 8),
            importer: self.text(columns, 9),
            seller: self.text_or_empty(columns, 10),
            courier,
            hs6: format!("{hs6_text:0>6}"),
            dispatch_country: self.text(columns, 13),
            origin_country: self.text(columns, 14),
            tax_rate: self.amount(columns, 15),
            tax_type: self.text(columns, 16),
            origin_indicator: self.text(columns, 17),
            net_mass_kg: self.amount(columns, 18),
            item_price: self.amount(columns, 19),
            label: self.label(columns),
        };
        Some(record)
    }

    fn label(&mut self, columns: &Columns) -> Option<Label> {
        let fraud_idx = columns.fraud?;
        let fraud = self.cell(fraud_idx).to_owned();
        let discrepancy = match fraud.as_str() {
            "" => return None,
            "0" => false,
            "1" => true,
            _ => {
                self.fail(
                    COLUMN_FRAUD,
                    format!("{fraud:?} is not 0 or 1"),
                    format!("{fraud:?} 不是 0 或 1"),
                );
                false
            }
        };
        let critical = match columns
            .critical
            .map(|idx| self.cell(idx).to_owned())
            .as_deref()
        {
            None | Some("" | "0" | "1") => false,
            Some("2") => true,
            Some(other) => {
                let other = other.to_owned();
                self.fail(
                    COLUMN_CRITICAL,
                    format!("{other:?} is not 0, 1 or 2"),
                    format!("{other:?} 不是 0、1 或 2"),
                );
                false
            }
        };
        let revenue = match columns.revenue.map(|idx| self.cell(idx).to_owned()) {
            None => None,
            Some(text) if text.is_empty() => None,
            Some(text) => {
                match Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)) {
                    Ok(value) => Some(normalise_amount(value)),
                    Err(_) => {
                        self.fail(
                            COLUMN_REVENUE,
                            format!("{text:?} is not a decimal number"),
                            format!("{text:?} 不是十进制数"),
                        );
                        None
                    }
                }
            }
        };
        Some(Label {
            discrepancy,
            critical,
            revenue,
        })
    }
}

/// The canonical text of a record: every field in a fixed order, decimals normalised, separated
/// by the ASCII unit separator. The training summary hashes these lines, so two files that
/// differ only in column order, spacing or trailing zeros give the same data hash.
pub fn canonical_line(record: &HistoryRecord) -> String {
    let label = match &record.label {
        None => "-".to_owned(),
        Some(label) => format!(
            "{}{}{}",
            u8::from(label.discrepancy),
            u8::from(label.critical),
            label
                .revenue
                .map(|revenue| format!(":{}", revenue.normalize()))
                .unwrap_or_default()
        ),
    };
    let fields = [
        record.declaration_id.clone(),
        record.date.to_string(),
        record.office.clone(),
        record.procedure.clone(),
        record.import_kind.clone(),
        record.import_use.clone(),
        record.payment.clone(),
        record.transport_mode.clone(),
        record.declarant.clone(),
        record.importer.clone(),
        record.seller.clone(),
        record.courier.clone().unwrap_or_default(),
        record.hs6.clone(),
        record.dispatch_country.clone(),
        record.origin_country.clone(),
        record.tax_rate.normalize().to_string(),
        record.tax_type.clone(),
        record.origin_indicator.clone(),
        record.net_mass_kg.normalize().to_string(),
        record.item_price.normalize().to_string(),
        label,
    ];
    fields.join("\u{1f}")
}
