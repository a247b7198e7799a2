//! What a container is doing and holding: its processes (`top`), its
//! resource usage read straight from its cgroups (`stats`), the disk its
//! writable layer uses (`ps -s`) and its published ports (`port`).
//!
//! Everything here reads the host as dockerd does through containerd:
//! `ps` filtered by the cgroup's pids, cgroup v1 controller files or their
//! v2 equivalents, `/proc/stat` for the system's CPU time and the
//! container's `/proc/<pid>/net/dev` for its interfaces.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use berth_runtime::{cgroups, driver};
use serde::{Deserialize, Serialize};

use super::{cgroups_path, Record};
use crate::{Engine, Error, ErrorKind, Result};

/// `GET /containers/{id}/top`'s body.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Top {
    #[serde(rename = "Titles")]
    pub titles: Vec<String>,
    #[serde(rename = "Processes")]
    pub processes: Vec<Vec<String>>,
}

/// One entry of `blkio_stats.io_service_bytes_recursive`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CpuUsage {
    pub total_usage: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    #[serde(skip_serializing_if = "is_zero")]
    pub system_cpu_usage: u64,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub online_cpus: u32,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_usage: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// `GET /containers/{id}/stats`'s body (Docker's `StatsJSON`), Linux part.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub read: String,
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    pub name: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

impl Stats {
    /// The empty document dockerd returns for a container that is not running.
    pub fn empty(rec: &Record) -> Stats {
        Stats {
            read: super::record::ZERO_TIME.into(),
            preread: super::record::ZERO_TIME.into(),
            pids_stats: PidsStats::default(),
            blkio_stats: BlkioStats::default(),
            cpu_stats: CpuStats::default(),
            precpu_stats: CpuStats::default(),
            memory_stats: MemoryStats::default(),
            name: rec.name.clone(),
            id: rec.id.clone(),
            networks: None,
        }
    }

    /// Take `prev`'s CPU sample as this one's `precpu_stats`, as dockerd's
    /// collector does between two ticks.
    pub fn follow(&mut self, prev: &Stats) {
        self.precpu_stats = prev.cpu_stats.clone();
        self.preread = prev.read.clone();
    }
}

/// One published port binding (`NetworkSettings.Ports["80/tcp"][i]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortBinding {
    #[serde(rename = "HostIp", default)]
    pub host_ip: String,
    #[serde(rename = "HostPort", default)]
    pub host_port: String,
}

