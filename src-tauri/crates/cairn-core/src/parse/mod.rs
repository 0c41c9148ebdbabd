//! Parse: bytes of one file in, extracted text with its structure out.
//!
//! The type is detected from the content (magic bytes, markup sniffing), the extension only
//! breaks ties. The extracted [`ParsedDoc::text`] is what every later byte span refers to:
//! pages and sections are ranges of byte offsets into it.
//!
//! [`detect`] decides the [`DocKind`]; [`parse`] detects and dispatches to one parser per kind
//! (see the submodules for what each keeps and drops). Every failure is an [`Error::Parse`]
//! with a reason a user can act on; no input makes parsing panic.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod builder;
pub mod code;
mod compose;
mod detect;
mod docx;
mod epub;
mod html;
pub mod isolate;
pub mod limits;
mod mail;
mod markdown;
pub mod ocr;
mod odf;
mod package;
mod pdf;
mod pdf_graph;
mod pptx;
mod sheet;
mod text;

pub use detect::detect;

/// The kinds of document Cairn understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    /// XLSX/XLSM, XLS, ODS: one section per range of rows, the header row repeated.
    Spreadsheet,
    /// CSV and TSV: like a one-sheet spreadsheet.
    Csv,
    /// PPTX, ODP: one page per slide (the slide number), speaker notes included.
    Presentation,
    /// OpenDocument text (ODT).
    Odt,
    /// EPUB: chapters in reading order, their headings as the heading path.
    Epub,
    /// EML and MBOX: one section per message, attachments as sub-sections.
    Mail,
    /// PNG, JPEG, TIFF, WebP: text recognised by Tesseract (OCR).
    Image,
    /// Source code (Rust, Python, JavaScript, …): one section per function, class or module,
    /// the enclosing symbols as the heading path.
    Code,
}

impl DocKind {
    /// Stable lowercase name, used in the catalog and in `--type` filters.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Text => "text",
            DocKind::Markdown => "markdown",
            DocKind::Html => "html",
            DocKind::Pdf => "pdf",
            DocKind::Docx => "docx",
            DocKind::Spreadsheet => "spreadsheet",
            DocKind::Csv => "csv",
            DocKind::Presentation => "presentation",
            DocKind::Odt => "odt",
            DocKind::Epub => "epub",
            DocKind::Mail => "mail",
            DocKind::Image => "image",
            DocKind::Code => "code",
        }
    }

    /// Every kind, in the order front ends list them.
    pub const ALL: [DocKind; 13] = [
        DocKind::Text,
        DocKind::Markdown,
        DocKind::Html,
        DocKind::Pdf,
        DocKind::Docx,
        DocKind::Odt,
        DocKind::Epub,
        DocKind::Spreadsheet,
        DocKind::Csv,
        DocKind::Presentation,
        DocKind::Mail,
        DocKind::Image,
        DocKind::Code,
    ];

    /// The names of every kind, comma-separated, for messages ("text, markdown, …").
    pub fn names() -> String {
        DocKind::ALL.map(DocKind::as_str).join(", ")
    }

    /// Parses a stored or user-given name (also accepts common aliases such as `md`, `txt`).
    pub fn from_name(name: &str) -> Option<DocKind> {
        Some(match name.to_ascii_lowercase().as_str() {
            "text" | "txt" | "plain" => DocKind::Text,
            "markdown" | "md" => DocKind::Markdown,
            "html" | "htm" => DocKind::Html,
            "pdf" => DocKind::Pdf,
            "docx" | "word" => DocKind::Docx,
            "spreadsheet" | "xlsx" | "xlsm" | "xls" | "ods" | "excel" => DocKind::Spreadsheet,
            "csv" | "tsv" => DocKind::Csv,
            "presentation" | "pptx" | "odp" | "slides" => DocKind::Presentation,
            "odt" => DocKind::Odt,
            "epub" => DocKind::Epub,
            "mail" | "email" | "eml" | "mbox" => DocKind::Mail,
            "image" | "png" | "jpeg" | "jpg" | "tiff" | "webp" | "ocr" => DocKind::Image,
            "code" | "source" | "src" => DocKind::Code,
            _ => return None,
        })
    }
}

/// What a page of a document of `kind` (a stored kind name) is called: `slide` for
/// presentations, `page` otherwise.
pub fn page_word(kind: &str) -> &'static str {
    if kind == DocKind::Presentation.as_str() {
        "slide"
    } else {
        "page"
    }
}

/// A contiguous part of the text under one heading path (e.g. `["Intro", "Scope"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Byte offset of the section's first byte in [`ParsedDoc::text`].
    pub start: usize,
    /// Byte offset one past the section's last byte.
    pub end: usize,
    /// Headings from the outermost to the innermost; empty before the first heading.
    pub heading_path: Vec<String>,
}

/// A page of a paginated document: a PDF page, a slide, an image's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// 1-based page number as a reader would see it.
    pub number: u32,
    /// Byte offset of the page's first byte in [`ParsedDoc::text`].
    pub start: usize,
    /// Byte offset one past the page's last byte.
    pub end: usize,
}

