//! Demo: a tiny `dig` for the resolver.
//!
//!     query [--tcp] SERVER NAME [A|AAAA|PTR|MX|ANY|NUMBER]
//!
//! SERVER is `IP` or `IP:PORT` (port 53). For PTR, NAME may be an address.
//! Run it inside a container's namespace: `ip netns exec NAME query ...`.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use berth_dns::wire;

fn qtype(s: &str) -> Option<u16> {
    Some(match s.to_ascii_uppercase().as_str() {
        "A" => wire::TYPE_A,
        "AAAA" => wire::TYPE_AAAA,
        "PTR" => wire::TYPE_PTR,
        "MX" => wire::TYPE_MX,
        "ANY" => wire::TYPE_ANY,
        n => n.parse().ok()?,
    })
}

fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

fn exchange(server: SocketAddr, msg: &[u8], tcp: bool) -> std::io::Result<Vec<u8>> {
    let timeout = Some(Duration::from_secs(6));
    if tcp {
        let mut s = TcpStream::connect(server)?;
        s.set_read_timeout(timeout)?;
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        s.write_all(&framed)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len)?;
        let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut reply)?;
        return Ok(reply);
    }
    let s = UdpSocket::bind(if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })?;
    s.set_read_timeout(timeout)?;
    s.connect(server)?;
    s.send(msg)?;
    let mut buf = vec![0u8; 65535];
    let n = s.recv(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let tcp = args.first().is_some_and(|a| a == "--tcp");
    if tcp {
        args.remove(0);
    }
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: query [--tcp] SERVER NAME [TYPE]");
        return ExitCode::from(2);
    }
    let server = match args[0].parse::<SocketAddr>() {
        Ok(s) => s,
        Err(_) => match args[0].parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, 53),
            Err(e) => {
                eprintln!("query: bad server {}: {e}", args[0]);
                return ExitCode::from(2);
            }
        },
    };
    let Some(t) = qtype(args.get(2).map_or("A", |s| s.as_str())) else {
        eprintln!("query: unknown type");
        return ExitCode::from(2);
    };
    let mut name = args[1].clone();
    if t == wire::TYPE_PTR {
        if let Ok(ip) = name.parse::<IpAddr>() {
            name = reverse_name(ip);
        }
    }
    let id = std::process::id() as u16;
    let Some(msg) = wire::build_query(id, &name, t) else {
        eprintln!("query: bad name {name}");
        return ExitCode::from(2);
    };
    let reply = match exchange(server, &msg, tcp) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("query: {server}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let m = match wire::parse_message(&reply) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("query: unreadable reply ({} bytes): {e}", reply.len());
            return ExitCode::FAILURE;
        }
    };
    let h = m.header;
    let rcode = match h.rcode() {
        wire::RCODE_NOERROR => "NOERROR".to_string(),
        wire::RCODE_FORMERR => "FORMERR".to_string(),
        wire::RCODE_SERVFAIL => "SERVFAIL".to_string(),
        wire::RCODE_NXDOMAIN => "NXDOMAIN".to_string(),
        wire::RCODE_NOTIMP => "NOTIMP".to_string(),
        wire::RCODE_REFUSED => "REFUSED".to_string(),
        n => n.to_string(),
    };
    let mut flags = vec!["qr"];
    flags.extend(h.authoritative().then_some("aa"));
    flags.extend(h.truncated().then_some("tc"));
    flags.extend((h.flags & 0x0100 != 0).then_some("rd"));
    flags.extend(h.recursion_available().then_some("ra"));
    println!(
        ";; {rcode} id {} flags {} answers {} ({} bytes)",
        h.id,
        flags.join(" "),
        m.answers.len(),
        reply.len()
    );
    for a in &m.answers {
        println!("{}\t{}\t{}", a.name, a.ttl, a.data);
    }
    ExitCode::SUCCESS
}
