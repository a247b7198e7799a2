//! Container commands: run, create, start, stop, kill, rm, wait, ps, logs,
//! inspect, rename, pause/unpause, restart, prune.

use std::collections::BTreeMap;
use std::io::Write;

use berth_engine::containers::record::{LogConfig, RestartPolicy, Ulimit};
use berth_engine::containers::ContainerConfig;
use berth_engine::containers::{CreateOptions, HostConfig, Record};
use berth_engine::Engine;
use serde_json::{json, Value};

use super::need;
use crate::attach::{self, AttachOptions, Outcome};
use crate::cli::{
    CreateFlags, KillArgs, LogsArgs, NamesOnly, PsArgs, RmArgs, RunArgs, StartArgs, StopArgs,
};
use crate::render::{self, Format};
use crate::runopts;
use berth_engine::containers::network::{EndpointSettings, NetworkingConfig};

use crate::{CliError, CliResult};

/// How `run` and `create` report errors: docker prefixes `docker: ` and
/// adds the `See` line for errors before the container exists.
fn usage_error(path: &str, msg: &str) -> CliError {
    CliError::Coded(format!("berth: {msg}.\nSee 'berth {path} --help'."), 125)
}

fn flag_error(path: &str, msg: &str) -> CliError {
    CliError::Coded(format!("{msg}\nSee 'berth {path} --help'."), 125)
}

