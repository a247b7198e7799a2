//! What `COPY` and `ADD` do to the filesystem, with the rules of BuildKit's
//! file op as Docker 20.10 runs it (dockerfile2llb + fsutil `copy`).
//!
//! The builder mounts the parent image with a fresh upper dir and passes the
//! merged tree as `dest_root`; the upper dir then becomes the layer. For
//! `--link`, BuildKit copies into scratch and merges the result on top: pass
//! an empty directory as `dest_root` and the parent rootfs as
//! [`CopyRequest::users_root`] (for `--chown` names).
//!
//! Rules (each checked against Docker 20.10 where marked in the tests):
//! - dest is joined to WORKDIR when relative; it names a directory when it is
//!   `.`, empty or ends in `/`. Several sources without a trailing `/` are
//!   copied one after another onto the same path, as BuildKit does.
//! - Missing parents of the destination are created 0755, owned by the
//!   `--chown` user or root; `--chmod` does not apply to them.
//! - A directory source copies its contents; the top directory, when it
//!   must be created, is made like a missing parent (0755). Existing
//!   directories met at the top are left alone; below, they take the
//!   source's metadata.
//! - A file source onto an existing directory keeps its name inside it.
//! - Everything copied keeps its mode bits, mtime/atime and xattrs; owner is
//!   0:0 for the build context, the source's owner for `--from`, the
//!   `--chown` user when given. Symlinks are copied as symlinks, except a
//!   source named on the instruction, which is followed (inside
//!   `src_root`). Hard links within one source stay hard links.
//! - Source paths are clamped to `src_root` (`../x` is `/x`); every write is
//!   resolved with `openat2(RESOLVE_IN_ROOT)` below `dest_root`, so no
//!   symlink, planted before or during the copy, leads out of it.
//! - ADD extracts local tar archives (plain, gzip, bzip2, xz, zstd, detected
//!   by content) into the destination directory, keeping the owners in the
//!   archive; anything else is copied.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use berth_image::unpack::{open_in_root, Ownership, UnpackOptions};
use rustix::fs::{self as rfs, AtFlags, FileType, Gid, Mode, OFlags, Stat, Uid};
use rustix::io::Errno;

/// One `COPY`/`ADD` instruction, after variable expansion and flag parsing.
pub struct CopyRequest<'a> {
    /// The context directory, or another stage's or image's rootfs (`--from`).
    pub src_root: &'a Path,
    /// `.dockerignore`: false for a path (relative to `src_root`) that is not
    /// in the context. False for a directory skips all below it, so the
    /// caller answers true for directories that re-include something.
    pub include: &'a dyn Fn(&Path) -> bool,
    /// `--exclude`: true for a path (relative to the source being copied)
    /// to leave out; true for a directory leaves out all below it.
    pub exclude: &'a dyn Fn(&Path) -> bool,
    /// Sources as written; wildcards allowed.
    pub sources: &'a [String],
    pub dest: &'a str,
    /// The image's WORKDIR, for a relative `dest`.
    pub workdir: &'a str,
    /// `--chown=user[:group]`, names looked up in the destination's files.
    pub chown: Option<&'a str>,
    /// `--chmod`: octal up to 07777 or symbolic (`u+x,go-w`) as BuildKit
    /// accepts since dockerfile 1.10.
    pub chmod: Option<&'a str>,
    /// Keep the owners of `src_root` (`--from`); false maps all to 0:0, as
    /// BuildKit does for the build context.
    pub keep_owner: bool,
    /// ADD: extract local archives; refuse URLs.
    pub add: bool,
    /// `ADD --checksum`: only meaningful for remote sources, which berth
    /// does not fetch.
    pub checksum: Option<&'a str>,
    /// `COPY --parents`: not in Docker 20.10's frontend.
    pub parents: bool,
    /// Where `/etc/passwd` and `/etc/group` are read for `--chown` names;
    /// `None` is `dest_root`. Set it for `--link`.
    pub users_root: Option<&'a Path>,
}

fn include_all(_: &Path) -> bool {
    true
}

fn exclude_none(_: &Path) -> bool {
    false
}

impl<'a> CopyRequest<'a> {
    /// A plain `COPY sources dest` from the context with WORKDIR `/`.
    pub fn new(src_root: &'a Path, sources: &'a [String], dest: &'a str) -> Self {
        CopyRequest {
            src_root,
            include: &include_all,
            exclude: &exclude_none,
            sources,
            dest,
            workdir: "/",
            chown: None,
            chmod: None,
            keep_owner: false,
            add: false,
            checksum: None,
            parents: false,
            users_root: None,
        }
    }
}

/// What a copy wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CopyStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Content bytes of regular files copied.
    pub bytes: u64,
    /// Files whose content was shared with `FICLONE` rather than copied.
    pub reflinked: u64,
    /// Archives extracted by ADD.
    pub archives: u64,
}

/// Errors, worded as Docker 20.10 prints them (paths are shown inside the
/// rootfs rather than on the host).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A named source is not in the context (or not in the `--from` tree).
    #[error("failed to compute cache key: \"{0}\" not found: not found")]
    NotFound(String),
    #[error("source can't be a URL for COPY")]
    UrlForCopy,
    /// berth builds offline: remote ADD sources are refused.
    #[error("failed to fetch {0}: berth does not download ADD sources")]
    Url(String),
    #[error("checksum can't be specified for COPY")]
    ChecksumForCopy,
    #[error("checksum requires HTTP(S) or Git sources")]
    ChecksumLocal,
    #[error("invalid chmod parameter: '{0}'. it should be octal string and between 0 and 07777")]
    ChmodOctal(String),
    #[error("invalid mode: {0}")]
    ChmodSymbolic(String),
    /// A flag the Docker 20.10 frontend does not know.
    #[error("Unknown flag: {0}")]
    UnknownFlag(&'static str),
    #[error("cannot replace to directory {0} with file")]
    ReplaceDirWithFile(String),
    #[error("cannot copy to non-directory: {0}")]
    NotADirectory(String),
    /// A failed system call, as Go prints a `*PathError`: `op path: reason`.
    #[error("{op} {path}: {}", berth_store::go_error_text(.source))]
    Io {
        op: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("{0}")]
    Archive(String),
}

type Result<T> = std::result::Result<T, CopyError>;

fn io_err(op: &'static str, path: impl Into<String>, e: impl Into<io::Error>) -> CopyError {
    CopyError::Io {
        op,
        path: path.into(),
        source: e.into(),
    }
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Clean components of a path: `.` and empty vanish, `..` stops at the root.
type Comps = Vec<OsString>;

fn clean(p: &OsStr) -> Comps {
    let mut out: Comps = Vec::new();
    for c in p.as_bytes().split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(OsStr::from_bytes(c).to_owned()),
        }
    }
    out
}

fn rel_bytes(comps: &[OsString]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            v.push(b'/');
        }
        v.extend_from_slice(c.as_bytes());
    }
    v
}

fn display(comps: &[OsString]) -> String {
    format!("/{}", String::from_utf8_lossy(&rel_bytes(comps)))
}

fn rel_path(comps: &[OsString]) -> PathBuf {
    comps.iter().collect()
}

const DIR_RO: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

fn open_dir(root: BorrowedFd<'_>, comps: &[OsString]) -> io::Result<OwnedFd> {
    open_in_root(root, &rel_bytes(comps), DIR_RO)
}

fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<Stat>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
        Err(e) => Err(errno_io(e)),
    }
}

fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Resolve `comps` below `root` the way continuity's `fs.RootPath` does:
/// symlinks are followed with `/` meaning `root` and `..` clamped at it;
/// from the first missing component on, the rest is kept as written.
fn root_path(root: BorrowedFd<'_>, comps: &[OsString]) -> io::Result<Comps> {
    let mut out: Comps = Vec::new();
    let mut rest: VecDeque<OsString> = comps.iter().cloned().collect();
    let mut links = 0;
    while let Some(c) = rest.pop_front() {
        if c == ".." {
            out.pop();
            continue;
        }
        let dir = match open_in_root(root, &rel_bytes(&out), DIR_RO) {
            Ok(d) => d,
            Err(e)
                if e.raw_os_error() == Some(Errno::NOENT.raw_os_error())
                    || e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) =>
            {
                out.push(c);
                out.extend(rest);
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        match lstat_at(dir.as_fd(), &c)? {
            Some(st) if file_type(&st) == FileType::Symlink => {
                links += 1;
                if links > 255 {
                    return Err(errno_io(Errno::LOOP));
                }
                let target = rfs::readlinkat(dir.as_fd(), c.as_os_str(), Vec::new())
                    .map_err(errno_io)?
                    .into_bytes();
                if target.starts_with(b"/") {
                    out.clear();
                }
                for t in target.split(|b| *b == b'/').rev() {
                    if !t.is_empty() && t != b"." {
                        rest.push_front(OsStr::from_bytes(t).to_owned());
                    }
                }
            }
            Some(_) => out.push(c),
            None => {
                out.push(c);
                out.extend(rest);
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// The owner given to what is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Fixed(u32, u32),
    Keep,
}

/// `--chown` as BuildKit resolves it: numbers (and `root`) are ids; a user
/// name takes its uid and primary gid from `/etc/passwd`, a group name its
/// gid from `/etc/group`. A name with no entry means id 0 — BuildKit's
/// behaviour, not an error — but a missing file is an error.
fn resolve_chown(spec: &str, users_root: &Path) -> Result<(u32, u32)> {
    fn id(s: &str) -> Option<u32> {
        if s == "root" {
            return Some(0);
        }
        s.parse::<i32>().ok().map(|v| v as u32)
    }
    let root = rfs::open(users_root, DIR_RO, Mode::empty())
        .map_err(|e| io_err("open", users_root.display().to_string(), errno_io(e)))?;
    let read = |name: &str| -> Result<Vec<u8>> {
        let rel = name.trim_start_matches('/');
        let fd = open_in_root(
            root.as_fd(),
            rel.as_bytes(),
            OFlags::RDONLY | OFlags::CLOEXEC,
        )
        .map_err(|e| io_err("open", name, e))?;
        let mut buf = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut buf)
            .map_err(|e| io_err("read", name, e))?;
        Ok(buf)
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, mut gid) = match id(user) {
        Some(n) => (n, n),
        None => {
            let passwd = berth_runtime::process::parse_passwd(&read("/etc/passwd")?);
            passwd
                .iter()
                .find(|p| p.name == user)
                .map(|p| (p.uid, p.gid))
                .unwrap_or((0, 0))
        }
    };
    if let Some(g) = group {
        match id(g) {
            Some(n) => gid = n,
            None => {
                let groups = berth_runtime::process::parse_group(&read("/etc/group")?);
                if let Some(e) = groups.iter().find(|e| e.name == g) {
                    gid = e.gid;
                }
            }
        }
    }
    Ok((uid, gid))
}

/// `--chmod`: an octal mode replaces the bits; a symbolic one edits each
/// file's own mode, as `chmod` does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ModeSpec {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    who: u32,
    ops: Vec<(u8, Perm)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Perm {
    Bits { bits: u32, x_if_exec: bool },
    CopyFrom(u8),
}

fn parse_chmod(s: &str) -> Result<ModeSpec> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match u32::from_str_radix(s, 8) {
            Ok(v) if v <= 0o7777 => Ok(ModeSpec::Octal(v)),
            _ => Err(CopyError::ChmodOctal(s.to_string())),
        };
    }
    let bad = || CopyError::ChmodSymbolic(s.to_string());
    let mut clauses = Vec::new();
    for part in s.split(',') {
        let b = part.as_bytes();
        let mut i = 0;
        let mut who = 0u32;
        while i < b.len() && b"ugoa".contains(&b[i]) {
            who |= match b[i] {
                b'u' => 0o4700,
                b'g' => 0o2070,
                b'o' => 0o1007,
                _ => 0o7777,
            };
            i += 1;
        }
        let mut ops = Vec::new();
        while i < b.len() {
            let op = b[i];
            if !b"+-=".contains(&op) {
                return Err(bad());
            }
            i += 1;
            if i < b.len() && b"ugo".contains(&b[i]) {
                ops.push((op, Perm::CopyFrom(b[i])));
                i += 1;
                continue;
            }
            let mut bits = 0;
            let mut x_if_exec = false;
            while i < b.len() && b"rwxXst".contains(&b[i]) {
                bits |= match b[i] {
                    b'r' => 0o444,
                    b'w' => 0o222,
                    b'x' => 0o111,
                    b's' => 0o6000,
                    b't' => 0o1000,
                    _ => {
                        x_if_exec = true;
                        0
                    }
                };
                i += 1;
            }
            ops.push((op, Perm::Bits { bits, x_if_exec }));
        }
        if ops.is_empty() {
            return Err(bad());
        }
        clauses.push(Clause { who, ops });
    }
    Ok(ModeSpec::Symbolic(clauses))
}

impl ModeSpec {
    fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let clauses = match self {
            ModeSpec::Octal(v) => return *v,
            ModeSpec::Symbolic(c) => c,
        };
        let mut m = mode & 0o7777;
        for c in clauses {
            let who = if c.who == 0 { 0o7777 } else { c.who };
            for (op, perm) in &c.ops {
                let bits = match perm {
                    Perm::Bits { bits, x_if_exec } => {
                        let mut b = *bits;
                        if *x_if_exec && (is_dir || m & 0o111 != 0) {
                            b |= 0o111;
                        }
                        b & who
                    }
                    Perm::CopyFrom(from) => {
                        let class = match from {
                            b'u' => (m >> 6) & 7,
                            b'g' => (m >> 3) & 7,
                            _ => m & 7,
                        };
                        (class << 6 | class << 3 | class) & who & 0o777
                    }
                };
                match op {
                    b'+' => m |= bits,
                    b'-' => m &= !bits,
                    _ => m = (m & !(who & 0o777)) | bits,
                }
            }
        }
        m
    }
}

/// Go's `filepath.Match` on one name: `*` and `?` never match `/`.
fn go_match(pattern: &[u8], name: &[u8]) -> bool {
    fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, length consumed incl. ']').
        let mut i = 0;
        let negate = p.first() == Some(&b'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let mut lo = *p.get(i)?;
            if lo == b']' && !first {
                i += 1;
                break;
            }
            first = false;
            if lo == b'\\' {
                i += 1;
                lo = *p.get(i)?;
            }
            i += 1;
            let mut hi = lo;
            if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|b| *b != b']') {
                i += 1;
                hi = *p.get(i)?;
                if hi == b'\\' {
                    i += 1;
                    hi = *p.get(i)?;
                }
                i += 1;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
        }
        Some((matched != negate, i))
    }
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                b'?' if name[n] != b'/' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' if name[n] != b'/' => {
                    if let Some((true, len)) = class(&pattern[p + 1..], name[n]) {
                        p += 1 + len;
                        n += 1;
                        continue;
                    }
                }
                b'\\' if pattern.get(p + 1) == Some(&name[n]) => {
                    p += 2;
                    n += 1;
                    continue;
                }
                c if c != b'?' && c != b'[' && c != b'\\' && c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) if name[sn] != b'/' => {
                star = Some((sp, sn + 1));
                p = sp + 1;
                n = sn + 1;
            }
            _ => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

