//! The goods declaration (报关单), aligned with the WCO Data Model's Declaration → GoodsShipment →
//! GoodsItem structure, with China's codes as the first profile.
//!
//! Values of these types are valid by construction: they come out of the boundary parser (`wire`)
//! and the cross-field rules (`rules`), so nothing downstream checks them again.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::codes::{
    CommodityCode, ContainerNumber, CountryCode, CreditCode, CurrencyCode, CustomsOfficeCode,
    CustomsRegistrationCode, DocumentTypeCode, IncotermCode, LevyModeCode, LevyNatureCode,
    LocationCode, PackageTypeCode, ProcedureCode, ResidentIdNumber, TransportModeCode, UnitCode,
};
use crate::numbering::DeclarationNumber;
use crate::problem::FieldError;

/// Import or export (进口 / 出口).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Import,
    Export,
}

/// The two-step declaration (两步申报) and the ordinary one-step declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarationKind {
    /// One-step declaration with every element.
    Ordinary,
    /// Summary declaration (概要申报): enough for safety, security and release of the goods.
    Summary,
    /// Full declaration (完整申报) completing an accepted summary declaration.
    Full { summary_number: DeclarationNumber },
}

impl DeclarationKind {
    pub fn name(&self) -> &'static str {
        match self {
            DeclarationKind::Ordinary => "ordinary",
            DeclarationKind::Summary => "summary",
            DeclarationKind::Full { .. } => "full",
        }
    }
}

/// An enterprise registered with customs: the declarant or the domestic consignee / consignor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enterprise {
    pub credit_code: CreditCode,
    pub customs_code: CustomsRegistrationCode,
    pub name: String,
}

/// The overseas consignor (import) or consignee (export) (境外收发货人).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverseasParty {
    pub name: String,
    pub country: Option<CountryCode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportDocumentKind {
    BillOfLading,
    AirWaybill,
    RailWaybill,
    RoadConsignmentNote,
    PostalReceipt,
}