/// Parse the create flags into the API request, as the docker CLI does.
fn create_options(f: &CreateFlags, path: &str) -> CliResult<(CreateOptions, runopts::Attach)> {
    let fe = |m: String| flag_error(path, &m);
    let oe = |m: String| usage_error(path, &m);
    if f.args.is_empty() {
        return Err(CliError::Args {
            path: path.to_string(),
            requirement: "at least 1 argument".into(),
        });
    }
    let image = f.args[0].clone();
    let cmd = f.args[1..].to_vec();
    let mut env_file = Vec::new();
    for p in &f.env_file {
        env_file.extend(runopts::parse_env_file(p).map_err(oe)?);
    }
    let mut env_flags = Vec::new();
    for e in &f.env {
        env_flags.push(runopts::parse_env(e).map_err(fe)?);
    }
    let env = runopts::merge_env(env_file, &env_flags);
    let mut label_file = Vec::new();
    for p in &f.label_file {
        label_file.extend(runopts::parse_label_file(p).map_err(oe)?);
    }
    let mut label_flags = Vec::new();
    for l in &f.label {
        label_flags.push(runopts::parse_label(l).map_err(fe)?);
    }
    let labels = runopts::merge_labels(&label_file, &label_flags);
    let attach = runopts::parse_attach(&f.attach, f.interactive).map_err(fe)?;
    let mut sysctls = BTreeMap::new();
    for s in &f.sysctl {
        let (k, v) = runopts::parse_sysctl(s).map_err(fe)?;
        sysctls.insert(k, v);
    }
    let ulimits = runopts::parse_ulimits(&f.ulimit).map_err(fe)?;
    let mem = |flag: &str, v: &Option<String>| -> CliResult<i64> {
        v.as_deref()
            .map(|v| runopts::parse_memory(flag, v).map_err(fe))
            .transpose()
            .map(|x| x.unwrap_or(0))
    };
    let int = |flag: &str, v: &Option<String>| -> CliResult<Option<i64>> {
        v.as_deref()
            .map(|v| runopts::parse_int_flag(flag, v).map_err(fe))
            .transpose()
    };
    let memory = mem("-m, --memory", &f.memory)?;
    let memory_swap = f
        .memory_swap
        .as_deref()
        .map(|v| runopts::parse_memory_swap("--memory-swap", v).map_err(fe))
        .transpose()?
        .unwrap_or(0);
    let memory_reservation = mem("--memory-reservation", &f.memory_reservation)?;
    let shm_size = mem("--shm-size", &f.shm_size)?;
    let nano_cpus = f
        .cpus
        .as_deref()
        .map(|v| runopts::parse_cpus(v).map_err(fe))
        .transpose()?
        .unwrap_or(0);
    let cpu_shares = int("-c, --cpu-shares", &f.cpu_shares)?.unwrap_or(0);
    let cpu_period = int("--cpu-period", &f.cpu_period)?.unwrap_or(0);
    let cpu_quota = int("--cpu-quota", &f.cpu_quota)?.unwrap_or(0);
    let pids_limit = int("--pids-limit", &f.pids_limit)?;
    let oom_score_adj = int("--oom-score-adj", &f.oom_score_adj)?.unwrap_or(0);
    let swappiness = int("--memory-swappiness", &f.memory_swappiness)?;
    if let Some(sw) = swappiness {
        runopts::check_swappiness(sw).map_err(oe)?;
    }
    let blkio_weight = f
        .blkio_weight
        .as_deref()
        .map(|v| runopts::parse_uint_flag("--blkio-weight", v, 16).map_err(fe))
        .transpose()?
        .unwrap_or(0) as i64;
    if let Some(w) = runopts::oom_kill_disable_warning(f.oom_kill_disable, memory) {
        eprintln!("{w}");
    }
    let stop_timeout = int("--stop-timeout", &f.stop_timeout)?;
    let restart = runopts::parse_restart(&f.restart).map_err(oe)?;
    runopts::check_restart_and_rm(&restart, f.rm).map_err(oe)?;
    let log_driver = f.log_driver.clone().unwrap_or_else(|| "json-file".into());
    let log_opts = runopts::parse_log_opts(&log_driver, &f.log_opt).map_err(oe)?;
    if let Some(k) = &f.detach_keys {
        if !k.is_empty() {
            runopts::parse_detach_keys(k)
                .map_err(|m| CliError::Engine(berth_engine::Error::invalid(m)))?;
        }
    }
    if !matches!(f.pull.as_str(), "missing" | "never" | "always") {
        return Err(oe(format!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            f.pull
        )));
    }
    let flag_arg = |flag: &str, v: &str, m: String| {
        fe(format!("invalid argument \"{v}\" for \"{flag}\" flag: {m}"))
    };
    for h in &f.add_host {
        runopts::check_extra_host(h).map_err(|m| flag_arg("--add-host", h, m))?;
    }
    for d in &f.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(flag_arg("--dns", d, format!("{d} is not an ip address")));
        }
    }
    if let Some(m) = f.mac_address.as_deref().filter(|m| !m.is_empty()) {
        if berth_engine::containers::network::parse_mac(m).is_err() {
            return Err(oe(format!("{m} is not a valid mac address")));
        }
    }
    if let Some(ip) = f.ip.as_deref().filter(|i| !i.is_empty()) {
        if ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(oe(format!("invalid IPv4 address: {ip}")));
        }
    }
    if let Some(ip) = f.ip6.as_deref().filter(|i| !i.is_empty()) {
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(oe(format!("invalid IPv6 address: {ip}")));
        }
    }
    let (port_bindings, mut exposed) =
        berth_engine::networks::ports::parse_publish(&f.publish).map_err(oe)?;
    exposed.extend(berth_engine::networks::ports::parse_expose(&f.expose).map_err(oe)?);
    // Checked by the engine, as dockerd checks them; the CLI only sorts
    // `-v /path` (a new anonymous volume) from binds, as docker's does.
    let (binds, anon_volumes) = runopts::split_volumes(&f.volume).map_err(oe)?;
    let mut mounts = Vec::new();
    for m in &f.mount {
        mounts
            .push(runopts::parse_mount(m).map_err(|e| fe(runopts::flag_error("--mount", m, &e)))?);
    }
    let tmpfs: BTreeMap<String, String> = f
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((d, o)) => (d.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let entrypoint = f.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let config = ContainerConfig {
        hostname: f.hostname.clone().unwrap_or_default(),
        domainname: f.domainname.clone().unwrap_or_default(),
        user: f.user.clone().unwrap_or_default(),
        working_dir: f.workdir.clone().unwrap_or_default(),
        attach_stdin: attach.stdin,
        attach_stdout: attach.stdout,
        attach_stderr: attach.stderr,
        tty: f.tty,
        open_stdin: f.interactive,
        stdin_once: attach.stdin_once,
        env: (!env.is_empty()).then_some(env),
        cmd: (!cmd.is_empty()).then_some(cmd),
        image,
        entrypoint,
        labels: Some(labels),
        stop_signal: f.stop_signal.clone(),
        stop_timeout,
        mac_address: f.mac_address.clone().filter(|m| !m.is_empty()),
        exposed_ports: (!exposed.is_empty()).then(|| {
            exposed
                .into_iter()
                .map(|p| (p, serde_json::json!({})))
                .collect()
        }),
        volumes: (!anon_volumes.is_empty()).then(|| {
            anon_volumes
                .into_iter()
                .map(|v| (v, serde_json::json!({})))
                .collect()
        }),
        ..Default::default()
    };
    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        volumes_from: (!f.volumes_from.is_empty()).then(|| f.volumes_from.clone()),
        volume_driver: f.volume_driver.clone().unwrap_or_default(),
        container_id_file: f.cidfile.clone().unwrap_or_default(),
        log_config: LogConfig {
            kind: log_driver,
            config: log_opts,
        },
        network_mode: f.network.clone(),
        port_bindings: serde_json::to_value(&port_bindings).unwrap_or_default(),
        publish_all_ports: f.publish_all,
        dns: f.dns.clone(),
        dns_search: f.dns_search.clone(),
        dns_options: f.dns_option.clone(),
        extra_hosts: (!f.add_host.is_empty()).then(|| f.add_host.clone()),
        links: (!f.link.is_empty()).then(|| f.link.clone()),
        restart_policy: RestartPolicy {
            name: if restart.name.is_empty() {
                "no".into()
            } else {
                restart.name.clone()
            },
            maximum_retry_count: restart.maximum_retry_count,
        },
        auto_remove: f.rm,
        group_add: (!f.group_add.is_empty()).then(|| f.group_add.clone()),
        sysctls: (!sysctls.is_empty()).then_some(sysctls),
        shm_size,
        runtime: f.runtime.clone().unwrap_or_default(),
        memory,
        memory_swap,
        memory_reservation,
        nano_cpus,
        cpu_shares,
        cpu_period,
        cpu_quota,
        cpuset_cpus: f.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: f.cpuset_mems.clone().unwrap_or_default(),
        pids_limit,
        oom_score_adj,
        readonly_rootfs: f.read_only,
        memory_swappiness: swappiness.filter(|s| *s != -1),
        oom_kill_disable: f.oom_kill_disable,
        blkio_weight,
        ulimits: (!ulimits.is_empty()).then(|| {
            ulimits
                .into_iter()
                .map(|u| Ulimit {
                    name: u.name,
                    hard: u.hard,
                    soft: u.soft,
                })
                .collect()
        }),
        init: f.init.then_some(true),
        ..Default::default()
    };
    Ok((
        CreateOptions {
            name: f.name.clone(),
            config,
            host_config,
            detach_keys: f.detach_keys.clone(),
            networking: NetworkingConfig {
                endpoint: EndpointSettings::request(f.ip.as_deref(), &f.network_alias, &[])
                    .with_ip6(f.ip6.as_deref()),
            },
        },
        attach,
    ))
}

