//! Dockerfile -> [`Plan`], as BuildKit's dockerfile2llb does it: build
//! args and meta args resolved, every word expanded with the environment
//! in effect at its instruction, config-only instructions applied to the
//! stage's image, ONBUILD triggers of a base image run first, and only the
//! stages the target needs kept.

use std::collections::{BTreeMap, BTreeSet};

use berth_image::config::ImageConfig;
use berth_image::reference::Reference;
use berth_image::store::ImageStore;
use serde_json::{json, Value};

use crate::dockerfile::gostr::quote as go_quote;
use crate::dockerfile::instructions::{
    self, Command, Copy, Healthcheck, Instruction, ShellOrExec, Stage,
};
use crate::dockerfile::parser;
use crate::dockerfile::shell::Lex;
use crate::image::{port_key, ImageState};
use crate::plan::{CopyOp, CopySource, LayerOp, MountKind, Plan, RunMount, RunOp, StagePlan, Step};
use crate::progress::Progress;
use crate::BuildError;

#[derive(Debug, Clone, Default)]
pub struct PlanOptions<'a> {
    pub target: Option<String>,
    pub build_args: Vec<(String, Option<String>)>,
    pub labels: Vec<(String, String)>,
    pub network: String,
    pub platform: Option<String>,
    pub pull: PullPolicy,
    /// Brings images named by `FROM` or `COPY --from` into the store; the
    /// planner itself knows no registry. `None` builds offline.
    pub fetcher: Option<&'a dyn BaseFetcher>,
}

/// When a build fetches the images it starts from (`--pull`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Only an image that is not in the store (BuildKit's default).
    #[default]
    Missing,
    /// Every time, so a moved tag is seen (`docker build --pull`).
    Always,
    /// Never: local images only (`--pull never`, berth's own).
    Never,
}

/// Pulls an image into the store under its name, the way `pull` does.
/// The engine implements it (it owns the registry client).
pub trait BaseFetcher: Sync + std::fmt::Debug {
    /// Pull `name`; `status` gets progress lines for the build's vertex.
    /// The error is the registry's message, shown as BuildKit shows it.
    fn fetch(&self, name: &str, status: &(dyn Fn(&str) + Sync)) -> Result<(), String>;
}

/// Args every build has without an ARG default (BuildKit's predefined ones).
const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn df_err(e: impl std::fmt::Display, line: Option<usize>) -> BuildError {
    BuildError::Dockerfile {
        message: e.to_string(),
        line,
    }
}

fn platform_args(opts: &PlanOptions) -> Vec<(String, String)> {
    let arch = berth_image::host_arch().to_string();
    let host = format!("linux/{arch}");
    let target = opts.platform.clone().unwrap_or_else(|| host.clone());
    let mut parts = target.splitn(3, '/');
    let tos = parts.next().unwrap_or("linux").to_string();
    let tarch = parts.next().unwrap_or(&arch).to_string();
    let tvar = parts.next().unwrap_or("").to_string();
    vec![
        ("BUILDPLATFORM".into(), host),
        ("BUILDOS".into(), "linux".into()),
        ("BUILDARCH".into(), arch),
        ("BUILDVARIANT".into(), String::new()),
        ("TARGETPLATFORM".into(), target),
        ("TARGETOS".into(), tos),
        ("TARGETARCH".into(), tarch),
        ("TARGETVARIANT".into(), tvar),
    ]
}

