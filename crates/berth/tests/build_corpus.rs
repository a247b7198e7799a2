//! Differential corpus for `berth build`: every case in `tests/build-corpus/`
//! is built by Docker 20.10's BuildKit (a private dockerd, offline, base
//! image `busybox:local` copied in from berth) and the saved images are
//! compared by content (config, history, every layer's entries).
//!
//! - `docker_builds_are_reproducible`: each case built twice by Docker with
//!   `--no-cache` must compare equal: proves the comparison (and the corpus)
//!   has no nondeterminism left in it.
//! - `berth_builds_match_docker` (ignored until `berth build` exists): each
//!   case built by Docker and by `berth build`, compared.
//!
//! Case layout (`tests/build-corpus/<case>/`), all optional but the Dockerfile:
//!
//! | file | meaning |
//! | --- | --- |
//! | `Dockerfile` and other files | the build context (copied to a temp dir with the files below left out and every mtime set to one fixed time) |
//! | `args` | extra build flags, split on whitespace (`#` starts a comment line), given to both engines |
//! | `secrets` | one `--secret` value a line, `src=` relative to the case dir (keep the files in `secret-files/`) |
//! | `pre/` | a context built first and tagged `corpus/<case>-pre`, for cases that need a parent image (ONBUILD) |
//! | `Dockerfile.docker20` | what Docker builds instead of `Dockerfile`, for syntax Docker 20.10's built-in frontend lacks (heredocs): an equivalent written without it |
//! | `compare` | relaxations, one a line: `created_by=false`, `preserved_mtimes=false`, `ignore_touched_dirs=true` |
//! | `expect-error` | the build must fail; one substring a line that Docker's output must contain |
//! | `docker-error.txt` | what Docker printed for a failing case (for reading; not checked) |
//!
//! `BERTH_CORPUS_CASES=a,b` limits a run to those cases; with
//! `BERTH_CORPUS_KEEP=1` the contexts and saved archives of the run are
//! kept (the path is printed) for a look.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::dockerd::Dockerd;
use common::image_diff::{assert_same_image, compare_images, CompareOptions, SavedImage};
use common::*;

/// Docker 20.10's CLI: BuildKit without buildx, with DOCKER_BUILDKIT=1.
const DOCKER20: &str = "/usr/bin/docker";
const BASE: &str = "busybox:local";
/// Every file of a prepared context gets this mtime.
const CONTEXT_MTIME: &str = "@1600000000";
/// Files of a case dir that are the harness's, not the context's.
const META: &[&str] = &[
    "args",
    "secrets",
    "secret-files",
    "pre",
    "Dockerfile.docker20",
    "compare",
    "expect-error",
    "docker-error.txt",
];

struct Case {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    secrets: Vec<String>,
    docker_dockerfile: Option<PathBuf>,
    expect_error: Option<Vec<String>>,
    opts: CompareOptions,
}

