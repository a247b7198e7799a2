//! Container resource limits as dockerd 20.10 handles them: the checks it
//! makes when a container is created (`verifyPlatformContainerResources`,
//! `verifyPlatformContainerSettings`), the defaults it then fills in
//! (`adaptContainerSettings`), and the OCI `linux.resources` and
//! `process.rlimits` it writes (`WithResources`, `WithRlimits`). Also the
//! other create/start-time checks of `run` options that live in the
//! daemon or the runtime: restart policy, log options, sysctls.
//!
//! Errors are the exact text dockerd (or runc) gives; the CLI shows them
//! as `Error response from daemon: <message>`. Field names in the doc
//! comments are Docker's `HostConfig` names.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

/// dockerd's smallest memory limit, reservation and kernel limit (6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// `/dev/shm` size when `ShmSize` is 0 (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// CFS period dockerd uses for `NanoCpus` (100ms, in microseconds).
pub const NANO_CPUS_PERIOD: i64 = 100_000;

/// One resource limit (`HostConfig.Ulimits` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// `Name`: `nofile`, `nproc`, ... (lower case, without `RLIMIT_`).
    pub name: String,
    /// `Soft`; -1 is unlimited.
    pub soft: i64,
    /// `Hard`; -1 is unlimited.
    pub hard: i64,
}

/// A container's resource settings, as `docker run` sends them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resources {
    /// `Memory`: hard limit in bytes; 0 is none.
    pub memory: i64,
    /// `MemorySwap`: memory plus swap; 0 is unset (becomes twice
    /// `memory`), -1 is unlimited swap.
    pub memory_swap: i64,
    /// `MemoryReservation`: soft limit in bytes; 0 is none.
    pub memory_reservation: i64,
    /// `MemorySwappiness`: 0..=100; `None` or -1 inherits the host's.
    pub memory_swappiness: Option<i64>,
    /// `KernelMemory` (deprecated, cgroup v1 only); 0 is none.
    pub kernel_memory: i64,
    /// `OomKillDisable`; `None` until defaults are applied.
    pub oom_kill_disable: Option<bool>,
    /// `NanoCpus`: `--cpus` in billionths of a CPU; 0 is none.
    pub nano_cpus: i64,
    /// `CpuShares`: relative weight; 0 is the default.
    pub cpu_shares: i64,
    /// `CpuPeriod`: CFS period in microseconds; 0 is unset.
    pub cpu_period: i64,
    /// `CpuQuota`: CFS quota in microseconds; 0 is unset, negative unlimited.
    pub cpu_quota: i64,
    /// `CpuRealtimePeriod` in microseconds; 0 is unset.
    pub cpu_realtime_period: i64,
    /// `CpuRealtimeRuntime` in microseconds; 0 is unset.
    pub cpu_realtime_runtime: i64,
    /// `CpuPercent` (Windows only; a warning on Linux).
    pub cpu_percent: i64,
    /// `CpusetCpus`, e.g. `0-2,4`; empty is all.
    pub cpuset_cpus: String,
    /// `CpusetMems`; empty is all.
    pub cpuset_mems: String,
    /// `PidsLimit`; `None`, 0 or negative is unlimited.
    pub pids_limit: Option<i64>,
    /// `BlkioWeight`: 10..=1000; 0 is unset.
    pub blkio_weight: u16,
    /// `IOMaximumBandwidth` (Windows only; an error on Linux).
    pub io_maximum_bandwidth: u64,
    /// `IOMaximumIOps` (Windows only; an error on Linux).
    pub io_maximum_iops: u64,
    /// `Ulimits`.
    pub ulimits: Vec<Ulimit>,
    /// `ShmSize` in bytes; 0 is [`DEFAULT_SHM_SIZE`].
    pub shm_size: i64,
    /// `OomScoreAdj`: -1000..=1000.
    pub oom_score_adj: i64,
}

/// What the host's cgroups can enforce (moby `sysinfo.SysInfo`), which
/// decides between applying a setting, discarding it with a warning, or
/// refusing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// CPUs this process may use (Go's `runtime.NumCPU`, the affinity
    /// mask), the upper bound of `--cpus`.
    pub ncpu: i64,
    pub cgroup_v2: bool,
    pub memory_limit: bool,
    /// Swap accounting (`memory.memsw.*` / `memory.swap.max`).
    pub swap_limit: bool,
    pub memory_reservation: bool,
    pub memory_swappiness: bool,
    pub kernel_memory: bool,
    pub oom_kill_disable: bool,
    pub pids_limit: bool,
    pub cpu_shares: bool,
    pub cpu_cfs: bool,
    pub cpuset: bool,
    /// `blkio.weight` exists (it does not with the mq-deadline scheduler).
    pub blkio_weight: bool,
    /// CPUs the cpuset offers, e.g. `0-1`.
    pub cpus: String,
    /// Memory nodes the cpuset offers, e.g. `0`.
    pub mems: String,
}

impl HostInfo {
    /// A cgroup v1 host with every controller and file present.
    pub fn cgroup_v1(ncpu: i64, cpus: &str, mems: &str) -> HostInfo {
        HostInfo {
            ncpu,
            cgroup_v2: false,
            memory_limit: true,
            swap_limit: true,
            memory_reservation: true,
            memory_swappiness: true,
            kernel_memory: true,
            oom_kill_disable: true,
            pids_limit: true,
            cpu_shares: true,
            cpu_cfs: true,
            cpuset: true,
            blkio_weight: true,
            cpus: cpus.to_string(),
            mems: mems.to_string(),
        }
    }

    /// A cgroup v2 host with every controller: no swappiness, kernel
    /// memory or OOM-killer switch there (dockerd 20.10 reports them off).
    pub fn cgroup_v2(ncpu: i64, cpus: &str, mems: &str, swap_limit: bool) -> HostInfo {
        HostInfo {
            cgroup_v2: true,
            swap_limit,
            memory_swappiness: false,
            kernel_memory: false,
            oom_kill_disable: false,
            ..HostInfo::cgroup_v1(ncpu, cpus, mems)
        }
    }

