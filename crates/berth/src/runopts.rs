//! `run` / `create` flag values, parsed and checked exactly as the docker
//! 20.10 CLI does it (docker/cli `opts`, go-units, moby `signal` and
//! `term`), so that berth accepts, rejects and rewrites the same values.
//!
//! Every error is the text docker prints. Docker reports them in three
//! ways; each function's doc says which one applies:
//!
//! - **flag error**: pflag rejected the value while reading arguments. The
//!   message already names the flag
//!   (`invalid argument "x" for "-m, --memory" flag: invalid size: 'x'`);
//!   docker prints it, then `See 'docker run --help'.`, and exits 125.
//! - **option error**: the CLI's later check of all options. Docker prints
//!   `docker: <message>.` and `See 'docker run --help'.`, and exits 125.
//! - **daemon error**: dockerd refuses the request. `docker create`
//!   prints `Error response from daemon: <message>` and exits 1;
//!   `docker run` prints `docker: Error response from daemon: <message>.`
//!   and the `See` line, and exits 125.

use berth_engine::containers::mounts::MountSpec;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `ctrl-p,ctrl-q`, used when `--detach-keys` is empty or absent.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [16, 17];

/// Run-level error when `-a` is combined with `-d` (docker exits 1).
pub const CONFLICT_ATTACH_DETACH: &str = "Conflicting options: -a and -d";

/// The message of a value pflag rejected, as pflag words it.
pub fn flag_error(flag: &str, value: &str, err: &str) -> String {
    format!(
        "invalid argument {} for {} flag: {err}",
        go_quote(value),
        go_quote(flag)
    )
}

/// Go's `strconv.Quote`, which docker uses for values inside messages.
/// Printability follows Go's `unicode.IsPrint` for ASCII, Latin-1 and the
/// common invisible ranges (spaces, format characters, private use);
/// unassigned code points outside those print as themselves.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn go_printable(c: char) -> bool {
    let u = c as u32;
    if (0x20..0x7f).contains(&u) {
        return true;
    }
    if c.is_control() {
        return false;
    }
    !matches!(u,
        0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0x110bd
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..)
}

/// Why Go's `strconv` refused a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumErr {
    Syntax,
    Range,
}

/// `strconv.NumError` text: `strconv.ParseInt: parsing "x": invalid syntax`.
fn num_error(func: &str, s: &str, e: NumErr) -> String {
    let why = match e {
        NumErr::Syntax => "invalid syntax",
        NumErr::Range => "value out of range",
    };
    format!("strconv.{func}: parsing {}: {why}", go_quote(s))
}

/// Go's underscore rule for base-prefixed literals (`strconv.underscoreOK`).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let b = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// `strconv.ParseUint(s, base, bits)` for base 0 (prefixes, underscores)
/// or base 10.
fn go_parse_uint(s: &str, base0: bool, bits: u32) -> Result<u64, NumErr> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(NumErr::Syntax);
    }
    let (base, digits): (u64, &[u8]) = if base0 && b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &b[2..]),
            Some(b'o') if b.len() >= 3 => (8, &b[2..]),
            Some(b'x') if b.len() >= 3 => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else {
        (10, b)
    };
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let cutoff = u64::MAX / base + 1;
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            b'a'..=b'z' | b'A'..=b'Z' => u64::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return Err(NumErr::Syntax),
        };
        if d >= base {
            return Err(NumErr::Syntax);
        }
        if n >= cutoff {
            return Err(NumErr::Range);
        }
        n *= base;
        let n1 = n.wrapping_add(d);
        if n1 < n || n1 > max {
            return Err(NumErr::Range);
        }
        n = n1;
    }
    if underscores && !underscore_ok(s) {
        return Err(NumErr::Syntax);
    }
    Ok(n)
}

/// `strconv.ParseInt(s, base, bits)` for base 0 or 10.
fn go_parse_int(s: &str, base0: bool, bits: u32) -> Result<i64, NumErr> {
    if s.is_empty() {
        return Err(NumErr::Syntax);
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let un = go_parse_uint(body, base0, bits)?;
    let cutoff = 1u64 << (bits.min(64) - 1);
    if !neg && un >= cutoff || neg && un > cutoff {
        return Err(NumErr::Range);
    }
    Ok(if neg {
        (un as i64).wrapping_neg()
    } else {
        un as i64
    })
}

/// Go's `strconv.Atoi` on a 64-bit platform.
fn go_atoi(s: &str) -> Result<i64, String> {
    go_parse_int(s, false, 64).map_err(|e| num_error("Atoi", s, e))
}

/// A pflag `Int`/`Int64` flag (`-c`, `--cpu-period`, `--pids-limit`,
/// `--oom-score-adj`, `--memory-swappiness`, `--stop-timeout` ...):
/// Go's `ParseInt(s, 0, 64)`, so `0x10`, `010` (octal) and `1_000` are
/// numbers. Flag error.
pub fn parse_int_flag(flag: &str, value: &str) -> Result<i64, String> {
    go_parse_int(value, true, 64)
        .map_err(|e| flag_error(flag, value, &num_error("ParseInt", value, e)))
}

/// A pflag unsigned flag of `bits` bits (`--blkio-weight` is 16,
/// `--io-maxiops` 64): Go's `ParseUint(s, 0, bits)`. Flag error.
pub fn parse_uint_flag(flag: &str, value: &str, bits: u32) -> Result<u64, String> {
    go_parse_uint(value, true, bits)
        .map_err(|e| flag_error(flag, value, &num_error("ParseUint", value, e)))
}

/// go-units' size grammar, `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`,
/// with binary units (`RAMInBytes`). Returns go-units' error text.
fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 {
        return Err(invalid());
    }
    while i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    let number = &s[..i];
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut mul: i64 = 1;
    if let Some(&c) = b.get(i) {
        let shift = match c.to_ascii_lowercase() {
            b'k' => 10,
            b'm' => 20,
            b'g' => 30,
            b't' => 40,
            b'p' => 50,
            _ => 0,
        };
        if shift > 0 {
            mul = 1 << shift;
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'i' | b'I')) {
        i += 1;
    }
    if matches!(b.get(i), Some(b'b' | b'B')) {
        i += 1;
    }
    if i != b.len() {
        return Err(invalid());
    }
    // Go's ParseFloat rejects "1.2.3" (the grammar allows it) and overflow.
    let f: f64 = number
        .parse()
        .map_err(|_| num_error("ParseFloat", number, NumErr::Syntax))?;
    if f.is_infinite() {
        return Err(num_error("ParseFloat", number, NumErr::Range));
    }
    Ok(go_f64_to_i64(f * mul as f64))
}

/// Go's `int64(f)` on amd64: truncation, and the "integer indefinite"
/// value `i64::MIN` when out of range (so `-m 99999999999g` becomes a
/// negative limit that dockerd then refuses).
fn go_f64_to_i64(f: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) {
        f as i64
    } else {
        i64::MIN
    }
}

/// A byte-size flag (`-m, --memory`, `--memory-reservation`,
/// `--shm-size`, `--kernel-memory`): go-units `RAMInBytes`, so units are
/// binary (`k`=1024 ... `p`=2^50), case-insensitive, with optional `i`
/// and `b` (`1g`, `1GiB`, `1.5g`, `512 m`); a bare number is bytes and
/// fractions truncate. `flag` is the flag's display form (`-m, --memory`).
/// Flag error. Limits such as the 6MB minimum are dockerd's
/// (`berth_runtime::resources::validate`).
pub fn parse_memory(flag: &str, value: &str) -> Result<i64, String> {
    ram_in_bytes(value).map_err(|e| flag_error(flag, value, &e))
}

/// `--memory-swap`: like [`parse_memory`], and also `-1` (unlimited swap).
pub fn parse_memory_swap(flag: &str, value: &str) -> Result<i64, String> {
    if value == "-1" {
        return Ok(-1);
    }
    parse_memory(flag, value)
}

