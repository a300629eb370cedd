//! The China profile's mapping between the platform's JSON declaration (`wire::DeclarationDto`)
//! and the WCO Data Model 3.6 declaration (HMRC's DMS schema): one table, read by the parser, the
//! renderer and the translation of a JSON path into a WCO element path, so the three cannot
//! disagree. `docs/wco-mapping.md` is the same table for people.
//!
//! Paths: JSON paths are written as the JSON parser names fields (`items[*].origin_country`,
//! `[*]` for every index). WCO paths are relative to `Declaration`; a segment is an element name,
//! `Name[#n]` (the n-th JSON index, by position among that element's siblings), `Name[Key=Text]`
//! (the sibling whose child `Key` holds `Text`, in which `{n}` stands for the n-th JSON index,
//! counted from 1), or `@attribute` (last only).

use serde_json::{Map, Value};

use crate::schema_order::DECLARATION_ORDER;

/// How a value is written in the WCO message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// As is.
    Text,
    /// `import` / `export` as the first two letters of `TypeCode` (DE 1/1: IM, EX).
    Direction,
    /// `ordinary` / `summary` / `full` as the letter after them (DE 1/2: A, Y, Z).
    Kind,
    /// YYYY-MM-DD as `DateTimeString formatCode="102"` (CCYYMMDD).
    Date,
    /// A true flag as 1 (absent when false).
    Flag,
    /// The goods item number (1, 2, ...), which must follow document order.
    Sequence,
    /// The number of goods items (DE 1/9), checked against the items.
    ItemCount,
    /// Function code 9 (original); the only one this route takes.
    Original,
    /// The transport document's kind as a UN/EDIFACT 1001 document code.
    TransportDocumentKind,
    /// An object (or array member) carried by an element of its own, written even when empty.
    Group,
    /// Only where the JSON path's refusals point to; nothing is read or written.
    Locator,
}

/// Rows that apply to one direction only: which party is the exporter depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    Import,
    Export,
}

#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub json: &'static str,
    pub wco: &'static str,
    pub codec: Codec,
    pub when: When,
    /// The WCO data element (WCO ID) or the CDS data element (DE n/n), for the documentation.
    pub element: &'static str,
}

const fn row(json: &'static str, wco: &'static str, codec: Codec, element: &'static str) -> Row {
    Row {
        json,
        wco,
        codec,
        when: When::Always,
        element,
    }
}

const fn import(json: &'static str, wco: &'static str, codec: Codec, element: &'static str) -> Row {
    Row {
        json,
        wco,
        codec,
        when: When::Import,
        element,
    }
}

const fn export(json: &'static str, wco: &'static str, codec: Codec, element: &'static str) -> Row {
    Row {
        json,
        wco,
        codec,
        when: When::Export,
        element,
    }
}

use Codec::*;

/// A national statement (China profile) in the declaration's `AdditionalInformation`, keyed by
/// its `StatementCode`. Written as a macro so the paths stay string literals.
macro_rules! statement {
    ($key:literal) => {
        concat!(
            "AdditionalInformation[StatementCode=",
            $key,
            "]/StatementDescription"
        )
    };
}
/// An object with no element of its own: a statement with its code only, so that an empty one is
/// still written and read back.
macro_rules! group {
    ($key:literal) => {
        concat!("AdditionalInformation[StatementCode=", $key, "]")
    };
}
macro_rules! item_group {
    ($key:literal) => {
        concat!(
            "GoodsShipment/GovernmentAgencyGoodsItem[#1]/AdditionalInformation[StatementCode=",
            $key,
            "]"
        )
    };
}
macro_rules! item_statement {
    ($key:literal) => {
        concat!(
            "GoodsShipment/GovernmentAgencyGoodsItem[#1]/AdditionalInformation[StatementCode=",
            $key,
            "]/StatementDescription"
        )
    };
}

