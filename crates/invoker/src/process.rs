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

use crate::demux::{Demux, Finished, Inflight};
use crate::logs::Stream;
use crate::protocol::Reply;

/// Longest log or reply line kept whole; longer lines are split.
const MAX_LINE: usize = 64 * 1024;
/// Largest reply line read from fd 3 (results are limited to 1 MB; leave room for framing).
const MAX_REPLY: usize = 8 * 1024 * 1024;

type Token = oneshot::Sender<Finished>;

enum Event {
    Register(Inflight<Token>),
    Line(Stream, SystemTime, String),
    Reply(String),
    Exited,
}

/// How to start a launcher.
pub struct Spawn<'a> {
    pub program: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: &'a Path,
}

pub struct RuntimeProcess {
    pub pid: u32,
    stdin: Mutex<ChildStdin>,
    events: mpsc::UnboundedSender<Event>,
    alive: Arc<AtomicBool>,
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
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            command.pre_exec(move || {
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
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let replies = tokio::net::unix::pipe::Receiver::from_owned_fd(reply_read)
            .map_err(|e| SpawnError(e.to_string()))?;

        let (events, rx) = mpsc::unbounded_channel();
        let alive = Arc::new(AtomicBool::new(true));
        tokio::spawn(pump_lines(stdout, Some(Stream::Stdout), events.clone()));
        tokio::spawn(pump_lines(stderr, Some(Stream::Stderr), events.clone()));
        tokio::spawn(pump_lines(replies, None, events.clone()));
        let exit_events = events.clone();
        tokio::spawn(async move {
            let _ = child.wait().await;
            // Let the pipes drain what the process wrote before it went.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = exit_events.send(Event::Exited);
        });
        tokio::spawn(drive(rx, alive.clone()));
        Ok(RuntimeProcess {
            pid,
            stdin: Mutex::new(stdin),
            events,
            alive,
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
            .events
            .send(Event::Register(Inflight::new(id, sentinels, log_limit, tx)));
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

/// Reads lines from a pipe and forwards them; `stream` None means the reply pipe.
async fn pump_lines<R: AsyncRead + Unpin>(
    mut pipe: R,
    stream: Option<Stream>,
    events: mpsc::UnboundedSender<Event>,
) {
    let max = if stream.is_some() {
        MAX_LINE
    } else {
        MAX_REPLY
    };
    let mut pending: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = SystemTime::now();
        pending.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        while let Some(offset) = pending[start..].iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&pending[start..start + offset]).into_owned();
            start += offset + 1;
            if forward(&events, stream, now, line).is_err() {
                return;
            }
        }
        pending.drain(..start);
        if pending.len() >= max {
            let line = String::from_utf8_lossy(&pending).into_owned();
            pending.clear();
            if forward(&events, stream, now, line).is_err() {
                return;
            }
        }
    }
    if !pending.is_empty() {
        let line = String::from_utf8_lossy(&pending).into_owned();
        let _ = forward(&events, stream, SystemTime::now(), line);
    }
}

fn forward(
    events: &mpsc::UnboundedSender<Event>,
    stream: Option<Stream>,
    time: SystemTime,
    line: String,
) -> Result<(), ()> {
    let event = match stream {
        Some(stream) => Event::Line(stream, time, line),
        None => Event::Reply(line),
    };
    events.send(event).map_err(drop)
}

async fn drive(mut events: mpsc::UnboundedReceiver<Event>, alive: Arc<AtomicBool>) {
    let mut demux: Demux<Token> = Demux::default();
    let mut exited = false;
    while let Some(event) = events.recv().await {
        let finished = match event {
            Event::Register(exchange) => {
                demux.register(exchange);
                if exited {
                    demux.exited()
                } else {
                    Vec::new()
                }
            }
            Event::Line(stream, time, line) => demux.log_line(stream, time, &line),
            Event::Reply(line) => {
                let size = line.len();
                let reply = serde_json::from_str::<Reply>(&line).unwrap_or_else(|_| Reply {
                    ready: false,
                    ok: false,
                    activation_id: None,
                    result: None,
                    error: Some(
                        format!(
                            "The action did not produce a valid JSON response: {}",
                            truncate(&line, 200)
                        )
                        .into(),
                    ),
                });
                demux.reply(reply, size)
            }
            Event::Exited => {
                exited = true;
                alive.store(false, Ordering::Release);
                demux.exited()
            }
        };
        for (token, outcome) in finished {
            let _ = token.send(outcome);
        }
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
