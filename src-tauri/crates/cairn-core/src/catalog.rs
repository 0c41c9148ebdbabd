//! The catalog: Cairn's source of truth, in SQLite (WAL, versioned migrations).
//!
//! Folders hold documents; a document (one path) has versions, each with a content hash and a
//! status (current / superseded / deleted / deprecated); a version has chunks with their byte
//! span, page and heading path. Vectors are cached by (model, hash of the embedded text), so an
//! unchanged chunk is never embedded twice. tantivy and usearch are derived from these tables:
//! each records the catalog generation it reflects, and is rebuilt when it lags.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use crate::error::{Error, Result};

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// A watched folder.
    FolderId
);
typed_id!(
    /// A document: one path, across all its versions.
    DocId
);
typed_id!(
    /// One version of a document's content.
    VersionId
);
typed_id!(
    /// One chunk of one version; also the key in tantivy and usearch.
    ChunkId
);

impl ChunkId {
    /// The key used in the derived indexes.
    pub fn key(self) -> u64 {
        self.0 as u64
    }
    /// Inverse of [`ChunkId::key`].
    pub fn from_key(key: u64) -> ChunkId {
        ChunkId(key as i64)
    }
}

/// Lifecycle of a document version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// The latest content of a live file: the only searchable status.
    Current,
    /// Replaced by a newer version of the same document.
    Superseded,
    /// The file was deleted; kept for history.
    Deleted,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Current => "current",
            VersionStatus::Superseded => "superseded",
            VersionStatus::Deleted => "deleted",
        }
    }
}

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE folders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL
);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    folder_id INTEGER NOT NULL REFERENCES folders(id),
    path TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX documents_folder ON documents(folder_id);
CREATE TABLE versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id),
    seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('current','superseded','deleted','deprecated')),
    content_hash BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    kind TEXT NOT NULL,
    title TEXT,
    text_len INTEGER NOT NULL,
    page_count INTEGER,
    chunk_count INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (doc_id, seq)
);
CREATE INDEX versions_doc ON versions(doc_id);
CREATE INDEX versions_status ON versions(status);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id INTEGER NOT NULL REFERENCES versions(id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    page INTEGER,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    embed_hash BLOB NOT NULL
);
CREATE INDEX chunks_version ON chunks(version_id);
CREATE INDEX chunks_hash ON chunks(embed_hash);
CREATE TABLE embeddings (
    model_id TEXT NOT NULL,
    hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, hash)
) WITHOUT ROWID;
CREATE TABLE problems (
    path TEXT PRIMARY KEY,
    folder_id INTEGER REFERENCES folders(id),
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE versions ADD COLUMN retired_at INTEGER;
CREATE TABLE deprecations (
    target TEXT PRIMARY KEY,
    is_pattern INTEGER NOT NULL,
    reason TEXT NOT NULL,
    superseded_by TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE tags (
    target TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (target, tag)
) WITHOUT ROWID;
CREATE TABLE conflicts (
    chunk_a INTEGER NOT NULL REFERENCES chunks(id),
    chunk_b INTEGER NOT NULL REFERENCES chunks(id),
    similarity REAL NOT NULL,
    found_at INTEGER NOT NULL,
    PRIMARY KEY (chunk_a, chunk_b)
) WITHOUT ROWID;
"#,
    // Cited answers (answer.rs, audit.rs): conversations, pinned facts, the audit log and the
    // cached calibration of the abstention signal. User data, not derived from documents.
    r#"
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    title TEXT NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user','assistant')),
    content TEXT NOT NULL,
    rewritten TEXT,
    audit_id INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_session ON messages(session_id, id);
CREATE TABLE pins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    session_id INTEGER,
    question TEXT NOT NULL,
    rewritten_query TEXT NOT NULL,
    mode TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    model_id TEXT,
    endpoint TEXT,
    template_version TEXT NOT NULL,
    answer TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX audit_session ON audit(session_id);
CREATE TABLE answer_calibration (
    model_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    passages INTEGER NOT NULL,
    computed_at INTEGER NOT NULL,
    data TEXT NOT NULL
);
"#,
    // Change detection by nanosecond stat: the (ns) mtime a version's content was verified
    // against, NULL while it cannot be trusted (written within the file system's clock tick of
    // being read, marked dirty by the watcher, or recorded before this column existed). A NULL
    // makes the next reconcile hash the file rather than trust (size, mtime).
    r#"
ALTER TABLE versions ADD COLUMN stat_ns INTEGER;
"#,
];

/// A folder registered with `cairn add`.
#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    pub id: FolderId,
    pub path: PathBuf,
}

/// The current version of a document, as the indexer needs it to decide what changed.
#[derive(Debug, Clone)]
pub struct KnownDoc {
    pub doc: DocId,
    pub version: VersionId,
    pub seq: i64,
    pub content_hash: Vec<u8>,
    pub size: u64,
    /// The ns mtime this content was verified against; `None` means "hash it again".
    pub stat_ns: Option<i64>,
}

/// A chunk to insert.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub ordinal: u32,
    pub start: usize,
    pub end: usize,
    pub page: Option<u32>,
    pub heading_path: Vec<String>,
    pub text: String,
    pub embed_hash: [u8; 32],
}

