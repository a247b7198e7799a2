//! Content checksums of COPY sources for the build cache, after BuildKit's
//! `cache/contenthash`.
//!
//! Each file gets a digest over a tar-header-like record (type, permission
//! bits, uid, gid, size, link target, device numbers, xattrs) and its
//! content. The modification time is left out on purpose, like BuildKit's
//! "tarsum v1" header selection, so `touch` keeps the cache valid. A
//! directory source hashes the list of (relative path, digest) pairs of
//! everything under it that the ignore rules keep.
//!
//! Hashing every byte on every build is what makes big contexts slow, so
//! file digests are remembered in a stat cache (path hash, size, mtime,
//! ctime, inode, device, mode, owner → digest). An unchanged context then
//! costs one `lstat` per file. The digests are berth's own: they are stable across
//! berth builds but not byte-identical to BuildKit's.

use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::ignore::{self, PatternError};
use super::{Context, ContextError, Entry, FileKind, FileStat};

/// File name of the stat cache inside the caller's cache directory.
pub const STAT_CACHE_FILE: &str = "context-stat-cache.v2";

/// The previous format's file, removed when the new one is written.
const OLD_STAT_CACHE_FILE: &str = "context-stat-cache.v1";

const MAGIC: &[u8; 8] = b"BRTHSC02";

/// A file whose ctime is this close to the moment it was read could change
/// again within the same timestamp tick, so its hash is not remembered
/// (git's "racily clean" problem).
const RACY_MARGIN: Duration = Duration::from_millis(100);

/// More entries than this and records not used in this session are dropped
/// at save time, so the cache cannot grow without bound.
const MAX_RECORDS: usize = 1_000_000;

/// Why a checksum could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ChecksumError {
    /// A plain source path is missing or excluded (BuildKit's wording;
    /// the caller adds "failed to compute cache key: ...").
    #[error("\"/{0}\": not found")]
    NotFound(String),
    /// A wildcard matched nothing (the classic builder's wording).
    #[error("no source files were specified")]
    NoSourceFiles,
    #[error("invalid source pattern {pattern:?}: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: PatternError,
    },
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ChecksumError {
    let what = what.into();
    move |source| ChecksumError::Io { what, source }
}

/// Content hash and xattr hash of one file.
type Hashes = ([u8; 32], [u8; 32]);

/// What is remembered per file: the stat data it was hashed with (all of
/// it must match for the digest to be trusted; ctime moves on any content,
/// mode, owner or xattr change, even when mtime was reset by hand) and the
/// file's whole digest.
#[derive(Debug, Clone, Copy)]
struct Record {
    stat: FileStat,
    digest: [u8; 32],
    used: bool,
}

/// Records are keyed by a hash of the absolute path: fixed-size keys load
/// without an allocation per file, and a (vanishingly rare) collision can
/// only cost a rehash, since the inode, device and times must match too.
type Records = HashMap<u64, Record, BuildHasherDefault<KeyHasher>>;

