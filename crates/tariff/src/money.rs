//! Rounding of money and rates. One place, so that every legal step rounds the same way.

use rust_decimal::{Decimal, RoundingStrategy};

/// Amounts in CNY are kept to the fen (0.01): 完税价格 and every tax amount are "四舍五入计算至分".
pub const FEN_DECIMALS: u32 = 2;
/// Exchange rates are published and applied to 4 decimal places (digest §2.4).
pub const EXCHANGE_RATE_DECIMALS: u32 = 4;

/// Half-up to the fen. `MidpointAwayFromZero` is the Chinese 四舍五入 for the non-negative amounts
/// assessed here (banker's rounding, the `Decimal` default, would turn 0.125 into 0.12).
pub fn round_fen(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(FEN_DECIMALS, RoundingStrategy::MidpointAwayFromZero)
}

/// Renders an amount with exactly two decimals, as it is printed on a tax bill.
pub fn fen_text(amount: Decimal) -> String {
    Fen(amount).to_string()
}

/// An amount shown as [`fen_text`] writes it, for writing straight into a report or a sentence
/// without a `String` of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fen(pub Decimal);

impl std::fmt::Display for Fen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rounded = round_fen(self.0);
        rounded.rescale(FEN_DECIMALS);
        std::fmt::Display::fmt(&rounded, f)
    }
}
