use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use berth_store::{blobs::Ingest, Digest, LockMode, Scratch};
use serde::Deserialize;
use serde_json::Value;

use super::*;
use crate::compress::decompress;
use crate::ingest::{self, PendingImage, PendingLayer};
use crate::reference::Reference;
use crate::store::ImageStore;
use crate::{Error, Result};

/// Files up to this size are kept in memory (manifests, configs, tiny
/// layers); larger ones stream to scratch as they are read.
const SMALL: u64 = 1024 * 1024;

/// One image brought in by `load`, for Docker's "Loaded image" lines.
#[derive(Debug)]
pub struct LoadedImage {
    pub id: Digest,
    /// Familiar tags, each with the ID it was taken from if it moved.
    pub tags: Vec<(String, Option<Digest>)>,
}

enum Stored {
    Small(Vec<u8>),
    /// Index into the pending layer list.
    Layer(usize),
    /// A large blob that is not a tar stream.
    Blob(berth_store::blobs::Ingested),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

struct Reader<'s> {
    scratch: &'s Scratch,
    files: HashMap<String, Stored>,
    aliases: HashMap<String, String>,
    layers: Vec<PendingLayer>,
    /// Layers unpacking in the background, by their future index in `layers`.
    running: Vec<(usize, std::thread::JoinHandle<Result<PendingLayer>>)>,
    /// Layers finished out of order, waiting for their turn in `layers`.
    pending: BTreeMap<usize, PendingLayer>,
    /// Indices handed out so far; `layers[i]` is valid once every layer
    /// before it has finished.
    slots: usize,
}

