//! Preferential origin: is a proof of origin good for the conventional rate it is claimed for
//! (digest §3, "Eligibility check an engine can run")?
//!
//! Pure: the declaration date, the shipment date and the register of used proof numbers are passed
//! in. The agreements are data (`Agreement`); `agreements_china_2026` gives RCEP and ACFTA as far as
//! they are known here, with every uncertain figure marked `verify`.
//!
//! `check_proof` runs the checks in the digest's order and stops at the first refusal:
//! 1. the agreement is in force between China and the origin country on the declaration date;
//! 2. the proof: type allowed; issue date ≤ shipment date (plus the retroactive rule); within its
//!    validity; mandatory data elements present; country of origin and HS6 match the declaration;
//!    quantity not exceeded; number not used before;
//! 3. the origin criterion fits the product-specific rule of the HS6 (the tariff release's
//!    `origin_rules.csv` row in force, else the agreement's data), and the decision states it
//!    (`RuleChecked`: "claimed CTH; rule CC or RVC40 → not met");
//! 4. an RVC claimed with FOB and VNM is recomputed, `(FOB − VNM) / FOB × 100`, against the
//!    threshold of the rule;
//! 5. direct consignment is evidenced.
//!
//! The outcome is a `ProofCheck` for `selection::PreferenceClaim`.

use std::fmt;

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;

use crate::explain::Explanation;
use crate::model::{Quantity, RateColumn};
use crate::origin_rules::OriginRules;
use crate::selection::{PreferenceClaim, ProofCheck, ProofRefusal, RefusalReason};

// ---------------------------------------------------------------------------------------------
// Product-specific rules.

/// One alternative of a product-specific rule (digest §3: PSR codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTerm {
    /// Wholly obtained.
    Wo,
    /// Produced exclusively from originating materials.
    Pe,
    /// Change of chapter (2 digits).
    Cc,
    /// Change of tariff heading (4 digits).
    Cth,
    /// Change of tariff subheading (6 digits).
    Ctsh,
    /// Regional value content of at least this percentage.
    Rvc(Decimal),
    /// Chemical reaction.
    Cr,
}

impl RuleTerm {
    fn is_change_of_classification(&self) -> bool {
        matches!(self, RuleTerm::Cc | RuleTerm::Cth | RuleTerm::Ctsh)
    }
}

impl fmt::Display for RuleTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleTerm::Wo => f.write_str("WO"),
            RuleTerm::Pe => f.write_str("PE"),
            RuleTerm::Cc => f.write_str("CC"),
            RuleTerm::Cth => f.write_str("CTH"),
            RuleTerm::Ctsh => f.write_str("CTSH"),
            RuleTerm::Rvc(percent) => write!(f, "RVC{percent}"),
            RuleTerm::Cr => f.write_str("CR"),
        }
    }
}

/// A rule: alternatives joined by "or", satisfied if any one is met (e.g. `CTH or RVC40`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRule {
    pub alternatives: Vec<RuleTerm>,
}

/// Why a rule text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "origin rule {text:?}: cannot read {token:?} (expected WO, PE, CC, CTH, CTSH, RVCnn or CR joined by \"or\")"
)]
pub struct RuleParseError {
    pub text: String,
    pub token: String,
}

impl OriginRule {
    /// Reads the rule syntax: `WO`, `PE`, `CC`, `CTH`, `CTSH`, `RVCnn` (a percentage, decimals
    /// allowed) and `CR`, joined by "or" (case-insensitive).
    pub fn parse(text: &str) -> Result<OriginRule, RuleParseError> {
        let error = |token: &str| RuleParseError {
            text: text.to_owned(),
            token: token.to_owned(),
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut alternatives = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let expect_term = i % 2 == 0;
            if !expect_term {
                if !word.eq_ignore_ascii_case("or") {
                    return Err(error(word));
                }
                continue;
            }
            let upper = word.to_ascii_uppercase();
            let term = match upper.as_str() {
                "WO" => RuleTerm::Wo,
                "PE" => RuleTerm::Pe,
                "CC" => RuleTerm::Cc,
                "CTH" => RuleTerm::Cth,
                "CTSH" => RuleTerm::Ctsh,
                "CR" => RuleTerm::Cr,
                other => {
                    let percent = other
                        .strip_prefix("RVC")
                        .filter(|p| {
                            !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.')
                        })
                        .and_then(|p| p.parse::<Decimal>().ok())
                        .filter(|p| *p > Decimal::ZERO && *p <= Decimal::ONE_HUNDRED)
                        .ok_or_else(|| error(word))?;
                    RuleTerm::Rvc(percent)
                }
            };
            alternatives.push(term);
        }
        if alternatives.is_empty() || words.len().is_multiple_of(2) {
            return Err(error(words.last().copied().unwrap_or("")));
        }
        Ok(OriginRule { alternatives })
    }

