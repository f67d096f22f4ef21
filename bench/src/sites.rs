//! Static sites: a 10 KB file from a namespace's site against the same file from nginx
//! (Debian's, started here with a configuration of our own) and against the floor, the same
//! bytes answered from memory by a bare axum server, all through the same keep-alive client in
//! the same run. Then the deploy time of an example project: first deploy and a no-change
//! redeploy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;

use crate::floor::load;
use crate::report::Report;
use crate::server::Wisp;
use crate::stats::Samples;

const FILE: &str = "page10k.html";

/// 10 KB of HTML-ish text, the same bytes everywhere.
fn page() -> Vec<u8> {
    let line = "<p>Static content served by the platform, measured against nginx.</p>\n";
    let mut page = b"<!doctype html><title>10k</title>\n".to_vec();
    while page.len() + line.len() <= 10 * 1024 {
        page.extend_from_slice(line.as_bytes());
    }
    page.resize(10 * 1024, b'\n');
    page
}

pub async fn rows(
    wisp: &Wisp,
    binary: &Path,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("wisp-bench-site-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let project = scratch.join("site");
    std::fs::create_dir_all(project.join("web"))?;
    std::fs::write(project.join("web").join(FILE), page())?;

    let first = timed(|| wisp.cli(binary, &["project", "deploy", project.to_str().unwrap()]))?;
    let mut again = Samples::default();
    for _ in 0..5 {
        again.push(timed(|| {
            wisp.cli(binary, &["project", "deploy", project.to_str().unwrap()])
        })?);
    }
    let example = Path::new("examples/visit-counter");
    if example.is_dir() {
        let example_first =
            timed(|| wisp.cli(binary, &["project", "deploy", "examples/visit-counter"]))?;
        report.record(
            "deploy_example_first_ms",
            "wisp: deploy examples/visit-counter, first",
            json!(example_first.as_secs_f64() * 1e3),
            format!("{:.0} ms", example_first.as_secs_f64() * 1e3),
        );
        let mut example_again = Samples::default();
        for _ in 0..5 {
            example_again.push(timed(|| {
                wisp.cli(binary, &["project", "deploy", "examples/visit-counter"])
            })?);
        }
        report.record(
            "deploy_example_noop_ms",
            "wisp: redeploy examples/visit-counter, no change",
            example_again.json(),
            format!("p50 {:.0} ms", example_again.p50_us() / 1e3),
        );
    }
    report.record(
        "deploy_site_first_ms",
        "wisp: deploy a one-file site, first",
        json!(first.as_secs_f64() * 1e3),
        format!("{:.0} ms", first.as_secs_f64() * 1e3),
    );

    // The floor: the same bytes from memory, no files, no platform.
    let floor_url = memory_server(page()).await?;
    let plain = reqwest::Client::new();
    let floor_c1 = latencies(&plain, &floor_url, iterations).await?;
    let floor_c32 = throughput(&plain, &floor_url, seconds).await?;

    let site = wisp.site_client();
    let site_url = format!("http://guest.localhost:{}/{FILE}", wisp.port());
    let site_c1 = latencies(&site, &site_url, iterations).await?;
    let site_c32 = throughput(&site, &site_url, seconds).await?;

    report.record(
        "static_floor_c1",
        "floor: 10 KB from memory (bare axum), c=1",
        floor_c1.json(),
        floor_c1.summary(),
    );
    report.record(
        "static_floor_c32",
        "floor: 10 KB from memory (bare axum), c=32",
        json!(floor_c32),
        format!("{floor_c32:.0}/s"),
    );
    match Nginx::start(&scratch, &page()).await {
        Ok(nginx) => {
            let nginx_url = format!("http://{}/{FILE}", nginx.address);
            let nginx_c1 = latencies(&plain, &nginx_url, iterations).await?;
            let nginx_c32 = throughput(&plain, &nginx_url, seconds).await?;
            drop(nginx);
            report.record(
                "nginx_static_c1",
                "nginx: 10 KB file, c=1",
                nginx_c1.json(),
                nginx_c1.summary(),
            );
            report.record(
                "nginx_static_c32",
                "nginx: 10 KB file, c=32",
                json!(nginx_c32),
                format!("{nginx_c32:.0}/s ({:.2}x floor)", nginx_c32 / floor_c32),
            );
            report.record(
                "site_static_c1",
                "wisp: site 10 KB file, c=1",
                site_c1.json(),
                format!(
                    "{} ({:.2}x nginx p50)",
                    site_c1.summary(),
                    site_c1.p50_us() / nginx_c1.p50_us()
                ),
            );
            report.record(
                "site_static_c32",
                "wisp: site 10 KB file, c=32",
                json!(site_c32),
                format!(
                    "{site_c32:.0}/s ({:.2}x nginx, {:.2}x floor)",
                    site_c32 / nginx_c32,
                    site_c32 / floor_c32
                ),
            );
        }
        Err(e) => {
            println!("nginx rows skipped: {e:#}");
            report.record(
                "site_static_c1",
                "wisp: site 10 KB file, c=1",
                site_c1.json(),
                site_c1.summary(),
            );
            report.record(
                "site_static_c32",
                "wisp: site 10 KB file, c=32",
                json!(site_c32),
                format!(
                    "{site_c32:.0}/s ({:.2}x floor; nginx not measured)",
                    site_c32 / floor_c32
                ),
            );
        }
    }
    report.record(
        "deploy_site_noop_ms",
        "wisp: redeploy a one-file site, no change",
        again.json(),
        format!("p50 {:.0} ms", again.p50_us() / 1e3),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

fn timed(run: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let start = Instant::now();
    run()?;
    Ok(start.elapsed())
}

async fn latencies(
    client: &reqwest::Client,
    url: &str,
    iterations: usize,
) -> anyhow::Result<Samples> {
    let mut samples = Samples::default();
    for i in 0..iterations + 100 {
        let t = Instant::now();
        fetch(client, url).await?;
        if i >= 100 {
            samples.push(t.elapsed());
        }
    }
    Ok(samples)
}

async fn throughput(client: &reqwest::Client, url: &str, seconds: Duration) -> anyhow::Result<f64> {
    let (client, url) = (client.clone(), url.to_string());
    load(32, seconds, move || {
        let (client, url) = (client.clone(), url.clone());
        async move { fetch(&client, &url).await }
    })
    .await
}

async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let response = client.get(url).send().await?;
    if !response.status().is_success() {
        bail!("{url}: HTTP {}", response.status());
    }
    let body = response.bytes().await?;
    if body.len() != 10 * 1024 {
        bail!("{url}: {} bytes instead of 10 KB", body.len());
    }
    Ok(())
}

async fn memory_server(body: Vec<u8>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let body = bytes_of(body);
    let app = axum::Router::new().route(
        &format!("/{FILE}"),
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "text/html")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/{FILE}"))
}

fn bytes_of(body: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(body)
}

/// nginx serving `page` as FILE, in the foreground, as a child of the bench; stopped on drop.
struct Nginx {
    child: Child,
    address: SocketAddr,
}

impl Nginx {
    async fn start(scratch: &Path, page: &[u8]) -> anyhow::Result<Nginx> {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("nginx is not installed (bench/setup.sh installs it)")?;
        let dir = scratch.join("nginx");
        std::fs::create_dir_all(dir.join("www"))?;
        std::fs::write(dir.join("www").join(FILE), page)?;
        let port = free_port()?;
        let address: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        // Two workers for two cores, no access log, sendfile: nginx's usual static set-up.
        let config = format!(
            "daemon off;\nworker_processes 2;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n\
             \x20 types {{ text/html html; }}\n  client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n\
             \x20 fastcgi_temp_path {dir}/tmp;\n  uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n\
             \x20 server {{ listen {address}; root {dir}/www; }}\n}}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), config)?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let nginx = Nginx { child, address };
        let url = format!("http://{address}/{FILE}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if fetch(&client, &url).await.is_ok() {
                return Ok(nginx);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "nginx did not answer on {address}; see {}/error.log",
            dir.display()
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: nginx's graceful stop, for the master and its workers.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
