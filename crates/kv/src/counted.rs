//! A [`KvStore`] that tells an observer how each command went (for the server's metrics),
//! without the key-value crate knowing what observes it.
//!
//! Each call is passed to the inner store at once, so commands keep the place in line
//! [`KvStore::execute`] promises; only the reply is waited for here.

use std::sync::Arc;

use crate::{BoxFuture, Command, KvStore, Reply, Swap};

/// Called with how many commands succeeded and how many failed.
pub type Observer = Arc<dyn Fn(u64, u64) + Send + Sync>;

pub struct Counted {
    inner: Arc<dyn KvStore>,
    observe: Observer,
}

impl Counted {
    pub fn new(inner: Arc<dyn KvStore>, observe: Observer) -> Counted {
        Counted { inner, observe }
    }
}

/// Succeeded and failed commands in `reply` to `commands` commands.
fn tally(reply: &Reply, commands: u64) -> (u64, u64) {
    match reply {
        Reply::Error(_) => (0, commands),
        Reply::Array(Some(replies)) if commands > 1 => {
            let failed = replies
                .iter()
                .filter(|r| matches!(r, Reply::Error(_)))
                .count() as u64;
            (commands.saturating_sub(failed), failed)
        }
        _ => (commands, 0),
    }
}

impl KvStore for Counted {
    fn execute(&self, namespace: &str, command: Command) -> BoxFuture<'_, Reply> {
        let reply = self.inner.execute(namespace, command);
        Box::pin(async move {
            let reply = reply.await;
            let (ok, failed) = tally(&reply, 1);
            (self.observe)(ok, failed);
            reply
        })
    }

    fn transaction(&self, namespace: &str, commands: Vec<Command>) -> BoxFuture<'_, Reply> {
        let count = commands.len() as u64;
        let reply = self.inner.transaction(namespace, commands);
        Box::pin(async move {
            let reply = reply.await;
            let (ok, failed) = tally(&reply, count);
            (self.observe)(ok, failed);
            reply
        })
    }

    fn swap(&self, namespace: &str, swap: Swap) -> BoxFuture<'_, Result<bool, Reply>> {
        let result = self.inner.swap(namespace, swap);
        Box::pin(async move {
            let result = result.await;
            if result.is_ok() {
                (self.observe)(1, 0);
            } else {
                (self.observe)(0, 1);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_inside_a_transaction_are_counted_one_by_one() {
        let replies = Reply::Array(Some(vec![
            Reply::Simple("OK".into()),
            Reply::Error("WRONGTYPE".into()),
            Reply::Integer(1),
        ]));
        assert_eq!(tally(&replies, 3), (2, 1));
        assert_eq!(tally(&Reply::Error("ERR".into()), 3), (0, 3));
        assert_eq!(tally(&Reply::Integer(4), 1), (1, 0));
        assert_eq!(
            tally(&Reply::Array(Some(vec![])), 1),
            (1, 0),
            "KEYS of nothing"
        );
    }
}
