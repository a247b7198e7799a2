//! `import`: a root filesystem tarball becomes a one-layer image, with
//! Dockerfile-style `--change` instructions applied to its config.

use std::collections::BTreeMap;
use std::io::Read;

use berth_store::{LockMode, Scratch};
use serde_json::Value;

use crate::config::{go_rfc3339_nano, ContainerConfig, History, ImageConfig, RootFs};
use crate::ingest::{self, PendingImage};
use crate::reference::Reference;
use crate::store::ImageStore;
use crate::{Error, Result};

/// The `docker_version` Docker records in configs it creates; berth writes
/// its own version there.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Apply `--change` lines to a config, as `docker import/commit -c` does.
pub fn apply_changes(cfg: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    for line in changes {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (instr, rest) = match line.split_once(|c: char| c.is_whitespace()) {
            Some((i, r)) => (i, r.trim()),
            None => (line, ""),
        };
        let lower = instr.to_ascii_lowercase();
        match lower.as_str() {
            "cmd" => cfg.cmd = Some(command_form(rest)),
            "entrypoint" => cfg.entrypoint = Some(command_form(rest)),
            "env" => {
                let env = cfg.env.get_or_insert_with(Vec::new);
                for (k, v) in key_values(rest, "ENV")? {
                    env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "label" => {
                let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in key_values(rest, "LABEL")? {
                    labels.insert(k, v);
                }
            }
            "expose" => {
                let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in words(rest)? {
                    for port in expand_port(&p)? {
                        ports.insert(port, Value::Object(Default::default()));
                    }
                }
            }
            "volume" => {
                let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
                let list = match serde_json::from_str::<Vec<String>>(rest) {
                    Ok(v) => v,
                    Err(_) => words(rest)?,
                };
                for v in list {
                    if v.is_empty() {
                        return Err(Error::InvalidArgument(
                            "VOLUME specified can not be an empty string".into(),
                        ));
                    }
                    vols.insert(v, Value::Object(Default::default()));
                }
            }
            "user" => cfg.user = rest.to_string(),
            "workdir" => {
                let w = if rest.starts_with('/') || cfg.working_dir.is_empty() {
                    rest.to_string()
                } else {
                    format!("{}/{}", cfg.working_dir.trim_end_matches('/'), rest)
                };
                cfg.working_dir = if w.starts_with('/') {
                    w
                } else {
                    format!("/{w}")
                };
            }
            "onbuild" => {
                let trig = rest.trim();
                let first = trig
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                if matches!(first.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                    return Err(Error::InvalidArgument(format!(
                        "{first} isn't allowed as an ONBUILD trigger"
                    )));
                }
                cfg.on_build
                    .get_or_insert_with(Vec::new)
                    .push(trig.to_string());
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{lower} is not a valid change command"
                )));
            }
        }
    }
    Ok(())
}

/// JSON array form, or shell form wrapped in `/bin/sh -c`.
fn command_form(rest: &str) -> Vec<String> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return v;
        }
    }
    vec!["/bin/sh".into(), "-c".into(), rest.to_string()]
}

/// Split on whitespace, honouring quotes and backslashes.
fn words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(Error::InvalidArgument(format!(
            "unexpected end of statement while looking for matching quote: {s}"
        )));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `k=v k2="v 2"` pairs, or the legacy `KEY value with spaces` form.
fn key_values(rest: &str, instr: &str) -> Result<Vec<(String, String)>> {
    let ws = words(rest)?;
    if ws.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{instr} requires at least one argument"
        )));
    }
    if !ws[0].contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| Error::InvalidArgument(format!("{instr} must have two arguments")))?;
        return Ok(vec![(k.to_string(), words(v.trim())?.join(" "))]);
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::InvalidArgument(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ))),
        })
        .collect()
}

fn expand_port(p: &str) -> Result<Vec<String>> {
    let (range, proto) = match p.split_once('/') {
        Some((r, pr)) => (r, pr.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    let bad = || Error::InvalidArgument(format!("invalid containerPort: {range}"));
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let v = range.parse::<u16>().map_err(|_| bad())?;
            (v, v)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

pub struct ImportOptions {
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub tag: Option<Reference>,
}

/// Import a rootfs tarball (any supported compression). Returns the image
/// ID and, when a tag moved, the image it was taken from.
pub fn import<R: Read>(
    store: &ImageStore,
    input: R,
    opts: ImportOptions,
) -> Result<(berth_store::Digest, Option<berth_store::Digest>)> {
    // Validate changes before reading a possibly large input.
    let mut cc = ContainerConfig::default();
    apply_changes(&mut cc, &opts.changes)?;
    let layout = store.layout().clone();
    let _gc = store.gc_guard(LockMode::Shared)?;
    let scratch = Scratch::new(&layout, "import")?;
    let layer = ingest::ingest_layer(&scratch, input)
        .map_err(|e| Error::Archive(format!("Error processing tar file: {e}")))?;
    let now = go_rfc3339_nano(&chrono::Utc::now());
    let comment = opts
        .message
        .unwrap_or_else(|| "Imported from -".to_string());
    let cfg = ImageConfig {
        architecture: crate::host_arch().to_string(),
        comment: Some(comment.clone()),
        config: Some(cc),
        container_config: Some(ContainerConfig::default()),
        created: Some(now.clone()),
        docker_version: Some(ENGINE_VERSION.to_string()),
        history: vec![History {
            created: Some(now),
            comment: Some(comment),
            ..Default::default()
        }],
        os: "linux".into(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.diff_id.clone()],
        },
        ..Default::default()
    };
    let config_bytes = serde_json::to_vec(&cfg).map_err(|e| Error::Archive(e.to_string()))?;
    let img = PendingImage {
        config_bytes,
        layers: vec![0],
        tags: opts.tag.into_iter().collect(),
        repo_digests: Vec::new(),
    };
    ingest::verify(&img, std::slice::from_ref(&layer))?;
    let mut done = ingest::commit(store, &scratch, vec![layer], vec![img])?;
    let c = done.remove(0);
    let moved = c.tags.into_iter().find_map(|(_, old)| old);
    Ok((c.id, moved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_match_docker() {
        let mut c = ContainerConfig::default();
        let ch: Vec<String> = [
            "EXPOSE 80 53/udp",
            r#"LABEL a=b c="d e""#,
            "ENTRYPOINT /bin/sh",
            "VOLUME /data",
            "WORKDIR /w",
            "USER nobody",
            "ONBUILD RUN x",
            r#"ENV X=1 Y="2 3""#,
            "ENV Z 4 5",
            r#"CMD ["sh"]"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        apply_changes(&mut c, &ch).unwrap();
        let j = serde_json::to_string(&c).unwrap();
        assert!(
            j.contains(r#""ExposedPorts":{"53/udp":{},"80/tcp":{}}"#),
            "{j}"
        );
        assert!(j.contains(r#""Env":["X=1","Y=2 3","Z=4 5"]"#), "{j}");
        assert!(
            j.contains(r#""Entrypoint":["/bin/sh","-c","/bin/sh"]"#),
            "{j}"
        );
        assert!(j.contains(r#""Labels":{"a":"b","c":"d e"}"#), "{j}");
        assert!(j.contains(r#""Cmd":["sh"]"#), "{j}");
        let e = apply_changes(&mut c, &["FROM x".to_string()]).unwrap_err();
        assert_eq!(e.to_string(), "from is not a valid change command");
    }
}
