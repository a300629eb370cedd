//! The input of a selection: plain data the caller fills from a parsed declaration, its assessment
//! and the importer's history. Nothing here is parsed or validated again: codes are the strings the
//! declaration carries (already checked against the code lists by `domain`).

use rust_decimal::Decimal;

/// Import or export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Import,
    Export,
}

impl Direction {
    /// The name rules see (`declaration.direction`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Import => "import",
            Direction::Export => "export",
        }
    }
}

/// The kind of declaration in the two-step process (两步申报): the summary declaration (概要申报)
/// is targeted for safety and security, the full declaration (完整申报) for revenue; an ordinary
/// one-step declaration for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeclarationKind {
    Summary,
    Full,
    Ordinary,
}

impl DeclarationKind {
    /// The name rules see (`declaration.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationKind::Summary => "summary",
            DeclarationKind::Full => "full",
            DeclarationKind::Ordinary => "ordinary",
        }
    }
}

/// What a rule or list entry targets. A summary declaration is checked only by `Safety` and `Both`
/// rules and entries, a full declaration only by `Revenue` and `Both`, an ordinary declaration by
/// all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    Safety,
    Revenue,
    Both,
}

impl Purpose {
    /// Whether a rule or entry with this purpose applies to a declaration of `kind`.
    pub fn applies_to(self, kind: DeclarationKind) -> bool {
        matches!(
            (kind, self),
            (DeclarationKind::Ordinary, _)
                | (_, Purpose::Both)
                | (DeclarationKind::Summary, Purpose::Safety)
                | (DeclarationKind::Full, Purpose::Revenue)
        )
    }
}

/// The enterprise credit level of the trader (海关企业信用等级). `GeneralCertified` (一般认证) was
/// abolished in 2022 and is kept to read older data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CreditLevel {
    /// 高级认证企业 (AEO).
    AdvancedCertified,
    /// 一般认证企业 (abolished 2022).
    GeneralCertified,
    /// 一般信用企业: the default for an enterprise without a rating.
    General,
    /// 失信企业.
    Untrustworthy,
}

impl CreditLevel {
    /// The name rules see (`credit`).
    pub fn as_str(self) -> &'static str {
        match self {
            CreditLevel::AdvancedCertified => "advanced_certified",
            CreditLevel::GeneralCertified => "general_certified",
            CreditLevel::General => "general",
            CreditLevel::Untrustworthy => "untrustworthy",
        }
    }
}

/// What a selected declaration is subjected to, from the mildest to the most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// 单证审核: yellow lane.
    DocumentCheck,
    /// 查验: red lane.
    PhysicalInspection,
    /// 取样送检: red lane.
    LabSampling,
    /// 扣留: red lane, goods not released until the hold is lifted.
    Hold,
}

impl Action {
    /// 1 (document check) ..= 4 (hold): the second key of a reason's weight.
    pub fn severity(self) -> u8 {
        match self {
            Action::DocumentCheck => 1,
            Action::PhysicalInspection => 2,
            Action::LabSampling => 3,
            Action::Hold => 4,
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Action::DocumentCheck => "document check",
            Action::PhysicalInspection => "physical inspection",
            Action::LabSampling => "sampling for the laboratory",
            Action::Hold => "hold",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Action::DocumentCheck => "单证审核",
            Action::PhysicalInspection => "查验",
            Action::LabSampling => "取样送检",
            Action::Hold => "扣留",
        }
    }
}

/// The declaration header as targeting sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclarationHeader {
    pub direction: Direction,
    pub kind: DeclarationKind,
    /// 监管方式, e.g. `0110` general trade.
    pub procedure: String,
    /// 申报地海关.
    pub office_of_lodging: String,
    /// 进出境关别.
    pub office_of_entry_exit: String,
    /// 运输方式 code.
    pub transport_mode: String,
    /// Vessel / flight / vehicle identification (运输工具名称), when declared.
    pub transport_means: Option<String>,
    /// Unified social credit code of the trader (境内收发货人).
    pub trader: String,
    /// Unified social credit code of the declarant (申报单位).
    pub declarant: String,
    /// The overseas party (境外收发货人): the seller of an import, the buyer of an export.
    pub overseas_party_name: String,
    pub overseas_party_country: String,
    /// The consignor (shipper) when it is not the overseas party.
    pub consignor: Option<String>,
    /// 启运国 / 运抵国.
    pub dispatch_country: String,
    pub invoice_currency: String,
    pub invoice_amount: Decimal,
    /// Total customs value in CNY; `None` when not assessed.
    pub customs_value_cny: Option<Decimal>,
    /// Total payable (duty + taxes) in CNY; `None` when not assessed.
    pub payable_cny: Option<Decimal>,
    /// Type codes of the documents attached (随附单证代码), which licence requirements are checked against.
    pub documents: Vec<String>,
}

/// One goods item.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskItem {
    /// The 10-digit commodity code (HS 6 + national 4).
    pub commodity_code: String,
    pub description: String,
    pub origin_country: String,
    /// Declared quantity (成交数量) and its unit code.
    pub quantity: Decimal,
    pub unit: String,
    /// First and second statutory quantities (法定数量) with their units.
    pub statutory_quantity_1: Option<(Decimal, String)>,
    pub statutory_quantity_2: Option<(Decimal, String)>,
    /// Amount in the invoice currency.
    pub amount: Decimal,
    /// Customs value in CNY when assessed.
    pub customs_value_cny: Option<Decimal>,
    pub net_mass_kg: Option<Decimal>,
    /// Licence / certificate codes (监管证件代码) the tariff line requires, given by the caller.
    pub licence_codes: Vec<String>,
}

/// The importer's history, counted by the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Declarations lodged by the trader in the last 365 days.
    pub declarations_365d: u32,
    /// Checks of the trader's declarations that found a discrepancy (ever, or the window the caller chose).
    pub discrepancies: u32,
}

/// Everything a selection reads.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskInput {
    pub declaration: DeclarationHeader,
    pub items: Vec<RiskItem>,
    pub credit: CreditLevel,
    pub history: History,
    /// The score of the risk model in 0..=1, once there is one.
    pub model_score: Option<f64>,
    /// The active risk model's verdict, when one scored the declaration: selects it when the
    /// score is at or above the model's threshold (the configured inspection budget).
    pub model: Option<ModelVerdict>,
}

/// What the active risk model says of a declaration (its riskiest item).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelVerdict {
    pub model: String,
    /// Probability of a discrepancy, 0..=1.
    pub score: f64,
    /// The score at which the model selects by exploitation: the top `budget` share of the
    /// training scores.
    pub threshold: f64,
    /// The share of declarations the threshold aims to select (the exploitation part of the
    /// inspection budget), 0..=1.
    pub budget: f64,
    /// The chance, in 0..=1, that a declaration scored below the threshold is selected anyway
    /// (exploration: the model learns only the labels of what it selects, so part of its
    /// budget goes where it would not look). The propensity recorded with such a selection;
    /// 0: no exploration.
    pub exploration_rate: f64,
    /// The item scored highest (0-based).
    pub item: usize,
    /// The features that pushed the score up or down, in words.
    pub why_en: String,
    pub why_zh: String,
}
