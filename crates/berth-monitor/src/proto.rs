//! The attach protocol between a `berth` client and a container's monitor,
//! over a unix stream socket: frames of `kind: u8, len: u32 BE, payload`.

use std::io::{self, Write};

/// Client -> monitor: bytes for the container's stdin.
pub const STDIN: u8 = 0;
/// Monitor -> client: container output.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Monitor -> client: the container exited; payload is the exit code (i32 BE).
pub const EXIT: u8 = 3;
/// Client -> monitor: close the container's stdin.
pub const STDIN_CLOSE: u8 = 4;
/// Client -> monitor: terminal size, rows and cols (u16 BE each).
pub const RESIZE: u8 = 5;

const HEADER: usize = 5;

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + payload.len());
    push_frame(&mut v, kind, payload);
    v
}

pub fn push_frame(buf: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    buf.push(kind);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode(kind, payload))
}

/// Reassembles frames from arbitrary reads.
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < HEADER {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if self.buf.len() < HEADER + len {
            return None;
        }
        let kind = self.buf[0];
        let payload = self.buf[HEADER..HEADER + len].to_vec();
        self.buf.drain(..HEADER + len);
        Some((kind, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let mut all = Vec::new();
        push_frame(&mut all, STDOUT, b"hello");
        push_frame(&mut all, EXIT, &7i32.to_be_bytes());
        push_frame(&mut all, STDERR, b"");
        for cut in 0..all.len() {
            let mut r = FrameReader::default();
            r.push(&all[..cut]);
            let mut got = Vec::new();
            while let Some(f) = r.next_frame() {
                got.push(f);
            }
            r.push(&all[cut..]);
            while let Some(f) = r.next_frame() {
                got.push(f);
            }
            assert_eq!(
                got,
                vec![
                    (STDOUT, b"hello".to_vec()),
                    (EXIT, 7i32.to_be_bytes().to_vec()),
                    (STDERR, vec![])
                ]
            );
        }
    }
}
