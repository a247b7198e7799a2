//! `RUN --mount=...` and `RUN --device=...` values, parsed like BuildKit.
//!
//! BuildKit parses a mount twice: at parse time without expansion (only
//! `from` is looked at, since a stage reference cannot use variables) and
//! again at dispatch with the step's variables, which is when every key
//! is checked. [`parse_mount`] does either, depending on `expander`.

use super::bflag::with_suggestion;
use super::WordExpander;

/// What a `--mount` provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MountType {
    #[default]
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    /// The name written in the Dockerfile.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bind" => MountType::Bind,
            "cache" => MountType::Cache,
            "tmpfs" => MountType::Tmpfs,
            "secret" => MountType::Secret,
            "ssh" => MountType::Ssh,
            _ => return None,
        })
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareMode {
    Shared,
    Private,
    Locked,
}

impl ShareMode {
    /// The name written in the Dockerfile.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareMode::Shared => "shared",
            ShareMode::Private => "private",
            ShareMode::Locked => "locked",
        }
    }
}

/// One `--mount` of a RUN step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mount {
    pub mount_type: MountType,
    pub from: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// tmpfs `size` in bytes, 0 when not given.
    pub size_limit: i64,
    /// The `id` key (cache id, or secret / ssh id).
    pub cache_id: String,
    pub cache_sharing: Option<ShareMode>,
    pub required: bool,
    /// Secret exposed as this environment variable (`env=`).
    pub env: Option<String>,
    pub mode: Option<u64>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
}

/// One `--device` of a RUN step (CDI device name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Device {
    pub name: String,
    pub required: bool,
}

