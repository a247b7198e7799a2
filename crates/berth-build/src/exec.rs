//! The executor: runs a [`Plan`]'s layer operations, stage by stage, with
//! independent stages in parallel and every step looked up in the cache
//! first. Stages the target does not need never appear in the plan.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use berth_image::build_cache::{self, CacheRecord};
use berth_image::config::go_rfc3339_nano;
use berth_image::store::{ImageStore, LayerRecord};
use berth_runtime::process;
use berth_store::{Digest, Scratch};
use sha2::{Digest as _, Sha256};

use crate::image::ImageState;
use crate::plan::{CopySource, LayerOp, Plan, StagePlan};
use crate::progress::{self, Progress};
use crate::sandbox::{self, ExtraMount, RunSpec, StepFs};
use crate::BuildError;

/// What the executor needs from its caller.
pub struct ExecEnv<'a> {
    pub store: &'a ImageStore,
    pub scratch: &'a Scratch,
    pub ctx: &'a crate::context::Context,
    /// False for paths .dockerignore excludes (relative to the context).
    pub include: &'a (dyn Fn(&Path) -> bool + Sync),
    pub checksummer: &'a Mutex<crate::context::checksum::Checksummer>,
    pub no_cache: bool,
    pub berth_exe: PathBuf,
    pub secrets: &'a [(String, PathBuf)],
    pub progress: Progress,
}

/// A finished stage: its image state (layers filled in) and cache key.
#[derive(Debug, Clone)]
pub struct StageResult {
    pub image: ImageState,
    pub key: String,
}

type Slot = Option<Result<StageResult, String>>;

struct Board {
    results: Mutex<Vec<Slot>>,
    cv: Condvar,
}

