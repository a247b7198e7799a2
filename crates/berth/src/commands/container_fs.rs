//! Container filesystem commands: cp, diff, export, commit.
//!
//! `cp` keeps the split Docker has between the CLI and the daemon: the
//! local side (where a source is, what a destination path means, the
//! local tar and its extraction) is decided here with the docker CLI's
//! rules; the container side (resolving paths inside the container,
//! archiving, extracting) is the engine's.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use berth_engine::containers::fs::{self, CommitOptions};
use berth_engine::{Engine, ErrorKind};

use super::need;
use crate::cli::{CommitArgs, CpArgs, ExportArgs, NamesOnly};
use crate::{CliError, CliResult};

/// Standard output that remembers a reader who went away (`| head`):
/// that ends the command quietly, as berth's other commands end.
struct Stdout<W: Write> {
    inner: W,
    broken: bool,
}

impl<W: Write> Stdout<W> {
    fn new(inner: W) -> Self {
        Stdout {
            inner,
            broken: false,
        }
    }

    /// The command's outcome: a broken pipe is no error.
    fn finish(mut self, res: Result<(), berth_engine::Error>) -> CliResult {
        let flushed = self.flush();
        if self.broken {
            return Err(CliError::Exit(0));
        }
        res?;
        Ok(flushed?)
    }
}

impl<W: Write> Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        if matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.broken = true;
        }
        r
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        if matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.broken = true;
        }
        r
    }
}

/// `docker diff`.
pub fn diff(engine: &Engine, a: NamesOnly, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(1))?;
    let changes = engine.container_changes(&a.args[0])?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for c in changes {
        writeln!(out, "{} {}", c.kind.letter(), c.path)?;
    }
    out.flush()?;
    Ok(())
}

/// `docker export [-o FILE]`.
pub fn export(engine: &Engine, a: ExportArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(1))?;
    let name = &a.args[0];
    let Some(file) = &a.output else {
        let stdout = std::io::stdout();
        if stdout.is_terminal() {
            return Err(CliError::Plain(
                "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
            ));
        }
        let mut out = Stdout::new(std::io::BufWriter::with_capacity(1 << 20, stdout.lock()));
        let res = engine.container_export(name, &mut out);
        return out.finish(res);
    };
    validate_output_path(&file.display().to_string())
        .map_err(|e| CliError::Plain(format!("failed to export container: {e}")))?;
    write_atomically(file, |w| Ok(engine.container_export(name, w)?))
}

/// The docker CLI's `CopyToFile`: a temporary file (mode 0600) beside the
/// target, renamed over it once complete.
fn write_atomically(target: &Path, f: impl FnOnce(&mut dyn Write) -> CliResult) -> CliResult {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut n = 0u32;
    let (tmp, file) = loop {
        let tmp = dir.join(format!(".docker_temp_{}{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => {
                return Err(CliError::Plain(format!(
                    "{}: {}",
                    tmp.display(),
                    io_text(&e)
                )))
            }
        }
    };
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let res = f(&mut w)
        .and_then(|_| w.into_inner().map_err(|e| CliError::Plain(e.to_string())))
        .and_then(|file| Ok(file.sync_all()?))
        .and_then(|_| Ok(std::fs::rename(&tmp, target)?));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// `docker commit`: prints the new image's ID.
pub fn commit(engine: &Engine, a: CommitArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(2))?;
    // The docker client parses the reference before calling the daemon.
    let reference = a.args.get(1).cloned();
    if let Some(r) = &reference {
        berth_engine::images::check_reference(r).map_err(|e| CliError::Plain(e.message))?;
        if r.contains('@') {
            return Err(CliError::Plain(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
    }
    let id = engine.container_commit(
        &a.args[0],
        &CommitOptions {
            reference,
            author: a.author.unwrap_or_default(),
            comment: a.message.unwrap_or_default(),
            changes: a.change,
            pause: a.pause,
        },
    )?;
    println!("{id}");
    Ok(())
}

// ---- cp ---------------------------------------------------------------------------

/// What the docker CLI knows about one side of a copy (`archive.CopyInfo`).
#[derive(Debug, Clone, Default)]
struct CopyInfo {
    path: String,
    exists: bool,
    is_dir: bool,
    rebase_name: Option<String>,
}

/// Go's `filepath.Clean`.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => match out.last() {
                Some(l) if *l != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            c => out.push(c),
        }
    }
    let s = out.join("/");
    match (rooted, s.is_empty()) {
        (true, _) => format!("/{s}"),
        (false, true) => ".".into(),
        (false, false) => s,
    }
}

/// Go's `filepath.Dir`.
fn go_dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => go_clean(&p[..=i]),
        None => ".".into(),
    }
}

fn go_join(a: &str, b: &str) -> String {
    go_clean(&format!("{a}/{b}"))
}

