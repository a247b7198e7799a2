//! Container mounts with real containers: `-v` binds and volumes,
//! anonymous volumes (`-v /path`, the image's VOLUME), `--mount`, `--tmpfs`,
//! `--volumes-from`, `rm -v`, volumes with driver options, destinations
//! through symlinks, bad input, and data surviving a SIGKILL mid-write.
#![allow(clippy::unwrap_used)]

mod common;

use common::Root;
use std::path::Path;

fn inspect(r: &Root, id: &str, fmt: &str) -> String {
    let o = r.run(&["inspect", "--format", fmt, id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout.trim().to_string()
}

fn volumes(r: &Root) -> Vec<String> {
    let mut v: Vec<String> = r
        .ok(&["volume", "ls", "-q"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// A directory on the host for one test, removed with it.
fn host_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-host-")
        .tempdir()
        .unwrap()
}

#[test]
fn binds_volumes_and_tmpfs_inside_and_in_inspect() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let h = host_dir();
    let hp = h.path().display().to_string();
    std::fs::write(h.path().join("f"), "host file\n").unwrap();
    let missing = h.path().join("made/by/run");
    let script = "echo in-vol > /data/v; cat /file; echo rw > /rw/new; \
                  (echo x > /ro/new) 2>/dev/null && echo ro-writable; \
                  grep -E ' /(t1|mt|ne) ' /proc/self/mountinfo | cut -d' ' -f5,6,8,10 | sort; \
                  stat -c '%n %a %u' /mt /t1; ls -d /anon";
    let o = r.run(&[
        "run",
        "--name",
        "c1",
        "-v",
        "data:/data",
        "-v",
        &format!("{hp}:/rw"),
        "-v",
        &format!("{hp}:/ro:ro"),
        "-v",
        &format!("{hp}/f:/file"),
        "-v",
        &format!("{}:/ne", missing.display()),
        "-v",
        "/anon",
        "--mount",
        "type=tmpfs,dst=/mt,tmpfs-size=1m,tmpfs-mode=0700",
        "--tmpfs",
        "/t1:size=2m,uid=5",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"host file"), "{lines:?}");
    assert_eq!(lines.last(), Some(&"/anon"), "{lines:?}");
    assert!(!o.stdout.contains("ro-writable"));
    assert!(lines.iter().any(|l| l.starts_with("/ne rw")), "{lines:?}");
    assert!(
        lines.contains(&"/mt 700 0") && lines.contains(&"/t1 1777 5"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"/mt rw,nosuid,nodev,noexec,relatime tmpfs rw,size=1024k,mode=700"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"/t1 rw,nosuid,nodev,noexec,relatime tmpfs rw,size=2048k,uid=5"),
        "{lines:?}"
    );
    // What the container wrote is on the host; -v made the missing dir.
    assert_eq!(
        std::fs::read_to_string(h.path().join("new")).unwrap(),
        "rw\n"
    );
    assert!(missing.is_dir());
    assert_eq!(
        std::fs::read_to_string(r.path().join("volumes/data/_data/v")).unwrap(),
        "in-vol\n"
    );

    // inspect: Docker's Mounts (no --tmpfs there), HostConfig's Mounts and Tmpfs.
    let mounts: serde_json::Value =
        serde_json::from_str(&inspect(&r, "c1", "{{json .Mounts}}")).unwrap();
    let by_dest = |d: &str| {
        mounts
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Destination"] == d)
            .cloned()
            .unwrap_or_else(|| panic!("no mount {d} in {mounts}"))
    };
    assert_eq!(mounts.as_array().unwrap().len(), 7, "{mounts}");
    assert!(!mounts.to_string().contains("/t1"));
    let data = by_dest("/data");
    assert_eq!(
        data,
        serde_json::json!({"Type":"volume","Name":"data",
            "Source": r.path().join("volumes/data/_data").display().to_string(),
            "Destination":"/data","Driver":"local","Mode":"z","RW":true,"Propagation":""})
    );
    assert_eq!(
        by_dest("/ro"),
        serde_json::json!({"Type":"bind","Source":hp,"Destination":"/ro","Mode":"ro",
            "RW":false,"Propagation":"rprivate"})
    );
    assert_eq!(by_dest("/anon")["Mode"], "");
    assert_eq!(by_dest("/anon")["Name"].as_str().unwrap().len(), 64);
    assert_eq!(
        by_dest("/mt"),
        serde_json::json!({"Type":"tmpfs","Source":"","Destination":"/mt","Mode":"",
            "RW":true,"Propagation":""})
    );
    assert_eq!(
        inspect(
            &r,
            "c1",
            "{{json .HostConfig.Mounts}} {{json .HostConfig.Tmpfs}} {{json .Config.Volumes}}"
        ),
        r#"[{"Type":"tmpfs","Target":"/mt","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}}] {"/t1":"size=2m,uid=5"} {"/anon":{}}"#
    );

    // --read-only: the rootfs refuses writes, its volumes and tmpfs take them.
    let o = r.run(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        "data:/data",
        "--tmpfs",
        "/run",
        "busybox",
        "sh",
        "-c",
        "touch /data/ro-ok /run/ok && echo writable; touch /nope 2>/dev/null || echo refused",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "writable\nrefused\n"),
        "{}",
        o.stderr
    );

    // rm -v: the anonymous volume goes, the named one stays.
    assert_eq!(volumes(&r).len(), 2);
    r.ok(&["rm", "-v", "c1"]);
    assert_eq!(volumes(&r), ["data"]);
    r.ok(&["volume", "rm", "data"]);
    r.assert_no_leftovers();
}

#[test]
fn image_volumes_copy_up_once_and_rm_keeps_named() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let ctx = host_dir();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN mkdir -p /data/sub && echo img > /data/f && ln -s f /data/l \
         && chown -R 5:6 /data && chmod 750 /data && chmod 4711 /data/f\nVOLUME /data\n",
    )
    .unwrap();
    let o = r.run(&[
        "build",
        "-q",
        "-t",
        "vimg",
        &ctx.path().display().to_string(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    // An anonymous volume per run, filled from the image, owners and modes kept.
    let o = r.run(&["run", "--name", "anon1", "vimg", "sh", "-c", "stat -c '%n %a %u:%g' /data /data/f /data/sub; readlink /data/l; cat /data/l; echo more > /data/g"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "/data 750 5:6\n/data/f 4711 5:6\n/data/sub 755 5:6\nf\nimg\n"
    );
    let anon = inspect(&r, "anon1", "{{range .Mounts}}{{.Name}}{{end}}");
    assert_eq!(anon.len(), 64);
    // A restart keeps the data; the image is not copied over it again.
    r.ok(&["start", "anon1"]);
    r.ok(&["wait", "anon1"]);
    std::fs::remove_file(r.path().join(format!("volumes/{anon}/_data/f"))).unwrap();
    let o = r.run(&["start", "-a", "anon1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!r.path().join(format!("volumes/{anon}/_data/f")).exists());
    assert!(r.path().join(format!("volumes/{anon}/_data/g")).exists());

    // A named volume at the same place: filled once, kept by rm -v.
    let o = r.run(&["run", "--rm", "-v", "named:/data", "vimg", "cat", "/data/f"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "img\n"), "{}", o.stderr);
    // nocopy: an empty volume stays empty.
    let o = r.run(&[
        "run",
        "--rm",
        "-v",
        "empty:/data:nocopy",
        "vimg",
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{}", o.stderr);
    // --rm removed its anonymous volume, never named ones.
    assert_eq!(volumes(&r), {
        let mut v = vec![anon.clone(), "empty".to_string(), "named".to_string()];
        v.sort();
        v
    });
    r.ok(&["rm", "-v", "anon1"]);
    assert_eq!(volumes(&r), ["empty", "named"]);

    // --volumes-from shares the volumes, read-only on request.
    r.ok(&[
        "create", "--name", "src", "-v", "named:/x", "-v", "/an", "busybox", "true",
    ]);
    let o = r.run(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "sh",
        "-c",
        "cat /x/f; ls -d /an; touch /x/new 2>/dev/null || echo read-only",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "img\n/an\nread-only\n");
    // The copier's --rm does not take src's anonymous volume with it.
    assert_eq!(volumes(&r).len(), 3);
    r.ok(&["rm", "-v", "src"]);
    assert_eq!(volumes(&r), ["empty", "named"]);
    r.assert_no_leftovers();
}

#[test]
fn nested_mounts_and_symlinked_destinations_stay_inside() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let ctx = host_dir();
    let outside = host_dir();
    let out = outside.path().display().to_string();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM busybox\nRUN ln -s {out}/target /abs && ln -s ../../../../../../.. /rel\n"),
    )
    .unwrap();
    let o = r.run(&[
        "build",
        "-q",
        "-t",
        "links",
        &ctx.path().display().to_string(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let h = host_dir();
    let hp = h.path().display().to_string();
    std::fs::write(h.path().join("f"), "hf\n").unwrap();
    // The child is given first: parents are mounted before children anyway.
    let o = r.run(&[
        "run",
        "--rm",
        "-v",
        "inner:/outer/inner",
        "-v",
        "outer:/outer",
        "-v",
        "v1:/abs/sub",
        "-v",
        &format!("{hp}/f:/rel/etc/linked-file"),
        "links",
        "sh",
        "-c",
        &format!("touch /outer/inner/i; ls {out}/target; cat /etc/linked-file"),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "sub\nhf\n");
    assert!(r.path().join("volumes/inner/_data/i").exists());
    assert!(!r.path().join("volumes/outer/_data/inner/i").exists());
    // Nothing was made outside the container.
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(!Path::new("/etc/linked-file").exists());
    r.assert_no_leftovers();
}

#[test]
fn bad_mounts_fail_with_dockers_words_and_change_nothing() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let before = r.fingerprint();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["-v", "data:/d:zz"], 125, "invalid mode: zz"),
        (&["-v", "/anon:ro"], 125, "invalid volume specification: '/anon:ro'"),
        (&["-v", "a:/x:/y:ro"], 125, "invalid volume specification: 'a:/x:/y:ro'"),
        (&["-v", "data:rel"], 125, "invalid volume specification: 'data:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"),
        (&["-v", "data:/"], 125, "invalid volume specification: 'data:/': invalid mount config for type \"volume\": invalid specification: destination can't be '/'"),
        (&["-v", "rel/p:/x"], 125, "create rel/p: \"rel/p\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"),
        (&["-v", ":/x"], 125, "invalid spec: :/x: empty section between colons"),
        (&["-v", "a1:/x", "-v", "a2:/x/"], 125, "Duplicate mount point: /x"),
        (&["-v", "a1:/x", "--tmpfs", "/x"], 125, "Duplicate mount point: /x"),
        (&["--tmpfs", "rel"], 125, "invalid mount path: 'rel' mount path must be absolute"),
        (&["--mount", "type=bind,src=/nonexistent-berth-src,dst=/x"], 125, "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-berth-src"),
        (&["--mount", "type=bind,dst=/x"], 125, "invalid mount config for type \"bind\": field Source must not be empty"),
        (&["--mount", "type=foo,dst=/x"], 125, "invalid mount config for type \"foo\": mount type unknown"),
        (&["--mount", "type=volume,dst=/x,ro"], 125, "must not set ReadOnly mode when using anonymous volumes"),
        (&["--mount", "type=volume,src=v1"], 125, "for \"--mount\" flag: target is required"),
        (&["--mount", "type=volume,src=v1,dst=/x,bogus=1"], 125, "unexpected key 'bogus' in 'bogus=1'"),
        (&["--mount", "type=bind,src=/tmp,dst=/x,volume-opt=a=b"], 125, "cannot mix 'volume-*' options with mount type 'bind'"),
        (&["--mount", "type=tmpfs,dst=/x,tmpfs-size=abc"], 125, "invalid value for tmpfs-size: abc"),
        (&["--mount", "type=volume,src=v1,dst=/x,volume-driver=nope"], 125, "error looking up volume plugin nope: plugin \"nope\" not found"),
        (&["--volumes-from", "nope"], 125, "No such container: nope"),
        (&["--volume-driver", "nope", "-v", "vx:/y"], 125, "error looking up volume plugin nope: plugin \"nope\" not found"),
    ];
    for (flags, code, msg) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let o = r.run(&args);
        assert_eq!(o.code, *code, "{flags:?}: {}", o.stderr);
        assert!(o.stderr.contains(msg), "{flags:?}: {}", o.stderr);
    }
    assert_eq!(r.fingerprint(), before, "a refused run changed the store");
    assert!(volumes(&r).is_empty());
    assert!(!Path::new("/nonexistent-berth-src").exists());
    r.assert_no_leftovers();
}

#[test]
fn volumes_with_driver_options_are_mounted_while_used() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let h = host_dir();
    let hp = h.path().display().to_string();
    std::fs::write(h.path().join("hostfile"), "from host\n").unwrap();
    r.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m,uid=7",
        "tv",
    ]);
    r.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        &format!("device={hp}"),
        "-o",
        "o=bind",
        "bv",
    ]);
    let data = r.path().join("volumes/tv/_data");
    // Two containers share one tmpfs while either runs.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "ta",
        "-v",
        "tv:/t",
        "busybox",
        "sh",
        "-c",
        "echo a > /t/a; sleep 100",
    ]);
    let o = r.run(&["run", "--rm", "-v", "tv:/t", "-v", "bv:/b", "busybox", "sh", "-c",
        "sleep 0.3; cat /t/a; stat -c %u /t; grep ' /t ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1,3; cat /b/hostfile"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "a\n7\ntmpfs rw,size=1024k,uid=7\nfrom host\n");
    // The bind volume was released when its only user left; the tmpfs stays for `a`.
    assert!(!berth_mounted(&r.path().join("volumes/bv/_data")));
    assert!(berth_mounted(&data));
    r.ok(&["rm", "-f", "ta"]);
    assert!(!berth_mounted(&data));
    // A tmpfs volume's data ends with its last user, as on Docker.
    let o = r.run(&["run", "--rm", "-v", "tv:/t", "busybox", "ls", "/t"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{}", o.stderr);
    // A start that fails takes a --rm container's anonymous volumes along.
    let h2 = host_dir();
    std::fs::write(h2.path().join("file"), "x").unwrap();
    let o = r.run(&[
        "run",
        "--rm",
        "-v",
        "/anon",
        "-v",
        &format!("{}/file:/bin", h2.path().display()),
        "busybox",
        "true",
    ]);
    assert_eq!(o.code, 125, "{}", o.stderr);
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    assert!(
        !volumes(&r).iter().any(|v| v.len() == 64),
        "{:?}",
        volumes(&r)
    );
    // A device that does not exist fails the start, with the mount's error.
    r.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "device=/nonexistent-berth-dev",
        "-o",
        "o=bind",
        "bad",
    ]);
    let o = r.run(&["run", "--rm", "-v", "bad:/b", "busybox", "true"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("failed to mount local volume"),
        "{}",
        o.stderr
    );
    for v in ["tv", "bv", "bad"] {
        r.ok(&["volume", "rm", v]);
    }
    assert!(
        h.path().join("hostfile").exists(),
        "volume rm touched the bound host dir"
    );
    r.assert_no_leftovers();
}

fn berth_mounted(p: &Path) -> bool {
    let t = p.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(t.as_str()))
}

