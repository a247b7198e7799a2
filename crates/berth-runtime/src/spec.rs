//! The OCI runtime spec for a container, with the defaults dockerd 20.10
//! writes (read from a live container's `config.json`): capabilities,
//! mounts, masked and read-only paths, device cgroup rules, namespaces.
//! Written as JSON directly: the spec is a wire format and this keeps its
//! shape visible next to Docker's.

use serde_json::{json, Value};

use crate::process::Process;

/// Docker's default capability set.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub const MASKED_PATHS: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What varies per container.
#[derive(Debug, Clone)]
pub struct SpecOptions {
    /// Root filesystem, absolute or relative to the bundle.
    pub rootfs: String,
    pub hostname: String,
    /// cgroup path, e.g. `/berth/<id>`.
    pub cgroups_path: String,
    pub terminal: bool,
    /// `/dev/shm` size in bytes (Docker's default is 64 MiB).
    pub shm_size: u64,
    /// Files bind-mounted over `/etc/resolv.conf`, `/etc/hostname`, `/etc/hosts`.
    pub etc_files: Vec<(String, String)>,
}

fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": kind, "source": source, "options": options})
}

fn dev(
    allow: bool,
    kind: Option<&str>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Value {
    let mut d = json!({"allow": allow, "access": access});
    if let Some(k) = kind {
        d["type"] = json!(k);
    }
    if let Some(m) = major {
        d["major"] = json!(m);
    }
    if let Some(m) = minor {
        d["minor"] = json!(m);
    }
    d
}

/// The OCI `process` object, shared by a container's spec and `exec`'s
/// process file.
pub fn process_json(process: &Process, terminal: bool, caps: &[&str]) -> Value {
    json!({
        "terminal": terminal,
        "user": {"uid": process.uid, "gid": process.gid, "additionalGids": process.additional_gids},
        "args": process.args,
        "env": process.env,
        "cwd": process.cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
    })
}

/// Build `config.json` for a process.
pub fn build(process: &Process, opts: &SpecOptions) -> Value {
    let caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
    ];
    let shm = format!("size={}", opts.shm_size);
    mounts.push(mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", &shm],
    ));
    for (dest, src) in &opts.etc_files {
        mounts.push(mount(dest, "bind", src, &["rbind", "rprivate"]));
    }
    let mut proc_ = process_json(process, opts.terminal, &caps);
    proc_["oomScoreAdj"] = json!(0);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": proc_,
        "root": {"path": opts.rootfs},
        "hostname": opts.hostname,
        "mounts": mounts,
        "linux": {
            "sysctl": {
                "net.ipv4.ip_unprivileged_port_start": "0",
                "net.ipv4.ping_group_range": "0 2147483647",
            },
            "resources": {
                "devices": [
                    dev(false, None, None, None, "rwm"),
                    dev(true, Some("c"), Some(1), Some(5), "rwm"),
                    dev(true, Some("c"), Some(1), Some(3), "rwm"),
                    dev(true, Some("c"), Some(1), Some(9), "rwm"),
                    dev(true, Some("c"), Some(1), Some(8), "rwm"),
                    dev(true, Some("c"), Some(5), Some(0), "rwm"),
                    dev(true, Some("c"), Some(5), Some(1), "rwm"),
                    dev(false, Some("c"), Some(10), Some(229), "rwm"),
                ],
            },
            "cgroupsPath": opts.cgroups_path,
            "namespaces": [
                {"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}, {"type": "cgroup"},
            ],
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::process::{resolve, ImageProcess, RunOptions};
    use std::path::Path;
    use std::process::Command;

    use crate::test_runc::Runc;

    /// The generated spec runs under runc, with Docker's isolation visible
    /// from inside: hostname, user and groups, capabilities, read-only
    /// /proc/sys, masked /proc/kcore, private PID namespace.
    #[test]
    fn spec_runs_under_runc() {
        let busybox = Path::new("/bin/busybox");
        if Command::new("runc").arg("--version").output().is_err() || !busybox.exists() {
            eprintln!("skipping: runc or busybox-static missing");
            return;
        }
        let bundle = tempfile::tempdir().unwrap();
        let rootfs = bundle.path().join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\n",
        )
        .unwrap();
        let hosts = bundle.path().join("hostname");
        std::fs::write(&hosts, "berthbox\n").unwrap();

        // A masked file the host kernel really has (not every kernel has /proc/kcore).
        // /proc/timer_list is root-only: unmasked, the user cannot read it.
        let masked = ["/proc/timer_list", "/proc/sched_debug", "/proc/kcore"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("/proc/timer_list");
        let script = format!(
            "hostname; cat /etc/hostname; id -u; id -G; grep CapEff /proc/self/status; \
             echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro; \
             wc -c < {masked}; echo pid=$$; echo $FOO"
        );
        let image = ImageProcess {
            cmd: Some(vec![
                "/bin/busybox".into(),
                "sh".into(),
                "-c".into(),
                script,
            ]),
            env: vec!["FOO=from-image".into()],
            user: "alice".into(),
            ..Default::default()
        };
        let read = |p: &str| std::fs::read(rootfs.join(p.trim_start_matches('/'))).ok();
        let process = resolve(
            &image,
            &RunOptions {
                hostname: "berthbox".into(),
                ..Default::default()
            },
            &read,
        )
        .unwrap();
        let id = format!("berth-spec-test-{}", std::process::id());
        let spec = build(
            &process,
            &SpecOptions {
                rootfs: "rootfs".into(),
                hostname: "berthbox".into(),
                cgroups_path: format!("/{id}"),
                terminal: false,
                shm_size: 64 << 20,
                etc_files: vec![("/etc/hostname".into(), hosts.display().to_string())],
            },
        );
        std::fs::write(
            bundle.path().join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        let runc = Runc {
            state: tempfile::tempdir().unwrap(),
            id: id.clone(),
        };
        let out = runc
            .cmd()
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "runc failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], "berthbox");
        assert_eq!(lines[1], "berthbox");
        assert_eq!(lines[2], "1000");
        let mut groups: Vec<&str> = lines[3].split_whitespace().collect();
        groups.sort_unstable();
        assert_eq!(groups, ["1000", "50"]);
        // A non-root user keeps no effective capabilities, as in Docker.
        assert_eq!(lines[4].split_whitespace().nth(1), Some("0000000000000000"));
        assert_eq!(lines[5], "sys-ro");
        assert_eq!(lines[6].trim(), "0", "{masked} is not masked");
        assert_eq!(lines[7], "pid=1");
        assert_eq!(lines[8], "from-image");
    }
}
