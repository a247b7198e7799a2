//! The build cache: what a build step produced, keyed by the step's cache
//! key, so an unchanged step is a hit on the next build.
//!
//! A record names the whole layer chain of the step's result (blobs and
//! snapshots stay alive through garbage collection while a record names
//! them) and the time the step's layer was made, which BuildKit writes into
//! the image history — a cached rebuild therefore gives the same image ID.

use std::io::Write;
use std::path::Path;

use berth_store::blobs::Ingest;
use berth_store::{Digest, Scratch};
use serde::{Deserialize, Serialize};

use crate::layer_writer::{self, TreeFilter, Visit};
use crate::store::{ImageStore, LayerRecord, SnapshotMeta};
use crate::{Error, Result};

/// The media type of the uncompressed layers builds write.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheRecord {
    /// The step's cache key (hex of a sha256).
    pub key: String,
    /// The complete layer chain of the result, base image included.
    pub layers: Vec<LayerRecord>,
    /// When the step's own layer was made (Go RFC 3339 with nanoseconds);
    /// None for a step that added no layer.
    #[serde(default)]
    pub created_at: Option<String>,
    /// The step as the progress output names it (`RUN make`), for
    /// `builder prune` and `system df -v`.
    #[serde(default)]
    pub description: String,
    /// Bytes the step's own layer adds.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub last_used: String,
}

impl ImageStore {
    pub fn cache_get(&self, key: &str) -> Result<Option<CacheRecord>> {
        let p = self.layout().build_cache_record(key);
        let rec: Option<CacheRecord> = berth_store::read_json(&p)?;
        // A record whose snapshots were collected is a miss, not an error.
        Ok(rec.filter(|r| {
            let diff_ids: Vec<Digest> = r.layers.iter().map(|l| l.diff_id.clone()).collect();
            Digest::chain_ids(&diff_ids)
                .iter()
                .all(|c| self.layout().snapshot_fs(c).is_dir())
        }))
    }

    /// Written without fsync: a torn record is a cache miss, never wrong
    /// content (the record is checked against existing snapshots).
    pub fn cache_put(&self, rec: &CacheRecord) -> Result<()> {
        let p = self.layout().build_cache_record(&rec.key);
        let bytes = serde_json::to_vec(rec).map_err(|e| Error::Archive(e.to_string()))?;
        Ok(berth_store::atomic_replace(&p, &bytes, false)?)
    }

    pub fn cache_list(&self) -> Result<Vec<CacheRecord>> {
        let dir = self.layout().build_cache_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", dir.display(), e)),
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            if let Ok(Some(r)) = berth_store::read_json::<CacheRecord>(&p) {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub fn cache_remove(&self, key: &str) -> Result<()> {
        let p = self.layout().build_cache_record(key);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", p.display(), e)),
        }
    }
}

struct SizeCount(u64);

impl TreeFilter for SizeCount {
    fn visit(&mut self, _path: &[u8], st: &rustix::fs::Stat) -> Visit {
        let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
        if kind != rustix::fs::FileType::Directory {
            self.0 += st.st_size as u64;
        }
        Visit::Include
    }
}

/// Turn `dir` (an overlay upper dir: whiteouts as 0/0 char devices, opaque
/// dirs marked) into a layer on top of `parent`: the tar is written to a
/// blob while hashed, and the directory itself is renamed into place as the
/// snapshot, so nothing is unpacked again. Returns None when the directory
/// holds nothing (Docker adds no layer for an empty diff). The caller holds
/// the GC lock shared.
pub fn layer_from_dir(
    store: &ImageStore,
    scratch: &Scratch,
    parent: &[LayerRecord],
    dir: &Path,
) -> Result<Option<(LayerRecord, u64)>> {
    let layout = store.layout();
    let mut blob = Ingest::new(scratch.path())?;
    let mut counter = SizeCount(0);
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, &mut blob);
    layer_writer::write_upper_layer(dir, &mut w, &mut counter)
        .map_err(|e| Error::io("write layer", dir.display(), e))?;
    w.flush()
        .map_err(|e| Error::io("write layer", dir.display(), e))?;
    drop(w);
    let ingested = blob.finish()?;
    if ingested.digest.as_str() == crate::commit::EMPTY_LAYER_DIFF_ID {
        return Ok(None);
    }
    let diff_id = ingested.digest.clone();
    let tar_size = ingested.size;
    let mut diff_ids: Vec<Digest> = parent.iter().map(|l| l.diff_id.clone()).collect();
    diff_ids.push(diff_id.clone());
    let chain = Digest::chain_ids(&diff_ids);
    let top = chain
        .last()
        .cloned()
        .ok_or_else(|| Error::Archive("layer_from_dir: no layers".into()))?;
    let blob = ingested.commit(layout, None)?;
    if !layout.snapshot(&top).exists() {
        let snap = scratch.path().join(format!("snap-{}", &top.hex()[..12]));
        std::fs::create_dir_all(&snap).map_err(|e| Error::io("create", snap.display(), e))?;
        std::fs::rename(dir, snap.join("fs")).map_err(|e| Error::io("rename", dir.display(), e))?;
        let meta = SnapshotMeta {
            chain_id: top.clone(),
            diff_id: diff_id.clone(),
            parent: chain.len().checked_sub(2).map(|i| chain[i].clone()),
            size: counter.0,
        };
        berth_store::atomic_write_json(&snap.join("meta.json"), &meta)?;
        match std::fs::rename(&snap, layout.snapshot(&top)) {
            Ok(()) => {}
            Err(_) if layout.snapshot(&top).exists() => berth_store::remove_tree(&snap)?,
            Err(e) => return Err(Error::io("rename", snap.display(), e)),
        }
    }
    Ok(Some((
        LayerRecord {
            blob,
            media_type: LAYER_MEDIA_TYPE.into(),
            diff_id,
            tar_size,
        },
        counter.0,
    )))
}
