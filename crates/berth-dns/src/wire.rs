//! The DNS wire format (RFC 1035), only as much as the resolver needs:
//! the header, one question, and A/AAAA/PTR answers. Names are read with
//! compression pointers (a query or an upstream reply may use them) but
//! written uncompressed, except answer owner names, which always point at
//! the question (offset 12). Every read is bounds-checked: a hostile
//! packet yields an error, never a panic.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;
pub const CLASS_ANY: u16 = 255;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;
pub const RCODE_REFUSED: u8 = 5;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;
/// The classic UDP payload limit (RFC 1035 4.2.1); EDNS is not offered.
pub const UDP_MAX: usize = 512;
/// Docker's embedded DNS answers with this TTL (libnetwork `respTTL`).
pub const TTL: u32 = 600;

const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_RA: u16 = 0x0080;
/// A compression pointer to the question's name, which always starts
/// right after the header.
const PTR_TO_QUESTION: [u8; 2] = [0xc0, HEADER_LEN as u8];
const MAX_NAME_WIRE: usize = 255;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub &'static str);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for WireError {}

type Result<T> = std::result::Result<T, WireError>;

fn be16(msg: &[u8], at: usize) -> Result<u16> {
    match msg.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(WireError("message truncated")),
    }
}

fn be32(msg: &[u8], at: usize) -> Result<u32> {
    match msg.get(at..at + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(WireError("message truncated")),
    }
}

/// The fixed 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(msg: &[u8]) -> Result<Header> {
        if msg.len() < HEADER_LEN {
            return Err(WireError("shorter than a header"));
        }
        Ok(Header {
            id: be16(msg, 0)?,
            flags: be16(msg, 2)?,
            qdcount: be16(msg, 4)?,
            ancount: be16(msg, 6)?,
            nscount: be16(msg, 8)?,
            arcount: be16(msg, 10)?,
        })
    }

    /// Whether this is a response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    pub fn truncated(&self) -> bool {
        self.flags & FLAG_TC != 0
    }

    pub fn authoritative(&self) -> bool {
        self.flags & FLAG_AA != 0
    }

    pub fn recursion_available(&self) -> bool {
        self.flags & FLAG_RA != 0
    }
}

/// A domain name as its labels, bytes kept as received (case included).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Name(pub Vec<Vec<u8>>);

impl Name {
    /// Parses dotted text; a trailing dot is optional, `.` and `` are the
    /// root. None for an empty label or one over 63 bytes, or a name over
    /// 255 bytes on the wire.
    pub fn from_text(text: &str) -> Option<Name> {
        let t = text.strip_suffix('.').unwrap_or(text);
        if t.is_empty() {
            return Some(Name::default());
        }
        let mut labels = Vec::new();
        let mut wire = 1;
        for l in t.split('.') {
            if l.is_empty() || l.len() > 63 {
                return None;
            }
            wire += 1 + l.len();
            labels.push(l.as_bytes().to_vec());
        }
        (wire <= MAX_NAME_WIRE).then_some(Name(labels))
    }

