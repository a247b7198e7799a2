//! The json-file writer the per-container monitor uses.
//!
//! It reproduces dockerd 20.10 (`daemon/logger/copier.go`,
//! `jsonfilelog`, `loggerutils/logfile.go`): one JSON object per line,
//! keys `log`, `stream`, `time`; lines longer than the copier's 16 KiB
//! buffer are logged in 16 KiB pieces without `\n` that share the first
//! piece's time; rotation renames `x.log` to `x.log.1` … before the entry
//! that would start on a full file.

use crate::{clock, Stream};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// dockerd's copier buffer: a line that fills it without a newline is
/// logged as a partial entry of exactly this many bytes.
const LINE_BUF: usize = 16 * 1024;

/// Docker's `max-size`/`max-file` log options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the current file holds at least this many bytes
    /// (`max-size`, already converted with go-units' `FromHumanSize`:
    /// `1k` = 1000). `None`: never rotate.
    pub max_size: Option<u64>,
    /// Files kept, the current one included (`max-file`, at least 1).
    pub max_file: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_size: None,
            max_file: 1,
        }
    }
}

/// Writes one container's `<id>-json.log` (and its rotated siblings).
///
/// Every entry goes out in one `write` on an `O_APPEND` descriptor as soon
/// as its line is complete, so a SIGKILLed monitor loses at most the
/// unfinished line it was holding.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    pending: [Pending; 2],
    entry: Vec<u8>,
}

/// The unfinished line of one stream (at most [`LINE_BUF`] bytes).
#[derive(Default)]
struct Pending {
    line: Vec<u8>,
    /// Set while a long line is being logged in pieces: every piece gets
    /// the first piece's time, as in dockerd.
    partial_time: Option<(i64, u32)>,
}

impl LogWriter {
    /// Opens (creating, mode 0640 like dockerd) the log file for appending.
    pub fn open(path: impl AsRef<Path>, rotation: Rotation) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = open_append(&path, false)?;
        let mut size = file.metadata()?.len();
        if size > 0 && is_same_file(&file, &rotated_path(&path, 1))? {
            // The last monitor died in the middle of a rotation: finish it.
            file = replace_current(&path)?;
            size = 0;
        }
        if size > 0 {
            // A monitor killed in the middle of a write leaves a torn last
            // line; end it so that the next entry starts on a line of its
            // own (readers skip the fragment).
            let mut last = [0u8];
            File::open(&path)?.read_exact_at(&mut last, size - 1)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                size += 1;
            }
        }
        Ok(LogWriter {
            path,
            file,
            size,
            rotation,
            pending: Default::default(),
            entry: Vec::with_capacity(256),
        })
    }

    /// Logs what the container wrote to `stream`: one entry per complete
    /// line, stamped `now`; an unfinished line waits for more data (or for
    /// [`flush_partial`](Self::flush_partial)) unless it reaches 16 KiB.
    pub fn write(&mut self, stream: Stream, data: &[u8], now: SystemTime) -> io::Result<()> {
        let now = clock::to_unix(now);
        let mut data = data;
        while !data.is_empty() {
            let pending = &mut self.pending[stream.index()];
            // Never hold more than the copier's buffer: that is where it cuts.
            let room = LINE_BUF - pending.line.len();
            let chunk = &data[..data.len().min(room)];
            if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                pending.line.extend_from_slice(&chunk[..i]);
                data = &data[i + 1..];
                let time = pending.partial_time.take().unwrap_or(now);
                self.emit(stream, true, time)?;
            } else {
                pending.line.extend_from_slice(chunk);
                data = &data[chunk.len()..];
                if pending.line.len() == LINE_BUF {
                    let time = *pending.partial_time.get_or_insert(now);
                    self.emit(stream, false, time)?;
                }
            }
        }
        Ok(())
    }

    /// At EOF of `stream`: logs its unfinished last line, without `\n`, as
    /// dockerd does when a container's output does not end in a newline.
    pub fn flush_partial(&mut self, stream: Stream, now: SystemTime) -> io::Result<()> {
        let pending = &mut self.pending[stream.index()];
        let time = pending.partial_time.take();
        if pending.line.is_empty() {
            return Ok(());
        }
        self.emit(stream, false, time.unwrap_or_else(|| clock::to_unix(now)))
    }

    /// Encodes and appends the pending line of `stream`, which is cleared
    /// even on error (dockerd drops a message it fails to write).
    fn emit(&mut self, stream: Stream, newline: bool, time: (i64, u32)) -> io::Result<()> {
        let pending = &mut self.pending[stream.index()];
        let encoded = encode_entry(&mut self.entry, &pending.line, newline, stream, time);
        pending.line.clear();
        encoded?;
        if self.rotation.max_size.is_some_and(|max| self.size >= max) {
            self.rotate()?;
        }
        self.file.write_all(&self.entry)?;
        self.size += self.entry.len() as u64;
        Ok(())
    }

    /// Docker's rotation: drop `x.log.<max-file - 1>`, shift the others up,
    /// the current file becomes `x.log.1`, a new empty `x.log` follows.
    ///
    /// Unlike dockerd, `x.log` never disappears: `.1` is first made a second
    /// name of the full file and a fresh file then replaces `x.log` in one
    /// rename, so a reader opening `x.log` always finds one. With
    /// `max-file=1` the full file is simply replaced (dockerd 20.10 leaves
    /// it behind as an unused `x.log.1`).
    fn rotate(&mut self) -> io::Result<()> {
        let max_file = self.rotation.max_file.max(1);
        if max_file >= 2 {
            ignore_missing(fs::remove_file(rotated_path(&self.path, max_file - 1)))?;
            for i in (2..max_file).rev() {
                let from = rotated_path(&self.path, i - 1);
                ignore_missing(fs::rename(from, rotated_path(&self.path, i)))?;
            }
            let first = rotated_path(&self.path, 1);
            if fs::hard_link(&self.path, &first).is_err() {
                fs::rename(&self.path, &first)?;
            }
        }
        self.file = replace_current(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Puts a new empty file at `path` in one rename.
fn replace_current(path: &Path) -> io::Result<File> {
    let fresh = suffixed(path, ".new");
    ignore_missing(fs::remove_file(&fresh))?;
    let file = open_append(&fresh, true)?;
    fs::rename(&fresh, path)?;
    Ok(file)
}

fn is_same_file(file: &File, other: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let other = match fs::metadata(other) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let this = file.metadata()?;
    Ok((this.dev(), this.ino()) == (other.dev(), other.ino()))
}

/// `x.log.<n>`: where rotation keeps the n-th older file.
pub(crate) fn rotated_path(path: &Path, n: u32) -> PathBuf {
    suffixed(path, &format!(".{n}"))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn open_append(path: &Path, create_new: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).mode(0o640);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true);
    }
    options.open(path)
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// One json-file line: `{"log":…,"stream":…,"time":…}\n`, as jsonlog's
/// `MarshalJSONBuf` writes it.
fn encode_entry(
    out: &mut Vec<u8>,
    line: &[u8],
    newline: bool,
    stream: Stream,
    (secs, nanos): (i64, u32),
) -> io::Result<()> {
    out.clear();
    if !(0..=9999).contains(&clock::year_of(secs)) {
        // What Go's time.MarshalJSON refuses; dockerd drops the message.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "time.MarshalJSON: year outside of range [0,9999]",
        ));
    }
    out.push(b'{');
    if !line.is_empty() || newline {
        out.extend_from_slice(b"\"log\":\"");
        push_escaped(out, line);
        if newline {
            out.extend_from_slice(b"\\n");
        }
        out.extend_from_slice(b"\",");
    }
    out.extend_from_slice(b"\"stream\":\"");
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    clock::push_rfc3339(out, secs, nanos, false);
    out.extend_from_slice(b"\"}\n");
    Ok(())
}

