//! WCO Data Model 3.6 XML in and out (an edge): a trader's declaration (DEC, in HMRC's DMS flavour)
//! into the platform's JSON declaration (`wire::DeclarationDto`), the same declaration rendered
//! back, and the WCO response messages (RES) that answer a lodging and tell its receipts.
//!
//! Pure mapping: bytes in, text out, no I/O and no clock (times come in as arguments). The lodging
//! itself is the platform's: the mapped declaration goes through the same JSON boundary parser and
//! clearance path as any other, and its refusals come back here to be named by WCO element path
//! (`wco_errors`), through the one mapping table (`mapping::TABLE`, `docs/wco-mapping.md`).

pub mod mapping;
pub mod response;
mod schema_order;
pub mod xml;

use domain::FieldError;
use domain::problem::ErrorCode;
use wire::DeclarationDto;

pub use response::{
    Notification, ResponseMessage, read_response, render_acceptance, render_receipt,
    render_rejection,
};

/// The largest WCO message read, in bytes (the JSON body's limit, 4 MiB).
pub const MESSAGE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// The deepest nesting of elements read; HMRC's deepest declaration path is 8 below `MetaData`.
pub const DEPTH_MAX: usize = 16;
/// The most elements in one message: 999 goods items of about 40 elements each, with room.
pub const ELEMENTS_MAX: usize = 100_000;
/// The most goods items: the platform's own limit, checked before the mapping.
pub const GOODS_ITEMS_MAX: usize = domain::limits::ITEMS_PER_DECLARATION_MAX;

/// The DMS namespaces: the metadata envelope, the declaration and the response.
pub const METADATA_NAMESPACE: &str = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2";
pub const DECLARATION_NAMESPACE: &str = "urn:wco:datamodel:WCO:DEC-DMS:2";
pub const RESPONSE_NAMESPACE: &str = "urn:wco:datamodel:WCO:RES-DMS:2";
/// The data-structure namespaces that `DateTimeString` belongs to in each.
pub const DECLARATION_DS_NAMESPACE: &str = "urn:wco:datamodel:WCO:Declaration_DS:DMS:2";
pub const RESPONSE_DS_NAMESPACE: &str = "urn:wco:datamodel:WCO:Response_DS:DMS:2";

/// A declaration read from WCO XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WcoDeclaration {
    pub declaration: DeclarationDto,
    /// The trader's own reference (LRN, DE 2/5, `FunctionalReferenceID`), when given.
    pub functional_reference: Option<String>,
    /// What the China profile cannot carry, by WCO element path. The declaration still maps, so
    /// the lodging path's own checks can be added to these in one answer.
    pub problems: Vec<FieldError>,
}

/// A WCO message that could not be read as a declaration at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub functional_reference: Option<String>,
    pub errors: Vec<FieldError>,
}

/// The root path of a message that is not XML or not a declaration.
pub const MESSAGE_PATH: &str = "/";

fn error(path: &str, code: ErrorCode, en: String, zh: String) -> FieldError {
    FieldError {
        path: path.to_owned(),
        code,
        message_en: en,
        message_zh: zh,
    }
}

const METADATA_ELEMENTS: &[&str] = &[
    "WCODataModelVersionCode",
    "WCOTypeName",
    "ResponsibleCountryCode",
    "ResponsibleAgencyName",
    "AgencyAssignedCustomizationCode",
    "AgencyAssignedCustomizationVersionCode",
];

/// Reads a WCO declaration (`MetaData/Declaration`, or a bare `Declaration`; with or without
/// namespaces) and maps it to the JSON declaration.
pub fn parse_declaration(bytes: &[u8]) -> Result<WcoDeclaration, Unreadable> {
    let root = xml::parse(bytes).map_err(|refusal| {
        let (en, zh) = refusal.messages();
        let code = match refusal {
            xml::XmlRefusal::TooLarge | xml::XmlRefusal::TooManyElements => ErrorCode::TooLong,
            xml::XmlRefusal::TooDeep => ErrorCode::TooLong,
            _ => ErrorCode::InvalidJson,
        };
        Unreadable {
            functional_reference: None,
            errors: vec![error(MESSAGE_PATH, code, en, zh)],
        }
    })?;
    let mut problems = Vec::new();
    let declaration = match root.name.as_str() {
        "Declaration" => root,
        "MetaData" => {
            for child in &root.children {
                let path = format!("MetaData/{}", child.name);
                if child.name == "WCOTypeName" && child.text != "DEC" {
                    problems.push(FieldError::invalid_format(
                        &path,
                        "DEC (a declaration)",
                        "DEC（报关单）",
                    ));
                } else if !METADATA_ELEMENTS.contains(&child.name.as_str())
                    && child.name != "Declaration"
                {
                    problems.push(not_in_profile(&path));
                }
            }
            let mut declarations = root
                .children
                .into_iter()
                .filter(|c| c.name == "Declaration");
            let first = declarations.next();
            if declarations.next().is_some() {
                problems.push(FieldError::too_many("MetaData/Declaration", 1));
            }
            first.ok_or_else(|| Unreadable {
                functional_reference: None,
                errors: vec![FieldError::required("MetaData/Declaration")],
            })?
        }
        other => {
            return Err(Unreadable {
                functional_reference: None,
                errors: vec![error(
                    MESSAGE_PATH,
                    ErrorCode::InvalidFormat,
                    format!(
                        "must be a WCO declaration (MetaData or Declaration), not {}",
                        domain::problem::echoed(other)
                    ),
                    format!(
                        "应为 WCO 报关单（MetaData 或 Declaration），而不是 {}",
                        domain::problem::echoed(other)
                    ),
                )],
            });
        }
    };
    let mut declaration = declaration;
    let functional_reference = declaration
        .children
        .iter()
        .position(|c| c.name == "FunctionalReferenceID")
        .map(|at| declaration.children.remove(at).text)
        .filter(|text| !text.is_empty());
    let items = declaration
        .child("GoodsShipment")
        .map_or(0, |g| g.children_named("GovernmentAgencyGoodsItem").count());
    if items > GOODS_ITEMS_MAX {
        return Err(Unreadable {
            functional_reference,
            errors: vec![FieldError::too_many(
                "Declaration/GoodsShipment/GovernmentAgencyGoodsItem",
                GOODS_ITEMS_MAX,
            )],
        });
    }
    let parsed = mapping::parse(&declaration);
    problems.extend(parsed.problems.iter().map(problem_error));
    let dto: DeclarationDto = serde_json::from_value(parsed.json).map_err(|e| Unreadable {
        functional_reference: functional_reference.clone(),
        errors: vec![FieldError::invalid_type("Declaration", &e.to_string())],
    })?;
    Ok(WcoDeclaration {
        declaration: dto,
        functional_reference,
        problems,
    })
}

