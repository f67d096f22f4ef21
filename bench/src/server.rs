//! A `wisp serve` under measurement.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use serde_json::json;

use crate::floor::load;
use crate::stats::Samples;

pub struct Wisp {
    child: Child,
    pub data_dir: PathBuf,
    base: String,
    auth: String,
    client: reqwest::Client,
}

pub fn default_binary() -> PathBuf {
    let release = PathBuf::from("target/release/wisp");
    if release.exists() {
        release
    } else {
        PathBuf::from("target/debug/wisp")
    }
}

impl Wisp {
    pub async fn start(binary: &Path, stem_cells: usize) -> anyhow::Result<Wisp> {
        let data_dir =
            std::env::temp_dir().join(format!("wisp-bench-{}-{stem_cells}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)?;
        let mut child = Command::new(binary)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--stem-cells",
                &stem_cells.to_string(),
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("WSK_CONFIG_FILE", data_dir.join("wskprops"))
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base, mut auth) = (None, None);
        for line in lines.by_ref() {
            let line = line?;
            if let Some(h) = line.strip_prefix("wisp: listening on ") {
                base = Some(h.to_string());
            }
            if let Some(a) = line.strip_prefix("wisp: guest credentials ") {
                auth = Some(a.to_string());
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let wisp = Wisp {
            child,
            data_dir,
            base: base.context("server address")?,
            auth: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(auth.context("guest key")?)
            ),
            client: reqwest::Client::new(),
        };
        tokio::time::sleep(Duration::from_millis(1500)).await; // stem cells start
        Ok(wisp)
    }

    fn url(&self, name: &str) -> String {
        format!("{}/api/v1/namespaces/_/actions/{name}", self.base)
    }

    pub async fn create(&self, name: &str, kind: &str, code: &str) -> anyhow::Result<()> {
        let response = self
            .client
            .put(format!("{}?overwrite=true", self.url(name)))
            .header("authorization", &self.auth)
            .json(&json!({"exec": {"kind": kind, "code": code}}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("create {name}: {}", response.text().await?);
        }
        Ok(())
    }

    pub async fn invoke(&self, name: &str) -> anyhow::Result<()> {
        invoke(
            &self.client,
            &format!("{}?blocking=true&result=true", self.url(name)),
            &self.auth,
        )
        .await
    }

    pub async fn throughput(
        &self,
        name: &str,
        concurrency: usize,
        duration: Duration,
    ) -> anyhow::Result<f64> {
        let client = self.client.clone();
        let url = format!("{}?blocking=true&result=true", self.url(name));
        let auth = self.auth.clone();
        load(concurrency, duration, move || {
            let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
            async move { invoke(&client, &url, &auth).await }
        })
        .await
    }

    /// Each sample is a new action's first invoke, so it needs a process and an init.
    pub async fn cold_starts(
        &self,
        kind: &str,
        code: &str,
        count: usize,
    ) -> anyhow::Result<Samples> {
        let mut samples = Samples::default();
        let family = kind.split(':').next().unwrap();
        for i in 0..count {
            let name = format!("cold-{family}-{i}-{}", Instant::now().elapsed().as_nanos());
            self.create(&name, kind, code).await?;
            // Let the pool refill its stem cells, as it would between real cold starts.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let t = Instant::now();
            self.invoke(&name).await?;
            samples.push(t.elapsed());
        }
        Ok(samples)
    }

    /// Mean RSS (kB) of the server's idle child processes running `program`.
    pub fn idle_stem_cell_rss(&self, program: &str) -> Option<u64> {
        // Children may belong to any of the server's threads, so scan /proc for the parent.
        let pids = all_children(self.child.id());
        let rss: Vec<u64> = pids
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.contains(program) && c.contains("launcher"))
            })
            .filter_map(|pid| {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
                line.split_whitespace().nth(1)?.parse().ok()
            })
            .collect();
        (!rss.is_empty()).then(|| rss.iter().sum::<u64>() / rss.len() as u64)
    }
}

fn all_children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .and_then(|rest| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

async fn invoke(client: &reqwest::Client, url: &str, auth: &str) -> anyhow::Result<()> {
    let response = client
        .post(url)
        .header("authorization", auth)
        .body("{}")
        .header("content-type", "application/json")
        .send()
        .await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!(
            "invoke failed with {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

impl Drop for Wisp {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
