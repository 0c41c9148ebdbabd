//! `cairn mcp`: serves the knowledge base to MCP clients (AI assistants, editors) over stdio.
//!
//! Tools: `search`, `list_sources`, `read_source`, `status` and `ask`, all read-only. Each call
//! takes a read-only [`Engine`](cairn_core::engine::Engine) from a small pool (an `Engine` is not
//! `Sync`), or opens one, so a long `ask` never holds up a `search`; the engines share one
//! ONNX session, and one whose catalog's vector generation moved is reopened, so results follow
//! a concurrent `cairn index`. Every engine call runs on tokio's blocking pool (`spawn_blocking`): blocking
//! work never runs on the async runtime's threads. Errors come back as MCP tool errors carrying
//! the message and what to do about it. stdout carries the protocol only; logs go to stderr.
//!
//! This module runs the server and registers the tools; their parameter and result types are in
//! [`schema`], the engine pool in [`pool`], what the tools do in [`tools`] and [`answer`].

mod answer;
mod pool;
mod schema;
mod tools;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::config::Config;
use cairn_core::engine::Engine;
use cairn_core::Error;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_handler, tool_router, Json, ServerHandler, ServiceExt};

use pool::Shared;
use schema::{
    AskParams, AskResult, ListSourcesParams, ListSourcesResult, ProblemOut, ReadSourceParams,
    ReadSourceResult, SearchParams, SearchResult, Source, StatusResult,
};
use tools::{
    current_documents, deprecation, invalid, notice, passages, read_chunk, read_document,
    resolve_folder, search_request,
};

/// Runs the MCP server on stdin/stdout until the client disconnects.
pub fn serve(data_dir: &Path, config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = CairnMcp::new(data_dir.to_owned(), config);
    let result = runtime.block_on(async move {
        // Open once up front so a broken data directory shows in the client's server log; the
        // server still starts, and each tool call reports the error with its hint.
        // Loading the embedding model now lets every engine opened later share it.
        if let Err(e) = server
            .with_engine(|engine| {
                if let Err(e) = engine.embedder() {
                    tracing::warn!("cairn mcp: semantic search is unavailable: {e}");
                }
                Ok(())
            })
            .await
        {
            tracing::warn!("cairn mcp: {e}");
        }
        tracing::info!(
            "cairn mcp: serving {} on stdio",
            server.shared.data_dir().display()
        );
        let service = server.serve(rmcp::transport::stdio_pipes()).await?;
        service.waiting().await?;
        anyhow::Ok(())
    });
    // Do not wait long for an engine call still running when the client has gone.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

#[derive(Clone)]
struct CairnMcp {
    shared: Arc<Shared>,
}

/// A tool error's text: what went wrong and what to do.
fn tool_error(e: &Error) -> String {
    let hint = match e {
        Error::Invalid(_) => "Check the tool's arguments against its input schema.",
        Error::NotFound(_) => {
            "Check the path or id; the `list_sources` and `status` tools list what Cairn knows."
        }
        e => crate::hints::hint(e),
    };
    format!("{e}\nWhat to do: {hint}")
}

impl CairnMcp {
    fn new(data_dir: PathBuf, config: Config) -> CairnMcp {
        CairnMcp {
            shared: Arc::new(Shared::new(data_dir, config)),
        }
    }

    /// Runs `f` with the engine on the blocking pool.
    async fn with_engine<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&mut Engine) -> cairn_core::Result<T> + Send + 'static,
    {
        self.with_shared(move |_, engine| f(engine)).await
    }

    /// Runs `f` with the shared state and the engine on the blocking pool.
    async fn with_shared<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&Shared, &mut Engine) -> cairn_core::Result<T> + Send + 'static,
    {
        let shared = self.shared.clone();
        let job = tokio::task::spawn_blocking(move || {
            let mut engine = shared.pool.checkout()?;
            let result = f(&shared, &mut engine);
            drop(engine);
            result
        });
        match job.await {
            Ok(result) => result.map_err(|e| tool_error(&e)),
            Err(e) => Err(format!(
                "internal error: {e}\nWhat to do: retry; if it persists, report a bug (the server log on stderr has details)."
            )),
        }
    }
}

#[tool_router]
impl CairnMcp {
    #[tool(
        description = "Search the local knowledge base. Returns ranked passages, each with its document path, page, heading path, snippet, score, chunk_id and version. Use read_source with a chunk_id to read a whole passage.",
        annotations(title = "Search", read_only_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Parameters(p): Parameters<SearchParams>,
    ) -> Result<Json<SearchResult>, String> {
        self.with_engine(move |engine| {
            let req = search_request(engine, &p)?;
            let resp = engine.search(&req)?;
            Ok(Json(SearchResult {
                mode: resp.mode.as_str().to_owned(),
                results: passages(&resp),
                embedded_passages: resp.embedded_chunks,
                total_passages: resp.total_chunks,
                notice: notice(&resp),
            }))
        })
        .await
    }

