//! Dockerfile text to [`Node`] tree, following BuildKit's
//! `frontend/dockerfile/parser` rule for rule: parser directives, escape
//! token and line continuations, the per-instruction argument parsers,
//! heredocs, and the same errors at the same lines. Builds, checks and
//! `berth debug dockerfile-ast` all rely on the tree being exactly what
//! BuildKit would produce, quirks included.

mod heredoc;
mod json;
#[cfg(test)]
mod tests;

use crate::dockerfile::ast::{Node, ParseResult, Warning};
use crate::dockerfile::gostr;

pub use heredoc::{chomp_content, parse_heredoc};

/// The default escape token.
pub const DEFAULT_ESCAPE: char = '\\';

/// Go's `bufio.MaxScanTokenSize`: longer lines make BuildKit fail.
const MAX_LINE: usize = 64 * 1024;

/// A parse failure with the Dockerfile lines it concerns (1-based; 0 when
/// BuildKit reports the line before the first one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    pub start_line: usize,
    pub end_line: usize,
}

impl ParseError {
    /// BuildKit's `withLocation(err, start, end)`: an end before the start
    /// collapses to the start.
    fn at(message: impl Into<String>, start: usize, end: usize) -> Self {
        ParseError {
            message: message.into(),
            start_line: start,
            end_line: end.max(start),
        }
    }

    /// The line to point at (`Dockerfile:LINE`).
    pub fn line(&self) -> usize {
        self.start_line
    }

    /// One line for a terminal: `Dockerfile:3: unterminated heredoc`, or
    /// without a line number when there is none to show.
    pub fn display_for(&self, file: &str) -> String {
        if self.start_line == 0 {
            format!("{file}: {}", self.message)
        } else {
            format!("{file}:{}: {}", self.start_line, self.message)
        }
    }
}

/// What the argument parsers produce: the argument nodes, whether they
/// came from the JSON form, or BuildKit's message for bad arguments.
type Args = Result<(Vec<Node>, bool), String>;

/// Parser state that directives change: the escape token, and which
/// directives were seen while they are still allowed.
struct Directives {
    escape: char,
    /// Directives end at the first line that is not one.
    done: bool,
    seen: Vec<String>,
}

impl Directives {
    fn new() -> Self {
        Directives {
            escape: DEFAULT_ESCAPE,
            done: false,
            seen: Vec::new(),
        }
    }

    /// Looks at a (left-trimmed) line for `# name=value`; true when it
    /// was a directive, so the comment is not kept.
    fn check_line(&mut self, line: &str) -> Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        let Some(body) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let Some((name, value)) = split_directive(body.trim_start_matches(gostr::is_space)) else {
            self.done = true;
            return Ok(false);
        };
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "syntax" | "check" | "escape") {
            self.done = true;
            return Ok(false);
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        self.seen.push(name.clone());
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(format!(
                        "invalid escape token '{value}' does not match ` or \\"
                    ))
                }
            };
        }
        Ok(true)
    }
}

