//! `build`, `builder prune` and the hidden per-step helper.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use berth_build::output::Output;
use berth_build::planner::PullPolicy;
use berth_build::progress::{Mode, Progress};
use berth_engine::builds::{BuildError, BuildRequest, ContextArg};
use berth_engine::Engine;

use std::io::Read;
use std::os::fd::AsRawFd;

use berth_monitor::proto::{self, FrameReader};

use crate::attach;
use crate::cli::{BuildArgs, BuilderPruneArgs};
use crate::{CliError, CliResult};

fn usage_error(msg: String) -> CliError {
    CliError::Coded(format!("{msg}\nSee 'berth build --help'."), 125)
}

pub fn build(engine: &Engine, a: BuildArgs) -> CliResult {
    if a.args.len() != 1 {
        return Err(CliError::Args {
            path: "build".into(),
            requirement: "exactly 1 argument.".into(),
        });
    }
    let spec = &a.args[0];
    let context = if spec == "-" {
        if a.file.as_deref() == Some("-") {
            return Err(CliError::Plain(
                "invalid argument: can't use stdin for both build context and dockerfile".into(),
            ));
        }
        ContextArg::Stdin
    } else if spec.contains("://") || spec.starts_with("git@") {
        return Err(CliError::Plain(format!(
            "unable to prepare context: unable to download remote context {spec}: remote contexts are not supported (berth builds offline)"
        )));
    } else {
        let p = PathBuf::from(spec);
        match p.metadata() {
            Ok(m) if m.is_dir() => ContextArg::Dir(p),
            Ok(_) => {
                return Err(CliError::Plain(format!(
                    "unable to prepare context: context must be a directory: {spec}"
                )))
            }
            Err(_) => {
                return Err(CliError::Plain(format!(
                    "unable to prepare context: path {spec:?} not found"
                )))
            }
        }
    };
    let mut tags = Vec::new();
    for t in &a.tag {
        let why = match berth_engine::images::check_reference(t) {
            Ok(()) if !t.contains('@') => {
                tags.push(t.clone());
                continue;
            }
            Ok(()) => "invalid reference format".to_string(),
            Err(e) => e.message,
        };
        return Err(usage_error(format!(
            "invalid argument \"{t}\" for \"-t, --tag\" flag: {why}"
        )));
    }
    let mut build_args = Vec::new();
    for kv in &a.build_arg {
        match kv.split_once('=') {
            Some((k, v)) => build_args.push((k.to_string(), Some(v.to_string()))),
            // `--build-arg NAME` takes NAME's value from the environment, if set.
            None => build_args.push((kv.clone(), std::env::var(kv).ok())),
        }
    }
    let labels = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let mut secrets = Vec::new();
    for s in &a.secret {
        secrets.push(parse_secret(s).map_err(CliError::Plain)?);
    }
    let output = match a.output.as_slice() {
        [] => Output::Image,
        [o] => {
            Output::parse(o).map_err(|e| CliError::Plain(format!("failed to parse output: {e}")))?
        }
        _ => return Err(CliError::Plain("multiple outputs are not supported".into())),
    };
    let mode = if a.quiet {
        Mode::Quiet
    } else {
        Mode::parse(&a.progress, std::io::stderr().is_terminal()).map_err(CliError::Plain)?
    };
    let network = a.network.clone().unwrap_or_else(|| "default".into());
    if !matches!(network.as_str(), "default" | "host" | "none" | "bridge") {
        return Err(CliError::Plain(format!(
            "network mode {network:?} not supported by buildkit"
        )));
    }
    // The 20.10 CLI's `--pull` is a bool (Go's ParseBool spellings);
    // berth adds `never` (offline) and `always`/`missing` as `run` has them.
    let pull = match a.pull.as_deref() {
        None => PullPolicy::Missing,
        Some("always" | "true" | "1" | "t" | "T" | "TRUE" | "True") => PullPolicy::Always,
        Some("missing" | "false" | "0" | "f" | "F" | "FALSE" | "False") => PullPolicy::Missing,
        Some("never") => PullPolicy::Never,
        Some(p) => {
            return Err(usage_error(format!(
                "invalid argument \"{p}\" for \"--pull\" flag: strconv.ParseBool: parsing \"{p}\": invalid syntax"
            )))
        }
    };
    let req = BuildRequest {
        context,
        dockerfile: a.file.clone(),
        tags,
        target: a.target.clone(),
        build_args,
        labels,
        no_cache: a.no_cache,
        network,
        secrets,
        output: output.clone(),
        platform: a.platform.clone(),
        pull,
    };
    let progress = Progress::new(mode, Box::new(std::io::stderr()));
    let res = engine.build(&req, &progress);
    progress.finish();
    match res {
        Ok(outcome) => {
            for w in &outcome.warnings {
                eprintln!("{w}");
            }
            if let Some(id) = &outcome.id {
                if a.quiet {
                    println!("{id}");
                }
                if let Some(f) = &a.iidfile {
                    berth_store::atomic_write(Path::new(f), id.to_string().as_bytes())
                        .map_err(|e| CliError::Plain(format!("failed to write iidfile: {e}")))?;
                }
            }
            Ok(())
        }
        Err(e) => Err(CliError::Plain(render_error(&e, &progress))),
    }
}

