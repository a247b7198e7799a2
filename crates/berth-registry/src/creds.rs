//! Credentials as the docker CLI keeps them: `config.json` in `$DOCKER_CONFIG`
//! (default `~/.docker`), with `auths` entries (base64 `user:password`), or a
//! `docker-credential-<name>` helper named by `credsStore` / `credHelpers`.
//! Sharing the file means existing `docker login`s and helpers work as they are.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// The user name that marks a credential's secret as an identity token
/// (an OAuth2 refresh token), as the docker CLI and credential helpers
/// spell it.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({:?}, <secret>)", self.username)
    }
}

/// Where a login was stored, for the CLI's warning about plain files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    File(PathBuf),
    Helper(String),
}

/// The directory of `config.json`.
pub fn config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker")
}

pub fn config_file() -> PathBuf {
    config_dir().join("config.json")
}

/// The key Docker files a registry's credentials under: Docker Hub's is
/// its historical index URL, any other registry's its `host[:port]`.
pub fn server_key(domain: &str) -> String {
    if domain == "docker.io" || domain == "index.docker.io" || domain == "registry-1.docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        domain.to_string()
    }
}

/// `https://host/v1/` and `host` name the same registry (Docker's
/// `ConvertToHostname`).
fn hostname_of(key: &str) -> &str {
    let k = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn read_config(path: &Path) -> Result<Map<String, Value>> {
    match std::fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(b) => match serde_json::from_slice::<Value>(&b) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) | Err(_) => Err(Error::Other(format!(
                "loading config file {}: invalid JSON",
                path.display()
            ))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(Error::io("read", path.display(), e)),
    }
}

/// Write `config.json` as the docker CLI does (tab indents, mode 0600),
/// through a temporary file and a rename so a reader never sees half of it.
fn write_config(path: &Path, cfg: &Map<String, Value>) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir.display(), e))?;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(cfg, &mut ser)
        .map_err(|e| Error::Other(format!("encoding {}: {e}", path.display())))?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io("create", tmp.display(), e))?;
    f.write_all(&buf)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", tmp.display(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", path.display(), e))
}

fn helper_for(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    let host = hostname_of(key);
    if let Some(h) = cfg.get("credHelpers").and_then(Value::as_object) {
        for (k, v) in h {
            if hostname_of(k) == host {
                return v.as_str().map(str::to_string);
            }
        }
    }
    cfg.get("credsStore")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn run_helper(helper: &str, action: &str, input: &str) -> Result<(bool, String)> {
    let prog = format!("docker-credential-{helper}");
    let mut child = Command::new(&prog)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Other(format!(
                "error getting credentials - err: exec: \"{prog}\": {e}"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| Error::io("write to", &prog, e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("wait for", &prog, e))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((out.status.success(), text))
}

/// The credentials stored for a registry domain, if any.
pub fn get(domain: &str) -> Result<Option<Credential>> {
    let path = config_file();
    let cfg = read_config(&path)?;
    let key = server_key(domain);
    if let Some(helper) = helper_for(&cfg, &key) {
        let (ok, text) = run_helper(&helper, "get", &key)?;
        if !ok {
            if text.contains("credentials not found") {
                return Ok(None);
            }
            return Err(Error::Other(format!(
                "error getting credentials - err: exit status 1, out: `{text}`"
            )));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            Error::Other(format!(
                "error getting credentials - err: {e}, out: `{text}`"
            ))
        })?;
        let username = v.get("Username").and_then(Value::as_str).unwrap_or("");
        let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("");
        if secret.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Credential {
            username: username.to_string(),
            secret: secret.to_string(),
        }));
    }
    let Some(auths) = cfg.get("auths").and_then(Value::as_object) else {
        return Ok(None);
    };
    let entry = auths.get(&key).or_else(|| {
        auths
            .iter()
            .find(|(k, _)| hostname_of(k) == hostname_of(&key))
            .map(|(_, v)| v)
    });
    let Some(entry) = entry else {
        return Ok(None);
    };
    // What `az acr login` and the like store: an identity token, which
    // takes the place of the password.
    if let Some(t) = entry
        .get("identitytoken")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return Ok(Some(Credential {
            username: IDENTITY_TOKEN_USER.to_string(),
            secret: t.to_string(),
        }));
    }
    if let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| Error::Other(format!("invalid auth configuration file: {e}")))?;
        let s = String::from_utf8_lossy(&raw);
        let (u, p) = s
            .split_once(':')
            .ok_or_else(|| Error::Other("invalid auth configuration file".into()))?;
        return Ok(Some(Credential {
            username: u.to_string(),
            secret: p.trim_end_matches('\0').to_string(),
        }));
    }
    let u = entry.get("username").and_then(Value::as_str);
    let p = entry.get("password").and_then(Value::as_str);
    Ok(match (u, p) {
        (Some(u), Some(p)) => Some(Credential {
            username: u.to_string(),
            secret: p.to_string(),
        }),
        _ => None,
    })
}

/// Store credentials after a successful login.
pub fn store(domain: &str, cred: &Credential) -> Result<Stored> {
    let path = config_file();
    let mut cfg = read_config(&path)?;
    let key = server_key(domain);
    if let Some(helper) = helper_for(&cfg, &key) {
        let input = serde_json::json!({
            "ServerURL": key,
            "Username": cred.username,
            "Secret": cred.secret,
        })
        .to_string();
        let (ok, text) = run_helper(&helper, "store", &input)?;
        if !ok {
            return Err(Error::Other(format!(
                "error storing credentials - err: exit status 1, out: `{text}`"
            )));
        }
        // The file keeps an empty entry, as the docker CLI leaves one.
        let auths = cfg
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(a) = auths {
            a.insert(key, Value::Object(Map::new()));
        }
        write_config(&path, &cfg)?;
        return Ok(Stored::Helper(helper));
    }
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", cred.username, cred.secret));
    let auths = cfg
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Value::Object(a) = auths {
        let mut e = Map::new();
        e.insert("auth".into(), Value::String(encoded));
        a.insert(key, Value::Object(e));
    }
    write_config(&path, &cfg)?;
    Ok(Stored::File(path))
}

/// Forget a registry's credentials. Returns whether any were stored.
pub fn erase(domain: &str) -> Result<bool> {
    let path = config_file();
    let mut cfg = read_config(&path)?;
    let key = server_key(domain);
    let mut found = false;
    if let Some(helper) = helper_for(&cfg, &key) {
        let (ok, _) = run_helper(&helper, "erase", &key)?;
        found |= ok;
    }
    if let Some(Value::Object(a)) = cfg.get_mut("auths") {
        let keys: Vec<String> = a
            .keys()
            .filter(|k| hostname_of(k) == hostname_of(&key))
            .cloned()
            .collect();
        for k in keys {
            a.remove(&k);
            found = true;
        }
    }
    if found {
        write_config(&path, &cfg)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_name_hosts() {
        assert_eq!(server_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            hostname_of("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(hostname_of("localhost:5000"), "localhost:5000");
    }
}
