//! Cloudflare's workerd beside Wisp: the JS hello function served by workerd (V8 isolates) on
//! loopback, the same function as a Wisp `wasm` JS component (QuickJS, componentize-qjs) and
//! as a Wisp Node.js action, and the C hello as a Wisp `wasm` command, each called with the
//! same params over the same keep-alive client. The three doors
//! are measured in alternating rounds so that a change in the machine's load falls on each.
//!
//! workerd comes from npm (`bench/workerd/package.json`, pinned by its lock file; the binary
//! ships in the `@cloudflare/workerd-linux-*` package): `npm ci` installs it here when it is
//! missing or another version. Without npm the rows are skipped with the reason.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::floor::load;
use crate::report::Report;
use crate::server::{Via, Wisp, PARAMS};
use crate::stats::Samples;

/// The hello function, word for word the same in workerd and in Wisp's Node.js action.
const HELLO_JS: &str =
    "function main ({ name = 'stranger' }) {\n  return { greeting: `Hello, ${name}!` }\n}\n";
/// workerd's entry point around it: the request's JSON body is the params.
const WORKER: &str = "\nexport default {\n  async fetch (request) {\n    return Response.json(main(await request.json()))\n  }\n}\n";
const HELLO_WASM: &[u8] = include_bytes!("../../examples/wasm/c/hello.wasm");
/// `HELLO_JS` as a component of Wisp's world (`examples/wasm/js/greet.js`, componentize-qjs).
pub const HELLO_COMPONENT: &[u8] = include_bytes!("../../examples/wasm/js/greet.wasm");
/// Rounds per measurement, the doors taking turns in each.
const ROUNDS: usize = 4;

pub async fn rows(
    wisp: &Wisp,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
) -> anyhow::Result<()> {
    let workerd = match Workerd::start().await {
        Ok(workerd) => workerd,
        Err(e) => {
            eprintln!("the workerd rows are skipped: {e:#}");
            return Ok(());
        }
    };
    report.note("workerd_version", json!(workerd.version));
    let wasm_code = base64::engine::general_purpose::STANDARD.encode(HELLO_WASM);
    let component_code = base64::engine::general_purpose::STANDARD.encode(HELLO_COMPONENT);
    let doors = [
        Door {
            action: "hello-wasm-beside-workerd",
            kind: "wasm",
            code: &wasm_code,
            key: "wasm",
            label: "wasm C hello",
        },
        Door {
            action: "hello-js-component",
            kind: "wasm",
            code: &component_code,
            key: "js_component",
            label: "wasm JS component hello",
        },
        Door {
            action: "hello-node",
            kind: "nodejs:20",
            code: HELLO_JS,
            key: "node",
            label: "nodejs:20 JS hello",
        },
    ];
    for door in &doors {
        wisp.create(door.action, door.kind, door.code).await?;
    }
    let client = reqwest::Client::new();
    let answer: Value = serde_json::from_slice(&post(&client, &workerd.url).await?)?;
    anyhow::ensure!(
        answer == json!({"greeting": "Hello, bench!"}),
        "workerd answered {answer}"
    );

    let per_round = iterations.div_ceil(ROUNDS);
    let mut w = Samples::default();
    let mut ours = vec![Samples::default(); doors.len()];
    for _ in 0..ROUNDS {
        w.append(latencies(&client, &workerd.url, per_round).await?);
        for (door, samples) in doors.iter().zip(&mut ours) {
            samples.append(wisp.latencies(door.action, Via::Api, per_round).await?);
        }
    }
    let floor = report
        .value("http_floor")
        .and_then(|v| v["p50_us"].as_f64());
    let versus_floor = |s: &Samples| {
        floor.map_or(String::new(), |f| {
            format!(" ({:.2}x HTTP floor)", s.p50_us() / f)
        })
    };
    report.record(
        "workerd_hello_c1",
        "workerd: JS hello, c=1",
        w.json(),
        format!("{}{}", w.summary(), versus_floor(&w)),
    );
    for (door, samples) in doors.iter().zip(&ours) {
        let ratio = samples.p50_us() / w.p50_us();
        let mut value = samples.json();
        value["vs_workerd"] = json!(ratio);
        let shown = format!("{} ({ratio:.2}x workerd p50)", samples.summary());
        let label = format!("wisp: {}, c=1 (beside workerd)", door.label);
        report.record(
            &format!("workerd_wisp_{}_c1", door.key),
            &label,
            value,
            shown,
        );
    }

    // Alternating slices of the same total time per door.
    let slice = seconds / 2;
    let mut w = 0.0;
    let mut rates = vec![0.0; doors.len()];
    for _ in 0..2 {
        w += throughput(&client, &workerd.url, 32, slice).await? / 2.0;
        for (door, rate) in doors.iter().zip(&mut rates) {
            *rate += wisp.throughput(door.action, Via::Api, 32, slice).await? / 2.0;
        }
    }
    let floor = report.value("http_floor_c32").and_then(Value::as_f64);
    let shown = floor.map_or(format!("{w:.0}/s"), |f| {
        format!("{w:.0}/s ({:.2}x HTTP floor)", w / f)
    });
    report.record(
        "workerd_hello_c32",
        "workerd: JS hello, c=32",
        json!(w),
        shown,
    );
    for (door, rate) in doors.iter().zip(rates) {
        let ratio = rate / w;
        report.record(
            &format!("workerd_wisp_{}_c32", door.key),
            &format!("wisp: {}, c=32 (beside workerd)", door.label),
            json!({"per_second": rate, "vs_workerd": ratio}),
            format!("{rate:.0}/s ({ratio:.2}x workerd)"),
        );
    }
    Ok(())
}