impl Engine {
    /// `docker top CONTAINER [ps OPTIONS]`: dockerd's way -- run the host's
    /// `ps` and keep the rows whose PID is in the container's cgroup.
    pub fn container_top(&self, input: &str, ps_args: &str) -> Result<Top> {
        let ps_args = if ps_args.is_empty() { "-ef" } else { ps_args };
        validate_ps_args(ps_args)?;
        let rec = self.container_get(input)?;
        if !rec.state.running {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let pids = container_pids(&rec.id);
        let args: Vec<&str> = ps_args.split(' ').collect();
        let q = format!(
            "-q{}",
            pids.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let run = |extra: Option<&str>| {
            let mut c = std::process::Command::new("ps");
            c.args(&args);
            if let Some(e) = extra {
                c.arg(e);
            }
            c.stdin(std::process::Stdio::null()).output()
        };
        let output = match run(Some(&q)) {
            Ok(o) if o.status.success() => o.stdout,
            // Some ps options (such as f) cannot go with q: retry without.
            _ => match run(None) {
                Ok(o) if o.status.success() => o.stdout,
                Ok(o) => {
                    let stderr = String::from_utf8_lossy(&o.stderr);
                    let first = stderr.split('\n').next().unwrap_or("");
                    let why = if first.is_empty() {
                        match o.status.code() {
                            Some(c) => format!("exit status {c}"),
                            None => "signal: killed".to_string(),
                        }
                    } else {
                        first.to_string()
                    };
                    return Err(Error::new(ErrorKind::Internal, format!("ps: {why}")));
                }
                Err(e) => {
                    let why = if e.kind() == std::io::ErrorKind::NotFound {
                        "exec: \"ps\": executable file not found in $PATH".to_string()
                    } else {
                        e.to_string()
                    };
                    return Err(Error::new(ErrorKind::Internal, format!("ps: {why}")));
                }
            },
        };
        parse_ps_output(&String::from_utf8_lossy(&output), &pids)
    }

    /// One sample of a container's resource usage; the empty document for
    /// a container that is not running. `rec` should be fresh
    /// ([`Engine::container_get`] or [`Engine::container_list`]).
    pub fn container_stats(&self, rec: &Record) -> Stats {
        if !rec.state.running {
            return Stats::empty(rec);
        }
        let dirs = cgroups::dirs(&cgroups_path(&rec.id));
        let (system, online) = system_cpu();
        let mut s = Stats::empty(rec);
        s.read = berth_image::config::go_rfc3339_nano(&chrono::Utc::now());
        s.cpu_stats = cpu_stats(&dirs);
        s.cpu_stats.system_cpu_usage = system;
        s.cpu_stats.online_cpus = online;
        s.memory_stats = memory_stats(&dirs);
        s.blkio_stats = blkio_stats(&dirs);
        s.pids_stats = pids_stats(&dirs);
        let pid = rec.state.pid as i32;
        if driver::alive(pid, rec.private.init_start) {
            s.networks = network_stats(pid);
        }
        s
    }

    /// The container's disk use as dockerd reports it: `(SizeRw,
    /// SizeRootFs)`, the bytes in its writable layer and those plus its
    /// image's layers.
    pub fn container_size(&self, rec: &Record) -> (i64, i64) {
        let rw = dir_size(&self.layout.container_upper(&rec.id)) as i64;
        let image = berth_store::Digest::parse(&rec.image)
            .ok()
            .and_then(|d| self.images.load(&d).ok())
            .map(|img| self.images.size(&img) as i64)
            .unwrap_or(0);
        (rw, image + rw)
    }
}

/// A container's published ports, `NetworkSettings.Ports` as the docker
/// CLI reads it: `("80/tcp", [0.0.0.0:8080, ...])`, in port order. Only a
/// running container has them; ports bound to a fixed host port in
/// `HostConfig.PortBindings` count too when the network setup did not
/// report them.
pub fn published_ports(rec: &Record) -> Vec<(String, Vec<PortBinding>)> {
    if !rec.state.running {
        return Vec::new();
    }
    let mut out: BTreeMap<(u32, String), Vec<PortBinding>> = BTreeMap::new();
    let parse = |v: &serde_json::Value| -> Option<Vec<PortBinding>> {
        serde_json::from_value::<Option<Vec<PortBinding>>>(v.clone())
            .ok()
            .flatten()
    };
    let key = |p: &str| {
        let num = p
            .split(['/', '-'])
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        (num, p.to_string())
    };
    if let Some(ports) = rec
        .network_settings
        .get("Ports")
        .and_then(|p| p.as_object())
    {
        for (p, v) in ports {
            if let Some(b) = parse(v) {
                out.insert(key(p), b);
            }
        }
    }
    if let Some(bindings) = rec.host_config.port_bindings.as_object() {
        for (p, v) in bindings {
            if out.contains_key(&key(p)) {
                continue;
            }
            let fixed: Vec<PortBinding> = parse(v)
                .unwrap_or_default()
                .into_iter()
                .filter(|b| !b.host_port.is_empty())
                .map(|b| PortBinding {
                    host_ip: if b.host_ip.is_empty() {
                        "0.0.0.0".into()
                    } else {
                        b.host_ip
                    },
                    host_port: b.host_port,
                })
                .collect();
            if !fixed.is_empty() {
                out.insert(key(p), fixed);
            }
        }
    }
    out.into_iter().map(|((_, p), b)| (p, b)).collect()
}

/// dockerd's `validatePSArgs`: `-o user=PID` would relabel another column
/// as PID and fool the filter, so only `pid=PID...` may name a PID column.
/// (The regexp `\s+([^\s]*)=\s*(PID[^\s]*)`, matched by hand.)
fn validate_ps_args(args: &str) -> Result<()> {
    let b = args.as_bytes();
    let ws = |c: u8| matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let mut i = 0;
    while i < b.len() {
        if !ws(b[i]) {
            i += 1;
            continue;
        }
        let mut start = i;
        while start < b.len() && ws(b[start]) {
            start += 1;
        }
        let mut end = start;
        while end < b.len() && !ws(b[end]) {
            end += 1;
        }
        // Greedy: the last '=' in the token that is followed by PID.
        let mut found = None;
        for eq in (start..end).rev().filter(|&p| b[p] == b'=') {
            let mut v = eq + 1;
            while v < b.len() && ws(b[v]) {
                v += 1;
            }
            if b[v..].starts_with(b"PID") {
                let mut ve = v;
                while ve < b.len() && !ws(b[ve]) {
                    ve += 1;
                }
                found = Some((&args[start..eq], &args[v..ve], ve));
                break;
            }
        }
        match found {
            Some((k, v, next)) => {
                if k != "pid" {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        format!("specifying \"{k}={v}\" is not allowed"),
                    ));
                }
                i = next;
            }
            None => i = end,
        }
    }
    Ok(())
}

