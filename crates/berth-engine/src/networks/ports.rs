//! Container ports the way the docker 20.10 CLI reads and prints them:
//! `-p/--publish` and `--expose` specs (go-connections' `nat` grammar, with
//! its exact error texts), the `docker ps` PORTS column and the lines of
//! `docker port`. The tests hold Docker's recorded outputs. Pure: no I/O,
//! so the CLI, the engine and the datapath can share it.
//!
//! Errors are Docker's *option errors*: the CLI prints `docker: <msg>.`
//! and `See 'docker run --help'.` and exits 125 (`docker port`'s errors
//! are printed as they are, exit 1).

use std::collections::{BTreeMap, BTreeSet};

pub use crate::containers::stats::PortBinding;

use berth_logs::go_quote;

use super::ipam::parse_ip;

/// `HostConfig.PortBindings`: `"80/tcp"` -> bindings, in the order given.
pub type PortMap = BTreeMap<String, Vec<PortBinding>>;

/// `NetworkSettings.Ports`: an exposed port that is not published maps to
/// `null` (`None`).
pub type PortSet = BTreeMap<String, Option<Vec<PortBinding>>>;

/// The protocols a published port may have (`nat.validateProto`).
const PROTOS: [&str; 3] = ["tcp", "udp", "sctp"];

/// `-p/--publish` values, all of them: the bindings per container port
/// (several `-p` for one port keep every binding, duplicates included, as
/// Docker does) and the ports they expose. The long form
/// `target=80,published=8080,protocol=udp` is read as the 20.10 CLI does
/// (other keys, e.g. `host_ip`, are ignored).
pub fn parse_publish(specs: &[String]) -> Result<(PortMap, BTreeSet<String>), String> {
    let mut bindings = PortMap::new();
    let mut exposed = BTreeSet::new();
    for spec in specs {
        let spec = if spec.contains('=') {
            long_form(spec)?
        } else {
            spec.clone()
        };
        for (port, binding) in parse_spec(&spec)? {
            exposed.insert(port.clone());
            bindings.entry(port).or_default().push(binding);
        }
    }
    Ok((bindings, exposed))
}

/// `--expose` values: `80`, `80/udp`, `8000-8010/tcp`. Unlike `-p`, the
/// protocol is neither checked nor lowercased (Docker keeps `80/TCP`).
pub fn parse_expose(specs: &[String]) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for spec in specs {
        if spec.contains(':') {
            return Err(format!("invalid port format for --expose: {spec}"));
        }
        let (proto, port) = split_proto_port(spec);
        let (start, end) = parse_port_range(port)
            .map_err(|e| format!("invalid range format for --expose: {spec}, error: {e}"))?;
        for p in start..=end {
            out.insert(format!("{p}/{proto}"));
        }
    }
    Ok(out)
}

/// `-P`: every exposed port without a binding of its own gets one to an
/// ephemeral port on all addresses (dockerd does this at start; the record
/// keeps only `PublishAllPorts`).
pub fn publish_all(exposed: &BTreeSet<String>, bindings: &PortMap) -> PortMap {
    let mut out = bindings.clone();
    for port in exposed {
        out.entry(port.clone())
            .or_insert_with(|| vec![PortBinding::default()]);
    }
    out
}

/// The PORTS column of `docker ps`, e.g. `6000/tcp,
/// 0.0.0.0:7000-7001->7000-7001/tcp, 0.0.0.0:8080->80/tcp`.
///
/// The CLI's grouping: entries (one per binding, one with no address for
/// an exposed-only port) sorted by container port, host address, host
/// port, protocol. An entry whose host port differs from its container
/// port is a mapping, listed last. The others form runs of consecutive
/// ports per (address, protocol); a run that breaks is printed at once,
/// the runs still open at the end follow in the order their (address,
/// protocol) first appeared.
pub fn format_ports(ports: &PortSet) -> String {
    struct Entry<'a> {
        private: u16,
        proto: &'a str,
        ip: &'a str,
        public: u16,
    }
    let mut entries = Vec::new();
    for (key, bindings) in ports {
        let (num, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        // dockerd leaves out what does not parse (`nat.ParsePort`).
        let Ok(private) = parse_port(num) else {
            continue;
        };
        match bindings {
            Some(list) if !list.is_empty() => {
                for b in list {
                    if let Ok(public) = parse_port(&b.host_port) {
                        entries.push(Entry {
                            private,
                            proto,
                            ip: &b.host_ip,
                            public,
                        });
                    }
                }
            }
            _ => entries.push(Entry {
                private,
                proto,
                ip: "",
                public: 0,
            }),
        }
    }
    entries.sort_by(|a, b| {
        (a.private, a.ip, a.public, a.proto).cmp(&(b.private, b.ip, b.public, b.proto))
    });

    let run = |ip: &str, proto: &str, first: u16, last: u16| {
        let ports = if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        };
        if ip.is_empty() {
            format!("{ports}/{proto}")
        } else {
            format!("{ip}:{ports}->{ports}/{proto}")
        }
    };
    let mut out = Vec::new();
    let mut mappings = Vec::new();
    // Open runs, in the order their (address, protocol) first appeared.
    let mut runs: Vec<(&str, &str, u16, u16)> = Vec::new();
    for e in &entries {
        if !e.ip.is_empty() && e.public != e.private {
            mappings.push(format!("{}:{}->{}/{}", e.ip, e.public, e.private, e.proto));
            continue;
        }
        match runs
            .iter_mut()
            .find(|(ip, proto, _, _)| *ip == e.ip && *proto == e.proto)
        {
            None => runs.push((e.ip, e.proto, e.private, e.private)),
            Some(r) if u32::from(e.private) == u32::from(r.3) + 1 => r.3 = e.private,
            Some(r) => {
                out.push(run(r.0, r.1, r.2, r.3));
                r.2 = e.private;
                r.3 = e.private;
            }
        }
    }
    out.extend(runs.iter().map(|r| run(r.0, r.1, r.2, r.3)));
    out.extend(mappings);
    out.join(", ")
}

