/// Error categories, mapped once at each edge (CLI exit codes, HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    InvalidArgument,
    /// Refused by rule, whatever the state (a pre-defined network).
    Forbidden,
    Internal,
}

/// An engine error: a kind plus the one-line message Docker would print
/// (without the CLI's "Error response from daemon: " prefix).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, m)
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, m)
    }
    pub fn from_store(e: berth_store::Error) -> Self {
        Self::new(ErrorKind::Internal, e.to_string())
    }
}

impl From<berth_image::Error> for Error {
    fn from(e: berth_image::Error) -> Self {
        use berth_image::Error as E;
        let kind = match &e {
            E::NoSuchImage(_) => ErrorKind::NotFound,
            E::Conflict(_) => ErrorKind::Conflict,
            E::InvalidReference(_)
            | E::InvalidArgument(_)
            | E::Breakout(_)
            | E::Layer(_)
            | E::Archive(_) => ErrorKind::InvalidArgument,
            E::Store(berth_store::Error::DigestMismatch { .. }) => ErrorKind::InvalidArgument,
            E::Store(_) | E::Io { .. } => ErrorKind::Internal,
        };
        // One line, always: some parsers put context on following lines.
        let msg = e
            .to_string()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        Error::new(kind, msg)
    }
}

impl From<berth_store::Error> for Error {
    fn from(e: berth_store::Error) -> Self {
        Error::from_store(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
