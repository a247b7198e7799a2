//! The resolver for real, as root: each test pins a network namespace of
//! its own on a file in a temp dir (as the engine pins a container's),
//! binds the resolver at 127.0.0.11:53 inside it, and queries it from
//! sockets made inside it. Fake upstream servers listen on 127.0.0.x in
//! the test's (host) namespace, which the namespace cannot reach: an
//! answer from one proves the forwarding came from the host side.
//! Skipped when not root. No timing assertions: "does not block" is
//! checked by the order replies arrive in.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_dns::wire::{self, Message, RData};
use berth_net::{link, netns};

/// Guards every blocking read so a broken resolver fails the test
/// instead of hanging it; never a measure of speed.
const HANG: Duration = Duration::from_secs(20);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// A pinned network namespace with `lo` up, the resolver's files in a
/// temp dir; the namespace is unpinned on drop (even on failure).
struct Env {
    dir: tempfile::TempDir,
    ns: PathBuf,
    config: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = netns::delete(&self.ns);
    }
}

fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

impl Env {
    fn new() -> Option<Env> {
        if !is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ns = dir.path().join("netns");
        netns::create(&ns).unwrap();
        let env = Env {
            config: dir.path().join("dns.json"),
            dir,
            ns,
        };
        link::loopback_up(&env.ns).unwrap();
        Some(env)
    }

    fn table_path(&self, network: &str) -> PathBuf {
        self.dir.path().join(format!("{network}.names.json"))
    }

    /// Writes the network's table: records as (names, ipv4, ipv6).
    fn table(&self, network: &str, records: &[(&[&str], Option<&str>, Option<&str>)]) -> PathBuf {
        let recs: Vec<_> = records
            .iter()
            .map(|(names, v4, v6)| serde_json::json!({"names": names, "ipv4": v4, "ipv6": v6}))
            .collect();
        let path = self.table_path(network);
        write_atomic(
            &path,
            &serde_json::json!({"network": network, "records": recs}).to_string(),
        );
        path
    }

    fn configure(&self, tables: &[PathBuf], servers: &[String]) {
        write_atomic(
            &self.config,
            &serde_json::json!({"tables": tables, "servers": servers,
                "search": ["example.com"], "ndots": 0})
            .to_string(),
        );
    }

    fn start(&self) {
        let sockets = berth_dns::bind_in(&self.ns).unwrap();
        berth_dns::serve(sockets, self.config.clone()).unwrap();
    }

    /// A UDP client inside the namespace, connected to the resolver.
    fn udp(&self) -> Udp {
        let s = netns::run_in(&self.ns, || UdpSocket::bind("127.0.0.1:0"))
            .unwrap()
            .unwrap();
        s.connect(berth_dns::LISTEN).unwrap();
        s.set_read_timeout(Some(HANG)).unwrap();
        Udp(s)
    }

    /// A TCP connection to the resolver, from inside the namespace.
    fn tcp(&self) -> Tcp {
        let s = netns::run_in(&self.ns, || TcpStream::connect(berth_dns::LISTEN))
            .unwrap()
            .unwrap();
        s.set_read_timeout(Some(HANG)).unwrap();
        Tcp(s)
    }
}

struct Udp(UdpSocket);

impl Udp {
    fn send(&self, msg: &[u8]) {
        self.0.send(msg).unwrap();
    }

    fn recv_raw(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 65535];
        let n = self.0.recv(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    fn recv(&self) -> Message {
        wire::parse_message(&self.recv_raw()).unwrap()
    }

    fn ask(&self, id: u16, name: &str, qtype: u16) -> Message {
        self.send(&wire::build_query(id, name, qtype).unwrap());
        let m = self.recv();
        assert_eq!(m.header.id, id, "reply to {name}");
        m
    }
}

struct Tcp(TcpStream);

impl Tcp {
    fn send(&mut self, msg: &[u8]) {
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        self.0.write_all(&framed).unwrap();
    }

