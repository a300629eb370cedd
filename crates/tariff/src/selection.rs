//! Which duty rate applies to an item (digest §2.1), and why.
//!
//! In order:
//! 1. tariff quota, in quota: the in-quota rate;
//! 2. the base rate: for origins entitled to MFN, the provisional rate where one exists (it
//!    replaces MFN), else MFN (or the out-of-quota rate where the line gives one and the goods are
//!    out of quota); for other origins the general rate, never a provisional one;
//! 3. a claimed preference (conventional or special preferential) applies when the line has a rate
//!    of that agreement for the origin and the proof checked out; where the base rate is
//!    provisional, the lower duty of the two applies (从低适用). A refused claim falls back to the
//!    base rate, with the reason;
//! 4. trade remedies in force for the origin are added on top: for each kind of remedy, the
//!    company-specific rate of the item's exporter where the notice names it, otherwise the rate
//!    for all other companies (`TariffLine::remedies_in_force`, names matched by
//!    `model::exporter_key`); the explanation says which.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::error::AssessmentError;
use crate::explain::{Explanation, Words};
use crate::model::{DutyRate, Quantity, RateColumn, TariffLine, TradeRemedy};
use crate::taxes::levy_exact;

/// The origin of the goods, as far as the rates are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `mfn_entitled`: a WTO member or a country with an MFN agreement with China.
    Known { country: String, mfn_entitled: bool },
    /// Not established: the general rate applies.
    Unknown,
}

impl Origin {
    pub fn country(&self) -> Option<&str> {
        match self {
            Origin::Known { country, .. } => Some(country),
            Origin::Unknown => None,
        }
    }
}

/// The outcome of the proof-of-origin check (digest §3). The unit variants are a bare reason, for
/// a check done elsewhere; `origin::check_proof` returns `Refused`, which also names the field and
/// the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofCheck {
    Valid,
    Missing,
    Expired,
    DataElementsMissing,
    HsCodeMismatch,
    CriterionNotMet,
    QuantityExceeded,
    AlreadyUsed,
    NotDirectlyConsigned,
    /// A refusal with its reason, the field at fault and an explanation.
    Refused(Box<ProofRefusal>),
}

/// Why a proof of origin was refused, every reason the checks of digest §3 can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    Missing,
    AgreementUnknown,
    AgreementNotInForce,
    WrongAgreement,
    ProofTypeNotAllowed,
    IssuedAfterShipment,
    Expired,
    DataElementsMissing,
    OriginCountryMismatch,
    HsCodeMismatch,
    QuantityExceeded,
    AlreadyUsed,
    ProductRuleUnknown,
    CriterionNotMet,
    RvcBelowThreshold,
    NotDirectlyConsigned,
}

impl RefusalReason {
    /// The reason in a sentence, English and Chinese.
    pub fn summary(self) -> (&'static str, &'static str) {
        match self {
            RefusalReason::Missing => ("no proof of origin was produced", "未提交原产地证明"),
            RefusalReason::AgreementUnknown => (
                "the agreement is not known to the engine",
                "系统中无该协定数据",
            ),
            RefusalReason::AgreementNotInForce => (
                "the agreement is not in force between China and the origin on this date",
                "该日期中国与原产国之间协定未生效",
            ),
            RefusalReason::WrongAgreement => (
                "the proof of origin is issued under another agreement",
                "原产地证明所属协定与申报不符",
            ),
            RefusalReason::ProofTypeNotAllowed => (
                "this type of proof of origin is not accepted under the agreement",
                "该协定不接受此类原产地证明",
            ),
            RefusalReason::IssuedAfterShipment => (
                "the proof of origin was issued too late after shipment",
                "原产地证明签发晚于出运日期且不符合补发规定",
            ),
            RefusalReason::Expired => (
                "the proof of origin is not valid on this date",
                "原产地证明已过有效期",
            ),
            RefusalReason::DataElementsMissing => (
                "the proof of origin lacks mandatory data elements",
                "原产地证明缺少必填数据项",
            ),
            RefusalReason::OriginCountryMismatch => (
                "the country of origin on the proof does not match the declared one",
                "原产地证明的原产国与申报不符",
            ),
            RefusalReason::HsCodeMismatch => (
                "the HS code on the proof does not match the declared one",
                "原产地证明的HS编码与申报不符",
            ),
            RefusalReason::QuantityExceeded => (
                "the declared quantity exceeds the proof's quantity",
                "申报数量超过原产地证明数量",
            ),
            RefusalReason::AlreadyUsed => {
                ("the proof of origin was used before", "原产地证明已被使用")
            }
            RefusalReason::ProductRuleUnknown => (
                "no product-specific rule is known for this HS code",
                "无该HS编码的产品特定原产地规则数据",
            ),
            RefusalReason::CriterionNotMet => (
                "the origin criterion does not meet the product-specific rule",
                "原产地标准不符合产品特定原产地规则",
            ),
            RefusalReason::RvcBelowThreshold => (
                "the regional value content is below the threshold",
                "区域价值成分低于标准",
            ),
            RefusalReason::NotDirectlyConsigned => {
                ("direct consignment was not shown", "未能证明直接运输")
            }
        }
    }
}

