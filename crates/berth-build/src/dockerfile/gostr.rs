//! Go string semantics the parser's output depends on: `strconv.Quote`,
//! `strings.ToLower`, `unicode.IsSpace`/`IsLetter`/`IsDigit` and the
//! `[\t\v\f\r ]+` splitter. BuildKit's dumps and errors are made with
//! these, so matching them byte for byte needs Go's exact rules, with the
//! Unicode 15 tables Go ships.

use unicode_general_category::{get_general_category, GeneralCategory as Gc};

/// `strconv.Quote`: escapes what Go deems non-printable, `\u`/`\U` style.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
            out.push(c);
            continue;
        }
        if is_print(c) {
            out.push(c);
            continue;
        }
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// `fmt`'s `%q` of a `[]string`: `["a" "b"]`.
pub fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and
/// the ASCII space.
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    if u <= 0xff {
        return (0x20..=0x7e).contains(&u) || ((0xa1..=0xff).contains(&u) && u != 0xad);
    }
    !matches!(
        get_general_category(c),
        Gc::Control
            | Gc::Format
            | Gc::Surrogate
            | Gc::PrivateUse
            | Gc::Unassigned
            | Gc::SpaceSeparator
            | Gc::LineSeparator
            | Gc::ParagraphSeparator
    )
}

/// `unicode.IsLetter` (general category L).
pub fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(
        get_general_category(c),
        Gc::UppercaseLetter
            | Gc::LowercaseLetter
            | Gc::TitlecaseLetter
            | Gc::ModifierLetter
            | Gc::OtherLetter
    )
}

/// `unicode.IsDigit` (general category Nd).
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    get_general_category(c) == Gc::DecimalNumber
}

/// `unicode.IsSpace`; Rust's `char::is_whitespace` is the same property.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// `unicode.IsSpace(rune(b))` for one byte, as Go's byte-wise loops use it
/// (so the bytes 0x85 and 0xA0 of a UTF-8 sequence count as spaces).
pub fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// `strings.ToLower`: one rune in, one rune out (Go maps U+0130 to `i`).
pub fn to_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// `strings.TrimSpace`.
pub fn trim_space(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// The bytes of BuildKit's `[\t\v\f\r ]+` whitespace class.
pub fn is_ws_class(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// `regexp.MustCompile("[\t\v\f\r ]+").Split(s, n)` with Go's semantics
/// (n < 0: no limit), including the empty piece after trailing spaces.
pub fn split_ws(s: &str, n: isize) -> Vec<&str> {
    if n == 0 {
        return Vec::new();
    }
    if s.is_empty() {
        return vec![""];
    }
    let mut matches: Vec<(usize, usize)> = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if !is_ws_class(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = it.peek() {
            if !is_ws_class(d) {
                break;
            }
            end = j + d.len_utf8();
            it.next();
        }
        matches.push((i, end));
        if n > 0 && matches.len() as isize == n {
            break;
        }
    }
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for (ms, me) in matches {
        if n > 0 && out.len() as isize == n - 1 {
            break;
        }
        end = ms;
        if me != 0 {
            out.push(&s[beg..end]);
        }
        beg = me;
    }
    if end != s.len() {
        out.push(&s[beg..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\t\n\r\u{7}\u{8}\u{b}\u{c}"), r#""\t\n\r\a\b\v\f""#);
        assert_eq!(quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(quote("é♥☃"), "\"é♥☃\"");
        assert_eq!(quote("\u{a0}\u{ad}\u{200b}"), r#""\u00a0\u00ad\u200b""#);
        assert_eq!(quote("\u{e000}\u{10ffff}"), r#""\ue000\U0010ffff""#);
        assert_eq!(quote("\u{1f600}"), "\"\u{1f600}\"");
        assert_eq!(
            quote_list(&["--a".into(), "b c".into()]),
            r#"["--a" "b c"]"#
        );
    }

    #[test]
    fn split_like_go_regexp() {
        assert_eq!(split_ws("a  b\tc", -1), vec!["a", "b", "c"]);
        assert_eq!(split_ws("a b c", 2), vec!["a", "b c"]);
        assert_eq!(split_ws(" a ", -1), vec!["", "a", ""]);
        assert_eq!(split_ws("", -1), vec![""]);
        assert_eq!(split_ws("abc", 2), vec!["abc"]);
    }

    #[test]
    fn lower_like_go() {
        assert_eq!(to_lower("RUN"), "run");
        assert_eq!(to_lower("\u{130}"), "i");
    }
}
