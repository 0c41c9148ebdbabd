//! Retrieval for an answer and the evidence measured on it: the `retrieve` and `abstain` steps
//! of [`Engine::ask`](crate::engine::Engine::ask), also used by `cairn eval --abstention`.

use serde::Serialize;

use crate::catalog::Filters;
use crate::catalog::{ChunkId, Generation};
use crate::config::SearchMode;
use crate::engine::{assemble_hits, combine_hits as combine, Engine, SearchHit, SearchRequest};
use crate::error::{Error, Result};

/// Passages retrieved for a question, and the evidence measured on them.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieved {
    pub hits: Vec<SearchHit>,
    pub evidence: crate::answer::abstain::Evidence,
    pub notice: Option<String>,
}

impl Engine {
    /// Retrieves up to `limit` passages for `query` (the configured search mode, with
    /// `filters`) and measures the abstention evidence on them (see
    /// [`crate::answer::abstain`]). This is the exact decision `ask` and
    /// `cairn eval --abstention` use.
    pub fn retrieve_with_evidence(
        &mut self,
        query: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Retrieved> {
        use crate::answer::abstain::{coverage, Evidence};
        if query.trim().is_empty() {
            return Err(Error::Invalid("the question is empty".into()));
        }
        if !self.writable {
            self.text.refresh()?;
        }
        let mut req = SearchRequest::new(query, &self.config);
        req.filters = filters.clone();
        let rerank = &self.config.rerank;
        // The reranker reorders the fused top `top_k`, so that many are assembled.
        req.limit = if rerank.enabled() {
            limit.max(rerank.top_k)
        } else {
            limit
        }
        .max(1);
        let marks = self.catalog.marks()?;
        let filter = self.catalog.chunk_filter(&req.filters, &marks)?;
        let bm25 = match req.mode {
            SearchMode::Dense => Vec::new(),
            _ => self.text.search(query, req.candidates, &filter)?,
        };
        let mut notice = None;
        // Dense scores are the evidence, so they are computed whatever the ranking mode.
        let dense = match self.dense(&req, &filter) {
            Ok(h) => h,
            Err(Error::Model(m)) if req.mode != SearchMode::Dense => {
                notice = Some(format!(
                    "semantic search unavailable ({m}); keyword evidence only"
                ));
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let head: Vec<ChunkId> = dense.iter().take(8).map(|h| h.chunk).collect();
        let current = self.catalog.current_chunks(&head)?;
        let dense_top1 = dense
            .iter()
            .take(8)
            .find(|h| current.contains_key(&h.chunk))
            .map(|h| h.score);
        let fused = combine(&req, bm25, dense);
        let ids: Vec<ChunkId> = fused.iter().map(|h| h.chunk).collect();
        let records = self.catalog.current_chunks(&ids)?;
        let mut hits = assemble_hits(&fused, &records, &marks, &req);
        self.rerank(query, &mut hits)?;
        hits.truncate(limit.max(1));
        let texts: Vec<String> = hits
            .iter()
            .take(3)
            .map(|h| {
                format!(
                    "{} {} {}",
                    h.title.as_deref().unwrap_or(""),
                    h.heading.join(" "),
                    h.text
                )
            })
            .collect();
        let cov = coverage(query, texts.iter().map(String::as_str));
        let calibration = match dense_top1 {
            Some(_) => self.abstention_calibration()?,
            None => None,
        };
        let evidence = Evidence::decide(
            dense_top1,
            calibration.as_ref(),
            cov,
            !hits.is_empty(),
            self.config.answer.abstain_threshold,
        );
        Ok(Retrieved {
            hits,
            evidence,
            notice,
        })
    }

    /// The reranker step (see [`crate::rerank`]): the first `rerank.top_k` hits reordered
    /// by the cross-encoder's score for `query`. Nothing when no reranker is configured.
    fn rerank(&self, query: &str, hits: &mut Vec<SearchHit>) -> Result<()> {
        let cfg = &self.config.rerank;
        let Some(model) = crate::rerank::CrossEncoder::shared(cfg, &self.config.embedding)? else {
            return Ok(());
        };
        let texts: Vec<&str> = hits
            .iter()
            .take(cfg.top_k)
            .map(|h| h.text.as_str())
            .collect();
        let scores = model.score(query, &texts)?;
        crate::rerank::reorder(hits, &scores);
        Ok(())
    }

    /// The collection's calibration of the abstention signal: cached, recomputed when the
    /// embedded collection changed size by more than 10% (about a second per 100 samples).
    /// None when there are no vectors.
    pub fn abstention_calibration(
        &mut self,
    ) -> Result<Option<crate::answer::abstain::Calibration>> {
        use crate::answer::abstain::{self, Calibration};
        let model = self.model_id().to_owned();
        let passages = self.vectors()?.len();
        if passages == 0 {
            return Ok(None);
        }
        if let Some(c) = self.catalog.calibration(&model)? {
            if c.is_fresh(&model, passages) {
                return Ok(Some(c));
            }
        }
        let samples = self.config.answer.calibration_samples;
        let scores = self.pseudo_query_scores(samples, &abstain::pseudo_query)?;
        if scores.is_empty() {
            return Ok(None);
        }
        let generation = self.catalog.generation(Generation::Vector)?;
        let c = Calibration::new(&model, generation, passages, scores);
        if let Err(e) = self.catalog.store_calibration(&c) {
            tracing::warn!("cannot cache the abstention calibration: {e}");
        }
        Ok(Some(c))
    }

    /// For each pseudo-query `make` builds from up to `samples` current embedded passages spread
    /// evenly over the collection: the best dense score it reaches, and the best score of a
    /// passage other than the one it was made from (None when the collection has one passage).
    pub fn pseudo_query_scores(
        &mut self,
        samples: usize,
        make: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(f32, Option<f32>)>> {
        let ids: Vec<ChunkId> = self.catalog.embedded_current_chunks(self.model_id())?;
        if ids.is_empty() || samples == 0 {
            return Ok(Vec::new());
        }
        let n = samples.min(ids.len());
        let picked: Vec<ChunkId> = (0..n).map(|i| ids[i * ids.len() / n]).collect();
        let records = self.catalog.current_chunks(&picked)?;
        let embedder = self.embedder()?;
        let mut scores = Vec::with_capacity(n);
        for id in &picked {
            let Some(q) = records.get(id).and_then(|r| make(&r.text)) else {
                continue;
            };
            let v = embedder.embed_query(&q)?;
            let hits = self
                .vectors()?
                .search(&v, 4, &crate::catalog::ChunkFilter::All)?;
            if let Some(h) = hits.first() {
                let other = hits.iter().find(|o| o.chunk != *id).map(|o| o.score);
                scores.push((h.score, other));
            }
        }
        Ok(scores)
    }
}
