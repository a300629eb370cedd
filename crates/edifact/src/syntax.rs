//! The EDIFACT syntax layer (ISO 9735, syntax versions 1–4): the service string advice (UNA),
//! the interchange envelope (UNB … UNZ), messages (UNH … UNT), segments, data elements and
//! components, the release character, and the character repertoires UNOA, UNOB, UNOC and UNOY.
//!
//! Written here rather than taken from a crate (ARCHITECTURE.md says why): every refusal must
//! name the segment, its position in the message and the element, with an ISO 9735 syntax error
//! code (UNCL 0085), which is what a CONTRL answer carries.

use crate::limits::*;

/// The separators of an interchange: the UNA advice's, or the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub component: u8,
    pub element: u8,
    pub decimal: u8,
    pub release: u8,
    /// The repetition separator (syntax version 4); reserved, a space, before.
    pub repetition: u8,
    pub segment: u8,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            component: b':',
            element: b'+',
            decimal: b'.',
            release: b'?',
            repetition: b'*',
            segment: b'\'',
        }
    }
}

/// The character repertoire named by the syntax identifier (UNB S001 0001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxLevel {
    /// Upper-case letters, digits, space and a few signs.
    Unoa,
    /// UNOA with lower-case letters: printable ASCII.
    Unob,
    /// ISO 8859-1.
    Unoc,
    /// ISO 10646 in UTF-8, for Chinese names.
    Unoy,
}

impl SyntaxLevel {
    pub fn parse(identifier: &str) -> Option<SyntaxLevel> {
        match identifier {
            "UNOA" => Some(SyntaxLevel::Unoa),
            "UNOB" => Some(SyntaxLevel::Unob),
            "UNOC" => Some(SyntaxLevel::Unoc),
            "UNOY" => Some(SyntaxLevel::Unoy),
            _ => None,
        }
    }

    pub fn identifier(self) -> &'static str {
        match self {
            SyntaxLevel::Unoa => "UNOA",
            SyntaxLevel::Unob => "UNOB",
            SyntaxLevel::Unoc => "UNOC",
            SyntaxLevel::Unoy => "UNOY",
        }
    }

    /// The text of a value's bytes in this repertoire, or None if a byte or sequence is not in it.
    fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            SyntaxLevel::Unoa => bytes
                .iter()
                .all(|b| {
                    b.is_ascii_uppercase()
                        || b.is_ascii_digit()
                        || b" .,-()/='+:?!\"%&*;<>".contains(b)
                })
                .then(|| String::from_utf8_lossy(bytes).into_owned()),
            SyntaxLevel::Unob => bytes
                .iter()
                .all(|b| (0x20..0x7f).contains(b))
                .then(|| String::from_utf8_lossy(bytes).into_owned()),
            SyntaxLevel::Unoc => bytes
                .iter()
                .all(|&b| (0x20..0x7f).contains(&b) || b >= 0xa0)
                .then(|| bytes.iter().map(|&b| char::from(b)).collect()),
            SyntaxLevel::Unoy => std::str::from_utf8(bytes)
                .ok()
                .filter(|s| !s.chars().any(char::is_control))
                .map(str::to_owned),
        }
    }
}

/// ISO 9735 syntax error codes (UNCL 0085) this parser reports.
pub mod codes {
    pub const SYNTAX_LEVEL_NOT_SUPPORTED: u16 = 2;
    pub const INVALID_VALUE: u16 = 12;
    pub const MISSING: u16 = 13;
    pub const VALUE_NOT_SUPPORTED: u16 = 14;
    pub const NOT_SUPPORTED_IN_POSITION: u16 = 15;
    pub const TOO_MANY_CONSTITUENTS: u16 = 16;
    pub const UNSPECIFIED: u16 = 18;
    pub const INVALID_CHARACTERS: u16 = 21;
    pub const INVALID_SERVICE_CHARACTERS: u16 = 22;
    pub const REFERENCES_DO_NOT_MATCH: u16 = 28;
    pub const CONTROL_COUNT_DOES_NOT_MATCH: u16 = 29;
    pub const TOO_MANY_REPETITIONS: u16 = 35;
    pub const DATA_ELEMENT_TOO_LONG: u16 = 39;
}

/// Where in an interchange something is: the segment's tag, its position (in the message,
/// counted from UNH = 1; for the envelope, in the interchange from UNB = 1) and, when it is about
/// one value, the element (1-based after the tag) and the component (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub tag: String,
    pub segment: usize,
    pub element: Option<usize>,
    pub component: Option<usize>,
    /// Whether `segment` counts within a message (true) or the interchange envelope.
    pub in_message: bool,
}