fn specifies_current_dir(p: &str) -> bool {
    fs::go_base(p) == "."
}

/// Docker's `archive.SplitPathDirEntry`.
fn split_path_dir_entry(p: &str) -> (String, String) {
    let mut cleaned = go_clean(p);
    if specifies_current_dir(p) {
        cleaned.push_str("/.");
    }
    (go_dir(&cleaned), fs::go_base(&cleaned))
}

/// Docker's `splitCpArg`: `CONTAINER:PATH`, or a local path (absolute,
/// `./`-relative, or without a colon).
fn split_cp_arg(arg: &str) -> (&str, &str) {
    if arg.starts_with('/') {
        return ("", arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => (c, p),
        _ => ("", arg),
    }
}

fn io_text(e: &std::io::Error) -> String {
    berth_store::go_error_text(e)
}

/// An absolute local path, keeping a trailing `/` or `/.`.
fn resolve_local_path(p: &str) -> CliResult<String> {
    let abs = if p.starts_with('/') {
        go_clean(p)
    } else {
        let cwd = std::env::current_dir()?;
        go_join(&cwd.display().to_string(), p)
    };
    Ok(fs::preserve_trailing(&abs, p))
}

/// The docker CLI's `ValidateOutputPath`.
fn validate_output_path(path: &str) -> Result<(), String> {
    let dir = go_dir(&go_clean(path));
    if dir != "." && !dir.is_empty() && !Path::new(&dir).exists() {
        return Err(format!(
            "invalid output path: directory {dir:?} does not exist"
        ));
    }
    if let Ok(md) = std::fs::metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        let t = md.file_type();
        if !t.is_dir() && !t.is_file() && (t.is_block_device() || t.is_char_device()) {
            return Err(format!(
                "invalid output path: {path:?} must be a directory or a regular file: got a device"
            ));
        }
    }
    Ok(())
}

/// Go's `filepath.EvalSymlinks` of a local path, with its error text.
fn eval_symlinks(p: &str) -> CliResult<String> {
    let trimmed = if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    };
    let c = std::fs::canonicalize(trimmed)
        .map_err(|e| CliError::Plain(format!("lstat {trimmed}: {}", io_text(&e))))?;
    // A trailing slash asserts a directory; Go reports a bare ENOTDIR.
    if p.ends_with('/') && !c.is_dir() {
        return Err(CliError::Plain("not a directory".into()));
    }
    Ok(c.display().to_string())
}

/// Docker's `GetRebaseName`.
fn get_rebase_name(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut r = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&r) {
        r.push_str("/.");
    }
    if path.ends_with('/') && !r.ends_with('/') {
        r.push('/');
    }
    let rebase = (fs::go_base(path) != fs::go_base(&r)).then(|| fs::go_base(path));
    (r, rebase)
}

/// Docker's `CopyInfoSourcePath` for a local source.
fn copy_info_source_path(path: &str, follow: bool) -> CliResult<CopyInfo> {
    let (resolved, rebase_name) = if follow {
        let r = eval_symlinks(path)?;
        get_rebase_name(path, &r)
    } else {
        let (dir, base) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        let dir = if dir.is_empty() { "." } else { dir };
        let rd = eval_symlinks(dir)?;
        let resolved = format!("{}/{base}", rd.trim_end_matches('/'));
        let rebase = (path.ends_with('/') && fs::go_base(path) != fs::go_base(&resolved))
            .then(|| fs::go_base(path));
        (resolved, rebase)
    };
    let md = std::fs::symlink_metadata(&resolved)
        .map_err(|e| CliError::Plain(format!("lstat {resolved}: {}", io_text(&e))))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: md.is_dir(),
        rebase_name,
    })
}