/// A new version of a document to record.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub path: PathBuf,
    pub folder: FolderId,
    pub content_hash: [u8; 32],
    pub size: u64,
    pub mtime: i64,
    /// See [`KnownDoc::stat_ns`].
    pub stat_ns: Option<i64>,
    pub kind: String,
    pub title: Option<String>,
    pub text_len: usize,
    pub page_count: Option<u32>,
    pub chunks: Vec<NewChunk>,
}

/// A current chunk as the derived indexes and search results need it.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkRecord {
    pub id: ChunkId,
    pub doc: DocId,
    pub version: VersionId,
    pub version_seq: i64,
    pub path: PathBuf,
    pub folder: FolderId,
    pub kind: String,
    pub mtime: i64,
    pub title: Option<String>,
    pub page: Option<u32>,
    pub heading_path: Vec<String>,
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Version status: `current`, `superseded` or `deleted`.
    pub status: String,
}

/// A chunk still waiting for its vector.
#[derive(Debug, Clone)]
pub struct PendingChunk {
    pub id: ChunkId,
    pub embed_hash: Vec<u8>,
    pub title: Option<String>,
    pub heading_path: Vec<String>,
    pub text: String,
}

/// A file that could not be indexed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub path: PathBuf,
    pub reason: String,
    pub at: i64,
}

/// Counts for `cairn status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogStats {
    pub folders: u64,
    pub documents: u64,
    pub current_documents: u64,
    pub versions: u64,
    pub current_chunks: u64,
    pub embedded_chunks: u64,
    pub problems: u64,
}

/// Search filters, resolved against the catalog.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only documents under these folders (registered folder paths or prefixes).
    pub folders: Vec<PathBuf>,
    /// Only these kinds (`pdf`, `markdown`, ...).
    pub kinds: Vec<String>,
    /// Only paths matching this glob (matched against the full path).
    pub path_glob: Option<globset::GlobMatcher>,
    /// Only documents modified at or after this Unix time (seconds).
    pub modified_after: Option<i64>,
    /// Only documents modified at or before this Unix time (seconds).
    pub modified_before: Option<i64>,
    /// Only documents carrying all of these tags (directly or through a tagged folder).
    pub tags: Vec<String>,
    /// Also return deprecated documents (labelled as such).
    pub include_deprecated: bool,
}

impl Filters {
    /// True when no positive restriction is set (deprecation handling aside).
    pub fn is_empty(&self) -> bool {
        self.folders.is_empty()
            && self.kinds.is_empty()
            && self.path_glob.is_none()
            && self.modified_after.is_none()
            && self.modified_before.is_none()
            && self.tags.is_empty()
    }

    /// Whether a document passes the filters (deprecation is checked separately).
    pub fn admits(&self, path: &Path, kind: &str, mtime: i64, marks: &Marks) -> bool {
        if !self.folders.is_empty() && !self.folders.iter().any(|f| path.starts_with(f)) {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k == kind) {
            return false;
        }
        if let Some(g) = &self.path_glob {
            if !g.is_match(path) {
                return false;
            }
        }
        if self.modified_after.is_some_and(|a| mtime < a)
            || self.modified_before.is_some_and(|b| mtime > b)
        {
            return false;
        }
        if !self.tags.is_empty() {
            let have = marks.tags_of(path);
            if !self.tags.iter().all(|t| have.contains(&t.as_str())) {
                return false;
            }
        }
        true
    }
}

/// Which chunks a retriever may return.
#[derive(Debug, Clone, Default)]
pub enum ChunkFilter {
    /// No restriction.
    #[default]
    All,
    /// Only these.
    Allow(std::collections::HashSet<ChunkId>),
    /// All but these.
    Deny(std::collections::HashSet<ChunkId>),
}

impl ChunkFilter {
    pub fn admits(&self, id: ChunkId) -> bool {
        match self {
            ChunkFilter::All => true,
            ChunkFilter::Allow(s) => s.contains(&id),
            ChunkFilter::Deny(s) => !s.contains(&id),
        }
    }
}

/// A deprecation mark on a document, a folder, or a glob pattern of paths.
#[derive(Debug, Clone, Serialize)]
pub struct Deprecation {
    pub target: String,
    pub is_pattern: bool,
    pub reason: String,
    pub superseded_by: Option<String>,
    pub created_at: i64,
}

/// Deprecations and tags, loaded once and matched against paths.
#[derive(Debug, Default)]
pub struct Marks {
    deprecations: Vec<(Deprecation, Option<globset::GlobMatcher>)>,
    tags: Vec<(PathBuf, String)>,
}

impl Marks {
    /// The deprecation that applies to `path`, if any (the most specific explicit one first).
    pub fn deprecation(&self, path: &Path) -> Option<&Deprecation> {
        self.deprecations
            .iter()
            .filter(|(d, glob)| match glob {
                Some(g) => g.is_match(path),
                None => path.starts_with(&d.target),
            })
            .max_by_key(|(d, glob)| (glob.is_none(), d.target.len()))
            .map(|(d, _)| d)
    }

    /// Tags of `path`, its own and its folders'.
    pub fn tags_of(&self, path: &Path) -> Vec<&str> {
        self.tags
            .iter()
            .filter(|(t, _)| path.starts_with(t))
            .map(|(_, tag)| tag.as_str())
            .collect()
    }

