//! Reaching a team library's server: the connection URL, TLS, the password, and errors that
//! name the server (`user@host:port/db`, never the password).
//!
//! The password comes, in order, from the caller ([`Target::with_password`]: a value the
//! user typed), the URL (accepted, with a warning: a URL ends up in shell history and process
//! lists; the front ends refuse one in a config file), this process's memory
//! ([`Target::remember_password`]: the app's "ask each time"), `PGPASSWORD`, then the OS
//! keychain (service [`KEYCHAIN_SERVICE`], account `user@host:port/db`). TLS: `sslmode`
//! (`disable`, `prefer` — the default —, `require`, and libpq's `verify-full`, which is
//! `require` here, and `verify-ca`, which skips the host name check), with certificates
//! checked against the system's roots (native-tls) plus `sslrootcert=FILE` when given; a client
//! certificate from `sslcert=FILE` and `sslkey=FILE` (PEM; the key PKCS#8, unencrypted, not
//! readable by group or others), as libpq names them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use postgres::config::{Host, SslMode};
use postgres::error::SqlState;
use postgres::{Client, Config};

use crate::error::{DbCause, Error, Result};

/// The keychain service a team library's password is stored under.
pub const KEYCHAIN_SERVICE: &str = "cairn-postgres";

/// True for a `postgres://` or `postgresql://` URL (a library location that is not a folder).
pub fn is_postgres_url(s: &str) -> bool {
    let lower = s.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A team library's server and database, parsed from its URL.
#[derive(Clone)]
pub struct Target {
    config: Config,
    root_cert: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    /// `sslmode` as written (`prefer` when absent).
    ssl_mode: String,
    server: String,
    /// The URL carried a password (the front ends warn).
    pub password_in_url: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.server)
    }
}

