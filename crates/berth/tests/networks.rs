//! `berth network ...` on a private root each: the built-in networks,
//! create/ls/inspect/rm/prune with Docker's output, errors and exit codes,
//! IPAM (default pools, host routes, concurrent allocation by separate
//! berth processes), and a comparison with a private dockerd.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::Root;
use serde_json::Value;

fn inspect(r: &Root, name: &str) -> Value {
    let o = r.run(&["network", "inspect", name]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    v[0].clone()
}

fn err(r: &Root, args: &[&str]) -> (i32, String) {
    let o = r.run(args);
    assert_eq!(o.stdout, "", "{args:?}");
    (o.code, o.stderr)
}

#[test]
fn builtins_create_ls_inspect_rm() {
    let r = Root::new();
    // The built-ins exist on first use.
    let ls = r.ok(&["network", "ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines[0], "NETWORK ID     NAME      DRIVER    SCOPE");
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    let bridge = inspect(&r, "bridge");
    assert_eq!(bridge["Driver"], "bridge");
    assert_eq!(bridge["IPAM"]["Options"], Value::Null);
    assert_eq!(
        bridge["Options"]["com.docker.network.bridge.default_bridge"],
        "true"
    );
    assert_eq!(bridge["Options"]["com.docker.network.driver.mtu"], "1500");
    let none = inspect(&r, "none");
    assert_eq!(none["Driver"], "null");
    assert_eq!(none["IPAM"]["Config"], serde_json::json!([]));
    // The same IDs every time: made once.
    assert_eq!(inspect(&r, "bridge")["Id"], bridge["Id"]);

    let id = r.ok(&["network", "create", "n1"]).trim().to_string();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let n1 = inspect(&r, "n1");
    let keys: Vec<&str> = n1.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Name",
            "Id",
            "Created",
            "Scope",
            "Driver",
            "EnableIPv6",
            "IPAM",
            "Internal",
            "Attachable",
            "Ingress",
            "ConfigFrom",
            "ConfigOnly",
            "Containers",
            "Options",
            "Labels"
        ]
    );
    assert_eq!(n1["Id"], id.as_str());
    assert_eq!(n1["Scope"], "local");
    assert_eq!(n1["IPAM"]["Options"], serde_json::json!({}));
    // The default bridge took the first free pool; n1 the next one.
    let bridge_subnet = bridge["IPAM"]["Config"][0]["Subnet"].as_str().unwrap();
    let n1_subnet = n1["IPAM"]["Config"][0]["Subnet"].as_str().unwrap();
    assert_ne!(bridge_subnet, n1_subnet);
    assert!(n1_subnet.starts_with("172.") || n1_subnet.starts_with("192.168."));
    let gw = n1["IPAM"]["Config"][0]["Gateway"].as_str().unwrap();
    assert!(gw.ends_with(".1"), "{gw}");

    // Lookups: ID prefix, full ID, name; the record on disk.
    assert_eq!(inspect(&r, &id[..5])["Name"], "n1");
    assert_eq!(inspect(&r, &id)["Name"], "n1");
    assert!(r
        .path()
        .join("networks")
        .join(&id)
        .join("network.json")
        .is_file());

    assert_eq!(
        err(&r, &["network", "create", "n1"]),
        (
            1,
            "Error response from daemon: network with name n1 already exists\n".into()
        )
    );
    for n in ["n11", "n5", "a/b", "bad name"] {
        r.ok(&["network", "create", n]);
    }
    let names: Vec<String> = r
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect();
    // The docker CLI's natural sort.
    assert_eq!(
        names,
        ["a/b", "bad name", "bridge", "host", "n1", "n5", "n11", "none"]
    );
    let q = r.ok(&["network", "ls", "-q", "-f", "name=n1"]);
    assert_eq!(
        q,
        format!("{}\n{}\n", &id[..12], {
            let v = inspect(&r, "n11");
            v["Id"].as_str().unwrap()[..12].to_string()
        })
    );
    let f = format!("id={}", &id[..10]);
    let full = r.ok(&["network", "ls", "--no-trunc", "-f", &f]);
    assert!(
        full.ends_with(&format!("{id}   n1        bridge    local\n")),
        "{full}"
    );

    // Removal: built-ins refused, missing ones in the docker CLI's words.
    assert_eq!(
        err(&r, &["network", "rm", "bridge"]),
        (
            1,
            "Error response from daemon: bridge is a pre-defined network and cannot be removed\n"
                .into()
        )
    );
    let o = r.run(&["network", "rm", "nope", "n1", "n5"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "n1\nn5\n");
    assert_eq!(o.stderr, "Error: No such network: nope\n");
    assert!(!r.path().join("networks").join(&id).exists());
    let o = r.run(&["network", "inspect", "nope", "-f", "{{.Name}}"]);
    assert_eq!((o.code, o.stdout.as_str()), (1, "\n"));
    assert_eq!(o.stderr, "Error: No such network: nope\n");
    let o = r.run(&["network", "inspect", "nope"]);
    assert_eq!((o.code, o.stdout.as_str()), (1, "[]\n"));
    // Nothing left in tmp/.
    assert_eq!(r.tmp_entries(), 0);
}

#[test]
fn create_options_and_errors() {
    let r = Root::new();
    let out = r.ok(&[
        "network",
        "create",
        "--subnet",
        "10.150.0.0/16",
        "--gateway",
        "10.150.0.254",
        "--ip-range",
        "10.150.1.0/24",
        "--label",
        "a=b",
        "--label",
        "c",
        "-o",
        "com.docker.network.bridge.name=brtest0",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "--internal",
        "--attachable",
        "n2",
    ]);
    assert_eq!(out.trim().len(), 64);
    let n2 = inspect(&r, "n2");
    assert_eq!(
        n2["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "10.150.0.0/16", "IPRange": "10.150.1.0/24", "Gateway": "10.150.0.254"}])
    );
    assert_eq!(n2["Internal"], true);
    assert_eq!(n2["Attachable"], true);
    assert_eq!(n2["Labels"], serde_json::json!({"a": "b", "c": ""}));
    assert_eq!(
        n2["Options"],
        serde_json::json!({"com.docker.network.bridge.name": "brtest0", "com.docker.network.driver.mtu": "1400"})
    );
    // A subnet given as written is kept as written, without a gateway.
    r.ok(&["network", "create", "--subnet", "10.151.0.1/16", "n3"]);
    assert_eq!(
        inspect(&r, "n3")["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "10.151.0.1/16"}])
    );
    // IPv6 with a subnet: an automatic IPv4 pool plus the given one.
    r.ok(&["network", "create", "--ipv6", "--subnet", "fd77::/64", "n6"]);
    let n6 = inspect(&r, "n6");
    assert_eq!(n6["EnableIPv6"], true);
    assert_eq!(
        n6["IPAM"]["Config"][1],
        serde_json::json!({"Subnet": "fd77::/64"})
    );
    let before = r.ok(&["network", "ls", "-q"]);

    let daemon = |m: &str| (1, format!("Error response from daemon: {m}\n"));
    let cases: Vec<(Vec<&str>, (i32, String))> = vec![
        (
            vec!["--subnet", "10.150.3.0/24", "x"],
            daemon("Pool overlaps with other one on this address space"),
        ),
        (
            vec!["--subnet", "10.0.0.0/8", "x"],
            daemon("Pool overlaps with other one on this address space"),
        ),
        (
            vec!["--subnet", "10.50.0.0/33", "x"],
            daemon("Invalid subnet 10.50.0.0/33 : invalid CIDR address: 10.50.0.0/33"),
        ),
        (
            vec!["--subnet", "foo", "x"],
            daemon("Invalid subnet foo : invalid CIDR address: foo"),
        ),
        (
            vec!["--gateway", "10.61.0.1", "x"],
            (
                1,
                "every ip-range or gateway must have a corresponding subnet\n".into(),
            ),
        ),
        (
            vec!["--subnet", "10.61.0.0/16", "--gateway", "10.62.0.1", "x"],
            (1, "no matching subnet for gateway 10.62.0.1\n".into()),
        ),
        (
            vec!["--subnet", "10.61.0.0/16", "--ip-range", "foo", "x"],
            (1, "no matching subnet for range foo\n".into()),
        ),
        (
            vec!["--subnet", "10.61.0.0/16", "--subnet", "10.61.3.0/24", "x"],
            (
                1,
                "multiple overlapping subnet configuration is not supported\n".into(),
            ),
        ),
        (
            vec!["--subnet", "10.61.0.0/16", "--subnet", "10.62.0.0/16", "x"],
            daemon("bridge driver doesn't support multiple subnets"),
        ),
        (
            vec!["--subnet", "10.80.0.0/16", "--gateway", "10.80.0.0", "x"],
            daemon("failed to allocate gateway (10.80.0.0): Address already in use"),
        ),
        (
            vec!["--subnet", "10.80.0.0/16", "--gateway", "10.80.255.255", "x"],
            daemon("failed to allocate gateway (10.80.255.255): Address already in use"),
        ),
        (
            vec!["--ipv6", "x"],
            daemon("could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"),
        ),
        (vec!["-d", "foo", "x"], daemon("plugin \"foo\" not found")),
        (
            vec!["-d", "host", "x"],
            daemon("only one instance of \"host\" network is allowed"),
        ),
        (
            vec!["-d", "null", "x"],
            daemon("only one instance of \"null\" network is allowed"),
        ),
        (
            vec!["bridge"],
            daemon("operation is not permitted on predefined bridge network"),
        ),
        (
            vec!["default"],
            daemon("operation is not permitted on predefined default network"),
        ),
        (
            vec!["n2"],
            daemon("network with name n2 already exists"),
        ),
        (
            vec!["-o", "com.docker.network.driver.mtu=abc", "x"],
            daemon("failed to parse com.docker.network.driver.mtu value: abc (strconv.Atoi: parsing \"abc\": invalid syntax)"),
        ),
        (vec![""], daemon("invalid name:")),
    ];
    for (args, want) in cases {
        let mut full = vec!["network", "create"];
        full.extend(&args);
        assert_eq!(err(&r, &full), want, "{args:?}");
    }
    // Same bridge name as n2.
    let (code, e) = err(
        &r,
        &[
            "network",
            "create",
            "-o",
            "com.docker.network.bridge.name=brtest0",
            "x",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        e.ends_with(&format!(
            "(brtest0): conflicts with network {} (brtest0): networks have same bridge name\n",
            n2["Id"].as_str().unwrap()
        )),
        "{e}"
    );
    let (code, e) = err(&r, &["network", "create"]);
    assert_eq!(code, 1);
    assert!(
        e.starts_with("berth: 'berth network create' requires 1 argument"),
        "{e}"
    );
    // Nothing was made by any of them.
    assert_eq!(r.ok(&["network", "ls", "-q"]), before);
    assert_eq!(r.tmp_entries(), 0);
}

#[test]
fn ls_filters_and_formats() {
    let r = Root::new();
    r.ok(&["network", "create", "--label", "x=1", "--label", "y", "lab"]);
    r.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd78::/64",
        "six",
    ]);
    let names = |f: &[&str]| -> String {
        let mut args = vec!["network", "ls", "--format", "{{.Name}}"];
        for x in f {
            args.push("-f");
            args.push(x);
        }
        r.ok(&args).lines().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(names(&["type=custom"]), "lab six");
    assert_eq!(names(&["type=builtin"]), "bridge host none");
    assert_eq!(names(&["driver=bridge", "name=^[bl]"]), "bridge lab");
    assert_eq!(names(&["label=x=1"]), "lab");
    assert_eq!(names(&["label=y", "label=x"]), "lab");
    assert_eq!(names(&["dangling=true"]), "lab six");
    assert_eq!(names(&["dangling=false"]), "bridge host none");
    assert_eq!(names(&["scope=swarm"]), "");
    let o = r.run(&["network", "ls", "-f", "foo=bar"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error response from daemon: Invalid filter 'foo'\n")
    );
    let o = r.run(&["network", "ls", "-f", "type=foo"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "Error response from daemon: invalid filter: 'type'='foo'\n"
        )
    );
    let o = r.run(&["network", "ls", "-f", "foo"]);
    assert_eq!(o.code, 125);
    assert!(o.stderr.starts_with(
        "invalid argument \"foo\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
    ));
    let t = r.ok(&[
        "network",
        "ls",
        "-f",
        "name=six",
        "--format",
        "table {{.Name}}\t{{.IPv6}}\t{{.Internal}}\t{{.Labels}}",
    ]);
    assert_eq!(
        t,
        "NAME      IPV6      INTERNAL   LABELS\nsix       true      false      \n"
    );
    let l = r.ok(&[
        "network",
        "ls",
        "-f",
        "name=lab",
        "--format",
        "{{.Labels}}|{{.CreatedAt}}",
    ]);
    let (labels, created) = l.trim().split_once('|').unwrap();
    assert_eq!(labels, "x=1,y=");
    assert!(created.ends_with(" +0000 UTC"), "{created}");
}

#[test]
fn prune_and_system_prune() {
    let r = Root::new();
    r.ok(&["network", "create", "--label", "keep", "k"]);
    r.ok(&["network", "create", "p1"]);
    r.ok(&["network", "create", "p2"]);
    // Declined: nothing removed, nothing more printed.
    let o = r.run_stdin(&["network", "prune"], b"n\n");
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
    );
    let o = r.run(&["network", "prune", "-f", "--filter", "foo=1"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error response from daemon: Invalid filter 'foo'\n")
    );
    // Nothing older than an hour.
    assert_eq!(
        r.ok(&["network", "prune", "-f", "--filter", "until=1h"]),
        ""
    );
    assert_eq!(
        r.ok(&["network", "prune", "-f", "--filter", "label!=keep"]),
        "Deleted Networks:\np1\np2\n\n"
    );
    r.ok(&["network", "create", "p3"]);
    let o = r.ok(&["system", "prune", "-f"]);
    assert_eq!(o, "Deleted Networks:\nk\np3\n\nTotal reclaimed space: 0B\n");
    assert_eq!(
        r.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "bridge\nhost\nnone\n"
    );
    assert_eq!(r.ok(&["network", "prune", "-f"]), "");
}

/// 8 berth processes allocate 10 addresses each on one network at once:
/// 80 distinct addresses, none the network, broadcast or gateway address.
#[test]
fn concurrent_allocation_has_no_duplicates() {
    let r = Root::new();
    r.ok(&["network", "create", "--subnet", "10.123.0.0/24", "alloc"]);
    let mut children = Vec::new();
    for p in 0..8 {
        let c = r.cmd();
        let script = (0..10)
            .map(|i| {
                format!("\"$0\" --root \"$1\" --runroot \"$2\" debug network-alloc alloc c{p}x{i}")
            })
            .collect::<Vec<_>>()
            .join(" && ");
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(script)
            .arg(c.get_program())
            .args(c.get_args().skip(1).step_by(2).take(2));
        sh.stdout(std::process::Stdio::piped());
        children.push(sh.spawn().unwrap());
    }
    let mut ips = BTreeSet::new();
    let mut n = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success());
        for line in String::from_utf8(o.stdout).unwrap().lines() {
            let (ip, mac) = line.split_once(' ').unwrap();
            let last: u8 = ip.rsplit('.').next().unwrap().parse().unwrap();
            assert!(ip.starts_with("10.123.0."), "{ip}");
            assert!(!matches!(last, 0 | 1 | 255), "{ip}");
            assert_eq!(mac, format!("02:42:0a:7b:00:{last:02x}"));
            ips.insert(ip.to_string());
            n += 1;
        }
    }
    assert_eq!((n, ips.len()), (80, 80));
    assert_eq!(r.ok(&["debug", "check-store"]), "store is consistent\n");
    // A /30 holds the gateway and one container.
    let full = r.ok(&["network", "create", "--subnet", "10.122.0.0/30", "tiny"]);
    assert_eq!(
        r.ok(&["debug", "network-alloc", "tiny", "t1"]),
        "10.122.0.2 02:42:0a:7a:00:02\n"
    );
    assert_eq!(
        err(&r, &["debug", "network-alloc", "tiny", "t2"]),
        (
            1,
            format!(
                "Error response from daemon: no available IPv4 addresses on this network's address pools: tiny ({})\n",
                full.trim()
            )
        )
    );
    // Serial: the next one follows the highest, 10.123.0.82.
    assert_eq!(
        r.ok(&["debug", "network-alloc", "alloc", "next"]),
        "10.123.0.82 02:42:0a:7b:00:52\n"
    );
    // Asking again returns the container's address.
    assert_eq!(
        r.ok(&["debug", "network-alloc", "alloc", "next"]),
        "10.123.0.82 02:42:0a:7b:00:52\n"
    );
    let containers = inspect(&r, "alloc")["Containers"].clone();
    assert_eq!(containers.as_object().unwrap().len(), 81);
    assert_eq!(containers["next"]["IPv4Address"], "10.123.0.82/24");
    assert_eq!(containers["next"]["MacAddress"], "02:42:0a:7b:00:52");
    // In use: rm and prune refuse or skip it.
    let id = inspect(&r, "alloc")["Id"].as_str().unwrap().to_string();
    assert_eq!(
        err(&r, &["network", "rm", "alloc"]),
        (
            1,
            format!("Error response from daemon: error while removing network: network alloc id {id} has active endpoints\n")
        )
    );
    assert_eq!(r.ok(&["network", "prune", "-f"]), "");
    assert_eq!(
        r.ok(&[
            "network",
            "ls",
            "-f",
            "dangling=false",
            "--format",
            "{{.Name}}"
        ]),
        "alloc\nbridge\nhost\nnone\ntiny\n"
    );
    for p in 0..8 {
        for i in 0..10 {
            r.ok(&[
                "debug",
                "network-alloc",
                "--release",
                "alloc",
                &format!("c{p}x{i}"),
            ]);
        }
    }
    r.ok(&["debug", "network-alloc", "--release", "alloc", "next"]);
    r.ok(&["debug", "network-alloc", "--release", "tiny", "t1"]);
    assert_eq!(r.ok(&["network", "rm", "alloc", "tiny"]), "alloc\ntiny\n");
}

/// 8 berth processes create the same name at once: one wins, the others
/// get Docker's error; 8 more create networks with automatic subnets at
/// once: all get different subnets.
#[test]
fn concurrent_creates() {
    let r = Root::new();
    let run_all = |names: Vec<String>| -> Vec<std::process::Output> {
        let children: Vec<_> = names
            .iter()
            .map(|n| {
                r.cmd()
                    .args(["network", "create", n])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    };
    let outs = run_all(vec!["same".to_string(); 8]);
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1);
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "Error response from daemon: network with name same already exists\n"
        );
    }
    let outs = run_all((0..8).map(|i| format!("auto{i}")).collect());
    assert!(outs.iter().all(|o| o.status.success()));
    let subnets: BTreeSet<String> = r
        .ok(&["network", "ls", "-q", "--no-trunc"])
        .lines()
        .map(|id| inspect(&r, id)["IPAM"]["Config"][0]["Subnet"].to_string())
        .collect();
    // bridge, same, auto0..7 (host and none have none: one "null").
    assert_eq!(subnets.len(), 11, "{subnets:?}");
    assert_eq!(r.ok(&["network", "ls", "-q"]).lines().count(), 12);
}

#[test]
fn static_addresses() {
    let r = Root::new();
    r.ok(&[
        "network",
        "create",
        "--subnet",
        "10.124.0.0/16",
        "--ip-range",
        "10.124.1.0/24",
        "st",
    ]);
    r.ok(&["network", "create", "auto"]);
    let alloc = |net: &str, c: &str, ip: Option<&str>| {
        let mut a = vec!["debug", "network-alloc", net, c];
        if let Some(ip) = ip {
            a.extend(["--ip", ip]);
        }
        let o = r.run(&a);
        (o.code, o.stdout, o.stderr)
    };
    // Dynamic addresses come from the range, after the gateway libnetwork
    // takes from it (its first address, 10.124.1.0).
    assert_eq!(alloc("st", "a", None).1, "10.124.1.1 02:42:0a:7c:01:01\n");
    // Static ones anywhere in the subnet.
    assert_eq!(
        alloc("st", "b", Some("10.124.7.7")).1,
        "10.124.7.7 02:42:0a:7c:07:07\n"
    );
    let daemon = |m: &str| {
        (
            1,
            String::new(),
            format!("Error response from daemon: {m}\n"),
        )
    };
    assert_eq!(
        alloc("st", "c", Some("10.124.7.7")),
        daemon("Address already in use")
    );
    assert_eq!(
        alloc("st", "c", Some("10.124.1.0")),
        daemon("Address already in use")
    );
    assert_eq!(
        alloc("st", "c", Some("10.124.0.0")),
        daemon("Address already in use")
    );
    assert_eq!(
        alloc("st", "d", Some("10.124.0.1")).1,
        "10.124.0.1 02:42:0a:7c:00:01\n"
    );
    assert_eq!(
        alloc("st", "c", Some("10.125.0.1")),
        daemon("Invalid address 10.125.0.1: It does not belong to any of this network's subnets")
    );
    assert_eq!(
        alloc("bridge", "c", Some("172.17.0.9")),
        daemon("user specified IP address is supported on user defined networks only")
    );
    assert_eq!(
        alloc("auto", "c", Some("172.18.0.9")),
        daemon("user specified IP address is supported only when connecting to networks with user configured subnets")
    );
    assert_eq!(alloc("none", "c", None).1, "none\n");
    // Auxiliary addresses are never handed out; one on the gateway is
    // refused.
    r.ok(&[
        "network",
        "create",
        "--subnet",
        "10.126.0.0/24",
        "--aux-address",
        "a=10.126.0.2",
        "aux",
    ]);
    assert_eq!(
        inspect(&r, "aux")["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "10.126.0.0/24", "AuxiliaryAddresses": {"a": "10.126.0.2"}}])
    );
    assert_eq!(alloc("aux", "f", None).1, "10.126.0.3 02:42:0a:7e:00:03\n");
    assert_eq!(
        alloc("aux", "g", Some("10.126.0.2")),
        daemon("Address already in use")
    );
    let o = r.run(&[
        "network",
        "create",
        "--subnet",
        "10.127.0.0/24",
        "--aux-address",
        "a=10.127.0.1",
        "aux2",
    ]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "Error response from daemon: failed to allocate secondary ip address (a:10.127.0.1): Address already in use\n")
    );
    assert_eq!(
        alloc("nope", "c", None),
        (
            1,
            String::new(),
            "Error response from daemon: network nope not found\n".into()
        )
    );
    // The default bridge hands out .2 first (Docker's 172.17.0.2 when
    // that pool is free).
    let b = alloc("bridge", "e", None).1;
    let bridge = inspect(&r, "bridge")["IPAM"]["Config"][0].clone();
    // As dockerd shows a default bridge it created: no gateway.
    assert_eq!(bridge.as_object().unwrap().len(), 1, "{bridge}");
    let subnet = bridge["Subnet"].as_str().unwrap();
    let want = format!("{}2", subnet.split_once("0/").unwrap().0);
    assert!(b.starts_with(&format!("{want} ")), "{b} vs {want}");
}

/// In a network namespace of its own with a route to 172.17.5.0/24 and
/// one to 172.18.0.0/15, the default bridge skips to 172.20.0.0/16 and a
/// new network takes the next free pool.
#[test]
fn default_pools_avoid_host_routes() {
    if Command::new("unshare").arg("--version").output().is_err() {
        eprintln!("skipping: unshare not installed");
        return;
    }
    let r = Root::new();
    let c = r.cmd();
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let berth = format!(
        "{} {}",
        c.get_program().to_string_lossy(),
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let script = format!(
        "set -e; ip link set lo up; \
         ip route add 172.17.5.0/24 dev lo; ip route add 172.18.0.0/15 dev lo; \
         {berth} network create n >/dev/null; \
         {berth} network inspect -f '{{{{(index .IPAM.Config 0).Subnet}}}}' bridge n"
    );
    let o = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "172.20.0.0/16\n172.21.0.0/16\n"
    );
}

/// The host's network interfaces, by name.
fn host_links() -> Vec<String> {
    let o = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect();
    names.sort();
    names
}

/// The same `network create` commands on a private dockerd (20.10, no
/// default bridge there) and on berth: the same `network inspect` (IDs
/// and times normalised) and `network ls`, or the same error. dockerd runs
/// in a network namespace of its own, so the bridge it makes per network
/// never appears on the host (and goes with the namespace).
#[test]
fn networks_match_dockerd() {
    let Some(d) = common::dockerd::Dockerd::start_in_own_netns() else {
        return;
    };
    let r = Root::new();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--subnet", "10.201.0.0/16", "x1"],
        vec![
            "--subnet",
            "10.202.0.0/16",
            "--gateway",
            "10.202.0.254",
            "--ip-range",
            "10.202.1.0/24",
            "--label",
            "a=b",
            "--label",
            "c",
            "-o",
            "com.docker.network.driver.mtu=1400",
            "-o",
            "com.docker.network.bridge.name=berthxck0",
            "--internal",
            "--attachable",
            "x2",
        ],
        vec!["--subnet", "10.203.0.1/16", "x3"],
        vec![
            "--ipv6",
            "--subnet",
            "10.204.0.0/16",
            "--subnet",
            "fd79::/64",
            "x4",
        ],
        vec!["--subnet", "10.204.3.0/24", "x5"],
        vec!["--subnet", "10.205.0.0/33", "x5"],
        vec!["--gateway", "10.206.0.1", "x5"],
        vec![
            "--subnet",
            "10.207.0.0/16",
            "--ip-range",
            "10.208.0.0/24",
            "x5",
        ],
        vec!["--subnet", "10.209.0.0/16", "--gateway", "10.209.0.0", "x5"],
        vec![
            "--subnet",
            "10.210.0.0/16",
            "--subnet",
            "10.211.0.0/16",
            "x5",
        ],
        vec!["-d", "foo", "x5"],
        vec!["-d", "host", "x5"],
        vec!["host"],
        vec!["x1"],
        vec!["--ipv6", "x5"],
        vec!["-o", "com.docker.network.driver.mtu=abc", "x5"],
        vec!["--ipam-opt", "k=v", "--subnet", "10.212.0.0/16", "x6"],
        vec![
            "--subnet",
            "10.213.0.0/24",
            "--aux-address",
            "a=10.213.0.1",
            "x7",
        ],
        vec![
            "--subnet",
            "10.214.0.0/24",
            "--aux-address",
            "a=10.214.0.5",
            "x7",
        ],
        vec![
            "--subnet",
            "10.215.0.0/24",
            "--aux-address",
            "a=10.216.0.5",
            "x8",
        ],
    ];
    let norm_err = |s: &str| s.replace("docker", "berth");
    let norm_json = |s: &str| -> Value {
        let mut v: Value = serde_json::from_str(s).unwrap();
        for n in v.as_array_mut().unwrap() {
            n["Id"] = "ID".into();
            n["Created"] = "T".into();
            // The docker CLI builds the list from a Go map: any order.
            if let Some(c) = n["IPAM"]["Config"].as_array_mut() {
                c.sort_by_key(|x| x["Subnet"].as_str().unwrap_or("").to_string());
            }
        }
        v
    };
    for c in &cases {
        let mut args = vec!["network", "create"];
        args.extend(c);
        let dock = d.docker(&args);
        let mine = r.run(&args);
        assert_eq!(
            (mine.code, norm_err(&mine.stderr)),
            (dock.code, norm_err(&dock.stderr)),
            "{c:?}"
        );
        if dock.code == 0 {
            let name = c.last().unwrap();
            let dj = d.docker(&["network", "inspect", name]);
            let bj = r.run(&["network", "inspect", name]);
            assert_eq!(norm_json(&bj.stdout), norm_json(&dj.stdout), "{c:?}");
        }
    }
    // dockerd's bridges, one per network, are in its namespace; none of
    // them is on the host.
    let ids = d
        .docker(&["network", "ls", "-q", "-f", "type=custom"])
        .stdout;
    let ns = format!("--net=/proc/{}/ns/net", d.pid());
    let o = Command::new("nsenter")
        .args([ns.as_str(), "ip", "-o", "link"])
        .output()
        .unwrap();
    let bridges: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter(|n| *n != "lo")
        .map(str::to_string)
        .collect();
    assert_eq!(bridges.len(), ids.lines().count(), "{bridges:?}");
    assert!(bridges.iter().any(|b| b == "berthxck0"), "{bridges:?}");
    // berth's own bridges of the same networks are on the host (tagged as
    // this root's); dockerd's must not be.
    let st: serde_json::Value = serde_json::from_str(&r.ok(&["debug", "net-state"])).unwrap();
    let ours: Vec<String> = st["Links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let host = host_links();
    for b in &bridges {
        assert!(!host.contains(b) || ours.contains(b), "{b} on the host");
    }
    // The built-ins other than the bridge (dockerd runs without one).
    let dj = d.docker(&["network", "inspect", "host", "none"]);
    let bj = r.run(&["network", "inspect", "host", "none"]);
    assert_eq!(norm_json(&bj.stdout), norm_json(&dj.stdout));
    // ls: the same rows once IDs are masked (dockerd has no bridge here).
    let ls = |o: String| -> Vec<String> {
        o.lines()
            .filter(|l| !l.contains(" bridge    bridge ") && !l.starts_with("bridge "))
            .map(|l| {
                if !l.contains("   ") {
                    return l.to_string();
                }
                let (id, rest) = l.split_at(15.min(l.len()));
                let id = if id.starts_with("NETWORK") {
                    id
                } else {
                    "ID             "
                };
                format!("{id}{rest}")
            })
            .collect()
    };
    for args in [
        vec!["network", "ls"],
        vec!["network", "ls", "-f", "type=custom", "-f", "label=a"],
        vec![
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.IPv6}} {{.Internal}}",
        ],
    ] {
        let dock = d.docker(&args);
        let mine = r.run(&args);
        assert_eq!(ls(mine.stdout), ls(dock.stdout), "{args:?}");
    }
    // Errors of lookups and removal, in the 20.10 CLI's words.
    for args in [
        vec!["network", "rm", "nope", "x1"],
        vec!["network", "rm", "none"],
        vec!["network", "inspect", "nope"],
        vec!["network", "ls", "-f", "dangling=x"],
        vec!["network", "prune", "-f", "--filter", "label=a"],
        vec!["network", "prune", "-f"],
    ] {
        let dock = d.docker(&args);
        let mine = r.run(&args);
        // dockerd prunes in map order: compare the lines as sets.
        let sorted = |s: &str| {
            let mut l: Vec<&str> = s.lines().collect();
            l.sort();
            l.join("\n")
        };
        assert_eq!(
            (mine.code, sorted(&mine.stdout), mine.stderr),
            (dock.code, sorted(&dock.stdout), dock.stderr),
            "{args:?}"
        );
    }
    // dockerd made bridges for its networks: all gone with them.
    let left = d.docker(&["network", "ls", "-q", "-f", "type=custom"]);
    assert_eq!(left.stdout, "");
    drop(d);
    // berth's own bridges of the same networks are on the host (tagged as
    // this root's); dockerd's must not be.
    let st: serde_json::Value = serde_json::from_str(&r.ok(&["debug", "net-state"])).unwrap();
    let ours: Vec<String> = st["Links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let host = host_links();
    for b in &bridges {
        assert!(!host.contains(b) || ours.contains(b), "{b} on the host");
    }
}

/// `debug check-store` notices an address given to two containers.
#[test]
fn check_store_finds_duplicate_addresses() {
    let r = Root::new();
    let id = r.ok(&["network", "create", "--subnet", "10.128.0.0/24", "chk"]);
    let id = id.trim();
    r.ok(&["debug", "network-alloc", "chk", "a"]);
    r.ok(&["debug", "network-alloc", "chk", "b"]);
    assert_eq!(r.ok(&["debug", "check-store"]), "store is consistent\n");
    let path = r.path().join("networks").join(id).join("ipam.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("10.128.0.3", "10.128.0.2")).unwrap();
    let o = r.run(&["debug", "check-store"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, format!("network {id}: 10.128.0.2 given twice\n"));
}

/// berth processes creating networks and allocating addresses are
/// SIGKILLed at spread-out moments (the delays only spread the kills; no
/// outcome depends on them): the store stays consistent, the next command
/// sweeps what they left in `tmp/`, and allocation goes on without
/// duplicates.
#[test]
fn sigkill_during_create_and_allocation_leaves_a_consistent_store() {
    let r = Root::new();
    r.ok(&["network", "create", "--subnet", "10.129.0.0/24", "k"]);
    for round in 0..4u64 {
        let mut children = Vec::new();
        for i in 0..6 {
            let args: Vec<String> = if i % 3 == 0 {
                vec!["network".into(), "create".into(), format!("k{round}x{i}")]
            } else {
                vec![
                    "debug".into(),
                    "network-alloc".into(),
                    "k".into(),
                    format!("c{round}x{i}"),
                ]
            };
            children.push(
                r.cmd()
                    .args(&args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(3 * round + 1));
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    assert_eq!(r.ok(&["debug", "check-store"]), "store is consistent\n");
    // Only staging dirs of a scratch dir killed before it was locked may
    // remain (swept once a minute old, as for every scratch dir).
    let left: Vec<String> = std::fs::read_dir(r.path().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".new-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // No temp file of a killed writer stays beside ipam.json.
    r.ok(&["debug", "network-alloc", "k", "sweeper"]);
    let id = inspect(&r, "k")["Id"].as_str().unwrap().to_string();
    let files: Vec<String> = std::fs::read_dir(r.path().join("networks").join(&id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().all(|f| !f.starts_with('.')), "{files:?}");
    // Whatever survived, the next address is new.
    let before = inspect(&r, "k")["Containers"].clone();
    let out = r.ok(&["debug", "network-alloc", "k", "after"]);
    let ip = out.split_whitespace().next().unwrap();
    for c in before.as_object().unwrap().values() {
        assert_ne!(c["IPv4Address"], format!("{ip}/24"));
    }
    assert_eq!(r.ok(&["debug", "check-store"]), "store is consistent\n");
    // Bridges of creates killed before their tag was set go too.
    r.assert_network_teardown();
}