fn fields_ascii(s: &str) -> Vec<&str> {
    s.split(['\t', '\n', '\x0c', '\r', ' '])
        .filter(|f| !f.is_empty())
        .collect()
}

/// dockerd's `parsePSOutput`: the header's fields are the titles; rows are
/// kept when their PID is the container's (thread rows with PID `-` follow
/// their process); fields beyond the titles are joined into the last.
fn parse_ps_output(output: &str, pids: &BTreeSet<i32>) -> Result<Top> {
    let mut lines = output.split('\n');
    let titles: Vec<String> = fields_ascii(lines.next().unwrap_or(""))
        .into_iter()
        .map(str::to_string)
        .collect();
    let Some(pid_index) = titles.iter().position(|t| t == "PID") else {
        return Err(Error::new(
            ErrorKind::Internal,
            "Couldn't find PID field in ps output",
        ));
    };
    let mut top = Top {
        titles,
        processes: Vec::new(),
    };
    let n = top.titles.len();
    let mut push = |fields: &[&str]| {
        if fields.len() < n {
            let mut row: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
            row.resize(n, String::new());
            top.processes.push(row);
            return;
        }
        let mut row: Vec<String> = fields[..n - 1].iter().map(|s| s.to_string()).collect();
        row.push(fields[n - 1..].join(" "));
        top.processes.push(row);
    };
    let mut in_container = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let fields = fields_ascii(line);
        let Some(p) = fields.get(pid_index) else {
            continue;
        };
        if *p == "-" {
            if in_container {
                push(&fields);
            }
            continue;
        }
        let pid: i32 = p.parse().map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                format!("Unexpected pid '{p}': strconv.Atoi: parsing \"{p}\": invalid syntax"),
            )
        })?;
        in_container = pids.contains(&pid);
        if in_container {
            push(&fields);
        }
    }
    Ok(top)
}

