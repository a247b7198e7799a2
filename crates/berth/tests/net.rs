//! Containers on networks, for real: bridges, veths, addresses, published
//! ports (reached on 127.0.0.1, from other containers and hairpinned),
//! the embedded DNS, connect/disconnect, host/none/container modes, bad
//! input, and recovery after SIGKILL. Traffic goes only to 127.0.0.0/8
//! and to the containers and namespaces these tests make.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use common::{httpd, root_with_busybox, wait_until, Root};
use serde_json::Value;

fn inspect(r: &Root, c: &str) -> Value {
    let v: Value = serde_json::from_str(&r.ok(&["inspect", c])).unwrap();
    v[0].clone()
}

/// A free TCP port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP GET to 127.0.0.1:port, the body (or the error).
fn http_get(port: u16) -> Result<String, String> {
    common::http_get(&format!("127.0.0.1:{port}"))
}

/// Whether the host has IPv6: dockerd 20.10 then publishes a port without
/// a host IP on `::` too.
fn host_ipv6() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        .is_ok_and(|v| v.trim() == "0")
}

fn net_state(r: &Root) -> Value {
    serde_json::from_str(&r.ok(&["debug", "net-state"])).unwrap()
}

#[test]
fn default_bridge_addresses_hosts_and_teardown() {
    let r = root_with_busybox();
    r.ok(&["run", "-d", "--name", "one", "busybox", "sleep", "300"]);
    r.ok(&[
        "run",
        "-d",
        "--name",
        "two",
        "--hostname",
        "h2",
        "--domainname",
        "example.org",
        "--add-host",
        "db:10.1.2.3",
        "busybox",
        "sleep",
        "300",
    ]);
    let one = inspect(&r, "one");
    let two = inspect(&r, "two");
    let ns = &one["NetworkSettings"];
    let ip1 = ns["IPAddress"].as_str().unwrap().to_string();
    let ip2 = two["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!ip1.is_empty() && ip1 != ip2, "{ns}");
    let gw = ns["Gateway"].as_str().unwrap().to_string();
    let ep = &ns["Networks"]["bridge"];
    assert_eq!(ep["IPAddress"], ns["IPAddress"]);
    assert_eq!(ep["Gateway"], ns["Gateway"]);
    assert_eq!(ns["IPPrefixLen"], 16);
    // Docker's MAC: 02:42 and the address.
    let o: Vec<u8> = ip1.split('.').map(|x| x.parse().unwrap()).collect();
    let mac = format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3]);
    assert_eq!(ns["MacAddress"], mac.as_str());
    assert_eq!(one["HostConfig"]["NetworkMode"], "default");
    // Inside: the address, the route, /etc/hosts as Docker writes it.
    let addr = r.ok(&["exec", "one", "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(addr.contains(&format!("{ip1}/16")), "{addr}");
    let route = r.ok(&["exec", "one", "ip", "route"]);
    assert!(
        route.contains(&format!("default via {gw} dev eth0")),
        "{route}"
    );
    let hosts = r.ok(&["exec", "two", "cat", "/etc/hosts"]);
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(
        hosts.ends_with(&format!("10.1.2.3\tdb\n{ip2}\th2.example.org h2\n")),
        "{hosts}"
    );
    // Containers reach each other and the gateway.
    r.ok(&["exec", "one", "ping", "-c", "1", "-W", "2", &ip2]);
    r.ok(&["exec", "two", "ping", "-c", "1", "-W", "2", &gw]);
    // `stats` counts the traffic of eth0.
    let io = r.ok(&["stats", "--no-stream", "--format", "{{.NetIO}}", "one"]);
    assert!(!io.starts_with("0B / 0B"), "{io}");
    // The default bridge has no name resolution (as on Docker): no
    // embedded DNS answers (asked directly, so nothing leaves the host).
    let res = r.run(&["exec", "one", "nslookup", "two", "127.0.0.11"]);
    assert_ne!(res.code, 0, "{}", res.stdout);
    // `network inspect` lists both.
    let net: Value = serde_json::from_str(&r.ok(&["network", "inspect", "bridge"])).unwrap();
    let names: Vec<&str> = net[0]["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Stop: the address goes back and nothing stays on the host.
    r.ok(&["stop", "-t", "0", "one"]);
    let stopped = inspect(&r, "one");
    assert_eq!(stopped["NetworkSettings"]["IPAddress"], "");
    assert_eq!(
        stopped["NetworkSettings"]["Networks"]["bridge"]["IPAddress"],
        ""
    );
    let st = net_state(&r);
    assert_eq!(st["Netns"].as_array().unwrap().len(), 1, "{st}");
    // --mac-address holds across a restart (dockerd keeps it in
    // Config.MacAddress; the endpoint shows it only while running).
    r.ok(&[
        "run",
        "-d",
        "--name",
        "mac",
        "--mac-address",
        "02:42:aa:bb:cc:dd",
        "busybox",
        "sleep",
        "300",
    ]);
    for round in 0..2 {
        let link = r.ok(&["exec", "mac", "cat", "/sys/class/net/eth0/address"]);
        assert_eq!(link, "02:42:aa:bb:cc:dd\n", "round {round}");
        let shown = r.ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.MacAddress}} {{.Config.MacAddress}}",
            "mac",
        ]);
        assert_eq!(shown, "02:42:aa:bb:cc:dd 02:42:aa:bb:cc:dd\n");
        r.ok(&["restart", "-t", "0", "mac"]);
    }
    r.ok(&["rm", "-f", "mac"]);
    // Restarted, it gets an address again.
    r.ok(&["start", "one"]);
    assert_ne!(
        r.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "one"])
            .trim(),
        ""
    );
    r.ok(&["rm", "-f", "one", "two"]);
    r.assert_no_leftovers();
}

