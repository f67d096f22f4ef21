//! Wall-clock helpers: epoch milliseconds and the RFC 3339 timestamps of log lines.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Now, or just after `previous` if the clock has not passed it: write stamps strictly increase.
pub fn after(previous: Option<u64>) -> u64 {
    match previous {
        Some(p) => now_ms().max(p + 1),
        None => now_ms(),
    }
}

/// Formats a time as `2024-03-01T10:20:30.123456789Z` (UTC, nanoseconds), the timestamp of an
/// OpenWhisk log line.
pub fn rfc3339_nanos(time: SystemTime) -> String {
    let d = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A (year, month, day) civil date to days since 1970-01-01; the inverse of
/// [`civil_from_days`].
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in a month of a year.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses an ISO 8601 / RFC 3339 date or date-time into epoch milliseconds: `2030-01-02`,
/// `2030-01-02T03:04`, `2030-01-02T03:04:05.678Z`, `2030-01-02 03:04:05+01:00`. Without an
/// offset the time is UTC.
pub fn parse_iso8601_ms(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let (date, rest) = raw.split_at(raw.find(['T', 't', ' ']).unwrap_or(raw.len()));
    let mut parts = date.splitn(3, '-');
    let y: i64 = digits(parts.next()?, 4)?;
    let m: u32 = digits(parts.next()?, 2)?;
    let d: u32 = digits(parts.next()?, 2)?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || y < 1970 {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    let rest = rest.get(1..).unwrap_or("");
    if !rest.is_empty() {
        let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(zone_at);
        let mut fields = clock.splitn(3, ':');
        let h: i64 = digits(fields.next()?, 2)?;
        let min: i64 = digits(fields.next()?, 2)?;
        let (s, frac) = match fields.next() {
            Some(sec) => match sec.split_once('.') {
                Some((s, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                    let millis: i64 = format!("{f:0<3}")[..3].parse().ok()?;
                    (digits::<i64>(s, 2)?, millis)
                }
                Some(_) => return None,
                None => (digits(sec, 2)?, 0),
            },
            None => (0, 0),
        };
        if h > 23 || min > 59 || s > 59 {
            return None;
        }
        ms += ((h * 60 + min) * 60 + s) * 1000 + frac;
        ms -= offset_minutes(zone)? * 60_000;
    }
    u64::try_from(ms).ok()
}

/// `Z`, `+hh:mm`, `-hhmm` or nothing (UTC) as minutes east of UTC.
fn offset_minutes(zone: &str) -> Option<i64> {
    match zone {
        "" | "Z" | "z" => Some(0),
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let body = zone[1..].replace(':', "");
            let h: i64 = digits(body.get(..2)?, 2)?;
            let m: i64 = digits(body.get(2..)?, 2)?;
            Some(sign * (h * 60 + m))
        }
    }
}

/// Exactly `len` ASCII digits.
fn digits<T: std::str::FromStr>(raw: &str, len: usize) -> Option<T> {
    if raw.len() == len && raw.bytes().all(|b| b.is_ascii_digit()) {
        raw.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1, 0, 59, 10_957, 11_016, 20_000, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn parses_iso_dates() {
        assert_eq!(parse_iso8601_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_iso8601_ms("2024-03-01T10:20:30.123Z"),
            Some(1_709_288_430_123)
        );
        assert_eq!(
            parse_iso8601_ms("2024-03-01T11:20:30.123+01:00"),
            Some(1_709_288_430_123)
        );
        assert_eq!(
            parse_iso8601_ms("2024-03-01 10:20"),
            Some(1_709_288_400_000)
        );
        for bad in [
            "",
            "2024-13-01",
            "2024-02-30",
            "tomorrow",
            "2024-03-01T25:00",
            "2024-3-1",
        ] {
            assert_eq!(parse_iso8601_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::new(1_709_288_430, 123_456_789);
        assert_eq!(rfc3339_nanos(t), "2024-03-01T10:20:30.123456789Z");
        assert_eq!(rfc3339_nanos(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&rfc3339_nanos(leap)[..10], "2000-02-29");
    }
}
