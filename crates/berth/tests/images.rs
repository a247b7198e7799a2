//! Black-box tests of the image commands: each runs the real binary on its
//! own state root.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use common::*;

#[test]
fn import_lists_inspects_and_formats_like_docker() {
    let r = Root::new();
    let id = r.busybox("busybox:latest");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let short = &id[7..19];

    let out = r.ok(&["images"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED   ")
            && header.ends_with("   SIZE"),
        "{header}"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("busybox      latest    {short}   ")),
        "{row}"
    );
    assert!(row.ends_with("MB"), "{row}");

    assert_eq!(r.ok(&["images", "-q"]).trim(), short);
    assert_eq!(r.ok(&["image", "ls", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        r.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
            .trim(),
        format!("busybox:latest {short}")
    );
    let t = r.ok(&["images", "--format", "table {{.Repository}}\\t{{.ID}}"]);
    assert_eq!(t, format!("REPOSITORY   IMAGE ID\nbusybox      {short}\n"));
    let j = r.ok(&["images", "--format", "{{json .}}"]);
    assert!(j.contains(r#""Digest":"\u003cnone\u003e""#), "{j}");

    // inspect: Docker's shape and template access.
    let v: serde_json::Value =
        serde_json::from_str(&r.ok(&["image", "inspect", "busybox"])).unwrap();
    let img = &v[0];
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["RepoTags"][0], "busybox:latest");
    assert_eq!(img["Config"]["Cmd"][0], "sh");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["Os"], "linux");
    let size = img["Size"].as_u64().unwrap();
    let busybox_len = std::fs::metadata("/bin/busybox").unwrap().len();
    assert!(
        size >= busybox_len && size < busybox_len + 10_000,
        "size {size}"
    );
    let keys: Vec<&str> = img
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "Container",
            "ContainerConfig",
            "DockerVersion",
            "Author",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "VirtualSize",
            "GraphDriver",
            "RootFS",
            "Metadata"
        ]
    );
    assert_eq!(
        r.ok(&["image", "inspect", "--format", "{{.Id}}", short])
            .trim(),
        id
    );
    assert_eq!(
        r.ok(&["inspect", "-f", "{{json .Config.Cmd}}", "busybox"])
            .trim(),
        r#"["sh"]"#
    );
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.Size}}", "busybox"]).trim(),
        size.to_string()
    );

    let h = r.ok(&["history", "busybox"]);
    assert!(h.starts_with("IMAGE          CREATED   "), "{h}");
    assert!(
        h.lines()
            .next()
            .unwrap()
            .ends_with("   CREATED BY   SIZE      COMMENT"),
        "{h}"
    );
    assert!(h.contains(short) && h.contains("Imported from -"), "{h}");
}

#[test]
fn import_applies_changes_and_message() {
    let r = Root::new();
    let rootfs = tar_of(&[E::Dir("bin/"), E::File("bin/hello", b"hi\n")]);
    let out = r.run_stdin(
        &[
            "import",
            "-m",
            "my msg",
            "-c",
            "EXPOSE 80 53/udp",
            "-c",
            r#"LABEL a=b c="d e""#,
            "-c",
            "ENTRYPOINT /bin/sh",
            "-c",
            "ENV X=1 Y=\"2 3\"",
            "-c",
            "WORKDIR /w",
            "-c",
            "USER nobody",
            "-",
            "imp:1",
        ],
        &rootfs,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cfg = r.ok(&["inspect", "-f", "{{json .Config}}", "imp:1"]);
    for want in [
        r#""ExposedPorts":{"53/udp":{},"80/tcp":{}}"#,
        r#""Env":["X=1","Y=2 3"]"#,
        r#""Entrypoint":["/bin/sh","-c","/bin/sh"]"#,
        r#""WorkingDir":"/w""#,
        r#""User":"nobody""#,
        r#""Labels":{"a":"b","c":"d e"}"#,
    ] {
        assert!(cfg.contains(want), "{want} not in {cfg}");
    }
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.Comment}}", "imp:1"]).trim(),
        "my msg"
    );
    assert_eq!(
        r.ok(&["images", "--filter", "label=a=b", "-q"])
            .lines()
            .count(),
        1
    );
    assert_eq!(
        r.ok(&["images", "--filter", "label=a=x", "-q"])
            .lines()
            .count(),
        0
    );

    let bad = r.run_stdin(&["import", "-c", "FROM x", "-", "imp:2"], &rootfs);
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.stderr.trim(),
        "Error response from daemon: from is not a valid change command"
    );
    let bad = r.run(&["import", "/nonexistent.tar", "x"]);
    assert_eq!(
        (bad.code, bad.stderr.trim()),
        (1, "open /nonexistent.tar: no such file or directory")
    );
    let bad = r.run_stdin(&["import", "-", "UPPER"], &rootfs);
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.stderr.trim(),
        "invalid reference format: repository name (library/UPPER) must be lowercase"
    );
}

