//! One registry host: scheme and TLS decided once, the auth challenge
//! learned from a ping, every request authorised before it is sent (so a
//! streamed upload never needs replaying after a 401).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RANGE,
};
use reqwest::{Method, Response, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::creds::Credential;
use crate::error::{reason, RegistryErrorItem};
use crate::{Error, Result};

/// Manifest media types a pull accepts, most specific first.
pub const ACCEPT_MANIFESTS: &[&str] = &[
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_LIST,
    MEDIA_OCI_MANIFEST,
    MEDIA_OCI_INDEX,
];
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// How to reach registries: which are insecure and where CA files are.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Registries reachable over plain HTTP or with unverified TLS, as
    /// `host[:port]` or a CIDR (dockerd's `insecure-registries`); loopback
    /// addresses are always in it, as in dockerd.
    pub insecure: Vec<String>,
    /// Directories holding `<host[:port]>/*.crt` CA certificates
    /// (`/etc/docker/certs.d` and the like).
    pub certs_dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
enum Challenge {
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

#[derive(Default)]
struct AuthState {
    /// `scheme://host` once the ping decided it.
    base: Option<String>,
    challenge: Option<Challenge>,
    /// Bearer tokens by their scope list.
    tokens: HashMap<String, String>,
}

/// The result of a blob mount attempt.
pub enum Mount {
    Mounted,
    /// The registry did not mount; the upload session it opened instead.
    Upload(String),
}

/// A manifest as fetched: its bytes, media type and digest.
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

/// A client for one registry host, with a synchronous API over a tokio
/// runtime of its own; several threads may call it at once.
pub struct Client {
    rt: Arc<tokio::runtime::Runtime>,
    http: reqwest::Client,
    /// The host requests go to (`registry-1.docker.io` for Docker Hub).
    host: String,
    insecure: bool,
    creds: Option<Credential>,
    state: Mutex<AuthState>,
}

fn go_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "Get",
        Method::HEAD => "Head",
        Method::PUT => "Put",
        Method::POST => "Post",
        Method::PATCH => "Patch",
        Method::DELETE => "Delete",
        _ => "Do",
    }
}

/// reqwest's error text plus its causes, one line; a refused connection
/// in Go's words (`dial tcp 127.0.0.1:5000: connect: connection refused`).
fn transport_text(e: &reqwest::Error) -> String {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                if let Some(u) = e.url() {
                    let host = u.host_str().unwrap_or("");
                    let port = u.port_or_known_default().unwrap_or(0);
                    return format!("dial tcp {host}:{port}: connect: connection refused");
                }
            }
        }
        cur = c.source();
    }
    let mut s = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Is `domain` insecure by default or by configuration?
pub fn is_insecure(domain: &str, configured: &[String]) -> bool {
    let host = host_part(domain);
    let ip: Option<IpAddr> = host.trim_matches(|c| c == '[' || c == ']').parse().ok();
    if host == "localhost" || ip.is_some_and(|i| i.is_loopback()) {
        return true;
    }
    configured.iter().any(|c| {
        if c == domain || c == host {
            return true;
        }
        match (c.split_once('/'), ip) {
            (Some((net, bits)), Some(IpAddr::V4(a))) => {
                let (Ok(n), Ok(b)) = (net.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>())
                else {
                    return false;
                };
                let mask = if b == 0 {
                    0
                } else {
                    u32::MAX << (32 - b.min(32))
                };
                (u32::from(a) & mask) == (u32::from(n) & mask)
            }
            _ => false,
        }
    })
}

fn host_part(domain: &str) -> &str {
    if domain.starts_with('[') {
        return domain.split_once(']').map_or(domain, |(h, _)| h);
    }
    domain.rsplit_once(':').map_or(domain, |(h, _)| h)
}

fn parse_challenge(v: &str) -> Challenge {
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((k, after)) = s.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (&q[..end], q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(k, val.to_string());
        s = next.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Challenge::Bearer {
            realm: params.remove("realm").unwrap_or_default(),
            service: params.remove("service"),
        }
    } else if scheme.eq_ignore_ascii_case("basic") {
        Challenge::Basic
    } else {
        Challenge::None
    }
}

