//! What makes an isolated network namespace's outbound traffic the server's to decide: a
//! default route over loopback, and one nf_tables table that redirects every TCP connection to
//! a non-loopback address, and every DNS query, to the server's listeners inside the namespace
//! (127.0.0.1:[`OUTBOUND_PORT`] and 127.0.0.1:53). The server then reads each connection's
//! original destination and, if the operator's policy allows it, connects from the host.
//!
//! Nothing of the host's network is touched: no veth, no NAT on the host, no `ip_forward`. The
//! function cannot change these rules: it runs with no capabilities, and its namespace's owner
//! is a user namespace in which it is not root.
//!
//! Called on a thread that has joined the sandbox's network namespace.

use std::io;

use crate::netlink::NLM_F_REQUEST;
use crate::netlink::{Message, Socket, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};

/// Where redirected TCP connections arrive, inside the namespace. A privileged port, so no
/// function can bind it first.
pub(crate) const OUTBOUND_PORT: u16 = 1;
/// Where redirected DNS queries arrive, inside the namespace.
pub(crate) const DNS_PORT: u16 = 53;

const LOOPBACK_INDEX: i32 = 1;

/// Brings `lo` up (sandboxes do it themselves; the probe's bare namespace needs it).
pub(crate) fn loopback_up() -> io::Result<()> {
    const RTM_NEWLINK: u16 = 16;
    // struct ifinfomsg: family, pad, type, index, flags, change.
    let mut ifinfo = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
    ifinfo.extend_from_slice(&LOOPBACK_INDEX.to_ne_bytes());
    ifinfo.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    ifinfo.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    Socket::open(libc::NETLINK_ROUTE)?.send(vec![Message::new(
        RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK,
    )
    .header(&ifinfo)])
}

/// A default route over loopback with 127.0.0.1 as the source, so a connection to any address
/// leaves the socket layer (and meets the redirect) instead of failing as unreachable; replies
/// then come back from the address the function asked for.
pub(crate) fn route_everything_to_loopback() -> io::Result<()> {
    const RTM_NEWROUTE: u16 = 24;
    const RT_TABLE_MAIN: u8 = 254;
    const RTPROT_STATIC: u8 = 4;
    const RT_SCOPE_LINK: u8 = 253;
    const RTN_UNICAST: u8 = 1;
    const RTA_OIF: u16 = 4;
    const RTA_PREFSRC: u16 = 7;
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    let mut rtmsg = vec![
        libc::AF_INET as u8,
        0,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_STATIC,
        RT_SCOPE_LINK,
        RTN_UNICAST,
    ];
    rtmsg.extend_from_slice(&0u32.to_ne_bytes());
    let message = Message::new(
        RTM_NEWROUTE,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    )
    .header(&rtmsg)
    .attr(RTA_OIF, &LOOPBACK_INDEX.to_ne_bytes())
    .attr(RTA_PREFSRC, &[127, 0, 0, 1]);
    Socket::open(libc::NETLINK_ROUTE)?.send(vec![message])
}

// nf_tables' netlink vocabulary (linux/netfilter/nf_tables.h, nfnetlink.h).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFPROTO_IPV4: u8 = 2;
const NF_INET_LOCAL_OUT: u32 = 3;
const NF_IP_PRI_NAT_DST: i32 = -100;
const NFT_REG_1: u32 = 1;
const NFT_META_L4PROTO: u32 = 16;
const NFT_CMP_EQ: u32 = 0;
const NFT_CMP_NEQ: u32 = 1;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;
const NF_NAT_RANGE_PROTO_SPECIFIED: u32 = 2;

const TABLE: &str = "wisp";
const CHAIN: &str = "outbound";

