//! The declaration as JSON (API v1), and its parser into the domain model.
//!
//! The DTO is deliberately lenient (every scalar optional, numbers as text) so that parsing can
//! report every missing or malformed field in one answer instead of stopping at serde's first error.
//! Decimal amounts are strings ("1234.50"); integer JSON numbers are accepted too, fractional JSON
//! numbers are refused, because they pass through binary floating point on the way in.

use std::fmt;

use chrono::NaiveDate;
use domain::codes::{
    CommodityCode, ContainerNumber, CountryCode, CreditCode, CurrencyCode, CustomsRegistrationCode,
    DocumentTypeCode, LevyModeCode, LevyNatureCode, LocationCode, PackageTypeCode,
    ResidentIdNumber, TransportModeCode, UnitCode,
};
use domain::limits::*;
use domain::numbers::{parse_amount, parse_percent, parse_positive, parse_text};
use domain::problem::{FieldPath, PathPrefix};
use domain::{
    AttachedDocument, BUYER_ID_TYPES, BuyerIdentity, CbecBuyer, CbecOrder, Charge, Declaration,
    DeclarationKind, DeclarationNumber, Direction, Enterprise, FieldError, GoodsItem, Hs6, Invoice,
    OriginCriterion, OriginProof, OriginProofItem, OverseasParty, Packages, ParseContext,
    PostalArticle, PostalCarrier, PostalParcel, PostalRateClass, Preference, ProofKind, ProofValue,
    Quantity, TradeAgreement, Transport, TransportDocument, TransportDocumentKind,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A number written as JSON text or a JSON integer; see the module comment for why not a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct NumText(pub String);

/// Marks a fractional JSON number so the parser can refuse it with the field's path, alongside
/// every other error, instead of failing the whole document at the first one.
const FLOAT_MARK: &str = "\u{0}float:";

impl<'de> Deserialize<'de> for NumText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = NumText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal number written as a string, e.g. \"1234.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NumText, E> {
                Ok(NumText(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NumText, E> {
                Ok(NumText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NumText, E> {
                Ok(NumText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NumText, E> {
                Ok(NumText(format!("{FLOAT_MARK}{v}")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl From<Decimal> for NumText {
    fn from(value: Decimal) -> Self {
        NumText(value.to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseDto {
    /// Unified social credit code (统一社会信用代码), 18 characters.
    pub credit_code: Option<String>,
    /// Customs registration code (海关编码), 10 characters.
    pub customs_code: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverseasPartyDto {
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransportDocumentDto {
    /// bill_of_lading, air_waybill, rail_waybill, road_consignment_note or postal_receipt.
    pub kind: Option<String>,
    pub number: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransportDto {
    /// China transport mode code (运输方式), e.g. 2 waterway, 5 air.
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub means_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voyage: Option<String>,
    pub document: Option<TransportDocumentDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departure_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_date: Option<String>,
    /// Container numbers (集装箱号, ISO 6346 with its check digit), e.g. CSQU3054383; none for
    /// goods not containerised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["CSQU3054383"]))]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub currency: Option<String>,
    #[schema(value_type = Option<String>, example = "10000.00")]
    pub amount: Option<NumText>,
}

/// Freight, insurance or other costs: `amount` (total), `rate` (percent of the goods price) or
/// `per_unit` (amount per unit, e.g. per tonne).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeDto {
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub amount: Option<NumText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub percent: Option<NumText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackagesDto {
    #[schema(value_type = Option<String>, example = "10")]
    pub count: Option<NumText>,
    /// UNECE Rec 21 package type, e.g. CT carton.
    pub package_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityDto {
    #[schema(value_type = Option<String>, example = "100")]
    pub value: Option<NumText>,
    /// UNECE Rec 20 unit, e.g. KGM, C62 (piece), LTR.
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentDto {
    #[serde(rename = "type")]
    pub document_type: Option<String>,
    pub number: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoodsItemDto {
    /// HS 6-digit subheading, or the national 8/10-digit line.
    pub commodity_code: Option<String>,
    pub description: Option<String>,
    pub quantity: Option<QuantityDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statutory_quantities: Vec<QuantityDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "100.00")]
    pub unit_price: Option<NumText>,
    #[schema(value_type = Option<String>, example = "10000.00")]
    pub amount: Option<NumText>,
    pub origin_country: Option<String>,
    /// Levy / exemption mode (征免方式), e.g. 1 levy per regulation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levy_mode: Option<String>,
    /// A preferential rate claimed under a trade agreement, resting on one of `origin_proofs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceDto>,
}

/// A goods item's claim to a preferential (conventional) rate (优惠贸易协定享惠).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceDto {
    /// RCEP or ACFTA (or China's 2-digit agreement code, 22 or 02).
    pub agreement: Option<String>,
    /// The `number` of one of the declaration's `origin_proofs`.
    pub proof_number: Option<String>,
    /// 1-based position of the good in that proof's `items`.
    #[schema(value_type = Option<String>, example = "1")]
    pub proof_item: Option<NumText>,
}

/// A proof of origin (原产地证书 or 原产地声明) produced for preferential treatment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginProofDto {
    /// RCEP or ACFTA (or China's 2-digit agreement code, 22 or 02).
    pub agreement: Option<String>,
    /// certificate, approved_exporter_declaration or exporter_declaration.
    pub kind: Option<String>,
    /// The certificate or declaration number; unique among the declaration's proofs.
    pub number: Option<String>,
    /// YYYY-MM-DD.
    pub issue_date: Option<String>,
    /// Marked as issued retroactively (补发); false when absent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retroactive: bool,
    pub exporter: Option<String>,
    /// ISO 3166 alpha-2.
    pub country_of_origin: Option<String>,
    /// A through bill of lading or non-manipulation certificate is produced; false when absent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub direct_consignment_evidence: bool,
    #[serde(default)]
    pub items: Vec<OriginProofItemDto>,
}

/// One good on a proof of origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginProofItemDto {
    /// HS 6-digit subheading as on the proof.
    pub hs6: Option<String>,
    /// WO, PE, CTC (or its level: CC, CTH, CTSH), RVC, CR, ACU or DMI.
    pub criterion: Option<String>,
    pub quantity: Option<QuantityDto>,
    /// FOB value of the good, in `fob_currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "1200.00")]
    pub fob: Option<NumText>,
    /// ISO 4217; required with `fob`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fob_currency: Option<String>,
    /// Value of non-originating materials, in `fob_currency`; only with `fob`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "300.00")]
    pub vnm: Option<NumText>,
}

/// A cross-border e-commerce retail order (跨境电商零售进口订单); on imports under procedure 9610,
/// 1210 or 1239 only, and required there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CbecOrderDto {
    /// The platform's order number (订单编号), at most 64 characters.
    pub order_ref: Option<String>,
    /// The e-commerce platform's name or code (电商平台), at most 100 characters.
    pub platform: Option<String>,
    pub buyer: Option<CbecBuyerDto>,
    /// The order is one item that cannot be divided; false when absent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub indivisible_item: bool,
}

/// The buyer (订购人): the identity card number as lodged (`id_number`), or as customs stores it
/// (`id_hash` and `id_masked`), never both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CbecBuyerDto {
    /// The buyer's name, at most 100 characters.
    pub name: Option<String>,
    /// resident_id (China resident identity card); the only kind so far.
    pub id_type: Option<String>,
    /// The resident identity card number, 18 characters (as lodged).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "11010519491231002X")]
    pub id_number: Option<IdNumberText>,
    /// The keyed hash customs stores in place of the number: 64 lower-case hex (stored form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_hash: Option<String>,
    /// The masked number customs stores, e.g. 110105********002X (stored form).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "110105********002X")]
    pub id_masked: Option<String>,
}

/// A buyer's ID number as JSON text. Personal data: it is never echoed, neither by `Debug` nor by
/// the type error of a JSON number given in its place (serde would quote the number).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IdNumberText(pub String);

impl fmt::Debug for IdNumberText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdNumberText(..)")
    }
}

impl<'de> Deserialize<'de> for IdNumberText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl Visitor {
            fn refuse<E: serde::de::Error>(self) -> Result<IdNumberText, E> {
                Err(E::invalid_type(
                    serde::de::Unexpected::Other("a number"),
                    &self,
                ))
            }
        }
        impl serde::de::Visitor<'_> for Visitor {
            type Value = IdNumberText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the ID number as a JSON string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdNumberText, E> {
                Ok(IdNumberText(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<IdNumberText, E> {
                self.refuse()
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<IdNumberText, E> {
                self.refuse()
            }
            fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<IdNumberText, E> {
                self.refuse()
            }
            fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<IdNumberText, E> {
                self.refuse()
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<IdNumberText, E> {
                self.refuse()
            }
        }
        // `deserialize_any`, so that a number reaches `visit_u64` (and is refused without being
        // quoted) rather than serde_json's own type error, which quotes it.
        deserializer.deserialize_any(Visitor)
    }
}

/// A parcel of personal articles sent by post or express (进境邮递物品、快件个人物品), taxed as
/// articles (行邮税) at the rate of each article's class on its dutiable price from GACC's price
/// table, not as goods; on imports only, never with a `cbec_order`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostalParcelDto {
    /// post (邮递) or express (快件).
    pub carrier: Option<String>,
    /// ISO 3166 code of the country or region the parcel was sent from; HK, MO and TW have the
    /// 800 CNY limit, every other the 1,000 CNY limit.
    #[schema(example = "DE")]
    pub sender_country: Option<String>,
    /// The addressee's name (收件人), at most 100 characters.
    pub recipient: Option<String>,
    /// The articles, 1 to 99.
    #[serde(default)]
    pub articles: Vec<PostalArticleDto>,
}

/// One article of a postal parcel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostalArticleDto {
    /// What the article is, at most 255 characters.
    pub description: Option<String>,
    /// The article's class in the tariff of articles: 1 (13 % since 2019-04-09: books, IT goods,
    /// food, toys, medicines...), 2 (20 %: textiles, sporting goods, appliances, anything not in 1
    /// or 3) or 3 (50 %: tobacco, alcohol, jewellery, high-end watches and cosmetics...).
    #[schema(value_type = Option<String>, example = "2")]
    pub rate_class: Option<NumText>,
    /// How many units of the price table's unit (pieces, kilograms...): positive, at most 5
    /// decimals.
    #[schema(value_type = Option<String>, example = "1")]
    pub quantity: Option<NumText>,
    /// The dutiable price per unit in CNY from GACC's price table (进境物品完税价格表), in fen.
    #[schema(value_type = Option<String>, example = "300.00")]
    pub unit_dutiable_price: Option<NumText>,
    /// The article cannot be divided; false when absent. A parcel of one indivisible article
    /// (quantity 1) may pass above the value limit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub indivisible: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A goods declaration (报关单), version 1 of the JSON form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclarationDto {
    /// import or export.
    pub direction: Option<String>,
    /// ordinary (one step), summary (两步申报 step one) or full (step two, with summary_number).
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_number: Option<String>,
    /// Customs procedure / trade mode (监管方式), e.g. 0110 general trade.
    pub procedure: Option<String>,
    /// Levy nature (征免性质), e.g. 101 general levy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levy_nature: Option<String>,
    pub office_of_lodging: Option<String>,
    pub office_of_entry_exit: Option<String>,
    pub declarant: Option<EnterpriseDto>,
    /// The importer (import) or exporter (export): domestic consignee / consignor.
    pub trader: Option<EnterpriseDto>,
    pub overseas_party: Option<OverseasPartyDto>,
    pub transport: Option<TransportDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch_country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Incoterms code, e.g. FOB, CIF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_terms: Option<String>,
    pub invoice: Option<InvoiceDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freight: Option<ChargeDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insurance: Option<ChargeDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_costs: Option<ChargeDto>,
    pub packages: Option<PackagesDto>,
    #[schema(value_type = Option<String>, example = "1250.5")]
    pub gross_mass_kg: Option<NumText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "1200")]
    pub net_mass_kg: Option<NumText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentDto>,
    /// Proofs of origin for the preferences claimed on the items; at most 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin_proofs: Vec<OriginProofDto>,
    /// The cross-border e-commerce retail order; required on imports under 9610, 1210 or 1239,
    /// refused on every other declaration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cbec_order: Option<CbecOrderDto>,
    /// A parcel of personal articles by post or express, taxed as articles (行邮); imports only,
    /// never with `cbec_order`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_parcel: Option<PostalParcelDto>,
    #[serde(default)]
    pub items: Vec<GoodsItemDto>,
}

/// Collects field errors so that parsing goes on after the first one.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }

    fn required<'a, T>(&mut self, path: impl fmt::Display, value: &'a Option<T>) -> Option<&'a T> {
        if value.is_none() {
            self.0.push(FieldError::required(path));
        }
        value.as_ref()
    }
}

fn num(path: impl fmt::Display + Copy, value: &NumText) -> Result<&str, FieldError> {
    match value.0.strip_prefix(FLOAT_MARK) {
        Some(_) => Err(FieldError::invalid_format(
            path,
            "a decimal written as a JSON string, e.g. \"1234.50\" (fractional JSON numbers lose precision)",
            "以字符串书写的十进制数（如 \"1234.50\"），带小数的 JSON 数字会损失精度",
        )),
        None => Ok(&value.0),
    }
}

fn parse_date(path: impl fmt::Display + Copy, raw: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        FieldError::invalid_format(path, "a date as YYYY-MM-DD", "YYYY-MM-DD 格式的日期")
    })
}

fn parse_count(path: impl fmt::Display + Copy, raw: &NumText) -> Result<u32, FieldError> {
    let text = num(path, raw)?;
    let count: u64 = text
        .trim()
        .parse()
        .map_err(|_| FieldError::invalid_format(path, "a whole number", "整数"))?;
    if count == 0 || count > u64::from(PACKAGES_MAX) {
        return Err(FieldError::out_of_range(
            path,
            &format!("from 1 to {PACKAGES_MAX}"),
            &format!("在 1 到 {PACKAGES_MAX} 之间"),
        ));
    }
    Ok(count as u32)
}

fn optional_text(
    errors: &mut Errors,
    path: impl fmt::Display + Copy,
    raw: &Option<String>,
    length_max: usize,
) -> Option<String> {
    let raw = raw.as_deref()?;
    errors.take(parse_text(path, raw, length_max))
}

/// A parsed value, or `None` when the part had an error (already recorded).
type Parsed<T> = Option<T>;

impl DeclarationDto {
    /// Parses the whole document: every field error, then (if all fields parsed) every cross-field
    /// error, all in one answer.
    pub fn parse(&self, ctx: &ParseContext<'_>) -> Result<Declaration, Vec<FieldError>> {
        let mut errors = Errors::default();
        let declaration = self.parse_fields(&mut errors, ctx);
        match declaration {
            Some(declaration) if errors.0.is_empty() => {
                let cross = domain::rules::check_declaration(&declaration, ctx);
                if cross.is_empty() {
                    Ok(declaration)
                } else {
                    Err(cross)
                }
            }
            _ => Err(errors.0),
        }
    }

    fn parse_fields(&self, errors: &mut Errors, ctx: &ParseContext<'_>) -> Parsed<Declaration> {
        let direction = self.parse_direction(errors);
        let kind = self.parse_kind(errors);
        let procedure =
            self.code::<domain::codes::Procedure>(errors, "procedure", &self.procedure, ctx);
        let levy_nature = self
            .levy_nature
            .as_deref()
            .map(|raw| errors.take(LevyNatureCode::parse("levy_nature", raw, ctx)));
        let office_of_lodging = self.code::<domain::codes::CustomsOffice>(
            errors,
            "office_of_lodging",
            &self.office_of_lodging,
            ctx,
        );
        let office_of_entry_exit = self.code::<domain::codes::CustomsOffice>(
            errors,
            "office_of_entry_exit",
            &self.office_of_entry_exit,
            ctx,
        );
        let declarant = errors
            .required("declarant", &self.declarant)
            .and_then(|e| parse_enterprise(errors, "declarant", e));
        let trader = errors
            .required("trader", &self.trader)
            .and_then(|e| parse_enterprise(errors, "trader", e));
        let overseas_party = errors
            .required("overseas_party", &self.overseas_party)
            .and_then(|p| parse_overseas_party(errors, p, ctx));
        let transport = errors
            .required("transport", &self.transport)
            .and_then(|t| parse_transport(errors, t, ctx));
        let dispatch_country = self.optional_code::<domain::codes::Country>(
            errors,
            "dispatch_country",
            &self.dispatch_country,
            ctx,
        );
        let destination_country = self.optional_code::<domain::codes::Country>(
            errors,
            "destination_country",
            &self.destination_country,
            ctx,
        );
        let port = self
            .port
            .as_deref()
            .map(|raw| errors.take(LocationCode::parse("port", raw, ctx)));
        let transaction_terms = self.optional_code::<domain::codes::Incoterm>(
            errors,
            "transaction_terms",
            &self.transaction_terms,
            ctx,
        );
        let invoice = errors
            .required("invoice", &self.invoice)
            .and_then(|i| parse_invoice(errors, i, ctx));
        let freight = self
            .freight
            .as_ref()
            .map(|c| parse_charge(errors, "freight", c, ctx));
        let insurance = self
            .insurance
            .as_ref()
            .map(|c| parse_charge(errors, "insurance", c, ctx));
        let other_costs = self
            .other_costs
            .as_ref()
            .map(|c| parse_charge(errors, "other_costs", c, ctx));
        let packages = errors
            .required("packages", &self.packages)
            .and_then(|p| parse_packages(errors, p, ctx));
        let gross_mass_kg = errors
            .required("gross_mass_kg", &self.gross_mass_kg)
            .and_then(|m| {
                errors.take(
                    num("gross_mass_kg", m)
                        .and_then(|t| parse_positive("gross_mass_kg", t, QUANTITY_DECIMALS_MAX)),
                )
            });
        let net_mass_kg = self.net_mass_kg.as_ref().map(|m| {
            errors.take(
                num("net_mass_kg", m)
                    .and_then(|t| parse_positive("net_mass_kg", t, QUANTITY_DECIMALS_MAX)),
            )
        });
        let documents = parse_documents(errors, &self.documents, ctx);
        let origin_proofs = parse_origin_proofs(errors, &self.origin_proofs, ctx);
        let cbec_order = self
            .cbec_order
            .as_ref()
            .map(|o| parse_cbec_order(errors, o, ctx));
        let postal_parcel = self
            .postal_parcel
            .as_ref()
            .map(|p| parse_postal_parcel(errors, p, ctx));
        let items = parse_items(errors, &self.items, ctx);
        if !errors.0.is_empty() {
            // The cross-field rules whose fields did parse still run, so one answer lists every problem.
            let net = match &net_mass_kg {
                None => Some(None),
                Some(parsed) => parsed.map(Some),
            };
            if let (Some(gross), Some(net)) = (gross_mass_kg, net) {
                errors.0.extend(domain::rules::mass_errors(gross, net));
            }
            let (departure, arrival) = transport
                .as_ref()
                .map_or((None, None), |t| (t.departure_date, t.arrival_date));
            let invoice_date = invoice.as_ref().and_then(|i| i.date);
            errors.0.extend(domain::rules::date_errors(
                invoice_date,
                departure,
                arrival,
                ctx.on,
            ));
        }
        Some(Declaration {
            direction: direction?,
            kind: kind?,
            procedure: procedure?,
            levy_nature: levy_nature.map(|v| v.ok_or(())).transpose().ok()?,
            office_of_lodging: office_of_lodging?,
            office_of_entry_exit: office_of_entry_exit?,
            declarant: declarant?,
            trader: trader?,
            overseas_party: overseas_party?,
            transport: transport?,
            dispatch_country: dispatch_country.ok()?,
            destination_country: destination_country.ok()?,
            port: port.map(|v| v.ok_or(())).transpose().ok()?,
            transaction_terms: transaction_terms.ok()?,
            invoice: invoice?,
            freight: freight.map(|v| v.ok_or(())).transpose().ok()?,
            insurance: insurance.map(|v| v.ok_or(())).transpose().ok()?,
            other_costs: other_costs.map(|v| v.ok_or(())).transpose().ok()?,
            packages: packages?,
            gross_mass_kg: gross_mass_kg?,
            net_mass_kg: net_mass_kg.map(|v| v.ok_or(())).transpose().ok()?,
            documents: documents?,
            origin_proofs: origin_proofs?,
            cbec_order: cbec_order.map(|v| v.ok_or(())).transpose().ok()?,
            postal_parcel: postal_parcel.map(|v| v.ok_or(())).transpose().ok()?,
            items: items?,
        })
    }

    fn parse_direction(&self, errors: &mut Errors) -> Parsed<Direction> {
        match errors.required("direction", &self.direction)?.trim() {
            "import" => Some(Direction::Import),
            "export" => Some(Direction::Export),
            _ => errors.take(Err(FieldError::invalid_format(
                "direction",
                "import or export",
                "import（进口）或 export（出口）",
            ))),
        }
    }

    fn parse_kind(&self, errors: &mut Errors) -> Parsed<DeclarationKind> {
        let kind = errors.required("kind", &self.kind)?.trim();
        let summary_number = self.summary_number.as_deref();
        match (kind, summary_number) {
            ("ordinary", None) => Some(DeclarationKind::Ordinary),
            ("summary", None) => Some(DeclarationKind::Summary),
            ("full", Some(raw)) => match DeclarationNumber::parse(raw) {
                Some(summary_number) => Some(DeclarationKind::Full { summary_number }),
                None => errors.take(Err(FieldError::invalid_format(
                    "summary_number",
                    "the number of an accepted summary declaration",
                    "已接受的概要申报的海关编号",
                ))),
            },
            ("full", None) => errors.take(Err(FieldError::required("summary_number"))),
            ("ordinary" | "summary", Some(_)) => errors.take(Err(FieldError::not_allowed(
                "summary_number",
                "only a full declaration refers to a summary declaration",
                "只有完整申报才引用概要申报",
            ))),
            _ => errors.take(Err(FieldError::invalid_format(
                "kind",
                "ordinary, summary or full",
                "ordinary（一次申报）、summary（概要申报）或 full（完整申报）",
            ))),
        }
    }

    fn code<K: domain::codes::CodeKind>(
        &self,
        errors: &mut Errors,
        path: &str,
        raw: &Option<String>,
        ctx: &ParseContext<'_>,
    ) -> Parsed<domain::codes::Code<K>> {
        let raw = errors.required(path, raw)?;
        errors.take(domain::codes::Code::<K>::parse(path, raw, ctx))
    }

    /// `Ok(None)` when absent, `Err(())` when present but wrong (error recorded).
    fn optional_code<K: domain::codes::CodeKind>(
        &self,
        errors: &mut Errors,
        path: &str,
        raw: &Option<String>,
        ctx: &ParseContext<'_>,
    ) -> Result<Option<domain::codes::Code<K>>, ()> {
        match raw.as_deref() {
            None => Ok(None),
            Some(raw) => errors
                .take(domain::codes::Code::<K>::parse(path, raw, ctx))
                .map(Some)
                .ok_or(()),
        }
    }
}

fn parse_enterprise(errors: &mut Errors, prefix: &str, dto: &EnterpriseDto) -> Parsed<Enterprise> {
    let at = PathPrefix(prefix);
    let credit_code = errors
        .required(at.field("credit_code"), &dto.credit_code)
        .and_then(|raw| errors.take(CreditCode::parse(at.field("credit_code"), raw)));
    let customs_code = errors
        .required(at.field("customs_code"), &dto.customs_code)
        .and_then(|raw| {
            errors.take(CustomsRegistrationCode::parse(
                at.field("customs_code"),
                raw,
            ))
        });
    let name = errors
        .required(at.field("name"), &dto.name)
        .and_then(|raw| errors.take(parse_text(at.field("name"), raw, TEXT_LENGTH_MAX)));
    Some(Enterprise {
        credit_code: credit_code?,
        customs_code: customs_code?,
        name: name?,
    })
}

fn parse_overseas_party(
    errors: &mut Errors,
    dto: &OverseasPartyDto,
    ctx: &ParseContext<'_>,
) -> Parsed<OverseasParty> {
    let name = errors
        .required("overseas_party.name", &dto.name)
        .and_then(|raw| errors.take(parse_text("overseas_party.name", raw, TEXT_LENGTH_MAX)));
    let country = match dto.country.as_deref() {
        None => Some(None),
        Some(raw) => errors
            .take(CountryCode::parse("overseas_party.country", raw, ctx))
            .map(Some),
    };
    Some(OverseasParty {
        name: name?,
        country: country?,
    })
}

fn parse_transport(
    errors: &mut Errors,
    dto: &TransportDto,
    ctx: &ParseContext<'_>,
) -> Parsed<Transport> {
    let mode = errors
        .required("transport.mode", &dto.mode)
        .and_then(|raw| errors.take(TransportModeCode::parse("transport.mode", raw, ctx)));
    let means_name = optional_text(
        errors,
        "transport.means_name",
        &dto.means_name,
        TEXT_LENGTH_MAX,
    );
    let voyage = optional_text(
        errors,
        "transport.voyage",
        &dto.voyage,
        REFERENCE_LENGTH_MAX,
    );
    let document = errors
        .required("transport.document", &dto.document)
        .and_then(|d| parse_transport_document(errors, d));
    let mut date = |path: &str, raw: &Option<String>| match raw.as_deref() {
        None => Some(None),
        Some(raw) => errors.take(parse_date(path, raw)).map(Some),
    };
    let departure_date = date("transport.departure_date", &dto.departure_date);
    let arrival_date = date("transport.arrival_date", &dto.arrival_date);
    let containers = parse_containers(errors, &dto.containers);
    let means_ok = dto.means_name.is_none() || means_name.is_some();
    let voyage_ok = dto.voyage.is_none() || voyage.is_some();
    (means_ok && voyage_ok).then_some(())?;
    Some(Transport {
        mode: mode?,
        means_name,
        voyage,
        document: document?,
        departure_date: departure_date?,
        arrival_date: arrival_date?,
        containers: containers?,
    })
}

/// `transport.containers`: each an ISO 6346 number (named by its index), none repeated.
fn parse_containers(errors: &mut Errors, raw: &[String]) -> Parsed<Vec<ContainerNumber>> {
    if raw.len() > CONTAINERS_PER_DECLARATION_MAX {
        return errors.take(Err(FieldError::too_many(
            "transport.containers",
            CONTAINERS_PER_DECLARATION_MAX,
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let parsed: Vec<Parsed<ContainerNumber>> = raw
        .iter()
        .enumerate()
        .map(|(idx, text)| {
            let path = format!("transport.containers[{idx}]");
            let number = errors.take(ContainerNumber::parse(path.as_str(), text))?;
            if !seen.insert(number.as_str().to_owned()) {
                return errors.take(Err(FieldError::duplicate(
                    path.as_str(),
                    "a container number",
                    "集装箱号",
                )));
            }
            Some(number)
        })
        .collect();
    parsed.into_iter().collect()
}

fn parse_transport_document(
    errors: &mut Errors,
    dto: &TransportDocumentDto,
) -> Parsed<TransportDocument> {
    let kind = errors.required("transport.document.kind", &dto.kind).and_then(|raw| {
        let kind = TransportDocumentKind::ALL.iter().find(|(name, _)| *name == raw.trim()).map(|(_, k)| *k);
        let expected = "bill_of_lading, air_waybill, rail_waybill, road_consignment_note or postal_receipt";
        errors.take(kind.ok_or_else(|| FieldError::invalid_format("transport.document.kind", expected, expected)))
    });
    let number = errors
        .required("transport.document.number", &dto.number)
        .and_then(|raw| {
            errors.take(parse_text(
                "transport.document.number",
                raw,
                REFERENCE_LENGTH_MAX,
            ))
        });
    Some(TransportDocument {
        kind: kind?,
        number: number?,
    })
}

fn parse_invoice(errors: &mut Errors, dto: &InvoiceDto, ctx: &ParseContext<'_>) -> Parsed<Invoice> {
    let number = optional_text(errors, "invoice.number", &dto.number, REFERENCE_LENGTH_MAX);
    let date = match dto.date.as_deref() {
        None => Some(None),
        Some(raw) => errors.take(parse_date("invoice.date", raw)).map(Some),
    };
    let currency = errors
        .required("invoice.currency", &dto.currency)
        .and_then(|raw| errors.take(CurrencyCode::parse("invoice.currency", raw, ctx)));
    let amount = errors
        .required("invoice.amount", &dto.amount)
        .and_then(|raw| {
            errors.take(
                num("invoice.amount", raw)
                    .and_then(|t| parse_amount("invoice.amount", t, UNIT_PRICE_DECIMALS_MAX)),
            )
        });
    (dto.number.is_none() || number.is_some()).then_some(())?;
    Some(Invoice {
        number,
        date: date?,
        currency: currency?,
        amount: amount?,
    })
}

fn parse_charge(
    errors: &mut Errors,
    prefix: &str,
    dto: &ChargeDto,
    ctx: &ParseContext<'_>,
) -> Parsed<Charge> {
    let at = PathPrefix(prefix);
    let kind = errors
        .required(at.field("kind"), &dto.kind)?
        .trim()
        .to_owned();
    let amount = |errors: &mut Errors| {
        let path = at.field("amount");
        let raw = errors.required(path, &dto.amount)?;
        errors.take(num(path, raw).and_then(|t| parse_amount(path, t, UNIT_PRICE_DECIMALS_MAX)))
    };
    let currency = |errors: &mut Errors| {
        let path = at.field("currency");
        let raw = errors.required(path, &dto.currency)?;
        errors.take(CurrencyCode::parse(path, raw, ctx))
    };
    match kind.as_str() {
        "amount" => {
            let (amount, currency) = (amount(errors), currency(errors));
            Some(Charge::Amount {
                amount: amount?,
                currency: currency?,
            })
        }
        "rate" => {
            let path = at.field("percent");
            let raw = errors.required(path, &dto.percent)?;
            errors
                .take(num(path, raw).and_then(|t| parse_percent(path, t, RATE_DECIMALS_MAX)))
                .map(Charge::RatePercent)
        }
        "per_unit" => {
            let (amount, currency) = (amount(errors), currency(errors));
            let path = at.field("unit");
            let unit = errors
                .required(path, &dto.unit)
                .and_then(|raw| errors.take(UnitCode::parse(path, raw, ctx)));
            Some(Charge::PerUnit {
                amount: amount?,
                currency: currency?,
                unit: unit?,
            })
        }
        _ => errors.take(Err(FieldError::invalid_format(
            at.field("kind"),
            "amount, rate or per_unit",
            "amount（总价）、rate（费率）或 per_unit（单价）",
        ))),
    }
}

fn parse_packages(
    errors: &mut Errors,
    dto: &PackagesDto,
    ctx: &ParseContext<'_>,
) -> Parsed<Packages> {
    let count = errors
        .required("packages.count", &dto.count)
        .and_then(|raw| errors.take(parse_count("packages.count", raw)));
    let package_type = errors
        .required("packages.package_type", &dto.package_type)
        .and_then(|raw| errors.take(PackageTypeCode::parse("packages.package_type", raw, ctx)));
    Some(Packages {
        count: count?,
        package_type: package_type?,
    })
}

fn parse_quantity(
    errors: &mut Errors,
    prefix: impl fmt::Display + Copy,
    dto: &QuantityDto,
    ctx: &ParseContext<'_>,
) -> Parsed<Quantity> {
    let at = PathPrefix(prefix);
    let value = errors
        .required(at.field("value"), &dto.value)
        .and_then(|raw| {
            let path = at.field("value");
            errors.take(num(path, raw).and_then(|t| parse_positive(path, t, QUANTITY_DECIMALS_MAX)))
        });
    let unit = errors
        .required(at.field("unit"), &dto.unit)
        .and_then(|raw| errors.take(UnitCode::parse(at.field("unit"), raw, ctx)));
    Some(Quantity {
        value: value?,
        unit: unit?,
    })
}

fn parse_documents(
    errors: &mut Errors,
    dtos: &[DocumentDto],
    ctx: &ParseContext<'_>,
) -> Parsed<Vec<AttachedDocument>> {
    if dtos.len() > DOCUMENTS_PER_DECLARATION_MAX {
        return errors.take(Err(FieldError::too_many(
            "documents",
            DOCUMENTS_PER_DECLARATION_MAX,
        )));
    }
    let parsed: Vec<Parsed<AttachedDocument>> = dtos
        .iter()
        .enumerate()
        .map(|(idx, dto)| {
            let root = PathPrefix("");
            let at = PathPrefix(root.index("documents", idx));
            let document_type = errors
                .required(at.field("type"), &dto.document_type)
                .and_then(|raw| errors.take(DocumentTypeCode::parse(at.field("type"), raw, ctx)));
            let number = errors
                .required(at.field("number"), &dto.number)
                .and_then(|raw| {
                    errors.take(parse_text(at.field("number"), raw, REFERENCE_LENGTH_MAX))
                });
            Some(AttachedDocument {
                document_type: document_type?,
                number: number?,
            })
        })
        .collect();
    parsed.into_iter().collect()
}

fn parse_items(
    errors: &mut Errors,
    dtos: &[GoodsItemDto],
    ctx: &ParseContext<'_>,
) -> Parsed<Vec<GoodsItem>> {
    if dtos.is_empty() {
        return errors.take(Err(FieldError::too_few("items", 1)));
    }
    if dtos.len() > ITEMS_PER_DECLARATION_MAX {
        return errors.take(Err(FieldError::too_many(
            "items",
            ITEMS_PER_DECLARATION_MAX,
        )));
    }
    let parsed: Vec<Parsed<GoodsItem>> = dtos
        .iter()
        .enumerate()
        .map(|(idx, dto)| parse_item(errors, idx, dto, ctx))
        .collect();
    parsed.into_iter().collect()
}

fn parse_item(
    errors: &mut Errors,
    idx: usize,
    dto: &GoodsItemDto,
    ctx: &ParseContext<'_>,
) -> Parsed<GoodsItem> {
    let root = PathPrefix("");
    let at = PathPrefix(root.index("items", idx));
    let commodity_code = errors
        .required(at.field("commodity_code"), &dto.commodity_code)
        .and_then(|raw| errors.take(CommodityCode::parse(at.field("commodity_code"), raw, ctx)));
    let description = errors
        .required(at.field("description"), &dto.description)
        .and_then(|raw| errors.take(parse_text(at.field("description"), raw, TEXT_LENGTH_MAX)));
    let quantity = errors
        .required(at.field("quantity"), &dto.quantity)
        .and_then(|q| parse_quantity(errors, at.field("quantity"), q, ctx));
    let statutory_quantities =
        parse_statutory_quantities(errors, &at, &dto.statutory_quantities, ctx);
    let unit_price = dto.unit_price.as_ref().map(|raw| {
        let path = at.field("unit_price");
        errors.take(num(path, raw).and_then(|t| parse_amount(path, t, UNIT_PRICE_DECIMALS_MAX)))
    });
    let amount = errors
        .required(at.field("amount"), &dto.amount)
        .and_then(|raw| {
            let path = at.field("amount");
            errors.take(num(path, raw).and_then(|t| parse_amount(path, t, UNIT_PRICE_DECIMALS_MAX)))
        });
    let origin_country = errors
        .required(at.field("origin_country"), &dto.origin_country)
        .and_then(|raw| errors.take(CountryCode::parse(at.field("origin_country"), raw, ctx)));
    let levy_mode = dto
        .levy_mode
        .as_deref()
        .map(|raw| errors.take(LevyModeCode::parse(at.field("levy_mode"), raw, ctx)));
    let preference = dto
        .preference
        .as_ref()
        .map(|p| parse_preference(errors, at.field("preference"), p));
    Some(GoodsItem {
        commodity_code: commodity_code?,
        description: description?,
        quantity: quantity?,
        statutory_quantities: statutory_quantities?,
        unit_price: unit_price.map(|v| v.ok_or(())).transpose().ok()?,
        amount: amount?,
        origin_country: origin_country?,
        levy_mode: levy_mode.map(|v| v.ok_or(())).transpose().ok()?,
        preference: preference.map(|v| v.ok_or(())).transpose().ok()?,
    })
}

fn parse_statutory_quantities(
    errors: &mut Errors,
    at: &PathPrefix<FieldPath<'_, &str>>,
    dtos: &[QuantityDto],
    ctx: &ParseContext<'_>,
) -> Parsed<Vec<Quantity>> {
    if dtos.len() > STATUTORY_QUANTITIES_MAX {
        return errors.take(Err(FieldError::too_many(
            at.field("statutory_quantities"),
            STATUTORY_QUANTITIES_MAX,
        )));
    }
    let parsed: Vec<Parsed<Quantity>> = dtos
        .iter()
        .enumerate()
        .map(|(idx, q)| parse_quantity(errors, at.index("statutory_quantities", idx), q, ctx))
        .collect();
    parsed.into_iter().collect()
}

const AGREEMENT_EXPECTED_EN: &str = "RCEP or ACFTA (or China's agreement code 22 or 02)";
const AGREEMENT_EXPECTED_ZH: &str = "RCEP 或 ACFTA（或优惠贸易协定代码 22、02）";

fn parse_agreement(
    path: impl fmt::Display + Copy,
    raw: &str,
) -> Result<TradeAgreement, FieldError> {
    TradeAgreement::from_code(raw).ok_or_else(|| {
        FieldError::invalid_format(path, AGREEMENT_EXPECTED_EN, AGREEMENT_EXPECTED_ZH)
    })
}

/// A 1-based position among at most `ITEMS_PER_ORIGIN_PROOF_MAX` goods on a proof. Whether the
/// proof has that many is a cross-field rule.
fn parse_position(path: impl fmt::Display + Copy, raw: &NumText) -> Result<u32, FieldError> {
    let text = num(path, raw)?;
    let position: u64 = text
        .trim()
        .parse()
        .map_err(|_| FieldError::invalid_format(path, "a whole number", "整数"))?;
    if position == 0 || position > ITEMS_PER_ORIGIN_PROOF_MAX as u64 {
        return Err(FieldError::out_of_range(
            path,
            &format!("from 1 to {ITEMS_PER_ORIGIN_PROOF_MAX}"),
            &format!("在 1 到 {ITEMS_PER_ORIGIN_PROOF_MAX} 之间"),
        ));
    }
    Ok(position as u32)
}

fn parse_preference(
    errors: &mut Errors,
    prefix: impl fmt::Display + Copy,
    dto: &PreferenceDto,
) -> Parsed<Preference> {
    let at = PathPrefix(prefix);
    let agreement = errors
        .required(at.field("agreement"), &dto.agreement)
        .and_then(|raw| errors.take(parse_agreement(at.field("agreement"), raw)));
    let proof_number = errors
        .required(at.field("proof_number"), &dto.proof_number)
        .and_then(|raw| {
            errors.take(parse_text(
                at.field("proof_number"),
                raw,
                REFERENCE_LENGTH_MAX,
            ))
        });
    let proof_item = errors
        .required(at.field("proof_item"), &dto.proof_item)
        .and_then(|raw| errors.take(parse_position(at.field("proof_item"), raw)));
    Some(Preference {
        agreement: agreement?,
        proof_number: proof_number?,
        proof_item: proof_item?,
    })
}

fn parse_origin_proofs(
    errors: &mut Errors,
    dtos: &[OriginProofDto],
    ctx: &ParseContext<'_>,
) -> Parsed<Vec<OriginProof>> {
    if dtos.len() > ORIGIN_PROOFS_PER_DECLARATION_MAX {
        return errors.take(Err(FieldError::too_many(
            "origin_proofs",
            ORIGIN_PROOFS_PER_DECLARATION_MAX,
        )));
    }
    let parsed: Vec<Parsed<OriginProof>> = dtos
        .iter()
        .enumerate()
        .map(|(idx, dto)| parse_origin_proof(errors, idx, dto, ctx))
        .collect();
    parsed.into_iter().collect()
}

fn parse_origin_proof(
    errors: &mut Errors,
    idx: usize,
    dto: &OriginProofDto,
    ctx: &ParseContext<'_>,
) -> Parsed<OriginProof> {
    let root = PathPrefix("");
    let at = PathPrefix(root.index("origin_proofs", idx));
    let agreement = errors
        .required(at.field("agreement"), &dto.agreement)
        .and_then(|raw| errors.take(parse_agreement(at.field("agreement"), raw)));
    let kind =
        errors
            .required(at.field("kind"), &dto.kind)
            .and_then(|raw| {
                let expected = "certificate, approved_exporter_declaration or exporter_declaration";
                errors.take(ProofKind::from_name(raw).ok_or_else(|| {
                    FieldError::invalid_format(at.field("kind"), expected, expected)
                }))
            });
    let number = errors
        .required(at.field("number"), &dto.number)
        .and_then(|raw| errors.take(parse_text(at.field("number"), raw, REFERENCE_LENGTH_MAX)));
    let issue_date = errors
        .required(at.field("issue_date"), &dto.issue_date)
        .and_then(|raw| errors.take(parse_date(at.field("issue_date"), raw)));
    let exporter = errors
        .required(at.field("exporter"), &dto.exporter)
        .and_then(|raw| {
            errors.take(parse_text(
                at.field("exporter"),
                raw,
                PROOF_EXPORTER_LENGTH_MAX,
            ))
        });
    let country_of_origin = errors
        .required(at.field("country_of_origin"), &dto.country_of_origin)
        .and_then(|raw| errors.take(CountryCode::parse(at.field("country_of_origin"), raw, ctx)));
    let items = parse_origin_proof_items(errors, &at, &dto.items, ctx);
    Some(OriginProof {
        agreement: agreement?,
        kind: kind?,
        number: number?,
        issue_date: issue_date?,
        retroactive: dto.retroactive,
        exporter: exporter?,
        country_of_origin: country_of_origin?,
        direct_consignment_evidence: dto.direct_consignment_evidence,
        items: items?,
    })
}

fn parse_origin_proof_items(
    errors: &mut Errors,
    at: &PathPrefix<FieldPath<'_, &str>>,
    dtos: &[OriginProofItemDto],
    ctx: &ParseContext<'_>,
) -> Parsed<Vec<OriginProofItem>> {
    if dtos.is_empty() {
        return errors.take(Err(FieldError::too_few(at.field("items"), 1)));
    }
    if dtos.len() > ITEMS_PER_ORIGIN_PROOF_MAX {
        return errors.take(Err(FieldError::too_many(
            at.field("items"),
            ITEMS_PER_ORIGIN_PROOF_MAX,
        )));
    }
    let parsed: Vec<Parsed<OriginProofItem>> = dtos
        .iter()
        .enumerate()
        .map(|(idx, dto)| {
            let item = PathPrefix(at.index("items", idx));
            parse_origin_proof_item(errors, &item, dto, ctx)
        })
        .collect();
    parsed.into_iter().collect()
}

fn parse_origin_proof_item<P: fmt::Display>(
    errors: &mut Errors,
    at: &PathPrefix<P>,
    dto: &OriginProofItemDto,
    ctx: &ParseContext<'_>,
) -> Parsed<OriginProofItem> {
    let hs6 = errors
        .required(at.field("hs6"), &dto.hs6)
        .and_then(|raw| errors.take(Hs6::parse(at.field("hs6"), raw)));
    let criterion = errors
        .required(at.field("criterion"), &dto.criterion)
        .and_then(|raw| {
            let expected = "WO, PE, CTC, CC, CTH, CTSH, RVC, CR, ACU or DMI";
            errors.take(OriginCriterion::from_code(raw).ok_or_else(|| {
                FieldError::invalid_format(at.field("criterion"), expected, expected)
            }))
        });
    let quantity = errors
        .required(at.field("quantity"), &dto.quantity)
        .and_then(|q| parse_quantity(errors, at.field("quantity"), q, ctx));
    let value = parse_proof_value(errors, at, dto, ctx);
    Some(OriginProofItem {
        hs6: hs6?,
        criterion: criterion?,
        quantity: quantity?,
        value: value?,
    })
}

/// `fob` with its `fob_currency`, and `vnm` in that currency: a currency or a VNM without the FOB
/// value it belongs to is refused.
fn parse_proof_value<P: fmt::Display>(
    errors: &mut Errors,
    at: &PathPrefix<P>,
    dto: &OriginProofItemDto,
    ctx: &ParseContext<'_>,
) -> Parsed<Option<ProofValue>> {
    let amount = |errors: &mut Errors, name: &'static str, raw: &NumText| {
        let path = at.field(name);
        errors.take(num(path, raw).and_then(|t| parse_amount(path, t, UNIT_PRICE_DECIMALS_MAX)))
    };
    let Some(fob_raw) = &dto.fob else {
        let without_fob = |errors: &mut Errors, name: &str, what_en: &str, what_zh: &str| {
            errors.take::<()>(Err(FieldError::not_allowed(
                at.field(name),
                &format!("{what_en} is given only with the FOB value (fob)"),
                &format!("{what_zh}须与离岸价格（fob）一并填写"),
            )))
        };
        let mut ok = true;
        if dto.fob_currency.is_some() {
            ok &= without_fob(errors, "fob_currency", "its currency", "币制").is_some();
        }
        if dto.vnm.is_some() {
            ok &= without_fob(
                errors,
                "vnm",
                "the value of non-originating materials",
                "非原产材料价格",
            )
            .is_some();
        }
        return ok.then_some(None);
    };
    let fob = amount(errors, "fob", fob_raw);
    let currency = errors
        .required(at.field("fob_currency"), &dto.fob_currency)
        .and_then(|raw| errors.take(CurrencyCode::parse(at.field("fob_currency"), raw, ctx)));
    let vnm = dto.vnm.as_ref().map(|raw| amount(errors, "vnm", raw));
    Some(Some(ProofValue {
        fob: fob?,
        currency: currency?,
        vnm: vnm.map(|v| v.ok_or(())).transpose().ok()?,
    }))
}

fn parse_cbec_order(
    errors: &mut Errors,
    dto: &CbecOrderDto,
    ctx: &ParseContext<'_>,
) -> Parsed<CbecOrder> {
    let at = PathPrefix("cbec_order");
    let order_ref = errors
        .required(at.field("order_ref"), &dto.order_ref)
        .and_then(|raw| errors.take(parse_text(at.field("order_ref"), raw, REFERENCE_LENGTH_MAX)));
    let platform = errors
        .required(at.field("platform"), &dto.platform)
        .and_then(|raw| {
            errors.take(parse_text(
                at.field("platform"),
                raw,
                CBEC_PLATFORM_LENGTH_MAX,
            ))
        });
    let buyer = errors
        .required(at.field("buyer"), &dto.buyer)
        .and_then(|b| parse_cbec_buyer(errors, b, ctx));
    Some(CbecOrder {
        order_ref: order_ref?,
        platform: platform?,
        buyer: buyer?,
        indivisible_item: dto.indivisible_item,
    })
}

fn parse_cbec_buyer(
    errors: &mut Errors,
    dto: &CbecBuyerDto,
    ctx: &ParseContext<'_>,
) -> Parsed<CbecBuyer> {
    let at = PathPrefix("cbec_order.buyer");
    let name = errors
        .required(at.field("name"), &dto.name)
        .and_then(|raw| {
            errors.take(parse_text(
                at.field("name"),
                raw,
                CBEC_BUYER_NAME_LENGTH_MAX,
            ))
        });
    let id_type = errors
        .required(at.field("id_type"), &dto.id_type)
        .and_then(|raw| {
            let known = BUYER_ID_TYPES.contains(&raw.trim());
            errors.take(known.then_some(()).ok_or_else(|| {
                FieldError::invalid_format(
                    at.field("id_type"),
                    "resident_id (China resident identity card)",
                    "resident_id（居民身份证）",
                )
            }))
        });
    // The number's rules depend on the kind of document: without a known kind, they are not run.
    let identity = id_type.and_then(|()| parse_buyer_identity(errors, &at, dto, ctx));
    Some(CbecBuyer {
        name: name?,
        identity: identity?,
    })
}

/// The number as lodged, or the hash and masked number as stored: exactly one of the two forms.
fn parse_buyer_identity(
    errors: &mut Errors,
    at: &PathPrefix<&str>,
    dto: &CbecBuyerDto,
    ctx: &ParseContext<'_>,
) -> Parsed<BuyerIdentity> {
    if let Some(raw) = &dto.id_number {
        let number = errors.take(ResidentIdNumber::parse(
            at.field("id_number"),
            &raw.0,
            ctx.on,
        ));
        let mut both = false;
        for (name, present) in [
            ("id_hash", dto.id_hash.is_some()),
            ("id_masked", dto.id_masked.is_some()),
        ] {
            if present {
                both = true;
                errors.take::<()>(Err(FieldError::not_allowed(
                    at.field(name),
                    "give the ID number (id_number) or its stored form (id_hash with id_masked), not both",
                    "证件号码（id_number）与其存储形式（id_hash 和 id_masked）只能填写其一",
                )));
            }
        }
        return number.filter(|_| !both).map(BuyerIdentity::ResidentId);
    }
    if dto.id_hash.is_none() && dto.id_masked.is_none() {
        return errors.take(Err(FieldError::required(at.field("id_number"))));
    }
    let hash = errors
        .required(at.field("id_hash"), &dto.id_hash)
        .and_then(|raw| errors.take(domain::parse_id_hash(at.field("id_hash"), raw)));
    let masked = errors
        .required(at.field("id_masked"), &dto.id_masked)
        .and_then(|raw| errors.take(domain::parse_id_masked(at.field("id_masked"), raw)));
    Some(BuyerIdentity::Protected {
        hash: hash?,
        masked: masked?,
    })
}

/// Decimal places of a postal article's unit dutiable price: CNY in fen.
const POSTAL_PRICE_DECIMALS_MAX: u32 = 2;

fn parse_postal_parcel(
    errors: &mut Errors,
    dto: &PostalParcelDto,
    ctx: &ParseContext<'_>,
) -> Parsed<PostalParcel> {
    let at = PathPrefix("postal_parcel");
    let carrier = errors
        .required(at.field("carrier"), &dto.carrier)
        .and_then(|raw| {
            let found = PostalCarrier::ALL
                .iter()
                .find(|(code, _)| *code == raw.trim())
                .map(|(_, carrier)| *carrier);
            errors.take(found.ok_or_else(|| {
                FieldError::invalid_format(
                    at.field("carrier"),
                    "post or express",
                    "post（邮递）或 express（快件）",
                )
            }))
        });
    let sender_country = errors
        .required(at.field("sender_country"), &dto.sender_country)
        .and_then(|raw| errors.take(CountryCode::parse(at.field("sender_country"), raw, ctx)));
    let recipient = errors
        .required(at.field("recipient"), &dto.recipient)
        .and_then(|raw| {
            errors.take(parse_text(
                at.field("recipient"),
                raw,
                POSTAL_RECIPIENT_LENGTH_MAX,
            ))
        });
    let articles = if dto.articles.is_empty() {
        errors.take(Err(FieldError::too_few(at.field("articles"), 1)))
    } else if dto.articles.len() > POSTAL_ARTICLES_PER_PARCEL_MAX {
        errors.take(Err(FieldError::too_many(
            at.field("articles"),
            POSTAL_ARTICLES_PER_PARCEL_MAX,
        )))
    } else {
        let parsed: Vec<Parsed<PostalArticle>> = dto
            .articles
            .iter()
            .enumerate()
            .map(|(idx, a)| parse_postal_article(errors, idx, a))
            .collect();
        parsed.into_iter().collect()
    };
    Some(PostalParcel {
        carrier: carrier?,
        sender_country: sender_country?,
        recipient: recipient?,
        articles: articles?,
    })
}

fn parse_postal_article(
    errors: &mut Errors,
    idx: usize,
    dto: &PostalArticleDto,
) -> Parsed<PostalArticle> {
    let parcel = PathPrefix("postal_parcel");
    let at = PathPrefix(parcel.index("articles", idx));
    let description = errors
        .required(at.field("description"), &dto.description)
        .and_then(|raw| errors.take(parse_text(at.field("description"), raw, TEXT_LENGTH_MAX)));
    let rate_class = errors
        .required(at.field("rate_class"), &dto.rate_class)
        .and_then(|raw| {
            let class = num(at.field("rate_class"), raw).and_then(|text| match text.trim() {
                "1" => Ok(PostalRateClass::Class1),
                "2" => Ok(PostalRateClass::Class2),
                "3" => Ok(PostalRateClass::Class3),
                _ => Err(FieldError::invalid_format(
                    at.field("rate_class"),
                    "1, 2 or 3, the article's class in the tariff of articles",
                    "1、2 或 3，物品在进境物品进口税税率表中的税目类别",
                )),
            });
            errors.take(class)
        });
    let quantity = errors
        .required(at.field("quantity"), &dto.quantity)
        .and_then(|raw| {
            errors.take(
                num(at.field("quantity"), raw)
                    .and_then(|t| parse_positive(at.field("quantity"), t, QUANTITY_DECIMALS_MAX)),
            )
        });
    let unit_dutiable_price = errors
        .required(at.field("unit_dutiable_price"), &dto.unit_dutiable_price)
        .and_then(|raw| {
            errors.take(num(at.field("unit_dutiable_price"), raw).and_then(|t| {
                parse_amount(
                    at.field("unit_dutiable_price"),
                    t,
                    POSTAL_PRICE_DECIMALS_MAX,
                )
            }))
        });
    let article = PostalArticle {
        description: description?,
        rate_class: rate_class?,
        quantity: quantity?,
        unit_dutiable_price: unit_dutiable_price?,
        indivisible: dto.indivisible,
    };
    // Within AMOUNT_MAX each, but their product could be far beyond any parcel.
    if article.unit_dutiable_price * article.quantity > Decimal::from(AMOUNT_MAX) {
        return errors.take(Err(FieldError::out_of_range(
            at.field("quantity"),
            &format!("a quantity whose dutiable price is at most {AMOUNT_MAX} CNY"),
            &format!("完税价格合计不超过 {AMOUNT_MAX} 元的数量"),
        )));
    }
    Some(article)
}