fn not_in_profile(path: &str) -> FieldError {
    error(
        path,
        ErrorCode::UnknownField,
        "is not carried by the China profile of the WCO declaration (or is repeated where it is carried once)".into(),
        "不在中国海关 WCO 报关单映射之内（或只可出现一次的元素重复出现）".into(),
    )
}

fn problem_error(problem: &mapping::MappingProblem) -> FieldError {
    use mapping::ProblemKind::*;
    let path = problem.path.as_str();
    match &problem.kind {
        NotInProfile => not_in_profile(path),
        NotOriginal(code) => FieldError::not_allowed(
            path,
            &format!(
                "only an original declaration (function code 9) is lodged here, not {}",
                domain::problem::echoed(code)
            ),
            &format!(
                "此处只受理原始申报（功能代码 9），而不是 {}",
                domain::problem::echoed(code)
            ),
        ),
        SequenceOutOfOrder { expected } => FieldError::invalid_format(
            path,
            &format!("{expected} (goods items are numbered 1, 2, 3... in document order)"),
            &format!("{expected}（商品项按报文顺序编号 1、2、3……）"),
        ),
        ItemCountMismatch { items } => FieldError::invalid_format(
            path,
            &format!("{items}, the number of goods items"),
            &format!("{items}，即商品项数"),
        ),
        NotAFlag => FieldError::invalid_format(path, "1 or 0", "1 或 0"),
        DateFormat => FieldError::invalid_format(
            path,
            "102 (a date written CCYYMMDD)",
            "102（日期格式 CCYYMMDD）",
        ),
    }
}

/// The lodging path's refusals (named by JSON path) named by WCO element path instead, through
/// the mapping table; the direction decides which party is the exporter.
pub fn wco_errors(errors: Vec<FieldError>, declaration: &DeclarationDto) -> Vec<FieldError> {
    let export_direction = declaration.direction.as_deref() == Some("export");
    errors
        .into_iter()
        .map(|e| FieldError {
            path: mapping::wco_path(&e.path, export_direction),
            ..e
        })
        .collect()
}

/// The declaration as a WCO DEC message (China profile) in HMRC's DMS envelope; reading it back
/// with `parse_declaration` gives the same declaration.
pub fn render_declaration(
    declaration: &DeclarationDto,
    functional_reference: Option<&str>,
) -> String {
    let json = serde_json::to_value(declaration).expect("a DTO always serialises");
    let mut element = mapping::render(&json);
    if let Some(reference) = functional_reference {
        let at = element
            .children
            .iter()
            .position(|c| c.name == "FunctionCode")
            .map_or(0, |at| at + 1);
        let mut child = xml::Element::new("FunctionalReferenceID");
        child.text = reference.to_owned();
        element.children.insert(at, child);
    }
    element
        .attributes
        .insert(0, ("xmlns:ds".into(), DECLARATION_DS_NAMESPACE.into()));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<md:MetaData xmlns:md=\"{METADATA_NAMESPACE}\">\n"
    ));
    metadata(&mut out, "DEC");
    element.write(&mut out, 1, Some(("xmlns", DECLARATION_NAMESPACE)));
    out.push_str("</md:MetaData>\n");
    out
}

/// The envelope's facts: WCO DM 3.6, China as the responsible country.
pub(crate) fn metadata(out: &mut String, type_name: &str) {
    out.push_str("\t<md:WCODataModelVersionCode>3.6</md:WCODataModelVersionCode>\n");
    out.push_str(&format!("\t<md:WCOTypeName>{type_name}</md:WCOTypeName>\n"));
    out.push_str("\t<md:ResponsibleCountryCode>CN</md:ResponsibleCountryCode>\n");
    out.push_str("\t<md:ResponsibleAgencyName>GACC</md:ResponsibleAgencyName>\n");
    out.push_str(
        "\t<md:AgencyAssignedCustomizationVersionCode>CN1</md:AgencyAssignedCustomizationVersionCode>\n",
    );
}

#[cfg(test)]
mod tests;