/// A Wisp action measured beside workerd.
struct Door<'a> {
    action: &'a str,
    kind: &'a str,
    code: &'a str,
    /// The rows' keys: `workerd_wisp_<key>_c1` and `_c32`.
    key: &'a str,
    label: &'a str,
}

/// A workerd serving the hello function on a loopback port of its own, stopped when dropped.
struct Workerd {
    child: Child,
    url: String,
    version: String,
    dir: PathBuf,
}

impl Workerd {
    async fn start() -> anyhow::Result<Workerd> {
        let binary = install()?;
        let version = Command::new(&binary)
            .arg("--version")
            .output()
            .context("running workerd --version")?;
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        let dir = std::env::temp_dir().join(format!("wisp-bench-workerd-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("hello.js"), format!("{HELLO_JS}{WORKER}"))?;
        std::fs::write(dir.join("config.capnp"), CONFIG)?;
        // A port the kernel just handed out and this process let go of.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&binary)
            .arg("serve")
            .arg(dir.join("config.capnp"))
            .arg("--socket-addr")
            .arg(format!("http=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let workerd = Workerd {
            child,
            url: format!("http://127.0.0.1:{port}/"),
            version,
            dir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while post(&client, &workerd.url).await.is_err() {
            if Instant::now() > deadline {
                bail!("workerd did not answer on {} within 20 s", workerd.url);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(workerd)
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One service, the hello worker, on the socket `--socket-addr` places.
const CONFIG: &str = r#"using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "hello", worker = .hello) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "hello") ],
);

const hello :Workerd.Worker = (
  modules = [ (name = "hello.js", esModule = embed "hello.js") ],
  compatibilityDate = "2025-01-01",
);
"#;

/// The workerd binary of the pinned version, installed by `npm ci` in `bench/workerd` first
/// when it is missing or another version.
fn install() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workerd");
    let platform = match std::env::consts::ARCH {
        "x86_64" => "workerd-linux-64",
        "aarch64" => "workerd-linux-arm64",
        other => bail!("no workerd package for {other}"),
    };
    let binary = dir.join(format!("node_modules/@cloudflare/{platform}/bin/workerd"));
    let pinned = version_of(&dir.join("package.json"), Some("workerd"))?;
    let installed = version_of(&dir.join("node_modules/workerd/package.json"), None).ok();
    if !binary.exists() || installed.as_deref() != Some(pinned.as_str()) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .status()
            .context("running npm ci for workerd")?;
        if !status.success() || !binary.exists() {
            bail!("npm ci in {} did not install {platform}", dir.display());
        }
    }
    Ok(binary)
}

/// A package.json's `version`, or the version it pins for `dependency`.
fn version_of(path: &Path, dependency: Option<&str>) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: Value = serde_json::from_str(&text)?;
    let version = match dependency {
        Some(name) => &json["dependencies"][name],
        None => &json["version"],
    };
    version
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no version in {}", path.display()))
}

/// One call with the benchmark's params; the body as it came (read whole, as Wisp's are).
async fn post(client: &reqwest::Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(PARAMS)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("workerd answered {}", response.status());
    }
    Ok(response.bytes().await?.to_vec())
}

/// One warm-up call, then `iterations` sequential calls.
async fn latencies(
    client: &reqwest::Client,
    url: &str,
    iterations: usize,
) -> anyhow::Result<Samples> {
    post(client, url).await?;
    let mut samples = Samples::default();
    for _ in 0..iterations {
        let t = Instant::now();
        post(client, url).await?;
        samples.push(t.elapsed());
    }
    Ok(samples)
}

async fn throughput(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let (client, url) = (client.clone(), url.to_string());
    load(concurrency, duration, move || {
        let (client, url) = (client.clone(), url.clone());
        async move { post(&client, &url).await.map(|_| ()) }
    })
    .await
}
