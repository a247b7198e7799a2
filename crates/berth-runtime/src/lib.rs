//! Running containers: the process a container runs (`process`), its OCI
//! spec (`spec`) and resource limits (`resources`), its root filesystem
//! (`rootfs`) and the driver that creates it under its monitor (`driver`).

pub mod cgroups;
pub mod driver;
pub mod process;
pub mod resources;
pub mod rootfs;
pub mod signal;
pub mod spec;
