//! IPAM: subnets as Go's `net.ParseCIDR` reads them, Docker's default
//! address pools, the host's routes (so an automatic subnet never shadows
//! one the host already reaches), and IPv4 address allocation within a
//! subnet. Pure logic except [`host_routes`]; the engine keeps the state
//! (`networks/<id>/ipam.json`) and the locks.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// An IPv4 prefix, keeping the address as written (Docker shows
/// `10.60.0.1/16` as given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// An IPv6 prefix, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V6Net {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpNet {
    V4(V4Net),
    V6(V6Net),
}

impl V4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> V4Net {
        V4Net { addr, prefix }
    }
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }
    /// The network address as a number.
    pub fn first(&self) -> u32 {
        u32::from(self.addr) & self.mask()
    }
    /// The broadcast address as a number.
    pub fn last(&self) -> u32 {
        self.first() | !self.mask()
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.first()
    }
    /// Go's `NetworkOverlaps`: either contains the other's first address.
    pub fn overlaps(&self, o: &V4Net) -> bool {
        self.contains(Ipv4Addr::from(o.first())) || o.contains(Ipv4Addr::from(self.first()))
    }
    /// The canonical form (`172.17.0.0/16`).
    pub fn canonical(&self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.first()), self.prefix)
    }
}

impl std::fmt::Display for V4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl V6Net {
    pub fn new(addr: Ipv6Addr, prefix: u8) -> V6Net {
        V6Net { addr, prefix }
    }
    fn mask(&self) -> u128 {
        if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix))
        }
    }
    /// The network address as a number.
    pub fn first(&self) -> u128 {
        u128::from(self.addr) & self.mask()
    }
    /// The last address of the prefix as a number.
    pub fn last(&self) -> u128 {
        self.first() | !self.mask()
    }
    /// The canonical form (`fd00:1::/64`).
    pub fn canonical(&self) -> String {
        format!("{}/{}", Ipv6Addr::from(self.first()), self.prefix)
    }
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & self.mask() == self.first()
    }
    pub fn overlaps(&self, o: &V6Net) -> bool {
        self.contains(Ipv6Addr::from(o.first())) || o.contains(Ipv6Addr::from(self.first()))
    }
}

impl std::fmt::Display for V6Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl IpNet {
    pub fn overlaps(&self, o: &IpNet) -> bool {
        match (self, o) {
            (IpNet::V4(a), IpNet::V4(b)) => a.overlaps(b),
            (IpNet::V6(a), IpNet::V6(b)) => a.overlaps(b),
            _ => false,
        }
    }
}

/// Go's `net.ParseCIDR`; the error is Go's text (`invalid CIDR address: X`).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let bad = || format!("invalid CIDR address: {s}");
    let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
    if bits.is_empty() || bits.len() > 3 || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let prefix: u8 = bits.parse().map_err(|_| bad())?;
    if let Ok(a) = ip.parse::<Ipv4Addr>() {
        if prefix > 32 {
            return Err(bad());
        }
        return Ok(IpNet::V4(V4Net::new(a, prefix)));
    }
    match ip.parse::<Ipv6Addr>() {
        Ok(a) if prefix <= 128 => Ok(IpNet::V6(V6Net { addr: a, prefix })),
        _ => Err(bad()),
    }
}

/// Go's `net.ParseIP` for either family.
pub fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    s.parse().ok()
}

/// The docker CLI's `subnetMatches`: does `data` (an address, or a CIDR
/// whose address counts) lie in `subnet`?
pub fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let s = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    // Docker 20.10's CLI ignores a CIDR it cannot parse: it matches nothing.
    let ip = if data.contains('/') {
        match parse_cidr(data) {
            Ok(IpNet::V4(n)) => Some(std::net::IpAddr::V4(n.addr)),
            Ok(IpNet::V6(n)) => Some(std::net::IpAddr::V6(n.addr)),
            Err(_) => None,
        }
    } else {
        parse_ip(data)
    };
    Ok(match (s, ip) {
        (IpNet::V4(n), Some(std::net::IpAddr::V4(a))) => n.contains(a),
        (IpNet::V6(n), Some(std::net::IpAddr::V6(a))) => n.contains(a),
        _ => false,
    })
}