/// The keys are hashes already; hashing them again is wasted work.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FNV-1a over the path, then a splitmix64 finish so every bit is mixed.
/// Stable across builds and Rust versions, unlike `DefaultHasher`.
fn path_key(path: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Computes source checksums and keeps the stat cache. Load once per build,
/// call [`Checksummer::checksum`] per COPY source, then [`Checksummer::save`].
#[derive(Debug)]
pub struct Checksummer {
    cache_file: PathBuf,
    records: Records,
    dirty: bool,
    threads: usize,
    /// Digests already computed in this build, by (context root, source):
    /// the context does not change during a build, so a source named by
    /// two COPY steps is walked once.
    memo: HashMap<(PathBuf, String), String>,
}

impl Checksummer {
    /// Loads the stat cache from `cache_dir`. A missing, truncated or
    /// corrupt cache file is not an error: everything is simply rehashed.
    pub fn open(cache_dir: &Path) -> Checksummer {
        let cache_file = cache_dir.join(STAT_CACHE_FILE);
        let records = fs::read(&cache_file)
            .ok()
            .and_then(|data| decode(&data))
            .unwrap_or_default();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Checksummer {
            cache_file,
            records,
            dirty: false,
            threads,
            memo: HashMap::new(),
        }
    }

    /// Caps the hashing threads (default: the number of cores).
    pub fn with_threads(mut self, threads: usize) -> Checksummer {
        self.threads = threads.max(1);
        self
    }

    /// Number of remembered file hashes.
    pub fn cached_files(&self) -> usize {
        self.records.len()
    }

    /// The digest (`sha256:<hex>`) of a COPY source: a context path, or a
    /// pattern with `*`, `?` or `[...]` (Go's `path.Match`, one path
    /// component per pattern component, relative to the context root).
    /// Ignored files do not count. A single plain file gives that file's
    /// digest; anything else a digest over the sorted (relative path,
    /// digest) list, paths taken from the non-wildcard part of the source.
    pub fn checksum(&mut self, ctx: &Context, src: &str) -> Result<String, ChecksumError> {
        let memo_key = (ctx.root().to_path_buf(), src.to_string());
        if let Some(d) = self.memo.get(&memo_key) {
            return Ok(d.clone());
        }
        let digest = self.compute(ctx, src)?;
        self.memo.insert(memo_key, digest.clone());
        Ok(digest)
    }

    fn compute(&mut self, ctx: &Context, src: &str) -> Result<String, ChecksumError> {
        let cleaned = ignore::clean(src.trim_start_matches('/'));
        let cleaned = if cleaned == "." {
            String::new()
        } else {
            cleaned
        };
        let mut items: Vec<(String, Entry)> = Vec::new();
        let single_file;
        if has_wildcards(&cleaned) {
            let (prefix, rest) = split_wildcards(&cleaned);
            let matches = self.resolve_wildcards(ctx, &prefix, &rest, &cleaned)?;
            if matches.is_empty() {
                return Err(ChecksumError::NoSourceFiles);
            }
            for m in matches {
                let key_prefix = m
                    .strip_prefix(prefix.as_str())
                    .unwrap_or(&m)
                    .trim_start_matches('/')
                    .to_string();
                let entries = match ctx.walk(&m) {
                    Ok(e) => e,
                    Err(ContextError::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                let base = ctx.resolve(&m, true)?;
                push_keyed(&mut items, &key_prefix, &base, entries);
            }
            if items.is_empty() {
                return Err(ChecksumError::NoSourceFiles);
            }
            single_file = false;
        } else {
            let entries = ctx.walk(&cleaned).map_err(|e| match e {
                ContextError::NotFound(p) => ChecksumError::NotFound(p),
                e => e.into(),
            })?;
            let base = ctx.resolve(&cleaned, true)?;
            single_file = entries.len() == 1 && entries[0].kind != FileKind::Dir;
            push_keyed(&mut items, "", &base, entries);
        }

        let digests = self.entry_digests(&items)?;
        if single_file {
            return Ok(format!("sha256:{}", hex(&digests[0])));
        }
        let mut h = Sha256::new();
        for ((key, _), d) in items.iter().zip(&digests) {
            h.update(key.as_bytes());
            h.update([0]);
            h.update(d);
        }
        Ok(format!("sha256:{}", hex(&h.finalize().into())))
    }

    /// Context paths matching `prefix/rest...`, component by component, in
    /// sorted order. Only real directories are descended (BuildKit follows
    /// symlinks in the fixed prefix only).
    fn resolve_wildcards(
        &self,
        ctx: &Context,
        prefix: &str,
        rest: &[String],
        whole: &str,
    ) -> Result<Vec<String>, ChecksumError> {
        let pattern_err = |source| ChecksumError::Pattern {
            pattern: whole.to_string(),
            source,
        };
        // Validate the whole pattern up front, as path.Match would.
        ignore::glob_match(whole, "").map_err(pattern_err)?;
        let start = ctx.resolve(prefix, true)?;
        let mut level: Vec<(String, String)> = vec![(prefix.to_string(), start)];
        for (i, part) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            let mut next = Vec::new();
            for (written, real) in &level {
                let dir = if real.is_empty() {
                    ctx.root().to_path_buf()
                } else {
                    ctx.root().join(real)
                };
                let Ok(listing) = fs::read_dir(&dir) else {
                    continue;
                };
                let mut names: Vec<String> = listing
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                for name in names {
                    if !ignore::glob_match(part, &name).map_err(pattern_err)? {
                        continue;
                    }
                    let join = |base: &str| {
                        if base.is_empty() {
                            name.clone()
                        } else {
                            format!("{base}/{name}")
                        }
                    };
                    let (w, r) = (join(written), join(real));
                    if !last {
                        let is_dir = ctx
                            .root()
                            .join(&r)
                            .symlink_metadata()
                            .is_ok_and(|m| m.is_dir());
                        if !is_dir {
                            continue;
                        }
                    }
                    next.push((w, r));
                }
            }
            level = next;
        }
        Ok(level.into_iter().map(|(w, _)| w).collect())
    }

    /// Per-entry digests, hashing content only where the stat cache misses.
    fn entry_digests(&mut self, items: &[(String, Entry)]) -> Result<Vec<[u8; 32]>, ChecksumError> {
        let mut digests: Vec<[u8; 32]> = Vec::with_capacity(items.len());
        let mut misses = Vec::new();
        for (i, (_, e)) in items.iter().enumerate() {
            if e.kind == FileKind::Dir {
                // Directories carry no content; their xattrs are read live.
                digests.push(header_digest(e, &[0; 32], &xattr_digest(&e.abs)?));
                continue;
            }
            match self.records.get_mut(&path_key(&e.abs)) {
                Some(r) if r.stat == e.stat => {
                    r.used = true;
                    digests.push(r.digest);
                }
                _ => {
                    digests.push([0; 32]);
                    misses.push(i);
                }
            }
        }
        if !misses.is_empty() {
            let started = SystemTime::now();
            let hashed = self.hash_parallel(items, &misses)?;
            let cutoff = started
                .checked_sub(RACY_MARGIN)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
            for (i, (content, xattrs)) in misses.iter().zip(hashed) {
                let e = &items[*i].1;
                let digest = header_digest(e, &content, &xattrs);
                digests[*i] = digest;
                if e.stat.ctime_ns < cutoff && e.stat.mtime_ns < cutoff {
                    self.records.insert(
                        path_key(&e.abs),
                        Record {
                            stat: e.stat,
                            digest,
                            used: true,
                        },
                    );
                    self.dirty = true;
                }
            }
        }
        Ok(digests)
    }

    /// Hashes the missed entries on up to `threads` threads.
    fn hash_parallel(
        &self,
        items: &[(String, Entry)],
        misses: &[usize],
    ) -> Result<Vec<Hashes>, ChecksumError> {
        let threads = self.threads.min(misses.len()).max(1);
        let next = AtomicUsize::new(0);
        let work = |_: usize| -> Result<Vec<(usize, Hashes)>, ChecksumError> {
            let mut done = Vec::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = misses.get(n) else {
                    return Ok(done);
                };
                let e = &items[i].1;
                let content = if e.kind == FileKind::Regular {
                    hash_file(&e.abs, &mut buf)?
                } else {
                    [0; 32]
                };
                done.push((n, (content, xattr_digest(&e.abs)?)));
            }
        };
        let mut out = vec![([0; 32], [0; 32]); misses.len()];
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (1..threads).map(|t| s.spawn(move || work(t))).collect();
            let mut results = vec![work(0)];
            for h in handles {
                results.push(h.join().unwrap_or_else(|_| {
                    Err(ChecksumError::Io {
                        what: "hashing thread".into(),
                        source: io::Error::other("panicked"),
                    })
                }));
            }
            results
        });
        for r in results {
            for (n, hashes) in r? {
                out[n] = hashes;
            }
        }
        Ok(out)
    }

    /// Writes the stat cache if it changed: to a temporary file next to it,
    /// then renamed over, so readers never see half a file.
    pub fn save(&mut self) -> Result<(), ChecksumError> {
        if !self.dirty {
            return Ok(());
        }
        if self.records.len() > MAX_RECORDS {
            self.records.retain(|_, r| r.used);
        }
        let dir = self.cache_file.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let data = encode(&self.records);
        // The old format's file is dead weight now.
        let _ = fs::remove_file(dir.join(OLD_STAT_CACHE_FILE));
        let tmp = dir.join(format!(".{STAT_CACHE_FILE}.{}.tmp", std::process::id()));
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&data)?;
            f.sync_data()?;
            fs::rename(&tmp, &self.cache_file)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(format!("writing {}", self.cache_file.display()))(e));
        }
        self.dirty = false;
        Ok(())
    }
}

