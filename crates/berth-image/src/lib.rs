//! Images: what they are on disk and how they get in and out.
//!
//! - [`reference`]: Docker's name grammar and normalisation.
//! - [`config`]: the image config JSON, in Docker's field order.
//! - [`unpack`]: secure layer extraction into overlayfs-ready snapshots.
//! - [`ingest`]: the write path shared by import and load (scratch, verify,
//!   commit in crash-safe order).
//! - [`store`]: image records, the ref index, snapshots, garbage collection.
//! - [`archive`]: `docker save` / OCI layout archives; [`import`]: rootfs tarballs.
//! - [`layer_writer`]: trees (upper dirs, container roots) as tar streams;
//!   [`commit`]: a container layer on top of its image.
//! - [`build_cache`]: build step results and layers made from directories.
//!
//! This crate knows nothing about containers or the CLI.

pub mod archive;
pub mod build_cache;
pub mod commit;
pub mod compress;
pub mod config;
pub mod distribution;
mod error;
pub mod gzip;
pub mod import;
pub mod ingest;
pub mod layer_writer;
pub mod reference;
pub mod store;
pub mod unpack;

pub use error::{Error, Result};

/// The host architecture in OCI/Go terms.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}