/// The table. Its order is also the order in which a refusal's JSON path finds its row (the first
/// that matches), so a `Locator` comes before the rows it stands for.
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    row("", "", Locator, "42A"),
    row("", "FunctionCode", Original, "017"),
    row("direction", "TypeCode", Direction, "D013 / DE 1/1"),
    row("kind", "TypeCode", Kind, "D013 / DE 1/2"),
    row("items", "GoodsShipment/GovernmentAgencyGoodsItem", Locator, "68A"),
    row("items", "GoodsItemQuantity", ItemCount, "228 / DE 1/9"),
    row("office_of_lodging", "DeclarationOfficeID", Text, "065"),
    row("invoice.amount", "InvoiceAmount", Text, "109 / DE 4/11"),
    row("invoice.currency", "InvoiceAmount/@currencyID", Text, "109 / DE 4/10"),
    row("gross_mass_kg", "TotalGrossMassMeasure", Text, "131 / DE 6/5"),
    row("packages", group!("PACKAGES"), Group, "03A/226 (件数与包装)"),
    row("packages.count", "TotalPackageQuantity", Text, "146 / DE 6/18"),
    row("documents[*]", "AdditionalDocument[#1]", Group, "02A / DE 2/3"),
    row("documents[*].number", "AdditionalDocument[#1]/ID", Text, "D005"),
    row("documents[*].type", "AdditionalDocument[#1]/TypeCode", Text, "D006"),
    row("procedure", statement!("PROCEDURE"), Text, "03A/225 (监管方式)"),
    row("levy_nature", statement!("LEVY-NATURE"), Text, "03A/225 (征免性质)"),
    row("summary_number", statement!("SUMMARY-NUMBER"), Text, "03A/225 (概要申报编号)"),
    row("declarant.credit_code", statement!("DECLARANT-USCC"), Text, "03A/225 (统一社会信用代码)"),
    row("trader.credit_code", statement!("TRADER-USCC"), Text, "03A/225 (统一社会信用代码)"),
    row("transport.voyage", statement!("VOYAGE"), Text, "03A/225 (航次号)"),
    row("transport.departure_date", statement!("DEPARTURE-DATE"), Text, "03A/225 (启运日期)"),
    row("transport.arrival_date", statement!("ARRIVAL-DATE"), Text, "03A/225 (进境日期)"),
    export("port", statement!("DESTINATION-PORT"), Text, "03A/225 (指运港)"),
    row("net_mass_kg", statement!("NET-MASS-KG"), Text, "03A/225 (净重)"),
    row("packages.package_type", statement!("PACKAGE-TYPE"), Text, "03A/225 (包装种类)"),
    row("freight.kind", statement!("FREIGHT-KIND"), Text, "03A/225"),
    row("freight.percent", statement!("FREIGHT-PERCENT"), Text, "03A/225"),
    row("freight.unit", statement!("FREIGHT-UNIT"), Text, "03A/225"),
    row("insurance.kind", statement!("INSURANCE-KIND"), Text, "03A/225"),
    row("insurance.percent", statement!("INSURANCE-PERCENT"), Text, "03A/225"),
    row("insurance.unit", statement!("INSURANCE-UNIT"), Text, "03A/225"),
    row("other_costs.kind", statement!("OTHER-KIND"), Text, "03A/225"),
    row("other_costs.percent", statement!("OTHER-PERCENT"), Text, "03A/225"),
    row("other_costs.unit", statement!("OTHER-UNIT"), Text, "03A/225"),
    row("origin_proofs[*]", group!("OP{1}"), Group, "03A/226 (原产地证明)"),
    row("origin_proofs[*].agreement", statement!("OP{1}-AGREEMENT"), Text, "03A/225"),
    row("origin_proofs[*].kind", statement!("OP{1}-KIND"), Text, "03A/225"),
    row("origin_proofs[*].number", statement!("OP{1}-NUMBER"), Text, "03A/225"),
    row("origin_proofs[*].issue_date", statement!("OP{1}-ISSUE-DATE"), Text, "03A/225"),
    row("origin_proofs[*].retroactive", statement!("OP{1}-RETRO"), Flag, "03A/225"),
    row("origin_proofs[*].exporter", statement!("OP{1}-EXPORTER"), Text, "03A/225"),
    row("origin_proofs[*].country_of_origin", statement!("OP{1}-ORIGIN"), Text, "03A/225"),
    row("origin_proofs[*].direct_consignment_evidence", statement!("OP{1}-DIRECT"), Flag, "03A/225"),
    row("origin_proofs[*].items[*]", group!("OP{1}-I{2}"), Group, "03A/226"),
    row("origin_proofs[*].items[*].quantity", group!("OP{1}-I{2}-Q"), Group, "03A/226"),
    row("origin_proofs[*].items[*].hs6", statement!("OP{1}-I{2}-HS6"), Text, "03A/225"),
    row("origin_proofs[*].items[*].criterion", statement!("OP{1}-I{2}-CRIT"), Text, "03A/225"),
    row("origin_proofs[*].items[*].quantity.value", statement!("OP{1}-I{2}-QTY"), Text, "03A/225"),
    row("origin_proofs[*].items[*].quantity.unit", statement!("OP{1}-I{2}-UNIT"), Text, "03A/225"),
    row("origin_proofs[*].items[*].fob", statement!("OP{1}-I{2}-FOB"), Text, "03A/225"),
    row("origin_proofs[*].items[*].fob_currency", statement!("OP{1}-I{2}-FOBCUR"), Text, "03A/225"),
    row("origin_proofs[*].items[*].vnm", statement!("OP{1}-I{2}-VNM"), Text, "03A/225"),
    row("cbec_order", group!("CBEC-ORDER"), Group, "03A/226 (跨境电商订单)"),
    row("cbec_order.order_ref", statement!("CBEC-ORDER-REF"), Text, "03A/225"),
    row("cbec_order.platform", statement!("CBEC-PLATFORM"), Text, "03A/225"),
    row("cbec_order.indivisible_item", statement!("CBEC-INDIVISIBLE"), Flag, "03A/225"),
    row("cbec_order.buyer.id_type", statement!("CBEC-ID-TYPE"), Text, "03A/225"),
    row("cbec_order.buyer.id_number", statement!("CBEC-ID-NUMBER"), Text, "03A/225"),
    row("cbec_order.buyer.id_hash", statement!("CBEC-ID-HASH"), Text, "03A/225"),
    row("cbec_order.buyer.id_masked", statement!("CBEC-ID-MASKED"), Text, "03A/225"),
    row("postal_parcel", group!("POSTAL"), Group, "03A/226 (进境邮递物品)"),
    row("postal_parcel.carrier", statement!("POSTAL-CARRIER"), Text, "03A/225"),
    row("postal_parcel.sender_country", statement!("POSTAL-SENDER"), Text, "03A/225"),
    row("postal_parcel.recipient", statement!("POSTAL-RECIPIENT"), Text, "03A/225"),
    row("postal_parcel.articles[*]", group!("PA{1}"), Group, "03A/226"),
    row("postal_parcel.articles[*].description", statement!("PA{1}-DESC"), Text, "03A/225"),
    row("postal_parcel.articles[*].rate_class", statement!("PA{1}-CLASS"), Text, "03A/225"),
    row("postal_parcel.articles[*].quantity", statement!("PA{1}-QTY"), Text, "03A/225"),
    row("postal_parcel.articles[*].unit_dutiable_price", statement!("PA{1}-PRICE"), Text, "03A/225"),
    row("postal_parcel.articles[*].indivisible", statement!("PA{1}-INDIVISIBLE"), Flag, "03A/225"),
    row("transport", "BorderTransportMeans", Group, "15A"),
    row("transport.means_name", "BorderTransportMeans/Name", Text, "T005 / DE 7/14"),
    row("transport.mode", "BorderTransportMeans/ModeCode", Text, "T022 / DE 7/4"),
    row("declarant", "Declarant", Group, "57B / DE 3/17"),
    row("declarant.name", "Declarant/Name", Text, "R124"),
    row("declarant.customs_code", "Declarant/ID", Text, "R123 / DE 3/18"),
    import("office_of_entry_exit", "PresentationOffice/ID", Text, "G015 / DE 5/26"),
    export("office_of_entry_exit", "ExitOffice/ID", Text, "G005 / DE 5/12"),
    import("overseas_party", "Exporter", Group, "57A / DE 3/1"),
    import("overseas_party.name", "Exporter/Name", Text, "R031"),
    import("overseas_party.country", "Exporter/Address/CountryCode", Text, "242"),
    export("trader", "Exporter", Group, "57A / DE 3/2"),
    export("trader.name", "Exporter/Name", Text, "R031"),
    export("trader.customs_code", "Exporter/ID", Text, "R032 / DE 3/2"),
    row("cbec_order.buyer", "GoodsShipment/Buyer", Group, "16A / DE 3/26"),
    row("cbec_order.buyer.name", "GoodsShipment/Buyer/Name", Text, "R009"),
    export("overseas_party", "GoodsShipment/Consignee", Group, "27A / DE 3/9"),
    export("overseas_party.name", "GoodsShipment/Consignee/Name", Text, "R014"),
    export("overseas_party.country", "GoodsShipment/Consignee/Address/CountryCode", Text, "242"),
    import("port", "GoodsShipment/Consignment/LoadingLocation/ID", Text, "L010 / DE 5/21"),
    row("freight", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=FRT]", Group, "58B"),
    row("freight.amount", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=FRT]/OtherChargeDeductionAmount", Text, "181 / DE 4/9"),
    row("freight.currency", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=FRT]/OtherChargeDeductionAmount/@currencyID", Text, "181"),
    row("insurance", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=INS]", Group, "58B"),
    row("insurance.amount", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=INS]/OtherChargeDeductionAmount", Text, "181 / DE 4/9"),
    row("insurance.currency", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=INS]/OtherChargeDeductionAmount/@currencyID", Text, "181"),
    row("other_costs", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=OTH]", Group, "58B"),
    row("other_costs.amount", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=OTH]/OtherChargeDeductionAmount", Text, "181 / DE 4/9"),
    row("other_costs.currency", "GoodsShipment/CustomsValuation/ChargeDeduction[ChargesTypeCode=OTH]/OtherChargeDeductionAmount/@currencyID", Text, "181"),
    row("destination_country", "GoodsShipment/Destination/CountryCode", Text, "465 / DE 5/8"),
    row("dispatch_country", "GoodsShipment/ExportCountry/ID", Text, "062 / DE 5/14"),
    row("items[*]", "GoodsShipment/GovernmentAgencyGoodsItem[#1]", Group, "68A"),
    row("items[*]", "GoodsShipment/GovernmentAgencyGoodsItem[#1]/SequenceNumeric", Sequence, "006 / DE 1/6"),
    row("items[*].unit_price", item_statement!("UNIT-PRICE"), Text, "03A/225 (单价)"),
    row("items[*].quantity", item_group!("QUANTITY-GROUP"), Group, "03A/226 (成交数量)"),
    row("items[*].quantity.value", item_statement!("QUANTITY"), Text, "03A/225 (成交数量)"),
    row("items[*].quantity.unit", item_statement!("QUANTITY-UNIT"), Text, "03A/225 (成交计量单位)"),
    row("items[*].levy_mode", item_statement!("LEVY-MODE"), Text, "03A/225 (征免方式)"),
    row("items[*].statutory_quantities[*]", item_group!("STAT{2}"), Group, "03A/226 (法定数量)"),
    row("items[*].statutory_quantities[*].value", item_statement!("STAT{2}-QTY"), Text, "03A/225"),
    row("items[*].statutory_quantities[*].unit", item_statement!("STAT{2}-UNIT"), Text, "03A/225"),
    row("items[*].preference", item_group!("PREF"), Group, "03A/226 (优惠贸易协定)"),
    row("items[*].preference.agreement", item_statement!("PREF-AGREEMENT"), Text, "03A/225"),
    row("items[*].preference.proof_number", item_statement!("PREF-PROOF"), Text, "03A/225"),
    row("items[*].preference.proof_item", item_statement!("PREF-PROOF-ITEM"), Text, "03A/225"),
    row("items[*].description", "GoodsShipment/GovernmentAgencyGoodsItem[#1]/Commodity/Description", Text, "137 / DE 6/8"),
    row("items[*].commodity_code", "GoodsShipment/GovernmentAgencyGoodsItem[#1]/Commodity/Classification[IdentificationTypeCode=CNT]/ID", Text, "145 / DE 6/14"),
    row("items[*].amount", "GoodsShipment/GovernmentAgencyGoodsItem[#1]/Commodity/InvoiceLine/ItemChargeAmount", Text, "112 / DE 4/14"),
    row("items[*].origin_country", "GoodsShipment/GovernmentAgencyGoodsItem[#1]/Origin/CountryCode", Text, "063 / DE 5/15"),
    import("trader", "GoodsShipment/Importer", Group, "74A / DE 3/15"),
    import("trader.name", "GoodsShipment/Importer/Name", Text, "R037"),
    import("trader.customs_code", "GoodsShipment/Importer/ID", Text, "R038 / DE 3/16"),
    row("invoice", "GoodsShipment/Invoice", Group, "78A"),
    row("invoice.number", "GoodsShipment/Invoice/ID", Text, "D016"),
    row("invoice.date", "GoodsShipment/Invoice/IssueDateTime/DateTimeString", Date, "D015"),
    row("transport.document", "GoodsShipment/PreviousDocument[CategoryCode=T]", Group, "99A / DE 2/1"),
    row("transport.document.number", "GoodsShipment/PreviousDocument[CategoryCode=T]/ID", Text, "D018"),
    row("transport.document.kind", "GoodsShipment/PreviousDocument[CategoryCode=T]/TypeCode", TransportDocumentKind, "D019 (UN/EDIFACT 1001)"),
    row("transaction_terms", "GoodsShipment/TradeTerms/ConditionCode", Text, "090 / DE 4/1"),
];