async fn error_from(resp: Response) -> Error {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    let mut errors = Vec::new();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
        if let Some(list) = v.get("errors").and_then(|e| e.as_array()) {
            for e in list {
                errors.push(RegistryErrorItem {
                    code: e
                        .get("code")
                        .and_then(|c| c.as_str())
                        .unwrap_or("UNKNOWN")
                        .to_string(),
                    message: e
                        .get("message")
                        .and_then(|c| c.as_str())
                        .unwrap_or("")
                        .to_string(),
                });
            }
        }
    }
    Error::Registry { status, errors }
}

/// The registry host of a reference domain.
pub fn api_host(domain: &str) -> &str {
    if domain == "docker.io" || domain == "index.docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// What a registry's `certs.d/<host[:port]>/` directories hold, as dockerd
/// reads them: `*.crt` CA certificates, and `*.cert` client certificates,
/// each with the `*.key` of the same name (the first pair is used).
struct CertsDir {
    cas: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
}

fn load_certs(dirs: &[PathBuf], domain: &str) -> Result<CertsDir> {
    let mut out = CertsDir {
        cas: Vec::new(),
        identity: None,
    };
    let read = |f: &Path| std::fs::read(f).map_err(|e| Error::io("read", f.display(), e));
    for d in dirs {
        let dir = d.join(domain);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in &files {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".crt") {
                let certs = reqwest::Certificate::from_pem_bundle(&read(f)?)
                    .map_err(|e| Error::Other(format!("{}: {e}", f.display())))?;
                out.cas.extend(certs);
            } else if let Some(stem) = name.strip_suffix(".cert") {
                let key = dir.join(format!("{stem}.key"));
                if !key.exists() {
                    return Err(Error::Other(format!(
                        "missing key {stem}.key for client certificate {name}. CA certificates must use the extension .crt"
                    )));
                }
                if out.identity.is_none() {
                    let mut pem = read(f)?;
                    pem.push(b'\n');
                    pem.extend(read(&key)?);
                    let id = reqwest::Identity::from_pem(&pem)
                        .map_err(|e| Error::Other(format!("{}: {e}", f.display())))?;
                    out.identity = Some(id);
                }
            } else if let Some(stem) = name.strip_suffix(".key") {
                if !dir.join(format!("{stem}.cert")).exists() {
                    return Err(Error::Other(format!(
                        "missing client certificate {stem}.cert for key {name}"
                    )));
                }
            }
        }
    }
    Ok(out)
}

