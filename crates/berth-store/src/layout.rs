use std::path::{Path, PathBuf};

use crate::error::IoContext;
use crate::{Digest, Error, Result};

/// Version of the on-disk layout; bump it (and add a migration) whenever a
/// file format under the root changes incompatibly.
pub const LAYOUT_VERSION: &str = "1";

/// Every path under the state root. `docs/state-root.md` describes the same
/// tree; a test keeps the two in step.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    runroot: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>, runroot: impl Into<PathBuf>) -> Self {
        Layout {
            root: root.into(),
            runroot: runroot.into(),
        }
    }

    /// Create the persistent skeleton (idempotent) and check the layout
    /// version. The run root is created by whoever first puts state there.
    pub fn init(&self) -> Result<()> {
        for d in [
            self.root.clone(),
            self.tmp_dir(),
            self.blobs_dir(),
            self.snapshots_dir(),
            self.images_dir(),
            self.containers_dir(),
            self.container_names_dir(),
            self.build_cache_dir(),
            self.volumes_dir(),
            self.networks_dir(),
            self.downloads_dir(),
        ] {
            std::fs::create_dir_all(&d).ctx("create", &d)?;
        }
        for d in [self.tmp_dir(), self.containers_dir()] {
            spread_subdirs(&d);
        }
        let vf = self.version_file();
        match std::fs::read_to_string(&vf) {
            Ok(v) if v.trim() == LAYOUT_VERSION => Ok(()),
            Ok(v) => Err(Error::Version {
                path: vf,
                found: v.trim().to_string(),
                expected: LAYOUT_VERSION.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::atomic_write(&vf, format!("{LAYOUT_VERSION}\n").as_bytes())
            }
            Err(e) => Err(Error::io("read", &vf, e)),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn runroot(&self) -> &Path {
        &self.runroot
    }
    pub fn version_file(&self) -> PathBuf {
        self.root.join("VERSION")
    }
    /// Held exclusively while refs and image records change.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }
    /// Held shared by writers that add unreferenced content, exclusively by
    /// garbage collection, so GC never deletes what a writer is about to use.
    pub fn gc_lock_file(&self) -> PathBuf {
        self.root.join("gc.lock")
    }
    /// Scratch space on the same filesystem, so rename into place is atomic.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("content/blobs/sha256")
    }
    pub fn blob(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }
    /// A layer unpacked for overlayfs, keyed by its chain ID.
    pub fn snapshot(&self, chain_id: &Digest) -> PathBuf {
        self.snapshots_dir().join(chain_id.hex())
    }
    pub fn snapshot_fs(&self, chain_id: &Digest) -> PathBuf {
        self.snapshot(chain_id).join("fs")
    }
    pub fn snapshot_meta(&self, chain_id: &Digest) -> PathBuf {
        self.snapshot(chain_id).join("meta.json")
    }
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }
    pub fn image_record(&self, id: &Digest) -> PathBuf {
        self.images_dir().join(format!("{}.json", id.hex()))
    }
    /// The name -> image ID index.
    pub fn refs_file(&self) -> PathBuf {
        self.root.join("refs.json")
    }
    /// Settings in dockerd's `daemon.json` format, written by the user.
    pub fn daemon_config(&self) -> PathBuf {
        self.root.join("daemon.json")
    }
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }
    /// The container's record: Docker's inspect document plus berth's own facts.
    pub fn container_record(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("container.json")
    }
    /// Held while a container's record or runtime state changes.
    pub fn container_lock(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("lock")
    }
    /// Docker's json-file log path.
    pub fn container_log(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }
    /// The overlay upper and work dirs: everything the container wrote.
    pub fn container_upper(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("rw/upper")
    }
    pub fn container_work(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("rw/work")
    }
    /// `name -> id` symlinks; creating one is how a name is claimed.
    pub fn container_names_dir(&self) -> PathBuf {
        self.root.join("container-names")
    }
    /// Per-container runtime state: bundle, rootfs mount, sockets, exit file.
    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }
    pub fn container_rootfs(&self, id: &str) -> PathBuf {
        self.container_run_dir(id).join("rootfs")
    }
    /// The container's embedded-DNS config (tables and upstream servers),
    /// read by its monitor's resolver.
    pub fn container_dns_config(&self, id: &str) -> PathBuf {
        self.container_run_dir(id).join("dns.json")
    }
    /// Build cache records: one file per cached step result.
    pub fn build_cache_dir(&self) -> PathBuf {
        self.root.join("build-cache")
    }
    pub fn build_cache_record(&self, key_hex: &str) -> PathBuf {
        self.build_cache_dir().join(format!("{key_hex}.json"))
    }
    /// Build state that outlives builds: the context checksum cache and
    /// `RUN --mount=type=cache` directories.
    pub fn build_state_dir(&self) -> PathBuf {
        self.root.join("build-state")
    }
    /// Named and anonymous volumes, one directory per volume.
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }
    /// A volume's directory; it holds `_data` and `volume.json`.
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name)
    }
    /// What a container sees at the volume's mount point (Docker's
    /// `Mountpoint`).
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volume_dir(name).join("_data")
    }
    /// The volume's record: driver, labels, options, creation time.
    pub fn volume_record(&self, name: &str) -> PathBuf {
        self.volume_dir(name).join("volume.json")
    }
    /// Networks, one directory per network, named by its 64-hex ID.
    pub fn networks_dir(&self) -> PathBuf {
        self.root.join("networks")
    }
    pub fn network_dir(&self, id: &str) -> PathBuf {
        self.networks_dir().join(id)
    }
    /// The network's record: name, driver, IPAM config, options, labels.
    pub fn network_record(&self, id: &str) -> PathBuf {
        self.network_dir(id).join("network.json")
    }
    /// Held while the network's address allocations change.
    pub fn network_lock(&self, id: &str) -> PathBuf {
        self.network_dir(id).join("lock")
    }
    /// The network's address allocations, one per container.
    pub fn network_ipam(&self, id: &str) -> PathBuf {
        self.network_dir(id).join("ipam.json")
    }
    /// The network's DNS table (names and addresses of its endpoints),
    /// read by the resolver of every container on it.
    pub fn network_names(&self, id: &str) -> PathBuf {
        self.network_dir(id).join("names.json")
    }
    /// What berth did to the network's Linux bridge: written before the
    /// bridge is made (so a kill in between still knows berth made it) and
    /// again once the bridge and its rules are complete.
    pub fn network_bridge(&self, id: &str) -> PathBuf {
        self.network_dir(id).join("bridge.json")
    }
    /// Partial layer downloads of pulls (`sha256-<hex>`), kept across
    /// failed pulls so the next one resumes them; not swept like `tmp/`.
    pub fn downloads_dir(&self) -> PathBuf {
        self.root.join("downloads")
    }
    pub fn download_partial(&self, d: &Digest) -> PathBuf {
        self.downloads_dir().join(format!("sha256-{}", d.hex()))
    }
    /// CA certificates per registry, `certs.d/<host[:port]>/*.crt`, read
    /// besides `/etc/docker/certs.d`.
    pub fn certs_dir(&self) -> PathBuf {
        self.root.join("certs.d")
    }
    /// Pinned network namespaces of running containers.
    pub fn netns_dir(&self) -> PathBuf {
        self.runroot.join("netns")
    }
    pub fn container_netns(&self, id: &str) -> PathBuf {
        self.netns_dir().join(id)
    }
    /// The OCI runtime's own state (`--root` of runc), one per runtime.
    pub fn runtime_state_dir(&self, runtime: &str) -> PathBuf {
        self.runroot.join("runtime").join(runtime)
    }
}

