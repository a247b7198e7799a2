//! Bridges, veth pairs, addresses and routes over rtnetlink.
//!
//! Every function works in the network namespace of the calling thread
//! (the host's, for the engine), except that [`attach`] also configures the
//! container's end inside the namespace it is given. Each link berth makes
//! on the host carries the engine's *owner tag* as its `ifalias`, which is
//! how [`crate::sweep`] recognises berth's links without trusting names.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use sha2::{Digest, Sha256};

use crate::netlink::Netlink;
use crate::{check_name, io_err, netns, Error, Result, IFNAME_MAX};

/// A bridge network's link: the Linux bridge and its gateway address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Interface name (at most 15 bytes), e.g. `berth0` or `br-<12 hex>`.
    pub name: String,
    pub mtu: u32,
    /// The bridge's own address, the containers' default gateway.
    pub gateway: Ipv4Addr,
    /// Prefix length of the network's subnet.
    pub prefix_len: u8,
    /// The IPv6 gateway and prefix length of an IPv6-enabled network.
    pub gateway6: Option<(Ipv6Addr, u8)>,
}

/// A container's interface on one bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The bridge the host end is enslaved to.
    pub bridge: String,
    /// Host end of the veth pair (see [`host_veth_name`]).
    pub host_name: String,
    /// Name inside the container: `eth0`, `eth1`... in connect order.
    pub ifname: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// Default route via this gateway; `None` for `--internal` networks
    /// (and for a second network, whose gateway Docker does not route to).
    pub gateway: Option<Ipv4Addr>,
    /// The IPv6 address and prefix length on an IPv6-enabled network.
    pub address6: Option<(Ipv6Addr, u8)>,
    /// The IPv6 default route's gateway (same rule as `gateway`).
    pub gateway6: Option<Ipv6Addr>,
}

/// One link as listed by [`list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSummary {
    pub name: String,
    pub index: u32,
    /// `bridge`, `veth`... (`None` for plain devices such as `lo`).
    pub kind: Option<String>,
    /// The `ifalias`: berth's owner tag on links berth made.
    pub alias: Option<String>,
}

/// The host end's name for `container` on `network`, the same on every
/// call (so a retry finds what an earlier attempt made): `bveth` + 10 hex
/// of a hash of both, 15 bytes, never one of Docker's `veth<7 hex>`.
pub fn host_veth_name(container: &str, network: &str) -> String {
    let mut h = Sha256::new();
    h.update(container.as_bytes());
    h.update([0]);
    h.update(network.as_bytes());
    let hex = hex::encode(h.finalize());
    format!("bveth{}", &hex[..10])
}

/// Docker's MAC for a container address: `02:42` then the four IPv4 bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

fn open() -> Result<Netlink> {
    Netlink::open().map_err(io_err("open rtnetlink socket"))
}

fn is_errno(e: &io::Error, errno: i32) -> bool {
    e.raw_os_error() == Some(errno)
}

/// Looks a link up by name; `None` when there is none.
fn get_link(nl: &mut Netlink, name: &str) -> Result<Option<LinkMessage>> {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.exchange(RouteNetlinkMessage::GetLink(m), 0) {
        Ok(answers) => Ok(answers.into_iter().find_map(|a| match a {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        })),
        Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
        Err(e) => Err(io_err(format!("look up link {name}"))(e)),
    }
}

fn kind_of(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k.to_string()),
            _ => None,
        }),
        _ => None,
    })
}

fn name_of(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

fn alias_of(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfAlias(n) => Some(n.clone()),
        _ => None,
    })
}

/// Sets attributes on a link and brings it up (`up`) in one request.
fn set_link(
    nl: &mut Netlink,
    name: &str,
    index: u32,
    attrs: Vec<LinkAttribute>,
    up: bool,
) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes = attrs;
    if up {
        m.header.flags |= LinkFlags::Up;
        m.header.change_mask |= LinkFlags::Up;
    }
    nl.request(RouteNetlinkMessage::SetLink(m), 0)
        .map_err(io_err(format!("configure link {name}")))
}

/// Adds an IPv4 address; one already there is fine.
fn add_address(nl: &mut Netlink, name: &str, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
    if prefix > 32 {
        return Err(Error::Invalid(format!("invalid prefix length /{prefix}")));
    }
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
    m.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
    if prefix < 31 {
        let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        let bcast = Ipv4Addr::from(u32::from(ip) | host_bits);
        m.attributes.push(AddressAttribute::Broadcast(bcast));
    }
    match nl.request(
        RouteNetlinkMessage::NewAddress(m),
        NLM_F_CREATE | NLM_F_EXCL,
    ) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
        Err(e) => Err(io_err(format!("add address {ip}/{prefix} to {name}"))(e)),
    }
}

