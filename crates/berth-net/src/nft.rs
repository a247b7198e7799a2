//! NAT, port publishing and forwarding rules in berth's own nftables table.
//!
//! Everything lives in one `table ip <name>` per state root (default
//! `berth`), and its IPv6 twin `table ip6 <name>` (same chain names, for
//! IPv6-enabled networks and ports published to containers with an IPv6
//! address), driven through the `nft` binary (`-f -` to apply, `-j` to
//! read), one atomic transaction per operation. Rules of any other table
//! are never read for changes nor touched; the host's `iptables` may be
//! either variant (see [`crate::sysctl::iptables_backend`]): iptables-nft
//! and iptables-legacy both hook into the same netfilter hooks as this
//! table, so berth's rules work beside either. With iptables-legacy they
//! are only visible with `nft list ruleset`, not with `iptables -L`.
//!
//! Chains (see the crate docs for the overall design):
//! - per network `n-<bridge>-fwd` (filter, `forward`, priority `filter -
//!   10`) and `n-<bridge>-post` (nat, `postrouting`, `srcnat`), plus the
//!   bridge's name in the set `bridges`;
//! - per container `c-<key>-pre` (nat, `prerouting`, `dstnat`) and
//!   `c-<key>-out` (nat, `output`, `-100`).
//!
//! Each operation first creates what it removes (`add` is idempotent in
//! nft), so "remove what is not there" succeeds and removal is exact:
//! whole chains and set elements, never rule handles.
//!
//! **A host `FORWARD` policy of drop.** An `accept` ends only the base
//! chain it is in: the packet still goes through every other base chain on
//! the same hook, and a drop there (iptables' `FORWARD` chain with policy
//! `DROP`, as Docker sets it) is final. So berth's `forward` chain, which
//! runs before `filter`, accepts what containers need, but cannot overrule
//! another table's drop; [`Firewall::foreign_forward_drops`] tells the
//! engine when such a chain exists, so it can say so (Docker instead adds
//! accept rules to the host's `FORWARD` chain; berth leaves foreign rules
//! alone).
//!
//! **Published ports on 127.0.0.1.** Locally generated connections to a
//! published port on any local address, loopback included, are DNATed in
//! `c-<key>-out`. After DNAT a packet from 127.0.0.1 leaves through the
//! bridge, which the kernel allows only with `route_localnet=1` on that
//! bridge (the engine sets it, see [`crate::sysctl::set_route_localnet`]);
//! `n-<bridge>-post` masquerades it to the gateway address so the reply
//! comes back. `route_localnet` alone would also let a container reach the
//! host's 127.0.0.1 services by sending to a loopback address through the
//! bridge: `n-<bridge>-pre` (prerouting, priority `raw`) drops every packet
//! that arrives from the bridge for 127.0.0.0/8. No userland proxy is
//! needed, so 127.0.0.1 gets kernel forwarding speed.
//!
//! **IPv6.** There is no `route_localnet` for `::1`: a packet from `::1`
//! may not leave by the bridge. So, as Docker does, `c-<key>-out` of the
//! ip6 table leaves `::1` alone and the container's monitor proxies
//! connections to `[::1]:port` (and to every v6 port of a container without
//! an IPv6 address) in userland; other local and remote IPv6 destinations
//! are DNATed to the container's IPv6 address.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{check_name, Error, Result, IFNAME_MAX};

/// Longest container key accepted (a full 64-hex container ID fits).
pub const KEY_MAX: usize = 64;

/// A bridge network's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub bridge: String,
    /// The subnet's network address and prefix length.
    pub subnet: Ipv4Addr,
    pub prefix_len: u8,
    /// `--internal`: no masquerade, no traffic in or out of the bridge.
    pub internal: bool,
    /// The IPv6 subnet (address, prefix length) of an IPv6-enabled network.
    pub subnet6: Option<(Ipv6Addr, u8)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One published port: `-p [host_ip:]host_port:container_port[/proto]`
