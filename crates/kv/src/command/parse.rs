//! [`Request::parse`]: a request's arguments → a typed request, with Redis's error texts.

use super::{
    not_a_float, not_an_integer, parse_float, parse_int, syntax_error, wrong_arity, Command,
    Connection, Request, Set,
};
use crate::resp::{Bytes, Reply};

fn int(arg: &[u8]) -> Result<i64, Reply> {
    parse_int(arg).ok_or_else(not_an_integer)
}

impl Request {
    /// Parses a request's arguments (the first is the command name, any case).
    pub fn parse(args: Vec<Bytes>) -> Result<Request, Reply> {
        let mut args = args.into_iter();
        let Some(raw_name) = args.next() else {
            return Err(Reply::err("empty command"));
        };
        let name = String::from_utf8_lossy(&raw_name).to_ascii_lowercase();
        let a: Vec<Bytes> = args.collect();
        let n = a.len();
        let arity = |ok: bool| if ok { Ok(()) } else { Err(wrong_arity(&name)) };
        use Command as C;
        use Connection as K;
        let data = |c: Command| Ok(Request::Data(c));
        let conn = |c: Connection| Ok(Request::Connection(c));
        let mut a = Args(a.into_iter());
        match name.as_str() {
            "auth" => {
                arity(n == 1 || n == 2)?;
                let first = a.next();
                if n == 1 {
                    conn(K::Auth {
                        user: None,
                        password: first,
                    })
                } else {
                    conn(K::Auth {
                        user: Some(first),
                        password: a.next(),
                    })
                }
            }
            "ping" => {
                arity(n <= 1)?;
                conn(K::Ping((n == 1).then(|| a.next())))
            }
            "echo" => arity(n == 1).and_then(|_| conn(K::Echo(a.next()))),
            "select" => {
                arity(n == 1)?;
                conn(K::Select(int(&a.next())?))
            }
            "quit" => conn(K::Quit),
            "info" => conn(K::Info),
            "command" => conn(K::CommandDocs),
            "client" => {
                arity(n >= 1)?;
                let sub = String::from_utf8_lossy(&a.next()).to_ascii_lowercase();
                match sub.as_str() {
                    "setname" => {
                        arity(n == 2).map_err(|_| wrong_arity("client|setname"))?;
                        conn(K::ClientSetName(a.next()))
                    }
                    "getname" => conn(K::ClientGetName),
                    "setinfo" | "reply" | "no-evict" | "no-touch" => conn(K::ClientOk),
                    _ => Err(Reply::err(format!(
                        "unknown subcommand '{sub}'. Try CLIENT HELP."
                    ))),
                }
            }
            "multi" => arity(n == 0).and_then(|_| conn(K::Multi)),
            "exec" => arity(n == 0).and_then(|_| conn(K::Exec)),
            "discard" => arity(n == 0).and_then(|_| conn(K::Discard)),
            "get" => arity(n == 1).and_then(|_| data(C::Get(a.next()))),
            "set" => {
                arity(n >= 2)?;
                data(C::Set(parse_set(a.next(), a.next(), a.rest())?))
            }
            "setnx" => arity(n == 2).and_then(|_| data(C::SetNx(a.next(), a.next()))),
            "setex" | "psetex" => {
                arity(n == 3)?;
                let key = a.next();
                let amount = int(&a.next())?;
                let ms = if name == "setex" {
                    amount.checked_mul(1000)
                } else {
                    Some(amount)
                };
                let ms = ms.filter(|&ms| ms > 0).ok_or_else(|| {
                    Reply::err(format!("invalid expire time in '{name}' command"))
                })?;
                data(C::Set(Set {
                    key,
                    value: a.next(),
                    expire_ms: Some(ms),
                    if_absent: None,
                    keep_ttl: false,
                    get: false,
                }))
            }
            "getset" => arity(n == 2).and_then(|_| data(C::GetSet(a.next(), a.next()))),
            "mget" => arity(n >= 1).and_then(|_| data(C::MGet(a.rest()))),
            "mset" => {
                arity(n >= 2 && n.is_multiple_of(2))?;
                data(C::MSet(pairs(a.rest())))
            }
            "incr" | "decr" => {
                arity(n == 1)?;
                data(C::IncrBy(a.next(), if name == "incr" { 1 } else { -1 }))
            }
            "incrby" | "decrby" => {
                arity(n == 2)?;
                let key = a.next();
                let by = int(&a.next())?;
                let by = if name == "incrby" {
                    by
                } else {
                    by.checked_neg()
                        .ok_or_else(|| Reply::err("decrement would overflow"))?
                };
                data(C::IncrBy(key, by))
            }
            "incrbyfloat" => {
                arity(n == 2)?;
                let key = a.next();
                data(C::IncrByFloat(
                    key,
                    parse_float(&a.next()).ok_or_else(not_a_float)?,
                ))
            }
            "append" => arity(n == 2).and_then(|_| data(C::Append(a.next(), a.next()))),
            "strlen" => arity(n == 1).and_then(|_| data(C::Strlen(a.next()))),
            "del" | "unlink" => arity(n >= 1).and_then(|_| data(C::Del(a.rest()))),
            "exists" => arity(n >= 1).and_then(|_| data(C::Exists(a.rest()))),
            "expire" | "pexpire" => {
                arity(n == 2)?;
                let key = a.next();
                let amount = int(&a.next())?;
                let (ms, label) = if name == "expire" {
                    (amount.checked_mul(1000), "expire")
                } else {
                    (Some(amount), "pexpire")
                };
                let ms = ms.ok_or_else(|| {
                    Reply::err(format!("invalid expire time in '{label}' command"))
                })?;
                data(C::Expire(key, ms, label))
            }
            "ttl" | "pttl" => arity(n == 1).and_then(|_| data(C::Ttl(a.next(), name == "pttl"))),
            "persist" => arity(n == 1).and_then(|_| data(C::Persist(a.next()))),
            "type" => arity(n == 1).and_then(|_| data(C::Type(a.next()))),
            "keys" => arity(n == 1).and_then(|_| data(C::Keys(a.next()))),
            "scan" => {
                arity(n >= 1 && n % 2 == 1)?;
                let cursor = std::str::from_utf8(&a.next())
                    .ok()
                    .and_then(|c| c.parse::<u64>().ok())
                    .ok_or_else(|| Reply::err("invalid cursor"))?;
                let (mut pattern, mut count) = (None, 10);
                while let Some(option) = a.opt() {
                    let value = a.next();
                    match option.to_ascii_lowercase().as_slice() {
                        b"match" => pattern = Some(value),
                        b"count" => {
                            count = usize::try_from(int(&value)?)
                                .ok()
                                .filter(|&c| c >= 1)
                                .ok_or_else(syntax_error)?
                        }
                        _ => return Err(syntax_error()),
                    }
                }
                data(C::Scan {
                    cursor,
                    pattern,
                    count,
                })
            }
            "dbsize" => arity(n == 0).and_then(|_| data(C::DbSize)),
            "flushdb" | "flushall" => {
                arity(n <= 1)?;
                if n == 1 && !matches!(a.next().to_ascii_lowercase().as_slice(), b"async" | b"sync")
                {
                    return Err(syntax_error());
                }
                data(C::Flush)
            }
            "sadd" | "srem" => {
                arity(n >= 2)?;
                let key = a.next();
                let members = a.rest();
                data(if name == "sadd" {
                    C::SAdd(key, members)
                } else {
                    C::SRem(key, members)
                })
            }
            "smembers" => arity(n == 1).and_then(|_| data(C::SMembers(a.next()))),
            "sismember" => arity(n == 2).and_then(|_| data(C::SIsMember(a.next(), a.next()))),
            "scard" => arity(n == 1).and_then(|_| data(C::SCard(a.next()))),
            "lpush" | "rpush" => {
                arity(n >= 2)?;
                data(C::Push {
                    key: a.next(),
                    left: name == "lpush",
                    values: a.rest(),
                })
            }
            "lpop" | "rpop" => {
                arity(n == 1 || n == 2)?;
                let key = a.next();
                let count = if n == 2 {
                    let c = parse_int(&a.next()).and_then(|c| usize::try_from(c).ok());
                    Some(c.ok_or_else(|| Reply::err("value is out of range, must be positive"))?)
                } else {
                    None
                };
                data(C::Pop {
                    key,
                    left: name == "lpop",
                    count,
                })
            }
            "lrange" => {
                arity(n == 3)?;
                let key = a.next();
                let start = int(&a.next())?;
                data(C::LRange(key, start, int(&a.next())?))
            }
            "llen" => arity(n == 1).and_then(|_| data(C::LLen(a.next()))),
            "lindex" => {
                arity(n == 2)?;
                let key = a.next();
                data(C::LIndex(key, int(&a.next())?))
            }
            "lrem" => {
                arity(n == 3)?;
                let key = a.next();
                let count = int(&a.next())?;
                data(C::LRem(key, count, a.next()))
            }
            "hset" | "hmset" => {
                arity(n >= 3 && n % 2 == 1)?;
                let key = a.next();
                data(C::HSet {
                    key,
                    pairs: pairs(a.rest()),
                    hmset: name == "hmset",
                })
            }
            "hget" => arity(n == 2).and_then(|_| data(C::HGet(a.next(), a.next()))),
            "hmget" => {
                arity(n >= 2)?;
                let key = a.next();
                data(C::HMGet(key, a.rest()))
            }
            "hgetall" => arity(n == 1).and_then(|_| data(C::HGetAll(a.next()))),
            "hdel" => {
                arity(n >= 2)?;
                let key = a.next();
                data(C::HDel(key, a.rest()))
            }
            "hexists" => arity(n == 2).and_then(|_| data(C::HExists(a.next(), a.next()))),
            "hkeys" => arity(n == 1).and_then(|_| data(C::HKeys(a.next()))),
            "hvals" => arity(n == 1).and_then(|_| data(C::HVals(a.next()))),
            "hlen" => arity(n == 1).and_then(|_| data(C::HLen(a.next()))),
            "hincrby" => {
                arity(n == 3)?;
                let (key, field) = (a.next(), a.next());
                data(C::HIncrBy(key, field, int(&a.next())?))
            }
            _ => Err(unknown_command(&raw_name, a.rest())),
        }
    }
}

