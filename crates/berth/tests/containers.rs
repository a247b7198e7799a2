//! Real containers on this machine: each test has its own root, and checks
//! that nothing (mounts, cgroups, runtime state) outlives its containers.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{root_with_busybox, wait_until, Root};

#[test]
fn run_attached_streams_and_exit_codes() {
    let r = root_with_busybox();
    let o = r.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.code, 3);
    assert_eq!(o.stdout, "out\n");
    assert_eq!(o.stderr, "err\n");

    let o = r.run(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(o.code, 127, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "berth: Error response from daemon: OCI runtime create failed: unable to start container process: exec: \"nosuchcmd\": executable file not found in $PATH: unknown.\n"
    );
    let o = r.run(&["run", "--rm", "busybox", "/etc"]);
    assert_eq!(o.code, 126, "{}", o.stderr);
    assert!(
        o.stderr.contains("exec: \"/etc\": permission denied"),
        "{}",
        o.stderr
    );

    let o = r.run(&["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert_eq!(o.code, 125);
    assert_eq!(
        o.stderr,
        "berth: Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file.\n"
    );
    let o = r.run(&["run", "--rm", "--pull", "never", "nope"]);
    assert_eq!(o.code, 125);
    assert_eq!(
        o.stderr,
        "berth: Error response from daemon: No such image: nope:latest.\nSee 'berth run --help'.\n"
    );
    // A process killed by a signal exits 128+n.
    let o = r.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "sh -c 'kill -9 $$'; exit $?",
    ]);
    assert_eq!(o.code, 137);
    // --rm left nothing; failed starts left nothing running or mounted.
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    r.assert_no_leftovers();
}

#[test]
fn isolation_and_process_settings() {
    let r = root_with_busybox();
    let script = "hostname; echo pid=$$; cat /etc/hostname; \
                  echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-rw || echo sys-ro; \
                  id -u; id -g; pwd; echo FOO=$FOO; echo HOME=$HOME; \
                  grep -c . /proc/mounts >/dev/null && echo mounts-ok; \
                  ls /dev | tr '\\n' ' '; echo; df -k /dev/shm | tail -1 | awk '{print $2}'";
    let out = r.ok(&[
        "run",
        "--rm",
        "-h",
        "box1",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        "--shm-size",
        "8m",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "box1");
    assert_eq!(lines[1], "pid=1");
    assert_eq!(lines[2], "box1");
    assert_eq!(lines[3], "sys-ro");
    assert_eq!(lines[4], "1000");
    assert_eq!(lines[5], "1000");
    assert_eq!(lines[6], "/tmp");
    assert_eq!(lines[7], "FOO=bar");
    assert_eq!(lines[8], "HOME=/");
    assert_eq!(lines[9], "mounts-ok");
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue",
    ] {
        assert!(
            lines[10].split(' ').any(|d| d == dev),
            "/dev lacks {dev}: {}",
            lines[10]
        );
    }
    assert_eq!(lines[11], "8192");
    // The default hostname is the short container id.
    let id = r
        .ok(&["run", "-d", "busybox", "sleep", "30"])
        .trim()
        .to_string();
    let insp = r.ok(&[
        "inspect",
        "-f",
        "{{.Config.Hostname}} {{.State.Running}} {{.State.Pid}}",
        &id,
    ]);
    let mut w = insp.split_whitespace();
    assert_eq!(w.next(), Some(&id[..12]));
    assert_eq!(w.next(), Some("true"));
    let pid: i32 = w.next().unwrap().parse().unwrap();
    // Its own namespaces: not the host's.
    for ns in ["mnt", "pid", "uts", "ipc", "net", "cgroup"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_ne!(mine, theirs, "{ns} namespace shared with the host");
    }
    r.ok(&["rm", "-f", &id]);
    r.assert_no_leftovers();
}