/// Go's `%q` for a `[]string`: `["a" "b"]`.
fn go_quote_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%q` for an int (a quoted rune).
fn go_quote_rune(n: i64) -> String {
    let c = u32::try_from(n).ok().and_then(char::from_u32);
    match c {
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some('\n') => "'\\n'".into(),
        Some('\t') => "'\\t'".into(),
        Some('\r') => "'\\r'".into(),
        Some('\x07') => "'\\a'".into(),
        Some('\x08') => "'\\b'".into(),
        Some('\x0c') => "'\\f'".into(),
        Some('\x0b') => "'\\v'".into(),
        Some(c) if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        Some(c) => format!("'{c}'"),
        None => format!("'\\x{:02x}'", n & 0xff),
    }
}

/// Go's `time.Duration.String()`.
pub fn go_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", trim_frac(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", trim_frac(ns as f64 / 1e6));
    }
    let total_s = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let h = total_s / 3600;
    let m = (total_s % 3600) / 60;
    let s = total_s % 60;
    let mut secs = format!("{s}");
    if frac > 0 {
        let f = format!("{frac:09}");
        secs = format!("{s}.{}", f.trim_end_matches('0'));
    }
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

fn trim_frac(v: f64) -> String {
    let s = format!("{v:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn healthcheck_json(h: &Healthcheck) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("Test".into(), json!(h.test));
    let ns = |d: std::time::Duration| d.as_nanos() as i64;
    if ns(h.interval) != 0 {
        m.insert("Interval".into(), json!(ns(h.interval)));
    }
    if ns(h.timeout) != 0 {
        m.insert("Timeout".into(), json!(ns(h.timeout)));
    }
    if ns(h.start_period) != 0 {
        m.insert("StartPeriod".into(), json!(ns(h.start_period)));
    }
    if ns(h.start_interval) != 0 {
        m.insert("StartInterval".into(), json!(ns(h.start_interval)));
    }
    if h.retries != 0 {
        m.insert("Retries".into(), json!(h.retries));
    }
    Value::Object(m)
}

/// What HEALTHCHECK writes into history (Go's `%q` of the struct pointer,
/// as BuildKit 0.8 prints it).
fn healthcheck_history(h: &Healthcheck) -> String {
    format!(
        "HEALTHCHECK &{{{} {} {} {} {}}}",
        go_quote_list(&h.test),
        go_quote(&go_duration(h.interval)),
        go_quote(&go_duration(h.timeout)),
        go_quote(&go_duration(h.start_period)),
        go_quote_rune(h.retries as i64)
    )
}

/// Lexically clean an absolute path (`/a/./b/../c` -> `/a/c`).
pub fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

struct StageCtx {
    args: Vec<(String, String)>,
    cmd_set: bool,
}

/// A stage reference in FROM / --from: by name (case-insensitive) or index.
fn find_stage(stages: &[Stage], name: &str, before: usize) -> Option<usize> {
    let lower = name.to_lowercase();
    if let Some(i) = stages
        .iter()
        .position(|s| !s.name.is_empty() && s.name == lower)
    {
        return Some(i);
    }
    match name.parse::<usize>() {
        Ok(i) if i < before => Some(i),
        _ => None,
    }
}

/// The stages each stage depends on.
fn deps_of(stages: &[Stage], i: usize) -> Vec<usize> {
    let mut d = Vec::new();
    if let Some(j) = find_stage(stages, &stages[i].base_name, i) {
        if j != i || !stages[i].name.is_empty() {
            d.push(j);
        }
    }
    for c in &stages[i].commands {
        match &c.instruction {
            Instruction::Copy(cp) | Instruction::Add(cp) if !cp.from.is_empty() => {
                if let Some(j) = find_stage(stages, &cp.from, i) {
                    d.push(j);
                }
            }
            Instruction::Run(r) => {
                for m in &r.mounts {
                    if !m.from.is_empty() {
                        if let Some(j) = find_stage(stages, &m.from, i) {
                            d.push(j);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    d
}

pub fn plan(
    store: &ImageStore,
    dockerfile: &[u8],
    opts: &PlanOptions,
    progress: &Progress,
) -> Result<(Plan, Vec<String>), BuildError> {
    let parsed = parser::parse(dockerfile).map_err(|e| df_err(e.to_string(), Some(e.line())))?;
    let mut warnings = Vec::new();
    // Docker 20.10's BuildKit says "line N", newer ones "on line N".
    let (mut stages, meta) = instructions::parse(&parsed.ast).map_err(|e| {
        df_err(
            e.to_string().replacen(
                "dockerfile parse error on line",
                "dockerfile parse error line",
                1,
            ),
            Some(e.start_line),
        )
    })?;
    if stages.is_empty() {
        return Err(df_err("file with no instructions", None));
    }
    let lex = Lex::new(parsed.escape_token);
    let build_args: BTreeMap<String, Option<String>> = opts.build_args.iter().cloned().collect();
    let mut used_args: BTreeSet<String> = BTreeSet::new();

    // Global (meta) args: predefined platform args, then ARGs before FROM.
    let mut meta_env: Vec<(String, String)> = platform_args(opts);
    for c in &meta {
        if let Instruction::Arg(pairs) = &c.instruction {
            for p in pairs {
                let v = match build_args.get(&p.key) {
                    Some(v) => {
                        used_args.insert(p.key.clone());
                        v.clone()
                    }
                    None => match &p.value {
                        Some(d) => Some(
                            lex.process_word(d, &meta_env)
                                .map_err(|e| df_err(e, Some(c.start_line)))?,
                        ),
                        None => None,
                    },
                };
                meta_env.retain(|(k, _)| k != &p.key);
                if let Some(v) = v {
                    meta_env.push((p.key.clone(), v));
                }
            }
        }
    }
    for st in stages.iter_mut() {
        st.expand(&lex, &meta_env)
            .map_err(|e| df_err(e.to_string(), Some(e.start_line)))?;
    }

    // Target and the stages it needs; a cycle is BuildKit's error.
    let target = match &opts.target {
        Some(t) => stages
            .iter()
            .position(|s| s.name == t.to_lowercase())
            .ok_or_else(|| df_err(format!("target stage {t} could not be found"), None))?,
        None => stages.len() - 1,
    };
    let n = stages.len();
    let deps: Vec<Vec<usize>> = (0..n).map(|i| deps_of(&stages, i)).collect();
    let mut needed = vec![false; n];
    let mut order = Vec::new();
    let mut state = vec![0u8; n]; // 0 new, 1 visiting, 2 done
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        order: &mut Vec<usize>,
        stages: &[Stage],
    ) -> Result<(), BuildError> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                return Err(df_err(
                    format!(
                        "circular dependency detected on stage: {}",
                        if stages[i].name.is_empty() {
                            i.to_string()
                        } else {
                            stages[i].name.clone()
                        }
                    ),
                    Some(stages[i].start_line),
                ))
            }
            _ => {}
        }
        state[i] = 1;
        for &d in &deps[i] {
            visit(d, deps, state, order, stages)?;
        }
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    visit(target, &deps, &mut state, &mut order, &stages)?;
    for &i in &order {
        needed[i] = true;
    }

    let multi = n > 1;
    let mut plans: Vec<Option<StagePlan>> = vec![None; n];
    for &i in &order {
        let st = stages[i].clone();
        let sp = plan_stage(
            store,
            &stages,
            i,
            st,
            &plans,
            &lex,
            &meta_env,
            &build_args,
            &mut used_args,
            opts,
            multi,
            progress,
        )?;
        plans[i] = Some(sp);
    }
    let mut out = Vec::with_capacity(n);
    for (i, p) in plans.into_iter().enumerate() {
        out.push(p.unwrap_or_else(|| StagePlan {
            name: Some(stages[i].name.clone()),
            base_stage: None,
            base_key: String::new(),
            image: ImageState::default(),
            base_history: 0,
            steps: Vec::new(),
            from_vertex: None,
        }));
    }
    if let Some(t) = out.get_mut(target) {
        for (k, v) in &opts.labels {
            crate::image::labels_mut(&mut t.image.config).insert(k.clone(), v.clone());
        }
    }
    let unused: Vec<&String> = build_args
        .keys()
        .filter(|k| !used_args.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        warnings.push(format!(
            "[Warning] One or more build-args [{}] were not consumed",
            names.join(" ")
        ));
    }
    Ok((
        Plan {
            stages: out,
            needed,
            target,
        },
        warnings,
    ))
}

/// Resolve an image reference in the store, pulling it first as the
/// build's pull policy says (BuildKit pulls a base that is not there).
fn local_image(
    store: &ImageStore,
    name: &str,
    opts: &PlanOptions,
    status: &(dyn Fn(&str) + Sync),
) -> Result<(berth_image::store::Image, String), BuildError> {
    let shown = Reference::parse(name)
        .map(|r| r.with_default_tag().to_string())
        .unwrap_or_else(|_| name.to_string());
    let llb_err = |m: &str| {
        BuildError::Other(format!(
            "failed to solve with frontend dockerfile.v0: failed to create LLB definition: {m}"
        ))
    };
    let fetch = |f: &dyn BaseFetcher| f.fetch(name, status).map_err(|e| llb_err(&e));
    let present = store.resolve(name).is_ok();
    match (opts.fetcher, opts.pull) {
        (Some(f), PullPolicy::Always) => fetch(f)?,
        (Some(f), PullPolicy::Missing) if !present => fetch(f)?,
        _ => {}
    }
    let id = store.resolve(name).map_err(|_| {
        llb_err(&format!(
            "pull access denied, repository does not exist or may require authorization: {shown}: not found in the local store (--pull never)"
        ))
    })?;
    let img = store.load(&id).map_err(BuildError::image)?;
    Ok((img, id.to_string()))
}

fn shown_ref(name: &str) -> String {
    Reference::parse(name)
        .map(|r| r.with_default_tag().to_string())
        .unwrap_or_else(|_| name.to_string())
}

#[allow(clippy::too_many_arguments)]
fn plan_stage(
    store: &ImageStore,
    stages: &[Stage],
    index: usize,
    st: Stage,
    plans: &[Option<StagePlan>],
    lex: &Lex,
    meta_env: &[(String, String)],
    build_args: &BTreeMap<String, Option<String>>,
    used_args: &mut BTreeSet<String>,
    opts: &PlanOptions,
    multi: bool,
    progress: &Progress,
) -> Result<StagePlan, BuildError> {
    let base_stage = find_stage(stages, &st.base_name, index).filter(|&j| j != index);
    let (mut image, base_key, from_name) = if let Some(j) = base_stage {
        let p = plans[j].as_ref().ok_or_else(|| {
            BuildError::Other("internal error: stage planned out of order".into())
        })?;
        (p.image.clone(), String::new(), None)
    } else if st.base_name == "scratch" {
        (ImageState::from_base(None), "scratch".to_string(), None)
    } else {
        let v = progress.vertex(&format!(
            "[internal] load metadata for {}",
            shown_ref(&st.base_name)
        ));
        progress.start(v);
        let (img, id) = local_image(store, &st.base_name, opts, &|s| progress.status(v, s))
            .inspect_err(|e| {
                progress.error(v, &e.to_string());
            })?;
        progress.done(v);
        let cfg: &ImageConfig = &img.config;
        (
            ImageState::from_base(Some((cfg, &img.record.layers))),
            id,
            Some(shown_ref(&st.base_name)),
        )
    };
    let base_history = image.history.len();
    // ONBUILD triggers of the base run first; the new image does not keep them.
    let mut commands: Vec<Command> = Vec::new();
    if base_stage.is_none() {
        let triggers = image.config.on_build.take().unwrap_or_default();
        for t in triggers {
            let node = parser::parse(t.as_bytes())
                .map_err(|e| df_err(format!("failed to parse onbuild trigger: {e}"), None))?;
            for child in &node.ast.children {
                parser::check_onbuild_trigger(child).map_err(|e| df_err(e.to_string(), None))?;
                let c = instructions::parse_instruction(child)
                    .map_err(|e| df_err(e.to_string(), None))?;
                commands.push(c);
            }
        }
    } else {
        image.config.on_build = None;
    }
    commands.extend(st.commands.iter().cloned());

    let layer_steps = commands
        .iter()
        .filter(|c| {
            matches!(
                c.instruction,
                Instruction::Run(_)
                    | Instruction::Copy(_)
                    | Instruction::Add(_)
                    | Instruction::Workdir(_)
            )
        })
        .count()
        + 1;
    let prefix = if multi {
        let n = if st.name.is_empty() {
            format!("stage-{index}")
        } else {
            st.name.clone()
        };
        format!("{n} ")
    } else {
        String::new()
    };
    let from_vertex =
        from_name.map(|f| progress.vertex(&format!("[{prefix}1/{layer_steps}] FROM {f}")));
    let mut sc = StageCtx {
        args: Vec::new(),
        cmd_set: false,
    };
    let mut steps = Vec::new();
    let mut pos = 1;
    for mut c in commands {
        let line = c.start_line;
        let mut env: Vec<(String, String)> = sc.args.clone();
        for e in image.env() {
            match e.split_once('=') {
                Some((k, v)) => env.push((k.to_string(), v.to_string())),
                None => env.push((e.clone(), String::new())),
            }
        }
        let original_args = c
            .code
            .split_once(char::is_whitespace)
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .trim()
            .to_string();
        if !matches!(c.instruction, Instruction::Arg(_)) {
            let seen = c
                .expand(lex, &env)
                .map_err(|e| df_err(e.to_string(), Some(e.start_line)))?;
            for m in seen.matched {
                if build_args.contains_key(&m) && sc.args.iter().any(|(k, _)| *k == m) {
                    used_args.insert(m);
                }
            }
        }
        let mut push_step =
            |image: &mut ImageState, op: LayerOp, display: String, history: String| {
                pos += 1;
                let v = progress.vertex(&format!("[{prefix}{pos}/{layer_steps}] {display}"));
                image.add_history(history, None);
                let hi = image.history.len() - 1;
                // A layer step's entry is a layer until it proves empty.
                image.history[hi].empty_layer = false;
                steps.push(Step {
                    op,
                    display: format!("[{prefix}{pos}/{layer_steps}] {display}"),
                    line,
                    history_index: hi,
                    vertex: v,
                });
            };
        match c.instruction {
            Instruction::From(_) => {}
            Instruction::Env(pairs) => {
                let mut parts = Vec::new();
                for p in &pairs {
                    image.set_env(&p.key, &p.value);
                    parts.push(format!("{}={}", p.key, p.value));
                }
                image.add_history(format!("ENV {}", parts.join(" ")), None);
            }
            Instruction::Arg(pairs) => {
                let mut parts = Vec::new();
                for p in &pairs {
                    let value = if let Some(v) = build_args.get(&p.key) {
                        used_args.insert(p.key.clone());
                        v.clone().or_else(|| {
                            p.value
                                .as_ref()
                                .and_then(|d| lex.process_word(d, &env).ok())
                        })
                    } else if let Some(d) = &p.value {
                        Some(
                            lex.process_word(d, &env)
                                .map_err(|e| df_err(e, Some(line)))?,
                        )
                    } else {
                        meta_env
                            .iter()
                            .rev()
                            .find(|(k, _)| *k == p.key)
                            .map(|(_, v)| v.clone())
                    };
                    // BuildKit appends: a re-declared ARG is listed twice in
                    // RUN's history; the later value wins.
                    if let Some(v) = value {
                        sc.args.push((p.key.clone(), v));
                    }
                    parts.push(match &p.value {
                        Some(d) => format!("{}={d}", p.key),
                        None => p.key.clone(),
                    });
                }
                image.add_history(format!("ARG {}", parts.join(" ")), None);
            }
            Instruction::Label(pairs) => {
                let mut parts = Vec::new();
                for p in &pairs {
                    crate::image::labels_mut(&mut image.config)
                        .insert(p.key.clone(), p.value.clone());
                    parts.push(format!("{}={}", p.key, p.value));
                }
                image.add_history(format!("LABEL {}", parts.join(" ")), None);
            }
            Instruction::Expose(ports) => {
                let mut keys = BTreeSet::new();
                for p in &ports {
                    let k = port_key(p);
                    image
                        .config
                        .exposed_ports
                        .get_or_insert_with(BTreeMap::new)
                        .insert(k.clone(), json!({}));
                    keys.insert(k);
                }
                let items: Vec<String> = keys.iter().map(|k| format!("{k}:{{}}")).collect();
                image.add_history(format!("EXPOSE map[{}]", items.join(" ")), None);
            }
            Instruction::Volume(vols) => {
                for v in &vols {
                    image
                        .config
                        .volumes
                        .get_or_insert_with(BTreeMap::new)
                        .insert(v.clone(), json!({}));
                }
                image.add_history(format!("VOLUME [{}]", vols.join(" ")), None);
            }
            Instruction::User(u) => {
                image.config.user = u.clone();
                image.add_history(format!("USER {u}"), None);
            }
            Instruction::Workdir(w) => {
                let base = if image.config.working_dir.is_empty() {
                    "/".to_string()
                } else {
                    image.config.working_dir.clone()
                };
                let path = if w.starts_with('/') {
                    clean_abs(&w)
                } else {
                    clean_abs(&format!("{base}/{w}"))
                };
                image.config.working_dir = path.clone();
                let user = image.config.user.clone();
                push_step(
                    &mut image,
                    LayerOp::Mkdir {
                        path: path.clone(),
                        user,
                    },
                    format!("WORKDIR {path}"),
                    format!("WORKDIR {path}"),
                );
            }
            Instruction::Entrypoint(e) => {
                let args = shell_or_exec(&mut image, e);
                image.config.entrypoint = Some(args.clone());
                if !sc.cmd_set {
                    image.config.cmd = None;
                }
                image.add_history(format!("ENTRYPOINT {}", go_quote_list(&args)), None);
            }
            Instruction::Cmd(e) => {
                let args = shell_or_exec(&mut image, e);
                image.config.cmd = Some(args.clone());
                sc.cmd_set = true;
                image.add_history(format!("CMD {}", go_quote_list(&args)), None);
            }
            Instruction::Healthcheck(h) => {
                image.config.healthcheck = Some(healthcheck_json(&h));
                image.add_history(healthcheck_history(&h), None);
            }
            Instruction::Stopsignal(s) => {
                image.config.stop_signal = Some(s.clone());
                image.add_history(format!("STOPSIGNAL {s}"), None);
            }
            Instruction::Onbuild(expr) => {
                image
                    .config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(expr.clone());
                // BuildKit records triggers in the config only, no history.
            }
            Instruction::Maintainer(m) => {
                image.author = Some(m.clone());
                image.add_history(format!("MAINTAINER {m}"), None);
            }
            Instruction::Shell(s) => {
                image.config.shell = Some(s.clone());
                image.add_history(format!("SHELL [{}]", s.join(" ")), None);
            }
            Instruction::Run(r) => {
                let shell = image
                    .config
                    .shell
                    .clone()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                // A heredoc that is the whole command and starts with `#!`
                // is run as a file (BuildKit mounts it under /dev/pipes/).
                let mut script_file: Option<RunMount> = None;
                let (args, display_cmd) = match &r.cmd {
                    ShellOrExec::Exec(v) => (
                        v.clone(),
                        format!(
                            "[{}]",
                            v.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(" ")
                        ),
                    ),
                    ShellOrExec::Shell(s) => {
                        let script = match r.heredocs.as_slice() {
                            [h] if s.trim() == format!("<<{}", h.name)
                                || s.trim() == format!("<<-{}", h.name)
                                || s.trim()
                                    .trim_start_matches("<<")
                                    .trim_start_matches('-')
                                    .trim_matches(['"', '\''])
                                    == h.name =>
                            {
                                if h.data.starts_with("#!") {
                                    let target = format!("/dev/pipes/{}", h.name);
                                    script_file = Some(RunMount {
                                        kind: MountKind::File,
                                        target: target.clone(),
                                        source: h.data.clone(),
                                        from_stage: None,
                                        id: String::new(),
                                        readonly: true,
                                        required: false,
                                        uid: None,
                                        gid: None,
                                        mode: Some(0o755),
                                    });
                                }
                                h.data.clone()
                            }
                            [] => s.clone(),
                            hs => {
                                let mut full = s.clone();
                                for h in hs {
                                    full.push('\n');
                                    full.push_str(&h.data);
                                    full.push_str(&h.name);
                                }
                                full
                            }
                        };
                        let a = match &script_file {
                            Some(m) => vec![m.target.clone()],
                            None => {
                                let mut a = shell.clone();
                                a.push(script);
                                a
                            }
                        };
                        // The progress shows the command with known variables
                        // filled in, quotes and unknown `$x` kept.
                        let mut shown_lex = Lex::new(lex.escape_token());
                        shown_lex.raw_quotes = true;
                        shown_lex.skip_unset_env = true;
                        let shown = shown_lex
                            .process_word(s, &env)
                            .unwrap_or_else(|_| s.clone());
                        (a, shown)
                    }
                };
                let mut run_env: Vec<String> = image.env().to_vec();
                let env_has =
                    |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
                // Later declarations of an ARG win.
                let mut arg_env: Vec<(String, String)> = Vec::new();
                for (k, v) in &sc.args {
                    arg_env.retain(|(x, _)| x != k);
                    arg_env.push((k.clone(), v.clone()));
                }
                // Proxy args reach RUN without an ARG, and stay out of history.
                for k in PROXY_ARGS {
                    if let Some(Some(v)) = build_args.get(k) {
                        if !arg_env.iter().any(|(x, _)| x == k) {
                            used_args.insert(k.to_string());
                            arg_env.push((k.to_string(), v.clone()));
                        }
                    }
                }
                for (k, v) in &arg_env {
                    if !env_has(&run_env, k) {
                        run_env.push(format!("{k}={v}"));
                    }
                }
                let prefix_args = if sc.args.is_empty() {
                    String::new()
                } else {
                    let kv: Vec<String> = sc.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("|{} {} ", kv.len(), kv.join(" "))
                };
                let history = format!("RUN {prefix_args}{} # buildkit", args.join(" "));
                let mut mounts = Vec::new();
                for m in &r.mounts {
                    mounts.push(run_mount(m, stages, index)?);
                }
                mounts.extend(script_file);
                let network = if r.network.is_empty() || r.network == "default" {
                    opts.network.clone()
                } else {
                    r.network.clone()
                };
                let op = LayerOp::Run(RunOp {
                    args,
                    env: run_env,
                    cwd: if image.config.working_dir.is_empty() {
                        "/".into()
                    } else {
                        image.config.working_dir.clone()
                    },
                    user: image.config.user.clone(),
                    mounts,
                    host_network: network == "host",
                });
                push_step(&mut image, op, format!("RUN {display_cmd}"), history);
            }
            Instruction::Copy(cp) => {
                let op = copy_op(store, stages, index, &image, &cp, false, opts)?;
                push_step(
                    &mut image,
                    LayerOp::Copy(op),
                    format!("COPY {original_args}"),
                    format!("COPY {} # buildkit", copy_history(&cp)),
                );
            }
            Instruction::Add(cp) => {
                let op = copy_op(store, stages, index, &image, &cp, true, opts)?;
                push_step(
                    &mut image,
                    LayerOp::Copy(op),
                    format!("ADD {original_args}"),
                    format!("ADD {} # buildkit", copy_history(&cp)),
                );
            }
        }
    }
    Ok(StagePlan {
        name: (!st.name.is_empty()).then(|| st.name.clone()),
        base_stage,
        base_key,
        image,
        base_history,
        steps,
        from_vertex,
    })
}

