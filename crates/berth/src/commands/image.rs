//! Image commands: images, inspect, rmi, tag, history, prune, import, load, save.

use std::io::{IsTerminal, Read, Write};

use berth_engine::images::ImageFilters;
use berth_engine::types::{DeleteItem, ImageSummary};
use berth_engine::Engine;
use serde_json::{json, Value};

use super::need;
use crate::cli::{
    HistoryArgs, ImagesArgs, ImportArgs, InspectArgs, LoadArgs, RmiArgs, SaveArgs, TagArgs,
};
use crate::render::{self, Format};
use crate::{CliError, CliResult};

fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.trim_start_matches("sha256:").chars().take(12).collect()
    }
}

/// Print rows through a `--format` (or the default table), as the docker
/// CLI's formatter does: `table` formats get a header made by running the
/// template over the header names.
pub fn print_rows(format: &str, headers: &Value, rows: &[Value]) -> CliResult {
    let f = Format::parse(format)?;
    let mut out = std::io::stdout().lock();
    if f.table {
        let mut lines = vec![f.render(headers)?];
        for r in rows {
            lines.push(f.render(r)?);
        }
        let text = lines.join("\n");
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        out.write_all(render::tabwrite(&lines).as_bytes())?;
    } else {
        for r in rows {
            writeln!(out, "{}", f.render(r)?)?;
        }
    }
    Ok(())
}

fn image_rows(images: &[ImageSummary], a: &ImagesArgs) -> Vec<Value> {
    let mut rows = Vec::new();
    for img in images {
        let id = short_id(&img.id, a.no_trunc);
        let digests = img.repo_digests.clone().unwrap_or_default();
        let tags = img.repo_tags.clone().unwrap_or_default();
        let row = |repo: &str, tag: &str, digest: &str| {
            json!({
                "Containers": if img.containers < 0 { "N/A".to_string() } else { img.containers.to_string() },
                "CreatedAt": render::go_time_string(img.created),
                "CreatedSince": render::since(img.created),
                "Digest": digest,
                "ID": id,
                "Repository": repo,
                "SharedSize": if img.shared_size < 0 { "N/A".to_string() } else { render::human_size_prec(img.shared_size as f64, 3) },
                "Size": render::human_size_prec(img.size as f64, 3),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": render::human_size(img.virtual_size as f64),
            })
        };
        if tags.is_empty() {
            match digests.first().and_then(|d| d.split_once('@')) {
                Some((repo, d)) => rows.push(row(repo, "<none>", d)),
                None => rows.push(row("<none>", "<none>", "<none>")),
            }
            continue;
        }
        for t in &tags {
            let (repo, tag) = match t.rsplit_once(':') {
                Some((r, tg)) if !tg.contains('/') => (r, tg),
                _ => (t.as_str(), "<none>"),
            };
            let digest = digests
                .iter()
                .find_map(|d| {
                    d.split_once('@')
                        .filter(|(r, _)| *r == repo)
                        .map(|(_, d)| d)
                })
                .unwrap_or("<none>");
            rows.push(row(repo, tag, digest));
        }
    }
    rows
}

pub fn list(engine: &Engine, a: ImagesArgs, path: &str) -> CliResult {
    need(path, &a.args, 0, Some(1))?;
    let mut filters = a.filter.clone();
    if let Some(r) = a.args.first() {
        filters.push(format!("reference={r}"));
    }
    let filters = ImageFilters::parse(&filters)?;
    let images = engine.image_list(&filters)?;
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = std::io::stdout().lock();
        for img in &images {
            let id = short_id(&img.id, a.no_trunc);
            if seen.insert(id.clone()) {
                writeln!(out, "{id}")?;
            }
        }
        return Ok(());
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let format = a.format.clone().unwrap_or_else(|| default.to_string());
    let headers = json!({
        "Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED",
        "Digest": "DIGEST", "ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE",
        "Size": "SIZE", "Tag": "TAG", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
    });
    print_rows(&format, &headers, &image_rows(&images, &a))
}