/// A row with its paths parsed once (the table is read on every message).
struct Compiled {
    row: &'static Row,
    json: Vec<JsonSeg>,
    wco: Vec<WcoSeg>,
}

fn compiled() -> &'static [Compiled] {
    static COMPILED: std::sync::OnceLock<Vec<Compiled>> = std::sync::OnceLock::new();
    COMPILED.get_or_init(|| {
        TABLE
            .iter()
            .map(|row| Compiled {
                row,
                json: json_pattern(row.json),
                wco: wco_pattern(row.wco),
            })
            .collect()
    })
}

/// The rows in force for a declaration of this direction (an unknown direction reads as import).
fn rows(export_direction: bool) -> impl Iterator<Item = &'static Compiled> {
    compiled().iter().filter(move |c| match c.row.when {
        When::Always => true,
        When::Import => !export_direction,
        When::Export => export_direction,
    })
}

// ---------------------------------------------------------------------------------------------
// Paths.

#[derive(Debug, Clone, PartialEq, Eq)]
enum JsonSeg {
    Field(String),
    Each,
}

fn json_pattern(path: &str) -> Vec<JsonSeg> {
    let mut segs = Vec::new();
    if path.is_empty() {
        return segs;
    }
    for part in path.split('.') {
        match part.strip_suffix("[*]") {
            Some(name) => {
                segs.push(JsonSeg::Field(name.to_owned()));
                segs.push(JsonSeg::Each);
            }
            None => segs.push(JsonSeg::Field(part.to_owned())),
        }
    }
    segs
}

