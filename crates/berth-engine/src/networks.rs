//! Networks: the engine's store of Docker-style networks and their IPAM.
//! A network is a directory `networks/<id>/` holding `network.json` (the
//! `network inspect` document plus the pool in use), `ipam.json` (each
//! container's address) and `lock` (held while addresses change). The
//! built-in `bridge`, `host` and `none` networks are made on the first use
//! of any network operation, the default bridge with Docker's first free
//! default pool.
//!
//! A bridge network's datapath (its Linux bridge, `route_localnet`, its
//! chains in berth's nftables table) is made with the network and removed
//! with it ([`Engine::datapath_create`], [`Engine::datapath_remove`]), and
//! remade by the first container start that finds it missing (after a
//! reboot). Containers join networks in `containers/network.rs`.
//!
//! Several state roots can share one host (every test has its own): each
//! root has its own nftables table, default bridge name and owner tag
//! ([`Engine::net_tag`]), and subnets are chosen under a host-wide lock so
//! two roots never pick the same one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use berth_store::{LockMode, Scratch, StoreLock};
use serde::{Deserialize, Serialize};

use crate::prune::PruneFilters;
use crate::{Engine, Error, ErrorKind, Result};

pub mod ipam;
use crate::daemon_config::DaemonConfig;
use ipam::{AllocError, Allocations, Endpoint, IpNet, Pool, Pool6, V4Net, V6Net};
pub mod ports;
pub use ports::{
    format_ports, parse_expose, parse_publish, port_lines, publish_all, PortBinding, PortMap,
    PortSet,
};

pub const BRIDGE_DRIVER: &str = "bridge";
pub const HOST_DRIVER: &str = "host";
pub const NULL_DRIVER: &str = "null";
/// The default bridge's Linux bridge (Docker's `docker0`).
pub const DEFAULT_BRIDGE_IFACE: &str = "berth0";
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";
/// Host-wide: every state root picks subnets under it.
const HOST_NET_LOCK: &str = "/run/berth-subnets.lock";

/// A bridge network's link and firewall rules.
#[derive(Debug, Clone)]
pub(crate) struct BridgePlan {
    pub link: berth_net::link::BridgeConfig,
    pub rules: berth_net::nft::NetworkRules,
}

/// The Linux bridge of a bridge network: the name the user gave, or
/// Docker's `br-<12 hex of the ID>`.
pub fn bridge_iface(net: &Network) -> String {
    match net.options.get(OPT_BRIDGE_NAME) {
        Some(b) if !b.is_empty() => b.clone(),
        _ => format!("br-{}", &net.id[..12.min(net.id.len())]),
    }
}

/// moby's `IsPreDefinedNetwork`.
pub fn is_predefined(name: &str) -> bool {
    matches!(name, "bridge" | "host" | "none" | "default")
}

/// `network inspect`'s document, field for field (dockerd 20.10).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigFrom,
    pub config_only: bool,
    #[serde(default)]
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Vec<IpamConfig>,
}

/// One subnet's configuration, as the user gave it (an automatic subnet
/// shows its subnet and gateway).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IpamConfig {
    #[serde(rename = "Subnet", default, skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(rename = "IPRange", default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(rename = "Gateway", default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(
        rename = "AuxiliaryAddresses",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub aux_addresses: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigFrom {
    pub network: String,
}

/// A container on the network, as `network inspect` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// berth's part of the record: the IPv4 pool actually in use, whether the
/// user configured it (Docker shows only what the user gave), and the
/// IPv6 pool of an `--ipv6` network (absent otherwise: a v6 subnet given
/// without `--ipv6` is only shown, as dockerd does).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NetworkPrivate {
    pub subnet: Option<String>,
    pub ip_range: Option<String>,
    pub gateway: Option<Ipv4Addr>,
    pub user_subnet: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

impl NetworkPrivate {
    /// The IPv6 pool of an IPv6-enabled network.
    pub(crate) fn pool6(&self) -> Result<Option<Pool6>> {
        let (Some(subnet), Some(gateway)) = (&self.subnet6, self.gateway6) else {
            return Ok(None);
        };
        Ok(Some(Pool6 {
            subnet: v6_of(subnet)?,
            range: self.ip_range6.as_deref().map(v6_of).transpose()?,
            gateway,
        }))
    }
}

/// What `network.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetworkRecord {
    #[serde(flatten)]
    pub(crate) network: Network,
    #[serde(rename = "Berth", default)]
    pub(crate) private: NetworkPrivate,
}

/// `bridge.json`: see docs/state-root.md.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BridgeState {
    bridge: String,
    ours: bool,
    ready: bool,
}

/// `network create`'s request, after the docker CLI's own checks
/// ([`consolidate_ipam`]).
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub ipam: Vec<IpamConfig>,
    /// `--ipam-opt`, shown as `IPAM.Options`.
    pub ipam_options: BTreeMap<String, String>,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// The docker CLI's `consolidateIpam`: pairs each `--ip-range` and
/// `--gateway` with the subnet holding it. Errors are the CLI's own (no
/// daemon prefix).
pub fn consolidate_ipam(
    subnets: &[String],
    ranges: &[String],
    gateways: &[String],
    aux: &BTreeMap<String, String>,
) -> std::result::Result<Vec<IpamConfig>, String> {
    if subnets.len() < ranges.len() || subnets.len() < gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut configs: Vec<IpamConfig> = Vec::new();
    for s in subnets {
        for c in &configs {
            if ipam::subnet_matches(s, &c.subnet)? || ipam::subnet_matches(&c.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        configs.push(IpamConfig {
            subnet: s.clone(),
            ..IpamConfig::default()
        });
    }
    for r in ranges {
        let mut matched = false;
        for c in configs.iter_mut() {
            if !ipam::subnet_matches(&c.subnet, r)? {
                continue;
            }
            if !c.ip_range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                    c.ip_range, c.subnet
                ));
            }
            c.ip_range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in gateways {
        let mut matched = false;
        for c in configs.iter_mut() {
            if !ipam::subnet_matches(&c.subnet, g)? {
                continue;
            }
            if !c.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                    c.gateway, c.subnet
                ));
            }
            c.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in aux {
        let mut matched = false;
        for c in configs.iter_mut() {
            if !ipam::subnet_matches(&c.subnet, addr)? {
                continue;
            }
            c.aux_addresses
                .get_or_insert_with(BTreeMap::new)
                .insert(key.clone(), addr.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    Ok(configs)
}

fn internal(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("{what}: {e}"))
}

fn new_id() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| internal("generate a network ID", e))?;
    Ok(hex::encode(b))
}

fn now() -> String {
    berth_image::config::go_rfc3339_nano(&chrono::Utc::now())
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `network ls --filter` as dockerd 20.10 applies it: `driver`, `scope`
/// exact; `name`, `id` exact or an unanchored regular expression; `label`
/// `key`/`key=value`; `type` custom|builtin (values unite); `dangling`
/// true|1|false|0 (unused custom networks, or the others).
#[derive(Debug, Clone, Default)]
pub struct NetworkFilters {
    args: BTreeMap<String, BTreeSet<String>>,
}

const LIST_FILTERS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];
const PRUNE_FILTERS: &[&str] = &["label", "label!", "until"];

