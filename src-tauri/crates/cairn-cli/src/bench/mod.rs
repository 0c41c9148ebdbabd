//! `cairn bench`: performance figures for docs/benchmarks.md, kept apart from the commands
//! they measure.

use std::path::Path;

use anyhow::Result;
use cairn_core::config::Config;

use crate::args::{BenchArgs, BenchWhat};

pub mod embed;
mod gen;
pub mod parse;
pub mod search;
pub mod watch;

/// Runs `cairn bench`.
pub fn run(_data_dir: &Path, config: Config, args: &BenchArgs) -> Result<()> {
    match &args.what {
        BenchWhat::Watch(a) => watch::bench_watch(config, a),
        BenchWhat::Embed(a) => embed::bench_embed(config, a),
        BenchWhat::Search(a) => search::bench_search(config, a),
        BenchWhat::Parse(a) => parse::bench_parse(a),
    }
}
