//! A container as stored: Docker's inspect document (so `inspect` is a
//! serialisation, key order included) plus berth's private runtime facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use berth_image::config::ContainerConfig;

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: "created".into(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ulimit {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Hard")]
    pub hard: i64,
    #[serde(rename = "Soft")]
    pub soft: i64,
}

/// Docker 20.10's HostConfig, every key in its order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    pub log_config: LogConfig,
    pub network_mode: String,
    pub port_bindings: Value,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub volume_driver: String,
    pub volumes_from: Option<Vec<String>>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub cgroupns_mode: String,
    pub dns: Vec<String>,
    pub dns_options: Vec<String>,
    pub dns_search: Vec<String>,
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub ipc_mode: String,
    pub cgroup: String,
    pub links: Option<Vec<String>>,
    pub oom_score_adj: i64,
    pub pid_mode: String,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    /// `--tmpfs`: destination -> mount options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, String>>,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    pub shm_size: i64,
    pub runtime: String,
    pub console_size: [u32; 2],
    pub isolation: String,
    pub cpu_shares: i64,
    pub memory: i64,
    pub nano_cpus: i64,
    pub cgroup_parent: String,
    pub blkio_weight: i64,
    pub blkio_weight_device: Vec<Value>,
    pub blkio_device_read_bps: Option<Vec<Value>>,
    pub blkio_device_write_bps: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<Value>>,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub devices: Vec<Value>,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub device_requests: Option<Vec<Value>>,
    pub kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP")]
    pub kernel_memory_tcp: i64,
    pub memory_reservation: i64,
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: bool,
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    pub cpu_count: i64,
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: i64,
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: i64,
    /// `--mount`, as the API carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<super::mounts::MountSpec>>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// Docker keeps `--init` as a nullable bool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            binds: None,
            container_id_file: String::new(),
            log_config: LogConfig {
                kind: "json-file".into(),
                config: BTreeMap::new(),
            },
            network_mode: "default".into(),
            port_bindings: Value::Object(Default::default()),
            restart_policy: RestartPolicy {
                name: "no".into(),
                maximum_retry_count: 0,
            },
            auto_remove: false,
            volume_driver: String::new(),
            volumes_from: None,
            cap_add: None,
            cap_drop: None,
            cgroupns_mode: "private".into(),
            dns: vec![],
            dns_options: vec![],
            dns_search: vec![],
            extra_hosts: None,
            group_add: None,
            ipc_mode: "private".into(),
            cgroup: String::new(),
            links: None,
            oom_score_adj: 0,
            pid_mode: String::new(),
            privileged: false,
            publish_all_ports: false,
            readonly_rootfs: false,
            security_opt: None,
            tmpfs: None,
            sysctls: None,
            uts_mode: String::new(),
            userns_mode: String::new(),
            shm_size: 64 * 1024 * 1024,
            runtime: "runc".into(),
            console_size: [0, 0],
            isolation: String::new(),
            cpu_shares: 0,
            memory: 0,
            nano_cpus: 0,
            cgroup_parent: String::new(),
            blkio_weight: 0,
            blkio_weight_device: vec![],
            blkio_device_read_bps: None,
            blkio_device_write_bps: None,
            blkio_device_read_iops: None,
            blkio_device_write_iops: None,
            cpu_period: 0,
            cpu_quota: 0,
            cpu_realtime_period: 0,
            cpu_realtime_runtime: 0,
            cpuset_cpus: String::new(),
            cpuset_mems: String::new(),
            devices: vec![],
            device_cgroup_rules: None,
            device_requests: None,
            kernel_memory: 0,
            kernel_memory_tcp: 0,
            memory_reservation: 0,
            memory_swap: 0,
            memory_swappiness: None,
            oom_kill_disable: false,
            pids_limit: None,
            ulimits: None,
            cpu_count: 0,
            cpu_percent: 0,
            io_maximum_iops: 0,
            io_maximum_bandwidth: 0,
            mounts: None,
            masked_paths: berth_runtime::spec::MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            readonly_paths: berth_runtime::spec::READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            init: None,
        }
    }
}

/// What berth needs to find and trust a running container's processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Private {
    /// The monitor's pid and kernel start time (pid reuse guard).
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub monitor_start: u64,
    #[serde(default)]
    pub init_start: u64,
    /// Lower dirs at creation, so removal of the image cannot pull them away.
    #[serde(default)]
    pub image_ref: String,
    /// Set when a user stopped the container (restart policies skip it).
    #[serde(default)]
    pub stopped_by_user: bool,
    /// `--detach-keys` and attach defaults kept for `start -a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detach_keys: Option<String>,
    /// Resolved at create from binds, `--mount`, `--tmpfs`,
    /// `--volumes-from` and the image's volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<super::mounts::MountPoint>,
    /// The interface name inside the container of each network (by
    /// network ID) while it runs: `eth0` for the first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ifnames: BTreeMap<String, String>,
}

/// The stored container: inspect fields in Docker's order, then berth's own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: Value,
    pub mounts: Vec<Value>,
    pub config: ContainerConfig,
    pub network_settings: Value,
    #[serde(rename = "Berth")]
    pub private: Private,
}

impl Record {
    /// The inspect document: everything but berth's private part.
    pub fn inspect_value(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.shift_remove("Berth");
        }
        v
    }

    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// The name without Docker's leading slash.
    pub fn bare_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
}

/// NetworkSettings for a container with only a loopback (until networks land).
pub fn network_settings_none(sandbox_key: &str) -> Value {
    serde_json::json!({
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": {},
        "SandboxKey": sandbox_key,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": "",
        "Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "MacAddress": "",
        "Networks": {}
    })
}
