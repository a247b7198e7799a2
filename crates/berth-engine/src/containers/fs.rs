//! A container's filesystem: `diff`, `export`, `cp` (stat, archive,
//! extract) and `commit`, with Docker 20.10's semantics.
//!
//! Docker keeps a container's writable layer on top of an *init layer*
//! (`/.dockerenv`, empty `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`,
//! `/dev/console`, `/etc/mtab`, mount points `/proc`, `/sys`, `/dev/pts`,
//! `/dev/shm`). berth has no such layer, so the runtime's mount points land
//! in the upper dir instead: `diff` and `commit` leave them out, and
//! `export` and `cp` show the init layer's entries where the image has
//! none. `cp` sees the bind-mounted `/etc` files as the container does.
//!
//! A running container is read and written through its rootfs mount. A
//! stopped one is mounted on a detached mount (`fsopen`/`fsmount`): it
//! never appears in any mount table and vanishes when its descriptor is
//! closed, so nothing can leak, not even if berth is killed. Every path
//! inside a container resolves with `openat2(RESOLVE_IN_ROOT)`: symlinks
//! planted in the container never lead to host files.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_image::commit::{self as image_commit, ChildConfig};
use berth_image::config::ContainerConfig;
use berth_image::layer_writer::{self, TarWriter, TreeFilter, Virtual, Visit};
use berth_image::reference::Reference;
use berth_image::unpack::{self, Ownership, UnpackOptions};
use berth_runtime::process;
use berth_store::{Digest, LockMode, StoreLock};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

use super::{internal, Record};
use crate::{Engine, Error, Result};

/// Files the runtime bind-mounts from the container's directory.
const BIND_FILES: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];
/// Kernel mount points the runtime creates when the image lacks them.
const MOUNT_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Docker's init layer, in the order `initlayer.Setup` lists it.
enum Init {
    Dir,
    File,
    Link(&'static str),
}
const INIT_LAYER: [(&str, Init); 10] = [
    ("/dev/pts", Init::Dir),
    ("/dev/shm", Init::Dir),
    ("/proc", Init::Dir),
    ("/sys", Init::Dir),
    ("/.dockerenv", Init::File),
    ("/etc/resolv.conf", Init::File),
    ("/etc/hosts", Init::File),
    ("/etc/hostname", Init::File),
    ("/dev/console", Init::File),
    ("/etc/mtab", Init::Link("/proc/mounts")),
];
/// Parents the init layer creates for its entries.
const INIT_PARENTS: [&str; 2] = ["/dev", "/etc"];

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: String,
}

/// Docker's change kinds (API values 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// `HEAD /containers/{id}/archive`: what a path in a container is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// `st_mode` (file type and permission bits).
    pub mode: u32,
    pub mtime: i64,
    /// For a symlink: its target fully resolved inside the container.
    pub link_target: String,
}

impl PathStat {
    fn kind(&self) -> FileType {
        FileType::from_raw_mode(self.mode)
    }
    pub fn is_dir(&self) -> bool {
        self.kind() == FileType::Directory
    }
    pub fn is_symlink(&self) -> bool {
        self.kind() == FileType::Symlink
    }
    /// A block or character device (Go's `os.ModeDevice`).
    pub fn is_device(&self) -> bool {
        matches!(
            self.kind(),
            FileType::CharacterDevice | FileType::BlockDevice
        )
    }
}

/// `docker commit`'s options.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub reference: Option<String>,
    pub author: String,
    pub comment: String,
    pub changes: Vec<String>,
    pub pause: bool,
}

// ---- paths as Go's path/filepath handles them -------------------------------

/// Go's `filepath.Clean` of an absolute path.
pub fn go_clean_abs(p: &str) -> String {
    berth_image::unpack::go_clean(p)
}

/// Go's `filepath.Base`.
pub fn go_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Go's `filepath.Split`: directory (with its slash) and final element.
fn go_split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// Docker's `archive.PreserveTrailingDotOrSeparator`.
pub fn preserve_trailing(cleaned: &str, original: &str) -> String {
    let mut c = cleaned.to_string();
    if go_base(&c) != "." && go_base(original) == "." {
        if !c.ends_with('/') {
            c.push('/');
        }
        c.push('.');
    }
    if !c.ends_with('/') && original.ends_with('/') {
        c.push('/');
    }
    c
}

/// A path given for a container, as an absolute path (`etc` is `/etc`),
/// keeping a trailing `/` or `/.`.
fn container_abs(path: &str) -> String {
    preserve_trailing(&go_clean_abs(&format!("/{path}")), path)
}

fn comps_of(p: &str) -> Vec<Vec<u8>> {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(|c| c.as_bytes().to_vec())
        .collect()
}

fn path_of(comps: &[Vec<u8>]) -> String {
    let mut s = String::from("/");
    s.push_str(
        &comps
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("/"),
    );
    s
}

fn join_bytes(comps: &[Vec<u8>]) -> Vec<u8> {
    if comps.is_empty() {
        return b".".to_vec();
    }
    comps.join(&b'/')
}

// ---- file descriptors ---------------------------------------------------------

fn errno_text(e: Errno) -> String {
    berth_store::go_error_text(&std::io::Error::from_raw_os_error(e.raw_os_error()))
}

