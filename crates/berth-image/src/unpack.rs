//! Apply one layer tarball to an empty directory, for use as an overlayfs
//! lower layer.
//!
//! Every file is created relative to a directory fd of the layer root, with
//! parents resolved by `openat2(RESOLVE_IN_ROOT)`: a symlink planted by an
//! earlier entry (`a -> /etc`) resolves inside the layer, never on the host.
//! Entry names that climb out of the root (`../x`) are refused, as Docker's
//! archive package refuses them. OCI whiteouts become overlayfs whiteouts:
//! `.wh.name` a 0/0 character device, `.wh..wh..opq` the opaque xattr.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid,
    XattrFlags,
};
use rustix::io::Errno;
use tar::EntryType;

use crate::{Error, Result};

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Who owns what an archive creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ownership {
    /// The uid/gid in each header (layers, and `docker cp` into a container).
    #[default]
    FromHeader,
    /// Whoever runs the extraction (`docker cp` to the host: no lchown).
    Caller,
    /// Everything chowned to one uid/gid (`docker cp -a` with a container user).
    Fixed(u32, u32),
}

/// How a tar stream is applied. [`UnpackOptions::layer`] is an image layer
/// (whiteouts become overlayfs whiteouts); [`UnpackOptions::copy`] is
/// Docker's `Untar` as `docker cp` uses it.
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// Turn `.wh.` entries into overlayfs whiteouts (else they are plain files).
    pub whiteouts: bool,
    pub ownership: Ownership,
    /// Refuse to replace a directory with a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Refuse symlinks whose target, joined to their directory, leaves the
    /// extraction directory (Docker's `invalid symlink` breakout check).
    pub check_symlinks: bool,
    /// The extraction directory inside the root (clean components); entry
    /// names and hardlink targets are relative to it and may not leave it.
    pub base: Vec<Vec<u8>>,
    /// How the extraction directory is named in error messages (`/tmp`);
    /// empty for layers.
    pub dest_display: String,
}

impl UnpackOptions {
    pub fn layer() -> Self {
        UnpackOptions {
            whiteouts: true,
            ..Default::default()
        }
    }

    /// Docker's `Untar` with `NoOverwriteDirNonDir`, into `base`.
    pub fn copy(base: Vec<Vec<u8>>, dest_display: String, ownership: Ownership) -> Self {
        UnpackOptions {
            whiteouts: false,
            ownership,
            no_overwrite_dir_non_dir: true,
            check_symlinks: true,
            base,
            dest_display,
        }
    }

    fn is_copy(&self) -> bool {
        !self.dest_display.is_empty()
    }

    /// A cleaned path below the destination, as Go's `filepath.Join` shows it.
    fn display(&self, rel: &[Vec<u8>]) -> String {
        let mut s = self.dest_display.trim_end_matches('/').to_string();
        for c in rel {
            s.push('/');
            s.push_str(&String::from_utf8_lossy(c));
        }
        if s.is_empty() {
            s.push('/');
        }
        s
    }
}

/// What unpacking measured.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnpackStats {
    /// Sum of the sizes of non-directory entries, as Docker's overlay2
    /// `DiffSize` counts them (symlinks count their target length).
    pub size: u64,
    pub entries: u64,
}

/// Split an entry name into clean components, refusing names that leave the
/// root. `.` and empty components vanish; `..` pops.
pub fn clean_components(raw: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err(Error::Breakout(String::from_utf8_lossy(raw).into_owned()));
                }
            }
            p => out.push(p.to_vec()),
        }
    }
    Ok(out)
}

/// Go's `filepath.Clean` of an absolute path (Docker prints paths so).
pub fn go_clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