fn write_cidfile(path: &str, id: &str) -> CliResult {
    if path.is_empty() {
        return Ok(());
    }
    std::fs::write(path, id)
        .map_err(|e| CliError::Plain(format!("failed to write the container ID to the file: {e}")))
}

fn check_cidfile(path: &Option<String>, cmd: &str) -> CliResult {
    if let Some(p) = path {
        if std::path::Path::new(p).exists() {
            return Err(usage_error(cmd, &format!("Container ID file found, make sure the other container isn't running or delete {p}")));
        }
    }
    Ok(())
}

pub fn create(engine: &Engine, f: CreateFlags, path: &str) -> CliResult {
    let (opts, _) = create_options(&f, path)?;
    check_cidfile(&f.cidfile, path)?;
    let c = create_pulling(engine, &opts, &f.pull, f.platform.as_deref())?;
    for w in &c.warnings {
        eprintln!("WARNING: {w}");
    }
    write_cidfile(opts.host_config.container_id_file.as_str(), &c.id)?;
    println!("{}", c.id);
    Ok(())
}

/// Create, pulling the image first as `--pull` asks: `always` pulls
/// before, `missing` pulls when the image is not here (Docker's notice on
/// stderr, then the pull's progress), `never` does not.
fn create_pulling(
    engine: &Engine,
    opts: &CreateOptions,
    pull: &str,
    platform: Option<&str>,
) -> CliResult<berth_engine::containers::Created> {
    if pull == "always" {
        super::registry::pull_quietly_to_stderr(engine, &opts.config.image, platform)?;
    }
    match engine.container_create(opts) {
        Err(e)
            if e.kind == berth_engine::ErrorKind::NotFound
                && e.message.starts_with("No such image")
                && pull == "missing" =>
        {
            super::registry::pull_for_create(engine, &opts.config.image, platform)?;
            Ok(engine.container_create(opts)?)
        }
        r => Ok(r?),
    }
}