    /// The lowest RVC threshold among the alternatives, if any is an RVC.
    pub fn rvc_threshold(&self) -> Option<Decimal> {
        self.alternatives
            .iter()
            .filter_map(|t| match t {
                RuleTerm::Rvc(p) => Some(*p),
                _ => None,
            })
            .min()
    }

    /// Whether a proof's origin criterion is one the rule accepts. WO and PE goods always
    /// originate (RCEP Art. 3.2 (a), (b)); CTC needs a change-of-classification alternative; RVC an
    /// RVC alternative; CR a CR alternative; ACU (accumulation) a CTC or RVC alternative, which it
    /// helps to meet; DMI (de minimis) a CTC alternative, which it relaxes.
    ///
    /// A change in classification stated at its level is held to it: a change of chapter (CC) is
    /// also one of heading and subheading, so it meets CC, CTH and CTSH; a change of heading (CTH)
    /// meets CTH and CTSH but not CC (the materials may come from the same chapter); a change of
    /// subheading (CTSH) meets only CTSH.
    pub fn accepts(&self, criterion: OriginCriterion) -> bool {
        let any = |f: &dyn Fn(&RuleTerm) -> bool| self.alternatives.iter().any(f);
        match criterion {
            OriginCriterion::Wo | OriginCriterion::Pe => true,
            OriginCriterion::Ctc | OriginCriterion::Dmi => {
                any(&RuleTerm::is_change_of_classification)
            }
            OriginCriterion::Cc => any(&RuleTerm::is_change_of_classification),
            OriginCriterion::Cth => any(&|t| matches!(t, RuleTerm::Cth | RuleTerm::Ctsh)),
            OriginCriterion::Ctsh => any(&|t| matches!(t, RuleTerm::Ctsh)),
            OriginCriterion::Rvc => any(&|t| matches!(t, RuleTerm::Rvc(_))),
            OriginCriterion::Cr => any(&|t| matches!(t, RuleTerm::Cr)),
            OriginCriterion::Acu => {
                any(&|t| t.is_change_of_classification() || matches!(t, RuleTerm::Rvc(_)))
            }
        }
    }
}

impl fmt::Display for OriginRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

/// The product-specific rule of one HS6 subheading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRule {
    pub hs6: String,
    pub rule: OriginRule,
}

/// A default rule for goods without a product-specific rule, from a date (e.g. ACFTA's upgrade).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRule {
    pub from: NaiveDate,
    pub rule: OriginRule,
}

// ---------------------------------------------------------------------------------------------
// Agreements.

/// The kinds of proof of origin (RCEP Art. 3.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofType {
    /// Certificate of origin issued by an issuing body (Form E for ACFTA).
    Certificate,
    /// Declaration of origin by an approved exporter.
    ApprovedExporterDeclaration,
    /// Declaration of origin by any exporter or producer.
    ExporterDeclaration,
}

impl ProofType {
    pub fn name_en(self) -> &'static str {
        match self {
            ProofType::Certificate => "certificate of origin",
            ProofType::ApprovedExporterDeclaration => "declaration by an approved exporter",
            ProofType::ExporterDeclaration => "declaration by the exporter or producer",
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            ProofType::Certificate => "原产地证书",
            ProofType::ApprovedExporterDeclaration => "经核准出口商原产地声明",
            ProofType::ExporterDeclaration => "出口商或生产商原产地声明",
        }
    }
}

/// A proof type an agreement accepts, from a date. `from: None` is a type still being phased in
/// with no date set yet (not accepted); `phase_in_by` is the latest date the agreement allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedProof {
    pub kind: ProofType,
    pub from: Option<NaiveDate>,
    pub phase_in_by: Option<NaiveDate>,
    pub verify: bool,
}

