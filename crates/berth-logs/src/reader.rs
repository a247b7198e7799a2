//! Reading json-file logs for `berth logs`, with docker 20.10's rules for
//! `--tail`, `--since`, `--until`, `--timestamps` and `--follow`.

use crate::writer::rotated_path;
use crate::{clock, gotime, Stream};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::OwnedFd;
use rustix::fs::inotify;
use serde::Deserialize;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long a follower sleeps between checks when nothing happens (inotify
/// wakes it earlier on writes; without inotify this is the poll interval).
const IDLE: Duration = Duration::from_millis(100);

/// What to read; docker's `logs` flags.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Only the last N entries (counted over all files, before the other
    /// filters, as docker does); `None` is `--tail all`.
    pub tail: Option<usize>,
    /// Entries at or after this time.
    pub since: Option<SystemTime>,
    /// Entries at or before this time; reading ends at the first later one.
    pub until: Option<SystemTime>,
    /// Prefix each entry with [`format_timestamp`] and a space.
    pub timestamps: bool,
    /// Keep reading what the monitor appends until `stop` says so.
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            tail: None,
            since: None,
            until: None,
            timestamps: false,
            follow: false,
            stdout: true,
            stderr: true,
        }
    }
}

/// One log entry: a line (or a piece of a long one) as the container
/// wrote it, with the timestamp prefix when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub stream: Stream,
    pub time: SystemTime,
    pub bytes: Vec<u8>,
}

/// Sends the entries of the log at `path` (`<id>-json.log`, after its
/// rotated `.N` files, oldest first) to `sink`, in file order.
///
/// With `follow`, keeps reading as the monitor appends (through rotations)
/// until `stop()` returns true, checked whenever there is nothing to read;
/// what was written before that is still delivered. A torn last line (no
/// `\n`, from a monitor killed mid-write) is skipped, as is any line that
/// is not a json-file entry. An error from `sink` ends reading and is
/// returned.
pub fn read(
    path: &Path,
    opts: &ReadOptions,
    stop: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(Entry) -> io::Result<()>,
) -> io::Result<()> {
    if !opts.stdout && !opts.stderr {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "You must choose at least one stream",
        ));
    }
    let mut out = Filter {
        opts,
        since: opts.since.map(clock::to_unix),
        until: opts.until.map(clock::to_unix),
        sink,
    };
    let (mut files, current) = open_all(path)?;
    let current_id = current.as_ref().map(|(_, id)| *id);
    files.extend(current.map(|(f, _)| f));

    // Each file's complete lines end after its last '\n'; --tail walks
    // back from the newest file's end.
    let mut ranges = Vec::with_capacity(files.len());
    let mut wanted = opts.tail;
    for file in files.iter().rev() {
        let (start, end, lines) = last_lines(file, wanted)?;
        wanted = wanted.map(|w| w - lines);
        ranges.push((start, end));
    }
    ranges.reverse();
    for (file, &(start, end)) in files.iter().zip(&ranges) {
        if out.range(file, start, end)? == Flow::Stop {
            return Ok(());
        }
    }
    if !opts.follow {
        return Ok(());
    }
    let pos = match (&current_id, ranges.last()) {
        (Some(_), Some(&(_, end))) => end,
        _ => 0,
    };
    let current = current_id.and_then(|id| files.pop().map(|f| (f, id)));
    follow(path, current, pos, &mut out, stop)
}

/// `logs -t`: Go's `RFC3339NanoFixed` in UTC, always nine fraction digits
/// (docker prints it followed by a space).
pub fn format_timestamp(t: SystemTime) -> String {
    let (secs, nanos) = clock::to_unix(t);
    let mut out = Vec::with_capacity(30);
    clock::push_rfc3339(&mut out, secs, nanos, true);
    String::from_utf8_lossy(&out).into_owned()
}

/// A `--since`/`--until` value docker refuses; the message is docker's.
/// (`docker logs` prints it after `invalid value for "since": `.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeArgError(String);

impl fmt::Display for TimeArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimeArgError {}

