//! Build progress as BuildKit shows it: `--progress=plain` prints one
//! line per event (`#5 [2/4] RUN make`, `#5 0.215 output`, `#5 DONE 0.3s`);
//! `tty` redraws a live view of the steps; `quiet` prints nothing.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Tty,
    Quiet,
}

impl Mode {
    /// `--progress` value; `auto` picks tty when stderr is a terminal.
    pub fn parse(s: &str, stderr_is_tty: bool) -> Result<Mode, String> {
        match s {
            "auto" | "" => Ok(if stderr_is_tty {
                Mode::Tty
            } else {
                Mode::Plain
            }),
            "tty" => Ok(Mode::Tty),
            "plain" => Ok(Mode::Plain),
            "quiet" => Ok(Mode::Quiet),
            other => Err(format!("invalid progress mode {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Waiting,
    Running,
    Cached,
    Done(Duration),
    Error,
}

#[derive(Debug)]
struct Vertex {
    name: String,
    /// BuildKit's `#N`, given when the vertex first starts.
    number: Option<usize>,
    started: Option<Instant>,
    state: State,
    logs: Vec<String>,
}

struct Inner {
    mode: Mode,
    out: Box<dyn Write + Send>,
    vertices: Vec<Vertex>,
    next_number: usize,
    start: Instant,
    drawn_lines: usize,
    last_draw: Option<Instant>,
    finished: bool,
}

/// Shared by the stages running in parallel.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Mutex<Inner>>,
}

/// A vertex handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(usize);

const TTY_LOG_LINES: usize = 6;

impl Progress {
    pub fn new(mode: Mode, out: Box<dyn Write + Send>) -> Progress {
        let p = Progress {
            inner: Arc::new(Mutex::new(Inner {
                mode,
                out,
                vertices: Vec::new(),
                next_number: 1,
                start: Instant::now(),
                drawn_lines: 0,
                last_draw: None,
                finished: false,
            })),
        };
        if mode == Mode::Tty {
            // The live view's clocks move even while a step prints nothing.
            let weak = Arc::downgrade(&p.inner);
            std::thread::spawn(move || loop {
                std::thread::sleep(Duration::from_millis(250));
                let Some(inner) = weak.upgrade() else { return };
                let mut g = match inner.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                if g.finished {
                    return;
                }
                g.draw(false);
            });
        }
        p
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Register a vertex; it gets its number when it starts.
    pub fn vertex(&self, name: &str) -> Id {
        self.with(|i| {
            i.vertices.push(Vertex {
                name: name.to_string(),
                number: None,
                started: None,
                state: State::Waiting,
                logs: Vec::new(),
            });
            Id(i.vertices.len() - 1)
        })
    }

    pub fn start(&self, id: Id) {
        self.with(|i| {
            let n = i.next_number;
            let v = &mut i.vertices[id.0];
            if v.number.is_some() {
                return;
            }
            v.number = Some(n);
            v.started = Some(Instant::now());
            v.state = State::Running;
            let line = format!("#{n} {}", v.name);
            i.next_number += 1;
            match i.mode {
                Mode::Plain => {
                    let _ = writeln!(i.out, "\n{line}");
                }
                Mode::Tty => i.draw(false),
                Mode::Quiet => {}
            }
        })
    }

    /// A line of the step's own output (or a status line like
    /// `transferring context: 2.1MB done`).
    pub fn log(&self, id: Id, line: &[u8]) {
        self.with(|i| {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches(['\n', '\r']).to_string();
            let v = &mut i.vertices[id.0];
            let n = v.number.unwrap_or(0);
            let t = v.started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
            v.logs.push(text.clone());
            match i.mode {
                Mode::Plain => {
                    let _ = writeln!(i.out, "#{n} {t:.3} {text}");
                }
                Mode::Tty => i.draw(false),
                Mode::Quiet => {}
            }
        })
    }

    /// A status line without a timestamp (`#1 transferring dockerfile: 2B done`).
    pub fn status(&self, id: Id, text: &str) {
        self.with(|i| {
            let n = i.vertices[id.0].number.unwrap_or(0);
            if i.mode == Mode::Plain {
                let _ = writeln!(i.out, "#{n} {text}");
            }
        })
    }

    pub fn cached(&self, id: Id) {
        self.with(|i| {
            let v = &mut i.vertices[id.0];
            v.state = State::Cached;
            let n = v.number.unwrap_or(0);
            match i.mode {
                Mode::Plain => {
                    let _ = writeln!(i.out, "#{n} CACHED");
                }
                Mode::Tty => i.draw(false),
                Mode::Quiet => {}
            }
        })
    }

    pub fn done(&self, id: Id) {
        self.with(|i| {
            let v = &mut i.vertices[id.0];
            let d = v.started.map(|s| s.elapsed()).unwrap_or_default();
            v.state = State::Done(d);
            let n = v.number.unwrap_or(0);
            match i.mode {
                Mode::Plain => {
                    let _ = writeln!(i.out, "#{n} DONE {:.1}s", d.as_secs_f64());
                }
                Mode::Tty => i.draw(false),
                Mode::Quiet => {}
            }
        })
    }

    pub fn error(&self, id: Id, msg: &str) {
        self.with(|i| {
            let v = &mut i.vertices[id.0];
            v.state = State::Error;
            let n = v.number.unwrap_or(0);
            match i.mode {
                Mode::Plain => {
                    let _ = writeln!(i.out, "#{n} ERROR: {msg}");
                }
                Mode::Tty => i.draw(false),
                Mode::Quiet => {}
            }
        })
    }

    /// The last lines a vertex printed (shown again under a failure).
    pub fn tail(&self, id: Id, n: usize) -> (String, Vec<String>) {
        self.with(|i| {
            let v = &i.vertices[id.0];
            let start = v.logs.len().saturating_sub(n);
            (v.name.clone(), v.logs[start..].to_vec())
        })
    }

    pub fn is_tty(&self) -> bool {
        self.with(|i| i.mode == Mode::Tty)
    }

    /// Final redraw (tty) or newline (plain).
    pub fn finish(&self) {
        self.with(|i| match i.mode {
            Mode::Tty => {
                i.finished = true;
                i.draw(true)
            }
            Mode::Plain => {
                let _ = i.out.flush();
            }
            Mode::Quiet => {}
        })
    }

    /// Print free text after the progress (error boxes).
    pub fn println(&self, text: &str) {
        self.with(|i| {
            let _ = writeln!(i.out, "{text}");
            let _ = i.out.flush();
        })
    }
}

impl Inner {
    fn draw(&mut self, last: bool) {
        let now = Instant::now();
        if !last {
            if let Some(t) = self.last_draw {
                if now.duration_since(t) < Duration::from_millis(100) {
                    return;
                }
            }
        }
        self.last_draw = Some(now);
        let total = self.vertices.len();
        let finished = self
            .vertices
            .iter()
            .filter(|v| matches!(v.state, State::Cached | State::Done(_)))
            .count();
        let mut lines = Vec::new();
        lines.push(format!(
            "[+] Building {:.1}s ({finished}/{total}){}",
            self.start.elapsed().as_secs_f64(),
            if last { " FINISHED" } else { "" }
        ));
        for v in self.vertices.iter().filter(|v| v.number.is_some()) {
            let right = match &v.state {
                State::Cached => "CACHED".to_string(),
                State::Done(d) => format!("{:.1}s", d.as_secs_f64()),
                State::Running => format!(
                    "{:.1}s",
                    v.started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0)
                ),
                State::Error => "ERROR".to_string(),
                State::Waiting => String::new(),
            };
            lines.push(format!(" => {:<60} {right:>8}", truncate(&v.name, 60)));
            if v.state == State::Running || v.state == State::Error {
                let s = v.logs.len().saturating_sub(TTY_LOG_LINES);
                for l in &v.logs[s..] {
                    lines.push(format!(" => => # {}", truncate(l, 70)));
                }
            }
        }
        let mut buf = String::new();
        if self.drawn_lines > 0 {
            buf.push_str(&format!("\x1b[{}A", self.drawn_lines));
        }
        for l in &lines {
            buf.push_str("\x1b[2K");
            buf.push_str(l);
            buf.push('\n');
        }
        self.drawn_lines = lines.len();
        let _ = self.out.write_all(buf.as_bytes());
        let _ = self.out.flush();
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(3)).collect();
        t.push_str("...");
        t
    }
}