/// Every pid in the container's cgroup (and cgroups below it), in any
/// hierarchy.
fn container_pids(id: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<PathBuf> = cgroups::dirs(&cgroups_path(id));
    while let Some(d) = stack.pop() {
        out.extend(cgroups::pids(&d));
        if let Ok(rd) = std::fs::read_dir(&d) {
            stack.extend(
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    out
}

/// The first of the container's cgroup directories that has `file`.
fn read_cg(dirs: &[PathBuf], file: &str) -> Option<String> {
    dirs.iter()
        .find_map(|d| std::fs::read_to_string(d.join(file)).ok())
}

fn read_u64(dirs: &[PathBuf], file: &str) -> Option<u64> {
    read_cg(dirs, file)?.trim().parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat).
fn flat_keyed(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let k = w.next()?;
            let v = w.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// USER_HZ, the unit of /proc/stat and cpuacct.stat: fixed at 100 by the
/// kernel's ABI on every architecture berth runs on.
const CLOCK_TICKS: u64 = 100;
const NANOS: u64 = 1_000_000_000;

/// The system's CPU time in nanoseconds (the first seven fields of
/// /proc/stat's `cpu` line, as dockerd sums them) and the online CPUs.
fn system_cpu() -> (u64, u32) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    parse_proc_stat(&stat)
}

fn parse_proc_stat(stat: &str) -> (u64, u32) {
    let mut total = 0;
    let mut online = 0;
    for line in stat.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("cpu") => {
                let ticks: u64 = w.take(7).filter_map(|v| v.parse::<u64>().ok()).sum();
                total = ticks * NANOS / CLOCK_TICKS;
            }
            Some(c) if c.starts_with("cpu") && c[3..].bytes().all(|b| b.is_ascii_digit()) => {
                online += 1;
            }
            _ => {}
        }
    }
    (total, online)
}

fn cpu_stats(dirs: &[PathBuf]) -> CpuStats {
    let mut c = CpuStats::default();
    if let Some(total) = read_u64(dirs, "cpuacct.usage") {
        // cgroup v1
        c.cpu_usage.total_usage = total;
        if let Some(s) = read_cg(dirs, "cpuacct.stat") {
            let m = flat_keyed(&s);
            let ns = |k: &str| m.get(k).copied().unwrap_or(0) * NANOS / CLOCK_TICKS;
            c.cpu_usage.usage_in_usermode = ns("user");
            c.cpu_usage.usage_in_kernelmode = ns("system");
        }
        c.cpu_usage.percpu_usage = read_cg(dirs, "cpuacct.usage_percpu").map(|s| {
            s.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        });
    } else if let Some(s) = read_cg(dirs, "cpu.stat").filter(|s| s.contains("usage_usec")) {
        // cgroup v2
        let m = flat_keyed(&s);
        let ns = |k: &str| m.get(k).copied().unwrap_or(0) * 1000;
        c.cpu_usage.total_usage = ns("usage_usec");
        c.cpu_usage.usage_in_usermode = ns("user_usec");
        c.cpu_usage.usage_in_kernelmode = ns("system_usec");
    }
    c
}

/// The host's memory, dockerd's cap for a limit that is unlimited.
fn machine_memory() -> u64 {
    let m = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    m.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn memory_stats(dirs: &[PathBuf]) -> MemoryStats {
    let mut m = MemoryStats::default();
    if let Some(usage) = read_u64(dirs, "memory.usage_in_bytes") {
        // cgroup v1
        m.usage = usage;
        m.max_usage = read_u64(dirs, "memory.max_usage_in_bytes").unwrap_or(0);
        m.limit = read_u64(dirs, "memory.limit_in_bytes").unwrap_or(u64::MAX);
        m.stats = read_cg(dirs, "memory.stat")
            .map(|s| flat_keyed(&s))
            .unwrap_or_default();
    } else if let Some(usage) = read_u64(dirs, "memory.current") {
        // cgroup v2
        m.usage = usage;
        m.limit = read_cg(dirs, "memory.max")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u64::MAX);
        m.stats = read_cg(dirs, "memory.stat")
            .map(|s| flat_keyed(&s))
            .unwrap_or_default();
    }
    let machine = machine_memory();
    if machine > 0 && m.limit > machine {
        m.limit = machine;
    }
    m
}

fn blkio_stats(dirs: &[PathBuf]) -> BlkioStats {
    let dev = |d: &str| -> Option<(u64, u64)> {
        let (a, b) = d.split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    let mut entries = Vec::new();
    if let Some(s) = read_cg(dirs, "blkio.throttle.io_service_bytes") {
        // cgroup v1: "8:0 Read 4096" lines, then "Total N".
        for line in s.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [d, op, v] = f[..] {
                if let (Some((major, minor)), Ok(value)) = (dev(d), v.parse()) {
                    entries.push(BlkioEntry {
                        major,
                        minor,
                        op: op.to_string(),
                        value,
                    });
                }
            }
        }
    } else if let Some(s) = read_cg(dirs, "io.stat") {
        // cgroup v2: "8:0 rbytes=4096 wbytes=0 rios=1 ..."
        for line in s.lines() {
            let mut w = line.split_whitespace();
            let Some((major, minor)) = w.next().and_then(dev) else {
                continue;
            };
            let kv: BTreeMap<&str, u64> = w
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k, v.parse().ok()?))
                })
                .collect();
            for (op, key) in [("read", "rbytes"), ("write", "wbytes")] {
                entries.push(BlkioEntry {
                    major,
                    minor,
                    op: op.into(),
                    value: kv.get(key).copied().unwrap_or(0),
                });
            }
        }
    } else {
        return BlkioStats::default();
    }
    BlkioStats {
        io_service_bytes_recursive: Some(entries),
    }
}

fn pids_stats(dirs: &[PathBuf]) -> PidsStats {
    PidsStats {
        current: read_u64(dirs, "pids.current").unwrap_or(0),
        limit: read_cg(dirs, "pids.max")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
    }
}

