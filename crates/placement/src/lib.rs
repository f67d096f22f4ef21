//! Placement: which invoker runs an activation, decided from what a controller knows of the
//! live invokers (their heartbeats plus what it placed since). A pure function of its inputs,
//! with no IO, no clock and no randomness: the controller's bus client calls it per
//! activation, and the simulation (`examples/simulate`) replays workloads through it.
//!
//! # The rule
//!
//! Every action orders the invokers by rendezvous hashing (HRW): each invoker scores
//! `hash(action, invoker id)` and the highest comes first. The first is the action's *home*.
//! Every controller computes the same order, and when an invoker joins or leaves only the
//! actions whose home it is (about 1/n of them) change home, where OpenWhisk's `hash % n`
//! moves almost every home when an invoker joins. The order is keyed by the action's name,
//! not its revision: an update keeps its home and so its declared files.
//!
//! An invoker is *cool* for a request when the activation fits in the memory it has left and
//! its load afterwards (memory in use over memory offered) stays within the bound
//! `max(hot_floor, hot_factor × the cluster's mean load afterwards)`; with `files_hot_factor`
//! instead it is *cool enough for its files*. The first of these that exists wins:
//!
//! 1. **warm**: a cool invoker holding an idle warm instance of this revision, earliest in
//!    the order;
//! 2. **files**: an invoker cool enough for its files caching the most of the action's
//!    declared files (at least one), earliest in the order among equals;
//! 3. **order**: the first cool invoker in the order, the home when it is cool;
//! 4. **least loaded**: every invoker with room is hot, so the least loaded of them;
//! 5. **overloaded**: none has room, so the least loaded of all is named as the fallback and
//!    the caller decides (the invoker queues, or the activation is refused).
//!
//! No live invoker is [`NoInvokers`]. Ties in load go to the earlier invoker in the order.
//!
//! # Why this rule
//!
//! OpenWhisk walks from the home to the first invoker with a free slot of its 1/N share:
//! busy actions sharing a home evict each other's warm containers while other invokers idle,
//! and each controller throttles below the cluster's real capacity. Here capacity is real
//! memory in MB from heartbeats, and hot spots are bounded the way "consistent hashing with
//! bounded loads" (Mirrokni, Thorup and Zadimoghaddam, 2018) does: an invoker past
//! `hot_factor` times the mean is skipped, so no invoker carries much more than its share,
//! yet every action still goes to the same few invokers in the same order. The floor keeps a
//! lightly loaded cluster from spreading work for nothing: below it nothing is hot. Declared
//! files get a looser bound than warm instances because missing them costs more: a fetch
//! moves up to hundreds of MB from object storage, while a cold start from a stem cell costs
//! about 10 ms plus the function's own init (in the simulation, one bound for both lost 11
//! points of file-cache hits at half load). The alternative was a window of the first k
//! invokers, taking the least loaded with room: it gives up affinity even when the home is
//! idle, and its k invokers can all be hot at once.
//!
//! Warm instances are looked for on every invoker, not only near the home: once a busy action
//! has spilled over, its instances elsewhere are as good as the home's. Homes are not
//! weighted by memory offered (weighted HRW needs a logarithm, whose last bit is not fixed
//! across platforms); uneven invokers are evened out by the bound, which compares shares.
//!
//! Each controller sees other controllers' placements only at the next heartbeat; the rule
//! tolerates that because an invoker that is fuller than its view queues rather than fails.
//!
//! This crate must not know the bus, the clock or the entity model: the caller turns an
//! action into a [`Request`] and heartbeats into [`Invoker`]s.

mod hash;
mod view;

use std::cmp::Ordering;

pub use hash::{file_key, key};
pub use view::{Digest, Invoker, Request};

/// The bound on hot spots (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Below this load (share of memory in use) an invoker is never hot.
    pub hot_floor: f64,
    /// An invoker whose load would pass this multiple of the cluster's mean is hot.
    pub hot_factor: f64,
    /// The same, for an invoker that caches the action's declared files.
    pub files_hot_factor: f64,
}

impl Default for Policy {
    /// The values the simulation chose: see `docs/CLUSTER.md`.
    fn default() -> Policy {
        Policy {
            hot_floor: 0.5,
            hot_factor: 1.25,
            files_hot_factor: 1.5,
        }
    }
}

/// Where an activation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The chosen invoker, as an index into the slice given.
    pub index: usize,
    /// Its position in the action's order: 0 is the home.
    pub rank: usize,
    pub reason: Reason,
}

/// Which step of the rule chose the invoker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Warm,
    Files,
    Order,
    LeastLoaded,
    /// No invoker has room; the least loaded is the fallback.
    Overloaded,
}

/// There is no live invoker to place on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoInvokers;

impl std::fmt::Display for NoInvokers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no invokers are available")
    }
}

impl std::error::Error for NoInvokers {}

/// [`Policy::place`] with the default policy.
pub fn place(request: &Request, invokers: &[Invoker]) -> Result<Placement, NoInvokers> {
    Policy::default().place(request, invokers)
}

