//! The monitor that watches one container, like containerd-shim or conmon
//! but a few hundred kilobytes: it is the container's parent (a child
//! subreaper), copies its output into the json-file log and to attached
//! clients, feeds its stdin, records its exit status, and then hands
//! cleanup to `berth` (or to an attached `berth run` that owns it).
#![allow(unsafe_code)] // a small libc event loop: poll, signalfd, waitpid, exec

mod dns;
mod monitor;
pub mod proto;
mod proxy;

pub use monitor::main;
