//! Storage management on a private root each: `system df` (sizes counted
//! as dockerd counts them, against files of known size), `system prune`
//! and its prompt and filters, `container prune`. The expected texts are
//! Docker 20.10's for the same scenarios; the last test runs one scenario
//! on a private dockerd as well and compares the two.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::dockerd::Dockerd;
use common::{Out, Root};

/// Three files (1000, 2000 and 3000 bytes) and a hard link to the first:
/// dockerd counts 6000 bytes.
const FILL_V1: &str = "head -c 1000 /dev/zero > /data/a; head -c 2000 /dev/zero > /data/b; \
                       head -c 3000 /dev/zero > /data/c; ln /data/a /data/hl";
/// 12345 bytes and a symlink whose target is 19 bytes long: 12364.
const FILL_LONELY: &str = "head -c 12345 /dev/zero > /l/x; ln -s /nonexistent/target /l/sym";

fn json_rows(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A running container using volume `v1` (6000 bytes), a stopped one that
/// wrote 5000 bytes into its own layer, and an unused volume `lonely`
/// (12364 bytes).
fn scenario(r: &Root) -> (String, String) {
    r.busybox("busybox:latest");
    let running = r
        .ok(&[
            "run",
            "-d",
            "--name",
            "up",
            "-v",
            "v1:/data",
            "busybox",
            "sh",
            "-c",
            &format!("{FILL_V1}; sleep 600"),
        ])
        .trim()
        .to_string();
    r.ok(&[
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /f",
    ]);
    let stopped = r
        .ok(&["inspect", "-f", "{{.Id}}", "done"])
        .trim()
        .to_string();
    r.ok(&[
        "run",
        "--rm",
        "-v",
        "lonely:/l",
        "busybox",
        "sh",
        "-c",
        FILL_LONELY,
    ]);
    // The running container's files are in place once its volume has them.
    let v1 = r.path().join("volumes/v1/_data/hl");
    for _ in 0..200 {
        if v1.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (running, stopped)
}

#[test]
fn df_on_an_empty_root() {
    let r = Root::new();
    assert_eq!(
        r.ok(&["system", "df"]),
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
         Images          0         0         0B        0B\n\
         Containers      0         0         0B        0B\n\
         Local Volumes   0         0         0B        0B\n\
         Build Cache     0         0         0B        0B\n"
    );
    assert_eq!(
        r.ok(&["system", "df", "-v"]),
        "Images space usage:\n\n\
         REPOSITORY   TAG       IMAGE ID   CREATED   SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n\
         \nContainers space usage:\n\n\
         CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES\n\
         \nLocal Volumes space usage:\n\n\
         VOLUME NAME   LINKS     SIZE\n\
         \nBuild cache usage: 0B\n\n\
         CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"
    );
    let o = r.run(&["system", "df", "extra"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("\"berth system df\" accepts no arguments.\nSee 'berth system df --help'.\n\nUsage:  berth system df [OPTIONS]\n\nShow docker disk usage"),
        "{}",
        o.stderr
    );
}

#[test]
fn df_counts_volumes_containers_and_images() {
    let r = Root::new();
    let (running, stopped) = scenario(&r);

    let rows = json_rows(&r.ok(&["system", "df", "--format", "{{json .}}"]));
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[1],
        serde_json::json!({"Active": "1", "Reclaimable": "5kB (100%)", "Size": "5kB",
            "TotalCount": "2", "Type": "Containers"})
    );
    assert_eq!(
        rows[2],
        serde_json::json!({"Active": "1", "Reclaimable": "12.36kB (67%)", "Size": "18.36kB",
            "TotalCount": "2", "Type": "Local Volumes"})
    );
    assert_eq!(
        rows[3],
        serde_json::json!({"Active": "0", "Reclaimable": "0B", "Size": "0B",
            "TotalCount": "0", "Type": "Build Cache"})
    );
    // The image is in use; its layers are nobody else's, so none of it
    // is reclaimable.
    assert_eq!(rows[0]["TotalCount"], "1");
    assert_eq!(rows[0]["Active"], "1");
    assert_eq!(rows[0]["Reclaimable"], "0B (0%)");
    let image_size = rows[0]["Size"].as_str().unwrap().to_string();
    assert!(image_size.ends_with("MB"), "{image_size}");

    let table = r.ok(&["system", "df"]);
    assert!(
        table.contains("\nLocal Volumes   2         1         18.36kB   12.36kB (67%)\n"),
        "{table}"
    );
    assert_eq!(
        r.ok(&["system", "df", "--format", "table {{.Type}}\t{{.Active}}"]),
        "TYPE            ACTIVE\nImages          1\nContainers      1\nLocal Volumes   1\nBuild Cache     0\n"
    );
    let raw = r.ok(&["system", "df", "--format", "raw"]);
    assert!(
        raw.contains("type: Local Volumes\ntotal: 2\nactive: 1\nsize: 18.36kB\nreclaimable: 12.36kB (67%)\n\n"),
        "{raw}"
    );

    let v = r.ok(&["system", "df", "-v"]);
    assert!(
        v.contains(
            "Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\nlonely        0         12.36kB\nv1            1         6kB\n\n"
        ),
        "{v}"
    );
    let c = v
        .split("Containers space usage:\n\n")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .unwrap();
    let lines: Vec<&str> = c.lines().collect();
    assert_eq!(lines.len(), 3, "{c}");
    assert!(lines[0]
        .starts_with("CONTAINER ID   IMAGE     COMMAND                  LOCAL VOLUMES   SIZE "));
    // Newest first; the running one has its volume and an empty layer.
    assert!(
        lines[1].starts_with(&format!(
            "{}   busybox   \"sh -c 'head -c 5000…\"   0               5kB ",
            &stopped[..12]
        )),
        "{c}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{}   busybox   \"sh -c 'head -c 1000…\"   1               0B ",
            &running[..12]
        )),
        "{c}"
    );
    assert!(
        lines[2].contains("   Up ") && lines[2].ends_with("   up"),
        "{c}"
    );
    assert!(v.contains("\nbusybox      latest    "), "{v}");
    assert!(
        v.contains(&format!(
            "   {image_size:<10}0B            {image_size:<14}2\n"
        )),
        "{v}"
    );

    // Any other -v format runs once over everything, without a newline.
    let j = r.ok(&["system", "df", "-v", "--format", "{{json .}}"]);
    assert!(!j.ends_with('\n'));
    let doc: serde_json::Value = serde_json::from_str(&j).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Images", "Containers", "Volumes", "BuildCache"]);
    assert_eq!(doc["Volumes"][1]["Name"], "v1");
    assert_eq!(doc["Volumes"][1]["Links"], "1");
    assert_eq!(doc["Volumes"][1]["Size"], "6kB");
    assert_eq!(doc["Containers"][1]["ID"], running.as_str());
    assert_eq!(doc["Containers"][1]["Mounts"], "v1");
    assert_eq!(doc["Containers"][1]["LocalVolumes"], "1");
    assert!(doc["Images"][0]["ID"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        r.ok(&[
            "system",
            "df",
            "-v",
            "--format",
            "{{range .Volumes}}{{.Name}}={{.Size}};{{end}}"
        ]),
        "lonely=12.36kB;v1=6kB;"
    );
    let raw = r.ok(&["system", "df", "-v", "--format", "raw"]);
    assert!(
        raw.contains(&format!(
            "type: Container\ncontainer_id: {stopped}\nimage: busybox\ncommand: \"sh -c 'head -c 5000 /dev/zero > /f'\"\n"
        )),
        "{raw}"
    );
    assert!(raw.contains("\nlabels:\nports:\nsize: 5kB\n\n"), "{raw}");
    assert!(
        raw.ends_with("type: Volume\nname: v1\ndriver: local\n\n"),
        "{raw}"
    );
    r.ok(&["rm", "-f", "up"]);
    r.assert_no_leftovers();
}

#[test]
fn df_build_cache_is_shared_while_an_image_holds_it() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM busybox\nCOPY f /f\n").unwrap();
    std::fs::write(ctx.path().join("f"), vec![7u8; 12345]).unwrap();
    let dir = ctx.path().display().to_string();
    r.ok(&["build", "--progress=plain", "-t", "built:1", &dir]);
    let row = |r: &Root| json_rows(&r.ok(&["system", "df", "--format", "{{json .}}"]))[3].clone();
    // The COPY layer is built:1's: shared, so not counted.
    assert_eq!(
        row(&r),
        serde_json::json!({"Active": "0", "Reclaimable": "0B", "Size": "0B",
            "TotalCount": "1", "Type": "Build Cache"})
    );
    let v = r.ok(&["system", "df", "-v"]);
    let cache = v.split("Build cache usage: 0B\n\n").nth(1).unwrap();
    let lines: Vec<&str> = cache.lines().collect();
    assert_eq!(lines[0], "CACHE ID       CACHE TYPE   SIZE      CREATED                  LAST USED                USAGE     SHARED");
    assert!(lines[1].contains("   regular      12.3kB    "), "{cache}");
    assert!(lines[1].ends_with("   1         true"), "{cache}");
    // Without the image it counts, and a prune without -a takes it.
    r.ok(&["rmi", "built:1"]);
    assert_eq!(row(&r)["Size"], "12.35kB");
    assert!(r
        .ok(&["system", "df", "-v"])
        .contains("Build cache usage: 12.35kB\n"));
    let o = r.ok(&["builder", "prune", "-f"]);
    assert!(o.starts_with("Deleted build cache objects:\n"), "{o}");
    assert!(o.ends_with("\n\nTotal reclaimed space: 12.35kB\n"), "{o}");
    assert_eq!(row(&r)["TotalCount"], "0");
    let chk = r.run(&["debug", "check-store"]);
    assert_eq!(chk.code, 0, "{}{}", chk.stdout, chk.stderr);
}

