use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_logs::{LogWriter, Rotation, Stream};

use crate::proto::{self, FrameReader};

/// What `berth` tells the monitor on its command line.
#[derive(Debug, Default)]
struct Config {
    init_pid: i32,
    stdout_fd: Option<RawFd>,
    stderr_fd: Option<RawFd>,
    pty_fd: Option<RawFd>,
    stdin_fd: Option<RawFd>,
    owner_fd: Option<RawFd>,
    listen_fd: Option<RawFd>,
    log: Option<String>,
    max_size: Option<u64>,
    max_file: u32,
    exit_file: String,
    /// argv exec'd after the exit when no attached owner will clean up.
    cleanup: Vec<String>,
    /// Kept open, untouched, until the monitor ends (host port
    /// reservations: the ports stay taken while the container runs).
    hold_fds: Vec<RawFd>,
    /// The container's DNS resolver sockets (udp, tcp) and its config.
    dns_udp_fd: Option<RawFd>,
    dns_tcp_fd: Option<RawFd>,
    dns_config: Option<String>,
    /// Published IPv6 host sockets to proxy, and their targets (paired by
    /// order): see `proxy.rs`.
    proxy_fds: Vec<RawFd>,
    proxy_to: Vec<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut c = Config {
        max_file: 1,
        ..Config::default()
    };
    while let Some(a) = args.next() {
        if a == "--" {
            c.cleanup = args.by_ref().collect();
            break;
        }
        let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        let fd = || v.parse::<RawFd>().map_err(|_| format!("bad {a}: {v}"));
        match a.as_str() {
            "--init-pid" => c.init_pid = fd()?,
            "--stdout-fd" => c.stdout_fd = Some(fd()?),
            "--stderr-fd" => c.stderr_fd = Some(fd()?),
            "--pty-fd" => c.pty_fd = Some(fd()?),
            "--stdin-fd" => c.stdin_fd = Some(fd()?),
            "--owner-fd" => c.owner_fd = Some(fd()?),
            "--listen-fd" => c.listen_fd = Some(fd()?),
            "--log" => c.log = Some(v),
            "--max-size" => c.max_size = Some(v.parse().map_err(|_| format!("bad {a}: {v}"))?),
            "--max-file" => c.max_file = v.parse().map_err(|_| format!("bad {a}: {v}"))?,
            "--exit-file" => c.exit_file = v,
            "--hold-fd" => c.hold_fds.push(fd()?),
            "--dns-udp-fd" => c.dns_udp_fd = Some(fd()?),
            "--dns-tcp-fd" => c.dns_tcp_fd = Some(fd()?),
            "--dns-config" => c.dns_config = Some(v),
            "--proxy-fd" => c.proxy_fds.push(fd()?),
            "--proxy-to" => c.proxy_to.push(v),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    if c.proxy_fds.len() != c.proxy_to.len() {
        return Err("every --proxy-fd needs a --proxy-to".into());
    }
    if c.init_pid <= 0 || c.exit_file.is_empty() {
        return Err("--init-pid and --exit-file are required".into());
    }
    Ok(c)
}

struct Client {
    fd: RawFd,
    frames: FrameReader,
    out: Vec<u8>,
    owner: bool,
}

/// Output waiting for slow clients beyond this stops reading the
/// container's pipes, so the container blocks instead of memory growing.
const BACKPRESSURE: usize = 1 << 20;
/// After the container's init exits, how long to wait for its pipes to close.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

struct Monitor {
    cfg: Config,
    sources: Vec<(RawFd, Stream)>,
    clients: Vec<Client>,
    stdin_buf: Vec<u8>,
    stdin_close: bool,
    log: Option<LogWriter>,
    exit_code: Option<i32>,
    exited_at: Option<Instant>,
}

pub fn main() -> i32 {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("dns") {
        return crate::dns::serve_only(args.skip(1));
    }
    let cfg = match parse_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            return 2;
        }
    };
    // SAFETY: plain libc calls on this process's own signal state.
    let sfd = unsafe {
        for s in [libc::SIGPIPE, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
            libc::signal(s, libc::SIG_IGN);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
    };
    if sfd < 0 {
        eprintln!("berth-monitor: signalfd: {}", io::Error::last_os_error());
        return 1;
    }
    // Held descriptors must not outlive the monitor into the cleanup it
    // execs (a restart would find its own ports taken).
    for fd in cfg
        .hold_fds
        .iter()
        .chain(cfg.dns_udp_fd.iter())
        .chain(cfg.dns_tcp_fd.iter())
        .chain(cfg.proxy_fds.iter())
    {
        // SAFETY: setting close-on-exec on a descriptor passed to us.
        unsafe { libc::fcntl(*fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    crate::dns::start(cfg.dns_udp_fd, cfg.dns_tcp_fd, cfg.dns_config.as_deref());
    for (fd, to) in cfg.proxy_fds.iter().zip(&cfg.proxy_to) {
        crate::proxy::start(*fd, to);
    }
    let mut m = Monitor::new(cfg);
    m.run(sfd);
    m.finish()
}

impl Monitor {
    fn new(cfg: Config) -> Self {
        let mut sources = Vec::new();
        for (fd, s) in [
            (cfg.pty_fd, Stream::Stdout),
            (cfg.stdout_fd, Stream::Stdout),
            (cfg.stderr_fd, Stream::Stderr),
        ] {
            if let Some(fd) = fd {
                set_nonblock(fd);
                sources.push((fd, s));
            }
        }
        let mut clients = Vec::new();
        if let Some(fd) = cfg.owner_fd {
            set_nonblock(fd);
            clients.push(Client {
                fd,
                frames: FrameReader::default(),
                out: Vec::new(),
                owner: true,
            });
        }
        if let Some(fd) = cfg.stdin_fd {
            set_nonblock(fd);
        }
        let log = cfg.log.as_ref().and_then(|p| {
            LogWriter::open(
                p,
                Rotation {
                    max_size: cfg.max_size,
                    max_file: cfg.max_file.max(1),
                },
            )
            .map_err(|e| eprintln!("berth-monitor: log {p}: {e}"))
            .ok()
        });
        Monitor {
            cfg,
            sources,
            clients,
            stdin_buf: Vec::new(),
            stdin_close: false,
            log,
            exit_code: None,
            exited_at: None,
        }
    }

    fn done(&self) -> bool {
        match self.exited_at {
            None => false,
            Some(t) => self.sources.is_empty() || t.elapsed() > DRAIN_GRACE,
        }
    }

    fn run(&mut self, sfd: RawFd) {
        // The init may have exited before this process was exec'd.
        self.reap();
        while !self.done() {
            let backpressure = self.clients.iter().any(|c| c.out.len() > BACKPRESSURE);
            let mut fds: Vec<libc::pollfd> = Vec::with_capacity(8);
            let pfd = |fd, events| libc::pollfd {
                fd,
                events,
                revents: 0,
            };
            fds.push(pfd(sfd, libc::POLLIN));
            fds.push(pfd(self.cfg.listen_fd.unwrap_or(-1), libc::POLLIN));
            let stdin_fd = match self.cfg.stdin_fd.or(self.cfg.pty_fd) {
                Some(fd) if !self.stdin_buf.is_empty() => fd,
                _ => -1,
            };
            fds.push(pfd(stdin_fd, libc::POLLOUT));
            let nsrc = self.sources.len();
            let ncl = self.clients.len();
            for &(fd, _) in &self.sources {
                fds.push(pfd(if backpressure { -1 } else { fd }, libc::POLLIN));
            }
            for c in &self.clients {
                let ev = libc::POLLIN | if c.out.is_empty() { 0 } else { libc::POLLOUT };
                fds.push(pfd(c.fd, ev));
            }
            let timeout = if self.exited_at.is_some() { 200 } else { -1 };
            // SAFETY: fds is a valid array of pollfd for its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            if fds[0].revents != 0 {
                drain_signalfd(sfd);
                self.reap();
            }
            if fds[1].revents != 0 {
                self.accept();
            }
            if fds[2].revents != 0 {
                self.feed_stdin();
            }
            // Clients and sources as polled (accept may have added one at the
            // end), in reverse so removal keeps indices valid.
            for i in (0..ncl).rev() {
                let re = fds[3 + nsrc + i].revents;
                if re != 0 {
                    self.client_event(i, re);
                }
            }
            for i in (0..nsrc).rev() {
                if fds[3 + i].revents != 0 {
                    self.read_source(i);
                }
            }
        }
    }

    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid on any child with a valid out pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if pid == self.cfg.init_pid {
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    continue;
                };
                self.exit_code = Some(code);
                self.exited_at = Some(Instant::now());
            }
        }
    }

