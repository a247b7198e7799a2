//! `.dockerignore` files and the pattern matcher Docker applies to them.
//!
//! The rules follow moby/patternmatcher (what the docker CLI, BuildKit and
//! fsutil all use), so a context excludes exactly what `docker build` would:
//! patterns are cleaned like Go's `filepath.Clean`, `!` marks an exception,
//! the last matching pattern wins, and a pattern that matches a directory
//! also matches everything below it.

use std::path::{Path, PathBuf};

/// An error from reading or compiling ignore patterns. The messages are
/// Docker's, so scripts that grep for them keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A line holding only `!`.
    #[error("illegal exclusion pattern: \"!\"")]
    BareExclamation,
    /// Go's `filepath.ErrBadPattern`.
    #[error("syntax error in pattern")]
    BadPattern,
}

/// Splits the text of a `.dockerignore` into patterns, as
/// `patternmatcher/ignorefile.ReadAll` does: a UTF-8 BOM is dropped, lines
/// starting with `#` are comments (checked before trimming, so ` #x` is a
/// pattern), blank lines are skipped, each pattern is trimmed and cleaned and
/// loses a leading `/`; a leading `!` survives the cleaning.
pub fn parse_dockerignore(text: &[u8]) -> Vec<String> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut out = Vec::new();
    for raw in text.split(|b| *b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push(cleaned);
    }
    out
}

/// Lexical path cleaning with Go's `path.Clean` rules (slash separated):
/// repeated slashes collapse, `.` goes, `..` eats the previous element, `..`
/// at the root is dropped, and the empty path becomes `.`.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `path.Dir` for slash-separated relative paths.
fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// Where to read ignore patterns from: `<Dockerfile>.dockerignore` next to
/// the Dockerfile wins over the context's `.dockerignore`, as BuildKit's
/// dockerui frontend does (the full Dockerfile name plus `.dockerignore`,
/// so `Dockerfile.dockerignore` counts too). `None` when neither exists.
pub fn dockerignore_path(context_dir: &Path, dockerfile: &Path) -> Option<PathBuf> {
    let mut specific = dockerfile.as_os_str().to_os_string();
    specific.push(".dockerignore");
    let specific = PathBuf::from(specific);
    if specific.is_file() {
        return Some(specific);
    }
    let general = context_dir.join(".dockerignore");
    general.is_file().then_some(general)
}

/// One regex atom of a compiled pattern (patternmatcher turns patterns into
/// Go regexps; these are the only constructs it ever emits).
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `*`: any run of non-`/` characters.
    Star,
    /// `?`: one non-`/` character.
    One,
    /// `**/` or inner `**`: `(.*/)?`.
    DirPrefix,
    /// Trailing `**` after other wildcards: `.*`.
    Rest,
    /// `[...]`, with Go regexp class semantics.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Compiled {
    Exact,
    Prefix(String),
    Suffix(String),
    Regex(Vec<Tok>),
    /// Passed `filepath.Match` validation but not regexp compilation (for
    /// instance a backwards range); every match attempt fails, as in Go.
    Bad,
}

/// One line of a `.dockerignore`, compiled.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    compiled: Compiled,
}

impl Pattern {
    /// The cleaned pattern without its `!`.
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    /// Whether this is a `!` exception.
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    fn matches(&self, path: &str) -> Result<bool, PatternError> {
        match &self.compiled {
            Compiled::Exact => Ok(path == self.cleaned),
            Compiled::Prefix(p) => Ok(path.starts_with(p.as_str())),
            Compiled::Suffix(s) => {
                Ok(path.ends_with(s.as_str())
                    || s.strip_prefix('/').is_some_and(|rest| path == rest))
            }
            Compiled::Regex(toks) => {
                // The match is anchored at both ends, so literal tokens at
                // either end must be there: a cheap test that rules out
                // most paths before the backtracking matcher allocates.
                let lit = |t: &Tok| match t {
                    Tok::Lit(c) => Some(*c),
                    _ => None,
                };
                let head = toks.iter().map_while(lit);
                let tail = toks.iter().rev().map_while(lit);
                if head.zip(path.chars()).any(|(a, b)| a != b)
                    || tail.zip(path.chars().rev()).any(|(a, b)| a != b)
                {
                    return Ok(false);
                }
                let chars: Vec<char> = path.chars().collect();
                Ok(regex_match(toks, &chars))
            }
            Compiled::Bad => Err(PatternError::BadPattern),
        }
    }

