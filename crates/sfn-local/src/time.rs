//! Timestamps as Step Functions reads and writes them.

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an ISO-8601 extended offset date-time as AWS accepts it (`2016-03-14T01:59:00Z`,
/// fractional seconds allowed, a `T` separator and an offset required).
pub(crate) fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' {
        return None;
    }
    let dt = DateTime::parse_from_rfc3339(s).ok()?;
    Some(SystemTime::from(dt.with_timezone(&Utc)))
}

/// The context object's format: `2024-01-01T00:00:00.000Z`.
pub(crate) fn format_timestamp(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_aws_accepts() {
        assert!(parse_timestamp("2016-12-05T21:29:29Z").is_some());
        assert!(parse_timestamp("2016-12-05T21:29:29.000000Z").is_some());
        assert!(parse_timestamp("2016-12-05 21:29:29Z").is_none());
        assert!(parse_timestamp("2016-12-05T21:29:29").is_none());
        assert!(parse_timestamp("2016-13-05T21:29:29Z").is_none());
    }
}
