//! `top`, `stats`, `port` and `ps -s` on real containers, each test on its
//! own root; outputs and errors pinned against docker 20.10.
#![allow(clippy::unwrap_used)]

mod common;

use common::{root_with_busybox, Root};

/// `run -d`, returning the full id.
fn run_d(r: &Root, args: &[&str]) -> String {
    let mut a = vec!["run", "-d"];
    a.extend_from_slice(args);
    r.ok(&a).trim().to_string()
}

fn pid_of(r: &Root, name: &str) -> String {
    r.ok(&["inspect", "-f", "{{.State.Pid}}", name])
        .trim()
        .to_string()
}

/// The docker CLI prints `top` with a tabwriter of minwidth 20, padding 3.
const TOP_HEADER: &str = "UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD";

#[test]
fn top_lists_the_containers_processes_only() {
    let r = root_with_busybox();
    let id = run_d(&r, &["--name", "topper", "busybox", "sleep", "31337"]);
    run_d(&r, &["--name", "other", "busybox", "sleep", "31338"]);
    // (A detached exec keeps the caller's stdio today: don't wait for EOF.)
    let st = r
        .cmd()
        .args(["exec", "-d", "topper", "sleep", "31339"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pid = pid_of(&r, "topper");

    let mut out = String::new();
    for _ in 0..100 {
        out = r.ok(&["top", "topper"]);
        if out.contains("sleep 31339") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], TOP_HEADER, "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let init = lines.iter().find(|l| l.ends_with("sleep 31337")).unwrap();
    // Columns are padded to 20: the PID starts at column 20.
    assert_eq!(init[20..].split(' ').next().unwrap(), pid);
    assert!(init.starts_with("root                "), "{init}");
    assert!(
        out.contains("sleep 31339"),
        "exec'd process missing:\n{out}"
    );
    assert!(
        !out.contains("31338"),
        "another container's process:\n{out}"
    );

    // ps options pass through; `container top` is the same command.
    let out = r.ok(&["container", "top", &id[..12], "-o", "pid,args"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "PID                 COMMAND");
    assert!(lines[1..]
        .iter()
        .any(|l| *l == format!("{pid:<20}sleep 31337")));

    // Errors in dockerd's words.
    let o = r.run(&["top", "topper", "-o", "user=PID"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "Error response from daemon: specifying \"user=PID\" is not allowed\n"
    );
    let o = r.run(&["top", "topper", "-o", "comm"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "Error response from daemon: Couldn't find PID field in ps output\n"
        )
    );
    let o = r.run(&["top", "topper", "--bogus"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "Error response from daemon: ps: error: unknown gnu long option\n"
    );
    let o = r.run(&["top", "nosuch"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error response from daemon: No such container: nosuch\n")
    );
    let created = r.ok(&["create", "busybox", "true"]).trim().to_string();
    let o = r.run(&["top", &created]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("Error response from daemon: Container {created} is not running\n")
    );
    let o = r.run(&["top", "--bogus", "topper"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr.starts_with("unknown flag: --bogus\n"),
        "{}",
        o.stderr
    );

    r.ok(&["rm", "-f", "topper", "other", &created]);
    r.assert_no_leftovers();
}

const STATS_HEADER: &str =
    "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS";

#[test]
fn stats_no_stream_reads_the_cgroups() {
    let r = root_with_busybox();
    let id = run_d(
        &r,
        &[
            "--name",
            "limited",
            "--network",
            "none",
            "-m",
            "64m",
            "busybox",
            "sh",
            "-c",
            "sleep 1000 & sleep 1001",
        ],
    );
    run_d(
        &r,
        &[
            "--name",
            "busy",
            "--network",
            "none",
            "--cpus",
            "0.5",
            "busybox",
            "sh",
            "-c",
            "while :; do :; done",
        ],
    );
    let created = r
        .ok(&["create", "--name", "idle", "busybox", "true"])
        .trim()
        .to_string();

    let out = r.ok(&["stats", "--no-stream"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], STATS_HEADER);
    assert_eq!(lines.len(), 3, "running containers only:\n{out}");
    let row = lines.iter().find(|l| l.starts_with(&id[..12])).unwrap();
    assert!(row.contains("   limited   "), "{row}");
    assert!(row.contains(" / 64MiB "), "{row}");
    assert!(row.contains("   0B / 0B   "), "only loopback: {row}");
    assert!(row.ends_with("   2"), "{row}");

    // Every placeholder, one container per line.
    let f = "{{.Container}}|{{.Name}}|{{.ID}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}";
    let out = r.ok(&["stats", "--no-stream", "--format", f, "limited", "busy"]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    let (lim, busy) = (&rows[0], &rows[1]);
    assert_eq!(lim[0], "limited");
    assert_eq!(lim[1], "limited");
    assert_eq!(lim[2], &id[..12]);
    let cpu = |s: &str| s.strip_suffix('%').unwrap().parse::<f64>().unwrap();
    assert!(cpu(lim[3]) >= 0.0);
    let (usage, limit) = lim[4].split_once(" / ").unwrap();
    assert_eq!(limit, "64MiB");
    assert!(usage.ends_with("iB") || usage.ends_with('B'), "{usage}");
    assert!(cpu(lim[5]) > 0.0 && cpu(lim[5]) < 100.0, "{}", lim[5]);
    assert_eq!(lim[6], "0B / 0B");
    assert!(lim[7].contains(" / "), "{}", lim[7]);
    assert_eq!(lim[8], "2");
    // Half a CPU spinning shows as roughly 50%.
    assert!(cpu(busy[3]) > 5.0, "busy container at {}", busy[3]);
    assert!(cpu(busy[3]) < 75.0, "busy container at {}", busy[3]);
    // No limit: the host's memory.
    assert_ne!(busy[4].split_once(" / ").unwrap().1, "0B");

    let out = r.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]);
    let mut names: Vec<&str> = out.lines().collect();
    names.sort();
    assert_eq!(names, ["busy 1", "limited 2"]);

    // -a adds the stopped one, with docker's zeros; --no-trunc the full ID.
    let out = r.ok(&["container", "stats", "--no-stream", "-a", "--no-trunc"]);
    let row = out.lines().find(|l| l.starts_with(&created)).unwrap();
    assert_eq!(
        row,
        format!(
            "{created}   idle      0.00%     0B / 0B             0.00%     0B / 0B   0B / 0B     0"
        )
    );
    let o = r.run(&["stats", "--no-stream", "limited", "nosuch"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.stderr,
        "Error response from daemon: No such container: nosuch\n"
    );

    r.ok(&["rm", "-f", "limited", "busy", "idle"]);
    r.assert_no_leftovers();
}

#[test]
fn stats_streams_until_interrupted() {
    let r = root_with_busybox();
    run_d(&r, &["--name", "streamer", "busybox", "sleep", "1000"]);
    let mut child = r
        .cmd()
        .args(["stats", "--format", "{{.Name}} {{.PIDs}}", "streamer"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2600));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Not a terminal: plain repeated tables, no screen clearing.
    assert!(!text.contains('\x1b'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text:?}");
    assert!(lines.iter().all(|l| *l == "streamer 1"), "{text:?}");
    r.ok(&["rm", "-f", "streamer"]);
    r.assert_no_leftovers();
}

#[test]
fn port_without_published_ports() {
    let r = root_with_busybox();
    let id = run_d(&r, &["--name", "web", "busybox", "sleep", "1000"]);
    let o = r.run(&["port", "web"]);
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    let o = r.run(&["port", "web", "80"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.stderr,
        "Error: No public port '80/tcp' published for web\n"
    );
    // The container as given, the port as typed.
    let o = r.run(&["container", "port", &id[..6], "080/udp"]);
    assert_eq!(
        o.stderr,
        format!(
            "Error: No public port '080/udp' published for {}\n",
            &id[..6]
        )
    );
    for (arg, err) in [
        ("abc", "strconv.ParseUint: parsing \"abc\": invalid syntax"),
        (
            "70000",
            "strconv.ParseUint: parsing \"70000\": value out of range",
        ),
        ("80-79", "Invalid range specified for the Port: 80-79"),
    ] {
        let o = r.run(&["port", "web", arg]);
        assert_eq!((o.code, o.stderr.trim_end()), (1, err));
    }
    let o = r.run(&["port", "nosuch"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error: No such container: nosuch\n")
    );
    let o = r.run(&["port", "web", "-1"]);
    assert_eq!(o.code, 125);
    r.ok(&["rm", "-f", "web"]);
    r.assert_no_leftovers();
}

#[test]
fn ps_size_counts_the_writable_layer() {
    let r = root_with_busybox();
    run_d(&r, &["--name", "writer", "busybox", "sleep", "1000"]);
    let image = r
        .ok(&["images", "--format", "{{.Size}}", "busybox"])
        .trim()
        .to_string();
    let size = || {
        r.ok(&["ps", "-a", "--format", "{{.Size}}"])
            .trim()
            .to_string()
    };
    assert_eq!(size(), format!("0B (virtual {image})"));

    r.ok(&[
        "exec",
        "writer",
        "dd",
        "if=/dev/zero",
        "of=/big",
        "bs=1048576",
        "count=1",
    ]);
    // 1048576 bytes, three significant digits as go-units prints them; the
    // virtual size is the image's plus the writable layer's.
    let s = size();
    let (rw, virt) = s.split_once(" (virtual ").unwrap();
    assert_eq!(rw, "1.05MB");
    let mb = |v: &str| {
        v.trim_end_matches(')')
            .trim_end_matches("MB")
            .parse::<f64>()
            .unwrap()
    };
    assert!(image.ends_with("MB"), "{image}");
    assert!(
        (mb(virt) - mb(&image) - 1.05).abs() < 0.02,
        "{s} vs {image}"
    );

    // The SIZE column of `ps -s`, and the size stays after a stop.
    let out = r.ok(&["ps", "-s"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with("   NAMES     SIZE"), "{out}");
    assert!(lines[1].ends_with(&format!("writer    {s}")), "{out}");
    r.ok(&["stop", "-t", "0", "writer"]);
    assert_eq!(size(), s);
    let out = r.ok(&["ps", "-a", "--format", "{{json .}}"]);
    assert!(out.contains(&format!("\"Size\":\"{s}\"")), "{out}");

    r.ok(&["rm", "-f", "writer"]);
    r.assert_no_leftovers();
}