    fn recv_raw(&mut self) -> Vec<u8> {
        let mut len = [0u8; 2];
        self.0.read_exact(&mut len).unwrap();
        let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
        self.0.read_exact(&mut reply).unwrap();
        reply
    }

    fn ask(&mut self, id: u16, name: &str, qtype: u16) -> Message {
        self.send(&wire::build_query(id, name, qtype).unwrap());
        let m = wire::parse_message(&self.recv_raw()).unwrap();
        assert_eq!(m.header.id, id, "reply to {name}");
        m
    }
}

fn v4s(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|a| match a.data {
            RData::A(ip) => Some(ip),
            _ => None,
        })
        .collect()
}

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Asserts a NOERROR answer holding exactly `want` (any order), each
/// once, with Docker's TTL and the question's name.
fn assert_a(m: &Message, want: &[&str]) {
    assert_eq!(m.header.rcode(), wire::RCODE_NOERROR, "{m:?}");
    let got: BTreeSet<_> = v4s(m).into_iter().collect();
    let want: BTreeSet<_> = want.iter().map(|s| ip4(s)).collect();
    assert_eq!(got, want, "{m:?}");
    assert_eq!(v4s(m).len(), want.len(), "each address once: {m:?}");
    for a in &m.answers {
        assert_eq!(a.ttl, 600);
        assert_eq!(a.name, m.questions[0].name);
    }
}

/// Asserts the fake upstream's answer (TTL 42, not ours).
fn assert_upstream(m: &Message) {
    assert_eq!(m.header.rcode(), wire::RCODE_NOERROR, "{m:?}");
    assert_eq!(v4s(m), [ip4("192.0.2.7")], "{m:?}");
    assert_eq!(m.answers[0].ttl, 42);
}

fn rcode(m: &Message) -> u8 {
    m.header.rcode()
}

/// The fixed reply of a fake upstream: the query's ID and question, RA,
/// `rcode`, and for NOERROR one A record 192.0.2.7 with TTL 42.
fn upstream_reply(q: &[u8], rcode: u8) -> Vec<u8> {
    let query = wire::parse_query(q).unwrap();
    let mut qname_end = 12;
    while q[qname_end] != 0 {
        qname_end += 1 + q[qname_end] as usize;
    }
    let question = &q[12..qname_end + 5];
    let mut r = Vec::new();
    r.extend_from_slice(&query.header.id.to_be_bytes());
    r.extend_from_slice(&(0x8180u16 | u16::from(rcode)).to_be_bytes());
    let an: u16 = if rcode == 0 { 1 } else { 0 };
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&an.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(question);
    if an == 1 {
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 42, 0, 4, 192, 0, 2, 7]);
    }
    r
}

/// A fake upstream in the host namespace on `ip` (UDP, and TCP on the
/// same port): records every query and answers it with `rcode`.
struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Upstream {
    fn start(ip: &str, rcode: u8) -> Upstream {
        let (udp, tcp) = bind_pair(ip);
        let addr = udp.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                s.lock().unwrap().push(buf[..n].to_vec());
                let _ = udp.send_to(&upstream_reply(&buf[..n], rcode), peer);
            }
        });
        let s = seen.clone();
        std::thread::spawn(move || {
            for c in tcp.incoming() {
                let Ok(mut c) = c else { continue };
                let mut len = [0u8; 2];
                if c.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if c.read_exact(&mut q).is_err() {
                    continue;
                }
                s.lock().unwrap().push(q.clone());
                let r = upstream_reply(&q, rcode);
                let mut framed = (r.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&r);
                let _ = c.write_all(&framed);
            }
        });
        Upstream { addr, seen }
    }

    fn server(&self) -> String {
        self.addr.to_string()
    }

    fn seen(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().clone()
    }
}

