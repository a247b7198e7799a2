//! Byte-for-byte checks against files and output of a real dockerd 20.10
//! (`tests/fixtures`, made by `tests/fixtures/generate.sh`), and follow,
//! rotation and crash behaviour.
#![cfg(feature = "reader")]

use crate::{gotime, read, Entry, LogWriter, ReadOptions, Rotation, Stream};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes
    }
}

fn time(s: &str) -> SystemTime {
    let (secs, nanos) = gotime::parse(&gotime::RFC3339, s, 0).unwrap();
    crate::clock::from_unix(secs, nanos).unwrap()
}

/// The `time` of every line of a json-file fixture.
fn entry_times(log: &[u8]) -> Vec<SystemTime> {
    log.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            time(v["time"].as_str().unwrap())
        })
        .collect()
}

/// A writer input: what the container wrote (`None`: EOF of the stream)
/// and the index of the fixture entry whose time it gets.
type Input<'a> = (Stream, Option<&'a [u8]>, usize);

fn replay(dir: &Path, rotation: Rotation, times: &[SystemTime], inputs: &[Input<'_>]) -> PathBuf {
    let path = dir.join("c-json.log");
    let mut w = LogWriter::open(&path, rotation).unwrap();
    for &(stream, data, at) in inputs {
        match data {
            // Odd chunk sizes: how the bytes arrive must not matter.
            Some(data) => {
                for chunk in data.chunks(1000) {
                    w.write(stream, chunk, times[at]).unwrap();
                }
            }
            None => w.flush_partial(stream, times[at]).unwrap(),
        }
    }
    path
}

fn read_all(path: &Path, opts: &ReadOptions) -> Vec<Entry> {
    let mut out = Vec::new();
    read(path, opts, &|| true, &mut |e| {
        out.push(e);
        Ok(())
    })
    .unwrap();
    out
}

fn concat(entries: &[Entry]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|e| e.bytes.iter().copied())
        .collect()
}

fn assert_bytes(got: &[u8], want: &[u8]) {
    if got != want {
        panic!(
            "got:\n{}\nwant:\n{}",
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(want)
        );
    }
}

/// What the container in generate.sh step 1 printed, line by line.
const TRICKY: [(Stream, &[u8]); 8] = [
    (Stream::Stdout, b"a<b>&c\n"),
    (Stream::Stdout, b"\x01\xff\xfe\n"),
    (Stream::Stdout, b"tab\there \"q\" back\\slash del\x7f cr\r\n"),
    (
        Stream::Stdout,
        b"\xe2\x80\xa8|\xe2\x80\xa9|\xc3\xa9|\xf0\x9f\x98\x80|\xe2\x82A|\xed\xa0\x80|\xc0\x80|\xf4\x90\x80\x80|\x1b[31m\n",
    ),
    (Stream::Stdout, b"\n"),
    (Stream::Stderr, b"err <&>\n"),
    (Stream::Stdout, b"out again\n"),
    (Stream::Stdout, b"end without newline"),
];

#[test]
fn writer_matches_docker_escaping_and_streams() {
    let want = fixture("tricky-json.log");
    let times = entry_times(&want);
    let mut inputs: Vec<Input<'_>> = TRICKY
        .iter()
        .enumerate()
        .map(|(i, &(s, d))| (s, Some(d), i))
        .collect();
    inputs.push((Stream::Stdout, None, 7));
    let dir = tempfile::tempdir().unwrap();
    let path = replay(dir.path(), Rotation::default(), &times, &inputs);
    assert_bytes(&std::fs::read(path).unwrap(), &want);
}

