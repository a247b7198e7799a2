//! Bringing new layers and images into the store.
//!
//! A layer stream is written to a scratch blob while a second thread
//! decompresses, hashes (diff ID) and unpacks the same bytes, so reading,
//! hashing and unpacking overlap on two cores and memory stays bounded by
//! the channel (a few chunks). Nothing is visible in the store until
//! [`commit`] renames the finished pieces into place.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use berth_store::blobs::{Ingest, Ingested};
use berth_store::{Digest, Layout, Scratch};

use crate::compress::{decompress, Compression, HashReader};
use crate::config::ImageConfig;
use crate::reference::Reference;
use crate::store::{ImageRecord, ImageStore, LayerRecord, SnapshotMeta};
use crate::unpack::{unpack_layer, UnpackStats};
use crate::{Error, Result};

const CHUNK: usize = 256 * 1024;

/// A layer written to scratch: its blob and its unpacked tree.
#[derive(Debug)]
pub struct PendingLayer {
    pub blob: Ingested,
    pub media_type: String,
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub tar_size: u64,
    pub stats: UnpackStats,
    /// `<scratch>/snap-N`, containing `fs/`.
    pub snapshot: PathBuf,
}

struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.recv() {
                Ok(v) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn new_snapshot_dir(scratch: &Scratch) -> Result<PathBuf> {
    new_snapshot_dir_in(scratch.path())
}

fn new_snapshot_dir_in(base: &Path) -> Result<PathBuf> {
    for i in 0.. {
        let p = base.join(format!("snap-{i}"));
        match std::fs::create_dir(&p) {
            Ok(()) => {
                let fs = p.join("fs");
                std::fs::create_dir(&fs).map_err(|e| Error::io("create", fs.display(), e))?;
                return Ok(p);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create", p.display(), e)),
        }
    }
    unreachable!("an unbounded range always yields")
}

/// Read a layer stream (tar, or gzip/zstd/bzip2/xz tar) to its end: store it
/// as a scratch blob and unpack it into a scratch snapshot. bzip2 and xz are
/// not OCI layer encodings, so those are stored decompressed.
pub fn ingest_layer<R: Read>(scratch: &Scratch, reader: R) -> Result<PendingLayer> {
    let mut br = BufReader::with_capacity(CHUNK, reader);
    let head = br.fill_buf().map_err(|e| Error::Layer(e.to_string()))?;
    let comp = Compression::detect(head);
    let (mut source, stored_comp): (Box<dyn Read + '_>, Compression) = match comp {
        Compression::Bzip2 | Compression::Xz => {
            let (_, r) = decompress(br).map_err(|e| Error::Layer(e.to_string()))?;
            (r, Compression::None)
        }
        c => (Box::new(br), c),
    };
    let snap = new_snapshot_dir(scratch)?;
    let fs_dir = snap.join("fs");
    let mut blob = Ingest::new(scratch.path())?;
    let (tx, rx) = sync_channel::<Vec<u8>>(8);

    let (copy_res, unpack_res) = std::thread::scope(|s| {
        let fs_dir = fs_dir.clone();
        let worker = s.spawn(move || -> Result<(UnpackStats, Digest, u64)> {
            let chan = ChannelReader {
                rx,
                cur: Vec::new(),
                pos: 0,
            };
            let (_, dec) = decompress(chan).map_err(|e| Error::Layer(e.to_string()))?;
            let hr = HashReader::new(dec);
            let (stats, hr) = unpack_layer(hr, &fs_dir)?;
            let (diff_id, tar_size) = hr.finish();
            Ok((stats, diff_id, tar_size))
        });
        let copy_res = (|| -> io::Result<()> {
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = source.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                blob.write_all(&buf)?;
                if tx.send(buf).is_err() {
                    // The unpacker stopped early; its error explains why.
                    return Ok(());
                }
            }
        })();
        drop(tx);
        let unpack_res = worker
            .join()
            .unwrap_or_else(|_| Err(Error::Layer("layer unpacker panicked".into())));
        (copy_res, unpack_res)
    });
    let (stats, diff_id, tar_size) = unpack_res?;
    copy_res.map_err(|e| Error::Layer(e.to_string()))?;
    let blob = blob.finish()?;
    Ok(PendingLayer {
        blob,
        media_type: stored_comp.layer_media_type().to_string(),
        diff_id,
        tar_size,
        stats,
        snapshot: snap,
    })
}

/// Unpack a finished blob file into a new snapshot under `scratch_dir`,
/// hashing its diff ID on the way.
pub(crate) fn unpack_file(
    path: &Path,
    scratch_dir: &Path,
) -> Result<(Compression, PathBuf, UnpackStats, Digest, u64)> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("open", path.display(), e))?;
    unpack_reader(f, scratch_dir)
}

