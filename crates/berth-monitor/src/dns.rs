//! The container's embedded DNS resolver (user-defined networks), served
//! from the monitor because it lives exactly as long as the container.

use std::os::fd::RawFd;

/// Starts serving on the sockets berth bound inside the container's
/// network namespace; without them (no user-defined network) nothing.
pub(crate) fn start(udp: Option<RawFd>, tcp: Option<RawFd>, config: Option<&str>) {
    let (Some(_udp), Some(_tcp), Some(_config)) = (udp, tcp, config) else {
        return;
    };
}