/// A UDP socket and a TCP listener on one free port of `ip`.
fn bind_pair(ip: &str) -> (UdpSocket, TcpListener) {
    for _ in 0..100 {
        let udp = UdpSocket::bind((ip, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind((ip, port)) {
            return (udp, tcp);
        }
    }
    panic!("no free port pair on {ip}");
}

/// An address on `ip` where nothing listens (UDP nor TCP).
fn closed_port(ip: &str) -> String {
    let (udp, tcp) = bind_pair(ip);
    let addr = udp.local_addr().unwrap();
    drop((udp, tcp));
    addr.to_string()
}

#[test]
fn names_aliases_and_network_suffixes() {
    let Some(env) = Env::new() else { return };
    let t1 = env.table(
        "mynet",
        &[
            (&["web", "alias1", "3f2a9c1b2d4e"], Some("172.18.0.2"), None),
            (&["Dotted."], Some("172.18.0.5"), None),
        ],
    );
    let t2 = env.table("back.net", &[(&["db"], Some("10.9.0.3"), None)]);
    env.configure(&[t1, t2], &[]);
    env.start();
    let c = env.udp();
    for (i, name) in [
        "web",
        "alias1",
        "3f2a9c1b2d4e",
        "web.mynet",
        "WEB",
        "Web.MyNet.",
        "ALIAS1.mynet",
        "web.",
    ]
    .iter()
    .enumerate()
    {
        let m = c.ask(100 + i as u16, name, wire::TYPE_A);
        assert_a(&m, &["172.18.0.2"]);
        assert!(m.header.recursion_available() && !m.header.authoritative());
        assert_eq!(m.questions.len(), 1);
        assert_eq!(
            m.questions[0].name,
            wire::Name::from_text(name).unwrap(),
            "the question is echoed as asked"
        );
    }
    assert_a(&c.ask(1, "dotted", wire::TYPE_A), &["172.18.0.5"]);
    assert_a(&c.ask(2, "db", wire::TYPE_A), &["10.9.0.3"]);
    // A network name with a dot in it, as Docker allows.
    assert_a(&c.ask(3, "db.back.net", wire::TYPE_A), &["10.9.0.3"]);
    // Not on that network, or no such network: not ours, and with no
    // upstream servers that is SERVFAIL.
    assert_eq!(
        rcode(&c.ask(4, "db.mynet", wire::TYPE_A)),
        wire::RCODE_SERVFAIL
    );
    assert_eq!(
        rcode(&c.ask(5, "web.other", wire::TYPE_A)),
        wire::RCODE_SERVFAIL
    );
    assert_eq!(
        rcode(&c.ask(6, "nothere", wire::TYPE_A)),
        wire::RCODE_SERVFAIL
    );
    // TCP answers the same.
    let mut t = env.tcp();
    assert_a(&t.ask(7, "Web.mynet", wire::TYPE_A), &["172.18.0.2"]);
    assert_a(&t.ask(8, "db", wire::TYPE_A), &["10.9.0.3"]);
}

#[test]
fn a_shared_alias_answers_every_address_in_turn() {
    let Some(env) = Env::new() else { return };
    let t = env.table(
        "mynet",
        &[
            (&["web", "shared"], Some("172.18.0.2"), Some("fd00::2")),
            (&["api", "shared"], Some("172.18.0.3"), Some("fd00::3")),
        ],
    );
    env.configure(&[t], &[]);
    env.start();
    let c = env.udp();
    let mut firsts = BTreeSet::new();
    for id in 0..4 {
        let m = c.ask(id, "shared", wire::TYPE_A);
        assert_a(&m, &["172.18.0.2", "172.18.0.3"]);
        firsts.insert(v4s(&m)[0]);
    }
    assert_eq!(firsts.len(), 2, "the order rotates");
    let m = c.ask(9, "shared", wire::TYPE_AAAA);
    assert_eq!(m.answers.len(), 2);
}

#[test]
fn types_without_data_are_empty_noerror_and_never_forwarded() {
    let Some(env) = Env::new() else { return };
    let up = Upstream::start("127.0.0.77", wire::RCODE_NOERROR);
    let t = env.table(
        "mynet",
        &[
            (&["v4only"], Some("172.18.0.2"), None),
            (&["dual"], Some("172.18.0.3"), Some("fd00::3")),
            (&["v6only"], None, Some("fd00::4")),
        ],
    );
    env.configure(&[t], &[up.server()]);
    env.start();
    let c = env.udp();
    let empty = |m: &Message| {
        assert_eq!(rcode(m), wire::RCODE_NOERROR, "{m:?}");
        assert!(m.answers.is_empty(), "{m:?}");
    };
    empty(&c.ask(1, "v4only", wire::TYPE_AAAA));
    empty(&c.ask(2, "V4ONLY.mynet", wire::TYPE_AAAA));
    empty(&c.ask(3, "v6only", wire::TYPE_A));
    empty(&c.ask(4, "dual", wire::TYPE_MX));
    let m = c.ask(5, "dual", wire::TYPE_AAAA);
    assert_eq!(m.answers[0].data, RData::Aaaa("fd00::3".parse().unwrap()));
    assert_eq!(m.answers.len(), 1);
    let m = c.ask(6, "dual", wire::TYPE_ANY);
    assert_eq!(m.answers.len(), 2);
    // Only a name nobody has went upstream.
    assert_upstream(&c.ask(7, "example.org", wire::TYPE_A));
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "only example.org was forwarded");
    assert_eq!(
        wire::first_question(&seen[0]).unwrap().name.to_string(),
        "example.org."
    );
}

#[test]
fn ptr_answers_name_dot_network() {
    let Some(env) = Env::new() else { return };
    let up = Upstream::start("127.0.0.77", wire::RCODE_NXDOMAIN);
    let t = env.table(
        "mynet",
        &[
            (&["Web", "alias1"], Some("172.18.0.2"), Some("fd00::2")),
            (&["api"], Some("172.18.0.3"), None),
        ],
    );
    env.configure(&[t], &[up.server()]);
    env.start();
    let c = env.udp();
    let ptr = |m: &Message| match &m.answers[..] {
        [a] => match &a.data {
            RData::Ptr(n) => {
                assert_eq!(a.ttl, 600);
                n.to_string()
            }
            d => panic!("not a PTR: {d:?}"),
        },
        a => panic!("expected one answer: {a:?}"),
    };
    assert_eq!(
        ptr(&c.ask(1, "2.0.18.172.in-addr.arpa", wire::TYPE_PTR)),
        "Web.mynet."
    );
    assert_eq!(
        ptr(&c.ask(2, "3.0.18.172.IN-ADDR.ARPA.", wire::TYPE_PTR)),
        "api.mynet."
    );
    let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
    assert_eq!(ptr(&c.ask(3, v6, wire::TYPE_PTR)), "Web.mynet.");
    // An address nobody has is the upstream's business.
    let m = c.ask(4, "9.0.18.172.in-addr.arpa", wire::TYPE_PTR);
    assert_eq!(rcode(&m), wire::RCODE_NXDOMAIN);
    assert_eq!(up.seen().len(), 1);
}

#[test]
fn tables_are_reread_while_serving() {
    let Some(env) = Env::new() else { return };
    let up = Upstream::start("127.0.0.77", wire::RCODE_NXDOMAIN);
    let t1 = env.table("mynet", &[(&["web"], Some("172.18.0.2"), None)]);
    env.configure(std::slice::from_ref(&t1), &[up.server()]);
    env.start();
    let c = env.udp();
    assert_a(&c.ask(1, "web", wire::TYPE_A), &["172.18.0.2"]);
    assert_eq!(rcode(&c.ask(2, "db", wire::TYPE_A)), wire::RCODE_NXDOMAIN);
    // db joins, web leaves.
    env.table("mynet", &[(&["db"], Some("172.18.0.3"), None)]);
    assert_a(&c.ask(3, "db", wire::TYPE_A), &["172.18.0.3"]);
    assert_eq!(rcode(&c.ask(4, "web", wire::TYPE_A)), wire::RCODE_NXDOMAIN);
    // The container joins a second network: the config names its table.
    let t2 = env.table("other", &[(&["cache"], Some("10.5.0.9"), None)]);
    env.configure(&[t1.clone(), t2.clone()], &[up.server()]);
    assert_a(&c.ask(5, "cache.other", wire::TYPE_A), &["10.5.0.9"]);
    // The network goes away: its table is removed.
    std::fs::remove_file(&t2).unwrap();
    assert_eq!(
        rcode(&c.ask(6, "cache", wire::TYPE_A)),
        wire::RCODE_NXDOMAIN
    );
    env.table("other", &[(&["cache"], Some("10.5.0.10"), None)]);
    assert_a(&c.ask(7, "cache", wire::TYPE_A), &["10.5.0.10"]);
    // A torn or broken table keeps the last good contents.
    write_atomic(&t1, "{\"network\": ");
    assert_a(&c.ask(8, "db", wire::TYPE_A), &["172.18.0.3"]);
    // A broken config keeps the last good one too.
    write_atomic(&env.config, "[");
    assert_a(&c.ask(9, "cache", wire::TYPE_A), &["10.5.0.10"]);
}

#[test]
fn forwards_over_udp_and_tcp_from_the_host_side() {
    let Some(env) = Env::new() else { return };
    let up = Upstream::start("127.0.0.77", wire::RCODE_NOERROR);
    let t = env.table("mynet", &[(&["web"], Some("172.18.0.2"), None)]);
    env.configure(&[t], &[up.server()]);
    // The upstream is on the host's loopback, which the container's
    // namespace cannot reach.
    let direct = netns::run_in(&env.ns, || {
        let s = UdpSocket::bind("127.0.0.1:0")?;
        s.connect(up.addr)?;
        s.set_read_timeout(Some(HANG))?;
        s.send(&wire::build_query(1, "x", wire::TYPE_A).unwrap())?;
        s.recv(&mut [0u8; 512])
    })
    .unwrap();
    assert_eq!(
        direct.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    env.start();
    let c = env.udp();
    // A query with an EDNS OPT record: relayed as sent but for the ID.
    let mut q = wire::build_query(0x4242, "Example.ORG", wire::TYPE_A).unwrap();
    q[11] = 1;
    q.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    c.send(&q);
    let raw = c.recv_raw();
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0][2..], q[2..], "forwarded verbatim but for the ID");
    let mut expect = upstream_reply(&seen[0], 0);
    expect[..2].copy_from_slice(&[0x42, 0x42]);
    assert_eq!(raw, expect, "relayed verbatim but for the ID");
    let m = wire::parse_message(&raw).unwrap();
    assert_eq!(m.answers[0].ttl, 42);
    // Over TCP, forwarded over TCP.
    let mut t = env.tcp();
    let q = wire::build_query(0x5151, "tcp.example", wire::TYPE_A).unwrap();
    t.send(&q);
    let raw = t.recv_raw();
    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1][2..], q[2..]);
    let mut expect = upstream_reply(&seen[1], 0);
    expect[..2].copy_from_slice(&[0x51, 0x51]);
    assert_eq!(raw, expect);
    // Container names still answered on the same connection.
    assert_a(&t.ask(3, "web", wire::TYPE_A), &["172.18.0.2"]);
}

