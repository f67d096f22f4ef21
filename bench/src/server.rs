//! A `wisp serve` under measurement.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use serde_json::{json, Value};

use crate::floor::load;
use crate::stats::Samples;

/// Which door an invocation goes through.
#[derive(Clone, Copy)]
pub enum Via {
    /// `POST /api/v1/namespaces/_/actions/NAME?blocking=true&result=true`, with the guest key.
    Api,
    /// `POST /api/v1/web/guest/default/NAME.json`, no credentials (the action is web-exported).
    Web,
}

/// The params every benchmark invoke sends: the hello functions greet `bench`, the no-ops
/// ignore it.
pub const PARAMS: &str = r#"{"name":"bench"}"#;

/// Where the server under measurement serves RESP (the SDKs' port, a loopback address of its
/// own).
pub const KV_ADDRESS: &str = "127.0.0.2:6379";

pub struct Wisp {
    child: Child,
    pub data_dir: PathBuf,
    base: String,
    auth: String,
    /// The guest's `uuid:key`, for the CLI.
    key: String,
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
        Wisp::start_with(binary, stem_cells, &[]).await
    }

    /// A server with extra `serve` flags (each set of flags gets a data directory of its own).
    pub async fn start_with(
        binary: &Path,
        stem_cells: usize,
        extra: &[&str],
    ) -> anyhow::Result<Wisp> {
        let data_dir = std::env::temp_dir().join(format!(
            "wisp-bench-{}-{stem_cells}{}",
            std::process::id(),
            extra.join("").replace(['/', ':', '@'], "_")
        ));
        let mut args: Vec<String> = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--stem-cells",
            &stem_cells.to_string(),
            "--kv-listen",
            KV_ADDRESS,
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        let wisp = Wisp::launch(binary, &args, data_dir, &[]).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await; // stem cells start
        Ok(wisp)
    }

    /// Starts `binary` with `args` (a role that serves the API: `serve` or `controller`) and
    /// `--data-dir data_dir`, and waits until it says where it listens and the guest's key.
    pub async fn launch(
        binary: &Path,
        args: &[String],
        data_dir: PathBuf,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Wisp> {
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)?;
        let mut child = Command::new(binary)
            .args(args)
            .arg("--data-dir")
            .arg(&data_dir)
            .env("WSK_CONFIG_FILE", data_dir.join("wskprops"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base, mut auth) = (None, None);
        for line in lines.by_ref() {
            let line = line?;
            if let Some((_, host)) = line.split_once("listening on ") {
                base = Some(host.to_string());
            }
            if let Some(a) = line.strip_prefix("wisp: guest credentials ") {
                auth = Some(a.to_string());
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let key = auth.context("guest key")?;
        Ok(Wisp {
            child,
            data_dir,
            base: base.context("server address")?,
            auth: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(&key)
            ),
            key,
            client: reqwest::Client::new(),
        })
    }

    /// Where the API answers: `http://host:port`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL and credentials of a blocking invoke of `name` through the API.
    pub fn invoke_door(&self, name: &str) -> (String, String) {
        let (url, auth) = self.door(name, Via::Api);
        (url, auth.unwrap_or_default())
    }

    /// The port the API (and the sites) listen on.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// A client for which `guest.localhost` is this server: the guest's site.
    pub fn site_client(&self) -> reqwest::Client {
        let address = format!("127.0.0.1:{}", self.port())
            .parse()
            .expect("an address");
        reqwest::Client::builder()
            .resolve("guest.localhost", address)
            .build()
            .expect("a client")
    }

    /// Runs the `wisp` CLI as the guest against this server; fails with its output if it does.
    pub fn cli(&self, binary: &Path, args: &[&str]) -> anyhow::Result<()> {
        let output = Command::new(binary)
            .args(args)
            .env("WISP_APIHOST", &self.base)
            .env("WISP_AUTH", &self.key)
            .env("WSK_CONFIG_FILE", self.data_dir.join("cli.wskprops"))
            .output()
            .with_context(|| format!("running {}", binary.display()))?;
        if !output.status.success() {
            anyhow::bail!(
                "wisp {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    fn url(&self, name: &str) -> String {
        format!("{}/api/v1/namespaces/_/actions/{name}", self.base)
    }

    pub async fn create(&self, name: &str, kind: &str, code: &str) -> anyhow::Result<()> {
        self.put(
            "actions",
            name,
            json!({"exec": {"kind": kind, "code": code}}),
        )
        .await
    }

    /// An action with `web-export: true`, reachable through [`Via::Web`] as well.
    pub async fn create_web(&self, name: &str, kind: &str, code: &str) -> anyhow::Result<()> {
        let annotations = json!([{"key": "web-export", "value": true}]);
        let body = json!({"exec": {"kind": kind, "code": code}, "annotations": annotations});
        self.put("actions", name, body).await
    }

    /// An action from a whole PUT body (a sequence, a conductor with its annotations).
    pub async fn create_from(&self, name: &str, body: Value) -> anyhow::Result<()> {
        self.put("actions", name, body).await
    }

    /// Stores `bytes` as the guest's data object `key`.
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let response = self
            .client
            .put(format!("{}/api/v1/namespaces/_/objects/{key}", self.base))
            .header("authorization", &self.auth)
            .body(bytes)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("put object {key}: {}", response.text().await?);
        }
        Ok(())
    }

    /// The guest namespace's key-value password, as an activation is given it.
    pub async fn kv_password(&self) -> anyhow::Result<String> {
        let code = "function main() { return { password: process.env.__NIM_REDIS_PASSWORD } }";
        self.create("kv-password", "nodejs:20", code).await?;
        let (url, auth) = self.door("kv-password", Via::Api);
        let response = self
            .client
            .post(url)
            .header("authorization", auth.unwrap_or_default())
            .json(&json!({}))
            .send()
            .await?;
        let body: Value = response.json().await?;
        body["password"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no key-value password: {body}"))
    }

    pub async fn create_trigger(&self, name: &str) -> anyhow::Result<()> {
        self.put("triggers", name, json!({})).await
    }

    pub async fn create_rule(&self, name: &str, trigger: &str, action: &str) -> anyhow::Result<()> {
        let body = json!({"trigger": format!("/_/{trigger}"), "action": format!("/_/{action}")});
        self.put("rules", name, body).await
    }

    /// Creates or replaces an entity of the guest namespace.
    async fn put(&self, collection: &str, name: &str, body: Value) -> anyhow::Result<()> {
        let response = self
            .client
            .put(format!(
                "{}/api/v1/namespaces/_/{collection}/{name}?overwrite=true",
                self.base
            ))
            .header("authorization", &self.auth)
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("create {collection}/{name}: {}", response.text().await?);
        }
        // Read as a client does: a body left unread (the action echoed back, code and all)
        // closes the keep-alive connection, and the next request would pay for a new one.
        response.bytes().await?;
        Ok(())
    }

    /// The URL and credentials of a blocking invoke of `name` through `via`.
    fn door(&self, name: &str, via: Via) -> (String, Option<String>) {
        match via {
            Via::Api => (
                format!("{}?blocking=true&result=true", self.url(name)),
                Some(self.auth.clone()),
            ),
            Via::Web => (
                format!("{}/api/v1/web/guest/default/{name}.json", self.base),
                None,
            ),
        }
    }

    pub async fn invoke(&self, name: &str) -> anyhow::Result<()> {
        let (url, auth) = self.door(name, Via::Api);
        invoke(&self.client, &url, auth.as_deref()).await
    }

    /// A blocking invoke's result.
    pub async fn result(&self, name: &str, params: Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}?blocking=true&result=true", self.url(name)))
            .header("authorization", &self.auth)
            .json(&params)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("{name} answered {status}: {body}");
        }
        Ok(body)
    }

    /// One warm-up call, then `iterations` sequential calls through `via`.
    pub async fn latencies(
        &self,
        name: &str,
        via: Via,
        iterations: usize,
    ) -> anyhow::Result<Samples> {
        let (url, auth) = self.door(name, via);
        invoke(&self.client, &url, auth.as_deref()).await?;
        let mut samples = Samples::default();
        for _ in 0..iterations {
            let t = Instant::now();
            invoke(&self.client, &url, auth.as_deref()).await?;
            samples.push(t.elapsed());
        }
        Ok(samples)
    }

    pub async fn throughput(
        &self,
        name: &str,
        via: Via,
        concurrency: usize,
        duration: Duration,
    ) -> anyhow::Result<f64> {
        let client = self.client.clone();
        let (url, auth) = self.door(name, via);
        load(concurrency, duration, move || {
            let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
            async move { invoke(&client, &url, auth.as_deref()).await }
        })
        .await
    }

    /// µs from sending a fire of `trigger` to the start of the action its (one) rule ran: the
    /// trigger's record names that activation in its first log line.
    pub async fn fire_to_start(&self, trigger: &str) -> anyhow::Result<f64> {
        let url = format!("{}/api/v1/namespaces/_/triggers/{trigger}", self.base);
        let (sent, id) = self.accepted(&url).await?;
        let fired = self.record(&id).await?;
        let line = fired["logs"][0]
            .as_str()
            .context("the trigger's record has no rule log line")?;
        let line: Value = serde_json::from_str(line)?;
        let action = line["activationId"]
            .as_str()
            .with_context(|| format!("the rule did not run its action: {line}"))?;
        since(sent, &self.record(action).await?)
    }

    /// µs from sending a non-blocking invoke of `name` to the start of its activation.
    pub async fn invoke_to_start(&self, name: &str) -> anyhow::Result<f64> {
        let (sent, id) = self.accepted(&self.url(name)).await?;
        since(sent, &self.record(&id).await?)
    }

    /// POSTs `{}` to `url`, expecting a 202 `{activationId}`; returns the send time too.
    async fn accepted(&self, url: &str) -> anyhow::Result<(f64, String)> {
        let sent = epoch_ms();
        let response = self
            .client
            .post(url)
            .header("authorization", &self.auth)
            .json(&json!({}))
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            bail!("{url}: {} {}", response.status(), response.text().await?);
        }
        let body: Value = response.json().await?;
        let id = body["activationId"].as_str().context("no activationId")?;
        Ok((sent, id.to_string()))
    }

    /// The record of activation `id`, polled for every millisecond until it is stored (at most
    /// 10 s).
    async fn record(&self, id: &str) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1/namespaces/_/activations/{id}", self.base);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = self
                .client
                .get(&url)
                .header("authorization", &self.auth)
                .send()
                .await?;
            match response.status() {
                s if s.is_success() => return Ok(response.json().await?),
                reqwest::StatusCode::NOT_FOUND if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(1)).await
                }
                s => bail!("activation {id}: {s} {}", response.text().await?),
            }
        }
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

    /// Mean RSS (kB) of the server's idle runtime processes running `program` (children, or
    /// grandchildren under a sandbox's init).
    pub fn idle_stem_cell_rss(&self, program: &str) -> Option<u64> {
        // Children may belong to any of the server's threads, so scan /proc for the parent.
        let children = all_children(self.child.id());
        let pids: Vec<u32> = children
            .iter()
            .flat_map(|child| all_children(*child))
            .chain(children.iter().copied())
            .collect();
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

pub async fn invoke(client: &reqwest::Client, url: &str, auth: Option<&str>) -> anyhow::Result<()> {
    let mut request = client
        .post(url)
        .body(PARAMS)
        .header("content-type", "application/json");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await?;
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

/// Milliseconds since the epoch on this machine's wall clock, the clock records' `start` is
/// read from.
fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// µs from `sent` (ms, as [`epoch_ms`]) to a record's `start`. The server truncates `start` to
/// whole milliseconds, so the true start lies in `[start, start + 1)`: its middle, `start +
/// 0.5`, is the unbiased reading (each sample is off by at most ±0.5 ms).
fn since(sent: f64, record: &Value) -> anyhow::Result<f64> {
    let start = record["start"]
        .as_u64()
        .context("a record without a start")? as f64;
    Ok((start + 0.5 - sent) * 1e3)
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