/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` by hand, `\s` being ASCII.
fn split_directive(s: &str) -> Option<(&str, &str)> {
    let is_s = |c: char| matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ');
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let name_len = s
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(s.len());
    let (name, rest) = s.split_at(name_len);
    let rest = rest.trim_start_matches(is_s).strip_prefix('=')?;
    if rest.is_empty() {
        return None;
    }
    let value = rest.trim_start_matches(is_s);
    if value.is_empty() {
        // Only blanks: the lazy `.+?` still takes the last one.
        let last = rest.chars().last()?;
        return Some((name, &rest[rest.len() - last.len_utf8()..]));
    }
    Some((name, value.trim_end_matches(is_s)))
}

/// Lines with their `\n`, like BuildKit's scanner, which stops (and makes
/// the parse fail) at a line of 64 KiB or more.
struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    too_long: bool,
}

impl Lines<'_> {
    fn next_line(&mut self) -> Option<String> {
        if self.too_long || self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (content, len) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (i, i + 1),
            None => (rest.len(), rest.len()),
        };
        if content >= MAX_LINE {
            self.too_long = true;
            return None;
        }
        self.pos += len;
        Some(String::from_utf8_lossy(&rest[..len]).into_owned())
    }
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(gostr::is_space).starts_with('#')
}

/// Strips a trailing continuation token (`\` or the chosen escape, then
/// blanks), unless the token is itself escaped. True when the line ends
/// the instruction.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line.to_string(), true);
    };
    if before.ends_with(escape) {
        return (line.to_string(), true);
    }
    (before.to_string(), false)
}

/// Parses a Dockerfile. Errors carry BuildKit's message and lines.
pub fn parse(input: &[u8]) -> Result<ParseResult, ParseError> {
    let mut lines = Lines {
        data: input,
        pos: 0,
        too_long: false,
    };
    let mut d = Directives::new();
    let mut current_line = 0usize;
    let mut root = Node::default();
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();

    while let Some(raw) = lines.next_line() {
        let mut raw = raw.as_str();
        if current_line == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        if is_comment(raw) {
            // BuildKit drops the first byte, whatever it is, then trims.
            let first = raw.chars().next().map_or(0, char::len_utf8);
            let comment = gostr::trim_space(&raw[first..]);
            if comment.is_empty() {
                comments.clear();
            } else {
                comments.push(comment.to_string());
            }
        }
        let trimmed = trim_newline(raw).trim_start_matches(gostr::is_space);
        let directive = d
            .check_line(trimmed)
            .map_err(|e| ParseError::at(e, current_line, 0))?;
        if directive {
            comments.pop();
        }
        let text = if is_comment(trimmed) { "" } else { trimmed };
        current_line += 1;

        let start_line = current_line;
        let (first, mut end_of_line) = trim_continuation(text, d.escape);
        if end_of_line && first.is_empty() {
            continue;
        }
        let mut line = first;

        let mut empty_continuation = false;
        while !end_of_line {
            let Some(next) = lines.next_line() else { break };
            d.check_line(trim_newline(&next))
                .map_err(|e| ParseError::at(e, current_line, 0))?;
            current_line += 1;
            if is_comment(&next) {
                continue;
            }
            let part = trim_newline(&next);
            if part.trim_start_matches(gostr::is_space).is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, end) = trim_continuation(part, d.escape);
            end_of_line = end;
            line.push_str(&part);
        }

        if empty_continuation {
            warnings.push(Warning {
                short: format!("Empty continuation line found in: {line}"),
                detail: "Empty continuation lines will become errors in a future release"
                    .to_string(),
                url: "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"
                    .to_string(),
                line: current_line,
            });
        }

        let mut child = node_from_line(&line, &d, std::mem::take(&mut comments))
            .map_err(|e| ParseError::at(e, start_line, current_line))?;

        if can_contain_heredoc(&child) && line.contains("<<") {
            let docs = heredoc::heredocs_from_line(&line)
                .map_err(|e| ParseError::at(e, start_line, current_line))?;
            for mut doc in docs {
                let mut terminated = false;
                while let Some(body) = lines.next_line() {
                    current_line += 1;
                    let mut candidate = trim_newline(&body);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(&body);
                }
                if !terminated {
                    return Err(ParseError::at(
                        "unterminated heredoc",
                        start_line,
                        current_line,
                    ));
                }
                child.heredocs.push(doc);
            }
        }

        child.start_line = start_line;
        child.end_line = current_line;
        if root.children.is_empty() {
            root.start_line = start_line;
        }
        root.end_line = current_line;
        root.children.push(child);
    }

    if root.children.is_empty() {
        return Err(ParseError::at("file with no instructions", current_line, 0));
    }
    if lines.too_long {
        return Err(ParseError::at(
            format!(
                "dockerfile line greater than max allowed size of {}",
                MAX_LINE - 1
            ),
            current_line,
            0,
        ));
    }
    Ok(ParseResult {
        ast: root,
        escape_token: d.escape,
        warnings,
    })
}

/// [`parse`] for text already in memory.
pub fn parse_str(input: &str) -> Result<ParseResult, ParseError> {
    parse(input.as_bytes())
}

/// Heredocs are read for ADD, COPY and RUN in shell form, also behind
/// ONBUILD.
fn can_contain_heredoc(node: &Node) -> bool {
    let mut node = node;
    if node.value == "onbuild" {
        if let Some(inner) = node.next.first().and_then(|n| n.children.first()) {
            node = inner;
        }
    }
    matches!(node.value.as_str(), "add" | "copy" | "run") && !node.json
}

/// One joined instruction line to a node: keyword, flags, then the
/// keyword's own argument parser.
fn node_from_line(line: &str, d: &Directives, comments: Vec<String>) -> Result<Node, String> {
    let (cmd, flags, args) = split_command(line, d.escape);
    let keyword = gostr::to_lower(&cmd);
    let (next, json) = match keyword.as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(&args),
        "arg" => name_or_name_val(&args, d.escape),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(&args),
        "env" => name_val(&args, "ENV", d.escape),
        "label" => name_val(&args, "LABEL", d.escape),
        "expose" | "from" => Ok((whitespace_delimited(&args), false)),
        "healthcheck" => health_config(&args),
        "maintainer" | "stopsignal" | "user" | "workdir" => Ok((string_arg(&args), false)),
        "onbuild" => sub_command(&args, d),
        // Unknown instructions keep one empty argument; the instruction
        // layer reports them.
        _ => Ok((vec![Node::default()], false)),
    }?;
    Ok(Node {
        value: keyword,
        next,
        json,
        original: line.to_string(),
        flags,
        prev_comment: comments,
        ..Node::default()
    })
}

/// Splits `KEYWORD --flags... args` (arguments trimmed).
fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let parts = gostr::split_ws(gostr::trim_space(line), 2);
    let cmd = parts.first().copied().unwrap_or_default().to_string();
    let Some(rest) = parts.get(1) else {
        return (cmd, Vec::new(), String::new());
    };
    let (args, flags) = extract_flags(rest, escape);
    (cmd, flags, gostr::trim_space(&args).to_string())
}

/// Leading `--name=value` words; `--` alone ends them. Works byte by
/// byte like BuildKit, so non-ASCII bytes in a flag come out as Latin-1.
fn extract_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let b = line.as_bytes();
    let rest_at = |pos: usize| String::from_utf8_lossy(&b[pos..]).into_owned();
    let is_escape = |c: u8| char::from(c) == escape;
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= b.len() {
        let at_end = pos == b.len();
        let mut ch = if at_end { 0 } else { b[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if gostr::is_space_byte(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == b.len() || b[pos + 1] != b'-' {
                return (rest_at(pos), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if gostr::is_space_byte(ch) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (rest_at(pos), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if is_escape(ch) {
                if pos + 1 == b.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = b[pos];
            }
            word.push(char::from(ch));
            pos += 1;
            continue;
        }
        // Inside quotes.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if is_escape(ch) {
            if pos + 1 == b.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = b[pos];
        }
        word.push(char::from(ch));
        pos += 1;
    }
    (String::new(), words)
}

fn leaf(value: impl Into<String>) -> Node {
    Node {
        value: value.into(),
        ..Node::default()
    }
}

/// Words separated by blanks, quotes kept (ENV/LABEL/ARG): an escape
/// keeps the next character in the word, whatever it is.
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut i = 0;
    while i <= chars.len() {
        let at_end = i == chars.len();
        let mut ch = chars.get(i).copied().unwrap_or('\0');
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if gostr::is_space(ch) {
                i += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if gostr::is_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                i += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if i + 1 == chars.len() {
                    i += 1;
                    continue;
                }
                word.push(ch);
                i += 1;
                ch = chars[i];
            }
            word.push(ch);
            i += 1;
            continue;
        }
        // Inside quotes: only `'` quotes make the escape plain.
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if i + 1 == chars.len() {
                phase = Phase::Word;
                i += 1;
                continue;
            }
            i += 1;
            word.push(ch);
            ch = chars[i];
        }
        word.push(ch);
        i += 1;
    }
    words
}

