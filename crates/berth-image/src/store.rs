//! The image index: image records, the name -> ID map, and layer snapshots.
//!
//! Invariants kept across crashes by the order of writes:
//! every ref names an existing image record; every record names blobs and
//! snapshots that exist. New content is moved into place first, records
//! next, refs last; deletion runs the other way. Orphans a crash leaves
//! behind are removed by the next garbage collection.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use berth_store::{blobs, Digest, Layout, LockMode, StoreLock};
use serde::{Deserialize, Serialize};

use crate::config::ImageConfig;
use crate::reference::{self, Reference};
use crate::{Error, Result};

/// One layer of an image as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    /// The blob in the content store (compressed or not).
    pub blob: Digest,
    pub media_type: String,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Length of the uncompressed tar, needed up front when saving.
    pub tar_size: u64,
}

/// What berth knows about one image beyond its config blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The config digest, which is the image ID.
    pub id: Digest,
    pub layers: Vec<LayerRecord>,
    #[serde(default)]
    pub repo_digests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
    /// Manifests of this image in the content store: pulled ones as the
    /// registry sent them, pushed ones as berth made them, so a push sends
    /// the same bytes (the same digest) every time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<ManifestRef>,
    /// Repositories (`host/path`) each layer blob is known to be in, for
    /// cross-repository mounts on push.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blob_sources: BTreeMap<String, Vec<String>>,
}

/// A manifest blob naming an image's config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestRef {
    pub digest: Digest,
    pub media_type: String,
}

/// Metadata of one unpacked layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub chain_id: Digest,
    pub diff_id: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Digest>,
    /// Docker's DiffSize of this layer.
    pub size: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RefFile {
    /// Canonical reference (`docker.io/library/busybox:latest`) -> image ID.
    refs: BTreeMap<String, Digest>,
}

/// A loaded image: record plus parsed config and its raw bytes.
#[derive(Debug, Clone)]
pub struct Image {
    pub record: ImageRecord,
    pub config: ImageConfig,
    pub config_bytes: Vec<u8>,
}

impl Image {
    pub fn chain_ids(&self) -> Vec<Digest> {
        Digest::chain_ids(&self.config.rootfs.diff_ids)
    }
}

#[derive(Debug, Clone)]
pub struct ImageStore {
    layout: Layout,
}

/// What a removal did, in Docker's terms.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RemoveReport {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
}

