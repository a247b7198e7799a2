//! Mount points: what a container's `-v`, `--mount`, `--tmpfs`,
//! `--volumes-from` and its image's `VOLUME`s become. They are resolved
//! once at create — every spec checked with dockerd's wording before any
//! volume is made — kept in the record, and turned into OCI mounts at each
//! start.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::volumes::VolumeCreate;
use crate::{Error, Result};

/// Docker's `mount.Mount` (`HostConfig.Mounts`), as the API carries it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MountSpec {
    #[serde(rename = "Type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BindOptions {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_recursive: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeOptions {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_copy: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<DriverConfig>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DriverConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TmpfsOptions {
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub size_bytes: i64,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// One resolved mount of a container (berth's private record).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// Host path (bind) or the volume's data dir; empty for tmpfs.
    #[serde(default)]
    pub source: String,
    pub destination: String,
    /// The volume's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    pub rw: bool,
    /// inspect's `Mode`: the `-v` mode string, or `z` for local volumes.
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub propagation: String,
    /// Created for this container without a name: `rm -v` removes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// Fill the volume from the image at the next start (Docker copies
    /// once, into an empty volume, unless `nocopy`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub copy_data: bool,
    /// `-v /host:/dst` creates a missing host directory; `--mount` refuses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_source: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_recursive: bool,
    /// Mount data of a tmpfs (`size=..,mode=..`, and `--tmpfs` options).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tmpfs_data: String,
    /// `--tmpfs` mounts are not in inspect's `Mounts`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl MountPoint {
    /// inspect's `Mounts` entry.
    pub fn inspect(&self) -> serde_json::Value {
        if self.kind == "volume" {
            serde_json::json!({
                "Type": "volume",
                "Name": self.name,
                "Source": self.source,
                "Destination": self.destination,
                "Driver": self.driver,
                "Mode": self.mode,
                "RW": self.rw,
                "Propagation": self.propagation,
            })
        } else {
            serde_json::json!({
                "Type": self.kind,
                "Source": self.source,
                "Destination": self.destination,
                "Mode": self.mode,
                "RW": self.rw,
                "Propagation": self.propagation,
            })
        }
    }
}

/// A volume a new container needs, made after every spec checked out.
#[derive(Debug, Clone)]
pub(crate) struct WantedVolume {
    /// Empty: anonymous, named at creation.
    pub name: String,
    pub request: VolumeCreate,
    /// Index into the planned points, whose name and source are filled in.
    pub point: usize,
}

const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// A parsed `-v` mode (`ro,z,rslave,nocopy`...). `None` when a word is
/// unknown or a kind is given twice (moby's `ValidMountMode`).
#[derive(Debug, Default, PartialEq)]
struct Mode {
    read_only: bool,
    propagation: Option<String>,
    nocopy: bool,
}

fn parse_mode(mode: &str) -> Option<Mode> {
    let mut m = Mode::default();
    let (mut rw, mut label, mut prop, mut copy, mut cons) = (0, 0, 0, 0, 0);
    for w in mode.split(',') {
        match w {
            "ro" | "rw" => {
                rw += 1;
                m.read_only = w == "ro";
            }
            "z" | "Z" => label += 1,
            "nocopy" => {
                copy += 1;
                m.nocopy = true;
            }
            "consistent" | "cached" | "delegated" => cons += 1,
            p if PROPAGATIONS.contains(&p) => {
                prop += 1;
                m.propagation = Some(p.to_string());
            }
            _ => return None,
        }
    }
    if rw > 1 || label > 1 || prop > 1 || copy > 1 || cons > 1 {
        return None;
    }
    Some(m)
}

/// `filepath.Clean` for absolute paths.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

fn mount_config_error(kind: &str, msg: impl std::fmt::Display) -> String {
    format!("invalid mount config for type {kind:?}: {msg}")
}

fn invalid_spec(raw: &str) -> Error {
    Error::invalid(format!("invalid volume specification: '{raw}'"))
}

