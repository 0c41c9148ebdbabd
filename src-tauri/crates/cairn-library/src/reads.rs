//! Reads, served from read-only engines so they stay quick while the writer indexes: search,
//! contents, folder previews, history, answers (on their own engine, so a long answer never
//! holds up a search), conversations and the audit log. Engines come from cairn-core's
//! `ReaderPool`, which reopens an engine the writer has moved past.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cairn_core::answer::{AnswerMode, AskRequest, Generator};
use cairn_core::audit::{AuditId, MessageRole, SessionId};
use cairn_core::catalog::ChunkId;
use cairn_core::config::{Config, SearchMode};
use cairn_core::engine::{Engine, ReaderPool, SearchRequest};
use cairn_core::stop::StopToken;
use cairn_core::{Error, Result};

use crate::convert::{answer_view, audit_detail, document_item, filters, search_item};
use crate::error::ErrorInfo;
use crate::views::*;
use crate::{lock, millis, Library};

impl Library {
    /// The reader pool (once the library is open).
    pub(crate) fn readers(&self) -> Result<Arc<ReaderPool>, ErrorInfo> {
        self.wait_open()?;
        lock(&self.inner.readers)
            .clone()
            .ok_or_else(|| ErrorInfo::internal("the library has no readers"))
    }

    /// Runs `f` on a read-only engine from the pool (one the writer has not moved past).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Engine) -> Result<T>) -> Result<T, ErrorInfo> {
        let pool = self.readers()?;
        let mut engine = pool.checkout()?;
        Ok(f(&mut engine)?)
    }

    /// Ranked passages for a query.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, ErrorInfo> {
        let started = Instant::now();
        self.read(|engine| {
            let mut req = SearchRequest::new(q.query.clone(), engine.config());
            req.mode = match q.mode.as_deref() {
                None | Some("") | Some("hybrid") => req.mode,
                Some("keyword") | Some("bm25") => SearchMode::Bm25,
                Some("semantic") | Some("dense") => SearchMode::Dense,
                Some(other) => {
                    return Err(Error::Invalid(format!(
                        "unknown search mode `{other}` (hybrid, keyword or semantic)"
                    )))
                }
            };
            if let Some(limit) = q.limit {
                req.limit = (limit as usize).clamp(1, 200);
            }
            req.filters = filters(&q.kinds, &q.folders, &q.tags, q.include_deprecated);
            req.filters.mail_from = q
                .mail_from
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            // The writer may be merging segments at this moment: one retry hides that race.
            let resp = match engine.search(&req) {
                Err(Error::TextIndex(e)) => {
                    tracing::debug!("search retried after a text index error: {e}");
                    engine.search(&req)?
                }
                other => other?,
            };
            Ok(SearchResults {
                query: q.query.clone(),
                items: resp.results.iter().map(search_item).collect(),
                total_passages: resp.total_chunks as u32,
                embedded_passages: resp.embedded_chunks as u32,
                notice: resp
                    .notice
                    .map(|n| n.replace("with `cairn index`", "in the background")),
                took_ms: millis(started.elapsed()),
            })
        })
    }

    /// Folders, documents (with deprecation and tags), problems and conflicts.
    pub fn contents(&self) -> Result<LibraryContents, ErrorInfo> {
        self.read(|engine| {
            let catalog = engine.catalog();
            let marks = catalog.marks()?;
            let documents = catalog
                .documents()?
                .into_iter()
                .map(|d| document_item(d, &marks))
                .collect();
            let problems = catalog.problems()?;
            Ok(LibraryContents {
                folders: catalog
                    .folders()?
                    .into_iter()
                    .map(|f| cairn_core::paths::escaped(&f.path))
                    .collect(),
                documents,
                ocr_available: cairn_core::parse::ocr::available(),
                ocr_waiting: problems
                    .iter()
                    .filter(|p| cairn_core::parse::ocr::waits_for_ocr(&p.reason))
                    .count() as u32,
                problems: problems
                    .into_iter()
                    .map(|p| ProblemItem {
                        path: cairn_core::paths::escaped(&p.path),
                        reason: p.reason,
                        at: p.at,
                    })
                    .collect(),
                conflicts: catalog
                    .conflicts()?
                    .into_iter()
                    .take(50)
                    .map(|c| ConflictItem {
                        path_a: cairn_core::paths::escaped(&c.path_a),
                        path_b: cairn_core::paths::escaped(&c.path_b),
                        text_a: c.text_a,
                        text_b: c.text_b,
                        similarity: c.similarity,
                    })
                    .collect(),
            })
        })
    }

    /// What adding `folder` would index.
    pub fn preview_folder(&self, folder: &Path) -> Result<FolderPreview, ErrorInfo> {
        Ok(preview_folder(folder, &self.config())?)
    }

    /// The versions of a document, oldest first.
    pub fn history(&self, path: &Path) -> Result<Vec<VersionItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.history(path)?
                .into_iter()
                .map(VersionItem::from)
                .collect())
        })
    }

    /// True when `path` is a current document of the library (the only files "Open" opens).
    pub fn is_current_document(&self, path: &Path) -> Result<bool, ErrorInfo> {
        self.read(|e| e.is_current_document(path))
    }

    /// Answers a question (see [`Engine::ask`]); tokens stream to `on_token`. Runs on its own
    /// read-only engine so searches stay quick while a model writes.
    pub fn ask(
        &self,
        input: &AskInput,
        generator: Option<&dyn Generator>,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<AnswerView, ErrorInfo> {
        self.wait_open()?;
        let mode = match input.mode.as_str() {
            "generative" => AnswerMode::Generative,
            "extractive" => AnswerMode::Extractive,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown answer mode `{other}` (generative or extractive)"
                ))
                .into())
            }
        };
        let mut req = AskRequest::new(input.question.clone(), mode);
        req.session = input.session.map(SessionId);
        req.filters = filters(&input.kinds, &input.folders, &[], false);
        // Its own engine from the pool, so searches stay quick while a model writes.
        let pool = self.readers()?;
        let mut asker = pool.checkout()?;
        if req.session.is_none() {
            // Every question starts or continues a conversation the user can come back to.
            let title: String = input.question.trim().chars().take(80).collect();
            req.session = Some(asker.records().new_session(&title)?);
        }
        let answer = asker.ask(&req, generator, cancel, on_token)?;
        Ok(answer_view(answer))
    }

    /// The text just before and after a passage (a citation shown in context).
    pub fn passage_context(&self, chunk_id: i64) -> Result<PassageContext, ErrorInfo> {
        self.read(|e| {
            let (before, after) = e.catalog().neighbours(ChunkId(chunk_id))?;
            Ok(PassageContext { before, after })
        })
    }

    pub fn sessions(&self) -> Result<Vec<SessionItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.records()
                .sessions()?
                .into_iter()
                .map(|s| SessionItem {
                    id: s.id.0,
                    title: s.title,
                    created_at: s.created_at,
                    messages: s.messages as u32,
                })
                .collect())
        })
    }

    pub fn session_messages(&self, id: i64) -> Result<Vec<MessageItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.records()
                .session_messages(SessionId(id))?
                .into_iter()
                .map(|m| MessageItem {
                    role: match m.role {
                        MessageRole::User => "user".into(),
                        MessageRole::Assistant => "assistant".into(),
                    },
                    content: m.content,
                    audit_id: m.audit_id.map(|a| a.0),
                    created_at: m.created_at,
                })
                .collect())
        })
    }

    pub fn audit_list(&self, limit: u32) -> Result<Vec<AuditItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.records()
                .audit_list(limit as usize)?
                .into_iter()
                .map(|a| AuditItem {
                    id: a.id.0,
                    at: a.at,
                    question: a.question,
                    mode: a.mode,
                    abstained: a.abstained,
                    model_id: a.model_id,
                    template_version: a.template_version,
                    error: a.error,
                })
                .collect())
        })
    }

    pub fn audit_detail(&self, id: i64) -> Result<AuditDetail, ErrorInfo> {
        self.read(|e| Ok(audit_detail(e.records().audit_record(AuditId(id))?)))
    }

    /// Writes the whole audit log as JSON to `dest` (a file), or to
    /// `<data dir>/exports/audit-<time>.json`; returns the file written.
    pub fn audit_export(&self, dest: Option<PathBuf>) -> Result<PathBuf, ErrorInfo> {
        let records = self.read(|e| e.records().audit_export())?;
        let path = dest.unwrap_or_else(|| {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            self.inner
                .options
                .data_dir
                .join("exports")
                .join(format!("audit-{stamp}.json"))
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        }
        let json = serde_json::to_vec_pretty(&records)
            .map_err(|e| ErrorInfo::internal(format!("writing the audit log as JSON: {e}")))?;
        std::fs::write(&path, json).map_err(|e| Error::io("writing", &path, e))?;
        Ok(path)
    }
}