#[test]
fn servers_in_order_and_servfail_when_all_fail() {
    let Some(env) = Env::new() else { return };
    let failing = Upstream::start("127.0.0.78", wire::RCODE_SERVFAIL);
    let good = Upstream::start("127.0.0.79", wire::RCODE_NOERROR);
    let down = closed_port("127.0.0.80");
    let t = env.table("mynet", &[(&["web"], Some("172.18.0.2"), None)]);
    env.configure(
        std::slice::from_ref(&t),
        &[down.clone(), failing.server(), good.server()],
    );
    env.start();
    let c = env.udp();
    let mut tc = env.tcp();
    assert_upstream(&c.ask(1, "a.example", wire::TYPE_A));
    assert_upstream(&tc.ask(2, "b.example", wire::TYPE_A));
    assert_eq!(failing.seen().len(), 2, "tried before the good one");
    // Nothing listening: SERVFAIL, over UDP and TCP.
    env.configure(std::slice::from_ref(&t), std::slice::from_ref(&down));
    let m = c.ask(3, "c.example", wire::TYPE_A);
    assert_eq!(rcode(&m), wire::RCODE_SERVFAIL);
    assert_eq!(m.questions[0].name.to_string(), "c.example.");
    assert_eq!(
        rcode(&tc.ask(4, "d.example", wire::TYPE_A)),
        wire::RCODE_SERVFAIL
    );
    // Only failures: the last server's SERVFAIL is relayed.
    env.configure(std::slice::from_ref(&t), &[down, failing.server()]);
    assert_eq!(
        rcode(&c.ask(5, "e.example", wire::TYPE_A)),
        wire::RCODE_SERVFAIL
    );
    assert_eq!(failing.seen().len(), 3);
    // No servers at all.
    env.configure(&[t], &[]);
    assert_eq!(
        rcode(&c.ask(6, "f.example", wire::TYPE_A)),
        wire::RCODE_SERVFAIL
    );
    assert_a(&c.ask(7, "web", wire::TYPE_A), &["172.18.0.2"]);
}

