//! [`Keys`]: a namespace's key-value store as typed calls, for the platform's own clients —
//! declared state, wasm components' `kv` imports and the REST API's `/kv` routes. Each builds
//! no `Command` and reads no `Reply`: the replies are decoded here, once, and an error reply
//! becomes [`KeysError::Refused`] with the store's own text (what it means is
//! `wisp_kv::Refusal`'s to say).
//!
//! A call takes its place in the store's line when its future is first polled, not when it is
//! made (`KvStore` orders at the call): every caller here awaits at once.

use std::sync::Arc;

use crate::{Bytes, Command, KvStore, Refusal, Reply, Swap};

/// Why a key-value call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeysError {
    /// The store refused the command: its error reply, code word included (`WRONGTYPE ...`,
    /// `ERR quota exceeded ...`). [`KeysError::refusal`] says what kind of refusal it is.
    #[error("{0}")]
    Refused(String),
    /// An expiry of 0 seconds, or one too long to be a time; nothing was sent to the store.
    #[error("invalid expire time")]
    BadExpiry,
    /// The key's type kept changing while [`Keys::entry`] read it.
    #[error("the key '{0}' kept changing type while it was read")]
    Unsettled(String),
    /// One key of a [`Keys::snapshot`] could not be read (the others are not returned).
    #[error("'{key}': {error}")]
    Key { key: String, error: Box<KeysError> },
    /// A reply the command never gives: a broken backend (logged when it is met).
    #[error("unexpected reply {0:?}")]
    Unexpected(Reply),
}

impl KeysError {
    /// What kind of refusal this is; anything but a refusal of the store is a failure.
    pub fn refusal(&self) -> Refusal {
        match self {
            KeysError::Refused(text) => Refusal::of(text),
            KeysError::Key { error, .. } => error.refusal(),
            KeysError::BadExpiry => Refusal::Invalid,
            KeysError::Unsettled(_) | KeysError::Unexpected(_) => Refusal::Failed,
        }
    }
}

fn unexpected(reply: Reply) -> KeysError {
    tracing::error!(?reply, "unexpected reply from the key-value store");
    KeysError::Unexpected(reply)
}

/// A reply that is not an error.
fn answer(reply: Reply) -> Result<Reply, KeysError> {
    match reply {
        Reply::Error(e) => Err(KeysError::Refused(e)),
        other => Ok(other),
    }
}

/// How long a key has left to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// There is no such key.
    Absent,
    /// It never expires.
    Never,
    /// It expires in this many seconds.
    Seconds(u64),
}

impl Ttl {
    /// TTL's integer reply: -2 no key, -1 no expiry.
    fn of(seconds: i64) -> Ttl {
        match seconds {
            -2 => Ttl::Absent,
            s => u64::try_from(s).map_or(Ttl::Never, Ttl::Seconds),
        }
    }

    /// Seconds left, `None` for a key that never expires (or is absent).
    pub fn seconds(self) -> Option<u64> {
        match self {
            Ttl::Seconds(s) => Some(s),
            Ttl::Absent | Ttl::Never => None,
        }
    }
}

/// A key's contents, of one of the store's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    String(Bytes),
    /// In list order.
    List(Vec<Bytes>),
    /// In no particular order.
    Set(Vec<Bytes>),
    /// Field and value pairs, in no particular order.
    Hash(Vec<(Bytes, Bytes)>),
}

impl Value {
    /// The type's name, as Redis's TYPE answers it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
        }
    }
}

/// One key read whole: its contents and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    pub ttl: Ttl,
}

/// The types [`Keys::entry`] reads, each with the command that reads its contents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    List,
    Set,
    Hash,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "list" => Kind::List,
            "set" => Kind::Set,
            "hash" => Kind::Hash,
            _ => return None,
        })
    }

    fn contents(self, key: Bytes) -> Command {
        match self {
            Kind::String => Command::Get(key),
            Kind::List => Command::LRange(key, 0, -1),
            Kind::Set => Command::SMembers(key),
            Kind::Hash => Command::HGetAll(key),
        }
    }
}

