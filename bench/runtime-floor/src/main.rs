//! Runtime decision data (not part of berth): one create/start/wait/delete
//! cycle through youki's libcontainer in-process vs `runc run`, same bundle.
use std::time::Instant;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::default::DefaultExecutor;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bundle = std::path::PathBuf::from(&args[1]);
    let n: usize = args[2].parse()?;
    let state = tempfile_dir();
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut lc = Vec::new();
    let mut rc = Vec::new();
    for i in 0..n {
        let id = format!("lcb-{}-{i}", std::process::id());
        let t = Instant::now();
        let mut c = ContainerBuilder::new(id.clone(), SyscallType::default())
            .with_root_path(&state)?
            .with_executor(DefaultExecutor {})
            .as_init(&bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()?;
        c.start()?;
        let pid = c.pid().map(|p| p.as_raw()).unwrap_or(-1);
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        c.delete(true)?;
        lc.push(t.elapsed().as_secs_f64() * 1000.0);

        let t = Instant::now();
        let s = std::process::Command::new("runc")
            .arg("--root")
            .arg(&state)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(format!("rc-{id}"))
            .stdout(std::process::Stdio::null())
            .status()?;
        assert!(s.success());
        rc.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "libcontainer median {:.1} ms, runc run median {:.1} ms (n={n})",
        median(lc),
        median(rc)
    );
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}

fn tempfile_dir() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("lcbench-state-{}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}
