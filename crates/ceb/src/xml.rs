//! A small namespace-aware element tree read with quick-xml.
//!
//! CEB messages come with any prefix for `http://www.chinaport.gov.cn/ceb` (or as the default
//! namespace, like the CEB622 sample), so elements are matched by namespace and local name,
//! never by prefix. The enveloped `ds:Signature` is skipped whole (the `dsig` crate verifies it
//! on the raw bytes); nothing of it is kept. A document type declaration is refused outright (no
//! DTD, so no external entity and no entity expansion), as is any entity reference other than
//! XML's five and character references.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::{CEB_NAMESPACE, DEPTH_MAX, DSIG_NAMESPACE, ELEMENTS_MAX, MESSAGE_BYTES_MAX};

/// Which namespace an element is in, as far as a CEB message cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ns {
    Ceb,
    /// No namespace, or one that is not CEB's: refused where a CEB element is expected.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: Ns,
    /// The local name (no prefix).
    pub name: String,
    /// Attributes without a namespace, by name (namespace declarations left out).
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The element's own text, trimmed.
    pub text: String,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a message could not be read as XML at all; the caller names it in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlRefusal {
    TooLarge,
    TooDeep,
    TooManyElements,
    DocumentType,
    Entity(String),
    Malformed(String),
    Empty,
}

impl XmlRefusal {
    pub fn messages(&self) -> (String, String) {
        use domain::problem::echoed;
        match self {
            XmlRefusal::TooLarge => (
                format!("the message is larger than {MESSAGE_BYTES_MAX} bytes"),
                format!("报文超过 {MESSAGE_BYTES_MAX} 字节"),
            ),
            XmlRefusal::TooDeep => (
                format!("elements are nested more than {DEPTH_MAX} deep"),
                format!("元素嵌套超过 {DEPTH_MAX} 层"),
            ),
            XmlRefusal::TooManyElements => (
                format!("the message has more than {ELEMENTS_MAX} elements"),
                format!("报文元素超过 {ELEMENTS_MAX} 个"),
            ),
            XmlRefusal::DocumentType => (
                "a document type declaration (DTD) is not accepted".into(),
                "不接受文档类型声明（DTD）".into(),
            ),
            XmlRefusal::Entity(name) => (
                format!(
                    "the entity reference &{}; is not accepted (only XML's five and character references)",
                    echoed(name)
                ),
                format!(
                    "不接受实体引用 &{};（仅接受 XML 预定义实体和字符引用）",
                    echoed(name)
                ),
            ),
            XmlRefusal::Malformed(detail) => (
                format!("is not well-formed XML: {}", echoed(detail)),
                format!("不是格式正确的 XML：{}", echoed(detail)),
            ),
            XmlRefusal::Empty => ("has no root element".into(), "没有根元素".into()),
        }
    }
}

fn resolve_entity(name: &str) -> Option<String> {
    match name {
        "lt" => Some("<".into()),
        "gt" => Some(">".into()),
        "amp" => Some("&".into()),
        "quot" => Some("\"".into()),
        "apos" => Some("'".into()),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code).map(String::from)
        }
    }
}

fn unescape(raw: &str) -> Result<String, XmlRefusal> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| XmlRefusal::Malformed("an unterminated entity reference".into()))?;
        let name = &after[..end];
        out.push_str(&resolve_entity(name).ok_or_else(|| XmlRefusal::Entity(name.to_owned()))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn namespace(resolved: &ResolveResult<'_>) -> Result<Ns, XmlRefusal> {
    match resolved {
        ResolveResult::Bound(ns) if ns.as_ref() == CEB_NAMESPACE.as_bytes() => Ok(Ns::Ceb),
        ResolveResult::Bound(ns) => Ok(Ns::Other(String::from_utf8_lossy(ns.as_ref()).into())),
        ResolveResult::Unbound => Ok(Ns::Other(String::new())),
        ResolveResult::Unknown(prefix) => Err(XmlRefusal::Malformed(format!(
            "the prefix {} is not declared",
            String::from_utf8_lossy(prefix)
        ))),
    }
}

/// A message read: its root element, and whether the root carried a `ds:Signature` (of which
/// nothing else is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub root: Element,
    pub signed: bool,
}

