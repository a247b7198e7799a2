//! The pieces of Go's `time` package that docker 20.10 (built with Go
//! 1.19) applies to `--since`/`--until` values and to the `time` field of
//! log lines: layout parsing for the few layouts involved,
//! `ParseDuration`, and the quoting in their error messages, so berth
//! accepts the same values and fails with the same words.

use crate::clock;
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Elem {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Frac9,
    Zone,
}

impl Elem {
    /// The element as spelt in a Go layout, for error messages.
    fn text(self) -> &'static str {
        match self {
            Elem::Year => "2006",
            Elem::Month => "01",
            Elem::Day => "02",
            Elem::Hour => "15",
            Elem::Minute => "04",
            Elem::Second => "05",
            Elem::Frac9 => ".999999999",
            Elem::Zone => "Z07:00",
        }
    }
}

/// A Go layout as (literal prefix, element) pairs.
pub(crate) struct Layout {
    text: &'static str,
    elems: &'static [(&'static str, Elem)],
}

use Elem::*;

const DATE: [(&str, Elem); 3] = [("", Year), ("-", Month), ("-", Day)];

macro_rules! layout {
    ($text:expr, $($rest:expr),*) => {
        Layout { text: $text, elems: &[DATE[0], DATE[1], DATE[2], $($rest),*] }
    };
}

pub(crate) const RFC3339: Layout = layout!(
    "2006-01-02T15:04:05Z07:00",
    ("T", Hour),
    (":", Minute),
    (":", Second),
    ("", Zone)
);
pub(crate) const RFC3339_NANO: Layout = layout!(
    "2006-01-02T15:04:05.999999999Z07:00",
    ("T", Hour),
    (":", Minute),
    (":", Second),
    ("", Frac9),
    ("", Zone)
);
pub(crate) const RFC3339_LOCAL: Layout = layout!(
    "2006-01-02T15:04:05",
    ("T", Hour),
    (":", Minute),
    (":", Second)
);
pub(crate) const RFC3339_NANO_LOCAL: Layout = layout!(
    "2006-01-02T15:04:05.999999999",
    ("T", Hour),
    (":", Minute),
    (":", Second),
    ("", Frac9)
);
pub(crate) const HOUR_LOCAL: Layout = layout!("2006-01-02T15", ("T", Hour));
pub(crate) const MINUTE_LOCAL: Layout = layout!("2006-01-02T15:04", ("T", Hour), (":", Minute));
pub(crate) const HOUR_ZONE: Layout = layout!("2006-01-02T15Z07:00", ("T", Hour), ("", Zone));
pub(crate) const MINUTE_ZONE: Layout = layout!(
    "2006-01-02T15:04Z07:00",
    ("T", Hour),
    (":", Minute),
    ("", Zone)
);
pub(crate) const DATE_WITH_ZONE: Layout = layout!("2006-01-02Z07:00", ("", Zone));
pub(crate) const DATE_LOCAL: Layout = Layout {
    text: "2006-01-02",
    elems: &DATE,
};

/// Go's `*time.ParseError`, printed the way Go prints it.
#[derive(Debug)]
pub(crate) struct ParseError {
    layout: &'static str,
    value: String,
    layout_elem: &'static str,
    value_elem: Vec<u8>,
    message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = quote(self.value.as_bytes());
        if self.message.is_empty() {
            write!(
                f,
                "parsing time {value} as {}: cannot parse {} as {}",
                quote(self.layout.as_bytes()),
                quote(&self.value_elem),
                quote(self.layout_elem.as_bytes())
            )
        } else {
            write!(f, "parsing time {value}{}", self.message)
        }
    }
}

