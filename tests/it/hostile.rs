//! Hostile functions: a tenant's function in a second namespace tries, with nothing but its
//! language's standard library, every reach `docs/SECURITY.md` lists (the server's and other
//! tenants' processes, the data directory, the launchers, the host's loopback services, fork
//! bombs, daemons, a full `/tmp`) while the first tenant's activation runs beside it. With the
//! sandbox (the default) each is blocked and the first tenant's activation completes; the same
//! functions with `--sandbox=off` show the breaches, so these tests can fail.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{admin_namespace, Server};

/// Tries each reach and reports `reached: ...` or `blocked: ...` per attack. Paths and pids it
/// is given are what an attacker finds by looking around a host it has reached.
const ATTACKS_JS: &str = r#"
const fs = require('fs');
const net = require('net');
const path = require('path');

function attempt(f) {
  try { const what = f(); return what === false ? 'blocked: nothing found' : 'reached: ' + String(what).slice(0, 120); }
  catch (e) { return 'blocked: ' + (e.code || e.message); }
}

function pids() {
  return fs.readdirSync('/proc').filter(p => /^\d+$/.test(p) && Number(p) !== process.pid);
}

function cmdline(pid) {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch (e) { return ''; }
}

// Reads another process's memory through /proc/<pid>/mem, looking for `needle`.
function findInMemory(pid, needle) {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  let budget = 256 << 20;
  try {
    for (const line of maps) {
      const m = line.match(/^([0-9a-f]+)-([0-9a-f]+) rw-p/);
      if (!m) continue;
      const start = parseInt(m[1], 16), end = parseInt(m[2], 16);
      const size = end - start;
      if (size > (64 << 20) || size > budget) continue;
      budget -= size;
      const buf = Buffer.alloc(size);
      try { fs.readSync(fd, buf, 0, size, start); } catch (e) { continue; }
      if (buf.includes(needle)) return true;
    }
  } finally { fs.closeSync(fd); }
  return false;
}

function connect(host, port) {
  return new Promise(resolve => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.on('connect', () => { socket.destroy(); resolve(`reached: ${host}:${port} accepted`); });
    socket.on('error', e => resolve('blocked: ' + e.code));
    socket.on('timeout', () => { socket.destroy(); resolve('blocked: timeout'); });
  });
}

async function main({ dataDir, home, serverPid, secret, redisPort }) {
  const out = {};
  out.serverCommandLine = attempt(() => {
    const found = pids().map(cmdline).find(c => c.includes(' serve '));
    return found || false;
  });
  out.serverExecutable = attempt(() => { fs.closeSync(fs.openSync(`/proc/${serverPid}/exe`, 'r')); return 'opened'; });
  out.wskprops = attempt(() => fs.readFileSync(path.join(home, '.wskprops'), 'utf8'));
  out.guestKey = attempt(() => fs.readFileSync(path.join(dataDir, 'guest.key'), 'utf8'));
  out.dataDir = attempt(() => fs.readdirSync(dataDir).join(','));
  out.shadow = attempt(() => fs.readFileSync('/etc/shadow', 'utf8').split('\n')[0]);
  out.otherTenantMemory = attempt(() => {
    const victims = pids().filter(p => cmdline(p).includes('launcher'));
    return victims.some(p => { try { return findInMemory(p, secret); } catch (e) { return false; } }) ? 'found the secret' : false;
  });
  out.signalServer = attempt(() => { process.kill(serverPid, 0); return 'may signal the server'; });
  out.signalOthers = attempt(() => {
    const others = pids().filter(p => cmdline(p).includes('launcher'));
    return others.some(p => { try { process.kill(Number(p), 0); return true; } catch (e) { return false; } }) ? 'may signal another runtime' : false;
  });
  const launchers = [path.join(dataDir, 'runtime', 'launchers', 'launcher.js'), '/wisp/launchers/launcher.js'];
  out.writeLauncher = attempt(() => {
    for (const file of launchers) {
      try { fs.closeSync(fs.openSync(file, 'r+')); return 'opened ' + file + ' for writing'; } catch (e) { if (e.code !== 'ENOENT') throw e; }
    }
    return false;
  });
  out.writeBundledModule = attempt(() => {
    const file = require.resolve('openwhisk');
    fs.closeSync(fs.openSync(file, 'r+'));
    return 'opened ' + file + ' for writing';
  });
  out.hostLoopbackService = await connect('127.0.0.1', redisPort);
  return out;
}
"#;

