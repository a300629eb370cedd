//! The one table of where each platform field travels in a CUSDEC D.96B message. The reader and
//! the renderer follow it, a refusal of the JSON parser is translated back through it, and
//! `docs/edifact-mapping.md` is generated from it (a test keeps them equal).

/// One field's place: segment group ("" for the message's top level), the segment with its
/// qualifier, the element (1-based after the tag) and component, and what is written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The JSON path with every index written `[]`, e.g. `items[].origin_country`.
    pub path: &'static str,
    pub group: &'static str,
    pub segment: &'static str,
    pub element: usize,
    pub component: usize,
    pub note: &'static str,
}

const fn place(
    path: &'static str,
    group: &'static str,
    segment: &'static str,
    element: usize,
    component: usize,
    note: &'static str,
) -> Place {
    Place {
        path,
        group,
        segment,
        element,
        component,
        note,
    }
}

/// Charge groups (SG19 under the invoice's SG10): the special service code in ALC's C214.
pub const CHARGES: [(&str, &str); 3] = [
    ("freight", "FC"),
    ("insurance", "IN"),
    ("other_costs", "ADR"),
];

/// Transport document kinds and the RFF qualifier (1153) that carries each in SG1.
pub const TRANSPORT_DOCUMENTS: [(&str, &str); 5] = [
    ("bill_of_lading", "BM"),
    ("air_waybill", "AWB"),
    ("rail_waybill", "WY"),
    ("road_consignment_note", "TB"),
    ("postal_receipt", "ABS"),
];