fn has_wildcard(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Apply one COPY/ADD to the tree at `dest_root`.
pub fn copy(req: &CopyRequest, dest_root: &Path) -> Result<CopyStats> {
    if req.parents {
        return Err(CopyError::UnknownFlag("parents"));
    }
    if let Some(_sum) = req.checksum {
        if !req.add {
            return Err(CopyError::ChecksumForCopy);
        }
        if !req.sources.iter().any(|s| is_url(s)) {
            return Err(CopyError::ChecksumLocal);
        }
    }
    for s in req.sources {
        if is_url(s) {
            return Err(if req.add {
                CopyError::Url(format!("{s:?}"))
            } else {
                CopyError::UrlForCopy
            });
        }
    }
    let mode = req.chmod.map(parse_chmod).transpose()?;
    let owner = match req.chown {
        Some(spec) => {
            let (u, g) = resolve_chown(spec, req.users_root.unwrap_or(dest_root))?;
            Some((u, g))
        }
        None => None,
    };
    let open_root = |p: &Path| {
        rfs::open(p, DIR_RO.difference(OFlags::NOFOLLOW), Mode::empty())
            .map_err(|e| io_err("open", p.display().to_string(), errno_io(e)))
    };
    let mut c = Copier {
        src_root: open_root(req.src_root)?,
        dest_root: open_root(dest_root)?,
        include: req.include,
        exclude: req.exclude,
        mode,
        owner: match (owner, req.keep_owner) {
            (Some((u, g)), _) => Owner::Fixed(u, g),
            (None, true) => Owner::Keep,
            (None, false) => Owner::Fixed(0, 0),
        },
        parent_owner: owner,
        inodes: HashMap::new(),
        stats: CopyStats::default(),
        buf: Vec::new(),
        try_clone: true,
    };

    // dockerfile2llb: relative to WORKDIR; a directory when `.`, empty or
    // ending in `/`.
    let joined = if req.dest.starts_with('/') {
        req.dest.to_string()
    } else {
        format!("{}/{}", req.workdir, req.dest)
    };
    let dest_comps = clean(OsStr::new(&joined));
    let dest_is_dir = req.dest.is_empty() || req.dest == "." || req.dest.ends_with('/');

    for src in req.sources {
        let comps = clean(OsStr::new(src));
        for matched in c.expand(&comps)? {
            // Hard links are kept within one source, as each is its own
            // fsutil copy.
            c.inodes.clear();
            c.copy_source(&matched, &dest_comps, dest_is_dir, req.add)?;
        }
    }
    Ok(c.stats)
}

struct Copier<'a> {
    src_root: OwnedFd,
    dest_root: OwnedFd,
    include: &'a dyn Fn(&Path) -> bool,
    exclude: &'a dyn Fn(&Path) -> bool,
    mode: Option<ModeSpec>,
    owner: Owner,
    /// Owner of created destination parents: the `--chown` user, else the
    /// process (root).
    parent_owner: Option<(u32, u32)>,
    /// First destination of each multiply-linked source inode.
    inodes: HashMap<(u64, u64), Comps>,
    stats: CopyStats,
    buf: Vec<u8>,
    /// FICLONE is worth trying until the filesystem says it cannot.
    try_clone: bool,
}

