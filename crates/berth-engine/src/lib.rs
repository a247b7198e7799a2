//! The engine: the single API that the `berth` CLI (and later the Engine API
//! server) call. It opens the state root, owns locking and recovery, and
//! returns data in Docker's shapes ([`types`]); it knows nothing of clap or
//! HTTP. Every error carries a [`ErrorKind`] that the edges map once to
//! exit codes or HTTP statuses.

pub mod builds;
pub mod containers;
pub mod daemon_config;
mod error;
pub mod images;
pub mod networks;
pub mod prune;
pub mod registry;
pub mod system;
pub mod types;
pub mod volumes;

use std::path::PathBuf;

use berth_image::store::ImageStore;
use berth_store::{Layout, Scratch};

pub use error::{Error, ErrorKind, Result};

/// Where state lives. Defaults follow Docker's split between a persistent
/// root and an ephemeral run directory.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub root: PathBuf,
    pub runroot: PathBuf,
}

pub const DEFAULT_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_RUNROOT: &str = "/run/berth";

pub struct Engine {
    layout: Layout,
    images: ImageStore,
}

impl Engine {
    /// Open (creating if needed) the state root, and remove scratch space
    /// left by killed berth processes.
    pub fn open(opts: &EngineOptions) -> Result<Engine> {
        let layout = Layout::new(&opts.root, &opts.runroot);
        layout.init().map_err(Error::from_store)?;
        Scratch::sweep(&layout).map_err(Error::from_store)?;
        let images = ImageStore::new(layout.clone());
        let engine = Engine { layout, images };
        engine.sweep_build_steps();
        Ok(engine)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn image_store(&self) -> &ImageStore {
        &self.images
    }
}
