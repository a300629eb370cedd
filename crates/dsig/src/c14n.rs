//! Canonical XML 1.0 (inclusive, without comments: <http://www.w3.org/TR/2001/REC-xml-c14n-20010315>)
//! of what a CEB message is: UTF-8, no document type declaration, namespaces.
//!
//! One pass over quick-xml's events writes the canonical form directly, for the two node-sets an
//! enveloped signature needs:
//! - the whole document without the `ds:Signature` child of the root (the enveloped-signature
//!   transform of `Reference URI=""`), and
//! - the `ds:SignedInfo` element as a document subset: its canonical form carries every namespace
//!   declaration in scope from its ancestors (the root's `xmlns:ceb`, the Signature's `xmlns:ds`)
//!   and the `xml:*` attributes it inherits (C14N 1.0 §2.4), since its ancestors are not in the
//!   node-set.
//!
//! What the spec asks of a parser is done here too: line endings normalised to LF, attribute
//! values normalised (literal whitespace to spaces, references resolved), the XML declaration and
//! comments dropped, processing instructions kept, empty elements written as start and end tags,
//! attributes sorted by namespace URI then local name, namespace declarations sorted by prefix and
//! written only where they change what is in scope. A DTD is refused, so the only entity references
//! are XML's five and character references (no DTD means no defaulted attributes to add either).

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::limits::{ATTRIBUTES_PER_ELEMENT_MAX, DEPTH_MAX, DOCUMENT_BYTES_MAX, ELEMENTS_MAX};
use crate::{DSIG_NAMESPACE, XmlError};

/// The namespace the `xml` prefix is bound to without a declaration.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations; nothing may be bound to it.
const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// An element of the captured `ds:Signature` subtree: enough to check its structure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Node {
    pub namespace: String,
    pub local: String,
    /// Unprefixed attributes (the only kind XML-DSig's elements have), normalised values.
    pub attributes: Vec<(String, String)>,
    /// The element's own text (character data directly inside it), references resolved.
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where the root's enveloped `ds:Signature` is, and what it holds.
#[derive(Debug, Clone)]
pub(crate) struct FoundSignature {
    /// Byte range of the element in the input (after any byte order mark was skipped: offsets are
    /// into the input as given).
    pub span: std::ops::Range<usize>,
    pub tree: Node,
    /// The canonical form of its first `ds:SignedInfo` child as a document subset (empty when it
    /// has none; the structure check refuses that).
    pub signed_info: Vec<u8>,
    /// Whether an element follows it inside the root.
    pub followed: bool,
}

