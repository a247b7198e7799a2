//! `top`, `stats` and `port`, and the SIZE column of `ps -s`, printed as
//! the docker 20.10 CLI prints them (its column widths, go-units sizes,
//! percentages and error texts).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use berth_engine::containers::stats::{published_ports, Stats};
use berth_engine::containers::Record;
use berth_engine::{Engine, ErrorKind};
use serde_json::{json, Value};

use super::need;
use crate::cli::{NamesOnly, StatsArgs, TopArgs};
use crate::render::{self, Format};
use crate::{CliError, CliResult};

/// Go's text/tabwriter with `minwidth` and `padding` (spaces, no flags):
/// each tab-terminated cell is padded to its column's widest cell plus
/// `padding`, and at least `minwidth`; the text after a line's last tab is
/// not a column cell and stays as it is.
fn tabwrite(lines: &[String], minwidth: usize, padding: usize) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            if widths.len() <= i {
                widths.push(minwidth);
            }
            widths[i] = widths[i].max(c.chars().count() + padding);
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                out.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// `docker top CONTAINER [ps OPTIONS]`: the ps options go to the daemon
/// as one space-joined string, as the docker CLI sends them.
pub fn top(engine: &Engine, a: TopArgs, path: &str) -> CliResult {
    let Some(container) = a.container else {
        return need(path, &[], 1, None);
    };
    let t = engine.container_top(&container, &a.ps_args.join(" "))?;
    let mut lines = vec![t.titles.join("\t")];
    lines.extend(t.processes.iter().map(|p| p.join("\t")));
    // The docker CLI's writer for top: minwidth 20, padding 3.
    std::io::stdout()
        .lock()
        .write_all(tabwrite(&lines, 20, 3).as_bytes())?;
    Ok(())
}

/// The docker CLI's default `stats` table.
const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// The docker CLI's `StatsEntry`: what one sample shows.
#[derive(Debug, Clone, Default, PartialEq)]
struct Entry {
    container: String,
    name: String,
    id: String,
    cpu_percentage: f64,
    memory: f64,
    memory_limit: f64,
    memory_percentage: f64,
    network_rx: f64,
    network_tx: f64,
    block_read: f64,
    block_write: f64,
    pids_current: u64,
}

/// `calculateCPUPercentUnix`: the container's share of the system's CPU
/// time between two samples, scaled by the online CPUs.
fn cpu_percent(s: &Stats) -> f64 {
    let cpu_delta =
        s.cpu_stats.cpu_usage.total_usage as f64 - s.precpu_stats.cpu_usage.total_usage as f64;
    let system_delta = s.cpu_stats.system_cpu_usage as f64 - s.precpu_stats.system_cpu_usage as f64;
    let mut online = s.cpu_stats.online_cpus as f64;
    if online == 0.0 {
        online = s
            .cpu_stats
            .cpu_usage
            .percpu_usage
            .as_ref()
            .map_or(0, Vec::len) as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    }
}

/// `calculateMemUsageUnixNoCache` (docker 20.10): usage minus
/// `total_inactive_file` on cgroup v1, minus `inactive_file` on v2.
fn mem_usage_no_cache(s: &Stats) -> f64 {
    let m = &s.memory_stats;
    if let Some(&v) = m.stats.get("total_inactive_file") {
        if v < m.usage {
            return (m.usage - v) as f64;
        }
    }
    let v = m.stats.get("inactive_file").copied().unwrap_or(0);
    if v < m.usage {
        return (m.usage - v) as f64;
    }
    m.usage as f64
}

/// `calculateBlockIO`: bytes whose op starts with r/R are reads, w/W writes.
fn block_io(s: &Stats) -> (f64, f64) {
    let (mut r, mut w) = (0u64, 0u64);
    for e in s.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match e.op.bytes().next() {
            Some(b'r' | b'R') => r += e.value,
            Some(b'w' | b'W') => w += e.value,
            _ => {}
        }
    }
    (r as f64, w as f64)
}

