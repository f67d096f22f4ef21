//! Query parameters with OpenWhisk's validation messages.

use std::collections::HashMap;

use wisp_controller::Page;

use crate::ApiError;

pub type Query = HashMap<String, String>;

/// `limit`, `skip` and `count` of a list route over `collection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListParams {
    pub limit: u64,
    pub skip: u64,
    pub count: bool,
}

pub const DEFAULT_LIMIT: u64 = 30;
pub const MAX_LIMIT: u64 = 200;

impl ListParams {
    pub fn page(&self) -> Page {
        Page {
            skip: self.skip,
            limit: self.limit,
        }
    }
}

pub fn list_params(query: &Query, collection: &str) -> Result<ListParams, ApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match integer(raw, collection)? {
            0 => MAX_LIMIT,
            n if (0..=MAX_LIMIT as i64).contains(&n) => n as u64,
            n => {
                return Err(ApiError::bad_request(format!(
                    "The value '{n}' is not in the range of 0 to {MAX_LIMIT} for {collection}."
                )))
            }
        },
    };
    let skip = match query.get("skip") {
        None => 0,
        Some(raw) => match integer(raw, collection)? {
            n if n >= 0 => n as u64,
            n => {
                return Err(ApiError::bad_request(format!(
                    "The value '{n}' is not greater than or equal to 0 for {collection}."
                )))
            }
        },
    };
    Ok(ListParams {
        limit,
        skip,
        count: flag(query, "count"),
    })
}

fn integer(raw: &str, collection: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::bad_request(format!(
            "The value '{raw}' is not an integer for {collection}."
        ))
    })
}

/// The whole number `name` within `range`, `default` when absent; anything else is a 400 whose
/// message `refusal` writes from the raw value.
pub fn bounded(
    query: &Query,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    refusal: impl FnOnce(&str) -> String,
) -> Result<u64, ApiError> {
    match query.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| ApiError::bad_request(refusal(raw))),
    }
}

/// `limit` of a bounded listing (kv, objects): 1 to `max`, `default` when absent.
pub fn listing_limit(
    query: &Query,
    default: usize,
    max: usize,
    collection: &str,
) -> Result<usize, ApiError> {
    let limit = bounded(query, "limit", 1..=max as u64, default as u64, |raw| {
        format!("The value '{raw}' is not in the range of 1 to {max} for {collection}.")
    })?;
    Ok(limit as usize)
}

/// A boolean query flag: only `true` is true.
pub fn flag(query: &Query, name: &str) -> bool {
    query
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// An optional epoch-milliseconds parameter.
pub fn millis(query: &Query, name: &str, collection: &str) -> Result<Option<u64>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(raw) => match integer(raw, collection)? {
            n if n >= 0 => Ok(Some(n as u64)),
            n => Err(ApiError::bad_request(format!(
                "The value '{n}' is not greater than or equal to 0 for {collection}."
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limits_follow_openwhisk() {
        assert_eq!(list_params(&q(&[]), "actions").unwrap().limit, 30);
        assert_eq!(
            list_params(&q(&[("limit", "0")]), "actions").unwrap().limit,
            200
        );
        let err = list_params(&q(&[("limit", "201")]), "actions").unwrap_err();
        assert_eq!(
            err.message,
            "The value '201' is not in the range of 0 to 200 for actions."
        );
        let err = list_params(&q(&[("skip", "x")]), "actions").unwrap_err();
        assert_eq!(err.message, "The value 'x' is not an integer for actions.");
        let err = list_params(&q(&[("skip", "-1")]), "actions").unwrap_err();
        assert_eq!(
            err.message,
            "The value '-1' is not greater than or equal to 0 for actions."
        );
        assert!(
            list_params(&q(&[("count", "true")]), "actions")
                .unwrap()
                .count
        );
    }
}