impl Target {
    /// Parses `postgres://user[:password]@host[:port]/db[?sslmode=…&sslrootcert=…&sslcert=…
    /// &sslkey=…]`.
    pub fn parse(url: &str) -> Result<Target> {
        let url = url.trim();
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut root_cert, mut client_cert, mut client_key) = (None, None, None);
        let mut ssl_mode = "prefer".to_owned();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let file = |v: &str| Some(PathBuf::from(percent_decode(v)));
            match pair.split_once('=') {
                Some(("sslrootcert", v)) => root_cert = file(v),
                Some(("sslcert", v)) => client_cert = file(v),
                Some(("sslkey", v)) => client_key = file(v),
                Some(("sslmode", v)) => {
                    ssl_mode = v.to_owned();
                    // libpq's verifying modes: native-tls always verifies the chain.
                    match v {
                        "verify-full" | "verify-ca" => kept.push("sslmode=require"),
                        _ => kept.push(pair),
                    }
                }
                _ => kept.push(pair),
            }
        }
        let cleaned = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let redacted = crate::audit::redact_url(base);
        let mut config = Config::from_str(&cleaned).map_err(|e| Error::Database {
            server: redacted.clone(),
            cause: DbCause::Url,
            message: format!("not a valid PostgreSQL URL: {e}"),
        })?;
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".into());
            config.user(&user);
        }
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let server = format!(
            "{}@{host}:{port}/{}",
            config.get_user().unwrap_or_default(),
            config
                .get_dbname()
                .or(config.get_user())
                .unwrap_or_default()
        );
        let password_in_url = config.get_password().is_some();
        if password_in_url {
            tracing::warn!(
                "the team library URL for {server} carries a password; prefer PGPASSWORD or the \
                 OS keychain"
            );
        }
        config.application_name("cairn");
        config.connect_timeout(std::time::Duration::from_secs(10));
        if client_cert.is_some() != client_key.is_some() {
            return Err(Error::Database {
                server,
                cause: DbCause::Url,
                message: "a client certificate needs both sslcert and sslkey".into(),
            });
        }
        Ok(Target {
            config,
            root_cert,
            client_cert,
            client_key,
            ssl_mode,
            server,
            password_in_url,
        })
    }

    /// The URL's parts, for a form (never the password).
    pub fn parts(&self) -> TargetParts {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let user = self.user().to_owned();
        TargetParts {
            host,
            port: self.config.get_ports().first().copied().unwrap_or(5432),
            database: self.config.get_dbname().unwrap_or(&user).to_owned(),
            user,
            ssl_mode: self.ssl_mode.clone(),
            root_cert: self.root_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        }
    }

    /// Keeps `password` for this server for the life of the process and, when `keychain`,
    /// in the OS keychain too. A missing or locked keychain is not an error: the password is
    /// then kept in memory only and the reason returned.
    pub fn remember_password(&self, password: &str, keychain: bool) -> Remembered {
        lock_session().insert(self.server.clone(), password.to_owned());
        if !keychain {
            return Remembered::Session(None);
        }
        if std::env::var_os("CAIRN_NO_KEYCHAIN").is_some() {
            return Remembered::Session(Some("CAIRN_NO_KEYCHAIN is set".into()));
        }
        match keyring::Entry::new(KEYCHAIN_SERVICE, &self.server)
            .and_then(|e| e.set_password(password))
        {
            Ok(()) => Remembered::Keychain,
            Err(e) => Remembered::Session(Some(e.to_string())),
        }
    }

    /// Forgets the password kept in memory and, when `keychain`, the keychain's entry
    /// (a missing entry or keychain is fine).
    pub fn forget_password(&self, keychain: bool) {
        lock_session().remove(&self.server);
        if keychain && std::env::var_os("CAIRN_NO_KEYCHAIN").is_none() {
            if let Ok(entry) = keyring::Entry::new(KEYCHAIN_SERVICE, &self.server) {
                let _ = entry.delete_credential();
            }
        }
    }

    /// True when a password is known without asking: typed, in memory, `PGPASSWORD` or the
    /// keychain.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some() || self.env_or_keychain_password().is_some()
    }

    /// The same target with this password (typed by the user, or read by a front end).
    pub fn with_password(mut self, password: &str) -> Target {
        self.config.password(password);
        self
    }

    /// `user@host:port/db`: how messages name the server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The database role this target connects as.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// The error for a failure on this server.
    pub(crate) fn error(&self, e: &postgres::Error) -> Error {
        db_error(&self.server, e)
    }

    /// A new connection (each store holds its own).
    pub(crate) fn connect(&self) -> Result<Client> {
        let mut config = self.config.clone();
        if config.get_password().is_none() {
            if let Some(p) = self.env_or_keychain_password() {
                config.password(p);
            }
        }
        let fail = |cause, message: String| Error::Database {
            server: self.server.clone(),
            cause,
            message,
        };
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
            let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                fail(
                    DbCause::Tls,
                    format!(
                        "sslrootcert {} is not a PEM certificate: {e}",
                        path.display()
                    ),
                )
            })?;
            builder.add_root_certificate(cert);
        }
        if self.ssl_mode == "verify-ca" {
            builder.danger_accept_invalid_hostnames(true);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            builder.identity(client_identity(cert, key).map_err(|m| fail(DbCause::Tls, m))?);
        }
        let tls = builder
            .build()
            .map_err(|e| match (&self.client_cert, &self.client_key) {
                // OpenSSL checks that the key belongs to the certificate only here.
                (Some(cert), Some(key)) => fail(
                    DbCause::Tls,
                    format!(
                        "sslcert {} and sslkey {} do not make a client certificate (does the key \
                     belong to the certificate?): {e}",
                        cert.display(),
                        key.display()
                    ),
                ),
                _ => fail(DbCause::Other, format!("TLS set-up failed: {e}")),
            })?;
        let mut client = config
            .connect(postgres_native_tls::MakeTlsConnector::new(tls))
            .map_err(|e| self.error(&e))?;
        // Filtered nearest-neighbour searches keep scanning the HNSW graph until they have
        // enough rows (pgvector 0.8); a wider beam for recall close to usearch's.
        client
            .batch_execute(
                "SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 100;
                 SET statement_timeout = '120s'",
            )
            .or_else(|_| client.batch_execute("SET statement_timeout = '120s'"))
            .map_err(|e| self.error(&e))?;
        Ok(client)
    }

    fn env_or_keychain_password(&self) -> Option<String> {
        if let Some(p) = lock_session().get(&self.server) {
            return Some(p.clone());
        }
        if let Ok(p) = std::env::var("PGPASSWORD") {
            return Some(p);
        }
        if std::env::var_os("CAIRN_NO_KEYCHAIN").is_some() {
            return None;
        }
        match keyring::Entry::new(KEYCHAIN_SERVICE, &self.server).and_then(|e| e.get_password()) {
            Ok(p) => Some(p),
            Err(keyring::Error::NoEntry) => None,
            Err(e) => {
                tracing::debug!("no keychain password for {}: {e}", self.server);
                None
            }
        }
    }

    /// True when TLS is required (`sslmode=require`).
    pub fn tls_required(&self) -> bool {
        self.config.get_ssl_mode() == SslMode::Require
    }
}

