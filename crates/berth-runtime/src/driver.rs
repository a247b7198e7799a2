//! Starting a container from a bundle and handing it to its monitor.
//!
//! `launch` forks the calling process (which must be single-threaded: the
//! CLI calls it before any thread exists). The child becomes a session
//! leader and child subreaper, creates and starts the container -- in
//! process through youki's `libcontainer`, or by running an OCI runtime
//! binary (`--runtime`) -- so the container's init ends up as its child,
//! then execs `berth-monitor`, which reaps the init, keeps its stdio and
//! records its exit. The parent learns the outcome over a pipe.
#![allow(unsafe_code)] // fork, exec and fd plumbing

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};

/// Which OCI runtime runs containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// youki's libcontainer, linked into berth: no extra process to exec.
    Embedded,
    /// Any runtime binary with runc's command line (runc, crun, youki).
    External(PathBuf),
}

impl Runtime {
    /// The name kept in a container's record (`HostConfig.Runtime`).
    pub fn name(&self) -> String {
        match self {
            Runtime::Embedded => "berth".into(),
            Runtime::External(p) => p.display().to_string(),
        }
    }

    pub fn from_name(name: &str) -> Runtime {
        match name {
            "" | "berth" | "libcontainer" => Runtime::Embedded,
            p => Runtime::External(PathBuf::from(p)),
        }
    }
}

/// Why a container did not start, classified the way Docker picks exit codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The command is not in the image (docker exits 127).
    #[error("{0}")]
    NotFound(String),
    /// The command cannot be executed (docker exits 126).
    #[error("{0}")]
    CannotExecute(String),
    #[error("{0}")]
    Other(String),
}

impl LaunchError {
    fn encode(&self) -> String {
        match self {
            LaunchError::NotFound(m) => format!("N{m}"),
            LaunchError::CannotExecute(m) => format!("X{m}"),
            LaunchError::Other(m) => format!("O{m}"),
        }
    }
    fn decode(s: &str) -> LaunchError {
        let (k, m) = s.split_at(s.char_indices().nth(1).map(|(i, _)| i).unwrap_or(s.len()));
        let m = m.trim_end().to_string();
        match k {
            "N" => LaunchError::NotFound(m),
            "X" => LaunchError::CannotExecute(m),
            _ => LaunchError::Other(m),
        }
    }
}

/// The json-file log the monitor writes.
#[derive(Debug, Clone)]
pub struct LogSpec {
    pub path: PathBuf,
    pub max_size: Option<u64>,
    pub max_file: u32,
}

#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub runtime: &'a Runtime,
    /// The runtime's own state directory (`--root` of runc).
    pub state_root: &'a Path,
    /// Per-container run dir: attach socket, console socket, exit file.
    pub run_dir: &'a Path,
    pub tty: bool,
    /// Keep stdin open (`-i`).
    pub stdin: bool,
    /// Give the caller a connection that owns the container's exit
    /// (attached `run`): the monitor leaves cleanup to it.
    pub owner: bool,
    pub log: Option<LogSpec>,
    pub monitor_exe: &'a Path,
    /// Run by the monitor after the exit when no owner is attached.
    pub cleanup: Vec<String>,
    /// Descriptors the monitor keeps for the container's lifetime, each
    /// passed as `flag fd` (host port reservations, the DNS sockets).
    pub monitor_fds: Vec<(&'static str, RawFd)>,
    /// More `flag value` arguments for the monitor.
    pub monitor_args: Vec<String>,
}

#[derive(Debug)]
pub struct Launched {
    pub monitor_pid: i32,
    pub init_pid: i32,
    pub owner: Option<UnixStream>,
}

pub const ATTACH_SOCKET: &str = "attach.sock";
pub const CONSOLE_SOCKET: &str = "console.sock";
pub const EXIT_FILE: &str = "exit";

