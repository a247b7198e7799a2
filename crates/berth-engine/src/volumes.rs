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

/// Apparent size of a tree (files' sizes, each inode once), as
/// `system df` and `volume prune` report it.
fn tree_size(dir: &Path) -> u64 {
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

    /// Gone whole or not at all: one rename out of `volumes/` is the commit
    /// point; a crash while its files are deleted leaves a dead scratch dir
    /// that the next command's sweep removes.
    fn volume_delete_locked(&self, name: &str) -> Result<()> {
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

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Volume {
            created_at: String::new(),
            driver: LOCAL_DRIVER.to_string(),
            labels: (!labels.is_empty()).then_some(labels),
            mountpoint: String::new(),
            name: name.to_string(),
            options: None,
            scope: "local".to_string(),
        }
    }

    fn strings(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| s.to_string()).collect()
    }

    /// Outcomes checked against dockerd 20.10's `volume ls -f`.
    #[test]
    fn filters_follow_dockerd() {
        let vols = [
            vol("data", &[]),
            vol("mydata", &[]),
            vol("data2", &[]),
            vol("abc", &[]),
            vol("a.c", &[]),
            vol("lab", &[("a", "b"), ("c", "")]),
        ];
        let ls = |raw: &[&str], used: bool| -> std::result::Result<Vec<&str>, String> {
            let f = VolumeFilters::parse(&strings(raw)).map_err(|e| e.message)?;
            Ok(vols
                .iter()
                .filter(|v| f.matches(v, used))
                .map(|v| v.name.as_str())
                .collect())
        };
        let all = vec!["data", "mydata", "data2", "abc", "a.c", "lab"];
        let cases: &[(&[&str], Vec<&str>)] = &[
            // name: exact or an unanchored regular expression.
            (&["name=at"], vec!["data", "mydata", "data2"]),
            (&["name=^data"], vec!["data", "data2"]),
            (&["name=data$"], vec!["data", "mydata"]),
            (&["name=a.c"], vec!["abc", "a.c"]),
            (&["name=a\\.c"], vec!["a.c"]),
            (&["name=["], vec![]),
            (&["name=DATA"], vec![]),
            (&["name="], all.clone()),
            (&[" NAME = abc "], vec!["abc"]),
            (&["name=abc", "name=^data$"], vec!["data", "abc"]),
            // driver: exact.
            (&["driver=local"], all.clone()),
            (&["driver=loc"], vec![]),
            (&["driver=LOCAL"], vec![]),
            (&["driver=nope", "driver=local"], all.clone()),
            // label: every one must match.
            (&["label=a"], vec!["lab"]),
            (&["label=a=b", "label=c="], vec!["lab"]),
            (&["label=a="], vec![]),
            (&["label=a", "label=zz"], vec![]),
            // dangling: true wins over anything else given with it.
            (&["dangling=1"], all.clone()),
            (&["dangling=x", "dangling=true"], all.clone()),
            (&["dangling=0"], vec![]),
            (&[""], all.clone()),
        ];
        for (raw, want) in cases {
            assert_eq!(ls(raw, false).as_ref(), Ok(want), "{raw:?}");
        }
        assert_eq!(ls(&["dangling=false"], true), Ok(all.clone()));

        let err = |raw: &[&str]| ls(raw, false).err().unwrap_or_default();
        assert_eq!(err(&["dangling=x"]), "Invalid filter 'dangling=[x]'");
        assert_eq!(err(&["dangling=TRUE"]), "Invalid filter 'dangling=[TRUE]'");
        assert_eq!(
            err(&["dangling=y", "dangling=x", "dangling="]),
            "Invalid filter 'dangling=[ x y]'"
        );
        assert_eq!(err(&["Bogus=1"]), "Invalid filter 'bogus'");
        assert_eq!(err(&["label!=a"]), "Invalid filter 'label!'");
        // Keys are checked before values.
        assert_eq!(err(&["dangling=x", "zz=1"]), "Invalid filter 'zz'");

        // prune: labels only, `label!` excludes.
        let prune = |raw: &[&str]| -> std::result::Result<Vec<&str>, String> {
            let f = VolumeFilters::parse_prune(&strings(raw)).map_err(|e| e.message)?;
            Ok(vols
                .iter()
                .filter(|v| f.matches(v, false))
                .map(|v| v.name.as_str())
                .collect())
        };
        assert_eq!(prune(&["label=a"]), Ok(vec!["lab"]));
        assert_eq!(
            prune(&["label!=a"]),
            Ok(vec!["data", "mydata", "data2", "abc", "a.c"])
        );
        assert_eq!(prune(&["label!=a=x"]), Ok(all.clone()));
        for k in ["name", "dangling", "driver"] {
            assert_eq!(
                prune(&[&format!("{k}=x")]),
                Err(format!("Invalid filter '{k}'"))
            );
        }
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