/// COPY/ADD in history: sources and destination after expansion, no flags.
fn copy_history(cp: &Copy) -> String {
    let mut parts: Vec<String> = if cp.source_contents.is_empty() {
        cp.sources.clone()
    } else {
        cp.source_contents.iter().map(|s| s.path.clone()).collect()
    };
    parts.push(cp.dest.clone());
    parts.join(" ")
}

fn shell_or_exec(image: &mut ImageState, e: ShellOrExec) -> Vec<String> {
    // BuildKit (Docker 20.10) marks every CMD/ENTRYPOINT as escaped.
    image.config.args_escaped = Some(true);
    match e {
        ShellOrExec::Exec(v) => v,
        ShellOrExec::Shell(s) => {
            let mut a = image
                .config
                .shell
                .clone()
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            a.push(s);
            a
        }
    }
}

fn run_mount(
    m: &instructions::mount::Mount,
    stages: &[Stage],
    index: usize,
) -> Result<RunMount, BuildError> {
    use instructions::mount::MountType;
    let kind = match m.mount_type {
        MountType::Bind => MountKind::Bind,
        MountType::Cache => MountKind::Cache,
        MountType::Tmpfs => MountKind::Tmpfs,
        MountType::Secret => MountKind::Secret,
        other => {
            return Err(df_err(
                format!(
                    "mount type {} is not supported by berth yet",
                    other.as_str()
                ),
                None,
            ))
        }
    };
    let from_stage = if m.from.is_empty() {
        None
    } else {
        Some(find_stage(stages, &m.from, index).ok_or_else(|| {
            df_err(
                format!(
                    "mount from {:?}: only stages of this Dockerfile are supported",
                    m.from
                ),
                None,
            )
        })?)
    };
    let id = if !m.cache_id.is_empty() {
        m.cache_id.clone()
    } else if kind == MountKind::Secret {
        m.target.rsplit('/').next().unwrap_or_default().to_string()
    } else {
        m.target.clone()
    };
    let target = if m.target.is_empty() && kind == MountKind::Secret {
        format!("/run/secrets/{id}")
    } else {
        m.target.clone()
    };
    Ok(RunMount {
        kind,
        target,
        source: if m.source.is_empty() {
            "/".into()
        } else {
            m.source.clone()
        },
        from_stage,
        id,
        readonly: m.read_only,
        required: m.required,
        uid: m.uid,
        gid: m.gid,
        mode: m.mode,
    })
}