/// `inspect`, `image inspect` and `container inspect`: containers first,
/// then images, unless the kind is fixed by the command or `--type`.
pub fn inspect_any(engine: &Engine, a: InspectArgs, path: &str, fixed: Option<&str>) -> CliResult {
    need(path, &a.args, 1, None)?;
    let kind = a.kind.as_deref().or(fixed);
    if let Some(k) = kind {
        if k != "image" && k != "container" {
            return Err(CliError::Plain(format!(
                "\"{k}\" is not a valid value for --type"
            )));
        }
    }
    let mut ok: Vec<Value> = Vec::new();
    // Printed after the results, as docker does.
    let mut errors: Vec<String> = Vec::new();
    for name in &a.args {
        if kind.is_none() || kind == Some("container") {
            match engine.container_get(name) {
                Ok(r) => {
                    ok.push(r.inspect_value());
                    continue;
                }
                Err(e) if e.kind != berth_engine::ErrorKind::NotFound => {
                    errors.push(e.message);
                    continue;
                }
                Err(e) if kind == Some("container") => {
                    errors.push(e.message);
                    continue;
                }
                Err(_) => {}
            }
        }
        match engine.image_inspect(name) {
            Ok(i) => ok.push(serde_json::to_value(&i).map_err(anyhow::Error::from)?),
            Err(e) if kind.is_none() && e.kind == berth_engine::ErrorKind::NotFound => {
                errors.push(format!("No such object: {name}"))
            }
            Err(e) => errors.push(e.message),
        }
    }
    print_inspect(&ok, a.format.as_deref())?;
    for e in &errors {
        eprintln!("Error: {e}");
    }
    if !errors.is_empty() {
        return Err(CliError::Exit(1));
    }
    Ok(())
}

/// inspect's output for every object found: the JSON array as the docker
/// CLI indents it, or `--format` applied to each.
pub fn print_inspect(ok: &[Value], format: Option<&str>) -> CliResult {
    let mut out = std::io::stdout().lock();
    match format {
        Some(f) => {
            let f = Format::parse(f)?;
            for v in ok {
                writeln!(out, "{}", f.render(v)?)?;
            }
        }
        None => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&ok, &mut ser).map_err(anyhow::Error::from)?;
            // The docker CLI prints `<`, `>` and `&` as they are here.
            let text = String::from_utf8_lossy(&buf);
            writeln!(out, "{text}")?;
        }
    }
    Ok(())
}

fn print_deletes(items: &[DeleteItem], lower: bool) -> CliResult {
    let mut out = std::io::stdout().lock();
    for i in items {
        let (word, v) = match i {
            DeleteItem::Untagged(v) => ("Untagged", v),
            DeleteItem::Deleted(v) => ("Deleted", v),
        };
        let word = if lower {
            word.to_lowercase()
        } else {
            word.to_string()
        };
        writeln!(out, "{word}: {v}")?;
    }
    Ok(())
}

pub fn remove(engine: &Engine, a: RmiArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    let mut failed = false;
    for name in &a.args {
        match engine.image_remove(name, a.force) {
            Ok(items) => print_deletes(&items, false)?,
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {}", e.message);
            }
        }
    }
    if failed {
        return Err(CliError::Exit(1));
    }
    Ok(())
}

pub fn tag(engine: &Engine, a: TagArgs, path: &str) -> CliResult {
    need(path, &a.args, 2, Some(2))?;
    // The docker CLI parses the target itself, before asking the engine.
    let target = &a.args[1];
    if let Err(e) = berth_engine::images::check_reference(target) {
        return Err(CliError::Plain(format!(
            "Error parsing reference: {target:?} is not a valid repository/tag: {}",
            e.message
        )));
    }
    Ok(engine.image_tag(&a.args[0], target)?)
}

pub fn history(engine: &Engine, a: HistoryArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(1))?;
    let items = engine.image_history(&a.args[0])?;
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for h in &items {
            let id = if h.id == "<missing>" {
                h.id.clone()
            } else {
                short_id(&h.id, a.no_trunc)
            };
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|h| {
            let id = if h.id == "<missing>" { h.id.clone() } else { short_id(&h.id, a.no_trunc) };
            let created_by = h.created_by.replace('\t', " ");
            let created_by = if a.no_trunc { created_by } else { render::ellipsis(&created_by, 45) };
            let created_at = chrono::DateTime::from_timestamp(h.created, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            json!({
                "Comment": h.comment,
                "CreatedAt": created_at,
                "CreatedBy": created_by,
                "CreatedSince": if a.human { render::since(h.created) } else { created_at.clone() },
                "ID": id,
                "Size": if a.human { render::human_size_prec(h.size as f64, 3) } else { h.size.to_string() },
            })
        })
        .collect();
    let headers = json!({
        "Comment": "COMMENT", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
        "CreatedSince": "CREATED", "ID": "IMAGE", "Size": "SIZE",
    });
    let format = a.format.clone().unwrap_or_else(|| {
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".into()
    });
    print_rows(&format, &headers, &rows)
}

