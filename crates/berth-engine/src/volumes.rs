//! Volumes: Docker's `local` driver on the state root. A volume is a
//! directory `volumes/<name>/` holding `_data` (what containers see) and
//! `volume.json` (driver, labels, options, creation time). It is built in a
//! scratch dir and renamed into place, so it exists whole or not at all.
//!
//! This lives in the engine rather than in a crate of its own because what
//! a volume *is* (a directory and a record) is small, while what makes it
//! interesting needs the engine: which containers use it (rm, prune,
//! `dangling`), and filling a new volume from an image (copy-up).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use berth_store::{LockMode, Scratch, StoreLock};
use serde::{Deserialize, Serialize};

use crate::containers::mounts::{self, MountPoint};
use crate::{Engine, Error, ErrorKind, Result};

mod copyup;
use copyup::copy_up;

/// The only driver there is.
pub const LOCAL_DRIVER: &str = "local";
/// moby's label for volumes created without a name; `volume prune`
/// removes only these unless `--all`.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// `docker volume inspect`'s shape, field for field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub mountpoint: String,
    pub name: String,
    pub options: Option<BTreeMap<String, String>>,
    pub scope: String,
}

/// What `volume.json` holds; the name is the directory's, the mount point
/// is derived from the root.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeRecord {
    created_at: String,
    driver: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// `volume create`'s request.
#[derive(Debug, Clone, Default)]
pub struct VolumeCreate {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// Docker's rule for local volume names (moby's `RestrictedNamePattern`),
/// with its wording.
pub fn validate_name(name: &str) -> Result<()> {
    if name.chars().count() == 1 {
        return Err(Error::invalid(
            "volume name is too short, names should be at least two alphanumeric characters",
        ));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok {
        return Err(Error::invalid(format!(
            "{name:?} includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host \
             directory, use absolute path"
        )));
    }
    Ok(())
}

/// The local driver's options (moby's `validOpts`/`mandatoryOpts`).
fn validate_options(opts: &BTreeMap<String, String>) -> Result<()> {
    if opts.is_empty() {
        return Ok(());
    }
    if let Some(k) = opts
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "device" | "o"))
    {
        return Err(Error::invalid(format!("invalid option: {k:?}")));
    }
    if !opts.contains_key("device") {
        return Err(Error::invalid("missing required option: \"device\""));
    }
    Ok(())
}

fn prefixed(op: &str, name: &str, e: Error) -> Error {
    Error::new(e.kind, format!("{op} {name}: {}", e.message))
}

fn internal(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("{what}: {e}"))
}

/// A fresh anonymous volume name: 64 hex digits, as dockerd makes them.
pub fn anonymous_name() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| internal("generate a volume name", e))?;
    Ok(hex::encode(b))
}

/// Go's `time.Now().Format(time.RFC3339)`: local time, seconds, `Z` for UTC.
fn now_rfc3339() -> String {
    let now = chrono::Local::now();
    if now.offset().local_minus_utc() == 0 {
        now.to_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    } else {
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }
}

/// `volume ls --filter` and `volume prune --filter` as dockerd 20.10 applies
/// them (moby's `filters.Args`): `name` is the exact name or an unanchored
/// Go regular expression (an invalid one matches nothing), `driver` exact,
/// `label` `key` or `key=value` (all must match), `label!` (prune only)
/// excludes volumes matching all its labels, `dangling` true/1/false/0.
/// Values of `name` and `driver` match if any does.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilters {
    dangling: Option<bool>,
    names: Vec<(String, Option<regex::Regex>)>,
    labels: Vec<(String, Option<String>)>,
    not_labels: Vec<(String, Option<String>)>,
    drivers: Vec<String>,
}

impl VolumeFilters {
    /// `volume ls`'s filters, with dockerd's errors.
    pub fn parse(raw: &[String]) -> Result<VolumeFilters> {
        Self::parse_accepting(raw, &["dangling", "driver", "label", "name"])
    }