/// Adds an IPv6 address without duplicate address detection (IPAM made
/// it unique, and DAD would keep it unusable for a second or more after
/// the container starts); one already there is fine.
fn add_address6(nl: &mut Netlink, name: &str, index: u32, ip: Ipv6Addr, prefix: u8) -> Result<()> {
    if prefix > 128 {
        return Err(Error::Invalid(format!("invalid prefix length /{prefix}")));
    }
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet6;
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Address(IpAddr::V6(ip)));
    m.attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    match nl.request(
        RouteNetlinkMessage::NewAddress(m),
        NLM_F_CREATE | NLM_F_EXCL,
    ) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
        Err(e) => Err(io_err(format!("add address {ip}/{prefix} to {name}"))(e)),
    }
}

/// Who a bridge belongs to, as [`ensure_bridge`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Created by this call, or earlier with the same owner tag: berth
    /// deletes it with its network.
    Ours,
    /// It was there already, made by someone else (a bridge the user named
    /// with `com.docker.network.bridge.name`): berth uses it, adds its
    /// gateway address and brings it up, but leaves its tag and MTU alone
    /// and must not delete it.
    Foreign,
}

/// Creates the bridge `cfg.name` (or uses the one there), gives it the
/// gateway address and brings it up; a bridge berth made also gets its MTU
/// and owner tag. A link of that name that is not a bridge is an error.
/// The tag is set right after creation (the kernel ignores an alias in
/// the creating request): a crash in between leaves an untagged bridge
/// that a retry takes for [`Ownership::Foreign`], so the engine should
/// also remember which bridges it created.
pub fn ensure_bridge(cfg: &BridgeConfig, tag: &str) -> Result<Ownership> {
    check_name("bridge", &cfg.name, IFNAME_MAX)?;
    let mut nl = open()?;
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(cfg.name.clone()));
    m.attributes.push(LinkAttribute::Mtu(cfg.mtu));
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    let created = match nl.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL) {
        Ok(()) => true,
        Err(e) if is_errno(&e, libc::EEXIST) => false,
        Err(e) => return Err(io_err(format!("create bridge {}", cfg.name))(e)),
    };
    let link = get_link(&mut nl, &cfg.name)?.ok_or_else(|| {
        Error::Invalid(format!("bridge {} vanished while being created", cfg.name))
    })?;
    if kind_of(&link).as_deref() != Some("bridge") {
        return Err(Error::Invalid(format!(
            "cannot create bridge {}: a link of that name exists and is not a bridge",
            cfg.name
        )));
    }
    let owner = if created || alias_of(&link).as_deref() == Some(tag) {
        Ownership::Ours
    } else {
        Ownership::Foreign
    };
    let index = link.header.index;
    add_address(&mut nl, &cfg.name, index, cfg.gateway, cfg.prefix_len)?;
    if let Some((gw6, prefix6)) = cfg.gateway6 {
        match add_address6(&mut nl, &cfg.name, index, gw6, prefix6) {
            // IPv6 disabled on the host (`disable_ipv6`): dockerd makes
            // the network all the same, its containers just cannot route.
            Err(Error::Io { source, .. }) if is_errno(&source, libc::EACCES) => {}
            r => r?,
        }
    }
    let attrs = match owner {
        Ownership::Ours => vec![
            LinkAttribute::Mtu(cfg.mtu),
            LinkAttribute::IfAlias(tag.to_string()),
        ],
        Ownership::Foreign => Vec::new(),
    };
    set_link(&mut nl, &cfg.name, index, attrs, true)?;
    Ok(owner)
}

/// Sets owner tag `tag` on the existing link `name`: for a bridge the
/// engine knows it made (it wrote that down before making it) whose tag a
/// kill right after creation never let [`ensure_bridge`] set.
pub fn claim(name: &str, tag: &str) -> Result<()> {
    check_name("link", name, IFNAME_MAX)?;
    let mut nl = open()?;
    let link = get_link(&mut nl, name)?
        .ok_or_else(|| Error::Invalid(format!("cannot tag link {name}: no such link")))?;
    set_link(
        &mut nl,
        name,
        link.header.index,
        vec![LinkAttribute::IfAlias(tag.to_string())],
        false,
    )
}

/// Deletes the link `name` (a bridge, or a veth pair by either end, which
/// deletes both). A link that is not there is fine. Whatever its owner:
/// do not call it for a bridge [`ensure_bridge`] reported as foreign.
pub fn delete_link(name: &str) -> Result<()> {
    check_name("link", name, IFNAME_MAX)?;
    let mut nl = open()?;
    delete_in(&mut nl, name)
}

