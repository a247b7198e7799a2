//! Typed instructions from parse-tree nodes, with BuildKit's checks and
//! error texts (`frontend/dockerfile/instructions`).
//!
//! Words are not expanded here: like BuildKit, expansion happens when a
//! step is dispatched, with that step's variables. [`Command::expand`] does
//! it and reports which variables were used, for the cache key.

mod bflag;
pub mod mount;

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

pub use bflag::BFlags;
pub use mount::{parse_device, parse_mount, Device, Mount, MountType, ShareMode};

use super::ast::{Heredoc, Node};
use super::shell::{go_quote, EnvGetter, Lex};
/// Go's `time.ParseDuration` with Go's error text (HEALTHCHECK flags).
pub use berth_logs::parse_go_duration;

/// Expands one word; errors are final messages. BuildKit's
/// `SingleWordExpander`.
pub type WordExpander<'a> = dyn FnMut(&str) -> Result<String, String> + 'a;

/// An error tied to the instruction's source lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub start_line: usize,
    pub end_line: usize,
}

impl ParseError {
    fn at(node: &Node, message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
            start_line: node.start_line,
            end_line: node.end_line,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// `ENV`/`LABEL` entry. `no_delim`: written `KEY value` (legacy) rather than
/// `KEY=value`, which linters warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValuePair {
    pub key: String,
    pub value: String,
    pub no_delim: bool,
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgPair {
    pub key: String,
    pub value: Option<String>,
    /// A `# name description` comment right above.
    pub doc_comment: String,
}

/// Shell form (run through the image's shell) or exec (JSON) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// The arguments joined with spaces.
    Shell(String),
    Exec(Vec<String>),
}

/// A heredoc body used as a RUN script or extra file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellInlineFile {
    pub name: String,
    pub data: String,
    pub chomp: bool,
}

/// A heredoc used as a COPY/ADD source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceContent {
    pub path: String,
    pub data: String,
    /// False when the delimiter was quoted: the body is taken literally.
    pub expand: bool,
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub cmd: ShellOrExec,
    pub heredocs: Vec<ShellInlineFile>,
    /// The raw `--mount` values; [`Run::mounts`] is rebuilt from them by
    /// [`Instruction::expand_words`].
    pub mount_specs: Vec<String>,
    /// Before expansion this holds BuildKit's parse-time view (only `from`
    /// read; type still bind); complete after expansion.
    pub mounts: Vec<Mount>,
    /// `default`, `none` or `host`.
    pub network: String,
    /// `sandbox` or `insecure`.
    pub security: String,
    pub devices: Vec<Device>,
    pub flags_used: Vec<String>,
}

/// `COPY` and `ADD` (the ADD-only fields stay empty for COPY and the
/// reverse).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    pub sources: Vec<String>,
    pub source_contents: Vec<SourceContent>,
    pub dest: String,
    /// COPY only.
    pub from: String,
    pub chown: String,
    pub chmod: String,
    pub link: bool,
    pub exclude: Vec<String>,
    /// COPY only.
    pub parents: bool,
    /// ADD only; `None` when the flag was not written.
    pub keep_git_dir: Option<bool>,
    /// ADD only.
    pub checksum: String,
    /// ADD only; `None` when the flag was not written.
    pub unpack: Option<bool>,
}

/// `HEALTHCHECK`: `test` is `["NONE"]`, `["CMD", args...]` (exec) or
/// `["CMD-SHELL", cmd]`, as in the image config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i32,
}

/// `FROM`, which starts a [`Stage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub base: String,
    /// Lower-cased `AS` name, empty when none.
    pub name: String,
    pub platform: String,
}

/// One typed instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From(From),
    Run(Run),
    Copy(Copy),
    Add(Copy),
    Env(Vec<KeyValuePair>),
    Arg(Vec<ArgPair>),
    Label(Vec<KeyValuePair>),
    /// Sorted as strings, as BuildKit does at parse time.
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Entrypoint(ShellOrExec),
    Cmd(ShellOrExec),
    Healthcheck(Healthcheck),
    Stopsignal(String),
    /// The trigger as written, without `ONBUILD` (heredoc bodies appended).
    Onbuild(String),
    Maintainer(String),
    Shell(Vec<String>),
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Lower-cased keyword.
    pub name: String,
    /// The instruction text, trimmed.
    pub code: String,
    pub start_line: usize,
    pub end_line: usize,
    pub comments: Vec<String>,
    pub instruction: Instruction,
}