    pub fn has_deprecations(&self) -> bool {
        !self.deprecations.is_empty()
    }
}

/// Which derived index a generation counter belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Generation {
    /// Bumped by every change to the set of current chunks (what tantivy reflects).
    Text,
    /// Bumped by that and by every stored vector (what usearch reflects).
    Vector,
}

impl Generation {
    fn key(self) -> &'static str {
        match self {
            Generation::Text => "text_generation",
            Generation::Vector => "vector_generation",
        }
    }
}

/// The SQLite catalog.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn heading_json(path: &[String]) -> String {
    serde_json::to_string(path).unwrap_or_else(|_| "[]".into())
}

fn parse_heading(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// Encodes a vector as little-endian f32 bytes.
pub fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes [`vector_to_blob`].
pub fn blob_to_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Catalog {
    /// Opens (creating and migrating as needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut catalog = Catalog {
            conn,
            path: path.to_owned(),
        };
        catalog.migrate()?;
        Ok(catalog)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for modules that own their tables (answers, sessions, audit).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    fn migrate(&mut self) -> Result<()> {
        let version: usize = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
            as usize;
        if version > MIGRATIONS.len() {
            return Err(Error::Invalid(format!(
                "the catalog {} was written by a newer Cairn (schema {version}, this build knows {}); upgrade Cairn",
                self.path.display(),
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    // ---- meta -------------------------------------------------------------------------------

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The current value of a generation counter.
    pub fn generation(&self, which: Generation) -> Result<u64> {
        Ok(self
            .meta(which.key())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    fn bump(tx: &Transaction<'_>, which: Generation) -> Result<()> {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [which.key()],
        )?;
        Ok(())
    }

    // ---- folders ------------------------------------------------------------------------------

    /// Registers a folder (idempotent); returns its id. Documents left under it by an earlier
    /// [`Catalog::remove_folder`] are adopted again.
    pub fn add_folder(&self, path: &Path) -> Result<FolderId> {
        self.conn.execute(
            "INSERT OR IGNORE INTO folders(path, added_at) VALUES (?1, ?2)",
            params![path_str(path), now()],
        )?;
        let id = FolderId(self.conn.query_row(
            "SELECT id FROM folders WHERE path = ?1",
            [path_str(path)],
            |r| r.get(0),
        )?);
        let prefix = format!("{}{}", path_str(path), std::path::MAIN_SEPARATOR);
        self.conn.execute(
            "UPDATE documents SET folder_id = ?1
             WHERE folder_id IN (SELECT id FROM folders WHERE path LIKE 'removed:%')
               AND substr(path, 1, length(?2)) = ?2",
            params![id.0, prefix],
        )?;
        Ok(id)
    }

    pub fn folders(&self) -> Result<Vec<Folder>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, path FROM folders WHERE path NOT LIKE 'removed:%' ORDER BY path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Folder {
                id: FolderId(r.get(0)?),
                path: PathBuf::from(r.get::<_, String>(1)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- documents and versions ---------------------------------------------------------------

    /// Current (live) documents under a folder, keyed by path.
    pub fn known_docs(&self, folder: FolderId) -> Result<HashMap<PathBuf, KnownDoc>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.path, d.id, v.id, v.seq, v.content_hash, v.size, v.stat_ns
             FROM documents d JOIN versions v ON v.doc_id = d.id
             WHERE d.folder_id = ?1 AND v.status = 'current'
               AND v.seq = (SELECT MAX(seq) FROM versions WHERE doc_id = d.id)",
        )?;
        let rows = stmt.query_map([folder.0], |r| {
            Ok((
                PathBuf::from(r.get::<_, String>(0)?),
                KnownDoc {
                    doc: DocId(r.get(1)?),
                    version: VersionId(r.get(2)?),
                    seq: r.get(3)?,
                    content_hash: r.get(4)?,
                    size: r.get::<_, i64>(5)? as u64,
                    stat_ns: r.get(6)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// True when a document (live or not) has this path.
    pub fn has_document(&self, path: &Path) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM documents WHERE path = ?1",
                [path_str(path)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records that an unchanged file's modification time moved (no new version).
    pub fn touch_version(
        &self,
        version: VersionId,
        mtime: i64,
        stat_ns: Option<i64>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE versions SET mtime = ?2, stat_ns = ?3 WHERE id = ?1",
            params![version.0, mtime, stat_ns],
        )?;
        Ok(())
    }

    /// Makes the next reconcile hash this version's file instead of trusting its stat.
    pub fn forget_stat(&self, version: VersionId) -> Result<()> {
        self.conn.execute(
            "UPDATE versions SET stat_ns = NULL WHERE id = ?1",
            [version.0],
        )?;
        Ok(())
    }

    /// Applies one batch of indexing results in a single transaction: new versions (the
    /// previous current version of each document becomes superseded), renames and deletions.
    /// Returns the chunk ids that left the searchable set and the ids that joined it.
    pub fn apply_batch(&mut self, batch: &Batch) -> Result<BatchOutcome> {
        let tx = self.conn.transaction()?;
        let mut outcome = BatchOutcome::default();
        let t = now();
        for (old, new) in &batch.renames {
            tx.execute(
                "UPDATE documents SET path = ?2 WHERE path = ?1",
                params![path_str(old), path_str(new)],
            )?;
            outcome.renamed += 1;
        }
        for path in &batch.deletions {
            let removed = Self::retire_current(&tx, path, VersionStatus::Deleted)?;
            outcome.removed_chunks.extend(removed);
            outcome.deleted += 1;
        }
        for v in &batch.versions {
            let removed = Self::retire_current(&tx, &v.path, VersionStatus::Superseded)?;
            outcome.removed_chunks.extend(removed);
            tx.execute(
                "INSERT OR IGNORE INTO documents(folder_id, path, created_at) VALUES (?1, ?2, ?3)",
                params![v.folder.0, path_str(&v.path), t],
            )?;
            let doc: i64 = tx.query_row(
                "SELECT id FROM documents WHERE path = ?1",
                [path_str(&v.path)],
                |r| r.get(0),
            )?;
            let seq: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM versions WHERE doc_id = ?1",
                [doc],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO versions(doc_id, seq, status, content_hash, size, mtime, kind, title,
                                      text_len, page_count, chunk_count, created_at, stat_ns)
                 VALUES (?1, ?2, 'current', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    doc,
                    seq,
                    &v.content_hash[..],
                    v.size as i64,
                    v.mtime,
                    v.kind,
                    v.title,
                    v.text_len as i64,
                    v.page_count,
                    v.chunks.len() as i64,
                    t,
                    v.stat_ns
                ],
            )?;
            let version = tx.last_insert_rowid();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO chunks(version_id, ordinal, start, end, page, heading, text, embed_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for c in &v.chunks {
                stmt.execute(params![
                    version,
                    c.ordinal,
                    c.start as i64,
                    c.end as i64,
                    c.page,
                    heading_json(&c.heading_path),
                    c.text,
                    &c.embed_hash[..]
                ])?;
                outcome.added_chunks.push(ChunkId(tx.last_insert_rowid()));
            }
            drop(stmt);
            tx.execute("DELETE FROM problems WHERE path = ?1", [path_str(&v.path)])?;
            outcome.versions += 1;
        }
        for (path, folder, reason) in &batch.problems {
            tx.execute(
                "INSERT INTO problems(path, folder_id, reason, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, at = excluded.at",
                params![path_str(path), folder.0, reason, t],
            )?;
        }
        if !outcome.added_chunks.is_empty() || !outcome.removed_chunks.is_empty() {
            Self::bump(&tx, Generation::Text)?;
            Self::bump(&tx, Generation::Vector)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Marks the live version of `path` with `status`; returns the chunk ids it had.
    fn retire_current(
        tx: &Transaction<'_>,
        path: &Path,
        status: VersionStatus,
    ) -> Result<Vec<ChunkId>> {
        let current: Option<i64> = tx
            .query_row(
                "SELECT v.id FROM versions v JOIN documents d ON d.id = v.doc_id
                 WHERE d.path = ?1 AND v.status = 'current'",
                [path_str(path)],
                |r| r.get(0),
            )
            .optional()?;
        let Some(version) = current else {
            return Ok(Vec::new());
        };
        tx.execute(
            "UPDATE versions SET status = ?2, retired_at = ?3 WHERE id = ?1",
            params![version, status.as_str(), now()],
        )?;
        let mut stmt = tx.prepare_cached("SELECT id FROM chunks WHERE version_id = ?1")?;
        let ids = stmt.query_map([version], |r| Ok(ChunkId(r.get(0)?)))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    // ---- chunks -------------------------------------------------------------------------------

    const CHUNK_SELECT: &'static str =
        "SELECT c.id, d.id, v.id, v.seq, d.path, d.folder_id, v.kind, v.mtime, v.title, c.page,
                c.heading, c.start, c.end, c.text, v.status
         FROM chunks c JOIN versions v ON v.id = c.version_id JOIN documents d ON d.id = v.doc_id";

    fn chunk_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChunkRecord> {
        Ok(ChunkRecord {
            id: ChunkId(r.get(0)?),
            doc: DocId(r.get(1)?),
            version: VersionId(r.get(2)?),
            version_seq: r.get(3)?,
            path: PathBuf::from(r.get::<_, String>(4)?),
            folder: FolderId(r.get(5)?),
            kind: r.get(6)?,
            mtime: r.get(7)?,
            title: r.get(8)?,
            page: r.get(9)?,
            heading_path: parse_heading(&r.get::<_, String>(10)?),
            start: r.get::<_, i64>(11)? as usize,
            end: r.get::<_, i64>(12)? as usize,
            text: r.get(13)?,
            status: r.get(14)?,
        })
    }

    /// The given chunks, if they are still current (others are silently left out: a stale
    /// derived index can never surface superseded text).
    pub fn current_chunks(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} WHERE c.id = ?1 AND v.status = 'current'",
            Self::CHUNK_SELECT
        ))?;
        for id in ids {
            if let Some(rec) = stmt.query_row([id.0], Self::chunk_row).optional()? {
                out.insert(*id, rec);
            }
        }
        Ok(out)
    }

    /// Visits every current chunk (for rebuilding the text index).
    pub fn for_each_current_chunk(
        &self,
        mut f: impl FnMut(ChunkRecord) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(&format!(
            "{} WHERE v.status = 'current' ORDER BY c.id",
            Self::CHUNK_SELECT
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            f(Self::chunk_row(row)?)?;
        }
        Ok(())
    }

    /// Visits every current chunk that has a vector for `model_id` (for rebuilding usearch).
    pub fn for_each_current_vector(
        &self,
        model_id: &str,
        mut f: impl FnMut(ChunkId, Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, e.vector FROM chunks c
             JOIN versions v ON v.id = c.version_id
             JOIN embeddings e ON e.model_id = ?1 AND e.hash = c.embed_hash
             WHERE v.status = 'current' ORDER BY c.id",
        )?;
        let mut rows = stmt.query([model_id])?;
        while let Some(row) = rows.next()? {
            let id = ChunkId(row.get(0)?);
            let blob: Vec<u8> = row.get(1)?;
            f(id, blob_to_vector(&blob))?;
        }
        Ok(())
    }

    /// Current chunks whose text has a cached vector for `model_id` among `ids`.
    pub fn cached_vectors(
        &self,
        model_id: &str,
        ids: &[ChunkId],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.vector FROM chunks c
             JOIN embeddings e ON e.model_id = ?1 AND e.hash = c.embed_hash
             WHERE c.id = ?2",
        )?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(blob) = stmt
                .query_row(params![model_id, id.0], |r| r.get::<_, Vec<u8>>(0))
                .optional()?
            {
                out.push((*id, blob_to_vector(&blob)));
            }
        }
        Ok(out)
    }

    /// Up to `limit` current chunks without a vector for `model_id`, most recently modified
    /// documents first. Chunks sharing one text are returned once per text.
    pub fn pending_chunks(&self, model_id: &str, limit: usize) -> Result<Vec<PendingChunk>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.embed_hash, v.title, c.heading, c.text FROM chunks c
             JOIN versions v ON v.id = c.version_id
             WHERE v.status = 'current'
               AND NOT EXISTS (SELECT 1 FROM embeddings e
                               WHERE e.model_id = ?1 AND e.hash = c.embed_hash)
             ORDER BY v.mtime DESC, c.id
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![model_id, limit as i64], |r| {
            Ok(PendingChunk {
                id: ChunkId(r.get(0)?),
                embed_hash: r.get(1)?,
                title: r.get(2)?,
                heading_path: parse_heading(&r.get::<_, String>(3)?),
                text: r.get(4)?,
            })
        })?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for row in rows {
            let row = row?;
            if seen.insert(row.embed_hash.clone()) {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// Stores vectors (by embedded-text hash) and returns every current chunk that now has one
    /// among those hashes, for adding to the vector index.
    pub fn store_vectors(
        &mut self,
        model_id: &str,
        vectors: &[(Vec<u8>, Vec<f32>)],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let tx = self.conn.transaction()?;
        let mut ready = Vec::new();
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO embeddings(model_id, hash, vector) VALUES (?1, ?2, ?3)",
            )?;
            let mut users = tx.prepare_cached(
                "SELECT c.id FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE c.embed_hash = ?1 AND v.status = 'current'",
            )?;
            for (hash, v) in vectors {
                ins.execute(params![model_id, hash, vector_to_blob(v)])?;
                let ids = users.query_map([hash], |r| r.get::<_, i64>(0))?;
                for id in ids {
                    ready.push((ChunkId(id?), v.clone()));
                }
            }
        }
        Self::bump(&tx, Generation::Vector)?;
        tx.commit()?;
        Ok(ready)
    }

    /// The chunk filter for `filters`: current chunks passing them, minus deprecated
    /// documents unless `filters.include_deprecated`.
    pub fn chunk_filter(&self, filters: &Filters, marks: &Marks) -> Result<ChunkFilter> {
        let exclude_deprecated = !filters.include_deprecated && marks.has_deprecations();
        if filters.is_empty() && !exclude_deprecated {
            return Ok(ChunkFilter::All);
        }
        let mut stmt = self.conn.prepare(
            "SELECT c.id, d.path, v.kind, v.mtime FROM chunks c
             JOIN versions v ON v.id = c.version_id JOIN documents d ON d.id = v.doc_id
             WHERE v.status = 'current'",
        )?;
        let mut rows = stmt.query([])?;
        let mut allow = std::collections::HashSet::new();
        let mut deny = std::collections::HashSet::new();
        while let Some(r) = rows.next()? {
            let id = ChunkId(r.get(0)?);
            let path = PathBuf::from(r.get::<_, String>(1)?);
            let kind: String = r.get(2)?;
            let mtime: i64 = r.get(3)?;
            let ok = filters.admits(&path, &kind, mtime, marks)
                && !(exclude_deprecated && marks.deprecation(&path).is_some());
            if ok {
                allow.insert(id);
            } else {
                deny.insert(id);
            }
        }
        Ok(if filters.is_empty() {
            ChunkFilter::Deny(deny)
        } else {
            ChunkFilter::Allow(allow)
        })
    }

    // ---- status -------------------------------------------------------------------------------

    /// Number of current passages (cheap: no look-up of vectors).
    pub fn current_chunk_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM chunks c JOIN versions v ON v.id = c.version_id
             WHERE v.status = 'current'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn stats(&self, model_id: &str) -> Result<CatalogStats> {
        let one = |sql: &str| -> Result<u64> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok(CatalogStats {
            folders: one("SELECT COUNT(*) FROM folders WHERE path NOT LIKE 'removed:%'")?,
            documents: one("SELECT COUNT(*) FROM documents")?,
            current_documents: one("SELECT COUNT(*) FROM versions WHERE status = 'current'")?,
            versions: one("SELECT COUNT(*) FROM versions")?,
            current_chunks: one(
                "SELECT COUNT(*) FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE v.status = 'current'",
            )?,
            embedded_chunks: self.conn.query_row(
                "SELECT COUNT(*) FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE v.status = 'current' AND EXISTS
                   (SELECT 1 FROM embeddings e WHERE e.model_id = ?1 AND e.hash = c.embed_hash)",
                [model_id],
                |r| r.get::<_, i64>(0),
            )? as u64,
            problems: one("SELECT COUNT(*) FROM problems")?,
        })
    }

    pub fn problems(&self) -> Result<Vec<Problem>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, reason, at FROM problems ORDER BY path")?;
        let rows = stmt.query_map([], |r| {
            Ok(Problem {
                path: PathBuf::from(r.get::<_, String>(0)?),
                reason: r.get(1)?,
                at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets problems of files that no longer exist or are now indexed.
    pub fn clear_problem(&self, path: &Path) -> Result<()> {
        self.conn
            .execute("DELETE FROM problems WHERE path = ?1", [path_str(path)])?;
        Ok(())
    }

    /// Known problem paths under a folder.
    pub fn problem_paths(&self, folder: FolderId) -> Result<Vec<PathBuf>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM problems WHERE folder_id = ?1")?;
        let rows = stmt.query_map([folder.0], |r| r.get::<_, String>(0))?;
        Ok(rows
            .map(|r| r.map(PathBuf::from))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Every document with its latest version, for the desktop app's library list.
    pub fn documents(&self) -> Result<Vec<DocumentRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.id, d.path, f.path, v.seq, v.status, v.kind, v.title, v.size, v.mtime,
                    v.page_count, v.chunk_count,
                    (SELECT COUNT(*) FROM versions WHERE doc_id = d.id)
             FROM documents d JOIN folders f ON f.id = d.folder_id AND f.path NOT LIKE 'removed:%'
             JOIN versions v ON v.doc_id = d.id
             WHERE v.seq = (SELECT MAX(seq) FROM versions WHERE doc_id = d.id)
             ORDER BY d.path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DocumentRow {
                id: DocId(r.get(0)?),
                path: PathBuf::from(r.get::<_, String>(1)?),
                folder: PathBuf::from(r.get::<_, String>(2)?),
                version: r.get(3)?,
                status: r.get(4)?,
                kind: r.get(5)?,
                title: r.get(6)?,
                size: r.get::<_, i64>(7)? as u64,
                mtime: r.get(8)?,
                pages: r.get(9)?,
                chunks: r.get::<_, i64>(10)? as u64,
                versions: r.get::<_, i64>(11)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The text of the passages just before and after chunk `id` in the same version (for
    /// showing a cited passage in context).
    pub fn neighbours(&self, id: ChunkId) -> Result<(Option<String>, Option<String>)> {
        let mut stmt = self.conn.prepare(
            "SELECT n.ordinal - c.ordinal, n.text FROM chunks c
             JOIN chunks n ON n.version_id = c.version_id
                          AND n.ordinal IN (c.ordinal - 1, c.ordinal + 1)
             WHERE c.id = ?1",
        )?;
        let rows = stmt.query_map([id.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let (mut before, mut after) = (None, None);
        for row in rows {
            let (offset, text) = row?;
            if offset < 0 {
                before = Some(text);
            } else {
                after = Some(text);
            }
        }
        Ok((before, after))
    }

    /// Forgets a folder: its documents' current versions become `deleted` (history is kept),
    /// its problems are dropped and it is no longer scanned. The caller rebuilds the derived
    /// indexes. Returns how many documents were retired.
    pub fn remove_folder(&mut self, path: &Path) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let id: i64 = tx
            .query_row(
                "SELECT id FROM folders WHERE path = ?1",
                [path_str(path)],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{} is not a folder in the collection",
                    path.display()
                ))
            })?;
        let retired = tx.execute(
            "UPDATE versions SET status = 'deleted', retired_at = ?2
             WHERE status = 'current' AND doc_id IN (SELECT id FROM documents WHERE folder_id = ?1)",
            params![id, now()],
        )?;
        tx.execute("DELETE FROM problems WHERE folder_id = ?1", [id])?;
        // The row stays as a tombstone (documents keep their history and reference it) and
        // its documents are adopted again if the folder is re-added.
        tx.execute(
            "UPDATE folders SET path = 'removed:' || id || ':' || path WHERE id = ?1",
            [id],
        )?;
        Self::bump(&tx, Generation::Text)?;
        Self::bump(&tx, Generation::Vector)?;
        tx.commit()?;
        Ok(retired)
    }

    /// The embedding model whose vectors this catalog's index holds, if any.
    pub fn index_model(&self) -> Result<Option<String>> {
        self.meta("embedding_model")
    }
}

/// The results of indexing a batch of files, applied by [`Catalog::apply_batch`].
#[derive(Debug, Default)]
pub struct Batch {
    pub versions: Vec<NewVersion>,
    /// (old path, new path) of moved documents with unchanged content.
    pub renames: Vec<(PathBuf, PathBuf)>,
    pub deletions: Vec<PathBuf>,
    pub problems: Vec<(PathBuf, FolderId, String)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
            && self.renames.is_empty()
            && self.deletions.is_empty()
            && self.problems.is_empty()
    }
}

/// What [`Catalog::apply_batch`] changed.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub versions: usize,
    pub renamed: usize,
    pub deleted: usize,
    pub added_chunks: Vec<ChunkId>,
    pub removed_chunks: Vec<ChunkId>,
}

/// A document and its latest version, as the library list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRow {
    pub id: DocId,
    pub path: PathBuf,
    /// The registered folder it belongs to.
    pub folder: PathBuf,
    /// Latest version number (1 = first seen).
    pub version: i64,
    /// Status of the latest version: `current`, `superseded`, `deleted`.
    pub status: String,
    pub kind: String,
    pub title: Option<String>,
    pub size: u64,
    pub mtime: i64,
    pub pages: Option<u32>,
    pub chunks: u64,
    /// How many versions Cairn has recorded.
    pub versions: u64,
}

/// One version in a document's history.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: i64,
    pub status: String,
    /// When Cairn recorded this version (Unix seconds).
    pub recorded_at: i64,
    /// When it stopped being current, if it did.
    pub retired_at: Option<i64>,
    pub content_hash: String,
    pub size: u64,
    pub mtime: i64,
    pub kind: String,
    pub chunks: u64,
    /// Passages new in this version, compared with the previous one.
    pub chunks_added: u64,
    /// Passages of the previous version that are gone.
    pub chunks_removed: u64,
}

/// Two current passages in different documents that say nearly the same thing differently.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    pub path_a: PathBuf,
    pub path_b: PathBuf,
    pub chunk_a: ChunkId,
    pub chunk_b: ChunkId,
    pub similarity: f32,
    pub text_a: String,
    pub text_b: String,
}

/// Result of [`Catalog::integrity`].
#[derive(Debug, Clone, Serialize)]
pub struct Integrity {
    pub sqlite_ok: bool,
    pub sqlite_message: String,
    pub documents_with_two_current_versions: u64,
}

impl Catalog {
    /// The document at `path` (live or not).
    pub fn document_id(&self, path: &Path) -> Result<Option<DocId>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM documents WHERE path = ?1",
                [path_str(path)],
                |r| Ok(DocId(r.get(0)?)),
            )
            .optional()?)
    }

    /// Every version of the document at `path`, oldest first, with what changed.
    pub fn history(&self, path: &Path) -> Result<Vec<VersionInfo>> {
        let doc = self.document_id(path)?.ok_or_else(|| {
            Error::NotFound(format!("Cairn has no document at {}", path.display()))
        })?;
        let mut stmt = self.conn.prepare(
            "SELECT id, seq, status, created_at, retired_at, content_hash, size, mtime, kind,
                    chunk_count FROM versions WHERE doc_id = ?1 ORDER BY seq",
        )?;
        let rows: Vec<(i64, VersionInfo)> = stmt
            .query_map([doc.0], |r| {
                let hash: Vec<u8> = r.get(5)?;
                Ok((
                    r.get(0)?,
                    VersionInfo {
                        version: r.get(1)?,
                        status: r.get(2)?,
                        recorded_at: r.get(3)?,
                        retired_at: r.get(4)?,
                        content_hash: hash.iter().take(8).map(|b| format!("{b:02x}")).collect(),
                        size: r.get::<_, i64>(6)? as u64,
                        mtime: r.get(7)?,
                        kind: r.get(8)?,
                        chunks: r.get::<_, i64>(9)? as u64,
                        chunks_added: 0,
                        chunks_removed: 0,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut hashes = self
            .conn
            .prepare("SELECT embed_hash FROM chunks WHERE version_id = ?1")?;
        let mut prev: std::collections::HashSet<Vec<u8>> = Default::default();
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut info) in rows {
            let cur: std::collections::HashSet<Vec<u8>> = hashes
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            info.chunks_added = cur.difference(&prev).count() as u64;
            info.chunks_removed = prev.difference(&cur).count() as u64;
            prev = cur;
            out.push(info);
        }
        Ok(out)
    }

    /// Chunks of any status (for history and as-of search), by id.
    pub fn chunk_records(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{} WHERE c.id = ?1", Self::CHUNK_SELECT))?;
        for id in ids {
            if let Some(rec) = stmt.query_row([id.0], Self::chunk_row).optional()? {
                out.insert(*id, rec);
            }
        }
        Ok(out)
    }

    /// Chunks of the versions that were current at Unix time `at`, or of every version ever
    /// recorded when `at` is None.
    pub fn chunks_of_state(&self, at: Option<i64>) -> Result<Vec<ChunkRecord>> {
        let sql = format!(
            "{} WHERE ?1 IS NULL OR (v.created_at <= ?1 AND (v.retired_at IS NULL OR v.retired_at > ?1))",
            Self::CHUNK_SELECT
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([at], Self::chunk_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- deprecation and tags -------------------------------------------------------------------

    /// Marks a document, folder (`is_pattern` false) or glob pattern deprecated.
    pub fn deprecate(
        &self,
        target: &str,
        is_pattern: bool,
        reason: &str,
        superseded_by: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO deprecations(target, is_pattern, reason, superseded_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(target) DO UPDATE SET reason = excluded.reason,
               superseded_by = excluded.superseded_by, is_pattern = excluded.is_pattern",
            params![target, is_pattern, reason, superseded_by, now()],
        )?;
        Ok(())
    }

    /// Removes a deprecation mark; false when there was none.
    pub fn undeprecate(&self, target: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM deprecations WHERE target = ?1", [target])?
            > 0)
    }

    pub fn deprecations(&self) -> Result<Vec<Deprecation>> {
        let mut stmt = self.conn.prepare(
            "SELECT target, is_pattern, reason, superseded_by, created_at FROM deprecations
             ORDER BY target",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Deprecation {
                target: r.get(0)?,
                is_pattern: r.get(1)?,
                reason: r.get(2)?,
                superseded_by: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds tags to a document or folder path.
    pub fn tag(&self, target: &Path, tags: &[String]) -> Result<()> {
        for t in tags {
            self.conn.execute(
                "INSERT OR IGNORE INTO tags(target, tag) VALUES (?1, ?2)",
                params![path_str(target), t],
            )?;
        }
        Ok(())
    }

    /// Removes tags (all of them when `tags` is empty); returns how many were removed.
    pub fn untag(&self, target: &Path, tags: &[String]) -> Result<usize> {
        if tags.is_empty() {
            return Ok(self
                .conn
                .execute("DELETE FROM tags WHERE target = ?1", [path_str(target)])?);
        }
        let mut n = 0;
        for t in tags {
            n += self.conn.execute(
                "DELETE FROM tags WHERE target = ?1 AND tag = ?2",
                params![path_str(target), t],
            )?;
        }
        Ok(n)
    }

    /// All (target, tag) pairs.
    pub fn tags(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT target, tag FROM tags ORDER BY target, tag")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                PathBuf::from(r.get::<_, String>(0)?),
                r.get::<_, String>(1)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Loads deprecations and tags for matching.
    pub fn marks(&self) -> Result<Marks> {
        let mut deprecations = Vec::new();
        for d in self.deprecations()? {
            let glob = if d.is_pattern {
                Some(
                    globset::GlobBuilder::new(&d.target)
                        .literal_separator(false)
                        .build()
                        .map_err(|e| Error::Invalid(format!("bad pattern `{}`: {e}", d.target)))?
                        .compile_matcher(),
                )
            } else {
                None
            };
            deprecations.push((d, glob));
        }
        Ok(Marks {
            deprecations,
            tags: self.tags()?,
        })
    }

    // ---- conflicts ------------------------------------------------------------------------------

    /// Records near-duplicate passage pairs (ids ordered so each pair is stored once).
    pub fn record_conflicts(&mut self, pairs: &[(ChunkId, ChunkId, f32)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO conflicts(chunk_a, chunk_b, similarity, found_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (a, b, sim) in pairs {
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                stmt.execute(params![a.0, b.0, sim, now()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Conflicts whose passages are both still current.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut stmt = self.conn.prepare(
            "SELECT k.chunk_a, k.chunk_b, k.similarity FROM conflicts k
             JOIN chunks ca ON ca.id = k.chunk_a JOIN versions va ON va.id = ca.version_id
             JOIN chunks cb ON cb.id = k.chunk_b JOIN versions vb ON vb.id = cb.version_id
             WHERE va.status = 'current' AND vb.status = 'current'
             ORDER BY k.similarity DESC",
        )?;
        let pairs: Vec<(ChunkId, ChunkId, f32)> = stmt
            .query_map([], |r| {
                Ok((ChunkId(r.get(0)?), ChunkId(r.get(1)?), r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let ids: Vec<ChunkId> = pairs.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
        let recs = self.chunk_records(&ids)?;
        Ok(pairs
            .into_iter()
            .filter_map(|(a, b, similarity)| {
                let (ra, rb) = (recs.get(&a)?, recs.get(&b)?);
                Some(Conflict {
                    path_a: ra.path.clone(),
                    path_b: rb.path.clone(),
                    chunk_a: a,
                    chunk_b: b,
                    similarity,
                    text_a: ra.text.clone(),
                    text_b: rb.text.clone(),
                })
            })
            .collect())
    }

    // ---- consistency ----------------------------------------------------------------------------

    /// SQLite's own integrity check plus the catalog's invariants.
    pub fn integrity(&self) -> Result<Integrity> {
        let message: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let doubles: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM (SELECT doc_id FROM versions WHERE status = 'current'
             GROUP BY doc_id HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )?;
        Ok(Integrity {
            sqlite_ok: message == "ok",
            sqlite_message: message,
            documents_with_two_current_versions: doubles as u64,
        })
    }
}