/// A path to `name` in `dir` short enough for a socket address whatever
/// `dir`'s length: through `/proc/self/fd` of an open directory.
pub struct ShortPath {
    _dir: OwnedFd,
    pub path: PathBuf,
}

pub fn short_path(dir: &Path, name: &str) -> std::io::Result<ShortPath> {
    let f = std::fs::File::open(dir)?;
    let fd: OwnedFd = f.into();
    let path = PathBuf::from(format!("/proc/self/fd/{}/{name}", fd.as_raw_fd()));
    Ok(ShortPath { _dir: fd, path })
}

/// Connect to a running container's monitor.
pub fn attach(run_dir: &Path) -> std::io::Result<UnixStream> {
    let p = short_path(run_dir, ATTACH_SOCKET)?;
    UnixStream::connect(&p.path)
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn threads_of_self() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(1)
}

/// Create and start the container; returns once it runs under its monitor.
pub fn launch(l: &Launch) -> Result<Launched, LaunchError> {
    if threads_of_self() != 1 {
        return Err(LaunchError::Other(
            "internal error: containers must be launched from a single-threaded process".into(),
        ));
    }
    let io = |what: &str, e: std::io::Error| LaunchError::Other(format!("{what}: {e}"));
    std::fs::create_dir_all(l.run_dir).map_err(|e| io("create run dir", e))?;
    let _ = std::fs::remove_file(l.run_dir.join(EXIT_FILE));
    let _ = std::fs::remove_file(l.run_dir.join(ATTACH_SOCKET));
    let _ = std::fs::remove_file(l.run_dir.join(CONSOLE_SOCKET));
    let sock = short_path(l.run_dir, ATTACH_SOCKET).map_err(|e| io("attach socket", e))?;
    let listener = UnixListener::bind(&sock.path).map_err(|e| io("attach socket", e))?;
    let (report_r, report_w) = pipe().map_err(|e| io("pipe", e))?;
    let (owner_parent, owner_child) = if l.owner {
        let (a, b) = UnixStream::pair().map_err(|e| io("socketpair", e))?;
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    let stdio = if l.tty {
        None
    } else {
        let out = pipe().map_err(|e| io("pipe", e))?;
        let err = pipe().map_err(|e| io("pipe", e))?;
        let inp = if l.stdin {
            Some(pipe().map_err(|e| io("pipe", e))?)
        } else {
            None
        };
        Some((out, err, inp))
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the process is single-threaded (checked above), so the child
    // may run arbitrary code before it execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io("fork", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(report_r);
        drop(owner_parent);
        let mut w = std::fs::File::from(report_w);
        let r = child(l, listener, owner_child, stdio, &mut w);
        if let Err(e) = r {
            let _ = w.write_all(e.encode().as_bytes());
        }
        // SAFETY: leaving the forked child without running the parent's
        // destructors or atexit handlers.
        unsafe { libc::_exit(1) };
    }
    drop(report_w);
    drop(owner_child);
    drop(stdio);
    drop(listener);
    let mut report = String::new();
    let _ = std::fs::File::from(report_r).read_to_string(&mut report);
    match report.strip_prefix('P') {
        Some(rest) if !rest.contains('\n') || rest.ends_with('\n') => {
            let init_pid = rest.trim().parse().unwrap_or(0);
            Ok(Launched {
                monitor_pid: pid,
                init_pid,
                owner: owner_parent,
            })
        }
        _ => {
            let mut status = 0;
            // SAFETY: reaping our own failed child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            let msg = report.split_once('\n').map(|x| x.1).unwrap_or(&report);
            let msg = if report.starts_with('P') {
                msg
            } else {
                &report
            };
            if msg.is_empty() {
                Err(LaunchError::Other("container launcher died".into()))
            } else {
                Err(LaunchError::decode(msg))
            }
        }
    }
}

type Stdio3 = (
    (OwnedFd, OwnedFd),
    (OwnedFd, OwnedFd),
    Option<(OwnedFd, OwnedFd)>,
);

/// In the forked child: create, start, become the monitor.
fn child(
    l: &Launch,
    listener: UnixListener,
    owner: Option<UnixStream>,
    stdio: Option<Stdio3>,
    report: &mut std::fs::File,
) -> Result<(), LaunchError> {
    let other = |what: &str, e: &dyn std::fmt::Display| LaunchError::Other(format!("{what}: {e}"));
    // The caller's stdio must not be held by the monitor (a detached
    // `run` would never look finished to whoever reads its output).
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors of this child.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    // SAFETY: plain syscalls on this (child) process.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let console = if l.tty {
        let p = l.run_dir.join(CONSOLE_SOCKET);
        let s = short_path(l.run_dir, CONSOLE_SOCKET).map_err(|e| other("console socket", &e))?;
        let lis = UnixListener::bind(&s.path).map_err(|e| other("console socket", &e))?;
        Some((p, lis))
    } else {
        None
    };
    let null = || std::fs::File::open("/dev/null").map(OwnedFd::from);
    let (keep, container_side): (Vec<OwnedFd>, [Option<OwnedFd>; 3]) = match stdio {
        Some(((out_r, out_w), (err_r, err_w), inp)) => {
            let (in_keep, in_child) = match inp {
                Some((r, w)) => (Some(w), r),
                None => (None, null().map_err(|e| other("/dev/null", &e))?),
            };
            let mut keep = vec![out_r, err_r];
            keep.extend(in_keep);
            (keep, [Some(in_child), Some(out_w), Some(err_w)])
        }
        None => (Vec::new(), [None, None, None]),
    };
    // libcgroups opens procfs through pathrs for every cgroup controller;
    // pathrs caches one safe handle per process, and only processes that
    // inherit a good one skip rebuilding it (~1 ms each, ~25 per start on a
    // cgroup v1 host). Make one before libcontainer forks.
    if matches!(l.runtime, Runtime::Embedded) {
        let _ = pathrs::procfs::ProcfsHandle::new();
    }
    let pid = match l.runtime {
        Runtime::Embedded => embedded_create(l, container_side, console.as_ref().map(|c| &c.0))?,
        Runtime::External(bin) => {
            external_create(l, bin, container_side, console.as_ref().map(|c| &c.0))?
        }
    };
    // From here on a failure must not leave the container running unwatched.
    let fail = |e: LaunchError| {
        // SAFETY: killing the init we just started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        e
    };
    let pty = match console {
        Some((_, lis)) => Some(receive_pty(&lis).map_err(|e| fail(other("console", &e)))?),
        None => None,
    };
    let mut args: Vec<String> = vec![
        "berth-monitor".into(),
        "--init-pid".into(),
        pid.to_string(),
        "--exit-file".into(),
        l.run_dir.join(EXIT_FILE).display().to_string(),
    ];
    let pass = |flag: &str, fd: RawFd, args: &mut Vec<String>| {
        // SAFETY: clearing close-on-exec on a descriptor we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        args.push(flag.into());
        args.push(fd.to_string());
    };
    let keep_fds: Vec<RawFd> = keep.iter().map(|f| f.as_raw_fd()).collect();
    if let Some(p) = &pty {
        pass("--pty-fd", p.as_raw_fd(), &mut args);
    } else {
        pass("--stdout-fd", keep_fds[0], &mut args);
        pass("--stderr-fd", keep_fds[1], &mut args);
        if let Some(fd) = keep_fds.get(2) {
            pass("--stdin-fd", *fd, &mut args);
        }
    }
    if let Some(o) = &owner {
        pass("--owner-fd", o.as_raw_fd(), &mut args);
    }
    pass("--listen-fd", listener.as_raw_fd(), &mut args);
    for (flag, fd) in &l.monitor_fds {
        pass(flag, *fd, &mut args);
    }
    args.extend(l.monitor_args.iter().cloned());
    if let Some(log) = &l.log {
        args.push("--log".into());
        args.push(log.path.display().to_string());
        if let Some(s) = log.max_size {
            args.push("--max-size".into());
            args.push(s.to_string());
        }
        args.push("--max-file".into());
        args.push(log.max_file.to_string());
    }
    if !l.cleanup.is_empty() {
        args.push("--".into());
        args.extend(l.cleanup.iter().cloned());
    }
    report
        .write_all(format!("P{pid}\n").as_bytes())
        .map_err(|e| fail(other("report", &e)))?;
    let exe = CString::new(l.monitor_exe.as_os_str().as_encoded_bytes())
        .map_err(|e| fail(other("monitor path", &e)))?;
    let argv: Vec<CString> = args
        .iter()
        .filter_map(|a| CString::new(a.as_str()).ok())
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // Keep every passed descriptor alive across exec.
    std::mem::forget(keep);
    std::mem::forget(owner);
    std::mem::forget(pty);
    std::mem::forget(listener);
    // SAFETY: exe and argv are valid C strings, argv is null-terminated.
    unsafe { libc::execv(exe.as_ptr(), ptrs.as_ptr()) };
    Err(fail(other(
        &format!("exec {}", l.monitor_exe.display()),
        &std::io::Error::last_os_error(),
    )))
}

