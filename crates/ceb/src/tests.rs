use rust_decimal::Decimal;

use crate::documents::IdNumber;
use crate::spec::{DecimalProblem, parse_decimal};

#[test]
fn decimals_read_exactly_within_the_schema_facets() {
    let cases: &[(&str, Result<Decimal, DecimalProblem>)] = &[
        ("0", Ok(Decimal::ZERO)),
        ("19050", Ok(Decimal::new(19050, 0))),
        ("99.50", Ok(Decimal::new(995, 1))),
        (".5", Ok(Decimal::new(5, 1))),
        ("+1.", Ok(Decimal::ONE)),
        ("-0", Ok(Decimal::ZERO)),
        ("0.00001", Ok(Decimal::new(1, 5))),
        ("0.000001", Err(DecimalProblem::Fraction)),
        ("1.0000010", Err(DecimalProblem::Fraction)),
        // 19 digits in all is the most; leading and trailing zeros do not count.
        (
            "99999999999999.99999",
            Ok(Decimal::from_i128_with_scale(9_999_999_999_999_999_999, 5)),
        ),
        (
            "0099999999999999.9999900",
            Ok(Decimal::from_i128_with_scale(9_999_999_999_999_999_999, 5)),
        ),
        ("999999999999999.99999", Err(DecimalProblem::Digits)),
        (
            "9999999999999999999",
            Ok(Decimal::from_i128_with_scale(9_999_999_999_999_999_999, 0)),
        ),
        ("99999999999999999999", Err(DecimalProblem::Digits)),
        ("-1", Err(DecimalProblem::Negative)),
        ("", Err(DecimalProblem::Format)),
        (".", Err(DecimalProblem::Format)),
        ("1e3", Err(DecimalProblem::Format)),
        ("1,5", Err(DecimalProblem::Format)),
        (" 1", Err(DecimalProblem::Format)),
        ("NaN", Err(DecimalProblem::Format)),
    ];
    for (text, expected) in cases {
        assert_eq!(&parse_decimal(text), expected, "{text}");
    }
}

#[test]
fn an_id_number_is_masked_and_never_debug_printed() {
    let id = IdNumber("11010519491231002X".into());
    assert_eq!(id.masked(), "110105********002X");
    assert_eq!(format!("{id:?}"), "IdNumber(..)");
    assert_eq!(IdNumber("12345".into()).masked(), "*****");
}
