//! `commit`: one new layer (a tar stream) on top of an existing image
//! becomes a child image, as Docker's `NewChildImage` builds it.
//!
//! The layer goes through the same write path as `import` (scratch blob
//! and snapshot, hashed while unpacked); then blob, snapshot, config,
//! record and tag are moved into place in that order, so a crash leaves
//! only unreferenced content.

use std::io::Read;
use std::path::Path;

use berth_store::{Digest, LockMode, Scratch};

use crate::config::{go_rfc3339_nano, ContainerConfig, History, ImageConfig};
use crate::import::ENGINE_VERSION;
use crate::ingest;
use crate::reference::Reference;
use crate::store::{Image, ImageRecord, ImageStore, LayerRecord, SnapshotMeta};
use crate::{Error, Result};

/// The diff ID of an empty tar (1024 zero bytes): Docker adds no layer for it.
pub const EMPTY_LAYER_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// What the new image says about where it came from.
#[derive(Debug, Clone, Default)]
pub struct ChildConfig {
    pub author: String,
    pub comment: String,
    /// The new image's `config` (the container's, with `--change`s applied).
    pub config: ContainerConfig,
    /// The container's own config, as `container_config`.
    pub container_config: ContainerConfig,
    pub container_id: String,
    pub os: String,
    pub tag: Option<Reference>,
}

/// Docker's `NewChildImage`: the parent's rootfs and history plus one
/// entry, the parent's platform.
pub fn child_config(parent: &ImageConfig, child: &ChildConfig, diff_id: &Digest) -> ImageConfig {
    let empty = diff_id.as_str() == EMPTY_LAYER_DIFF_ID;
    let now = go_rfc3339_nano(&chrono::Utc::now());
    let mut rootfs = parent.rootfs.clone();
    rootfs.kind = "layers".into();
    if !empty {
        rootfs.diff_ids.push(diff_id.clone());
    }
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let created_by = child
        .container_config
        .cmd
        .clone()
        .unwrap_or_default()
        .join(" ");
    let mut history = parent.history.clone();
    history.push(History {
        created: Some(now.clone()),
        author: nonempty(&child.author),
        created_by: nonempty(&created_by),
        comment: nonempty(&child.comment),
        empty_layer: empty,
    });
    ImageConfig {
        architecture: parent.architecture.clone(),
        author: nonempty(&child.author),
        comment: nonempty(&child.comment),
        config: Some(child.config.clone()),
        container: Some(child.container_id.clone()),
        container_config: Some(child.container_config.clone()),
        created: Some(now),
        docker_version: Some(ENGINE_VERSION.to_string()),
        history,
        os: if child.os.is_empty() {
            parent.os.clone()
        } else {
            child.os.clone()
        },
        os_version: parent.os_version.clone(),
        parent: None,
        rootfs,
        variant: parent.variant.clone(),
    }
}

/// The outcome of a commit.
#[derive(Debug)]
pub struct Committed {
    pub id: Digest,
    /// The image the tag was taken from, if it moved.
    pub moved: Option<Digest>,
}

/// Store `layer` (an uncompressed tar stream) as a child of `parent`.
pub fn commit<R: Read>(
    store: &ImageStore,
    parent: &Image,
    layer: R,
    child: &ChildConfig,
) -> Result<Committed> {
    let layout = store.layout().clone();
    let _gc = store.gc_guard(LockMode::Shared)?;
    let scratch = Scratch::new(&layout, "commit")?;
    let pending = ingest::ingest_layer(&scratch, layer)?;
    let cfg = child_config(&parent.config, child, &pending.diff_id);
    let config_bytes = serde_json::to_vec(&cfg).map_err(|e| Error::Archive(e.to_string()))?;

    let mut layers = parent.record.layers.clone();
    if cfg.rootfs.diff_ids.len() > parent.config.rootfs.diff_ids.len() {
        let chain = Digest::chain_ids(&cfg.rootfs.diff_ids);
        let top = chain
            .last()
            .cloned()
            .ok_or_else(|| Error::Archive("commit: no layers".into()))?;
        let (tar_size, diff_id, stats, snap) = (
            pending.tar_size,
            pending.diff_id.clone(),
            pending.stats,
            pending.snapshot.clone(),
        );
        let media_type = pending.media_type.clone();
        let blob = pending.blob.commit(&layout, None)?;
        if !layout.snapshot(&top).exists() {
            let meta = SnapshotMeta {
                chain_id: top.clone(),
                diff_id: diff_id.clone(),
                parent: chain.len().checked_sub(2).map(|i| chain[i].clone()),
                size: stats.size,
            };
            berth_store::atomic_write_json(&snap.join("meta.json"), &meta)?;
            place_dir(&snap, &layout.snapshot(&top))?;
        }
        layers.push(LayerRecord {
            blob,
            media_type,
            diff_id,
            tar_size,
        });
    }
    let id = berth_store::blobs::put_bytes(&layout, &config_bytes)?;
    let record = ImageRecord {
        id: id.clone(),
        layers,
        repo_digests: Vec::new(),
        manifests: Default::default(),
        blob_sources: Default::default(),
        parent: Some(parent.record.id.clone()),
        last_tag_time: None,
    };
    let _lock = store.lock()?;
    store.put_record(&record)?;
    let moved = match &child.tag {
        Some(t) => store.set_ref(t, &id)?,
        None => None,
    };
    Ok(Committed { id, moved })
}

/// Rename a finished snapshot into place; if another process placed the
/// same content first, ours is dropped.
fn place_dir(src: &Path, dest: &Path) -> Result<()> {
    match std::fs::rename(src, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.exists() => Ok(berth_store::remove_tree(src)?),
        Err(e) => Err(Error::io("rename", dest.display(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_config_is_dockers_new_child_image() {
        let parent: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","history":[{"created":"2024-01-01T00:00:00Z","comment":"Imported from -"}],"rootfs":{"type":"layers","diff_ids":["sha256:56029ed3e47edce9d4b3c66be9de3d7ac272f1ee11afc22a1d33b4c81b962e50"]}}"#,
        )
        .unwrap();
        let child = ChildConfig {
            author: "Jane <j@x>".into(),
            comment: "my msg".into(),
            container_config: ContainerConfig {
                cmd: Some(vec!["sh".into(), "-c".into(), "echo x".into()]),
                ..Default::default()
            },
            container_id: "abc".into(),
            os: "linux".into(),
            ..Default::default()
        };
        let d = Digest::of(b"layer");
        let c = child_config(&parent, &child, &d);
        assert_eq!(c.rootfs.diff_ids.len(), 2);
        let h = c.history.last().unwrap();
        assert_eq!(h.created_by.as_deref(), Some("sh -c echo x"));
        assert_eq!(h.author.as_deref(), Some("Jane <j@x>"));
        assert!(!h.empty_layer);
        assert_eq!(c.created, h.created);
        let empty = Digest::parse(EMPTY_LAYER_DIFF_ID).unwrap();
        let c = child_config(&parent, &ChildConfig::default(), &empty);
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        let h = c.history.last().unwrap();
        assert!(h.empty_layer && h.created_by.is_none() && h.comment.is_none());
        let j = serde_json::to_value(&c).unwrap();
        assert!(
            j.get("author").is_none() && j.get("comment").is_none(),
            "{j}"
        );
        assert_eq!(
            serde_json::to_string(h).unwrap(),
            format!(
                r#"{{"created":"{}","empty_layer":true}}"#,
                c.created.unwrap()
            )
        );
    }
}
