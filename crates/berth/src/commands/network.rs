//! Network commands: network create, ls, inspect, rm, prune (and the
//! hidden `debug network-alloc`, which exercises IPAM without containers).

use std::io::Write;

use berth_engine::networks::{self, Network, NetworkCreate, NetworkFilters};
use berth_engine::Engine;
use serde_json::{json, Value};

use super::image::{confirm, print_rows};
use super::need;
use crate::cli::{
    NetworkCommand, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs,
    NetworkInspectArgs, NetworkLsArgs, NetworkPruneArgs, NetworkRmArgs,
};
use crate::runopts;
use crate::{CliError, CliResult};

pub fn run(engine: &Engine, sub: NetworkCommand) -> CliResult {
    match sub {
        NetworkCommand::Connect(a) => connect(engine, a),
        NetworkCommand::Disconnect(a) => disconnect(engine, a),
        NetworkCommand::Create(a) => create(engine, a),
        NetworkCommand::Inspect(a) => inspect(engine, a),
        NetworkCommand::Ls(a) => list(engine, a),
        NetworkCommand::Prune(a) => prune(engine, a),
        NetworkCommand::Rm(a) => remove(engine, a),
    }
}

fn connect(engine: &Engine, a: NetworkConnectArgs) -> CliResult {
    need("network connect", &a.args, 2, Some(2))?;
    use berth_engine::containers::network::EndpointSettings;
    if let Some(ip) = a.ip.as_deref().filter(|i| !i.is_empty()) {
        if ip.parse::<std::net::Ipv4Addr>().is_err() {
            // dockerd's own wording, stray parenthesis included.
            return Err(
                berth_engine::Error::invalid(format!("Invalid IPv4 address: {ip})")).into(),
            );
        }
    }
    if let Some(ip) = a.ip6.as_deref().filter(|i| !i.is_empty()) {
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(
                berth_engine::Error::invalid(format!("Invalid IPv6 address: {ip})")).into(),
            );
        }
    }
    let req =
        EndpointSettings::request(a.ip.as_deref(), &a.alias, &a.link).with_ip6(a.ip6.as_deref());
    engine.network_connect(&a.args[0], &a.args[1], &req)?;
    Ok(())
}

fn disconnect(engine: &Engine, a: NetworkDisconnectArgs) -> CliResult {
    need("network disconnect", &a.args, 2, Some(2))?;
    engine.network_disconnect(&a.args[0], &a.args[1], a.force)?;
    Ok(())
}

fn create(engine: &Engine, a: NetworkCreateArgs) -> CliResult {
    let path = "network create";
    need(path, &a.args, 1, Some(1))?;
    let labels = super::long_labels(path, &a.label)?;
    let aux = runopts::kv_map(&a.aux_address);
    // The docker CLI's own checks: printed as they are, exit 1.
    let ipam = networks::consolidate_ipam(&a.subnet, &a.ip_range, &a.gateway, &aux)
        .map_err(CliError::Plain)?;
    if a.ipam_driver != "default" {
        return Err(berth_engine::Error::not_found(format!(
            "plugin {:?} not found",
            a.ipam_driver
        ))
        .into());
    }
    let req = NetworkCreate {
        name: a.args[0].clone(),
        driver: a.driver,
        ipam,
        ipam_options: runopts::kv_map(&a.ipam_opt),
        internal: a.internal,
        attachable: a.attachable,
        enable_ipv6: a.ipv6,
        options: runopts::kv_map(&a.opt),
        labels: runopts::kv_map(&labels),
    };
    let n = engine.network_create(&req)?;
    writeln!(std::io::stdout().lock(), "{}", n.id)?;
    Ok(())
}

fn inspect(engine: &Engine, a: NetworkInspectArgs) -> CliResult {
    need("network inspect", &a.args, 1, None)?;
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for n in &a.args {
        match engine.network_get(n) {
            Ok(net) => ok.push(serde_json::to_value(&net).map_err(anyhow::Error::from)?),
            Err(e) => errors.push(daemon_error(n, &e)),
        }
    }
    super::image::print_inspect(&ok, a.format.as_deref())?;
    // A template that rendered nothing still ends its (empty) output.
    if ok.is_empty() && a.format.is_some() {
        writeln!(std::io::stdout().lock())?;
    }
    // The docker CLI prints what it found, then every error.
    if !errors.is_empty() {
        eprintln!("{}", errors.join("\n"));
        return Err(CliError::Exit(1));
    }
    Ok(())
}

