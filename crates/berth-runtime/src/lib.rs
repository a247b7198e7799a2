//! Containers as OCI runtime bundles.
//!
//! - [`process`]: what runs in a container (args, env, user, groups, cwd),
//!   derived from the image config and `run` options exactly as Docker
//!   derives it.
//!
//! - [`spec`]: the OCI runtime spec (`config.json`) with Docker's defaults.
//!
//! The runtime driver and container lifecycle (issue 4) build on these.

pub mod process;
pub mod resources;
pub mod spec;
