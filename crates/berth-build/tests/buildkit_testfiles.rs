//! Runs BuildKit's own parser test cases (`testfiles/*` must dump exactly
//! as their `result`, `testfiles-negative/*` must fail) against our parser.
//! BuildKit's files are not in this repository: they are read from a
//! BuildKit source tree or bare git mirror named by `BERTH_BUILDKIT_SRC`
//! (default: the local mirror), and the test is skipped without one.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_build::dockerfile::parser;

const DEFAULT_MIRROR: &str = "/work/.mirror/moby+buildkit/repo";
const PARSER_DIR: &str = "frontend/dockerfile/parser";

/// Where the BuildKit files come from.
enum Source {
    Tree(PathBuf),
    Git(PathBuf),
}

impl Source {
    fn find() -> Option<Source> {
        let root = std::env::var_os("BERTH_BUILDKIT_SRC")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MIRROR));
        if root.join(PARSER_DIR).is_dir() {
            return Some(Source::Tree(root));
        }
        let is_git = Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["rev-parse", "--git-dir"])
            .output()
            .is_ok_and(|o| o.status.success());
        is_git.then_some(Source::Git(root))
    }

    /// Case names under `testfiles` or `testfiles-negative`.
    fn cases(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Source::Tree(root) => std::fs::read_dir(root.join(PARSER_DIR).join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Source::Git(root) => {
                let out = git(
                    root,
                    &[
                        "ls-tree",
                        "--name-only",
                        &format!("HEAD:{PARSER_DIR}/{dir}"),
                    ],
                );
                String::from_utf8(out)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect()
            }
        };
        names.sort();
        names
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        match self {
            Source::Tree(root) => std::fs::read(root.join(PARSER_DIR).join(rel)).unwrap(),
            Source::Git(root) => git(root, &["show", &format!("HEAD:{PARSER_DIR}/{rel}")]),
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn buildkit_testfiles() {
    let Some(src) = Source::find() else {
        eprintln!("note: no BuildKit source (set BERTH_BUILDKIT_SRC); skipping its testfiles");
        return;
    };
    let cases = src.cases("testfiles");
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        let dockerfile = src.read(&format!("testfiles/{case}/Dockerfile"));
        let expected = String::from_utf8(src.read(&format!("testfiles/{case}/result"))).unwrap();
        match parser::parse(&dockerfile) {
            Ok(r) => {
                let got = r.ast.dump() + "\n";
                if got != expected {
                    failures.push(format!("{case}:\n--- expected\n{expected}--- got\n{got}"));
                }
            }
            Err(e) => failures.push(format!("{case}: unexpected error: {e}")),
        }
    }
    eprintln!(
        "{} of {} BuildKit testfiles match",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn buildkit_negative_testfiles() {
    let Some(src) = Source::find() else {
        eprintln!("note: no BuildKit source (set BERTH_BUILDKIT_SRC); skipping its testfiles");
        return;
    };
    let cases = src.cases("testfiles-negative");
    assert!(!cases.is_empty());
    for case in &cases {
        let dockerfile = src.read(&format!("testfiles-negative/{case}/Dockerfile"));
        assert!(
            parser::parse(&dockerfile).is_err(),
            "{case} should not parse"
        );
    }
    eprintln!(
        "{} BuildKit negative testfiles fail as expected",
        cases.len()
    );
}

/// BuildKit's line-number fixture: instructions span these lines.
#[test]
fn buildkit_line_numbers() {
    let Some(src) = Source::find() else {
        eprintln!("note: no BuildKit source (set BERTH_BUILDKIT_SRC); skipping");
        return;
    };
    let ast = parser::parse(&src.read("testfile-line/Dockerfile"))
        .unwrap()
        .ast;
    assert_eq!((ast.start_line, ast.end_line), (5, 31));
    let lines: Vec<(usize, usize)> = ast
        .children
        .iter()
        .map(|c| (c.start_line, c.end_line))
        .collect();
    assert_eq!(lines, vec![(5, 5), (11, 12), (17, 31)]);
}
