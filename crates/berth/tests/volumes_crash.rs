//! A crash during `volume rm` or `volume prune` leaves either the volume,
//! whole, or nothing of it once the next command has run. The removing
//! process is SIGKILLed at spread-out moments (the delays only spread the
//! kill points; nothing depends on where they land).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::Root;

const DIRS: usize = 8;
const PER_DIR: usize = 1000;
/// `volume rm` renames the volume away within milliseconds of starting;
/// `volume prune` first sizes every volume it removes.
const RM_DELAYS_MS: [u64; 7] = [0, 5, 10, 20, 50, 100, 200];
const PRUNE_DELAYS_MS: [u64; 6] = [0, 50, 100, 200, 400, 800];

fn content(vol: &str, d: usize, f: usize) -> String {
    format!("{vol} {d} {f}\n")
}

/// A volume of `dirs` x PER_DIR small files, written from the host.
fn fill(r: &Root, vol: &str, dirs: usize) {
    r.ok(&["volume", "create", vol]);
    let data = r.path().join("volumes").join(vol).join("_data");
    for d in 0..dirs {
        let dir = data.join(format!("d{d:02}"));
        std::fs::create_dir(&dir).unwrap();
        for f in 0..PER_DIR {
            std::fs::write(dir.join(format!("f{f:04}")), content(vol, d, f)).unwrap();
        }
    }
}

/// Every file in `tmp/` that is not a scratch dir's lock: what a crash
/// could leave of a volume.
fn leftovers(r: &Root) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![r.path().join("tmp")];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != ".owner.lock" {
                out.push(e.path());
            }
        }
    }
    out
}

/// Run `args`, SIGKILL it after `delay`, reap it.
fn kill_after(r: &Root, args: &[&str], delay: Duration) {
    let mut child = r
        .cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap();
}

/// Whole or gone, judged by the next command (`volume inspect`, whose
/// start sweeps what killed processes left). Returns whether it is there.
fn whole_or_gone(r: &Root, vol: &str, dirs: usize) -> bool {
    let o = r.run(&["volume", "inspect", vol]);
    let dir = r.path().join("volumes").join(vol);
    let present = o.code == 0;
    if present {
        let data = dir.join("_data");
        for d in 0..dirs {
            for f in 0..PER_DIR {
                let p = data.join(format!("d{d:02}/f{f:04}"));
                let got = std::fs::read_to_string(&p);
                assert_eq!(got.ok(), Some(content(vol, d, f)), "{}", p.display());
            }
        }
        let entries = std::fs::read_dir(&data).unwrap().count();
        assert_eq!(entries, dirs, "{vol}: half a volume");
    } else {
        assert_eq!(
            o.stderr,
            format!("Error response from daemon: get {vol}: no such volume\n")
        );
        assert!(!dir.exists(), "{vol}: its directory outlived it");
    }
    let left = leftovers(r);
    assert!(
        left.is_empty(),
        "{vol}: left in tmp/: {:?}",
        &left[..left.len().min(5)]
    );
    present
}

fn assert_clean_end(r: &Root) {
    assert_eq!(r.run(&["volume", "ls", "-q"]).stdout, "");
    let volumes = std::fs::read_dir(r.path().join("volumes")).unwrap().count();
    assert_eq!(volumes, 0);
    assert!(leftovers(r).is_empty());
}

#[test]
fn killed_volume_rm_leaves_the_volume_or_nothing() {
    let r = Root::new();
    let (mut kept, mut gone) = (0, 0);
    for ms in RM_DELAYS_MS {
        if !r.path().join("volumes/big").exists() {
            fill(&r, "big", DIRS);
        }
        kill_after(&r, &["volume", "rm", "big"], Duration::from_millis(ms));
        if whole_or_gone(&r, "big", DIRS) {
            kept += 1;
        } else {
            gone += 1;
        }
    }
    eprintln!("volume rm killed: {kept} kept, {gone} gone");
    if r.path().join("volumes/big").exists() {
        assert_eq!(r.run(&["volume", "rm", "big"]).stdout, "big\n");
    }
    assert_clean_end(&r);
}

#[test]
fn killed_volume_prune_leaves_each_volume_or_nothing() {
    let r = Root::new();
    let vols = [("big", DIRS), ("small", 1)];
    let mut gone = [0, 0];
    for ms in PRUNE_DELAYS_MS {
        for (v, dirs) in vols {
            if !r.path().join("volumes").join(v).exists() {
                fill(&r, v, dirs);
            }
        }
        kill_after(
            &r,
            &["volume", "prune", "-a", "-f"],
            Duration::from_millis(ms),
        );
        for (i, (v, dirs)) in vols.iter().enumerate() {
            if !whole_or_gone(&r, v, *dirs) {
                gone[i] += 1;
            }
        }
    }
    eprintln!(
        "volume prune killed: removed big {}x, small {}x",
        gone[0], gone[1]
    );
    let o = r.run(&["volume", "prune", "-a", "-f"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_clean_end(&r);
}

/// A grave whose owner is alive is left to it: a command running beside a
/// long `volume rm` neither deletes under it nor waits for it.
#[test]
fn a_live_removal_is_left_to_its_owner() {
    let r = Root::new();
    fill(&r, "big", DIRS);
    let child = r
        .cmd()
        .args(["volume", "rm", "big"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = r.run(&["volume", "ls", "-q"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout == "big\n" || o.stdout.is_empty(), "{}", o.stdout);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"big\n");
    assert_clean_end(&r);
    assert!(!Path::new(&r.path().join("volumes/big")).exists());
}
