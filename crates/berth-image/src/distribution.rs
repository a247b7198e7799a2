//! The store side of pull and push (no networking here): pulled layers,
//! configs and manifests into the store in the crash-safe order, and the
//! manifest a push sends, made once and kept so its digest never changes.

use std::path::{Path, PathBuf};

use berth_store::{blobs, Digest, Scratch};
use serde_json::{json, Value};

use crate::config::ImageConfig;
use crate::ingest::{place_snapshot, unpack_file, unpack_reader};
use crate::reference::Reference;
use crate::store::{ImageRecord, ImageStore, LayerRecord, ManifestRef};
use crate::unpack::UnpackStats;
use crate::{Error, Result};

pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// A layer blob already in the content store, unpacked into scratch.
#[derive(Debug)]
pub struct UnpackedLayer {
    pub snapshot: PathBuf,
    pub stats: UnpackStats,
    pub diff_id: Digest,
    pub tar_size: u64,
}

/// Unpack a stored blob into a new snapshot dir under `scratch_dir`,
/// hashing its diff ID on the way. Safe to run on several threads.
pub fn unpack_blob(store: &ImageStore, scratch_dir: &Path, blob: &Digest) -> Result<UnpackedLayer> {
    let (_, snapshot, stats, diff_id, tar_size) =
        unpack_file(&store.layout().blob(blob), scratch_dir)?;
    Ok(UnpackedLayer {
        snapshot,
        stats,
        diff_id,
        tar_size,
    })
}

/// Unpack a downloaded blob from its open file, before it enters the
/// store: the pull syncs it after this, so its writeback overlaps the
/// unpacking instead of preceding it.
pub fn unpack_download(file: std::fs::File, scratch_dir: &Path) -> Result<UnpackedLayer> {
    let (_, snapshot, stats, diff_id, tar_size) = unpack_reader(file, scratch_dir)?;
    Ok(UnpackedLayer {
        snapshot,
        stats,
        diff_id,
        tar_size,
    })
}

/// One layer of a pulled image.
#[derive(Debug)]
pub struct PulledLayer {
    pub blob: Digest,
    pub media_type: String,
    /// `None` when the layer's snapshot was already in the store; its diff
    /// ID and size then come from the record that has it.
    pub unpacked: Option<UnpackedLayer>,
    pub known: Option<LayerRecord>,
}

/// A pulled image, all of its blobs in the content store already.
#[derive(Debug)]
pub struct PulledImage {
    pub config_bytes: Vec<u8>,
    pub manifest_bytes: Vec<u8>,
    pub manifest_media_type: String,
    pub layers: Vec<PulledLayer>,
    pub tag: Option<Reference>,
    /// `name@digest` as Docker shows it in RepoDigests.
    pub repo_digest: String,
    /// The repository (`host/path`) the layers came from.
    pub source: String,
}

/// What a pull changed.
#[derive(Debug)]
pub struct PullOutcome {
    pub id: Digest,
    /// Whether the tag (or, by digest, the repo digest) is new or moved:
    /// Docker's "Downloaded newer image" rather than "Image is up to date".
    pub updated: bool,
}

/// A layer already in the store, by its blob digest: one of an image's,
/// or of a build cache record's (a built image pushed, removed and pulled
/// again has its layers there, as dockerd's layer store keeps what
/// BuildKit's cache holds). Either record was written once the blob's
/// diff ID had been computed, so it is as good as unpacking again.
///
/// Failing that, a layer with the same diff ID whose blob is here, as
/// dockerd finds layers by content rather than by their compression: a
/// layer berth built (stored uncompressed) and pushed gzipped is not
/// fetched again. The image then records the local blob.
pub struct KnownLayers {
    all: Vec<LayerRecord>,
}

impl KnownLayers {
    /// Every layer record of the store, read once per pull.
    pub fn load(store: &ImageStore) -> Result<KnownLayers> {
        let mut all = Vec::new();
        for id in store.ids()? {
            if let Some(rec) = store.record(&id)? {
                all.extend(rec.layers);
            }
        }
        for rec in store.cache_list()? {
            all.extend(rec.layers);
        }
        Ok(KnownLayers { all })
    }

    pub fn find(&self, store: &ImageStore, blob: &Digest, diff_id: &Digest) -> Option<LayerRecord> {
        self.all
            .iter()
            .find(|l| &l.blob == blob && &l.diff_id == diff_id)
            .or_else(|| {
                self.all
                    .iter()
                    .find(|l| &l.diff_id == diff_id && blobs::exists(store.layout(), &l.blob))
            })
            .cloned()
    }
}