/// A `FROM` and the commands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Lower-cased `AS` name, empty when none.
    pub name: String,
    pub base_name: String,
    pub platform: String,
    /// The keyword as written in the node (`from`).
    pub orig_cmd: String,
    pub source_code: String,
    pub start_line: usize,
    pub end_line: usize,
    pub comments: Vec<String>,
    /// `# name description` right above the FROM.
    pub doc_comment: String,
    pub commands: Vec<Command>,
}

/// Variables a step's expansion looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    pub matched: BTreeSet<String>,
    pub unmatched: BTreeSet<String>,
}

/// A node's arguments; a nested instruction (ONBUILD's) contributes its
/// keyword then its own arguments.
fn node_args(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for arg in &node.next {
        match arg.children.as_slice() {
            [] => out.push(arg.value.clone()),
            [child] => {
                out.push(child.value.clone());
                out.extend(node_args(child));
            }
            _ => {}
        }
    }
    out
}

fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}

fn no_destination(cmd: &str) -> String {
    format!(
        "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
    )
}

fn blank_names(cmd: &str) -> String {
    format!("{cmd} names can not be blank")
}

const INSTRUCTION_NAMES: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Converts one instruction node. Errors carry the node's lines.
pub fn parse_instruction(node: &Node) -> Result<Command, ParseError> {
    let instruction = parse_node(node).map_err(|m| ParseError::at(node, m))?;
    Ok(Command {
        name: node.value.clone(),
        code: node.original.trim().to_string(),
        start_line: node.start_line,
        end_line: node.end_line,
        comments: node.prev_comment.clone(),
        instruction,
    })
}

fn parse_node(node: &Node) -> Result<Instruction, String> {
    let args = node_args(node);
    let mut flags = BFlags::new(node.flags.clone());
    match node.value.to_lowercase().as_str() {
        "env" => {
            flags.parse()?;
            Ok(Instruction::Env(parse_kvps(&args, "ENV")?))
        }
        "maintainer" => {
            if args.len() != 1 {
                return Err(exactly_one("MAINTAINER"));
            }
            flags.parse()?;
            Ok(Instruction::Maintainer(args[0].clone()))
        }
        "label" => {
            flags.parse()?;
            Ok(Instruction::Label(parse_kvps(&args, "LABEL")?))
        }
        "add" => parse_add(node, &args, flags),
        "copy" => parse_copy(node, &args, flags),
        "from" => parse_from(&args, flags).map(Instruction::From),
        "onbuild" => parse_onbuild(node, &args, flags),
        "workdir" => {
            if args.len() != 1 {
                return Err(exactly_one("WORKDIR"));
            }
            flags.parse()?;
            Ok(Instruction::Workdir(args[0].clone()))
        }
        "run" => parse_run(node, &args, flags),
        "cmd" => {
            flags.parse()?;
            Ok(Instruction::Cmd(cmd_line(node, &args)))
        }
        "entrypoint" => {
            flags.parse()?;
            Ok(Instruction::Entrypoint(cmd_line(node, &args)))
        }
        "healthcheck" => parse_healthcheck(node, &args, flags),
        "expose" => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            flags.parse()?;
            let mut ports = args;
            ports.sort();
            Ok(Instruction::Expose(ports))
        }
        "user" => {
            if args.len() != 1 {
                return Err(exactly_one("USER"));
            }
            flags.parse()?;
            Ok(Instruction::User(args[0].clone()))
        }
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            flags.parse()?;
            let mut vols = Vec::new();
            for v in &args {
                let v = v.trim();
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                vols.push(v.to_string());
            }
            Ok(Instruction::Volume(vols))
        }
        // BuildKit checks no flags for STOPSIGNAL and ARG.
        "stopsignal" => {
            if args.len() != 1 {
                return Err(exactly_one("STOPSIGNAL"));
            }
            Ok(Instruction::Stopsignal(args[0].clone()))
        }
        "arg" => parse_arg(node, &args),
        "shell" => {
            flags.parse()?;
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            Ok(Instruction::Shell(args))
        }
        _ => Err(bflag::with_suggestion(
            format!("unknown instruction: {}", node.value),
            &node.value,
            INSTRUCTION_NAMES,
            false,
        )),
    }
}