#[test]
fn writer_matches_docker_tty() {
    let want = fixture("tty-json.log");
    let times = entry_times(&want);
    let inputs: [Input<'_>; 4] = [
        (Stream::Stdout, Some(b"tty\tline\r\n"), 0),
        (Stream::Stdout, Some(b"err\r\n"), 1),
        (Stream::Stdout, Some(b"no newline"), 2),
        (Stream::Stdout, None, 2),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = replay(dir.path(), Rotation::default(), &times, &inputs);
    assert_bytes(&std::fs::read(path).unwrap(), &want);
}

#[test]
fn writer_matches_docker_long_lines() {
    let want = fixture("long-json.log.gz");
    let times = entry_times(&want);
    // 16384 bytes + \n: a full piece, then "\n" alone with the piece's time.
    let mut a = vec![b'a'; 16384];
    a.push(b'\n');
    let mut b = vec![b'b'; 40000];
    b.push(b'\n');
    let c = vec![b'c'; 40000];
    let inputs: [Input<'_>; 5] = [
        (Stream::Stdout, Some(&a), 0),
        (Stream::Stdout, Some(&b), 2),
        (Stream::Stdout, Some(b"short\n"), 5),
        (Stream::Stdout, Some(&c), 6),
        (Stream::Stdout, None, 8),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = replay(dir.path(), Rotation::default(), &times, &inputs);
    assert_bytes(&std::fs::read(path).unwrap(), &want);
}

/// Every line's time, from a follower that saw all of them (docker 20.10's
/// follower repeats the first line after each rotation: dropped here).
fn rotate_times() -> Vec<SystemTime> {
    let all = fixture("rotate.all.logs-t");
    let mut lines: Vec<&[u8]> = all
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.dedup();
    assert_eq!(lines.len(), 100);
    lines
        .iter()
        .map(|l| time(std::str::from_utf8(&l[..30]).unwrap()))
        .collect()
}

fn rotate_lines() -> Vec<(Stream, Vec<u8>)> {
    (1..=100)
        .map(|i| {
            let stream = if i % 10 == 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            (stream, format!("line {i}\n").into_bytes())
        })
        .collect()
}

#[test]
fn writer_rotates_like_docker() {
    let times = rotate_times();
    let lines = rotate_lines();
    let inputs: Vec<Input<'_>> = lines
        .iter()
        .enumerate()
        .map(|(i, (s, d))| (*s, Some(&d[..]), i))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        max_size: Some(1000),
        max_file: 3,
    };
    let path = replay(dir.path(), rotation, &times, &inputs);
    for (ours, theirs) in [
        ("", "rotate-json.log"),
        (".1", "rotate-json.log.1"),
        (".2", "rotate-json.log.2"),
    ] {
        let got = std::fs::read(format!("{}{ours}", path.display())).unwrap();
        assert_bytes(&got, &fixture(theirs));
    }
    assert!(!dir.path().join("c-json.log.3").exists());
}

/// The rotated fixture files, as a container directory.
fn rotated_fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for suffix in ["", ".1", ".2"] {
        let name = format!("rotate-json.log{suffix}");
        std::fs::write(
            dir.path().join(format!("c-json.log{suffix}")),
            fixture(&name),
        )
        .unwrap();
    }
    let path = dir.path().join("c-json.log");
    (dir, path)
}

#[test]
fn reader_matches_docker_logs() {
    let (_dir, path) = rotated_fixture();
    let all = read_all(&path, &ReadOptions::default());
    assert_bytes(&concat(&all), &fixture("rotate.logs"));
    let t = ReadOptions {
        timestamps: true,
        ..Default::default()
    };
    assert_bytes(&concat(&read_all(&path, &t)), &fixture("rotate.logs-t"));
    // Entry times and streams come through too.
    assert_eq!(all[0].time, time("2026-11-23T17:21:15.896323281Z"));
    assert_eq!(all.iter().filter(|e| e.stream == Stream::Stderr).count(), 4);
}

