//! Forwarding a query to the upstream servers, from the host side: the
//! sockets here are made by the resolver's own threads, which stay in the
//! namespace of the process that called `serve` (the monitor's, the
//! host's), so the container's own network cannot reach or spoof them.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::sys;
use crate::wire::{self, Header, Query};

/// How long one server gets. Docker waits 4 s (`extIOTimeout`); shorter
/// here so that the next server is tried, or SERVFAIL given, before a
/// stub resolver's own 5 s timeout gives up on us.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one query may take over all servers.
const TOTAL_TIMEOUT: Duration = Duration::from_millis(4500);

/// Asks the servers in order and returns the first good reply with the
/// client's ID, otherwise verbatim. As Docker's resolver does, any error
/// rcode (SERVFAIL, REFUSED, a non-authoritative NXDOMAIN...) moves on to
/// the next server, and the last such reply is relayed if no server does
/// better; no reply at all is SERVFAIL (Docker sends nothing).
pub(crate) fn forward(msg: &[u8], query: &Query, servers: &[SocketAddr], tcp: bool) -> Vec<u8> {
    let mut out = msg.to_vec();
    let id = sys::random_id();
    out[..2].copy_from_slice(&id.to_be_bytes());
    let deadline = Instant::now() + TOTAL_TIMEOUT;
    let mut fallback = None;
    for &server in servers {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let timeout = left.min(ATTEMPT_TIMEOUT);
        let until = Instant::now() + timeout;
        let got = if tcp {
            via_tcp(&out, server, until)
        } else {
            via_udp(&out, server, until)
        };
        let Ok(mut reply) = got else { continue };
        reply[..2].copy_from_slice(&query.header.id.to_be_bytes());
        let Ok(h) = Header::parse(&reply) else {
            continue;
        };
        match h.rcode() {
            wire::RCODE_NOERROR => return reply,
            // RFC 8020: an authoritative "no such name" is final.
            wire::RCODE_NXDOMAIN if h.authoritative() => return reply,
            _ => fallback = Some(reply),
        }
    }
    fallback.unwrap_or_else(|| wire::error_reply(query, wire::RCODE_SERVFAIL))
}

/// Whether `reply` answers `sent`: a response with its ID and, if it
/// carries a question, the same one.
fn answers(reply: &[u8], sent: &[u8]) -> bool {
    let (Ok(r), Ok(s)) = (Header::parse(reply), Header::parse(sent)) else {
        return false;
    };
    if !r.is_response() || r.id != s.id {
        return false;
    }
    if r.qdcount == 0 {
        return true;
    }
    match (wire::first_question(reply), wire::first_question(sent)) {
        (Some(a), Some(b)) => a.same(&b),
        _ => false,
    }
}

fn remaining(until: Instant) -> io::Result<Duration> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok(left)
}

fn via_udp(msg: &[u8], server: SocketAddr, until: Instant) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local)?;
    // Connected: only the server's datagrams arrive, and a closed port
    // fails fast (ECONNREFUSED) instead of timing out.
    sock.connect(server)?;
    sock.send(msg)?;
    let mut buf = vec![0u8; 65535];
    loop {
        sock.set_read_timeout(Some(remaining(until)?))?;
        let n = sock.recv(&mut buf)?;
        let reply = &buf[..n];
        if answers(reply, msg) {
            return Ok(reply.to_vec());
        }
    }
}

fn via_tcp(msg: &[u8], server: SocketAddr, until: Instant) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&server, remaining(until)?)?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(remaining(until)?))?;
    let len = u16::try_from(msg.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    s.write_all(&framed)?;
    loop {
        let mut len = [0u8; 2];
        s.set_read_timeout(Some(remaining(until)?))?;
        s.read_exact(&mut len)?;
        let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
        s.set_read_timeout(Some(remaining(until)?))?;
        s.read_exact(&mut reply)?;
        if answers(&reply, msg) {
            return Ok(reply);
        }
    }
}
