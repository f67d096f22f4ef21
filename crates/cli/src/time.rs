//! Epoch milliseconds as calendar time, without a date library for one function.

use wisp_core::time::civil_from_days;

/// `YYYY-MM-DD HH:MM:SS` in UTC, so that output does not depend on the machine's time zone.
pub fn format_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_millis(0), "1970-01-01 00:00:00");
        assert_eq!(format_millis(1_712_345_678_901), "2024-04-05 19:34:38");
        assert_eq!(format_millis(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(format_millis(-1000), "1969-12-31 23:59:59");
    }
}