pub fn run(engine: &Engine, a: RunArgs, path: &str) -> CliResult {
    let f = &a.create;
    let (mut opts, att) = create_options(f, path)?;
    if a.detach {
        if !f.attach.is_empty() {
            return Err(usage_error(path, runopts::CONFLICT_ATTACH_DETACH));
        }
        opts.config.attach_stdin = false;
        opts.config.attach_stdout = false;
        opts.config.attach_stderr = false;
        opts.config.stdin_once = false;
    }
    check_cidfile(&f.cidfile, path)?;
    engine.container_warm_start();
    let created = match create_pulling(engine, &opts, &f.pull, f.platform.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            return Err(match e {
                CliError::Engine(e) => {
                    usage_error(path, &format!("Error response from daemon: {}", e.message))
                }
                other => other,
            });
        }
    };
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    write_cidfile(&opts.host_config.container_id_file, &created.id)?;
    let id = created.id;
    let started = match engine.container_start(&id, !a.detach) {
        Ok(s) => s,
        Err(e) => {
            let code = match e.kind {
                berth_engine::ErrorKind::NotFound => 127,
                berth_engine::ErrorKind::Conflict => 126,
                _ => 125,
            };
            if opts.host_config.auto_remove {
                let _ = engine.container_remove_with(&id, true, true);
            }
            return Err(CliError::Coded(
                format!("berth: Error response from daemon: {}.", e.message),
                code,
            ));
        }
    };
    if a.detach {
        println!("{id}");
        return Ok(());
    }
    let Some(sock) = started.owner else {
        return Ok(());
    };
    let keys = detach_keys(f.detach_keys.as_deref());
    let o = AttachOptions {
        stdin: att.stdin && f.interactive,
        stdout: att.stdout,
        stderr: att.stderr,
        tty: f.tty,
        sig_proxy: a.sig_proxy,
        detach_keys: keys,
    };
    let outcome = attach::attach(sock, &o, &|sig| {
        let _ = engine.container_kill(&id, sig);
    })?;
    match outcome {
        Outcome::Detached => {
            eprintln!("\r\nread escape sequence\r");
            Ok(())
        }
        Outcome::Exited | Outcome::Lost => {
            let code = engine.container_finish(&id)?;
            if code == 0 {
                Ok(())
            } else {
                Err(CliError::Exit(code.clamp(0, 255) as u8))
            }
        }
    }
}

fn detach_keys(k: Option<&str>) -> Vec<u8> {
    match k {
        Some(k) if !k.is_empty() => {
            runopts::parse_detach_keys(k).unwrap_or_else(|_| runopts::DEFAULT_DETACH_KEYS.to_vec())
        }
        _ => runopts::DEFAULT_DETACH_KEYS.to_vec(),
    }
}

pub fn start(engine: &Engine, a: StartArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    if a.attach || a.interactive {
        if a.args.len() > 1 {
            return Err(CliError::Plain(
                "Error: you cannot start and attach multiple containers at once".into(),
            ));
        }
        let rec = engine.container_get(&a.args[0])?;
        if rec.state.running {
            return Err(CliError::Engine(berth_engine::Error::conflict(format!(
                "container {} is already running",
                rec.id
            ))));
        }
        let started = engine.container_start(&rec.id, true)?;
        let Some(sock) = started.owner else {
            return Ok(());
        };
        let o = AttachOptions {
            stdin: a.interactive && rec.config.open_stdin,
            stdout: true,
            stderr: true,
            tty: rec.config.tty,
            sig_proxy: true,
            detach_keys: detach_keys(
                a.detach_keys
                    .as_deref()
                    .or(rec.private.detach_keys.as_deref()),
            ),
        };
        let id = rec.id.clone();
        let outcome = attach::attach(sock, &o, &|sig| {
            let _ = engine.container_kill(&id, sig);
        })?;
        return match outcome {
            Outcome::Detached => Ok(()),
            _ => {
                let code = engine.container_finish(&id)?;
                if code == 0 {
                    Ok(())
                } else {
                    Err(CliError::Exit(code.clamp(0, 255) as u8))
                }
            }
        };
    }
    let mut failed = Vec::new();
    for name in &a.args {
        match engine.container_start(name, false) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {}", e.message);
                failed.push(name.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Plain(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        )))
    }
}

