//! A tariff release read from the CSV files a customs IT team exports from its own tables.
//!
//! Pure: [`parse_release`] takes the file texts (and their names, for the report); it never opens a
//! file. Every problem of every file is reported at once, each with its file, its 1-based line
//! number and its field, in English and Chinese, so an administrator can fix a release in one pass.
//! [`render_release`] writes a release back in this format (an export):
//! `parse_release(render_release(r)) == r` for every release the parser produces.
//!
//! # Why one file per record kind
//! Each file mirrors one table the IT team already keeps (the tariff lines, the duty-rate
//! schedule, the consumption-tax list, the trade-remedy notices, the monthly exchange rates), so
//! each is one query away and no row carries columns that are meaningless for it. A single
//! "one row per line and rate" file would repeat the description and VAT of a line on every rate
//! row and need a discriminator column with half the columns empty on every row.
//!
//! # Common rules
//! - UTF-8, comma-separated, optional byte order mark; fields may be quoted; surrounding spaces are
//!   trimmed. Lines starting with `#` are comments (a release says what it is in them).
//! - The first non-comment row is the header. Every column listed below must be present, in any
//!   order; an unknown or repeated column name is a problem. Every row has as many fields as the
//!   header.
//! - Dates are ISO `YYYY-MM-DD`. `valid_from` is required and inclusive; `valid_to` is optional and
//!   exclusive (the first day the record no longer applies); empty means open-ended. `valid_to`
//!   must be after `valid_from`.
//! - Percentages are plain decimals (`13`, `6.5`), from 0 to 1000, at most 4 decimals. Amounts per
//!   unit are CNY, plain decimals (`4374`, `0.003`), at most 6 decimals. No sign, no exponent, no
//!   thousands separator.
//! - Units are the tariff's unit codes (`KGM`, `LTR`, `UNIT`, `500ML`...): capital letters and
//!   digits. Countries are ISO 3166 alpha-2 codes; lists are separated by `|`.
//! - A national code is 8 or 10 digits without dots; its first six digits are the HS6 subheading
//!   (not a separate column, so the two can never disagree).
//! - A row that repeats an earlier row exactly is a problem (a duplicate is never "kept once").
//!
//! # `lines.csv`: `code,description,units,licences,vat_percent,valid_from,valid_to`
//! One row per tariff line and VAT period. `units` lists the first and optional second statutory
//! unit (`KGM` or `LTR|KGM`). `licences` lists the licence and certificate codes the goods need
//! (China's supervision-certificate codes, 监管证件代码: `7` automatic import licence, `A`
//! inspection and quarantine on entry, `t` tariff quota certificate...), separated by `|`, in the
//! release's order; empty when the line needs none (the column itself is required). A code is 1 to
//! 3 ASCII letters or digits, kept as written: the code table is case-sensitive (`t` is not `T`).
//! A row lists a code once. China's tariff prints a line's codes run together (`AB`, `7AB`); here
//! they are separated (`A|B`, `7|A|B`), since `AB` reads as one two-letter code.
//! A line is in force on the days one of its rows is: a VAT change (e.g. 17 % → 16 % → 13 %) is a
//! new row with the same code, description, units and licences (same codes, same order) and a
//! non-overlapping period.
//!
//! # Rates: `kind,rate_percent,amount_per_unit,unit,bands`
//! Shared by the three rate files. `kind` says which of the other four fields are used; the others
//! must be empty:
//! - `ad_valorem`: `rate_percent`;
//! - `specific`: `amount_per_unit` (CNY) per `unit`;
//! - `compound`: `rate_percent` + `amount_per_unit` per `unit`;
//! - `conditional`: by unit value (CNY per `unit`), `bands`: bands separated by `;`, in ascending
//!   order of floor; the first band has no floor, each later one starts with `>=X:` (unit value at
//!   least X) or `>X:` (above X). A band's rate is `P%`, `A` (CNY per `unit`) or `P%+A`.
//!   Example: `40%; >15: 5%+0.57` is "≤ 15 CNY/kg: 40 %; > 15 CNY/kg: 5 % + 0.57 CNY/kg";
//!   `0%; >=10: 15%` is "15 % from 10 CNY per unit".
//!
//! # `duty_rates.csv`: `code,column,partners,` rate `,valid_from,valid_to`
//! `column` is `mfn`, `provisional`, `general`, `trq_in`, `trq_out`, `conventional:<agreement>`
//! or `special:<arrangement>` (e.g. `conventional:RCEP`). `partners` is required for conventional
//! and special rates (the origins granted that rate) and must be empty for the others. The code
//! must be in `lines.csv`. Two rows of the same code, column and partner must not overlap in time.
//!
//! # `consumption_tax.csv`: `code,` rate `,valid_from,valid_to`
//! Lines without consumption tax have no row. Ad valorem parts must be below 100 % (the tax is
//! grossed up by `1 − r`). Periods of one code must not overlap.
//!
//! # `trade_remedies.csv`: `code,remedy,origins,exporters,` rate `,notice,valid_from,valid_to`
//! `remedy` is `anti_dumping`, `countervailing`, `safeguard` or `countermeasure`; `origins` empty
//! means every origin (safeguards); `notice` (required) is quoted in explanations.
//!
//! `exporters` (the column is required, the field may be empty) names the exporters or producers
//! the row's rate is for, as the notice names them, separated by `|`; a name may hold spaces,
//! commas and quotes (quote the field as CSV does: `"Foo Co., Ltd.|Bar AG"`), but no `|` and no
//! control character. Empty means every other exporter of the row's origins: the notice's rate for
//! "all other companies" (其他公司). A notice with company-specific rates is one row per rate: the
//! named companies' rows and one row with `exporters` empty. Names are kept as written and matched
//! by `model::exporter_key`: surrounding white space removed, inner runs of white space made one
//! space, ASCII letters compared without case (`POSCO` and ` Posco ` are the same exporter;
//! `POSCO Co., Ltd.` is another). A row names an exporter once.
//!
//! An item takes, for each kind of remedy in force for its origin, the row naming its exporter,
//! otherwise the "all other companies" row; a row naming only other exporters does not apply.
//! Two rows of the same code, remedy, origin and exporter must not overlap in time ("all other
//! companies" counts as one more exporter: a company's row and the all-others row of the same
//! origin may, and do, share their period).
//!
//! # `exchange_rates.csv`: `currency,month,rate`
//! `currency` is ISO 4217 (three capital letters), `month` is `YYYY-MM`, `rate` is CNY per one unit,
//! above zero, with at most 4 decimals as published (digest §2.4). One rate per currency and month.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use csv::{ReaderBuilder, StringRecord, Trim};
use rust_decimal::Decimal;

use crate::model::{
    ColumnRate, DatedRate, DutyRate, ExchangeRate, ExchangeRates, Rate, RateBand, RateColumn,
    RemedyKind, StatutoryUnit, TariffLine, TradeRemedy, UnitValueFloor, Validity, YearMonth,
    exporter_key,
};

