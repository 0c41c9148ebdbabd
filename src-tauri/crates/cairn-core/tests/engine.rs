//! The engine's own tests, fast and without model files: a temporary library (in the style of
//! milli's `TempIndex`) with a small deterministic embedder and a whitespace token counter.
//! They cover indexing, versions, renames, deletes, search, curation and the reader pool; the
//! same behaviour with the real model is tested through the `cairn` binary in tests/.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_core::answer::{AnswerMode, AskRequest};
use cairn_core::config::{Config, SearchMode};
use cairn_core::embed::{HashEmbedder, TokenCounter};
use cairn_core::engine::{
    Engine, IndexReport, ReaderPool, SearchRequest, SearchResponse, SearchState, Writer,
};
use cairn_core::stop::StopToken;

const DIM: usize = 64;
const MODEL: &str = "test-hash-64";

/// A library in a temporary directory: a documents folder and a data directory.
struct TempLibrary {
    _dir: tempfile::TempDir,
    docs: PathBuf,
    data: PathBuf,
    config: Config,
}

impl TempLibrary {
    fn new() -> TempLibrary {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("docs");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&docs).unwrap();
        let mut config = Config::default();
        config.embedding.model_id = MODEL.into();
        config.embedding.dim = DIM;
        TempLibrary {
            docs: docs.canonicalize().unwrap(),
            data,
            config,
            _dir: dir,
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.docs.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn equip(&self, engine: &Engine) {
        engine.share_embedder(Arc::new(HashEmbedder::new(MODEL, DIM)));
        engine.share_token_counter(TokenCounter::whitespace());
    }

    fn writer(&self) -> Writer {
        let w = Writer::open(&self.data, self.config.clone()).unwrap();
        self.equip(&w);
        w
    }

    fn reader(&self) -> Engine {
        let r = Engine::open(&self.data, self.config.clone()).unwrap();
        self.equip(&r);
        r
    }

    /// Registers the documents folder (first time) and indexes everything.
    fn index(&self) -> IndexReport {
        let mut w = self.writer();
        if w.catalog().folders().unwrap().is_empty() {
            w.add_folder(&self.docs).unwrap();
        }
        w.index(&mut |_| {}, &StopToken::new()).unwrap()
    }

    fn search(&self, query: &str, mode: SearchMode) -> SearchResponse {
        let mut req = SearchRequest::new(query, &self.config);
        req.mode = mode;
        self.reader().search(&req).unwrap()
    }

    fn paths(&self, query: &str, mode: SearchMode) -> Vec<PathBuf> {
        self.search(query, mode)
            .results
            .into_iter()
            .map(|h| h.path)
            .collect()
    }
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn library() -> TempLibrary {
    let lib = TempLibrary::new();
    lib.write(
        "refunds.md",
        "# Refunds\n\nCustomers may return goods within fourteen days for a full refund.\n",
    );
    lib.write(
        "travel.txt",
        "Travel receipts must be submitted within thirty days of the trip.\n",
    );
    lib.write(
        "notes/garden.md",
        "# Garden\n\nTomatoes need sunlight and regular watering in summer.\n",
    );
    lib
}

#[test]
fn indexing_makes_every_file_searchable_by_keyword_and_meaning() {
    let lib = library();
    let report = lib.index();
    assert_eq!(report.files_seen, 3);
    assert_eq!(report.new_versions, 3);
    assert!(report.chunks_added >= 3);
    assert_eq!(report.chunks_embedded, report.chunks_added);
    assert_eq!(
        names(&lib.paths("fourteen days refund", SearchMode::Bm25))[0],
        "refunds.md"
    );
    assert_eq!(
        names(&lib.paths("tomatoes watering", SearchMode::Dense))[0],
        "garden.md"
    );
    let hybrid = lib.search("travel receipts", SearchMode::Hybrid);
    assert_eq!(names(&[hybrid.results[0].path.clone()]), ["travel.txt"]);
    assert_eq!(hybrid.embedded_chunks, hybrid.total_chunks);
    assert!(hybrid.notice.is_none());
}

#[test]
fn an_unchanged_rescan_parses_and_embeds_nothing() {
    let lib = library();
    lib.index();
    let again = lib.index();
    assert_eq!(again.files_unchanged, 3);
    assert_eq!(again.new_versions, 0);
    assert_eq!(again.chunks_added, 0);
    assert_eq!(again.texts_embedded, 0);
}

#[test]
fn an_edit_supersedes_the_old_text_which_only_history_finds() {
    let lib = library();
    lib.index();
    let p = lib.write(
        "refunds.md",
        "# Refunds\n\nCustomers may return goods within thirty days; vouchers replace cash.\n",
    );
    let report = lib.index();
    assert_eq!(report.new_versions, 1);
    assert!(lib.paths("fourteen", SearchMode::Bm25).is_empty());
    assert_eq!(
        names(&lib.paths("vouchers", SearchMode::Bm25)),
        ["refunds.md"]
    );

    let reader = lib.reader();
    let versions = reader.history(&p).unwrap();
    assert_eq!(versions.len(), 2);
    let mut req = SearchRequest::new("fourteen", &lib.config);
    req.mode = SearchMode::Bm25;
    req.state = SearchState::History;
    let old = lib.reader().search(&req).unwrap();
    assert_eq!(old.results.len(), 1);
    assert_eq!(old.results[0].status, "superseded");
}

#[test]
fn a_rename_moves_the_document_without_a_new_version_or_embedding() {
    let lib = library();
    lib.index();
    let from = lib.docs.join("travel.txt");
    let to = lib.docs.join("travel-policy.txt");
    std::fs::rename(&from, &to).unwrap();
    let report = lib.index();
    assert_eq!(report.renamed, 1);
    assert_eq!(report.new_versions, 0);
    assert_eq!(report.texts_embedded, 0);
    assert_eq!(
        names(&lib.paths("receipts", SearchMode::Bm25)),
        ["travel-policy.txt"]
    );
    assert_eq!(lib.reader().history(&to).unwrap().len(), 1);
}

#[test]
fn a_deleted_file_leaves_search() {
    let lib = library();
    lib.index();
    std::fs::remove_file(lib.docs.join("notes/garden.md")).unwrap();
    let report = lib.index();
    assert_eq!(report.deleted, 1);
    assert!(lib.paths("tomatoes", SearchMode::Bm25).is_empty());
    assert!(!names(&lib.paths("tomatoes sunlight", SearchMode::Dense))
        .contains(&"garden.md".to_string()));
}

#[test]
fn deprecated_documents_are_hidden_unless_asked_for_and_tags_filter() {
    let lib = library();
    lib.index();
    let refunds = lib.docs.join("refunds.md");
    {
        let mut w = lib.writer();
        w.deprecate(&refunds, None, "old policy").unwrap();
        w.tag(&lib.docs.join("notes"), &["home".to_string()])
            .unwrap();
    }
    assert!(lib.paths("refund", SearchMode::Bm25).is_empty());
    let mut req = SearchRequest::new("refund", &lib.config);
    req.mode = SearchMode::Bm25;
    req.filters.include_deprecated = true;
    let shown = lib.reader().search(&req).unwrap();
    assert!(shown.results[0].deprecated.is_some());

    let mut req = SearchRequest::new("days", &lib.config);
    req.mode = SearchMode::Bm25;
    req.filters.tags = vec!["home".into()];
    assert!(lib.reader().search(&req).unwrap().results.is_empty());
    req.query = "summer".into();
    let tagged = lib.reader().search(&req).unwrap();
    assert_eq!(names(&[tagged.results[0].path.clone()]), ["garden.md"]);

    lib.writer()
        .undeprecate(&refunds.to_string_lossy())
        .unwrap();
    assert_eq!(
        names(&lib.paths("refund", SearchMode::Bm25)),
        ["refunds.md"]
    );
}

#[test]
fn check_finds_the_library_sound_and_reindex_keeps_results() {
    let lib = library();
    lib.index();
    let report = lib.reader().check().unwrap();
    assert!(report.ok, "{:?}", report.problems);
    let before = lib.paths("watering summer", SearchMode::Hybrid);
    lib.writer().rebuild_indexes().unwrap();
    assert_eq!(lib.paths("watering summer", SearchMode::Hybrid), before);
    assert!(lib.reader().check().unwrap().ok);
}

#[test]
fn the_writer_lock_is_exclusive_and_readers_never_wait_for_it() {
    let lib = library();
    lib.index();
    let _w = lib.writer();
    assert!(matches!(
        Writer::open(&lib.data, lib.config.clone()),
        Err(cairn_core::Error::Locked(_))
    ));
    assert_eq!(
        names(&lib.paths("receipts", SearchMode::Bm25)),
        ["travel.txt"]
    );
}

#[test]
fn pooled_readers_see_what_the_writer_committed_since() {
    let lib = library();
    lib.index();
    let pool = ReaderPool::new(&lib.data, lib.config.clone());
    pool.share_embedder(Arc::new(HashEmbedder::new(MODEL, DIM)));
    let search = |q: &str, mode: SearchMode| {
        let mut req = SearchRequest::new(q, &lib.config);
        req.mode = mode;
        let mut e = pool.checkout().unwrap();
        names(
            &e.search(&req)
                .unwrap()
                .results
                .into_iter()
                .map(|h| h.path)
                .collect::<Vec<_>>(),
        )
    };
    assert!(search("beekeeping", SearchMode::Bm25).is_empty());
    lib.write(
        "bees.md",
        "# Bees\n\nBeekeeping needs a calm hive in spring.\n",
    );
    lib.index();
    assert_eq!(search("beekeeping", SearchMode::Bm25), ["bees.md"]);
    assert_eq!(
        search("beekeeping calm hive", SearchMode::Dense)[0],
        "bees.md"
    );
    assert!(pool.loaded_embedder().is_some());
}

#[test]
fn a_stopped_index_run_resumes_without_redoing_committed_work() {
    let lib = library();
    let stop = StopToken::new();
    stop.stop();
    let mut w = lib.writer();
    w.add_folder(&lib.docs).unwrap();
    let first = w.index(&mut |_| {}, &stop).unwrap();
    assert!(first.cancelled);
    drop(w);
    let second = lib.index();
    assert!(!second.cancelled);
    assert_eq!(second.new_versions, 3);
    assert_eq!(lib.reader().check().unwrap().problems, Vec::<String>::new());
}

#[test]
fn a_backlog_of_many_pages_embeds_every_passage_exactly_once() {
    let lib = TempLibrary::new();
    // 32 passages per job of the model thread and 32 jobs per page: 1,100 passages take two
    // pages, the second read only when no job is in flight.
    for i in 0..1100 {
        lib.write(
            &format!("note-{i:02}.txt"),
            &format!(
                "Note number {i} records inventory item {} in aisle {i}.\n",
                i * 7
            ),
        );
    }
    let report = lib.index();
    assert_eq!(report.chunks_added, 1100);
    assert_eq!(report.chunks_embedded, 1100);
    assert_eq!(report.texts_embedded, 1100, "a passage was embedded twice");
    let again = lib.index();
    assert_eq!(again.texts_embedded, 0);
    let hits = lib.search("inventory item 287 aisle 41", SearchMode::Hybrid);
    assert_eq!(hits.embedded_chunks, hits.total_chunks);
}

#[test]
fn a_library_embedded_with_the_legacy_default_model_keeps_it_until_moved() {
    use cairn_core::config::{DEFAULT_MODEL_ID, LEGACY_MODEL_ID};
    let lib = library();
    let legacy_model = Arc::new(HashEmbedder::new(LEGACY_MODEL_ID, DIM));
    let mut legacy = lib.config.clone();
    legacy.embedding.model_id = LEGACY_MODEL_ID.into();
    let mut w = Writer::open(&lib.data, legacy).unwrap();
    w.share_embedder(legacy_model.clone());
    w.share_token_counter(TokenCounter::whitespace());
    w.add_folder(&lib.docs).unwrap();
    let first = w.index(&mut |_| {}, &StopToken::new()).unwrap();
    assert_eq!(first.chunks_embedded, first.chunks_added);
    drop(w);

    // After an upgrade the config names the new default model: the library keeps its own.
    let mut upgraded = lib.config.clone();
    upgraded.embedding.model_id = DEFAULT_MODEL_ID.into();
    let mut reader = Engine::open(&lib.data, upgraded.clone()).unwrap();
    assert_eq!(reader.config().embedding.model_id, LEGACY_MODEL_ID);
    assert_eq!(
        reader.config().embedding.batch_size,
        32,
        "its float model runs in batches"
    );
    reader.share_embedder(Arc::new(HashEmbedder::new(DEFAULT_MODEL_ID, DIM)));
    assert!(
        reader.loaded_embedder().is_none(),
        "a model of another id must not answer for this library"
    );
    reader.share_embedder(legacy_model);
    reader.share_token_counter(TokenCounter::whitespace());
    let mut req = SearchRequest::new("tomatoes watering", reader.config());
    req.mode = SearchMode::Dense;
    let hits = reader.search(&req).unwrap();
    assert_eq!(names(&[hits.results[0].path.clone()]), ["garden.md"]);
    assert_eq!(reader.status().unwrap().embed_backlog, 0);
    drop(reader);

    // Moving it is explicit (`cairn reindex --embeddings`): then every passage waits for the
    // new model.
    Writer::adopt_configured_model(&lib.data, &upgraded).unwrap();
    let mut moved = Engine::open(&lib.data, upgraded).unwrap();
    assert_eq!(moved.config().embedding.model_id, DEFAULT_MODEL_ID);
    assert_eq!(
        moved.status().unwrap().embed_backlog,
        first.chunks_added as u64
    );
}

/// A PNG of one line of `text` drawn by ImageMagick, for OCR.
fn text_image(path: &Path, text: &str) {
    let ok = std::process::Command::new("convert")
        .args([
            "-size",
            "1400x200",
            "xc:white",
            "-font",
            "DejaVu-Sans",
            "-pointsize",
            "48",
        ])
        .args(["-fill", "black", "-annotate", "+30+120", text])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ImageMagick's convert draws the image");
}

/// The OCR phase commits page by page: stopped after its first page (from the progress
/// callback, no timing), that page's text is searchable and the other page still waits; the
/// next run recognises only the page left.
#[test]
fn a_stopped_ocr_phase_resumes_at_the_next_page() {
    let lib = TempLibrary::new();
    text_image(&lib.docs.join("first.png"), "Kestrel nesting boxes");
    text_image(&lib.docs.join("second.png"), "Osprey fishing platform");
    let mut w = lib.writer();
    w.add_folder(&lib.docs).unwrap();
    let report = w.index_text(&mut |_| {}, &StopToken::new()).unwrap();
    assert_eq!(report.new_versions, 2);
    assert_eq!(w.catalog().ocr_backlog().unwrap().pages, 2);
    let stop = StopToken::new();
    let mut report = IndexReport::default();
    w.recognise_backlog(
        &mut |p| {
            if p.files_done == 1 {
                stop.stop();
            }
        },
        &stop,
        &mut report,
    )
    .unwrap();
    assert!(report.cancelled);
    assert_eq!(report.pages_recognised, 1);
    assert_eq!(w.catalog().ocr_backlog().unwrap().pages, 1);
    drop(w);
    // Newest first: which image came first depends on their mtimes; one of them is found.
    let found = [
        lib.paths("kestrel nesting", SearchMode::Bm25),
        lib.paths("osprey fishing", SearchMode::Bm25),
    ];
    assert_eq!(
        found.iter().filter(|f| !f.is_empty()).count(),
        1,
        "{found:?}"
    );

    let second = lib.index();
    assert_eq!((second.new_versions, second.pages_recognised), (0, 1));
    assert_eq!(
        names(&lib.paths("kestrel nesting", SearchMode::Bm25)),
        ["first.png"]
    );
    assert_eq!(
        names(&lib.paths("osprey fishing", SearchMode::Bm25)),
        ["second.png"]
    );
    let hit = &lib.search("osprey", SearchMode::Bm25).results[0];
    assert_eq!(hit.heading, ["recognised text (OCR)"]);
    assert_eq!(hit.page, Some(1));
    assert_eq!(lib.reader().check().unwrap().problems, Vec::<String>::new());
}

#[allow(dead_code)]
/// Every file under `dir`, recursively, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// Files under `dir` holding `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p)
        .collect()
}

#[test]
fn forget_erases_every_version_from_every_store_and_redacts_the_audit_log() {
    const CANARY: &str = "qzv7canary";
    let mut lib = library();
    lib.config.answer.abstain_threshold = 0.0;
    let secret = lib.write(
        "vault.md",
        "# Vault\n\nThe vault code qzv7canary opens the archive room of the tower.\n",
    );
    lib.index();
    lib.write(
        "vault.md",
        "# Vault\n\nThe vault code qzv7canary opens the archive room of the tower on Mondays.\n",
    );
    assert_eq!(lib.index().new_versions, 1);
    let hit = lib.search(CANARY, SearchMode::Bm25).results[0].clone();
    let vector = lib
        .reader()
        .catalog()
        .cached_vectors(MODEL, &[hit.chunk_id])
        .unwrap()[0]
        .1
        .clone();
    let vector = cairn_core::catalog::vector_to_blob(&vector);

    // An answer quoting it, in a conversation.
    let mut reader = lib.reader();
    let session = reader.records().new_session("vault").unwrap();
    let mut req = AskRequest::new(
        "Which code opens the archive room of the tower?",
        AnswerMode::Extractive,
    );
    req.session = Some(session);
    let answer = reader
        .ask(&req, None, &StopToken::new(), &mut |_| {})
        .unwrap();
    assert!(answer.text.contains(CANARY), "{}", answer.text);
    assert!(!holding(&lib.data, CANARY.as_bytes()).is_empty());
    assert!(!holding(&lib.data, &vector).is_empty());
    drop(reader);

    let report = lib.writer().forget(&secret).unwrap();
    assert_eq!(report.erased.documents, std::slice::from_ref(&secret));
    assert_eq!(report.erased.versions, 2);
    assert_eq!(report.erased.audit_records, 1);
    assert!(report.excluded && !report.folder_removed && report.log_truncated);

    // No byte of it is left in the data directory: catalog, WAL, tantivy, usearch.
    assert_eq!(holding(&lib.data, CANARY.as_bytes()), Vec::<PathBuf>::new());
    assert_eq!(holding(&lib.data, &vector), Vec::<PathBuf>::new());
    assert!(!lib.paths(CANARY, SearchMode::Hybrid).contains(&secret));
    assert_eq!(
        names(&lib.paths("tomatoes", SearchMode::Bm25)),
        ["garden.md"]
    );
    let reader = lib.reader();
    let rec = reader.records().audit_record(answer.audit_id).unwrap();
    assert_eq!(rec.forgotten, std::slice::from_ref(&secret));
    assert!(rec
        .answer
        .contains(&format!("[forgotten: {}]", secret.display())));
    assert_eq!(
        rec.question,
        "Which code opens the archive room of the tower?"
    );
    let messages = reader.records().session_messages(session).unwrap();
    assert!(messages.iter().all(|m| !m.content.contains(CANARY)));
    assert!(reader.history(&secret).is_err());
    drop(reader);
    assert!(lib.writer().check().unwrap().ok);

    // The file is still there: scans leave it alone until it is un-forgotten.
    lib.index();
    assert!(lib.search(CANARY, SearchMode::Bm25).results.is_empty());
    assert!(holding(&lib.data, CANARY.as_bytes()).is_empty());
    lib.writer().unforget(&secret).unwrap();
    lib.index();
    assert_eq!(names(&lib.paths(CANARY, SearchMode::Bm25)), ["vault.md"]);
    assert_eq!(lib.reader().history(&secret).unwrap().len(), 1);
}

#[test]
fn forgetting_a_folder_erases_its_documents_and_problems_and_a_stranger_is_refused() {
    let lib = library();
    lib.write("private/a.md", "# Private\n\nSalary bands for the staff.\n");
    lib.write("private/broken.pdf", "%PDF-1.7 not really a pdf");
    lib.index();
    assert!(!lib.reader().catalog().problems().unwrap().is_empty());
    let report = lib.writer().forget(&lib.docs.join("private")).unwrap();
    assert_eq!(report.erased.documents.len(), 1);
    assert_eq!(report.erased.problems, 1);
    assert!(report.excluded);
    lib.index();
    assert!(lib.reader().catalog().problems().unwrap().is_empty());
    assert!(lib.paths("salary", SearchMode::Bm25).is_empty());
    assert_eq!(
        names(&lib.paths("refund", SearchMode::Bm25)),
        ["refunds.md"]
    );

    let err = lib
        .writer()
        .forget(Path::new("/nowhere/at/all.md"))
        .unwrap_err();
    assert!(matches!(err, cairn_core::Error::NotFound(_)), "{err}");
    assert!(lib.reader().catalog().forgotten().unwrap().paths().len() == 1);

    // Forgetting the registered folder itself stops following it.
    let report = lib.writer().forget(&lib.docs).unwrap();
    assert!(report.folder_removed && !report.excluded);
    assert_eq!(report.erased.documents.len(), 3);
    assert!(lib.reader().catalog().folders().unwrap().is_empty());
    assert!(lib
        .search("tomatoes", SearchMode::Hybrid)
        .results
        .is_empty());
    assert!(lib.reader().check().unwrap().ok);
}

fn _types_are_usable(_: &Path) {}