#[test]
fn cgroup_limits_reach_the_kernel() {
    let r = root_with_busybox();
    let id = r
        .ok(&[
            "run",
            "-d",
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "--cpu-shares",
            "512",
            "busybox",
            "sleep",
            "30",
        ])
        .trim()
        .to_string();
    let cg = |ctrl: &str, file: &str| -> String {
        let v1 = format!("/sys/fs/cgroup/{ctrl}/berth/{id}/{file}");
        std::fs::read_to_string(&v1)
            .unwrap_or_else(|e| panic!("{v1}: {e}"))
            .trim()
            .to_string()
    };
    if std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        assert_eq!(
            cg("memory", "memory.limit_in_bytes"),
            (64 << 20).to_string()
        );
        assert_eq!(cg("pids", "pids.max"), "20");
        assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(cg("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(cg("cpu", "cpu.shares"), "512");
    }
    let hc = r.ok(&["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", &id]);
    assert_eq!(
        hc.trim(),
        format!("{} {} 500000000 20", 64 << 20, 128 << 20)
    );
    r.ok(&["rm", "-f", &id]);
    r.assert_no_leftovers();

    // Bad values: docker's words and exit codes, and nothing created.
    let o = r.run(&["run", "--rm", "-m", "x", "busybox", "true"]);
    assert_eq!(o.code, 125);
    assert_eq!(
        o.stderr,
        "invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'\nSee 'berth run --help'.\n"
    );
    let o = r.run(&["run", "--rm", "-m", "1k", "busybox", "true"]);
    assert_eq!(o.code, 125);
    assert_eq!(
        o.stderr,
        "berth: Error response from daemon: Minimum memory limit allowed is 6MB.\nSee 'berth run --help'.\n"
    );
    let o = r.run(&["create", "--cpus", "100", "busybox", "true"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("Error response from daemon: Range of CPUs is from 0.01 to"),
        "{}",
        o.stderr
    );
    assert_eq!(r.ok(&["ps", "-aq"]), "");
}

#[test]
fn detached_lifecycle_stop_kill_wait_rm() {
    let r = root_with_busybox();
    let id = r
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "trap 'echo bye; exit 7' TERM; echo hello; while :; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    wait_until("hello in logs", || r.ok(&["logs", "web"]) == "hello\n");
    let ps = r.ok(&["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert!(
        lines[0].starts_with("CONTAINER ID   IMAGE     COMMAND"),
        "{ps}"
    );
    assert!(
        lines[1].starts_with(&id[..12]) && lines[1].contains(" Up ") && lines[1].ends_with("web"),
        "{ps}"
    );
    assert_eq!(r.ok(&["ps", "-q"]).trim(), &id[..12]);
    assert_eq!(
        r.ok(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "web running\n"
    );

    let o = r.run(&["rm", "web"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("Error response from daemon: You cannot remove a running container {id}. Stop the container before attempting removal or force remove\n")
    );
    let o = r.run(&["run", "-d", "--name", "web", "busybox", "true"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr.contains(&format!(
            "Conflict. The container name \"/web\" is already in use by container \"{id}\""
        )),
        "{}",
        o.stderr
    );

    assert_eq!(r.ok(&["stop", "web"]), "web\n");
    assert_eq!(r.ok(&["wait", "web"]), "7\n");
    assert_eq!(r.ok(&["logs", "web"]), "hello\nbye\n");
    let st = r.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Pid}}",
        "web",
    ]);
    assert_eq!(st.trim(), "exited 7 false 0");
    assert!(r.ok(&["ps", "-a"]).contains("Exited (7) "));
    assert_eq!(r.ok(&["ps", "-q"]), "");
    let o = r.run(&["kill", "web"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, format!("Error response from daemon: Cannot kill container: web: Container {id} is not running\n"));
    r.assert_no_leftovers();

    // start again, then kill -s and wait.
    assert_eq!(r.ok(&["start", "web"]), "web\n");
    wait_until("restart", || {
        r.ok(&["logs", "web"]) == "hello\nbye\nhello\n"
    });
    r.ok(&["kill", "-s", "TERM", "web"]);
    assert_eq!(r.ok(&["wait", "web"]), "7\n");
    r.ok(&["rename", "web", "web2"]);
    assert_eq!(r.ok(&["ps", "-a", "--format", "{{.Names}}"]), "web2\n");
    assert_eq!(r.ok(&["rm", "web2"]), "web2\n");
    let o = r.run(&["rm", "web2"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error: No such container: web2\n")
    );
    r.assert_no_leftovers();
}

#[test]
fn detached_rm_removes_itself() {
    let r = root_with_busybox();
    let id = r
        .ok(&["run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.2"])
        .trim()
        .to_string();
    wait_until("auto-removal", || {
        r.ok(&["ps", "-aq", "--no-trunc"]).is_empty()
    });
    assert!(!r.path().join("containers").join(&id).exists());
    r.assert_no_leftovers();
}

/// Find the monitor of a container: the parent of its init.
fn monitor_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn killed_monitor_or_cli_is_repaired() {
    let r = root_with_busybox();
    // SIGKILL of the monitor: the next command notices, the container's
    // processes are killed, its mount and cgroups go, and ps is truthful.
    let id = r
        .ok(&["run", "-d", "busybox", "sleep", "300"])
        .trim()
        .to_string();
    let pid: i32 = r
        .ok(&["inspect", "-f", "{{.State.Pid}}", &id])
        .trim()
        .parse()
        .unwrap();
    let mon = monitor_of(pid);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{mon}/comm"))
            .unwrap()
            .trim(),
        "berth-monitor"
    );
    unsafe_kill(mon, 9);
    wait_until("monitor gone", || {
        !std::path::Path::new(&format!("/proc/{mon}")).exists()
            || std::fs::read_to_string(format!("/proc/{mon}/stat"))
                .map(|s| s.contains(") Z"))
                .unwrap_or(true)
    });
    let st = r.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(st.starts_with("Exited (255)"), "{st}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z"))
                .unwrap_or(true),
        "container init survived its monitor"
    );
    r.ok(&["rm", &id]);
    r.assert_no_leftovers();

    // SIGKILL of an attached `berth run`: the container lives on under its
    // monitor, which records the exit and cleans up by itself.
    let mut child = r
        .cmd()
        .args([
            "run",
            "--name",
            "att",
            "busybox",
            "sh",
            "-c",
            "sleep 1; exit 5",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("attached container running", || {
        r.ok(&["ps", "--format", "{{.Names}}"]) == "att\n"
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.ok(&["wait", "att"]), "5\n");
    wait_until("monitor cleanup", || {
        !r.dir.path().join("run/containers").exists()
            || std::fs::read_dir(r.dir.path().join("run/containers"))
                .unwrap()
                .count()
                == 0
    });
    r.ok(&["rm", "att"]);
    r.assert_no_leftovers();
}

fn unsafe_kill(pid: i32, sig: i32) {
    std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

#[test]
fn inspect_has_dockers_shape() {
    let r = root_with_busybox();
    let id = r
        .ok(&[
            "create", "--name", "shape", "busybox", "sh", "-c", "echo hi",
        ])
        .trim()
        .to_string();
    let ours: serde_json::Value = serde_json::from_str(&r.ok(&["inspect", &id])).unwrap();
    let docker: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::repo_root().join("crates/berth/tests/fixtures/docker20-inspect-container.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&ours[0]), keys(&docker[0]));
    for k in ["State", "HostConfig"] {
        assert_eq!(keys(&ours[0][k]), keys(&docker[0][k]), "{k}");
    }
    assert_eq!(ours[0]["Name"], "/shape");
    assert_eq!(ours[0]["Path"], "sh");
    assert_eq!(ours[0]["Args"], serde_json::json!(["-c", "echo hi"]));
    assert_eq!(ours[0]["State"]["Status"], "created");
    assert_eq!(ours[0]["State"]["StartedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        ours[0]["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "echo hi"])
    );
    assert_eq!(ours[0]["Config"]["Image"], "busybox");
    assert_eq!(r.ok(&["start", "-a", "shape"]), "hi\n");
    let o = r.run(&["inspect", "nothing-here"]);
    assert_eq!(
        (o.code, o.stderr.as_str(), o.stdout.as_str()),
        (1, "Error: No such object: nothing-here\n", "[]\n")
    );
}

#[test]
fn images_in_use_are_kept() {
    let r = root_with_busybox();
    let id = r.ok(&["create", "busybox", "true"]).trim().to_string();
    let img = r
        .ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
        .trim()
        .to_string();
    let short = &img[7..19];
    let o = r.run(&["rmi", "busybox"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("Error response from daemon: conflict: unable to remove repository reference \"busybox\" (must force) - container {} is using its referenced image {short}\n", &id[..12])
    );
    let o = r.run(&["rmi", short]);
    assert_eq!(
        o.stderr,
        format!("Error response from daemon: conflict: unable to delete {short} (must be forced) - image is being used by stopped container {}\n", &id[..12])
    );
    // -f only untags; the container still starts from the dangling image.
    assert_eq!(
        r.ok(&["rmi", "-f", "busybox"]),
        "Untagged: busybox:latest\n"
    );
    r.ok(&["image", "prune", "-f"]);
    r.ok(&["start", "-a", &id]);
    assert_eq!(r.ok(&["ps", "-a", "--format", "{{.Image}}"]).trim(), short);
}

#[test]
fn any_oci_runtime_binary_works() {
    if !std::path::Path::new("/usr/sbin/runc").exists() {
        eprintln!("skipping: no runc");
        return;
    }
    let r = root_with_busybox();
    let o = r.run(&[
        "run",
        "--rm",
        "--runtime",
        "/usr/sbin/runc",
        "busybox",
        "sh",
        "-c",
        "echo via-runc; exit 4",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (4, "via-runc\n"),
        "{}",
        o.stderr
    );
    let id = r
        .ok(&[
            "run",
            "-d",
            "--runtime",
            "/usr/sbin/runc",
            "busybox",
            "sleep",
            "30",
        ])
        .trim()
        .to_string();
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.HostConfig.Runtime}}", &id])
            .trim(),
        "/usr/sbin/runc"
    );
    r.ok(&["stop", "-t", "0", &id]);
    r.ok(&["rm", &id]);
    let o = r.run(&["run", "--rm", "--runtime", "/nope/runc", "busybox", "true"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr.contains("Unknown runtime specified /nope/runc"),
        "{}",
        o.stderr
    );
    r.assert_no_leftovers();
}

#[test]
fn concurrent_runs_claim_names_once() {
    let r = root_with_busybox();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let mut c = r.cmd();
            let name = if i % 2 == 0 {
                "same".to_string()
            } else {
                format!("c{i}")
            };
            c.args(["run", "-d", "--name", &name, "busybox", "sleep", "30"]);
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let codes: Vec<i32> = handles
        .into_iter()
        .map(|h| h.wait_with_output().unwrap().status.code().unwrap())
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 5, "{codes:?}");
    let mut names: Vec<String> = r
        .ok(&["ps", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    assert_eq!(names, ["c1", "c3", "c5", "c7", "same"]);
    let ids = r.ok(&["ps", "-aq"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let mut args = vec!["rm", "-f"];
    args.extend(ids);
    r.ok(&args);
    r.assert_no_leftovers();
}

#[test]
fn exec_into_running_container() {
    let r = root_with_busybox();
    r.ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        "-e",
        "FROM_RUN=1",
        "busybox",
        "sleep",
        "60",
    ]);
    let o = r.run(&[
        "exec",
        "ex",
        "sh",
        "-c",
        "echo out; echo err >&2; echo $FROM_RUN; exit 4",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (4, "out\n1\n", "err\n")
    );
    // Same PID namespace as the container: its init is PID 1 there.
    assert_eq!(
        r.ok(&["exec", "ex", "cat", "/proc/1/cmdline"]),
        "sleep\u{0}60\u{0}"
    );
    assert_eq!(
        r.ok(&[
            "exec",
            "-w",
            "/tmp",
            "-e",
            "X=y",
            "ex",
            "sh",
            "-c",
            "pwd; echo $X"
        ]),
        "/tmp\ny\n"
    );
    assert_eq!(
        r.ok(&["exec", "-u", "1000:1000", "ex", "id", "-u"]),
        "1000\n"
    );
    assert_eq!(
        r.run_stdin(&["exec", "-i", "ex", "cat"], b"piped\n").stdout,
        "piped\n"
    );
    let o = r.run(&["exec", "ex", "nosuch"]);
    assert_eq!(o.code, 126);
    assert_eq!(
        o.stderr,
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH: unknown\n"
    );
    let o = r.run(&["exec", "-u", "nobody9", "ex", "true"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            126,
            "unable to find user nobody9: no matching entries in passwd file\n"
        )
    );
    let caps = r.ok(&["exec", "ex", "grep", "CapEff", "/proc/self/status"]);
    let priv_caps = r.ok(&[
        "exec",
        "--privileged",
        "ex",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_ne!(caps, priv_caps);
    r.ok(&["exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d"]);
    wait_until("detached exec", || {
        r.run(&["exec", "ex", "cat", "/tmp/d"]).stdout == "detached\n"
    });
    let o = r.run(&["exec", "nosuch", "true"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error: No such container: nosuch\n")
    );
    r.ok(&["stop", "-t", "0", "ex"]);
    let o = r.run(&["exec", "ex", "true"]);
    let id = r.ok(&["inspect", "-f", "{{.Id}}", "ex"]).trim().to_string();
    assert_eq!(
        (o.code, o.stderr),
        (
            1,
            format!("Error response from daemon: Container {id} is not running\n")
        )
    );
    r.ok(&["rm", "ex"]);
    r.assert_no_leftovers();
}

#[test]
fn attach_logs_follow_pause_restart_prune() {
    let r = root_with_busybox();
    r.ok(&[
        "run",
        "-d",
        "--name",
        "aa",
        "busybox",
        "sh",
        "-c",
        "sleep 1; echo late; exit 6",
    ]);
    let o = r.run(&["attach", "aa"]);
    assert_eq!((o.code, o.stdout.as_str()), (6, "late\n"));
    let o = r.run(&["attach", "aa"]);
    assert_eq!((o.code, o.stderr.as_str()), (1, "Error response from daemon: You cannot attach to a stopped container, start it first\n"));

    // logs -f follows until the container stops.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "ff",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done",
    ]);
    assert_eq!(r.ok(&["logs", "-f", "ff"]), "1\n2\n3\n");
    assert_eq!(r.ok(&["logs", "--tail", "1", "ff"]), "3\n");
    let ts = r.ok(&["logs", "-t", "ff"]);
    assert!(
        ts.lines().all(|l| l.len() > 31 && l.as_bytes()[10] == b'T'),
        "{ts}"
    );

    r.ok(&["run", "-d", "--name", "pp", "busybox", "sleep", "60"]);
    r.ok(&["pause", "pp"]);
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "pp"])
            .trim(),
        "paused true"
    );
    assert!(r
        .ok(&["ps", "--format", "{{.Status}}"])
        .contains("(Paused)"));
    let o = r.run(&["exec", "pp", "true"]);
    assert!(
        o.stderr
            .contains("is paused, unpause the container before exec"),
        "{}",
        o.stderr
    );
    r.ok(&["unpause", "pp"]);
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Status}}", "pp"]).trim(),
        "running"
    );
    let pid1 = r.ok(&["inspect", "-f", "{{.State.Pid}}", "pp"]);
    assert_eq!(r.ok(&["restart", "-t", "0", "pp"]), "pp\n");
    let pid2 = r.ok(&["inspect", "-f", "{{.State.Pid}}", "pp"]);
    assert_ne!(pid1, pid2);
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Running}}", "pp"]).trim(),
        "true"
    );
    r.ok(&["rm", "-f", "pp"]);

    let pruned = r.ok(&["container", "prune", "-f"]);
    assert!(pruned.starts_with("Deleted Containers:\n"), "{pruned}");
    assert_eq!(pruned.lines().filter(|l| l.len() == 64).count(), 2);
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    r.assert_no_leftovers();
}