fn join(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut p = parts.join(&b'/');
    if p.is_empty() {
        p.push(b'.');
    }
    p
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Open `rel` (a relative path; empty means the root itself) below `root`
/// with `openat2(RESOLVE_IN_ROOT)`: `..` and symlinks, absolute ones too,
/// resolve as if `root` were `/`, so nothing outside it is ever reached.
pub fn open_in_root(root: BorrowedFd<'_>, rel: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
    let path = if rel.is_empty() { &b"."[..] } else { rel };
    rfs::openat2(
        root,
        std::ffi::OsStr::from_bytes(path),
        flags,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(errno_io)
}

/// A stat's access and modification times, to set them on a copy.
pub fn stat_times(st: &rustix::fs::Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime as _,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

/// `mkdir -p` of `path` inside `root`, never leaving it: each component is
/// resolved with `RESOLVE_IN_ROOT`, so a symlink on the way (even an
/// absolute one) stays inside. New directories are 0755, owned by `owner`.
pub fn mkdir_all_in_root(
    root: &Path,
    path: &str,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    use rustix::fs::{self as rfs, Mode, OFlags};
    use std::os::fd::AsFd;
    let root_fd = rfs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut done = String::new();
    for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let parent = open_in_root(
            root_fd.as_fd(),
            done.as_bytes(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        )?;
        if !done.is_empty() {
            done.push('/');
        }
        done.push_str(comp);
        if comp == ".." {
            continue;
        }
        match rfs::mkdirat(&parent, comp, Mode::from_raw_mode(0o755)) {
            Ok(()) => {
                // mkdir honours the umask; Docker's directories are 0755.
                let dir = open_in_root(
                    root_fd.as_fd(),
                    done.as_bytes(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                )?;
                rfs::fchmod(&dir, Mode::from_raw_mode(0o755))?;
                if let Some((u, g)) = owner {
                    rfs::fchown(
                        &dir,
                        Some(rfs::Uid::from_raw(u)),
                        Some(rfs::Gid::from_raw(g)),
                    )?;
                }
            }
            Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The path `path` names inside `root` with every symlink on the way
/// resolved as if `root` were `/` (absolute and dangling ones too, as
/// moby's `FollowSymlinkInScope`): relative to `root`, without symlinks
/// as the tree stands now. Only meant for trees nobody else writes to
/// meanwhile (a container's rootfs before it starts).
pub fn resolve_in_scope(root: &Path, path: &str) -> io::Result<String> {
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: std::collections::VecDeque<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == "." {
            continue;
        }
        if c == ".." {
            resolved.pop();
            continue;
        }
        let here = root.join(resolved.join("/")).join(&c);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(errno_io(Errno::LOOP));
                }
                let target = std::fs::read_link(&here)?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    resolved.clear();
                }
                for t in target.split('/').rev().filter(|c| !c.is_empty()) {
                    pending.push_front(t.to_string());
                }
            }
            _ => resolved.push(c),
        }
    }
    Ok(resolved.join("/"))
}

/// Make a mount point for `dest` inside `root` the way dockerd does before
/// a start: symlinks followed within `root`, missing directories made, and
/// an empty file when a file is to be mounted there.
pub fn prepare_mount_point(root: &Path, dest: &str, file: bool) -> io::Result<()> {
    let rel = resolve_in_scope(root, dest)?;
    let (parent, name) = match rel.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", rel.as_str()),
    };
    if !file || name.is_empty() {
        return mkdir_all_in_root(root, &rel, None);
    }
    mkdir_all_in_root(root, parent, None)?;
    let root_fd = rfs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_io)?;
    let dir = open_in_root(
        root_fd.as_fd(),
        parent.as_bytes(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
    )?;
    match rfs::openat(
        &dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o755),
    ) {
        Ok(_) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(errno_io(e)),
    }
}

struct Unpacker {
    root: OwnedFd,
    /// The last parent directory resolved: tar entries come grouped by
    /// directory, so this saves an openat2 per file. Dropped whenever an
    /// entry removes something or plants a symlink, which could change
    /// what a path resolves to.
    parent_cache: Option<(Vec<Vec<u8>>, std::rc::Rc<OwnedFd>)>,
    /// Directories of this layer with the set-group-ID bit: files created
    /// in them inherit the directory's group, so they always need chown.
    setgid_dirs: std::collections::HashSet<Vec<u8>>,
    umask: u32,
    /// Directory mtimes are set last: creating entries inside a directory
    /// would change them again.
    dir_times: Vec<(Vec<u8>, u64)>,
    buf: Vec<u8>,
    opts: UnpackOptions,
}

impl Unpacker {
    fn resolve_dir(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        open_in_root(
            self.root.as_fd(),
            rel,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        )
    }

