//! String commands and the commands on keys of any type.

use super::keyspace::{Entry, Tx, Value};
use crate::command::{not_an_integer, parse_float, parse_int, Set};
use crate::glob;
use crate::resp::{Bytes, Reply};

pub fn get(tx: &mut Tx, key: &[u8]) -> Reply {
    match tx.typed::<Bytes>(key) {
        Ok(v) => Reply::Bulk(v.cloned()),
        Err(e) => e,
    }
}

pub fn set(tx: &mut Tx, set: Set) -> Reply {
    let old = match tx.get(&set.key) {
        Some(Entry {
            value: Value::Str(s),
            expires_at,
            ..
        }) => Some((Some(s.clone()), *expires_at)),
        Some(_) if set.get => return super::keyspace::wrong_type(),
        Some(e) => Some((None, e.expires_at)),
        None => None,
    };
    if set.if_absent == Some(old.is_some()) {
        return if set.get {
            Reply::Bulk(old.and_then(|(v, _)| v))
        } else {
            Reply::nil()
        };
    }
    let expires_at = match (set.expire_ms, set.keep_ttl) {
        (Some(ms), _) => match expiry(tx.now, ms, "set") {
            Ok(at) => Some(at),
            Err(e) => return e,
        },
        (None, true) => old.as_ref().and_then(|(_, at)| *at),
        (None, false) => None,
    };
    tx.insert(&set.key, Entry::new(Value::Str(set.value), expires_at));
    if set.get {
        Reply::Bulk(old.and_then(|(v, _)| v))
    } else {
        Reply::ok()
    }
}

/// `now + ms` as an absolute time, or Redis's error when it overflows.
pub fn expiry(now: u64, ms: i64, command: &str) -> Result<u64, Reply> {
    let at = (now as i64).checked_add(ms);
    at.map(|at| at.max(0) as u64)
        .ok_or_else(|| Reply::err(format!("invalid expire time in '{command}' command")))
}

pub fn setnx(tx: &mut Tx, key: Bytes, value: Bytes) -> Reply {
    if tx.get(&key).is_some() {
        return Reply::Integer(0);
    }
    tx.insert(&key, Entry::new(Value::Str(value), None));
    Reply::Integer(1)
}

pub fn getset(tx: &mut Tx, key: Bytes, value: Bytes) -> Reply {
    let old = match tx.typed::<Bytes>(&key) {
        Ok(v) => v.cloned(),
        Err(e) => return e,
    };
    tx.insert(&key, Entry::new(Value::Str(value), None));
    Reply::Bulk(old)
}

pub fn mget(tx: &mut Tx, keys: Vec<Bytes>) -> Reply {
    Reply::array(keys.iter().map(|k| match tx.get(k) {
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => Reply::bulk(s.clone()),
        _ => Reply::nil(),
    }))
}

pub fn mset(tx: &mut Tx, pairs: Vec<(Bytes, Bytes)>) -> Reply {
    for (key, value) in pairs {
        tx.insert(&key, Entry::new(Value::Str(value), None));
    }
    Reply::ok()
}

/// The string at `key` for changing in place, keeping its expiry; created empty if absent.
fn string_mut<'t>(tx: &'t mut Tx, key: &[u8]) -> Result<&'t mut Bytes, Reply> {
    tx.typed_mut::<Bytes>(key)
}

pub fn incr_by(tx: &mut Tx, key: &[u8], by: i64) -> Reply {
    let existed = tx.get(key).is_some();
    let result = string_mut(tx, key).and_then(|s| {
        let current = if existed { parse_int(s) } else { Some(0) };
        let next = current
            .ok_or_else(not_an_integer)?
            .checked_add(by)
            .ok_or_else(|| Reply::err("increment or decrement would overflow"))?;
        *s = next.to_string().into_bytes();
        Ok(next)
    });
    result.map_or_else(|e| e, Reply::Integer)
}