/// Mark `dir` so ext4 places each new subdirectory (a layer being
/// unpacked, a container's upper dir) in a block group of its own, as it
/// does for top-level directories. Otherwise every unpack lands in the
/// group where the last removed image's inodes were freed, and on ext4
/// without a journal each new inode then skips over every recently freed
/// one: a 10,000-file layer unpacked after an `rmi` took 5-6 s instead of
/// 0.7 s here. Filesystems without the flag are left as they are.
fn spread_subdirs(dir: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let Ok(f) = std::fs::File::open(dir) else {
        return;
    };
    if let Ok(flags) = ioctl_getflags(&f) {
        if !flags.contains(IFlags::TOPDIR) {
            let _ = ioctl_setflags(&f, flags | IFlags::TOPDIR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the filesystem has inode flags (ext4 here), scratch and
    /// container dirs spread their subdirectories over block groups.
    #[test]
    fn scratch_and_container_dirs_are_top_dirs() {
        use rustix::fs::{ioctl_getflags, IFlags};
        let t = tempfile::tempdir().unwrap();
        let l = Layout::new(t.path().join("root"), t.path().join("run"));
        l.init().unwrap();
        let flags = |p: &Path| ioctl_getflags(std::fs::File::open(p).unwrap());
        if flags(t.path()).is_err() {
            eprintln!("skipped: no inode flags on this filesystem");
            return;
        }
        for d in [l.tmp_dir(), l.containers_dir()] {
            assert!(
                flags(&d).unwrap().contains(IFlags::TOPDIR),
                "{}",
                d.display()
            );
        }
        assert!(!flags(&l.blobs_dir()).unwrap().contains(IFlags::TOPDIR));
    }

    /// docs/state-root.md must name every path Layout builds.
    #[test]
    fn documented_layout_matches_code() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/state-root.md"
        ))
        .unwrap();
        let l = Layout::new("/R", "/RUN");
        let d = Digest::of(b"x");
        let rel = |p: PathBuf| {
            p.strip_prefix("/R")
                .unwrap()
                .display()
                .to_string()
                .replace(d.hex(), "")
        };
        for (p, shown) in [
            (l.version_file(), "`VERSION`"),
            (l.lock_file(), "`lock`"),
            (l.gc_lock_file(), "`gc.lock`"),
            (l.tmp_dir(), "`tmp/`"),
            (l.blob(&d), "`content/blobs/sha256/<hex>`"),
            (l.snapshot_fs(&d), "`snapshots/<chain-id hex>/fs/`"),
            (l.snapshot_meta(&d), "`snapshots/<chain-id hex>/meta.json`"),
            (l.image_record(&d), "`images/<image-id hex>.json`"),
            (l.refs_file(), "`refs.json`"),
            (l.daemon_config(), "`daemon.json`"),
            (l.containers_dir(), "`containers/`"),
            (
                l.container_record("<id>"),
                "`containers/<id>/container.json`",
            ),
            (l.container_lock("<id>"), "`containers/<id>/lock`"),
            (l.container_upper("<id>"), "`containers/<id>/rw/upper`"),
            (l.container_work("<id>"), "`containers/<id>/rw/work`"),
            (l.container_names_dir(), "`container-names/`"),
            (l.build_cache_record(d.hex()), "`build-cache/<hex>.json`"),
            (l.build_state_dir(), "`build-state/`"),
            (l.volumes_dir(), "`volumes/`"),
            (l.volume_data("<name>"), "`volumes/<name>/_data`"),
            (l.volume_record("<name>"), "`volumes/<name>/volume.json`"),
            (l.networks_dir(), "`networks/`"),
            (l.network_record("<id>"), "`networks/<id>/network.json`"),
            (l.network_lock("<id>"), "`networks/<id>/lock`"),
            (l.network_ipam("<id>"), "`networks/<id>/ipam.json`"),
            (l.network_names("<id>"), "`networks/<id>/names.json`"),
            (l.network_bridge("<id>"), "`networks/<id>/bridge.json`"),
            (l.download_partial(&d), "`downloads/sha256-<hex>`"),
            (l.certs_dir(), "`certs.d/`"),
        ] {
            assert!(doc.contains(shown), "docs/state-root.md lacks {shown}");
            let r = rel(p);
            let doc_form = shown
                .trim_matches('`')
                .replace("<hex>", "")
                .replace("<chain-id hex>", "")
                .replace("<image-id hex>", "");
            assert_eq!(
                r.trim_end_matches('/'),
                doc_form.trim_end_matches('/'),
                "{shown}"
            );
        }
        // The run root's table.
        let dns = l.container_dns_config("<id>");
        assert_eq!(
            dns.strip_prefix("/RUN").unwrap(),
            Path::new("containers/<id>/dns.json")
        );
        assert!(doc.contains("`containers/<id>/dns.json`"));
        let ns = l.container_netns("<id>");
        assert_eq!(ns.strip_prefix("/RUN").unwrap(), Path::new("netns/<id>"));
        assert!(doc.contains("`netns/<id>`"));
    }
}
