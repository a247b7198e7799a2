//! A container's networking, as dockerd's sandbox gives it: checked at
//! create, set up on the host at every start (a network namespace pinned
//! under the run root, one veth per network, an address, published ports,
//! the embedded DNS), taken down at every stop, so a stopped container
//! holds no address, port or interface.
//!
//! Teardown is derived from the record and the container ID alone (the
//! namespace path, the veth names and the firewall key are functions of
//! the ID), so the next berth command after a crash at any point removes
//! exactly what a start made.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use berth_image::config::ContainerConfig;
use berth_net::nft::{PortMapping, PortMapping6, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::record::{HostConfig, Record};
use super::stats::PortBinding;
use crate::networks::{self, NetworkRecord};
use crate::{Engine, Error, ErrorKind, Result};

/// `HostConfig.NetworkMode`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    None,
    Host,
    /// `container:NAME|ID`: another container's namespace.
    Container(String),
    /// A bridge network by name or ID (`default` is `bridge`).
    Network(String),
}

impl Mode {
    pub fn parse(mode: &str) -> Mode {
        match mode {
            "none" => Mode::None,
            "host" => Mode::Host,
            "" | "default" => Mode::Network("bridge".into()),
            m => match m.strip_prefix("container:") {
                Some(c) => Mode::Container(c.to_string()),
                None => Mode::Network(m.to_string()),
            },
        }
    }
}

/// `EndpointSettings.IPAMConfig`: the addresses the user asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
}

/// A container's endpoint on one network (`NetworkSettings.Networks[n]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    pub mac_address: String,
    pub driver_opts: Option<BTreeMap<String, String>>,
}

impl EndpointSettings {
    /// What `--ip`, `--network-alias`/`--alias` and `--link` ask of an
    /// endpoint (`run`/`create` and `network connect`).
    pub fn request(ip: Option<&str>, aliases: &[String], links: &[String]) -> EndpointSettings {
        EndpointSettings {
            ipam_config: ip.filter(|i| !i.is_empty()).map(|ip| EndpointIpamConfig {
                ipv4_address: ip.to_string(),
                ..Default::default()
            }),
            aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
            links: (!links.is_empty()).then(|| links.to_vec()),
            ..Default::default()
        }
    }

    /// Adds what `--ip6` asks for.
    pub fn with_ip6(mut self, ip6: Option<&str>) -> EndpointSettings {
        if let Some(ip6) = ip6.filter(|i| !i.is_empty()) {
            self.ipam_config
                .get_or_insert_with(EndpointIpamConfig::default)
                .ipv6_address = ip6.to_string();
        }
        self
    }

    /// The addresses `--ip` and `--ip6` asked for.
    pub(crate) fn wanted(&self) -> Result<networks::Wanted> {
        let v6 = match self
            .ipam_config
            .as_ref()
            .map(|c| c.ipv6_address.as_str())
            .filter(|s| !s.is_empty())
        {
            Some(ip) => Some(
                ip.parse::<Ipv6Addr>()
                    .map_err(|_| Error::invalid(format!("invalid IPv6 address: {ip}")))?,
            ),
            None => None,
        };
        Ok(networks::Wanted {
            v4: self.wanted_ip()?,
            v6,
        })
    }

    /// The address `--ip` asked for.
    pub(crate) fn wanted_ip(&self) -> Result<Option<Ipv4Addr>> {
        let Some(ip) = self
            .ipam_config
            .as_ref()
            .map(|c| c.ipv4_address.as_str())
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        ip.parse()
            .map(Some)
            .map_err(|_| Error::invalid(format!("invalid IPv4 address: {ip}")))
    }

    /// Forget what the last start gave (at stop).
    fn clear_runtime(&mut self) {
        self.endpoint_id.clear();
        self.gateway.clear();
        self.ip_address.clear();
        self.ip_prefix_len = 0;
        self.ipv6_gateway.clear();
        self.global_ipv6_address.clear();
        self.global_ipv6_prefix_len = 0;
        self.mac_address.clear();
    }

    /// How to find the endpoint's network: its ID, or (recorded before
    /// the ID was known) the name it is listed under.
    pub(crate) fn network_term(&self, name: &str) -> String {
        if self.network_id.is_empty() {
            name.to_string()
        } else {
            self.network_id.clone()
        }
    }
}

/// What the create request says about networks beside the HostConfig
/// (the Engine API's `NetworkingConfig` for the primary network).
#[derive(Debug, Clone, Default)]
pub struct NetworkingConfig {
    pub endpoint: EndpointSettings,
}

/// The record's `Networks` map, typed.
pub fn endpoints(rec: &Record) -> BTreeMap<String, EndpointSettings> {
    rec.network_settings
        .get("Networks")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn set_endpoints(rec: &mut Record, eps: &BTreeMap<String, EndpointSettings>) {
    rec.network_settings["Networks"] = serde_json::to_value(eps).unwrap_or(Value::Null);
}

/// The networks in join order: the one the container was created on
/// first (its `eth0` and default route), then the others by name.
fn join_order(rec: &Record) -> Vec<(String, EndpointSettings)> {
    let eps = endpoints(rec);
    let primary = match Mode::parse(&rec.host_config.network_mode) {
        Mode::Network(n) => n,
        _ => String::new(),
    };
    let mut v: Vec<(String, EndpointSettings)> = eps.into_iter().collect();
    v.sort_by_key(|(name, ep)| {
        let first = *name == primary || ep.network_id == primary;
        (!first, name.clone())
    });
    v
}

/// A port key of `PortBindings`/`ExposedPorts` (`80/tcp`, `53/udp`, `80`).
fn parse_port_key(key: &str) -> Result<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::invalid(format!("invalid port specification: \"{key}\"")))?;
    Ok((port, proto.to_ascii_lowercase()))
}

/// One port to publish, before a host port is bound.
#[derive(Debug, Clone)]
struct PortRequest {
    proto: Protocol,
    container_port: u16,
    host_ip: IpAddr,
    /// Inclusive; (0, 0) is "any free port".
    host_ports: (u16, u16),
    /// The `::` half of a binding without a host IP: it takes the port
    /// its IPv4 half got when that one is free.
    v6_twin: bool,
}