fn parse_kvps(args: &[String], cmd: &str) -> Result<Vec<KeyValuePair>, String> {
    if args.is_empty() {
        return Err(at_least_one(cmd));
    }
    if !args.chunks_exact(3).remainder().is_empty() {
        return Err(format!("Bad input to {cmd}, too many arguments"));
    }
    args.chunks(3)
        .map(|c| {
            if c[0].is_empty() {
                return Err(blank_names(cmd));
            }
            Ok(KeyValuePair {
                key: c[0].clone(),
                value: c[1].clone(),
                no_delim: c[2].is_empty(),
            })
        })
        .collect()
}

fn cmd_line(node: &Node, args: &[String]) -> ShellOrExec {
    if node.json {
        ShellOrExec::Exec(args.to_vec())
    } else {
        ShellOrExec::Shell(args.join(" "))
    }
}

/// BuildKit's `parser.MustParseHeredoc`: the word as a heredoc marker, a
/// word that does not lex being none.
fn heredoc_word(src: &str) -> Option<Heredoc> {
    super::parser::parse_heredoc(src).ok().flatten()
}

fn sources_and_dest(node: &Node, args: &[String], cmd: &str, c: &mut Copy) -> Result<(), String> {
    let (dest, srcs) = match args.split_last() {
        Some(x) => x,
        None => return Err(no_destination(cmd)),
    };
    if heredoc_word(dest).is_some() {
        return Err(format!("{cmd} cannot accept a heredoc as a destination"));
    }
    for src in srcs {
        match heredoc_word(src) {
            Some(h) => {
                // The last heredoc of that name wins, as in BuildKit's map.
                let mut data = node
                    .heredocs
                    .iter()
                    .rev()
                    .find(|d| d.name == h.name)
                    .map(|d| d.content.clone())
                    .unwrap_or_default();
                if h.chomp {
                    data = super::parser::chomp_content(&data);
                }
                c.source_contents.push(SourceContent {
                    path: h.name,
                    data,
                    expand: h.expand,
                });
            }
            None => c.sources.push(src.clone()),
        }
    }
    c.dest = dest.clone();
    Ok(())
}

fn parse_add(node: &Node, args: &[String], mut flags: BFlags) -> Result<Instruction, String> {
    if args.len() < 2 {
        return Err(no_destination("ADD"));
    }
    flags.add_string("chown", "");
    flags.add_string("chmod", "");
    flags.add_bool("link", false);
    flags.add_bool("keep-git-dir", false);
    flags.add_string("checksum", "");
    flags.add_bool("unpack", false);
    flags.add_strings("exclude");
    flags.parse()?;
    let mut c = Copy::default();
    sources_and_dest(node, args, "ADD", &mut c)?;
    c.chown = flags.string("chown");
    c.chmod = flags.string("chmod");
    c.link = flags.bool("link");
    c.keep_git_dir = flags
        .is_used("keep-git-dir")
        .then(|| flags.bool("keep-git-dir"));
    c.checksum = flags.string("checksum");
    c.exclude = flags.strings("exclude");
    c.unpack = flags.is_used("unpack").then(|| flags.bool("unpack"));
    Ok(Instruction::Add(c))
}

fn parse_copy(node: &Node, args: &[String], mut flags: BFlags) -> Result<Instruction, String> {
    if args.len() < 2 {
        return Err(no_destination("COPY"));
    }
    flags.add_string("chown", "");
    flags.add_string("from", "");
    flags.add_string("chmod", "");
    flags.add_bool("link", false);
    flags.add_strings("exclude");
    flags.add_bool("parents", false);
    flags.parse()?;
    let mut c = Copy::default();
    sources_and_dest(node, args, "COPY", &mut c)?;
    c.from = flags.string("from");
    c.chown = flags.string("chown");
    c.chmod = flags.string("chmod");
    c.link = flags.bool("link");
    c.parents = flags.bool("parents");
    c.exclude = flags.strings("exclude");
    Ok(Instruction::Copy(c))
}

/// `^[a-z][a-z0-9-_.]*$`, checked after lower-casing.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn parse_from(args: &[String], mut flags: BFlags) -> Result<From, String> {
    let name = if args.len() == 3 && args[1].eq_ignore_ascii_case("as") {
        let name = args[2].to_lowercase();
        if !valid_stage_name(&name) {
            return Err(format!(
                "invalid name for build stage: {}, name can't start with a number or contain symbols",
                go_quote(&args[2])
            ));
        }
        name
    } else if args.len() != 1 {
        return Err("FROM requires either one or three arguments".into());
    } else {
        String::new()
    };
    flags.add_string("platform", "");
    flags.parse()?;
    Ok(From {
        base: args[0].clone(),
        name,
        platform: flags.string("platform"),
    })
}