/// A concrete JSON path as the parser names it (`items[1].quantity.value`): fields and indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum JsonStep {
    Field(String),
    Index(usize),
}

fn json_steps(path: &str) -> Option<Vec<JsonStep>> {
    let mut steps = Vec::new();
    if path.is_empty() {
        return Some(steps);
    }
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        steps.push(JsonStep::Field(name.to_owned()));
        while let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            steps.push(JsonStep::Index(inner[..end].parse().ok()?));
            rest = &inner[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(steps)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tpl {
    Lit(String),
    Var(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum WcoSeg {
    Child(String),
    Each(String, usize),
    Keyed(String, String, Vec<Tpl>),
    Attribute(String),
}

fn template(text: &str) -> Vec<Tpl> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Tpl::Lit(rest[..open].to_owned()));
        }
        let close = rest[open..]
            .find('}')
            .expect("the table's templates are closed")
            + open;
        parts.push(Tpl::Var(
            rest[open + 1..close].parse().expect("a wildcard number"),
        ));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Tpl::Lit(rest.to_owned()));
    }
    parts
}

fn wco_pattern(path: &str) -> Vec<WcoSeg> {
    if path.is_empty() {
        return Vec::new();
    }
    // Split on '/' outside brackets (a key's text holds none, but keep it robust).
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '/' if depth == 0 => {
                parts.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    parts
        .into_iter()
        .map(|part| {
            if let Some(attribute) = part.strip_prefix('@') {
                return WcoSeg::Attribute(attribute.to_owned());
            }
            let Some(open) = part.find('[') else {
                return WcoSeg::Child(part.to_owned());
            };
            let name = part[..open].to_owned();
            let inner = &part[open + 1..part.len() - 1];
            if let Some(n) = inner.strip_prefix('#') {
                WcoSeg::Each(name, n.parse().expect("a wildcard number"))
            } else {
                let (key, text) = inner.split_once('=').expect("Key=Text");
                WcoSeg::Keyed(name, key.to_owned(), template(text))
            }
        })
        .collect()
}

fn fill(template: &[Tpl], indexes: &[usize]) -> String {
    template
        .iter()
        .map(|part| match part {
            Tpl::Lit(text) => text.clone(),
            Tpl::Var(n) => (indexes[n - 1] + 1).to_string(),
        })
        .collect()
}

/// The WCO element path of a pattern with its indexes: `Declaration/GoodsShipment/
/// GovernmentAgencyGoodsItem[2]/Origin/CountryCode` (positions from 1, as `SequenceNumeric`).
fn display_path(segs: &[WcoSeg], indexes: &[usize]) -> String {
    let mut path = String::from("Declaration");
    for seg in segs {
        path.push('/');
        match seg {
            WcoSeg::Child(name) => path.push_str(name),
            WcoSeg::Each(name, n) => path.push_str(&format!("{name}[{}]", indexes[n - 1] + 1)),
            WcoSeg::Keyed(name, key, tpl) => {
                path.push_str(&format!("{name}[{key}='{}']", fill(tpl, indexes)))
            }
            WcoSeg::Attribute(name) => path.push_str(&format!("@{name}")),
        }
    }
    path
}

/// The WCO element path for a JSON path the JSON parser named, through the same table: the
/// first row whose JSON path is the path (any index) or, failing that, the nearest enclosing one.
/// A path that is not a declaration's (e.g. `Idempotency-Key`) is returned as is.
pub fn wco_path(json_path: &str, export_direction: bool) -> String {
    let Some(steps) = json_steps(json_path) else {
        return json_path.to_owned();
    };
    let known_root = match steps.first() {
        None => true,
        Some(JsonStep::Field(first)) => TABLE
            .iter()
            .any(|r| r.json.split(['.', '[']).next() == Some(first.as_str())),
        Some(JsonStep::Index(_)) => false,
    };
    if !known_root {
        return json_path.to_owned();
    }
    for len in (0..=steps.len()).rev() {
        let prefix = &steps[..len];
        for compiled in rows(export_direction) {
            if let Some(indexes) = match_steps(&compiled.json, prefix) {
                return display_path(&compiled.wco, &indexes);
            }
        }
    }
    "Declaration".to_owned()
}

fn match_steps(pattern: &[JsonSeg], steps: &[JsonStep]) -> Option<Vec<usize>> {
    if pattern.len() != steps.len() {
        return None;
    }
    let mut indexes = Vec::new();
    for (seg, step) in pattern.iter().zip(steps) {
        match (seg, step) {
            (JsonSeg::Field(a), JsonStep::Field(b)) if a == b => {}
            (JsonSeg::Each, JsonStep::Index(i)) => indexes.push(*i),
            _ => return None,
        }
    }
    Some(indexes)
}

// ---------------------------------------------------------------------------------------------
// JSON side.

fn json_matches<'a>(
    value: &'a Value,
    segs: &[JsonSeg],
    indexes: &mut Vec<usize>,
    out: &mut Vec<(Vec<usize>, &'a Value)>,
) {
    let Some((first, rest)) = segs.split_first() else {
        if !value.is_null() {
            out.push((indexes.clone(), value));
        }
        return;
    };
    match first {
        JsonSeg::Field(name) => {
            if let Some(next) = value.get(name) {
                json_matches(next, rest, indexes, out);
            }
        }
        JsonSeg::Each => {
            if let Some(array) = value.as_array() {
                for (i, member) in array.iter().enumerate() {
                    indexes.push(i);
                    json_matches(member, rest, indexes, out);
                    indexes.pop();
                }
            }
        }
    }
}

fn container_for(next: Option<&JsonSeg>) -> Value {
    match next {
        Some(JsonSeg::Each) => Value::Array(Vec::new()),
        _ => Value::Object(Map::new()),
    }
}

/// Puts `value` at the path (creating objects and padding arrays with empty objects); `None`
/// only makes sure the place exists as an object.
fn json_set(root: &mut Value, segs: &[JsonSeg], indexes: &[usize], value: Option<Value>) {
    let mut current = root;
    let mut wildcard = 0;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match seg {
            JsonSeg::Field(name) => {
                if !current.is_object() {
                    *current = Value::Object(Map::new());
                }
                let map = current.as_object_mut().expect("made an object");
                let placeholder = if last {
                    Value::Object(Map::new())
                } else {
                    container_for(segs.get(i + 1))
                };
                current = map.entry(name.clone()).or_insert(placeholder);
            }
            JsonSeg::Each => {
                if !current.is_array() {
                    *current = Value::Array(Vec::new());
                }
                let array = current.as_array_mut().expect("made an array");
                let index = indexes[wildcard];
                wildcard += 1;
                while array.len() <= index {
                    array.push(Value::Object(Map::new()));
                }
                current = &mut array[index];
            }
        }
    }
    match value {
        Some(value) => *current = value,
        None => {
            if !current.is_object() {
                *current = Value::Object(Map::new());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering: JSON → element tree.

use crate::xml::Element;

/// The element the pattern names, created (with its key) where missing.
fn ensure<'a>(mut current: &'a mut Element, segs: &[WcoSeg], indexes: &[usize]) -> &'a mut Element {
    for seg in segs {
        current = match seg {
            WcoSeg::Child(name) => match current.children.iter().position(|c| &c.name == name) {
                Some(at) => &mut current.children[at],
                None => current.push(name),
            },
            WcoSeg::Each(name, n) => {
                let wanted = indexes[n - 1];
                let mut seen = current.children.iter().filter(|c| &c.name == name).count();
                while seen <= wanted {
                    current.push(name);
                    seen += 1;
                }
                current
                    .children
                    .iter_mut()
                    .filter(|c| &c.name == name)
                    .nth(wanted)
                    .expect("padded")
            }
            WcoSeg::Keyed(name, key, tpl) => {
                let text = fill(tpl, indexes);
                let at = current
                    .children
                    .iter()
                    .position(|c| &c.name == name && c.child(key).is_some_and(|k| k.text == text));
                match at {
                    Some(at) => &mut current.children[at],
                    None => {
                        let element = current.push(name);
                        element.push_text(key, &text);
                        element
                    }
                }
            }
            WcoSeg::Attribute(_) => unreachable!("attributes are handled by the caller"),
        };
    }
    current
}

fn render_value(codec: Codec, value: &Value, indexes: &[usize]) -> Option<String> {
    let text = || match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    };
    match codec {
        Text => text(),
        Direction => text().map(|t| match t.as_str() {
            "import" => "IM".to_owned(),
            "export" => "EX".to_owned(),
            _ => t,
        }),
        Kind => text().map(|t| match t.as_str() {
            "ordinary" => "A".to_owned(),
            "summary" => "Y".to_owned(),
            "full" => "Z".to_owned(),
            _ => t,
        }),
        Date => text().map(|t| {
            let b = t.as_bytes();
            let iso = b.len() == 10
                && b[4] == b'-'
                && b[7] == b'-'
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
            if iso { t.replace('-', "") } else { t }
        }),
        Flag => match value {
            Value::Bool(true) => Some("1".to_owned()),
            _ => None,
        },
        Sequence => Some((indexes[0] + 1).to_string()),
        ItemCount => match value.as_array() {
            Some(items) if !items.is_empty() => Some(items.len().to_string()),
            _ => None,
        },
        Original => Some("9".to_owned()),
        TransportDocumentKind => text().map(|t| {
            TRANSPORT_DOCUMENT_CODES
                .iter()
                .find(|(kind, _)| *kind == t)
                .map_or(t, |(_, code)| (*code).to_owned())
        }),
        Group | Locator => None,
    }
}

/// UN/EDIFACT 1001 codes of the transport documents the platform knows.
pub const TRANSPORT_DOCUMENT_CODES: &[(&str, &str)] = &[
    ("bill_of_lading", "705"),
    ("rail_waybill", "720"),
    ("road_consignment_note", "730"),
    ("air_waybill", "740"),
    ("postal_receipt", "750"),
];

/// The declaration element for a JSON declaration, every row applied.
pub fn render(json: &Value) -> Element {
    let export_direction = json.get("direction").and_then(Value::as_str) == Some("export");
    let mut declaration = Element::new("Declaration");
    for compiled in rows(export_direction) {
        let (row, segs) = (compiled.row, &compiled.wco);
        if row.codec == Locator {
            continue;
        }
        let mut found = Vec::new();
        json_matches(json, &compiled.json, &mut Vec::new(), &mut found);
        for (indexes, value) in found {
            if row.codec == Group {
                ensure(&mut declaration, segs, &indexes);
                continue;
            }
            let Some(text) = render_value(row.codec, value, &indexes) else {
                continue;
            };
            match segs.split_last() {
                Some((WcoSeg::Attribute(name), parent)) => {
                    let element = ensure(&mut declaration, parent, &indexes);
                    element.attributes.push((name.clone(), text));
                }
                _ => {
                    let element = ensure(&mut declaration, segs, &indexes);
                    // Direction and kind share TypeCode: the kind's letter follows.
                    element.text.push_str(&text);
                    if row.codec == Date {
                        element.attributes.push(("formatCode".into(), "102".into()));
                    }
                }
            }
        }
    }
    order(&mut declaration, "Declaration");
    qualify_date_times(&mut declaration);
    declaration
}

/// `DateTimeString` belongs to the schema's data-structure namespace (prefix `ds`, declared on
/// the root by the caller), not the declaration's.
fn qualify_date_times(element: &mut Element) {
    for child in &mut element.children {
        if child.name == "DateTimeString" {
            child.name = "ds:DateTimeString".into();
        }
        qualify_date_times(child);
    }
}

/// Children in the schema's sequence order (stable, so repeated elements keep theirs).
fn order(element: &mut Element, path: &str) {
    if let Some((_, names)) = DECLARATION_ORDER.iter().find(|(p, _)| *p == path) {
        element.children.sort_by_key(|c| {
            names
                .iter()
                .position(|n| *n == c.name)
                .unwrap_or(names.len())
        });
    }
    for child in &mut element.children {
        let child_path = format!("{path}/{}", child.name);
        order(child, &child_path);
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing: element tree → JSON.

/// A problem found while mapping, by WCO element path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingProblem {
    pub path: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// An element or attribute the China profile does not carry (or a repeat of one it carries once).
    NotInProfile,
    /// The function code is not 9.
    NotOriginal(String),
    /// The goods item number does not follow document order.
    SequenceOutOfOrder { expected: usize },
    /// GoodsItemQuantity does not count the goods items.
    ItemCountMismatch { items: usize },
    /// Not 1 or 0.
    NotAFlag,
    /// A date's formatCode is not 102.
    DateFormat,
}

/// One match of a pattern in the tree: the JSON indexes, the element's position path, and the
/// attribute when the pattern ends in one.
struct Found<'a> {
    indexes: Vec<usize>,
    position: Vec<usize>,
    element: &'a Element,
    attribute: Option<&'a str>,
    key_positions: Vec<Vec<usize>>,
}

fn match_template(template: &[Tpl], text: &str, bound: &mut [Option<usize>]) -> bool {
    let mut rest = text;
    let mut assigned = Vec::new();
    for part in template {
        match part {
            Tpl::Lit(lit) => match rest.strip_prefix(lit.as_str()) {
                Some(r) => rest = r,
                None => return false,
            },
            Tpl::Var(n) => {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                // A number followed by a literal that begins with a digit would be ambiguous; the
                // table's keys never do that.
                let Ok(number) = rest[..digits].parse::<usize>() else {
                    return false;
                };
                if number == 0 || rest[..digits].starts_with('0') {
                    return false;
                }
                match bound[n - 1] {
                    Some(b) if b != number - 1 => return false,
                    _ => assigned.push((*n, number - 1)),
                }
                rest = &rest[digits..];
            }
        }
    }
    if !rest.is_empty() {
        return false;
    }
    for (n, index) in assigned {
        bound[n - 1] = Some(index);
    }
    true
}

fn find_all<'a>(
    element: &'a Element,
    segs: &[WcoSeg],
    bound: &mut Vec<Option<usize>>,
    position: &mut Vec<usize>,
    keys: &mut Vec<Vec<usize>>,
    out: &mut Vec<Found<'a>>,
) {
    let Some((first, rest)) = segs.split_first() else {
        out.push(Found {
            indexes: bound.iter().map(|b| b.unwrap_or(0)).collect(),
            position: position.clone(),
            element,
            attribute: None,
            key_positions: keys.clone(),
        });
        return;
    };
    match first {
        WcoSeg::Attribute(name) => {
            if let Some(value) = element.attribute(name) {
                out.push(Found {
                    indexes: bound.iter().map(|b| b.unwrap_or(0)).collect(),
                    position: position.clone(),
                    element,
                    attribute: Some(value),
                    key_positions: keys.clone(),
                });
            }
        }
        WcoSeg::Child(name) => {
            // The first only: a second is not carried and is reported as such.
            if let Some(at) = element.children.iter().position(|c| &c.name == name) {
                position.push(at);
                find_all(&element.children[at], rest, bound, position, keys, out);
                position.pop();
            }
        }
        WcoSeg::Each(name, n) => {
            let mut k = 0;
            for (at, child) in element.children.iter().enumerate() {
                if &child.name != name {
                    continue;
                }
                let saved = bound[n - 1];
                bound[n - 1] = Some(k);
                position.push(at);
                find_all(child, rest, bound, position, keys, out);
                position.pop();
                bound[n - 1] = saved;
                k += 1;
            }
        }
        WcoSeg::Keyed(name, key, tpl) => {
            for (at, child) in element.children.iter().enumerate() {
                if &child.name != name {
                    continue;
                }
                let Some(key_at) = child.children.iter().position(|c| &c.name == key) else {
                    continue;
                };
                let saved = bound.clone();
                if !match_template(tpl, &child.children[key_at].text, bound) {
                    *bound = saved;
                    continue;
                }
                position.push(at);
                let mut key_position = position.clone();
                key_position.push(key_at);
                keys.push(key_position);
                find_all(child, rest, bound, position, keys, out);
                keys.pop();
                position.pop();
                *bound = saved;
            }
        }
    }
}

