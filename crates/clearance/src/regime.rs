//! Which regime a declaration is assessed under, chosen in one place for lodging, the estimate
//! route and `customs assess`, so that the three cannot disagree (issue 15):
//!
//! - **CBEC** (digest §2.7) when the declaration carries a cross-border e-commerce order: within
//!   the limits duty 0 and 70 % of VAT and consumption tax; one indivisible item above the
//!   transaction limit at full rates; otherwise refused, to be declared as general trade;
//! - **postal articles** (行邮, digest §2.8) when it declares a parcel of personal articles: the
//!   class rates in force on the day, the 50-yuan exemption, the value limit per parcel (refused
//!   above it unless the parcel is one indivisible article);
//! - **general trade** otherwise.
//!
//! Everything here is pure: the caller gives the tariff release, the exchange rates, the
//! configuration and, for CBEC, the buyer's purchases so far (an estimate gives zero and says the
//! allowance is checked at lodging: nobody learns a person's purchases by typing their ID number).

use chrono::NaiveDate;
use domain::{Declaration, PostalRateClass};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tariff::money::fen_text;
use tariff::{AssessmentConfig, ExchangeRates, Explanation, PostalClass, TariffRelease, Words};

use crate::assessment::{self, CbecClearance, NotAssessable, OriginContext, ReportJson, kind_key};

/// The regime of a declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    GeneralTrade,
    Cbec,
    Postal,
}

impl Regime {
    /// The one selection: a CBEC order makes it CBEC, a postal parcel postal articles, anything
    /// else general trade (the parser refuses a declaration carrying both).
    pub fn of(declaration: &Declaration) -> Regime {
        if declaration.cbec_order.is_some() {
            Regime::Cbec
        } else if declaration.postal_parcel.is_some() {
            Regime::Postal
        } else {
            Regime::GeneralTrade
        }
    }

    /// As recorded in an assessment (`regime`) and shown to the trade.
    pub fn code(self) -> &'static str {
        match self {
            Regime::GeneralTrade => "general_trade",
            Regime::Cbec => "cbec",
            Regime::Postal => "postal",
        }
    }
}

/// The member of a `declaration.assessed` record naming its regime ([`Regime::code`]).
pub const REGIME_MEMBER: &str = "regime";

/// The report's `regime` member of a CBEC order.
pub fn cbec_regime(within_limits: bool) -> Value {
    if within_limits {
        json!({ "code": "cbec_within_limits",
                "en": "CBEC retail import within the limits: duty 0, VAT and consumption tax at 70 %",
                "zh": "跨境电商零售进口限值以内：关税0，增值税、消费税按70%征收" })
    } else {
        json!({ "code": "cbec_indivisible_full_rates",
                "en": "CBEC retail import, one indivisible item above the transaction limit: full rates",
                "zh": "跨境电商零售进口，单件不可分割商品超过单次限值：按货物税率全额征收" })
    }
}

/// What an estimate of a CBEC order says in place of the buyer's annual total.
pub fn allowance_not_read() -> Value {
    json!({
        "checked": "at_lodging",
        "en": "the buyer's annual allowance is checked when the order is lodged; this estimate does not read the buyer's purchases",
        "zh": "个人年度交易限值在申报时核验；本估算不读取该消费者的既往交易",
    })
}

/// Why a postal parcel is not taxed as articles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostalRefused {
    /// Above the parcel's value limit and not one indivisible article: refused at lodging (the
    /// goods are to be declared as goods), named at `postal_parcel.articles`.
    OverValueLimit(NotAssessable),
    /// No rates in force on the day: not assessable, an officer assesses by hand.
    NotAssessable(NotAssessable),
}

impl PostalRefused {
    pub fn problem(&self) -> &NotAssessable {
        match self {
            PostalRefused::OverValueLimit(p) | PostalRefused::NotAssessable(p) => p,
        }
    }
}

fn class_of(class: PostalRateClass) -> PostalClass {
    match class {
        PostalRateClass::Class1 => PostalClass::Class1,
        PostalRateClass::Class2 => PostalClass::Class2,
        PostalRateClass::Class3 => PostalClass::Class3,
    }
}