/// Apply `op` to each named container, printing names; docker's error
/// collection (each error on its own line, exit 1 at the end).
fn each(
    args: &[String],
    prefix: &str,
    mut op: impl FnMut(&str) -> berth_engine::Result<()>,
) -> CliResult {
    let mut failed = false;
    for name in args {
        match op(name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                failed = true;
                eprintln!("{prefix}{}", e.message);
            }
        }
    }
    if failed {
        Err(CliError::Exit(1))
    } else {
        Ok(())
    }
}

fn parse_time_flag(t: &Option<String>) -> CliResult<Option<i64>> {
    t.as_deref()
        .map(|v| runopts::parse_int_flag("-t, --time", v).map_err(|m| flag_error("stop", &m)))
        .transpose()
}

pub fn stop(engine: &Engine, a: StopArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    let t = parse_time_flag(&a.time)?;
    each(&a.args, "Error response from daemon: ", |n| {
        engine.container_stop(n, t)
    })
}

pub fn restart(engine: &Engine, a: StopArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    let t = parse_time_flag(&a.time)?;
    each(&a.args, "Error response from daemon: ", |n| {
        engine.container_stop(n, t)?;
        engine.container_start(n, false).map(|_| ())
    })
}

pub fn kill(engine: &Engine, a: KillArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    let sig = berth_engine::containers::parse_signal(&a.signal).ok_or_else(|| {
        CliError::Engine(berth_engine::Error::invalid(format!(
            "Invalid signal: {}",
            a.signal
        )))
    })?;
    each(&a.args, "Error response from daemon: ", |n| {
        engine.container_kill(n, sig)
    })
}

pub fn rm(engine: &Engine, a: RmArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    let mut failed = false;
    for name in &a.args {
        match engine.container_remove_with(name, a.force, a.volumes) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                failed = true;
                if e.kind == berth_engine::ErrorKind::NotFound {
                    eprintln!("Error: {}", e.message);
                } else {
                    eprintln!("Error response from daemon: {}", e.message);
                }
            }
        }
    }
    if failed {
        Err(CliError::Exit(1))
    } else {
        Ok(())
    }
}

pub fn wait(engine: &Engine, a: NamesOnly, path: &str) -> CliResult {
    need(path, &a.args, 1, None)?;
    let mut failed = false;
    for name in &a.args {
        match engine.container_wait(name) {
            Ok(code) => println!("{code}"),
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {}", e.message);
            }
        }
    }
    if failed {
        Err(CliError::Exit(1))
    } else {
        Ok(())
    }
}

pub fn pause(engine: &Engine, a: NamesOnly, path: &str, on: bool) -> CliResult {
    need(path, &a.args, 1, None)?;
    each(&a.args, "Error response from daemon: ", |n| {
        engine.container_pause(n, on)
    })
}

pub fn rename(engine: &Engine, a: NamesOnly, path: &str) -> CliResult {
    need(path, &a.args, 2, Some(2))?;
    engine
        .container_rename(&a.args[0], &a.args[1])
        .map_err(|e| {
            eprintln!("Error response from daemon: {}", e.message);
            CliError::Plain(format!(
                "Error: failed to rename container named {}",
                a.args[0]
            ))
        })
}