#[test]
fn reader_tail_counts_over_all_files_before_filtering() {
    let (_dir, path) = rotated_fixture();
    let tail = |n, stderr, timestamps| {
        let opts = ReadOptions {
            tail: Some(n),
            stderr,
            timestamps,
            ..Default::default()
        };
        concat(&read_all(&path, &opts))
    };
    assert_bytes(&tail(5, true, false), &fixture("rotate.tail5.logs"));
    // 20 spans the current file (9 entries) and x.log.1.
    assert_bytes(&tail(20, true, true), &fixture("rotate.tail20.logs-t"));
    // Stream filtering comes after --tail: 18 of the last 20.
    assert_bytes(&tail(20, false, false), &fixture("rotate.tail20.stdout"));
    assert!(tail(0, true, false).is_empty());
    assert_bytes(&tail(1000, true, false), &fixture("rotate.logs"));
}

#[test]
fn reader_since_until_inclusive_like_docker() {
    let (_dir, path) = rotated_fixture();
    let args = String::from_utf8(fixture("rotate.since-until.args")).unwrap();
    let (since, until) = args.trim().split_once(' ').unwrap();
    let now = SystemTime::now();
    let opts = ReadOptions {
        since: Some(crate::parse_time_arg(since, now).unwrap()),
        until: Some(crate::parse_time_arg(until, now).unwrap()),
        ..Default::default()
    };
    assert_bytes(
        &concat(&read_all(&path, &opts)),
        &fixture("rotate.since-until.logs"),
    );
}

#[test]
fn reader_matches_docker_logs_t() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    std::fs::write(&path, fixture("tricky-json.log")).unwrap();
    let out = ReadOptions {
        timestamps: true,
        stderr: false,
        ..Default::default()
    };
    assert_bytes(
        &concat(&read_all(&path, &out)),
        &fixture("tricky.logs-t.stdout"),
    );
    let err = ReadOptions {
        timestamps: true,
        stdout: false,
        ..Default::default()
    };
    assert_bytes(
        &concat(&read_all(&path, &err)),
        &fixture("tricky.logs-t.stderr"),
    );
    // Pieces of long lines each get their timestamp.
    std::fs::write(&path, fixture("long-json.log.gz")).unwrap();
    let t = ReadOptions {
        timestamps: true,
        ..Default::default()
    };
    assert_bytes(&concat(&read_all(&path, &t)), &fixture("long.logs-t.gz"));
    assert_eq!(
        crate::format_timestamp(time("2026-11-23T17:21:12.05Z")),
        "2026-11-23T17:21:12.050000000Z"
    );
}

#[test]
fn time_args_like_docker_cli() {
    let now = SystemTime::now();
    let table = String::from_utf8(fixture("since-errors.txt")).unwrap();
    let mut n = 0;
    for row in table.lines() {
        let mut cols = row.splitn(3, '\t');
        let (value, rc, message) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        match crate::parse_time_arg(value, now) {
            Ok(_) => assert_eq!(rc, "0", "{value} accepted, docker refused: {message}"),
            Err(e) => {
                assert_eq!(rc, "1", "{value} refused, docker accepted");
                assert_eq!(format!("invalid value for \"since\": {e}"), message);
            }
        }
        n += 1;
    }
    assert!(n >= 40);
}