/// Commit a verified pull: config and manifest blobs, snapshots, then the
/// record and the tag under the root lock.
pub fn commit_pulled(
    store: &ImageStore,
    scratch: &Scratch,
    img: PulledImage,
) -> Result<PullOutcome> {
    let layout = store.layout().clone();
    let config = ImageConfig::parse(&img.config_bytes)?;
    let mut layers = Vec::with_capacity(img.layers.len());
    for (i, l) in img.layers.into_iter().enumerate() {
        let (diff_id, tar_size) = match (&l.unpacked, &l.known) {
            (Some(u), _) => (u.diff_id.clone(), u.tar_size),
            (None, Some(k)) => (k.diff_id.clone(), k.tar_size),
            (None, None) => {
                return Err(Error::Layer(format!(
                    "layer {i} ({}) was not unpacked",
                    l.blob
                )))
            }
        };
        layers.push((l, diff_id, tar_size));
    }
    if config.rootfs.diff_ids.len() != layers.len() {
        return Err(Error::Archive(format!(
            "invalid image: config lists {} layers, manifest has {}",
            config.rootfs.diff_ids.len(),
            layers.len()
        )));
    }
    for (i, (want, (_, got, _))) in config.rootfs.diff_ids.iter().zip(&layers).enumerate() {
        if want != got {
            return Err(Error::Archive(format!(
                "invalid diffID for layer {i}: expected {want}, got {got}"
            )));
        }
    }
    let id = blobs::put_bytes(&layout, &img.config_bytes)?;
    let manifest_digest = blobs::put_bytes(&layout, &img.manifest_bytes)?;
    let diff_ids: Vec<Digest> = layers.iter().map(|(_, d, _)| d.clone()).collect();
    let chain = Digest::chain_ids(&diff_ids);
    for (pos, (l, diff_id, _)) in layers.iter_mut().enumerate() {
        let c = &chain[pos];
        if layout.snapshot(c).exists() {
            continue;
        }
        let (dir, stats) = match l.unpacked.take() {
            Some(u) => (u.snapshot, u.stats),
            None => {
                let u = unpack_blob(store, scratch.path(), &l.blob)?;
                (u.snapshot, u.stats)
            }
        };
        place_snapshot(&layout, &chain, pos, diff_id, &dir, stats.size)?;
    }
    let manifest = ManifestRef {
        digest: manifest_digest,
        media_type: img.manifest_media_type.clone(),
    };
    let _lock = store.lock()?;
    let mut updated = false;
    let mut rec = match store.record(&id)? {
        Some(r) => r,
        None => {
            updated = true;
            ImageRecord {
                id: id.clone(),
                layers: layers
                    .iter()
                    .map(|(l, d, s)| LayerRecord {
                        blob: l.blob.clone(),
                        media_type: l.media_type.clone(),
                        diff_id: d.clone(),
                        tar_size: *s,
                    })
                    .collect(),
                repo_digests: Vec::new(),
                parent: None,
                last_tag_time: None,
                manifests: Vec::new(),
                blob_sources: Default::default(),
            }
        }
    };
    if !rec.repo_digests.contains(&img.repo_digest) {
        rec.repo_digests.push(img.repo_digest.clone());
        if img.tag.is_none() {
            updated = true;
        }
    }
    if !rec.manifests.contains(&manifest) {
        rec.manifests.push(manifest);
    }
    for (l, _, _) in &layers {
        let s = rec.blob_sources.entry(l.blob.to_string()).or_default();
        if !s.contains(&img.source) {
            s.push(img.source.clone());
        }
    }
    store.put_record(&rec)?;
    if let Some(t) = &img.tag {
        let before = store.refs()?.get(&t.to_string()).cloned();
        if before.as_ref() != Some(&id) {
            updated = true;
            store.set_ref(t, &id)?;
        }
    }
    Ok(PullOutcome { id, updated })
}

/// Docker's media type for a layer blob in a schema2 manifest, or `None`
/// when only an OCI manifest can carry it (zstd).
fn docker_layer_type(oci: &str) -> Option<&'static str> {
    match oci {
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            Some("application/vnd.docker.image.rootfs.diff.tar.gzip")
        }
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => {
            Some("application/vnd.docker.image.rootfs.diff.tar")
        }
        _ => None,
    }
}

/// What a push sends for an image: the manifest kept in its record
/// (pulled or made by an earlier push) when there is one whose blobs are
/// all here, else the layers a new manifest is made of.
#[derive(Debug)]
pub enum PushPlan {
    Kept(ManifestRef, Vec<u8>),
    Make(Vec<PushLayer>),
}

/// A layer of a manifest still to be made.
#[derive(Debug, Clone)]
pub struct PushLayer {
    pub blob: Digest,
    pub media_type: String,
    /// Stored uncompressed (berth built it): sent gzipped, as dockerd and
    /// BuildKit send layers.
    pub gzip: bool,
}

/// A layer as it is sent: media type, blob, size.
pub type SentLayer = (String, Digest, u64);

