//! The caps every parser keeps to, whatever the input claims: a hostile file can be small on
//! disk and enormous once decompressed or extracted. Each cap, when hit, is a parse failure
//! whose reason names the cap (the file becomes a problem row and is not retried until it
//! changes). The worker process's memory limit (`[ingest] parse_memory_mb`) and wall-clock
//! budget (`[ingest] parse_timeout_seconds`) stand behind these for what they cannot see.
//! docs/security.md lists them with their values.

use super::ParsedDoc;

/// Most text extracted from one file (UTF-8 bytes).
pub const MAX_TEXT_BYTES: usize = 64 << 20;
/// Most pages read from one PDF.
pub const MAX_PDF_PAGES: usize = 20_000;
/// Most bytes any one PDF stream may decompress to.
pub const MAX_PDF_STREAM_BYTES: u64 = 128 << 20;
/// Most bytes all the PDF's streams together may decompress to.
pub const MAX_PDF_STREAMS_TOTAL: u64 = 512 << 20;
/// Most members a ZIP-based document (DOCX) may list.
pub const MAX_ZIP_MEMBERS: usize = 10_000;
/// Most bytes one ZIP member may decompress to.
pub const MAX_ZIP_MEMBER_BYTES: u64 = 256 << 20;
/// Most bytes the members Cairn reads from one ZIP may decompress to together.
pub const MAX_ZIP_TOTAL_BYTES: u64 = 512 << 20;
/// Most passages indexed from one file.
pub const MAX_PASSAGES: usize = 50_000;

/// `n` bytes for a reason: "64 MB".
pub fn megabytes(n: u64) -> String {
    format!("{} MB", n >> 20)
}

/// Checks what every parser's output must satisfy.
pub fn check(doc: &ParsedDoc) -> Result<(), String> {
    if doc.text.len() > MAX_TEXT_BYTES {
        return Err(too_much_text(doc.text.len()));
    }
    if doc.pages.len() > MAX_PDF_PAGES {
        return Err(too_many_pages(doc.pages.len()));
    }
    Ok(())
}

pub fn too_much_text(len: usize) -> String {
    format!(
        "has more than {} of text ({} extracted), more than Cairn indexes from one file",
        megabytes(MAX_TEXT_BYTES as u64),
        megabytes(len as u64)
    )
}

pub fn too_many_pages(n: usize) -> String {
    format!("has {n} pages, more than the {MAX_PDF_PAGES} Cairn reads from one PDF")
}

/// The reason for a file cut into more passages than [`MAX_PASSAGES`].
pub fn too_many_passages(n: usize) -> String {
    format!("makes {n} passages, more than the {MAX_PASSAGES} Cairn indexes from one file")
}