    /// A prune's filters, already checked by the prune filter parser
    /// (dockerd's volume prune takes only `label` and `label!`).
    pub fn for_prune(labels: Vec<&str>, not_labels: Vec<&str>) -> VolumeFilters {
        let kv = |v: &str| match v.split_once('=') {
            Some((k, x)) => (k.to_string(), Some(x.to_string())),
            None => (v.to_string(), None),
        };
        VolumeFilters {
            labels: labels.into_iter().map(kv).collect(),
            not_labels: not_labels.into_iter().map(kv).collect(),
            ..VolumeFilters::default()
        }
    }

    /// `volume prune`'s filters: dockerd 20.10 accepts only labels.
    pub fn parse_prune(raw: &[String]) -> Result<VolumeFilters> {
        Self::parse_accepting(raw, &["label", "label!"])
    }

    /// `key=value` strings as the docker CLI sends them (key lowercased,
    /// both trimmed, empty strings ignored), values deduplicated as in Go's
    /// map; every key is checked before any value, as dockerd does.
    fn parse_accepting(raw: &[String], accepted: &[&str]) -> Result<VolumeFilters> {
        let mut by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in raw.iter().filter(|r| !r.is_empty()) {
            let Some((k, v)) = r.split_once('=') else {
                return Err(Error::invalid("Bad format of filter (expected name=value)"));
            };
            by_key
                .entry(k.trim().to_ascii_lowercase())
                .or_default()
                .insert(v.trim().to_string());
        }
        if let Some(k) = by_key.keys().find(|k| !accepted.contains(&k.as_str())) {
            return Err(Error::invalid(format!("Invalid filter '{k}'")));
        }
        let kv = |v: &String| match v.split_once('=') {
            Some((lk, lv)) => (lk.to_string(), Some(lv.to_string())),
            None => (v.clone(), None),
        };
        let mut f = VolumeFilters::default();
        for (k, values) in &by_key {
            match k.as_str() {
                "dangling" => {
                    let has = |a: &str, b: &str| values.contains(a) || values.contains(b);
                    f.dangling = if has("true", "1") {
                        Some(true)
                    } else if has("false", "0") {
                        Some(false)
                    } else {
                        let shown: Vec<&str> = values.iter().map(String::as_str).collect();
                        return Err(Error::invalid(format!(
                            "Invalid filter 'dangling=[{}]'",
                            shown.join(" ")
                        )));
                    };
                }
                "name" => {
                    f.names = values
                        .iter()
                        .map(|v| (v.clone(), regex::Regex::new(v).ok()))
                        .collect()
                }
                "driver" => f.drivers = values.iter().cloned().collect(),
                "label" => f.labels = values.iter().map(kv).collect(),
                _ => f.not_labels = values.iter().map(kv).collect(),
            }
        }
        Ok(f)
    }

    fn matches(&self, v: &Volume, used: bool) -> bool {
        if self.dangling.is_some_and(|d| d == used) {
            return false;
        }
        let name_ok = |(exact, re): &(String, Option<regex::Regex>)| {
            *exact == v.name || re.as_ref().is_some_and(|re| re.is_match(&v.name))
        };
        if !self.names.is_empty() && !self.names.iter().any(name_ok) {
            return false;
        }
        if !self.drivers.is_empty() && !self.drivers.contains(&v.driver) {
            return false;
        }
        let empty = BTreeMap::new();
        let labels = v.labels.as_ref().unwrap_or(&empty);
        let all_match = |want: &[(String, Option<String>)]| {
            want.iter().all(|(k, w)| match (labels.get(k), w) {
                (Some(_), None) => true,
                (Some(have), Some(w)) => have == w,
                (None, _) => false,
            })
        };
        all_match(&self.labels) && (self.not_labels.is_empty() || !all_match(&self.not_labels))
    }
}

/// Apparent size of a tree as dockerd's `directory.Size` counts it: sizes
/// of everything but directories (symlinks too), each inode once; what
/// `system df` and `volume prune` report.
pub(crate) fn tree_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.size();
            }
        }
    }
    total
}