/// Open `comps` below `root`, resolved inside it.
fn open_in_root(
    root: BorrowedFd<'_>,
    comps: &[Vec<u8>],
    flags: OFlags,
) -> rustix::io::Result<OwnedFd> {
    rfs::openat2(
        root,
        OsStr::from_bytes(&join_bytes(comps)),
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

fn is_whiteout(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && st.st_rdev == 0
}

fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

fn is_opaque(fd: &OwnedFd) -> bool {
    let mut buf = [0u8; 8];
    matches!(rfs::fgetxattr(fd, "trusted.overlay.opaque", &mut buf[..]), Ok(1) if buf[0] == b'y')
}

fn read_names(dir: BorrowedFd<'_>) -> std::io::Result<Vec<Vec<u8>>> {
    let fd = rfs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in rfs::Dir::read_from(&fd)? {
        let n = e?.file_name().to_bytes().to_vec();
        if n != b"." && n != b".." {
            names.push(n);
        }
    }
    names.sort();
    Ok(names)
}

fn open_subdir(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Docker's naive diff: does an entry differ from its parent's version?
/// Directories count only mode and owner; their size and mtime change
/// with their contents.
fn stat_different(old: &Stat, new: &Stat) -> bool {
    old.st_mode != new.st_mode
        || old.st_uid != new.st_uid
        || old.st_gid != new.st_gid
        || old.st_rdev != new.st_rdev
        || (!is_dir(old)
            && (old.st_mtime != new.st_mtime
                || old.st_mtime_nsec != new.st_mtime_nsec
                || old.st_size != new.st_size))
}

/// The stat of a directory the init layer creates (0755, root).
fn init_dir_stat(like: &Stat) -> Stat {
    let mut s = *like;
    s.st_mode = libc::S_IFDIR | 0o755;
    s.st_uid = 0;
    s.st_gid = 0;
    s.st_rdev = 0;
    s
}

/// The image's layers merged as overlayfs merges them, read through
/// descriptors (the parent of a container's upper dir).
struct Lowers {
    layers: Vec<OwnedFd>,
}

impl Lowers {
    fn open(dirs: &[PathBuf]) -> Result<Lowers> {
        let mut layers = Vec::new();
        for d in dirs {
            let fd = rfs::open(
                d,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| internal(d.display(), e))?;
            layers.push(fd);
        }
        Ok(Lowers { layers })
    }

    /// The merged root directory.
    fn root(&self) -> OldDir {
        OldDir {
            fds: self
                .layers
                .iter()
                .filter_map(|l| {
                    rfs::openat(
                        l,
                        ".",
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .ok()
                })
                .collect(),
            extra: BTreeMap::new(),
        }
    }

    /// The merged directory at `comps` (empty when it is not one).
    fn dir(&self, comps: &[Vec<u8>]) -> OldDir {
        let mut d = self.root();
        for c in comps {
            d = d.child(c);
            if d.fds.is_empty() {
                break;
            }
        }
        d
    }

    /// The merged entry at `comps`, if there is one.
    fn lookup(&self, comps: &[Vec<u8>]) -> Option<Stat> {
        let (last, parents) = comps.split_last()?;
        self.dir(parents).get(last)
    }

    fn has(&self, path: &str) -> bool {
        self.lookup(&comps_of(path)).is_some()
    }
}

/// One directory of the merged lower layers: the layer directories that
/// make it up, top first, plus entries the init layer adds.
struct OldDir {
    fds: Vec<OwnedFd>,
    extra: BTreeMap<Vec<u8>, Stat>,
}

impl OldDir {
    fn empty() -> OldDir {
        OldDir {
            fds: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// The entry `name`, as overlayfs would show it.
    fn get(&self, name: &[u8]) -> Option<Stat> {
        for d in &self.fds {
            match rfs::statat(d, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW) {
                Err(_) => continue,
                Ok(st) if is_whiteout(&st) => return None,
                Ok(st) => return Some(st),
            }
        }
        self.extra.get(name).copied()
    }

    /// The subdirectory `name`: the layers' directories down to the first
    /// that is opaque; a non-directory hides those below it.
    fn child(&self, name: &[u8]) -> OldDir {
        let mut next = Vec::new();
        for d in &self.fds {
            match rfs::statat(d, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW) {
                Err(_) => continue,
                Ok(st) if !is_dir(&st) => break,
                Ok(_) => {
                    let Ok(fd) = open_subdir(d.as_fd(), name) else {
                        break;
                    };
                    let opaque = is_opaque(&fd);
                    next.push(fd);
                    if opaque {
                        break;
                    }
                }
            }
        }
        OldDir {
            fds: next,
            extra: BTreeMap::new(),
        }
    }

    /// Every entry's name.
    fn names(&self) -> BTreeSet<Vec<u8>> {
        let mut seen = BTreeSet::new();
        let mut out: BTreeSet<Vec<u8>> = self.extra.keys().cloned().collect();
        for d in &self.fds {
            for name in read_names(d.as_fd()).unwrap_or_default() {
                if !seen.insert(name.clone()) {
                    continue;
                }
                match rfs::statat(d, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if is_whiteout(&st) => {}
                    Ok(_) => {
                        out.insert(name);
                    }
                    Err(_) => {}
                }
            }
        }
        out
    }
}

// ---- mounting -------------------------------------------------------------------

/// overlayfs splits its options on `,` and lower dirs on `:`.
fn escape_overlay(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// An overlay mounted nowhere: only the returned descriptor reaches it,
/// and it is gone when that closes.
fn mount_detached(lowers: &[PathBuf], upper: Option<(&Path, &Path)>) -> std::io::Result<OwnedFd> {
    use rustix::mount::{
        fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
        MountAttrFlags,
    };
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let lower = lowers
        .iter()
        .map(|p| escape_overlay(p))
        .collect::<Vec<_>>()
        .join(":");
    fsconfig_set_string(&fs, "lowerdir", lower.as_str())?;
    let attrs = match upper {
        Some((up, work)) => {
            fsconfig_set_string(&fs, "upperdir", escape_overlay(up).as_str())?;
            fsconfig_set_string(&fs, "workdir", escape_overlay(work).as_str())?;
            fsconfig_set_string(&fs, "index", "off")?;
            MountAttrFlags::empty()
        }
        None => MountAttrFlags::MOUNT_ATTR_RDONLY,
    };
    fsconfig_create(&fs)?;
    Ok(fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)?)
}

/// A container mount as `cp` sees it: its destination, and its source
/// opened as the root for paths under it.
struct MountRoot {
    dest: Vec<Vec<u8>>,
    source: OwnedFd,
    rw: bool,
}

/// Where a container path lives: the root to resolve it in, the path
/// inside that root, and the mount it is under (with its `rw`).
struct Located<'a> {
    root: BorrowedFd<'a>,
    rel: Vec<Vec<u8>>,
    mount_rw: Option<bool>,
}

/// A container's filesystem opened for one operation, with its lock held.
struct Session {
    rec: Record,
    root: OwnedFd,
    /// Volumes and binds, for `cp` only (diff, export and commit see the
    /// container's own layer); empty otherwise.
    mounts: Vec<MountRoot>,
    lowers: Lowers,
    /// The container's `created` time, for the init layer's entries.
    created: i64,
    _lock: StoreLock,
}

/// The init layer and the bind-mounted files as an archive of the
/// container's root shows them.
struct ViewFilter<'a> {
    s: &'a Session,
    dir: PathBuf,
    /// `cp` sees the bind mounts; `export` sees the init layer's files.
    binds: bool,
}

impl Session {
    fn mount_of(&self, comps: &[Vec<u8>]) -> Option<&MountRoot> {
        self.mounts
            .iter()
            .filter(|m| comps.starts_with(&m.dest))
            .max_by_key(|m| m.dest.len())
    }

    /// The root a resolved container path is under: a stopped
    /// container's mount source, else the container's root.
    fn locate(&self, comps: &[Vec<u8>]) -> Located<'_> {
        match self.mount_of(comps) {
            Some(m) => Located {
                root: m.source.as_fd(),
                rel: comps[m.dest.len()..].to_vec(),
                mount_rw: Some(m.rw),
            },
            None => Located {
                root: self.root.as_fd(),
                rel: comps.to_vec(),
                mount_rw: None,
            },
        }
    }

    /// [`follow_in_scope`] that enters a stopped container's mounts: the
    /// part of `path` below a mount point resolves in the mount's source.
    fn follow(&self, path: &str) -> std::result::Result<Vec<Vec<u8>>, Errno> {
        let lexical = comps_of(&go_clean_abs(path));
        if let Some(m) = self.mount_of(&lexical) {
            let mut out = m.dest.clone();
            out.extend(follow_in_scope(
                m.source.as_fd(),
                &path_of(&lexical[m.dest.len()..]),
            )?);
            return Ok(out);
        }
        follow_in_scope(self.root.as_fd(), path)
    }
}

impl ViewFilter<'_> {
    fn exists(&self, path: &str) -> bool {
        open_in_root(
            self.s.root.as_fd(),
            &comps_of(path),
            OFlags::PATH | OFlags::NOFOLLOW,
        )
        .is_ok()
    }

    /// What replaces the entry at `path`, if anything.
    fn over(&self, path: &str) -> Option<Virtual> {
        if self.binds && BIND_FILES.contains(&path) {
            let f = self.dir.join(go_base(path));
            if let Ok(f) = std::fs::File::open(f) {
                return Some(Virtual::Host(f));
            }
        }
        let mtime = self.s.created;
        if INIT_PARENTS.contains(&path) {
            return (!self.exists(path)).then_some(Virtual::Dir { mode: 0o755, mtime });
        }
        let (_, kind) = INIT_LAYER.iter().find(|(p, _)| *p == path)?;
        match kind {
            Init::Dir => (!self.exists(path)).then_some(Virtual::Dir { mode: 0o755, mtime }),
            Init::File => {
                (!self.s.lowers.has(path)).then_some(Virtual::EmptyFile { mode: 0o755, mtime })
            }
            Init::Link(t) => (!self.s.lowers.has(path)).then(|| Virtual::Symlink {
                target: t.as_bytes().to_vec(),
                mtime,
            }),
        }
    }
}

impl TreeFilter for ViewFilter<'_> {
    fn extra(&mut self, dir: &[u8]) -> Vec<(Vec<u8>, Virtual)> {
        let dir = String::from_utf8_lossy(dir).into_owned();
        let mut out = Vec::new();
        let all = INIT_PARENTS
            .iter()
            .copied()
            .chain(INIT_LAYER.iter().map(|(p, _)| *p));
        for p in all {
            let (parent, base) = go_split(p);
            let parent = if parent == "/" {
                "/"
            } else {
                parent.trim_end_matches('/')
            };
            if parent == dir {
                if let Some(v) = self.over(p) {
                    out.push((base.as_bytes().to_vec(), v));
                }
            }
        }
        out
    }
}

/// What `commit` leaves out of the upper dir: the runtime's mount points.
struct CommitFilter<'a> {
    lowers: &'a Lowers,
    mount_dirs: Vec<&'static str>,
}