const ATTACKS_PY: &str = r#"
import os, socket

def attempt(f):
    try:
        what = f()
        return 'blocked: nothing found' if what is False else 'reached: ' + str(what)[:120]
    except Exception as e:
        return 'blocked: ' + type(e).__name__

def cmdlines():
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                yield open('/proc/%s/cmdline' % pid, 'rb').read().replace(b'\0', b' ').decode()
            except Exception:
                pass

def server_command_line():
    found = [c for c in cmdlines() if ' serve ' in c]
    return found[0] if found else False

def connect(port):
    s = socket.create_connection(('127.0.0.1', port), timeout=1)
    s.close()
    return 'accepted'

def main(args):
    data_dir = args['dataDir']
    return {
        'serverCommandLine': attempt(server_command_line),
        'guestKey': attempt(lambda: open(os.path.join(data_dir, 'guest.key')).read()),
        'dataDir': attempt(lambda: ','.join(os.listdir(data_dir))),
        'writeLauncher': attempt(lambda: open(os.path.join(data_dir, 'runtime', 'launchers', 'launcher.py'), 'r+').close() or 'opened'),
        'hostLoopbackService': attempt(lambda: connect(args['redisPort'])),
    }
"#;

/// Holds `secret` (its invoke parameter) in memory for a while, as a tenant's function would.
const VICTIM: &str = r#"
async function main({ secret }) {
  const held = Buffer.from(secret + ' ' + secret);
  await new Promise(r => setTimeout(r, 4000));
  return { held: held.length };
}
"#;

/// Leaves a daemon behind: a detached `sleep` in a session of its own, never waited for.
const DAEMON: &str = r#"
const { spawn } = require('child_process');
function main() {
  const child = spawn('sleep', ['31337'], { detached: true, stdio: 'ignore' });
  child.unref();
  return { started: child.pid };
}
"#;

/// Starts processes until it cannot, then waits for its deadline.
const FORK_BOMB: &str = r#"
const { spawn } = require('child_process');
async function main() {
  let started = 0;
  for (let i = 0; i < 2000; i++) {
    try { spawn('sleep', ['31338'], { stdio: 'ignore' }).on('error', () => {}); started++; } catch (e) { break; }
  }
  await new Promise(r => setTimeout(r, 60000));
  return { started };
}
"#;

/// Writes to `/tmp` until the disk is full or 200 MB are written.
const FILL_TMP: &str = r#"
const fs = require('fs');
function main() {
  const chunk = Buffer.alloc(1 << 20, 120);
  let written = 0;
  try {
    const fd = fs.openSync('/tmp/fill', 'w');
    try { for (; written < 200; written++) fs.writeSync(fd, chunk); } finally { fs.closeSync(fd); fs.unlinkSync('/tmp/fill'); }
  } catch (e) { return { written, failure: e.code }; }
  return { written };
}
"#;

struct Tenant {
    auth: String,
}

impl Tenant {
    async fn action(&self, server: &Server, name: &str, kind: &str, code: &str, limits: Value) {
        let (status, body) = server
            .send(
                server
                    .request_as(
                        &self.auth,
                        reqwest::Method::PUT,
                        &format!("namespaces/_/actions/{name}?overwrite=true"),
                    )
                    .json(&json!({"exec": {"kind": kind, "code": code}, "limits": limits})),
            )
            .await;
        assert_eq!(status, 200, "creating {name}: {body}");
    }

    async fn invoke(&self, server: &Server, name: &str, params: Value) -> (u16, Value) {
        server
            .send(
                server
                    .request_as(
                        &self.auth,
                        reqwest::Method::POST,
                        &format!("namespaces/_/actions/{name}?blocking=true"),
                    )
                    .json(&params),
            )
            .await
    }
}

