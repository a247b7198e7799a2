//! Volume commands: volume create, ls, inspect, rm, prune.

use std::io::Write;

use berth_engine::volumes::{Volume, VolumeCreate, VolumeFilters};
use berth_engine::Engine;
use serde_json::{json, Value};

use super::image::{confirm, print_rows};
use super::need;
use crate::cli::{
    VolumeCommand, VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::runopts;
use crate::{CliError, CliResult};

pub fn run(engine: &Engine, sub: VolumeCommand) -> CliResult {
    match sub {
        VolumeCommand::Create(a) => create(engine, a),
        VolumeCommand::Inspect(a) => inspect(engine, a),
        VolumeCommand::Ls(a) => list(engine, a),
        VolumeCommand::Prune(a) => prune(engine, a),
        VolumeCommand::Rm(a) => remove(engine, a),
    }
}

fn create(engine: &Engine, a: VolumeCreateArgs) -> CliResult {
    let path = "volume create";
    need(path, &a.args, 0, Some(1))?;
    let name = match (a.name, a.args.first()) {
        (Some(_), Some(_)) => {
            return Err(CliError::Plain(
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg".into(),
            ))
        }
        (Some(n), None) => Some(n),
        (None, p) => p.cloned(),
    };
    let labels = super::long_labels(path, &a.label)?;
    let req = VolumeCreate {
        name,
        driver: Some(a.driver),
        options: runopts::kv_map(&a.opt),
        labels: runopts::kv_map(&labels),
    };
    let v = engine.volume_create(&req)?;
    writeln!(std::io::stdout().lock(), "{}", v.name)?;
    Ok(())
}

fn to_value(v: &Volume) -> CliResult<Value> {
    Ok(serde_json::to_value(v).map_err(anyhow::Error::from)?)
}

fn inspect(engine: &Engine, a: VolumeInspectArgs) -> CliResult {
    need("volume inspect", &a.args, 1, None)?;
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for n in &a.args {
        match engine.volume_get(n) {
            Ok(v) => ok.push(to_value(&v)?),
            Err(e) => errors.push(e.message),
        }
    }
    super::image::print_inspect(&ok, a.format.as_deref())?;
    // The docker CLI stops at the first error and reports it as the
    // daemon's.
    if let Some(e) = errors.first() {
        eprintln!("Error response from daemon: {e}");
        return Err(CliError::Exit(1));
    }
    Ok(())
}

/// The docker CLI's volume formatter fields.
fn row(v: &Volume) -> Value {
    let labels = v.labels.clone().unwrap_or_default();
    let joined = labels
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "Availability": "N/A",
        "Driver": v.driver,
        "Group": "N/A",
        "Labels": joined,
        "Links": "N/A",
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Scope": v.scope,
        "Size": "N/A",
        "Status": "N/A",
    })
}

/// The docker CLI itself rejects a filter without `=`, as a flag error.
fn check_filter_format(path: &str, flag: &str, raw: &[String]) -> CliResult {
    let Some(bad) = raw.iter().find(|f| !f.is_empty() && !f.contains('=')) else {
        return Ok(());
    };
    let words: Vec<String> = path.split(' ').map(str::to_string).collect();
    Err(CliError::Coded(
        format!(
            "invalid argument \"{bad}\" for \"{flag}\" flag: bad format of filter (expected name=value)\n\nUsage:  {}\n\nRun 'berth {path} --help' for more information",
            crate::usage_of(&words)
        ),
        125,
    ))
}

fn list(engine: &Engine, a: VolumeLsArgs) -> CliResult {
    check_filter_format("volume ls", "-f, --filter", &a.filter)?;
    let filters = VolumeFilters::parse(&a.filter)?;
    let vols = engine.volume_list(&filters)?;
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for v in &vols {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(());
    }
    let format = a
        .format
        .unwrap_or_else(|| "table {{.Driver}}\t{{.Name}}".to_string());
    let headers = json!({
        "Availability": "AVAILABILITY", "Driver": "DRIVER", "Group": "GROUP",
        "Labels": "LABELS", "Links": "LINKS", "Mountpoint": "MOUNTPOINT",
        "Name": "VOLUME NAME", "Scope": "SCOPE", "Size": "SIZE", "Status": "STATUS",
    });
    let rows: Vec<Value> = vols.iter().map(row).collect();
    print_rows(&format, &headers, &rows)
}

fn remove(engine: &Engine, a: VolumeRmArgs) -> CliResult {
    need("volume rm", &a.args, 1, None)?;
    let mut failed = false;
    for n in &a.args {
        match engine.volume_remove(n, a.force) {
            Ok(()) => writeln!(std::io::stdout().lock(), "{n}")?,
            Err(e) => {
                eprintln!("Error response from daemon: {}", e.message);
                failed = true;
            }
        }
    }
    if failed {
        return Err(CliError::Exit(1));
    }
    Ok(())
}

fn prune(engine: &Engine, a: VolumePruneArgs) -> CliResult {
    use super::prune::{parse_filters, print_result, volumes_section};
    let filters = parse_filters(&a.filter, "volume prune")?;
    let warning = if a.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !a.force && !confirm(warning)? {
        return print_result("", 0);
    }
    // dockerd's volume prune takes `label` and `label!` only.
    filters.validate(&["label", "label!"])?;
    let (removed, reclaimed) = engine.volume_prune(a.all, &filters.volume_filters())?;
    let p = berth_engine::prune::Pruned { removed, reclaimed };
    print_result(&volumes_section(&p), p.reclaimed)
}