/// One file of a release: its name (for the report) and its text.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseFile<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// The five files of a release. A file with nothing to say (no consumption tax, no remedies)
/// still has its header.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseFiles<'a> {
    pub lines: ReleaseFile<'a>,
    pub duty_rates: ReleaseFile<'a>,
    pub consumption_tax: ReleaseFile<'a>,
    pub trade_remedies: ReleaseFile<'a>,
    pub exchange_rates: ReleaseFile<'a>,
}

/// One problem of a release, where an administrator can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseProblem {
    pub file: String,
    /// 1-based, counting comment lines.
    pub line: u64,
    /// The column concerned; `None` for a problem of the whole row (duplicate, wrong field count).
    pub field: Option<String>,
    pub message_en: String,
    pub message_zh: String,
}

impl fmt::Display for ReleaseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, " [{field}]")?;
        }
        write!(f, ": {}", self.message_en)
    }
}

/// A parsed, validated release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TariffRelease {
    /// Ordered by national code; each line carries its rates, remedies, VAT and consumption tax.
    /// Shared: an assessment takes its items' lines by reference count, not by copying each
    /// line's rates, remedies and texts for every goods item lodged.
    pub lines: Vec<Arc<TariffLine>>,
    pub exchange_rates: ExchangeRates,
    /// The product-specific rules of origin that travel with the release (`origin_rules.csv`,
    /// read by [`crate::origin_rules::parse_origin_rules`]); empty when it has none.
    pub origin_rules: crate::origin_rules::OriginRules,
}

impl TariffRelease {
    /// The line of this national code in force on `on` (one of its `lines.csv` periods contains
    /// the day): the code itself, or for a 10-digit code its 8-digit line. No fallback to the HS6
    /// subheading: a declaration must name a line.
    pub fn line(&self, code: &str, on: NaiveDate) -> Option<&TariffLine> {
        self.shared_line(code, on).map(|line| &**line)
    }

    /// [`Self::line`], shared: what an assessment's item input holds.
    pub fn shared_line(&self, code: &str, on: NaiveDate) -> Option<&Arc<TariffLine>> {
        self.exact_line(code, on).or_else(|| {
            // A 10-digit statistical code (China's 商品编号) takes the rates of its 8-digit tariff
            // line unless the release lists the 10-digit code itself.
            code.get(..8)
                .filter(|_| code.len() == 10)
                .and_then(|line_code| self.exact_line(line_code, on))
        })
    }

    fn exact_line(&self, code: &str, on: NaiveDate) -> Option<&Arc<TariffLine>> {
        // `lines` is sorted by code (one entry per code), so a national tariff of ~9,000 lines
        // is searched in a dozen comparisons on the lodging path.
        let index = self
            .lines
            .binary_search_by(|line| line.code.as_str().cmp(code))
            .ok()?;
        let line = &self.lines[index];
        line.vat
            .iter()
            .any(|v| v.validity.contains(on))
            .then_some(line)
    }
}

const LINES: &[&str] = &[
    "code",
    "description",
    "units",
    "licences",
    "vat_percent",
    "valid_from",
    "valid_to",
];
const DUTY_RATES: &[&str] = &[
    "code",
    "column",
    "partners",
    "kind",
    "rate_percent",
    "amount_per_unit",
    "unit",
    "bands",
    "valid_from",
    "valid_to",
];
const CONSUMPTION_TAX: &[&str] = &[
    "code",
    "kind",
    "rate_percent",
    "amount_per_unit",
    "unit",
    "bands",
    "valid_from",
    "valid_to",
];
const TRADE_REMEDIES: &[&str] = &[
    "code",
    "remedy",
    "origins",
    "exporters",
    "kind",
    "rate_percent",
    "amount_per_unit",
    "unit",
    "bands",
    "notice",
    "valid_from",
    "valid_to",
];
const EXCHANGE_RATES: &[&str] = &["currency", "month", "rate"];

/// Parses a monthly exchange-rate table on its own (`exchange_rates.csv`, format above): the
/// tables an administration publishes every month, imported and versioned apart from the tariff.
pub fn parse_exchange_rates(file: ReleaseFile<'_>) -> Result<ExchangeRates, Vec<ReleaseProblem>> {
    let mut problems = Vec::new();
    let rates = read_exchange_rates(file, &mut problems);
    if problems.is_empty() {
        Ok(rates)
    } else {
        Err(problems)
    }
}

/// Parses a release, or reports every problem of every file (in file order, then line order).
pub fn parse_release(files: &ReleaseFiles<'_>) -> Result<TariffRelease, Vec<ReleaseProblem>> {
    let mut problems = Vec::new();
    let mut lines = read_lines(files.lines, &mut problems);
    read_duty_rates(files.duty_rates, &mut lines, &mut problems);
    read_consumption_tax(files.consumption_tax, &mut lines, &mut problems);
    read_trade_remedies(files.trade_remedies, &mut lines, &mut problems);
    let exchange_rates = read_exchange_rates(files.exchange_rates, &mut problems);
    if problems.is_empty() {
        Ok(TariffRelease {
            lines: lines
                .into_values()
                .map(|(line, _)| Arc::new(line))
                .collect(),
            exchange_rates,
            origin_rules: crate::origin_rules::OriginRules::default(),
        })
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a table.

pub(crate) struct Table<'a> {
    pub(crate) file: &'a str,
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<(u64, StringRecord)>,
}

/// Reads one file; `None` when its header is unusable (its problems are reported, its rows are
/// not read, as their fields cannot be found).
pub(crate) fn read_table<'a>(
    file: ReleaseFile<'a>,
    columns: &[&str],
    problems: &mut Vec<ReleaseProblem>,
) -> Option<Table<'a>> {
    let text = file.text.strip_prefix('\u{feff}').unwrap_or(file.text);
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .trim(Trim::All)
        .from_reader(text.as_bytes());
    let mut header: Option<(u64, Vec<String>)> = None;
    let mut rows = Vec::new();
    let mut found = Vec::new();
    let text_lines: Vec<&str> = text.lines().collect();
    // The csv reader's position of a record is where it started reading, before the comment
    // and blank lines it skipped: the record itself is on the first line after them.
    let record_line = |position: Option<&csv::Position>| {
        let mut line = position.map_or(1, |p| p.line());
        while let Some(text) = text_lines.get(line as usize - 1)
            && (text.trim().is_empty() || text.trim_start().starts_with('#'))
        {
            line += 1;
        }
        line
    };
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record_line(record.position());
                if header.is_none() {
                    header = Some((line, record.iter().map(str::to_owned).collect()));
                } else {
                    rows.push((line, record));
                }
            }
            Err(error) => {
                let line = record_line(error.position());
                let (en, zh) = match error.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => (
                        format!("found {len} fields, the header has {expected_len}"),
                        format!("本行有 {len} 个字段，表头有 {expected_len} 个"),
                    ),
                    _ => (
                        format!("unreadable CSV: {error}"),
                        format!("无法读取的 CSV：{error}"),
                    ),
                };
                found.push(problem(file.name, line, None, en, zh));
            }
        }
    }
    let Some((header_line, header)) = header else {
        problems.extend(found);
        problems.push(problem(
            file.name,
            1,
            None,
            format!("the file has no header; it needs: {}", columns.join(",")),
            format!("文件没有表头，须包含：{}", columns.join(",")),
        ));
        return None;
    };
    let mut header_ok = true;
    for (i, name) in header.iter().enumerate() {
        if !columns.contains(&name.as_str()) {
            header_ok = false;
            found.push(problem(
                file.name,
                header_line,
                Some(name),
                format!(
                    "unknown column '{name}'; the columns are: {}",
                    columns.join(",")
                ),
                format!("未知列“{name}”；应为：{}", columns.join(",")),
            ));
        } else if header[..i].contains(name) {
            header_ok = false;
            found.push(problem(
                file.name,
                header_line,
                Some(name),
                format!("column '{name}' appears twice"),
                format!("列“{name}”重复"),
            ));
        }
    }
    for name in columns {
        if !header.iter().any(|h| h == name) {
            header_ok = false;
            found.push(problem(
                file.name,
                header_line,
                Some(name),
                format!("missing column '{name}'"),
                format!("缺少列“{name}”"),
            ));
        }
    }
    found.sort_by_key(|p| p.line);
    problems.extend(found);
    header_ok.then_some(Table {
        file: file.name,
        header,
        rows,
    })
}

