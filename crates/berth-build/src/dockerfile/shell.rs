//! Word expansion with BuildKit's rules (`frontend/dockerfile/shell`).
//!
//! Dockerfile words are not handed to a real shell: BuildKit runs its own
//! small lexer that understands quotes, the escape token and a subset of
//! `${...}` forms. Build results (and cache keys) depend on its exact
//! behaviour, quirks included, so this module follows it step by step.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use super::gostr;

/// Variable lookup used during expansion.
pub trait EnvGetter {
    /// The value of `key`, or `None` when it is unset (set-but-empty is
    /// `Some("")`: `${X-d}` and `${X:-d}` tell them apart).
    fn get(&self, key: &str) -> Option<&str>;
    /// The keys in the order they were given (duplicates kept), for callers
    /// that suggest close names for unmatched variables.
    fn keys(&self) -> Vec<String>;
}

/// An ordered `KEY=VALUE` list where a later entry wins, like BuildKit's
/// `EnvsFromSlice`. An entry without `=` sets the key to the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList {
    map: HashMap<String, String>,
    keys: Vec<String>,
}

impl EnvList {
    /// Builds from `KEY=VALUE` strings.
    pub fn from_slice<S: AsRef<str>>(env: &[S]) -> Self {
        let mut list = EnvList::default();
        for e in env {
            let e = e.as_ref();
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            list.push(k, v);
        }
        list
    }

    /// Builds from key/value pairs.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Self {
        let mut list = EnvList::default();
        for (k, v) in pairs {
            list.push(k.as_ref(), v.as_ref());
        }
        list
    }

    /// Sets `key`, overriding an earlier value.
    pub fn push(&mut self, key: &str, value: &str) {
        self.keys.push(key.to_string());
        self.map.insert(key.to_string(), value.to_string());
    }
}

impl EnvGetter for EnvList {
    fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<String> {
        self.keys.clone()
    }
}

/// A slice of pairs is searched from the end, so the last entry wins.
impl EnvGetter for [(String, String)] {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<String> {
        self.iter().map(|(k, _)| k.clone()).collect()
    }
}

impl EnvGetter for Vec<(String, String)> {
    fn get(&self, key: &str) -> Option<&str> {
        EnvGetter::get(self.as_slice(), key)
    }

    fn keys(&self) -> Vec<String> {
        EnvGetter::keys(self.as_slice())
    }
}

/// An expansion error; `Display` gives BuildKit's full text
/// (`failed to process "WORD": MESSAGE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellError {
    /// The word being expanded.
    pub word: String,
    /// The cause without the `failed to process` wrapper.
    pub message: String,
}

impl fmt::Display for ShellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to process {}: {}",
            go_quote(&self.word),
            self.message
        )
    }
}

impl std::error::Error for ShellError {}

/// What [`Lex::process_word_with_matches`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessWordResult {
    /// The expanded word.
    pub result: String,
    /// The same input split into fields (quotes keep spaces).
    pub words: Vec<String>,
    /// Variables that were looked up and set: they feed the cache key.
    pub matched: BTreeSet<String>,
    /// Variables that were looked up and unset (for lint hints).
    pub unmatched: BTreeSet<String>,
}

/// BuildKit's lexer. The flags mirror the Go fields of the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lex {
    escape_token: char,
    /// Keep quote characters in the output (used for RUN heredoc parsing).
    pub raw_quotes: bool,
    /// Keep escape tokens in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as written (`$X`, `${X:-d}`),
    /// so a later pass with more variables can expand them.
    pub skip_unset_env: bool,
}

