//! The build plan: what the Dockerfile means once every word is expanded,
//! like BuildKit's LLB. Config-only instructions are already applied to
//! each stage's [`ImageState`]; what remains are the operations that make
//! layers (RUN, COPY/ADD, WORKDIR's mkdir), each tied to its history entry.
//! An op serializes to the bytes its cache key hashes.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::image::ImageState;
use crate::progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MountKind {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    /// A file made from `source` (a heredoc script), bound read-only.
    File,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunMount {
    pub kind: MountKind,
    pub target: String,
    /// Path in the context or in `from_stage`'s root (bind), or the secret file.
    pub source: String,
    #[serde(skip)]
    pub from_stage: Option<usize>,
    /// Cache mount or secret id.
    pub id: String,
    pub readonly: bool,
    pub required: bool,
    /// Owner and mode of a new cache dir or of the secret file.
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub mode: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunOp {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub mounts: Vec<RunMount>,
    pub host_network: bool,
}

#[derive(Debug, Clone, Serialize)]
pub enum CopySource {
    Context,
    /// Another stage of this build (its index).
    Stage(usize),
    /// An image by its cache identity and layers (`COPY --from=image`).
    Image {
        key: String,
        #[serde(skip)]
        layers: Vec<berth_image::store::LayerRecord>,
    },
    /// `COPY <<EOF dest`: file name -> content.
    Heredoc(Vec<(String, String)>),
}

#[derive(Debug, Clone, Serialize)]
pub struct CopyOp {
    pub source: CopySource,
    pub sources: Vec<String>,
    pub dest: String,
    pub workdir: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub exclude: Vec<String>,
    pub add: bool,
    pub link: bool,
}

#[derive(Debug, Clone, Serialize)]
pub enum LayerOp {
    Run(RunOp),
    Copy(CopyOp),
    /// WORKDIR: the directory is created (owned by the USER in effect).
    Mkdir {
        path: String,
        user: String,
    },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub op: LayerOp,
    /// As the progress shows it: `[stage 2/5] RUN make`.
    pub display: String,
    pub line: usize,
    /// The history entry this step's layer belongs to.
    pub history_index: usize,
    pub vertex: progress::Id,
}

#[derive(Debug, Clone)]
pub struct StagePlan {
    pub name: Option<String>,
    /// `FROM <another stage>`.
    pub base_stage: Option<usize>,
    /// Identity of the base image for the cache (`image id` or `scratch`).
    pub base_key: String,
    /// The stage's final config and history; layers hold the base's when
    /// the base is an image and are filled in as steps run.
    pub image: ImageState,
    /// How many history entries and layers came from the base (for a
    /// base stage, replaced by that stage's result at run time).
    pub base_history: usize,
    pub steps: Vec<Step>,
    pub from_vertex: Option<progress::Id>,
}

impl StagePlan {
    /// This stage's state on top of the finished base stage's image.
    pub fn rebase(&self, base: &ImageState) -> ImageState {
        let mut img = self.image.clone();
        img.layers = base.layers.clone();
        let mut history = base.history.clone();
        history.extend(self.image.history[self.base_history..].iter().cloned());
        img.history = history;
        img
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub stages: Vec<StagePlan>,
    pub needed: Vec<bool>,
    pub target: usize,
}

/// `path` inside `root`, lexically: `..` cannot climb above the root.
/// (Symlinks are the caller's business.)
pub fn join_in_root(root: &Path, path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    root.join(out)
}