/// The lines of `docker port CONTAINER [PRIVATE_PORT[/PROTO]]`; nothing at
/// all when nothing is published. `container` is the name as the user
/// typed it (it appears in the error). Without a port, every binding as
/// `80/tcp -> 0.0.0.0:8080` by container port (Docker's own order is
/// random); with one, `0.0.0.0:8080` per binding. IPv6 addresses are not
/// bracketed (`:::8080`), as in 20.10.
pub fn port_lines(
    ports: &PortSet,
    wanted: Option<&str>,
    container: &str,
) -> Result<Vec<String>, String> {
    let Some(wanted) = wanted else {
        let mut keys: Vec<&String> = ports.keys().collect();
        keys.sort_by_key(|k| {
            let (num, proto) = k.split_once('/').unwrap_or((k.as_str(), ""));
            (num.parse::<u32>().unwrap_or(u32::MAX), proto, k.as_str())
        });
        let mut out = Vec::new();
        for key in keys {
            for b in ports
                .get(key)
                .and_then(Option::as_ref)
                .into_iter()
                .flatten()
            {
                out.push(format!("{key} -> {}:{}", b.host_ip, b.host_port));
            }
        }
        return Ok(out);
    };
    let (port, proto) = match wanted.split_once('/') {
        Some((p, proto)) if !proto.is_empty() => (p, proto),
        _ => (wanted, "tcp"),
    };
    // `nat.NewPort`: an empty port is port 0, a range stays a range.
    let (start, end) = if port.is_empty() {
        (0, 0)
    } else {
        parse_port_range(port)?
    };
    let key = if start == end {
        format!("{start}/{proto}")
    } else {
        format!("{start}-{end}/{proto}")
    };
    match ports.get(&key) {
        Some(Some(list)) => Ok(list
            .iter()
            .map(|b| format!("{}:{}", b.host_ip, b.host_port))
            .collect()),
        _ => Err(format!(
            "Error: No public port '{port}/{proto}' published for {container}"
        )),
    }
}

/// The 20.10 CLI's `convertToStandardNotation` for one long-form spec:
/// `published:target/protocol`, whatever is missing left empty.
fn long_form(spec: &str) -> Result<String, String> {
    let mut params: BTreeMap<&str, &str> = BTreeMap::new();
    params.insert("protocol", "tcp");
    for param in spec.split(',') {
        let mut kv = param.split('=');
        match (kv.next(), kv.next()) {
            (Some(k), Some(v)) => {
                params.insert(k, v);
            }
            _ => {
                return Err(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ))
            }
        }
    }
    let get = |k: &str| params.get(k).copied().unwrap_or("");
    Ok(format!(
        "{}:{}/{}",
        get("published"),
        get("target"),
        get("protocol")
    ))
}

