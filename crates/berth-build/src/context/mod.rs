//! The build context: a directory (or an unpacked tar stream) seen through
//! its `.dockerignore`, as `docker build` sends it to BuildKit.
//!
//! The Dockerfile and the ignore file are always readable through
//! [`Context`] even when the patterns exclude them (the CLI keeps them in
//! the upload); COPY, which goes through [`Context::walk`], does not see
//! excluded files, just as the daemon drops them before COPY runs.

pub mod checksum;
pub mod ignore;
mod walk;

pub use walk::{Entry, FileStat};

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use ignore::{PatternError, PatternMatcher};

/// Name looked up when no Dockerfile is named.
pub const DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// Symlink hops allowed while resolving one path (Linux's MAXSYMLINKS is 40;
/// Go's scoped resolution allows 255).
const MAX_LINKS: usize = 255;

/// Why a context could not be opened or walked.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// An I/O failure, with what was being done.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The ignore file does not compile.
    #[error("failed parsing {}: {source}", file.display())]
    Ignore {
        file: PathBuf,
        #[source]
        source: PatternError,
    },
    /// A pattern failed while matching (it passed validation but is bad).
    #[error("failed to match excludepatterns: {0}")]
    Match(#[from] PatternError),
    /// A source path is missing or excluded; BuildKit's wording.
    #[error("\"/{0}\": not found")]
    NotFound(String),
    /// The Dockerfile does not exist.
    #[error("cannot locate Dockerfile: \"{}\"", .0.display())]
    NoDockerfile(PathBuf),
    /// The context path is not a directory.
    #[error("context must be a directory: {}", .0.display())]
    NotADirectory(PathBuf),
    /// A tar stream that cannot be unpacked safely.
    #[error("invalid build context archive: {0}")]
    Archive(String),
    /// Symlinks loop or nest too deeply.
    #[error("\"/{0}\": too many levels of symbolic links")]
    TooManyLinks(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ContextError {
    let what = what.into();
    move |source| ContextError::Io { what, source }
}

/// What kind of file a context entry is. Sockets never appear: the docker
/// CLI's tar writer skips them, and they cannot be copied into an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Regular,
    Dir,
    /// Sent and copied as a link, never followed inside the tree.
    Symlink,
    /// Sent as metadata only (fsutil recreates FIFOs and devices).
    Fifo,
    CharDevice,
    BlockDevice,
}

/// A build context rooted at a directory, with its ignore rules.
#[derive(Debug)]
pub struct Context {
    root: PathBuf,
    dockerfile: PathBuf,
    dockerignore: Option<PathBuf>,
    patterns: Vec<String>,
    matcher: PatternMatcher,
}

impl Context {
    /// Opens a directory context. `dockerfile` is relative to the context
    /// (the CLI makes `-f` absolute first, which also works); `None` means
    /// `Dockerfile`, or `dockerfile` when only that exists, as docker does.
    pub fn from_dir(dir: &Path, dockerfile: Option<&Path>) -> Result<Context, ContextError> {
        let root = fs::canonicalize(dir).map_err(io_err(format!(
            "unable to evaluate symlinks in context path {}",
            dir.display()
        )))?;
        let meta = fs::metadata(&root).map_err(io_err(format!(
            "unable to stat context directory {}",
            root.display()
        )))?;
        if !meta.is_dir() {
            return Err(ContextError::NotADirectory(root));
        }
        let dockerfile = match dockerfile {
            Some(p) => root.join(p),
            None => {
                let upper = root.join(DEFAULT_DOCKERFILE);
                let lower = root.join(DEFAULT_DOCKERFILE.to_lowercase());
                if upper.symlink_metadata().is_err() && lower.symlink_metadata().is_ok() {
                    lower
                } else {
                    upper
                }
            }
        };
        if fs::metadata(&dockerfile).is_err() {
            return Err(ContextError::NoDockerfile(dockerfile));
        }
        let dockerignore = ignore::dockerignore_path(&root, &dockerfile);
        let patterns = match &dockerignore {
            Some(p) => {
                let text = fs::read(p).map_err(io_err(format!("reading {}", p.display())))?;
                ignore::parse_dockerignore(&text)
            }
            None => Vec::new(),
        };
        let matcher = PatternMatcher::new(&patterns).map_err(|source| ContextError::Ignore {
            file: dockerignore
                .clone()
                .unwrap_or_else(|| root.join(".dockerignore")),
            source,
        })?;
        Ok(Context {
            root,
            dockerfile,
            dockerignore,
            patterns,
            matcher,
        })
    }

    /// Unpacks a context sent as a tar stream (`docker build - < ctx.tar`),
    /// plain or gzip/bzip2/xz/zstd compressed, into `scratch_dir` (created;
    /// must be empty) and opens it as a directory. Entries with `..` are
    /// refused, symlinks are created as symlinks and never written through,
    /// FIFOs and (when permitted) devices are recreated. `dockerfile` is a
    /// path inside the archive.
    pub fn from_tar<R: Read>(
        reader: R,
        scratch_dir: &Path,
        dockerfile: Option<&Path>,
    ) -> Result<Context, ContextError> {
        fs::create_dir_all(scratch_dir)
            .map_err(io_err(format!("creating {}", scratch_dir.display())))?;
        let mut listing = fs::read_dir(scratch_dir)
            .map_err(io_err(format!("reading {}", scratch_dir.display())))?;
        if listing.next().is_some() {
            return Err(ContextError::Archive(format!(
                "scratch directory {} is not empty",
                scratch_dir.display()
            )));
        }
        let scratch = fs::canonicalize(scratch_dir)
            .map_err(io_err(format!("resolving {}", scratch_dir.display())))?;
        // As the docker CLI: what is neither compressed nor a tar archive
        // is a Dockerfile, built with an empty context.
        let mut reader = reader;
        let mut head = Vec::with_capacity(512);
        (&mut reader)
            .take(512)
            .read_to_end(&mut head)
            .map_err(io_err("failed to peek context header from STDIN"))?;
        let archive = [
            &[0x1f, 0x8b][..],
            b"BZh",
            &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
            &[0x28, 0xb5, 0x2f, 0xfd],
        ]
        .iter()
        .any(|m| head.starts_with(m))
            || head.get(257..262) == Some(b"ustar");
        let stream = io::Cursor::new(head).chain(reader);
        if !archive {
            let mut text = Vec::new();
            let mut stream = stream;
            stream
                .read_to_end(&mut text)
                .map_err(io_err("reading the Dockerfile from STDIN"))?;
            fs::write(scratch.join("Dockerfile"), text)
                .map_err(io_err("writing the Dockerfile from STDIN"))?;
            return Context::from_dir(&scratch, None);
        }
        let stream = decompress(stream)?;
        unpack_tar(stream, &scratch)?;
        Context::from_dir(&scratch, dockerfile)
    }

    /// The context directory (symlinks resolved).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Dockerfile's location on disk.
    pub fn dockerfile_path(&self) -> &Path {
        &self.dockerfile
    }

    /// The Dockerfile's bytes, whatever the ignore rules say.
    pub fn read_dockerfile(&self) -> Result<Vec<u8>, ContextError> {
        fs::read(&self.dockerfile).map_err(io_err(format!(
            "failed to read dockerfile {}",
            self.dockerfile.display()
        )))
    }

    /// The ignore file in force, if any.
    pub fn dockerignore_path(&self) -> Option<&Path> {
        self.dockerignore.as_deref()
    }

    /// The patterns read from it, cleaned.
    pub fn ignore_patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The compiled ignore rules.
    pub fn matcher(&self) -> &PatternMatcher {
        &self.matcher
    }

    /// Whether a context path (slash separated) is excluded. The root
    /// never is ("don't let them exclude everything", as Docker puts it).
    pub fn is_excluded(&self, rel: &str) -> Result<bool, ContextError> {
        let rel = ignore::clean(rel.trim_start_matches('/'));
        if rel == "." || self.matcher.is_empty() {
            return Ok(false);
        }
        Ok(self.matcher.matches_or_parent_matches(&rel)?)
    }

    /// Resolves a context path the way BuildKit scopes COPY sources:
    /// symlinks are followed but can never leave the context (an absolute
    /// or `..` target is taken relative to the root). `follow_last` decides
    /// whether a symlink in the final component is followed. Missing
    /// components are kept as written. Returns a clean relative path, `""`
    /// for the root.
    pub fn resolve(&self, rel: &str, follow_last: bool) -> Result<String, ContextError> {
        let mut todo: Vec<String> = split_rev(rel);
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            done.push(part);
            if todo.is_empty() && !follow_last {
                break;
            }
            let here = self.root.join(done.join("/"));
            let meta = match here.symlink_metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            hops += 1;
            if hops > MAX_LINKS {
                return Err(ContextError::TooManyLinks(rel.to_string()));
            }
            let target =
                fs::read_link(&here).map_err(io_err(format!("readlink {}", here.display())))?;
            done.pop();
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                done.clear();
            }
            todo.extend(split_rev(&target));
        }
        Ok(done.join("/"))
    }
}