fn regex_or_exact(values: &BTreeSet<String>, s: &str) -> bool {
    values.contains(s)
        || values
            .iter()
            .any(|v| regex::Regex::new(v).is_ok_and(|re| re.is_match(s)))
}

impl NetworkFilters {
    /// `key=value` strings as the docker CLI sends them; unknown keys are
    /// dockerd's error.
    pub fn parse(raw: &[String]) -> Result<NetworkFilters> {
        let mut args: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in raw.iter().filter(|r| !r.is_empty()) {
            let Some((k, v)) = r.split_once('=') else {
                return Err(Error::invalid("Bad format of filter (expected name=value)"));
            };
            args.entry(k.trim().to_ascii_lowercase())
                .or_default()
                .insert(v.trim().to_string());
        }
        if let Some(k) = args.keys().find(|k| !LIST_FILTERS.contains(&k.as_str())) {
            return Err(Error::invalid(format!("Invalid filter '{k}'")));
        }
        Ok(NetworkFilters { args })
    }

    fn apply(&self, nets: Vec<Network>) -> Result<Vec<Network>> {
        let get = |k: &str| self.args.get(k).filter(|v| !v.is_empty());
        let labels = PruneFilters::parse(
            &get("label")
                .map(|v| v.iter().map(|l| format!("label={l}")).collect::<Vec<_>>())
                .unwrap_or_default(),
        )?;
        let mut out: Vec<Network> = nets
            .into_iter()
            .filter(|n| get("driver").is_none_or(|v| v.contains(&n.driver)))
            .filter(|n| get("name").is_none_or(|v| regex_or_exact(v, &n.name)))
            .filter(|n| get("id").is_none_or(|v| regex_or_exact(v, &n.id)))
            .filter(|n| labels.matches_labels(Some(&n.labels)))
            .filter(|n| get("scope").is_none_or(|v| v.contains(&n.scope)))
            .collect();
        if let Some(values) = self.args.get("dangling") {
            if values.len() > 1 {
                return Err(Error::invalid(
                    "got more than one value for filter key \"dangling\"",
                ));
            }
            let dangling = match values.iter().next().map(String::as_str) {
                Some("1" | "true") => true,
                Some("0" | "false") => false,
                _ => {
                    return Err(Error::invalid(
                        "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")",
                    ))
                }
            };
            out.retain(|n| {
                let unused = !is_predefined(&n.name) && n.containers.is_empty();
                unused == dangling
            });
        }
        if let Some(values) = self.args.get("type") {
            let mut kept = Vec::new();
            for v in values {
                let builtin = match v.as_str() {
                    "custom" => false,
                    "builtin" => true,
                    _ => return Err(Error::invalid(format!("invalid filter: 'type'='{v}'"))),
                };
                kept.extend(
                    out.iter()
                        .filter(|n| is_predefined(&n.name) == builtin)
                        .cloned(),
                );
            }
            out = kept;
        }
        Ok(out)
    }
}

impl Engine {
    /// The root's `lock`: held while networks appear or disappear, so names
    /// and subnets stay unique.
    fn networks_lock(&self) -> Result<StoreLock> {
        Ok(StoreLock::acquire(
            &self.layout.lock_file(),
            LockMode::Exclusive,
        )?)
    }

    fn network_read(&self, id: &str) -> Result<Option<NetworkRecord>> {
        let Some(mut rec) =
            berth_store::read_json::<NetworkRecord>(&self.layout.network_record(id))?
        else {
            return Ok(None);
        };
        let allocs = self.network_allocations(id)?;
        let bits = rec
            .private
            .subnet
            .as_deref()
            .and_then(|s| ipam::parse_cidr(s).ok())
            .map(|n| match n {
                IpNet::V4(n) => n.prefix,
                IpNet::V6(n) => n.prefix,
            })
            .unwrap_or(32);
        let bits6 = rec
            .private
            .subnet6
            .as_deref()
            .and_then(|s| v6_of(s).ok())
            .map_or(128, |n| n.prefix);
        rec.network.containers = allocs
            .endpoints
            .iter()
            .map(|(cid, e)| {
                (
                    cid.clone(),
                    NetworkContainer {
                        name: e.container_name.clone(),
                        endpoint_id: e.endpoint_id.clone(),
                        mac_address: e.mac.clone(),
                        ipv4_address: format!("{}/{bits}", e.ipv4),
                        ipv6_address: e.ipv6.map(|a| format!("{a}/{bits6}")).unwrap_or_default(),
                    },
                )
            })
            .collect();
        Ok(Some(rec))
    }

    fn network_allocations(&self, id: &str) -> Result<Allocations> {
        Ok(
            berth_store::read_json::<Allocations>(&self.layout.network_ipam(id))?
                .unwrap_or_default(),
        )
    }