/// The CLI's check of `--memory-swappiness` (default -1). Option error.
pub fn check_swappiness(value: i64) -> Result<(), String> {
    if value != -1 && !(0..=100).contains(&value) {
        return Err(format!(
            "invalid value: {value}. Valid memory swappiness range is 0-100"
        ));
    }
    Ok(())
}

/// The warning the CLI prints (as `WARNING: ...` on stderr) before
/// creating a container with `--oom-kill-disable` and no `-m`.
pub fn oom_kill_disable_warning(oom_kill_disable: bool, memory: i64) -> Option<&'static str> {
    (oom_kill_disable && memory == 0).then_some(
        "WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.",
    )
}

/// Unbounded natural number, little-endian 32-bit limbs, no high zero
/// limbs: just enough of Go's `math/big` for `--cpus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Nat(Vec<u32>);

impl Nat {
    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// self = self * m + a
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn div_small(&self, d: u32) -> (Nat, u32) {
        let mut q = vec![0u32; self.0.len()];
        let mut r: u64 = 0;
        for i in (0..self.0.len()).rev() {
            let cur = (r << 32) | u64::from(self.0[i]);
            q[i] = (cur / u64::from(d)) as u32;
            r = cur % u64::from(d);
        }
        let mut q = Nat(q);
        q.trim();
        (q, r as u32)
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(top) => self.0.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    fn trailing_zeros(&self) -> u64 {
        let mut n = 0;
        for l in &self.0 {
            if *l == 0 {
                n += 32;
            } else {
                return n + u64::from(l.trailing_zeros());
            }
        }
        n
    }

    fn shr(&self, n: u64) -> Nat {
        let (words, bits) = ((n / 32) as usize, (n % 32) as u32);
        let src = self.0.get(words..).unwrap_or(&[]);
        let mut out: Vec<u32> = (0..src.len())
            .map(|i| {
                let lo = src[i] >> bits;
                let hi = if bits == 0 {
                    0
                } else {
                    src.get(i + 1).map_or(0, |h| h << (32 - bits))
                };
                lo | hi
            })
            .collect();
        while out.last() == Some(&0) {
            out.pop();
        }
        Nat(out)
    }

    fn low_u64(&self) -> u64 {
        let lo = self.0.first().copied().map_or(0, u64::from);
        let hi = self.0.get(1).copied().map_or(0, u64::from);
        lo | (hi << 32)
    }

    fn cmp(&self, o: &Nat) -> std::cmp::Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn sub_assign(&mut self, o: &Nat) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = i64::from(self.0[i]) - i64::from(o.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            self.0[i] = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    /// Binary long division; inputs are as long as one argument at most.
    fn div_rem(&self, d: &Nat) -> (Nat, Nat) {
        let mut q = Nat(vec![0; self.0.len()]);
        let mut r = Nat::default();
        for i in (0..self.bits()).rev() {
            r.mul_add(2, u32::from(self.bit(i)));
            if r.cmp(d) != std::cmp::Ordering::Less {
                r.sub_assign(d);
                q.0[(i / 32) as usize] |= 1 << (i % 32);
            }
        }
        q.trim();
        (q, r)
    }
}

/// A byte reader with one byte of push-back, like Go's `strings.Reader`.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = self.s.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }
    fn unread(&mut self) {
        self.pos -= 1;
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
}

/// `math/big`'s `scanSign`: an optional `+` or `-`; empty input fails.
fn scan_sign(c: &mut Cursor) -> Option<bool> {
    match c.next()? {
        b'-' => Some(true),
        b'+' => Some(false),
        _ => {
            c.unread();
            Some(false)
        }
    }
}

/// `math/big`'s `nat.scan` with base 0: `0b`/`0o`/`0x` prefixes (and a
/// bare leading `0` meaning octal unless `frac_ok`), `_` separators, and a
/// `.` when `frac_ok`. Returns the digits as a number, the base, and the
/// digit count (negated count of fractional digits when there was a `.`).
fn scan_nat(c: &mut Cursor, mut frac_ok: bool) -> Option<(Nat, u32, i64)> {
    let mut ch = c.next()?;
    let mut prev = b'.';
    let mut inval_sep = false;
    let (mut base, mut prefix, mut count) = (10u32, 0u8, 0i64);
    let mut eof = false;
    if ch == b'0' {
        prev = b'0';
        count = 1;
        match c.next() {
            None => eof = true,
            Some(x) => {
                ch = x;
                match x {
                    b'b' | b'B' => (base, prefix) = (2, b'b'),
                    b'o' | b'O' => (base, prefix) = (8, b'o'),
                    b'x' | b'X' => (base, prefix) = (16, b'x'),
                    _ if !frac_ok => (base, prefix) = (8, b'0'),
                    _ => {}
                }
                if prefix != 0 {
                    count = 0;
                    if prefix != b'0' {
                        match c.next() {
                            None => eof = true,
                            Some(x) => ch = x,
                        }
                    }
                }
            }
        }
    }
    let mut n = Nat::default();
    let mut dp: i64 = -1;
    while !eof {
        if ch == b'.' && frac_ok {
            frac_ok = false;
            inval_sep |= prev == b'_';
            prev = b'.';
            dp = count;
        } else if ch == b'_' {
            inval_sep |= prev != b'0';
            prev = b'_';
        } else {
            let d = match ch {
                b'0'..=b'9' => u32::from(ch - b'0'),
                b'a'..=b'z' | b'A'..=b'Z' => u32::from(ch.to_ascii_lowercase() - b'a') + 10,
                _ => u32::MAX,
            };
            if d >= base {
                c.unread();
                break;
            }
            prev = b'0';
            count += 1;
            n.mul_add(base, d);
        }
        match c.next() {
            None => eof = true,
            Some(x) => ch = x,
        }
    }
    if inval_sep || prev == b'_' {
        return None;
    }
    if count == 0 {
        return (prefix == b'0').then(|| (Nat::default(), 10, 1));
    }
    if dp >= 0 {
        count = dp - count;
    }
    Some((n, base, count))
}

/// `math/big`'s `scanExponent`: `e`/`E` (base 10) or `p`/`P` (base 2),
/// sign, digits with `_` separators. No exponent is `(0, 10)`.
fn scan_exponent(c: &mut Cursor) -> Option<(i64, u32)> {
    let ebase = match c.next() {
        None => return Some((0, 10)),
        Some(b'e' | b'E') => 10,
        Some(b'p' | b'P') => 2,
        Some(_) => {
            c.unread();
            return Some((0, 10));
        }
    };
    let mut digits = String::new();
    let mut ch = c.next();
    if let Some(s @ (b'+' | b'-')) = ch {
        if s == b'-' {
            digits.push('-');
        }
        ch = c.next();
    }
    let (mut prev, mut inval_sep, mut has_digits) = (b'.', false, false);
    while let Some(x) = ch {
        if x.is_ascii_digit() {
            digits.push(char::from(x));
            prev = b'0';
            has_digits = true;
        } else if x == b'_' {
            inval_sep |= prev != b'0';
            prev = b'_';
        } else {
            c.unread();
            break;
        }
        ch = c.next();
    }
    if !has_digits {
        return None;
    }
    let exp: i64 = digits.parse().ok()?;
    if inval_sep || prev == b'_' {
        return None;
    }
    Some((exp, ebase))
}

/// `x` to the power `e`, modulo 2^64.
fn pow_wrapping(x: u64, mut e: i64) -> u64 {
    let (mut base, mut acc) = (x, 1u64);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        e >>= 1;
    }
    acc
}

/// Why `--cpus` was refused (the two messages docker has).
enum CpusErr {
    Syntax,
    TooPrecise,
}

/// `big.Rat.SetString(s)` then `* 1e9`, `IsInt`, `Num().Int64()`: the
/// value in billionths, wrapped to 64 bits as Go's `Int64` wraps.
fn rat_nanos(s: &str) -> Result<i64, CpusErr> {
    let sign = |neg: bool, v: u64| {
        if neg {
            (v as i64).wrapping_neg()
        } else {
            v as i64
        }
    };
    if s.is_empty() {
        return Err(CpusErr::Syntax);
    }
    if let Some(sep) = s.find('/') {
        let mut c = Cursor {
            s: &s.as_bytes()[..sep],
            pos: 0,
        };
        let neg = scan_sign(&mut c).ok_or(CpusErr::Syntax)?;
        let (mut a, _, _) = scan_nat(&mut c, false).ok_or(CpusErr::Syntax)?;
        if !c.at_end() {
            return Err(CpusErr::Syntax);
        }
        let mut c = Cursor {
            s: &s.as_bytes()[sep + 1..],
            pos: 0,
        };
        let (b, _, _) = scan_nat(&mut c, false).ok_or(CpusErr::Syntax)?;
        if !c.at_end() || b.is_zero() {
            return Err(CpusErr::Syntax);
        }
        a.mul_add(1_000_000_000, 0);
        let (q, r) = a.div_rem(&b);
        if !r.is_zero() {
            return Err(CpusErr::TooPrecise);
        }
        return Ok(sign(neg, q.low_u64()));
    }
    let mut c = Cursor {
        s: s.as_bytes(),
        pos: 0,
    };
    let neg = scan_sign(&mut c).ok_or(CpusErr::Syntax)?;
    let (mut a, base, fcount) = scan_nat(&mut c, true).ok_or(CpusErr::Syntax)?;
    let (exp, ebase) = scan_exponent(&mut c).ok_or(CpusErr::Syntax)?;
    if !c.at_end() {
        return Err(CpusErr::Syntax);
    }
    if a.is_zero() {
        return Ok(0);
    }
    // value = a * 2^exp2 * 5^exp5, as math/big splits it.
    let (mut exp2, mut exp5) = (0i64, 0i64);
    if fcount < 0 {
        match base {
            10 => (exp2, exp5) = (fcount, fcount),
            2 => exp2 = fcount,
            8 => exp2 = fcount * 3,
            _ => exp2 = fcount * 4,
        }
    }
    if ebase == 10 {
        exp5 = exp5.wrapping_add(exp);
    }
    exp2 = exp2.wrapping_add(exp);
    if exp5.checked_abs().is_none_or(|n| n > 1_000_000)
        || !(-10_000_000..=10_000_000).contains(&exp2)
    {
        return Err(CpusErr::Syntax);
    }
    // Times 1e9, then it must be an integer: any negative power of 2 or 5
    // has to divide the mantissa.
    let (e2, e5) = (exp2 + 9, exp5 + 9);
    if e2 < 0 {
        if a.trailing_zeros() < e2.unsigned_abs() {
            return Err(CpusErr::TooPrecise);
        }
        a = a.shr(e2.unsigned_abs());
    }
    if e5 < 0 {
        for _ in 0..e5.unsigned_abs() {
            let (q, r) = a.div_small(5);
            if r != 0 {
                return Err(CpusErr::TooPrecise);
            }
            a = q;
        }
    }
    let low = a
        .low_u64()
        .wrapping_mul(if e2 >= 64 {
            0
        } else {
            pow_wrapping(2, e2.max(0))
        })
        .wrapping_mul(pow_wrapping(5, e5.max(0)));
    Ok(sign(neg, low))
}

/// `--cpus`: docker's `NanoCPUs`, a rational number (`1.5`, `3/2`,
/// `1e-2`, `0x1p-2` ... anything Go's `big.Rat` reads) in billionths of a
/// CPU. More than nine decimals is refused; the 0.01..NCPU range is
/// dockerd's (`berth_runtime::resources::validate`). Flag error.
pub fn parse_cpus(value: &str) -> Result<i64, String> {
    rat_nanos(value).map_err(|e| {
        let why = match e {
            CpusErr::Syntax => format!("failed to parse {value} as a rational number"),
            CpusErr::TooPrecise => "value is too precise".to_string(),
        };
        flag_error("--cpus", value, &why)
    })
}

/// One `--ulimit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// The names `--ulimit` accepts (go-units; `as` is deliberately absent).
pub const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `--ulimit name=soft[:hard]` (go-units 0.4 `ParseUlimit`): hard
/// defaults to soft, `-1` is unlimited, names are lower-case only. The
/// hard value is read before the soft one, so its error wins. Flag error.
pub fn parse_ulimit(value: &str) -> Result<Ulimit, String> {
    let err = |e: String| flag_error("--ulimit", value, &e);
    let Some((name, limits)) = value.split_once('=') else {
        return Err(err(format!("invalid ulimit argument: {value}")));
    };
    if !ULIMIT_NAMES.contains(&name) {
        return Err(err(format!("invalid ulimit type: {name}")));
    }
    let int = |s: &str| go_parse_int(s, false, 64).map_err(|e| err(num_error("ParseInt", s, e)));
    let parts: Vec<&str> = limits.split(':').collect();
    let (soft, hard) = match parts[..] {
        [soft, hard] => {
            let hard = int(hard)?;
            (int(soft)?, hard)
        }
        [soft] => {
            let soft = int(soft)?;
            (soft, soft)
        }
        _ => {
            return Err(err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            )))
        }
    };
    if hard != -1 {
        if soft == -1 {
            return Err(err(format!(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}"
            )));
        }
        if soft > hard {
            return Err(err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// Every `--ulimit`, one per name: a later flag replaces an earlier one
/// of the same name (docker keeps them in a map). Flag error.
pub fn parse_ulimits(values: &[String]) -> Result<Vec<Ulimit>, String> {
    let mut out: Vec<Ulimit> = Vec::new();
    for v in values {
        let u = parse_ulimit(v)?;
        match out.iter_mut().find(|o| o.name == u.name) {
            Some(o) => *o = u,
            None => out.push(u),
        }
    }
    Ok(out)
}

/// `-e, --env` (`opts.ValidateEnv`): `KEY=value` is kept as is (any key
/// but an empty one); a bare `KEY` takes berth's own value when set and
/// otherwise stays `KEY` (dockerd then leaves it out of the process).
/// Flag error.
pub fn parse_env(value: &str) -> Result<String, String> {
    parse_env_with(value, &|k: &str| {
        std::env::var_os(k).map(|v| v.to_string_lossy().into_owned())
    })
}

/// [`parse_env`] with the environment given by `lookup` (for tests).
pub fn parse_env_with(value: &str, lookup: &Lookup) -> Result<String, String> {
    let (key, rest) = match value.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (value, None),
    };
    if key.is_empty() {
        return Err(flag_error(
            "-e, --env",
            value,
            &format!("invalid environment variable: {value}"),
        ));
    }
    Ok(match (rest, lookup(key)) {
        (Some(_), _) | (None, None) => value.to_string(),
        (None, Some(v)) => format!("{key}={v}"),
    })
}

/// The container's `Env`: `--env-file` lines in order, then the `-e`
/// values. Docker 20.10 passes `-e` through a map first, so a repeated key
/// keeps only its last value (docker's order is then random; berth keeps
/// first-seen order). Env-file lines are never merged.
pub fn merge_env(file_vars: Vec<String>, flag_vars: &[String]) -> Vec<String> {
    let mut flags: Vec<(String, String)> = Vec::new();
    for v in flag_vars {
        let key = v.split('=').next().unwrap_or_default().to_string();
        match flags.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v.clone(),
            None => flags.push((key, v.clone())),
        }
    }
    let mut out = file_vars;
    out.extend(flags.into_iter().map(|(_, v)| v));
    out
}