/// The error as the docker CLI prints it after BuildKit's progress.
fn render_error(e: &BuildError, progress: &Progress) -> String {
    match e {
        BuildError::Step {
            step,
            vertex,
            summary,
            ..
        } => {
            // BuildKit's box under a failed step: its last lines on a
            // terminal (plain output has already shown them).
            let (_, tail) = progress.tail(*vertex, 10);
            let mut s = format!("------\n > {step}:\n");
            if progress.is_tty() {
                for l in tail {
                    s.push_str(&l);
                    s.push('\n');
                }
            }
            s.push_str("------\n");
            s.push_str(summary);
            s
        }
        BuildError::Dockerfile { .. } => format!(
            "failed to solve with frontend dockerfile.v0: failed to create LLB definition: {e}"
        ),
        _ => e.to_string(),
    }
}

/// `--secret id=x,src=path` (also `source=`, `type=file`, `env=NAME`).
fn parse_secret(s: &str) -> Result<(String, PathBuf), String> {
    let mut id = None;
    let mut src = None;
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("invalid secret {s:?}: expected key=value"))?;
        match k.to_lowercase().as_str() {
            "type" if v == "file" => {}
            "type" => return Err(format!("unsupported secret type {v:?}")),
            "id" => id = Some(v.to_string()),
            "src" | "source" => src = Some(PathBuf::from(v)),
            "env" => return Err("secrets from environment variables are not supported yet".into()),
            _ => return Err(format!("unexpected key '{k}' in '{part}'")),
        }
    }
    let src = src.ok_or_else(|| format!("invalid secret {s:?}: src is required"))?;
    let id = id
        .or_else(|| src.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| format!("invalid secret {s:?}: id is required"))?;
    if !src.exists() {
        return Err(format!(
            "failed to stat {}: stat {}: no such file or directory",
            src.display(),
            src.display()
        ));
    }
    Ok((id, src))
}

pub fn prune(engine: &Engine, a: BuilderPruneArgs) -> CliResult {
    use crate::commands::prune;
    let filters = prune::parse_filters(&a.filter, "builder prune")?;
    // One line, unlike the other prunes' warnings.
    let warning = if a.all {
        "WARNING! This will remove all build cache. Are you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
    };
    if !a.force && !prune::confirm(warning)? {
        return prune::print_result("", 0);
    }
    let pruned = engine.builder_prune(a.all, &filters)?;
    prune::print_result(&prune::cache_section(&pruned), pruned.reclaimed)
}

/// `berth internal build-step ID BUNDLE`: the single-threaded side of a
/// RUN step. Its stdout/stderr are the builder's pipes; its exit code is
/// the step's.
pub fn build_step(engine: &Engine, id: &str, bundle: &Path) -> CliResult<()> {
    let mut sock = engine.build_step_start(id, bundle)?;
    // stdin is the builder's lifeline: it never writes, so EOF means the
    // builder is gone and the step must stop.
    let stdin_fd = std::io::stdin().as_raw_fd();
    let mut lifeline = true;
    let mut frames = FrameReader::default();
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let mut orphaned = false;
    'outer: loop {
        let fds = attach::poll3([sock.as_raw_fd(), if lifeline { stdin_fd } else { -1 }, -1])?;
        if fds[1] != 0 {
            let n = std::io::stdin().read(&mut buf).unwrap_or(0);
            if n == 0 {
                lifeline = false;
                orphaned = true;
                let _ = engine.build_step_kill(id);
            }
        }
        if fds[0] != 0 {
            let n = match sock.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 {
                break;
            }
            frames.push(&buf[..n]);
            while let Some((kind, payload)) = frames.next_frame() {
                let r = match kind {
                    proto::STDOUT => out.write_all(&payload).and_then(|_| out.flush()),
                    proto::STDERR => err.write_all(&payload),
                    proto::EXIT => break 'outer,
                    _ => Ok(()),
                };
                if r.is_err() && !orphaned {
                    orphaned = true;
                    let _ = engine.build_step_kill(id);
                }
            }
        }
    }
    let _ = sock.flush();
    let code = engine.build_step_finish(id, bundle)?;
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::Exit(code.clamp(0, 255) as u8))
    }
}