    /// Open the parent directory of an entry, creating missing directories
    /// (root-owned, 0755, as Docker does).
    fn parent(&mut self, comps: &[Vec<u8>]) -> io::Result<std::rc::Rc<OwnedFd>> {
        if let Some((key, fd)) = &self.parent_cache {
            if key.as_slice() == comps {
                return Ok(fd.clone());
            }
        }
        let fd = std::rc::Rc::new(self.parent_uncached(comps)?);
        self.parent_cache = Some((comps.to_vec(), fd.clone()));
        Ok(fd)
    }

    fn parent_uncached(&self, comps: &[Vec<u8>]) -> io::Result<OwnedFd> {
        match self.resolve_dir(&join(comps)) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc_enoent()) => {}
            Err(e) => return Err(e),
        }
        let mut dir = self.resolve_dir(b"")?;
        for i in 0..comps.len() {
            let name = std::ffi::OsStr::from_bytes(&comps[i]);
            match self.resolve_dir(&join(&comps[..=i])) {
                Ok(fd) => dir = fd,
                Err(e) if e.raw_os_error() == Some(libc_enoent()) => {
                    match rfs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(errno_io(e)),
                    }
                    dir = self.resolve_dir(&join(&comps[..=i]))?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dir)
    }

    /// Remove whatever is at `name` unless both it and the new entry are
    /// directories (then the directory is kept and its metadata updated).
    fn clear(&mut self, dir: &OwnedFd, name: &Path, new_is_dir: bool) -> io::Result<()> {
        let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(errno_io(e)),
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if is_dir && new_is_dir {
            return Ok(());
        }
        self.parent_cache = None;
        if is_dir {
            let p = proc_path(dir, name);
            std::fs::remove_dir_all(&p)
        } else {
            rfs::unlinkat(dir, name, AtFlags::empty()).map_err(errno_io)
        }
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        stats: &mut UnpackStats,
    ) -> Result<()> {
        let pax = Pax::read(entry).map_err(|e| Error::Layer(e.to_string()))?;
        let raw = pax
            .sparse_name
            .clone()
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let rel = match clean_components(&raw) {
            Ok(r) => r,
            Err(_) if self.opts.is_copy() => {
                return Err(Error::Layer(format!(
                    "{:?} is outside of {:?}",
                    String::from_utf8_lossy(&raw),
                    self.opts.dest_display
                )))
            }
            Err(e) => return Err(e),
        };
        if rel.is_empty() && self.opts.is_copy() {
            // The extraction directory itself ("./"): Docker's Untar leaves
            // an existing directory alone.
            return Ok(());
        }
        let comps: Vec<Vec<u8>> = self.opts.base.iter().cloned().chain(rel.clone()).collect();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        stats.entries += 1;
        let io_err = |e: io::Error| Error::Layer(format!("{}: {e}", String::from_utf8_lossy(&raw)));

        let Some((last, parents)) = comps.split_last() else {
            // The root itself ("./"): only its metadata applies.
            if kind == EntryType::Directory {
                let root = self.resolve_dir(b"").map_err(io_err)?;
                let h = entry.header();
                let owner = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
                let mode = h.mode().unwrap_or(0o755) & 0o7777;
                self.metadata(&root, Path::new("."), owner, mode, &pax, true, true)
                    .map_err(io_err)?;
                if let Ok(t) = entry.header().mtime() {
                    self.dir_times.push((Vec::new(), t));
                }
            }
            return Ok(());
        };
        let name_str = std::ffi::OsStr::from_bytes(last);
        let name = Path::new(name_str);
        let parent = self.parent(parents).map_err(io_err)?;

        let whiteout = if self.opts.whiteouts {
            last.strip_prefix(WHITEOUT_PREFIX.as_bytes())
        } else {
            None
        };
        if let Some(target) = whiteout {
            if last == WHITEOUT_OPAQUE.as_bytes() {
                rfs::lsetxattr(
                    proc_path(&parent, Path::new(".")),
                    OPAQUE_XATTR,
                    b"y",
                    XattrFlags::empty(),
                )
                .map_err(|e| io_err(errno_io(e)))?;
            } else if !target.starts_with(WHITEOUT_PREFIX.as_bytes()) {
                // `.wh..wh.*` other than the opaque marker are aufs metadata: ignored.
                let t = Path::new(std::ffi::OsStr::from_bytes(target));
                self.clear(&parent, t, false).map_err(io_err)?;
                rfs::mknodat(
                    &parent,
                    t,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rfs::makedev(0, 0),
                )
                .map_err(|e| io_err(errno_io(e)))?;
            }
            return Ok(());
        }

        let is_dir = kind == EntryType::Directory;
        if self.opts.is_copy() {
            self.copy_checks(entry, &parent, name, &rel, is_dir)?;
        }
        let mode_bits = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let create_mode = Mode::from_raw_mode(mode_bits & 0o777);
        // Create first; only an existing entry (rare) costs a stat and removal.
        let mut kept_existing = false;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let open = || {
                    rfs::openat(
                        &*parent,
                        name,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        create_mode,
                    )
                };
                let fd = match open() {
                    Err(Errno::EXIST) => {
                        self.clear(&parent, name, false).map_err(io_err)?;
                        open()
                    }
                    r => r,
                }
                .map_err(|e| io_err(errno_io(e)))?;
                let mut file = std::fs::File::from(fd);
                let size = match &pax.sparse {
                    Some(sp) => {
                        write_pax_sparse(entry, &mut file, sp).map_err(io_err)?;
                        sp.real_size
                    }
                    None => {
                        let size = entry.size();
                        self.copy_sparse(entry, &mut file, size).map_err(io_err)?;
                        size
                    }
                };
                stats.size += size;
            }
            EntryType::Directory => match rfs::mkdirat(&*parent, name, create_mode) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    self.clear(&parent, name, true).map_err(io_err)?;
                    match rfs::mkdirat(&*parent, name, create_mode) {
                        Ok(()) => {}
                        Err(Errno::EXIST) => kept_existing = true,
                        Err(e) => return Err(io_err(errno_io(e))),
                    }
                }
                Err(e) => return Err(io_err(errno_io(e))),
            },
            EntryType::Symlink => {
                let target = link_target(entry, &raw, "symlink")?;
                let t = std::ffi::OsStr::from_bytes(&target);
                self.parent_cache = None;
                match rfs::symlinkat(t, &*parent, name) {
                    Err(Errno::EXIST) => {
                        self.clear(&parent, name, false).map_err(io_err)?;
                        rfs::symlinkat(t, &*parent, name)
                    }
                    r => r,
                }
                .map_err(|e| io_err(errno_io(e)))?;
                stats.size += target.len() as u64;
            }
            EntryType::Link => {
                let target = link_target(entry, &raw, "hardlink")?;
                let tcomps = match clean_components(&target) {
                    Ok(t) if self.opts.is_copy() => {
                        self.opts.base.iter().cloned().chain(t).collect()
                    }
                    Ok(t) => t,
                    Err(_) if self.opts.is_copy() => {
                        return Err(Error::Layer(format!(
                            "invalid hardlink {:?} -> {:?}",
                            go_clean(&format!(
                                "{}/{}",
                                self.opts.dest_display,
                                String::from_utf8_lossy(&target)
                            )),
                            String::from_utf8_lossy(&target)
                        )))
                    }
                    Err(e) => return Err(e),
                };
                let Some((tlast, tparents)) = tcomps.split_last() else {
                    return Err(Error::Breakout(
                        String::from_utf8_lossy(&target).into_owned(),
                    ));
                };
                let tdir = self.resolve_dir(&join(tparents)).map_err(io_err)?;
                let tname = std::ffi::OsStr::from_bytes(tlast);
                let link = || rfs::linkat(&tdir, tname, &*parent, name, AtFlags::empty());
                match link() {
                    Err(Errno::EXIST) => {
                        self.clear(&parent, name, false).map_err(io_err)?;
                        link()
                    }
                    r => r,
                }
                .map_err(|e| {
                    Error::Layer(format!(
                        "{}: hardlink to {}: {}",
                        String::from_utf8_lossy(&raw),
                        String::from_utf8_lossy(&target),
                        errno_io(e)
                    ))
                })?;
                // A hardlink shares its target's metadata; nothing more to do.
                return Ok(());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let ft = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                let dev = rfs::makedev(major, minor);
                let mk = || rfs::mknodat(&*parent, name, ft, create_mode, dev);
                match mk() {
                    Err(Errno::EXIST) => {
                        self.clear(&parent, name, false).map_err(io_err)?;
                        mk()
                    }
                    r => r,
                }
                .map_err(|e| io_err(errno_io(e)))?;
            }
            // Unknown entry types are skipped, as Docker skips them.
            _ => return Ok(()),
        }
        if is_dir && mode_bits & 0o2000 != 0 {
            self.setgid_dirs.insert(join(&comps));
        }
        let h = entry.header();
        let (owner, chown) = match self.opts.ownership {
            Ownership::FromHeader => {
                let owner = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
                let chown =
                    owner != (0, 0) || kept_existing || self.setgid_dirs.contains(&join(parents));
                (owner, chown)
            }
            Ownership::Caller => ((0, 0), false),
            Ownership::Fixed(u, g) => ((u, g), true),
        };
        // The create call applied the mode minus the umask; chmod only when
        // that differs, or set-id/sticky bits are wanted (chown clears them).
        let chmod = kind != EntryType::Symlink
            && (kept_existing || mode_bits & 0o7000 != 0 || mode_bits & self.umask != 0);
        self.metadata(&parent, name, owner, mode_bits, &pax, chown, chmod)
            .map_err(io_err)?;

        if is_dir {
            if let Ok(t) = entry.header().mtime() {
                self.dir_times.push((join(&comps), t));
            }
        } else if let Ok(t) = entry.header().mtime() {
            set_mtime(&parent, name, t).map_err(io_err)?;
        }
        Ok(())
    }

    /// `docker cp`'s checks before an entry is created: no directory
    /// replaced by a non-directory (or the reverse), no symlink pointing
    /// out of the extraction directory.
    fn copy_checks<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        parent: &OwnedFd,
        name: &Path,
        rel: &[Vec<u8>],
        is_dir: bool,
    ) -> Result<()> {
        if self.opts.no_overwrite_dir_non_dir {
            if let Ok(st) = rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
                let was_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                let path = self.opts.display(rel);
                let dest = self.opts.display(&[]);
                if was_dir && !is_dir {
                    return Err(Error::Layer(format!(
                        "cannot overwrite directory {path:?} with non-directory {dest:?}"
                    )));
                }
                if !was_dir && is_dir {
                    return Err(Error::Layer(format!(
                        "cannot overwrite non-directory {path:?} with directory {dest:?}"
                    )));
                }
            }
        }
        if self.opts.check_symlinks && entry.header().entry_type() == EntryType::Symlink {
            let target = entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            let parents = &rel[..rel.len().saturating_sub(1)];
            let mut joined = join(parents);
            joined.push(b'/');
            joined.extend_from_slice(&target);
            if clean_components(&joined).is_err() {
                return Err(Error::Layer(format!(
                    "invalid symlink {:?} -> {:?}",
                    self.opts.display(rel),
                    String::from_utf8_lossy(&target)
                )));
            }
        }
        Ok(())
    }

    /// Owner, mode (after chown, which clears set-id bits) and xattrs.
    #[allow(clippy::too_many_arguments)]
    fn metadata(
        &self,
        dir: &OwnedFd,
        name: &Path,
        (uid, gid): (u32, u32),
        mode: u32,
        pax: &Pax,
        chown: bool,
        chmod: bool,
    ) -> io::Result<()> {
        if chown {
            rfs::chownat(
                dir,
                name,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(errno_io)?;
        }
        if chmod {
            rfs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty())
                .map_err(errno_io)?;
        }
        if !pax.xattrs.is_empty() {
            let p = proc_path(dir, name);
            for (k, v) in &pax.xattrs {
                rfs::lsetxattr(&p, std::ffi::OsStr::from_bytes(k), v, XattrFlags::empty())
                    .map_err(errno_io)?;
            }
        }
        Ok(())
    }

    /// Copy file data, turning 4 KiB runs of zeros into holes so sparse
    /// files stay sparse.
    fn copy_sparse<R: Read>(
        &mut self,
        src: &mut R,
        dst: &mut std::fs::File,
        size: u64,
    ) -> io::Result<()> {
        const BLOCK: usize = 4096;
        let mut pos: u64 = 0;
        let mut pending_hole = false;
        loop {
            let n = read_full(src, &mut self.buf)?;
            if n == 0 {
                break;
            }
            let chunk = &self.buf[..n];
            // Runs of data blocks go out in one write and runs of zero
            // blocks in one seek: a syscall per 4 KiB block made the
            // unpacking of big files cost more than the data.
            let mut off = 0;
            let mut data_from = 0;
            let mut hole = 0i64;
            while off < n {
                let end = (off + BLOCK).min(n);
                let block = &chunk[off..end];
                if block.len() == BLOCK && block.iter().all(|b| *b == 0) {
                    if data_from < off {
                        dst.write_all(&chunk[data_from..off])?;
                    }
                    hole += BLOCK as i64;
                    data_from = end;
                    pending_hole = true;
                } else {
                    if hole > 0 {
                        dst.seek(SeekFrom::Current(hole))?;
                        hole = 0;
                    }
                    pending_hole = false;
                }
                off = end;
            }
            if data_from < n {
                dst.write_all(&chunk[data_from..n])?;
            }
            if hole > 0 {
                dst.seek(SeekFrom::Current(hole))?;
            }
            pos += n as u64;
        }
        if pos != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "unexpected EOF",
            ));
        }
        if pending_hole {
            rfs::ftruncate(dst.as_fd(), size).map_err(errno_io)?;
        }
        Ok(())
    }
}