/// An upstream that tells the test when a query arrived and answers only
/// when the test says so.
fn stalled_upstream(ip: &str) -> (String, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (udp, tcp) = bind_pair(ip);
    let addr = udp.local_addr().unwrap().to_string();
    let (got_tx, got_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Arc::new(Mutex::new(go_rx));
    let g = got_tx.clone();
    let gr = go_rx.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65535];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            let _ = g.send(());
            if gr.lock().unwrap().recv().is_err() {
                return;
            }
            let _ = udp.send_to(&upstream_reply(&buf[..n], 0), peer);
        }
    });
    std::thread::spawn(move || {
        for c in tcp.incoming() {
            let Ok(mut c) = c else { continue };
            let mut len = [0u8; 2];
            if c.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if c.read_exact(&mut q).is_err() {
                continue;
            }
            let _ = got_tx.send(());
            if go_rx.lock().unwrap().recv().is_err() {
                return;
            }
            let r = upstream_reply(&q, 0);
            let mut framed = (r.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&r);
            let _ = c.write_all(&framed);
        }
    });
    (addr, got_rx, go_tx)
}

#[test]
fn a_stalled_upstream_does_not_delay_container_names() {
    let Some(env) = Env::new() else { return };
    let (server, arrived, release) = stalled_upstream("127.0.0.81");
    let t = env.table("mynet", &[(&["web"], Some("172.18.0.2"), None)]);
    env.configure(&[t], &[server]);
    env.start();
    let c = env.udp();
    c.send(&wire::build_query(1, "slow.example", wire::TYPE_A).unwrap());
    arrived.recv_timeout(HANG).unwrap();
    // The forward is in flight and will stay so until released: the name
    // must be answered first (the forward's reply cannot come sooner).
    c.send(&wire::build_query(2, "web", wire::TYPE_A).unwrap());
    let first = c.recv();
    assert_eq!(first.header.id, 2, "the container name was answered first");
    assert_a(&first, &["172.18.0.2"]);
    // A TCP client is not held up either, nor a second forward over TCP
    // by the first.
    let mut t = env.tcp();
    assert_a(&t.ask(3, "web", wire::TYPE_A), &["172.18.0.2"]);
    let mut t2 = env.tcp();
    t2.send(&wire::build_query(4, "slow2.example", wire::TYPE_A).unwrap());
    arrived.recv_timeout(HANG).unwrap();
    assert_a(&t.ask(5, "web", wire::TYPE_A), &["172.18.0.2"]);
    assert_a(&c.ask(6, "web", wire::TYPE_A), &["172.18.0.2"]);
    release.send(()).unwrap();
    release.send(()).unwrap();
    // The upstream's answer, or SERVFAIL had the forward's own timeout
    // struck first on a very loaded machine: either way, last.
    let slow = c.recv();
    assert_eq!(slow.header.id, 1);
    if rcode(&slow) == wire::RCODE_NOERROR {
        assert_upstream(&slow);
    }
    let m = wire::parse_message(&t2.recv_raw()).unwrap();
    assert_eq!(m.header.id, 4);
}

