//! A data [`Command`] as the Redis command that carries it out, its keys prefixed with the
//! namespace's (`<root>:{<namespace>}:`, the root `wisp` or `wisp:<cluster>`). Pure.

use crate::command::{Command, Set};
use crate::resp::{Bytes, Reply};

/// The prefix of every key of `namespace` under `root`: the braces are a hash tag, so a
/// namespace's keys (and the script's bookkeeping keys beside them) live on one cluster slot.
pub fn prefix(root: &str, namespace: &str) -> Bytes {
    format!("{root}:{{{namespace}}}:").into_bytes()
}

/// What a command becomes upstream.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// A read: sent as it is; the reply passes through.
    Read(Vec<Bytes>),
    /// Run by the script: a write, which it accounts for against the quota, or one of the
    /// `WISP.*` listings it answers from the namespace's index (KEYS, SCAN, DBSIZE, FLUSH).
    Script(Vec<Bytes>),
}

pub fn plan(prefix: &[u8], command: Command) -> Plan {
    let key = |k: &[u8]| [prefix, k].concat();
    let keys = |ks: Vec<Bytes>| ks.into_iter().map(|k| key(&k));
    let word = |w: &str| w.as_bytes().to_vec();
    let num = |n: i64| n.to_string().into_bytes();
    let read = |name: &str, k: &[u8], rest: Vec<Bytes>| {
        let mut argv = vec![word(name), key(k)];
        argv.extend(rest);
        Plan::Read(argv)
    };
    let write = |name: &str, k: &[u8], rest: Vec<Bytes>| match read(name, k, rest) {
        Plan::Read(argv) => Plan::Script(argv),
        _ => unreachable!("read builds a Read"),
    };
    match command {
        Command::Get(k) => read("GET", &k, vec![]),
        Command::Set(set) => Plan::Script(set_argv(key(&set.key), set)),
        Command::SetNx(k, v) => write("SETNX", &k, vec![v]),
        Command::GetSet(k, v) => write("GETSET", &k, vec![v]),
        Command::MGet(ks) => Plan::Read(std::iter::once(word("MGET")).chain(keys(ks)).collect()),
        Command::MSet(pairs) => {
            let mut argv = vec![word("MSET")];
            for (k, v) in pairs {
                argv.push(key(&k));
                argv.push(v);
            }
            Plan::Script(argv)
        }
        Command::IncrBy(k, by) => write("INCRBY", &k, vec![num(by)]),
        Command::IncrByFloat(k, by) => write("INCRBYFLOAT", &k, vec![by.to_string().into_bytes()]),
        Command::Append(k, v) => write("APPEND", &k, vec![v]),
        Command::Strlen(k) => read("STRLEN", &k, vec![]),
        Command::Del(ks) => Plan::Script(std::iter::once(word("DEL")).chain(keys(ks)).collect()),
        Command::Exists(ks) => {
            Plan::Read(std::iter::once(word("EXISTS")).chain(keys(ks)).collect())
        }
        Command::Expire(k, ms, _) => write("PEXPIRE", &k, vec![num(ms)]),
        Command::Ttl(k, millis) => read(if millis { "PTTL" } else { "TTL" }, &k, vec![]),
        Command::Persist(k) => write("PERSIST", &k, vec![]),
        Command::Type(k) => read("TYPE", &k, vec![]),
        Command::Keys(pattern) => Plan::Script(vec![word("WISP.KEYS"), pattern]),
        Command::Scan {
            cursor,
            pattern,
            count,
        } => {
            let count = count.max(1) as i64;
            let mut argv = vec![
                word("WISP.SCAN"),
                cursor.to_string().into_bytes(),
                num(count),
            ];
            argv.extend(pattern);
            Plan::Script(argv)
        }
        Command::DbSize => Plan::Script(vec![word("WISP.DBSIZE")]),
        Command::Flush => Plan::Script(vec![word("WISP.FLUSH")]),
        Command::SAdd(k, members) => write("SADD", &k, members),
        Command::SRem(k, members) => write("SREM", &k, members),
        Command::SMembers(k) => read("SMEMBERS", &k, vec![]),
        Command::SIsMember(k, m) => read("SISMEMBER", &k, vec![m]),
        Command::SCard(k) => read("SCARD", &k, vec![]),
        Command::Push {
            key: k,
            left,
            values,
        } => write(if left { "LPUSH" } else { "RPUSH" }, &k, values),
        Command::Pop {
            key: k,
            left,
            count,
        } => write(
            if left { "LPOP" } else { "RPOP" },
            &k,
            count
                .map(|c| c.to_string().into_bytes())
                .into_iter()
                .collect(),
        ),
        Command::LRange(k, start, stop) => read("LRANGE", &k, vec![num(start), num(stop)]),
        Command::LLen(k) => read("LLEN", &k, vec![]),
        Command::LIndex(k, i) => read("LINDEX", &k, vec![num(i)]),
        Command::LRem(k, count, v) => write("LREM", &k, vec![num(count), v]),
        Command::HSet {
            key: k,
            pairs,
            hmset,
        } => write(
            if hmset { "HMSET" } else { "HSET" },
            &k,
            pairs.into_iter().flat_map(|(f, v)| [f, v]).collect(),
        ),
        Command::HGet(k, f) => read("HGET", &k, vec![f]),
        Command::HMGet(k, fields) => read("HMGET", &k, fields),
        Command::HGetAll(k) => read("HGETALL", &k, vec![]),
        Command::HDel(k, fields) => write("HDEL", &k, fields),
        Command::HExists(k, f) => read("HEXISTS", &k, vec![f]),
        Command::HKeys(k) => read("HKEYS", &k, vec![]),
        Command::HVals(k) => read("HVALS", &k, vec![]),
        Command::HLen(k) => read("HLEN", &k, vec![]),
        Command::HIncrBy(k, f, by) => write("HINCRBY", &k, vec![f, num(by)]),
    }
}