/// Data a container wrote (and synced) to a volume survives a SIGKILL of
/// the container's process and its monitor mid-write: the next container
/// reads back every byte.
#[test]
fn volume_data_survives_sigkill_mid_write() {
    let r = Root::new();
    r.busybox("busybox:latest");
    // Each file is 1 MiB of a pattern that names it; a file is listed in
    // `done` only after it was written and synced.
    let writer = "i=0; while true; do \
                    yes \"file-$i\" | head -c 1048576 > /data/f$i; sync /data/f$i; \
                    echo $i >> /data/done; sync /data/done; i=$((i+1)); done";
    r.ok(&[
        "run",
        "-d",
        "--name",
        "writer",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        writer,
    ]);
    let done = r.path().join("volumes/keep/_data/done");
    for _ in 0..200 {
        let n = std::fs::read_to_string(&done)
            .unwrap_or_default()
            .lines()
            .count();
        if n >= 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            r.path()
                .join("containers")
                .join(inspect(&r, "writer", "{{.Id}}"))
                .join("container.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let monitor = rec["Berth"]["monitor_pid"].as_i64().unwrap();
    let init = rec["State"]["Pid"].as_i64().unwrap();
    for pid in [monitor, init] {
        assert!(std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    }
    // The next command sees the container dead; remove and recreate it.
    let o = r.run(&["rm", "-f", "writer"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let check = "n=0; for i in $(cat /data/done); do \
                   yes \"file-$i\" | head -c 1048576 | cmp - /data/f$i || exit 1; n=$((n+1)); done; echo $n";
    let o = r.run(&[
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        check,
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let n: usize = o.stdout.trim().parse().unwrap();
    assert!(n >= 5, "only {n} files were done");
    r.ok(&["volume", "rm", "keep"]);
    r.assert_no_leftovers();
}

/// The same `create` flags through Docker 20.10 (a private dockerd) and
/// berth: the same inspect `Mounts` (sources and anonymous names
/// normalised), `HostConfig.Mounts`/`Tmpfs` and `Config.Volumes`, or the
/// same error. Skipped where dockerd is not installed.
#[test]
fn mounts_match_dockerd() {
    let Some(d) = common::dockerd::Dockerd::start() else {
        return;
    };
    let r = Root::new();
    r.busybox("busybox:latest");
    d.load_from_berth(&r, "busybox:latest");
    let h = host_dir();
    let hp = h.path().display().to_string();
    std::fs::write(h.path().join("f"), "x").unwrap();
    let cases: Vec<Vec<String>> = [
        vec!["-v", "data:/d:ro"],
        vec!["-v", "data:/d"],
        vec!["-v", "data:/d:ro,nocopy"],
        vec!["-v", "HOST:/x:rw,z"],
        vec!["-v", "HOST:/x:ro,slave"],
        vec!["-v", "HOST/f:/etc/../file"],
        vec!["-v", "HOST/missing:/m"],
        vec!["-v", "/anon"],
        vec![
            "--mount",
            "type=bind,src=HOST,dst=/mb,bind-propagation=rslave,readonly=1",
        ],
        vec!["--mount", "type=volume,src=mv,dst=/mv,volume-nocopy"],
        vec!["--mount", "type=volume,dst=/anon2"],
        vec![
            "--mount",
            "type=tmpfs,dst=/mt,tmpfs-size=1m,tmpfs-mode=0700",
        ],
        vec!["--mount", "type=bind,src=HOST/f,dst=/x,bind-nonrecursive"],
        vec!["--tmpfs", "/t1:size=2m,uid=5"],
        vec!["-v", "data:/d:zz"],
        vec!["-v", "/anon:ro"],
        vec!["-v", "HOST:rel"],
        vec!["-v", "data:/"],
        vec!["-v", "HOST:/x:nocopy"],
        vec!["-v", "data:/d:rprivate"],
        vec!["-v", "rel/p:/x"],
        vec!["-v", "a1:/x", "-v", "a2:/x/"],
        vec!["--tmpfs", "/x", "-v", "a1:/x"],
        vec!["--tmpfs", "rel"],
        vec!["--mount", "type=bind,src=/nonexistent-berth-src,dst=/x"],
        vec!["--mount", "type=bind,dst=/x"],
        vec!["--mount", "type=tmpfs,src=a,dst=/x"],
        vec!["--mount", "type=foo,dst=/x"],
        vec!["--mount", "type=volume,dst=/x,ro"],
        vec![
            "--mount",
            "type=bind,src=HOST,dst=/x,bind-propagation=bogus",
        ],
        vec!["--volumes-from", "nope"],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(|a| a.replace("HOST", &hp)).collect())
    .collect();
    let norm = |s: &str, root: &str| -> String {
        let mut v: serde_json::Value = match serde_json::from_str(s) {
            Ok(v) => v,
            Err(_) => return s.to_string(),
        };
        if let Some(a) = v.as_array_mut() {
            for m in a.iter_mut() {
                if m["Name"].as_str().is_some_and(|n| n.len() == 64) {
                    m["Name"] = "ANON".into();
                }
                if m["Type"] == "volume" {
                    m["Source"] = "VOLUME".into();
                }
            }
            a.sort_by_key(|m| m["Destination"].as_str().unwrap_or("").to_string());
        }
        v.to_string().replace(root, "ROOT")
    };
    let fmt = "{{json .Mounts}}|{{json .HostConfig.Mounts}}|{{json .HostConfig.Tmpfs}}|{{json .Config.Volumes}}";
    for case in &cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let mut dargs = vec!["create", "--network", "none"];
        dargs.extend_from_slice(&args);
        dargs.extend_from_slice(&["busybox", "true"]);
        let mut bargs = vec!["create"];
        bargs.extend_from_slice(&args);
        bargs.extend_from_slice(&["busybox", "true"]);
        let (dout, bout) = (d.docker(&dargs), r.run(&bargs));
        assert_eq!(
            dout.code == 0,
            bout.code == 0,
            "{case:?}: docker {dout:?}, berth {bout:?}",
            dout = dout.stderr,
            bout = bout.stderr
        );
        if dout.code != 0 {
            // The message after docker's and berth's own prefixes.
            let last = |s: &str| {
                let l = s
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .to_string();
                l.trim_start_matches("Error response from daemon: ")
                    .trim_start_matches("docker: ")
                    .trim_start_matches("berth: ")
                    .trim_end_matches('.')
                    .to_string()
            };
            assert_eq!(last(&bout.stderr), last(&dout.stderr), "{case:?}");
            continue;
        }
        let (did, bid) = (
            dout.stdout.trim().to_string(),
            bout.stdout.trim().to_string(),
        );
        let dv: Vec<String> = d
            .docker(&["inspect", "--format", fmt, &did])
            .stdout
            .trim()
            .split('|')
            .map(str::to_string)
            .collect();
        let bv: Vec<String> = inspect(&r, &bid, fmt)
            .split('|')
            .map(str::to_string)
            .collect();
        let droot = d.path().join("data").display().to_string();
        let broot = r.path().display().to_string();
        for (dd, bb) in dv.iter().zip(&bv) {
            assert_eq!(norm(bb, &broot), norm(dd, &droot), "{case:?}");
        }
        d.docker(&["rm", "-v", &did]);
        r.ok(&["rm", "-v", &bid]);
    }
    let _ = std::fs::remove_dir_all(h.path().join("missing"));
    for v in ["data", "mv"] {
        r.run(&["volume", "rm", v]);
        d.docker(&["volume", "rm", v]);
    }
    r.assert_no_leftovers();
}

/// `cp` sees a container's volumes and binds at their places, running or
/// stopped, as dockerd shows them; a read-only mount refuses writes, a
/// read-only rootfs does not stop a write into a volume.
#[test]
fn cp_goes_through_volumes_and_binds() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let h = host_dir();
    let hp = h.path().display().to_string();
    std::fs::write(h.path().join("in-host"), "host\n").unwrap();
    let src = host_dir();
    let f = src.path().join("f");
    std::fs::write(&f, "copied\n").unwrap();
    let f = f.display().to_string();
    r.ok(&[
        "run",
        "-d",
        "--name",
        "cpc",
        "--read-only",
        "-v",
        "cpv:/data",
        "-v",
        &format!("{hp}:/ro:ro"),
        "busybox",
        "sleep",
        "60",
    ]);
    r.ok(&["cp", &f, "cpc:/data/"]);
    assert_eq!(r.ok(&["exec", "cpc", "cat", "/data/f"]), "copied\n");
    assert!(r.path().join("volumes/cpv/_data/f").is_file());
    let out = src.path().join("back");
    r.ok(&["cp", "cpc:/ro/in-host", &out.display().to_string()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "host\n");
    let o = r.run(&["cp", &f, "cpc:/ro/"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("mounted volume is marked read-only"),
        "{}",
        o.stderr
    );
    let o = r.run(&["cp", &f, "cpc:/"]);
    assert!(
        o.stderr.contains("container rootfs is marked read-only"),
        "{}",
        o.stderr
    );
    // Stopped: the same paths still lead into the volume.
    r.ok(&["stop", "-t", "0", "cpc"]);
    r.ok(&["cp", &f, "cpc:/data/second"]);
    assert!(r.path().join("volumes/cpv/_data/second").is_file());
    r.ok(&["rm", "-f", "cpc"]);
    r.ok(&["volume", "rm", "cpv"]);
    assert!(!h.path().join("f").exists());
    r.assert_no_leftovers();
}
