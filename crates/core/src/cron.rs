//! Cron expressions, as the alarms feed takes them: five fields (minute hour day-of-month month
//! day-of-week) or six with seconds first. Times are UTC.
//!
//! Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a comma list of
//! those. Months and weekdays also take English abbreviations (`JAN`, `MON`); weekday 7 is
//! Sunday like 0. When both day fields are restricted a day matches if either does, as in
//! classic cron.

use std::fmt;

use crate::time::{civil_from_days, days_from_civil, days_in_month};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError(String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CronError {}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One field's name, bounds and value names (the first name stands for `low`).
struct Field {
    name: &'static str,
    low: u32,
    high: u32,
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    low: 0,
    high: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    low: 0,
    high: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    low: 0,
    high: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day of month",
    low: 1,
    high: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    low: 1,
    high: 12,
    names: &MONTHS,
};
const WEEKDAY: Field = Field {
    name: "day of week",
    low: 0,
    high: 7,
    names: &WEEKDAYS,
};

/// How far ahead `next_after` looks before deciding an expression never fires (`30 2 * *`).
const HORIZON_DAYS: i64 = 366 * 5;

impl Cron {
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(CronError(format!(
                    "a cron expression has 5 or 6 fields, this one has {n}"
                )))
            }
        };
        let mut weekdays = parse_field(rest[4], &WEEKDAY)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Cron {
            seconds: parse_field(second, &SECOND)?,
            minutes: parse_field(rest[0], &MINUTE)?,
            hours: parse_field(rest[1], &HOUR)?,
            days: parse_field(rest[2], &DAY)?,
            months: parse_field(rest[3], &MONTH)?,
            weekdays,
            days_restricted: rest[2] != "*",
            weekdays_restricted: rest[4] != "*",
        })
    }

    /// The first whole second strictly after `after_ms` that the expression matches, in epoch
    /// milliseconds; `None` when it matches nothing within five years.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let mut t = after_ms / 1000 + 1;
        let limit = t + HORIZON_DAYS as u64 * 86_400;
        while t < limit {
            let days = (t / 86_400) as i64;
            let (y, m, d) = civil_from_days(days);
            let in_day = t % 86_400;
            let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
            if !has(self.months, m) {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                t = days_from_civil(ny, nm, 1) as u64 * 86_400;
            } else if !self.day_matches(y, m, d, days) {
                t = (days as u64 + 1) * 86_400;
            } else if !has(self.hours, hour as u32) {
                t = days as u64 * 86_400 + (hour + 1) * 3600;
            } else if !has(self.minutes, minute as u32) {
                t = t - second + 60;
            } else if !has(self.seconds, second as u32) {
                t += 1;
            } else {
                return Some(t * 1000);
            }
        }
        None
    }

    fn day_matches(&self, y: i64, m: u32, d: u32, days: i64) -> bool {
        debug_assert!(d <= days_in_month(y, m));
        // 1970-01-01 was a Thursday (4).
        let weekday = (days + 4).rem_euclid(7) as u32;
        let by_day = has(self.days, d);
        let by_weekday = has(self.weekdays, weekday);
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => by_day || by_weekday,
            _ => by_day && by_weekday,
        }
    }
}

fn has(set: u64, value: u32) -> bool {
    set & (1 << value) != 0
}

