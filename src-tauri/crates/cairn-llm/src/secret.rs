//! The API key: where it comes from, and keeping it out of logs.
//!
//! The key is read from an environment variable (name configurable, default `CAIRN_API_KEY`);
//! with the `keychain` feature, from the OS keychain when the variable is not set. It is never
//! read from a configuration file, and its `Debug`/`Display` forms are redacted.
//!
//! A key stored in the keychain is bound to the endpoint it was saved for (scheme, host and
//! port of the base URL): a generator for another endpoint does not send it, so changing the
//! base URL never hands the old key to a new host; the user enters the key again. Entries
//! saved before keys were bound (no endpoint recorded) are not sent anywhere either.

use std::fmt;

/// An API key. Its `Debug` form is `ApiKey(<redacted>)`; use [`ApiKey::expose`] only to build
/// the request header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (e.g. one the user typed into a settings dialog, to store in the keychain).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the request header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where a key was found, for messages ("the key from $CAIRN_API_KEY was rejected"). Holds
/// names only, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The environment variable of this name.
    Env(String),
    /// The OS keychain entry (service [`KEYCHAIN_SERVICE`], user = this name).
    Keychain(String),
    /// Handed over by the caller ([`crate::RemoteGenerator::with_api_key`]).
    Given,
    /// No key was found under this name: none is sent (right for local servers).
    None(String),
    /// The keychain entry `var` holds a key saved for another endpoint (`saved_for`; None for
    /// an entry from before keys were bound): it is not sent to `endpoint`.
    Elsewhere {
        var: String,
        saved_for: Option<String>,
        endpoint: String,
    },
}

fn saved_for(origin: &Option<String>) -> &str {
    origin
        .as_deref()
        .unwrap_or("an endpoint it does not record (saved by an older Cairn)")
}

impl KeySource {
    /// Where the key came from, for a settings screen: never the key itself.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Env(var) => format!("environment variable {var}"),
            KeySource::Keychain(var) => format!("OS keychain entry `{var}`"),
            KeySource::Given => "given by the caller".to_owned(),
            KeySource::None(_) => "none".to_owned(),
            KeySource::Elsewhere {
                var,
                saved_for: origin,
                endpoint,
            } => format!(
                "none: the OS keychain entry `{var}` holds a key saved for {}, which is never \
                 sent to {endpoint}; enter the key again for this endpoint",
                saved_for(origin)
            ),
        }
    }

    pub(crate) fn describe_rejection(&self) -> String {
        match self {
            KeySource::Env(var) => format!("the API key from ${var} was rejected"),
            KeySource::Keychain(var) => {
                format!("the API key from the OS keychain (entry `{var}`) was rejected")
            }
            KeySource::Given => "the API key given was rejected".to_owned(),
            KeySource::Elsewhere {
                var,
                saved_for: origin,
                endpoint,
            } => format!(
                "no API key was sent: the key in the OS keychain (entry `{var}`) was saved for \
                 {} and is never sent to {endpoint}; enter the key again for this endpoint",
                saved_for(origin)
            ),
            KeySource::None(var) => {
                if cfg!(feature = "keychain") {
                    format!(
                        "no API key was sent (${var} is not set and the OS keychain has no \
                         entry `{var}`)"
                    )
                } else {
                    format!("no API key was sent (${var} is not set)")
                }
            }
        }
    }
}

/// Service name of Cairn's keychain entries; the entry's user name is the key's variable name
/// (default `CAIRN_API_KEY`), so one entry per configured variable.
pub const KEYCHAIN_SERVICE: &str = "cairn";

/// True when this build can use the OS keychain (the `keychain` feature). Whether a keychain
/// service is actually running is only known when it is used.
pub fn keychain_enabled() -> bool {
    cfg!(feature = "keychain")
}

/// The endpoint a stored key is bound to: `scheme://host:port` of `url`, lowercase, with the
/// scheme's default port filled in; None when `url` is not an http(s) URL with a host.
pub fn endpoint_origin(url: &str) -> Option<String> {
    let uri: ureq::http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host = uri.host().filter(|h| !h.is_empty())?.to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(default_port);
    Some(format!("{scheme}://{host}:{port}"))
}

/// How a keychain entry starts when it records its endpoint: this line, the origin, a newline,
/// then the key.
const BOUND: &str = "cairn-api-key-for ";

fn encode(origin: &str, key: &ApiKey) -> String {
    format!("{BOUND}{origin}\n{}", key.expose().trim())
}

/// (the endpoint the key was saved for, if recorded; the key).
fn decode(stored: &str) -> (Option<String>, ApiKey) {
    match stored
        .strip_prefix(BOUND)
        .and_then(|rest| rest.split_once('\n'))
    {
        Some((origin, key)) => (Some(origin.to_owned()), ApiKey(key.trim().to_owned())),
        None => (None, ApiKey(stored.trim().to_owned())),
    }
}

/// Where the key for `var` would come from for the endpoint `base_url` (names only): what a
/// settings screen shows. See [`KeySource`].
pub fn key_source(var: &str, base_url: &str) -> KeySource {
    lookup_api_key(var, base_url).1
}