/// A deterministic byte stream for garbage packets.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 56) as u8
    }
}

#[test]
fn garbage_is_dropped_or_answered_formerr() {
    let Some(env) = Env::new() else { return };
    let t = env.table("mynet", &[(&["web"], Some("172.18.0.2"), None)]);
    env.configure(&[t], &[]);
    env.start();
    let c = env.udp();
    let q = wire::build_query(0x0a0b, "web", wire::TYPE_A).unwrap();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = q.clone();
        f(&mut m);
        m
    };
    let mut garbage: Vec<(Vec<u8>, Option<u8>)> = vec![
        (vec![], None),
        (vec![0x0a, 0x0b, 1, 0, 0], None),
        // A response (QR set) is never answered: no reflection loops.
        (with(&|m| m[2] |= 0x80), None),
        (with(&|m| m[5] = 0), Some(wire::RCODE_FORMERR)),
        (with(&|m| m[5] = 2), Some(wire::RCODE_FORMERR)),
        (with(&|m| m[12] = 0x40), Some(wire::RCODE_FORMERR)),
        (with(&|m| m[12] = 60), Some(wire::RCODE_FORMERR)),
        // The question's name is a pointer to itself.
        (
            with(&|m| m[12..14].copy_from_slice(&[0xc0, 12])),
            Some(wire::RCODE_FORMERR),
        ),
        (
            with(&|m| m.truncate(m.len() - 3)),
            Some(wire::RCODE_FORMERR),
        ),
        (with(&|m| m[2] |= 2 << 3), Some(wire::RCODE_NOTIMP)),
    ];
    let mut rng = Lcg(7);
    for i in 0..300 {
        let len = (rng.next() as usize) % 600;
        let mut g: Vec<u8> = (0..len).map(|_| rng.next()).collect();
        if i % 2 == 0 && g.len() > 12 {
            // Half of them look like queries, to reach the name parser.
            g[2] = 1;
            g[3] = 0;
            g[4] = 0;
            g[5] = 1;
        }
        garbage.push((g, None));
    }
    for (n, (g, want)) in garbage.iter().enumerate() {
        c.send(g);
        let gid = (g.len() >= 2).then(|| u16::from_be_bytes([g[0], g[1]]));
        let mut id = 0x7000 + n as u16;
        if gid == Some(id) {
            id ^= 0x8000;
        }
        c.send(&wire::build_query(id, "web", wire::TYPE_A).unwrap());
        // Whatever the garbage got comes first (one UDP thread, in order).
        let mut answered = None;
        loop {
            let raw = c.recv_raw();
            assert!(raw.len() <= 512);
            let h = wire::Header::parse(&raw).unwrap();
            if h.id == id {
                assert_a(&wire::parse_message(&raw).unwrap(), &["172.18.0.2"]);
                break;
            }
            assert_eq!(Some(h.id), gid, "garbage {n}: {g:?}");
            assert!(answered.is_none(), "one reply per message");
            answered = Some(h.rcode());
        }
        if n < 10 {
            assert_eq!(answered, *want, "garbage {n}: {g:?}");
        }
    }
    // TCP: a zero-length message, a truncated one, then a fresh
    // connection still works.
    let mut t = env.tcp();
    t.send(&[]);
    let mut t2 = env.tcp();
    t2.0.write_all(&[0, 40, 1, 2, 3]).unwrap();
    drop(t2);
    let mut t3 = env.tcp();
    t3.send(&with(&|m| m[5] = 2));
    let h = wire::Header::parse(&t3.recv_raw()).unwrap();
    assert_eq!(h.rcode(), wire::RCODE_FORMERR);
    assert_a(&t3.ask(9, "web", wire::TYPE_A), &["172.18.0.2"]);
    assert_a(&env.tcp().ask(10, "web", wire::TYPE_A), &["172.18.0.2"]);
}

