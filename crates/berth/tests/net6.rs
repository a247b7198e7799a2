//! IPv6, as Docker 20.10 does it when enabled: `--ipv6` networks, their
//! addresses (IPAM and `--ip6`), AAAA answers of the embedded DNS, and
//! published ports on `::` (DNAT to a container's IPv6 address, the
//! monitor's proxy for `::1` and for IPv4-only containers). Traffic goes
//! only to ::1, 127.0.0.1 and the containers these tests make; subnets are
//! ULAs unique to the test process. Every test skips (saying why) on a host
//! with IPv6 disabled.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{http_get, httpd, root_with_busybox, wait_until, Root};
use serde_json::Value;

/// Whether this host has IPv6; prints why a test is skipped otherwise.
fn ipv6_or_skip(test: &str) -> bool {
    let on = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        .is_ok_and(|v| v.trim() == "0");
    if !on {
        eprintln!("{test}: skipped: IPv6 is disabled on this host");
    }
    on
}

/// A /64 of fd00::/8 no other test process uses (`n` tells a test's
/// networks apart).
fn ula(n: u16) -> String {
    format!("fd00:b6:{:x}:{n:x}", std::process::id() & 0xffff)
}

fn inspect(r: &Root, c: &str) -> Value {
    let v: Value = serde_json::from_str(&r.ok(&["inspect", c])).unwrap();
    v[0].clone()
}

/// A TCP port free on both 0.0.0.0 and [::] (a dual-stack bind of port
/// 0, released).
fn free_port() -> u16 {
    loop {
        let p = TcpListener::bind("[::]:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if TcpListener::bind(("0.0.0.0", p)).is_ok() {
            return p;
        }
    }
}

fn net_state(r: &Root) -> Value {
    serde_json::from_str(&r.ok(&["debug", "net-state"])).unwrap()
}

