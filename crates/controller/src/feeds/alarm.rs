//! One alarm: when it fires, what it fires with, and what a feed's parameters make of it.
//!
//! Three shapes, one per feed action of `/whisk.system/alarms`: `alarm` (a cron expression),
//! `once` (a date) and `interval` (every so many minutes). `startDate` and `stopDate` bound
//! `alarm` and `interval`; `trigger_payload` is the event every fire carries.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use wisp_core::cron::Cron;
use wisp_core::time::parse_iso8601_ms;

/// Which feed action an alarm came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Cron,
    Once,
    Interval,
}

impl Shape {
    pub fn of_builtin(name: &str) -> Option<Shape> {
        match name {
            "alarms/alarm" => Some(Shape::Cron),
            "alarms/once" => Some(Shape::Once),
            "alarms/interval" => Some(Shape::Interval),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Schedule {
    Cron { cron: String },
    Once { date: u64 },
    Interval { minutes: u64 },
}

/// The stored state of one alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub schedule: Schedule,
    pub start: Option<u64>,
    pub stop: Option<u64>,
    pub payload: Map<String, Value>,
    pub paused: bool,
    pub created: u64,
    /// When it last fired; the missed-fire policy counts from here.
    pub last_fired: Option<u64>,
}

/// Feed parameters that are the platform's, not the alarm's.
const LIFECYCLE_KEYS: [&str; 3] = ["lifecycleEvent", "triggerName", "authKey"];

impl Alarm {
    /// Builds an alarm from a feed's parameters; `Err` is a message for a 400.
    pub fn from_params(
        shape: Shape,
        params: &Map<String, Value>,
        now: u64,
    ) -> Result<Alarm, String> {
        let start = date_param(params, "startDate")?;
        let stop = date_param(params, "stopDate")?;
        let schedule = match shape {
            Shape::Cron => {
                let cron = params
                    .get("cron")
                    .and_then(Value::as_str)
                    .ok_or("the alarm feed needs a 'cron' parameter (a cron expression)")?;
                Cron::parse(cron)
                    .map_err(|e| format!("cron pattern '{cron}' is not valid: {e}"))?;
                Schedule::Cron {
                    cron: cron.to_string(),
                }
            }
            Shape::Once => {
                let date = date_param(params, "date")?
                    .ok_or("the once feed needs a 'date' parameter (an ISO 8601 date or epoch milliseconds)")?;
                if date <= now {
                    return Err(format!("the date {} is not in the future", iso(date)));
                }
                Schedule::Once { date }
            }
            Shape::Interval => {
                let minutes = params
                    .get("minutes")
                    .and_then(|m| m.as_u64().or_else(|| m.as_str()?.parse().ok()))
                    .filter(|m| *m > 0)
                    .ok_or(
                        "the interval feed needs a 'minutes' parameter (a positive whole number)",
                    )?;
                Schedule::Interval { minutes }
            }
        };
        if shape == Shape::Once && (start.is_some() || stop.is_some()) {
            return Err("startDate and stopDate do not apply to the once feed".into());
        }
        if let Some(stop) = stop {
            if stop <= now {
                return Err(format!("the stopDate {} is not in the future", iso(stop)));
            }
            if start.is_some_and(|start| start >= stop) {
                return Err("the startDate must be before the stopDate".into());
            }
        }
        let alarm = Alarm {
            schedule,
            start,
            stop,
            payload: payload_param(params)?,
            paused: false,
            created: now,
            last_fired: None,
        };
        if alarm.next_after(now).is_none() {
            return Err("the alarm would never fire".into());
        }
        Ok(alarm)
    }

    /// The same alarm with some parameters replaced (an UPDATE); unmentioned ones are kept.
    pub fn updated(
        &self,
        shape: Shape,
        params: &Map<String, Value>,
        now: u64,
    ) -> Result<Alarm, String> {
        let mut merged = self.params();
        for (key, value) in params {
            if !LIFECYCLE_KEYS.contains(&key.as_str()) {
                merged.insert(key.clone(), value.clone());
            }
        }
        let mut alarm = Alarm::from_params(shape, &merged, now)?;
        alarm.created = self.created;
        alarm.last_fired = self.last_fired;
        alarm.paused = self.paused;
        Ok(alarm)
    }

    /// The parameters this alarm was made of, as a READ reports them.
    pub fn params(&self) -> Map<String, Value> {
        let mut params = Map::new();
        match &self.schedule {
            Schedule::Cron { cron } => params.insert("cron".into(), Value::from(cron.as_str())),
            Schedule::Once { date } => params.insert("date".into(), Value::from(iso(*date))),
            Schedule::Interval { minutes } => {
                params.insert("minutes".into(), Value::from(*minutes))
            }
        };
        if let Some(start) = self.start {
            params.insert("startDate".into(), Value::from(iso(start)));
        }
        if let Some(stop) = self.stop {
            params.insert("stopDate".into(), Value::from(iso(stop)));
        }
        params.insert(
            "trigger_payload".into(),
            Value::Object(self.payload.clone()),
        );
        params
    }

    /// What a READ answers: the configuration and whether it is live.
    pub fn describe(&self, trigger: &str, now: u64) -> Value {
        let next = if self.paused {
            None
        } else {
            self.next_after(now)
        };
        json!({
            "config": self.params(),
            "status": {
                "active": !self.paused && next.is_some(),
                "triggerName": trigger,
                "lastFired": self.last_fired.map(iso),
                "nextFire": next.map(iso),
            },
        })
    }

    /// The first fire strictly after `t` (epoch ms), ignoring `paused`; `None` when done.
    pub fn next_after(&self, t: u64) -> Option<u64> {
        let next = match &self.schedule {
            Schedule::Cron { cron } => {
                // A fire at exactly `start` counts.
                let from = self.start.map_or(t, |s| t.max(s.saturating_sub(1)));
                Cron::parse(cron).ok()?.next_after(from)?
            }
            Schedule::Once { date } => return (*date > t).then_some(*date),
            Schedule::Interval { minutes } => {
                let every = minutes * 60_000;
                // Without a start the first fire is one interval after creation.
                let first = self.start.unwrap_or(self.created + every);
                if t < first {
                    first
                } else {
                    first + ((t - first) / every + 1) * every
                }
            }
        };
        match self.stop {
            Some(stop) if next > stop => None,
            _ => Some(next),
        }
    }
}

fn date_param(params: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a date in epoch milliseconds or ISO 8601")),
        Some(Value::String(s)) => parse_iso8601_ms(s)
            .or_else(|| s.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{key} '{s}' is not a date (ISO 8601 or epoch milliseconds)")),
        Some(_) => Err(format!(
            "{key} must be a date in epoch milliseconds or ISO 8601"
        )),
    }
}

/// `trigger_payload`: an object, or a string holding a JSON object.
fn payload_param(params: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    const BAD: &str = "trigger_payload must be a JSON object";
    match params.get("trigger_payload") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Map::new()),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(BAD.into()),
        },
        Some(_) => Err(BAD.into()),
    }
}