impl Policy {
    /// Chooses the invoker for one activation of `request` (see the crate docs). Linear in
    /// the number of invokers and allocation free.
    pub fn place(&self, request: &Request, invokers: &[Invoker]) -> Result<Placement, NoInvokers> {
        if invokers.is_empty() {
            return Err(NoInvokers);
        }
        let need = request.memory_mb;
        let mean = mean_load(need, invokers);
        let within = |factor: f64| {
            let bound = self.hot_floor.max(factor * mean);
            move |i: &Invoker| i.fits(need) && i.load_with(need) <= bound
        };
        let cool = within(self.hot_factor);
        let cool_for_files = within(self.files_hot_factor);

        let warm = best(request, invokers, |i| {
            (cool(i) && i.warm.contains(request.revision)).then_some(())
        });
        let chosen = warm.map(|at| (at, Reason::Warm)).or_else(|| {
            if request.files.is_empty() {
                return None;
            }
            best(request, invokers, |i| {
                let cached = request.files.iter().filter(|&&f| i.files.contains(f));
                let cached = cached.count();
                (cached > 0 && cool_for_files(i)).then_some(cached)
            })
            .map(|at| (at, Reason::Files))
        });
        let chosen = chosen
            .or_else(|| {
                best(request, invokers, |i| cool(i).then_some(())).map(|at| (at, Reason::Order))
            })
            .or_else(|| {
                best(request, invokers, |i| {
                    i.fits(need).then(|| Lighter(i.load_with(need)))
                })
                .map(|at| (at, Reason::LeastLoaded))
            });
        let (index, reason) = chosen.unwrap_or_else(|| {
            let at = best(request, invokers, |i| Some(Lighter(i.load_with(0))));
            (at.expect("invokers is not empty"), Reason::Overloaded)
        });
        Ok(Placement {
            index,
            rank: rank(request, invokers, index),
            reason,
        })
    }
}

/// The cluster's load once `need` MB more is placed.
fn mean_load(need: u64, invokers: &[Invoker]) -> f64 {
    let offered: u64 = invokers.iter().map(|i| i.memory_mb).sum();
    let used: u64 = invokers.iter().map(|i| i.used_mb).sum();
    if offered == 0 {
        return f64::INFINITY;
    }
    used.saturating_add(need) as f64 / offered as f64
}

/// The action's order over `invokers`, as indexes: the home first.
pub fn order(request: &Request, invokers: &[Invoker]) -> Vec<usize> {
    let mut indexes: Vec<usize> = (0..invokers.len()).collect();
    indexes.sort_by(|&a, &b| precedence(request, &invokers[a], &invokers[b]));
    indexes
}

/// The action's home: the first invoker in its order.
pub fn home(request: &Request, invokers: &[Invoker]) -> Option<usize> {
    best(request, invokers, |_| Some(()))
}

/// `Less` when `a` comes before `b` in the request's order: the higher score, and on equal
/// scores (a 64-bit collision) the smaller id, so the input's order never matters.
fn precedence(request: &Request, a: &Invoker, b: &Invoker) -> Ordering {
    let score = |i: &Invoker| hash::score(request.action, i.id_key());
    by_score((score(a), a), (score(b), b))
}

fn by_score((a_score, a): (u64, &Invoker), (b_score, b): (u64, &Invoker)) -> Ordering {
    b_score.cmp(&a_score).then_with(|| a.id().cmp(b.id()))
}

/// The invoker with the greatest `key` (those without one are out), the earliest in the
/// request's order among equals.
fn best<K: Ord>(
    request: &Request,
    invokers: &[Invoker],
    key: impl Fn(&Invoker) -> Option<K>,
) -> Option<usize> {
    let mut best: Option<(usize, K, u64)> = None;
    for (at, invoker) in invokers.iter().enumerate() {
        let Some(k) = key(invoker) else { continue };
        let score = hash::score(request.action, invoker.id_key());
        let better = match &best {
            None => true,
            Some((held, held_key, held_score)) => match k.cmp(held_key) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => {
                    by_score((score, invoker), (*held_score, &invokers[*held])).is_lt()
                }
            },
        };
        if better {
            best = Some((at, k, score));
        }
    }
    best.map(|(at, _, _)| at)
}

/// How many invokers come before `index` in the request's order.
fn rank(request: &Request, invokers: &[Invoker], index: usize) -> usize {
    let chosen = &invokers[index];
    let chosen = (hash::score(request.action, chosen.id_key()), chosen);
    invokers
        .iter()
        .filter(|i| by_score((hash::score(request.action, i.id_key()), i), chosen).is_lt())
        .count()
}

/// A load ordered so that the lighter is the greater.
#[derive(PartialEq)]
struct Lighter(f64);

impl Eq for Lighter {}

impl PartialOrd for Lighter {
    fn partial_cmp(&self, other: &Lighter) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Lighter {
    fn cmp(&self, other: &Lighter) -> Ordering {
        other.0.total_cmp(&self.0)
    }
}

#[cfg(test)]
mod tests;