/// Where a new signature goes: just before the root's end tag, or into a root written as an empty
/// element (`<root/>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootEnd {
    /// Offset of the `<` of `</root>`.
    EndTag(usize),
    /// Offset of the `/` of `/>` closing the root's empty-element tag.
    EmptyTag(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Canonical {
    /// The canonical document (without the enveloped signature when asked for).
    pub document: Vec<u8>,
    pub signature: Option<FoundSignature>,
    pub root_qname: String,
    pub root_end: RootEnd,
}

/// The canonical form of the whole document, nothing left out (what `xmllint --c14n` prints).
pub fn canonicalize(document: &[u8]) -> Result<Vec<u8>, XmlError> {
    run(document, false, false).map(|c| c.document)
}

/// The canonical form with comments (`#WithComments`: what `xmllint --c14n` prints). Never used
/// for a signature, whose `Reference URI=""` drops comments; here to be checked against libxml2.
pub fn canonicalize_with_comments(document: &[u8]) -> Result<Vec<u8>, XmlError> {
    run(document, false, true).map(|c| c.document)
}

/// The canonical form of the `ds:SignedInfo` of the root's `ds:Signature`, as a document subset
/// (what the SignatureValue signs); `None` when the message has no signature or it has no
/// SignedInfo first.
pub fn signed_info(document: &[u8]) -> Result<Option<Vec<u8>>, XmlError> {
    Ok(run(document, true, false)?
        .signature
        .map(|s| s.signed_info)
        .filter(|s| !s.is_empty()))
}

/// The canonical form of the document without the root's `ds:Signature` child, and that
/// signature's subtree and canonical `SignedInfo`.
pub(crate) fn canonicalize_enveloped(document: &[u8]) -> Result<Canonical, XmlError> {
    run(document, true, false)
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

struct Binding {
    prefix: String,
    uri: String,
}

/// Everything one element start needs to be written, worked out once.
struct Start {
    qname: String,
    namespace: String,
    local: String,
    /// Its own namespace declarations (prefix, URI), in document order.
    declarations: Vec<(String, String)>,
    /// (namespace URI, local name, qualified name, value), sorted as C14N writes them.
    attributes: Vec<(String, String, String, String)>,
}

struct Capture {
    /// Depth of the `ds:Signature` element being left out.
    depth: usize,
    start: usize,
    /// The open elements of the subtree, the Signature first.
    stack: Vec<Node>,
    tree: Option<Node>,
    /// Depth of the `ds:SignedInfo` being written as a subset, while inside it.
    signed_info_depth: Option<usize>,
    signed_info_seen: bool,
    signed_info: Vec<u8>,
    /// Elements met in the subtree so far.
    elements: usize,
}

fn run(input: &[u8], enveloped: bool, comments: bool) -> Result<Canonical, XmlError> {
    if input.len() > DOCUMENT_BYTES_MAX {
        return Err(XmlError::TooLarge);
    }
    let offset = if input.starts_with(BOM) { BOM.len() } else { 0 };
    let text = std::str::from_utf8(&input[offset..]).map_err(|e| XmlError::NotUtf8 {
        at: offset + e.valid_up_to(),
    })?;
    let mut reader = Reader::from_str(text);
    {
        let config = reader.config_mut();
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.trim_text(false);
    }
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    let mut bindings: Vec<Binding> = Vec::new();
    // Per open element: how many bindings and xml:* attributes were in scope before it.
    let mut marks: Vec<(usize, usize)> = Vec::new();
    // In-scope xml:* attributes (local name, value): C14N 1.0 copies them onto a subset's apex.
    let mut xml_attributes: Vec<(String, String)> = Vec::new();
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut root_qname: Option<String> = None;
    let mut root_closed = false;
    let mut root_end: Option<RootEnd> = None;
    let mut capture: Option<Capture> = None;
    let mut found: Option<FoundSignature> = None;
    let mut seen_declaration_slot = false;

    loop {
        let before = offset + reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| XmlError::Malformed {
            at: offset + reader.error_position() as usize,
            detail: e.to_string(),
        })?;
        let first_event = !seen_declaration_slot;
        seen_declaration_slot = true;
        match event {
            Event::Decl(declaration) => {
                if !first_event || before != offset {
                    return Err(XmlError::Malformed {
                        at: before,
                        detail: "the XML declaration is not at the start".into(),
                    });
                }
                if let Some(encoding) = declaration.encoding() {
                    let encoding = encoding.map_err(|e| XmlError::Malformed {
                        at: before,
                        detail: e.to_string(),
                    })?;
                    if !encoding.eq_ignore_ascii_case(b"UTF-8") {
                        return Err(XmlError::NotUtf8Declared {
                            encoding: String::from_utf8_lossy(&encoding).into_owned(),
                        });
                    }
                }
            }
            Event::DocType(_) => return Err(XmlError::DocumentType),
            Event::Start(start) | Event::Empty(start) if root_closed && depth == 0 => {
                let _ = start;
                return Err(XmlError::Malformed {
                    at: before,
                    detail: "a second root element".into(),
                });
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                elements += 1;
                if elements > ELEMENTS_MAX {
                    return Err(XmlError::TooManyElements);
                }
                if depth + 1 > DEPTH_MAX {
                    return Err(XmlError::TooDeep);
                }
                // The element's namespace URI matters only where a signature is looked for.
                let need_namespace = enveloped && (depth + 1 == 2 || capture.is_some());
                let parsed = read_start(start, &bindings, before, need_namespace)?;
                marks.push((bindings.len(), xml_attributes.len()));
                // Declarations rendered: the ones that change what the parent has in scope.
                let mut rendered: Vec<(String, String)> = parsed
                    .declarations
                    .iter()
                    .filter(|(prefix, uri)| lookup(&bindings, prefix).unwrap_or("") != uri)
                    .cloned()
                    .collect();
                for (prefix, uri) in &parsed.declarations {
                    bindings.push(Binding {
                        prefix: prefix.clone(),
                        uri: uri.clone(),
                    });
                }
                let inherited = xml_attributes.len();
                for (namespace, local, _, value) in &parsed.attributes {
                    if namespace == XML_NAMESPACE {
                        xml_attributes.push((local.clone(), value.clone()));
                    }
                }
                depth += 1;
                if depth == 1 {
                    root_qname = Some(parsed.qname.clone());
                }

                let is_signature = enveloped
                    && depth == 2
                    && parsed.namespace == DSIG_NAMESPACE
                    && parsed.local == "Signature";
                if depth == 2
                    && capture.is_none()
                    && let Some(previous) = found.as_mut()
                {
                    if is_signature {
                        return Err(XmlError::SecondSignature);
                    }
                    previous.followed = true;
                }
                if is_signature {
                    capture = Some(Capture {
                        depth,
                        start: before,
                        stack: Vec::new(),
                        tree: None,
                        signed_info_depth: None,
                        signed_info_seen: false,
                        signed_info: Vec::new(),
                        elements: 0,
                    });
                }
                match capture.as_mut() {
                    None => {
                        write_start(&mut out, &parsed, &rendered, None);
                    }
                    Some(capture) => {
                        capture.elements += 1;
                        if capture.elements > crate::limits::SIGNATURE_ELEMENTS_MAX {
                            return Err(XmlError::SignatureTooLarge);
                        }
                        let apex = depth == capture.depth + 1
                            && capture.stack.len() == 1
                            && !capture.signed_info_seen
                            && parsed.namespace == DSIG_NAMESPACE
                            && parsed.local == "SignedInfo";
                        if apex {
                            capture.signed_info_seen = true;
                            capture.signed_info_depth = Some(depth);
                            // The apex of a subset: every namespace in scope, except an empty
                            // default (its parent is not in the node-set, so nothing to undo).
                            rendered = in_scope(&bindings)
                                .into_iter()
                                .filter(|(prefix, uri)| !(prefix.is_empty() && uri.is_empty()))
                                .collect();
                            let mut attributes = parsed.attributes.clone();
                            for (local, value) in xml_attributes[..inherited].iter().rev() {
                                let present = attributes
                                    .iter()
                                    .any(|(ns, l, _, _)| ns == XML_NAMESPACE && l == local);
                                if !present {
                                    attributes.push((
                                        XML_NAMESPACE.to_owned(),
                                        local.clone(),
                                        format!("xml:{local}"),
                                        value.clone(),
                                    ));
                                }
                            }
                            sort_attributes(&mut attributes);
                            write_start(
                                &mut capture.signed_info,
                                &parsed,
                                &rendered,
                                Some(&attributes),
                            );
                        } else if capture.signed_info_depth.is_some() {
                            write_start(&mut capture.signed_info, &parsed, &rendered, None);
                        }
                        capture.stack.push(Node {
                            namespace: parsed.namespace.clone(),
                            local: parsed.local.clone(),
                            attributes: parsed
                                .attributes
                                .iter()
                                .filter(|(ns, ..)| ns.is_empty())
                                .map(|(_, local, _, value)| (local.clone(), value.clone()))
                                .collect(),
                            ..Node::default()
                        });
                    }
                }
                if empty {
                    if depth == 1 {
                        // `/>` ends the tag: a signature goes before the `/`.
                        let after = offset + reader.buffer_position() as usize;
                        root_end = Some(RootEnd::EmptyTag(after - 2));
                    }
                    end_element(
                        &mut out,
                        &parsed.qname,
                        &mut depth,
                        &mut marks,
                        &mut bindings,
                        &mut xml_attributes,
                        &mut capture,
                        &mut found,
                        offset + reader.buffer_position() as usize,
                    );
                    if depth == 0 {
                        root_closed = true;
                    }
                }
            }
            Event::End(end) => {
                let name = end.name();
                let qname = std::str::from_utf8(name.as_ref()).unwrap_or_default();
                if depth == 1 {
                    root_end = Some(RootEnd::EndTag(before));
                }
                end_element(
                    &mut out,
                    qname,
                    &mut depth,
                    &mut marks,
                    &mut bindings,
                    &mut xml_attributes,
                    &mut capture,
                    &mut found,
                    offset + reader.buffer_position() as usize,
                );
                if depth == 0 {
                    root_closed = true;
                }
            }
            Event::Text(text) => {
                let raw = text.as_ref();
                if depth == 0 {
                    if !raw
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                    {
                        return Err(XmlError::Malformed {
                            at: before,
                            detail: "text outside the root element".into(),
                        });
                    }
                    continue;
                }
                let raw = std::str::from_utf8(raw).unwrap_or_default();
                check_chars(raw, before)?;
                emit_text(&mut out, &mut capture, Piece::Raw(raw));
            }
            Event::CData(data) => {
                if depth == 0 {
                    return Err(XmlError::Malformed {
                        at: before,
                        detail: "character data outside the root element".into(),
                    });
                }
                let raw = std::str::from_utf8(data.as_ref()).unwrap_or_default();
                check_chars(raw, before)?;
                emit_text(&mut out, &mut capture, Piece::Raw(raw));
            }
            Event::GeneralRef(reference) => {
                if depth == 0 {
                    return Err(XmlError::Malformed {
                        at: before,
                        detail: "a reference outside the root element".into(),
                    });
                }
                let name = std::str::from_utf8(reference.as_ref()).unwrap_or_default();
                let c = resolve_reference(name, before)?;
                emit_text(&mut out, &mut capture, Piece::Char(c));
            }
            Event::Comment(comment) if comments => {
                let content = std::str::from_utf8(comment.as_ref()).unwrap_or_default();
                check_chars(content, before)?;
                let mut rendered = Vec::with_capacity(content.len() + 7);
                rendered.extend_from_slice(b"<!--");
                push_line_normalised(&mut rendered, content);
                rendered.extend_from_slice(b"-->");
                place_markup(&mut out, &mut capture, depth, root_closed, &rendered);
            }
            Event::Comment(_) => {}
            Event::PI(pi) => {
                let target = std::str::from_utf8(pi.target()).unwrap_or_default();
                if target.eq_ignore_ascii_case("xml") {
                    return Err(XmlError::Malformed {
                        at: before,
                        detail: "the XML declaration is not at the start".into(),
                    });
                }
                let content = std::str::from_utf8(pi.content()).unwrap_or_default();
                let data = content.trim_start_matches([' ', '\t', '\r', '\n']);
                check_chars(data, before)?;
                let mut rendered = Vec::with_capacity(target.len() + data.len() + 5);
                rendered.extend_from_slice(b"<?");
                rendered.extend_from_slice(target.as_bytes());
                if !data.is_empty() {
                    rendered.push(b' ');
                    push_line_normalised(&mut rendered, data);
                }
                rendered.extend_from_slice(b"?>");
                place_markup(&mut out, &mut capture, depth, root_closed, &rendered);
            }
            Event::Eof => break,
        }
    }
    let (Some(root_qname), Some(root_end)) = (root_qname, root_end) else {
        return Err(XmlError::NoRoot);
    };
    if depth != 0 {
        return Err(XmlError::Malformed {
            at: input.len(),
            detail: "the document ends inside an element".into(),
        });
    }
    Ok(Canonical {
        document: out,
        signature: found,
        root_qname,
        root_end,
    })
}

/// A piece of character data: literal text (line endings not yet normalised) or one character
/// from a reference.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Raw(&'a str),
    Char(char),
}

