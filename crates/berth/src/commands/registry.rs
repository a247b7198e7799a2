//! `pull`, `push`, `login`, `logout`, and the pull that `run`/`create`
//! do for a missing image, printed as the docker CLI prints dockerd's
//! progress stream: plain status lines when not on a terminal, a live
//! bar per layer when on one.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use berth_engine::registry::{Progress, PullOptions};
use berth_engine::Engine;
use berth_registry::creds::Stored;
use berth_registry::Credential;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::need;
use crate::cli::{LoginArgs, LogoutArgs, PullArgs, PushArgs};
use crate::{CliError, CliResult};

/// Where progress goes: nowhere (`-q`), plain lines, or terminal bars.
pub enum Printer {
    Quiet,
    Plain(Mutex<Box<dyn Write + Send>>),
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
}

impl Printer {
    /// Bars when `tty` (drawn on stderr when `on_stderr`), plain lines to
    /// `out` otherwise.
    pub fn new(quiet: bool, tty: bool, on_stderr: bool, out: Box<dyn Write + Send>) -> Printer {
        if quiet {
            Printer::Quiet
        } else if tty {
            let target = if on_stderr {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::stdout()
            };
            Printer::Bars {
                multi: MultiProgress::with_draw_target(target),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Printer::Plain(Mutex::new(out))
        }
    }

    fn bar(&self, id: &str) -> Option<ProgressBar> {
        let Printer::Bars { multi, bars } = self else {
            return None;
        };
        let mut g = bars.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            g.entry(id.to_string())
                .or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(0));
                    b.set_style(
                        ProgressStyle::with_template("{prefix}: {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b.set_prefix(id.to_string());
                    b
                })
                .clone(),
        )
    }
}

impl Progress for Printer {
    fn line(&self, text: &str) {
        match self {
            Printer::Quiet => {}
            Printer::Plain(w) => {
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(w, "{text}");
                let _ = w.flush();
            }
            Printer::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
        }
    }

    fn layer(&self, id: &str, status: &str) {
        if let Printer::Plain(_) = self {
            return self.line(&format!("{id}: {status}"));
        }
        if let Some(b) = self.bar(id) {
            b.set_style(
                ProgressStyle::with_template("{prefix}: {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_message(status.to_string());
            b.tick();
        }
    }

    fn bytes(&self, id: &str, action: &str, current: u64, total: u64) {
        if let Some(b) = self.bar(id) {
            if b.length() != Some(total) {
                b.set_length(total);
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix}: {msg} [{bar:50}] {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b.set_message(action.to_string());
            }
            b.set_position(current);
        }
    }
}

pub fn pull(engine: &Engine, a: PullArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(1))?;
    let name = &a.args[0];
    let r = berth_engine::registry::Reference::parse(name)
        .map_err(|e| CliError::Plain(e.to_string()))?;
    if a.all_tags && (r.tag.is_some() || r.digest.is_some()) {
        return Err(CliError::Plain(
            "tag can't be used with --all-tags/-a".into(),
        ));
    }
    let tty = std::io::stdout().is_terminal();
    if !a.all_tags && r.tag.is_none() && r.digest.is_none() && !a.quiet {
        println!("Using default tag: latest");
    }
    let printer = Printer::new(a.quiet, tty, false, Box::new(std::io::stdout()));
    let opts = PullOptions {
        all_tags: a.all_tags,
        platform: a.platform.clone(),
    };
    let last = engine.pull(name, &opts, &printer)?;
    drop(printer);
    println!("{last}");
    Ok(())
}

pub fn push(engine: &Engine, a: PushArgs, path: &str) -> CliResult {
    need(path, &a.args, 1, Some(1))?;
    let name = &a.args[0];
    let r = berth_engine::registry::Reference::parse(name)
        .map_err(|e| CliError::Plain(e.to_string()))?;
    if a.all_tags && (r.tag.is_some() || r.digest.is_some()) {
        return Err(CliError::Plain(
            "tag can't be used with --all-tags/-a".into(),
        ));
    }
    if !a.all_tags && r.tag.is_none() && !a.quiet {
        println!("Using default tag: latest");
    }
    let tty = std::io::stdout().is_terminal();
    let printer = Printer::new(a.quiet, tty, false, Box::new(std::io::stdout()));
    let streamed = Streamed {
        inner: &printer,
        started: AtomicBool::new(false),
    };
    let res = engine.push(name, a.all_tags, &streamed);
    let started = streamed.started.load(Ordering::SeqCst);
    drop(printer);
    match res {
        // Once dockerd has started the progress stream, an error is a
        // message in it, which the CLI prints bare.
        Err(e) if started => return Err(CliError::Plain(e.message)),
        r => r?,
    }
    if a.quiet {
        println!("{}", r.with_default_tag().familiar());
    }
    Ok(())
}

/// A progress sink that notes whether anything was shown yet.
struct Streamed<'a> {
    inner: &'a dyn Progress,
    started: AtomicBool,
}