impl Position {
    fn segment(tag: &str, segment: usize, in_message: bool) -> Position {
        Position {
            tag: tag.to_owned(),
            segment,
            element: None,
            component: None,
            in_message,
        }
    }

    fn value(mut self, element: usize, component: usize) -> Position {
        self.element = Some(element);
        self.component = Some(component);
        self
    }

    /// "LOC (segment 17), element 2, component 1".
    pub fn describe(&self) -> String {
        describe(&self.tag, self.segment, self.element, self.component)
    }
}

/// "LOC+27 (segment 17), element 2, component 1": a segment, its position and, if given, the
/// element (1-based after the tag) and component.
pub fn describe(
    segment: &str,
    position: usize,
    element: Option<usize>,
    component: Option<usize>,
) -> String {
    let mut text = format!("{segment} (segment {position})");
    if let Some(element) = element {
        text.push_str(&format!(", element {element}"));
    }
    if let Some(component) = component {
        text.push_str(&format!(", component {component}"));
    }
    text
}

/// A syntax error: its ISO 9735 code, where it is, and what is wrong in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub code: u16,
    pub at: Position,
    pub message_en: String,
    pub message_zh: String,
    /// The message reference (UNH 0062) when the error is inside a message.
    pub message_reference: Option<String>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (syntax error {})",
            self.at.describe(),
            self.message_en,
            self.code
        )
    }
}

fn error(code: u16, at: Position, en: impl Into<String>, zh: impl Into<String>) -> SyntaxError {
    SyntaxError {
        code,
        at,
        message_en: en.into(),
        message_zh: zh.into(),
        message_reference: None,
    }
}

/// A segment: its tag, its elements (each a list of components, released characters resolved
/// and decoded in the interchange's repertoire), and its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub tag: String,
    pub elements: Vec<Vec<String>>,
    /// In the message from UNH = 1 (in the interchange from UNB = 1 for envelope segments).
    pub position: usize,
}

impl Segment {
    /// Element `element` (1-based after the tag), component `component` (1-based); "" if absent.
    pub fn value(&self, element: usize, component: usize) -> &str {
        self.elements
            .get(element.wrapping_sub(1))
            .and_then(|e| e.get(component.wrapping_sub(1)))
            .map_or("", String::as_str)
    }

    /// The value, or None when it is empty.
    pub fn get(&self, element: usize, component: usize) -> Option<&str> {
        Some(self.value(element, component)).filter(|v| !v.is_empty())
    }

    /// Every component of an element, joined: the text split across repeated components
    /// (C080's names, C108's text literals) read back whole.
    pub fn joined(&self, element: usize) -> String {
        self.elements
            .get(element.wrapping_sub(1))
            .map(|e| e.concat())
            .unwrap_or_default()
    }

    pub fn at(&self, element: usize, component: usize) -> Position {
        Position::segment(&self.tag, self.position, true).value(element, component)
    }

    pub fn here(&self) -> Position {
        Position::segment(&self.tag, self.position, true)
    }
}

/// One message (UNH … UNT): its reference, type identifier and its segments from UNH to UNT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub reference: String,
    /// S009: type, version, release, agency (e.g. CUSDEC, D, 96B, UN).
    pub identifier: [String; 4],
    pub segments: Vec<Segment>,
}

/// A parsed interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interchange {
    pub delimiters: Delimiters,
    pub level: SyntaxLevel,
    pub version: u8,
    pub sender: String,
    pub recipient: String,
    pub reference: String,
    pub messages: Vec<Message>,
}

/// A segment as bytes between separators, before decoding.
struct RawSegment {
    elements: Vec<Vec<Vec<u8>>>,
}