const MOUNT_KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// Parses one `--mount` value; see the module doc for `expander`.
pub fn parse_mount(val: &str, mut expander: Option<&mut WordExpander>) -> Result<Mount, String> {
    let fields = csv_fields(val).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = Mount::default();
    let mut ro_auto = true;

    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v.to_string())),
            None => (field.to_lowercase(), None),
        };
        let Some(mut value) = value else {
            if expander.is_none() {
                continue;
            }
            match key.as_str() {
                "readonly" | "ro" => {
                    m.read_only = true;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = false;
                    ro_auto = false;
                }
                "required" => {
                    if matches!(m.mount_type, MountType::Secret | MountType::Ssh) {
                        m.required = true;
                    } else {
                        return Err(unexpected_key(&key, m.mount_type));
                    }
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };

        if let Some(exp) = expander.as_mut() {
            value = exp(&value)?;
        } else if key == "from" {
            // A `$` anywhere but at the end would be a variable.
            if value.find('$').is_some_and(|i| i != value.len() - 1) {
                return Err(format!(
                    "'{key}' doesn't support variable expansion, define alias stage instead"
                ));
            }
        } else {
            continue;
        }

        let bad_value = || format!("invalid value for {key}: {value}");
        match key.as_str() {
            "type" => match MountType::parse(&value.to_lowercase()) {
                Some(t) => m.mount_type = t,
                None => {
                    return Err(with_suggestion(
                        format!("unsupported mount type {}", super::go_quote(&value)),
                        &value,
                        &["bind", "cache", "secret", "ssh", "tmpfs"],
                        true,
                    ))
                }
            },
            "from" => m.from = value,
            "source" | "src" => m.source = value,
            "target" | "dst" | "destination" => m.target = value,
            "readonly" | "ro" => {
                m.read_only = parse_go_bool(&value).ok_or_else(bad_value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !parse_go_bool(&value).ok_or_else(bad_value)?;
                ro_auto = false;
            }
            "required" => {
                if matches!(m.mount_type, MountType::Secret | MountType::Ssh) {
                    m.required = parse_go_bool(&value).ok_or_else(bad_value)?;
                } else {
                    return Err(unexpected_key(&key, m.mount_type));
                }
            }
            "size" => {
                if m.mount_type == MountType::Tmpfs {
                    m.size_limit = ram_in_bytes(&value).ok_or_else(bad_value)?;
                } else {
                    return Err(unexpected_key(&key, m.mount_type));
                }
            }
            "id" => m.cache_id = value,
            "sharing" => {
                m.cache_sharing = Some(match value.to_lowercase().as_str() {
                    "shared" => ShareMode::Shared,
                    "private" => ShareMode::Private,
                    "locked" => ShareMode::Locked,
                    _ => {
                        return Err(with_suggestion(
                            format!("unsupported sharing value {}", super::go_quote(&value)),
                            &value,
                            &["locked", "private", "shared"],
                            true,
                        ))
                    }
                })
            }
            "mode" => {
                m.mode = Some(
                    parse_uint32(&value, 8)
                        .ok_or_else(|| format!("invalid value {value} for mode"))?,
                )
            }
            "uid" => {
                m.uid = Some(
                    parse_uint32(&value, 10)
                        .ok_or_else(|| format!("invalid value {value} for uid"))?,
                )
            }
            "gid" => {
                m.gid = Some(
                    parse_uint32(&value, 10)
                        .ok_or_else(|| format!("invalid value {value} for gid"))?,
                )
            }
            "env" => m.env = Some(value),
            _ => {
                return Err(with_suggestion(
                    format!("unexpected key '{key}' in '{field}'"),
                    &key,
                    MOUNT_KEYS,
                    true,
                ))
            }
        }
    }

    let file_info_allowed = matches!(
        m.mount_type,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    if !file_info_allowed {
        let t = super::go_quote(m.mount_type.as_str());
        if m.mode.is_some() {
            return Err(format!("mode not allowed for {t} type mounts"));
        }
        if m.uid.is_some() {
            return Err(format!("uid not allowed for {t} type mounts"));
        }
        if m.gid.is_some() {
            return Err(format!("gid not allowed for {t} type mounts"));
        }
    }

    if ro_auto {
        m.read_only = !matches!(m.mount_type, MountType::Cache | MountType::Tmpfs);
    }

    if m.mount_type == MountType::Secret {
        if !m.from.is_empty() {
            return Err("secret mount should not have a from".into());
        }
        if m.cache_sharing.is_some() {
            return Err("secret mount should not define sharing".into());
        }
        if m.source.is_empty() && m.target.is_empty() && m.cache_id.is_empty() {
            return Err("invalid secret mount. one of source, target required".into());
        }
        if !m.source.is_empty() && !m.cache_id.is_empty() {
            return Err("both source and id can't be set".into());
        }
    }

    if m.cache_sharing.is_some() && m.mount_type != MountType::Cache {
        return Err(format!(
            "invalid cache sharing set for {} mount",
            m.mount_type.as_str()
        ));
    }
    Ok(m)
}

fn unexpected_key(key: &str, t: MountType) -> String {
    format!("unexpected key '{key}' for mount type '{}'", t.as_str())
}

/// Parses one `--device` value: `name[,required[=bool]]` or `name=x`.
pub fn parse_device(val: &str) -> Result<Device, String> {
    let fields = csv_fields(val).map_err(|e| format!("failed to parse csv devices: {e}"))?;
    let mut d = Device::default();
    for field in &fields {
        let Some((key, value)) = field.split_once('=') else {
            if field.to_lowercase() == "required" {
                d.required = true;
            } else if d.name.is_empty() {
                d.name = field.clone();
            } else {
                return Err(format!("invalid field '{field}' must be a key=value pair"));
            }
            continue;
        };
        let key = key.to_lowercase();
        match key.as_str() {
            "name" => {
                if !d.name.is_empty() {
                    return Err(format!("device name already set to {}", d.name));
                }
                d.name = value.to_string();
            }
            "required" => {
                d.required = parse_go_bool(value)
                    .ok_or_else(|| format!("invalid value for {key}: {value}"))?;
            }
            _ => {
                if d.name.is_empty() {
                    d.name = field.clone();
                    continue;
                }
                return Err(with_suggestion(
                    format!("unexpected key '{key}' in '{field}'"),
                    &key,
                    &["name", "required"],
                    true,
                ));
            }
        }
    }
    Ok(d)
}

/// One CSV record the way BuildKit's `csvvalue.Fields` reads it; the error
/// text is Go's `csv.ParseError`.
pub(crate) fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let line = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    if line.is_empty() {
        return Err("EOF".into());
    }
    let err = |pos: usize, what: &str| format!("parse error on line 1, column {}: {what}", pos + 1);
    let bare = "bare \" in non-quoted-field";
    let quote = "extraneous or missing \" in quoted-field";
    let mut out = Vec::new();
    let mut rest = line;
    let mut pos = 0;
    'field: loop {
        if !rest.starts_with('"') {
            let (field, next) = match rest.find(',') {
                Some(i) => (&rest[..i], Some(i)),
                None => (rest, None),
            };
            if let Some(j) = field.find('"') {
                return Err(err(pos + j, bare));
            }
            out.push(field.to_string());
            match next {
                Some(i) => {
                    rest = &rest[i + 1..];
                    pos += i + 1;
                    continue;
                }
                None => break,
            }
        }
        rest = &rest[1..];
        pos += 1;
        let mut half_open = false;
        loop {
            let Some(i) = rest.find('"') else {
                return Err(err(pos, quote));
            };
            if half_open {
                if let Some(last) = out.last_mut() {
                    last.push_str(&rest[..i]);
                }
            } else {
                out.push(rest[..i].to_string());
            }
            rest = &rest[i + 1..];
            pos += i + 1;
            if rest.starts_with('"') {
                if let Some(last) = out.last_mut() {
                    last.push('"');
                }
                rest = &rest[1..];
                pos += 1;
                half_open = true;
            } else if rest.starts_with(',') {
                rest = &rest[1..];
                pos += 1;
                continue 'field;
            } else if rest.is_empty() {
                break 'field;
            } else {
                return Err(err(pos - 1, quote));
            }
        }
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(s, radix, 32)`: digits only, no sign or prefix.
fn parse_uint32(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() || !s.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(s, radix)
        .ok()
        .filter(|v| *v <= u64::from(u32::MAX))
}

/// docker/go-units `RAMInBytes`: a number with an optional binary suffix
/// (`k`, `m`, `g`, `t`, `p`, optionally followed by `b` or `ib`).
pub(crate) fn ram_in_bytes(s: &str) -> Option<i64> {
    let sep = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, sfx) = if s.as_bytes()[sep] != b' ' {
        (&s[..=sep], &s[sep + 1..])
    } else {
        (&s[..sep], &s[sep + 1..])
    };
    let size: f64 = num.parse().ok()?;
    if size < 0.0 {
        return None;
    }
    if sfx.is_empty() {
        return Some(size as i64);
    }
    if sfx.len() > 3 {
        return None;
    }
    let sfx = sfx.to_lowercase();
    let first = sfx.chars().next()?;
    if first == 'b' {
        return (sfx.len() == 1).then_some(size as i64);
    }
    let exp = "kmgtp".find(first)? as i32 + 1;
    if (sfx.len() == 2 && &sfx[1..] != "b") || (sfx.len() == 3 && &sfx[1..] != "ib") {
        return None;
    }
    Some((size * 1024f64.powi(exp)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(val: &str) -> Result<Mount, String> {
        let mut id = |w: &str| -> Result<String, String> { Ok(w.to_string()) };
        parse_mount(val, Some(&mut id))
    }

    #[test]
    fn bind_defaults_read_only() {
        let m = full("target=/src,source=ctx,from=build").unwrap();
        assert_eq!(m.mount_type, MountType::Bind);
        assert_eq!((m.target.as_str(), m.source.as_str()), ("/src", "ctx"));
        assert_eq!(m.from, "build");
        assert!(m.read_only);
        assert!(!full("dst=/x,rw").unwrap().read_only);
        assert!(!full("dst=/x,readwrite=true").unwrap().read_only);
        assert!(full("dst=/x,rw=0").unwrap().read_only);
    }

    #[test]
    fn cache_keys() {
        let m =
            full("type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1000,gid=1")
                .unwrap();
        assert_eq!(m.mount_type, MountType::Cache);
        assert!(!m.read_only);
        assert_eq!(m.cache_id, "pip");
        assert_eq!(m.cache_sharing, Some(ShareMode::Locked));
        assert_eq!((m.mode, m.uid, m.gid), (Some(0o755), Some(1000), Some(1)));
        assert!(full("type=cache,dst=/c,ro").unwrap().read_only);
    }

    #[test]
    fn tmpfs_secret_ssh() {
        let m = full("type=tmpfs,target=/t,size=64m").unwrap();
        assert_eq!(m.size_limit, 64 << 20);
        assert!(!m.read_only);
        let m = full("type=secret,id=tok,env=TOKEN,required").unwrap();
        assert_eq!(
            (m.cache_id.as_str(), m.env.as_deref()),
            ("tok", Some("TOKEN"))
        );
        assert!(m.required && m.read_only);
        let m = full("type=ssh,required=false").unwrap();
        assert_eq!(m.mount_type, MountType::Ssh);
        assert!(!m.required);
    }

    #[test]
    fn mount_errors() {
        let e = |v: &str| full(v).unwrap_err();
        assert_eq!(
            e("type=bnd"),
            "unsupported mount type \"bnd\" (did you mean bind?)"
        );
        assert_eq!(e("type=cache,sharing=x"), "unsupported sharing value \"x\"");
        assert_eq!(
            e("target=/x,bogus=1"),
            "unexpected key 'bogus' in 'bogus=1'"
        );
        assert_eq!(
            e("target=/x,trget=1"),
            "unexpected key 'trget' in 'trget=1' (did you mean target?)"
        );
        assert_eq!(
            e("target=/x,foo"),
            "invalid field 'foo' must be a key=value pair"
        );
        assert_eq!(
            e("required"),
            "unexpected key 'required' for mount type 'bind'"
        );
        assert_eq!(e("size=1m"), "unexpected key 'size' for mount type 'bind'");
        assert_eq!(e("type=tmpfs,size=lots"), "invalid value for size: lots");
        assert_eq!(e("ro=maybe"), "invalid value for ro: maybe");
        assert_eq!(e("type=cache,mode=9"), "invalid value 9 for mode");
        assert_eq!(e("uid=1"), "uid not allowed for \"bind\" type mounts");
        assert_eq!(
            e("type=secret"),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            e("type=secret,id=a,src=b"),
            "both source and id can't be set"
        );
        assert_eq!(
            e("type=secret,id=a,from=x"),
            "secret mount should not have a from"
        );
        assert_eq!(
            e("type=secret,id=a,sharing=shared"),
            "secret mount should not define sharing"
        );
        assert_eq!(
            e("sharing=shared"),
            "invalid cache sharing set for bind mount"
        );
        assert_eq!(e(""), "failed to parse csv mounts: EOF");
    }

    #[test]
    fn parse_time_pass_only_checks_from() {
        let m = parse_mount("type=cache,target=$T,from=stage,bogus", None).unwrap();
        assert_eq!(m.mount_type, MountType::Bind);
        assert_eq!(m.from, "stage");
        assert!(m.target.is_empty());
        assert_eq!(
            parse_mount("from=$STAGE", None).unwrap_err(),
            "'from' doesn't support variable expansion, define alias stage instead"
        );
        assert!(parse_mount("from=st$", None).is_ok());
    }

    #[test]
    fn expander_runs_on_values() {
        let mut exp = |w: &str| -> Result<String, String> { Ok(w.replace("$T", "/tgt")) };
        let m = parse_mount("type=cache,target=$T", Some(&mut exp)).unwrap();
        assert_eq!(m.target, "/tgt");
    }

    #[test]
    fn devices() {
        let d = parse_device("vendor.com/gpu=all,required").unwrap();
        assert_eq!(d.name, "vendor.com/gpu=all");
        assert!(d.required);
        let d = parse_device("name=x,required=false").unwrap();
        assert_eq!((d.name.as_str(), d.required), ("x", false));
        assert_eq!(
            parse_device("a,b").unwrap_err(),
            "invalid field 'b' must be a key=value pair"
        );
        assert_eq!(
            parse_device("a,name=b").unwrap_err(),
            "device name already set to a"
        );
    }

    #[test]
    fn csv_like_go() {
        assert_eq!(csv_fields("a,b=c,,d").unwrap(), ["a", "b=c", "", "d"]);
        assert_eq!(csv_fields("\"a,b\",\"x\"\"y\"").unwrap(), ["a,b", "x\"y"]);
        assert_eq!(csv_fields("a\n").unwrap(), ["a"]);
        assert_eq!(
            csv_fields("ab\"c").unwrap_err(),
            "parse error on line 1, column 3: bare \" in non-quoted-field"
        );
        assert_eq!(
            csv_fields("\"ab\"c").unwrap_err(),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            csv_fields("\"ab").unwrap_err(),
            "parse error on line 1, column 2: extraneous or missing \" in quoted-field"
        );
    }

    #[test]
    fn ram_sizes() {
        assert_eq!(ram_in_bytes("10"), Some(10));
        assert_eq!(ram_in_bytes("1k"), Some(1024));
        assert_eq!(ram_in_bytes("1KiB"), Some(1024));
        assert_eq!(ram_in_bytes("1.5 MB"), Some(1536 * 1024));
        assert_eq!(ram_in_bytes("2g"), Some(2 << 30));
        assert_eq!(ram_in_bytes("3b"), Some(3));
        assert_eq!(ram_in_bytes("1x"), None);
        assert_eq!(ram_in_bytes("1kb2"), None);
        assert_eq!(ram_in_bytes("m"), None);
        assert_eq!(ram_in_bytes("-1"), None);
    }
}