impl PortRequest {
    /// The key of `NetworkSettings.Ports` (`80/tcp`).
    fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto.as_str())
    }
}

/// Whether the container publishes anything (`-p` or `-P`).
fn publishes(hc: &HostConfig) -> bool {
    hc.publish_all_ports || hc.port_bindings.as_object().is_some_and(|m| !m.is_empty())
}

/// `PortBindings` plus, with `-P`, every exposed port without a binding
/// (a port given no binding gets one to any free host port).
fn port_requests(hc: &HostConfig, c: &ContainerConfig) -> Result<Vec<PortRequest>> {
    let given: BTreeMap<String, Option<Vec<PortBinding>>> =
        serde_json::from_value(hc.port_bindings.clone()).unwrap_or_default();
    let mut all: networks::ports::PortMap = given
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    if hc.publish_all_ports {
        let exposed = c
            .exposed_ports
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        all = networks::ports::publish_all(&exposed, &all);
    }
    let mut out = Vec::new();
    for (key, mut binds) in all {
        if binds.is_empty() {
            binds.push(PortBinding::default());
        }
        let (container_port, proto) = parse_port_key(&key)?;
        let proto = match proto.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => {
                return Err(Error::invalid(format!(
                    "publishing {other} ports is not supported by berth: {key}"
                )))
            }
        };
        for b in binds {
            let host_ip: IpAddr = if b.host_ip.is_empty() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                b.host_ip.parse().map_err(|_| {
                    Error::invalid(format!("invalid host IP address: {}", b.host_ip))
                })?
            };
            let bad = || Error::invalid(format!("invalid hostPort: {}", b.host_port));
            let host_ports = match b.host_port.split_once('-') {
                _ if b.host_port.is_empty() => (0, 0),
                Some((a, z)) => {
                    let a: u16 = a.parse().map_err(|_| bad())?;
                    let z: u16 = z.parse().map_err(|_| bad())?;
                    if a > z {
                        return Err(bad());
                    }
                    (a, z)
                }
                None => {
                    let p: u16 = b.host_port.parse().map_err(|_| bad())?;
                    (p, p)
                }
            };
            out.push(PortRequest {
                proto,
                container_port,
                host_ip,
                host_ports,
                v6_twin: false,
            });
            // No host IP: dockerd 20.10 publishes on `::` too, when the
            // host has IPv6.
            if b.host_ip.is_empty() && berth_net::sysctl::ipv6_enabled() {
                out.push(PortRequest {
                    proto,
                    container_port,
                    host_ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    host_ports,
                    v6_twin: true,
                });
            }
        }
    }
    Ok(out)
}

/// Host port reservations, proxied IPv6 ports and `NetworkSettings.Ports`.
type Published = (
    Vec<OwnedFd>,
    Vec<(OwnedFd, String)>,
    networks::ports::PortSet,
);

/// What a start set up that the rest of the start needs.
#[derive(Debug, Default)]
pub(crate) struct NetUp {
    /// The network namespace for the spec: `None` keeps the host's,
    /// `Some(None)` asks the runtime for a new one, `Some(Some(p))` joins.
    pub namespace: Option<Option<String>>,
    /// Kept open by the monitor while the container runs.
    pub hold: Vec<OwnedFd>,
    /// Host ports on IPv6 the monitor proxies: the bound socket and the
    /// target (`tcp:172.18.0.2:80`, `udp:[fd00::2]:53`).
    pub proxies: Vec<(OwnedFd, String)>,
    /// The embedded DNS: (udp, tcp) sockets inside the namespace, config.
    pub dns: Option<(OwnedFd, OwnedFd, PathBuf)>,
    /// `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` contents, or
    /// another container's files to share (`container:`).
    pub hosts: String,
    pub resolv: String,
    pub share_files_of: Option<Record>,
    pub hostname: Option<String>,
    /// Variables legacy links add to the container's environment.
    pub env: Vec<String>,
}

