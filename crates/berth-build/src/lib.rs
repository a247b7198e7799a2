//! Building images from Dockerfiles with BuildKit's semantics.
//!
//! The path of a build: `context` reads the build context (.dockerignore,
//! content checksums), `dockerfile` turns text into instructions (parser,
//! shell lexer, typed instructions), `planner` expands every word and
//! lowers the stages the target needs into a [`plan::Plan`] of layer
//! operations (BuildKit's dockerfile2llb), `exec` runs them — independent
//! stages in parallel, each step looked up in the cache first — in
//! overlay sandboxes (`sandbox`, `copy`), and `output` writes the image.

pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod exec;
pub mod image;
pub mod output;
pub mod plan;
pub mod planner;
pub mod progress;
pub mod sandbox;
pub mod session;

/// Why a build failed. `Step` errors carry the Dockerfile line, printed
/// the way BuildKit prints them.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A Dockerfile that does not parse or does not make sense.
    #[error("{message}")]
    Dockerfile {
        message: String,
        line: Option<usize>,
    },
    /// A step failed: `message` is what its progress line says, `summary`
    /// the last line the CLI prints (BuildKit adds a prefix for some).
    #[error("{summary}")]
    Step {
        step: String,
        line: usize,
        message: String,
        summary: String,
        vertex: progress::Id,
    },
    /// A stage this one needs failed (its own error is reported).
    #[error("{0}")]
    Dependency(String),
    #[error("{0}")]
    Context(String),
    #[error("{0}")]
    Other(String),
}

impl BuildError {
    pub fn image(e: berth_image::Error) -> BuildError {
        BuildError::Other(e.to_string())
    }
}

/// The cache identity of sources taken from the context: each source's
/// content checksum (ignored files left out), minus `--exclude` matches.
pub(crate) fn checksum_sources(
    env: &exec::ExecEnv,
    sources: &[String],
    exclude: &[String],
) -> Result<String, String> {
    let mut c = match env.checksummer.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let mut parts = Vec::new();
    for s in sources {
        parts.push(c.checksum(env.ctx, s).map_err(|e| e.to_string())?);
    }
    parts.extend(exclude.iter().map(|e| format!("exclude:{e}")));
    Ok(parts.join(","))
}

/// Sizes as BuildKit's progress prints them (go-units `HumanSize`).
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    // %.4g: four significant digits, trailing zeros dropped.
    let digits_before = format!("{}", v.trunc() as u64).len();
    let prec = 4usize.saturating_sub(digits_before);
    let s = if prec == 0 {
        format!("{}", v.round() as u64)
    } else {
        let t = format!("{:.*}", prec, v);
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("{s}{}", units[i])
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_print_like_go_units() {
        assert_eq!(super::human_bytes(37), "37B");
        assert_eq!(super::human_bytes(1000), "1kB");
        assert_eq!(super::human_bytes(2_100_000), "2.1MB");
        assert_eq!(super::human_bytes(1_982_256), "1.982MB");
    }
}