/// The result of parsing one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedDoc {
    pub kind: DocKind,
    /// Title from the document (first H1, `<title>`, PDF/DOCX metadata), if any.
    pub title: Option<String>,
    /// Extracted plain text (UTF-8). Markup is removed; paragraphs are separated by blank lines.
    pub text: String,
    /// Sections covering the text in order, without overlap (may leave gaps, e.g. whitespace).
    /// Documents without headings have a single section with an empty heading path.
    pub sections: Vec<Section>,
    /// Pages in order (PDF pages, slides, recognised image pages; empty for other kinds).
    pub pages: Vec<Page>,
    /// Mail messages in order, with their sender and date (empty for other kinds).
    #[serde(default)]
    pub messages: Vec<MessageMeta>,
    /// What waits for OCR, recognised later by the OCR phase (`engine/ocr.rs`): the numbers
    /// of PDF pages without a text layer, or `[0]` for an image (all of its pages). Parsing
    /// never runs Tesseract.
    #[serde(default)]
    pub ocr_pages: Vec<u32>,
}

/// The part of a mail document's text one message spans (its attachments included), with
/// its sender and date: the metadata `--from`, `--sent-after` and `--sent-before` filter on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// Byte offset of the message's first byte in [`ParsedDoc::text`].
    pub start: usize,
    /// Byte offset one past the message's last byte.
    pub end: usize,
    /// The first `From:` as `Name <address>` (or whichever of the two it has).
    pub from: String,
    /// The `Date:` header as Unix time (seconds), if it has a readable one.
    pub date: Option<i64>,
}

impl ParsedDoc {
    /// The message spanning byte offset `at`, for mail.
    pub fn message_at(&self, at: usize) -> Option<&MessageMeta> {
        self.messages.iter().find(|m| at >= m.start && at < m.end)
    }

    /// The page containing byte offset `at`, if the document is paginated.
    pub fn page_at(&self, at: usize) -> Option<u32> {
        self.pages
            .iter()
            .find(|p| at >= p.start && at < p.end.max(p.start + 1))
            .or_else(|| self.pages.last().filter(|p| at >= p.end))
            .map(|p| p.number)
    }
}

/// Detects the type of the file at `path` from its full content `bytes` and extracts its text
/// and structure.
///
/// Unsupported files (images, archives, other binaries) and damaged files fail with
/// [`Error::Parse`]; the reason says which.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<ParsedDoc> {
    let fail = |reason: String| Error::Parse {
        path: path.to_path_buf(),
        reason,
    };
    // A ZIP not recognised from its name or first bytes may still be an office package.
    let kind = match detect(path, bytes).or_else(|| package::kind_of(bytes)) {
        Some(kind) => kind,
        None => {
            return Err(fail(format!(
                "unsupported file type ({})",
                describe_binary(path, bytes)
            )))
        }
    };
    parse_as(path, kind, bytes).map_err(fail)
}

/// Parses `bytes` as a document of the given `kind`, without detection.
///
/// Useful when the kind is already known (e.g. stored in the catalog). Fails with
/// [`Error::Parse`] if the content does not fit the kind.
pub fn parse_kind(path: &Path, kind: DocKind, bytes: &[u8]) -> Result<ParsedDoc> {
    parse_as(path, kind, bytes).map_err(|reason| Error::Parse {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses `bytes` as `kind`; `path` names the language of source code.
fn parse_as(path: &Path, kind: DocKind, bytes: &[u8]) -> std::result::Result<ParsedDoc, String> {
    let doc = match kind {
        DocKind::Text => text::parse_text(bytes),
        DocKind::Markdown => markdown::parse_markdown(bytes),
        DocKind::Html => html::parse_html(bytes),
        DocKind::Pdf => pdf::parse_pdf(bytes),
        DocKind::Docx => docx::parse_docx(bytes),
        DocKind::Spreadsheet => sheet::parse_workbook(bytes),
        DocKind::Csv => sheet::parse_csv(bytes),
        DocKind::Presentation if odf::is_odf(bytes) => odf::parse_odp(bytes),
        DocKind::Presentation => pptx::parse_pptx(bytes),
        DocKind::Odt => odf::parse_odt(bytes),
        DocKind::Epub => epub::parse_epub(bytes),
        DocKind::Mail => mail::parse_mail(bytes),
        DocKind::Image => ocr::parse_image(bytes),
        DocKind::Code => code::parse_code(path, bytes),
    }?;
    limits::check(&doc)?;
    Ok(doc)
}

/// A short description of an unsupported file for the error reason.
fn describe_binary(path: &Path, bytes: &[u8]) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if detect::is_zip(bytes) {
        "a zip archive that is not an office document or EPUB".to_string()
    } else if matches!(ext, "doc" | "ppt" | "pps") {
        format!("legacy binary Office .{ext} file: save it as .docx or .pptx to index it")
    } else if bytes.starts_with(b"{\\rtf") {
        "RTF is not read yet: save it as .docx or .odt to index it".to_string()
    } else if ext.is_empty() {
        "binary content".to_string()
    } else {
        format!("binary .{ext} file")
    }
}