impl NetUp {
    /// The monitor's `flag fd` pairs and extra arguments.
    pub fn monitor_fds(&self) -> (Vec<(&'static str, RawFd)>, Vec<String>) {
        let mut fds: Vec<(&'static str, RawFd)> = self
            .hold
            .iter()
            .map(|f| ("--hold-fd", f.as_raw_fd()))
            .collect();
        let mut args = Vec::new();
        // Paired with their targets by order.
        for (fd, target) in &self.proxies {
            fds.push(("--proxy-fd", fd.as_raw_fd()));
            args.push("--proxy-to".into());
            args.push(target.clone());
        }
        if let Some((u, t, cfg)) = &self.dns {
            fds.push(("--dns-udp-fd", u.as_raw_fd()));
            fds.push(("--dns-tcp-fd", t.as_raw_fd()));
            args.push("--dns-config".into());
            args.push(cfg.display().to_string());
        }
        (fds, args)
    }
}

/// Which default routes an endpoint carries: IPv4 (and `--mac-address`)
/// on the primary network, IPv6 on the first network with IPv6.
#[derive(Debug, Clone, Copy)]
struct Routes {
    primary: bool,
    v6_route: bool,
}

/// Docker's `/etc/hosts` head.
pub(crate) const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// `--add-host` lines (`name:ip`, `host-gateway` already resolved).
fn extra_hosts_lines(hc: &HostConfig, gateway: Option<Ipv4Addr>) -> String {
    let mut out = String::new();
    for h in hc.extra_hosts.iter().flatten() {
        if let Some((name, ip)) = h.split_once(':') {
            let ip = if ip == "host-gateway" {
                match gateway {
                    Some(g) => g.to_string(),
                    None => continue,
                }
            } else {
                ip.to_string()
            };
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    out
}

/// The `/etc/hosts` line of the container's own address.
fn hostname_line(c: &ContainerConfig, ip: &str) -> String {
    let hn = &c.hostname;
    if c.domainname.is_empty() {
        format!("{ip}\t{hn}\n")
    } else {
        format!("{ip}\t{hn}.{} {hn}\n", c.domainname)
    }
}

/// The host's resolv.conf.
fn host_resolv() -> String {
    std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
}

/// Values of `key` lines in a resolv.conf (`nameserver`, `search`...).
fn resolv_values(text: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() == Some(key) {
            out.extend(w.map(str::to_string));
        }
    }
    out
}

/// The container's DNS settings: the host's resolv.conf with `--dns`,
/// `--dns-search` and `--dns-option` replacing their parts.
struct DnsSettings {
    nameservers: Vec<String>,
    search: Vec<String>,
    options: Vec<String>,
}

impl DnsSettings {
    fn new(hc: &HostConfig) -> DnsSettings {
        let host = host_resolv();
        let pick = |given: &[String], key: &str| {
            if given.is_empty() {
                resolv_values(&host, key)
            } else {
                given.to_vec()
            }
        };
        DnsSettings {
            nameservers: pick(&hc.dns, "nameserver"),
            search: pick(&hc.dns_search, "search"),
            options: pick(&hc.dns_options, "options"),
        }
    }

    /// resolv.conf as Docker writes it. With `embedded` (user-defined
    /// networks) the only nameserver is the embedded DNS at 127.0.0.11
    /// (which forwards to [`DnsSettings::nameservers`]) and `ndots:0` is
    /// added unless the user gave ndots; otherwise loopback resolvers,
    /// unreachable from the container's namespace, are left out.
    fn resolv_conf(&self, embedded: bool) -> String {
        let mut nameservers = self.nameservers.clone();
        let mut options = self.options.clone();
        if embedded {
            nameservers = vec!["127.0.0.11".into()];
            if !options.iter().any(|o| o.starts_with("ndots:")) {
                options.push("ndots:0".into());
            }
        } else {
            nameservers.retain(|a| !(a.starts_with("127.") || a == "::1"));
            if nameservers.is_empty() {
                nameservers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
            }
        }
        let mut out = String::new();
        if !self.search.is_empty() && self.search != ["."] {
            out.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        for n in nameservers {
            out.push_str(&format!("nameserver {n}\n"));
        }
        if !options.is_empty() {
            out.push_str(&format!("options {}\n", options.join(" ")));
        }
        out
    }
}

/// dockerd's checks of an endpoint request (`--ip`, `--alias`) against
/// the network, at create and at connect.
fn net_check_endpoint(net: &NetworkRecord, ep: &EndpointSettings) -> Result<()> {
    let want = ep.wanted()?;
    if let Some(ip) = want.v4 {
        networks::check_static_ip(net, ip)?;
    }
    if let Some(ip) = want.v6 {
        networks::check_static_ip6(net, ip)?;
    }
    if net.network.name == "bridge" && ep.aliases.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(Error::invalid(
            "network-scoped alias is supported only for containers in user defined networks",
        ));
    }
    Ok(())
}

/// Docker's wording for a port another container (or program) has.
fn port_taken(name: &str, ep_id: &str, r: &PortRequest, port: u16, by_berth: bool) -> Error {
    let what = if by_berth {
        format!(
            "Bind for {}:{port} failed: port is already allocated",
            r.host_ip
        )
    } else {
        let (family, addr) = match r.host_ip {
            IpAddr::V4(a) => ("4", a.to_string()),
            IpAddr::V6(a) => ("6", format!("[{a}]")),
        };
        format!(
            "Error starting userland proxy: listen {}{family} {addr}:{port}: bind: address already in use",
            r.proto.as_str(),
        )
    };
    Error::new(
        ErrorKind::Internal,
        format!(
            "driver failed programming external connectivity on endpoint {name} ({ep_id}): {what}"
        ),
    )
}

impl Engine {
    /// Where a container's network namespace is pinned.
    fn netns_path(&self, id: &str) -> PathBuf {
        self.layout.container_netns(id)
    }

    /// `create`: dockerd's checks of the networking options, and the
    /// record's first `NetworkSettings` (the endpoint without an address).
    pub(crate) fn net_plan_create(
        &self,
        c: &ContainerConfig,
        hc: &mut HostConfig,
        net: &NetworkingConfig,
    ) -> Result<(Value, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut settings = super::record::network_settings_none("");
        let ep = &net.endpoint;
        match Mode::parse(&hc.network_mode) {
            Mode::Container(other) => {
                let conflict = |what: &str| {
                    Err(Error::invalid(format!(
                        "conflicting options: {what} and the network mode"
                    )))
                };
                if !c.hostname.is_empty() {
                    return conflict("hostname");
                }
                if c.mac_address.as_deref().is_some_and(|m| !m.is_empty()) {
                    return conflict("mac-address");
                }
                if hc.extra_hosts.as_ref().is_some_and(|h| !h.is_empty()) {
                    return conflict("custom host-to-IP mapping");
                }
                if !hc.dns.is_empty() || !hc.dns_search.is_empty() || !hc.dns_options.is_empty() {
                    return conflict("dns");
                }
                if publishes(hc) {
                    return Err(Error::invalid(
                        "conflicting options: port publishing and the container type network mode",
                    ));
                }
                let target = self.container_get(&other)?;
                hc.network_mode = format!("container:{}", target.id);
            }
            Mode::Host => {
                if publishes(hc) {
                    warnings.push(
                        "Published ports are discarded when using host network mode".to_string(),
                    );
                    hc.port_bindings = Value::Object(Default::default());
                    hc.publish_all_ports = false;
                }
                let host = self.network_get("host")?;
                settings["Networks"] = serde_json::json!({
                    "host": EndpointSettings {
                        network_id: host.id,
                        ..Default::default()
                    }
                });
            }
            Mode::None => {
                let none = self.network_get("none")?;
                settings["Networks"] = serde_json::json!({
                    "none": EndpointSettings {
                        network_id: none.id,
                        ..Default::default()
                    }
                });
            }
            Mode::Network(term) => {
                let net = self.network_lookup(&term)?;
                net_check_endpoint(&net, ep)?;
                let mut e = ep.clone();
                e.network_id = net.network.id.clone();
                settings["Networks"] = serde_json::json!({ net.network.name.clone(): e });
            }
        }
        Ok((settings, warnings))
    }

    /// Set up the container's networking for a start. On error, what was
    /// made is left for [`Engine::net_down`] (the start's failure path
    /// calls it through `release_runtime`).
    pub(crate) fn net_up(&self, rec: &mut Record) -> Result<NetUp> {
        let hc = rec.host_config.clone();
        match Mode::parse(&hc.network_mode) {
            Mode::None => Ok(NetUp {
                namespace: Some(None),
                hosts: format!("{HOSTS}{}", extra_hosts_lines(&hc, None)),
                resolv: DnsSettings::new(&hc).resolv_conf(false),
                ..NetUp::default()
            }),
            Mode::Host => {
                let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                Ok(NetUp {
                    namespace: None,
                    hosts: format!("{hosts}{}", extra_hosts_lines(&hc, None)),
                    resolv: host_resolv(),
                    ..NetUp::default()
                })
            }
            Mode::Container(other) => {
                let target = self
                    .container_refresh(&other)?
                    .ok_or_else(|| Error::not_found(format!("No such container: {other}")))?;
                if !target.state.running {
                    return Err(Error::invalid(format!(
                        "cannot join network of a non running container: {}",
                        target.id
                    )));
                }
                let ns = match Mode::parse(&target.host_config.network_mode) {
                    Mode::Host => None,
                    Mode::Network(_) => {
                        Some(Some(self.netns_path(&target.id).display().to_string()))
                    }
                    _ => Some(Some(format!("/proc/{}/ns/net", target.state.pid))),
                };
                let mut s = target.network_settings.clone();
                s["Networks"] = serde_json::json!({});
                s["Ports"] = serde_json::json!({});
                rec.network_settings = s;
                Ok(NetUp {
                    namespace: ns,
                    hostname: Some(target.config.hostname.clone()),
                    share_files_of: Some(target),
                    ..NetUp::default()
                })
            }
            Mode::Network(_) => self.net_up_bridge(rec),
        }
    }

    fn net_up_bridge(&self, rec: &mut Record) -> Result<NetUp> {
        let id = rec.id.clone();
        let ns = self.netns_path(&id);
        let dp = |e: berth_net::Error| Error::new(ErrorKind::Internal, format!("{e}"));
        berth_net::netns::create(&ns).map_err(dp)?;
        berth_net::link::loopback_up(&ns).map_err(dp)?;
        let mut eps = endpoints(rec);
        let mut up = NetUp {
            namespace: Some(Some(ns.display().to_string())),
            ..NetUp::default()
        };
        rec.private.ifnames.clear();
        // The resolver's sockets and its port redirect first, so that the
        // redirect's `nft` runs while the endpoints are made.
        let order = join_order(rec);
        let wants_dns = order.iter().any(|(name, _)| name != "bridge");
        let dns_early = if wants_dns {
            Some(self.net_dns_sockets(&ns)?)
        } else {
            None
        };
        let mut hosts_ips = String::new();
        let mut primary: Option<(Ipv4Addr, Option<Ipv6Addr>, Ipv4Addr, String)> = None;
        // The first network with IPv6 carries the v6 default route, as
        // with dockerd (even when another network has the v4 one).
        let mut has_v6_route = false;
        for (i, (net_name, ep)) in order.into_iter().enumerate() {
            let net = self
                .network_lookup(&ep.network_term(&net_name))
                .map_err(|e| {
                    if e.kind == ErrorKind::NotFound {
                        Error::not_found(format!("network {net_name} not found"))
                    } else {
                        e
                    }
                })?;
            let network = &net.network;
            let ifname = format!("eth{i}");
            let v6_route = !has_v6_route;
            let (e, ip, gateway) = self.net_attach(
                rec,
                &ns,
                &net,
                &ep,
                &ifname,
                Routes {
                    primary: i == 0,
                    v6_route,
                },
            )?;
            has_v6_route |= !e.global_ipv6_address.is_empty() && !net.network.internal;
            let ip6 = e.global_ipv6_address.parse::<Ipv6Addr>().ok();
            rec.private.ifnames.insert(network.id.clone(), ifname);
            if primary.is_none() {
                primary = Some((ip, ip6, gateway, e.endpoint_id.clone()));
            }
            hosts_ips.push_str(&hostname_line(&rec.config, &e.ip_address));
            if ip6.is_some() {
                hosts_ips.push_str(&hostname_line(&rec.config, &e.global_ipv6_address));
            }
            if i == 0 && network.name == "bridge" {
                let s = &mut rec.network_settings;
                s["Bridge"] = Value::from("");
                s["EndpointID"] = Value::from(e.endpoint_id.clone());
                s["Gateway"] = Value::from(e.gateway.clone());
                s["IPAddress"] = Value::from(e.ip_address.clone());
                s["IPPrefixLen"] = Value::from(e.ip_prefix_len);
                s["MacAddress"] = Value::from(e.mac_address.clone());
            }
            eps.insert(network.name.clone(), e);
        }
        set_endpoints(rec, &eps);
        rec.network_settings["SandboxKey"] = Value::from(ns.display().to_string());
        rec.network_settings["SandboxID"] = Value::from(
            berth_store::Digest::of(format!("sandbox:{id}").as_bytes())
                .hex()
                .to_string(),
        );
        let Some((ip, ip6, gateway, ep_id)) = primary else {
            return Err(Error::invalid("container has no network to join"));
        };
        // Published ports, on the primary network's address.
        let (hold, proxies, ports) = self.net_publish(rec, ip, ip6, &ep_id)?;
        up.hold = hold;
        up.proxies = proxies;
        rec.network_settings["Ports"] = serde_json::to_value(ports).unwrap_or(Value::Null);
        let (link_hosts, link_env) = if endpoints(rec).contains_key("bridge") {
            self.links_at_start(rec)?
        } else {
            (String::new(), Vec::new())
        };
        up.env = link_env;
        let hc = &rec.host_config;
        up.hosts = format!(
            "{HOSTS}{}{link_hosts}{hosts_ips}",
            extra_hosts_lines(hc, Some(gateway))
        );
        let dns = DnsSettings::new(hc);
        up.resolv = dns.resolv_conf(dns_early.is_some());
        if let Some((u, t, job)) = dns_early {
            job.wait()
                .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
            let cfg = self.net_dns_config(rec, &dns, &self.dns_tables(rec))?;
            up.dns = Some((u, t, cfg));
        }
        Ok(up)
    }

    /// Binds every published host port (held by the monitor from then on)
    /// and installs the DNAT rules. Returns the sockets and what
    /// `NetworkSettings.Ports` shows. IPv6 host ports are DNATed to the
    /// container's IPv6 address when it has one (but `::1`, which the
    /// kernel cannot route out of a bridge); the monitor proxies the rest
    /// in userland, to the container's IPv6 or else IPv4 address, as
    /// docker-proxy does.
    fn net_publish(
        &self,
        rec: &Record,
        ip: Ipv4Addr,
        ip6: Option<Ipv6Addr>,
        ep_id: &str,
    ) -> Result<Published> {
        // Exposed ports show as `null` unless published.
        let mut shown: networks::ports::PortSet = rec
            .config
            .exposed_ports
            .iter()
            .flatten()
            .map(|(k, _)| (k.clone(), None))
            .collect();
        let reqs = port_requests(&rec.host_config, &rec.config)?;
        if reqs.is_empty() {
            return Ok((Vec::new(), Vec::new(), shown));
        }
        let name = rec.name.trim_start_matches('/');
        let mut held = Vec::new();
        let mut proxies = Vec::new();
        let mut maps = Vec::new();
        let mut maps6 = Vec::new();
        let mut twin_port = None;
        for r in &reqs {
            let mut last_err = None;
            let mut got = None;
            // The `::` twin tries its IPv4 half's port first.
            let first = twin_port.filter(|_| r.v6_twin);
            let candidates = first
                .into_iter()
                .chain(r.host_ports.0..=r.host_ports.1)
                .collect::<Vec<u16>>();
            for port in candidates {
                let bound = match r.host_ip {
                    IpAddr::V4(a) => berth_net::reserve::reserve(r.proto, a, port),
                    IpAddr::V6(a) => berth_net::reserve::reserve6(r.proto, a, port),
                };
                match bound {
                    Ok(x) => {
                        got = Some(x);
                        break;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                        last_err = Some(port);
                    }
                    Err(e) => {
                        return Err(Error::new(
                            ErrorKind::Internal,
                            format!("cannot bind host port {port}: {e}"),
                        ))
                    }
                }
            }
            let Some((fd, port)) = got else {
                let port = last_err.unwrap_or(r.host_ports.1);
                let by_berth = self.host_port_user(rec, r, port);
                return Err(port_taken(name, ep_id, r, port, by_berth));
            };
            twin_port = Some(port);
            shown
                .entry(r.key())
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: r.host_ip.to_string(),
                    host_port: port.to_string(),
                });
            match r.host_ip {
                IpAddr::V4(host_ip) => {
                    held.push(fd);
                    maps.push(PortMapping {
                        host_ip: (!host_ip.is_unspecified()).then_some(host_ip),
                        protocol: r.proto,
                        host_port: port,
                        container_ip: ip,
                        container_port: r.container_port,
                    });
                }
                IpAddr::V6(host_ip) => {
                    let target = match ip6 {
                        Some(a) => {
                            maps6.push(PortMapping6 {
                                host_ip: (!host_ip.is_unspecified()).then_some(host_ip),
                                protocol: r.proto,
                                host_port: port,
                                container_ip: a,
                                container_port: r.container_port,
                            });
                            format!("[{a}]:{}", r.container_port)
                        }
                        None => format!("{ip}:{}", r.container_port),
                    };
                    proxies.push((fd, format!("{}:{target}", r.proto.as_str())));
                }
            }
        }
        self.firewall()?
            .publish(&rec.id, &maps, &maps6)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        Ok((held, proxies, shown))
    }

    /// Whether another running container of this root publishes `port`
    /// (on an IPv6 request: on the same address, as dockerd's port
    /// allocator keeps one map per address).
    fn host_port_user(&self, me: &Record, r: &PortRequest, port: u16) -> bool {
        let proto = r.proto;
        let want = port.to_string();
        let same_ip = |b: &PortBinding| match r.host_ip {
            IpAddr::V4(_) => true,
            IpAddr::V6(a) => b.host_ip.parse::<IpAddr>().ok() == Some(IpAddr::V6(a)),
        };
        self.container_ids()
            .unwrap_or_default()
            .into_iter()
            .filter(|id| *id != me.id)
            .filter_map(|id| self.load_record(&id).ok().flatten())
            .filter(|r| r.state.running)
            .any(|r| {
                super::stats::published_ports(&r).iter().any(|(k, bs)| {
                    k.ends_with(proto.as_str())
                        && bs.iter().any(|b| b.host_port == want && same_ip(b))
                })
            })
    }

    /// The embedded DNS's config file in the run dir.
    fn net_dns_config(
        &self,
        rec: &Record,
        dns: &DnsSettings,
        tables: &[PathBuf],
    ) -> Result<PathBuf> {
        // `--link target:alias` on user-defined networks: the alias is a
        // name only this container resolves, to the target on a network
        // both are on (dockerd's endpoint aliases).
        let aliases: BTreeMap<&str, &str> = rec
            .host_config
            .links
            .iter()
            .flatten()
            .filter_map(|l| {
                let (target, me_alias) = l.split_once(':')?;
                let alias = me_alias.rsplit('/').next()?;
                Some((alias, target.trim_start_matches('/')))
            })
            .collect();
        let cfg = serde_json::json!({
            "tables": tables,
            "servers": dns.nameservers,
            "search": dns.search,
            "aliases": aliases,
        });
        let path = self.layout.container_dns_config(&rec.id);
        berth_store::atomic_write_json(&path, &cfg)?;
        Ok(path)
    }

    /// The embedded DNS's sockets, bound inside the namespace on
    /// 127.0.0.11 at a free port, and the started `nft` run that sends
    /// 127.0.0.11:53 there (a program in the container may bind port 53
    /// itself, as on Docker).
    fn net_dns_sockets(
        &self,
        ns: &std::path::Path,
    ) -> Result<(OwnedFd, OwnedFd, berth_net::nft::NftJob)> {
        let any_port = std::net::SocketAddr::new(berth_dns::LISTEN.ip(), 0);
        let sockets = berth_dns::bind_in_at(ns, any_port)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("embedded DNS: {e}")))?;
        let port = sockets
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("embedded DNS: {e}")))?
            .port();
        let job = self
            .firewall()?
            .redirect_dns(ns, port)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        let (u, t) = sockets.into_fds();
        Ok((u, t, job))
    }

    /// Undo [`Engine::net_up`]: published ports, veths, addresses, the
    /// namespace. Idempotent and quiet: whatever is already gone is fine.
    pub(crate) fn net_down(&self, rec: &Record) {
        let Mode::Network(_) = Mode::parse(&rec.host_config.network_mode) else {
            return;
        };
        let id = &rec.id;
        if publishes(&rec.host_config) {
            if let Ok(fw) = self.firewall() {
                let _ = fw.unpublish(id);
            }
        }
        // Host veths are only taken down here: removing the namespace makes
        // the kernel delete them in the background, which keeps ~20 ms of
        // RCU waits off `stop` and `run --rm`. If the namespace cannot be
        // removed they are deleted the slow way.
        let eps: Vec<String> = endpoints(rec)
            .into_iter()
            .map(|(name, ep)| ep.network_term(&name))
            .collect();
        let veth = |term: &String| berth_net::link::host_veth_name(id, term);
        for term in &eps {
            let _ = berth_net::link::retire(&veth(term));
        }
        if berth_net::netns::delete(&self.netns_path(id)).is_err() {
            for term in &eps {
                let _ = berth_net::link::delete_link(&veth(term));
            }
        }
        for term in &eps {
            let _ = self.network_release(term, id);
        }
    }
}