#[test]
fn udp_answers_fit_512_bytes_tcp_answers_all() {
    let Some(env) = Env::new() else { return };
    let ips: Vec<String> = (1..=60).map(|i| format!("172.18.1.{i}")).collect();
    let names: Vec<String> = (1..=60).map(|i| format!("c{i}")).collect();
    let records: Vec<(Vec<&str>, Option<&str>, Option<&str>)> = names
        .iter()
        .zip(&ips)
        .map(|(n, ip)| (vec![n.as_str(), "many"], Some(ip.as_str()), None))
        .collect();
    let records: Vec<(&[&str], Option<&str>, Option<&str>)> =
        records.iter().map(|(n, a, b)| (&n[..], *a, *b)).collect();
    let t = env.table("mynet", &records);
    env.configure(&[t], &[]);
    env.start();
    let c = env.udp();
    c.send(&wire::build_query(1, "many", wire::TYPE_A).unwrap());
    let raw = c.recv_raw();
    assert!(raw.len() <= 512, "{}", raw.len());
    let m = wire::parse_message(&raw).unwrap();
    assert!(m.header.truncated());
    assert!(!m.answers.is_empty() && m.answers.len() < 60);
    let m = env.tcp().ask(2, "many", wire::TYPE_A);
    assert!(!m.header.truncated());
    assert_eq!(v4s(&m).len(), 60);
}