/// Where [`Target::remember_password`] kept a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remembered {
    /// In the OS keychain (and in memory).
    Keychain,
    /// In this process's memory only; why not in the keychain, when it was asked for.
    Session(Option<String>),
}

/// A team library's URL as a form shows it; [`TargetParts::url`] puts it back together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetParts {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    pub ssl_mode: String,
    pub root_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl TargetParts {
    /// `postgres://USER@HOST:PORT/DB?sslmode=…[&sslrootcert=…&sslcert=…&sslkey=…]`, with no
    /// password.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut url = format!(
            "postgres://{}@{host}:{}/{}?sslmode={}",
            percent_encode(&self.user),
            self.port,
            percent_encode(&self.database),
            percent_encode(&self.ssl_mode)
        );
        for (name, file) in [
            ("sslrootcert", &self.root_cert),
            ("sslcert", &self.client_cert),
            ("sslkey", &self.client_key),
        ] {
            if let Some(f) = file {
                url.push_str(&format!("&{name}={}", percent_encode(&f.to_string_lossy())));
            }
        }
        url
    }
}

fn lock_session() -> std::sync::MutexGuard<'static, HashMap<String, String>> {
    static SESSION: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    SESSION
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The client certificate and key as native-tls's identity; the message names the file at
/// fault.
fn client_identity(cert: &Path, key: &Path) -> Result<native_tls::Identity, String> {
    let read = |what: &str, path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
    };
    let cert_pem = read("sslcert", cert)?;
    let key_pem = read("sslkey", key)?;
    if !String::from_utf8_lossy(&cert_pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "sslcert {} is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key_text = String::from_utf8_lossy(&key_pem);
    if key_text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(format!(
            "sslkey {} is encrypted; Cairn needs an unencrypted PKCS#8 key: \
             openssl pkcs8 -topk8 -nocrypt -in {0} -out KEY.pk8",
            key.display()
        ));
    }
    if !key_text.contains("-----BEGIN PRIVATE KEY-----") {
        return Err(format!(
            "sslkey {} is not a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----); convert \
             it: openssl pkcs8 -topk8 -nocrypt -in {0} -out KEY.pk8",
            key.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(key) {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "sslkey {} may be read by group or others; run chmod 600 on it",
                    key.display()
                ));
            }
        }
    }
    native_tls::Identity::from_pkcs8(&cert_pem, &key_pem).map_err(|e| {
        format!(
            "sslcert {} and sslkey {} do not make a client certificate (does the key belong \
             to the certificate?): {e}",
            cert.display(),
            key.display()
        )
    })
}