/// Path components in reverse order (so `pop` yields them in order),
/// without empty and `.` parts.
fn split_rev(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .rev()
        .map(str::to_string)
        .collect()
}

/// Wraps `reader` in the decoder its magic bytes call for.
fn decompress<'a, R: Read + 'a>(reader: R) -> Result<Box<dyn Read + 'a>, ContextError> {
    let mut buf = BufReader::with_capacity(1 << 16, reader);
    let head = buf
        .fill_buf()
        .map_err(io_err("failed to peek context header from STDIN"))?;
    let head: Vec<u8> = head.iter().take(6).copied().collect();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(buf))
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(buf))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Box::new(xz2::read::XzDecoder::new_multi_decoder(buf))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(buf)
                .map_err(io_err("starting zstd decoder"))?,
        )
    } else {
        Box::new(buf)
    })
}

/// Unpacks a tar stream into `dest`, which must be canonical.
fn unpack_tar<R: Read>(stream: R, dest: &Path) -> Result<(), ContextError> {
    let mut archive = tar::Archive::new(stream);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    archive.set_preserve_ownerships(rustix::process::geteuid().is_root());
    let bad = |e: io::Error| {
        let mut msg = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            msg = format!("{msg}: {c}");
            cause = c.source();
        }
        ContextError::Archive(msg)
    };
    // Directories last, so a read-only directory does not block its
    // children (what tar's own unpack does).
    let mut dirs = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path().map_err(bad)?.into_owned();
        let rel = safe_relative(&raw)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            dirs.push(entry);
        } else if kind.is_fifo() || kind.is_character_special() || kind.is_block_special() {
            make_special(&entry, dest, &rel)?;
        } else if !entry.unpack_in(dest).map_err(bad)? {
            return Err(ContextError::Archive(format!(
                "{} is outside of the context",
                raw.display()
            )));
        }
    }
    dirs.sort_by(|a, b| {
        let depth = |e: &tar::Entry<'_, R>| e.path().map(|p| p.components().count()).unwrap_or(0);
        depth(b).cmp(&depth(a))
    });
    for mut dir in dirs {
        dir.unpack_in(dest).map_err(bad)?;
    }
    Ok(())
}