fn parse_onbuild(node: &Node, args: &[String], mut flags: BFlags) -> Result<Instruction, String> {
    let Some(first) = args.first() else {
        return Err(at_least_one("ONBUILD"));
    };
    flags.parse()?;
    let trigger = first.trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"))
        }
        _ => {}
    }
    let mut expr = strip_onbuild_keyword(&node.original);
    for h in &node.heredocs {
        expr.push('\n');
        expr.push_str(&h.content);
        expr.push_str(&h.name);
    }
    Ok(Instruction::Onbuild(expr))
}

/// `(?i)^\s*ONBUILD\s*` removed, `\s` being ASCII space as in Go regexps.
fn strip_onbuild_keyword(original: &str) -> String {
    let ws = [' ', '\t', '\n', '\r', '\u{c}'];
    let s = original.trim_start_matches(ws);
    match s.get(..7) {
        Some(k) if k.eq_ignore_ascii_case("onbuild") => s[7..].trim_start_matches(ws).to_string(),
        _ => original.to_string(),
    }
}

fn parse_run(node: &Node, args: &[String], mut flags: BFlags) -> Result<Instruction, String> {
    flags.add_strings("device");
    flags.add_strings("mount");
    flags.add_string("network", "default");
    flags.add_string("security", "sandbox");
    flags.parse()?;

    let heredocs = node
        .heredocs
        .iter()
        .map(|h| ShellInlineFile {
            name: h.name.clone(),
            data: h.content.clone(),
            chomp: h.chomp,
        })
        .collect();
    let devices = flags
        .strings("device")
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<Vec<_>, _>>()?;
    let mount_specs = flags.strings("mount");
    let mounts = mount_specs
        .iter()
        .map(|m| parse_mount(m, None))
        .collect::<Result<Vec<_>, _>>()?;
    let network = flags.string("network");
    if !matches!(network.as_str(), "default" | "none" | "host") {
        return Err(format!("invalid network mode {}", go_quote(&network)));
    }
    let security = flags.string("security");
    if !matches!(security.as_str(), "insecure" | "sandbox") {
        return Err(format!("security {} is not valid", go_quote(&security)));
    }
    Ok(Instruction::Run(Run {
        cmd: cmd_line(node, args),
        heredocs,
        mount_specs,
        mounts,
        network,
        security,
        devices,
        flags_used: flags.used().to_vec(),
    }))
}

fn parse_healthcheck(
    node: &Node,
    args: &[String],
    mut flags: BFlags,
) -> Result<Instruction, String> {
    let Some(first) = args.first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let typ = first.to_uppercase();
    let rest = &args[1..];
    if typ == "NONE" {
        // BuildKit does not look at flags here.
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Instruction::Healthcheck(Healthcheck {
            test: vec![typ],
            ..Default::default()
        }));
    }
    for f in [
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ] {
        flags.add_string(f, "");
    }
    flags.parse()?;
    if typ != "CMD" {
        return Err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            go_quote(&typ)
        ));
    }
    let mut test = vec![if node.json { "CMD" } else { "CMD-SHELL" }.to_string()];
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    if node.json {
        test.extend(rest.iter().cloned());
    } else {
        test.push(rest.join(" "));
    }
    let mut hc = Healthcheck {
        test,
        interval: opt_interval(&flags, "interval")?,
        timeout: opt_interval(&flags, "timeout")?,
        start_period: opt_interval(&flags, "start-period")?,
        start_interval: opt_interval(&flags, "start-interval")?,
        retries: 0,
    };
    let retries = flags.string("retries");
    if !retries.is_empty() {
        let r = parse_go_int32(&retries)?;
        if r < 0 {
            return Err(format!("--retries cannot be negative ({r})"));
        }
        hc.retries = r;
    }
    Ok(Instruction::Healthcheck(hc))
}

/// A HEALTHCHECK duration flag: empty or zero means unset; otherwise at
/// least 1ms.
fn opt_interval(flags: &BFlags, name: &str) -> Result<Duration, String> {
    let s = flags.string(name);
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    let d = parse_go_duration(&s)?;
    if d == 0 {
        return Ok(Duration::ZERO);
    }
    if d < 1_000_000 {
        return Err(format!(
            "Interval {} cannot be less than 1ms",
            go_quote(name)
        ));
    }
    Ok(Duration::from_nanos(d.unsigned_abs()))
}

