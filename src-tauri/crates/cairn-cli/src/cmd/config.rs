//! `cairn config`, and loading the configuration every command runs with (`--config`, or
//! config.toml in the data directory).

use std::path::Path;

use anyhow::{Context, Result};
use cairn_core::config::Config;

/// The configuration from `--config` when given, else from the data directory.
pub fn load_config(config: Option<&Path>, data_dir: &Path) -> Result<Config> {
    Ok(match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("reading config file {}", crate::print::clean_path(path))
            })?;
            Config::from_toml(&text, path)?
        }
        None => Config::load(data_dir)?,
    })
}

/// `cairn config`: the configuration in effect, as TOML.
pub fn print_config(config: &Config) -> Result<()> {
    print!("{}", toml::to_string_pretty(config)?);
    Ok(())
}
