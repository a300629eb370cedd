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

/// Whether the engine writes the words of its figures (explanations) or the figures only. The
/// figures are the same either way; only the words are left out. A recorded assessment keeps its
/// figures only and has its words rendered on read, so the lodging path has the engine skip
/// building sentences nobody would read (they were most of an assessment's work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    Explained,
    FiguresOnly,
}

impl Words {
    pub fn explained(self) -> bool {
        self == Words::Explained
    }

    /// The explanation `say` makes, pushed onto `out` when the words are written.
    pub fn push(self, out: &mut Vec<Explanation>, say: impl FnOnce() -> Explanation) {
        if self.explained() {
            out.push(say());
        }
    }

    /// The explanation `say` makes, or an empty one (no allocation) when the words are left out.
    pub fn say(self, say: impl FnOnce() -> Explanation) -> Explanation {
        if self.explained() {
            say()
        } else {
            Explanation::new(String::new(), String::new())
        }
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