/// Sends character data where it belongs: the canonical document outside the signature; inside
/// it, the canonical `SignedInfo` (while in it) and the captured tree's text.
fn emit_text(out: &mut Vec<u8>, capture: &mut Option<Capture>, piece: Piece<'_>) {
    let write = |sink: &mut Vec<u8>| match piece {
        Piece::Raw(raw) => escape_text_raw(sink, raw),
        Piece::Char(c) => escape_text_char(sink, c),
    };
    match capture {
        None => write(out),
        Some(capture) => {
            if capture.signed_info_depth.is_some() {
                write(&mut capture.signed_info);
            }
            if let Some(node) = capture.stack.last_mut() {
                match piece {
                    Piece::Raw(raw) => node
                        .text
                        .push_str(&raw.replace("\r\n", "\n").replace('\r', "\n")),
                    Piece::Char(c) => node.text.push(c),
                }
            }
        }
    }
}

/// A processing instruction or comment: outside the root, on a line of its own (C14N separates
/// it from the root element by a line feed); inside, where it belongs.
fn place_markup(
    out: &mut Vec<u8>,
    capture: &mut Option<Capture>,
    depth: usize,
    root_closed: bool,
    rendered: &[u8],
) {
    if depth > 0 {
        emit_markup(out, capture, rendered);
    } else if root_closed {
        out.push(b'\n');
        out.extend_from_slice(rendered);
    } else {
        out.extend_from_slice(rendered);
        out.push(b'\n');
    }
}

