//! Compare two images by content, as `docker save` / `berth save` wrote
//! them: the runtime config, the history, and every layer's entries. Not
//! by digest: two builders that agree on everything that matters still
//! differ in timestamps, so IDs and diff IDs are never compared.
//!
//! ```ignore
//! let want = SavedImage::load(Path::new("docker.tar"), Some("corpus/x:latest"));
//! let got = SavedImage::load(Path::new("berth.tar"), Some("corpus/x:latest"));
//! if let Err(diff) = compare_images(&want, &got, &CompareOptions::default()) {
//!     panic!("{diff}");
//! }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use serde_json::Value;

use super::sha256_hex;

/// One tar entry of a layer, without its modification time unless the
/// comparison asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path as in the layer, without a leading `./` or `/` or trailing `/`.
    pub path: String,
    /// `file`, `dir`, `symlink`, `hardlink`, `char`, `block`, `fifo`.
    pub kind: &'static str,
    /// Permission bits and setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// sha256 of a regular file's content.
    pub sha256: Option<String>,
    /// Symlink or hardlink target.
    pub link: Option<String>,
    /// Extended attributes from PAX `SCHILY.xattr.*` records, value in hex.
    pub xattrs: BTreeMap<String, String>,
    /// Device numbers of char/block entries.
    pub device: Option<(u32, u32)>,
    pub mtime: u64,
}

/// A layer: its entries by path, and the history step that made it.
#[derive(Debug, Clone)]
pub struct Layer {
    pub created_by: String,
    pub entries: BTreeMap<String, Entry>,
}

/// An image read back from a save archive (Docker's legacy layout or the
/// OCI layout with a `manifest.json`, as Docker 25+ and berth write).
#[derive(Debug, Clone)]
pub struct SavedImage {
    /// The whole image config document.
    pub config: Value,
    pub layers: Vec<Layer>,
}

/// What the comparison leaves out or relaxes.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// `Some(t)`: where either side's entry has an mtime before `t` (so not
    /// the build's clock: it came from the context, an archive or an image,
    /// whose times BuildKit keeps), both must have the same mtime. All
    /// other mtimes (RUN output, directories COPY creates, files copied
    /// from a stage's RUN) are the build's clock and never compared.
    pub preserved_mtimes: Option<u64>,
    /// Compare history `created_by` strings (off for cases whose Docker
    /// side is an equivalent but differently written Dockerfile).
    pub created_by: bool,
    /// Drop, before comparing, directory entries a layer carries although
    /// they are identical (kind, mode, owner, xattrs) to the directory
    /// below: only its mtime changed. Docker 20.10's BuildKit leaves such
    /// `etc/` entries in every RUN layer (mount stubs for /etc/hosts and
    /// /etc/resolv.conf, created and removed again).
    pub ignore_touched_dirs: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            // 2021-01-01: the corpus harness dates context files 2020-09-13.
            preserved_mtimes: Some(1_609_459_200),
            created_by: true,
            ignore_touched_dirs: false,
        }
    }
}

/// The runtime config fields that are compared (all of `config`, in fact;
/// this list only orders the report).
pub const CONFIG_FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "Healthcheck",
    "StopSignal",
    "OnBuild",
    "Shell",
    "ArgsEscaped",
];

impl SavedImage {
    /// Read the image tagged `reference` (or the only one) from a save
    /// archive.
    pub fn load(archive: &Path, reference: Option<&str>) -> SavedImage {
        let bytes =
            std::fs::read(archive).unwrap_or_else(|e| panic!("reading {}: {e}", archive.display()));
        let mut files: HashMap<String, Vec<u8>> = HashMap::new();
        let mut ar = tar::Archive::new(&bytes[..]);
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let p = clean(&e.path().unwrap().to_string_lossy());
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            files.insert(p, v);
        }
        let manifest: Value = serde_json::from_slice(
            files
                .get("manifest.json")
                .unwrap_or_else(|| panic!("{}: no manifest.json", archive.display())),
        )
        .unwrap();
        let list = manifest.as_array().unwrap();
        let m = match reference {
            Some(r) => {
                let full = if r.contains(':') {
                    r.to_string()
                } else {
                    format!("{r}:latest")
                };
                list.iter()
                    .find(|m| {
                        m["RepoTags"]
                            .as_array()
                            .is_some_and(|t| t.iter().any(|t| t == &Value::from(full.clone())))
                    })
                    .unwrap_or_else(|| panic!("{}: no image {full}", archive.display()))
            }
            None => {
                assert_eq!(list.len(), 1, "{}: several images", archive.display());
                &list[0]
            }
        };
        let config: Value =
            serde_json::from_slice(&files[&clean(m["Config"].as_str().unwrap())]).unwrap();
        let made_layers: Vec<String> = config["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .filter(|h| h["empty_layer"] != Value::Bool(true))
                    .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let layers = m["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, l)| Layer {
                created_by: made_layers.get(i).cloned().unwrap_or_default(),
                entries: layer_entries(&files[&clean(l.as_str().unwrap())]),
            })
            .collect();
        SavedImage { config, layers }
    }
}