/// A `--since`/`--until` value by docker's rules (the client's
/// `timetypes.GetTimestamp`, then the daemon's `ParseTimestamps`): a Go
/// duration before `now` (whole seconds), an RFC 3339 date or time with or
/// without fraction and zone (without a zone: local time at `now`'s
/// offset), or Unix seconds with an optional fraction.
///
/// The caller keeps docker's two special cases: an empty value means no
/// bound, and `--until 0` means no bound (while `--since 0` is the epoch).
pub fn parse_time_arg(value: &str, now: SystemTime) -> Result<SystemTime, TimeArgError> {
    let bad = || {
        TimeArgError(format!(
            "failed to parse value as time or duration: {}",
            gotime::go_quote(value)
        ))
    };
    let (now_secs, now_nanos) = clock::to_unix(now);
    if value != "0" {
        if let Some(d) = gotime::parse_duration(value) {
            let t = i128::from(now_secs) * 1_000_000_000 + i128::from(now_nanos) - i128::from(d);
            let secs = i64::try_from(t.div_euclid(1_000_000_000)).map_err(|_| bad())?;
            return clock::from_unix(secs, 0).ok_or_else(bad);
        }
    }
    let has_zone = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    let layout = if value.contains('.') {
        if has_zone {
            &gotime::RFC3339_NANO
        } else {
            &gotime::RFC3339_NANO_LOCAL
        }
    } else if value.contains('T') {
        let mut colons = value.matches(':').count();
        if has_zone && !value.contains(['z', 'Z']) && colons > 0 {
            colons -= 1; // the zone offset's own colon
        }
        match (has_zone, colons) {
            (false, 0) => &gotime::HOUR_LOCAL,
            (false, 1) => &gotime::MINUTE_LOCAL,
            (false, _) => &gotime::RFC3339_LOCAL,
            (true, 0) => &gotime::HOUR_ZONE,
            (true, 1) => &gotime::MINUTE_ZONE,
            (true, _) => &gotime::RFC3339,
        }
    } else if has_zone {
        &gotime::DATE_WITH_ZONE
    } else {
        &gotime::DATE_LOCAL
    };
    match gotime::parse(layout, value, local_offset(now_secs)) {
        Ok((secs, nanos)) => clock::from_unix(secs, nanos).ok_or_else(bad),
        // With a '-' it was meant as a date: docker reports Go's error.
        Err(e) if value.contains('-') => Err(TimeArgError(e.to_string())),
        Err(_) => unix_timestamp(value).ok_or_else(bad),
    }
}

/// The local zone's offset from UTC at `secs`, in seconds.
pub(crate) fn local_offset(secs: i64) -> i64 {
    use chrono::{Local, Offset, TimeZone};
    match Local.timestamp_opt(secs, 0) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            i64::from(t.offset().fix().local_minus_utc())
        }
        chrono::LocalResult::None => 0,
    }
}

/// The daemon's `timetypes.ParseTimestamps`: `<seconds>[.<fraction>]`,
/// each part a Go `ParseInt`; the fraction is scaled to nanoseconds with
/// Go's float arithmetic.
fn unix_timestamp(value: &str) -> Option<SystemTime> {
    let (secs, frac) = match value.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (value, None),
    };
    let secs = go_parse_int(secs)?;
    let nanos = match frac {
        None => 0,
        Some(f) => {
            let n = go_parse_int(f)? as f64;
            let k = 9 - i32::try_from(f.len()).ok()?;
            let scaled = if k >= 0 {
                n * 10f64.powi(k)
            } else {
                n * (1.0 / 10f64.powi(-k))
            };
            scaled as i64
        }
    };
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    let secs = i64::try_from(total.div_euclid(1_000_000_000)).ok()?;
    clock::from_unix(secs, u32::try_from(total.rem_euclid(1_000_000_000)).ok()?)
}

/// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, ASCII digits only.
fn go_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Applies since/until/stream and the timestamp prefix, then hands over.
struct Filter<'a> {
    opts: &'a ReadOptions,
    since: Option<(i64, u32)>,
    until: Option<(i64, u32)>,
    sink: &'a mut dyn FnMut(Entry) -> io::Result<()>,
}

/// A json-file line; other keys (`attrs`) are ignored.
#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    log: String,
    #[serde(default)]
    stream: String,
    time: String,
}

