//! Containers as OCI runtime bundles.
//!
//! - [`process`]: what runs in a container (args, env, user, groups, cwd),
//!   derived from the image config and `run` options exactly as Docker
//!   derives it.
//!
//! The spec generator and the runtime driver (issue 4) build on this.

pub mod process;
