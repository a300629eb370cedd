//! The value-control table (价格风险参数) as a reference-data release of kind `value_control`:
//! one file, `value_control.csv`, read into the engine's [`risk::ValueControlTable`].
//!
//! # `value_control.csv`: `code_prefix,origin,unit,min_unit_value_cny,max_unit_value_cny,valid_from,valid_to`
//! The common rules of a tariff release's files apply (see `tariff::release`): UTF-8, optional
//! byte order mark, comma-separated, fields may be quoted and are trimmed, `#` starts a comment
//! line; the first other row is the header, every column present once, in any order.
//! - `code_prefix`: 2 to 10 digits, the start of the commodity codes the row controls. An item is
//!   controlled by the longest prefix of its code that has a row in force.
//! - `origin`: an ISO 3166 alpha-2 country, or empty for any origin; under one prefix a row for
//!   the item's origin is used before a row for any origin.
//! - `unit`: the unit the values are per (a UNECE unit code such as `C62` or `KGM`, capital letters
//!   and digits), the item's declared or statutory quantity in that unit being used; empty: per
//!   the declared quantity, whatever its unit.
//! - `min_unit_value_cny`, `max_unit_value_cny`: CNY per unit, plain decimals above zero, at most 6
//!   decimals; at least one of them; the minimum not above the maximum. An item whose customs value
//!   per unit is below the minimum or above the maximum is selected (value control needs the
//!   items' CNY values: an item assessed without a tariff release in force is not controlled).
//! - `valid_from` (required, inclusive) and `valid_to` (optional, exclusive: the first day the row
//!   no longer applies), `YYYY-MM-DD`. Two rows with the same prefix and origin must not overlap.
//!
//! Every problem is reported at once as `value_control.csv:<line>.<column>`, like a tariff release.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tariff::{ReleaseFile, ReleaseProblem};

/// The file of a value-control release.
pub const FILE: &str = "value_control.csv";

const COLUMNS: [&str; 7] = [
    "code_prefix",
    "origin",
    "unit",
    "min_unit_value_cny",
    "max_unit_value_cny",
    "valid_from",
    "valid_to",
];

/// A row's period (`valid_from`, exclusive `valid_to`) and its line.
type Period = (NaiveDate, Option<NaiveDate>, u64);

