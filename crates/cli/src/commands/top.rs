//! `wisp top`: a live view of a server's metrics for its operator, read from `/metrics`
//! (`--metrics-listen` on the server, loopback by default, so this runs on the server's
//! machine or through a tunnel).
//!
//! Each frame scrapes twice, `--interval` apart, and shows per namespace the activations, their
//! rate, errors and initialised (cold or stem-cell) starts; per kind the run-time p50 and p99
//! estimated from the histogram's buckets; the process pool and the memory it reserves; and
//! refusals by a namespace's limits. `--once` prints one frame and exits (for scripts).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::output::{table, Printer};

#[derive(clap::Args, Debug)]
pub struct TopArgs {
    /// The server's metrics endpoint
    #[arg(
        long,
        env = "WISP_METRICS_URL",
        default_value = "http://127.0.0.1:9184/metrics"
    )]
    pub metrics_url: String,
    /// Seconds between the two scrapes a frame's rates come from
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// Print one frame and exit
    #[arg(long)]
    pub once: bool,
}

/// One sample of the exposition: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

pub async fn run(args: TopArgs, printer: &mut Printer) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.interval > 0.0 && args.interval <= 3600.0,
        "--interval must be between 0 and 3600 seconds"
    );
    let interval = Duration::from_secs_f64(args.interval);
    let mut before = parse(&crate::client::fetch_text(&args.metrics_url).await?);
    loop {
        tokio::time::sleep(interval).await;
        let now = parse(&crate::client::fetch_text(&args.metrics_url).await?);
        let frame = render(&before, &now, args.interval);
        if args.once {
            return printer.text(&frame);
        }
        // Clear the terminal and draw from the top.
        printer.text(&format!("\x1b[2J\x1b[H{frame}"))?;
        before = now;
    }
}