/// Docker's "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
fn status_text(r: &Record) -> String {
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc))
    };
    let now = chrono::Utc::now();
    if r.state.running {
        let up = parse(&r.state.started_at)
            .map(|t| render::human_duration(now - t))
            .unwrap_or_default();
        if r.state.paused {
            return format!("Up {up} (Paused)");
        }
        return format!("Up {up}");
    }
    if r.state.status == "created"
        || r.state.started_at == berth_engine::containers::record::ZERO_TIME
    {
        return "Created".into();
    }
    if r.state.status == "dead" {
        return "Dead".into();
    }
    let ago = parse(&r.state.finished_at)
        .map(|t| render::human_duration(now - t))
        .unwrap_or_default();
    format!("Exited ({}) {ago} ago", r.state.exit_code)
}

/// The COMMAND column: entrypoint + cmd, Go-quoted.
/// The COMMAND column before quoting: arguments with spaces in single
/// quotes, as dockerd lists them.
fn command_text(r: &Record) -> String {
    let mut parts = vec![r.path.clone()];
    parts.extend(r.args.iter().map(|a| {
        if a.contains(' ') {
            format!("'{a}'")
        } else {
            a.clone()
        }
    }));
    parts.join(" ")
}

fn ps_filter(r: &Record, filters: &[(String, String)], engine: &Engine) -> CliResult<bool> {
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in filters {
        by_key.entry(k.as_str()).or_default().push(v.as_str());
    }
    for (k, vals) in by_key {
        let ok = match k {
            "id" => vals.iter().any(|v| r.id.starts_with(v)),
            "name" => vals
                .iter()
                .any(|v| r.bare_name().contains(v.trim_start_matches('/'))),
            "status" => vals.iter().any(|v| {
                let s = if r.state.paused {
                    "paused"
                } else {
                    r.state.status.as_str()
                };
                *v == s
            }),
            "exited" => vals.iter().any(|v| {
                !r.state.running
                    && r.state.status == "exited"
                    && v.parse::<i64>().ok() == Some(r.state.exit_code)
            }),
            "label" => {
                let labels = r.config.labels.clone().unwrap_or_default();
                vals.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => labels.get(k).map(|x| x == val).unwrap_or(false),
                    None => labels.contains_key(*v),
                })
            }
            "ancestor" => vals.iter().any(|v| match engine.image_store().resolve(v) {
                Ok(id) => id.to_string() == r.image,
                Err(_) => false,
            }),
            "before" | "since" => {
                let Some(v) = vals.first() else {
                    return Ok(true);
                };
                let other = engine.container_get(v)?;
                if k == "before" {
                    r.created < other.created
                } else {
                    r.created > other.created
                }
            }
            "isolation" => true,
            _ => {
                return Err(CliError::Engine(berth_engine::Error::invalid(format!(
                    "Invalid filter '{k}'"
                ))));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn ps(engine: &Engine, a: PsArgs, path: &str) -> CliResult {
    need(path, &a.args, 0, Some(0))?;
    let mut filters = Vec::new();
    for f in &a.filter {
        let Some((k, v)) = f.split_once('=') else {
            return Err(CliError::Plain(format!("invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\nSee 'berth {path} --help'.")));
        };
        filters.push((k.to_string(), v.to_string()));
    }
    if let Some((_, v)) = filters.iter().find(|(k, _)| k == "status") {
        if ![
            "created",
            "restarting",
            "running",
            "removing",
            "paused",
            "exited",
            "dead",
        ]
        .contains(&v.as_str())
        {
            return Err(CliError::Engine(berth_engine::Error::invalid(format!(
                "Invalid filter 'status={v}'"
            ))));
        }
    }
    let mut all = a.all || a.latest || a.last >= 0;
    if filters.iter().any(|(k, _)| k == "status" || k == "exited") {
        all = true;
    }
    let mut list = Vec::new();
    for r in engine.container_list()? {
        if !all && !r.state.running {
            continue;
        }
        if ps_filter(&r, &filters, engine)? {
            list.push(r);
        }
    }
    let limit = if a.latest {
        1
    } else if a.last >= 0 {
        a.last as usize
    } else {
        usize::MAX
    };
    list.truncate(limit);
    if a.quiet {
        for r in &list {
            println!(
                "{}",
                if a.no_trunc {
                    r.id.as_str()
                } else {
                    r.short_id()
                }
            );
        }
        return Ok(());
    }
    let default = if a.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let format = a.format.clone().unwrap_or_else(|| default.to_string());
    let want_size = a.size || super::container_stats::format_uses_size(a.format.as_deref());
    let headers = json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
        "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        "State": "STATE", "LocalVolumes": "LOCAL VOLUMES",
    });
    let rows: Vec<Value> = list
        .iter()
        .map(|r| {
            let size = if want_size {
                super::container_stats::size_text(engine, r)
            } else {
                "0B".to_string()
            };
            container_row(engine, r, !a.no_trunc, size)
        })
        .collect();
    super::print_rows(&format, &headers, &rows)
}