#[test]
fn time_arg_values() {
    let now = time("2023-11-14T22:13:20.75Z");
    let p = |s| crate::parse_time_arg(s, now).unwrap();
    // Durations: back from now, whole seconds (Go's Unix()).
    assert_eq!(p("10m"), time("2023-11-14T22:03:20Z"));
    assert_eq!(p("1h30m"), time("2023-11-14T20:43:20Z"));
    assert_eq!(p("-1s"), time("2023-11-14T22:13:21Z"));
    assert_eq!(p("0"), time("1970-01-01T00:00:00Z"));
    assert_eq!(
        p("1700000000.123456789"),
        time("2023-11-14T22:13:20.123456789Z")
    );
    assert_eq!(p("1700000000.5"), time("2023-11-14T22:13:20.5Z"));
    assert_eq!(p("1700000000"), time("2023-11-14T22:13:20Z"));
    assert_eq!(
        p("2023-11-14T23:13:20.5+01:00"),
        time("2023-11-14T22:13:20.5Z")
    );
    assert_eq!(p("2023-11-14T22:13Z"), time("2023-11-14T22:13:00Z"));
    assert_eq!(p("2023-11-14T22Z"), time("2023-11-14T22:00:00Z"));
    assert_eq!(p("2023-11-14Z"), time("2023-11-14T00:00:00Z"));
    assert_eq!(p("2023-11-14-01:00"), time("2023-11-14T01:00:00Z"));
    // Without a zone: local time at now's offset.
    let offset = crate::reader::local_offset(1_700_000_000);
    let local = crate::clock::to_unix(p("2023-11-14T22:13:20")).0;
    assert_eq!(local + offset, 1_700_000_000);
    assert_eq!(
        crate::clock::to_unix(p("2023-11-14")).0 + offset,
        1_699_920_000
    );
}

#[test]
fn reader_skips_torn_and_foreign_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let t = time("2023-11-14T22:13:20Z");
    let mut w = LogWriter::open(&path, Rotation::default()).unwrap();
    w.write(Stream::Stdout, b"one\n", t).unwrap();
    drop(w);
    // A monitor killed in the middle of a write.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"log\":\"tw");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(concat(&read_all(&path, &ReadOptions::default())), b"one\n");
    // The next monitor ends the torn line before appending.
    let mut w = LogWriter::open(&path, Rotation::default()).unwrap();
    w.write(Stream::Stderr, b"two\n", t).unwrap();
    let entries = read_all(&path, &ReadOptions::default());
    assert_eq!(concat(&entries), b"one\ntwo\n");
    assert_eq!(entries[1].stream, Stream::Stderr);
    // With --tail, the torn line counts as a line, as in docker.
    let tail = ReadOptions {
        tail: Some(2),
        ..Default::default()
    };
    assert_eq!(concat(&read_all(&path, &tail)), b"two\n");
}

#[test]
fn a_half_done_rotation_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let t = time("2023-11-14T22:13:20Z");
    // One entry per file.
    let rotation = Rotation {
        max_size: Some(50),
        max_file: 3,
    };
    let mut w = LogWriter::open(&path, rotation).unwrap();
    w.write(Stream::Stdout, b"one\n", t).unwrap();
    drop(w);
    // Killed between linking x.log.1 and replacing x.log.
    std::fs::hard_link(&path, dir.path().join("c-json.log.1")).unwrap();
    assert_eq!(concat(&read_all(&path, &ReadOptions::default())), b"one\n");
    let mut w = LogWriter::open(&path, rotation).unwrap();
    w.write(Stream::Stdout, b"two\n", t).unwrap();
    w.write(Stream::Stdout, b"three\n", t).unwrap();
    assert_eq!(
        concat(&read_all(&path, &ReadOptions::default())),
        b"one\ntwo\nthree\n"
    );
    assert!(dir.path().join("c-json.log.2").exists());
}

#[test]
fn max_file_one_replaces_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let t = time("2023-11-14T22:13:20Z");
    let mut w = LogWriter::open(
        &path,
        Rotation {
            max_size: Some(120),
            max_file: 1,
        },
    )
    .unwrap();
    for i in 0..10 {
        w.write(Stream::Stdout, format!("line {i}\n").as_bytes(), t)
            .unwrap();
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["c-json.log"]);
    // 67-byte entries: a file rotates once it holds two.
    assert_eq!(
        concat(&read_all(&path, &ReadOptions::default())),
        b"line 8\nline 9\n"
    );
    // Reopening counts what is already there.
    let mut w = LogWriter::open(
        &path,
        Rotation {
            max_size: Some(120),
            max_file: 2,
        },
    )
    .unwrap();
    w.write(Stream::Stdout, b"line 10\n", t).unwrap();
    assert!(dir.path().join("c-json.log.1").exists());
    assert_eq!(
        concat(&read_all(&path, &ReadOptions::default())),
        b"line 8\nline 9\nline 10\n"
    );
}

