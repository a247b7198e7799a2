//! Recognise a stream's compression by its magic bytes, as Docker's
//! `DecompressStream` does, and undo it.

use std::io::{self, BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b, 0x08]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    /// The OCI media type of a layer blob in this compression.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            _ => "application/vnd.oci.image.layer.v1.tar",
        }
    }
}

/// Peek at the first bytes of `r` and wrap it in the matching decoder.
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br.fill_buf()?;
    let c = Compression::detect(head);
    let out: Box<dyn Read + 'a> = match c {
        Compression::None => Box::new(br),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(br)),
        Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(br)),
    };
    Ok((c, out))
}

/// A reader that hashes what passes through it: how a layer's diff ID is
/// computed while it is being unpacked.
pub struct HashReader<R> {
    inner: R,
    hasher: sha2::Sha256,
    size: u64,
}

impl<R: Read> HashReader<R> {
    pub fn new(inner: R) -> Self {
        use sha2::Digest as _;
        HashReader {
            inner,
            hasher: sha2::Sha256::new(),
            size: 0,
        }
    }
    pub fn finish(self) -> (berth_store::Digest, u64) {
        use sha2::Digest as _;
        let hex = hex::encode(self.hasher.finalize());
        // A sha256 in lower-case hex always parses.
        let d =
            berth_store::Digest::from_hex(&hex).unwrap_or_else(|_| berth_store::Digest::of(b""));
        (d, self.size)
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