/// Runs in the container right before exec: Docker's checks and wording.
#[derive(Clone)]
struct BerthExecutor;

impl Executor for BerthExecutor {
    fn exec(&self, spec: &oci_spec::runtime::Spec) -> Result<(), ExecutorError> {
        let args = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default();
        let Some(first) = args.first() else {
            return Err(ExecutorError::InvalidArg);
        };
        let c: Vec<CString> = args
            .iter()
            .filter_map(|a| CString::new(a.as_bytes()).ok())
            .collect();
        let mut ptrs: Vec<*const libc::c_char> = c.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let path = CString::new(first.as_bytes()).map_err(|_| ExecutorError::InvalidArg)?;
        // Ignored signals survive exec: berth's own processes ignore SIGPIPE
        // (Rust's runtime does), and a container must start with the
        // defaults, as under runc (`yes | head` must end).
        // SAFETY: plain libc calls on this process's signal state.
        unsafe {
            // The raw call: glibc's wrappers refuse its own signals 32 and 33.
            #[repr(C)]
            struct KernelSigaction {
                handler: usize,
                flags: libc::c_ulong,
                restorer: usize,
                mask: u64,
            }
            let dfl = KernelSigaction {
                handler: libc::SIG_DFL,
                flags: 0,
                restorer: 0,
                mask: 0,
            };
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::syscall(
                        libc::SYS_rt_sigaction,
                        sig,
                        &dfl as *const KernelSigaction,
                        std::ptr::null_mut::<KernelSigaction>(),
                        8usize,
                    );
                }
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        }
        // SAFETY: valid C strings, null-terminated argv; the environment was
        // set from the spec by setup_envs.
        unsafe { libc::execvp(path.as_ptr(), ptrs.as_ptr()) };
        Err(ExecutorError::Other(format!(
            "exec: \"{first}\": {}",
            std::io::Error::last_os_error()
        )))
    }

    fn validate(&self, spec: &oci_spec::runtime::Spec) -> Result<(), ExecutorValidationError> {
        let Some(p) = spec.process() else {
            return Ok(());
        };
        let args = p.args().clone().unwrap_or_default();
        let Some(first) = args.first() else {
            return Ok(());
        };
        let env = p.env().clone().unwrap_or_default();
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(crate::process::DEFAULT_PATH);
        check_executable(first, path, p.cwd()).map_err(ExecutorValidationError::ArgValidationError)
    }
}

