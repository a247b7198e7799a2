//! Answering one query from the tables, or deciding to forward it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use crate::tables::{Addrs, Tables};
use crate::wire::{self, Name, Query, RData, Reject};

/// What to do with one received message.
pub(crate) enum Outcome {
    /// Send this reply.
    Reply(Vec<u8>),
    /// Not ours: ask these servers, in order.
    Forward(Query, Arc<[SocketAddr]>),
    /// Say nothing.
    Drop,
}

/// Answers `msg` from `tables` if it names a container (or an address of
/// one), within `max` bytes. `turn` rotates the order of several
/// addresses, as Docker shuffles them, so clients spread their load.
pub(crate) fn answer(tables: &mut Tables, msg: &[u8], max: usize, turn: usize) -> Outcome {
    let query = match wire::parse_query(msg) {
        Ok(q) => q,
        Err(Reject::Drop) => return Outcome::Drop,
        Err(Reject::Reply(r)) => return Outcome::Reply(r),
    };
    tables.refresh();
    let q = &query.question;
    // Only the Internet class (or ANY) names containers; CHAOS and the
    // like go upstream.
    if q.qclass == wire::CLASS_IN || q.qclass == wire::CLASS_ANY {
        if q.qtype == wire::TYPE_PTR {
            if let Some(target) = reverse_ip(&q.name).and_then(|ip| tables.reverse(ip)) {
                let answers = [RData::Ptr(target.clone())];
                return Outcome::Reply(wire::build_reply(
                    &query,
                    wire::RCODE_NOERROR,
                    &answers,
                    max,
                ));
            }
        }
        if let Some(addrs) = q.name.key().and_then(|k| tables.lookup(&k)) {
            // A known name answers for itself: a type it has no data for
            // is NOERROR with no answers (Docker's "ipv6Miss"), never
            // forwarded, so no upstream can claim the name.
            let answers = records(addrs, q.qtype, turn);
            return Outcome::Reply(wire::build_reply(
                &query,
                wire::RCODE_NOERROR,
                &answers,
                max,
            ));
        }
    }
    let servers = tables.servers();
    if servers.is_empty() {
        return Outcome::Reply(wire::error_reply(&query, wire::RCODE_SERVFAIL));
    }
    Outcome::Forward(query, servers)
}

/// The answers of `qtype` for one name's endpoints, each address once,
/// rotated by `turn`.
fn records(addrs: &[Addrs], qtype: u16, turn: usize) -> Vec<RData> {
    let (v4, v6) = match qtype {
        wire::TYPE_A => (true, false),
        wire::TYPE_AAAA => (false, true),
        wire::TYPE_ANY => (true, true),
        _ => (false, false),
    };
    let mut out: Vec<RData> = Vec::with_capacity(addrs.len());
    for a in addrs {
        let rs = [
            a.v4.filter(|_| v4).map(RData::A),
            a.v6.filter(|_| v6).map(RData::Aaaa),
        ];
        for r in rs.into_iter().flatten() {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    if out.len() > 1 {
        let n = turn % out.len();
        out.rotate_left(n);
    }
    out
}

/// The address a reverse name stands for: `4.3.2.1.in-addr.arpa` or the
/// 32 nibbles of `….ip6.arpa`.
fn reverse_ip(name: &Name) -> Option<IpAddr> {
    let key = name.key()?;
    if let Some(rest) = key.strip_suffix(".in-addr.arpa") {
        let mut o = [0u8; 4];
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        for (i, p) in parts.iter().rev().enumerate() {
            // Decimal only, no leading zeros, as an address prints.
            if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
                return None;
            }
            o[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(o)));
    }
    if let Some(rest) = key.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = rest.split('.').collect();
        if nibbles.len() != 32 {
            return None;
        }
        let mut v: u128 = 0;
        for p in nibbles.iter().rev() {
            if p.len() != 1 {
                return None;
            }
            v = (v << 4) | u128::from(u8::from_str_radix(p, 16).ok()?);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(v)));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        let r = |s: &str| reverse_ip(&Name::from_text(s).unwrap());
        assert_eq!(
            r("2.0.18.172.IN-ADDR.ARPA.").unwrap(),
            "172.18.0.2".parse::<IpAddr>().unwrap()
        );
        assert!(r("0.18.172.in-addr.arpa").is_none());
        assert!(r("02.0.18.172.in-addr.arpa").is_none());
        assert!(r("256.0.18.172.in-addr.arpa").is_none());
        let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(r(v6).unwrap(), "fd00::2".parse::<IpAddr>().unwrap());
        assert!(r("2.0.ip6.arpa").is_none());
    }

    #[test]
    fn records_dedup_and_rotate() {
        let a = |x: u8| Addrs {
            v4: Some(Ipv4Addr::new(10, 0, 0, x)),
            v6: None,
        };
        let list = [a(1), a(2), a(2), a(3)];
        let r0 = records(&list, wire::TYPE_A, 0);
        assert_eq!(r0.len(), 3);
        let r1 = records(&list, wire::TYPE_A, 1);
        assert_eq!(r1[0], r0[1]);
        assert!(records(&list, wire::TYPE_AAAA, 0).is_empty());
        assert!(records(&list, wire::TYPE_MX, 0).is_empty());
    }
}
