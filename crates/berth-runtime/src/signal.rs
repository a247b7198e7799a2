//! Signal names and numbers as dockerd reads them (moby `pkg/signal`), for
//! `--stop-signal`, the image's `STOPSIGNAL` and `kill -s`.

/// Go's `strconv.Atoi`: optional sign, decimal digits, 64-bit range.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Signal names dockerd knows on Linux (moby `pkg/signal`), without `SIG`.
const SIGNALS: [(&str, i64); 34] = [
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
];

/// `--stop-signal` / `kill -s` (moby `signal.ParseSignal`): any non-zero
/// decimal integer (Go `Atoi`: `+5`, `-1`, `07`, `4294967296` all pass,
/// hence `i64`), or a name, case-insensitive, with one optional `SIG`
/// prefix, including `RTMIN`, `RTMIN+1`..`RTMIN+15`, `RTMAX-14`..`RTMAX`.
/// The CLI passes the string through, so this is a daemon error:
/// `Invalid signal: X`.
pub fn parse_signal(value: &str) -> Result<i64, String> {
    let invalid = || format!("Invalid signal: {value}");
    if let Some(n) = go_atoi(value) {
        return if n == 0 { Err(invalid()) } else { Ok(n) };
    }
    let upper = value.to_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(n);
    }
    let rt = |rest: &str, base: i64, sign: i64| -> Option<i64> {
        if rest.is_empty() {
            return Some(base);
        }
        let off = rest.strip_prefix(if sign > 0 { "+" } else { "-" })?;
        if off.len() > 2 || off.starts_with('0') {
            return None;
        }
        let off: i64 = off.parse().ok()?;
        (1..=15 - i64::from(sign < 0))
            .contains(&off)
            .then_some(base + sign * off)
    };
    let found = if let Some(rest) = name.strip_prefix("RTMIN") {
        rt(rest, 34, 1)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        rt(rest, 64, -1)
    } else {
        None
    };
    found.ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        for (v, n) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("sigkill", 9),
            ("kill", 9),
            ("Kill", 9),
            ("9", 9),
            ("-1", -1),
            ("99", 99),
            ("+5", 5),
            ("07", 7),
            ("4294967296", 4_294_967_296),
            ("SIGRTMIN+1", 35),
            ("rtmax-1", 63),
            ("RTMIN", 34),
            ("RTMAX", 64),
            ("RTMIN+15", 49),
            ("RTMAX-14", 50),
            ("CLD", 17),
            ("IOT", 6),
            ("POLL", 29),
            ("SIGWINCH", 28),
        ] {
            assert_eq!(parse_signal(v), Ok(n), "{v}");
        }
        for v in [
            "0",
            "foo",
            "SIG",
            "",
            " 9",
            "9x",
            "SIGRTMAX-0",
            "RTMIN+16",
            "RTMAX-15",
            "RTMIN+01",
            "RTMIN-1",
            "SIGSIGTERM",
            "99999999999999999999",
        ] {
            assert_eq!(parse_signal(v), Err(format!("Invalid signal: {v}")), "{v}");
        }
    }
}