/// Docker's `CopyInfoDestinationPath` for a local destination: symlinks
/// followed (a broken one names the file to create), the parent must be
/// a directory.
fn copy_info_destination_path(path: &str) -> CliResult<CopyInfo> {
    let original = path;
    let mut path = path.to_string();
    let mut n = 0;
    loop {
        match std::fs::symlink_metadata(&path) {
            Ok(md) if md.file_type().is_symlink() => {
                n += 1;
                if n > 10 {
                    return Err(CliError::Plain(format!("too many symlinks in {original}")));
                }
                let t = std::fs::read_link(&path)?.display().to_string();
                path = if t.starts_with('/') {
                    t
                } else {
                    go_join(&split_path_dir_entry(&path).0, &t)
                };
            }
            Ok(md) => {
                return Ok(CopyInfo {
                    path,
                    exists: true,
                    is_dir: md.is_dir(),
                    rebase_name: None,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let parent = split_path_dir_entry(&path).0;
                let md = std::fs::metadata(&parent)
                    .map_err(|e| CliError::Plain(format!("stat {parent}: {}", io_text(&e))))?;
                if !md.is_dir() {
                    return Err(CliError::Plain("not a directory".into()));
                }
                return Ok(CopyInfo {
                    path,
                    ..Default::default()
                });
            }
            Err(e) => return Err(CliError::Plain(format!("lstat {path}: {}", io_text(&e)))),
        }
    }
}

/// Docker's `PrepareArchiveCopy`: the directory to extract into and the
/// name the archive's top entry must have there.
fn prepare_archive_copy(src: &CopyInfo, dst: &CopyInfo) -> CliResult<(String, String)> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    let src_base = src
        .rebase_name
        .clone()
        .unwrap_or_else(|| split_path_dir_entry(&src.path).1);
    let asserts_dir = dst.path.ends_with('/') || specifies_current_dir(&dst.path);
    if dst.exists && dst.is_dir {
        Ok((dst.path.clone(), src_base))
    } else if dst.exists && src.is_dir {
        Err(CliError::Plain("cannot copy directory".into()))
    } else if dst.exists || src.is_dir || !asserts_dir {
        Ok((dst_dir, dst_base))
    } else {
        Err(CliError::Plain("no such directory".into()))
    }
}

/// A 404 from the archive endpoints, as the docker client words it.
fn cp_error(container: &str, path: &str) -> impl Fn(berth_engine::Error) -> CliError {
    let container = container.to_string();
    let path = path.to_string();
    move |e| {
        if e.kind == ErrorKind::NotFound {
            CliError::Plain(format!("Error: No such container:path: {container}:{path}"))
        } else {
            CliError::Engine(e)
        }
    }
}

/// `docker cp`.
pub fn cp(engine: &Engine, a: CpArgs, path: &str) -> CliResult {
    need(path, &a.args, 2, Some(2))?;
    let (src_c, src_p) = split_cp_arg(&a.args[0]);
    let (dst_c, dst_p) = split_cp_arg(&a.args[1]);
    match (src_c.is_empty(), dst_c.is_empty()) {
        (false, true) => copy_from_container(engine, src_c, src_p, dst_p, a.follow_link),
        (true, false) => copy_to_container(engine, dst_c, src_p, dst_p, a.follow_link, a.archive),
        (false, false) => Err(CliError::Plain(
            "copying between containers is not supported".into(),
        )),
        (true, true) => Err(CliError::Plain(
            "must specify at least one container source".into(),
        )),
    }
}

fn copy_from_container(
    engine: &Engine,
    container: &str,
    src: &str,
    dst: &str,
    follow: bool,
) -> CliResult {
    let dst = if dst == "-" {
        dst.to_string()
    } else {
        resolve_local_path(dst)?
    };
    validate_output_path(&dst).map_err(CliError::Plain)?;
    let mut src_path = src.to_string();
    let mut rebase_name = None;
    if follow {
        if let Ok(st) = engine.container_stat_path(container, src) {
            if st.is_symlink() {
                let mut t = st.link_target.clone();
                if !t.starts_with('/') {
                    t = go_join(&split_path_dir_entry(src).0, &t);
                }
                let (t, r) = get_rebase_name(src, &t);
                src_path = t;
                rebase_name = r;
            }
        }
    }
    if dst == "-" {
        let mut out = Stdout::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::io::stdout().lock(),
        ));
        let res = engine.container_archive(container, &src_path, None, &mut out);
        if let Err(e) = res {
            if !out.broken {
                return Err(cp_error(container, &src_path)(e));
            }
        }
        return out.finish(Ok(()));
    }
    let st = engine
        .container_stat_path(container, &src_path)
        .map_err(cp_error(container, &src_path))?;
    let src_info = CopyInfo {
        path: src_path.clone(),
        exists: true,
        is_dir: st.is_dir(),
        rebase_name,
    };
    let dst_info = copy_info_destination_path(&dst)?;
    let (dst_dir, top) = prepare_archive_copy(&src_info, &dst_info)?;
    let (mut reader, mut writer) = std::io::pipe()?;
    let dir = PathBuf::from(&dst_dir);
    let (archived, extracted) = std::thread::scope(|s| {
        let extractor = s.spawn(move || fs::untar_local(&mut reader, &dir));
        let archived = engine.container_archive(container, &src_path, Some(&top), &mut writer);
        drop(writer);
        let extracted = extractor
            .join()
            .unwrap_or_else(|_| Err(berth_engine::Error::invalid("extraction failed")));
        (archived, extracted)
    });
    if let Err(e) = extracted {
        return Err(CliError::Plain(e.message));
    }
    archived.map_err(cp_error(container, &src_path))?;
    Ok(())
}