#[test]
fn published_ports_reach_the_container() {
    let r = root_with_busybox();
    let fixed = free_port();
    let fixed_s = format!("{fixed}:80");
    httpd(
        &r,
        "web",
        &["-p", &fixed_s, "-p", "127.0.0.1::80", "--expose", "7000"],
        "hello",
    );
    let ports = r.ok(&["port", "web"]);
    let random: u16 = ports
        .lines()
        .find(|l| l.contains("127.0.0.1:"))
        .and_then(|l| l.rsplit(':').next())
        .unwrap()
        .parse()
        .unwrap();
    let six = if host_ipv6() {
        format!(":::{fixed}\n")
    } else {
        String::new()
    };
    assert_eq!(
        ports,
        format!(
            "80/tcp -> 0.0.0.0:{fixed}\n{}80/tcp -> 127.0.0.1:{random}\n",
            if six.is_empty() {
                String::new()
            } else {
                format!("80/tcp -> {six}")
            }
        )
    );
    assert_eq!(
        r.ok(&["port", "web", "80"]),
        format!("0.0.0.0:{fixed}\n{six}127.0.0.1:{random}\n")
    );
    let e = r.run(&["port", "web", "81"]);
    assert_eq!(
        (e.code, e.stderr.as_str()),
        (1, "Error: No public port '81/tcp' published for web\n")
    );
    wait_until("httpd answers", || http_get(fixed).is_ok());
    assert!(http_get(fixed).unwrap().contains("hello"));
    assert!(http_get(random).unwrap().contains("hello"));
    let ps = r.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains(&format!("0.0.0.0:{fixed}->80/tcp")), "{ps}");
    assert!(ps.contains("7000/tcp"), "{ps}");
    // The host port is taken: nothing else may listen there.
    assert!(TcpListener::bind(("0.0.0.0", fixed)).is_err());
    // From another container through the gateway, and hairpinned from
    // the container itself.
    let gw = r.ok(&["inspect", "-f", "{{.NetworkSettings.Gateway}}", "web"]);
    let url = format!("http://{}:{fixed}/", gw.trim());
    let other = r.ok(&["run", "--rm", "busybox", "wget", "-q", "-O", "-", &url]);
    assert_eq!(other.trim(), "hello");
    let hairpin = r.ok(&["exec", "web", "wget", "-q", "-O", "-", &url]);
    assert_eq!(hairpin.trim(), "hello");
    // A second container cannot have the same host port.
    let fp = r.fingerprint();
    let dup = r.run(&[
        "run", "-d", "--name", "web2", "-p", &fixed_s, "busybox", "sleep", "30",
    ]);
    assert_eq!(dup.code, 125, "{}", dup.stderr);
    assert!(
        dup.stderr.contains(&format!(
            "Bind for 0.0.0.0:{fixed} failed: port is already allocated"
        )),
        "{}",
        dup.stderr
    );
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.State.Status}}", "web2"]).trim(),
        "created"
    );
    r.ok(&["rm", "web2"]);
    assert_eq!(fp, r.fingerprint());
    // A port some host program holds.
    let hold = TcpListener::bind("0.0.0.0:0").unwrap();
    let held = hold.local_addr().unwrap().port();
    let busy = r.run(&[
        "run",
        "-d",
        "--name",
        "web3",
        "-p",
        &format!("{held}:80"),
        "busybox",
        "sleep",
        "30",
    ]);
    assert_eq!(busy.code, 125);
    assert!(
        busy.stderr.contains(&format!(
            "listen tcp4 0.0.0.0:{held}: bind: address already in use"
        )),
        "{}",
        busy.stderr
    );
    r.ok(&["rm", "-f", "web3"]);
    // Stopped: no ports, rules gone, the port free again.
    r.ok(&["stop", "-t", "0", "web"]);
    assert_eq!(r.ok(&["port", "web"]), "");
    assert!(net_state(&r)["FirewallContainers"]
        .as_array()
        .unwrap()
        .is_empty());
    drop(TcpListener::bind(("0.0.0.0", fixed)).unwrap());
    r.ok(&["rm", "-f", "web"]);
    r.assert_no_leftovers();
}

