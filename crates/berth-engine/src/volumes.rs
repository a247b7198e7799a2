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

use crate::{Engine, Error, ErrorKind, Result};

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

/// `volume ls --filter`: dangling, name (substring), label, driver.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilters {
    dangling: Option<bool>,
    names: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    /// `label!` (prune only): a volume matching all of these is kept.
    not_labels: Vec<(String, Option<String>)>,
    drivers: Vec<String>,
}

/// `k` or `k=v` of a label filter.
fn label_filter(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((lk, lv)) => (lk.to_string(), Some(lv.to_string())),
        None => (v.to_string(), None),
    }
}

impl VolumeFilters {
    /// Parse `key=value` filters with dockerd's errors.
    pub fn parse(raw: &[String]) -> Result<VolumeFilters> {
        let mut f = VolumeFilters::default();
        for r in raw {
            let Some((k, v)) = r.split_once('=') else {
                return Err(Error::invalid("Bad format of filter (expected name=value)"));
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "dangling" => {
                    f.dangling = Some(match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(Error::invalid(format!("Invalid filter 'dangling=[{v}]'")))
                        }
                    })
                }
                "name" => f.names.push(v.to_string()),
                "driver" => f.drivers.push(v.to_string()),
                "label" => f.labels.push(label_filter(v)),
                _ => return Err(Error::invalid(format!("Invalid filter '{k}'"))),
            }
        }
        Ok(f)
    }

    /// A prune's filters: dockerd's volume prune takes only `label` and
    /// `label!`.
    pub fn for_prune(labels: Vec<&str>, not_labels: Vec<&str>) -> VolumeFilters {
        VolumeFilters {
            labels: labels.into_iter().map(label_filter).collect(),
            not_labels: not_labels.into_iter().map(label_filter).collect(),
            ..VolumeFilters::default()
        }
    }

    fn matches(&self, v: &Volume, used: bool) -> bool {
        if self.dangling.is_some_and(|d| d == used) {
            return false;
        }
        if !self.names.is_empty() && !self.names.iter().any(|n| v.name.contains(n.as_str())) {
            return false;
        }
        if !self.drivers.is_empty() && !self.drivers.contains(&v.driver) {
            return false;
        }
        let labels = v.labels.clone().unwrap_or_default();
        let has = |(k, want): &(String, Option<String>)| match (labels.get(k), want) {
            (Some(_), None) => true,
            (Some(have), Some(w)) => have == w,
            (None, _) => false,
        };
        if !self.labels.iter().all(has) {
            return false;
        }
        // dockerd's `label!`: excluded when every one of them matches.
        self.not_labels.is_empty() || !self.not_labels.iter().all(has)
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

/// Volume names a container's `HostConfig.Binds` entry refers to
/// (`name:/path[:mode]`; host paths start with `/`).
pub fn bind_volume_name(bind: &str) -> Option<&str> {
    let (src, _) = bind.split_once(':')?;
    (!src.starts_with('/') && !src.is_empty()).then_some(src)
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
            for b in rec.host_config.binds.iter().flatten() {
                if let Some(n) = bind_volume_name(b) {
                    users.entry(n.to_string()).or_default().push(id.clone());
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
        let dir = self.layout.volume_dir(name);
        let grave = self
            .layout
            .tmp_dir()
            .join(format!("rm-volume-{name}-{}", anonymous_name()?));
        std::fs::rename(&dir, &grave).map_err(|e| internal(format!("remove {name}"), e))?;
        berth_store::remove_tree(&grave)?;
        Ok(())
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

/// A named volume a container mounts: `name:/dest[:ro|rw]` from its binds.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMount {
    pub name: String,
    pub destination: String,
    pub read_only: bool,
}

/// dockerd's checks of one `-v` value (`volumemounts` parser), with its
/// wording. Host paths and anonymous volumes are not supported yet.
pub fn validate_bind(spec: &str) -> Result<()> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dest, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, None),
        [s, d, m] => (*s, *d, Some(*m)),
        _ => {
            return Err(Error::invalid(format!(
                "invalid volume specification: '{spec}'"
            )))
        }
    };
    if !dest.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"volume\": \
             invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    if let Some(m) = mode {
        let ok = !m.is_empty()
            && m.split(',').all(|w| matches!(w, "ro" | "rw" | "z" | "Z"))
            && !(m.split(',').any(|w| w == "ro") && m.split(',').any(|w| w == "rw"));
        if !ok {
            return Err(Error::invalid(format!("invalid mode: {m}")));
        }
    }
    if src.is_empty() || src.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid volume specification: '{spec}': host paths and anonymous volumes are not supported yet"
        )));
    }
    Ok(())
}

/// The named-volume mounts among a container's binds.
pub fn volume_mounts(binds: &[String]) -> Vec<VolumeMount> {
    binds
        .iter()
        .filter_map(|b| {
            let name = bind_volume_name(b)?;
            let mut rest = b[name.len() + 1..].split(':');
            let destination = rest.next()?.to_string();
            let read_only = rest.next().is_some_and(|m| m.split(',').any(|w| w == "ro"));
            Some(VolumeMount {
                name: name.to_string(),
                destination,
                read_only,
            })
        })
        .collect()
}

