use super::*;
use crate::dockerfile::shell::EnvList;

fn arg(v: &str) -> Node {
    Node {
        value: v.to_string(),
        ..Default::default()
    }
}

fn node(kw: &str, args: &[&str]) -> Node {
    Node {
        value: kw.to_lowercase(),
        next: args.iter().map(|a| arg(a)).collect(),
        original: format!("{} {}", kw.to_uppercase(), args.join(" ")),
        start_line: 3,
        end_line: 3,
        ..Default::default()
    }
}

fn with_flags(mut n: Node, flags: &[&str]) -> Node {
    n.flags = flags.iter().map(|f| f.to_string()).collect();
    n
}

fn json(mut n: Node) -> Node {
    n.json = true;
    n
}

fn ok(n: &Node) -> Instruction {
    parse_instruction(n)
        .unwrap_or_else(|e| panic!("{e}"))
        .instruction
}

fn err(n: &Node) -> String {
    let e = parse_instruction(n).unwrap_err();
    assert_eq!(e.start_line, n.start_line);
    e.message
}

#[test]
fn from_forms() {
    let Instruction::From(f) = ok(&node("FROM", &["alpine:3", "AS", "Build"])) else {
        panic!()
    };
    assert_eq!((f.base.as_str(), f.name.as_str()), ("alpine:3", "build"));
    let n = with_flags(node("from", &["x"]), &["--platform=linux/arm64"]);
    let Instruction::From(f) = ok(&n) else {
        panic!()
    };
    assert_eq!((f.name.as_str(), f.platform.as_str()), ("", "linux/arm64"));

    assert_eq!(
        err(&node("from", &["a", "b"])),
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        err(&node("from", &["a", "to", "b"])),
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        err(&node("from", &["a", "as", "1st"])),
        "invalid name for build stage: \"1st\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        err(&with_flags(node("from", &["a"]), &["--platfrom=x"])),
        "unknown flag: --platfrom (did you mean platform?)"
    );
}

#[test]
fn run_forms_and_flags() {
    let n = with_flags(
        node("run", &["echo", "hi"]),
        &[
            "--mount=type=cache,target=/c",
            "--mount=from=base,target=/b",
            "--network=none",
            "--security=insecure",
            "--device=gpu,required",
        ],
    );
    let Instruction::Run(r) = ok(&n) else {
        panic!()
    };
    assert_eq!(r.cmd, ShellOrExec::Shell("echo hi".into()));
    assert_eq!(r.mount_specs.len(), 2);
    // Parse time reads only `from`.
    assert_eq!(r.mounts[1].from, "base");
    assert_eq!(r.mounts[0].mount_type, MountType::Bind);
    assert_eq!(
        (r.network.as_str(), r.security.as_str()),
        ("none", "insecure")
    );
    assert_eq!(r.devices[0].name, "gpu");
    assert_eq!(r.flags_used, ["mount", "network", "security", "device"]);

    let Instruction::Run(r) = ok(&json(node("run", &["echo", "a b"]))) else {
        panic!()
    };
    assert_eq!(r.cmd, ShellOrExec::Exec(vec!["echo".into(), "a b".into()]));
    assert_eq!(
        (r.network.as_str(), r.security.as_str()),
        ("default", "sandbox")
    );

    assert_eq!(
        err(&with_flags(node("run", &["x"]), &["--network=bridge"])),
        "invalid network mode \"bridge\""
    );
    assert_eq!(
        err(&with_flags(node("run", &["x"]), &["--security=open"])),
        "security \"open\" is not valid"
    );
    assert_eq!(
        err(&with_flags(node("run", &["x"]), &["--mount=from=$X"])),
        "'from' doesn't support variable expansion, define alias stage instead"
    );
}