/// `exec: "x": executable file not found in $PATH` and friends, as runc
/// words them, so the caller can pick Docker's exit code.
pub fn check_executable(cmd: &str, path: &str, cwd: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let candidates: Vec<PathBuf> = if cmd.contains('/') {
        vec![cwd.join(cmd)]
    } else {
        path.split(':')
            .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(cmd))
            .collect()
    };
    let mut denied = false;
    for c in &candidates {
        match std::fs::metadata(c) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(_) => denied = true,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => denied = true,
            Err(_) => {}
        }
    }
    if cmd.contains('/') {
        if denied {
            Err(format!("exec: \"{cmd}\": permission denied"))
        } else {
            Err(format!(
                "exec: \"{cmd}\": stat {cmd}: no such file or directory"
            ))
        }
    } else if denied {
        Err(format!("exec: \"{cmd}\": permission denied"))
    } else {
        Err(format!(
            "exec: \"{cmd}\": executable file not found in $PATH"
        ))
    }
}

fn classify(msg: String) -> LaunchError {
    // Docker shows only the exec failure, in runc's words.
    let msg = match msg.find("exec: \"") {
        Some(i) => {
            let tail = &msg[i..];
            let end = tail.find(" (os error").unwrap_or(tail.len());
            format!(
                "OCI runtime create failed: unable to start container process: {}: unknown",
                &tail[..end]
            )
        }
        None => msg,
    };
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory") && msg.contains("exec: ")
    {
        LaunchError::NotFound(msg)
    } else if msg.contains("permission denied") && msg.contains("exec: ") {
        LaunchError::CannotExecute(msg)
    } else {
        LaunchError::Other(msg)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn embedded_create(
    l: &Launch,
    stdio: [Option<OwnedFd>; 3],
    console: Option<&PathBuf>,
) -> Result<i32, LaunchError> {
    let [i, o, e] = stdio;
    let mut b = ContainerBuilder::new(l.id.to_string(), SyscallType::default())
        .with_root_path(l.state_root)
        .map_err(|e| LaunchError::Other(error_chain(&e)))?
        .with_executor(BerthExecutor)
        .with_console_socket(console.cloned());
    if let Some(i) = i {
        b = b.with_stdin(i);
    }
    if let Some(o) = o {
        b = b.with_stdout(o);
    }
    if let Some(e) = e {
        b = b.with_stderr(e);
    }
    let mut c = b
        .as_init(l.bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| classify(format!("OCI runtime create failed: {}", error_chain(&e))))?;
    let pid = c.pid().map(|p| p.as_raw()).unwrap_or(0);
    c.start().map_err(|e| {
        LaunchError::Other(format!("OCI runtime start failed: {}", error_chain(&e)))
    })?;
    Ok(pid)
}

fn external_create(
    l: &Launch,
    bin: &Path,
    stdio: [Option<OwnedFd>; 3],
    console: Option<&PathBuf>,
) -> Result<i32, LaunchError> {
    let pid_file = l.run_dir.join("init.pid");
    let errfile = l.run_dir.join("runtime.log");
    let _ = std::fs::remove_file(&errfile);
    let mut cmd = Command::new(bin);
    cmd.arg("--root")
        .arg(l.state_root)
        .arg("--log")
        .arg(&errfile)
        .args(["--log-format", "json", "create", "--bundle"])
        .arg(l.bundle)
        .arg("--pid-file")
        .arg(&pid_file);
    if let Some(c) = console {
        cmd.arg("--console-socket").arg(c);
    }
    cmd.arg(l.id);
    // The runtime passes its own stdio on to the container's init.
    let [i, o, e] = stdio;
    let to = |f: Option<OwnedFd>| f.map(Stdio::from).unwrap_or_else(Stdio::null);
    cmd.stdin(to(i)).stdout(to(o)).stderr(to(e));
    let st = cmd.status();
    drop(cmd);
    let st = st.map_err(|e| LaunchError::Other(format!("{}: {e}", bin.display())))?;
    if !st.success() {
        let log = std::fs::read_to_string(&errfile).unwrap_or_default();
        let msg = log
            .lines()
            .filter(|l| l.contains("\"error\""))
            .filter_map(|l| l.split("\"msg\":\"").nth(1))
            .map(|m| m.split("\",\"").next().unwrap_or(m).replace("\\\"", "\""))
            .next_back()
            .unwrap_or_else(|| format!("{} create exited with {st}", bin.display()));
        return Err(classify(format!("OCI runtime create failed: {msg}")));
    }
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| LaunchError::Other("runtime wrote no pid file".into()))?;
    let st = Command::new(bin)
        .arg("--root")
        .arg(l.state_root)
        .arg("start")
        .arg(l.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| LaunchError::Other(format!("{}: {e}", bin.display())))?;
    if !st.success() {
        return Err(LaunchError::Other(format!(
            "OCI runtime start failed: {st}"
        )));
    }
    Ok(pid)
}

/// Receive the pty master that the container's init sends over the console socket.
fn receive_pty(lis: &UnixListener) -> std::io::Result<OwnedFd> {
    let (s, _) = lis.accept()?;
    let mut buf = [0u8; 256];
    let mut cmsg = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr points at live stack buffers for the call's duration.
    let fd = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = cmsg.len() as _;
        if libc::recvmsg(s.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err(std::io::Error::other("no pty received"));
        }
        std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd)
    };
    // SAFETY: the kernel just installed this descriptor for us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Remove the runtime's state for a stopped container (and its cgroup,
