//! Trees as tar streams, the way Docker's `archive` package writes them:
//! the image layer `commit` makes from a container's overlayfs upper dir
//! (whiteouts turned back into `.wh.` entries), and the archives of
//! `export` and `cp`.
//!
//! Everything is read through directory file descriptors, never following
//! a symlink, so a tree that changes underneath (a running container) can
//! not make the writer read outside it. Output is reproducible: entries in
//! byte order of their names, numeric owners only, mtimes in whole seconds,
//! no access or change times.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use tar::{EntryType, Header};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const REDIRECT_XATTR: &str = "trusted.overlay.redirect";
const CAPABILITY_XATTR: &str = "security.capability";

/// What to do with one entry of the tree.
#[derive(Debug)]
pub enum Visit {
    /// Write it (and, for a directory, look at what is inside).
    Include,
    /// Leave it and everything below it out.
    Skip,
    /// A directory written only if something below it is written.
    IfNonEmpty,
    /// Write this file's metadata and content under the entry's name (what
    /// a bind mount over the entry shows).
    Replace(std::fs::File),
}

/// An entry that is not in the tree but should be in the archive.
#[derive(Debug)]
pub enum Virtual {
    Dir {
        mode: u32,
        mtime: i64,
    },
    EmptyFile {
        mode: u32,
        mtime: i64,
    },
    Symlink {
        target: Vec<u8>,
        mtime: i64,
    },
    /// A file of the host, shown under this name (a bind mount).
    Host(std::fs::File),
}

/// Decides, for a tree being written, what goes in.
pub trait TreeFilter {
    /// `path` is the entry's path in the tree, `/`-rooted (`/etc/hosts`).
    fn visit(&mut self, _path: &[u8], _st: &Stat) -> Visit {
        Visit::Include
    }
    /// Entries to add to the directory at `dir` (`/` for the root): each
    /// replaces a real entry of the same name, or is added in name order.
    fn extra(&mut self, _dir: &[u8]) -> Vec<(Vec<u8>, Virtual)> {
        Vec::new()
    }
}

/// Everything goes in, as is.
pub struct All;
impl TreeFilter for All {}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// A path naming `name` inside an open directory, for the calls that take
/// no directory fd (xattrs on non-directories).
fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    if name != "." {
        p.push(name);
    }
    p
}

fn get_xattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rfs::lgetxattr(path, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Some(buf);
            }
            Err(Errno::RANGE) if buf.len() < 1 << 16 => buf.resize(buf.len() * 4, 0),
            Err(_) => return None,
        }
    }
}

/// Go's `os.FileMode`-derived tar mode: permission bits plus the file type
/// bits Docker adds back (`fillGo18FileTypeBits`).
fn tar_mode(st_mode: u32) -> u32 {
    let perm = st_mode & 0o7777;
    let kind = match FileType::from_raw_mode(st_mode) {
        FileType::Directory => 0o040000,
        FileType::RegularFile => 0o100000,
        FileType::Symlink => 0o120000,
        FileType::Fifo => 0o010000,
        FileType::CharacterDevice => 0o020000,
        FileType::BlockDevice => 0o060000,
        FileType::Socket => 0o140000,
        _ => 0,
    };
    perm | kind
}

/// PAX records of one entry.
type Pax = Vec<(String, Vec<u8>)>;

/// A header waiting to be written (a directory whose contents decide).
struct Pending {
    depth: usize,
    header: Header,
    pax: Pax,
    /// The `.wh..wh..opq` entry that follows an opaque directory.
    opaque: Option<(Header, Pax)>,
}

/// A tar stream being written from one or more trees.
pub struct TarWriter<W: Write> {
    out: tar::Builder<W>,
    /// (dev, ino) of regular files with several links -> first name written.
    links: HashMap<(u64, u64), Vec<u8>>,
    overlay: bool,
    pending: Vec<Pending>,
    depth: usize,
}

/// Go's `splitUSTARPath`: a name that does not fit the 100-byte name field
/// may still fit as prefix + name.
fn set_name(h: &mut Header, name: &[u8]) -> bool {
    let Some(u) = h.as_ustar_mut() else {
        return false;
    };
    u.name = [0; 100];
    u.prefix = [0; 155];
    if name.len() <= 100 {
        u.name[..name.len()].copy_from_slice(name);
        return true;
    }
    let mut len = name.len();
    if len > 156 {
        len = 156;
    } else if name[len - 1] == b'/' {
        len -= 1;
    }
    let Some(i) = name[..len].iter().rposition(|b| *b == b'/') else {
        return false;
    };
    let (plen, nlen) = (i, name.len() - i - 1);
    if i == 0 || nlen > 100 || nlen == 0 || plen > 155 {
        return false;
    }
    u.prefix[..plen].copy_from_slice(&name[..plen]);
    u.name[..nlen].copy_from_slice(&name[i + 1..]);
    true
}