fn entry(container: &str, s: &Stats) -> Entry {
    let memory = mem_usage_no_cache(s);
    let memory_limit = s.memory_stats.limit as f64;
    let (block_read, block_write) = block_io(s);
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s.networks.iter().flat_map(|n| n.values()) {
        rx += n.rx_bytes as f64;
        tx += n.tx_bytes as f64;
    }
    Entry {
        container: container.to_string(),
        name: s.name.clone(),
        id: s.id.clone(),
        cpu_percentage: cpu_percent(s),
        memory,
        memory_limit,
        memory_percentage: if memory_limit != 0.0 {
            memory / memory_limit * 100.0
        } else {
            0.0
        },
        network_rx: rx,
        network_tx: tx,
        block_read,
        block_write,
        pids_current: s.pids_stats.current,
    }
}

/// The template fields of the docker CLI's `statsContext`, keys sorted as
/// `{{json .}}` prints them.
fn stats_row(e: &Entry, trunc: bool) -> Value {
    let name = match e.name.get(1..) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => "--".to_string(),
    };
    let id = if trunc {
        e.id.chars().take(12).collect()
    } else {
        e.id.clone()
    };
    let pair = |a: f64, b: f64| {
        format!(
            "{} / {}",
            render::human_size_prec(a, 3),
            render::human_size_prec(b, 3)
        )
    };
    json!({
        "BlockIO": pair(e.block_read, e.block_write),
        "CPUPerc": format!("{:.2}%", e.cpu_percentage),
        "Container": e.container,
        "ID": id,
        "MemPerc": format!("{:.2}%", e.memory_percentage),
        "MemUsage": format!("{} / {}", render::bytes_size(e.memory), render::bytes_size(e.memory_limit)),
        "Name": name,
        "NetIO": pair(e.network_rx, e.network_tx),
        "PIDs": e.pids_current.to_string(),
    })
}

fn stats_headers() -> Value {
    json!({
        "BlockIO": "BLOCK I/O", "CPUPerc": "CPU %", "Container": "CONTAINER",
        "ID": "CONTAINER ID", "MemPerc": "MEM %", "MemUsage": "MEM USAGE / LIMIT",
        "Name": "NAME", "NetIO": "NET I/O", "PIDs": "PIDS",
    })
}

/// The containers to show: `(as shown in .Container, record)`. Named ones
/// must all exist (docker reports every missing one and shows nothing);
/// otherwise the running ones, or all with `-a`, by short ID.
fn stats_targets(engine: &Engine, a: &StatsArgs) -> CliResult<Vec<(String, Record)>> {
    if a.args.is_empty() {
        return Ok(engine
            .container_list()?
            .into_iter()
            .filter(|r| a.all || r.state.running)
            .map(|r| (r.short_id().to_string(), r))
            .collect());
    }
    let mut out: Vec<(String, Record)> = Vec::new();
    let mut errs = Vec::new();
    for name in &a.args {
        if out.iter().any(|(n, _)| n == name) {
            continue;
        }
        match engine.container_get(name) {
            Ok(r) => out.push((name.clone(), r)),
            Err(e) => errs.push(format!("Error response from daemon: {}", e.message)),
        }
    }
    if !errs.is_empty() {
        return Err(CliError::Plain(errs.join("\n")));
    }
    Ok(out)
}