/// A namespace's key-value store as typed calls; cheap to clone.
#[derive(Clone)]
pub struct Keys {
    store: Arc<dyn KvStore>,
}

impl Keys {
    pub fn new(store: Arc<dyn KvStore>) -> Keys {
        Keys { store }
    }

    async fn execute(&self, namespace: &str, command: Command) -> Result<Reply, KeysError> {
        answer(self.store.execute(namespace, command).await)
    }

    /// Runs `commands` as one transaction; the replies, one per command.
    async fn transaction(
        &self,
        namespace: &str,
        commands: Vec<Command>,
    ) -> Result<Vec<Reply>, KeysError> {
        let expected = commands.len();
        match answer(self.store.transaction(namespace, commands).await)? {
            Reply::Array(Some(replies)) if replies.len() == expected => Ok(replies),
            other => Err(unexpected(other)),
        }
    }

    /// The string value of `key`; `None` when there is none.
    pub async fn get(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, KeysError> {
        match self.execute(namespace, Command::Get(bytes(key))).await? {
            Reply::Bulk(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    /// Sets `key` to `value`, expiring after `ttl_seconds` when given.
    pub async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        ttl_seconds: Option<u64>,
    ) -> Result<(), KeysError> {
        let command = Command::set(bytes(key), value, ttl_seconds).ok_or(KeysError::BadExpiry)?;
        self.execute(namespace, command).await.map(drop)
    }

    /// Deletes `key`; whether it existed.
    pub async fn delete(&self, namespace: &str, key: &str) -> Result<bool, KeysError> {
        match self
            .execute(namespace, Command::Del(vec![bytes(key)]))
            .await?
        {
            Reply::Integer(n) => Ok(n > 0),
            other => Err(unexpected(other)),
        }
    }

    /// Adds `by` to the integer in `key` (absent: 0); the new value.
    pub async fn incr(&self, namespace: &str, key: &str, by: i64) -> Result<i64, KeysError> {
        match self
            .execute(namespace, Command::IncrBy(bytes(key), by))
            .await?
        {
            Reply::Integer(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    /// Makes `key` expire in `seconds`; whether there was such a key.
    pub async fn expire(
        &self,
        namespace: &str,
        key: &str,
        seconds: u64,
    ) -> Result<bool, KeysError> {
        let command = Command::expire(bytes(key), seconds).ok_or(KeysError::BadExpiry)?;
        match self.execute(namespace, command).await? {
            Reply::Integer(n) => Ok(n != 0),
            other => Err(unexpected(other)),
        }
    }

    /// How long `key` has left.
    pub async fn ttl(&self, namespace: &str, key: &str) -> Result<Ttl, KeysError> {
        match self
            .execute(namespace, Command::Ttl(bytes(key), false))
            .await?
        {
            Reply::Integer(n) => Ok(Ttl::of(n)),
            other => Err(unexpected(other)),
        }
    }

    /// The keys that start with `prefix`, taken literally, in no particular order.
    pub async fn keys(&self, namespace: &str, prefix: &str) -> Result<Vec<Bytes>, KeysError> {
        let command = Command::keys_with_prefix(prefix.as_bytes());
        match self.execute(namespace, command).await? {
            Reply::Array(Some(items)) => Ok(bulk_items(items)),
            other => Err(unexpected(other)),
        }
    }

    /// How many keys the namespace holds.
    pub async fn count(&self, namespace: &str) -> Result<i64, KeysError> {
        match self.execute(namespace, Command::DbSize).await? {
            Reply::Integer(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    /// Deletes every key of the namespace; how many there were.
    pub async fn flush(&self, namespace: &str) -> Result<i64, KeysError> {
        let replies = self
            .transaction(namespace, vec![Command::DbSize, Command::Flush])
            .await?;
        match replies.as_slice() {
            [Reply::Integer(n), Reply::Simple(_)] => Ok(*n),
            [_, Reply::Error(e)] | [Reply::Error(e), _] => Err(KeysError::Refused(e.clone())),
            _ => Err(unexpected(Reply::Array(Some(replies)))),
        }
    }

    /// The string values of `keys` (`None`: absent) as one snapshot: no write falls between
    /// them. A key of another type is a [`KeysError::Key`] naming it.
    pub async fn snapshot(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Bytes>>, KeysError> {
        let gets = keys.iter().map(|k| Command::Get(bytes(k))).collect();
        let replies = self.transaction(namespace, gets).await?;
        keys.iter()
            .zip(replies)
            .map(|(key, reply)| match reply {
                Reply::Bulk(value) => Ok(value),
                Reply::Error(e) => Err(KeysError::Key {
                    key: key.clone(),
                    error: Box::new(KeysError::Refused(e)),
                }),
                other => Err(KeysError::Key {
                    key: key.clone(),
                    error: Box::new(unexpected(other)),
                }),
            })
            .collect()
    }

    /// Writes `swap.write` only if every key of `swap.expect` still holds the value given, in
    /// one atomic step: `Ok(false)`, with nothing written, when one changed.
    pub async fn swap(&self, namespace: &str, swap: Swap) -> Result<bool, KeysError> {
        self.store
            .swap(namespace, swap)
            .await
            .map_err(|reply| match reply {
                Reply::Error(e) => KeysError::Refused(e),
                other => unexpected(other),
            })
    }

    /// `key` read whole — its type, contents and expiry in one transaction — or `None` when
    /// there is no such key. The command that reads the contents depends on the type, so a key
    /// whose type changed between the guess and the read is read again, a few times.
    pub async fn entry(&self, namespace: &str, key: &str) -> Result<Option<Entry>, KeysError> {
        let mut guess = Kind::String;
        for _ in 0..3 {
            let commands = vec![
                Command::Type(bytes(key)),
                guess.contents(bytes(key)),
                Command::Ttl(bytes(key), false),
            ];
            let replies = self.transaction(namespace, commands).await?;
            let [Reply::Simple(name), contents, Reply::Integer(ttl)] = replies.as_slice() else {
                return Err(unexpected(Reply::Array(Some(replies))));
            };
            if name == "none" {
                return Ok(None);
            }
            let Some(kind) = Kind::of(name) else {
                return Err(unexpected(Reply::Simple(name.clone())));
            };
            if kind != guess {
                guess = kind;
                continue;
            }
            let value = match (kind, contents.clone()) {
                (_, Reply::Error(e)) => return Err(KeysError::Refused(e)),
                (Kind::String, Reply::Bulk(Some(value))) => Value::String(value),
                (Kind::List, Reply::Array(Some(items))) => Value::List(bulk_items(items)),
                (Kind::Set, Reply::Array(Some(items))) => Value::Set(bulk_items(items)),
                (Kind::Hash, Reply::Array(Some(items))) => {
                    let flat = bulk_items(items);
                    let pairs = flat
                        .chunks_exact(2)
                        .map(|pair| (pair[0].clone(), pair[1].clone()))
                        .collect();
                    Value::Hash(pairs)
                }
                (_, other) => return Err(unexpected(other)),
            };
            return Ok(Some(Entry {
                value,
                ttl: Ttl::of(*ttl),
            }));
        }
        Err(KeysError::Unsettled(key.to_string()))
    }
}

fn bytes(key: &str) -> Bytes {
    key.as_bytes().to_vec()
}

/// The bulk strings of an array reply (anything else in it is skipped).
fn bulk_items(items: Vec<Reply>) -> Vec<Bytes> {
    items
        .into_iter()
        .filter_map(|item| match item {
            Reply::Bulk(Some(b)) => Some(b),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