/// Docker's default local address pools, in order: 172.17.0.0/16 to
/// 172.31.0.0/16, then 192.168.0.0/16 cut into /20s.
pub fn default_pools() -> Vec<V4Net> {
    let mut pools: Vec<V4Net> = (17..=31)
        .map(|b| V4Net::new(Ipv4Addr::new(172, b, 0, 0), 16))
        .collect();
    pools.extend((0..16).map(|i| V4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20)));
    pools
}

/// The first pool that overlaps none of `taken` (other networks' subnets
/// and the host's routes): from `configured` (daemon.json's
/// `default-address-pools`: each base cut into subnets of its size, in
/// order), or Docker's defaults.
pub fn pick_pool(taken: &[IpNet], configured: Option<&[(V4Net, u8)]>) -> Option<V4Net> {
    let free = |p: &V4Net| !taken.iter().any(|t| t.overlaps(&IpNet::V4(*p)));
    let Some(configured) = configured else {
        return default_pools().into_iter().find(free);
    };
    configured
        .iter()
        .flat_map(|(base, size)| {
            let count = 1u64 << (size.saturating_sub(base.prefix)).min(32);
            let step = 1u64 << (32 - u32::from(*size).min(32));
            let start = u64::from(u32::from(base.addr));
            (0..count).filter_map(move |i| {
                let a = u32::try_from(start + i * step).ok()?;
                Some(V4Net::new(Ipv4Addr::from(a), *size))
            })
        })
        .find(free)
}

/// Destinations of the host's routes (main table, default routes left
/// out), read from `/proc/net/route` and `/proc/net/ipv6_route` of berth's
/// network namespace. Docker asks netlink for the same list.
pub fn host_routes() -> Vec<IpNet> {
    let mut out = parse_route_v4(&std::fs::read_to_string("/proc/net/route").unwrap_or_default());
    out.extend(parse_route_v6(
        &std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default(),
    ));
    out
}

/// `/proc/net/route`: `Iface Destination Gateway Flags ... Mask ...`, the
/// addresses in host byte order as 8 hex digits.
pub fn parse_route_v4(text: &str) -> Vec<IpNet> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dst), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // The kernel prints the in-memory (network order) bytes as a
        // native-endian number.
        let mask = u32::from_be_bytes(mask.to_ne_bytes());
        if mask == 0 {
            continue;
        }
        let prefix = mask.leading_ones() as u8;
        out.push(IpNet::V4(V4Net::new(
            Ipv4Addr::from(dst.to_ne_bytes()),
            prefix,
        )));
    }
    out
}

/// `/proc/net/ipv6_route`: destination (32 hex), prefix length (hex), ...
pub fn parse_route_v6(text: &str) -> Vec<IpNet> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 2 {
            continue;
        }
        let (Ok(dst), Ok(prefix)) = (u128::from_str_radix(f[0], 16), u8::from_str_radix(f[1], 16))
        else {
            continue;
        };
        if prefix == 0 || prefix > 128 {
            continue;
        }
        out.push(IpNet::V6(V6Net {
            addr: Ipv6Addr::from(dst),
            prefix,
        }));
    }
    out
}

/// Docker's MAC for an address: `02:42` and the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> String {
    let m = berth_net::link::mac_for(ip);
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// One container's address on a network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub container_name: String,
    pub endpoint_id: String,
    pub ipv4: Ipv4Addr,
    /// The address on an IPv6-enabled network (`--ipv6` with a v6 subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    pub mac: String,
    /// Other names the embedded DNS answers for this container on this
    /// network: `--network-alias`es, the short ID, the hostname.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// What `ipam.json` holds: every container's address, and the last
/// address handed out (Docker allocates serially, so a released address
/// is not reused at once).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Allocations {
    #[serde(default)]
    pub last: Option<Ipv4Addr>,
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// `--aux-address` values: never handed out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aux: Vec<Ipv4Addr>,
}

/// libnetwork's allocator errors, with its wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocError {
    InUse,
    OutOfRange,
    Exhausted,
}

impl std::fmt::Display for AllocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AllocError::InUse => "Address already in use",
            AllocError::OutOfRange => "requested address is out of range",
            AllocError::Exhausted => "No available addresses on this pool",
        })
    }
}

/// The addressable part of a network: its subnet, the range dynamic
/// addresses come from, and the gateway (reserved).
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub subnet: V4Net,
    pub range: Option<V4Net>,
    pub gateway: Ipv4Addr,
}