/// Samples of an OpenMetrics or Prometheus text exposition; comments and malformed lines are
/// skipped.
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, rest) = match line.find('{') {
        Some(open) => {
            let close = line[open..].find("} ")? + open;
            (&line[..close + 1], &line[close + 2..])
        }
        None => line.split_once(' ')?,
    };
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}')?)?),
        None => (series, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y \"quoted\""` → {a: x, b: y "quoted"}.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (at, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break at,
                c => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

fn label<'a>(sample: &'a Sample, key: &str) -> &'a str {
    sample.labels.get(key).map_or("", String::as_str)
}

/// Sums of the samples named `name` that `keep` keeps, grouped by the value of label `by`.
fn by_label(
    samples: &[Sample],
    name: &str,
    by: &str,
    keep: impl Fn(&Sample) -> bool,
) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == name && keep(s)) {
        *sums.entry(label(s, by).to_owned()).or_insert(0.0) += s.value;
    }
    sums
}

fn render(before: &[Sample], now: &[Sample], seconds: f64) -> String {
    let mut out = String::new();
    let activations = "wisp_activations_total";
    let per_namespace =
        |samples, keep: &dyn Fn(&Sample) -> bool| by_label(samples, activations, "namespace", keep);
    let totals = per_namespace(now, &|_| true);
    let earlier = per_namespace(before, &|_| true);
    let errors = per_namespace(now, &|s| label(s, "outcome") != "success");
    let initialised = per_namespace(now, &|s| matches!(label(s, "start"), "cold" | "stem_cell"));
    let rows: Vec<Vec<String>> = totals
        .iter()
        .map(|(namespace, total)| {
            let rate = (total - earlier.get(namespace).unwrap_or(&0.0)) / seconds;
            let errors = errors.get(namespace).copied().unwrap_or(0.0);
            vec![
                namespace.clone(),
                format!("{total:.0}"),
                format!("{rate:.1}"),
                format!("{errors:.0} ({:.1}%)", 100.0 * errors / total.max(1.0)),
                format!("{:.0}", initialised.get(namespace).copied().unwrap_or(0.0)),
            ]
        })
        .collect();
    let _ = writeln!(out, "activations");
    let _ = writeln!(
        out,
        "{}",
        table(
            &["NAMESPACE", "TOTAL", "PER SECOND", "ERRORS", "COLD"],
            &rows
        )
    );
    let kinds: Vec<Vec<String>> = quantiles(now, "wisp_activation_run_seconds")
        .into_iter()
        .map(|(kind, count, p50, p99)| vec![kind, format!("{count:.0}"), millis(p50), millis(p99)])
        .collect();
    let _ = writeln!(out, "run time");
    let _ = writeln!(out, "{}", table(&["KIND", "COUNT", "P50", "P99"], &kinds));
    let pool: Vec<Vec<String>> = now
        .iter()
        .filter(|s| s.name == "wisp_processes")
        .map(|s| {
            vec![
                label(s, "kind").to_owned(),
                label(s, "state").to_owned(),
                format!("{:.0}", s.value),
            ]
        })
        .collect();
    let reserved: f64 = now
        .iter()
        .filter(|s| s.name == "wisp_process_memory_reserved_bytes")
        .map(|s| s.value)
        .sum();
    let _ = writeln!(out, "processes ({:.0} MB reserved)", reserved / 1_048_576.0);
    let _ = writeln!(out, "{}", table(&["KIND", "STATE", "COUNT"], &pool));
    let refusals: Vec<Vec<String>> = now
        .iter()
        .filter(|s| s.name == "wisp_throttled_total")
        .map(|s| {
            vec![
                label(s, "namespace").to_owned(),
                label(s, "limit").to_owned(),
                format!("{:.0}", s.value),
            ]
        })
        .collect();
    let _ = writeln!(out, "refused by limits");
    let _ = write!(
        out,
        "{}",
        table(&["NAMESPACE", "LIMIT", "COUNT"], &refusals)
    );
    out
}

fn millis(seconds: Option<f64>) -> String {
    seconds.map_or("-".into(), |s| format!("{:.1} ms", s * 1000.0))
}

/// Per kind: the count and the p50 and p99 of histogram `name`, each the upper bound of the
/// first bucket holding that share of the observations.
fn quantiles(samples: &[Sample], name: &str) -> Vec<(String, f64, Option<f64>, Option<f64>)> {
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == format!("{name}_bucket"))
    {
        let bound = match label(s, "le") {
            "+Inf" => f64::INFINITY,
            le => match le.parse() {
                Ok(bound) => bound,
                Err(_) => continue,
            },
        };
        buckets
            .entry(label(s, "kind").to_owned())
            .or_default()
            .push((bound, s.value));
    }
    buckets
        .into_iter()
        .map(|(kind, mut cumulative)| {
            cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
            let count = cumulative.last().map_or(0.0, |b| b.1);
            let quantile = |q: f64| {
                cumulative
                    .iter()
                    .find(|(_, seen)| *seen >= q * count && count > 0.0)
                    .map(|(bound, _)| *bound)
                    .filter(|bound| bound.is_finite())
            };
            (kind, count, quantile(0.5), quantile(0.99))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = r#"# HELP wisp_activations Finished activations.
# TYPE wisp_activations counter
wisp_activations_total{namespace="guest",kind="nodejs:20",outcome="success",start="warm"} 8
wisp_activations_total{namespace="guest",kind="nodejs:20",outcome="success",start="stem_cell"} 1
wisp_activations_total{namespace="guest",kind="nodejs:20",outcome="developer_error",start="cold"} 1
wisp_activations_total{namespace="other \"ns\"",kind="python:3",outcome="success",start="warm"} 2
wisp_activation_run_seconds_bucket{le="0.001",kind="nodejs:20"} 2
wisp_activation_run_seconds_bucket{le="0.002",kind="nodejs:20"} 9
wisp_activation_run_seconds_bucket{le="0.004",kind="nodejs:20"} 10
wisp_activation_run_seconds_bucket{le="+Inf",kind="nodejs:20"} 10
wisp_processes{kind="nodejs:20",state="warm"} 2
wisp_process_memory_reserved_bytes 536870912
# EOF
"#;

    #[test]
    fn labels_with_escapes_and_bare_samples_parse() {
        let samples = parse(EXPOSITION);
        assert_eq!(samples.len(), 10);
        assert_eq!(samples[3].labels["namespace"], "other \"ns\"");
        assert_eq!(samples[9].name, "wisp_process_memory_reserved_bytes");
        assert_eq!(samples[9].value, 536870912.0);
    }

    #[test]
    fn a_frame_shows_totals_rates_errors_quantiles_and_the_pool() {
        let now = parse(EXPOSITION);
        let before: Vec<Sample> = now
            .iter()
            .cloned()
            .map(|mut s| {
                if s.name == "wisp_activations_total" && label(&s, "start") == "warm" {
                    s.value -= 2.0;
                }
                s
            })
            .collect();
        let frame = render(&before, &now, 2.0);
        let guest = frame.lines().find(|l| l.starts_with("guest")).unwrap();
        let cells: Vec<&str> = guest.split_whitespace().collect();
        assert_eq!(
            cells,
            ["guest", "10", "1.0", "1", "(10.0%)", "2"],
            "{frame}"
        );
        let node = frame.lines().find(|l| l.starts_with("nodejs:20 ")).unwrap();
        assert!(
            node.contains("2.0 ms") && node.contains("4.0 ms"),
            "{frame}"
        );
        assert!(frame.contains("processes (512 MB reserved)"), "{frame}");
    }
}
