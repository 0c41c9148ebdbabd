//! Team libraries in the app: "Test connection", creating a library, connecting the running
//! app to a team library (PostgreSQL) and back to the personal one (the data directory).
//!
//! The app reads a team library and never indexes it: the team's indexer (`cairn watch` as the
//! writer role) keeps it up to date, and the window says so. The URL, without its password, is
//! saved as `library` in config.toml; the password goes to the OS keychain when asked to (or
//! stays in memory for this run when there is no keychain), never to a file.

use std::path::PathBuf;

use cairn_core::store::postgres::{self, Probe, Remembered, Target, TargetParts};
use serde::{Deserialize, Serialize};

use crate::error::ErrorInfo;
use crate::{lock, Library};

/// The "Connect to a team library" form (no password: see [`TeamInput`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct TeamForm {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    pub ssl_mode: String,
    /// The server's CA certificate (PEM), `sslrootcert`; empty for the system's roots.
    pub ca_file: String,
    /// A client certificate (PEM), `sslcert`; empty for none.
    pub cert_file: String,
    /// Its private key (PEM, PKCS#8), `sslkey`.
    pub key_file: String,
}

/// The form, with what the user typed as the password.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct TeamInput {
    pub form: TeamForm,
    /// Empty: from the keychain, this run's memory or `PGPASSWORD`.
    pub password: String,
    /// Keep the password in the OS keychain (else only until the app quits).
    pub remember: bool,
}

/// What "Test connection" found.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct TeamCheck {
    /// `user@host:port/db`.
    pub server: String,
    /// `ready`, `not_a_library`, `no_pgvector` or `no_collection`.
    pub status: String,
    /// What was found, in a sentence.
    pub message: String,
    pub server_version: String,
    pub tls: bool,
    /// The role may create the library here (offered when `not_a_library`).
    pub may_create: bool,
    /// The role owns the library (sees every collection; the indexer's role).
    pub owner: bool,
    pub reviewer: bool,
    pub collections: Vec<String>,
    /// Passages this role may read.
    pub passages: u32,
}

/// What "Connect" did.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct TeamConnected {
    pub check: TeamCheck,
    /// Where the password is kept: `keychain`, `session` (until the app quits) or `none`
    /// (it came from the keychain or `PGPASSWORD` already).
    pub password_kept: String,
    /// Why the keychain could not keep it, when asked to.
    pub keychain_error: Option<String>,
}

impl TeamForm {
    fn parts(&self) -> Result<TargetParts, ErrorInfo> {
        let text = |s: &str| s.trim().to_owned();
        let file = |s: &str| (!s.trim().is_empty()).then(|| PathBuf::from(s.trim()));
        let parts = TargetParts {
            host: text(&self.host),
            port: self.port,
            database: text(&self.database),
            user: text(&self.user),
            ssl_mode: text(&self.ssl_mode),
            root_cert: file(&self.ca_file),
            client_cert: file(&self.cert_file),
            client_key: file(&self.key_file),
        };
        let missing = [
            ("server", parts.host.is_empty()),
            ("database", parts.database.is_empty()),
            ("user", parts.user.is_empty()),
            ("port", parts.port == 0),
        ];
        if let Some((name, _)) = missing.iter().find(|(_, m)| *m) {
            return Err(ErrorInfo::team_form(&format!("the {name} is missing")));
        }
        if !["disable", "prefer", "require", "verify-ca", "verify-full"]
            .contains(&parts.ssl_mode.as_str())
        {
            return Err(ErrorInfo::team_form(&format!(
                "TLS mode `{}` is not one of disable, prefer, require, verify-ca, verify-full",
                parts.ssl_mode
            )));
        }
        Ok(parts)
    }

    fn from_parts(p: TargetParts) -> TeamForm {
        let file = |f: Option<PathBuf>| f.map(|f| f.display().to_string()).unwrap_or_default();
        TeamForm {
            host: p.host,
            port: p.port,
            database: p.database,
            user: p.user,
            ssl_mode: p.ssl_mode,
            ca_file: file(p.root_cert),
            cert_file: file(p.client_cert),
            key_file: file(p.client_key),
        }
    }
}