/// Go's `strconv.ParseInt(s, 10, 32)` with its error text.
fn parse_go_int32(s: &str) -> Result<i32, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i32>().map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )
    })
}

fn doc_comment(comments: &[String], name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let prefix = format!("{name} ");
    comments
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_default()
        .to_string()
}

fn parse_arg(node: &Node, args: &[String]) -> Result<Instruction, String> {
    if args.is_empty() {
        return Err(at_least_one("ARG"));
    }
    args.iter()
        .map(|a| {
            let (key, value) = match a.split_once('=') {
                Some(("", _)) => return Err(blank_names("ARG")),
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            Ok(ArgPair {
                doc_comment: doc_comment(&node.prev_comment, &key),
                key,
                value,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Instruction::Arg)
}

/// Splits a Dockerfile's instructions into stages, like BuildKit's
/// `instructions.Parse`: ARGs before the first FROM are meta args.
/// Instruction errors read `dockerfile parse error on line N: ...`.
pub fn parse(ast: &Node) -> Result<(Vec<Stage>, Vec<Command>), ParseError> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut meta_args = Vec::new();
    for n in &ast.children {
        let cmd = parse_instruction(n).map_err(|e| ParseError {
            message: format!(
                "dockerfile parse error on line {}: {}",
                n.start_line, e.message
            ),
            ..e
        })?;
        if stages.is_empty() && matches!(cmd.instruction, Instruction::Arg(_)) {
            meta_args.push(cmd);
            continue;
        }
        if let Instruction::From(f) = cmd.instruction {
            stages.push(Stage {
                doc_comment: doc_comment(&cmd.comments, &f.name),
                name: f.name,
                base_name: f.base,
                platform: f.platform,
                orig_cmd: cmd.name,
                source_code: cmd.code,
                start_line: cmd.start_line,
                end_line: cmd.end_line,
                comments: cmd.comments,
                commands: Vec::new(),
            });
            continue;
        }
        match stages.last_mut() {
            Some(s) => s.commands.push(cmd),
            None => return Err(ParseError::at(n, "no build stage in current context")),
        }
    }
    Ok((stages, meta_args))
}

/// The index of the stage called `name` (case-insensitive).
pub fn find_stage(stages: &[Stage], name: &str) -> Option<usize> {
    stages
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(name))
}

fn expand_slice(values: &mut [String], f: &mut WordExpander) -> Result<(), String> {
    for v in values {
        *v = f(v)?;
    }
    Ok(())
}

fn expand_kvps(kvps: &mut [KeyValuePair], f: &mut WordExpander) -> Result<(), String> {
    for kv in kvps {
        kv.key = f(&kv.key)?;
        kv.value = f(&kv.value)?;
    }
    Ok(())
}

impl Instruction {
    /// Whether BuildKit expands this instruction's words one by one
    /// (`SupportsSingleWordExpansion`).
    pub fn supports_expansion(&self) -> bool {
        matches!(
            self,
            Instruction::Env(_)
                | Instruction::Label(_)
                | Instruction::Add(_)
                | Instruction::Copy(_)
                | Instruction::Workdir(_)
                | Instruction::Run(_)
                | Instruction::User(_)
                | Instruction::Volume(_)
                | Instruction::Stopsignal(_)
                | Instruction::Arg(_)
        )
    }

    /// BuildKit's `Expand`: ENV/LABEL keys and values; COPY/ADD chown,
    /// chmod, (ADD) checksum, sources and destination; WORKDIR, USER,
    /// VOLUME, STOPSIGNAL; ARG names and defaults; RUN re-reads its mounts
    /// with every value expanded. Others are left alone. COPY `--from` is
    /// not expanded here (BuildKit resolves it with an empty environment).
    pub fn expand_words(&mut self, f: &mut WordExpander) -> Result<(), String> {
        match self {
            Instruction::Env(kv) | Instruction::Label(kv) => expand_kvps(kv, f),
            Instruction::Add(c) => {
                c.chown = f(&c.chown)?;
                c.chmod = f(&c.chmod)?;
                c.checksum = f(&c.checksum)?;
                expand_slice(&mut c.sources, f)?;
                c.dest = f(&c.dest)?;
                Ok(())
            }
            Instruction::Copy(c) => {
                c.chown = f(&c.chown)?;
                c.chmod = f(&c.chmod)?;
                expand_slice(&mut c.sources, f)?;
                c.dest = f(&c.dest)?;
                Ok(())
            }
            Instruction::Workdir(s) | Instruction::User(s) | Instruction::Stopsignal(s) => {
                *s = f(s)?;
                Ok(())
            }
            Instruction::Volume(v) => expand_slice(v, f),
            Instruction::Arg(args) => {
                for a in args {
                    a.key = f(&a.key)?;
                    if let Some(v) = &a.value {
                        a.value = Some(f(v)?);
                    }
                }
                Ok(())
            }
            Instruction::Run(r) => {
                let mut mounts = Vec::with_capacity(r.mount_specs.len());
                for spec in &r.mount_specs {
                    mounts.push(parse_mount(spec, Some(&mut *f))?);
                }
                r.mounts = mounts;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// BuildKit's `ExpandRaw`: COPY/ADD heredoc bodies whose delimiter was
    /// not quoted. The caller should use a lexer that keeps quotes
    /// (`skip_process_quotes`), as [`Command::expand`] does.
    pub fn expand_raw(&mut self, f: &mut WordExpander) -> Result<(), String> {
        if let Instruction::Add(c) | Instruction::Copy(c) = self {
            for sc in c.source_contents.iter_mut().filter(|s| s.expand) {
                sc.data = f(&sc.data)?;
            }
        }
        Ok(())
    }
}

impl Command {
    /// Expands the step's words with `env` the way BuildKit's dispatch
    /// does before running it: [`Instruction::expand_words`] (except ARG,
    /// whose default is only expanded when no build arg overrides it, so
    /// the executor handles it), heredoc bodies with quotes kept, and
    /// EXPOSE ports split into fields. Returns the variables looked up.
    pub fn expand(&mut self, lex: &Lex, env: &dyn EnvGetter) -> Result<Expansion, ParseError> {
        let mut seen = Expansion::default();
        let (start_line, end_line) = (self.start_line, self.end_line);
        let err = |message: String| ParseError {
            message,
            start_line,
            end_line,
        };
        {
            let mut word = |w: &str| -> Result<String, String> {
                let r = lex
                    .process_word_with_matches(w, env)
                    .map_err(|e| e.to_string())?;
                seen.matched.extend(r.matched);
                seen.unmatched.extend(r.unmatched);
                Ok(r.result)
            };
            if !matches!(self.instruction, Instruction::Arg(_)) {
                self.instruction.expand_words(&mut word).map_err(err)?;
            }
        }
        {
            let mut raw_lex = Lex::new('\\');
            raw_lex.skip_process_quotes = true;
            let mut raw = |w: &str| -> Result<String, String> {
                let r = raw_lex
                    .process_word_with_matches(w, env)
                    .map_err(|e| e.to_string())?;
                seen.matched.extend(r.matched);
                seen.unmatched.extend(r.unmatched);
                Ok(r.result)
            };
            self.instruction.expand_raw(&mut raw).map_err(err)?;
        }
        if let Instruction::Expose(ports) = &mut self.instruction {
            // BuildKit splits with `ProcessWords`, which reports no variables;
            // look them up separately so the cache key still sees them.
            let mut out = Vec::new();
            for p in ports.iter() {
                out.extend(lex.process_words(p, env).map_err(|e| err(e.to_string()))?);
                if let Ok(r) = lex.process_word_with_matches(p, env) {
                    seen.matched.extend(r.matched);
                    seen.unmatched.extend(r.unmatched);
                }
            }
            *ports = out;
        }
        Ok(seen)
    }
}

impl Stage {
    /// Expands the base name and platform with the meta args (BuildKit does
    /// this with `ProcessWordWithMatches` against the global args).
    pub fn expand(&mut self, lex: &Lex, meta_env: &dyn EnvGetter) -> Result<Expansion, ParseError> {
        let mut seen = Expansion::default();
        let err = |e: super::shell::ShellError| ParseError {
            message: e.to_string(),
            start_line: self.start_line,
            end_line: self.end_line,
        };
        let r = lex
            .process_word_with_matches(&self.base_name, meta_env)
            .map_err(err)?;
        seen.matched.extend(r.matched);
        seen.unmatched.extend(r.unmatched);
        let base = r.result;
        let mut platform = self.platform.clone();
        if !platform.is_empty() {
            let r = lex
                .process_word_with_matches(&platform, meta_env)
                .map_err(err)?;
            seen.matched.extend(r.matched);
            seen.unmatched.extend(r.unmatched);
            platform = r.result;
        }
        self.base_name = base;
        self.platform = platform;
        Ok(seen)
    }
}

#[cfg(test)]
mod tests;