impl Lex {
    /// A lexer with the Dockerfile's escape token (`\` or `` ` ``).
    pub fn new(escape_token: char) -> Self {
        Lex {
            escape_token,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// The escape token this lexer was made with.
    pub fn escape_token(&self) -> char {
        self.escape_token
    }

    /// Expands `word` as one word (spaces kept), as for COPY or ENV values.
    pub fn process_word(&self, word: &str, env: &dyn EnvGetter) -> Result<String, ShellError> {
        Ok(self.process(word, env, true)?.result)
    }

    /// Expands `word` and splits it into fields after expansion, as for
    /// EXPOSE or the shell form of some instructions.
    pub fn process_words(
        &self,
        word: &str,
        env: &dyn EnvGetter,
    ) -> Result<Vec<String>, ShellError> {
        Ok(self.process(word, env, false)?.words)
    }

    /// Like [`Lex::process_word`] and also reports which variables were
    /// looked up, so the builder knows which build args a step depends on.
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn EnvGetter,
    ) -> Result<ProcessWordResult, ShellError> {
        self.process(word, env, true)
    }

    fn process(
        &self,
        word: &str,
        env: &dyn EnvGetter,
        capture: bool,
    ) -> Result<ProcessWordResult, ShellError> {
        let chars: Vec<char> = word.chars().collect();
        let mut sw = ShellWord {
            lex: *self,
            // Go's text/scanner skips a byte-order mark at the start.
            pos: usize::from(chars.first() == Some(&'\u{FEFF}')),
            chars,
            env,
            raw_escapes: self.raw_escapes,
            capture,
            words_buf: String::new(),
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        };
        let raw = sw.raw_escapes;
        match sw.process_stop_on(None, raw) {
            Ok((result, words)) => Ok(ProcessWordResult {
                result,
                words,
                matched: sw.matched,
                unmatched: sw.unmatched,
            }),
            Err(message) => Err(ShellError {
                word: word.to_string(),
                message,
            }),
        }
    }
}

/// State of one expansion. `words_buf` is shared by nested
/// `process_stop_on` calls on purpose: BuildKit resets it when it enters
/// `${...}`, which drops a field being built before it (`a${X:-b}` splits
/// to `[b]`), and we keep that behaviour.
struct ShellWord<'a> {
    lex: Lex,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn EnvGetter,
    raw_escapes: bool,
    capture: bool,
    words_buf: String,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

/// Field splitting state; the buffer lives in [`ShellWord`].
#[derive(Default)]
struct Words {
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, buf: &mut String, ch: char) {
        if ch.is_whitespace() && self.in_word {
            if !buf.is_empty() {
                self.words.push(std::mem::take(buf));
                self.in_word = false;
            }
        } else if !ch.is_whitespace() {
            self.add_raw_char(buf, ch);
        }
    }

    fn add_raw_char(&mut self, buf: &mut String, ch: char) {
        buf.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, buf: &mut String, s: &str) {
        for ch in s.chars() {
            self.add_char(buf, ch);
        }
    }

    fn add_raw_string(&mut self, buf: &mut String, s: &str) {
        buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self, buf: &mut String) -> Vec<String> {
        if !buf.is_empty() {
            self.words.push(std::mem::take(buf));
        }
        self.words
    }
}

/// Go prints `string(EOF)` as U+FFFD in its error messages.
fn rune_str(ch: Option<char>) -> char {
    ch.unwrap_or('\u{FFFD}')
}