#[test]
fn run_options_reach_the_container() {
    let r = root_with_busybox();
    let envf = r.dir.path().join("env");
    std::fs::write(&envf, "# comment\nA=from-file\nB=b\n").unwrap();
    let cid = r.dir.path().join("cid");
    let out = r.ok(&[
        "run",
        "--rm",
        "--env-file",
        envf.to_str().unwrap(),
        "-e",
        "B=flag",
        "--cidfile",
        cid.to_str().unwrap(),
        "--ulimit",
        "nofile=100:200",
        "--read-only",
        "--init",
        "-l",
        "k=v",
        "busybox",
        "sh",
        "-c",
        "echo $A $B; ulimit -n; ulimit -Hn; touch /x 2>/dev/null || echo ro; cat /proc/1/comm",
    ]);
    assert_eq!(out, "from-file flag\n100\n200\nro\ndocker-init\n");
    assert_eq!(std::fs::read_to_string(&cid).unwrap().len(), 64);
    // -a stdout: stderr is not attached.
    let o = r.run(&[
        "run",
        "--rm",
        "-a",
        "stdout",
        "busybox",
        "sh",
        "-c",
        "echo o; echo e >&2",
    ]);
    assert_eq!((o.stdout.as_str(), o.stderr.as_str()), ("o\n", ""));
    // --sysctl in the container's own namespaces.
    let o = r.ok(&[
        "run",
        "--rm",
        "--sysctl",
        "kernel.shmmax=12345678",
        "busybox",
        "cat",
        "/proc/sys/kernel/shmmax",
    ]);
    assert_eq!(o, "12345678\n");
    // stdin with -i; a tty with -t shows in the container as a terminal.
    assert_eq!(
        r.run_stdin(&["run", "--rm", "-i", "busybox", "cat"], b"in\n")
            .stdout,
        "in\n"
    );
    // --entrypoint replaces the image's, and the command follows it.
    assert_eq!(
        r.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]),
        "a b\n"
    );
    // create + start -a
    let id = r
        .ok(&["create", "--name", "later", "busybox", "echo", "started"])
        .trim()
        .to_string();
    assert_eq!(r.ok(&["ps", "-a", "--format", "{{.Status}}"]), "Created\n");
    assert_eq!(r.ok(&["start", "-a", "later"]), "started\n");
    r.ok(&["rm", &id]);
    r.assert_no_leftovers();
}