    #[tool(
        description = "List the indexed documents (current versions), in path order: path, file type, version, number of passages, title, and a deprecation note when deprecated. Optional folder filter; paged with limit/offset.",
        annotations(title = "List sources", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_sources(
        &self,
        Parameters(p): Parameters<ListSourcesParams>,
    ) -> Result<Json<ListSourcesResult>, String> {
        self.with_engine(move |engine| {
            let folder = p
                .folder
                .as_deref()
                .map(|f| resolve_folder(engine, f))
                .transpose()?;
            let docs = current_documents(engine, folder.as_deref())?;
            let marks = engine.catalog().marks()?;
            let limit = p.limit.unwrap_or(100).clamp(1, 1000) as usize;
            let offset = p.offset.unwrap_or(0) as usize;
            let total = docs.len();
            let sources = docs
                .iter()
                .skip(offset)
                .take(limit)
                .map(|(path, chunks)| {
                    let c = &chunks[0];
                    Source {
                        path: cairn_core::paths::escaped(path),
                        kind: c.kind.clone(),
                        version: c.version_seq,
                        passages: chunks.len(),
                        title: c.title.clone(),
                        deprecated: deprecation(&marks, path),
                    }
                })
                .collect::<Vec<_>>();
            Ok(Json(ListSourcesResult {
                truncated: offset + sources.len() < total,
                sources,
                total,
                offset,
            }))
        })
        .await
    }

    #[tool(
        description = "Read from the knowledge base: give a chunk_id (from search) to get that passage's full text (passages of older versions only with include_history=true), or a document path to get its passages in order (long documents are truncated at max_chars, with a note on how to continue). Each passage comes with its page, heading path and byte span in the document's extracted text.",
        annotations(title = "Read source", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_source(
        &self,
        Parameters(p): Parameters<ReadSourceParams>,
    ) -> Result<Json<ReadSourceResult>, String> {
        self.with_engine(move |engine| {
            match (p.chunk_id, p.path.as_deref()) {
                (Some(id), None) => read_chunk(engine, id, p.include_history.unwrap_or(false)),
                (None, Some(path)) => {
                    let max_chars = p.max_chars.unwrap_or(12_000).clamp(1, 100_000);
                    read_document(
                        engine,
                        path,
                        p.start.unwrap_or(0) as usize,
                        max_chars as usize,
                    )
                }
                _ => Err(invalid("give exactly one of `path` or `chunk_id`")),
            }
            .map(Json)
        })
        .await
    }

    #[tool(
        description = "Status of the knowledge base: registered folders, document and passage counts, how much is embedded for semantic search, index sizes, and files that could not be indexed (problems).",
        annotations(title = "Status", read_only_hint = true, open_world_hint = false)
    )]
    async fn status(&self) -> Result<Json<StatusResult>, String> {
        self.with_engine(|engine| {
            let s = engine.status()?;
            let st = &s.stats;
            Ok(Json(StatusResult {
                data_dir: s.data_dir.display().to_string(),
                folders: s
                    .folders
                    .iter()
                    .map(|f| cairn_core::paths::escaped(f))
                    .collect(),
                documents: st.current_documents,
                versions: st.versions,
                passages: st.current_chunks,
                embedded_passages: st.embedded_chunks,
                embedded_fraction: if st.current_chunks == 0 {
                    0.0
                } else {
                    st.embedded_chunks as f64 / st.current_chunks as f64
                },
                embed_backlog: s.embed_backlog,
                model: s.model_id.clone(),
                text_index_passages: s.text_index_chunks,
                vector_index_passages: s.vector_index_chunks,
                deprecations: s.deprecations.len(),
                conflicts: s.conflicts.len(),
                problems_total: s.problems.len(),
                problems: s
                    .problems
                    .iter()
                    .take(100)
                    .map(|p| ProblemOut {
                        path: cairn_core::paths::escaped(&p.path),
                        reason: p.reason.clone(),
                    })
                    .collect(),
            }))
        })
        .await
    }

    #[tool(
        description = "Answer a question from the knowledge base, citing sources: the answer carries [n] markers that refer to the returned sources (path, page, heading, chunk_id), and every citation is checked against its passage (see each source's verdict and unsupported_sentences). Written by the configured language model, or extractive (sentences quoted verbatim) when none is available; says \"I don't know\" with the nearest passages when the knowledge base holds no good evidence.",
        annotations(title = "Ask", read_only_hint = true, open_world_hint = false)
    )]
    async fn ask(&self, Parameters(p): Parameters<AskParams>) -> Result<Json<AskResult>, String> {
        self.with_shared(move |shared, engine| answer::answer(shared, engine, p).map(Json))
            .await
    }
}

#[tool_handler(
    name = "cairn",
    instructions = "Cairn is the user's local knowledge base: their own documents (PDF, Word, HTML, Markdown, text), indexed on this machine. Use `search` to find passages, `read_source` to read a passage (by chunk_id) or a document (by path), `list_sources` to see what is indexed, `status` for coverage and problems, and `ask` for a short cited answer. Cite passages by path (and page) when you use them."
)]
impl ServerHandler for CairnMcp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_objects_with_described_fields() {
        let tools = CairnMcp::tool_router().list_all();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        for want in ["search", "list_sources", "read_source", "status", "ask"] {
            assert!(names.contains(&want), "{names:?}");
        }
        let search = tools.iter().find(|t| t.name == "search").unwrap();
        let schema = serde_json::Value::Object((*search.input_schema).clone());
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], serde_json::json!(["query"]));
        assert!(schema["properties"]["type"]["description"]
            .as_str()
            .unwrap()
            .contains("pdf"));
        assert!(search.output_schema.is_some());
    }
}
