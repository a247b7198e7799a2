//! Where a build's result goes: an image in the store (tagged), or the
//! final filesystem as a directory (`--output type=local`) or a tar
//! stream (`--output type=tar`).

use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use berth_image::layer_writer::{All, TarWriter};
use berth_image::reference::Reference;
use berth_image::store::{ImageRecord, ImageStore};
use berth_store::{Digest, Scratch};

use crate::image::ImageState;
use crate::sandbox::StepFs;
use crate::BuildError;

/// `--output`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The default: an image in the store.
    Image,
    Local(PathBuf),
    /// A tar file, or `-` for stdout.
    Tar(String),
}

impl Output {
    /// docker's `--output` grammar: `type=local,dest=path`,
    /// `type=tar,dest=file`, or a bare path (local), `-` (tar to stdout).
    pub fn parse(s: &str) -> Result<Output, String> {
        if s == "-" {
            return Ok(Output::Tar("-".into()));
        }
        if !s.contains('=') {
            return Ok(Output::Local(PathBuf::from(s)));
        }
        let mut kind = None;
        let mut dest = None;
        for part in s.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("invalid value {part}"))?;
            match k.trim().to_lowercase().as_str() {
                "type" => kind = Some(v.to_string()),
                "dest" => dest = Some(v.to_string()),
                _ => {}
            }
        }
        match kind.as_deref() {
            Some("local") => Ok(Output::Local(PathBuf::from(
                dest.ok_or("dest is required for local output")?,
            ))),
            Some("tar") => Ok(Output::Tar(dest.unwrap_or_else(|| "-".into()))),
            Some("image") | Some("docker") => Ok(Output::Image),
            Some(other) => Err(format!("output type {other:?} is not supported")),
            None => Err("type is required for output".into()),
        }
    }
}

/// Store the image: config blob, record, then tags (in that order, so a
/// crash never leaves a tag naming a missing image). Returns the image ID.
pub fn commit_image(
    store: &ImageStore,
    image: &ImageState,
    tags: &[Reference],
) -> Result<Digest, BuildError> {
    let bytes = image.to_config_bytes();
    let id = berth_store::blobs::put_bytes(store.layout(), &bytes)
        .map_err(|e| BuildError::Other(e.to_string()))?;
    let record = ImageRecord {
        id: id.clone(),
        layers: image.layers.clone(),
        repo_digests: Vec::new(),
        manifests: Default::default(),
        blob_sources: Default::default(),
        parent: None,
        last_tag_time: None,
    };
    let _lock = store.lock().map_err(BuildError::image)?;
    store.put_record(&record).map_err(BuildError::image)?;
    for t in tags {
        store.set_ref(t, &id).map_err(BuildError::image)?;
    }
    Ok(id)
}

/// Write the image's filesystem (all layers merged) to `out`.
pub fn export_rootfs(
    store: &ImageStore,
    scratch: &Scratch,
    image: &ImageState,
    out: &Output,
) -> Result<(), BuildError> {
    let diff_ids: Vec<Digest> = image.layers.iter().map(|l| l.diff_id.clone()).collect();
    let lowers: Vec<PathBuf> = Digest::chain_ids(&diff_ids)
        .iter()
        .map(|c| store.layout().snapshot_fs(c))
        .collect();
    let fs = StepFs::mount(scratch.path().join("export"), &lowers)
        .map_err(|e| BuildError::Other(format!("mount: {e}")))?;
    let io = |e: std::io::Error| BuildError::Other(format!("export: {e}"));
    match out {
        Output::Image => Ok(()),
        Output::Tar(dest) => {
            let w: Box<dyn Write> = if dest == "-" {
                Box::new(std::io::stdout().lock())
            } else {
                Box::new(std::fs::File::create(dest).map_err(io)?)
            };
            write_tree(&fs.rootfs, w).map_err(io)?;
            Ok(())
        }
        Output::Local(dir) => {
            std::fs::create_dir_all(dir).map_err(io)?;
            let (r, w) = std::os::unix::net::UnixStream::pair().map_err(io)?;
            let root = fs.rootfs.clone();
            let writer = std::thread::spawn(move || write_tree(&root, w));
            let res = berth_image::unpack::unpack_layer(r, dir);
            let wr = writer
                .join()
                .map_err(|_| BuildError::Other("export thread panicked".into()))?;
            wr.map_err(io)?;
            res.map_err(BuildError::image)?;
            Ok(())
        }
    }
}

fn write_tree<W: Write>(root: &Path, w: W) -> std::io::Result<()> {
    let dir = std::fs::File::open(root)?;
    let mut t = TarWriter::new(std::io::BufWriter::new(w));
    t.append_contents(dir.as_fd(), b"", b"/", &mut All)?;
    let mut bw = t.finish()?;
    bw.flush()
}