/// A refusal of `origin::check_proof`: the reason, the field at fault (e.g. `proof.hs6`) and the
/// facts, in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRefusal {
    pub reason: RefusalReason,
    pub field: &'static str,
    pub detail: Explanation,
}

impl ProofCheck {
    /// The reason of a refusal; `None` when valid.
    pub fn reason(&self) -> Option<RefusalReason> {
        Some(match self {
            ProofCheck::Valid => return None,
            ProofCheck::Missing => RefusalReason::Missing,
            ProofCheck::Expired => RefusalReason::Expired,
            ProofCheck::DataElementsMissing => RefusalReason::DataElementsMissing,
            ProofCheck::HsCodeMismatch => RefusalReason::HsCodeMismatch,
            ProofCheck::CriterionNotMet => RefusalReason::CriterionNotMet,
            ProofCheck::QuantityExceeded => RefusalReason::QuantityExceeded,
            ProofCheck::AlreadyUsed => RefusalReason::AlreadyUsed,
            ProofCheck::NotDirectlyConsigned => RefusalReason::NotDirectlyConsigned,
            ProofCheck::Refused(refusal) => refusal.reason,
        })
    }

    /// The refusal in words (the reason, then the field and facts where known); `None` when valid.
    pub fn refusal(&self) -> Option<Explanation> {
        let (en, zh) = self.reason()?.summary();
        Some(match self {
            ProofCheck::Refused(refusal) => Explanation::new(
                format!("{en} ({}: {})", refusal.field, refusal.detail.en),
                format!("{zh}（{}: {}）", refusal.field, refusal.detail.zh),
            ),
            _ => Explanation::new(en, zh),
        })
    }
}

/// A preference claimed on the declaration: the column (conventional with its agreement, or
/// special preferential with its arrangement) and how the proof of origin fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceClaim {
    pub column: RateColumn,
    pub proof: ProofCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaStatus {
    NotQuotaGoods,
    InQuota,
    OutOfQuota,
}

/// Everything rate selection looks at. The value and quantities are needed to compare two rates of
/// different kinds (e.g. a compound conventional rate against an ad valorem provisional one).
#[derive(Debug, Clone, Copy)]
pub struct SelectionInput<'a> {
    pub line: &'a TariffLine,
    pub day: NaiveDate,
    pub origin: &'a Origin,
    /// The overseas exporter or producer as declared, for company-specific trade-remedy rates;
    /// `None` when not declared (the rates for all other companies apply).
    pub exporter: Option<&'a str>,
    pub claim: Option<&'a PreferenceClaim>,
    pub quota: QuotaStatus,
    pub customs_value: Decimal,
    pub quantities: &'a [Quantity],
}

/// The chosen duty rate, the trade remedies added to it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSelection {
    pub column: RateColumn,
    pub rate: DutyRate,
    pub reason: Vec<Explanation>,
    /// Set when a claimed preference could not be granted: what was refused and why.
    pub refused_preference: Option<Explanation>,
    pub remedies: Vec<TradeRemedy>,
}