/// What an entry's PAX header says beyond what the tar crate applies:
/// xattrs, and GNU's PAX sparse formats (0.1 and 1.0), which Go's
/// archive/tar and so Docker read.
#[derive(Default)]
struct Pax {
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    sparse_name: Option<Vec<u8>>,
    sparse: Option<SparseInfo>,
}

struct SparseInfo {
    real_size: u64,
    /// For format 0.1 the map is in the header; for 1.0 it opens the data.
    map: Option<Vec<(u64, u64)>>,
}

impl Pax {
    fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Pax> {
        let mut pax = Pax::default();
        let Some(exts) = entry.pax_extensions()? else {
            return Ok(pax);
        };
        let (mut major, mut minor, mut real, mut map) = (None, None, None, None);
        for ext in exts.flatten() {
            let k = ext.key_bytes();
            let v = ext.value_bytes();
            let num = || {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
            };
            if let Some(x) = k.strip_prefix(b"SCHILY.xattr.") {
                pax.xattrs.push((x.to_vec(), v.to_vec()));
            }
            match k {
                b"GNU.sparse.name" => pax.sparse_name = Some(v.to_vec()),
                b"GNU.sparse.major" => major = num(),
                b"GNU.sparse.minor" => minor = num(),
                b"GNU.sparse.realsize" | b"GNU.sparse.size" => real = num(),
                b"GNU.sparse.map" => {
                    let nums: Vec<u64> = std::str::from_utf8(v)
                        .unwrap_or("")
                        .split(',')
                        .filter_map(|n| n.trim().parse().ok())
                        .collect();
                    map = Some(
                        nums.chunks(2)
                            .filter(|c| c.len() == 2)
                            .map(|c| (c[0], c[1]))
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        if let Some(real_size) = real {
            let v1 = major == Some(1) && minor == Some(0);
            if v1 || map.is_some() {
                pax.sparse = Some(SparseInfo {
                    real_size,
                    map: if v1 { None } else { map },
                });
            }
        }
        Ok(pax)
    }
}

/// Read the decimal sparse map that opens a PAX 1.0 sparse entry's data.
fn read_sparse_map<R: Read>(r: &mut R) -> io::Result<(Vec<(u64, u64)>, u64)> {
    let mut consumed = 0u64;
    let mut line = || -> io::Result<u64> {
        let mut s = Vec::new();
        let mut b = [0u8; 1];
        loop {
            r.read_exact(&mut b)?;
            consumed += 1;
            if b[0] == b'\n' {
                break;
            }
            s.push(b[0]);
            if s.len() > 32 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "invalid sparse map",
                ));
            }
        }
        std::str::from_utf8(&s)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "invalid sparse map"))
    };
    let n = line()?;
    if n > 1 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid sparse map",
        ));
    }
    let mut map = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let off = line()?;
        let len = line()?;
        map.push((off, len));
    }
    Ok((map, consumed))
}