impl Case {
    fn tag(&self) -> String {
        format!("corpus/{}", self.name)
    }
    fn pre_tag(&self) -> String {
        format!("corpus/{}-pre", self.name)
    }
    fn has_pre(&self) -> bool {
        self.dir.join("pre").is_dir()
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/build-corpus")
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .map(|s| {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn cases() -> Vec<Case> {
    let only: Option<Vec<String>> = std::env::var("BERTH_CORPUS_CASES")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Dockerfile").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| only.as_ref().is_none_or(|o| o.contains(n)))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let dir = corpus_dir().join(&name);
            let mut opts = CompareOptions::default();
            for l in lines(&dir.join("compare")) {
                match l.as_str() {
                    "created_by=false" => opts.created_by = false,
                    "preserved_mtimes=false" => opts.preserved_mtimes = None,
                    "ignore_touched_dirs=true" => opts.ignore_touched_dirs = true,
                    other => panic!("{name}/compare: unknown line {other:?}"),
                }
            }
            let secrets = lines(&dir.join("secrets"))
                .into_iter()
                .map(|s| {
                    s.split(',')
                        .map(|kv| match kv.strip_prefix("src=") {
                            Some(p) => format!("src={}", dir.join(p).display()),
                            None => kv.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            Case {
                args: lines(&dir.join("args"))
                    .iter()
                    .flat_map(|l| l.split_whitespace().map(str::to_string))
                    .collect(),
                secrets,
                docker_dockerfile: Some(dir.join("Dockerfile.docker20")).filter(|p| p.is_file()),
                expect_error: dir
                    .join("expect-error")
                    .is_file()
                    .then(|| lines(&dir.join("expect-error"))),
                opts,
                name,
                dir,
            }
        })
        .collect()
}

/// Copy `src` (less the harness's files at its top) to `dst`, modes kept,
/// every mtime set to CONTEXT_MTIME.
fn prepare_context(src: &Path, dst: &Path) {
    fn copy(src: &Path, dst: &Path, top: bool) {
        std::fs::create_dir_all(dst).unwrap();
        for e in std::fs::read_dir(src).unwrap().flatten() {
            let name = e.file_name();
            if top && META.contains(&name.to_string_lossy().as_ref()) {
                continue;
            }
            let (s, d) = (e.path(), dst.join(&name));
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                copy(&s, &d, false);
                let perm = std::fs::metadata(&s).unwrap().permissions();
                std::fs::set_permissions(&d, perm).unwrap();
            } else if ft.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&s).unwrap(), &d).unwrap();
            } else {
                std::fs::copy(&s, &d).unwrap();
            }
        }
    }
    copy(src, dst, true);
    let st = Command::new("find")
        .arg(dst)
        .args(["-exec", "touch", "-h", "-d", CONTEXT_MTIME, "{}", "+"])
        .status()
        .unwrap();
    assert!(st.success());
}

/// The engine-independent part of one build: context, tag, flags.
struct BuildSpec<'a> {
    context: &'a Path,
    tag: String,
    /// Flags after `build -t TAG`, before the context.
    flags: Vec<String>,
    /// Docker only: `-f` for an equivalent Dockerfile.
    docker_file: Option<&'a Path>,
}

fn spec_for<'a>(case: &'a Case, ctx: &'a Path, pre: bool) -> BuildSpec<'a> {
    if pre {
        return BuildSpec {
            context: ctx,
            tag: case.pre_tag(),
            flags: vec![],
            docker_file: None,
        };
    }
    let mut flags = case.args.clone();
    for s in &case.secrets {
        flags.push("--secret".into());
        flags.push(s.clone());
    }
    BuildSpec {
        context: ctx,
        tag: case.tag(),
        flags,
        docker_file: case.docker_dockerfile.as_deref(),
    }
}

fn docker_build(d: &Dockerd, b: &BuildSpec) -> Out {
    let mut args: Vec<String> = vec![
        "build".into(),
        "--no-cache".into(),
        // dockerd runs with --bridge=none: no network for RUN, which
        // changes nothing in the image.
        "--network".into(),
        "none".into(),
        "--progress".into(),
        "plain".into(),
        "-t".into(),
        b.tag.clone(),
    ];
    if let Some(f) = b.docker_file {
        args.push("-f".into());
        args.push(f.display().to_string());
    }
    args.extend(b.flags.iter().cloned());
    args.push(b.context.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    d.docker_with(Path::new(DOCKER20), &[("DOCKER_BUILDKIT", "1")], &args)
}

fn docker_save(d: &Dockerd, tag: &str, out: &Path) {
    let o = d.docker_with(
        Path::new(DOCKER20),
        &[],
        &["save", "-o", out.to_str().unwrap(), tag],
    );
    assert_eq!(o.code, 0, "docker save {tag}: {}", o.stderr);
}

/// Exactly `berth --root R build -t TAG [args] CTX`.
fn berth_build(r: &Root, b: &BuildSpec) -> Out {
    let mut args: Vec<&str> = vec!["build", "-t", &b.tag];
    args.extend(b.flags.iter().map(String::as_str));
    let ctx = b.context.display().to_string();
    args.push(&ctx);
    r.run(&args)
}

fn berth_save(r: &Root, tag: &str, out: &Path) {
    r.ok(&["save", "-o", out.to_str().unwrap(), tag]);
}

/// One side of a comparison: builds a spec and saves the result.
trait Engine: Sync {
    fn label(&self) -> &'static str;
    fn build(&self, b: &BuildSpec) -> Out;
    fn save(&self, tag: &str, out: &Path);
}

struct DockerEngine<'a>(&'a Dockerd);
impl Engine for DockerEngine<'_> {
    fn label(&self) -> &'static str {
        "docker"
    }
    fn build(&self, b: &BuildSpec) -> Out {
        docker_build(self.0, b)
    }
    fn save(&self, tag: &str, out: &Path) {
        docker_save(self.0, tag, out)
    }
}

