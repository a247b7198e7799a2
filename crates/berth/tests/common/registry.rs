//! A real registry for tests: Debian's `docker-registry` (CNCF
//! distribution) on 127.0.0.1 with a free port and a temporary storage
//! dir, optionally with htpasswd auth or TLS; killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct Registry {
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:<port>`
    pub addr: String,
    child: Child,
}

#[derive(Default)]
pub struct RegistryOpts {
    /// (user, password) for htpasswd basic auth.
    pub htpasswd: Option<(String, String)>,
    /// (certificate, key) PEM files for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With TLS: clients must show a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
    /// Bearer tokens from this server (realm, service, issuer, cert).
    pub token: Option<TokenAuthConfig>,
}

/// The registry's `auth: token:` section.
pub struct TokenAuthConfig {
    pub realm: String,
    pub cert: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    pub fn start() -> Registry {
        Self::start_with(RegistryOpts::default())
    }

    pub fn start_with(opts: RegistryOpts) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n",
            data.display()
        );
        if let Some((u, p)) = &opts.htpasswd {
            let o = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .unwrap();
            assert!(o.status.success(), "htpasswd (apache2-utils) is needed");
            let f = dir.path().join("htpasswd");
            std::fs::write(&f, &o.stdout).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                f.display()
            ));
        }
        if let Some(t) = &opts.token {
            cfg.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                t.realm,
                t.cert.display()
            ));
        }
        // Another process may take the port between our probe and the
        // registry's bind: retry with a new one.
        for _ in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let mut c = cfg.clone();
            c.push_str(&format!("http:\n  addr: {addr}\n"));
            if let Some((cert, key)) = &opts.tls {
                c.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                ));
                if let Some(ca) = &opts.client_ca {
                    c.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
                }
            }
            let conf = dir.path().join("config.yml");
            std::fs::write(&conf, c).unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry is needed (apt-get install docker-registry)");
            let t = std::time::Instant::now();
            while t.elapsed() < std::time::Duration::from_secs(20) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(&addr).is_ok() {
                    return Registry { dir, addr, child };
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "registry did not start: {}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// The registry's file for a blob.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed CA and a server certificate for 127.0.0.1 made with
/// `openssl` in `dir`: returns (ca.crt, server.crt, server.key).
pub fn make_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| openssl(dir, args);
    self_signed(dir, "berth test CA", "ca");
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// A client certificate and key signed by the CA `make_tls` made in
/// `dir`, named as docker's `certs.d` wants them.
pub fn make_client_cert(dir: &Path) -> (PathBuf, PathBuf) {
    // Extensions make it an X.509 v3 certificate, which rustls requires.
    std::fs::write(
        dir.join("client-ext.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for args in [
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=berth client",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
        ][..],
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "client-ext.cnf",
            "-out",
            "client.cert",
        ][..],
    ] {
        openssl(dir, args);
    }
    (dir.join("client.cert"), dir.join("client.key"))
}

/// A self-signed certificate `<name>.crt` and its key `<name>.key` in
/// `dir`, valid for two days.
fn self_signed(dir: &Path, cn: &str, name: &str) {
    let (subj, key, crt) = (
        format!("/CN={cn}"),
        format!("{name}.key"),
        format!("{name}.crt"),
    );
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subj,
            "-keyout", &key, "-out", &crt,
        ],
    );
}

/// Run `openssl` in `dir`; it must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A TCP proxy in front of a registry that can cut one blob download
/// after a number of bytes (a registry dying mid-layer), and records the
/// `Range` headers it sees. Every connection carries one request.
pub struct CuttingProxy {
    pub addr: String,
    /// Cut the next non-ranged GET whose path contains this, after this
    /// many response bytes.
    pub cut: Arc<Mutex<Option<(String, u64)>>>,
    pub ranges: Arc<Mutex<Vec<String>>>,
    /// The request line of every request passed on.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    pub served: Arc<AtomicU64>,
}

impl CuttingProxy {
    pub fn start(upstream: &str) -> CuttingProxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let cut: Arc<Mutex<Option<(String, u64)>>> = Arc::default();
        let ranges: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (c2, r2, s2, up, sv, q2) = (
            cut.clone(),
            ranges.clone(),
            stop.clone(),
            upstream.to_string(),
            served.clone(),
            requests.clone(),
        );
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if s2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (c, r, up, sv, q) =
                    (c2.clone(), r2.clone(), up.clone(), sv.clone(), q2.clone());
                std::thread::spawn(move || {
                    let _ = proxy_one(conn, &up, &c, &r, &sv, &q);
                });
            }
        });
        CuttingProxy {
            addr,
            cut,
            ranges,
            requests,
            stop,
            served,
        }
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn proxy_one(
    mut client: TcpStream,
    upstream: &str,
    cut: &Mutex<Option<(String, u64)>>,
    ranges: &Mutex<Vec<String>>,
    served: &AtomicU64,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    // berth tries HTTPS first on an insecure registry: no TLS here.
    if client.peek(&mut b)? == 1 && b[0] == 0x16 {
        return Ok(());
    }
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut b)? == 0 {
            return Ok(());
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("").to_string();
    requests.lock().unwrap().push(first.clone());
    let mut out = format!("{first}\r\n");
    let mut range = None;
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if lower.starts_with("range:") {
            range = Some(l[6..].trim().to_string());
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    if let Some(r) = &range {
        ranges.lock().unwrap().push(r.clone());
    }
    let limit = {
        let mut g = cut.lock().unwrap();
        match g.as_ref() {
            Some((pat, n))
                if first.starts_with("GET ") && first.contains(pat.as_str()) && range.is_none() =>
            {
                let n = *n;
                *g = None;
                Some(n)
            }
            _ => None,
        }
    };
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(out.as_bytes())?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    loop {
        let n = up.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let n = match limit {
            Some(l) if sent + n as u64 >= l => (l - sent) as usize,
            _ => n,
        };
        client.write_all(&buf[..n])?;
        sent += n as u64;
        served.fetch_add(n as u64, Ordering::SeqCst);
        if limit.is_some_and(|l| sent >= l) {
            break;
        }
    }
    let _ = client.shutdown(std::net::Shutdown::Both);
    Ok(())
}

pub const TOKEN_SERVICE: &str = "berth-test-registry";
pub const TOKEN_ISSUER: &str = "berth-test-issuer";

/// A token server (Docker's token auth spec) on 127.0.0.1: checks Basic
/// credentials and returns a JWT signed RS256 with `openssl dgst`, its
/// certificate in the `x5c` header (what distribution 2.8 verifies
/// against `rootcertbundle`). Each user gets only the actions listed.
pub struct TokenServer {
    pub realm: String,
    pub cert: PathBuf,
    /// Every scope asked for, in order (`""` for none), and the account.
    pub requests: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
    addr: String,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    /// `users`: (name, password, actions granted on every repository).
    pub fn start(users: &[(&str, &str, &[&str])]) -> TokenServer {
        let dir = tempfile::Builder::new()
            .prefix("berth-token-")
            .tempdir()
            .unwrap();
        self_signed(dir.path(), "berth token issuer", "token");
        let der = Command::new("openssl")
            .args(["x509", "-in", "token.crt", "-outform", "DER"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(der.status.success());
        let x5c = b64(&der.stdout, false);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let users: Vec<(String, String, Vec<String>)> = users
            .iter()
            .map(|(u, p, a)| {
                (
                    u.to_string(),
                    p.to_string(),
                    a.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect();
        let key = dir.path().join("token.key");
        let (st, rq) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((c, _)) => {
                        let _ = c.set_nonblocking(false);
                        token_request(c, &users, &key, &x5c, &rq);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        TokenServer {
            realm: format!("http://{addr}/token"),
            cert: dir.path().join("token.crt"),
            requests,
            stop,
            addr,
            _dir: dir,
        }
    }

    pub fn config(&self) -> TokenAuthConfig {
        TokenAuthConfig {
            realm: self.realm.clone(),
            cert: self.cert.clone(),
        }
    }

    /// The scopes asked for so far.
    pub fn scopes(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(s, _)| s.clone())
            .collect()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// Base64, standard or URL-safe without padding (JWT's).
pub fn b64(data: &[u8], url: bool) -> String {
    let abc: &[u8] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for ch in data.chunks(3) {
        let n = (ch[0] as u32) << 16
            | (*ch.get(1).unwrap_or(&0) as u32) << 8
            | *ch.get(2).unwrap_or(&0) as u32;
        for i in 0..=ch.len() {
            out.push(abc[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    if !url {
        while !out.len().is_multiple_of(4) {
            out.push('=');
        }
    }
    out
}

fn b64_decode(s: &str) -> Vec<u8> {
    let abc = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = abc.iter().position(|&a| a == c).unwrap_or(0) as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn query_param(query: &str, name: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| {
            // Percent-decoding of what a scope can hold.
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    let h = u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(b'?');
                    out.push(h);
                    i += 3;
                } else {
                    out.push(if b[i] == b'+' { b' ' } else { b[i] });
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        })
        .collect()
}

fn token_request(
    mut c: TcpStream,
    users: &[(String, String, Vec<String>)],
    key: &Path,
    x5c: &str,
    requests: &Mutex<Vec<(String, String)>>,
) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    // An OAuth2 refresh-token grant (an identity token): a POSTed form.
    // The refresh token of a user is its password here.
    if head.starts_with("POST ") {
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let start = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        let mut body = buf[start.min(buf.len())..].to_vec();
        while body.len() < len {
            match c.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => body.extend_from_slice(&tmp[..n]),
            }
        }
        let form = String::from_utf8_lossy(&body).into_owned();
        let one = |k: &str| query_param(&form, k).into_iter().next().unwrap_or_default();
        let user = (one("grant_type") == "refresh_token")
            .then(|| users.iter().find(|u| u.1 == one("refresh_token")))
            .flatten();
        let scopes: Vec<String> = one("scope").split(' ').map(str::to_string).collect();
        requests.lock().unwrap().push((
            scopes.join(" "),
            user.map(|u| format!("refresh:{}", u.0)).unwrap_or_default(),
        ));
        return match user {
            Some(u) => grant(c, u, &scopes, key, x5c, requests),
            None => deny(c),
        };
    }
    let auth = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let who = auth
        .strip_prefix("Basic ")
        .map(|b| String::from_utf8_lossy(&b64_decode(b)).into_owned())
        .and_then(|s| {
            s.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        });
    let user = who.and_then(|(u, p)| users.iter().find(|x| x.0 == u && x.1 == p));
    let scopes = query_param(query, "scope");
    requests.lock().unwrap().push((
        scopes.join(" "),
        user.map(|u| u.0.clone()).unwrap_or_default(),
    ));
    match user {
        Some(user) => grant(c, user, &scopes, key, x5c, requests),
        None => deny(c),
    }
}

fn deny(mut c: TcpStream) {
    let body = r#"{"details":"incorrect username or password"}"#;
    let _ = write!(
        c,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A signed token granting what was asked, cut down to the user's actions.
fn grant(
    mut c: TcpStream,
    user: &(String, String, Vec<String>),
    scopes: &[String],
    key: &Path,
    x5c: &str,
    requests: &Mutex<Vec<(String, String)>>,
) {
    let mut access = Vec::new();
    for s in scopes {
        let mut parts = s.splitn(3, ':');
        let (Some(typ), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let granted: Vec<&str> = actions
            .split(',')
            .filter(|a| user.2.iter().any(|g| g == a))
            .collect();
        access.push(serde_json::json!({"type": typ, "name": name, "actions": granted}));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER, "sub": user.0, "aud": TOKEN_SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("{now}-{}", requests.lock().unwrap().len()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes(), true),
        b64(claims.to_string().as_bytes(), true)
    );
    let mut sign = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    sign.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let sig = sign.wait_with_output().unwrap();
    assert!(sig.status.success());
    let token = format!("{input}.{}", b64(&sig.stdout, true));
    let body =
        serde_json::json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
    let _ = write!(
        c,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