/// A field as a bit set of the values it matches.
fn parse_field(raw: &str, field: &Field) -> Result<u64, CronError> {
    let invalid = |why: &str| CronError(format!("invalid {} field '{raw}': {why}", field.name));
    let mut set = 0u64;
    for part in raw.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| invalid("a step must be a positive number"))?;
                (range, Some(step))
            }
            None => (part, None),
        };
        let (low, high) = if range == "*" {
            (field.low, field.high)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, field).ok_or_else(|| invalid("unknown value"))?,
                value(b, field).ok_or_else(|| invalid("unknown value"))?,
            )
        } else {
            let v = value(range, field).ok_or_else(|| invalid("unknown value"))?;
            // `a/n` runs from a to the end of the field.
            (v, if step.is_some() { field.high } else { v })
        };
        if low > high {
            return Err(invalid("a range must run from low to high"));
        }
        let step = step.unwrap_or(1);
        let mut v = low;
        while v <= high {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn value(raw: &str, field: &Field) -> Option<u32> {
    let v = match raw.parse::<u32>() {
        Ok(v) => v,
        Err(_) => {
            let upper = raw.to_ascii_uppercase();
            let index = field.names.iter().position(|n| *n == upper)?;
            index as u32 + if field.names.len() == 12 { 1 } else { 0 }
        }
    };
    (field.low..=field.high).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_iso8601_ms;

    fn at(iso: &str) -> u64 {
        parse_iso8601_ms(iso).unwrap()
    }

    fn next(expr: &str, after: &str) -> Option<u64> {
        Cron::parse(expr).unwrap().next_after(at(after))
    }

    #[test]
    fn five_fields_fire_on_whole_minutes() {
        assert_eq!(
            next("* * * * *", "2030-01-01T00:00:00Z"),
            Some(at("2030-01-01T00:01:00Z"))
        );
        assert_eq!(
            next("*/15 * * * *", "2030-01-01T00:16:30Z"),
            Some(at("2030-01-01T00:30:00Z"))
        );
        assert_eq!(
            next("0 9 * * *", "2030-01-01T09:00:00Z"),
            Some(at("2030-01-02T09:00:00Z"))
        );
    }

    #[test]
    fn six_fields_have_seconds_first() {
        assert_eq!(
            next("*/5 * * * * *", "2030-01-01T00:00:03.500Z"),
            Some(at("2030-01-01T00:00:05Z"))
        );
        assert_eq!(
            next("30 0 12 * * *", "2030-01-01T12:00:30Z"),
            Some(at("2030-01-02T12:00:30Z"))
        );
    }

    #[test]
    fn months_weekdays_and_names() {
        // 2030-01-01 is a Tuesday.
        assert_eq!(
            next("0 0 * * MON", "2030-01-01T00:00:00Z"),
            Some(at("2030-01-07T00:00:00Z"))
        );
        assert_eq!(
            next("0 0 * * 7", "2030-01-01T00:00:00Z"),
            Some(at("2030-01-06T00:00:00Z"))
        );
        assert_eq!(
            next("0 0 1 mar *", "2030-01-01T00:00:00Z"),
            Some(at("2030-03-01T00:00:00Z"))
        );
        assert_eq!(
            next("0 0 29 2 *", "2030-01-01T00:00:00Z"),
            Some(at("2032-02-29T00:00:00Z"))
        );
        // Both day fields restricted: either matches.
        assert_eq!(
            next("0 0 15 * FRI", "2030-01-01T00:00:00Z"),
            Some(at("2030-01-04T00:00:00Z"))
        );
    }

    #[test]
    fn ranges_lists_and_steps() {
        let c = Cron::parse("0 8-10/2,17 * * 1-5").unwrap();
        assert_eq!(
            c.next_after(at("2030-01-01T08:00:00Z")),
            Some(at("2030-01-01T10:00:00Z"))
        );
        assert_eq!(
            c.next_after(at("2030-01-01T10:00:00Z")),
            Some(at("2030-01-01T17:00:00Z"))
        );
        assert_eq!(
            c.next_after(at("2030-01-04T17:00:00Z")),
            Some(at("2030-01-07T08:00:00Z"))
        );
    }

    #[test]
    fn impossible_dates_never_fire() {
        assert_eq!(next("0 0 30 2 *", "2030-01-01T00:00:00Z"), None);
    }

    #[test]
    fn invalid_expressions_say_why() {
        for bad in [
            "",
            "* * * *",
            "* * * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "x * * * *",
            "* * * FOO *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            Cron::parse("61 * * * *").unwrap_err().to_string(),
            "invalid minute field '61': unknown value"
        );
    }
}
