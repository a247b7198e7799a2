//! The datapath for real, as root, each test inside a network and mount
//! namespace of its own (made by the test thread with unshare), so the
//! host's interfaces, firewall and sysctls are never touched and all
//! traffic stays in namespaces the test made. Skipped when not root.
#![allow(clippy::unwrap_used)]
#![allow(unsafe_code)] // unshare(2) and mount(2) for the test's own namespaces

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_net::link::{self, BridgeConfig, Endpoint};
use berth_net::nft::{Firewall, NetworkRules, PortMapping, Protocol};
use berth_net::sweep::{self, Keep};
use berth_net::{netns, sysctl};

const TAG: &str = "berth-test-owner";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `f` on a thread in a fresh network + mount namespace (mounts
/// private to it), with `lo` up and a scratch dir for netns files.
fn in_fresh_ns<F: FnOnce(&Path) + Send>(f: F) {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: unshare changes only this thread's namespaces.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWNS) };
            assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
            // Mounts made from here on never propagate back to the host.
            // SAFETY: valid C strings, no data.
            let rc = unsafe {
                libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_SLAVE,
                    std::ptr::null(),
                )
            };
            assert_eq!(rc, 0, "make / rslave: {}", std::io::Error::last_os_error());
            link::loopback_up(Path::new("/proc/thread-self/ns/net")).unwrap();
            let dir = tempfile::tempdir().unwrap();
            f(dir.path());
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    });
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

fn listen_in(ns: &Path, addr: SocketAddr) -> TcpListener {
    netns::run_in(ns, || TcpListener::bind(addr))
        .unwrap()
        .unwrap()
}

/// Accepts one connection, says hi, and returns the peer's address.
fn serve_once(l: TcpListener) -> JoinHandle<SocketAddr> {
    std::thread::spawn(move || {
        let (mut c, peer) = l.accept().unwrap();
        c.write_all(b"hi").unwrap();
        peer
    })
}

fn try_connect(addr: SocketAddr) -> std::io::Result<String> {
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut s = String::new();
    c.read_to_string(&mut s)?;
    Ok(s)
}

/// Connects from `ns` (or from the test namespace with `None`) and
/// expects the greeting; returns the address the server saw.
fn round_trip(ns: Option<&Path>, listener: TcpListener, to: SocketAddr) -> SocketAddr {
    let server = serve_once(listener);
    let got = match ns {
        Some(ns) => netns::run_in(ns, || try_connect(to)).unwrap(),
        None => try_connect(to),
    };
    assert_eq!(got.unwrap_or_else(|e| panic!("connect to {to}: {e}")), "hi");
    server.join().unwrap()
}

fn endpoint(bridge: &str, ctr: &str, ip: Ipv4Addr, gw: Option<Ipv4Addr>) -> Endpoint {
    Endpoint {
        bridge: bridge.to_string(),
        host_name: link::host_veth_name(ctr, bridge),
        ifname: "eth0".to_string(),
        mac: link::mac_for(ip),
        mtu: 1500,
        address: ip,
        prefix_len: 24,
        gateway: gw,
        address6: None,
        gateway6: None,
    }
}

fn bridge(name: &str, gw: Ipv4Addr) -> BridgeConfig {
    BridgeConfig {
        name: name.to_string(),
        mtu: 1500,
        gateway: gw,
        prefix_len: 24,
        gateway6: None,
    }
}

fn tagged_links() -> Vec<String> {
    link::list()
        .unwrap()
        .into_iter()
        .filter(|l| l.alias.as_deref() == Some(TAG))
        .map(|l| l.name)
        .collect()
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    let d = dir.to_string_lossy().to_string();
    info.lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&d)))
        .map(str::to_string)
        .collect()
}

