//! Instruction flags (`--from=x`, `--link`), parsed like BuildKit's `BFlags`
//! so that errors and accepted spellings are the same.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    Strings,
}

#[derive(Debug, Clone)]
struct Flag {
    kind: Kind,
    value: String,
    values: Vec<String>,
}

/// The flags an instruction accepts and the words it was given. Flags are
/// declared first, then [`BFlags::parse`] checks the words against them.
#[derive(Debug, Clone, Default)]
pub struct BFlags {
    args: Vec<String>,
    flags: HashMap<String, Flag>,
    /// Names in the order first used (BuildKit's is a map; order is ours).
    used: Vec<String>,
}

impl BFlags {
    /// Flags from the instruction's `--x=y` words.
    pub fn new(args: Vec<String>) -> Self {
        BFlags {
            args,
            ..Default::default()
        }
    }

    fn add(&mut self, name: &str, kind: Kind, value: String) {
        self.flags.insert(
            name.to_string(),
            Flag {
                kind,
                value,
                values: Vec::new(),
            },
        );
    }

    /// A flag given as `--name`, `--name=true` or `--name=false`.
    pub fn add_bool(&mut self, name: &str, default: bool) {
        self.add(name, Kind::Bool, default.to_string());
    }

    /// A flag that needs `--name=value`; given twice is an error.
    pub fn add_string(&mut self, name: &str, default: &str) {
        self.add(name, Kind::Str, default.to_string());
    }

    /// A flag that may be repeated; values are kept in order.
    pub fn add_strings(&mut self, name: &str) {
        self.add(name, Kind::Strings, String::new());
    }

    /// Checks every word. Stops at `--` like POSIX utilities.
    pub fn parse(&mut self) -> Result<(), String> {
        let args = std::mem::take(&mut self.args);
        let res = self.parse_args(&args);
        self.args = args;
        res
    }

    fn parse_args(&mut self, args: &[String]) -> Result<(), String> {
        for a in args {
            if a == "--" {
                return Ok(());
            }
            let Some(rest) = a.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {a}"));
            };
            let (arg, value) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (rest, None),
            };
            let flag_name = format!("--{arg}");
            let Some(flag) = self.flags.get_mut(arg) else {
                let mut names: Vec<&str> = self.flags.keys().map(String::as_str).collect();
                names.sort_unstable();
                return Err(with_suggestion(
                    format!("unknown flag: {flag_name}"),
                    arg,
                    &names,
                    true,
                ));
            };
            let seen = self.used.iter().any(|u| u == arg);
            if seen && flag.kind != Kind::Strings {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            if !seen {
                self.used.push(arg.to_string());
            }
            match flag.kind {
                Kind::Bool => {
                    if value == Some("") {
                        return Err(format!("missing a value on flag: {flag_name}"));
                    }
                    let v = value.unwrap_or("");
                    match v.to_lowercase().as_str() {
                        "true" | "" => flag.value = "true".into(),
                        "false" => flag.value = "false".into(),
                        _ => {
                            return Err(format!(
                                "expecting boolean value for flag {flag_name}, not: {v}"
                            ))
                        }
                    }
                }
                Kind::Str => match value {
                    Some(v) => flag.value = v.to_string(),
                    None => return Err(format!("missing a value on flag: {flag_name}")),
                },
                Kind::Strings => match value {
                    Some(v) => flag.values.push(v.to_string()),
                    None => return Err(format!("missing a value on flag: {flag_name}")),
                },
            }
        }
        Ok(())
    }

    /// A bool flag's value (its default when not given).
    pub fn bool(&self, name: &str) -> bool {
        self.flags.get(name).is_some_and(|f| f.value == "true")
    }

    /// A string flag's value (its default when not given).
    pub fn string(&self, name: &str) -> String {
        self.flags
            .get(name)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    }

    /// Every value of a repeatable flag.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.flags
            .get(name)
            .map(|f| f.values.clone())
            .unwrap_or_default()
    }

    /// Whether the flag was written (to tell `--x=false` from absent).
    pub fn is_used(&self, name: &str) -> bool {
        self.used.iter().any(|u| u == name)
    }

    /// Names of the flags that were written.
    pub fn used(&self) -> &[String] {
        &self.used
    }
}

/// BuildKit's `suggest.WrapError`: adds ` (did you mean x?)` when an
/// option is within edit distance 2. Options are tried in the given order.
pub(crate) fn with_suggestion(
    err: String,
    val: &str,
    options: &[&str],
    case_sensitive: bool,
) -> String {
    let v = if case_sensitive {
        val.to_string()
    } else {
        val.to_lowercase()
    };
    let mut best = String::new();
    let mut min = 3;
    for opt in options {
        let o = if case_sensitive {
            opt.to_string()
        } else {
            opt.to_lowercase()
        };
        if v == o {
            return err;
        }
        let d = levenshtein(&v, &o);
        if d < min {
            best = if case_sensitive {
                o
            } else {
                match_case(&o, val)
            };
            min = d;
        }
    }
    if best.is_empty() {
        err
    } else {
        format!("{err} (did you mean {best}?)")
    }
}

fn match_case(val: &str, orig: &str) -> String {
    if orig == orig.to_lowercase() {
        val.to_lowercase()
    } else if orig == orig.to_uppercase() {
        val.to_uppercase()
    } else {
        val.to_string()
    }
}

/// Edit distance over characters, unit costs.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> BFlags {
        let mut f = BFlags::new(args.iter().map(|s| s.to_string()).collect());
        f.add_bool("link", false);
        f.add_string("from", "");
        f.add_strings("exclude");
        f
    }

    #[test]
    fn values_and_defaults() {
        let mut f = flags(&["--link", "--from=st", "--exclude=a", "--exclude=b"]);
        f.parse().unwrap();
        assert!(f.bool("link"));
        assert_eq!(f.string("from"), "st");
        assert_eq!(f.strings("exclude"), ["a", "b"]);
        assert_eq!(f.used(), ["link", "from", "exclude"]);

        let mut f = flags(&["--link=FALSE"]);
        f.parse().unwrap();
        assert!(!f.bool("link"));
        assert!(f.is_used("link"));
        assert!(!f.is_used("from"));
    }

    #[test]
    fn errors_use_buildkit_wording() {
        let err = |args: &[&str]| flags(args).parse().unwrap_err();
        assert_eq!(err(&["--lnk"]), "unknown flag: --lnk (did you mean link?)");
        assert_eq!(err(&["--nothing-like"]), "unknown flag: --nothing-like");
        assert_eq!(err(&["-x"]), "arg should start with -- : -x");
        assert_eq!(err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(err(&["--exclude"]), "missing a value on flag: --exclude");
        assert_eq!(err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            err(&["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(
            err(&["--link", "--link"]),
            "duplicate flag specified: --link"
        );
    }

    #[test]
    fn double_dash_ends_flags() {
        let mut f = flags(&["--link", "--", "--bogus"]);
        f.parse().unwrap();
        assert!(f.bool("link"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            with_suggestion("e".into(), "copx", &["COPY", "RUN"], false),
            "e (did you mean copy?)"
        );
        assert_eq!(
            with_suggestion("e".into(), "RUNN", &["COPY", "RUN"], false),
            "e (did you mean RUN?)"
        );
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
