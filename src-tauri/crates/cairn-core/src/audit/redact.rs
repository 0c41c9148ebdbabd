//! Redaction in the audit log: credentials in URLs are never written, and answers that used a
//! forgotten source have its text replaced by a marker (keeping that the answer cited it).

use std::path::PathBuf;

use rusqlite::{params, Connection};

use super::{parse_record, AuditRecord};
use crate::error::{Error, Result};

/// Query parameters whose value is a credential.
const SECRET_PARAMS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "api-key",
    "access_token",
    "token",
    "auth",
    "secret",
    "password",
    "sig",
    "signature",
];

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&name.as_str()) || name.ends_with("_key") || name.ends_with("token")
}

/// True when `s` holds a URL with credentials: `user:pass@` before the host, or a query
/// parameter such as `api_key=` (see [`redact_url`]).
pub fn has_url_credentials(s: &str) -> bool {
    redact_url(s) != s
}

/// `s` with the credentials of any URL in it replaced by `***`: the user info before the host
/// (`https://***@host/`) and the values of query parameters named like keys, tokens,
/// passwords or signatures (`?api_key=***`). Everything else is kept.
pub fn redact_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or whitespace.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(i) => {
                out.push_str("***");
                out.push_str(&authority[i..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
        // Path and query, up to the fragment or whitespace.
        let url_end = rest
            .find(|c: char| c.is_whitespace() || c == '#')
            .unwrap_or(rest.len());
        let (url_rest, after) = rest.split_at(url_end);
        match url_rest.find('?') {
            Some(q) => {
                out.push_str(&url_rest[..=q]);
                let params: Vec<String> = url_rest[q + 1..]
                    .split('&')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
                        _ => kv.to_owned(),
                    })
                    .collect();
                out.push_str(&params.join("&"));
            }
            None => out.push_str(url_rest),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Redacts the audit log for a forget: every record that retrieved or cited a passage for
/// which `forgotten(path, chunk_id)` holds gets the paths in [`AuditRecord::forgotten`], its
/// citations of them a reason saying so, and the sentences of its answer that cite them (and,
/// when such a passage was among its sources, every uncited sentence, which may paraphrase it)
/// replaced with `[forgotten: PATH]`; the conversation's copy of the answer likewise. The
/// question, the user's own words, is kept. Returns how many records were redacted.
pub(crate) fn redact_forgotten(
    conn: &Connection,
    forgotten: &dyn Fn(&std::path::Path, i64) -> bool,
) -> Result<usize> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = conn.prepare("SELECT id, record FROM audit ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut redacted = 0;
    for (id, json) in rows {
        let Ok(mut rec) = parse_record(id, &json) else {
            continue;
        };
        if !redact_record(&mut rec, forgotten) {
            continue;
        }
        let json = serde_json::to_string(&rec).map_err(|e| Error::Invalid(e.to_string()))?;
        conn.execute(
            "UPDATE audit SET answer = ?2, record = ?3 WHERE id = ?1",
            params![id, rec.answer, json],
        )?;
        conn.execute(
            "UPDATE messages SET content = ?2 WHERE audit_id = ?1 AND role = 'assistant'",
            params![id, rec.answer],
        )?;
        redacted += 1;
    }
    Ok(redacted)
}

fn marker(path: &std::path::Path) -> String {
    format!("[forgotten: {}]", path.display())
}

/// See [`redact_forgotten`]; false when the record drew on nothing forgotten.
pub(crate) fn redact_record(
    rec: &mut AuditRecord,
    forgotten: &dyn Fn(&std::path::Path, i64) -> bool,
) -> bool {
    let mut paths: Vec<PathBuf> = Vec::new();
    // Source number -> forgotten document.
    let mut sources: Vec<(usize, PathBuf)> = Vec::new();
    for r in &rec.retrieved {
        if forgotten(&r.path, r.chunk_id) {
            if !paths.contains(&r.path) {
                paths.push(r.path.clone());
            }
            if let Some(n) = r.source {
                sources.push((n, r.path.clone()));
            }
        }
    }
    for c in &mut rec.citations {
        let (Some(path), Some(id)) = (&c.path, c.chunk_id) else {
            continue;
        };
        if forgotten(path, id) {
            if !paths.contains(path) {
                paths.push(path.clone());
            }
            sources.push((c.n, path.clone()));
            c.reason = Some("the cited document was forgotten".into());
        }
    }
    if paths.is_empty() {
        return false;
    }
    if let Some((_, first)) = sources.first() {
        let text = std::mem::take(&mut rec.answer);
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (a, b) in crate::cite::sentences(&text, true) {
            let span = &text[a..b];
            let marks = crate::cite::parse_marks(span);
            let cites_forgotten = marks
                .iter()
                .find_map(|m| sources.iter().find(|(n, _)| *n == m.n).map(|(_, p)| p));
            let uncited = marks.is_empty() && !crate::cite::strip_marks(span).trim().is_empty();
            out.push_str(&text[last..a]);
            match cites_forgotten {
                Some(p) => out.push_str(&marker(p)),
                None if uncited => out.push_str(&marker(first)),
                None => out.push_str(span),
            }
            last = b;
        }
        out.push_str(&text[last..]);
        rec.answer = out;
        for u in &mut rec.uncited {
            *u = marker(first);
        }
    }
    rec.forgotten = paths;
    true
}