/// Takes the link `name` down so it carries no traffic, without deleting
/// it. For a container's host veth before its namespace goes: deleting a
/// veth waits for RCU grace periods (~15-30 ms here, on every `run --rm`),
/// while the kernel destroys a namespace's devices, and so both ends of its
/// veths, asynchronously once the namespace's last reference is gone. A
/// link that is not there is fine.
pub fn retire(name: &str) -> Result<()> {
    check_name("link", name, IFNAME_MAX)?;
    let mut nl = open()?;
    let Some(link) = get_link(&mut nl, name)? else {
        return Ok(());
    };
    let mut m = LinkMessage::default();
    m.header.index = link.header.index;
    m.header.change_mask |= LinkFlags::Up;
    match nl.request(RouteNetlinkMessage::SetLink(m), 0) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::ENODEV) => Ok(()),
        Err(e) => Err(io_err(format!("take link {name} down"))(e)),
    }
}

fn delete_in(nl: &mut Netlink, name: &str) -> Result<()> {
    let Some(link) = get_link(nl, name)? else {
        return Ok(());
    };
    let mut m = LinkMessage::default();
    m.header.index = link.header.index;
    match nl.request(RouteNetlinkMessage::DelLink(m), 0) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::ENODEV) => Ok(()),
        Err(e) => Err(io_err(format!("delete link {name}"))(e)),
    }
}

/// Brings `lo` up in the calling thread's namespace (run it inside a
/// container's namespace with [`netns::run_in`], or use [`loopback_up`]).
fn lo_up(nl: &mut Netlink) -> Result<()> {
    let lo = get_link(nl, "lo")?.ok_or_else(|| Error::Invalid("no lo link".into()))?;
    set_link(nl, "lo", lo.header.index, Vec::new(), true)
}

/// Brings `lo` up inside the namespace at `netns` (what `--network none`
/// and every bridge container need).
pub fn loopback_up(ns: &Path) -> Result<()> {
    netns::run_in(ns, || {
        let mut nl = open()?;
        lo_up(&mut nl)
    })?
}

/// Connects a container to a bridge: a veth pair whose host end
/// (`ep.host_name`, tagged, enslaved to `ep.bridge`, up) stays here and
/// whose other end is created directly inside `ns` as `ep.ifname` with the
/// container's MAC and MTU, then given its address and, with a gateway, the
/// default route; `lo` comes up too. Idempotent: run again it re-applies
/// the configuration; a half-made pair (one end missing) is remade.
pub fn attach(ns: &Path, ep: &Endpoint, tag: &str) -> Result<()> {
    check_name("veth", &ep.host_name, IFNAME_MAX)?;
    check_name("interface", &ep.ifname, IFNAME_MAX)?;
    check_name("bridge", &ep.bridge, IFNAME_MAX)?;
    let mut nl = open()?;
    let bridge = get_link(&mut nl, &ep.bridge)?.ok_or_else(|| {
        Error::Invalid(format!(
            "cannot attach {} to bridge {}: no such bridge",
            ep.host_name, ep.bridge
        ))
    })?;
    let ifname = ep.ifname.clone();
    let inner_exists = netns::run_in(ns, || -> Result<bool> {
        let mut inner = open()?;
        Ok(get_link(&mut inner, &ifname)?.is_some())
    })??;
    let host_exists = get_link(&mut nl, &ep.host_name)?.is_some();
    if host_exists != inner_exists {
        // A crash between creating and configuring cannot split a pair (it
        // is made in one request), but a namespace may have been remade
        // under a veth, or the reverse: start again from nothing.
        delete_in(&mut nl, &ep.host_name)?;
        if inner_exists {
            netns::run_in(ns, || -> Result<()> {
                let mut inner = open()?;
                delete_in(&mut inner, &ifname)
            })??;
        }
    }
    if !(host_exists && inner_exists) {
        create_veth(&mut nl, ns, ep)?;
    }
    let host = get_link(&mut nl, &ep.host_name)?.ok_or_else(|| {
        Error::Invalid(format!(
            "veth {} vanished while being created",
            ep.host_name
        ))
    })?;
    set_link(
        &mut nl,
        &ep.host_name,
        host.header.index,
        vec![
            LinkAttribute::Controller(bridge.header.index),
            LinkAttribute::Mtu(ep.mtu),
            LinkAttribute::IfAlias(tag.to_string()),
        ],
        true,
    )?;
    set_hairpin(&mut nl, &ep.host_name, host.header.index)?;
    netns::run_in(ns, || configure_inside(ep))?
}