/// Parses `value_control.csv`: the table, or every problem.
pub fn parse(file: ReleaseFile<'_>) -> Result<risk::ValueControlTable, Vec<ReleaseProblem>> {
    let mut problems = Vec::new();
    let problem = |line: u64, field: Option<&str>, en: String, zh: String| ReleaseProblem {
        file: file.name.to_owned(),
        line,
        field: field.map(str::to_owned),
        message_en: en,
        message_zh: zh,
    };
    let text = file.text.strip_prefix('\u{feff}').unwrap_or(file.text);
    let text_lines: Vec<&str> = text.lines().collect();
    let record_line = |position: Option<&csv::Position>| {
        let mut line = position.map_or(1, |p| p.line());
        while let Some(text) = text_lines.get(line as usize - 1)
            && (text.trim().is_empty() || text.trim_start().starts_with('#'))
        {
            line += 1;
        }
        line
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut header: Option<Vec<String>> = None;
    let mut entries = Vec::new();
    // (prefix, origin) → the periods already read, with their line.
    let mut periods: HashMap<(String, Option<String>), Vec<Period>> = HashMap::new();
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
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
                problems.push(problem(line, None, en, zh));
                continue;
            }
        };
        let line = record_line(record.position());
        let Some(columns) = &header else {
            let names: Vec<String> = record.iter().map(str::to_owned).collect();
            let mut ok = true;
            for (i, name) in names.iter().enumerate() {
                if !COLUMNS.contains(&name.as_str()) {
                    ok = false;
                    problems.push(problem(
                        line,
                        Some(name),
                        format!(
                            "unknown column '{name}'; the columns are: {}",
                            COLUMNS.join(",")
                        ),
                        format!("未知列“{name}”；应为：{}", COLUMNS.join(",")),
                    ));
                } else if names[..i].contains(name) {
                    ok = false;
                    problems.push(problem(
                        line,
                        Some(name),
                        format!("column '{name}' appears twice"),
                        format!("列“{name}”重复"),
                    ));
                }
            }
            for name in COLUMNS {
                if !names.iter().any(|n| n == name) {
                    ok = false;
                    problems.push(problem(
                        line,
                        Some(name),
                        format!("missing column '{name}'"),
                        format!("缺少列“{name}”"),
                    ));
                }
            }
            if !ok {
                return Err(problems);
            }
            header = Some(names);
            continue;
        };
        let field = |name: &str| -> &str {
            let at = columns.iter().position(|c| c == name).expect("checked");
            record.get(at).unwrap_or("")
        };
        let mut bad = |name: &str, en: &str, zh: &str| {
            problems.push(problem(
                line,
                Some(name),
                format!("'{}' is not {en}", field(name)),
                format!("“{}”不是{zh}", field(name)),
            ));
        };
        let prefix = field("code_prefix");
        let prefix_ok =
            (2..=10).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_digit());
        if !prefix_ok {
            bad("code_prefix", "2 to 10 digits", "2 至 10 位数字");
        }
        let origin = Some(field("origin")).filter(|o| !o.is_empty());
        let origin_ok =
            origin.is_none_or(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_uppercase()));
        if !origin_ok {
            bad(
                "origin",
                "an ISO 3166 alpha-2 country such as US, or empty for any",
                "ISO 3166 两位国别代码（如 US），或留空表示任何原产地",
            );
        }
        let unit = Some(field("unit")).filter(|u| !u.is_empty());
        let unit_ok = unit.is_none_or(|u| {
            u.len() <= 6
                && u.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
        if !unit_ok {
            bad(
                "unit",
                "a unit code such as C62 or KGM, or empty",
                "计量单位代码（如 C62、KGM），或留空",
            );
        }
        let mut value = |name: &str| -> Result<Option<Decimal>, ()> {
            let text = field(name);
            if text.is_empty() {
                return Ok(None);
            }
            let plain = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            match text.parse::<Decimal>() {
                Ok(v) if plain && v > Decimal::ZERO && v.scale() <= 6 => Ok(Some(v)),
                _ => {
                    bad(
                        name,
                        "an amount in CNY above zero with at most 6 decimals, such as 1200.50",
                        "大于零、最多 6 位小数的人民币金额，如 1200.50",
                    );
                    Err(())
                }
            }
        };
        let min = value("min_unit_value_cny");
        let max = value("max_unit_value_cny");
        let mut date = |name: &str, required: bool| -> Result<Option<NaiveDate>, ()> {
            let text = field(name);
            if text.is_empty() && !required {
                return Ok(None);
            }
            match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) if text.len() == 10 => Ok(Some(d)),
                _ => {
                    bad(name, "a date as YYYY-MM-DD", "YYYY-MM-DD 格式的日期");
                    Err(())
                }
            }
        };
        let from = date("valid_from", true);
        let to = date("valid_to", false);
        let (Ok(min), Ok(max), Ok(Some(from)), Ok(to), true, true, true) =
            (min, max, from, to, prefix_ok, origin_ok, unit_ok)
        else {
            continue;
        };
        if min.is_none() && max.is_none() {
            problems.push(problem(
                line,
                Some("min_unit_value_cny"),
                "a row needs a minimum, a maximum or both".into(),
                "每行须有下限、上限或两者".into(),
            ));
            continue;
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            problems.push(problem(
                line,
                Some("max_unit_value_cny"),
                format!("the maximum {hi} is below the minimum {lo}"),
                format!("上限 {hi} 低于下限 {lo}"),
            ));
            continue;
        }
        if let Some(to) = to
            && to <= from
        {
            problems.push(problem(
                line,
                Some("valid_to"),
                format!("valid_to {to} is not after valid_from {from}"),
                format!("失效日期 {to} 不晚于生效日期 {from}"),
            ));
            continue;
        }
        let key = (prefix.to_owned(), origin.map(str::to_owned));
        let earlier = periods.entry(key).or_default();
        let overlapping = earlier
            .iter()
            .find(|(f, t, _)| t.is_none_or(|t| from < t) && to.is_none_or(|to| *f < to));
        if let Some((_, _, first)) = overlapping {
            problems.push(problem(
                line,
                None,
                format!(
                    "overlaps the row on line {first} (same code_prefix and origin, overlapping periods)"
                ),
                format!("与第 {first} 行重叠（商品编码前缀和原产地相同，有效期重叠）"),
            ));
            continue;
        }
        earlier.push((from, to, line));
        entries.push(risk::ValueControlEntry {
            commodity_prefix: prefix.to_owned(),
            origin: origin.map(str::to_owned),
            unit: unit.map(str::to_owned),
            min_unit_value_cny: min,
            max_unit_value_cny: max,
            reference_unit_value_cny: None,
            valid_from: Some(from),
            // The engine's `valid_to` is inclusive; the file's is the first day out of force.
            valid_to: to.and_then(|t| t.pred_opt()),
        });
    }
    if header.is_none() {
        problems.push(problem(
            1,
            None,
            format!("the file has no header; it needs: {}", COLUMNS.join(",")),
            format!("文件没有表头，须包含：{}", COLUMNS.join(",")),
        ));
    }
    if problems.is_empty() {
        Ok(risk::ValueControlTable::new(entries))
    } else {
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<risk::ValueControlTable, Vec<ReleaseProblem>> {
        parse(ReleaseFile { name: FILE, text })
    }

    #[test]
    fn reads_a_table() {
        let table = parse_text(
            "# smartphones\n\
             code_prefix,origin,unit,min_unit_value_cny,max_unit_value_cny,valid_from,valid_to\n\
             851713,,C62,2000,,2026-01-01,\n\
             851713,US,C62,1500,90000.5,2026-01-01,2027-01-01\n",
        )
        .unwrap();
        assert_eq!(table.entries().len(), 2);
        let us = &table.entries()[1];
        assert_eq!(us.origin.as_deref(), Some("US"));
        assert_eq!(us.max_unit_value_cny, Some(Decimal::new(900_005, 1)));
        assert_eq!(us.valid_to, NaiveDate::from_ymd_opt(2026, 12, 31));
    }

    #[test]
    fn reports_every_problem_with_its_line_and_field() {
        let problems = parse_text(
            "code_prefix,origin,unit,min_unit_value_cny,max_unit_value_cny,valid_from,valid_to\n\
             8,usa,c62,-1,x,2026-13-01,\n\
             8517,,,,,2026-01-01,\n\
             8517,,,5,4,2026-01-01,\n\
             8518,,,5,,2026-01-01,\n\
             8518,,,6,,2026-06-01,\n",
        )
        .unwrap_err();
        let at: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}.{}", p.file, p.line, p.field.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            at,
            [
                "value_control.csv:2.code_prefix",
                "value_control.csv:2.origin",
                "value_control.csv:2.unit",
                "value_control.csv:2.min_unit_value_cny",
                "value_control.csv:2.max_unit_value_cny",
                "value_control.csv:2.valid_from",
                "value_control.csv:3.min_unit_value_cny",
                "value_control.csv:4.max_unit_value_cny",
                "value_control.csv:6.",
            ]
        );
        assert!(problems.iter().all(|p| !p.message_zh.is_empty()));
        let missing = parse_text("code_prefix,origin\n").unwrap_err();
        assert_eq!(missing.len(), 5);
    }
}
