//! Docker's copy-up: a new (empty) volume is filled from the image
//! directory it is mounted over, as dockerd 20.10 does it (checked against
//! a private dockerd, see `tests/volumes_copyup.rs`):
//!
//! - the destination is resolved inside the rootfs, symlinks included (the
//!   mount lands where they lead, so the copy comes from there); a missing
//!   directory copies nothing, anything but a directory is an error;
//! - regular files (content, sparse holes kept), directories, symlinks (never
//!   followed), device nodes and fifos; sockets are skipped;
//! - owner, mode with set-id and sticky bits, every xattr (`user.*`,
//!   `security.capability`, ...), access and modification times to the
//!   nanosecond; hardlinked files stay hardlinked;
//! - a directory gets its times *before* its children are created, so a
//!   non-empty directory ends up with the time of the copy (dockerd's
//!   order), an empty one with the image's;
//! - the volume root takes the image directory's owner, mode, xattrs, times.
//!
//! Everything is done through directory descriptors opened with
//! `O_NOFOLLOW`, and every entry is created exclusively: a symlink in the
//! image, or one planted in the volume by a running container sharing it,
//! can never make the copy read or write outside the rootfs or the volume.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, SeekFrom, Stat, XattrFlags,
};
use rustix::io::Errno;

use crate::{Error, ErrorKind, Result};

/// Fill `data` (a volume's `_data`) from `dest` of the container's mounted
/// `rootfs`, if `data` is empty; an existing volume's content is never
/// touched.
pub(super) fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> Result<()> {
    let root = rfs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail("open", rootfs, e))?;
    let rel = dest.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let src = match rfs::openat2(
        &root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        // Nothing in the image there: the runtime creates the mount point.
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(fail("open", &rootfs.join(rel), e)),
    };
    let st = rfs::fstat(&src).map_err(|e| fail("stat", &rootfs.join(rel), e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        // dockerd's wording, naming the path the symlinks led to.
        let shown = rfs::readlink(format!("/proc/self/fd/{}", src.as_raw_fd()), Vec::new())
            .map(|p| PathBuf::from(OsStr::from_bytes(p.as_bytes())))
            .unwrap_or_else(|_| rootfs.join(rel));
        return Err(Error::new(
            ErrorKind::Internal,
            format!("source {} is not directory", shown.display()),
        ));
    }
    let src = rfs::openat(
        &src,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail("open", &rootfs.join(rel), e))?;
    let dst = rfs::open(
        data,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail("open", data, e))?;
    let names = read_names(&dst).map_err(|e| fail("read", data, e))?;
    if !names.is_empty() {
        return Ok(());
    }
    let mut c = Copier {
        src_top: rootfs.join(rel),
        dst_top: data.to_path_buf(),
        dst_root: dst.try_clone().map_err(|e| fail_io("dup", data, e))?,
        links: HashMap::new(),
        kernel_copy: true,
    };
    c.dir(&src, &dst, &st, Path::new(""))
}

/// An OS error with the operation and path, in Go's words.
fn fail(op: &str, path: &Path, e: Errno) -> Error {
    fail_io(
        op,
        path,
        std::io::Error::from_raw_os_error(e.raw_os_error()),
    )
}

fn fail_io(op: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!(
            "{op} {}: {}",
            path.display(),
            berth_store::go_error_text(&e)
        ),
    )
}

