//! version, info, completion and the store check.

use std::io::Write;

use berth_engine::system::{ContainerUsage, DiskUsage, API_VERSION};
use berth_engine::Engine;
use clap::CommandFactory;
use serde_json::{json, Value};

use crate::cli::{Cli, FormatOnly};
use crate::render::{self, Format};
use crate::{CliError, CliResult};

fn os_arch() -> String {
    format!(
        "linux/{}",
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        }
    )
}

pub fn version(_engine: &Engine, a: FormatOnly) -> CliResult {
    let v = env!("CARGO_PKG_VERSION");
    let data = json!({
        "Client": {"Platform": {"Name": "berth"}, "Version": v, "ApiVersion": API_VERSION,
                   "Os": "linux", "Arch": os_arch().trim_start_matches("linux/"), "Context": "default"},
        "Server": {"Platform": {"Name": "berth (daemonless)"}, "Version": v, "ApiVersion": API_VERSION,
                   "MinAPIVersion": "1.24", "Os": "linux", "Arch": os_arch().trim_start_matches("linux/"),
                   "KernelVersion": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()},
    });
    if let Some(f) = a.format {
        println!("{}", Format::parse(&f)?.render(&data)?);
        return Ok(());
    }
    let oa = os_arch();
    println!(
        "Client:\n Version:           {v}\n API version:       {API_VERSION}\n OS/Arch:           {oa}\n Context:           default\n\nServer: berth (daemonless)\n Engine:\n  Version:          {v}\n  API version:      {API_VERSION} (minimum version 1.24)\n  OS/Arch:          {oa}"
    );
    Ok(())
}

pub fn info(engine: &Engine, a: FormatOnly) -> CliResult {
    let i = engine.info()?;
    if let Some(f) = a.format {
        let v = serde_json::to_value(&i).map_err(anyhow::Error::from)?;
        println!("{}", Format::parse(&f)?.render(&v)?);
        return Ok(());
    }
    let mut o = std::io::stdout().lock();
    writeln!(o, "Client:\n Context:    default\n Debug Mode: false\n")?;
    writeln!(o, "Server:")?;
    writeln!(o, " Containers: {}", i.containers)?;
    writeln!(
        o,
        "  Running: {}\n  Paused: {}\n  Stopped: {}",
        i.containers_running, i.containers_paused, i.containers_stopped
    )?;
    writeln!(o, " Images: {}", i.images)?;
    writeln!(o, " Server Version: {}", i.server_version)?;
    writeln!(o, " Storage Driver: {}", i.driver)?;
    writeln!(o, " Cgroup Driver: {}", i.cgroup_driver)?;
    writeln!(o, " Cgroup Version: {}", i.cgroup_version)?;
    writeln!(o, " Kernel Version: {}", i.kernel_version)?;
    writeln!(o, " Operating System: {}", i.operating_system)?;
    writeln!(o, " OSType: {}", i.os_type)?;
    writeln!(o, " Architecture: {}", i.architecture)?;
    writeln!(o, " CPUs: {}", i.ncpu)?;
    writeln!(
        o,
        " Total Memory: {}",
        render::bytes_size(i.mem_total as f64)
    )?;
    writeln!(o, " Name: {}", i.name)?;
    writeln!(o, " Docker Root Dir: {}", i.docker_root_dir)?;
    writeln!(o, " Exec Root: {}", i.exec_root)?;
    Ok(())
}

pub fn completion(shell: clap_complete::Shell) -> CliResult {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "berth", &mut std::io::stdout());
    Ok(())
}

pub fn check_store(engine: &Engine) -> CliResult {
    let problems = engine.check_store()?;
    if problems.is_empty() {
        println!("store is consistent");
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    Err(CliError::Exit(1))
}

const DF_TABLE: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
const DF_RAW: &str =
    "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n";
const DF_IMAGES: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.VirtualSize}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const DF_CONTAINERS: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
const DF_VOLUMES: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
const DF_CACHE: &str = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}";

/// go-units `HumanSize` (4 significant digits), what `system df` prints.
fn hs(n: u64) -> String {
    render::human_size(n as f64)
}

/// The docker CLI's RECLAIMABLE: a percentage of the total when there is
/// a total.
fn reclaimable(part: u64, total: u64) -> String {
    match (part * 100).checked_div(total) {
        Some(pct) => format!("{} ({pct}%)", hs(part)),
        None => hs(part),
    }
}

/// Build cache bytes `system df` counts: records not shared with images.
fn builder_size(du: &DiskUsage) -> u64 {
    du.cache
        .iter()
        .filter(|c| !c.shared)
        .map(|c| c.record.size)
        .sum()
}