fn ns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[test]
fn netns_lifecycle_leaves_the_caller_where_it_was() {
    in_fresh_ns(|dir| {
        let me = ns_inode("/proc/thread-self/ns/net");
        let p: PathBuf = dir.join("ns1");
        netns::create(&p).unwrap();
        netns::create(&p).unwrap(); // idempotent
        assert!(netns::is_netns(&p));
        assert_eq!(ns_inode("/proc/thread-self/ns/net"), me);
        let inside = netns::run_in(&p, || ns_inode("/proc/thread-self/ns/net")).unwrap();
        assert_ne!(inside, me);
        assert_eq!(ns_inode(p.to_str().unwrap()), inside);
        assert_eq!(ns_inode("/proc/thread-self/ns/net"), me);
        // The helper thread is gone, not just joined, when run_in returns
        // (a single-threaded caller may fork right after).
        // SAFETY: gettid has no preconditions.
        let tid = netns::run_in(&p, || unsafe { libc::gettid() }).unwrap();
        assert!(!Path::new(&format!("/proc/self/task/{tid}")).exists());
        // A panic inside comes back to the caller.
        let caught = std::panic::catch_unwind(|| netns::run_in(&p, || panic!("inside")));
        assert!(caught.is_err());
        // A fresh namespace has only lo; loopback_up works inside it.
        link::loopback_up(&p).unwrap();
        let names: Vec<String> = netns::run_in(&p, || link::list().unwrap())
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(names, ["lo"]);
        assert_eq!(netns::list(dir).unwrap(), ["ns1"]);

        netns::delete(&p).unwrap();
        netns::delete(&p).unwrap(); // idempotent
        assert!(!p.exists());
        assert!(mounts_under(dir).is_empty());
        assert!(netns::run_in(&p, || ()).is_err());
    });
}

#[test]
fn containers_on_a_bridge_talk_and_removal_leaves_nothing() {
    in_fresh_ns(|dir| {
        let gw = Ipv4Addr::new(10, 88, 0, 1);
        let (ip_a, ip_b) = (Ipv4Addr::new(10, 88, 0, 2), Ipv4Addr::new(10, 88, 0, 3));
        let ours = link::Ownership::Ours;
        assert_eq!(
            link::ensure_bridge(&bridge("btest0", gw), TAG).unwrap(),
            ours
        );
        // idempotent, and still ours
        assert_eq!(
            link::ensure_bridge(&bridge("btest0", gw), TAG).unwrap(),
            ours
        );
        // Someone else's bridge is used but stays theirs (the tag is kept).
        let other = bridge("bother0", Ipv4Addr::new(10, 87, 0, 1));
        link::ensure_bridge(&other, "another-owner").unwrap();
        assert_eq!(
            link::ensure_bridge(&other, TAG).unwrap(),
            link::Ownership::Foreign
        );
        assert!(!tagged_links().contains(&"bother0".to_string()));
        link::delete_link("bother0").unwrap();
        let (ns_a, ns_b) = (dir.join("a"), dir.join("b"));
        let (ep_a, ep_b) = (
            endpoint("btest0", "ctr-a", ip_a, Some(gw)),
            endpoint("btest0", "ctr-b", ip_b, Some(gw)),
        );
        for (ns, ep) in [(&ns_a, &ep_a), (&ns_b, &ep_b)] {
            netns::create(ns).unwrap();
            link::attach(ns, ep, TAG).unwrap();
        }
        link::attach(&ns_a, &ep_a, TAG).unwrap(); // idempotent

        // a -> b across the bridge; b sees a's own address.
        let peer = round_trip(
            Some(&ns_a),
            listen_in(&ns_b, sa(ip_b, 5000)),
            sa(ip_b, 5000),
        );
        assert_eq!(peer.ip(), ip_a);
        // The host reaches a container through the bridge's address.
        let peer = round_trip(None, listen_in(&ns_a, sa(ip_a, 5001)), sa(ip_a, 5001));
        assert_eq!(peer.ip(), gw);

        // Inside: eth0 with the MAC, lo up, and the default route works
        // (the container reaches the gateway address, which is the host).
        let l = TcpListener::bind(sa(gw, 5002)).unwrap();
        let peer = round_trip(Some(&ns_b), l, sa(gw, 5002));
        assert_eq!(peer.ip(), ip_b);

        // A half-made pair (host end deleted behind our back) is remade.
        link::delete_link(&ep_a.host_name).unwrap();
        link::attach(&ns_a, &ep_a, TAG).unwrap();
        let peer = round_trip(
            Some(&ns_a),
            listen_in(&ns_b, sa(ip_b, 5003)),
            sa(ip_b, 5003),
        );
        assert_eq!(peer.ip(), ip_a);

        // Errors name what failed.
        let err = link::attach(&ns_a, &endpoint("nosuchbr", "x", ip_a, None), TAG)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nosuchbr"), "{err}");

        for ep in [&ep_a, &ep_b] {
            link::delete_link(&ep.host_name).unwrap();
            link::delete_link(&ep.host_name).unwrap(); // idempotent
        }
        link::delete_link("btest0").unwrap();
        link::delete_link("btest0").unwrap();
        netns::delete(&ns_a).unwrap();
        netns::delete(&ns_b).unwrap();
        assert!(tagged_links().is_empty(), "{:?}", tagged_links());
        let names: Vec<String> = link::list().unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["lo"]);
        assert!(netns::list(dir).unwrap().is_empty());
        assert!(mounts_under(dir).is_empty());
    });
}