/// Scans `folder` with the ingest rules of `config` and counts what would be indexed (reads
/// the first bytes of each file to detect its type; parses nothing).
pub fn preview_folder(folder: &Path, config: &Config) -> Result<FolderPreview> {
    use std::io::Read;
    let abs = folder
        .canonicalize()
        .map_err(|e| Error::io("opening folder", folder, e))?;
    let scan = cairn_core::watch::scan(&abs, &config.ingest, &[])?;
    let mut kinds: std::collections::BTreeMap<&'static str, u32> = Default::default();
    let (mut files, mut bytes, mut unsupported) = (0u32, 0u64, 0u32);
    for f in &scan.files {
        let mut head = Vec::with_capacity(4096);
        if let Ok(file) = std::fs::File::open(&f.path) {
            let _ = file.take(4096).read_to_end(&mut head);
        }
        match cairn_core::parse::detect(&f.path, &head) {
            Some(kind) => {
                *kinds.entry(kind.as_str()).or_default() += 1;
                files += 1;
                bytes += f.size;
            }
            None => unsupported += 1,
        }
    }
    let mut kinds: Vec<KindCount> = kinds
        .into_iter()
        .map(|(kind, files)| KindCount {
            kind: kind.into(),
            files,
        })
        .collect();
    kinds.sort_by(|a, b| b.files.cmp(&a.files).then(a.kind.cmp(&b.kind)));
    Ok(FolderPreview {
        path: cairn_core::paths::escaped(&abs),
        kinds,
        files,
        bytes,
        unsupported,
        problems: scan
            .problems
            .into_iter()
            .take(20)
            .map(|(path, reason)| ProblemItem {
                path: cairn_core::paths::escaped(&path),
                reason,
                at: 0,
            })
            .collect(),
    })
}
