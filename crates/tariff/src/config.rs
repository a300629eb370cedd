//! The assessment's configuration: every amount and rate of the law that is not a tariff line.
//!
//! Several of these are marked **verify** in the rules digest; they live here, named and documented,
//! so that confirming or correcting one is a change of data, not of code. There is deliberately no
//! `Default`: a caller picks a dated rule set (`china_2026`) or builds one field by field.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::Rate;

/// The three rates of the tax on postal and personal articles (行邮税, digest §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostalRates {
    /// Books, IT goods, food and drink, gold and silver, furniture, toys, medicines.
    pub class_1: Rate,
    /// Sporting goods, textiles, electrical appliances, bicycles, anything not in classes 1 or 3.
    pub class_2: Rate,
    /// Tobacco, alcohol, jewellery, golf goods, high-end watches, high-end cosmetics.
    pub class_3: Rate,
}

/// Postal articles rates in force from a day until the next entry's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostalRatesFrom {
    pub from: NaiveDate,
    pub rates: PostalRates,
    /// The notice that set them, quoted in explanations.
    pub notice: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentConfig {
    /// Per consignment (一票), each of duty, VAT and consumption tax is exempt when it is at most
    /// this amount (digest §2.6: "50元以下", and "以下" includes the number, so 50.00 is exempt;
    /// **verify**. If the law turns out to exclude 50.00, set 49.99).
    pub exemption_at_most: Decimal,
    /// Whether an exempted duty (and an exempted consumption tax) still counts in the bases of the
    /// taxes computed after it. Digest §2.6 open question, to be settled with a broker.
    pub vat_base_includes_exempted_duty: bool,
    /// Insurance when unknown or not incurred, as a fraction of goods price plus freight
    /// (digest §2.3: 3‰, Order 213 **verify article**).
    pub insurance_rate_when_unknown: Rate,
    /// Cross-border e-commerce retail: the most one transaction may be worth (digest §2.7).
    pub cbec_transaction_limit: Decimal,
    /// Cross-border e-commerce retail: the most one person may buy in a calendar year.
    pub cbec_annual_limit: Decimal,
    /// Within the CBEC limits, VAT and consumption tax are levied at this share of the statutory
    /// amount (70 %); duty is zero.
    pub cbec_tax_factor: Rate,
    /// Postal articles rates by the day they came into force, oldest first: a parcel is taxed at
    /// the rates in force on its declaration's day of acceptance.
    pub postal_rates: Vec<PostalRatesFrom>,
    /// Postal articles: the most a parcel's articles may be worth (dutiable prices), unless the
    /// parcel is one indivisible article (GACC Ann. 2010 No. 43).
    pub postal_parcel_value_limit: Decimal,
    /// The same limit for parcels sent from Hong Kong, Macao or Taiwan.
    pub postal_parcel_value_limit_hk_mo_tw: Decimal,
    /// Postal articles: a parcel's tax of at most this amount is exempt (GACC Ann. 2010 No. 43).
    pub postal_exemption_at_most: Decimal,
    /// Where these values come from, quoted in explanations.
    pub source: &'static str,
}

impl AssessmentConfig {
    /// China's rules as of 2026, from the rules digest: §2.3 (3‰ insurance), §2.6 (50-yuan
    /// threshold, VAT-base question answered "includes" pending a broker's answer), §2.7 (CBEC
    /// 5,000 / 26,000 / 70 %, 财关税〔2018〕49号), §2.8 (postal 13/20/50 % from 2019-04-09,
    /// 15/25/50 % from 2018-11-01, 15/30/60 % from 2016-04-08; 50-yuan exemption; parcel limits
    /// 1,000 and 800 CNY).
    pub fn china_2026() -> AssessmentConfig {
        AssessmentConfig {
            exemption_at_most: Decimal::from(50),
            vat_base_includes_exempted_duty: true,
            insurance_rate_when_unknown: Rate::fraction(Decimal::new(3, 3)),
            cbec_transaction_limit: Decimal::from(5_000),
            cbec_annual_limit: Decimal::from(26_000),
            cbec_tax_factor: Rate::percent(Decimal::from(70)),
            postal_rates: vec![
                postal_rates_from((2016, 4, 8), [15, 30, 60], "税委会〔2016〕2号 (verify)"),
                postal_rates_from((2018, 11, 1), [15, 25, 50], "税委会〔2018〕49号 (verify)"),
                postal_rates_from((2019, 4, 9), [13, 20, 50], "税委会〔2019〕17号"),
            ],
            postal_exemption_at_most: Decimal::from(50),
            postal_parcel_value_limit: Decimal::from(1_000),
            postal_parcel_value_limit_hk_mo_tw: Decimal::from(800),
            source: "china-import-taxes.md §2.3, §2.6, §2.7, §2.8 (2026)",
        }
    }

    /// The postal articles rates in force on `day`, with the notice that set them; `None` before
    /// the first entry (2016-04-08 in `china_2026`).
    pub fn postal_rates_on(&self, day: NaiveDate) -> Option<&PostalRatesFrom> {
        self.postal_rates.iter().rev().find(|r| r.from <= day)
    }
}

fn postal_rates_from(
    (year, month, day): (i32, u32, u32),
    [class_1, class_2, class_3]: [i64; 3],
    notice: &'static str,
) -> PostalRatesFrom {
    let percent = |p: i64| Rate::percent(Decimal::from(p));
    PostalRatesFrom {
        from: NaiveDate::from_ymd_opt(year, month, day).expect("a valid date"),
        rates: PostalRates {
            class_1: percent(class_1),
            class_2: percent(class_2),
            class_3: percent(class_3),
        },
        notice,
    }
}