impl TransportDocumentKind {
    pub const ALL: [(&'static str, TransportDocumentKind); 5] = [
        ("bill_of_lading", TransportDocumentKind::BillOfLading),
        ("air_waybill", TransportDocumentKind::AirWaybill),
        ("rail_waybill", TransportDocumentKind::RailWaybill),
        (
            "road_consignment_note",
            TransportDocumentKind::RoadConsignmentNote,
        ),
        ("postal_receipt", TransportDocumentKind::PostalReceipt),
    ];

    pub fn name(self) -> &'static str {
        TransportDocumentKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("bill_of_lading")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportDocument {
    pub kind: TransportDocumentKind,
    pub number: String,
}

/// How the goods cross the border (运输方式, 运输工具名称, 航次号, 提运单号).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    pub mode: TransportModeCode,
    pub means_name: Option<String>,
    pub voyage: Option<String>,
    pub document: TransportDocument,
    pub departure_date: Option<NaiveDate>,
    pub arrival_date: Option<NaiveDate>,
    /// The containers the goods travel in (集装箱号), none for goods not containerised.
    pub containers: Vec<ContainerNumber>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub number: Option<String>,
    pub date: Option<NaiveDate>,
    pub currency: CurrencyCode,
    pub amount: Decimal,
}

/// Freight, insurance or other costs, as China's 运费/保费/杂费 marks allow: a total amount, a
/// rate of the goods price, or an amount per unit (e.g. freight per tonne).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    Amount {
        amount: Decimal,
        currency: CurrencyCode,
    },
    RatePercent(Decimal),
    PerUnit {
        amount: Decimal,
        currency: CurrencyCode,
        unit: UnitCode,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packages {
    pub count: u32,
    pub package_type: PackageTypeCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    pub value: Decimal,
    pub unit: UnitCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedDocument {
    pub document_type: DocumentTypeCode,
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodsItem {
    pub commodity_code: CommodityCode,
    pub description: String,
    pub quantity: Quantity,
    /// Quantities in the tariff's statutory (legal) units: first and optional second.
    pub statutory_quantities: Vec<Quantity>,
    /// Absent on a summary declaration, which carries only the item amount.
    pub unit_price: Option<Decimal>,
    pub amount: Decimal,
    pub origin_country: CountryCode,
    /// Absent on a summary declaration.
    pub levy_mode: Option<LevyModeCode>,
    /// The preferential (conventional) rate claimed for this item, and the proof it rests on.
    pub preference: Option<Preference>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub direction: Direction,
    pub kind: DeclarationKind,
    pub procedure: ProcedureCode,
    pub levy_nature: Option<LevyNatureCode>,
    pub office_of_lodging: CustomsOfficeCode,
    pub office_of_entry_exit: CustomsOfficeCode,
    pub declarant: Enterprise,
    /// Domestic consignee (import) or consignor (export) (境内收发货人): the importer or exporter.
    pub trader: Enterprise,
    pub overseas_party: OverseasParty,
    pub transport: Transport,
    pub dispatch_country: Option<CountryCode>,
    pub destination_country: Option<CountryCode>,
    /// Port of loading (import) or of destination (export) as a UN/LOCODE.
    pub port: Option<LocationCode>,
    /// Absent on a summary declaration.
    pub transaction_terms: Option<IncotermCode>,
    pub invoice: Invoice,
    pub freight: Option<Charge>,
    pub insurance: Option<Charge>,
    pub other_costs: Option<Charge>,
    pub packages: Packages,
    pub gross_mass_kg: Decimal,
    pub net_mass_kg: Option<Decimal>,
    pub documents: Vec<AttachedDocument>,
    /// Proofs of origin produced for preferential treatment (优惠贸易协定原产地证明); goods items
    /// refer to them by number in `GoodsItem::preference`.
    pub origin_proofs: Vec<OriginProof>,
    /// The cross-border e-commerce retail order (跨境电商零售进口订单) the goods are imported
    /// for: present exactly on imports under one of `CBEC_PROCEDURES` (see `rules`).
    pub cbec_order: Option<CbecOrder>,
    /// A parcel of personal articles sent by post or express (进境邮递物品 / 快件个人物品),
    /// taxed as articles (行邮税) rather than as goods: see `PostalParcel`.
    pub postal_parcel: Option<PostalParcel>,
    pub items: Vec<GoodsItem>,
}

impl Declaration {
    /// The I/E flag in China's declaration number: 1 import, 0 export.
    pub fn direction_flag(&self) -> char {
        match self.direction {
            Direction::Import => '1',
            Direction::Export => '0',
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Preferential origin (优惠贸易协定享惠).

/// A preferential trade agreement under which a proof of origin is issued and a conventional rate
/// claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeAgreement {
    /// Regional Comprehensive Economic Partnership.
    Rcep,
    /// ASEAN–China Free Trade Area (中国—东盟自贸区).
    Acfta,
}

impl TradeAgreement {
    /// The agreements a declaration may name: the code used in the tariff's rate columns, China's
    /// 2-digit preferential-agreement code (优惠贸易协定代码), and the agreement. Either code is
    /// accepted on input; the first is the one rendered.
    ///
    /// Kept in step by hand with `tariff::origin::agreements_china_2026()` (the engine that checks
    /// the proofs; `domain` does not depend on `tariff`). The 2-digit codes are marked *verify*
    /// there, against GACC's code table.
    pub const ALL: [(&'static str, &'static str, TradeAgreement); 2] = [
        ("RCEP", "22", TradeAgreement::Rcep),
        ("ACFTA", "02", TradeAgreement::Acfta),
    ];

    /// By its code or China's 2-digit code, ignoring case and surrounding spaces.
    pub fn from_code(raw: &str) -> Option<TradeAgreement> {
        let raw = raw.trim();
        TradeAgreement::ALL
            .iter()
            .find(|(code, china_code, _)| code.eq_ignore_ascii_case(raw) || *china_code == raw)
            .map(|(_, _, agreement)| *agreement)
    }

    /// The code of the rate column, e.g. "RCEP".
    pub fn code(self) -> &'static str {
        self.entry().0
    }

    /// China's 2-digit code, e.g. "22".
    pub fn china_code(self) -> &'static str {
        self.entry().1
    }

    fn entry(self) -> &'static (&'static str, &'static str, TradeAgreement) {
        TradeAgreement::ALL
            .iter()
            .find(|(_, _, a)| *a == self)
            .expect("every agreement is listed in TradeAgreement::ALL")
    }
}

impl fmt::Display for TradeAgreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The kinds of proof of origin (RCEP Art. 3.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofKind {
    /// Certificate of origin issued by an issuing body (Form E for ACFTA).
    Certificate,
    /// Declaration of origin by an approved exporter.
    ApprovedExporterDeclaration,
    /// Declaration of origin by any exporter or producer.
    ExporterDeclaration,
}

impl ProofKind {
    pub const ALL: [(&'static str, ProofKind); 3] = [
        ("certificate", ProofKind::Certificate),
        (
            "approved_exporter_declaration",
            ProofKind::ApprovedExporterDeclaration,
        ),
        ("exporter_declaration", ProofKind::ExporterDeclaration),
    ];

    pub fn from_name(raw: &str) -> Option<ProofKind> {
        let raw = raw.trim();
        ProofKind::ALL
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, kind)| *kind)
    }

    pub fn name(self) -> &'static str {
        ProofKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .expect("every proof kind is listed in ProofKind::ALL")
    }
}

/// The origin criterion stated on a proof for one good, with China's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginCriterion {
    /// Wholly obtained.
    Wo,
    /// Produced exclusively from originating materials.
    Pe,
    /// Change in tariff classification, level not stated.
    Ctc,
    /// Change of chapter (2 digits): a change in tariff classification stated at its level, as
    /// ACFTA's Form E and many certificates write it.
    Cc,
    /// Change of tariff heading (4 digits).
    Cth,
    /// Change of tariff subheading (6 digits).
    Ctsh,
    /// Regional value content.
    Rvc,
    /// Chemical reaction.
    Cr,
    /// Accumulation.
    Acu,
    /// De minimis.
    Dmi,
}

