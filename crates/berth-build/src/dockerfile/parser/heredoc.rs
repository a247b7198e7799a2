//! Finding heredoc words (`<<EOF`, `3<<-"EOF"`) in an instruction line.
//!
//! As in BuildKit, the line is split with the shell lexer (no variables
//! set, unset ones left as written) and each word is then looked at, so
//! quoting and escapes decide what counts.

use crate::dockerfile::ast::Heredoc;
use crate::dockerfile::gostr;
use crate::dockerfile::shell::{EnvList, Lex, ShellError};

/// BuildKit's lexer for heredoc words: `\` escapes, unset variables kept.
fn lexer(raw_quotes: bool, raw_escapes: bool) -> Lex {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = raw_quotes;
    lex.raw_escapes = raw_escapes;
    lex.skip_unset_env = true;
    lex
}

/// `ProcessWords` with no variables set; the error text uses Go's exact
/// `%q` of the word.
fn lex_words(lex: Lex, src: &str) -> Result<Vec<String>, String> {
    lex.process_words(src, &EnvList::default())
        .map_err(|ShellError { word, message }| {
            format!("failed to process {}: {message}", gostr::quote(&word))
        })
}

/// Heredocs announced on `line`, in order, contents still empty.
pub fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, String> {
    // As in BuildKit, a line the lexer rejects simply has no heredocs.
    let words = lex_words(lexer(true, true), line).unwrap_or_default();
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

    let words = lex_words(lexer(false, false), rest)?;
    if words.len() != 1 {
        return Ok(None);
    }
    let raw = lex_words(lexer(true, false), rest)?;
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
