//! The API key: where it comes from, and keeping it out of logs.
//!
//! The key is read from an environment variable (name configurable, default `CAIRN_API_KEY`);
//! with the `keychain` feature, from the OS keychain when the variable is not set. It is never
//! read from a configuration file, and its `Debug`/`Display` forms are redacted.

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

/// Where a key was found, for messages ("the key from $CAIRN_API_KEY was rejected").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    Env(String),
    #[cfg_attr(not(feature = "keychain"), allow(dead_code))]
    Keychain(String),
    /// Handed over by the caller ([`crate::RemoteGenerator::with_api_key`]).
    Given,
    None(String),
}

impl KeySource {
    pub(crate) fn describe_rejection(&self) -> String {
        match self {
            KeySource::Env(var) => format!("the API key from ${var} was rejected"),
            KeySource::Keychain(var) => {
                format!("the API key from the OS keychain (entry `{var}`) was rejected")
            }
            KeySource::Given => "the API key given was rejected".to_owned(),
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
/// (default `CAIRN_API_KEY`).
#[cfg(feature = "keychain")]
pub const KEYCHAIN_SERVICE: &str = "cairn";

/// Looks the key up: the environment variable `var` first, then (feature `keychain`) the OS
/// keychain entry (service [`KEYCHAIN_SERVICE`], user `var`). An empty value counts as unset.
pub(crate) fn lookup_api_key(var: &str) -> (Option<ApiKey>, KeySource) {
    if !var.is_empty() {
        if let Some(key) = std::env::var(var).ok().filter(|k| !k.trim().is_empty()) {
            return (
                Some(ApiKey(key.trim().to_owned())),
                KeySource::Env(var.into()),
            );
        }
    }
    #[cfg(feature = "keychain")]
    if !var.is_empty() {
        match keyring::Entry::new(KEYCHAIN_SERVICE, var).and_then(|e| e.get_password()) {
            Ok(key) if !key.trim().is_empty() => {
                return (
                    Some(ApiKey(key.trim().to_owned())),
                    KeySource::Keychain(var.into()),
                );
            }
            Ok(_) | Err(keyring::Error::NoEntry) => {}
            // No keychain service (e.g. a headless Linux without a Secret Service): no key.
            Err(e) => tracing::debug!("OS keychain unavailable for {var}: {e}"),
        }
    }
    (None, KeySource::None(var.into()))
}

/// Stores `key` in the OS keychain under service [`KEYCHAIN_SERVICE`] and user `var`, where
/// [`crate::RemoteGenerator`] finds it when the environment variable `var` is not set.
#[cfg(feature = "keychain")]
pub fn store_api_key_in_keychain(var: &str, key: &ApiKey) -> crate::Result<()> {
    keyring::Entry::new(KEYCHAIN_SERVICE, var)
        .and_then(|e| e.set_password(key.expose()))
        .map_err(|e| {
            crate::Error::Config(format!("cannot store the API key in the OS keychain: {e}"))
        })
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
        let (key, source) = lookup_api_key(var);
        std::env::remove_var(var);
        assert_eq!(key.unwrap().expose(), "sk-abc");
        assert_eq!(source, KeySource::Env(var.into()));
        assert!(source.describe_rejection().contains(var));
    }

    /// On a desktop this stores and reads back a key; on a headless machine without a Secret
    /// Service (like CI) storing fails with a clear error and lookups find no key.
    #[cfg(feature = "keychain")]
    #[test]
    fn keychain_round_trip_or_clean_absence() {
        let var = "CAIRN_LLM_TEST_KEYCHAIN_ROUND_TRIP";
        match store_api_key_in_keychain(var, &ApiKey::new("kc-secret")) {
            Ok(()) => {
                let (key, source) = lookup_api_key(var);
                assert_eq!(key.unwrap().expose(), "kc-secret");
                assert_eq!(source, KeySource::Keychain(var.into()));
                let _ =
                    keyring::Entry::new(KEYCHAIN_SERVICE, var).and_then(|e| e.delete_credential());
            }
            Err(e) => {
                eprintln!("no usable OS keychain here: {e}");
                assert!(e.to_string().contains("keychain"));
                let (key, source) = lookup_api_key(var);
                assert!(key.is_none());
                assert!(source.describe_rejection().contains("keychain"));
            }
        }
    }

    #[test]
    fn unset_or_empty_variable_means_no_key() {
        let var = "CAIRN_LLM_TEST_KEY_EMPTY";
        std::env::set_var(var, "");
        let (key, source) = lookup_api_key(var);
        std::env::remove_var(var);
        assert!(key.is_none());
        assert!(source.describe_rejection().contains("not set"));
    }
}