impl TreeFilter for CommitFilter<'_> {
    fn visit(&mut self, path: &[u8], st: &Stat) -> Visit {
        let p = String::from_utf8_lossy(path);
        if BIND_FILES.contains(&p.as_ref()) && !is_whiteout(st) {
            return Visit::Skip;
        }
        if self.mount_dirs.contains(&p.as_ref()) {
            return Visit::Skip;
        }
        if INIT_PARENTS.contains(&p.as_ref()) && is_dir(st) {
            let old = self
                .lowers
                .lookup(&comps_of(&p))
                .unwrap_or_else(|| init_dir_stat(st));
            if !stat_different(&old, st) {
                return Visit::IfNonEmpty;
            }
        }
        Visit::Include
    }
}

impl Engine {
    /// Open a container's filesystem: its rootfs mount when it runs, a
    /// private detached overlay otherwise (read-only unless `write`).
    fn fs_session(&self, input: &str, write: bool) -> Result<Session> {
        self.fs_session_with(input, write, false)
    }

    /// With `mounts` (`cp`), the container's volumes and binds are seen
    /// at their places, running or not, as dockerd shows them: a path
    /// under a mount point resolves in the mount's source.
    fn fs_session_with(&self, input: &str, write: bool, mounts: bool) -> Result<Session> {
        let id = self.container_resolve(input)?;
        self.container_refresh(&id)?;
        let mode = if write {
            LockMode::Exclusive
        } else {
            LockMode::Shared
        };
        let lock = StoreLock::acquire(&self.layout.container_lock(&id), mode)
            .map_err(Error::from_store)?;
        let rec = self
            .load_record(&id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {input}")))?;
        let image_id = Digest::parse(&rec.image).map_err(|e| internal("image id", e))?;
        let image = self.images.load(&image_id)?;
        let lower_dirs = self.images.lower_dirs(&image);
        let lowers = Lowers::open(&lower_dirs)?;
        let upper = self.layout.container_upper(&id);
        let rootfs = self.layout.container_rootfs(&id);
        // A mount's source on the host holds what the container sees there
        // (tmpfs aside, which `docker cp` does not see either).
        let mut mount_roots = Vec::new();
        if mounts {
            for p in rec
                .private
                .mount_points
                .iter()
                .filter(|p| p.kind != "tmpfs")
            {
                // A file bind or a vanished source: left to the rootfs.
                if let Ok(fd) = rfs::open(
                    p.source.as_str(),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    mount_roots.push(MountRoot {
                        dest: comps_of(&p.destination),
                        source: fd,
                        rw: p.rw,
                    });
                }
            }
        }
        let root = if rec.state.running && berth_runtime::rootfs::is_mounted(&rootfs) {
            rfs::open(
                &rootfs,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| internal(rootfs.display(), e))?
        } else if write {
            let mut l = lower_dirs.clone();
            if l.is_empty() {
                let empty = upper.with_file_name("empty");
                std::fs::create_dir_all(&empty).map_err(|e| internal(empty.display(), e))?;
                l.push(empty);
            }
            mount_detached(&l, Some((&upper, &self.layout.container_work(&id))))
                .map_err(|e| internal("mount container filesystem", e))?
        } else if lower_dirs.is_empty() {
            rfs::open(
                &upper,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| internal(upper.display(), e))?
        } else {
            let mut l = vec![upper.clone()];
            l.extend(lower_dirs.iter().cloned());
            mount_detached(&l, None).map_err(|e| internal("mount container filesystem", e))?
        };
        let created = chrono::DateTime::parse_from_rfc3339(&rec.created)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        Ok(Session {
            rec,
            root,
            mounts: mount_roots,
            lowers,
            created,
            _lock: lock,
        })
    }

    /// `docker diff`: what the container changed, parents before their
    /// contents, deletions after what a directory gained.
    pub fn container_changes(&self, input: &str) -> Result<Vec<Change>> {
        let s = self.fs_session(input, false)?;
        let upper = self.layout.container_upper(&s.rec.id);
        let up = rfs::open(
            &upper,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| internal(upper.display(), e))?;
        let mut d = Differ {
            skip: MOUNT_DIRS
                .iter()
                .filter(|p| !s.lowers.has(p))
                .map(|p| p.to_string())
                .collect(),
            out: Vec::new(),
        };
        let mut old = s.lowers.root();
        // The init layer's directories are part of what the container started from.
        if let Ok(st) = rfs::fstat(&up) {
            for p in INIT_PARENTS {
                old.extra.insert(
                    p.trim_start_matches('/').as_bytes().to_vec(),
                    init_dir_stat(&st),
                );
            }
        }
        d.dir(up.as_fd(), &mut Vec::new(), &old, false)
            .map_err(|e| internal("diff", e))?;
        Ok(d.out)
    }

    /// `docker export`: the container's filesystem as a tar stream.
    pub fn container_export(&self, input: &str, out: &mut dyn Write) -> Result<()> {
        let s = self.fs_session(input, false)?;
        let mut w = TarWriter::new(out);
        let mut f = ViewFilter {
            s: &s,
            dir: self.layout.container_dir(&s.rec.id),
            binds: false,
        };
        w.append_contents(s.root.as_fd(), b"", b"/", &mut f)
            .map_err(|e| internal("export", e))?;
        w.finish().map_err(|e| internal("export", e))?;
        Ok(())
    }

    /// `HEAD /containers/{id}/archive?path=`: the entry at `path`.
    pub fn container_stat_path(&self, input: &str, path: &str) -> Result<PathStat> {
        let s = self.fs_session_with(input, false, true)?;
        self.stat_in(&s, input, path).map(|(st, _)| st)
    }

    /// `GET /containers/{id}/archive?path=`: a tar stream of `path`, its
    /// top entry named `top` (default: the path's last element).
    pub fn container_archive(
        &self,
        input: &str,
        path: &str,
        top: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<PathStat> {
        let s = self.fs_session_with(input, false, true)?;
        let (st, target) = self.stat_in(&s, input, path)?;
        let at = s.locate(&target);
        let abs = container_abs(path);
        let top = top.map(str::to_string).unwrap_or_else(|| go_base(&abs));
        let mut w = TarWriter::new(out);
        let mut f = ViewFilter {
            s: &s,
            dir: self.layout.container_dir(&s.rec.id),
            binds: true,
        };
        let cpath = path_of(&target);
        let res = match f.over(&cpath) {
            Some(v) => w.append_virtual_tree(top.as_bytes(), cpath.as_bytes(), v, &mut f),
            None => match at.rel.split_last() {
                None => w.append_tree(
                    at.root,
                    OsStr::new("."),
                    top.as_bytes(),
                    cpath.as_bytes(),
                    &mut f,
                ),
                Some((last, parents)) => {
                    let parent = open_in_root(at.root, parents, OFlags::PATH | OFlags::DIRECTORY)
                        .map_err(|e| internal("archive", e))?;
                    w.append_tree(
                        parent.as_fd(),
                        OsStr::from_bytes(last),
                        top.as_bytes(),
                        cpath.as_bytes(),
                        &mut f,
                    )
                }
            },
        };
        res.and_then(|_| w.finish().map(|_| ()))
            .map_err(|e| internal("archive", e))?;
        Ok(st)
    }

    /// Docker's `ResolvePath` + `StatPath` inside an open container.
    /// Returns the stat and the resolved entry (its final element not
    /// followed).
    fn stat_in(&self, s: &Session, input: &str, path: &str) -> Result<(PathStat, Vec<Vec<u8>>)> {
        let abs = container_abs(path);
        let (dir, base) = go_split(&abs);
        let not_found = || {
            Error::not_found(format!(
                "Could not find the file {path} in container {input}"
            ))
        };
        let other = |e: Errno| Error::invalid(format!("lstat {abs}: {}", errno_text(e)));
        let mut target = s.follow(dir).map_err(|e| match e {
            Errno::NOENT => not_found(),
            e => other(e),
        })?;
        if !base.is_empty() && base != "." {
            target.push(base.as_bytes().to_vec());
        }
        let name = go_base(&abs);
        let cpath = path_of(&target);
        let f = ViewFilter {
            s,
            dir: self.layout.container_dir(&s.rec.id),
            binds: true,
        };
        if let Some(v) = f.over(&cpath) {
            let (mode, size, mtime) = match &v {
                Virtual::Dir { mode, mtime } => (libc::S_IFDIR | mode, 0, *mtime),
                Virtual::EmptyFile { mode, mtime } => (libc::S_IFREG | mode, 0, *mtime),
                Virtual::Symlink { target, mtime } => {
                    (libc::S_IFLNK | 0o777, target.len() as i64, *mtime)
                }
                Virtual::Host(file) => {
                    let st = rfs::fstat(file).map_err(|e| internal("stat", e))?;
                    (st.st_mode, st.st_size, st.st_mtime)
                }
            };
            let link_target = match &v {
                Virtual::Symlink { target, .. } => String::from_utf8_lossy(target).into_owned(),
                _ => String::new(),
            };
            return Ok((
                PathStat {
                    name,
                    size,
                    mode,
                    mtime,
                    link_target,
                },
                target,
            ));
        }
        let at = s.locate(&target);
        let fd =
            open_in_root(at.root, &at.rel, OFlags::PATH | OFlags::NOFOLLOW).map_err(
                |e| match e {
                    Errno::NOENT => not_found(),
                    e => other(e),
                },
            )?;
        // A trailing slash names a directory (lstat("x/") of a file fails).
        let st = rfs::fstat(&fd).map_err(other)?;
        if abs.ends_with('/') && !is_dir(&st) {
            return Err(other(Errno::NOTDIR));
        }
        let link_target = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            path_of(&s.follow(&abs).map_err(other)?)
        } else {
            String::new()
        };
        Ok((
            PathStat {
                name,
                size: st.st_size,
                mode: st.st_mode,
                mtime: st.st_mtime,
                link_target,
            },
            target,
        ))
    }

    /// `PUT /containers/{id}/archive?path=`: extract a tar stream into the
    /// directory at `path` (symlinks followed inside the container).
    /// `copy_uid_gid` (`cp -a`) gives everything to the container's user.
    pub fn container_extract(
        &self,
        input: &str,
        path: &str,
        content: &mut dyn Read,
        copy_uid_gid: bool,
    ) -> Result<()> {
        let s = self.fs_session_with(input, true, true)?;
        let abs = container_abs(path);
        let not_found = || {
            Error::not_found(format!(
                "Could not find the file {path} in container {input}"
            ))
        };
        let resolved = s.follow(&abs).map_err(|e| match e {
            Errno::NOENT => not_found(),
            e => Error::invalid(format!("lstat {abs}: {}", errno_text(e))),
        })?;
        let at = s.locate(&resolved);
        let fd =
            open_in_root(at.root, &at.rel, OFlags::PATH | OFlags::NOFOLLOW).map_err(
                |e| match e {
                    Errno::NOENT => not_found(),
                    e => Error::invalid(format!("lstat {abs}: {}", errno_text(e))),
                },
            )?;
        let st = rfs::fstat(&fd).map_err(|e| internal("stat", e))?;
        if !is_dir(&st) {
            return Err(Error::invalid("extraction point is not a directory"));
        }
        match at.mount_rw {
            Some(false) => return Err(Error::conflict("mounted volume is marked read-only")),
            None if s.rec.host_config.readonly_rootfs => {
                return Err(Error::conflict("container rootfs is marked read-only"))
            }
            _ => {}
        }
        let ownership = if copy_uid_gid && !s.rec.config.user.is_empty() {
            let root = &s.root;
            let read = |p: &str| read_in(root.as_fd(), p);
            let p = process::resolve(
                &process::ImageProcess {
                    cmd: Some(vec!["true".into()]),
                    user: s.rec.config.user.clone(),
                    ..Default::default()
                },
                &process::RunOptions::default(),
                &read,
            )
            .map_err(|e| Error::invalid(e.to_string()))?;
            Ownership::Fixed(p.uid, p.gid)
        } else {
            Ownership::FromHeader
        };
        let opts = UnpackOptions::copy(at.rel.clone(), path_of(&resolved), ownership);
        unpack::unpack_into(content, at.root, opts).map_err(|e| {
            Error::invalid(format!("Error processing tar file(exit status 1): {e}"))
        })?;
        Ok(())
    }

    /// `docker commit`: the container's changes as a new image on top of
    /// its own. Returns the image ID.
    pub fn container_commit(&self, input: &str, o: &CommitOptions) -> Result<Digest> {
        let tag = o
            .reference
            .as_deref()
            .map(|r| Reference::parse(r).map(|r| r.with_default_tag()))
            .transpose()?;
        let rec = self.container_get(input)?;
        let mut config = rec.config.clone();
        berth_image::import::apply_changes(&mut config, &o.changes)?;
        merge_config(&mut config, &rec.config);
        let paused_here = o.pause
            && rec.state.running
            && !rec.state.paused
            && self.container_pause(&rec.id, true).is_ok();
        let res = self.commit_paused(&rec.id, o, config, tag);
        if paused_here {
            let _ = self.container_pause(&rec.id, false);
        }
        res
    }

    fn commit_paused(
        &self,
        id: &str,
        o: &CommitOptions,
        config: ContainerConfig,
        tag: Option<Reference>,
    ) -> Result<Digest> {
        let s = self.fs_session(id, false)?;
        let image_id = Digest::parse(&s.rec.image).map_err(|e| internal("image id", e))?;
        let parent = self.images.load(&image_id)?;
        let child = ChildConfig {
            author: o.author.clone(),
            comment: o.comment.clone(),
            config,
            container_config: s.rec.config.clone(),
            container_id: s.rec.id.clone(),
            os: "linux".into(),
            tag,
        };
        let upper = self.layout.container_upper(&s.rec.id);
        let mut filter = CommitFilter {
            lowers: &s.lowers,
            mount_dirs: MOUNT_DIRS
                .iter()
                .copied()
                .filter(|p| !s.lowers.has(p))
                .collect(),
        };
        let (reader, writer) = std::io::pipe().map_err(|e| internal("pipe", e))?;
        let (written, committed) = std::thread::scope(|sc| {
            let producer = sc.spawn(move || {
                layer_writer::write_upper_layer(&upper, writer, &mut filter).map(drop)
            });
            let committed = image_commit::commit(&self.images, &parent, reader, &child);
            let written = producer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("layer writer panicked")));
            (written, committed)
        });
        written.map_err(|e| internal("commit", e))?;
        Ok(committed?.id)
    }
}