/// Where a bare `KEY` finds its value (the process environment, in use).
pub type Lookup = dyn Fn(&str) -> Option<String>;

/// Longest line Go's `bufio.Scanner` reads, newline excluded.
const MAX_LINE: usize = 64 * 1024 - 1;

/// docker's `parseKeyValueFile`: one `KEY=value` per line; leading
/// whitespace dropped; blank lines and `#` lines skipped; the value kept
/// verbatim (quotes, trailing spaces); a UTF-8 BOM on the first line
/// dropped; CRLF accepted. A bare `KEY` becomes `KEY=<value>` when
/// `lookup` knows it and is dropped otherwise (always dropped without a
/// lookup, as for labels).
fn parse_kv_file(path: &str, lookup: Option<&Lookup>) -> Result<Vec<String>, String> {
    let mut data = Vec::new();
    let mut f = std::fs::File::open(path)
        .map_err(|e| format!("open {path}: {}", berth_store::go_error_text(&e)))?;
    std::io::Read::read_to_end(&mut f, &mut data)
        .map_err(|e| format!("read {path}: {}", berth_store::go_error_text(&e)))?;
    let mut out = Vec::new();
    let mut rest: &[u8] = &data;
    let mut line_no = 0usize;
    while !rest.is_empty() {
        let (raw, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        rest = next;
        if raw.len() > MAX_LINE {
            return Err("bufio.Scanner: token too long".to_string());
        }
        let bytes = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(bytes).map_err(|_| {
            let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
            format!(
                "env file {path} contains invalid utf8 bytes at line {}: [{}]",
                line_no + 1,
                list.join(" ")
            )
        })?;
        let text = if line_no == 0 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        line_no += 1;
        let line = text.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        let variable = name.trim_start_matches([' ', '\t']);
        if variable.contains([' ', '\t']) {
            return Err(format!(
                "poorly formatted environment: variable '{variable}' contains whitespaces"
            ));
        }
        if variable.is_empty() {
            return Err(format!(
                "poorly formatted environment: no variable name on line '{line}'"
            ));
        }
        match value {
            Some(v) => out.push(format!("{variable}={v}")),
            None => {
                if let Some(v) = lookup.and_then(|l| l(line)) {
                    out.push(format!("{}={v}", line.trim()));
                }
            }
        }
    }
    Ok(out)
}

/// `--env-file`: [`parse_kv_file`] rules, a bare `KEY` taking berth's own
/// environment. Option error (e.g. `open /x: no such file or directory`).
pub fn parse_env_file(path: &str) -> Result<Vec<String>, String> {
    parse_env_file_with(path, &|k: &str| {
        std::env::var_os(k).map(|v| v.to_string_lossy().into_owned())
    })
}

/// [`parse_env_file`] with the environment given by `lookup`.
pub fn parse_env_file_with(path: &str, lookup: &Lookup) -> Result<Vec<String>, String> {
    parse_kv_file(path, Some(lookup))
}

/// `--label-file`: the env-file rules (and messages, which say
/// "environment"), but a bare `KEY` is dropped. Lines are not checked
/// like `--label` values. Option error.
pub fn parse_label_file(path: &str) -> Result<Vec<String>, String> {
    parse_kv_file(path, None)
}

/// `-l, --label` (`opts.ValidateLabel`): the key, once leading blanks are
/// ignored, must be non-empty and blank-free; the value is kept verbatim
/// as given. Flag error.
pub fn parse_label(value: &str) -> Result<String, String> {
    let key = value.split('=').next().unwrap_or_default();
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(flag_error(
            "-l, --label",
            value,
            &format!("invalid label '{value}': empty name"),
        ));
    }
    if key.contains([' ', '\t']) {
        return Err(flag_error(
            "-l, --label",
            value,
            &format!("label '{key}' contains whitespaces"),
        ));
    }
    Ok(value.to_string())
}