/// after the engine expanded ranges and chose random host ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// `None` (or 0.0.0.0): every local address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub protocol: Protocol,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// One port published on IPv6 to a container's IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping6 {
    /// `None` (or `::`): every local address of the host but `::1`.
    pub host_ip: Option<Ipv6Addr>,
    pub protocol: Protocol,
    pub host_port: u16,
    pub container_ip: Ipv6Addr,
    pub container_port: u16,
}

/// What berth's table holds, by owner (for a sweep).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewallState {
    /// Bridges with a chain or an element in the `bridges` set.
    pub networks: BTreeSet<String>,
    /// Container keys with a port chain.
    pub containers: BTreeSet<String>,
}

/// berth's nftables table and the `nft` binary that edits it.
#[derive(Debug, Clone)]
pub struct Firewall {
    table: String,
    nft: PathBuf,
}

impl Firewall {
    /// The table `table` (e.g. `berth`), edited with the `nft` found in
    /// `PATH` or in `/usr/sbin`, `/sbin`.
    pub fn new(table: &str) -> Result<Firewall> {
        let dirs = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        let found = dirs
            .into_iter()
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|d| d.join("nft"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::Nft("nft not found in PATH, /usr/sbin or /sbin (install nftables)".into())
            })?;
        Firewall::with_binary(table, &found)
    }

    /// The table `table`, edited with the `nft` at `nft`.
    pub fn with_binary(table: &str, nft: &Path) -> Result<Firewall> {
        check_name("nftables table", table, 64)?;
        if !table.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(Error::Invalid(format!(
                "invalid nftables table name {table:?}: must start with a letter"
            )));
        }
        Ok(Firewall {
            table: table.to_string(),
            nft: nft.to_path_buf(),
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Start of every transaction: the tables and their `bridges` sets
    /// exist.
    fn preamble(&self) -> String {
        let t = &self.table;
        format!(
            "add table ip {t}\nadd set ip {t} bridges {{ type ifname; }}\n\
             add table ip6 {t}\nadd set ip6 {t} bridges {{ type ifname; }}\n"
        )
    }

    /// Lines that remove `chain` from both tables whether or not it exists.
    fn drop_chain(&self, out: &mut String, chain: &str) {
        let t = &self.table;
        for f in ["ip", "ip6"] {
            out.push_str(&format!(
                "add chain {f} {t} {chain}\nflush chain {f} {t} {chain}\ndelete chain {f} {t} {chain}\n"
            ));
        }
    }

    /// Installs (or replaces, exactly) a network's chains and adds its
    /// bridge to `bridges`: forward accepts for replies, published ports
    /// and traffic leaving the bridge; isolation from berth's other
    /// bridges; masquerade of the subnet leaving by any other interface
    /// and of DNATed traffic hairpinned back into the bridge.
    pub fn ensure_network(&self, net: &NetworkRules) -> Result<()> {
        check_name("bridge", &net.bridge, IFNAME_MAX)?;
        if net.prefix_len > 32 {
            return Err(Error::Invalid(format!(
                "invalid prefix length /{}",
                net.prefix_len
            )));
        }
        let t = &self.table;
        let br = &net.bridge;
        // The network address, host bits cleared (nft wants a prefix).
        let mask = u32::MAX
            .checked_shl(32 - u32::from(net.prefix_len))
            .unwrap_or(0);
        let subnet = format!(
            "{}/{}",
            Ipv4Addr::from(u32::from(net.subnet) & mask),
            net.prefix_len
        );
        let fwd = format!("n-{br}-fwd");
        let post = format!("n-{br}-post");
        let pre = format!("n-{br}-pre");
        let mut s = self.preamble();
        // The guard that makes `route_localnet` on the bridge safe: nothing
        // arriving from the bridge may address the host's loopback.
        s.push_str(&format!(
            "add chain ip {t} {pre} {{ type filter hook prerouting priority raw; policy accept; }}\n\
             flush chain ip {t} {pre}\n\
             add rule ip {t} {pre} iifname \"{br}\" ip daddr 127.0.0.0/8 drop\n"
        ));
        let fwd_rules: Vec<String> = if net.internal {
            vec![
                format!("iifname \"{br}\" oifname != \"{br}\" drop"),
                format!("oifname \"{br}\" iifname != \"{br}\" drop"),
            ]
        } else {
            vec![
                format!("iifname \"{br}\" ct state established,related accept"),
                format!("oifname \"{br}\" ct state established,related accept"),
                format!("iifname \"{br}\" ct status dnat accept"),
                format!("oifname \"{br}\" ct status dnat accept"),
                format!("iifname \"{br}\" oifname != \"{br}\" oifname @bridges drop"),
                format!("iifname \"{br}\" accept"),
            ]
        };
        let chains = FamilyChains {
            table: t,
            bridge: br,
            fwd: &fwd,
            post: &post,
            rules: &fwd_rules,
            internal: net.internal,
        };
        // Containers reaching a published 127.0.0.1 port (route_localnet)
        // are masqueraded too; v6 has no such path (see the module docs).
        chains.add(
            &mut s,
            "ip",
            &subnet,
            &[format!("ip saddr 127.0.0.0/8 oifname \"{br}\" masquerade")],
        );
        // IPv6: the same forwarding rules and masquerade of the v6 subnet,
        // in the ip6 table.
        if let Some((addr6, p6)) = net.subnet6 {
            if p6 > 128 {
                return Err(Error::Invalid(format!("invalid prefix length /{p6}")));
            }
            let mask6 = u128::MAX.checked_shl(128 - u32::from(p6)).unwrap_or(0);
            let subnet6 = format!("{}/{p6}", Ipv6Addr::from(u128::from(addr6) & mask6));
            chains.add(&mut s, "ip6", &subnet6, &[]);
        }
        self.apply(&s, &format!("set up the rules of network bridge {br}"))
    }

    /// Removes a network's chains and its `bridges` element; nothing there
    /// is fine.
    pub fn remove_network(&self, bridge: &str) -> Result<()> {
        check_name("bridge", bridge, IFNAME_MAX)?;
        let t = &self.table;
        let mut s = self.preamble();
        self.drop_chain(&mut s, &format!("n-{bridge}-fwd"));
        self.drop_chain(&mut s, &format!("n-{bridge}-post"));
        self.drop_chain(&mut s, &format!("n-{bridge}-pre"));
        for f in ["ip", "ip6"] {
            s.push_str(&format!(
                "add element {f} {t} bridges {{ \"{bridge}\" }}\ndelete element {f} {t} bridges {{ \"{bridge}\" }}\n"
            ));
        }
        self.apply(&s, &format!("remove the rules of network bridge {bridge}"))?;
        self.close_foreign_forward(bridge)
    }

    /// The comment that marks the rules berth puts into other tables'
    /// `forward` chains for `bridge` (see [`Firewall::open_foreign_forward`]).
    fn foreign_mark(&self, bridge: &str) -> String {
        format!("berth {} {bridge}", self.table)
    }

    /// Lets a network's traffic through every `forward` chain of another
    /// table whose policy is drop (iptables' `FORWARD` after dockerd set
    /// it to DROP, say), as dockerd does for its own bridges: an accept in
    /// berth's table cannot overrule such a drop. Three rules at the top of
    /// each such chain, marked with a comment naming this table and the
    /// bridge: traffic from the bridge, replies to it, and published ports
    /// (DNATed) to it. Nothing else of that table is changed, and
    /// [`Firewall::remove_network`] deletes exactly these rules. Returns
    /// the chains changed. Chains that only iptables-legacy sees are out of
    /// reach (nft cannot see them).
    pub fn open_foreign_forward(&self, bridge: &str) -> Result<Vec<String>> {
        check_name("bridge", bridge, IFNAME_MAX)?;
        let mark = self.foreign_mark(bridge);
        let (chains, mut s) = self.foreign_forward_rules(&mark)?;
        let mut opened = Vec::new();
        for c in chains.iter().filter(|c| c.drops) {
            let at = format!("{} {} {}", c.family, c.table, c.name);
            for rule in [
                format!("oifname \"{bridge}\" ct status dnat"),
                format!("oifname \"{bridge}\" ct state established,related"),
                format!("iifname \"{bridge}\""),
            ] {
                s.push_str(&format!(
                    "insert rule {at} {rule} accept comment \"{mark}\"\n"
                ));
            }
            opened.push(at);
        }
        if !s.is_empty() {
            self.apply(
                &s,
                &format!("open other tables' forward chains to {bridge}"),
            )?;
        }
        Ok(opened)
    }

    /// Deletes the rules [`Firewall::open_foreign_forward`] made for
    /// `bridge`; none there is fine.
    fn close_foreign_forward(&self, bridge: &str) -> Result<()> {
        let (_, s) = self.foreign_forward_rules(&self.foreign_mark(bridge))?;
        if s.is_empty() {
            return Ok(());
        }
        self.apply(
            &s,
            &format!("close other tables' forward chains to {bridge}"),
        )
    }

    /// Other tables' `forward` chains (ip, ip6 and inet) and a script deleting
    /// the rules marked `mark` in them.
    fn foreign_forward_rules(&self, mark: &str) -> Result<(Vec<ForeignChain>, String)> {
        let text = self
            .run(&["-j", "list", "ruleset"], None)
            .map_err(|e| Error::Nft(format!("nft list ruleset: {e}")))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Nft(format!("nft list ruleset: bad JSON: {e}")))?;
        let items = doc["nftables"].as_array().cloned().unwrap_or_default();
        let mut chains = Vec::new();
        for item in &items {
            let c = &item["chain"];
            let family = c["family"].as_str().unwrap_or("");
            let table = c["table"].as_str().unwrap_or("");
            if (matches!(family, "ip" | "ip6") && table == self.table)
                || !matches!(family, "ip" | "ip6" | "inet")
                || c["hook"].as_str() != Some("forward")
            {
                continue;
            }
            chains.push(ForeignChain {
                family: family.to_string(),
                table: table.to_string(),
                name: c["name"].as_str().unwrap_or("").to_string(),
                drops: c["policy"].as_str() == Some("drop"),
            });
        }
        let mut script = String::new();
        for item in &items {
            let r = &item["rule"];
            if r["comment"].as_str() != Some(mark) {
                continue;
            }
            let (family, table, chain) = (
                r["family"].as_str().unwrap_or(""),
                r["table"].as_str().unwrap_or(""),
                r["chain"].as_str().unwrap_or(""),
            );
            let ours = chains
                .iter()
                .any(|c| c.family == family && c.table == table && c.name == chain);
            if let (true, Some(h)) = (ours, r["handle"].as_u64()) {
                script.push_str(&format!(
                    "delete rule {family} {table} {chain} handle {h}\n"
                ));
            }
        }
        Ok((chains, script))
    }

    /// Sets the published ports of container `key` to exactly `ports` and
    /// `ports6` (replacing what was there; empty lists remove its chains).
    pub fn publish(&self, key: &str, ports: &[PortMapping], ports6: &[PortMapping6]) -> Result<()> {
        check_name("container key", key, KEY_MAX)?;
        if ports.is_empty() && ports6.is_empty() {
            return self.unpublish(key);
        }
        let t = &self.table;
        let pre = format!("c-{key}-pre");
        let out = format!("c-{key}-out");
        let mut s = self.preamble();
        let mut rules = Vec::new();
        for p in ports {
            // Which destinations: one address, or (like Docker's
            // `--dst-type LOCAL`) any of the host's, loopback included for
            // the host's own connections (see the module docs).
            let (dst_in, dst_out) = match p.host_ip {
                Some(ip) if ip.is_loopback() => (None, format!("ip daddr {ip}")),
                Some(ip) if !ip.is_unspecified() => {
                    (Some(format!("ip daddr {ip}")), format!("ip daddr {ip}"))
                }
                _ => (
                    Some("fib daddr type local".to_string()),
                    "fib daddr type local".to_string(),
                ),
            };
            let nat = format!(
                "{proto} dport {hp} dnat to {cip}:{cp}",
                proto = p.protocol.as_str(),
                hp = p.host_port,
                cip = p.container_ip,
                cp = p.container_port
            );
            if let Some(dst_in) = dst_in {
                rules.push(("ip", &pre, format!("{dst_in} {nat}")));
            }
            rules.push(("ip", &out, format!("{dst_out} {nat}")));
        }
        for p in ports6 {
            // `::1` is the monitor's proxy's (see the module docs).
            let (dst_in, dst_out) = match p.host_ip {
                Some(ip) if ip.is_loopback() => continue,
                Some(ip) if !ip.is_unspecified() => {
                    (format!("ip6 daddr {ip}"), format!("ip6 daddr {ip}"))
                }
                _ => (
                    "fib daddr type local".to_string(),
                    "ip6 daddr != ::1 fib daddr type local".to_string(),
                ),
            };
            let nat = format!(
                "{proto} dport {hp} dnat to [{cip}]:{cp}",
                proto = p.protocol.as_str(),
                hp = p.host_port,
                cip = p.container_ip,
                cp = p.container_port
            );
            rules.push(("ip6", &pre, format!("{dst_in} {nat}")));
            rules.push(("ip6", &out, format!("{dst_out} {nat}")));
        }
        // A family's chains exist while it has rules (made and flushed
        // here), and are removed when it has none.
        for f in ["ip", "ip6"] {
            if rules.iter().any(|r| r.0 == f) {
                s.push_str(&format!(
                    "add chain {f} {t} {pre} {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
                     flush chain {f} {t} {pre}\n\
                     add chain {f} {t} {out} {{ type nat hook output priority -100; policy accept; }}\n\
                     flush chain {f} {t} {out}\n"
                ));
            } else {
                for c in [&pre, &out] {
                    s.push_str(&format!(
                        "add chain {f} {t} {c}\nflush chain {f} {t} {c}\ndelete chain {f} {t} {c}\n"
                    ));
                }
            }
        }
        for (f, chain, rule) in rules {
            s.push_str(&format!("add rule {f} {t} {chain} {rule}\n"));
        }
        self.apply(&s, &format!("publish the ports of container {key}"))
    }

    /// Removes container `key`'s port chains; none there is fine.
    pub fn unpublish(&self, key: &str) -> Result<()> {
        check_name("container key", key, KEY_MAX)?;
        let mut s = self.preamble();
        self.drop_chain(&mut s, &format!("c-{key}-pre"));
        self.drop_chain(&mut s, &format!("c-{key}-out"));
        self.apply(
            &s,
            &format!("remove the published ports of container {key}"),
        )
    }

    /// Deletes berth's whole tables (ip and ip6); none there is fine.
    pub fn delete_table(&self) -> Result<()> {
        let t = &self.table;
        self.apply(
            &format!(
                "add table ip {t}\ndelete table ip {t}\nadd table ip6 {t}\ndelete table ip6 {t}\n"
            ),
            &format!("delete table ip {t}"),
        )
    }

    /// The networks and containers berth's table has rules for (an empty
    /// state when there is no table).
    pub fn state(&self) -> Result<FirewallState> {
        let mut st = FirewallState::default();
        let mut items = Vec::new();
        for f in ["ip", "ip6"] {
            if let Some(doc) = self.list_table(f)? {
                items.extend(doc["nftables"].as_array().cloned().unwrap_or_default());
            }
        }
        for item in &items {
            if let Some(name) = item["chain"]["name"].as_str() {
                if let Some(rest) = name.strip_prefix("n-") {
                    if let Some(br) = rest
                        .strip_suffix("-fwd")
                        .or_else(|| rest.strip_suffix("-post"))
                        .or_else(|| rest.strip_suffix("-pre"))
                    {
                        st.networks.insert(br.to_string());
                    }
                } else if let Some(rest) = name.strip_prefix("c-") {
                    if let Some(key) = rest
                        .strip_suffix("-pre")
                        .or_else(|| rest.strip_suffix("-out"))
                    {
                        st.containers.insert(key.to_string());
                    }
                }
            }
            if item["set"]["name"].as_str() == Some("bridges") {
                for e in item["set"]["elem"].as_array().into_iter().flatten() {
                    if let Some(br) = e.as_str() {
                        st.networks.insert(br.to_string());
                    }
                }
            }
        }
        Ok(st)
    }

    /// Whether the table (or its ip6 twin) exists.
    pub fn exists(&self) -> Result<bool> {
        Ok(self.list_table("ip")?.is_some() || self.list_table("ip6")?.is_some())
    }

    /// The table as `nft list table` prints it (`None` if absent), for
    /// diagnostics and tests.
    pub fn ruleset(&self) -> Result<Option<String>> {
        let t = &self.table;
        match self.run(&["list", "table", "ip", t], None) {
            Ok(text) => Ok(Some(text)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(Error::Nft(format!("nft list table ip {t}: {e}"))),
        }
    }

    /// Base chains of *other* tables on the IPv4 `forward` hook whose
    /// policy is drop, as `family table chain`: with one of these, berth's
    /// accepts are not enough for containers to reach out (see above).
    pub fn foreign_forward_drops(&self) -> Result<Vec<String>> {
        let text = self
            .run(&["-j", "list", "chains"], None)
            .map_err(|e| Error::Nft(format!("nft list chains: {e}")))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Nft(format!("nft list chains: bad JSON: {e}")))?;
        let mut found = Vec::new();
        for item in doc["nftables"].as_array().into_iter().flatten() {
            let c = &item["chain"];
            let family = c["family"].as_str().unwrap_or("");
            let table = c["table"].as_str().unwrap_or("");
            let ours = family == "ip" && table == self.table;
            if !ours
                && matches!(family, "ip" | "inet")
                && c["hook"].as_str() == Some("forward")
                && c["policy"].as_str() == Some("drop")
            {
                let name = c["name"].as_str().unwrap_or("");
                found.push(format!("{family} {table} {name}"));
            }
        }
        Ok(found)
    }

    fn list_table(&self, family: &str) -> Result<Option<Value>> {
        let t = &self.table;
        let text = match self.run(&["-j", "list", "table", family, t], None) {
            Ok(text) => text,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(Error::Nft(format!("nft list table {family} {t}: {e}"))),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Nft(format!("nft list table {family} {t}: bad JSON: {e}")))
    }

    /// Inside the container namespace `ns`, sends what is addressed to
    /// `127.0.0.11:53` (UDP and TCP) to `127.0.0.11:port`, where the
    /// embedded resolver really listens, so that a program in the container
    /// can still bind `0.0.0.0:53` (Docker does the same with iptables).
    /// Replies are translated back by conntrack. The rules live in a table
    /// of the container's own namespace and die with it. Returns at once:
    /// [`NftJob::wait`] before the container starts.
    pub fn redirect_dns(&self, ns: &Path, port: u16) -> Result<NftJob> {
        let script = format!(
            "add table ip {DNS_TABLE}\n\
             add chain ip {DNS_TABLE} out {{ type nat hook output priority -100; policy accept; }}\n\
             add rule ip {DNS_TABLE} out ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:{port}\n\
             add rule ip {DNS_TABLE} out ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:{port}\n"
        );
        let nft = self.nft.clone();
        let spawned = crate::netns::run_in(ns, move || {
            Command::new(&nft)
                .args(["-f", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })?;
        let mut child =
            spawned.map_err(|e| Error::Nft(format!("cannot run {}: {e}", self.nft.display())))?;
        if let Some(mut pipe) = child.stdin.take() {
            // Far below a pipe's capacity: this cannot block.
            pipe.write_all(script.as_bytes())
                .map_err(|e| Error::Nft(format!("cannot write to nft: {e}")))?;
        }
        Ok(NftJob { child })
    }

    /// Applies one ruleset transaction; all of it or nothing.
    fn apply(&self, script: &str, what: &str) -> Result<()> {
        self.run(&["-f", "-"], Some(script))
            .map(drop)
            .map_err(|e| Error::Nft(format!("cannot {what}: nft: {e}")))
    }

    /// Runs nft; on failure returns its stderr (trimmed) as the error.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> std::result::Result<String, String> {
        let mut cmd = Command::new(&self.nft);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.nft.display()))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())
                .map_err(|e| format!("cannot write to {}: {e}", self.nft.display()))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("cannot wait for {}: {e}", self.nft.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(if err.is_empty() {
                format!("exited with {}", out.status)
            } else {
                err
            })
        }
    }
}