/// How the docker 20.10 CLI reports a failed lookup: its own words for
/// a network that is not there, the daemon's for anything else.
fn daemon_error(term: &str, e: &berth_engine::Error) -> String {
    if e.kind == berth_engine::ErrorKind::NotFound {
        format!("Error: No such network: {term}")
    } else {
        format!("Error response from daemon: {}", e.message)
    }
}

/// The docker CLI's network formatter fields.
fn row(n: &Network, trunc: bool) -> Value {
    let labels = n
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let id = if trunc {
        &n.id[..12.min(n.id.len())]
    } else {
        &n.id
    };
    json!({
        "ID": id,
        "Name": n.name,
        "Driver": n.driver,
        "Scope": n.scope,
        "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": labels,
        "CreatedAt": go_time(&n.created),
    })
}

/// Go's `time.Time.String()` of an RFC 3339 time, in UTC.
fn go_time(t: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) else {
        return String::new();
    };
    let t = t.with_timezone(&chrono::Utc);
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let dot = if frac.is_empty() { "" } else { "." };
    format!("{}{dot}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

/// The docker CLI's `sortorder.NaturalLess`: runs of digits compare as
/// numbers, everything else byte by byte.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da && db {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[si..i])
                .unwrap_or("")
                .trim_start_matches('0');
            let nb = std::str::from_utf8(&b[sj..j])
                .unwrap_or("")
                .trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
            // Equal numbers: fewer leading zeros first.
            let o = (i - si).cmp(&(j - sj));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            let o = a[i].cmp(&b[j]);
            if o != Ordering::Equal {
                return o;
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn list(engine: &Engine, a: NetworkLsArgs) -> CliResult {
    if let Some(bad) = a.filter.iter().find(|f| !f.is_empty() && !f.contains('=')) {
        return Err(CliError::Coded(
            format!(
                "invalid argument \"{bad}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\nSee 'berth network ls --help'."
            ),
            125,
        ));
    }
    let filters = NetworkFilters::parse(&a.filter)?;
    let mut nets = engine.network_list(&filters)?;
    nets.sort_by(|x, y| natural_cmp(&x.name, &y.name));
    let trunc = !a.no_trunc;
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for n in &nets {
            writeln!(out, "{}", row(n, trunc)["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    let format = a
        .format
        .unwrap_or_else(|| "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".to_string());
    let headers = json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
        "CreatedAt": "CREATED AT",
    });
    let rows: Vec<Value> = nets.iter().map(|n| row(n, trunc)).collect();
    print_rows(&format, &headers, &rows)
}

fn remove(engine: &Engine, a: NetworkRmArgs) -> CliResult {
    need("network rm", &a.args, 1, None)?;
    let mut failed = false;
    for n in &a.args {
        match engine.network_remove(n) {
            Ok(()) => writeln!(std::io::stdout().lock(), "{n}")?,
            Err(e) => {
                eprintln!("{}", daemon_error(n, &e));
                failed = true;
            }
        }
    }
    if failed {
        return Err(CliError::Exit(1));
    }
    Ok(())
}

/// The "Deleted Networks:" section; empty when nothing went.
pub fn networks_section(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let mut s = String::from("Deleted Networks:\n");
    for n in names {
        s.push_str(n);
        s.push('\n');
    }
    s
}

fn prune(engine: &Engine, a: NetworkPruneArgs) -> CliResult {
    let path = "network prune";
    need(path, &a.args, 0, Some(0))?;
    let filters = super::prune::parse_filters(&a.filter, path)?;
    let warning =
        "WARNING! This will remove all custom networks not used by at least one container.";
    // Declined: the docker CLI prints nothing more (no total for networks).
    if !a.force && !confirm(warning)? {
        return Ok(());
    }
    let removed = engine.network_prune(&filters)?;
    let s = networks_section(&removed);
    if !s.is_empty() {
        writeln!(std::io::stdout().lock(), "{s}")?;
    }
    Ok(())
}

/// `berth debug network-alloc`: IPAM without containers, for tests.
pub fn debug_alloc(
    engine: &Engine,
    network: &str,
    container: &str,
    ip: Option<std::net::Ipv4Addr>,
    release: bool,
) -> CliResult {
    if release {
        engine.network_release(network, container)?;
        return Ok(());
    }
    match engine.network_allocate(network, container, container, ip, &[])? {
        Some(e) => writeln!(std::io::stdout().lock(), "{} {}", e.ipv4, e.mac)?,
        None => writeln!(std::io::stdout().lock(), "none")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;

    #[test]
    fn names_sort_naturally() {
        let mut v = vec!["n11", "n5", "bad name", "a/b", "n9", "host", "n05"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a/b", "bad name", "host", "n5", "n05", "n9", "n11"]);
    }
}