#[test]
fn publish_all_ranges_and_udp() {
    let r = root_with_busybox();
    // -P publishes every exposed port on a random host port.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "pa",
        "-P",
        "--expose",
        "80",
        "--expose",
        "5000-5001/udp",
        "busybox",
        "sleep",
        "300",
    ]);
    let ports = r.ok(&["port", "pa"]);
    let per_port = if host_ipv6() { 2 } else { 1 };
    assert_eq!(ports.lines().count(), 3 * per_port, "{ports}");
    for p in [
        "80/tcp -> 0.0.0.0:",
        "5000/udp -> 0.0.0.0:",
        "5001/udp -> 0.0.0.0:",
    ] {
        assert!(ports.contains(p), "{ports}");
    }
    // A UDP echo through a published port on 127.0.0.1. busybox has no
    // UDP server: the host's perl (Essential on Debian) runs in the
    // busybox container with the host's /usr mounted read-only.
    let up = free_port();
    r.ok(&[
        "run", "-d", "--name", "udp", "-p", &format!("127.0.0.1:{up}:9999/udp"),
        "-v", "/usr:/usr:ro", "-v", "/lib64:/lib64:ro", "-v", "/lib:/lib:ro",
        "busybox", "/usr/bin/perl", "-MIO::Socket::INET", "-e",
        "$s=IO::Socket::INET->new(LocalPort=>9999,Proto=>'udp') or die $!; while($s->recv($m,100)){ $s->send($m) }",
    ]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = None;
    let t = Instant::now();
    while got.is_none() && t.elapsed() < Duration::from_secs(15) {
        s.send_to(b"ping\n", ("127.0.0.1", up)).unwrap();
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            got = Some(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    assert_eq!(got.as_deref(), Some("ping\n"));
    // A port range maps one to one.
    let a = free_port();
    let range = format!("127.0.0.1:{a}-{}:7000-7001", a + 1);
    let rr = r.run(&[
        "run", "-d", "--name", "rng", "-p", &range, "busybox", "sleep", "300",
    ]);
    if rr.code == 0 {
        assert_eq!(
            r.ok(&["port", "rng"]),
            format!(
                "7000/tcp -> 127.0.0.1:{a}\n7001/tcp -> 127.0.0.1:{}\n",
                a + 1
            )
        );
    }
    r.ok(&["rm", "-f", "pa", "udp", "rng"]);
    r.assert_no_leftovers();
}

#[test]
fn user_network_dns_aliases_connect_disconnect() {
    let r = root_with_busybox();
    r.ok(&["network", "create", "--subnet", "10.231.0.0/24", "appnet"]);
    r.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "appnet",
        "--network-alias",
        "database",
        "--ip",
        "10.231.0.50",
        "busybox",
        "sleep",
        "300",
    ]);
    r.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "appnet",
        "--hostname",
        "apphost",
        // Names the embedded DNS does not know go here, not off the host.
        "--dns",
        "127.0.0.1",
        "busybox",
        "sleep",
        "300",
    ]);
    let resolv = r.ok(&["exec", "app", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(resolv.contains("options ndots:0"), "{resolv}");
    let db_id = r.ok(&["inspect", "-f", "{{.Id}}", "db"]);
    for name in ["db", "database", "DB.", &db_id[..12], "db.appnet"] {
        let out = r.ok(&["exec", "app", "nslookup", name]);
        assert!(out.contains("10.231.0.50"), "{name}: {out}");
    }
    let out = r.ok(&["exec", "db", "nslookup", "apphost"]);
    let app_ip = r.ok(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"appnet\").IPAddress}}",
        "app",
    ]);
    assert!(out.contains(app_ip.trim()), "{out}");
    r.ok(&["exec", "app", "ping", "-c", "1", "-W", "2", "database"]);
    // Aliases show in inspect, with the short ID.
    let al = r.ok(&[
        "inspect",
        "-f",
        "{{json (index .NetworkSettings.Networks \"appnet\").Aliases}}",
        "db",
    ]);
    assert_eq!(al.trim(), format!("[\"database\",\"{}\"]", &db_id[..12]));
    // A network in use cannot go.
    let rm = r.run(&["network", "rm", "appnet"]);
    assert_eq!(rm.code, 1);
    assert!(rm.stderr.contains("has active endpoints"), "{}", rm.stderr);
    // Connect a default-bridge container at run time: it gets eth1 and
    // the others can reach it; disconnect takes it away again.
    r.ok(&["run", "-d", "--name", "late", "busybox", "sleep", "300"]);
    r.ok(&[
        "network",
        "connect",
        "--alias",
        "latecomer",
        "appnet",
        "late",
    ]);
    let addrs = r.ok(&["exec", "late", "ip", "-o", "-4", "addr"]);
    assert!(
        addrs.contains("eth1") && addrs.contains("10.231.0."),
        "{addrs}"
    );
    let out = r.ok(&["exec", "app", "nslookup", "latecomer"]);
    assert!(out.contains("10.231.0."), "{out}");
    // As on Docker: one hosts line per network, and the first user network
    // brings the embedded DNS, which now answers for `late` too.
    let late_id = r.ok(&["inspect", "-f", "{{.Id}}", "late"]);
    let short = &late_id.trim()[..12];
    let hosts = r.ok(&["exec", "late", "cat", "/etc/hosts"]);
    let mine: Vec<&str> = hosts
        .lines()
        .filter(|l| l.ends_with(&format!("\t{short}")))
        .collect();
    assert_eq!(mine.len(), 2, "{hosts}");
    assert!(
        mine[0].starts_with("172.") || mine[0].starts_with("192.168."),
        "{hosts}"
    );
    assert!(mine[1].starts_with("10.231.0."), "{hosts}");
    let resolv = r.ok(&["exec", "late", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.11\n"), "{resolv}");
    let out = r.ok(&["exec", "late", "nslookup", "database"]);
    assert!(out.contains("10.231.0.50"), "{out}");
    let again = r.run(&["network", "connect", "appnet", "late"]);
    assert_eq!(
        again.stderr,
        "Error response from daemon: endpoint with name late already exists in network appnet\n"
    );
    r.ok(&["network", "disconnect", "appnet", "late"]);
    let addrs = r.ok(&["exec", "late", "ip", "-o", "-4", "addr"]);
    assert!(!addrs.contains("eth1"), "{addrs}");
    let gone = r.run(&["exec", "app", "nslookup", "latecomer"]);
    assert_ne!(gone.code, 0, "{}", gone.stdout);
    // dockerd drops all of the container's own lines, whichever network went.
    let hosts = r.ok(&["exec", "late", "cat", "/etc/hosts"]);
    assert!(!hosts.contains(short), "{hosts}");
    // A program in a user-network container may listen on port 53 itself;
    // 127.0.0.11:53 still reaches the embedded DNS.
    let out = r.ok(&[
        "exec",
        "app",
        "sh",
        "-c",
        "nc -l -p 53 </dev/null >/dev/null 2>/tmp/nc.err & sleep 0.3; \
         netstat -ltn | grep -cE ' (0.0.0.0|::):53 ' ; nslookup database 127.0.0.11; cat /tmp/nc.err; kill %1",
    ]);
    assert!(out.starts_with("1\n"), "{out}");
    assert!(out.contains("10.231.0.50"), "{out}");
    // The static address is free again once db is gone.
    r.ok(&["rm", "-f", "db"]);
    r.ok(&[
        "run",
        "-d",
        "--name",
        "db2",
        "--network",
        "appnet",
        "--ip",
        "10.231.0.50",
        "busybox",
        "sleep",
        "300",
    ]);
    r.ok(&["rm", "-f", "db2", "app", "late"]);
    r.ok(&["network", "rm", "appnet"]);
    r.assert_no_leftovers();
}

/// Names the resolver does not know go to the upstream servers, asked
/// from the host side: a fake upstream on 127.0.0.x answers them.
#[test]
fn embedded_dns_forwards_to_upstream() {
    let r = root_with_busybox();
    let up = UdpSocket::bind("127.0.0.97:53").unwrap();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let (n, from) = up.recv_from(&mut buf).unwrap();
        // Echo the question with one A answer 192.0.2.7 (a name we never contact).
        let mut resp = buf[..n].to_vec();
        resp[2] |= 0x80; // QR
        resp[3] = 0x80; // RA, NOERROR
        resp[7] = 1; // ANCOUNT
        resp.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        up.send_to(&resp, from).unwrap();
    });
    r.ok(&["network", "create", "fwdnet"]);
    let out = r.ok(&[
        "run",
        "--rm",
        "--network",
        "fwdnet",
        "--dns",
        "127.0.0.97",
        "busybox",
        "nslookup",
        "-type=a",
        "outside.example",
    ]);
    assert!(out.contains("192.0.2.7"), "{out}");
    server.join().unwrap();
    r.ok(&["network", "rm", "fwdnet"]);
    r.assert_no_leftovers();
}

