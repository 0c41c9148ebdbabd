//! Search: BM25 and dense retrieval over the derived indexes, fusion, past states scored from
//! the catalog, and assembling ranked passages (every hit re-checked against the catalog).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Engine;
use crate::catalog::{ChunkId, ChunkRecord, Filters};
use crate::config::{Config, Fusion, SearchMode};
use crate::error::{Error, Result};
use crate::retrieve::{self, SearchHit};
use crate::store::{embedded, Hit};

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub mode: SearchMode,
    pub limit: usize,
    pub filters: Filters,
    pub fusion: Fusion,
    pub alpha: f32,
    pub rrf_k: f32,
    /// Candidates taken from each retriever.
    pub candidates: usize,
    /// Which state of the collection to search.
    pub state: SearchState,
}

/// Which versions a search sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchState {
    /// Current versions only (the default).
    #[default]
    Current,
    /// The versions that were current at this Unix time.
    AsOf(i64),
    /// Every version ever recorded, labelled with its status.
    History,
}

impl SearchRequest {
    /// A request with the configured defaults.
    pub fn new(query: impl Into<String>, config: &Config) -> SearchRequest {
        let s = &config.search;
        SearchRequest {
            query: query.into(),
            mode: s.mode,
            limit: s.limit,
            filters: Filters::default(),
            fusion: s.fusion,
            alpha: s.alpha,
            rrf_k: s.rrf_k,
            candidates: s.candidates,
            state: SearchState::Current,
        }
    }
}

/// Search results and how complete the semantic side was.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
    pub mode: SearchMode,
    pub embedded_chunks: u64,
    pub total_chunks: u64,
    /// Set when the results are less than asked for (e.g. embeddings still in progress).
    pub notice: Option<String>,
}

impl Engine {
    /// Every document with its latest version (the desktop app's library list).
    pub fn documents(&self) -> Result<Vec<crate::catalog::DocumentRow>> {
        self.catalog.documents()
    }

    /// Ranked chunk ids for a request, before results are assembled (used by eval too).
    pub fn retrieve(&mut self, req: &SearchRequest) -> Result<(Vec<Hit>, Option<String>)> {
        if req.state != SearchState::Current {
            return self.retrieve_past(req);
        }
        let marks = self.catalog.marks()?;
        let filter = self.catalog.chunk_filter(&req.filters, &marks)?;
        let mut notice = None;
        let bm25 = match req.mode {
            SearchMode::Bm25 | SearchMode::Hybrid => {
                self.text.search(&req.query, req.candidates, &filter)?
            }
            SearchMode::Dense => Vec::new(),
        };
        let dense = match req.mode {
            SearchMode::Dense | SearchMode::Hybrid => match self.dense(req, &filter) {
                Ok(h) => h,
                Err(Error::Model(m)) if req.mode == SearchMode::Hybrid => {
                    notice = Some(format!(
                        "semantic search unavailable ({m}); showing keyword results only"
                    ));
                    Vec::new()
                }
                Err(e) => return Err(e),
            },
            SearchMode::Bm25 => Vec::new(),
        };
        Ok((combine(req, bm25, dense), notice))
    }

