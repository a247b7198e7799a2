use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::{flock, FlockOperation};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// An flock held until dropped. flock locks die with their process, so a
/// SIGKILLed berth never leaves the store locked.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub fn acquire(path: &Path, mode: LockMode) -> Result<Self> {
        let file = open(path)?;
        let op = match mode {
            LockMode::Shared => FlockOperation::LockShared,
            LockMode::Exclusive => FlockOperation::LockExclusive,
        };
        flock(&file, op).map_err(|e| Error::io("lock", path, e.into()))?;
        Ok(StoreLock { _file: file })
    }

    /// `Ok(None)` when another process holds a conflicting lock.
    pub fn try_acquire(path: &Path, mode: LockMode) -> Result<Option<Self>> {
        let file = open(path)?;
        Self::try_lock(file, path, mode)
    }

    /// Like [`StoreLock::try_acquire`] but never creates the lock file;
    /// `Ok(None)` also when it does not exist.
    pub fn try_acquire_existing(path: &Path, mode: LockMode) -> Result<Option<Self>> {
        let file = match OpenOptions::new().read(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", path, e)),
        };
        Self::try_lock(file, path, mode)
    }

    fn try_lock(file: File, path: &Path, mode: LockMode) -> Result<Option<Self>> {
        let op = match mode {
            LockMode::Shared => FlockOperation::NonBlockingLockShared,
            LockMode::Exclusive => FlockOperation::NonBlockingLockExclusive,
        };
        match flock(&file, op) {
            Ok(()) => Ok(Some(StoreLock { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(Error::io("lock", path, e.into())),
        }
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("open", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let a = StoreLock::acquire(&p, LockMode::Shared).unwrap();
        assert!(StoreLock::try_acquire(&p, LockMode::Shared)
            .unwrap()
            .is_some());
        assert!(StoreLock::try_acquire(&p, LockMode::Exclusive)
            .unwrap()
            .is_none());
        drop(a);
        assert!(StoreLock::try_acquire(&p, LockMode::Exclusive)
            .unwrap()
            .is_some());
    }
}