fn set_argv(key: Bytes, set: Set) -> Vec<Bytes> {
    let mut argv = vec![b"SET".to_vec(), key, set.value];
    if let Some(ms) = set.expire_ms {
        argv.push(b"PX".to_vec());
        argv.push(ms.to_string().into_bytes());
    }
    if set.keep_ttl {
        argv.push(b"KEEPTTL".to_vec());
    }
    match set.if_absent {
        Some(true) => argv.push(b"NX".to_vec()),
        Some(false) => argv.push(b"XX".to_vec()),
        None => {}
    }
    if set.get {
        argv.push(b"GET".to_vec());
    }
    argv
}

/// Whether the script hands this write's reply back as text that stands for an integer:
/// Lua numbers are doubles, so INCRBY and HINCRBY return the stored value rather than a
/// number that would lose digits past 2^53.
pub fn replies_as_text(argv: &[Bytes]) -> bool {
    matches!(
        argv.first().map(Vec::as_slice),
        Some(b"INCRBY" | b"HINCRBY")
    )
}

/// The reply a client expects from what the script returned for `argv`.
pub fn from_script(argv: &[Bytes], reply: Reply) -> Reply {
    // Lua has one nil: Redis's null array (LPOP with a count, on a missing key) comes back
    // from the script as a null bulk string.
    let pops_many = matches!(argv, [name, _, _] if name == b"LPOP" || name == b"RPOP");
    match reply {
        Reply::Bulk(None) if pops_many => Reply::Array(None),
        Reply::Bulk(Some(text)) if replies_as_text(argv) => std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.parse().ok())
            .map_or_else(|| Reply::Bulk(Some(text)), Reply::Integer),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Request;

    fn plan_of(line: &str) -> Plan {
        let args = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        match Request::parse(args) {
            Ok(Request::Data(command)) => plan(&prefix("wisp", "ns"), command),
            other => panic!("{other:?}"),
        }
    }

    fn argv(words: &str) -> Vec<Bytes> {
        words.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn keys_are_prefixed_with_the_namespace_hash_tag() {
        assert_eq!(prefix("wisp", "guest"), b"wisp:{guest}:");
        assert_eq!(prefix("wisp:blue", "guest"), b"wisp:blue:{guest}:");
        assert_eq!(plan_of("GET k"), Plan::Read(argv("GET wisp:{ns}:k")));
        assert_eq!(
            plan_of("MGET a b"),
            Plan::Read(argv("MGET wisp:{ns}:a wisp:{ns}:b"))
        );
        assert_eq!(
            plan_of("MSET a 1 b 2"),
            Plan::Script(argv("MSET wisp:{ns}:a 1 wisp:{ns}:b 2"))
        );
        assert_eq!(
            plan_of("DEL a b"),
            Plan::Script(argv("DEL wisp:{ns}:a wisp:{ns}:b"))
        );
        assert_eq!(
            plan_of("HSET h f v g w"),
            Plan::Script(argv("HSET wisp:{ns}:h f v g w"))
        );
    }

    #[test]
    fn options_and_variants_map_onto_redis_commands() {
        assert_eq!(
            plan_of("SET k v EX 10 NX GET"),
            Plan::Script(argv("SET wisp:{ns}:k v PX 10000 NX GET"))
        );
        assert_eq!(
            plan_of("SETEX k 5 v"),
            Plan::Script(argv("SET wisp:{ns}:k v PX 5000"))
        );
        assert_eq!(
            plan_of("DECR n"),
            Plan::Script(argv("INCRBY wisp:{ns}:n -1"))
        );
        assert_eq!(
            plan_of("EXPIRE k 3"),
            Plan::Script(argv("PEXPIRE wisp:{ns}:k 3000"))
        );
        assert_eq!(
            plan_of("RPOP l 2"),
            Plan::Script(argv("RPOP wisp:{ns}:l 2"))
        );
        assert_eq!(plan_of("TTL k"), Plan::Read(argv("TTL wisp:{ns}:k")));
        assert_eq!(plan_of("KEYS a*"), Plan::Script(argv("WISP.KEYS a*")));
        assert_eq!(
            plan_of("SCAN 5 MATCH a* COUNT 20"),
            Plan::Script(argv("WISP.SCAN 5 20 a*"))
        );
        assert_eq!(plan_of("FLUSHALL"), Plan::Script(argv("WISP.FLUSH")));
    }

    #[test]
    fn incremented_integers_come_back_exact() {
        let incr = argv("INCRBY wisp:{ns}:n 1");
        assert_eq!(
            from_script(&incr, Reply::bulk("9223372036854775807")),
            Reply::Integer(i64::MAX)
        );
        let err = Reply::err("value is not an integer or out of range");
        assert_eq!(from_script(&incr, err.clone()), err);
        assert_eq!(
            from_script(&argv("LPOP wisp:{ns}:l 2"), Reply::nil()),
            Reply::Array(None)
        );
        assert_eq!(
            from_script(&argv("LPOP wisp:{ns}:l"), Reply::nil()),
            Reply::nil()
        );
        assert_eq!(
            from_script(&argv("INCRBYFLOAT wisp:{ns}:n 1.5"), Reply::bulk("2.5")),
            Reply::bulk("2.5")
        );
    }
}
