//! One runtime process: spawning it in its sandbox with its pipes, and the driver task that
//! feeds what it writes to the [`Demux`](super::demux::Demux).
//!
//! This module is the only place in the invoker that starts processes; the sandbox crate makes
//! the sandbox around each one.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot, Mutex};
use wisp_sandbox::{Sandboxed, Sandboxes};

use super::demux::{Demux, Finished, Inflight};
use super::protocol::Reply;
use crate::logs::Stream;

/// Longest log or reply line kept whole; longer lines are split.
const MAX_LINE: usize = 64 * 1024;
/// Largest reply line read from fd 3 (results are limited to 1 MB; leave room for framing).
const MAX_REPLY: usize = 8 * 1024 * 1024;

type Token = oneshot::Sender<Finished>;

/// How to start a launcher: paths as the process sees them.
pub struct Spawn {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

pub struct RuntimeProcess {
    stdin: Mutex<pipe::Sender>,
    registrations: mpsc::UnboundedSender<Inflight<Token>>,
    alive: Arc<AtomicBool>,
    sandbox: Arc<Sandboxed>,
    kernel_limited: AtomicBool,
    /// Forks the pids limit had refused when last asked.
    pids_refused: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
#[error("could not start runtime process: {0}")]
pub struct SpawnError(String);

impl RuntimeProcess {
    pub async fn spawn(sandboxes: &Sandboxes, spec: Spawn) -> Result<RuntimeProcess, SpawnError> {
        let err = |e: std::io::Error| SpawnError(e.to_string());
        let (stdin_read, stdin_write) = pipe_pair().map_err(err)?;
        let (stdout_read, stdout_write) = pipe_pair().map_err(err)?;
        let (stderr_read, stderr_write) = pipe_pair().map_err(err)?;
        let (reply_read, reply_write) = pipe_pair().map_err(err)?;
        let sandboxes = sandboxes.clone();
        // Making the sandbox blocks for its setup (about a millisecond).
        let sandbox = tokio::task::spawn_blocking(move || {
            sandboxes.spawn(wisp_sandbox::Spec {
                program: &spec.program,
                args: &spec.args,
                env: &spec.env,
                cwd: &spec.cwd,
                stdio: [stdin_read, stdout_write, stderr_write, reply_write],
            })
        })
        .await
        .map_err(|e| SpawnError(e.to_string()))?
        .map_err(|e| SpawnError(e.to_string()))?;
        let sandbox = Arc::new(sandbox);
        // SAFETY: the pidfd is owned by the sandbox that `Pidfd` holds, so it stays open for
        // as long as it is registered.
        let exited = unsafe {
            AsyncFd::register_with_interest(Pidfd(sandbox.clone()), tokio::io::Interest::READABLE)
        }
        .map_err(|e| SpawnError(e.to_string()))?;
        let stdin = pipe::Sender::from_owned_fd(stdin_write).map_err(err)?;
        let receiver = |fd| pipe::Receiver::from_owned_fd(fd).map_err(err);
        let (registrations, rx) = mpsc::unbounded_channel();
        let alive = Arc::new(AtomicBool::new(true));
        let pipes = Pipes {
            stdout: LineReader::new(receiver(stdout_read)?, MAX_LINE),
            stderr: LineReader::new(receiver(stderr_read)?, MAX_LINE),
            replies: LineReader::new(receiver(reply_read)?, MAX_REPLY),
        };
        tokio::spawn(drive(exited, pipes, rx, alive.clone()));
        Ok(RuntimeProcess {
            stdin: Mutex::new(stdin),
            registrations,
            alive,
            sandbox,
            kernel_limited: AtomicBool::new(false),
            pids_refused: AtomicU64::new(0),
        })
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Registers an exchange and returns the receiver of its outcome. Register before writing
    /// the message, so no reply can arrive first.
    pub fn expect(
        &self,
        id: Option<String>,
        sentinels: bool,
        log_limit: usize,
    ) -> oneshot::Receiver<Finished> {
        let (tx, rx) = oneshot::channel();
        let _ = self
            .registrations
            .send(Inflight::new(id, sentinels, log_limit, tx));
        rx
    }

    pub async fn send(&self, line: &str) -> std::io::Result<()> {
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(line.as_bytes()).await?;
        stdin.flush().await
    }

    /// Kills the process and everything it started.
    pub fn kill(&self) {
        self.alive.store(false, Ordering::Release);
        self.sandbox.kill();
    }

    /// Has the kernel enforce a memory limit on the process (and its children) where it has a
    /// cgroup, and weighs its CPU share by it; [`kernel_limited`](Self::kernel_limited) says
    /// whether the limit holds, or whether the caller must watch memory itself.
    pub fn limit_memory(&self, bytes: u64) {
        let Some(cgroup) = self.sandbox.cgroup() else {
            return;
        };
        if let Err(e) = cgroup.weigh_cpu(bytes >> 20) {
            tracing::warn!(error = %e, "cpu weight not set");
        }
        if !cgroup.limits_memory() {
            return;
        }
        match cgroup.limit_memory(bytes) {
            Ok(()) => self.kernel_limited.store(true, Ordering::Release),
            Err(e) => tracing::warn!(error = %e, "memory cgroup limit not set; polling instead"),
        }
    }

    /// Whether the kernel enforces a memory limit on this process.
    pub fn kernel_limited(&self) -> bool {
        self.kernel_limited.load(Ordering::Acquire)
    }

    /// Whether the kernel killed the process for exceeding its memory limit.
    pub fn oom_killed(&self) -> bool {
        self.sandbox.cgroup().is_some_and(|c| c.oom_killed())
    }

    /// Whether a fork in the sandbox was refused for its process limit since the last call.
    pub fn pids_exhausted(&self) -> bool {
        let refused = self.sandbox.cgroup().map_or(0, |c| c.pids_refused());
        self.pids_refused.swap(refused, Ordering::AcqRel) < refused
    }

    /// Whether something the function started is still running beside the runtime.
    pub fn has_strays(&self) -> bool {
        self.sandbox.has_strays()
    }

    /// Makes an action's unpacked code visible to the process; returns where it sees it.
    pub async fn mount_code(&self, host_dir: PathBuf) -> std::io::Result<PathBuf> {
        let sandbox = self.sandbox.clone();
        tokio::task::spawn_blocking(move || sandbox.mount_code(&host_dir))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Resident memory of the process and everything it started, in bytes.
    pub fn resident_bytes(&self) -> Option<u64> {
        let pids = match self.sandbox.cgroup() {
            Some(cgroup) => cgroup.processes().ok()?,
            None => vec![self.sandbox.pid()],
        };
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        let pages: u64 = pids
            .iter()
            .filter_map(|pid| {
                let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
                statm.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .sum();
        Some(pages * page)
    }
}

impl Drop for RuntimeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What `program args` prints on stdout, for questions asked of an interpreter at start.
pub fn output_of(program: &std::path::Path, args: &[&str]) -> std::io::Result<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The sandbox's pidfd, readable once its first process has exited.
struct Pidfd(Arc<Sandboxed>);

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.pidfd()
    }
}

impl AsRawFd for Pidfd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.pidfd().as_raw_fd()
    }
}

/// A pipe whose ends are both close-on-exec; the sandbox moves the child's end to its fd.
fn pipe_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid two-element array; on success both fds are new and owned here.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// A pipe read in chunks and cut into lines.
struct LineReader<R> {
    pipe: R,
    open: bool,
    pending: Vec<u8>,
    chunk: Box<[u8]>,
    /// Longer lines are cut at this length.
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(pipe: R, max: usize) -> LineReader<R> {
        LineReader {
            pipe,
            open: true,
            pending: Vec::with_capacity(4096),
            chunk: vec![0u8; 16 * 1024].into_boxed_slice(),
            max,
        }
    }