/// `cgroups_path` as in its spec).
pub fn delete(
    runtime: &Runtime,
    state_root: &Path,
    id: &str,
    cgroups_path: &str,
) -> Result<(), String> {
    match runtime {
        Runtime::Embedded => {
            // What libcontainer's delete would do for a stopped container,
            // without its per-controller cgroup discovery. The cgroups go
            // first and the state only once they are gone: a cgroup still
            // busy with a dying process (a loaded machine) keeps the state,
            // which is what tells the caller's next sweep to try again.
            crate::cgroups::remove(cgroups_path)
                .map_err(|e| format!("remove cgroup {cgroups_path}: {e}"))?;
            let dir = state_root.join(id);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("remove {}: {e}", dir.display())),
            }
        }
        Runtime::External(bin) => {
            let out = Command::new(bin)
                .arg("--root")
                .arg(state_root)
                .args(["delete", "--force", id])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || err.contains("does not exist") || err.contains("not exist") {
                Ok(())
            } else {
                Err(err.trim().to_string())
            }
        }
    }
}

/// Freeze or thaw every process of the container.
pub fn set_paused(
    runtime: &Runtime,
    state_root: &Path,
    id: &str,
    paused: bool,
) -> Result<(), String> {
    match runtime {
        Runtime::Embedded => {
            let mut c = Container::load(state_root.join(id)).map_err(|e| error_chain(&e))?;
            if paused {
                c.pause().map_err(|e| error_chain(&e))
            } else {
                c.resume().map_err(|e| error_chain(&e))
            }
        }
        Runtime::External(bin) => {
            let out = Command::new(bin)
                .arg("--root")
                .arg(state_root)
                .arg(if paused { "pause" } else { "resume" })
                .arg(id)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
            }
        }
    }
}

