//! The time zone times are shown in to people (console pages, the command line's tables). Stored
//! and API times stay UTC (RFC 3339); only what a person reads is turned to the administration's
//! clock, labelled with its offset so that nobody mistakes it for UTC.

use chrono::{DateTime, FixedOffset};

/// The administration's time zone by default: China Standard Time, UTC+08:00 (no daylight
/// saving), as `--time-zone` writes it.
pub const DISPLAY_TIME_ZONE_DEFAULT: &str = "+08:00";

/// Farthest a real time zone lies from UTC (Kiribati, +14:00; -12:00 the other way).
const OFFSET_HOURS_MAX: i32 = 14;

/// [`DISPLAY_TIME_ZONE_DEFAULT`] as an offset.
pub fn display_offset_default() -> FixedOffset {
    parse_time_zone(DISPLAY_TIME_ZONE_DEFAULT).expect("the default time zone parses")
}

/// A fixed offset as people write it: `+08:00`, `-05:00`, `+0530`, `+8`, or `UTC` / `Z`. The
/// error says what is accepted, in English and Chinese.
pub fn parse_time_zone(text: &str) -> Result<FixedOffset, String> {
    let refused = || {
        format!(
            "time zone {text:?}: a fixed offset from UTC such as +08:00 or -05:00 (at most \
             ±{OFFSET_HOURS_MAX}:00), or UTC / 时区应为相对 UTC 的固定偏移，如 +08:00"
        )
    };
    let text = text.trim();
    if text.eq_ignore_ascii_case("utc") || text.eq_ignore_ascii_case("z") {
        return Ok(FixedOffset::east_opt(0).expect("zero is an offset"));
    }
    let sign = match text.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return Err(refused()),
    };
    let digits = text[1..].replace(':', "");
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    let (hours, minutes) = if digits.len() <= 2 {
        (digits.parse::<i32>().map_err(|_| refused())?, 0)
    } else if digits.len() == 4 {
        (
            digits[..2].parse::<i32>().map_err(|_| refused())?,
            digits[2..].parse::<i32>().map_err(|_| refused())?,
        )
    } else {
        return Err(refused());
    };
    if minutes >= 60 || hours * 60 + minutes > OFFSET_HOURS_MAX * 60 {
        return Err(refused());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(refused)
}

/// An RFC 3339 time as a person reads it in `offset`: `2026-11-27 10:00:00 +08:00`. Text that is
/// not such a time (empty, already shown) is returned as it is.
pub fn shown_time(offset: FixedOffset, rfc3339: &str) -> String {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(at) => at
            .with_timezone(&offset)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_read_as_people_write_them_and_refused_beyond_fourteen_hours() {
        let seconds = |text: &str| parse_time_zone(text).map(|o| o.local_minus_utc());
        assert_eq!(seconds("+08:00"), Ok(8 * 3600));
        assert_eq!(seconds("+0800"), Ok(8 * 3600));
        assert_eq!(seconds("+8"), Ok(8 * 3600));
        assert_eq!(seconds("-05:30"), Ok(-(5 * 3600 + 30 * 60)));
        assert_eq!(seconds("UTC"), Ok(0));
        assert_eq!(seconds("+14:00"), Ok(14 * 3600));
        for refused in [
            "+14:01",
            "+15",
            "08:00",
            "Asia/Shanghai",
            "+8:60",
            "",
            "+",
            "+123",
        ] {
            let error = parse_time_zone(refused).expect_err(refused);
            assert!(
                error.contains("+08:00") && error.contains("时区"),
                "{error}"
            );
        }
        assert_eq!(display_offset_default().local_minus_utc(), 8 * 3600);
    }

    #[test]
    fn a_stored_utc_time_is_shown_in_the_offset_and_labelled_with_it() {
        let china = display_offset_default();
        assert_eq!(
            shown_time(china, "2026-11-27T17:30:00.123Z"),
            "2026-11-28 01:30:00 +08:00",
            "after 16:00 UTC it is the next day in China"
        );
        let utc = parse_time_zone("UTC").unwrap();
        assert_eq!(
            shown_time(utc, "2026-11-27T17:30:00Z"),
            "2026-11-27 17:30:00 +00:00"
        );
        assert_eq!(shown_time(china, "not a time"), "not a time");
        assert_eq!(shown_time(china, ""), "");
    }
}
