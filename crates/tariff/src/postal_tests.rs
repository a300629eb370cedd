//! The postal articles regime at its edges: the 50-yuan exemption, the parcel value limits, the
//! single indivisible article and the rates by date (digest §2.8).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::*;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn parcel(articles: &[(&str, PostalClass)], hk_mo_tw: bool, indivisible: bool) -> PostalParcel {
    PostalParcel {
        acceptance_date: day(2026, 3, 10),
        from_hk_mo_tw: hk_mo_tw,
        articles: articles
            .iter()
            .map(|(price, class)| PostalArticle {
                dutiable_price: dec(price),
                class: *class,
            })
            .collect(),
        single_indivisible_article: indivisible,
    }
}

fn assessed(p: &PostalParcel) -> PostalParcelAssessment {
    assess_postal(p, &AssessmentConfig::china_2026()).expect("assessed")
}

#[test]
fn worked_example_9_one_parcel_pays_60_and_the_other_is_exempt_at_50() {
    let a = assessed(&parcel(&[("300", PostalClass::Class2)], false, false));
    assert_eq!(a.assessment.total.nominal, dec("60.00"));
    assert!(!a.assessment.total.exempt);
    assert_eq!(a.assessment.total.payable, dec("60.00"));
    let b = assessed(&parcel(&[("250", PostalClass::Class2)], false, false));
    assert_eq!(b.assessment.total.nominal, dec("50.00"));
    assert!(b.assessment.total.exempt);
    assert_eq!(b.assessment.total.payable, Decimal::ZERO);
}

#[test]
fn a_tax_of_exactly_50_00_is_exempt_and_50_01_is_payable() {
    // 250.05 × 20 % = 50.01; 384.62 × 13 % = 50.0006 → 50.00.
    let at = assessed(&parcel(&[("384.62", PostalClass::Class1)], false, false));
    assert_eq!(at.assessment.total.nominal, dec("50.00"));
    assert!(at.assessment.total.exempt);
    let over = assessed(&parcel(&[("250.05", PostalClass::Class2)], false, false));
    assert_eq!(over.assessment.total.nominal, dec("50.01"));
    assert!(!over.assessment.total.exempt);
    assert_eq!(over.assessment.total.payable, dec("50.01"));
}

#[test]
fn each_article_is_rounded_half_up_to_the_fen() {
    // 0.25 × 13 % = 0.0325 → 0.03; 0.05 × 50 % = 0.025 → 0.03 (half-up, not to even).
    let a = assessed(&parcel(
        &[("0.25", PostalClass::Class1), ("0.05", PostalClass::Class3)],
        false,
        false,
    ));
    let nominal: Vec<Decimal> = a.assessment.articles.iter().map(|f| f.nominal).collect();
    assert_eq!(nominal, vec![dec("0.03"), dec("0.03")]);
}