    /// The name as lower-case dotted text without the trailing dot, the
    /// form the tables are keyed by. None when a label holds a dot or a
    /// byte outside printable ASCII: such a name matches no container.
    pub fn key(&self) -> Option<String> {
        let mut s = String::new();
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            for &b in l {
                if b == b'.' || !(0x21..0x7f).contains(&b) {
                    return None;
                }
                s.push(b.to_ascii_lowercase() as char);
            }
        }
        Some(s)
    }

    fn write(&self, out: &mut Vec<u8>) {
        for l in &self.0 {
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
    }

    fn eq_ignore_case(&self, other: &Name) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl fmt::Display for Name {
    /// Dotted text with a trailing dot; unusual bytes escaped as `\DDD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for l in &self.0 {
            for &b in l {
                if b == b'.' || b == b'\\' {
                    write!(f, "\\{}", b as char)?;
                } else if (0x21..0x7f).contains(&b) {
                    write!(f, "{}", b as char)?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// Reads the name at `at`, following compression pointers (each must
/// point before itself, so there are no loops). Returns the name and the
/// offset just past it where it started (not where a pointer led).
pub fn read_name(msg: &[u8], at: usize) -> Result<(Name, usize)> {
    let mut labels = Vec::new();
    let mut pos = at;
    let mut end = None;
    let mut wire = 1;
    loop {
        let len = *msg.get(pos).ok_or(WireError("name truncated"))?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((Name(labels), end.unwrap_or(pos + 1)));
                }
                let l = len as usize;
                let label = msg
                    .get(pos + 1..pos + 1 + l)
                    .ok_or(WireError("label truncated"))?;
                wire += 1 + l;
                if wire > MAX_NAME_WIRE {
                    return Err(WireError("name longer than 255 bytes"));
                }
                labels.push(label.to_vec());
                pos += 1 + l;
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(WireError("pointer truncated"))?;
                let target = (((len & 0x3f) as usize) << 8) | lo as usize;
                if target >= pos {
                    return Err(WireError("compression pointer does not point back"));
                }
                if end.is_none() {
                    end = Some(pos + 2);
                }
                pos = target;
            }
            _ => return Err(WireError("unknown label type")),
        }
    }
}

/// The question of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

impl Question {
    fn read(msg: &[u8], at: usize) -> Result<(Question, usize)> {
        let (name, pos) = read_name(msg, at)?;
        let qtype = be16(msg, pos)?;
        let qclass = be16(msg, pos + 2)?;
        Ok((
            Question {
                name,
                qtype,
                qclass,
            },
            pos + 4,
        ))
    }

    /// Same name (ignoring case), type and class.
    pub fn same(&self, other: &Question) -> bool {
        self.qtype == other.qtype
            && self.qclass == other.qclass
            && self.name.eq_ignore_case(&other.name)
    }
}

/// The first question of a message, if it has one that reads.
pub fn first_question(msg: &[u8]) -> Option<Question> {
    let h = Header::parse(msg).ok()?;
    if h.qdcount == 0 {
        return None;
    }
    Question::read(msg, HEADER_LEN).ok().map(|(q, _)| q)
}

/// A query with exactly one question, as the resolver accepts it.
#[derive(Debug, Clone)]
pub struct Query {
    pub header: Header,
    pub question: Question,
}

/// What to do with a message that is not a usable query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Not worth an answer: too short to echo an ID, or itself a response.
    Drop,
    /// Answer with this header-only reply (FORMERR or NOTIMP).
    Reply(Vec<u8>),
}

/// Parses a query. Additional records (an EDNS OPT) are ignored.
pub fn parse_query(msg: &[u8]) -> std::result::Result<Query, Reject> {
    let header = Header::parse(msg).map_err(|_| Reject::Drop)?;
    if header.is_response() {
        return Err(Reject::Drop);
    }
    if header.opcode() != 0 {
        return Err(Reject::Reply(bare_reply(&header, RCODE_NOTIMP)));
    }
    if header.qdcount != 1 {
        return Err(Reject::Reply(bare_reply(&header, RCODE_FORMERR)));
    }
    match Question::read(msg, HEADER_LEN) {
        Ok((question, _)) => Ok(Query { header, question }),
        Err(_) => Err(Reject::Reply(bare_reply(&header, RCODE_FORMERR))),
    }
}

/// Reply flags for a query's header: QR, the opcode and RD echoed, RA set
/// (as Docker's resolver sets it), the rcode.
fn reply_flags(query: &Header, rcode: u8) -> u16 {
    FLAG_QR | (query.flags & (0x7800 | FLAG_RD)) | FLAG_RA | (rcode as u16 & 0xf)
}

/// A header-only reply (no question), for queries that cannot be read.
fn bare_reply(query: &Header, rcode: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&reply_flags(query, rcode).to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    out
}

/// The data of one answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ptr(Name),
    /// Any other type, undecoded.
    Other(u16, Vec<u8>),
}

impl RData {
    fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Aaaa(_) => TYPE_AAAA,
            RData::Ptr(_) => TYPE_PTR,
            RData::Other(t, _) => *t,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        match self {
            RData::A(ip) => out.extend_from_slice(&ip.octets()),
            RData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
            RData::Ptr(name) => name.write(out),
            RData::Other(_, data) => out.extend_from_slice(data),
        }
        let len = (out.len() - start - 2) as u16;
        out[start..start + 2].copy_from_slice(&len.to_be_bytes());
    }
}

impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(ip) => write!(f, "A {ip}"),
            RData::Aaaa(ip) => write!(f, "AAAA {ip}"),
            RData::Ptr(n) => write!(f, "PTR {n}"),
            RData::Other(t, d) => write!(f, "TYPE{t} ({} bytes)", d.len()),
        }
    }
}

/// Builds the reply to `query`: the question echoed, then `answers`
/// (owner name = the question's name, class IN, [`TTL`]). Answers that
/// would take the message over `max` bytes are left out and TC is set.
pub fn build_reply(query: &Query, rcode: u8, answers: &[RData], max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&query.header.id.to_be_bytes());
    out.extend_from_slice(&reply_flags(&query.header, rcode).to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    query.question.name.write(&mut out);
    out.extend_from_slice(&query.question.qtype.to_be_bytes());
    out.extend_from_slice(&query.question.qclass.to_be_bytes());
    if out.len() > max {
        // Cannot happen for a name of at most 255 bytes and max >= 512.
        let mut tc = bare_reply(&query.header, rcode);
        tc[2] |= (FLAG_TC >> 8) as u8;
        return tc;
    }
    let mut count: u16 = 0;
    let mut rr = Vec::with_capacity(64);
    for a in answers {
        rr.clear();
        rr.extend_from_slice(&PTR_TO_QUESTION);
        rr.extend_from_slice(&a.rtype().to_be_bytes());
        rr.extend_from_slice(&CLASS_IN.to_be_bytes());
        rr.extend_from_slice(&TTL.to_be_bytes());
        a.write(&mut rr);
        if out.len() + rr.len() > max || count == u16::MAX {
            out[2] |= (FLAG_TC >> 8) as u8;
            break;
        }
        out.extend_from_slice(&rr);
        count += 1;
    }
    out[6..8].copy_from_slice(&count.to_be_bytes());
    out
}

/// A reply with no answers and the given rcode.
pub fn error_reply(query: &Query, rcode: u8) -> Vec<u8> {
    build_reply(query, rcode, &[], usize::MAX)
}

/// Builds a query for `name` (dotted text) with RD set, as a stub
/// resolver sends it. None for a malformed name.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let name = Name::from_text(name)?;
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&FLAG_RD.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    name.write(&mut out);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Some(out)
}

/// One resource record of a parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub class: u16,
    pub ttl: u32,
    pub data: RData,
}

/// A whole message as a client reads it: header, questions, answers
/// (authority and additional records are not decoded).
#[derive(Debug, Clone)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
}

