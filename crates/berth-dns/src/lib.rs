//! The embedded DNS resolver of user-defined networks: Docker's
//! `127.0.0.11`, hosted by each container's monitor (there is no daemon).
//!
//! [`bind_in`] makes the listening sockets inside the container's network
//! namespace; [`serve`] answers on them from background threads of the
//! calling process, which stay in the caller's (host) namespace. Names of
//! containers on the container's networks come from the engine's tables
//! (`names.json`, one per network); everything else is forwarded to the
//! upstream servers of the container's `dns.json`, from the host side.
//! Both file formats are described in ARCHITECTURE.md.
//!
//! Only std, libc and serde_json: the monitor that links this stays small.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

mod forward;
mod resolve;
mod server;
mod sys;
mod tables;
pub mod wire;

/// Where Docker's embedded DNS listens inside a container.
pub const LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(127, 0, 0, 11),
    53,
));

/// The resolver's listening sockets (UDP and TCP, one address).
#[derive(Debug)]
pub struct Sockets {
    udp: UdpSocket,
    tcp: TcpListener,
}

impl Sockets {
    /// Binds both sockets at `addr` in the calling thread's own network
    /// namespace. With port 0, TCP binds the port UDP was given.
    pub fn bind(addr: SocketAddr) -> io::Result<Sockets> {
        let ctx = |proto: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("bind dns {proto} socket {addr}: {e}"))
        };
        let udp = UdpSocket::bind(addr).map_err(|e| ctx("udp", e))?;
        let tcp_addr = match addr.port() {
            // Same port for TCP as UDP got.
            0 => udp.local_addr()?,
            _ => addr,
        };
        let tcp = TcpListener::bind(tcp_addr).map_err(|e| ctx("tcp", e))?;
        Ok(Sockets { udp, tcp })
    }

    /// Takes sockets made elsewhere (the engine binds them inside the
    /// container's namespace before the container starts, so no query can
    /// come before the resolver listens, and passes them to the monitor).
    pub fn from_fds(udp: std::os::fd::OwnedFd, tcp: std::os::fd::OwnedFd) -> Sockets {
        Sockets {
            udp: UdpSocket::from(udp),
            tcp: TcpListener::from(tcp),
        }
    }

    /// The two descriptors, udp then tcp.
    pub fn into_fds(self) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
        (self.udp.into(), self.tcp.into())
    }

    /// The address the sockets listen on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Binds [`LISTEN`] (UDP and TCP) inside the network namespace at `netns`
/// (a pinned nsfs file such as `/run/netns/x`, or `/proc/PID/ns/net`).
/// The sockets are made on a short-lived thread that enters the namespace
/// (a socket stays in the namespace it was made in); that thread is gone
/// when this returns, and the caller's namespace never changes. The
/// namespace's `lo` must be up.
pub fn bind_in(netns: &Path) -> io::Result<Sockets> {
    bind_in_at(netns, LISTEN)
}

/// [`bind_in`] at another address (tests, or a second resolver).
pub fn bind_in_at(netns: &Path, addr: SocketAddr) -> io::Result<Sockets> {
    sys::in_netns(netns, || {
        Sockets::bind(addr).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{e} (network namespace {})", netns.display()),
            )
        })
    })
}

/// Serves on `sockets` forever from background threads (this returns at
/// once). `config` is the container's `dns.json`: it must be readable now;
/// it and every table it names are re-read whenever their (inode, mtime,
/// size) changes, checked before each query. The threads block all
/// signals, so a host process that reads signals from a signalfd still
/// sees them all. Bad packets are dropped or answered FORMERR.
pub fn serve(sockets: Sockets, config: PathBuf) -> io::Result<()> {
    let tables = tables::Tables::load(config)?;
    server::start(sockets.udp, sockets.tcp, tables)
}