const WARNING: &str = "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n";

#[test]
fn system_prune_asks_first_and_no_changes_nothing() {
    let r = Root::new();
    let _ = scenario(&r);
    r.busybox("busybox:latest"); // the first import is now dangling
    let before = (
        r.fingerprint(),
        r.ok(&["ps", "-aq"]),
        r.ok(&["volume", "ls", "-q"]),
    );
    for answer in [&b"n\n"[..], b"yes\n", b""] {
        let o = r.run_stdin(&["system", "prune", "--volumes"], answer);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(
            o.stdout,
            format!("{WARNING}  - all volumes not used by at least one container\n  - all dangling images\n  - all dangling build cache\n\nAre you sure you want to continue? [y/N] ")
        );
    }
    let o = r.run_stdin(
        &[
            "system",
            "prune",
            "-a",
            "--filter",
            "until=2h",
            "--filter",
            "label=a=b",
            "--filter",
            "label!=c",
        ],
        b"N\n",
    );
    assert_eq!(
        o.stdout,
        format!("{WARNING}  - all images without at least one container associated to them\n  - all build cache\n\n  Items to be pruned will be filtered with:\n  - label!=c\n  - label=a=b\n  - until=2h\n\nAre you sure you want to continue? [y/N] ")
    );
    // Declined single-kind prunes print a zero total, as Docker 20.10 does.
    let o = r.run_stdin(&["container", "prune"], b"n\n");
    assert_eq!(
        o.stdout,
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] Total reclaimed space: 0B\n"
    );
    let o = r.run_stdin(&["builder", "prune"], b"n\n");
    assert_eq!(
        o.stdout,
        "WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] Total reclaimed space: 0B\n"
    );
    let after = (
        r.fingerprint(),
        r.ok(&["ps", "-aq"]),
        r.ok(&["volume", "ls", "-q"]),
    );
    assert_eq!(before, after);
    // y goes ahead.
    let o = r.run_stdin(&["system", "prune"], b"y\n");
    assert!(
        o.stdout.contains("[y/N] Deleted Containers:\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn system_prune_removes_by_section() {
    let r = Root::new();
    // An image the scenario's re-import leaves dangling (and unused).
    r.busybox("busybox:latest");
    let dangling = r.ok(&["images", "-q", "--no-trunc"]).trim().to_string();
    let (_running, stopped) = scenario(&r);
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM busybox\nCOPY f /f\n").unwrap();
    std::fs::write(ctx.path().join("f"), vec![7u8; 3000]).unwrap();
    let dir = ctx.path().display().to_string();
    r.ok(&["build", "--progress=plain", "-t", "built:1", &dir]);
    let built = r
        .ok(&["images", "-q", "--no-trunc", "built:1"])
        .trim()
        .to_string();

    // Containers and the dangling image (its layer is shared: 0 bytes);
    // volumes stay without --volumes, build cache an image holds stays.
    assert_eq!(
        r.ok(&["system", "prune", "-f"]),
        format!("Deleted Containers:\n{stopped}\n\nDeleted Images:\ndeleted: {dangling}\n\nTotal reclaimed space: 5kB\n")
    );
    // Every unused volume, named too (Docker 20.10); v1 is in use.
    assert_eq!(
        r.ok(&["system", "prune", "-f", "--volumes"]),
        "Deleted Volumes:\nlonely\n\nTotal reclaimed space: 12.36kB\n"
    );
    assert_eq!(r.ok(&["volume", "ls", "-q"]), "v1\n");
    // -a: unused images and all build cache.
    let o = r.ok(&["system", "prune", "-a", "-f"]);
    assert!(
        o.starts_with(&format!(
            "Deleted Images:\nuntagged: built:1\ndeleted: {built}\n"
        )),
        "{o}"
    );
    assert!(o.contains("\n\nDeleted build cache objects:\n"), "{o}");
    assert!(o.ends_with("\n\nTotal reclaimed space: 3kB\n"), "{o}");
    assert_eq!(
        r.ok(&["images", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    // Nothing left to do.
    assert_eq!(
        r.ok(&["system", "prune", "-a", "-f", "--volumes"]),
        "Total reclaimed space: 0B\n"
    );
    let chk = r.run(&["debug", "check-store"]);
    assert_eq!(chk.code, 0, "{}{}", chk.stdout, chk.stderr);
    r.ok(&["rm", "-f", "up"]);
    r.assert_no_leftovers();
    assert_eq!(r.tmp_entries(), 0);
}

fn stopped_container(r: &Root, name: &str, labels: &[&str]) -> String {
    let mut args = vec!["create", "--name", name];
    for l in labels {
        args.extend(["--label", l]);
    }
    args.extend(["busybox", "true"]);
    r.ok(&args).trim().to_string()
}

#[test]
fn prune_filters() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let keep = stopped_container(&r, "keep", &["keep=1"]);
    let other = stopped_container(&r, "other", &["team=a"]);
    let bare = stopped_container(&r, "bare", &[]);
    // Created just now: none is older than an hour.
    assert_eq!(
        r.ok(&["system", "prune", "-f", "--filter", "until=1h"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(
        r.ok(&["container", "prune", "-f", "--filter", "label=team=a"]),
        format!("Deleted Containers:\n{other}\n\nTotal reclaimed space: 0B\n")
    );
    assert_eq!(
        r.ok(&["system", "prune", "-f", "--filter", "label!=keep"]),
        format!("Deleted Containers:\n{bare}\n\nTotal reclaimed space: 0B\n")
    );
    assert_eq!(r.ok(&["ps", "-aq", "--no-trunc"]), format!("{keep}\n"));
    // A point in time in the future covers everything.
    let o = r.ok(&["container", "prune", "-f", "--filter", "until=2099-01-01"]);
    assert_eq!(
        o,
        format!("Deleted Containers:\n{keep}\n\nTotal reclaimed space: 0B\n")
    );

    // Errors, in dockerd's and the docker CLI's words; nothing removed.
    r.ok(&["volume", "create", "spare"]);
    let before = r.ok(&["volume", "ls", "-q"]);
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["system", "prune", "-f", "--volumes", "--filter", "until=1h"],
            1,
            "ERROR: The \"until\" filter is not supported with \"--volumes\"\n",
        ),
        (
            &["system", "prune", "-f", "--filter", "foo=bar"],
            1,
            "Error response from daemon: Invalid filter 'foo'\n",
        ),
        (
            &["system", "prune", "-f", "--filter", "until=1h", "--filter", "until=2h"],
            1,
            "Error response from daemon: more than one until filter specified\n",
        ),
        (
            &["system", "prune", "-f", "--filter", "until=xyz"],
            1,
            "Error response from daemon: failed to parse value as time or duration: \"xyz\"\n",
        ),
        (
            &["system", "prune", "-f", "--filter", "label"],
            125,
            "invalid argument \"label\" for \"--filter\" flag: bad format of filter (expected name=value)\nSee 'berth system prune --help'.\n",
        ),
        (
            &["container", "prune", "-f", "--filter", "dangling=true"],
            1,
            "Error response from daemon: Invalid filter 'dangling'\n",
        ),
    ];
    for (args, code, stderr) in cases {
        let o = r.run(args);
        assert_eq!(
            (o.code, o.stderr.as_str(), o.stdout.as_str()),
            (code, stderr, ""),
            "{args:?}"
        );
    }
    // A date `until` is refused by the build cache's prune; berth refuses
    // it before removing anything.
    let c = stopped_container(&r, "late", &[]);
    let o = r.run(&["system", "prune", "-f", "--filter", "until=2099-01-01"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "Error response from daemon: failed to prune build cache: \"until\" filter expects a duration (e.g., '24h'): time: unknown unit \"-\" in duration \"2099-01-01\"\n"
    );
    assert_eq!(r.ok(&["ps", "-aq", "--no-trunc"]), format!("{c}\n"));
    assert_eq!(r.ok(&["volume", "ls", "-q"]), before);
    // Volumes by label, with --volumes; the container has no labels, so
    // a label filter keeps it.
    r.ok(&["volume", "create", "--label", "tier=db", "db"]);
    assert_eq!(
        r.ok(&[
            "system",
            "prune",
            "-f",
            "--volumes",
            "--filter",
            "label=tier=db"
        ]),
        "Deleted Volumes:\ndb\n\nTotal reclaimed space: 0B\n"
    );
    assert_eq!(r.ok(&["volume", "ls", "-q"]), "spare\n");
    assert_eq!(r.ok(&["ps", "-aq", "--no-trunc"]), format!("{c}\n"));
}

/// The docker 20.10 CLI when installed (the one on PATH may be newer).
fn docker(d: &Dockerd, args: &[&str]) -> Out {
    let cli = Path::new("/usr/bin/docker");
    if cli.exists() {
        d.docker_with(cli, &[], args)
    } else {
        d.docker(args)
    }
}

/// The same scenario on a private dockerd and on berth: `system df` rows,
/// the volumes table, the prompt and `system prune --volumes`'s output
/// agree (container IDs aside).
#[test]
fn crosscheck_df_and_prune_with_dockerd() {
    let r = Root::new();
    r.busybox("busybox:latest");
    let Some(d) = Dockerd::start_in_namespace("berth-storage") else {
        return;
    };
    d.load_from_berth(&r, "busybox:latest");
    let both = |args: &[&str]| -> (Out, Out) {
        // Docker's containers get no network (its daemon has no bridge).
        let dargs: Vec<&str> = match args.first() {
            Some(&"run") => [&["run", "--network", "none"][..], &args[1..]].concat(),
            _ => args.to_vec(),
        };
        let o = docker(&d, &dargs);
        assert_eq!(o.code, 0, "docker {args:?}: {}", o.stderr);
        (o, r.run(args))
    };
    both(&["volume", "create", "v1"]);
    both(&[
        "run", "--name", "wrote", "-v", "v1:/data", "busybox", "sh", "-c", FILL_V1,
    ]);
    both(&[
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /f",
    ]);
    both(&[
        "run",
        "--rm",
        "-v",
        "lonely:/l",
        "busybox",
        "sh",
        "-c",
        FILL_LONELY,
    ]);

    let (dk, b) = both(&["system", "df"]);
    assert_eq!(b.stdout, dk.stdout);
    let (dk, b) = both(&["system", "df", "--format", "{{json .}}"]);
    assert_eq!(b.stdout, dk.stdout);
    // The volumes table (Docker lists volumes in no particular order).
    let section = |s: &str| {
        let t = s.split("Local Volumes space usage:\n\n").nth(1).unwrap();
        let mut lines: Vec<String> = t
            .split("\n\n")
            .next()
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines[1..].sort();
        lines
    };
    let (dk, b) = both(&["system", "df", "-v"]);
    assert_eq!(section(&b.stdout), section(&dk.stdout));
    // The image table, but for the CREATED column.
    let images = |s: &str| -> Vec<Vec<String>> {
        let t = s.split("Images space usage:\n\n").nth(1).unwrap();
        t.split("\n\n")
            .next()
            .unwrap()
            .lines()
            .map(|l| {
                l.split("   ")
                    .filter(|c| !c.is_empty())
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .map(|mut v: Vec<String>| {
                v.remove(3);
                v
            })
            .collect()
    };
    assert_eq!(images(&b.stdout), images(&dk.stdout));

    // Declined (stdin is empty): the same question, nothing else.
    let (dk, b) = both(&["system", "prune", "--volumes", "-a", "--filter", "label=x"]);
    assert_eq!(b.stdout, dk.stdout);
    assert_eq!(b.code, dk.code);

    // Container IDs differ; Docker's order within a section is its map's.
    let ids = |o: &Out| -> Vec<Vec<String>> {
        o.stdout
            .split("\n\n")
            .map(|section| {
                let mut lines: Vec<String> = section
                    .lines()
                    .map(|l| {
                        if l.len() == 64 && l.bytes().all(|c| c.is_ascii_hexdigit()) {
                            "<id>".to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect();
                if lines.len() > 1 {
                    lines[1..].sort();
                }
                lines
            })
            .collect()
    };
    let (dk, b) = both(&["system", "prune", "-f", "--volumes"]);
    assert_eq!(ids(&b), ids(&dk));
    assert!(
        b.stdout.contains("Deleted Volumes:\nlonely\nv1\n"),
        "{}",
        b.stdout
    );
    let (dk, b) = both(&["system", "df"]);
    assert_eq!(b.stdout, dk.stdout);
    let (dk, b) = both(&["system", "prune", "-a", "-f"]);
    assert_eq!(ids(&b), ids(&dk));
}