/// `docker stats`: two samples one second apart give the CPU share (as
/// dockerd's collector does); `--no-stream` prints that once, otherwise a
/// new table follows every second (redrawn in place on a terminal) until
/// interrupted.
pub fn stats(engine: &Engine, a: StatsArgs, path: &str) -> CliResult {
    let _ = path;
    let format = match a.format.as_deref() {
        None | Some("") | Some("table") => STATS_TABLE.to_string(),
        Some(f) => f.to_string(),
    };
    Format::parse(&format)?;
    let tty = std::io::stdout().is_terminal();
    let sample = |targets: &[(String, Record)]| -> BTreeMap<String, Stats> {
        targets
            .iter()
            .map(|(_, r)| (r.id.clone(), engine.container_stats(r)))
            .collect()
    };
    let mut prev = sample(&stats_targets(engine, &a)?);
    let mut first = true;
    loop {
        if !first || prev.values().any(|s| s.cpu_stats.system_cpu_usage > 0) {
            std::thread::sleep(Duration::from_secs(1));
        }
        first = false;
        let targets = stats_targets(engine, &a)?;
        let mut now = sample(&targets);
        let mut rows = Vec::new();
        for (shown, r) in &targets {
            let Some(s) = now.get_mut(&r.id) else {
                continue;
            };
            if let Some(p) = prev.get(&r.id).filter(|p| p.cpu_stats.system_cpu_usage > 0) {
                s.follow(p);
            }
            rows.push(stats_row(&entry(shown, s), !a.no_trunc));
        }
        if !a.no_stream && tty {
            print!("\x1b[2J\x1b[H");
        }
        super::print_rows(&format, &stats_headers(), &rows)?;
        std::io::stdout().flush()?;
        if a.no_stream {
            return Ok(());
        }
        prev = now;
    }
}

/// `docker port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(engine: &Engine, a: NamesOnly, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(2))?;
    let name = &a.args[0];
    let rec = engine.container_get(name).map_err(|e| {
        if e.kind == ErrorKind::NotFound {
            CliError::Plain(format!("Error: {}", e.message))
        } else {
            CliError::Engine(e)
        }
    })?;
    let ports: berth_engine::networks::ports::PortSet = published_ports(&rec)
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    let wanted = a.args.get(1).map(String::as_str).filter(|w| !w.is_empty());
    let lines =
        berth_engine::networks::ports::port_lines(&ports, wanted, name).map_err(CliError::Plain)?;
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

/// The SIZE column (`.Size`): `<writable> (virtual <writable + image>)`,
/// go-units with three significant digits, as the docker CLI prints it.
pub fn size_text(engine: &Engine, r: &Record) -> String {
    let (rw, root_fs) = engine.container_size(r);
    let srw = render::human_size_prec(rw as f64, 3);
    if root_fs > 0 {
        format!(
            "{srw} (virtual {})",
            render::human_size_prec(root_fs as f64, 3)
        )
    } else {
        srw
    }
}