/// Sends a processing instruction or comment where it belongs (the captured tree has no use for one).
fn emit_markup(out: &mut Vec<u8>, capture: &mut Option<Capture>, markup: &[u8]) {
    match capture {
        None => out.extend_from_slice(markup),
        Some(capture) => {
            if capture.signed_info_depth.is_some() {
                capture.signed_info.extend_from_slice(markup);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn end_element(
    out: &mut Vec<u8>,
    qname: &str,
    depth: &mut usize,
    marks: &mut Vec<(usize, usize)>,
    bindings: &mut Vec<Binding>,
    xml_attributes: &mut Vec<(String, String)>,
    capture: &mut Option<Capture>,
    found: &mut Option<FoundSignature>,
    after: usize,
) {
    match capture.as_mut() {
        None => {
            out.extend_from_slice(b"</");
            out.extend_from_slice(qname.as_bytes());
            out.push(b'>');
        }
        Some(c) => {
            if c.signed_info_depth.is_some() {
                c.signed_info.extend_from_slice(b"</");
                c.signed_info.extend_from_slice(qname.as_bytes());
                c.signed_info.push(b'>');
            }
            if c.signed_info_depth == Some(*depth) {
                c.signed_info_depth = None;
            }
            if let Some(node) = c.stack.pop() {
                match c.stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => c.tree = Some(node),
                }
            }
            if *depth == c.depth
                && let Some(c) = capture.take()
            {
                *found = Some(FoundSignature {
                    span: c.start..after,
                    tree: c.tree.unwrap_or_default(),
                    signed_info: c.signed_info,
                    followed: false,
                });
            }
        }
    }
    *depth -= 1;
    if let Some((b, x)) = marks.pop() {
        bindings.truncate(b);
        xml_attributes.truncate(x);
    }
}

fn lookup<'a>(bindings: &'a [Binding], prefix: &str) -> Option<&'a str> {
    bindings
        .iter()
        .rev()
        .find(|b| b.prefix == prefix)
        .map(|b| b.uri.as_str())
}

/// Every namespace in scope (prefix, URI), the nearest declaration of each prefix.
fn in_scope(bindings: &[Binding]) -> Vec<(String, String)> {
    let mut scope: Vec<(String, String)> = Vec::new();
    for binding in bindings.iter().rev() {
        if !scope.iter().any(|(p, _)| *p == binding.prefix) {
            scope.push((binding.prefix.clone(), binding.uri.clone()));
        }
    }
    scope
}

fn read_start(
    start: &BytesStart<'_>,
    bindings: &[Binding],
    at: usize,
    need_namespace: bool,
) -> Result<Start, XmlError> {
    let malformed = |detail: String| XmlError::Malformed { at, detail };
    let qname = std::str::from_utf8(start.name().as_ref())
        .map_err(|e| malformed(e.to_string()))?
        .to_owned();
    let mut declarations: Vec<(String, String)> = Vec::new();
    let mut plain: Vec<(String, String)> = Vec::new();
    for (count, attribute) in start.attributes().enumerate() {
        if count >= ATTRIBUTES_PER_ELEMENT_MAX {
            return Err(XmlError::TooManyAttributes);
        }
        let attribute = attribute.map_err(|e| malformed(e.to_string()))?;
        let key = std::str::from_utf8(attribute.key.as_ref())
            .map_err(|e| malformed(e.to_string()))?
            .to_owned();
        let raw = std::str::from_utf8(&attribute.value).map_err(|e| malformed(e.to_string()))?;
        let value = normalise_attribute(raw, at)?;
        if key == "xmlns" {
            if value == XML_NAMESPACE || value == XMLNS_NAMESPACE {
                return Err(XmlError::Namespace {
                    at,
                    detail: format!("the default namespace cannot be {value}"),
                });
            }
            declarations.push((String::new(), value));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            let reserved = (prefix == "xml") != (value == XML_NAMESPACE)
                || prefix == "xmlns"
                || value == XMLNS_NAMESPACE;
            if value.is_empty() || reserved || prefix.is_empty() || prefix.contains(':') {
                return Err(XmlError::Namespace {
                    at,
                    detail: format!(
                        "xmlns:{prefix}=\"{value}\" is not a namespace declaration XML allows"
                    ),
                });
            }
            // The xml prefix's own declaration is not a namespace node of its own in C14N's
            // data model: it is in scope everywhere and never written.
            if prefix != "xml" {
                declarations.push((prefix.to_owned(), value));
            }
        } else {
            plain.push((key, value));
        }
    }
    let resolve = |prefix: &str| -> Option<String> {
        if prefix == "xml" {
            return Some(XML_NAMESPACE.to_owned());
        }
        declarations
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.clone())
            .or_else(|| lookup(bindings, prefix).map(str::to_owned))
    };
    let bound = |prefix: &str| {
        prefix == "xml"
            || declarations.iter().any(|(p, _)| p == prefix)
            || lookup(bindings, prefix).is_some()
    };
    let (namespace, local) = match qname.split_once(':') {
        Some((prefix, local)) => {
            if !bound(prefix) {
                return Err(XmlError::Namespace {
                    at,
                    detail: format!("the prefix of <{qname}> is not declared"),
                });
            }
            if need_namespace {
                (resolve(prefix).unwrap_or_default(), local.to_owned())
            } else {
                (String::new(), String::new())
            }
        }
        None if need_namespace => (resolve("").unwrap_or_default(), qname.clone()),
        None => (String::new(), String::new()),
    };
    let mut attributes = Vec::with_capacity(plain.len());
    for (key, value) in plain {
        let (namespace, local) = match key.split_once(':') {
            Some((prefix, local)) => {
                let Some(uri) = resolve(prefix) else {
                    return Err(XmlError::Namespace {
                        at,
                        detail: format!("the prefix of the attribute {key} is not declared"),
                    });
                };
                (uri, local.to_owned())
            }
            None => (String::new(), key.clone()),
        };
        if attributes
            .iter()
            .any(|(n, l, _, _): &(String, String, String, String)| *n == namespace && *l == local)
        {
            return Err(XmlError::Malformed {
                at,
                detail: format!("the attribute {key} is given twice"),
            });
        }
        attributes.push((namespace, local, key, value));
    }
    sort_attributes(&mut attributes);
    Ok(Start {
        qname,
        namespace,
        local,
        declarations,
        attributes,
    })
}