/// The docker CLI's container formatter fields (`ps`, `system df -v`);
/// `trunc` shortens the ID, command and mount names as its tables do.
pub(crate) fn container_row(engine: &Engine, r: &Record, trunc: bool, size: String) -> Value {
    let created = chrono::DateTime::parse_from_rfc3339(&r.created)
        .map(|d| d.timestamp())
        .unwrap_or(0);
    let mut cmd = command_text(r);
    if trunc {
        cmd = render::ellipsis(&cmd, 20);
    }
    let cmd = runopts::go_quote(&cmd);
    let labels = r
        .config
        .labels
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    // The docker CLI's columns: a mount's volume name, else its source.
    let mounts = r
        .mounts
        .iter()
        .map(|m| {
            let name = match m["Name"].as_str() {
                Some(n) if !n.is_empty() => n,
                _ => m["Source"].as_str().unwrap_or(""),
            };
            if trunc {
                render::ellipsis(name, 15)
            } else {
                name.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let local_volumes = r.mounts.iter().filter(|m| m["Driver"] == "local").count();
    let since =
        chrono::Utc::now() - chrono::DateTime::from_timestamp(created, 0).unwrap_or_default();
    sorted_keys(json!({
        "ID": if trunc { r.short_id().to_string() } else { r.id.clone() },
        "Image": image_column(engine, r),
        "Command": cmd,
        "CreatedAt": render::go_time_string(created),
        "RunningFor": format!("{} ago", render::human_duration(since)),
        "Status": status_text(r),
        "State": if r.state.paused { "paused".to_string() } else { r.state.status.clone() },
        "Ports": berth_engine::networks::ports::format_ports(
            &serde_json::from_value(r.network_settings["Ports"].clone()).unwrap_or_default()
        ),
        "Names": r.bare_name(),
        "Labels": labels,
        "Size": size,
        "Mounts": mounts,
        "Networks": berth_engine::containers::network::endpoints(r).keys().cloned().collect::<Vec<_>>().join(","),
        "LocalVolumes": local_volumes.to_string(),
    }))
}

/// `{{json .}}` of a list row prints its keys sorted, as Go marshals a map.
pub(crate) fn sorted_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().collect())
        }
        other => other,
    }
}

/// Docker shows the image as typed while that name still means the same
/// image, else the short image ID.
fn image_column(engine: &Engine, r: &Record) -> String {
    match engine.image_store().resolve(&r.config.image) {
        Ok(id) if id.to_string() == r.image => r.config.image.clone(),
        _ => r
            .image
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect(),
    }
}

pub fn logs(engine: &Engine, a: LogsArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(1))?;
    let rec = engine.container_get(&a.args[0]).map_err(|e| {
        if e.kind == berth_engine::ErrorKind::NotFound {
            CliError::Plain(format!("Error: {}", e.message))
        } else {
            CliError::Engine(e)
        }
    })?;
    if rec.host_config.log_config.kind != "json-file" {
        return Err(CliError::Engine(berth_engine::Error::invalid(
            "configured logging driver does not support reading",
        )));
    }
    let now = std::time::SystemTime::now();
    let time_arg = |v: &Option<String>, what: &str| -> CliResult<Option<std::time::SystemTime>> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some("0") if what == "until" => Ok(None),
            Some(s) => berth_logs::parse_time_arg(s, now)
                .map(Some)
                .map_err(|e| CliError::Plain(format!("invalid value for \"{what}\": {e}"))),
        }
    };
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        t => match t.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => None,
        },
    };
    let opts = berth_logs::ReadOptions {
        tail,
        since: time_arg(&a.since, "since")?,
        until: time_arg(&a.until, "until")?,
        timestamps: a.timestamps,
        follow: a.follow && rec.state.running,
        stdout: true,
        stderr: true,
    };
    let id = rec.id.clone();
    let stop = || match engine.container_refresh(&id) {
        Ok(Some(r)) => !r.state.running,
        _ => true,
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let res = berth_logs::read(
        std::path::Path::new(&rec.log_path),
        &opts,
        &stop,
        &mut |e| {
            let ts = "";
            match e.stream {
                berth_logs::Stream::Stdout => {
                    out.write_all(ts.as_bytes())?;
                    out.write_all(&e.bytes)?;
                    out.flush()
                }
                berth_logs::Stream::Stderr => {
                    err.write_all(ts.as_bytes())?;
                    err.write_all(&e.bytes)
                }
            }
        },
    );
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => Ok(r?),
    }
}

