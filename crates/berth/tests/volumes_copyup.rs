//! Copy-up: a new named volume mounted over an image directory is filled
//! from it as dockerd 20.10 fills it. The image here holds every kind of
//! entry a layer can carry (set-id bits, owners, xattrs, hardlinks,
//! symlinks that lead out, devices, a fifo, a sparse file); the volume is
//! checked from the host and from inside, and against a private dockerd
//! given the same image (skipped where dockerd is not installed).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use common::dockerd::Dockerd;
use common::{docker_archive, repo_root, sha256_hex, Root};

const IMAGE: &str = "copyup:1";
const T_DATA: u64 = 1_100_000_000;
const T_FILE: u64 = 1_600_000_000;
const T_EMPTY: u64 = 1_300_000_000;
const T_SUB: u64 = 1_200_000_000;
const T_SYM: u64 = 1_500_000_000;
const T_FIFO: u64 = 1_400_000_000;
const T_OTHER: u64 = 1_700_000_000;
/// `cap_net_raw+ep` as `security.capability` holds it (revision 2).
const CAP: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const SPARSE_SIZE: u64 = 8 << 20;

enum Kind<'a> {
    Dir,
    File(Vec<u8>),
    Hardlink(&'a str),
    Symlink(&'a str),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

struct Ent<'a> {
    path: &'a str,
    kind: Kind<'a>,
    mode: u32,
    owner: (u64, u64),
    mtime: u64,
    xattrs: Vec<(&'a str, Vec<u8>)>,
}

fn ent<'a>(path: &'a str, kind: Kind<'a>, mode: u32) -> Ent<'a> {
    Ent {
        path,
        kind,
        mode,
        owner: (0, 0),
        mtime: T_OTHER,
        xattrs: Vec::new(),
    }
}

/// One PAX record, `"<len> <key>=<value>\n"`, its length counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut n = rest + 1;
    while n != rest + n.to_string().len() {
        n = rest + n.to_string().len();
    }
    let mut r = format!("{n} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

fn layer(entries: &[Ent]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        if !e.xattrs.is_empty() {
            let mut recs = Vec::new();
            for (k, v) in &e.xattrs {
                recs.extend(pax_record(&format!("SCHILY.xattr.{k}"), v));
            }
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::XHeader);
            h.set_mode(0o644);
            h.set_size(recs.len() as u64);
            b.append_data(&mut h, "PaxHeaders/x", recs.as_slice())
                .unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_mtime(e.mtime);
        h.set_uid(e.owner.0);
        h.set_gid(e.owner.1);
        h.set_mode(e.mode);
        h.set_size(0);
        match &e.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, e.path, &[][..]).unwrap();
            }
            Kind::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, e.path, data.as_slice()).unwrap();
            }
            Kind::Hardlink(t) => {
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, e.path, t).unwrap();
            }
            Kind::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, e.path, t).unwrap();
            }
            Kind::Char(ma, mi) | Kind::Block(ma, mi) => {
                let t = match e.kind {
                    Kind::Char(..) => tar::EntryType::Char,
                    _ => tar::EntryType::Block,
                };
                h.set_entry_type(t);
                h.set_device_major(*ma).unwrap();
                h.set_device_minor(*mi).unwrap();
                b.append_data(&mut h, e.path, &[][..]).unwrap();
            }
            Kind::Fifo => {
                h.set_entry_type(tar::EntryType::Fifo);
                b.append_data(&mut h, e.path, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn big_content() -> Vec<u8> {
    (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn sparse_content() -> Vec<u8> {
    let mut v = vec![0u8; SPARSE_SIZE as usize];
    v.extend_from_slice(b"end");
    v
}

/// The layer over busybox: `/data` with every kind of entry, and two
/// symlinks at the root to mount volumes through.
fn data_layer() -> Vec<u8> {
    let with = |mut e: Ent<'static>, f: &dyn Fn(&mut Ent<'static>)| {
        f(&mut e);
        e
    };
    let entries = vec![
        with(ent("data", Kind::Dir, 0o751), &|e| {
            e.owner = (5, 6);
            e.mtime = T_DATA;
            e.xattrs = vec![("user.root", b"r".to_vec())];
        }),
        with(
            ent("data/file", Kind::File(b"hello\n".to_vec()), 0o640),
            &|e| {
                e.owner = (1000, 2000);
                e.mtime = T_FILE;
                e.xattrs = vec![("user.test", b"hello".to_vec())];
            },
        ),
        with(ent("data/hard", Kind::Hardlink("data/file"), 0o640), &|e| {
            e.owner = (1000, 2000);
            e.mtime = T_FILE;
        }),
        with(
            ent("data/suid", Kind::File(b"s\n".to_vec()), 0o4755),
            &|e| {
                e.xattrs = vec![("security.capability", CAP.to_vec())];
            },
        ),
        ent("data/sgid", Kind::File(b"g\n".to_vec()), 0o2755),
        with(ent("data/sub", Kind::Dir, 0o1777), &|e| {
            e.mtime = T_SUB;
            e.xattrs = vec![("user.dir", b"d".to_vec())];
        }),
        with(ent("data/sub/deep", Kind::Dir, 0o710), &|e| {
            e.owner = (33, 33)
        }),
        ent("data/sub/deep/f", Kind::File(b"deep\n".to_vec()), 0o644),
        with(ent("data/emptydir", Kind::Dir, 0o705), &|e| {
            e.mtime = T_EMPTY
        }),
        with(ent("data/sym", Kind::Symlink("file"), 0o777), &|e| {
            e.mtime = T_SYM;
            e.owner = (11, 12);
        }),
        ent("data/abssym", Kind::Symlink("/etc/passwd"), 0o777),
        ent("data/escape", Kind::Symlink("../../../../"), 0o777),
        with(ent("data/chr", Kind::Char(1, 3), 0o640), &|e| {
            e.owner = (7, 8)
        }),
        ent("data/blk", Kind::Block(7, 0), 0o600),
        with(ent("data/fifo", Kind::Fifo, 0o610), &|e| {
            e.owner = (9, 10);
            e.mtime = T_FIFO;
        }),
        ent("data/sparse", Kind::File(sparse_content()), 0o644),
        ent("data/big", Kind::File(big_content()), 0o644),
        ent("vlink", Kind::Symlink("data"), 0o777),
        ent("etclink", Kind::Symlink("../../../../etc"), 0o777),
    ];
    layer(&entries)
}

fn busybox_rootfs() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rootfs.tar");
    let o = Command::new("bash")
        .arg(repo_root().join("scripts/make-test-images.sh"))
        .arg("rootfs-busybox")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(&out).unwrap()
}

/// Load the test image (busybox + the data layer) into `r`.
fn load_image(r: &Root) {
    let (archive, _) = docker_archive(&[busybox_rootfs(), data_layer()], &[IMAGE]);
    let o = r.run_stdin(&["load"], &archive);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

fn xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let n = rustix::fs::llistxattr_query(p).unwrap();
    let mut list = vec![0u8; n];
    let n = rustix::fs::llistxattr(p, &mut list[..]).unwrap();
    for name in list[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8(name.to_vec()).unwrap();
        let len = rustix::fs::lgetxattr_query(p, name.as_str()).unwrap();
        let mut v = vec![0u8; len];
        let len = rustix::fs::lgetxattr(p, name.as_str(), &mut v[..]).unwrap();
        v.truncate(len);
        out.insert(name, v);
    }
    out
}

fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
}

/// Everything the copy must keep, asserted on a volume's `_data` (berth's
/// or dockerd's).
fn assert_copied(d: &Path) {
    let md = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap();
    let perm = |p: &str| md(p).mode() & 0o7777;
    let owner = |p: &str| (md(p).uid(), md(p).gid());
    let times = |p: &str| {
        let m = md(p);
        (m.mtime(), m.mtime_nsec(), m.atime(), m.atime_nsec())
    };
    let at = |t: u64| (t as i64, 0, t as i64, 0);

    // The root takes the image directory's owner, mode and xattrs; its
    // time is that of the copy, as for every directory that got entries.
    let root = std::fs::metadata(d).unwrap();
    assert_eq!(
        (root.uid(), root.gid(), root.mode() & 0o7777),
        (5, 6, 0o751)
    );
    assert_eq!(
        xattrs(d).get("user.root").map(Vec::as_slice),
        Some(&b"r"[..])
    );
    assert_ne!(root.mtime(), T_DATA as i64);

    // Times before contents: reading a file or link moves its access time.
    assert_eq!(times("file"), at(T_FILE));
    assert_eq!(times("sym"), at(T_SYM));
    assert_eq!(std::fs::read(d.join("file")).unwrap(), b"hello\n");
    assert_eq!((perm("file"), owner("file")), (0o640, (1000, 2000)));
    assert_eq!(xattrs(&d.join("file")).get("user.test").unwrap(), b"hello");
    assert_eq!(md("file").ino(), md("hard").ino(), "hardlink kept");
    assert_eq!(md("file").nlink(), 2);

    assert_eq!(perm("suid"), 0o4755);
    assert_eq!(
        xattrs(&d.join("suid")).get("security.capability").unwrap(),
        &CAP.to_vec()
    );
    assert_eq!(perm("sgid"), 0o2755);
    assert_eq!(times("sgid"), at(T_OTHER));

    assert_eq!(perm("sub"), 0o1777);
    assert_eq!(xattrs(&d.join("sub")).get("user.dir").unwrap(), b"d");
    assert_ne!(
        md("sub").mtime(),
        T_SUB as i64,
        "stamped before its children"
    );
    assert_eq!((perm("sub/deep"), owner("sub/deep")), (0o710, (33, 33)));
    assert_eq!(std::fs::read(d.join("sub/deep/f")).unwrap(), b"deep\n");
    assert_eq!(perm("emptydir"), 0o705);
    assert_eq!(md("emptydir").mtime(), T_EMPTY as i64, "no children, kept");

    for (l, t) in [
        ("sym", "file"),
        ("abssym", "/etc/passwd"),
        ("escape", "../../../../"),
    ] {
        assert!(md(l).file_type().is_symlink(), "{l}");
        assert_eq!(std::fs::read_link(d.join(l)).unwrap(), Path::new(t));
    }
    assert_eq!(owner("sym"), (11, 12));

    assert!(md("chr").file_type().is_char_device());
    assert_eq!(md("chr").rdev(), makedev(1, 3));
    assert_eq!((perm("chr"), owner("chr")), (0o640, (7, 8)));
    assert!(md("blk").file_type().is_block_device());
    assert_eq!(md("blk").rdev(), makedev(7, 0));
    assert!(md("fifo").file_type().is_fifo());
    assert_eq!((perm("fifo"), owner("fifo")), (0o610, (9, 10)));
    assert_eq!(times("fifo"), at(T_FIFO));

    assert_eq!(md("sparse").len(), SPARSE_SIZE + 3);
    assert_eq!(
        sha256_hex(&std::fs::read(d.join("sparse")).unwrap()),
        sha256_hex(&sparse_content())
    );
    assert_eq!(
        sha256_hex(&std::fs::read(d.join("big")).unwrap()),
        sha256_hex(&big_content())
    );
}

/// A normalized listing of a volume for comparing engines: type, mode,
/// owner, links (as the first path of each inode), device numbers, size,
/// link target, xattrs, times except directories' (a non-empty
/// directory's time is the moment of the copy), then content digests
/// (read last: a read moves the access time of every link of a file).
fn listing(d: &Path) -> Vec<String> {
    let mut inodes = BTreeMap::new();
    let mut stack = vec![d.to_path_buf()];
    let mut paths = Vec::new();
    while let Some(p) = stack.pop() {
        paths.push(p.clone());
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    paths.sort();
    let mut out = Vec::new();
    for p in &paths {
        let m = std::fs::symlink_metadata(p).unwrap();
        let rel = p.strip_prefix(d).unwrap().display().to_string();
        let first = inodes.entry(m.ino()).or_insert_with(|| rel.clone()).clone();
        let mut line = format!(
            "{rel:?} mode={:o} owner={}:{} inode={first:?}",
            m.mode(),
            m.uid(),
            m.gid()
        );
        let ft = m.file_type();
        if ft.is_char_device() || ft.is_block_device() {
            line += &format!(" rdev={:x}", m.rdev());
        }
        if ft.is_file() {
            line += &format!(" size={}", m.len());
        }
        if ft.is_symlink() {
            line += &format!(" -> {:?}", std::fs::read_link(p).unwrap());
        }
        if !ft.is_dir() {
            line += &format!(
                " mtime={}.{:09} atime={}.{:09}",
                m.mtime(),
                m.mtime_nsec(),
                m.atime(),
                m.atime_nsec()
            );
        }
        for (k, v) in xattrs(p) {
            line += &format!(" {k}={}", hex::encode(v));
        }
        out.push(line);
    }
    for p in &paths {
        if std::fs::symlink_metadata(p).unwrap().is_file() {
            let rel = p.strip_prefix(d).unwrap().display();
            let sum = sha256_hex(&std::fs::read(p).unwrap());
            out.push(format!("{rel:?} sha256={sum}"));
        }
    }
    out
}

/// What a container sees of the volume (same script on both engines).
const INSIDE: &str = "cd /data && stat -c '%n %a %u:%g %h %F' file hard suid sgid sub sub/deep \
    emptydir sym chr blk fifo sparse && cat file sub/deep/f && readlink sym && readlink escape && \
    [ \"$(stat -c %i file)\" = \"$(stat -c %i hard)\" ] && echo same-inode";

#[test]
fn copy_up_keeps_every_kind_of_entry() {
    let r = Root::new();
    load_image(&r);
    // Checked from the host before any container reads a file (a read
    // moves its access time).
    let o = r.run(&["run", "--rm", "-v", "cu:/data", IMAGE, "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let data = r.path().join("volumes/cu/_data");
    assert_copied(&data);
    // Holes stay holes: berth's layer keeps them and so does the copy.
    let blocks = std::fs::metadata(data.join("sparse")).unwrap().blocks();
    assert!(blocks * 512 < 1 << 20, "copied dense: {blocks} blocks");

    let o = r.run(&["run", "--rm", "-v", "cu:/data", IMAGE, "sh", "-c", INSIDE]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let want_end = "hello\ndeep\nfile\n../../../../\nsame-inode\n";
    assert!(o.stdout.ends_with(want_end), "{}", o.stdout);
    let want_start = "file 640 1000:2000 2 regular file\n";
    assert!(o.stdout.starts_with(want_start), "{}", o.stdout);

    // A volume with content is never filled again.
    std::fs::remove_file(data.join("file")).unwrap();
    let o = r.run(&["run", "--rm", "-v", "cu:/data", IMAGE, "ls", "/data/file"]);
    assert_ne!(o.code, 0);
    assert!(!data.join("file").exists());
    assert_eq!(r.tmp_entries(), 0);
    r.assert_no_leftovers();
}

#[test]
fn destination_resolves_inside_the_rootfs() {
    let r = Root::new();
    load_image(&r);
    // /vlink -> data: the volume is mounted where the link leads, and
    // filled from there, as dockerd does.
    let o = r.run(&["run", "--rm", "-v", "vl:/vlink", IMAGE, "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_copied(&r.path().join("volumes/vl/_data"));
    let o = r.run(&[
        "run",
        "--rm",
        "-v",
        "vl:/vlink",
        IMAGE,
        "cat",
        "/data/sub/deep/f",
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "deep\n"), "{}", o.stderr);

    // /etclink -> ../../../../etc leads to the image's /etc, never the host's.
    let o = r.run(&["run", "--rm", "-v", "etc:/etclink", IMAGE, "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let passwd = std::fs::read_to_string(r.path().join("volumes/etc/_data/passwd")).unwrap();
    assert_eq!(
        passwd,
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
    );

    // An empty image directory still gives the volume root its attributes.
    let o = r.run(&["run", "--rm", "-v", "empty:/data/emptydir", IMAGE, "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m = std::fs::metadata(r.path().join("volumes/empty/_data")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o705, T_EMPTY as i64));

    // Over a file (through a symlink too): dockerd's error.
    for dest in ["/data/file", "/data/sym"] {
        let m = format!("onfile:{dest}");
        let o = r.run(&["run", "--rm", "-v", &m, IMAGE, "true"]);
        assert_ne!(o.code, 0, "{dest}");
        let want = "/rootfs/data/file is not directory";
        assert!(o.stderr.contains(want), "{dest}: {}", o.stderr);
    }
    // A missing directory copies nothing.
    let o = r.run(&["run", "--rm", "-v", "none:/nothing/here", IMAGE, "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let data = r.path().join("volumes/none/_data");
    assert_eq!(std::fs::read_dir(data).unwrap().count(), 0);
    r.assert_no_leftovers();
}

/// The same image in a private dockerd 20.10: the same volume, seen from
/// the host and from inside.
#[test]
fn copy_up_matches_dockerd() {
    let r = Root::new();
    load_image(&r);
    let Some(d) = Dockerd::start() else {
        return;
    };
    d.load_from_berth(&r, IMAGE);
    let docker = |args: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(args);
        d.docker(&a)
    };

    let o = r.run(&["run", "--rm", "-v", "cu:/data", IMAGE, "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = docker(&["-v", "cu:/data", IMAGE, "true"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let docker_data = d.path().join("data/volumes/cu/_data");
    let ours = listing(&r.path().join("volumes/cu/_data"));
    let theirs = listing(&docker_data);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b);
    }
    assert_eq!(ours.len(), theirs.len());

    let o = r.run(&["run", "--rm", "-v", "cu:/data", IMAGE, "sh", "-c", INSIDE]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let theirs = docker(&["-v", "cu:/data", IMAGE, "sh", "-c", INSIDE]);
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(o.stdout, theirs.stdout);

    // Through a symlink, and from an empty directory: the same volume root.
    for (vol, dest) in [("vl", "/vlink"), ("em", "/data/emptydir")] {
        let m = format!("{vol}:{dest}");
        assert_eq!(r.run(&["run", "--rm", "-v", &m, IMAGE, "true"]).code, 0);
        let o = docker(&["-v", &m, IMAGE, "true"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let a = std::fs::metadata(r.path().join(format!("volumes/{vol}/_data"))).unwrap();
        let b = std::fs::metadata(d.path().join(format!("data/volumes/{vol}/_data"))).unwrap();
        let attrs = |m: &std::fs::Metadata| (m.mode(), m.uid(), m.gid());
        assert_eq!(attrs(&a), attrs(&b), "{dest}");
        if vol == "em" {
            assert_eq!(a.mtime(), b.mtime());
        }
    }
    // Over a file: dockerd refuses with the words berth uses.
    let o = docker(&["-v", "onfile:/data/file", IMAGE, "true"]);
    let want = "/data/file is not directory";
    assert!(
        o.stderr.contains(want),
        "{} {}{}",
        o.code,
        o.stdout,
        o.stderr
    );
    r.assert_no_leftovers();
}
