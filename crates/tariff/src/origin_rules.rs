//! Product-specific rules of origin as part of a tariff release: `origin_rules.csv`.
//!
//! Pure, like [`crate::release`]: the file's text is passed in, every problem of every row is
//! reported at once with its line and column in English and Chinese, and nothing is read from
//! anywhere else. The table travels with its release: imported, activated and rolled back with
//! it, so a proof of origin is judged by the rules of the release in force on the declaration's
//! date (`origin::check_proof_with`).
//!
//! # `origin_rules.csv`: `agreement,hs6,rule,valid_from,valid_to,source,verify`
//! One row per agreement, HS6 subheading and period (the common rules of `release` apply:
//! comments, quoting, dates, exact duplicates, any column order).
//! - `agreement`: the agreement's code as in `conventional:<agreement>` rate columns (`RCEP`,
//!   `ACFTA`); it must be one the engine has data for.
//! - `hs6`: the 6-digit subheading the rule is for, digits only (`901380`), in the nomenclature of
//!   the release (an annex in an older HS edition is transposed before it is loaded).
//! - `rule`: the criteria allowed, alternatives joined by `or`: `WO`, `PE`, `CC`, `CTH`, `CTSH`,
//!   `RVCnn` (a percentage, e.g. `RVC40`) and `CR`, e.g. `CTH or RVC40` (digest §3, PSR codes).
//!   A rule with exceptions in the annex (`CC except from 1211.20`) is loaded as its criteria
//!   (`CC`) and the exception named in `source`: the exception is for an officer to check.
//! - `valid_from` (required, inclusive), `valid_to` (optional, exclusive): two rows of the same
//!   agreement and subheading must not overlap in time.
//! - `source`: where the rule was read (annex, page, notice), 1 to [`ORIGIN_RULE_SOURCE_CHARS_MAX`]
//!   characters, shown to officers with every decision taken under the rule.
//! - `verify`: `yes` when the rule was not read from the annex itself (from memory, a secondary
//!   source, a transposition not yet confirmed), else `no`.
//!
//! A file holds at most [`ORIGIN_RULE_ROWS_MAX`] rows: RCEP's Annex 3A and ACFTA's annex together
//! are a few thousand subheadings.

use chrono::NaiveDate;

use crate::model::Validity;
use crate::origin::OriginRule;
use crate::release::{ReleaseFile, ReleaseProblem, Row, Seen, problem, read_table};

/// The file's name in a release.
pub const ORIGIN_RULES_FILE: &str = "origin_rules.csv";

/// Most rows one `origin_rules.csv` may hold: the HS has about 5,600 subheadings, and two
/// agreements with a few periods each stay well below this. Checked before any row is read.
pub const ORIGIN_RULE_ROWS_MAX: usize = 20_000;

/// Longest `source` text, in characters: a citation, not a copy of the annex.
pub const ORIGIN_RULE_SOURCE_CHARS_MAX: usize = 300;

const COLUMNS: &[&str] = &[
    "agreement",
    "hs6",
    "rule",
    "valid_from",
    "valid_to",
    "source",
    "verify",
];

/// One product-specific rule of an agreement for one subheading and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRuleRow {
    pub agreement: String,
    pub hs6: String,
    pub rule: OriginRule,
    pub validity: Validity,
    pub source: String,
    /// Not read from the annex itself: to be confirmed.
    pub verify: bool,
}

/// A release's product-specific rules, ordered by agreement, subheading and start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginRules {
    rows: Vec<OriginRuleRow>,
}

impl OriginRules {
    /// The rules, ordered by agreement, subheading and start.
    pub fn rows(&self) -> &[OriginRuleRow] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rule of `agreement` (its code) for `hs6` in force on `day`, if the table has one.
    pub fn rule_for(&self, agreement: &str, hs6: &str, day: NaiveDate) -> Option<&OriginRuleRow> {
        // Sorted: a full annex (thousands of rows) is searched in a dozen comparisons.
        let start = self
            .rows
            .partition_point(|r| (r.agreement.as_str(), r.hs6.as_str()) < (agreement, hs6));
        self.rows[start..]
            .iter()
            .take_while(|r| r.agreement == agreement && r.hs6 == hs6)
            .find(|r| r.validity.contains(day))
    }
}

