use std::collections::BTreeSet;
use std::io::{self, Write};

use berth_store::{blobs, Digest};
use serde_json::json;

use super::*;
use crate::compress::{decompress, Compression, HashReader};
use crate::reference::Reference;
use crate::store::{Image, ImageStore};
use crate::{Error, Result};

/// Write images as one archive that is both a `docker save` archive
/// (manifest.json, repositories) and an OCI image layout (oci-layout,
/// index.json, blobs/), as Docker 25+ writes it. Layers are stored
/// uncompressed, named by diff ID, so `docker load` and `podman load` give
/// the same image IDs.
pub fn save<W: Write>(
    store: &ImageStore,
    images: &[(Image, Vec<Reference>)],
    out: &mut W,
) -> Result<()> {
    let layout = store.layout();
    let mut w = TarOut { out };
    let mut written: BTreeSet<Digest> = BTreeSet::new();
    let mut manifest_json = Vec::new();
    let mut index_manifests = Vec::new();
    let mut repositories = serde_json::Map::new();

    w.dir("blobs/")?;
    w.dir("blobs/sha256/")?;
    for (img, tags) in images {
        let mut layer_paths = Vec::new();
        let mut layer_descs = Vec::new();
        for l in &img.record.layers {
            let path = format!("blobs/sha256/{}", l.diff_id.hex());
            if written.insert(l.diff_id.clone()) {
                let f = blobs::open(layout, &l.blob)?;
                w.header(&path, l.tar_size)?;
                if l.media_type == Compression::None.layer_media_type() {
                    // Stored uncompressed and verified on the way in: copy
                    // as is, which lets the kernel copy file to file.
                    let mut f = f;
                    let n = io::copy(&mut f, w.out).map_err(|e| Error::io("write", &path, e))?;
                    if n != l.tar_size {
                        return Err(Error::Archive(format!(
                            "layer {} changed size on disk",
                            l.blob
                        )));
                    }
                } else {
                    let (_, dec) = decompress(f).map_err(|e| Error::io("read", &l.blob, e))?;
                    let mut hr = HashReader::new(dec);
                    let n = io::copy(&mut hr, w.out).map_err(|e| Error::io("write", &path, e))?;
                    let (d, _) = hr.finish();
                    if d != l.diff_id || n != l.tar_size {
                        return Err(Error::Archive(format!(
                            "layer {} does not match its diff ID {}",
                            l.blob, l.diff_id
                        )));
                    }
                }
                w.pad(l.tar_size)?;
            }
            layer_descs.push(json!({
                "mediaType": Compression::None.layer_media_type(),
                "digest": l.diff_id,
                "size": l.tar_size,
            }));
            layer_paths.push(path);
        }
        let config_path = format!("blobs/sha256/{}", img.record.id.hex());
        if written.insert(img.record.id.clone()) {
            w.file(&config_path, &img.config_bytes)?;
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_OCI_MANIFEST,
            "config": {
                "mediaType": MEDIA_OCI_CONFIG,
                "digest": img.record.id,
                "size": img.config_bytes.len(),
            },
            "layers": layer_descs,
        }))
        .map_err(|e| Error::Archive(e.to_string()))?;
        let mdigest = Digest::of(&manifest);
        if written.insert(mdigest.clone()) {
            w.file(&format!("blobs/sha256/{}", mdigest.hex()), &manifest)?;
        }
        let familiar: Vec<String> = tags.iter().map(Reference::familiar).collect();
        if tags.is_empty() {
            index_manifests.push(json!({
                "mediaType": MEDIA_OCI_MANIFEST, "digest": mdigest, "size": manifest.len(),
            }));
        }
        for t in tags {
            index_manifests.push(json!({
                "mediaType": MEDIA_OCI_MANIFEST, "digest": mdigest, "size": manifest.len(),
                "annotations": {
                    ANNOTATION_IMAGE_NAME: t.to_string(),
                    ANNOTATION_REF_NAME: t.tag.clone().unwrap_or_default(),
                },
            }));
            if let (Some(tag), Some(top)) = (&t.tag, img.record.layers.last()) {
                let repo = repositories
                    .entry(t.familiar_name())
                    .or_insert_with(|| json!({}));
                repo[tag] = json!(top.diff_id.hex());
            }
        }
        manifest_json.push(json!({
            "Config": config_path,
            "RepoTags": if familiar.is_empty() { serde_json::Value::Null } else { json!(familiar) },
            "Layers": layer_paths,
        }));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_INDEX,
        "manifests": index_manifests,
    });
    w.file("index.json", &to_vec(&index)?)?;
    w.file("manifest.json", &to_vec(&manifest_json)?)?;
    w.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    if !repositories.is_empty() {
        w.file("repositories", &to_vec(&repositories)?)?;
    }
    w.finish()
}

fn to_vec<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Archive(e.to_string()))
}

/// A minimal tar writer: headers by the `tar` crate, file data copied
/// straight from the store so large layers need no buffer.
struct TarOut<'a, W: Write> {
    out: &'a mut W,
}

impl<W: Write> TarOut<'_, W> {
    fn header_of(&mut self, path: &str, size: u64, kind: tar::EntryType, mode: u32) -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).map_err(|e| Error::io("write", path, e))?;
        h.set_size(size);
        h.set_mode(mode);
        h.set_entry_type(kind);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        self.out
            .write_all(h.as_bytes())
            .map_err(|e| Error::io("write", path, e))
    }
    fn header(&mut self, path: &str, size: u64) -> Result<()> {
        self.header_of(path, size, tar::EntryType::Regular, 0o644)
    }
    fn dir(&mut self, path: &str) -> Result<()> {
        self.header_of(path, 0, tar::EntryType::Directory, 0o755)
    }
    fn pad(&mut self, size: u64) -> Result<()> {
        let rem = (512 - (size % 512) as usize) % 512;
        self.out
            .write_all(&[0u8; 512][..rem])
            .map_err(|e| Error::io("write", "archive", e))
    }
    fn file(&mut self, path: &str, data: &[u8]) -> Result<()> {
        self.header(path, data.len() as u64)?;
        self.out
            .write_all(data)
            .map_err(|e| Error::io("write", path, e))?;
        self.pad(data.len() as u64)
    }
    fn finish(&mut self) -> Result<()> {
        self.out
            .write_all(&[0u8; 1024])
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::io("write", "archive", e))
    }
}
