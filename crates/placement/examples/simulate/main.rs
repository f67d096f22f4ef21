//! Replays a mixed workload through placement policies and prints what each achieves.
//!
//! `cargo run -p wisp-placement --example simulate --release [-- --seeds 8 --activations 100000]`
//!
//! 10 model invokers of 4 GB, each with a warm pool kept by least recent use in the memory
//! its running activations leave, and a 1 GB declared-file cache. 2000 actions with Zipf(1.1)
//! popularity, 128–512 MB, mean durations log-uniform in 0.1–2 s (each run exponential
//! around its action's mean); 30 % declare one or two of their namespace's four files
//! (5–200 MB). Poisson arrivals at 20 %, 50 % and 80 % of the cluster's memory. Every policy
//! sees the same arrivals; one controller with exact views (no heartbeat lag). The first 20 %
//! of each run fills the pools and is not counted.
//!
//! Columns, medians over seeds ([min–max] where shown): *warm hits*, activations that found
//! an idle instance of their revision; *file-cache hits*, declared-file uses found cached;
//! *off home*, activations placed elsewhere than the first invoker of the policy's own order;
//! *max/mean*, the busiest invoker's time-averaged memory in use over the mean's; *over cap*,
//! activations started on an invoker without room (it would queue them); *moved/join* and
//! *moved/leave*, the share of homes that change when an 11th invoker joins and when one of
//! the 10 leaves. Last, the cost of one call of the real placement function, timed in the
//! same run over the views the 80 % run ended with (and over 100 made-up invokers).

mod cluster;
mod policies;
mod rng;
mod workload;

use std::hint::black_box;
use std::time::Instant;

use wisp_placement::{home, Invoker, Policy};

use cluster::Cluster;
use policies::{openwhisk_home_and_step, Chooser, Kind};
use rng::Rng;
use workload::{Workload, ACTIONS};

const INVOKERS: usize = 10;
const MEMORY_MB: u64 = 4096;
const FILE_CACHE_MB: u64 = 1024;
/// 20 % shows what the floor of the hot-spot bound is for.
const LOADS: [f64; 3] = [0.2, 0.5, 0.8];

struct Args {
    seeds: u64,
    activations: usize,
    /// Wisp's bound on hot spots, to try other values than the default.
    policy: Policy,
}

fn args() -> Args {
    let mut args = Args {
        seeds: 8,
        activations: 100_000,
        policy: Policy::default(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value: Option<f64> = given.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--seeds", Some(v)) => args.seeds = v as u64,
            ("--activations", Some(v)) => args.activations = v as usize,
            ("--hot-floor", Some(v)) => args.policy.hot_floor = v,
            ("--hot-factor", Some(v)) => args.policy.hot_factor = v,
            ("--files-hot-factor", Some(v)) => args.policy.files_hot_factor = v,
            _ => {
                eprintln!(
                    "usage: simulate [--seeds N] [--activations N] [--hot-floor F] [--hot-factor F] \
                     [--files-hot-factor F]"
                );
                std::process::exit(2);
            }
        }
    }
    args
}

/// What one policy achieved on one seed's workload at one load.
#[derive(Clone, Copy, Default)]
struct Run {
    warm: f64,
    files: f64,
    off_home: f64,
    max_over_mean: f64,
    over_capacity: f64,
}

/// The share of homes that change when an invoker joins and when one leaves.
#[derive(Clone, Copy)]
struct Churn {
    join: f64,
    leave: f64,
}