pub(crate) fn problem(
    file: &str,
    line: u64,
    field: Option<&str>,
    en: String,
    zh: String,
) -> ReleaseProblem {
    ReleaseProblem {
        file: file.to_owned(),
        line,
        field: field.map(str::to_owned),
        message_en: en,
        message_zh: zh,
    }
}

/// One data row, with its problems collected as its fields are read.
pub(crate) struct Row<'t> {
    file: &'t str,
    pub(crate) line: u64,
    header: &'t [String],
    record: &'t StringRecord,
    pub(crate) problems: Vec<ReleaseProblem>,
}

impl<'t> Row<'t> {
    pub(crate) fn new(table: &'t Table<'_>, line: u64, record: &'t StringRecord) -> Row<'t> {
        Row {
            file: table.file,
            line,
            header: &table.header,
            record,
            problems: Vec::new(),
        }
    }

    pub(crate) fn text(&self, field: &str) -> &'t str {
        let record: &'t StringRecord = self.record;
        self.header
            .iter()
            .position(|h| h == field)
            .and_then(|i| record.get(i))
            .unwrap_or("")
    }

    /// The raw row, to find exact duplicates.
    fn key(&self) -> Vec<String> {
        self.record.iter().map(str::to_owned).collect()
    }

    pub(crate) fn report(&mut self, field: Option<&str>, en: String, zh: String) {
        let found = problem(self.file, self.line, field, en, zh);
        self.problems.push(found);
    }

    pub(crate) fn invalid<T>(
        &mut self,
        field: &str,
        expected_en: &str,
        expected_zh: &str,
    ) -> Option<T> {
        let value = self.text(field);
        self.report(
            Some(field),
            format!("'{value}' is not {expected_en}"),
            format!("“{value}”不是{expected_zh}"),
        );
        None
    }