/// The names in a directory (no `.`/`..`), sorted as Go's `ReadDir` returns
/// them.
fn read_names(dir: &OwnedFd) -> rustix::io::Result<Vec<CString>> {
    let mut d = rfs::Dir::read_from(dir)?;
    let mut names = Vec::new();
    while let Some(e) = d.read() {
        let e = e?;
        let n = e.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

struct Copier {
    src_top: PathBuf,
    dst_top: PathBuf,
    /// The volume root, for finding the first copy of a hardlinked file.
    dst_root: OwnedFd,
    /// (dev, ino) of multiply-linked source files -> their copy, relative
    /// to the volume root.
    links: HashMap<(u64, u64), PathBuf>,
    /// `copy_file_range` works between these filesystems (it does not
    /// across filesystems, e.g. from the overlay into the volume); once it
    /// fails, `sendfile` does the in-kernel copy instead.
    kernel_copy: bool,
}

impl Copier {
    /// Give `dst` the attributes of `st` (times first, as dockerd does),
    /// then copy every entry of `src` into it.
    fn dir(&mut self, src: &OwnedFd, dst: &OwnedFd, st: &Stat, rel: &Path) -> Result<()> {
        let dpath = self.dst_top.join(rel);
        rfs::fchown(
            dst,
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
        )
        .map_err(|e| fail("lchown", &dpath, e))?;
        rfs::fchmod(dst, perm(st)).map_err(|e| fail("chmod", &dpath, e))?;
        rfs::futimens(dst, &berth_image::unpack::stat_times(st))
            .map_err(|e| fail("utimes", &dpath, e))?;
        copy_xattrs_by_path(
            &proc_fd(src),
            &proc_fd(dst),
            &self.src_top.join(rel),
            &dpath,
        )?;
        let names = read_names(src).map_err(|e| fail("read", &self.src_top.join(rel), e))?;
        for name in names {
            let child = rel.join(OsStr::from_bytes(name.to_bytes()));
            self.entry(src, dst, &name, &child)?;
        }
        Ok(())
    }

    fn entry(&mut self, sdir: &OwnedFd, ddir: &OwnedFd, name: &CStr, rel: &Path) -> Result<()> {
        let spath = self.src_top.join(rel);
        let dpath = self.dst_top.join(rel);
        let st = rfs::statat(sdir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| fail("lstat", &spath, e))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let s = rfs::openat(
                    sdir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| fail("open", &spath, e))?;
                rfs::mkdirat(ddir, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| fail("mkdir", &dpath, e))?;
                let d = rfs::openat(
                    ddir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| fail("open", &dpath, e))?;
                self.dir(&s, &d, &st, rel)
            }
            FileType::RegularFile => self.file(sdir, ddir, name, &st, rel),
            FileType::Symlink => {
                let target = rfs::readlinkat(sdir, name, Vec::new())
                    .map_err(|e| fail("readlink", &spath, e))?;
                rfs::symlinkat(target.as_c_str(), ddir, name)
                    .map_err(|e| fail("symlink", &dpath, e))?;
                self.special_attrs(sdir, ddir, name, &st, rel, false)
            }
            ft @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                rfs::mknodat(ddir, name, ft, perm(&st), st.st_rdev as _)
                    .map_err(|e| fail("mknod", &dpath, e))?;
                self.special_attrs(sdir, ddir, name, &st, rel, true)
            }
            // Sockets: dockerd skips them too (and no image layer holds one).
            _ => Ok(()),
        }
    }

    fn file(
        &mut self,
        sdir: &OwnedFd,
        ddir: &OwnedFd,
        name: &CStr,
        st: &Stat,
        rel: &Path,
    ) -> Result<()> {
        let spath = self.src_top.join(rel);
        let dpath = self.dst_top.join(rel);
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key) {
                if self.link(first, ddir, name).is_ok() {
                    return Ok(());
                }
                // The first copy is gone (a container sharing the volume
                // removed it): a copy of its own is just as correct.
            }
        }
        // O_NONBLOCK: should the entry have become a fifo, never hang.
        let s = rfs::openat(
            sdir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| fail("open", &spath, e))?;
        let sst = rfs::fstat(&s).map_err(|e| fail("stat", &spath, e))?;
        if FileType::from_raw_mode(sst.st_mode) != FileType::RegularFile {
            return Err(fail("open", &spath, Errno::INVAL));
        }
        let d = rfs::openat(
            ddir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| fail("open", &dpath, e))?;
        self.data(&s, &d, sst.st_size as u64)
            .map_err(|e| fail("copy", &spath, e))?;
        rfs::fchown(
            &d,
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
        )
        .map_err(|e| fail("lchown", &dpath, e))?;
        // After chown, which clears set-id bits and file capabilities.
        rfs::fchmod(&d, perm(st)).map_err(|e| fail("chmod", &dpath, e))?;
        copy_xattrs_by_path(&proc_fd(&s), &proc_fd(&d), &spath, &dpath)?;
        rfs::futimens(&d, &berth_image::unpack::stat_times(st))
            .map_err(|e| fail("utimes", &dpath, e))?;
        if st.st_nlink > 1 {
            self.links.insert(key, rel.to_path_buf());
        }
        Ok(())
    }

    /// Hardlink the earlier copy `first` (relative to the volume root) as
    /// `name` in `ddir`; its parent is found without following symlinks.
    fn link(&self, first: &Path, ddir: &OwnedFd, name: &CStr) -> rustix::io::Result<()> {
        let parent = first.parent().unwrap_or(Path::new(""));
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let first_name = first.file_name().ok_or(Errno::INVAL)?;
        let pfd = rfs::openat2(
            &self.dst_root,
            parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
        )?;
        rfs::linkat(&pfd, first_name, ddir, name, AtFlags::empty())
    }

    /// Owner, mode, xattrs and times of a just-created symlink, device or
    /// fifo, through an `O_PATH` descriptor of the new entry itself.
    fn special_attrs(
        &self,
        sdir: &OwnedFd,
        ddir: &OwnedFd,
        name: &CStr,
        st: &Stat,
        rel: &Path,
        chmod: bool,
    ) -> Result<()> {
        let spath = self.src_top.join(rel);
        let dpath = self.dst_top.join(rel);
        let open = |dir: &OwnedFd, p: &Path| {
            rfs::openat(
                dir,
                name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| fail("open", p, e))
        };
        let s = open(sdir, &spath)?;
        let d = open(ddir, &dpath)?;
        rfs::chownat(
            &d,
            c"",
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
            AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| fail("lchown", &dpath, e))?;
        // `/proc/self/fd/N` leads to the entry itself, never past it.
        let dproc = proc_fd(&d);
        if chmod {
            rfs::chmod(&dproc, perm(st)).map_err(|e| fail("chmod", &dpath, e))?;
        }
        copy_xattrs_by_path(&proc_fd(&s), &dproc, &spath, &dpath)?;
        rfs::utimensat(
            rfs::CWD,
            &dproc,
            &berth_image::unpack::stat_times(st),
            AtFlags::empty(),
        )
        .map_err(|e| fail("utimes", &dpath, e))?;
        Ok(())
    }

    /// File data, hole for hole: only the ranges `SEEK_DATA` reports are
    /// copied, in the kernel (`copy_file_range`, else `sendfile`).
    fn data(&mut self, src: &OwnedFd, dst: &OwnedFd, size: u64) -> rustix::io::Result<()> {
        let mut pos = 0u64;
        while pos < size {
            let start = match rfs::seek(src, SeekFrom::Data(pos)) {
                Ok(s) => s,
                // Only a hole up to the end.
                Err(Errno::NXIO) => break,
                // No SEEK_DATA here: copy everything.
                Err(_) => {
                    self.range(src, dst, pos, size - pos)?;
                    pos = size;
                    break;
                }
            };
            let end = rfs::seek(src, SeekFrom::Hole(start))
                .unwrap_or(size)
                .min(size);
            if end <= start {
                break;
            }
            let copied = self.range(src, dst, start, end - start)?;
            pos = start + copied;
            if copied < end - start {
                // The file shrank while being read.
                break;
            }
        }
        // Trailing holes (and a file that shrank) get their size.
        rfs::ftruncate(dst, size.max(pos))
    }

    /// Copy `len` bytes at `off` to the same offset; returns what was copied.
    fn range(
        &mut self,
        src: &OwnedFd,
        dst: &OwnedFd,
        off: u64,
        len: u64,
    ) -> rustix::io::Result<u64> {
        const CHUNK: u64 = 1 << 30;
        let mut done = 0u64;
        while done < len {
            let want = (len - done).min(CHUNK) as usize;
            let mut i = off + done;
            let n = if self.kernel_copy {
                let mut o = i;
                match rfs::copy_file_range(src, Some(&mut i), dst, Some(&mut o), want) {
                    Ok(n) => n,
                    Err(
                        Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL | Errno::PERM,
                    ) if done == 0 => {
                        self.kernel_copy = false;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            } else {
                rfs::seek(dst, SeekFrom::Start(i))?;
                rfs::sendfile(dst, src, Some(&mut i), want)?
            };
            if n == 0 {
                break;
            }
            done += n as u64;
        }
        Ok(done)
    }
}

fn perm(st: &Stat) -> Mode {
    Mode::from_raw_mode(st.st_mode & 0o7777)
}

fn proc_fd(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Split a `listxattr` result into names.
fn xattr_names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|b| *b == 0).filter(|n| !n.is_empty())
}

