//! `container prune`, `image prune` and `system prune`, plus what every
//! prune command shares: the docker CLI's confirmation prompt, filter
//! flags, and the "Deleted ...:" sections.

use std::io::{BufRead, Write};

use berth_engine::builds::CachePruned;
use berth_engine::prune::{PruneFilters, Pruned, SystemPruneOptions, UNTIL_WITH_VOLUMES};
use berth_engine::types::DeleteItem;
use berth_engine::Engine;

use super::need;
use crate::cli::{PruneArgs, PruneContainersArgs, SystemPruneArgs};
use crate::render;
use crate::{CliError, CliResult};

/// The docker CLI's `PromptForConfirmation`: the question and ` [y/N] ` on
/// stdout, one line from stdin; only `y` or `Y` is yes (EOF is no).
pub fn confirm(message: &str) -> CliResult<bool> {
    let mut out = std::io::stdout().lock();
    write!(out, "{message} [y/N] ")?;
    out.flush()?;
    drop(out);
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return Ok(false);
    }
    Ok(line.trim().eq_ignore_ascii_case("y"))
}

/// `--filter` values; one without `=` is the docker CLI's flag error (125).
pub fn parse_filters(raw: &[String], path: &str) -> CliResult<PruneFilters> {
    if let Some(bad) = raw.iter().find(|r| !r.contains('=')) {
        return Err(CliError::Coded(
            format!(
                "invalid argument \"{bad}\" for \"--filter\" flag: bad format of filter (expected name=value)\nSee 'berth {path} --help'."
            ),
            125,
        ));
    }
    Ok(PruneFilters::parse(raw)?)
}

/// A section of prune output: a heading and one line per item, ending in
/// a newline; empty when nothing was removed.
fn section(heading: &str, lines: impl IntoIterator<Item = String>) -> String {
    let mut s = String::new();
    for l in lines {
        if s.is_empty() {
            s = format!("{heading}\n");
        }
        s.push_str(&l);
        s.push('\n');
    }
    s
}

pub fn containers_section(p: &Pruned) -> String {
    section("Deleted Containers:", p.removed.iter().cloned())
}

pub fn volumes_section(p: &Pruned) -> String {
    section("Deleted Volumes:", p.removed.iter().cloned())
}

pub fn images_section(items: &[DeleteItem]) -> String {
    section(
        "Deleted Images:",
        items.iter().map(|i| match i {
            DeleteItem::Untagged(v) => format!("untagged: {v}"),
            DeleteItem::Deleted(v) => format!("deleted: {v}"),
        }),
    )
}

pub fn cache_section(p: &CachePruned) -> String {
    section(
        "Deleted build cache objects:",
        p.ids.iter().map(|id| id[..id.len().min(25)].to_string()),
    )
}

/// What every prune prints last (go-units `HumanSize`).
fn total(reclaimed: u64) -> String {
    format!(
        "Total reclaimed space: {}\n",
        render::human_size(reclaimed as f64)
    )
}

/// A one-kind prune's output: its section, a blank line, the total. A
/// declined prompt prints the total (0B) too, as the docker CLI does.
pub fn print_result(section: &str, reclaimed: u64) -> CliResult {
    let mut out = std::io::stdout().lock();
    if !section.is_empty() {
        writeln!(out, "{section}")?;
    }
    write!(out, "{}", total(reclaimed))?;
    Ok(())
}

pub fn containers(engine: &Engine, a: PruneContainersArgs) -> CliResult {
    let path = "container prune";
    need(path, &a.args, 0, Some(0))?;
    let filters = parse_filters(&a.filter, path)?;
    if !a.force
        && !confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        )?
    {
        return print_result("", 0);
    }
    let p = engine.container_prune(&filters)?;
    print_result(&containers_section(&p), p.reclaimed)
}

pub fn images(engine: &Engine, a: PruneArgs) -> CliResult {
    let path = "image prune";
    need(path, &a.args, 0, Some(0))?;
    let filters = parse_filters(&a.filter, path)?;
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(&format!("{warning}\nAre you sure you want to continue?"))? {
        return print_result("", 0);
    }
    let (items, reclaimed) = engine.image_prune(a.all, &filters)?;
    print_result(&images_section(&items), reclaimed)
}

/// The docker CLI's `system prune` warning: what will go, then the filters.
fn system_warning(a: &SystemPruneArgs, filters: &PruneFilters) -> String {
    let mut w = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if a.volumes {
        w.push("all volumes not used by at least one container");
    }
    if a.all {
        w.push("all images without at least one container associated to them");
        w.push("all build cache");
    } else {
        w.push("all dangling images");
        w.push("all dangling build cache");
    }
    let mut s = String::from("WARNING! This will remove:\n");
    for item in w {
        s.push_str(&format!("  - {item}\n"));
    }
    if !filters.is_empty() {
        s.push_str("\n  Items to be pruned will be filtered with:\n");
        for f in filters.describe() {
            s.push_str(&format!("  - {f}\n"));
        }
    }
    s.push_str("\nAre you sure you want to continue?");
    s
}

/// `system prune`: containers, networks, volumes, images, build cache;
/// a kind that removed nothing prints nothing, as Docker's does.
pub fn system(engine: &Engine, a: SystemPruneArgs) -> CliResult {
    let path = "system prune";
    need(path, &a.args, 0, Some(0))?;
    let filters = parse_filters(&a.filter, path)?;
    if a.volumes && filters.contains("until") {
        return Err(CliError::Plain(format!("ERROR: {UNTIL_WITH_VOLUMES}")));
    }
    // Declined: the docker CLI prints nothing more and exits 0.
    if !a.force && !confirm(&system_warning(&a, &filters))? {
        return Ok(());
    }
    let r = engine.system_prune(&SystemPruneOptions {
        all: a.all,
        volumes: a.volumes,
        filters,
    })?;
    let mut out = std::io::stdout().lock();
    for s in [
        containers_section(&r.containers),
        super::network::networks_section(&r.networks),
        volumes_section(&r.volumes),
        images_section(&r.images),
        cache_section(&r.cache),
    ] {
        if !s.is_empty() {
            writeln!(out, "{s}")?;
        }
    }
    write!(out, "{}", total(r.reclaimed()))?;
    Ok(())
}