/// ENV and LABEL: `name=value ...`, or the legacy `name value` form.
/// Each pair becomes three nodes: name, value, and the separator used.
fn name_val(rest: &str, key: &str, escape: char) -> Args {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok((Vec::new(), false));
    };
    if !first.contains('=') {
        let parts = gostr::split_ws(rest, 2);
        if parts.len() < 2 {
            return Err(format!("{key} must have two arguments"));
        }
        return Ok((vec![leaf(parts[0]), leaf(parts[1]), leaf("")], false));
    }
    let mut nodes = Vec::new();
    for word in &words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                gostr::quote(word)
            ));
        };
        nodes.extend([leaf(name), leaf(value), leaf("=")]);
    }
    Ok((nodes, false))
}

/// ARG: each word as written (`name`, `name=`, `name=value`).
fn name_or_name_val(rest: &str, escape: char) -> Args {
    let words = parse_words(rest, escape);
    Ok((words.into_iter().map(leaf).collect(), false))
}

fn whitespace_delimited(rest: &str) -> Vec<Node> {
    if rest.is_empty() {
        return Vec::new();
    }
    gostr::split_ws(rest, -1).into_iter().map(leaf).collect()
}

fn string_arg(rest: &str) -> Vec<Node> {
    if rest.is_empty() {
        return Vec::new();
    }
    vec![leaf(rest)]
}

