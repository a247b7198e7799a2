//! The parser's rules, each on a small Dockerfile of our own, checked
//! through BuildKit's dump format and the tree fields.
#![allow(clippy::unwrap_used)]

use super::*;

fn dump(src: &str) -> String {
    parse_str(src).unwrap().ast.dump()
}

fn err(src: &str) -> ParseError {
    parse_str(src).unwrap_err()
}

#[test]
fn instructions_dump_one_line_each() {
    let src = "FROM busybox AS base\nRUN echo hi\nworkdir /app\n";
    assert_eq!(
        dump(src),
        "(from \"busybox\" \"AS\" \"base\")\n(run \"echo hi\")\n(workdir \"/app\")"
    );
    let ast = parse_str(src).unwrap().ast;
    assert_eq!(ast.children[2].value, "workdir");
    assert_eq!(ast.children[2].original, "workdir /app");
    assert_eq!((ast.start_line, ast.end_line), (1, 3));
}

#[test]
fn directives_only_at_the_top() {
    let r = parse_str("# ESCAPE = `\n# syntax=docker/dockerfile:1\nRUN a `\n  b\n").unwrap();
    assert_eq!(r.escape_token, '`');
    assert_eq!(r.ast.dump(), "(run \"a   b\")");
    assert!(r.ast.children[0].prev_comment.is_empty());

    // After another comment, an empty line or an instruction: a comment.
    for src in [
        "# hello\n# escape=`\nRUN a \\\n b\n",
        "\n# escape=`\nRUN a \\\n b\n",
        "FROM x\n# escape=`\nRUN a \\\n b\n",
    ] {
        let r = parse_str(src).unwrap();
        assert_eq!(r.escape_token, '\\', "{src}");
        assert!(r.ast.dump().ends_with("(run \"a  b\")"), "{src}");
    }
    // An unknown directive ends the directives too.
    let r = parse_str("# foo=bar\n# escape=`\nRUN x\n").unwrap();
    assert_eq!(r.escape_token, '\\');
    assert_eq!(r.ast.children[0].prev_comment, ["foo=bar", "escape=`"]);
}

#[test]
fn directive_errors_point_at_the_line_before() {
    let e = err("# escape=`\n# Escape=\\\nFROM x\n");
    assert_eq!(e.message, "only one escape parser directive can be used");
    assert_eq!(e.line(), 1);
    let e = err("# check=skip=all\n#syntax=a\n#CHECK=x\nFROM x\n");
    assert_eq!(e.message, "only one check parser directive can be used");
    assert_eq!(e.line(), 2);
    let e = err("# escape=x\nFROM x\n");
    assert_eq!(e.message, "invalid escape token 'x' does not match ` or \\");
    assert_eq!(e.line(), 0);
    assert_eq!(
        e.display_for("Dockerfile"),
        "Dockerfile: invalid escape token 'x' does not match ` or \\"
    );
}

#[test]
fn continuations_comments_and_blank_lines() {
    let src = "RUN a \\\n# inside\n    b \\\n\n    c\n";
    let r = parse_str(src).unwrap();
    assert_eq!(r.ast.dump(), "(run \"a     b     c\")");
    assert_eq!(
        (r.ast.children[0].start_line, r.ast.children[0].end_line),
        (1, 5)
    );
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(
        r.warnings[0].short,
        "Empty continuation line found in: RUN a     b     c"
    );
    assert_eq!(r.warnings[0].line, 5);
    // A comment is not an empty line.
    assert!(parse_str("RUN a \\\n  # c\n  b\n")
        .unwrap()
        .warnings
        .is_empty());
    // An escaped escape is no continuation; a lone one is.
    assert_eq!(
        dump("RUN a \\\\\nRUN b\n"),
        "(run \"a \\\\\\\\\")\n(run \"b\")"
    );
    assert_eq!(dump("\\\nRUN b\n"), "(run \"b\")");
    // Blanks after the token still continue the line.
    assert_eq!(dump("RUN a \\ \t\nb\n"), "(run \"a b\")");
}

#[test]
fn continuation_at_eof_and_leading_space() {
    assert_eq!(dump("  \t FROM x\nRUN a \\"), "(from \"x\")\n(run \"a\")");
    assert_eq!(dump("RUN a \\\n"), "(run \"a\")");
}

#[test]
fn crlf_and_bom() {
    let r = parse(b"\xef\xbb\xbf# escape=`\r\nFROM x\r\nRUN a `\r\n b\r\n").unwrap();
    assert_eq!(r.escape_token, '`');
    assert_eq!(r.ast.dump(), "(from \"x\")\n(run \"a  b\")");
}

