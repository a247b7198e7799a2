//! Where RUN (and COPY, which writes into the same kind of tree) happens:
//! an overlay of the parent's snapshots with a fresh upper dir, and for
//! RUN a container started by a single-threaded `berth internal
//! build-step` child (the builder itself is multi-threaded, and youki's
//! libcontainer must fork from a single-threaded process).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_runtime::{process::Process, rootfs, spec};
use serde_json::json;

/// An overlay mount for one step, inside the build's scratch dir (so a
/// killed build's sweep unmounts and removes it).
pub struct StepFs {
    pub dir: PathBuf,
    pub upper: PathBuf,
    pub rootfs: PathBuf,
    mounted: bool,
}

impl StepFs {
    pub fn mount(dir: PathBuf, lowers: &[PathBuf]) -> std::io::Result<StepFs> {
        let upper = dir.join("upper");
        let work = dir.join("work");
        let rootfs_dir = dir.join("rootfs");
        std::fs::create_dir_all(&dir)?;
        // overlayfs wants the topmost lower first; snapshots come base first.
        let mut top_first: Vec<PathBuf> = lowers.to_vec();
        top_first.reverse();
        rootfs::mount_overlay(&top_first, &upper, &work, &rootfs_dir, true)?;
        Ok(StepFs {
            dir,
            upper,
            rootfs: rootfs_dir,
            mounted: true,
        })
    }

    /// Unmount; the upper dir then holds exactly the step's changes.
    pub fn unmount(&mut self) -> std::io::Result<()> {
        if self.mounted {
            rootfs::unmount(&self.rootfs)?;
            self.mounted = false;
            let _ = std::fs::remove_dir_all(self.dir.join("work"));
        }
        Ok(())
    }
}

impl Drop for StepFs {
    fn drop(&mut self) {
        let _ = self.unmount();
        let _ = berth_store::remove_tree(&self.dir);
    }
}

/// A mount added to a RUN container (`--mount=type=cache|bind|tmpfs|secret`).
#[derive(Debug, Clone)]
pub struct ExtraMount {
    pub destination: String,
    pub kind: &'static str,
    pub source: String,
    pub options: Vec<String>,
}

/// What a RUN step needs to start its container.
pub struct RunSpec<'a> {
    pub id: &'a str,
    pub process: &'a Process,
    /// Keep the host's network namespace (`RUN --network=host`).
    pub host_network: bool,
    pub mounts: &'a [ExtraMount],
    /// `berth` itself and the state roots, to call `internal build-step`.
    pub berth_exe: &'a Path,
    pub root: &'a Path,
    pub runroot: &'a Path,
}

/// Files BuildKit bind-mounts into a RUN container; stubs the runtime had
/// to create for them are removed again so they are not part of the layer.
const ETC_FILES: [&str; 2] = ["/etc/resolv.conf", "/etc/hosts"];

const HOSTS: &str =
    "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// Run the process in `fs`; every output line goes to `on_line` (stream 1
/// or 2). Returns the exit code.
pub fn run(fs: &StepFs, r: &RunSpec, on_line: &mut dyn FnMut(u8, &[u8])) -> Result<i32, String> {
    // Mount points the runtime will create; BuildKit removes such stubs
    // afterwards so they do not end up in the layer.
    let mut stubs: Vec<PathBuf> = Vec::new();
    for dest in ETC_FILES
        .iter()
        .map(|s| s.to_string())
        .chain(r.mounts.iter().map(|m| m.destination.clone()))
    {
        let mut p = fs.rootfs.clone();
        for c in dest
            .split('/')
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
        {
            p.push(c);
            match p.symlink_metadata() {
                Ok(m) if m.file_type().is_symlink() => break,
                Ok(_) => {}
                Err(_) => {
                    if !stubs.contains(&p) {
                        stubs.push(p.clone());
                    }
                }
            }
        }
    }
    let hosts = fs.dir.join("hosts");
    let resolv = fs.dir.join("resolv.conf");
    std::fs::write(&hosts, HOSTS).map_err(|e| format!("write hosts: {e}"))?;
    let host_resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(&resolv, host_resolv).map_err(|e| format!("write resolv.conf: {e}"))?;
    let mut s = spec::build(
        r.process,
        &spec::SpecOptions {
            rootfs: fs.rootfs.display().to_string(),
            hostname: "buildkitsandbox".into(),
            cgroups_path: format!("/berth/{}", r.id),
            terminal: false,
            shm_size: 64 << 20,
            etc_files: vec![
                ("/etc/resolv.conf".into(), resolv.display().to_string()),
                ("/etc/hosts".into(), hosts.display().to_string()),
            ],
        },
    );
    if let Some(m) = s["mounts"].as_array_mut() {
        for x in r.mounts {
            m.push(json!({"destination": x.destination, "type": x.kind, "source": x.source, "options": x.options}));
        }
    }
    if r.host_network {
        if let Some(ns) = s["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
    }
    let bundle = fs.dir.join("bundle");
    std::fs::create_dir_all(&bundle).map_err(|e| format!("bundle: {e}"))?;
    let bytes = serde_json::to_vec(&s).map_err(|e| format!("spec: {e}"))?;
    std::fs::write(bundle.join("config.json"), bytes).map_err(|e| format!("spec: {e}"))?;

    let mut child = Command::new(r.berth_exe)
        .arg("--root")
        .arg(r.root)
        .arg("--runroot")
        .arg(r.runroot)
        .args(["internal", "build-step", r.id])
        .arg(&bundle)
        // A lifeline: the child stops the step when this pipe closes.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", r.berth_exe.display()))?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let (tx, rx) = std::sync::mpsc::channel::<(u8, Vec<u8>)>();
    let pump = |stream: u8,
                src: Option<Box<dyn Read + Send>>,
                tx: std::sync::mpsc::Sender<(u8, Vec<u8>)>| {
        std::thread::spawn(move || {
            let Some(src) = src else { return };
            let mut br = BufReader::new(src);
            let mut line = Vec::new();
            loop {
                line.clear();
                match br.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send((stream, line.clone())).is_err() {
                            break;
                        }
                    }
                }
            }
        })
    };
    let t1 = pump(
        1,
        out.map(|o| Box::new(o) as Box<dyn Read + Send>),
        tx.clone(),
    );
    let t2 = pump(2, err.map(|o| Box::new(o) as Box<dyn Read + Send>), tx);
    for (stream, line) in rx {
        on_line(stream, &line);
    }
    let _ = t1.join();
    let _ = t2.join();
    let status = child.wait().map_err(|e| format!("build step: {e}"))?;
    drop(child.stdin.take());
    for p in stubs.iter().rev() {
        match p.symlink_metadata() {
            // Docker 20.10's BuildKit keeps empty mount-point directories
            // in the layer and drops only the stub files.
            Ok(m) if m.is_file() && m.len() == 0 => {
                let _ = std::fs::remove_file(p);
            }
            _ => {}
        }
    }
    Ok(status.code().unwrap_or(255))
}