    /// Searches a past state (or all history): the derived indexes hold current passages
    /// only, so the passages of that state are scored on the fly from the catalog.
    pub(crate) fn retrieve_past(
        &mut self,
        req: &SearchRequest,
    ) -> Result<(Vec<Hit>, Option<String>)> {
        let at = match req.state {
            SearchState::AsOf(t) => Some(t),
            _ => None,
        };
        if req.filters.filters_mail() {
            return Err(Error::Invalid(
                "filtering mail by sender or date works on the current state only, not with a \
                 past state or history"
                    .into(),
            ));
        }
        let marks = self.catalog.marks()?;
        let records: Vec<ChunkRecord> = self
            .catalog
            .chunks_of_state(at)?
            .into_iter()
            .filter(|r| req.filters.admits(&r.path, &r.kind, r.mtime, &marks))
            .filter(|r| req.filters.include_deprecated || marks.deprecation(&r.path).is_none())
            .collect();
        let mut bm25 = Vec::new();
        if matches!(req.mode, SearchMode::Bm25 | SearchMode::Hybrid) {
            let mut text = embedded::scratch_keyword()?;
            for r in &records {
                text.add(r)?;
            }
            text.commit(0)?;
            bm25 = text.search(
                &req.query,
                req.candidates,
                &crate::catalog::ChunkFilter::All,
            )?;
        }
        let mut dense = Vec::new();
        let mut notice = None;
        if matches!(req.mode, SearchMode::Dense | SearchMode::Hybrid) {
            match self.embedder().and_then(|e| e.embed_query(&req.query)) {
                Ok(q) => {
                    let ids: Vec<ChunkId> = records.iter().map(|r| r.id).collect();
                    let model = self.model_id().to_owned();
                    let mut scored: Vec<Hit> = self
                        .catalog
                        .cached_vectors(&model, &ids)?
                        .into_iter()
                        .map(|(id, v)| Hit {
                            chunk: id,
                            score: v.iter().zip(&q).map(|(a, b)| a * b).sum(),
                        })
                        .collect();
                    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
                    scored.truncate(req.candidates);
                    dense = scored;
                }
                Err(e) if req.mode == SearchMode::Hybrid => {
                    notice = Some(format!("semantic search unavailable ({e})"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((combine(req, bm25, dense), notice))
    }

    pub(crate) fn dense(
        &mut self,
        req: &SearchRequest,
        filter: &crate::catalog::ChunkFilter,
    ) -> Result<Vec<Hit>> {
        if self.vectors()?.is_empty() {
            return Ok(Vec::new());
        }
        let embedder = self.embedder()?;
        let q = embedder.embed_query(&req.query)?;
        self.vectors()?.search(&q, req.candidates, filter)
    }

    /// Searches and assembles ranked passages with snippets.
    pub fn search(&mut self, req: &SearchRequest) -> Result<SearchResponse> {
        if req.query.trim().is_empty() {
            return Err(Error::Invalid("the search query is empty".into()));
        }
        if !self.writable {
            self.text.refresh()?;
        }
        let (hits, mut notice) = self.retrieve(req)?;
        let ids: Vec<ChunkId> = hits.iter().map(|h| h.chunk).collect();
        let records = match req.state {
            SearchState::Current => self.catalog.current_chunks(&ids)?,
            _ => self.catalog.chunk_records(&ids)?,
        };
        let marks = self.catalog.marks()?;
        let results = assemble_hits(&hits, &records, &marks, req);
        // Counted without probing the embeddings table, which costs ~0.25 s at 20k passages.
        let total = self.catalog.current_chunk_count()?;
        if req.mode != SearchMode::Bm25 && notice.is_none() {
            let embedded = self.vectors()?.len();
            if embedded < total {
                notice = Some(format!(
                    "semantic index covers {embedded} of {total} passages ({:.0}%); embedding continues with `cairn index`",
                    100.0 * embedded as f64 / total.max(1) as f64
                ));
            }
        }
        Ok(SearchResponse {
            results,
            mode: req.mode,
            embedded_chunks: self.vectors.as_ref().map_or(0, |v| v.len()),
            total_chunks: total,
            notice,
        })
    }

    /// Paths of the documents the given chunks belong to (current chunks only).
    pub fn chunk_paths(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, PathBuf>> {
        Ok(self
            .catalog
            .current_chunks(ids)?
            .into_iter()
            .map(|(id, r)| (id, r.path))
            .collect())
    }
}

/// Ranked hits → passages with snippets, in order, at most `req.limit`. Deprecated documents are
/// dropped unless asked for (re-checked here so a lagging index can never leak them) and
/// labelled otherwise.
pub(crate) fn assemble_hits(
    hits: &[Hit],
    records: &HashMap<ChunkId, ChunkRecord>,
    marks: &crate::catalog::Marks,
    req: &SearchRequest,
) -> Vec<SearchHit> {
    hits.iter()
        .filter_map(|h| records.get(&h.chunk).map(|r| (h, r)))
        .filter_map(|(h, r)| {
            let deprecated = marks.deprecation(&r.path).cloned();
            if deprecated.is_some() && !req.filters.include_deprecated {
                return None;
            }
            let mut hit = to_hit(h, r, &req.query);
            hit.deprecated = deprecated;
            Some(hit)
        })
        .take(req.limit)
        .collect()
}

fn to_hit(h: &Hit, r: &ChunkRecord, query: &str) -> SearchHit {
    SearchHit {
        chunk_id: r.id,
        path: r.path.clone(),
        page: r.page,
        heading: r.heading_path.clone(),
        snippet: retrieve::snippet(&r.text, query, 240),
        score: h.score,
        version: r.version_seq,
        kind: r.kind.clone(),
        title: r.title.clone(),
        byte_start: r.start,
        byte_end: r.end,
        text: r.text.clone(),
        status: r.status.clone(),
        deprecated: None,
    }
}

pub(crate) fn combine(req: &SearchRequest, bm25: Vec<Hit>, dense: Vec<Hit>) -> Vec<Hit> {
    match req.mode {
        SearchMode::Bm25 => bm25,
        SearchMode::Dense => dense,
        SearchMode::Hybrid if dense.is_empty() => bm25,
        SearchMode::Hybrid => retrieve::fuse(&bm25, &dense, req.fusion, req.alpha, req.rrf_k),
    }
}
