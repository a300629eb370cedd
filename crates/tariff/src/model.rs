//! The tariff as data: lines, rate columns, duty and tax rates, trade remedies, exchange rates.
//!
//! Every rate is a dated record: rates change at midnight of a given day, and an assessment uses the
//! records in force on the day the declaration is accepted (申报之日, digest §2.1). Nothing here is a
//! constant of the law: all of it comes from the published tariff, loaded by a caller.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::error::AssessmentError;
use crate::money::EXCHANGE_RATE_DECIMALS;

/// A rate as a fraction: `Rate::percent(13)` is 13 %, stored as 0.13. Kept as a type so that a
/// percentage and a fraction can never be confused at a call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(Decimal);

impl Rate {
    pub const ZERO: Rate = Rate(Decimal::ZERO);

    pub fn percent(percent: Decimal) -> Rate {
        Rate(percent / Decimal::ONE_HUNDRED)
    }
    pub fn fraction(fraction: Decimal) -> Rate {
        Rate(fraction)
    }
    pub fn as_fraction(self) -> Decimal {
        self.0
    }
    pub fn as_percent(self) -> Decimal {
        (self.0 * Decimal::ONE_HUNDRED).normalize()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.as_percent())
    }
}

/// The unit a specific rate is expressed in: the tariff's statutory unit (法定计量单位) such as
/// `KGM` or `LTR`, or a tax unit such as "500 ml" for spirits or "stick" for cigarettes. The code
/// is the tariff's own; quantities are matched to rates by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatutoryUnit(pub String);

impl fmt::Display for StatutoryUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A quantity of goods in one unit. An item may carry several (first and second statutory units,
/// plus the consumption-tax unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    pub unit: StatutoryUnit,
    pub amount: Decimal,
}

/// The days a record is in force: from `from` (inclusive) until `until` (exclusive; open if none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Validity {
    pub fn from(from: NaiveDate) -> Validity {
        Validity { from, until: None }
    }
    pub fn contains(&self, day: NaiveDate) -> bool {
        day >= self.from && self.until.is_none_or(|until| day < until)
    }
}

/// How much duty or tax a rate levies. Duty and consumption tax share the shape; their formulas
/// differ (consumption tax is levied on a grossed-up base, `taxes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DutyRate {
    /// 从价: `value × rate`.
    AdValorem { rate: Rate },
    /// 从量: `quantity × amount_per_unit`, the quantity in `unit`.
    Specific {
        amount_per_unit: Decimal,
        unit: StatutoryUnit,
    },
    /// 复合: ad valorem plus specific.
    Compound {
        rate: Rate,
        amount_per_unit: Decimal,
        unit: StatutoryUnit,
    },
    /// Rates that depend on the unit value (CNY per `unit`), e.g. sliding duties or the high-end
    /// cosmetics threshold. Bands in ascending order; the last band whose floor the unit value
    /// reaches applies. The first band has no floor.
    Conditional {
        unit: StatutoryUnit,
        bands: Vec<RateBand>,
    },
}

/// One band of a conditional rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateBand {
    /// `None` for the lowest band.
    pub floor: Option<UnitValueFloor>,
    pub rate: DutyRate,
}

/// Where a band starts. Both exist in the tariff: "≤ X: a%; > X: b%" and "≥ 10 CNY/g: 15%".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitValueFloor {
    AtLeast(Decimal),
    Above(Decimal),
}

impl UnitValueFloor {
    pub fn reached_by(self, unit_value: Decimal) -> bool {
        match self {
            UnitValueFloor::AtLeast(floor) => unit_value >= floor,
            UnitValueFloor::Above(floor) => unit_value > floor,
        }
    }
}

