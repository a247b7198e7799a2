//! Builds: the engine's face of `berth-build`, plus the single-threaded
//! half of a RUN step (`berth internal build-step`), which starts the step's
//! container under a monitor the way `run` does, without a container record.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::Path;

use berth_image::build_cache::CacheRecord;
use berth_runtime::driver::{self, Launch, LaunchError, Runtime};
use berth_store::Digest;

use crate::containers::sibling_exe;
use crate::{Engine, Error, ErrorKind, Result};

/// Build steps keep their runtime state apart from containers', so the
/// sweep every command runs reads a directory that is normally absent.
const BUILD_STEPS: &str = "berth-build-steps";

impl Engine {
    fn build_state_root(&self) -> std::path::PathBuf {
        self.layout.runtime_state_dir(BUILD_STEPS)
    }

    /// Start a build step's container from its bundle; returns the owner
    /// connection that carries its output and exit.
    pub fn build_step_start(&self, id: &str, bundle: &Path) -> Result<UnixStream> {
        let runtime = Runtime::Embedded;
        let state_root = self.build_state_root();
        std::fs::create_dir_all(&state_root).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("{}: {e}", state_root.display()),
            )
        })?;
        let monitor = sibling_exe("berth-monitor", "BERTH_MONITOR");
        // Run by the monitor if the step's own process dies before the
        // container ends: the runtime state and cgroups still go.
        let cleanup = self.internal_argv("build-step-cleanup", id);
        let launched = driver::launch(&Launch {
            id,
            bundle,
            runtime: &runtime,
            state_root: &state_root,
            run_dir: bundle,
            tty: false,
            stdin: false,
            owner: true,
            log: None,
            monitor_exe: &monitor,
            cleanup,
            monitor_fds: Vec::new(),
            monitor_args: Vec::new(),
        })
        .map_err(|e| match e {
            LaunchError::NotFound(m) => Error::new(ErrorKind::NotFound, m),
            LaunchError::CannotExecute(m) => Error::new(ErrorKind::Conflict, m),
            LaunchError::Other(m) => Error::new(ErrorKind::Internal, m),
        })?;
        launched
            .owner
            .ok_or_else(|| Error::new(ErrorKind::Internal, "build step: no owner connection"))
    }

    /// Remove a finished step's runtime state and cgroups (the monitor's
    /// cleanup when the step's own process is gone).
    pub fn build_step_cleanup(&self, id: &str) -> Result<()> {
        if !id.starts_with("build-") || id.contains('/') {
            return Err(Error::invalid(format!("not a build step: {id}")));
        }
        self.remove_step(id)
    }

    /// Runtime state and cgroups; the state stays while a cgroup cannot go
    /// yet, so the next command's sweep tries again.
    fn remove_step(&self, id: &str) -> Result<()> {
        let state_root = self.build_state_root();
        driver::delete(&Runtime::Embedded, &state_root, id, &format!("/berth/{id}"))
            .map_err(|e| Error::new(ErrorKind::Internal, e))
    }

    /// Build steps whose build is gone (its scratch dir, which holds the
    /// step's bundle, was swept) but whose container or state is left:
    /// every process of the builder was killed, monitor included.
    pub(crate) fn sweep_build_steps(&self) {
        let dir = self.build_state_root();
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return;
        };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if !id.starts_with("build-") {
                continue;
            }
            let state = std::fs::read(e.path().join("state.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
            let orphan = match state {
                Some(v) => v["bundle"]
                    .as_str()
                    .is_some_and(|b| !std::path::Path::new(b).exists()),
                // No state yet: a step being created right now by another
                // process; only a long-abandoned one is ours to remove.
                None => e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(60)),
            };
            if !orphan {
                continue;
            }
            let _ = self.build_step_kill(&id);
            let _ = self.build_step_cleanup(&id);
        }
    }

    /// Kill every process of a step (its builder is gone).
    pub fn build_step_kill(&self, id: &str) -> Result<()> {
        for dir in berth_runtime::cgroups::dirs(&format!("/berth/{id}")) {
            for pid in berth_runtime::cgroups::pids(&dir) {
                let _ = rustix::process::kill_process(
                    rustix::process::Pid::from_raw(pid)
                        .ok_or_else(|| Error::new(ErrorKind::Internal, format!("bad pid {pid}")))?,
                    rustix::process::Signal::KILL,
                );
            }
        }
        Ok(())
    }

    /// After the step's output ended: its exit code; runtime state and
    /// cgroups are removed.
    pub fn build_step_finish(&self, id: &str, bundle: &Path) -> Result<i32> {
        let exit = bundle.join(driver::EXIT_FILE);
        let mut code = None;
        for _ in 0..1000 {
            if let Ok(s) = std::fs::read_to_string(&exit) {
                code = s
                    .split_whitespace()
                    .next()
                    .and_then(|c| c.parse::<i32>().ok());
                if code.is_some() {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = self.remove_step(id);
        Ok(code.unwrap_or(255))
    }
}

pub use berth_build::session::{BuildOutcome, BuildRequest, ContextArg};
pub use berth_build::BuildError;

/// Pulls the images a build starts from, as `run` pulls a missing image:
/// tagged in the store under their name, so the next build finds them.
struct BaseImages<'a> {
    engine: &'a Engine,
    platform: Option<String>,
}

impl std::fmt::Debug for BaseImages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseImages")
            .field("platform", &self.platform)
            .finish()
    }
}