/// `table ip wisp { chain outbound { type nat hook output priority -100;
///   meta l4proto tcp ip daddr != 127.0.0.0/8 redirect to :OUTBOUND_PORT
///   meta l4proto udp udp dport 53 redirect } }`
pub(crate) fn redirect_to_server() -> io::Result<()> {
    let tcp = [
        meta_l4proto(),
        compare(NFT_CMP_EQ, &[libc::IPPROTO_TCP as u8]),
        // The first byte of the destination address: not 127.
        payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 1),
        compare(NFT_CMP_NEQ, &[127]),
        immediate(&OUTBOUND_PORT.to_be_bytes()),
        redirect(true),
    ];
    let dns = [
        meta_l4proto(),
        compare(NFT_CMP_EQ, &[libc::IPPROTO_UDP as u8]),
        // The UDP destination port.
        payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2),
        compare(NFT_CMP_EQ, &DNS_PORT.to_be_bytes()),
        redirect(false),
    ];
    let table = nft(NFT_MSG_NEWTABLE, NLM_F_CREATE).string(1, TABLE);
    let chain = nft(NFT_MSG_NEWCHAIN, NLM_F_CREATE)
        .string(1, TABLE) // NFTA_CHAIN_TABLE
        .string(3, CHAIN) // NFTA_CHAIN_NAME
        .nest(4) // NFTA_CHAIN_HOOK
        .be32(1, NF_INET_LOCAL_OUT) // NFTA_HOOK_HOOKNUM
        .be32(2, NF_IP_PRI_NAT_DST as u32) // NFTA_HOOK_PRIORITY
        .end()
        .string(7, "nat"); // NFTA_CHAIN_TYPE
    let batch = vec![
        batch_marker(NFNL_MSG_BATCH_BEGIN),
        table,
        chain,
        rule(&tcp),
        rule(&dns),
        batch_marker(NFNL_MSG_BATCH_END),
    ];
    Socket::open(libc::NETLINK_NETFILTER)?.send(batch)
}

/// An expression: its name and the attributes inside its `NFTA_EXPR_DATA`.
struct Expr {
    name: &'static str,
    data: Vec<Attr>,
}

enum Attr {
    Be32(u16, u32),
    /// A nested `NFTA_DATA_VALUE`.
    Value(u16, Vec<u8>),
}

fn meta_l4proto() -> Expr {
    Expr {
        name: "meta",
        // NFTA_META_DREG, NFTA_META_KEY
        data: vec![Attr::Be32(1, NFT_REG_1), Attr::Be32(2, NFT_META_L4PROTO)],
    }
}

fn compare(op: u32, value: &[u8]) -> Expr {
    Expr {
        name: "cmp",
        // NFTA_CMP_SREG, NFTA_CMP_OP, NFTA_CMP_DATA
        data: vec![
            Attr::Be32(1, NFT_REG_1),
            Attr::Be32(2, op),
            Attr::Value(3, value.to_vec()),
        ],
    }
}

fn payload(base: u32, offset: u32, len: u32) -> Expr {
    Expr {
        name: "payload",
        // NFTA_PAYLOAD_DREG, _BASE, _OFFSET, _LEN
        data: vec![
            Attr::Be32(1, NFT_REG_1),
            Attr::Be32(2, base),
            Attr::Be32(3, offset),
            Attr::Be32(4, len),
        ],
    }
}

fn immediate(value: &[u8]) -> Expr {
    Expr {
        name: "immediate",
        // NFTA_IMMEDIATE_DREG, NFTA_IMMEDIATE_DATA
        data: vec![Attr::Be32(1, NFT_REG_1), Attr::Value(2, value.to_vec())],
    }
}

/// Redirects to the port in register 1 (`to_port`) or keeps the destination port.
fn redirect(to_port: bool) -> Expr {
    Expr {
        name: "redir",
        // NFTA_REDIR_REG_PROTO_MIN, _MAX, NFTA_REDIR_FLAGS
        data: if to_port {
            vec![
                Attr::Be32(1, NFT_REG_1),
                Attr::Be32(2, NFT_REG_1),
                Attr::Be32(3, NF_NAT_RANGE_PROTO_SPECIFIED),
            ]
        } else {
            Vec::new()
        },
    }
}

