//! Any OpenAI-compatible chat-completions endpoint, over blocking HTTP (ureq, rustls).

use cairn_core::stop::StopToken;
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use ureq::http::{Response, Uri};
use ureq::Body;

use crate::secret::{lookup_api_key, ApiKey, KeySource};
use crate::stream::{Flow, Output};
use crate::{ChatMessage, Error, Finish, GenerateOptions, GenerationOutput, Generator, Result};
use cairn_core::audit::redact_url;
use cairn_core::config::insecure_http_host;

use crate::DEFAULT_API_KEY_ENV;

/// Longest wait between retries, whatever the backoff or `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How much of an error body goes into messages.
const BODY_EXCERPT: usize = 300;

/// States of the one-time `GET /models` check ([`RemoteGenerator::run`]).
const MODEL_UNCHECKED: u8 = 0;
/// The server lists the model: never checked again.
const MODEL_LISTED: u8 = 1;
/// [`Generator::prepare`] just checked without a verdict (no list, no answer, …): the next
/// `run` does not ask again (its request shows the problem); the one after it does.
const MODEL_JUST_TRIED: u8 = 2;

/// Settings of a [`RemoteGenerator`]. Holds no secret: the key is looked up by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// The API's base URL, the part before `/chat/completions`: `http://localhost:11434/v1`
    /// (Ollama), `http://localhost:1234/v1` (LM Studio), `http://localhost:8080/v1` (llama.cpp
    /// server), `https://api.openai.com/v1`, or for Azure OpenAI
    /// `https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT`. A full
    /// `…/chat/completions` URL is accepted too.
    pub base_url: String,
    /// The model name sent in each request (for Azure, the deployment decides; any name works).
    pub model: String,
    /// Environment variable holding the API key (default `CAIRN_API_KEY`). If it is unset (and,
    /// with the `keychain` feature, the OS keychain has no entry under this name) no key is
    /// sent, which is right for local servers.
    pub api_key_env: String,
    /// Longest wait for any one step: connecting, the response headers, or the next piece of a
    /// streamed answer. A long answer that keeps streaming is never cut.
    pub timeout: Duration,
    /// Retries after HTTP 429 or 5xx (0 = try once). Waits `retry_backoff`, doubling each
    /// time, or what the server's `Retry-After` asks, at most 30 s. Refused connections,
    /// timeouts and other statuses fail at once (retrying would only delay the message).
    pub max_retries: u32,
    /// First wait before a retry.
    pub retry_backoff: Duration,
    /// Azure OpenAI: the `api-version` query parameter (e.g. `2024-10-21`). When set, the key
    /// goes in an `api-key` header instead of `Authorization: Bearer`.
    pub azure_api_version: Option<String>,
    /// Ask for an SSE stream (`"stream": true`, the default) or one JSON answer. Without
    /// streaming `on_token` gets the whole answer at once.
    pub stream: bool,
    /// Before the first answer, check once that `GET /models` lists `model` (default true; see
    /// [`RemoteGenerator::run`]).
    pub check_model: bool,
    /// Allow `http://` to another machine (`llm.allow_insecure_http`); loopback is always fine.
    pub allow_insecure_http: bool,
}

impl RemoteConfig {
    /// Settings for `model` at `base_url` with the defaults: key from `$CAIRN_API_KEY`, 60 s
    /// timeout, 3 retries starting at 500 ms, streaming.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: DEFAULT_API_KEY_ENV.to_owned(),
            timeout: Duration::from_secs(60),
            max_retries: 3,
            retry_backoff: Duration::from_millis(500),
            azure_api_version: None,
            stream: true,
            check_model: true,
            allow_insecure_http: false,
        }
    }
}

/// A chat model behind an OpenAI-compatible HTTP API.
pub struct RemoteGenerator {
    config: RemoteConfig,
    /// Normalised base URL (no trailing slash, no query).
    base: String,
    /// The query string (without `?`) appended to every request, if any.
    query: String,
    /// `<base>/chat/completions?<query>`.
    chat_url: String,
    agent: ureq::Agent,
    key: Option<ApiKey>,
    key_source: KeySource,
    /// The `GET /models` check: `MODEL_UNCHECKED`, `MODEL_LISTED` or `MODEL_JUST_TRIED`.
    model_check: AtomicU8,
}