    /// The pattern with a trailing `/**` or `/*` removed; fsutil uses this to
    /// decide whether an exception could apply below an excluded directory.
    fn without_trailing_glob(&self) -> &str {
        let p = self.cleaned.as_str();
        let p = p.strip_suffix("/**").unwrap_or(p);
        p.strip_suffix("/*").unwrap_or(p)
    }
}

/// Picks patternmatcher's match kind for a cleaned pattern: plain strings
/// compare exactly, `x/**` is a prefix test, a leading `**` a suffix test,
/// anything else a regexp (here: a token list).
fn compile(pattern: &str) -> Compiled {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut kind = Kind::Exact;
    let mut i = 0;
    let mut iteration = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        toks.push(Tok::Rest);
                        kind = Kind::Regex;
                    }
                } else {
                    toks.push(Tok::DirPrefix);
                    kind = Kind::Regex;
                }
                if iteration == 0 {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                kind = Kind::Regex;
            }
            '?' => {
                toks.push(Tok::One);
                kind = Kind::Regex;
            }
            '\\' => {
                if let Some(&next) = chars.get(i) {
                    i += 1;
                    toks.push(Tok::Lit(next));
                    kind = Kind::Regex;
                } else {
                    // A trailing backslash is not a valid regexp.
                    return Compiled::Bad;
                }
            }
            '[' => {
                kind = Kind::Regex;
                match parse_class(&chars, &mut i) {
                    Some(tok) => toks.push(tok),
                    None => return Compiled::Bad,
                }
            }
            c => toks.push(Tok::Lit(c)),
        }
        iteration += 1;
    }
    match kind {
        Kind::Exact => Compiled::Exact,
        Kind::Prefix => Compiled::Prefix(pattern[..pattern.len() - 2].to_string()),
        Kind::Suffix => Compiled::Suffix(pattern[2..].to_string()),
        Kind::Regex => Compiled::Regex(toks),
    }
}

/// Parses a class body after `[` up to and including `]`. `None` when the
/// class would not compile as a Go regexp (unterminated, backwards range).
fn parse_class(chars: &[char], i: &mut usize) -> Option<Tok> {
    let mut negated = false;
    if chars.get(*i) == Some(&'^') {
        negated = true;
        *i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(*i)?;
        *i += 1;
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = if c == '\\' {
            let e = *chars.get(*i)?;
            *i += 1;
            e
        } else {
            c
        };
        let mut hi = lo;
        if chars.get(*i) == Some(&'-') && chars.get(*i + 1).is_some_and(|c| *c != ']') {
            *i += 1;
            let c = *chars.get(*i)?;
            *i += 1;
            hi = if c == '\\' {
                let e = *chars.get(*i)?;
                *i += 1;
                e
            } else {
                c
            };
            if hi < lo {
                return None;
            }
        }
        ranges.push((lo, hi));
    }
    Some(Tok::Class { negated, ranges })
}

/// Anchored match of `toks` against the whole of `s` (backtracking with a
/// visited set, so it stays polynomial).
fn regex_match(toks: &[Tok], s: &[char]) -> bool {
    let mut failed = vec![false; (toks.len() + 1) * (s.len() + 1)];
    regex_at(toks, s, 0, 0, &mut failed)
}

