//! Why an assessment cannot be made. Each error says what data is missing, in English and Chinese.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::{StatutoryUnit, YearMonth};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessmentError {
    #[error("no exchange rate for {currency} in {month}")]
    NoExchangeRate { currency: String, month: YearMonth },
    #[error("exchange rate {rate} for {currency} must be above zero with at most 4 decimals")]
    ExchangeRatePrecision { currency: String, rate: Decimal },
    #[error("tariff line {line} has no duty rate in force on {day} for this origin")]
    NoDutyRate { line: String, day: NaiveDate },
    #[error("tariff line {line} has no VAT rate in force on {day}")]
    NoVatRate { line: String, day: NaiveDate },
    /// `declared`: the units the item's quantities are in; `item`: the item's index once known.
    #[error("{}the quantity is in {}, which cannot be converted to {unit}, the unit its rate is per: declare it in {}", item_prefix(.item), declared_text(.declared), convertible_text(.unit))]
    MissingQuantity {
        unit: StatutoryUnit,
        declared: Vec<String>,
        item: Option<usize>,
    },
    #[error("{}the quantity in {unit} must be above zero to compute a unit value", item_prefix(.item))]
    ZeroQuantity {
        unit: StatutoryUnit,
        item: Option<usize>,
    },
    #[error("a consumption-tax rate of {percent}% cannot be grossed up (it must be below 100%)")]
    ConsumptionTaxRateTooHigh { percent: Decimal },
    #[error("the conditional rate has no band for a unit value of {unit_value}")]
    NoBand { unit_value: Decimal },
    #[error("a declaration needs at least one goods item")]
    NoItems,
    #[error("terms {terms} need the freight to the place of import, and none was given")]
    FreightUnknown { terms: &'static str },
}

fn item_prefix(item: &Option<usize>) -> String {
    item.map(|i| format!("items[{i}]: ")).unwrap_or_default()
}

fn declared_text(declared: &[String]) -> String {
    if declared.is_empty() {
        "no unit".to_owned()
    } else {
        declared.join(", ")
    }
}

fn convertible_text(unit: &StatutoryUnit) -> String {
    let equivalents = crate::units::equivalents(unit);
    if equivalents.is_empty() {
        unit.to_string()
    } else {
        equivalents.join(", ")
    }
}

impl AssessmentError {
    /// The same error, naming the goods item (0-based index) it was found on.
    pub fn on_item(self, index: usize) -> AssessmentError {
        match self {
            AssessmentError::MissingQuantity { unit, declared, .. } => {
                AssessmentError::MissingQuantity {
                    unit,
                    declared,
                    item: Some(index),
                }
            }
            AssessmentError::ZeroQuantity { unit, .. } => AssessmentError::ZeroQuantity {
                unit,
                item: Some(index),
            },
            other => other,
        }
    }

    /// The goods item the error was found on, if it names one.
    pub fn item(&self) -> Option<usize> {
        match self {
            AssessmentError::MissingQuantity { item, .. }
            | AssessmentError::ZeroQuantity { item, .. } => *item,
            _ => None,
        }
    }

    /// The same message in Chinese, for the declarant.
    pub fn message_zh(&self) -> String {
        match self {
            AssessmentError::NoExchangeRate { currency, month } => {
                format!("{month} 无 {currency} 的海关汇率")
            }
            AssessmentError::ExchangeRatePrecision { currency, rate } => {
                format!("{currency} 汇率 {rate} 必须大于零且最多4位小数")
            }
            AssessmentError::NoDutyRate { line, day } => {
                format!("税则号列 {line} 在 {day} 对该原产地无有效税率")
            }
            AssessmentError::NoVatRate { line, day } => {
                format!("税则号列 {line} 在 {day} 无有效增值税税率")
            }
            AssessmentError::MissingQuantity {
                unit,
                declared,
                item,
            } => format!(
                "{}数量单位 {} 无法换算为税率所按的单位 {unit}：请以 {} 申报",
                item_prefix(item),
                declared_text(declared),
                convertible_text(unit)
            ),
            AssessmentError::ZeroQuantity { unit, item } => {
                format!("{}以 {unit} 计的数量必须大于零", item_prefix(item))
            }
            AssessmentError::ConsumptionTaxRateTooHigh { percent } => {
                format!("消费税税率 {percent}% 必须低于100%")
            }
            AssessmentError::NoBand { unit_value } => format!("单位价格 {unit_value} 无适用税率档"),
            AssessmentError::NoItems => "报关单至少需要一项商品".into(),
            AssessmentError::FreightUnknown { terms } => {
                format!("成交方式 {terms} 须申报运至输入地的运费")
            }
        }
    }
}