/// A declared postal parcel assessed on `day`, as its report (the words kept: a parcel is small
/// and its figures need no tariff release to be explained again).
pub fn assess_postal(
    declaration: &Declaration,
    day: NaiveDate,
    config: &AssessmentConfig,
) -> Result<ReportJson, PostalRefused> {
    let parcel = declaration
        .postal_parcel
        .as_ref()
        .expect("called for postal parcels only");
    let input = tariff::PostalParcel {
        acceptance_date: day,
        from_hk_mo_tw: parcel.from_hk_mo_tw(),
        articles: parcel
            .articles
            .iter()
            .map(|a| tariff::PostalArticle {
                dutiable_price: a.dutiable_price(),
                class: class_of(a.rate_class),
            })
            .collect(),
        single_indivisible_article: parcel.articles.len() == 1
            && parcel.articles[0].indivisible
            && parcel.articles[0].quantity == Decimal::ONE,
    };
    let assessed = tariff::assess_postal(&input, config).map_err(|refusal| {
        let reason = refusal.reason();
        match refusal {
            tariff::PostalRefusal::OverValueLimit { .. } => {
                PostalRefused::OverValueLimit(NotAssessable::new(
                    "postal_parcel.articles",
                    reason.en.clone(),
                    reason.zh.clone(),
                ))
            }
            tariff::PostalRefusal::NoRatesInForce { .. } => PostalRefused::NotAssessable(
                NotAssessable::new("postal_parcel", reason.en.clone(), reason.zh.clone()),
            ),
        }
    })?;
    let text = |e: &Explanation| json!({ "en": e.en, "zh": e.zh });
    let tax = &assessed.assessment;
    let kind = tariff::TaxKind::PostalArticlesTax;
    let name = json!({ "en": kind.name_en(), "zh": kind.name_zh() });
    let articles: Vec<Value> = parcel
        .articles
        .iter()
        .zip(&tax.articles)
        .enumerate()
        .map(|(index, (article, figure))| {
            let class = class_of(article.rate_class);
            json!({
                "index": index,
                "description": article.description,
                "rate_class": class.number(),
                "rate": class.rate(&assessed.rates.rates).to_string(),
                "quantity": article.quantity.to_string(),
                "unit_dutiable_price": fen_text(article.unit_dutiable_price),
                "dutiable_price": fen_text(article.dutiable_price()),
                "indivisible": article.indivisible,
                "taxes": [{
                    "kind": kind_key(kind),
                    "name": name,
                    "nominal": fen_text(figure.nominal),
                    "payable": fen_text(figure.payable),
                    "explanation": figure.explanation.iter().map(text).collect::<Vec<_>>(),
                }],
            })
        })
        .collect();
    let regime = json!({
        "code": "postal_articles",
        "en": format!("postal and express articles (sent by {}): tax on articles at the class rates, exempt at 50 CNY or less", parcel.carrier.code()),
        "zh": "进境邮递物品：按物品税率计征进口税，税额在50元以下免征",
    });
    let report = json!({
        "acceptance_date": day.to_string(),
        "currency": "CNY",
        "regime": regime,
        "postal": {
            "carrier": parcel.carrier.code(),
            "sender_country": parcel.sender_country.as_str(),
            "parcel_value": fen_text(assessed.parcel_value),
            "value_limit": fen_text(assessed.value_limit),
            "admitted_as_indivisible": assessed.admitted_as_indivisible,
            "rates_from": assessed.rates.from.to_string(),
            "rates_notice": assessed.rates.notice,
        },
        "customs_value": fen_text(assessed.parcel_value),
        "explanation": assessed.explanation.iter().map(text).collect::<Vec<_>>(),
        "articles": articles,
        // No goods items are valued: the articles are taxed on the price table's prices.
        "items": [],
        "totals": [{
            "kind": kind_key(kind),
            "name": name,
            "nominal": fen_text(tax.total.nominal),
            "payable": fen_text(tax.total.payable),
            "exempt": tax.total.exempt,
            "explanation": text(&tax.total.explanation),
        }],
        "total_payable": fen_text(tax.total.payable),
    });
    Ok(ReportJson {
        json: report.to_string(),
        words: Words::Explained,
        total_payable: tax.total.payable,
        payable_by_kind: vec![(kind_key(kind).to_owned(), tax.total.payable)],
        item_customs_values: Vec::new(),
    })
}

/// An estimate of a declaration that is not lodged: the regime and its report, or every reason
/// it cannot be assessed (an export has no import taxes; a CBEC order or a parcel that its regime
/// refuses is refused as lodging would refuse it). The buyer's CBEC purchases so far are not read
/// (taken as none) and the report says so.
pub fn estimate(
    declaration: &Declaration,
    day: NaiveDate,
    release: Option<&TariffRelease>,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    origin: &OriginContext<'_>,
) -> Result<(Regime, Value), Vec<NotAssessable>> {
    let regime = Regime::of(declaration);
    if regime == Regime::Postal {
        let report = assess_postal(declaration, day, config)
            .map_err(|refused| vec![refused.problem().clone()])?;
        return Ok((regime, report.to_value()));
    }
    if declaration.direction == domain::Direction::Export {
        return Err(vec![NotAssessable::new(
            "direction",
            "an export declaration has no import duty or taxes",
            "出口报关单不征收进口税款",
        )]);
    }
    let release = release.ok_or_else(|| {
        vec![NotAssessable::new(
            "",
            format!("no tariff release is in force on {day}"),
            format!("{day} 无生效的税则版本"),
        )]
    })?;
    let documents = assessment::document_types(declaration);
    if regime == Regime::Cbec {
        let clearance = assessment::assess_cbec_with_release(
            declaration,
            day,
            release,
            rates,
            config,
            Decimal::ZERO,
        )?;
        let (input, assessment, order_value, within_limits) = match clearance {
            CbecClearance::Cbec {
                input,
                assessment,
                order_value,
                within_limits,
                ..
            } => (input, assessment, order_value, within_limits),
            CbecClearance::GeneralTrade(reason) => {
                return Err(vec![NotAssessable::new("cbec_order", reason.en, reason.zh)]);
            }
        };
        let mut report = assessment::report_json(
            &input,
            &assessment,
            &documents,
            Some(&cbec_regime(within_limits)),
            Words::Explained,
        )
        .to_value();
        report["cbec"] = json!({
            "order_value": fen_text(order_value),
            "annual_limit": fen_text(config.cbec_annual_limit),
            "annual_allowance": allowance_not_read(),
        });
        return Ok((regime, report));
    }
    let (input, assessed) =
        assessment::assess_with_release(declaration, day, release, rates, config, origin)
            .expect("an import is assessed")?;
    Ok((regime, assessment::report(&input, &assessed, &documents)))
}