#[test]
fn ipv6_network_addresses_names_and_teardown() {
    if !ipv6_or_skip("ipv6_network_addresses_names_and_teardown") {
        return;
    }
    let r = root_with_busybox();
    let p = ula(1);
    let subnet = format!("{p}::/64");
    r.ok(&["network", "create", "--ipv6", "--subnet", &subnet, "v6net"]);
    let net: Value = serde_json::from_str(&r.ok(&["network", "inspect", "v6net"])).unwrap();
    assert_eq!(net[0]["EnableIPv6"], true);
    // dockerd's order: the automatic IPv4 pool first, then the v6 subnet
    // as given (no gateway shown).
    let cfg = net[0]["IPAM"]["Config"].as_array().unwrap().clone();
    assert_eq!(cfg.len(), 2, "{cfg:?}");
    assert!(cfg[0]["Gateway"].as_str().unwrap().contains('.'), "{cfg:?}");
    assert_eq!(cfg[1], serde_json::json!({ "Subnet": subnet }));

    httpd(
        &r,
        "a2",
        &["--network", "v6net", "--ip6", &format!("{p}::99")],
        "six",
    );
    r.ok(&[
        "run",
        "-d",
        "--name",
        "a1",
        "--network",
        "v6net",
        "busybox",
        "sleep",
        "300",
    ]);
    let a1 = inspect(&r, "a1");
    let ns = &a1["NetworkSettings"];
    let ep = &ns["Networks"]["v6net"];
    assert_eq!(ep["GlobalIPv6Address"], format!("{p}::2"));
    assert_eq!(ep["GlobalIPv6PrefixLen"], 64);
    assert_eq!(ep["IPv6Gateway"], format!("{p}::1"));
    assert_eq!(ep["IPAMConfig"], Value::Null);
    // Only the default bridge fills the top-level fields.
    assert_eq!(ns["GlobalIPv6Address"], "");
    assert_eq!(ns["IPv6Gateway"], "");
    let a2 = inspect(&r, "a2");
    let ep2 = &a2["NetworkSettings"]["Networks"]["v6net"];
    assert_eq!(ep2["GlobalIPv6Address"], format!("{p}::99"));
    assert_eq!(
        ep2["IPAMConfig"],
        serde_json::json!({ "IPv6Address": format!("{p}::99") })
    );
    let net: Value = serde_json::from_str(&r.ok(&["network", "inspect", "v6net"])).unwrap();
    let a1_id = a1["Id"].as_str().unwrap();
    assert_eq!(
        net[0]["Containers"][a1_id]["IPv6Address"],
        format!("{p}::2/64")
    );

    // /etc/hosts: the v6 line right after the v4 one.
    let hosts = r.ok(&["exec", "a1", "cat", "/etc/hosts"]);
    let short = &a1_id[..12];
    let v4 = ep["IPAddress"].as_str().unwrap();
    assert!(
        hosts.ends_with(&format!("{v4}\t{short}\n{p}::2\t{short}\n")),
        "{hosts}"
    );
    // The address and the default route are on eth0, usable at once.
    let addr = r.ok(&["exec", "a1", "ip", "-6", "addr", "show", "eth0"]);
    assert!(
        addr.contains(&format!("inet6 {p}::2/64 scope global")),
        "{addr}"
    );
    assert!(!addr.contains("global tentative"), "{addr}");
    let route = r.ok(&["exec", "a1", "ip", "-6", "route"]);
    assert!(
        route.contains(&format!("default via {p}::1 dev eth0")),
        "{route}"
    );

    // Reach each other by address and by name (AAAA from the embedded DNS).
    r.ok(&[
        "exec",
        "a1",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        &format!("{p}::99"),
    ]);
    let aaaa = r.ok(&["exec", "a1", "nslookup", "-type=AAAA", "a2"]);
    assert!(aaaa.contains(&format!("Address: {p}::99")), "{aaaa}");
    let url = format!("http://[{p}::99]/");
    wait_until("httpd answers", || {
        r.run(&["exec", "a1", "wget", "-q", "-O", "-", &url]).code == 0
    });
    assert_eq!(
        r.ok(&["exec", "a1", "wget", "-q", "-O", "-", "http://a2/"])
            .trim(),
        "six"
    );

    // The network's ip6 chains: masquerade of its subnet.
    let bridge = format!("br-{}", &net[0]["Id"].as_str().unwrap()[..12]);
    let table = net_state(&r)["Table"].as_str().unwrap().to_string();
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &table])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).to_string();
    assert!(
        rules.contains(&format!(
            "ip6 saddr {p}::/64 oifname != \"{bridge}\" masquerade"
        )),
        "{rules}"
    );
    assert_eq!(
        std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{bridge}/forwarding"))
            .unwrap()
            .trim(),
        "1"
    );

    // Connected later to a running IPv4-only container: its eth1 gets the
    // address and, the container having no IPv6 route yet, the v6 default
    // route (as with dockerd).
    r.ok(&["network", "create", "v4net"]);
    r.ok(&[
        "run",
        "-d",
        "--name",
        "b1",
        "--network",
        "v4net",
        "busybox",
        "sleep",
        "300",
    ]);
    r.ok(&[
        "network",
        "connect",
        "--ip6",
        &format!("{p}::77"),
        "v6net",
        "b1",
    ]);
    let b1 = inspect(&r, "b1");
    let ep = &b1["NetworkSettings"]["Networks"]["v6net"];
    assert_eq!(ep["GlobalIPv6Address"], format!("{p}::77"));
    // Connect adds both of the new network's lines to /etc/hosts.
    let hosts = r.ok(&["exec", "b1", "cat", "/etc/hosts"]);
    let short = &b1["Id"].as_str().unwrap()[..12];
    assert!(
        hosts.ends_with(&format!("\t{short}\n{p}::77\t{short}\n")),
        "{hosts}"
    );
    assert_eq!(
        ep["IPAMConfig"],
        serde_json::json!({ "IPv6Address": format!("{p}::77") })
    );
    let route = r.ok(&["exec", "b1", "ip", "-6", "route"]);
    assert!(
        route.contains(&format!("default via {p}::1 dev eth1")),
        "{route}"
    );
    r.ok(&[
        "exec",
        "b1",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        &format!("{p}::2"),
    ]);

    r.ok(&["rm", "-f", "a1", "a2", "b1"]);
    r.assert_no_leftovers();
    r.ok(&["network", "rm", "v6net", "v4net"]);
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &table])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&rules.stdout).contains(&bridge),
        "chains outlived the network"
    );
    r.assert_network_teardown();
}

