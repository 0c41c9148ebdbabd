//! `cairn watch` and `cairn bench watch` (in progress).

use std::path::Path;

use anyhow::Result;
use cairn_core::config::Config;
use clap::Args;

/// Arguments of `cairn watch`.
#[derive(Args)]
pub struct WatchArgs {}

/// Arguments of `cairn bench`.
#[derive(Args)]
pub struct BenchArgs {}

/// Runs `cairn watch`.
pub fn run_watch(_data_dir: &Path, _config: Config, _args: &WatchArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}

/// Runs `cairn bench`.
pub fn run_bench(_data_dir: &Path, _config: Config, _args: &BenchArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}
