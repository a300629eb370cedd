//! Field errors: what the declarant sees when a declaration is refused.
//!
//! Every problem names the field by its path (`items[3].origin_country`, 0-based like JSON), carries a
//! stable machine code, and says what is wrong in English and Chinese. Messages are built here, in one
//! place, so that the two languages never drift apart and a new rule cannot forget one of them.

use std::fmt;

/// Stable error codes. The string form is part of the public API: never rename a variant's string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Required,
    InvalidType,
    UnknownField,
    InvalidFormat,
    TooLong,
    TooMany,
    TooFew,
    OutOfRange,
    Precision,
    CheckDigit,
    UnknownCode,
    CodeNotInForce,
    NoCodeListInForce,
    Duplicate,
    NotAllowed,
    SumMismatch,
    AmountMismatch,
    MassInconsistent,
    DateOrder,
    UnitMismatch,
    SummaryMismatch,
    InvalidJson,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Required => "required",
            ErrorCode::InvalidType => "invalid_type",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::InvalidFormat => "invalid_format",
            ErrorCode::TooLong => "too_long",
            ErrorCode::TooMany => "too_many",
            ErrorCode::TooFew => "too_few",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::Precision => "too_many_decimals",
            ErrorCode::CheckDigit => "check_digit",
            ErrorCode::UnknownCode => "unknown_code",
            ErrorCode::CodeNotInForce => "code_not_in_force",
            ErrorCode::NoCodeListInForce => "no_code_list_in_force",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::SumMismatch => "sum_mismatch",
            ErrorCode::AmountMismatch => "amount_mismatch",
            ErrorCode::MassInconsistent => "mass_inconsistent",
            ErrorCode::DateOrder => "date_order",
            ErrorCode::UnitMismatch => "unit_mismatch",
            ErrorCode::SummaryMismatch => "summary_mismatch",
            ErrorCode::InvalidJson => "invalid_json",
        }
    }
}

/// The most characters of a submitted value a message repeats back: longer values are cut to
/// this many characters and an ellipsis, so that a refusal never echoes an offending value in
/// full (a megabyte in a field gives a small answer, not a bigger one).
pub const ECHOED_VALUE_CHARS_MAX: usize = 64;

/// The most characters of a path or message: a backstop for text that carries submitted values
/// built into it by the caller (`not_allowed`'s reasons, a JSON key as an unknown field's path).
pub const ECHOED_TEXT_CHARS_MAX: usize = 512;

/// `text` cut to `chars_max` characters followed by `…` if it is longer; as is otherwise.
fn cut(text: &str, chars_max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(chars_max) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// A submitted value as a message repeats it: at most [`ECHOED_VALUE_CHARS_MAX`] characters and
/// an ellipsis. Use it wherever a message is built with a value the caller sent.
pub fn echoed(value: &str) -> std::borrow::Cow<'_, str> {
    cut(value, ECHOED_VALUE_CHARS_MAX)
}

/// One problem with one field of a submitted document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub code: ErrorCode,
    pub message_en: String,
    pub message_zh: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.path,
            self.message_en,
            self.code.as_str()
        )
    }
}

impl FieldError {
    fn new(
        path: impl fmt::Display,
        code: ErrorCode,
        message_en: String,
        message_zh: String,
    ) -> FieldError {
        FieldError {
            path: path.to_string(),
            code,
            message_en,
            message_zh,
        }
        .bounded()
    }

