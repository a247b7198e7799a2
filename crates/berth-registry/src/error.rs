//! Registry errors, worded as dockerd words them (the CLI adds
//! "Error response from daemon: ").

/// One entry of a registry's error envelope (`{"errors": [...]}`).
#[derive(Debug, Clone)]
pub struct RegistryErrorItem {
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry answered with an error envelope or an unexpected status.
    #[error("{}", registry_text(.status, .errors))]
    Registry {
        status: u16,
        errors: Vec<RegistryErrorItem>,
    },
    /// A request could not be made or its body not read; Go's `url.Error` shape.
    #[error("{method} \"{url}\": {message}")]
    Transport {
        method: &'static str,
        url: String,
        message: String,
    },
    /// The registry wants Basic auth and no credentials are stored.
    #[error("{method} \"{url}\": no basic auth credentials")]
    NoBasicAuth { method: &'static str, url: String },
    /// `login` against a Basic-auth registry with wrong credentials.
    #[error("login attempt to {url} failed with status: {status}")]
    LoginFailed { url: String, status: String },
    /// Content that does not hash to the digest it was asked for by.
    #[error("digest mismatch for {digest}: content is {actual}")]
    DigestMismatch { digest: String, actual: String },
    #[error("{0}")]
    Other(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl std::fmt::Display,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            op,
            path: path.to_string(),
            source,
        }
    }

    /// Is this the registry saying that a manifest, tag or repository is unknown?
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Registry { status, errors } => {
                *status == 404
                    || errors
                        .iter()
                        .any(|e| matches!(e.code.as_str(), "MANIFEST_UNKNOWN" | "NAME_UNKNOWN"))
            }
            _ => false,
        }
    }
}

/// distribution's `errcode.Error` text: the code in lower case words, then
/// the message (`manifest unknown: manifest unknown`).
fn registry_text(status: &u16, errors: &[RegistryErrorItem]) -> String {
    if errors.is_empty() {
        return format!(
            "received unexpected HTTP status: {} {}",
            status,
            reason(*status)
        );
    }
    let one = |e: &RegistryErrorItem| {
        format!(
            "{}: {}",
            e.code.to_ascii_lowercase().replace('_', " "),
            e.message
        )
    };
    if errors.len() == 1 {
        return one(&errors[0]);
    }
    let mut s = String::from("errors:\n");
    for e in errors {
        s.push_str(&one(e));
        s.push('\n');
    }
    s
}

/// Go's `http.StatusText` for the statuses a registry sends.
pub(crate) fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
