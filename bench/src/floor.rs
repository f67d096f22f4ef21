//! The floors: the same work with no platform around it.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::stats::Samples;

const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// Drives a launcher directly over its pipes: init once, then `iterations` runs, each waiting
/// for the reply on fd 3 and the sentinel on both streams, as the invoker does.
pub fn launcher_pipes(
    program: &str,
    launcher: &Path,
    code: &str,
    iterations: usize,
) -> anyhow::Result<Samples> {
    let mut fds = [0; 2];
    // SAFETY: fds is a two-element array; both new descriptors are owned below.
    let (read_end, write_end) = unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            bail!("pipe failed");
        }
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    let write_fd = write_end.as_raw_fd();
    let mut command = Command::new(program);
    command
        .arg(launcher)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            if libc::dup2(write_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    drop(write_end);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut replies = BufReader::new(std::fs::File::from(read_end));
    let mut line = String::new();
    replies.read_line(&mut line)?; // ready

    let init = serde_json::json!({"init": {"main": "main", "code": code, "dir": null, "env": {}, "concurrent": false}});
    writeln!(stdin, "{init}")?;
    let mut exchange = |message: &str| -> anyhow::Result<()> {
        stdin.write_all(message.as_bytes())?;
        stdin.flush()?;
        line.clear();
        replies.read_line(&mut line)?;
        for stream in [&mut stdout as &mut dyn BufRead, &mut stderr] {
            loop {
                let mut log = String::new();
                if stream.read_line(&mut log)? == 0 || log.trim_end().ends_with(SENTINEL) {
                    break;
                }
            }
        }
        Ok(())
    };
    exchange("")?; // collect the init reply and its sentinels
    let run = serde_json::json!({"value": {}, "activation_id": "0".repeat(32), "namespace": "guest",
        "action_name": "/guest/noop", "action_version": "0.0.1", "deadline": "0", "transaction_id": "t"})
    .to_string()
        + "\n";
    for _ in 0..100 {
        exchange(&run)?;
    }
    let mut samples = Samples::default();
    for _ in 0..iterations {
        let t = Instant::now();
        exchange(&run)?;
        samples.push(t.elapsed());
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(samples)
}

async fn bare_server() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|| async { axum::Json(serde_json::json!({})) }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/"))
}

/// A bare loopback HTTP round trip through the same client the platform measurements use.
pub async fn http_round_trip(iterations: usize) -> anyhow::Result<Samples> {
    let url = bare_server().await?;
    let client = reqwest::Client::new();
    let mut samples = Samples::default();
    for i in 0..iterations + 100 {
        let t = Instant::now();
        client.post(&url).body("{}").send().await?.bytes().await?;
        if i >= 100 {
            samples.push(t.elapsed());
        }
    }
    Ok(samples)
}

/// Requests per second a bare loopback server answers at `concurrency`.
pub async fn http_throughput(concurrency: usize, duration: Duration) -> anyhow::Result<f64> {
    let url = bare_server().await?;
    let client = reqwest::Client::new();
    load(concurrency, duration, move || {
        let client = client.clone();
        let url = url.clone();
        async move {
            client.post(&url).body("{}").send().await?.bytes().await?;
            Ok(())
        }
    })
    .await
}

/// Runs `call` from `concurrency` tasks for `duration`; returns completed calls per second.
pub async fn load<F, Fut>(concurrency: usize, duration: Duration, call: F) -> anyhow::Result<f64>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let call = call.clone();
        let done = done.clone();
        tasks.spawn(async move {
            while start.elapsed() < duration {
                call().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}