/// SIGKILL of `berth run -d` at any moment of create/start: afterwards no
/// container is left running unrecorded, and removal leaves nothing behind.
#[test]
fn killed_run_at_any_moment_leaks_nothing() {
    let r = root_with_busybox();
    for delay_ms in [2u64, 6, 10, 15, 20, 30, 45, 60, 90, 140] {
        let mut child = r
            .cmd()
            .args(["run", "-d", "busybox", "sleep", "100"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    // Every container ps reports is either running under a live monitor or
    // not running at all; rm -f of all of them must clean everything.
    let ids = r.ok(&["ps", "-aq", "--no-trunc"]);
    for id in ids.split_whitespace() {
        r.ok(&["rm", "-f", id]);
    }
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    r.assert_no_leftovers();
    // No berth-monitor of this root survives.
    let root = r.path().display().to_string();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        assert!(
            !(cmd.starts_with("berth-monitor") && cmd.contains(&root)),
            "leaked monitor {cmd}"
        );
    }
}

/// A reboot: every process gone, the run root wiped, mounts gone. The next
/// command reports the container exited (255) and removal works.
#[test]
fn survives_a_wiped_run_root() {
    let r = root_with_busybox();
    let id = r
        .ok(&["run", "-d", "--name", "boot", "busybox", "sleep", "300"])
        .trim()
        .to_string();
    let pid: i32 = r
        .ok(&["inspect", "-f", "{{.State.Pid}}", &id])
        .trim()
        .parse()
        .unwrap();
    let mon = monitor_of(pid);
    unsafe_kill(mon, 9);
    unsafe_kill(pid, 9);
    wait_until("processes gone", || {
        [mon, pid].iter().all(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| s.contains(") Z"))
                .unwrap_or(true)
        })
    });
    let run = r.dir.path().join("run");
    let rootfs = run.join("containers").join(&id).join("rootfs");
    // A reboot takes every mount: the rootfs and the pinned netns.
    for m in [rootfs, run.join("netns").join(&id)] {
        std::process::Command::new("umount")
            .arg("-l")
            .arg(&m)
            .status()
            .unwrap();
    }
    std::fs::remove_dir_all(&run).unwrap();
    let st = r.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(st.starts_with("boot Exited (255)"), "{st}");
    // It can even start again, as after a real reboot.
    r.ok(&["start", "boot"]);
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Running}}", "boot"])
            .trim(),
        "true"
    );
    r.ok(&["rm", "-f", "boot"]);
    r.assert_no_leftovers();
}

