//! Explanations: every computed figure says where it came from, in English and Chinese.
//!
//! An explanation names the rule (which line, which rate column and why, which exchange rate, which
//! rounding). Texts are built next to the computation they describe, always both languages at once,
//! so that one cannot be forgotten.

use std::fmt;

/// One line of explanation of one figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub en: String,
    pub zh: String,
}

impl Explanation {
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Explanation {
            en: en.into(),
            zh: zh.into(),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.en, self.zh)
    }
}

/// The rounding sentence every rounded figure ends with.
pub fn rounded_half_up(
    exact: rust_decimal::Decimal,
    rounded: rust_decimal::Decimal,
) -> Explanation {
    Explanation::new(
        format!(
            "{exact} rounded half-up to the fen: {}",
            crate::money::fen_text(rounded)
        ),
        format!("{exact} 四舍五入至分: {}", crate::money::fen_text(rounded)),
    )
}