impl std::fmt::Debug for RemoteGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteGenerator")
            .field("config", &self.config)
            .field("chat_url", &self.chat_url)
            .field("key", &self.key) // ApiKey's Debug is redacted
            .finish_non_exhaustive()
    }
}

impl RemoteGenerator {
    /// Checks the URL and looks up the API key (see [`RemoteConfig::api_key_env`]). Does not
    /// contact the server; [`RemoteGenerator::list_models`] does.
    pub fn new(config: RemoteConfig) -> Result<Self> {
        let (key, key_source) = lookup_api_key(&config.api_key_env, &config.base_url);
        Self::build(config, key, key_source)
    }

    /// Like [`RemoteGenerator::new`] with a key the caller already holds (e.g. read from the
    /// OS keychain by the app) instead of looking one up.
    pub fn with_api_key(config: RemoteConfig, key: ApiKey) -> Result<Self> {
        Self::build(config, Some(key), KeySource::Given)
    }

    fn build(config: RemoteConfig, key: Option<ApiKey>, key_source: KeySource) -> Result<Self> {
        if config.model.trim().is_empty() {
            return Err(Error::Config(format!(
                "no model name given for the endpoint {}",
                config.base_url
            )));
        }
        if config.timeout.is_zero() {
            return Err(Error::Config(
                "the remote timeout must be positive".to_owned(),
            ));
        }
        let (base, query) = split_base_url(&config.base_url, config.azure_api_version.as_deref())?;
        if let Some(host) = insecure_http_host(&base).filter(|_| !config.allow_insecure_http) {
            return Err(Error::InsecureHttp {
                url: redact_url(&config.base_url),
                host,
            });
        }
        let chat_url = with_query(&format!("{base}/chat/completions"), &query);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.timeout))
            .timeout_recv_response(Some(config.timeout))
            .timeout_per_read(Some(config.timeout))
            .timeout_send_request(Some(config.timeout))
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self {
            config,
            base,
            query,
            chat_url,
            agent,
            key,
            key_source,
            model_check: AtomicU8::new(MODEL_UNCHECKED),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// The URL requests go to (`<base>/chat/completions`, with Azure's `api-version`).
    pub fn chat_url(&self) -> &str {
        &self.chat_url
    }

    /// True when an API key was found and will be sent.
    pub fn has_api_key(&self) -> bool {
        self.key.is_some()
    }

    /// The model names the server lists at `GET <base>/models`; useful to check the settings
    /// (reachable, key accepted) and to offer a choice. Not retried.
    pub fn list_models(&self) -> Result<Vec<String>> {
        let url = with_query(&format!("{}/models", self.base), &self.query);
        let req = self.authorize(self.agent.get(&url));
        let mut resp = req
            .call()
            .map_err(|e| transport_error(&url, self.config.timeout, e))?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(self.status_error(&url, status, &body, 1));
        }
        let value: Value = serde_json::from_str(&body).map_err(|e| Error::BadResponse {
            url: url.clone(),
            reason: format!("the model list is not JSON ({e}): {}", excerpt(&body)),
        })?;
        let list = value
            .get("data")
            .or_else(|| value.get("models"))
            .and_then(Value::as_array)
            .ok_or_else(|| Error::BadResponse {
                url: url.clone(),
                reason: format!("no `data` list in {}", excerpt(&body)),
            })?;
        Ok(list
            .iter()
            .filter_map(|m| {
                m.get("id")
                    .or_else(|| m.get("name"))
                    .and_then(Value::as_str)
            })
            .map(str::to_owned)
            .collect())
    }

    fn authorize<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match (&self.key, &self.config.azure_api_version) {
            (None, _) => req,
            (Some(key), Some(_)) => req.header("api-key", key.expose()),
            (Some(key), None) => req.header("Authorization", format!("Bearer {}", key.expose())),
        }
    }

    fn request_body(&self, messages: &[ChatMessage], opts: &GenerateOptions) -> String {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
        let mut body = json!({
            "model": self.config.model,
            "messages": messages,
            "max_tokens": opts.max_tokens,
            "temperature": opts.temperature.max(0.0),
            "stream": self.config.stream,
        });
        let stops: Vec<&str> = opts
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .take(4)
            .map(String::as_str)
            .collect();
        if !stops.is_empty() {
            body["stop"] = json!(stops);
        }
        if let Some(seed) = opts.seed {
            body["seed"] = json!(seed);
        }
        body.to_string()
    }

    /// Sends the request, retrying 429 and 5xx with backoff. `Ok(None)` means cancelled while
    /// waiting to retry.
    fn send_with_retries(&self, body: &str, cancel: &StopToken) -> Result<Option<Response<Body>>> {
        let url = &self.chat_url;
        let attempts = self.config.max_retries.saturating_add(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            tracing::debug!(url = %url, attempt, "chat completion request");
            let req = self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .header(
                    "Accept",
                    if self.config.stream {
                        "text/event-stream"
                    } else {
                        "application/json"
                    },
                );
            let mut resp = self
                .authorize(req)
                .send(body.as_bytes())
                .map_err(|e| transport_error(url, self.config.timeout, e))?;
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(Some(resp));
            }
            let retryable = status == 429 || (500..600).contains(&status);
            if retryable && attempt < attempts {
                let wait = backoff(self.config.retry_backoff, attempt, retry_after(&resp));
                tracing::warn!(
                    "{url} answered HTTP {status}; retrying in {wait:?} ({attempt}/{})",
                    attempts - 1
                );
                drop(resp);
                if sleep_unless_cancelled(wait, cancel) {
                    return Ok(None);
                }
                continue;
            }
            let text = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default();
            return Err(self.status_error(url, status, &text, attempt));
        }
    }

    /// Turns an unsuccessful status into the error that names the problem.
    fn status_error(&self, url: &str, status: u16, body: &str, attempts: u32) -> Error {
        let detail = error_detail(body);
        let url = url.to_owned();
        let lower = detail.to_lowercase();
        let about_model = (lower.contains("model") || lower.contains("deployment"))
            && [
                "not found",
                "does not exist",
                "not exist",
                "unknown",
                "no such",
                "not available",
                "invalid model",
            ]
            .iter()
            .any(|p| lower.contains(p));
        match status {
            401 | 403 => Error::Auth {
                url,
                status,
                detail: format!(
                    "{}{}",
                    self.key_source.describe_rejection(),
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    }
                ),
            },
            429 => Error::RateLimited { url, attempts },
            404 if lower.contains("model") || lower.contains("deployment") => Error::UnknownModel {
                model: self.config.model.clone(),
                url,
                detail,
            },
            400 | 404 | 422 if about_model => Error::UnknownModel {
                model: self.config.model.clone(),
                url,
                detail,
            },
            404 => Error::EndpointNotFound {
                url,
                detail: if detail.is_empty() {
                    "no such path on this server".to_owned()
                } else {
                    detail
                },
            },
            _ => Error::Http {
                url,
                status,
                body: detail,
            },
        }
    }

    fn read_stream(
        &self,
        resp: Response<Body>,
        out: &mut Output<'_>,
        cancel: &StopToken,
    ) -> Result<(Finish, Option<usize>, usize)> {
        let url = &self.chat_url;
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        if !is_sse {
            // Some servers ignore "stream": true and answer with one JSON object.
            return self.read_json(resp, out);
        }
        let mut reader = BufReader::new(resp.into_body().into_reader());
        let mut line = String::new();
        let mut data = String::new();
        let mut finish = None;
        let mut pieces = 0usize;
        let mut usage = (None, None);
        loop {
            if cancel.is_stopped() {
                return Ok((Finish::Cancelled, usage.0, usage.1.unwrap_or(pieces)));
            }
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| read_error(url, self.config.timeout, e, pieces))?;
            let eof = n == 0;
            let trimmed = line.trim_end_matches(['\r', '\n']);
            if !eof && !trimmed.is_empty() {
                if let Some(rest) = trimmed.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                }
                // Comments (":keep-alive"), "event:", "id:", "retry:" lines are ignored.
                continue;
            }
            // A blank line (or the end) dispatches the event.
            if !data.is_empty() {
                let event = std::mem::take(&mut data);
                if event.trim() == "[DONE]" {
                    break;
                }
                let value: Value =
                    serde_json::from_str(&event).map_err(|e| Error::BadResponse {
                        url: url.clone(),
                        reason: format!("a stream event is not JSON ({e}): {}", excerpt(&event)),
                    })?;
                if let Some(err) = value.get("error") {
                    return Err(Error::BadResponse {
                        url: url.clone(),
                        reason: format!(
                            "the server reported an error mid-stream: {}",
                            error_detail(&err.to_string())
                        ),
                    });
                }
                read_usage(&value, &mut usage);
                if let Some(choice) = value.get("choices").and_then(|c| c.get(0)) {
                    if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                        if !text.is_empty() {
                            pieces += 1;
                            if out.push_str(text) == Flow::Stopped {
                                return Ok((Finish::Stop, usage.0, usage.1.unwrap_or(pieces)));
                            }
                        }
                    }
                    if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                        finish = Some(map_finish(reason));
                    }
                }
            }
            if eof {
                break;
            }
        }
        Ok((
            finish.unwrap_or(Finish::Stop),
            usage.0,
            usage.1.unwrap_or(pieces),
        ))
    }

    fn read_json(
        &self,
        resp: Response<Body>,
        out: &mut Output<'_>,
    ) -> Result<(Finish, Option<usize>, usize)> {
        let url = &self.chat_url;
        let body = resp
            .into_body()
            .read_to_string()
            .map_err(|e| transport_error(url, self.config.timeout, e))?;
        let value: Value = serde_json::from_str(&body).map_err(|_| Error::BadResponse {
            url: url.clone(),
            reason: format!(
                "expected a chat-completions JSON answer or an SSE stream, got: {}",
                excerpt(&body)
            ),
        })?;
        let choice =
            value
                .get("choices")
                .and_then(|c| c.get(0))
                .ok_or_else(|| Error::BadResponse {
                    url: url.clone(),
                    reason: format!("no `choices` in the answer: {}", excerpt(&body)),
                })?;
        let text = choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut usage = (None, None);
        read_usage(&value, &mut usage);
        let finish = match out.push_str(text) {
            Flow::Stopped => Finish::Stop,
            Flow::Continue => choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .map_or(Finish::Stop, map_finish),
        };
        Ok((
            finish,
            usage.0,
            usage.1.unwrap_or(usize::from(!text.is_empty())),
        ))
    }
}

