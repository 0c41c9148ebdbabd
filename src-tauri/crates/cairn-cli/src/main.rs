//! `cairn`: the command-line interface over `cairn-core`.
//!
//! This file parses the arguments, dispatches each command to its module under [`cmd`] and
//! reports errors (message, what to do, exit code). Argument types are in [`args`], printing in
//! [`print`], progress bars in [`progress`], Ctrl-C handling in [`interrupt`], the MCP server in
//! [`mcp`] and `cairn bench` in [`bench`].

use anyhow::Result;
use cairn_core::config::default_data_dir;
use clap::Parser;

mod args;
mod bench;
mod cmd;
mod generators;
mod hints;
mod interrupt;
mod mcp;
mod print;
mod progress;

use args::{Cli, Command};

/// The hidden argument that starts `cairn` as a parser worker (see
/// `cairn_core::parse::isolate`).
const PARSE_WORKER_ARG: &str = "__parse-worker";

fn main() {
    // Before any thread starts: no telemetry from ONNX Runtime.
    cairn_core::embed::disable_ort_telemetry();
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == PARSE_WORKER_ARG)
    {
        std::process::exit(cairn_core::parse::isolate::serve_worker());
    }
    // PDF, DOCX and HTML are parsed in worker processes: `cairn` itself in worker mode.
    if let Ok(worker) = cairn_core::parse::isolate::WorkerCommand::current_exe(&[PARSE_WORKER_ARG])
    {
        cairn_core::parse::isolate::register_worker(worker, Default::default());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        let core = err
            .chain()
            .find_map(|e| e.downcast_ref::<cairn_core::Error>());
        if let Some(core) = core {
            eprintln!("  what to do: {}", hints::hint(core));
            std::process::exit(if core.is_user_error() { 1 } else { 2 });
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let data_dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    let mut config = cmd::config::load_config(cli.config.as_deref(), &data_dir)?;
    if let Some(url) = cli.library.as_deref().filter(|u| !u.trim().is_empty()) {
        let target = cairn_core::store::postgres::Target::parse(url)?;
        if target.password_in_url {
            eprintln!(
                "warning: the library URL carries a password (shell history, process list); \
                 prefer PGPASSWORD or the OS keychain"
            );
        }
        config.library = url.to_owned();
    }
    let data_dir = data_dir.as_path();
    match cli.command {
        Command::Add { dir, index } => cmd::index::add(data_dir, config, &dir, index),
        Command::Index { no_embed, json } => cmd::index::index(data_dir, config, no_embed, json),
        Command::Search(args) => cmd::search::search(data_dir, config, &args),
        Command::Status { json } => cmd::index::status(data_dir, config, json),
        Command::Reindex { embeddings } => cmd::index::reindex(data_dir, config, embeddings),
        Command::Eval(args) => cmd::eval::eval(data_dir, config, &args),
        Command::Demo { dir } => cmd::demo::demo(data_dir, config, &dir),
        Command::History { path, json } => cmd::curation::history(data_dir, config, &path, json),
        Command::Deprecate {
            path,
            pattern,
            superseded_by,
            reason,
        } => cmd::curation::deprecate(data_dir, config, path, pattern, superseded_by, &reason),
        Command::Undeprecate { target } => cmd::curation::undeprecate(data_dir, config, &target),
        Command::Tag { path, tags } => cmd::curation::tag(data_dir, config, &path, &tags),
        Command::Untag { path, tags } => cmd::curation::untag(data_dir, config, &path, &tags),
        Command::Forget { path, json } => cmd::forget::forget(data_dir, config, &path, json),
        Command::Unforget { path } => cmd::forget::unforget(data_dir, config, &path),
        Command::Check { json } => cmd::curation::check(data_dir, config, json),
        Command::Watch(args) => cmd::watch::watch(data_dir, config, &args),
        Command::Bench(args) => bench::run(data_dir, config, &args),
        Command::Ask(args) => cmd::ask::ask(data_dir, config, &args),
        Command::Audit { command } => cmd::audit::audit(data_dir, config, &command),
        Command::Pin { command } => cmd::pin::pin(data_dir, config, &command),
        Command::Team { command } => cmd::team::team(&config, &command),
        Command::Mcp => mcp::serve(data_dir, config),
        Command::Migrate { to, json } => cmd::migrate::migrate(data_dir, config, &to, json),
        Command::Config => cmd::config::print_config(&config),
    }
}