#[test]
fn a_parcel_of_1000_00_is_accepted_and_1000_01_refused_naming_the_limit() {
    let config = AssessmentConfig::china_2026();
    let at = parcel(
        &[("600", PostalClass::Class2), ("400", PostalClass::Class1)],
        false,
        false,
    );
    let a = assess_postal(&at, &config).expect("at the limit");
    assert_eq!(a.parcel_value, dec("1000.00"));
    assert_eq!(a.value_limit, dec("1000"));
    assert_eq!(a.assessment.total.payable, dec("172.00"));
    let over = parcel(
        &[
            ("600.01", PostalClass::Class2),
            ("400", PostalClass::Class1),
        ],
        false,
        false,
    );
    match assess_postal(&over, &config) {
        Err(PostalRefusal::OverValueLimit {
            parcel_value,
            value_limit,
            reason,
        }) => {
            assert_eq!(parcel_value, dec("1000.01"));
            assert_eq!(value_limit, dec("1000"));
            assert!(reason.en.contains("1000.01") && reason.en.contains("1000.00"));
            assert!(reason.zh.contains("应按货物申报"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn from_hong_kong_macao_or_taiwan_the_limit_is_800() {
    let config = AssessmentConfig::china_2026();
    let at = parcel(&[("800", PostalClass::Class2)], true, false);
    assert_eq!(assess_postal(&at, &config).unwrap().value_limit, dec("800"));
    let over = parcel(&[("800.01", PostalClass::Class2)], true, false);
    assert!(matches!(
        assess_postal(&over, &config),
        Err(PostalRefusal::OverValueLimit { .. })
    ));
    // The same 800.01 from elsewhere is within 1,000.
    let elsewhere = parcel(&[("800.01", PostalClass::Class2)], false, false);
    assert!(assess_postal(&elsewhere, &config).is_ok());
}

#[test]
fn a_single_indivisible_article_over_the_limit_is_taxed_and_two_are_not() {
    let config = AssessmentConfig::china_2026();
    let single = parcel(&[("5000", PostalClass::Class1)], false, true);
    let a = assess_postal(&single, &config).expect("one indivisible article");
    assert!(a.admitted_as_indivisible);
    assert_eq!(a.assessment.total.payable, dec("650.00"));
    // Indivisible is claimed but the parcel holds two articles: refused.
    let two = parcel(
        &[("5000", PostalClass::Class1), ("1", PostalClass::Class1)],
        false,
        true,
    );
    assert!(matches!(
        assess_postal(&two, &config),
        Err(PostalRefusal::OverValueLimit { .. })
    ));
    // Not indivisible: refused.
    let divisible = parcel(&[("5000", PostalClass::Class1)], false, false);
    assert!(assess_postal(&divisible, &config).is_err());
}

#[test]
fn the_rates_are_those_in_force_on_the_day_of_acceptance() {
    let config = AssessmentConfig::china_2026();
    // (day, class 1, class 2, class 3) in percent.
    let table = [
        (day(2016, 4, 8), 15, 30, 60),
        (day(2018, 10, 31), 15, 30, 60),
        (day(2018, 11, 1), 15, 25, 50),
        (day(2019, 4, 8), 15, 25, 50),
        (day(2019, 4, 9), 13, 20, 50),
        (day(2026, 12, 7), 13, 20, 50),
    ];
    for (on, c1, c2, c3) in table {
        let mut p = parcel(
            &[
                ("100", PostalClass::Class1),
                ("100", PostalClass::Class2),
                ("100", PostalClass::Class3),
            ],
            false,
            false,
        );
        p.acceptance_date = on;
        let a = assess_postal(&p, &config).unwrap();
        let taxes: Vec<Decimal> = a.assessment.articles.iter().map(|f| f.nominal).collect();
        assert_eq!(
            taxes,
            vec![Decimal::from(c1), Decimal::from(c2), Decimal::from(c3)],
            "{on}"
        );
        assert!(a.rates.from <= on);
    }
    let mut before = parcel(&[("100", PostalClass::Class1)], false, false);
    before.acceptance_date = day(2016, 4, 7);
    assert!(matches!(
        assess_postal(&before, &config),
        Err(PostalRefusal::NoRatesInForce { .. })
    ));
}

#[test]
fn every_figure_and_decision_is_explained_in_both_languages() {
    let a = assessed(&parcel(&[("300", PostalClass::Class2)], false, false));
    let all = a
        .explanation
        .iter()
        .chain(a.assessment.articles.iter().flat_map(|f| &f.explanation))
        .chain(std::iter::once(&a.assessment.total.explanation));
    for e in all {
        assert!(!e.en.is_empty() && !e.zh.is_empty(), "{e:?}");
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn class() -> impl Strategy<Value = PostalClass> {
        prop_oneof![
            Just(PostalClass::Class1),
            Just(PostalClass::Class2),
            Just(PostalClass::Class3)
        ]
    }

    proptest! {
        /// Any parcel: each article's tax is its price × rate rounded half-up to the fen; the
        /// parcel's nominal tax is their exact sum; payable is all of it or, at 50.00 or less,
        /// nothing; accepted exactly when within the limit or one indivisible article.
        #[test]
        fn a_parcel_is_taxed_exactly_and_limited_as_the_rules_say(
            articles in prop::collection::vec((0i64..200_000, class()), 1..6),
            hk_mo_tw in any::<bool>(),
            indivisible in any::<bool>(),
        ) {
            let config = AssessmentConfig::china_2026();
            let parcel = PostalParcel {
                acceptance_date: day(2026, 3, 10),
                from_hk_mo_tw: hk_mo_tw,
                articles: articles
                    .iter()
                    .map(|(fen, class)| PostalArticle {
                        dutiable_price: Decimal::new(*fen, 2),
                        class: *class,
                    })
                    .collect(),
                single_indivisible_article: indivisible,
            };
            let value: Decimal = parcel.articles.iter().map(|a| a.dutiable_price).sum();
            let limit = if hk_mo_tw { dec("800") } else { dec("1000") };
            let admitted = value <= limit || (indivisible && articles.len() == 1);
            match assess_postal(&parcel, &config) {
                Ok(a) => {
                    prop_assert!(admitted);
                    prop_assert_eq!(a.parcel_value, value);
                    let rates = config.postal_rates_on(parcel.acceptance_date).unwrap().rates;
                    for (article, figure) in parcel.articles.iter().zip(&a.assessment.articles) {
                        let exact = article.dutiable_price * article.class.rate(&rates).as_fraction();
                        prop_assert_eq!(figure.nominal, crate::money::round_fen(exact));
                        prop_assert!(figure.nominal >= Decimal::ZERO);
                    }
                    let total = &a.assessment.total;
                    let sum: Decimal = a.assessment.articles.iter().map(|f| f.nominal).sum();
                    prop_assert_eq!(total.nominal, sum);
                    prop_assert_eq!(total.exempt, total.nominal <= dec("50"));
                    let payable = if total.exempt { Decimal::ZERO } else { total.nominal };
                    prop_assert_eq!(total.payable, payable);
                    let article_payable: Decimal =
                        a.assessment.articles.iter().map(|f| f.payable).sum();
                    prop_assert_eq!(article_payable, total.payable);
                }
                Err(PostalRefusal::OverValueLimit { parcel_value, .. }) => {
                    prop_assert!(!admitted);
                    prop_assert_eq!(parcel_value, value);
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