impl Generator for RemoteGenerator {
    fn model_id(&self) -> String {
        format!("remote:{}#{}", redact_url(&self.base), self.config.model)
    }

    fn endpoint(&self) -> Option<String> {
        Some(redact_url(&self.base))
    }

    /// The model check of [`RemoteGenerator::run`], made before any prompt is sent: fails
    /// with [`Error::UnknownModel`] when the server lists models without this one.
    fn prepare(&self) -> cairn_core::Result<()> {
        if self.ensure_model().map_err(Error::into_core)? {
            self.model_check.store(MODEL_JUST_TRIED, Ordering::Relaxed);
        }
        Ok(())
    }

    fn generate(
        &self,
        messages: &[ChatMessage],
        opts: &GenerateOptions,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> cairn_core::Result<GenerationOutput> {
        self.run(messages, opts, cancel, on_token)
            .map_err(Error::into_core)
    }
}

impl RemoteGenerator {
    /// [`Generator::generate`] with this crate's error type.
    ///
    /// The first call on a generator also checks, once, that the server lists the configured
    /// model at `GET /models` (when it lists models at all, and not for Azure, whose
    /// deployments are not listed): servers that would otherwise answer with another model
    /// (llama.cpp's and llama-cpp-python's servers serve whatever they loaded) then fail with
    /// [`Error::UnknownModel`] like the ones that check. [`Generator::prepare`] makes the same
    /// check ahead (before the prompt is rendered); a check it just made is not repeated.
    pub fn run(
        &self,
        messages: &[ChatMessage],
        opts: &GenerateOptions,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<GenerationOutput> {
        let start = Instant::now();
        let just_tried = self
            .model_check
            .compare_exchange(
                MODEL_JUST_TRIED,
                MODEL_UNCHECKED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        if !just_tried {
            self.ensure_model()?;
        }
        let mut out = Output::new(start, &opts.stop, on_token);
        if cancel.is_stopped() {
            return Ok(out.finish(Finish::Cancelled, false, None, 0));
        }
        let body = self.request_body(messages, opts);
        let Some(resp) = self.send_with_retries(&body, cancel)? else {
            return Ok(out.finish(Finish::Cancelled, false, None, 0));
        };
        let (finish, prompt_tokens, completion_tokens) = if self.config.stream {
            self.read_stream(resp, &mut out, cancel)?
        } else {
            self.read_json(resp, &mut out)?
        };
        Ok(out.finish(finish, true, prompt_tokens, completion_tokens))
    }

    /// The one-time check of `GET /models` (when enabled and not Azure): fails only with
    /// [`Error::UnknownModel`]; anything else (no `/models`, auth, unreachable, …) shows up in
    /// the real request. Returns true when it asked without getting a verdict (checked again
    /// next time).
    fn ensure_model(&self) -> Result<bool> {
        if !self.config.check_model
            || self.config.azure_api_version.is_some()
            || self.model_check.load(Ordering::Relaxed) == MODEL_LISTED
        {
            return Ok(false);
        }
        match self.check_model() {
            Ok(_) => {
                self.model_check.store(MODEL_LISTED, Ordering::Relaxed);
                Ok(false)
            }
            Err(e @ Error::UnknownModel { .. }) => {
                self.model_check.store(MODEL_UNCHECKED, Ordering::Relaxed);
                Err(e)
            }
            Err(_) => Ok(true),
        }
    }

    /// Asks `GET /models` and checks the configured model is listed. Returns the list (empty
    /// when the server lists nothing, or has no `/models`, as some proxies and Azure do); fails
    /// with [`Error::UnknownModel`] naming the listed models when it is not there, or with the
    /// error of the request (unreachable, bad key, timeout, …).
    pub fn check_model(&self) -> Result<Vec<String>> {
        let models = match self.list_models() {
            Ok(models) => models,
            Err(Error::EndpointNotFound { .. }) if self.config.azure_api_version.is_some() => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e),
        };
        let want = self.config.model.trim();
        let listed = |m: &String| {
            m == want
                || m.strip_suffix(":latest") == Some(want)
                || std::path::Path::new(m)
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy() == want)
        };
        if models.is_empty() || self.config.azure_api_version.is_some() || models.iter().any(listed)
        {
            return Ok(models);
        }
        let mut shown: Vec<&str> = models.iter().take(10).map(String::as_str).collect();
        if models.len() > 10 {
            shown.push("…");
        }
        Err(Error::UnknownModel {
            model: want.to_owned(),
            url: with_query(&format!("{}/models", self.base), &self.query),
            detail: format!("it lists {}", shown.join(", ")),
        })
    }