    fn accept(&mut self) {
        let Some(lfd) = self.cfg.listen_fd else {
            return;
        };
        // SAFETY: accept4 on our listening socket; null address is allowed.
        let fd = unsafe {
            libc::accept4(
                lfd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            self.clients.push(Client {
                fd,
                frames: FrameReader::default(),
                out: Vec::new(),
                owner: false,
            });
        }
    }

    fn read_source(&mut self, i: usize) {
        let (fd, stream) = self.sources[i];
        let mut buf = [0u8; 32 * 1024];
        loop {
            // SAFETY: reading into a stack buffer of the given length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                let data = &buf[..n as usize];
                if let Some(log) = self.log.as_mut() {
                    if let Err(e) = log.write(stream, data, SystemTime::now()) {
                        eprintln!("berth-monitor: log write: {e}");
                    }
                }
                let kind = match stream {
                    Stream::Stdout => proto::STDOUT,
                    Stream::Stderr => proto::STDERR,
                };
                for c in &mut self.clients {
                    proto::push_frame(&mut c.out, kind, data);
                }
                if (n as usize) < buf.len() {
                    return;
                }
                continue;
            }
            let err = io::Error::last_os_error();
            if n < 0 && err.kind() == io::ErrorKind::WouldBlock {
                return;
            }
            if n < 0 && err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // EOF, or EIO on a pty master whose slave side closed.
            close(fd);
            self.sources.remove(i);
            return;
        }
    }