impl Copier<'_> {
    /// A source as written to the sources it names: itself, or for a
    /// wildcard the matches in walk order (none is fine, as in BuildKit).
    fn expand(&self, comps: &[OsString]) -> Result<Vec<Comps>> {
        let Some(w) = comps.iter().position(|c| has_wildcard(c.as_bytes())) else {
            return Ok(vec![comps.to_vec()]);
        };
        let base = root_path(self.src_root.as_fd(), &comps[..w])
            .map_err(|e| io_err("lstat", display(&comps[..w]), e))?;
        let pattern = rel_bytes(&comps[w..]);
        let depth = comps.len() - w;
        let mut out = Vec::new();
        let Ok(dir) = open_dir(self.src_root.as_fd(), &base) else {
            return Ok(out);
        };
        if !(self.include)(&rel_path(&base)) && !base.is_empty() {
            return Ok(out);
        }
        let mut rel: Comps = Vec::new();
        self.walk_matches(&dir, &base, &mut rel, &pattern, depth, &mut out)?;
        Ok(out)
    }

    fn walk_matches(
        &self,
        dir: &OwnedFd,
        base: &[OsString],
        rel: &mut Comps,
        pattern: &[u8],
        depth: usize,
        out: &mut Vec<Comps>,
    ) -> Result<()> {
        for name in read_dir_sorted(dir).map_err(|e| io_err("open", display(base), e))? {
            rel.push(name.clone());
            let full: Comps = base.iter().chain(rel.iter()).cloned().collect();
            if (self.include)(&rel_path(&full)) {
                let st =
                    lstat_at(dir.as_fd(), &name).map_err(|e| io_err("lstat", display(&full), e))?;
                let is_dir = st
                    .as_ref()
                    .is_some_and(|s| file_type(s) == FileType::Directory);
                if go_match(pattern, &rel_bytes(rel)) {
                    out.push(full);
                } else if is_dir && rel.len() < depth {
                    let sub = rfs::openat(dir, name.as_os_str(), DIR_RO, Mode::empty())
                        .map_err(|e| io_err("open", display(&full), errno_io(e)))?;
                    self.walk_matches(&sub, base, rel, pattern, depth, out)?;
                }
            }
            rel.pop();
        }
        Ok(())
    }

    /// Create missing directories of `comps` (already resolved) 0755, owned
    /// by the `--chown` user when there is one.
    fn mkdir_all(&mut self, comps: &[OsString]) -> Result<()> {
        if let Ok(fd) = open_dir(self.dest_root.as_fd(), comps) {
            drop(fd);
            return Ok(());
        }
        let mut dir = open_dir(self.dest_root.as_fd(), &[]).map_err(|e| io_err("open", "/", e))?;
        for i in 0..comps.len() {
            let name = comps[i].as_os_str();
            let shown = || display(&comps[..=i]);
            match lstat_at(dir.as_fd(), name).map_err(|e| io_err("lstat", shown(), e))? {
                Some(st) if file_type(&st) == FileType::Directory => {}
                Some(_) => return Err(io_err("mkdir", shown(), errno_io(Errno::NOTDIR))),
                None => {
                    match rfs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(io_err("mkdir", shown(), errno_io(e))),
                    }
                    if let Some((u, g)) = self.parent_owner {
                        rfs::chownat(
                            &dir,
                            name,
                            Some(Uid::from_raw(u)),
                            Some(Gid::from_raw(g)),
                            AtFlags::SYMLINK_NOFOLLOW,
                        )
                        .map_err(|e| io_err("lchown", shown(), errno_io(e)))?;
                    }
                }
            }
            dir = rfs::openat(&dir, name, DIR_RO, Mode::empty())
                .map_err(|e| io_err("mkdir", shown(), errno_io(e)))?;
        }
        Ok(())
    }

    /// fsutil's `Copy` for one source with `CopyDirContents` and
    /// `FollowLinks`, or ADD's extraction when the source is an archive.
    fn copy_source(
        &mut self,
        src: &[OsString],
        dest: &[OsString],
        dest_is_dir: bool,
        add: bool,
    ) -> Result<()> {
        let resolved =
            root_path(self.src_root.as_fd(), src).map_err(|e| io_err("lstat", display(src), e))?;
        let not_found = || CopyError::NotFound(display(&resolved));
        if !resolved.is_empty() && !(self.include)(&rel_path(&resolved)) {
            return Err(not_found());
        }
        let (src_parent, src_name) = match self.open_parent(&self.src_root, &resolved) {
            Err(CopyError::Io { source, .. })
                if source.raw_os_error() == Some(Errno::NOENT.raw_os_error())
                    || source.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) =>
            {
                return Err(not_found())
            }
            r => r?,
        };
        let src_st = lstat_at(src_parent.as_fd(), &src_name)
            .map_err(|e| io_err("lstat", display(&resolved), e))?
            .ok_or_else(not_found)?;
        let src_is_dir = file_type(&src_st) == FileType::Directory;

        if add && file_type(&src_st) == FileType::RegularFile && is_archive(&src_parent, &src_name)
        {
            return self.unpack(&src_parent, &src_name, dest);
        }

        // The directory that must exist before anything else.
        let ensure = if dest_is_dir || dest.is_empty() {
            dest
        } else {
            &dest[..dest.len() - 1]
        };
        let ensure = root_path(self.dest_root.as_fd(), ensure)
            .map_err(|e| io_err("lstat", display(ensure), e))?;
        self.mkdir_all(&ensure)?;

        let mut dst = root_path(self.dest_root.as_fd(), dest)
            .map_err(|e| io_err("lstat", display(dest), e))?;
        let dst_st = {
            let (p, n) = self.open_parent(&self.dest_root, &dst)?;
            lstat_at(p.as_fd(), &n).map_err(|e| io_err("lstat", display(&dst), e))?
        };
        let dst_exists_dir = dst_st.as_ref().map(|s| file_type(s) == FileType::Directory);
        if !src_is_dir && dst_exists_dir == Some(true) {
            if let Some(base) = src.last() {
                dst.push(base.clone());
            }
        }
        let target = if src_is_dir && dst_exists_dir.is_none() {
            dst.clone()
        } else {
            dst[..dst.len().saturating_sub(1)].to_vec()
        };
        self.mkdir_all(&target)?;

        let (dst_parent, dst_name) = self.open_parent(&self.dest_root, &dst)?;
        let src_rel = resolved.clone();
        let mut excl: Comps = Vec::new();
        let mut dst_comps = dst.clone();
        self.copy_entry(
            &src_parent,
            &src_name,
            &src_st,
            &src_rel,
            &mut excl,
            &dst_parent,
            &dst_name,
            &mut dst_comps,
            false,
        )
    }

    /// The directory holding `comps` and the last name (`.` for the root).
    fn open_parent(&self, root: &OwnedFd, comps: &[OsString]) -> Result<(OwnedFd, OsString)> {
        let (parent, name) = match comps.split_last() {
            Some((n, p)) => (p, n.clone()),
            None => (comps, OsString::from(".")),
        };
        let fd = open_dir(root.as_fd(), parent).map_err(|e| io_err("open", display(parent), e))?;
        Ok((fd, name))
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_entry(
        &mut self,
        src_dir: &OwnedFd,
        src_name: &OsStr,
        st: &Stat,
        src_rel: &[OsString],
        excl: &mut Comps,
        dst_dir: &OwnedFd,
        dst_name: &OsStr,
        dst: &mut Comps,
        overwrite_meta: bool,
    ) -> Result<()> {
        let shown = display(dst);
        let ft = file_type(st);
        if ft == FileType::Directory {
            let existing = lstat_at(dst_dir.as_fd(), dst_name)
                .map_err(|e| io_err("lstat", shown.clone(), e))?;
            let created = match existing {
                None => {
                    rfs::mkdirat(dst_dir, dst_name, Mode::from_raw_mode(0o700))
                        .map_err(|e| io_err("mkdir", shown.clone(), errno_io(e)))?;
                    self.stats.dirs += 1;
                    true
                }
                Some(e) if file_type(&e) == FileType::Directory => false,
                Some(_) => return Err(CopyError::NotADirectory(shown)),
            };
            let sdir = rfs::openat(src_dir, src_name, DIR_RO, Mode::empty())
                .map_err(|e| io_err("open", display(src_rel), errno_io(e)))?;
            let ddir = rfs::openat(dst_dir, dst_name, DIR_RO, Mode::empty())
                .map_err(|e| io_err("open", shown.clone(), errno_io(e)))?;
            if overwrite_meta || created {
                // The source's times first, so that writing entries into
                // it then moves them on, as in Docker 20.10's BuildKit: a
                // directory that got entries shows the copy's time, one
                // that stayed empty its own.
                rfs::futimens(&ddir, &berth_image::unpack::stat_times(st))
                    .map_err(|e| io_err("chtimes", shown.clone(), errno_io(e)))?;
            }
            let names = read_dir_sorted(&sdir).map_err(|e| io_err("open", display(src_rel), e))?;
            for name in names {
                let mut child_rel = src_rel.to_vec();
                child_rel.push(name.clone());
                if !(self.include)(&rel_path(&child_rel)) {
                    continue;
                }
                excl.push(name.clone());
                if (self.exclude)(&rel_path(excl)) {
                    excl.pop();
                    continue;
                }
                let cst = lstat_at(sdir.as_fd(), &name)
                    .map_err(|e| io_err("lstat", display(&child_rel), e))?;
                if let Some(cst) = cst {
                    dst.push(name.clone());
                    let r = self.copy_entry(
                        &sdir, &name, &cst, &child_rel, excl, &ddir, &name, dst, true,
                    );
                    dst.pop();
                    r?;
                }
                excl.pop();
            }
            if overwrite_meta || created {
                self.set_meta(&ddir, st, true, &sdir)
                    .map_err(|e| io_err("chmod", shown, e))?;
            }
            return Ok(());
        }

        // Anything but a directory replaces what is there, unless that is a
        // directory.
        match lstat_at(dst_dir.as_fd(), dst_name).map_err(|e| io_err("lstat", shown.clone(), e))? {
            Some(e) if file_type(&e) == FileType::Directory => {
                return Err(CopyError::ReplaceDirWithFile(shown))
            }
            Some(_) => rfs::unlinkat(dst_dir, dst_name, AtFlags::empty())
                .map_err(|e| io_err("remove", shown.clone(), errno_io(e)))?,
            None => {}
        }

        match ft {
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.inodes.get(&key).cloned() {
                        let (fdir, fname) = self.open_parent(&self.dest_root, &first)?;
                        rfs::linkat(&fdir, &fname, dst_dir, dst_name, AtFlags::empty())
                            .map_err(|e| io_err("link", shown, errno_io(e)))?;
                        self.stats.hardlinks += 1;
                        return Ok(());
                    }
                    self.inodes.insert(key, dst.clone());
                }
                let sf = rfs::openat(
                    src_dir,
                    src_name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io_err("open", display(src_rel), errno_io(e)))?;
                let df = rfs::openat(
                    dst_dir,
                    dst_name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| io_err("open", shown.clone(), errno_io(e)))?;
                self.copy_data(&sf, &df, st.st_size as u64)
                    .map_err(|e| io_err("copy", shown.clone(), e))?;
                self.set_meta(&df, st, false, &sf)
                    .map_err(|e| io_err("chmod", shown, e))?;
                self.stats.files += 1;
            }
            FileType::Symlink => {
                let target = rfs::readlinkat(src_dir, src_name, Vec::new())
                    .map_err(|e| io_err("readlink", display(src_rel), errno_io(e)))?;
                rfs::symlinkat(target.as_c_str(), dst_dir, dst_name)
                    .map_err(|e| io_err("symlink", shown.clone(), errno_io(e)))?;
                self.set_meta_at(dst_dir, dst_name, st, false)
                    .map_err(|e| io_err("lchown", shown, e))?;
                self.stats.symlinks += 1;
            }
            FileType::CharacterDevice
            | FileType::BlockDevice
            | FileType::Fifo
            | FileType::Socket => {
                rfs::mknodat(
                    dst_dir,
                    dst_name,
                    ft,
                    Mode::from_raw_mode(st.st_mode & 0o7777),
                    st.st_rdev,
                )
                .map_err(|e| io_err("mknod", shown.clone(), errno_io(e)))?;
                self.set_meta_at(dst_dir, dst_name, st, true)
                    .map_err(|e| io_err("chmod", shown, e))?;
                self.stats.files += 1;
            }
            _ => {}
        }
        Ok(())
    }

    fn owner_of(&self, st: &Stat) -> (u32, u32) {
        match self.owner {
            Owner::Fixed(u, g) => (u, g),
            Owner::Keep => (st.st_uid, st.st_gid),
        }
    }

    fn mode_of(&self, st: &Stat, is_dir: bool) -> u32 {
        match &self.mode {
            Some(m) => m.apply(st.st_mode, is_dir),
            None => st.st_mode & 0o7777,
        }
    }

    /// Owner, mode, times and xattrs of `st` onto the open `fd`. Owner
    /// first: chown clears set-id bits that chmod then restores.
    fn set_meta(&self, fd: &OwnedFd, st: &Stat, is_dir: bool, src: &OwnedFd) -> io::Result<()> {
        let (u, g) = self.owner_of(st);
        rfs::fchown(fd, Some(Uid::from_raw(u)), Some(Gid::from_raw(g))).map_err(errno_io)?;
        rfs::fchmod(fd, Mode::from_raw_mode(self.mode_of(st, is_dir))).map_err(errno_io)?;
        copy_xattrs(src, fd);
        if is_dir {
            // Times were set before the entries were written (copy_entry).
            return Ok(());
        }
        rfs::futimens(fd, &berth_image::unpack::stat_times(st)).map_err(errno_io)
    }

    /// The same for entries that are not opened (symlinks, devices).
    fn set_meta_at(&self, dir: &OwnedFd, name: &OsStr, st: &Stat, chmod: bool) -> io::Result<()> {
        let (u, g) = self.owner_of(st);
        rfs::chownat(
            dir,
            name,
            Some(Uid::from_raw(u)),
            Some(Gid::from_raw(g)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(errno_io)?;
        if chmod {
            rfs::chmodat(
                dir,
                name,
                Mode::from_raw_mode(self.mode_of(st, false)),
                AtFlags::empty(),
            )
            .map_err(errno_io)?;
        }
        rfs::utimensat(
            dir,
            name,
            &berth_image::unpack::stat_times(st),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(errno_io)
    }

    /// Share the extents when the filesystem can (FICLONE), else let the
    /// kernel copy (copy_file_range), else read and write.
    fn copy_data(&mut self, src: &OwnedFd, dst: &OwnedFd, size: u64) -> io::Result<()> {
        self.stats.bytes += size;
        if size == 0 {
            return Ok(());
        }
        if self.try_clone {
            match rfs::ioctl_ficlone(dst, src) {
                Ok(()) => {
                    self.stats.reflinked += 1;
                    return Ok(());
                }
                // The filesystem cannot share extents: stop asking.
                Err(Errno::OPNOTSUPP | Errno::XDEV | Errno::NOTTY | Errno::INVAL) => {
                    self.try_clone = false
                }
                Err(_) => {}
            }
        }
        let mut done = 0u64;
        loop {
            let want = (size.saturating_sub(done)).clamp(1 << 20, 1 << 30) as usize;
            match rfs::copy_file_range(src, None, dst, None, want) {
                Ok(0) => return Ok(()),
                Ok(n) => done += n as u64,
                Err(Errno::INTR) => {}
                Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL | Errno::PERM)
                    if done == 0 =>
                {
                    break
                }
                Err(e) => return Err(errno_io(e)),
            }
        }
        if self.buf.is_empty() {
            self.buf = vec![0u8; 1 << 20];
        }
        let mut r = std::fs::File::from(src.try_clone()?);
        let mut w = std::fs::File::from(dst.try_clone()?);
        loop {
            let n = match r.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            w.write_all(&self.buf[..n])?;
        }
    }

    /// ADD of a local archive: extract into the destination directory with
    /// the owners in the archive (the `--chown` user only owns the created
    /// parents), as Docker's `chrootarchive.Untar`.
    fn unpack(&mut self, src_dir: &OwnedFd, src_name: &OsStr, dest: &[OsString]) -> Result<()> {
        let dest = root_path(self.dest_root.as_fd(), dest)
            .map_err(|e| io_err("lstat", display(dest), e))?;
        self.mkdir_all(&dest)?;
        let f = rfs::openat(
            src_dir,
            src_name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("open", src_name.to_string_lossy().into_owned(), errno_io(e)))?;
        let (_, reader) = berth_image::compress::decompress(std::fs::File::from(f))
            .map_err(|e| CopyError::Archive(e.to_string()))?;
        let opts = UnpackOptions {
            whiteouts: false,
            ownership: Ownership::FromHeader,
            no_overwrite_dir_non_dir: false,
            check_symlinks: true,
            base: dest.iter().map(|c| c.as_bytes().to_vec()).collect(),
            dest_display: display(&dest),
        };
        let (st, _) = berth_image::unpack::unpack_into(reader, self.dest_root.as_fd(), opts)
            .map_err(|e| CopyError::Archive(e.to_string()))?;
        self.stats.archives += 1;
        self.stats.files += st.entries;
        self.stats.bytes += st.size;
        Ok(())
    }
}

/// Extended attributes (capabilities, SELinux labels...) travel with the
/// file; like BuildKit, a failure to copy one is not fatal.
fn copy_xattrs(src: &OwnedFd, dst: &OwnedFd) {
    let mut names = vec![0u8; 4096];
    let n = match rfs::flistxattr(src, &mut names[..]) {
        Ok(n) => n,
        Err(Errno::RANGE) => match rfs::flistxattr_query(src) {
            Ok(len) => {
                names.resize(len, 0);
                match rfs::flistxattr(src, &mut names[..]) {
                    Ok(n) => n,
                    Err(_) => return,
                }
            }
            Err(_) => return,
        },
        Err(_) => return,
    };
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let name = OsStr::from_bytes(name);
        let Ok(len) = rfs::fgetxattr_query(src, name) else {
            continue;
        };
        let mut val = vec![0u8; len];
        if let Ok(n) = rfs::fgetxattr(src, name, &mut val[..]) {
            let _ = rfs::fsetxattr(dst, name, &val[..n], rfs::XattrFlags::empty());
        }
    }
}