pub const MAPPING: &[Place] = &[
    place(
        "direction",
        "",
        "BGM",
        1,
        1,
        "C002 1001: 929 import, 830 export",
    ),
    place(
        "kind",
        "",
        "BGM",
        1,
        4,
        "C002 1000: ordinary, summary, full, cbec",
    ),
    place(
        "summary_number",
        "SG1",
        "RFF+AEI",
        1,
        2,
        "C506 1154: the summary declaration's number",
    ),
    place(
        "procedure",
        "",
        "CST",
        2,
        1,
        "C246 7361: procedure (监管方式)",
    ),
    place(
        "levy_nature",
        "",
        "CST",
        3,
        1,
        "C246 7361: levy nature (征免性质)",
    ),
    place(
        "office_of_lodging",
        "",
        "LOC+22",
        2,
        1,
        "C517 3225: customs office of clearance",
    ),
    place(
        "office_of_entry_exit",
        "",
        "LOC+41",
        2,
        1,
        "C517 3225: office of entry (LOC+42 for exit)",
    ),
    place("declarant", "SG6", "NAD+DT", 1, 1, "the declarant's group"),
    place(
        "declarant.credit_code",
        "SG6",
        "NAD+DT",
        2,
        1,
        "C082 3039: unified social credit code",
    ),
    place(
        "declarant.name",
        "SG6",
        "NAD+DT",
        4,
        1,
        "C080 3036: name, 35 characters a component",
    ),
    place(
        "declarant.customs_code",
        "SG6",
        "RFF+ABP",
        1,
        2,
        "C506 1154 after NAD+DT",
    ),
    place(
        "trader",
        "SG6",
        "NAD+IM",
        1,
        1,
        "importer (NAD+EX: exporter)",
    ),
    place(
        "trader.credit_code",
        "SG6",
        "NAD+IM",
        2,
        1,
        "C082 3039 (NAD+EX for exports)",
    ),
    place(
        "trader.name",
        "SG6",
        "NAD+IM",
        4,
        1,
        "C080 3036 (NAD+EX for exports)",
    ),
    place(
        "trader.customs_code",
        "SG6",
        "RFF+ABP",
        1,
        2,
        "C506 1154 after NAD+IM / NAD+EX",
    ),
    place(
        "overseas_party",
        "SG6",
        "NAD+CZ",
        1,
        1,
        "consignor (NAD+CN: consignee, exports)",
    ),
    place(
        "overseas_party.name",
        "SG6",
        "NAD+CZ",
        4,
        1,
        "C080 3036 (NAD+CN for exports)",
    ),
    place(
        "overseas_party.country",
        "SG6",
        "NAD+CZ",
        9,
        1,
        "3207 country (NAD+CN for exports)",
    ),
    place(
        "transport",
        "SG4",
        "TDT+20",
        1,
        1,
        "main-carriage transport",
    ),
    place(
        "transport.mode",
        "SG4",
        "TDT+20",
        3,
        1,
        "C220 8067: transport mode (运输方式)",
    ),
    place(
        "transport.voyage",
        "SG4",
        "TDT+20",
        2,
        1,
        "8028: voyage or flight number",
    ),
    place(
        "transport.means_name",
        "SG4",
        "TDT+20",
        8,
        4,
        "C222 8212: name of the means of transport",
    ),
    place(
        "transport.document",
        "SG1",
        "RFF",
        1,
        1,
        "the transport document's group",
    ),
    place(
        "transport.document.kind",
        "SG1",
        "RFF",
        1,
        1,
        "C506 1153: BM, AWB, WY, TB, ABS",
    ),
    place("transport.document.number", "SG1", "RFF", 1, 2, "C506 1154"),
    place(
        "transport.departure_date",
        "",
        "DTM+133",
        1,
        2,
        "C507 2380, format 102 (CCYYMMDD)",
    ),
    place(
        "transport.arrival_date",
        "",
        "DTM+132",
        1,
        2,
        "C507 2380, format 102 (CCYYMMDD)",
    ),
    place(
        "dispatch_country",
        "",
        "LOC+35",
        2,
        1,
        "C517 3225: country of exportation/despatch",
    ),
    place(
        "destination_country",
        "",
        "LOC+28",
        2,
        1,
        "C517 3225: country of destination",
    ),
    place(
        "port",
        "",
        "LOC+9",
        2,
        1,
        "C517 3225: port of loading (UN/LOCODE)",
    ),
    place(
        "transaction_terms",
        "SG7",
        "TOD",
        3,
        1,
        "C100 4053: Incoterms",
    ),
    place(
        "invoice",
        "SG10",
        "DMS",
        1,
        1,
        "the commercial invoice's group",
    ),
    place(
        "invoice.number",
        "SG10",
        "DMS",
        1,
        1,
        "C106 1004, document name 380",
    ),
    place(
        "invoice.date",
        "SG10",
        "DTM+3",
        1,
        2,
        "C507 2380, format 102",
    ),
    place(
        "invoice.amount",
        "SG11",
        "MOA+39",
        1,
        2,
        "C516 5004: invoice total",
    ),
    place("invoice.currency", "SG11", "MOA+39", 1, 3, "C516 6345"),
    place(
        "freight",
        "SG19",
        "ALC+C (C214 FC)",
        1,
        1,
        "the freight charge's group",
    ),
    place(
        "freight.kind",
        "SG19",
        "ALC+C (C214 FC)",
        2,
        1,
        "C552 1230: amount, rate, per_unit",
    ),
    place("freight.amount", "SG19", "MOA+23", 1, 2, "C516 5004"),
    place("freight.currency", "SG19", "MOA+23", 1, 3, "C516 6345"),
    place(
        "freight.percent",
        "SG19",
        "PCD+7",
        1,
        2,
        "C501 5482: percent of the invoice",
    ),
    place(
        "freight.unit",
        "SG19",
        "RTE+1",
        1,
        3,
        "C128 6411: unit of a per-unit charge",
    ),
    place(
        "insurance",
        "SG19",
        "ALC+C (C214 IN)",
        1,
        1,
        "the insurance charge's group",
    ),
    place(
        "insurance.kind",
        "SG19",
        "ALC+C (C214 IN)",
        2,
        1,
        "C552 1230",
    ),
    place("insurance.amount", "SG19", "MOA+23", 1, 2, "C516 5004"),
    place("insurance.currency", "SG19", "MOA+23", 1, 3, "C516 6345"),
    place("insurance.percent", "SG19", "PCD+7", 1, 2, "C501 5482"),
    place("insurance.unit", "SG19", "RTE+1", 1, 3, "C128 6411"),
    place(
        "other_costs",
        "SG19",
        "ALC+C (C214 ADR)",
        1,
        1,
        "the other costs' group",
    ),
    place(
        "other_costs.kind",
        "SG19",
        "ALC+C (C214 ADR)",
        2,
        1,
        "C552 1230",
    ),
    place("other_costs.amount", "SG19", "MOA+23", 1, 2, "C516 5004"),
    place("other_costs.currency", "SG19", "MOA+23", 1, 3, "C516 6345"),
    place("other_costs.percent", "SG19", "PCD+7", 1, 2, "C501 5482"),
    place("other_costs.unit", "SG19", "RTE+1", 1, 3, "C128 6411"),
    place(
        "packages",
        "SG2",
        "PAC",
        1,
        1,
        "under the transport document's RFF",
    ),
    place(
        "packages.count",
        "SG2",
        "PAC",
        1,
        1,
        "7224: number of packages",
    ),
    place(
        "packages.package_type",
        "SG2",
        "PAC",
        3,
        1,
        "C202 7065: package type",
    ),
    place(
        "gross_mass_kg",
        "",
        "MEA+WT+AAD",
        3,
        2,
        "C174 6314, unit KGM: total gross weight",
    ),
    place(
        "net_mass_kg",
        "",
        "MEA+WT+AAC",
        3,
        2,
        "C174 6314, unit KGM: total net weight",
    ),
    place("documents", "SG5", "DOC", 1, 1, "one group a document"),
    place("documents[]", "SG5", "DOC", 1, 1, "one group a document"),
    place(
        "documents[].type",
        "SG5",
        "DOC",
        1,
        1,
        "C002 1001: document type (随附单证代码)",
    ),
    place("documents[].number", "SG5", "DOC", 2, 1, "C503 1004"),
    place("items", "SG30", "CST", 1, 1, "one group a goods item"),
    place(
        "items[]",
        "SG30",
        "CST",
        1,
        1,
        "one group a goods item; 1496 its number",
    ),
    place(
        "items[].commodity_code",
        "SG30",
        "CST",
        2,
        1,
        "C246 7361: commodity code (10 digits)",
    ),
    place(
        "items[].levy_mode",
        "SG30",
        "CST",
        3,
        1,
        "C246 7361: levy mode (征减免税方式)",
    ),
    place(
        "items[].description",
        "SG30",
        "FTX+AAA",
        4,
        1,
        "C108 4440: 70 characters a component",
    ),
    place(
        "items[].quantity",
        "SG30",
        "MEA+AAA",
        3,
        1,
        "declared quantity",
    ),
    place(
        "items[].quantity.value",
        "SG30",
        "MEA+AAA",
        3,
        2,
        "C174 6314",
    ),
    place(
        "items[].quantity.unit",
        "SG30",
        "MEA+AAA",
        3,
        1,
        "C174 6411",
    ),
    place(
        "items[].statutory_quantities",
        "SG30",
        "MEA+AAF",
        3,
        1,
        "statutory quantities, in order",
    ),
    place(
        "items[].statutory_quantities[]",
        "SG30",
        "MEA+AAF",
        3,
        1,
        "a statutory quantity",
    ),
    place(
        "items[].statutory_quantities[].value",
        "SG30",
        "MEA+AAF",
        3,
        2,
        "C174 6314",
    ),
    place(
        "items[].statutory_quantities[].unit",
        "SG30",
        "MEA+AAF",
        3,
        1,
        "C174 6411",
    ),
    place(
        "items[].origin_country",
        "SG30",
        "LOC+27",
        2,
        1,
        "C517 3225: country of origin",
    ),
    place(
        "items[].unit_price",
        "SG33",
        "MOA+146",
        1,
        2,
        "C516 5004: unit price",
    ),
    place(
        "items[].amount",
        "SG33",
        "MOA+38",
        1,
        2,
        "C516 5004: the item's amount",
    ),
    place(
        "items[].preference",
        "SG35",
        "RFF+AIR",
        1,
        1,
        "proof of origin claimed",
    ),
    place(
        "items[].preference.proof_number",
        "SG35",
        "RFF+AIR",
        1,
        2,
        "C506 1154: certificate number",
    ),
    place(
        "items[].preference.proof_item",
        "SG35",
        "RFF+AIR",
        1,
        3,
        "C506 1156: the item on the certificate",
    ),
    place(
        "items[].preference.agreement",
        "SG35",
        "RFF+AIR",
        1,
        4,
        "C506 4000: the agreement (RCEP, ACFTA)",
    ),
];

/// The path with its indices replaced by `[]`: `items[1].origin_country` → `items[].origin_country`.
pub fn pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// The place of a JSON path, or of its nearest ancestor that has one.
pub fn place_of(path: &str) -> Option<&'static Place> {
    let mut pattern = pattern(path);
    loop {
        if let Some(place) = MAPPING.iter().find(|p| p.path == pattern) {
            return Some(place);
        }
        let cut = pattern.rfind(['.', '['])?;
        pattern.truncate(cut);
    }
}

/// The mapping as the Markdown table of `docs/edifact-mapping.md`.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| JSON field | Segment group | Segment | Element | Component | What |\n\
         |---|---|---|---|---|---|\n",
    );
    for p in MAPPING {
        let group = if p.group.is_empty() { "—" } else { p.group };
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} | {} |\n",
            p.path, group, p.segment, p.element, p.component, p.note
        ));
    }
    out
}