#[test]
fn ipv6_errors_leave_the_store_unchanged() {
    if !ipv6_or_skip("ipv6_errors_leave_the_store_unchanged") {
        return;
    }
    let r = root_with_busybox();
    let p = ula(2);
    let q = ula(3);
    let subnet = format!("{p}::/64");
    r.ok(&["network", "create", "--ipv6", "--subnet", &subnet, "v6"]);
    r.ok(&["network", "create", "--subnet", "10.203.0.0/24", "v4only"]);
    r.ok(&[
        "run",
        "-d",
        "--name",
        "taken",
        "--network",
        "v6",
        "--ip6",
        &format!("{p}::99"),
        "busybox",
        "sleep",
        "300",
    ]);
    let fp = r.fingerprint();
    let daemon = |args: &[&str], code: i32, msg: &str| {
        let o = r.run(args);
        assert_eq!(o.code, code, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(msg), "{args:?}: {}", o.stderr);
    };
    daemon(
        &["network", "create", "--ipv6", "n2"],
        1,
        "Error response from daemon: could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network\n",
    );
    daemon(
        &[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            &format!("{p}:0:1::/80"),
            "n3",
        ],
        1,
        "Error response from daemon: Pool overlaps with other one on this address space\n",
    );
    daemon(
        &[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            &format!("{q}::/64"),
            "--subnet",
            &format!("{p}::/64"),
            "n4",
        ],
        1,
        "Error response from daemon: bridge driver doesn't support multiple subnets\n",
    );
    daemon(
        &[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            &format!("{q}::/64"),
            "--gateway",
            &format!("{p}::1"),
            "n5",
        ],
        1,
        &format!("no matching subnet for gateway {p}::1\n"),
    );
    daemon(
        &[
            "run",
            "--rm",
            "--network",
            "v6",
            "--ip6",
            "bogus",
            "busybox",
            "true",
        ],
        125,
        "invalid IPv6 address: bogus",
    );
    daemon(
        &["run", "--rm", "--network", "v4only", "--ip6", &format!("{p}::5"), "busybox", "true"],
        125,
        "user specified IP address is supported only when connecting to networks with user configured subnets",
    );
    daemon(
        &[
            "run",
            "--rm",
            "--network",
            "v6",
            "--ip6",
            &format!("{q}::5"),
            "busybox",
            "true",
        ],
        125,
        &format!("Invalid address {q}::5: It does not belong to any of this network's subnets"),
    );
    daemon(
        &[
            "run",
            "--rm",
            "--ip6",
            &format!("{p}::5"),
            "busybox",
            "true",
        ],
        125,
        "user specified IP address is supported on user defined networks only",
    );
    for used in [format!("{p}::99"), format!("{p}::1"), format!("{p}::")] {
        daemon(
            &[
                "run",
                "--rm",
                "--network",
                "v6",
                "--ip6",
                &used,
                "busybox",
                "true",
            ],
            126,
            "Error response from daemon: Address already in use",
        );
    }
    daemon(
        &["network", "connect", "--ip6", "bad", "v6", "taken"],
        1,
        "Error response from daemon: Invalid IPv6 address: bad)\n",
    );
    assert_eq!(fp, r.fingerprint());
    // A v6 subnet without --ipv6 is only shown: no pool is taken.
    r.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("{q}::/64"),
        "shown",
    ]);
    let v: Value = serde_json::from_str(&r.ok(&["network", "inspect", "shown"])).unwrap();
    assert_eq!(v[0]["EnableIPv6"], false);
    assert_eq!(v[0]["IPAM"]["Config"][1]["Subnet"], format!("{q}::/64"));
    r.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{q}::/64"),
        "real",
    ]);
    r.ok(&["rm", "-f", "taken"]);
    r.assert_no_leftovers();
    r.assert_network_teardown();
}

