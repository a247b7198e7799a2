//! `driver::delete` of the embedded runtime keeps a container's runtime
//! state while its cgroup cannot be removed, so that the caller's next
//! sweep tries again instead of forgetting the cgroup. A frozen process
//! stands in for one that is slow to die: SIGKILL does not end it until
//! it is thawed.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_runtime::cgroups;
use berth_runtime::driver::{self, Runtime};

/// The freezer of this host: (hierarchy, state file, frozen, thawed).
fn freezer() -> Option<(PathBuf, &'static str, &'static str, &'static str)> {
    for h in cgroups::hierarchies() {
        if h.join("freezer.state").exists() || h.ends_with("freezer") {
            return Some((h, "freezer.state", "FROZEN", "THAWED"));
        }
        if h.join("cgroup.subtree_control").exists() {
            return Some((h, "cgroup.freeze", "1", "0"));
        }
    }
    None
}

/// Thaws and removes the test's cgroups and ends its process, even when
/// an assertion failed.
struct Cleanup {
    cg: PathBuf,
    parent: PathBuf,
    state_file: &'static str,
    thawed: &'static str,
    child: std::process::Child,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.cg.join(self.state_file), self.thawed);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir(&self.cg);
        let _ = std::fs::remove_dir(&self.parent);
    }
}

fn write(p: &Path, v: &str) {
    std::fs::write(p, v).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

#[test]
fn a_cgroup_that_cannot_go_keeps_the_runtime_state() {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let Some((hier, state_file, frozen, thawed)) = freezer() else {
        eprintln!("skipped: no cgroup freezer");
        return;
    };
    let id = format!("delete-test-{}", std::process::id());
    let parent = hier.join("berth-test");
    let cg = parent.join(&id);
    std::fs::create_dir_all(&cg).unwrap();
    let child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id();
    let _cleanup = Cleanup {
        cg: cg.clone(),
        parent: parent.clone(),
        state_file,
        thawed,
        child,
    };
    write(&cg.join("cgroup.procs"), &pid.to_string());
    write(&cg.join(state_file), frozen);

    let states = tempfile::tempdir().unwrap();
    let state = states.path().join(&id);
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("state.json"), b"{}").unwrap();
    let rel = format!("/berth-test/{id}");

    let first = driver::delete(&Runtime::Embedded, states.path(), &id, &rel);
    assert!(first.is_err(), "a busy cgroup cannot be removed");
    assert!(
        state.exists(),
        "the runtime state stays while the cgroup does"
    );

    write(&cg.join(state_file), thawed);
    driver::delete(&Runtime::Embedded, states.path(), &id, &rel).unwrap();
    assert!(!state.exists());
    assert!(!cg.exists());
}
