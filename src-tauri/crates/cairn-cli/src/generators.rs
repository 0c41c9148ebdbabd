//! Creating the answer generator (local llama.cpp model or remote endpoint) from the config,
//! with the command line's overrides.

use std::path::PathBuf;

use anyhow::Result;
use cairn_core::answer::AnswerMode;
use cairn_core::config::{Config, LlmProvider};
use cairn_llm::BoxedGenerator;
use clap::{Args, ValueEnum};

/// Flags that override `[llm]` for one command.
#[derive(Args, Debug, Clone, Default)]
pub struct LlmArgs {
    /// Answer model: a local GGUF file, a remote OpenAI-compatible endpoint, or none
    /// (extractive answers) [default: llm.provider from the config, "local"].
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,
    /// The model: a GGUF file for the local provider, the model name for a remote endpoint.
    #[arg(long)]
    pub model: Option<String>,
    /// Base URL of an OpenAI-compatible endpoint (e.g. http://localhost:11434/v1); implies
    /// --provider remote. The API key comes from $CAIRN_API_KEY (or llm.remote.api_key_env) or
    /// the OS keychain, never from a flag.
    #[arg(long)]
    pub base_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    Local,
    Remote,
    None,
}

impl LlmArgs {
    /// `config` with these overrides applied (and checked).
    pub fn apply(&self, mut config: Config) -> Result<Config> {
        let llm = &mut config.llm;
        if let Some(p) = self.provider {
            llm.provider = match p {
                ProviderArg::Local => LlmProvider::Local,
                ProviderArg::Remote => LlmProvider::Remote,
                ProviderArg::None => LlmProvider::None,
            };
        } else if self.base_url.is_some() {
            llm.provider = LlmProvider::Remote;
        }
        if let Some(url) = &self.base_url {
            llm.remote.base_url = url.clone();
        }
        if let Some(model) = &self.model {
            match llm.provider {
                LlmProvider::Local => llm.local.model = PathBuf::from(model),
                LlmProvider::Remote => llm.remote.model = model.clone(),
                LlmProvider::None => {
                    anyhow::bail!("--model needs --provider local or remote (the provider is none)")
                }
            }
        }
        llm.check().map_err(cairn_core::Error::Invalid)?;
        Ok(config)
    }
}

/// The generator configured for answers, or None when `llm.provider = "none"`.
pub fn make_generator(config: &Config) -> Result<Option<BoxedGenerator>> {
    Ok(cairn_llm::from_config(config)?)
}

/// The generator and answer mode for `cairn ask` and `cairn eval --answers`: none with
/// `--extractive`, else the configured model; with no model configured (and no `--extractive`)
/// a note says that answers are extractive, `what` saying what happens then.
pub fn choose(
    config: &Config,
    extractive: bool,
    what: &str,
) -> Result<(Option<BoxedGenerator>, AnswerMode)> {
    let generator = if extractive {
        None
    } else {
        make_generator(config)?
    };
    if generator.is_some() {
        return Ok((generator, AnswerMode::Generative));
    }
    if !extractive {
        eprintln!("note: no answer model is configured (llm.provider = \"none\"): {what}");
    }
    Ok((None, AnswerMode::Extractive))
}
