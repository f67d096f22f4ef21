//! Starting a real server for a test, and talking to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// A scratch directory removed when dropped.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("wisp-it-{label}-"))
            .tempdir()
            .expect("a scratch directory");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A running `wisp serve` with its own home and data directory.
pub struct Server {
    child: Option<Child>,
    pub api_host: String,
    pub auth: String,
    pub scratch: Scratch,
    pub http: reqwest::Client,
    /// The key-value store's RESP address: port 6379 as Nimbella's SDKs expect, on a loopback
    /// address of this server's own so parallel tests never share one.
    pub kv_address: String,
    /// Environment variables the server process gets beyond the test's own.
    pub env: Vec<(String, String)>,
    /// The server's stderr, line by line, when the test reads its log.
    logs: Option<Arc<Mutex<Vec<String>>>>,
    /// Where the API listens: a random loopback port unless the test says otherwise.
    listen: String,
}

static NEXT_KV: AtomicUsize = AtomicUsize::new(0);

/// A loopback address no other server of this run (or of another test process) uses.
pub fn kv_address() -> String {
    let pid = std::process::id() as usize;
    let n = NEXT_KV.fetch_add(1, Ordering::SeqCst);
    format!(
        "127.{}.{}.{}:6379",
        (pid >> 8) % 256,
        pid % 256,
        n % 250 + 2
    )
}

