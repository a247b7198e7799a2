//! The leaf crate that owns berth's state root.
//!
//! Every path under the root is built by [`Layout`]; nothing else joins path
//! strings. Files that other processes may read are written with
//! [`atomic_write`] (temp file + fsync + rename + directory fsync), so a reader
//! or a crash only ever sees the old or the new content. Concurrent `berth`
//! processes coordinate through [`StoreLock`] (flock) and per-operation
//! scratch directories ([`Scratch`]) whose owners can be detected as dead.
//! The content store ([`blobs`]) keeps blobs by sha256 digest, verified on
//! the way in.

pub mod blobs;
mod digest;
mod error;
mod fsutil;
mod layout;
mod lock;
mod scratch;

pub use digest::{Digest, DigestWriter};
pub use error::{go_error_text, Error, Result};
pub use fsutil::{
    atomic_replace, atomic_replace_json, atomic_write, atomic_write_json, fsync_dir, mounts_under,
    read_json, remove_tree, unmount_under,
};
pub use layout::Layout;
pub use lock::{LockMode, StoreLock};
pub use scratch::Scratch;