/// The four summary rows, computed from the per-item data as the docker
/// CLI computes them.
fn summary_rows(du: &DiskUsage) -> Vec<Value> {
    let row = |kind: &str, total: usize, active: usize, size: String, recl: String| {
        json!({"Active": active.to_string(), "Reclaimable": recl, "Size": size,
               "TotalCount": total.to_string(), "Type": kind})
    };
    // Images: bytes of images in use, minus layers shared with others.
    let used: i64 = du
        .images
        .iter()
        .filter(|i| i.containers > 0 && i.virtual_size >= 0 && i.shared_size >= 0)
        .map(|i| i.virtual_size - i.shared_size)
        .sum();
    let images_reclaimable = (du.layers_size as i64 - used).max(0) as u64;
    // Containers: running, paused and restarting ones are active.
    let active = |c: &ContainerUsage| c.record.state.running || c.record.state.restarting;
    let c_size: u64 = du.containers.iter().map(|c| c.size_rw).sum();
    let c_recl: u64 = du
        .containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| c.size_rw)
        .sum();
    let v_size: u64 = du.volumes.iter().map(|v| v.size).sum();
    let v_recl: u64 = du
        .volumes
        .iter()
        .filter(|v| v.ref_count == 0)
        .map(|v| v.size)
        .sum();
    let b_size = builder_size(du);
    vec![
        row(
            "Images",
            du.images.len(),
            du.images.iter().filter(|i| i.containers > 0).count(),
            hs(du.layers_size),
            reclaimable(images_reclaimable, du.layers_size),
        ),
        row(
            "Containers",
            du.containers.len(),
            du.containers.iter().filter(|c| active(c)).count(),
            hs(c_size),
            reclaimable(c_recl, c_size),
        ),
        row(
            "Local Volumes",
            du.volumes.len(),
            du.volumes.iter().filter(|v| v.ref_count > 0).count(),
            hs(v_size),
            reclaimable(v_recl, v_size),
        ),
        // Nothing of berth's build cache is ever in use between builds.
        row("Build Cache", du.cache.len(), 0, hs(b_size), hs(b_size)),
    ]
}

/// Go's `time.Time.String()` of an RFC 3339 time, in UTC, with the
/// fraction (trailing zeros dropped) as the docker CLI prints cache times.
fn go_time_nanos(t: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) else {
        return String::new();
    };
    let t = t.with_timezone(&chrono::Utc);
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let dot = if frac.is_empty() { "" } else { "." };
    format!("{}{dot}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

fn ago(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| {
            format!(
                "{} ago",
                render::human_duration(chrono::Utc::now() - t.with_timezone(&chrono::Utc))
            )
        })
        .unwrap_or_default()
}

fn image_rows(du: &DiskUsage, trunc: bool) -> Vec<Value> {
    du.images
        .iter()
        .map(|i| {
            // Only the first tag, as the docker CLI shows it.
            let (repo, tag) = i
                .repo_tags
                .as_ref()
                .and_then(|t| t.first())
                .and_then(|t| t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')))
                .unwrap_or(("<none>", "<none>"));
            let id = if trunc {
                i.id.trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect()
            } else {
                i.id.clone()
            };
            json!({
                "Containers": i.containers.to_string(),
                "CreatedAt": render::go_time_string(i.created),
                "CreatedSince": render::since(i.created),
                "Digest": "",
                "ID": id,
                "Repository": repo,
                "SharedSize": render::human_size(i.shared_size as f64),
                "Size": render::human_size_prec(i.size as f64, 3),
                "Tag": tag,
                "UniqueSize": render::human_size((i.virtual_size - i.shared_size) as f64),
                "VirtualSize": render::human_size(i.virtual_size as f64),
            })
        })
        .collect()
}

fn volume_rows(du: &DiskUsage) -> Vec<Value> {
    du.volumes
        .iter()
        .map(|u| {
            let v = &u.volume;
            let labels = v
                .labels
                .iter()
                .flatten()
                .map(|(k, val)| format!("{k}={val}"))
                .collect::<Vec<_>>()
                .join(",");
            json!({
                "Driver": v.driver,
                "Labels": labels,
                "Links": u.ref_count.to_string(),
                "Mountpoint": v.mountpoint,
                "Name": v.name,
                "Scope": v.scope,
                "Size": hs(u.size),
            })
        })
        .collect()
}

fn cache_rows(du: &DiskUsage, trunc: bool) -> Vec<Value> {
    du.cache
        .iter()
        .map(|c| {
            let r = &c.record;
            let created = r.created_at.as_deref().unwrap_or(&r.last_used);
            let id: String = r.key.chars().take(if trunc { 12 } else { 25 }).collect();
            json!({
                "CacheType": "regular",
                "CreatedAt": go_time_nanos(created),
                "CreatedSince": ago(created),
                "Description": r.description,
                "ID": id,
                "InUse": "false",
                "LastUsedAt": go_time_nanos(&r.last_used),
                "LastUsedSince": ago(&r.last_used),
                "Parent": "",
                "Shared": c.shared.to_string(),
                "Size": render::human_size_prec(r.size as f64, 3),
                "UsageCount": "1",
            })
        })
        .collect()
}

/// `system df`: Docker's four rows (TYPE TOTAL ACTIVE SIZE RECLAIMABLE);
/// `-v` lists images, containers, volumes and build cache one by one.
pub fn df(engine: &Engine, a: crate::cli::DfArgs) -> CliResult {
    super::need("system df", &a.args, 0, Some(0))?;
    let du = engine.system_df()?;
    let format = a.format.as_deref().unwrap_or("");
    if a.verbose {
        return df_verbose(engine, &du, format);
    }
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE",
        "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    let format = match format {
        "" | "table" => DF_TABLE,
        "raw" => DF_RAW,
        f => f,
    };
    super::print_rows(format, &headers, &summary_rows(&du))
}

