//! Recovery: remove whatever berth's datapath holds that the engine's
//! records no longer account for (after a SIGKILL mid-operation, or a
//! reboot-like wipe of the run root), and nothing else.

use std::collections::BTreeSet;
use std::path::Path;

use crate::{link, netns, nft::Firewall, Error, Result};

/// What is still wanted; everything else of berth's is removed.
#[derive(Debug, Clone, Default)]
pub struct Keep {
    /// Bridges of existing networks (their links and nft chains).
    pub bridges: BTreeSet<String>,
    /// Host ends of veths of running containers.
    pub veths: BTreeSet<String>,
    /// Container keys whose published-port chains stay.
    pub containers: BTreeSet<String>,
    /// File names in the netns directory of running containers.
    pub netns: BTreeSet<String>,
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub links: Vec<String>,
    pub networks: Vec<String>,
    pub containers: Vec<String>,
    pub netns: Vec<String>,
    /// Whether berth's table was deleted (nothing in it was kept).
    pub table: bool,
}

/// Removes, in the calling thread's namespace, the links tagged `tag`
/// (their `ifalias`, set by [`link`]) whose names are not kept, the
/// network and container chains of `fw`'s table that are not kept (the
/// table itself when nothing is kept), and the namespaces in `netns_dir`
/// that are not kept. Links of other owners are never looked at beyond
/// their alias. A veth pair whose host end a crash left untagged (it is
/// tagged right after creation) goes with its namespace: deleting the
/// namespace destroys the end inside it, and so the pair. Goes on past a
/// failure and returns the first one.
pub fn sweep(tag: &str, fw: &Firewall, netns_dir: Option<&Path>, keep: &Keep) -> Result<Swept> {
    if tag.is_empty() {
        return Err(Error::Invalid("sweep needs an owner tag".into()));
    }
    let mut swept = Swept::default();
    let mut first: Option<Error> = None;
    let mut note = |r: Result<()>| {
        if let Err(e) = r {
            first.get_or_insert(e);
            false
        } else {
            true
        }
    };

    let st = fw.state()?;
    for key in st.containers.difference(&keep.containers) {
        if note(fw.unpublish(key)) {
            swept.containers.push(key.clone());
        }
    }
    for br in st.networks.difference(&keep.bridges) {
        if note(fw.remove_network(br)) {
            swept.networks.push(br.clone());
        }
    }
    if keep.bridges.is_empty() && keep.containers.is_empty() && note(fw.delete_table()) {
        swept.table = true;
    }

    let mut links = link::list()?;
    // veths first: deleting a bridge with ports would only detach them.
    links.sort_by_key(|l| l.kind.as_deref() != Some("veth"));
    for l in links {
        if l.alias.as_deref() != Some(tag) {
            continue;
        }
        let kept = match l.kind.as_deref() {
            Some("veth") => keep.veths.contains(&l.name),
            Some("bridge") => keep.bridges.contains(&l.name),
            _ => true,
        };
        if !kept && note(link::delete_link(&l.name)) {
            swept.links.push(l.name);
        }
    }

    if let Some(dir) = netns_dir {
        for name in netns::list(dir)? {
            if !keep.netns.contains(&name) && note(netns::delete(&dir.join(&name))) {
                swept.netns.push(name);
            }
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(swept),
    }
}
