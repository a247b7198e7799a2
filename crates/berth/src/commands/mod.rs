//! One function per command; each takes parsed arguments and the engine.

mod build;
mod container;
mod container_fs;
mod container_stats;
mod debug;
mod image;
mod network;
mod prune;
mod registry;
mod system;
mod volume;

use std::path::PathBuf;

use berth_engine::{Engine, EngineOptions, DEFAULT_ROOT, DEFAULT_RUNROOT};

use crate::cli::{Cli, Command, ContainerCommand, DebugCommand, ImageCommand, InternalCommand};
use crate::{CliError, CliResult};
use image::print_rows;

/// The run root for a state root: the default root uses /run/berth; any
/// other root gets its own directory beneath it, so test roots never share
/// runtime state.
fn runroot_for(root: &std::path::Path) -> PathBuf {
    if root == std::path::Path::new(DEFAULT_ROOT) {
        return PathBuf::from(DEFAULT_RUNROOT);
    }
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    PathBuf::from(DEFAULT_RUNROOT).join(&hex::encode(h)[..12])
}

fn open_engine(cli: &Cli) -> CliResult<Engine> {
    let root = cli
        .root
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
    let root = if root.is_relative() {
        std::env::current_dir()?.join(root)
    } else {
        root
    };
    let runroot = cli.runroot.clone().unwrap_or_else(|| runroot_for(&root));
    Ok(Engine::open(&EngineOptions { root, runroot })?)
}

/// Require an argument count, with Docker's wording.
/// `--label` values of `network create` and `volume create`, checked as
/// the docker CLI checks them (its flag is named `--label` there).
pub(crate) fn long_labels(path: &str, raw: &[String]) -> CliResult<Vec<String>> {
    raw.iter()
        .map(|l| {
            crate::runopts::parse_label(l).map_err(|m| {
                CliError::Coded(
                    format!(
                        "{}\nSee 'berth {path} --help'.",
                        m.replace("\"-l, --label\"", "\"--label\"")
                    ),
                    125,
                )
            })
        })
        .collect()
}

pub fn need(path: &str, args: &[String], min: usize, max: Option<usize>) -> CliResult {
    let ok = args.len() >= min && max.is_none_or(|m| args.len() <= m);
    if ok {
        return Ok(());
    }
    if max == Some(0) {
        return Err(CliError::NoArgs(path.to_string()));
    }
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let requirement = match max {
        Some(m) if m == min => format!("{m} {}", plural(m)),
        Some(m) if args.len() > m => format!("at most {m} {}", plural(m)),
        _ => format!("at least {min} {}", plural(min)),
    };
    Err(CliError::Args {
        path: path.to_string(),
        requirement,
    })
}