impl Board {
    fn wait(&self, i: usize) -> Result<StageResult, String> {
        let mut g = match self.results.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        loop {
            if let Some(r) = &g[i] {
                return r.clone();
            }
            g = match self.cv.wait(g) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }
    fn set(&self, i: usize, r: Result<StageResult, String>) {
        let mut g = match self.results.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g[i] = Some(r);
        self.cv.notify_all();
    }
}

/// Run every stage of the plan; returns the target stage's result.
pub fn execute(plan: &Plan, env: &ExecEnv) -> Result<StageResult, BuildError> {
    let n = plan.stages.len();
    let board = Arc::new(Board {
        results: Mutex::new(vec![None; n]),
        cv: Condvar::new(),
    });
    let first_error: Mutex<Option<BuildError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for (i, st) in plan.stages.iter().enumerate() {
            if !plan.needed[i] {
                continue;
            }
            let board = board.clone();
            let first_error = &first_error;
            s.spawn(move || {
                let r = run_stage(st, env, &board);
                let slot = match r {
                    Ok(res) => Ok(res),
                    Err(e) => {
                        let msg = e.to_string();
                        let mut g = match first_error.lock() {
                            Ok(g) => g,
                            Err(p) => p.into_inner(),
                        };
                        if g.is_none() {
                            *g = Some(e);
                        }
                        Err(msg)
                    }
                };
                board.set(i, slot);
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    board.wait(plan.target).map_err(BuildError::Other)
}

/// A source that cannot be checksummed fails the step before it runs,
/// worded as BuildKit words it.
fn cache_key_error(env: &ExecEnv, step: &crate::plan::Step, e: String) -> BuildError {
    let message = match e.strip_suffix(": not found") {
        Some(p) => format!("{p} not found: not found"),
        None => e,
    };
    env.progress.start(step.vertex);
    env.progress.error(step.vertex, &message);
    BuildError::Step {
        step: step.display.clone(),
        line: step.line,
        summary: format!("failed to compute cache key: {message}"),
        message,
        vertex: step.vertex,
    }
}

fn hash_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn lowers(store: &ImageStore, layers: &[LayerRecord]) -> Vec<PathBuf> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    Digest::chain_ids(&diff_ids)
        .iter()
        .map(|c| store.layout().snapshot_fs(c))
        .collect()
}

fn random_id() -> String {
    let mut b = [0u8; 12];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

fn run_stage(st: &StagePlan, env: &ExecEnv, board: &Board) -> Result<StageResult, BuildError> {
    // The base: an image (resolved by the planner), scratch, or another stage.
    let (mut image, mut key) = match &st.base_stage {
        Some(dep) => {
            let r = board.wait(*dep).map_err(BuildError::Dependency)?;
            (
                st.rebase(&r.image),
                hash_parts(&[b"stage", r.key.as_bytes()]),
            )
        }
        None => (
            st.image.clone(),
            hash_parts(&[b"from", st.base_key.as_bytes()]),
        ),
    };
    if let Some(v) = st.from_vertex {
        env.progress.start(v);
        env.progress.done(v);
    }
    for step in &st.steps {
        let id = step.vertex;
        // Inputs from other stages must be ready before the key is known.
        let (src_key, src_layers) = match &step.op {
            LayerOp::Copy(c) => match &c.source {
                CopySource::Stage(dep) => {
                    let r = board.wait(*dep).map_err(BuildError::Dependency)?;
                    (r.key.clone(), Some(r.image.layers.clone()))
                }
                CopySource::Image { key, layers } => (key.clone(), Some(layers.clone())),
                CopySource::Context => {
                    let sum = crate::checksum_sources(env, &c.sources, &c.exclude)
                        .map_err(|e| cache_key_error(env, step, e))?;
                    (sum, None)
                }
                CopySource::Heredoc(_) => (String::new(), None),
            },
            LayerOp::Run(r) => {
                let mut k = String::new();
                for m in &r.mounts {
                    if let Some(dep) = m.from_stage {
                        let r = board.wait(dep).map_err(BuildError::Dependency)?;
                        k.push_str(&r.key);
                    }
                    if m.kind == crate::plan::MountKind::Bind && m.from_stage.is_none() {
                        let sum =
                            crate::checksum_sources(env, std::slice::from_ref(&m.source), &[])
                                .map_err(|e| cache_key_error(env, step, e))?;
                        k.push_str(&sum);
                    }
                }
                (k, None)
            }
            LayerOp::Mkdir { .. } => (String::new(), None),
        };
        let op_json = serde_json::to_vec(&step.op).unwrap_or_default();
        key = hash_parts(&[key.as_bytes(), &op_json, src_key.as_bytes()]);
        env.progress.start(id);
        if !env.no_cache {
            if let Some(rec) = env.store.cache_get(&key).map_err(BuildError::image)? {
                image.layers = rec.layers.clone();
                if let Some(h) = image.history.get_mut(step.history_index) {
                    if rec.created_at.is_some() {
                        h.created = rec.created_at.clone();
                        h.empty_layer = false;
                    } else {
                        h.empty_layer = true;
                    }
                }
                env.progress.cached(id);
                continue;
            }
        }
        let dir = env.scratch.path().join(format!("step-{}", random_id()));
        let mut fs = StepFs::mount(dir, &lowers(env.store, &image.layers))
            .map_err(|e| BuildError::Other(format!("mount step rootfs: {e}")))?;
        let exec_result = match &step.op {
            LayerOp::Run(r) => run_op(r, &fs, env, board, id),
            LayerOp::Copy(c) => copy_op(c, &fs, env, src_layers.as_deref()),
            LayerOp::Mkdir { path, user } => mkdir_op(path, user, &fs),
        };
        if let Err(message) = exec_result {
            env.progress.error(id, &message);
            return Err(BuildError::Step {
                step: step.display.clone(),
                line: step.line,
                summary: message.clone(),
                message,
                vertex: id,
            });
        }
        fs.unmount()
            .map_err(|e| BuildError::Other(format!("unmount step rootfs: {e}")))?;
        let made = build_cache::layer_from_dir(env.store, env.scratch, &image.layers, &fs.upper)
            .map_err(BuildError::image)?;
        let created = go_rfc3339_nano(&chrono::Utc::now());
        let (created_at, size) = match made {
            Some((layer, size)) => {
                image.layers.push(layer);
                (Some(created), size)
            }
            None => (None, 0),
        };
        if let Some(h) = image.history.get_mut(step.history_index) {
            h.created = created_at.clone();
            h.empty_layer = created_at.is_none();
        }
        env.store
            .cache_put(&CacheRecord {
                key: key.clone(),
                layers: image.layers.clone(),
                created_at,
                description: step.display.clone(),
                size,
                last_used: go_rfc3339_nano(&chrono::Utc::now()),
            })
            .map_err(BuildError::image)?;
        env.progress.done(id);
    }
    Ok(StageResult { image, key })
}

fn run_op(
    r: &crate::plan::RunOp,
    fs: &StepFs,
    env: &ExecEnv,
    board: &Board,
    vertex: progress::Id,
) -> Result<(), String> {
    let read = |p: &str| std::fs::read(fs.rootfs.join(p.trim_start_matches('/'))).ok();
    let proc_ = process::resolve(
        &process::ImageProcess {
            entrypoint: None,
            cmd: Some(r.args.clone()),
            env: r.env.clone(),
            working_dir: r.cwd.clone(),
            user: r.user.clone(),
        },
        &process::RunOptions::default(),
        &read,
    )
    .map_err(|e| e.to_string())?;
    // BuildKit passes only the groups that list the user as a member.
    let mut proc_ = proc_;
    let primary = proc_.gid;
    proc_.additional_gids.retain(|g| *g != primary);
    let id = format!("build-{}", random_id());
    let mut mounts = Vec::new();
    let mut keep = Vec::new();
    for m in &r.mounts {
        let (source, kind, mut options): (String, &'static str, Vec<String>) = match m.kind {
            crate::plan::MountKind::Tmpfs => (
                "tmpfs".into(),
                "tmpfs",
                vec!["nosuid".into(), "nodev".into()],
            ),
            crate::plan::MountKind::Cache => {
                let dir = env
                    .store
                    .layout()
                    .build_state_dir()
                    .join("cache-mounts")
                    .join(hash_parts(&[m.id.as_bytes()]));
                if !dir.exists() {
                    // A new cache dir: BuildKit's defaults are 0:0 and 0755.
                    let tmp = dir.with_extension(format!("new-{}", random_id()));
                    std::fs::create_dir_all(&tmp).map_err(|e| format!("cache mount: {e}"))?;
                    let mode = m.mode.unwrap_or(0o755) as u32;
                    std::fs::set_permissions(
                        &tmp,
                        std::os::unix::fs::PermissionsExt::from_mode(mode),
                    )
                    .map_err(|e| format!("cache mount: {e}"))?;
                    std::os::unix::fs::chown(
                        &tmp,
                        Some(m.uid.unwrap_or(0) as u32),
                        Some(m.gid.unwrap_or(0) as u32),
                    )
                    .map_err(|e| format!("cache mount: {e}"))?;
                    if std::fs::rename(&tmp, &dir).is_err() {
                        let _ = std::fs::remove_dir(&tmp);
                    }
                }
                (dir.display().to_string(), "bind", vec!["rbind".into()])
            }
            crate::plan::MountKind::Bind => {
                let src_root = match m.from_stage {
                    Some(dep) => {
                        let res = board.wait(dep)?;
                        let d = env.scratch.path().join(format!("from-{}", random_id()));
                        let f = StepFs::mount(d, &lowers(env.store, &res.image.layers))
                            .map_err(|e| format!("mount: {e}"))?;
                        let root = f.rootfs.clone();
                        keep.push(f);
                        root
                    }
                    None => env.ctx.root().to_path_buf(),
                };
                let src = crate::plan::join_in_root(&src_root, &m.source);
                (src.display().to_string(), "bind", vec!["rbind".into()])
            }
            crate::plan::MountKind::File => {
                let f = env.scratch.path().join(format!("script-{}", random_id()));
                std::fs::write(&f, &m.source).map_err(|e| format!("heredoc: {e}"))?;
                std::fs::set_permissions(
                    &f,
                    std::os::unix::fs::PermissionsExt::from_mode(m.mode.unwrap_or(0o755) as u32),
                )
                .map_err(|e| format!("heredoc: {e}"))?;
                (
                    f.display().to_string(),
                    "bind",
                    vec!["rbind".into(), "ro".into()],
                )
            }
            crate::plan::MountKind::Secret => {
                let path = env
                    .secrets
                    .iter()
                    .find(|(id, _)| *id == m.id)
                    .map(|(_, p)| p.clone());
                match path {
                    Some(p) => {
                        // A private copy with the mount's owner and mode
                        // (BuildKit: 0:0, 0400), never the user's file.
                        let copy = env.scratch.path().join(format!("secret-{}", random_id()));
                        std::fs::copy(&p, &copy).map_err(|e| format!("secret {}: {e}", m.id))?;
                        let mode = m.mode.unwrap_or(0o400) as u32;
                        std::os::unix::fs::chown(
                            &copy,
                            Some(m.uid.unwrap_or(0) as u32),
                            Some(m.gid.unwrap_or(0) as u32),
                        )
                        .map_err(|e| format!("secret {}: {e}", m.id))?;
                        std::fs::set_permissions(
                            &copy,
                            std::os::unix::fs::PermissionsExt::from_mode(mode),
                        )
                        .map_err(|e| format!("secret {}: {e}", m.id))?;
                        (
                            copy.display().to_string(),
                            "bind",
                            vec!["rbind".into(), "ro".into()],
                        )
                    }
                    None if m.required => {
                        return Err(format!("secret {} not found", m.id));
                    }
                    None => continue,
                }
            }
        };
        if m.readonly && !options.iter().any(|o| o == "ro") {
            options.push("ro".into());
        }
        mounts.push(ExtraMount {
            destination: m.target.clone(),
            kind,
            source,
            options,
        });
    }
    let root = env.store.layout().root().to_path_buf();
    let runroot = env.store.layout().runroot().to_path_buf();
    let spec = RunSpec {
        id: &id,
        process: &proc_,
        host_network: r.host_network,
        mounts: &mounts,
        berth_exe: &env.berth_exe,
        root: &root,
        runroot: &runroot,
    };
    let progress = env.progress.clone();
    let code = sandbox::run(fs, &spec, &mut |_, line| progress.log(vertex, line))?;
    drop(keep);
    if code != 0 {
        return Err(format!(
            "executor failed running [{}]: exit code: {code}",
            r.args.join(" ")
        ));
    }
    Ok(())
}

fn copy_op(
    c: &crate::plan::CopyOp,
    fs: &StepFs,
    env: &ExecEnv,
    src_layers: Option<&[LayerRecord]>,
) -> Result<(), String> {
    let mut _keep = None;
    let mut heredoc_dir = None;
    let all = |_: &Path| true;
    let (src_root, include): (PathBuf, &dyn Fn(&Path) -> bool) = match (&c.source, src_layers) {
        (CopySource::Heredoc(files), _) => {
            let d = env.scratch.path().join(format!("heredoc-{}", random_id()));
            std::fs::create_dir_all(&d).map_err(|e| format!("heredoc: {e}"))?;
            for (name, content) in files {
                std::fs::write(d.join(name), content).map_err(|e| format!("heredoc: {e}"))?;
            }
            heredoc_dir = Some(d.clone());
            (d, &all)
        }
        (_, Some(layers)) => {
            let d = env.scratch.path().join(format!("from-{}", random_id()));
            let f =
                StepFs::mount(d, &lowers(env.store, layers)).map_err(|e| format!("mount: {e}"))?;
            let root = f.rootfs.clone();
            _keep = Some(f);
            (root, &all)
        }
        (_, None) => (env.ctx.root().to_path_buf(), env.include),
    };
    let matcher = crate::context::ignore::PatternMatcher::new(&c.exclude)
        .map_err(|e| format!("invalid --exclude pattern: {e}"))?;
    let exclude = |p: &Path| {
        !c.exclude.is_empty()
            && matcher
                .matches_or_parent_matches(&p.to_string_lossy())
                .unwrap_or(false)
    };
    let keep_owner = matches!(c.source, CopySource::Stage(_) | CopySource::Image { .. });
    let r = crate::copy::copy(
        &crate::copy::CopyRequest {
            src_root: &src_root,
            include,
            exclude: &exclude,
            sources: &c.sources,
            dest: &c.dest,
            workdir: &c.workdir,
            chown: c.chown.as_deref(),
            chmod: c.chmod.as_deref(),
            keep_owner,
            add: c.add,
            checksum: None,
            parents: false,
            users_root: None,
        },
        &fs.rootfs,
    )
    .map(|_| ())
    .map_err(|e| e.to_string());
    if let Some(d) = heredoc_dir {
        let _ = std::fs::remove_dir_all(d);
    }
    r
}

fn mkdir_op(path: &str, user: &str, fs: &StepFs) -> Result<(), String> {
    let p = crate::plan::join_in_root(&fs.rootfs, path);
    if p.symlink_metadata().is_ok() {
        return Ok(());
    }
    // WORKDIR creates missing directories owned by the USER in effect.
    let owner = if user.is_empty() {
        None
    } else {
        let read = |f: &str| std::fs::read(fs.rootfs.join(f.trim_start_matches('/'))).ok();
        let p = process::resolve(
            &process::ImageProcess {
                cmd: Some(vec!["true".into()]),
                user: user.to_string(),
                ..Default::default()
            },
            &process::RunOptions::default(),
            &read,
        )
        .map_err(|e| e.to_string())?;
        Some((p.uid, p.gid))
    };
    berth_image::unpack::mkdir_all_in_root(&fs.rootfs, path, owner)
        .map_err(|e| format!("mkdir {path}: {e}"))
}