pub fn push_plan(store: &ImageStore, id: &Digest) -> Result<PushPlan> {
    let rec = store
        .record(id)?
        .ok_or_else(|| Error::NoSuchImage(id.to_string()))?;
    for m in &rec.manifests {
        if let Ok(b) = blobs::read(store.layout(), &m.digest) {
            // Only a manifest whose blobs are all here can be pushed (one
            // pulled over an image loaded from an archive names blobs of
            // the registry's compression that GC does not keep).
            if manifest_blobs(&b)
                .is_some_and(|v| v.iter().all(|d| blobs::exists(store.layout(), d)))
            {
                return Ok(PushPlan::Kept(m.clone(), b));
            }
        }
    }
    Ok(PushPlan::Make(
        rec.layers
            .iter()
            .map(|l| PushLayer {
                blob: l.blob.clone(),
                media_type: l.media_type.clone(),
                gzip: matches!(
                    l.media_type.as_str(),
                    "application/vnd.oci.image.layer.v1.tar"
                        | "application/vnd.docker.image.rootfs.diff.tar"
                ),
            })
            .collect(),
    ))
}

/// The blob a layer is sent as: gzipped into the content store when it
/// is stored uncompressed (kept there with the manifest, so the next push
/// of the image sends the same bytes). `scratch_dir` is on the store's
/// filesystem.
pub fn prepare_layer(store: &ImageStore, scratch_dir: &Path, l: &PushLayer) -> Result<SentLayer> {
    let layout = store.layout();
    if l.gzip {
        let (d, n) = crate::gzip::gzip_blob(layout, scratch_dir, &l.blob)?;
        return Ok((
            "application/vnd.oci.image.layer.v1.tar+gzip".to_string(),
            d,
            n,
        ));
    }
    Ok((
        l.media_type.clone(),
        l.blob.clone(),
        blobs::size(layout, &l.blob)?,
    ))
}

/// A new schema2 manifest (OCI when a layer is zstd) of the image's config
/// and the layers as sent; stored and recorded, so every later push of
/// the image has its digest.
pub fn make_manifest(
    store: &ImageStore,
    id: &Digest,
    sent: &[SentLayer],
) -> Result<(ManifestRef, Vec<u8>)> {
    let layout = store.layout();
    let config_size = blobs::size(layout, id)?;
    let docker = sent
        .iter()
        .all(|(mt, _, _)| docker_layer_type(mt).is_some());
    let mut layers = Vec::new();
    for (mt, digest, size) in sent {
        let mt = if docker {
            docker_layer_type(mt).unwrap_or_default().to_string()
        } else {
            mt.replace(
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        };
        layers.push(json!({
            "mediaType": mt,
            "size": size,
            "digest": digest.as_str(),
        }));
    }
    let (mt, cfg_mt) = if docker {
        (MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_CONFIG)
    } else {
        (MEDIA_OCI_MANIFEST, MEDIA_OCI_CONFIG)
    };
    let v: Value = json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": cfg_mt, "size": config_size, "digest": id.as_str()},
        "layers": layers,
    });
    // Docker's registry client indents with three spaces.
    let mut bytes = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut bytes, fmt);
    serde::Serialize::serialize(&v, &mut ser).map_err(|e| Error::Archive(e.to_string()))?;
    let digest = blobs::put_bytes(layout, &bytes)?;
    let m = ManifestRef {
        digest,
        media_type: mt.to_string(),
    };
    let _lock = store.lock()?;
    if let Some(mut rec) = store.record(id)? {
        if !rec.manifests.contains(&m) {
            rec.manifests.push(m.clone());
            store.put_record(&rec)?;
        }
    }
    Ok((m, bytes))
}

/// The config and layer digests a manifest names; `None` if unreadable.
pub(crate) fn manifest_blobs(bytes: &[u8]) -> Option<Vec<Digest>> {
    let v = serde_json::from_slice::<Value>(bytes).ok()?;
    let mut out = Vec::new();
    let descs = v.get("config").into_iter().chain(
        v.get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for d in descs {
        out.push(Digest::parse(d.get("digest").and_then(Value::as_str)?).ok()?);
    }
    Some(out)
}

/// After a push: the repo digest Docker records, and the repository as a
/// source of each layer blob sent (`sent`) for later cross-repository
/// mounts.
pub fn record_push(
    store: &ImageStore,
    id: &Digest,
    repo_digest: &str,
    repo: &str,
    sent: &[Digest],
) -> Result<()> {
    let _lock = store.lock()?;
    let Some(mut rec) = store.record(id)? else {
        return Ok(());
    };
    if !rec.repo_digests.iter().any(|d| d == repo_digest) {
        rec.repo_digests.push(repo_digest.to_string());
    }
    for blob in sent {
        let s = rec.blob_sources.entry(blob.to_string()).or_default();
        if !s.iter().any(|x| x == repo) {
            s.push(repo.to_string());
        }
    }
    store.put_record(&rec)
}
