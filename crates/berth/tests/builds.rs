//! `berth build` end to end: real RUN containers, the layer cache, outputs,
//! failures that change nothing. Each test has its own root and context.
//! Expected history strings and error words were taken from Docker 20.10's
//! BuildKit building the same files.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::Root;

fn ctx(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("berth-build-ctx-")
        .tempdir()
        .unwrap();
    for (name, body) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    d
}

fn build(r: &Root, dir: &Path, extra: &[&str]) -> common::Out {
    let mut args = vec!["build", "--progress=plain"];
    args.extend_from_slice(extra);
    let d = dir.display().to_string();
    args.push(&d);
    r.run(&args)
}

fn history(r: &Root, image: &str) -> Vec<String> {
    r.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        image,
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

fn leftovers(r: &Root) {
    r.assert_no_leftovers();
    assert_eq!(r.tmp_entries(), 0, "scratch left in tmp/");
    let rt = r.dir.path().join("run/runtime/berth-build-steps");
    if let Ok(rd) = std::fs::read_dir(&rt) {
        let left: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "runtime state left: {left:?}");
    }
}

#[test]
fn builds_config_history_and_files_like_buildkit() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[
        ("a.txt", "hi\n"),
        (
            "Dockerfile",
            "FROM busybox:local AS base\nENV A=1 B=\"x y\"\nWORKDIR /app\nARG V=3\nRUN echo $V > v.txt\nCOPY a.txt .\nEXPOSE 80/tcp 90\nLABEL x=y\nUSER 1000\nVOLUME /data\nHEALTHCHECK --interval=5s CMD true\nSTOPSIGNAL SIGTERM\nENTRYPOINT [\"sh\"]\n",
        ),
    ]);
    let o = build(&r, c.path(), &["-t", "t1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("[3/4] RUN echo 3 > v.txt"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("naming to docker.io/library/t1"),
        "{}",
        o.stderr
    );
    let h = history(&r, "t1");
    let want = [
        "ENTRYPOINT [\"sh\"]|buildkit.dockerfile.v0",
        "STOPSIGNAL SIGTERM|buildkit.dockerfile.v0",
        "HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"0s\" \"0s\" '\\x00'}|buildkit.dockerfile.v0",
        "VOLUME [/data]|buildkit.dockerfile.v0",
        "USER 1000|buildkit.dockerfile.v0",
        "LABEL x=y|buildkit.dockerfile.v0",
        "EXPOSE map[80/tcp:{} 90/tcp:{}]|buildkit.dockerfile.v0",
        "COPY a.txt . # buildkit|buildkit.dockerfile.v0",
        "RUN |1 V=3 /bin/sh -c echo $V > v.txt # buildkit|buildkit.dockerfile.v0",
        "ARG V=3|buildkit.dockerfile.v0",
        "WORKDIR /app|buildkit.dockerfile.v0",
        "ENV A=1 B=x y|buildkit.dockerfile.v0",
    ];
    assert_eq!(&h[..want.len()], &want[..], "{h:#?}");
    let cfg = r.ok(&["image", "inspect", "--format", "{{json .Config}}", "t1"]);
    let v: serde_json::Value = serde_json::from_str(cfg.trim()).unwrap();
    assert_eq!(v["User"], "1000");
    assert_eq!(v["WorkingDir"], "/app");
    assert_eq!(v["Entrypoint"], serde_json::json!(["sh"]));
    assert_eq!(v["Cmd"], serde_json::Value::Null);
    assert_eq!(v["Env"][1], "A=1");
    assert_eq!(v["Env"][2], "B=x y");
    assert_eq!(v["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert_eq!(v["StopSignal"], "SIGTERM");
    assert!(v["ExposedPorts"]["90/tcp"].is_object());
    assert!(v["Volumes"]["/data"].is_object());
    // Base + WORKDIR + RUN + COPY.
    let layers = r.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "t1",
    ]);
    assert_eq!(layers.trim(), "4");
    let out = r.ok(&[
        "run",
        "--rm",
        "t1",
        "-c",
        "cat /app/v.txt /app/a.txt; id -u",
    ]);
    assert_eq!(out, "3\nhi\n1000\n");
    leftovers(&r);
}

