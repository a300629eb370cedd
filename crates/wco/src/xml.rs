//! A small element tree read with quick-xml, and its writer.
//!
//! Names are kept without their prefix: HMRC's samples come with and without namespaces, and a
//! declaration's meaning does not depend on the prefix a trader's software chose. A document type
//! declaration is refused outright (no DTD, so no external entity and no entity expansion), as is
//! any entity reference other than XML's five and character references.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::{DEPTH_MAX, ELEMENTS_MAX, MESSAGE_BYTES_MAX};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (no prefix).
    pub name: String,
    /// Attributes by local name, without namespace declarations and `xsi:` attributes.
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The element's own text, trimmed.
    pub text: String,
}

impl Element {
    pub fn new(name: &str) -> Element {
        Element {
            name: name.to_owned(),
            ..Element::default()
        }
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Appends a child with text and returns it.
    pub fn push_text(&mut self, name: &str, text: &str) -> &mut Element {
        let mut child = Element::new(name);
        child.text = text.to_owned();
        self.children.push(child);
        self.children.last_mut().expect("just pushed")
    }

    pub fn push(&mut self, name: &str) -> &mut Element {
        self.children.push(Element::new(name));
        self.children.last_mut().expect("just pushed")
    }

    /// The element written as XML, children indented by a tab per level.
    pub fn write(&self, out: &mut String, depth: usize, namespace: Option<(&str, &str)>) {
        out.extend(std::iter::repeat_n('\t', depth));
        out.push('<');
        out.push_str(&self.name);
        if let Some((attribute, uri)) = namespace {
            out.push(' ');
            out.push_str(attribute);
            out.push_str("=\"");
            escape_into(out, uri);
            out.push('"');
        }
        for (name, value) in &self.attributes {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            escape_into(out, value);
            out.push('"');
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>\n");
            return;
        }
        out.push('>');
        if self.children.is_empty() {
            escape_into(out, &self.text);
        } else {
            out.push('\n');
            for child in &self.children {
                child.write(out, depth + 1, None);
            }
            out.extend(std::iter::repeat_n('\t', depth));
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push_str(">\n");
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
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
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
                    "the entity reference &{};  is not accepted (only XML's five and character references)",
                    domain::problem::echoed(name)
                ),
                format!(
                    "不接受实体引用 &{};（仅接受 XML 预定义实体和字符引用）",
                    domain::problem::echoed(name)
                ),
            ),
            XmlRefusal::Malformed(detail) => (
                format!(
                    "is not well-formed XML: {}",
                    domain::problem::echoed(detail)
                ),
                format!("不是格式正确的 XML：{}", domain::problem::echoed(detail)),
            ),
            XmlRefusal::Empty => ("has no root element".into(), "没有根元素".into()),
        }
    }
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    match name.rsplit_once(':') {
        Some((_, local)) => local.to_owned(),
        None => name.into_owned(),
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

/// Reads the whole message into a tree, enforcing every limit before the work.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlRefusal> {
    if bytes.len() > MESSAGE_BYTES_MAX {
        return Err(XmlRefusal::TooLarge);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| XmlRefusal::Malformed(format!("not UTF-8 ({e})")))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    let malformed =
        |e: &dyn std::fmt::Display, at: u64| XmlRefusal::Malformed(format!("{e} (at byte {at})"));
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| malformed(&e, at))?;
        let (start, is_empty) = match event {
            Event::Start(start) => (Some(start), false),
            Event::Empty(start) => (Some(start), true),
            other => {
                match other {
                    Event::DocType(_) => return Err(XmlRefusal::DocumentType),
                    Event::End(_) => {
                        let element = stack
                            .pop()
                            .ok_or_else(|| XmlRefusal::Malformed("unexpected end tag".into()))?;
                        close(&mut stack, &mut root, element);
                    }
                    Event::Text(t) => {
                        let decoded = t.decode().map_err(|e| malformed(&e, at))?;
                        push_text(&mut stack, &decoded)?;
                    }
                    Event::CData(t) => {
                        let decoded = String::from_utf8_lossy(&t).into_owned();
                        push_text(&mut stack, &decoded)?;
                    }
                    Event::GeneralRef(r) => {
                        let name = String::from_utf8_lossy(&r).into_owned();
                        let resolved = resolve_entity(&name).ok_or(XmlRefusal::Entity(name))?;
                        push_text(&mut stack, &resolved)?;
                    }
                    Event::Eof => break,
                    _ => {}
                }
                (None, false)
            }
        };
        if let Some(start) = start {
            {
                if root.is_some() {
                    return Err(XmlRefusal::Malformed(
                        "content after the root element".into(),
                    ));
                }
                elements += 1;
                if elements > ELEMENTS_MAX {
                    return Err(XmlRefusal::TooManyElements);
                }
                if stack.len() >= DEPTH_MAX {
                    return Err(XmlRefusal::TooDeep);
                }
                let mut element = Element::new(&local(start.name().as_ref()));
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| malformed(&e, at))?;
                    let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
                    if key == "xmlns" || key.starts_with("xmlns:") || key.starts_with("xsi:") {
                        continue;
                    }
                    let raw = String::from_utf8_lossy(&attribute.value).into_owned();
                    let value = unescape(&raw)?;
                    element.attributes.push((local(key.as_bytes()), value));
                }
                if is_empty {
                    close(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
        }
    }
    if !stack.is_empty() {
        return Err(XmlRefusal::Malformed(
            "the message ends inside an element".into(),
        ));
    }
    let mut root = root.ok_or(XmlRefusal::Empty)?;
    trim_all(&mut root);
    Ok(root)
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