fn clean(p: &str) -> String {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_string()
}

fn layer_entries(blob: &[u8]) -> BTreeMap<String, Entry> {
    let data: Vec<u8> = if blob.starts_with(&[0x1f, 0x8b]) {
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(blob)
            .read_to_end(&mut v)
            .unwrap();
        v
    } else if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::decode_all(blob).unwrap()
    } else {
        blob.to_vec()
    };
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(&data[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = clean(&String::from_utf8_lossy(&e.path_bytes()));
        if path.is_empty() || path == "." {
            continue;
        }
        let h = e.header().clone();
        let kind = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => "file",
            tar::EntryType::Directory => "dir",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Link => "hardlink",
            tar::EntryType::Char => "char",
            tar::EntryType::Block => "block",
            tar::EntryType::Fifo => "fifo",
            other => panic!("{path}: unexpected tar entry type {other:?}"),
        };
        let mut xattrs = BTreeMap::new();
        if let Ok(Some(pax)) = e.pax_extensions() {
            for x in pax.flatten() {
                if let Some(name) = x.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                    xattrs.insert(name.to_string(), hex::encode(x.value_bytes()));
                }
            }
        }
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .map(|l| if kind == "hardlink" { clean(&l) } else { l });
        let mut content = Vec::new();
        if kind == "file" {
            e.read_to_end(&mut content).unwrap();
        }
        let device = match kind {
            "char" | "block" => Some((
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            )),
            _ => None,
        };
        let entry = Entry {
            path: path.clone(),
            kind,
            mode: h.mode().unwrap_or(0) & 0o7777,
            uid: h.uid().unwrap_or(0),
            gid: h.gid().unwrap_or(0),
            size: if kind == "file" {
                content.len() as u64
            } else {
                0
            },
            sha256: (kind == "file").then(|| sha256_hex(&content)),
            link,
            xattrs,
            device,
            mtime: h.mtime().unwrap_or(0),
        };
        out.insert(path, entry);
    }
    out
}

/// A JSON value that carries nothing: null, false, 0, "", [] or {}. Such a
/// field and an absent one mean the same to Docker.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn field<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !is_zero(v))
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(unset)".to_string(), Value::to_string)
}

fn show_entry(e: &Entry, mtime: bool) -> String {
    let mut s = format!(
        "{} {:04o} {}:{} size={}",
        e.kind, e.mode, e.uid, e.gid, e.size
    );
    if let Some(h) = &e.sha256 {
        let _ = write!(s, " sha256={}", &h[..12]);
    }
    if let Some(l) = &e.link {
        let _ = write!(s, " -> {l}");
    }
    if let Some((a, b)) = e.device {
        let _ = write!(s, " dev={a},{b}");
    }
    for (k, v) in &e.xattrs {
        let _ = write!(s, " xattr {k}={v}");
    }
    if mtime {
        let _ = write!(s, " mtime={}", e.mtime);
    }
    s
}