fn check_target(kind: &str, target: &str) -> std::result::Result<(), String> {
    if target.is_empty() {
        return Err(mount_config_error(kind, "field Target must not be empty"));
    }
    if clean_path(target) == "/" && target.starts_with('/') {
        return Err(mount_config_error(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    if !target.starts_with('/') {
        return Err(mount_config_error(
            kind,
            format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    Ok(())
}

/// dockerd's checks of one `--mount` (`validateMountConfig`).
pub fn validate_spec(m: &MountSpec) -> std::result::Result<(), String> {
    let kind = m.kind.as_str();
    match kind {
        "bind" => {
            check_target(kind, &m.target)?;
            if m.source.is_empty() {
                return Err(mount_config_error(kind, "field Source must not be empty"));
            }
            if !m.source.starts_with('/') {
                return Err(mount_config_error(
                    kind,
                    format!(
                        "invalid mount path: '{}' mount path must be absolute",
                        m.source
                    ),
                ));
            }
            if m.volume_options.is_some() {
                return Err(mount_config_error(
                    kind,
                    "field VolumeOptions must not be specified",
                ));
            }
            if m.tmpfs_options.is_some() {
                return Err(mount_config_error(
                    kind,
                    "field TmpfsOptions must not be specified",
                ));
            }
            if let Some(p) = m.bind_options.as_ref().map(|b| b.propagation.as_str()) {
                if !p.is_empty() && !PROPAGATIONS.contains(&p) {
                    return Err(mount_config_error(
                        kind,
                        format!("invalid propagation mode: {p}"),
                    ));
                }
            }
            if std::fs::metadata(&m.source).is_err() {
                return Err(mount_config_error(
                    kind,
                    format!("bind source path does not exist: {}", m.source),
                ));
            }
        }
        "volume" => {
            check_target(kind, &m.target)?;
            if m.bind_options.is_some() {
                return Err(mount_config_error(
                    kind,
                    "field BindOptions must not be specified",
                ));
            }
            if m.tmpfs_options.is_some() {
                return Err(mount_config_error(
                    kind,
                    "field TmpfsOptions must not be specified",
                ));
            }
            if m.source.is_empty() && m.read_only {
                return Err(mount_config_error(
                    kind,
                    "must not set ReadOnly mode when using anonymous volumes",
                ));
            }
        }
        "tmpfs" => {
            check_target(kind, &m.target)?;
            if !m.source.is_empty() {
                return Err(mount_config_error(
                    kind,
                    "field Source must not be specified",
                ));
            }
            if m.bind_options.is_some() {
                return Err(mount_config_error(
                    kind,
                    "field BindOptions must not be specified",
                ));
            }
            if m.volume_options.is_some() {
                return Err(mount_config_error(
                    kind,
                    "field VolumeOptions must not be specified",
                ));
            }
        }
        _ => return Err(mount_config_error(kind, "mount type unknown")),
    }
    Ok(())
}

/// The tmpfs data moby derives from `TmpfsOptions` (size with the largest
/// unit that divides it).
fn tmpfs_data(o: Option<&TmpfsOptions>, read_only: bool) -> String {
    let mut opts = Vec::new();
    if read_only {
        opts.push("ro".to_string());
    }
    if let Some(o) = o {
        if o.mode != 0 {
            opts.push(format!("mode={:o}", o.mode));
        }
        if o.size_bytes != 0 {
            let mut size = o.size_bytes;
            let mut suffix = "";
            for (unit, s) in [(1i64 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")] {
                if size % unit == 0 {
                    size /= unit;
                    suffix = s;
                    break;
                }
            }
            opts.push(format!("size={size}{suffix}"));
        }
    }
    opts.join(",")
}

/// One `-v`/`Binds` entry (moby's `ParseMountRaw`).
fn parse_bind(raw: &str) -> Result<(MountPoint, Option<WantedVolume>)> {
    if raw.matches(':').count() > 2 {
        return Err(invalid_spec(raw));
    }
    let arr: Vec<&str> = raw.splitn(3, ':').collect();
    if arr[0].is_empty() {
        return Err(invalid_spec(raw));
    }
    let (source, target, mode) = match arr.as_slice() {
        [t] => ("", *t, None),
        [s, t] => {
            if parse_mode(t).is_some() {
                return Err(invalid_spec(raw));
            }
            (*s, *t, None)
        }
        [s, t, m] => (*s, *t, Some(*m)),
        _ => return Err(invalid_spec(raw)),
    };
    let parsed = match mode {
        Some(m) => parse_mode(m).ok_or_else(|| Error::invalid(format!("invalid mode: {m}")))?,
        None => Mode::default(),
    };
    let kind = if source.is_empty() {
        "volume"
    } else if source.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    let wrap =
        |msg: String| Error::invalid(format!("invalid volume specification: '{raw}': {msg}"));
    check_target(kind, target).map_err(wrap)?;
    if kind == "bind" && parsed.nocopy {
        return Err(wrap(mount_config_error(
            kind,
            "field VolumeOptions must not be specified",
        )));
    }
    if kind == "volume" && parsed.propagation.is_some() {
        return Err(wrap(mount_config_error(
            kind,
            "field BindOptions must not be specified",
        )));
    }
    let mode_str = mode.unwrap_or("").to_string();
    let mut p = MountPoint {
        kind: kind.to_string(),
        destination: clean_path(target),
        rw: !parsed.read_only,
        ..Default::default()
    };
    if kind == "bind" {
        p.source = clean_path(source);
        p.mode = mode_str;
        p.propagation = parsed.propagation.unwrap_or_else(|| "rprivate".into());
        p.create_source = true;
        return Ok((p, None));
    }
    p.mode = if mode_str.is_empty() {
        "z".into()
    } else {
        mode_str
    };
    p.copy_data = !parsed.nocopy;
    p.anonymous = source.is_empty();
    let want = WantedVolume {
        name: source.to_string(),
        request: VolumeCreate::default(),
        point: 0,
    };
    Ok((p, Some(want)))
}

/// One `--mount` entry, already checked by [`validate_spec`].
fn from_spec(m: &MountSpec) -> (MountPoint, Option<WantedVolume>) {
    let mut p = MountPoint {
        kind: m.kind.clone(),
        destination: clean_path(&m.target),
        rw: !m.read_only,
        ..Default::default()
    };
    match m.kind.as_str() {
        "bind" => {
            p.source = clean_path(&m.source);
            let b = m.bind_options.clone().unwrap_or_default();
            p.propagation = if b.propagation.is_empty() {
                "rprivate".into()
            } else {
                b.propagation
            };
            p.non_recursive = b.non_recursive;
            (p, None)
        }
        "volume" => {
            let vo = m.volume_options.clone().unwrap_or_default();
            p.mode = "z".into();
            p.copy_data = !vo.no_copy;
            p.anonymous = m.source.is_empty();
            let dc = vo.driver_config.unwrap_or_default();
            let want = WantedVolume {
                name: m.source.clone(),
                request: VolumeCreate {
                    name: None,
                    driver: (!dc.name.is_empty()).then_some(dc.name),
                    options: dc.options,
                    labels: vo.labels,
                },
                point: 0,
            };
            (p, Some(want))
        }
        _ => {
            p.tmpfs_data = tmpfs_data(m.tmpfs_options.as_ref(), m.read_only);
            (p, None)
        }
    }
}

/// `--volumes-from` entry: the container and the access it grants.
pub(crate) fn parse_volumes_from(spec: &str) -> Result<(String, Option<bool>)> {
    let (id, mode) = match spec.split_once(':') {
        Some((id, mode)) => (id, Some(mode)),
        None => (spec, None),
    };
    let Some(mode) = mode else {
        return Ok((id.to_string(), None));
    };
    let bad = || Error::invalid(format!("invalid mode: {mode}"));
    let parsed = parse_mode(mode).ok_or_else(bad)?;
    // Propagation and copy modes stay the source's.
    if parsed.propagation.is_some() || parsed.nocopy {
        return Err(bad());
    }
    Ok((id.to_string(), Some(!parsed.read_only)))
}

/// What create resolves: the points (volumes not yet named) and the
/// volumes to make.
pub(crate) struct Plan {
    pub points: Vec<MountPoint>,
    pub volumes: Vec<WantedVolume>,
}

/// Resolve a container's mounts as dockerd's `registerMountPoints` does:
/// `--volumes-from` first, overridden by binds and `--mount` (which may not
/// collide with each other or `--tmpfs`), then the config's `Volumes` that
/// nothing else covers become anonymous volumes.
pub(crate) fn plan(
    binds: &[String],
    specs: &[MountSpec],
    tmpfs: &BTreeMap<String, String>,
    config_volumes: &[String],
    from: Vec<MountPoint>,
) -> Result<Plan> {
    let mut by_dest: BTreeMap<String, (MountPoint, Option<WantedVolume>)> = BTreeMap::new();
    for p in from {
        by_dest.insert(p.destination.clone(), (p, None));
    }
    let mut taken = BTreeSet::new();
    let duplicate = |d: &str| Error::invalid(format!("Duplicate mount point: {d}"));
    for raw in binds {
        let (p, w) = parse_bind(raw)?;
        if !taken.insert(p.destination.clone()) {
            return Err(duplicate(&p.destination));
        }
        by_dest.insert(p.destination.clone(), (p, w));
    }
    for s in specs {
        validate_spec(s).map_err(Error::invalid)?;
        let (p, w) = from_spec(s);
        if !taken.insert(p.destination.clone()) {
            return Err(duplicate(&s.target));
        }
        by_dest.insert(p.destination.clone(), (p, w));
    }
    for (dest, data) in tmpfs {
        if !dest.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid mount path: '{dest}' mount path must be absolute"
            )));
        }
        let d = clean_path(dest);
        if !taken.insert(d.clone()) {
            return Err(duplicate(&d));
        }
        let p = MountPoint {
            kind: "tmpfs".into(),
            destination: d.clone(),
            rw: true,
            tmpfs_data: data.clone(),
            hidden: true,
            ..Default::default()
        };
        by_dest.insert(d, (p, None));
    }
    for v in config_volumes {
        if !v.starts_with('/') {
            continue;
        }
        let d = clean_path(v);
        if d == "/" || by_dest.contains_key(&d) {
            continue;
        }
        let p = MountPoint {
            kind: "volume".into(),
            destination: d.clone(),
            rw: true,
            anonymous: true,
            copy_data: true,
            ..Default::default()
        };
        let w = WantedVolume {
            name: String::new(),
            request: VolumeCreate::default(),
            point: 0,
        };
        by_dest.insert(d, (p, Some(w)));
    }
    let mut points = Vec::new();
    let mut volumes = Vec::new();
    for (_, (p, w)) in by_dest {
        if let Some(mut w) = w {
            w.point = points.len();
            volumes.push(w);
        }
        points.push(p);
    }
    Ok(Plan { points, volumes })
}

/// Merge tmpfs options as moby's `MergeTmpfsOptions`: a later flag wins
/// over its opposite, a later `key=value` over the same key.
pub fn merge_tmpfs_options(opts: &[String]) -> Vec<String> {
    const PAIRS: &[(&str, &str)] = &[
        ("exec", "noexec"),
        ("suid", "nosuid"),
        ("dev", "nodev"),
        ("ro", "rw"),
        ("atime", "noatime"),
        ("diratime", "nodiratime"),
        ("relatime", "norelatime"),
        ("strictatime", "nostrictatime"),
        ("sync", "async"),
    ];
    let mut out: Vec<String> = Vec::new();
    for o in opts.iter().filter(|o| !o.is_empty()) {
        let key = o.split('=').next().unwrap_or("");
        let opposite = PAIRS.iter().find_map(|(a, b)| {
            if *a == key {
                Some(*b)
            } else if *b == key {
                Some(*a)
            } else {
                None
            }
        });
        out.retain(|x| {
            let k = x.split('=').next().unwrap_or("");
            k != key && Some(k) != opposite
        });
        out.push(o.clone());
    }
    out
}

/// The OCI mounts of a container's points, parents before children
/// (sorted by path depth, as dockerd does).
pub fn oci_mounts(points: &[MountPoint]) -> Vec<serde_json::Value> {
    let mut sorted: Vec<&MountPoint> = points.iter().collect();
    sorted.sort_by_key(|p| p.destination.split('/').filter(|s| !s.is_empty()).count());
    sorted
        .into_iter()
        .map(|p| {
            if p.kind == "tmpfs" {
                let mut opts: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                opts.extend(p.tmpfs_data.split(',').map(str::to_string));
                return serde_json::json!({
                    "destination": p.destination,
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": merge_tmpfs_options(&opts),
                });
            }
            let mut opts = vec![if p.non_recursive { "bind" } else { "rbind" }.to_string()];
            opts.push(if p.propagation.is_empty() {
                "rprivate".into()
            } else {
                p.propagation.clone()
            });
            if !p.rw {
                opts.push("ro".into());
            }
            serde_json::json!({
                "destination": p.destination,
                "type": "bind",
                "source": p.source,
                "options": opts,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<(MountPoint, Option<WantedVolume>)>) -> String {
        r.err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn binds_parse_like_dockerd() {
        let (p, w) = parse_bind("data:/d:ro").unwrap();
        assert_eq!(
            (p.mode.as_str(), p.rw, p.kind.as_str()),
            ("ro", false, "volume")
        );
        assert_eq!(w.unwrap().name, "data");
        let (p, _) = parse_bind("data:/d").unwrap();
        assert_eq!(p.mode, "z");
        let (p, w) = parse_bind("/h:/x:ro,slave").unwrap();
        assert!(w.is_none());
        assert_eq!((p.propagation.as_str(), p.rw), ("slave", false));
        let (p, _) = parse_bind("/h:/etc/../x").unwrap();
        assert_eq!(p.destination, "/x");
        let (p, w) = parse_bind("/anon").unwrap();
        assert!(p.anonymous && w.unwrap().name.is_empty());
        assert_eq!(
            err(parse_bind("/anon:ro")),
            "invalid volume specification: '/anon:ro'"
        );
        assert_eq!(
            err(parse_bind("a:/x:/y:ro")),
            "invalid volume specification: 'a:/x:/y:ro'"
        );
        assert_eq!(err(parse_bind("data:/d:zz")), "invalid mode: zz");
        assert_eq!(err(parse_bind("data:/d:ro,rw")), "invalid mode: ro,rw");
        assert_eq!(
            err(parse_bind("/h:rel")),
            "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert_eq!(
            err(parse_bind("data:/")),
            "invalid volume specification: 'data:/': invalid mount config for type \"volume\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            err(parse_bind("/h:/x:nocopy")),
            "invalid volume specification: '/h:/x:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified"
        );
        assert_eq!(
            err(parse_bind("data:/d:rprivate")),
            "invalid volume specification: 'data:/d:rprivate': invalid mount config for type \"volume\": field BindOptions must not be specified"
        );
    }

    #[test]
    fn specs_checked_like_dockerd() {
        let spec = |kind: &str, src: &str, dst: &str| MountSpec {
            kind: kind.into(),
            source: src.into(),
            target: dst.into(),
            ..Default::default()
        };
        let e = |m: MountSpec| validate_spec(&m).err().unwrap_or_default();
        assert_eq!(
            e(spec("bind", "/nonexist-berth-q", "/x")),
            "invalid mount config for type \"bind\": bind source path does not exist: /nonexist-berth-q"
        );
        assert_eq!(
            e(spec("bind", "", "/x")),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            e(spec("tmpfs", "a", "/x")),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        assert_eq!(
            e(spec("foo", "", "/x")),
            "invalid mount config for type \"foo\": mount type unknown"
        );
        let mut ro = spec("volume", "", "/x");
        ro.read_only = true;
        assert_eq!(
            e(ro),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
        );
        assert!(validate_spec(&spec("bind", "/", "/x")).is_ok());
    }

    #[test]
    fn plan_orders_and_overrides() {
        let from = vec![MountPoint {
            kind: "volume".into(),
            name: "a1".into(),
            destination: "/x".into(),
            rw: true,
            ..Default::default()
        }];
        let p = plan(
            &["a3:/x".into()],
            &[],
            &BTreeMap::from([("/t".to_string(), "size=1m".to_string())]),
            &["/x".into(), "/anon".into()],
            from,
        )
        .unwrap();
        let dests: Vec<&str> = p.points.iter().map(|p| p.destination.as_str()).collect();
        assert_eq!(dests, ["/anon", "/t", "/x"]);
        assert_eq!(p.volumes.len(), 2);
        let dup = plan(
            &["a:/x".into(), "b:/x/".into()],
            &[],
            &BTreeMap::new(),
            &[],
            vec![],
        );
        assert_eq!(
            dup.err().map(|e| e.message).unwrap_or_default(),
            "Duplicate mount point: /x"
        );
        let dup = plan(
            &["a:/x".into()],
            &[],
            &BTreeMap::from([("/x".to_string(), String::new())]),
            &[],
            vec![],
        );
        assert!(dup.is_err());
    }

    #[test]
    fn tmpfs_options_merge_and_sizes() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merge_tmpfs_options(&v(&[
                "noexec", "nosuid", "nodev", "exec", "size=1m", "size=2m"
            ])),
            v(&["nosuid", "nodev", "exec", "size=2m"])
        );
        let o = TmpfsOptions {
            size_bytes: 1 << 20,
            mode: 0o700,
        };
        assert_eq!(tmpfs_data(Some(&o), false), "mode=700,size=1m");
        let o = TmpfsOptions {
            size_bytes: 1000,
            mode: 0,
        };
        assert_eq!(tmpfs_data(Some(&o), true), "ro,size=1000");
    }

    #[test]
    fn volumes_from_modes() {
        assert_eq!(parse_volumes_from("c").unwrap(), ("c".into(), None));
        assert_eq!(
            parse_volumes_from("c:ro").unwrap(),
            ("c".into(), Some(false))
        );
        assert_eq!(
            parse_volumes_from("c:zz")
                .err()
                .map(|e| e.message)
                .unwrap_or_default(),
            "invalid mode: zz"
        );
        assert!(parse_volumes_from("c:rshared").is_err());
    }
}