/// The archive path with root and `.` parts dropped; `..` is refused the
/// way Docker's untar refuses a breakout.
fn safe_relative(raw: &Path) -> Result<PathBuf, ContextError> {
    let mut rel = PathBuf::new();
    for part in raw.components() {
        match part {
            Component::Normal(p) => rel.push(p),
            Component::ParentDir => {
                return Err(ContextError::Archive(format!(
                    "{:?} is outside of the context",
                    raw.display().to_string()
                )));
            }
            _ => {}
        }
    }
    Ok(rel)
}

/// Creates a FIFO or device node. Devices need privilege; without it they
/// are left out rather than failing the whole build.
fn make_special<R: Read>(
    entry: &tar::Entry<'_, R>,
    dest: &Path,
    rel: &Path,
) -> Result<(), ContextError> {
    use rustix::fs::{FileType, Mode};
    let header = entry.header();
    let parent = rel.parent().unwrap_or(Path::new(""));
    let dir = dest.join(parent);
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let canon = fs::canonicalize(&dir).map_err(io_err(format!("resolving {}", dir.display())))?;
    if !canon.starts_with(dest) {
        return Err(ContextError::Archive(format!(
            "{} is outside of the context",
            rel.display()
        )));
    }
    let Some(name) = rel.file_name() else {
        return Ok(());
    };
    let target = canon.join(name);
    let kind = header.entry_type();
    let file_type = if kind.is_fifo() {
        FileType::Fifo
    } else if kind.is_character_special() {
        FileType::CharacterDevice
    } else {
        FileType::BlockDevice
    };
    let mode = header
        .mode()
        .map_err(|e| ContextError::Archive(e.to_string()))?
        & 0o7777;
    let major = header.device_major().ok().flatten().unwrap_or(0);
    let minor = header.device_minor().ok().flatten().unwrap_or(0);
    let _ = fs::remove_file(&target);
    let made = rustix::fs::mknodat(
        rustix::fs::CWD,
        &target,
        file_type,
        Mode::from_raw_mode(mode),
        rustix::fs::makedev(major, minor),
    );
    match made {
        Ok(()) => Ok(()),
        Err(e) if file_type != FileType::Fifo && e == rustix::io::Errno::PERM => Ok(()),
        Err(e) => Err(io_err(format!("mknod {}", target.display()))(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.path.as_str()).collect()
    }

    fn sample() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "Dockerfile", "FROM scratch\n");
        write(
            r,
            ".dockerignore",
            "Dockerfile\n*.tmp\nbuild\n!build/keep\nlogs\n",
        );
        write(r, "a.txt", "a");
        write(r, "x.tmp", "x");
        write(r, "build/out.o", "o");
        write(r, "build/keep/k", "k");
        write(r, "logs/1.log", "l");
        write(r, "src/main.rs", "fn main() {}");
        symlink("../a.txt", r.join("src/link")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        dir
    }

    #[test]
    fn walk_honours_ignore_like_fsutil() {
        let dir = sample();
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        let all = ctx.walk("").unwrap();
        assert_eq!(
            paths(&all),
            vec![
                "",
                ".dockerignore",
                "a.txt",
                "abs",
                "build",
                "build/keep",
                "build/keep/k",
                "src",
                "src/link",
                "src/main.rs",
            ]
        );
        let link = all.iter().find(|e| e.path == "src/link").unwrap();
        assert_eq!(link.kind, FileKind::Symlink);
        assert_eq!(link.link_target.as_deref(), Some(Path::new("../a.txt")));
        // The Dockerfile is excluded from COPY but still readable.
        assert_eq!(ctx.read_dockerfile().unwrap(), b"FROM scratch\n");
        assert!(ctx.is_excluded("Dockerfile").unwrap());
        assert!(ctx.is_excluded("logs/1.log").unwrap());
        assert!(!ctx.is_excluded("/").unwrap());
        assert!(matches!(ctx.walk("logs"), Err(ContextError::NotFound(_))));
        assert_eq!(
            ctx.walk("x.tmp").unwrap_err().to_string(),
            "\"/x.tmp\": not found"
        );
        assert!(matches!(ctx.walk("nope"), Err(ContextError::NotFound(_))));
        // The excluded directory is listed because something inside is kept.
        assert_eq!(
            paths(&ctx.walk("build").unwrap()),
            vec!["build", "build/keep", "build/keep/k"]
        );
    }

    #[test]
    fn symlinks_resolve_inside_the_context() {
        let dir = sample();
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        assert_eq!(ctx.resolve("src/link", true).unwrap(), "a.txt");
        assert_eq!(ctx.resolve("src/link", false).unwrap(), "src/link");
        // `/etc` means `<context>/etc`, which does not exist.
        assert_eq!(ctx.resolve("abs/passwd", true).unwrap(), "etc/passwd");
        assert!(matches!(
            ctx.walk("abs/passwd"),
            Err(ContextError::NotFound(_))
        ));
        assert_eq!(ctx.resolve("../../a.txt", true).unwrap(), "a.txt");
        symlink("loop", dir.path().join("loop")).unwrap();
        assert!(matches!(
            ctx.resolve("loop", true),
            Err(ContextError::TooManyLinks(_))
        ));
    }

    #[test]
    fn sockets_are_skipped() {
        let dir = sample();
        let _sock = std::os::unix::net::UnixListener::bind(dir.path().join("src/s.sock")).unwrap();
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        assert!(!paths(&ctx.walk("src").unwrap()).contains(&"src/s.sock"));
    }

    #[test]
    fn lowercase_dockerfile_and_missing_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Context::from_dir(dir.path(), None),
            Err(ContextError::NoDockerfile(_))
        ));
        write(dir.path(), "dockerfile", "FROM a\n");
        let ctx = Context::from_dir(dir.path(), None).unwrap();
        assert!(ctx.dockerfile_path().ends_with("dockerfile"));
    }

    #[test]
    fn dockerfile_specific_ignore_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, ".dockerignore", "a\n");
        write(r, "docker/app.Dockerfile", "FROM a\n");
        write(r, "docker/app.Dockerfile.dockerignore", "b\n");
        write(r, "a", "");
        write(r, "b", "");
        let ctx = Context::from_dir(r, Some(Path::new("docker/app.Dockerfile"))).unwrap();
        assert_eq!(ctx.ignore_patterns(), ["b"]);
        assert!(!ctx.is_excluded("a").unwrap());
        assert!(ctx.is_excluded("b").unwrap());
    }

    #[test]
    fn bad_ignore_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Dockerfile", "FROM a\n");
        write(dir.path(), ".dockerignore", "!\n");
        let err = Context::from_dir(dir.path(), None).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("illegal exclusion pattern: \"!\""),
            "{err}"
        );
    }

    fn tar_bytes() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8], kind: tar::EntryType, link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_size(data.len() as u64);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            b.append_data(&mut h, path, data).unwrap();
        };
        add(
            "Dockerfile",
            b"FROM scratch\n",
            tar::EntryType::Regular,
            None,
        );
        add("dir/", b"", tar::EntryType::Directory, None);
        add("dir/f", b"hello", tar::EntryType::Regular, None);
        add("dir/l", b"", tar::EntryType::Symlink, Some("/etc/passwd"));
        add("dir/p", b"", tar::EntryType::Fifo, None);
        b.into_inner().unwrap()
    }

    #[test]
    fn tar_contexts_in_every_compression() {
        use std::io::Write;
        let plain = tar_bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&plain).unwrap();
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&plain).unwrap();
        let zs = zstd::encode_all(&plain[..], 1).unwrap();
        for data in [
            plain.clone(),
            gz.finish().unwrap(),
            bz.finish().unwrap(),
            xz.finish().unwrap(),
            zs,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let scratch = dir.path().join("ctx");
            let ctx = Context::from_tar(&data[..], &scratch, None).unwrap();
            let entries = ctx.walk("dir").unwrap();
            assert_eq!(paths(&entries), vec!["dir", "dir/f", "dir/l", "dir/p"]);
            assert_eq!(entries[2].kind, FileKind::Symlink);
            assert_eq!(entries[3].kind, FileKind::Fifo);
            assert_eq!(fs::read(ctx.root().join("dir/f")).unwrap(), b"hello");
        }
    }

    #[test]
    fn tar_breakouts_are_refused() {
        // `..` entries.
        let mut raw = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        // set_path refuses `..`, so write the name bytes directly.
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        raw.append(&h, &b"x"[..]).unwrap();
        let data = raw.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = Context::from_tar(&data[..], &dir.path().join("ctx"), None).unwrap_err();
        assert!(matches!(err, ContextError::Archive(_)), "{err}");
        assert!(!dir.path().join("escape").exists());

        // Writing through a symlink that points outside.
        let outside = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_link_name(outside.path()).unwrap();
        b.append_data(&mut h, "out", &b""[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "out/pwned", &b"x"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(Context::from_tar(&data[..], &dir.path().join("ctx"), None).is_err());
        assert!(!outside.path().join("pwned").exists());
    }
}
