//! Exact numbers: amounts, unit prices, quantities, masses and rates. Never floating point.

use std::fmt;

use rust_decimal::Decimal;

use crate::limits::{AMOUNT_MAX, QUANTITY_MAX};
use crate::problem::FieldError;

/// Parses a decimal written as text (`"1234.50"`). Refuses exponents, signs other than a leading
/// minus, and anything a spreadsheet might smuggle in, so the value is exactly what was written.
pub fn parse_decimal(path: impl fmt::Display + Copy, raw: &str) -> Result<Decimal, FieldError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(FieldError::required(path));
    }
    let well_formed = text
        .strip_prefix('-')
        .unwrap_or(text)
        .split_once('.')
        .map_or(
            is_digit_run(text.strip_prefix('-').unwrap_or(text)),
            |(int, frac)| is_digit_run(int) && is_digit_run(frac),
        );
    if !well_formed || text.len() > 40 {
        return Err(FieldError::invalid_format(
            path,
            "a decimal number such as 1234.50",
            "十进制数字（如 1234.50）",
        ));
    }
    text.parse::<Decimal>().map_err(|_| {
        FieldError::invalid_format(
            path,
            "a decimal number such as 1234.50",
            "十进制数字（如 1234.50）",
        )
    })
}

fn is_digit_run(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_scale(
    path: impl fmt::Display + Copy,
    value: Decimal,
    decimals_max: u32,
) -> Result<Decimal, FieldError> {
    if value.normalize().scale() > decimals_max {
        return Err(FieldError::precision(path, decimals_max));
    }
    Ok(value)
}

/// A monetary amount in some currency: non-negative, at most `decimals_max` decimals (the
/// currency's minor unit), at most `AMOUNT_MAX`.
pub fn parse_amount(
    path: impl fmt::Display + Copy,
    raw: &str,
    decimals_max: u32,
) -> Result<Decimal, FieldError> {
    let value = parse_decimal(path, raw)?;
    if value.is_sign_negative() || value > Decimal::from(AMOUNT_MAX) {
        return Err(FieldError::out_of_range(
            path,
            &format!("between 0 and {AMOUNT_MAX}"),
            &format!("在 0 到 {AMOUNT_MAX} 之间"),
        ));
    }
    check_scale(path, value, decimals_max)
}

/// A strictly positive quantity or mass with at most `decimals_max` decimals.
pub fn parse_positive(
    path: impl fmt::Display + Copy,
    raw: &str,
    decimals_max: u32,
) -> Result<Decimal, FieldError> {
    let value = parse_decimal(path, raw)?;
    if value <= Decimal::ZERO || value > Decimal::from(QUANTITY_MAX) {
        return Err(FieldError::out_of_range(
            path,
            &format!("greater than 0 and at most {QUANTITY_MAX}"),
            &format!("大于 0 且不超过 {QUANTITY_MAX}"),
        ));
    }
    check_scale(path, value, decimals_max)
}

/// A rate in percent, 0 to 100 inclusive.
pub fn parse_percent(
    path: impl fmt::Display + Copy,
    raw: &str,
    decimals_max: u32,
) -> Result<Decimal, FieldError> {
    let value = parse_decimal(path, raw)?;
    if value.is_sign_negative() || value > Decimal::ONE_HUNDRED {
        return Err(FieldError::out_of_range(
            path,
            "a percentage from 0 to 100",
            "在 0 到 100（百分比）之间",
        ));
    }
    check_scale(path, value, decimals_max)
}

/// Trims free text and bounds its length in characters (not bytes: Chinese text is 3 bytes a character).
pub fn parse_text(
    path: impl fmt::Display + Copy,
    raw: &str,
    length_max: usize,
) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(FieldError::required(path));
    }
    if text.chars().count() > length_max {
        return Err(FieldError::too_long(path, length_max));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(FieldError::invalid_format(
            path,
            "text without control characters",
            "不含控制字符的文本",
        ));
    }
    Ok(text.to_owned())
}