#[test]
fn cache_hits_give_the_same_image_and_a_change_reruns_only_what_follows() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[
        ("one.txt", "1\n"),
        ("two.txt", "2\n"),
        (
            "Dockerfile",
            "FROM busybox:local\nRUN echo first > /first\nCOPY one.txt /\nRUN cat /one.txt > /seen\nCOPY two.txt /\nRUN date +%s%N > /stamp\n",
        ),
    ]);
    let o = build(&r, c.path(), &["-t", "c:1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let id1 = r.ok(&["image", "inspect", "--format", "{{.Id}}", "c:1"]);
    let o = build(&r, c.path(), &["-t", "c:2"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr.matches("CACHED").count(), 5, "{}", o.stderr);
    let id2 = r.ok(&["image", "inspect", "--format", "{{.Id}}", "c:2"]);
    assert_eq!(id1, id2, "a fully cached rebuild is the same image");
    // touch: content unchanged, still cached.
    let f = c.path().join("two.txt");
    let t = std::fs::File::options().write(true).open(&f).unwrap();
    t.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(t);
    let o = build(&r, c.path(), &["-q", "-t", "c:3"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), id1.trim());
    // An edit of two.txt reruns COPY two.txt and the RUN after it only.
    std::fs::write(&f, "2 changed\n").unwrap();
    let o = build(&r, c.path(), &["-t", "c:4"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr.matches("CACHED").count(), 3, "{}", o.stderr);
    assert_eq!(
        r.ok(&["run", "--rm", "c:4", "cat", "/two.txt", "/seen"]),
        "2 changed\n1\n"
    );
    // --no-cache reruns everything.
    let o = build(&r, c.path(), &["--no-cache", "-t", "c:5"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr.matches("CACHED").count(), 0, "{}", o.stderr);
    // builder prune -a empties the cache (without -a, records whose layer
    // an image holds stay, as BuildKit keeps shared ones): the next build
    // runs every step.
    let p = r.run(&["builder", "prune", "-a", "-f"]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(p.stdout.contains("Total reclaimed space:"), "{}", p.stdout);
    let o = build(&r, c.path(), &["-t", "c:6"]);
    assert_eq!(o.stderr.matches("CACHED").count(), 0, "{}", o.stderr);
    let chk = r.run(&["debug", "check-store"]);
    assert_eq!(chk.code, 0, "{}{}", chk.stdout, chk.stderr);
    leftovers(&r);
}

#[test]
fn multi_stage_target_and_unused_stages() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[(
        "Dockerfile",
        "ARG WHO=world\nFROM busybox:local AS a\nARG WHO\nRUN echo hello $WHO > /a.txt\nFROM busybox:local AS b\nRUN echo b > /b.txt\nFROM busybox:local AS broken\nRUN exit 1\nFROM scratch AS final\nCOPY --from=a /a.txt /\nCOPY --from=b /b.txt /\nCOPY --from=busybox:local /bin/busybox /bin/\nCMD [\"/bin/busybox\", \"cat\", \"/a.txt\", \"/b.txt\"]\n",
    )]);
    let o = build(&r, c.path(), &["-t", "ms", "--build-arg", "WHO=berth"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        !o.stderr.contains("exit 1"),
        "unused stage ran: {}",
        o.stderr
    );
    assert_eq!(r.ok(&["run", "--rm", "ms"]), "hello berth\nb\n");
    let o = build(&r, c.path(), &["-t", "only-b", "--target", "b"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        !o.stderr.contains("[a "),
        "stage a is not needed: {}",
        o.stderr
    );
    let o = build(&r, c.path(), &["--target", "nope"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("target stage nope could not be found"),
        "{}",
        o.stderr
    );
    leftovers(&r);
}

#[test]
fn failures_print_buildkit_errors_and_tag_nothing() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[
        (
            "Dockerfile",
            "FROM busybox:local\nRUN echo out; echo err >&2; exit 3\n",
        ),
        ("Dockerfile.bad", "FROM busybox:local\nFOO bar\n"),
        ("Dockerfile.miss", "FROM busybox:local\nCOPY nothere /x\n"),
    ]);
    let before = r.fingerprint();
    let o = build(&r, c.path(), &["-t", "fail"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("#4 ") && o.stderr.contains(" err\n"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.trim_end().ends_with(
            "executor failed running [/bin/sh -c echo out; echo err >&2; exit 3]: exit code: 3"
        ),
        "{}",
        o.stderr
    );
    assert_eq!(r.run(&["image", "inspect", "fail"]).code, 1);
    let d = c.path().join("Dockerfile.bad").display().to_string();
    let o = build(&r, c.path(), &["-f", &d]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(
            "failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 2: unknown instruction: "
        ) && o.stderr.to_lowercase().contains("unknown instruction: foo"),
        "{}",
        o.stderr
    );
    let d = c.path().join("Dockerfile.miss").display().to_string();
    let o = build(&r, c.path(), &["-f", &d, "-t", "miss"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("failed to compute cache key: \"/nothere\" not found: not found"),
        "{}",
        o.stderr
    );
    assert_eq!(
        r.fingerprint(),
        before,
        "a failed build changed images or refs"
    );
    leftovers(&r);
}

#[test]
fn stdin_context_dockerfile_outputs_iidfile_and_secrets() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[
        ("data/keep.txt", "keep\n"),
        ("data/skip.log", "skip\n"),
        (".dockerignore", "# comment\n**/*.log\n"),
        (
            "Dockerfile",
            "FROM busybox:local\nCOPY data/ /data/\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /tok\nRUN --mount=type=cache,target=/cache echo x >> /cache/n && wc -l < /cache/n > /count\n",
        ),
    ]);
    // Outside the context, as a user's secret file would be.
    let sdir = tempfile::tempdir().unwrap();
    let secret = sdir.path().join("berth-secret-test");
    std::fs::write(&secret, "s3cret").unwrap();
    let iid = c.path().join("iid");
    let o = build(
        &r,
        c.path(),
        &[
            "-t",
            "s",
            "--iidfile",
            &iid.display().to_string(),
            "--secret",
            &format!("id=tok,src={}", secret.display()),
        ],
    );
    std::fs::remove_file(&secret).unwrap();
    assert_eq!(o.code, 0, "{}", o.stderr);
    let id = r.ok(&["image", "inspect", "--format", "{{.Id}}", "s"]);
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id.trim());
    assert_eq!(
        r.ok(&[
            "run",
            "--rm",
            "s",
            "sh",
            "-c",
            "ls /data; cat /tok; cat /count"
        ]),
        "keep.txt\ns3cret1\n"
    );
    // The secret is not in the image's filesystem.
    assert_eq!(
        r.run(&["run", "--rm", "s", "ls", "/run/secrets/tok"]).code,
        1
    );
    // A tar context on stdin with the Dockerfile inside it.
    std::fs::write(
        c.path().join("Dockerfile.tar"),
        "FROM busybox:local\nCOPY data /data\n",
    )
    .unwrap();
    let tar = std::process::Command::new("tar")
        .args(["-C", &c.path().display().to_string(), "-c", "."])
        .output()
        .unwrap()
        .stdout;
    let o = r.run_stdin(
        &[
            "build",
            "--progress=plain",
            "-t",
            "fromtar",
            "-f",
            "Dockerfile.tar",
            "-",
        ],
        &tar,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        r.ok(&["run", "--rm", "fromtar", "cat", "/data/keep.txt"]),
        "keep\n"
    );
    // `build - < Dockerfile`: stdin that is no archive is the Dockerfile,
    // with an empty context (the docker CLI's rule).
    let o = r.run_stdin(
        &["build", "-q", "-t", "plainstdin", "-"],
        b"FROM busybox:local\nRUN echo made > /made\n",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        r.ok(&["run", "--rm", "plainstdin", "cat", "/made"]),
        "made\n"
    );
    // -f - : the Dockerfile from stdin, context from the directory.
    let o = r.run_stdin(
        &["build", "-q", "-f", "-", &c.path().display().to_string()],
        b"FROM busybox:local\nCOPY data/keep.txt /k\n",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.trim().starts_with("sha256:"), "{}", o.stdout);
    // --output type=local and type=tar export the filesystem, no image.
    let out = c.path().join("out");
    let o = build(
        &r,
        c.path(),
        &["-o", &format!("type=local,dest={}", out.display())],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("data/keep.txt")).unwrap(),
        "keep\n"
    );
    assert!(out.join("bin/busybox").exists());
    let tarf = c.path().join("out.tar");
    let o = build(
        &r,
        c.path(),
        &["--output", &format!("type=tar,dest={}", tarf.display())],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let list = std::process::Command::new("tar")
        .args(["-tf", &tarf.display().to_string()])
        .output()
        .unwrap()
        .stdout;
    assert!(String::from_utf8_lossy(&list).contains("data/keep.txt"));
    leftovers(&r);
}

/// Start `berth build` on `dir` and return once its RUN step printed
/// `started` (the step's container runs).
fn build_until_started(r: &Root, dir: &Path) -> (std::process::Child, std::process::ChildStderr) {
    let mut child = r
        .cmd()
        .args(["build", "--progress=plain", &dir.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(" started\n") {
        let n = std::io::Read::read(&mut err, &mut buf).unwrap();
        assert!(
            n > 0,
            "build ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    (child, err)
}

/// Build steps with runtime state in this root.
fn step_ids(r: &Root) -> Vec<String> {
    std::fs::read_dir(r.dir.path().join("run/runtime/berth-build-steps"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("build-"))
        .collect()
}

#[test]
fn killed_build_leaves_no_mounts_or_containers() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[(
        "Dockerfile",
        "FROM busybox:local\nRUN echo started; sleep 30\n",
    )]);
    let (mut child, err) = build_until_started(&r, c.path());
    let ids = step_ids(&r);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(err);
    // The step's process stops the container; the next command sweeps
    // what the killed build left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        r.ok(&["images"]);
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let me = r.dir.path().display().to_string();
        let cgroups_left = ids
            .iter()
            .any(|id| Path::new("/sys/fs/cgroup/memory/berth").join(id).exists());
        if !mounts.contains(&me) && r.tmp_entries() == 0 && !cgroups_left {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "leftovers after a killed build"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    leftovers(&r);
}

#[test]
fn cycles_bad_ignore_files_and_foreign_platforms_are_refused() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[(
        "Dockerfile",
        "FROM busybox:local AS a\nCOPY --from=b /x /x\nFROM busybox:local AS b\nCOPY --from=a /y /y\n",
    )]);
    let before = r.fingerprint();
    let o = build(&r, c.path(), &["-t", "cyc"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("circular dependency detected on stage: "),
        "{}",
        o.stderr
    );
    let c2 = ctx(&[
        ("Dockerfile", "FROM busybox:local\nCOPY . /x\n"),
        (".dockerignore", "a\n!\n"),
    ]);
    let o = build(&r, c2.path(), &["-t", "ign"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("illegal exclusion pattern: \"!\""),
        "{}",
        o.stderr
    );
    let o = build(&r, c2.path(), &["--platform", "linux/s390x"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("linux/s390x"), "{}", o.stderr);
    assert_eq!(r.fingerprint(), before);
    leftovers(&r);
}

/// Pids of `berth internal build-step` processes for this root.
fn step_pids(r: &Root) -> Vec<i32> {
    let me = r.dir.path().display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains("build-step") && cmd.contains(&me) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn killed_builder_and_step_process_leave_no_cgroups() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[(
        "Dockerfile",
        "FROM busybox:local\nRUN echo started; sleep 2\n",
    )]);
    let (mut child, err) = build_until_started(&r, c.path());
    let ids = step_ids(&r);
    assert_eq!(ids.len(), 1, "{ids:?}");
    // Both the builder and its step process die at once (a killed group).
    let steps = step_pids(&r);
    assert!(!steps.is_empty());
    child.kill().unwrap();
    for p in steps {
        let _ = std::process::Command::new("kill")
            .args(["-9", &p.to_string()])
            .status();
    }
    child.wait().unwrap();
    drop(err);
    // The monitor matched too (its cleanup argv names the root), so no
    // process of the build is left: the next command finds the step's
    // state without its build and removes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let cg = Path::new("/sys/fs/cgroup/memory/berth").join(&ids[0]);
    let rt = r
        .dir
        .path()
        .join("run/runtime/berth-build-steps")
        .join(&ids[0]);
    while cg.exists() || rt.exists() {
        r.ok(&["images"]);
        assert!(
            std::time::Instant::now() < deadline,
            "cgroup or runtime state of {} left",
            ids[0]
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    r.ok(&["images"]);
    leftovers(&r);
}

/// `RUN <<EOF` runs the heredoc as a shell script, or as a file of its
/// own when it starts with `#!`; `COPY <<EOF` writes a file.
#[test]
fn heredocs_run_as_scripts_or_files() {
    let r = Root::new();
    r.busybox("busybox:local");
    let c = ctx(&[(
        "Dockerfile",
        "FROM busybox:local\nARG WHO=heredoc\nRUN <<EOF\necho \"hello $WHO\" > /plain\necho second >> /plain\nEOF\nRUN <<EOF\n#!/bin/sh\necho \"$0\" > /by-file\nEOF\nCOPY <<EOT /etc/greeting\nhi $WHO\nEOT\n",
    )]);
    let o = build(&r, c.path(), &["-t", "hd"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        r.ok(&[
            "run",
            "--rm",
            "hd",
            "cat",
            "/plain",
            "/by-file",
            "/etc/greeting"
        ]),
        "hello heredoc\nsecond\n/dev/pipes/EOF\nhi heredoc\n"
    );
    leftovers(&r);
}