fn copy_op(
    store: &ImageStore,
    stages: &[Stage],
    index: usize,
    image: &ImageState,
    cp: &Copy,
    add: bool,
    opts: &PlanOptions,
) -> Result<CopyOp, BuildError> {
    let source = if !cp.source_contents.is_empty() {
        CopySource::Heredoc(
            cp.source_contents
                .iter()
                .map(|s| (s.path.clone(), s.data.clone()))
                .collect(),
        )
    } else if cp.from.is_empty() {
        CopySource::Context
    } else if let Some(j) = find_stage(stages, &cp.from, index) {
        CopySource::Stage(j)
    } else {
        let (img, id) = local_image(store, &cp.from, opts, &|_| {})?;
        CopySource::Image {
            key: id,
            layers: img.record.layers.clone(),
        }
    };
    let sources: Vec<String> = if cp.source_contents.is_empty() {
        cp.sources.clone()
    } else {
        cp.source_contents.iter().map(|s| s.path.clone()).collect()
    };
    if add {
        if let Some(u) = sources.iter().find(|s| {
            s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@")
        }) {
            return Err(BuildError::Other(format!(
                "failed to load cache key: invalid response status 0 fetching {u}: berth builds offline and does not download ADD sources"
            )));
        }
    }
    Ok(CopyOp {
        source,
        sources,
        dest: cp.dest.clone(),
        workdir: if image.config.working_dir.is_empty() {
            "/".into()
        } else {
            image.config.working_dir.clone()
        },
        chown: (!cp.chown.is_empty()).then(|| cp.chown.clone()),
        chmod: (!cp.chmod.is_empty()).then(|| cp.chmod.clone()),
        exclude: cp.exclude.clone(),
        add,
        link: cp.link,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(std::time::Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(std::time::Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(std::time::Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(std::time::Duration::from_millis(100)), "100ms");
        assert_eq!(go_duration(std::time::Duration::ZERO), "0s");
        assert_eq!(go_quote_rune(0), "'\\x00'");
        assert_eq!(go_quote_rune(3), "'\\x03'");
        assert_eq!(
            go_quote_list(&["CMD-SHELL".into(), "true".into()]),
            "[\"CMD-SHELL\" \"true\"]"
        );
        assert_eq!(clean_abs("/a/./b/../c/"), "/a/c");
    }
}
