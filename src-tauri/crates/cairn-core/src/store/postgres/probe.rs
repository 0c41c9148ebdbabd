//! "Test connection": what a role may do on a server before it opens it as a library.
//! Connecting reports an unreachable server, a refused user or password and refused TLS as
//! errors ([`DbCause`](crate::error::DbCause)); what the connection finds (pgvector, a Cairn
//! library, the collections the role may read) is a [`Probe`] the front ends word.

use postgres::Client;

use super::connect::Target;
use super::schema;
use crate::error::Result;

/// What a role finds on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `user@host:port/db`.
    pub server: String,
    /// The server's version (`SHOW server_version`).
    pub server_version: String,
    /// The connection is encrypted (TLS).
    pub tls: bool,
    /// pgvector is installed in the database (its version).
    pub pgvector: Option<String>,
    /// pgvector can be installed here (the server has the extension's files).
    pub pgvector_available: bool,
    /// The database holds a Cairn library (its schema version), or not yet.
    pub schema: Option<i64>,
    /// This role may create the library (it may create tables in the database's schema).
    pub may_create: bool,
    /// This role owns the library's tables: it sees every collection and may index.
    pub owner: bool,
    /// This role may read every user's audit rows.
    pub reviewer: bool,
    /// The collections this role may read (every collection for the owner).
    pub collections: Vec<String>,
    /// Passages this role may read.
    pub passages: i64,
}

/// Connects as `target` and looks: errors for what stops the connection, a [`Probe`] for
/// the rest. Changes nothing.
pub fn probe(target: &Target) -> Result<Probe> {
    let mut client = target.connect()?;
    let e = |err: postgres::Error| target.error(&err);
    let row = client
        .query_one(
            "SELECT current_setting('server_version'),
                    coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
                    (SELECT extversion FROM pg_extension WHERE extname = 'vector'),
                    EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector'),
                    to_regclass('cairn_schema') IS NOT NULL,
                    has_schema_privilege(current_schema(), 'CREATE')",
            &[],
        )
        .map_err(e)?;
    let mut probe = Probe {
        server: target.server().to_owned(),
        server_version: row.get(0),
        tls: row.get(1),
        pgvector: row.get(2),
        pgvector_available: row.get(3),
        schema: None,
        may_create: row.get(5),
        owner: false,
        reviewer: false,
        collections: Vec::new(),
        passages: 0,
    };
    let has_schema: bool = row.get(4);
    if has_schema {
        library(&mut client, &mut probe).map_err(e)?;
    }
    Ok(probe)
}

/// The library's side: schema version, ownership, readable collections. A role that was
/// never granted the tables reads none of them (not an error: no collection is readable).
fn library(client: &mut Client, probe: &mut Probe) -> Result<(), postgres::Error> {
    probe.schema = client
        .query_one("SELECT max(version) FROM cairn_schema", &[])
        .ok()
        .and_then(|r| r.get(0));
    probe.owner = client
        .query_one(
            "SELECT coalesce((SELECT pg_has_role(current_user, c.relowner, 'USAGE')
                              FROM pg_class c WHERE c.oid = to_regclass('chunks')), false)",
            &[],
        )?
        .get(0);
    let granted: bool = client
        .query_one(
            "SELECT has_table_privilege('collections', 'SELECT')
                AND has_table_privilege('chunks', 'SELECT')",
            &[],
        )?
        .get(0);
    if !granted {
        return Ok(());
    }
    let names = if probe.owner {
        "SELECT DISTINCT collection FROM folders ORDER BY 1"
    } else {
        "SELECT DISTINCT name FROM collections WHERE cairn_may_read(name) ORDER BY 1"
    };
    probe.collections = client.query(names, &[])?.iter().map(|r| r.get(0)).collect();
    probe.reviewer = client.query_one("SELECT cairn_is_reviewer()", &[])?.get(0);
    probe.passages = client
        .query_one("SELECT count(*) FROM chunks WHERE current", &[])?
        .get(0);
    Ok(())
}

/// Creates the library in `target`'s database (installs pgvector when missing, runs the
/// migrations): the role becomes the tables' owner, the library's writer.
pub fn create(target: &Target) -> Result<()> {
    let mut client = target.connect()?;
    schema::migrate(target, &mut client)
}