/// The docker CLI's side of `cp` into a container: the local `path` (a
/// file, a tree, or with a trailing `/.` a directory's contents) as a tar
/// stream whose top entry is named `top`. Symlinks are archived as links.
pub fn tar_local(path: &Path, top: &str, out: &mut dyn Write) -> Result<()> {
    let s = path.as_os_str().as_bytes();
    let (parent, name): (PathBuf, Vec<u8>) = if s.ends_with(b"/.") || s == b"." {
        (path.to_path_buf(), b".".to_vec())
    } else {
        let p = Path::new(OsStr::from_bytes(s.strip_suffix(b"/").unwrap_or(s)));
        match (p.parent(), p.file_name()) {
            (Some(d), Some(n)) => (
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d.to_path_buf()
                },
                n.as_bytes().to_vec(),
            ),
            _ => (p.to_path_buf(), b".".to_vec()),
        }
    };
    let dir = rfs::open(
        &parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::invalid(format!("open {}: {}", parent.display(), errno_text(e))))?;
    let mut w = TarWriter::new(out);
    let mut all = layer_writer::All;
    w.append_tree(
        dir.as_fd(),
        OsStr::from_bytes(&name),
        top.as_bytes(),
        b"/",
        &mut all,
    )
    .and_then(|_| w.finish().map(drop))
    .map_err(|e| Error::invalid(e.to_string()))
}