#[test]
fn stop_signal_and_timeout() {
    let r = root_with_busybox();
    // The container exits cleanly on USR1 only; stop must send USR1.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "sig",
        "--stop-signal",
        "SIGUSR1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' USR1; trap '' TERM; while :; do sleep 0.1; done",
    ]);
    let t = Instant::now();
    r.ok(&["stop", "sig"]);
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop waited for the timeout"
    );
    assert_eq!(
        r.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.Config.StopSignal}}",
            "sig"
        ])
        .trim(),
        "0 SIGUSR1"
    );
    // --stop-timeout 1 with a container that ignores TERM: SIGKILL after ~1 s.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "stub",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while :; do sleep 0.1; done",
    ]);
    let t = Instant::now();
    r.ok(&["stop", "stub"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.ExitCode}}", "stub"])
            .trim(),
        "137"
    );
    let o = r.run(&["run", "--rm", "--stop-signal", "NOPE", "busybox", "true"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            125,
            "berth: Error response from daemon: Invalid signal: NOPE.\nSee 'berth run --help'.\n"
        )
    );
    r.ok(&["rm", "sig", "stub"]);
    r.assert_no_leftovers();
}

/// `run -it` through a real pseudo-terminal (util-linux `script`): the
/// container sees a tty, and ctrl-p ctrl-q detaches leaving it running.
#[test]
fn interactive_tty_and_detach_keys() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: no script(1)");
        return;
    }
    let r = root_with_busybox();
    let berth = format!(
        "{} --root {} --runroot {}",
        common::BERTH,
        r.path().display(),
        r.dir.path().join("run").display()
    );
    // script(1) gives berth a terminal; its own stdin stays open (a pipe
    // we hold) so it does not hang the terminal up early.
    let mut child = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{berth} run --rm -it busybox sh -c 'tty; exit 3'"),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _keep_stdin = child.stdin.take();
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{out}");
    assert!(out.contains("/dev/pts/0"), "{out}");
    // Detach: feed ctrl-p ctrl-q after the shell is up.
    let mut child = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{berth} run -it --name det busybox sh"),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("tty container up", || {
        r.run(&["ps", "--format", "{{.Names}}"]).stdout == "det\n"
    });
    std::thread::sleep(Duration::from_millis(300));
    use std::io::Write;
    child.stdin.as_mut().unwrap().write_all(&[16, 17]).unwrap();
    let st = child.wait().unwrap();
    assert!(st.success(), "detach did not end the client cleanly");
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Running}}", "det"]).trim(),
        "true"
    );
    r.ok(&["rm", "-f", "det"]);
    r.assert_no_leftovers();
}

