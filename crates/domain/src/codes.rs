//! Coded values checked against the code list in force on the declaration's date.
//!
//! A `Code<K>` can only be built by `Code::parse`, which checks the shape of the code and that the
//! list of kind `K` in force on the given date holds it; so the rest of the core never re-checks.

use std::{fmt, marker::PhantomData};

use chrono::NaiveDate;
use reference::{CodeListKind, Lookup, ReferenceData};

use crate::problem::FieldError;

/// What parsing needs besides the raw text: the reference data and the date the lists apply on.
#[derive(Clone, Copy)]
pub struct ParseContext<'a> {
    pub reference: &'a ReferenceData,
    /// Date of lodging: code lists and rates are those in force on this day.
    pub on: NaiveDate,
}

/// A kind of code: which list holds it and what shape it has.
pub trait CodeKind {
    const LIST: CodeListKind;
    const NAME_EN: &'static str;
    const NAME_ZH: &'static str;
    const FORMAT_EN: &'static str;
    const FORMAT_ZH: &'static str;
    fn has_shape(code: &str) -> bool;
}

pub struct Code<K> {
    code: String,
    kind: PhantomData<K>,
}

impl<K> Clone for Code<K> {
    fn clone(&self) -> Self {
        Code {
            code: self.code.clone(),
            kind: PhantomData,
        }
    }
}
impl<K> PartialEq for Code<K> {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}
impl<K> Eq for Code<K> {}
impl<K> std::hash::Hash for Code<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.code.hash(state)
    }
}
impl<K> fmt::Debug for Code<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.code)
    }
}
impl<K> fmt::Display for Code<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl<K: CodeKind> Code<K> {
    /// Parses a code at `path`. Letters are upper-cased because every list we load is upper-case,
    /// and traders routinely type `cn` or `usd`.
    pub fn parse(
        path: impl fmt::Display + Copy,
        raw: &str,
        ctx: &ParseContext<'_>,
    ) -> Result<Code<K>, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(FieldError::required(path));
        }
        if !K::has_shape(&code) {
            return Err(FieldError::invalid_format(path, K::FORMAT_EN, K::FORMAT_ZH));
        }
        check_in_list(path, K::LIST, K::NAME_EN, K::NAME_ZH, &code, ctx)?;
        Ok(Code {
            code,
            kind: PhantomData,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.code
    }
}

impl<K> AsRef<str> for Code<K> {
    fn as_ref(&self) -> &str {
        &self.code
    }
}

pub(crate) fn check_in_list(
    path: impl fmt::Display + Copy,
    list: CodeListKind,
    name_en: &str,
    name_zh: &str,
    code: &str,
    ctx: &ParseContext<'_>,
) -> Result<(), FieldError> {
    let on = || ctx.on.to_string();
    match ctx.reference.lookup(list, code, ctx.on) {
        Lookup::InForce(_) => Ok(()),
        Lookup::Unknown => Err(FieldError::unknown_code(path, name_en, name_zh, code)),
        Lookup::NotInForce { .. } => Err(FieldError::code_not_in_force(
            path,
            name_en,
            name_zh,
            code,
            &on(),
        )),
        Lookup::NoListInForce => Err(FieldError::no_code_list_in_force(
            path,
            name_en,
            name_zh,
            &on(),
        )),
    }
}

fn is_digits(code: &str, lengths: &[usize]) -> bool {
    lengths.contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit())
}

fn is_upper_alnum(code: &str, lengths: &[usize]) -> bool {
    lengths.contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

macro_rules! code_kind {
    ($marker:ident, $alias:ident, $list:ident, $en:literal, $zh:literal, $fmt_en:literal, $fmt_zh:literal, $shape:expr) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $marker {}
        impl CodeKind for $marker {
            const LIST: CodeListKind = CodeListKind::$list;
            const NAME_EN: &'static str = $en;
            const NAME_ZH: &'static str = $zh;
            const FORMAT_EN: &'static str = $fmt_en;
            const FORMAT_ZH: &'static str = $fmt_zh;
            fn has_shape(code: &str) -> bool {
                let shape: fn(&str) -> bool = $shape;
                shape(code)
            }
        }
        pub type $alias = Code<$marker>;
    };
}