/// `system df -v`: the four tables; any other format runs once over the
/// whole (`{{json .}}`: `Images`, `Containers`, `Volumes`, `BuildCache`),
/// with no newline after it, as the docker CLI does.
fn df_verbose(engine: &Engine, du: &DiskUsage, format: &str) -> CliResult {
    let trunc = format.is_empty() || format.starts_with("table");
    let images = image_rows(du, trunc);
    let containers: Vec<Value> = du
        .containers
        .iter()
        .map(|c| {
            let size = render::human_size_prec(c.size_rw as f64, 3);
            super::container::container_row(engine, &c.record, trunc, size)
        })
        .collect();
    let volumes = volume_rows(du);
    let cache = cache_rows(du, trunc);
    let mut out = std::io::stdout().lock();
    match format {
        "" | "table" => {
            let table = |out: &mut std::io::StdoutLock, f: &str, h: Value, rows: &[Value]| {
                let f = Format::parse(f)?;
                let mut lines = vec![f.render(&h)?];
                for r in rows {
                    lines.push(f.render(r)?);
                }
                out.write_all(render::tabwrite(&lines).as_bytes())?;
                CliResult::Ok(())
            };
            write!(out, "Images space usage:\n\n")?;
            table(
                &mut out,
                DF_IMAGES,
                json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
                    "CreatedSince": "CREATED", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
                    "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}),
                &images,
            )?;
            write!(out, "\nContainers space usage:\n\n")?;
            table(
                &mut out,
                DF_CONTAINERS,
                json!({"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
                    "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "RunningFor": "CREATED",
                    "Status": "STATUS", "Names": "NAMES"}),
                &containers,
            )?;
            write!(out, "\nLocal Volumes space usage:\n\n")?;
            table(
                &mut out,
                DF_VOLUMES,
                json!({"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}),
                &volumes,
            )?;
            write!(out, "\nBuild cache usage: {}\n\n", hs(builder_size(du)))?;
            table(
                &mut out,
                DF_CACHE,
                json!({"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE",
                    "CreatedSince": "CREATED", "LastUsedSince": "LAST USED",
                    "UsageCount": "USAGE", "Shared": "SHARED"}),
                &cache,
            )?;
        }
        "raw" => {
            let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
            // Go's `pad`: a space before a value, none for an empty one.
            let pad = |v: &Value, k: &str| {
                let x = s(v, k);
                if x.is_empty() {
                    x
                } else {
                    format!(" {x}")
                }
            };
            for i in &images {
                write!(
                    out,
                    "type: Image\nrepository: {}\ntag: {}\ndigest: {}\nimage_id: {}\ncreated_at: {}\nvirtual_size: {}\n\n",
                    s(i, "Repository"), s(i, "Tag"), s(i, "Digest"), s(i, "ID"), s(i, "CreatedAt"), s(i, "Size")
                )?;
            }
            for c in &containers {
                write!(
                    out,
                    "type: Container\ncontainer_id: {}\nimage: {}\ncommand: {}\ncreated_at: {}\nstate:{}\nstatus:{}\nnames: {}\nlabels:{}\nports:{}\nsize: {}\n\n",
                    s(c, "ID"), s(c, "Image"), s(c, "Command"), s(c, "CreatedAt"), pad(c, "State"),
                    pad(c, "Status"), s(c, "Names"), pad(c, "Labels"), pad(c, "Ports"), s(c, "Size")
                )?;
            }
            for v in &volumes {
                write!(
                    out,
                    "type: Volume\nname: {}\ndriver: {}\n\n",
                    s(v, "Name"),
                    s(v, "Driver")
                )?;
            }
            for c in &cache {
                write!(
                    out,
                    "type: Build Cache\nbuild_cache_id: {}\nparent_id: {}\nbuild_cache_type: {}\ndescription: {}\ncreated_at: {}\ncreated_since: {}\nlast_used_at: {}\nlast_used_since: {}\nusage_count: {}\nin_use: {}\nshared: {}\n\n",
                    s(c, "ID"), s(c, "Parent"), s(c, "CacheType"), s(c, "Description"), s(c, "CreatedAt"),
                    s(c, "CreatedSince"), s(c, "LastUsedAt"), s(c, "LastUsedSince"), s(c, "UsageCount"),
                    s(c, "InUse"), s(c, "Shared")
                )?;
            }
        }
        f => {
            let doc = json!({"Images": images, "Containers": containers,
                "Volumes": volumes, "BuildCache": cache});
            write!(out, "{}", Format::parse(f)?.render(&doc)?)?;
        }
    }
    Ok(())
}