impl Engine {
    /// `network connect [--ip] [--alias] NETWORK CONTAINER`: on a running
    /// container the endpoint is made at once (a new `ethN`), on a stopped
    /// one it is recorded for the next start.
    pub fn network_connect(
        &self,
        net_term: &str,
        input: &str,
        req: &EndpointSettings,
    ) -> Result<()> {
        let net = self.network_lookup(net_term)?;
        let network = &net.network;
        let id = self.container_resolve(input)?;
        self.container_refresh(&id)?;
        let _lock = self.container_lock(&id)?;
        let mut rec = self
            .load_record(&id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {input}")))?;
        let forbidden = |m: &str| Err(Error::new(ErrorKind::Forbidden, m.to_string()));
        if network.driver == networks::HOST_DRIVER {
            return forbidden(
                "container cannot be disconnected from host network or connected to host network",
            );
        }
        match Mode::parse(&rec.host_config.network_mode) {
            Mode::None => {
                if network.driver == networks::NULL_DRIVER {
                    return Ok(());
                }
                return forbidden("container cannot be connected to multiple networks with one of the networks in private (none) mode");
            }
            Mode::Host | Mode::Container(_) => {
                return forbidden("container sharing network namespace with another container or host cannot be connected to any other network");
            }
            Mode::Network(_) => {}
        }
        if network.driver == networks::NULL_DRIVER {
            return forbidden("container cannot be connected to multiple networks with one of the networks in private (none) mode");
        }
        let mut eps = endpoints(&rec);
        let name = rec.name.trim_start_matches('/').to_string();
        if eps.contains_key(&network.name) {
            return forbidden(&format!(
                "endpoint with name {name} already exists in network {}",
                network.name
            ));
        }
        net_check_endpoint(&net, req)?;
        let user_net = network.name != "bridge";
        let mut e = req.clone();
        e.network_id = network.id.clone();
        if e.ipam_config.is_none() {
            e.ipam_config = Some(EndpointIpamConfig::default());
        }
        if e.driver_opts.is_none() {
            e.driver_opts = Some(BTreeMap::new());
        }
        if user_net {
            let mut a = e.aliases.take().unwrap_or_default();
            a.push(id[..12].to_string());
            e.aliases = Some(a);
        }
        if rec.state.running {
            self.net_join_running(&mut rec, &net, &mut e)?;
        }
        let mut line = hostname_line(&rec.config, &e.ip_address);
        if !e.global_ipv6_address.is_empty() {
            line.push_str(&hostname_line(&rec.config, &e.global_ipv6_address));
        }
        eps.insert(network.name.clone(), e);
        set_endpoints(&mut rec, &eps);
        if rec.state.running {
            self.net_files_connected(&rec, &line)?;
        }
        self.save_record(&rec)
    }

    /// After a running container joined a network, as dockerd does: its
    /// `/etc/hosts` gets the new address (one line per network), and the
    /// first user-defined network brings the embedded DNS, which
    /// `/etc/resolv.conf` then names.
    fn net_files_connected(&self, rec: &Record, hosts_line: &str) -> Result<()> {
        let dir = self.layout.container_dir(&rec.id);
        let hosts = dir.join("hosts");
        let mut text = std::fs::read_to_string(&hosts).unwrap_or_default();
        text.push_str(hosts_line);
        // In place: the container has this very inode bind-mounted.
        std::fs::write(&hosts, text).map_err(|e| super::internal("hosts", e))?;
        let wants_dns = endpoints(rec).keys().any(|n| n != "bridge");
        if !wants_dns {
            return Ok(());
        }
        if self.layout.container_dns_config(&rec.id).exists() {
            return self.net_dns_refresh(rec);
        }
        let ns = self.netns_path(&rec.id);
        let (udp, tcp, job) = self.net_dns_sockets(&ns)?;
        job.wait()
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        let dns = DnsSettings::new(&rec.host_config);
        let cfg = self.net_dns_config(rec, &dns, &self.dns_tables(rec))?;
        let monitor = super::sibling_exe("berth-monitor", "BERTH_MONITOR");
        std::process::Command::new(&monitor)
            .arg("dns")
            .arg("--watch-pid")
            .arg(rec.state.pid.to_string())
            .arg("--dns-config")
            .arg(&cfg)
            .stdin(std::process::Stdio::from(udp))
            .stdout(std::process::Stdio::from(tcp))
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| super::internal(format!("start {}", monitor.display()), e))?;
        std::fs::write(dir.join("resolv.conf"), dns.resolv_conf(true))
            .map_err(|e| super::internal("resolv.conf", e))
    }