/// Splits the interchange into segments, elements and components, resolving the release
/// character. Whitespace (CR, LF) between segments is allowed, as many senders wrap lines.
fn tokenize(input: &[u8], d: &Delimiters) -> Result<Vec<RawSegment>, SyntaxError> {
    let mut segments = Vec::new();
    let (mut elements, mut components, mut value) = (Vec::new(), Vec::new(), Vec::new());
    let mut index = 0;
    let mut started = false;
    while index < input.len() {
        let byte = input[index];
        if !started && matches!(byte, b'\r' | b'\n') {
            index += 1;
            continue;
        }
        started = true;
        if byte == d.release {
            let Some(&next) = input.get(index + 1) else {
                let tag = elements
                    .first()
                    .and_then(|e: &Vec<Vec<u8>>| e.first())
                    .map(|t| String::from_utf8_lossy(t).into_owned())
                    .unwrap_or_default();
                let at = Position::segment(&tag, segments.len() + 1, false)
                    .value(elements.len(), components.len() + 1);
                return Err(error(
                    codes::INVALID_SERVICE_CHARACTERS,
                    at,
                    "the release character ends the interchange: it releases nothing and the \
                     segment is not terminated",
                    "释放字符位于交换结尾：没有被释放的字符，段未终止",
                ));
            };
            value.push(next);
            index += 2;
            continue;
        }
        if byte == d.segment {
            components.push(std::mem::take(&mut value));
            elements.push(std::mem::take(&mut components));
            segments.push(RawSegment {
                elements: std::mem::take(&mut elements),
            });
            started = false;
        } else if byte == d.element {
            components.push(std::mem::take(&mut value));
            elements.push(std::mem::take(&mut components));
        } else if byte == d.component {
            components.push(std::mem::take(&mut value));
        } else {
            value.push(byte);
        }
        index += 1;
    }
    if started {
        components.push(value);
        elements.push(components);
        let tag = elements
            .first()
            .and_then(|e| e.first())
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .unwrap_or_default();
        return Err(error(
            codes::MISSING,
            Position::segment(&tag, segments.len() + 1, false),
            "the last segment has no segment terminator",
            "最后一个段缺少段终止符",
        ));
    }
    Ok(segments)
}

/// Reads the UNA advice, if any; the rest of the input and the delimiters.
fn service_string_advice(input: &[u8]) -> Result<(&[u8], Delimiters), SyntaxError> {
    let trimmed = input.trim_ascii_start();
    if let Some(rest) = trimmed.strip_prefix(b"UNA") {
        if rest.len() < 6 {
            return Err(error(
                codes::MISSING,
                Position::segment("UNA", 0, false),
                "the service string advice UNA must give six characters",
                "服务字符串通知 UNA 必须给出六个字符",
            ));
        }
        let d = Delimiters {
            component: rest[0],
            element: rest[1],
            decimal: rest[2],
            release: rest[3],
            repetition: rest[4],
            segment: rest[5],
        };
        let separators = [d.component, d.element, d.release, d.segment];
        let distinct = separators
            .iter()
            .enumerate()
            .all(|(i, a)| separators[i + 1..].iter().all(|b| a != b));
        let printable = separators.iter().all(|b| b.is_ascii_graphic());
        if !distinct || !printable || !matches!(d.decimal, b'.' | b',') {
            return Err(error(
                codes::INVALID_SERVICE_CHARACTERS,
                Position::segment("UNA", 0, false),
                "the service characters of UNA must be distinct printable characters, and the \
                 decimal mark . or ,",
                "UNA 的服务字符必须是互不相同的可打印字符，小数点为 . 或 ,",
            ));
        }
        Ok((&rest[6..], d))
    } else {
        Ok((trimmed, Delimiters::default()))
    }
}

