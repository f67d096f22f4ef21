//! Just enough netlink to set up a sandbox's network namespace from the server: bring its
//! loopback up, give it a default route, and add one nf_tables table. The messages are few and
//! fixed, so they are encoded here rather than through a netlink crate (the Rust nf_tables
//! crates are GPL or bind libnftnl; `rtnetlink` alone would pull in a second async stack).
//!
//! A socket belongs to the network namespace of the thread that opened it, so the caller opens
//! it on a thread that has joined the sandbox's namespace.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_EXCL: u16 = 0x200;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
pub(crate) const NLM_F_APPEND: u16 = 0x800;
const NLA_F_NESTED: u16 = 0x8000;

/// One netlink message under construction: a header, a fixed family header, attributes.
pub(crate) struct Message {
    buf: Vec<u8>,
    open: Vec<usize>,
}

impl Message {
    pub(crate) fn new(kind: u16, flags: u16) -> Message {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set by `Socket::send`
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        Message {
            buf,
            open: Vec::new(),
        }
    }

    fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.buf[6], self.buf[7]])
    }

    /// The family header that follows the netlink header (`ifinfomsg`, `rtmsg`, `nfgenmsg`).
    pub(crate) fn header(mut self, bytes: &[u8]) -> Message {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    pub(crate) fn attr(mut self, kind: u16, value: &[u8]) -> Message {
        let len = u16::try_from(4 + value.len()).expect("a small attribute");
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
        self
    }

    /// A NUL-terminated string attribute.
    pub(crate) fn string(self, kind: u16, value: &str) -> Message {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.attr(kind, &bytes)
    }

    /// A big-endian u32 attribute (nf_tables' convention).
    pub(crate) fn be32(self, kind: u16, value: u32) -> Message {
        self.attr(kind, &value.to_be_bytes())
    }

    /// Opens a nested attribute; attributes until the matching [`end`](Self::end) go in it.
    pub(crate) fn nest(mut self, kind: u16) -> Message {
        self.open.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub(crate) fn end(mut self) -> Message {
        let start = self.open.pop().expect("a nested attribute is open");
        let len = u16::try_from(self.buf.len() - start).expect("a small attribute");
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn finish(&mut self, sequence: u32) {
        assert!(self.open.is_empty(), "every nested attribute is closed");
        let len = u32::try_from(self.buf.len()).expect("a small message");
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&sequence.to_ne_bytes());
    }
}

/// A netlink socket of one protocol (`NETLINK_ROUTE`, `NETLINK_NETFILTER`).
pub(crate) struct Socket {
    fd: OwnedFd,
}

impl Socket {
    pub(crate) fn open(protocol: i32) -> io::Result<Socket> {
        // SAFETY: plain syscall; the fd is new and owned here.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just created.
        Ok(Socket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Sends `messages` in one datagram (a batch, for nf_tables) and waits for the kernel to
    /// acknowledge each that asked for it; the first refusal is the error.
    pub(crate) fn send(&self, mut messages: Vec<Message>) -> io::Result<()> {
        let mut datagram = Vec::new();
        let mut awaited = 0;
        for (sequence, message) in (1u32..).zip(messages.iter_mut()) {
            message.finish(sequence);
            if message.flags() & NLM_F_ACK != 0 {
                awaited += 1;
            }
            datagram.extend_from_slice(&message.buf);
        }
        // SAFETY: the buffer is valid for its length; a zeroed sockaddr_nl addresses the kernel.
        let sent = unsafe {
            let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
            kernel.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(
                self.fd.as_raw_fd(),
                datagram.as_ptr().cast(),
                datagram.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut reply = vec![0u8; 8192];
        while awaited > 0 {
            // SAFETY: the buffer is valid for its length.
            let got = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    reply.as_mut_ptr().cast(),
                    reply.len(),
                    0,
                )
            };
            if got < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut rest = &reply[..got as usize];
            while rest.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
                let kind = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(io::Error::other("a malformed netlink reply"));
                }
                if kind == NLMSG_ERROR && len >= NLMSG_HDRLEN + 4 {
                    let error = i32::from_ne_bytes(
                        rest[NLMSG_HDRLEN..NLMSG_HDRLEN + 4]
                            .try_into()
                            .expect("4 bytes"),
                    );
                    if error != 0 {
                        return Err(io::Error::from_raw_os_error(-error));
                    }
                    awaited -= 1;
                }
                rest = &rest[len.next_multiple_of(4).min(rest.len())..];
            }
        }
        Ok(())
    }
}
