//! Reaching a team library's server: the connection URL, TLS, the password, and errors that
//! name the server (`user@host:port/db`, never the password).
//!
//! The password comes, in order, from the caller ([`Target::with_password`]: a value the
//! user typed), the URL (accepted, with a warning: a URL ends up in shell history and process
//! lists; the front ends refuse one in a config file), `PGPASSWORD`, then the OS keychain
//! (service [`KEYCHAIN_SERVICE`], account `user@host:port/db`). TLS: `sslmode`
//! (`disable`, `prefer` — the default —, `require`) as the `postgres` crate reads it, with
//! certificates checked against the system's roots (native-tls) plus `sslrootcert=FILE` when
//! given.

use std::str::FromStr;

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
    root_cert: Option<std::path::PathBuf>,
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
    /// Parses `postgres://user[:password]@host[:port]/db[?sslmode=…&sslrootcert=…]`.
    pub fn parse(url: &str) -> Result<Target> {
        let url = url.trim();
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut root_cert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslrootcert", v)) => root_cert = Some(std::path::PathBuf::from(v)),
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
        Ok(Target {
            config,
            root_cert,
            server,
            password_in_url,
        })
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
                    DbCause::Url,
                    format!(
                        "sslrootcert {} is not a PEM certificate: {e}",
                        path.display()
                    ),
                )
            })?;
            builder.add_root_certificate(cert);
        }
        let tls = builder
            .build()
            .map_err(|e| fail(DbCause::Other, format!("TLS set-up failed: {e}")))?;
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

/// Classifies a client or server error for the front ends' hints.
pub(crate) fn db_error(server: &str, e: &postgres::Error) -> Error {
    let (cause, message) = match e.as_db_error() {
        Some(db) => {
            let code = db.code();
            let cause = if *code == SqlState::INVALID_PASSWORD
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
            let cause = if text.contains("password") {
                DbCause::Auth
            } else if e.is_closed()
                || text.contains("connect")
                || text.contains("tls")
                || text.contains("TLS")
                || text.contains("timed out")
            {
                DbCause::Unreachable
            } else {
                DbCause::Other
            };
            let source = std::error::Error::source(e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            (cause, format!("{text}{source}"))
        }
    };
    Error::Database {
        server: server.to_owned(),
        cause,
        message,
    }
}
