//! `volume ls -f` and `volume prune --filter` through the CLI, with the
//! outcomes and words of docker 20.10 (CLI and daemon) given the same
//! volumes.
#![allow(clippy::unwrap_used)]

mod common;

use common::Root;

fn ls(r: &Root, filters: &[&str]) -> String {
    let mut args = vec!["volume", "ls", "-q"];
    for f in filters {
        args.extend(["-f", f]);
    }
    let o = r.run(&args);
    assert_eq!(o.code, 0, "{filters:?}: {}", o.stderr);
    o.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn filters_as_docker_applies_them() {
    let r = Root::new();
    for v in ["data", "mydata", "data2", "abc", "a.c"] {
        r.ok(&["volume", "create", v]);
    }
    r.ok(&["volume", "create", "--label", "a=b", "--label", "c", "lab"]);

    assert_eq!(ls(&r, &["name=data"]), "data data2 mydata");
    assert_eq!(ls(&r, &["name=^data"]), "data data2");
    assert_eq!(ls(&r, &["name=a\\.c"]), "a.c");
    assert_eq!(ls(&r, &["name=["]), "");
    // The CLI trims and lowercases.
    assert_eq!(ls(&r, &[" NAME = abc "]), "abc");
    assert_eq!(ls(&r, &["label= a"]), "lab");
    assert_eq!(ls(&r, &["driver=loc"]), "");
    let all = "a.c abc data data2 lab mydata";
    assert_eq!(ls(&r, &["dangling=x", "dangling=true"]), all);

    let o = r.run(&["volume", "ls", "-f", "foo"]);
    assert_eq!(o.code, 125);
    assert_eq!(
        o.stderr,
        "invalid argument \"foo\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n\n\
         Usage:  berth volume ls [OPTIONS]\n\nRun 'berth volume ls --help' for more information\n"
    );
    let o = r.run(&["volume", "ls", "-f", "dangling=x", "-f", "dangling=y"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "Error response from daemon: Invalid filter 'dangling=[x y]'\n"
        )
    );
    let o = r.run(&["volume", "ls", "-f", "Bogus=1"]);
    assert_eq!(
        o.stderr,
        "Error response from daemon: Invalid filter 'bogus'\n"
    );

    // prune takes labels only; `label!` keeps what matches.
    for k in ["name", "dangling", "driver"] {
        let o = r.run(&["volume", "prune", "-f", "--filter", &format!("{k}=x")]);
        assert_eq!(
            (o.code, o.stderr),
            (
                1,
                format!("Error response from daemon: Invalid filter '{k}'\n")
            )
        );
    }
    let o = r.run(&["volume", "prune", "--filter", "foo"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr
            .starts_with("invalid argument \"foo\" for \"--filter\" flag:"),
        "{}",
        o.stderr
    );
    let o = r.run(&["volume", "prune", "-a", "-f", "--filter", "label!=a"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(ls(&r, &[]), "lab");
    let o = r.run(&["volume", "ls", "-f", "label!=a"]);
    assert_eq!(
        o.stderr,
        "Error response from daemon: Invalid filter 'label!'\n"
    );
}
