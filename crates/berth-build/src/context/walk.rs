//! The tree walk behind [`Context::walk`]: directories are read on all
//! cores, and every entry is `lstat`ed relative to its open directory, so
//! the kernel resolves one name per file instead of the whole absolute path.

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, StatxFlags};

use super::ignore::MatchInfo;
use super::{io_err, Context, ContextError, FileKind};

/// One file of the context, with its `lstat` data.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Slash-separated path from the context root (`""` is the root).
    pub path: String,
    /// Where the file is on disk.
    pub abs: PathBuf,
    pub kind: FileKind,
    /// `lstat` data (symlinks describe the link itself).
    pub stat: FileStat,
    /// The link text for symlinks, unmodified.
    pub link_target: Option<PathBuf>,
}

/// The `lstat` fields the checksum and its stat cache use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStat {
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
    pub rdev: u64,
}

/// Only what [`FileStat`] holds, so filesystems that compute other fields
/// lazily need not.
const STAT_MASK: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::MODE)
    .union(StatxFlags::UID)
    .union(StatxFlags::GID)
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::MTIME)
    .union(StatxFlags::CTIME);

impl FileStat {
    /// `lstat` of `name` in the directory `dir` (or of an absolute path).
    pub fn lstat_at<Fd: AsFd, P: rustix::path::Arg>(dir: Fd, name: P) -> io::Result<FileStat> {
        let x = rustix::fs::statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, STAT_MASK)?;
        let ns = |t: rustix::fs::StatxTimestamp| t.tv_sec * 1_000_000_000 + i64::from(t.tv_nsec);
        Ok(FileStat {
            mode: u32::from(x.stx_mode),
            uid: x.stx_uid,
            gid: x.stx_gid,
            size: x.stx_size,
            mtime_ns: ns(x.stx_mtime),
            ctime_ns: ns(x.stx_ctime),
            ino: x.stx_ino,
            dev: rustix::fs::makedev(x.stx_dev_major, x.stx_dev_minor),
            rdev: rustix::fs::makedev(x.stx_rdev_major, x.stx_rdev_minor),
        })
    }

    /// `lstat` of a path.
    pub fn lstat(path: &Path) -> io::Result<FileStat> {
        FileStat::lstat_at(rustix::fs::CWD, path)
    }

    /// The entry kind; `None` for sockets.
    pub fn kind(&self) -> Option<FileKind> {
        kind_of(FileType::from_raw_mode(self.mode))
    }
}

fn kind_of(t: FileType) -> Option<FileKind> {
    Some(match t {
        FileType::RegularFile => FileKind::Regular,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        FileType::Fifo => FileKind::Fifo,
        FileType::CharacterDevice => FileKind::CharDevice,
        FileType::BlockDevice => FileKind::BlockDevice,
        _ => return None,
    })
}

/// A directory still to be read.
struct Job {
    path: String,
    abs: PathBuf,
    /// The directory's own match results, for its children.
    info: MatchInfo,
}

/// A kept child of a directory; `sub` is the node of a directory that is
/// descended, `excluded` whether it is only listed for what it holds.
struct Child {
    entry: Entry,
    excluded: bool,
    sub: Option<usize>,
}