const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// The exec form: `Some` when `rest` is a JSON array of strings.
fn parse_json(rest: &str) -> Result<Option<Vec<Node>>, String> {
    let rest = rest.trim_start_matches(gostr::is_space);
    if !rest.starts_with('[') {
        return Ok(None);
    }
    match json::parse_string_array(rest) {
        Ok(items) => Ok(Some(items.into_iter().map(leaf).collect())),
        Err(json::JsonError::NotStringArray) => Err(NOT_STRING_ARRAY.to_string()),
        Err(json::JsonError::Invalid) => Ok(None),
    }
}

/// RUN, CMD, ENTRYPOINT, SHELL: JSON form, else the whole text as one.
fn maybe_json(rest: &str) -> Args {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(nodes) => (nodes, true),
        None => (vec![leaf(rest)], false),
    })
}

/// ADD, COPY, VOLUME: JSON form, else blank-separated words.
fn maybe_json_to_list(rest: &str) -> Args {
    Ok(match parse_json(rest)? {
        Some(nodes) => (nodes, true),
        None => (whitespace_delimited(rest), false),
    })
}

/// HEALTHCHECK: a type word (`CMD`, `NONE`, ...) then a maybe-JSON
/// command. Scans bytes as BuildKit does.
fn health_config(rest: &str) -> Args {
    let b = rest.as_bytes();
    let sep = b
        .iter()
        .position(|&c| gostr::is_space_byte(c))
        .unwrap_or(b.len());
    let next = b[sep..]
        .iter()
        .position(|&c| !gostr::is_space_byte(c))
        .map_or(b.len(), |i| sep + i);
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let typ = String::from_utf8_lossy(&b[..sep]).into_owned();
    let cmd = String::from_utf8_lossy(&b[next..]).into_owned();
    let (mut nodes, json) = maybe_json(&cmd)?;
    nodes.insert(0, leaf(typ));
    Ok((nodes, json))
}

/// ONBUILD: the rest is an instruction of its own, nested as the single
/// child of the single argument.
fn sub_command(rest: &str, d: &Directives) -> Args {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    let child = node_from_line(rest, d, Vec::new())?;
    Ok((
        vec![Node {
            children: vec![child],
            ..Node::default()
        }],
        false,
    ))
}

/// The instruction-layer rule for ONBUILD triggers (BuildKit checks it
/// when turning nodes into instructions, not while parsing): chaining
/// ONBUILD and triggering FROM or MAINTAINER are refused.
pub fn check_onbuild_trigger(node: &Node) -> Result<(), ParseError> {
    let Some(trigger) = node.next.first().and_then(|n| n.children.first()) else {
        return Ok(());
    };
    let upper = gostr::trim_space(&trigger.value).to_uppercase();
    let message = match upper.as_str() {
        "ONBUILD" => "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_string(),
        "MAINTAINER" | "FROM" => format!("{upper} isn't allowed as an ONBUILD trigger"),
        _ => return Ok(()),
    };
    Err(ParseError::at(message, node.start_line, node.end_line))
}