fn server_pid(server: &Server) -> u32 {
    // The test's own child: the server it started.
    server.pid()
}

fn attack_params(server: &Server, secret: &str) -> Value {
    json!({
        "dataDir": server.data_dir().display().to_string(),
        "home": server.home().display().to_string(),
        "serverPid": server_pid(server),
        "secret": secret,
        "redisPort": 6379,
    })
}

/// Runs the attacks in namespace `mallory` while the guest's victim holds a secret; returns
/// what each attack reported, per language, and checks the victim completed.
async fn attack(server: &Server) -> (Value, Value) {
    let mallory = Tenant {
        auth: admin_namespace(server, "mallory"),
    };
    let secret = format!("victim-secret-{}", std::process::id());
    server
        .action(
            "victim",
            "nodejs:20",
            VICTIM,
            json!({"limits": {"timeout": 20000}}),
        )
        .await;
    mallory
        .action(
            server,
            "attacks",
            "nodejs:20",
            ATTACKS_JS,
            json!({"timeout": 30000}),
        )
        .await;
    mallory
        .action(
            server,
            "pyattacks",
            "python:3",
            ATTACKS_PY,
            json!({"timeout": 30000}),
        )
        .await;
    let victim = {
        let request = server
            .request(
                reqwest::Method::POST,
                "namespaces/_/actions/victim?blocking=true&result=true",
            )
            .json(&json!({"secret": secret}));
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        })
    };
    // The victim is running (its secret in its memory) before the attacks start.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let params = attack_params(server, &secret);
    let (status, js) = mallory.invoke(server, "attacks", params.clone()).await;
    assert_eq!(status, 200, "{js}");
    let (status, py) = mallory.invoke(server, "pyattacks", params).await;
    assert_eq!(status, 200, "{py}");
    let (status, held) = victim.await.unwrap();
    assert_eq!(status, 200, "the victim's activation completes: {held}");
    assert_eq!(held["held"], 2 * secret.len() + 1);
    (
        js["response"]["result"].clone(),
        py["response"]["result"].clone(),
    )
}

fn outcomes(report: &Value) -> Vec<(String, String)> {
    report
        .as_object()
        .unwrap_or_else(|| panic!("a report: {report}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

#[tokio::test]
async fn every_reach_of_a_hostile_function_is_blocked() {
    let server = Server::start();
    let (js, py) = attack(&server).await;
    for (attack, outcome) in outcomes(&js).into_iter().chain(outcomes(&py)) {
        assert!(
            outcome.starts_with("blocked"),
            "{attack} was not blocked: {outcome}\nnode: {js:#}\npython: {py:#}"
        );
    }
    // The server is unharmed: it still answers, and runs a function.
    still_serves(&server).await;
}

/// The server runs a new function.
async fn still_serves(server: &Server) {
    server
        .action(
            "ok",
            "nodejs:20",
            "function main(){ return {ok: true} }",
            json!({}),
        )
        .await;
    assert_eq!(server.result("ok", json!({})).await, json!({"ok": true}));
}

#[tokio::test]
async fn without_the_sandbox_the_same_functions_breach_everything() {
    let server = Server::start_with(&["--sandbox", "off"]);
    let (js, py) = attack(&server).await;
    for breach in [
        "serverCommandLine",
        "guestKey",
        "dataDir",
        "otherTenantMemory",
        "signalServer",
        "writeLauncher",
        "writeBundledModule",
        "hostLoopbackService",
    ] {
        assert!(
            js[breach]
                .as_str()
                .unwrap_or_default()
                .starts_with("reached"),
            "{breach} should be reachable with the sandbox off: {js:#}"
        );
    }
    for breach in [
        "guestKey",
        "dataDir",
        "writeLauncher",
        "hostLoopbackService",
    ] {
        assert!(
            py[breach]
                .as_str()
                .unwrap_or_default()
                .starts_with("reached"),
            "{breach} should be reachable with the sandbox off: {py:#}"
        );
    }
}

/// Host pids of processes whose command line is `sleep <tag>`.
fn sleepers(tag: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| c == format!("sleep\0{tag}\0").as_bytes())
                .unwrap_or(false)
        })
        .collect()
}

