//! CUSDEC (D.96B) ⇄ `wire::DeclarationDto`, following `mapping::MAPPING`. Reading records where
//! each field came from, so that a refusal of the JSON parser names the segment, its position and
//! the element the trader wrote.

use std::collections::BTreeMap;

use wire::declaration::{
    ChargeDto, DeclarationDto, DocumentDto, EnterpriseDto, GoodsItemDto, InvoiceDto, NumText,
    OverseasPartyDto, PackagesDto, PreferenceDto, QuantityDto, TransportDocumentDto, TransportDto,
};

use crate::mapping::{self, CHARGES, TRANSPORT_DOCUMENTS};
use crate::syntax::{self, Message, Position, Segment, SyntaxError, Writer, codes};

/// The segment tags of the CUSDEC D.96B message structure; any other is a syntax error.
pub const CUSDEC_TAGS: [&str; 42] = [
    "UNH", "BGM", "CST", "LOC", "DTM", "GIS", "FII", "MEA", "EQD", "SEL", "FTX", "RFF", "PAC",
    "PCI", "TDT", "TPL", "DOC", "NAD", "CTA", "COM", "TOD", "MOA", "CUX", "UNS", "DMS", "LIN",
    "PIA", "QTY", "PRI", "PCD", "QVR", "GIR", "ALC", "RTE", "IMD", "PAT", "GIN", "GDS", "TAX",
    "AUT", "CNT", "UNT",
];

/// One problem of a lodging, located in the CUSDEC: the platform's field path (empty for a
/// problem of the message itself), the segment group, the segment with its qualifier, its
/// position in the message (UNH = 1), the element and component, a stable code and the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub path: String,
    pub group: String,
    pub segment: String,
    pub position: usize,
    pub element: Option<usize>,
    pub component: Option<usize>,
    pub code: String,
    pub message_en: String,
    pub message_zh: String,
}

impl Refusal {
    /// "SG30 LOC+27 (segment 17), element 2, component 1".
    pub fn location(&self) -> String {
        let place = syntax::describe(&self.segment, self.position, self.element, self.component);
        if self.group.is_empty() {
            place
        } else {
            format!("{} {place}", self.group)
        }
    }
}

/// Where a field was read: its group, segment (with qualifier) and position.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    group: String,
    segment: String,
    at: Position,
}

/// A CUSDEC read into the JSON boundary form, with where each field came from.
#[derive(Debug, Clone)]
pub struct Cusdec {
    pub dto: DeclarationDto,
    /// UNH 0062.
    pub message_reference: String,
    /// BGM C106 1004: the declarant's own document number, if given.
    pub document_number: Option<String>,
    origins: BTreeMap<String, Origin>,
    /// The UNT's position: where a missing field of the message as a whole is reported.
    trailer: usize,
}

/// Why a CUSDEC could not be read: a syntax error (answered with CONTRL) or problems of
/// content (answered with CUSRES).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Syntax(SyntaxError),
    Content(Vec<Refusal>),
}

impl Cusdec {
    /// Translates a refusal of the JSON parser (`items[1].origin_country`) to the CUSDEC
    /// location that carried the field, or, when it was absent, to the place the mapping gives
    /// it, at the position of the nearest segment that was read (the item's CST, or UNT).
    pub fn locate(&self, error: &domain::FieldError) -> Refusal {
        let place = mapping::place_of(&error.path);
        let mut ancestor = error.path.clone();
        let origin = loop {
            if let Some(origin) = self.origins.get(&ancestor) {
                break Some(origin);
            }
            match ancestor.rfind(['.', '[']) {
                Some(cut) => ancestor.truncate(cut),
                None => break None,
            }
        };
        let exact = origin.is_some() && ancestor == error.path;
        let (group, segment, element, component) = match (exact, origin, place) {
            (true, Some(o), _) => (
                o.group.clone(),
                o.segment.clone(),
                o.at.element,
                o.at.component,
            ),
            (_, _, Some(p)) => (
                p.group.to_owned(),
                p.segment.to_owned(),
                Some(p.element),
                Some(p.component),
            ),
            (_, Some(o), None) => (o.group.clone(), o.segment.clone(), None, None),
            (_, None, None) => (String::new(), "UNT".to_owned(), None, None),
        };
        Refusal {
            path: error.path.clone(),
            group,
            segment,
            position: origin.map_or(self.trailer, |o| o.at.segment),
            element,
            component,
            code: error.code.as_str().to_owned(),
            message_en: error.message_en.clone(),
            message_zh: error.message_zh.clone(),
        }
    }
}