/// The arguments after the name; a missing one reads as empty (arity is checked first).
struct Args(std::vec::IntoIter<Bytes>);

impl Args {
    fn next(&mut self) -> Bytes {
        self.0.next().unwrap_or_default()
    }

    fn opt(&mut self) -> Option<Bytes> {
        self.0.next()
    }

    fn rest(&mut self) -> Vec<Bytes> {
        self.0.by_ref().collect()
    }
}

fn parse_set(key: Bytes, value: Bytes, options: Vec<Bytes>) -> Result<Set, Reply> {
    let mut set = Set {
        key,
        value,
        expire_ms: None,
        if_absent: None,
        keep_ttl: false,
        get: false,
    };
    let mut options = options.into_iter();
    while let Some(option) = options.next() {
        match option.to_ascii_lowercase().as_slice() {
            b"nx" if set.if_absent.is_none() => set.if_absent = Some(true),
            b"xx" if set.if_absent.is_none() => set.if_absent = Some(false),
            b"get" => set.get = true,
            b"keepttl" if set.expire_ms.is_none() => set.keep_ttl = true,
            unit @ (b"ex" | b"px") if set.expire_ms.is_none() && !set.keep_ttl => {
                let amount = int(&options.next().ok_or_else(syntax_error)?)?;
                let ms = if unit == b"ex" {
                    amount.checked_mul(1000)
                } else {
                    Some(amount)
                };
                set.expire_ms = Some(
                    ms.filter(|&ms| ms > 0)
                        .ok_or_else(|| Reply::err("invalid expire time in 'set' command"))?,
                );
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(set)
}

fn pairs(flat: Vec<Bytes>) -> Vec<(Bytes, Bytes)> {
    let mut flat = flat.into_iter();
    std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
}

/// Redis's text, quoting the name and the first arguments.
pub fn unknown_command(name: &[u8], args: Vec<Bytes>) -> Reply {
    let mut text = format!(
        "unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(&name[..name.len().min(128)])
    );
    for arg in args.iter().take(16) {
        text.push_str(&format!(
            "'{}' ",
            String::from_utf8_lossy(&arg[..arg.len().min(128)])
        ));
    }
    Reply::err(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Request, Reply> {
        Request::parse(line.split(' ').map(|p| p.as_bytes().to_vec()).collect())
    }

    fn error(line: &str) -> String {
        match parse(line) {
            Err(Reply::Error(e)) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn names_are_case_insensitive_and_arity_errors_name_the_command() {
        assert_eq!(
            parse("GeT k"),
            Ok(Request::Data(Command::Get(b"k".to_vec())))
        );
        assert_eq!(
            error("GET"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            error("MSET a"),
            "ERR wrong number of arguments for 'mset' command"
        );
        assert_eq!(
            error("HSET h f"),
            "ERR wrong number of arguments for 'hset' command"
        );
    }

    #[test]
    fn unknown_commands_quote_their_first_arguments() {
        assert_eq!(
            error("FOO a b"),
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            error("x"),
            "ERR unknown command 'x', with args beginning with: "
        );
    }

    #[test]
    fn set_options_parse_and_conflicts_are_syntax_errors() {
        let Ok(Request::Data(Command::Set(set))) = parse("set k v EX 10 NX get") else {
            panic!()
        };
        assert_eq!(
            (set.expire_ms, set.if_absent, set.get),
            (Some(10_000), Some(true), true)
        );
        assert_eq!(error("set k v NX XX"), "ERR syntax error");
        assert_eq!(error("set k v EX 1 KEEPTTL"), "ERR syntax error");
        assert_eq!(error("set k v EX"), "ERR syntax error");
        assert_eq!(
            error("set k v EX x"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            error("set k v PX 0"),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error("setex k -1 v"),
            "ERR invalid expire time in 'setex' command"
        );
    }

    #[test]
    fn integers_are_read_as_strictly_as_redis_does() {
        for ok in [
            "0",
            "-1",
            "42",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert!(parse_int(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1.0",
            "9223372036854775808",
        ] {
            assert_eq!(parse_int(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(
            error("incrby k 1x"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            error("decrby k -9223372036854775808"),
            "ERR decrement would overflow"
        );
        assert_eq!(error("incrbyfloat k abc"), "ERR value is not a valid float");
    }

    #[test]
    fn connection_commands_are_told_apart() {
        assert_eq!(
            parse("AUTH default pw"),
            Ok(Request::Connection(Connection::Auth {
                user: Some(b"default".to_vec()),
                password: b"pw".to_vec()
            }))
        );
        assert_eq!(
            parse("select 0"),
            Ok(Request::Connection(Connection::Select(0)))
        );
        assert_eq!(
            parse("client setinfo lib-name x"),
            Ok(Request::Connection(Connection::ClientOk))
        );
        assert_eq!(parse("flushall ASYNC"), Ok(Request::Data(Command::Flush)));
        assert_eq!(error("flushall later"), "ERR syntax error");
    }

    #[test]
    fn scan_options() {
        assert_eq!(
            parse("scan 5 MATCH a* COUNT 2"),
            Ok(Request::Data(Command::Scan {
                cursor: 5,
                pattern: Some(b"a*".to_vec()),
                count: 2
            }))
        );
        assert_eq!(error("scan x"), "ERR invalid cursor");
        assert_eq!(error("scan 0 COUNT 0"), "ERR syntax error");
    }
}