pub fn run(cli: Cli) -> CliResult {
    if let Command::Completion(a) = &cli.command {
        return system::completion(a.shell);
    }
    // Needs no engine (nor root): it only reads a file.
    if let Command::Debug(DebugCommand::DockerfileAst { file }) = &cli.command {
        return debug::dockerfile_ast(file);
    }
    let engine = open_engine(&cli)?;
    match cli.command {
        Command::Images(a) => image::list(&engine, a, "images"),
        Command::Inspect(a) => image::inspect_any(&engine, a, "inspect", None),
        Command::Rmi(a) => image::remove(&engine, a, "rmi"),
        Command::Tag(a) => image::tag(&engine, a, "tag"),
        Command::History(a) => image::history(&engine, a, "history"),
        Command::Import(a) => image::import(&engine, a, "import"),
        Command::Load(a) => image::load(&engine, a),
        Command::Pull(a) => registry::pull(&engine, a, "pull"),
        Command::Push(a) => registry::push(&engine, a, "push"),
        Command::Login(a) => registry::login(&engine, a),
        Command::Logout(a) => registry::logout(&engine, a),
        Command::Save(a) => image::save(&engine, a, "save"),
        Command::Image(sub) => match sub {
            ImageCommand::Ls(a) => image::list(&engine, a, "image ls"),
            ImageCommand::Inspect(a) => {
                image::inspect_any(&engine, a, "image inspect", Some("image"))
            }
            ImageCommand::Rm(a) => image::remove(&engine, a, "image rm"),
            ImageCommand::Tag(a) => image::tag(&engine, a, "image tag"),
            ImageCommand::History(a) => image::history(&engine, a, "image history"),
            ImageCommand::Prune(a) => prune::images(&engine, a),
            ImageCommand::Import(a) => image::import(&engine, a, "image import"),
            ImageCommand::Build(a) => build::build(&engine, *a),
            ImageCommand::Load(a) => image::load(&engine, a),
            ImageCommand::Pull(a) => registry::pull(&engine, a, "image pull"),
            ImageCommand::Push(a) => registry::push(&engine, a, "image push"),
            ImageCommand::Save(a) => image::save(&engine, a, "image save"),
        },
        Command::Version(a) => system::version(&engine, a),
        Command::Info(a) => system::info(&engine, a),
        Command::Run(a) => container::run(&engine, a, "run"),
        Command::Create(a) => container::create(&engine, a, "create"),
        Command::Start(a) => container::start(&engine, a, "start"),
        Command::Stop(a) => container::stop(&engine, a, "stop"),
        Command::Restart(a) => container::restart(&engine, a, "restart"),
        Command::Kill(a) => container::kill(&engine, a, "kill"),
        Command::Rm(a) => container::rm(&engine, a, "rm"),
        Command::Wait(a) => container::wait(&engine, a, "wait"),
        Command::Ps(a) => container::ps(&engine, a, "ps"),
        Command::Exec(a) => container::exec(&engine, a, "exec"),
        Command::Attach(a) => container::attach_cmd(&engine, a, "attach"),
        Command::Logs(a) => container::logs(&engine, a, "logs"),
        Command::Rename(a) => container::rename(&engine, a, "rename"),
        Command::Pause(a) => container::pause(&engine, a, "pause", true),
        Command::Unpause(a) => container::pause(&engine, a, "unpause", false),
        Command::Cp(a) => container_fs::cp(&engine, a, "cp"),
        Command::Diff(a) => container_fs::diff(&engine, a, "diff"),
        Command::Export(a) => container_fs::export(&engine, a, "export"),
        Command::Commit(a) => container_fs::commit(&engine, a, "commit"),
        Command::Top(a) => container_stats::top(&engine, a, "top"),
        Command::Stats(a) => container_stats::stats(&engine, a, "stats"),
        Command::Port(a) => container_stats::port(&engine, a, "port"),
        Command::Container(sub) => match sub {
            ContainerCommand::Run(a) => container::run(&engine, a, "container run"),
            ContainerCommand::Create(a) => container::create(&engine, a, "container create"),
            ContainerCommand::Start(a) => container::start(&engine, a, "container start"),
            ContainerCommand::Stop(a) => container::stop(&engine, a, "container stop"),
            ContainerCommand::Restart(a) => container::restart(&engine, a, "container restart"),
            ContainerCommand::Kill(a) => container::kill(&engine, a, "container kill"),
            ContainerCommand::Rm(a) => container::rm(&engine, a, "container rm"),
            ContainerCommand::Wait(a) => container::wait(&engine, a, "container wait"),
            ContainerCommand::Exec(a) => container::exec(&engine, a, "container exec"),
            ContainerCommand::Attach(a) => container::attach_cmd(&engine, a, "container attach"),
            ContainerCommand::Ls(a) => container::ps(&engine, a, "container ls"),
            ContainerCommand::Logs(a) => container::logs(&engine, a, "container logs"),
            ContainerCommand::Inspect(a) => {
                image::inspect_any(&engine, a, "container inspect", Some("container"))
            }
            ContainerCommand::Rename(a) => container::rename(&engine, a, "container rename"),
            ContainerCommand::Pause(a) => container::pause(&engine, a, "container pause", true),
            ContainerCommand::Unpause(a) => {
                container::pause(&engine, a, "container unpause", false)
            }
            ContainerCommand::Top(a) => container_stats::top(&engine, a, "container top"),
            ContainerCommand::Stats(a) => container_stats::stats(&engine, a, "container stats"),
            ContainerCommand::Port(a) => container_stats::port(&engine, a, "container port"),
            ContainerCommand::Prune(a) => prune::containers(&engine, a),
            ContainerCommand::Cp(a) => container_fs::cp(&engine, a, "container cp"),
            ContainerCommand::Diff(a) => container_fs::diff(&engine, a, "container diff"),
            ContainerCommand::Export(a) => container_fs::export(&engine, a, "container export"),
            ContainerCommand::Commit(a) => container_fs::commit(&engine, a, "container commit"),
        },
        Command::Build(a) => build::build(&engine, a),
        Command::Volume(sub) => volume::run(&engine, sub),
        Command::Network(sub) => network::run(&engine, sub),
        Command::System(crate::cli::SystemCommand::Df(a)) => system::df(&engine, a),
        Command::System(crate::cli::SystemCommand::Info(a)) => system::info(&engine, a),
        Command::System(crate::cli::SystemCommand::Prune(a)) => prune::system(&engine, a),
        Command::Builder(crate::cli::BuilderCommand::Build(a)) => build::build(&engine, *a),
        Command::Builder(crate::cli::BuilderCommand::Prune(a)) => build::prune(&engine, a),
        Command::Internal(InternalCommand::Cleanup { id }) => Ok(engine.container_cleanup(&id)?),
        Command::Internal(InternalCommand::BuildStep { id, bundle }) => {
            build::build_step(&engine, &id, &bundle)
        }
        Command::Internal(InternalCommand::BuildStepCleanup { id }) => {
            Ok(engine.build_step_cleanup(&id)?)
        }
        Command::Debug(DebugCommand::CheckStore) => system::check_store(&engine),
        Command::Debug(DebugCommand::NetSweep { all }) => {
            let swept = engine.network_sweep(all)?;
            if !swept.links.is_empty() || !swept.netns.is_empty() || !swept.containers.is_empty() {
                eprintln!("swept: {swept:?}");
            }
            Ok(())
        }
        Command::Debug(DebugCommand::NetState) => {
            let st = engine.network_state()?;
            println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
            Ok(())
        }
        Command::Debug(DebugCommand::NetworkAlloc {
            network,
            container,
            ip,
            release,
        }) => network::debug_alloc(&engine, &network, &container, ip, release),
        Command::Completion(_) | Command::Debug(DebugCommand::DockerfileAst { .. }) => Ok(()),
    }
}
