//! The policies compared: Wisp's rule through the real function, the same rule without its
//! bound on hot spots, OpenWhisk's sharding balancer, the plain rendezvous order, and two
//! placements that ignore affinity.

use wisp_placement::{home, order, Invoker, Policy};

use crate::rng::Rng;
use crate::workload::Action;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Wisp,
    WispUnbounded,
    OpenWhisk,
    Rendezvous,
    LeastLoaded,
    Random,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Wisp,
        Kind::WispUnbounded,
        Kind::OpenWhisk,
        Kind::Rendezvous,
        Kind::LeastLoaded,
        Kind::Random,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Wisp => "wisp",
            Kind::WispUnbounded => "wisp, no hot-spot bound",
            Kind::OpenWhisk => "OpenWhisk modulo + coprime walk",
            Kind::Rendezvous => "HRW, home first",
            Kind::LeastLoaded => "least loaded",
            Kind::Random => "random",
        }
    }

    /// Whether it has homes (for the off-home and churn columns).
    pub fn has_homes(self) -> bool {
        !matches!(self, Kind::LeastLoaded | Kind::Random)
    }
}

pub struct Chooser {
    kind: Kind,
    policy: Policy,
    rng: Rng,
}

impl Chooser {
    /// `kind`, with `policy` as Wisp's bound on hot spots.
    pub fn new(kind: Kind, policy: Policy, seed: u64) -> Chooser {
        Chooser {
            kind,
            policy,
            rng: Rng::new(seed ^ 0xc0ffee),
        }
    }

    /// The invoker for one activation of `action`, and whether it is off the action's home.
    pub fn choose(&mut self, action: &Action, invokers: &[Invoker]) -> (usize, bool) {
        let request = &action.request;
        let need = request.memory_mb;
        let hrw_home = || home(request, invokers).expect("invokers");
        match self.kind {
            Kind::Wisp | Kind::WispUnbounded => {
                let policy = if self.kind == Kind::Wisp {
                    self.policy
                } else {
                    Policy {
                        hot_floor: f64::INFINITY,
                        ..self.policy
                    }
                };
                let placement = policy.place(request, invokers).expect("invokers");
                (placement.index, placement.rank > 0)
            }
            Kind::OpenWhisk => {
                let (home, step) = openwhisk_home_and_step(action, invokers.len());
                let mut at = home;
                for _ in 0..invokers.len() {
                    if invokers[at].fits(need) {
                        return (at, at != home);
                    }
                    at = (at + step) % invokers.len();
                }
                // "System is overloaded": a random invoker, forced.
                let at = self.rng.below(invokers.len());
                (at, at != home)
            }
            Kind::Rendezvous => {
                let order = order(request, invokers);
                let at = order
                    .iter()
                    .copied()
                    .find(|&i| invokers[i].fits(need))
                    .unwrap_or(order[0]);
                (at, at != order[0])
            }
            Kind::LeastLoaded => {
                let with_room = |i: &&Invoker| i.fits(need);
                let lightest = |set: &mut dyn Iterator<Item = (usize, &Invoker)>| {
                    set.min_by(|a, b| a.1.load_with(need).total_cmp(&b.1.load_with(need)))
                        .map(|(at, _)| at)
                };
                let mut fitting = invokers.iter().enumerate().filter(|(_, i)| with_room(i));
                let at = lightest(&mut fitting)
                    .or_else(|| lightest(&mut invokers.iter().enumerate()))
                    .expect("invokers");
                (at, at != hrw_home())
            }
            Kind::Random => {
                let fitting: Vec<usize> = (0..invokers.len())
                    .filter(|&i| invokers[i].fits(need))
                    .collect();
                let at = if fitting.is_empty() {
                    self.rng.below(invokers.len())
                } else {
                    fitting[self.rng.below(fitting.len())]
                };
                (at, at != hrw_home())
            }
        }
    }
}

/// OpenWhisk's `ShardingContainerPoolBalancer`: `(namespace.hashCode ^ fqn.hashCode).abs`,
/// home = hash mod n, step = one of the pairwise coprime numbers up to n, picked by the hash.
pub fn openwhisk_home_and_step(action: &Action, n: usize) -> (usize, usize) {
    let hash = (java_hash(&action.namespace) ^ java_hash(&action.name)).unsigned_abs() as usize;
    let steps = coprime_steps(n);
    (hash % n, steps[hash % steps.len()])
}

/// Each c in 1..=n coprime with n and with every step kept before it (n = 10: 1, 3, 7).
fn coprime_steps(n: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = Vec::new();
    for c in 1..=n {
        if gcd(c, n) == 1 && steps.iter().all(|&s| gcd(s, c) == 1) {
            steps.push(c);
        }
    }
    steps
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Java's `String.hashCode` (over UTF-16 units; these names are ASCII).
fn java_hash(text: &str) -> i32 {
    text.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}
