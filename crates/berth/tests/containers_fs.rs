//! `diff`, `export`, `cp` and `commit` on real containers, each test on
//! its own root. Expected outputs were taken from Docker 20.10.24 running
//! the same commands on the same busybox image.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::path::Path;

use common::{root_with_busybox, Root};

/// Run with raw stdout (a tar stream).
fn raw(r: &Root, args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String) {
    let o = r.run_stdin_output(args, stdin);
    (
        o.status.code().unwrap_or(-1),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `name mode size [-> link]` for each entry, as `tar -tv` would show them.
fn listing(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut s = format!("{name} {:o} {}", h.mode().unwrap(), h.size().unwrap());
        if let Some(l) = e.link_name_bytes() {
            s.push_str(&format!(" -> {}", String::from_utf8_lossy(&l)));
        }
        out.push(s);
    }
    out
}

/// Docker's init layer and the changes made by `CHANGES` below, as
/// `docker export` lists them (outside /bin).
const CHANGES: &str = "echo x > /etc/foo; mkdir -p /tmp/a/b; echo y > /tmp/a/b/c; \
    rm /etc/group; rm -rf /home; echo z >> /etc/passwd; mkdir /newdir; touch /newdir/f; \
    rm -rf /var/tmp; mkdir /var/tmp; touch /var/tmp/q; ln -s /etc /lnk; mkfifo /fifo";

#[test]
fn diff_shows_added_changed_deleted() {
    let r = root_with_busybox();
    r.ok(&["run", "--name", "dd", "busybox", "sh", "-c", CHANGES]);
    // Docker prints the same lines; its order within a directory is Go's
    // map order, berth's is by name. Parents come before what they hold,
    // deletions after what a directory gained; the runtime's /etc mount
    // points never show.
    assert_eq!(
        r.ok(&["diff", "dd"]),
        "C /etc\nA /etc/foo\nC /etc/passwd\nD /etc/group\nA /fifo\nA /lnk\nA /newdir\n\
         A /newdir/f\nC /tmp\nA /tmp/a\nA /tmp/a/b\nA /tmp/a/b/c\nC /var\nC /var/tmp\n\
         A /var/tmp/q\nD /home\n"
    );
    assert_eq!(r.ok(&["container", "diff", "dd"]), r.ok(&["diff", "dd"]));

    // Nothing changed: nothing listed, created or run.
    r.ok(&["create", "--name", "cc", "busybox", "true"]);
    assert_eq!(r.ok(&["diff", "cc"]), "");
    r.ok(&["start", "-a", "cc"]);
    assert_eq!(r.ok(&["diff", "cc"]), "");

    // A running container.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "run",
        "busybox",
        "sh",
        "-c",
        "touch /root/x; chmod 700 /usr; sleep 30",
    ]);
    let mut out = String::new();
    for _ in 0..100 {
        out = r.ok(&["diff", "run"]);
        if out.lines().count() == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(out, "C /root\nA /root/x\nC /usr\n");

    let o = r.run(&["diff", "nope"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error response from daemon: No such container: nope\n")
    );
    let o = r.run(&["diff"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("'berth diff' requires 1 argument"),
        "{}",
        o.stderr
    );
    r.ok(&["rm", "-f", "dd", "cc", "run"]);
    r.assert_no_leftovers();
}

#[test]
fn export_is_the_merged_tree_with_the_init_layer() {
    let r = root_with_busybox();
    r.ok(&["run", "--name", "ee", "busybox", "sh", "-c", CHANGES]);
    let (code, tar, err) = raw(&r, &["export", "ee"], b"");
    assert_eq!(code, 0, "{err}");
    let entries: Vec<String> = listing(&tar)
        .into_iter()
        .filter(|e| !e.starts_with("bin/"))
        .collect();
    // Docker 20.10's `export | tar -tv` for the same container.
    assert_eq!(
        entries,
        [
            ".dockerenv 100755 0",
            "dev/ 40755 0",
            "dev/console 100755 0",
            "dev/pts/ 40755 0",
            "dev/shm/ 40755 0",
            "etc/ 40755 0",
            "etc/foo 100644 2",
            "etc/hostname 100755 0",
            "etc/hosts 100755 0",
            "etc/mtab 120777 0 -> /proc/mounts",
            "etc/passwd 100644 77",
            "etc/resolv.conf 100755 0",
            "fifo 10644 0",
            "lnk 120777 0 -> /etc",
            "newdir/ 40755 0",
            "newdir/f 100644 0",
            "proc/ 40755 0",
            "root/ 40755 0",
            "sbin/ 40755 0",
            "sys/ 40755 0",
            "tmp/ 41777 0",
            "tmp/a/ 40755 0",
            "tmp/a/b/ 40755 0",
            "tmp/a/b/c 100644 2",
            "usr/ 40755 0",
            "usr/bin/ 40755 0",
            "usr/sbin/ 40755 0",
            "var/ 40755 0",
            "var/tmp/ 40755 0",
            "var/tmp/q 100644 0",
        ]
    );

    // -o: written beside the target and renamed, mode 0600 as docker's.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.tar");
    r.ok(&["container", "export", "-o", out.to_str().unwrap(), "ee"]);
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(&out).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read(&out).unwrap(), tar);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // A running container exports the same way.
    r.ok(&["run", "-d", "--name", "live", "busybox", "sleep", "30"]);
    let (code, tar, _) = raw(&r, &["export", "live"], b"");
    assert_eq!(code, 0);
    assert!(listing(&tar).contains(&".dockerenv 100755 0".to_string()));

    let o = r.run(&["export", "-o", "/nonexistent-dir/x.tar", "ee"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "failed to export container: invalid output path: directory \"/nonexistent-dir\" does not exist\n")
    );
    let o = r.run(&["export", "-o", "/dev/null", "ee"]);
    assert_eq!(
        o.stderr,
        "failed to export container: invalid output path: \"/dev/null\" must be a directory or a regular file: got a device\n"
    );
    let bad = dir.path().join("bad.tar");
    let o = r.run(&["export", "-o", bad.to_str().unwrap(), "nope"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error response from daemon: No such container: nope\n")
    );
    assert!(!bad.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    r.ok(&["rm", "-f", "ee", "live"]);
    r.assert_no_leftovers();
}

/// A container with symlinks that point out of it, were they followed on
/// the host.
/// Stopped, it sleeps when started again (to be looked at with exec).
fn cp_container(r: &Root, running: bool) {
    let setup = "mkdir -p /d/sub; echo a > /d/a; echo b > /d/sub/b; ln -s /etc /lnk; \
                  ln -s / /rootlnk; ln -s ../../.. /d/up; ln -s a /d/rel";
    let script = format!("if [ -e /d ]; then sleep 60; else {setup}; fi");
    if running {
        r.ok(&[
            "run",
            "-d",
            "--name",
            "cpt",
            "busybox",
            "sh",
            "-c",
            &format!("{setup}; sleep 60"),
        ]);
        for _ in 0..200 {
            if r.run(&["exec", "cpt", "test", "-L", "/d/rel"]).code == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("container setup did not finish");
    } else {
        r.ok(&["run", "--name", "cpt", "busybox", "sh", "-c", &script]);
    }
}

fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, p: &Path, out: &mut Vec<String>) {
        let mut names: Vec<_> = std::fs::read_dir(p).unwrap().flatten().collect();
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let md = std::fs::symlink_metadata(&path).unwrap();
            if md.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if md.is_dir() {
                out.push(format!("{rel}/"));
                walk(base, &path, out);
            } else {
                out.push(format!(
                    "{rel} {}",
                    std::fs::read_to_string(&path).unwrap().trim()
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn cp_out_of_a_container() {
    let r = root_with_busybox();
    for running in [true, false] {
        cp_container(&r, running);
        let names = |src: &str| {
            let (code, tar, err) = raw(&r, &["cp", &format!("cpt:{src}"), "-"], b"");
            assert_eq!(code, 0, "{src}: {err}");
            listing(&tar)
                .into_iter()
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        // Archive names as docker's daemon writes them.
        assert_eq!(
            names("/d"),
            ["d/", "d/a", "d/rel", "d/sub/", "d/sub/b", "d/up"]
        );
        assert_eq!(names("/d/"), names("/d"));
        assert_eq!(
            names("/d/."),
            ["./", "./a", "./rel", "./sub/", "./sub/b", "./up"]
        );
        assert_eq!(names("/lnk"), ["lnk"]);
        assert_eq!(names("/lnk/")[..3], ["lnk/", "lnk/group", "lnk/hostname"]);
        assert_eq!(names("/")[..3], ["/", "/.dockerenv", "/bin/"]);
        assert_eq!(names("d/rel"), ["rel"]);
        // Symlinks resolve inside the container: its passwd, not the host's.
        for p in [
            "/rootlnk/etc/passwd",
            "/d/up/etc/passwd",
            "/d/up/../../etc/passwd",
        ] {
            let (_, tar, _) = raw(&r, &["cp", &format!("cpt:{p}"), "-"], b"");
            let mut a = tar::Archive::new(&tar[..]);
            let mut e = a.entries().unwrap().next().unwrap().unwrap();
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            assert!(
                s.starts_with("root:x:0:0:root:/root:/bin/sh\nnobody"),
                "{p}: {s}"
            );
        }
        // The bind-mounted /etc files read as the container sees them.
        let id = r
            .ok(&["inspect", "-f", "{{.Id}}", "cpt"])
            .trim()
            .to_string();
        let (_, tar, _) = raw(&r, &["cp", "cpt:/etc/hostname", "-"], b"");
        let mut a = tar::Archive::new(&tar[..]);
        let mut s = String::new();
        a.entries()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, format!("{}\n", &id[..12]));

        let d = tempfile::tempdir().unwrap();
        let o = |name: &str| d.path().join(name).display().to_string();
        std::fs::create_dir(o("sub")).unwrap();
        let cases: [(&[&str], &str); 12] = [
            (&["cpt:/lnk", &o("l1")], ""),
            (&["-L", "cpt:/lnk", &o("l2")], ""),
            (&["-L", "cpt:/d/rel", &o("r1")], ""),
            (&["cpt:/d/a", &o("newf")], ""),
            (&["cpt:/d/a", &o("newd/")], "no such directory\n"),
            (&["cpt:/d", &o("newf")], "cannot copy directory\n"),
            (&["cpt:/d/sub", &o("sub")], ""),
            (&["cpt:/d/sub/.", &o("sub")], ""),
            (
                &["cpt:/nope", &o("x")],
                "Error: No such container:path: cpt:/nope\n",
            ),
            (
                &["nope:/x", &o("x")],
                "Error: No such container:path: nope:/x\n",
            ),
            (
                &["cpt:/etc", "/nonexistent-dir/x/y"],
                "invalid output path: directory \"/nonexistent-dir/x\" does not exist\n",
            ),
            (
                &["cpt:/d/.", &o("dotd")],
                &format!("invalid symlink \"{}\" -> \"../../..\"\n", o("dotd/up")),
            ),
        ];
        for (args, err) in cases {
            let mut a = vec!["cp"];
            a.extend_from_slice(args);
            let out = r.run(&a);
            assert_eq!(out.stderr, err, "{args:?}");
            assert_eq!(out.code, if err.is_empty() { 0 } else { 1 }, "{args:?}");
        }
        let t = tree(d.path());
        for want in [
            "l1 -> /etc",
            "l2/",
            "l2/mtab -> /proc/mounts",
            "l2/passwd root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false",
            "newf a",
            "r1 a",
            "sub/b b",
            "sub/sub/b b",
            "dotd/a a",
            "dotd/rel -> a",
        ] {
            assert!(t.iter().any(|l| l == want), "{want} not in {t:#?}");
        }
        assert!(!t.iter().any(|l| l.starts_with("dotd/up")), "{t:#?}");
        r.ok(&["rm", "-f", "cpt"]);
        r.assert_no_leftovers();
    }
}

#[test]
fn cp_into_a_container_never_reaches_the_host() {
    let r = root_with_busybox();
    let src = tempfile::tempdir().unwrap();
    let s = |n: &str| src.path().join(n).display().to_string();
    std::fs::create_dir_all(src.path().join("dir/sub")).unwrap();
    std::fs::write(src.path().join("file"), "f\n").unwrap();
    std::fs::write(src.path().join("dir/g"), "g\n").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", src.path().join("dir/abs")).unwrap();
    std::fs::create_dir(src.path().join("esc")).unwrap();
    std::os::unix::fs::symlink("../../../..", src.path().join("esc/up")).unwrap();
    std::os::unix::fs::chown(src.path().join("file"), Some(1234), Some(4321)).unwrap();
    let unique = format!("berth-cp-{}", std::process::id());
    std::fs::write(src.path().join(&unique), "mine\n").unwrap();

    for running in [true, false] {
        cp_container(&r, running);
        let cases: Vec<(Vec<String>, String)> = vec![
            (vec![s(&unique), "cpt:/rootlnk/tmp/".into()], String::new()),
            (vec![s(&unique), "cpt:/d/up/etc/".into()], String::new()),
            (vec![s("file"), "cpt:/d/up/tmp/f2".into()], String::new()),
            (vec![s("file"), "cpt:/lnk".into()], String::new()),
            (vec![s("file"), "cpt:/d/rel".into()], String::new()),
            (vec![s("dir"), "cpt:/tmp/x1".into()], String::new()),
            (vec![s("dir/."), "cpt:/tmp/x2".into()], String::new()),
            (vec![s("dir/"), "cpt:/tmp/".into()], String::new()),
            (
                vec![s("esc"), "cpt:/tmp/".into()],
                "Error response from daemon: Error processing tar file(exit status 1): invalid symlink \"/tmp/esc/up\" -> \"../../../..\"\n".into(),
            ),
            (vec![s("file"), "cpt:/tmp/nope/".into()], "no such directory\n".into()),
            (vec![s("dir"), "cpt:/d/a".into()], "cannot copy directory\n".into()),
            (
                vec![s("file"), "cpt:/nodir/x".into()],
                "Error: No such container:path: cpt:/nodir\n".into(),
            ),
            (
                vec![s("file"), "nope:/x".into()],
                "Error: No such container:path: nope:/\n".into(),
            ),
            (
                vec![s("missing"), "cpt:/tmp/".into()],
                format!("lstat {}: no such file or directory\n", s("missing")),
            ),
            (vec![s("file/"), "cpt:/tmp/".into()], "not a directory\n".into()),
            (vec!["a".into(), "b".into()], "must specify at least one container source\n".into()),
            (
                vec!["cpt:/a".into(), "cpt:/b".into()],
                "copying between containers is not supported\n".into(),
            ),
        ];
        for (args, err) in &cases {
            let mut a = vec!["cp"];
            a.extend(args.iter().map(String::as_str));
            let o = r.run(&a);
            assert_eq!(&o.stderr, err, "{args:?}");
            assert_eq!(o.code, if err.is_empty() { 0 } else { 1 }, "{args:?}");
        }
        // Everything landed inside the container; nothing on the host.
        assert!(!Path::new("/tmp").join(&unique).exists());
        assert!(!Path::new("/etc").join(&unique).exists());
        // A tar on stdin: its symlink to / leads to the container's root.
        let tar = {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, "x", "/").unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_size(5);
            h.set_mode(0o600);
            h.set_uid(77);
            h.set_gid(88);
            b.append_data(&mut h, format!("x/etc/{unique}-2"), &b"evil\n"[..])
                .unwrap();
            b.into_inner().unwrap()
        };
        let (code, _, err) = raw(&r, &["cp", "-", "cpt:/tmp"], &tar);
        assert_eq!((code, err.as_str()), (0, ""));
        assert!(!Path::new("/etc").join(format!("{unique}-2")).exists());
        let (code, _, err) = raw(&r, &["cp", "-", "cpt:/etc/passwd"], &tar);
        assert_eq!(
            (code, err.as_str()),
            (1, "destination \"cpt:/etc/passwd\" must be a directory\n")
        );
        let (code, _, err) = raw(&r, &["cp", "-", "cpt:/"], b"garbage");
        assert_eq!(
            (code, err.as_str()),
            (1, "Error response from daemon: Error processing tar file(exit status 1): unexpected EOF\n")
        );
        // What the container sees (the original uid/gid kept, as docker 20.10 does).
        if !running {
            r.ok(&["start", "cpt"]);
        }
        let seen = r.ok(&[
            "exec",
            "cpt",
            "sh",
            "-c",
            &format!(
                "cat /tmp/{unique} /etc/{unique} /tmp/f2 /etc/file /d/a /etc/{unique}-2; \
                 stat -c '%u:%g %a' /etc/file /etc/{unique}-2; ls /tmp/x1 /tmp/x2 /tmp/dir; ls /tmp/esc"
            ),
        ]);
        assert_eq!(
            seen,
            "mine\nmine\nf\nf\nf\nevil\n1234:4321 644\n77:88 600\n/tmp/dir:\nabs\ng\nsub\n\n\
             /tmp/x1:\nabs\ng\nsub\n\n/tmp/x2:\nabs\ng\nsub\n"
        );
        r.ok(&["rm", "-f", "cpt"]);
        r.assert_no_leftovers();
    }
}

#[test]
fn cp_archive_mode_gives_files_to_the_container_user() {
    let r = root_with_busybox();
    let src = tempfile::tempdir().unwrap();
    let f = src.path().join("f");
    std::fs::write(&f, "x").unwrap();
    std::os::unix::fs::chown(&f, Some(1234), Some(4321)).unwrap();
    let f = f.display().to_string();
    r.ok(&["create", "--name", "ua", "-u", "nobody", "busybox", "true"]);
    r.ok(&["cp", "-a", &f, "ua:/tmp/fa"]);
    r.ok(&["cp", &f, "ua:/tmp/fb"]);
    let (code, tar, _) = raw(&r, &["cp", "ua:/tmp", "-"], b"");
    assert_eq!(code, 0);
    let mut a = tar::Archive::new(&tar[..]);
    let owners: Vec<String> = a
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            format!(
                "{} {}:{}",
                String::from_utf8_lossy(&e.path_bytes()),
                h.uid().unwrap(),
                h.gid().unwrap()
            )
        })
        .collect();
    // Docker 20.10: -a chowns to the container's user; without it the
    // archive's owner stays (the docs' "root" is not what it does).
    assert_eq!(
        owners,
        ["tmp/ 0:0", "tmp/fa 65534:65534", "tmp/fb 1234:4321"]
    );
    r.ok(&["rm", "ua"]);
    r.assert_no_leftovers();
}

/// The layer of an image as `save` writes it: its tar listing.
fn top_layer(r: &Root, image: &str) -> Vec<String> {
    let (code, tar, err) = raw(r, &["save", image], b"");
    assert_eq!(code, 0, "{err}");
    let mut files = std::collections::BTreeMap::new();
    let mut a = tar::Archive::new(&tar[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        files.insert(name, v);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    let top = layers.last().unwrap().as_str().unwrap();
    listing(&files[top])
}

#[test]
fn commit_makes_an_image_docker_would() {
    let r = root_with_busybox();
    r.ok(&["run", "--name", "src", "busybox", "sh", "-c", CHANGES]);
    let id = r
        .ok(&[
            "commit",
            "-a",
            "Jane <j@x>",
            "-m",
            "my msg",
            "-c",
            r#"CMD ["cat","/etc/foo"]"#,
            "-c",
            "ENV A=1",
            "src",
            "committed:v1",
        ])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(r.ok(&["run", "--rm", "committed:v1"]), "x\n");
    assert_eq!(
        r.ok(&[
            "run", "--rm", "committed:v1", "sh", "-c",
            "echo $A; test -e /home || echo no-home; test -e /etc/group || echo no-group; ls -a /var/tmp"
        ]),
        "1\nno-home\nno-group\n.\n..\nq\n"
    );
    // The layer: the upper dir with whiteouts as docker's overlay2 writes
    // them (0600 `.wh.` files, an opaque marker), no runtime mount points.
    assert_eq!(
        top_layer(&r, "committed:v1"),
        [
            "etc/ 40755 0",
            "etc/foo 100644 2",
            "etc/.wh.group 600 0",
            "etc/passwd 100644 77",
            "fifo 10644 0",
            ".wh.home 600 0",
            "lnk 120777 0 -> /etc",
            "newdir/ 40755 0",
            "newdir/f 100644 0",
            "tmp/ 41777 0",
            "tmp/a/ 40755 0",
            "tmp/a/b/ 40755 0",
            "tmp/a/b/c 100644 2",
            "var/ 40755 0",
            "var/tmp/ 40755 0",
            "var/tmp/.wh..wh..opq 755 0",
            "var/tmp/q 100644 0",
        ]
    );
    let cid = r
        .ok(&["inspect", "-f", "{{.Id}}", "src"])
        .trim()
        .to_string();
    let base = r
        .ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
        .trim()
        .to_string();
    let insp: serde_json::Value =
        serde_json::from_str(&r.ok(&["image", "inspect", "committed:v1"])).unwrap();
    let i = &insp[0];
    assert_eq!(i["Id"], id.as_str());
    assert_eq!(i["Parent"], base.as_str());
    assert_eq!(i["Comment"], "my msg");
    assert_eq!(i["Author"], "Jane <j@x>");
    assert_eq!(i["Container"], cid.as_str());
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["cat", "/etc/foo"]));
    assert_eq!(i["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(i["Config"]["Image"], "busybox");
    assert_eq!(i["Config"]["Hostname"], &cid[..12]);
    assert_eq!(i["Config"]["Labels"], serde_json::json!({}));
    assert_eq!(
        i["ContainerConfig"]["Cmd"],
        serde_json::json!(["sh", "-c", CHANGES])
    );
    assert_eq!(i["ContainerConfig"]["Env"], serde_json::Value::Null);
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    let base_size = r.ok(&["image", "inspect", "-f", "{{.Size}}", "busybox"]);
    assert_eq!(i["Size"], base_size.trim().parse::<i64>().unwrap() + 85);
    let h = r.ok(&[
        "history",
        "--format",
        "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
        "committed:v1",
    ]);
    let h: Vec<&str> = h.lines().collect();
    assert_eq!(
        h[0],
        format!(
            "{}|sh -c echo x > /etc/foo; mkdir -p /tmp/a/b; …|85B|my msg",
            &id[7..19]
        )
    );
    assert!(h[1].starts_with(&format!("{}||", &base[7..19])), "{h:?}");
    assert!(h[1].ends_with("|Imported from -"), "{h:?}");

    // No changes: no layer, an empty_layer history entry, untagged.
    r.ok(&["create", "--name", "same", "busybox", "true"]);
    let id2 = r.ok(&["container", "commit", "same"]).trim().to_string();
    let insp: serde_json::Value = serde_json::from_str(&r.ok(&["image", "inspect", &id2])).unwrap();
    assert_eq!(insp[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(insp[0]["RepoTags"], serde_json::json!([]));
    assert_eq!(insp[0]["Config"]["Cmd"], serde_json::json!(["true"]));
    assert!(r
        .ok(&["history", "--format", "{{.CreatedBy}}|{{.Size}}", &id2])
        .starts_with("true|0B\n|"));

    // A running container is paused for the commit and runs on after it.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo hi > /hi; sleep 30",
    ]);
    for _ in 0..100 {
        if r.ok(&["diff", "live"]).contains("A /hi") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    r.ok(&["commit", "-c", r#"CMD ["x"]"#, "live", "live:img"]);
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Status}}", "live"]).trim(),
        "running"
    );
    assert_eq!(r.ok(&["run", "--rm", "live:img", "cat", "/hi"]), "hi\n");
    assert_eq!(
        r.ok(&["image", "inspect", "-f", "{{json .Config.Cmd}}", "live:img"])
            .trim(),
        r#"["x"]"#
    );
    r.ok(&["commit", "--pause=false", "live", "live:img2"]);

    let o = r.run(&["commit", "nope"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error response from daemon: No such container: nope\n")
    );
    // Checked by the client, before the daemon is asked (berth's reference
    // parser names the repository, as newer docker versions do).
    let o = r.run(&["commit", "src", "BAD:tag"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("invalid reference format: repository name")
            && o.stderr.ends_with("must be lowercase\n"),
        "{}",
        o.stderr
    );
    let o = r.run(&["commit", "-c", "bogus", "src"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "Error response from daemon: bogus is not a valid change command\n"
        )
    );
    let o = r.run(&[
        "commit",
        "src",
        "x@sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    ]);
    assert_eq!(
        o.stderr,
        "refusing to create a tag with a digest reference\n"
    );
    assert_eq!(r.ok(&["debug", "check-store"]), "store is consistent\n");
    r.ok(&["rm", "-f", "src", "same", "live"]);
    r.assert_no_leftovers();
}