impl fmt::Display for DutyRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DutyRate::AdValorem { rate } => write!(f, "{rate}"),
            DutyRate::Specific {
                amount_per_unit,
                unit,
            } => write!(f, "{amount_per_unit} CNY/{unit}"),
            DutyRate::Compound {
                rate,
                amount_per_unit,
                unit,
            } => write!(f, "{rate} + {amount_per_unit} CNY/{unit}"),
            DutyRate::Conditional { unit, bands } => {
                write!(f, "by unit value per {unit}: ")?;
                for (i, band) in bands.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    match band.floor {
                        None => write!(f, "{sep}{}", band.rate)?,
                        Some(UnitValueFloor::AtLeast(v)) => write!(f, "{sep}≥ {v}: {}", band.rate)?,
                        Some(UnitValueFloor::Above(v)) => write!(f, "{sep}> {v}: {}", band.rate)?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// Consumption tax has the same shapes as duty (ad valorem, specific, compound, unit-value
/// thresholds); the formulas that use it are in `taxes`.
pub type ConsumptionTaxRate = DutyRate;

/// The import rate columns of China's tariff (Tariff Law ch. II, digest §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateColumn {
    /// 最惠国税率.
    Mfn,
    /// 暂定税率: replaces MFN where it exists; never applies to general-rate goods.
    Provisional,
    /// 协定税率 of one agreement (the agreement's code, e.g. "RCEP" or GACC's "22").
    Conventional { agreement: String },
    /// 特惠税率 (least-developed countries), under one arrangement.
    SpecialPreferential { arrangement: String },
    /// 普通税率: origin unknown or not entitled to MFN.
    General,
    /// 配额内税率.
    TariffQuotaInQuota,
    /// 配额外税率, where the tariff gives one; otherwise out-of-quota goods follow the other columns.
    TariffQuotaOutOfQuota,
}

impl RateColumn {
    pub fn name_en(&self) -> String {
        match self {
            RateColumn::Mfn => "MFN".into(),
            RateColumn::Provisional => "provisional".into(),
            RateColumn::Conventional { agreement } => format!("conventional ({agreement})"),
            RateColumn::SpecialPreferential { arrangement } => {
                format!("special preferential ({arrangement})")
            }
            RateColumn::General => "general".into(),
            RateColumn::TariffQuotaInQuota => "tariff quota, in quota".into(),
            RateColumn::TariffQuotaOutOfQuota => "tariff quota, out of quota".into(),
        }
    }
    pub fn name_zh(&self) -> String {
        match self {
            RateColumn::Mfn => "最惠国税率".into(),
            RateColumn::Provisional => "暂定税率".into(),
            RateColumn::Conventional { agreement } => format!("协定税率（{agreement}）"),
            RateColumn::SpecialPreferential { arrangement } => format!("特惠税率（{arrangement}）"),
            RateColumn::General => "普通税率".into(),
            RateColumn::TariffQuotaInQuota => "配额内税率".into(),
            RateColumn::TariffQuotaOutOfQuota => "配额外税率".into(),
        }
    }
}

/// One rate of one column, for one period. Conventional and special preferential rates are
/// granted per partner: `partners` lists the origin countries (ISO 3166 alpha-2) it applies to
/// (RCEP has per-partner schedules); it is empty for the other columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRate {
    pub column: RateColumn,
    pub partners: Vec<String>,
    pub validity: Validity,
    pub rate: DutyRate,
}

/// The kinds of duty added on top of the customs duty (digest §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemedyKind {
    AntiDumping,
    Countervailing,
    Safeguard,
    Countermeasure,
}

impl RemedyKind {
    pub fn name_en(self) -> &'static str {
        match self {
            RemedyKind::AntiDumping => "anti-dumping duty",
            RemedyKind::Countervailing => "countervailing duty",
            RemedyKind::Safeguard => "safeguard duty",
            RemedyKind::Countermeasure => "countermeasure duty",
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            RemedyKind::AntiDumping => "反倾销税",
            RemedyKind::Countervailing => "反补贴税",
            RemedyKind::Safeguard => "保障措施关税",
            RemedyKind::Countermeasure => "反制关税",
        }
    }
}

/// A trade-remedy or countermeasure duty: a separate, dated record (digest §2.1).
///
/// China's anti-dumping and countervailing notices give a rate per origin and, within an origin,
/// company-specific rates for the exporters or producers they name plus one rate for "all other
/// companies" (其他公司). A row is one of these: `exporters` names the companies its rate is for,
/// or is empty for the rate of every exporter the other rows of its kind and origin do not name.
/// Which row applies to an item is [`TariffLine::remedies_in_force`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRemedy {
    pub kind: RemedyKind,
    /// The origins it applies to; empty means every origin (safeguards).
    pub origins: Vec<String>,
    /// The exporters or producers this rate is for, as the notice names them; empty means every
    /// other exporter of its origins ("all other companies"). Matched by [`exporter_key`].
    pub exporters: Vec<String>,
    pub validity: Validity,
    pub rate: DutyRate,
    /// The notice that imposed it, quoted in explanations (e.g. "商务部公告2024年第X号").
    pub notice: String,
}