    /// The names tables of a container's user-defined networks, in the
    /// order they were joined at start (the primary network first).
    fn dns_tables(&self, rec: &Record) -> Vec<PathBuf> {
        join_order(rec)
            .iter()
            .filter(|(name, _)| name.as_str() != "bridge")
            .map(|(_, e)| self.layout.network_names(&e.network_id))
            .collect()
    }

    /// Give a running container an endpoint on one more network: the
    /// lowest free `ethN`, no default route.
    fn net_join_running(
        &self,
        rec: &mut Record,
        net: &NetworkRecord,
        e: &mut EndpointSettings,
    ) -> Result<()> {
        let ns = self.netns_path(&rec.id);
        let used: BTreeSet<&String> = rec.private.ifnames.values().collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !used.contains(n))
            .unwrap_or_else(|| "eth9".into());
        let v6_route = !endpoints(rec)
            .values()
            .any(|ep| !ep.global_ipv6_address.is_empty());
        let routes = Routes {
            primary: false,
            v6_route,
        };
        let (filled, _, _) = self.net_attach(rec, &ns, net, e, &ifname, routes)?;
        *e = filled;
        rec.private.ifnames.insert(net.network.id.clone(), ifname);
        Ok(())
    }

    /// One endpoint, at start or connect: the network's datapath complete,
    /// an address (and the names the embedded DNS answers), the veth in the
    /// namespace as `ifname` (with the default route on the `primary`
    /// network, which also takes `--mac-address`; the IPv6 default route
    /// with `v6_route`, for the first network with IPv6). Returns the endpoint as
    /// `inspect` shows it and the network's gateway. A failed attach takes
    /// its veth and address back.
    fn net_attach(
        &self,
        rec: &Record,
        ns: &std::path::Path,
        net: &NetworkRecord,
        ep: &EndpointSettings,
        ifname: &str,
        routes: Routes,
    ) -> Result<(EndpointSettings, Ipv4Addr, Ipv4Addr)> {
        let Routes { primary, v6_route } = routes;
        let network = &net.network;
        let id = &rec.id;
        let short = id[..12].to_string();
        self.datapath_ensure(net)?;
        let plan = networks::bridge_plan(net)?
            .ok_or_else(|| Error::invalid(format!("network {} has no addresses", network.name)))?;
        let user_net = network.name != "bridge";
        let mut aliases = ep.aliases.clone().unwrap_or_default();
        if user_net && !aliases.contains(&short) {
            aliases.push(short.clone());
        }
        let mut names = aliases.clone();
        if user_net && !rec.config.hostname.is_empty() && rec.config.hostname != short {
            names.push(rec.config.hostname.clone());
        }
        let name = rec.name.trim_start_matches('/');
        let got = self
            .network_allocate_in(net, id, name, ep.wanted()?, &names)?
            .ok_or_else(|| Error::invalid(format!("network {} has no addresses", network.name)))?;
        let mac = match rec.config.mac_address.as_deref() {
            Some(m) if primary && !m.is_empty() => m.to_string(),
            _ => got.mac.clone(),
        };
        let link_ep = berth_net::link::Endpoint {
            bridge: plan.link.name.clone(),
            host_name: berth_net::link::host_veth_name(id, &network.id),
            ifname: ifname.to_string(),
            mac: parse_mac(&mac)?,
            mtu: plan.link.mtu,
            address: got.ipv4,
            prefix_len: plan.link.prefix_len,
            gateway: (primary && !network.internal).then_some(plan.link.gateway),
            address6: got
                .ipv6
                .zip(plan.link.gateway6)
                .map(|(a, (_, prefix))| (a, prefix)),
            gateway6: plan
                .link
                .gateway6
                .filter(|_| v6_route && !network.internal && got.ipv6.is_some())
                .map(|(g, _)| g),
        };
        if let Err(err) = berth_net::link::attach(ns, &link_ep, &self.net_tag()) {
            let _ = berth_net::link::delete_link(&link_ep.host_name);
            let _ = self.network_release(&network.id, id);
            return Err(Error::new(ErrorKind::Internal, format!("{err}")));
        }
        let mut e = ep.clone();
        e.network_id = network.id.clone();
        e.endpoint_id = got.endpoint_id.clone();
        e.gateway = plan.link.gateway.to_string();
        e.ip_address = got.ipv4.to_string();
        e.ip_prefix_len = plan.link.prefix_len;
        e.mac_address = mac;
        if let (Some(a), Some((g, prefix))) = (got.ipv6, plan.link.gateway6) {
            e.global_ipv6_address = a.to_string();
            e.global_ipv6_prefix_len = prefix;
            e.ipv6_gateway = g.to_string();
        }
        if user_net {
            e.aliases = Some(aliases);
        }
        Ok((e, got.ipv4, plan.link.gateway))
    }

    /// Rewrite a running container's `dns.json` after its networks
    /// changed (its resolver re-reads it).
    fn net_dns_refresh(&self, rec: &Record) -> Result<()> {
        let path = self.layout.container_dns_config(&rec.id);
        let Some(mut cfg) = berth_store::read_json::<Value>(&path)? else {
            return Ok(());
        };
        let tables = self.dns_tables(rec);
        cfg["tables"] = serde_json::to_value(tables).unwrap_or(Value::Null);
        berth_store::atomic_write_json(&path, &cfg)?;
        Ok(())
    }

    /// `network disconnect [-f] NETWORK CONTAINER` (`-f` matters only for
    /// swarm-scoped networks on Docker; accepted).
    pub fn network_disconnect(&self, net_term: &str, input: &str, _force: bool) -> Result<()> {
        let network = self.network_get(net_term)?;
        let id = self.container_resolve(input)?;
        self.container_refresh(&id)?;
        let _lock = self.container_lock(&id)?;
        let mut rec = self
            .load_record(&id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {input}")))?;
        if network.driver == networks::HOST_DRIVER {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        let mut eps = endpoints(&rec);
        if network.driver == networks::NULL_DRIVER && eps.is_empty() {
            return Ok(());
        }
        if eps.remove(&network.name).is_none() {
            let the = if rec.state.running { "" } else { "the " };
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "container {} is not connected to {the}network {}",
                    rec.id, network.name
                ),
            ));
        }
        if rec.state.running {
            let _ =
                berth_net::link::delete_link(&berth_net::link::host_veth_name(&id, &network.id));
            self.network_release(&network.id, &id)?;
            rec.private.ifnames.remove(&network.id);
        }
        set_endpoints(&mut rec, &eps);
        if rec.state.running {
            self.net_dns_refresh(&rec)?;
            self.net_hosts_disconnected(&rec)?;
        }
        self.save_record(&rec)
    }
}

