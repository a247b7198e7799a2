//! The resolver's view of the engine's files: the container's `dns.json`
//! (which tables, which upstream servers) and one `names.json` per network.
//! Both are written atomically (write + rename) by the engine, so a
//! changed file always has a new (inode, mtime, size) stamp; the files are
//! stat'ed before each query and re-read only when a stamp changed, which
//! keeps a container-name answer to a few syscalls and a hash lookup.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::wire::Name;

/// `dns.json`. Its `search` and `ndots` are for the container's
/// `/etc/resolv.conf` (the stub resolver applies them); the resolver
/// ignores them, as Docker's does.
#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    tables: Vec<PathBuf>,
    #[serde(default)]
    servers: Vec<String>,
    /// Legacy `--link target:alias` on user-defined networks: names only
    /// this container resolves, each standing for its target's name.
    #[serde(default)]
    aliases: HashMap<String, String>,
}

/// `names.json`: one network's endpoints.
#[derive(Deserialize)]
struct TableFile {
    network: String,
    #[serde(default)]
    records: Vec<RecordFile>,
}

/// Addresses are strings (or null) so that one bad address costs only
/// itself, not the whole table.
#[derive(Deserialize)]
struct RecordFile {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
}

/// One endpoint's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Addrs {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

/// `"192.0.2.1"`, `"192.0.2.1:5353"`, `"::1"` or `"[::1]:53"`; port 53
/// unless given.
pub(crate) fn parse_server(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa);
    }
    s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
}

/// Identity of one version of a file: an atomic rewrite changes the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

fn stamp_of(meta: &std::fs::Metadata) -> Stamp {
    Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| stamp_of(&m))
}

/// Reads a file with the stamp of the very version read (fstat of the
/// open file, so a rename in between cannot pair old bytes with a new
/// stamp).
fn read_stamped(path: &Path) -> io::Result<(Stamp, Vec<u8>)> {
    let mut f = File::open(path)?;
    let st = stamp_of(&f.metadata()?);
    let mut buf = Vec::with_capacity(st.len as usize);
    f.read_to_end(&mut buf)?;
    Ok((st, buf))
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("dns config {}: {e}", path.display()),
    )
}

/// One table named by the config.
struct Slot {
    path: PathBuf,
    stamp: Option<Stamp>,
    table: Option<TableFile>,
}

/// One network's names, lower-cased and without a trailing dot.
struct NetIndex {
    key: String,
    names: HashMap<String, Vec<Addrs>>,
}

/// Everything the config names, indexed for lookups.
pub(crate) struct Tables {
    config: PathBuf,
    config_stamp: Option<Stamp>,
    servers: Arc<[SocketAddr]>,
    slots: Vec<Slot>,
    nets: Vec<NetIndex>,
    ptr: HashMap<IpAddr, Name>,
    aliases: HashMap<String, String>,
}

fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Tables {
    /// Loads the config and its tables; the config must be readable now
    /// (a missing table is fine: its network simply has no names yet).
    pub(crate) fn load(config: PathBuf) -> io::Result<Tables> {
        let mut t = Tables {
            config,
            config_stamp: None,
            servers: Arc::from(Vec::new()),
            slots: Vec::new(),
            nets: Vec::new(),
            ptr: HashMap::new(),
            aliases: HashMap::new(),
        };
        let (st, bytes) = read_stamped(&t.config).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("read dns config {}: {e}", t.config.display()),
            )
        })?;
        let cfg: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| invalid(&t.config, e))?;
        t.apply_config(st, cfg);
        t.refresh();
        Ok(t)
    }

    fn apply_config(&mut self, st: Stamp, cfg: ConfigFile) {
        self.config_stamp = Some(st);
        self.aliases = cfg
            .aliases
            .iter()
            .map(|(a, t)| (normalize(a), normalize(t)))
            .filter(|(a, t)| !a.is_empty() && !t.is_empty())
            .collect();
        self.servers = cfg
            .servers
            .iter()
            .filter_map(|s| parse_server(s))
            .collect::<Vec<_>>()
            .into();
        let mut old = std::mem::take(&mut self.slots);
        for path in cfg.tables {
            // Keep what is already loaded for a table the config still names.
            let slot = match old.iter().position(|s| s.path == path) {
                Some(i) => old.swap_remove(i),
                None => Slot {
                    path,
                    stamp: None,
                    table: None,
                },
            };
            self.slots.push(slot);
        }
    }

    /// Re-reads whatever changed since the last call. A config that
    /// vanished or does not parse leaves the last good one in force; a
    /// table that vanished means its network is gone (no names), one that
    /// does not parse keeps its last good contents.
    pub(crate) fn refresh(&mut self) {
        let mut dirty = false;
        let st = stamp(&self.config);
        if st.is_some() && st != self.config_stamp {
            if let Ok((st, bytes)) = read_stamped(&self.config) {
                match serde_json::from_slice::<ConfigFile>(&bytes) {
                    Ok(cfg) => self.apply_config(st, cfg),
                    // Not re-read until it changes again.
                    Err(_) => self.config_stamp = Some(st),
                }
                dirty = true;
            }
        }
        for slot in &mut self.slots {
            let st = stamp(&slot.path);
            if st == slot.stamp {
                continue;
            }
            dirty = true;
            match read_stamped(&slot.path) {
                Ok((st, bytes)) => {
                    slot.stamp = Some(st);
                    if let Ok(t) = serde_json::from_slice::<TableFile>(&bytes) {
                        slot.table = Some(t);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    slot.stamp = None;
                    slot.table = None;
                }
                // Unreadable for now: try again on the next query.
                Err(_) => slot.stamp = None,
            }
        }
        if dirty {
            self.reindex();
        }
    }

    fn reindex(&mut self) {
        self.nets.clear();
        self.ptr.clear();
        for table in self.slots.iter().filter_map(|s| s.table.as_ref()) {
            let mut net = NetIndex {
                key: normalize(&table.network),
                names: HashMap::new(),
            };
            for rec in &table.records {
                let addrs = Addrs {
                    v4: rec.ipv4.as_deref().and_then(|s| s.trim().parse().ok()),
                    v6: rec.ipv6.as_deref().and_then(|s| s.trim().parse().ok()),
                };
                for name in &rec.names {
                    let key = normalize(name);
                    if key.is_empty() {
                        continue;
                    }
                    let list = net.names.entry(key).or_default();
                    if !list.contains(&addrs) {
                        list.push(addrs);
                    }
                }
                // Docker answers a PTR with `<container name>.<network>.`;
                // the first name of a record is the container's name.
                let Some(first) = rec.names.first() else {
                    continue;
                };
                let first = first.strip_suffix('.').unwrap_or(first);
                let Some(target) = Name::from_text(&format!("{first}.{}", table.network)) else {
                    continue;
                };
                let ips = [addrs.v4.map(IpAddr::V4), addrs.v6.map(IpAddr::V6)];
                for ip in ips.into_iter().flatten() {
                    self.ptr.entry(ip).or_insert_with(|| target.clone());
                }
            }
            self.nets.push(net);
        }
    }

    /// The upstream servers, in the config's order.
    pub(crate) fn servers(&self) -> Arc<[SocketAddr]> {
        self.servers.clone()
    }

    /// The addresses of `key` (lower case, no trailing dot), Docker's way:
    /// the whole name in the first network (in the config's order) that
    /// has it, then `a.b` in network `c` for `a.b.c`, then `a` in network
    /// `b.c`. None when no network knows the name.
    ///
    /// A link alias is tried first at each step and stands for its
    /// target's name there, as dockerd checks an endpoint's aliases
    /// before the network's names.
    pub(crate) fn lookup(&self, key: &str) -> Option<&[Addrs]> {
        let whole = |k: &str| self.nets.iter().find_map(|n| n.names.get(k));
        if let Some(v) = self.aliases.get(key).and_then(|t| whole(t)) {
            return Some(v);
        }
        if let Some(v) = whole(key) {
            return Some(v);
        }
        let mut rest = key;
        while let Some(dot) = rest.rfind('.') {
            let (name, network) = (&key[..dot], &key[dot + 1..]);
            let target = self.aliases.get(name).map(String::as_str);
            for net in self.nets.iter().filter(|n| n.key == network) {
                if let Some(v) = target.and_then(|t| net.names.get(t)) {
                    return Some(v);
                }
                if let Some(v) = net.names.get(name) {
                    return Some(v);
                }
            }
            rest = name;
        }
        None
    }

    /// The PTR target of an address in the tables.
    pub(crate) fn reverse(&self, ip: IpAddr) -> Option<&Name> {
        self.ptr.get(&ip)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn servers() {
        let p = |s| parse_server(s).map(|a| a.to_string());
        assert_eq!(p("192.0.2.1").unwrap(), "192.0.2.1:53");
        assert_eq!(p("127.0.0.77:5353").unwrap(), "127.0.0.77:5353");
        assert_eq!(p("[::1]:53").unwrap(), "[::1]:53");
        assert_eq!(p("2001:db8::1").unwrap(), "[2001:db8::1]:53");
        assert!(p("dns.example").is_none());
    }

    #[test]
    fn lookups_follow_dockers_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(
            &a,
            r#"{"network":"front","records":[
                {"names":["web","www"],"ipv4":"10.0.0.2"},
                {"names":["x.y"],"ipv4":"10.0.0.9"}]}"#,
        )
        .unwrap();
        std::fs::write(
            &b,
            r#"{"network":"back.end","records":[
                {"names":["web"],"ipv4":"10.1.0.2","ipv6":"fd00::2"},
                {"names":["db"],"ipv4":"bogus","ipv6":"fd00::3"}]}"#,
        )
        .unwrap();
        let cfg = dir.path().join("dns.json");
        std::fs::write(
            &cfg,
            serde_json::json!({"tables":[a, b, dir.path().join("missing.json")],
                "servers":["192.0.2.1","nonsense"],"search":["x"],"ndots":0})
            .to_string(),
        )
        .unwrap();
        let t = Tables::load(cfg).unwrap();
        assert_eq!(t.servers().len(), 1);
        let v4 = |k: &str| t.lookup(k).map(|v| v[0].v4);
        assert_eq!(v4("web"), Some(Some(Ipv4Addr::new(10, 0, 0, 2))));
        assert_eq!(v4("web.back.end"), Some(Some(Ipv4Addr::new(10, 1, 0, 2))));
        assert_eq!(v4("web.front"), Some(Some(Ipv4Addr::new(10, 0, 0, 2))));
        // The whole name first: "x.y" is a container, not x in network y.
        assert_eq!(v4("x.y"), Some(Some(Ipv4Addr::new(10, 0, 0, 9))));
        assert_eq!(v4("x.y.front"), Some(Some(Ipv4Addr::new(10, 0, 0, 9))));
        assert_eq!(t.lookup("db").unwrap()[0].v4, None);
        assert!(t.lookup("web.nowhere").is_none());
        assert!(t.lookup("front").is_none());
        let ptr = t.reverse("10.1.0.2".parse().unwrap()).unwrap();
        assert_eq!(ptr.to_string(), "web.back.end.");
    }

    #[test]
    fn link_aliases_stand_for_their_targets() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(
            &a,
            r#"{"network":"front","records":[
                {"names":["web"],"ipv4":"10.0.0.2"},
                {"names":["store"],"ipv4":"10.0.0.3"}]}"#,
        )
        .unwrap();
        let cfg = dir.path().join("dns.json");
        std::fs::write(
            &cfg,
            serde_json::json!({"tables":[a],
                "aliases":{"Store":"web","ghost":"nobody","":"web"}})
            .to_string(),
        )
        .unwrap();
        let t = Tables::load(cfg).unwrap();
        let v4 = |k: &str| t.lookup(k).map(|v| v[0].v4.unwrap().to_string());
        // The alias wins over a container of that name, and also works
        // qualified by the network.
        assert_eq!(v4("store").as_deref(), Some("10.0.0.2"));
        assert_eq!(v4("store.front").as_deref(), Some("10.0.0.2"));
        assert_eq!(v4("web").as_deref(), Some("10.0.0.2"));
        // An alias whose target is on no network of ours answers nothing.
        assert!(t.lookup("ghost").is_none());
    }

    #[test]
    fn a_broken_config_is_an_error_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("dns.json");
        assert!(Tables::load(cfg.clone()).is_err());
        std::fs::write(&cfg, "{").unwrap();
        let e = Tables::load(cfg).err().unwrap();
        assert!(e.to_string().contains("dns.json"), "{e}");
    }
}