impl Filter<'_> {
    fn line(&mut self, raw: &[u8]) -> io::Result<Flow> {
        let Ok(line) = serde_json::from_slice::<Line>(raw) else {
            return Ok(Flow::Continue);
        };
        let Ok(time) = gotime::parse(&gotime::RFC3339, &line.time, 0) else {
            return Ok(Flow::Continue);
        };
        if self.since.is_some_and(|since| time < since) {
            return Ok(Flow::Continue);
        }
        if self.until.is_some_and(|until| time > until) {
            return Ok(Flow::Stop);
        }
        let stream = match line.stream.as_str() {
            "stdout" if self.opts.stdout => Stream::Stdout,
            "stderr" if self.opts.stderr => Stream::Stderr,
            _ => return Ok(Flow::Continue),
        };
        let Some(at) = clock::from_unix(time.0, time.1) else {
            return Ok(Flow::Continue);
        };
        let bytes = if self.opts.timestamps {
            let mut b = Vec::with_capacity(31 + line.log.len());
            clock::push_rfc3339(&mut b, time.0, time.1, true);
            b.push(b' ');
            b.extend_from_slice(line.log.as_bytes());
            b
        } else {
            line.log.into_bytes()
        };
        (self.sink)(Entry {
            stream,
            time: at,
            bytes,
        })?;
        Ok(Flow::Continue)
    }

    /// Every complete line in `start..end` of `file`.
    fn range(&mut self, file: &File, start: u64, end: u64) -> io::Result<Flow> {
        let mut lines = BufReader::with_capacity(
            64 * 1024,
            At {
                file,
                pos: start,
                end,
            },
        );
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if lines.read_until(b'\n', &mut buf)? == 0 {
                return Ok(Flow::Continue);
            }
            if self.line(&buf)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
    }

    fn until_passed(&self) -> bool {
        self.until
            .is_some_and(|until| clock::to_unix(SystemTime::now()) > until)
    }
}

/// A `Read` over `pos..end` of a file, positioned reads only.
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let n = buf.len().min(left);
        let n = self.file.read_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

type FileId = (u64, u64);

fn file_id(m: &fs::Metadata) -> FileId {
    (m.dev(), m.ino())
}