/// [`unpack_file`] from an open file (a download still outside the store).
pub(crate) fn unpack_reader(
    f: std::fs::File,
    scratch_dir: &Path,
) -> Result<(Compression, PathBuf, UnpackStats, Digest, u64)> {
    let (comp, dec) = decompress(f).map_err(|e| Error::Layer(e.to_string()))?;
    if matches!(comp, Compression::Bzip2 | Compression::Xz) {
        return Err(Error::Layer(
            "bzip2 and xz layers are not supported in image archives".into(),
        ));
    }
    let snap = new_snapshot_dir_in(scratch_dir)?;
    let (stats, hr) = unpack_layer(HashReader::new(dec), &snap.join("fs"))?;
    let (diff_id, tar_size) = hr.finish();
    Ok((comp, snap, stats, diff_id, tar_size))
}

/// Unpack a finished scratch blob on its own thread. Used when an archive
/// holds several layers: the reader moves on to the next layer while this
/// one unpacks from the (page-cached) blob file.
pub fn unpack_in_background(
    scratch_dir: PathBuf,
    blob: Ingested,
) -> std::thread::JoinHandle<Result<PendingLayer>> {
    std::thread::spawn(move || {
        let (comp, snapshot, stats, diff_id, tar_size) = unpack_file(&blob.path, &scratch_dir)?;
        Ok(PendingLayer {
            blob,
            media_type: comp.layer_media_type().to_string(),
            diff_id,
            tar_size,
            stats,
            snapshot,
        })
    })
}

/// Unpack a layer that is already in the content store into a scratch
/// snapshot (used when one blob is needed at two chain positions).
fn unpack_stored(
    layout: &Layout,
    scratch: &Scratch,
    blob: &Digest,
) -> Result<(PathBuf, UnpackStats)> {
    let (_, snap, stats, _, _) = unpack_file(&layout.blob(blob), scratch.path())?;
    Ok((snap, stats))
}

/// A fully read image waiting to be committed.
#[derive(Debug)]
pub struct PendingImage {
    pub config_bytes: Vec<u8>,
    /// Indices into the layer list passed to [`commit`], bottom first.
    pub layers: Vec<usize>,
    pub tags: Vec<Reference>,
    pub repo_digests: Vec<String>,
}

/// Check an image's config against its layers before anything is committed.
pub fn verify(img: &PendingImage, layers: &[PendingLayer]) -> Result<ImageConfig> {
    let config = ImageConfig::parse(&img.config_bytes)?;
    if config.rootfs.diff_ids.len() != img.layers.len() {
        return Err(Error::Archive(format!(
            "invalid image: config lists {} layers, manifest has {}",
            config.rootfs.diff_ids.len(),
            img.layers.len()
        )));
    }
    for (i, (want, &li)) in config.rootfs.diff_ids.iter().zip(&img.layers).enumerate() {
        let got = &layers[li].diff_id;
        if want != got {
            return Err(Error::Archive(format!(
                "invalid diffID for layer {i}: expected {want}, got {got}"
            )));
        }
    }
    Ok(config)
}