    /// Reads once; cancel-safe, so it can sit in a `select!`. Returns false at end of pipe.
    async fn fill(&mut self) -> bool {
        match self.pipe.read(&mut self.chunk).await {
            Ok(n) if n > 0 => {
                self.pending.extend_from_slice(&self.chunk[..n]);
                true
            }
            _ => {
                self.open = false;
                false
            }
        }
    }

    /// Takes the complete lines read so far (and, at end of pipe, the unterminated rest).
    fn take_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|b| *b == b'\n') {
            lines.push(String::from_utf8_lossy(&self.pending[start..start + offset]).into_owned());
            start += offset + 1;
        }
        self.pending.drain(..start);
        if !self.pending.is_empty() && (self.pending.len() >= self.max || !self.open) {
            lines.push(String::from_utf8_lossy(&self.pending).into_owned());
            self.pending.clear();
        }
        lines
    }
}

struct Pipes {
    stdout: LineReader<pipe::Receiver>,
    stderr: LineReader<pipe::Receiver>,
    replies: LineReader<pipe::Receiver>,
}

impl Pipes {
    fn all_closed(&self) -> bool {
        !self.stdout.open && !self.stderr.open && !self.replies.open
    }
}

/// The one task per process: reads its three pipes, watches it exit, takes registrations and
/// feeds all of it to the demultiplexer. One task rather than one per pipe keeps a warm
/// exchange to a single wake-up per pipe write.
async fn drive(
    // Held until the process is gone: its sandbox (cgroups, uid) goes with the last holder.
    exited: AsyncFd<Pidfd>,
    mut pipes: Pipes,
    mut registrations: mpsc::UnboundedReceiver<Inflight<Token>>,
    alive: Arc<AtomicBool>,
) {
    let mut demux: Demux<Token> = Demux::default();
    let mut has_exited = false;
    let mut drained = false;
    // The process has exited and its pipes are drained: every exchange left is finished.
    let mut gone = false;
    let mut owner_dropped = false;
    // After the process exits, its pipes get a moment to drain (a grandchild may hold them
    // open, so the wait is bounded).
    let drain = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(drain);
    loop {
        let finished = tokio::select! {
            // Registrations first: one is always sent before the message it expects a reply
            // to, so polling it first keeps a reply from overtaking its registration.
            biased;
            registration = registrations.recv(), if !owner_dropped => match registration {
                Some(exchange) => {
                    demux.register(exchange);
                    if gone { demux.exited() } else { Vec::new() }
                }
                None => {
                    owner_dropped = true;
                    Vec::new()
                }
            },
            _ = pipes.stdout.fill(), if pipes.stdout.open => {
                log_lines(&mut demux, Stream::Stdout, pipes.stdout.take_lines())
            }
            _ = pipes.stderr.fill(), if pipes.stderr.open => {
                log_lines(&mut demux, Stream::Stderr, pipes.stderr.take_lines())
            }
            _ = pipes.replies.fill(), if pipes.replies.open => {
                let mut finished = Vec::new();
                for line in pipes.replies.take_lines() {
                    finished.extend(reply_line(&mut demux, &line));
                }
                finished
            }
            _ = exited.readable(), if !has_exited => {
                has_exited = true;
                exited.get_ref().0.try_wait();
                drain.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(50));
                Vec::new()
            }
            _ = &mut drain, if has_exited && !drained => {
                drained = true;
                Vec::new()
            }
        };
        deliver(finished);
        if !gone && has_exited && (drained || pipes.all_closed()) {
            gone = true;
            alive.store(false, Ordering::Release);
            deliver(demux.exited());
        }
        if gone && owner_dropped {
            return;
        }
    }
}