/// A partner country (ISO 3166 alpha-2) and the day the agreement entered into force between it
/// and China.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub country: String,
    pub in_force: NaiveDate,
    pub verify: bool,
}

/// When a proof may be issued after shipment: normally within `days_after_shipment` days of it;
/// later only when the proof is marked as issued retroactively, and within
/// `retroactive_months` of shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueRule {
    pub days_after_shipment: u64,
    pub retroactive_months: u32,
    pub verify: bool,
}

/// A preferential trade agreement as China applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// The code used in rate columns (`RateColumn::Conventional { agreement }`), e.g. "RCEP".
    pub code: String,
    /// China's 2-digit preferential-agreement code on the declaration (e.g. "22").
    pub china_code: String,
    /// `china_code` is to be checked against the GACC code table.
    pub china_code_verify: bool,
    /// The day it entered into force for China.
    pub in_force: NaiveDate,
    pub partners: Vec<Partner>,
    pub proofs: Vec<AllowedProof>,
    /// A proof is valid this many months from its issue date (the last day included).
    pub validity_months: u32,
    pub issue: IssueRule,
    /// Non-originating materials failing a change-in-classification rule may be up to this
    /// percentage of FOB (digest §3). Not checked from the proof (which does not carry it).
    pub de_minimis_percent: Decimal,
    /// The proof must carry the country of origin (RCEP: China's per-partner schedules).
    pub requires_country_of_origin: bool,
    pub product_rules: Vec<ProductRule>,
    /// Rules for goods without a product-specific rule, by date; empty if every good has one.
    pub default_rules: Vec<DatedRule>,
}

impl Agreement {
    /// The rate column of this agreement.
    pub fn column(&self) -> RateColumn {
        RateColumn::Conventional {
            agreement: self.code.clone(),
        }
    }

    /// Adds a product-specific rule, read from its text.
    pub fn with_rule(mut self, hs6: &str, rule: &str) -> Result<Agreement, RuleParseError> {
        self.product_rules.push(ProductRule {
            hs6: hs6.to_owned(),
            rule: OriginRule::parse(rule)?,
        });
        Ok(self)
    }

    /// The partner entry of `country` when the agreement is in force with it on `day`.
    pub fn in_force_with(&self, country: &str, day: NaiveDate) -> bool {
        day >= self.in_force
            && self
                .partners
                .iter()
                .any(|p| p.country == country && day >= p.in_force)
    }

    /// The rule for `hs6` on `day`: its product-specific rule, else the default rule in force.
    pub fn rule_for(&self, hs6: &str, day: NaiveDate) -> Option<&OriginRule> {
        self.product_rules
            .iter()
            .find(|r| r.hs6 == hs6)
            .map(|r| &r.rule)
            .or_else(|| {
                self.default_rules
                    .iter()
                    .filter(|r| r.from <= day)
                    .max_by_key(|r| r.from)
                    .map(|r| &r.rule)
            })
    }
}

/// The agreements an engine knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreements {
    pub agreements: Vec<Agreement>,
}