fn clean(path: &[u8]) -> String {
    let s = String::from_utf8_lossy(path);
    s.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn looks_like_layer(head: &[u8]) -> bool {
    crate::compress::Compression::detect(head) != crate::compress::Compression::None
        || (head.len() >= 262 && &head[257..262] == b"ustar")
}

impl Reader<'_> {
    /// Wait for the oldest background unpack and put its layer in its slot.
    fn join_oldest(&mut self, what: &str) -> Result<()> {
        let (index, handle) = self.running.remove(0);
        let layer = handle
            .join()
            .unwrap_or_else(|_| Err(Error::Layer("layer unpacker panicked".into())))
            .map_err(|e| Error::Archive(format!("{what}: {e}")))?;
        self.place(index, layer);
        Ok(())
    }

    /// Join every background unpack; the first failure wins.
    fn join_all(&mut self) -> Result<()> {
        let mut first = Ok(());
        while !self.running.is_empty() {
            let r = self.join_oldest("layer");
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    fn place(&mut self, index: usize, layer: PendingLayer) {
        self.pending.insert(index, layer);
        while let Some(l) = self.pending.remove(&self.layers.len()) {
            self.layers.push(l);
        }
    }

    fn resolve(&self, path: &str) -> String {
        let mut p = clean(path.as_bytes());
        for _ in 0..16 {
            match self.aliases.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        p
    }

    fn bytes(&mut self, path: &str) -> Result<Vec<u8>> {
        let p = self.resolve(path);
        match self.files.get(&p) {
            Some(Stored::Small(b)) => Ok(b.clone()),
            Some(Stored::Blob(i)) => std::fs::read(&i.path).map_err(|e| Error::io("read", &p, e)),
            Some(Stored::Layer(_)) => Err(Error::Archive(format!(
                "{p}: expected a JSON document, found a layer"
            ))),
            None => Err(Error::Archive(format!("invalid archive: {p} not found"))),
        }
    }

    /// The pending layer for a path, ingesting small in-memory files now.
    fn layer(&mut self, path: &str) -> Result<usize> {
        let p = self.resolve(path);
        match self.files.remove(&p) {
            Some(Stored::Layer(i)) => {
                self.files.insert(p, Stored::Layer(i));
                Ok(i)
            }
            Some(Stored::Small(b)) => {
                let l = ingest::ingest_layer(self.scratch, Cursor::new(b))?;
                let i = self.slots;
                self.slots += 1;
                self.place(i, l);
                self.files.insert(p, Stored::Layer(i));
                Ok(i)
            }
            Some(Stored::Blob(_)) => Err(Error::Archive(format!("{p}: not a layer tar stream"))),
            None => Err(Error::Archive(format!(
                "invalid archive: layer {p} not found"
            ))),
        }
    }
}

/// Load every image in an archive (plain, gzip, zstd, bzip2 or xz).
/// Nothing is committed unless the whole archive is valid.
pub fn load<R: Read>(store: &ImageStore, input: R) -> Result<Vec<LoadedImage>> {
    let layout = store.layout().clone();
    let _gc = store.gc_guard(LockMode::Shared)?;
    let scratch = Scratch::new(&layout, "load")?;
    let (_, dec) =
        decompress(input).map_err(|e| Error::Archive(format!("Error processing tar file: {e}")))?;
    let mut rd = Reader {
        scratch: &scratch,
        files: HashMap::new(),
        aliases: HashMap::new(),
        layers: Vec::new(),
        running: Vec::new(),
        pending: BTreeMap::new(),
        slots: 0,
    };
    let parallel = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let tar_err = |e: std::io::Error| Error::Archive(format!("Error processing tar file: {e}"));
    let mut archive = tar::Archive::new(dec);
    let read = (|| -> Result<()> {
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let path = clean(&entry.path_bytes());
            if path.split('/').any(|c| c == "..") {
                return Err(Error::Breakout(path));
            }
            match entry.header().entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    let t = String::from_utf8_lossy(&target).into_owned();
                    let full = if entry.header().entry_type() == tar::EntryType::Link
                        || t.starts_with('/')
                    {
                        clean(t.as_bytes())
                    } else {
                        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        normalize(&format!("{dir}/{t}"))?
                    };
                    rd.aliases.insert(path, full);
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    if size <= SMALL {
                        let mut b = Vec::with_capacity(size as usize);
                        entry.read_to_end(&mut b).map_err(tar_err)?;
                        rd.files.insert(path, Stored::Small(b));
                        continue;
                    }
                    let mut head = vec![0u8; 512];
                    let n = read_up_to(&mut entry, &mut head).map_err(tar_err)?;
                    head.truncate(n);
                    // Spool the blob while hashing it; a layer then unpacks
                    // on another core while the next entry is read.
                    let mut ing = Ingest::new(scratch.path())?;
                    std::io::copy(&mut Cursor::new(&head).chain(&mut entry), &mut ing)
                        .map_err(tar_err)?;
                    let blob = ing.finish()?;
                    if looks_like_layer(&head) {
                        while rd.running.len() >= parallel {
                            rd.join_oldest(&path)?;
                        }
                        let index = rd.slots;
                        rd.slots += 1;
                        rd.running.push((
                            index,
                            ingest::unpack_in_background(scratch.path().to_path_buf(), blob),
                        ));
                        rd.files.insert(path, Stored::Layer(index));
                    } else {
                        rd.files.insert(path, Stored::Blob(blob));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })();
    // Background unpackers write into the scratch dir: every one is joined,
    // on success and failure alike, before it can be removed.
    let joined = rd.join_all();
    read.and(joined)?;
    let images = if rd.files.contains_key("manifest.json") {
        docker_images(&mut rd)?
    } else if rd.files.contains_key("index.json") {
        oci_images(&mut rd)?
    } else {
        return Err(Error::Archive(
            "invalid image archive: it has neither manifest.json nor index.json".into(),
        ));
    };
    // Every blob named by its digest must hash to it.
    for (path, stored) in &rd.files {
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let actual = match stored {
                Stored::Small(b) => Digest::of(b),
                Stored::Layer(i) => rd.layers[*i].blob.digest.clone(),
                Stored::Blob(i) => i.digest.clone(),
            };
            if actual.hex() != hex {
                return Err(Error::Archive(format!(
                    "digest mismatch for {path}: content is {actual}"
                )));
            }
        }
    }
    for img in &images {
        ingest::verify(img, &rd.layers)?;
    }
    let committed = ingest::commit(store, &scratch, std::mem::take(&mut rd.layers), images)?;
    Ok(committed
        .into_iter()
        .map(|c| LoadedImage {
            id: c.id,
            tags: c
                .tags
                .into_iter()
                .map(|(r, old)| (r.familiar(), old))
                .collect(),
        })
        .collect())
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = r.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

fn normalize(p: &str) -> Result<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(Error::Breakout(p.to_string()));
                }
            }
            c => out.push(c),
        }
    }
    Ok(out.join("/"))
}

fn parse_tags(tags: &[String]) -> Result<Vec<Reference>> {
    tags.iter()
        .map(|t| {
            Reference::parse(t)
                .map(|r| r.with_default_tag())
                .map_err(|e| Error::Archive(format!("invalid tag {t:?} in archive: {e}")))
        })
        .collect()
}

