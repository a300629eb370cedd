//! The goods declaration (报关单), aligned with the WCO Data Model's Declaration → GoodsShipment →
//! GoodsItem structure, with China's codes as the first profile.
//!
//! Values of these types are valid by construction: they come out of the boundary parser (`wire`)
//! and the cross-field rules (`rules`), so nothing downstream checks them again.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::codes::{
    CommodityCode, CountryCode, CreditCode, CurrencyCode, CustomsOfficeCode,
    CustomsRegistrationCode, DocumentTypeCode, IncotermCode, LevyModeCode, LevyNatureCode,
    LocationCode, PackageTypeCode, ProcedureCode, TransportModeCode, UnitCode,
};
use crate::numbering::DeclarationNumber;

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