/// The outcome of committing one image.
#[derive(Debug)]
pub struct Committed {
    pub id: Digest,
    /// Tags set, each with the image it was taken from, if any.
    pub tags: Vec<(Reference, Option<Digest>)>,
}

/// Move verified images into the store: blobs, snapshots, records, refs,
/// in that order. The caller holds the GC guard (shared) throughout.
pub fn commit(
    store: &ImageStore,
    scratch: &Scratch,
    layers: Vec<PendingLayer>,
    images: Vec<PendingImage>,
) -> Result<Vec<Committed>> {
    let layout = store.layout().clone();
    let mut layer_blobs = Vec::with_capacity(layers.len());
    let mut snapshots: Vec<Option<(PathBuf, UnpackStats)>> = Vec::with_capacity(layers.len());
    for l in layers {
        snapshots.push(Some((l.snapshot, l.stats)));
        let digest = l.blob.commit(&layout, None)?;
        layer_blobs.push((digest, l.media_type, l.diff_id, l.tar_size));
    }
    let mut out = Vec::new();
    for img in images {
        let id = berth_store::blobs::put_bytes(&layout, &img.config_bytes)?;
        let diff_ids: Vec<Digest> = img
            .layers
            .iter()
            .map(|&i| layer_blobs[i].2.clone())
            .collect();
        let chain = Digest::chain_ids(&diff_ids);
        for (pos, &li) in img.layers.iter().enumerate() {
            let c = &chain[pos];
            if layout.snapshot(c).exists() {
                continue;
            }
            let (dir, stats) = match snapshots[li].take() {
                Some(s) => s,
                None => unpack_stored(&layout, scratch, &layer_blobs[li].0)?,
            };
            place_snapshot(&layout, &chain, pos, &diff_ids[pos], &dir, stats.size)?;
        }
        let record = ImageRecord {
            id: id.clone(),
            layers: img
                .layers
                .iter()
                .map(|&i| LayerRecord {
                    blob: layer_blobs[i].0.clone(),
                    media_type: layer_blobs[i].1.clone(),
                    diff_id: layer_blobs[i].2.clone(),
                    tar_size: layer_blobs[i].3,
                })
                .collect(),
            repo_digests: img.repo_digests.clone(),
            manifests: Default::default(),
            blob_sources: Default::default(),
            parent: None,
            last_tag_time: None,
        };
        let _lock = store.lock()?;
        match store.record(&id)? {
            Some(mut existing) => {
                for d in img.repo_digests {
                    if !existing.repo_digests.contains(&d) {
                        existing.repo_digests.push(d);
                    }
                }
                store.put_record(&existing)?;
            }
            None => store.put_record(&record)?,
        }
        let mut tags = Vec::new();
        for t in img.tags {
            let old = store.set_ref(&t, &id)?;
            tags.push((t, old));
        }
        out.push(Committed { id, tags });
    }
    Ok(out)
}

/// Rename a finished directory into place; if another process placed the
/// same content first, ours is dropped.
/// Give a layer unpacked in scratch its metadata and move it into place
/// as the snapshot at `pos` of `chain` (pull and load alike).
pub(crate) fn place_snapshot(
    layout: &Layout,
    chain: &[Digest],
    pos: usize,
    diff_id: &Digest,
    dir: &Path,
    size: u64,
) -> Result<()> {
    let meta = SnapshotMeta {
        chain_id: chain[pos].clone(),
        diff_id: diff_id.clone(),
        parent: pos.checked_sub(1).map(|p| chain[p].clone()),
        size,
    };
    berth_store::atomic_write_json(&dir.join("meta.json"), &meta)?;
    place_dir(dir, &layout.snapshot(&chain[pos]))
}

pub(crate) fn place_dir(src: &Path, dest: &Path) -> Result<()> {
    match std::fs::rename(src, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.exists() => Ok(berth_store::remove_tree(src)?),
        Err(e) => Err(Error::io("rename", dest.display(), e)),
    }
}
