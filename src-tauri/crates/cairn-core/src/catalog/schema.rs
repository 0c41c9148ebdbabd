//! The catalog's schema: migrations applied in order, `PRAGMA user_version` counting how many
//! ran. A migration is never edited once released; a change is a new entry at the end.

use super::Catalog;
use crate::error::{Error, Result};

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
    // 5: files that failed or are not documents are not read again until they change: the
    // stat they had is kept with the problem, and unsupported files are remembered.
    r#"
ALTER TABLE problems ADD COLUMN size INTEGER;
ALTER TABLE problems ADD COLUMN stat_ns INTEGER;
CREATE TABLE skipped (
    path TEXT PRIMARY KEY,
    folder_id INTEGER REFERENCES folders(id),
    size INTEGER NOT NULL,
    stat_ns INTEGER NOT NULL
);
"#,
    // 6: paths the user forgot (`cairn forget`): erased from every table and index, and not
    // indexed again by a scan until un-forgotten (or their folder is added anew).
    r#"
CREATE TABLE forgotten (
    path TEXT PRIMARY KEY,
    at INTEGER NOT NULL
);
"#,
    // 7: the sender and date of the mail message each passage of a mailbox or message belongs
    // to, for `--from`, `--sent-after` and `--sent-before`.
    r#"
CREATE TABLE chunk_mail (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id),
    sender TEXT NOT NULL,
    sent_at INTEGER
);
"#,
    // 8: the OCR backlog: pages of current versions waiting for recognition (a PDF page
    // without text, or page 0: every page of an image), recognised by the OCR phase after the
    // keyword phase. Rows of a version leave when it stops being current.
    r#"
CREATE TABLE ocr_pending (
    version_id INTEGER NOT NULL REFERENCES versions(id),
    page INTEGER NOT NULL,
    PRIMARY KEY (version_id, page)
) WITHOUT ROWID;
"#,
];

impl Catalog {
    /// Applies the migrations this file has not seen yet, each in its own transaction.
    pub(super) fn migrate(&mut self) -> Result<()> {
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
}
