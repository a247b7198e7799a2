//! Finding and removing a container's cgroups directly: one pass over
//! mountinfo instead of a runtime's per-controller discovery, which costs
//! milliseconds per controller on a cgroup v1 host.

use std::path::{Path, PathBuf};

/// Every cgroup hierarchy mounted on this host (v1 controllers, the v2
/// unified tree, and named v1 hierarchies).
pub fn hierarchies() -> Vec<PathBuf> {
    let Ok(m) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in m.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fstype = right.split(' ').next().unwrap_or("");
        if fstype == "cgroup" || fstype == "cgroup2" {
            if let Some(mp) = left.split(' ').nth(4) {
                let p = PathBuf::from(mp.replace("\\040", " "));
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// The directories of cgroup path `rel` (e.g. `/berth/<id>`) in every hierarchy.
pub fn dirs(rel: &str) -> Vec<PathBuf> {
    let rel = rel.trim_start_matches('/');
    hierarchies()
        .into_iter()
        .map(|h| h.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Kill whatever is left in the cgroup and remove it everywhere.
pub fn remove(rel: &str) -> std::io::Result<()> {
    let dirs = dirs(rel);
    for d in &dirs {
        kill_all(d);
    }
    let mut last = Ok(());
    for d in &dirs {
        for attempt in 0..50 {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if attempt < 49 && e.raw_os_error() == Some(libc::EBUSY) => {
                    kill_all(d);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => {
                    last = Err(e);
                    break;
                }
            }
        }
    }
    last
}

/// The pids in a cgroup directory.
pub fn pids(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn kill_all(dir: &Path) {
    for pid in pids(dir) {
        // SAFETY: sending SIGKILL to a process in the container's cgroup.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGKILL)
        };
    }
}

/// Start paying, in the background, the one slow step of starting a
/// container on this kind of host: the first write to any `cgroup.procs`
/// waits for an RCU grace period (the kernel's cgroup thread-group lock
/// switching to writer mode), ~10 ms on a small VM. A throwaway child
/// re-writes its own pid into its own cgroup, so the runtime's writes a
/// few milliseconds later find the lock already switched. The child is
/// reaped by whoever waits for children, or by init once the caller exits.
/// Only call from a single-threaded process.
pub fn warm_attach_lock() {
    let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
        return;
    };
    // Any hierarchy will do: the lock is global. Prefer memory (v1) or the
    // unified tree (v2).
    let target = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
        if ctrl.split(',').any(|c| c == "memory") {
            Some(format!("/sys/fs/cgroup/memory{path}/cgroup.procs"))
        } else {
            None
        }
    });
    let Some(target) = target.filter(|t| std::path::Path::new(t).exists()) else {
        return;
    };
    let Ok(c) = std::ffi::CString::new(target) else {
        return;
    };
    #[allow(unsafe_code)]
    // SAFETY: the caller is single-threaded; the child only makes raw
    // syscalls on a string prepared before the fork, then _exits.
    unsafe {
        if libc::fork() == 0 {
            let fd = libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                libc::write(fd, b"0".as_ptr().cast(), 1);
            }
            libc::_exit(0);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_this_hosts_hierarchies() {
        let h = super::hierarchies();
        assert!(h
            .iter()
            .all(|p| p.starts_with("/sys/fs/cgroup") || p.is_absolute()));
    }
}
