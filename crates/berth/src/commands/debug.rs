//! Developer views of berth's internals.

use std::io::{Read, Write};
use std::path::Path;

use berth_build::dockerfile::parser;

use crate::{CliError, CliResult};

/// `debug dockerfile-ast FILE|-`: the tree BuildKit's `Node.Dump()` would
/// print, so our parser can be diffed against BuildKit's on any file.
pub fn dockerfile_ast(file: &str) -> CliResult {
    let (name, data) = if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        ("Dockerfile".to_string(), buf)
    } else {
        let data = std::fs::read(file)
            .map_err(|e| CliError::Plain(format!("failed to read {file}: {e}")))?;
        let name = Path::new(file)
            .file_name()
            .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
        (name, data)
    };
    let result = parser::parse(&data).map_err(|e| CliError::Plain(e.display_for(&name)))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", result.ast.dump())?;
    Ok(())
}