struct BerthEngine<'a>(&'a Root);
impl Engine for BerthEngine<'_> {
    fn label(&self) -> &'static str {
        "berth"
    }
    fn build(&self, b: &BuildSpec) -> Out {
        berth_build(self.0, b)
    }
    fn save(&self, tag: &str, out: &Path) {
        berth_save(self.0, tag, out)
    }
}

/// Build `case` (its `pre` first) with `e`, saving into `out/<label>-*.tar`.
/// `Err` is the failing build's output.
fn build_case(e: &dyn Engine, case: &Case, work: &Path, tag: &str) -> Result<(), Out> {
    if case.has_pre() {
        let ctx = work.join("pre-context");
        if !ctx.exists() {
            prepare_context(&case.dir.join("pre"), &ctx);
        }
        let spec = spec_for(case, &ctx, true);
        let o = e.build(&spec);
        assert_eq!(
            o.code,
            0,
            "{}: {} build of pre/ failed:\n{}{}",
            case.name,
            e.label(),
            o.stdout,
            o.stderr
        );
        e.save(&spec.tag, &work.join(format!("{tag}-pre.tar")));
    }
    let ctx = work.join("context");
    if !ctx.exists() {
        prepare_context(&case.dir, &ctx);
    }
    let spec = spec_for(case, &ctx, false);
    let o = e.build(&spec);
    if o.code != 0 {
        return Err(o);
    }
    e.save(&spec.tag, &work.join(format!("{tag}.tar")));
    Ok(())
}

/// Build every case with `want` and with `got` and compare; all problems
/// are collected and reported together.
fn run_corpus(
    want: &dyn Engine,
    gots: &[&dyn Engine],
    opts_for: &(dyn Fn(&Case, &str) -> CompareOptions + Sync),
) {
    let cases = cases();
    assert!(!cases.is_empty(), "no corpus cases");
    let work = tempfile::Builder::new()
        .prefix("berth-corpus-")
        .tempdir()
        .unwrap();
    let failures = Mutex::new(Vec::<String>::new());
    let next = Mutex::new(0usize);
    // Two at a time: BuildKit waits on runc and disk as much as on CPU.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(case) = cases.get(i) else { break };
                let dir = work.path().join(&case.name);
                std::fs::create_dir_all(&dir).unwrap();
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    check_case(want, gots, case, &dir, opts_for)
                }));
                let problem = match result {
                    Ok(Ok(())) => {
                        eprintln!("corpus case {}: ok", case.name);
                        continue;
                    }
                    Ok(Err(p)) => p,
                    Err(panic) => panic_text(panic),
                };
                eprintln!("corpus case {}: FAILED", case.name);
                failures
                    .lock()
                    .unwrap()
                    .push(format!("== {}\n{problem}", case.name));
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    if std::env::var_os("BERTH_CORPUS_KEEP").is_some() {
        eprintln!("kept the saved images in {}", work.keep().display());
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed ({} vs {}):\n{}",
        failures.len(),
        cases.len(),
        want.label(),
        gots.iter()
            .map(|g| g.label())
            .collect::<Vec<_>>()
            .join(", "),
        failures.join("\n")
    );
}

/// The same engine twice: the second build must really have run (the
/// image's creation time differs), or comparing them would prove nothing.
/// An image that only changes metadata takes its base's creation time,
/// so it is the same either way.
fn assert_rebuilt(a: &Path, b: &Path, case: &Case) {
    let (a, b) = (
        SavedImage::load(a, Some(&case.tag())),
        SavedImage::load(b, Some(&case.tag())),
    );
    let made_a_layer = a.config["history"].as_array().unwrap().iter().any(|h| {
        h["comment"] == "buildkit.dockerfile.v0"
            && h["empty_layer"] != serde_json::Value::Bool(true)
    });
    if !made_a_layer {
        return;
    }
    assert_ne!(
        a.config["created"], b.config["created"],
        "the second build came from the cache"
    );
}