/// Whether a `ps --format` needs sizes: the docker CLI computes them when
/// the template uses `.Size`, or `json .`, which renders every field.
pub fn format_uses_size(format: Option<&str>) -> bool {
    let Some(f) = format else {
        return false;
    };
    let b = f.as_bytes();
    let field = f.match_indices(".Size").any(|(i, _)| {
        !b.get(i + 5)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    });
    let compact: String = f.chars().filter(|c| !c.is_whitespace()).collect();
    field || compact.contains("json.}}") || compact.contains("json.)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_engine::containers::stats::{BlkioEntry, BlkioStats, CpuStats, CpuUsage};

    fn sample() -> Stats {
        let rec: Record = serde_json::from_value(json!({
            "Id": "3a2f3612b4c9a89a816eac60cc9268c66ac4d03a98aa3b1f641fb8492b84b19c",
            "Created": "", "Path": "", "Args": [], "State": berth_engine::containers::State::default(),
            "Image": "", "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": "",
            "Name": "/t1", "RestartCount": 0, "Driver": "", "Platform": "", "MountLabel": "",
            "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": null,
            "HostConfig": berth_engine::containers::HostConfig::default(),
            "GraphDriver": {}, "Mounts": [], "Config": {}, "NetworkSettings": {}, "Berth": {}
        }))
        .unwrap();
        Stats::empty(&rec)
    }

    #[test]
    fn stopped_container_shows_zeros_like_docker() {
        let row = stats_row(&entry("t3", &sample()), true);
        let f = Format::parse(STATS_TABLE).unwrap();
        assert_eq!(
            f.render(&row).unwrap(),
            "3a2f3612b4c9\tt1\t0.00%\t0B / 0B\t0.00%\t0B / 0B\t0B / 0B\t0"
        );
        let lines = vec![f.render(&stats_headers()).unwrap(), f.render(&row).unwrap()];
        // Pinned from docker 20.10 (`docker stats --no-stream -a`).
        assert_eq!(
            render::tabwrite(&lines),
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS\n\
             3a2f3612b4c9   t1        0.00%     0B / 0B             0.00%     0B / 0B   0B / 0B     0\n"
        );
    }

    #[test]
    fn running_container_numbers_like_docker() {
        let mut s = sample();
        s.memory_stats.usage = 602_112;
        s.memory_stats.limit = 64 << 20;
        s.memory_stats
            .stats
            .insert("total_inactive_file".into(), 274_432);
        s.pids_stats.current = 2;
        s.cpu_stats = CpuStats {
            cpu_usage: CpuUsage {
                total_usage: 1_500_000_000,
                ..Default::default()
            },
            system_cpu_usage: 20_000_000_000,
            online_cpus: 2,
        };
        s.precpu_stats = CpuStats {
            cpu_usage: CpuUsage {
                total_usage: 1_000_000_000,
                ..Default::default()
            },
            system_cpu_usage: 18_000_000_000,
            online_cpus: 2,
        };
        s.blkio_stats = BlkioStats {
            io_service_bytes_recursive: Some(vec![
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: "Read".into(),
                    value: 4096,
                },
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: "Write".into(),
                    value: 1_048_576,
                },
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: "Total".into(),
                    value: 1_052_672,
                },
            ]),
        };
        let row = stats_row(&entry("t1", &s), false);
        assert_eq!(row["MemUsage"], "320KiB / 64MiB");
        assert_eq!(row["MemPerc"], "0.49%");
        assert_eq!(row["CPUPerc"], "50.00%");
        assert_eq!(row["BlockIO"], "4.1kB / 1.05MB");
        assert_eq!(row["PIDs"], "2");
        assert_eq!(row["Container"], "t1");
        assert_eq!(row["ID"].as_str().unwrap().len(), 64);
        // {{json .}} lists the fields sorted, as the docker CLI does.
        let f = Format::parse("{{json .}}").unwrap();
        assert!(f.render(&row).unwrap().starts_with(
            "{\"BlockIO\":\"4.1kB / 1.05MB\",\"CPUPerc\":\"50.00%\",\"Container\":\"t1\",\"ID\":"
        ));
    }

    #[test]
    fn top_columns_like_docker() {
        let out = tabwrite(
            &[
                "UID\tPID\tPPID\tC\tSTIME\tTTY\tTIME\tCMD".into(),
                "root\t15641\t15621\t1\t18:24\t?\t00:00:00\tsleep 300".into(),
            ],
            20,
            3,
        );
        // Pinned from docker 20.10's `docker top`.
        assert_eq!(
            out,
            "UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD\n\
             root                15641               15621               1                   18:24               ?                   00:00:00            sleep 300\n"
        );
    }

    #[test]
    fn port_errors_like_docker() {
        let none = berth_engine::networks::ports::PortSet::new();
        let err =
            |p: &str| berth_engine::networks::ports::port_lines(&none, Some(p), "c").unwrap_err();
        assert_eq!(err("80"), "Error: No public port '80/tcp' published for c");
        assert_eq!(
            err("080/udp"),
            "Error: No public port '080/udp' published for c"
        );
        assert_eq!(
            err("abc"),
            "strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            err("70000"),
            "strconv.ParseUint: parsing \"70000\": value out of range"
        );
    }

    #[test]
    fn size_in_format() {
        assert!(format_uses_size(Some("{{.Names}} {{.Size}}")));
        assert!(format_uses_size(Some("{{json .}}")));
        assert!(format_uses_size(Some("table {{.Size}}")));
        assert!(!format_uses_size(Some("{{.Names}}")));
        assert!(!format_uses_size(Some("{{.SizeRw}}")));
        assert!(!format_uses_size(None));
    }
}
