//! The answer model, the API key and the connection test: thin wrappers over `cairn-llm`.

use std::sync::{Arc, Mutex};

use cairn_core::answer::Generator;
use cairn_core::config::{Config, LlmConfig, LlmProvider};
use cairn_library::ErrorInfo;

/// A loaded generator and the `[llm]` settings it was made from.
type Loaded = (LlmConfig, Arc<dyn Generator>);

/// The loaded answer model, kept while its settings stay the same (loading a GGUF file takes
/// a moment; a remote generator is cheap but keeps its HTTP agent).
#[derive(Clone, Default)]
pub struct GeneratorCache {
    slot: Arc<Mutex<Option<Loaded>>>,
}

impl GeneratorCache {
    /// The generator for `config` (loading it on first use); None when no model is configured.
    pub fn get(&self, config: &Config) -> Result<Option<Arc<dyn Generator>>, ErrorInfo> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cfg, g)) = slot.as_ref() {
            if *cfg == config.llm {
                return Ok(Some(g.clone()));
            }
        }
        let made = cairn_llm::from_config(config)?.map(|g| {
            let shared: Arc<dyn Generator + Send + Sync> = Arc::from(g);
            shared as Arc<dyn Generator>
        });
        *slot = made.clone().map(|g| (config.llm.clone(), g));
        Ok(made)
    }
}

/// True when a key for `name` would be sent to `base_url`: set in the environment, or stored
/// in the OS keychain for that endpoint (a key saved for another endpoint does not count).
pub fn has_api_key(name: &str, base_url: &str) -> bool {
    matches!(
        cairn_llm::key_source(name, base_url),
        cairn_llm::KeySource::Env(_) | cairn_llm::KeySource::Keychain(_)
    )
}

/// Stores an API key in the OS keychain under `name`, bound to the endpoint `base_url` (never
/// in a file).
pub fn store_api_key(name: &str, base_url: &str, key: &str) -> Result<(), ErrorInfo> {
    Ok(cairn_llm::store_api_key(
        name,
        base_url,
        &cairn_llm::ApiKey::new(key.to_owned()),
    )?)
}

/// Loads the configured model (one token) or asks the endpoint for its models, with a typed
/// API key if given. Stores nothing: the key and settings are kept only when the user saves.
pub fn test_connection(config: &Config, api_key: Option<String>) -> Result<String, ErrorInfo> {
    let key = api_key
        .filter(|_| config.llm.provider == LlmProvider::Remote)
        .map(cairn_llm::ApiKey::new);
    let report = cairn_llm::test_connection_with_key(&config.llm, key)?;
    Ok(report.message)
}