#[test]
fn bind_in_keeps_the_callers_namespace_and_reports_errors() {
    let Some(env) = Env::new() else { return };
    let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let s = berth_dns::bind_in(&env.ns).unwrap();
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        before
    );
    assert_eq!(s.local_addr().unwrap(), berth_dns::LISTEN);
    // Taken already.
    let e = berth_dns::bind_in(&env.ns).unwrap_err();
    assert!(e.to_string().contains("127.0.0.11:53"), "{e}");
    // Not a namespace.
    let e = berth_dns::bind_in(&env.config).unwrap_err();
    assert!(e.to_string().contains("dns.json"), "{e}");
    // No config yet.
    let e = berth_dns::serve(s, env.config.clone()).unwrap_err();
    assert!(e.to_string().contains("dns.json"), "{e}");
}

#[test]
fn latency_of_a_container_name() {
    let Some(env) = Env::new() else { return };
    let recs: Vec<(Vec<String>, String)> = (0..200)
        .map(|i| {
            (
                vec![format!("c{i}"), format!("alias{i}")],
                format!("172.18.{}.{}", i / 250, i % 250 + 2),
            )
        })
        .collect();
    let records: Vec<(Vec<&str>, Option<&str>, Option<&str>)> = recs
        .iter()
        .map(|(n, ip)| {
            (
                n.iter().map(|s| s.as_str()).collect(),
                Some(ip.as_str()),
                None,
            )
        })
        .collect();
    let records: Vec<(&[&str], Option<&str>, Option<&str>)> =
        records.iter().map(|(n, a, b)| (&n[..], *a, *b)).collect();
    let t1 = env.table("mynet", &records);
    let t2 = env.table("other", &[(&["web"], Some("10.0.0.2"), None)]);
    env.configure(&[t1, t2], &["192.0.2.1".to_string()]);
    env.start();
    let c = env.udp();
    let q = wire::build_query(1, "alias150", wire::TYPE_A).unwrap();
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let t0 = Instant::now();
        c.send(&q);
        let r = c.recv_raw();
        times.push(t0.elapsed());
        assert_eq!(r.len(), q.len() + 16);
    }
    times.sort();
    println!(
        "container-name query latency over 1000 UDP queries (2 tables, 401 names): median {:?}, p99 {:?}, max {:?}",
        times[500], times[990], times[999]
    );
}
