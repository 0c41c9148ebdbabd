//! Collections, reader roles and the team's audit, for `cairn team …`: thin wrappers over the
//! tables and SQL functions of migration 2 (`cairn_set_collection`, `cairn_grant_reader`,
//! `cairn_may_read`, `cairn_is_reviewer`). What a role may do is the server's decision: a
//! reader changing collections gets `DbCause::Permission`; a non-reviewer reading the audit
//! sees only their own rows (row-level security).

use postgres::Client;
use serde::Serialize;

use super::connect::Target;
use crate::error::{DbCause, Error, Result};

/// A collection as `cairn team collections` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionInfo {
    pub name: String,
    /// Folders in it (as added, the indexer's paths); empty when the role cannot see them.
    pub folders: Vec<String>,
    /// Roles whose members may read it.
    pub readers: Vec<String>,
    /// Current passages of it this role may read.
    pub passages: i64,
}

/// One answer in the team's audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamAuditRow {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// The database user who asked.
    pub db_user: String,
    pub question: String,
    pub mode: String,
    pub abstained: bool,
    pub answer: String,
    /// Everything recorded (passages, verdicts, model), with `--export`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
}

/// A connection for administration, with the library's schema checked.
pub struct Admin {
    client: Client,
    target: Target,
}

impl Admin {
    /// Connects; an error when the database holds no Cairn library.
    pub fn connect(target: &Target) -> Result<Admin> {
        let mut client = target.connect()?;
        let is_library: bool = client
            .query_one("SELECT to_regclass('collections') IS NOT NULL", &[])
            .map_err(|e| target.error(&e))?
            .get(0);
        if !is_library {
            return Err(Error::Database {
                server: target.server().to_owned(),
                cause: DbCause::Permission,
                message: "this database holds no Cairn library yet (the indexer's role creates \
                          it on its first `cairn index`)"
                    .into(),
            });
        }
        Ok(Admin {
            client,
            target: target.clone(),
        })
    }

    fn err(&self, e: postgres::Error) -> Error {
        privileged(&self.target, e)
    }

    /// Every collection this role can see, with its folders, reader roles and passages.
    pub fn collections(&mut self) -> Result<Vec<CollectionInfo>> {
        let rows = self
            .client
            .query(
                "WITH names AS (SELECT collection AS name FROM folders
                                UNION SELECT name FROM collections)
                 SELECT n.name,
                        coalesce((SELECT array_agg(f.path ORDER BY f.path) FROM folders f
                                  WHERE f.collection = n.name), '{}'),
                        coalesce((SELECT array_agg(k.reader_role::text ORDER BY k.reader_role)
                                  FROM collections k WHERE k.name = n.name), '{}'),
                        (SELECT count(*) FROM chunks c WHERE c.current AND c.collection = n.name)
                 FROM names n ORDER BY n.name",
                &[],
            )
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| CollectionInfo {
                name: r.get(0),
                folders: r.get(1),
                readers: r.get(2),
                passages: r.get(3),
            })
            .collect())
    }

    /// Puts a folder (its path as the indexer added it) and its documents in a collection;
    /// the number of passages moved.
    pub fn set_collection(&mut self, folder: &str, collection: &str) -> Result<i64> {
        let known: Vec<String> = self
            .client
            .query("SELECT path FROM folders ORDER BY path", &[])
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !known.iter().any(|k| k == folder) {
            return Err(Error::NotFound(format!(
                "no folder {folder} in the team library {}; its folders: {}",
                self.target.server(),
                if known.is_empty() {
                    "none yet".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        let row = self
            .client
            .query_one(
                "SELECT cairn_set_collection($1, $2)",
                &[&folder, &collection],
            )
            .map_err(|e| self.err(e))?;
        Ok(row.get(0))
    }

    /// Lets `role` (a login role or a group) read `collection`, and grants it what a reader
    /// needs on the tables. False when it already could.
    pub fn grant(&mut self, collection: &str, role: &str) -> Result<bool> {
        let target = self.target.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| privileged(&target, e))?;
        let exists: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
                &[&role],
            )
            .map_err(|e| privileged(&target, e))?
            .get(0);
        if !exists {
            return Err(Error::NotFound(format!(
                "no database role `{role}` on {}: create it first (CREATE ROLE {role} LOGIN)",
                target.server()
            )));
        }
        let added = tx
            .execute(
                "INSERT INTO collections(name, reader_role) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&collection, &role],
            )
            .map_err(|e| privileged(&target, e))?;
        tx.execute("SELECT cairn_grant_reader($1)", &[&role])
            .map_err(|e| privileged(&target, e))?;
        tx.commit().map_err(|e| privileged(&target, e))?;
        Ok(added > 0)
    }

    /// Stops `role` reading `collection` through this grant. Returns the other reader roles
    /// through which `role` still reads it (group memberships), if any.
    pub fn revoke(&mut self, collection: &str, role: &str) -> Result<Vec<String>> {
        let removed = self
            .client
            .execute(
                "DELETE FROM collections WHERE name = $1 AND reader_role = $2",
                &[&collection, &role],
            )
            .map_err(|e| self.err(e))?;
        if removed == 0 {
            return Err(Error::NotFound(format!(
                "role `{role}` was not granted collection `{collection}` on {}",
                self.target.server()
            )));
        }
        let still = self
            .client
            .query(
                "SELECT k.reader_role::text FROM collections k
                 WHERE k.name = $1 AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = $2)
                   AND pg_has_role($2::name, k.reader_role, 'MEMBER')",
                &[&collection, &role],
            )
            .map_err(|e| self.err(e))?;
        Ok(still.iter().map(|r| r.get(0)).collect())
    }

    /// True when this role reads every user's audit rows (the reviewer role).
    pub fn is_reviewer(&mut self) -> Result<bool> {
        let row = self
            .client
            .query_one("SELECT cairn_is_reviewer()", &[])
            .map_err(|e| self.err(e))?;
        Ok(row.get(0))
    }

    /// The audit rows this role may read, newest first (`limit`), or all of them oldest first
    /// with their full records (`export`).
    pub fn audit(&mut self, limit: Option<i64>, export: bool) -> Result<Vec<TeamAuditRow>> {
        let sql = if export {
            "SELECT id, at, db_user, question, mode, abstained, answer, record::text FROM audit
             ORDER BY id"
        } else {
            "SELECT id, at, db_user, question, mode, abstained, answer, NULL::text FROM audit
             ORDER BY id DESC LIMIT $1"
        };
        let limit = limit.unwrap_or(i64::MAX);
        let rows = if export {
            self.client.query(sql, &[])
        } else {
            self.client.query(sql, &[&limit])
        }
        .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| TeamAuditRow {
                id: r.get(0),
                at: r.get(1),
                db_user: r.get(2),
                question: r.get(3),
                mode: r.get(4),
                abstained: r.get(5),
                answer: r.get(6),
                record: r
                    .get::<_, Option<String>>(7)
                    .and_then(|t| serde_json::from_str(&t).ok()),
            })
            .collect())
    }
}

/// A database error, with a refused privilege explained: who may change collections and grants.
fn privileged(target: &Target, e: postgres::Error) -> Error {
    let mut out = target.error(&e);
    if let Error::Database { cause, message, .. } = &mut out {
        if *cause == DbCause::Permission {
            *message = format!(
                "{message} (as {}: only the library's owner, the indexer's role, or a \
                 superuser may change collections and grants)",
                target.user()
            );
        }
    }
    out
}