#[test]
fn env_label_and_arg() {
    assert_eq!(
        dump("ENV A=1 B=\"x y\" C=\\ z\nENV D e f\nLABEL k=v\nARG x y=1 z=\n"),
        "(env \"A\" \"1\" \"=\" \"B\" \"\\\"x y\\\"\" \"=\" \"C\" \"\\\\ z\" \"=\")\n\
         (env \"D\" \"e f\" \"\")\n\
         (label \"k\" \"v\" \"=\")\n\
         (arg \"x\" \"y=1\" \"z=\")"
    );
    assert_eq!(dump("ENV\nARG\n"), "(env)\n(arg)");
    let e = err("FROM x\nENV PATH\n");
    assert_eq!(
        (e.message.as_str(), e.line()),
        ("ENV must have two arguments", 2)
    );
    assert_eq!(err("LABEL x\n").message, "LABEL must have two arguments");
    assert_eq!(
        err("ENV a=b c\n").message,
        "Syntax error - can't find = in \"c\". Must be of the form: name=value"
    );
}

#[test]
fn exec_and_shell_forms() {
    let r = parse_str("CMD [\"a\", \"b c\"]\nRUN [\"a\" 'b']\nENTRYPOINT [ ]\nSHELL [\"sh\",\n")
        .unwrap();
    let c = &r.ast.children;
    assert!(c[0].json && !c[1].json && c[2].json && !c[3].json);
    assert_eq!(
        r.ast.dump(),
        "(cmd \"a\" \"b c\")\n(run \"[\\\"a\\\" 'b']\")\n(entrypoint)\n(shell \"[\\\"sh\\\",\")"
    );
    let e = err("FROM x\n\nCMD [\"a\", 1]\n");
    assert_eq!(
        e.message,
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(e.line(), 3);
}

#[test]
fn copy_add_volume_lists() {
    assert_eq!(
        dump("COPY --from=b --chown=1:1 a  b /c/\nADD [\"x y\", \"/z\"]\nVOLUME /a /b\n"),
        "(copy [\"--from=b\" \"--chown=1:1\"] \"a\" \"b\" \"/c/\")\n\
         (add \"x y\" \"/z\")\n\
         (volume \"/a\" \"/b\")"
    );
}

#[test]
fn flags_stop_at_the_first_other_word() {
    assert_eq!(
        dump("RUN --mount=type=cache,target=\"/a b\" --network=none -- --x echo\n"),
        "(run [\"--mount=type=cache,target=/a b\" \"--network=none\"] \"--x echo\")"
    );
    assert_eq!(dump("RUN -x --y\n"), "(run \"-x --y\")");
    assert_eq!(
        dump("FROM --platform=$P img\n"),
        "(from [\"--platform=$P\"] \"img\")"
    );
    // Bytes are taken one at a time, as BuildKit does.
    assert_eq!(dump("RUN --x=é a\n"), "(run [\"--x=Ã©\"] \"a\")");
}

#[test]
fn healthcheck() {
    assert_eq!(
        dump(
            "HEALTHCHECK NONE\nHEALTHCHECK --interval=5s CMD curl -f x\nHEALTHCHECK CMD [\"a\"]\n"
        ),
        "(healthcheck \"NONE\")\n\
         (healthcheck [\"--interval=5s\"] \"CMD\" \"curl -f x\")\n\
         (healthcheck \"CMD\" \"a\")"
    );
}

#[test]
fn onbuild_nests_an_instruction() {
    let r = parse_str("ONBUILD RUN --mount=x echo hi\nONBUILD\n").unwrap();
    assert_eq!(
        r.ast.dump(),
        "(onbuild (run [\"--mount=x\"] \"echo hi\"))\n(onbuild)"
    );
    let inner = &r.ast.children[0].next[0].children[0];
    assert_eq!(
        (inner.value.as_str(), inner.original.as_str()),
        ("run", "RUN --mount=x echo hi")
    );
    // The parser accepts these; the instruction rule refuses them.
    let r = parse_str("ONBUILD ONBUILD RUN x\nONBUILD from x\nONBUILD maintainer me\n").unwrap();
    let msgs: Vec<String> = r
        .ast
        .children
        .iter()
        .map(|c| check_onbuild_trigger(c).unwrap_err().message)
        .collect();
    assert_eq!(
        msgs,
        [
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            "FROM isn't allowed as an ONBUILD trigger",
            "MAINTAINER isn't allowed as an ONBUILD trigger",
        ]
    );
    assert!(check_onbuild_trigger(&parse_str("ONBUILD RUN x").unwrap().ast.children[0]).is_ok());
}

#[test]
fn unknown_instructions_keep_an_empty_argument() {
    assert_eq!(dump("FROM x\nFOO bar baz\n"), "(from \"x\")\n(foo \"\")");
}

#[test]
fn heredocs() {
    let src = "FROM x\nRUN <<EOF\necho hi\nEOF\nCOPY <<A 3<<-\"B\" /dest\na\nA\n\tb\n\tB\nRUN echo <<'NO'\n";
    let r = parse_str(&format!("{src}$x\nNO\n")).unwrap();
    let c = &r.ast.children;
    assert_eq!(
        r.ast.dump(),
        "(from \"x\")\n(run \"<<EOF\")\n(copy \"<<A\" \"3<<-\\\"B\\\"\" \"/dest\")\n(run \"echo <<'NO'\")"
    );
    assert_eq!(c[1].heredocs.len(), 1);
    assert_eq!(
        (
            c[1].heredocs[0].name.as_str(),
            c[1].heredocs[0].content.as_str()
        ),
        ("EOF", "echo hi\n")
    );
    assert!(c[1].heredocs[0].expand && !c[1].heredocs[0].chomp);
    assert_eq!((c[1].start_line, c[1].end_line), (2, 4));
    let [a, b] = &c[2].heredocs[..] else {
        panic!("two heredocs")
    };
    assert_eq!(
        (a.name.as_str(), a.content.as_str(), a.file_descriptor),
        ("A", "a\n", 0)
    );
    assert_eq!(
        (b.name.as_str(), b.content.as_str(), b.file_descriptor),
        ("B", "\tb\n", 3)
    );
    assert!(b.chomp && !b.expand);
    assert_eq!(chomp_content(&b.content), "b\n");
    assert_eq!(c[3].heredocs[0].content, "$x\n");
    assert!(!c[3].heredocs[0].expand);
}

#[test]
fn heredocs_only_where_buildkit_reads_them() {
    // Not for other instructions, the exec form, or quoted markers.
    let r = parse_str("USER <<X\nX\nRUN [\"<<Y\"]\nRUN \"<<Z\"\n").unwrap();
    assert_eq!(r.ast.children.len(), 4);
    assert!(r.ast.children.iter().all(|c| c.heredocs.is_empty()));
    // Behind ONBUILD, the outer instruction holds them.
    let r = parse_str("ONBUILD RUN <<E\nx\nE\n").unwrap();
    assert_eq!(r.ast.children[0].heredocs[0].content, "x\n");
    // CRLF endings stay in the body; the terminator matches without them.
    let r = parse_str("RUN <<E\r\nx\r\nE\r\n").unwrap();
    assert_eq!(r.ast.children[0].heredocs[0].content, "x\r\n");
}

#[test]
fn heredoc_names() {
    let name = |s: &str| parse_heredoc(s).unwrap().map(|h| (h.name, h.expand));
    assert_eq!(name("<<END"), Some(("END".into(), true)));
    assert_eq!(name("<<\t END"), Some(("END".into(), true)));
    assert_eq!(name("<<\"END\""), Some(("END".into(), false)));
    assert_eq!(name("<<E'N'D"), Some(("END".into(), false)));
    assert_eq!(name("<<it\\'s"), Some(("it's".into(), true)));
    assert_eq!(name("<<'a b c'"), Some(("a b c".into(), false)));
    assert_eq!(name("<<${VAR}"), Some(("${VAR}".into(), true)));
    assert_eq!(
        parse_heredoc("12<<-X")
            .unwrap()
            .map(|h| (h.file_descriptor, h.chomp)),
        Some((12, true))
    );
    for not in [
        "",
        "END",
        "<<",
        "<<-",
        "<END",
        "<<<END",
        "<<END cat",
        "x<<END",
    ] {
        assert_eq!(name(not), None, "{not}");
    }
    assert_eq!(
        parse_heredoc("<<\"END").unwrap_err(),
        "failed to process \"\\\"END\": unexpected end of statement while looking for matching double-quote"
    );
}

#[test]
fn heredoc_errors() {
    let e = err("FROM x\nRUN <<EOF\necho\n");
    assert_eq!(e.message, "unterminated heredoc");
    assert_eq!((e.start_line, e.end_line), (2, 3));
    // A line the shell lexer rejects just has no heredocs, as in BuildKit.
    let r = parse_str("FROM x\nRUN cat <<\"EOF\nEOF\n").unwrap();
    assert_eq!(r.ast.children.len(), 3);
    assert!(r.ast.children[1].heredocs.is_empty());
}

#[test]
fn files_without_instructions() {
    for src in ["", "\n\n", "  \t\n", "# just\n# comments\n"] {
        assert_eq!(err(src).message, "file with no instructions", "{src:?}");
    }
    assert_eq!(err("# a\n# b\n").line(), 2);
    // A lone continuation makes an instruction with no name, as in BuildKit.
    assert_eq!(dump("  \\\n"), "(\"\")");
}

#[test]
fn overlong_lines_fail() {
    let long = "a".repeat(MAX_LINE);
    let e = err(&format!("FROM x\nLABEL test={long}\n"));
    assert_eq!(
        e.message,
        "dockerfile line greater than max allowed size of 65535"
    );
    assert_eq!(e.line(), 1);
    // One byte shorter (with its newline) is fine.
    let ok = "a".repeat(MAX_LINE - 1 - "LABEL t=".len());
    assert!(parse_str(&format!("FROM x\nLABEL t={ok}\n")).is_ok());
}

#[test]
fn dump_quotes_like_go() {
    assert_eq!(
        dump("RUN echo \"é\t\u{1}\u{a0}\u{200b}\u{1f600}\"\n"),
        "(run \"echo \\\"é\\t\\x01\\u00a0\\u200b\u{1f600}\\\"\")"
    );
}

#[test]
fn prev_comments_are_kept() {
    let r = parse_str("# a\n#\n# b\n  # c\nFROM x\n").unwrap();
    assert_eq!(r.ast.children[0].prev_comment, ["b", "# c"]);
}