/// Keys entries by `key_prefix` + their path below `base`.
fn push_keyed(items: &mut Vec<(String, Entry)>, key_prefix: &str, base: &str, entries: Vec<Entry>) {
    items.reserve(entries.len());
    for e in entries {
        let below = if base.is_empty() {
            e.path.as_str()
        } else if e.path == base {
            ""
        } else {
            e.path
                .strip_prefix(base)
                .and_then(|p| p.strip_prefix('/'))
                .unwrap_or(&e.path)
        };
        let key = match (key_prefix.is_empty(), below.is_empty()) {
            (true, _) => below.to_string(),
            (false, true) => key_prefix.to_string(),
            (false, false) => format!("{key_prefix}/{below}"),
        };
        items.push((key, e));
    }
}

/// Whether a source uses wildcards (BuildKit's test: an unescaped `*`, `?`
/// or `[`).
pub fn has_wildcards(src: &str) -> bool {
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' | b'?' | b'[' => return true,
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Splits at the first component with a wildcard.
fn split_wildcards(src: &str) -> (String, Vec<String>) {
    let mut prefix = Vec::new();
    let mut rest = Vec::new();
    for part in src.split('/').filter(|p| !p.is_empty()) {
        if rest.is_empty() && !has_wildcards(part) {
            prefix.push(part);
        } else {
            rest.push(part.to_string());
        }
    }
    (prefix.join("/"), rest)
}

fn hash_file(path: &Path, buf: &mut [u8]) -> Result<[u8; 32], ChecksumError> {
    let mut f = File::open(path).map_err(io_err(format!("failed to open {}", path.display())))?;
    let mut h = Sha256::new();
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(io_err(format!("failed to read {}", path.display()))(e));
            }
        };
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// Digest of the xattrs BuildKit's tarsum keeps: everything except
/// `security.*` (but `security.capability` counts) and `system.*`.
/// All zero when there are none or the filesystem has no xattrs.
fn xattr_digest(path: &Path) -> Result<[u8; 32], ChecksumError> {
    let mut names = vec![0u8; 1024];
    let len = loop {
        match rustix::fs::llistxattr(path, &mut names[..]) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => {
                let want = rustix::fs::llistxattr_query(path).unwrap_or(names.len() * 2);
                names.resize(want.max(names.len() * 2), 0);
            }
            Err(rustix::io::Errno::NOTSUP) | Err(rustix::io::Errno::NOENT) => return Ok([0; 32]),
            Err(e) => {
                return Err(io_err(format!("listing xattrs of {}", path.display()))(
                    e.into(),
                ));
            }
        }
    };
    if len == 0 {
        return Ok([0; 32]);
    }
    let mut keys: Vec<&[u8]> = names[..len]
        .split(|b| *b == 0)
        .filter(|k| !k.is_empty())
        .filter(|k| {
            *k == b"security.capability"
                || !(k.starts_with(b"security.") || k.starts_with(b"system."))
        })
        .collect();
    if keys.is_empty() {
        return Ok([0; 32]);
    }
    keys.sort();
    let mut h = Sha256::new();
    for k in keys {
        let name = std::ffi::OsStr::from_bytes(k);
        let mut value = vec![0u8; 256];
        let n = loop {
            match rustix::fs::lgetxattr(path, name, &mut value[..]) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) => {
                    let want = value.len() * 4;
                    value.resize(want, 0);
                }
                Err(_) => break usize::MAX,
            }
        };
        if n == usize::MAX {
            continue;
        }
        h.update(k);
        h.update([0]);
        h.update(&value[..n]);
        h.update([0]);
    }
    Ok(h.finalize().into())
}

