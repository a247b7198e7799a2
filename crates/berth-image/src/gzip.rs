//! Gzip a stored layer for a push, on every core.
//!
//! dockerd and BuildKit send layers gzipped; berth keeps the layers it
//! builds uncompressed (so builds and `run` never pay for compression) and
//! compresses only when a layer leaves for a registry. The blob is split
//! into fixed chunks, each deflated on its own and ended with a sync
//! flush; joined, they are one ordinary single-member gzip stream. The
//! chunking is fixed, so the same layer always gives the same bytes and
//! digest, whatever the number of threads.

use std::io::{Read, Write};
use std::path::Path;

use berth_store::{blobs, Digest, Layout};

use crate::{Error, Result};

/// Chunk size: large enough that losing the dictionary at each boundary
/// costs nothing measurable, small enough to keep every core busy.
const CHUNK: usize = 1 << 20;
/// zlib's default level, as Go's gzip writer (dockerd, BuildKit) uses.
const LEVEL: u32 = 6;

/// The gzip header dockerd writes: no name, no mtime, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Gzip the stored blob `blob` into the content store; returns the new
/// blob's digest and size. `scratch_dir` is on the store's filesystem.
pub fn gzip_blob(layout: &Layout, scratch_dir: &Path, blob: &Digest) -> Result<(Digest, u64)> {
    let path = layout.blob(blob);
    let io = |op: &'static str, e: std::io::Error| Error::io(op, path.display(), e);
    let mut src = blobs::open(layout, blob)?;
    let len = src.metadata().map_err(|e| io("stat", e))?.len();
    let chunks = len.div_ceil(CHUNK as u64).max(1);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let mut out = blobs::Ingest::new(scratch_dir)?;
    let wio = |e: std::io::Error| Error::io("write", scratch_dir.display(), e);
    out.write_all(&HEADER).map_err(wio)?;
    let mut crc = crc32fast::Hasher::new();
    let mut next = 0u64;
    // The previous batch's output is written while this one compresses.
    let mut pending: Vec<Vec<u8>> = Vec::new();
    while next < chunks || !pending.is_empty() {
        let mut batch = Vec::new();
        while next < chunks && batch.len() < threads {
            let mut buf = Vec::with_capacity(CHUNK);
            (&mut src)
                .take(CHUNK as u64)
                .read_to_end(&mut buf)
                .map_err(|e| io("read", e))?;
            crc.update(&buf);
            next += 1;
            batch.push((buf, next == chunks));
        }
        let done = std::thread::scope(|s| {
            let workers: Vec<_> = batch
                .iter()
                .map(|(data, last)| s.spawn(move || deflate_chunk(data, *last)))
                .collect();
            for p in pending.drain(..) {
                out.write_all(&p)?;
            }
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("gzip worker panicked")))
                })
                .collect::<std::io::Result<Vec<Vec<u8>>>>()
        })
        .map_err(wio)?;
        pending = done;
    }
    let mut trailer = [0u8; 8];
    trailer[..4].copy_from_slice(&crc.finalize().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952).
    trailer[4..].copy_from_slice(&((len & 0xffff_ffff) as u32).to_le_bytes());
    out.write_all(&trailer).map_err(wio)?;
    let ingested = out.finish()?;
    let size = ingested.size;
    let digest = ingested.commit(layout, None)?;
    Ok((digest, size))
}

/// One chunk as raw deflate: byte-aligned and not final (a sync flush)
/// unless it is the last, so the pieces join into one stream.
/// Data that does not compress (already compressed files) is stored as
/// is: searching it for matches at `LEVEL` costs as much as all the rest
/// of a typical layer. A quick pass over its start decides.
fn deflate_chunk(data: &[u8], last: bool) -> std::io::Result<Vec<u8>> {
    let level = if compresses(data)? { LEVEL } else { 0 };
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::new(level),
    );
    e.write_all(data)?;
    if last {
        e.finish()
    } else {
        e.flush()?;
        Ok(std::mem::take(e.get_mut()))
    }
}

/// Whether the chunk's first 64 KiB shrink by at least 2% at the fastest
/// level.
fn compresses(data: &[u8]) -> std::io::Result<bool> {
    let sample = &data[..data.len().min(64 * 1024)];
    if sample.len() < 4096 {
        return Ok(true);
    }
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(sample.len() + 64),
        flate2::Compression::new(1),
    );
    e.write_all(sample)?;
    let n = e.finish()?.len();
    Ok(n * 50 < sample.len() * 49)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn gunzip(b: &[u8]) -> Vec<u8> {
        // A single-member decoder: the output must be one gzip member.
        let mut d = flate2::read::GzDecoder::new(b);
        let mut v = Vec::new();
        d.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path().join("root"), d.path().join("run"));
        layout.init().unwrap();
        let scratch = d.path().join("root/tmp-gz");
        std::fs::create_dir_all(&scratch).unwrap();
        // Empty, one partial chunk, exactly two chunks, and some more.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..CHUNK + CHUNK / 2)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for n in [0usize, 1000, 2 * CHUNK, 3 * CHUNK + 17, 1] {
            let mut data: Vec<u8> = (0..n)
                .map(|i| (i * 7 % 251) as u8 ^ (i >> 13) as u8)
                .collect();
            if n == 1 {
                // Incompressible chunks are stored, between compressed ones.
                data = [&data[..], &noise, &data[..], &noise[..CHUNK / 3]].concat();
            }
            let src = blobs::put_bytes(&layout, &data).unwrap();
            let (gz, size) = gzip_blob(&layout, &scratch, &src).unwrap();
            let bytes = blobs::read(&layout, &gz).unwrap();
            assert_eq!(bytes.len() as u64, size);
            assert_eq!(gunzip(&bytes), data, "n={n}");
            blobs::delete(&layout, &gz).unwrap();
            let (again, _) = gzip_blob(&layout, &scratch, &src).unwrap();
            assert_eq!(again, gz, "n={n}: the same layer gives the same digest");
        }
    }
}