/// The docker CLI's side of `cp` out of a container: extract a stream into
/// the local directory `dir`, owned by the caller, never replacing a
/// directory by a file (or the reverse), every path kept inside `dir`.
pub fn untar_local(content: &mut dyn Read, dir: &Path) -> Result<()> {
    let fd = rfs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::invalid(format!("open {}: {}", dir.display(), errno_text(e))))?;
    let opts = UnpackOptions::copy(Vec::new(), dir.display().to_string(), Ownership::Caller);
    unpack::unpack_into(content, fd.as_fd(), opts)
        .map(drop)
        .map_err(|e| Error::invalid(e.to_string()))
}

/// Docker's `merge` of a commit's config with the container's: what the
/// changes left unset comes from the container.
fn merge_config(user: &mut ContainerConfig, image: &ContainerConfig) {
    if user.user.is_empty() {
        user.user = image.user.clone();
    }
    match (&mut user.exposed_ports, &image.exposed_ports) {
        (Some(u), Some(i)) if !u.is_empty() => {
            for (k, v) in i {
                u.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        (u, i) => {
            if u.as_ref().is_none_or(|u| u.is_empty()) {
                *u = i.clone();
            }
        }
    }
    match &mut user.env {
        Some(u) if !u.is_empty() => {
            for e in image.env.clone().unwrap_or_default() {
                let key = e.split('=').next().unwrap_or("");
                if !u.iter().any(|x| x.split('=').next().unwrap_or("") == key) {
                    u.push(e);
                }
            }
        }
        _ => user.env = image.env.clone(),
    }
    let labels = user.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in image.labels.clone().unwrap_or_default() {
        labels.entry(k).or_insert(v);
    }
    if user.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = image.cmd.clone();
            user.args_escaped = image.args_escaped;
        }
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    if user.working_dir.is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    match &mut user.volumes {
        Some(u) if !u.is_empty() => {
            for (k, v) in image.volumes.clone().unwrap_or_default() {
                u.insert(k, v);
            }
        }
        _ => user.volumes = image.volumes.clone(),
    }
    if user.stop_signal.is_none() {
        user.stop_signal = image.stop_signal.clone();
    }
}

/// Read a file of the container (its `/etc/passwd`), confined to it.
fn read_in(root: BorrowedFd<'_>, path: &str) -> Option<Vec<u8>> {
    let fd = open_in_root(root, &comps_of(path), OFlags::RDONLY).ok()?;
    let mut v = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut v).ok()?;
    Some(v)
}