impl ShellWord<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.pos += 1;
        }
        ch
    }

    /// Reads up to `stop` (consumed) or the end when `stop` is `None`.
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let res = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        res
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        self.words_buf.clear();
        let mut words = Words::default();

        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                let w = words.finish(&mut self.words_buf);
                return Ok((result, w));
            }
            let special = match ch {
                '$' => Some(self.process_dollar()?),
                '<' => Some(self.process_possible_heredoc()),
                '\'' if !self.lex.skip_process_quotes => Some(self.process_single_quote()?),
                '"' if !self.lex.skip_process_quotes => Some(self.process_double_quote()?),
                _ => None,
            };
            if let Some(tmp) = special {
                result.push_str(&tmp);
                if ch == '$' {
                    words.add_string(&mut self.words_buf, &tmp);
                } else {
                    words.add_raw_string(&mut self.words_buf, &tmp);
                }
                continue;
            }
            self.next();
            let mut ch = ch;
            if ch == self.lex.escape_token {
                if self.raw_escapes {
                    words.add_raw_char(&mut self.words_buf, ch);
                    result.push(ch);
                }
                // An escape at the very end is dropped.
                match self.next() {
                    None => break,
                    Some(c) => ch = c,
                }
                words.add_raw_char(&mut self.words_buf, ch);
            } else {
                words.add_char(&mut self.words_buf, ch);
            }
            result.push(ch);
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        let w = words.finish(&mut self.words_buf);
        Ok((result, w))
    }

    fn process_single_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    )
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(ch) => result.push(ch),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    )
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                }
                Some(mut ch) => {
                    self.next();
                    if ch == self.lex.escape_token {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            // The loop then reports the missing quote.
                            None => continue,
                            // Only these are escapable; other escapes stay.
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape_token => {
                                self.next();
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Result<String, String> {
        self.next();

        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }

        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            Some(_) => {}
        }
        let name = self.process_name();
        let first = self.next();
        let mut chs = rune_str(first).to_string();

        match first {
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                let null_is_unset = first == Some(':');
                let mut ch = first;
                if null_is_unset {
                    ch = self.next();
                    chs.push(rune_str(ch));
                }
                let raw_escapes = matches!(ch, Some('#' | '%'));
                if null_is_unset && raw_escapes {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let word = self.stop_on('}', raw_escapes, "syntax error: missing '}'")?;

                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();

                match ch {
                    Some('-') => {
                        if !set || (null_is_unset && value.is_empty()) {
                            Ok(word)
                        } else {
                            Ok(value)
                        }
                    }
                    Some('+') => {
                        if !set || (null_is_unset && value.is_empty()) {
                            Ok(String::new())
                        } else {
                            Ok(word)
                        }
                    }
                    Some('?') => {
                        if !set {
                            let msg = if word.is_empty() {
                                "is not allowed to be unset"
                            } else {
                                &word
                            };
                            return Err(format!("{name}: {msg}"));
                        }
                        if null_is_unset && value.is_empty() {
                            let msg = if word.is_empty() {
                                "is not allowed to be empty"
                            } else {
                                &word
                            };
                            return Err(format!("{name}: {msg}"));
                        }
                        Ok(value)
                    }
                    Some(c @ ('%' | '#')) => {
                        // One `%`/`#` takes the shortest match, two the longest.
                        let (greedy, pat) = match word.strip_prefix(c) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        if c == '%' {
                            trim_suffix(pat, &value, greedy)
                        } else {
                            trim_prefix(pat, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let pattern = self.stop_on('/', true, "syntax error: missing '/' in ${}")?;
                let replacement = self.stop_on('}', true, "syntax error: missing '}'")?;

                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                }
                let value = value.unwrap_or_default();
                let pat = Pattern::compile(&pattern, true)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                let text: Vec<char> = value.chars().collect();
                if replace_all {
                    Ok(pat.replace_all(&text, &replacement))
                } else if let Some((a, b)) = pat.find(&text, 0, false) {
                    let mut out: String = text[..a].iter().collect();
                    out.push_str(&replacement);
                    out.extend(&text[b..]);
                    Ok(out)
                } else {
                    Ok(value)
                }
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    /// The text up to `stop` inside `${...}`; running out of input gives
    /// `at_eof` instead of the generic missing-match error.
    fn stop_on(&mut self, stop: char, raw_escapes: bool, at_eof: &str) -> Result<String, String> {
        match self.process_stop_on(Some(stop), raw_escapes) {
            Ok((w, _)) => Ok(w),
            Err(_) if self.peek().is_none() => Err(at_eof.to_string()),
            Err(e) => Err(e),
        }
    }

    /// A variable name: letters, digits and `_`; or a run of digits
    /// (positional); or one special parameter character.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && gostr::is_digit(ch) {
                while let Some(d) = self.peek().filter(|c| gostr::is_digit(*c)) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.next();
                return ch.to_string();
            }
            if !gostr::is_letter(ch) && !gostr::is_digit(ch) && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    /// `<<` stays glued to what follows (spaces included) so a heredoc
    /// marker is one field.
    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut out = "<<".to_string();
        while let Some(c) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            out.push(c);
            self.next();
        }
        out
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        let found = self.env.get(name).map(str::to_string);
        if self.capture {
            if found.is_some() {
                self.matched.insert(name.to_string());
            } else {
                self.unmatched.insert(name.to_string());
            }
        }
        found
    }
}

fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

/// One element of a shell pattern as BuildKit turns it into a regexp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character (not a newline, like regexp `.`).
    Any,
    /// `*`: any run of characters without a newline.
    Star,
}

/// A compiled shell pattern. BuildKit compiles `*`/`?` to a Go regexp and
/// uses leftmost-first matching; a small backtracking matcher that tries
/// alternatives in the same priority order gives identical matches.
#[derive(Debug, Clone)]
struct Pattern {
    toks: Vec<Tok>,
    greedy: bool,
}

impl Pattern {
    fn compile(pattern: &str, greedy: bool) -> Result<Pattern, String> {
        let mut toks = Vec::new();
        let pattern = pattern.strip_prefix('\u{FEFF}').unwrap_or(pattern);
        let mut it = pattern.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::Any),
                '\\' => {
                    // `\}` and `\/` only protect the `${}` syntax.
                    if matches!(it.peek(), Some('}' | '/')) {
                        continue;
                    }
                    match it.next() {
                        Some(e @ ('*' | '?' | '\\')) => toks.push(Tok::Lit(e)),
                        other => return Err(format!("invalid escape '\\{}'", rune_str(other))),
                    }
                }
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Pattern { toks, greedy })
    }

    /// The first match at or after `start` (only at `start` if anchored),
    /// as char indices.
    fn find(&self, text: &[char], start: usize, anchored: bool) -> Option<(usize, usize)> {
        let mut failed = self.memo(text);
        self.find_with(text, start, anchored, &mut failed)
    }

    /// A table of (token, position) pairs known not to match; whether the
    /// rest of the pattern matches from a position does not depend on
    /// where the match started, so it is shared by every search in `text`.
    fn memo(&self, text: &[char]) -> Vec<bool> {
        vec![false; (self.toks.len() + 1) * (text.len() + 1)]
    }

    fn find_with(
        &self,
        text: &[char],
        start: usize,
        anchored: bool,
        failed: &mut [bool],
    ) -> Option<(usize, usize)> {
        let last = if anchored { start } else { text.len() };
        for s in start..=last.min(text.len()) {
            if let Some(end) = self.match_at(text, 0, s, failed) {
                return Some((s, end));
            }
        }
        None
    }

    fn match_at(&self, text: &[char], pi: usize, ti: usize, failed: &mut [bool]) -> Option<usize> {
        let Some(tok) = self.toks.get(pi) else {
            return Some(ti);
        };
        let key = pi * (text.len() + 1) + ti;
        if failed[key] {
            return None;
        }
        let r = match *tok {
            Tok::Lit(c) => match text.get(ti) {
                Some(&t) if t == c => self.match_at(text, pi + 1, ti + 1, failed),
                _ => None,
            },
            Tok::Any => match text.get(ti) {
                Some(&t) if t != '\n' => self.match_at(text, pi + 1, ti + 1, failed),
                _ => None,
            },
            Tok::Star => {
                let run = text[ti..].iter().take_while(|c| **c != '\n').count();
                if self.greedy {
                    (ti..=ti + run)
                        .rev()
                        .find_map(|j| self.match_at(text, pi + 1, j, failed))
                } else {
                    (ti..=ti + run).find_map(|j| self.match_at(text, pi + 1, j, failed))
                }
            }
        };
        if r.is_none() {
            failed[key] = true;
        }
        r
    }

    /// Go's `Regexp.ReplaceAllString`: empty matches right after a match
    /// are skipped and `$` in the replacement is a template reference.
    fn replace_all(&self, text: &[char], repl: &str) -> String {
        let mut out = String::new();
        let mut last_end = 0;
        let mut search = 0;
        let mut failed = self.memo(text);
        while search <= text.len() {
            let Some((a, b)) = self.find_with(text, search, false, &mut failed) else {
                break;
            };
            out.extend(&text[last_end..a]);
            if b > last_end || a == 0 {
                let matched: String = text[a..b].iter().collect();
                expand_template(&mut out, repl, &matched);
            }
            last_end = b;
            if search + 1 > b {
                search += 1;
            } else {
                search = b;
            }
        }
        out.extend(&text[last_end..]);
        out
    }
}

