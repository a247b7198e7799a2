//! The container network datapath: what the engine asks the kernel for
//! when a container joins a bridge network. Synchronous (no async runtime:
//! the engine is a short-lived CLI), every operation idempotent (creating
//! what exists or deleting what is gone succeeds), so a retry after a crash
//! converges instead of failing.
//!
//! # Design
//!
//! **Per network** (a Linux bridge, e.g. `berth0` or `br-<12 hex>`, named by
//! the engine):
//! - the bridge itself ([`link::ensure_bridge`]), with the gateway address
//!   and MTU, up, its `ifalias` set to the engine's *owner tag* so a sweep
//!   can tell berth's links (of this state root) from everyone else's (a
//!   bridge that was already there keeps its owner);
//! - in berth's nftables table ([`nft::Firewall`], `table ip <name>`, one
//!   per state root, default `berth`): the bridge's name in the set
//!   `bridges`, a chain `n-<bridge>-fwd` (`filter` hook `forward`, priority
//!   `filter - 10`: accepts replies and published-port traffic, isolates
//!   networks from each other, confines `--internal` ones) and a chain
//!   `n-<bridge>-post` (`nat` hook `postrouting`: masquerade of the subnet
//!   leaving through any other interface, and of DNATed traffic hairpinned
//!   back into the bridge).
//!
//! **Per container**:
//! - a network namespace bind-mounted on a file under the engine's run dir
//!   ([`netns::create`]), the way `ip netns add` does it;
//! - per network, a veth pair ([`link::attach`]): the host end (a name the
//!   engine picks, see [`link::host_veth_name`]) enslaved to the bridge in
//!   hairpin mode (so a container reaches its own published ports), the
//!   other end created directly inside the namespace as `eth0` (`eth1`...)
//!   with the container's MAC, MTU, address and default route;
//! - for published ports, two nftables chains keyed by the container:
//!   `c-<key>-pre` (`nat` hook `prerouting`, priority `dstnat`: traffic from
//!   outside and from containers, hairpin included) and `c-<key>-out` (`nat`
//!   hook `output`, priority `-100`: connections from the host itself to
//!   its non-loopback addresses).
//!
//! Every chain is a *base* chain of its own, so adding a network or a
//! container's ports is "create chain, flush, add rules" and removing is
//! "flush, delete chain", one atomic `nft -f -` transaction each, with no
//! rule handles to track. The NAT chains only see the first packet of a
//! connection, so a chain per container costs nothing on established
//! flows; the per-packet `forward` chains are per network.
//!
//! Nothing outside berth's own table is touched. The host must forward
//! IPv4 ([`sysctl::enable_ip_forward`], never turned off again: other
//! software may rely on it). See [`nft`] for what an `accept` in berth's
//! table can and cannot do against a host firewall whose `FORWARD` policy
//! is drop, and for reaching published ports on 127.0.0.1.
//!
//! IPv6 is not done yet: the same chains in a `table ip6` are the plan.

pub mod link;
mod netlink;
pub mod netns;
pub mod nft;
pub mod reserve;
pub mod sweep;
pub mod sysctl;

/// What went wrong, with the object it went wrong on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A kernel call (netlink, mount, setns, a /proc file) failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// `nft` could not be run or refused a ruleset.
    #[error("{0}")]
    Nft(String),
    /// A name or value the caller passed cannot be used as given.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an `io::Error` with what was being done (`map_err(io_err(..))`).
pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Checks a name that ends up in nft rulesets and netlink requests: ASCII
/// letters, digits, `-`, `_`, `.`, at most `max` bytes. Quoting is then
/// never needed, and no caller string can change a ruleset's meaning.
pub(crate) fn check_name(kind: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid {kind} name {name:?}: need 1 to {max} of [A-Za-z0-9._-]"
        )))
    }
}

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("bridge", "br-0123456789a", IFNAME_MAX).is_ok());
        assert!(check_name("bridge", "br-0123456789ab", IFNAME_MAX).is_ok());
        assert!(check_name("bridge", "br-0123456789abc", IFNAME_MAX).is_err());
        assert!(check_name("bridge", "", IFNAME_MAX).is_err());
        assert!(check_name("bridge", "a\"; flush ruleset", 64).is_err());
        assert!(check_name("bridge", "a b", 64).is_err());
    }
}
