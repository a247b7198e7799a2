//! Docker's `json-file` log format, byte for byte.
//!
//! A detached container's monitor feeds its stdout/stderr to [`LogWriter`],
//! which writes `<id>-json.log` exactly as dockerd 20.10 does (line
//! splitting, escaping, timestamps, rotation), so `docker logs` and
//! log shippers that read Docker's files keep working. The `reader` feature
//! (default) adds what `berth logs` needs: [`read`] with tail, since/until
//! and follow, and docker's `-t`/`--since` time formats.
//!
//! The writer uses std only: the monitor stays small and links none of the
//! reader's dependencies (`default-features = false`).

mod clock;
pub mod writer;

#[cfg(feature = "reader")]
mod gotime;
#[cfg(feature = "reader")]
pub mod reader;

#[cfg(feature = "reader")]
pub use gotime::{go_quote, parse_go_duration};

pub use writer::{LogWriter, Rotation};

#[cfg(feature = "reader")]
pub use reader::{format_timestamp, parse_time_arg, read, Entry, ReadOptions, TimeArgError};

/// The container stream a log entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The name in the `stream` field of the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

#[cfg(test)]
mod tests;