impl Pool {
    /// First and last address dynamic allocation may hand out: the range
    /// clipped to the subnet, never the network or broadcast address.
    fn bounds(&self) -> (u32, u32) {
        let (mut lo, mut hi) = (self.subnet.first(), self.subnet.last());
        if let Some(r) = self.range {
            lo = lo.max(r.first());
            hi = hi.min(r.last());
        }
        (lo, hi)
    }

    fn reserved(&self, ip: u32) -> bool {
        // A /31 or /32 has no network or broadcast address to keep.
        let tiny = self.subnet.prefix >= 31;
        ip == u32::from(self.gateway)
            || (!tiny && (ip == self.subnet.first() || ip == self.subnet.last()))
    }

    /// An address for a new endpoint: `want` if given (anywhere in the
    /// subnet, as libnetwork allows), else the lowest free one in the
    /// range (dockerd 20.10's order).
    pub fn allocate(
        &self,
        allocs: &Allocations,
        want: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, AllocError> {
        let used = |ip: u32| {
            self.reserved(ip)
                || allocs.aux.iter().any(|a| u32::from(*a) == ip)
                || allocs.endpoints.values().any(|e| u32::from(e.ipv4) == ip)
        };
        if let Some(w) = want {
            if !self.subnet.contains(w) {
                return Err(AllocError::OutOfRange);
            }
            if used(u32::from(w)) {
                return Err(AllocError::InUse);
            }
            return Ok(w);
        }
        let (lo, hi) = self.bounds();
        if lo > hi {
            return Err(AllocError::Exhausted);
        }
        // Docker 20.10 hands out the lowest free address (a released one
        // is reused at once), whatever was handed out last.
        let start = lo;
        let span = u64::from(hi - lo) + 1;
        for i in 0..span {
            let off = (u64::from(start - lo) + i) % span;
            let ip = lo + off as u32;
            if !used(ip) {
                return Ok(Ipv4Addr::from(ip));
            }
        }
        Err(AllocError::Exhausted)
    }

    /// The gateway libnetwork picks when none is given: the first address
    /// of the range (or subnet) past the network address.
    pub fn default_gateway(subnet: V4Net, range: Option<V4Net>) -> Option<Ipv4Addr> {
        let p = Pool {
            subnet,
            range,
            // Placeholder: the network address, reserved anyway.
            gateway: Ipv4Addr::from(subnet.first()),
        };
        p.allocate(&Allocations::default(), None).ok()
    }
}

/// The IPv6 side of a network: subnet, dynamic range and gateway. The
/// subnet's first address (the subnet-router anycast) and the gateway are
/// never handed out, as libnetwork reserves them.
#[derive(Debug, Clone, Copy)]
pub struct Pool6 {
    pub subnet: V6Net,
    pub range: Option<V6Net>,
    pub gateway: Ipv6Addr,
}

impl Pool6 {
    /// An IPv6 address for a new endpoint: `want` if given and free, else
    /// the lowest free one in the range (as dockerd 20.10 gives them).
    pub fn allocate(
        &self,
        allocs: &Allocations,
        want: Option<Ipv6Addr>,
    ) -> Result<Ipv6Addr, AllocError> {
        let used = |ip: u128| {
            ip == self.subnet.first()
                || ip == u128::from(self.gateway)
                || allocs
                    .endpoints
                    .values()
                    .any(|e| e.ipv6.map(u128::from) == Some(ip))
        };
        if let Some(w) = want {
            if !self.subnet.contains(w) {
                return Err(AllocError::OutOfRange);
            }
            if used(u128::from(w)) {
                return Err(AllocError::InUse);
            }
            return Ok(w);
        }
        let (mut lo, mut hi) = (self.subnet.first(), self.subnet.last());
        if let Some(r) = self.range {
            lo = lo.max(r.first());
            hi = hi.min(r.last());
        }
        // At most one candidate per endpoint plus the reserved two is
        // taken, so the search is short however large the subnet.
        let mut ip = lo;
        while ip <= hi {
            if !used(ip) {
                return Ok(Ipv6Addr::from(ip));
            }
            ip = match ip.checked_add(1) {
                Some(n) => n,
                None => break,
            };
        }
        Err(AllocError::Exhausted)
    }