impl OriginCriterion {
    pub const ALL: [(&'static str, OriginCriterion); 10] = [
        ("WO", OriginCriterion::Wo),
        ("PE", OriginCriterion::Pe),
        ("CTC", OriginCriterion::Ctc),
        ("CC", OriginCriterion::Cc),
        ("CTH", OriginCriterion::Cth),
        ("CTSH", OriginCriterion::Ctsh),
        ("RVC", OriginCriterion::Rvc),
        ("CR", OriginCriterion::Cr),
        ("ACU", OriginCriterion::Acu),
        ("DMI", OriginCriterion::Dmi),
    ];

    /// By its label, ignoring case and surrounding spaces.
    pub fn from_code(raw: &str) -> Option<OriginCriterion> {
        let raw = raw.trim();
        OriginCriterion::ALL
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(raw))
            .map(|(_, c)| *c)
    }

    pub fn code(self) -> &'static str {
        OriginCriterion::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(n, _)| *n)
            .expect("every criterion is listed in OriginCriterion::ALL")
    }
}

impl fmt::Display for OriginCriterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An HS 6-digit subheading as written on a proof of origin.
///
/// Only its shape is checked, not the HS list in force: proofs quote the HS version of the
/// agreement's schedules (RCEP's are in HS 2012), which may differ from the nomenclature of the
/// declaration. Whether it matches the goods item is for the origin engine (see `rules`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hs6(String);

impl Hs6 {
    /// Six digits; dots and spaces (`8517.13`) are dropped, as in commodity codes.
    pub fn parse(path: impl fmt::Display + Copy, raw: &str) -> Result<Hs6, FieldError> {
        let code: String = raw
            .trim()
            .chars()
            .filter(|c| *c != '.' && *c != ' ')
            .collect();
        if code.is_empty() {
            return Err(FieldError::required(path));
        }
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::invalid_format(
                path,
                "a 6-digit HS subheading such as 851713",
                "6 位 HS 子目编码（如 851713）",
            ));
        }
        Ok(Hs6(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hs6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The FOB value of a good on a proof, and the value of its non-originating materials (VNM) in
/// the same currency, for a regional value content `(FOB − VNM) / FOB × 100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofValue {
    pub fob: Decimal,
    pub currency: CurrencyCode,
    pub vnm: Option<Decimal>,
}

/// One good on a proof of origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginProofItem {
    pub hs6: Hs6,
    pub criterion: OriginCriterion,
    pub quantity: Quantity,
    pub value: Option<ProofValue>,
}

/// A proof of origin produced with the declaration: a certificate or an origin declaration, with
/// the goods it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginProof {
    pub agreement: TradeAgreement,
    pub kind: ProofKind,
    /// Unique among the declaration's proofs.
    pub number: String,
    pub issue_date: NaiveDate,
    /// Marked as issued retroactively (补发).
    pub retroactive: bool,
    pub exporter: String,
    pub country_of_origin: CountryCode,
    /// A through bill of lading, or a non-manipulation certificate for goods via a third country.
    pub direct_consignment_evidence: bool,
    /// At least one.
    pub items: Vec<OriginProofItem>,
}