/// The kernel's start time of a process (clock ticks since boot), so a
/// recorded pid is only trusted while it names the same process.
pub fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Whether `pid` is still the process that had `start` (and not a zombie).
pub fn alive(pid: i32, start: u64) -> bool {
    if start_time(pid) != Some(start) {
        return false;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !matches!(
        s.rfind(')').and_then(|i| s.get(i + 2..i + 3)),
        Some("Z") | Some("X")
    )
}

/// Send a signal to a process only if it is still the one we recorded.
pub fn signal(pid: i32, start: u64, sig: i32) -> std::io::Result<()> {
    // SAFETY: pidfd_open/pidfd_send_signal with a valid pid; the fd is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    if start_time(pid) != Some(start) {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: pidfd_send_signal on our pidfd with no siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Wait until `pid` exits or `timeout` passes; true if it exited.
pub fn wait_exit(pid: i32, start: u64, timeout: Option<std::time::Duration>) -> bool {
    // SAFETY: pidfd_open on a pid; the returned fd is owned below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return true;
    }
    // SAFETY: the kernel just gave us this descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    if start_time(pid) != Some(start) {
        return true;
    }
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return false;
                }
                left.as_millis().min(i32::MAX as u128) as i32
            }
        };
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polling one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n > 0 {
            return true;
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return !alive(pid, start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_survive_the_pipe() {
        for e in [
            LaunchError::NotFound("exec: \"x\": executable file not found in $PATH".into()),
            LaunchError::CannotExecute("exec: \"/etc\": permission denied".into()),
            LaunchError::Other("boom".into()),
        ] {
            assert_eq!(LaunchError::decode(&e.encode()), e);
        }
    }

    #[test]
    fn executable_lookup() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("ok"), "").unwrap();
        std::fs::write(d.path().join("noexec"), "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.path().join("ok"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let p = d.path().display().to_string();
        assert!(check_executable("ok", &p, Path::new("/")).is_ok());
        assert_eq!(
            check_executable("nope", &p, Path::new("/")).unwrap_err(),
            "exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(
            check_executable("noexec", &p, Path::new("/")).unwrap_err(),
            "exec: \"noexec\": permission denied"
        );
        assert!(
            classify("exec: \"nope\": executable file not found in $PATH".into())
                != LaunchError::Other(String::new())
        );
    }
}

