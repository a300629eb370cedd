//! The import tax on postal and personal articles (行邮税, 进境物品进口税; digest §2.8).
//!
//! A parcel's articles are taxed at the rate of their class in force on the day of acceptance,
//! on the dutiable price of GACC's price table (完税价格表), each rounded half-up to the fen. The
//! parcel's tax at most `postal_exemption_at_most` (50 CNY) is exempt. A parcel worth more than
//! its value limit (1,000 CNY; 800 CNY from Hong Kong, Macao or Taiwan) is refused, unless it is
//! one indivisible article (for the addressee's personal use, which an officer may check).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::config::{AssessmentConfig, PostalRates, PostalRatesFrom};
use crate::explain::Explanation;
use crate::model::Rate;
use crate::money::{fen_text, round_fen};
use crate::taxes::{TaxFigure, TaxKind, TaxTotal, figure};

/// The three classes of postal articles (digest §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostalClass {
    Class1,
    Class2,
    Class3,
}

impl PostalClass {
    /// 1, 2 or 3, as declared and shown.
    pub fn number(self) -> u8 {
        match self {
            PostalClass::Class1 => 1,
            PostalClass::Class2 => 2,
            PostalClass::Class3 => 3,
        }
    }

    /// The class's rate among `rates`.
    pub fn rate(self, rates: &PostalRates) -> Rate {
        match self {
            PostalClass::Class1 => rates.class_1,
            PostalClass::Class2 => rates.class_2,
            PostalClass::Class3 => rates.class_3,
        }
    }
}

/// One article of a parcel, at its dutiable price from GACC's price table (CNY): the table's
/// price per unit times the quantity, already in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostalArticle {
    pub dutiable_price: Decimal,
    pub class: PostalClass,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalAssessment {
    pub articles: Vec<TaxFigure>,
    pub total: TaxTotal,
}

/// The import tax on the articles of one parcel at `rates`: `price × class rate` per article,
/// rounded to the fen; the parcel's tax at most `postal_exemption_at_most` is exempt.
pub fn assess_postal_parcel(
    articles: &[PostalArticle],
    rates: &PostalRates,
    config: &AssessmentConfig,
) -> PostalAssessment {
    let mut figures: Vec<TaxFigure> = articles
        .iter()
        .map(|a| {
            let rate = a.class.rate(rates);
            let class = a.class.number();
            figure(
                TaxKind::PostalArticlesTax,
                a.dutiable_price * rate.as_fraction(),
                format!(
                    "import tax on articles: dutiable price {} × {rate} (class {class})",
                    a.dutiable_price
                ),
                format!(
                    "进境物品进口税: 完税价格 {} × {rate}（第{class}类税率）",
                    a.dutiable_price
                ),
            )
        })
        .collect();
    let nominal: Decimal = figures.iter().map(|f| f.nominal).sum();
    let limit = config.postal_exemption_at_most;
    let exempt = nominal <= limit;
    if exempt {
        figures.iter_mut().for_each(|f| f.payable = Decimal::ZERO);
    }
    let text = fen_text(nominal);
    let explanation = if exempt {
        Explanation::new(
            format!("tax on the parcel {text} CNY is at most {limit}: exempt"),
            format!("应征进口税税额 {text} 元在 {limit} 元以下: 免征"),
        )
    } else {
        Explanation::new(
            format!("tax on the parcel {text} CNY, above {limit}: payable"),
            format!("应征进口税税额 {text} 元，超过 {limit} 元: 应征"),
        )
    };
    PostalAssessment {
        articles: figures,
        total: TaxTotal {
            kind: TaxKind::PostalArticlesTax,
            nominal,
            exempt,
            payable: if exempt { Decimal::ZERO } else { nominal },
            explanation,
        },
    }
}

/// A parcel of personal articles sent by post or express, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalParcel {
    pub acceptance_date: NaiveDate,
    /// Sent from Hong Kong, Macao or Taiwan: the lower value limit applies.
    pub from_hk_mo_tw: bool,
    pub articles: Vec<PostalArticle>,
    /// The parcel is one article that cannot be divided: it may pass above the value limit.
    pub single_indivisible_article: bool,
}

