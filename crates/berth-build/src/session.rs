//! One `berth build`, start to end: context, Dockerfile, plan, execution,
//! output. The store's GC lock is held shared throughout, so no prune can
//! collect a layer between the step that made it and the image record.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_image::reference::Reference;
use berth_image::store::ImageStore;
use berth_store::{Digest, LockMode, Scratch};

use crate::context::checksum::Checksummer;
use crate::context::Context;
use crate::exec::{self, ExecEnv};
use crate::output::{self, Output};
use crate::planner::{self, BaseFetcher, PlanOptions, PullPolicy};
use crate::progress::Progress;
use crate::BuildError;

#[derive(Debug, Clone)]
pub enum ContextArg {
    Dir(PathBuf),
    /// A tar stream on stdin (`berth build -`).
    Stdin,
}

#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub context: ContextArg,
    /// `-f`: a path (relative to the current directory), or `-` for stdin.
    pub dockerfile: Option<String>,
    pub tags: Vec<String>,
    pub target: Option<String>,
    /// `--build-arg`: a name with no value is unset (and not an error).
    pub build_args: Vec<(String, Option<String>)>,
    pub labels: Vec<(String, String)>,
    pub no_cache: bool,
    /// `default`, `host`, `none`.
    pub network: String,
    pub secrets: Vec<(String, PathBuf)>,
    pub output: Output,
    pub platform: Option<String>,
    pub pull: PullPolicy,
}

#[derive(Debug, Default)]
pub struct BuildOutcome {
    pub id: Option<Digest>,
    pub warnings: Vec<String>,
}

fn ctx_err(e: impl std::fmt::Display) -> BuildError {
    BuildError::Context(e.to_string())
}

pub fn build(
    store: &ImageStore,
    req: &BuildRequest,
    progress: &Progress,
    berth_exe: &Path,
    fetcher: Option<&dyn BaseFetcher>,
) -> Result<BuildOutcome, BuildError> {
    if let Some(p) = &req.platform {
        let host = format!("linux/{}", berth_image::host_arch());
        let p_norm = p.trim_end_matches("/v1").to_lowercase();
        if p_norm != host && p_norm != berth_image::host_arch() {
            return Err(BuildError::Other(format!(
                "failed to solve: platform {p} is not supported: berth builds for the host platform ({host}) only"
            )));
        }
    }
    let mut tags = Vec::new();
    for t in &req.tags {
        let r = Reference::parse(t)
            .map_err(|e| BuildError::Other(format!("invalid tag {t:?}: {e}")))?;
        tags.push(r.with_default_tag());
    }
    let _gc = store
        .gc_guard(LockMode::Shared)
        .map_err(BuildError::image)?;
    let scratch =
        Scratch::new(store.layout(), "build").map_err(|e| BuildError::Other(e.to_string()))?;

    // The Dockerfile from stdin goes into scratch so the context can name it.
    let stdin_dockerfile = if req.dockerfile.as_deref() == Some("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| ctx_err(format!("failed to read Dockerfile from stdin: {e}")))?;
        let p = scratch.path().join("stdin.Dockerfile");
        std::fs::write(&p, &buf).map_err(ctx_err)?;
        Some(p)
    } else {
        None
    };
    let ctx = match &req.context {
        ContextArg::Dir(dir) => {
            let df = match (&stdin_dockerfile, &req.dockerfile) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(f)) => {
                    let p = Path::new(f);
                    let abs = if p.is_absolute() {
                        p.to_path_buf()
                    } else {
                        std::env::current_dir().map_err(ctx_err)?.join(p)
                    };
                    if abs.symlink_metadata().is_err() {
                        return Err(ctx_err(format!(
                            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory",
                            abs.display()
                        )));
                    }
                    Some(abs)
                }
                (None, None) => None,
            };
            Context::from_dir(dir, df.as_deref()).map_err(|e| match e {
                // The docker CLI's words for a context without a Dockerfile.
                crate::context::ContextError::NoDockerfile(p) => ctx_err(format!(
                    "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory",
                    p.display()
                )),
                e => ctx_err(e),
            })?
        }
        ContextArg::Stdin => {
            let dir = scratch.path().join("context");
            let df = match (&stdin_dockerfile, &req.dockerfile) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(f)) => Some(PathBuf::from(f)),
                (None, None) => None,
            };
            Context::from_tar(std::io::stdin().lock(), &dir, df.as_deref()).map_err(ctx_err)?
        }
    };
    // The context is in place before BuildKit's first vertex, as the
    // docker CLI prepares it before the build starts.
    let v_def = progress.vertex("[internal] load build definition from Dockerfile");
    progress.start(v_def);
    let dockerfile = ctx.read_dockerfile().map_err(ctx_err)?;
    progress.status(
        v_def,
        &format!(
            "transferring dockerfile: {} done",
            crate::human_bytes(dockerfile.len() as u64)
        ),
    );
    progress.done(v_def);
    let v_ign = progress.vertex("[internal] load .dockerignore");
    progress.start(v_ign);
    progress.done(v_ign);

    let plan_opts = PlanOptions {
        target: req.target.clone(),
        build_args: req.build_args.clone(),
        labels: req.labels.clone(),
        network: req.network.clone(),
        platform: req.platform.clone(),
        pull: req.pull,
        fetcher,
    };
    let (plan, warnings) = planner::plan(store, &dockerfile, &plan_opts, progress)?;

    let checksummer = Mutex::new(Checksummer::open(&store.layout().build_state_dir()));
    let include = |p: &Path| !ctx.is_excluded(&p.to_string_lossy()).unwrap_or(false);
    let env = ExecEnv {
        store,
        scratch: &scratch,
        ctx: &ctx,
        include: &include,
        checksummer: &checksummer,
        no_cache: req.no_cache,
        berth_exe: berth_exe.to_path_buf(),
        secrets: &req.secrets,
        progress: progress.clone(),
    };
    let uses_context = plan.stages.iter().enumerate().any(|(i, st)| {
        plan.needed[i]
            && st.steps.iter().any(|s| match &s.op {
                crate::plan::LayerOp::Copy(c) => {
                    matches!(c.source, crate::plan::CopySource::Context)
                }
                crate::plan::LayerOp::Run(r) => r
                    .mounts
                    .iter()
                    .any(|m| m.kind == crate::plan::MountKind::Bind && m.from_stage.is_none()),
                _ => false,
            })
    });
    if uses_context {
        let v = progress.vertex("[internal] load build context");
        progress.start(v);
        progress.done(v);
    }
    let result = exec::execute(&plan, &env);
    if let Ok(mut c) = checksummer.lock() {
        let _ = c.save();
    }
    let result = result?;

    let v_exp = progress.vertex(match req.output {
        Output::Image => "exporting to image",
        _ => "exporting to client",
    });
    progress.start(v_exp);
    let mut outcome = BuildOutcome { id: None, warnings };
    match &req.output {
        Output::Image => {
            progress.status(v_exp, "exporting layers done");
            let id = output::commit_image(store, &result.image, &tags)?;
            progress.status(v_exp, &format!("writing image {id} done"));
            for t in &tags {
                progress.status(v_exp, &format!("naming to {t} done"));
            }
            outcome.id = Some(id);
        }
        other => output::export_rootfs(store, &scratch, &result.image, other)?,
    }
    progress.done(v_exp);
    Ok(outcome)
}
