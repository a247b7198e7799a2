//! `version` and `info`.

use serde::Serialize;

use crate::{Engine, Result};

pub const API_VERSION: &str = "1.41";

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub driver: String,
    pub docker_root_dir: String,
    pub exec_root: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    pub mem_total: i64,
    pub name: String,
    pub server_version: String,
    pub cgroup_version: String,
    pub cgroup_driver: String,
}

fn read_trim(p: &str) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_name() -> String {
    read_trim("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn mem_total() -> i64 {
    read_trim("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// cgroup v2 when the unified hierarchy is mounted at /sys/fs/cgroup.
pub fn cgroup_version() -> &'static str {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    }
}

impl Engine {
    pub fn info(&self) -> Result<Info> {
        let images = self.images.ids()?.len() as i64;
        Ok(Info {
            containers: 0,
            containers_running: 0,
            containers_paused: 0,
            containers_stopped: 0,
            images,
            driver: "overlay2".into(),
            docker_root_dir: self.layout.root().display().to_string(),
            exec_root: self.layout.runroot().display().to_string(),
            kernel_version: read_trim("/proc/sys/kernel/osrelease"),
            operating_system: os_name(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            mem_total: mem_total(),
            name: read_trim("/proc/sys/kernel/hostname"),
            server_version: env!("CARGO_PKG_VERSION").into(),
            cgroup_version: cgroup_version().into(),
            cgroup_driver: "cgroupfs".into(),
        })
    }
}

/// `system df`: what berth's data takes on disk, in the shape of dockerd's
/// `/system/df` answer; the client sums it up (as the docker CLI does).
#[derive(Debug, Default, Clone)]
pub struct DiskUsage {
    /// Bytes of all image layers, each layer once (dockerd's `LayersSize`).
    pub layers_size: u64,
    /// Every image, newest first, with `Containers` (how many containers
    /// use it) and `SharedSize` (its layers other images use too).
    pub images: Vec<crate::types::ImageSummary>,
    /// Every container, newest first.
    pub containers: Vec<ContainerUsage>,
    /// Every volume, by name.
    pub volumes: Vec<VolumeUsage>,
    /// Build cache records, least recently used first.
    pub cache: Vec<CacheUsage>,
}

#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub record: crate::containers::Record,
    /// Bytes in the writable layer (dockerd's `SizeRw`).
    pub size_rw: u64,
}

#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub volume: crate::volumes::Volume,
    /// Containers (running or not) that use it.
    pub ref_count: usize,
    /// Bytes in its data dir, as dockerd's `directory.Size` counts them.
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct CacheUsage {
    pub record: berth_image::build_cache::CacheRecord,
    /// Its layer is also an image's (BuildKit's `Shared`): not counted in
    /// the build cache's size.
    pub shared: bool,
}

impl Engine {
    pub fn system_df(&self) -> Result<DiskUsage> {
        use std::collections::BTreeMap;
        let all = self.images.all()?;
        let containers = self.container_list()?;
        let mut users: BTreeMap<String, i64> = BTreeMap::new();
        for c in &containers {
            *users.entry(c.image.clone()).or_default() += 1;
        }
        // Layer (chain ID) -> size and how many images use it.
        let mut layers: BTreeMap<berth_store::Digest, (u64, usize)> = BTreeMap::new();
        let mut chains: BTreeMap<String, Vec<berth_store::Digest>> = BTreeMap::new();
        for img in &all {
            let ids = img.chain_ids();
            for c in &ids {
                let size = self
                    .images
                    .snapshot_meta(c)
                    .ok()
                    .flatten()
                    .map(|m| m.size)
                    .unwrap_or(0);
                layers.entry(c.clone()).or_insert((size, 0)).1 += 1;
            }
            chains.insert(img.record.id.to_string(), ids);
        }
        let mut images = self.image_list(&crate::images::ImageFilters::default())?;
        for img in &mut images {
            img.containers = users.get(&img.id).copied().unwrap_or(0);
            img.shared_size = chains
                .get(&img.id)
                .into_iter()
                .flatten()
                .filter_map(|c| layers.get(c))
                .filter(|(_, n)| *n > 1)
                .map(|(s, _)| *s as i64)
                .sum();
        }
        let containers = containers
            .into_iter()
            .map(|record| {
                let (rw, _) = self.container_size(&record);
                ContainerUsage {
                    record,
                    size_rw: rw.max(0) as u64,
                }
            })
            .collect();
        let refs = self.volume_users()?;
        let volumes = self
            .volume_list(&crate::volumes::VolumeFilters::default())?
            .into_iter()
            .map(|volume| VolumeUsage {
                ref_count: refs.get(&volume.name).map_or(0, Vec::len),
                size: crate::volumes::tree_size(&self.layout.volume_data(&volume.name)),
                volume,
            })
            .collect();
        let image_chains = self.image_chain_ids()?;
        let mut cache: Vec<CacheUsage> = self
            .images
            .cache_list()?
            .into_iter()
            .map(|record| CacheUsage {
                shared: crate::builds::cache_record_shared(&record, &image_chains),
                record,
            })
            .collect();
        // The docker CLI lists records by last use, then ID.
        cache.sort_by(|a, b| {
            let t = |c: &CacheUsage| {
                chrono::DateTime::parse_from_rfc3339(&c.record.last_used)
                    .ok()
                    .map(|t| t.timestamp_nanos_opt().unwrap_or(i64::MAX))
            };
            t(a).cmp(&t(b))
                .then_with(|| a.record.key.cmp(&b.record.key))
        });
        Ok(DiskUsage {
            layers_size: layers.values().map(|(s, _)| s).sum(),
            images,
            containers,
            volumes,
            cache,
        })
    }
}