    /// Where the API key came from (names only).
    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }

    /// The normalised base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

/// Splits a base URL into (base without trailing slash or `/chat/completions`, query), adding
/// Azure's `api-version`, and checks it is an absolute http(s) URL.
fn split_base_url(raw: &str, azure_api_version: Option<&str>) -> Result<(String, String)> {
    let trimmed = raw.trim();
    let invalid = |reason: &str| Error::InvalidUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    let uri: Uri = trimmed
        .parse()
        .map_err(|e| invalid(&format!("not a URL ({e})")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(invalid(&format!("scheme `{other}` is not http or https"))),
        None => return Err(invalid("no scheme: start it with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host name"));
    }
    let (path_part, query) = match trimmed.split_once('?') {
        Some((p, q)) => (p, q.to_owned()),
        None => (trimmed, String::new()),
    };
    let mut base = path_part.trim_end_matches('/');
    for suffix in ["/chat/completions", "/completions"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped;
            break;
        }
    }
    let mut query = query;
    if let Some(version) = azure_api_version.filter(|v| !v.trim().is_empty()) {
        let has_version = query.split('&').any(|kv| kv.starts_with("api-version="));
        if !has_version {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str("api-version=");
            query.push_str(version.trim());
        }
    }
    Ok((base.to_owned(), query))
}

fn with_query(url: &str, query: &str) -> String {
    if query.is_empty() {
        url.to_owned()
    } else {
        format!("{url}?{query}")
    }
}

/// Maps a failure to connect or to receive the response.
fn transport_error(url: &str, timeout: Duration, e: ureq::Error) -> Error {
    let url = url.to_owned();
    let unreachable = |reason: String| Error::Unreachable {
        url: url.clone(),
        reason,
    };
    match e {
        ureq::Error::Timeout(_) => Error::Timeout {
            url: url.clone(),
            after: timeout,
        },
        ureq::Error::HostNotFound => unreachable("the host name does not resolve (DNS)".into()),
        ureq::Error::ConnectionFailed => unreachable("the connection failed".into()),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                unreachable("connection refused (no server is listening on that port)".into())
            }
            std::io::ErrorKind::TimedOut => Error::Timeout {
                url: url.clone(),
                after: timeout,
            },
            _ => unreachable(io.to_string()),
        },
        ureq::Error::BadUri(reason) => Error::InvalidUrl {
            url: url.clone(),
            reason,
        },
        ureq::Error::Tls(reason) => unreachable(format!("TLS: {reason}")),
        ureq::Error::Rustls(err) => unreachable(format!("TLS: {err}")),
        other => unreachable(other.to_string()),
    }
}