    /// libnetwork's default IPv6 gateway: the first address past the
    /// subnet's (of the range, when one is given).
    pub fn default_gateway(subnet: V6Net, range: Option<V6Net>) -> Option<Ipv6Addr> {
        let p = Pool6 {
            subnet,
            range,
            gateway: Ipv6Addr::from(subnet.first()),
        };
        p.allocate(&Allocations::default(), None).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> V4Net {
        match parse_cidr(s) {
            Ok(IpNet::V4(n)) => n,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn cidrs_parse_as_go_parses_them() {
        assert_eq!(v4("10.60.0.1/16").to_string(), "10.60.0.1/16");
        assert_eq!(v4("10.60.0.1/16").canonical(), "10.60.0.0/16");
        for bad in [
            "foo",
            "10.0.0.0/33",
            "10.0.0.0",
            "10.0.0.0/",
            "010.0.0.0/8",
            "1.2.3.4/-1",
        ] {
            assert_eq!(
                parse_cidr(bad),
                Err(format!("invalid CIDR address: {bad}")),
                "{bad}"
            );
        }
        assert!(matches!(parse_cidr("fd00::/64"), Ok(IpNet::V6(_))));
        assert!(parse_cidr("fd00::/129").is_err());
    }

    #[test]
    fn cli_subnet_matching() {
        assert_eq!(subnet_matches("10.0.0.0/16", "10.0.3.4"), Ok(true));
        assert_eq!(subnet_matches("10.0.0.0/16", "10.0.3.0/24"), Ok(true));
        assert_eq!(subnet_matches("10.0.0.0/16", "10.1.3.0/24"), Ok(false));
        assert_eq!(subnet_matches("10.0.0.0/16", "foo"), Ok(false));
        assert_eq!(subnet_matches("10.0.0.0/16", "foo/8"), Ok(false));
        assert_eq!(
            subnet_matches("x", "1.2.3.4"),
            Err("invalid subnet: invalid CIDR address: x".into())
        );
    }

    #[test]
    fn overlap_is_symmetric() {
        assert!(v4("10.0.0.0/8").overlaps(&v4("10.5.0.0/16")));
        assert!(v4("10.5.0.0/16").overlaps(&v4("10.0.0.0/8")));
        assert!(!v4("10.5.0.0/16").overlaps(&v4("10.6.0.0/16")));
    }

    #[test]
    fn default_pools_skip_taken_subnets_and_routes() {
        let pools = default_pools();
        assert_eq!(pools.len(), 31);
        assert_eq!(pools[0].to_string(), "172.17.0.0/16");
        assert_eq!(pools[14].to_string(), "172.31.0.0/16");
        assert_eq!(pools[15].to_string(), "192.168.0.0/20");
        assert_eq!(pools[16].to_string(), "192.168.16.0/20");
        assert_eq!(
            pick_pool(&[], None).map(|p| p.to_string()).as_deref(),
            Some("172.17.0.0/16")
        );
        let taken = [
            IpNet::V4(v4("172.17.5.0/24")),
            IpNet::V4(v4("172.18.0.0/15")),
            IpNet::V6(V6Net {
                addr: Ipv6Addr::LOCALHOST,
                prefix: 128,
            }),
        ];
        assert_eq!(
            pick_pool(&taken, None).map(|p| p.to_string()).as_deref(),
            Some("172.20.0.0/16")
        );
        let all = [
            IpNet::V4(v4("172.0.0.0/8")),
            IpNet::V4(v4("192.168.0.0/17")),
        ];
        assert_eq!(
            pick_pool(&all, None).map(|p| p.to_string()).as_deref(),
            Some("192.168.128.0/20")
        );
        let none = [IpNet::V4(v4("0.0.0.0/1")), IpNet::V4(v4("128.0.0.0/1"))];
        assert_eq!(pick_pool(&none, None), None);
    }

    #[test]
    fn proc_routes_parse() {
        let v4text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = parse_route_v4(v4text);
        assert_eq!(
            r,
            vec![
                IpNet::V4(v4("192.0.2.0/24")),
                IpNet::V4(v4("172.17.0.0/16"))
            ]
        );
        let v6text = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n";
        let r = parse_route_v6(v6text);
        assert_eq!(r.len(), 1);
        assert!(matches!(r[0], IpNet::V6(n) if n.prefix == 64));
    }

    #[test]
    fn macs_follow_the_address() {
        assert_eq!(mac_for(Ipv4Addr::new(172, 17, 0, 2)), "02:42:ac:11:00:02");
    }

    fn ep(ip: Ipv4Addr) -> Endpoint {
        Endpoint {
            container_name: String::new(),
            endpoint_id: String::new(),
            ipv4: ip,
            ipv6: None,
            mac: mac_for(ip),
            aliases: Vec::new(),
        }
    }

    #[test]
    fn allocation_takes_the_lowest_free_and_skips_reserved() {
        let subnet = v4("10.9.0.0/29");
        let gw = Pool::default_gateway(subnet, None);
        assert_eq!(gw, Some(Ipv4Addr::new(10, 9, 0, 1)));
        let pool = Pool {
            subnet,
            range: None,
            gateway: Ipv4Addr::new(10, 9, 0, 1),
        };
        let mut a = Allocations::default();
        let mut got = Vec::new();
        while let Ok(ip) = pool.allocate(&a, None) {
            a.last = Some(ip);
            a.endpoints.insert(ip.to_string(), ep(ip));
            got.push(ip.octets()[3]);
        }
        assert_eq!(got, [2, 3, 4, 5, 6]);
        assert_eq!(pool.allocate(&a, None), Err(AllocError::Exhausted));
        // Release .3: the next allocation wraps around to it.
        a.endpoints.remove("10.9.0.3");
        assert_eq!(pool.allocate(&a, None), Ok(Ipv4Addr::new(10, 9, 0, 3)));
        // Release .5 and .3 with last at .4: the lowest free comes first,
        // as dockerd 20.10 hands them out.
        a.endpoints.remove("10.9.0.5");
        a.endpoints.remove("10.9.0.3");
        a.last = Some(Ipv4Addr::new(10, 9, 0, 4));
        assert_eq!(pool.allocate(&a, None), Ok(Ipv4Addr::new(10, 9, 0, 3)));
    }

    #[test]
    fn static_requests() {
        let pool = Pool {
            subnet: v4("10.9.0.0/16"),
            range: Some(v4("10.9.1.0/24")),
            gateway: Ipv4Addr::new(10, 9, 0, 254),
        };
        let mut a = Allocations::default();
        assert_eq!(pool.allocate(&a, None), Ok(Ipv4Addr::new(10, 9, 1, 0)));
        let w = Ipv4Addr::new(10, 9, 7, 7);
        assert_eq!(pool.allocate(&a, Some(w)), Ok(w));
        a.endpoints.insert("x".into(), ep(w));
        assert_eq!(pool.allocate(&a, Some(w)), Err(AllocError::InUse));
        assert_eq!(
            pool.allocate(&a, Some(Ipv4Addr::new(10, 9, 0, 254))),
            Err(AllocError::InUse)
        );
        assert_eq!(
            pool.allocate(&a, Some(Ipv4Addr::new(10, 9, 255, 255))),
            Err(AllocError::InUse)
        );
        assert_eq!(
            pool.allocate(&a, Some(Ipv4Addr::new(10, 10, 0, 1))),
            Err(AllocError::OutOfRange)
        );
        assert_eq!(
            AllocError::OutOfRange.to_string(),
            "requested address is out of range"
        );
    }

    #[test]
    fn v6_allocation_skips_the_subnet_address_and_gateway() {
        let Ok(IpNet::V6(subnet)) = parse_cidr("fd00:1::/64") else {
            panic!("parse")
        };
        let gw = Pool6::default_gateway(subnet, None).unwrap();
        assert_eq!(gw.to_string(), "fd00:1::1");
        let pool = Pool6 {
            subnet,
            range: None,
            gateway: gw,
        };
        let mut a = Allocations::default();
        let first = pool.allocate(&a, None).unwrap();
        assert_eq!(first.to_string(), "fd00:1::2");
        let mut e = ep(Ipv4Addr::new(10, 0, 0, 2));
        e.ipv6 = Some(first);
        a.endpoints.insert("a".into(), e);
        assert_eq!(pool.allocate(&a, None).unwrap().to_string(), "fd00:1::3");
        for taken in ["fd00:1::", "fd00:1::1", "fd00:1::2"] {
            let w = taken.parse().unwrap();
            assert_eq!(
                pool.allocate(&a, Some(w)),
                Err(AllocError::InUse),
                "{taken}"
            );
        }
        let out = "fd00:9::5".parse().unwrap();
        assert_eq!(pool.allocate(&a, Some(out)), Err(AllocError::OutOfRange));
        let Ok(IpNet::V6(range)) = parse_cidr("fd00:1::100/120") else {
            panic!("parse")
        };
        let ranged = Pool6 {
            range: Some(range),
            ..pool
        };
        assert_eq!(
            ranged.allocate(&a, None).unwrap().to_string(),
            "fd00:1::100"
        );
    }
}