/// `KEY=value` strings to a map, a later key winning, `KEY` alone meaning
/// an empty value (docker's `ConvertKVStringsToMap`).
pub fn kv_map<'a>(values: impl IntoIterator<Item = &'a String>) -> BTreeMap<String, String> {
    values
        .into_iter()
        .map(|v| match v.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (v.clone(), String::new()),
        })
        .collect()
}

/// The container's labels: `--label-file` lines, then `-l` values.
pub fn merge_labels(file_labels: &[String], flag_labels: &[String]) -> BTreeMap<String, String> {
    kv_map(file_labels.iter().chain(flag_labels))
}

/// Sysctls the docker CLI lets through; everything under `net.` and
/// `fs.mqueue.` is allowed too.
pub const SYSCTL_WHITELIST: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `--sysctl key=value` (`opts.ValidateSysctl`): the key must be a
/// namespaced sysctl; the value is everything after the first `=`.
/// Whether it works with the chosen namespaces (`--network host`, `--ipc
/// host`) is the runtime's check (`berth_runtime::resources::validate_sysctls`).
/// Flag error.
pub fn parse_sysctl(value: &str) -> Result<(String, String), String> {
    let refuse = || {
        flag_error(
            "--sysctl",
            value,
            &format!("sysctl '{value}' is not whitelisted"),
        )
    };
    let (key, val) = value.split_once('=').ok_or_else(refuse)?;
    if SYSCTL_WHITELIST.contains(&key) || key.starts_with("net.") || key.starts_with("fs.mqueue.") {
        Ok((key.to_string(), val.to_string()))
    } else {
        Err(refuse())
    }
}

/// `--log-opt` values as the log config map (`KEY` alone is an empty
/// value, a later key wins). Options are refused only for the `none`
/// driver here; keys and values are dockerd's to check
/// (`berth_runtime::resources::validate_log_config`). Option error.
pub fn parse_log_opts(driver: &str, values: &[String]) -> Result<BTreeMap<String, String>, String> {
    if driver == "none" && !values.is_empty() {
        return Err(format!("invalid logging opts for driver {driver}"));
    }
    Ok(kv_map(values))
}

/// `--detach-keys` (moby `term.ToBytes`): comma-separated keys, each a
/// single byte (`a`, `,` cannot be one), `ctrl-@`, `ctrl-a`..`ctrl-z`,
/// `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_` (lower case only), or
/// `DEL`. Empty means [`DEFAULT_DETACH_KEYS`]. dockerd checks them when
/// attaching, so this is a daemon error: `Invalid detach keys (x)
/// provided` (`docker exec` says `Invalid escape keys (x) provided`; the
/// docker 20.10 CLI garbles it for `run`/`start -a`/`attach` into
/// `Unrecognized input header: 73`, exit 1).
pub fn parse_detach_keys(value: &str) -> Result<Vec<u8>, String> {
    if value.is_empty() {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    }
    let mut codes = Vec::new();
    for key in value.split(',') {
        let b = key.as_bytes();
        if b.len() == 1 {
            codes.push(b[0]);
            continue;
        }
        let code = match key.strip_prefix("ctrl-").map(str::as_bytes) {
            Some([c @ b'a'..=b'z']) => Some(c - b'a' + 1),
            Some([c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_')]) => Some(c - b'@'),
            _ if key == "DEL" => Some(127),
            _ => None,
        };
        match code {
            Some(c) => codes.push(c),
            None => return Err(format!("Invalid detach keys ({value}) provided")),
        }
    }
    Ok(codes)
}

/// Which streams a container attaches, and `StdinOnce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Close stdin when the client detaches (`-i` with stdin attached).
    pub stdin_once: bool,
}

/// One `-a, --attach` value (`validateAttach`): `stdin`, `stdout` or
/// `stderr` in any case, returned in lower case. Flag error.
pub fn parse_attach_stream(value: &str) -> Result<String, String> {
    let s = value.to_lowercase();
    if ["stdin", "stdout", "stderr"].contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(flag_error(
            "-a, --attach",
            value,
            "valid streams are STDIN, STDOUT and STDERR",
        ))
    }
}