/// Reads the state of one section while walking the message.
struct Reader {
    origins: BTreeMap<String, Origin>,
    refusals: Vec<Refusal>,
    decimal: char,
    dto: DeclarationDto,
    /// The segment group the walk is in ("" for the message's top level).
    group: &'static str,
}

fn qualified(segment: &Segment) -> String {
    match segment.get(1, 1) {
        Some(q) => format!("{}+{q}", segment.tag),
        None => segment.tag.clone(),
    }
}

impl Reader {
    fn record(
        &mut self,
        path: impl Into<String>,
        segment: &Segment,
        element: usize,
        component: usize,
    ) {
        self.origins.insert(
            path.into(),
            Origin {
                group: self.group.to_owned(),
                segment: qualified(segment),
                at: segment.at(element, component),
            },
        );
    }

    /// The text of a value, recording where it came from; None when empty.
    fn text(
        &mut self,
        path: &str,
        segment: &Segment,
        element: usize,
        component: usize,
    ) -> Option<String> {
        let value = segment.get(element, component)?.to_owned();
        self.record(path, segment, element, component);
        Some(value)
    }

    /// A number, its decimal mark made a point: the JSON parser checks it.
    fn number(
        &mut self,
        path: &str,
        segment: &Segment,
        element: usize,
        component: usize,
    ) -> Option<NumText> {
        let decimal = self.decimal;
        self.text(path, segment, element, component)
            .map(|v| NumText(v.replace(decimal, ".")))
    }

    /// A date in format 102 (CCYYMMDD) as the JSON form's CCYY-MM-DD; any other is passed on
    /// as written, so that the JSON parser refuses it with the field's path.
    fn date(&mut self, path: &str, segment: &Segment) -> Option<String> {
        let value = self.text(path, segment, 1, 2)?;
        let format = segment.value(1, 3);
        if (format.is_empty() || format == "102")
            && value.len() == 8
            && value.bytes().all(|b| b.is_ascii_digit())
        {
            Some(format!("{}-{}-{}", &value[..4], &value[4..6], &value[6..]))
        } else {
            Some(value)
        }
    }

    fn refuse(
        &mut self,
        segment: &Segment,
        element: Option<usize>,
        path: &str,
        code: &str,
        en: String,
        zh: String,
    ) {
        self.refusals.push(Refusal {
            path: path.to_owned(),
            group: self.group.to_owned(),
            segment: qualified(segment),
            position: segment.position,
            element,
            component: element.map(|_| 1),
            code: code.to_owned(),
            message_en: en,
            message_zh: zh,
        });
    }

    /// A segment the platform's CUSDEC profile does not carry here: refused rather than
    /// dropped, so nothing the trader sent is silently lost.
    fn unused(&mut self, segment: &Segment) {
        let name = qualified(segment);
        let group = if self.group.is_empty() {
            "the message's top level".to_owned()
        } else {
            self.group.to_owned()
        };
        self.refuse(
            segment,
            None,
            "",
            "not_allowed",
            format!("{name} is not carried by this platform's CUSDEC profile in {group} (see docs/edifact-mapping.md)"),
            format!("本平台的 CUSDEC 规范在 {group} 中不使用 {name}（见 docs/edifact-mapping.md）"),
        );
    }

    fn unknown_qualifier(&mut self, segment: &Segment, path: &str) {
        let value = domain::problem::echoed(segment.value(1, 1)).into_owned();
        self.refuse(
            segment,
            Some(1),
            path,
            "unknown_code",
            format!(
                "{} qualifier {value:?} is not used by this platform's CUSDEC profile",
                segment.tag
            ),
            format!(
                "本平台的 CUSDEC 规范不使用 {} 限定符 {value:?}",
                segment.tag
            ),
        );
    }

    fn open(&mut self, group: &'static str) {
        self.group = group;
    }

    fn name(&mut self, path: &str, segment: &Segment) -> Option<String> {
        let name = segment.joined(4);
        if name.is_empty() {
            return None;
        }
        self.record(path, segment, 4, 1);
        Some(name)
    }
}