#[test]
fn host_none_and_container_modes() {
    let r = root_with_busybox();
    let none = r.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(none.lines().count(), 1, "{none}");
    // Other tests' bridges and veths come and go meanwhile: compare the rest.
    let steady = |n: &str| !["bveth", "berth", "br-"].iter().any(|p| n.starts_with(p));
    let mut host_links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| steady(n))
        .collect();
    host_links.sort();
    let host = r.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    let mut seen: Vec<String> = host
        .split_whitespace()
        .filter(|n| steady(n))
        .map(str::to_string)
        .collect();
    seen.sort();
    assert_eq!(seen, host_links, "{host}");
    let hn = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        r.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"]),
        hn
    );
    let w = r.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "80:80",
        "busybox",
        "true",
    ]);
    assert_eq!(w.code, 0);
    assert!(
        w.stderr
            .contains("Published ports are discarded when using host network mode"),
        "{}",
        w.stderr
    );
    // container:X shares X's namespace, address and files.
    r.ok(&["run", "-d", "--name", "base", "busybox", "sleep", "300"]);
    let ip = r.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "base"]);
    let inner = r.ok(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(inner.contains(ip.trim()), "{inner}");
    let h = r.ok(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        "busybox",
        "hostname",
    ]);
    assert_eq!(h, r.ok(&["inspect", "-f", "{{.Config.Hostname}}", "base"]));
    let e = r.run(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        "-p",
        "80:80",
        "busybox",
        "true",
    ]);
    assert_eq!(
        (
            e.code,
            e.stderr.contains(
                "conflicting options: port publishing and the container type network mode"
            )
        ),
        (125, true),
        "{}",
        e.stderr
    );
    r.ok(&["stop", "-t", "0", "base"]);
    let e = r.run(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        "busybox",
        "true",
    ]);
    assert_eq!(e.code, 125);
    assert!(
        e.stderr
            .contains("cannot join network of a non running container"),
        "{}",
        e.stderr
    );
    r.ok(&["rm", "-f", "base"]);
    r.assert_no_leftovers();
}

