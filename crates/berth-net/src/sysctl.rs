//! Host settings the datapath depends on.

use std::path::Path;
use std::process::Command;

use crate::{io_err, Result};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Turns on IPv4 forwarding (`net.ipv4.ip_forward=1`) in the calling
/// thread's network namespace, without which nothing leaves a bridge.
/// Never turned off again by berth: other software (Docker, VPNs) may rely
/// on it, and a removal cannot know who else wanted it on.
pub fn enable_ip_forward() -> Result<()> {
    let cur = std::fs::read_to_string(IP_FORWARD).map_err(io_err(format!("read {IP_FORWARD}")))?;
    if cur.trim() == "1" {
        return Ok(());
    }
    std::fs::write(IP_FORWARD, "1").map_err(io_err(format!("write 1 to {IP_FORWARD}")))
}

/// Sets `net.ipv4.conf.<iface>.route_localnet=1` on one of berth's
/// bridges, so connections to a published port on 127.0.0.1 can be DNATed
/// out through it (see [`crate::nft`] for the guard that comes with it).
/// Only berth's own bridges get it; the host's interfaces are untouched.
pub fn set_route_localnet(iface: &str) -> Result<()> {
    crate::check_name("bridge", iface, crate::IFNAME_MAX)?;
    let p = format!("/proc/sys/net/ipv4/conf/{iface}/route_localnet");
    std::fs::write(&p, "1").map_err(io_err(format!("write 1 to {p}")))
}

/// Lets one of berth's bridges forward IPv6: `forwarding=1` on the bridge
/// and, where the kernel has it (6.17+), `force_forwarding=1`, which
/// forwards what arrives on that interface without the host-wide
/// `net.ipv6.conf.all.forwarding` (berth never sets that one: it also
/// changes how every interface treats router advertisements). Only
/// berth's own bridges are touched.
pub fn enable_ipv6_forwarding(iface: &str) -> Result<()> {
    crate::check_name("bridge", iface, crate::IFNAME_MAX)?;
    let p = format!("/proc/sys/net/ipv6/conf/{iface}/forwarding");
    std::fs::write(&p, "1").map_err(io_err(format!("write 1 to {p}")))?;
    let f = format!("/proc/sys/net/ipv6/conf/{iface}/force_forwarding");
    if Path::new(&f).exists() {
        std::fs::write(&f, "1").map_err(io_err(format!("write 1 to {f}")))?;
    }
    Ok(())
}

/// Whether the calling thread's namespace has IPv6 (the module loaded and
/// `net.ipv6.conf.all.disable_ipv6` off): without it dockerd publishes on
/// IPv4 only.
pub fn ipv6_enabled() -> bool {
    match std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6") {
        Ok(v) => v.trim() == "0",
        Err(_) => false,
    }
}

/// Whether IPv4 forwarding is on in the calling thread's namespace.
pub fn ip_forward() -> Result<bool> {
    let cur = std::fs::read_to_string(IP_FORWARD).map_err(io_err(format!("read {IP_FORWARD}")))?;
    Ok(cur.trim() == "1")
}

/// Which `iptables` the host has. berth writes nftables directly either
/// way; this only says where the host's *other* rules live (and so where
/// an administrator looks for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IptablesBackend {
    /// iptables-nft (`iptables --version` says `nf_tables`): its rules are
    /// nftables tables (`ip filter`, `ip nat`) beside berth's.
    Nft,
    /// iptables-legacy (x_tables): its rules are invisible to `nft`, but
    /// run at the same hooks.
    Legacy,
    /// No `iptables` command.
    Absent,
}

/// Asks `iptables --version` which variant it is.
pub fn iptables_backend() -> IptablesBackend {
    let bin = ["/usr/sbin/iptables", "/sbin/iptables"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("iptables");
    match Command::new(bin).arg("--version").output() {
        Ok(out) if out.status.success() => {
            if String::from_utf8_lossy(&out.stdout).contains("nf_tables") {
                IptablesBackend::Nft
            } else {
                IptablesBackend::Legacy
            }
        }
        _ => IptablesBackend::Absent,
    }
}
