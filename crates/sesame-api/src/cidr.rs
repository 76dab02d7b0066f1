//! IP address ranges written as an address or `address/prefix-length` (config
//! `gateway.addresses`, HTTPProxy IP filters).

use std::net::IpAddr;

/// An IP address range: an address with the bits after the first `prefix_len` cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub address: IpAddr,
    /// How many leading bits the range fixes: 0 to 32 (IPv4) or 128 (IPv6).
    pub prefix_len: u8,
}

impl Cidr {
    /// An address or `address/prefix-length`: a bare address is the range of that address
    /// alone (`/32` or `/128`). The address kept is the range's network address (host bits
    /// cleared), as Go's `net.ParseCIDR` gives Contour. `None` when it is neither.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let address: IpAddr = addr.parse().ok()?;
        let max = max_len(address);
        let prefix_len = match len {
            None => max,
            Some(len)
                if (1..=3).contains(&len.len()) && len.bytes().all(|b| b.is_ascii_digit()) =>
            {
                len.parse::<u8>().ok().filter(|&n| n <= max)?
            }
            Some(_) => return None,
        };
        Some(Cidr {
            address: network(address, prefix_len),
            prefix_len,
        })
    }

    /// Whether `ip` lies in the range (an IPv4 address never lies in an IPv6 range).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.address.is_ipv4() && network(ip, self.prefix_len) == self.address
    }

    /// The addresses of the range a host may take, in order: every one, less the network and
    /// broadcast addresses of an IPv4 range of more than two addresses and the subnet-router
    /// anycast address (the first) of an IPv6 range of more than two.
    pub fn hosts(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let host_bits = u32::from(max_len(self.address) - self.prefix_len);
        let size = 1u128.checked_shl(host_bits).unwrap_or(0).wrapping_sub(1);
        let (skip_first, skip_last) = match self.address {
            IpAddr::V4(_) => (host_bits > 1, host_bits > 1),
            IpAddr::V6(_) => (host_bits > 1, false),
        };
        let first = u128::from(skip_first);
        let last = size - u128::from(skip_last);
        let base = match self.address {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        let v4 = self.address.is_ipv4();
        (first..=last).map(move |offset| {
            let n = base + offset;
            if v4 {
                IpAddr::V4((n as u32).into())
            } else {
                IpAddr::V6(n.into())
            }
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// The prefix length of a single address of `address`'s family.
fn max_len(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

/// `address` with the bits after the first `prefix_len` cleared.
fn network(address: IpAddr, prefix_len: u8) -> IpAddr {
    match address {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str, n: usize) -> Vec<String> {
        let cidr = Cidr::parse(text).unwrap();
        cidr.hosts().take(n).map(|a| a.to_string()).collect()
    }

    #[test]
    fn ranges_enumerate_their_host_addresses() {
        assert_eq!(hosts("127.0.0.2/31", 5), ["127.0.0.2", "127.0.0.3"]);
        assert_eq!(hosts("127.0.0.9", 5), ["127.0.0.9"]);
        assert_eq!(hosts("10.0.0.0/30", 5), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(hosts("127.0.0.0/8", 2), ["127.0.0.1", "127.0.0.2"]);
        assert_eq!(hosts("fd00::/127", 5), ["fd00::", "fd00::1"]);
        assert_eq!(hosts("fd00::/64", 2), ["fd00::1", "fd00::2"]);
        assert_eq!(hosts("::/0", 1), ["::1"]);
        assert_eq!(hosts("0.0.0.0/0", 1), ["0.0.0.1"]);
    }

    #[test]
    fn contains_checks_the_family_and_the_prefix() {
        let range = Cidr::parse("127.0.0.2/31").unwrap();
        assert!(range.contains("127.0.0.3".parse().unwrap()));
        assert!(!range.contains("127.0.0.4".parse().unwrap()));
        assert!(!range.contains("::1".parse().unwrap()));
        let all = Cidr::parse("::/0").unwrap();
        assert!(all.contains("fd00::1".parse().unwrap()));
        assert!(!all.contains("10.0.0.1".parse().unwrap()));
    }
}