#[test]
fn bad_network_input_changes_nothing() {
    let r = root_with_busybox();
    r.ok(&["network", "create", "--subnet", "10.232.0.0/24", "sub"]);
    let fp = r.fingerprint();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--network", "nosuch"], 125, "network nosuch not found"),
        (
            &["--ip", "172.17.0.9"],
            125,
            "user specified IP address is supported on user defined networks only",
        ),
        (
            &["--network", "sub", "--ip", "10.9.9.9"],
            125,
            "Invalid address 10.9.9.9: It does not belong to any of this network's subnets",
        ),
        (
            &["--network-alias", "x"],
            125,
            "network-scoped alias is supported only for containers in user defined networks",
        ),
        (
            &["--network", "container:nosuch"],
            125,
            "No such container: nosuch",
        ),
        (&["--add-host", "bad"], 125, "bad format for add-host"),
        (&["--dns", "bad"], 125, "bad is not an ip address"),
        (
            &["--mac-address", "bad"],
            125,
            "bad is not a valid mac address",
        ),
    ];
    for (flags, code, msg) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let o = r.run(&args);
        assert_eq!(o.code, *code, "{flags:?}: {}", o.stderr);
        assert!(o.stderr.contains(msg), "{flags:?}: {}", o.stderr);
    }
    assert_eq!(fp, r.fingerprint());
    r.ok(&["network", "rm", "sub"]);
    r.assert_no_leftovers();
}

