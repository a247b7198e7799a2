//! Pruning: the filters dockerd's prune endpoints read, `container prune`,
//! and `system prune`, which runs each kind's prune in the docker CLI's
//! order (containers, networks, volumes, images, build cache).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use crate::builds::CachePruned;
use crate::types::DeleteItem;
use crate::volumes::VolumeFilters;
use crate::{Engine, Error, Result};

/// Filters of a prune request, as the docker CLI sends them: keys
/// lowercased, values trimmed, each value once (Go's `filters.Args`).
#[derive(Debug, Clone, Default)]
pub struct PruneFilters {
    args: BTreeMap<String, BTreeSet<String>>,
}

/// What a prune of containers or volumes removed.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// Container IDs or volume names, in removal order.
    pub removed: Vec<String>,
    pub reclaimed: u64,
}

impl PruneFilters {
    /// `key=value` arguments; one without `=` is refused with the docker
    /// CLI's wording (which it prints as a flag error).
    pub fn parse(raw: &[String]) -> Result<PruneFilters> {
        let mut f = PruneFilters::default();
        for r in raw {
            let Some((k, v)) = r.split_once('=') else {
                return Err(Error::invalid("bad format of filter (expected name=value)"));
            };
            f.args
                .entry(k.trim().to_ascii_lowercase())
                .or_default()
                .insert(v.trim().to_string());
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// `key=value` for each filter, sorted: what the confirmation prompt
    /// lists.
    pub fn describe(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .args
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
            .collect();
        // Sorted as whole strings (`label!=x` before `label=y`).
        all.sort();
        all
    }

    pub fn get(&self, key: &str) -> Vec<&str> {
        self.args
            .get(key)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.args.contains_key(key)
    }

    /// The filter with one key more (the docker CLI adds `dangling` to an
    /// image prune request).
    pub fn with(&self, key: &str, value: &str) -> PruneFilters {
        let mut f = self.clone();
        f.args
            .entry(key.to_string())
            .or_default()
            .insert(value.to_string());
        f
    }

    /// dockerd's `Validate`: every key must be one the endpoint accepts.
    pub fn validate(&self, accepted: &[&str]) -> Result<()> {
        match self.args.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(Error::invalid(format!("Invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// `until` as a point in time (a duration before now, a date, or Unix
    /// seconds); things created after it are kept.
    pub fn until(&self) -> Result<Option<SystemTime>> {
        let values = self.get("until");
        match values.as_slice() {
            [] => Ok(None),
            [v] => berth_logs::parse_time_arg(v, SystemTime::now())
                .map(Some)
                .map_err(|e| Error::invalid(e.to_string())),
            _ => Err(Error::invalid("more than one until filter specified")),
        }
    }

    /// `until` as the build cache reads it: a Go duration; records used
    /// within it are kept.
    pub fn keep_duration(&self) -> Result<Option<Duration>> {
        let cache_err = |m: String| Error::invalid(format!("failed to prune build cache: {m}"));
        let values = self.get("until");
        match values.as_slice() {
            [] => Ok(None),
            [v] => berth_logs::parse_go_duration(v)
                .map(|ns| Some(Duration::from_nanos(ns.max(0) as u64)))
                .map_err(|e| {
                    cache_err(format!(
                        "\"until\" filter expects a duration (e.g., '24h'): {e}"
                    ))
                }),
            _ => Err(cache_err("filters expect only one value".to_string())),
        }
    }

    /// dockerd's `matchLabels`: every `label` filter matches and not every
    /// `label!` filter does.
    pub fn matches_labels(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        let labels = labels.unwrap_or(&empty);
        if !match_kv_list(self.args.get("label"), labels) {
            return false;
        }
        !(self.args.contains_key("label!") && match_kv_list(self.args.get("label!"), labels))
    }

    /// The `label`/`label!` part, for volumes.
    pub fn volume_filters(&self) -> VolumeFilters {
        VolumeFilters::for_prune(self.get("label"), self.get("label!"))
    }
}

/// Go's `filters.Args.MatchKVList`: no filter matches everything; with
/// filters, an object without labels matches nothing; `k` needs the key,
/// `k=v` the value.
fn match_kv_list(filters: Option<&BTreeSet<String>>, labels: &BTreeMap<String, String>) -> bool {
    let Some(filters) = filters.filter(|f| !f.is_empty()) else {
        return true;
    };
    if labels.is_empty() {
        return false;
    }
    filters.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(f.as_str()),
    })
}

/// `system prune`'s options.
#[derive(Debug, Clone, Default)]
pub struct SystemPruneOptions {
    /// Unused images too, not just dangling ones; all build cache.
    pub all: bool,
    /// Unused volumes too.
    pub volumes: bool,
    pub filters: PruneFilters,
}

/// What `system prune` removed, section by section.
#[derive(Debug, Default)]
pub struct SystemPruned {
    pub containers: Pruned,
    /// Names of the removed networks.
    pub networks: Vec<String>,
    pub volumes: Pruned,
    pub images: Vec<DeleteItem>,
    pub images_reclaimed: u64,
    pub cache: CachePruned,
}

impl SystemPruned {
    pub fn reclaimed(&self) -> u64 {
        self.containers.reclaimed
            + self.volumes.reclaimed
            + self.images_reclaimed
            + self.cache.reclaimed
    }
}

/// The docker CLI refuses this combination before asking anything.
pub const UNTIL_WITH_VOLUMES: &str = "The \"until\" filter is not supported with \"--volumes\"";

/// Filters every container prune accepts (dockerd 20.10).
const CONTAINER_FILTERS: &[&str] = &["label", "label!", "until"];

fn created_time(rfc3339: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(SystemTime::from)
}

impl Engine {
    /// `container prune`: remove stopped containers (running and paused
    /// ones stay), newest first; the bytes are their writable layers.
    pub fn container_prune(&self, filters: &PruneFilters) -> Result<Pruned> {
        filters.validate(CONTAINER_FILTERS)?;
        let until = filters.until()?;
        let mut out = Pruned::default();
        for rec in self.container_list()? {
            if rec.state.running {
                continue;
            }
            if let Some(u) = until {
                if created_time(&rec.created).is_some_and(|c| c > u) {
                    continue;
                }
            }
            if !filters.matches_labels(rec.config.labels.as_ref()) {
                continue;
            }
            let (size, _) = self.container_size(&rec);
            // Started or removed meanwhile: not ours to prune (dockerd
            // skips such a container too).
            if self.container_remove(&rec.id, false).is_err() {
                continue;
            }
            out.reclaimed += size.max(0) as u64;
            out.removed.push(rec.id);
        }
        Ok(out)
    }

    /// `system prune`: containers, then unused custom networks, then (with `volumes`) every unused
    /// volume, then images, then build cache. Docker 20.10's CLI prunes
    /// volumes with API 1.41, which removes named volumes as well as
    /// anonymous ones; so does this. Every filter is checked before
    /// anything is removed (dockerd would reject a date `until` only at the
    /// build cache, after removing containers and images).
    pub fn system_prune(&self, opts: &SystemPruneOptions) -> Result<SystemPruned> {
        let f = &opts.filters;
        f.validate(CONTAINER_FILTERS)?;
        f.until()?;
        if opts.volumes && f.contains("until") {
            return Err(Error::invalid(UNTIL_WITH_VOLUMES));
        }
        f.keep_duration()?;
        let mut out = SystemPruned {
            containers: self.container_prune(f)?,
            ..Default::default()
        };
        out.networks = self.network_prune(f)?;
        if opts.volumes {
            let (removed, reclaimed) = self.volume_prune(true, &f.volume_filters())?;
            out.volumes = Pruned { removed, reclaimed };
        }
        let (images, reclaimed) = self.image_prune(opts.all, f)?;
        out.images = images;
        out.images_reclaimed = reclaimed;
        out.cache = self.builder_prune(opts.all, f)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(raw: &[&str]) -> PruneFilters {
        let raw: Vec<String> = raw.iter().map(|s| s.to_string()).collect();
        PruneFilters::parse(&raw).unwrap_or_default()
    }

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_match_as_dockerd_matches_them() {
        let l = labels(&[("a", "b"), ("c", "")]);
        assert!(filters(&[]).matches_labels(Some(&l)));
        assert!(filters(&[]).matches_labels(None));
        assert!(filters(&["label=a"]).matches_labels(Some(&l)));
        assert!(filters(&["label=a=b", "label=c"]).matches_labels(Some(&l)));
        assert!(!filters(&["label=a=x"]).matches_labels(Some(&l)));
        assert!(!filters(&["label=a"]).matches_labels(None));
        // label! excludes only when every label! filter matches.
        assert!(!filters(&["label!=a"]).matches_labels(Some(&l)));
        assert!(filters(&["label!=a", "label!=zz"]).matches_labels(Some(&l)));
        assert!(filters(&["label!=a"]).matches_labels(None));
    }

    #[test]
    fn filters_are_checked_with_dockerds_words() {
        let f = filters(&[" Until = 1h", "label=x", "label=x", "label!=y"]);
        assert_eq!(f.describe(), ["label!=y", "label=x", "until=1h"]);
        let e = filters(&["dangling=true"]).validate(CONTAINER_FILTERS);
        assert_eq!(
            e.err().map(|e| e.message).as_deref(),
            Some("Invalid filter 'dangling'")
        );
        let e = filters(&["until=1h", "until=2h"]).until();
        assert_eq!(
            e.err().map(|e| e.message).as_deref(),
            Some("more than one until filter specified")
        );
        let e = filters(&["until=xyz"]).until();
        assert_eq!(
            e.err().map(|e| e.message).as_deref(),
            Some("failed to parse value as time or duration: \"xyz\"")
        );
        let e = filters(&["until=2020-01-01"]).keep_duration();
        assert_eq!(
            e.err().map(|e| e.message).as_deref(),
            Some("failed to prune build cache: \"until\" filter expects a duration (e.g., '24h'): time: unknown unit \"-\" in duration \"2020-01-01\"")
        );
        assert_eq!(
            filters(&["until=90s"]).keep_duration().ok().flatten(),
            Some(Duration::from_secs(90))
        );
        let raw = vec!["label".to_string()];
        assert!(PruneFilters::parse(&raw).is_err());
    }
}