impl Agreements {
    /// By its code or its Chinese 2-digit code.
    pub fn find(&self, code: &str) -> Option<&Agreement> {
        self.agreements
            .iter()
            .find(|a| a.code == code || a.china_code == code)
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date in the agreement data")
}

fn partner(country: &str, in_force: NaiveDate, verify: bool) -> Partner {
    Partner {
        country: country.to_owned(),
        in_force,
        verify,
    }
}

fn rule(text: &str) -> OriginRule {
    OriginRule::parse(text).expect("a rule of the agreement data")
}

/// RCEP and ACFTA as China applies them in 2026 (digest §3). Product-specific rules are not
/// included: they travel with a tariff release (`origin_rules.csv`, [`crate::origin_rules`]),
/// checked with [`check_proof_with`]; `Agreement::with_rule` adds one to the agreement's data.
pub fn agreements_china_2026() -> Agreements {
    let rcep_start = date(2022, 1, 1);
    let rcep = Agreement {
        code: "RCEP".into(),
        china_code: "22".into(),
        china_code_verify: true,
        in_force: rcep_start,
        partners: ["AU", "BN", "KH", "JP", "LA", "NZ", "SG", "TH", "VN"]
            .iter()
            .map(|c| partner(c, rcep_start, false))
            .chain([
                partner("KR", date(2022, 2, 1), false),
                partner("MY", date(2022, 3, 18), false),
                partner("MM", date(2022, 5, 1), true),
                partner("ID", date(2023, 1, 2), true),
                partner("PH", date(2023, 6, 2), true),
            ])
            .collect(),
        proofs: vec![
            AllowedProof {
                kind: ProofType::Certificate,
                from: Some(rcep_start),
                phase_in_by: None,
                verify: false,
            },
            AllowedProof {
                kind: ProofType::ApprovedExporterDeclaration,
                from: Some(rcep_start),
                phase_in_by: None,
                verify: true,
            },
            AllowedProof {
                kind: ProofType::ExporterDeclaration,
                from: None,
                phase_in_by: Some(date(2032, 1, 1)),
                verify: true,
            },
        ],
        validity_months: 12,
        issue: IssueRule {
            days_after_shipment: 0,
            retroactive_months: 12,
            verify: true,
        },
        de_minimis_percent: Decimal::TEN,
        requires_country_of_origin: true,
        product_rules: Vec::new(),
        default_rules: Vec::new(),
    };
    let acfta_start = date(2005, 7, 20);
    let acfta = Agreement {
        code: "ACFTA".into(),
        china_code: "02".into(),
        china_code_verify: true,
        in_force: acfta_start,
        partners: ["BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN"]
            .iter()
            .map(|c| partner(c, acfta_start, true))
            .collect(),
        proofs: vec![AllowedProof {
            kind: ProofType::Certificate,
            from: Some(acfta_start),
            phase_in_by: None,
            verify: false,
        }],
        validity_months: 12,
        issue: IssueRule {
            days_after_shipment: 3,
            retroactive_months: 12,
            verify: true,
        },
        de_minimis_percent: Decimal::TEN,
        requires_country_of_origin: false,
        product_rules: Vec::new(),
        default_rules: vec![
            DatedRule {
                from: acfta_start,
                rule: rule("RVC40"),
            },
            DatedRule {
                from: date(2019, 8, 20),
                rule: rule("RVC40 or CTH"),
            },
        ],
    };
    Agreements {
        agreements: vec![rcep, acfta],
    }
}

// ---------------------------------------------------------------------------------------------
// The proof and the declaration.

/// The origin criterion on a proof, with China's labels (digest §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginCriterion {
    Wo,
    Pe,
    /// A change in tariff classification, its level not stated.
    Ctc,
    /// A change of chapter, stated.
    Cc,
    /// A change of heading, stated.
    Cth,
    /// A change of subheading, stated.
    Ctsh,
    Rvc,
    Cr,
    /// Accumulation.
    Acu,
    /// De minimis.
    Dmi,
}

impl fmt::Display for OriginCriterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OriginCriterion::Wo => "WO",
            OriginCriterion::Pe => "PE",
            OriginCriterion::Ctc => "CTC",
            OriginCriterion::Cc => "CC",
            OriginCriterion::Cth => "CTH",
            OriginCriterion::Ctsh => "CTSH",
            OriginCriterion::Rvc => "RVC",
            OriginCriterion::Cr => "CR",
            OriginCriterion::Acu => "ACU",
            OriginCriterion::Dmi => "DMI",
        })
    }
}

/// A proof of origin, as produced with the declaration (one goods item of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofOfOrigin {
    /// The agreement it is issued under (its code or China's 2-digit code).
    pub agreement: String,
    pub kind: ProofType,
    pub number: String,
    pub issue_date: NaiveDate,
    /// Marked as issued retroactively.
    pub retroactive: bool,
    pub exporter: String,
    pub hs6: String,
    pub criterion: OriginCriterion,
    /// The (RCEP) country of origin, ISO 3166 alpha-2.
    pub country_of_origin: Option<String>,
    pub quantity: Quantity,
    /// FOB value of the good, required when the criterion is RVC.
    pub fob: Option<Decimal>,
    /// Value of non-originating materials, in the currency of `fob`, when known.
    pub vnm: Option<Decimal>,
    /// Through bill of lading, or non-manipulation certificate for goods via a third country.
    pub direct_consignment_evidence: bool,
}