/// Opens the rotated files (oldest first) and the current one as one
/// consistent set: if `x.log` was replaced while they were being opened,
/// it starts over. A rotated name for the current file (a rotation half
/// done) is not a file of its own.
#[allow(clippy::type_complexity)]
fn open_all(path: &Path) -> io::Result<(Vec<File>, Option<(File, FileId)>)> {
    for _ in 0..50 {
        let current = match File::open(path) {
            Ok(f) => {
                let id = file_id(&f.metadata()?);
                Some((f, id))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        // Numbers from the directory, not "until the first gap": a rotation
        // in progress may briefly leave one missing.
        let mut numbers = rotated_numbers(path)?;
        numbers.sort_unstable_by(|a, b| b.cmp(a));
        let current_id = current.as_ref().map(|(_, id)| *id);
        let mut rotated = Vec::new();
        for n in numbers {
            match File::open(rotated_path(path, n)) {
                Ok(f) if Some(file_id(&f.metadata()?)) == current_id => {}
                Ok(f) => rotated.push(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let now_id = match fs::metadata(path) {
            Ok(m) => Some(file_id(&m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if now_id == current_id {
            return Ok((rotated, current));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(io::Error::other(
        "the log files kept rotating while being opened",
    ))
}

/// The `N` of every `x.log.N` next to `x.log`.
fn rotated_numbers(path: &Path) -> io::Result<Vec<u32>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str().and_then(|s| s.strip_prefix(&prefix)) else {
            continue;
        };
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0') {
            if let Ok(n) = n.parse() {
                numbers.push(n);
            }
        }
    }
    Ok(numbers)
}

/// Where the complete lines of `file` end (after its last `\n`) and where
/// the last `want` of them start (`None`: all), with how many lines that
/// is, found by reading backwards like docker's tail reader.
fn last_lines(file: &File, want: Option<usize>) -> io::Result<(u64, u64, usize)> {
    const BLOCK: u64 = 16 * 1024;
    let mut buf = vec![0u8; BLOCK as usize];
    let mut pos = file.metadata()?.len();
    let mut end = None;
    let mut lines = 0;
    while pos > 0 {
        let len = pos.min(BLOCK);
        pos -= len;
        let block = &mut buf[..len as usize];
        file.read_exact_at(block, pos)?;
        for (i, &b) in block.iter().enumerate().rev() {
            if b != b'\n' {
                continue;
            }
            let after = pos + i as u64 + 1;
            match end {
                None => {
                    end = Some(after);
                    match want {
                        None => return Ok((0, after, 0)),
                        Some(0) => return Ok((after, after, 0)),
                        Some(_) => {}
                    }
                }
                Some(end) => {
                    lines += 1;
                    if Some(lines) == want {
                        return Ok((after, end, lines));
                    }
                }
            }
        }
    }
    Ok(match end {
        Some(end) => (0, end, lines + 1),
        None => (0, 0, 0),
    })
}

/// Reads what is appended to `path` until `stop`, moving to the new file
/// after each rotation once the old one is read to its end.
fn follow(
    path: &Path,
    mut current: Option<(File, FileId)>,
    mut pos: u64,
    out: &mut Filter<'_>,
    stop: &dyn Fn() -> bool,
) -> io::Result<()> {
    let watch = Watch::new(path);
    let mut pending = Vec::new();
    let mut stopping = false;
    loop {
        if let Some((file, _)) = &current {
            if drain(file, &mut pos, &mut pending, out)? == Flow::Stop {
                return Ok(());
            }
        }
        match fs::metadata(path) {
            Ok(m) if current.as_ref().is_some_and(|(_, id)| *id == file_id(&m)) => {
                if m.len() < pos {
                    // Truncated behind our back (not by berth's writer).
                    pos = 0;
                    pending.clear();
                    continue;
                }
            }
            Ok(_) => {
                // A new file: what the writer appended to the old one before
                // rotating is there by now.
                if let Some((file, old)) = &current {
                    if drain(file, &mut pos, &mut pending, out)? == Flow::Stop
                        || read_skipped(path, *old, out)? == Flow::Stop
                    {
                        return Ok(());
                    }
                }
                match File::open(path) {
                    Ok(f) => {
                        let id = file_id(&f.metadata()?);
                        current = Some((f, id));
                        pos = 0;
                        pending.clear();
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if stopping {
            return Ok(());
        }
        if stop() || out.until_passed() {
            // One more pass for what was written before the container stopped.
            stopping = true;
            continue;
        }
        watch.wait();
    }
}

/// After a rotation: the files that came after `old` and were rotated
/// away before the follower looked (`x.log.k` is `old`, so `x.log.k-1` …
/// `x.log.1`; all of them if `old` is gone), read oldest first.
fn read_skipped(path: &Path, old: FileId, out: &mut Filter<'_>) -> io::Result<Flow> {
    let mut numbers = rotated_numbers(path)?;
    numbers.sort_unstable();
    let mut newer = Vec::new();
    for n in numbers {
        match File::open(rotated_path(path, n)) {
            Ok(f) if file_id(&f.metadata()?) == old => break,
            Ok(f) => newer.push(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    for file in newer.iter().rev() {
        let (_, end, _) = last_lines(file, None)?;
        if out.range(file, 0, end)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}

/// Delivers every complete line appended to `file` since `pos`.
fn drain(
    file: &File,
    pos: &mut u64,
    pending: &mut Vec<u8>,
    out: &mut Filter<'_>,
) -> io::Result<Flow> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read_at(&mut buf, *pos)?;
        if n == 0 {
            return Ok(Flow::Continue);
        }
        *pos += n as u64;
        pending.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(i) = pending[start..].iter().position(|&b| b == b'\n') {
            let flow = out.line(&pending[start..start + i + 1]);
            start += i + 1;
            if flow? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        pending.drain(..start);
    }
}

/// Wakes a follower when the log directory changes (inotify), or after
/// [`IDLE`] at the latest.
struct Watch {
    inotify: Option<OwnedFd>,
}

impl Watch {
    fn new(path: &Path) -> Self {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let events = inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::CREATE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::DELETE
            | inotify::WatchFlags::CLOSE_WRITE;
        let inotify = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .ok()
            .filter(|fd| inotify::add_watch(fd, dir, events).is_ok());
        Watch { inotify }
    }

    fn wait(&self) {
        let Some(fd) = &self.inotify else {
            std::thread::sleep(IDLE);
            return;
        };
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: IDLE.as_nanos() as _,
        };
        // A timeout or EINTR only means "look again".
        let _ = poll(&mut [PollFd::new(fd, PollFlags::IN)], Some(&timeout));
        let mut events = [0u8; 4096];
        while matches!(rustix::io::read(fd, &mut events), Ok(n) if n > 0) {}
    }
}