/// Reads the whole message into a tree, enforcing every limit before the work. A UTF-8 byte
/// order mark is allowed (the CEB311 sample has one).
pub fn parse(bytes: &[u8]) -> Result<Tree, XmlRefusal> {
    if bytes.len() > MESSAGE_BYTES_MAX {
        return Err(XmlRefusal::TooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| XmlRefusal::Malformed(format!("not UTF-8 ({e})")))?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    // Depth inside a skipped `ds:Signature` (0: not inside one).
    let mut skipping = 0usize;
    let mut signed = false;
    let malformed =
        |e: &dyn std::fmt::Display, at: u64| XmlRefusal::Malformed(format!("{e} (at byte {at})"));
    loop {
        let at = reader.buffer_position();
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(&e, at))?;
        let (start, is_empty) = match event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::DocType(_) => return Err(XmlRefusal::DocumentType),
            Event::End(_) => {
                if skipping > 0 {
                    skipping -= 1;
                    continue;
                }
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlRefusal::Malformed("unexpected end tag".into()))?;
                close(&mut stack, &mut root, element);
                continue;
            }
            Event::Text(t) => {
                let decoded = t.decode().map_err(|e| malformed(&e, at))?;
                if skipping == 0 {
                    push_text(&mut stack, &decoded)?;
                }
                continue;
            }
            Event::CData(t) => {
                let decoded = String::from_utf8_lossy(&t).into_owned();
                if skipping == 0 {
                    push_text(&mut stack, &decoded)?;
                }
                continue;
            }
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(&r).into_owned();
                let resolved = resolve_entity(&name).ok_or(XmlRefusal::Entity(name))?;
                if skipping == 0 {
                    push_text(&mut stack, &resolved)?;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        if root.is_some() {
            return Err(XmlRefusal::Malformed(
                "content after the root element".into(),
            ));
        }
        elements += 1;
        if elements > ELEMENTS_MAX {
            return Err(XmlRefusal::TooManyElements);
        }
        if stack.len() + skipping >= DEPTH_MAX {
            return Err(XmlRefusal::TooDeep);
        }
        let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let is_signature = matches!(&resolved,
            ResolveResult::Bound(ns) if ns.as_ref() == DSIG_NAMESPACE.as_bytes())
            && local == "Signature";
        if is_signature && stack.len() == 1 {
            signed = true;
        }
        if skipping > 0 || (is_signature && !stack.is_empty()) {
            if !is_empty {
                skipping += 1;
            }
            continue;
        }
        let ns = namespace(&resolved)?;
        let mut element = Element {
            ns,
            name: local,
            attributes: Vec::new(),
            children: Vec::new(),
            text: String::new(),
        };
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| malformed(&e, at))?;
            let key = attribute.key.as_ref();
            if key == b"xmlns" || key.starts_with(b"xmlns:") || key.contains(&b':') {
                continue;
            }
            let raw = String::from_utf8_lossy(&attribute.value).into_owned();
            element
                .attributes
                .push((String::from_utf8_lossy(key).into_owned(), unescape(&raw)?));
        }
        if is_empty {
            close(&mut stack, &mut root, element);
        } else {
            stack.push(element);
        }
    }
    if !stack.is_empty() || skipping > 0 {
        return Err(XmlRefusal::Malformed(
            "the message ends inside an element".into(),
        ));
    }
    let mut root = root.ok_or(XmlRefusal::Empty)?;
    trim_all(&mut root);
    Ok(Tree { root, signed })
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlRefusal> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlRefusal::Malformed(
            "text outside the root element".into(),
        )),
    }
}

/// Text is split around entity references (and kept whole until then), so the trimming is done
/// once the element is whole.
fn trim_all(element: &mut Element) {
    let trimmed = element.text.trim();
    if trimmed.len() != element.text.len() {
        element.text = trimmed.to_owned();
    }
    for child in &mut element.children {
        trim_all(child);
    }
}

/// Text and attribute values escaped for XML; characters XML 1.0 cannot carry at all (most
/// control characters) are written as U+FFFD, so the output is always well-formed.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}
