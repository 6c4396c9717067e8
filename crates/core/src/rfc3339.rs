//! RFC 3339, the form of every time in the contracts (`startedAt`, `checkedAt`, `updatedAt`, ...).

use std::time::SystemTime;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// `t` in RFC 3339, UTC, e.g. `2026-01-01T00:00:00Z` (fractional seconds only when `t` has them).
/// A time RFC 3339 cannot write (past year 9999) is written as seconds since the epoch.
pub fn format(t: SystemTime) -> String {
    let t = DateTime::from(t);
    t.fmt(Format::DateTime)
        .unwrap_or_else(|_| t.secs().to_string())
}

/// Any RFC 3339 time: `Z` or an offset, with or without fractional seconds (Step Functions'
/// `$$.Execution.StartTime` carries milliseconds). `None` for anything else.
pub fn parse(s: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2026-01-01T00:00:00Z: `date -u -d 2026-01-01T00:00:00Z +%s` prints 1767225600.
    const NEW_YEAR_2026: u64 = 1_767_225_600;

    #[test]
    fn formats_utc_with_fractions_only_when_present() {
        let t = UNIX_EPOCH + Duration::from_secs(NEW_YEAR_2026);
        assert_eq!(format(t), "2026-01-01T00:00:00Z");
        assert_eq!(
            format(t + Duration::from_millis(123)),
            "2026-01-01T00:00:00.123Z"
        );
    }

    #[test]
    fn parses_the_forms_step_functions_produces() {
        let whole = UNIX_EPOCH + Duration::from_secs(NEW_YEAR_2026);
        assert_eq!(parse("2026-01-01T00:00:00Z"), Some(whole));
        // $$.Execution.StartTime and $$.State.EnteredTime carry milliseconds.
        assert_eq!(
            parse("2026-01-01T00:00:00.123Z"),
            Some(whole + Duration::from_millis(123))
        );
        assert_eq!(
            parse("2026-01-01T01:00:00+01:00"),
            Some(whole),
            "an explicit offset"
        );
        assert_eq!(parse("2026-01-01"), None);
        assert_eq!(parse("yesterday"), None);
    }
}