/// Looks the key up for the endpoint `base_url`: the environment variable `var` first, then
/// (feature `keychain`) the OS keychain entry (service [`KEYCHAIN_SERVICE`], user `var`) if it
/// was saved for this endpoint. An empty value counts as unset; an unusable keychain counts as
/// no entry.
pub(crate) fn lookup_api_key(var: &str, base_url: &str) -> (Option<ApiKey>, KeySource) {
    if !var.is_empty() {
        if let Some(key) = std::env::var(var).ok().filter(|k| !k.trim().is_empty()) {
            return (
                Some(ApiKey(key.trim().to_owned())),
                KeySource::Env(var.into()),
            );
        }
    }
    match load_from_keychain(var) {
        Ok(Some((origin, key))) => {
            let want = endpoint_origin(base_url);
            if origin.is_some() && origin == want {
                return (Some(key), KeySource::Keychain(var.into()));
            }
            return (
                None,
                KeySource::Elsewhere {
                    var: var.into(),
                    saved_for: origin,
                    endpoint: want.unwrap_or_else(|| cairn_core::audit::redact_url(base_url)),
                },
            );
        }
        Ok(None) => {}
        // No keychain service (e.g. a headless Linux without a Secret Service): no key.
        Err(e) => tracing::debug!("OS keychain not used for {var}: {e}"),
    }
    (None, KeySource::None(var.into()))
}

fn check_name(var: &str) -> crate::Result<()> {
    if var.trim().is_empty() {
        return Err(crate::Error::Config(
            "the API key's name (llm.remote.api_key_env) is empty".into(),
        ));
    }
    Ok(())
}

#[cfg(feature = "keychain")]
fn entry(var: &str) -> crate::Result<keyring::Entry> {
    keyring::Entry::new(KEYCHAIN_SERVICE, var).map_err(keychain_error)
}

#[cfg(feature = "keychain")]
fn keychain_error(e: keyring::Error) -> crate::Error {
    crate::Error::Keychain(match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            format!(
                "no keychain service answered ({inner}); on Linux this needs a running Secret \
                 Service (GNOME Keyring or KWallet) on the session D-Bus"
            )
        }
        other => other.to_string(),
    })
}

/// The entry for `var`: (the endpoint it was saved for, if recorded; the key).
#[cfg(feature = "keychain")]
fn load_from_keychain(var: &str) -> crate::Result<Option<(Option<String>, ApiKey)>> {
    if var.trim().is_empty() {
        return Ok(None);
    }
    match entry(var)?.get_password() {
        Ok(stored) if !decode(&stored).1.expose().is_empty() => Ok(Some(decode(&stored))),
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keychain_error(e)),
    }
}

#[cfg(not(feature = "keychain"))]
fn load_from_keychain(_var: &str) -> crate::Result<Option<(Option<String>, ApiKey)>> {
    Err(feature_off())
}

#[cfg(not(feature = "keychain"))]
fn feature_off() -> crate::Error {
    crate::Error::Keychain(
        "this build of Cairn was made without OS keychain support (cargo feature `keychain` \
         of cairn-llm)"
            .into(),
    )
}

/// Stores `key` in the OS keychain as the entry for `var` (service [`KEYCHAIN_SERVICE`],
/// user `var`, e.g. `CAIRN_API_KEY`), bound to the endpoint `base_url` (its scheme, host and
/// port): remote generators for that endpoint find it when the environment variable `var` is
/// not set; generators for any other endpoint do not send it.
///
/// Errors ([`crate::Error::Keychain`], converted): the `keychain` feature is off, or no
/// keychain service is running; the hint tells the user to set the environment variable.
/// [`crate::Error::Config`] when the key is empty or `base_url` is not an http(s) URL.
pub fn store_api_key(var: &str, base_url: &str, key: &ApiKey) -> cairn_core::Result<()> {
    check_name(var)?;
    if key.expose().trim().is_empty() {
        return Err(crate::Error::Config("the API key to store is empty".into()).into());
    }
    let origin = endpoint_origin(base_url).ok_or_else(|| {
        crate::Error::Config(format!(
            "an API key is saved for one endpoint, and `{}` is not an http(s) URL: set the \
             base URL first (e.g. https://api.openai.com/v1)",
            cairn_core::audit::redact_url(base_url)
        ))
    })?;
    #[cfg(feature = "keychain")]
    {
        entry(var)?
            .set_password(&encode(&origin, key))
            .map_err(keychain_error)?;
        Ok(())
    }
    #[cfg(not(feature = "keychain"))]
    {
        Err(feature_off().into())
    }
}

/// The key stored in the OS keychain for `var`, whatever endpoint it was saved for, or `None`
/// when there is no entry. Errors as for [`store_api_key`]. (Generators look the environment
/// variable up first and send a stored key only to its endpoint: see [`key_source`].)
pub fn load_api_key(var: &str) -> cairn_core::Result<Option<ApiKey>> {
    check_name(var)?;
    Ok(load_from_keychain(var)?.map(|(_, key)| key))
}