fn docker_images(rd: &mut Reader<'_>) -> Result<Vec<PendingImage>> {
    let raw = rd.bytes("manifest.json")?;
    let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&raw)
        .map_err(|e| Error::Archive(format!("invalid manifest.json: {e}")))?;
    let mut out = Vec::new();
    for e in entries {
        let config_bytes = rd.bytes(&e.config)?;
        let mut layers = Vec::new();
        for l in &e.layers {
            layers.push(rd.layer(l)?);
        }
        out.push(PendingImage {
            config_bytes,
            layers,
            tags: parse_tags(e.repo_tags.as_deref().unwrap_or_default())?,
            repo_digests: Vec::new(),
        });
    }
    Ok(out)
}

fn blob_path(desc: &Value) -> Result<String> {
    let d = desc
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Archive("descriptor without digest".into()))?;
    let d = Digest::parse(d)?;
    Ok(format!("blobs/sha256/{}", d.hex()))
}

fn host_platform_matches(desc: &Value) -> bool {
    match desc.get("platform") {
        None => true,
        Some(p) => {
            let os = p.get("os").and_then(Value::as_str).unwrap_or("linux");
            let arch = p.get("architecture").and_then(Value::as_str).unwrap_or("");
            os == "linux" && arch == crate::host_arch()
        }
    }
}

fn oci_images(rd: &mut Reader<'_>) -> Result<Vec<PendingImage>> {
    let raw = rd.bytes("index.json")?;
    let index: Value = serde_json::from_slice(&raw)
        .map_err(|e| Error::Archive(format!("invalid index.json: {e}")))?;
    let mut out = Vec::new();
    let mut by_manifest: BTreeMap<String, usize> = BTreeMap::new();
    walk_index(rd, &index, None, &mut out, &mut by_manifest, 0)?;
    Ok(out)
}

fn walk_index(
    rd: &mut Reader<'_>,
    index: &Value,
    inherited_name: Option<&str>,
    out: &mut Vec<PendingImage>,
    seen: &mut BTreeMap<String, usize>,
    depth: usize,
) -> Result<()> {
    if depth > 4 {
        return Err(Error::Archive("image index nested too deeply".into()));
    }
    let manifests = index
        .get("manifests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for desc in manifests {
        let ann = desc.get("annotations");
        let name = ann
            .and_then(|a| a.get(ANNOTATION_IMAGE_NAME))
            .and_then(Value::as_str)
            .or_else(|| {
                ann.and_then(|a| a.get(ANNOTATION_REF_NAME))
                    .and_then(Value::as_str)
                    .filter(|n| n.contains(':') || n.contains('/'))
            })
            .or(inherited_name)
            .map(str::to_string);
        let media = desc
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or(MEDIA_OCI_MANIFEST);
        let path = blob_path(&desc)?;
        match media {
            MEDIA_OCI_INDEX | MEDIA_DOCKER_LIST => {
                let sub_raw = rd.bytes(&path)?;
                let sub: Value = serde_json::from_slice(&sub_raw)
                    .map_err(|e| Error::Archive(format!("invalid index {path}: {e}")))?;
                walk_index(rd, &sub, name.as_deref(), out, seen, depth + 1)?;
            }
            _ => {
                if !host_platform_matches(&desc) {
                    continue;
                }
                let tags = match &name {
                    Some(n) => parse_tags(std::slice::from_ref(n))?,
                    None => Vec::new(),
                };
                if let Some(&i) = seen.get(&path) {
                    out[i].tags.extend(tags);
                    continue;
                }
                let mraw = rd.bytes(&path)?;
                let m: Value = serde_json::from_slice(&mraw)
                    .map_err(|e| Error::Archive(format!("invalid manifest {path}: {e}")))?;
                let cfg = m
                    .get("config")
                    .ok_or_else(|| Error::Archive(format!("manifest {path} has no config")))?;
                let config_bytes = rd.bytes(&blob_path(cfg)?)?;
                let mut layers = Vec::new();
                for l in m
                    .get("layers")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    layers.push(rd.layer(&blob_path(&l)?)?);
                }
                seen.insert(path, out.len());
                out.push(PendingImage {
                    config_bytes,
                    layers,
                    tags,
                    repo_digests: Vec::new(),
                });
            }
        }
    }
    Ok(())
}