fn deliver(finished: Vec<(Token, Finished)>) {
    for (token, outcome) in finished {
        let _ = token.send(outcome);
    }
}

fn log_lines(
    demux: &mut Demux<Token>,
    stream: Stream,
    lines: Vec<String>,
) -> Vec<(Token, Finished)> {
    let now = SystemTime::now();
    let mut finished = Vec::new();
    for line in lines {
        finished.extend(demux.log_line(stream, now, &line));
    }
    finished
}

fn reply_line(demux: &mut Demux<Token>, line: &str) -> Vec<(Token, Finished)> {
    match serde_json::from_str::<Reply>(line) {
        Ok(reply) => demux.reply(reply, line.len()),
        // A result the server cannot take (nested deeper than serde_json's 128 levels, a lone
        // UTF-16 surrogate, not JSON at all) ends its activation now, saying why; the line
        // lost its activation id with the parse, so the demultiplexer finds it leniently.
        Err(e) => {
            let error = format!(
                "The action did not produce a valid JSON response: {e}, near '{}'",
                near(line, e.column())
            );
            let reply = Reply {
                ready: false,
                ok: false,
                activation_id: None,
                result: None,
                error: Some(error.into()),
            };
            demux.unparsable_reply(line, reply)
        }
    }
}

/// What `line` holds around its one-based `column`, where a parse stopped.
fn near(line: &str, column: usize) -> &str {
    let start = line.floor_char_boundary(column.saturating_sub(30));
    let end = line.floor_char_boundary((column + 10).min(line.len()));
    &line[start..end]
}