fn sort_attributes(attributes: &mut [(String, String, String, String)]) {
    attributes.sort_by(|a, b| (a.0.as_str(), a.1.as_str()).cmp(&(b.0.as_str(), b.1.as_str())));
}

fn write_start(
    out: &mut Vec<u8>,
    start: &Start,
    declarations: &[(String, String)],
    attributes: Option<&[(String, String, String, String)]>,
) {
    out.push(b'<');
    out.extend_from_slice(start.qname.as_bytes());
    let mut declarations: Vec<&(String, String)> = declarations.iter().collect();
    // By local name: the default namespace's (`xmlns`, no local name) first.
    declarations.sort_by(|a, b| a.0.cmp(&b.0));
    for (prefix, uri) in declarations {
        if prefix.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attribute(out, uri);
        out.push(b'"');
    }
    for (_, _, qname, value) in attributes.unwrap_or(&start.attributes) {
        out.push(b' ');
        out.extend_from_slice(qname.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attribute(out, value);
        out.push(b'"');
    }
    out.push(b'>');
}

/// Characters XML 1.0 does not allow in a document, refused where they appear literally.
fn check_chars(text: &str, at: usize) -> Result<(), XmlError> {
    // On bytes: below 0x20 only TAB, LF and CR are allowed, and U+FFFE and U+FFFF (EF BF BE,
    // EF BF BF) never; UTF-8 (already checked) cannot carry a surrogate.
    let bytes = text.as_bytes();
    let bad = bytes.iter().enumerate().find(|&(i, &b)| {
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || (b == 0xEF
                && bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)))
    });
    match bad {
        Some((i, _)) => {
            let c = text[i..].chars().next().unwrap_or_default();
            Err(XmlError::Malformed {
                at,
                detail: format!("the character U+{:04X} is not allowed in XML", c as u32),
            })
        }
        None => Ok(()),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn resolve_reference(name: &str, at: usize) -> Result<char, XmlError> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(decimal) = name.strip_prefix('#') {
                decimal.parse().ok()
            } else {
                return Err(XmlError::Entity {
                    name: name.to_owned(),
                });
            };
            match code.and_then(char::from_u32).filter(|c| is_xml_char(*c)) {
                Some(c) if !name.starts_with("#x") || !name[2..].starts_with(['+', '-']) => c,
                _ => {
                    return Err(XmlError::Malformed {
                        at,
                        detail: format!("&{name}; is not a character XML allows"),
                    });
                }
            }
        }
    };
    Ok(c)
}