/// Work shared by the walking threads. Node ids index `done`.
struct Shared {
    queue: Vec<(usize, Job)>,
    next_id: usize,
    busy: usize,
    done: Vec<(usize, Vec<Child>)>,
    error: Option<ContextError>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Context {
    /// Lists `rel` and, for a directory, everything below it, honouring the
    /// ignore rules the way fsutil's walker does: excluded entries are left
    /// out, excluded directories are pruned unless an exception could apply
    /// inside, and such a directory is listed (before its first kept child)
    /// only when something under it is kept. Symlinks in `rel` are followed
    /// inside the context; below it they are listed as links. Order is
    /// depth-first by byte-wise name, parents first. A missing or excluded
    /// `rel` is [`ContextError::NotFound`]. The tree is assumed not to
    /// change during the walk; entries that vanish meanwhile are dropped.
    pub fn walk(&self, rel: &str) -> Result<Vec<Entry>, ContextError> {
        let start = self.resolve(rel, true)?;
        let abs = if start.is_empty() {
            self.root().to_path_buf()
        } else {
            self.root().join(&start)
        };
        let not_found =
            || ContextError::NotFound(super::ignore::clean(rel.trim_start_matches('/')));
        let stat = match FileStat::lstat(&abs) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) if e.raw_os_error() == Some(20) => return Err(not_found()), // ENOTDIR
            Err(e) => return Err(io_err(format!("lstat {}", abs.display()))(e)),
        };
        let Some(kind) = stat.kind() else {
            return Err(not_found());
        };
        let (excluded, info) = if start.is_empty() || self.matcher().is_empty() {
            (false, MatchInfo::default())
        } else {
            self.matcher()
                .matches_using_parent_results(&start, &MatchInfo::default())?
        };
        if excluded && (kind != FileKind::Dir || self.matcher().can_skip_excluded_dir(&start)) {
            return Err(not_found());
        }
        let link_target = if kind == FileKind::Symlink {
            Some(std::fs::read_link(&abs).map_err(io_err(format!("readlink {}", abs.display())))?)
        } else {
            None
        };
        let top = Entry {
            path: start.clone(),
            abs: abs.clone(),
            kind,
            stat,
            link_target,
        };
        if kind != FileKind::Dir {
            return Ok(vec![top]);
        }
        let mut nodes = self.read_tree(Job {
            path: start,
            abs,
            info,
        })?;
        let total = nodes.iter().flatten().map(Vec::len).sum::<usize>();
        let mut out = Vec::with_capacity(total + 1);
        out.push(top);
        emit(&mut nodes, 0, &mut out);
        if excluded && out.len() == 1 {
            return Err(not_found());
        }
        Ok(out)
    }

    /// Reads every directory below `first` (node 0) on up to one thread per
    /// core; returns each node's kept children in name order.
    fn read_tree(&self, first: Job) -> Result<Vec<Option<Vec<Child>>>, ContextError> {
        let shared = Mutex::new(Shared {
            queue: vec![(0, first)],
            next_id: 1,
            busy: 0,
            done: Vec::new(),
            error: None,
        });
        let wake = Condvar::new();
        let work = || loop {
            let (id, job) = {
                let mut s = lock(&shared);
                loop {
                    if s.error.is_some() {
                        return;
                    }
                    if let Some(j) = s.queue.pop() {
                        s.busy += 1;
                        break j;
                    }
                    if s.busy == 0 {
                        return;
                    }
                    s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            };
            let result = self.read_dir(&job);
            let mut s = lock(&shared);
            s.busy -= 1;
            match result {
                Ok((mut children, jobs)) => {
                    let base = s.next_id;
                    s.next_id += jobs.len();
                    for c in &mut children {
                        if let Some(k) = c.sub.as_mut() {
                            *k += base;
                        }
                    }
                    s.queue
                        .extend(jobs.into_iter().enumerate().map(|(k, j)| (base + k, j)));
                    s.done.push((id, children));
                }
                Err(e) => {
                    s.error.get_or_insert(e);
                }
            }
            wake.notify_all();
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        });
        let s = shared.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = s.error {
            return Err(e);
        }
        let mut nodes: Vec<Option<Vec<Child>>> = (0..s.next_id).map(|_| None).collect();
        for (id, children) in s.done {
            nodes[id] = Some(children);
        }
        Ok(nodes)
    }

    /// One directory: its names (getdents), ignore matching, then an
    /// `lstat` per kept name relative to the directory fd. Returns the kept
    /// children and the subdirectories to read, `sub` indexing the latter.
    fn read_dir(&self, job: &Job) -> Result<(Vec<Child>, Vec<Job>), ContextError> {
        let what = || format!("reading {}", job.abs.display());
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            &job.abs,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| io_err(what())(e.into()))?;
        // One getdents call per 32 KiB of names (rustix's `Dir` starts
        // small and needs several for an ordinary directory).
        let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 32 << 10];
        let mut dir = RawDir::new(&fd, &mut buf);
        // All names, NUL-terminated, in one buffer: no allocation per name.
        let mut names: Vec<u8> = Vec::new();
        let mut list: Vec<(usize, usize, FileType)> = Vec::new();
        while let Some(ent) = dir.next() {
            let ent = ent.map_err(|e| io_err(what())(e.into()))?;
            let name = ent.file_name().to_bytes();
            if name == b"." || name == b".." || ent.file_type() == FileType::Socket {
                continue;
            }
            list.push((names.len(), name.len(), ent.file_type()));
            names.extend_from_slice(name);
            names.push(0);
        }
        list.sort_unstable_by(|a, b| names[a.0..a.0 + a.1].cmp(&names[b.0..b.0 + b.1]));
        let dirfd = &fd;
        let matcher = self.matcher();
        let mut children = Vec::with_capacity(list.len());
        let mut jobs = Vec::new();
        for (start, len, dtype) in list {
            let name = &names[start..start + len];
            let lossy = String::from_utf8_lossy(name);
            let path = if job.path.is_empty() {
                lossy.into_owned()
            } else {
                let mut p = String::with_capacity(job.path.len() + 1 + lossy.len());
                p.push_str(&job.path);
                p.push('/');
                p.push_str(&lossy);
                p
            };
            // Only directories need per-pattern results for their children.
            let (excluded, info) = if matcher.is_empty() {
                (false, MatchInfo::default())
            } else if dtype == FileType::Directory || dtype == FileType::Unknown {
                matcher.matches_using_parent_results(&path, &job.info)?
            } else {
                let excluded = matcher.excluded_using_parent_results(&path, &job.info)?;
                (excluded, MatchInfo::default())
            };
            // d_type decides pruning; an unknown type needs the stat first.
            if excluded
                && dtype != FileType::Unknown
                && (dtype != FileType::Directory || matcher.can_skip_excluded_dir(&path))
            {
                continue;
            }
            let cstr = CStr::from_bytes_with_nul(&names[start..=start + len])
                .map_err(|e| io_err(what())(io::Error::new(io::ErrorKind::InvalidData, e)))?;
            let stat = match FileStat::lstat_at(dirfd, cstr) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(io_err(format!(
                        "lstat {}",
                        job.abs.join(OsStr::from_bytes(name)).display()
                    ))(e))
                }
            };
            let Some(kind) = stat.kind() else {
                continue;
            };
            if excluded && (kind != FileKind::Dir || matcher.can_skip_excluded_dir(&path)) {
                continue;
            }
            let abs = job.abs.join(OsStr::from_bytes(name));
            let link_target = if kind == FileKind::Symlink {
                let t = rustix::fs::readlinkat(dirfd, cstr, Vec::new())
                    .map_err(|e| io_err(format!("readlink {}", abs.display()))(e.into()))?;
                Some(PathBuf::from(OsStr::from_bytes(t.as_bytes())))
            } else {
                None
            };
            let sub = if kind == FileKind::Dir {
                jobs.push(Job {
                    path: path.clone(),
                    abs: abs.clone(),
                    info,
                });
                Some(jobs.len() - 1)
            } else {
                None
            };
            children.push(Child {
                entry: Entry {
                    path,
                    abs,
                    kind,
                    stat,
                    link_target,
                },
                excluded,
                sub,
            });
        }
        Ok((children, jobs))
    }
}

/// Appends node `id`'s children depth-first; an excluded directory stays
/// only when something below it was kept.
fn emit(nodes: &mut [Option<Vec<Child>>], id: usize, out: &mut Vec<Entry>) {
    let Some(children) = nodes.get_mut(id).and_then(Option::take) else {
        return;
    };
    for c in children {
        out.push(c.entry);
        if let Some(sub) = c.sub {
            let mark = out.len();
            emit(nodes, sub, out);
            if c.excluded && out.len() == mark {
                out.pop();
            }
        }
    }
}