/// A header for `name` with the given fields; long names, long link
/// targets and numbers too big for USTAR go into PAX records.
fn header(
    name: &[u8],
    kind: EntryType,
    mode: u32,
    (uid, gid): (u64, u64),
    size: u64,
    mtime: i64,
    pax: &mut Pax,
) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    if !set_name(&mut h, name) {
        pax.push(("path".into(), name.to_vec()));
        let cut = &name[..name.len().min(100)];
        set_name(&mut h, cut);
    }
    const MAX_ID: u64 = 0o7777777;
    const MAX_SIZE: u64 = 0o77777777777;
    if uid > MAX_ID {
        pax.push(("uid".into(), uid.to_string().into_bytes()));
    }
    if gid > MAX_ID {
        pax.push(("gid".into(), gid.to_string().into_bytes()));
    }
    h.set_uid(uid.min(MAX_ID));
    h.set_gid(gid.min(MAX_ID));
    if size > MAX_SIZE {
        pax.push(("size".into(), size.to_string().into_bytes()));
        h.set_size(0);
    } else {
        h.set_size(size);
    }
    h.set_mtime(mtime.max(0) as u64);
    h
}

fn set_link(h: &mut Header, target: &[u8], pax: &mut Pax) {
    let l = &mut h.as_old_mut().linkname;
    *l = [0; 100];
    if target.len() <= 100 {
        l[..target.len()].copy_from_slice(target);
    } else {
        pax.push(("linkpath".into(), target.to_vec()));
        l.copy_from_slice(&target[..100]);
    }
}

/// The name of `child` inside the archive directory named `parent`.
pub fn child_name(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut n = parent.to_vec();
    if !n.is_empty() && !n.ends_with(b"/") {
        n.push(b'/');
    }
    n.extend_from_slice(child);
    n
}

fn child_path(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut p = parent.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(child);
    p
}

fn dir_name(name: &[u8]) -> Vec<u8> {
    let mut n = name.to_vec();
    if !n.ends_with(b"/") {
        n.push(b'/');
    }
    n
}