/// Picks the rate of one item (steps in the module documentation).
pub fn select_rate(input: SelectionInput<'_>) -> Result<RateSelection, AssessmentError> {
    select_rate_with(input, Words::Explained)
}

/// [`select_rate`], its reasons written only when `words` asks for them (the refusal of a
/// claimed preference is kept either way).
pub fn select_rate_with(
    input: SelectionInput<'_>,
    words: Words,
) -> Result<RateSelection, AssessmentError> {
    let country = input.origin.country();
    let remedies: Vec<TradeRemedy> = input
        .line
        .remedies_in_force(country, input.exporter, input.day)
        .into_iter()
        .cloned()
        .collect();
    let mut selection = match in_quota(&input, words) {
        Some(selection) => selection,
        None => with_preference(&input, base_rate(&input, words)?, words)?,
    };
    for remedy in remedies.iter().filter(|_| words.explained()) {
        let basis = remedy_basis(input.line, remedy, country, input.exporter, input.day)
            .map(|b| Explanation::new(format!(", {}", b.en), format!("，{}", b.zh)))
            .unwrap_or_else(|| Explanation::new("", ""));
        selection.reason.push(Explanation::new(
            format!(
                "{} of {} added on top{} ({})",
                remedy.kind.name_en(),
                remedy.rate,
                basis.en,
                remedy.notice
            ),
            format!(
                "另加征{} {}{}（{}）",
                remedy.kind.name_zh(),
                remedy.rate,
                basis.zh,
                remedy.notice
            ),
        ));
    }
    selection.remedies = remedies;
    Ok(selection)
}

/// Which of a notice's rates `remedy` (one of `line.remedies_in_force`) is, where the notice has
/// company-specific rates: the rate of the named exporter, or the rate for all other companies
/// with the reason. `None` when the line has no company-specific rate of the remedy's kind for the
/// origin on that day (safeguards, countermeasures, notices with one rate per origin).
pub fn remedy_basis(
    line: &TariffLine,
    remedy: &TradeRemedy,
    origin: Option<&str>,
    exporter: Option<&str>,
    day: NaiveDate,
) -> Option<Explanation> {
    if let Some(name) = exporter.and_then(|e| remedy.named_exporter(e)) {
        return Some(Explanation::new(
            format!("the company-specific rate for {name}"),
            format!("适用 {name} 的单独税率"),
        ));
    }
    let company_rates = line.remedies.iter().any(|other| {
        other.kind == remedy.kind
            && !other.is_for_all_other_exporters()
            && other.applies_to(origin, day)
    });
    if !company_rates {
        return None;
    }
    let declared = exporter.map(str::trim).filter(|e| !e.is_empty());
    Some(match declared {
        Some(name) => Explanation::new(
            format!(
                "the rate for all other companies (the declared exporter {name} is not named in the notice)"
            ),
            format!("适用其他公司税率（申报的出口商 {name} 未列入公告）"),
        ),
        None => Explanation::new(
            "the rate for all other companies (no exporter declared)",
            "适用其他公司税率（未申报出口商）",
        ),
    })
}

/// The rate of `column`, if the line has one for the goods; `why` (English, Chinese) says why
/// the column applies.
fn chosen(
    input: &SelectionInput<'_>,
    column: &RateColumn,
    why: (&str, &str),
    words: Words,
) -> Option<RateSelection> {
    let found = input
        .line
        .column_rate(column, input.origin.country(), input.day)?;
    let line = &input.line.code;
    let mut reason = Vec::new();
    words.push(&mut reason, || {
        Explanation::new(
            format!(
                "line {line}: {} rate {} — {}",
                column.name_en(),
                found.rate,
                why.0
            ),
            format!(
                "税则号列 {line}: {} {} — {}",
                column.name_zh(),
                found.rate,
                why.1
            ),
        )
    });
    Some(RateSelection {
        column: column.clone(),
        rate: found.rate.clone(),
        reason,
        refused_preference: None,
        remedies: Vec::new(),
    })
}