/// SIGKILL of a container's monitor and processes, then of the run root:
/// the next command removes the veth, namespace, port rules and address.
#[test]
fn killed_monitor_leaves_nothing_behind() {
    let r = root_with_busybox();
    r.ok(&["network", "create", "--subnet", "10.233.0.0/24", "kn"]);
    let p = free_port();
    r.ok(&[
        "run",
        "-d",
        "--name",
        "victim",
        "--network",
        "kn",
        "--ip",
        "10.233.0.9",
        "-p",
        &format!("127.0.0.1:{p}:80"),
        "busybox",
        "sleep",
        "300",
    ]);
    let pid: i32 = r
        .ok(&["inspect", "-f", "{{.State.Pid}}", "victim"])
        .trim()
        .parse()
        .unwrap();
    let ppid = |p: i32| -> i32 {
        let s = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap();
        s.rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let mon = ppid(pid);
    for p in [mon, pid] {
        std::process::Command::new("kill")
            .args(["-9", &p.to_string()])
            .status()
            .unwrap();
    }
    wait_until("processes gone", || {
        [mon, pid].iter().all(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| s.contains(") Z"))
                .unwrap_or(true)
        })
    });
    let st = r.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(st.contains("victim Exited (255)"), "{st}");
    let ns = net_state(&r);
    assert!(ns["Netns"].as_array().unwrap().is_empty(), "{ns}");
    assert!(
        ns["FirewallContainers"].as_array().unwrap().is_empty(),
        "{ns}"
    );
    // The port and the address are free again.
    drop(TcpListener::bind(("127.0.0.1", p)).unwrap());
    r.ok(&[
        "run",
        "-d",
        "--name",
        "heir",
        "--network",
        "kn",
        "--ip",
        "10.233.0.9",
        "busybox",
        "sleep",
        "300",
    ]);
    r.ok(&["rm", "-f", "victim", "heir"]);
    r.ok(&["network", "rm", "kn"]);
    r.assert_no_leftovers();
}