    pub(crate) fn required(&mut self, field: &str) -> Option<&'t str> {
        let text = self.text(field);
        if text.is_empty() {
            self.report(
                Some(field),
                format!("{field} is required"),
                format!("{field} 不能为空"),
            );
            None
        } else {
            Some(text)
        }
    }

    fn must_be_empty(&mut self, field: &str, why_en: &str, why_zh: &str) {
        if !self.text(field).is_empty() {
            self.report(
                Some(field),
                format!("{field} must be empty {why_en}"),
                format!("{why_zh}，{field} 必须为空"),
            );
        }
    }

    fn code(&mut self) -> Option<String> {
        let text = self.required("code")?;
        if is_national_code(text) {
            Some(text.to_owned())
        } else {
            self.invalid(
                "code",
                "a national code of 8 or 10 digits",
                "8位或10位数字的税则号列",
            )
        }
    }

    /// A code that must also be a line of `lines.csv`.
    fn known_code(&mut self, lines: &LineMap) -> Option<String> {
        let code = self.code()?;
        if lines.contains_key(&code) {
            Some(code)
        } else {
            self.report(
                Some("code"),
                format!("code {code} is not in lines.csv"),
                format!("税则号列 {code} 不在 lines.csv 中"),
            );
            None
        }
    }

    fn date(&mut self, field: &str) -> Option<Option<NaiveDate>> {
        let text = self.text(field);
        if text.is_empty() {
            return Some(None);
        }
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) if text.len() == 10 => Some(Some(day)),
            _ => self.invalid(field, "a date as YYYY-MM-DD", "YYYY-MM-DD 格式的日期"),
        }
    }

    pub(crate) fn validity(&mut self) -> Option<Validity> {
        let from = match self.required("valid_from") {
            Some(_) => self.date("valid_from").flatten(),
            None => None,
        };
        let until = self.date("valid_to")?;
        let from = from?;
        if let Some(until) = until
            && until <= from
        {
            self.report(
                Some("valid_to"),
                format!("valid_to {until} must be after valid_from {from} (valid_to is exclusive)"),
                format!("失效日期 {until} 必须晚于生效日期 {from}（失效日期当日不适用）"),
            );
            return None;
        }
        Some(Validity { from, until })
    }

    fn percent(&mut self, field: &str) -> Option<Option<Decimal>> {
        let text = self.text(field);
        if text.is_empty() {
            return Some(None);
        }
        match plain_decimal(text) {
            Some((value, scale)) if scale <= 4 => {
                if value > Decimal::from(1000) {
                    self.report(
                        Some(field),
                        format!("{text}% is outside 0–1000%"),
                        format!("{text}% 超出 0–1000% 的范围"),
                    );
                    None
                } else {
                    Some(Some(value))
                }
            }
            _ => self.invalid(
                field,
                "a percentage such as 13 or 6.5 (at most 4 decimals)",
                "百分数，如 13 或 6.5（最多4位小数）",
            ),
        }
    }

    fn amount(&mut self, field: &str) -> Option<Option<Decimal>> {
        let text = self.text(field);
        if text.is_empty() {
            return Some(None);
        }
        match plain_decimal(text) {
            Some((value, scale)) if scale <= 6 => Some(Some(value)),
            _ => self.invalid(
                field,
                "an amount in CNY such as 4374 or 0.003 (at most 6 decimals)",
                "人民币金额，如 4374 或 0.003（最多6位小数）",
            ),
        }
    }

    fn unit(&mut self, field: &str) -> Option<Option<StatutoryUnit>> {
        let text = self.text(field);
        if text.is_empty() {
            Some(None)
        } else if is_unit(text) {
            Some(Some(StatutoryUnit(text.to_owned())))
        } else {
            self.invalid(
                field,
                "a unit code of capital letters and digits, e.g. KGM",
                "由大写字母和数字组成的单位代码，如 KGM",
            )
        }
    }

    fn countries(&mut self, field: &str) -> Option<Vec<String>> {
        let text = self.text(field);
        if text.is_empty() {
            return Some(Vec::new());
        }
        let countries: Vec<String> = text.split('|').map(|c| c.trim().to_owned()).collect();
        let valid = countries
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
        if valid {
            Some(countries)
        } else {
            self.invalid(
                field,
                "ISO alpha-2 country codes separated by '|', e.g. JP|KR",
                "以“|”分隔的 ISO 两字母国家代码，如 JP|KR",
            )
        }
    }

    /// Licence codes separated by '|' (`licences` of `lines.csv`): each 1 to 3 ASCII letters or
    /// digits, case kept, none twice. Empty is no licence.
    fn licences(&mut self, field: &str) -> Option<Vec<String>> {
        let text = self.text(field);
        if text.is_empty() {
            return Some(Vec::new());
        }
        let codes: Vec<String> = text.split('|').map(|c| c.trim().to_owned()).collect();
        if !codes.iter().all(|c| is_licence_code(c)) {
            return self.invalid(
                field,
                "licence codes of 1 to 3 letters or digits separated by '|', e.g. 7|A|B",
                "以“|”分隔的监管证件代码（1至3位字母或数字），如 7|A|B",
            );
        }
        if let Some(twice) = codes
            .iter()
            .enumerate()
            .find_map(|(i, c)| codes[..i].contains(c).then_some(c))
        {
            self.report(
                Some(field),
                format!("licence code '{twice}' appears twice"),
                format!("监管证件代码“{twice}”重复"),
            );
            return None;
        }
        Some(codes)
    }

    /// Exporter names separated by '|' (`exporters` of `trade_remedies.csv`): each trimmed,
    /// non-empty, without control characters, none twice by `exporter_key`. Empty is "all other
    /// companies".
    fn exporters(&mut self, field: &str) -> Option<Vec<String>> {
        let text = self.text(field);
        if text.is_empty() {
            return Some(Vec::new());
        }
        let names: Vec<String> = text.split('|').map(|n| n.trim().to_owned()).collect();
        if names
            .iter()
            .any(|n| n.is_empty() || n.chars().any(char::is_control))
        {
            return self.invalid(
                field,
                "exporter names separated by '|', none empty and each on one line, \
                 e.g. POSCO|Martell & Co",
                "以“|”分隔的出口商名称（不得为空，不得换行），如 POSCO|Martell & Co",
            );
        }
        let keys: Vec<String> = names.iter().map(|n| exporter_key(n)).collect();
        if let Some(i) = (0..keys.len()).find(|&i| keys[..i].contains(&keys[i])) {
            let twice = &names[i];
            self.report(
                Some(field),
                format!(
                    "exporter '{twice}' appears twice (names are compared without case and \
                     extra spaces)"
                ),
                format!("出口商“{twice}”重复（名称比较不区分大小写及多余空格）"),
            );
            return None;
        }
        Some(names)
    }

    /// The shared rate fields: `kind,rate_percent,amount_per_unit,unit,bands`.
    fn rate(&mut self) -> Option<DutyRate> {
        let kind = self.required("kind");
        // Every number is read whatever the kind, so each malformed one is reported.
        let percent = self.percent("rate_percent");
        let amount = self.amount("amount_per_unit");
        let unit = self.unit("unit");
        let bands_text = self.text("bands");
        let bands = if bands_text.is_empty() {
            Some(None)
        } else {
            match parse_bands(bands_text) {
                Some(bands) => Some(Some(bands)),
                None => self.invalid(
                    "bands",
                    "bands such as '40%; >15: 5%+0.57' (ascending floors, percentages 0–1000)",
                    "税率档，如“40%; >15: 5%+0.57”（起点递增，百分数 0–1000）",
                ),
            }
        };
        let uses: Option<[bool; 4]> = match kind {
            None => None,
            Some("ad_valorem") => Some([true, false, false, false]),
            Some("specific") => Some([false, true, true, false]),
            Some("compound") => Some([true, true, true, false]),
            Some("conditional") => Some([false, false, true, true]),
            Some(_) => self.invalid(
                "kind",
                "one of ad_valorem, specific, compound, conditional",
                "ad_valorem、specific、compound、conditional 之一",
            ),
        };
        let (uses, percent, amount, unit, bands) = (uses?, percent?, amount?, unit?, bands?);
        let kind = self.text("kind");
        let fields = ["rate_percent", "amount_per_unit", "unit", "bands"];
        let mut complete = true;
        for (field, used) in fields.into_iter().zip(uses) {
            if used {
                complete &= self.required(field).is_some();
            } else {
                self.must_be_empty(
                    field,
                    &format!("for kind {kind}"),
                    &format!("计征方式为 {kind} 时"),
                );
            }
        }
        if !complete || !self.problems.is_empty() {
            return None;
        }
        Some(match (percent, amount, unit, bands) {
            (Some(p), None, None, None) => DutyRate::AdValorem {
                rate: Rate::percent(p),
            },
            (None, Some(amount_per_unit), Some(unit), None) => DutyRate::Specific {
                amount_per_unit,
                unit,
            },
            (Some(p), Some(amount_per_unit), Some(unit), None) => DutyRate::Compound {
                rate: Rate::percent(p),
                amount_per_unit,
                unit,
            },
            (None, None, Some(unit), Some(bands)) => DutyRate::Conditional {
                bands: bands.into_iter().map(|band| band.build(&unit)).collect(),
                unit,
            },
            _ => return None,
        })
    }
}

fn is_national_code(text: &str) -> bool {
    (text.len() == 8 || text.len() == 10) && text.bytes().all(|b| b.is_ascii_digit())
}