/// An exporter's name as it is matched against the names of a trade-remedy notice: surrounding
/// white space removed, each run of inner white space (Unicode white space, including the
/// ideographic space U+3000) made one ASCII space, and ASCII letters lower-cased. Nothing else is
/// changed: other letters (Chinese, accented, full-width) and punctuation must match exactly, so
/// "POSCO" matches " posco " but not "POSCO Co., Ltd." nor "Ｐｏｓｃｏ".
pub fn exporter_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

impl TradeRemedy {
    /// Whether the row's origins and period cover the goods, whatever the exporter: of the rows
    /// of one kind that do, [`TariffLine::remedies_in_force`] picks the exporter's.
    pub fn applies_to(&self, origin: Option<&str>, day: NaiveDate) -> bool {
        let origin_matches =
            self.origins.is_empty() || origin.is_some_and(|o| self.origins.iter().any(|p| p == o));
        origin_matches && self.validity.contains(day)
    }

    /// The row's rate is for every exporter its other rows do not name ("all other companies").
    pub fn is_for_all_other_exporters(&self) -> bool {
        self.exporters.is_empty()
    }

    /// The name, as this row writes it, that matches `exporter` ([`exporter_key`]); `None` when
    /// the row names no such exporter (always for an "all other companies" row).
    pub fn named_exporter(&self, exporter: &str) -> Option<&str> {
        let key = exporter_key(exporter);
        if key.is_empty() {
            return None;
        }
        self.exporters
            .iter()
            .find(|name| exporter_key(name) == key)
            .map(String::as_str)
    }
}

/// A dated VAT or consumption-tax rate of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRate<R> {
    pub validity: Validity,
    pub rate: R,
}

/// One tariff line (税则号列): its rate columns, remedies, VAT and consumption tax, statutory units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TariffLine {
    /// The national tariff code, e.g. "2204210000".
    pub code: String,
    pub description: String,
    /// First and (optional) second statutory unit.
    pub statutory_units: Vec<StatutoryUnit>,
    /// The licences and certificates the goods need (监管证件代码, China's supervision-certificate
    /// codes: "7" automatic import licence, "A" inspection and quarantine on entry, "t" tariff
    /// quota certificate...), in the release's order; empty when the line needs none. The code
    /// table is case-sensitive: "t" and "T" are different certificates, so codes are kept as
    /// written and never case-folded.
    pub licences: Vec<String>,
    pub columns: Vec<ColumnRate>,
    pub remedies: Vec<TradeRemedy>,
    pub vat: Vec<DatedRate<Rate>>,
    /// Empty when the goods bear no consumption tax.
    pub consumption_tax: Vec<DatedRate<ConsumptionTaxRate>>,
}

impl TariffLine {
    /// The rate of `column` in force on `day` for `origin` (origin matters only for columns
    /// granted per partner).
    pub fn column_rate(
        &self,
        column: &RateColumn,
        origin: Option<&str>,
        day: NaiveDate,
    ) -> Option<&ColumnRate> {
        self.columns.iter().find(|c| {
            &c.column == column
                && c.validity.contains(day)
                && (c.partners.is_empty()
                    || origin.is_some_and(|o| c.partners.iter().any(|p| p == o)))
        })
    }

    /// The trade remedies in force on `day` for goods of `origin` exported by `exporter` (the
    /// overseas exporter or producer as declared; `None` when not declared), in the line's order.
    /// For each kind of remedy, of the rows whose origins and period cover the goods: the rows
    /// naming the exporter ([`exporter_key`]) if there are any, otherwise the "all other
    /// companies" rows (no exporters named). A row naming only other exporters never applies.
    pub fn remedies_in_force(
        &self,
        origin: Option<&str>,
        exporter: Option<&str>,
        day: NaiveDate,
    ) -> Vec<&TradeRemedy> {
        let covering: Vec<&TradeRemedy> = self
            .remedies
            .iter()
            .filter(|r| r.applies_to(origin, day))
            .collect();
        let named = |r: &TradeRemedy| exporter.is_some_and(|e| r.named_exporter(e).is_some());
        covering
            .iter()
            .copied()
            .filter(|remedy| {
                if named(remedy) {
                    return true;
                }
                let company_rate_of_kind = covering
                    .iter()
                    .any(|other| other.kind == remedy.kind && named(other));
                remedy.is_for_all_other_exporters() && !company_rate_of_kind
            })
            .collect()
    }