impl Progress for Streamed<'_> {
    fn line(&self, text: &str) {
        self.started.store(true, Ordering::SeqCst);
        self.inner.line(text);
    }

    fn layer(&self, id: &str, status: &str) {
        self.started.store(true, Ordering::SeqCst);
        self.inner.layer(id, status);
    }

    fn bytes(&self, id: &str, action: &str, current: u64, total: u64) {
        self.inner.bytes(id, action, current, total);
    }
}

/// `run`/`create` of a missing image: Docker's notice, then the pull's
/// progress, both on stderr (stdout is the container's).
pub fn pull_for_create(engine: &Engine, image: &str, platform: Option<&str>) -> CliResult {
    let shown = match berth_engine::registry::Reference::parse(image) {
        Ok(r) => r.with_default_tag().familiar(),
        Err(_) => image.to_string(),
    };
    eprintln!("Unable to find image '{shown}' locally");
    pull_quietly_to_stderr(engine, image, platform)
}

/// `--pull always`: the pull's progress on stderr, no notice.
pub fn pull_quietly_to_stderr(engine: &Engine, image: &str, platform: Option<&str>) -> CliResult {
    let tty = std::io::stderr().is_terminal();
    let printer = Printer::new(false, tty, true, Box::new(std::io::stderr()));
    let opts = PullOptions {
        all_tags: false,
        platform: platform.map(str::to_string),
    };
    engine.pull(image, &opts, &printer)?;
    Ok(())
}

fn read_line(prompt: &str, echo: bool) -> CliResult<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        print!("{prompt}");
        let _ = std::io::stdout().flush();
    }
    let _guard = if tty && !echo {
        crate::attach::NoEcho::enter()
    } else {
        None
    };
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    if tty && !echo {
        println!();
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login(engine: &Engine, a: LoginArgs) -> CliResult {
    need("login", &a.args, 0, Some(1))?;
    let server = a.args.first().map(String::as_str);
    if a.password.is_some() && a.password_stdin {
        return Err(CliError::Plain(
            "--password and --password-stdin are mutually exclusive".into(),
        ));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(CliError::Plain(
            "Must provide --username with --password-stdin".into(),
        ));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        Some(s.trim_end_matches(['\n', '\r']).to_string())
    } else {
        a.password.clone()
    };
    let username = match a.username.clone() {
        Some(u) => u,
        None => read_line("Username: ", true)?,
    };
    if username.is_empty() {
        return Err(CliError::Plain("Error: Non-null Username Required".into()));
    }
    let secret = match password {
        Some(p) => p,
        None => read_line("Password: ", false)?,
    };
    if secret.is_empty() {
        return Err(CliError::Plain("Error: Password Required".into()));
    }
    let stored = engine.login(server, Credential { username, secret })?;
    if let Stored::File(p) = stored {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            p.display()
        );
    }
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(engine: &Engine, a: LogoutArgs) -> CliResult {
    need("logout", &a.args, 0, Some(1))?;
    let (key, _) = engine.logout(a.args.first().map(String::as_str))?;
    println!("Removing login credentials for {key}");
    Ok(())
}