/// Concurrent `run`s on one network never share an address.
#[test]
fn concurrent_runs_get_distinct_addresses() {
    let r = root_with_busybox();
    r.ok(&["network", "create", "--subnet", "10.234.0.0/24", "cn"]);
    std::thread::scope(|s| {
        for i in 0..6 {
            let r = &r;
            s.spawn(move || {
                r.ok(&[
                    "run",
                    "-d",
                    "--name",
                    &format!("c{i}x"),
                    "--network",
                    "cn",
                    "busybox",
                    "sleep",
                    "300",
                ]);
            });
        }
    });
    let mut ips: Vec<String> = (0..6)
        .map(|i| {
            r.ok(&[
                "inspect",
                "-f",
                "{{(index .NetworkSettings.Networks \"cn\").IPAddress}}",
                &format!("c{i}x"),
            ])
            .trim()
            .to_string()
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 6, "{ips:?}");
    let ids = r.ok(&["ps", "-aq"]);
    for id in ids.split_whitespace() {
        r.ok(&["rm", "-f", id]);
    }
    r.ok(&["network", "rm", "cn"]);
    r.assert_no_leftovers();
}

/// A bridge as a kill leaves it between creation and completion: no owner
/// tag, down, `bridge.json` not ready. The next start finishes and claims
/// it; `network rm` and `debug net-sweep --all` delete it though untagged.
#[test]
fn half_made_bridge_is_finished_or_removed() {
    let r = root_with_busybox();
    let half_made = |net: &str| -> String {
        let id = r
            .ok(&["network", "inspect", "-f", "{{.Id}}", net])
            .trim()
            .to_string();
        let br = format!("br-{}", &id[..12]);
        std::fs::write(format!("/sys/class/net/{br}/ifalias"), "\n").unwrap();
        let ip = std::process::Command::new("ip")
            .args(["link", "set", &br, "down"])
            .status()
            .unwrap();
        assert!(ip.success());
        let state = r.path().join("networks").join(&id).join("bridge.json");
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert_eq!(
            (v["ours"].clone(), v["ready"].clone()),
            (Value::Bool(true), Value::Bool(true)),
            "{v}"
        );
        v["ready"] = Value::Bool(false);
        std::fs::write(&state, v.to_string()).unwrap();
        br
    };
    let tag = net_state(&r)["Tag"].as_str().unwrap().to_string();
    r.ok(&["network", "create", "--subnet", "10.235.0.0/24", "half"]);
    let br = half_made("half");
    r.ok(&[
        "run",
        "--rm",
        "--network",
        "half",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "10.235.0.1",
    ]);
    let alias = std::fs::read_to_string(format!("/sys/class/net/{br}/ifalias")).unwrap();
    assert_eq!(alias.trim(), tag);
    half_made("half");
    r.ok(&["network", "rm", "half"]);
    assert!(
        !std::path::Path::new("/sys/class/net").join(&br).exists(),
        "{br} left by network rm"
    );
    r.ok(&["network", "create", "--subnet", "10.236.0.0/24", "half2"]);
    let br2 = half_made("half2");
    r.assert_network_teardown();
    assert!(!std::path::Path::new("/sys/class/net").join(&br2).exists());
}

/// An address held in `ipam.json` by a container that is not started (a
/// release lost to a crash: the file is written without fsync) is given
/// out again at the next allocation.
#[test]
fn stale_allocations_are_dropped() {
    let r = root_with_busybox();
    r.ok(&["network", "create", "--subnet", "10.233.0.0/24", "stalenet"]);
    let id = r
        .ok(&["create", "--network", "stalenet", "busybox", "true"])
        .trim()
        .to_string();
    let net_id = r.ok(&["network", "inspect", "-f", "{{.Id}}", "stalenet"]);
    let ipam = r
        .path()
        .join("networks")
        .join(net_id.trim())
        .join("ipam.json");
    let mut doc: serde_json::Value = std::fs::read_to_string(&ipam)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|_| serde_json::json!({"endpoints": {}}));
    doc["endpoints"][&id] = serde_json::json!({
        "container_name": "ghost",
        "endpoint_id": "0".repeat(64),
        "ipv4": "10.233.0.2",
        "mac": "02:42:0a:e9:00:02",
    });
    std::fs::write(&ipam, doc.to_string()).unwrap();
    let got = r.ok(&[
        "run",
        "--rm",
        "--network",
        "stalenet",
        "--ip",
        "10.233.0.2",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(got.contains("10.233.0.2/24"), "{got}");
    r.ok(&["rm", &id]);
    r.ok(&["network", "rm", "stalenet"]);
    r.assert_no_leftovers();
}

/// `<root>/daemon.json` configures the default bridge (`bip`, `mtu`) and
/// automatic subnets (`default-address-pools`) with dockerd's keys; a
/// change applies once no container is on the bridge.
#[test]
fn daemon_json_configures_the_default_bridge_and_pools() {
    let r = root_with_busybox();
    let cfg = r.path().join("daemon.json");
    std::fs::write(&cfg, r#"{"bip": "10.234.7.1/24", "mtu": 1400}"#).unwrap();
    let addr = r.ok(&[
        "run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0",
    ]);
    assert!(addr.contains("inet 10.234.7.2/24"), "{addr}");
    let mtu = r.ok(&["run", "--rm", "busybox", "cat", "/sys/class/net/eth0/mtu"]);
    assert_eq!(mtu, "1400\n");
    assert_eq!(
        r.ok(&[
            "network",
            "inspect",
            "-f",
            "{{json .IPAM.Config}} {{index .Options \"com.docker.network.driver.mtu\"}}",
            "bridge"
        ]),
        "[{\"Subnet\":\"10.234.7.0/24\",\"Gateway\":\"10.234.7.1\"}] 1400\n"
    );
    // In use, the bridge keeps its subnet; once free it takes the new one,
    // under the same network ID.
    let id = r.ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);
    r.ok(&["run", "-d", "--name", "holder", "busybox", "sleep", "300"]);
    std::fs::write(
        &cfg,
        r#"{"default-address-pools": [{"base": "10.235.0.0/16", "size": 24}]}"#,
    )
    .unwrap();
    let held = r.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "holder"]);
    assert_eq!(held, "10.234.7.2\n");
    let n = r.ok(&["network", "create", "pooled"]);
    assert!(!n.trim().is_empty());
    assert_eq!(
        r.ok(&[
            "network",
            "inspect",
            "-f",
            "{{json .IPAM.Config}}",
            "pooled"
        ]),
        "[{\"Subnet\":\"10.235.0.0/24\",\"Gateway\":\"10.235.0.1\"}]\n"
    );
    r.ok(&["rm", "-f", "holder"]);
    let addr = r.ok(&[
        "run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0",
    ]);
    assert!(addr.contains("inet 10.235.1.2/24"), "{addr}");
    assert_eq!(r.ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]), id);
    // A broken file is an error, and nothing runs.
    std::fs::write(&cfg, "{bad").unwrap();
    let o = r.run(&["run", "--rm", "busybox", "true"]);
    assert_eq!(o.code, 125, "{}", o.stderr);
    assert!(
        o.stderr.contains("unable to configure berth with file"),
        "{}",
        o.stderr
    );
    std::fs::remove_file(&cfg).unwrap();
    r.ok(&["network", "rm", "pooled"]);
    r.assert_no_leftovers();
}