/// The declaration's facts the proof is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredGoods {
    /// The agreement claimed (its code or China's 2-digit code).
    pub agreement: String,
    /// The declaration (acceptance) date.
    pub date: NaiveDate,
    pub origin_country: String,
    pub hs6: String,
    pub quantity: Quantity,
    pub shipment_date: NaiveDate,
}

// ---------------------------------------------------------------------------------------------
// The check.

fn refuse(reason: RefusalReason, field: &'static str, en: String, zh: String) -> ProofCheck {
    ProofCheck::Refused(Box::new(ProofRefusal {
        reason,
        field,
        detail: Explanation::new(en, zh),
    }))
}

/// Checks a proof of origin against the declaration (module documentation for the order).
/// `used_proof_numbers` says whether a proof number was used on an earlier declaration.
pub fn check_proof(
    proof: &ProofOfOrigin,
    goods: &DeclaredGoods,
    agreements: &Agreements,
    used_proof_numbers: &dyn Fn(&str) -> bool,
) -> ProofCheck {
    let no_release_rules = OriginRules::default();
    check_proof_with(
        proof,
        goods,
        agreements,
        &no_release_rules,
        used_proof_numbers,
    )
    .0
}

/// The claim for `select_rate`: the agreement's column and the outcome of `check_proof`, or
/// `Missing` when no proof was produced.
pub fn claim(
    proof: Option<&ProofOfOrigin>,
    goods: &DeclaredGoods,
    agreements: &Agreements,
    used_proof_numbers: &dyn Fn(&str) -> bool,
) -> PreferenceClaim {
    let code = agreements
        .find(&goods.agreement)
        .map_or_else(|| goods.agreement.clone(), |a| a.code.clone());
    let proof = match proof {
        Some(proof) => check_proof(proof, goods, agreements, used_proof_numbers),
        None => ProofCheck::Missing,
    };
    PreferenceClaim {
        column: RateColumn::Conventional { agreement: code },
        proof,
    }
}

fn run_checks(
    proof: &ProofOfOrigin,
    goods: &DeclaredGoods,
    agreements: &Agreements,
    rules: &OriginRules,
    used: &dyn Fn(&str) -> bool,
    checked: &mut Option<RuleChecked>,
) -> Result<(), ProofCheck> {
    let agreement = in_force(goods, agreements)?;
    check_proof_document(proof, goods, agreement, used)?;
    check_criterion(proof, goods, agreement, rules, checked)?;
    if !proof.direct_consignment_evidence {
        return Err(refuse(
            RefusalReason::NotDirectlyConsigned,
            "proof.direct_consignment_evidence",
            "no through bill of lading or non-manipulation certificate".into(),
            "无全程提单或未再加工证明".into(),
        ));
    }
    Ok(())
}

/// Check 1.
fn in_force<'a>(
    goods: &DeclaredGoods,
    agreements: &'a Agreements,
) -> Result<&'a Agreement, ProofCheck> {
    let code = &goods.agreement;
    let Some(agreement) = agreements.find(code) else {
        return Err(refuse(
            RefusalReason::AgreementUnknown,
            "declaration.agreement",
            format!("no data for agreement {code}"),
            format!("无协定 {code} 的数据"),
        ));
    };
    let (origin, day) = (&goods.origin_country, goods.date);
    if !agreement.in_force_with(origin, day) {
        return Err(refuse(
            RefusalReason::AgreementNotInForce,
            "declaration.origin_country",
            format!(
                "{} is not in force between China and {origin} on {day}",
                agreement.code
            ),
            format!("{day} 中国与 {origin} 之间 {} 未生效", agreement.code),
        ));
    }
    Ok(agreement)
}

