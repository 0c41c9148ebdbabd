//! Creating the answer generator (local llama.cpp model or remote endpoint) from the config.

use cairn_core::answer::Generator;
use cairn_core::config::Config;

/// The generator configured for answers, or None when there is none (`cairn ask` then
/// answers extractively and says so).
pub fn make_generator(config: &Config) -> anyhow::Result<Option<Box<dyn Generator>>> {
    let _ = config;
    Ok(None)
}