/// Compare `want` (the reference, e.g. Docker's) with `got`; `Err` holds a
/// readable report of every difference, one per line.
pub fn compare_images(
    want: &SavedImage,
    got: &SavedImage,
    opts: &CompareOptions,
) -> Result<(), String> {
    let mut d = String::new();

    // Platform and runtime config.
    for k in ["os", "architecture", "variant"] {
        let (a, b) = (field(&want.config, k), field(&got.config, k));
        if a != b {
            let _ = writeln!(d, "{k}: want {} got {}", show(a), show(b));
        }
    }
    let empty = Value::Object(Default::default());
    let (wc, gc) = (
        want.config.get("config").unwrap_or(&empty),
        got.config.get("config").unwrap_or(&empty),
    );
    let mut keys: Vec<String> = CONFIG_FIELDS.iter().map(|s| s.to_string()).collect();
    for o in [wc, gc] {
        if let Some(o) = o.as_object() {
            for k in o.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    for k in &keys {
        let (a, b) = (field(wc, k), field(gc, k));
        if a != b {
            let _ = writeln!(d, "config.{k}: want {} got {}", show(a), show(b));
        }
    }

    // History, without timestamps.
    let hist = |c: &Value| -> Vec<(String, bool, String, String)> {
        c["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h["created_by"].as_str().unwrap_or("").to_string(),
                            h["empty_layer"] == Value::Bool(true),
                            h["comment"].as_str().unwrap_or("").to_string(),
                            h["author"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (wh, gh) = (hist(&want.config), hist(&got.config));
    if wh.len() != gh.len() {
        let _ = writeln!(d, "history: want {} steps got {}", wh.len(), gh.len());
    }
    for i in 0..wh.len().max(gh.len()) {
        match (wh.get(i), gh.get(i)) {
            (Some(a), Some(b)) => {
                if opts.created_by && a.0 != b.0 {
                    let _ = writeln!(d, "history[{i}].created_by: want {:?} got {:?}", a.0, b.0);
                }
                if a.1 != b.1 {
                    let _ = writeln!(
                        d,
                        "history[{i}].empty_layer ({}): want {} got {}",
                        a.0, a.1, b.1
                    );
                }
                if a.2 != b.2 {
                    let _ = writeln!(d, "history[{i}].comment: want {:?} got {:?}", a.2, b.2);
                }
                if a.3 != b.3 {
                    let _ = writeln!(d, "history[{i}].author: want {:?} got {:?}", a.3, b.3);
                }
            }
            (Some(a), None) => {
                let _ = writeln!(d, "history[{i}]: only wanted: {:?}", a.0);
            }
            (None, Some(b)) => {
                let _ = writeln!(d, "history[{i}]: only got: {:?}", b.0);
            }
            (None, None) => {}
        }
    }

    // Layers, entry by entry.
    if want.layers.len() != got.layers.len() {
        let _ = writeln!(
            d,
            "layers: want {} got {}\n  want: {:?}\n  got:  {:?}",
            want.layers.len(),
            got.layers.len(),
            want.layers
                .iter()
                .map(|l| &l.created_by)
                .collect::<Vec<_>>(),
            got.layers.iter().map(|l| &l.created_by).collect::<Vec<_>>()
        );
    }
    let (wl, gl) = (normalised(want, opts), normalised(got, opts));
    for (i, (a, b)) in wl.iter().zip(&gl).enumerate() {
        let mut ld = String::new();
        for (p, ea) in a {
            match b.get(p) {
                None => {
                    let _ = writeln!(ld, "  only wanted: {p}  {}", show_entry(ea, false));
                }
                Some(eb) => {
                    let mtime = opts
                        .preserved_mtimes
                        .is_some_and(|t| ea.mtime < t || eb.mtime < t);
                    let mut eb_cmp = eb.clone();
                    if !mtime {
                        eb_cmp.mtime = ea.mtime;
                    }
                    if *ea != eb_cmp {
                        let _ = writeln!(
                            ld,
                            "  differs: {p}\n    want {}\n    got  {}",
                            show_entry(ea, mtime),
                            show_entry(eb, mtime)
                        );
                    }
                }
            }
        }
        for (p, eb) in b {
            if !a.contains_key(p) {
                let _ = writeln!(ld, "  only got: {p}  {}", show_entry(eb, false));
            }
        }
        if !ld.is_empty() {
            let _ = writeln!(
                d,
                "layer {i} ({:?} / {:?}):\n{ld}",
                want.layers[i].created_by, got.layers[i].created_by
            );
        }
    }
    if d.is_empty() {
        Ok(())
    } else {
        Err(d)
    }
}

/// The layers' entries, with touched-only directories dropped if asked.
fn normalised(img: &SavedImage, opts: &CompareOptions) -> Vec<BTreeMap<String, Entry>> {
    let mut below: BTreeMap<String, Entry> = BTreeMap::new();
    let mut out = Vec::new();
    for l in &img.layers {
        let mut entries = l.entries.clone();
        if opts.ignore_touched_dirs {
            entries.retain(|p, e| {
                let Some(old) = below.get(p) else { return true };
                let has_children = l.entries.keys().any(|k| {
                    k.len() > p.len() && k.starts_with(p.as_str()) && k.as_bytes()[p.len()] == b'/'
                });
                !(e.kind == "dir"
                    && old.kind == "dir"
                    && !has_children
                    && (e.mode, e.uid, e.gid, &e.xattrs)
                        == (old.mode, old.uid, old.gid, &old.xattrs))
            });
        }
        for (p, e) in &l.entries {
            if let Some(name) = p.rsplit('/').next().and_then(|n| n.strip_prefix(".wh.")) {
                let dir = p.rsplit_once('/').map_or("", |x| x.0);
                let gone = if dir.is_empty() {
                    name.to_string()
                } else {
                    format!("{dir}/{name}")
                };
                below.retain(|k, _| k != &gone && !k.starts_with(&format!("{gone}/")));
            } else {
                below.insert(p.clone(), e.clone());
            }
        }
        out.push(entries);
    }
    out
}

/// Panic with the report if the two saved archives differ.
pub fn assert_same_image(
    want_label: &str,
    want: &Path,
    got_label: &str,
    got: &Path,
    reference: &str,
    opts: &CompareOptions,
) {
    let a = SavedImage::load(want, Some(reference));
    let b = SavedImage::load(got, Some(reference));
    if let Err(diff) = compare_images(&a, &b, opts) {
        panic!("{reference}: {got_label} differs from {want_label} (want = {want_label}):\n{diff}");
    }
}