#[test]
fn run_heredocs() {
    let mut n = node("run", &["<<EOF"]);
    n.heredocs = vec![Heredoc {
        name: "EOF".into(),
        content: "echo hi\n".into(),
        file_descriptor: 0,
        expand: true,
        chomp: false,
    }];
    let Instruction::Run(r) = ok(&n) else {
        panic!()
    };
    assert_eq!(r.heredocs[0].data, "echo hi\n");
    assert_eq!(r.cmd, ShellOrExec::Shell("<<EOF".into()));
}

#[test]
fn copy_and_add() {
    let n = with_flags(
        node("copy", &["a", "b", "/dst/"]),
        &[
            "--from=build",
            "--chown=1:2",
            "--chmod=755",
            "--link",
            "--exclude=*.md",
            "--exclude=x",
            "--parents=true",
        ],
    );
    let Instruction::Copy(c) = ok(&n) else {
        panic!()
    };
    assert_eq!(c.sources, ["a", "b"]);
    assert_eq!(c.dest, "/dst/");
    assert_eq!(
        (c.from.as_str(), c.chown.as_str(), c.chmod.as_str()),
        ("build", "1:2", "755")
    );
    assert!(c.link && c.parents);
    assert_eq!(c.exclude, ["*.md", "x"]);

    let n = with_flags(
        node("add", &["https://x/a.tgz", "/d"]),
        &[
            "--checksum=sha256:00",
            "--keep-git-dir=false",
            "--unpack",
            "--link=false",
        ],
    );
    let Instruction::Add(c) = ok(&n) else {
        panic!()
    };
    assert_eq!(c.checksum, "sha256:00");
    assert_eq!(
        (c.keep_git_dir, c.unpack, c.link),
        (Some(false), Some(true), false)
    );
    let Instruction::Add(c) = ok(&node("add", &["a", "b"])) else {
        panic!()
    };
    assert_eq!((c.keep_git_dir, c.unpack), (None, None));

    assert_eq!(
        err(&node("copy", &["a"])),
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(
        err(&with_flags(node("copy", &["a", "b"]), &["--from"])),
        "missing a value on flag: --from"
    );
    assert_eq!(
        err(&with_flags(node("copy", &["a", "b"]), &["--checksum=x"])),
        "unknown flag: --checksum"
    );
    assert_eq!(
        err(&with_flags(node("add", &["a", "b"]), &["--link", "--link"])),
        "duplicate flag specified: --link"
    );
    assert_eq!(
        err(&node("copy", &["a", "<<EOF"])),
        "COPY cannot accept a heredoc as a destination"
    );
}

#[test]
fn copy_heredoc_sources() {
    let mut n = node("copy", &["<<-EOF", "<<'RAW'", "file", "/d"]);
    n.heredocs = vec![
        Heredoc {
            name: "EOF".into(),
            content: "\t\tline $X\n\tend\n".into(),
            chomp: true,
            expand: true,
            file_descriptor: 0,
        },
        Heredoc {
            name: "RAW".into(),
            content: "$X\n".into(),
            chomp: false,
            expand: false,
            file_descriptor: 0,
        },
    ];
    let Instruction::Copy(c) = ok(&n) else {
        panic!()
    };
    assert_eq!(c.sources, ["file"]);
    assert_eq!(c.source_contents.len(), 2);
    assert_eq!(c.source_contents[0].data, "line $X\nend\n");
    assert!(c.source_contents[0].expand);
    assert_eq!(c.source_contents[1].path, "RAW");
    assert!(!c.source_contents[1].expand);

    let mut cmd = parse_instruction(&n).unwrap();
    cmd.expand(&Lex::new('\\'), &EnvList::from_slice(&["X=1"]))
        .unwrap();
    let Instruction::Copy(c) = cmd.instruction else {
        panic!()
    };
    assert_eq!(c.source_contents[0].data, "line 1\nend\n");
    assert_eq!(c.source_contents[1].data, "$X\n");
}

#[test]
fn env_label_pairs() {
    let n = node("env", &["A", "1", "=", "B", "two words", ""]);
    let Instruction::Env(kv) = ok(&n) else {
        panic!()
    };
    assert_eq!(kv[0].key, "A");
    assert!(!kv[0].no_delim);
    assert_eq!(kv[1].value, "two words");
    assert!(kv[1].no_delim);
    assert_eq!(err(&node("env", &[])), "ENV requires at least one argument");
    assert_eq!(
        err(&node("env", &["", "v", "="])),
        "ENV names can not be blank"
    );
    assert_eq!(
        err(&node("label", &["a", "b"])),
        "Bad input to LABEL, too many arguments"
    );
    assert_eq!(
        err(&with_flags(node("env", &["a", "b", "="]), &["--x=1"])),
        "unknown flag: --x"
    );
}

#[test]
fn arg_forms() {
    let mut n = node("arg", &["A", "B=2", "C="]);
    n.prev_comment = vec!["B the second one".into()];
    let Instruction::Arg(a) = ok(&n) else {
        panic!()
    };
    assert_eq!((a[0].key.as_str(), a[0].value.as_deref()), ("A", None));
    assert_eq!((a[1].key.as_str(), a[1].value.as_deref()), ("B", Some("2")));
    assert_eq!(a[1].doc_comment, "the second one");
    assert_eq!(a[2].value.as_deref(), Some(""));
    assert_eq!(err(&node("arg", &["=x"])), "ARG names can not be blank");
    assert_eq!(err(&node("arg", &[])), "ARG requires at least one argument");
    // BuildKit does not check ARG flags.
    assert!(parse_instruction(&with_flags(node("arg", &["A"]), &["--x"])).is_ok());
}

#[test]
fn single_argument_instructions() {
    assert_eq!(
        ok(&node("user", &["app:app"])),
        Instruction::User("app:app".into())
    );
    assert_eq!(
        ok(&node("workdir", &["/app"])),
        Instruction::Workdir("/app".into())
    );
    assert_eq!(
        ok(&node("stopsignal", &["SIGINT"])),
        Instruction::Stopsignal("SIGINT".into())
    );
    assert_eq!(
        ok(&node("maintainer", &["me"])),
        Instruction::Maintainer("me".into())
    );
    assert_eq!(
        err(&node("user", &["a", "b"])),
        "USER requires exactly one argument"
    );
    assert_eq!(
        err(&node("workdir", &[])),
        "WORKDIR requires exactly one argument"
    );
    assert_eq!(
        err(&node("stopsignal", &[])),
        "STOPSIGNAL requires exactly one argument"
    );
    assert_eq!(
        err(&node("maintainer", &[])),
        "MAINTAINER requires exactly one argument"
    );
}

#[test]
fn expose_volume_shell_cmd_entrypoint() {
    assert_eq!(
        ok(&node("expose", &["8080", "443/tcp", "80"])),
        Instruction::Expose(vec!["443/tcp".into(), "80".into(), "8080".into()])
    );
    assert_eq!(
        err(&node("expose", &[])),
        "EXPOSE requires at least one argument"
    );
    assert_eq!(
        ok(&node("volume", &[" /data ", "/x"])),
        Instruction::Volume(vec!["/data".into(), "/x".into()])
    );
    assert_eq!(
        err(&node("volume", &[" "])),
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(
        ok(&json(node("shell", &["/bin/bash", "-c"]))),
        Instruction::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(
        err(&node("shell", &["bash"])),
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        err(&json(node("shell", &[]))),
        "SHELL requires at least one argument"
    );
    assert_eq!(
        ok(&node("cmd", &["a", "b"])),
        Instruction::Cmd(ShellOrExec::Shell("a b".into()))
    );
    assert_eq!(
        ok(&json(node("entrypoint", &[]))),
        Instruction::Entrypoint(ShellOrExec::Exec(vec![]))
    );
}

#[test]
fn healthcheck_forms() {
    let n = with_flags(
        node("healthcheck", &["CMD", "curl", "-f", "x"]),
        &[
            "--interval=30s",
            "--timeout=1m30s",
            "--start-period=1.5s",
            "--start-interval=0",
            "--retries=3",
        ],
    );
    let Instruction::Healthcheck(h) = ok(&n) else {
        panic!()
    };
    assert_eq!(h.test, ["CMD-SHELL", "curl -f x"]);
    assert_eq!(h.interval, Duration::from_secs(30));
    assert_eq!(h.timeout, Duration::from_secs(90));
    assert_eq!(h.start_period, Duration::from_millis(1500));
    assert_eq!(h.start_interval, Duration::ZERO);
    assert_eq!(h.retries, 3);

    let Instruction::Healthcheck(h) = ok(&json(node("healthcheck", &["cmd", "a", "b"]))) else {
        panic!()
    };
    assert_eq!(h.test, ["CMD", "a", "b"]);
    let Instruction::Healthcheck(h) = ok(&with_flags(node("healthcheck", &["none"]), &["--bogus"]))
    else {
        panic!()
    };
    assert_eq!(h.test, ["NONE"]);

    let hc = |flags: &[&str], args: &[&str]| err(&with_flags(node("healthcheck", args), flags));
    assert_eq!(hc(&[], &[]), "HEALTHCHECK requires at least one argument");
    assert_eq!(
        hc(&[], &["NONE", "x"]),
        "HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(hc(&[], &["CMD"]), "Missing command after HEALTHCHECK CMD");
    assert_eq!(
        hc(&[], &["RUN", "x"]),
        "Unknown type \"RUN\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        hc(&["--interval=10us"], &["CMD", "x"]),
        "Interval \"interval\" cannot be less than 1ms"
    );
    assert_eq!(
        hc(&["--timeout=-1s"], &["CMD", "x"]),
        "Interval \"timeout\" cannot be less than 1ms"
    );
    assert_eq!(
        hc(&["--interval=5"], &["CMD", "x"]),
        "time: missing unit in duration \"5\""
    );
    assert_eq!(
        hc(&["--interval=5d"], &["CMD", "x"]),
        "time: unknown unit \"d\" in duration \"5d\""
    );
    assert_eq!(
        hc(&["--retries=x"], &["CMD", "x"]),
        "strconv.ParseInt: parsing \"x\": invalid syntax"
    );
    assert_eq!(
        hc(&["--retries=-1"], &["CMD", "x"]),
        "--retries cannot be negative (-1)"
    );
    assert_eq!(
        hc(&["--retries=9999999999"], &["CMD", "x"]),
        "strconv.ParseInt: parsing \"9999999999\": value out of range"
    );
}

#[test]
fn go_durations() {
    assert_eq!(parse_go_duration("0"), Ok(0));
    assert_eq!(parse_go_duration("1h2m3.5s"), Ok(3_723_500_000_000));
    assert_eq!(parse_go_duration(".5ms"), Ok(500_000));
    assert_eq!(parse_go_duration("-2ns"), Ok(-2));
    assert_eq!(parse_go_duration("1µs"), Ok(1000));
    assert!(parse_go_duration("").is_err());
    assert!(parse_go_duration(".s").is_err());
    assert!(parse_go_duration("3000000h").is_err());
}

#[test]
fn onbuild_forms() {
    let mut n = node("onbuild", &[]);
    n.next = vec![Node {
        children: vec![node("run", &["echo", "hi"])],
        ..Default::default()
    }];
    n.original = "  onbuild  RUN echo hi".into();
    assert_eq!(ok(&n), Instruction::Onbuild("RUN echo hi".into()));

    let mut nested = n.clone();
    nested.next[0].children[0] = node("onbuild", &[]);
    assert_eq!(
        err(&nested),
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    nested.next[0].children[0] = node("from", &["x"]);
    assert_eq!(err(&nested), "FROM isn't allowed as an ONBUILD trigger");
    nested.next[0].children[0] = node("maintainer", &["x"]);
    assert_eq!(
        err(&nested),
        "MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err(&node("onbuild", &[])),
        "ONBUILD requires at least one argument"
    );

    let mut h = n.clone();
    h.original = "ONBUILD RUN <<EOF".into();
    h.heredocs = vec![Heredoc {
        name: "EOF".into(),
        content: "echo x\n".into(),
        ..Default::default()
    }];
    assert_eq!(
        ok(&h),
        Instruction::Onbuild("RUN <<EOF\necho x\nEOF".into())
    );
}

#[test]
fn unknown_instruction() {
    assert_eq!(
        err(&node("copx", &["a"])),
        "unknown instruction: copx (did you mean copy?)"
    );
    assert_eq!(
        err(&node("frobnicate", &["a"])),
        "unknown instruction: frobnicate"
    );
}

fn dockerfile(nodes: Vec<Node>) -> Node {
    Node {
        children: nodes,
        ..Default::default()
    }
}

#[test]
fn stages_and_meta_args() {
    let mut from2 = node("from", &["base", "AS", "Final"]);
    from2.prev_comment = vec!["final the shipped image".into()];
    let ast = dockerfile(vec![
        node("arg", &["V=1"]),
        node("from", &["alpine:$V", "AS", "base"]),
        node("arg", &["X"]),
        node("run", &["make"]),
        from2,
        node("copy", &["a", "b"]),
    ]);
    let (stages, meta) = parse(&ast).unwrap();
    assert_eq!(meta.len(), 1);
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name, "base");
    assert_eq!(stages[0].commands.len(), 2);
    assert_eq!(stages[1].name, "final");
    assert_eq!(stages[1].doc_comment, "the shipped image");
    assert_eq!(stages[1].source_code, "FROM base AS Final");
    assert_eq!(find_stage(&stages, "FINAL"), Some(1));
    assert_eq!(find_stage(&stages, "nope"), None);

    let mut bad = node("copy", &["a"]);
    bad.start_line = 7;
    let e = parse(&dockerfile(vec![node("from", &["x"]), bad])).unwrap_err();
    assert_eq!(e.start_line, 7);
    assert_eq!(
        e.message,
        "dockerfile parse error on line 7: COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );

    let e = parse(&dockerfile(vec![node("run", &["x"])])).unwrap_err();
    assert_eq!(e.message, "no build stage in current context");
}

#[test]
fn expansion_reports_variables() {
    let lex = Lex::new('\\');
    let env = EnvList::from_slice(&["DIR=/srv", "U=app", "P=80 443", "T=/cache"]);

    let mut c = parse_instruction(&with_flags(
        node("copy", &["$DIR/a", "${DST:-/d}"]),
        &["--chown=$U", "--from=$NOTEXPANDED"],
    ))
    .unwrap();
    let seen = c.expand(&lex, &env).unwrap();
    let Instruction::Copy(cp) = &c.instruction else {
        panic!()
    };
    assert_eq!(cp.sources, ["/srv/a"]);
    assert_eq!(cp.dest, "/d");
    assert_eq!(cp.chown, "app");
    assert_eq!(cp.from, "$NOTEXPANDED");
    assert_eq!(seen.matched, ["DIR", "U"].map(String::from).into());
    assert_eq!(seen.unmatched, ["DST"].map(String::from).into());

    let mut e = parse_instruction(&node("expose", &["$P", "8080"])).unwrap();
    let seen = e.expand(&lex, &env).unwrap();
    assert_eq!(
        e.instruction,
        Instruction::Expose(vec!["80".into(), "443".into(), "8080".into()])
    );
    assert!(seen.matched.contains("P"));

    let mut r = parse_instruction(&with_flags(
        node("run", &["echo $DIR"]),
        &["--mount=type=cache,target=$T,sharing=locked"],
    ))
    .unwrap();
    let seen = r.expand(&lex, &env).unwrap();
    let Instruction::Run(run) = &r.instruction else {
        panic!()
    };
    assert_eq!(run.cmd, ShellOrExec::Shell("echo $DIR".into()));
    assert_eq!(run.mounts[0].target, "/cache");
    assert_eq!(run.mounts[0].mount_type, MountType::Cache);
    assert_eq!(seen.matched, ["T"].map(String::from).into());

    // ARG is left to the executor.
    let mut a = parse_instruction(&node("arg", &["X=$DIR"])).unwrap();
    a.expand(&lex, &env).unwrap();
    let Instruction::Arg(args) = &a.instruction else {
        panic!()
    };
    assert_eq!(args[0].value.as_deref(), Some("$DIR"));

    let mut w = parse_instruction(&node("workdir", &["${NOPE:?set it}"])).unwrap();
    let e = w.expand(&lex, &env).unwrap_err();
    assert_eq!(
        e.message,
        "failed to process \"${NOPE:?set it}\": NOPE: set it"
    );
    assert_eq!(e.start_line, 3);

    let mut r =
        parse_instruction(&with_flags(node("run", &["x"]), &["--mount=type=bogus"])).unwrap();
    assert_eq!(
        r.expand(&lex, &env).unwrap_err().message,
        "unsupported mount type \"bogus\""
    );
}

#[test]
fn expand_words_covers_buildkit_set() {
    let mut upper = |w: &str| -> Result<String, String> { Ok(w.to_uppercase()) };
    let mut i = Instruction::Env(vec![KeyValuePair {
        key: "k".into(),
        value: "v".into(),
        no_delim: false,
    }]);
    i.expand_words(&mut upper).unwrap();
    let Instruction::Env(kv) = &i else { panic!() };
    assert_eq!((kv[0].key.as_str(), kv[0].value.as_str()), ("K", "V"));

    for (mut i, want) in [
        (Instruction::User("u".into()), Instruction::User("U".into())),
        (
            Instruction::Stopsignal("s".into()),
            Instruction::Stopsignal("S".into()),
        ),
        (
            Instruction::Volume(vec!["v".into()]),
            Instruction::Volume(vec!["V".into()]),
        ),
        (
            Instruction::Maintainer("m".into()),
            Instruction::Maintainer("m".into()),
        ),
        (
            Instruction::Onbuild("o".into()),
            Instruction::Onbuild("o".into()),
        ),
        (
            Instruction::Shell(vec!["s".into()]),
            Instruction::Shell(vec!["s".into()]),
        ),
    ] {
        let supports = i.supports_expansion();
        i.expand_words(&mut upper).unwrap();
        assert_eq!(i, want);
        assert_eq!(
            supports,
            !matches!(
                want,
                Instruction::Maintainer(_) | Instruction::Onbuild(_) | Instruction::Shell(_)
            )
        );
    }
}

#[test]
fn stage_expansion_uses_meta_args() {
    let ast = dockerfile(vec![with_flags(
        node("from", &["img:${TAG}"]),
        &["--platform=$BUILDPLATFORM"],
    )]);
    let (mut stages, _) = parse(&ast).unwrap();
    let seen = stages[0]
        .expand(
            &Lex::new('\\'),
            &EnvList::from_slice(&["TAG=1", "BUILDPLATFORM=linux/amd64"]),
        )
        .unwrap();
    assert_eq!(stages[0].base_name, "img:1");
    assert_eq!(stages[0].platform, "linux/amd64");
    assert_eq!(seen.matched.len(), 2);
}

#[test]
fn heredoc_words() {
    let h = heredoc_word("<<EOF").unwrap();
    assert_eq!((h.name.as_str(), h.expand, h.chomp), ("EOF", true, false));
    let h = heredoc_word("3<<-\"E F\"").unwrap();
    assert_eq!(
        (h.name.as_str(), h.expand, h.chomp, h.file_descriptor),
        ("E F", false, true, 3)
    );
    assert!(heredoc_word("<<").is_none());
    assert!(heredoc_word("a<<EOF").is_none());
    assert!(heredoc_word("<<a b").is_none());
    assert_eq!(
        super::super::parser::chomp_content("\ta\n\t\tb\nc"),
        "a\nb\nc"
    );
}
