//! A private dockerd for differential tests: its own data root, exec root,
//! socket, pidfile and containerd namespace below one temporary directory,
//! its own cgroup parent (named like that directory), no bridge and no
//! iptables, so the machine's own Docker (if any) and its configuration are
//! untouched. Tests that make networks start it in a network namespace of
//! its own ([`Dockerd::start_in_own_netns`]): the bridges and veths dockerd
//! makes then never appear on the host. Dropping it stops the daemon,
//! unmounts what it left below its directory (which frees that namespace),
//! removes its cgroups and that directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Out, Root};

pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    /// Start one with containerd namespace `berth-crosscheck`; `None` (with
    /// a message) where dockerd is not installed.
    pub fn start() -> Option<Dockerd> {
        Self::start_in_namespace("berth-crosscheck")
    }

    pub fn start_in_namespace(namespace: &str) -> Option<Dockerd> {
        Self::spawn(namespace, false)
    }

    /// Start one (containerd namespace `berth-crosscheck`) inside a new
    /// network namespace with only `lo` up, for tests that create networks:
    /// dockerd makes a Linux bridge per network, and those must not appear
    /// on the host. `None` (with a message) without dockerd or `unshare`.
    pub fn start_in_own_netns() -> Option<Dockerd> {
        if Command::new("unshare").arg("--version").output().is_err() {
            eprintln!("skipping: unshare not installed");
            return None;
        }
        Self::spawn("berth-crosscheck", true)
    }

    fn spawn(namespace: &str, own_netns: bool) -> Option<Dockerd> {
        if Command::new("dockerd").arg("--version").output().is_err() {
            eprintln!("skipping: dockerd not installed");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-dockerd-")
            .tempdir_in("/tmp")
            .ok()?;
        let d = dir.path();
        // In its own namespace: unshare(1) and sh exec in turn, so the child
        // is dockerd itself and the namespace ends with it.
        let mut cmd = if own_netns {
            let mut c = Command::new("unshare");
            c.args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && exec dockerd \"$@\"",
                "dockerd",
            ]);
            c
        } else {
            Command::new("dockerd")
        };
        let child = cmd
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .arg("--host")
            .arg(format!("unix://{}", d.join("sock").display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=overlay2",
            ])
            // Containers and BuildKit's RUN steps go below this, not /docker.
            .arg("--cgroup-parent")
            .arg(cgroup_name(d))
            .arg("--containerd-namespace")
            .arg(namespace)
            .arg("--containerd-plugins-namespace")
            .arg(format!("{namespace}-plugins"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("log")).ok()?)
            .spawn()
            .ok()?;
        let mut dd = Dockerd { child, dir };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if dd.docker(&["version"]).code == 0 {
                return Some(dd);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(dd.dir.path().join("log")).unwrap_or_default();
        let _ = dd.child.kill();
        panic!("private dockerd did not start:\n{log}");
    }

    /// dockerd's pid: `/proc/PID/ns/net` is its network namespace.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory everything of this daemon lives in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("sock").display())
    }

    /// Debian's `docker` (20.10, the CLI of the daemon it talks to; a
    /// newer one on PATH words some errors differently) against this
    /// daemon, else the one on PATH.
    pub fn docker(&self, args: &[&str]) -> Out {
        let cli = Path::new("/usr/bin/docker");
        let cli = if cli.exists() {
            cli
        } else {
            Path::new("docker")
        };
        self.docker_with(cli, &[], args)
    }

    /// A given docker CLI binary against this daemon, with extra
    /// environment (e.g. `DOCKER_BUILDKIT=1`).
    pub fn docker_with(&self, cli: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
        Command::new(cli)
            .arg("--host")
            .arg(self.host())
            .args(args)
            .envs(env.iter().copied())
            .env("DOCKER_CONFIG", self.dir.path().join("cli-config"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    }

    /// Copy an image from a berth root into this daemon (offline: `berth
    /// save` piped through a file into `docker load`).
    pub fn load_from_berth(&self, root: &Root, reference: &str) {
        let archive: PathBuf = self.dir.path().join("from-berth.tar");
        root.ok(&["save", "-o", archive.to_str().unwrap(), reference]);
        let o = self.docker(&["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(o.code, 0, "docker load: {}", o.stderr);
        let _ = std::fs::remove_file(&archive);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // dockerd leaves overlay mounts below its data root if killed.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(self.dir.path().to_str().unwrap_or("-")))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(p).status();
        }
        // The cgroup parent and what BuildKit made below it, if empty.
        let name = cgroup_name(self.dir.path());
        let _ = Command::new("find")
            .args([
                "/sys/fs/cgroup",
                "-maxdepth",
                "4",
                "-depth",
                "-type",
                "d",
                "-path",
            ])
            .arg(format!("*/{name}*"))
            .args(["-exec", "rmdir", "{}", ";"])
            .stderr(Stdio::null())
            .status();
    }
}

/// The cgroup parent of the daemon in `dir`: the directory's unique name.
fn cgroup_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}