/// Reads one CUSDEC message into the JSON form.
pub fn read(message: &Message, decimal: u8) -> Result<Cusdec, ReadError> {
    let segments = &message.segments;
    let unh = &segments[0];
    let expected = ["CUSDEC", "D", "96B", "UN"];
    if let Some(c) = (0..4).find(|&c| message.identifier[c] != expected[c]) {
        return Err(ReadError::Syntax(contextual(
            codes::VALUE_NOT_SUPPORTED,
            unh.at(2, c + 1),
            message,
            "only CUSDEC:D:96B:UN is lodged here",
            "此处只接受 CUSDEC:D:96B:UN",
        )));
    }
    if let Some(unknown) = segments
        .iter()
        .find(|s| !CUSDEC_TAGS.contains(&s.tag.as_str()))
    {
        return Err(ReadError::Syntax(contextual(
            codes::NOT_SUPPORTED_IN_POSITION,
            unknown.here(),
            message,
            &format!("segment {} is not part of CUSDEC D.96B", unknown.tag),
            &format!("段 {} 不属于 CUSDEC D.96B", unknown.tag),
        )));
    }
    if segments[1].tag != "BGM" {
        return Err(ReadError::Syntax(contextual(
            codes::MISSING,
            Position {
                tag: "BGM".into(),
                segment: 2,
                element: None,
                component: None,
                in_message: true,
            },
            message,
            "the mandatory segment BGM must follow UNH",
            "必备段 BGM 必须紧随 UNH",
        )));
    }
    let sections: Vec<usize> = segments
        .iter()
        .filter(|s| s.tag == "UNS")
        .map(|s| s.position - 1)
        .collect();
    let trailer = segments.len();
    if sections.len() != 2
        || segments[sections[0]].value(1, 1) != "D"
        || segments[sections[1]].value(1, 1) != "S"
    {
        let at = sections
            .get(2)
            .or(sections.last())
            .map_or(trailer, |&i| i + 1);
        return Err(ReadError::Syntax(contextual(
            codes::MISSING,
            Position {
                tag: "UNS".into(),
                segment: at,
                element: Some(1),
                component: Some(1),
                in_message: true,
            },
            message,
            "the mandatory section controls UNS+D (detail) and UNS+S (summary) must each appear once, in that order",
            "必备的部分控制段 UNS+D（明细）和 UNS+S（汇总）须各出现一次且顺序如此",
        )));
    }
    let mut reader = Reader {
        origins: BTreeMap::new(),
        refusals: Vec::new(),
        decimal: char::from(decimal),
        dto: DeclarationDto::default(),
        group: "",
    };
    let bgm = &segments[1];
    let document_number = bgm.get(2, 1).map(str::to_owned);
    match bgm.get(1, 1) {
        Some("929") => reader.dto.direction = Some("import".into()),
        Some("830") => reader.dto.direction = Some("export".into()),
        Some(_) => reader.refuse(
            bgm,
            Some(1),
            "direction",
            "unknown_code",
            "BGM document name code (C002 1001) must be 929 (import) or 830 (export)".into(),
            "BGM 单证名称代码（C002 1001）必须为 929（进口）或 830（出口）".into(),
        ),
        None => {}
    }
    if reader.dto.direction.is_some() {
        reader.record("direction", bgm, 1, 1);
    }
    reader.dto.kind = reader.text("kind", bgm, 1, 4);
    header(&mut reader, &segments[2..sections[0]]);
    detail(&mut reader, &segments[sections[0] + 1..sections[1]]);
    reader.group = "";
    for segment in &segments[sections[1] + 1..trailer - 1] {
        // Control totals are checks of the sender's, not data of the declaration.
        if segment.tag != "CNT" {
            reader.unused(segment);
        }
    }
    if !reader.refusals.is_empty() {
        return Err(ReadError::Content(reader.refusals));
    }
    Ok(Cusdec {
        dto: reader.dto,
        message_reference: message.reference.clone(),
        document_number,
        origins: reader.origins,
        trailer,
    })
}

fn contextual(code: u16, at: Position, message: &Message, en: &str, zh: &str) -> SyntaxError {
    SyntaxError {
        code,
        at,
        message_en: en.to_owned(),
        message_zh: zh.to_owned(),
        message_reference: Some(message.reference.clone()),
    }
}