/// True when a message is about TLS or certificates.
fn is_tls_text(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["tls", "ssl", "certificate", "handshake", "no encryption"]
        .iter()
        .any(|w| t.contains(w))
}

/// Classifies a client or server error for the front ends' hints.
pub(crate) fn db_error(server: &str, e: &postgres::Error) -> Error {
    let (cause, message) = match e.as_db_error() {
        Some(db) => {
            let code = db.code();
            let cause = if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && is_tls_text(db.message())
            {
                // "connection requires a valid client certificate", "no pg_hba.conf entry
                // for … no encryption": the server wants TLS or a certificate.
                DbCause::Tls
            } else if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                DbCause::Auth
            } else if *code == SqlState::INVALID_CATALOG_NAME {
                DbCause::NoDatabase
            } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
                DbCause::Permission
            } else if (*code == SqlState::UNDEFINED_FILE
                || *code == SqlState::FEATURE_NOT_SUPPORTED
                || *code == SqlState::UNDEFINED_OBJECT)
                && db.message().contains("vector")
            {
                DbCause::NoExtension
            } else {
                DbCause::Other
            };
            (cause, db.message().to_owned())
        }
        None => {
            let text = e.to_string();
            let source = std::error::Error::source(e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            // "invalid configuration: password missing" (no password from anywhere).
            let cause = if text.contains("password") || source.contains("password") {
                DbCause::Auth
            } else if is_tls_text(&text) || is_tls_text(&source) {
                DbCause::Tls
            } else if e.is_closed() || text.contains("connect") || text.contains("timed out") {
                DbCause::Unreachable
            } else {
                DbCause::Other
            };
            (cause, format!("{text}{source}"))
        }
    };
    Error::Database {
        server: server.to_owned(),
        cause,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_make_the_url_back_and_verify_modes_map_to_require() {
        let url = "postgres://alice@db.example:6543/team%20lib?sslmode=verify-full\
                   &sslrootcert=/etc/ca%20dir/ca.pem&sslcert=/home/a/c.pem&sslkey=/home/a/k.pem";
        let t = Target::parse(url).unwrap();
        assert!(t.tls_required());
        assert_eq!(t.server(), "alice@db.example:6543/team lib");
        let p = t.parts();
        assert_eq!(p.database, "team lib");
        assert_eq!(p.ssl_mode, "verify-full");
        assert_eq!(
            p.root_cert.as_deref(),
            Some(Path::new("/etc/ca dir/ca.pem"))
        );
        assert_eq!(Target::parse(&p.url()).unwrap().parts(), p);
        let half = Target::parse("postgres://a@h/d?sslcert=/c.pem").unwrap_err();
        assert!(half.to_string().contains("sslkey"), "{half}");
    }

    #[test]
    fn a_session_password_is_used_and_forgotten() {
        let t = Target::parse("postgres://sess_user@nowhere.invalid:1/db").unwrap();
        assert!(matches!(
            t.remember_password("secret", false),
            Remembered::Session(None)
        ));
        assert_eq!(t.env_or_keychain_password().as_deref(), Some("secret"));
        t.forget_password(false);
        assert_ne!(t.env_or_keychain_password().as_deref(), Some("secret"));
    }

    #[test]
    fn client_identity_names_the_file_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        let missing = client_identity(&cert, &key).err().unwrap();
        assert!(
            missing.contains("sslcert") && missing.contains("c.pem"),
            "{missing}"
        );
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "-----BEGIN RSA PRIVATE KEY-----\n").unwrap();
        let bad = client_identity(&cert, &key).err().unwrap();
        assert!(
            bad.contains("c.pem") && bad.contains("PEM certificate"),
            "{bad}"
        );
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let pkcs1 = client_identity(&cert, &key).err().unwrap();
        assert!(
            pkcs1.contains("k.pem") && pkcs1.contains("pkcs8"),
            "{pkcs1}"
        );
    }
}