fn main() {
    let args = args();
    let began = Instant::now();
    // Per load, per policy, per seed.
    let mut runs = vec![vec![Vec::new(); Kind::ALL.len()]; LOADS.len()];
    // Per seed: the rendezvous order's and OpenWhisk's.
    let mut churn = Vec::new();
    let (mut cost_10, mut cost_100) = (Vec::new(), Vec::new());
    for seed in 1..=args.seeds {
        for (l, &load) in LOADS.iter().enumerate() {
            for (k, &kind) in Kind::ALL.iter().enumerate() {
                let (run, cluster, workload) = simulate(seed, load, kind, &args);
                runs[l][k].push(run);
                if kind == Kind::Wisp && l == LOADS.len() - 1 {
                    cost_10.push(cost(&args.policy, &cluster.views(), workload));
                    let workload = Workload::new(seed, load, MEMORY_MB * 100);
                    let views = synthetic_views(100, seed, &workload);
                    cost_100.push(cost(&args.policy, &views, workload));
                }
            }
        }
        churn.push(homes_moved(seed));
    }

    println!(
        "placement simulation: {INVOKERS} invokers x {MEMORY_MB} MB, {ACTIONS} actions, \
         {} activations per run, {} seeds, wisp's hot floor {}, factor {} and files' {} \
         ({:.0} s)",
        args.activations,
        args.seeds,
        args.policy.hot_floor,
        args.policy.hot_factor,
        args.policy.files_hot_factor,
        began.elapsed().as_secs_f64()
    );
    for (load, runs) in LOADS.iter().zip(&runs) {
        print_table(*load, runs, &churn);
    }
    println!(
        "\nwisp placement cost: {:.0} ns per call with 10 invokers, {:.0} ns with 100 \
         (median of seeds)",
        median(cost_10),
        median(cost_100)
    );
}

/// One load's rows: `runs` per policy, per seed; `churn` per seed, (rendezvous, OpenWhisk).
fn print_table(load: f64, runs: &[Vec<Run>], churn: &[(Churn, Churn)]) {
    println!("\nload {:.0} %", load * 100.0);
    println!(
        "{:<32} {:>18} {:>18} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "policy",
        "warm hits",
        "file-cache hits",
        "off home",
        "max/mean",
        "over cap",
        "moved/join",
        "moved/leave"
    );
    for (kind, runs) in Kind::ALL.iter().zip(runs) {
        let column = |f: fn(&Run) -> f64| runs.iter().map(f).collect::<Vec<_>>();
        let homes = |f: fn(&Churn) -> f64| {
            let values = churn.iter().map(|(hrw, openwhisk)| match kind {
                Kind::OpenWhisk => f(openwhisk),
                _ => f(hrw),
            });
            percent(median(values.collect()))
        };
        let none = || "—".to_owned();
        let (off_home, join, leave) = if kind.has_homes() {
            (
                percent(median(column(|r| r.off_home))),
                homes(|c| c.join),
                homes(|c| c.leave),
            )
        } else {
            (none(), none(), none())
        };
        println!(
            "{:<32} {:>18} {:>18} {:>9} {:>9.2} {:>9} {:>11} {:>11}",
            kind.label(),
            with_range(column(|r| r.warm)),
            with_range(column(|r| r.files)),
            off_home,
            median(column(|r| r.max_over_mean)),
            percent(median(column(|r| r.over_capacity))),
            join,
            leave,
        );
    }
}

/// Replays `activations` arrivals of seed's workload at `load` through `kind`.
fn simulate(seed: u64, load: f64, kind: Kind, args: &Args) -> (Run, Cluster, Workload) {
    let activations = args.activations;
    let mut workload = Workload::new(seed, load, MEMORY_MB * INVOKERS as u64);
    let mut cluster = Cluster::new(INVOKERS, MEMORY_MB, FILE_CACHE_MB);
    let mut views: Vec<Invoker> = cluster.views();
    let mut chooser = Chooser::new(kind, args.policy, seed);
    let warm_up = activations / 5;
    let (mut warm, mut off_home, mut over, mut file_hits, mut file_refs) = (0, 0, 0, 0, 0);
    let mut now = 0.0;
    for n in 0..activations {
        let arrival = workload.next(now);
        now = arrival.at;
        cluster.advance(now);
        if n == warm_up {
            cluster.measure_from(now);
        }
        for (view, host) in views.iter_mut().zip(&cluster.hosts) {
            view.clone_from(&host.view);
        }
        let action = &workload.actions[arrival.action];
        let (at, off) = chooser.choose(action, &views);
        let start = cluster.start(at, action, &workload.files, now, arrival.duration);
        if n >= warm_up {
            warm += usize::from(start.warm);
            off_home += usize::from(off);
            over += usize::from(start.over_capacity);
            file_hits += start.file_hits;
            file_refs += action.files.len();
        }
    }
    let counted = (activations - warm_up) as f64;
    let run = Run {
        warm: warm as f64 / counted,
        files: file_hits as f64 / file_refs.max(1) as f64,
        off_home: off_home as f64 / counted,
        max_over_mean: cluster.max_over_mean(now),
        over_capacity: over as f64 / counted,
    };
    (run, cluster, workload)
}