fn tail(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

/// Build `case` with `want`, then with each of `gots`, comparing each to
/// `want`'s image; every problem is in the `Err`.
fn check_case(
    want: &dyn Engine,
    gots: &[&dyn Engine],
    case: &Case,
    dir: &Path,
    opts_for: &(dyn Fn(&Case, &str) -> CompareOptions + Sync),
) -> Result<(), String> {
    let wl = format!("want-{}", want.label());
    let w = build_case(want, case, dir, &wl);
    let mut p = String::new();
    if let Some(expect) = &case.expect_error {
        // Docker's own wording is what expect-error records; another
        // engine only has to fail as well.
        match &w {
            Ok(()) => p += &format!("{}: build succeeded, expected a failure\n", want.label()),
            Err(o) => {
                for e in expect {
                    if !o.stderr.contains(e.as_str()) {
                        p += &format!(
                            "{}: output lacks {e:?}:\n{}\n",
                            want.label(),
                            tail(&o.stderr, 10)
                        );
                    }
                }
            }
        }
    } else if let Err(o) = &w {
        return Err(format!(
            "{} build failed:\n{}",
            want.label(),
            tail(&o.stderr, 15)
        ));
    }
    for got in gots {
        let gl = format!("got-{}", got.label());
        let g = build_case(*got, case, dir, &gl);
        match (&case.expect_error, g) {
            (Some(_), Ok(())) => {
                p += &format!("{}: build succeeded, expected a failure\n", got.label())
            }
            (Some(_), Err(o)) => eprintln!(
                "{}: {} failed as expected:\n{}",
                case.name,
                got.label(),
                tail(&o.stderr, 5)
            ),
            (None, Err(o)) => {
                p += &format!(
                    "{} build failed:\n{}{}\n",
                    got.label(),
                    o.stdout,
                    tail(&o.stderr, 15)
                )
            }
            (None, Ok(())) => {
                let opts = opts_for(case, got.label());
                let (wa, ga) = (dir.join(format!("{wl}.tar")), dir.join(format!("{gl}.tar")));
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if case.has_pre() {
                        assert_same_image(
                            want.label(),
                            &dir.join(format!("{wl}-pre.tar")),
                            got.label(),
                            &dir.join(format!("{gl}-pre.tar")),
                            &case.pre_tag(),
                            &opts,
                        );
                    }
                    if want.label() == got.label() {
                        assert_rebuilt(&wa, &ga, case);
                    }
                    assert_same_image(want.label(), &wa, got.label(), &ga, &case.tag(), &opts);
                }));
                if let Err(e) = r {
                    p += &panic_text(e);
                    p += "\n";
                }
            }
        }
    }
    if p.is_empty() {
        Ok(())
    } else {
        Err(p)
    }
}

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// A private dockerd holding busybox:local, or None (skip) where that
/// cannot be had.
fn docker_with_base(base_root: &Root) -> Option<Dockerd> {
    if !Path::new(DOCKER20).exists() {
        eprintln!("skipping: {DOCKER20} (Docker 20.10's CLI) not installed");
        return None;
    }
    // /proc/self belongs to the effective user.
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        eprintln!("skipping: needs root for a private dockerd");
        return None;
    }
    let d = Dockerd::start_in_namespace("berth-build-corpus")?;
    d.load_from_berth(base_root, BASE);
    Some(d)
}

/// Options for comparing `label`'s image to Docker's.
fn opts_for(case: &Case, label: &str) -> CompareOptions {
    CompareOptions {
        // Docker 20.10 leaves `etc/` (mount stubs, created and removed)
        // in every RUN layer; not worth copying.
        ignore_touched_dirs: label != "docker" || case.opts.ignore_touched_dirs,
        ..case.opts.clone()
    }
}