code_kind!(
    Country,
    CountryCode,
    Country,
    "country (ISO 3166)",
    "国别（地区）",
    "a 2-letter ISO 3166 code such as CN",
    "两位字母的 ISO 3166 代码（如 CN）",
    |c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())
);
code_kind!(
    Currency,
    CurrencyCode,
    Currency,
    "currency (ISO 4217)",
    "币制",
    "a 3-letter ISO 4217 code such as USD",
    "三位字母的 ISO 4217 代码（如 USD）",
    |c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())
);
code_kind!(
    Unit,
    UnitCode,
    Unit,
    "unit of measure (UNECE Rec 20)",
    "计量单位",
    "a UNECE Rec 20 unit code such as KGM",
    "UNECE 第 20 号建议书计量单位代码（如 KGM）",
    |c| is_upper_alnum(c, &[2, 3])
);
code_kind!(
    PackageType,
    PackageTypeCode,
    PackageType,
    "package type (UNECE Rec 21)",
    "包装种类",
    "a UNECE Rec 21 package code such as CT",
    "UNECE 第 21 号建议书包装代码（如 CT）",
    |c| is_upper_alnum(c, &[2])
);
code_kind!(
    CustomsOffice,
    CustomsOfficeCode,
    CustomsOffice,
    "customs office",
    "关区",
    "a 4-digit customs office code such as 2200",
    "4 位数字关区代码（如 2200）",
    |c| is_digits(c, &[4])
);
code_kind!(
    Procedure,
    ProcedureCode,
    CustomsProcedure,
    "customs procedure (trade mode)",
    "监管方式",
    "a 4-digit customs procedure code such as 0110",
    "4 位数字监管方式代码（如 0110）",
    |c| is_digits(c, &[4])
);
code_kind!(
    LevyNature,
    LevyNatureCode,
    LevyNature,
    "levy nature",
    "征免性质",
    "a 3-digit levy nature code such as 101",
    "3 位数字征免性质代码（如 101）",
    |c| is_digits(c, &[3])
);
code_kind!(
    LevyMode,
    LevyModeCode,
    LevyMode,
    "levy / exemption mode",
    "征免方式",
    "a 1-digit levy mode code such as 1",
    "1 位征免方式代码（如 1）",
    |c| is_digits(c, &[1])
);
code_kind!(
    TransportMode,
    TransportModeCode,
    TransportMode,
    "transport mode",
    "运输方式",
    "a 1-character transport mode code such as 2 (waterway)",
    "1 位运输方式代码（如 2 水路运输）",
    |c| is_upper_alnum(c, &[1])
);
code_kind!(
    DocumentType,
    DocumentTypeCode,
    DocumentType,
    "document type",
    "随附单证",
    "a document type code such as INV or Y",
    "随附单证代码（如 INV、Y）",
    |c| is_upper_alnum(c, &[1, 2, 3])
);
code_kind!(
    Incoterm,
    IncotermCode,
    Incoterm,
    "transaction terms (Incoterms)",
    "成交方式",
    "an Incoterms code such as FOB or CIF",
    "国际贸易术语代码（如 FOB、CIF）",
    |c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())
);

impl IncotermCode {
    /// Terms under which the buyer pays the main carriage, so the freight to China must be declared
    /// for a CIF-basis customs value.
    pub fn buyer_pays_main_carriage(&self) -> bool {
        matches!(self.as_str(), "EXW" | "FCA" | "FAS" | "FOB")
    }

    /// Terms whose price already includes freight to the destination.
    pub fn includes_freight(&self) -> bool {
        matches!(
            self.as_str(),
            "CFR" | "CIF" | "CPT" | "CIP" | "DAP" | "DPU" | "DDP" | "DAT"
        )
    }

    /// Terms whose price already includes insurance of the main carriage.
    pub fn includes_insurance(&self) -> bool {
        matches!(self.as_str(), "CIF" | "CIP" | "DAP" | "DPU" | "DDP" | "DAT")
    }
}

/// Commodity code: the HS 6-digit subheading, optionally extended to the national 8- or 10-digit line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommodityCode(String);