#[test]
fn restart_policies() {
    let r = root_with_busybox();
    r.ok(&[
        "run",
        "-d",
        "--name",
        "fails",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_until("two restarts", || {
        r.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Running}}",
            "fails",
        ])
        .trim()
            == "2 false"
    });
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        r.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.ExitCode}}",
            "fails"
        ])
        .trim(),
        "2 3"
    );
    r.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3",
    ]);
    wait_until("a restart", || {
        r.ok(&["inspect", "-f", "{{.RestartCount}}", "always"])
            .trim()
            != "0"
    });
    // Stopped by the user: stays down.
    r.ok(&["stop", "-t", "0", "always"]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Running}}", "always"])
            .trim(),
        "false"
    );
    let o = r.run(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr.contains("Conflicting options: --restart and --rm"),
        "{}",
        o.stderr
    );
    r.ok(&["rm", "-f", "fails", "always"]);
    r.assert_no_leftovers();
}

/// json-file logs rotate by --log-opt, and `logs` reads across the files.
#[test]
fn log_rotation() {
    let r = root_with_busybox();
    let id = r
        .ok(&[
            "run",
            "-d",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done",
        ])
        .trim()
        .to_string();
    assert_eq!(r.ok(&["wait", &id]), "0\n");
    let dir = r.path().join("containers").join(&id);
    let log = dir.join(format!("{id}-json.log"));
    assert!(std::fs::metadata(&log).unwrap().len() <= 1100);
    assert!(dir.join(format!("{id}-json.log.1")).exists());
    assert!(dir.join(format!("{id}-json.log.2")).exists());
    assert!(!dir.join(format!("{id}-json.log.3")).exists());
    // The last lines survive, in order, across files.
    let out = r.ok(&["logs", &id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"line-199"));
    assert!(lines.windows(2).all(|w| {
        let n = |s: &str| s.trim_start_matches("line-").parse::<u32>().unwrap();
        n(w[1]) == n(w[0]) + 1
    }));
    assert_eq!(r.ok(&["logs", "--tail", "2", &id]), "line-198\nline-199\n");
    let o = r.run(&["run", "--rm", "--log-opt", "max-size=-1", "busybox", "true"]);
    assert_eq!(o.code, 125, "{}", o.stderr);
    r.ok(&["rm", &id]);
    r.assert_no_leftovers();
}