/// All `-a` values with `-i`: no `-a` attaches stdout and stderr, `-i`
/// adds stdin, and stdin attached with `-i` closes on detach. (`run -d`
/// then clears them all, or fails with [`CONFLICT_ATTACH_DETACH`] when
/// `-a` was given.) Flag error.
pub fn parse_attach(values: &[String], interactive: bool) -> Result<Attach, String> {
    let streams = values
        .iter()
        .map(|v| parse_attach_stream(v))
        .collect::<Result<Vec<_>, _>>()?;
    let has = |s: &str| streams.iter().any(|x| x == s);
    let mut a = Attach {
        stdin: has("stdin") || interactive,
        stdout: has("stdout"),
        stderr: has("stderr"),
        stdin_once: false,
    };
    if streams.is_empty() {
        a.stdout = true;
        a.stderr = true;
    }
    a.stdin_once = interactive && a.stdin;
    Ok(a)
}

/// `--restart` as the CLI sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure`, or anything else
    /// (dockerd refuses unknown names), or empty.
    pub name: String,
    pub maximum_retry_count: i64,
}

impl RestartPolicy {
    /// `no` or unset.
    pub fn is_none(&self) -> bool {
        self.name.is_empty() || self.name == "no"
    }
}

/// `--restart name[:count]` (`opts.ParseRestartPolicy`). The CLI only
/// splits it: `always:1`, `foo`, ` always` and `on-failure:-1` pass here
/// and are dockerd's to refuse (`berth_runtime::resources::validate_restart_policy`).
/// Option error.
pub fn parse_restart(value: &str) -> Result<RestartPolicy, String> {
    if value.is_empty() {
        return Ok(RestartPolicy::default());
    }
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() > 2 {
        return Err("invalid restart policy format".to_string());
    }
    let maximum_retry_count = match parts.get(1) {
        Some(n) => go_atoi(n).map_err(|_| "maximum retry count must be an integer".to_string())?,
        None => 0,
    };
    Ok(RestartPolicy {
        name: parts[0].to_string(),
        maximum_retry_count,
    })
}

/// `--rm` with a restart policy other than `no`. Option error.
pub fn check_restart_and_rm(policy: &RestartPolicy, auto_remove: bool) -> Result<(), String> {
    if auto_remove && !policy.is_none() {
        return Err("Conflicting options: --restart and --rm".to_string());
    }
    Ok(())
}

/// `-v` values: `NAME:/PATH`, `/HOST:/PATH` go to binds (a `./` host path
/// made absolute), a bare `/PATH` is a new anonymous volume (the config's
/// `Volumes`), as the docker CLI sorts them.
pub fn split_volumes(values: &[String]) -> Result<(Vec<String>, Vec<String>), String> {
    let mut binds = Vec::new();
    let mut volumes = Vec::new();
    for v in values {
        if v.split(':').any(str::is_empty) && v.contains(':') {
            return Err(format!("invalid spec: {v}: empty section between colons"));
        }
        match v.split_once(':') {
            None => volumes.push(v.clone()),
            Some((host, rest)) => {
                if host == "." || host.starts_with("./") {
                    let abs = std::env::current_dir()
                        .map(|d| d.join(host))
                        .map_err(|e| e.to_string())?;
                    let clean =
                        berth_engine::containers::mounts::clean_path(&abs.display().to_string());
                    binds.push(format!("{clean}:{rest}"));
                } else {
                    binds.push(v.clone());
                }
            }
        }
    }
    Ok((binds, volumes))
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The fields of a CSV line (Go's `encoding/csv`: `"` quotes a field,
/// `""` inside is a quote).
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut at_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',')) {
                        return Err("parse error on line 1, column 1: extraneous or missing \" in quoted-field".into());
                    }
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' => {
                out.push(std::mem::take(&mut cur));
                at_start = true;
            }
            _ => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(
            "parse error on line 1, column 1: extraneous or missing \" in quoted-field".into(),
        );
    }
    out.push(cur);
    Ok(out)
}