/// A supervision-certificate code: 1 to 3 ASCII letters or digits, either case (`t` and `T` are
/// different codes).
fn is_licence_code(text: &str) -> bool {
    (1..=3).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_unit(text: &str) -> bool {
    text.len() <= 16
        && !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `digits[.digits]`, at most 12 integer and 12 fraction digits (so the value is exact), with its
/// number of decimals as written.
fn plain_decimal(text: &str) -> Option<(Decimal, u32)> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(whole, 12) || fraction.is_some_and(|f| !digits(f, 12)) {
        return None;
    }
    let value = Decimal::from_str(text).ok()?;
    let scale = fraction.map_or(0, str::len);
    Some((value, u32::try_from(scale).ok()?))
}

struct BandSpec {
    floor: Option<UnitValueFloor>,
    percent: Option<Decimal>,
    amount: Option<Decimal>,
}

impl BandSpec {
    fn build(self, unit: &StatutoryUnit) -> RateBand {
        let rate = match (self.percent, self.amount) {
            (Some(p), Some(amount_per_unit)) => DutyRate::Compound {
                rate: Rate::percent(p),
                amount_per_unit,
                unit: unit.clone(),
            },
            (None, Some(amount_per_unit)) => DutyRate::Specific {
                amount_per_unit,
                unit: unit.clone(),
            },
            (p, None) => DutyRate::AdValorem {
                rate: Rate::percent(p.unwrap_or_default()),
            },
        };
        RateBand {
            floor: self.floor,
            rate,
        }
    }
}

/// `RATE; >=X: RATE; >Y: RATE`, floors ascending, the first band without a floor.
fn parse_bands(text: &str) -> Option<Vec<BandSpec>> {
    let mut bands: Vec<BandSpec> = Vec::new();
    let mut last_floor: Option<Decimal> = None;
    for (i, band) in text.split(';').map(str::trim).enumerate() {
        let (floor, rate) = if i == 0 {
            (None, band)
        } else {
            let (floor, rate) = band.split_once(':')?;
            let floor = floor.trim();
            let floor = if let Some(value) = floor.strip_prefix(">=") {
                UnitValueFloor::AtLeast(plain_decimal(value.trim())?.0)
            } else {
                UnitValueFloor::Above(plain_decimal(floor.strip_prefix('>')?.trim())?.0)
            };
            let value = match floor {
                UnitValueFloor::AtLeast(v) | UnitValueFloor::Above(v) => v,
            };
            if last_floor.is_some_and(|last| value <= last) {
                return None;
            }
            last_floor = Some(value);
            (Some(floor), rate.trim())
        };
        let (percent, amount) = match rate.split_once('+') {
            Some((percent, amount)) => (Some(percent.trim()), Some(amount.trim())),
            None if rate.ends_with('%') => (Some(rate), None),
            None => (None, Some(rate)),
        };
        let percent = match percent {
            Some(p) => {
                let (value, scale) = plain_decimal(p.strip_suffix('%')?.trim())?;
                (scale <= 4 && value <= Decimal::from(1000)).then_some(value)?;
                Some(value)
            }
            None => None,
        };
        let amount = match amount {
            Some(a) => {
                let (value, scale) = plain_decimal(a)?;
                (scale <= 6).then_some(value)?;
                Some(value)
            }
            None => None,
        };
        bands.push(BandSpec {
            floor,
            percent,
            amount,
        });
    }
    Some(bands)
}

/// The highest ad valorem percentage a rate can levy (for the consumption-tax gross-up check).
fn max_percent(rate: &DutyRate) -> Decimal {
    match rate {
        DutyRate::AdValorem { rate } | DutyRate::Compound { rate, .. } => rate.as_percent(),
        DutyRate::Specific { .. } => Decimal::ZERO,
        DutyRate::Conditional { bands, .. } => bands
            .iter()
            .map(|band| max_percent(&band.rate))
            .max()
            .unwrap_or_default(),
    }
}

/// Rows seen so far, to report exact duplicates and overlapping periods.
#[derive(Default)]
pub(crate) struct Seen {
    rows: HashMap<Vec<String>, u64>,
    periods: HashMap<Vec<String>, Vec<(Validity, u64)>>,
}

impl Seen {
    /// True when the row is new and overlaps no earlier period of any of its keys; otherwise the
    /// problem is reported on the row.
    pub(crate) fn admit(
        &mut self,
        row: &mut Row<'_>,
        keys: &[Vec<String>],
        validity: Validity,
    ) -> bool {
        if let Some(first) = self.rows.get(&row.key()) {
            row.report(
                None,
                format!("duplicate of line {first}"),
                format!("与第 {first} 行重复"),
            );
            return false;
        }
        self.rows.insert(row.key(), row.line);
        for key in keys {
            let earlier = self.periods.get(key).into_iter().flatten();
            if let Some((_, first)) = earlier.into_iter().find(|(v, _)| overlaps(v, &validity)) {
                let what = key.join(" ");
                row.report(
                    Some("valid_from"),
                    format!("the period overlaps that of line {first} ({what})"),
                    format!("有效期与第 {first} 行（{what}）重叠"),
                );
                return false;
            }
        }
        for key in keys {
            self.periods
                .entry(key.clone())
                .or_default()
                .push((validity, row.line));
        }
        true
    }
}

fn overlaps(a: &Validity, b: &Validity) -> bool {
    a.until.is_none_or(|until| b.from < until) && b.until.is_none_or(|until| a.from < until)
}

// ---------------------------------------------------------------------------------------------
// The five files.

/// Lines by code, with the line of `lines.csv` that first gave each.
type LineMap = BTreeMap<String, (TariffLine, u64)>;

fn read_lines(file: ReleaseFile<'_>, problems: &mut Vec<ReleaseProblem>) -> LineMap {
    let mut lines = LineMap::new();
    let Some(table) = read_table(file, LINES, problems) else {
        return lines;
    };
    let mut seen = Seen::default();
    for (line, record) in &table.rows {
        let mut row = Row::new(&table, *line, record);
        let code = row.code();
        let description = row.required("description");
        let units = row.required("units").and_then(|units| {
            let units: Vec<&str> = units.split('|').map(str::trim).collect();
            if units.len() <= 2 && units.iter().all(|u| is_unit(u)) {
                Some(
                    units
                        .into_iter()
                        .map(|u| StatutoryUnit(u.to_owned()))
                        .collect::<Vec<_>>(),
                )
            } else {
                row.invalid(
                    "units",
                    "one or two unit codes separated by '|', e.g. LTR|KGM",
                    "一个或两个以“|”分隔的单位代码，如 LTR|KGM",
                )
            }
        });
        let licences = row.licences("licences");
        let vat = row.required("vat_percent").and(row.percent("vat_percent"));
        let validity = row.validity();
        if let (
            Some(code),
            Some(description),
            Some(units),
            Some(licences),
            Some(Some(vat)),
            Some(validity),
        ) = (code, description, units, licences, vat, validity)
            && seen.admit(&mut row, &[vec![code.clone()]], validity)
        {
            let vat = DatedRate {
                validity,
                rate: Rate::percent(vat),
            };
            match lines.get_mut(&code) {
                Some((existing, first)) => {
                    if existing.description != description {
                        row.report(
                            Some("description"),
                            format!("the description differs from line {first} of the same code"),
                            format!("与同一税号第 {first} 行的货品名称不同"),
                        );
                    }
                    if existing.statutory_units != units {
                        row.report(
                            Some("units"),
                            format!("the units differ from line {first} of the same code"),
                            format!("与同一税号第 {first} 行的计量单位不同"),
                        );
                    }
                    if existing.licences != licences {
                        row.report(
                            Some("licences"),
                            format!(
                                "the licences differ from line {first} of the same code \
                                 (same codes in the same order)"
                            ),
                            format!(
                                "与同一税号第 {first} 行的监管证件代码不同（须代码及顺序相同）"
                            ),
                        );
                    }
                    existing.vat.push(vat);
                }
                None => {
                    let tariff_line = TariffLine {
                        code: code.clone(),
                        description: description.to_owned(),
                        statutory_units: units,
                        licences,
                        columns: Vec::new(),
                        remedies: Vec::new(),
                        vat: vec![vat],
                        consumption_tax: Vec::new(),
                    };
                    lines.insert(code, (tariff_line, *line));
                }
            }
        }
        problems.append(&mut row.problems);
    }
    lines
}

fn rate_column(text: &str) -> Option<RateColumn> {
    let name_ok = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    Some(match text {
        "mfn" => RateColumn::Mfn,
        "provisional" => RateColumn::Provisional,
        "general" => RateColumn::General,
        "trq_in" => RateColumn::TariffQuotaInQuota,
        "trq_out" => RateColumn::TariffQuotaOutOfQuota,
        _ => match text.split_once(':')? {
            ("conventional", agreement) if name_ok(agreement) => RateColumn::Conventional {
                agreement: agreement.to_owned(),
            },
            ("special", arrangement) if name_ok(arrangement) => RateColumn::SpecialPreferential {
                arrangement: arrangement.to_owned(),
            },
            _ => return None,
        },
    })
}

fn read_duty_rates(file: ReleaseFile<'_>, lines: &mut LineMap, problems: &mut Vec<ReleaseProblem>) {
    let Some(table) = read_table(file, DUTY_RATES, problems) else {
        return;
    };
    let mut seen = Seen::default();
    for (line, record) in &table.rows {
        let mut row = Row::new(&table, *line, record);
        let code = row.known_code(lines);
        let column = row.required("column").and_then(|text| match rate_column(text) {
            Some(column) => Some(column),
            None => row.invalid(
                "column",
                "one of mfn, provisional, general, trq_in, trq_out, conventional:<agreement>, \
                 special:<arrangement>",
                "mfn、provisional、general、trq_in、trq_out、conventional:<协定>、special:<安排> 之一",
            ),
        });
        let partners = row.countries("partners");
        if let (Some(column), Some(partners)) = (&column, &partners) {
            let per_partner = matches!(
                column,
                RateColumn::Conventional { .. } | RateColumn::SpecialPreferential { .. }
            );
            if per_partner && partners.is_empty() {
                row.report(
                    Some("partners"),
                    "a conventional or special rate needs the partners it is granted to".into(),
                    "协定税率或特惠税率须列明适用的国家（地区）".into(),
                );
            } else if !per_partner && !partners.is_empty() {
                row.report(
                    Some("partners"),
                    "only conventional and special rates have partners".into(),
                    "只有协定税率和特惠税率列明国家（地区）".into(),
                );
            }
        }
        let rate = row.rate();
        let validity = row.validity();
        if let (Some(code), Some(column), Some(partners), Some(rate), Some(validity)) =
            (code, column, partners, rate, validity)
            && row.problems.is_empty()
        {
            let keys = overlap_keys(&code, row.text("column"), &partners);
            if seen.admit(&mut row, &keys, validity)
                && let Some((tariff_line, _)) = lines.get_mut(&code)
            {
                tariff_line.columns.push(ColumnRate {
                    column,
                    partners,
                    validity,
                    rate,
                });
            }
        }
        problems.append(&mut row.problems);
    }
}

fn read_consumption_tax(
    file: ReleaseFile<'_>,
    lines: &mut LineMap,
    problems: &mut Vec<ReleaseProblem>,
) {
    let Some(table) = read_table(file, CONSUMPTION_TAX, problems) else {
        return;
    };
    let mut seen = Seen::default();
    for (line, record) in &table.rows {
        let mut row = Row::new(&table, *line, record);
        let code = row.known_code(lines);
        let rate = row.rate();
        if let Some(rate) = &rate
            && max_percent(rate) >= Decimal::ONE_HUNDRED
        {
            let field = if matches!(rate, DutyRate::Conditional { .. }) {
                "bands"
            } else {
                "rate_percent"
            };
            row.report(
                Some(field),
                "a consumption-tax rate must be below 100% (the base is grossed up by 1 − rate)"
                    .into(),
                "消费税比例税率必须低于100%（组成计税价格除以 1 − 税率）".into(),
            );
        }
        let validity = row.validity();
        if let (Some(code), Some(rate), Some(validity)) = (code, rate, validity)
            && row.problems.is_empty()
            && seen.admit(&mut row, &[vec![code.clone()]], validity)
            && let Some((tariff_line, _)) = lines.get_mut(&code)
        {
            tariff_line
                .consumption_tax
                .push(DatedRate { validity, rate });
        }
        problems.append(&mut row.problems);
    }
}

fn remedy_kind(text: &str) -> Option<RemedyKind> {
    Some(match text {
        "anti_dumping" => RemedyKind::AntiDumping,
        "countervailing" => RemedyKind::Countervailing,
        "safeguard" => RemedyKind::Safeguard,
        "countermeasure" => RemedyKind::Countermeasure,
        _ => return None,
    })
}

fn read_trade_remedies(
    file: ReleaseFile<'_>,
    lines: &mut LineMap,
    problems: &mut Vec<ReleaseProblem>,
) {
    let Some(table) = read_table(file, TRADE_REMEDIES, problems) else {
        return;
    };
    let mut seen = Seen::default();
    for (line, record) in &table.rows {
        let mut row = Row::new(&table, *line, record);
        let code = row.known_code(lines);
        let kind = row
            .required("remedy")
            .and_then(|text| match remedy_kind(text) {
                Some(kind) => Some(kind),
                None => row.invalid(
                    "remedy",
                    "one of anti_dumping, countervailing, safeguard, countermeasure",
                    "anti_dumping、countervailing、safeguard、countermeasure 之一",
                ),
            });
        let origins = row.countries("origins");
        let exporters = row.exporters("exporters");
        let rate = row.rate();
        let notice = row.required("notice");
        let validity = row.validity();
        if let (
            Some(code),
            Some(kind),
            Some(origins),
            Some(exporters),
            Some(rate),
            Some(notice),
            Some(validity),
        ) = (code, kind, origins, exporters, rate, notice, validity)
            && row.problems.is_empty()
        {
            let keys = remedy_overlap_keys(&code, row.text("remedy"), &origins, &exporters);
            if seen.admit(&mut row, &keys, validity)
                && let Some((tariff_line, _)) = lines.get_mut(&code)
            {
                tariff_line.remedies.push(TradeRemedy {
                    kind,
                    origins,
                    exporters,
                    validity,
                    rate,
                    notice: notice.to_owned(),
                });
            }
        }
        problems.append(&mut row.problems);
    }
}

fn year_month(text: &str) -> Option<YearMonth> {
    let (year, month) = text.split_once('-')?;
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if year.len() != 4 || month.len() != 2 || !all_digits(year) || !all_digits(month) {
        return None;
    }
    let (year, month) = (year.parse().ok()?, month.parse().ok()?);
    (1..=12)
        .contains(&month)
        .then_some(YearMonth { year, month })
}

fn read_exchange_rates(file: ReleaseFile<'_>, problems: &mut Vec<ReleaseProblem>) -> ExchangeRates {
    let mut rates = Vec::new();
    let Some(table) = read_table(file, EXCHANGE_RATES, problems) else {
        return ExchangeRates::default();
    };
    let mut first_lines: HashMap<(String, YearMonth), u64> = HashMap::new();
    for (line, record) in &table.rows {
        let mut row = Row::new(&table, *line, record);
        let currency = row.required("currency").and_then(|text| {
            if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
                Some(text)
            } else {
                row.invalid(
                    "currency",
                    "an ISO 4217 code such as USD",
                    "ISO 4217 货币代码，如 USD",
                )
            }
        });
        let month = row
            .required("month")
            .and_then(|text| match year_month(text) {
                Some(month) => Some(month),
                None => row.invalid("month", "a month as YYYY-MM", "YYYY-MM 格式的月份"),
            });
        let rate = row
            .required("rate")
            .and_then(|text| match plain_decimal(text) {
                Some((_, scale)) if scale > 4 => {
                    row.report(
                        Some("rate"),
                        format!("{text} has {scale} decimals; customs rates have at most 4"),
                        format!("{text} 有 {scale} 位小数；海关汇率最多4位小数"),
                    );
                    None
                }
                Some((value, _)) if value > Decimal::ZERO => Some(value),
                _ => row.invalid(
                    "rate",
                    "a rate above zero such as 7.1000",
                    "大于零的汇率，如 7.1000",
                ),
            });
        if let (Some(currency), Some(month), Some(rate)) = (currency, month, rate) {
            match first_lines.get(&(currency.to_owned(), month)) {
                Some(first) => row.report(
                    None,
                    format!("a second rate for {currency} in {month} (first on line {first})"),
                    format!("{month} 的 {currency} 汇率重复（首见于第 {first} 行）"),
                ),
                None => {
                    first_lines.insert((currency.to_owned(), month), *line);
                    match ExchangeRate::new(currency, month, rate) {
                        Ok(rate) => rates.push(rate),
                        Err(error) => {
                            row.report(Some("rate"), error.to_string(), error.message_zh())
                        }
                    }
                }
            }
        }
        problems.append(&mut row.problems);
    }
    ExchangeRates::new(rates)
}