/// Go 1.19's `time.ParseInLocation(layout, value, FixedZone(offset))`,
/// as Unix seconds and nanoseconds.
pub(crate) fn parse(
    layout: &Layout,
    value: &str,
    default_offset: i64,
) -> Result<(i64, u32), ParseError> {
    let fail = |layout_elem: &'static str, rest: &[u8], message: String| ParseError {
        layout: layout.text,
        value: value.to_owned(),
        layout_elem,
        value_elem: rest.to_vec(),
        message,
    };
    let mut rest = value.as_bytes();
    let (mut year, mut month, mut day) = (0i64, None, None);
    let (mut hour, mut minute, mut second, mut nanos) = (0i64, 0i64, 0i64, 0u32);
    let mut offset = None;
    for (i, &(prefix, elem)) in layout.elems.iter().enumerate() {
        for &c in prefix.as_bytes() {
            match rest.split_first() {
                Some((&b, tail)) if b == c => rest = tail,
                _ => return Err(fail(prefix, rest, String::new())),
            }
        }
        // Go 1.19 reports the value where parsing stopped, which for some
        // elements is after what they consumed.
        let mut range = None;
        let ok = match elem {
            Year => {
                if rest.len() < 4 || !is_digit(rest, 0) {
                    false
                } else {
                    let (p, tail) = rest.split_at(4);
                    rest = tail;
                    atoi(p).map(|y| year = y).is_some()
                }
            }
            Month | Day => match getnum(rest, true) {
                Some((n, tail)) => {
                    rest = tail;
                    if elem == Month {
                        month = Some(n);
                        if !(1..=12).contains(&n) {
                            range = Some("month");
                        }
                    } else {
                        day = Some(n);
                    }
                    true
                }
                None => false,
            },
            Hour | Minute => match getnum(rest, elem == Minute) {
                Some((n, tail)) => {
                    rest = tail;
                    if elem == Hour {
                        hour = n;
                        range = (n >= 24).then_some("hour");
                    } else {
                        minute = n;
                        range = (n >= 60).then_some("minute");
                    }
                    true
                }
                None => false,
            },
            Second => match getnum(rest, true) {
                Some((n, tail)) => {
                    rest = tail;
                    second = n;
                    if n >= 60 {
                        range = Some("second");
                    } else if rest.len() >= 2
                        && matches!(rest[0], b'.' | b',')
                        && is_digit(rest, 1)
                        && layout.elems.get(i + 1).map(|e| e.1) != Some(Frac9)
                    {
                        // A fraction the layout does not mention: Go takes
                        // all its digits anyway.
                        let n = (2..rest.len())
                            .find(|&n| !is_digit(rest, n))
                            .unwrap_or(rest.len());
                        nanos = parse_nanos(&rest[..n]);
                        rest = &rest[n..];
                    }
                    true
                }
                None => false,
            },
            Frac9 => {
                if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && is_digit(rest, 1) {
                    // Go 1.19 takes at most nine digits here.
                    let mut n = 1;
                    while n < 10 && is_digit(rest, n) {
                        n += 1;
                    }
                    nanos = parse_nanos(&rest[..n]);
                    rest = &rest[n..];
                }
                true
            }
            Zone => {
                if rest.first() == Some(&b'Z') {
                    rest = &rest[1..];
                    offset = Some(0);
                    true
                } else if rest.len() < 6 || rest[3] != b':' {
                    false
                } else {
                    let (sign, h, m) = (rest[0], &rest[1..3], &rest[4..6]);
                    rest = &rest[6..];
                    match (atoi(h), atoi(m), sign) {
                        (Some(h), Some(m), b'+') => offset = Some((h * 60 + m) * 60),
                        (Some(h), Some(m), b'-') => offset = Some(-(h * 60 + m) * 60),
                        _ => {}
                    }
                    offset.is_some()
                }
            }
        };
        if let Some(what) = range {
            return Err(fail(elem.text(), rest, format!(": {what} out of range")));
        }
        if !ok {
            return Err(fail(elem.text(), rest, String::new()));
        }
    }
    if !rest.is_empty() {
        return Err(fail("", rest, format!(": extra text: {}", quote(rest))));
    }
    let month = month.unwrap_or(1);
    let day = day.unwrap_or(1);
    if day < 1 || day > days_in(month, year) {
        return Err(fail("", rest, ": day out of range".to_owned()));
    }
    // In range: checked above.
    let days = clock::days_from_civil(year, month as u32, day as u32);
    let secs =
        days * 86_400 + hour * 3600 + minute * 60 + second - offset.unwrap_or(default_offset);
    Ok((secs, nanos))
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `getnum`: one or two digits (`fixed`: exactly two).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    let first = i64::from(s[0] - b'0');
    if !is_digit(s, 1) {
        return (!fixed).then(|| (first, &s[1..]));
    }
    Some((first * 10 + i64::from(s[1] - b'0'), &s[2..]))
}

