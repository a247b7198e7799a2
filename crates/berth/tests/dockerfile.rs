//! Black-box test of `berth debug dockerfile-ast`: BuildKit's dump format
//! on stdout, BuildKit's error with its line on stderr.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn dockerfile_ast_dumps_like_buildkit_and_reports_errors_by_line() {
    let r = Root::new();
    let df = "# syntax=docker/dockerfile:1\nFROM alpine AS b\nRUN --mount=type=cache,target=/c \\\n    apk add x\nCOPY <<EOF /etc/x\nhello\nEOF\nCMD [\"sh\", \"-c\", \"echo é\\t\"]\n";
    let out = r.run_stdin(&["debug", "dockerfile-ast", "-"], df.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "(from \"alpine\" \"AS\" \"b\")\n\
         (run [\"--mount=type=cache,target=/c\"] \"apk add x\")\n\
         (copy \"<<EOF\" \"/etc/x\")\n\
         (cmd \"sh\" \"-c\" \"echo é\\t\")\n"
    );

    let path = r.dir.path().join("Dockerfile");
    std::fs::write(&path, "FROM alpine\n\nRUN <<EOF\necho\n").unwrap();
    let out = r.run(&["debug", "dockerfile-ast", path.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "Dockerfile:3: unterminated heredoc\n");
}
