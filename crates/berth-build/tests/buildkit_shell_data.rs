//! Runs BuildKit's own lexer data files (`envVarTest`, `wordsTest`) against
//! our lexer. The files are not vendored: they are read from a BuildKit
//! checkout or bare mirror named by `BERTH_BUILDKIT_SRC` (default: the
//! local mirror), and the tests print a note and pass when none is there.

use std::path::Path;
use std::process::Command;

use berth_build::dockerfile::shell::{EnvList, Lex};

const DEFAULT_MIRROR: &str = "/work/.mirror/moby+buildkit/repo";

/// Reads `frontend/dockerfile/shell/<name>` from a work tree or a bare repo.
fn buildkit_file(name: &str) -> Option<String> {
    let src = std::env::var("BERTH_BUILDKIT_SRC").unwrap_or_else(|_| DEFAULT_MIRROR.into());
    let rel = format!("frontend/dockerfile/shell/{name}");
    let in_tree = Path::new(&src).join(&rel);
    if in_tree.is_file() {
        return std::fs::read_to_string(in_tree).ok();
    }
    if !Path::new(&src).is_dir() {
        return None;
    }
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(&src)
        .arg("show")
        .arg(format!("HEAD:{rel}"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

#[test]
fn buildkit_env_var_test() {
    let Some(data) = buildkit_file("envVarTest") else {
        eprintln!("skipped: BuildKit source not found (set BERTH_BUILDKIT_SRC)");
        return;
    };
    let lex = Lex::new('\\');
    let env = EnvList::from_slice(&["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]);
    let (mut passed, mut failures) = (0, Vec::new());
    for (i, line) in data.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(parts.len(), 3, "line {}: {line:?}", i + 1);
        let (platform, source, expected) = (parts[0].trim(), parts[1].trim(), parts[2].trim());
        assert!(matches!(platform, "A" | "U" | "W"), "line {}", i + 1);
        if platform == "W" {
            continue;
        }
        let got = lex.process_word(source, &env);
        let good = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(w), exp) => exp != "error" && w == exp,
            _ => false,
        };
        if good {
            passed += 1;
        } else {
            failures.push(format!(
                "line {}: {source:?} -> {got:?}, want {expected:?}",
                i + 1
            ));
        }
    }
    eprintln!("envVarTest: {passed} passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 0);
}

#[test]
fn buildkit_words_test() {
    let Some(data) = buildkit_file("wordsTest") else {
        eprintln!("skipped: BuildKit source not found (set BERTH_BUILDKIT_SRC)");
        return;
    };
    let lex = Lex::new('\\');
    let mut envs: Vec<String> = Vec::new();
    let (mut passed, mut failures) = (0, Vec::new());
    for (i, line) in data.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            envs.push(rest.trim_start_matches(' ').to_string());
            continue;
        }
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 2, "line {}: {line:?}", i + 1);
        let input = parts[0].trim();
        let expected: Vec<&str> = parts[1].trim_start_matches(' ').split(',').collect();
        let got = lex
            .process_words(input, &EnvList::from_slice(&envs))
            .unwrap_or_else(|_| vec!["error".to_string()]);
        if got == expected {
            passed += 1;
        } else {
            failures.push(format!(
                "line {}: {input:?} -> {got:?}, want {expected:?}",
                i + 1
            ));
        }
    }
    eprintln!("wordsTest: {passed} passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 0);
}
