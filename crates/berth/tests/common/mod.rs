//! Test harness: each test gets its own state root and cleans it up.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest as _, Sha256};

pub mod dockerd;
pub mod image_diff;
pub mod registry;

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Podman on a private store under `storage` (never the machine's), with
/// the test config (no network backend needed).
pub fn podman(storage: &Path, args: &[&str]) -> Out {
    Command::new("podman")
        .arg("--root")
        .arg(storage.join("root"))
        .arg("--runroot")
        .arg(storage.join("run"))
        .arg("--storage-driver")
        .arg("overlay")
        .args(args)
        .env(
            "CONTAINERS_CONF",
            repo_root().join("tests/fixtures/podman-containers.conf"),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into()
}

/// A private state root, removed on drop.
pub struct Root {
    pub dir: tempfile::TempDir,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Self {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Drop for Root {
    /// Containers die with their test: nothing keeps running, mounted or
    /// in a cgroup once the root is gone.
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]).stdout;
        for id in ids.split_whitespace() {
            let _ = self.run(&["rm", "-f", id]);
        }
        // The root's bridges, firewall table and namespaces go with it.
        let _ = self.run(&["debug", "net-sweep", "--all"]);
    }
}

impl Root {
    /// Everything a container run leaves on the host must be gone: mounts
    /// under this root, the container's cgroups, run-root state.
    pub fn assert_no_leftovers(&self) {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let me = self.dir.path().display().to_string();
        let leaked: Vec<&str> = mounts.lines().filter(|l| l.contains(&me)).collect();
        assert!(leaked.is_empty(), "leaked mounts: {leaked:#?}");
        let st = self.run(&["debug", "net-state"]);
        if st.code == 0 {
            let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
            let running = self.run(&["ps", "-q"]).stdout;
            if running.trim().is_empty() {
                assert_eq!(v["Netns"], serde_json::json!([]), "leaked netns: {v}");
                assert_eq!(
                    v["FirewallContainers"],
                    serde_json::json!([]),
                    "leaked port rules: {v}"
                );
                // Host veths go with their namespace, which the kernel
                // destroys in the background: give it a moment.
                let veths = |v: &serde_json::Value| -> Vec<String> {
                    v["Links"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|l| l.as_str())
                        .filter(|l| l.starts_with("bveth"))
                        .map(str::to_string)
                        .collect()
                };
                let t = std::time::Instant::now();
                let mut left = veths(&v);
                while !left.is_empty() && t.elapsed() < std::time::Duration::from_secs(10) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    let st = self.ok(&["debug", "net-state"]);
                    left = veths(&serde_json::from_str(&st).unwrap());
                }
                assert!(left.is_empty(), "leaked veths: {left:?}");
            }
        }
        for id in self.container_ids_ever() {
            for ctrl in ["memory", "pids", "cpu", "freezer", "devices", "blkio"] {
                let p = Path::new("/sys/fs/cgroup")
                    .join(ctrl)
                    .join("berth")
                    .join(&id);
                assert!(!p.exists(), "leaked cgroup {}", p.display());
            }
            let run = self.dir.path().join("run/containers").join(&id);
            assert!(!run.exists(), "leaked run dir {}", run.display());
            let rt = self.dir.path().join("run/runtime/berth").join(&id);
            assert!(!rt.exists(), "leaked runtime state {}", rt.display());
        }
    }

    /// `debug net-sweep --all` takes every bridge of this root's networks
    /// (also one a kill left half made and untagged) and its firewall table.
    pub fn assert_network_teardown(&self) {
        let mut bridges = Vec::new();
        for id in self
            .ok(&["network", "ls", "-q", "--no-trunc"])
            .split_whitespace()
        {
            let v: serde_json::Value =
                serde_json::from_str(&self.ok(&["network", "inspect", id])).unwrap();
            if v[0]["Driver"] == "bridge" {
                bridges.push(
                    match v[0]["Options"]["com.docker.network.bridge.name"].as_str() {
                        Some(b) => b.to_string(),
                        None => format!("br-{}", &id[..12]),
                    },
                );
            }
        }
        self.ok(&["debug", "net-sweep", "--all"]);
        for b in &bridges {
            assert!(
                !Path::new("/sys/class/net").join(b).exists(),
                "bridge {b} outlived its root's teardown"
            );
        }
        let st: serde_json::Value =
            serde_json::from_str(&self.ok(&["debug", "net-state"])).unwrap();
        assert_eq!(st["TableExists"], false, "{st}");
        assert_eq!(st["Links"], serde_json::json!([]), "{st}");
    }

    /// Ids of containers that exist now plus those whose logs were seen.
    fn container_ids_ever(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .run(&["ps", "-aq", "--no-trunc"])
            .stdout
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for d in ["run/containers", "run/runtime/berth"] {
            if let Ok(rd) = std::fs::read_dir(self.dir.path().join(d)) {
                v.extend(
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().to_string()),
                );
            }
        }
        v
    }

    pub fn new() -> Root {
        Root {
            dir: tempfile::Builder::new()
                .prefix("berth-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BERTH);
        c.arg("--root").arg(self.path());
        c.arg("--runroot").arg(self.dir.path().join("run"));
        c.env_remove("BERTH_ROOT");
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.cmd()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        self.run_stdin_output(args, input).into()
    }

    /// Run with `input` on stdin; the raw output (for tar streams).
    pub fn run_stdin_output(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = input.to_vec();
        let t = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        t.join().unwrap();
        out
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code, 0,
            "berth {args:?} failed:\n{}{}",
            o.stdout, o.stderr
        );
        o.stdout
    }

    /// Import the busybox test image through the repo's script.
    pub fn busybox(&self, reference: &str) -> String {
        self.test_image("busybox", reference)
    }

    fn test_image(&self, kind: &str, reference: &str) -> String {
        let berth = format!(
            "{BERTH} --root {} --runroot {}",
            self.path().display(),
            self.dir.path().join("run").display()
        );
        let o: Out = Command::new("bash")
            .arg(repo_root().join("scripts/make-test-images.sh"))
            .args([kind, reference])
            .env("BERTH", berth)
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "make-test-images failed: {}", o.stderr);
        o.stdout.trim().to_string()
    }

    /// A fingerprint of everything persistent in the store (paths, sizes,
    /// file contents of metadata), to show a failed command changed nothing.
    pub fn fingerprint(&self) -> Vec<String> {
        let mut out = Vec::new();
        let root = self.path();
        for sub in ["refs.json", "images", "content", "snapshots"] {
            walk(&root.join(sub), &root, &mut out);
        }
        out.sort();
        out
    }

    pub fn tmp_entries(&self) -> usize {
        std::fs::read_dir(self.path().join("tmp"))
            .map(|r| r.count())
            .unwrap_or(0)
    }
}