/// A parcel taxed: the rates used, the parcel's value and limit, and the tax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalParcelAssessment {
    pub rates: PostalRatesFrom,
    /// Sum of the articles' dutiable prices, CNY.
    pub parcel_value: Decimal,
    pub value_limit: Decimal,
    /// Above the limit, admitted as one indivisible article.
    pub admitted_as_indivisible: bool,
    pub assessment: PostalAssessment,
    /// Why the rates and the limit are the ones applied.
    pub explanation: Vec<Explanation>,
}

/// Why a parcel is not taxed as postal articles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostalRefusal {
    /// Worth more than its limit and not one indivisible article: to be declared as goods.
    OverValueLimit {
        parcel_value: Decimal,
        value_limit: Decimal,
        reason: Explanation,
    },
    /// No postal rates are in force on the day (before the first entry of the config).
    NoRatesInForce { day: NaiveDate, reason: Explanation },
}

impl PostalRefusal {
    pub fn reason(&self) -> &Explanation {
        match self {
            PostalRefusal::OverValueLimit { reason, .. }
            | PostalRefusal::NoRatesInForce { reason, .. } => reason,
        }
    }
}

/// Applies the value limit and taxes the parcel at the rates in force on its day.
pub fn assess_postal(
    parcel: &PostalParcel,
    config: &AssessmentConfig,
) -> Result<PostalParcelAssessment, PostalRefusal> {
    let day = parcel.acceptance_date;
    let rates = *config
        .postal_rates_on(day)
        .ok_or_else(|| PostalRefusal::NoRatesInForce {
            day,
            reason: Explanation::new(
                format!("no rates of the import tax on articles are in force on {day}"),
                format!("{day} 无有效的进境物品进口税税率"),
            ),
        })?;
    let parcel_value: Decimal = parcel
        .articles
        .iter()
        .map(|a| round_fen(a.dutiable_price))
        .sum();
    let (value_limit, whence_en, whence_zh) = if parcel.from_hk_mo_tw {
        (
            config.postal_parcel_value_limit_hk_mo_tw,
            "sent from Hong Kong, Macao or Taiwan",
            "寄自港澳台地区",
        )
    } else {
        (
            config.postal_parcel_value_limit,
            "sent from abroad",
            "寄自境外",
        )
    };
    let single = parcel.articles.len() == 1 && parcel.single_indivisible_article;
    let over = parcel_value > value_limit;
    let (value, limit) = (fen_text(parcel_value), fen_text(value_limit));
    if over && !single {
        return Err(PostalRefusal::OverValueLimit {
            parcel_value,
            value_limit,
            reason: Explanation::new(
                format!(
                    "the parcel's articles are worth {value} CNY, above the {limit} CNY limit of a parcel {whence_en}, and it is not one indivisible article: declare the goods as goods, not as personal articles"
                ),
                format!(
                    "包裹物品完税价格合计 {value} 元，超过{whence_zh}个人物品每次限值 {limit} 元，且非单件不可分割物品：应按货物申报"
                ),
            ),
        });
    }
    let mut explanation = vec![Explanation::new(
        format!(
            "rates of the import tax on articles in force on {day}: class 1 {}, class 2 {}, class 3 {} ({}, from {})",
            rates.rates.class_1, rates.rates.class_2, rates.rates.class_3, rates.notice, rates.from
        ),
        format!(
            "{day} 适用的进境物品进口税税率：第1类 {}，第2类 {}，第3类 {}（{}，自 {} 起）",
            rates.rates.class_1, rates.rates.class_2, rates.rates.class_3, rates.notice, rates.from
        ),
    )];
    explanation.push(if over {
        Explanation::new(
            format!("one indivisible article of {value} CNY above the {limit} CNY limit of a parcel {whence_en}: admitted as personal articles"),
            format!("单件不可分割物品 {value} 元，超过{whence_zh}每次限值 {limit} 元：按个人物品征税放行"),
        )
    } else {
        Explanation::new(
            format!("the parcel's articles are worth {value} CNY, within the {limit} CNY limit of a parcel {whence_en}"),
            format!("包裹物品完税价格合计 {value} 元，未超过{whence_zh}每次限值 {limit} 元"),
        )
    });
    Ok(PostalParcelAssessment {
        assessment: assess_postal_parcel(&parcel.articles, &rates.rates, config),
        rates,
        parcel_value,
        value_limit,
        admitted_as_indivisible: over,
        explanation,
    })
}