fn header(r: &mut Reader, segments: &[Segment]) {
    // Which party a group's RFF+ABP belongs to.
    let mut party: Option<&'static str> = None;
    for s in segments {
        let qualifier = s.value(1, 1);
        match (s.tag.as_str(), r.group) {
            ("CST", "") => {
                r.dto.procedure = r.text("procedure", s, 2, 1);
                r.dto.levy_nature = r.text("levy_nature", s, 3, 1);
            }
            ("LOC", "") => {
                let path = match qualifier {
                    "22" => "office_of_lodging",
                    "41" | "42" => "office_of_entry_exit",
                    "35" => "dispatch_country",
                    "28" => "destination_country",
                    "9" => "port",
                    _ => {
                        r.unknown_qualifier(s, "");
                        continue;
                    }
                };
                let value = r.text(path, s, 2, 1);
                match path {
                    "office_of_lodging" => r.dto.office_of_lodging = value,
                    "office_of_entry_exit" => r.dto.office_of_entry_exit = value,
                    "dispatch_country" => r.dto.dispatch_country = value,
                    "destination_country" => r.dto.destination_country = value,
                    _ => r.dto.port = value,
                }
            }
            ("DTM", "") => {
                let path = match qualifier {
                    "133" => "transport.departure_date",
                    "132" => "transport.arrival_date",
                    _ => {
                        r.unknown_qualifier(s, "");
                        continue;
                    }
                };
                let value = r.date(path, s);
                let transport = r.dto.transport.get_or_insert_with(TransportDto::default);
                if qualifier == "133" {
                    transport.departure_date = value;
                } else {
                    transport.arrival_date = value;
                }
            }
            ("MEA", "") if qualifier == "WT" => {
                let path = match s.value(2, 1) {
                    "AAD" => "gross_mass_kg",
                    "AAC" => "net_mass_kg",
                    _ => {
                        r.unknown_qualifier(s, "");
                        continue;
                    }
                };
                if s.value(3, 1) != "KGM" {
                    r.refuse(
                        s,
                        Some(3),
                        path,
                        "invalid_format",
                        "weights are given in kilograms: C174 6411 must be KGM".into(),
                        "重量以千克计：C174 6411 必须为 KGM".into(),
                    );
                }
                let value = r.number(path, s, 3, 2);
                if path == "gross_mass_kg" {
                    r.dto.gross_mass_kg = value;
                } else {
                    r.dto.net_mass_kg = value;
                }
            }
            ("RFF", "" | "SG1" | "SG2") => {
                r.open("SG1");
                party = None;
                if qualifier == "AEI" {
                    r.dto.summary_number = r.text("summary_number", s, 1, 2);
                    continue;
                }
                let kind = TRANSPORT_DOCUMENTS
                    .iter()
                    .find(|(_, q)| *q == qualifier)
                    .map(|(k, _)| *k);
                if kind.is_none() && qualifier != "ZZZ" {
                    r.unknown_qualifier(s, "transport.document.kind");
                    continue;
                }
                let number = r.text("transport.document.number", s, 1, 2);
                if kind.is_some() || number.is_some() {
                    if kind.is_some() {
                        r.record("transport.document.kind", s, 1, 1);
                    }
                    r.record("transport.document", s, 1, 1);
                    let transport = r.dto.transport.get_or_insert_with(TransportDto::default);
                    transport.document = Some(TransportDocumentDto {
                        kind: kind.map(str::to_owned),
                        number,
                    });
                }
            }
            ("PAC", "SG1" | "SG2") => {
                r.group = "SG2";
                r.record("packages", s, 1, 1);
                r.dto.packages = Some(PackagesDto {
                    count: r.number("packages.count", s, 1, 1),
                    package_type: r.text("packages.package_type", s, 3, 1),
                });
            }
            ("TDT", "" | "SG1" | "SG2" | "SG4") => {
                r.open("SG4");
                if qualifier != "20" {
                    r.unknown_qualifier(s, "transport");
                    continue;
                }
                r.record("transport", s, 1, 1);
                let mode = r.text("transport.mode", s, 3, 1);
                let voyage = r.text("transport.voyage", s, 2, 1);
                let means_name = r.text("transport.means_name", s, 8, 4);
                let transport = r.dto.transport.get_or_insert_with(TransportDto::default);
                transport.mode = mode;
                transport.voyage = voyage;
                transport.means_name = means_name;
            }
            ("DOC", "" | "SG1" | "SG2" | "SG4" | "SG5") => {
                r.open("SG5");
                let i = r.dto.documents.len();
                r.record(format!("documents[{i}]"), s, 1, 1);
                let document = DocumentDto {
                    document_type: r.text(&format!("documents[{i}].type"), s, 1, 1),
                    number: r.text(&format!("documents[{i}].number"), s, 2, 1),
                };
                r.dto.documents.push(document);
            }
            ("NAD", "" | "SG1" | "SG2" | "SG4" | "SG5" | "SG6") => {
                r.open("SG6");
                let import = r.dto.direction.as_deref() != Some("export");
                party = match (qualifier, import) {
                    ("DT", _) => Some("declarant"),
                    ("IM", true) | ("EX", false) => Some("trader"),
                    ("CZ", true) | ("CN", false) => Some("overseas_party"),
                    _ => {
                        r.unknown_qualifier(s, "");
                        None
                    }
                };
                match party {
                    Some("overseas_party") => {
                        r.record("overseas_party", s, 1, 1);
                        r.dto.overseas_party = Some(OverseasPartyDto {
                            name: r.name("overseas_party.name", s),
                            country: r.text("overseas_party.country", s, 9, 1),
                        });
                    }
                    Some(which) => {
                        r.record(which, s, 1, 1);
                        let enterprise = EnterpriseDto {
                            credit_code: r.text(&format!("{which}.credit_code"), s, 2, 1),
                            customs_code: None,
                            name: r.name(&format!("{which}.name"), s),
                        };
                        if which == "declarant" {
                            r.dto.declarant = Some(enterprise);
                        } else {
                            r.dto.trader = Some(enterprise);
                        }
                    }
                    None => {}
                }
            }
            ("RFF", "SG6")
                if qualifier == "ABP" && matches!(party, Some("declarant" | "trader")) =>
            {
                let which = party.unwrap_or_default();
                let code = r.text(&format!("{which}.customs_code"), s, 1, 2);
                let enterprise = if which == "declarant" {
                    &mut r.dto.declarant
                } else {
                    &mut r.dto.trader
                };
                if let Some(enterprise) = enterprise {
                    enterprise.customs_code = code;
                }
            }
            ("TOD", "" | "SG1" | "SG2" | "SG4" | "SG5" | "SG6") => {
                r.open("SG7");
                r.dto.transaction_terms = r.text("transaction_terms", s, 3, 1);
            }
            _ => r.unused(s),
        }
    }
}