fn walk(p: &Path, root: &Path, out: &mut Vec<String>) {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return;
    };
    let rel = p.strip_prefix(root).unwrap().display().to_string();
    if md.is_dir() {
        out.push(format!("{rel}/"));
        // Snapshot trees are large; their names and meta are enough.
        let mut names: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        for n in names {
            walk(&n, root, out);
        }
    } else if md.len() < 65536 && md.is_file() {
        out.push(format!(
            "{rel} {}",
            hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
        ));
    } else {
        out.push(format!("{rel} {}", md.len()));
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Build a tar in memory from (path, kind) entries.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
}

pub fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::File(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::Symlink(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hardlink(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                // Raw header fields, so hostile targets reach berth unchanged.
                let name = h.as_old_mut();
                name.name[..p.len()].copy_from_slice(p.as_bytes());
                name.linkname[..t.len()].copy_from_slice(t.as_bytes());
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::Char(p, maj, min) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_size(0);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A tar entry with a raw (unchecked) name, for hostile archives.
pub fn raw_tar_file(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
    }
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, data).unwrap();
    b.into_inner().unwrap()
}

/// A minimal image config for the given layers.
pub fn config_for(diff_ids: &[String], created: &str) -> Vec<u8> {
    let history: Vec<String> = diff_ids
        .iter()
        .map(|_| format!(r#"{{"created":"{created}","created_by":"/bin/sh -c #(nop) test"}}"#))
        .collect();
    format!(
        r#"{{"architecture":"amd64","config":{{"Env":["PATH=/bin"],"Cmd":["sh"],"Labels":{{"purpose":"test"}}}},"created":"{created}","history":[{}],"os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        history.join(","),
        diff_ids.iter().map(|d| format!("\"sha256:{d}\"")).collect::<Vec<_>>().join(",")
    )
    .into_bytes()
}

/// A docker-save archive (legacy layout) of one image made of `layers`.
pub fn docker_archive(layers: &[Vec<u8>], tags: &[&str]) -> (Vec<u8>, String) {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256_hex(l)).collect();
    let config = config_for(&diff_ids, "2024-01-02T03:04:05.123456789Z");
    let id = sha256_hex(&config);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (l, d) in layers.iter().zip(&diff_ids) {
        files.push((format!("{d}/layer.tar"), l.clone()));
    }
    files.push((format!("{id}.json"), config));
    let manifest = format!(
        r#"[{{"Config":"{id}.json","RepoTags":[{}],"Layers":[{}]}}]"#,
        tags.iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(","),
        diff_ids
            .iter()
            .map(|d| format!("\"{d}/layer.tar\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    files.push(("manifest.json".into(), manifest.into_bytes()));
    let refs: Vec<(String, &[u8])> = files
        .iter()
        .map(|(p, d)| (p.clone(), d.as_slice()))
        .collect();
    let entries: Vec<E> = refs.iter().map(|(p, d)| E::File(p, d)).collect();
    (tar_of(&entries), id)
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

pub fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

/// An OCI image layout archive; `layers` are (blob bytes, media type, diff id).
pub fn oci_archive(layers: &[(Vec<u8>, &str, String)], name: Option<&str>) -> (Vec<u8>, String) {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.2.clone()).collect();
    let config = config_for(&diff_ids, "2024-05-06T07:08:09Z");
    let id = sha256_hex(&config);
    let layer_descs: Vec<String> = layers
        .iter()
        .map(|(b, mt, _)| {
            format!(
                r#"{{"mediaType":"{mt}","digest":"sha256:{}","size":{}}}"#,
                sha256_hex(b),
                b.len()
            )
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{id}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        layer_descs.join(",")
    );
    let mdig = sha256_hex(manifest.as_bytes());
    let ann = name
        .map(|n| format!(r#","annotations":{{"io.containerd.image.name":"{n}"}}"#))
        .unwrap_or_default();
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{mdig}","size":{}{ann}}}]}}"#,
        manifest.len()
    );
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    )];
    for (b, _, _) in layers {
        files.push((format!("blobs/sha256/{}", sha256_hex(b)), b.clone()));
    }
    files.push((format!("blobs/sha256/{id}"), config));
    files.push((format!("blobs/sha256/{mdig}"), manifest.into_bytes()));
    files.push(("index.json".into(), index.into_bytes()));
    let entries: Vec<E> = files.iter().map(|(p, d)| E::File(p, d)).collect();
    (tar_of(&entries), id)
}

/// A new root with the busybox test image as `busybox`.
pub fn root_with_busybox() -> Root {
    let r = Root::new();
    r.busybox("busybox");
    r
}

/// Polls `f` until it holds (at most 20 s).
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !f() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// An HTTP GET to `addr`, the body (or the error).
pub fn http_get(addr: &str) -> Result<String, String> {
    let a: std::net::SocketAddr = addr.parse().unwrap();
    let mut s = std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
        .unwrap();
    std::io::Write::write_all(&mut s, b"GET / HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// A detached busybox httpd answering `body` on port 80.
pub fn httpd(r: &Root, name: &str, extra: &[&str], body: &str) -> String {
    let script = format!("mkdir -p /w && echo {body} > /w/index.html && exec httpd -f -p 80 -h /w");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    r.ok(&args).trim().to_string()
}