async fn until_gone(tag: &str) -> Vec<u32> {
    for _ in 0..100 {
        let left = sleepers(tag);
        if left.is_empty() {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sleepers(tag)
}

#[tokio::test]
async fn nothing_a_function_starts_outlives_its_activation() {
    let server = Server::start();
    server
        .action("daemon", "nodejs:20", DAEMON, json!({}))
        .await;
    let started = server.result("daemon", json!({})).await;
    assert!(started["started"].as_u64().is_some(), "{started}");
    assert_eq!(
        until_gone("31337").await,
        Vec::<u32>::new(),
        "the daemon outlived its activation"
    );
    // The action still runs (in a new sandbox).
    let again = server.result("daemon", json!({})).await;
    assert!(again["started"].as_u64().is_some(), "{again}");
    assert_eq!(until_gone("31337").await, Vec::<u32>::new());
}

#[tokio::test]
async fn a_fork_bomb_ends_at_the_process_limit_with_a_clear_error() {
    let server = Server::start_with(&["--function-pids", "64"]);
    server
        .action(
            "bomb",
            "nodejs:20",
            FORK_BOMB,
            json!({"limits": {"timeout": 3000}}),
        )
        .await;
    let (status, record) = server.invoke("bomb", json!({})).await;
    assert_eq!(status, 502, "{record}");
    assert_eq!(
        record["response"]["result"]["error"],
        "The action reached its limit of 64 processes and threads.",
        "{record}"
    );
    assert_eq!(
        until_gone("31338").await,
        Vec::<u32>::new(),
        "the bomb's processes are gone"
    );
    // Other functions carry on.
    still_serves(&server).await;
}

#[tokio::test]
async fn tmp_is_private_and_bounded() {
    let server = Server::start_with(&["--function-tmp-mb", "16"]);
    server
        .action("fill", "nodejs:20", FILL_TMP, json!({}))
        .await;
    let filled = server.result("fill", json!({})).await;
    assert_eq!(filled["failure"], "ENOSPC", "{filled}");
    assert!(filled["written"].as_u64().unwrap() <= 16, "{filled}");
}

/// Runs for a while with a child process of its own.
const LINGER: &str = r#"
const { spawn } = require('child_process');
async function main() {
  spawn('sleep', ['31339'], { stdio: 'ignore' });
  await new Promise(r => setTimeout(r, 30000));
  return {};
}
"#;

/// The directories of the server's sandboxes in the pids cgroup hierarchy, if the host has one.
fn pids_cgroup_of(server_pid: u32) -> Option<std::path::PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| {
        let mut fields = l.splitn(3, ':');
        let _ = fields.next();
        let controllers = fields.next()?;
        let path = fields.next()?;
        controllers.split(',').any(|c| c == "pids").then_some(path)
    })?;
    Some(
        std::path::Path::new("/sys/fs/cgroup/pids")
            .join(path.trim_start_matches('/'))
            .join(format!("wisp-{server_pid}")),
    )
}

#[tokio::test]
async fn a_server_killed_with_sigkill_leaves_nothing_behind() {
    let mut server = Server::start();
    server
        .action(
            "linger",
            "nodejs:20",
            LINGER,
            json!({"limits": {"timeout": 60000}}),
        )
        .await;
    let (status, _) = server.post("namespaces/_/actions/linger", json!({})).await;
    assert_eq!(status, 202);
    for _ in 0..100 {
        if !sleepers("31339").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !sleepers("31339").is_empty(),
        "the activation started its child"
    );
    let killed = server.pid();
    let cgroups = pids_cgroup_of(killed);
    server.kill9();
    assert_eq!(
        until_gone("31339").await,
        Vec::<u32>::new(),
        "the sandboxes died with the server"
    );
    // The next start removes what the killed server left in the cgroup tree.
    server.launch(&[]);
    if let Some(dir) = cgroups {
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
}
