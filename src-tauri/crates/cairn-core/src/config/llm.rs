//! `[llm]`: the answer model, local (a GGUF file) or remote (an OpenAI-compatible endpoint),
//! with its defaults and validation. Never holds an API key.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which answer model `cairn ask` (and the app, and MCP `ask`) uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// A GGUF model run in-process with llama.cpp (`[llm.local]`).
    #[default]
    Local,
    /// An OpenAI-compatible chat-completions endpoint (`[llm.remote]`).
    Remote,
    /// No model: answers are extractive (verbatim sentences from the sources).
    None,
}

impl LlmProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            LlmProvider::Local => "local",
            LlmProvider::Remote => "remote",
            LlmProvider::None => "none",
        }
    }
}

/// The answer model (`[llm]`). The API key of a remote endpoint is never part of it: it comes
/// from the environment variable named by `remote.api_key_env`, or the OS keychain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: LlmProvider,
    /// Allow `http://` to a remote endpoint on another machine (questions, sources and the API
    /// key then cross the network unencrypted). `http://` to this machine (localhost,
    /// 127.0.0.0/8, ::1) is always allowed.
    pub allow_insecure_http: bool,
    pub local: LocalLlmConfig,
    pub remote: RemoteLlmConfig,
}

/// The host of `url` when it is a plain `http://` URL to another machine (not `localhost`,
/// `*.localhost`, 127.0.0.0/8 or `::1`); None for https, loopback, or no http URL at all.
pub fn insecure_http_host(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let lower = host.to_ascii_lowercase();
    let loopback = lower == "localhost"
        || lower.ends_with(".localhost")
        || lower
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback && !host.is_empty()).then_some(lower)
}

/// A local GGUF model (`[llm.local]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalLlmConfig {
    /// The GGUF file; empty = the pinned default model
    /// (`<models dir>/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf`).
    pub model: PathBuf,
    /// CPU threads for llama.cpp (0 = all cores).
    pub threads: usize,
    /// Context window in tokens, prompt plus answer (0 = what the model was trained with).
    pub context: usize,
}

impl Default for LocalLlmConfig {
    fn default() -> Self {
        LocalLlmConfig {
            model: PathBuf::new(),
            threads: 0,
            context: 4096,
        }
    }
}

/// Default name of the environment variable holding a remote endpoint's API key.
pub const DEFAULT_API_KEY_ENV: &str = "CAIRN_API_KEY";

impl LocalLlmConfig {
    /// The GGUF file to load: `model`, or the default model in the models directory
    /// ([`crate::paths::default_local_llm`]). The file may not exist; loading says so.
    pub fn model_path(&self) -> PathBuf {
        if !self.model.as_os_str().is_empty() {
            return self.model.clone();
        }
        crate::paths::default_local_llm()
    }
}

/// An OpenAI-compatible endpoint (`[llm.remote]`): Ollama, LM Studio, llama.cpp's server, vLLM,
/// OpenAI, Azure OpenAI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteLlmConfig {
    /// The API's base URL, the part before `/chat/completions`, e.g. `http://localhost:11434/v1`.
    pub base_url: String,
    /// The model name sent with each request (Azure: the deployment decides).
    pub model: String,
    /// Name of the environment variable holding the API key (not the key itself). When it is
    /// unset the OS keychain entry of that name is used, if any; else no key is sent.
    pub api_key_env: String,
    /// Longest wait for connecting, the first response byte, or the next streamed piece.
    pub timeout_secs: u64,
    /// Retries after HTTP 429 or 5xx, with exponential backoff.
    pub max_retries: u32,
    /// Azure OpenAI's `api-version` query parameter; when set the key is sent as `api-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_api_version: Option<String>,
}

impl Default for RemoteLlmConfig {
    fn default() -> Self {
        RemoteLlmConfig {
            base_url: String::new(),
            model: String::new(),
            api_key_env: DEFAULT_API_KEY_ENV.into(),
            timeout_secs: 60,
            max_retries: 3,
            azure_api_version: None,
        }
    }
}