#[allow(dead_code)]
fn format_unused(_: Format) {}

pub fn exec(engine: &Engine, a: crate::cli::ExecArgs, path: &str) -> CliResult {
    need(path, &a.args, 2, None)?;
    let fe = |m: String| flag_error(path, &m);
    let mut env = Vec::new();
    for p in &a.env_file {
        env.extend(runopts::parse_env_file(p).map_err(|m| usage_error(path, &m))?);
    }
    let mut flags = Vec::new();
    for e in &a.env {
        flags.push(runopts::parse_env(e).map_err(fe)?);
    }
    let env = runopts::merge_env(env, &flags);
    let opts = berth_engine::containers::ExecOptions {
        cmd: a.args[1..].to_vec(),
        env,
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: a.tty,
        detach: a.detach,
        privileged: a.privileged,
    };
    let stdio = if a.detach {
        // A detached exec must not hold the caller's output open.
        let null = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .ok()
                .map(std::os::fd::OwnedFd::from)
        };
        [null(), null(), null()]
    } else if a.tty {
        [None, None, None]
    } else {
        let dup = |fd: i32| attach::dup_fd(fd).ok();
        [if a.interactive { dup(0) } else { None }, dup(1), dup(2)]
    };
    let h = match engine.container_exec(&a.args[0], &opts, stdio) {
        Ok(h) => h,
        Err(e) => {
            return Err(match e.kind {
                berth_engine::ErrorKind::NotFound if e.message.starts_with("No such container") => {
                    CliError::Plain(format!("Error: {}", e.message))
                }
                berth_engine::ErrorKind::NotFound | berth_engine::ErrorKind::InvalidArgument
                    if !e.message.starts_with("No exec command") =>
                {
                    CliError::Coded(e.message, 126)
                }
                berth_engine::ErrorKind::Conflict if e.message.starts_with("OCI runtime") => {
                    CliError::Coded(e.message, 126)
                }
                _ => CliError::Engine(e),
            });
        }
    };
    if a.detach {
        return Ok(());
    }
    let code = match h.pty {
        Some(master) => attach::relay_pty(
            master,
            h.pid,
            a.interactive,
            &detach_keys(a.detach_keys.as_deref()),
        )?,
        None => attach::wait_pid(h.pid),
    };
    match code {
        Some(0) => Ok(()),
        Some(c) => Err(CliError::Exit(c.clamp(0, 255) as u8)),
        None => Ok(()),
    }
}

pub fn attach_cmd(engine: &Engine, a: crate::cli::AttachArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(1))?;
    let (sock, rec) = engine.container_attach(&a.args[0])?;
    let o = AttachOptions {
        stdin: rec.config.open_stdin && !a.no_stdin,
        stdout: true,
        stderr: true,
        tty: rec.config.tty,
        sig_proxy: a.sig_proxy,
        detach_keys: detach_keys(
            a.detach_keys
                .as_deref()
                .or(rec.private.detach_keys.as_deref()),
        ),
    };
    let id = rec.id.clone();
    match attach::attach(sock, &o, &|sig| {
        let _ = engine.container_kill(&id, sig);
    })? {
        Outcome::Detached => {
            eprintln!("read escape sequence");
            Ok(())
        }
        Outcome::Exited | Outcome::Lost => {
            let code = engine.container_wait(&id).unwrap_or(0);
            if code == 0 {
                Ok(())
            } else {
                Err(CliError::Exit(code.clamp(0, 255) as u8))
            }
        }
    }
}