/// Docker twice (proves the harness: Docker against itself compares
/// equal); with `BERTH_BUILD_CORPUS=1` berth as well. Run by hand:
/// `cargo test -p berth --test build_corpus -- --ignored`.
#[test]
#[ignore = "checks the harness against Docker itself; slow"]
fn docker_builds_are_reproducible() {
    let r = Root::new();
    r.busybox(BASE);
    let Some(d) = docker_with_base(&r) else {
        return;
    };
    let (docker, berth) = (DockerEngine(&d), BerthEngine(&r));
    let mut gots: Vec<&dyn Engine> = vec![&docker];
    if std::env::var_os("BERTH_BUILD_CORPUS").is_some() {
        gots.push(&berth);
    }
    run_corpus(&docker, &gots, &opts_for);
}

/// Every corpus case built by Docker 20.10's BuildKit and by berth, the
/// saved images compared by content.
#[test]
fn berth_builds_match_docker() {
    let r = Root::new();
    r.busybox(BASE);
    let Some(d) = docker_with_base(&r) else {
        return;
    };
    run_corpus(&DockerEngine(&d), &[&BerthEngine(&r)], &opts_for);
}

/// The comparison itself, on made-up archives: equal content compares
/// equal whatever the timestamps; each kind of difference is reported.
#[test]
fn comparison_reports_differences() {
    let work = tempfile::tempdir().unwrap();
    let load = |name: &str, layers: &[Vec<u8>]| {
        let (archive, _) = docker_archive(layers, &["corpus/x:latest"]);
        let p = work.path().join(name);
        std::fs::write(&p, archive).unwrap();
        SavedImage::load(&p, Some("corpus/x"))
    };
    let base = tar_of(&[E::Dir("bin/"), E::File("bin/x", b"one")]);
    let want = load(
        "a.tar",
        &[base.clone(), tar_of(&[E::Symlink("bin/y", "x")])],
    );
    let opts = CompareOptions::default();
    assert_eq!(compare_images(&want, &want.clone(), &opts), Ok(()));

    let mut got = load(
        "b.tar",
        &[
            tar_of(&[E::Dir("bin/"), E::File("bin/x", b"two")]),
            tar_of(&[E::Symlink("bin/y", "z"), E::File("extra", b"")]),
        ],
    );
    // Null, empty and absent are the same; a real value is not.
    got.config["config"]["OnBuild"] = serde_json::Value::Null;
    got.config["config"]["Volumes"] = serde_json::json!({});
    got.config["config"]["User"] = "1000".into();
    got.config["history"][1]["created_by"] = "RUN other".into();
    let diff = compare_images(&want, &got, &opts).unwrap_err();
    for needle in [
        "config.User: want (unset) got \"1000\"",
        "history[1].created_by",
        "differs: bin/x",
        "differs: bin/y",
        "only got: extra",
    ] {
        assert!(diff.contains(needle), "{needle:?} not in:\n{diff}");
    }
    assert!(
        !diff.contains("OnBuild") && !diff.contains("Volumes"),
        "{diff}"
    );
    let relaxed = CompareOptions {
        created_by: false,
        ..opts
    };
    assert!(!compare_images(&want, &got, &relaxed)
        .unwrap_err()
        .contains("created_by"));

    // Old mtimes (not the build's clock) must agree; recent ones need not.
    let mut redated = want.clone();
    redated.layers[0].entries.get_mut("bin/x").unwrap().mtime = 1_500_000_000;
    let diff = compare_images(&want, &redated, &CompareOptions::default()).unwrap_err();
    assert!(diff.contains("mtime=1500000000"), "{diff}");
    redated.layers[0].entries.get_mut("bin/x").unwrap().mtime = 1_800_000_000;
    assert_eq!(
        compare_images(&want, &redated, &CompareOptions::default()),
        Ok(())
    );

    // A directory only touched (same mode and owner as below) is dropped
    // on request; a new one is not.
    let touched = load("c.tar", &[base, tar_of(&[E::Dir("bin/"), E::Dir("new/")])]);
    let plain = load(
        "d.tar",
        &[
            tar_of(&[E::Dir("bin/"), E::File("bin/x", b"one")]),
            tar_of(&[E::Dir("new/")]),
        ],
    );
    let ignoring = CompareOptions {
        ignore_touched_dirs: true,
        ..CompareOptions::default()
    };
    assert!(compare_images(&touched, &plain, &CompareOptions::default()).is_err());
    assert_eq!(compare_images(&touched, &plain, &ignoring), Ok(()));
}