/// Text is split around entity references (and kept whole, spaces included, until then), so the
/// trimming is done once the element is whole.
fn trim_all(element: &mut Element) {
    let trimmed = element.text.trim();
    if trimmed.len() != element.text.len() {
        element.text = trimmed.to_owned();
    }
    for child in &mut element.children {
        trim_all(child);
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

/// One declaration of a batch file: the line its element starts on and its own bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPart {
    pub line: usize,
    pub bytes: Vec<u8>,
}

/// Splits a batch file — one root element of any name (e.g. `<Declarations>`) whose children
/// are WCO declarations (`MetaData` or bare `Declaration`) — into each child's bytes, without
/// building the whole tree: each part is then read alone, under the one-message limits. Only
/// the streaming syntax is checked here (well-formed, no DTD, no text beside the parts); the
/// parts' own content is the declaration reader's. Names are read by their local part, like
/// the declaration reader does, so a prefix declared on the root needs no declaration inside.
pub fn split_batch(bytes: &[u8], parts_max: usize) -> Result<Vec<BatchPart>, XmlRefusal> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| XmlRefusal::Malformed(format!("not UTF-8 ({e})")))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut start = 0usize;
    let mut parts = Vec::new();
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| XmlRefusal::Malformed(format!("{e} (at byte {at})")))?;
        match event {
            Event::DocType(_) => return Err(XmlRefusal::DocumentType),
            Event::Start(_) => {
                if depth == 0 {
                    roots += 1;
                    if roots > 1 {
                        return Err(XmlRefusal::Malformed(
                            "content after the root element".into(),
                        ));
                    }
                } else if depth == 1 {
                    start = at;
                }
                depth += 1;
                if depth > DEPTH_MAX + 1 {
                    return Err(XmlRefusal::TooDeep);
                }
            }
            Event::Empty(_) if depth == 1 => {
                // An empty child is a part too (refused by the reader as no declaration).
                push_part(
                    &mut parts,
                    text,
                    at,
                    reader.buffer_position() as usize,
                    parts_max,
                )?;
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| XmlRefusal::Malformed("unexpected end tag".into()))?;
                if depth == 1 {
                    push_part(
                        &mut parts,
                        text,
                        start,
                        reader.buffer_position() as usize,
                        parts_max,
                    )?;
                }
            }
            Event::Text(t) if depth <= 1 => {
                let decoded = t
                    .decode()
                    .map_err(|e| XmlRefusal::Malformed(format!("{e} (at byte {at})")))?;
                if !decoded.trim().is_empty() {
                    return Err(XmlRefusal::Malformed(format!(
                        "text between the declarations of a batch (at byte {at})"
                    )));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(XmlRefusal::Malformed(
            "the message ends inside an element".into(),
        ));
    }
    if roots == 0 {
        return Err(XmlRefusal::Empty);
    }
    Ok(parts)
}

fn push_part(
    parts: &mut Vec<BatchPart>,
    text: &str,
    from: usize,
    to: usize,
    parts_max: usize,
) -> Result<(), XmlRefusal> {
    if parts.len() == parts_max {
        return Err(XmlRefusal::TooManyElements);
    }
    let line = 1 + text[..from].bytes().filter(|&b| b == b'\n').count();
    parts.push(BatchPart {
        line,
        bytes: text.as_bytes()[from..to].to_vec(),
    });
    Ok(())
}
