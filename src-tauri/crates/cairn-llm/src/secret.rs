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
}

impl KeySource {
    /// Where the key came from, for a settings screen: never the key itself.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Env(var) => format!("environment variable {var}"),
            KeySource::Keychain(var) => format!("OS keychain entry `{var}`"),
            KeySource::Given => "given by the caller".to_owned(),
            KeySource::None(_) => "none".to_owned(),
        }
    }

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
/// (default `CAIRN_API_KEY`), so one entry per configured variable.
pub const KEYCHAIN_SERVICE: &str = "cairn";

/// True when this build can use the OS keychain (the `keychain` feature). Whether a keychain
/// service is actually running is only known when it is used.
pub fn keychain_enabled() -> bool {
    cfg!(feature = "keychain")
}

/// Looks the key up: the environment variable `var` first, then (feature `keychain`) the OS
/// keychain entry (service [`KEYCHAIN_SERVICE`], user `var`). An empty value counts as unset;
/// an unusable keychain counts as no entry.
pub(crate) fn lookup_api_key(var: &str) -> (Option<ApiKey>, KeySource) {
    if !var.is_empty() {
        if let Some(key) = std::env::var(var).ok().filter(|k| !k.trim().is_empty()) {
            return (
                Some(ApiKey(key.trim().to_owned())),
                KeySource::Env(var.into()),
            );
        }
    }
    match load_from_keychain(var) {
        Ok(Some(key)) => return (Some(key), KeySource::Keychain(var.into())),
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

#[cfg(feature = "keychain")]
fn load_from_keychain(var: &str) -> crate::Result<Option<ApiKey>> {
    if var.trim().is_empty() {
        return Ok(None);
    }
    match entry(var)?.get_password() {
        Ok(key) if !key.trim().is_empty() => Ok(Some(ApiKey(key.trim().to_owned()))),
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keychain_error(e)),
    }
}

#[cfg(not(feature = "keychain"))]
fn load_from_keychain(_var: &str) -> crate::Result<Option<ApiKey>> {
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
/// user `var`, e.g. `CAIRN_API_KEY`), where remote generators find it when the environment
/// variable `var` is not set.
///
/// Errors ([`crate::Error::Keychain`], converted): the `keychain` feature is off, or no
/// keychain service is running; the hint tells the user to set the environment variable.
pub fn store_api_key(var: &str, key: &ApiKey) -> cairn_core::Result<()> {
    check_name(var)?;
    if key.expose().trim().is_empty() {
        return Err(crate::Error::Config("the API key to store is empty".into()).into());
    }
    #[cfg(feature = "keychain")]
    {
        entry(var)?
            .set_password(key.expose().trim())
            .map_err(keychain_error)?;
        Ok(())
    }
    #[cfg(not(feature = "keychain"))]
    {
        Err(feature_off().into())
    }
}

/// The key stored in the OS keychain for `var`, or `None` when there is no entry. Errors as
/// for [`store_api_key`]. (Generators look the environment variable up first; this reads the
/// keychain only, e.g. to show "a key is stored" in settings.)
pub fn load_api_key(var: &str) -> cairn_core::Result<Option<ApiKey>> {
    check_name(var)?;
    Ok(load_from_keychain(var)?)
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
        let (key, source) = lookup_api_key(var);
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
        match store_api_key(var, &ApiKey::new("kc-secret")) {
            Ok(()) => {
                assert_eq!(load_api_key(var).unwrap().unwrap().expose(), "kc-secret");
                let (key, source) = lookup_api_key(var);
                assert_eq!(key.unwrap().expose(), "kc-secret");
                assert_eq!(source, KeySource::Keychain(var.into()));
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
                let (key, source) = lookup_api_key(var);
                assert!(key.is_none());
                assert_eq!(source, KeySource::None(var.into()));
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
