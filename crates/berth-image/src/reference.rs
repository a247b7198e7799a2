//! Image references parsed and normalised as Docker's
//! `distribution/reference` does: `busybox` is `docker.io/library/busybox:latest`.

use std::fmt;

use crate::{Error, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME: usize = 255;

/// A normalised name with an optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host, with port if any.
    pub domain: String,
    /// Repository path within the registry (`library/busybox`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    if d.starts_with('[') {
        // IPv6 literal, optionally with a port.
        return d.contains(']');
    }
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && (alg != "sha256"
                    || (hex.len() == 64 && hex.bytes().all(|b| !b.is_ascii_uppercase())))
        }
        None => false,
    }
}

fn invalid() -> Error {
    Error::InvalidReference("invalid reference format".into())
}

/// Is `s` a full 64-digit hex image ID (with or without `sha256:`)?
pub fn is_full_id(s: &str) -> bool {
    let h = s.strip_prefix("sha256:").unwrap_or(s);
    h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Reference {
    /// Parse a user-typed reference (`ParseNormalizedNamed`).
    pub fn parse(s: &str) -> Result<Reference> {
        if s.is_empty() {
            return Err(invalid());
        }
        if is_full_id(s) && !s.starts_with("sha256:") {
            return Err(Error::InvalidReference(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(invalid());
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is the part after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(invalid());
            }
        }
        let (domain, path) = split_domain(name);
        if !valid_domain(&domain) {
            return Err(invalid());
        }
        if path.is_empty() {
            return Err(invalid());
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(Error::InvalidReference(format!(
                "invalid reference format: repository name ({path}) must be lowercase"
            )));
        }
        if !path.split('/').all(valid_component) {
            return Err(invalid());
        }
        if domain.len() + 1 + path.len() > MAX_NAME {
            return Err(Error::InvalidReference(
                "invalid reference format: repository name must not be more than 255 characters"
                    .into(),
            ));
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// With `:latest` added when neither tag nor digest was given (`TagNameOnly`).
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// Fully qualified name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short name Docker prints: no `docker.io/`, no `library/`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }

    /// `busybox:latest`, `localhost:5000/x@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The canonical key used in the ref index.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn split_domain(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        Some(_) => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        None => (DEFAULT_DOMAIN.to_string(), format!("library/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(p("busybox").to_string(), "docker.io/library/busybox");
        assert_eq!(p("busybox").with_default_tag().familiar(), "busybox:latest");
        assert_eq!(p("user/app:1.0").to_string(), "docker.io/user/app:1.0");
        assert_eq!(p("localhost:5000/app").familiar(), "localhost:5000/app");
        assert_eq!(p("docker.io/library/busybox:1").familiar(), "busybox:1");
        assert_eq!(p("quay.io/a/b:c").familiar(), "quay.io/a/b:c");
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(p(&d).familiar(), d);
    }

    #[test]
    fn rejects_what_docker_rejects() {
        let e = Reference::parse("Foo").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(
            Reference::parse("foo:bad:tag").unwrap_err().to_string(),
            "invalid reference format"
        );
        assert!(Reference::parse("foo:").is_err());
        assert!(Reference::parse("-foo").is_err());
        assert!(Reference::parse("a//b").is_err());
        assert!(Reference::parse(&"a".repeat(64)).is_err());
        assert!(Reference::parse(&format!("x:{}", "t".repeat(129))).is_err());
        assert!(Reference::parse("foo@sha256:abc").is_err());
    }
}