/// Legacy `--link` on the default bridge: hosts lines and environment as
/// dockerd writes them, inspect's `/target:/me/alias`, and its errors.
/// On a user-defined network, `--link target:alias` is a name only the
/// linking container resolves, to the target's address there (dockerd's
/// endpoint aliases); no hosts lines or environment, as on Docker.
#[test]
fn legacy_links_on_a_user_network_are_private_dns_aliases() {
    let r = root_with_busybox();
    r.ok(&["network", "create", "--subnet", "10.232.0.0/24", "linknet"]);
    let on_net = |name: &str, extra: &[&str]| {
        let mut a = vec![
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "linknet",
            "--dns",
            "127.0.0.1",
        ];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["busybox", "sleep", "300"]);
        r.ok(&a);
    };
    on_net("db", &[]);
    on_net("app", &["--link", "db:database"]);
    on_net("other", &[]);
    let db_ip = r
        .ok(&[
            "inspect",
            "-f",
            "{{(index .NetworkSettings.Networks \"linknet\").IPAddress}}",
            "db",
        ])
        .trim()
        .to_string();
    for name in ["database", "DATABASE", "database.linknet", "db"] {
        let out = r.ok(&["exec", "app", "nslookup", name]);
        assert!(out.contains(&format!("Address: {db_ip}")), "{name}: {out}");
    }
    // Only the linking container has the alias.
    let o = r.run(&["exec", "other", "nslookup", "database"]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    let hosts = r.ok(&["exec", "app", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("database"), "{hosts}");
    let env = r.ok(&["exec", "app", "env"]);
    assert!(!env.contains("DATABASE_"), "{env}");
    assert_eq!(
        r.ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "app"])
            .trim(),
        "[\"/db:/app/database\"]"
    );
    // The alias follows its target: gone while it is stopped, back at
    // its address when it runs again.
    r.ok(&["stop", "-t", "0", "db"]);
    let o = r.run(&["exec", "app", "nslookup", "database"]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    r.ok(&["start", "db"]);
    let out = r.ok(&["exec", "app", "nslookup", "database"]);
    assert!(out.contains("Address: 10.232.0."), "{out}");
    r.ok(&["rm", "-f", "app", "db", "other"]);
    r.ok(&["network", "rm", "linknet"]);
    r.assert_no_leftovers();
}

#[test]
fn legacy_links_on_the_default_bridge() {
    let r = root_with_busybox();
    r.ok(&[
        "run", "-d", "--name", "pp", "--expose", "80", "-e", "FOO=bar", "busybox", "sleep", "300",
    ]);
    r.ok(&["run", "-d", "--name", "pp2", "busybox", "sleep", "300"]);
    let ip = |n: &str| {
        r.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", n])
            .trim()
            .to_string()
    };
    let id = |n: &str| r.ok(&["inspect", "-f", "{{.Id}}", n])[..12].to_string();
    let out = r.ok(&[
        "run",
        "--rm",
        "--name",
        "me",
        "--link",
        "pp2:web",
        "--link",
        "pp",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts; echo ---; env | sort | grep -E '^(PP|WEB)_'",
    ]);
    let (hosts, env) = out.split_once("---\n").unwrap();
    let lines: Vec<&str> = hosts.lines().skip(6).collect();
    assert_eq!(
        lines[0],
        format!("{}\tweb {} pp2", ip("pp2"), id("pp2")),
        "{hosts}"
    );
    assert_eq!(
        lines[1],
        format!("{}\tpp {}", ip("pp"), id("pp")),
        "{hosts}"
    );
    assert_eq!(lines.len(), 3, "{hosts}");
    let pp = ip("pp");
    assert_eq!(
        env,
        format!(
            "PP_ENV_FOO=bar\nPP_NAME=/me/pp\nPP_PORT=tcp://{pp}:80\nPP_PORT_80_TCP=tcp://{pp}:80\n\
             PP_PORT_80_TCP_ADDR={pp}\nPP_PORT_80_TCP_PORT=80\nPP_PORT_80_TCP_PROTO=tcp\nWEB_NAME=/me/web\n"
        )
    );
    r.ok(&[
        "create", "--name", "lk", "--link", "pp:db", "busybox", "true",
    ]);
    assert_eq!(
        r.ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "lk"]),
        "[\"/pp:/lk/db\"]\n"
    );
    let o = r.run(&["run", "--rm", "--link", "nosuch:web", "busybox", "true"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr
            .contains("could not get container for nosuch: No such container: nosuch"),
        "{}",
        o.stderr
    );
    r.ok(&["stop", "-t", "0", "pp"]);
    let o = r.run(&["start", "lk"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("Cannot link to a non running container: /pp AS /lk/db"),
        "{}",
        o.stderr
    );
    r.ok(&["rm", "-f", "pp", "pp2", "lk"]);
    r.assert_no_leftovers();
}