/// Parses an interchange: the envelope, every message's frame (UNH/UNT reference and count) and
/// the limits. What the segments mean is the message's business (`cusdec`).
pub fn parse_interchange(input: &[u8]) -> Result<Interchange, SyntaxError> {
    if input.len() > INTERCHANGE_BYTES_MAX {
        return Err(error(
            codes::UNSPECIFIED,
            Position::segment("UNB", 1, false),
            format!("the interchange is larger than {INTERCHANGE_BYTES_MAX} bytes"),
            format!("交换大于 {INTERCHANGE_BYTES_MAX} 字节"),
        ));
    }
    let (body, delimiters) = service_string_advice(input)?;
    let raw = tokenize(body, &delimiters)?;
    let Some(unb) = raw.first() else {
        return Err(error(
            codes::MISSING,
            Position::segment("UNB", 1, false),
            "the interchange is empty: it must begin with UNB",
            "交换为空：必须以 UNB 开始",
        ));
    };
    let tag_of = |s: &RawSegment| {
        s.elements
            .first()
            .and_then(|e| e.first())
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .unwrap_or_default()
    };
    if tag_of(unb) != "UNB" {
        return Err(error(
            codes::MISSING,
            Position::segment(&tag_of(unb), 1, false),
            "the interchange must begin with UNB (after an optional UNA)",
            "交换必须以 UNB 开始（其前可有 UNA）",
        ));
    }
    // The syntax identifier is read before anything else is decoded: it says how to decode.
    let identifier = unb
        .elements
        .get(1)
        .and_then(|e| e.first())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let version_text = unb
        .elements
        .get(1)
        .and_then(|e| e.get(1))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let unb_at = |element, component| Position::segment("UNB", 1, false).value(element, component);
    let Some(level) = SyntaxLevel::parse(&identifier) else {
        return Err(error(
            codes::SYNTAX_LEVEL_NOT_SUPPORTED,
            unb_at(1, 1),
            format!(
                "syntax identifier {:?} is not supported: use UNOA, UNOB, UNOC or UNOY",
                domain::problem::echoed(&identifier)
            ),
            format!(
                "不支持语法标识符 {:?}：请使用 UNOA、UNOB、UNOC 或 UNOY",
                domain::problem::echoed(&identifier)
            ),
        ));
    };
    let version = match version_text.as_str() {
        "1" => 1,
        "2" => 2,
        "3" => 3,
        "4" => 4,
        _ => {
            return Err(error(
                codes::SYNTAX_LEVEL_NOT_SUPPORTED,
                unb_at(1, 2),
                "the syntax version number must be 1, 2, 3 or 4",
                "语法版本号必须为 1、2、3 或 4",
            ));
        }
    };
    let mut segments = Vec::with_capacity(raw.len());
    for (index, segment) in raw.iter().enumerate() {
        segments.push(decode(segment, index + 1, level)?);
    }
    frame(segments, delimiters, level, version)
}

/// Decodes one segment's values in the repertoire, checking the tag and the element length.
fn decode(raw: &RawSegment, position: usize, level: SyntaxLevel) -> Result<Segment, SyntaxError> {
    let tag = raw
        .elements
        .first()
        .and_then(|e| e.first())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    let here = Position::segment(&tag, position, false);
    let tag_ok = tag.len() == 3
        && tag
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && raw.elements[0].len() == 1;
    if !tag_ok {
        return Err(error(
            codes::INVALID_VALUE,
            here.value(0, 1),
            "a segment tag is three upper-case letters or digits",
            "段标签为三个大写字母或数字",
        ));
    }
    if raw.elements.len() > ELEMENTS_PER_SEGMENT_MAX + 1 {
        return Err(error(
            codes::TOO_MANY_CONSTITUENTS,
            here,
            format!("a segment has at most {ELEMENTS_PER_SEGMENT_MAX} data elements"),
            format!("一个段最多 {ELEMENTS_PER_SEGMENT_MAX} 个数据元"),
        ));
    }
    let mut elements = Vec::with_capacity(raw.elements.len() - 1);
    for (e, element) in raw.elements.iter().enumerate().skip(1) {
        if element.len() > COMPONENTS_PER_ELEMENT_MAX {
            return Err(error(
                codes::TOO_MANY_CONSTITUENTS,
                here.clone().value(e, COMPONENTS_PER_ELEMENT_MAX + 1),
                format!(
                    "a composite data element has at most {COMPONENTS_PER_ELEMENT_MAX} components"
                ),
                format!("一个复合数据元最多 {COMPONENTS_PER_ELEMENT_MAX} 个成分"),
            ));
        }
        let mut components = Vec::with_capacity(element.len());
        for (c, value) in element.iter().enumerate() {
            let at = here.clone().value(e, c + 1);
            let Some(text) = level.decode(value) else {
                return Err(error(
                    codes::INVALID_CHARACTERS,
                    at,
                    format!(
                        "the value has characters outside the {} repertoire",
                        level.identifier()
                    ),
                    format!("该值含有 {} 字符集以外的字符", level.identifier()),
                ));
            };
            if text.chars().count() > ELEMENT_LENGTH_MAX {
                return Err(error(
                    codes::DATA_ELEMENT_TOO_LONG,
                    at,
                    format!("a data element value has at most {ELEMENT_LENGTH_MAX} characters"),
                    format!("数据元的值最多 {ELEMENT_LENGTH_MAX} 个字符"),
                ));
            }
            components.push(text);
        }
        elements.push(components);
    }
    Ok(Segment {
        tag,
        elements,
        position,
    })
}