fn detail(r: &mut Reader, segments: &[Segment]) {
    // The charge (freight, insurance, other costs) whose SG19 the walk is in.
    let mut charge: Option<&'static str> = None;
    r.group = "";
    for s in segments {
        let qualifier = s.value(1, 1);
        let item = r.dto.items.len().wrapping_sub(1);
        match (s.tag.as_str(), r.group) {
            ("DMS", "") => {
                r.open("SG10");
                r.record("invoice", s, 1, 1);
                let number = r.text("invoice.number", s, 1, 1);
                r.dto.invoice.get_or_insert_with(InvoiceDto::default).number = number;
            }
            ("DTM", "SG10") if qualifier == "3" => {
                let date = r.date("invoice.date", s);
                r.dto.invoice.get_or_insert_with(InvoiceDto::default).date = date;
            }
            ("MOA", "SG10" | "SG11") if qualifier == "39" => {
                r.group = "SG11";
                let amount = r.number("invoice.amount", s, 1, 2);
                let currency = r.text("invoice.currency", s, 1, 3);
                let invoice = r.dto.invoice.get_or_insert_with(InvoiceDto::default);
                invoice.amount = amount;
                invoice.currency = currency;
            }
            ("ALC", "SG10" | "SG11" | "SG19") => {
                r.open("SG19");
                let service = s.value(5, 1);
                charge = CHARGES
                    .iter()
                    .find(|(_, code)| *code == service)
                    .map(|(name, _)| *name);
                let Some(name) = charge else {
                    r.refuse(
                        s,
                        Some(5),
                        "",
                        "unknown_code",
                        "ALC special services code (C214 7161) must be FC (freight), IN (insurance) or ADR (other costs)".into(),
                        "ALC 特殊服务代码（C214 7161）必须为 FC（运费）、IN（保费）或 ADR（杂费）".into(),
                    );
                    continue;
                };
                r.record(name, s, 1, 1);
                let kind = r.text(&format!("{name}.kind"), s, 2, 1);
                charge_of(&mut r.dto, name)
                    .get_or_insert_with(ChargeDto::default)
                    .kind = kind;
            }
            ("MOA", "SG19") if qualifier == "23" && charge.is_some() => {
                let name = charge.unwrap_or_default();
                let amount = r.number(&format!("{name}.amount"), s, 1, 2);
                let currency = r.text(&format!("{name}.currency"), s, 1, 3);
                let c = charge_of(&mut r.dto, name).get_or_insert_with(ChargeDto::default);
                c.amount = amount;
                c.currency = currency;
            }
            ("PCD", "SG19") if qualifier == "7" && charge.is_some() => {
                let name = charge.unwrap_or_default();
                let percent = r.number(&format!("{name}.percent"), s, 1, 2);
                charge_of(&mut r.dto, name)
                    .get_or_insert_with(ChargeDto::default)
                    .percent = percent;
            }
            ("RTE", "SG19") if qualifier == "1" && charge.is_some() => {
                let name = charge.unwrap_or_default();
                let unit = r.text(&format!("{name}.unit"), s, 1, 3);
                charge_of(&mut r.dto, name)
                    .get_or_insert_with(ChargeDto::default)
                    .unit = unit;
            }
            ("CST", _) => {
                r.open("SG30");
                let i = r.dto.items.len();
                r.record(format!("items[{i}]"), s, 1, 1);
                let number = s.value(1, 1);
                if number != (i + 1).to_string() {
                    r.refuse(
                        s,
                        Some(1),
                        &format!("items[{i}]"),
                        "invalid_format",
                        format!("goods item number (1496) must be {}: items are numbered from 1 in order", i + 1),
                        format!("商品项号（1496）必须为 {}：商品项自 1 起依次编号", i + 1),
                    );
                }
                let item = GoodsItemDto {
                    commodity_code: r.text(&format!("items[{i}].commodity_code"), s, 2, 1),
                    levy_mode: r.text(&format!("items[{i}].levy_mode"), s, 3, 1),
                    ..GoodsItemDto::default()
                };
                r.dto.items.push(item);
            }
            ("FTX", "SG30") if qualifier == "AAA" => {
                let path = format!("items[{item}].description");
                let text = s.joined(4);
                if !text.is_empty() {
                    r.record(&path, s, 4, 1);
                    let description = &mut r.dto.items[item].description;
                    description.get_or_insert_with(String::new).push_str(&text);
                }
            }
            ("LOC", "SG30") if qualifier == "27" => {
                r.dto.items[item].origin_country =
                    r.text(&format!("items[{item}].origin_country"), s, 2, 1);
            }
            ("MEA", "SG30") if matches!(qualifier, "AAA" | "AAF") => {
                let path = if qualifier == "AAA" {
                    format!("items[{item}].quantity")
                } else {
                    format!(
                        "items[{item}].statutory_quantities[{}]",
                        r.dto.items[item].statutory_quantities.len()
                    )
                };
                r.record(&path, s, 3, 1);
                let quantity = QuantityDto {
                    value: r.number(&format!("{path}.value"), s, 3, 2),
                    unit: r.text(&format!("{path}.unit"), s, 3, 1),
                };
                if qualifier == "AAA" {
                    r.dto.items[item].quantity = Some(quantity);
                } else {
                    r.dto.items[item].statutory_quantities.push(quantity);
                }
            }
            ("MOA", "SG30" | "SG33") if matches!(qualifier, "146" | "38") => {
                r.group = "SG33";
                if qualifier == "146" {
                    r.dto.items[item].unit_price =
                        r.number(&format!("items[{item}].unit_price"), s, 1, 2);
                } else {
                    r.dto.items[item].amount = r.number(&format!("items[{item}].amount"), s, 1, 2);
                }
            }
            ("RFF", "SG30" | "SG33" | "SG35") if qualifier == "AIR" => {
                r.group = "SG35";
                let path = format!("items[{item}].preference");
                r.record(&path, s, 1, 1);
                r.dto.items[item].preference = Some(PreferenceDto {
                    proof_number: r.text(&format!("{path}.proof_number"), s, 1, 2),
                    proof_item: r.number(&format!("{path}.proof_item"), s, 1, 3),
                    agreement: r.text(&format!("{path}.agreement"), s, 1, 4),
                });
            }
            _ => r.unused(s),
        }
    }
}