#[test]
fn published_ports_masquerade_hairpin_isolation_and_exact_removal() {
    in_fresh_ns(|dir| {
        sysctl::enable_ip_forward().unwrap();
        assert!(sysctl::ip_forward().unwrap());
        let fw = Firewall::new("berthtest").unwrap();

        // "Outside": a namespace behind an uplink bridge that is not a
        // berth network (192.0.2.0/24 is TEST-NET-1: never routed).
        let up_ip = Ipv4Addr::new(192, 0, 2, 1);
        let out_ip = Ipv4Addr::new(192, 0, 2, 2);
        link::ensure_bridge(&bridge("bup0", up_ip), "someone-else").unwrap();
        let ns_out = dir.join("outside");
        netns::create(&ns_out).unwrap();
        link::attach(
            &ns_out,
            &endpoint("bup0", "outside", out_ip, None),
            "someone-else",
        )
        .unwrap();

        // Network 1 with containers c and d; network 2 with container e.
        let gw1 = Ipv4Addr::new(10, 89, 0, 1);
        let net1 = NetworkRules {
            bridge: "btest1".into(),
            subnet: Ipv4Addr::new(10, 89, 0, 0),
            prefix_len: 24,
            internal: false,
            subnet6: None,
        };
        let gw2 = Ipv4Addr::new(10, 90, 0, 1);
        let net2 = NetworkRules {
            bridge: "btest2".into(),
            subnet: gw2, // host bits are cleared: 10.90.0.0/24
            prefix_len: 24,
            internal: false,
            subnet6: None,
        };
        link::ensure_bridge(&bridge("btest1", gw1), TAG).unwrap();
        link::ensure_bridge(&bridge("btest2", gw2), TAG).unwrap();
        fw.ensure_network(&net1).unwrap();
        fw.ensure_network(&net2).unwrap();
        let (ip_c, ip_d, ip_e) = (
            Ipv4Addr::new(10, 89, 0, 2),
            Ipv4Addr::new(10, 89, 0, 3),
            Ipv4Addr::new(10, 90, 0, 2),
        );
        let (ns_c, ns_d, ns_e) = (dir.join("c"), dir.join("d"), dir.join("e"));
        for (ns, ep) in [
            (&ns_c, endpoint("btest1", "c", ip_c, Some(gw1))),
            (&ns_d, endpoint("btest1", "d", ip_d, Some(gw1))),
            (&ns_e, endpoint("btest2", "e", ip_e, Some(gw2))),
        ] {
            netns::create(ns).unwrap();
            link::attach(ns, &ep, TAG).unwrap();
        }

        let ports = [
            PortMapping {
                host_ip: None,
                protocol: Protocol::Tcp,
                host_port: 8080,
                container_ip: ip_c,
                container_port: 80,
            },
            PortMapping {
                host_ip: Some(up_ip),
                protocol: Protocol::Tcp,
                host_port: 8081,
                container_ip: ip_c,
                container_port: 81,
            },
            PortMapping {
                host_ip: Some(Ipv4Addr::LOCALHOST),
                protocol: Protocol::Tcp,
                host_port: 8082,
                container_ip: ip_c,
                container_port: 82,
            },
            PortMapping {
                host_ip: None,
                protocol: Protocol::Udp,
                host_port: 5353,
                container_ip: ip_c,
                container_port: 53,
            },
        ];
        fw.publish("c", &ports, &[]).unwrap();
        let before = fw.ruleset().unwrap().unwrap();
        fw.publish("c", &ports, &[]).unwrap(); // idempotent: same rules, not twice
        fw.ensure_network(&net1).unwrap();
        assert_eq!(fw.ruleset().unwrap().unwrap(), before);
        assert!(before.contains("ip saddr 10.89.0.0/24 oifname != \"btest1\" masquerade"));
        assert!(before.contains("ip saddr 10.90.0.0/24 oifname != \"btest2\" masquerade"));
        assert!(before.contains("dnat to 10.89.0.2:80"), "{before}");
        assert!(
            before.contains("udp dport 5353 dnat to 10.89.0.2:53"),
            "{before}"
        );
        // A loopback mapping is DNATed for the host's own connections only
        // (output hook), through route_localnet on the bridge.
        assert!(
            before.contains("ip daddr 127.0.0.1 tcp dport 8082 dnat to"),
            "loopback mapping has no output rule:\n{before}"
        );

        let c80 = sa(ip_c, 80);
        // From outside to the host's address: prerouting DNAT + forward.
        let peer = round_trip(Some(&ns_out), listen_in(&ns_c, c80), sa(up_ip, 8080));
        assert_eq!(peer.ip(), out_ip);
        // From the host itself, to each of its addresses: the output chain.
        for host in [up_ip, gw1] {
            let peer = round_trip(None, listen_in(&ns_c, c80), sa(host, 8080));
            assert_eq!(peer.ip(), host);
        }
        // Hairpin: c and d reach c through the published port, masqueraded
        // to the gateway so the replies come back the same way.
        for ns in [&ns_c, &ns_d] {
            let peer = round_trip(Some(ns), listen_in(&ns_c, c80), sa(up_ip, 8080));
            assert_eq!(peer.ip(), gw1);
        }
        // A container of another network reaches it by the published port
        // (masqueraded as it leaves its own bridge, as on Docker)...
        let peer = round_trip(Some(&ns_e), listen_in(&ns_c, c80), sa(up_ip, 8080));
        assert_eq!(peer.ip(), gw1);
        // ...but not directly: networks are isolated.
        let _l = listen_in(&ns_c, c80);
        let direct = netns::run_in(&ns_e, || try_connect(c80)).unwrap();
        assert!(direct.is_err(), "e reached c across networks");
        drop(_l);
        // A mapping bound to one host address answers on that one only.
        let c81 = sa(ip_c, 81);
        let peer = round_trip(Some(&ns_out), listen_in(&ns_c, c81), sa(up_ip, 8081));
        assert_eq!(peer.ip(), out_ip);
        let _l = listen_in(&ns_c, c81);
        assert!(try_connect(sa(gw1, 8081)).is_err());
        drop(_l);

        // Masquerade: c reaching the outside shows up as the uplink address.
        let l = listen_in(&ns_out, sa(out_ip, 9000));
        let peer = round_trip(Some(&ns_c), l, sa(out_ip, 9000));
        assert_eq!(peer.ip(), up_ip);

        // UDP: a datagram from outside to the published port reaches c.
        let u = netns::run_in(&ns_c, || UdpSocket::bind(sa(ip_c, 53)))
            .unwrap()
            .unwrap();
        u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        netns::run_in(&ns_out, || {
            let s = UdpSocket::bind(sa(out_ip, 0))?;
            s.send_to(b"ping", sa(up_ip, 5353))
        })
        .unwrap()
        .unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = u.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.ip()), (&b"ping"[..], out_ip.into()));
        drop(u);

        // Exact removal: c's chains go, network 2 stays as it was.
        fw.unpublish("c").unwrap();
        fw.unpublish("c").unwrap(); // idempotent
        let after = fw.ruleset().unwrap().unwrap();
        assert!(!after.contains("c-c-"), "{after}");
        assert!(!after.contains("dnat to"), "{after}");
        let _l = listen_in(&ns_c, c80);
        assert!(netns::run_in(&ns_out, || try_connect(sa(up_ip, 8080)))
            .unwrap()
            .is_err());
        drop(_l);
        fw.remove_network("btest1").unwrap();
        fw.remove_network("btest1").unwrap(); // idempotent
        let st = fw.state().unwrap();
        assert_eq!(st.networks, BTreeSet::from(["btest2".to_string()]));
        assert!(st.containers.is_empty());
        let text = fw.ruleset().unwrap().unwrap();
        assert!(!text.contains("btest1"), "{text}");
        assert!(text.contains("n-btest2-fwd"), "{text}");

        // Recovery sweep: keeps what is named, removes the rest of berth's,
        // leaves the uplink (another owner's tag) alone.
        fw.publish("e", &ports[..1], &[]).unwrap();
        let keep = Keep {
            bridges: BTreeSet::from(["btest2".to_string()]),
            veths: BTreeSet::from([link::host_veth_name("e", "btest2")]),
            containers: BTreeSet::from(["e".to_string()]),
            netns: BTreeSet::from(["e".to_string(), "outside".to_string()]),
        };
        let swept = sweep::sweep(TAG, &fw, Some(dir), &keep).unwrap();
        assert_eq!(swept.links.len(), 3, "{swept:?}"); // veths of c, d and btest1
        assert!(swept.links.contains(&"btest1".to_string()));
        assert_eq!(swept.netns, ["c", "d"]);
        assert!(!swept.table);
        assert!(link::exists("btest2").unwrap());
        assert!(link::exists("bup0").unwrap());
        let st = fw.state().unwrap();
        assert_eq!(st.containers, BTreeSet::from(["e".to_string()]));

        // Everything else goes with an empty keep set: no link, chain,
        // table or namespace of berth's is left.
        let swept = sweep::sweep(TAG, &fw, Some(dir), &Keep::default()).unwrap();
        assert!(swept.table);
        assert!(!fw.exists().unwrap());
        assert!(tagged_links().is_empty(), "{:?}", tagged_links());
        assert!(link::exists("bup0").unwrap());
        assert!(netns::list(dir).unwrap().is_empty());
        assert!(mounts_under(dir).is_empty());
        // The uplink and its veth are someone else's: still there. (The
        // namespace a veth end was in dies asynchronously after its
        // unmount, so what is not tagged is deleted by name.)
        link::delete_link(&link::host_veth_name("outside", "bup0")).unwrap();
        link::delete_link("bup0").unwrap();
        let names: Vec<String> = link::list().unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["lo"]);
    });
}

