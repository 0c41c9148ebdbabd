//! The answer audit log, conversations and pinned facts, in the catalog's SQLite file.
//!
//! These tables hold user data, not data derived from documents, so they are outside the
//! "one writer" rule of ARCHITECTURE.md: `cairn ask` opens the engine read-only (it never
//! blocks a running indexer) and still records its answer here, relying on SQLite's own
//! locking (WAL, busy timeout). Nothing here touches the document tables or the indexes.
//!
//! Every answer writes one `audit` row: the question and the standalone query it was
//! rewritten to, filters, the retrieved passages (chunk id, score, path, version, page, byte
//! span), the abstention evidence, prompt template version, model id and endpoint, latencies,
//! the answer text and every citation verdict. So does every attempt whose generation failed
//! once the prompt was on its way to the model (the passages may have reached the endpoint):
//! the same record with an empty answer, no citations and the failure in `error`. The full
//! record is kept as JSON in `record` (so adding a field never needs a migration; fields added
//! later default when older rows are read); a few columns are copied out for listing.

use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::answer::abstain::Evidence;
use crate::answer::{AnswerMode, Citation, Timings};
use crate::error::{Error, Result};

pub use crate::answer::conversation::{
    AuditId, Message, MessageRole, Pin, PinId, Session, SessionId,
};

mod redact;
mod sessions;

pub use redact::{has_url_credentials, redact_url};
pub(crate) use redact::{redact_forgotten, redact_record};
pub(crate) use sessions::{
    add_message, add_pin, create_session, list_sessions, messages, pins, remove_pin, session_exists,
};

/// A retrieved passage as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievedPassage {
    pub rank: usize,
    pub chunk_id: i64,
    pub score: f32,
    #[serde(with = "crate::paths::serde_key")]
    pub path: PathBuf,
    pub version: i64,
    pub page: Option<u32>,
    pub byte_span: (usize, usize),
    /// Its number in the prompt, when it was given to the answerer as a source.
    pub source: Option<usize>,
}

/// Everything recorded about one answer, or one failed attempt at one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 0 until stored.
    pub id: AuditId,
    pub at: i64,
    pub session: Option<SessionId>,
    pub question: String,
    pub rewritten_query: String,
    /// How the standalone query was made: `unchanged`, `heuristic` or `model`.
    pub rewrite: String,
    pub mode: AnswerMode,
    pub filters: serde_json::Value,
    pub retrieved: Vec<RetrievedPassage>,
    pub evidence: Evidence,
    pub template_version: String,
    pub model_id: Option<String>,
    pub endpoint: Option<String>,
    pub timings: Timings,
    pub answer: String,
    pub abstained: bool,
    pub citations: Vec<Citation>,
    /// Sentences of the answer that carry no citation.
    pub uncited: Vec<String>,
    /// Pinned facts that were in the prompt.
    pub pins: Vec<String>,
    pub cancelled: bool,
    /// Why the generation failed (its message): the prompt, with the sources marked in
    /// `retrieved`, was sent or being sent to `model_id` at `endpoint`, and no answer came
    /// back (`answer` is empty, `citations` none). None for an answer (and in rows written
    /// before this field existed).
    #[serde(default)]
    pub error: Option<String>,
    /// Documents this answer drew on that were forgotten since (`cairn forget`): their
    /// passages' text is gone and the sentences that used them read `[forgotten: PATH]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgotten: Vec<PathBuf>,
}

/// An audit row, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditSummary {
    pub id: AuditId,
    pub at: i64,
    pub session: Option<SessionId>,
    pub question: String,
    pub mode: String,
    pub abstained: bool,
    pub model_id: Option<String>,
    pub template_version: String,
    /// Set when the generation failed: see [`AuditRecord::error`].
    #[serde(default)]
    pub error: Option<String>,
}

pub(crate) fn insert_audit(conn: &Connection, rec: &AuditRecord) -> Result<AuditId> {
    // Credentials in the endpoint's URL (user:pass@, ?api_key=) are never written, nor in
    // an error message quoting it.
    let mut rec = rec.clone();
    rec.endpoint = rec.endpoint.as_deref().map(redact_url);
    rec.model_id = rec.model_id.as_deref().map(redact_url);
    rec.error = rec.error.as_deref().map(redact_url);
    let rec = &rec;
    let json = serde_json::to_string(rec).map_err(|e| Error::Invalid(e.to_string()))?;
    conn.execute(
        "INSERT INTO audit(at, session_id, question, rewritten_query, mode, abstained, model_id,
                           endpoint, template_version, answer, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            rec.at,
            rec.session.map(|s| s.0),
            rec.question,
            rec.rewritten_query,
            rec.mode.as_str(),
            rec.abstained,
            rec.model_id,
            rec.endpoint,
            rec.template_version,
            rec.answer,
            json
        ],
    )?;
    Ok(AuditId(conn.last_insert_rowid()))
}