impl Client {
    /// A client for the registry of a reference's domain (`docker.io`,
    /// `127.0.0.1:5000`), with its stored credentials, if any.
    pub fn new(domain: &str, opts: &Options, creds: Option<Credential>) -> Result<Client> {
        let host = api_host(domain).to_string();
        let certs = load_certs(&opts.certs_dirs, domain)?;
        // A CA given for a registry means its certificate is to be checked,
        // loopback or not (dockerd would skip the check for 127.0.0.0/8).
        let insecure = certs.cas.is_empty() && is_insecure(domain, &opts.insecure);
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(30))
            .danger_accept_invalid_certs(insecure);
        for c in certs.cas {
            b = b.add_root_certificate(c);
        }
        if let Some(id) = certs.identity {
            b = b.identity(id);
        }
        let http = b
            .build()
            .map_err(|e| Error::Other(format!("creating HTTP client: {}", transport_text(&e))))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::io("start", "runtime", e))?;
        Ok(Client {
            rt: Arc::new(rt),
            http,
            host,
            insecure,
            creds,
            state: Mutex::new(AuthState::default()),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    fn state(&self) -> std::sync::MutexGuard<'_, AuthState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `GET /v2/`: decides the scheme (an insecure registry is tried over
    /// HTTPS without verification first, then plain HTTP, as dockerd does)
    /// and learns the auth challenge.
    async fn ping(&self) -> Result<(String, Challenge)> {
        if let (Some(b), Some(c)) = {
            let s = self.state();
            (s.base.clone(), s.challenge.clone())
        } {
            return Ok((b, c));
        }
        let https = format!("https://{}", self.host);
        let mut probe = self.http.get(format!("{https}/v2/"));
        if self.insecure {
            // A plain-HTTP server may never answer a TLS hello.
            probe = probe.timeout(std::time::Duration::from_secs(10));
        }
        let first = probe.send().await;
        let (base, resp) = match first {
            Ok(r) => (https, r),
            Err(_) if self.insecure => {
                let http = format!("http://{}", self.host);
                match self.http.get(format!("{http}/v2/")).send().await {
                    Ok(r) => (http, r),
                    Err(e) => {
                        return Err(Error::Transport {
                            method: "Get",
                            url: format!("{http}/v2/"),
                            message: transport_text(&e),
                        })
                    }
                }
            }
            Err(e) => {
                return Err(Error::Transport {
                    method: "Get",
                    url: format!("{https}/v2/"),
                    message: transport_text(&e),
                })
            }
        };
        let challenge = if resp.status() == StatusCode::UNAUTHORIZED {
            resp.headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(parse_challenge)
                .find(|c| !matches!(c, Challenge::None))
                .unwrap_or(Challenge::None)
        } else {
            Challenge::None
        };
        let mut s = self.state();
        s.base = Some(base.clone());
        s.challenge = Some(challenge.clone());
        Ok((base, challenge))
    }

    fn basic_header(c: &Credential) -> String {
        let raw = format!("{}:{}", c.username, c.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    async fn token(&self, realm: &str, service: Option<&str>, scopes: &[String]) -> Result<String> {
        let key = scopes.join(" ");
        if let Some(t) = self.state().tokens.get(&key) {
            return Ok(t.clone());
        }
        let mut q: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            q.push(("service", s));
        }
        for s in scopes {
            q.push(("scope", s));
        }
        let (method, req) = match &self.creds {
            // An identity token is an OAuth2 refresh token: exchanged for
            // an access token with a POST, as dockerd does.
            Some(c) if c.username == crate::creds::IDENTITY_TOKEN_USER => {
                let scope = scopes.join(" ");
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.secret.as_str()),
                    ("client_id", "docker"),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                if !scope.is_empty() {
                    form.push(("scope", scope.as_str()));
                }
                ("Post", self.http.post(realm).form(&form))
            }
            Some(c) => (
                "Get",
                self.http
                    .get(realm)
                    .query(&q)
                    .header(AUTHORIZATION, Self::basic_header(c)),
            ),
            None => ("Get", self.http.get(realm).query(&q)),
        };
        let resp = req.send().await.map_err(|e| Error::Transport {
            method,
            url: realm.to_string(),
            message: transport_text(&e),
        })?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let v: serde_json::Value = resp.json().await.map_err(|e| Error::Transport {
            method,
            url: realm.to_string(),
            message: transport_text(&e),
        })?;
        let t = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_string();
        self.state().tokens.insert(key, t.clone());
        Ok(t)
    }

    /// Base URL and the Authorization header for a request needing `scopes`.
    async fn authorize(
        &self,
        method: &Method,
        path: &str,
        scopes: &[String],
    ) -> Result<(String, Option<String>)> {
        let (base, challenge) = self.ping().await?;
        let auth = match challenge {
            Challenge::None => None,
            Challenge::Basic => match &self.creds {
                Some(c) => Some(Self::basic_header(c)),
                None => {
                    return Err(Error::NoBasicAuth {
                        method: go_method(method),
                        url: format!("{base}{path}"),
                    })
                }
            },
            Challenge::Bearer { realm, service } => {
                let t = self.token(&realm, service.as_deref(), scopes).await?;
                Some(format!("Bearer {t}"))
            }
        };
        Ok((base, auth))
    }

    /// Send one request to `path` (or an absolute URL), authorised for
    /// `scopes`. Transport failures become Go-style `Get "url": ...` errors.
    /// A `GET` with pull rights that must succeed (the registry's error
    /// otherwise).
    async fn pull_get(&self, repo: &str, path: &str, headers: HeaderMap) -> Result<Response> {
        let resp = self
            .send(Method::GET, path, &Self::pull_scope(repo), headers, None)
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(resp)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        scopes: &[String],
        headers: HeaderMap,
        body: Option<reqwest::Body>,
    ) -> Result<Response> {
        let (base, auth) = self.authorize(&method, path, scopes).await?;
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{base}{path}")
        };
        let mut req = self.http.request(method.clone(), &url).headers(headers);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        req.send().await.map_err(|e| Error::Transport {
            method: go_method(&method),
            url,
            message: transport_text(&e),
        })
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Check credentials as `docker login` does: ping, then authenticate.
    pub fn login(&self) -> Result<()> {
        self.block_on(async {
            let (base, challenge) = self.ping().await?;
            let url = format!("{base}/v2/");
            match challenge {
                Challenge::None => Ok(()),
                Challenge::Basic => {
                    let mut req = self.http.get(&url);
                    if let Some(c) = &self.creds {
                        req = req.header(AUTHORIZATION, Self::basic_header(c));
                    }
                    let resp = req.send().await.map_err(|e| Error::Transport {
                        method: "Get",
                        url: url.clone(),
                        message: transport_text(&e),
                    })?;
                    if resp.status().is_success() {
                        Ok(())
                    } else {
                        let s = resp.status().as_u16();
                        Err(Error::LoginFailed {
                            url,
                            status: format!("{s} {}", reason(s)),
                        })
                    }
                }
                Challenge::Bearer { realm, service } => {
                    match self.token(&realm, service.as_deref(), &[]).await {
                        Ok(_) => Ok(()),
                        Err(Error::Registry { status, errors }) => {
                            let text = Error::Registry { status, errors }.to_string();
                            let text = if text.starts_with("received unexpected") {
                                "unauthorized: incorrect username or password".to_string()
                            } else {
                                text
                            };
                            Err(Error::Other(format!("Get \"{url}\": {text}")))
                        }
                        Err(e) => Err(e),
                    }
                }
            }
        })
    }

    fn pull_scope(repo: &str) -> Vec<String> {
        vec![format!("repository:{repo}:pull")]
    }

    fn push_scope(repo: &str) -> Vec<String> {
        vec![format!("repository:{repo}:pull,push")]
    }

    /// The digest a tag or digest names, without fetching the manifest.
    pub fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<String>> {
        self.block_on(async {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT, accept_header());
            let resp = self
                .send(
                    Method::HEAD,
                    &format!("/v2/{repo}/manifests/{reference}"),
                    &Self::pull_scope(repo),
                    h,
                    None,
                )
                .await?;
            if !resp.status().is_success() {
                return Err(error_from(resp).await);
            }
            Ok(resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string))
        })
    }

    /// Fetch a manifest; when asked by digest, its bytes must hash to it.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<Manifest> {
        self.block_on(async {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT, accept_header());
            let path = format!("/v2/{repo}/manifests/{reference}");
            let resp = self.pull_get(repo, &path, h).await?;
            let ct = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let url = resp.url().to_string();
            let bytes = resp.bytes().await.map_err(|e| Error::Transport {
                method: "Get",
                url,
                message: transport_text(&e),
            })?;
            if bytes.len() > 4 << 20 {
                return Err(Error::Other("manifest too large".into()));
            }
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
            if reference.starts_with("sha256:") && reference != digest {
                return Err(Error::DigestMismatch {
                    digest: reference.to_string(),
                    actual: digest,
                });
            }
            let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| {
                    v.get("mediaType")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or(ct);
            Ok(Manifest {
                bytes: bytes.to_vec(),
                media_type,
                digest,
            })
        })
    }

    /// A small blob (an image config) in memory, verified against its digest.
    pub fn get_blob_bytes(&self, repo: &str, digest: &str) -> Result<Vec<u8>> {
        self.block_on(async {
            let path = format!("/v2/{repo}/blobs/{digest}");
            let resp = self.pull_get(repo, &path, HeaderMap::new()).await?;
            let url = resp.url().to_string();
            let bytes = resp.bytes().await.map_err(|e| Error::Transport {
                method: "Get",
                url,
                message: transport_text(&e),
            })?;
            let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
            if actual != digest {
                return Err(Error::DigestMismatch {
                    digest: digest.to_string(),
                    actual,
                });
            }
            Ok(bytes.to_vec())
        })
    }

    /// Download a blob into `partial`, continuing from what the file holds
    /// (an HTTP Range request), hashing as it goes. On success the file is
    /// complete and verified, but not synced (the caller syncs it before it
    /// enters a store, and may use it first); on a digest mismatch it is deleted;
    /// on a transfer error it stays, to be resumed. `progress` gets the
    /// bytes held so far. The file is flocked while in use, so two pulls of
    /// one blob take turns instead of writing over each other.
    pub fn fetch_blob(
        &self,
        repo: &str,
        digest: &str,
        partial: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<u64> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(partial)
            .map_err(|e| Error::io("open", partial.display(), e))?;
        file.lock()
            .map_err(|e| Error::io("lock", partial.display(), e))?;
        let mut hasher = Sha256::new();
        let mut have = 0u64;
        {
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file
                    .read(&mut buf)
                    .map_err(|e| Error::io("read", partial.display(), e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                have += n as u64;
            }
        }
        if have > 0 && format!("sha256:{}", hex::encode(hasher.clone().finalize())) == digest {
            return Ok(have);
        }
        let res = self.block_on(async {
            let path = format!("/v2/{repo}/blobs/{digest}");
            let mut h = HeaderMap::new();
            if have > 0 {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes={have}-")) {
                    h.insert(RANGE, v);
                }
            }
            let mut resp = self
                .send(Method::GET, &path, &Self::pull_scope(repo), h, None)
                .await?;
            match resp.status() {
                StatusCode::PARTIAL_CONTENT if have > 0 => {}
                s if s.is_success() => {
                    if have > 0 {
                        // The registry ignored the range: start over.
                        file.set_len(0)
                            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
                            .map_err(|e| Error::io("truncate", partial.display(), e))?;
                        hasher = Sha256::new();
                        have = 0;
                    }
                }
                StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                    // The partial file is longer than the blob: start over.
                    file.set_len(0)
                        .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
                        .map_err(|e| Error::io("truncate", partial.display(), e))?;
                    hasher = Sha256::new();
                    have = 0;
                    resp = self.pull_get(repo, &path, HeaderMap::new()).await?;
                }
                _ => return Err(error_from(resp).await),
            }
            progress(have);
            let url = resp.url().to_string();
            loop {
                let chunk = resp.chunk().await.map_err(|e| Error::Transport {
                    method: "Get",
                    url: url.clone(),
                    message: transport_text(&e),
                })?;
                let Some(chunk) = chunk else { break };
                file.write_all(&chunk)
                    .map_err(|e| Error::io("write", partial.display(), e))?;
                hasher.update(&chunk);
                have += chunk.len() as u64;
                progress(have);
            }
            Ok(())
        });
        res?;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest {
            drop(file);
            let _ = std::fs::remove_file(partial);
            return Err(Error::DigestMismatch {
                digest: digest.to_string(),
                actual,
            });
        }
        Ok(have)
    }

    /// Does the repository have this blob? (`HEAD`)
    pub fn blob_exists(&self, repo: &str, digest: &str) -> Result<bool> {
        self.block_on(async {
            let resp = self
                .send(
                    Method::HEAD,
                    &format!("/v2/{repo}/blobs/{digest}"),
                    &Self::push_scope(repo),
                    HeaderMap::new(),
                    None,
                )
                .await?;
            match resp.status() {
                s if s.is_success() => Ok(true),
                StatusCode::NOT_FOUND => Ok(false),
                _ => Err(error_from(resp).await),
            }
        })
    }

    fn location(resp: &Response) -> Result<String> {
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Other("registry sent no upload location".into()))?;
        let url = resp
            .url()
            .join(loc)
            .map_err(|e| Error::Other(format!("bad upload location {loc:?}: {e}")))?;
        Ok(url.to_string())
    }

    /// Ask the registry to mount a blob from another repository of its own.
    pub fn mount_blob(&self, repo: &str, digest: &str, from: &str) -> Result<Mount> {
        self.block_on(async {
            let mut scopes = Self::push_scope(repo);
            scopes.push(format!("repository:{from}:pull"));
            let mut h = HeaderMap::new();
            h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            let resp = self
                .send(
                    Method::POST,
                    &format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
                    &scopes,
                    h,
                    None,
                )
                .await?;
            match resp.status() {
                StatusCode::CREATED => Ok(Mount::Mounted),
                StatusCode::ACCEPTED => Ok(Mount::Upload(Self::location(&resp)?)),
                _ => Err(error_from(resp).await),
            }
        })
    }

    /// Open an upload session; returns its location.
    pub fn start_upload(&self, repo: &str) -> Result<String> {
        self.block_on(async {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            let resp = self
                .send(
                    Method::POST,
                    &format!("/v2/{repo}/blobs/uploads/"),
                    &Self::push_scope(repo),
                    h,
                    None,
                )
                .await?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(error_from(resp).await);
            }
            Self::location(&resp)
        })
    }

    /// Upload a whole blob from a file in one streamed `PUT` (monolithic
    /// upload: one round trip, the file never read into memory).
    pub fn upload_blob(&self, repo: &str, location: &str, digest: &str, file: &Path) -> Result<()> {
        self.block_on(async {
            let f = tokio::fs::File::open(file)
                .await
                .map_err(|e| Error::io("open", file.display(), e))?;
            let len = f
                .metadata()
                .await
                .map_err(|e| Error::io("stat", file.display(), e))?
                .len();
            // `Body::from(File)` reads 4 KiB at a time, each a round trip
            // to tokio's blocking pool: half the speed the registry takes.
            let stream = tokio_util::io::ReaderStream::with_capacity(f, 1 << 20);
            let body = reqwest::Body::wrap_stream(stream);
            self.put_upload(repo, location, digest, body, Some(len))
                .await
        })
    }

    /// Upload a small blob from memory (an image config).
    pub fn upload_bytes(
        &self,
        repo: &str,
        location: &str,
        digest: &str,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.block_on(self.put_upload(repo, location, digest, reqwest::Body::from(bytes), None))
    }

    /// The closing `PUT ...?digest=` of an upload at `location`.
    async fn put_upload(
        &self,
        repo: &str,
        location: &str,
        digest: &str,
        body: reqwest::Body,
        len: Option<u64>,
    ) -> Result<()> {
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Some(len) = len {
            h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        let resp = self
            .send(Method::PUT, &url, &Self::push_scope(repo), h, Some(body))
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(error_from(resp).await);
        }
        Ok(())
    }

    /// Put a manifest byte for byte; returns the digest the registry reports.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String> {
        self.block_on(async {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(media_type) {
                h.insert(CONTENT_TYPE, v);
            }
            let resp = self
                .send(
                    Method::PUT,
                    &format!("/v2/{repo}/manifests/{reference}"),
                    &Self::push_scope(repo),
                    h,
                    Some(reqwest::Body::from(bytes.to_vec())),
                )
                .await?;
            if resp.status() != StatusCode::CREATED {
                return Err(error_from(resp).await);
            }
            let local = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
            Ok(resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or(local))
        })
    }

    /// Every tag of a repository, following `Link` pagination.
    pub fn list_tags(&self, repo: &str) -> Result<Vec<String>> {
        self.block_on(async {
            let mut out = Vec::new();
            let mut path = format!("/v2/{repo}/tags/list");
            for _ in 0..1000 {
                let resp = self.pull_get(repo, &path, HeaderMap::new()).await?;
                let next = resp
                    .headers()
                    .get("link")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| l.split_once('<').and_then(|(_, r)| r.split_once('>')))
                    .and_then(|(u, _)| resp.url().join(u).ok())
                    .map(|u| u.to_string());
                let url = resp.url().to_string();
                let v: serde_json::Value = resp.json().await.map_err(|e| Error::Transport {
                    method: "Get",
                    url,
                    message: transport_text(&e),
                })?;
                if let Some(tags) = v.get("tags").and_then(|t| t.as_array()) {
                    out.extend(tags.iter().filter_map(|t| t.as_str()).map(str::to_string));
                }
                match next {
                    Some(n) => path = n,
                    None => break,
                }
            }
            Ok(out)
        })
    }
}

fn accept_header() -> HeaderValue {
    HeaderValue::from_static(
        "application/vnd.docker.distribution.manifest.v2+json, \
         application/vnd.docker.distribution.manifest.list.v2+json, \
         application/vnd.oci.image.manifest.v1+json, \
         application/vnd.oci.image.index.v1+json",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn challenges() {
        match parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg.example",scope="x""#,
        ) {
            Challenge::Bearer { realm, service } => {
                assert_eq!(realm, "https://auth.example/token");
                assert_eq!(service.as_deref(), Some("reg.example"));
            }
            _ => panic!("not bearer"),
        }
        assert!(matches!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Challenge::Basic
        ));
    }

    #[test]
    fn insecure_defaults() {
        assert!(is_insecure("127.0.0.1:5000", &[]));
        assert!(is_insecure("127.3.4.5", &[]));
        assert!(is_insecure("localhost:5000", &[]));
        assert!(is_insecure("[::1]:5000", &[]));
        assert!(!is_insecure("10.1.2.3:5000", &[]));
        assert!(is_insecure("10.1.2.3:5000", &["10.0.0.0/8".into()]));
        assert!(is_insecure("reg.example:443", &["reg.example:443".into()]));
        assert!(!is_insecure("docker.io", &[]));
    }
}
