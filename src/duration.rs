//! Durations as people write them in Playbooks: `500ms`, `20s`, `5m`, `1h30m`, and the checked
//! time arithmetic that uses them, so no written duration can overflow a clock and panic.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest duration the parser accepts at all (a year): anything longer is a typo, and
/// bounding it keeps every later addition to a timestamp far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);
/// The longest cooldown, interval, delay or window a Playbook may ask for: 30 days (720h).
/// The CRD rejects longer values with the same bound.
pub const MAX_PLAYBOOK_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest timeout of one HTTP measurement: 5 minutes. A longer one would hold a
/// validation round for longer than any interval people use.
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a duration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("duration {0:?} is too long")]
    TooLong(String),
    #[error("invalid duration {text:?}: expected a number at position {position}")]
    ExpectedNumber { text: String, position: usize },
    #[error("invalid duration {0:?}: missing unit (ms, s, m or h)")]
    MissingUnit(String),
    #[error("invalid duration {text:?}: unknown unit {unit:?}")]
    UnknownUnit { text: String, unit: String },
    #[error("duration {text:?} exceeds the maximum of {}", format_duration(*max))]
    TooLarge { text: String, max: Duration },
}

/// Parses a Go-style duration made of whole-number parts with units `ms`, `s`, `m` and `h`,
/// rejecting totals above [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    parse_duration_at_most(text, MAX_DURATION)
}

/// Like [`parse_duration`] with a tighter bound for one field.
pub fn parse_duration_at_most(text: &str, max: Duration) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    if trimmed.len() > 32 {
        return Err(DurationError::TooLong(trimmed.to_string()));
    }
    let too_large = || DurationError::TooLarge {
        text: trimmed.to_string(),
        max: max.min(MAX_DURATION),
    };
    let bytes = trimmed.as_bytes();
    let mut total_ms: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(DurationError::ExpectedNumber {
                text: trimmed.to_string(),
                position: start,
            });
        }
        // More digits than a u64 holds is simply too large, not malformed.
        let number: u64 = trimmed[start..i].parse().map_err(|_| too_large())?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let ms_per_unit: u64 = match &trimmed[unit_start..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(DurationError::MissingUnit(trimmed.to_string())),
            other => {
                return Err(DurationError::UnknownUnit {
                    text: trimmed.to_string(),
                    unit: other.to_string(),
                })
            }
        };
        total_ms = number
            .checked_mul(ms_per_unit)
            .and_then(|part| total_ms.checked_add(part))
            .ok_or_else(too_large)?;
    }
    let total = Duration::from_millis(total_ms);
    if total > max || total > MAX_DURATION {
        return Err(too_large());
    }
    Ok(total)
}

/// `at + duration`, or the latest representable time when that would overflow.
pub fn after(at: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    after_signed(at, to_chrono(duration))
}

/// `at + duration` for a signed duration, saturating at the ends of the representable range.
pub fn after_signed(at: DateTime<Utc>, duration: chrono::Duration) -> DateTime<Utc> {
    at.checked_add_signed(duration)
        .unwrap_or(if duration < chrono::Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// A std duration as a chrono one, saturating instead of failing (only durations of hundreds of
/// millions of years do not fit).
pub fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `5s · 2^(attempt-1)` capped at `max_exponent` doublings: the retry backoff of steps and reverts.
pub fn backoff(attempt: u32, max_exponent: u32) -> chrono::Duration {
    let exponent = attempt.saturating_sub(1).min(max_exponent).min(20);
    chrono::Duration::seconds(5_i64.saturating_mul(1_i64 << exponent))
}

/// Formats a duration compactly for timelines and reports: `1h2m3s`, `45s`, `250ms`.
pub fn format_duration(duration: Duration) -> String {
    let total_ms = duration.as_millis();
    if total_ms < 1000 {
        return format!("{total_ms}ms");
    }
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_and_compound_durations() {
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(parse_duration("5"), Err(DurationError::MissingUnit(_))));
        assert!(matches!(parse_duration("5d"), Err(DurationError::UnknownUnit { .. })));
        assert!(matches!(
            parse_duration("m5"),
            Err(DurationError::ExpectedNumber { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(DurationError::TooLarge { .. })
        ));
    }

    #[test]
    fn rejects_totals_beyond_the_bound_without_overflowing() {
        for text in [
            "9999999999999h",
            "18446744073709551615h",
            "9999h9999h9999h9999h",
            "8785h",
        ] {
            assert!(
                matches!(parse_duration(text), Err(DurationError::TooLarge { .. })),
                "{text}"
            );
        }
        assert_eq!(parse_duration("8784h").unwrap(), MAX_DURATION);
        assert_eq!(
            parse_duration_at_most("720h", MAX_PLAYBOOK_DURATION).unwrap(),
            MAX_PLAYBOOK_DURATION
        );
        let err = parse_duration_at_most("720h1ms", MAX_PLAYBOOK_DURATION).unwrap_err();
        assert!(matches!(err, DurationError::TooLarge { max, .. } if max == MAX_PLAYBOOK_DURATION));
    }

    #[test]
    fn time_arithmetic_saturates_at_the_ends_of_the_clock() {
        let max = DateTime::<Utc>::MAX_UTC;
        let min = DateTime::<Utc>::MIN_UTC;
        assert_eq!(after(max, MAX_DURATION), max);
        assert_eq!(after(max, Duration::MAX), max);
        assert_eq!(after_signed(min, chrono::Duration::MIN), min);
        assert_eq!(after_signed(max, chrono::Duration::MAX), max);
        assert_eq!(to_chrono(Duration::MAX), chrono::Duration::MAX);
        let start = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            after(start, Duration::from_secs(5)),
            start + chrono::Duration::seconds(5)
        );
    }

    #[test]
    fn backoff_doubles_and_never_overflows() {
        assert_eq!(backoff(1, 4), chrono::Duration::seconds(5));
        assert_eq!(backoff(2, 4), chrono::Duration::seconds(10));
        assert_eq!(backoff(u32::MAX, 4), chrono::Duration::seconds(80));
        assert_eq!(backoff(u32::MAX, u32::MAX), chrono::Duration::seconds(5 << 20));
    }

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
    }
}