/// The newest `limit` audit rows, newest first.
pub(crate) fn list_audit(conn: &Connection, limit: usize) -> Result<Vec<AuditSummary>> {
    let mut stmt = conn.prepare(
        "SELECT id, at, session_id, question, mode, abstained, model_id, template_version,
                json_extract(record, '$.error')
         FROM audit ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit.min(i64::MAX as usize) as i64], |r| {
        Ok(AuditSummary {
            id: AuditId(r.get(0)?),
            at: r.get(1)?,
            session: r.get::<_, Option<i64>>(2)?.map(SessionId),
            question: r.get(3)?,
            mode: r.get(4)?,
            abstained: r.get(5)?,
            model_id: r.get(6)?,
            template_version: r.get(7)?,
            error: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn parse_record(id: i64, json: &str) -> Result<AuditRecord> {
    let mut rec: AuditRecord = serde_json::from_str(json)
        .map_err(|e| Error::Invalid(format!("audit row {id} is unreadable: {e}")))?;
    rec.id = AuditId(id);
    Ok(rec)
}

/// One full audit record.
pub(crate) fn get_audit(conn: &Connection, id: AuditId) -> Result<AuditRecord> {
    let json: Option<String> = conn
        .query_row("SELECT record FROM audit WHERE id = ?1", [id.0], |r| {
            r.get(0)
        })
        .optional()?;
    match json {
        Some(j) => parse_record(id.0, &j),
        None => Err(Error::NotFound(format!("there is no audit record {id}"))),
    }
}

/// Every audit record, oldest first.
pub(crate) fn all_audit(conn: &Connection) -> Result<Vec<AuditRecord>> {
    let mut stmt = conn.prepare("SELECT id, record FROM audit ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row?;
        out.push(parse_record(id, &json)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn record(error: Option<&str>) -> AuditRecord {
        AuditRecord {
            id: AuditId(0),
            at: 1_700_000_000,
            session: None,
            question: "How long do refunds take?".into(),
            rewritten_query: "How long do refunds take?".into(),
            rewrite: "unchanged".into(),
            mode: AnswerMode::Generative,
            filters: serde_json::json!({ "include_deprecated": false }),
            retrieved: vec![RetrievedPassage {
                rank: 1,
                chunk_id: 7,
                score: 0.8,
                path: PathBuf::from("/library/refunds.html"),
                version: 1,
                page: None,
                byte_span: (0, 120),
                source: Some(1),
            }],
            evidence: Evidence::decide(Some(0.8), None, 1.0, true, 0.5),
            template_version: "answer-v1".into(),
            model_id: Some("remote:http://127.0.0.1:9/v1#m".into()),
            endpoint: Some("http://127.0.0.1:9/v1".into()),
            timings: Timings::default(),
            answer: if error.is_some() {
                String::new()
            } else {
                "Within five working days [1].".into()
            },
            abstained: false,
            citations: Vec::new(),
            uncited: Vec::new(),
            pins: Vec::new(),
            cancelled: false,
            error: error.map(str::to_owned),
            forgotten: Vec::new(),
        }
    }

    #[test]
    fn failed_attempts_are_listed_with_their_error_and_older_rows_still_load() {
        let tmp = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&tmp.path().join("catalog.sqlite3")).unwrap();
        let conn = catalog.conn();

        // A row written before `error` existed: its JSON has no such key.
        let mut old = serde_json::to_value(record(None)).unwrap();
        old.as_object_mut().unwrap().remove("error").unwrap();
        let old_id = insert_audit(conn, &record(None)).unwrap();
        conn.execute(
            "UPDATE audit SET record = ?1 WHERE id = ?2",
            params![old.to_string(), old_id.0],
        )
        .unwrap();

        let failed_id =
            insert_audit(conn, &record(Some("HTTP 401: the key was rejected"))).unwrap();

        let old_rec = get_audit(conn, old_id).unwrap();
        assert_eq!(old_rec.error, None);
        assert_eq!(old_rec.answer, "Within five working days [1].");
        let failed = get_audit(conn, failed_id).unwrap();
        assert_eq!(
            failed.error.as_deref(),
            Some("HTTP 401: the key was rejected")
        );
        assert!(failed.answer.is_empty() && failed.citations.is_empty());
        assert_eq!(failed.retrieved[0].source, Some(1));
        assert_eq!(failed.endpoint.as_deref(), Some("http://127.0.0.1:9/v1"));

        let list = list_audit(conn, 10).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].id, failed_id, "newest first");
        assert_eq!(
            list[0].error.as_deref(),
            Some("HTTP 401: the key was rejected")
        );
        assert_eq!(list[1].error, None);
        assert_eq!(all_audit(conn).unwrap().len(), 2);

        // The stored JSON names the field (null for answers), and old summaries load too.
        let json = serde_json::to_value(&old_rec).unwrap();
        assert!(json["error"].is_null());
        let summary: AuditSummary = serde_json::from_value(serde_json::json!({
            "id": 1, "at": 0, "session": null, "question": "q", "mode": "generative",
            "abstained": false, "model_id": null, "template_version": "answer-v1"
        }))
        .unwrap();
        assert_eq!(summary.error, None);
    }

    #[test]
    fn credentials_in_urls_are_never_written() {
        assert_eq!(
            redact_url("https://alice:pa55@h.example/v1?api_key=sk-1&x=1#m"),
            "https://***@h.example/v1?api_key=***&x=1#m"
        );
        assert_eq!(
            redact_url("remote:http://h:8080/v1?key=abc&access_token=t#model"),
            "remote:http://h:8080/v1?key=***&access_token=***#model"
        );
        assert_eq!(
            redact_url("http://localhost:11434/v1"),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            redact_url("cannot reach http://u:p@h/v1/chat/completions: refused"),
            "cannot reach http://***@h/v1/chat/completions: refused"
        );
        assert!(has_url_credentials("https://h/v1?api-key=1"));
        assert!(!has_url_credentials("https://h/v1?api-version=1"));

        let tmp = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&tmp.path().join("catalog.sqlite3")).unwrap();
        let mut rec = record(Some("cannot reach http://alice:pa55@10.0.0.9/v1: refused"));
        rec.endpoint = Some("http://alice:pa55@10.0.0.9/v1?api_key=sk-1".into());
        rec.model_id = Some("remote:http://alice:pa55@10.0.0.9/v1?api_key=sk-1#m".into());
        let id = insert_audit(catalog.conn(), &rec).unwrap();
        let raw: String = catalog
            .conn()
            .query_row(
                "SELECT endpoint || model_id || record FROM audit WHERE id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!raw.contains("pa55") && !raw.contains("sk-1"), "{raw}");
        assert!(raw.contains("10.0.0.9"), "{raw}");
    }

    #[test]
    fn forgetting_redacts_the_sentences_that_used_a_source_and_keeps_the_rest() {
        let mut rec = record(None);
        rec.retrieved.push(RetrievedPassage {
            rank: 2,
            chunk_id: 8,
            score: 0.5,
            path: PathBuf::from("/library/kept.md"),
            version: 1,
            page: None,
            byte_span: (0, 10),
            source: Some(2),
        });
        rec.answer = "Refunds take five days [1]. Vouchers never expire [2]. Also, sunny.".into();
        let cite = |n: usize, sentence: usize, path: &str, chunk: i64| Citation {
            n,
            sentence,
            verdict: crate::cite::Verdict::Supported,
            support: 1.0,
            reason: None,
            path: Some(PathBuf::from(path)),
            version: Some(1),
            page: None,
            byte_span: Some((0, 10)),
            chunk_id: Some(chunk),
        };
        rec.citations = vec![
            cite(1, 0, "/library/refunds.html", 7),
            cite(2, 1, "/library/kept.md", 8),
        ];
        rec.uncited = vec!["Also, sunny.".into()];
        let gone = |p: &std::path::Path, _: i64| p.ends_with("refunds.html");
        assert!(redact_record(&mut rec, &gone));
        assert_eq!(
            rec.answer,
            "[forgotten: /library/refunds.html] Vouchers never expire [2]. \
             [forgotten: /library/refunds.html]"
        );
        assert_eq!(rec.forgotten, [PathBuf::from("/library/refunds.html")]);
        assert_eq!(rec.uncited, ["[forgotten: /library/refunds.html]"]);
        assert!(rec.citations[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("forgotten"));
        assert_eq!(rec.citations[1].reason, None);
        // A record that used nothing forgotten is left alone.
        let mut other = record(None);
        assert!(!redact_record(&mut other, &|_, _| false));
        assert!(other.forgotten.is_empty());
    }
}
