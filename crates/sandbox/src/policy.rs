//! Which destinations a function in an isolated network may reach: the outside network, as
//! the host reaches it, and not the host itself, its neighbours or the cloud's metadata
//! service.
//!
//! Denied unless the operator allows them (`--function-egress-allow`): loopback, private
//! (RFC 1918), shared (RFC 6598) and link-local addresses (the metadata service at
//! 169.254.169.254), multicast, broadcast and reserved ones, and every address of the host's
//! own interfaces, found by asking the kernel at the time (an address is the host's if a socket
//! can bind it), so a 0.0.0.0-bound service of the host is not reached through the host's
//! public address either. Private ranges are denied by default because a cluster's database,
//! queue and cache live there.
//!
//! The platform's own endpoints and the resolvers DNS is relayed to are always reachable.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

/// An address block, `192.0.2.0/24` or `2001:db8::/32`; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn mask(net: u128, ip: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (net >> shift) == (ip >> shift)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an address or address/prefix"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("`{text}`: the prefix must be 0 to {bits}"))?,
            None => bits,
        };
        Ok(Cidr {
            network: canonical(network),
            prefix,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The operator's outbound policy for isolated networks.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    /// Blocks reachable although denied by default (a LAN service functions may use).
    pub allow: Vec<Cidr>,
    /// Where DNS queries are relayed, in order; the host's `/etc/resolv.conf` by default.
    pub resolvers: Vec<SocketAddr>,
}

impl Outbound {
    /// The name servers of the host's `/etc/resolv.conf`.
    pub fn host_resolvers() -> Vec<SocketAddr> {
        std::fs::read_to_string("/etc/resolv.conf")
            .map(|text| parse_resolv_conf(&text))
            .unwrap_or_default()
    }
}

fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The decision for one connection.
pub(crate) struct Policy {
    pub(crate) outbound: Outbound,
    /// The platform's endpoints (API, key-value, S3) as they listen.
    pub(crate) endpoints: Vec<SocketAddr>,
}

impl Policy {
    pub(crate) fn permits(&self, destination: SocketAddr) -> bool {
        let ip = canonical(destination.ip());
        let destination = SocketAddr::new(ip, destination.port());
        if self.endpoints.contains(&destination) {
            return true;
        }
        // An endpoint listening on every address is the platform at any of the host's.
        let on_every_address =
            |e: &SocketAddr| e.ip().is_unspecified() && e.port() == destination.port();
        if self.endpoints.iter().any(on_every_address) && is_host_address(ip) {
            return true;
        }
        if destination.port() == 53 && self.outbound.resolvers.iter().any(|r| r.ip() == ip) {
            return true;
        }
        if self.outbound.allow.iter().any(|block| block.contains(ip)) {
            return true;
        }
        !denied_by_default(ip) && !is_host_address(ip)
    }
}

/// IPv4 blocks denied unless allowed: this network, private, shared, loopback, link-local,
/// IETF protocol assignments, multicast and reserved (broadcast included).
const DENIED_V4: [Cidr; 10] = [
    v4(0, 0, 0, 0, 8),
    v4(10, 0, 0, 0, 8),
    v4(100, 64, 0, 0, 10),
    v4(127, 0, 0, 0, 8),
    v4(169, 254, 0, 0, 16),
    v4(172, 16, 0, 0, 12),
    v4(192, 0, 0, 0, 24),
    v4(192, 168, 0, 0, 16),
    v4(224, 0, 0, 0, 4),
    v4(240, 0, 0, 0, 4),
];

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
    Cidr {
        network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        prefix,
    }
}

fn denied_by_default(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => DENIED_V4.iter().any(|block| block.contains(ip)),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || first & 0xfe00 == 0xfc00 // unique local
                || first & 0xffc0 == 0xfe80 // link-local
        }
    }
}

/// Whether `ip` is an address of one of the host's interfaces, right now.
fn is_host_address(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str]) -> Policy {
        Policy {
            outbound: Outbound {
                allow: allow.iter().map(|c| c.parse().unwrap()).collect(),
                resolvers: vec!["10.0.0.2:53".parse().unwrap()],
            },
            endpoints: vec!["10.9.9.9:3233".parse().unwrap()],
        }
    }

    fn permits(policy: &Policy, destination: &str) -> bool {
        policy.permits(destination.parse().unwrap())
    }

    #[test]
    fn the_outside_is_reachable_and_the_host_and_its_neighbours_are_not() {
        let policy = policy(&[]);
        for outside in ["93.184.216.34:443", "198.51.100.2:80", "[2001:db8::1]:443"] {
            assert!(permits(&policy, outside), "{outside}");
        }
        for inside in [
            "127.0.0.1:6379",
            "10.1.2.3:5432",
            "172.20.0.1:80",
            "192.168.1.1:80",
            "169.254.169.254:80",
            "100.64.0.1:80",
            "224.0.0.1:80",
            "255.255.255.255:80",
            "0.0.0.0:80",
            "[::1]:80",
            "[fe80::1]:80",
            "[fd00::1]:80",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(!permits(&policy, inside), "{inside}");
        }
    }

    #[test]
    fn endpoints_resolvers_and_allowed_blocks_are_reachable() {
        let policy = policy(&["10.1.0.0/16"]);
        assert!(permits(&policy, "10.9.9.9:3233"));
        assert!(!permits(&policy, "10.9.9.9:22"), "only the endpoint's port");
        assert!(permits(&policy, "10.0.0.2:53"));
        assert!(!permits(&policy, "10.0.0.2:80"), "only the resolver's DNS");
        assert!(permits(&policy, "10.1.200.3:5432"));
        assert!(!permits(&policy, "10.2.0.1:5432"));
    }

    #[test]
    fn an_endpoint_on_every_address_is_reached_at_the_hosts_addresses_only() {
        let policy = Policy {
            outbound: Outbound::default(),
            endpoints: vec!["0.0.0.0:3233".parse().unwrap()],
        };
        // This machine's own address on its default route, as the host's: reachable on the
        // endpoint's port only.
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        if socket.connect("192.0.2.1:9").is_ok() {
            let host = socket.local_addr().unwrap().ip();
            if !host.is_unspecified() && !host.is_loopback() {
                assert!(policy.permits(SocketAddr::new(host, 3233)));
                assert!(!policy.permits(SocketAddr::new(host, 3234)));
            }
        }
        assert!(
            !permits(&policy, "10.255.255.1:3233"),
            "not another machine's port"
        );
    }

    #[test]
    fn blocks_parse_and_refuse_nonsense() {
        let block: Cidr = "192.0.2.0/24".parse().unwrap();
        assert!(block.contains("192.0.2.200".parse().unwrap()));
        assert!(!block.contains("192.0.3.1".parse().unwrap()));
        assert_eq!(block.to_string(), "192.0.2.0/24");
        let one: Cidr = "203.0.113.5".parse().unwrap();
        assert!(one.contains("203.0.113.5".parse().unwrap()));
        assert!(!one.contains("203.0.113.6".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::/129", "1.2.3.4/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_host_resolvers_come_from_resolv_conf() {
        let text = "# comment\nsearch example\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver  127.0.0.53\noptions edns0\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "10.0.0.2:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap(),
                "127.0.0.53:53".parse().unwrap()
            ]
        );
    }
}
