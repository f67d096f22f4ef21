//! Host uids for sandboxes: each live sandbox gets one of its own, which owns nothing on the
//! host, so two sandboxes can never signal, trace or read each other as "the same user".
//!
//! The range is chosen per server from its pid (servers on one host rarely share it) and sits
//! far above the uids of real users. A server that itself runs in a user namespace mapping
//! only some uids (a Kubernetes pod with `hostUsers: false` gets 65,536) can hand out only
//! those: it takes the upper half of the largest mapped extent, above the uids a container's
//! users have.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Sandboxes one server can have alive at once.
const PER_SERVER: u32 = 1 << 16;
/// The first uid of all ranges.
const BASE: u32 = 1 << 20;

pub(crate) struct Ids {
    first: u32,
    /// How many uids from `first` are this server's.
    count: u32,
    state: Mutex<State>,
}

struct State {
    next: u32,
    live: BTreeSet<u32>,
}

impl Ids {
    /// The range of server `pid`, among the uids this process's user namespace maps.
    pub(crate) fn for_server(pid: u32) -> Ids {
        let mapped = std::fs::read_to_string("/proc/self/uid_map")
            .map(|map| mapped_extents(&map))
            .unwrap_or_default();
        Ids::within(pid, &mapped)
    }

    /// The range of server `pid` given the mapped extents (`(first, count)` of uids this
    /// namespace can use); the whole uid space when none are known.
    fn within(pid: u32, mapped: &[(u32, u32)]) -> Ids {
        let largest = mapped.iter().copied().max_by_key(|&(_, count)| count);
        let (first, count) = match largest {
            Some((start, count)) if u64::from(count) < u64::from(BASE) + (1 << 30) => {
                (start + count / 2, count / 2)
            }
            _ => (BASE + (pid % (1 << 14)) * PER_SERVER, PER_SERVER),
        };
        Ids {
            first,
            count,
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
        for _ in 0..self.count {
            let n = state.next;
            state.next = (n + 1) % self.count;
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

/// The extents of `/proc/self/uid_map` (`inside outside count` per line), as `(inside,
/// count)`: the uids this namespace can use.
fn mapped_extents(map: &str) -> Vec<(u32, u32)> {
    map.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().map(str::parse::<u32>);
            let inside = fields.next()?.ok()?;
            let _outside = fields.next()?.ok()?;
            let count = fields.next()?.ok()?;
            Some((inside, count))
        })
        .collect()
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
    fn a_namespace_of_65536_uids_hands_out_its_upper_half() {
        // A Kubernetes pod with hostUsers: false.
        let mapped = mapped_extents("         0 1879048192      65536\n");
        assert_eq!(mapped, [(0, 65536)]);
        let ids = Ids::within(7, &mapped);
        assert_eq!(ids.setup(), 32768);
        let mut seen = BTreeSet::new();
        while let Some(uid) = ids.take() {
            assert!((32769..65536).contains(&uid), "{uid}");
            assert!(seen.insert(uid));
        }
        assert_eq!(seen.len(), 32767, "every uid of the half but the setup one");
    }

    #[test]
    fn the_whole_uid_space_keeps_the_ranges_far_above_users() {
        let mapped = mapped_extents("         0          0 4294967295\n");
        let ids = Ids::within(7, &mapped);
        assert_eq!(ids.setup(), BASE + 7 * PER_SERVER);
        assert_eq!(Ids::within(7, &[]).setup(), BASE + 7 * PER_SERVER);
    }

    #[test]
    fn every_range_fits_in_a_uid() {
        let last = Ids::within(u32::MAX, &[]).first as u64 + PER_SERVER as u64;
        assert!(last < u32::MAX as u64 - 1);
    }
}