/// One `--mount` value, as the docker CLI's mount option parses it; the
/// error is the part after `invalid argument ... for "--mount" flag: `.
pub fn parse_mount(value: &str) -> Result<MountSpec, String> {
    let mut m = MountSpec {
        kind: "volume".into(),
        ..Default::default()
    };
    fn vol(m: &mut MountSpec) -> &mut berth_engine::containers::mounts::VolumeOptions {
        let v = m.volume_options.get_or_insert_with(Default::default);
        v.driver_config.get_or_insert_with(Default::default);
        v
    }
    fn set_kv(map: &mut BTreeMap<String, String>, v: &str) {
        match v.split_once('=') {
            Some((k, x)) => map.insert(k.to_string(), x.to_string()),
            None => map.insert(v.to_string(), String::new()),
        };
    }
    for field in csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v.to_string())),
            None => (field.to_lowercase(), None),
        };
        let Some(val) = val else {
            match key.as_str() {
                "readonly" | "ro" => m.read_only = true,
                "volume-nocopy" => vol(&mut m).no_copy = true,
                "bind-nonrecursive" => {
                    m.bind_options
                        .get_or_insert_with(Default::default)
                        .non_recursive = true
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let bool_of = |k: &str, v: &str| {
            go_parse_bool(v).ok_or_else(|| format!("invalid value for {k}: {v}"))
        };
        match key.as_str() {
            "type" => m.kind = val.to_lowercase(),
            "source" | "src" => m.source = val,
            "target" | "dst" | "destination" => m.target = val,
            "readonly" | "ro" => m.read_only = bool_of(&key, &val)?,
            "consistency" => m.consistency = val.to_lowercase(),
            "bind-propagation" => {
                m.bind_options
                    .get_or_insert_with(Default::default)
                    .propagation = val.to_lowercase()
            }
            "bind-nonrecursive" => {
                let b = bool_of(&key, &val)?;
                m.bind_options
                    .get_or_insert_with(Default::default)
                    .non_recursive = b;
            }
            "volume-nocopy" => {
                let b = bool_of(&key, &val)?;
                vol(&mut m).no_copy = b;
            }
            "volume-label" => set_kv(&mut vol(&mut m).labels, &val),
            "volume-driver" => {
                if let Some(d) = vol(&mut m).driver_config.as_mut() {
                    d.name = val;
                }
            }
            "volume-opt" => {
                if let Some(d) = vol(&mut m).driver_config.as_mut() {
                    set_kv(&mut d.options, &val);
                }
            }
            "tmpfs-size" => {
                let n =
                    ram_in_bytes(&val).map_err(|_| format!("invalid value for {key}: {val}"))?;
                m.tmpfs_options
                    .get_or_insert_with(Default::default)
                    .size_bytes = n;
            }
            "tmpfs-mode" => {
                let n = u32::from_str_radix(&val, 8)
                    .map_err(|_| format!("invalid value for {key}: {val}"))?;
                m.tmpfs_options.get_or_insert_with(Default::default).mode = n;
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.kind.is_empty() {
        return Err("type is required".into());
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    for (set, what, kind) in [
        (m.volume_options.is_some(), "volume", "volume"),
        (m.bind_options.is_some(), "bind", "bind"),
        (m.tmpfs_options.is_some(), "tmpfs", "tmpfs"),
    ] {
        if set && m.kind != kind {
            return Err(format!(
                "cannot mix '{what}-*' options with mount type '{}'",
                m.kind
            ));
        }
    }
    Ok(m)
}

/// The docker CLI's `ValidateExtraHost`: `name:ip` (or `host-gateway`).
pub fn check_extra_host(h: &str) -> Result<(), String> {
    let bad = || format!("bad format for add-host: {h:?}");
    let (name, ip) = h.split_once(':').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    if ip == "host-gateway" {
        return Ok(());
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<std::net::IpAddr>()
        .map(drop)
        .map_err(|_| format!("invalid IP address in add-host: {ip:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(v: &str) -> Result<i64, String> {
        parse_memory("-m, --memory", v)
    }

    #[test]
    fn memory_sizes() {
        let k = 1024i64;
        for (v, want) in [
            ("512m", 512 * k * k),
            ("1g", k * k * k),
            ("1.5g", 1536 * k * k),
            ("100", 100),
            ("1kb", k),
            ("1KiB", k),
            ("1K", k),
            ("1b", 1),
            ("1B", 1),
            ("1 m", k * k),
            ("1ib", 1),
            ("1iB", 1),
            ("1Gi", k * k * k),
            ("1gB", k * k * k),
            ("1 ", 1),
            ("0", 0),
            ("0.5", 0),
            ("1.5", 1),
            ("0.5k", 512),
            ("00012m", 12 * k * k),
            ("1.0000000001k", 1024),
            ("1p", 1 << 50),
            ("1pb", 1 << 50),
            ("8191p", 9_222_246_136_947_933_184),
            // Go's int64(float) of an out-of-range value.
            ("8192p", i64::MIN),
            ("9223372036854775807", i64::MIN),
            ("99999999999999999999999999", i64::MIN),
        ] {
            assert_eq!(mem(v), Ok(want), "{v}");
        }
    }

    #[test]
    fn memory_errors() {
        for v in [
            "x", "1e", "1z", " 1m", "1m2", "-1", "-5m", "", ".5g", "1e3", "1m ", "1kbb", "1_000m",
            "+5m", "0x10", "8e", "1.",
        ] {
            assert_eq!(
                mem(v),
                Err(format!(
                    "invalid argument {} for \"-m, --memory\" flag: invalid size: '{v}'",
                    go_quote(v)
                )),
                "{v}"
            );
        }
        assert_eq!(
            mem("1.2.3"),
            Err("invalid argument \"1.2.3\" for \"-m, --memory\" flag: strconv.ParseFloat: parsing \"1.2.3\": invalid syntax".into())
        );
        let huge = "9".repeat(400);
        assert_eq!(
            mem(&huge),
            Err(format!("invalid argument \"{huge}\" for \"-m, --memory\" flag: strconv.ParseFloat: parsing \"{huge}\": value out of range"))
        );
    }

    #[test]
    fn memory_swap_and_others() {
        assert_eq!(parse_memory_swap("--memory-swap", "-1"), Ok(-1));
        assert_eq!(parse_memory_swap("--memory-swap", "1g"), Ok(1 << 30));
        assert_eq!(
            parse_memory_swap("--memory-swap", "-2"),
            Err("invalid argument \"-2\" for \"--memory-swap\" flag: invalid size: '-2'".into())
        );
        assert_eq!(
            parse_memory("--memory-reservation", "-1"),
            Err(
                "invalid argument \"-1\" for \"--memory-reservation\" flag: invalid size: '-1'"
                    .into()
            )
        );
        assert_eq!(parse_memory("--shm-size", "1.5m"), Ok(1_572_864));
        assert_eq!(check_swappiness(-1), Ok(()));
        assert_eq!(check_swappiness(100), Ok(()));
        assert_eq!(
            check_swappiness(101),
            Err("invalid value: 101. Valid memory swappiness range is 0-100".into())
        );
        assert_eq!(
            check_swappiness(-2),
            Err("invalid value: -2. Valid memory swappiness range is 0-100".into())
        );
        assert!(oom_kill_disable_warning(true, 0).is_some());
        assert!(oom_kill_disable_warning(true, 1 << 20).is_none());
        assert!(oom_kill_disable_warning(false, 0).is_none());
    }

    #[test]
    fn int_flags() {
        let c = |v| parse_int_flag("-c, --cpu-shares", v);
        for (v, want) in [
            ("512", 512),
            ("0x10", 16),
            ("010", 8),
            ("1_0", 10),
            ("0b11", 3),
            ("0o7", 7),
            ("+5", 5),
            ("-0x10", -16),
            ("0_10", 8),
            ("0", 0),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(c(v), Ok(want), "{v}");
        }
        for (v, why) in [
            ("x", "invalid syntax"),
            ("", "invalid syntax"),
            (" 5", "invalid syntax"),
            ("0x", "invalid syntax"),
            ("08", "invalid syntax"),
            ("1__0", "invalid syntax"),
            ("_1", "invalid syntax"),
            ("1_", "invalid syntax"),
            ("9223372036854775808", "value out of range"),
            ("-9223372036854775809", "value out of range"),
        ] {
            assert_eq!(
                c(v),
                Err(format!("invalid argument {0} for \"-c, --cpu-shares\" flag: strconv.ParseInt: parsing {0}: {why}", go_quote(v))),
                "{v}"
            );
        }
        let w = |v| parse_uint_flag("--blkio-weight", v, 16);
        assert_eq!(w("0x10"), Ok(16));
        assert_eq!(w("65535"), Ok(65535));
        assert_eq!(
            w("65536"),
            Err("invalid argument \"65536\" for \"--blkio-weight\" flag: strconv.ParseUint: parsing \"65536\": value out of range".into())
        );
        assert_eq!(
            w("-1"),
            Err("invalid argument \"-1\" for \"--blkio-weight\" flag: strconv.ParseUint: parsing \"-1\": invalid syntax".into())
        );
        assert_eq!(
            w("+5"),
            Err("invalid argument \"+5\" for \"--blkio-weight\" flag: strconv.ParseUint: parsing \"+5\": invalid syntax".into())
        );
    }

    #[test]
    fn cpus() {
        for (v, want) in [
            ("1.5", 1_500_000_000),
            ("2", 2_000_000_000),
            ("2.000000001", 2_000_000_001),
            ("0", 0),
            ("-0", 0),
            ("0.01", 10_000_000),
            ("0.000000001", 1),
            ("-1", -1_000_000_000),
            ("-0.5", -500_000_000),
            ("3/2", 1_500_000_000),
            ("+1/2", 500_000_000),
            ("-1/2", -500_000_000),
            ("4/2", 2_000_000_000),
            ("1/010", 125_000_000),
            ("1/0_10", 125_000_000),
            ("0x10/0x8", 2_000_000_000),
            ("010/4", 2_000_000_000),
            ("1e0", 1_000_000_000),
            ("1E-2", 10_000_000),
            ("1e-9", 1),
            ("10e-10", 1),
            ("0x1", 1_000_000_000),
            ("0b1", 1_000_000_000),
            ("0o1", 1_000_000_000),
            ("0B1", 1_000_000_000),
            ("010", 10_000_000_000),
            ("00.5", 500_000_000),
            ("0_1", 1_000_000_000),
            ("1_0", 10_000_000_000),
            ("0x_1", 1_000_000_000),
            ("0.5_0", 500_000_000),
            ("1.5e0_0", 1_500_000_000),
            ("+1", 1_000_000_000),
            (".5", 500_000_000),
            ("5.", 5_000_000_000),
            ("1.e1", 10_000_000_000),
            ("0x1p-2", 250_000_000),
            ("0x1.8p0", 1_500_000_000),
            ("0x1.8", 1_500_000_000),
            ("1p1", 2_000_000_000),
            ("1.5p-1", 750_000_000),
            ("100000000000000000000e-20", 1_000_000_000),
            ("0e999999999999999999", 0),
            // Int64 keeps the low 64 bits, as Go's does.
            ("18446744073709551617", 1_000_000_000),
            ("18446744073709.551617", 1000),
            ("1e10000", 0),
            ("0x1p10000000", 0),
            ("9223372036854775807", -1_000_000_000),
        ] {
            assert_eq!(parse_cpus(v), Ok(want), "{v}");
        }
        for v in [
            "x",
            "",
            " 1",
            "1/0",
            "inf",
            "NaN",
            "1__0",
            "_1",
            "1_",
            "1/08",
            "1e",
            "1e+",
            "0.5e1_",
            "0.5/1",
            "1/2/3",
            "1/+2",
            "1/",
            "/2",
            "0xg",
            "0x",
            "0b",
            "0b2",
            ".",
            "-",
            "5e999999999999999999",
            "1e1000001",
            "1p10000001",
            "1e99999999999999999999",
        ] {
            assert_eq!(
                parse_cpus(v),
                Err(format!(
                    "invalid argument {} for \"--cpus\" flag: failed to parse {v} as a rational number",
                    go_quote(v)
                )),
                "{v}"
            );
        }
        for v in [
            "0.0000000001",
            "1.5e-9",
            "-0.0000000001",
            "1/3",
            "1e-999999",
        ] {
            assert_eq!(
                parse_cpus(v),
                Err(format!(
                    "invalid argument \"{v}\" for \"--cpus\" flag: value is too precise"
                )),
                "{v}"
            );
        }
    }

    #[test]
    fn ulimits() {
        let u = |n: &str, soft, hard| Ulimit {
            name: n.into(),
            soft,
            hard,
        };
        for (v, want) in [
            ("nofile=1024:2048", u("nofile", 1024, 2048)),
            ("nproc=10", u("nproc", 10, 10)),
            ("nofile=-1", u("nofile", -1, -1)),
            ("nofile=-1:-1", u("nofile", -1, -1)),
            ("nofile=100:-1", u("nofile", 100, -1)),
            ("nofile=-2:5", u("nofile", -2, 5)),
            ("nofile=+5", u("nofile", 5, 5)),
            ("nofile=0:0", u("nofile", 0, 0)),
            ("core=0", u("core", 0, 0)),
        ] {
            assert_eq!(parse_ulimit(v), Ok(want), "{v}");
        }
        for name in ULIMIT_NAMES {
            assert!(parse_ulimit(&format!("{name}=1")).is_ok());
        }
        for (v, why) in [
            ("nofile", "invalid ulimit argument: nofile"),
            ("nofile=", "strconv.ParseInt: parsing \"\": invalid syntax"),
            ("nofile=:", "strconv.ParseInt: parsing \"\": invalid syntax"),
            ("nofile=1024:", "strconv.ParseInt: parsing \"\": invalid syntax"),
            ("nofile=:1", "strconv.ParseInt: parsing \"\": invalid syntax"),
            ("nofile=x", "strconv.ParseInt: parsing \"x\": invalid syntax"),
            ("nofile=x:y", "strconv.ParseInt: parsing \"y\": invalid syntax"),
            ("nofile=1_0", "strconv.ParseInt: parsing \"1_0\": invalid syntax"),
            ("nofile=1 ", "strconv.ParseInt: parsing \"1 \": invalid syntax"),
            ("nofile=99999999999999999999", "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"),
            ("nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"),
            ("as=1", "invalid ulimit type: as"),
            ("NOFILE=1", "invalid ulimit type: NOFILE"),
            ("foo=1", "invalid ulimit type: foo"),
            (" nofile=1", "invalid ulimit type:  nofile"),
            ("=1", "invalid ulimit type: "),
            ("nofile=2048:1024", "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"),
            ("nofile=-1:100", "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 100"),
        ] {
            assert_eq!(
                parse_ulimit(v),
                Err(format!("invalid argument {} for \"--ulimit\" flag: {why}", go_quote(v))),
                "{v}"
            );
        }
        let list = parse_ulimits(&[
            "nofile=1".to_string(),
            "nproc=2".to_string(),
            "nofile=3:4".to_string(),
        ])
        .unwrap();
        assert_eq!(list, vec![u("nofile", 3, 4), u("nproc", 2, 2)]);
    }

    fn env(k: &str) -> Option<String> {
        match k {
            "BERTHX" => Some("fromenv".into()),
            "BERTHY" => Some(" y ".into()),
            _ => None,
        }
    }

    #[test]
    fn env_flags() {
        let e = |v| parse_env_with(v, &env);
        assert_eq!(e("A=1"), Ok("A=1".into()));
        assert_eq!(e("BERTHX"), Ok("BERTHX=fromenv".into()));
        assert_eq!(e("NOPE"), Ok("NOPE".into()));
        assert_eq!(e(" A=1"), Ok(" A=1".into()));
        assert_eq!(e("A B=1"), Ok("A B=1".into()));
        assert_eq!(e("A="), Ok("A=".into()));
        assert_eq!(e("BERTHX="), Ok("BERTHX=".into()));
        for v in ["=x", "", "="] {
            assert_eq!(
                e(v),
                Err(format!(
                    "invalid argument {} for \"-e, --env\" flag: invalid environment variable: {v}",
                    go_quote(v)
                ))
            );
        }
        let flags: Vec<String> = ["B=1", "A=1", "A=2", "C", "D=4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            merge_env(vec!["A=0".into(), "A=0".into()], &flags),
            ["A=0", "A=0", "B=1", "A=2", "C", "D=4"]
        );
    }

    fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p.display().to_string()
    }

    #[test]
    fn env_files() {
        let dir = tempfile::tempdir().unwrap();
        let ok = write(
            &dir,
            "ok",
            b"# comment\n\nA=1\n  B=2\nBERTHX\nNOPE\n  BERTHY\nC= spaced value \nD=\"quoted\"\n\t#tabcomment\nE=x=y\r\nBERTHX\r\nF=1\r",
        );
        assert_eq!(
            parse_env_file_with(&ok, &env).unwrap(),
            [
                "A=1",
                "B=2",
                "BERTHX=fromenv",
                "BERTHY= y ",
                "C= spaced value ",
                "D=\"quoted\"",
                "E=x=y",
                "BERTHX=fromenv",
                "F=1"
            ]
        );
        assert_eq!(
            parse_label_file(&ok).unwrap(),
            [
                "A=1",
                "B=2",
                "C= spaced value ",
                "D=\"quoted\"",
                "E=x=y",
                "F=1"
            ]
        );
        let f = |name: &str, data: &[u8]| parse_env_file_with(&write(&dir, name, data), &env);
        assert_eq!(f("bom", b"\xef\xbb\xbfA=1\n").unwrap(), ["A=1"]);
        assert_eq!(
            f("bom2", b"A=1\n\xef\xbb\xbfB=1\n").unwrap(),
            ["A=1", "\u{feff}B=1"]
        );
        assert_eq!(f("nonl", b"A=1").unwrap(), ["A=1"]);
        assert_eq!(f("cr", b"A=1\rB=2\n").unwrap(), ["A=1\rB=2"]);
        assert_eq!(f("nul", b"#x\n\n\x00A=1\n").unwrap(), ["\x00A=1"]);
        assert_eq!(f("empty", b"").unwrap(), Vec::<String>::new());
        let bad = write(&dir, "bad", b"A=1\nB\xff=1\n");
        assert_eq!(
            parse_env_file(&bad),
            Err(format!(
                "env file {bad} contains invalid utf8 bytes at line 2: [66 255 61 49]"
            ))
        );
        for (data, msg) in [
            (&b"A B=1\n"[..], "variable 'A B' contains whitespaces"),
            (b"=1\n", "no variable name on line '=1'"),
            (b" \t=1\n", "no variable name on line '=1'"),
            (b"A\t=1\n", "variable 'A\t' contains whitespaces"),
            (b"  BERTHX  \n", "variable 'BERTHX  ' contains whitespaces"),
        ] {
            assert_eq!(
                f("ws", data),
                Err(format!("poorly formatted environment: {msg}"))
            );
            assert_eq!(
                parse_label_file(&write(&dir, "ws", data)),
                Err(format!("poorly formatted environment: {msg}"))
            );
        }
        // bufio.Scanner's 64 KiB line limit, newline excluded.
        let mut long = vec![b'a'; MAX_LINE];
        long[0] = b'#';
        assert!(f("long-ok", &long).is_ok());
        long.push(b'\n');
        assert!(f("long-ok2", &long).is_ok());
        long.insert(0, b'#');
        assert_eq!(
            f("long", &long),
            Err("bufio.Scanner: token too long".into())
        );
        assert_eq!(
            parse_env_file("/nonexistent-berth"),
            Err("open /nonexistent-berth: no such file or directory".into())
        );
        assert_eq!(
            parse_env_file(""),
            Err("open : no such file or directory".into())
        );
        let d = dir.path().display().to_string();
        assert_eq!(parse_env_file(&d), Err(format!("read {d}: is a directory")));
        assert_eq!(
            parse_label_file("/nonexistent-berth"),
            Err("open /nonexistent-berth: no such file or directory".into())
        );
    }

    #[test]
    fn labels() {
        for v in ["a=1", "a", " a=1", "a= 1 ", "a=b=c"] {
            assert_eq!(parse_label(v), Ok(v.to_string()));
        }
        for (v, why) in [
            ("=x", "invalid label '=x': empty name"),
            (" =x", "invalid label ' =x': empty name"),
            ("", "invalid label '': empty name"),
            ("a b=1", "label 'a b' contains whitespaces"),
            ("a\tb=1", "label 'a\tb' contains whitespaces"),
            ("a =1", "label 'a ' contains whitespaces"),
        ] {
            assert_eq!(
                parse_label(v),
                Err(format!(
                    "invalid argument {} for \"-l, --label\" flag: {why}",
                    go_quote(v)
                ))
            );
        }
        assert_eq!(
            flag_error("-l, --label", "a\tb=1", "x"),
            "invalid argument \"a\\tb=1\" for \"-l, --label\" flag: x"
        );
        let m = merge_labels(
            &["A=1".into(), "B".into()],
            &["A=over".into(), " a=1".into()],
        );
        assert_eq!(m.get("A").map(String::as_str), Some("over"));
        assert_eq!(m.get("B").map(String::as_str), Some(""));
        assert_eq!(m.get(" a").map(String::as_str), Some("1"));
    }

    #[test]
    fn sysctls() {
        for (v, k, val) in [
            ("net.ipv4.ip_forward=1", "net.ipv4.ip_forward", "1"),
            ("kernel.shmmax=1", "kernel.shmmax", "1"),
            ("kernel.msgmax=1=2", "kernel.msgmax", "1=2"),
            ("fs.mqueue.msg_max=1", "fs.mqueue.msg_max", "1"),
            ("kernel.shm_rmid_forced=1", "kernel.shm_rmid_forced", "1"),
            ("net.a=", "net.a", ""),
            ("net.a=b=c", "net.a", "b=c"),
        ] {
            assert_eq!(parse_sysctl(v), Ok((k.to_string(), val.to_string())));
        }
        for v in [
            "kernel.hostname=x",
            "vm.swappiness=1",
            "net.ipv4.ip_forward",
            "=1",
            "fs.mqueue=1",
            " net.x=1",
            "NET.x=1",
            "kernel.domainname=x",
        ] {
            assert_eq!(
                parse_sysctl(v),
                Err(format!(
                    "invalid argument \"{v}\" for \"--sysctl\" flag: sysctl '{v}' is not whitelisted"
                ))
            );
        }
    }

    #[test]
    fn log_opts() {
        let m = parse_log_opts(
            "json-file",
            &["max-size=10m".into(), "max-size=20m".into(), "tag".into()],
        )
        .unwrap();
        assert_eq!(m.get("max-size").map(String::as_str), Some("20m"));
        assert_eq!(m.get("tag").map(String::as_str), Some(""));
        assert!(parse_log_opts("none", &[]).is_ok());
        assert_eq!(
            parse_log_opts("none", &["a=b".into()]),
            Err("invalid logging opts for driver none".into())
        );
    }

    #[test]
    fn detach_keys() {
        for (v, want) in [
            ("ctrl-p,ctrl-q", vec![16, 17]),
            ("", vec![16, 17]),
            ("a,b", vec![b'a', b'b']),
            ("ctrl-@", vec![0]),
            ("ctrl-a", vec![1]),
            ("ctrl-z", vec![26]),
            (
                "ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_",
                vec![27, 28, 29, 30, 31],
            ),
            ("DEL", vec![127]),
            ("x,DEL,ctrl-x", vec![b'x', 127, 24]),
        ] {
            assert_eq!(parse_detach_keys(v), Ok(want), "{v}");
        }
        for v in [
            "foo", "ctrl-p,", "CTRL-P", "é", "ctrl-P", "del", ",", "ctrl-1",
        ] {
            assert_eq!(
                parse_detach_keys(v),
                Err(format!("Invalid detach keys ({v}) provided"))
            );
        }
    }

    #[test]
    fn attach() {
        let a =
            |v: &[&str], i| parse_attach(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), i);
        let at = |stdin, stdout, stderr, stdin_once| Attach {
            stdin,
            stdout,
            stderr,
            stdin_once,
        };
        assert_eq!(a(&[], false), Ok(at(false, true, true, false)));
        assert_eq!(a(&["stdin"], false), Ok(at(true, false, false, false)));
        assert_eq!(a(&["STDOUT"], false), Ok(at(false, true, false, false)));
        assert_eq!(a(&["StdErr"], false), Ok(at(false, false, true, false)));
        assert_eq!(
            a(&["stdin", "stdin"], false),
            Ok(at(true, false, false, false))
        );
        assert_eq!(a(&[], true), Ok(at(true, true, true, true)));
        assert_eq!(a(&["stdout"], true), Ok(at(true, true, false, true)));
        assert_eq!(a(&["stdin"], true), Ok(at(true, false, false, true)));
        for v in ["foo", "", "stdin,stdout"] {
            assert_eq!(
                a(&[v], false),
                Err(format!("invalid argument \"{v}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"))
            );
        }
    }

    #[test]
    fn restart() {
        let p = |n: &str, c| RestartPolicy {
            name: n.into(),
            maximum_retry_count: c,
        };
        for (v, want) in [
            ("no", p("no", 0)),
            ("always", p("always", 0)),
            ("unless-stopped", p("unless-stopped", 0)),
            ("on-failure", p("on-failure", 0)),
            ("on-failure:3", p("on-failure", 3)),
            ("on-failure:+2", p("on-failure", 2)),
            ("on-failure:-1", p("on-failure", -1)),
            ("always:1", p("always", 1)),
            ("foo", p("foo", 0)),
            ("", p("", 0)),
            (" always", p(" always", 0)),
        ] {
            assert_eq!(parse_restart(v), Ok(want), "{v}");
        }
        for (v, why) in [
            ("a:b:c", "invalid restart policy format"),
            ("on-failure:x", "maximum retry count must be an integer"),
            ("on-failure:", "maximum retry count must be an integer"),
            (
                "on-failure:99999999999999999999",
                "maximum retry count must be an integer",
            ),
        ] {
            assert_eq!(parse_restart(v), Err(why.to_string()), "{v}");
        }
        let conflict = Err("Conflicting options: --restart and --rm".to_string());
        assert_eq!(check_restart_and_rm(&p("always", 0), true), conflict);
        assert_eq!(check_restart_and_rm(&p("on-failure", 0), true), conflict);
        assert_eq!(check_restart_and_rm(&p("no", 0), true), Ok(()));
        assert_eq!(check_restart_and_rm(&p("", 0), true), Ok(()));
        assert_eq!(check_restart_and_rm(&p("always", 0), false), Ok(()));
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("\x00\x1b\x7f"), "\"\\x00\\x1b\\x7f\"");
        assert_eq!(
            go_quote("é\u{a0}\u{feff}\u{85}"),
            "\"é\\u00a0\\ufeff\\u0085\""
        );
        assert_eq!(go_quote("\u{f0000}"), "\"\\U000f0000\"");
        assert_eq!(go_quote("\u{1F600}"), "\"\u{1F600}\"");
    }
}