/// Call `f` with a buffer grown until the value fits (`ERANGE` means it
/// grew between the size query and the read).
fn sized(
    query: impl Fn() -> rustix::io::Result<usize>,
    read: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    loop {
        let n = query()?;
        let mut buf = vec![0u8; n];
        match read(&mut buf) {
            Ok(got) => {
                buf.truncate(got);
                return Ok(buf);
            }
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Every xattr of one entry onto another, both named by `/proc/self/fd/N`
/// (which leads to the entry itself, symlinks, devices and fifos included,
/// so one way serves every kind).
fn copy_xattrs_by_path(src: &str, dst: &str, spath: &Path, dpath: &Path) -> Result<()> {
    let list = match sized(|| rfs::listxattr_query(src), |b| rfs::listxattr(src, b)) {
        Ok(l) => l,
        Err(Errno::OPNOTSUPP) => return Ok(()),
        Err(e) => return Err(fail("listxattr", spath, e)),
    };
    for name in xattr_names(&list) {
        let name = OsStr::from_bytes(name);
        let value = match sized(
            || rfs::getxattr_query(src, name),
            |b| rfs::getxattr(src, name, b),
        ) {
            Ok(v) => v,
            Err(Errno::NODATA) => continue,
            Err(e) => return Err(fail("getxattr", spath, e)),
        };
        rfs::setxattr(dst, name, &value, XattrFlags::empty())
            .map_err(|e| fail("setxattr", dpath, e))?;
    }
    Ok(())
}