impl TeamInput {
    /// The URL (no password) and the target to test with (with the typed password, if any).
    fn target(&self) -> Result<(String, Target), ErrorInfo> {
        let url = self.form.parts()?.url();
        let target = Target::parse(&url)?;
        let target = if self.password.is_empty() {
            target
        } else {
            target.with_password(&self.password)
        };
        Ok((url, target))
    }
}

fn check_of(p: Probe) -> TeamCheck {
    let (status, message) = if p.schema.is_none() && p.pgvector.is_none() && !p.pgvector_available {
        (
            "no_pgvector",
            "The server has no pgvector extension, which a team library needs.".to_owned(),
        )
    } else if p.schema.is_none() {
        (
            "not_a_library",
            if p.may_create {
                "This database holds no Cairn library yet; your role may create one.".to_owned()
            } else {
                "This database holds no Cairn library yet, and your role may not create one."
                    .to_owned()
            },
        )
    } else if !p.owner && p.collections.is_empty() {
        (
            "no_collection",
            "Connected, but your role may read no collection of this library.".to_owned(),
        )
    } else {
        let who = if p.owner {
            "as its owner (every collection)"
        } else {
            "as a reader"
        };
        (
            "ready",
            format!(
                "A Cairn library {who}: {} passage(s) in {} collection(s) you may read.",
                p.passages,
                p.collections.len()
            ),
        )
    };
    TeamCheck {
        server: p.server,
        status: status.into(),
        message,
        server_version: p.server_version,
        tls: p.tls,
        may_create: p.may_create,
        owner: p.owner,
        reviewer: p.reviewer,
        collections: p.collections,
        passages: p.passages.clamp(0, u32::MAX as i64) as u32,
    }
}

/// "Test connection": connects with the typed password (kept nowhere) and says what it finds.
pub fn test_team(input: &TeamInput) -> Result<TeamCheck, ErrorInfo> {
    let (_, target) = input.target()?;
    Ok(check_of(postgres::probe(&target)?))
}

/// Creates the library in the form's database (the role becomes its owner, the writer).
pub fn create_team(input: &TeamInput) -> Result<TeamCheck, ErrorInfo> {
    let (_, target) = input.target()?;
    postgres::create(&target)?;
    test_team(input)
}

impl Library {
    /// The team library the app is connected to, as the form shows it; `None` for the
    /// personal library.
    pub fn team_form(&self) -> Option<TeamForm> {
        let config = lock(&self.inner.config).clone();
        config
            .team_library()
            .ok()
            .flatten()
            .map(|t| TeamForm::from_parts(t.parts()))
    }

    /// Tests the connection, keeps the password (keychain or memory), saves the URL as the
    /// library and returns the app's library reopened on it. Refuses a server that holds no
    /// library or no collection this role may read; the running library is untouched then.
    pub fn connect_team(&self, input: &TeamInput) -> Result<(Library, TeamConnected), ErrorInfo> {
        let (url, target) = input.target()?;
        let check = test_team(input)?;
        match check.status.as_str() {
            "ready" => {}
            "no_collection" => return Err(ErrorInfo::team_no_collection(&check.server)),
            _ => return Err(ErrorInfo::team_not_ready(&check.server, &check.message)),
        }
        let (password_kept, keychain_error) = if input.password.is_empty() {
            ("none", None)
        } else {
            match target.remember_password(&input.password, input.remember) {
                Remembered::Keychain => ("keychain", None),
                Remembered::Session(why) => ("session", why),
            }
        };
        let mut config = self.config();
        config.library = url;
        config.save(&self.inner.options.data_dir)?;
        Ok((
            self.reopen(),
            TeamConnected {
                check,
                password_kept: password_kept.into(),
                keychain_error,
            },
        ))
    }

    /// Back to the personal library (the data directory): forgets `library` in config.toml
    /// and returns the app's library reopened there. `forget_password` also removes the team
    /// library's password from memory and the keychain.
    pub fn use_personal(&self, forget_password: bool) -> Result<Library, ErrorInfo> {
        let mut config = self.config();
        if forget_password {
            if let Ok(Some(target)) = config.team_library() {
                target.forget_password(true);
            }
        }
        config.library.clear();
        config.save(&self.inner.options.data_dir)?;
        Ok(self.reopen())
    }
}