/// The keys under which a dated record must not overlap another: one per country it names, or one
/// for the code and kind when it names none (it then applies to every country).
fn overlap_keys(code: &str, kind: &str, countries: &[String]) -> Vec<Vec<String>> {
    if countries.is_empty() {
        return vec![vec![code.to_owned(), kind.to_owned()]];
    }
    countries
        .iter()
        .map(|c| vec![code.to_owned(), kind.to_owned(), c.clone()])
        .collect()
}

/// The overlap keys of a trade-remedy row: those of its code, remedy and origins, each once per
/// exporter it names (by `exporter_key`), or once for "all other companies" when it names none.
/// The two kinds of key can never be equal: a name is always written in quotes.
fn remedy_overlap_keys(
    code: &str,
    remedy: &str,
    origins: &[String],
    exporters: &[String],
) -> Vec<Vec<String>> {
    let exporter_parts: Vec<String> = if exporters.is_empty() {
        vec!["all other exporters".to_owned()]
    } else {
        exporters
            .iter()
            .map(|name| format!("exporter '{}'", exporter_key(name)))
            .collect()
    };
    overlap_keys(code, remedy, origins)
        .into_iter()
        .flat_map(|key| {
            exporter_parts.iter().map(move |part| {
                let mut key = key.clone();
                key.push(part.clone());
                key
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Writing a release.

/// The five file texts of a release, as [`render_release`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRelease {
    pub lines: String,
    pub duty_rates: String,
    pub consumption_tax: String,
    pub trade_remedies: String,
    pub exchange_rates: String,
}

impl RenderedRelease {
    /// The texts as the files of a release, under their usual names (`lines.csv`, ...).
    pub fn files(&self) -> ReleaseFiles<'_> {
        fn file<'a>(name: &'a str, text: &'a str) -> ReleaseFile<'a> {
            ReleaseFile { name, text }
        }
        ReleaseFiles {
            lines: file("lines.csv", &self.lines),
            duty_rates: file("duty_rates.csv", &self.duty_rates),
            consumption_tax: file("consumption_tax.csv", &self.consumption_tax),
            trade_remedies: file("trade_remedies.csv", &self.trade_remedies),
            exchange_rates: file("exchange_rates.csv", &self.exchange_rates),
        }
    }
}

/// Writes a release as the five CSV files of the format above: in each, a comment line saying it
/// was exported, the header row (columns in the documented order), then one row per record, lines
/// in the release's order (by code, as parsed) and each line's records in their order; exchange
/// rates in the table's order. Fields are quoted only where CSV needs it.
///
/// `parse_release(&render_release(r).files()) == Ok(r)` for every release the parser produces.
/// A value the format cannot hold (a percentage above 1000 %, a band that is itself conditional
/// or in another unit than its rate, a conventional rate without partners...) is written so that
/// the parser refuses it with a problem, never so that it reads as something else.
pub fn render_release(release: &TariffRelease) -> RenderedRelease {
    let mut lines = CsvText::new("lines", LINES);
    let mut duty_rates = CsvText::new("duty_rates", DUTY_RATES);
    let mut consumption_tax = CsvText::new("consumption_tax", CONSUMPTION_TAX);
    let mut trade_remedies = CsvText::new("trade_remedies", TRADE_REMEDIES);
    for line in &release.lines {
        let units = line
            .statutory_units
            .iter()
            .map(|u| u.0.as_str())
            .collect::<Vec<_>>()
            .join("|");
        for vat in &line.vat {
            let [from, to] = validity_fields(&vat.validity);
            lines.row([
                line.code.clone(),
                line.description.clone(),
                units.clone(),
                line.licences.join("|"),
                decimal_text(vat.rate.as_percent()),
                from,
                to,
            ]);
        }
        for column in &line.columns {
            let [kind, percent, amount, unit, bands] = rate_fields(&column.rate);
            let [from, to] = validity_fields(&column.validity);
            duty_rates.row([
                line.code.clone(),
                column_text(&column.column),
                column.partners.join("|"),
                kind,
                percent,
                amount,
                unit,
                bands,
                from,
                to,
            ]);
        }
        for tax in &line.consumption_tax {
            let [kind, percent, amount, unit, bands] = rate_fields(&tax.rate);
            let [from, to] = validity_fields(&tax.validity);
            consumption_tax.row([
                line.code.clone(),
                kind,
                percent,
                amount,
                unit,
                bands,
                from,
                to,
            ]);
        }
        for remedy in &line.remedies {
            let [kind, percent, amount, unit, bands] = rate_fields(&remedy.rate);
            let [from, to] = validity_fields(&remedy.validity);
            trade_remedies.row([
                line.code.clone(),
                remedy_text(remedy.kind).to_owned(),
                remedy.origins.join("|"),
                remedy.exporters.join("|"),
                kind,
                percent,
                amount,
                unit,
                bands,
                remedy.notice.clone(),
                from,
                to,
            ]);
        }
    }
    RenderedRelease {
        lines: lines.finish(),
        duty_rates: duty_rates.finish(),
        consumption_tax: consumption_tax.finish(),
        trade_remedies: trade_remedies.finish(),
        exchange_rates: render_exchange_rates(&release.exchange_rates),
    }
}

/// Writes an exchange-rate table as `exchange_rates.csv` (a comment line, the header, the rates
/// in the table's order): `parse_exchange_rates` reads it back as the same table.
pub fn render_exchange_rates(rates: &ExchangeRates) -> String {
    let mut text = CsvText::new("exchange_rates", EXCHANGE_RATES);
    for rate in rates.rates() {
        // As published (7.0800); a rate built with more decimals than it needs loses the zeros.
        let value = rate.rate_4dp();
        let value = if value.scale() > 4 {
            value.normalize()
        } else {
            value
        };
        text.row([
            rate.currency().to_owned(),
            rate.month().to_string(),
            value.to_string(),
        ]);
    }
    text.finish()
}

/// One file being written: a comment line, the header, the rows.
struct CsvText {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvText {
    fn new(file: &str, columns: &[&str]) -> CsvText {
        let comment = format!(
            "# {file}.csv of a tariff release, exported by OpenCustoms. Format: \
             crates/tariff/src/release.rs.\n"
        );
        let mut writer = csv::WriterBuilder::new()
            // Quotes any field holding '#', so that no row can read as a comment.
            .comment(Some(b'#'))
            .from_writer(comment.into_bytes());
        writer
            .write_record(columns)
            .expect("writing to memory cannot fail");
        CsvText { writer }
    }

    fn row<const N: usize>(&mut self, fields: [String; N]) {
        self.writer
            .write_record(&fields)
            .expect("writing to memory cannot fail");
    }

    fn finish(self) -> String {
        let bytes = self
            .writer
            .into_inner()
            .expect("flushing to memory cannot fail");
        String::from_utf8(bytes).expect("the fields written are UTF-8")
    }
}

fn validity_fields(validity: &Validity) -> [String; 2] {
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    [
        day(validity.from),
        validity.until.map(day).unwrap_or_default(),
    ]
}

/// A decimal as the format writes it: plain digits, no trailing zeros after the point.
fn decimal_text(value: Decimal) -> String {
    value.normalize().to_string()
}

fn column_text(column: &RateColumn) -> String {
    match column {
        RateColumn::Mfn => "mfn".into(),
        RateColumn::Provisional => "provisional".into(),
        RateColumn::General => "general".into(),
        RateColumn::TariffQuotaInQuota => "trq_in".into(),
        RateColumn::TariffQuotaOutOfQuota => "trq_out".into(),
        RateColumn::Conventional { agreement } => format!("conventional:{agreement}"),
        RateColumn::SpecialPreferential { arrangement } => format!("special:{arrangement}"),
    }
}

fn remedy_text(kind: RemedyKind) -> &'static str {
    match kind {
        RemedyKind::AntiDumping => "anti_dumping",
        RemedyKind::Countervailing => "countervailing",
        RemedyKind::Safeguard => "safeguard",
        RemedyKind::Countermeasure => "countermeasure",
    }
}

/// The shared rate fields: `kind,rate_percent,amount_per_unit,unit,bands`.
fn rate_fields(rate: &DutyRate) -> [String; 5] {
    let percent = |rate: &Rate| decimal_text(rate.as_percent());
    match rate {
        DutyRate::AdValorem { rate } => [
            "ad_valorem".into(),
            percent(rate),
            String::new(),
            String::new(),
            String::new(),
        ],
        DutyRate::Specific {
            amount_per_unit,
            unit,
        } => [
            "specific".into(),
            String::new(),
            decimal_text(*amount_per_unit),
            unit.0.clone(),
            String::new(),
        ],
        DutyRate::Compound {
            rate,
            amount_per_unit,
            unit,
        } => [
            "compound".into(),
            percent(rate),
            decimal_text(*amount_per_unit),
            unit.0.clone(),
            String::new(),
        ],
        DutyRate::Conditional { unit, bands } => [
            "conditional".into(),
            String::new(),
            String::new(),
            unit.0.clone(),
            bands_text(unit, bands),
        ],
    }
}

/// `RATE; >=X: RATE; >Y: RATE`, as `parse_bands` reads it.
fn bands_text(unit: &StatutoryUnit, bands: &[RateBand]) -> String {
    let band_rate = |rate: &DutyRate| {
        // A band in another unit than its rate's cannot be written: the unit is added, which
        // the parser refuses.
        let amount = |amount: &Decimal, band_unit: &StatutoryUnit| {
            if band_unit == unit {
                decimal_text(*amount)
            } else {
                format!("{} {band_unit}", decimal_text(*amount))
            }
        };
        match rate {
            DutyRate::AdValorem { rate } => format!("{}%", decimal_text(rate.as_percent())),
            DutyRate::Specific {
                amount_per_unit,
                unit,
            } => amount(amount_per_unit, unit),
            DutyRate::Compound {
                rate,
                amount_per_unit,
                unit,
            } => format!(
                "{}%+{}",
                decimal_text(rate.as_percent()),
                amount(amount_per_unit, unit)
            ),
            // Not in the format: written as described, which the parser refuses.
            DutyRate::Conditional { .. } => format!("({rate})"),
        }
    };
    bands
        .iter()
        .map(|band| match band.floor {
            None => band_rate(&band.rate),
            Some(UnitValueFloor::AtLeast(floor)) => {
                format!(">={}: {}", decimal_text(floor), band_rate(&band.rate))
            }
            Some(UnitValueFloor::Above(floor)) => {
                format!(">{}: {}", decimal_text(floor), band_rate(&band.rate))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
