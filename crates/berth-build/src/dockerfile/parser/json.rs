//! Decoding `["a", "b"]` exactly as Go's `json.Unmarshal` into `[]any`
//! would: the exec form is chosen only when Go would decode it, and a valid
//! array holding a non-string is an error rather than a shell string.

/// Why a text is not a JSON array of strings.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Valid JSON array, but an element is not a string: BuildKit fails.
    NotStringArray,
    /// Not something Go decodes: BuildKit falls back to the shell form.
    Invalid,
}

/// Go's `maxNestingDepth` for its JSON scanner.
const MAX_DEPTH: usize = 10_000;

/// Decodes `s` (which must start with `[`) as a JSON array of strings.
pub fn parse_string_array(s: &str) -> Result<Vec<String>, JsonError> {
    let mut p = Parser {
        b: s.as_bytes(),
        s,
        pos: 0,
        out_of_range: false,
    };
    let mut items = Vec::new();
    let mut non_string = false;
    p.expect(b'[')?;
    p.ws();
    if p.peek() == Some(b']') {
        p.pos += 1;
    } else {
        loop {
            p.ws();
            if p.peek() == Some(b'"') {
                items.push(p.string()?);
            } else {
                p.skip_value(1)?;
                non_string = true;
            }
            p.ws();
            match p.bump() {
                Some(b',') => continue,
                Some(b']') => break,
                _ => return Err(JsonError::Invalid),
            }
        }
    }
    p.ws();
    if p.pos != p.b.len() || p.out_of_range {
        return Err(JsonError::Invalid);
    }
    if non_string {
        return Err(JsonError::NotStringArray);
    }
    Ok(items)
}

struct Parser<'a> {
    b: &'a [u8],
    s: &'a str,
    pos: usize,
    /// A number Go cannot hold in a float64: a decode error, found after
    /// the syntax check.
    out_of_range: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        if self.bump() == Some(c) {
            Ok(())
        } else {
            Err(JsonError::Invalid)
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.b.get(at..at + 4)?;
        let h = std::str::from_utf8(h).ok()?;
        if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(h, 16).ok()
    }

    /// A string literal, decoded like Go (lone surrogates become U+FFFD).
    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.s[start..self.pos]);
            match self.bump() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => {}
                _ => return Err(JsonError::Invalid),
            }
            match self.bump() {
                Some(b'"') => out.push('"'),
                Some(b'\\') => out.push('\\'),
                Some(b'/') => out.push('/'),
                Some(b'b') => out.push('\u{8}'),
                Some(b'f') => out.push('\u{c}'),
                Some(b'n') => out.push('\n'),
                Some(b'r') => out.push('\r'),
                Some(b't') => out.push('\t'),
                Some(b'u') => {
                    let r = self.hex4(self.pos).ok_or(JsonError::Invalid)?;
                    self.pos += 4;
                    if (0xd800..0xe000).contains(&r) {
                        let pair = if self.b.get(self.pos..self.pos + 2) == Some(b"\\u") {
                            self.hex4(self.pos + 2)
                        } else {
                            None
                        };
                        match pair {
                            Some(lo) if r < 0xdc00 && (0xdc00..0xe000).contains(&lo) => {
                                let c = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
                                out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                self.pos += 6;
                            }
                            _ => out.push('\u{fffd}'),
                        }
                    } else {
                        out.push(char::from_u32(r).unwrap_or('\u{fffd}'));
                    }
                }
                _ => return Err(JsonError::Invalid),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(JsonError::Invalid),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(JsonError::Invalid);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(JsonError::Invalid);
            }
        }
        let ok = self.s[start..self.pos]
            .parse::<f64>()
            .is_ok_and(f64::is_finite);
        if !ok {
            self.out_of_range = true;
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(JsonError::Invalid)
        }
    }

    /// `"key" :` inside an object.
    fn key(&mut self) -> Result<(), JsonError> {
        self.ws();
        self.string()?;
        self.ws();
        self.expect(b':')
    }

    /// Validates one value of any kind without recursion (Go allows 10000
    /// levels, deeper than a thread stack would like).
    fn skip_value(&mut self, depth: usize) -> Result<(), JsonError> {
        let mut stack: Vec<u8> = Vec::new();
        'value: loop {
            self.ws();
            match self.peek() {
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(open @ (b'[' | b'{')) => {
                    self.pos += 1;
                    if depth + stack.len() + 1 > MAX_DEPTH {
                        return Err(JsonError::Invalid);
                    }
                    stack.push(open);
                    self.ws();
                    let close = if open == b'[' { b']' } else { b'}' };
                    if self.peek() != Some(close) {
                        if open == b'{' {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    self.pos += 1;
                    stack.pop();
                }
                _ => return Err(JsonError::Invalid),
            }
            // After a complete value: close containers or go on to the next.
            loop {
                let Some(&top) = stack.last() else {
                    return Ok(());
                };
                self.ws();
                match (top, self.bump()) {
                    (_, Some(b',')) => {
                        if top == b'{' {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    (b'[', Some(b']')) | (b'{', Some(b'}')) => {
                        stack.pop();
                    }
                    _ => return Err(JsonError::Invalid),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_arrays() {
        assert_eq!(parse_string_array("[]"), Ok(vec![]));
        assert_eq!(parse_string_array("[\"\"]"), Ok(vec![String::new()]));
        assert_eq!(
            parse_string_array("[ \"a\",\t\"b\" ] "),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            parse_string_array(r#"["\" \\ \/ \b \f \n \r \t \u0000 \u2603"]"#),
            Ok(vec!["\" \\ / \u{8} \u{c} \n \r \t \u{0} \u{2603}".into()])
        );
        assert_eq!(
            parse_string_array(r#"["\ud83d\ude00", "\ud800x"]"#),
            Ok(vec!["\u{1f600}".into(), "\u{fffd}x".into()])
        );
    }

    #[test]
    fn non_strings_and_invalid() {
        for s in [
            r#"["a",42,"b"]"#,
            r#"["a",{"c": "d"},"b"]"#,
            r#"["a",["c"],"b"]"#,
            r#"["a",true,"b"]"#,
            r#"["a",null,"b"]"#,
            r#"["a",-1.5e3]"#,
        ] {
            assert_eq!(parse_string_array(s), Err(JsonError::NotStringArray), "{s}");
        }
        for s in [
            "[",
            "['a']",
            r#"["a" "b"]"#,
            r#"["a",]"#,
            r#"["a"] x"#,
            r#"["a", 1e400]"#,
            r#"["a", 01]"#,
            "[\"a\tb\"]",
            r#"[{"a" 1}]"#,
        ] {
            assert_eq!(parse_string_array(s), Err(JsonError::Invalid), "{s}");
        }
        let deep = format!("[{}{}]", "[".repeat(9_999), "]".repeat(9_999));
        assert_eq!(parse_string_array(&deep), Err(JsonError::NotStringArray));
        let deeper = format!("[{}{}]", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_string_array(&deeper), Err(JsonError::Invalid));
    }
}