/// Check 3: the proof itself.
fn check_proof_document(
    proof: &ProofOfOrigin,
    goods: &DeclaredGoods,
    agreement: &Agreement,
    used: &dyn Fn(&str) -> bool,
) -> Result<(), ProofCheck> {
    if agreements_differ(&proof.agreement, agreement) {
        return Err(refuse(
            RefusalReason::WrongAgreement,
            "proof.agreement",
            format!(
                "proof under {}, claim under {}",
                proof.agreement, agreement.code
            ),
            format!("证明所属 {}，申报协定 {}", proof.agreement, agreement.code),
        ));
    }
    let allowed = agreement
        .proofs
        .iter()
        .any(|p| p.kind == proof.kind && p.from.is_some_and(|from| proof.issue_date >= from));
    if !allowed {
        return Err(refuse(
            RefusalReason::ProofTypeNotAllowed,
            "proof.kind",
            format!(
                "{} not accepted under {} on {}",
                proof.kind.name_en(),
                agreement.code,
                proof.issue_date
            ),
            format!(
                "{} 于 {} 不接受{}",
                agreement.code,
                proof.issue_date,
                proof.kind.name_zh()
            ),
        ));
    }
    check_dates(proof, goods, agreement)?;
    check_data_elements(proof, agreement)?;
    check_matches(proof, goods, used)
}

fn agreements_differ(on_proof: &str, agreement: &Agreement) -> bool {
    on_proof != agreement.code && on_proof != agreement.china_code
}

fn check_dates(
    proof: &ProofOfOrigin,
    goods: &DeclaredGoods,
    agreement: &Agreement,
) -> Result<(), ProofCheck> {
    let (issued, shipped) = (proof.issue_date, goods.shipment_date);
    let rule = agreement.issue;
    let normal_limit = shipped + chrono::Days::new(rule.days_after_shipment);
    if issued > normal_limit {
        let retro_limit = shipped.checked_add_months(Months::new(rule.retroactive_months));
        let retro_ok = proof.retroactive && retro_limit.is_some_and(|limit| issued <= limit);
        if !retro_ok {
            let marked = if proof.retroactive {
                ""
            } else {
                ", not marked retroactive"
            };
            let marked_zh = if proof.retroactive {
                ""
            } else {
                "，且未标注补发"
            };
            return Err(refuse(
                RefusalReason::IssuedAfterShipment,
                "proof.issue_date",
                format!(
                    "issued {issued}, shipped {shipped}: later than {} day(s) after shipment{marked}; retroactive issue is allowed within {} months",
                    rule.days_after_shipment, rule.retroactive_months
                ),
                format!(
                    "签发日期 {issued}，出运日期 {shipped}：晚于出运后 {} 天{marked_zh}；补发须在出运后 {} 个月内",
                    rule.days_after_shipment, rule.retroactive_months
                ),
            ));
        }
    }
    let last_valid = issued.checked_add_months(Months::new(agreement.validity_months));
    let day = goods.date;
    if day < issued || last_valid.is_none_or(|last| day > last) {
        let last = last_valid.map_or_else(|| "?".to_owned(), |d| d.to_string());
        return Err(refuse(
            RefusalReason::Expired,
            "proof.issue_date",
            format!(
                "issued {issued}, valid {} months to {last}; declared {day}",
                agreement.validity_months
            ),
            format!(
                "签发日期 {issued}，有效期 {} 个月至 {last}；申报日期 {day}",
                agreement.validity_months
            ),
        ));
    }
    Ok(())
}

fn check_data_elements(proof: &ProofOfOrigin, agreement: &Agreement) -> Result<(), ProofCheck> {
    let missing = |field: &'static str, en: &str, zh: &str| {
        Err(refuse(
            RefusalReason::DataElementsMissing,
            field,
            format!("{en} is missing"),
            format!("缺少{zh}"),
        ))
    };
    if proof.number.trim().is_empty() {
        return missing("proof.number", "the proof number", "证书（声明）编号");
    }
    if proof.exporter.trim().is_empty() {
        return missing("proof.exporter", "the exporter", "出口商");
    }
    if proof.hs6.len() != 6 || !proof.hs6.bytes().all(|b| b.is_ascii_digit()) {
        return missing("proof.hs6", "a 6-digit HS code", "6位HS编码");
    }
    if agreement.requires_country_of_origin && proof.country_of_origin.is_none() {
        return missing("proof.country_of_origin", "the country of origin", "原产国");
    }
    if proof.criterion == OriginCriterion::Rvc && proof.fob.is_none_or(|fob| fob <= Decimal::ZERO) {
        return missing(
            "proof.fob",
            "the FOB value (above zero) for an RVC criterion",
            "适用区域价值成分标准时的FOB价格",
        );
    }
    Ok(())
}