/// What parsing made of a declaration element: the JSON form and the problems found on the way.
pub struct Parsed {
    pub json: Value,
    pub problems: Vec<MappingProblem>,
}

fn wildcards(json: &str) -> usize {
    json.matches("[*]").count()
}

/// The JSON declaration for a declaration element; every element the table does not carry is a
/// problem named by its path.
pub fn parse(declaration: &Element) -> Parsed {
    let export_direction = declaration
        .child("TypeCode")
        .is_some_and(|t| t.text.starts_with("EX"));
    let mut json = Value::Object(Map::new());
    let mut problems = Vec::new();
    let mut consumed: std::collections::HashSet<Vec<usize>> = std::collections::HashSet::new();
    let mut consumed_attributes: std::collections::HashSet<(Vec<usize>, String)> =
        std::collections::HashSet::new();
    let mark = |position: &[usize], consumed: &mut std::collections::HashSet<Vec<usize>>| {
        for len in 0..=position.len() {
            consumed.insert(position[..len].to_vec());
        }
    };
    let type_code = declaration.child("TypeCode").map(|t| t.text.as_str());
    let items = declaration
        .child("GoodsShipment")
        .map_or(0, |g| g.children_named("GovernmentAgencyGoodsItem").count());
    for compiled in rows(export_direction) {
        let (row, segs, json_segs) = (compiled.row, &compiled.wco, &compiled.json);
        if row.codec == Locator {
            continue;
        }
        let mut found = Vec::new();
        let mut bound = vec![None; wildcards(row.json)];
        find_all(
            declaration,
            segs,
            &mut bound,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut found,
        );
        for hit in found {
            mark(&hit.position, &mut consumed);
            for key in &hit.key_positions {
                mark(key, &mut consumed);
            }
            let path = || display_path(segs, &hit.indexes);
            let text = match hit.attribute {
                Some(value) => {
                    if let Some(WcoSeg::Attribute(name)) = segs.last() {
                        consumed_attributes.insert((hit.position.clone(), name.clone()));
                    }
                    value.to_owned()
                }
                None => hit.element.text.clone(),
            };
            let value = match row.codec {
                Text => (!text.is_empty()).then_some(Value::String(text)),
                Direction => type_code.and_then(|t| {
                    let direction = match t.get(..2) {
                        Some("IM") => "import".to_owned(),
                        Some("EX") => "export".to_owned(),
                        _ => t.to_owned(),
                    };
                    (!direction.is_empty()).then_some(Value::String(direction))
                }),
                Kind => type_code.and_then(|t| {
                    let rest = match t.get(..2) {
                        Some("IM") | Some("EX") => &t[2..],
                        _ => "",
                    };
                    let kind = match rest {
                        "A" => "ordinary",
                        "Y" => "summary",
                        "Z" => "full",
                        other => other,
                    };
                    (!kind.is_empty()).then(|| Value::String(kind.to_owned()))
                }),
                Date => {
                    consumed_attributes.insert((hit.position.clone(), "formatCode".into()));
                    if hit.element.attribute("formatCode") != Some("102") {
                        problems.push(MappingProblem {
                            path: format!("{}/@formatCode", path()),
                            kind: ProblemKind::DateFormat,
                        });
                    }
                    let b = text.as_bytes();
                    if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
                        Some(Value::String(format!(
                            "{}-{}-{}",
                            &text[..4],
                            &text[4..6],
                            &text[6..]
                        )))
                    } else {
                        (!text.is_empty()).then_some(Value::String(text))
                    }
                }
                Flag => match text.as_str() {
                    "1" => Some(Value::Bool(true)),
                    "0" => Some(Value::Bool(false)),
                    _ => {
                        problems.push(MappingProblem {
                            path: path(),
                            kind: ProblemKind::NotAFlag,
                        });
                        None
                    }
                },
                Sequence => {
                    let expected = hit.indexes[0] + 1;
                    if text != expected.to_string() {
                        problems.push(MappingProblem {
                            path: path(),
                            kind: ProblemKind::SequenceOutOfOrder { expected },
                        });
                    }
                    None
                }
                ItemCount => {
                    if text != items.to_string() {
                        problems.push(MappingProblem {
                            path: path(),
                            kind: ProblemKind::ItemCountMismatch { items },
                        });
                    }
                    continue;
                }
                Original => {
                    if text != "9" {
                        problems.push(MappingProblem {
                            path: path(),
                            kind: ProblemKind::NotOriginal(text),
                        });
                    }
                    continue;
                }
                TransportDocumentKind => (!text.is_empty()).then(|| {
                    Value::String(
                        TRANSPORT_DOCUMENT_CODES
                            .iter()
                            .find(|(_, code)| *code == text)
                            .map_or(text, |(kind, _)| (*kind).to_owned()),
                    )
                }),
                Group => None,
                Locator => unreachable!("skipped above"),
            };
            match (row.codec, value) {
                (_, Some(value)) => json_set(&mut json, json_segs, &hit.indexes, Some(value)),
                (Group | Sequence, None) => json_set(&mut json, json_segs, &hit.indexes, None),
                _ => {}
            }
        }
    }
    report_unconsumed(
        declaration,
        &mut Vec::new(),
        "Declaration",
        &consumed,
        &consumed_attributes,
        &mut problems,
    );
    Parsed { json, problems }
}

