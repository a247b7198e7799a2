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