/// Removes the keychain entry for `var`; `Ok(false)` when there was none. Errors as for
/// [`store_api_key`].
pub fn delete_api_key(var: &str) -> cairn_core::Result<bool> {
    check_name(var)?;
    #[cfg(feature = "keychain")]
    {
        match entry(var)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(keychain_error(e).into()),
        }
    }
    #[cfg(not(feature = "keychain"))]
    {
        Err(feature_off().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = ApiKey::new("sk-very-secret");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert!(!format!("{:?}", Some(key.clone())).contains("secret"));
        assert_eq!(key.expose(), "sk-very-secret");
    }

    #[test]
    fn key_comes_from_the_named_variable() {
        let var = "CAIRN_LLM_TEST_KEY_FROM_ENV";
        std::env::set_var(var, "  sk-abc \n");
        let (key, source) = lookup_api_key(var, "https://api.example.com/v1");
        std::env::remove_var(var);
        assert_eq!(key.unwrap().expose(), "sk-abc");
        assert_eq!(source, KeySource::Env(var.into()));
        assert!(source.describe_rejection().contains(var));
    }

    /// On a desktop this stores, reads back and deletes a key; on a headless machine without a
    /// Secret Service (like CI), or without the `keychain` feature, every call fails with a
    /// Keychain error whose hint names the environment variable, and lookups find no key.
    #[test]
    fn keychain_round_trip_or_clean_absence() {
        let var = "CAIRN_LLM_TEST_KEYCHAIN_ROUND_TRIP";
        let url = "https://api.example.com/v1";
        match store_api_key(var, url, &ApiKey::new("kc-secret")) {
            Ok(()) => {
                assert_eq!(load_api_key(var).unwrap().unwrap().expose(), "kc-secret");
                let (key, source) = lookup_api_key(var, url);
                assert_eq!(key.unwrap().expose(), "kc-secret");
                assert_eq!(source, KeySource::Keychain(var.into()));
                let (key, source) = lookup_api_key(var, "https://elsewhere.example.com/v1");
                assert!(key.is_none() && matches!(source, KeySource::Elsewhere { .. }));
                assert!(delete_api_key(var).unwrap());
                assert!(!delete_api_key(var).unwrap());
                assert!(load_api_key(var).unwrap().is_none());
            }
            Err(e) => {
                let hint = e.generation_hint().unwrap_or_default();
                eprintln!("no usable OS keychain here: {e}\n  hint: {hint}");
                assert!(e.to_string().contains("keychain"), "{e}");
                assert!(hint.contains("CAIRN_API_KEY"), "{hint}");
                assert!(
                    matches!(&e, cairn_core::Error::Generation(g) if g.kind == "keychain" && g.user)
                );
                assert!(load_api_key(var).is_err());
                assert!(delete_api_key(var).is_err());
                let (key, source) = lookup_api_key(var, url);
                assert!(key.is_none());
                assert_eq!(source, KeySource::None(var.into()));
            }
        }
    }

    #[test]
    fn unset_or_empty_variable_means_no_key() {
        let var = "CAIRN_LLM_TEST_KEY_EMPTY";
        std::env::set_var(var, "");
        let (key, source) = lookup_api_key(var, "http://localhost:11434/v1");
        std::env::remove_var(var);
        assert!(key.is_none());
        assert!(source.describe_rejection().contains("not set"));
    }

    #[test]
    fn a_stored_key_is_bound_to_scheme_host_and_port() {
        let o = |u: &str| endpoint_origin(u);
        assert_eq!(
            o("https://API.openai.com/v1").as_deref(),
            Some("https://api.openai.com:443")
        );
        assert_eq!(
            o("https://api.openai.com:443/other"),
            o("https://api.openai.com/v1")
        );
        for other in [
            "http://api.openai.com/v1",
            "https://api.openai.com:8443/v1",
            "https://api.openai.com.evil.example/v1",
            "https://evil.example/v1?https://api.openai.com",
        ] {
            assert_ne!(o(other), o("https://api.openai.com/v1"), "{other}");
        }
        assert_eq!(o("ftp://host/x"), None);
        assert_eq!(o("not a url"), None);

        let key = ApiKey::new("sk-1");
        let stored = encode("https://api.openai.com:443", &key);
        assert_eq!(
            decode(&stored),
            (Some("https://api.openai.com:443".to_owned()), key.clone())
        );
        // An entry from before keys were bound: no endpoint, so never sent.
        assert_eq!(decode(" sk-1 \n"), (None, key));

        let elsewhere = KeySource::Elsewhere {
            var: "CAIRN_API_KEY".into(),
            saved_for: Some("https://api.openai.com:443".into()),
            endpoint: "https://evil.example:443".into(),
        };
        let why = elsewhere.describe_rejection();
        assert!(
            why.contains("never sent to https://evil.example:443"),
            "{why}"
        );
        assert!(why.contains("enter the key again"), "{why}");
        assert!(elsewhere.describe().starts_with("none"));
    }
}