    /// Every network's record, by ID.
    fn network_records(&self) -> Result<Vec<NetworkRecord>> {
        let dir = self.layout.networks_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(internal(format!("read {}", dir.display()), e)),
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_id(n))
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = self.network_read(&id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A short, stable key of this state root (8 hex digits).
    fn root_key(&self) -> String {
        let d = berth_store::Digest::of(self.layout.root().as_os_str().as_encoded_bytes());
        d.hex().chars().take(8).collect()
    }

    fn is_default_root(&self) -> bool {
        self.layout.root() == std::path::Path::new(crate::DEFAULT_ROOT)
    }

    /// The `ifalias` berth sets on the links it makes for this root, so a
    /// sweep tells them from everyone else's (other roots' included).
    pub(crate) fn net_tag(&self) -> String {
        format!("berth:{}", self.root_key())
    }

    /// This root's nftables table: `berth`, or `berth_<key>` for any root
    /// but the default one.
    pub(crate) fn firewall(&self) -> Result<berth_net::nft::Firewall> {
        let table = if self.is_default_root() {
            "berth".to_string()
        } else {
            format!("berth_{}", self.root_key())
        };
        berth_net::nft::Firewall::new(&table).map_err(|e| internal("firewall", e))
    }

    /// The default bridge's interface: `berth0` (Docker's `docker0`), or
    /// `berth<key>` for any root but the default one.
    fn default_bridge_iface(&self) -> String {
        if self.is_default_root() {
            DEFAULT_BRIDGE_IFACE.to_string()
        } else {
            format!("berth{}", self.root_key())
        }
    }

    /// Whether the default bridge no longer matches `daemon.json` (`bip`,
    /// `mtu`, `default-address-pools`) and nothing uses it, so it may be
    /// made again. In use, it stays as it is until its last container goes.
    fn default_bridge_stale(&self, rec: &NetworkRecord, cfg: &DaemonConfig) -> Result<bool> {
        let mtu = cfg.mtu.unwrap_or(1500).to_string();
        let subnet = rec.private.subnet.as_deref().map(v4_of).transpose()?;
        let from_bip = rec
            .network
            .ipam
            .config
            .first()
            .is_some_and(|c| !c.gateway.is_empty());
        let matches = rec.network.options.get(OPT_MTU) == Some(&mtu)
            && match cfg.bip()? {
                Some((net, gw)) => subnet == Some(net) && rec.private.gateway == Some(gw),
                None => {
                    !from_bip
                        && match (cfg.pools()?, subnet) {
                            (Some(pools), Some(s)) => pools.iter().any(|(base, size)| {
                                *size == s.prefix && IpNet::V4(*base).overlaps(&IpNet::V4(s))
                            }),
                            _ => true,
                        }
                }
            };
        if matches {
            return Ok(false);
        }
        Ok(self
            .network_allocations(&rec.network.id)?
            .endpoints
            .is_empty())
    }

    /// Held (after the root's own lock) while a subnet is chosen and its
    /// bridge made: roots share the host's routing table.
    fn host_subnet_lock(&self) -> Result<StoreLock> {
        Ok(StoreLock::acquire(
            std::path::Path::new(HOST_NET_LOCK),
            LockMode::Exclusive,
        )?)
    }

    /// Make the built-in networks that are missing: `bridge` (with the first
    /// default pool that no network and no host route overlaps), `host` and
    /// `none`. Every network operation calls this first.
    pub fn network_ensure_builtins(&self) -> Result<()> {
        self.network_records_with_builtins().map(drop)
    }

    /// [`Engine::network_ensure_builtins`], returning every network's
    /// record (read once when the built-ins are there).
    fn network_records_with_builtins(&self) -> Result<Vec<NetworkRecord>> {
        let have = |recs: &[NetworkRecord], n: &str| recs.iter().any(|r| r.network.name == n);
        let recs = self.network_records()?;
        let cfg = self.daemon_config()?;
        let stale_bridge = |recs: &[NetworkRecord]| -> Result<bool> {
            match recs.iter().find(|r| r.network.name == "bridge") {
                Some(r) => self.default_bridge_stale(r, &cfg),
                None => Ok(false),
            }
        };
        if ["bridge", "host", "none"].iter().all(|n| have(&recs, n)) && !stale_bridge(&recs)? {
            return Ok(recs);
        }
        let _lock = self.networks_lock()?;
        let mut recs = self.network_records()?;
        let mut keep_id = None;
        if stale_bridge(&recs)? {
            // daemon.json changed and no container is on the bridge: make
            // it again, under the same ID (stopped containers name it).
            if let Some(old) = recs.iter().find(|r| r.network.name == "bridge") {
                self.datapath_remove(old)?;
                keep_id = Some(old.network.id.clone());
                Scratch::bury(
                    &self.layout,
                    &self.layout.network_dir(&old.network.id),
                    "rm-network",
                )?;
            }
            recs.retain(|r| r.network.name != "bridge");
        }
        if !have(&recs, "bridge") {
            let _host = self.host_subnet_lock()?;
            let (subnet, gateway, shown_gateway) = match cfg.bip()? {
                // dockerd shows a configured bip's gateway in inspect.
                Some((subnet, gw)) => (subnet, gw, gw.to_string()),
                None => {
                    let mut taken = ipam::host_routes();
                    taken.extend(recs.iter().flat_map(used_subnets));
                    let pools = cfg.pools()?;
                    let pool = ipam::pick_pool(&taken, pools.as_deref()).ok_or_else(|| {
                        internal(
                            "create the default bridge",
                            "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                        )
                    })?;
                    let subnet = V4Net::new(Ipv4Addr::from(pool.first()), pool.prefix);
                    let gateway = Pool::default_gateway(subnet, None)
                        .ok_or_else(|| internal("create the default bridge", "no gateway"))?;
                    // dockerd shows no gateway for a default bridge it had
                    // to create (it shows one read back from a bridge).
                    (subnet, gateway, String::new())
                }
            };
            let mtu = cfg.mtu.unwrap_or(1500).to_string();
            let options = [
                ("com.docker.network.bridge.default_bridge", "true"),
                ("com.docker.network.bridge.enable_icc", "true"),
                ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                (OPT_BRIDGE_NAME, self.default_bridge_iface().as_str()),
                (OPT_MTU, mtu.as_str()),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let id = match keep_id {
                Some(id) => id,
                None => new_id()?,
            };
            let mut net = builtin("bridge", BRIDGE_DRIVER, id);
            net.ipam.config = vec![IpamConfig {
                subnet: subnet.to_string(),
                gateway: shown_gateway,
                ..IpamConfig::default()
            }];
            net.options = options;
            let private = NetworkPrivate {
                subnet: Some(subnet.to_string()),
                ip_range: None,
                gateway: Some(gateway),
                user_subnet: false,
                ..NetworkPrivate::default()
            };
            self.network_place(
                NetworkRecord {
                    network: net,
                    private,
                },
                &Allocations::default(),
            )?;
        }
        for (name, driver) in [("host", HOST_DRIVER), ("none", NULL_DRIVER)] {
            if !have(&recs, name) {
                self.network_place(
                    NetworkRecord {
                        network: builtin(name, driver, new_id()?),
                        private: NetworkPrivate::default(),
                    },
                    &Allocations::default(),
                )?;
            }
        }
        self.network_records()
    }

    /// Build the network's directory in scratch and rename it into place;
    /// the caller holds [`Engine::networks_lock`].
    fn network_place(&self, rec: NetworkRecord, allocs: &Allocations) -> Result<Network> {
        let id = rec.network.id.clone();
        let scratch = Scratch::new(&self.layout, "network-create")?;
        let staged = scratch.path().join("network");
        std::fs::create_dir_all(&staged)
            .map_err(|e| internal(format!("create {}", staged.display()), e))?;
        berth_store::atomic_write_json(&staged.join("network.json"), &rec)?;
        berth_store::atomic_write_json(&staged.join("ipam.json"), allocs)?;
        let target = self.layout.network_dir(&id);
        std::fs::rename(&staged, &target)
            .map_err(|e| internal(format!("rename {}", target.display()), e))?;
        berth_store::fsync_dir(&self.layout.networks_dir())?;
        drop(scratch);
        if let Err(e) = self.datapath_create(&rec) {
            let _ = Scratch::bury(&self.layout, &target, "rm-network");
            return Err(e);
        }
        Ok(rec.network)
    }

    /// Make a bridge network's Linux bridge (gateway address, MTU, up,
    /// `route_localnet`) and its nftables chains. Idempotent. Whether berth
    /// makes the bridge is written down first (`bridge.json`), so a kill at
    /// any point leaves a bridge that the next attempt finishes, or that
    /// `network rm` and `debug net-sweep` delete, even untagged. A failure
    /// leaves nothing behind that berth made.
    pub(crate) fn datapath_create(&self, rec: &NetworkRecord) -> Result<()> {
        let Some(p) = bridge_plan(rec)? else {
            return Ok(());
        };
        let net = &rec.network;
        let dp = |e: berth_net::Error| internal(format!("network {}", net.name), e);
        let path = self.layout.network_bridge(&net.id);
        let mut st = match berth_store::read_json::<BridgeState>(&path)? {
            Some(st) if st.bridge == p.link.name => st,
            _ => BridgeState {
                bridge: p.link.name.clone(),
                ours: !berth_net::link::exists(&p.link.name).map_err(dp)?,
                ready: false,
            },
        };
        st.ready = false;
        berth_store::atomic_write_json(&path, &st)?;
        berth_net::sysctl::enable_ip_forward().map_err(dp)?;
        let tag = self.net_tag();
        let made = (|| {
            let owner = berth_net::link::ensure_bridge(&p.link, &tag)?;
            if owner == berth_net::link::Ownership::Foreign && st.ours {
                berth_net::link::claim(&p.link.name, &tag)?;
            }
            if !net.internal {
                berth_net::sysctl::set_route_localnet(&p.link.name)?;
            }
            if p.link.gateway6.is_some() {
                berth_net::sysctl::enable_ipv6_forwarding(&p.link.name)?;
            }
            let fw = self
                .firewall()
                .map_err(|e| berth_net::Error::Nft(e.message))?;
            fw.ensure_network(&p.rules)?;
            if !net.internal {
                fw.open_foreign_forward(&p.link.name)?;
            }
            Ok(())
        })();
        if let Err(e) = made {
            if st.ours {
                let _ = berth_net::link::delete_link(&p.link.name);
            }
            return Err(dp(e));
        }
        st.ready = true;
        berth_store::atomic_write_json(&path, &st)?;
        Ok(())
    }

    /// The bridge and its rules are complete (made again if a reboot took
    /// the bridge, or a kill left them half made): a small file read and
    /// one netlink query when they are.
    pub(crate) fn datapath_ensure(&self, rec: &NetworkRecord) -> Result<()> {
        let Some(p) = bridge_plan(rec)? else {
            return Ok(());
        };
        let path = self.layout.network_bridge(&rec.network.id);
        let ready = berth_store::read_json::<BridgeState>(&path)?.is_some_and(|st| st.ready);
        if ready && berth_net::link::exists(&p.link.name).unwrap_or(false) {
            return Ok(());
        }
        self.datapath_create(rec)
    }

    /// Delete a bridge network's chains, and its bridge if berth made it
    /// (tagged as this root's, or written down as made by berth).
    fn datapath_remove(&self, rec: &NetworkRecord) -> Result<()> {
        let Some(p) = bridge_plan(rec)? else {
            return Ok(());
        };
        let net = &rec.network;
        let dp = |e: berth_net::Error| internal(format!("network {}", net.name), e);
        self.firewall()?.remove_network(&p.link.name).map_err(dp)?;
        let made = berth_store::read_json::<BridgeState>(&self.layout.network_bridge(&net.id))?
            .is_some_and(|st| st.ours && st.bridge == p.link.name);
        let tag = self.net_tag();
        let ours = made
            || berth_net::link::list()
                .map_err(dp)?
                .into_iter()
                .any(|l| l.name == p.link.name && l.alias.as_deref() == Some(tag.as_str()));
        if ours {
            berth_net::link::delete_link(&p.link.name).map_err(dp)?;
        }
        Ok(())
    }

    /// `network create`: dockerd's checks in dockerd's order, then the
    /// record, all under the root lock. Returns the new network.
    pub fn network_create(&self, req: &NetworkCreate) -> Result<Network> {
        self.network_ensure_builtins()?;
        if is_predefined(&req.name) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "operation is not permitted on predefined {} network",
                    req.name
                ),
            ));
        }
        let _lock = self.networks_lock()?;
        let _host = self.host_subnet_lock()?;
        let recs = self.network_records()?;
        if recs.iter().any(|r| r.network.name == req.name) {
            return Err(Error::conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let driver = if req.driver.is_empty() {
            BRIDGE_DRIVER
        } else {
            req.driver.as_str()
        };
        match driver {
            BRIDGE_DRIVER => {}
            HOST_DRIVER | NULL_DRIVER => {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    format!("only one instance of {driver:?} network is allowed"),
                ))
            }
            _ => return Err(Error::not_found(format!("plugin {driver:?} not found"))),
        }
        if req.name.is_empty() {
            return Err(Error::invalid("invalid name:"));
        }
        if let Some(mtu) = req.options.get(OPT_MTU) {
            if mtu.parse::<i64>().is_err() {
                return Err(Error::invalid(format!(
                    "failed to parse {OPT_MTU} value: {mtu} (strconv.Atoi: parsing {mtu:?}: invalid syntax)"
                )));
            }
        }
        let id = new_id()?;
        if let Some(b) = req.options.get(OPT_BRIDGE_NAME) {
            if let Some(other) = recs
                .iter()
                .find(|r| r.network.options.get(OPT_BRIDGE_NAME) == Some(b))
            {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    format!(
                        "cannot create network {id} ({b}): conflicts with network {} ({b}): networks have same bridge name",
                        other.network.id
                    ),
                ));
            }
        }
        let pools = self.daemon_config()?.pools()?;
        let (config, private, allocs) = plan_ipam(req, &recs, pools.as_deref())?;
        let net = Network {
            name: req.name.clone(),
            id,
            created: now(),
            scope: "local".into(),
            driver: driver.into(),
            enable_ipv6: req.enable_ipv6,
            ipam: Ipam {
                driver: "default".into(),
                options: Some(req.ipam_options.clone()),
                config,
            },
            internal: req.internal,
            attachable: req.attachable,
            ingress: false,
            config_from: ConfigFrom::default(),
            config_only: false,
            containers: BTreeMap::new(),
            options: req.options.clone(),
            labels: req.labels.clone(),
        };
        self.network_place(
            NetworkRecord {
                network: net,
                private,
            },
            &allocs,
        )
    }

    /// [`find_network`] among the records as they are now.
    fn network_find(&self, term: &str, inspect_style: bool) -> Result<NetworkRecord> {
        find_network(self.network_records()?, term, inspect_style)
    }

    /// A network by ID, name or ID prefix, with berth's part of its record
    /// (for the engine's own use: look up once, then use it).
    pub(crate) fn network_lookup(&self, term: &str) -> Result<NetworkRecord> {
        find_network(self.network_records_with_builtins()?, term, false)
    }

    /// One network by ID, name or ID prefix, with its containers.
    pub fn network_get(&self, term: &str) -> Result<Network> {
        Ok(find_network(self.network_records_with_builtins()?, term, true)?.network)
    }

    /// Networks matching `filters`, in ID order (the docker CLI sorts).
    pub fn network_list(&self, filters: &NetworkFilters) -> Result<Vec<Network>> {
        let nets = self
            .network_records_with_builtins()?
            .into_iter()
            .map(|r| r.network)
            .collect();
        filters.apply(nets)
    }

    /// `network rm`: refuses the built-ins and networks with containers.
    pub fn network_remove(&self, term: &str) -> Result<()> {
        self.network_ensure_builtins()?;
        let _lock = self.networks_lock()?;
        let rec = self.network_find(term, false)?;
        let net = &rec.network;
        if is_predefined(&net.name) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "{} is a pre-defined network and cannot be removed",
                    net.name
                ),
            ));
        }
        self.network_delete_locked(&rec)
    }

    /// Remove a network with no endpoints; the caller holds the root lock.
    fn network_delete_locked(&self, rec: &NetworkRecord) -> Result<()> {
        let net = &rec.network;
        let _alloc = StoreLock::acquire(&self.layout.network_lock(&net.id), LockMode::Exclusive)?;
        if !self.network_allocations(&net.id)?.endpoints.is_empty() {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "error while removing network: network {} id {} has active endpoints",
                    net.name, net.id
                ),
            ));
        }
        self.datapath_remove(rec)?;
        Scratch::bury(
            &self.layout,
            &self.layout.network_dir(&net.id),
            "rm-network",
        )
        .map_err(|e| internal(format!("remove network {}", net.name), e))
    }

    /// `network prune`: custom networks no container uses, created before
    /// `until`, matching the label filters. Returns the removed names.
    pub fn network_prune(&self, filters: &PruneFilters) -> Result<Vec<String>> {
        filters.validate(PRUNE_FILTERS)?;
        let until = filters.until()?;
        self.network_ensure_builtins()?;
        let _lock = self.networks_lock()?;
        let mut removed = Vec::new();
        let mut recs = self.network_records()?;
        recs.sort_by(|a, b| a.network.name.cmp(&b.network.name));
        for rec in recs {
            let net = &rec.network;
            if is_predefined(&net.name) || !net.containers.is_empty() {
                continue;
            }
            if let Some(u) = until {
                let created = chrono::DateTime::parse_from_rfc3339(&net.created)
                    .ok()
                    .map(std::time::SystemTime::from);
                if created.is_some_and(|c| c > u) {
                    continue;
                }
            }
            if !filters.matches_labels(Some(&net.labels)) {
                continue;
            }
            // Taken meanwhile: not ours to prune.
            if self.network_delete_locked(&rec).is_ok() {
                removed.push(net.name.clone());
            }
        }
        Ok(removed)
    }

    /// Give `container` an IPv4 address on the network (`want`: `--ip`),
    /// or return the one it has. `None` for networks without addresses
    /// (`host`, `none`). Safe against concurrent berth processes: the
    /// network's lock is held from reading `ipam.json` to replacing it.
    pub fn network_allocate(
        &self,
        term: &str,
        container_id: &str,
        container_name: &str,
        want: Option<Ipv4Addr>,
        aliases: &[String],
    ) -> Result<Option<Endpoint>> {
        let rec = self.network_lookup(term)?;
        let want = Wanted { v4: want, v6: None };
        self.network_allocate_in(&rec, container_id, container_name, want, aliases)
    }

    /// [`Engine::network_allocate`] on a network already looked up.
    pub(crate) fn network_allocate_in(
        &self,
        rec: &NetworkRecord,
        container_id: &str,
        container_name: &str,
        wanted: Wanted,
        aliases: &[String],
    ) -> Result<Option<Endpoint>> {
        let net = &rec.network;
        let term = net.name.as_str();
        let want = wanted.v4;
        if let Some(w) = want {
            check_static_ip(rec, w)?;
        }
        if let Some(w) = wanted.v6 {
            check_static_ip6(rec, w)?;
        }
        let pool6 = rec.private.pool6()?;
        let (Some(subnet), Some(gateway)) = (&rec.private.subnet, rec.private.gateway) else {
            return Ok(None);
        };
        let pool = Pool {
            subnet: v4_of(subnet)?,
            range: rec.private.ip_range.as_deref().map(v4_of).transpose()?,
            gateway,
        };
        let _lock = StoreLock::acquire(&self.layout.network_lock(&net.id), LockMode::Exclusive)?;
        // Removed while we waited: the lock we hold is on a buried file.
        if !self.layout.network_record(&net.id).exists() {
            return Err(Error::not_found(format!("network {term} not found")));
        }
        self.network_sweep_temp(&net.id);
        let mut allocs = self.network_allocations(&net.id)?;
        if let Some(e) = allocs.endpoints.get(container_id) {
            return Ok(Some(e.clone()));
        }
        // Addresses belong to started containers only, and every started
        // container has its run dir (tmpfs: a reboot empties it). So a
        // container's entry without one is left over from a kill or a lost
        // write, and that is also why these files need no fsync (below).
        // Other keys are `debug network-alloc`'s, kept.
        allocs.endpoints.retain(|id, _| {
            let container = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
            !container || self.layout.container_run_dir(id).exists()
        });
        // libnetwork's endpoint layer words these (`assignAddressVersion`).
        let ip = pool.allocate(&allocs, want).map_err(|e| match (e, want) {
            (AllocError::InUse, _) => Error::conflict(AllocError::InUse.to_string()),
            (AllocError::OutOfRange, Some(w)) => Error::invalid(format!(
                "Invalid address {w}: It does not belong to any of this network's subnets"
            )),
            _ => Error::conflict(format!(
                "no available IPv4 addresses on this network's address pools: {} ({})",
                net.name, net.id
            )),
        })?;
        let ipv6 = match pool6 {
            Some(p) => Some(p.allocate(&allocs, wanted.v6).map_err(|e| match e {
                AllocError::InUse => Error::conflict(AllocError::InUse.to_string()),
                _ => Error::conflict(format!(
                    "no available IPv6 addresses on this network's address pools: {} ({})",
                    net.name, net.id
                )),
            })?),
            None => None,
        };
        let ep = Endpoint {
            container_name: container_name.to_string(),
            endpoint_id: new_id()?,
            ipv4: ip,
            ipv6,
            mac: ipam::mac_for(ip),
            aliases: aliases.to_vec(),
        };
        if want.is_none() {
            allocs.last = Some(ip);
        }
        allocs
            .endpoints
            .insert(container_id.to_string(), ep.clone());
        self.network_write_allocations(&net.id, &allocs)?;
        self.network_write_names(net, &allocs)?;
        Ok(Some(ep))
    }

    /// What `debug check-store` finds wrong with networks: unreadable
    /// records, a record under another ID's directory, a name used twice,
    /// an address given to two containers or outside its subnet.
    pub(crate) fn network_check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let dir = self.layout.networks_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(problems),
            Err(e) => return Err(internal(format!("read {}", dir.display()), e)),
        };
        let mut names = BTreeSet::new();
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let rec = match self.network_read(&id) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    problems.push(format!("network {id}: no network.json"));
                    continue;
                }
                Err(err) => {
                    problems.push(format!("network {id}: {}", err.message));
                    continue;
                }
            };
            if rec.network.id != id {
                problems.push(format!("network {id}: record names ID {}", rec.network.id));
            }
            if !names.insert(rec.network.name.clone()) {
                problems.push(format!("network name {} used twice", rec.network.name));
            }
            let subnet = rec.private.subnet.as_deref().map(v4_of).transpose();
            let allocs = self.network_allocations(&id)?;
            let mut seen = BTreeSet::new();
            let mut seen6 = BTreeSet::new();
            let pool6 = rec.private.pool6().ok().flatten();
            for (cid, ep) in &allocs.endpoints {
                if !seen.insert(ep.ipv4) {
                    problems.push(format!("network {id}: {} given twice", ep.ipv4));
                }
                if let Some(a) = ep.ipv6 {
                    if !seen6.insert(a) {
                        problems.push(format!("network {id}: {a} given twice"));
                    }
                    if !pool6.is_some_and(|p| p.subnet.contains(a)) {
                        problems.push(format!(
                            "network {id}: {cid} has {a} outside its IPv6 subnet"
                        ));
                    }
                }
                if let Ok(Some(n)) = &subnet {
                    if !n.contains(ep.ipv4) {
                        problems.push(format!("network {id}: {cid} has {} outside {n}", ep.ipv4));
                    }
                }
            }
        }
        Ok(problems)
    }

    /// Remove temp files of `ipam.json` writers that were killed; only a
    /// holder of the network's lock writes there, so with the lock held
    /// every one is stale.
    fn network_sweep_temp(&self, id: &str) {
        let Ok(entries) = std::fs::read_dir(self.layout.network_dir(id)) else {
            return;
        };
        for e in entries.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with(".ipam.json.tmp-") || n.starts_with(".names.json.tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Release `container`'s address on the network; none is no error.
    pub fn network_release(&self, term: &str, container_id: &str) -> Result<()> {
        let rec = self.network_find(term, false)?;
        let id = &rec.network.id;
        let _lock = StoreLock::acquire(&self.layout.network_lock(id), LockMode::Exclusive)?;
        if !self.layout.network_record(id).exists() {
            return Ok(());
        }
        self.network_sweep_temp(id);
        let mut allocs = self.network_allocations(id)?;
        if allocs.endpoints.remove(container_id).is_some() {
            self.network_write_allocations(id, &allocs)?;
            self.network_write_names(&rec.network, &allocs)?;
        }
        Ok(())
    }

    /// `ipam.json`, atomically but not durably: a start or stop does not
    /// wait for the disk (two fsyncs each). After a crash the file may be
    /// older than the containers; the next allocation drops entries of
    /// containers that are not started (see `network_allocate_in`).
    fn network_write_allocations(&self, id: &str, allocs: &Allocations) -> Result<()> {
        berth_store::atomic_replace_json(&self.layout.network_ipam(id), allocs, false)
            .map_err(Error::from_store)
    }

    /// The embedded DNS's table for the network (`names.json`), derived
    /// from `ipam.json` and written after it under the same lock; a crash
    /// between the two leaves a stale table that the next change rewrites.
    fn network_write_names(&self, net: &Network, allocs: &Allocations) -> Result<()> {
        let records: Vec<serde_json::Value> = allocs
            .endpoints
            .values()
            .map(|e| {
                let mut names = vec![e.container_name.trim_start_matches('/').to_string()];
                names.extend(e.aliases.iter().cloned());
                names.dedup();
                serde_json::json!({
                    "names": names,
                    "ipv4": e.ipv4.to_string(),
                    "ipv6": e.ipv6.map(|a| a.to_string()),
                })
            })
            .collect();
        let doc = serde_json::json!({"network": net.name, "records": records});
        berth_store::atomic_replace_json(&self.layout.network_names(&net.id), &doc, false)
            .map_err(Error::from_store)?;
        Ok(())
    }

    /// Remove whatever of this root's datapath no record accounts for:
    /// tagged links, firewall chains and pinned namespaces of containers
    /// that are not running, bridges of networks that are gone. With
    /// `all`, everything (an uninstall, or the end of a test): refused
    /// while a container runs.
    pub fn network_sweep(&self, all: bool) -> Result<berth_net::sweep::Swept> {
        let mut keep = berth_net::sweep::Keep::default();
        let mut running = Vec::new();
        for id in self.container_ids()? {
            if let Some(r) = self.container_refresh(&id)? {
                if r.state.running {
                    running.push(r);
                }
            }
        }
        if all {
            if let Some(r) = running.first() {
                return Err(Error::conflict(format!(
                    "container {} is running: stop it first",
                    &r.id[..12]
                )));
            }
            // Bridges a kill left untagged are known only by their network.
            for rec in self.network_records()? {
                self.datapath_remove(&rec)?;
            }
        } else {
            for rec in self.network_records()? {
                if let Some(p) = bridge_plan(&rec)? {
                    keep.bridges.insert(p.link.name);
                }
            }
            for r in &running {
                keep.containers.insert(r.id.clone());
                keep.netns.insert(r.id.clone());
                for (name, ep) in crate::containers::network::endpoints(r) {
                    let term = ep.network_term(&name);
                    keep.veths
                        .insert(berth_net::link::host_veth_name(&r.id, &term));
                }
            }
        }
        let dir = self.layout.netns_dir();
        berth_net::sweep::sweep(&self.net_tag(), &self.firewall()?, Some(&dir), &keep)
            .map_err(|e| internal("network sweep", e))
    }

    /// This root's datapath as the host has it (for `debug net-state`).
    pub fn network_state(&self) -> Result<serde_json::Value> {
        let fw = self.firewall()?;
        let tag = self.net_tag();
        let links: Vec<String> = berth_net::link::list()
            .map_err(|e| internal("list links", e))?
            .into_iter()
            .filter(|l| l.alias.as_deref() == Some(tag.as_str()))
            .map(|l| l.name)
            .collect();
        let st = fw.state().map_err(|e| internal("firewall state", e))?;
        let netns = berth_net::netns::list(&self.layout.netns_dir())
            .map_err(|e| internal("list netns", e))?;
        Ok(serde_json::json!({
            "Table": fw.table(),
            "TableExists": fw.exists().unwrap_or(false),
            "Tag": tag,
            "Links": links,
            "FirewallNetworks": st.networks,
            "FirewallContainers": st.containers,
            "Netns": netns,
        }))
    }
}

/// dockerd's lookup: full ID, then exact name, then a unique ID prefix.
/// dockerd words ambiguity two ways: its inspect route (`inspect_style`)
/// and everything else (`FindNetwork`).
fn find_network(
    recs: Vec<NetworkRecord>,
    term: &str,
    inspect_style: bool,
) -> Result<NetworkRecord> {
    let mut by_name = Vec::new();
    let mut by_prefix = Vec::new();
    for r in recs {
        if r.network.id == term {
            return Ok(r);
        }
        if r.network.name == term {
            by_name.push(r);
        } else if r.network.id.starts_with(term) {
            by_prefix.push(r);
        }
    }
    let ambiguous = |n: usize, how: &str| {
        Error::invalid(if inspect_style {
            format!("{n} matches found based on {how}: network {term} is ambiguous")
        } else {
            let how = if how == "name" {
                "on name"
            } else {
                "based on ID prefix"
            };
            format!("network {term} is ambiguous ({n} matches found {how})")
        })
    };
    match (by_name.len(), by_prefix.len()) {
        (1, _) => Ok(by_name.remove(0)),
        (n, _) if n > 1 => Err(ambiguous(n, "name")),
        (_, 1) => Ok(by_prefix.remove(0)),
        (_, n) if n > 1 => Err(ambiguous(n, "ID prefix")),
        _ => Err(Error::not_found(format!("network {term} not found"))),
    }
}

/// dockerd's checks of a static address (`--ip`) on a network: only on
/// user-defined networks with a subnet the user gave, inside it.
pub(crate) fn check_static_ip(rec: &NetworkRecord, ip: Ipv4Addr) -> Result<()> {
    if rec.network.name == "bridge" {
        return Err(Error::invalid(
            "user specified IP address is supported on user defined networks only",
        ));
    }
    if !rec.private.user_subnet {
        return Err(Error::invalid(
            "user specified IP address is supported only when connecting to networks with user configured subnets",
        ));
    }
    let inside = rec
        .private
        .subnet
        .as_deref()
        .map(v4_of)
        .transpose()?
        .is_some_and(|n| n.contains(ip));
    if !inside {
        return Err(Error::invalid(format!(
            "Invalid address {ip}: It does not belong to any of this network's subnets"
        )));
    }
    Ok(())
}

/// dockerd's checks of `--ip6`: the network must have an IPv6 subnet the
/// user gave (and IPv6 enabled), and the address must lie in it.
pub(crate) fn check_static_ip6(rec: &NetworkRecord, ip: Ipv6Addr) -> Result<()> {
    if rec.network.name == "bridge" {
        return Err(Error::invalid(
            "user specified IP address is supported on user defined networks only",
        ));
    }
    let Some(pool) = rec.private.pool6()? else {
        return Err(Error::invalid(
            "user specified IP address is supported only when connecting to networks with user configured subnets",
        ));
    };
    if !pool.subnet.contains(ip) {
        return Err(Error::invalid(format!(
            "Invalid address {ip}: It does not belong to any of this network's subnets"
        )));
    }
    Ok(())
}

/// The addresses an endpoint asks for (`--ip`, `--ip6`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

/// A bridge network's link and rules; `None` for host and none.
pub(crate) fn bridge_plan(rec: &NetworkRecord) -> Result<Option<BridgePlan>> {
    let net = &rec.network;
    if net.driver != BRIDGE_DRIVER {
        return Ok(None);
    }
    let (Some(subnet), Some(gateway)) = (&rec.private.subnet, rec.private.gateway) else {
        return Ok(None);
    };
    let subnet = v4_of(subnet)?;
    let name = bridge_iface(net);
    let mtu = net
        .options
        .get(OPT_MTU)
        .and_then(|m| m.parse::<u32>().ok())
        .filter(|m| *m > 0)
        .unwrap_or(1500);
    let pool6 = rec.private.pool6()?;
    Ok(Some(BridgePlan {
        link: berth_net::link::BridgeConfig {
            name: name.clone(),
            mtu,
            gateway,
            prefix_len: subnet.prefix,
            gateway6: pool6.map(|p| (p.gateway, p.subnet.prefix)),
        },
        rules: berth_net::nft::NetworkRules {
            bridge: name,
            subnet: subnet.addr,
            prefix_len: subnet.prefix,
            internal: net.internal,
            subnet6: pool6.map(|p| (p.subnet.addr, p.subnet.prefix)),
        },
    }))
}

fn v4_of(s: &str) -> Result<V4Net> {
    match ipam::parse_cidr(s) {
        Ok(IpNet::V4(n)) => Ok(n),
        _ => Err(internal("network record", format!("bad IPv4 subnet {s}"))),
    }
}

fn v6_of(s: &str) -> Result<V6Net> {
    match ipam::parse_cidr(s) {
        Ok(IpNet::V6(n)) => Ok(n),
        _ => Err(internal("network record", format!("bad IPv6 subnet {s}"))),
    }
}

fn builtin(name: &str, driver: &str, id: String) -> Network {
    Network {
        name: name.into(),
        id,
        created: now(),
        scope: "local".into(),
        driver: driver.into(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default".into(),
            options: None,
            config: Vec::new(),
        },
        internal: false,
        attachable: false,
        ingress: false,
        config_from: ConfigFrom::default(),
        config_only: false,
        containers: BTreeMap::new(),
        options: BTreeMap::new(),
        labels: BTreeMap::new(),
    }
}

/// Subnets a network occupies (its configured ones and its pool). An IPv6
/// subnet counts only with IPv6 enabled: dockerd reserves no v6 pool
/// otherwise, so another network may take it.
fn used_subnets(r: &NetworkRecord) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = r
        .network
        .ipam
        .config
        .iter()
        .filter_map(|c| ipam::parse_cidr(&c.subnet).ok())
        .filter(|n| matches!(n, IpNet::V4(_)) || r.network.enable_ipv6)
        .collect();
    if let Some(n) = r
        .private
        .subnet
        .as_deref()
        .and_then(|s| ipam::parse_cidr(s).ok())
    {
        out.push(n);
    }
    out
}