#[test]
fn internal_networks_stay_inside() {
    in_fresh_ns(|dir| {
        sysctl::enable_ip_forward().unwrap();
        let fw = Firewall::new("berthtest").unwrap();
        let gw = Ipv4Addr::new(10, 91, 0, 1);
        let net = NetworkRules {
            bridge: "bint0".into(),
            subnet: Ipv4Addr::new(10, 91, 0, 0),
            prefix_len: 24,
            internal: true,
            subnet6: None,
        };
        link::ensure_bridge(&bridge("bint0", gw), TAG).unwrap();
        fw.ensure_network(&net).unwrap();
        let text = fw.ruleset().unwrap().unwrap();
        assert!(!text.contains("masquerade"), "{text}");
        let (ip_a, ip_b) = (Ipv4Addr::new(10, 91, 0, 2), Ipv4Addr::new(10, 91, 0, 3));
        let (ns_a, ns_b) = (dir.join("a"), dir.join("b"));
        netns::create(&ns_a).unwrap();
        netns::create(&ns_b).unwrap();
        // a even has a default route: the drop is the firewall's doing.
        link::attach(&ns_a, &endpoint("bint0", "a", ip_a, Some(gw)), TAG).unwrap();
        link::attach(&ns_b, &endpoint("bint0", "b", ip_b, None), TAG).unwrap();
        // Inside the network: fine.
        let peer = round_trip(
            Some(&ns_a),
            listen_in(&ns_b, sa(ip_b, 7000)),
            sa(ip_b, 7000),
        );
        assert_eq!(peer.ip(), ip_a);
        // Out of it: dropped, though forwarding is on and a route exists.
        let (up_ip, out_ip) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
        link::ensure_bridge(&bridge("bup2", up_ip), "someone-else").unwrap();
        let ns_out = dir.join("outside");
        netns::create(&ns_out).unwrap();
        let up_ep = endpoint("bup2", "outside", out_ip, Some(up_ip));
        link::attach(&ns_out, &up_ep, "someone-else").unwrap();
        let _l = listen_in(&ns_out, sa(out_ip, 7001));
        let r = netns::run_in(&ns_a, || try_connect(sa(out_ip, 7001))).unwrap();
        assert!(r.is_err(), "an internal network reached the outside");
        // ...and into it from outside.
        let _l = listen_in(&ns_b, sa(ip_b, 7002));
        let r = netns::run_in(&ns_out, || try_connect(sa(ip_b, 7002))).unwrap();
        assert!(r.is_err(), "the outside reached an internal network");

        sweep::sweep(TAG, &fw, Some(dir), &Keep::default()).unwrap();
        assert!(!fw.exists().unwrap());
        assert!(tagged_links().is_empty());
        link::delete_link(&up_ep.host_name).unwrap();
        link::delete_link("bup2").unwrap();
    });
}