/// Maps a failure while reading a streamed answer.
fn read_error(url: &str, timeout: Duration, e: std::io::Error, pieces: usize) -> Error {
    if e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|inner| matches!(inner, ureq::Error::Timeout(_)))
    {
        return Error::Timeout {
            url: url.to_owned(),
            after: timeout,
        };
    }
    Error::BadResponse {
        url: url.to_owned(),
        reason: format!("the stream broke off after {pieces} pieces: {e}"),
    }
}

fn map_finish(reason: &str) -> Finish {
    match reason {
        "length" => Finish::Length,
        _ => Finish::Stop,
    }
}

fn read_usage(value: &Value, usage: &mut (Option<usize>, Option<usize>)) {
    if let Some(u) = value.get("usage").filter(|u| u.is_object()) {
        let get = |k: &str| u.get(k).and_then(Value::as_u64).map(|n| n as usize);
        usage.0 = get("prompt_tokens").or(usage.0);
        usage.1 = get("completion_tokens").or(usage.1);
    }
}

/// The human-readable message in an error body (`{"error": {"message": …}}`,
/// `{"error": "…"}`, `{"detail": …}`, `{"message": …}`), else the start of the body.
fn error_detail(body: &str) -> String {
    let body = body.trim();
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let candidates = [
            value.pointer("/error/message"),
            value.get("error").filter(|v| v.is_string()),
            value.get("message"),
            value.get("detail"),
        ];
        if let Some(found) = candidates.into_iter().flatten().next() {
            let text = match found {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return excerpt(&text);
        }
    }
    excerpt(body)
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored).
fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    let value = resp.headers().get("retry-after")?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The wait before retry number `attempt` (1-based): `initial * 2^(attempt-1)`, or the
/// server's `Retry-After` if longer, capped at [`MAX_BACKOFF`].
fn backoff(initial: Duration, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = initial.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
    exp.max(retry_after.unwrap_or_default()).min(MAX_BACKOFF)
}

/// Sleeps in short slices; true if `cancel` was set meanwhile.
fn sleep_unless_cancelled(wait: Duration, cancel: &StopToken) -> bool {
    let until = Instant::now() + wait;
    loop {
        if cancel.is_stopped() {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests;