/// Go's `time.atoi`: an optional sign, then only digits (none is zero).
fn atoi(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, s),
    };
    let mut x: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        x = x.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(if neg { -x } else { x })
}

/// Go's `parseNanoseconds` for a `.ddd` run already known to be digits:
/// at most nine digits count.
fn parse_nanos(s: &[u8]) -> u32 {
    let digits = &s[1..s.len().min(10)];
    let mut ns = 0u32;
    for &c in digits {
        ns = ns * 10 + u32::from(c - b'0');
    }
    for _ in digits.len()..9 {
        ns *= 10;
    }
    ns
}

/// Go's `time.ParseDuration`, in nanoseconds; `None` where Go fails.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    parse_go_duration(s).ok()
}

/// Go's `time.ParseDuration`, in nanoseconds, with Go's error text
/// (`time: invalid duration "x"`, `time: missing unit ...`).
pub fn parse_go_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(orig.as_bytes()));
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next().filter(|c| *c == '-' || *c == '+') {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let mut v: u64 = 0;
        for b in s[..int_len].bytes() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(b - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        let pre = int_len > 0;
        s = &s[int_len..];
        let (mut frac, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(r) = s.strip_prefix('.') {
            s = r;
            let flen = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let mut overflow = false;
            for b in s[..flen].bytes() {
                if overflow {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(b - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            post = flen > 0;
            s = &s[flen..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                quote(orig.as_bytes())
            ));
        }
        let u = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match u {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(u.as_bytes()),
                    quote(orig.as_bytes())
                ))
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// The quoting in Go's time errors: ASCII controls and every non-ASCII
/// byte as `\xNN`, `"` and `\` escaped.
fn quote(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        if !(b' '..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.Quote` (as `%q` prints), close enough for CLI arguments:
/// printable characters kept, the usual escapes otherwise.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if c == ' ' || !(c.is_control() || c.is_whitespace()) => out.push(c),
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        let h = 3_600_000_000_000i64;
        assert_eq!(parse_duration("1h30m"), Some(h + h / 2));
        assert_eq!(parse_duration("1.5h"), Some(h + h / 2));
        assert_eq!(parse_duration("-10m"), Some(-600_000_000_000));
        assert_eq!(parse_duration("+5s"), Some(5_000_000_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("1µs1μs1us1ns"), Some(3001));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("-0"), Some(0));
        assert_eq!(parse_duration("2562047h47m16.854775807s"), Some(i64::MAX));
        assert_eq!(parse_duration("-2562047h47m16.854775808s"), Some(i64::MIN));
        for bad in [
            "", "10", "10min", "10m5", ".s", "-", "1d", "2562048h", "1.5",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn layouts_parse_like_go() {
        assert_eq!(
            parse(&RFC3339, "2023-11-14T22:13:20Z", 0).unwrap(),
            (1_700_000_000, 0)
        );
        assert_eq!(
            parse(&RFC3339, "2023-11-14T22:13:20.5Z", 0).unwrap(),
            (1_700_000_000, 500_000_000)
        );
        assert_eq!(
            parse(&RFC3339, "2023-11-14T23:13:20.1234567891+01:00", 0).unwrap(),
            (1_700_000_000, 123_456_789)
        );
        assert_eq!(
            parse(&RFC3339_NANO, "2023-11-14T22:13:20,25Z", 0).unwrap(),
            (1_700_000_000, 250_000_000)
        );
        assert_eq!(
            parse(&DATE_LOCAL, "2023-11-14", -3600).unwrap(),
            (1_699_920_000 + 3600, 0)
        );
        assert_eq!(
            parse(&HOUR_LOCAL, "2023-11-14T2", 0).unwrap(),
            (1_699_920_000 + 7200, 0)
        );
        let e = parse(&DATE_LOCAL, "2020-1-01", 0).unwrap_err().to_string();
        assert_eq!(
            e,
            r#"parsing time "2020-1-01" as "2006-01-02": cannot parse "1-01" as "01""#
        );
        let e = parse(&RFC3339_NANO_LOCAL, "é.x", 0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            r#"parsing time "\xc3\xa9.x" as "2006-01-02T15:04:05.999999999": cannot parse "\xc3\xa9.x" as "2006""#
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\é\n\u{1}"), r#""a\"b\\é\n\x01""#);
    }
}
