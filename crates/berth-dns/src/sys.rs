//! The few system calls std does not wrap: entering a network namespace on
//! a thread of our own, blocking signals, random query IDs.
#![allow(unsafe_code)] // setns(2), gettid(2), pthread_sigmask(3), getrandom(2)

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

/// Runs `f` on a new thread that has entered the network namespace at
/// `netns`, and returns once that thread is gone. Sockets `f` creates
/// belong to that namespace for good, whichever thread uses them later;
/// the caller's thread never changes namespace.
pub(crate) fn in_netns<T, F>(netns: &Path, f: F) -> io::Result<T>
where
    T: Send,
    F: FnOnce() -> io::Result<T> + Send,
{
    let ctx = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("enter network namespace {}: {e}", netns.display()),
        )
    };
    let ns = File::open(netns).map_err(ctx)?;
    let (tid, out) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            // SAFETY: ns is an open fd; setns changes only this thread.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return (tid, Err(ctx(io::Error::last_os_error())));
            }
            (tid, f())
        });
        match h.join() {
            Ok(r) => r,
            Err(_) => (0, Err(io::Error::other("namespace thread panicked"))),
        }
    });
    // The kernel wakes a joiner just before it unlists the exited thread;
    // wait until it is gone so the caller is as threaded as before.
    if tid > 0 {
        let task = format!("/proc/self/task/{tid}");
        for _ in 0..10_000 {
            if !Path::new(&task).exists() {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    out
}

/// Blocks every signal on the calling thread, so process-directed signals
/// (SIGCHLD, SIGTERM...) reach the host process's own thread: the monitor
/// reads them from a signalfd, which sees only signals no thread takes.
pub(crate) fn block_signals() {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set; pthread_sigmask reads it and
    // changes only this thread's mask.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut());
    }
}

/// A random 16-bit query ID for upstream queries (a predictable one would
/// make forged replies easy).
pub(crate) fn random_id() -> u16 {
    let mut b = [0u8; 2];
    // SAFETY: b is a writable 2-byte buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), libc::GRND_NONBLOCK) };
    if n == 2 {
        return u16::from_ne_bytes(b);
    }
    // No entropy yet (early boot): the clock's low bits will do.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (t ^ (t >> 16)) as u16
}