/// Go's `Regexp.Expand` for a regexp without groups: `$$` is `$`, `$0` or
/// `${0}` is the match, any other well-formed reference is empty and a
/// malformed one stays literal.
fn expand_template(out: &mut String, template: &str, matched: &str) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let len: usize = body
            .chars()
            .take_while(|c| gostr::is_letter(*c) || gostr::is_digit(*c) || *c == '_')
            .map(char::len_utf8)
            .sum();
        if len == 0 || (brace && !body[len..].starts_with('}')) {
            out.push('$');
            continue;
        }
        let name = &body[..len];
        rest = &body[len + usize::from(brace)..];
        if name == "0" {
            out.push_str(matched);
        }
    }
    out.push_str(rest);
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let pat = Pattern::compile(pattern, greedy)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    let text: Vec<char> = value.chars().collect();
    Ok(match pat.find(&text, 0, true) {
        Some((_, end)) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// Suffix trimming reverses pattern and value so the shortest rightmost
/// match becomes a leftmost one, as BuildKit does.
fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let pattern = reverse_pattern(pattern);
    let value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&pattern, &value, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern but keeps each `\x` escape pair in order.
fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; p.len()];
    let last = p.len().wrapping_sub(1);
    let mut i = 0;
    while i < p.len() {
        let o = last - i;
        if p[i] == '\\' && i != last {
            out[o - 1] = '\\';
            out[o] = p[i + 1];
            i += 2;
        } else {
            out[o] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// Go's `%q` (strconv.Quote), as BuildKit's messages print words.
pub(crate) fn go_quote(s: &str) -> String {
    super::gostr::quote(s)
}

#[cfg(test)]
mod tests;