/// `-u uid:gid` makes gid the only supplementary group too, as
/// `docker run -u 2000:3000 busybox id` prints `groups=3000` (Docker 20.10).
#[test]
fn explicit_group_is_the_supplementary_group() {
    let r = Root::new();
    r.busybox("busybox");
    assert_eq!(
        r.ok(&["run", "--rm", "-u", "2000:3000", "busybox", "id", "-G"]),
        "3000\n"
    );
    assert_eq!(
        r.ok(&["run", "--rm", "-u", "2000", "busybox", "id", "-G"]),
        "0\n"
    );
    r.assert_no_leftovers();
}

/// berth's own processes ignore SIGPIPE (Rust does); a container must
/// start with default dispositions, or `yes | head` never ends.
#[test]
fn container_processes_start_with_default_signals() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let o = r.run(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "-E",
        "Sig(Ign|Blk)",
        "/proc/self/status",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
    r.ok(&["run", "-d", "--name", "sig", "busybox", "sleep", "60"]);
    let o = r.run(&["exec", "sig", "grep", "SigIgn", "/proc/self/status"]);
    assert_eq!(o.stdout, "SigIgn:\t0000000000000000\n", "{}", o.stderr);
    r.ok(&["rm", "-f", "sig"]);
    r.assert_no_leftovers();
}