impl Engine {
    /// dockerd drops every line naming the container's hostname from its
    /// `/etc/hosts` when it leaves any network, not only that network's
    /// (they all carry the same name); berth does the same.
    fn net_hosts_disconnected(&self, rec: &Record) -> Result<()> {
        let hosts = self.layout.container_dir(&rec.id).join("hosts");
        let Ok(text) = std::fs::read_to_string(&hosts) else {
            return Ok(());
        };
        let me = hostname_line(&rec.config, "");
        let me = me.trim_start_matches('\t').trim_end();
        let kept: String = text
            .lines()
            .filter(|l| l.split_once('\t').is_none_or(|(_, names)| names != me))
            .map(|l| format!("{l}\n"))
            .collect();
        if kept != text {
            std::fs::write(&hosts, kept).map_err(|e| super::internal("hosts", e))?;
        }
        Ok(())
    }
}

/// Legacy `--link NAME[:ALIAS]`, as dockerd keeps and applies them.
impl Engine {
    /// At create: each target must exist; the links are kept as dockerd
    /// shows them, `/target:/me/alias`. Host networking cannot have links.
    pub(crate) fn links_plan_create(
        &self,
        hc: &HostConfig,
        me: &str,
    ) -> Result<Option<Vec<String>>> {
        let Some(links) = hc.links.as_ref().filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        if matches!(Mode::parse(&hc.network_mode), Mode::Host) {
            return Err(Error::invalid(
                "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
            ));
        }
        let mut out = Vec::new();
        for l in links {
            let (target, alias) = parse_link(l)?;
            let id = self.container_resolve(target).map_err(|_| {
                Error::not_found(format!(
                    "could not get container for {target}: No such container: {target}"
                ))
            })?;
            let rec = self
                .load_record(&id)?
                .ok_or_else(|| Error::not_found(format!("No such container: {target}")))?;
            out.push(format!("/{}:/{me}/{alias}", rec.bare_name()));
        }
        Ok(Some(out))
    }