    /// The error with its path and messages cut to [`ECHOED_TEXT_CHARS_MAX`] characters: for an
    /// error built field by field from text that may carry submitted values (every constructor
    /// here applies it).
    pub fn bounded(self) -> FieldError {
        let bounded = |text: String| match cut(&text, ECHOED_TEXT_CHARS_MAX) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(cut) => cut,
        };
        FieldError {
            path: bounded(self.path),
            code: self.code,
            message_en: bounded(self.message_en),
            message_zh: bounded(self.message_zh),
        }
    }

    pub fn required(path: impl fmt::Display) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::Required,
            "is required".into(),
            "必填项不能为空".into(),
        )
    }

    pub fn invalid_type(path: impl fmt::Display, detail: &str) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::InvalidType,
            format!("has the wrong type: {}", echoed(detail)),
            format!("数据类型错误：{}", echoed(detail)),
        )
    }

    pub fn unknown_field(path: impl fmt::Display) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::UnknownField,
            "is not a field of this document (check the spelling)".into(),
            "不是本单证的字段（请检查拼写）".into(),
        )
    }

    pub fn invalid_json(path: impl fmt::Display, detail: &str) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::InvalidJson,
            format!("is not valid JSON: {}", echoed(detail)),
            format!("不是有效的 JSON：{}", echoed(detail)),
        )
    }

    /// `expected_en` / `expected_zh` describe the expected shape, e.g. "6, 8 or 10 digits".
    pub fn invalid_format(
        path: impl fmt::Display,
        expected_en: &str,
        expected_zh: &str,
    ) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::InvalidFormat,
            format!("must be {expected_en}"),
            format!("格式错误，应为{expected_zh}"),
        )
    }

    pub fn too_long(path: impl fmt::Display, length_max: usize) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::TooLong,
            format!("is longer than {length_max} characters"),
            format!("超过最大长度 {length_max} 个字符"),
        )
    }

    pub fn too_many(path: impl fmt::Display, count_max: usize) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::TooMany,
            format!("has more than {count_max} entries"),
            format!("条目数超过上限 {count_max}"),
        )
    }

    pub fn too_few(path: impl fmt::Display, count_min: usize) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::TooFew,
            format!("needs at least {count_min} entries"),
            format!("至少需要 {count_min} 条"),
        )
    }

    pub fn out_of_range(path: impl fmt::Display, range_en: &str, range_zh: &str) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::OutOfRange,
            format!("must be {range_en}"),
            format!("超出范围，应{range_zh}"),
        )
    }

    pub fn precision(path: impl fmt::Display, decimals_max: u32) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::Precision,
            format!("has more than {decimals_max} decimal places"),
            format!("小数位数超过 {decimals_max} 位"),
        )
    }

    pub fn check_digit(path: impl fmt::Display) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::CheckDigit,
            "has a wrong check character (a digit was mistyped)".into(),
            "校验码错误（可能有字符录入错误）".into(),
        )
    }

    pub fn unknown_code(
        path: impl fmt::Display,
        list_en: &str,
        list_zh: &str,
        code: &str,
    ) -> FieldError {
        let code = echoed(code);
        FieldError::new(
            path,
            ErrorCode::UnknownCode,
            format!("'{code}' is not in the {list_en} code list"),
            format!("“{code}”不在{list_zh}代码表中"),
        )
    }

    pub fn code_not_in_force(
        path: impl fmt::Display,
        list_en: &str,
        list_zh: &str,
        code: &str,
        on: &str,
    ) -> FieldError {
        let code = echoed(code);
        FieldError::new(
            path,
            ErrorCode::CodeNotInForce,
            format!("'{code}' is a {list_en} code that is not in force on {on}"),
            format!("“{code}”在 {on} 不是有效的{list_zh}代码"),
        )
    }

    pub fn no_code_list_in_force(
        path: impl fmt::Display,
        list_en: &str,
        list_zh: &str,
        on: &str,
    ) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::NoCodeListInForce,
            format!("cannot be checked: no {list_en} code list is in force on {on}"),
            format!("无法校验：{on} 没有有效的{list_zh}代码表"),
        )
    }

    pub fn duplicate(path: impl fmt::Display, what_en: &str, what_zh: &str) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::Duplicate,
            format!("repeats {what_en} given earlier"),
            format!("与前面的{what_zh}重复"),
        )
    }

    pub fn not_allowed(path: impl fmt::Display, why_en: &str, why_zh: &str) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::NotAllowed,
            format!("is not allowed: {why_en}"),
            format!("不允许：{why_zh}"),
        )
    }

    pub fn sum_mismatch(
        path: impl fmt::Display,
        declared: &str,
        computed: &str,
        tolerance: &str,
    ) -> FieldError {
        let (declared, computed) = (echoed(declared), echoed(computed));
        FieldError::new(
            path,
            ErrorCode::SumMismatch,
            format!(
                "is {declared} but the goods items add up to {computed} (allowed rounding difference {tolerance})"
            ),
            format!(
                "申报为 {declared}，但各项商品总价合计为 {computed}（允许的舍入差额 {tolerance}）"
            ),
        )
    }

    pub fn amount_mismatch(path: impl fmt::Display, declared: &str, computed: &str) -> FieldError {
        let (declared, computed) = (echoed(declared), echoed(computed));
        FieldError::new(
            path,
            ErrorCode::AmountMismatch,
            format!("is {declared} but quantity × unit price is {computed}"),
            format!("申报为 {declared}，但数量 × 单价为 {computed}"),
        )
    }

    pub fn mass_inconsistent(path: impl fmt::Display, net: &str, gross: &str) -> FieldError {
        let (net, gross) = (echoed(net), echoed(gross));
        FieldError::new(
            path,
            ErrorCode::MassInconsistent,
            format!("net mass {net} kg is greater than gross mass {gross} kg"),
            format!("净重 {net} 千克大于毛重 {gross} 千克"),
        )
    }

    pub fn date_order(
        path: impl fmt::Display,
        this_en: &str,
        other_en: &str,
        this_zh: &str,
        other_zh: &str,
    ) -> FieldError {
        FieldError::new(
            path,
            ErrorCode::DateOrder,
            format!("{this_en} must not be after {other_en}"),
            format!("{this_zh}不能晚于{other_zh}"),
        )
    }

    pub fn unit_mismatch(path: impl fmt::Display, unit: &str, expected: &str) -> FieldError {
        let unit = echoed(unit);
        FieldError::new(
            path,
            ErrorCode::UnitMismatch,
            format!("unit '{unit}' does not fit this commodity; its statutory unit is {expected}"),
            format!("计量单位“{unit}”与商品不符，法定计量单位应为 {expected}"),
        )
    }

    pub fn summary_mismatch(
        path: impl fmt::Display,
        summary_value: &str,
        full_value: &str,
    ) -> FieldError {
        let (summary_value, full_value) = (echoed(summary_value), echoed(full_value));
        FieldError::new(
            path,
            ErrorCode::SummaryMismatch,
            format!("is '{full_value}' but the summary declaration says '{summary_value}'"),
            format!("为“{full_value}”，与概要申报的“{summary_value}”不一致"),
        )
    }
}

