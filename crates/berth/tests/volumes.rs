//! `berth volume ...` on a private root each: Docker's output, errors and
//! exit codes, and what lands on disk.
#![allow(clippy::unwrap_used)]

mod common;

use common::Root;

#[test]
fn create_inspect_ls_rm() {
    let r = Root::new();
    let o = r.run(&["volume", "create", "data"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "data\n"), "{}", o.stderr);
    // Creating again returns the same volume.
    assert_eq!(
        r.run(&["volume", "create", "--name", "data"]).stdout,
        "data\n"
    );
    let anon = r.run(&["volume", "create"]).stdout.trim().to_string();
    assert_eq!(anon.len(), 64);
    assert!(anon.bytes().all(|b| b.is_ascii_hexdigit()));
    let o = r.run(&[
        "volume",
        "create",
        "--label",
        "a=b",
        "--label",
        "c",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    let root = r.path();
    assert!(root.join("volumes/data/_data").is_dir());
    assert!(root.join("volumes/data/volume.json").is_file());
    assert_eq!(
        std::fs::read_dir(root.join("tmp")).unwrap().count(),
        0,
        "scratch left behind"
    );

    let o = r.run(&["volume", "inspect", "data", "tv"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let keys: Vec<&str> = v[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    assert_eq!(v[0]["Labels"], serde_json::Value::Null);
    assert_eq!(v[0]["Options"], serde_json::Value::Null);
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(
        v[0]["Mountpoint"],
        root.join("volumes/data/_data").display().to_string()
    );
    assert!(chrono::DateTime::parse_from_rfc3339(v[0]["CreatedAt"].as_str().unwrap()).is_ok());
    assert_eq!(v[1]["Labels"], serde_json::json!({"a": "b", "c": ""}));
    assert_eq!(
        v[1]["Options"],
        serde_json::json!({"device": "tmpfs", "o": "size=1m", "type": "tmpfs"})
    );
    let o = r.run(&[
        "volume",
        "inspect",
        "--format",
        "{{.Name}} {{json .Labels}}",
        "tv",
    ]);
    assert_eq!(o.stdout, "tv {\"a\":\"b\",\"c\":\"\"}\n");

    // Sorted by name, like the docker CLI (the anonymous name is random).
    let o = r.run(&["volume", "ls"]);
    let mut names = [anon.to_string(), "data".to_string(), "tv".to_string()];
    names.sort();
    let rows: String = names.iter().map(|n| format!("local     {n}\n")).collect();
    assert_eq!(o.stdout, format!("DRIVER    VOLUME NAME\n{rows}"));
    assert_eq!(
        r.run(&["volume", "ls", "-q"]).stdout,
        names.iter().map(|n| format!("{n}\n")).collect::<String>()
    );
    assert_eq!(
        r.run(&["volume", "ls", "-q", "-f", "name=at"]).stdout,
        "data\n"
    );
    assert_eq!(
        r.run(&["volume", "ls", "-q", "-f", "label=a=b"]).stdout,
        "tv\n"
    );
    assert_eq!(
        r.run(&["volume", "ls", "-q", "-f", "label=c"]).stdout,
        "tv\n"
    );
    assert_eq!(
        r.run(&["volume", "ls", "-q", "-f", "dangling=false"])
            .stdout,
        ""
    );
    let o = r.run(&[
        "volume",
        "ls",
        "--format",
        "{{.Name}}|{{.Labels}}|{{.Links}}",
        "-f",
        "name=tv",
    ]);
    assert_eq!(o.stdout, "tv|a=b,c=|N/A\n");

    let o = r.run(&["volume", "rm", "data", "nope"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "data\n");
    assert_eq!(
        o.stderr,
        "Error response from daemon: get nope: no such volume\n"
    );
    assert!(!root.join("volumes/data").exists());
    let o = r.run(&["volume", "rm", "-f", "nope"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "nope\n"));
}

#[test]
fn dockers_errors() {
    let r = Root::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["volume", "create", "a"],
            "Error response from daemon: create a: volume name is too short, names should be at least two alphanumeric characters\n",
        ),
        (
            &["volume", "create", "b@d"],
            "Error response from daemon: create b@d: \"b@d\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path\n",
        ),
        (
            &["volume", "create", "-d", "nope", "x"],
            "Error response from daemon: create x: error looking up volume plugin nope: plugin \"nope\" not found\n",
        ),
        (
            &["volume", "create", "-o", "bogus=1", "yy"],
            "Error response from daemon: create yy: invalid option: \"bogus\"\n",
        ),
        (
            &["volume", "create", "-o", "type=none", "yy"],
            "Error response from daemon: create yy: missing required option: \"device\"\n",
        ),
        (
            &["volume", "create", "--name", "n1", "n2"],
            "conflicting options: cannot specify a volume-name through both --name and as a positional arg\n",
        ),
        (
            &["volume", "inspect", "nope"],
            "Error response from daemon: get nope: no such volume\n",
        ),
        (
            &["volume", "ls", "-f", "bogus=1"],
            "Error response from daemon: Invalid filter 'bogus'\n",
        ),
        (
            &["volume", "ls", "-f", "dangling=maybe"],
            "Error response from daemon: Invalid filter 'dangling=[maybe]'\n",
        ),
    ];
    for (args, err) in cases {
        let o = r.run(args);
        assert_eq!(o.code, 1, "{args:?}");
        assert_eq!(o.stderr, *err, "{args:?}");
    }
    let o = r.run(&["volume", "create", "a1", "a2"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("berth: 'berth volume create' requires at most 1 argument"),
        "{}",
        o.stderr
    );
    let o = r.run(&["volume", "rm"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("berth: 'berth volume rm' requires at least 1 argument"),
        "{}",
        o.stderr
    );
    assert_eq!(r.run(&["volume", "ls", "-q"]).stdout, "");
}

#[test]
fn prune_takes_anonymous_unless_all() {
    let r = Root::new();
    let anon = r.run(&["volume", "create"]).stdout.trim().to_string();
    r.run(&["volume", "create", "named"]);
    std::fs::write(
        r.path().join(format!("volumes/{anon}/_data/f")),
        vec![0u8; 2000],
    )
    .unwrap();
    let o = r.run(&["volume", "prune", "-f"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 2kB\n")
    );
    // No confirmation, nothing removed.
    let o = r.run_stdin(&["volume", "prune", "-a"], b"n\n");
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with(
        "WARNING! This will remove all local volumes not used by at least one container."
    ));
    assert_eq!(r.run(&["volume", "ls", "-q"]).stdout, "named\n");
    let o = r.run(&["volume", "prune", "-a", "-f"]);
    assert_eq!(
        o.stdout,
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
    );
    assert_eq!(r.run(&["volume", "ls", "-q"]).stdout, "");
}

#[test]
fn named_volume_in_run_is_created_filled_and_kept_while_used() {
    let r = Root::new();
    r.busybox("busybox");
    // /etc of the image is copied up into the new volume, owners and
    // modes kept; writes go to the volume and outlive the container.
    let o = r.run(&[
        "run",
        "--name",
        "c1",
        "-v",
        "etcvol:/etc",
        "busybox",
        "sh",
        "-c",
        "ls /etc | grep -c passwd; echo hi > /etc/new",
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "1\n"), "{}", o.stderr);
    let data = r.path().join("volumes/etcvol/_data");
    assert!(data.join("passwd").is_file());
    assert_eq!(std::fs::read_to_string(data.join("new")).unwrap(), "hi\n");
    let o = r.run(&["inspect", "--format", "{{json .Mounts}}", "c1"]);
    let m: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(m[0]["Type"], "volume");
    assert_eq!(m[0]["Name"], "etcvol");
    assert_eq!(m[0]["Destination"], "/etc");
    assert_eq!(m[0]["RW"], true);

    // Used by c1 (stopped): rm refuses, prune -a keeps it, dangling=false lists it.
    let id = r
        .run(&["inspect", "--format", "{{.Id}}", "c1"])
        .stdout
        .trim()
        .to_string();
    let o = r.run(&["volume", "rm", "etcvol"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("Error response from daemon: remove etcvol: volume is in use - [{id}]\n")
    );
    assert_eq!(
        r.run(&["volume", "ls", "-q", "-f", "dangling=false"])
            .stdout,
        "etcvol\n"
    );
    r.run(&["volume", "prune", "-a", "-f"]);
    assert!(data.is_dir());

    // Read-only, and a second container sees the same (not re-copied) data.
    let o = r.run(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc:ro",
        "busybox",
        "sh",
        "-c",
        "cat /etc/new; touch /etc/x 2>/dev/null || echo ro",
    ]);
    assert_eq!(o.stdout, "hi\nro\n", "{}", o.stderr);

    assert_eq!(r.run(&["rm", "c1"]).code, 0);
    assert_eq!(r.run(&["volume", "rm", "etcvol"]).stdout, "etcvol\n");
    r.assert_no_leftovers();
}

#[test]
fn volume_flag_errors_are_dockerds() {
    let r = Root::new();
    r.busybox("busybox");
    let cases = [
        ("data:/x:xx", "invalid mode: xx"),
        ("a:/x:ro:z", "invalid volume specification: 'a:/x:ro:z'"),
        (
            "data:rel",
            "invalid volume specification: 'data:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            "x:/y",
            "create x: volume name is too short, names should be at least two alphanumeric characters",
        ),
    ];
    for (v, msg) in cases {
        let o = r.run(&["create", "-v", v, "busybox", "true"]);
        assert_eq!(o.code, 1, "{v}");
        assert_eq!(
            o.stderr,
            format!("Error response from daemon: {msg}\n"),
            "{v}"
        );
    }
    // Nothing was created on the way.
    assert_eq!(r.run(&["ps", "-aq"]).stdout, "");
    assert_eq!(r.run(&["volume", "ls", "-q"]).stdout, "");
}