    /// At start on the default bridge: `/etc/hosts` lines (`IP\talias ID
    /// name`) and the environment dockerd gives (`ALIAS_NAME`,
    /// `ALIAS_PORT_80_TCP_ADDR`..., `ALIAS_ENV_X` for the target's own
    /// variables). Every target must be running on the default bridge.
    fn links_at_start(&self, rec: &Record) -> Result<(String, Vec<String>)> {
        let mut hosts = String::new();
        let mut env = Vec::new();
        for l in rec.host_config.links.iter().flatten() {
            let Some((target, me_alias)) = l.split_once(':') else {
                continue;
            };
            let target = target.trim_start_matches('/');
            let alias = me_alias.rsplit('/').next().unwrap_or(target);
            let me = rec.bare_name();
            let not_running = || {
                Error::invalid(format!(
                    "Cannot link to a non running container: /{target} AS /{me}/{alias}"
                ))
            };
            let id = self.container_resolve(target).map_err(|_| not_running())?;
            let t = self.container_refresh(&id)?.ok_or_else(not_running)?;
            if !t.state.running {
                return Err(not_running());
            }
            let ip = endpoints(&t)
                .get("bridge")
                .map(|e| e.ip_address.clone())
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "Cannot link to /{target}, as it does not belong to the default network"
                    ))
                })?;
            let names = if alias == target {
                format!("{alias} {}", &t.id[..12])
            } else {
                format!("{alias} {} {target}", &t.id[..12])
            };
            hosts.push_str(&format!("{ip}\t{names}\n"));
            env.extend(link_env(alias, &format!("/{me}/{alias}"), &ip, &t));
        }
        Ok((hosts, env))
    }
}