impl ImageStore {
    pub fn new(layout: Layout) -> Self {
        ImageStore { layout }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Exclusive lock for changing refs and records.
    pub fn lock(&self) -> Result<StoreLock> {
        Ok(StoreLock::acquire(
            &self.layout.lock_file(),
            LockMode::Exclusive,
        )?)
    }

    /// Writers adding content hold this shared; GC holds it exclusively.
    pub fn gc_guard(&self, mode: LockMode) -> Result<StoreLock> {
        Ok(StoreLock::acquire(&self.layout.gc_lock_file(), mode)?)
    }

    fn read_refs(&self) -> Result<RefFile> {
        Ok(berth_store::read_json(&self.layout.refs_file())?.unwrap_or_default())
    }

    fn write_refs(&self, r: &RefFile) -> Result<()> {
        Ok(berth_store::atomic_write_json(&self.layout.refs_file(), r)?)
    }

    pub fn refs(&self) -> Result<BTreeMap<String, Digest>> {
        Ok(self.read_refs()?.refs)
    }

    pub fn record(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        Ok(berth_store::read_json(&self.layout.image_record(id))?)
    }

    pub fn load(&self, id: &Digest) -> Result<Image> {
        let record = self
            .record(id)?
            .ok_or_else(|| Error::NoSuchImage(id.to_string()))?;
        let config_bytes = blobs::read(&self.layout, id)?;
        let config = ImageConfig::parse(&config_bytes)?;
        Ok(Image {
            record,
            config,
            config_bytes,
        })
    }

    pub fn ids(&self) -> Result<Vec<Digest>> {
        let dir = self.layout.images_dir();
        let mut out = Vec::new();
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io("read", dir.display(), e))?;
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(n) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Ok(d) = Digest::from_hex(n) {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub fn all(&self) -> Result<Vec<Image>> {
        let mut v = Vec::new();
        for id in self.ids()? {
            // A record whose blob vanished is skipped rather than failing
            // every listing; `debug check-store` reports it.
            if let Ok(img) = self.load(&id) {
                v.push(img);
            }
        }
        Ok(v)
    }

    /// Tags pointing at `id`, familiar form, sorted.
    pub fn tags_of(&self, refs: &BTreeMap<String, Digest>, id: &Digest) -> Vec<String> {
        refs.iter()
            .filter(|(_, v)| *v == id)
            .filter_map(|(k, _)| Reference::parse(k).ok().map(|r| r.familiar()))
            .collect()
    }

    /// Resolve what a user typed to an image ID, as Docker's `GetImage` does:
    /// full digest, then name[:tag] (default `latest`), then ID prefix.
    pub fn resolve(&self, input: &str) -> Result<Digest> {
        let not_found = || {
            let shown = match Reference::parse(input) {
                Ok(r) if r.tag.is_none() && r.digest.is_none() => format!("{input}:latest"),
                _ => input.to_string(),
            };
            Error::NoSuchImage(shown)
        };
        if reference::is_full_id(input) {
            let hex = input.strip_prefix("sha256:").unwrap_or(input);
            let d = Digest::from_hex(hex)?;
            return match self.record(&d)? {
                Some(_) => Ok(d),
                None => Err(not_found()),
            };
        }
        let refs = self.refs()?;
        if let Ok(r) = Reference::parse(input) {
            let r = r.with_default_tag();
            if let Some(id) = refs.get(&r.to_string()) {
                return Ok(id.clone());
            }
            if let Some(dg) = &r.digest {
                // name@digest: an image whose repo digests include it.
                for img in self.all()? {
                    if img
                        .record
                        .repo_digests
                        .iter()
                        .any(|x| x.ends_with(dg.as_str()))
                        && img
                            .record
                            .repo_digests
                            .iter()
                            .any(|x| x.starts_with(&r.familiar_name()))
                    {
                        return Ok(img.record.id);
                    }
                }
            }
        }
        let prefix = input.strip_prefix("sha256:").unwrap_or(input);
        if !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            let hits: Vec<Digest> = self
                .ids()?
                .into_iter()
                .filter(|d| d.hex().starts_with(prefix))
                .collect();
            if hits.len() == 1 {
                return Ok(hits[0].clone());
            }
        }
        Err(not_found())
    }

    /// Point `reference` at `id`. Returns the image ID the tag used to name,
    /// if it moved. Caller holds the store lock.
    pub fn set_ref(&self, reference: &Reference, id: &Digest) -> Result<Option<Digest>> {
        let mut f = self.read_refs()?;
        let key = reference.to_string();
        let old = f.refs.insert(key, id.clone());
        self.write_refs(&f)?;
        if let Some(mut rec) = self.record(id)? {
            rec.last_tag_time = Some(crate::config::go_rfc3339_nano(&chrono::Utc::now()));
            berth_store::atomic_write_json(&self.layout.image_record(id), &rec)?;
        }
        Ok(old.filter(|o| o != id))
    }

    /// Write an image record whose blobs and snapshots are already in place.
    pub fn put_record(&self, rec: &ImageRecord) -> Result<()> {
        for l in &rec.layers {
            if !blobs::exists(&self.layout, &l.blob) {
                return Err(Error::Archive(format!("layer blob {} missing", l.blob)));
            }
        }
        Ok(berth_store::atomic_write_json(
            &self.layout.image_record(&rec.id),
            rec,
        )?)
    }

    pub fn snapshot_meta(&self, chain_id: &Digest) -> Result<Option<SnapshotMeta>> {
        Ok(berth_store::read_json(
            &self.layout.snapshot_meta(chain_id),
        )?)
    }

    /// Image size as Docker reports it: the sum of its layers' diff sizes.
    pub fn size(&self, img: &Image) -> u64 {
        img.chain_ids()
            .iter()
            .filter_map(|c| self.snapshot_meta(c).ok().flatten())
            .map(|m| m.size)
            .sum()
    }

    /// The overlayfs lower directories of an image, top layer first.
    pub fn lower_dirs(&self, img: &Image) -> Vec<PathBuf> {
        img.chain_ids()
            .iter()
            .rev()
            .map(|c| self.layout.snapshot_fs(c))
            .collect()
    }

    /// Remove one tag. Caller holds the store lock.
    pub fn untag(&self, reference: &Reference) -> Result<Option<Digest>> {
        let mut f = self.read_refs()?;
        let old = f.refs.remove(&reference.to_string());
        if old.is_some() {
            self.write_refs(&f)?;
        }
        Ok(old)
    }

    /// Delete an image record and every tag naming it, then collect the
    /// layers nothing else uses. Caller holds the store lock and the GC lock.
    pub fn delete_image(&self, id: &Digest) -> Result<RemoveReport> {
        let mut report = RemoveReport::default();
        let mut f = self.read_refs()?;
        let tags: Vec<String> = f
            .refs
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect();
        for t in &tags {
            f.refs.remove(t);
            if let Ok(r) = Reference::parse(t) {
                report.untagged.push(r.familiar());
            }
        }
        self.write_refs(&f)?;
        let img = self.load(id).ok();
        let p = self.layout.image_record(id);
        std::fs::remove_file(&p).map_err(|e| Error::io("remove", p.display(), e))?;
        report.deleted.push(id.to_string());
        if let Some(img) = img {
            let gone = self.collect_garbage()?;
            for c in img.chain_ids().iter().rev() {
                if gone.contains(c) {
                    report.deleted.push(c.to_string());
                }
            }
        }
        Ok(report)
    }

    /// Delete blobs and snapshots no image record references. Returns the
    /// chain IDs removed. Caller holds the GC lock exclusively.
    pub fn collect_garbage(&self) -> Result<BTreeSet<Digest>> {
        let mut keep_blobs = BTreeSet::new();
        let mut keep_snaps = BTreeSet::new();
        for id in self.ids()? {
            let Some(rec) = self.record(&id)? else {
                continue;
            };
            keep_blobs.insert(id.clone());
            for m in &rec.manifests {
                keep_blobs.insert(m.digest.clone());
                // The gzip layers a push made are kept with its manifest.
                if let Ok(b) = blobs::read(&self.layout, &m.digest) {
                    keep_blobs.extend(crate::distribution::manifest_blobs(&b).unwrap_or_default());
                }
            }
            for l in &rec.layers {
                keep_blobs.insert(l.blob.clone());
            }
            let diff_ids: Vec<Digest> = rec.layers.iter().map(|l| l.diff_id.clone()).collect();
            keep_snaps.extend(Digest::chain_ids(&diff_ids));
        }
        // The build cache keeps its layers alive until `builder prune`.
        for rec in self.cache_list()? {
            for l in &rec.layers {
                keep_blobs.insert(l.blob.clone());
            }
            let diff_ids: Vec<Digest> = rec.layers.iter().map(|l| l.diff_id.clone()).collect();
            keep_snaps.extend(Digest::chain_ids(&diff_ids));
        }
        for d in blobs::list(&self.layout)? {
            if !keep_blobs.contains(&d) {
                blobs::delete(&self.layout, &d)?;
            }
        }
        let mut removed = BTreeSet::new();
        let dir = self.layout.snapshots_dir();
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io("read", dir.display(), e))?;
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(d) = name.to_str().and_then(|n| Digest::from_hex(n).ok()) else {
                continue;
            };
            if !keep_snaps.contains(&d) {
                // Rename first so a crash mid-removal never leaves a
                // half-deleted snapshot under its real name.
                let doomed = self.layout.tmp_dir().join(format!("gc-{}", d.hex()));
                let src = self.layout.snapshot(&d);
                std::fs::rename(&src, &doomed)
                    .map_err(|e| Error::io("rename", src.display(), e))?;
                berth_store::remove_tree(&doomed)?;
                removed.insert(d);
            }
        }
        Ok(removed)
    }

    /// Check every invariant; returns the problems found.
    pub fn check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        for (name, id) in self.refs()? {
            if self.record(&id)?.is_none() {
                problems.push(format!("ref {name} names missing image {id}"));
            }
        }
        for id in self.ids()? {
            let Some(rec) = self.record(&id)? else {
                continue;
            };
            if let Err(e) = blobs::verify(&self.layout, &id) {
                problems.push(format!("image {id}: config: {e}"));
                continue;
            }
            for l in &rec.layers {
                if let Err(e) = blobs::verify(&self.layout, &l.blob) {
                    problems.push(format!("image {id}: layer {}: {e}", l.blob));
                }
            }
            let diff_ids: Vec<Digest> = rec.layers.iter().map(|l| l.diff_id.clone()).collect();
            for c in Digest::chain_ids(&diff_ids) {
                if self.snapshot_meta(&c)?.is_none() || !self.layout.snapshot_fs(&c).is_dir() {
                    problems.push(format!("image {id}: snapshot {c} missing"));
                }
            }
        }
        Ok(problems)
    }
}