/// The names in a directory, sorted as Go's `ReadDir` returns them.
fn read_dir_sorted(dir: &OwnedFd) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    let mut d = rfs::Dir::read_from(dir).map_err(errno_io)?;
    while let Some(e) = d.read() {
        let e = e.map_err(errno_io)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsString::from_vec(n.to_vec()));
        }
    }
    names.sort();
    Ok(names)
}

/// Docker's test for ADD: a regular file whose (decompressed) start reads
/// as a tar header.
fn is_archive(dir: &OwnedFd, name: &OsStr) -> bool {
    let Ok(f) = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    let Ok((_, reader)) = berth_image::compress::decompress(std::fs::File::from(f)) else {
        return false;
    };
    let mut archive = tar::Archive::new(reader);
    let Ok(mut entries) = archive.entries() else {
        return false;
    };
    matches!(entries.next(), Some(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{Timespec, Timestamps};
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    fn write(root: &Path, rel: &str, data: &str, mode: u32) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn set_mtime(p: &Path, secs: i64) {
        let t = Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        };
        rfs::utimensat(
            rfs::CWD,
            p,
            &Timestamps {
                last_access: t,
                last_modification: t,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }

    fn meta(p: &Path) -> fs::Metadata {
        fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn mode(p: &Path) -> u32 {
        meta(p).mode() & 0o7777
    }

    /// The context most tests copy from: mirrors the one used against
    /// Docker 20.10 (see the module docs).
    fn context() -> tempfile::TempDir {
        let ctx = tempfile::tempdir().unwrap();
        let c = ctx.path();
        write(c, "f", "hello\n", 0o640);
        set_mtime(&c.join("f"), 981173106);
        write(c, "f2", "two\n", 0o644);
        write(c, "d/x", "x\n", 0o644);
        write(c, "d/sub/y", "y\n", 0o600);
        std::os::unix::fs::symlink("../f", c.join("d/lnk")).unwrap();
        fs::hard_link(c.join("d/x"), c.join("d/hl")).unwrap();
        fs::set_permissions(c.join("d/sub"), fs::Permissions::from_mode(0o750)).unwrap();
        set_mtime(&c.join("d/sub"), 1_000_000_000);
        fs::set_permissions(c.join("d"), fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("f", c.join("ln")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", c.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../outside", c.join("rel_out")).unwrap();
        ctx
    }

    /// A destination rootfs with users, an existing dir and symlinks.
    fn rootfs() -> tempfile::TempDir {
        let r = tempfile::tempdir().unwrap();
        let p = r.path();
        write(
            p,
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n",
            0o644,
        );
        write(
            p,
            "etc/group",
            "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\n",
            0o644,
        );
        write(p, "exist/f", "base\n", 0o644);
        fs::create_dir_all(p.join("exist/d2dir/f")).unwrap();
        fs::set_permissions(p.join("exist"), fs::Permissions::from_mode(0o711)).unwrap();
        std::os::unix::fs::symlink("/exist", p.join("lnk")).unwrap();
        std::os::unix::fs::symlink("../../exist", p.join("lnkrel")).unwrap();
        r
    }

    fn run(ctx: &Path, root: &Path, sources: &[&str], dest: &str) -> Result<CopyStats> {
        let s: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        copy(&CopyRequest::new(ctx, &s, dest), root)
    }

    fn run_with<'a>(
        ctx: &'a Path,
        root: &Path,
        sources: &[&str],
        dest: &'a str,
        f: impl FnOnce(&mut CopyRequest<'a>),
    ) -> Result<CopyStats> {
        // Leaked so the request may borrow test closures of any lifetime.
        let s: &'a [String] = Vec::leak(sources.iter().map(|s| s.to_string()).collect());
        let mut req = CopyRequest::new(ctx, s, dest);
        f(&mut req);
        copy(&req, root)
    }

    #[test]
    fn file_into_new_dir_keeps_mode_and_mtime_parents_0755() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["f"], "/new/dir/").unwrap();
        let f = root.path().join("new/dir/f");
        assert_eq!(fs::read_to_string(&f).unwrap(), "hello\n");
        assert_eq!(mode(&f), 0o640);
        assert_eq!(meta(&f).mtime(), 981173106);
        assert_eq!(mode(&root.path().join("new")), 0o755);
        assert_eq!(mode(&root.path().join("new/dir")), 0o755);
        if is_root() {
            assert_eq!((meta(&f).uid(), meta(&f).gid()), (0, 0));
        }
    }

    #[test]
    fn dest_is_relative_to_workdir() {
        let (ctx, root) = (context(), rootfs());
        for (dest, want) in [("rel/", "w/rel/f"), (".", "w/f"), ("./named", "w/named")] {
            run_with(ctx.path(), root.path(), &["f"], dest, |r| r.workdir = "/w").unwrap();
            assert!(meta(&root.path().join(want)).is_file(), "{dest}");
        }
    }

    #[test]
    fn directory_copies_contents_links_and_hardlinks() {
        let (ctx, root) = (context(), rootfs());
        let st = run(ctx.path(), root.path(), &["d"], "/dd").unwrap();
        let dd = root.path().join("dd");
        // The top directory is created like a parent: 0755, not the source's 0700.
        assert_eq!(mode(&dd), 0o755);
        assert_eq!(fs::read_to_string(dd.join("sub/y")).unwrap(), "y\n");
        assert_eq!(mode(&dd.join("sub")), 0o750);
        // Directories get the time of the copy, as Docker 20.10 leaves them.
        assert_ne!(meta(&dd.join("sub")).mtime(), 1_000_000_000);
        assert_eq!(fs::read_link(dd.join("lnk")).unwrap(), Path::new("../f"));
        assert_eq!(meta(&dd.join("x")).ino(), meta(&dd.join("hl")).ino());
        assert_eq!(st.hardlinks, 1);
        assert_eq!(st.symlinks, 1);
    }

    #[test]
    fn existing_top_directory_is_left_alone() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["d"], "/exist").unwrap();
        assert_eq!(mode(&root.path().join("exist")), 0o711);
        assert!(root.path().join("exist/sub/y").is_file());
    }

    #[test]
    fn file_onto_existing_dir_keeps_its_name() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["f"], "/exist").unwrap();
        assert_eq!(
            fs::read_to_string(root.path().join("exist/f")).unwrap(),
            "hello\n"
        );
    }

    #[test]
    fn several_sources_without_slash_land_on_the_same_path() {
        // Docker 20.10: `COPY f f2 /multi` leaves a file with f2's content.
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["f", "f2"], "/multi").unwrap();
        assert_eq!(
            fs::read_to_string(root.path().join("multi")).unwrap(),
            "two\n"
        );
        run(ctx.path(), root.path(), &["f", "f2"], "/m/").unwrap();
        assert!(root.path().join("m/f").is_file() && root.path().join("m/f2").is_file());
    }

    #[test]
    fn named_symlink_is_followed() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["ln"], "/l1").unwrap();
        let l1 = root.path().join("l1");
        assert!(meta(&l1).is_file());
        assert_eq!(mode(&l1), 0o640);
    }

    #[test]
    fn sources_cannot_leave_the_context() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["../f"], "/up").unwrap();
        assert_eq!(
            fs::read_to_string(root.path().join("up")).unwrap(),
            "hello\n"
        );
        let e = run(ctx.path(), root.path(), &["abs"], "/x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to compute cache key: \"/etc/passwd\" not found: not found"
        );
        let e = run(ctx.path(), root.path(), &["rel_out"], "/x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to compute cache key: \"/outside\" not found: not found"
        );
    }

    #[test]
    fn missing_source_is_buildkit_not_found() {
        let (ctx, root) = (context(), rootfs());
        let e = run(ctx.path(), root.path(), &["nosuch"], "/x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to compute cache key: \"/nosuch\" not found: not found"
        );
    }

    #[test]
    fn dest_symlinks_resolve_inside_the_root() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["f"], "/lnk").unwrap();
        assert!(root.path().join("exist/f").is_file());
        run(ctx.path(), root.path(), &["f"], "/lnkrel/viarel").unwrap();
        assert!(root.path().join("exist/viarel").is_file());

        // Links to a host directory, absolute and climbing, stay in the root.
        let host = tempfile::tempdir().unwrap();
        let hp = host.path().to_str().unwrap().to_string();
        std::os::unix::fs::symlink(&hp, root.path().join("abs_out")).unwrap();
        std::os::unix::fs::symlink(
            format!("../../../../../../..{hp}"),
            root.path().join("rel_out"),
        )
        .unwrap();
        run(ctx.path(), root.path(), &["f"], "/abs_out/").unwrap();
        run(ctx.path(), root.path(), &["d"], "/rel_out/").unwrap();
        run(ctx.path(), root.path(), &["f"], "/abs_out").unwrap();
        assert_eq!(fs::read_dir(host.path()).unwrap().count(), 0);
        let inside = root.path().join(hp.trim_start_matches('/'));
        assert!(inside.join("f").is_file() && inside.join("sub/y").is_file());
    }

    #[test]
    fn symlink_inside_dest_tree_is_not_followed() {
        let (ctx, root) = (context(), rootfs());
        let host = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("dd")).unwrap();
        std::os::unix::fs::symlink(host.path(), root.path().join("dd/sub")).unwrap();
        let e = run(ctx.path(), root.path(), &["d"], "/dd").unwrap_err();
        assert_eq!(e.to_string(), "cannot copy to non-directory: /dd/sub");
        // A file over a symlink replaces the link.
        fs::create_dir_all(root.path().join("d3")).unwrap();
        std::os::unix::fs::symlink(host.path().join("x"), root.path().join("d3/x")).unwrap();
        run(ctx.path(), root.path(), &["d"], "/d3").unwrap();
        assert!(meta(&root.path().join("d3/x")).is_file());
        assert_eq!(fs::read_dir(host.path()).unwrap().count(), 0);
    }

    #[test]
    fn replacing_and_type_conflicts() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["f"], "/exist/f").unwrap();
        assert_eq!(
            fs::read_to_string(root.path().join("exist/f")).unwrap(),
            "hello\n"
        );
        let e = run(ctx.path(), root.path(), &["f"], "/exist/d2dir").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot replace to directory /exist/d2dir/f with file"
        );
        let e = run(ctx.path(), root.path(), &["d"], "/exist/f").unwrap_err();
        assert_eq!(e.to_string(), "cannot copy to non-directory: /exist/f");
        let e = run(ctx.path(), root.path(), &["f"], "/exist/f/").unwrap_err();
        assert_eq!(e.to_string(), "mkdir /exist/f: not a directory");
    }

    #[test]
    fn wildcards() {
        let (ctx, root) = (context(), rootfs());
        run(ctx.path(), root.path(), &["f*"], "/wf/").unwrap();
        assert!(root.path().join("wf/f").is_file() && root.path().join("wf/f2").is_file());
        // Matching a directory copies its contents, like naming it.
        run(ctx.path(), root.path(), &["d*"], "/wild").unwrap();
        assert!(root.path().join("wild/x").is_file());
        // No match: nothing, not even the destination (Docker 20.10).
        run(ctx.path(), root.path(), &["nomatch*"], "/none/").unwrap();
        assert!(!root.path().join("none").exists());
        run(ctx.path(), root.path(), &["d/s?b/*"], "/deep/").unwrap();
        assert!(root.path().join("deep/y").is_file());
    }

    #[test]
    fn dockerignore_and_exclude() {
        let (ctx, root) = (context(), rootfs());
        let ignore = |p: &Path| p != Path::new("f2") && p != Path::new("d/sub");
        let e = run_with(ctx.path(), root.path(), &["f2"], "/x", |r| {
            r.include = &ignore
        })
        .unwrap_err();
        assert!(matches!(e, CopyError::NotFound(_)));
        run_with(ctx.path(), root.path(), &["."], "/all/", |r| {
            r.include = &ignore
        })
        .unwrap();
        assert!(root.path().join("all/f").exists() && !root.path().join("all/f2").exists());
        assert!(!root.path().join("all/d/sub").exists() && root.path().join("all/d/x").exists());
        run_with(ctx.path(), root.path(), &["f*"], "/w/", |r| {
            r.include = &ignore
        })
        .unwrap();
        assert!(!root.path().join("w/f2").exists());
        let excl = |p: &Path| p == Path::new("x") || p == Path::new("sub");
        run_with(ctx.path(), root.path(), &["d"], "/ex", |r| {
            r.exclude = &excl
        })
        .unwrap();
        assert!(!root.path().join("ex/x").exists() && !root.path().join("ex/sub").exists());
        assert!(root.path().join("ex/hl").exists());
    }

    #[test]
    fn chown_by_name_and_id() {
        if !is_root() {
            return;
        }
        let (ctx, root) = (context(), rootfs());
        let ids = |p: &str| {
            let m = meta(&root.path().join(p));
            (m.uid(), m.gid())
        };
        run_with(ctx.path(), root.path(), &["f"], "/cn/dir/", |r| {
            r.chown = Some("alice")
        })
        .unwrap();
        assert_eq!(ids("cn"), (1000, 1000));
        assert_eq!(ids("cn/dir"), (1000, 1000));
        assert_eq!(ids("cn/dir/f"), (1000, 1000));
        for (spec, want) in [
            ("1001:staff", (1001, 50)),
            (":staff", (0, 50)),
            ("bob:root", (1001, 0)),
            ("alice:nogroup", (1000, 1000)),
            // BuildKit: an unknown name is id 0, not an error.
            ("nosuch", (0, 0)),
            ("99999999999", (0, 0)),
            ("7:8", (7, 8)),
        ] {
            run_with(ctx.path(), root.path(), &["f"], "/c", |r| {
                r.chown = Some(spec)
            })
            .unwrap();
            assert_eq!(ids("c"), want, "{spec}");
        }
        fs::remove_file(root.path().join("etc/passwd")).unwrap();
        let e = run_with(ctx.path(), root.path(), &["f"], "/c", |r| {
            r.chown = Some("alice")
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "open /etc/passwd: no such file or directory");
        // Ids need no files.
        run_with(ctx.path(), root.path(), &["f"], "/c", |r| {
            r.chown = Some("5:6")
        })
        .unwrap();
        // /etc/passwd is read inside the root: a symlink to the host's is not followed out.
        std::os::unix::fs::symlink("/../../../../etc/passwd", root.path().join("etc/passwd"))
            .unwrap();
        assert!(
            run_with(ctx.path(), root.path(), &["f"], "/c", |r| r.chown =
                Some("root2"))
            .is_err()
        );
    }

    #[test]
    fn owners_zero_for_context_kept_for_from() {
        if !is_root() {
            return;
        }
        let (ctx, root) = (context(), rootfs());
        rfs::chown(
            ctx.path().join("f2"),
            Some(Uid::from_raw(1234)),
            Some(Gid::from_raw(99)),
        )
        .unwrap();
        run(ctx.path(), root.path(), &["f2"], "/ctx").unwrap();
        assert_eq!(meta(&root.path().join("ctx")).uid(), 0);
        run_with(ctx.path(), root.path(), &["f2"], "/from", |r| {
            r.keep_owner = true
        })
        .unwrap();
        let m = meta(&root.path().join("from"));
        assert_eq!((m.uid(), m.gid()), (1234, 99));
    }

    #[test]
    fn chmod_applies_to_copied_entries_not_created_parents() {
        let (ctx, root) = (context(), rootfs());
        run_with(ctx.path(), root.path(), &["d"], "/cm/sub/", |r| {
            r.chmod = Some("600")
        })
        .unwrap();
        assert_eq!(mode(&root.path().join("cm")), 0o755);
        assert_eq!(mode(&root.path().join("cm/sub")), 0o755);
        assert_eq!(mode(&root.path().join("cm/sub/x")), 0o600);
        assert_eq!(mode(&root.path().join("cm/sub/sub")), 0o600);
        run_with(ctx.path(), root.path(), &["f"], "/sym", |r| {
            r.chmod = Some("u+x,g=u,o-r")
        })
        .unwrap();
        assert_eq!(mode(&root.path().join("sym")), 0o770);
        let e = run_with(ctx.path(), root.path(), &["f"], "/x", |r| {
            r.chmod = Some("999")
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid chmod parameter: '999'. it should be octal string and between 0 and 07777"
        );
        assert!(
            run_with(ctx.path(), root.path(), &["f"], "/x", |r| r.chmod =
                Some("q+z"))
            .is_err()
        );
    }

    #[test]
    fn symbolic_modes() {
        let m = |s: &str, mode: u32, dir: bool| parse_chmod(s).unwrap().apply(mode, dir);
        assert_eq!(m("755", 0o600, false), 0o755);
        assert_eq!(m("4755", 0o600, false), 0o4755);
        assert_eq!(m("a+X", 0o600, false), 0o600);
        assert_eq!(m("a+X", 0o600, true), 0o711);
        assert_eq!(m("a+X", 0o700, false), 0o711);
        assert_eq!(m("go=", 0o777, false), 0o700);
        assert_eq!(m("+r", 0o200, false), 0o644);
        assert_eq!(m("u+s", 0o755, false), 0o4755);
        assert_eq!(m("o=u", 0o640, false), 0o646);
    }

    #[test]
    fn go_match_rules() {
        for (p, n, want) in [
            ("*", "abc", true),
            ("*", "a/b", false),
            ("a*/b*", "abc/bd", true),
            ("f?", "f2", true),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("\\*", "*", true),
            ("*.txt", "a.txt", true),
            ("*.txt", "a.txtx", false),
        ] {
            assert_eq!(go_match(p.as_bytes(), n.as_bytes()), want, "{p} {n}");
        }
    }

    fn tarball(name: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_uid(42);
        h.set_gid(43);
        h.set_mtime(1_500_000_000);
        h.set_cksum();
        b.append_data(&mut h, name, &b"in\n"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn add_extracts_local_archives() {
        let (ctx, root) = (context(), rootfs());
        let c = ctx.path();
        let t = tarball("inner");
        fs::write(c.join("a.tar"), &t).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).unwrap();
        fs::write(c.join("a.tar.gz"), gz.finish().unwrap()).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&t).unwrap();
        fs::write(c.join("a.tar.bz2"), bz.finish().unwrap()).unwrap();
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&t).unwrap();
        fs::write(c.join("a.tar.xz"), xz.finish().unwrap()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"plain\n").unwrap();
        fs::write(c.join("plain.gz"), gz.finish().unwrap()).unwrap();
        fs::write(c.join("notar.tar"), "notar\n").unwrap();

        let add = |srcs: &[&str], dest: &str, chown: Option<&str>| {
            run_with(c, root.path(), srcs, dest, |r| {
                r.add = true;
                r.chown = chown;
            })
        };
        let r = root.path();
        add(&["a.tar.gz"], "/ad/", None).unwrap();
        assert_eq!(fs::read_to_string(r.join("ad/inner")).unwrap(), "in\n");
        assert_eq!(meta(&r.join("ad/inner")).mtime(), 1_500_000_000);
        // No trailing slash: still a directory to extract into.
        add(&["a.tar"], "/adnoslash", None).unwrap();
        assert!(r.join("adnoslash/inner").is_file());
        let st = add(&["a.tar.bz2", "a.tar.xz"], "/adm/", None).unwrap();
        assert_eq!(st.archives, 2);
        assert!(r.join("adm/inner").is_file());
        // Compressed non-tar and a non-tar named .tar are copied as they are.
        add(&["plain.gz"], "/pg", None).unwrap();
        assert_eq!(
            fs::read(r.join("pg")).unwrap(),
            fs::read(c.join("plain.gz")).unwrap()
        );
        add(&["notar.tar"], "/nt", None).unwrap();
        assert_eq!(fs::read_to_string(r.join("nt")).unwrap(), "notar\n");
        // COPY never extracts.
        run(c, r, &["a.tar"], "/copied").unwrap();
        assert!(r.join("copied").is_file());
        if is_root() {
            add(&["a.tar"], "/adc/x", Some("alice")).unwrap();
            assert_eq!(meta(&r.join("adc/x")).uid(), 1000);
            assert_eq!(meta(&r.join("adc/x/inner")).uid(), 42);
        }
    }

    #[test]
    fn remote_and_unsupported_flags_are_refused() {
        let (ctx, root) = (context(), rootfs());
        let e = run(ctx.path(), root.path(), &["http://example.com/x"], "/x").unwrap_err();
        assert_eq!(e.to_string(), "source can't be a URL for COPY");
        let e = run_with(
            ctx.path(),
            root.path(),
            &["https://example.com/x.tar"],
            "/x",
            |r| r.add = true,
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("failed to fetch \"https://example.com/x.tar\""));
        let e = run_with(ctx.path(), root.path(), &["f"], "/x", |r| {
            r.add = true;
            r.checksum = Some("sha256:00");
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "checksum requires HTTP(S) or Git sources");
        let e = run_with(ctx.path(), root.path(), &["f"], "/x", |r| r.parents = true).unwrap_err();
        assert_eq!(e.to_string(), "Unknown flag: parents");
    }
}

/// Throughput on a large context: `cargo test -p berth-build --release --
/// --ignored copy_throughput --nocapture`. Builds 20,000 files / 200 MB
/// under `/var/tmp` (or `$BERTH_COPY_BENCH_DIR`) and copies them.
#[cfg(test)]
mod bench {
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore]
    fn copy_throughput() {
        let base = std::env::var("BERTH_COPY_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into());
        let work = tempfile::tempdir_in(&base).unwrap();
        // An existing tree to copy instead, to compare with `cp -a` on it.
        let given = std::env::var_os("BERTH_COPY_BENCH_SRC").map(PathBuf::from);
        let src = given.clone().unwrap_or_else(|| work.path().join("ctx"));
        let mut total = 0u64;
        let mut seed = 12345u64;
        for i in 0..if given.is_some() { 0 } else { 20_000u32 } {
            let dir = src.join(format!("d{}/e{}", i % 50, i % 7));
            std::fs::create_dir_all(&dir).unwrap();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Sizes from 0 to ~20 KB, averaging 10 KB: 200 MB in all.
            let len = (seed >> 33) % 20_480;
            let data = vec![(i % 251) as u8; len as usize];
            std::fs::write(dir.join(format!("f{i}")), &data).unwrap();
            total += len;
        }
        let dest = work.path().join("root");
        std::fs::create_dir(&dest).unwrap();
        // Let the writes of the setup reach the disk first.
        rustix::fs::sync();
        let t = Instant::now();
        let s = vec![".".to_string()];
        let st = copy(&CopyRequest::new(&src, &s, "/app/"), &dest).unwrap();
        let dt = t.elapsed();
        let bytes = st.bytes;
        eprintln!(
            "copied {} files, {} MB in {:.2?}: {:.0} MB/s, {:.0} files/s (reflinked {})",
            st.files,
            bytes / 1_000_000,
            dt,
            bytes as f64 / 1e6 / dt.as_secs_f64(),
            st.files as f64 / dt.as_secs_f64(),
            st.reflinked
        );
        if given.is_none() {
            assert_eq!(st.files, 20_000);
            assert_eq!(st.bytes, total);
        }
    }
}