    /// This host, probed as dockerd probes it (files under
    /// `/sys/fs/cgroup`, the affinity mask in `/proc/self/status`).
    pub fn detect() -> HostInfo {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
        };
        let exists = |p: String| std::path::Path::new(&p).exists();
        let ncpu = read("/proc/self/status")
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .and_then(|l| parse_uint_list(l.trim(), 0).ok())
                    .map(|set| set.len() as i64)
            })
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as i64));
        let root = "/sys/fs/cgroup";
        if exists(format!("{root}/cgroup.controllers")) {
            let group = read("/proc/self/cgroup")
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
                })
                .unwrap_or_default();
            let dir = format!("{root}{}", group.trim_end_matches('/'));
            let controllers = read(&format!("{dir}/cgroup.controllers"))
                .or_else(|| read(&format!("{root}/cgroup.controllers")))
                .unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            let cpus = read(&format!("{dir}/cpuset.cpus.effective")).unwrap_or_default();
            let mems = read(&format!("{dir}/cpuset.mems.effective")).unwrap_or_default();
            let mut h =
                HostInfo::cgroup_v2(ncpu, &cpus, &mems, exists(format!("{dir}/memory.swap.max")));
            h.memory_limit = has("memory");
            h.memory_reservation = has("memory");
            h.swap_limit &= has("memory");
            h.cpu_shares = has("cpu");
            h.cpu_cfs = has("cpu");
            h.cpuset = has("cpuset");
            h.blkio_weight = has("io");
            h.pids_limit = has("pids");
            return h;
        }
        let mem = |f: &str| exists(format!("{root}/memory/{f}"));
        let cpus = read(&format!("{root}/cpuset/cpuset.cpus")).unwrap_or_default();
        let mems = read(&format!("{root}/cpuset/cpuset.mems")).unwrap_or_default();
        HostInfo {
            memory_limit: exists(format!("{root}/memory")),
            swap_limit: mem("memory.memsw.limit_in_bytes"),
            memory_reservation: mem("memory.soft_limit_in_bytes"),
            memory_swappiness: mem("memory.swappiness"),
            kernel_memory: mem("memory.kmem.limit_in_bytes"),
            oom_kill_disable: mem("memory.oom_control"),
            pids_limit: exists(format!("{root}/pids")),
            cpu_shares: exists(format!("{root}/cpu/cpu.shares")),
            cpu_cfs: exists(format!("{root}/cpu/cpu.cfs_quota_us")),
            cpuset: exists(format!("{root}/cpuset")),
            blkio_weight: exists(format!("{root}/blkio/blkio.weight")),
            ..HostInfo::cgroup_v1(ncpu, &cpus, &mems)
        }
    }
}

/// Go's `strconv.Atoi` (64-bit): optional sign, decimal digits.
fn go_atoi(s: &str) -> Result<i64, String> {
    let fail = |why: &str| Err(format!("strconv.Atoi: parsing {}: {why}", go_quote(s)));
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return fail("invalid syntax");
    }
    match s.strip_prefix('+').unwrap_or(s).parse::<i64>() {
        Ok(n) => Ok(n),
        Err(_) => fail("value out of range"),
    }
}

/// Go's `%q` for the ASCII names and values that reach these messages.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// moby `parsers.ParseUintList`: `0-2,4` and the like; `maximum` 0 means
/// no bound. Errors are `invalid format: <val>` and
/// `value of out range, maximum is <n>` (sic).
fn parse_uint_list(val: &str, maximum: i64) -> Result<BTreeSet<i64>, String> {
    let mut set = BTreeSet::new();
    if val.is_empty() {
        return Ok(set);
    }
    let invalid = || format!("invalid format: {val}");
    let out_of_range = || format!("value of out range, maximum is {maximum}");
    for r in val.split(',') {
        match r.split_once('-') {
            None => {
                let v = go_atoi(r).map_err(|_| invalid())?;
                if maximum != 0 && v > maximum {
                    return Err(out_of_range());
                }
                set.insert(v);
            }
            Some((lo, hi)) => {
                let lo = go_atoi(lo).map_err(|_| invalid())?;
                let hi = go_atoi(hi).map_err(|_| invalid())?;
                if hi < lo {
                    return Err(invalid());
                }
                if maximum != 0 && hi > maximum {
                    return Err(out_of_range());
                }
                set.extend(lo..=hi);
            }
        }
    }
    Ok(set)
}

/// Whether every element of `provided` is in `available` (moby
/// `isCpusetListAvailable`; values up to 8192, or the highest available).
fn cpuset_available(provided: &str, available: &str) -> Result<bool, String> {
    let available = parse_uint_list(available, 0)?;
    let max = available.iter().copied().max().unwrap_or(0).max(8192);
    let provided = parse_uint_list(provided, max)?;
    Ok(provided.is_subset(&available))
}

