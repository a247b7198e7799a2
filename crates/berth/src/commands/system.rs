//! version, info, completion and the store check.

use std::io::Write;

use berth_engine::system::API_VERSION;
use berth_engine::Engine;
use clap::CommandFactory;
use serde_json::json;

use crate::cli::{Cli, FormatOnly};
use crate::render::{self, Format};
use crate::{CliError, CliResult};

fn os_arch() -> String {
    format!(
        "linux/{}",
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        }
    )
}

pub fn version(_engine: &Engine, a: FormatOnly) -> CliResult {
    let v = env!("CARGO_PKG_VERSION");
    let data = json!({
        "Client": {"Platform": {"Name": "berth"}, "Version": v, "ApiVersion": API_VERSION,
                   "Os": "linux", "Arch": os_arch().trim_start_matches("linux/"), "Context": "default"},
        "Server": {"Platform": {"Name": "berth (daemonless)"}, "Version": v, "ApiVersion": API_VERSION,
                   "MinAPIVersion": "1.24", "Os": "linux", "Arch": os_arch().trim_start_matches("linux/"),
                   "KernelVersion": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()},
    });
    if let Some(f) = a.format {
        println!("{}", Format::parse(&f)?.render(&data)?);
        return Ok(());
    }
    let oa = os_arch();
    println!(
        "Client:\n Version:           {v}\n API version:       {API_VERSION}\n OS/Arch:           {oa}\n Context:           default\n\nServer: berth (daemonless)\n Engine:\n  Version:          {v}\n  API version:      {API_VERSION} (minimum version 1.24)\n  OS/Arch:          {oa}"
    );
    Ok(())
}

pub fn info(engine: &Engine, a: FormatOnly) -> CliResult {
    let i = engine.info()?;
    if let Some(f) = a.format {
        let v = serde_json::to_value(&i).map_err(anyhow::Error::from)?;
        println!("{}", Format::parse(&f)?.render(&v)?);
        return Ok(());
    }
    let mut o = std::io::stdout().lock();
    writeln!(o, "Client:\n Context:    default\n Debug Mode: false\n")?;
    writeln!(o, "Server:")?;
    writeln!(o, " Containers: {}", i.containers)?;
    writeln!(
        o,
        "  Running: {}\n  Paused: {}\n  Stopped: {}",
        i.containers_running, i.containers_paused, i.containers_stopped
    )?;
    writeln!(o, " Images: {}", i.images)?;
    writeln!(o, " Server Version: {}", i.server_version)?;
    writeln!(o, " Storage Driver: {}", i.driver)?;
    writeln!(o, " Cgroup Driver: {}", i.cgroup_driver)?;
    writeln!(o, " Cgroup Version: {}", i.cgroup_version)?;
    writeln!(o, " Kernel Version: {}", i.kernel_version)?;
    writeln!(o, " Operating System: {}", i.operating_system)?;
    writeln!(o, " OSType: {}", i.os_type)?;
    writeln!(o, " Architecture: {}", i.architecture)?;
    writeln!(o, " CPUs: {}", i.ncpu)?;
    writeln!(
        o,
        " Total Memory: {}",
        render::bytes_size(i.mem_total as f64)
    )?;
    writeln!(o, " Name: {}", i.name)?;
    writeln!(o, " Docker Root Dir: {}", i.docker_root_dir)?;
    writeln!(o, " Exec Root: {}", i.exec_root)?;
    Ok(())
}

pub fn completion(shell: clap_complete::Shell) -> CliResult {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "berth", &mut std::io::stdout());
    Ok(())
}

pub fn check_store(engine: &Engine) -> CliResult {
    let problems = engine.check_store()?;
    if problems.is_empty() {
        println!("store is consistent");
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    Err(CliError::Exit(1))
}

/// `system df`: Docker's four rows (TYPE TOTAL ACTIVE SIZE RECLAIMABLE);
/// `-v` adds the build cache table.
pub fn df(engine: &Engine, a: crate::cli::DfArgs) -> CliResult {
    let du = engine.system_df()?;
    let pct = |part: u64, total: u64| {
        format!(
            "{} ({}%)",
            render::human_size_prec(part as f64, 3),
            (part * 100).checked_div(total).unwrap_or(0)
        )
    };
    let cache_size: u64 = du.cache.iter().map(|c| c.size).sum();
    let rows = [
        json!({"Type": "Images", "TotalCount": du.images_total.to_string(), "Active": du.images_active.to_string(),
            "Size": render::human_size_prec(du.images_size as f64, 3),
            "Reclaimable": pct(du.images_size.saturating_sub(du.images_used), du.images_size)}),
        json!({"Type": "Containers", "TotalCount": du.containers_total.to_string(), "Active": du.containers_running.to_string(),
            "Size": render::human_size_prec(du.containers_size as f64, 3),
            "Reclaimable": pct(du.containers_reclaimable, du.containers_size)}),
        json!({"Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Build Cache", "TotalCount": du.cache.len().to_string(), "Active": "0",
            "Size": render::human_size_prec(cache_size as f64, 3),
            "Reclaimable": render::human_size_prec(cache_size as f64, 3)}),
    ];
    let mut out = std::io::stdout().lock();
    if let Some(f) = &a.format {
        let fmt = Format::parse(f)?;
        let mut lines = Vec::new();
        if fmt.table {
            lines.push("TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE".to_string());
        }
        for r in &rows {
            lines.push(fmt.render(r)?);
        }
        if fmt.table {
            write!(out, "{}", render::tabwrite(&lines))?;
        } else {
            for l in lines {
                writeln!(out, "{l}")?;
            }
        }
        return Ok(());
    }
    if a.verbose {
        let mut lines =
            vec!["CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED".to_string()];
        for c in &du.cache {
            let when = |s: &str| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| render::since(t.timestamp()))
                    .unwrap_or_default()
            };
            lines.push(format!(
                "{}\tregular\t{}\t{}\t{}\t1\tfalse",
                &c.key[..c.key.len().min(25)],
                render::human_size_prec(c.size as f64, 3),
                when(c.created_at.as_deref().unwrap_or(&c.last_used)),
                when(&c.last_used),
            ));
        }
        writeln!(
            out,
            "Build cache usage: {}\n",
            render::human_size_prec(cache_size as f64, 3)
        )?;
        write!(out, "{}", render::tabwrite(&lines))?;
        return Ok(());
    }
    let mut lines = vec!["TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE".to_string()];
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}",
            s("Type"),
            s("TotalCount"),
            s("Active"),
            s("Size"),
            s("Reclaimable")
        ));
    }
    write!(out, "{}", render::tabwrite(&lines))?;
    Ok(())
}