/// The container's interfaces but loopback, from its network namespace;
/// none when it shares the host's namespace (dockerd reports none then).
fn network_stats(pid: i32) -> Option<BTreeMap<String, NetworkStats>> {
    let ns = |p: &str| {
        std::fs::metadata(p).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        })
    };
    let mine = ns(&format!("/proc/{pid}/ns/net"))?;
    if Some(mine) == ns("/proc/1/ns/net") || Some(mine) == ns("/proc/self/ns/net") {
        return None;
    }
    let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    Some(parse_net_dev(&dev))
}

fn parse_net_dev(dev: &str) -> BTreeMap<String, NetworkStats> {
    let mut out = BTreeMap::new();
    for line in dev.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if v.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    out
}

/// Docker's `directory.Size`: the sizes of everything but directories,
/// symlinks counted as links, each hard-linked inode once.
pub fn dir_size(root: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = BTreeSet::new();
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
                continue;
            }
            if m.len() == 0 || !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            total += m.len();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_args_like_dockerd() {
        assert!(validate_ps_args("-ef").is_ok());
        assert!(validate_ps_args("-o pid=PID,comm").is_ok());
        assert!(validate_ps_args("aux").is_ok());
        assert_eq!(
            validate_ps_args("-o user=PID").unwrap_err().message,
            "specifying \"user=PID\" is not allowed"
        );
        assert_eq!(
            validate_ps_args("-o user= PIDX").unwrap_err().message,
            "specifying \"user=PIDX\" is not allowed"
        );
        assert_eq!(
            validate_ps_args("-o pid=PID,user=PID").unwrap_err().message,
            "specifying \"pid=PID,user=PID\" is not allowed"
        );
        // Not preceded by whitespace: the regexp does not match.
        assert!(validate_ps_args("user=PID").is_ok());
    }

    #[test]
    fn ps_output_filtered_by_pid() {
        let out = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                   root           1       0  0 10:00 ?        00:00:01 /sbin/init\n\
                   root         100      90  0 10:01 ?        00:00:00 sleep 30 with  args\n\
                   root         101     100  0 10:01 ?        00:00:00 sh\n";
        let pids: BTreeSet<i32> = [100, 101].into_iter().collect();
        let top = parse_ps_output(out, &pids).unwrap();
        assert_eq!(
            top.titles,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(top.processes.len(), 2);
        assert_eq!(top.processes[0][7], "sleep 30 with args");
        assert_eq!(top.processes[1][1], "101");
        let e = parse_ps_output("COMMAND\nsleep\n", &pids).unwrap_err();
        assert_eq!(e.message, "Couldn't find PID field in ps output");
        // Thread rows (PID "-") follow the process they belong to.
        let t = "PID LWP CMD\n100 - sleep\n- 100 -\n5 - init\n- 5 -\n";
        let top = parse_ps_output(t, &pids).unwrap();
        assert_eq!(top.processes.len(), 2);
    }

    #[test]
    fn proc_stat_and_net_dev() {
        let stat = "cpu  100 0 50 1000 10 0 5 7 0 0\ncpu0 50 0 25 500 5 0 2 3 0 0\ncpu1 50 0 25 500 5 0 3 4 0 0\nintr 1\n";
        let (total, online) = parse_proc_stat(stat);
        assert_eq!(total, 1165 * NANOS / CLOCK_TICKS);
        assert_eq!(online, 2);
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n  eth0:    1500      10    1    2    0     0          0         0     2500      20    3    4    0     0       0          0\n";
        let n = parse_net_dev(dev);
        assert_eq!(n.len(), 1);
        assert_eq!(n["eth0"].rx_bytes, 1500);
        assert_eq!(n["eth0"].tx_bytes, 2500);
        assert_eq!(n["eth0"].tx_dropped, 4);
    }

    #[test]
    fn dir_size_counts_hardlinks_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), vec![0u8; 1000]).unwrap();
        std::fs::hard_link(d.path().join("a"), d.path().join("b")).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/c"), b"xyz").unwrap();
        std::os::unix::fs::symlink("a", d.path().join("l")).unwrap();
        assert_eq!(dir_size(d.path()), 1000 + 3 + 1);
    }
}
