//! `<root>/daemon.json`: the keys of dockerd's `daemon.json` that mean
//! something to berth, in dockerd's format, so a Docker user's settings
//! carry over. Optional; read by the commands that need it. Networks use
//! `bip`, `mtu` (the default bridge) and `default-address-pools` (every
//! network without `--subnet`), pull and push `insecure-registries`;
//! unknown keys are ignored, as a daemon that does not have a feature
//! would.

use std::net::Ipv4Addr;

use serde::Deserialize;

use crate::networks::ipam::V4Net;
use crate::{Engine, Error, ErrorKind, Result};

/// What berth reads from `daemon.json`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DaemonConfig {
    /// The default bridge's gateway and prefix, `192.168.5.1/24`.
    #[serde(default)]
    pub bip: Option<String>,
    /// The default bridge's MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// `[{"base": "10.20.0.0/16", "size": 24}]`: where automatic subnets
    /// come from, in order, instead of Docker's defaults.
    #[serde(default)]
    pub default_address_pools: Vec<AddressPool>,
    /// Registries reached over plain HTTP or unverified TLS, `host:port`
    /// or a CIDR (loopback ones always are, as in dockerd).
    #[serde(default)]
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AddressPool {
    pub base: String,
    pub size: u8,
}

impl DaemonConfig {
    /// The default bridge's (subnet, gateway) from `bip`.
    pub fn bip(&self) -> Result<Option<(V4Net, Ipv4Addr)>> {
        let Some(bip) = &self.bip else {
            return Ok(None);
        };
        let bad = || {
            config_error(format!(
                "invalid bip {bip:?}: want an IPv4 address and prefix, as 192.168.5.1/24"
            ))
        };
        let (ip, prefix) = bip.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(1..=30).contains(&prefix) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - u32::from(prefix));
        let net = Ipv4Addr::from(u32::from(ip) & mask);
        if net == ip || u32::from(ip) | mask == u32::MAX {
            return Err(bad());
        }
        Ok(Some((V4Net::new(net, prefix), ip)))
    }

    /// The pools automatic subnets are cut from, checked; `None` means
    /// Docker's defaults.
    pub fn pools(&self) -> Result<Option<Vec<(V4Net, u8)>>> {
        if self.default_address_pools.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for p in &self.default_address_pools {
            let bad = || {
                config_error(format!(
                    "invalid default-address-pools entry {{\"base\": {:?}, \"size\": {}}}",
                    p.base, p.size
                ))
            };
            let (addr, prefix) = p.base.split_once('/').ok_or_else(bad)?;
            let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
            let prefix: u8 = prefix.parse().map_err(|_| bad())?;
            if prefix > 30 || p.size < prefix || p.size > 30 {
                return Err(bad());
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            out.push((
                V4Net::new(Ipv4Addr::from(u32::from(addr) & mask), prefix),
                p.size,
            ));
        }
        Ok(Some(out))
    }
}

fn config_error(msg: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

impl Engine {
    /// `<root>/daemon.json`, or the defaults when there is none.
    pub fn daemon_config(&self) -> Result<DaemonConfig> {
        let path = self.layout.daemon_config();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DaemonConfig::default())
            }
            Err(e) => {
                return Err(config_error(format!(
                    "unable to configure berth with file {}: {e}",
                    path.display()
                )))
            }
        };
        serde_json::from_str(&text).map_err(|e| {
            config_error(format!(
                "unable to configure berth with file {}: {e}",
                path.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> DaemonConfig {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn bip_and_pools() {
        let c = cfg(r#"{"bip": "192.168.5.1/24", "mtu": 1400, "debug": true,
            "default-address-pools": [{"base": "10.20.0.0/16", "size": 24}]}"#);
        let (net, gw) = c.bip().unwrap().unwrap();
        assert_eq!(
            (net.to_string(), gw),
            ("192.168.5.0/24".to_string(), Ipv4Addr::new(192, 168, 5, 1))
        );
        assert_eq!(c.mtu, Some(1400));
        let pools = c.pools().unwrap().unwrap();
        assert_eq!(pools[0].0.to_string(), "10.20.0.0/16");
        assert_eq!(pools[0].1, 24);
        for bad in [
            "192.168.5.0/24",
            "192.168.5.255/24",
            "x/24",
            "10.0.0.1",
            "10.0.0.1/31",
        ] {
            let c = DaemonConfig {
                bip: Some(bad.into()),
                ..DaemonConfig::default()
            };
            assert!(c.bip().is_err(), "{bad}");
        }
        let c = cfg(r#"{"default-address-pools": [{"base": "10.20.0.0/16", "size": 8}]}"#);
        assert!(c.pools().is_err());
        assert_eq!(DaemonConfig::default().pools().unwrap(), None);
    }
}