impl Engine {
    fn volume_read(&self, name: &str) -> Result<Option<Volume>> {
        let path = self.layout.volume_record(name);
        let Some(rec) = berth_store::read_json::<VolumeRecord>(&path)? else {
            return Ok(None);
        };
        Ok(Some(Volume {
            created_at: rec.created_at,
            driver: rec.driver,
            labels: (!rec.labels.is_empty()).then_some(rec.labels),
            mountpoint: self.layout.volume_data(name).display().to_string(),
            name: name.to_string(),
            options: (!rec.options.is_empty()).then_some(rec.options),
            scope: "local".to_string(),
        }))
    }

    /// The root's `lock`, held while volumes appear or disappear, so a
    /// container claiming a volume and `volume rm` cannot interleave.
    fn volumes_lock(&self) -> Result<StoreLock> {
        Ok(StoreLock::acquire(
            &self.layout.lock_file(),
            LockMode::Exclusive,
        )?)
    }

    /// Create a volume; creating an existing one returns it unchanged (as
    /// dockerd does).
    pub fn volume_create(&self, req: &VolumeCreate) -> Result<Volume> {
        let anonymous = req.name.as_deref().is_none_or(str::is_empty);
        let name = match &req.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => anonymous_name()?,
        };
        self.volume_create_inner(&name, req, anonymous, None)
            .map_err(|e| prefixed("create", &name, e))
    }

    /// `held`: the caller already holds [`Engine::volumes_lock`].
    fn volume_create_inner(
        &self,
        name: &str,
        req: &VolumeCreate,
        anonymous: bool,
        held: Option<&StoreLock>,
    ) -> Result<Volume> {
        // The driver is looked up first: a plugin's names follow its rules.
        let driver = req.driver.as_deref().unwrap_or(LOCAL_DRIVER);
        if driver != LOCAL_DRIVER {
            return Err(Error::not_found(format!(
                "error looking up volume plugin {driver}: plugin {driver:?} not found"
            )));
        }
        validate_name(name)?;
        validate_options(&req.options)?;
        if let Some(v) = self.volume_read(name)? {
            return Ok(v);
        }
        let mut labels = req.labels.clone();
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        let rec = VolumeRecord {
            created_at: now_rfc3339(),
            driver: driver.to_string(),
            labels,
            options: req.options.clone(),
        };
        let scratch = Scratch::new(&self.layout, "volume-create")?;
        let staged = scratch.path().join("volume");
        let data = staged.join("_data");
        std::fs::create_dir_all(&data)
            .map_err(|e| internal(format!("create {}", data.display()), e))?;
        berth_store::atomic_write_json(&staged.join("volume.json"), &rec)?;
        let target = self.layout.volume_dir(name);
        let _lock = match held {
            Some(_) => None,
            None => Some(self.volumes_lock()?),
        };
        match std::fs::rename(&staged, &target) {
            Ok(()) => {}
            // Created meanwhile by someone else: theirs stands.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY)) => {}
            Err(e) => return Err(internal(format!("rename {}", target.display()), e)),
        }
        berth_store::fsync_dir(&self.layout.volumes_dir())?;
        drop(scratch);
        self.volume_read(name)?
            .ok_or_else(|| internal(format!("create {name}"), "volume vanished"))
    }

    /// One volume by name.
    pub fn volume_get(&self, name: &str) -> Result<Volume> {
        let found = if validate_name(name).is_ok() {
            self.volume_read(name)?
        } else {
            None
        };
        found.ok_or_else(|| Error::not_found(format!("get {name}: no such volume")))
    }

    /// Every volume's name (directories with a valid name).
    fn volume_names(&self) -> Result<Vec<String>> {
        let dir = self.layout.volumes_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(internal(format!("read {}", dir.display()), e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Volume name -> IDs of the containers (running or not) that use it.
    pub fn volume_users(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in self.container_ids()? {
            let Some(rec) = self.load_record(&id)? else {
                continue;
            };
            for p in rec
                .private
                .mount_points
                .iter()
                .filter(|p| p.kind == "volume")
            {
                let ids = users.entry(p.name.clone()).or_default();
                if !ids.contains(&id) {
                    ids.push(id.clone());
                }
            }
        }
        Ok(users)
    }

    /// Volumes matching `filters`, sorted by name.
    pub fn volume_list(&self, filters: &VolumeFilters) -> Result<Vec<Volume>> {
        let users = if filters.dangling.is_some() {
            self.volume_users()?
        } else {
            BTreeMap::new()
        };
        let mut out = Vec::new();
        for n in self.volume_names()? {
            if let Some(v) = self.volume_read(&n)? {
                if filters.matches(&v, users.contains_key(&n)) {
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    /// Remove a volume; refuses one a container uses. With `force`, a
    /// missing volume is no error.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let _lock = self.volumes_lock()?;
        if validate_name(name).is_err() || self.volume_read(name)?.is_none() {
            if force {
                return Ok(());
            }
            return Err(Error::not_found(format!("get {name}: no such volume")));
        }
        if let Some(ids) = self.volume_users()?.get(name) {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                ids.join(", ")
            )));
        }
        self.volume_delete_locked(name)
    }

    fn volume_delete_locked(&self, name: &str) -> Result<()> {
        // A driver mount (type/device options) goes first.
        let _ = berth_runtime::rootfs::unmount(&self.layout.volume_data(name));
        let dir = self.layout.volume_dir(name);
        Scratch::bury(&self.layout, &dir, "rm-volume")
            .map_err(|e| internal(format!("remove {name}"), e))
    }

    /// Remove unused volumes: anonymous ones, or all with `all`. Returns
    /// the removed names and the bytes reclaimed.
    pub fn volume_prune(&self, all: bool, filters: &VolumeFilters) -> Result<(Vec<String>, u64)> {
        let _lock = self.volumes_lock()?;
        let users = self.volume_users()?;
        let mut removed = Vec::new();
        let mut reclaimed = 0;
        for n in self.volume_names()? {
            let Some(v) = self.volume_read(&n)? else {
                continue;
            };
            let anonymous = v
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(ANONYMOUS_LABEL));
            if users.contains_key(&n) || !(all || anonymous) || !filters.matches(&v, false) {
                continue;
            }
            let size = tree_size(&self.layout.volume_data(&n));
            self.volume_delete_locked(&n)?;
            reclaimed += size;
            removed.push(n);
        }
        Ok((removed, reclaimed))
    }
}

/// Mount flags of the local driver's `o` option; the rest is data.
fn mount_flags(o: &str) -> (libc::c_ulong, String) {
    let mut flags: libc::c_ulong = 0;
    let mut data = Vec::new();
    for w in o.split(',').filter(|w| !w.is_empty()) {
        let (set, clear): (libc::c_ulong, libc::c_ulong) = match w {
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "noatime" => (libc::MS_NOATIME, 0),
            "atime" => (0, libc::MS_NOATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "bind" => (libc::MS_BIND, 0),
            "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
            _ => {
                data.push(w);
                (0, 0)
            }
        };
        flags = (flags | set) & !clear;
    }
    (flags, data.join(","))
}

impl Engine {
    /// At container create: resolve the mount points (every check first),
    /// then make the volumes they need. Returns the points and, when
    /// volumes are involved, the volumes lock, which the caller holds until
    /// its record is in place so `volume rm` cannot remove one in between.
    pub(crate) fn mounts_for_create(
        &self,
        hc: &crate::containers::HostConfig,
        config_volumes: &[String],
    ) -> Result<(Vec<MountPoint>, Option<StoreLock>)> {
        let mut from = Vec::new();
        for spec in hc.volumes_from.iter().flatten() {
            let (input, rw) = mounts::parse_volumes_from(spec)?;
            let rec = self.container_get(&input)?;
            for mut p in rec.private.mount_points.into_iter().filter(|p| !p.hidden) {
                p.mode = String::new();
                p.rw = p.rw && rw.unwrap_or(true);
                p.copy_data = false;
                from.push(p);
            }
        }
        let plan = mounts::plan(
            hc.binds.as_deref().unwrap_or(&[]),
            hc.mounts.as_deref().unwrap_or(&[]),
            hc.tmpfs.as_ref().unwrap_or(&BTreeMap::new()),
            config_volumes,
            from,
        )?;
        let mut points = plan.points;
        let mut wanted = plan.volumes;
        if !hc.volume_driver.is_empty() {
            for w in wanted.iter_mut().filter(|w| w.request.driver.is_none()) {
                w.request.driver = Some(hc.volume_driver.clone());
            }
        }
        if wanted.is_empty() {
            return Ok((points, None));
        }
        // Everything that could refuse a volume, before any is made.
        for w in &wanted {
            let driver = w.request.driver.as_deref().unwrap_or(LOCAL_DRIVER);
            if driver != LOCAL_DRIVER {
                return Err(Error::not_found(format!(
                    "error looking up volume plugin {driver}: plugin {driver:?} not found"
                )));
            }
            if !w.name.is_empty() {
                validate_name(&w.name).map_err(|e| prefixed("create", &w.name, e))?;
            }
            validate_options(&w.request.options).map_err(|e| prefixed("create", &w.name, e))?;
        }
        let lock = self.volumes_lock()?;
        let mut made: Vec<String> = Vec::new();
        for w in wanted {
            let anonymous = w.name.is_empty();
            let name = if anonymous {
                anonymous_name()?
            } else {
                w.name.clone()
            };
            let v = match self.volume_create_inner(&name, &w.request, anonymous, Some(&lock)) {
                Ok(v) => v,
                Err(e) => {
                    for n in made {
                        let _ = self.volume_delete_locked(&n);
                    }
                    return Err(prefixed("create", &name, e));
                }
            };
            if anonymous {
                made.push(name);
            }
            let p = &mut points[w.point];
            p.name = v.name;
            p.source = v.mountpoint;
            p.driver = v.driver;
        }
        Ok((points, Some(lock)))
    }

    /// At start, with the rootfs mounted: host directories `-v` creates,
    /// volumes mounted (driver options) and filled from the image once;
    /// returns the OCI mounts.
    pub(crate) fn mounts_for_start(
        &self,
        points: &mut [MountPoint],
        rootfs: &Path,
    ) -> Result<Vec<serde_json::Value>> {
        for p in points.iter_mut() {
            match p.kind.as_str() {
                "bind" => {
                    if std::fs::symlink_metadata(&p.source).is_ok() {
                        continue;
                    }
                    if !p.create_source {
                        return Err(Error::invalid(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {}",
                            p.source
                        )));
                    }
                    std::fs::create_dir_all(&p.source).map_err(|e| {
                        Error::invalid(format!(
                            "error while creating mount source path '{}': {}",
                            p.source,
                            berth_store::go_error_text(&e)
                        ))
                    })?;
                }
                "volume" => {
                    let data = self.layout.volume_data(&p.name);
                    if !data.is_dir() {
                        return Err(Error::not_found(format!("get {}: no such volume", p.name)));
                    }
                    self.volume_activate(&p.name)?;
                    p.source = data.display().to_string();
                    if p.copy_data {
                        copy_up(rootfs, &p.destination, &data)
                            .map_err(|e| prefixed("copy up", &p.name, e))?;
                        p.copy_data = false;
                    }
                }
                _ => {}
            }
        }
        for p in points.iter() {
            let file = p.kind == "bind" && std::fs::metadata(&p.source).is_ok_and(|m| !m.is_dir());
            berth_image::unpack::prepare_mount_point(rootfs, &p.destination, file).map_err(
                |e| {
                    Error::invalid(format!(
                        "error while preparing mount point {}: {}",
                        p.destination,
                        berth_store::go_error_text(&e)
                    ))
                },
            )?;
        }
        Ok(mounts::oci_mounts(points))
    }

    /// `rm -v` and `--rm`: the container's anonymous volumes go too, unless
    /// another container uses them (`--volumes-from`); as dockerd, that is
    /// no error.
    pub(crate) fn remove_anonymous_volumes(&self, rec: &crate::containers::Record) {
        let names: Vec<&str> = rec
            .private
            .mount_points
            .iter()
            .filter(|p| p.kind == "volume" && p.anonymous)
            .map(|p| p.name.as_str())
            .collect();
        if names.is_empty() {
            return;
        }
        let Ok(_lock) = self.volumes_lock() else {
            return;
        };
        let Ok(users) = self.volume_users() else {
            return;
        };
        for n in names {
            let in_use = users
                .get(n)
                .is_some_and(|ids| ids.iter().any(|i| *i != rec.id));
            if !in_use && self.volume_read(n).ok().flatten().is_some() {
                let _ = self.volume_delete_locked(n);
            }
        }
    }

    /// A volume created with driver options (`type`, `device`, `o`) is
    /// mounted on its data dir while containers use it, as the local
    /// driver does.
    fn volume_activate(&self, name: &str) -> Result<()> {
        let Some(rec) = berth_store::read_json::<VolumeRecord>(&self.layout.volume_record(name))?
        else {
            return Ok(());
        };
        let Some(device) = rec.options.get("device") else {
            return Ok(());
        };
        let data = self.layout.volume_data(name);
        let _lock = self.volumes_lock()?;
        if berth_runtime::rootfs::is_mounted(&data) {
            return Ok(());
        }
        let kind = rec.options.get("type").map(String::as_str).unwrap_or("");
        let (flags, opts) = mount_flags(rec.options.get("o").map(String::as_str).unwrap_or(""));
        if let Err(e) = berth_runtime::rootfs::mount_fs(device, &data, kind, flags, &opts) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "error while mounting volume '{}': failed to mount local volume: mount {device}:{}, flags: {flags:#x}, data: {opts}: {}",
                    data.display(),
                    data.display(),
                    berth_store::go_error_text(&e)
                ),
            ));
        }
        Ok(())
    }

    /// Unmount a volume's driver mount when no started container of
    /// `except`'s siblings uses it any more.
    pub(crate) fn volumes_release(&self, rec: &crate::containers::Record) {
        let names: Vec<&str> = rec
            .private
            .mount_points
            .iter()
            .filter(|p| p.kind == "volume")
            .map(|p| p.name.as_str())
            .collect();
        if names.is_empty() {
            return;
        }
        let Ok(_lock) = self.volumes_lock() else {
            return;
        };
        for n in names {
            let data = self.layout.volume_data(n);
            if !berth_runtime::rootfs::is_mounted(&data) {
                continue;
            }
            let busy = self
                .container_ids()
                .unwrap_or_default()
                .into_iter()
                .any(|id| {
                    id != rec.id
                        && self.layout.container_run_dir(&id).exists()
                        && self.load_record(&id).ok().flatten().is_some_and(|r| {
                            r.private
                                .mount_points
                                .iter()
                                .any(|p| p.kind == "volume" && p.name == n)
                        })
                });
            if !busy {
                let _ = berth_runtime::rootfs::unmount(&data);
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["ab", "a1", "A.b-c_d", "0x"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let short = validate_name("a")
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(short.contains("too short"), "{short}");
        for bad in ["", "-ab", ".ab", "_ab", "a@b", "a/b", "é1"] {
            let e = validate_name(bad)
                .err()
                .map(|e| e.message)
                .unwrap_or_default();
            assert!(e.contains("includes invalid characters"), "{bad}: {e}");
        }
    }

    #[test]
    fn options_follow_the_local_driver() {
        let m = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(validate_options(&m(&[])).is_ok());
        assert!(validate_options(&m(&[("type", "tmpfs"), ("device", "tmpfs")])).is_ok());
        let e = validate_options(&m(&[("bogus", "1")]))
            .err()
            .map(|e| e.message);
        assert_eq!(e.as_deref(), Some("invalid option: \"bogus\""));
        let e = validate_options(&m(&[("type", "none")]))
            .err()
            .map(|e| e.message);
        assert_eq!(e.as_deref(), Some("missing required option: \"device\""));
    }
}
