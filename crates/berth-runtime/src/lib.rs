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

/// A runc container for tests, deleted with its state even when the test fails.
#[cfg(test)]
mod test_runc {
    use std::process::Command;

    pub struct Runc {
        pub state: tempfile::TempDir,
        pub id: String,
    }

    impl Runc {
        pub fn cmd(&self) -> Command {
            let mut c = Command::new("runc");
            c.arg("--root").arg(self.state.path());
            c
        }
    }

    impl Drop for Runc {
        fn drop(&mut self) {
            let _ = self.cmd().args(["delete", "--force", &self.id]).output();
        }
    }
}