/// A process to run inside a running container (`exec`).
#[derive(Debug, Clone)]
pub struct ExecSpec<'a> {
    pub id: &'a str,
    pub runtime: &'a Runtime,
    pub state_root: &'a Path,
    /// Where the console socket may live for a tty.
    pub run_dir: &'a Path,
    pub process: &'a crate::process::Process,
    pub tty: bool,
    pub detach: bool,
    pub privileged: bool,
}

/// A started exec: its pid (a child of the caller unless detached) and,
/// with a tty, the pty master.
#[derive(Debug)]
pub struct ExecHandle {
    pub pid: i32,
    pub pty: Option<OwnedFd>,
}

/// Every capability, for `exec --privileged`.
const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Every capability this process's bounding set still has: `--privileged`
/// cannot grant more than berth itself holds.
pub fn host_caps() -> Vec<&'static str> {
    let bnd = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| bnd & (1u64 << i) != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// Start a process in a running container. Must be called from a
/// single-threaded process (the runtime forks).
pub fn exec(e: &ExecSpec, stdio: [Option<OwnedFd>; 3]) -> Result<ExecHandle, LaunchError> {
    if threads_of_self() != 1 {
        return Err(LaunchError::Other(
            "internal error: exec must start from a single-threaded process".into(),
        ));
    }
    let other =
        |what: &str, err: &dyn std::fmt::Display| LaunchError::Other(format!("{what}: {err}"));
    std::fs::create_dir_all(e.run_dir).map_err(|x| other("run dir", &x))?;
    // Detached runtime children reparent to us, so we can still reap them.
    // SAFETY: a prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let console = if e.tty {
        let name = format!("exec-{}.sock", std::process::id());
        let s = short_path(e.run_dir, &name).map_err(|x| other("console socket", &x))?;
        let _ = std::fs::remove_file(e.run_dir.join(&name));
        let lis = UnixListener::bind(&s.path).map_err(|x| other("console socket", &x))?;
        Some((e.run_dir.join(&name), lis))
    } else {
        None
    };
    let p = e.process;
    let pid = match e.runtime {
        Runtime::Embedded => {
            let [i, o, er] = stdio;
            let mut b = ContainerBuilder::new(e.id.to_string(), SyscallType::default())
                .with_root_path(e.state_root)
                .map_err(|x| LaunchError::Other(error_chain(&x)))?
                .with_executor(BerthExecutor)
                .with_console_socket(console.as_ref().map(|c| c.0.clone()));
            if let Some(i) = i {
                b = b.with_stdin(i);
            }
            if let Some(o) = o {
                b = b.with_stdout(o);
            }
            if let Some(er) = er {
                b = b.with_stderr(er);
            }
            // The whole process as an OCI process file: the only way to
            // ask libcontainer for a terminal on exec.
            let caps: Vec<&str> = if e.privileged {
                host_caps()
            } else {
                crate::spec::DEFAULT_CAPS.to_vec()
            };
            let proc_json = crate::spec::process_json(p, e.tty, &caps);
            let proc_file = e.run_dir.join(format!("exec-{}.json", std::process::id()));
            std::fs::write(&proc_file, proc_json.to_string())
                .map_err(|x| other("process file", &x))?;
            // libcontainer hands out a console only to detached processes;
            // the caller is a subreaper, so a tty process still comes back
            // to it as a child.
            let t = b
                .as_tenant()
                .with_process(Some(&proc_file))
                .with_detach(e.detach || e.tty);
            let built = t.build();
            let _ = std::fs::remove_file(&proc_file);
            let pid = built.map_err(|x| {
                classify_exec(format!("OCI runtime exec failed: {}", error_chain(&x)))
            })?;
            pid.as_raw()
        }
        Runtime::External(bin) => {
            let pid_file = e.run_dir.join(format!("exec-{}.pid", std::process::id()));
            let mut cmd = Command::new(bin);
            cmd.arg("--root")
                .arg(e.state_root)
                .arg("exec")
                .arg("--pid-file")
                .arg(&pid_file);
            cmd.arg("--cwd").arg(&p.cwd);
            cmd.arg("--user").arg(format!("{}:{}", p.uid, p.gid));
            for g in &p.additional_gids {
                cmd.arg("--additional-gids").arg(g.to_string());
            }
            for kv in &p.env {
                cmd.arg("--env").arg(kv);
            }
            if e.tty {
                cmd.arg("--tty");
            }
            if let Some((path, _)) = &console {
                cmd.arg("--console-socket").arg(path);
            }
            if e.privileged {
                for c in host_caps() {
                    cmd.arg("--cap").arg(c);
                }
            }
            cmd.arg("--detach").arg(e.id).args(&p.args);
            let [i, o, er] = stdio;
            let to = |f: Option<OwnedFd>| f.map(Stdio::from).unwrap_or_else(Stdio::null);
            cmd.stdin(to(i)).stdout(to(o)).stderr(to(er));
            let out = cmd
                .output()
                .map_err(|x| other(&bin.display().to_string(), &x))?;
            if !out.status.success() {
                return Err(classify_exec(format!(
                    "OCI runtime exec failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| LaunchError::Other("runtime wrote no pid file".into()))?;
            let _ = std::fs::remove_file(&pid_file);
            pid
        }
    };
    let pty = match console {
        Some((path, lis)) => {
            let r = receive_pty(&lis).map_err(|x| other("console", &x));
            let _ = std::fs::remove_file(path);
            Some(r?)
        }
        None => None,
    };
    Ok(ExecHandle { pid, pty })
}

fn classify_exec(msg: String) -> LaunchError {
    match msg.find("exec: \"") {
        Some(i) => {
            let tail = &msg[i..];
            let end = tail.find(" (os error").unwrap_or(tail.len());
            let m = format!("OCI runtime exec failed: exec failed: unable to start container process: {}: unknown", &tail[..end]);
            if m.contains("executable file not found") || m.contains("no such file or directory") {
                LaunchError::NotFound(m)
            } else {
                LaunchError::CannotExecute(m)
            }
        }
        None => LaunchError::Other(msg),
    }
}