/// Builds field paths such as `items[3].origin_country` without allocating: a path is rendered
/// only when an error names it, which keeps parsing a valid declaration free of string building.
#[derive(Debug, Clone, Copy)]
pub struct PathPrefix<P>(pub P);

impl<P: fmt::Display> PathPrefix<P> {
    pub fn field<'a>(&'a self, name: &'a str) -> FieldPath<'a, P> {
        FieldPath {
            prefix: &self.0,
            name,
            index: None,
        }
    }

    pub fn index<'a>(&'a self, name: &'a str, idx: usize) -> FieldPath<'a, P> {
        FieldPath {
            prefix: &self.0,
            name,
            index: Some(idx),
        }
    }
}

/// A prefix, a field name and perhaps an index: `prefix.name[index]`.
#[derive(Debug)]
pub struct FieldPath<'a, P> {
    prefix: &'a P,
    name: &'a str,
    index: Option<usize>,
}

impl<P> Clone for FieldPath<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for FieldPath<'_, P> {}

impl<P: fmt::Display> fmt::Display for FieldPath<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.prefix.to_string();
        if !prefix.is_empty() {
            write!(f, "{prefix}.")?;
        }
        f.write_str(self.name)?;
        match self.index {
            Some(idx) => write!(f, "[{idx}]"),
            None => Ok(()),
        }
    }
}