/// Follows `path` on a thread until `stopped`, collecting the lines.
fn follower(
    path: PathBuf,
    opts: ReadOptions,
    stopped: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        read(&path, &opts, &|| stopped.load(Ordering::SeqCst), &mut |e| {
            out.extend_from_slice(&e.bytes);
            Ok(())
        })
        .unwrap();
        out
    })
}

#[test]
fn follow_through_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let rotation = Rotation {
        max_size: Some(2000),
        max_file: 3,
    };
    let mut w = LogWriter::open(&path, rotation).unwrap();
    let mut want = Vec::new();
    for i in 0..40 {
        let line = format!("early {i}\n");
        w.write(Stream::Stdout, line.as_bytes(), SystemTime::now())
            .unwrap();
        want.extend_from_slice(line.as_bytes());
    }
    let stopped = Arc::new(AtomicBool::new(false));
    let opts = ReadOptions {
        follow: true,
        ..Default::default()
    };
    let reader = follower(path.clone(), opts, stopped.clone());
    for i in 0..600 {
        let line = format!("line {i}\n");
        w.write(Stream::Stdout, line.as_bytes(), SystemTime::now())
            .unwrap();
        want.extend_from_slice(line.as_bytes());
        if i % 7 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for i in 0..20 {
        let line = format!("burst {i}\n");
        w.write(Stream::Stderr, line.as_bytes(), SystemTime::now())
            .unwrap();
        want.extend_from_slice(line.as_bytes());
    }
    w.write(Stream::Stdout, b"last", SystemTime::now()).unwrap();
    w.flush_partial(Stream::Stdout, SystemTime::now()).unwrap();
    want.extend_from_slice(b"last");
    stopped.store(true, Ordering::SeqCst);
    let got = reader.join().unwrap();
    // All 40 early lines were still there (max-file 3 × 2000 bytes) when
    // the follower started.
    assert_bytes(&got, &want);
}

#[test]
fn follow_with_tail_and_until() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let mut w = LogWriter::open(&path, Rotation::default()).unwrap();
    for i in 0..5 {
        w.write(
            Stream::Stdout,
            format!("old {i}\n").as_bytes(),
            SystemTime::now(),
        )
        .unwrap();
    }
    let stopped = Arc::new(AtomicBool::new(false));
    let opts = ReadOptions {
        follow: true,
        tail: Some(2),
        ..Default::default()
    };
    let reader = follower(path.clone(), opts, stopped.clone());
    // A line that reaches the disk in two writes is read once, whole.
    let line =
        b"{\"log\":\"in two writes\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20Z\"}\n";
    let mut raw = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    std::io::Write::write_all(&mut raw, &line[..20]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    std::io::Write::write_all(&mut raw, &line[20..]).unwrap();
    w.write(Stream::Stdout, b"new\n", SystemTime::now())
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stopped.store(true, Ordering::SeqCst);
    assert_bytes(
        &reader.join().unwrap(),
        b"old 3\nold 4\nin two writes\nnew\n",
    );

    // --until in the past ends a follow without waiting for the container.
    let never = Arc::new(AtomicBool::new(false));
    let until = Some(SystemTime::now() - Duration::from_secs(3600));
    let opts = ReadOptions {
        follow: true,
        until,
        ..Default::default()
    };
    assert!(follower(path, opts, never).join().unwrap().is_empty());
}