/// Homes moved when an 11th invoker joins and when one of 10 leaves (each in turn, averaged),
/// for the rendezvous order and for OpenWhisk's.
fn homes_moved(seed: u64) -> (Churn, Churn) {
    let workload = Workload::new(seed, 0.5, MEMORY_MB);
    let actions = &workload.actions;
    let views = |n: usize| -> Vec<Invoker> {
        (0..n)
            .map(|i| Invoker::new(format!("invoker-{i}"), MEMORY_MB))
            .collect()
    };
    let share = |moved: &dyn Fn(&workload::Action) -> bool| {
        actions.iter().filter(|a| moved(a)).count() as f64 / actions.len() as f64
    };
    let hrw_home =
        |a: &workload::Action, v: &[Invoker]| v[home(&a.request, v).unwrap()].id().to_owned();
    let ow_home = |a: &workload::Action, n: usize| openwhisk_home_and_step(a, n).0;

    let ten = views(INVOKERS);
    let eleven = views(INVOKERS + 1);
    let (mut hrw_leave, mut ow_leave) = (0.0, 0.0);
    for gone in 0..INVOKERS {
        let rest: Vec<Invoker> = ten
            .iter()
            .filter(|i| i.id() != ten[gone].id())
            .cloned()
            .collect();
        hrw_leave += share(&|a| hrw_home(a, &ten) != hrw_home(a, &rest));
        // OpenWhisk keeps a dead invoker's index and steps over it: only its homes move.
        ow_leave += share(&|a| ow_home(a, INVOKERS) == gone);
    }
    let n = INVOKERS as f64;
    (
        Churn {
            join: share(&|a| hrw_home(a, &ten) != hrw_home(a, &eleven)),
            leave: hrw_leave / n,
        },
        Churn {
            join: share(&|a| ow_home(a, INVOKERS) != ow_home(a, INVOKERS + 1)),
            leave: ow_leave / n,
        },
    )
}

/// Nanoseconds per `place` call over `views`, for actions drawn by popularity: the median of
/// five passes.
fn cost(policy: &Policy, views: &[Invoker], mut workload: Workload) -> f64 {
    let draws: Vec<usize> = (0..100_000).map(|_| workload.draw()).collect();
    let mut passes: Vec<f64> = (0..5)
        .map(|_| {
            let began = Instant::now();
            for &a in &draws {
                black_box(
                    policy
                        .place(black_box(&workload.actions[a].request), views)
                        .ok(),
                );
            }
            began.elapsed().as_nanos() as f64 / draws.len() as f64
        })
        .collect();
    passes.sort_by(f64::total_cmp);
    passes[passes.len() / 2]
}

/// `n` invokers with random loads, each holding warm instances and files of popular actions.
fn synthetic_views(n: usize, seed: u64, workload: &Workload) -> Vec<Invoker> {
    let mut rng = Rng::new(seed);
    let mut draws = Workload::new(seed, 0.5, MEMORY_MB);
    (0..n)
        .map(|i| {
            let mut view = Invoker::new(format!("invoker-{i}"), MEMORY_MB);
            view.used_mb = rng.below(MEMORY_MB as usize) as u64;
            for _ in 0..16 {
                let action = &workload.actions[draws.draw()];
                view.warm.add(action.request.revision_key());
                for &key in action.request.file_keys() {
                    view.files.add(key);
                }
            }
            view
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

fn with_range(values: Vec<f64>) -> String {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.1} % [{:.0}–{:.0}]",
        median(values) * 100.0,
        low * 100.0,
        high * 100.0
    )
}
