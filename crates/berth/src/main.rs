//! `berth`: the docker-compatible command line. Parses arguments, opens the
//! engine, runs one command, and maps errors to Docker's wording and exit
//! codes (125 for usage errors the docker CLI reports that way, 1 for
//! engine errors, as `docker` exits).

mod attach;
mod cli;
mod commands;
mod render;
mod runopts;

use std::io::Write;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind as ClapKind};
use clap::{CommandFactory, Parser};

use cli::Cli;

/// An error on its way to the terminal.
#[derive(Debug)]
pub enum CliError {
    /// From the engine: printed as Docker prints daemon errors.
    Engine(berth_engine::Error),
    /// Wrong number of arguments, with the command's usage.
    Args { path: String, requirement: String },
    /// Arguments to a command that takes none (cobra's `NoArgs` wording).
    NoArgs(String),
    /// Printed as is.
    Plain(String),
    /// Errors already printed; just exit with this code.
    Exit(u8),
    /// Printed as is, then exit with this code (docker's `run` errors).
    Coded(String, u8),
}

impl From<berth_engine::Error> for CliError {
    fn from(e: berth_engine::Error) -> Self {
        CliError::Engine(e)
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Plain(format!("{e:#}"))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::Exit(0);
        }
        CliError::Plain(e.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// The usage line of a command path such as `["image", "ls"]`.
fn usage_of(path: &[String]) -> String {
    let mut cmd = Cli::command();
    for p in path {
        match cmd.find_subcommand(p) {
            Some(c) => cmd = c.clone(),
            None => break,
        }
    }
    cmd.render_usage()
        .to_string()
        .trim_start_matches("Usage:")
        .trim()
        .to_string()
}

/// The one-line description of a command path, as its help shows it.
fn about_of(path: &[String]) -> String {
    let mut cmd = Cli::command();
    for p in path {
        match cmd.find_subcommand(p) {
            Some(c) => cmd = c.clone(),
            None => break,
        }
    }
    cmd.get_about().map(|a| a.to_string()).unwrap_or_default()
}

/// The subcommand words of argv (`berth image ls -a` -> `["image", "ls"]`).
fn command_path(argv: &[String]) -> Vec<String> {
    let mut cmd = Cli::command();
    let mut path = Vec::new();
    let mut skip_next = false;
    for a in argv.iter().skip(1) {
        if skip_next {
            skip_next = false;
            continue;
        }
        if a == "--root" || a == "--runroot" {
            skip_next = true;
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(a) {
            Some(c) => {
                path.push(c.get_name().to_string());
                cmd = c.clone();
            }
            None => break,
        }
    }
    path
}

fn report(e: CliError) -> ExitCode {
    let mut err = std::io::stderr().lock();
    match e {
        CliError::Engine(e) => {
            let _ = writeln!(err, "Error response from daemon: {}", e.message);
            ExitCode::from(1)
        }
        CliError::Args { path, requirement } => {
            let words: Vec<String> = path.split(' ').map(str::to_string).collect();
            let _ = writeln!(
                err,
                "berth: 'berth {path}' requires {requirement}\n\nUsage:  {}\n\nRun 'berth {path} --help' for more information",
                usage_of(&words)
            );
            ExitCode::from(1)
        }
        CliError::NoArgs(path) => {
            let words: Vec<String> = path.split(' ').map(str::to_string).collect();
            let _ = writeln!(
                err,
                "\"berth {path}\" accepts no arguments.\nSee 'berth {path} --help'.\n\nUsage:  {}\n\n{}",
                usage_of(&words),
                about_of(&words)
            );
            ExitCode::from(1)
        }
        CliError::Plain(m) => {
            let _ = writeln!(err, "{m}");
            ExitCode::from(1)
        }
        CliError::Exit(c) => ExitCode::from(c),
        CliError::Coded(m, c) => {
            let _ = writeln!(err, "{m}");
            ExitCode::from(c)
        }
    }
}

fn clap_failure(e: clap::Error, argv: &[String]) -> ExitCode {
    let path = command_path(argv);
    let shown = if path.is_empty() {
        "berth".to_string()
    } else {
        format!("berth {}", path.join(" "))
    };
    match e.kind() {
        ClapKind::DisplayHelp
        | ClapKind::DisplayVersion
        | ClapKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ClapKind::InvalidSubcommand => {
            let name = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            eprintln!("berth: unknown command: {shown} {name}\n\nRun '{shown} --help' for more information");
            ExitCode::from(1)
        }
        ClapKind::UnknownArgument => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let arg = arg.split('=').next().unwrap_or("").to_string();
            let what = if arg.starts_with("--") {
                format!("unknown flag: {arg}")
            } else {
                format!(
                    "unknown shorthand flag: {:?} in {arg}",
                    arg.trim_start_matches('-').chars().next().unwrap_or('-')
                )
                .replace('"', "'")
            };
            eprintln!(
                "{what}\n\nUsage:  {}\n\nRun '{shown} --help' for more information",
                usage_of(&path)
            );
            ExitCode::from(125)
        }
        _ => {
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            eprintln!(
                "{first}\n\nUsage:  {}\n\nRun '{shown} --help' for more information",
                usage_of(&path)
            );
            ExitCode::from(125)
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => return clap_failure(e, &argv),
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(e),
    }
}