/// dockerd's create-time checks of the resource settings, on `r` as the
/// API router and `verifyPlatformContainerResources` leave it: settings
/// the host cannot enforce are discarded (and named in the warnings,
/// which docker prints as `WARNING: <w>`), contradictory or out-of-range
/// ones refused with dockerd's message. Call [`apply_defaults`] after.
pub fn validate(r: &mut Resources, host: &HostInfo) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let mut warn = |w: &str| warnings.push(w.to_string());
    // The API router: 0 and negative pid limits mean unlimited.
    if r.pids_limit.is_some_and(|p| p <= 0) {
        r.pids_limit = None;
    }
    if r.memory_swappiness == Some(-1) {
        r.memory_swappiness = None;
    }

    if r.memory != 0 && r.memory < MIN_MEMORY {
        return Err("Minimum memory limit allowed is 6MB".into());
    }
    if r.memory > 0 && !host.memory_limit {
        warn("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.");
        r.memory = 0;
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap != -1 && !host.swap_limit {
        warn("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.");
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if r.memory == 0 && r.memory_swap > 0 {
        return Err(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if r.memory_swappiness.is_some() && !host.memory_swappiness {
        warn("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.");
        r.memory_swappiness = None;
    }
    if let Some(s) = r.memory_swappiness {
        if !(0..=100).contains(&s) {
            return Err(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            ));
        }
    }
    if r.memory_reservation > 0 && !host.memory_reservation {
        warn("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.");
        r.memory_reservation = 0;
    }
    if r.memory_reservation > 0 && r.memory_reservation < MIN_MEMORY {
        return Err("Minimum memory reservation allowed is 6MB".into());
    }
    if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
        return Err(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    if r.kernel_memory > 0 {
        warn("Specifying a kernel memory limit is deprecated and will be removed in a future release.");
    }
    if r.kernel_memory > 0 && !host.kernel_memory {
        warn("Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.");
        r.kernel_memory = 0;
    }
    if r.kernel_memory > 0 && r.kernel_memory < MIN_MEMORY {
        return Err("Minimum kernel memory limit allowed is 6MB".into());
    }
    if r.oom_kill_disable.is_some() && !host.oom_kill_disable {
        if r.oom_kill_disable == Some(true) {
            warn("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
        }
        r.oom_kill_disable = None;
    }
    if r.oom_kill_disable == Some(true) && r.memory == 0 {
        warn("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.");
    }
    if r.pids_limit.is_some() && !host.pids_limit {
        if r.pids_limit.is_some_and(|p| p > 0) {
            warn("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.");
        }
        r.pids_limit = None;
    }

    if r.nano_cpus > 0 && r.cpu_period > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
    }
    if r.nano_cpus > 0 && r.cpu_quota > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
    }
    if r.nano_cpus > 0 && !host.cpu_cfs {
        return Err("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted".into());
    }
    if r.nano_cpus < 0 || r.nano_cpus > host.ncpu.saturating_mul(1_000_000_000) {
        return Err(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
            n = host.ncpu
        ));
    }
    if r.cpu_shares > 0 && !host.cpu_shares {
        warn("Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.");
        r.cpu_shares = 0;
    }
    if (r.cpu_period != 0 || r.cpu_quota != 0) && !host.cpu_cfs {
        warn("Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.");
        r.cpu_period = 0;
        r.cpu_quota = 0;
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return Err(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        );
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    if r.cpu_percent > 0 {
        warn("linux does not support CPU percent. Percent discarded.");
        r.cpu_percent = 0;
    }

    if (!r.cpuset_cpus.is_empty() || !r.cpuset_mems.is_empty()) && !host.cpuset {
        warn("Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.");
        r.cpuset_cpus.clear();
        r.cpuset_mems.clear();
    }
    match cpuset_available(&r.cpuset_cpus, &host.cpus) {
        Err(e) => {
            return Err(format!(
                "Invalid value {} for cpuset cpus: {e}",
                r.cpuset_cpus
            ))
        }
        Ok(false) => {
            return Err(format!(
                "Requested CPUs are not available - requested {}, available: {}",
                r.cpuset_cpus, host.cpus
            ))
        }
        Ok(true) => {}
    }
    match cpuset_available(&r.cpuset_mems, &host.mems) {
        Err(e) => {
            return Err(format!(
                "Invalid value {} for cpuset mems: {e}",
                r.cpuset_mems
            ))
        }
        Ok(false) => {
            return Err(format!(
                "Requested memory nodes are not available - requested {}, available: {}",
                r.cpuset_mems, host.mems
            ))
        }
        Ok(true) => {}
    }

    if r.blkio_weight > 0 && !host.blkio_weight {
        warn("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
        r.blkio_weight = 0;
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return Err("Range of blkio weight is from 10 to 1000".into());
    }
    if r.io_maximum_bandwidth != 0 || r.io_maximum_iops != 0 {
        return Err(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"
                .into(),
        );
    }

    // verifyPlatformContainerSettings, after the resources.
    if r.shm_size < 0 {
        return Err("SHM size can not be less than 0".into());
    }
    if !(-1000..=1000).contains(&r.oom_score_adj) {
        return Err(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            r.oom_score_adj
        ));
    }
    Ok(warnings)
}

/// What dockerd fills in after the checks: swap defaults to twice the
/// memory limit (on cgroup v1 and v2 alike; `docker inspect` shows it),
/// `/dev/shm` to 64 MiB, the OOM killer to enabled.
pub fn apply_defaults(r: &mut Resources) {
    if r.memory > 0 && r.memory_swap == 0 {
        r.memory_swap = r.memory.wrapping_mul(2);
    }
    if r.shm_size == 0 {
        r.shm_size = DEFAULT_SHM_SIZE;
    }
    if r.oom_kill_disable.is_none() {
        r.oom_kill_disable = Some(false);
    }
}

/// The OCI `linux.resources` members dockerd writes (`devices` aside),
/// keys in dockerd's order. Zero values are left out except `cpu.shares`
/// and `blockIO.weight`, which dockerd always writes (0 means the kernel
/// default to runc). `--cpus` becomes `quota = nanos * 100000 / 1e9`
/// over a 100000µs period; explicit `--cpu-period`/`--cpu-quota` win.
/// Negative shares fail as dockerd fails at start.
pub fn to_oci(r: &Resources) -> Result<Value, String> {
    let mut memory = Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), json!(r.memory));
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(r.memory_reservation));
    }
    if r.memory_swap > 0 {
        memory.insert("swap".into(), json!(r.memory_swap));
    }
    if r.kernel_memory != 0 {
        memory.insert("kernel".into(), json!(r.kernel_memory));
    }
    if let Some(s) = r.memory_swappiness {
        memory.insert("swappiness".into(), json!(s as u64));
    }
    if let Some(d) = r.oom_kill_disable {
        memory.insert("disableOOMKiller".into(), json!(d));
    }

    if r.cpu_shares < 0 {
        return Err("shares: invalid argument".into());
    }
    let (mut period, mut quota) = (None, None);
    if r.nano_cpus > 0 {
        period = Some(NANO_CPUS_PERIOD as u64);
        quota = Some(r.nano_cpus.wrapping_mul(NANO_CPUS_PERIOD) / 1_000_000_000);
    }
    if r.cpu_period != 0 {
        period = Some(r.cpu_period as u64);
    }
    if r.cpu_quota != 0 {
        quota = Some(r.cpu_quota);
    }
    let mut cpu = Map::new();
    cpu.insert("shares".into(), json!(r.cpu_shares as u64));
    if let Some(q) = quota {
        cpu.insert("quota".into(), json!(q));
    }
    if let Some(p) = period {
        cpu.insert("period".into(), json!(p));
    }
    if r.cpu_realtime_runtime != 0 {
        cpu.insert("realtimeRuntime".into(), json!(r.cpu_realtime_runtime));
    }
    if r.cpu_realtime_period != 0 {
        cpu.insert("realtimePeriod".into(), json!(r.cpu_realtime_period as u64));
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }

    let mut out = Map::new();
    out.insert("memory".into(), Value::Object(memory));
    out.insert("cpu".into(), Value::Object(cpu));
    if let Some(p) = r.pids_limit {
        // Only `docker update` reaches here with p <= 0; runc needs -1.
        out.insert("pids".into(), json!({"limit": if p > 0 { p } else { -1 }}));
    }
    out.insert("blockIO".into(), json!({"weight": r.blkio_weight}));
    Ok(Value::Object(out))
}

/// `process.rlimits` for the ulimits, or `None` when there are none: then
/// dockerd leaves the member out and the container inherits the limits of
/// whoever starts runc. Negative (unlimited) values wrap to 2^64-1 as
/// dockerd's `uint64()` does.
pub fn rlimits(r: &Resources) -> Option<Value> {
    if r.ulimits.is_empty() {
        return None;
    }
    Some(Value::Array(
        r.ulimits
            .iter()
            .map(|u| {
                json!({
                    "type": format!("RLIMIT_{}", u.name.to_uppercase()),
                    "hard": u.hard as u64,
                    "soft": u.soft as u64,
                })
            })
            .collect(),
    ))
}

/// Writes the resources into a spec built by [`crate::spec::build`]:
/// `linux.resources` (keeping its device rules), `process.rlimits` and
/// `process.oomScoreAdj`.
pub fn apply(spec: &mut Value, r: &Resources) -> Result<(), String> {
    let Value::Object(res) = to_oci(r)? else {
        return Err("resources are not an object".into());
    };
    let linux = spec
        .as_object_mut()
        .ok_or("spec is not an object")?
        .entry("linux")
        .or_insert_with(|| json!({}));
    let target = linux
        .as_object_mut()
        .ok_or("spec linux is not an object")?
        .entry("resources")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("spec linux.resources is not an object")?;
    for (k, v) in res {
        target.insert(k, v);
    }
    let process = spec
        .as_object_mut()
        .ok_or("spec is not an object")?
        .entry("process")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("spec process is not an object")?;
    match rlimits(r) {
        Some(l) => {
            process.insert("rlimits".into(), l);
        }
        None => {
            process.remove("rlimits");
        }
    }
    process.insert("oomScoreAdj".into(), json!(r.oom_score_adj));
    Ok(())
}