pub fn incr_by_float(tx: &mut Tx, key: &[u8], by: f64) -> Reply {
    let existed = tx.get(key).is_some();
    let result = string_mut(tx, key).and_then(|s| {
        let current = if existed { parse_float(s) } else { Some(0.0) };
        let next = current.ok_or_else(|| Reply::err("value is not a valid float"))? + by;
        if !next.is_finite() {
            return Err(Reply::err("increment would produce NaN or Infinity"));
        }
        *s = format_float(next).into_bytes();
        Ok(s.clone())
    });
    result.map_or_else(|e| e, Reply::bulk)
}

/// As Redis prints INCRBYFLOAT results: no exponent, no trailing zeros.
pub fn format_float(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e17 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

pub fn append(tx: &mut Tx, key: &[u8], value: Bytes) -> Reply {
    match string_mut(tx, key) {
        Ok(s) => {
            s.extend_from_slice(&value);
            Reply::Integer(s.len() as i64)
        }
        Err(e) => e,
    }
}

pub fn strlen(tx: &mut Tx, key: &[u8]) -> Reply {
    match tx.typed::<Bytes>(key) {
        Ok(v) => Reply::Integer(v.map_or(0, Vec::len) as i64),
        Err(e) => e,
    }
}

pub fn del(tx: &mut Tx, keys: Vec<Bytes>) -> Reply {
    let mut n = 0;
    for key in keys {
        if tx.get(&key).is_some() {
            tx.remove(&key);
            n += 1;
        }
    }
    Reply::Integer(n)
}

pub fn exists(tx: &mut Tx, keys: Vec<Bytes>) -> Reply {
    Reply::Integer(keys.iter().filter(|k| tx.get(k).is_some()).count() as i64)
}

pub fn expire(tx: &mut Tx, key: &[u8], ms: i64, command: &str) -> Reply {
    let at = match expiry(tx.now, ms, command) {
        Ok(at) => at,
        Err(e) => return e,
    };
    if tx.get(key).is_none() {
        return Reply::Integer(0);
    }
    if at <= tx.now {
        tx.remove(key);
    } else if let Some(e) = tx.get_mut(key) {
        e.expires_at = Some(at);
    }
    Reply::Integer(1)
}

pub fn ttl(tx: &mut Tx, key: &[u8], millis: bool) -> Reply {
    let now = tx.now;
    Reply::Integer(match tx.get(key) {
        None => -2,
        Some(Entry {
            expires_at: None, ..
        }) => -1,
        Some(Entry {
            expires_at: Some(at),
            ..
        }) => {
            let left = at.saturating_sub(now) as i64;
            if millis {
                left
            } else {
                (left + 500) / 1000
            }
        }
    })
}

pub fn persist(tx: &mut Tx, key: &[u8]) -> Reply {
    match tx.get(key) {
        Some(e) if e.expires_at.is_some() => {
            if let Some(e) = tx.get_mut(key) {
                e.expires_at = None;
            }
            Reply::Integer(1)
        }
        _ => Reply::Integer(0),
    }
}

pub fn type_of(tx: &mut Tx, key: &[u8]) -> Reply {
    Reply::Simple(tx.get(key).map_or("none", |e| e.value.type_name()).into())
}

pub fn keys(tx: &Tx, pattern: &[u8]) -> Reply {
    let ks = tx.keyspace();
    Reply::bulks(
        ks.live(tx.now)
            .filter(|(k, _)| glob::matches(pattern, k))
            .map(|(k, _)| k.clone()),
    )
}

pub fn scan(tx: &Tx, cursor: u64, pattern: Option<&[u8]>, count: usize) -> Reply {
    let ks = tx.keyspace();
    let mut found = Vec::new();
    let mut next = 0;
    for (visited, (id, key)) in ks.scan_from(cursor, tx.now).enumerate() {
        if visited == count {
            next = id;
            break;
        }
        if pattern.is_none_or(|p| glob::matches(p, key)) {
            found.push(key.clone());
        }
    }
    Reply::array([Reply::bulk(next.to_string()), Reply::bulks(found)])
}
