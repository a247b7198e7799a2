//! Output the way the docker CLI prints it: Go templates with Docker's
//! extra functions, `table` formats, its tabwriter settings, and the
//! go-units renderings of sizes and durations.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{Template, Value};

/// Hidden key holding an object's JSON in its original field order; Go
/// templates see maps sorted, but `{{json .Config}}` must print struct order.
const ORDERED_JSON: &str = "\u{0}json";

/// Convert JSON into template data, remembering field order where it is
/// not already alphabetical.
pub fn to_template_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::Uint(u),
            _ => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::String(s.as_str().into()),
        serde_json::Value::Array(a) => {
            Value::List(a.iter().map(to_template_value).collect::<Vec<_>>().into())
        }
        serde_json::Value::Object(o) => {
            let mut m: BTreeMap<Arc<str>, Value> = o
                .iter()
                .map(|(k, v)| (Arc::from(k.as_str()), to_template_value(v)))
                .collect();
            let sorted = o.keys().zip(o.keys().skip(1)).all(|(a, b)| a <= b);
            if !sorted {
                m.insert(Arc::from(ORDERED_JSON), Value::String(json_go(v).into()));
            }
            Value::Map(Arc::new(m))
        }
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Into::into)
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(l) => l.iter().map(to_json).collect(),
        Value::Map(m) => {
            if let Some(Value::String(s)) = m.get(ORDERED_JSON) {
                if let Ok(v) = serde_json::from_str(s) {
                    return v;
                }
            }
            m.iter()
                .filter(|(k, _)| &***k != ORDERED_JSON)
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        }
        other => serde_json::Value::String(other.to_string()),
    }
}

/// JSON as Go's `json.Marshal` writes it: compact, with `<`, `>`, `&`
/// escaped (the docker CLI's `json` template function does this).
pub fn json_go(v: &serde_json::Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn arg_str(args: &[Value], i: usize) -> String {
    args.get(i).map(|v| v.to_string()).unwrap_or_default()
}

/// A parsed `--format` value.
pub struct Format {
    template: Template,
    pub table: bool,
}

impl Format {
    /// Parse as the docker CLI does: `table ` prefix, `\t` and `\n` escapes.
    pub fn parse(raw: &str) -> anyhow::Result<Format> {
        let (table, body) = match raw.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => (true, rest),
            _ => (false, raw),
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let template = Template::new("")
            .func("json", |a| {
                Ok(Value::String(
                    json_go(&to_json(a.first().unwrap_or(&Value::Nil))).into(),
                ))
            })
            .func("join", |a| {
                let sep = arg_str(a, 1);
                let items: Vec<String> = match a.first() {
                    Some(Value::List(l)) => l.iter().map(|v| v.to_string()).collect(),
                    Some(v) => vec![v.to_string()],
                    None => vec![],
                };
                Ok(Value::String(items.join(&sep).into()))
            })
            .func("split", |a| {
                let s = arg_str(a, 0);
                let sep = arg_str(a, 1);
                Ok(Value::List(
                    s.split(sep.as_str())
                        .map(|p| Value::String(p.into()))
                        .collect::<Vec<_>>()
                        .into(),
                ))
            })
            .func("upper", |a| {
                Ok(Value::String(arg_str(a, 0).to_uppercase().into()))
            })
            .func("lower", |a| {
                Ok(Value::String(arg_str(a, 0).to_lowercase().into()))
            })
            .func("title", |a| {
                let s = arg_str(a, 0);
                let mut c = s.chars();
                let t = match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => String::new(),
                };
                Ok(Value::String(t.into()))
            })
            .func("pad", |a| {
                let n = |i: usize| match a.get(i) {
                    Some(Value::Int(v)) => *v as usize,
                    Some(Value::Uint(v)) => *v as usize,
                    _ => 0,
                };
                Ok(Value::String(
                    format!("{}{}{}", " ".repeat(n(1)), arg_str(a, 0), " ".repeat(n(2))).into(),
                ))
            })
            .func("truncate", |a| {
                let n = match a.get(1) {
                    Some(Value::Int(v)) => *v as usize,
                    Some(Value::Uint(v)) => *v as usize,
                    _ => usize::MAX,
                };
                Ok(Value::String(
                    arg_str(a, 0).chars().take(n).collect::<String>().into(),
                ))
            })
            .parse(&body)
            .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
        Ok(Format { template, table })
    }

    pub fn render(&self, data: &serde_json::Value) -> anyhow::Result<String> {
        self.template
            .execute_to_string(&to_template_value(data))
            .map_err(|e| anyhow::anyhow!("template: {e}"))
    }
}