/// `NAME[:ALIAS]` of `--link`, the alias defaulting to the name.
fn parse_link(l: &str) -> Result<(&str, &str)> {
    let (target, alias) = match l.split_once(':') {
        Some((t, a)) => (t, a),
        None => (l, l),
    };
    let target = target.trim_start_matches('/');
    if target.is_empty() || alias.is_empty() {
        return Err(Error::invalid(format!("invalid link format: {l}")));
    }
    Ok((target, alias))
}

/// What dockerd puts in a linking container's environment for one link.
fn link_env(alias: &str, full_name: &str, ip: &str, target: &Record) -> Vec<String> {
    let prefix: String = alias
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut env = Vec::new();
    let mut ports: Vec<(u16, String)> = target
        .config
        .exposed_ports
        .iter()
        .flatten()
        .filter_map(|(k, _)| {
            let (p, proto) = k.split_once('/').unwrap_or((k.as_str(), "tcp"));
            Some((p.parse().ok()?, proto.to_string()))
        })
        .collect();
    ports.sort();
    if let Some((p, proto)) = ports.first() {
        env.push(format!("{prefix}_PORT={proto}://{ip}:{p}"));
    }
    for (p, proto) in &ports {
        let key = format!("{prefix}_PORT_{p}_{}", proto.to_ascii_uppercase());
        env.push(format!("{key}={proto}://{ip}:{p}"));
        env.push(format!("{key}_ADDR={ip}"));
        env.push(format!("{key}_PORT={p}"));
        env.push(format!("{key}_PROTO={proto}"));
    }
    env.push(format!("{prefix}_NAME={full_name}"));
    for kv in target.config.env.iter().flatten() {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        if matches!(k, "HOME" | "PATH") {
            continue;
        }
        env.push(format!("{prefix}_ENV_{k}={v}"));
    }
    env
}

/// Clear what a start recorded (addresses, ports, sandbox) when the
/// container stops, as dockerd does.
pub(crate) fn clear_runtime(rec: &mut Record) {
    let mut eps = endpoints(rec);
    for e in eps.values_mut() {
        e.clear_runtime();
    }
    let mut s = super::record::network_settings_none("");
    if !eps.is_empty() {
        s["Networks"] = serde_json::to_value(&eps).unwrap_or(Value::Null);
    }
    rec.network_settings = s;
}

/// A MAC address in the 6-byte forms Go's `net.ParseMAC` takes
/// (`02:42:ac:11:00:02`, `02-42-...`), with dockerd's error.
pub fn parse_mac(m: &str) -> Result<[u8; 6]> {
    let parts: Vec<&str> = m.split([':', '-']).collect();
    let bad = || Error::invalid(format!("{m} is not a valid mac address"));
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(out)
}