/// Docker's `FollowSymlinkInScope`: every symlink in `path` resolved as
/// if the container's root were `/`; missing elements are kept as they
/// are. Never follows anything outside `root`.
fn follow_in_scope(root: BorrowedFd<'_>, path: &str) -> std::result::Result<Vec<Vec<u8>>, Errno> {
    let mut resolved: Vec<Vec<u8>> = Vec::new();
    let mut todo: VecDeque<Vec<u8>> = path.split('/').map(|c| c.as_bytes().to_vec()).collect();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        match c.as_slice() {
            b"" | b"." => continue,
            b".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let parent = match rfs::openat2(
            root,
            OsStr::from_bytes(&join_bytes(&resolved)),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS,
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                resolved.push(c);
                continue;
            }
            Err(e) => return Err(e),
        };
        match rfs::statat(&parent, OsStr::from_bytes(&c), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                links += 1;
                if links > 255 {
                    return Err(Errno::LOOP);
                }
                let t = rfs::readlinkat(&parent, OsStr::from_bytes(&c), Vec::new())?.into_bytes();
                if t.starts_with(b"/") {
                    resolved.clear();
                }
                for part in t.split(|b| *b == b'/').rev() {
                    todo.push_front(part.to_vec());
                }
            }
            _ => resolved.push(c),
        }
    }
    Ok(resolved)
}