/// Go's text/tabwriter with the docker CLI's settings (minwidth 10,
/// padding 3, spaces): every column but the last is padded to its widest
/// cell plus 3, and to at least 10.
pub fn tabwrite(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max((c.chars().count() + 3).max(10));
            }
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Go's `%.{prec}g` for the magnitudes sizes take.
fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let rounded = format!("{:.*e}", prec - 1, v);
    // Re-derive the exponent after rounding (999.9 -> 1.00e3).
    let exp = rounded
        .split('e')
        .nth(1)
        .and_then(|e| e.parse::<i32>().ok())
        .unwrap_or(exp);
    if exp < -4 || exp >= prec as i32 {
        let (m, e) = rounded.split_once('e').unwrap_or((&rounded, "0"));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

fn size_and_unit(size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    let mut s = size;
    while s >= base && i < units.len() - 1 {
        s /= base;
        i += 1;
    }
    (s, units[i])
}

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units `HumanSizeWithPrecision`.
pub fn human_size_prec(size: f64, prec: usize) -> String {
    let (s, u) = size_and_unit(size, 1000.0, &DECIMAL);
    format!("{}{u}", go_g(s, prec))
}

/// go-units `HumanSize` (precision 4).
pub fn human_size(size: f64) -> String {
    human_size_prec(size, 4)
}

/// go-units `BytesSize`.
pub fn bytes_size(size: f64) -> String {
    let (s, u) = size_and_unit(size, 1024.0, &BINARY);
    format!("{}{u}", go_g(s, 4))
}

/// go-units `HumanDuration`.
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    let mins = d.num_minutes();
    let hours = (d.num_milliseconds() as f64 / 3_600_000.0 + 0.5) as i64;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if mins == 1 {
        "About a minute".into()
    } else if mins < 60 {
        format!("{mins} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", d.num_hours() / 24 / 365)
    }
}

/// "N ago" for a Unix time, as `images` and `history` print it.
pub fn since(unix: i64) -> String {
    if unix <= 0 {
        return "N/A".into();
    }
    let t = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    format!("{} ago", human_duration(chrono::Utc::now() - t))
}

/// Go's `time.Time.String()` for a Unix time, in UTC.
pub fn go_time_string(unix: i64) -> String {
    let t = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// stringutils.Ellipsis.
pub fn ellipsis(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_string();
    }
    if max < 1 {
        return String::new();
    }
    chars[..max - 1].iter().collect::<String>() + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_go_units() {
        assert_eq!(human_size_prec(1_982_291.0, 3), "1.98MB");
        assert_eq!(human_size(1_982_291.0), "1.982MB");
        assert_eq!(human_size_prec(0.0, 3), "0B");
        assert_eq!(human_size_prec(1000.0, 3), "1kB");
        assert_eq!(human_size_prec(123_456_789.0, 3), "123MB");
        assert_eq!(human_size_prec(999.9, 3), "1e+03B");
        assert_eq!(bytes_size(24_000_000_000.0), "22.35GiB");
    }

    #[test]
    fn durations_match_go_units() {
        assert_eq!(
            human_duration(chrono::Duration::milliseconds(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(chrono::Duration::seconds(6)), "6 seconds");
        assert_eq!(
            human_duration(chrono::Duration::seconds(90)),
            "About a minute"
        );
        assert_eq!(human_duration(chrono::Duration::hours(50)), "2 days");
        assert_eq!(human_duration(chrono::Duration::days(120)), "4 months");
    }

    #[test]
    fn tabwriter_matches_docker() {
        let out = tabwrite(&[
            "REPOSITORY\tTAG\tIMAGE ID".into(),
            "bbtest\tv1\tfd4bc1b30c27".into(),
        ]);
        assert_eq!(
            out,
            "REPOSITORY   TAG       IMAGE ID\nbbtest       v1        fd4bc1b30c27\n"
        );
    }

    #[test]
    fn templates_keep_struct_order_in_json() {
        let v = serde_json::json!({"Id": "x", "Config": {"Hostname": "", "Env": ["A=<b>"]}});
        let f = Format::parse("{{.Id}} {{json .Config}} {{join .Config.Env \",\"}}").unwrap();
        assert_eq!(
            f.render(&v).unwrap(),
            r#"x {"Hostname":"","Env":["A=\u003cb\u003e"]} A=<b>"#
        );
    }
}
