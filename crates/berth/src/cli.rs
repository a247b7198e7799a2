//! The command line, shaped like the docker CLI: same command names,
//! aliases and flags. Positional arguments are collected loosely and
//! counted by the commands, so count errors read as Docker's do.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A Docker-compatible container engine with no daemon",
    version,
    disable_help_subcommand = true,
    override_usage = "berth [OPTIONS] COMMAND"
)]
pub struct Cli {
    /// Root of persistent state
    #[arg(long, global = true, env = "BERTH_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Root of runtime state (default /run/berth, per --root)
    #[arg(long, global = true, env = "BERTH_RUNROOT", value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List images
    #[command(override_usage = "berth images [OPTIONS] [REPOSITORY[:TAG]]")]
    Images(ImagesArgs),
    /// Manage images
    #[command(subcommand, override_usage = "berth image COMMAND")]
    Image(ImageCommand),
    /// Return low-level information on images
    #[command(override_usage = "berth inspect [OPTIONS] NAME|ID [NAME|ID...]")]
    Inspect(InspectArgs),
    /// Remove one or more images
    #[command(override_usage = "berth rmi [OPTIONS] IMAGE [IMAGE...]")]
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")]
    Tag(TagArgs),
    /// Show the history of an image
    #[command(override_usage = "berth history [OPTIONS] IMAGE")]
    History(HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]")]
    Import(ImportArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "berth load [OPTIONS]")]
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "berth save [OPTIONS] IMAGE [IMAGE...]")]
    Save(SaveArgs),
    /// Show the berth version information
    #[command(override_usage = "berth version [OPTIONS]")]
    Version(FormatOnly),
    /// Display system-wide information
    #[command(override_usage = "berth info [OPTIONS]")]
    Info(FormatOnly),
    /// Generate the autocompletion script for the specified shell
    #[command(override_usage = "berth completion bash|zsh|fish|powershell|elvish")]
    Completion(CompletionArgs),
    /// Developer tools
    #[command(subcommand, hide = true)]
    Debug(DebugCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(
        visible_alias = "list",
        name = "ls",
        override_usage = "berth image ls [OPTIONS] [REPOSITORY[:TAG]]"
    )]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    #[command(override_usage = "berth image inspect [OPTIONS] IMAGE [IMAGE...]")]
    Inspect(InspectArgs),
    /// Remove one or more images
    #[command(
        visible_alias = "remove",
        override_usage = "berth image rm [OPTIONS] IMAGE [IMAGE...]"
    )]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "berth image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")]
    Tag(TagArgs),
    /// Show the history of an image
    #[command(override_usage = "berth image history [OPTIONS] IMAGE")]
    History(HistoryArgs),
    /// Remove unused images
    #[command(override_usage = "berth image prune [OPTIONS]")]
    Prune(PruneArgs),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "berth image import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]")]
    Import(ImportArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "berth image load [OPTIONS]")]
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "berth image save [OPTIONS] IMAGE [IMAGE...]")]
    Save(SaveArgs),
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print images using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value = "true", action = clap::ArgAction::Set, value_name = "bool")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print images using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. 'until=<timestamp>')
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long, value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long, value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    #[arg(hide = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "string")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "string")]
    pub output: Option<PathBuf>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FormatOnly {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Verify every ref, record, blob digest and snapshot in the store
    CheckStore,
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_tree_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