fn write_pax_sparse<R: Read>(
    src: &mut R,
    dst: &mut std::fs::File,
    sp: &SparseInfo,
) -> io::Result<()> {
    let map = match &sp.map {
        Some(m) => m.clone(),
        None => {
            let (m, used) = read_sparse_map(src)?;
            let pad = (512 - used % 512) % 512;
            io::copy(&mut src.take(pad), &mut io::sink())?;
            m
        }
    };
    for (off, len) in map {
        if off.checked_add(len).is_none_or(|end| end > sp.real_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "sparse region beyond file size",
            ));
        }
        dst.seek(SeekFrom::Start(off))?;
        let n = io::copy(&mut src.take(len), dst)?;
        if n != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "unexpected EOF",
            ));
        }
    }
    rfs::ftruncate(dst.as_fd(), sp.real_size).map_err(errno_io)
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>, raw: &[u8], what: &str) -> Result<Vec<u8>> {
    entry
        .link_name_bytes()
        .map(|t| t.into_owned())
        .ok_or_else(|| {
            Error::Layer(format!(
                "{}: {what} without target",
                String::from_utf8_lossy(raw)
            ))
        })
}

/// The process umask, read without changing it (umask(2) would race with
/// other threads creating files).
fn process_umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            // Unknown: assume every bit may be masked, so chmod always runs.
            .unwrap_or(0o777)
    })
}

fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn libc_enoent() -> i32 {
    Errno::NOENT.raw_os_error()
}

/// A path naming `name` inside an open directory, for the few calls
/// (xattrs, recursive removal) that take no directory fd. The kernel resolves
/// `/proc/self/fd/N` to the directory itself, so no user path is walked.
fn proc_path(dir: &OwnedFd, name: &Path) -> std::path::PathBuf {
    Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

fn set_mtime(dir: &OwnedFd, name: &Path, secs: u64) -> io::Result<()> {
    let t = Timespec {
        tv_sec: secs as i64,
        tv_nsec: 0,
    };
    rfs::utimensat(
        dir,
        name,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(errno_io)
}

/// Unpack a (decompressed) layer tar stream into `dest`, which must exist.
/// The reader is drained to its end so a caller hashing it sees every byte.
pub fn unpack_layer<R: Read>(reader: R, dest: &Path) -> Result<(UnpackStats, R)> {
    let root = rfs::open(
        dest,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Layer(format!("open {}: {}", dest.display(), errno_io(e))))?;
    unpack_with(reader, root, UnpackOptions::layer())
}

/// Apply a tar stream below `opts.base` of the tree open at `root`, every
/// path resolved inside `root` (symlinks in it never lead out). The reader
/// is drained to its end.
pub fn unpack_into<R: Read>(
    reader: R,
    root: std::os::fd::BorrowedFd<'_>,
    opts: UnpackOptions,
) -> Result<(UnpackStats, R)> {
    let root = root
        .try_clone_to_owned()
        .map_err(|e| Error::Layer(e.to_string()))?;
    unpack_with(reader, root, opts)
}

fn unpack_with<R: Read>(reader: R, root: OwnedFd, opts: UnpackOptions) -> Result<(UnpackStats, R)> {
    let mut u = Unpacker {
        opts,
        root,
        parent_cache: None,
        setgid_dirs: Default::default(),
        umask: process_umask(),
        dir_times: Vec::new(),
        buf: vec![0u8; 256 * 1024],
    };
    let mut stats = UnpackStats::default();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        u.entry(&mut entry, &mut stats)?;
    }
    for (rel, t) in u.dir_times.iter().rev() {
        if let Ok(dir) = u.resolve_dir(rel) {
            let _ = set_mtime(&dir, Path::new("."), *t);
        }
    }
    let mut inner = archive.into_inner();
    io::copy(&mut inner, &mut io::sink()).map_err(tar_err)?;
    Ok((stats, inner))
}

fn tar_err(e: io::Error) -> Error {
    // A stream cut inside a header: Go's archive/tar calls it this.
    if e.kind() == io::ErrorKind::UnexpectedEof || e.to_string() == "failed to read entire block" {
        return Error::Layer("unexpected EOF".into());
    }
    Error::Layer(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_refuses_escapes() {
        assert!(clean_components(b"../etc/passwd").is_err());
        assert!(clean_components(b"a/../../b").is_err());
        assert_eq!(
            clean_components(b"./a/./b/").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            clean_components(b"/abs/x").unwrap(),
            vec![b"abs".to_vec(), b"x".to_vec()]
        );
        assert_eq!(clean_components(b"a/../b").unwrap(), vec![b"b".to_vec()]);
    }
}
