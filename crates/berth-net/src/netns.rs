//! Persistent network namespaces: a new namespace bind-mounted on a file,
//! as `ip netns add` makes it, so it outlives the thread that made it and
//! the engine can find it again by path (a container's runtime joins it by
//! that path).
//!
//! Namespaces are per thread: every operation that enters one does so on a
//! thread of its own, which ends with it, so the caller's thread never
//! changes namespace. Unlike `ip netns add`, the directory is not made a
//! shared mount: berth's processes all live in the host's mount namespace,
//! and a container's mount namespace drops the host's mounts at
//! `pivot_root`, so no copy of the bind mount pins a deleted namespace.
#![allow(unsafe_code)] // unshare(2), setns(2), mount(2), statfs(2)

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::{io_err, Error, Result};

/// `statfs` magic of nsfs, the filesystem of `/proc/*/ns/*` files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

fn cstr(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Invalid(format!("path {} contains a NUL byte", path.display())))
}

/// Whether `path` is a namespace file (a bind mount of one, here).
pub fn is_netns(path: &Path) -> bool {
    let Ok(c) = cstr(path) else { return false };
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: c is a valid C string; st is a writable statfs buffer.
    let rc = unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: statfs succeeded, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let ty = st.f_type as i64;
    ty == NSFS_MAGIC
}

/// Creates a new network namespace pinned on `path` (its parent directory
/// is created). Idempotent: a namespace already mounted there is kept.
/// The new namespace has only `lo`, down.
pub fn create(path: &Path) -> Result<()> {
    if is_netns(path) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(io_err(format!("create netns dir {}", dir.display())))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o444)
        .open(path)
        .map_err(io_err(format!("create netns file {}", path.display())))?;
    let target = cstr(path)?;
    // A thread of our own enters the new namespace and dies with it; the
    // bind mount is what keeps the namespace alive.
    let made = on_own_thread(|| -> io::Result<()> {
        // SAFETY: unshare affects only this thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let src = c"/proc/thread-self/ns/net";
        // SAFETY: both paths are valid C strings; a bind mount takes no data.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    });
    let made = match made {
        Ok(r) => r,
        Err(_) => Err(io::Error::other("namespace thread panicked")),
    };
    if let Err(e) = made {
        let _ = std::fs::remove_file(path);
        return Err(io_err(format!("create netns {}", path.display()))(e));
    }
    Ok(())
}

/// Deletes the namespace pinned on `path`: unmounts it and removes the
/// file. Idempotent: a missing file or one that is not mounted is fine.
/// The namespace itself dies with the last process or mount using it,
/// taking its interfaces (the container ends of veth pairs) along.
pub fn delete(path: &Path) -> Result<()> {
    let c = cstr(path)?;
    // SAFETY: c is a valid C string.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        let e = io::Error::last_os_error();
        // EINVAL: not a mount point; ENOENT: already gone.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
            return Err(io_err(format!("unmount netns {}", path.display()))(e));
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(format!("remove netns file {}", path.display()))(e)),
    }
}

/// Runs `f` on a new thread inside the namespace at `path` and returns its
/// result; the calling thread stays where it is. Sockets `f` creates keep
/// the namespace after `f` returns (a listener can be returned and used
/// from any thread). A panic in `f` is resumed on the caller.
pub fn run_in<T, F>(path: &Path, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let ns = File::open(path).map_err(io_err(format!("open netns {}", path.display())))?;
    let joined = on_own_thread(|| -> io::Result<T> {
        // SAFETY: ns is an open fd; setns changes only this thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(f())
    });
    match joined {
        Ok(r) => r.map_err(io_err(format!("enter netns {}", path.display()))),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `f` on a new thread and returns once that thread is gone from
/// `/proc/self/task`, not merely joined: the kernel wakes a joiner before
/// it unlists the exited thread (seen here about once in 2,000 joins), and
/// a caller that was single-threaded must be so again when this returns,
/// because libcontainer refuses to fork from a multi-threaded process.
fn on_own_thread<T: Send>(f: impl FnOnce() -> T + Send) -> std::thread::Result<T> {
    let (tid, out) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            (
                tid,
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)),
            )
        });
        match h.join() {
            Ok(r) => r,
            Err(p) => (0, Err(p)),
        }
    });
    if tid > 0 {
        let task = format!("/proc/self/task/{tid}");
        // Bounded: a thread that already returned is unlisted in microseconds.
        for _ in 0..10_000 {
            if !Path::new(&task).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }
    out
}

/// Names of the files in `dir` (the engine's netns directory), for a
/// sweep; a missing directory has none.
pub fn list(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(format!("read netns dir {}", dir.display()))(e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(io_err(format!("read netns dir {}", dir.display())))?;
        if let Some(n) = entry.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(names)
}
