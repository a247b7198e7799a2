//! The serving threads: one reads UDP queries, one accepts TCP
//! connections. Names in the tables are answered on the spot (under one
//! mutex, microseconds); a query that must go upstream gets a thread of
//! its own (UDP) or is handled on its connection's thread (TCP), so a slow
//! upstream never holds up anything else. Both kinds of threads are capped.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::forward::forward;
use crate::resolve::{answer, Outcome};
use crate::sys;
use crate::tables::Tables;
use crate::wire::{self, Query};

/// Forwarded UDP queries in flight at once; beyond it a query gets
/// SERVFAIL at once (Docker caps concurrent forwards at 1024; threads
/// cost more than goroutines).
const MAX_UDP_FORWARDS: usize = 128;
/// Open TCP connections at once; more are closed on accept.
const MAX_TCP_CONNS: usize = 64;
/// An idle TCP connection is closed after this long (RFC 7766 wants
/// seconds, not minutes).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Our code keeps buffers on the heap, so small stacks do: every
/// container's monitor pays for these threads.
const STACK: usize = 128 * 1024;

struct Shared {
    tables: Mutex<Tables>,
    turn: AtomicUsize,
    udp_forwards: AtomicUsize,
    tcp_conns: AtomicUsize,
}

impl Shared {
    /// Answers from the tables; a panic (a bug, never expected) drops the
    /// message instead of taking the thread down.
    fn answer(&self, msg: &[u8], max: usize) -> Outcome {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
            answer(&mut t, msg, max, turn)
        }))
        .unwrap_or(Outcome::Drop)
    }
}

/// Claims one unit of a capped counter; false at the cap.
fn acquire(counter: &AtomicUsize, cap: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
}

/// Gives a claimed unit back on drop, however its thread ends.
struct Release<'a>(&'a AtomicUsize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(STACK)
        .spawn(move || {
            sys::block_signals();
            f()
        })
        .map(drop)
}

pub(crate) fn start(udp: UdpSocket, tcp: TcpListener, tables: Tables) -> io::Result<()> {
    let shared = Arc::new(Shared {
        tables: Mutex::new(tables),
        turn: AtomicUsize::new(0),
        udp_forwards: AtomicUsize::new(0),
        tcp_conns: AtomicUsize::new(0),
    });
    let s = shared.clone();
    let udp = Arc::new(udp);
    spawn("dns-udp", move || udp_loop(&udp, &s))
        .map_err(|e| io::Error::new(e.kind(), format!("start dns udp thread: {e}")))?;
    spawn("dns-tcp", move || tcp_loop(&tcp, &shared))
        .map_err(|e| io::Error::new(e.kind(), format!("start dns tcp thread: {e}")))?;
    Ok(())
}

/// After an error that may repeat at once (out of memory or descriptors),
/// pause briefly instead of spinning.
fn pause_after(e: &io::Error) {
    if !matches!(
        e.kind(),
        io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
    ) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn udp_loop(udp: &Arc<UdpSocket>, shared: &Arc<Shared>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = match udp.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) => {
                pause_after(&e);
                continue;
            }
        };
        let msg = &buf[..n];
        match shared.answer(msg, wire::UDP_MAX) {
            Outcome::Reply(r) => {
                let _ = udp.send_to(&r, peer);
            }
            Outcome::Forward(q, servers) => forward_udp(udp, shared, msg, q, servers, peer),
            Outcome::Drop => {}
        }
    }
}

fn forward_udp(
    udp: &Arc<UdpSocket>,
    shared: &Arc<Shared>,
    msg: &[u8],
    q: Query,
    servers: Arc<[SocketAddr]>,
    peer: SocketAddr,
) {
    let servfail = wire::error_reply(&q, wire::RCODE_SERVFAIL);
    if !acquire(&shared.udp_forwards, MAX_UDP_FORWARDS) {
        let _ = udp.send_to(&servfail, peer);
        return;
    }
    // The new thread gives the unit back when it ends; a failed spawn
    // (the closure dropped unrun) gives it back here.
    let (udp2, shared2, msg) = (udp.clone(), shared.clone(), msg.to_vec());
    let run = move || {
        let _release = Release(&shared2.udp_forwards);
        let reply = forward(&msg, &q, &servers, false);
        let _ = udp2.send_to(&reply, peer);
    };
    if spawn("dns-fwd", run).is_err() {
        shared.udp_forwards.fetch_sub(1, Ordering::AcqRel);
        let _ = udp.send_to(&servfail, peer);
    }
}

fn tcp_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                pause_after(&e);
                continue;
            }
        };
        if !acquire(&shared.tcp_conns, MAX_TCP_CONNS) {
            continue;
        }
        let s = shared.clone();
        let run = move || {
            let _release = Release(&s.tcp_conns);
            serve_conn(stream, &s);
        };
        if spawn("dns-conn", run).is_err() {
            shared.tcp_conns.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Serves length-prefixed queries on one connection, one at a time, until
/// the client closes it, goes idle, or sends something unreadable.
fn serve_conn(mut stream: TcpStream, shared: &Shared) {
    if stream.set_read_timeout(Some(TCP_IDLE)).is_err()
        || stream.set_write_timeout(Some(TCP_IDLE)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        if stream.read_exact(&mut msg).is_err() {
            return;
        }
        let reply = match shared.answer(&msg, usize::from(u16::MAX)) {
            Outcome::Reply(r) => r,
            Outcome::Forward(q, servers) => forward(&msg, &q, &servers, true),
            Outcome::Drop => return,
        };
        let Ok(rlen) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&rlen.to_be_bytes());
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}