/// Lets the bridge send a frame back out of the port it came in by. When
/// `br_netfilter` is loaded, a container connecting to its own published
/// port is DNATed while its frame is being bridged, and the answer must go
/// back out of the container's own port (Docker does the same when it
/// publishes ports without its userland proxy).
fn set_hairpin(nl: &mut Netlink, name: &str, index: u32) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )])),
    ]));
    nl.request(RouteNetlinkMessage::NewLink(m), 0)
        .map_err(io_err(format!("set hairpin mode on bridge port {name}")))
}

fn create_veth(nl: &mut Netlink, ns: &Path, ep: &Endpoint) -> Result<()> {
    let ns_file =
        std::fs::File::open(ns).map_err(io_err(format!("open netns {}", ns.display())))?;
    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(ep.ifname.clone()));
    peer.attributes
        .push(LinkAttribute::NetNsFd(ns_file.as_raw_fd()));
    peer.attributes.push(LinkAttribute::Mtu(ep.mtu));
    peer.attributes
        .push(LinkAttribute::Address(ep.mac.to_vec()));
    let mut m = LinkMessage::default();
    m.attributes
        .push(LinkAttribute::IfName(ep.host_name.clone()));
    m.attributes.push(LinkAttribute::Mtu(ep.mtu));
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    let r = nl.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL);
    drop(ns_file);
    r.map_err(io_err(format!(
        "create veth {} with {} in netns {}",
        ep.host_name,
        ep.ifname,
        ns.display()
    )))
}

/// The container side, run inside its namespace: MAC, MTU, address, up,
/// `lo` up, default route.
fn configure_inside(ep: &Endpoint) -> Result<()> {
    let mut nl = open()?;
    lo_up(&mut nl)?;
    let link = get_link(&mut nl, &ep.ifname)?
        .ok_or_else(|| Error::Invalid(format!("no {} in the container's namespace", ep.ifname)))?;
    let index = link.header.index;
    add_address(&mut nl, &ep.ifname, index, ep.address, ep.prefix_len)?;
    if let Some((a6, p6)) = ep.address6 {
        add_address6(&mut nl, &ep.ifname, index, a6, p6)?;
    }
    set_link(
        &mut nl,
        &ep.ifname,
        index,
        vec![
            LinkAttribute::Address(ep.mac.to_vec()),
            LinkAttribute::Mtu(ep.mtu),
        ],
        true,
    )?;
    let gateways = [
        ep.gateway.map(|g| {
            (
                AddressFamily::Inet,
                RouteAddress::Inet(g),
                g.to_string(),
                "",
            )
        }),
        ep.gateway6.map(|g| {
            (
                AddressFamily::Inet6,
                RouteAddress::Inet6(g),
                g.to_string(),
                "IPv6 ",
            )
        }),
    ];
    for (family, gw, shown, v) in gateways.into_iter().flatten() {
        let mut r = RouteMessage::default();
        r.header.address_family = family;
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.protocol = RouteProtocol::Boot;
        r.header.scope = RouteScope::Universe;
        r.header.kind = RouteType::Unicast;
        r.attributes.push(RouteAttribute::Gateway(gw));
        r.attributes.push(RouteAttribute::Oif(index));
        nl.request(
            RouteNetlinkMessage::NewRoute(r),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .map_err(io_err(format!(
            "add {v}default route via {shown} dev {}",
            ep.ifname
        )))?;
    }
    Ok(())
}

/// Every link in the calling thread's namespace, with kind and alias.
pub fn list() -> Result<Vec<LinkSummary>> {
    let mut nl = open()?;
    let answers = nl
        .exchange(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )
        .map_err(io_err("list links"))?;
    Ok(answers
        .into_iter()
        .filter_map(|a| match a {
            RouteNetlinkMessage::NewLink(l) => Some(LinkSummary {
                name: name_of(&l)?,
                index: l.header.index,
                kind: kind_of(&l),
                alias: alias_of(&l),
            }),
            _ => None,
        })
        .collect())
}

/// Whether a link of that name exists in the calling thread's namespace.
pub fn exists(name: &str) -> Result<bool> {
    check_name("link", name, IFNAME_MAX)?;
    let mut nl = open()?;
    Ok(get_link(&mut nl, name)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_are_stable_and_short() {
        let a = host_veth_name("0123abcd", "bridge");
        assert_eq!(a, host_veth_name("0123abcd", "bridge"));
        assert_ne!(a, host_veth_name("0123abcd", "other"));
        assert_eq!(a.len(), IFNAME_MAX);
        assert!(a.starts_with("bveth"));
    }

    #[test]
    fn docker_macs() {
        assert_eq!(
            mac_for(Ipv4Addr::new(172, 17, 0, 2)),
            [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]
        );
    }
}