#[test]
fn published_ports_answer_on_ipv6() {
    if !ipv6_or_skip("published_ports_answer_on_ipv6") {
        return;
    }
    let r = root_with_busybox();
    // An IPv4-only container: `::` and `::1` go through the monitor's proxy.
    let (both, only6, only4) = (free_port(), free_port(), free_port());
    httpd(
        &r,
        "web4",
        &[
            "-p",
            &format!("{both}:80"),
            "-p",
            &format!("[::1]:{only6}:80"),
            "-p",
            &format!("127.0.0.1:{only4}:80"),
        ],
        "four",
    );
    assert_eq!(
        r.ok(&["ps", "--format", "{{.Ports}}"]),
        format!("0.0.0.0:{both}->80/tcp, 127.0.0.1:{only4}->80/tcp, :::{both}->80/tcp, ::1:{only6}->80/tcp\n")
    );
    assert_eq!(
        r.ok(&["port", "web4"]),
        format!("80/tcp -> 0.0.0.0:{both}\n80/tcp -> :::{both}\n80/tcp -> ::1:{only6}\n80/tcp -> 127.0.0.1:{only4}\n")
    );
    let ports = &inspect(&r, "web4")["NetworkSettings"]["Ports"]["80/tcp"];
    assert_eq!(
        ports[1],
        serde_json::json!({"HostIp": "::", "HostPort": both.to_string()})
    );
    wait_until("httpd answers", || {
        http_get(&format!("127.0.0.1:{both}")).is_ok()
    });
    for ok in [
        format!("127.0.0.1:{both}"),
        format!("[::1]:{both}"),
        format!("[::1]:{only6}"),
        format!("127.0.0.1:{only4}"),
    ] {
        assert!(http_get(&ok).unwrap().contains("four"), "{ok}");
    }
    assert!(http_get(&format!("127.0.0.1:{only6}")).is_err());
    assert!(http_get(&format!("[::1]:{only4}")).is_err());
    // The IPv6 side is taken too.
    assert!(TcpListener::bind(("::", both)).is_err());
    let fp = r.fingerprint();
    let dup = r.run(&[
        "run",
        "-d",
        "--name",
        "dup",
        "-p",
        &format!("[::1]:{both}:80"),
        "busybox",
        "sleep",
        "30",
    ]);
    assert_eq!(dup.code, 125, "{}", dup.stderr);
    assert!(
        dup.stderr.contains(&format!(
            "Error starting userland proxy: listen tcp6 [::1]:{both}: bind: address already in use"
        )),
        "{}",
        dup.stderr
    );
    r.ok(&["rm", "dup"]);
    assert_eq!(fp, r.fingerprint());

    // A container with an IPv6 address: DNAT on the kernel path, the
    // proxy for ::1 (to its IPv6 address).
    let p = ula(4);
    r.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{p}::/64"),
        "v6",
    ]);
    let port6 = free_port();
    httpd(
        &r,
        "web6",
        &["--network", "v6", "-p", &format!("{port6}:80")],
        "six",
    );
    wait_until("httpd answers", || {
        http_get(&format!("127.0.0.1:{port6}")).is_ok()
    });
    assert!(http_get(&format!("[::1]:{port6}")).unwrap().contains("six"));
    let table = net_state(&r)["Table"].as_str().unwrap().to_string();
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &table])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).to_string();
    assert!(
        rules.contains(&format!("tcp dport {port6} dnat to [{p}::2]:80")),
        "{rules}"
    );

    // Stopped: the ports are free on both families, the chains gone.
    r.ok(&["rm", "-f", "web4", "web6"]);
    // (The killed containers' monitors may still be on their way out.)
    for port in [both, only6, port6] {
        wait_until("the port is free", || {
            TcpListener::bind(("::", port)).is_ok()
        });
    }
    r.assert_no_leftovers();
    r.assert_network_teardown();
}

#[test]
fn concurrent_starts_get_distinct_ipv6_addresses() {
    if !ipv6_or_skip("concurrent_starts_get_distinct_ipv6_addresses") {
        return;
    }
    let r = root_with_busybox();
    let p = ula(5);
    r.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{p}::/64"),
        "v6",
    ]);
    let names: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let r = &r;
            s.spawn(move || {
                r.ok(&[
                    "run",
                    "-d",
                    "--name",
                    n,
                    "--network",
                    "v6",
                    "busybox",
                    "sleep",
                    "300",
                ]);
            });
        }
    });
    let mut got: Vec<String> = names
        .iter()
        .map(|n| {
            inspect(&r, n)["NetworkSettings"]["Networks"]["v6"]["GlobalIPv6Address"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    got.sort();
    let want: Vec<String> = (2..8).map(|i| format!("{p}::{i}")).collect();
    assert_eq!(got, want);
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    r.ok(&args);
    r.assert_no_leftovers();
    r.assert_network_teardown();
}

#[test]
fn udp_published_port_answers_on_ipv6_loopback() {
    if !ipv6_or_skip("udp_published_port_answers_on_ipv6_loopback") {
        return;
    }
    let r = root_with_busybox();
    let port = std::net::UdpSocket::bind("[::]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // busybox has no UDP server: the host's perl (Essential on Debian)
    // runs in the container with the host's /usr mounted read-only.
    r.ok(&[
        "run", "-d", "--name", "echo", "-p", &format!("{port}:9999/udp"),
        "-v", "/usr:/usr:ro", "-v", "/lib64:/lib64:ro", "-v", "/lib:/lib:ro",
        "busybox", "/usr/bin/perl", "-MIO::Socket::INET", "-e",
        "$s=IO::Socket::INET->new(LocalPort=>9999,Proto=>'udp') or die $!; while($s->recv($m,100)){ $s->send($m) }",
    ]);
    assert_eq!(
        r.ok(&["port", "echo"]),
        format!("9999/udp -> 0.0.0.0:{port}\n9999/udp -> :::{port}\n")
    );
    // Through the monitor's proxy to the container's IPv4 address.
    let s = std::net::UdpSocket::bind("[::1]:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = None;
    wait_until("an echo over [::1]", || {
        s.send_to(b"ping\n", ("::1", port)).unwrap();
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            got = Some(buf[..n].to_vec());
        }
        got.is_some()
    });
    assert_eq!(got.as_deref(), Some(&b"ping\n"[..]));
    r.ok(&["rm", "-f", "echo"]);
    r.assert_no_leftovers();
}