    pub fn vat_rate(&self, day: NaiveDate) -> Result<Rate, AssessmentError> {
        self.vat
            .iter()
            .find(|r| r.validity.contains(day))
            .map(|r| r.rate)
            .ok_or_else(|| AssessmentError::NoVatRate {
                line: self.code.clone(),
                day,
            })
    }

    pub fn consumption_tax_rate(&self, day: NaiveDate) -> Option<&ConsumptionTaxRate> {
        self.consumption_tax
            .iter()
            .find(|r| r.validity.contains(day))
            .map(|r| &r.rate)
    }
}

/// A calendar month, the period of a customs exchange rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    pub fn of(day: NaiveDate) -> YearMonth {
        YearMonth {
            year: day.year(),
            month: day.month(),
        }
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The customs exchange rate of one currency for one month: CNY per one unit of the currency, to
/// 4 decimals (digest §2.4: the PBoC central parity of the previous month's third Wednesday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRate {
    /// Shared: every item assessed at this rate holds a copy of it.
    currency: std::sync::Arc<str>,
    month: YearMonth,
    rate_4dp: Decimal,
}

impl ExchangeRate {
    /// Refuses a rate with more than 4 decimals or not above zero: customs rates are published to 4 dp.
    pub fn new(
        currency: impl Into<String>,
        month: YearMonth,
        rate_4dp: Decimal,
    ) -> Result<ExchangeRate, AssessmentError> {
        let currency = currency.into();
        if rate_4dp <= Decimal::ZERO || rate_4dp.normalize().scale() > EXCHANGE_RATE_DECIMALS {
            return Err(AssessmentError::ExchangeRatePrecision {
                currency,
                rate: rate_4dp,
            });
        }
        Ok(ExchangeRate {
            currency: currency.into(),
            month,
            rate_4dp,
        })
    }
    /// CNY itself: rate 1.0000 in every month.
    pub fn cny(month: YearMonth) -> ExchangeRate {
        ExchangeRate {
            currency: "CNY".into(),
            month,
            rate_4dp: Decimal::ONE,
        }
    }
    pub fn currency(&self) -> &str {
        &self.currency
    }
    pub fn month(&self) -> YearMonth {
        self.month
    }
    pub fn rate_4dp(&self) -> Decimal {
        self.rate_4dp
    }
}

/// The `(currency, month) → rate` table of digest §2.4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeRates {
    rates: Vec<ExchangeRate>,
}

impl ExchangeRates {
    pub fn new(rates: Vec<ExchangeRate>) -> ExchangeRates {
        ExchangeRates { rates }
    }
    pub fn rates(&self) -> &[ExchangeRate] {
        &self.rates
    }
    /// This table with `later`'s rates laid over it: a rate of `later` for a currency and month
    /// replaces this table's (a correction published later wins).
    pub fn overlaid_with(&self, later: &ExchangeRates) -> ExchangeRates {
        let mut rates: Vec<ExchangeRate> = self
            .rates
            .iter()
            .filter(|r| {
                !later
                    .rates
                    .iter()
                    .any(|l| l.currency == r.currency && l.month == r.month)
            })
            .cloned()
            .collect();
        rates.extend(later.rates.iter().cloned());
        ExchangeRates { rates }
    }
    /// The rate in force on the acceptance day: the one published for that day's month.
    pub fn in_force(
        &self,
        currency: &str,
        day: NaiveDate,
    ) -> Result<ExchangeRate, AssessmentError> {
        let month = YearMonth::of(day);
        if currency == "CNY" {
            return Ok(ExchangeRate::cny(month));
        }
        self.rates
            .iter()
            .find(|r| &*r.currency == currency && r.month == month)
            .cloned()
            .ok_or_else(|| AssessmentError::NoExchangeRate {
                currency: currency.to_owned(),
                month,
            })
    }
}
