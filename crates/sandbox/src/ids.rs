//! Host uids for sandboxes: each live sandbox gets one of its own, which owns nothing on the
//! host, so two sandboxes can never signal, trace or read each other as "the same user".
//!
//! The range is chosen per server from its pid (servers on one host rarely share it) and sits
//! far above the uids of real users.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Sandboxes one server can have alive at once.
const PER_SERVER: u32 = 1 << 16;
/// The first uid of all ranges.
const BASE: u32 = 1 << 20;

pub(crate) struct Ids {
    first: u32,
    state: Mutex<State>,
}

struct State {
    next: u32,
    live: BTreeSet<u32>,
}

impl Ids {
    pub(crate) fn for_server(pid: u32) -> Ids {
        Ids {
            first: BASE + (pid % (1 << 14)) * PER_SERVER,
            state: Mutex::new(State {
                next: 1,
                live: BTreeSet::from([0]),
            }),
        }
    }

    /// The uid that is root inside every sandbox of this server while it is set up (and of
    /// nothing else): the first of the range, never handed out by [`take`](Self::take).
    pub(crate) fn setup(&self) -> u32 {
        self.first
    }

    /// A uid no live sandbox of this server has.
    pub(crate) fn take(&self) -> Option<u32> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..PER_SERVER {
            let n = state.next;
            state.next = (n + 1) % PER_SERVER;
            if state.live.insert(n) {
                return Some(self.first + n);
            }
        }
        None
    }

    pub(crate) fn give_back(&self, uid: u32) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.live.remove(&(uid - self.first));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_uids_are_never_handed_out_twice() {
        let ids = Ids::for_server(7);
        let a = ids.take().unwrap();
        let b = ids.take().unwrap();
        assert_ne!(a, b);
        assert!(a >= BASE + 7 * PER_SERVER);
        ids.give_back(a);
        let c = ids.take().unwrap();
        assert_ne!(c, b);
    }

    #[test]
    fn every_range_fits_in_a_uid() {
        let last = Ids::for_server(u32::MAX).first as u64 + PER_SERVER as u64;
        assert!(last < u32::MAX as u64 - 1);
    }
}
