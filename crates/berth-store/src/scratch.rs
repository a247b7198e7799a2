use std::path::{Path, PathBuf};

use crate::error::IoContext;
use crate::fsutil::new_name;
use crate::{remove_tree, Layout, LockMode, Result, StoreLock};

/// A private directory under `<root>/tmp` for one operation. It holds its
/// own flock for as long as it lives; a directory whose lock can be taken
/// belongs to a process that died, and [`Scratch::sweep`] removes it. Dropping
/// a `Scratch` removes the directory.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    _lock: StoreLock,
}

const LOCK_NAME: &str = ".owner.lock";
const STAGING_PREFIX: &str = ".new-";

impl Scratch {
    pub fn new(layout: &Layout, purpose: &str) -> Result<Self> {
        let name = format!("{purpose}-{}-{}", std::process::id(), new_name());
        let dir = layout.tmp_dir().join(&name);
        // Built under a staging name that sweepers leave alone, locked, then
        // renamed: a directory under its final name always has a held lock.
        let staging = layout.tmp_dir().join(format!("{STAGING_PREFIX}{name}"));
        std::fs::create_dir_all(&staging).ctx("create", &staging)?;
        let lock = StoreLock::acquire(&staging.join(LOCK_NAME), LockMode::Exclusive)?;
        std::fs::rename(&staging, &dir).ctx("rename", &dir)?;
        Ok(Scratch { dir, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Remove the tree at `dir` so that a crash at any instant leaves it
    /// either whole in place or gone: it is renamed into a new scratch dir
    /// (one rename, the commit point), then deleted. Should this process
    /// die while deleting, the scratch dir's lock dies with it and the next
    /// command's [`Scratch::sweep`] finishes the job. A missing `dir` is an
    /// error (the caller checked it exists, under its own lock).
    pub fn bury(layout: &Layout, dir: &Path, purpose: &str) -> Result<()> {
        let grave = Scratch::new(layout, purpose)?;
        let inside = grave.path().join("buried");
        std::fs::rename(dir, &inside).ctx("rename", dir)?;
        if let Some(parent) = dir.parent() {
            crate::fsync_dir(parent)?;
        }
        remove_tree(&inside)?;
        Ok(())
    }

    /// Remove scratch directories left by processes that were killed.
    pub fn sweep(layout: &Layout) -> Result<usize> {
        let tmp = layout.tmp_dir();
        let entries = match std::fs::read_dir(&tmp) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(crate::Error::io("read", &tmp, e)),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                // Stray temp files of atomic_write live beside their targets,
                // never here; anything else in tmp/ is ours to remove.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let lock_path = path.join(LOCK_NAME);
            let staging = entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX);
            // Never create a lock file here. A staging directory, or one
            // without a lock file, is abandoned once the process named in it
            // is gone, or else once it is a minute old.
            let dead = if !staging && lock_path.exists() {
                matches!(
                    StoreLock::try_acquire_existing(&lock_path, LockMode::Exclusive),
                    Ok(Some(_))
                )
            } else if owner_gone(&entry.file_name().to_string_lossy()) {
                true
            } else {
                let age = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                age > std::time::Duration::from_secs(60)
            };
            if dead {
                crate::fsutil::unmount_under(&path);
                // What cannot be removed now (an immutable file, a busy
                // mount) is retried by the next sweep; failing here would
                // make every command fail over leftover garbage.
                if remove_tree(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Scratch names end in `-<pid>-<random>`: true when that process no
/// longer exists (a process killed between making its staging dir and
/// renaming it). A reused pid only delays the sweep to the age rule.
fn owner_gone(name: &str) -> bool {
    let mut parts = name.rsplit('-');
    let _random = parts.next();
    match parts.next().and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) if pid > 0 => !Path::new(&format!("/proc/{pid}")).exists(),
        _ => false,
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        crate::fsutil::unmount_under(&self.dir);
        let _ = remove_tree(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_keeps_live_and_removes_dead() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path().join("root"), d.path().join("run"));
        layout.init().unwrap();
        let live = Scratch::new(&layout, "live").unwrap();
        let dead = layout.tmp_dir().join("dead-1-x");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join(LOCK_NAME), b"").unwrap();
        let staging = layout.tmp_dir().join(".new-staging-1-x");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join(LOCK_NAME), b"").unwrap();
        let newborn = layout.tmp_dir().join("newborn-1-x");
        std::fs::create_dir_all(&newborn).unwrap();
        assert_eq!(Scratch::sweep(&layout).unwrap(), 1);
        assert!(
            staging.exists(),
            "a young staging directory is being set up"
        );
        assert!(live.path().exists());
        assert!(!dead.exists());
        assert!(
            newborn.exists(),
            "a directory without its lock yet is not abandoned"
        );
        let p = live.path().to_path_buf();
        drop(live);
        assert!(!p.exists());
    }

    #[test]
    fn a_staging_dir_of_a_dead_process_is_swept_at_once() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path().join("root"), d.path().join("run"));
        layout.init().unwrap();
        // Killed between mkdir and rename: no lock, a pid that is gone.
        let dead = layout.tmp_dir().join(".new-load-4194303-0123456789ab");
        std::fs::create_dir_all(&dead).unwrap();
        let mine = layout
            .tmp_dir()
            .join(format!(".new-load-{}-0123456789ab", std::process::id()));
        std::fs::create_dir_all(&mine).unwrap();
        assert_eq!(Scratch::sweep(&layout).unwrap(), 1);
        assert!(!dead.exists());
        assert!(mine.exists(), "a live process's staging dir stays");
    }

    #[test]
    fn bury_removes_whole_trees_and_a_dead_grave_is_swept() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path().join("root"), d.path().join("run"));
        layout.init().unwrap();
        let victim = layout.volumes_dir().join("v");
        std::fs::create_dir_all(victim.join("a/b")).unwrap();
        std::fs::write(victim.join("a/b/f"), b"x").unwrap();
        Scratch::bury(&layout, &victim, "rm-test").unwrap();
        assert!(!victim.exists());
        assert_eq!(std::fs::read_dir(layout.tmp_dir()).unwrap().count(), 0);
        assert!(Scratch::bury(&layout, &victim, "rm-test").is_err());
        assert_eq!(std::fs::read_dir(layout.tmp_dir()).unwrap().count(), 0);

        // What a process killed mid-delete leaves: its grave, lock free.
        let grave = Scratch::new(&layout, "rm-test").unwrap();
        std::fs::create_dir_all(grave.path().join("buried/x")).unwrap();
        let left = grave.path().to_path_buf();
        std::mem::forget(grave);
        assert_eq!(Scratch::sweep(&layout).unwrap(), 0, "its owner lives");
        // The owner's lock fd is leaked above; a dead owner's lock is free.
        std::fs::remove_file(left.join(LOCK_NAME)).unwrap();
        std::fs::write(left.join(LOCK_NAME), b"").unwrap();
        assert_eq!(Scratch::sweep(&layout).unwrap(), 1);
        assert!(!left.exists());
    }
}