fn iso(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let full = wisp_core::time::rfc3339_nanos(time);
    // Milliseconds are enough for a schedule.
    format!("{}Z", &full[..23])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_900_000_000_000; // 2030-03-17T17:46:40Z

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn cron_alarms_fire_on_the_expression_within_their_dates() {
        let a = Alarm::from_params(
            Shape::Cron,
            &params(json!({"cron": "0 * * * *", "startDate": NOW + 7_200_000, "stopDate": NOW + 10_900_000})),
            NOW,
        )
        .unwrap();
        let first = a.next_after(NOW).unwrap();
        assert!(first >= NOW + 7_200_000 && first.is_multiple_of(3_600_000));
        assert_eq!(a.next_after(first), None, "the stopDate ends it");
    }

    #[test]
    fn interval_alarms_count_from_their_start() {
        let a = Alarm::from_params(Shape::Interval, &params(json!({"minutes": 2})), NOW).unwrap();
        assert_eq!(a.next_after(NOW), Some(NOW + 120_000));
        assert_eq!(a.next_after(NOW + 120_000), Some(NOW + 240_000));
        assert_eq!(a.next_after(NOW + 500_000), Some(NOW + 600_000));
    }

    #[test]
    fn once_alarms_fire_once() {
        let a = Alarm::from_params(Shape::Once, &params(json!({"date": NOW + 5000})), NOW).unwrap();
        assert_eq!(a.next_after(NOW), Some(NOW + 5000));
        assert_eq!(a.next_after(NOW + 5000), None);
    }

    #[test]
    fn bad_parameters_are_refused_with_a_reason() {
        let cases = [
            (Shape::Cron, json!({})),
            (Shape::Cron, json!({"cron": "every day"})),
            (Shape::Cron, json!({"cron": "0 0 30 2 *"})),
            (Shape::Once, json!({"date": "2001-01-01T00:00:00Z"})),
            (Shape::Once, json!({"date": "soon"})),
            (Shape::Interval, json!({"minutes": 0})),
            (Shape::Interval, json!({"minutes": 1, "stopDate": NOW - 1})),
            (
                Shape::Cron,
                json!({"cron": "* * * * *", "trigger_payload": "[1]"}),
            ),
        ];
        for (shape, p) in cases {
            assert!(
                Alarm::from_params(shape, &params(p.clone()), NOW).is_err(),
                "{p}"
            );
        }
    }

    #[test]
    fn payload_may_be_a_json_string_and_updates_keep_the_rest() {
        let a = Alarm::from_params(
            Shape::Cron,
            &params(json!({"cron": "* * * * *", "trigger_payload": "{\"x\":1}"})),
            NOW,
        )
        .unwrap();
        assert_eq!(a.payload, params(json!({"x": 1})));
        let b = a
            .updated(
                Shape::Cron,
                &params(json!({"cron": "*/5 * * * *", "lifecycleEvent": "UPDATE"})),
                NOW,
            )
            .unwrap();
        assert_eq!(b.payload, a.payload);
        assert_eq!(
            b.schedule,
            Schedule::Cron {
                cron: "*/5 * * * *".into()
            }
        );
    }
}
