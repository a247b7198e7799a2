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

/// `system df`: what berth's data takes on disk, as dockerd counts it.
#[derive(Debug, Default, Clone)]
pub struct DiskUsage {
    pub images_total: usize,
    pub images_active: usize,
    /// Unique layer bytes of all images (dockerd's `LayersSize`).
    pub images_size: u64,
    /// Bytes images in use by containers take, shared layers left out.
    pub images_used: u64,
    pub containers_total: usize,
    pub containers_running: usize,
    pub containers_size: u64,
    pub containers_reclaimable: u64,
    pub cache: Vec<berth_image::build_cache::CacheRecord>,
}

impl Engine {
    pub fn system_df(&self) -> Result<DiskUsage> {
        let mut du = DiskUsage::default();
        let images = self.images.all()?;
        let containers = self.container_list()?;
        let mut users: std::collections::BTreeMap<String, usize> = Default::default();
        for c in &containers {
            *users.entry(c.image.clone()).or_default() += 1;
        }
        // Layer (chain ID) -> size and how many images use it.
        let mut layers: std::collections::BTreeMap<berth_store::Digest, (u64, usize)> =
            Default::default();
        for img in &images {
            for c in img.chain_ids() {
                let size = self
                    .images
                    .snapshot_meta(&c)
                    .ok()
                    .flatten()
                    .map(|m| m.size)
                    .unwrap_or(0);
                layers.entry(c).or_insert((size, 0)).1 += 1;
            }
        }
        du.images_total = images.len();
        du.images_size = layers.values().map(|(s, _)| s).sum();
        for img in &images {
            if users.contains_key(&img.record.id.to_string()) {
                du.images_active += 1;
                let chains = img.chain_ids();
                let own: u64 = chains
                    .iter()
                    .filter_map(|c| layers.get(c))
                    .filter(|(_, n)| *n == 1)
                    .map(|(s, _)| s)
                    .sum();
                du.images_used += own;
            }
        }
        du.containers_total = containers.len();
        for c in &containers {
            let (rw, _) = self.container_size(c);
            du.containers_size += rw.max(0) as u64;
            if c.state.running {
                du.containers_running += 1;
            } else {
                du.containers_reclaimable += rw.max(0) as u64;
            }
        }
        du.cache = self.images.cache_list()?;
        Ok(du)
    }
}