fn regex_at(toks: &[Tok], s: &[char], t: usize, p: usize, failed: &mut [bool]) -> bool {
    let slot = t * (s.len() + 1) + p;
    if failed[slot] {
        return false;
    }
    let ok = match toks.get(t) {
        None => p == s.len(),
        Some(Tok::Lit(c)) => s.get(p) == Some(c) && regex_at(toks, s, t + 1, p + 1, failed),
        Some(Tok::One) => {
            s.get(p).is_some_and(|c| *c != '/') && regex_at(toks, s, t + 1, p + 1, failed)
        }
        Some(Tok::Class { negated, ranges }) => {
            s.get(p)
                .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                && regex_at(toks, s, t + 1, p + 1, failed)
        }
        Some(Tok::Star) => {
            let mut q = p;
            loop {
                if regex_at(toks, s, t + 1, q, failed) {
                    break true;
                }
                if q < s.len() && s[q] != '/' {
                    q += 1;
                } else {
                    break false;
                }
            }
        }
        Some(Tok::Rest) => {
            // Go's `.` does not match a newline.
            let mut q = p;
            loop {
                if regex_at(toks, s, t + 1, q, failed) {
                    break true;
                }
                if q < s.len() && s[q] != '\n' {
                    q += 1;
                } else {
                    break false;
                }
            }
        }
        Some(Tok::DirPrefix) => {
            // Either nothing, or `.*/`.
            regex_at(toks, s, t + 1, p, failed)
                || (p..s.len())
                    .take_while(|q| s[*q] != '\n')
                    .any(|q| s[q] == '/' && regex_at(toks, s, t + 1, q + 1, failed))
        }
    };
    if !ok {
        failed[slot] = true;
    }
    ok
}

/// Go's `filepath.Match` (on Unix): `*` and `?` never match `/`, classes are
/// `[^...]` with `\` escapes, and a malformed pattern is an error even when
/// the name does not match. COPY wildcards use this per BuildKit.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, PatternError> {
    let mut pat = pattern;
    let mut name = name;
    'outer: while !pat.is_empty() {
        let (star, chunk, rest) = scan_chunk(pat);
        pat = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains('/'));
        }
        let (rest_name, ok) = match_chunk(chunk, name)?;
        if ok && (rest_name.is_empty() || !pat.is_empty()) {
            name = rest_name;
            continue;
        }
        if star {
            for (i, c) in name.char_indices() {
                if c == '/' {
                    break;
                }
                let (rest_name, ok) = match_chunk(chunk, &name[i + c.len_utf8()..])?;
                if ok {
                    if pat.is_empty() && !rest_name.is_empty() {
                        continue;
                    }
                    name = rest_name;
                    continue 'outer;
                }
            }
        }
        // Report syntax errors in the rest of the pattern before saying no.
        while !pat.is_empty() {
            let (_, chunk, rest) = scan_chunk(pat);
            pat = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(pattern: &str) -> (bool, &str, &str) {
    let trimmed = pattern.trim_start_matches('*');
    let star = trimmed.len() != pattern.len();
    let bytes = trimmed.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &trimmed[..i], &trimmed[i..])
}