fn check_matches(
    proof: &ProofOfOrigin,
    goods: &DeclaredGoods,
    used: &dyn Fn(&str) -> bool,
) -> Result<(), ProofCheck> {
    if let Some(country) = &proof.country_of_origin
        && *country != goods.origin_country
    {
        let declared = &goods.origin_country;
        return Err(refuse(
            RefusalReason::OriginCountryMismatch,
            "proof.country_of_origin",
            format!("proof {country}, declared {declared}"),
            format!("证明 {country}，申报 {declared}"),
        ));
    }
    if proof.hs6 != goods.hs6 {
        return Err(refuse(
            RefusalReason::HsCodeMismatch,
            "proof.hs6",
            format!("proof {}, declared {}", proof.hs6, goods.hs6),
            format!("证明 {}，申报 {}", proof.hs6, goods.hs6),
        ));
    }
    let (on_proof, declared) = (&proof.quantity, &goods.quantity);
    if on_proof.unit != declared.unit || declared.amount > on_proof.amount {
        return Err(refuse(
            RefusalReason::QuantityExceeded,
            "proof.quantity",
            format!(
                "proof {} {}, declared {} {}",
                on_proof.amount, on_proof.unit, declared.amount, declared.unit
            ),
            format!(
                "证明 {} {}，申报 {} {}",
                on_proof.amount, on_proof.unit, declared.amount, declared.unit
            ),
        ));
    }
    if used(&proof.number) {
        let number = &proof.number;
        return Err(refuse(
            RefusalReason::AlreadyUsed,
            "proof.number",
            format!("proof number {number} is already on an earlier declaration"),
            format!("证明编号 {number} 已在此前报关单中使用"),
        ));
    }
    Ok(())
}

/// Where the rule a proof was checked against comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// A row of the tariff release's `origin_rules.csv`, with its citation and verify flag.
    Release { source: String, verify: bool },
    /// The agreement's own data: a rule added with `Agreement::with_rule`, or its general rule
    /// for goods without a product-specific rule (ACFTA's `RVC40 or CTH`).
    Agreement,
}

/// The rule a proof's origin criterion was checked against, and the outcome: what an officer
/// reads to see why a preference was granted or refused ("claimed CTH; rule CC or RVC40 → not
/// met").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChecked {
    pub agreement: String,
    pub hs6: String,
    pub rule: OriginRule,
    pub source: RuleSource,
    pub claimed: OriginCriterion,
    pub met: bool,
    /// The claim against the rule in a sentence, with the RVC figures when they were recomputed.
    pub detail: Explanation,
}

/// [`check_proof`] with the product-specific rules of the tariff release in force (`rules`,
/// which take precedence over the agreement's own data), also giving the rule the criterion was
/// checked against when the checks got that far (`None` when a refusal came first or no rule
/// is known).
pub fn check_proof_with(
    proof: &ProofOfOrigin,
    goods: &DeclaredGoods,
    agreements: &Agreements,
    rules: &OriginRules,
    used_proof_numbers: &dyn Fn(&str) -> bool,
) -> (ProofCheck, Option<RuleChecked>) {
    let mut checked = None;
    let check = match run_checks(
        proof,
        goods,
        agreements,
        rules,
        used_proof_numbers,
        &mut checked,
    ) {
        Ok(()) => ProofCheck::Valid,
        Err(refusal) => refusal,
    };
    (check, checked)
}

/// [`claim`] with the release's product-specific rules, and the rule checked
/// ([`check_proof_with`]).
pub fn claim_with(
    proof: Option<&ProofOfOrigin>,
    goods: &DeclaredGoods,
    agreements: &Agreements,
    rules: &OriginRules,
    used_proof_numbers: &dyn Fn(&str) -> bool,
) -> (PreferenceClaim, Option<RuleChecked>) {
    let code = agreements
        .find(&goods.agreement)
        .map_or_else(|| goods.agreement.clone(), |a| a.code.clone());
    let (proof, checked) = match proof {
        Some(proof) => check_proof_with(proof, goods, agreements, rules, used_proof_numbers),
        None => (ProofCheck::Missing, None),
    };
    (
        PreferenceClaim {
            column: RateColumn::Conventional { agreement: code },
            proof,
        },
        checked,
    )
}