/// An attribute value as the parser hands it to C14N: references resolved, each literal
/// whitespace character (a CR LF pair counting as one) a space (XML 1.0 §3.3.3 for CDATA
/// attributes, all of them without a DTD).
fn normalise_attribute(raw: &str, at: usize) -> Result<String, XmlError> {
    let mut value = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let Some(end) = rest.find(';') else {
                    return Err(XmlError::Malformed {
                        at,
                        detail: "an unterminated reference in an attribute value".into(),
                    });
                };
                value.push(resolve_reference(&rest[1..end], at)?);
                rest = &rest[end + 1..];
                continue;
            }
            '<' => {
                return Err(XmlError::Malformed {
                    at,
                    detail: "< in an attribute value".into(),
                });
            }
            '\r' => {
                value.push(' ');
                if rest[1..].starts_with('\n') {
                    rest = &rest[2..];
                    continue;
                }
            }
            '\n' | '\t' => value.push(' '),
            c if !is_xml_char(c) => {
                return Err(XmlError::Malformed {
                    at,
                    detail: format!("the character U+{:04X} is not allowed in XML", c as u32),
                });
            }
            c => value.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(value)
}

fn escape_attribute(out: &mut Vec<u8>, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\t' => out.extend_from_slice(b"&#x9;"),
            '\n' => out.extend_from_slice(b"&#xA;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
}

/// Literal character data: line endings to LF, then `&`, `<`, `>` escaped (a literal `&` or `<`
/// cannot reach here: the tokenizer reports references apart and markup ends text).
fn escape_text_raw(out: &mut Vec<u8>, raw: &str) {
    let mut rest = raw.as_bytes();
    while let Some(at) = rest
        .iter()
        .position(|b| matches!(b, b'\r' | b'&' | b'<' | b'>'))
    {
        out.extend_from_slice(&rest[..at]);
        match rest[at] {
            b'\r' => {
                out.push(b'\n');
                if rest.get(at + 1) == Some(&b'\n') {
                    rest = &rest[at + 2..];
                    continue;
                }
            }
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            _ => out.extend_from_slice(b"&gt;"),
        }
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

/// A character from a reference: escaped as C14N writes text (a CR from `&#13;` stays one).
fn escape_text_char(out: &mut Vec<u8>, c: char) {
    match c {
        '&' => out.extend_from_slice(b"&amp;"),
        '<' => out.extend_from_slice(b"&lt;"),
        '>' => out.extend_from_slice(b"&gt;"),
        '\r' => out.extend_from_slice(b"&#xD;"),
        c => {
            let mut buffer = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
        }
    }
}

fn push_line_normalised(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' {
            out.push(b'\n');
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        } else {
            out.push(bytes[i]);
        }
        i += 1;
    }
}