    fn client_event(&mut self, i: usize, revents: i16) {
        if revents & libc::POLLOUT != 0 && !self.flush_client(i) {
            self.drop_client(i);
            return;
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            return;
        }
        let fd = self.clients[i].fd;
        let mut buf = [0u8; 16 * 1024];
        // SAFETY: reading into a stack buffer of the given length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock) {
            self.drop_client(i);
            return;
        }
        if n < 0 {
            return;
        }
        self.clients[i].frames.push(&buf[..n as usize]);
        while let Some((kind, payload)) = self.clients[i].frames.next_frame() {
            match kind {
                proto::STDIN => self.stdin_buf.extend_from_slice(&payload),
                proto::STDIN_CLOSE => self.stdin_close = true,
                proto::RESIZE if payload.len() == 4 => {
                    if let Some(pty) = self.cfg.pty_fd {
                        let ws = libc::winsize {
                            ws_row: u16::from_be_bytes([payload[0], payload[1]]),
                            ws_col: u16::from_be_bytes([payload[2], payload[3]]),
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        // SAFETY: TIOCSWINSZ with a valid winsize pointer.
                        unsafe { libc::ioctl(pty, libc::TIOCSWINSZ, &ws) };
                    }
                }
                _ => {}
            }
        }
        self.feed_stdin();
    }

    /// Write what a client is owed; false if it is gone.
    fn flush_client(&mut self, i: usize) -> bool {
        let c = &mut self.clients[i];
        while !c.out.is_empty() {
            // SAFETY: writing from an initialised buffer of the given length.
            let n = unsafe { libc::write(c.fd, c.out.as_ptr().cast(), c.out.len()) };
            if n < 0 {
                return io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
            }
            c.out.drain(..n as usize);
        }
        true
    }

