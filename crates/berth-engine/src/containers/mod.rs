//! Containers: create, start, stop, remove, and keeping their state true.
//!
//! A container is a record under `containers/<id>/` (Docker's inspect
//! document plus berth's private facts) and, while it runs, a monitor
//! process plus runtime state under the run root. No daemon keeps the
//! record in step with reality, so every command that looks at a running
//! container first *refreshes* it: an exit file written by the monitor, a
//! monitor that vanished (SIGKILL, reboot) -- each is folded into the
//! record and the runtime leftovers (cgroups, mounts) are cleaned up.

pub mod fs;
pub mod mounts;
pub mod names;
pub mod network;
pub mod record;
pub mod stats;

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::driver::{self, Launch, LaunchError, LogSpec, Runtime};
use berth_runtime::{process, resources, rootfs, spec};
use berth_store::{atomic_replace_json, read_json, LockMode, StoreLock};

use crate::{Engine, Error, ErrorKind, Result};
pub use berth_image::config::ContainerConfig;
pub use record::{HostConfig, Record, State};

/// `POST /containers/{id}/exec`'s body.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub detach: bool,
    pub privileged: bool,
}

/// `POST /containers/create`'s body, as the docker CLI sends it.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// `--detach-keys` remembered for later attaches.
    pub detach_keys: Option<String>,
    /// `--ip`, `--network-alias`: the primary network's endpoint request.
    pub networking: network::NetworkingConfig,
}

#[derive(Debug)]
pub struct Created {
    pub id: String,
    pub warnings: Vec<String>,
}

/// A started container; `owner` is set for an attached `run`, which then
/// receives the output and must call [`Engine::container_finish`].
#[derive(Debug)]
pub struct Started {
    pub id: String,
    pub owner: Option<UnixStream>,
}

fn now_rfc3339() -> String {
    berth_image::config::go_rfc3339_nano(&chrono::Utc::now())
}

fn internal(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("{what}: {e}"))
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| internal("random", e))?;
    Ok(hex::encode(b))
}

/// Read a file inside a container root without following links out of it.
fn read_in_root(root: &Path, path: &str) -> Option<Vec<u8>> {
    use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};
    use std::io::Read;
    let dir = rustix::fs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let fd = openat2(
        &dir,
        path.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    let _ = CWD;
    let mut f = std::fs::File::from(fd);
    let mut v = Vec::new();
    f.read_to_end(&mut v).ok()?;
    Some(v)
}

/// A signal as dockerd reads it (`Invalid signal: X` otherwise).
pub fn parse_signal(s: &str) -> Option<i32> {
    berth_runtime::signal::parse_signal(s)
        .ok()
        .and_then(|n| i32::try_from(n).ok())
}

/// The image config turned into the process-shaping parts.
fn image_process(c: &ContainerConfig) -> process::ImageProcess {
    process::ImageProcess {
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        env: c.env.clone().unwrap_or_default(),
        working_dir: c.working_dir.clone(),
        user: c.user.clone(),
    }
}

/// Where berth's executables are: the monitor sits beside `berth`.
pub(crate) fn sibling_exe(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .map(|p| p.with_file_name(name))
        .unwrap_or_else(|_| PathBuf::from(name))
}

impl Engine {
    /// `berth --root R --runroot RR internal <what> <id>`: what a monitor
    /// execs when its container has ended and nobody else will clean up.
    pub(crate) fn internal_argv(&self, what: &str, id: &str) -> Vec<String> {
        vec![
            sibling_exe("berth", "BERTH_EXE").display().to_string(),
            "--root".into(),
            self.layout.root().display().to_string(),
            "--runroot".into(),
            self.layout.runroot().display().to_string(),
            "internal".into(),
            what.into(),
            id.into(),
        ]
    }

    /// A container removed meanwhile (its directory, and the lock file in
    /// it, gone) is "No such container", as a lookup would say.
    fn container_lock(&self, id: &str) -> Result<StoreLock> {
        StoreLock::acquire(&self.layout.container_lock(id), LockMode::Exclusive).map_err(|e| {
            if !self.layout.container_dir(id).exists() {
                return Error::not_found(format!("No such container: {id}"));
            }
            Error::from_store(e)
        })
    }

    pub(crate) fn load_record(&self, id: &str) -> Result<Option<Record>> {
        read_json(&self.layout.container_record(id)).map_err(Error::from_store)
    }

    /// A `--rm` container's record is not worth an fsync: after a crash
    /// it would be removed anyway.
    fn save_record(&self, rec: &Record) -> Result<()> {
        let durable = !rec.host_config.auto_remove;
        atomic_replace_json(&self.layout.container_record(&rec.id), rec, durable)
            .map_err(Error::from_store)
    }

