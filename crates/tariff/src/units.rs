//! Units a declared quantity may be converted from into the unit a rate is expressed in.
//!
//! A tariff line taxed per unit names its unit (`UNIT` for the counted 台/个/件 of the sample
//! release, `KGM`, `LTR`, ...), while a declaration states quantities in UN/ECE Recommendation 20
//! codes (`C62` "one", `H87` "piece", `NAR` "number of articles", ...). A counted unit is the same
//! count whatever its code, and mass and volume convert by exact decimal factors; anything else
//! (a pair against pieces, kilograms against litres) cannot be converted, and the assessment says
//! which item's quantity is in a unit it cannot use.

use rust_decimal::Decimal;

use crate::model::{Quantity, StatutoryUnit};

/// A family of units that convert into each other, and each unit's size in the family's base
/// unit (exact decimals: a quantity converts without rounding).
struct Family {
    base: &'static str,
    members: &'static [(&'static str, Decimal)],
}

/// Counted units: one article, however the code names it (UN/ECE Rec 20 `C62` one, `H87`
/// piece, `NAR` number of articles, `EA` each, the withdrawn `PCE` piece, and the tariff's
/// `UNIT` for China's counted statutory units 台, 个, 件, 只, 辆 ...).
const COUNTED: Family = Family {
    base: "C62",
    members: &[
        ("C62", Decimal::ONE),
        ("H87", Decimal::ONE),
        ("NAR", Decimal::ONE),
        ("EA", Decimal::ONE),
        ("PCE", Decimal::ONE),
        ("UNIT", Decimal::ONE),
    ],
};

/// Mass, in kilograms.
const MASS: Family = Family {
    base: "KGM",
    members: &[
        ("KGM", Decimal::ONE),
        ("GRM", Decimal::from_parts(1, 0, 0, false, 3)),
        ("TNE", Decimal::from_parts(1000, 0, 0, false, 0)),
    ],
};

/// Volume, in litres (a cubic decimetre is a litre).
const VOLUME: Family = Family {
    base: "LTR",
    members: &[
        ("LTR", Decimal::ONE),
        ("DMQ", Decimal::ONE),
        ("MLT", Decimal::from_parts(1, 0, 0, false, 3)),
        ("MTQ", Decimal::from_parts(1000, 0, 0, false, 0)),
    ],
};

const FAMILIES: [Family; 3] = [COUNTED, MASS, VOLUME];

fn size(code: &str) -> Option<(&'static str, Decimal)> {
    FAMILIES.iter().find_map(|family| {
        family
            .members
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, factor)| (family.base, *factor))
    })
}

/// The units `unit` converts from, itself first: what an error may suggest to declare.
pub fn equivalents(unit: &StatutoryUnit) -> Vec<&'static str> {
    FAMILIES
        .iter()
        .find(|f| f.members.iter().any(|(c, _)| *c == unit.0))
        .map(|f| f.members.iter().map(|(c, _)| *c).collect())
        .unwrap_or_default()
}

/// `quantity` in `unit`: itself when its unit is `unit`, converted when both units are of one
/// family, `None` otherwise. The conversion is exact (a product by a power of ten or by one); a
/// product that would overflow is `None`, never a wrapped figure.
pub fn convert(quantity: &Quantity, unit: &StatutoryUnit) -> Option<Decimal> {
    if quantity.unit == *unit {
        return Some(quantity.amount);
    }
    let (from_base, from) = size(&quantity.unit.0)?;
    let (to_base, to) = size(&unit.0)?;
    if from_base != to_base {
        return None;
    }
    quantity.amount.checked_mul(from)?.checked_div(to)
}

/// The quantity in `unit` among an item's quantities: one stated in `unit` first, else the first
/// that converts.
pub fn quantity_in(unit: &StatutoryUnit, quantities: &[Quantity]) -> Option<Decimal> {
    quantities
        .iter()
        .find(|q| q.unit == *unit)
        .map(|q| q.amount)
        .or_else(|| quantities.iter().find_map(|q| convert(q, unit)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn q(amount: &str, unit: &str) -> Quantity {
        Quantity {
            unit: StatutoryUnit(unit.into()),
            amount: Decimal::from_str(amount).unwrap(),
        }
    }
    fn unit(code: &str) -> StatutoryUnit {
        StatutoryUnit(code.into())
    }

    #[test]
    fn pieces_in_any_counted_code_are_the_tariffs_units() {
        for code in ["C62", "H87", "NAR", "EA", "PCE"] {
            assert_eq!(
                quantity_in(&unit("UNIT"), &[q("3", code)]),
                Some(Decimal::from(3)),
                "{code}"
            );
        }
        assert_eq!(
            quantity_in(&unit("C62"), &[q("2", "UNIT")]),
            Some(Decimal::from(2))
        );
    }

    #[test]
    fn mass_and_volume_convert_exactly_and_nothing_crosses_families() {
        assert_eq!(
            quantity_in(&unit("KGM"), &[q("1500", "GRM")]),
            Some(Decimal::from_str("1.5").unwrap())
        );
        assert_eq!(
            quantity_in(&unit("TNE"), &[q("2500", "KGM")]),
            Some(Decimal::from_str("2.5").unwrap())
        );
        assert_eq!(
            quantity_in(&unit("LTR"), &[q("750", "MLT")]),
            Some(Decimal::from_str("0.75").unwrap())
        );
        assert_eq!(quantity_in(&unit("UNIT"), &[q("5", "KGM")]), None);
        assert_eq!(quantity_in(&unit("UNIT"), &[q("5", "PR")]), None);
        assert_eq!(quantity_in(&unit("LTR"), &[q("5", "KGM")]), None);
    }

    #[test]
    fn a_quantity_in_the_rates_own_unit_wins_over_a_converted_one() {
        assert_eq!(
            quantity_in(&unit("KGM"), &[q("999", "GRM"), q("2", "KGM")]),
            Some(Decimal::from(2))
        );
    }

    #[test]
    fn an_overflowing_conversion_is_refused() {
        assert_eq!(
            convert(&q("79228162514264337593543950335", "TNE"), &unit("KGM")),
            None
        );
    }
}