/// Which namespaces a container shares with the host, for sysctls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SysctlNamespaces {
    /// `--network host` (or another container's network that is the host's).
    pub host_network: bool,
    /// `--ipc host`.
    pub host_ipc: bool,
    /// `--uts host`.
    pub host_uts: bool,
}

/// The IPC sysctls, as runc (and the docker CLI's whitelist) names them;
/// `fs.mqueue.*` is IPC too.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// runc's check that each sysctl belongs to a namespace the container has
/// (runc 1.1 `validate.sysctl`; dockerd passes sysctls through, so a
/// failure shows at start as `OCI runtime create failed: runc create
/// failed: <message>: unknown`). IPC sysctls need a private IPC
/// namespace, `net.*` a private network one, `kernel.domainname` a private
/// UTS one; `kernel.hostname` is never allowed; anything else is not
/// namespaced. Slash-separated names (`net/ipv4/ip_forward`) are read as
/// dotted ones. Checked in name order.
pub fn validate_sysctls(
    sysctls: &BTreeMap<String, String>,
    ns: SysctlNamespaces,
) -> Result<(), String> {
    for key in sysctls.keys() {
        let s = dotted_sysctl(key);
        let q = go_quote(&s);
        if IPC_SYSCTLS.contains(&s.as_str()) || s.starts_with("fs.mqueue.") {
            if ns.host_ipc {
                return Err(format!(
                    "sysctl {q} is not allowed in the hosts ipc namespace"
                ));
            }
            continue;
        }
        if s.starts_with("net.") {
            if ns.host_network {
                return Err(format!("sysctl {q} not allowed in host network namespace"));
            }
            continue;
        }
        if !ns.host_uts {
            match s.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => {
                    return Err(format!(
                        "sysctl {q} is not allowed as it conflicts with the OCI \"hostname\" field"
                    ))
                }
                _ => {}
            }
        }
        return Err(format!("sysctl {q} is not in a separate kernel namespace"));
    }
    Ok(())
}

/// runc's reading of `a/b.c/d` as `a.b/c.d` (sysctl.d(5)).
fn dotted_sysctl(s: &str) -> String {
    match s.find(['.', '/']) {
        Some(i) if s.as_bytes()[i] == b'/' => s
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => s.to_string(),
    }
}

/// Keys the `json-file` driver accepts.
const JSON_FILE_OPTS: [&str; 8] = [
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// dockerd's create-time check of `--log-driver` / `--log-opt` keys, for
/// the drivers berth has (`json-file`, the default when `driver` is
/// empty; `local`; `none`). Any other driver gets dockerd's answer for a
/// missing plugin. Values are checked when the container starts
/// ([`json_file_options`]). Keys are checked in name order.
pub fn validate_log_config(driver: &str, opts: &BTreeMap<String, String>) -> Result<(), String> {
    match driver {
        "" | "json-file" => match opts.keys().find(|k| !JSON_FILE_OPTS.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown log opt '{k}' for json-file log driver")),
            None => Ok(()),
        },
        "local" => match opts
            .keys()
            .find(|k| !["max-file", "max-size", "compress"].contains(&k.as_str()))
        {
            Some(k) => Err(format!("unknown log opt '{k}' for log driver local")),
            None => Ok(()),
        },
        "none" => Ok(()),
        d => Err(format!(
            "error looking up logging plugin {d}: plugin \"{d}\" not found"
        )),
    }
}

/// The `json-file` driver's rotation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFileOptions {
    /// `max-size` in bytes (decimal units: `10m` is 10,000,000); -1 is
    /// no rotation.
    pub max_size: i64,
    /// `max-file`, at least 1.
    pub max_file: i64,
    pub compress: bool,
}

/// go-units `FromHumanSize`: the `RAMInBytes` grammar with decimal units
/// (`k`=1000 ... `p`=10^15, also for `KiB`).
fn from_human_size(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let b = s.as_bytes();
    let mut i = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if i == 0 {
        return Err(invalid());
    }
    while i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i += 1 + b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    let number = &s[..i];
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut mul = 1f64;
    if let Some(p) = b
        .get(i)
        .and_then(|c| b"kmgtp".iter().position(|u| *u == c.to_ascii_lowercase()))
    {
        mul = 1000f64.powi(p as i32 + 1);
        i += 1;
    }
    if matches!(b.get(i), Some(b'i' | b'I')) {
        i += 1;
    }
    if matches!(b.get(i), Some(b'b' | b'B')) {
        i += 1;
    }
    if i != b.len() {
        return Err(invalid());
    }
    let f: f64 = number.parse().map_err(|_| {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(number)
        )
    })?;
    if f.is_infinite() {
        return Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            go_quote(number)
        ));
    }
    let v = f * mul;
    // Go's int64(float64) on amd64: out of range is i64::MIN.
    Ok(if v >= 9_223_372_036_854_775_808.0 {
        i64::MIN
    } else {
        v as i64
    })
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(s)
        )),
    }
}

/// The `json-file` driver's reading of its options when the container
/// starts (dockerd's `jsonfilelog.New`); the error is what `docker
/// start`/`run` shows, `failed to initialize logging driver: ...`.
/// `tag`, `labels`, `env` and their regexes are not checked here.
pub fn json_file_options(opts: &BTreeMap<String, String>) -> Result<JsonFileOptions, String> {
    let fail = |e: String| format!("failed to initialize logging driver: {e}");
    let mut max_size = -1;
    if let Some(v) = opts.get("max-size") {
        max_size = from_human_size(v).map_err(fail)?;
        if max_size <= 0 {
            return Err(fail("max-size must be a positive number".into()));
        }
    }
    let mut max_file = 1;
    if let Some(v) = opts.get("max-file") {
        max_file = go_atoi(v).map_err(fail)?;
        if max_file < 1 {
            return Err(fail("max-file cannot be less than 1".into()));
        }
    }
    let mut compress = false;
    if let Some(v) = opts.get("compress") {
        compress = go_parse_bool(v).map_err(fail)?;
        if compress && (max_file == 1 || max_size == -1) {
            return Err(fail(
                "compress cannot be true when max-file is less than 2 or max-size is not set"
                    .into(),
            ));
        }
    }
    Ok(JsonFileOptions {
        max_size,
        max_file,
        compress,
    })
}