fn report_unconsumed(
    element: &Element,
    position: &mut Vec<usize>,
    path: &str,
    consumed: &std::collections::HashSet<Vec<usize>>,
    consumed_attributes: &std::collections::HashSet<(Vec<usize>, String)>,
    problems: &mut Vec<MappingProblem>,
) {
    for (name, _) in &element.attributes {
        if !consumed_attributes.contains(&(position.clone(), name.clone())) {
            problems.push(MappingProblem {
                path: format!("{path}/@{name}"),
                kind: ProblemKind::NotInProfile,
            });
        }
    }
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for child in &element.children {
        *counts.entry(child.name.as_str()).or_default() += 1;
    }
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (at, child) in element.children.iter().enumerate() {
        // Elements the table repeats are always numbered, as the table's own paths number them.
        let count = if repeated_in_table(&child.name) {
            usize::MAX
        } else {
            counts[child.name.as_str()]
        };
        let nth = {
            let k = seen.entry(child.name.as_str()).or_default();
            *k += 1;
            *k
        };
        let child_path = if count > 1 {
            format!("{path}/{}[{nth}]", child.name)
        } else {
            format!("{path}/{}", child.name)
        };
        position.push(at);
        if consumed.contains(position) {
            report_unconsumed(
                child,
                position,
                &child_path,
                consumed,
                consumed_attributes,
                problems,
            );
        } else {
            problems.push(MappingProblem {
                path: child_path,
                kind: ProblemKind::NotInProfile,
            });
        }
        position.pop();
    }
}