#[test]
fn follow_reads_files_rotated_while_it_slept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let now = SystemTime::now();
    let w = std::cell::RefCell::new(
        LogWriter::open(
            &path,
            Rotation {
                max_size: Some(300),
                max_file: 4,
            },
        )
        .unwrap(),
    );
    w.borrow_mut()
        .write(Stream::Stdout, b"first\n", now)
        .unwrap();
    let mut want = b"first\n".to_vec();
    for i in 0..10 {
        want.extend_from_slice(format!("burst {i}\n").as_bytes());
    }
    let bursts = std::cell::Cell::new(false);
    // The first time the follower is idle, two rotations happen behind its
    // back (5 entries fit in a file): its file becomes x.log.2.
    let stop = || {
        if bursts.replace(true) {
            return true;
        }
        for i in 0..10 {
            let line = format!("burst {i}\n");
            w.borrow_mut()
                .write(Stream::Stdout, line.as_bytes(), now)
                .unwrap();
        }
        assert!(dir.path().join("c-json.log.2").exists());
        false
    };
    let mut got = Vec::new();
    let opts = ReadOptions {
        follow: true,
        ..Default::default()
    };
    read(&path, &opts, &stop, &mut |e| {
        got.extend_from_slice(&e.bytes);
        Ok(())
    })
    .unwrap();
    assert_bytes(&got, &want);
}

#[test]
fn follow_waits_for_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let stopped = Arc::new(AtomicBool::new(false));
    let opts = ReadOptions {
        follow: true,
        ..Default::default()
    };
    let reader = follower(path.clone(), opts, stopped.clone());
    std::thread::sleep(Duration::from_millis(50));
    let mut w = LogWriter::open(&path, Rotation::default()).unwrap();
    w.write(Stream::Stdout, b"hello\n", SystemTime::now())
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stopped.store(true, Ordering::SeqCst);
    assert_bytes(&reader.join().unwrap(), b"hello\n");
}

#[test]
fn no_stream_is_an_error() {
    let opts = ReadOptions {
        stdout: false,
        stderr: false,
        ..Default::default()
    };
    let err = read(Path::new("/nonexistent"), &opts, &|| true, &mut |_| Ok(())).unwrap_err();
    assert_eq!(err.to_string(), "You must choose at least one stream");
}

const CHILD_ENV: &str = "BERTH_LOGS_SIGKILL_CHILD";

/// Runs as a child process of `survives_sigkill`: logs until killed.
#[test]
fn sigkill_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut w = LogWriter::open(
        path,
        Rotation {
            max_size: Some(4096),
            max_file: 3,
        },
    )
    .unwrap();
    for i in 0u64.. {
        // Lines arrive split across writes, as from a pipe.
        let line = format!("line {i} {}\n", "x".repeat((i % 50) as usize));
        let (a, b) = line.as_bytes().split_at(line.len() / 2);
        w.write(Stream::Stdout, a, SystemTime::now()).unwrap();
        w.write(Stream::Stdout, b, SystemTime::now()).unwrap();
    }
}

#[test]
fn survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    for _ in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tests::sigkill_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let rotated = dir.path().join("c-json.log.2");
        while !rotated.exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20));
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever was written reads back as whole entries, in order.
        let entries = read_all(&path, &ReadOptions::default());
        let numbers: Vec<u64> = entries
            .iter()
            .map(|e| {
                let line = std::str::from_utf8(&e.bytes).unwrap();
                assert!(line.ends_with('\n'), "{line:?}");
                line.split(' ').nth(1).unwrap().parse().unwrap()
            })
            .collect();
        assert!(numbers.len() > 10);
        // Runs restart at 0 with each child; within a run they are consecutive.
        assert!(
            numbers.windows(2).all(|w| w[1] == w[0] + 1 || w[1] == 0),
            "{numbers:?}"
        );
    }
    let mut w = LogWriter::open(&path, Rotation::default()).unwrap();
    w.write(Stream::Stdout, b"after\n", SystemTime::now())
        .unwrap();
    let entries = read_all(&path, &ReadOptions::default());
    assert_eq!(entries.last().unwrap().bytes, b"after\n");
}
