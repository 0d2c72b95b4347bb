//! Dates, numbers and sizes as each language writes them. The patterns and separators are in the
//! translation files (`format.json`), so a new language brings its own.

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::i18n::Locale;
use crate::tr;

/// A moment as the tables show it, to the minute, in UTC (`2026-11-30 19:51 UTC`,
/// `2026년 11월 30일 19:51 UTC`).
pub fn format_time(locale: Locale, at: &DateTime<Utc>) -> String {
    tr!(
        locale,
        format.date_time,
        year = at.year(),
        month = format!("{:02}", at.month()),
        day = format!("{:02}", at.day()),
        hour = format!("{:02}", at.hour()),
        minute = format!("{:02}", at.minute()),
    )
}

/// A moment to the second, in UTC (`2026-11-30 19:51:07 UTC`): the audit log, a record's last
/// change.
pub fn format_time_seconds(locale: Locale, at: &DateTime<Utc>) -> String {
    tr!(
        locale,
        format.date_time_seconds,
        year = at.year(),
        month = format!("{:02}", at.month()),
        day = format!("{:02}", at.day()),
        hour = format!("{:02}", at.hour()),
        minute = format!("{:02}", at.minute()),
        second = format!("{:02}", at.second()),
    )
}

/// A whole number with the language's group separator (`12,345`).
pub fn format_count(locale: Locale, value: u64) -> String {
    let separator = tr!(locale, format.group_separator);
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * separator.len());
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(digit);
    }
    out
}

/// A size as people read it: "3.2 GiB", "640 MiB", "12 KiB", with the language's separators.
/// Integer arithmetic only (float formatting would add kilobytes to the dashboard's WASM).
pub fn size_words(locale: Locale, bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    if unit == 0 {
        return tr!(locale, format.bytes, count = format_count(locale, bytes)).to_string();
    }
    let scale = 1u128 << (10 * unit);
    // Tenths, rounded.
    let tenths = (u128::from(bytes) * 10 + scale / 2) / scale;
    let number = if tenths < 100 {
        let separator = tr!(locale, format.decimal_separator);
        format!("{}{separator}{}", tenths / 10, tenths % 10)
    } else {
        format_count(locale, ((tenths + 5) / 10) as u64)
    };
    format!("{number} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_in_each_language() {
        let at = Utc.with_ymd_and_hms(2026, 3, 7, 9, 5, 0).unwrap();
        assert_eq!(format_time(Locale::en, &at), "2026-03-07 09:05 UTC");
        assert_eq!(format_time(Locale::ko, &at), "2026년 03월 07일 09:05 UTC");
        let at = Utc.with_ymd_and_hms(2026, 3, 7, 9, 5, 4).unwrap();
        assert_eq!(
            format_time_seconds(Locale::en, &at),
            "2026-03-07 09:05:04 UTC"
        );
        assert_eq!(
            format_time_seconds(Locale::en, &at),
            at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        );
        assert_eq!(
            format_time_seconds(Locale::ko, &at),
            "2026년 03월 07일 09:05:04 UTC"
        );
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(format_count(Locale::en, 0), "0");
        assert_eq!(format_count(Locale::en, 999), "999");
        assert_eq!(format_count(Locale::en, 1000), "1,000");
        assert_eq!(format_count(Locale::ko, 1234567), "1,234,567");
    }

    #[test]
    fn sizes() {
        assert_eq!(size_words(Locale::en, 512), "512 bytes");
        assert_eq!(size_words(Locale::ko, 512), "512바이트");
        assert_eq!(size_words(Locale::en, 12 << 10), "12 KiB");
        assert_eq!(size_words(Locale::en, 3300 << 20), "3.2 GiB");
        assert_eq!(size_words(Locale::en, 3 << 20), "3.0 MiB");
        assert_eq!(size_words(Locale::en, 640 << 20), "640 MiB");
        assert_eq!(size_words(Locale::ko, 5 << 30), "5.0 GiB");
    }
}