fn nft(kind: u16, flags: u16) -> Message {
    Message::new(
        (NFNL_SUBSYS_NFTABLES << 8) | kind,
        NLM_F_REQUEST | NLM_F_ACK | flags,
    )
    // struct nfgenmsg: family, version, resource id.
    .header(&[NFPROTO_IPV4, 0, 0, 0])
}

fn batch_marker(kind: u16) -> Message {
    let subsystem = NFNL_SUBSYS_NFTABLES.to_be_bytes();
    Message::new(kind, NLM_F_REQUEST).header(&[
        libc::AF_UNSPEC as u8,
        0,
        subsystem[0],
        subsystem[1],
    ])
}

fn rule(exprs: &[Expr]) -> Message {
    let mut message = nft(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND)
        .string(1, TABLE) // NFTA_RULE_TABLE
        .string(2, CHAIN) // NFTA_RULE_CHAIN
        .nest(4); // NFTA_RULE_EXPRESSIONS
    for expr in exprs {
        message = message
            .nest(1) // NFTA_LIST_ELEM
            .string(1, expr.name) // NFTA_EXPR_NAME
            .nest(2); // NFTA_EXPR_DATA
        for attr in &expr.data {
            message = match attr {
                Attr::Be32(kind, value) => message.be32(*kind, *value),
                Attr::Value(kind, bytes) => message.nest(*kind).attr(1, bytes).end(),
            };
        }
        message = message.end().end();
    }
    message.end()
}

/// Whether this host lets the server redirect a namespace's traffic: the whole setup, in a
/// throwaway network namespace of a thread of its own.
pub(crate) fn probe() -> io::Result<()> {
    std::thread::Builder::new()
        .name("wisp-sandbox-probe".into())
        .spawn(|| {
            // SAFETY: only this thread's network namespace changes; it ends after the probe.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET)? };
            loopback_up()?;
            route_everything_to_loopback()?;
            redirect_to_server()?;
            std::net::TcpListener::bind(("127.0.0.1", OUTBOUND_PORT))?;
            std::net::UdpSocket::bind(("127.0.0.1", DNS_PORT))?;
            Ok(())
        })?
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the probe thread panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs as root only (the setup needs CAP_NET_ADMIN and CAP_SYS_ADMIN); elsewhere the
    /// probe's refusal is what the server reports.
    #[test]
    fn a_redirected_connection_keeps_its_original_destination() {
        if !rustix::process::geteuid().is_root() {
            assert!(probe().is_err());
            return;
        }
        let seen = std::thread::spawn(|| -> io::Result<(std::net::SocketAddr, String)> {
            // SAFETY: only this thread's network namespace changes; it ends after the test.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET)? };
            loopback_up()?;
            route_everything_to_loopback()?;
            redirect_to_server()?;
            let listener = std::net::TcpListener::bind(("127.0.0.1", OUTBOUND_PORT))?;
            let dns = std::net::UdpSocket::bind(("127.0.0.1", DNS_PORT))?;
            // TEST-NET-3: never reached, the redirect answers inside the namespace.
            let _client = std::net::TcpStream::connect("203.0.113.7:443")?;
            let (accepted, _) = listener.accept()?;
            let original = crate::forward::original_destination(&accepted)?;
            let query = std::net::UdpSocket::bind("0.0.0.0:0")?;
            query.connect("203.0.113.8:53")?;
            query.send(b"q")?;
            let mut buf = [0u8; 8];
            let (n, from) = dns.recv_from(&mut buf)?;
            dns.send_to(b"answer", from)?;
            let n2 = query.recv(&mut buf)?;
            Ok((
                original,
                format!("{}:{}", n, String::from_utf8_lossy(&buf[..n2])),
            ))
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(seen.0, "203.0.113.7:443".parse().unwrap());
        assert_eq!(
            seen.1, "1:answer",
            "the query arrives and the reply comes back"
        );
    }
}
