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
    if let Some(rest) = d.strip_prefix('[') {
        // IPv6 literal (hex groups only, no zone or embedded IPv4), optional port.
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return port_ok
            && addr.contains(':')
            && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
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
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    // Docker Hub's legacy host is the same registry.
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (domain, path)
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
        assert_eq!(
            p("docker.io/busybox").to_string(),
            "docker.io/library/busybox"
        );
        assert_eq!(p("index.docker.io/busybox:2").familiar(), "busybox:2");
        assert_eq!(
            p("index.docker.io/user/app").to_string(),
            "docker.io/user/app"
        );
        assert_eq!(p("127.0.0.1:5000/a/b:c").familiar(), "127.0.0.1:5000/a/b:c");
        assert_eq!(p("[::1]:5000/a").to_string(), "[::1]:5000/a");
        assert_eq!(p("Foo/bar").to_string(), "Foo/bar");
        assert_eq!(p("quay.io/a/b:c").familiar(), "quay.io/a/b:c");
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(p(&d).familiar(), d);
    }

    /// Inputs from distribution/reference's normalisation tests.
    #[test]
    fn upstream_name_cases() {
        let hex = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
        let docker_io_hex = format!("docker.io/{hex}");
        let valid = [
            "docker/docker",
            "library/debian",
            "debian",
            "docker.io/docker/docker",
            "docker.io/library/debian",
            "docker.io/debian",
            "index.docker.io/docker/docker",
            "index.docker.io/library/debian",
            "index.docker.io/debian",
            "127.0.0.1:5000/docker/docker",
            "127.0.0.1:5000/library/debian",
            "127.0.0.1:5000/debian",
            "192.168.0.1",
            "192.168.0.1:80",
            "192.168.0.1:8/debian",
            "192.168.0.2:25000/debian",
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            "[fc00::1]:5000/docker",
            "[fc00::1]:5000/docker/docker",
            "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
            &docker_io_hex,
            "Docker/docker",
            "DOCKER/docker",
            "docker-rules/docker",
            "docker---rules/docker",
            "doc/docker",
            "d/docker",
            "jess/t",
            "dock__er/docker",
            "test_com/foo",
            "xn--n3h.com:18080/foo",
        ];
        for v in valid {
            assert!(Reference::parse(v).is_ok(), "{v} should be valid");
        }
        let long_ns = format!(
            "{}/docker",
            "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4)
        );
        let invalid = [
            "https://github.com/docker/docker",
            "docker/Docker",
            "-docker",
            "-docker/docker",
            "-docker.io/docker/docker",
            "docker///docker",
            "docker.io/docker/Docker",
            "docker.io/docker///docker",
            "[fc00::1]",
            "[fc00::1]:5000",
            "fc00::1:5000/debian",
            "[fe80::1%eth0]:5000/debian",
            "[2001:db8:3:4::192.0.2.33]:5000/debian",
            hex,
            "docker-/docker",
            "-docker-/docker",
            "____/____",
            "_docker/_docker",
            "dock..er/docker",
            "dock_.er/docker",
            "dock-.er/docker",
            "docker/",
            &long_ns,
        ];
        for v in invalid {
            assert!(Reference::parse(v).is_err(), "{v} should be invalid");
        }
        for (input, familiar, full) in [
            ("fooo/bar", "fooo/bar", "docker.io/fooo/bar"),
            ("index.docker.io/fooo/bar", "fooo/bar", "docker.io/fooo/bar"),
            ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu"),
            (
                "127.0.0.1:8000/privatebase",
                "127.0.0.1:8000/privatebase",
                "127.0.0.1:8000/privatebase",
            ),
            (
                "example.com:8000/private/moonbase",
                "example.com:8000/private/moonbase",
                "example.com:8000/private/moonbase",
            ),
            ("docker.io/foo", "foo", "docker.io/library/foo"),
            (
                "library/foo/bar",
                "library/foo/bar",
                "docker.io/library/foo/bar",
            ),
            ("Foo/bar", "Foo/bar", "Foo/bar"),
            (
                "test-com:8080/foo",
                "test-com:8080/foo",
                "test-com:8080/foo",
            ),
        ] {
            let r = p(input);
            assert_eq!(
                (r.familiar_name().as_str(), r.to_string().as_str()),
                (familiar, full),
                "{input}"
            );
        }
        let d = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
        assert_eq!(p(d).familiar(), d);
        assert_eq!(p(d).to_string(), format!("docker.io/library/{d}"));
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