/// A goods item's claim to a preferential rate: the agreement and the good on a proof of the
/// declaration that supports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    pub agreement: TradeAgreement,
    /// The `number` of one of the declaration's `origin_proofs`.
    pub proof_number: String,
    /// 1-based position of the good in that proof's `items`.
    pub proof_item: u32,
}

impl Declaration {
    /// The proof a preference refers to, with the good on it; `None` only for a declaration that
    /// did not pass the rules.
    pub fn proof_for(&self, preference: &Preference) -> Option<(&OriginProof, &OriginProofItem)> {
        let proof = self
            .origin_proofs
            .iter()
            .find(|p| p.number == preference.proof_number && p.agreement == preference.agreement)?;
        let idx = usize::try_from(preference.proof_item)
            .ok()?
            .checked_sub(1)?;
        Some((proof, proof.items.get(idx)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-border e-commerce retail import (跨境电商零售进口).

/// The customs procedures (监管方式) of cross-border e-commerce retail import: 9610 direct
/// purchase (跨境贸易电子商务), 1210 bonded (保税跨境贸易电子商务) and 1239 bonded in cities
/// other than the pilot ones (保税跨境贸易电子商务A). Rules digest
/// `/work/shared/rules/china-import-taxes.md` §2.7 (财关税〔2016〕18号, 财关税〔2018〕49号,
/// 商财发〔2018〕486号). An import under one of them carries a `CbecOrder`; no other declaration does.
pub const CBEC_PROCEDURES: [&str; 3] = ["9610", "1210", "1239"];

/// The kinds of buyer identity document a CBEC order may name, as written in JSON (`id_type`).
/// Only the China resident identity card for now; passports and other documents (for buyers
/// without a resident card) are later work, and will need their kind kept in
/// `BuyerIdentity::Protected` too.
pub const BUYER_ID_TYPES: [&str; 1] = ["resident_id"];

/// A cross-border e-commerce retail order: the consumer's purchase on a CBEC platform that the
/// goods are imported for. The per-transaction and annual limits are applied at assessment, with
/// the buyer's ledger (`store::CbecBooking`), not at parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CbecOrder {
    /// The platform's order number (订单编号): printable text, at most `REFERENCE_LENGTH_MAX`.
    pub order_ref: String,
    /// The e-commerce platform's name or code (电商平台).
    pub platform: String,
    pub buyer: CbecBuyer,
    /// The order is one item that cannot be divided, which may clear as CBEC above the
    /// per-transaction limit at full rates (digest §2.7).
    pub indivisible_item: bool,
}

/// The consumer who bought (订购人).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CbecBuyer {
    pub name: String,
    pub identity: BuyerIdentity,
}

/// The buyer's identity document, as lodged or as stored.
///
/// A trader lodges the number itself (`ResidentId`); customs replaces it by a keyed hash and a
/// masked form (`Protected`) before the declaration is stored, so the number never reaches the
/// append-only audit chain. Both forms parse, so a stored declaration parses back to itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyerIdentity {
    /// A China resident identity card number, as lodged.
    ResidentId(ResidentIdNumber),
    /// The stored form of a resident identity card number: `hash` is 64 lower-case hexadecimal
    /// characters (an HMAC of the number under a key customs keeps), `masked` the number's first 6
    /// and last 4 characters with 8 asterisks between (`ResidentIdNumber::masked`).
    Protected { hash: String, masked: String },
}

impl BuyerIdentity {
    /// The stored form. `keyed_hash` computes the HMAC of the number (it is called only for a
    /// lodged number); `None` when it does not give 64 lower-case hexadecimal characters, as the
    /// stored declaration would then not parse again. A protected identity is returned as it is.
    pub fn protect(&self, keyed_hash: impl FnOnce(&str) -> String) -> Option<BuyerIdentity> {
        match self {
            BuyerIdentity::ResidentId(number) => {
                let hash = keyed_hash(number.as_str());
                is_id_hash(&hash).then(|| BuyerIdentity::Protected {
                    hash,
                    masked: number.masked(),
                })
            }
            protected @ BuyerIdentity::Protected { .. } => Some(protected.clone()),
        }
    }

