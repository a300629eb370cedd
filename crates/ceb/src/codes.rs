//! China customs' numeric country (国别（地区）代码) and currency (币制代码) codes, as the CEB
//! messages carry them, mapped to ISO 3166-1 and ISO 4217 from the sourced table in `data/`
//! (copied from the shared reference data; `data/SOURCES.md` says where every row comes from).
//! An unknown code is a refusal naming the field; a known code with no ISO equivalent (701
//! unknown country, 999 neutral packaging...) reads, but cannot become a declaration's country.

use std::collections::HashMap;
use std::sync::OnceLock;

use domain::FieldError;

const COUNTRIES_CSV: &str = include_str!("../data/countries.csv");
const CURRENCIES_CSV: &str = include_str!("../data/currencies.csv");

/// A country code as the message carries it, with its ISO equivalent when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country {
    /// The customs numeric code, e.g. "116".
    pub code: &'static str,
    /// ISO 3166-1 alpha-2, e.g. "JP"; `None` for customs codes with no ISO country.
    pub iso_alpha2: Option<&'static str>,
    pub name_en: &'static str,
    pub name_zh: &'static str,
}

/// A currency code as the message carries it, with its ISO 4217 equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    /// The customs numeric code, e.g. "142".
    pub code: &'static str,
    /// ISO 4217 alphabetic code, e.g. "CNY".
    pub iso: &'static str,
    pub name_en: &'static str,
    pub name_zh: &'static str,
}

#[derive(Debug)]
pub struct Table {
    pub countries: HashMap<&'static str, Country>,
    pub currencies: HashMap<&'static str, Currency>,
}

/// A row of the embedded tables that does not read; the tests read every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    pub file: &'static str,
    pub line: usize,
    pub problem: String,
}

fn leak(s: &str) -> &'static str {
    // The embedded tables are read once per process (OnceLock); their strings live as long.
    Box::leak(s.to_owned().into_boxed_str())
}

fn is_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_upper(s: &str, length: usize) -> bool {
    s.len() == length && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// Reads both embedded tables, checking every row: a 3-digit code, not repeated, ISO codes of
/// the right shape (blank only for the country rows the sources mark as having none).
pub fn read_tables() -> Result<Table, Vec<TableError>> {
    let mut problems = Vec::new();
    let mut countries = HashMap::new();
    let mut reader = csv::Reader::from_reader(COUNTRIES_CSV.as_bytes());
    for (at, row) in reader.records().enumerate() {
        let line = at + 2;
        let mut problem = |p: String| {
            problems.push(TableError {
                file: "countries.csv",
                line,
                problem: p,
            })
        };
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                problem(e.to_string());
                continue;
            }
        };
        let (code, alpha2, name_zh, name_en, kind) = (&row[0], &row[1], &row[3], &row[4], &row[6]);
        if !is_code(code) {
            problem(format!("customs code {code:?} is not 3 digits"));
            continue;
        }
        let iso = match (kind, alpha2) {
            ("country_or_territory", a) if is_upper(a, 2) => Some(leak(a)),
            ("territory_no_iso" | "special", "") => None,
            (k, a) => {
                problem(format!("kind {k:?} with ISO code {a:?}"));
                continue;
            }
        };
        let code = leak(code);
        let country = Country {
            code,
            iso_alpha2: iso,
            name_en: leak(name_en),
            name_zh: leak(name_zh),
        };
        if countries.insert(code, country).is_some() {
            problem(format!("customs code {code} repeated"));
        }
    }
    let mut currencies = HashMap::new();
    let mut reader = csv::Reader::from_reader(CURRENCIES_CSV.as_bytes());
    for (at, row) in reader.records().enumerate() {
        let line = at + 2;
        let mut problem = |p: String| {
            problems.push(TableError {
                file: "currencies.csv",
                line,
                problem: p,
            })
        };
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                problem(e.to_string());
                continue;
            }
        };
        let (code, iso, name_zh, name_en) = (&row[0], &row[1], &row[3], &row[4]);
        if !is_code(code) || !is_upper(iso, 3) {
            problem(format!(
                "customs code {code:?} / ISO {iso:?} of the wrong shape"
            ));
            continue;
        }
        let code = leak(code);
        let currency = Currency {
            code,
            iso: leak(iso),
            name_en: leak(name_en),
            name_zh: leak(name_zh),
        };
        if currencies.insert(code, currency).is_some() {
            problem(format!("customs code {code} repeated"));
        }
    }
    if problems.is_empty() {
        Ok(Table {
            countries,
            currencies,
        })
    } else {
        Err(problems)
    }
}

/// The embedded tables; a test reads every row, so this cannot fail in a built crate.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| read_tables().expect("the embedded code tables read (tested)"))
}

pub fn country(code: &str) -> Option<Country> {
    table().countries.get(code).copied()
}

pub fn currency(code: &str) -> Option<Currency> {
    table().currencies.get(code).copied()
}

/// The country named by `code` at `path`, or a refusal naming the field.
pub fn parse_country(path: impl std::fmt::Display, code: &str) -> Result<Country, FieldError> {
    country(code).ok_or_else(|| {
        FieldError::unknown_code(
            path,
            "China customs country (JGS-20)",
            "海关国别（地区）",
            code,
        )
    })
}

/// The currency named by `code` at `path`, or a refusal naming the field.
pub fn parse_currency(path: impl std::fmt::Display, code: &str) -> Result<Currency, FieldError> {
    currency(code).ok_or_else(|| {
        FieldError::unknown_code(path, "China customs currency (JGS-20)", "海关币制", code)
    })
}