/// Parses a message (a reply, usually).
pub fn parse_message(msg: &[u8]) -> Result<Message> {
    let header = Header::parse(msg)?;
    let mut pos = HEADER_LEN;
    let mut questions = Vec::new();
    for _ in 0..header.qdcount {
        let (q, next) = Question::read(msg, pos)?;
        questions.push(q);
        pos = next;
    }
    let mut answers = Vec::new();
    for _ in 0..header.ancount {
        let (name, p) = read_name(msg, pos)?;
        let rtype = be16(msg, p)?;
        let class = be16(msg, p + 2)?;
        let ttl = be32(msg, p + 4)?;
        let rdlen = be16(msg, p + 8)? as usize;
        let rd_at = p + 10;
        let rdata = msg
            .get(rd_at..rd_at + rdlen)
            .ok_or(WireError("record data truncated"))?;
        let data = match (rtype, rdlen) {
            (TYPE_A, 4) => RData::A(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
            (TYPE_AAAA, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(rdata);
                RData::Aaaa(Ipv6Addr::from(o))
            }
            (TYPE_PTR, _) => RData::Ptr(read_name(msg, rd_at)?.0),
            _ => RData::Other(rtype, rdata.to_vec()),
        };
        answers.push(Record {
            name,
            class,
            ttl,
            data,
        });
        pos = rd_at + rdlen;
    }
    Ok(Message {
        header,
        questions,
        answers,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trip_and_reply() {
        let q = build_query(0x1234, "Web.MyNet.", TYPE_A).unwrap();
        assert_eq!(q, build_query(0x1234, "Web.MyNet", TYPE_A).unwrap());
        let query = parse_query(&q).unwrap();
        assert_eq!(query.question.name.key().unwrap(), "web.mynet");
        let ips = [
            RData::A(Ipv4Addr::new(10, 0, 0, 2)),
            RData::A(Ipv4Addr::new(10, 0, 0, 3)),
        ];
        let r = build_reply(&query, RCODE_NOERROR, &ips, UDP_MAX);
        let m = parse_message(&r).unwrap();
        assert_eq!(m.header.id, 0x1234);
        assert!(m.header.is_response() && m.header.recursion_available());
        assert!(!m.header.truncated());
        assert_eq!(m.questions[0].name.to_string(), "Web.MyNet.");
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[1].data, ips[1]);
        assert_eq!(m.answers[0].ttl, TTL);
        assert_eq!(m.answers[0].name.to_string(), "Web.MyNet.");
    }

    #[test]
    fn truncates_to_the_limit() {
        let q = parse_query(&build_query(1, "many", TYPE_A).unwrap()).unwrap();
        let ips: Vec<_> = (0..100)
            .map(|i| RData::A(Ipv4Addr::new(10, 0, 1, i)))
            .collect();
        let r = build_reply(&q, RCODE_NOERROR, &ips, UDP_MAX);
        assert!(r.len() <= UDP_MAX);
        let m = parse_message(&r).unwrap();
        assert!(m.header.truncated());
        assert_eq!(m.answers.len(), (UDP_MAX - 12 - 10) / 16);
        let r = build_reply(&q, RCODE_NOERROR, &ips, 65535);
        assert_eq!(parse_message(&r).unwrap().answers.len(), 100);
    }

    #[test]
    fn compression_pointers_are_followed_but_never_loop() {
        // Question "a.example." then a pointer-based name "b" + ptr to 14.
        let mut m = build_query(7, "a.example", TYPE_A).unwrap();
        let at = m.len();
        m.extend_from_slice(&[1, b'b', 0xc0, 14]);
        let (n, end) = read_name(&m, at).unwrap();
        assert_eq!(n.to_string(), "b.example.");
        assert_eq!(end, at + 4);
        // A pointer to itself, and one pointing forward.
        let mut bad = m.clone();
        bad.extend_from_slice(&[0xc0, (m.len()) as u8]);
        assert!(read_name(&bad, m.len()).is_err());
        let mut fwd = m.clone();
        fwd.extend_from_slice(&[0xc0, (m.len() + 2) as u8, 0]);
        assert!(read_name(&fwd, m.len()).is_err());
        // Reserved label types, truncation, over-long names.
        assert!(read_name(&[0x40], 0).is_err());
        assert!(read_name(&[5, b'a'], 0).is_err());
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
        }
        long.push(0);
        assert!(read_name(&long, 0).is_err());
    }

    #[test]
    fn rejects() {
        assert_eq!(parse_query(&[1, 2, 3]).unwrap_err(), Reject::Drop);
        let mut resp = build_query(9, "x", TYPE_A).unwrap();
        resp[2] |= 0x80;
        assert_eq!(parse_query(&resp).unwrap_err(), Reject::Drop);
        let mut two = build_query(9, "x", TYPE_A).unwrap();
        two[5] = 2;
        let Reject::Reply(r) = parse_query(&two).unwrap_err() else {
            panic!("expected a reply")
        };
        let h = Header::parse(&r).unwrap();
        assert_eq!((h.id, h.rcode(), h.qdcount), (9, RCODE_FORMERR, 0));
        let mut notify = build_query(9, "x", TYPE_A).unwrap();
        notify[2] |= 4 << 3;
        let Reject::Reply(r) = parse_query(&notify).unwrap_err() else {
            panic!("expected a reply")
        };
        assert_eq!(Header::parse(&r).unwrap().rcode(), RCODE_NOTIMP);
    }

    #[test]
    fn keys_and_display() {
        assert_eq!(Name::from_text(".").unwrap(), Name::default());
        assert!(Name::from_text("a..b").is_none());
        assert!(Name::from_text(&"x".repeat(64)).is_none());
        let odd = Name(vec![b"a.b".to_vec(), b"c".to_vec()]);
        assert_eq!(odd.key(), None);
        assert_eq!(odd.to_string(), "a\\.b.c.");
    }
}
