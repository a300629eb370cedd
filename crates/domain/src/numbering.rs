//! Customs declaration numbers (海关编号) and the scheme that makes them.
//!
//! China's default is 18 digits: 4-digit office of lodging, 4-digit year of acceptance, the I/E flag
//! (1 import, 0 export) and a 9-digit serial per office, year and flag. Other administrations set
//! their own template; the serial counter is always keyed by everything in the number but the serial.

use std::fmt;

/// Longest number any scheme may produce, and longest text accepted as a number in a look-up.
pub const DECLARATION_NUMBER_LENGTH_MAX: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclarationNumber(String);

impl DeclarationNumber {
    /// Accepts what a scheme can produce: digits, capital letters and '-'.
    pub fn parse(raw: &str) -> Option<DeclarationNumber> {
        let text = raw.trim();
        let ok = !text.is_empty()
            && text.len() <= DECLARATION_NUMBER_LENGTH_MAX
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-');
        ok.then(|| DeclarationNumber(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeclarationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Office,
    Year,
    Flag,
    Serial { width: usize },
}

/// A numbering scheme parsed from a template such as `{office}{year}{flag}{serial:9}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberScheme {
    template: String,
    parts: Vec<Part>,
    serial_width: usize,
}

/// Length of a customs office code in a number (the office code list's shape).
const OFFICE_LENGTH: usize = 4;

pub const CHINA_NUMBER_TEMPLATE: &str = "{office}{year}{flag}{serial:9}";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberSchemeError {
    UnknownPlaceholder(String),
    MissingSerial,
    BadSerialWidth,
    Unclosed,
    /// Literal text outside digits, capital letters and '-': a number must stay easy to quote.
    BadLiteral(String),
    /// The numbers would be longer than `DECLARATION_NUMBER_LENGTH_MAX`.
    TooLong(usize),
}

impl fmt::Display for NumberSchemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberSchemeError::UnknownPlaceholder(p) => {
                write!(
                    f,
                    "unknown placeholder {{{p}}}: use office, year, flag or serial:N"
                )
            }
            NumberSchemeError::MissingSerial => {
                write!(f, "the template needs exactly one {{serial:N}}")
            }
            NumberSchemeError::BadSerialWidth => {
                write!(f, "the serial width must be 4 to 12 digits")
            }
            NumberSchemeError::Unclosed => write!(f, "a '{{' is not closed"),
            NumberSchemeError::BadLiteral(text) => {
                write!(
                    f,
                    "literal text {text:?} may only hold digits, capital letters and '-'"
                )
            }
            NumberSchemeError::TooLong(length) => write!(
                f,
                "numbers would be {length} characters long; at most {DECLARATION_NUMBER_LENGTH_MAX}"
            ),
        }
    }
}

impl NumberScheme {
    pub fn china() -> NumberScheme {
        NumberScheme::parse(CHINA_NUMBER_TEMPLATE).expect("the built-in template is valid")
    }

    pub fn parse(template: &str) -> Result<NumberScheme, NumberSchemeError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let end = rest[start..].find('}').ok_or(NumberSchemeError::Unclosed)? + start;
            parts.push(parse_placeholder(&rest[start + 1..end])?);
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        let widths: Vec<usize> = parts
            .iter()
            .filter_map(|p| {
                if let Part::Serial { width } = p {
                    Some(*width)
                } else {
                    None
                }
            })
            .collect();
        let [serial_width] = widths[..] else {
            return Err(NumberSchemeError::MissingSerial);
        };
        // Every number the scheme makes must parse back as a `DeclarationNumber`.
        let mut length = 0;
        for part in &parts {
            length += match part {
                Part::Literal(text) => {
                    let quotable = text
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-');
                    if !quotable {
                        return Err(NumberSchemeError::BadLiteral(text.clone()));
                    }
                    text.len()
                }
                Part::Office => OFFICE_LENGTH,
                Part::Year => 4,
                Part::Flag => 1,
                Part::Serial { width } => *width,
            };
        }
        if length > DECLARATION_NUMBER_LENGTH_MAX {
            return Err(NumberSchemeError::TooLong(length));
        }
        Ok(NumberScheme {
            template: template.to_owned(),
            parts,
            serial_width,
        })
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    /// The largest serial that fits the template's serial width.
    pub fn serial_max(&self) -> u64 {
        10u64.pow(self.serial_width as u32) - 1
    }

    /// The counter key: the number with the serial left out. Serials are unique per key.
    pub fn counter_key(&self, office: &str, year: i32, flag: char) -> String {
        self.render(office, year, flag, None)
    }

    /// Renders the number; `None` when the serial no longer fits (the counter is exhausted).
    pub fn number(
        &self,
        office: &str,
        year: i32,
        flag: char,
        serial: u64,
    ) -> Option<DeclarationNumber> {
        assert!(serial >= 1, "serials start at 1");
        (serial <= self.serial_max())
            .then(|| DeclarationNumber(self.render(office, year, flag, Some(serial))))
    }

    fn render(&self, office: &str, year: i32, flag: char, serial: Option<u64>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match (part, serial) {
                (Part::Literal(text), _) => out.push_str(text),
                (Part::Office, _) => out.push_str(office),
                (Part::Year, _) => out.push_str(&format!("{year:04}")),
                (Part::Flag, _) => out.push(flag),
                (Part::Serial { width }, Some(serial)) => {
                    out.push_str(&format!("{serial:0width$}"))
                }
                (Part::Serial { .. }, None) => out.push('*'),
            }
        }
        out
    }
}

fn parse_placeholder(name: &str) -> Result<Part, NumberSchemeError> {
    match name {
        "office" => Ok(Part::Office),
        "year" => Ok(Part::Year),
        "flag" => Ok(Part::Flag),
        _ => {
            let width = name
                .strip_prefix("serial:")
                .ok_or_else(|| NumberSchemeError::UnknownPlaceholder(name.to_owned()))?
                .parse::<usize>()
                .map_err(|_| NumberSchemeError::BadSerialWidth)?;
            if !(4..=12).contains(&width) {
                return Err(NumberSchemeError::BadSerialWidth);
            }
            Ok(Part::Serial { width })
        }
    }
}
