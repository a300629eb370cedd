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
    #[error("the item has no quantity in {unit}, which its rate is expressed in")]
    MissingQuantity { unit: StatutoryUnit },
    #[error("the quantity in {unit} must be above zero to compute a unit value")]
    ZeroQuantity { unit: StatutoryUnit },
    #[error("a consumption-tax rate of {percent}% cannot be grossed up (it must be below 100%)")]
    ConsumptionTaxRateTooHigh { percent: Decimal },
    #[error("the conditional rate has no band for a unit value of {unit_value}")]
    NoBand { unit_value: Decimal },
    #[error("a declaration needs at least one goods item")]
    NoItems,
    #[error("terms {terms} need the freight to the place of import, and none was given")]
    FreightUnknown { terms: &'static str },
}

impl AssessmentError {
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
            AssessmentError::MissingQuantity { unit } => format!("缺少以 {unit} 计的数量"),
            AssessmentError::ZeroQuantity { unit } => format!("以 {unit} 计的数量必须大于零"),
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