pub fn wisp_binary() -> &'static str {
    env!("CARGO_BIN_EXE_wisp")
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// A server started with `extra` flags and `env` variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut server = Server::unlaunched(env);
        server.launch(extra);
        server
    }

    /// A server whose log (stderr) the test reads with [`Server::log_lines`].
    pub fn start_with_logs(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut server = Server::unlaunched(env);
        server.logs = Some(Arc::default());
        server.launch(extra);
        server
    }

    fn unlaunched(env: &[(&str, &str)]) -> Server {
        Server {
            child: None,
            api_host: String::new(),
            auth: String::new(),
            scratch: Scratch::new("server"),
            http: reqwest::Client::new(),
            kv_address: kv_address(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            logs: None,
            listen: "127.0.0.1:0".to_owned(),
        }
    }

    /// A server whose API listens on `listen` (`0.0.0.0:0`: every address, a random port).
    pub fn start_on(listen: &str, extra: &[&str]) -> Server {
        let mut server = Server::unlaunched(&[]);
        server.listen = listen.to_owned();
        server.launch(extra);
        server
    }

    /// The log lines the server has written so far.
    pub fn log_lines(&self) -> Vec<String> {
        let logs = self.logs.as_ref().expect("started with start_with_logs");
        logs.lock().unwrap().clone()
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// The S3 endpoint's address: the key-value store's loopback address, port 9000.
    pub fn s3_address(&self) -> String {
        self.kv_address.replace(":6379", ":9000")
    }

    /// Where `/metrics` is served: the key-value store's loopback address, port 9184.
    pub fn metrics_address(&self) -> String {
        self.kv_address.replace(":6379", ":9184")
    }

    pub fn home(&self) -> &Path {
        self.scratch.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.scratch.path().join("data")
    }

    /// Starts the server process (again) on the same data directory.
    pub fn launch(&mut self, extra: &[&str]) {
        crate::tools::require_runtimes();
        let mut command = Command::new(wisp_binary());
        command
            .args(["serve", "--listen", &self.listen, "--stem-cells", "1"])
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--kv-listen", &self.kv_address])
            .args(["--s3-listen", &self.s3_address()])
            .args(["--metrics-listen", &self.metrics_address()])
            .args(extra)
            .env("HOME", self.home())
            .env_remove("WSK_CONFIG_FILE")
            .env_remove("WISP_GUEST_KEY")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(if self.logs.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
        let mut child = command.spawn().expect("wisp starts");
        if let (Some(logs), Some(stderr)) = (self.logs.clone(), child.stderr.take()) {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut api_host = None;
        let mut auth = None;
        for line in lines.by_ref() {
            let line = line.expect("server output");
            if let Some(host) = line.strip_prefix("wisp: listening on ") {
                api_host = Some(host.to_string());
            }
            if let Some(a) = line.strip_prefix("wisp: guest credentials ") {
                auth = Some(a.to_string());
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.api_host = api_host.expect("server printed its address");
        self.auth = auth.expect("server printed the guest key");
        self.child = Some(child);
    }

    /// `kill -9` the server.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().expect("server exits")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{}", self.api_host, path.trim_start_matches('/'))
    }

    fn basic(&self, auth: &str) -> String {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(auth)
        )
    }

    /// A request with the guest's credentials.
    /// A request as `auth`, or as the guest when `None`.
    pub fn request_by(
        &self,
        auth: Option<&str>,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        match auth {
            Some(auth) => self.request_as(auth, method, path),
            None => self.request(method, path),
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("authorization", self.basic(&self.auth))
    }

    pub fn request_as(
        &self,
        auth: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("authorization", self.basic(auth))
    }

    /// Sends and returns (status, JSON body or Null).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.request(reqwest::Method::PUT, path).json(&body))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.request(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// Creates (or replaces) an action from source.
    pub async fn action(&self, name: &str, kind: &str, code: &str, extra: Value) -> Value {
        let mut body = json!({"exec": {"kind": kind, "code": code}});
        if let Value::Object(fields) = extra {
            for (k, v) in fields {
                body[k] = v;
            }
        }
        let (status, action) = self
            .put(&format!("namespaces/_/actions/{name}?overwrite=true"), body)
            .await;
        assert_eq!(status, 200, "creating {name}: {action}");
        action
    }

    /// Creates (or replaces) an action from a zip archive of `files` (path, contents).
    pub async fn zip_action(&self, name: &str, kind: &str, files: &[(&str, &str)]) -> Value {
        let body = json!({"exec": {"kind": kind, "code": zip(files), "binary": true}});
        let (status, action) = self
            .put(&format!("namespaces/_/actions/{name}?overwrite=true"), body)
            .await;
        assert_eq!(status, 200, "creating {name}: {action}");
        action
    }

    /// Blocking invoke; returns (status, body).
    pub async fn invoke(&self, name: &str, params: Value) -> (u16, Value) {
        self.post(
            &format!("namespaces/_/actions/{name}?blocking=true"),
            params,
        )
        .await
    }

    /// Blocking invoke of an action that must succeed; returns its result.
    pub async fn result(&self, name: &str, params: Value) -> Value {
        let (status, body) = self
            .post(
                &format!("namespaces/_/actions/{name}?blocking=true&result=true"),
                params,
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
        body
    }

    /// Polls until the activation's record is stored.
    /// The result of a blocking `result=true` invoke that answered `status` and `body`: the
    /// body itself, or, when the blocking wait ran out first (202 on a busy machine: many cold
    /// starts at once), the result of its record once stored (within two minutes).
    pub async fn settled(&self, status: u16, body: Value) -> Value {
        if status != 202 {
            assert_eq!(status, 200, "{body}");
            return body;
        }
        let id = body["activationId"]
            .as_str()
            .expect("a 202 names its activation");
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let (status, record) = self.get(&format!("namespaces/_/activations/{id}")).await;
            if status == 200 {
                assert_eq!(record["response"]["status"], "success", "{record}");
                return record["response"]["result"].clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "activation {id} never stored"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `count` blocking invokes of the guest's `action` with `params`, all at once; their
    /// results (see [`Server::settled`]).
    pub async fn invoke_concurrently(
        &self,
        action: &str,
        params: Value,
        count: usize,
    ) -> Vec<Value> {
        let mut runs = tokio::task::JoinSet::new();
        for _ in 0..count {
            let request = self
                .request(
                    reqwest::Method::POST,
                    &format!("namespaces/_/actions/{action}?blocking=true&result=true"),
                )
                .json(&params);
            runs.spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            });
        }
        let mut results = Vec::new();
        while let Some(done) = runs.join_next().await {
            let (status, body) = done.unwrap();
            results.push(self.settled(status, body).await);
        }
        results
    }

    pub async fn wait_for_activation(&self, id: &str) -> Value {
        for _ in 0..200 {
            let (status, body) = self.get(&format!("namespaces/_/activations/{id}")).await;
            if status == 200 {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("activation {id} never stored");
    }

    /// Runs the `wisp` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_env(args, &[])
    }

    /// Runs the `wisp` CLI against this server with extra environment variables.
    pub fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(wisp_binary())
            .args(args)
            .envs(env.iter().copied())
            .env("HOME", self.home())
            .env("WSK_CONFIG_FILE", self.home().join("cli.wskprops"))
            .env("WISP_APIHOST", &self.api_host)
            .env("WISP_AUTH", &self.auth)
            .output()
            .expect("the CLI runs")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The error message of an activation record that must be a developer error answered 502.
pub fn developer_error_of(name: &str, status: u16, record: &Value) -> String {
    assert_eq!(status, 502, "{name}: {record}");
    assert_eq!(
        record["response"]["status"], "action developer error",
        "{name}: {record}"
    );
    record["response"]["result"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Creates namespace `name` with `wisp admin` on the server's data directory; returns its key.
pub fn admin_namespace(server: &Server, name: &str) -> String {
    let admin = Command::new(wisp_binary())
        .args(["admin", "namespace", "create", name, "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    String::from_utf8(admin.stdout).unwrap().trim().to_string()
}

/// A zip archive of `files` (path, contents), base64-encoded as action code.
pub fn zip(files: &[(&str, &str)]) -> String {
    archive(files, None)
}

/// A base64 zip of `files` plus every regular file under `tree`, stored below `prefix` (for
/// actions that bring a `node_modules/` or a `virtualenv/`).
pub fn zip_with_tree(files: &[(&str, &str)], tree: (&str, &Path)) -> String {
    archive(files, Some(tree))
}

fn archive(files: &[(&str, &str)], tree: Option<(&str, &Path)>) -> String {
    use base64::Engine;
    use std::io::Write;
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(&entry.path(), out);
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut buffer);
    let options = zip::write::SimpleFileOptions::default();
    for (name, contents) in files {
        writer.start_file(*name, options).unwrap();
        writer.write_all(contents.as_bytes()).unwrap();
    }
    if let Some((prefix, root)) = tree {
        let mut paths = Vec::new();
        walk(root, &mut paths);
        paths.sort();
        for path in paths {
            let relative = path.strip_prefix(root).unwrap().to_string_lossy();
            writer
                .start_file(format!("{prefix}/{relative}"), options)
                .unwrap();
            writer.write_all(&std::fs::read(&path).unwrap()).unwrap();
        }
    }
    writer.finish().unwrap();
    base64::engine::general_purpose::STANDARD.encode(buffer.into_inner())
}

/// The value of an annotation of an entity or activation record.
pub fn annotation<'a>(record: &'a Value, key: &str) -> Option<&'a Value> {
    record["annotations"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

/// The error message of an OpenWhisk error body, checking its shape.
pub fn error_message(body: &Value) -> &str {
    let code = body["code"].as_str().expect("error bodies carry a code");
    assert_eq!(code.len(), 32, "transaction ids are 32 characters: {body}");
    body["error"]
        .as_str()
        .expect("error bodies carry a message")
}

/// What a CLI run printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a CLI run printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the CLI, asserts it succeeded and returns its stdout.
pub fn ok(server: &Server, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(
        out.status.success(),
        "wisp {}: {}",
        args.join(" "),
        stderr(&out)
    );
    stdout(&out)
}

/// Parses CLI output as JSON, showing it when it is not.
pub fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Writes `code` to a file in the server's scratch home and returns its path.
pub fn source(server: &Server, file: &str, code: &str) -> String {
    let path = server.home().join(file);
    std::fs::write(&path, code).unwrap();
    path.to_str().unwrap().to_string()
}

/// Sends each command (an array of strings) over RESP2 and answers the replies, after
/// authenticating with the namespace's password.
pub const RESP_CLIENT: &str = r#"
const net = require('net')
function encode (args) {
  return '*' + args.length + '\r\n' + args.map(a => '$' + Buffer.byteLength(String(a)) + '\r\n' + a + '\r\n').join('')
}
function parse (buf, at) {
  const line = buf.indexOf('\r\n', at)
  if (line < 0) return null
  const head = buf.slice(at, line).toString()
  const rest = line + 2
  switch (head[0]) {
    case '+': return [head.slice(1), rest]
    case '-': return [{ error: head.slice(1) }, rest]
    case ':': return [Number(head.slice(1)), rest]
    case '$': {
      const n = Number(head.slice(1))
      if (n < 0) return [null, rest]
      if (buf.length < rest + n + 2) return null
      return [buf.slice(rest, rest + n).toString(), rest + n + 2]
    }
    case '*': {
      const n = Number(head.slice(1)); const items = []; let pos = rest
      for (let i = 0; i < n; i++) { const r = parse(buf, pos); if (!r) return null; items.push(r[0]); pos = r[1] }
      return [items, pos]
    }
  }
  throw new Error('bad reply ' + head)
}
function main ({ commands }) {
  const all = [['AUTH', process.env.__NIM_REDIS_PASSWORD], ...commands]
  return new Promise((resolve, reject) => {
    const socket = net.connect(6379, process.env.__NIM_REDIS_IP)
    let buf = Buffer.alloc(0); const replies = []
    socket.on('error', reject)
    socket.on('data', data => {
      buf = Buffer.concat([buf, data]); let at = 0; let r
      while ((r = parse(buf, at))) { replies.push(r[0]); at = r[1] }
      buf = buf.slice(at)
      if (replies.length === all.length) { socket.end(); resolve({ replies: replies.slice(1), auth: replies[0], ip: process.env.__NIM_REDIS_IP }) }
    })
    socket.write(all.map(encode).join(''))
  })
}
"#;

/// Runs RESP commands in the `kv` action (see [`create_resp_client`]) as `auth` (the guest
/// when `None`); returns the replies.
pub async fn resp(server: &Server, auth: Option<&str>, commands: Value) -> Value {
    let request = server.request_by(
        auth,
        reqwest::Method::POST,
        "namespaces/_/actions/kv?blocking=true&result=true",
    );
    let (status, body) = server
        .send(request.json(&json!({ "commands": commands })))
        .await;
    let body = server.settled(status, body).await;
    assert_eq!(body["auth"], "OK", "{body}");
    body["replies"].clone()
}

/// Creates the `kv` action, a RESP2 client of the namespace's key-value store.
pub async fn create_resp_client(server: &Server, auth: Option<&str>) {
    let body = json!({"exec": {"kind": "nodejs:20", "code": RESP_CLIENT}});
    let request = server.request_by(
        auth,
        reqwest::Method::PUT,
        "namespaces/_/actions/kv?overwrite=true",
    );
    let (status, body) = server.send(request.json(&body)).await;
    assert_eq!(status, 200, "{body}");
}
