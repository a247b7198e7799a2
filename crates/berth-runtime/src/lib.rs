//! Running containers: the process a container runs (`process`), its OCI
//! spec (`spec`), its root filesystem (`rootfs`) and the driver that
//! creates it under its monitor (`driver`).

pub mod driver;
pub mod process;
pub mod rootfs;
pub mod spec;