/// Go's JSON string escaping as jsonlog does it: `"` and `\` escaped, `\n`
/// and `\r` short, other controls and `<`, `>`, `&` as `\u00XX`, U+2028 and
/// U+2029 escaped, and every byte that does not start a valid UTF-8
/// sequence replaced by `\ufffd` (one per byte, as Go's `DecodeRune`).
fn push_escaped(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b < 0x80 {
            if b >= 0x20 && !matches!(b, b'\\' | b'"' | b'<' | b'>' | b'&') {
                i += 1;
                continue;
            }
            out.extend_from_slice(&s[start..i]);
            match b {
                b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]),
            }
            i += 1;
            start = i;
            continue;
        }
        match utf8_len(&s[i..]) {
            None => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(b"\\ufffd");
                i += 1;
                start = i;
            }
            Some(3) if s[i..i + 2] == [0xe2, 0x80] && matches!(s[i + 2], 0xa8 | 0xa9) => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(if s[i + 2] == 0xa8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
            }
            Some(n) => i += n,
        }
    }
    out.extend_from_slice(&s[start..]);
}

/// Length of the valid UTF-8 sequence at the start of `s` (whose first
/// byte is not ASCII), or `None` where Go would decode `RuneError`.
fn utf8_len(s: &[u8]) -> Option<usize> {
    let n = match s[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let seq = s.get(..n)?;
    std::str::from_utf8(seq).is_ok().then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &[u8]) -> String {
        let mut v = Vec::new();
        push_escaped(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escaping_like_go() {
        assert_eq!(escaped(b"a<b>&c"), r"a\u003cb\u003e\u0026c");
        assert_eq!(
            escaped(b"\t\x00\x1f\x7f\"\\"),
            "\\u0009\\u0000\\u001f\x7f\\\"\\\\"
        );
        assert_eq!(
            escaped("\u{2028}x\u{2029}é😀".as_bytes()),
            "\\u2028x\\u2029é😀"
        );
        // Truncated, surrogate, overlong and beyond-U+10FFFF sequences:
        // one U+FFFD per byte.
        assert_eq!(escaped(b"\xe2\x82A"), r"\ufffd\ufffdA");
        assert_eq!(escaped(b"\xed\xa0\x80"), r"\ufffd\ufffd\ufffd");
        assert_eq!(escaped(b"\xc0\x80\xf4\x90\x80\x80"), r"\ufffd".repeat(6));
        assert_eq!(escaped(b"\xe2\x80"), r"\ufffd\ufffd");
    }

    #[test]
    fn year_outside_go_range_is_refused() {
        let mut out = Vec::new();
        let t = (253_402_300_800, 0); // 10000-01-01
        assert!(encode_entry(&mut out, b"x", true, Stream::Stdout, t).is_err());
        encode_entry(&mut out, b"x", true, Stream::Stdout, (0, 0)).unwrap();
        assert_eq!(
            out,
            b"{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"1970-01-01T00:00:00Z\"}\n"
        );
    }
}