#[test]
fn tag_and_rmi_follow_docker_semantics() {
    let r = Root::new();
    let id = r.busybox("bbtest:v1");
    let short = &id[7..19];
    r.ok(&["tag", "bbtest:v1", "bbtest:v2"]);
    r.ok(&["image", "tag", short, "other/repo"]);
    assert_eq!(r.ok(&["images", "bbtest"]).lines().count(), 3);
    assert_eq!(
        r.ok(&[
            "images",
            "--filter",
            "reference=other/*",
            "--format",
            "{{.Repository}}:{{.Tag}}"
        ])
        .trim(),
        "other/repo:latest"
    );

    // By ID with several repositories: refused without -f.
    let o = r.run(&["rmi", short]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr.trim(),
        format!("Error response from daemon: conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );
    // By name: only untags.
    assert_eq!(r.ok(&["rmi", "bbtest:v2"]), "Untagged: bbtest:v2\n");
    assert_eq!(
        r.ok(&["rmi", "other/repo"]),
        "Untagged: other/repo:latest\n"
    );
    // Last tag: untag and delete image and its layer.
    let out = r.ok(&["rmi", "bbtest:v1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Untagged: bbtest:v1");
    assert_eq!(lines[1], format!("Deleted: {id}"));
    assert!(lines[2].starts_with("Deleted: sha256:"), "{out}");
    assert_eq!(r.ok(&["images", "-q"]), "");
    assert_eq!(
        std::fs::read_dir(r.path().join("snapshots"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(r.path().join("content/blobs/sha256"))
            .unwrap()
            .count(),
        0
    );

    // -f by ID removes every tag.
    let id = r.busybox("a:1");
    r.ok(&["tag", "a:1", "b:1"]);
    let out = r.ok(&["rmi", "-f", &id[7..19]]);
    assert!(
        out.contains("Untagged: a:1\nUntagged: b:1\nDeleted: "),
        "{out}"
    );

    let o = r.run(&["rmi", "nosuch"]);
    assert_eq!(
        (o.code, o.stderr.trim()),
        (
            1,
            "Error response from daemon: No such image: nosuch:latest"
        )
    );
    let o = r.run(&["tag", "nosuch", "foo"]);
    assert_eq!(
        (o.code, o.stderr.trim()),
        (
            1,
            "Error response from daemon: No such image: nosuch:latest"
        )
    );
    r.busybox("c:1");
    let o = r.run(&["tag", "c:1", "foo:bad:tag"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr.trim(), "Error parsing reference: \"foo:bad:tag\" is not a valid repository/tag: invalid reference format");
    let o = r.run(&["image", "inspect", "nosuch"]);
    assert_eq!(
        (o.code, o.stdout.trim(), o.stderr.trim()),
        (1, "[]", "Error: No such image: nosuch:latest")
    );
}

#[test]
fn cli_usage_errors_match_docker() {
    let r = Root::new();
    // Commands whose arguments run on (IMAGE COMMAND...) still refuse an
    // unknown flag before them instead of taking it for the image.
    for (cmd, usage) in [
        ("run", "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"),
        ("create", "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]"),
        ("exec", "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]"),
        ("build", "berth build [OPTIONS] PATH | URL | -"),
    ] {
        let o = r.run(&[cmd, "--bogus", "x"]);
        assert_eq!(o.code, 125, "{cmd}: {}", o.stderr);
        assert!(
            o.stderr
                .starts_with(&format!("unknown flag: --bogus\n\nUsage:  {usage}\n")),
            "{cmd}: {}",
            o.stderr
        );
    }
    let o = r.run(&["images", "--bogus"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr.starts_with(
            "unknown flag: --bogus\n\nUsage:  berth images [OPTIONS] [REPOSITORY[:TAG]]"
        ),
        "{}",
        o.stderr
    );
    let o = r.run(&["tag", "x"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.starts_with("berth: 'berth tag' requires 2 arguments\n\nUsage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"), "{}", o.stderr);
    let o = r.run(&["rmi"]);
    assert!(
        o.stderr
            .starts_with("berth: 'berth rmi' requires at least 1 argument"),
        "{}",
        o.stderr
    );
    let o = r.run(&["images", "a", "b"]);
    assert!(
        o.stderr
            .starts_with("berth: 'berth images' requires at most 1 argument"),
        "{}",
        o.stderr
    );
    let o = r.run(&["nosuchcmd"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("berth: unknown command: berth nosuchcmd"),
        "{}",
        o.stderr
    );
    let o = r.run(&["images", "--filter", "foo=bar"]);
    assert_eq!(
        (o.code, o.stderr.trim()),
        (1, "Error response from daemon: Invalid filter 'foo'")
    );
    let o = r.run(&["images", "--filter", "dangling=maybe"]);
    assert_eq!(
        o.stderr.trim(),
        "Error response from daemon: Invalid filter 'dangling=[maybe]'"
    );
    for cmd in [
        &["images", "--help"][..],
        &["image", "prune", "--help"],
        &["save", "--help"],
        &["load", "--help"],
    ] {
        let o = r.run(cmd);
        assert_eq!(o.code, 0, "{cmd:?}");
        assert!(o.stdout.contains("Usage:"), "{cmd:?}: {}", o.stdout);
    }
    let c = r.ok(&["completion", "bash"]);
    assert!(c.contains("berth") && c.contains("images"));
    let v = r.ok(&["version", "--format", "{{.Client.Version}}"]);
    assert_eq!(v.trim(), env!("CARGO_PKG_VERSION"));
    r.busybox("x:1");
    assert_eq!(r.ok(&["info", "--format", "{{.Images}}"]).trim(), "1");
    assert!(r.ok(&["info"]).contains(" Storage Driver: overlay2"));
}

#[test]
fn save_load_round_trip_keeps_ids_and_files() {
    let src = Root::new();
    let id = src.busybox("busybox:latest");
    src.ok(&["tag", "busybox", "busybox:other"]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bb.tar");
    src.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);

    let dst = Root::new();
    let out = dst.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        out,
        "Loaded image: busybox:latest\nLoaded image: busybox:other\n"
    );
    assert_eq!(dst.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        dst.ok(&["debug", "check-store"]).trim(),
        "store is consistent"
    );

    // Saving again yields the same bytes: archives are reproducible.
    let again = dir.path().join("again.tar");
    dst.ok(&[
        "save",
        "-o",
        again.to_str().unwrap(),
        "busybox:latest",
        "busybox:other",
    ]);
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // Loading through stdin, gzipped, is the same.
    let gz = gzip(&std::fs::read(&archive).unwrap());
    let third = Root::new();
    let o = third.run_stdin(&["load"], &gz);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(third.ok(&["images", "-q", "--no-trunc"]).trim(), id);

    // Saving to stdout by ID writes an untagged image.
    let o = src.cmd().args(["save", &id[7..19]]).output().unwrap();
    assert!(o.status.success());
    let fourth = Root::new();
    let o = fourth.run_stdin(&["load"], &o.stdout);
    assert_eq!(o.stdout.trim(), format!("Loaded image ID: {id}"));
    let o = src.run(&["save", "nosuch", "-o", "/tmp/never-written.tar"]);
    assert_eq!(
        (o.code, o.stderr.trim()),
        (1, "Error response from daemon: No such image: nosuch")
    );
    assert!(!std::path::Path::new("/tmp/never-written.tar").exists());
}

/// Files of every kind survive import -> snapshot and save -> load.
#[test]
fn layer_contents_survive_round_trip() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("dir/sub")).unwrap();
    let long = "l".repeat(120);
    std::fs::create_dir_all(src.join(&long)).unwrap();
    std::fs::write(src.join(&long).join(format!("{long}.txt")), b"long name").unwrap();
    std::fs::write(src.join("dir/file"), b"content").unwrap();
    std::fs::hard_link(src.join("dir/file"), src.join("dir/hardlink")).unwrap();
    std::os::unix::fs::symlink("../dir/file", src.join("dir/sub/rel-link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("abs-link")).unwrap();
    std::fs::write(src.join("setuid"), b"x").unwrap();
    let sh = |c: &str| {
        let s = std::process::Command::new("sh")
            .arg("-c")
            .arg(c)
            .current_dir(&src)
            .status()
            .unwrap();
        assert!(s.success(), "{c}");
    };
    sh("chmod 4755 setuid && chown 1234:5678 dir/file && mknod null c 1 3 && mkfifo fifo");
    sh("truncate -s 64M sparse && printf end >> sparse");
    sh("setfattr -n user.berth -v hello dir/file 2>/dev/null || true");
    let has_xattr = std::process::Command::new("getfattr")
        .args(["-n", "user.berth", "dir/file"])
        .current_dir(&src)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let tarball = work.path().join("rootfs.tar");
    let st = std::process::Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=user.*",
            "--sparse",
            "--numeric-owner",
            "-C",
        ])
        .arg(&src)
        .args(["-cf"])
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    // The sparse file travels as a GNU sparse entry, so the archive is small.
    assert!(std::fs::metadata(&tarball).unwrap().len() < 1 << 20);

    let check = |root: &Root| {
        let snaps: Vec<_> = std::fs::read_dir(root.path().join("snapshots"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(snaps.len(), 1);
        let fs = snaps[0].path().join("fs");
        let md = |p: &str| std::fs::symlink_metadata(fs.join(p)).unwrap();
        assert_eq!(std::fs::read(fs.join("dir/file")).unwrap(), b"content");
        assert_eq!((md("dir/file").uid(), md("dir/file").gid()), (1234, 5678));
        assert_eq!(md("dir/file").ino(), md("dir/hardlink").ino());
        assert_eq!(
            std::fs::read_link(fs.join("dir/sub/rel-link"))
                .unwrap()
                .to_str(),
            Some("../dir/file")
        );
        assert_eq!(
            std::fs::read_link(fs.join("abs-link")).unwrap().to_str(),
            Some("/etc/passwd")
        );
        assert_eq!(md("setuid").mode() & 0o7777, 0o4755);
        assert!(md("null").file_type().is_char_device());
        assert_eq!(
            md("null").rdev(),
            std::fs::metadata("/dev/null").unwrap().rdev()
        );
        assert!(md("fifo").file_type().is_fifo());
        assert_eq!(
            std::fs::read(fs.join(&long).join(format!("{long}.txt"))).unwrap(),
            b"long name"
        );
        let sp = md("sparse");
        assert_eq!(sp.len(), 64 * 1024 * 1024 + 3);
        assert!(
            sp.blocks() * 512 < 1 << 20,
            "sparse file was filled: {} blocks",
            sp.blocks()
        );
        if has_xattr {
            let o = std::process::Command::new("getfattr")
                .args(["--only-values", "-n", "user.berth"])
                .arg(fs.join("dir/file"))
                .output()
                .unwrap();
            assert_eq!(o.stdout, b"hello");
        }
    };
    let r = Root::new();
    let id = r.ok(&["import", tarball.to_str().unwrap(), "kinds:1"]);
    check(&r);
    let archive = work.path().join("kinds.tar");
    r.ok(&["save", "-o", archive.to_str().unwrap(), "kinds:1"]);
    let r2 = Root::new();
    r2.ok(&["load", "-i", archive.to_str().unwrap()]);
    check(&r2);
    assert_eq!(r2.ok(&["images", "-q", "--no-trunc"]).trim(), id.trim());
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let l1 = tar_of(&[
        E::Dir("a/"),
        E::File("a/f1", b"1"),
        E::File("a/f2", b"2"),
        E::Dir("b/"),
        E::File("b/old", b"o"),
    ]);
    let l2 = tar_of(&[
        E::Dir("a/"),
        E::File("a/.wh.f1", b""),
        E::Dir("b/"),
        E::File("b/.wh..wh..opq", b""),
        E::File("b/new", b"n"),
    ]);
    let (archive, id) = docker_archive(&[l1, l2], &["wh:1"]);
    let r = Root::new();
    let o = r.run_stdin(&["load"], &archive);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Loaded image: wh:1\n"),
        "{}",
        o.stderr
    );
    assert_eq!(
        r.ok(&["images", "-q", "--no-trunc"]).trim(),
        format!("sha256:{id}")
    );
    let top = r.ok(&["inspect", "-f", "{{.GraphDriver.Data.LowerDir}}", "wh:1"]);
    let top = std::path::PathBuf::from(top.trim().split(':').next().unwrap());
    let wh = std::fs::symlink_metadata(top.join("a/f1")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "a/f1 is not a whiteout"
    );
    assert!(!top.join("a/.wh.f1").exists());
    let o = std::process::Command::new("getfattr")
        .args(["--only-values", "-n", "trusted.overlay.opaque"])
        .arg(top.join("b"))
        .output()
        .unwrap();
    assert_eq!(o.stdout, b"y");
    assert_eq!(r.ok(&["history", "-q", "wh:1"]).lines().count(), 2);
}

#[test]
fn oci_layouts_with_gzip_and_zstd_layers_load() {
    let l1 = tar_of(&[E::File("one", b"1")]);
    let l2 = tar_of(&[E::File("two", b"2")]);
    let l3 = tar_of(&[E::File("three", b"3")]);
    let layers = vec![
        (
            gzip(&l1),
            "application/vnd.oci.image.layer.v1.tar+gzip",
            sha256_hex(&l1),
        ),
        (
            zstd(&l2),
            "application/vnd.oci.image.layer.v1.tar+zstd",
            sha256_hex(&l2),
        ),
        (
            l3.clone(),
            "application/vnd.oci.image.layer.v1.tar",
            sha256_hex(&l3),
        ),
    ];
    let (archive, id) = oci_archive(&layers, Some("docker.io/library/oci:1"));
    let r = Root::new();
    let o = r.run_stdin(&["load"], &archive);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Loaded image: oci:1\n"),
        "{}",
        o.stderr
    );
    assert_eq!(
        r.ok(&["images", "-q", "--no-trunc"]).trim(),
        format!("sha256:{id}")
    );
    assert_eq!(
        r.ok(&["inspect", "-f", "{{len .RootFS.Layers}}", "oci:1"])
            .trim(),
        "3"
    );
    // Save decompresses layers back to their diff IDs: another root gets the same image.
    let s = r.cmd().args(["save", "oci:1"]).output().unwrap();
    let r2 = Root::new();
    assert_eq!(r2.run_stdin(&["load"], &s.stdout).code, 0);
    assert_eq!(
        r2.ok(&["images", "-q", "--no-trunc"]).trim(),
        format!("sha256:{id}")
    );
    assert_eq!(
        r2.ok(&["debug", "check-store"]).trim(),
        "store is consistent"
    );
    // No name annotation: loaded untagged.
    let (archive, id) = oci_archive(&layers[2..], None);
    let r3 = Root::new();
    assert_eq!(
        r3.run_stdin(&["load"], &archive).stdout.trim(),
        format!("Loaded image ID: sha256:{id}")
    );
}

/// Each bad archive fails with a one-line error and leaves the store as it was.
#[test]
fn bad_archives_change_nothing() {
    let r = Root::new();
    r.busybox("keep:1");
    let before = r.fingerprint();
    let good_layer = tar_of(&[E::File("f", &[7u8; 300_000])]);
    let (good, _) = docker_archive(std::slice::from_ref(&good_layer), &["new:1"]);

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    cases.push((
        "truncated",
        good[..good.len() / 2].to_vec(),
        "unexpected EOF",
    ));
    let mut bad_gz = gzip(&good);
    let n = bad_gz.len();
    bad_gz[n / 2] ^= 0xff;
    bad_gz.truncate(n - 4);
    cases.push(("corrupt gzip", bad_gz, ""));
    cases.push(("empty", Vec::new(), "neither manifest.json nor index.json"));
    cases.push(("garbage", b"garbage\n".repeat(100), ""));
    // Layer whose content does not match the config's diff ID.
    let other = tar_of(&[E::File("f", &[8u8; 300_000])]);
    let (mut tampered, _) = docker_archive(std::slice::from_ref(&good_layer), &["new:1"]);
    let (tampered_src, _) = docker_archive(std::slice::from_ref(&other), &["new:1"]);
    // Same lengths: splice the other layer's bytes over the first.
    let pos = tampered
        .windows(64)
        .position(|w| w == &good_layer[..64])
        .unwrap();
    tampered[pos..pos + good_layer.len()].copy_from_slice(&other);
    let _ = tampered_src;
    cases.push(("diff id mismatch", tampered, "invalid diffID for layer 0"));
    // OCI blob whose bytes do not hash to its name.
    let l = tar_of(&[E::File("x", b"x")]);
    let (mut oci, _) = oci_archive(
        &[(
            l.clone(),
            "application/vnd.oci.image.layer.v1.tar",
            sha256_hex(&l),
        )],
        Some("docker.io/library/o:1"),
    );
    let p = oci
        .windows(l.len())
        .position(|w| w == l.as_slice())
        .unwrap();
    oci[p + 600] ^= 1; // inside the file data of entry "x"
    cases.push(("oci digest mismatch", oci, "mismatch"));
    // Entries that climb out of the layer root.
    let (evil, _) = docker_archive(&[raw_tar_file("../../evil", b"x")], &["evil:1"]);
    cases.push(("dotdot entry", evil, "outside of the layer root"));
    let (evil_link, _) = docker_archive(
        &[tar_of(&[E::Hardlink("etc-passwd", "../../../etc/passwd")])],
        &["evil:2"],
    );
    cases.push(("hardlink escape", evil_link, "outside of the layer root"));
    let outer_evil = raw_tar_file("../outside.json", b"{}");
    cases.push(("archive dotdot", outer_evil, "outside of the layer root"));

    for (name, data, want) in cases {
        let o = r.run_stdin(&["load"], &data);
        assert_ne!(o.code, 0, "{name}: load succeeded");
        assert_eq!(
            o.stderr.trim().lines().count(),
            1,
            "{name}: not one line: {}",
            o.stderr
        );
        assert!(
            o.stderr.contains(want),
            "{name}: {:?} does not contain {want:?}",
            o.stderr
        );
        assert_eq!(r.fingerprint(), before, "{name}: store changed");
        assert_eq!(r.tmp_entries(), 0, "{name}: scratch left behind");
    }
    assert!(!std::path::Path::new("/evil").exists());
    assert_eq!(
        r.ok(&["debug", "check-store"]).trim(),
        "store is consistent"
    );
}

/// A symlink planted in a layer cannot redirect later entries onto the host.
#[test]
fn symlink_tricks_stay_inside_the_layer() {
    let target = tempfile::tempdir().unwrap();
    let t = target.path().to_str().unwrap().to_string();
    // The host directory exists, and so does the same path inside the layer:
    // the write must land in the layer's copy.
    let inside = format!("{}/", t.trim_start_matches('/'));
    let layer = tar_of(&[
        E::Dir(&inside),
        E::Symlink("escape", &t),
        E::File("escape/pwned", b"gotcha"),
        E::Symlink("up", "../../../../../../"),
        E::File("up/pwned2", b"x"),
    ]);
    let r = Root::new();
    let o = r.run_stdin(&["import", "-", "trick:1"], &layer);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        !target.path().join("pwned").exists(),
        "wrote through a symlink onto the host"
    );
    assert!(!std::path::Path::new("/pwned2").exists());
    let snaps: Vec<_> = std::fs::read_dir(r.path().join("snapshots"))
        .unwrap()
        .flatten()
        .collect();
    let fs = snaps[0].path().join("fs");
    assert_eq!(
        std::fs::read(fs.join(t.trim_start_matches('/')).join("pwned")).unwrap(),
        b"gotcha"
    );
    assert_eq!(std::fs::read(fs.join("pwned2")).unwrap(), b"x");
}

#[test]
fn prune_removes_dangling_then_all() {
    let r = Root::new();
    r.busybox("p:1");
    // Re-import moves the tag; the old image becomes dangling.
    r.busybox("p:1");
    assert_eq!(
        r.ok(&["images", "--filter", "dangling=true", "-q"])
            .lines()
            .count(),
        1
    );
    let o = r.run(&["image", "prune"]);
    assert_eq!(o.code, 0);
    // Docker 20.10 asks on stdout and, declined, still prints the total.
    assert_eq!(
        o.stdout,
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] Total reclaimed space: 0B\n"
    );
    assert_eq!(
        r.ok(&["images", "-q"]).lines().count(),
        2,
        "prune without confirmation removed images"
    );
    let out = r.ok(&["image", "prune", "-f"]);
    assert!(
        out.starts_with("Deleted Images:\ndeleted: sha256:"),
        "{out}"
    );
    // Both images share the same layer, so nothing is reclaimed until the last goes.
    assert!(out.ends_with("\nTotal reclaimed space: 0B\n"), "{out}");
    assert_eq!(r.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(
        r.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let out = r.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: p:1\ndeleted: sha256:"), "{out}");
    assert!(out.contains("Total reclaimed space: 1.98"), "{out}");
    assert_eq!(r.ok(&["images", "-q"]), "");
}

/// SIGKILL in the middle of a load leaves a consistent store, and the next
/// command clears the scratch space the dead process held.
#[test]
fn sigkill_during_load_leaves_store_consistent() {
    let r = Root::new();
    r.busybox("keep:1");
    let before = r.fingerprint();
    // ~96 MiB of incompressible layers so the load is still running when killed.
    let mut layers = Vec::new();
    for i in 0..3u8 {
        let mut data = vec![0u8; 32 << 20];
        let mut x: u64 = 0x9e3779b97f4a7c15 ^ u64::from(i);
        for chunk in data.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        layers.push(tar_of(&[E::File(&format!("blob{i}"), &data)]));
    }
    let (archive, id) = docker_archive(&layers, &["big:1"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.tar");
    std::fs::write(&path, &archive).unwrap();

    for delay_ms in [30u64, 120, 400] {
        let mut child = r
            .cmd()
            .args(["load", "-i", path.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let check = r.run(&["debug", "check-store"]);
        assert_eq!(
            check.code, 0,
            "after kill at {delay_ms} ms: {}",
            check.stderr
        );
        let imgs = r.ok(&["images", "--format", "{{.Repository}}"]);
        assert!(imgs.contains("keep"), "{imgs}");
        assert_eq!(r.tmp_entries(), 0, "scratch of the killed load not swept");
        if !imgs.contains("big") {
            // Killed before the commit: only orphans (if any) differ, and GC removes them.
            r.ok(&["image", "prune", "-f"]);
            assert_eq!(r.fingerprint(), before, "after kill at {delay_ms} ms");
        } else {
            r.ok(&["rmi", "big:1"]);
        }
    }
    let out = r.ok(&["load", "-i", path.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: big:1\n");
    assert_eq!(
        r.ok(&["images", "-q", "--no-trunc", "big"]).trim(),
        format!("sha256:{id}")
    );
    assert_eq!(
        r.ok(&["debug", "check-store"]).trim(),
        "store is consistent"
    );
}

/// Concurrent berth processes on one root: loads, tags and removals never
/// corrupt the refs or lose a tag.
#[test]
fn concurrent_processes_keep_the_store_consistent() {
    let r = Root::new();
    r.busybox("base:1");
    let mut archives = Vec::new();
    for i in 0..6 {
        let layer = tar_of(&[E::File(&format!("f{i}"), &vec![i as u8; 200_000])]);
        archives.push(docker_archive(&[layer], &[&format!("img{i}:1")]).0);
    }
    let mut children = Vec::new();
    for a in &archives {
        let mut c = r
            .cmd()
            .arg("load")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = c.stdin.take().unwrap();
        let a = a.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&a);
        });
        children.push(c);
    }
    for i in 0..10 {
        children.push(
            r.cmd()
                .args(["tag", "base:1", &format!("tagged:{i}")])
                .spawn()
                .unwrap(),
        );
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let names = r.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for i in 0..6 {
        assert!(names.contains(&format!("img{i}:1")), "{names}");
    }
    for i in 0..10 {
        assert!(names.contains(&format!("tagged:{i}")), "{names}");
    }
    assert_eq!(
        r.ok(&["debug", "check-store"]).trim(),
        "store is consistent"
    );
}

/// Later entries of the same layer replace earlier ones of any kind, and a
/// file created in a set-group-ID directory still gets the owner its header names.
#[test]
fn later_entries_replace_earlier_ones() {
    let mut setgid_dir = tar::Header::new_gnu();
    setgid_dir.set_entry_type(tar::EntryType::Directory);
    setgid_dir.set_mode(0o2775);
    setgid_dir.set_gid(4321);
    setgid_dir.set_size(0);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut setgid_dir.clone(), "shared/", &[][..])
        .unwrap();
    let mut f = tar::Header::new_gnu();
    f.set_entry_type(tar::EntryType::Regular);
    f.set_mode(0o640);
    f.set_size(1);
    b.append_data(&mut f.clone(), "shared/root-owned", &b"r"[..])
        .unwrap();
    let body = tar_of(&[
        E::File("x", b"first"),
        E::File("x", b"second"),
        E::File("d", b"was a file"),
        E::Dir("d/"),
        E::File("d/inner", b"in"),
        E::Dir("e/"),
        E::File("e/gone", b"g"),
        E::File("e", b"now a file"),
        E::File("l", b"target"),
        E::Symlink("l", "x"),
    ]);
    let mut layer = b.into_inner().unwrap();
    layer.truncate(layer.len() - 1024); // drop the end-of-archive blocks
    layer.extend_from_slice(&body);
    let r = Root::new();
    let o = r.run_stdin(&["import", "-", "dup:1"], &layer);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let snaps: Vec<_> = std::fs::read_dir(r.path().join("snapshots"))
        .unwrap()
        .flatten()
        .collect();
    let fs = snaps[0].path().join("fs");
    assert_eq!(std::fs::read(fs.join("x")).unwrap(), b"second");
    assert_eq!(std::fs::read(fs.join("d/inner")).unwrap(), b"in");
    assert_eq!(std::fs::read(fs.join("e")).unwrap(), b"now a file");
    assert_eq!(
        std::fs::read_link(fs.join("l")).unwrap().to_str(),
        Some("x")
    );
    let shared = std::fs::metadata(fs.join("shared")).unwrap();
    assert_eq!((shared.mode() & 0o7777, shared.gid()), (0o2775, 4321));
    let ro = std::fs::metadata(fs.join("shared/root-owned")).unwrap();
    assert_eq!((ro.uid(), ro.gid(), ro.mode() & 0o7777), (0, 0, 0o640));
}
