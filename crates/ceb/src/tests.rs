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

/// The tables in `spec` were generated once from the schema; this reads the schema again and
/// checks every table against it: the same elements in the same order, the same occurrence, and
/// facets that agree (a code or format put in by hand must fit the schema's own facets).
#[test]
fn the_record_tables_agree_with_the_schema() {
    use crate::spec::{self, Kind};
    use crate::xml::Element;

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/test_data/xsd/ceb-import-202205.xsd"
    );
    let schema = crate::xml::parse(std::fs::read(path).unwrap().as_slice())
        .unwrap()
        .root;
    let child = |e: &'_ Element, name: &str| e.children.iter().find(|c| c.name == name).cloned();
    let tables: [(&str, &[spec::Field]); 20] = [
        ("OrderHead", spec::ORDER_HEAD),
        ("OrderList", spec::ORDER_LIST),
        ("PaymentHead", spec::PAYMENT_HEAD),
        ("LogisticsHead", spec::LOGISTICS_HEAD),
        ("InventoryHead", spec::INVENTORY_HEAD),
        ("InventoryList", spec::INVENTORY_LIST),
        ("InvtCancel", spec::INVT_CANCEL),
        ("InvtRefundHead", spec::INVT_REFUND_HEAD),
        ("InvtRefundList", spec::INVT_REFUND_LIST),
        ("BaseTransfer", spec::BASE_TRANSFER),
        ("BaseSubscribe", spec::BASE_SUBSCRIBE),
        ("OrderReturn", spec::ORDER_RETURN),
        ("PaymentReturn", spec::PAYMENT_RETURN),
        ("LogisticsReturn", spec::LOGISTICS_RETURN),
        ("InventoryReturn", spec::INVENTORY_RETURN),
        ("InvtCancelReturn", spec::INVT_CANCEL_RETURN),
        ("InvtRefundReturn", spec::INVT_REFUND_RETURN),
        ("MessageReturn", spec::MESSAGE_RETURN),
        ("TaxHeadRd", spec::TAX_HEAD_RD),
        ("TaxListRd", spec::TAX_LIST_RD),
    ];
    for (entity, table) in tables {
        let element = schema
            .children
            .iter()
            .find(|e| e.name == "element" && e.attribute("name") == Some(entity))
            .unwrap_or_else(|| panic!("{entity} in the schema"));
        let sequence = child(&child(element, "complexType").unwrap(), "sequence").unwrap();
        let declared: Vec<&Element> = sequence
            .children
            .iter()
            .filter(|e| e.name == "element")
            .collect();
        let names: Vec<&str> = declared
            .iter()
            .map(|e| e.attribute("name").unwrap())
            .collect();
        let ours: Vec<&str> = table.iter().map(|f| f.name).collect();
        assert_eq!(ours, names, "{entity}");
        for (field, xsd) in table.iter().zip(declared) {
            let at = format!("{entity}/{}", field.name);
            assert_eq!(
                field.required,
                xsd.attribute("minOccurs") != Some("0"),
                "{at}"
            );
            let restriction = child(xsd, "simpleType").and_then(|s| child(&s, "restriction"));
            let base = restriction
                .as_ref()
                .and_then(|r| r.attribute("base").map(str::to_owned))
                .or_else(|| xsd.attribute("type").map(str::to_owned))
                .unwrap();
            let facet = |name: &str| -> Option<usize> {
                restriction
                    .as_ref()?
                    .children
                    .iter()
                    .find(|f| f.name == name)?
                    .attribute("value")?
                    .parse()
                    .ok()
            };
            let fits = |value: &str| {
                let n = value.chars().count();
                base == "xs:string"
                    && facet("length").is_none_or(|l| l == n)
                    && facet("minLength").is_none_or(|l| l <= n)
                    && facet("maxLength").is_none_or(|l| n <= l)
            };
            match field.kind {
                Kind::Text { min, max } => {
                    assert_eq!(base, "xs:string", "{at}");
                    assert_eq!(facet("length"), None, "{at}");
                    assert_eq!(facet("minLength").unwrap_or(0), min, "{at}");
                    assert_eq!(facet("maxLength").unwrap_or(usize::MAX), max, "{at}");
                }
                Kind::Exact(n) => {
                    assert_eq!(
                        (base.as_str(), facet("length")),
                        ("xs:string", Some(n)),
                        "{at}"
                    )
                }
                Kind::Decimal => assert_eq!(
                    (base.as_str(), facet("totalDigits"), facet("fractionDigits")),
                    (
                        "xs:decimal",
                        Some(spec::DECIMAL_DIGITS_MAX),
                        Some(spec::DECIMAL_FRACTION_DIGITS_MAX)
                    ),
                    "{at}"
                ),
                Kind::Int => assert_eq!(base, "xs:int", "{at}"),
                Kind::Fixed(value) => {
                    assert!(fits(value), "{at}");
                    if let Some(fixed) = xsd.attribute("fixed") {
                        assert_eq!(fixed, value, "{at}");
                    }
                }
                Kind::OneOf(codes) => assert!(codes.iter().all(|(c, _, _)| fits(c)), "{at}"),
                Kind::DateTime => assert!(fits("20261111000000"), "{at}"),
                Kind::Date => assert!(fits("20261111"), "{at}"),
            }
        }
    }
}
