//! The container's embedded DNS resolver (user-defined networks), served
//! from the monitor because it lives exactly as long as the container.
#![allow(unsafe_code)] // adopting descriptors passed on the command line

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Starts serving on the sockets berth bound inside the container's
/// network namespace; without them (no user-defined network) nothing.
/// A failure is reported and the container runs on without names.
pub(crate) fn start(udp: Option<RawFd>, tcp: Option<RawFd>, config: Option<&str>) {
    let (Some(udp), Some(tcp), Some(config)) = (udp, tcp, config) else {
        return;
    };
    // SAFETY: berth passed these two descriptors for the resolver alone.
    let (udp, tcp) = unsafe { (OwnedFd::from_raw_fd(udp), OwnedFd::from_raw_fd(tcp)) };
    let sockets = berth_dns::Sockets::from_fds(udp, tcp);
    if let Err(e) = berth_dns::serve(sockets, config.into()) {
        eprintln!("berth-monitor: dns: {e}");
    }
}

/// `berth-monitor dns --watch-pid PID --dns-config PATH`, with the UDP
/// socket on stdin and the TCP one on stdout: a resolver for a running
/// container that had none (a default-bridge container connected to a
/// user-defined network). It serves until the container's init exits.
pub(crate) fn serve_only(mut args: impl Iterator<Item = String>) -> i32 {
    let mut pid: i32 = 0;
    let mut config = None;
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--watch-pid" => pid = v.parse().unwrap_or(0),
            "--dns-config" => config = Some(v),
            _ => {
                eprintln!("berth-monitor dns: unknown option {a}");
                return 2;
            }
        }
    }
    let Some(config) = config else {
        eprintln!("berth-monitor dns: --dns-config is required");
        return 2;
    };
    // SAFETY: plain libc calls on this process's own state; pidfd_open
    // takes a pid and flags.
    let pidfd = unsafe {
        for s in [libc::SIGPIPE, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
            libc::signal(s, libc::SIG_IGN);
        }
        libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32
    };
    if pidfd < 0 {
        // The container is already gone.
        return 0;
    }
    start(Some(0), Some(1), Some(&config));
    let mut p = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, -1) };
        if n > 0
            || (n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted)
        {
            return 0;
        }
    }
}
