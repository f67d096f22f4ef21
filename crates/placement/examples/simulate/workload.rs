//! The mixed workload: actions with Zipf popularity, in namespaces whose data files some of
//! them declare, each with its memory limit and a mean duration; arrivals are Poisson at the
//! rate that makes the wanted share of the cluster's memory busy on average.

use wisp_placement::{file_key, Request};

use crate::rng::{Rng, Zipf};

pub const ACTIONS: usize = 2000;
const ZIPF_S: f64 = 1.1;
const NAMESPACES: usize = 200;
const FILES_PER_NAMESPACE: usize = 4;
/// The share of actions that declare files (one or two of their namespace's).
const WITH_FILES: f64 = 0.3;

pub struct Action {
    /// The fully qualified name.
    pub name: String,
    pub namespace: String,
    pub request: Request,
    /// Mean seconds per run; each run's duration is exponential around it.
    pub mean_s: f64,
    /// Indexes into `Workload::files`.
    pub files: Vec<usize>,
}

pub struct File {
    pub key: u64,
    pub size_mb: u64,
}

pub struct Workload {
    pub actions: Vec<Action>,
    pub files: Vec<File>,
    popularity: Zipf,
    /// Arrivals per second.
    rate: f64,
    rng: Rng,
}

/// One activation to place.
pub struct Arrival {
    pub at: f64,
    pub action: usize,
    pub duration: f64,
}

impl Workload {
    /// The workload of `seed` (names, sizes, popularity) loading `capacity_mb` to `load`.
    pub fn new(seed: u64, load: f64, capacity_mb: u64) -> Workload {
        let mut rng = Rng::new(seed);
        let files: Vec<File> = (0..NAMESPACES * FILES_PER_NAMESPACE)
            .map(|f| File {
                key: file_key(
                    &namespace(seed, f / FILES_PER_NAMESPACE),
                    &format!("data-{f}"),
                ),
                size_mb: rng.log_uniform(5.0, 200.0) as u64,
            })
            .collect();
        let actions: Vec<Action> = (0..ACTIONS)
            .map(|a| {
                let ns = rng.below(NAMESPACES);
                let namespace = namespace(seed, ns);
                let name = format!("/{namespace}/action-{a}");
                let memory_mb = match rng.unit() {
                    u if u < 0.3 => 128,
                    u if u < 0.8 => 256,
                    _ => 512,
                };
                let mut files = Vec::new();
                if rng.unit() < WITH_FILES {
                    for _ in 0..1 + rng.below(2) {
                        let f = ns * FILES_PER_NAMESPACE + rng.below(FILES_PER_NAMESPACE);
                        if !files.contains(&f) {
                            files.push(f);
                        }
                    }
                }
                let request = Request::new(&name, &format!("{name}@0.0.1#{seed}"), memory_mb);
                let request =
                    request.with_files(&namespace, files.iter().map(|&f| format!("data-{f}")));
                Action {
                    name,
                    namespace,
                    request,
                    mean_s: rng.log_uniform(0.1, 2.0),
                    files,
                }
            })
            .collect();
        let popularity = Zipf::new(ACTIONS, ZIPF_S);
        let busy_per_arrival: f64 = actions
            .iter()
            .enumerate()
            .map(|(k, a)| popularity.weight(k) * a.request.memory_mb as f64 * a.mean_s)
            .sum();
        Workload {
            rate: load * capacity_mb as f64 / busy_per_arrival,
            actions,
            files,
            popularity,
            rng: Rng::new(seed ^ 0x5eed),
        }
    }

    /// The next activation, `after` seconds.
    pub fn next(&mut self, after: f64) -> Arrival {
        let at = after + self.rng.exponential(1.0 / self.rate);
        let action = self.popularity.sample(&mut self.rng);
        let duration = self.rng.exponential(self.actions[action].mean_s);
        Arrival {
            at,
            action,
            duration,
        }
    }

    /// An action drawn by popularity (for timing the placement function).
    pub fn draw(&mut self) -> usize {
        self.popularity.sample(&mut self.rng)
    }
}

fn namespace(seed: u64, ns: usize) -> String {
    format!("ns-{seed}-{ns}")
}