/// What the nft module documents: an accept in berth's table cannot
/// overrule another table's drop policy on the same hook.
#[test]
fn a_foreign_forward_drop_overrules_berths_accepts() {
    in_fresh_ns(|dir| {
        sysctl::enable_ip_forward().unwrap();
        let fw = Firewall::new("berthtest").unwrap();
        let (up_ip, out_ip) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
        link::ensure_bridge(&bridge("bup1", up_ip), "someone-else").unwrap();
        let ns_out = dir.join("outside");
        netns::create(&ns_out).unwrap();
        let up_ep = endpoint("bup1", "outside", out_ip, None);
        link::attach(&ns_out, &up_ep, "someone-else").unwrap();
        let gw = Ipv4Addr::new(10, 92, 0, 1);
        let ip_c = Ipv4Addr::new(10, 92, 0, 2);
        link::ensure_bridge(&bridge("btest3", gw), TAG).unwrap();
        let rules = NetworkRules {
            bridge: "btest3".into(),
            subnet: gw,
            prefix_len: 24,
            internal: false,
            subnet6: None,
        };
        fw.ensure_network(&rules).unwrap();
        let ns_c = dir.join("c");
        netns::create(&ns_c).unwrap();
        link::attach(&ns_c, &endpoint("btest3", "c", ip_c, Some(gw)), TAG).unwrap();
        let port = PortMapping {
            host_ip: None,
            protocol: Protocol::Tcp,
            host_port: 8080,
            container_ip: ip_c,
            container_port: 80,
        };
        fw.publish("c", &[port], &[]).unwrap();
        let c80 = sa(ip_c, 80);
        round_trip(Some(&ns_out), listen_in(&ns_c, c80), sa(up_ip, 8080));

        // Our own table is never reported; another table's drop policy is,
        // and it wins.
        assert!(fw.foreign_forward_drops().unwrap().is_empty());
        let mut nft = Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        nft.stdin
            .take()
            .unwrap()
            .write_all(
                b"add table ip filter\n\
                  add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }\n",
            )
            .unwrap();
        assert!(nft.wait().unwrap().success());
        assert_eq!(fw.foreign_forward_drops().unwrap(), ["ip filter FORWARD"]);
        let _l = listen_in(&ns_c, c80);
        let r = netns::run_in(&ns_out, || try_connect(sa(up_ip, 8080))).unwrap();
        assert!(r.is_err(), "the foreign drop did not apply");
        drop(_l);

        // As dockerd does, berth opens that chain to its bridge, with
        // marked rules at the top; twice is the same as once.
        let foreign_rule = b"add rule ip filter FORWARD counter comment \"theirs\"\n";
        let mut nft = Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        nft.stdin.take().unwrap().write_all(foreign_rule).unwrap();
        assert!(nft.wait().unwrap().success());
        let listing = || {
            let o = Command::new("nft")
                .args(["list", "chain", "ip", "filter", "FORWARD"])
                .output()
                .unwrap();
            String::from_utf8(o.stdout).unwrap()
        };
        let before = listing();
        assert_eq!(
            fw.open_foreign_forward("btest3").unwrap(),
            ["ip filter FORWARD"]
        );
        fw.open_foreign_forward("btest3").unwrap();
        let opened = listing();
        assert_eq!(
            opened.matches("berth berthtest btest3").count(),
            3,
            "{opened}"
        );
        round_trip(Some(&ns_out), listen_in(&ns_c, c80), sa(up_ip, 8080));
        // Removing the network takes exactly those rules away again.
        fw.remove_network("btest3").unwrap();
        assert_eq!(listing(), before);
        fw.ensure_network(&rules).unwrap();
        fw.open_foreign_forward("btest3").unwrap();

        // The sweep removes all of berth's and leaves that table alone.
        sweep::sweep(TAG, &fw, Some(dir), &Keep::default()).unwrap();
        assert_eq!(listing(), before);
        assert_eq!(fw.foreign_forward_drops().unwrap(), ["ip filter FORWARD"]);
        assert!(!fw.exists().unwrap());
        assert!(tagged_links().is_empty());
        link::delete_link(&up_ep.host_name).unwrap();
        link::delete_link("bup1").unwrap();
    });
}