impl LlmConfig {
    /// Checks the settings; `Err` is the message (naming the key) for [`Error::Config`].
    pub fn check(&self) -> std::result::Result<(), String> {
        let l = &self.local;
        if l.context != 0 && l.context < 256 {
            return Err(format!(
                "llm.local.context must be 0 (the model's own) or at least 256 tokens, not {}",
                l.context
            ));
        }
        if l.threads > 1024 {
            return Err(format!("llm.local.threads = {} is too large", l.threads));
        }
        let r = &self.remote;
        let env = r.api_key_env.trim();
        if env.is_empty()
            || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || env.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(
                "llm.remote.api_key_env must be the NAME of an environment variable (letters, digits, \
                 _), e.g. CAIRN_API_KEY; never put the key itself in the config file"
                    .into(),
            );
        }
        if r.timeout_secs == 0 || r.timeout_secs > 3600 {
            return Err(format!(
                "llm.remote.timeout_secs must be between 1 and 3600, not {}",
                r.timeout_secs
            ));
        }
        if r.max_retries > 10 {
            return Err(format!(
                "llm.remote.max_retries must be at most 10, not {}",
                r.max_retries
            ));
        }
        let url = r.base_url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "llm.remote.base_url must start with http:// or https://, not `{url}`"
            ));
        }
        if self.provider == LlmProvider::Remote {
            if url.is_empty() {
                return Err(
                    "llm.provider is \"remote\" but llm.remote.base_url is empty (e.g. \
                     http://localhost:11434/v1)"
                        .into(),
                );
            }
            if let Some(host) = insecure_http_host(url).filter(|_| !self.allow_insecure_http) {
                return Err(format!(
                    "llm.remote.base_url `{url}` is plain http:// to {host}, another machine: \
                     questions, sources and the API key would cross the network unencrypted. \
                     Use https://, or set llm.allow_insecure_http = true if this network is \
                     trusted"
                ));
            }
            if r.model.trim().is_empty() {
                return Err(
                    "llm.provider is \"remote\" but llm.remote.model is empty (a model name the \
                     server lists at GET <base_url>/models)"
                        .into(),
                );
            }
        }
        if r.azure_api_version
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            return Err("llm.remote.azure_api_version must not be empty when given".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_unless_loopback_or_allowed() {
        for ok in [
            "https://api.example.com/v1",
            "http://localhost:11434/v1",
            "http://LOCALHOST/v1",
            "http://ollama.localhost/v1",
            "http://127.0.0.1:8080/v1",
            "http://127.8.9.10/v1",
            "http://[::1]:8080/v1",
            "",
        ] {
            assert_eq!(insecure_http_host(ok), None, "{ok}");
        }
        assert_eq!(
            insecure_http_host("http://user:pw@10.0.0.5:8080/v1").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            insecure_http_host("HTTP://Example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            insecure_http_host("http://localhost.evil.com/v1").as_deref(),
            Some("localhost.evil.com")
        );
        assert_eq!(
            insecure_http_host("http://127.0.0.1@evil.com/v1").as_deref(),
            Some("evil.com")
        );

        let mut cfg = LlmConfig {
            provider: LlmProvider::Remote,
            ..LlmConfig::default()
        };
        cfg.remote.model = "m".into();
        cfg.remote.base_url = "http://llm.corp.example/v1".into();
        let err = cfg.check().unwrap_err();
        assert!(
            err.contains("allow_insecure_http") && err.contains("llm.corp.example"),
            "{err}"
        );
        cfg.allow_insecure_http = true;
        assert!(cfg.check().is_ok());
        cfg.allow_insecure_http = false;
        cfg.remote.base_url = "http://localhost:11434/v1".into();
        assert!(cfg.check().is_ok());
    }
}