    fn drop_client(&mut self, i: usize) {
        let c = self.clients.remove(i);
        close(c.fd);
        // `run -i` gives the container stdin only for as long as it is attached.
        if c.owner {
            self.stdin_close = true;
            self.feed_stdin();
        }
    }

    fn feed_stdin(&mut self) {
        if let Some(fd) = self.cfg.stdin_fd.or(self.cfg.pty_fd) {
            while !self.stdin_buf.is_empty() {
                // SAFETY: writing from an initialised buffer of the given length.
                let n = unsafe {
                    libc::write(fd, self.stdin_buf.as_ptr().cast(), self.stdin_buf.len())
                };
                if n < 0 {
                    if io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock {
                        return;
                    }
                    self.stdin_buf.clear();
                    break;
                }
                self.stdin_buf.drain(..n as usize);
            }
        } else {
            self.stdin_buf.clear();
        }
        if self.stdin_close && self.stdin_buf.is_empty() {
            if let Some(fd) = self.cfg.stdin_fd.take() {
                close(fd);
            }
        }
    }

    /// Record the exit, tell attached clients, then exit or exec cleanup.
    fn finish(mut self) -> i32 {
        if let Some(log) = self.log.as_mut() {
            let now = SystemTime::now();
            let _ = log.flush_partial(Stream::Stdout, now);
            let _ = log.flush_partial(Stream::Stderr, now);
        }
        let code = self.exit_code.unwrap_or(255);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = format!("{}.tmp", self.cfg.exit_file);
        if std::fs::write(&tmp, format!("{code} {nanos}\n")).is_ok() {
            let _ = std::fs::rename(&tmp, &self.cfg.exit_file);
        }
        let mut owner = false;
        for i in 0..self.clients.len() {
            let c = &mut self.clients[i];
            proto::push_frame(&mut c.out, proto::EXIT, &code.to_be_bytes());
            set_blocking(c.fd);
            if self.flush_client(i) && self.clients[i].owner {
                owner = true;
            }
        }
        if owner || self.cfg.cleanup.is_empty() {
            return 0;
        }
        let argv: Vec<CString> = self
            .cfg
            .cleanup
            .iter()
            .filter_map(|a| CString::new(a.as_bytes()).ok())
            .collect();
        let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        // SAFETY: argv is a null-terminated array of valid C strings.
        unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
        eprintln!(
            "berth-monitor: exec {}: {}",
            self.cfg.cleanup[0],
            io::Error::last_os_error()
        );
        1
    }
}

fn drain_signalfd(sfd: RawFd) {
    let mut buf = [0u8; 128 * 4];
    // SAFETY: reading signalfd records into a stack buffer.
    while unsafe { libc::read(sfd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

fn set_nonblock(fd: RawFd) {
    // SAFETY: fcntl flag changes on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

fn set_blocking(fd: RawFd) {
    // SAFETY: fcntl flag changes on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
    }
}

fn close(fd: RawFd) {
    // SAFETY: closing a descriptor this process owns and no longer uses.
    unsafe { libc::close(fd) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        let c = parse_args(
            [
                "--init-pid",
                "42",
                "--stdout-fd",
                "3",
                "--exit-file",
                "/x",
                "--max-file",
                "3",
                "--",
                "/bin/berth",
                "internal",
                "cleanup",
            ]
            .iter()
            .map(|s| s.to_string()),
        )
        .unwrap();
        assert_eq!(c.init_pid, 42);
        assert_eq!(c.stdout_fd, Some(3));
        assert_eq!(c.max_file, 3);
        assert_eq!(c.cleanup, ["/bin/berth", "internal", "cleanup"]);
        assert!(parse_args(["--init-pid", "1"].iter().map(|s| s.to_string())).is_err());
    }
}