/// A `forward` chain of a table that is not berth's.
struct ForeignChain {
    family: String,
    table: String,
    name: String,
    drops: bool,
}

/// The table [`Firewall::redirect_dns`] makes inside a container.
pub const DNS_TABLE: &str = "berth_dns";

/// An `nft` run started by [`Firewall::redirect_dns`].
#[derive(Debug)]
pub struct NftJob {
    child: std::process::Child,
}

impl NftJob {
    /// Waits for nft; its stderr is the error when it failed.
    pub fn wait(self) -> Result<()> {
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| Error::Nft(format!("cannot wait for nft: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(Error::Nft(format!(
            "cannot redirect the embedded DNS port: nft: {}",
            if err.is_empty() {
                format!("exited with {}", out.status)
            } else {
                err
            }
        )))
    }
}

/// nft's wording for a missing table.
fn is_missing(stderr: &str) -> bool {
    stderr.contains("No such file or directory")
}

/// A network's forward and postrouting chains in one address family
/// (`ip` or `ip6`): the same rules in both, masquerade of that family's
/// subnet unless the network is internal.
struct FamilyChains<'a> {
    table: &'a str,
    bridge: &'a str,
    fwd: &'a str,
    post: &'a str,
    rules: &'a [String],
    internal: bool,
}