/// Checks the envelope and each message's frame, and splits the segments into messages.
fn frame(
    segments: Vec<Segment>,
    delimiters: Delimiters,
    level: SyntaxLevel,
    version: u8,
) -> Result<Interchange, SyntaxError> {
    let unb = &segments[0];
    let required = |s: &Segment, element: usize, what_en: &str, what_zh: &str| {
        s.get(element, 1).map(str::to_owned).ok_or_else(|| {
            error(
                codes::MISSING,
                Position::segment(&s.tag, s.position, false).value(element, 1),
                format!("{} {what_en} is missing", s.tag),
                format!("{} 缺少{what_zh}", s.tag),
            )
        })
    };
    let sender = required(unb, 2, "interchange sender (S002)", "交换发送方（S002）")?;
    let recipient = required(unb, 3, "interchange recipient (S003)", "交换接收方（S003）")?;
    let reference = required(
        unb,
        5,
        "interchange control reference (0020)",
        "交换控制参考号（0020）",
    )?;
    let Some(unz) = segments
        .last()
        .filter(|s| s.tag == "UNZ" && segments.len() > 1)
    else {
        let last = segments.last().map_or("UNB", |s| s.tag.as_str());
        return Err(error(
            codes::MISSING,
            Position::segment(last, segments.len(), false),
            "the interchange must end with UNZ",
            "交换必须以 UNZ 结束",
        ));
    };
    let mut messages = Vec::new();
    let mut index = 1;
    let body = &segments[..segments.len() - 1];
    while index < body.len() {
        let unh = &body[index];
        if unh.tag != "UNH" {
            return Err(error(
                codes::NOT_SUPPORTED_IN_POSITION,
                Position::segment(&unh.tag, unh.position, false),
                format!(
                    "{} is outside a message: a message begins with UNH",
                    unh.tag
                ),
                format!("{} 位于报文之外：报文以 UNH 开始", unh.tag),
            ));
        }
        if messages.len() == MESSAGES_PER_INTERCHANGE_MAX {
            return Err(error(
                codes::TOO_MANY_REPETITIONS,
                Position::segment("UNH", unh.position, false),
                format!("an interchange carries at most {MESSAGES_PER_INTERCHANGE_MAX} messages"),
                format!("一个交换最多包含 {MESSAGES_PER_INTERCHANGE_MAX} 个报文"),
            ));
        }
        let end = body[index..]
            .iter()
            .position(|s| s.tag == "UNT")
            .map(|offset| index + offset);
        let reference = unh.get(1, 1).unwrap_or_default().to_owned();
        let with_reference = |mut e: SyntaxError| {
            e.message_reference = Some(reference.clone());
            e
        };
        let Some(end) = end else {
            let last = &body[body.len() - 1];
            return Err(with_reference(error(
                codes::MISSING,
                Position::segment("UNT", last.position - unh.position + 2, true),
                "the message has no trailer UNT",
                "报文缺少报文尾 UNT",
            )));
        };
        if let Some(nested) = body[index + 1..end].iter().find(|s| s.tag == "UNH") {
            return Err(with_reference(error(
                codes::MISSING,
                Position::segment("UNT", nested.position - unh.position + 1, true),
                "the message has no trailer UNT before the next UNH",
                "下一个 UNH 之前报文缺少报文尾 UNT",
            )));
        }
        let count = end - index + 1;
        if count > SEGMENTS_PER_MESSAGE_MAX {
            return Err(with_reference(error(
                codes::TOO_MANY_REPETITIONS,
                Position::segment("UNT", count, true),
                format!("a message has at most {SEGMENTS_PER_MESSAGE_MAX} segments"),
                format!("一个报文最多 {SEGMENTS_PER_MESSAGE_MAX} 个段"),
            )));
        }
        // Positions inside a message count from its UNH.
        let mut message_segments: Vec<Segment> = body[index..=end].to_vec();
        for (i, s) in message_segments.iter_mut().enumerate() {
            s.position = i + 1;
        }
        let unh = &message_segments[0];
        let unt = &message_segments[count - 1];
        if reference.is_empty() {
            return Err(with_reference(error(
                codes::MISSING,
                unh.at(1, 1),
                "UNH message reference number (0062) is missing",
                "UNH 缺少报文参考号（0062）",
            )));
        }
        let identifier = [1, 2, 3, 4].map(|c| unh.value(2, c).to_owned());
        if identifier.iter().any(String::is_empty) {
            let missing = identifier.iter().position(String::is_empty).unwrap_or(0) + 1;
            return Err(with_reference(error(
                codes::MISSING,
                unh.at(2, missing),
                "UNH message identifier (S009: type, version, release, agency) is incomplete",
                "UNH 报文标识符（S009：类型、版本、发布、机构）不完整",
            )));
        }
        match unt.get(1, 1).map(str::parse::<usize>) {
            Some(Ok(declared)) if declared == count => {}
            Some(Ok(declared)) => {
                return Err(with_reference(error(
                    codes::CONTROL_COUNT_DOES_NOT_MATCH,
                    unt.at(1, 1),
                    format!("UNT counts {declared} segments; the message has {count}"),
                    format!("UNT 记录的段数为 {declared}，报文实有 {count} 个段"),
                )));
            }
            _ => {
                return Err(with_reference(error(
                    codes::MISSING,
                    unt.at(1, 1),
                    "UNT number of segments (0074) is missing or not a number",
                    "UNT 段数（0074）缺失或不是数字",
                )));
            }
        }
        if unt.value(2, 1) != reference {
            return Err(with_reference(error(
                codes::REFERENCES_DO_NOT_MATCH,
                unt.at(2, 1),
                format!(
                    "UNT message reference {:?} does not match UNH's {:?}",
                    domain::problem::echoed(unt.value(2, 1)),
                    domain::problem::echoed(&reference)
                ),
                format!(
                    "UNT 报文参考号 {:?} 与 UNH 的 {:?} 不一致",
                    domain::problem::echoed(unt.value(2, 1)),
                    domain::problem::echoed(&reference)
                ),
            )));
        }
        messages.push(Message {
            reference: reference.clone(),
            identifier,
            segments: message_segments,
        });
        index = end + 1;
    }
    if messages.is_empty() {
        return Err(error(
            codes::MISSING,
            Position::segment("UNH", 2, false),
            "the interchange carries no message",
            "交换中没有报文",
        ));
    }
    match unz.get(1, 1).map(str::parse::<usize>) {
        Some(Ok(declared)) if declared == messages.len() => {}
        _ => {
            return Err(error(
                codes::CONTROL_COUNT_DOES_NOT_MATCH,
                Position::segment("UNZ", unz.position, false).value(1, 1),
                format!(
                    "UNZ interchange control count must be the number of messages, {}",
                    messages.len()
                ),
                format!("UNZ 交换控制计数必须等于报文数 {}", messages.len()),
            ));
        }
    }
    if unz.value(2, 1) != reference {
        return Err(error(
            codes::REFERENCES_DO_NOT_MATCH,
            Position::segment("UNZ", unz.position, false).value(2, 1),
            "UNZ interchange control reference does not match UNB's",
            "UNZ 交换控制参考号与 UNB 的不一致",
        ));
    }
    Ok(Interchange {
        delimiters,
        level,
        version,
        sender,
        recipient,
        reference,
        messages,
    })
}

