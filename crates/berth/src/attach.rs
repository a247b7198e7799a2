//! The terminal side of an attached container: copies the monitor's
//! frames to stdout/stderr, stdin into frames, forwards signals (docker's
//! sig-proxy) and window sizes, and puts a tty into raw mode.
#![allow(unsafe_code)] // termios, poll, signalfd

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use berth_monitor::proto::{self, FrameReader};

pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// Forward SIGINT, SIGTERM, ... to the container (`--sig-proxy`).
    pub sig_proxy: bool,
    pub detach_keys: Vec<u8>,
}

pub enum Outcome {
    Exited,
    Detached,
    /// The monitor went away without reporting an exit.
    Lost,
}

/// Restores the terminal mode when dropped.
struct RawMode {
    fd: i32,
    saved: libc::termios,
}

impl RawMode {
    fn enter(fd: i32) -> Option<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on a descriptor with valid termios buffers.
        unsafe {
            if libc::isatty(fd) == 0 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut t) != 0 {
                return None;
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
            Some(RawMode { fd, saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restoring the saved termios on the same descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

fn window_size(fd: i32) -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ into a zeroed winsize.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0)
            .then_some((ws.ws_row, ws.ws_col))
    }
}

fn resize_frame(rows: u16, cols: u16) -> Vec<u8> {
    let mut p = rows.to_be_bytes().to_vec();
    p.extend_from_slice(&cols.to_be_bytes());
    proto::encode(proto::RESIZE, &p)
}

const PROXIED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Run the attach loop until the container exits or the user detaches.
/// `on_signal` forwards a signal to the container.
pub fn attach(
    mut sock: UnixStream,
    o: &AttachOptions,
    on_signal: &dyn Fn(i32),
) -> io::Result<Outcome> {
    let stdin_fd = io::stdin().as_raw_fd();
    let _raw = if o.tty && o.stdin {
        RawMode::enter(stdin_fd)
    } else {
        None
    };
    // SAFETY: building a signal set and a signalfd for this process.
    let sfd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        if o.sig_proxy && !o.tty {
            for s in PROXIED {
                libc::sigaddset(&mut set, s);
            }
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
    };
    if o.tty {
        if let Some((r, c)) = window_size(if o.stdin {
            stdin_fd
        } else {
            io::stdout().as_raw_fd()
        }) {
            sock.write_all(&resize_frame(r, c))?;
        }
    }
    let mut frames = FrameReader::default();
    let mut stdin_open = o.stdin;
    let mut matched = 0usize;
    let mut buf = vec![0u8; 32 * 1024];
    let mut stdout = io::stdout().lock();
    let mut stderr = io::stderr();
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { stdin_fd } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: polling a valid array of three pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io::Error::last_os_error());
        }
        if fds[2].revents != 0 {
            let mut si = [0u8; 128];
            // SAFETY: reading one signalfd_siginfo into a buffer of its size.
            let r = unsafe { libc::read(sfd, si.as_mut_ptr().cast(), si.len()) };
            if r == 128 {
                let signo = u32::from_ne_bytes([si[0], si[1], si[2], si[3]]) as i32;
                if signo == libc::SIGWINCH {
                    if let Some((r, c)) = window_size(stdin_fd) {
                        sock.write_all(&resize_frame(r, c))?;
                    }
                } else {
                    on_signal(signo);
                }
            }
        }
        if fds[1].revents != 0 {
            let n = io::stdin().read(&mut buf)?;
            if n == 0 {
                stdin_open = false;
                sock.write_all(&proto::encode(proto::STDIN_CLOSE, &[]))?;
            } else {
                let data = &buf[..n];
                if o.tty && !o.detach_keys.is_empty() {
                    // Detach keys are matched across reads, like docker's escape proxy.
                    let mut pass = Vec::with_capacity(n);
                    for &b in data {
                        if b == o.detach_keys[matched] {
                            matched += 1;
                            if matched == o.detach_keys.len() {
                                return Ok(Outcome::Detached);
                            }
                        } else {
                            pass.extend_from_slice(&o.detach_keys[..matched]);
                            matched = 0;
                            if b == o.detach_keys[0] {
                                matched = 1;
                            } else {
                                pass.push(b);
                            }
                        }
                    }
                    if !pass.is_empty() {
                        sock.write_all(&proto::encode(proto::STDIN, &pass))?;
                    }
                } else {
                    sock.write_all(&proto::encode(proto::STDIN, data))?;
                }
            }
        }
        if fds[0].revents != 0 {
            let n = match sock.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 {
                return Ok(Outcome::Lost);
            }
            frames.push(&buf[..n]);
            while let Some((kind, payload)) = frames.next_frame() {
                match kind {
                    proto::STDOUT if o.stdout => {
                        stdout.write_all(&payload)?;
                        stdout.flush()?;
                    }
                    proto::STDERR if o.stderr => {
                        stderr.write_all(&payload)?;
                    }
                    proto::EXIT => {
                        stdout.flush()?;
                        return Ok(Outcome::Exited);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A duplicate of one of our descriptors, to hand to a container process.
pub fn dup_fd(fd: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: n was just created for us.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(n) })
}

/// Wait for a child; its exit code (128+n for a signal).
pub fn wait_pid(pid: i32) -> Option<i32> {
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        if libc::WIFEXITED(status) {
            return Some(libc::WEXITSTATUS(status));
        }
        if libc::WIFSIGNALED(status) {
            return Some(128 + libc::WTERMSIG(status));
        }
    }
}

/// `exec -t`: copy between our terminal and the pty master until the
/// process is done; `None` if the user detached.
pub fn relay_pty(
    master: std::os::fd::OwnedFd,
    pid: i32,
    stdin: bool,
    keys: &[u8],
) -> io::Result<Option<i32>> {
    let stdin_fd = io::stdin().as_raw_fd();
    let m = master.as_raw_fd();
    let _raw = if stdin {
        RawMode::enter(stdin_fd)
    } else {
        None
    };
    if let Some((r, c)) = window_size(if stdin {
        stdin_fd
    } else {
        io::stdout().as_raw_fd()
    }) {
        let ws = libc::winsize {
            ws_row: r,
            ws_col: c,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ on the master with a valid winsize.
        unsafe { libc::ioctl(m, libc::TIOCSWINSZ, &ws) };
    }
    // SAFETY: a signalfd for SIGWINCH.
    let sfd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
    };
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = io::stdout().lock();
    let mut stdin_open = stdin;
    let mut matched = 0usize;
    // libcontainer's console setup leaves one NUL byte in a fresh exec pty.
    let mut first = true;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: m,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { stdin_fd } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: polling three valid pollfds.
        if unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) } < 0 {
            continue;
        }
        if fds[2].revents != 0 {
            let mut si = [0u8; 128];
            // SAFETY: draining one siginfo record.
            unsafe { libc::read(sfd, si.as_mut_ptr().cast(), si.len()) };
            if let Some((r, c)) = window_size(stdin_fd) {
                let ws = libc::winsize {
                    ws_row: r,
                    ws_col: c,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                // SAFETY: as above.
                unsafe { libc::ioctl(m, libc::TIOCSWINSZ, &ws) };
            }
        }
        if fds[1].revents != 0 {
            let n = io::stdin().read(&mut buf)?;
            if n == 0 {
                stdin_open = false;
                // EOT tells the line discipline the input ended.
                // SAFETY: writing one byte to the master.
                unsafe { libc::write(m, [4u8].as_ptr().cast(), 1) };
            } else {
                let mut pass = Vec::with_capacity(n);
                for &b in &buf[..n] {
                    if !keys.is_empty() && b == keys[matched] {
                        matched += 1;
                        if matched == keys.len() {
                            return Ok(None);
                        }
                        continue;
                    }
                    if matched > 0 {
                        pass.extend_from_slice(&keys[..matched]);
                        matched = 0;
                    }
                    pass.push(b);
                }
                // SAFETY: writing an initialised buffer to the master.
                unsafe { libc::write(m, pass.as_ptr().cast(), pass.len()) };
            }
        }
        if fds[0].revents != 0 {
            // SAFETY: reading into our buffer.
            let n = unsafe { libc::read(m, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let mut data = &buf[..n as usize];
            if first && data.first() == Some(&0) {
                data = &data[1..];
            }
            first = false;
            out.write_all(data)?;
            out.flush()?;
        }
    }
    drop(_raw);
    Ok(wait_pid(pid))
}