impl FamilyChains<'_> {
    fn add(&self, s: &mut String, fam: &str, subnet: &str, extra_nat: &[String]) {
        let (t, br, fwd, post) = (self.table, self.bridge, self.fwd, self.post);
        s.push_str(&format!(
            "add chain {fam} {t} {fwd} {{ type filter hook forward priority filter - 10; policy accept; }}\n\
             flush chain {fam} {t} {fwd}\n"
        ));
        for r in self.rules {
            s.push_str(&format!("add rule {fam} {t} {fwd} {r}\n"));
        }
        s.push_str(&format!(
            "add chain {fam} {t} {post} {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
             flush chain {fam} {t} {post}\n"
        ));
        if !self.internal {
            s.push_str(&format!(
                "add rule {fam} {t} {post} {fam} saddr {subnet} oifname != \"{br}\" masquerade\n\
                 add rule {fam} {t} {post} {fam} saddr {subnet} oifname \"{br}\" ct status dnat masquerade\n"
            ));
            for r in extra_nat {
                s.push_str(&format!("add rule {fam} {t} {post} {r}\n"));
            }
        }
        s.push_str(&format!("add element {fam} {t} bridges {{ \"{br}\" }}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_nft_runs() {
        let fw = Firewall::with_binary("berth", Path::new("/nonexistent/nft")).unwrap();
        let err = fw.unpublish("x; flush ruleset").unwrap_err().to_string();
        assert!(err.contains("invalid container key name"), "{err}");
        assert!(Firewall::with_binary("a b", Path::new("/x")).is_err());
        assert!(Firewall::with_binary("-x", Path::new("/x")).is_err());
    }
}
