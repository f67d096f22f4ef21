//! The Lua script (`wisp.lua`) and the requests that call it. Pure.
//!
//! Every call is `EVALSHA <sha> 3 <used> <index> <swept> <mode> <namespace> <quota> ...`: the
//! three bookkeeping keys share the namespace's hash tag with its data keys. The script is
//! loaded (`SCRIPT LOAD`) on every new upstream connection, so EVALSHA finds it after a Redis
//! restart too.

use crate::resp::{encode_request, Bytes};
use crate::Swap;

pub const SOURCE: &str = include_str!("wisp.lua");

/// How to call the script for one namespace.
pub struct Call<'a> {
    pub sha: &'a str,
    /// What every key starts with: `wisp`, or `wisp:<cluster>`.
    pub root: &'a str,
    pub namespace: &'a str,
    pub quota: usize,
}

impl Call<'_> {
    fn head(&self, mode: &str) -> Vec<Bytes> {
        let (root, ns) = (self.root, self.namespace);
        vec![
            b"EVALSHA".to_vec(),
            self.sha.as_bytes().to_vec(),
            b"3".to_vec(),
            format!("{root}:{{{ns}}}#used").into_bytes(),
            format!("{root}:{{{ns}}}#keys").into_bytes(),
            format!("{root}:{{{ns}}}#swept").into_bytes(),
            mode.as_bytes().to_vec(),
            ns.as_bytes().to_vec(),
            self.quota.to_string().into_bytes(),
        ]
    }

    fn encode(args: &[Bytes]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_request(args, &mut out);
        out
    }

    /// Runs `commands` (Redis commands, keys prefixed) in order, atomically: the reply is
    /// the array of their replies.
    pub fn run(&self, commands: &[Vec<Bytes>]) -> Vec<u8> {
        let mut args = self.head("run");
        for argv in commands {
            args.push(argv.len().to_string().into_bytes());
            args.extend(argv.iter().cloned());
        }
        Self::encode(&args)
    }

    /// Replies 1 (written), 0 (a key changed: nothing written) or an error.
    pub fn swap(&self, swap: &Swap) -> Vec<u8> {
        let mut args = self.head("swap");
        for list in [&swap.expect, &swap.write] {
            args.push(list.len().to_string().into_bytes());
            for (key, value) in list {
                args.push(key.clone());
                args.push(if value.is_some() { b"1" } else { b"0" }.to_vec());
                args.push(value.clone().unwrap_or_default());
            }
        }
        Self::encode(&args)
    }
}

/// A read sent as it is.
pub fn direct(argv: &[Bytes]) -> Vec<u8> {
    Call::encode(argv)
}

/// Whether `namespace` can be a hash tag: a brace in it would end the tag early and let two
/// namespaces' prefixes overlap. Wisp's entity names never hold one.
pub fn valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty() && !namespace.contains(['{', '}'])
}