/// Reads `origin_rules.csv` (format above). `agreements` are the codes the engine has data for.
pub fn parse_origin_rules(
    file: ReleaseFile<'_>,
    agreements: &[&str],
) -> Result<OriginRules, Vec<ReleaseProblem>> {
    let mut problems = Vec::new();
    let Some(table) = read_table(file, COLUMNS, &mut problems) else {
        return Err(problems);
    };
    if table.rows.len() > ORIGIN_RULE_ROWS_MAX {
        let (line, _) = &table.rows[ORIGIN_RULE_ROWS_MAX];
        problems.push(problem(
            file.name,
            *line,
            None,
            format!(
                "the file has {} rows, at most {ORIGIN_RULE_ROWS_MAX} are accepted (this is the first row over)",
                table.rows.len()
            ),
            format!(
                "文件有 {} 行，最多接受 {ORIGIN_RULE_ROWS_MAX} 行（此行起超出）",
                table.rows.len()
            ),
        ));
        return Err(problems);
    }
    let mut seen = Seen::default();
    let mut rows = Vec::with_capacity(table.rows.len());
    for (line, record) in &table.rows {
        let mut row = Row::new(&table, *line, record);
        if let Some(read) = read_row(&mut row, agreements)
            && seen.admit(
                &mut row,
                &[vec![read.agreement.clone(), read.hs6.clone()]],
                read.validity,
            )
        {
            rows.push(read);
        }
        problems.append(&mut row.problems);
    }
    if !problems.is_empty() {
        // The rows' problems and the file's (a row of the wrong length) in line order.
        problems.sort_by_key(|p| p.line);
        return Err(problems);
    }
    rows.sort_by(|a, b| {
        (&a.agreement, &a.hs6, a.validity.from).cmp(&(&b.agreement, &b.hs6, b.validity.from))
    });
    Ok(OriginRules { rows })
}

fn read_row(row: &mut Row<'_>, agreements: &[&str]) -> Option<OriginRuleRow> {
    let agreement = row.required("agreement").and_then(|code| {
        if agreements.contains(&code) {
            Some(code.to_owned())
        } else {
            let known = agreements.join(", ");
            row.report(
                Some("agreement"),
                format!("'{code}' is not an agreement the engine has data for ({known})"),
                format!("“{code}”不是系统有数据的协定（{known}）"),
            );
            None
        }
    });
    let hs6 = row.required("hs6").and_then(|text| {
        if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
            Some(text.to_owned())
        } else {
            row.invalid(
                "hs6",
                "a 6-digit HS subheading without dots (e.g. 901380)",
                "不带点的6位HS子目（如 901380）",
            )
        }
    });
    let rule = row
        .required("rule")
        .and_then(|text| match OriginRule::parse(text) {
            Ok(rule) => Some(rule),
            Err(error) => {
                row.report(
                    Some("rule"),
                    format!(
                        "'{text}': cannot read '{}'; a rule is WO, PE, CC, CTH, CTSH, RVCnn or CR joined by \"or\" (e.g. CTH or RVC40)",
                        error.token
                    ),
                    format!(
                        "“{text}”：无法识别“{}”；规则为 WO、PE、CC、CTH、CTSH、RVCnn 或 CR，以 \"or\" 连接（如 CTH or RVC40）",
                        error.token
                    ),
                );
                None
            }
        });
    let validity = row.validity();
    let source = row.required("source").and_then(|text| {
        let chars = text.chars().count();
        if chars > ORIGIN_RULE_SOURCE_CHARS_MAX {
            row.report(
                Some("source"),
                format!(
                    "the source is {chars} characters long, at most {ORIGIN_RULE_SOURCE_CHARS_MAX}"
                ),
                format!("来源长 {chars} 个字符，最多 {ORIGIN_RULE_SOURCE_CHARS_MAX} 个"),
            );
            None
        } else if text.chars().any(char::is_control) {
            row.report(
                Some("source"),
                "the source holds a control character".to_owned(),
                "来源含有控制字符".to_owned(),
            );
            None
        } else {
            Some(text.to_owned())
        }
    });
    let verify = row.required("verify").and_then(|text| match text {
        "yes" => Some(true),
        "no" => Some(false),
        _ => row.invalid("verify", "yes or no", "yes 或 no"),
    });
    Some(OriginRuleRow {
        agreement: agreement?,
        hs6: hs6?,
        rule: rule?,
        validity: validity?,
        source: source?,
        verify: verify?,
    })
}

/// Writes a table back in this format (an export): `parse_origin_rules` of the text gives the
/// same table.
pub fn render_origin_rules(rules: &OriginRules) -> String {
    let mut writer = csv::WriterBuilder::new().comment(Some(b'#')).from_writer(
        b"# origin_rules.csv of a tariff release, exported by OpenCustoms. Format: \
              crates/tariff/src/origin_rules.rs.\n"
            .to_vec(),
    );
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    writer
        .write_record(COLUMNS)
        .expect("writing to memory cannot fail");
    for r in &rules.rows {
        writer
            .write_record([
                r.agreement.clone(),
                r.hs6.clone(),
                r.rule.to_string(),
                day(r.validity.from),
                r.validity.until.map(day).unwrap_or_default(),
                r.source.clone(),
                if r.verify { "yes" } else { "no" }.to_owned(),
            ])
            .expect("writing to memory cannot fail");
    }
    String::from_utf8(writer.into_inner().expect("flushing to memory cannot fail"))
        .expect("the fields written are UTF-8")
}