/// Copy `src` (a directory of the container's mounted rootfs) into an
/// empty volume, keeping owners, modes and symlinks (Docker's copy-up).
/// Never follows a symlink: a path through one is left alone, so an image
/// cannot make this read or write outside the rootfs or the volume.
fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> Result<()> {
    let mut src = rootfs.to_path_buf();
    for c in Path::new(dest).components() {
        if let std::path::Component::Normal(n) = c {
            src.push(n);
            match std::fs::symlink_metadata(&src) {
                Ok(m) if m.is_dir() => {}
                // Missing, a file, or a symlink: nothing to copy.
                _ => return Ok(()),
            }
        }
    }
    let is_empty = std::fs::read_dir(data)
        .map_err(|e| internal(format!("read {}", data.display()), e))?
        .next()
        .is_none();
    if !is_empty {
        return Ok(());
    }
    copy_tree(&src, data)?;
    // The volume's root takes the image directory's owner and mode.
    copy_attrs(&src, data)
}

fn copy_attrs(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = std::fs::symlink_metadata(src)
        .map_err(|e| internal(format!("stat {}", src.display()), e))?;
    std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid()))
        .map_err(|e| internal(format!("lchown {}", dst.display()), e))?;
    if !m.file_type().is_symlink() {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(|e| internal(format!("chmod {}", dst.display()), e))?;
    }
    Ok(())
}

fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let entries =
        std::fs::read_dir(src).map_err(|e| internal(format!("read {}", src.display()), e))?;
    for e in entries {
        let e = e.map_err(|e| internal(format!("read {}", src.display()), e))?;
        let from = e.path();
        let to = dst.join(e.file_name());
        let ft = e
            .file_type()
            .map_err(|e| internal(format!("stat {}", from.display()), e))?;
        if ft.is_dir() {
            std::fs::create_dir(&to).map_err(|e| internal(format!("mkdir {}", to.display()), e))?;
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&from)
                .map_err(|e| internal(format!("readlink {}", from.display()), e))?;
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|e| internal(format!("symlink {}", to.display()), e))?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)
                .map_err(|e| internal(format!("copy {}", from.display()), e))?;
        } else {
            // Devices, fifos and sockets: not copied up in this slice.
            continue;
        }
        copy_attrs(&from, &to)?;
    }
    Ok(())
}

impl Engine {
    /// At container create: every named volume the binds name exists
    /// afterwards (created if needed); returns inspect's `Mounts` and, when
    /// there are volumes, the volumes lock, which the caller holds until its
    /// record is in place so `volume rm` cannot remove a volume between.
    pub(crate) fn volumes_for_create(
        &self,
        binds: &[String],
    ) -> Result<(Vec<serde_json::Value>, Option<StoreLock>)> {
        for b in binds {
            validate_bind(b)?;
        }
        let mounts = volume_mounts(binds);
        if mounts.is_empty() {
            return Ok((Vec::new(), None));
        }
        let lock = self.volumes_lock()?;
        let mut out = Vec::new();
        for m in mounts {
            let req = VolumeCreate::default();
            let v = self
                .volume_create_inner(&m.name, &req, false, Some(&lock))
                .map_err(|e| prefixed("create", &m.name, e))?;
            out.push(serde_json::json!({
                "Type": "volume",
                "Name": v.name,
                "Source": v.mountpoint,
                "Destination": m.destination,
                "Driver": v.driver,
                "Mode": if m.read_only { "ro" } else { "z" },
                "RW": !m.read_only,
                "Propagation": "",
            }));
        }
        Ok((out, Some(lock)))
    }

    /// At start, with the rootfs mounted: fill empty volumes from the
    /// image and return the OCI mounts for the spec.
    pub(crate) fn volumes_for_start(
        &self,
        binds: &[String],
        rootfs: &Path,
    ) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        for m in volume_mounts(binds) {
            let data = self.layout.volume_data(&m.name);
            if !data.is_dir() {
                return Err(Error::not_found(format!("get {}: no such volume", m.name)));
            }
            copy_up(rootfs, &m.destination, &data).map_err(|e| prefixed("copy up", &m.name, e))?;
            let mut opts = vec!["rbind", "rprivate"];
            if m.read_only {
                opts.push("ro");
            }
            out.push(serde_json::json!({
                "destination": m.destination,
                "type": "bind",
                "source": data.display().to_string(),
                "options": opts,
            }));
        }
        Ok(out)
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

    #[test]
    fn bind_names() {
        assert_eq!(bind_volume_name("data:/x"), Some("data"));
        assert_eq!(bind_volume_name("data:/x:ro"), Some("data"));
        assert_eq!(bind_volume_name("/host:/x"), None);
        assert_eq!(bind_volume_name("/x"), None);
        let err = |s: &str| {
            validate_bind(s)
                .err()
                .map(|e| e.message)
                .unwrap_or_default()
        };
        assert_eq!(err("data:/x:xx"), "invalid mode: xx");
        assert_eq!(
            err("a:/x:ro:z"),
            "invalid volume specification: 'a:/x:ro:z'"
        );
        assert_eq!(
            err("data:rel"),
            "invalid volume specification: 'data:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert!(validate_bind("data:/x:ro,z").is_ok());
        let ro = volume_mounts(&["data:/x:ro,z".to_string(), "/h:/y".to_string()]);
        assert_eq!(ro.len(), 1);
        assert!(ro[0].read_only);
    }
}
