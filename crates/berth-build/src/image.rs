//! The image a stage is building: config, layers and history, and how
//! BuildKit writes them out (field order, history times).

use std::collections::BTreeMap;

use berth_image::config::{ContainerConfig, History, ImageConfig};
use berth_image::store::LayerRecord;
use serde_json::{json, Map, Value};

/// The comment BuildKit's Dockerfile frontend puts on its history entries.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// The PATH BuildKit sets when the base image has none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Default)]
pub struct ImageState {
    pub config: ContainerConfig,
    pub layers: Vec<LayerRecord>,
    pub history: Vec<History>,
    pub architecture: String,
    pub os: String,
    pub variant: Option<String>,
    /// MAINTAINER.
    pub author: Option<String>,
}

impl ImageState {
    /// A stage's starting point: the base image's config (or nothing for
    /// `scratch`), with BuildKit's default PATH when the base has none.
    pub fn from_base(base: Option<(&ImageConfig, &[LayerRecord])>) -> ImageState {
        let mut s = match base {
            Some((cfg, layers)) => ImageState {
                config: cfg.config.clone().unwrap_or_default(),
                layers: layers.to_vec(),
                history: cfg.history.clone(),
                architecture: cfg.architecture.clone(),
                os: cfg.os.clone(),
                variant: cfg.variant.clone(),
                author: None,
            },
            // BuildKit's empty image: PATH (below) and WORKDIR `/`.
            None => ImageState {
                architecture: berth_image::host_arch().to_string(),
                os: "linux".into(),
                config: ContainerConfig {
                    working_dir: "/".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        if s.architecture.is_empty() {
            s.architecture = berth_image::host_arch().to_string();
        }
        if s.os.is_empty() {
            s.os = "linux".into();
        }
        let env = s.config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, DEFAULT_PATH.to_string());
        }
        s
    }

    pub fn env(&self) -> &[String] {
        self.config.env.as_deref().unwrap_or(&[])
    }

    /// Set `KEY=value` in the config's Env, in place or appended.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let env = self.config.env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key) || e.as_str() == key)
        {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
    }

    /// A history entry for a step; metadata-only steps have no layer and
    /// get their time filled in at the end, as BuildKit does.
    pub fn add_history(&mut self, created_by: String, layer: Option<(LayerRecord, String)>) {
        let (created, empty) = match layer {
            Some((l, created)) => {
                self.layers.push(l);
                (Some(created), false)
            }
            None => (None, true),
        };
        self.history.push(History {
            created,
            author: None,
            created_by: Some(created_by),
            comment: Some(HISTORY_COMMENT.into()),
            empty_layer: empty,
        });
    }

    /// The config blob as BuildKit writes it: its key order, empty fields
    /// left out (but `OnBuild` always present), history times filled in.
    pub fn to_config_bytes(&self) -> Vec<u8> {
        let history = fill_history_times(self.history.clone());
        let created = history.iter().rev().find_map(|h| h.created.clone());
        let mut top = Map::new();
        top.insert("architecture".into(), json!(self.architecture));
        if let Some(a) = &self.author {
            top.insert("author".into(), json!(a));
        }
        top.insert("config".into(), buildkit_config(&self.config));
        if let Some(c) = created {
            top.insert("created".into(), json!(c));
        }
        top.insert("history".into(), json!(history));
        top.insert("os".into(), json!(self.os));
        let diff_ids: Vec<String> = self.layers.iter().map(|l| l.diff_id.to_string()).collect();
        top.insert(
            "rootfs".into(),
            json!({"type": "layers", "diff_ids": diff_ids}),
        );
        if let Some(v) = &self.variant {
            top.insert("variant".into(), json!(v));
        }
        serde_json::to_vec(&Value::Object(top)).unwrap_or_default()
    }
}

fn buildkit_config(c: &ContainerConfig) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    if !c.user.is_empty() {
        put("User", json!(c.user));
    }
    if let Some(p) = c.exposed_ports.as_ref().filter(|p| !p.is_empty()) {
        put("ExposedPorts", json!(p));
    }
    if let Some(e) = c.env.as_ref().filter(|e| !e.is_empty()) {
        put("Env", json!(e));
    }
    if let Some(e) = c.entrypoint.as_ref().filter(|e| !e.is_empty()) {
        put("Entrypoint", json!(e));
    }
    if let Some(e) = c.cmd.as_ref().filter(|e| !e.is_empty()) {
        put("Cmd", json!(e));
    }
    if let Some(v) = c.volumes.as_ref().filter(|v| !v.is_empty()) {
        put("Volumes", json!(v));
    }
    if !c.working_dir.is_empty() {
        put("WorkingDir", json!(c.working_dir));
    }
    if let Some(l) = c.labels.as_ref().filter(|l| !l.is_empty()) {
        put("Labels", json!(l));
    }
    if let Some(s) = c.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        put("StopSignal", json!(s));
    }
    if c.args_escaped == Some(true) {
        put("ArgsEscaped", json!(true));
    }
    if let Some(h) = &c.healthcheck {
        put("Healthcheck", h.clone());
    }
    put("OnBuild", json!(c.on_build));
    if let Some(s) = c.shell.as_ref().filter(|s| !s.is_empty()) {
        put("Shell", json!(s));
    }
    Value::Object(m)
}

/// BuildKit's rule for history times: an entry with a layer carries the
/// layer's time; an entry without one takes the time of the first layer
/// this build made if it comes before it, else that of the layer before it.
pub fn fill_history_times(mut history: Vec<History>) -> Vec<History> {
    let mut created: Option<String> = None;
    let mut seen_missing = false;
    for h in &history {
        match &h.created {
            Some(c) => {
                created = Some(c.clone());
                if seen_missing {
                    break;
                }
            }
            None => seen_missing = true,
        }
    }
    let mut seen_missing = false;
    for h in history.iter_mut() {
        match &h.created {
            Some(c) => {
                if seen_missing {
                    created = Some(c.clone());
                }
            }
            None => {
                seen_missing = true;
                h.created = created.clone();
            }
        }
    }
    history
}

/// Docker's `ExposedPorts` key for an EXPOSE word (`80` -> `80/tcp`).
pub fn port_key(p: &str) -> String {
    if p.contains('/') {
        p.to_lowercase()
    } else {
        format!("{p}/tcp")
    }
}

pub fn labels_mut(c: &mut ContainerConfig) -> &mut BTreeMap<String, String> {
    c.labels.get_or_insert_with(BTreeMap::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: Option<&str>) -> History {
        History {
            created: c.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn history_times_follow_buildkit() {
        // base, ENV, WORKDIR(layer), ARG, RUN(layer), EXPOSE
        let got = fill_history_times(vec![
            h(Some("base")),
            h(None),
            h(Some("wd")),
            h(None),
            h(Some("run")),
            h(None),
        ]);
        let c: Vec<&str> = got.iter().map(|x| x.created.as_deref().unwrap()).collect();
        assert_eq!(c, ["base", "wd", "wd", "wd", "run", "run"]);
        // No new layer at all: the last known time.
        let got = fill_history_times(vec![h(Some("base")), h(None), h(None)]);
        let c: Vec<&str> = got.iter().map(|x| x.created.as_deref().unwrap()).collect();
        assert_eq!(c, ["base", "base", "base"]);
    }
}
