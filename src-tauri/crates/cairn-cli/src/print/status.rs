//! The collection's state: `cairn status`, an indexing run's report, a document's history and
//! `cairn check`'s findings.

use std::path::Path;

use cairn_core::catalog::VersionInfo;
use cairn_core::engine::{CheckReport, IndexReport};

use super::{fmt_duration, fmt_time, human_bytes};

/// `cairn status`: folders, counts, embedding coverage, index sizes, marks and problems.
pub fn print_status(s: &cairn_core::engine::Status) {
    println!("data directory  {}", crate::print::clean_path(&s.data_dir));
    println!("folders         {}", s.folders.len());
    for f in &s.folders {
        println!("  {}", crate::print::clean_path(f));
    }
    let st = &s.stats;
    println!(
        "documents       {} current ({} known, {} versions)",
        st.current_documents, st.documents, st.versions
    );
    println!("passages        {}", st.current_chunks);
    println!(
        "embedded        {} of {} ({:.0}%) with {}",
        st.embedded_chunks,
        st.current_chunks,
        100.0 * st.embedded_chunks as f64 / st.current_chunks.max(1) as f64,
        s.model_id
    );
    if s.embed_backlog > 0 {
        let eta = s
            .embed_eta_seconds
            .map(|e| format!(", ETA {}", fmt_duration(e)))
            .unwrap_or_default();
        println!(
            "backlog         {} passages to embed{eta} (run `cairn index`)",
            s.embed_backlog
        );
    }
    println!(
        "indexes         catalog {}, text {} ({} passages), vectors {} ({} passages)",
        human_bytes(s.catalog_bytes),
        human_bytes(s.text_index_bytes),
        s.text_index_chunks,
        human_bytes(s.vector_index_bytes),
        s.vector_index_chunks
    );
    if !s.deprecations.is_empty() {
        println!("deprecated      {}", s.deprecations.len());
        for d in &s.deprecations {
            let by = d
                .superseded_by
                .as_ref()
                .map(|b| format!(" (superseded by {b})"))
                .unwrap_or_default();
            let kind = if d.is_pattern { "pattern " } else { "" };
            println!(
                "  {kind}{}: {}{by}",
                super::clean(&d.target),
                super::clean(&d.reason)
            );
        }
    }
    if !s.tags.is_empty() {
        println!("tags            {}", s.tags.len());
        for (p, t) in &s.tags {
            println!("  {}: {t}", crate::print::clean_path(p));
        }
    }
    if !s.conflicts.is_empty() {
        println!("conflicts       {} (near-identical passages that differ; resolve by editing or deprecating one)", s.conflicts.len());
        for c in s.conflicts.iter().take(20) {
            println!(
                "  {:.2}  {}  <>  {}",
                c.similarity,
                crate::print::clean_path(&c.path_a),
                crate::print::clean_path(&c.path_b)
            );
        }
    }
    if s.ocr_available {
        println!("OCR             available (tesseract, pdftoppm)");
    } else {
        println!(
            "OCR             unavailable: install tesseract-ocr, a language pack such as \
             tesseract-ocr-eng, and poppler-utils to read images and scanned PDFs"
        );
    }
    if s.ocr_available && s.ocr_backlog.pages > 0 {
        println!(
            "  {} pages of {} files wait for recognition (the OCR phase of `cairn index`)",
            s.ocr_backlog.pages, s.ocr_backlog.documents
        );
    }
    if !s.ocr_waiting.is_empty() {
        println!(
            "  {} files wait for OCR (read by the next `cairn index` once it is installed):",
            s.ocr_waiting.len()
        );
        for path in &s.ocr_waiting {
            println!("  {}", crate::print::clean_path(path));
        }
    }
    println!("problems        {}", s.problems.len());
    for p in &s.problems {
        println!(
            "  {}: {}",
            crate::print::clean_path(&p.path),
            super::clean(&p.reason)
        );
    }
}

/// What an indexing run did (`cairn index`, `cairn add --index`, `cairn demo`).
pub fn print_index_report(report: &IndexReport) {
    println!(
        "{} files seen: {} new versions, {} unchanged, {} renamed, {} deleted, {} unsupported, {} problems",
        report.files_seen,
        report.new_versions,
        report.files_unchanged,
        report.renamed,
        report.deleted,
        report.files_unsupported,
        report.problems
    );
    println!(
        "keyword search ready after {:.1} s; {} passages added, {} vectors reused, {} embedded",
        report.keyword_ready_seconds,
        report.chunks_added,
        report.chunks_reused,
        report.texts_embedded
    );
    if report.pages_recognised > 0 {
        println!(
            "OCR: {} pages recognised in {:.1} s",
            report.pages_recognised, report.ocr_seconds
        );
    }
    if report.ocr_waiting > 0 {
        println!(
            "OCR: {} pages wait for tesseract-ocr and poppler-utils (see `cairn status`)",
            report.ocr_waiting
        );
    }
    if let Some(e) = &report.embedding_error {
        println!("embeddings skipped: {e}\n  keyword search works; run `bash models/fetch.sh`, then `cairn index`");
    }
    if report.cancelled {
        println!("stopped early: run `cairn index` again to resume");
    }
    if report.problems > 0 {
        println!("see `cairn status` for the files that could not be indexed");
    }
}

/// A document's versions, newest last (`cairn history`).
pub fn print_history(path: &Path, versions: &[VersionInfo]) {
    println!("{}", crate::print::clean_path(path));
    for v in versions {
        let when = fmt_time(v.recorded_at);
        let until = v
            .retired_at
            .map(|t| format!(" until {}", fmt_time(t)))
            .unwrap_or_default();
        println!(
            "  v{:<3} {:<10} {when}{until}  {}  {} bytes  {} passages (+{} −{})",
            v.version, v.status, v.content_hash, v.size, v.chunks, v.chunks_added, v.chunks_removed
        );
    }
}

/// `cairn check`: "ok" with the counts, or each problem and how to repair.
pub fn print_check(report: &CheckReport) {
    if report.ok {
        println!(
            "ok: catalog sound; {} current passages, text index {}, vector index {} ({} embedded)",
            report.current_chunks,
            report.text_index_chunks,
            report.vector_index_chunks,
            report.embedded_chunks
        );
        for p in &report.pending_repairs {
            println!("note: {p}");
        }
    } else {
        for p in &report.problems {
            println!("problem: {p}");
        }
        println!("run `cairn index` (repairs lagging indexes) or `cairn reindex`");
    }
}