/// Names in a directory, sorted as Go's `filepath.Walk` sorts them.
fn read_names(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let fd = rfs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_io)?;
    let mut names = Vec::new();
    for e in rfs::Dir::read_from(&fd).map_err(errno_io)? {
        let e = e.map_err(errno_io)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    names.sort();
    Ok(names)
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> Self {
        TarWriter {
            out: tar::Builder::new(out),
            links: HashMap::new(),
            overlay: false,
            pending: Vec::new(),
            depth: 0,
        }
    }

    /// Read the tree as an overlayfs upper dir: 0/0 character devices are
    /// whiteouts (`.wh.name`), opaque directories get `.wh..wh..opq`.
    pub fn overlay_whiteouts(mut self) -> Self {
        self.overlay = true;
        self
    }

    /// Write the end-of-archive marker; returns the output.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner()
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        for p in std::mem::take(&mut self.pending) {
            self.emit(&p.header, &p.pax, io::empty())?;
            if let Some((h, pax)) = p.opaque {
                self.emit(&h, &pax, io::empty())?;
            }
        }
        Ok(())
    }

    fn emit<R: Read>(&mut self, h: &Header, pax: &[(String, Vec<u8>)], data: R) -> io::Result<()> {
        if !pax.is_empty() {
            self.out
                .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
        }
        let mut h = h.clone();
        h.set_cksum();
        self.out.append(&h, data)
    }

    /// Write a header (flushing directories that were waiting for content).
    fn write_entry<R: Read>(&mut self, mut h: Header, pax: Pax, data: R) -> io::Result<()> {
        self.flush_pending()?;
        h.set_cksum();
        self.emit(&h, &pax, data)
    }

    /// Regular file data: exactly the size in the header, even if the file
    /// changes while it is read (zeros pad a file that shrank).
    fn write_file(
        &mut self,
        h: Header,
        pax: Pax,
        file: std::fs::File,
        size: u64,
    ) -> io::Result<()> {
        let r = FixedLen {
            inner: file,
            left: size,
        };
        self.write_entry(h, pax, r)
    }

    /// Add one virtual entry under `name` (a directory gets a `/`).
    pub fn append_virtual(&mut self, name: &[u8], v: Virtual) -> io::Result<()> {
        let mut pax = Vec::new();
        match v {
            Virtual::Dir { mode, mtime } => {
                let h = header(
                    &dir_name(name),
                    EntryType::Directory,
                    0o040000 | (mode & 0o7777),
                    (0, 0),
                    0,
                    mtime,
                    &mut pax,
                );
                self.write_entry(h, pax, io::empty())
            }
            Virtual::EmptyFile { mode, mtime } => {
                let h = header(
                    name,
                    EntryType::Regular,
                    0o100000 | (mode & 0o7777),
                    (0, 0),
                    0,
                    mtime,
                    &mut pax,
                );
                self.write_entry(h, pax, io::empty())
            }
            Virtual::Symlink { target, mtime } => {
                let mut h = header(
                    name,
                    EntryType::Symlink,
                    0o120777,
                    (0, 0),
                    0,
                    mtime,
                    &mut pax,
                );
                set_link(&mut h, &target, &mut pax);
                self.write_entry(h, pax, io::empty())
            }
            Virtual::Host(f) => {
                let st = rfs::fstat(&f).map_err(errno_io)?;
                let size = st.st_size as u64;
                let h = header(
                    name,
                    EntryType::Regular,
                    tar_mode(st.st_mode),
                    (st.st_uid as u64, st.st_gid as u64),
                    size,
                    st.st_mtime as i64,
                    &mut pax,
                );
                self.write_file(h, pax, f, size)
            }
        }
    }

    /// Write the contents of the directory `dir` (not the directory
    /// itself), named below `tar_prefix` (empty: top-level names) and at
    /// `path` in the tree (`/` for its root).
    pub fn append_contents(
        &mut self,
        dir: BorrowedFd<'_>,
        tar_prefix: &[u8],
        path: &[u8],
        filter: &mut dyn TreeFilter,
    ) -> io::Result<()> {
        let names = read_names(dir)?;
        let mut extras: BTreeMap<Vec<u8>, Virtual> = filter.extra(path).into_iter().collect();
        let mut merged: Vec<Vec<u8>> = names;
        for k in extras.keys() {
            if !merged.contains(k) {
                merged.push(k.clone());
            }
        }
        merged.sort();
        for name in merged {
            let tar_name = child_name(tar_prefix, &name);
            let cpath = child_path(path, &name);
            match extras.remove(&name) {
                Some(v) => self.append_virtual_tree(&tar_name, &cpath, v, filter)?,
                None => {
                    self.append_tree(dir, OsStr::from_bytes(&name), &tar_name, &cpath, filter)?
                }
            }
        }
        Ok(())
    }

    /// Add a virtual entry and, for a directory, the virtual entries the
    /// filter puts in it.
    pub fn append_virtual_tree(
        &mut self,
        tar_name: &[u8],
        path: &[u8],
        v: Virtual,
        filter: &mut dyn TreeFilter,
    ) -> io::Result<()> {
        let is_dir = matches!(v, Virtual::Dir { .. });
        self.append_virtual(tar_name, v)?;
        if is_dir {
            let mut extras = filter.extra(path);
            extras.sort_by(|a, b| a.0.cmp(&b.0));
            for (n, v) in extras {
                let tn = child_name(tar_name, &n);
                let cp = child_path(path, &n);
                self.append_virtual_tree(&tn, &cp, v, filter)?;
            }
        }
        Ok(())
    }

    /// Write the entry `name` of `dir` as `tar_name` and, if it is a
    /// directory, everything below it. `path` is its path in the tree.
    /// Entries that vanish meanwhile are skipped, as Docker skips them.
    pub fn append_tree(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        tar_name: &[u8],
        path: &[u8],
        filter: &mut dyn TreeFilter,
    ) -> io::Result<()> {
        let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(errno_io(e)),
        };
        let visit = filter.visit(path, &st);
        let lazy = match visit {
            Visit::Skip => return Ok(()),
            Visit::Replace(f) => return self.append_virtual(tar_name, Virtual::Host(f)),
            Visit::Include => false,
            Visit::IfNonEmpty => true,
        };
        let ft = FileType::from_raw_mode(st.st_mode);
        let owner = (st.st_uid as u64, st.st_gid as u64);
        let mtime = st.st_mtime as i64;
        let mut pax = Vec::new();
        match ft {
            FileType::Directory => {
                let sub = match rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(errno_io(e)),
                };
                let dname = dir_name(tar_name);
                let h = header(
                    &dname,
                    EntryType::Directory,
                    tar_mode(st.st_mode),
                    owner,
                    0,
                    mtime,
                    &mut pax,
                );
                let mut opaque = None;
                if self.overlay {
                    if xattr_fd(&sub, REDIRECT_XATTR).is_some() {
                        return Err(io::Error::other(format!(
                            "{}: directory renamed with overlayfs redirect_dir is not supported",
                            String::from_utf8_lossy(path)
                        )));
                    }
                    if xattr_fd(&sub, OPAQUE_XATTR).as_deref() == Some(b"y") {
                        let mut opax = Vec::new();
                        let oh = header(
                            &child_name(&dname, WHITEOUT_OPAQUE),
                            EntryType::Regular,
                            st.st_mode & 0o777,
                            owner,
                            0,
                            0,
                            &mut opax,
                        );
                        opaque = Some((oh, opax));
                    }
                }
                self.depth += 1;
                self.pending.push(Pending {
                    depth: self.depth,
                    header: h,
                    pax,
                    opaque,
                });
                if !lazy {
                    self.flush_pending()?;
                }
                let res = self.append_contents(sub.as_fd(), &dname, path, filter);
                if self.pending.last().is_some_and(|p| p.depth == self.depth) {
                    self.pending.pop();
                }
                self.depth -= 1;
                res
            }
            FileType::RegularFile => {
                let size = st.st_size as u64;
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key).cloned() {
                        let mut h = header(
                            tar_name,
                            EntryType::Link,
                            tar_mode(st.st_mode),
                            owner,
                            0,
                            mtime,
                            &mut pax,
                        );
                        set_link(&mut h, &first, &mut pax);
                        return self.write_entry(h, pax, io::empty());
                    }
                    self.links.insert(key, tar_name.to_vec());
                }
                if let Some(cap) = get_xattr(&proc_path(dir, name), CAPABILITY_XATTR) {
                    pax.push((format!("SCHILY.xattr.{CAPABILITY_XATTR}"), cap));
                }
                let f = match rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => std::fs::File::from(fd),
                    Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(errno_io(e)),
                };
                let h = header(
                    tar_name,
                    EntryType::Regular,
                    tar_mode(st.st_mode),
                    owner,
                    size,
                    mtime,
                    &mut pax,
                );
                self.write_file(h, pax, f, size)
            }
            FileType::Symlink => {
                let target = match rfs::readlinkat(dir, name, Vec::new()) {
                    Ok(t) => t.into_bytes(),
                    Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(errno_io(e)),
                };
                let mut h = header(
                    tar_name,
                    EntryType::Symlink,
                    tar_mode(st.st_mode),
                    owner,
                    0,
                    mtime,
                    &mut pax,
                );
                set_link(&mut h, &target, &mut pax);
                self.write_entry(h, pax, io::empty())
            }
            FileType::CharacterDevice | FileType::BlockDevice => {
                let rdev = st.st_rdev;
                let (major, minor) = (rfs::major(rdev), rfs::minor(rdev));
                if self.overlay && ft == FileType::CharacterDevice && major == 0 && minor == 0 {
                    // A whiteout: Docker's overlay converter keeps its owner
                    // and time, mode 0600, as a regular empty file.
                    let (parent, base) = match tar_name.iter().rposition(|b| *b == b'/') {
                        Some(i) => (&tar_name[..=i], &tar_name[i + 1..]),
                        None => (&b""[..], tar_name),
                    };
                    let mut wname = parent.to_vec();
                    wname.extend_from_slice(WHITEOUT_PREFIX);
                    wname.extend_from_slice(base);
                    let h = header(&wname, EntryType::Regular, 0o600, owner, 0, mtime, &mut pax);
                    return self.write_entry(h, pax, io::empty());
                }
                let kind = if ft == FileType::CharacterDevice {
                    EntryType::Char
                } else {
                    EntryType::Block
                };
                let mut h = header(
                    tar_name,
                    kind,
                    tar_mode(st.st_mode),
                    owner,
                    0,
                    mtime,
                    &mut pax,
                );
                h.set_device_major(major)?;
                h.set_device_minor(minor)?;
                self.write_entry(h, pax, io::empty())
            }
            FileType::Fifo => {
                let h = header(
                    tar_name,
                    EntryType::Fifo,
                    tar_mode(st.st_mode),
                    owner,
                    0,
                    mtime,
                    &mut pax,
                );
                self.write_entry(h, pax, io::empty())
            }
            // Sockets cannot be archived; Docker skips them too.
            _ => Ok(()),
        }
    }
}

