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

/// Echo off on stdin while a password is typed; restored when dropped.
pub struct NoEcho {
    saved: libc::termios,
}

impl NoEcho {
    pub fn enter() -> Option<NoEcho> {
        // SAFETY: tcgetattr/tcsetattr on stdin with valid termios buffers.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::isatty(0) == 0 || libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            Some(NoEcho { saved })
        }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        // SAFETY: restoring the saved termios on stdin.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.saved) };
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

/// Matches the detach key sequence across reads, like docker's escape
/// proxy: bytes of a partial match are held back, then released if the
/// sequence breaks.
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    pub fn new(keys: &[u8]) -> Self {
        DetachKeys {
            keys: keys.to_vec(),
            matched: 0,
        }
    }

    /// The bytes to pass on, or `None` when the sequence completed.
    pub fn filter(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        if self.keys.is_empty() {
            return Some(data.to_vec());
        }
        let mut pass = Vec::with_capacity(data.len());
        for &b in data {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return None;
                }
                continue;
            }
            pass.extend_from_slice(&self.keys[..self.matched]);
            self.matched = usize::from(b == self.keys[0]);
            if self.matched == 0 {
                pass.push(b);
            }
        }
        Some(pass)
    }
}

/// Block `signals` and return a signalfd that delivers them.
fn signal_fd(signals: &[i32]) -> i32 {
    // SAFETY: building a signal set and a signalfd for this process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
    }
}

/// The next signal from a signalfd.
fn read_signal(sfd: i32) -> Option<i32> {
    let mut si = [0u8; 128];
    // SAFETY: reading one signalfd_siginfo into a buffer of its size.
    let r = unsafe { libc::read(sfd, si.as_mut_ptr().cast(), si.len()) };
    (r == 128).then(|| u32::from_ne_bytes([si[0], si[1], si[2], si[3]]) as i32)
}

/// poll(2) for input on three descriptors (-1 to skip one); their revents.
pub fn poll3(fds: [i32; 3]) -> io::Result<[i16; 3]> {
    let mut p = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        // SAFETY: polling a valid array of three pollfds.
        if unsafe { libc::poll(p.as_mut_ptr(), 3, -1) } >= 0 {
            return Ok(p.map(|x| x.revents));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
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
    let mut sigs = vec![libc::SIGWINCH];
    if o.sig_proxy && !o.tty {
        sigs.extend(PROXIED);
    }
    let sfd = signal_fd(&sigs);
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
    let mut keys = DetachKeys::new(if o.tty { &o.detach_keys } else { &[] });
    let mut buf = vec![0u8; 32 * 1024];
    let mut stdout = io::stdout().lock();
    let mut stderr = io::stderr();
    loop {
        let fds = poll3([
            sock.as_raw_fd(),
            if stdin_open { stdin_fd } else { -1 },
            sfd,
        ])?;
        if fds[2] != 0 {
            if let Some(signo) = read_signal(sfd) {
                if signo == libc::SIGWINCH {
                    if let Some((r, c)) = window_size(stdin_fd) {
                        sock.write_all(&resize_frame(r, c))?;
                    }
                } else {
                    on_signal(signo);
                }
            }
        }
        if fds[1] != 0 {
            let n = io::stdin().read(&mut buf)?;
            if n == 0 {
                stdin_open = false;
                sock.write_all(&proto::encode(proto::STDIN_CLOSE, &[]))?;
            } else {
                match keys.filter(&buf[..n]) {
                    None => return Ok(Outcome::Detached),
                    Some(pass) if !pass.is_empty() => {
                        sock.write_all(&proto::encode(proto::STDIN, &pass))?;
                    }
                    Some(_) => {}
                }
            }
        }
        if fds[0] != 0 {
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
    let sfd = signal_fd(&[libc::SIGWINCH]);
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = io::stdout().lock();
    let mut stdin_open = stdin;
    let mut detach = DetachKeys::new(keys);
    // libcontainer's console setup leaves one NUL byte in a fresh exec pty.
    let mut first = true;
    while let Ok(fds) = poll3([m, if stdin_open { stdin_fd } else { -1 }, sfd]) {
        if fds[2] != 0 {
            let _ = read_signal(sfd);
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
        if fds[1] != 0 {
            let n = io::stdin().read(&mut buf)?;
            if n == 0 {
                stdin_open = false;
                // EOT tells the line discipline the input ended.
                // SAFETY: writing one byte to the master.
                unsafe { libc::write(m, [4u8].as_ptr().cast(), 1) };
            } else {
                let Some(pass) = detach.filter(&buf[..n]) else {
                    return Ok(None);
                };
                // SAFETY: writing an initialised buffer to the master.
                unsafe { libc::write(m, pass.as_ptr().cast(), pass.len()) };
            }
        }
        if fds[0] != 0 {
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

#[cfg(test)]
mod tests {
    use super::DetachKeys;

    #[test]
    fn detach_keys_across_reads() {
        let mut d = DetachKeys::new(&[16, 17]);
        assert_eq!(d.filter(b"ab\x10"), Some(b"ab".to_vec()));
        assert_eq!(d.filter(b"x"), Some(b"\x10x".to_vec()));
        assert_eq!(d.filter(b"\x10\x10"), Some(b"\x10".to_vec()));
        assert_eq!(d.filter(b"\x11"), None);
        assert_eq!(DetachKeys::new(&[]).filter(b"\x10\x11"), Some(vec![16, 17]));
    }
}