/// Walks an upper dir against its lower layers, in Docker's order.
struct Differ {
    /// Mount points the runtime created: not the container's changes.
    skip: Vec<String>,
    out: Vec<Change>,
}

impl Differ {
    fn push(&mut self, kind: ChangeKind, comps: &[Vec<u8>]) {
        self.out.push(Change {
            kind,
            path: path_of(comps),
        });
    }

    fn excluded(&self, comps: &[Vec<u8>], st: &Stat) -> bool {
        let p = path_of(comps);
        (BIND_FILES.contains(&p.as_str()) && !is_whiteout(st)) || self.skip.contains(&p)
    }

    /// A directory of the upper dir at `comps` whose old version (when it
    /// had one) held `old`.
    fn dir(
        &mut self,
        up: BorrowedFd<'_>,
        comps: &mut Vec<Vec<u8>>,
        old: &OldDir,
        opaque: bool,
    ) -> std::io::Result<()> {
        let mut present = BTreeSet::new();
        let mut whiteouts = BTreeSet::new();
        for name in read_names(up)? {
            let st = match rfs::statat(up, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            comps.push(name.clone());
            if is_whiteout(&st) {
                if !self.excluded(comps, &st) {
                    whiteouts.insert(name);
                }
                comps.pop();
                continue;
            }
            present.insert(name.clone());
            if self.excluded(comps, &st) {
                comps.pop();
                continue;
            }
            let start = self.out.len();
            let prev = old.get(&name);
            let reported = match &prev {
                None => {
                    self.push(ChangeKind::Added, comps);
                    true
                }
                Some(o) if stat_different(o, &st) => {
                    self.push(ChangeKind::Modified, comps);
                    true
                }
                Some(_) => false,
            };
            if is_dir(&st) {
                let sub = open_subdir(up, &name)?;
                if prev.is_none() {
                    self.added(sub.as_fd(), comps)?;
                } else {
                    let sub_old = match &prev {
                        Some(o) if is_dir(o) => old.child(&name),
                        _ => OldDir::empty(),
                    };
                    let before = self.out.len();
                    self.dir(sub.as_fd(), comps, &sub_old, is_opaque(&sub))?;
                    if self.out.len() > before && !reported {
                        self.out.insert(
                            start,
                            Change {
                                kind: ChangeKind::Modified,
                                path: path_of(comps),
                            },
                        );
                    }
                }
            }
            comps.pop();
        }
        // What went: everything the old directory had, for an opaque one;
        // what is whited out (and was there) otherwise.
        let gone: Vec<Vec<u8>> = if opaque {
            old.names()
                .into_iter()
                .filter(|n| !present.contains(n))
                .collect()
        } else {
            whiteouts
                .into_iter()
                .filter(|n| old.get(n).is_some())
                .collect()
        };
        for name in gone {
            comps.push(name);
            if !BIND_FILES.contains(&path_of(comps).as_str()) {
                self.push(ChangeKind::Deleted, comps);
            }
            comps.pop();
        }
        Ok(())
    }

    /// Everything below a directory the container created is new.
    fn added(&mut self, up: BorrowedFd<'_>, comps: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
        for name in read_names(up)? {
            let st = match rfs::statat(up, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            if is_whiteout(&st) {
                continue;
            }
            comps.push(name.clone());
            if !self.excluded(comps, &st) {
                self.push(ChangeKind::Added, comps);
                if is_dir(&st) {
                    let sub = open_subdir(up, &name)?;
                    self.added(sub.as_fd(), comps)?;
                }
            }
            comps.pop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_docker_resolves_them() {
        assert_eq!(container_abs("etc/passwd"), "/etc/passwd");
        assert_eq!(container_abs("/d/"), "/d/");
        assert_eq!(container_abs("/d/."), "/d/.");
        assert_eq!(container_abs("/d/./"), "/d/./");
        assert_eq!(container_abs("/"), "/");
        assert_eq!(container_abs("/a/../../b"), "/b");
        assert_eq!(go_base("/d/."), ".");
        assert_eq!(go_base("/d/"), "d");
        assert_eq!(go_base("/"), "/");
        assert_eq!(go_split("/d/"), ("/d/", ""));
        assert_eq!(go_split("/d/x"), ("/d/", "x"));
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::os::unix::fs::symlink("/", r.join("a/root")).unwrap();
        std::os::unix::fs::symlink("../../../..", r.join("a/b/up")).unwrap();
        std::os::unix::fs::symlink("b", r.join("a/rel")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        let fd = rfs::open(r, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let f = |p: &str| path_of(&follow_in_scope(fd.as_fd(), p).unwrap());
        assert_eq!(f("/a/root/etc"), "/etc");
        assert_eq!(f("/a/b/up/tmp"), "/tmp");
        assert_eq!(f("/a/rel/x"), "/a/b/x");
        assert_eq!(f("/missing/../a"), "/a");
        assert_eq!(follow_in_scope(fd.as_fd(), "/loop"), Err(Errno::LOOP));
    }
}