/// dockerd's check of the restart policy (`validateRestartPolicy`, and
/// `--rm` with one, which the docker CLI already refuses itself). `name`
/// empty means unset.
pub fn validate_restart_policy(
    name: &str,
    maximum_retry_count: i64,
    auto_remove: bool,
) -> Result<(), String> {
    if auto_remove && !(name.is_empty() || name == "no") {
        return Err("can't create 'AutoRemove' container with restart policy".into());
    }
    match name {
        "always" | "unless-stopped" | "no" if maximum_retry_count != 0 => Err(format!(
            "maximum retry count cannot be used with restart policy '{name}'"
        )),
        "on-failure" if maximum_retry_count < 0 => {
            Err("maximum retry count cannot be negative".into())
        }
        "always" | "unless-stopped" | "no" | "on-failure" | "" => Ok(()),
        _ => Err(format!("invalid restart policy '{name}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: i64 = 1024 * 1024;

    /// This machine when the observations were made: cgroup v1, 2 CPUs,
    /// no `blkio.weight` (mq-deadline).
    fn host() -> HostInfo {
        HostInfo {
            blkio_weight: false,
            ..HostInfo::cgroup_v1(2, "0-1", "0")
        }
    }

    fn check(r: Resources) -> Result<Vec<String>, String> {
        let mut r = r;
        validate(&mut r, &host())
    }

    fn res() -> Resources {
        Resources::default()
    }

    #[test]
    fn daemon_errors() {
        for (r, msg) in [
            (Resources { memory: 100, ..res() }, "Minimum memory limit allowed is 6MB"),
            (Resources { memory: 6 * MIB - 1, ..res() }, "Minimum memory limit allowed is 6MB"),
            (Resources { memory: i64::MIN, ..res() }, "Minimum memory limit allowed is 6MB"),
            (
                Resources { memory: 512 * MIB, memory_swap: 256 * MIB, ..res() },
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ),
            (
                Resources { memory_swap: 1024 * MIB, ..res() },
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ),
            (
                Resources { memory_swappiness: Some(101), ..res() },
                "Invalid value: 101, valid memory swappiness range is 0-100",
            ),
            (
                Resources { memory_reservation: MIB, ..res() },
                "Minimum memory reservation allowed is 6MB",
            ),
            (
                Resources { memory: 512 * MIB, memory_reservation: 1024 * MIB, ..res() },
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ),
            (
                Resources { kernel_memory: 4 * MIB, ..res() },
                "Minimum kernel memory limit allowed is 6MB",
            ),
            (
                Resources { nano_cpus: 1_000_000_000, cpu_period: 100_000, ..res() },
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ),
            (
                Resources { nano_cpus: 1_000_000_000, cpu_quota: 50_000, ..res() },
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ),
            (
                Resources { nano_cpus: 2_000_000_001, ..res() },
                "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
            ),
            (
                Resources { nano_cpus: -1, ..res() },
                "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
            ),
            (
                Resources { cpu_period: 999, ..res() },
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                Resources { cpu_period: 1_000_001, ..res() },
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                Resources { nano_cpus: 1_000_000_000, cpu_period: -1, ..res() },
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                Resources { cpu_quota: 999, ..res() },
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ),
            (
                Resources { cpuset_cpus: "2".into(), ..res() },
                "Requested CPUs are not available - requested 2, available: 0-1",
            ),
            (
                Resources { cpuset_cpus: "0,5".into(), ..res() },
                "Requested CPUs are not available - requested 0,5, available: 0-1",
            ),
            (
                Resources { cpuset_cpus: "x".into(), ..res() },
                "Invalid value x for cpuset cpus: invalid format: x",
            ),
            (
                Resources { cpuset_cpus: "1-0".into(), ..res() },
                "Invalid value 1-0 for cpuset cpus: invalid format: 1-0",
            ),
            (
                Resources { cpuset_cpus: "0,".into(), ..res() },
                "Invalid value 0, for cpuset cpus: invalid format: 0,",
            ),
            (
                Resources { cpuset_cpus: " 0".into(), ..res() },
                "Invalid value  0 for cpuset cpus: invalid format:  0",
            ),
            (
                Resources { cpuset_cpus: "0-1000000".into(), ..res() },
                "Invalid value 0-1000000 for cpuset cpus: value of out range, maximum is 8192",
            ),
            (
                Resources { cpuset_mems: "1".into(), ..res() },
                "Requested memory nodes are not available - requested 1, available: 0",
            ),
            (
                Resources { cpuset_mems: "x".into(), ..res() },
                "Invalid value x for cpuset mems: invalid format: x",
            ),
            (
                Resources { io_maximum_iops: 1, ..res() },
                "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
            ),
            (Resources { shm_size: i64::MIN, ..res() }, "SHM size can not be less than 0"),
            (
                Resources { oom_score_adj: 1001, ..res() },
                "Invalid value 1001, range for oom score adj is [-1000, 1000]",
            ),
            (
                Resources { oom_score_adj: -1001, ..res() },
                "Invalid value -1001, range for oom score adj is [-1000, 1000]",
            ),
        ] {
            assert_eq!(check(r.clone()), Err(msg.to_string()), "{r:?}");
        }
        let weighted = HostInfo::cgroup_v1(2, "0-1", "0");
        for w in [5, 1001] {
            let mut r = Resources {
                blkio_weight: w,
                ..res()
            };
            assert_eq!(
                validate(&mut r, &weighted),
                Err("Range of blkio weight is from 10 to 1000".into())
            );
        }
        let no_cfs = HostInfo {
            cpu_cfs: false,
            ..host()
        };
        let mut r = Resources {
            nano_cpus: 1,
            ..res()
        };
        assert_eq!(
            validate(&mut r, &no_cfs),
            Err("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted".into())
        );
    }

    #[test]
    fn accepted_and_defaults() {
        for r in [
            Resources {
                memory: 6 * MIB,
                ..res()
            },
            Resources {
                memory: 512 * MIB,
                memory_swap: -1,
                ..res()
            },
            Resources {
                memory: 512 * MIB,
                memory_swap: 512 * MIB,
                ..res()
            },
            Resources {
                memory_swap: -1,
                ..res()
            },
            Resources {
                memory_reservation: 6 * MIB,
                ..res()
            },
            Resources {
                memory_swappiness: Some(-1),
                ..res()
            },
            Resources {
                nano_cpus: 2_000_000_000,
                ..res()
            },
            Resources {
                nano_cpus: 1,
                ..res()
            },
            Resources {
                nano_cpus: 1_000_000_000,
                cpu_quota: -1,
                ..res()
            },
            Resources {
                cpu_quota: -5,
                ..res()
            },
            Resources {
                cpu_shares: -1,
                ..res()
            },
            Resources {
                cpu_shares: 262_145,
                ..res()
            },
            Resources {
                cpuset_cpus: "0-1".into(),
                cpuset_mems: "0".into(),
                ..res()
            },
            Resources {
                cpuset_cpus: "+1,01".into(),
                ..res()
            },
            Resources {
                oom_score_adj: 1000,
                ..res()
            },
            Resources {
                pids_limit: Some(-5),
                ..res()
            },
            Resources {
                blkio_weight: 0,
                ..res()
            },
        ] {
            assert_eq!(check(r.clone()), Ok(vec![]), "{r:?}");
        }

        // `-m 512m`: swap becomes 1g; `-m 512m --memory-swap 0` too.
        let mut r = Resources {
            memory: 512 * MIB,
            ..res()
        };
        validate(&mut r, &host()).unwrap();
        apply_defaults(&mut r);
        assert_eq!(r.memory_swap, 1024 * MIB);
        assert_eq!(r.shm_size, DEFAULT_SHM_SIZE);
        assert_eq!(r.oom_kill_disable, Some(false));
        let mut r = Resources {
            memory_swap: -1,
            ..res()
        };
        apply_defaults(&mut r);
        assert_eq!(r.memory_swap, -1);
        let mut r = Resources {
            shm_size: 1,
            oom_kill_disable: Some(true),
            ..res()
        };
        apply_defaults(&mut r);
        assert_eq!((r.shm_size, r.oom_kill_disable), (1, Some(true)));

        // Normalised as the API does.
        let mut r = Resources {
            pids_limit: Some(0),
            memory_swappiness: Some(-1),
            ..res()
        };
        validate(&mut r, &host()).unwrap();
        assert_eq!((r.pids_limit, r.memory_swappiness), (None, None));
    }

    #[test]
    fn warnings() {
        let w = |r: Resources, h: &HostInfo| {
            let mut r = r;
            let warnings = validate(&mut r, h).unwrap();
            (warnings, r)
        };
        let (ws, r) = w(
            Resources {
                blkio_weight: 5,
                ..res()
            },
            &host(),
        );
        assert_eq!(ws, ["Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."]);
        assert_eq!(r.blkio_weight, 0);
        let (ws, r) = w(
            Resources {
                kernel_memory: 100 * MIB,
                ..res()
            },
            &host(),
        );
        assert_eq!(ws, ["Specifying a kernel memory limit is deprecated and will be removed in a future release."]);
        assert_eq!(r.kernel_memory, 100 * MIB);
        let (ws, _) = w(
            Resources {
                oom_kill_disable: Some(true),
                ..res()
            },
            &host(),
        );
        assert_eq!(ws, ["OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."]);
        let (ws, _) = w(
            Resources {
                oom_kill_disable: Some(true),
                memory: 10 * MIB,
                ..res()
            },
            &host(),
        );
        assert!(ws.is_empty());

        // cgroup v2 without swap accounting: what dockerd 20.10 reports.
        let v2 = HostInfo::cgroup_v2(2, "0-1", "0", false);
        let (ws, r) = w(
            Resources {
                memory: 512 * MIB,
                memory_swappiness: Some(30),
                kernel_memory: 64 * MIB,
                oom_kill_disable: Some(true),
                ..res()
            },
            &v2,
        );
        assert_eq!(
            ws,
            [
                "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
                "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
                "Specifying a kernel memory limit is deprecated and will be removed in a future release.",
                "Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.",
                "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
            ]
        );
        assert_eq!(
            (
                r.memory_swap,
                r.memory_swappiness,
                r.kernel_memory,
                r.oom_kill_disable
            ),
            (-1, None, 0, None)
        );

        let bare = HostInfo {
            memory_limit: false,
            memory_reservation: false,
            pids_limit: false,
            cpu_shares: false,
            cpu_cfs: false,
            cpuset: false,
            ..host()
        };
        let (ws, r) = w(
            Resources {
                memory: 512 * MIB,
                memory_reservation: 100 * MIB,
                pids_limit: Some(10),
                cpu_shares: 512,
                cpu_quota: 50_000,
                cpu_percent: 50,
                cpuset_cpus: "0".into(),
                ..res()
            },
            &bare,
        );
        assert_eq!(
            ws,
            [
                "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.",
                "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.",
                "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.",
                "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
                "Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.",
                "linux does not support CPU percent. Percent discarded.",
                "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.",
            ]
        );
        assert_eq!(
            r,
            Resources {
                memory_swap: -1,
                ..res()
            }
        );
    }

    /// The `linux.resources` dockerd wrote for
    /// `-m 512m --memory-reservation 100m --cpus 1.5 -c 512 --cpuset-cpus 0-1
    /// --cpuset-mems 0 --pids-limit 100 --oom-kill-disable
    /// --memory-swappiness 30 --kernel-memory 64m`, devices aside.
    #[test]
    fn oci_resources() {
        let mut r = Resources {
            memory: 512 * MIB,
            memory_reservation: 100 * MIB,
            nano_cpus: 1_500_000_000,
            cpu_shares: 512,
            cpuset_cpus: "0-1".into(),
            cpuset_mems: "0".into(),
            pids_limit: Some(100),
            oom_kill_disable: Some(true),
            memory_swappiness: Some(30),
            kernel_memory: 64 * MIB,
            ..res()
        };
        validate(&mut r, &host()).unwrap();
        apply_defaults(&mut r);
        let want = r#"{"memory":{"limit":536870912,"reservation":104857600,"swap":1073741824,"kernel":67108864,"swappiness":30,"disableOOMKiller":true},"cpu":{"shares":512,"quota":150000,"period":100000,"cpus":"0-1","mems":"0"},"pids":{"limit":100},"blockIO":{"weight":0}}"#;
        assert_eq!(to_oci(&r).unwrap().to_string(), want);

        let oci = |r: Resources| {
            let mut r = r;
            validate(&mut r, &host()).unwrap();
            apply_defaults(&mut r);
            to_oci(&r).unwrap().to_string()
        };
        // No flags, --pids-limit -1, --memory-swappiness -1 --memory-swap 0.
        let plain =
            r#"{"memory":{"disableOOMKiller":false},"cpu":{"shares":0},"blockIO":{"weight":0}}"#;
        assert_eq!(oci(res()), plain);
        assert_eq!(
            oci(Resources {
                pids_limit: Some(-1),
                ..res()
            }),
            plain
        );
        assert_eq!(
            oci(Resources {
                memory_swappiness: Some(-1),
                ..res()
            }),
            plain
        );
        assert_eq!(
            oci(Resources {
                memory: 10 * MIB,
                memory_swap: -1,
                ..res()
            }),
            r#"{"memory":{"limit":10485760,"disableOOMKiller":false},"cpu":{"shares":0},"blockIO":{"weight":0}}"#
        );
        assert_eq!(
            oci(Resources {
                cpu_quota: -1,
                cpu_period: 1000,
                ..res()
            }),
            r#"{"memory":{"disableOOMKiller":false},"cpu":{"shares":0,"quota":-1,"period":1000},"blockIO":{"weight":0}}"#
        );
        assert_eq!(
            oci(Resources {
                cpu_realtime_period: 1,
                ..res()
            }),
            r#"{"memory":{"disableOOMKiller":false},"cpu":{"shares":0,"realtimePeriod":1},"blockIO":{"weight":0}}"#
        );
        assert_eq!(
            oci(Resources {
                nano_cpus: 1,
                ..res()
            }),
            r#"{"memory":{"disableOOMKiller":false},"cpu":{"shares":0,"quota":0,"period":100000},"blockIO":{"weight":0}}"#
        );
        assert_eq!(
            to_oci(&Resources {
                cpu_shares: -1,
                ..res()
            }),
            Err("shares: invalid argument".into())
        );
        assert_eq!(
            to_oci(&Resources {
                pids_limit: Some(0),
                ..res()
            })
            .unwrap()["pids"]
                .to_string(),
            r#"{"limit":-1}"#
        );
    }

    #[test]
    fn rlimits_and_apply() {
        assert_eq!(rlimits(&res()), None);
        let r = Resources {
            ulimits: vec![
                Ulimit {
                    name: "nofile".into(),
                    soft: 1024,
                    hard: 2048,
                },
                Ulimit {
                    name: "nproc".into(),
                    soft: 50,
                    hard: 50,
                },
                Ulimit {
                    name: "core".into(),
                    soft: -1,
                    hard: -1,
                },
            ],
            oom_score_adj: 500,
            ..res()
        };
        assert_eq!(
            rlimits(&r).unwrap().to_string(),
            r#"[{"type":"RLIMIT_NOFILE","hard":2048,"soft":1024},{"type":"RLIMIT_NPROC","hard":50,"soft":50},{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615}]"#
        );
        let mut spec = json!({
            "process": {"args": ["true"], "oomScoreAdj": 0, "rlimits": []},
            "linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}]}},
        });
        apply(&mut spec, &r).unwrap();
        assert_eq!(spec["process"]["oomScoreAdj"], 500);
        assert_eq!(spec["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
        let keys: Vec<&String> = spec["linux"]["resources"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["devices", "memory", "cpu", "blockIO"]);
        apply(&mut spec, &res()).unwrap();
        assert!(spec["process"].get("rlimits").is_none());
    }

    #[test]
    fn sysctls() {
        let m = |keys: &[&str]| -> BTreeMap<String, String> {
            keys.iter()
                .map(|k| (k.to_string(), "1".to_string()))
                .collect()
        };
        let private = SysctlNamespaces::default();
        let host_net = SysctlNamespaces {
            host_network: true,
            ..private
        };
        let host_ipc = SysctlNamespaces {
            host_ipc: true,
            ..private
        };
        let host_uts = SysctlNamespaces {
            host_uts: true,
            ..private
        };
        assert_eq!(
            validate_sysctls(
                &m(&[
                    "net.ipv4.ip_forward",
                    "kernel.shmmax",
                    "fs.mqueue.msg_max",
                    "kernel.domainname",
                    "net/ipv4/conf/eth0.100/rp_filter"
                ]),
                private
            ),
            Ok(())
        );
        assert_eq!(validate_sysctls(&m(&["kernel.shmmax"]), host_net), Ok(()));
        assert_eq!(
            validate_sysctls(&m(&["net.core.somaxconn"]), host_ipc),
            Ok(())
        );
        for (keys, ns, msg) in [
            (
                &["net.ipv4.ip_forward"][..],
                host_net,
                r#"sysctl "net.ipv4.ip_forward" not allowed in host network namespace"#,
            ),
            (
                &["net/ipv4/ip_forward"],
                host_net,
                r#"sysctl "net.ipv4.ip_forward" not allowed in host network namespace"#,
            ),
            (
                &["kernel.shmmax"],
                host_ipc,
                r#"sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace"#,
            ),
            (
                &["fs.mqueue.msg_max"],
                host_ipc,
                r#"sysctl "fs.mqueue.msg_max" is not allowed in the hosts ipc namespace"#,
            ),
            (
                &["kernel.hostname"],
                private,
                r#"sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field"#,
            ),
            (
                &["kernel.domainname"],
                host_uts,
                r#"sysctl "kernel.domainname" is not in a separate kernel namespace"#,
            ),
            (
                &["vm.swappiness"],
                private,
                r#"sysctl "vm.swappiness" is not in a separate kernel namespace"#,
            ),
        ] {
            assert_eq!(
                validate_sysctls(&m(keys), ns),
                Err(msg.to_string()),
                "{keys:?}"
            );
        }
        // Name order: kernel.shmmax is fine in a private IPC namespace,
        // net.a then fails.
        assert_eq!(
            validate_sysctls(&m(&["vm.x", "net.a", "kernel.shmmax"]), host_net),
            Err(r#"sysctl "net.a" not allowed in host network namespace"#.into())
        );
    }

    #[test]
    fn log_config() {
        let m = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let all: Vec<(&str, &str)> = JSON_FILE_OPTS.iter().map(|k| (*k, "1")).collect();
        assert_eq!(validate_log_config("json-file", &m(&all)), Ok(()));
        assert_eq!(validate_log_config("", &m(&[("max-size", "x")])), Ok(()));
        assert_eq!(
            validate_log_config("json-file", &m(&[("foo", "bar")])),
            Err("unknown log opt 'foo' for json-file log driver".into())
        );
        assert_eq!(
            validate_log_config("json-file", &m(&[("", "x")])),
            Err("unknown log opt '' for json-file log driver".into())
        );
        assert_eq!(
            validate_log_config("local", &m(&[("foo", "1")])),
            Err("unknown log opt 'foo' for log driver local".into())
        );
        assert_eq!(
            validate_log_config("local", &m(&[("max-size", "x")])),
            Ok(())
        );
        assert_eq!(validate_log_config("none", &m(&[("a", "b")])), Ok(()));
        assert_eq!(
            validate_log_config("foo", &m(&[])),
            Err("error looking up logging plugin foo: plugin \"foo\" not found".into())
        );

        let ok = |kv: &[(&str, &str)]| json_file_options(&m(kv)).unwrap();
        assert_eq!(
            ok(&[]),
            JsonFileOptions {
                max_size: -1,
                max_file: 1,
                compress: false
            }
        );
        assert_eq!(ok(&[("max-size", "1.5k")]).max_size, 1500);
        assert_eq!(ok(&[("max-size", "10MiB")]).max_size, 10_000_000);
        assert_eq!(ok(&[("max-size", "1kb")]).max_size, 1000);
        assert_eq!(ok(&[("max-file", "+2")]).max_file, 2);
        assert!(ok(&[("max-size", "1m"), ("max-file", "2"), ("compress", "TRUE")]).compress);
        for (kv, msg) in [
            (&[("max-size", "x")][..], "invalid size: 'x'"),
            (&[("max-size", "0")], "max-size must be a positive number"),
            (&[("max-size", "-1")], "invalid size: '-1'"),
            (&[("max-size", "")], "invalid size: ''"),
            (
                &[("max-size", "1.2.3")],
                "strconv.ParseFloat: parsing \"1.2.3\": invalid syntax",
            ),
            (&[("max-file", "0")], "max-file cannot be less than 1"),
            (
                &[("max-file", "x")],
                "strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                &[("max-file", "")],
                "strconv.Atoi: parsing \"\": invalid syntax",
            ),
            (
                &[("compress", "x")],
                "strconv.ParseBool: parsing \"x\": invalid syntax",
            ),
            (
                &[("compress", "true")],
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (
                &[("compress", "1")],
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (
                &[("max-file", "3"), ("compress", "true")],
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (
                &[("max-size", "1m"), ("compress", "true")],
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (&[("max-file", "x"), ("max-size", "y")], "invalid size: 'y'"),
        ] {
            assert_eq!(
                json_file_options(&m(kv)),
                Err(format!("failed to initialize logging driver: {msg}")),
                "{kv:?}"
            );
        }
    }

    #[test]
    fn restart_policy() {
        for (name, n, rm) in [
            ("no", 0, false),
            ("always", 0, false),
            ("unless-stopped", 0, false),
            ("on-failure", 0, false),
            ("on-failure", 3, false),
            ("", 0, false),
            ("no", 0, true),
            ("", 0, true),
        ] {
            assert_eq!(validate_restart_policy(name, n, rm), Ok(()), "{name}");
        }
        for (name, n, rm, msg) in [
            (
                "on-failure",
                -1,
                false,
                "maximum retry count cannot be negative",
            ),
            (
                "always",
                1,
                false,
                "maximum retry count cannot be used with restart policy 'always'",
            ),
            (
                "no",
                1,
                false,
                "maximum retry count cannot be used with restart policy 'no'",
            ),
            ("foo", 0, false, "invalid restart policy 'foo'"),
            ("foo", 1, false, "invalid restart policy 'foo'"),
            (" always", 0, false, "invalid restart policy ' always'"),
            ("ALWAYS", 0, false, "invalid restart policy 'ALWAYS'"),
            (
                "always",
                0,
                true,
                "can't create 'AutoRemove' container with restart policy",
            ),
        ] {
            assert_eq!(
                validate_restart_policy(name, n, rm),
                Err(msg.to_string()),
                "{name}"
            );
        }
    }

    #[test]
    fn uint_lists() {
        let l = |s: &str| parse_uint_list(s, 0).map(|v| v.into_iter().collect::<Vec<_>>());
        assert_eq!(l("7"), Ok(vec![7]));
        assert_eq!(l("0,3-4,7,8-10"), Ok(vec![0, 3, 4, 7, 8, 9, 10]));
        assert_eq!(l("03,1-3"), Ok(vec![1, 2, 3]));
        assert_eq!(l(""), Ok(vec![]));
        assert_eq!(l("1-2-3"), Err("invalid format: 1-2-3".into()));
        assert_eq!(l("-1"), Err("invalid format: -1".into()));
        assert_eq!(cpuset_available("8192", "0-1"), Ok(false));
        assert_eq!(
            cpuset_available("8193", "0-1"),
            Err("value of out range, maximum is 8192".into())
        );
        assert_eq!(cpuset_available("9000", "0-9000"), Ok(true));
    }

    #[test]
    fn detect_is_sane() {
        let h = HostInfo::detect();
        assert!(h.ncpu >= 1);
        if std::path::Path::new("/sys/fs/cgroup/cpuset/cpuset.cpus").exists() {
            assert!(!h.cgroup_v2);
            assert!(!h.cpus.is_empty());
        }
    }
}

#[cfg(test)]
mod runc_tests {
    use super::*;
    use crate::process::{resolve, ImageProcess, RunOptions};
    use crate::spec::{build, SpecOptions};
    use std::path::Path;
    use std::process::Command;

    use crate::test_runc::Runc;

    /// The limits reach the kernel: runc applies the spec `apply` wrote,
    /// and the container sees its memory, CPU and pids limits, its
    /// rlimits and its OOM score adjustment.
    #[test]
    fn limits_apply_under_runc() {
        let busybox = Path::new("/bin/busybox");
        let root = Command::new("id").arg("-u").output().ok();
        let is_root = root.is_some_and(|o| o.stdout.starts_with(b"0\n"));
        if Command::new("runc").arg("--version").output().is_err() || !busybox.exists() || !is_root
        {
            eprintln!("skipping: needs root, runc and busybox-static");
            return;
        }
        let bundle = tempfile::tempdir().unwrap();
        let rootfs = bundle.path().join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let files = if v2 {
            "memory.max memory.swap.max cpu.max pids.max"
        } else {
            "memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes \
             cpu/cpu.cfs_quota_us pids/pids.max"
        };
        let script = format!(
            "cd /sys/fs/cgroup; for f in {files}; do cat $f 2>/dev/null || echo -; done; \
             ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj"
        );
        let image = ImageProcess {
            cmd: Some(vec![
                "/bin/busybox".into(),
                "sh".into(),
                "-c".into(),
                script,
            ]),
            ..Default::default()
        };
        let read = |p: &str| std::fs::read(rootfs.join(p.trim_start_matches('/'))).ok();
        let process = resolve(&image, &RunOptions::default(), &read).unwrap();
        let id = format!("berth-resources-test-{}", std::process::id());
        let mut spec = build(
            &process,
            &SpecOptions {
                rootfs: "rootfs".into(),
                hostname: "box".into(),
                cgroups_path: format!("/{id}"),
                terminal: false,
                shm_size: DEFAULT_SHM_SIZE as u64,
                etc_files: vec![],
            },
        );
        let mut r = Resources {
            memory: 64 << 20,
            nano_cpus: 500_000_000,
            pids_limit: Some(50),
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 512,
                hard: 1024,
            }],
            oom_score_adj: 300,
            ..Default::default()
        };
        validate(&mut r, &HostInfo::detect()).unwrap();
        apply_defaults(&mut r);
        apply(&mut spec, &r).unwrap();
        std::fs::write(
            bundle.path().join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        let runc = Runc {
            state: tempfile::tempdir().unwrap(),
            id: id.clone(),
        };
        let out = runc
            .cmd()
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "runc failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], "67108864", "{stdout}");
        if r.memory_swap > 0 {
            // v1: memory+swap; v2: swap alone.
            let want = if v2 { "67108864" } else { "134217728" };
            assert_eq!(lines[1], want, "{stdout}");
        }
        if v2 {
            assert_eq!(lines[2], "50000 100000");
        } else {
            assert_eq!(lines[2], "50000");
        }
        assert_eq!(lines[3], "50");
        assert_eq!(&lines[4..7], ["512", "1024", "300"]);
    }
}