impl CommodityCode {
    pub fn parse(
        path: impl fmt::Display + Copy,
        raw: &str,
        ctx: &ParseContext<'_>,
    ) -> Result<CommodityCode, FieldError> {
        let code: String = raw
            .trim()
            .chars()
            .filter(|c| *c != '.' && *c != ' ')
            .collect();
        if code.is_empty() {
            return Err(FieldError::required(path));
        }
        if !is_digits(&code, &[6, 8, 10]) {
            return Err(FieldError::invalid_format(
                path,
                "6, 8 or 10 digits",
                "6、8 或 10 位数字",
            ));
        }
        check_in_list(
            path,
            CodeListKind::HsSubheading,
            "HS subheading",
            "HS 子目",
            &code[..6],
            ctx,
        )?;
        Ok(CommodityCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The HS 6-digit subheading, the level shared by every customs administration.
    pub fn hs6(&self) -> &str {
        &self.0[..6]
    }
}

impl fmt::Display for CommodityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters with a check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

const CREDIT_CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

impl CreditCode {
    pub fn parse(path: impl fmt::Display + Copy, raw: &str) -> Result<CreditCode, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(FieldError::required(path));
        }
        let values: Option<Vec<u32>> = code.bytes().map(credit_code_value).collect();
        let Some(values) = values.filter(|v| v.len() == 18) else {
            return Err(FieldError::invalid_format(
                path,
                "18 characters of digits and capital letters except I, O, S, V and Z",
                "18 位数字或大写字母（不含 I、O、S、V、Z）",
            ));
        };
        if values[17] != credit_code_check_value(&values[..17]) {
            return Err(FieldError::check_digit(path));
        }
        Ok(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn credit_code_value(byte: u8) -> Option<u32> {
    CREDIT_CODE_ALPHABET
        .iter()
        .position(|c| *c == byte)
        .map(|p| p as u32)
}

/// GB 32100-2015 §4.3: C18 = 31 − (Σ Ci × Wi mod 31), with 31 written as 0.
pub fn credit_code_check_value(first_17: &[u32]) -> u32 {
    assert_eq!(first_17.len(), 17);
    let sum: u32 = first_17
        .iter()
        .zip(CREDIT_CODE_WEIGHTS)
        .map(|(c, w)| c * w)
        .sum();
    (31 - sum % 31) % 31
}

/// Completes 17 characters into a valid credit code; used by the demo data and the benchmark.
pub fn credit_code_with_check(first_17: &str) -> Option<String> {
    let values: Option<Vec<u32>> = first_17.bytes().map(credit_code_value).collect();
    let values = values.filter(|v| v.len() == 17)?;
    let check = CREDIT_CODE_ALPHABET[credit_code_check_value(&values) as usize] as char;
    Some(format!("{first_17}{check}"))
}

/// A freight container's number (集装箱号, ISO 6346): the owner code (3 capital letters), the
/// equipment category (U, J or Z), a 6-digit serial and a check digit, e.g. CSQU3054383.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerNumber(String);

impl ContainerNumber {
    /// Parses a number at `path`; spaces, dashes and lower case are accepted (`csqu 305438-3`) and
    /// the number is kept as its 11 characters in capitals.
    pub fn parse(path: impl fmt::Display + Copy, raw: &str) -> Result<ContainerNumber, FieldError> {
        let number: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect::<String>()
            .to_ascii_uppercase();
        if number.is_empty() {
            return Err(FieldError::required(path));
        }
        let bytes = number.as_bytes();
        let well_formed = bytes.len() == 11
            && bytes[..3].iter().all(u8::is_ascii_uppercase)
            && matches!(bytes[3], b'U' | b'J' | b'Z')
            && bytes[4..].iter().all(u8::is_ascii_digit);
        if !well_formed {
            return Err(FieldError::invalid_format(
                path,
                "a container number (ISO 6346): 3 capital letters, U, J or Z, 6 digits and a check \
                 digit, e.g. CSQU3054383",
                "集装箱号（ISO 6346）：3 个大写字母、U/J/Z、6 位数字和 1 位校验码，例如 CSQU3054383",
            ));
        }
        if bytes[10] - b'0' != container_check_digit(&bytes[..10]) {
            return Err(FieldError::check_digit(path));
        }
        Ok(ContainerNumber(number))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 6346 Annex A: each of the first 10 characters has a value (digits their own; letters from
/// A = 10 upwards, skipping the multiples of 11), weighted by 2^position; the sum mod 11, with 10
/// written as 0, is the check digit. `first_10` is ASCII capitals and digits.
pub fn container_check_digit(first_10: &[u8]) -> u8 {
    let value = |byte: u8| -> u32 {
        if byte.is_ascii_digit() {
            return u32::from(byte - b'0');
        }
        // A = 10; every value that is a multiple of 11 (11, 22, 33) is skipped.
        let mut value = 10;
        for _ in b'A'..byte {
            value += 1;
            if value % 11 == 0 {
                value += 1;
            }
        }
        value
    };
    let sum: u32 = first_10
        .iter()
        .enumerate()
        .map(|(i, b)| value(*b) << i)
        .sum();
    (sum % 11 % 10) as u8
}

/// Customs registration code (海关编码) of an enterprise: 10 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomsRegistrationCode(String);

impl CustomsRegistrationCode {
    pub fn parse(
        path: impl fmt::Display + Copy,
        raw: &str,
    ) -> Result<CustomsRegistrationCode, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(FieldError::required(path));
        }
        if !is_upper_alnum(&code, &[10]) {
            return Err(FieldError::invalid_format(
                path,
                "10 digits or capital letters",
                "10 位数字或大写字母",
            ));
        }
        Ok(CustomsRegistrationCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// UN/LOCODE of a port or place: country code plus 3 characters (e.g. CNSHA). Only the country
/// part is checked against a list, because the full UN/LOCODE list is not shipped yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationCode(String);

impl LocationCode {
    pub fn parse(
        path: impl fmt::Display + Copy,
        raw: &str,
        ctx: &ParseContext<'_>,
    ) -> Result<LocationCode, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(FieldError::required(path));
        }
        if !is_upper_alnum(&code, &[5]) || !code[..2].bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(FieldError::invalid_format(
                path,
                "a 5-character UN/LOCODE such as CNSHA",
                "5 位联合国贸易和运输地点代码（如 CNSHA）",
            ));
        }
        let country = Country::NAME_EN;
        check_in_list(
            path,
            CodeListKind::Country,
            country,
            Country::NAME_ZH,
            &code[..2],
            ctx,
        )?;
        Ok(LocationCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// China resident identity card number (公民身份号码, GB 11643-1999): a 6-digit address code, the
/// date of birth as YYYYMMDD, a 3-digit sequence number and a check character (ISO 7064 MOD 11-2).
///
/// Personal data: an error never quotes it, and `Debug` shows only the masked form. There is no
/// `Display`, so it is not formatted into a message or a log line by accident; `as_str` is for the
/// places that need the number itself (rendering, the keyed hash customs stores in its place).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentIdNumber(String);

/// GB 11643-1999 §7.2 weights Wi = 2^(17−i) mod 11 of the first 17 digits.
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder of Σ ai × Wi mod 11.
const RESIDENT_ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";
/// What replaces the middle of the number in `ResidentIdNumber::masked`.
pub const RESIDENT_ID_MASK: &str = "********";

impl ResidentIdNumber {
    /// Parses a number at `path`: 18 characters, 17 digits and a check character (a digit or X;
    /// a lower-case x is read as X), the check character right, characters 7 to 14 a date of birth
    /// not after `on` (the lodging date).
    pub fn parse(
        path: impl fmt::Display + Copy,
        raw: &str,
        on: NaiveDate,
    ) -> Result<ResidentIdNumber, FieldError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(FieldError::required(path));
        }
        let bytes = raw.as_bytes();
        let shape_ok = bytes.len() == 18
            && bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X' || bytes[17] == b'x');
        if !shape_ok {
            return Err(FieldError::invalid_format(
                path,
                "a resident identity card number: 18 characters, 17 digits and a check character (a digit or X)",
                "居民身份证号码：18 位，前 17 位为数字，最后一位校验码为数字或 X",
            ));
        }
        let number = raw.to_ascii_uppercase();
        if number.as_bytes()[17] != resident_id_check_char(&number.as_bytes()[..17]) {
            return Err(FieldError::check_digit(path));
        }
        let digits = |range: std::ops::Range<usize>| -> u32 {
            number[range].parse().expect("checked to be digits")
        };
        let birth = NaiveDate::from_ymd_opt(digits(6..10) as i32, digits(10..12), digits(12..14));
        if birth.is_none_or(|birth| birth > on) {
            return Err(FieldError::invalid_format(
                path,
                "a resident identity card number whose characters 7 to 14 are a date of birth (YYYYMMDD) not after the lodging date",
                "第 7 至 14 位为出生日期（YYYYMMDD）且不晚于申报日期的居民身份证号码",
            ));
        }
        Ok(ResidentIdNumber(number))
    }

    /// The number, with an upper-case X as check character.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 6 and the last 4 characters with 8 asterisks between, e.g. `110105********002X`:
    /// the form customs keeps next to the keyed hash.
    pub fn masked(&self) -> String {
        format!("{}{RESIDENT_ID_MASK}{}", &self.0[..6], &self.0[14..])
    }
}

impl fmt::Debug for ResidentIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentIdNumber({})", self.masked())
    }
}

/// ISO 7064 MOD 11-2 as GB 11643-1999 uses it: the check character of the first 17 digits (ASCII).
pub fn resident_id_check_char(first_17: &[u8]) -> u8 {
    assert_eq!(first_17.len(), 17);
    let sum: u32 = first_17
        .iter()
        .zip(RESIDENT_ID_WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    RESIDENT_ID_CHECK_CHARS[(sum % 11) as usize]
}

/// Completes 17 digits into a number with the right check character; for tests and demo data.
pub fn resident_id_with_check(first_17: &str) -> Option<String> {
    let bytes = first_17.as_bytes();
    (bytes.len() == 17 && bytes.iter().all(u8::is_ascii_digit)).then(|| {
        let check = resident_id_check_char(bytes) as char;
        format!("{first_17}{check}")
    })
}

#[cfg(test)]
mod container_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text is a container number or a refusal naming the field, never a panic; a number
        /// with its check digit computed parses, and any other last digit is a check-digit error.
        #[test]
        fn any_text_is_parsed_or_refused_and_the_check_digit_decides(
            text in ".{0,20}",
            owner in "[A-Z]{3}[UJZ]",
            serial in 0u32..1_000_000,
            wrong in 1u8..10,
        ) {
            if let Err(error) = ContainerNumber::parse("transport.containers[0]", &text) {
                prop_assert_eq!(error.path.as_str(), "transport.containers[0]");
            }
            let first = format!("{owner}{serial:06}");
            let check = container_check_digit(first.as_bytes());
            let good = format!("{first}{check}");
            let parsed = ContainerNumber::parse("c", &good).unwrap();
            prop_assert_eq!(parsed.as_str(), good.as_str());
            let bad = format!("{first}{}", (check + wrong) % 10);
            prop_assert_eq!(ContainerNumber::parse("c", &bad).unwrap_err().code, crate::ErrorCode::CheckDigit);
        }
    }

    #[test]
    fn container_numbers_are_checked_by_their_check_digit() {
        // Published examples of ISO 6346 numbers.
        for good in ["CSQU3054383", "MSKU9070323", "MSCU1234566", "csqu 305438-3"] {
            let number = ContainerNumber::parse("transport.containers[0]", good).unwrap();
            assert_eq!(number.as_str().len(), 11, "{good}");
        }
        let wrong = ContainerNumber::parse("transport.containers[2]", "CSQU3054384").unwrap_err();
        assert_eq!(wrong.code, crate::ErrorCode::CheckDigit);
        assert_eq!(wrong.path, "transport.containers[2]");
        for bad in [
            "CSQ3054383",
            "CSQA3054383",
            "CSQU305438",
            "CSQU30543833",
            "1SQU3054383",
        ] {
            let error = ContainerNumber::parse("transport.containers[1]", bad).unwrap_err();
            assert_eq!(error.code, crate::ErrorCode::InvalidFormat, "{bad}");
            assert!(error.message_zh.contains("集装箱号"), "{bad}");
        }
    }
}