fn charge_of<'d>(dto: &'d mut DeclarationDto, name: &str) -> &'d mut Option<ChargeDto> {
    match name {
        "freight" => &mut dto.freight,
        "insurance" => &mut dto.insurance,
        _ => &mut dto.other_costs,
    }
}

/// The envelope of an interchange this platform writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender: String,
    pub recipient: String,
    /// Interchange control reference (0020) and message reference (0062).
    pub reference: String,
    /// CCYYMMDD and HHMM of preparation (the caller's clock: this crate reads none).
    pub date: String,
    pub time: String,
}

/// A field of the JSON form that this CUSDEC profile does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub path: String,
    pub message_en: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message_en)
    }
}

fn not_carried(path: &str, why: &str) -> RenderError {
    RenderError {
        path: path.to_owned(),
        message_en: why.to_owned(),
    }
}

/// Opens an interchange (UNA, UNB) with the syntax level UNOY (UTF-8), version 4.
pub(crate) fn open_interchange(w: &mut Writer, envelope: &Envelope) {
    w.una();
    w.segment(
        "UNB",
        &[
            &["UNOY", "4"],
            &[&envelope.sender],
            &[&envelope.recipient],
            &[&envelope.date[2.min(envelope.date.len())..], &envelope.time],
            &[&envelope.reference],
        ],
    );
}

/// Closes a message (UNT) and the interchange (UNZ) of one message.
pub(crate) fn close_interchange(w: &mut Writer, envelope: &Envelope) {
    let count = (w.message_segments() + 1).to_string();
    w.segment("UNT", &[&[&count], &["1"]]);
    w.segment("UNZ", &[&["1"], &[&envelope.reference]]);
}

