//! One runtime process: spawning it with its pipes, and the driver task that feeds what it
//! writes to the [`Demux`](crate::demux::Demux).
//!
//! This module is the only place in Wisp that starts processes.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::cgroup::MemoryCgroup;
use crate::demux::{Demux, Finished, Inflight};
use crate::logs::Stream;
use crate::protocol::Reply;

/// Longest log or reply line kept whole; longer lines are split.
const MAX_LINE: usize = 64 * 1024;
/// Largest reply line read from fd 3 (results are limited to 1 MB; leave room for framing).
const MAX_REPLY: usize = 8 * 1024 * 1024;

type Token = oneshot::Sender<Finished>;

/// How to start a launcher.
pub struct Spawn<'a> {
    pub program: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: &'a Path,
    /// The cgroup the process starts in, when the kernel enforces memory limits.
    pub memory_cgroup: Option<MemoryCgroup>,
}

pub struct RuntimeProcess {
    pub pid: u32,
    stdin: Mutex<ChildStdin>,
    registrations: mpsc::UnboundedSender<Inflight<Token>>,
    alive: Arc<AtomicBool>,
    memory_cgroup: Option<Arc<MemoryCgroup>>,
    kernel_limited: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
#[error("could not start runtime process: {0}")]
pub struct SpawnError(String);

impl RuntimeProcess {
    pub fn spawn(spec: Spawn<'_>) -> Result<RuntimeProcess, SpawnError> {
        let (reply_read, reply_write) = pipe().map_err(|e| SpawnError(e.to_string()))?;
        let mut command = Command::new(spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(spec.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        let write_fd = reply_write.as_raw_fd();
        let memory_cgroup = spec.memory_cgroup.map(Arc::new);
        let cgroup_procs = match &memory_cgroup {
            Some(cgroup) => Some(cgroup.procs_file().map_err(|e| SpawnError(e.to_string()))?),
            None => None,
        };
        let procs_fd = cgroup_procs.as_ref().map(|f| f.as_raw_fd());
        // SAFETY: only async-signal-safe calls (write, dup2, fcntl) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if let Some(fd) = procs_fd {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if write_fd == 3 {
                    let flags = libc::fcntl(3, libc::F_GETFD);
                    libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                } else if libc::dup2(write_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| SpawnError(format!("{}: {e}", spec.program.display())))?;
        drop(reply_write);
        drop(cgroup_procs);
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let replies = tokio::net::unix::pipe::Receiver::from_owned_fd(reply_read)
            .map_err(|e| SpawnError(e.to_string()))?;

        let (registrations, rx) = mpsc::unbounded_channel();
        let alive = Arc::new(AtomicBool::new(true));
        let pipes = Pipes {
            stdout: LineReader::new(stdout, MAX_LINE),
            stderr: LineReader::new(stderr, MAX_LINE),
            replies: LineReader::new(replies, MAX_REPLY),
        };
        tokio::spawn(drive(
            child,
            pipes,
            rx,
            alive.clone(),
            memory_cgroup.clone(),
        ));
        Ok(RuntimeProcess {
            pid,
            stdin: Mutex::new(stdin),
            registrations,
            alive,
            memory_cgroup,
            kernel_limited: AtomicBool::new(false),
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
        if self.pid > 0 {
            // SAFETY: plain syscall; a negative pid addresses the process group we created.
            unsafe {
                libc::kill(-(self.pid as i32), libc::SIGKILL);
            }
        }
    }

    /// Has the kernel enforce a memory limit on the process (and its children) where it has a
    /// cgroup; [`kernel_limited`](Self::kernel_limited) says whether that worked, or whether
    /// the caller must watch memory itself.
    pub fn limit_memory(&self, bytes: u64) {
        let Some(cgroup) = &self.memory_cgroup else {
            return;
        };
        match cgroup.limit(bytes) {
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
        self.memory_cgroup
            .as_ref()
            .is_some_and(|cgroup| cgroup.oom_killed())
    }

    /// Resident memory of the process, in bytes.
    pub fn resident_bytes(&self) -> Option<u64> {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.pid)).ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages * page.max(4096) as u64)
    }
}

impl Drop for RuntimeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
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
    stdout: LineReader<tokio::process::ChildStdout>,
    stderr: LineReader<tokio::process::ChildStderr>,
    replies: LineReader<tokio::net::unix::pipe::Receiver>,
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
    mut child: tokio::process::Child,
    mut pipes: Pipes,
    mut registrations: mpsc::UnboundedReceiver<Inflight<Token>>,
    alive: Arc<AtomicBool>,
    // Held until the process is gone: the cgroup can only be removed once it is empty.
    _memory_cgroup: Option<Arc<MemoryCgroup>>,
) {
    let mut demux: Demux<Token> = Demux::default();
    let mut exited = false;
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
            _ = child.wait(), if !exited => {
                exited = true;
                drain.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(50));
                Vec::new()
            }
            _ = &mut drain, if exited && !drained => {
                drained = true;
                Vec::new()
            }
        };
        deliver(finished);
        if !gone && exited && (drained || pipes.all_closed()) {
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
