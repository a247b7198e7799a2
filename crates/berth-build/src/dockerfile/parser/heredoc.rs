//! Finding heredoc words (`<<EOF`, `3<<-"EOF"`) in an instruction line.
//!
//! BuildKit splits the line with its shell lexer (no variables set, unset
//! ones left as written) and then looks at each word, so quoting and
//! escapes decide what counts. This is just enough of that lexer, with its
//! quirks, for heredoc detection; it is not the word expander.

use crate::dockerfile::ast::Heredoc;
use crate::dockerfile::gostr;

/// Heredocs announced on `line`, in order, contents still empty.
pub fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, String> {
    let mut lex = Lexer::new(line, true, true);
    // As in BuildKit, a line the lexer rejects simply has no heredocs.
    let words = lex.words().unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(doc) = parse_heredoc(&word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// One word as a heredoc marker: `None` when it is not one, an error when
/// its delimiter does not lex (an unterminated quote).
pub fn parse_heredoc(src: &str) -> Result<Option<Heredoc>, String> {
    // ^(\d*)<<(-?)\s*([^<]*)$
    let digits = src.bytes().take_while(u8::is_ascii_digit).count();
    let Some(after) = src[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    // Go's ParseUint: an overflow yields the largest value.
    let fd = src[..digits]
        .parse::<u64>()
        .map_or(if digits > 0 { u64::MAX } else { 0 }, |v| v);
    let file_descriptor = u32::try_from(fd).unwrap_or(u32::MAX);

    let words = Lexer::new(rest, false, false).words()?;
    if words.len() != 1 {
        return Ok(None);
    }
    let raw = Lexer::new(rest, true, false).words()?;
    if raw.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    Ok(Some(Heredoc {
        expand: quotes(&words[0]) == quotes(&raw[0]),
        name: words.into_iter().next().unwrap_or_default(),
        content: String::new(),
        file_descriptor,
        chomp,
    }))
}

/// `src` with leading tabs removed from every line: how `<<-EOF` bodies
/// are meant to be read (BuildKit keeps them raw in the tree).
pub fn chomp_content(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.split_inclusive('\n') {
        out.push_str(line.trim_start_matches('\t'));
    }
    out
}

/// Word splitting state; the buffer is shared by nested scans, as in
/// BuildKit (a `${x:-y}` inside a word drops what came before it).
#[derive(Default)]
struct Words {
    words: Vec<String>,
    in_word: bool,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    raw_quotes: bool,
    raw_escapes: bool,
    buf: String,
}

const ESCAPE: char = '\\';

impl Lexer {
    fn new(src: &str, raw_quotes: bool, raw_escapes: bool) -> Self {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            raw_quotes,
            raw_escapes,
            buf: String::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// ProcessWords: the words of the whole input, or the lexer's error.
    fn words(&mut self) -> Result<Vec<String>, String> {
        let source: String = self.chars.iter().collect();
        let raw = self.raw_escapes;
        self.scan(None, raw)
            .map(|(_, w)| w)
            .map_err(|e| format!("failed to process {}: {e}", gostr::quote(&source)))
    }

    fn add_char(&mut self, w: &mut Words, c: char) {
        if gostr::is_space(c) {
            if w.in_word && !self.buf.is_empty() {
                w.words.push(std::mem::take(&mut self.buf));
                w.in_word = false;
            }
        } else {
            self.add_raw_char(w, c);
        }
    }

    fn add_raw_char(&mut self, w: &mut Words, c: char) {
        self.buf.push(c);
        w.in_word = true;
    }

    fn add_string(&mut self, w: &mut Words, s: &str) {
        for c in s.chars() {
            self.add_char(w, c);
        }
    }

    fn add_raw_string(&mut self, w: &mut Words, s: &str) {
        self.buf.push_str(s);
        w.in_word = true;
    }

    fn finish(&mut self, mut w: Words) -> Vec<String> {
        if !self.buf.is_empty() {
            w.words.push(std::mem::take(&mut self.buf));
        }
        w.words
    }

    /// Scans up to `stop` (or the end), returning the text and its words.
    fn scan(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.scan_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn scan_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        self.buf.clear();
        let mut w = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok((result, self.finish(w)));
            }
            match ch {
                '$' => {
                    let tmp = self.dollar()?;
                    result.push_str(&tmp);
                    self.add_string(&mut w, &tmp);
                }
                '<' => {
                    let tmp = self.possible_heredoc();
                    result.push_str(&tmp);
                    self.add_raw_string(&mut w, &tmp);
                }
                '\'' => {
                    let tmp = self.single_quote()?;
                    result.push_str(&tmp);
                    self.add_raw_string(&mut w, &tmp);
                }
                '"' => {
                    let tmp = self.double_quote()?;
                    result.push_str(&tmp);
                    self.add_raw_string(&mut w, &tmp);
                }
                _ => {
                    self.pos += 1;
                    let mut c = ch;
                    if c == ESCAPE {
                        if self.raw_escapes {
                            self.add_raw_char(&mut w, c);
                            result.push(c);
                        }
                        match self.next() {
                            Some(n) => c = n,
                            None => break,
                        }
                        self.add_raw_char(&mut w, c);
                    } else {
                        self.add_char(&mut w, c);
                    }
                    result.push(c);
                }
            }
        }
        if let Some(s) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        Ok((result, self.finish(w)))
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next().unwrap_or('\'');
        if self.raw_quotes {
            out.push(q);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next().unwrap_or('"');
        if self.raw_quotes {
            out.push(q);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    if self.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    out.push_str(&v);
                }
                Some(mut c) => {
                    self.pos += 1;
                    if c == ESCAPE {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n @ ('"' | '$' | ESCAPE)) => {
                                self.pos += 1;
                                c = n;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    /// `$name` / `${...}` with nothing set: left as written.
    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            return Ok(format!("${name}"));
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let mut ch = self.next().unwrap_or('\u{fffd}');
        let mut chs = ch.to_string();
        let mut null_is_unset = false;
        match ch {
            '}' => Ok(format!("${{{name}}}")),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                if ch == ':' {
                    null_is_unset = true;
                    ch = self.next().unwrap_or('\u{fffd}');
                    chs.push(ch);
                }
                let raw = ch == '#' || ch == '%';
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let word = self.stop_on('}', raw, "syntax error: missing '}'")?;
                Ok(format!("${{{name}{chs}{word}}}"))
            }
            '/' => {
                if self.peek() == Some('/') {
                    self.pos += 1;
                }
                let pattern = self.stop_on('/', true, "syntax error: missing '/' in ${}")?;
                let replacement = self.stop_on('}', true, "syntax error: missing '}'")?;
                Ok(format!("${{{name}/{pattern}/{replacement}}}"))
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    fn stop_on(&mut self, stop: char, raw: bool, at_eof: &str) -> Result<String, String> {
        match self.scan(Some(stop), raw) {
            Ok((s, _)) => Ok(s),
            Err(_) if self.peek().is_none() => Err(at_eof.to_string()),
            Err(e) => Err(e),
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && gostr::is_digit(c) {
                while let Some(d) = self.peek().filter(|&d| gostr::is_digit(d)) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return c.to_string();
            }
            if !gostr::is_letter(c) && !gostr::is_digit(c) && c != '_' {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn possible_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.pos += 1;
        let mut out = String::from("<<");
        while let Some(c) = self.peek().filter(|c| matches!(c, ' ' | '\t' | '\r')) {
            out.push(c);
            self.pos += 1;
        }
        out
    }
}