fn copy_to_container(
    engine: &Engine,
    container: &str,
    src: &str,
    dst: &str,
    follow: bool,
    archive: bool,
) -> CliResult {
    let src = if src == "-" {
        src.to_string()
    } else {
        resolve_local_path(src)?
    };
    let mut dst_info = CopyInfo {
        path: dst.to_string(),
        ..Default::default()
    };
    let mut dst_stat = engine.container_stat_path(container, dst);
    if let Ok(st) = &dst_stat {
        if st.is_symlink() {
            let mut t = st.link_target.clone();
            if !t.starts_with('/') {
                t = go_join(&split_path_dir_entry(dst).0, &t);
            }
            dst_stat = engine.container_stat_path(container, &t);
            dst_info.path = t;
        }
    }
    if let Ok(st) = &dst_stat {
        if st.is_device() {
            return Err(CliError::Plain(format!(
                "destination \"{container}:{dst}\" must be a directory or a regular file: got a device"
            )));
        }
        dst_info.exists = true;
        dst_info.is_dir = st.is_dir();
    }
    if src == "-" {
        if !dst_info.is_dir {
            return Err(CliError::Plain(format!(
                "destination \"{container}:{dst}\" must be a directory"
            )));
        }
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        return engine
            .container_extract(container, &dst_info.path, &mut input, archive)
            .map_err(cp_error(container, &dst_info.path));
    }
    let src_info = copy_info_source_path(&src, follow)?;
    let (dst_dir, top) = prepare_archive_copy(&src_info, &dst_info)?;
    let (mut reader, mut writer) = std::io::pipe()?;
    let src_path = PathBuf::from(&src_info.path);
    let (tarred, extracted) = std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let r = fs::tar_local(&src_path, &top, &mut writer);
            drop(writer);
            r
        });
        let extracted = engine.container_extract(container, &dst_dir, &mut reader, archive);
        // Drain what the extraction did not read, so the producer ends.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        let tarred = producer
            .join()
            .unwrap_or_else(|_| Err(berth_engine::Error::invalid("archiving failed")));
        (tarred, extracted)
    });
    tarred.map_err(|e| CliError::Plain(e.message))?;
    extracted.map_err(cp_error(container, &dst_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_args_and_paths_as_the_docker_cli_reads_them() {
        assert_eq!(split_cp_arg("c:/etc"), ("c", "/etc"));
        assert_eq!(split_cp_arg("/abs:x"), ("", "/abs:x"));
        assert_eq!(split_cp_arg("./f:x"), ("", "./f:x"));
        assert_eq!(split_cp_arg("file"), ("", "file"));
        assert_eq!(split_cp_arg("c:"), ("c", ""));
        assert_eq!(
            split_path_dir_entry("/tmp/x/."),
            ("/tmp/x".into(), ".".into())
        );
        assert_eq!(split_path_dir_entry("/tmp/x/"), ("/tmp".into(), "x".into()));
        assert_eq!(split_path_dir_entry("/"), ("/".into(), "/".into()));
        assert_eq!(split_path_dir_entry("tmp/x"), ("tmp".into(), "x".into()));
        assert_eq!(go_clean("../a/./b/../c"), "../a/c");
        assert_eq!(
            get_rebase_name("/lnk/", "/etc"),
            ("/etc/".into(), Some("lnk".into()))
        );
        assert_eq!(get_rebase_name("/d/.", "/d"), ("/d/.".into(), None));
    }

    #[test]
    fn archive_copy_targets() {
        let file = CopyInfo {
            path: "/src/f".into(),
            exists: true,
            ..Default::default()
        };
        let dir = CopyInfo {
            is_dir: true,
            ..file.clone()
        };
        let missing = |p: &str| CopyInfo {
            path: p.into(),
            ..Default::default()
        };
        let existing_dir = CopyInfo {
            path: "/dst".into(),
            exists: true,
            is_dir: true,
            rebase_name: None,
        };
        let existing_file = CopyInfo {
            path: "/dst/x".into(),
            exists: true,
            ..Default::default()
        };
        let t = |s: &CopyInfo, d: &CopyInfo| {
            prepare_archive_copy(s, d).map_err(|e| match e {
                CliError::Plain(m) => m,
                _ => String::new(),
            })
        };
        assert_eq!(t(&file, &existing_dir), Ok(("/dst".into(), "f".into())));
        assert_eq!(t(&dir, &existing_file), Err("cannot copy directory".into()));
        assert_eq!(t(&file, &existing_file), Ok(("/dst".into(), "x".into())));
        assert_eq!(
            t(&dir, &missing("/dst/new")),
            Ok(("/dst".into(), "new".into()))
        );
        assert_eq!(
            t(&file, &missing("/dst/new/")),
            Err("no such directory".into())
        );
        assert_eq!(
            t(&file, &missing("/dst/new")),
            Ok(("/dst".into(), "new".into()))
        );
    }
}