impl berth_build::planner::BaseFetcher for BaseImages<'_> {
    fn fetch(&self, name: &str, status: &(dyn Fn(&str) + Sync)) -> std::result::Result<(), String> {
        let opts = crate::registry::PullOptions {
            all_tags: false,
            platform: self.platform.clone(),
        };
        let shown = berth_image::reference::Reference::parse(name)
            .map(|r| r.with_default_tag().to_string())
            .unwrap_or_else(|_| name.to_string());
        let progress = PullStatus {
            status,
            shown: shown.clone(),
        };
        // BuildKit's resolver says only `<ref>: not found` for a missing
        // manifest, where `pull` quotes the registry.
        self.engine
            .pull(name, &opts, &progress)
            .map(|_| ())
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => format!("{shown}: not found"),
                _ => e.to_string(),
            })
    }
}

/// A pull's progress as status lines of BuildKit's vertex: the resolved
/// digest, then each layer as it is fetched and unpacked.
struct PullStatus<'a> {
    status: &'a (dyn Fn(&str) + Sync),
    shown: String,
}

impl crate::registry::Progress for PullStatus<'_> {
    fn line(&self, text: &str) {
        if let Some(d) = text.strip_prefix("Digest: ") {
            (self.status)(&format!("resolve {}@{d} done", self.shown));
        }
    }

    fn layer(&self, id: &str, status: &str) {
        match status {
            "Download complete" => (self.status)(&format!("sha256:{id} done")),
            "Pull complete" => (self.status)(&format!("extracting sha256:{id} done")),
            _ => {}
        }
    }
}

/// What `builder prune` removed.
#[derive(Debug, Default)]
pub struct CachePruned {
    pub ids: Vec<String>,
    pub reclaimed: u64,
}

impl Engine {
    /// Build an image (or export a build's filesystem).
    pub fn build(
        &self,
        req: &BuildRequest,
        progress: &berth_build::progress::Progress,
    ) -> std::result::Result<BuildOutcome, BuildError> {
        let berth = sibling_exe("berth", "BERTH_EXE");
        let fetcher = BaseImages {
            engine: self,
            platform: req.platform.clone(),
        };
        berth_build::session::build(&self.images, req, progress, &berth, Some(&fetcher))
    }

    /// Remove build cache records, then the layers nothing uses any more.
    /// As BuildKit does: without `all` only records that are not shared
    /// (whose layer no image holds, `system df -v`'s SHARED); `until` keeps
    /// records used within that duration; `label` filters are accepted and
    /// ignored, as dockerd 20.10 does. The reclaimed bytes are the removed
    /// records' sizes, shared or not (what dockerd reports).
    pub fn builder_prune(
        &self,
        all: bool,
        filters: &crate::prune::PruneFilters,
    ) -> Result<CachePruned> {
        filters.validate(&[
            "until",
            "unused-for",
            "label",
            "label!",
            "id",
            "parent",
            "type",
            "description",
            "inuse",
            "shared",
            "private",
        ])?;
        let keep = filters.keep_duration()?;
        let _gc = self.images.gc_guard(berth_store::LockMode::Exclusive)?;
        let shared = self.image_chain_ids()?;
        let now = chrono::Utc::now();
        let mut out = CachePruned::default();
        for rec in self.images.cache_list()? {
            if !all && cache_record_shared(&rec, &shared) {
                continue;
            }
            if let Some(keep) = keep {
                let used = chrono::DateTime::parse_from_rfc3339(&rec.last_used)
                    .ok()
                    .or_else(|| {
                        rec.created_at
                            .as_deref()
                            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                    });
                let age = used.map(|u| now.signed_duration_since(u));
                if age.is_some_and(|a| a.to_std().unwrap_or_default() < keep) {
                    continue;
                }
            }
            self.images.cache_remove(&rec.key)?;
            out.reclaimed += rec.size;
            out.ids.push(rec.key);
        }
        // `RUN --mount=type=cache` dirs: their last use is not recorded, so
        // an `until` prune keeps them.
        let cache_mounts = self.layout.build_state_dir().join("cache-mounts");
        if keep.is_none() && cache_mounts.exists() {
            out.reclaimed += dir_size(&cache_mounts);
            let _ = berth_store::remove_tree(&cache_mounts);
        }
        self.images.collect_garbage()?;
        Ok(out)
    }

    /// Chain IDs of every image's layers: a build cache record whose layer
    /// is among them is *shared* with an image.
    pub(crate) fn image_chain_ids(&self) -> Result<BTreeSet<berth_store::Digest>> {
        Ok(self
            .images
            .all()?
            .iter()
            .flat_map(|img| img.chain_ids())
            .collect())
    }

    /// Build cache records and their sizes, for `system df`.
    pub fn build_cache_usage(&self) -> Result<Vec<berth_image::build_cache::CacheRecord>> {
        Ok(self.images.cache_list()?)
    }
}

/// Whether a record's result layer is also an image's layer (BuildKit's
/// `Shared`): pruning it frees nothing while that image exists.
pub(crate) fn cache_record_shared(rec: &CacheRecord, image_chains: &BTreeSet<Digest>) -> bool {
    let diff_ids: Vec<Digest> = rec.layers.iter().map(|l| l.diff_id.clone()).collect();
    Digest::chain_ids(&diff_ids)
        .last()
        .is_some_and(|top| image_chains.contains(top))
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}