    /// Every container id on disk. A `.new-` directory is a create that
    /// was killed before its rename; one older than a minute is removed.
    pub fn container_ids(&self) -> Result<Vec<String>> {
        let dir = self.layout.containers_dir();
        let mut ids = Vec::new();
        let rd = std::fs::read_dir(&dir).map_err(|e| internal(dir.display(), e))?;
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with(".new-") {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|d| d > Duration::from_secs(60));
                if old {
                    let _ = berth_store::remove_tree(&e.path());
                }
                continue;
            }
            if n.len() == 64
                && n.bytes().all(|b| b.is_ascii_hexdigit())
                && e.path().join("container.json").exists()
            {
                ids.push(n);
            }
        }
        Ok(ids)
    }

    /// Find a container by full id, name, or unique id prefix, as Docker does.
    pub fn container_resolve(&self, input: &str) -> Result<String> {
        let not_found = || Error::not_found(format!("No such container: {input}"));
        if input.is_empty() {
            return Err(not_found());
        }
        // A full ID or a name needs one stat or one readlink, not a scan.
        let is_full_id = input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit());
        if is_full_id && self.layout.container_record(input).exists() {
            return Ok(input.to_string());
        }
        let name = input.strip_prefix('/').unwrap_or(input);
        if let Some(id) = names::lookup(
            &self.layout.container_names_dir(),
            &self.layout.containers_dir(),
            name,
        ) {
            return Ok(id);
        }
        let ids = self.container_ids()?;
        let matches: Vec<&String> = ids.iter().filter(|i| i.starts_with(input)).collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches[0].clone()),
            _ => Err(Error::invalid(format!(
                "Multiple IDs found with provided prefix: {input}"
            ))),
        }
    }

    /// The record, refreshed against reality.
    pub fn container_get(&self, input: &str) -> Result<Record> {
        let id = self.container_resolve(input)?;
        self.container_refresh(&id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {input}")))
    }

    /// Fold what happened since the record was written into it. Cheap when
    /// nothing changed: one stat and one /proc read per running container.
    pub fn container_refresh(&self, id: &str) -> Result<Option<Record>> {
        let Some(rec) = self.load_record(id)? else {
            return Ok(None);
        };
        if !rec.state.running {
            // A start killed between launching and recording leaves runtime
            // state behind a stopped record; whoever holds no lock on it
            // is not starting it now, so it is stale.
            if self.layout.container_run_dir(id).exists() {
                if let Ok(Some(_l)) =
                    StoreLock::try_acquire(&self.layout.container_lock(id), LockMode::Exclusive)
                {
                    if let Some(r) = self.load_record(id)? {
                        if !r.state.running {
                            self.release_runtime(&r);
                        }
                    }
                }
            }
            return Ok(Some(rec));
        }
        if self.monitor_alive(&rec) && !self.exit_file(id).exists() {
            return Ok(Some(rec));
        }
        let _lock = self.container_lock(id)?;
        let Some(mut rec) = self.load_record(id)? else {
            return Ok(None);
        };
        if !rec.state.running {
            return Ok(Some(rec));
        }
        let exit = std::fs::read_to_string(self.exit_file(id)).ok();
        if exit.is_none() && self.monitor_alive(&rec) {
            return Ok(Some(rec));
        }
        let (code, finished, err) = match exit.as_deref().and_then(parse_exit_file) {
            Some((c, t)) => (c, t, String::new()),
            None => {
                // The monitor is gone without a word (killed, or the machine
                // restarted): nobody can report this container's exit any
                // more, so make sure it is not running, as Docker does after
                // a daemon crash.
                if rec.state.pid > 0 {
                    let _ =
                        driver::signal(rec.state.pid as i32, rec.private.init_start, libc::SIGKILL);
                    driver::wait_exit(
                        rec.state.pid as i32,
                        rec.private.init_start,
                        Some(Duration::from_secs(5)),
                    );
                }
                (255, now_rfc3339(), String::new())
            }
        };
        self.release_runtime(&rec);
        network::clear_runtime(&mut rec);
        rec.state = State {
            status: "exited".into(),
            exit_code: code,
            finished_at: finished,
            started_at: rec.state.started_at.clone(),
            error: err,
            ..State::default()
        };
        rec.private.monitor_pid = 0;
        if rec.host_config.auto_remove {
            self.remove_locked(&rec)?;
            self.remove_anonymous_volumes(&rec);
            return Ok(None);
        }
        self.save_record(&rec)?;
        Ok(Some(rec))
    }

    fn exit_file(&self, id: &str) -> PathBuf {
        self.layout.container_run_dir(id).join(driver::EXIT_FILE)
    }

    fn monitor_alive(&self, rec: &Record) -> bool {
        rec.private.monitor_pid > 0
            && driver::alive(rec.private.monitor_pid, rec.private.monitor_start)
    }

    fn runtime_of(&self, rec: &Record) -> Runtime {
        Runtime::from_name(&rec.host_config.runtime)
    }

    fn state_root(&self, rt: &Runtime) -> PathBuf {
        let name = match rt {
            Runtime::Embedded => "berth".to_string(),
            Runtime::External(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "external".into()),
        };
        self.layout.runtime_state_dir(&name)
    }

    /// Undo everything a start did on the host: runtime state and cgroups,
    /// the rootfs mount, the run dir. Idempotent; errors are not fatal
    /// because the next refresh tries again.
    fn release_runtime(&self, rec: &Record) {
        let rt = self.runtime_of(rec);
        let deleted = driver::delete(&rt, &self.state_root(&rt), &rec.id, &cgroups_path(&rec.id));
        let rootfs = self.layout.container_rootfs(&rec.id);
        let _ = rootfs::unmount(&rootfs);
        self.net_down(rec);
        self.volumes_release(rec);
        // Last, so that a run dir still there means "not all released":
        // kept while the runtime state could not go (a cgroup still busy
        // with a dying process), so the next refresh tries again.
        if deleted.is_ok() {
            let _ = std::fs::remove_dir_all(self.layout.container_run_dir(&rec.id));
        }
    }

    /// `docker create`.
    pub fn container_create(&self, o: &CreateOptions) -> Result<Created> {
        // Shared GC lock: no rmi can delete the image between here and the record.
        let _gc = self.images.gc_guard(LockMode::Shared)?;
        let image_id = self.images.resolve(&o.config.image)?;
        let image = self.images.load(&image_id)?;
        let img_cfg = image.config.config.clone().unwrap_or_default();
        let mut warnings = Vec::new();
        let hc = &o.host_config;
        let mut res = resources_of(hc);
        warnings.extend(
            resources::validate(&mut res, &resources::HostInfo::detect())
                .map_err(Error::invalid)?,
        );
        resources::apply_defaults(&mut res);
        resources::validate_log_config(&hc.log_config.kind, &hc.log_config.config)
            .map_err(Error::invalid)?;
        resources::validate_restart_policy(
            &hc.restart_policy.name,
            hc.restart_policy.maximum_retry_count,
            hc.auto_remove,
        )
        .map_err(Error::invalid)?;
        let runtime = Runtime::from_name(&hc.runtime);
        if let Runtime::External(p) = &runtime {
            if !p.is_absolute() || !p.exists() {
                return Err(Error::invalid(format!(
                    "Unknown runtime specified {}",
                    hc.runtime
                )));
            }
        }
        if let Some(sig) = &o.config.stop_signal {
            if parse_signal(sig).is_none() {
                return Err(Error::invalid(format!("Invalid signal: {sig}")));
            }
        }
        let id = random_hex(32)?;
        let name = match &o.name {
            Some(n) => names::validate(n)?,
            None => {
                let seed = u64::from_str_radix(&id[..16], 16).unwrap_or(0);
                names::random_name(seed)
            }
        };

        // Docker merges the image's config into the container's at create.
        let mut c = o.config.clone();
        let mut env = img_cfg.env.clone().unwrap_or_default();
        process::replace_or_append(&mut env, c.env.as_deref().unwrap_or(&[]));
        c.env = if env.is_empty() && img_cfg.env.is_none() && c.env.is_none() {
            None
        } else {
            Some(env)
        };
        let ep_reset = matches!(c.entrypoint.as_deref(), Some([e]) if e.is_empty())
            || c.entrypoint.as_ref().is_some_and(|e| e.is_empty());
        if ep_reset {
            c.entrypoint = None;
        } else if c.entrypoint.is_none() {
            c.entrypoint = img_cfg.entrypoint.clone();
            if c.cmd.is_none() {
                c.cmd = img_cfg.cmd.clone();
            }
        }
        if ep_reset && c.cmd.is_none() {
            // `--entrypoint ""` with no command keeps the image's Cmd.
            c.cmd = img_cfg.cmd.clone();
        }
        if c.working_dir.is_empty() {
            c.working_dir = img_cfg.working_dir.clone();
        }
        if c.user.is_empty() {
            c.user = img_cfg.user.clone();
        }
        if c.exposed_ports.is_none() {
            c.exposed_ports = img_cfg.exposed_ports.clone();
        }
        if let Some(iv) = &img_cfg.volumes {
            let mut v = iv.clone();
            v.extend(c.volumes.clone().unwrap_or_default());
            c.volumes = Some(v);
        }
        if c.stop_signal.is_none() {
            c.stop_signal = img_cfg.stop_signal.clone();
        }
        if c.healthcheck.is_none() {
            c.healthcheck = img_cfg.healthcheck.clone();
        }
        if c.on_build.is_none() {
            c.on_build = img_cfg.on_build.clone();
        }
        let mut labels = img_cfg.labels.clone().unwrap_or_default();
        labels.extend(c.labels.clone().unwrap_or_default());
        c.labels = Some(labels);
        let mut hc = o.host_config.clone();
        hc.links = self.links_plan_create(&hc, &name)?;
        let (network_settings, net_warnings) = self.net_plan_create(&c, &mut hc, &o.networking)?;
        warnings.extend(net_warnings);
        if c.hostname.is_empty() {
            c.hostname = match network::Mode::parse(&hc.network_mode) {
                // Docker: the host's name, in the container's own UTS namespace.
                network::Mode::Host => std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_else(|_| id[..12].to_string()),
                _ => id[..12].to_string(),
            };
        }
        if !c.working_dir.is_empty() && !c.working_dir.starts_with('/') {
            return Err(Error::invalid(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                c.working_dir
            )));
        }
        let args: Vec<String> = c
            .entrypoint
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(c.cmd.clone().unwrap_or_default())
            .collect();
        if args.is_empty() {
            return Err(Error::invalid("No command specified"));
        }

        // Held until the record is in place (see mounts_for_create).
        let config_volumes: Vec<String> =
            c.volumes.iter().flatten().map(|(k, _)| k.clone()).collect();
        let (mount_points, volumes_lock) = self.mounts_for_create(&hc, &config_volumes)?;
        let mounts = mount_points
            .iter()
            .filter(|p| !p.hidden)
            .map(mounts::MountPoint::inspect)
            .collect();
        let dir = self.layout.container_dir(&id);
        hc.runtime = runtime.name();
        store_resources(&mut hc, &res);
        let rec = Record {
            id: id.clone(),
            created: now_rfc3339(),
            path: args[0].clone(),
            args: args[1..].to_vec(),
            state: State::default(),
            image: image_id.to_string(),
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            log_path: self.layout.container_log(&id).display().to_string(),
            name: format!("/{name}"),
            restart_count: 0,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            host_config: hc,
            graph_driver: serde_json::json!({
                "Data": {
                    "LowerDir": self.images.lower_dirs(&image).iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
                    "MergedDir": self.layout.container_rootfs(&id).display().to_string(),
                    "UpperDir": self.layout.container_upper(&id).display().to_string(),
                    "WorkDir": self.layout.container_work(&id).display().to_string(),
                },
                "Name": "overlay2"
            }),
            mounts,
            config: c,
            network_settings,
            private: record::Private {
                image_ref: o.config.image.clone(),
                detach_keys: o.detach_keys.clone(),
                mount_points,
                ..Default::default()
            },
        };
        // Record first (under a staging name), then the name claim, then
        // the rename that makes the container exist.
        let stage = self.layout.containers_dir().join(format!(".new-{id}"));
        std::fs::create_dir_all(stage.join("rw/upper"))
            .map_err(|e| internal(stage.display(), e))?;
        std::fs::create_dir_all(stage.join("rw/work")).map_err(|e| internal(stage.display(), e))?;
        atomic_replace_json(
            &stage.join("container.json"),
            &rec,
            !rec.host_config.auto_remove,
        )
        .map_err(Error::from_store)?;
        std::fs::rename(&stage, &dir).map_err(|e| internal(dir.display(), e))?;
        drop(volumes_lock);
        if let Err(e) = names::claim(
            &self.layout.container_names_dir(),
            &self.layout.containers_dir(),
            &name,
            &id,
        ) {
            let _ = berth_store::remove_tree(&dir);
            self.remove_anonymous_volumes(&rec);
            return Err(e);
        }
        Ok(Created { id, warnings })
    }

    /// `docker start` (and the second half of `run`).
    pub fn container_start(&self, input: &str, owner: bool) -> Result<Started> {
        self.start_inner(input, owner, false)
    }

    /// Called by `run` before it creates the container: lets the kernel's
    /// slow first cgroup attach overlap with create and mount
    /// ([`berth_runtime::cgroups::warm_attach_lock`]).
    pub fn container_warm_start(&self) {
        berth_runtime::cgroups::warm_attach_lock();
    }

    /// `restart`: a restart-policy start, counted in RestartCount in the
    /// same write that records the new process.
    fn start_inner(&self, input: &str, owner: bool, restart: bool) -> Result<Started> {
        let id = self.container_resolve(input)?;
        self.container_refresh(&id)?;
        let _lock = self.container_lock(&id)?;
        let mut rec = self
            .load_record(&id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {input}")))?;
        if rec.state.running {
            return Ok(Started { id, owner: None });
        }
        let launched = match self.launch(&mut rec, owner) {
            Ok(l) => l,
            Err(e) => {
                self.release_runtime(&rec);
                network::clear_runtime(&mut rec);
                rec.state.error = e.message.clone();
                rec.state.exit_code = match e.kind {
                    ErrorKind::NotFound => 127,
                    ErrorKind::Conflict => 126,
                    _ => 128,
                };
                if rec.state.status == "created" || rec.state.status == "exited" {
                    rec.state.status = if rec.state.started_at == record::ZERO_TIME {
                        "created".into()
                    } else {
                        "exited".into()
                    };
                }
                let _ = self.save_record(&rec);
                return Err(e);
            }
        };
        rec.state = State {
            status: "running".into(),
            running: true,
            pid: launched.init_pid as i64,
            started_at: now_rfc3339(),
            ..State::default()
        };
        rec.private.monitor_pid = launched.monitor_pid;
        rec.private.monitor_start = driver::start_time(launched.monitor_pid).unwrap_or(0);
        rec.private.init_start = driver::start_time(launched.init_pid).unwrap_or(0);
        rec.private.stopped_by_user = false;
        if restart {
            rec.restart_count += 1;
        }
        self.save_record(&rec)?;
        Ok(Started {
            id,
            owner: launched.owner,
        })
    }

    fn launch(&self, rec: &mut Record, owner: bool) -> Result<driver::Launched> {
        let id = rec.id.clone();
        let image_id =
            berth_store::Digest::parse(&rec.image).map_err(|e| internal("image id", e))?;
        let image = self.images.load(&image_id)?;
        let lowers = self.images.lower_dirs(&image);
        let rootfs = self.layout.container_rootfs(&id);
        let run_dir = self.layout.container_run_dir(&id);
        std::fs::create_dir_all(&run_dir).map_err(|e| internal(run_dir.display(), e))?;
        if !rootfs::is_mounted(&rootfs) {
            rootfs::mount_overlay(
                &lowers,
                &self.layout.container_upper(&id),
                &self.layout.container_work(&id),
                &rootfs,
                rec.host_config.auto_remove,
            )
            .map_err(|e| internal("mount rootfs", e))?;
        }
        let net = self.net_up(rec)?;
        let c = &rec.config;
        let hc = &rec.host_config;
        let dir = self.layout.container_dir(&id);
        let hostname = net.hostname.clone().unwrap_or_else(|| c.hostname.clone());
        let hostname_file = format!(
            "{}{}\n",
            hostname,
            if c.domainname.is_empty() {
                String::new()
            } else {
                format!(".{}", c.domainname)
            }
        );
        // Written at every start (hosts and resolv.conf when missing), so
        // no fsync: a file torn by a crash is rewritten before use.
        let write = |name: &str, data: &[u8]| {
            std::fs::write(dir.join(name), data).map_err(|e| internal(name, e))
        };
        write("hostname", hostname_file.as_bytes())?;
        // A container joining another's namespace shares its files.
        let files_dir = match &net.share_files_of {
            Some(t) => self.layout.container_dir(&t.id),
            None => {
                write("hosts", net.hosts.as_bytes())?;
                write("resolv.conf", net.resolv.as_bytes())?;
                dir.clone()
            }
        };
        let read = |p: &str| read_in_root(&rootfs, p);
        // Legacy links' variables come first; the container's own win.
        let mut image_proc = image_process(c);
        let own: std::collections::HashSet<&str> = image_proc
            .env
            .iter()
            .map(|kv| kv.split('=').next().unwrap_or(kv))
            .collect();
        let linked: Vec<String> = net
            .env
            .iter()
            .filter(|kv| !own.contains(kv.split('=').next().unwrap_or(kv)))
            .cloned()
            .collect();
        image_proc.env.splice(0..0, linked);
        let proc_ = process::resolve(
            &image_proc,
            &process::RunOptions {
                group_add: hc.group_add.clone().unwrap_or_default(),
                tty: c.tty,
                hostname: hostname.clone(),
                ..Default::default()
            },
            &read,
        )
        .map_err(|e| Error::invalid(e.to_string()))?;
        let mut s = spec::build(
            &proc_,
            &spec::SpecOptions {
                rootfs: rootfs.display().to_string(),
                hostname: hostname.clone(),
                cgroups_path: cgroups_path(&id),
                terminal: c.tty,
                shm_size: hc.shm_size.max(0) as u64,
                etc_files: vec![
                    (
                        "/etc/resolv.conf".into(),
                        files_dir.join("resolv.conf").display().to_string(),
                    ),
                    (
                        "/etc/hostname".into(),
                        dir.join("hostname").display().to_string(),
                    ),
                    (
                        "/etc/hosts".into(),
                        files_dir.join("hosts").display().to_string(),
                    ),
                ],
            },
        );
        if let Some(ns) = s["linux"]["namespaces"].as_array_mut() {
            match &net.namespace {
                None => {
                    ns.retain(|n| n["type"] != "network");
                    // The host's own network sysctls are not the container's to set.
                    if let Some(sys) = s["linux"]["sysctl"].as_object_mut() {
                        sys.retain(|k, _| !k.starts_with("net."));
                    }
                }
                Some(Some(path)) => {
                    for n in ns.iter_mut().filter(|n| n["type"] == "network") {
                        n["path"] = serde_json::Value::from(path.clone());
                    }
                }
                Some(None) => {}
            }
        }
        resources::apply(&mut s, &resources_of(hc)).map_err(Error::invalid)?;
        apply_host_config(&mut s, hc);
        let user_mounts = self.mounts_for_start(&mut rec.private.mount_points, &rootfs)?;
        if let Some(m) = s["mounts"].as_array_mut() {
            // A user's mount replaces berth's own at the same place.
            m.retain(|d| {
                !rec.private
                    .mount_points
                    .iter()
                    .any(|p| d["destination"].as_str() == Some(p.destination.as_str()))
            });
            m.extend(user_mounts);
        }
        if hc.init == Some(true) {
            // Docker's --init: a tiny static init (tini) as PID 1 that
            // forwards signals and reaps zombies, bind-mounted read-only.
            let init = init_binary().ok_or_else(|| {
                Error::invalid("exec: \"docker-init\": executable file not found in $PATH")
            })?;
            if let Some(m) = s["mounts"].as_array_mut() {
                m.push(serde_json::json!({
                    "destination": "/sbin/docker-init",
                    "type": "bind",
                    "source": init.display().to_string(),
                    "options": ["bind", "ro"],
                }));
            }
            if let Some(a) = s["process"]["args"].as_array_mut() {
                a.insert(0, "--".into());
                a.insert(0, "/sbin/docker-init".into());
            }
        }
        let bundle = run_dir.clone();
        // The run root is tmpfs: nothing to fsync; it is gone after a reboot anyway.
        let spec_bytes = serde_json::to_vec(&s).map_err(|e| internal("spec", e))?;
        std::fs::write(bundle.join("config.json"), spec_bytes).map_err(|e| internal("spec", e))?;
        let runtime = self.runtime_of(rec);
        let state_root = self.state_root(&runtime);
        std::fs::create_dir_all(&state_root).map_err(|e| internal(state_root.display(), e))?;
        // A previous run's runtime state would make create fail.
        let _ = driver::delete(&runtime, &state_root, &id, &cgroups_path(&id));
        let log = if hc.log_config.kind == "json-file" {
            let o = resources::json_file_options(&hc.log_config.config).map_err(Error::invalid)?;
            Some(LogSpec {
                path: self.layout.container_log(&id),
                max_size: (o.max_size > 0).then_some(o.max_size as u64),
                max_file: o.max_file.max(1) as u32,
            })
        } else {
            None
        };
        let cleanup = self.internal_argv("cleanup", &id);
        let monitor = sibling_exe("berth-monitor", "BERTH_MONITOR");
        let (monitor_fds, monitor_args) = net.monitor_fds();
        driver::launch(&Launch {
            id: &id,
            bundle: &bundle,
            runtime: &runtime,
            state_root: &state_root,
            run_dir: &run_dir,
            tty: c.tty,
            stdin: c.open_stdin,
            owner,
            log,
            monitor_exe: &monitor,
            cleanup,
            monitor_fds,
            monitor_args,
        })
        .map_err(|e| match e {
            LaunchError::NotFound(m) => Error::new(ErrorKind::NotFound, m),
            LaunchError::CannotExecute(m) => Error::new(ErrorKind::Conflict, m),
            LaunchError::Other(m) => Error::new(ErrorKind::Internal, m),
        })
    }

    /// After an attached `run` saw the exit: fold it in (and `--rm`).
    /// Returns the exit code.
    pub fn container_finish(&self, id: &str) -> Result<i64> {
        // The monitor writes the exit file just before it says goodbye.
        for _ in 0..500 {
            if self.exit_file(id).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let code = std::fs::read_to_string(self.exit_file(id))
            .ok()
            .as_deref()
            .and_then(parse_exit_file)
            .map(|(c, _)| c);
        let rec = self.container_refresh(id)?;
        Ok(rec.map(|r| r.state.exit_code).or(code).unwrap_or(255))
    }

    /// `docker kill -s SIG`.
    pub fn container_kill(&self, input: &str, sig: i32) -> Result<()> {
        let rec = self.container_get(input)?;
        if !rec.state.running {
            return Err(Error::conflict(format!(
                "Cannot kill container: {input}: Container {} is not running",
                rec.id
            )));
        }
        // Docker does not restart a container its user killed.
        self.mark_stopped_by_user(&rec.id);
        driver::signal(rec.state.pid as i32, rec.private.init_start, sig)
            .map_err(|e| internal(format!("Cannot kill container: {input}"), e))?;
        if sig == libc::SIGKILL {
            self.wait_stopped(&rec, None);
        }
        Ok(())
    }

    /// Wait until the monitor is done with a container that is exiting.
    fn wait_stopped(&self, rec: &Record, timeout: Option<Duration>) -> bool {
        if !driver::wait_exit(rec.state.pid as i32, rec.private.init_start, timeout) {
            return false;
        }
        driver::wait_exit(
            rec.private.monitor_pid,
            rec.private.monitor_start,
            Some(Duration::from_secs(10)),
        );
        let _ = self.container_refresh(&rec.id);
        true
    }

    /// `docker stop [-t N]`: the stop signal, then SIGKILL after the timeout.
    pub fn container_stop(&self, input: &str, timeout: Option<i64>) -> Result<()> {
        let rec = self.container_get(input)?;
        if !rec.state.running {
            return Ok(());
        }
        self.mark_stopped_by_user(&rec.id);
        let sig = rec
            .config
            .stop_signal
            .as_deref()
            .and_then(parse_signal)
            .unwrap_or(libc::SIGTERM);
        let t = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        if rec.state.paused {
            let rt = self.runtime_of(&rec);
            let _ = driver::set_paused(&rt, &self.state_root(&rt), &rec.id, false);
        }
        let _ = driver::signal(rec.state.pid as i32, rec.private.init_start, sig);
        let waited = if t < 0 {
            None
        } else {
            Some(Duration::from_secs(t as u64))
        };
        if !self.wait_stopped(&rec, waited) {
            let _ = driver::signal(rec.state.pid as i32, rec.private.init_start, libc::SIGKILL);
            self.wait_stopped(&rec, None);
        }
        Ok(())
    }

    fn mark_stopped_by_user(&self, id: &str) {
        if let Ok(_l) = self.container_lock(id) {
            if let Ok(Some(mut r)) = self.load_record(id) {
                r.private.stopped_by_user = true;
                let _ = self.save_record(&r);
            }
        }
    }

    /// `docker wait`: block until the container is not running; its exit code.
    pub fn container_wait(&self, input: &str) -> Result<i64> {
        let rec = self.container_get(input)?;
        if rec.state.running {
            driver::wait_exit(rec.private.monitor_pid, rec.private.monitor_start, None);
            if let Some(r) = self.container_refresh(&rec.id)? {
                return Ok(r.state.exit_code);
            }
            // Removed by --rm: the exit file went with it; the code is lost
            // only if the run dir is gone too.
            return Ok(std::fs::read_to_string(self.exit_file(&rec.id))
                .ok()
                .as_deref()
                .and_then(parse_exit_file)
                .map(|(c, _)| c)
                .unwrap_or(0));
        }
        Ok(rec.state.exit_code)
    }

    /// `docker rm [-f]`.
    pub fn container_remove(&self, input: &str, force: bool) -> Result<()> {
        self.container_remove_with(input, force, false)
    }

    /// `docker rm [-f] [-v]`: with `volumes`, the anonymous volumes too.
    pub fn container_remove_with(&self, input: &str, force: bool, volumes: bool) -> Result<()> {
        let rec = self.container_get(input)?;
        if rec.state.running {
            if !force {
                let what = if rec.state.paused {
                    "paused"
                } else {
                    "running"
                };
                return Err(Error::conflict(format!(
                    "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                    rec.id
                )));
            }
            let _ = driver::signal(rec.state.pid as i32, rec.private.init_start, libc::SIGKILL);
            if rec.state.paused {
                let rt = self.runtime_of(&rec);
                let _ = driver::set_paused(&rt, &self.state_root(&rt), &rec.id, false);
            }
            self.wait_stopped(&rec, Some(Duration::from_secs(10)));
        }
        let _lock = self.container_lock(&rec.id)?;
        let Some(rec) = self.load_record(&rec.id)? else {
            return Ok(());
        };
        if rec.state.running && self.monitor_alive(&rec) {
            return Err(Error::conflict(format!(
                "could not kill running container {}, cannot remove",
                rec.id
            )));
        }
        self.remove_locked(&rec)?;
        if volumes {
            self.remove_anonymous_volumes(&rec);
        }
        Ok(())
    }

    /// Remove a stopped container: runtime leftovers, the directory (moved
    /// aside first, so a crash leaves either the container or nothing),
    /// then its name.
    fn remove_locked(&self, rec: &Record) -> Result<()> {
        // A stopped container was released when it stopped; its run dir
        // outlives that only if the release was cut short.
        if self.layout.container_run_dir(&rec.id).exists() {
            self.release_runtime(rec);
        }
        let dir = self.layout.container_dir(&rec.id);
        let grave = self
            .layout
            .tmp_dir()
            .join(format!("rm-container-{}", rec.id));
        let _ = berth_store::remove_tree(&grave);
        std::fs::rename(&dir, &grave).map_err(|e| internal(format!("remove {}", rec.id), e))?;
        names::release(&self.layout.container_names_dir(), rec.bare_name(), &rec.id);
        let _ = berth_store::remove_tree(&grave);
        Ok(())
    }

    /// All containers, refreshed.
    pub fn container_list(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for id in self.container_ids()? {
            if let Some(r) = self.container_refresh(&id)? {
                out.push(r);
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// Called by the monitor (through `berth internal cleanup`) after an
    /// exit nobody attached will handle.
    /// Then applies the restart policy, with Docker's backoff (100 ms,
    /// doubling, at most a minute); a container a user stopped or killed
    /// stays down.
    pub fn container_cleanup(&self, id: &str) -> Result<()> {
        // The start that launched this monitor may still be recording it:
        // wait for its lock, so the exit is folded into the right record.
        drop(self.container_lock(id)?);
        let Some(rec) = self.container_refresh(id)? else {
            return Ok(());
        };
        if rec.state.running || !should_restart(&rec) {
            return Ok(());
        }
        let backoff = Duration::from_millis(100)
            .saturating_mul(1u32 << rec.restart_count.clamp(0, 10))
            .min(Duration::from_secs(60));
        std::thread::sleep(backoff);
        // The user may have stopped, removed or started it meanwhile.
        match self.load_record(id)? {
            Some(r) if !r.state.running && should_restart(&r) => {}
            _ => return Ok(()),
        }
        self.start_inner(id, false, true).map(|_| ())
    }

    /// Containers whose image is `image_id` (rmi refuses to delete it).
    pub fn containers_using_image(&self, image_id: &str) -> Result<Vec<Record>> {
        let mut v = Vec::new();
        for id in self.container_ids()? {
            if let Some(r) = self.load_record(&id)? {
                if r.image == image_id {
                    v.push(r);
                }
            }
        }
        Ok(v)
    }

    /// `docker pause` / `unpause`.
    pub fn container_pause(&self, input: &str, pause: bool) -> Result<()> {
        let id = self.container_resolve(input)?;
        self.container_refresh(&id)?;
        let _lock = self.container_lock(&id)?;
        let mut rec = self
            .load_record(&id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {input}")))?;
        if !rec.state.running {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        if pause && rec.state.paused {
            return Err(Error::conflict(format!("Container {id} is already paused")));
        }
        if !pause && !rec.state.paused {
            return Err(Error::conflict(format!("Container {id} is not paused")));
        }
        let rt = self.runtime_of(&rec);
        driver::set_paused(&rt, &self.state_root(&rt), &id, pause)
            .map_err(|e| internal("pause", e))?;
        rec.state.paused = pause;
        rec.state.status = if pause {
            "paused".into()
        } else {
            "running".into()
        };
        self.save_record(&rec)
    }

    /// `docker rename`.
    pub fn container_rename(&self, input: &str, new_name: &str) -> Result<()> {
        let id = self.container_resolve(input)?;
        let new = names::validate(new_name)?;
        let _lock = self.container_lock(&id)?;
        let mut rec = self
            .load_record(&id)?
            .ok_or_else(|| Error::not_found(format!("No such container: {input}")))?;
        let old = rec.bare_name().to_string();
        if old == new {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        names::claim(
            &self.layout.container_names_dir(),
            &self.layout.containers_dir(),
            &new,
            &id,
        )?;
        rec.name = format!("/{new}");
        self.save_record(&rec)?;
        names::release(&self.layout.container_names_dir(), &old, &id);
        Ok(())
    }

    /// `docker exec`: start a process in a running container. The caller
    /// waits for it (its pid is the caller's child) unless detached.
    pub fn container_exec(
        &self,
        input: &str,
        o: &ExecOptions,
        stdio: [Option<std::os::fd::OwnedFd>; 3],
    ) -> Result<driver::ExecHandle> {
        let rec = self.container_get(input)?;
        if !rec.state.running {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        if rec.state.paused {
            return Err(Error::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                rec.id
            )));
        }
        if o.cmd.is_empty() {
            return Err(Error::invalid("No exec command specified"));
        }
        let rootfs = self.layout.container_rootfs(&rec.id);
        let read = |p: &str| read_in_root(&rootfs, p);
        let proc_ = process::resolve(
            &image_process(&rec.config),
            &process::RunOptions {
                entrypoint: Some(vec![]),
                cmd: o.cmd.clone(),
                env: o.env.clone(),
                user: o.user.clone(),
                group_add: rec.host_config.group_add.clone().unwrap_or_default(),
                workdir: o.workdir.clone().filter(|w| !w.is_empty()),
                tty: o.tty,
                hostname: rec.config.hostname.clone(),
            },
            &read,
        )
        .map_err(|e| Error::invalid(e.to_string()))?;
        let rt = self.runtime_of(&rec);
        let run_dir = self.layout.container_run_dir(&rec.id);
        driver::exec(
            &driver::ExecSpec {
                id: &rec.id,
                runtime: &rt,
                state_root: &self.state_root(&rt),
                run_dir: &run_dir,
                process: &proc_,
                tty: o.tty,
                detach: o.detach,
                privileged: o.privileged,
            },
            stdio,
        )
        .map_err(|e| match e {
            LaunchError::NotFound(m) => Error::new(ErrorKind::NotFound, m),
            LaunchError::CannotExecute(m) => Error::new(ErrorKind::Conflict, m),
            LaunchError::Other(m) => Error::new(ErrorKind::Internal, m),
        })
    }

    /// `docker attach`: a connection to the container's monitor.
    pub fn container_attach(&self, input: &str) -> Result<(UnixStream, Record)> {
        let rec = self.container_get(input)?;
        if !rec.state.running {
            return Err(Error::conflict(
                "You cannot attach to a stopped container, start it first",
            ));
        }
        if rec.state.paused {
            return Err(Error::conflict(
                "You cannot attach to a paused container, unpause it first",
            ));
        }
        let s = driver::attach(&self.layout.container_run_dir(&rec.id))
            .map_err(|e| internal(format!("attach {}", rec.id), e))?;
        Ok((s, rec))
    }

    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.layout.container_run_dir(id)
    }
}

/// The static init binary for `--init`: `BERTH_INIT`, or tini as Debian
/// installs it for Docker.
fn init_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_INIT") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/docker-init",
        "/usr/bin/tini-static",
        "/usr/libexec/docker/docker-init",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Every container's cgroup, under one `berth` parent like Docker's `docker`.
fn cgroups_path(id: &str) -> String {
    format!("/berth/{id}")
}

/// Docker's restart policies, for a container that has just exited.
fn should_restart(r: &Record) -> bool {
    if r.private.stopped_by_user || r.host_config.auto_remove {
        return false;
    }
    let p = &r.host_config.restart_policy;
    match p.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            r.state.exit_code != 0
                && (p.maximum_retry_count <= 0 || r.restart_count < p.maximum_retry_count)
        }
        _ => false,
    }
}

/// `code nanos` as the monitor writes it.
fn parse_exit_file(s: &str) -> Option<(i64, String)> {
    let mut w = s.split_whitespace();
    let code = w.next()?.parse().ok()?;
    let nanos: i64 = w.next()?.parse().ok()?;
    let t =
        chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)?;
    Some((code, berth_image::config::go_rfc3339_nano(&t)))
}

/// HostConfig's resources, sysctls, limits and flags in the OCI spec.
fn apply_host_config(s: &mut serde_json::Value, hc: &HostConfig) {
    if let Some(sys) = &hc.sysctls {
        for (k, v) in sys {
            s["linux"]["sysctl"][k] = v.clone().into();
        }
    }
    if hc.readonly_rootfs {
        s["root"]["readonly"] = true.into();
    }
}

/// HostConfig's resource fields as the resources module sees them.
fn resources_of(hc: &HostConfig) -> resources::Resources {
    resources::Resources {
        memory: hc.memory,
        memory_swap: hc.memory_swap,
        memory_reservation: hc.memory_reservation,
        memory_swappiness: hc.memory_swappiness,
        kernel_memory: hc.kernel_memory,
        oom_kill_disable: Some(hc.oom_kill_disable),
        nano_cpus: hc.nano_cpus,
        cpu_shares: hc.cpu_shares,
        cpu_period: hc.cpu_period,
        cpu_quota: hc.cpu_quota,
        cpu_realtime_period: hc.cpu_realtime_period,
        cpu_realtime_runtime: hc.cpu_realtime_runtime,
        cpu_percent: hc.cpu_percent,
        cpuset_cpus: hc.cpuset_cpus.clone(),
        cpuset_mems: hc.cpuset_mems.clone(),
        pids_limit: hc.pids_limit,
        blkio_weight: hc.blkio_weight.clamp(0, u16::MAX as i64) as u16,
        io_maximum_bandwidth: hc.io_maximum_bandwidth.max(0) as u64,
        io_maximum_iops: hc.io_maximum_iops.max(0) as u64,
        ulimits: hc
            .ulimits
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|u| resources::Ulimit {
                name: u.name,
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        shm_size: hc.shm_size,
        oom_score_adj: hc.oom_score_adj,
    }
}

/// Write back what validation and defaults changed.
fn store_resources(hc: &mut HostConfig, r: &resources::Resources) {
    hc.memory = r.memory;
    hc.memory_swap = r.memory_swap;
    hc.memory_reservation = r.memory_reservation;
    hc.memory_swappiness = r.memory_swappiness;
    hc.kernel_memory = r.kernel_memory;
    hc.oom_kill_disable = r.oom_kill_disable.unwrap_or(false);
    hc.nano_cpus = r.nano_cpus;
    hc.cpu_shares = r.cpu_shares;
    hc.cpu_period = r.cpu_period;
    hc.cpu_quota = r.cpu_quota;
    hc.pids_limit = r.pids_limit;
    hc.shm_size = r.shm_size;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_file() {
        let (c, t) = parse_exit_file("137 1700000000123456789\n").unwrap();
        assert_eq!(c, 137);
        assert_eq!(t, "2023-11-14T22:13:20.123456789Z");
    }
}