/// Matches one star-free chunk at the start of `s`; keeps parsing after a
/// mismatch so syntax errors are always reported.
fn match_chunk<'a>(chunk: &str, s: &'a str) -> Result<(&'a str, bool), PatternError> {
    let mut failed = false;
    let mut chunk = chunk;
    let mut s = s;
    while let Some(c0) = chunk.chars().next() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c0 {
            '[' => {
                let mut r = '\0';
                if !failed {
                    if let Some(c) = s.chars().next() {
                        r = c;
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.starts_with(']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(rest) = chunk.strip_prefix('-') {
                        let (h, rest) = get_esc(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    if let Some(c) = s.chars().next() {
                        if c == '/' {
                            failed = true;
                        }
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[1..];
            }
            _ => {
                let mut lit = c0;
                if c0 == '\\' {
                    chunk = &chunk[1..];
                    lit = chunk.chars().next().ok_or(PatternError::BadPattern)?;
                }
                if !failed {
                    match s.chars().next() {
                        Some(c) if c == lit => s = &s[c.len_utf8()..],
                        _ => failed = true,
                    }
                }
                chunk = &chunk[lit.len_utf8()..];
            }
        }
    }
    if failed {
        return Ok(("", false));
    }
    Ok((s, true))
}

fn get_esc(chunk: &str) -> Result<(char, &str), PatternError> {
    let mut chunk = chunk;
    if chunk.is_empty() || chunk.starts_with('-') || chunk.starts_with(']') {
        return Err(PatternError::BadPattern);
    }
    if let Some(rest) = chunk.strip_prefix('\\') {
        chunk = rest;
    }
    let c = chunk.chars().next().ok_or(PatternError::BadPattern)?;
    let rest = &chunk[c.len_utf8()..];
    if rest.is_empty() {
        return Err(PatternError::BadPattern);
    }
    Ok((c, rest))
}

/// Per-pattern results for a directory, handed to its children so that a
/// pattern matching the directory also covers them (patternmatcher's
/// `MatchInfo`).
#[derive(Debug, Clone, Default)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// A compiled list of ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl PatternMatcher {
    /// Compiles patterns as `patternmatcher.New` does: trims, drops blanks,
    /// cleans, splits off `!`, and validates with `filepath.Match` syntax.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut out = PatternMatcher::default();
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err(PatternError::BareExclamation);
                }
                p.remove(0);
                out.exclusions = true;
            }
            glob_match(&p, ".")?;
            let compiled = compile(&p);
            out.patterns.push(Pattern {
                cleaned: p,
                exclusion,
                compiled,
            });
        }
        Ok(out)
    }

    /// The compiled patterns in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is a `!` exception.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// Whether there are no patterns at all (nothing is ever excluded).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `file` (slash separated, relative to the context) is excluded:
    /// the last pattern matching it or one of its parent directories wins.
    pub fn matches_or_parent_matches(&self, file: &str) -> Result<bool, PatternError> {
        let mut matched = false;
        let parent = parent_of(file);
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let mut hit = pattern.matches(file)?;
            if !hit && parent != "." {
                let mut end = 0;
                for part in parent.split('/') {
                    end += part.len();
                    if pattern.matches(&parent[..end]).unwrap_or(false) {
                        hit = true;
                        break;
                    }
                    end += 1;
                }
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        Ok(matched)
    }

    /// Same answer as [`Self::matches_or_parent_matches`], but reuses the
    /// parent directory's per-pattern results so a tree walk does not
    /// re-test every ancestor (`MatchesUsingParentResults`). Pass
    /// `MatchInfo::default()` when the parent was not visited.
    pub fn matches_using_parent_results(
        &self,
        file: &str,
        parent: &MatchInfo,
    ) -> Result<(bool, MatchInfo), PatternError> {
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        let matched = self.match_with_parent(file, parent, Some(&mut info.parent_matched))?;
        Ok((matched, info))
    }

    /// [`Self::matches_using_parent_results`] without the results for
    /// children: a walk needs those only for directories.
    pub fn excluded_using_parent_results(
        &self,
        file: &str,
        parent: &MatchInfo,
    ) -> Result<bool, PatternError> {
        self.match_with_parent(file, parent, None)
    }

    fn match_with_parent(
        &self,
        file: &str,
        parent: &MatchInfo,
        mut info: Option<&mut Vec<bool>>,
    ) -> Result<bool, PatternError> {
        let have_parent = !parent.parent_matched.is_empty();
        let mut matched = false;
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut hit = have_parent && parent.parent_matched.get(i).copied().unwrap_or(false);
            if !hit {
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(file)?;
                if !hit && !have_parent {
                    let dir = parent_of(file);
                    if dir != "." {
                        let mut end = 0;
                        for part in dir.split('/') {
                            end += part.len();
                            if pattern.matches(&dir[..end]).unwrap_or(false) {
                                hit = true;
                                break;
                            }
                            end += 1;
                        }
                    }
                }
            }
            if let Some(slot) = info.as_deref_mut().and_then(|v| v.get_mut(i)) {
                *slot = hit;
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        Ok(matched)
    }

    /// For an excluded directory: whether the walk may skip it entirely.
    /// Mirrors fsutil: skip unless some exception could match inside it;
    /// when an exception uses wildcards (beyond a trailing `/*`, `/**`)
    /// nothing can be ruled out, so the directory is walked.
    pub fn can_skip_excluded_dir(&self, dir: &str) -> bool {
        if !self.exclusions {
            return true;
        }
        let dir_slash = format!("{dir}/");
        for p in self.patterns.iter().filter(|p| p.exclusion) {
            let stem = p.without_trailing_glob();
            if stem.contains(['*', '[', ']', '?', '^', '\\']) {
                return false;
            }
            if format!("{stem}/").starts_with(&dir_slash) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &[&str], path: &str) -> bool {
        let pm = PatternMatcher::new(patterns).unwrap();
        let direct = pm.matches_or_parent_matches(path).unwrap();
        // The walk flavour must agree, both with and without parent info.
        let (no_ctx, _) = pm
            .matches_using_parent_results(path, &MatchInfo::default())
            .unwrap();
        assert_eq!(direct, no_ctx, "no-context mismatch {patterns:?} {path}");
        let mut info = MatchInfo::default();
        let dir = parent_of(path);
        if dir != "." {
            let mut end = 0;
            for part in dir.split('/') {
                end += part.len();
                info = pm
                    .matches_using_parent_results(&dir[..end], &info)
                    .unwrap()
                    .1;
                end += 1;
            }
        }
        let (walked, _) = pm.matches_using_parent_results(path, &info).unwrap();
        assert_eq!(direct, walked, "walk mismatch {patterns:?} {path}");
        direct
    }

    /// (pattern, path, excluded?) — the single-pattern table from
    /// patternmatcher's tests, restated.
    const SINGLE: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "/", true),
        ("**/", "/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\*b", "a*b", true),
    ];

    #[test]
    fn single_pattern_table() {
        for (pattern, path, want) in SINGLE {
            assert_eq!(excluded(&[pattern], path), *want, "{pattern:?} vs {path:?}");
        }
    }

    #[test]
    fn multi_pattern_table() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (
                &[
                    "**",
                    "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                ],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
            (
                &["**", "!dist/*.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
            (&["*"], "fileutils.go", true),
            (&["*.go"], "fileutils.go", true),
            (&["!fileutils.go", "*.go"], "fileutils.go", true),
            (&["docs", "!docs/README.md"], "docs/README.md", false),
            (&["docs/", "!docs/README.md"], "docs/README.md", false),
            (&["docs/*", "!docs/README.md"], "docs/README.md", false),
            (&["*.go", "!fileutils.go"], "fileutils.go", false),
            (&[], "any/path/there", false),
        ];
        for (patterns, path, want) in cases {
            assert_eq!(excluded(patterns, path), *want, "{patterns:?} vs {path:?}");
        }
    }

    /// Go's own `filepath.Match` table as patternmatcher re-runs it:
    /// (pattern, name, matches, syntax error).
    const GLOB: &[(&str, &str, bool, bool)] = &[
        ("abc", "abc", true, false),
        ("*", "abc", true, false),
        ("*c", "abc", true, false),
        ("a*", "a", true, false),
        ("a*", "abc", true, false),
        ("a*", "ab/c", true, false),
        ("a*/b", "abc/b", true, false),
        ("a*/b", "a/c/b", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true, false),
        ("a*b?c*x", "abxbbxdbxebxczzy", false, false),
        ("ab[c]", "abc", true, false),
        ("ab[b-d]", "abc", true, false),
        ("ab[e-g]", "abc", false, false),
        ("ab[^c]", "abc", false, false),
        ("ab[^b-d]", "abc", false, false),
        ("ab[^e-g]", "abc", true, false),
        ("a\\*b", "a*b", true, false),
        ("a\\*b", "ab", false, false),
        ("a?b", "a☺b", true, false),
        ("a[^a]b", "a☺b", true, false),
        ("a???b", "a☺b", false, false),
        ("a[^a][^a][^a]b", "a☺b", false, false),
        ("[a-ζ]*", "α", true, false),
        ("*[a-ζ]", "A", false, false),
        ("a?b", "a/b", false, false),
        ("a*b", "a/b", false, false),
        ("[\\]a]", "]", true, false),
        ("[\\-]", "-", true, false),
        ("[x\\-]", "x", true, false),
        ("[x\\-]", "-", true, false),
        ("[x\\-]", "z", false, false),
        ("[\\-x]", "x", true, false),
        ("[\\-x]", "-", true, false),
        ("[\\-x]", "a", false, false),
        ("[]a]", "]", false, true),
        ("[-]", "-", false, true),
        ("[x-]", "x", false, true),
        ("[x-]", "-", false, true),
        ("[x-]", "z", false, true),
        ("[-x]", "x", false, true),
        ("[-x]", "-", false, true),
        ("[-x]", "a", false, true),
        ("\\", "a", false, true),
        ("[a-b-c]", "a", false, true),
        ("[", "a", false, true),
        ("[^", "a", false, true),
        ("[^bc", "a", false, true),
        ("a[", "a", false, true),
        ("a[", "ab", false, true),
        ("*x", "xxx", true, false),
    ];

    #[test]
    fn glob_table_through_the_matcher() {
        for (pattern, name, want, bad) in GLOB {
            match PatternMatcher::new(&[pattern]) {
                Err(e) => {
                    assert!(bad, "unexpected error for {pattern:?}: {e}");
                    assert_eq!(e, PatternError::BadPattern);
                }
                Ok(pm) => {
                    assert!(!bad, "{pattern:?} should be rejected");
                    let got = pm.matches_or_parent_matches(name).unwrap();
                    assert_eq!(got, *want, "{pattern:?} vs {name:?}");
                }
            }
        }
    }

    #[test]
    fn glob_table_through_filepath_match() {
        for (pattern, name, want, bad) in GLOB {
            let got = glob_match(pattern, name);
            if *bad {
                assert_eq!(got, Err(PatternError::BadPattern), "{pattern:?}");
            } else {
                // filepath.Match itself never crosses '/', unlike the
                // parent-dir rule of the matcher.
                let expect = *want && !(*pattern == "a*" && *name == "ab/c");
                assert_eq!(got, Ok(expect), "{pattern:?} vs {name:?}");
            }
        }
    }

    #[test]
    fn pattern_kinds_follow_patternmatcher() {
        let kind = |p: &str| compile(&clean(p));
        assert_eq!(kind("**"), Compiled::Suffix(String::new()));
        assert_eq!(kind("dir/**"), Compiled::Prefix("dir/".into()));
        assert_eq!(kind("**/dir"), Compiled::Suffix("/dir".into()));
        assert_eq!(kind("**file"), Compiled::Suffix("file".into()));
        assert_eq!(kind("abc.def"), Compiled::Exact);
        assert_eq!(kind("a(b)c/def"), Compiled::Exact);
        assert!(matches!(kind("**/**"), Compiled::Regex(_)));
        assert!(matches!(kind("a*/b"), Compiled::Regex(_)));
        // `**file` is a plain suffix test, so it also hits `barfile`.
        assert!(excluded(&["**file"], "barfile"));
    }

    #[test]
    fn errors_use_dockers_wording() {
        let err = PatternMatcher::new(&["!"]).unwrap_err();
        assert_eq!(err.to_string(), "illegal exclusion pattern: \"!\"");
        let err = PatternMatcher::new(&["["]).unwrap_err();
        assert_eq!(err.to_string(), "syntax error in pattern");
        // A backwards range passes validation, then fails every match.
        let pm = PatternMatcher::new(&["[Local-Only]/"]).unwrap();
        assert_eq!(
            pm.matches_or_parent_matches("x"),
            Err(PatternError::BadPattern)
        );
        assert_eq!(
            pm.matches_or_parent_matches("x"),
            Err(PatternError::BadPattern)
        );
    }

    #[test]
    fn matcher_trims_and_counts_patterns() {
        let pm = PatternMatcher::new(&["docs", "config", ""]).unwrap();
        assert_eq!(pm.patterns().len(), 2);
        assert!(!pm.has_exclusions());
        let pm = PatternMatcher::new(&["docs", "  !docs/README.md"]).unwrap();
        assert!(pm.has_exclusions());
        let pm = PatternMatcher::new(&["docs", "!docs/README.md  "]).unwrap();
        assert!(pm.has_exclusions());
        assert_eq!(pm.patterns()[1].as_str(), "docs/README.md");
    }

    #[test]
    fn dockerignore_lines() {
        let text = "\u{feff}test1\n/test2\r\n/a/file/here\n\nlastfile\n# a comment\n \
                    # not a comment\n! /inverted/abs/path\n!\n! \nx/../y/./z//\n";
        assert_eq!(
            parse_dockerignore(text.as_bytes()),
            vec![
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "# not a comment",
                "!inverted/abs/path",
                "!",
                "!",
                "y/z",
            ]
        );
        assert!(parse_dockerignore(b"").is_empty());
        // A bare `!` is accepted by the reader and refused by the matcher.
        let pats = parse_dockerignore(b"!\n");
        assert_eq!(
            PatternMatcher::new(&pats).unwrap_err(),
            PatternError::BareExclamation
        );
        // Only `/` survives as itself.
        assert_eq!(parse_dockerignore(b"/\n"), vec!["/"]);
    }

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("", "."),
            ("a//b", "a/b"),
            ("./a/./b/", "a/b"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("/", "/"),
            ("a/b/../../c", "c"),
            ("../../x", "../../x"),
        ] {
            assert_eq!(clean(input), want, "{input:?}");
        }
    }

    #[test]
    fn excluded_dir_skipping() {
        let pm = PatternMatcher::new(&["node_modules", "build"]).unwrap();
        assert!(pm.can_skip_excluded_dir("build"));
        let pm = PatternMatcher::new(&["build", "!build/keep"]).unwrap();
        assert!(!pm.can_skip_excluded_dir("build"));
        assert!(pm.can_skip_excluded_dir("other"));
        let pm = PatternMatcher::new(&["build", "!**/*.keep"]).unwrap();
        assert!(!pm.can_skip_excluded_dir("other"));
    }

    #[test]
    fn dockerfile_specific_ignore_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path();
        std::fs::create_dir(ctx.join("sub")).unwrap();
        let df = ctx.join("sub/app.Dockerfile");
        std::fs::write(&df, "FROM scratch\n").unwrap();
        assert_eq!(dockerignore_path(ctx, &df), None);
        std::fs::write(ctx.join(".dockerignore"), "a\n").unwrap();
        assert_eq!(dockerignore_path(ctx, &df), Some(ctx.join(".dockerignore")));
        std::fs::write(ctx.join("sub/app.Dockerfile.dockerignore"), "b\n").unwrap();
        assert_eq!(
            dockerignore_path(ctx, &df),
            Some(ctx.join("sub/app.Dockerfile.dockerignore"))
        );
        let plain = ctx.join("Dockerfile");
        std::fs::write(ctx.join("Dockerfile.dockerignore"), "c\n").unwrap();
        assert_eq!(
            dockerignore_path(ctx, &plain),
            Some(ctx.join("Dockerfile.dockerignore"))
        );
    }
}