/// go-connections' `nat.ParsePortSpec`: `[ip:][hostPort:]containerPort[/proto]`,
/// checked in Docker's order so the first error is Docker's.
fn parse_spec(raw: &str) -> Result<Vec<(String, PortBinding)>, String> {
    let (raw_ip, host_port, container) = split_parts(raw);
    let (proto, container_port) = split_proto_port(container);
    let ip = strip_brackets(raw_ip).map_err(|e| format!("Invalid ip address {raw_ip}: {e}"))?;
    if !ip.is_empty() && parse_ip(ip).is_none() {
        return Err(format!("Invalid ip address: {ip}"));
    }
    if container_port.is_empty() {
        return Err(format!("No port specified: {raw}<empty>"));
    }
    let (start, end) = parse_port_range(container_port)
        .map_err(|_| format!("Invalid containerPort: {container_port}"))?;
    let (host_start, host_end) = if host_port.is_empty() {
        (0, 0)
    } else {
        parse_port_range(host_port).map_err(|_| format!("Invalid hostPort: {host_port}"))?
    };
    // A host range for one container port is the range to pick a free
    // host port from; otherwise both ranges must be as long.
    if !host_port.is_empty() && end - start != host_end - host_start && end != start {
        return Err(format!(
            "Invalid ranges specified for container and host Ports: {container_port} and {host_port}"
        ));
    }
    let lower = proto.to_ascii_lowercase();
    if !PROTOS.contains(&lower.as_str()) {
        return Err(format!("Invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let host = if host_port.is_empty() {
            String::new()
        } else if start == end && host_start != host_end {
            format!("{host_start}-{host_end}")
        } else {
            (host_start + i).to_string()
        };
        out.push((
            format!("{}/{lower}", start + i),
            PortBinding {
                host_ip: ip.to_string(),
                host_port: host,
            },
        ));
    }
    Ok(out)
}

/// `nat.splitParts`: the last two `:`-separated fields are the ports,
/// everything before them the address (so `::1:80:80` is address `::1`
/// and fails, and `[::1]:80:80` works).
fn split_parts(raw: &str) -> (&str, &str, &str) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [c] => ("", "", c),
        [h, c] => ("", h, c),
        [ip, h, c] => (ip, h, c),
        _ => {
            let n = parts.len();
            // The address is the text before the last two separators.
            let ip_len = raw.len() - parts[n - 1].len() - parts[n - 2].len() - 2;
            (&raw[..ip_len], parts[n - 2], parts[n - 1])
        }
    }
}

/// `nat.SplitProtoPort`: `80/udp` -> (`udp`, `80`); no or an empty
/// protocol is tcp; text after a second `/` is dropped; an empty port
/// gives two empty strings.
fn split_proto_port(raw: &str) -> (&str, &str) {
    let mut parts = raw.split('/');
    let port = parts.next().unwrap_or("");
    if port.is_empty() {
        return ("", "");
    }
    match parts.next() {
        None | Some("") => ("tcp", port),
        Some(proto) => (proto, port),
    }
}

/// The host part of Go's `net.SplitHostPort(ip + ":")`, which is how the
/// CLI strips the brackets of `[::1]`; the error is Go's `AddrError` text.
fn strip_brackets(raw_ip: &str) -> Result<&str, String> {
    let hp = format!("{raw_ip}:");
    let err = |why: &str| format!("address {hp}: {why}");
    let last = raw_ip.len(); // the colon we added is the last one
    let (host, j, k) = if raw_ip.starts_with('[') {
        let Some(end) = hp.find(']') else {
            return Err(err("missing ']' in address"));
        };
        if end + 1 != last {
            return Err(if hp.as_bytes().get(end + 1) == Some(&b':') {
                err("too many colons in address")
            } else {
                err("missing port in address")
            });
        }
        (&raw_ip[1..end], 1, end + 1)
    } else {
        if raw_ip.contains(':') {
            return Err(err("too many colons in address"));
        }
        (raw_ip, 0, 0)
    };
    if hp[j..].contains('[') {
        return Err(err("unexpected '[' in address"));
    }
    if hp[k..].contains(']') {
        return Err(err("unexpected ']' in address"));
    }
    Ok(host)
}

/// `nat.ParsePortRange`: `80` or `80-90` (anything after a second `-` is
/// ignored, as Docker does); the error is Go's text.
fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    if s.is_empty() {
        return Err("Empty string specified for ports.".to_string());
    }
    let Some((a, rest)) = s.split_once('-') else {
        let p = parse_uint16(s)?;
        return Ok((p, p));
    };
    let b = rest.split('-').next().unwrap_or("");
    let (start, end) = (parse_uint16(a)?, parse_uint16(b)?);
    if end < start {
        return Err(format!("Invalid range specified for the Port: {s}"));
    }
    Ok((start, end))
}

/// `nat.ParsePort`: empty is 0, otherwise a decimal port.
fn parse_port(s: &str) -> Result<u16, String> {
    if s.is_empty() {
        return Ok(0);
    }
    parse_uint16(s)
}

/// Go's `strconv.ParseUint(s, 10, 16)` with its error text: decimal
/// digits only (no sign, no underscores), at most 65535.
fn parse_uint16(s: &str) -> Result<u16, String> {
    let why = if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        "invalid syntax"
    } else {
        // Leading zeros are fine; any other digits beyond u16 are a range
        // error, however many there are.
        let digits = s.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(0);
        }
        match digits
            .parse::<u64>()
            .ok()
            .and_then(|n| u16::try_from(n).ok())
        {
            Some(n) => return Ok(n),
            None => "value out of range",
        }
    };
    Err(format!("strconv.ParseUint: parsing {}: {why}", go_quote(s)))
}

#[cfg(test)]
mod tests;