fn xattr_fd(fd: &OwnedFd, name: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    match rfs::fgetxattr(fd, name, &mut buf[..]) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// Reads exactly `left` bytes: the file's, then zeros if it is shorter.
struct FixedLen {
    inner: std::fs::File,
    left: u64,
}

impl Read for FixedLen {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = out
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut out[..want]) {
            Ok(0) => {
                out[..want].fill(0);
                want
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// Write a container's upper dir as an image layer: every entry the
/// filter keeps, whiteouts and opaque directories in the OCI form.
pub fn write_upper_layer<W: Write>(
    upper: &std::path::Path,
    out: W,
    filter: &mut dyn TreeFilter,
) -> io::Result<W> {
    let fd = rfs::open(
        upper,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_io)?;
    let mut w = TarWriter::new(out).overlay_whiteouts();
    w.append_contents(fd.as_fd(), b"", b"/", filter)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<(String, u8, u32)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    e.header().entry_type().as_byte(),
                    e.header().mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn upper_dir_becomes_an_oci_layer() {
        let d = tempfile::tempdir().unwrap();
        let up = d.path();
        std::fs::create_dir_all(up.join("etc")).unwrap();
        std::fs::write(up.join("etc/b"), b"bee").unwrap();
        std::fs::write(up.join("etc/a"), b"a").unwrap();
        std::fs::hard_link(up.join("etc/a"), up.join("etc/a2")).unwrap();
        std::os::unix::fs::symlink("/etc", up.join("lnk")).unwrap();
        rfs::mknodat(
            rfs::CWD,
            up.join("gone"),
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )
        .unwrap();
        std::fs::create_dir(up.join("opq")).unwrap();
        rfs::setxattr(up.join("opq"), OPAQUE_XATTR, b"y", rfs::XattrFlags::empty()).unwrap();
        let out = write_upper_layer(up, Vec::new(), &mut All).unwrap();
        let n = names(&out);
        let got: Vec<(&str, u8, u32)> = n.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
        assert_eq!(
            got,
            vec![
                ("etc/", b'5', 0o40755),
                ("etc/a", b'0', 0o100644),
                ("etc/a2", b'1', 0o100644),
                ("etc/b", b'0', 0o100644),
                (".wh.gone", b'0', 0o600),
                ("lnk", b'2', 0o120777),
                ("opq/", b'5', 0o40755),
                ("opq/.wh..wh..opq", b'0', 0o755),
            ]
        );
        // Same tree, same bytes.
        assert_eq!(out, write_upper_layer(up, Vec::new(), &mut All).unwrap());
        // An empty tree is the empty tar Docker recognises as no layer.
        let e = tempfile::tempdir().unwrap();
        let out = write_upper_layer(e.path(), Vec::new(), &mut All).unwrap();
        assert_eq!(out, vec![0u8; 1024]);
    }

    #[test]
    fn long_names_and_lazy_dirs() {
        let d = tempfile::tempdir().unwrap();
        let long = "x".repeat(120);
        std::fs::create_dir_all(d.path().join("keep").join(&long)).unwrap();
        std::fs::write(d.path().join("keep").join(&long).join("f"), b"1").unwrap();
        std::fs::create_dir_all(d.path().join("empty/sub")).unwrap();
        struct F;
        impl TreeFilter for F {
            fn visit(&mut self, p: &[u8], _: &Stat) -> Visit {
                if p.starts_with(b"/empty") || p == b"/keep" {
                    Visit::IfNonEmpty
                } else {
                    Visit::Include
                }
            }
        }
        let out = write_upper_layer(d.path(), Vec::new(), &mut F).unwrap();
        let n: Vec<String> = names(&out).into_iter().map(|x| x.0).collect();
        assert_eq!(
            n,
            vec![
                "keep/".to_string(),
                format!("keep/{long}/"),
                format!("keep/{long}/f")
            ]
        );
    }
}