/// Checks 4 and 5: the criterion against the rule of the HS6 (the release's, else the
/// agreement's), recorded in `checked`.
fn check_criterion(
    proof: &ProofOfOrigin,
    goods: &DeclaredGoods,
    agreement: &Agreement,
    rules: &OriginRules,
    checked: &mut Option<RuleChecked>,
) -> Result<(), ProofCheck> {
    let criterion = proof.criterion;
    let hs6 = &goods.hs6;
    let always = matches!(criterion, OriginCriterion::Wo | OriginCriterion::Pe);
    let found = match rules.rule_for(&agreement.code, hs6, goods.date) {
        Some(row) => Some((
            &row.rule,
            RuleSource::Release {
                source: row.source.clone(),
                verify: row.verify,
            },
        )),
        None => agreement
            .rule_for(hs6, goods.date)
            .map(|rule| (rule, RuleSource::Agreement)),
    };
    let Some((rule, source)) = found else {
        if always {
            return Ok(());
        }
        return Err(refuse(
            RefusalReason::ProductRuleUnknown,
            "proof.criterion",
            format!(
                "criterion {criterion} cannot be checked: no rule of {} for HS {hs6}",
                agreement.code
            ),
            format!(
                "原产地标准 {criterion} 无法核对：无 {} 关于 HS {hs6} 的规则",
                agreement.code
            ),
        ));
    };
    let code = &agreement.code;
    let stated = |met: bool, figures: Option<&Explanation>| {
        let (en_outcome, zh_outcome) = if met {
            ("met", "符合")
        } else {
            ("not met", "不符合")
        };
        let (en_figures, zh_figures) = figures.map_or((String::new(), String::new()), |f| {
            (format!(": {}", f.en), format!("：{}", f.zh))
        });
        Explanation::new(
            format!(
                "claimed {criterion}; rule {rule} ({code} HS {hs6}) → {en_outcome}{en_figures}"
            ),
            format!("申报 {criterion}；规则 {rule}（{code} HS {hs6}）→ {zh_outcome}{zh_figures}"),
        )
    };
    let mut record = |met: bool, detail: Explanation| {
        *checked = Some(RuleChecked {
            agreement: code.clone(),
            hs6: hs6.clone(),
            rule: rule.clone(),
            source: source.clone(),
            claimed: criterion,
            met,
            detail: detail.clone(),
        });
        detail
    };
    if !rule.accepts(criterion) {
        let detail = record(false, stated(false, None));
        return Err(ProofCheck::Refused(Box::new(ProofRefusal {
            reason: RefusalReason::CriterionNotMet,
            field: "proof.criterion",
            detail,
        })));
    }
    let recomputed = match (criterion, proof.fob, proof.vnm, rule.rvc_threshold()) {
        (OriginCriterion::Rvc, Some(fob), Some(vnm), Some(threshold)) => Some((
            fob,
            vnm,
            threshold,
            (fob - vnm) / fob * Decimal::ONE_HUNDRED,
        )),
        _ => None,
    };
    let Some((fob, vnm, threshold, rvc)) = recomputed else {
        let not_recomputed = (criterion == OriginCriterion::Rvc).then(|| {
            Explanation::new(
                "the RVC is not recomputed (the proof gives no VNM)",
                "未复核区域价值成分（证明未载明非原产材料价值）",
            )
        });
        record(true, stated(true, not_recomputed.as_ref()));
        return Ok(());
    };
    let shown = rvc.round_dp(4).normalize();
    let formula = |relation_en: &str, relation_zh: &str| {
        Explanation::new(
            format!(
                "RVC = (FOB {fob} − VNM {vnm}) / FOB × 100 = {shown}%{relation_en}{threshold}%"
            ),
            format!(
                "区域价值成分 = (FOB {fob} − VNM {vnm}) / FOB × 100 = {shown}%{relation_zh}{threshold}%"
            ),
        )
    };
    if rvc < threshold {
        let detail = record(false, stated(false, Some(&formula(", below ", "，低于 "))));
        return Err(ProofCheck::Refused(Box::new(ProofRefusal {
            reason: RefusalReason::RvcBelowThreshold,
            field: "proof.vnm",
            detail,
        })));
    }
    record(true, stated(true, Some(&formula(" ≥ ", " ≥ "))));
    Ok(())
}
