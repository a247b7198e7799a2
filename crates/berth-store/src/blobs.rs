//! The content store: immutable blobs named by their sha256 digest.
//!
//! A blob enters through [`Ingest`]: bytes are hashed while they are written
//! to a scratch file, and only a file whose digest is known (and matches the
//! expected one, when given) is renamed into `content/blobs/sha256/`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::IoContext;
use crate::{Digest, DigestWriter, Error, Layout, Result};

/// A blob being written. Dropping it without [`Ingest::commit`] discards it.
pub struct Ingest {
    path: PathBuf,
    writer: Option<DigestWriter<BufWriter<File>>>,
}

impl Ingest {
    /// Start writing a blob into `dir` (a scratch directory on the store's
    /// filesystem).
    pub fn new(dir: &Path) -> Result<Self> {
        let path = dir.join(format!("ingest-{}", crate::fsutil::new_name()));
        let f = File::create(&path).ctx("create", &path)?;
        Ok(Ingest {
            path,
            writer: Some(DigestWriter::new(BufWriter::with_capacity(256 * 1024, f))),
        })
    }

    pub fn size(&self) -> u64 {
        self.writer.as_ref().map(|w| w.size()).unwrap_or(0)
    }

    /// Finish writing; returns the digest and size, leaving the file in the
    /// scratch directory until [`Ingested::commit`].
    pub fn finish(mut self) -> Result<Ingested> {
        let Some(w) = self.writer.take() else {
            return Err(Error::io(
                "finish",
                &self.path,
                std::io::Error::other("ingest already finished"),
            ));
        };
        let (buf, digest, size) = w.finish();
        let file = buf
            .into_inner()
            .map_err(|e| Error::io("write", &self.path, e.into_error()))?;
        file.sync_data().ctx("fsync", &self.path)?;
        Ok(Ingested {
            path: std::mem::take(&mut self.path),
            digest,
            size,
        })
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("ingest already finished")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A fully written, hashed blob still outside the store.
#[derive(Debug)]
pub struct Ingested {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
}

impl Ingested {
    /// Move the blob into the content store. If the store already has it the
    /// scratch copy is dropped: content addressing makes them identical.
    pub fn commit(self, layout: &Layout, expected: Option<&Digest>) -> Result<Digest> {
        if let Some(exp) = expected {
            if exp != &self.digest {
                let _ = fs::remove_file(&self.path);
                return Err(Error::DigestMismatch {
                    expected: exp.to_string(),
                    actual: self.digest.to_string(),
                });
            }
        }
        let dest = layout.blob(&self.digest);
        if dest.exists() {
            let _ = fs::remove_file(&self.path);
        } else {
            fs::rename(&self.path, &dest).ctx("rename", &dest)?;
        }
        Ok(self.digest)
    }
}

/// Store bytes already in memory (configs, manifests).
pub fn put_bytes(layout: &Layout, bytes: &[u8]) -> Result<Digest> {
    let d = Digest::of(bytes);
    let dest = layout.blob(&d);
    if !dest.exists() {
        crate::atomic_write(&dest, bytes)?;
    }
    Ok(d)
}

pub fn exists(layout: &Layout, d: &Digest) -> bool {
    layout.blob(d).exists()
}

pub fn open(layout: &Layout, d: &Digest) -> Result<File> {
    let p = layout.blob(d);
    File::open(&p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::BlobNotFound(d.to_string())
        } else {
            Error::io("open", p, e)
        }
    })
}

pub fn read(layout: &Layout, d: &Digest) -> Result<Vec<u8>> {
    let p = layout.blob(d);
    fs::read(&p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::BlobNotFound(d.to_string())
        } else {
            Error::io("read", p, e)
        }
    })
}

pub fn size(layout: &Layout, d: &Digest) -> Result<u64> {
    let p = layout.blob(d);
    fs::metadata(&p).map(|m| m.len()).ctx("stat", &p)
}

/// Every digest in the store, for garbage collection and checks.
pub fn list(layout: &Layout) -> Result<Vec<Digest>> {
    let dir = layout.blobs_dir();
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).ctx("read", &dir)?.flatten() {
        if let Some(name) = e.file_name().to_str() {
            if let Ok(d) = Digest::from_hex(name) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

pub fn delete(layout: &Layout, d: &Digest) -> Result<()> {
    let p = layout.blob(d);
    match fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", p, e)),
    }
}

/// Re-hash a stored blob; used by the store check.
pub fn verify(layout: &Layout, d: &Digest) -> Result<()> {
    let mut f = open(layout, d)?;
    let mut w = DigestWriter::new(std::io::sink());
    std::io::copy(&mut f, &mut w).ctx("read", &layout.blob(d))?;
    let (_, actual, _) = w.finish();
    if &actual != d {
        return Err(Error::DigestMismatch {
            expected: d.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scratch;

    #[test]
    fn ingest_commit_and_mismatch() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path().join("root"), d.path().join("run"));
        layout.init().unwrap();
        let s = Scratch::new(&layout, "t").unwrap();
        let mut i = Ingest::new(s.path()).unwrap();
        i.write_all(b"data").unwrap();
        let done = i.finish().unwrap();
        let dg = done.commit(&layout, None).unwrap();
        assert_eq!(read(&layout, &dg).unwrap(), b"data");
        verify(&layout, &dg).unwrap();

        let mut i = Ingest::new(s.path()).unwrap();
        i.write_all(b"other").unwrap();
        let err = i.finish().unwrap().commit(&layout, Some(&dg)).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }));
        assert_eq!(list(&layout).unwrap(), vec![dg]);
    }
}
