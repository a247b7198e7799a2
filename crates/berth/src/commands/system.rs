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