/// A prune's warning, then the docker CLI's question.
pub fn confirm(warning: &str) -> CliResult<bool> {
    super::prune::confirm(&format!("{warning}\nAre you sure you want to continue?"))
}

/// A progress bar on a terminal; nothing extra in logs.
fn progress_reader<'a, R: Read + 'a>(
    r: R,
    len: Option<u64>,
    quiet: bool,
    what: &str,
) -> Box<dyn Read + 'a> {
    if quiet || !std::io::stderr().is_terminal() {
        return Box::new(r);
    }
    let pb = match len {
        Some(l) => indicatif::ProgressBar::new(l).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        ),
    };
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    pb.set_message(what.to_string());
    Box::new(ClearOnDrop(pb.wrap_read(r)))
}

/// Clears the progress bar when reading ends, so result lines stand alone.
struct ClearOnDrop<R>(indicatif::ProgressBarIter<R>);
impl<R: Read> Read for ClearOnDrop<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}
impl<R> Drop for ClearOnDrop<R> {
    fn drop(&mut self) {
        self.0.progress.finish_and_clear();
    }
}

fn open_input(path: &std::path::Path) -> CliResult<(std::fs::File, u64)> {
    let f = std::fs::File::open(path)
        .map_err(|e| CliError::Plain(format!("open {}: {}", path.display(), io_text(&e))))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((f, len))
}

/// Go's wording of common errno texts.
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => berth_store::go_error_text(e),
    }
}

pub fn load(engine: &Engine, a: LoadArgs) -> CliResult {
    let loaded = match &a.input {
        Some(p) => {
            let (f, len) = open_input(p)?;
            engine.image_load(progress_reader(f, Some(len), a.quiet, "Loading"))?
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(CliError::Plain(
                    "requested load from stdin, but stdin is empty".into(),
                ));
            }
            engine.image_load(progress_reader(stdin.lock(), None, a.quiet, "Loading"))?
        }
    };
    let mut out = std::io::stdout().lock();
    for img in loaded {
        if img.tags.is_empty() {
            writeln!(out, "Loaded image ID: {}", img.id)?;
        }
        for (tag, old) in img.tags {
            if let Some(old) = old {
                writeln!(
                    out,
                    "The image {tag} already exists, renaming the old one with ID {old} to empty string"
                )?;
            }
            writeln!(out, "Loaded image: {tag}")?;
        }
    }
    Ok(())
}

pub fn save(engine: &Engine, a: SaveArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    match &a.output {
        Some(p) => {
            // Write beside the target and rename, so a failed save never
            // leaves a truncated archive under the requested name.
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = dir.join(format!(".{name}.berth-save-{}", std::process::id()));
            let f = std::fs::File::create(&tmp).map_err(|e| {
                CliError::Plain(format!(
                    "failed to save image: open {}: {}",
                    p.display(),
                    io_text(&e)
                ))
            })?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            let res = engine
                .image_save(&a.args, &mut w)
                .map_err(CliError::from)
                .and_then(|_| {
                    let f = w.into_inner().map_err(|e| CliError::Plain(e.to_string()))?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, p)?;
                    Ok(())
                });
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(CliError::Plain(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
                ));
            }
            let mut lock = stdout.lock();
            engine.image_save(&a.args, &mut lock)?;
            Ok(())
        }
    }
}

pub fn import(engine: &Engine, a: ImportArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(2))?;
    let src = &a.args[0];
    let reference = a.args.get(1).map(String::as_str);
    if let Some(r) = reference {
        // Checked before reading the input, as docker does.
        if let Err(e) = berth_engine::images::check_reference(r) {
            return Err(CliError::Plain(e.message));
        }
    }
    if src.starts_with("http://") || src.starts_with("https://") {
        return Err(CliError::Plain(format!(
            "Get \"{src}\": importing from a URL needs network access, which berth import does not do; download the file and import it"
        )));
    }
    let (id, _) = if src == "-" {
        let stdin = std::io::stdin();
        engine.image_import(
            progress_reader(stdin.lock(), None, false, "Importing"),
            reference,
            a.change,
            a.message,
        )?
    } else {
        let (f, len) = open_input(std::path::Path::new(src))?;
        engine.image_import(
            progress_reader(f, Some(len), false, "Importing"),
            reference,
            a.change,
            a.message,
        )?
    };
    println!("{id}");
    Ok(())
}