/// dockerd's IPAM checks for a new bridge network and its pool: the
/// configuration `inspect` shows and the pool in use.
fn plan_ipam(
    req: &NetworkCreate,
    recs: &[NetworkRecord],
    pools: Option<&[(V4Net, u8)]>,
) -> Result<(Vec<IpamConfig>, NetworkPrivate, Allocations)> {
    let taken: Vec<IpNet> = recs.iter().flat_map(used_subnets).collect();
    let overlap = || {
        Error::new(
            ErrorKind::Forbidden,
            "Pool overlaps with other one on this address space",
        )
    };
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for c in &req.ipam {
        let net = ipam::parse_cidr(&c.subnet)
            .map_err(|e| Error::invalid(format!("Invalid subnet {} : {e}", c.subnet)))?;
        match net {
            IpNet::V4(n) => v4.push((n, c)),
            IpNet::V6(n) => v6.push((n, c)),
        }
    }
    if v4.len() > 1 || v6.len() > 1 {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "bridge driver doesn't support multiple subnets",
        ));
    }
    let mut config = Vec::new();
    let mut allocs = Allocations::default();
    let private = match v4.first() {
        Some((subnet, c)) => {
            if taken.iter().any(|t| t.overlaps(&IpNet::V4(*subnet))) {
                return Err(overlap());
            }
            let range = if c.ip_range.is_empty() {
                None
            } else {
                match ipam::parse_cidr(&c.ip_range) {
                    Ok(IpNet::V4(r)) if subnet.contains(r.addr) => Some(r),
                    _ => return Err(Error::invalid("Invalid Address SubPool")),
                }
            };
            let gateway = if c.gateway.is_empty() {
                Pool::default_gateway(*subnet, range).ok_or_else(|| {
                    Error::invalid(
                        "failed to allocate gateway: No available addresses on this pool",
                    )
                })?
            } else {
                let g: Ipv4Addr = c.gateway.parse().map_err(|_| {
                    Error::invalid(format!("invalid gateway address {}", c.gateway))
                })?;
                let p = Pool {
                    subnet: *subnet,
                    range,
                    gateway: Ipv4Addr::UNSPECIFIED,
                };
                p.allocate(&Allocations::default(), Some(g)).map_err(|e| {
                    Error::new(
                        ErrorKind::Forbidden,
                        format!("failed to allocate gateway ({}): {e}", c.gateway),
                    )
                })?
            };
            // libnetwork reserves auxiliary addresses after the gateway.
            let p = Pool {
                subnet: *subnet,
                range,
                gateway,
            };
            for (k, a) in c.aux_addresses.iter().flatten() {
                let taken = |e: String| {
                    Error::new(
                        ErrorKind::Forbidden,
                        format!("failed to allocate secondary ip address ({k}:{a}): {e}"),
                    )
                };
                let ip: Ipv4Addr = a
                    .parse()
                    .map_err(|_| taken(AllocError::OutOfRange.to_string()))?;
                let ip = p
                    .allocate(&allocs, Some(ip))
                    .map_err(|e| taken(e.to_string()))?;
                allocs.aux.push(ip);
            }
            config.push((*c).clone());
            NetworkPrivate {
                subnet: Some(subnet.to_string()),
                ip_range: range.map(|r| r.to_string()),
                gateway: Some(gateway),
                user_subnet: true,
                ..NetworkPrivate::default()
            }
        }
        None => {
            let mut all = taken.clone();
            all.extend(ipam::host_routes());
            let pool = ipam::pick_pool(&all, pools).ok_or_else(|| {
                Error::new(
                    ErrorKind::Forbidden,
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                )
            })?;
            let gateway = Pool::default_gateway(pool, None)
                .ok_or_else(|| internal("allocate a gateway", pool))?;
            config.push(IpamConfig {
                subnet: pool.to_string(),
                gateway: gateway.to_string(),
                ..IpamConfig::default()
            });
            NetworkPrivate {
                subnet: Some(pool.to_string()),
                ip_range: None,
                gateway: Some(gateway),
                user_subnet: false,
                ..NetworkPrivate::default()
            }
        }
    };
    let mut private = private;
    match v6.first() {
        Some((subnet, c)) if req.enable_ipv6 => {
            if taken.iter().any(|t| t.overlaps(&IpNet::V6(*subnet))) {
                return Err(overlap());
            }
            let range = if c.ip_range.is_empty() {
                None
            } else {
                match ipam::parse_cidr(&c.ip_range) {
                    Ok(IpNet::V6(r)) if subnet.contains(r.addr) => Some(r),
                    _ => return Err(Error::invalid("Invalid Address SubPool")),
                }
            };
            let gateway = if c.gateway.is_empty() {
                Pool6::default_gateway(*subnet, range).ok_or_else(|| {
                    Error::invalid(
                        "failed to allocate gateway: No available addresses on this pool",
                    )
                })?
            } else {
                let g: Ipv6Addr = c.gateway.parse().map_err(|_| {
                    Error::invalid(format!("invalid gateway address {}", c.gateway))
                })?;
                let p = Pool6 {
                    subnet: *subnet,
                    range,
                    gateway: Ipv6Addr::UNSPECIFIED,
                };
                p.allocate(&Allocations::default(), Some(g)).map_err(|e| {
                    Error::new(
                        ErrorKind::Forbidden,
                        format!("failed to allocate gateway ({}): {e}", c.gateway),
                    )
                })?
            };
            private.subnet6 = Some(subnet.to_string());
            private.ip_range6 = range.map(|r| r.to_string());
            private.gateway6 = Some(gateway);
            config.push((*c).clone());
        }
        // Shown, but without `--ipv6` dockerd gives no IPv6 addresses.
        Some((_, c)) => config.push((*c).clone()),
        None if req.enable_ipv6 => {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network",
            ))
        }
        None => {}
    }
    Ok((config, private, allocs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ipam_flags_consolidate_as_the_cli_does() {
        let none = BTreeMap::new();
        let c = consolidate_ipam(
            &s(&["10.0.0.0/16"]),
            &s(&["10.0.1.0/24"]),
            &s(&["10.0.0.254"]),
            &none,
        );
        assert_eq!(
            c,
            Ok(vec![IpamConfig {
                subnet: "10.0.0.0/16".into(),
                ip_range: "10.0.1.0/24".into(),
                gateway: "10.0.0.254".into(),
                aux_addresses: None,
            }])
        );
        let err = |sub: &[&str], r: &[&str], g: &[&str]| {
            consolidate_ipam(&s(sub), &s(r), &s(g), &none).err()
        };
        assert_eq!(
            err(&[], &[], &["10.0.0.1"]).as_deref(),
            Some("every ip-range or gateway must have a corresponding subnet")
        );
        assert_eq!(
            err(&["10.1.0.0/16"], &[], &["10.2.0.1"]).as_deref(),
            Some("no matching subnet for gateway 10.2.0.1")
        );
        assert_eq!(
            err(&["10.1.0.0/16"], &["10.2.0.0/24"], &[]).as_deref(),
            Some("no matching subnet for range 10.2.0.0/24")
        );
        assert_eq!(
            err(&["10.1.0.0/16"], &["foo"], &[]).as_deref(),
            Some("no matching subnet for range foo")
        );
        assert_eq!(
            err(&["10.1.0.0/16", "10.1.3.0/24"], &[], &[]).as_deref(),
            Some("multiple overlapping subnet configuration is not supported")
        );
        // One subnet is never compared, so a bad one reaches the daemon.
        assert!(err(&["foo"], &[], &[]).is_none());
    }

    #[test]
    fn list_filters_follow_dockerd() {
        let n = |name: &str, driver: &str, id: &str| {
            let mut n = builtin(name, driver, id.repeat(64));
            n.labels.insert("a".into(), "b".into());
            n
        };
        let nets = vec![
            n("bridge", "bridge", "1"),
            n("host", "host", "2"),
            n("none", "null", "3"),
            n("net1", "bridge", "4"),
            n("other", "bridge", "5"),
        ];
        let names = |f: &[&str]| -> Vec<String> {
            NetworkFilters::parse(&s(f))
                .and_then(|f| f.apply(nets.clone()))
                .map(|v| v.into_iter().map(|n| n.name).collect())
                .unwrap_or_else(|e| vec![e.message])
        };
        assert_eq!(names(&["name=^n"]), ["none", "net1"]);
        assert_eq!(
            names(&["driver=bridge", "name=e"]),
            ["bridge", "net1", "other"]
        );
        assert_eq!(names(&["type=custom"]), ["net1", "other"]);
        assert_eq!(names(&["type=builtin", "driver=null"]), ["none"]);
        assert_eq!(names(&["dangling=true"]), ["net1", "other"]);
        assert_eq!(names(&["dangling=0"]), ["bridge", "host", "none"]);
        assert_eq!(names(&["id=4444"]), ["net1"]);
        assert_eq!(names(&["label=a=b", "scope=local"]).len(), 5);
        assert_eq!(names(&["label=a=c"]).len(), 0);
        assert_eq!(names(&["foo=1"]), ["Invalid filter 'foo'"]);
        assert_eq!(names(&["type=x"]), ["invalid filter: 'type'='x'"]);
        assert_eq!(
            names(&["dangling=x"]),
            ["invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")"]
        );
    }
}