use std::os::unix::ffi::OsStrExt;

/// The per-file digest: a header with the fields BuildKit's tarsum v1 keeps
/// (no name, no mtime), then the content hash.
fn header_digest(e: &Entry, content: &[u8; 32], xattrs: &[u8; 32]) -> [u8; 32] {
    let m = &e.stat;
    let (typeflag, size) = match e.kind {
        FileKind::Regular => (b'0', m.size),
        FileKind::Dir => (b'5', 0),
        FileKind::Symlink => (b'2', 0),
        FileKind::Fifo => (b'6', 0),
        FileKind::CharDevice => (b'3', 0),
        FileKind::BlockDevice => (b'4', 0),
    };
    // Symlink permissions mean nothing on Linux; BuildKit forces 0777.
    let mode = if e.kind == FileKind::Symlink {
        0o777
    } else {
        m.mode & 0o7777
    };
    let (major, minor) = match e.kind {
        FileKind::CharDevice | FileKind::BlockDevice => {
            (rustix::fs::major(m.rdev), rustix::fs::minor(m.rdev))
        }
        _ => (0, 0),
    };
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update(name.as_bytes());
        h.update(value);
        h.update([0]);
    };
    field("mode", mode.to_string().as_bytes());
    field("uid", m.uid.to_string().as_bytes());
    field("gid", m.gid.to_string().as_bytes());
    field("size", size.to_string().as_bytes());
    field("typeflag", &[typeflag]);
    let link = e
        .link_target
        .as_deref()
        .map(|l| l.as_os_str().as_encoded_bytes())
        .unwrap_or_default();
    field("linkname", link);
    field("devmajor", major.to_string().as_bytes());
    field("devminor", minor.to_string().as_bytes());
    field("xattrs", xattrs);
    field("content", content);
    h.finalize().into()
}