fn repeated_in_table(name: &str) -> bool {
    compiled().iter().any(|c| {
        c.wco
            .iter()
            .any(|seg| matches!(seg, WcoSeg::Each(n, _) if n == name))
    })
}

/// The table as a Markdown table, for `docs/wco-mapping.md` (a test keeps the two the same).
pub fn table_markdown() -> String {
    let mut out = String::from(
        "| Platform field (JSON path) | WCO element (below `Declaration`) | WCO ID / CDS DE | Notes |\n|---|---|---|---|\n",
    );
    for row in TABLE {
        let note = match row.codec {
            Text => "",
            Direction => "IM import, EX export (first two letters)",
            Kind => "A ordinary, Y summary (step one), Z full (step two): the letter after IM/EX",
            Date => "YYYY-MM-DD written CCYYMMDD, `formatCode=\"102\"`",
            Flag => "1 when true; absent when false",
            Sequence => "1, 2, 3... in document order; checked",
            ItemCount => "the number of goods items; checked",
            Original => "always 9 (original); 13 and others are refused",
            TransportDocumentKind => {
                "705 bill_of_lading, 720 rail_waybill, 730 road_consignment_note, 740 air_waybill, 750 postal_receipt"
            }
            Group => "the object, written even when empty",
            Locator => "where refusals of this path point",
        };
        let when = match row.when {
            When::Always => "",
            When::Import => " (imports)",
            When::Export => " (exports)",
        };
        let json = if row.json.is_empty() {
            "(the document)"
        } else {
            row.json
        };
        let wco = if row.wco.is_empty() {
            "Declaration"
        } else {
            row.wco
        };
        out.push_str(&format!(
            "| `{json}` | `{wco}` | {} | {note}{when} |\n",
            row.element
        ));
    }
    out
}
