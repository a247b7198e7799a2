//! The userland proxy of published IPv6 ports (Docker's docker-proxy, but
//! in the monitor, which lives exactly as long as the container). berth
//! binds the host socket (`[::]:P` or `[::1]:P`, IPv6 only) and passes it
//! with its target; the kernel's DNAT serves every other path, so this
//! carries `::1` and ports of containers without an IPv6 address.
#![allow(unsafe_code)] // adopting descriptors passed on the command line

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connections (TCP) or clients (UDP) served at once per port; beyond,
/// new ones are refused rather than threads piling up.
const MAX_FLOWS: usize = 256;
/// Small stacks: a copy loop needs little, and each flow has two threads.
const STACK: usize = 64 * 1024;
/// A UDP client silent this long is forgotten (conntrack's UDP timeout).
const UDP_IDLE: Duration = Duration::from_secs(90);

/// A proxy target as berth passes it: `tcp:172.18.0.2:80`, `udp:[fd00::2]:53`.
pub(crate) fn parse_target(s: &str) -> Result<(bool, SocketAddr), String> {
    let (proto, addr) = s
        .split_once(':')
        .ok_or_else(|| format!("bad proxy target {s}"))?;
    let addr: SocketAddr = addr.parse().map_err(|_| format!("bad proxy target {s}"))?;
    match proto {
        "tcp" => Ok((true, addr)),
        "udp" => Ok((false, addr)),
        _ => Err(format!("bad proxy target {s}")),
    }
}

/// Starts proxying the bound socket `fd` to `target`. A failure is
/// reported and the container runs on without that port's proxy.
pub(crate) fn start(fd: RawFd, target: &str) {
    let (tcp, to) = match parse_target(target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("berth-monitor: proxy: {e}");
            return;
        }
    };
    let r = if tcp {
        // SO_REUSEADDR only now that it listens (on a socket that merely
        // holds the port it would let a second bind through): the
        // connections it accepts inherit it, so their TIME_WAITs do not
        // keep the port from the next start, as with docker-proxy.
        let one: libc::c_int = 1;
        // SAFETY: berth passed this bound socket for this proxy alone; a
        // valid int option of the right length.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            libc::listen(fd, 128)
        };
        if rc != 0 {
            Err(io::Error::last_os_error())
        } else {
            // SAFETY: as above; listening now.
            let l = unsafe { TcpListener::from_raw_fd(fd) };
            spawn(move || serve_tcp(l, to))
        }
    } else {
        // SAFETY: as above.
        let s = unsafe { UdpSocket::from_raw_fd(fd) };
        spawn(move || serve_udp(s, to))
    };
    if let Err(e) = r {
        eprintln!("berth-monitor: proxy to {target}: {e}");
    }
}

fn spawn(f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .map(drop)
}

fn serve_tcp(l: TcpListener, to: SocketAddr) {
    let live = Arc::new(AtomicUsize::new(0));
    for conn in l.incoming() {
        let Ok(client) = conn else { continue };
        if live.load(Ordering::Relaxed) >= MAX_FLOWS {
            continue; // dropped: closes the connection
        }
        live.fetch_add(1, Ordering::Relaxed);
        let live2 = Arc::clone(&live);
        let r = spawn(move || {
            if let Ok(upstream) = TcpStream::connect_timeout(&to, Duration::from_secs(10)) {
                pump(client, upstream);
            }
            live2.fetch_sub(1, Ordering::Relaxed);
        });
        if r.is_err() {
            live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Copies both ways until both sides are done, passing each half-close on.
fn pump(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    // Without a second thread nothing would carry the answers: give up.
    if spawn(move || copy_half(b2, a2)).is_ok() {
        copy_half(a, b);
    }
}

fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

fn serve_udp(s: UdpSocket, to: SocketAddr) {
    let s = Arc::new(s);
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = s.recv_from(&mut buf) else {
            continue;
        };
        let upstream = {
            let Ok(mut map) = flows.lock() else { return };
            match map.get(&client) {
                Some(u) => Arc::clone(u),
                None => {
                    if map.len() >= MAX_FLOWS {
                        continue;
                    }
                    let Some(u) = udp_upstream(to) else { continue };
                    map.insert(client, Arc::clone(&u));
                    let (s2, u2, flows2) = (Arc::clone(&s), Arc::clone(&u), Arc::clone(&flows));
                    let r = spawn(move || {
                        udp_replies(&s2, &u2, client);
                        if let Ok(mut m) = flows2.lock() {
                            m.remove(&client);
                        }
                    });
                    if r.is_err() {
                        map.remove(&client);
                        continue;
                    }
                    u
                }
            }
        };
        let _ = upstream.send(&buf[..n]);
    }
}

/// A socket connected to the container for one client.
fn udp_upstream(to: SocketAddr) -> Option<Arc<UdpSocket>> {
    let local: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let u = UdpSocket::bind(local).ok()?;
    u.connect(to).ok()?;
    u.set_read_timeout(Some(UDP_IDLE)).ok()?;
    Some(Arc::new(u))
}

/// Relays the container's answers to `client` until it goes quiet.
fn udp_replies(s: &UdpSocket, u: &UdpSocket, client: SocketAddr) {
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = u.recv(&mut buf) {
        let _ = s.send_to(&buf[..n], client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("tcp:172.18.0.2:80"),
            Ok((true, "172.18.0.2:80".parse().unwrap()))
        );
        assert_eq!(
            parse_target("udp:[fd00::2]:53"),
            Ok((false, "[fd00::2]:53".parse().unwrap()))
        );
        assert!(parse_target("sctp:1.2.3.4:5").is_err());
        assert!(parse_target("tcp:nonsense").is_err());
    }
}