fn hex(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Key, nine stat fields, digest.
const RECORD_LEN: usize = 8 + 7 * 8 + 3 * 4 + 32;

fn encode(records: &Records) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + records.len() * RECORD_LEN + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    for (key, r) in records {
        let s = &r.stat;
        out.extend_from_slice(&key.to_le_bytes());
        for n in [
            s.size,
            s.mtime_ns as u64,
            s.ctime_ns as u64,
            s.ino,
            s.dev,
            s.rdev,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&0u64.to_le_bytes()); // reserved
        for n in [s.mode, s.uid, s.gid] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&r.digest);
    }
    let sum: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&sum);
    out
}

/// Parses a cache file; `None` for anything not exactly right.
fn decode(data: &[u8]) -> Option<Records> {
    let body_len = data.len().checked_sub(32)?;
    let (body, sum) = data.split_at(body_len);
    if body.get(..8)? != MAGIC || Sha256::digest(body).as_slice() != sum {
        return None;
    }
    let mut cur = Cursor { data: body, pos: 8 };
    let count = usize::try_from(cur.u64()?).ok()?;
    if count.checked_mul(RECORD_LEN)? != body.len() - 16 {
        return None;
    }
    let mut records = Records::with_capacity_and_hasher(count, Default::default());
    for _ in 0..count {
        let key = cur.u64()?;
        let (size, mtime_ns, ctime_ns) = (cur.u64()?, cur.u64()? as i64, cur.u64()? as i64);
        let (ino, dev, rdev, _reserved) = (cur.u64()?, cur.u64()?, cur.u64()?, cur.u64()?);
        let (mode, uid, gid) = (cur.u32()?, cur.u32()?, cur.u32()?);
        let stat = FileStat {
            mode,
            uid,
            gid,
            size,
            mtime_ns,
            ctime_ns,
            ino,
            dev,
            rdev,
        };
        let digest = cur.take(32)?.try_into().ok()?;
        records.insert(
            key,
            Record {
                stat,
                digest,
                used: false,
            },
        );
    }
    (cur.pos == body.len()).then_some(records)
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::time::Instant;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "Dockerfile", "FROM scratch\n");
        write(r, ".dockerignore", "**/*.log\nsecret\n");
        write(r, "src/a.rs", "a");
        write(r, "src/b.rs", "b");
        write(r, "src/sub/c.rs", "c");
        write(r, "src/x.log", "noise");
        write(r, "README.md", "hi");
        write(r, "docs/README.md", "docs");
        write(r, "secret", "pw");
        symlink("src", r.join("srclink")).unwrap();
        dir
    }

    fn sum(ctx: &Context, cache: &Path, src: &str) -> String {
        Checksummer::open(cache).checksum(ctx, src).unwrap()
    }

    #[test]
    fn content_and_metadata_count_but_mtime_does_not() {
        let dir = project();
        let cache = tempfile::tempdir().unwrap();
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        let before = sum(&ctx, cache.path(), "src");
        let file_before = sum(&ctx, cache.path(), "src/a.rs");
        assert_ne!(before, file_before);

        // touch: same digest.
        let f = File::options()
            .write(true)
            .open(dir.path().join("src/a.rs"))
            .unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(sum(&ctx, cache.path(), "src"), before);
        assert_eq!(sum(&ctx, cache.path(), "src/a.rs"), file_before);

        // An ignored file does not count.
        write(dir.path(), "src/y.log", "more noise");
        assert_eq!(sum(&ctx, cache.path(), "src"), before);

        // Content, mode, a new file, a rename: all change it.
        write(dir.path(), "src/a.rs", "A");
        let changed = sum(&ctx, cache.path(), "src");
        assert_ne!(changed, before);
        fs::set_permissions(
            dir.path().join("src/b.rs"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let chmod = sum(&ctx, cache.path(), "src");
        assert_ne!(chmod, changed);
        fs::rename(dir.path().join("src/b.rs"), dir.path().join("src/bb.rs")).unwrap();
        assert_ne!(sum(&ctx, cache.path(), "src"), chmod);
    }

    #[test]
    fn symlinks_hash_their_target_text() {
        let dir = project();
        let cache = tempfile::tempdir().unwrap();
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        // A top-level symlink source is followed (COPY follows it).
        assert_eq!(
            sum(&ctx, cache.path(), "srclink"),
            sum(&ctx, cache.path(), "src")
        );
        symlink("a.rs", dir.path().join("src/l")).unwrap();
        let one = sum(&ctx, cache.path(), "src");
        fs::remove_file(dir.path().join("src/l")).unwrap();
        symlink("b.rs", dir.path().join("src/l")).unwrap();
        assert_ne!(sum(&ctx, cache.path(), "src"), one);
    }

    #[test]
    fn wildcards_follow_path_match() {
        let dir = project();
        let cache = tempfile::tempdir().unwrap();
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        let rs = sum(&ctx, cache.path(), "src/*.rs");
        assert_eq!(sum(&ctx, cache.path(), "/src/?.rs"), rs);
        assert_eq!(sum(&ctx, cache.path(), "src/[ab].rs"), rs);
        assert_ne!(sum(&ctx, cache.path(), "src/[a].rs"), rs);
        // `*` stays inside one component: src/sub/c.rs is not matched.
        write(dir.path(), "src/sub/d.rs", "d");
        assert_eq!(sum(&ctx, cache.path(), "src/*.rs"), rs);
        // A matched directory brings its whole tree.
        let both = sum(&ctx, cache.path(), "*/README.md");
        assert_ne!(both, sum(&ctx, cache.path(), "docs/README.md"));
        // Ignored files never match.
        let mut c = Checksummer::open(cache.path());
        assert!(matches!(
            c.checksum(&ctx, "secre?"),
            Err(ChecksumError::NoSourceFiles)
        ));
        assert_eq!(
            c.checksum(&ctx, "nothing*").unwrap_err().to_string(),
            "no source files were specified"
        );
        assert_eq!(
            c.checksum(&ctx, "secret").unwrap_err().to_string(),
            "\"/secret\": not found"
        );
        assert_eq!(
            c.checksum(&ctx, "missing/file").unwrap_err().to_string(),
            "\"/missing/file\": not found"
        );
        assert!(matches!(
            c.checksum(&ctx, "src/[").unwrap_err(),
            ChecksumError::Pattern { .. }
        ));
    }

    #[test]
    fn stat_cache_survives_and_tolerates_corruption() {
        let dir = project();
        let cache = tempfile::tempdir().unwrap();
        // Files younger than the racy margin are not remembered.
        std::thread::sleep(RACY_MARGIN + Duration::from_millis(50));
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        let mut c = Checksummer::open(cache.path());
        let first = c.checksum(&ctx, ".").unwrap();
        c.save().unwrap();
        let c2 = Checksummer::open(cache.path());
        assert!(c2.cached_files() >= 5, "{}", c2.cached_files());

        // A cached but edited file (same size, mtime put back) is rehashed
        // because its ctime moved.
        let p = dir.path().join("src/a.rs");
        let old = fs::metadata(&p).unwrap().modified().unwrap();
        fs::write(&p, "Z").unwrap();
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut c3 = Checksummer::open(cache.path());
        assert_ne!(c3.checksum(&ctx, ".").unwrap(), first);

        for junk in [&b""[..], b"BRTHSC01garbage", &[0u8; 100]] {
            fs::write(cache.path().join(STAT_CACHE_FILE), junk).unwrap();
            let mut c = Checksummer::open(cache.path());
            assert_eq!(c.cached_files(), 0);
            c.checksum(&ctx, ".").unwrap();
            c.save().unwrap();
        }
        // Truncation of a valid file is caught too.
        let data = fs::read(cache.path().join(STAT_CACHE_FILE)).unwrap();
        fs::write(cache.path().join(STAT_CACHE_FILE), &data[..data.len() - 7]).unwrap();
        assert_eq!(Checksummer::open(cache.path()).cached_files(), 0);
    }

    #[test]
    fn wildcard_detection() {
        assert!(has_wildcards("a/*.rs"));
        assert!(has_wildcards("a?"));
        assert!(has_wildcards("[ab]"));
        assert!(!has_wildcards("a\\*b"));
        assert!(!has_wildcards("plain/path"));
        assert_eq!(
            split_wildcards("a/b/*/c"),
            ("a/b".to_string(), vec!["*".to_string(), "c".to_string()])
        );
    }

    /// Process CPU time (all threads): wall time on this shared machine is
    /// mostly other people's work.
    fn cpu() -> Duration {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }

    /// Cold vs warm checksum of a generated context. Point
    /// `BERTH_BENCH_CONTEXT` at a directory made by
    /// `/work/shared/bench/builds/gen-context.sh` (20,000 files, ~200 MB)
    /// and run with `--ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_cold_and_warm() {
        let Ok(dir) = std::env::var("BERTH_BENCH_CONTEXT") else {
            eprintln!("BERTH_BENCH_CONTEXT not set");
            return;
        };
        let cache = tempfile::tempdir().unwrap();
        let ctx = Context::from_dir(Path::new(&dir), None).unwrap();
        let timed = |what: &str, f: &mut dyn FnMut()| {
            let (w, c) = (Instant::now(), cpu());
            f();
            eprintln!("{what}: wall {:?}, cpu {:?}", w.elapsed(), cpu() - c);
        };
        let mut n = 0;
        let walks: usize = std::env::var("BERTH_BENCH_WALKS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        for _ in 0..walks {
            timed("walk only", &mut || n = ctx.walk("").unwrap().len());
        }
        eprintln!("  ({n} entries)");

        let mut cold = String::new();
        timed("cold (hash + save)", &mut || {
            let mut c = Checksummer::open(cache.path());
            cold = c.checksum(&ctx, ".").unwrap();
            c.save().unwrap();
        });
        for _ in 0..5 {
            timed("warm (load + lstat + save)", &mut || {
                let mut c = Checksummer::open(cache.path());
                assert_eq!(c.checksum(&ctx, ".").unwrap(), cold);
                c.save().unwrap();
            });
        }
        let mut c = None;
        timed("  of which load", &mut || {
            c = Some(Checksummer::open(cache.path()))
        });
        let mut c = c.unwrap();
        timed("  of which checksum", &mut || {
            assert_eq!(c.checksum(&ctx, ".").unwrap(), cold);
        });
    }
}
