//! Host port reservations for published ports.
//!
//! Published ports are forwarded by DNAT, so no process needs to listen on
//! them, but the host port must still be *taken*: another program binding
//! it later must fail, and a port already used on the host must fail the
//! container's start (Docker gets both from its userland proxy). A socket
//! bound to the port and never listening does exactly that; the
//! container's monitor keeps it open as long as the container runs.
#![allow(unsafe_code)] // socket(2), bind(2), getsockname(2)

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::nft::Protocol;

/// Binds `proto` `ip:port` (port 0: a free port the kernel picks from the
/// local port range) without listening, close-on-exec. Returns the socket
/// and the port it holds. `EADDRINUSE` means someone has the port.
pub fn reserve(proto: Protocol, ip: Ipv4Addr, port: u16) -> io::Result<(OwnedFd, u16)> {
    let ty = match proto {
        Protocol::Tcp => libc::SOCK_STREAM,
        Protocol::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: plain socket creation; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new socket this function owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_in of length len.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
    let mut got: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut glen = len;
    // SAFETY: got is a writable sockaddr_in buffer of length glen.
    let rc = unsafe {
        libc::getsockname(
            sock.as_raw_fd(),
            &mut got as *mut libc::sockaddr_in as *mut libc::sockaddr,
            &mut glen,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((sock, u16::from_be(got.sin_port)))
}

/// [`reserve`] on IPv6: binds `proto` `[ip]:port` with `IPV6_V6ONLY`, so
/// the IPv4 side of the same port stays a separate reservation (Docker
/// binds both families apart too). The monitor may later `listen` on a
/// TCP one to proxy it.
pub fn reserve6(proto: Protocol, ip: Ipv6Addr, port: u16) -> io::Result<(OwnedFd, u16)> {
    let ty = match proto {
        Protocol::Tcp => libc::SOCK_STREAM,
        Protocol::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: plain socket creation; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET6, ty | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new socket this function owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // No SO_REUSEADDR: with it a second unlistened bind would succeed.
    // SAFETY: a valid int option of the right length.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_in6 is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    addr.sin6_port = port.to_be();
    addr.sin6_addr.s6_addr = ip.octets();
    let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_in6 of length len.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            &addr as *const libc::sockaddr_in6 as *const libc::sockaddr,
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let mut got: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut glen = len;
    // SAFETY: got is a writable sockaddr_in6 buffer of length glen.
    let rc = unsafe {
        libc::getsockname(
            sock.as_raw_fd(),
            &mut got as *mut libc::sockaddr_in6 as *mut libc::sockaddr,
            &mut glen,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((sock, u16::from_be(got.sin6_port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserved_port_cannot_be_bound_again() {
        let (s, port) = reserve(Protocol::Tcp, Ipv4Addr::LOCALHOST, 0).unwrap();
        assert_ne!(port, 0);
        let again = reserve(Protocol::Tcp, Ipv4Addr::LOCALHOST, port).unwrap_err();
        assert_eq!(again.raw_os_error(), Some(libc::EADDRINUSE));
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
        drop(s);
        let (_u, uport) = reserve(Protocol::Udp, Ipv4Addr::LOCALHOST, 0).unwrap();
        assert!(std::net::UdpSocket::bind(("127.0.0.1", uport)).is_err());
    }

    #[test]
    fn a_v6_reservation_leaves_the_v4_port_alone() {
        if !crate::sysctl::ipv6_enabled() {
            eprintln!("skipped: IPv6 is disabled on this host");
            return;
        }
        let (_s, port) = reserve6(Protocol::Tcp, Ipv6Addr::UNSPECIFIED, 0).unwrap();
        let again = reserve6(Protocol::Tcp, Ipv6Addr::LOCALHOST, port).unwrap_err();
        assert_eq!(again.raw_os_error(), Some(libc::EADDRINUSE));
        let (_v4, p4) = reserve(Protocol::Tcp, Ipv4Addr::UNSPECIFIED, port).unwrap();
        assert_eq!(p4, port);
    }
}