fn in_quota(input: &SelectionInput<'_>, words: Words) -> Option<RateSelection> {
    if input.quota != QuotaStatus::InQuota {
        return None;
    }
    chosen(
        input,
        &RateColumn::TariffQuotaInQuota,
        ("the goods are within the tariff quota", "配额内进口"),
        words,
    )
}

fn base_rate(input: &SelectionInput<'_>, words: Words) -> Result<RateSelection, AssessmentError> {
    let no_rate = || AssessmentError::NoDutyRate {
        line: input.line.code.clone(),
        day: input.day,
    };
    let Origin::Known {
        mfn_entitled: true, ..
    } = input.origin
    else {
        let why = (
            "origin unknown or not entitled to MFN treatment; provisional rates never apply to general-rate goods",
            "原产地不明或不适用最惠国待遇；适用普通税率的货物不适用暂定税率",
        );
        return chosen(input, &RateColumn::General, why, words).ok_or_else(no_rate);
    };
    let out_of_quota = (input.quota == QuotaStatus::OutOfQuota)
        .then(|| {
            chosen(
                input,
                &RateColumn::TariffQuotaOutOfQuota,
                ("the goods are outside the tariff quota", "配额外进口"),
                words,
            )
        })
        .flatten();
    out_of_quota
        .or_else(|| {
            chosen(
                input,
                &RateColumn::Provisional,
                (
                    "origin entitled to MFN, and a provisional rate replaces the MFN rate",
                    "原产地适用最惠国待遇，暂定税率取代最惠国税率",
                ),
                words,
            )
        })
        .or_else(|| {
            chosen(
                input,
                &RateColumn::Mfn,
                ("origin entitled to MFN treatment", "原产地适用最惠国待遇"),
                words,
            )
        })
        .ok_or_else(no_rate)
}

fn with_preference(
    input: &SelectionInput<'_>,
    base: RateSelection,
    words: Words,
) -> Result<RateSelection, AssessmentError> {
    let Some(claim) = input.claim else {
        return Ok(base);
    };
    let (column_en, column_zh) = (claim.column.name_en(), claim.column.name_zh());
    if let Some(why) = claim.proof.refusal() {
        return Ok(refused(
            base,
            format!("{column_en} rate refused: {}", why.en),
            format!("不予适用{column_zh}: {}", why.zh),
            words,
        ));
    }
    let why = (
        "origin is a partner and the proof of origin checked out",
        "原产地为协定伙伴且原产地证明核验通过",
    );
    let Some(preference) = chosen(input, &claim.column, why, words) else {
        let origin = input.origin.country().unwrap_or("unknown");
        return Ok(refused(
            base,
            format!("{column_en} rate refused: line has none in force for origin {origin}"),
            format!("不予适用{column_zh}: 该税号对原产地 {origin} 无有效税率"),
            words,
        ));
    };
    if base.column != RateColumn::Provisional {
        return Ok(preference);
    }
    lower_of(input, preference, base, words)
}

fn refused(mut base: RateSelection, en: String, zh: String, words: Words) -> RateSelection {
    let refusal = Explanation::new(en, zh);
    if words.explained() {
        base.reason.insert(0, refusal.clone());
    }
    base.refused_preference = Some(refusal);
    base
}

/// Conventional (or special preferential) against provisional: the lower duty on this item
/// applies; on a tie, the preference (the same money, and the claim is recorded).
fn lower_of(
    input: &SelectionInput<'_>,
    mut preference: RateSelection,
    mut provisional: RateSelection,
    words: Words,
) -> Result<RateSelection, AssessmentError> {
    let pref = levy_exact(&preference.rate, input.customs_value, input.quantities)?;
    let prov = levy_exact(&provisional.rate, input.customs_value, input.quantities)?;
    let note = || {
        Explanation::new(
            format!(
                "both a preferential and a provisional rate exist: the lower applies (duty {pref} against {prov})"
            ),
            format!("协定（特惠）税率与暂定税率从低适用（税额 {pref} 对 {prov}）"),
        )
    };
    if pref <= prov {
        words.push(&mut preference.reason, note);
        Ok(preference)
    } else {
        words.push(&mut provisional.reason, note);
        Ok(provisional)
    }
}