/// Writes segments with the default delimiters, releasing every service character in values.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    /// Segments since the last UNH, UNH included.
    in_message: usize,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// The service string advice, for syntax version 4 (the repetition separator `*`).
    pub fn una(&mut self) {
        self.out.push_str("UNA:+.?*'\n");
    }

    /// A segment: tag, then elements of components; trailing empty values are left out.
    pub fn segment(&mut self, tag: &str, elements: &[&[&str]]) {
        let mut elements: Vec<Vec<&str>> = elements.iter().map(|e| e.to_vec()).collect();
        for element in &mut elements {
            while element.last().is_some_and(|c| c.is_empty()) {
                element.pop();
            }
        }
        while elements.last().is_some_and(Vec::is_empty) {
            elements.pop();
        }
        self.out.push_str(tag);
        for element in elements {
            self.out.push('+');
            for (i, component) in element.iter().enumerate() {
                if i > 0 {
                    self.out.push(':');
                }
                release_into(&mut self.out, component);
            }
        }
        self.out.push_str("'\n");
        if tag == "UNH" {
            self.in_message = 0;
        }
        self.in_message += 1;
    }

    /// Segments written since UNH, UNH included (what UNT counts, itself added).
    pub fn message_segments(&self) -> usize {
        self.in_message
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Writes a value with the service characters released.
fn release_into(out: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '+' | ':' | '\'' | '?' | '*') {
            out.push('?');
        }
        out.push(c);
    }
}

/// Splits text into pieces of at most `width` characters (for repeated components such as
/// C080's party names, an..35, or C108's text literals, an..70).
pub fn chunks(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(width).map(|c| c.iter().collect()).collect()
}