fn date_102(date: &Option<String>) -> String {
    date.as_deref()
        .map(|d| d.replace('-', ""))
        .unwrap_or_default()
}

fn num(value: &Option<NumText>) -> &str {
    value.as_ref().map_or("", |n| n.0.as_str())
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// NAD with a name split into C080's components of 35 characters, at most five.
fn party(
    w: &mut Writer,
    qualifier: &str,
    id: &str,
    name: &str,
    country: &str,
    path: &str,
) -> Result<(), RenderError> {
    let names = syntax::chunks(name, 35);
    if names.len() > 5 {
        return Err(not_carried(
            &format!("{path}.name"),
            "a party name longer than 175 characters does not fit C080",
        ));
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    w.segment(
        "NAD",
        &[
            &[qualifier],
            &[id],
            &[],
            &names,
            &[],
            &[],
            &[],
            &[],
            &[country],
        ],
    );
    Ok(())
}

/// Renders the JSON form as a CUSDEC D.96B interchange of one message. The inverse of `read`
/// for every declaration this profile carries; CBEC orders, postal parcels and proofs of origin
/// are not (they are lodged as JSON), and are refused rather than dropped.
pub fn render(dto: &DeclarationDto, envelope: &Envelope) -> Result<String, RenderError> {
    if dto.cbec_order.is_some() {
        return Err(not_carried(
            "cbec_order",
            "CBEC orders are lodged as JSON, not CUSDEC",
        ));
    }
    if dto.postal_parcel.is_some() {
        return Err(not_carried(
            "postal_parcel",
            "postal parcels of personal articles are lodged as JSON, not CUSDEC",
        ));
    }
    if !dto.origin_proofs.is_empty() {
        return Err(not_carried(
            "origin_proofs",
            "proofs of origin are lodged as JSON, not CUSDEC",
        ));
    }
    let import = dto.direction.as_deref() != Some("export");
    let mut w = Writer::new();
    open_interchange(&mut w, envelope);
    w.segment("UNH", &[&["1"], &["CUSDEC", "D", "96B", "UN"]]);
    let direction = match dto.direction.as_deref() {
        Some("import") => "929",
        Some("export") => "830",
        None => "",
        Some(_) => return Err(not_carried("direction", "direction is import or export")),
    };
    w.segment(
        "BGM",
        &[
            &[direction, "", "", opt(&dto.kind)],
            &[&envelope.reference],
            &["9"],
        ],
    );
    w.segment(
        "CST",
        &[&[], &[opt(&dto.procedure)], &[opt(&dto.levy_nature)]],
    );
    let entry_exit = if import { "41" } else { "42" };
    for (qualifier, value) in [
        ("22", &dto.office_of_lodging),
        (entry_exit, &dto.office_of_entry_exit),
        ("35", &dto.dispatch_country),
        ("28", &dto.destination_country),
        ("9", &dto.port),
    ] {
        if let Some(value) = value {
            w.segment("LOC", &[&[qualifier], &[value]]);
        }
    }
    let transport = dto.transport.as_ref();
    if let Some(t) = transport {
        if t.departure_date.is_some() {
            w.segment("DTM", &[&["133", &date_102(&t.departure_date), "102"]]);
        }
        if t.arrival_date.is_some() {
            w.segment("DTM", &[&["132", &date_102(&t.arrival_date), "102"]]);
        }
    }
    if let Some(gross) = &dto.gross_mass_kg {
        w.segment("MEA", &[&["WT"], &["AAD"], &["KGM", &gross.0]]);
    }
    if let Some(net) = &dto.net_mass_kg {
        w.segment("MEA", &[&["WT"], &["AAC"], &["KGM", &net.0]]);
    }
    if let Some(summary) = &dto.summary_number {
        w.segment("RFF", &[&["AEI", summary]]);
    }
    let document = transport.and_then(|t| t.document.as_ref());
    if document.is_some() || dto.packages.is_some() {
        let (qualifier, number) = match document {
            Some(d) => {
                let qualifier = match d.kind.as_deref() {
                    None => "ZZZ",
                    Some(kind) => TRANSPORT_DOCUMENTS
                        .iter()
                        .find(|(k, _)| *k == kind)
                        .map(|(_, q)| *q)
                        .ok_or_else(|| {
                            not_carried(
                                "transport.document.kind",
                                "unknown transport document kind",
                            )
                        })?,
                };
                (qualifier, opt(&d.number))
            }
            None => ("ZZZ", ""),
        };
        w.segment("RFF", &[&[qualifier, number]]);
        if let Some(p) = &dto.packages {
            w.segment("PAC", &[&[num(&p.count)], &[], &[opt(&p.package_type)]]);
        }
    }
    if let Some(t) = transport
        && (t.mode.is_some() || t.voyage.is_some() || t.means_name.is_some())
    {
        w.segment(
            "TDT",
            &[
                &["20"],
                &[opt(&t.voyage)],
                &[opt(&t.mode)],
                &[],
                &[],
                &[],
                &[],
                &["", "", "", opt(&t.means_name)],
            ],
        );
    }
    for d in &dto.documents {
        w.segment("DOC", &[&[opt(&d.document_type)], &[opt(&d.number)]]);
    }
    let trader_qualifier = if import { "IM" } else { "EX" };
    for (qualifier, enterprise, path) in [
        ("DT", &dto.declarant, "declarant"),
        (trader_qualifier, &dto.trader, "trader"),
    ] {
        if let Some(e) = enterprise {
            party(
                &mut w,
                qualifier,
                opt(&e.credit_code),
                opt(&e.name),
                "",
                path,
            )?;
            if let Some(code) = &e.customs_code {
                w.segment("RFF", &[&["ABP", code]]);
            }
        }
    }
    if let Some(o) = &dto.overseas_party {
        let qualifier = if import { "CZ" } else { "CN" };
        party(
            &mut w,
            qualifier,
            "",
            opt(&o.name),
            opt(&o.country),
            "overseas_party",
        )?;
    }
    if let Some(terms) = &dto.transaction_terms {
        w.segment("TOD", &[&[], &[], &[terms]]);
    }
    w.segment("UNS", &[&["D"]]);
    let charges = [
        ("freight", &dto.freight),
        ("insurance", &dto.insurance),
        ("other_costs", &dto.other_costs),
    ];
    if dto.invoice.is_some() || charges.iter().any(|(_, c)| c.is_some()) {
        let invoice = dto.invoice.clone().unwrap_or_default();
        w.segment("DMS", &[&[opt(&invoice.number)], &["380"]]);
        if invoice.date.is_some() {
            w.segment("DTM", &[&["3", &date_102(&invoice.date), "102"]]);
        }
        if invoice.amount.is_some() || invoice.currency.is_some() {
            w.segment(
                "MOA",
                &[&["39", num(&invoice.amount), opt(&invoice.currency)]],
            );
        }
        for (name, charge) in charges {
            let Some(c) = charge else { continue };
            let service = CHARGES
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, s)| *s);
            w.segment("ALC", &[&["C"], &[opt(&c.kind)], &[], &[], &[service]]);
            if c.amount.is_some() || c.currency.is_some() {
                w.segment("MOA", &[&["23", num(&c.amount), opt(&c.currency)]]);
            }
            if let Some(percent) = &c.percent {
                w.segment("PCD", &[&["7", &percent.0]]);
            }
            if let Some(unit) = &c.unit {
                w.segment("RTE", &[&["1", num(&c.amount), unit]]);
            }
        }
    }
    for (i, item) in dto.items.iter().enumerate() {
        let number = (i + 1).to_string();
        w.segment(
            "CST",
            &[
                &[&number],
                &[opt(&item.commodity_code)],
                &[opt(&item.levy_mode)],
            ],
        );
        if let Some(description) = &item.description {
            let pieces = syntax::chunks(description, 70);
            for group in pieces.chunks(5) {
                let texts: Vec<&str> = group.iter().map(String::as_str).collect();
                w.segment("FTX", &[&["AAA"], &[], &[], &texts]);
            }
        }
        if let Some(origin) = &item.origin_country {
            w.segment("LOC", &[&["27"], &[origin]]);
        }
        if let Some(q) = &item.quantity {
            w.segment("MEA", &[&["AAA"], &[], &[opt(&q.unit), num(&q.value)]]);
        }
        for q in &item.statutory_quantities {
            w.segment("MEA", &[&["AAF"], &[], &[opt(&q.unit), num(&q.value)]]);
        }
        if let Some(price) = &item.unit_price {
            w.segment("MOA", &[&["146", &price.0]]);
        }
        if let Some(amount) = &item.amount {
            w.segment("MOA", &[&["38", &amount.0]]);
        }
        if let Some(p) = &item.preference {
            w.segment(
                "RFF",
                &[&[
                    "AIR",
                    opt(&p.proof_number),
                    num(&p.proof_item),
                    opt(&p.agreement),
                ]],
            );
        }
    }
    w.segment("UNS", &[&["S"]]);
    let count = dto.items.len().to_string();
    w.segment("CNT", &[&["5", &count]]);
    close_interchange(&mut w, envelope);
    Ok(w.finish())
}