    /// The masked number, whichever the form.
    pub fn masked(&self) -> String {
        match self {
            BuyerIdentity::ResidentId(number) => number.masked(),
            BuyerIdentity::Protected { masked, .. } => masked.clone(),
        }
    }
}

fn is_id_hash(raw: &str) -> bool {
    raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The stored hash of a buyer's ID number: 64 lower-case hexadecimal characters.
pub fn parse_id_hash(path: impl fmt::Display + Copy, raw: &str) -> Result<String, FieldError> {
    let hash = raw.trim();
    if hash.is_empty() {
        return Err(FieldError::required(path));
    }
    if !is_id_hash(hash) {
        return Err(FieldError::invalid_format(
            path,
            "64 lower-case hexadecimal characters (the keyed hash customs stores in place of the ID number)",
            "64 位小写十六进制字符（海关以其代替证件号码保存的密钥散列值）",
        ));
    }
    Ok(hash.to_owned())
}

/// The stored masked form of a resident identity card number: 6 digits, 8 asterisks, 3 digits and
/// the check character (a digit or an upper-case X), e.g. `110105********002X`.
pub fn parse_id_masked(path: impl fmt::Display + Copy, raw: &str) -> Result<String, FieldError> {
    let masked = raw.trim();
    if masked.is_empty() {
        return Err(FieldError::required(path));
    }
    let b = masked.as_bytes();
    let shape_ok = b.len() == 18
        && b[..6].iter().all(u8::is_ascii_digit)
        && b[6..14].iter().all(|c| *c == b'*')
        && b[14..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X');
    if !shape_ok {
        return Err(FieldError::invalid_format(
            path,
            "a masked resident identity card number: 6 digits, 8 asterisks, 3 digits and a check character (a digit or X)",
            "脱敏的居民身份证号码：6 位数字、8 个星号、3 位数字和校验码（数字或 X）",
        ));
    }
    Ok(masked.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Postal and express articles (进境邮递物品、快件个人物品; 行邮).

/// How a parcel of personal articles came: by post (邮递) or by express (快件).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostalCarrier {
    Post,
    Express,
}

impl PostalCarrier {
    /// As written in JSON (`carrier`).
    pub const ALL: [(&'static str, PostalCarrier); 2] = [
        ("post", PostalCarrier::Post),
        ("express", PostalCarrier::Express),
    ];

    pub fn code(self) -> &'static str {
        match self {
            PostalCarrier::Post => "post",
            PostalCarrier::Express => "express",
        }
    }
}

/// The rate class of an article in the tariff of articles (进境物品进口税税率表): 1, 2 or 3.
/// Which articles are in which class, and their rates by date, are the tariff's (digest §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostalRateClass {
    Class1,
    Class2,
    Class3,
}

impl PostalRateClass {
    pub fn number(self) -> u8 {
        match self {
            PostalRateClass::Class1 => 1,
            PostalRateClass::Class2 => 2,
            PostalRateClass::Class3 => 3,
        }
    }
}

/// One article of a parcel as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalArticle {
    pub description: String,
    pub rate_class: PostalRateClass,
    /// How many of the price table's unit (pieces, kilograms, bottles...): positive.
    pub quantity: Decimal,
    /// The dutiable price per unit in CNY from GACC's price table (进境物品完税价格表), in fen.
    pub unit_dutiable_price: Decimal,
    /// The article cannot be divided (a parcel of one such article may pass above the value
    /// limit).
    pub indivisible: bool,
}

impl PostalArticle {
    /// The article's dutiable price: unit price × quantity, rounded half-up to the fen.
    pub fn dutiable_price(&self) -> Decimal {
        (self.unit_dutiable_price * self.quantity)
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    }
}

/// A parcel of personal articles sent by post or express to a person in China, taxed under the
/// articles regime (digest §2.8). The declaration's other parts stay as for goods: the postal or
/// express operator is the declarant and trader, the items describe the goods for targeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalParcel {
    pub carrier: PostalCarrier,
    /// The country or region the parcel was sent from (HK, MO and TW have a lower limit).
    pub sender_country: CountryCode,
    /// The addressee's name (收件人).
    pub recipient: String,
    pub articles: Vec<PostalArticle>,
}

impl PostalParcel {
    /// Sent from Hong Kong, Macao or Taiwan.
    pub fn from_hk_mo_tw(&self) -> bool {
        matches!(self.sender_country.as_str(), "HK" | "MO" | "TW")
    }
}
