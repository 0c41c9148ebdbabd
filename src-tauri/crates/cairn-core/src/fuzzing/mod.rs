//! Fuzz target bodies: one place for what the cargo-fuzz targets (`cairn-core/fuzz`, nightly)
//! and the stable smoke test (`tests/fuzz_smoke.rs`, part of the test command) run on each input.
//!
//! Each [`Target`] feeds arbitrary bytes to one stage (a parser, detection, the chunker, the
//! citation parser and verifier) and checks the promises that stage makes to the next one:
//! byte spans inside the text and on character boundaries, sections and pages in order,
//! chunks within their token bound and never across a page. A broken promise panics, which is
//! what a fuzzer reports. An `Err` from a parser is a fine outcome: hostile bytes must fail
//! cleanly, never crash. [`seeds`] builds small, valid inputs of every kind in code (no binary
//! files in git). How to run the fuzzers, and what they found: docs/fuzzing.md.

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Once, OnceLock};

use crate::chunk::Chunker;
use crate::cite::{self, SourceText};
use crate::config::ChunkingConfig;
use crate::embed::TokenCounter;
use crate::parse::{self, DocKind, ParsedDoc};

pub(crate) mod seeds;

pub use seeds::seeds;

/// What a fuzz input is fed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Type detection and the parser it picks, as indexing calls them (first byte: the name).
    Detect,
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    /// XLSX, XLS and ODS workbooks.
    Spreadsheet,
    Csv,
    /// PPTX and ODP.
    Presentation,
    Odt,
    Epub,
    /// EML and MBOX.
    Mail,
    /// Source code through tree-sitter (first byte: the language).
    Code,
    /// The chunker over a Markdown document or a paged text (first bytes: the sizes).
    Chunk,
    /// `[n]` citations, sentences and verification (sources after NUL bytes).
    Cite,
}

impl Target {
    pub const ALL: [Target; 15] = [
        Target::Detect,
        Target::Text,
        Target::Markdown,
        Target::Html,
        Target::Pdf,
        Target::Docx,
        Target::Spreadsheet,
        Target::Csv,
        Target::Presentation,
        Target::Odt,
        Target::Epub,
        Target::Mail,
        Target::Code,
        Target::Chunk,
        Target::Cite,
    ];

    /// The target's short name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Detect => "detect",
            Target::Text => "text",
            Target::Markdown => "markdown",
            Target::Html => "html",
            Target::Pdf => "pdf",
            Target::Docx => "docx",
            Target::Spreadsheet => "spreadsheet",
            Target::Csv => "csv",
            Target::Presentation => "presentation",
            Target::Odt => "odt",
            Target::Epub => "epub",
            Target::Mail => "mail",
            Target::Code => "code",
            Target::Chunk => "chunk",
            Target::Cite => "cite",
        }
    }

    /// The cargo-fuzz target that runs this body (`cairn-core/fuzz/fuzz_targets/`).
    pub fn fuzz_target(self) -> &'static str {
        match self {
            Target::Detect => "detect",
            Target::Text => "parse_text",
            Target::Markdown => "parse_markdown",
            Target::Html => "parse_html",
            Target::Pdf => "parse_pdf",
            Target::Docx => "parse_docx",
            Target::Spreadsheet => "parse_spreadsheet",
            Target::Csv => "parse_csv",
            Target::Presentation => "parse_presentation",
            Target::Odt => "parse_odt",
            Target::Epub => "parse_epub",
            Target::Mail => "parse_mail",
            Target::Code => "parse_code",
            Target::Chunk => "chunk",
            Target::Cite => "cite",
        }
    }

    /// For a fuzzer (libFuzzer aborts on any panic): runs [`Target::run`], aborting only on a
    /// panic that escapes it. A panic the code under test catches by design (pdf-extract's,
    /// caught per page by the PDF parser) is not a finding.
    pub fn fuzz(self, data: &[u8]) {
        type Panic = Option<(String, Backtrace)>;
        thread_local!(static LAST_PANIC: RefCell<Panic> = const { RefCell::new(None) });
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                // Resolved (slow) only when printed.
                let panic = (info.to_string(), Backtrace::force_capture());
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(panic));
            }));
        });
        if catch_unwind(AssertUnwindSafe(|| self.run(data))).is_err() {
            LAST_PANIC.with(|last| {
                if let Some((message, backtrace)) = &*last.borrow() {
                    eprintln!("fuzz target {}: {message}\n{backtrace}", self.name());
                }
            });
            std::process::abort();
        }
    }

    /// Runs the target's body on `data`; panics when a promise is broken.
    pub fn run(self, data: &[u8]) {
        // Recognition starts programs: far too slow for fuzzing, and not Cairn's code.
        parse::ocr::disable();
        match self {
            Target::Detect => detect_and_parse(data),
            Target::Text => parse_as(DocKind::Text, data),
            Target::Markdown => parse_as(DocKind::Markdown, data),
            Target::Html => parse_as(DocKind::Html, data),
            Target::Pdf => parse_as(DocKind::Pdf, data),
            Target::Docx => parse_as(DocKind::Docx, data),
            Target::Spreadsheet => parse_as(DocKind::Spreadsheet, data),
            Target::Csv => parse_as(DocKind::Csv, data),
            Target::Presentation => parse_as(DocKind::Presentation, data),
            Target::Odt => parse_as(DocKind::Odt, data),
            Target::Epub => parse_as(DocKind::Epub, data),
            Target::Mail => parse_as(DocKind::Mail, data),
            Target::Code => code(data),
            Target::Chunk => chunk(counter(), data),
            Target::Cite => citations(data),
        }
    }
}

/// File names [`Target::Detect`] tries, chosen by the input's first byte.
const NAMES: [&str; 14] = [
    "file",
    "notes.txt",
    "readme.md",
    "page.html",
    "report.pdf",
    "letter.docx",
    "archive.zip",
    "image.png",
    "budget.xlsx",
    "data.csv",
    "deck.pptx",
    "book.epub",
    "inbox.mbox",
    "main.rs",
];

/// Source code in the language the first byte picks.
fn code(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let languages = parse::code::Language::ALL;
    let language = languages[usize::from(which) % languages.len()];
    let name = format!("fuzz.{}", language.extension());
    if let Ok(doc) = parse::parse_kind(Path::new(&name), DocKind::Code, bytes) {
        assert_eq!(doc.kind, DocKind::Code);
        check_doc(&doc);
    }
}

fn detect_and_parse(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let path = Path::new(NAMES[usize::from(which) % NAMES.len()]);
    if let Ok(doc) = parse::parse(path, bytes) {
        check_doc(&doc);
    }
}

fn parse_as(kind: DocKind, data: &[u8]) {
    if let Ok(doc) = parse::parse_kind(Path::new("fuzz"), kind, data) {
        assert_eq!(doc.kind, kind);
        check_doc(&doc);
    }
}

/// The promises of a [`ParsedDoc`]: sections and pages are in-order, non-overlapping ranges
/// of the text on character boundaries; the title has text.
pub fn check_doc(doc: &ParsedDoc) {
    let text = &doc.text;
    let mut at = 0;
    for s in &doc.sections {
        assert!(
            s.start <= s.end && s.end <= text.len(),
            "section {s:?} outside the text"
        );
        assert!(
            s.start >= at,
            "section {s:?} overlaps the one before (ends at {at})"
        );
        assert!(
            text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
            "section {s:?} cuts a character"
        );
        at = s.end;
    }
    let mut at = 0;
    for p in &doc.pages {
        assert!(
            p.start <= p.end && p.end <= text.len(),
            "page {p:?} outside the text"
        );
        assert!(p.start >= at, "page {p:?} overlaps the page before");
        assert!(
            text.is_char_boundary(p.start) && text.is_char_boundary(p.end),
            "page {p:?} cuts a character"
        );
        at = p.end;
    }
    if !matches!(
        doc.kind,
        DocKind::Pdf | DocKind::Presentation | DocKind::Image
    ) {
        assert!(doc.pages.is_empty(), "{:?} with pages", doc.kind);
    }
    if let Some(title) = &doc.title {
        assert!(!title.trim().is_empty(), "blank title");
    }
}

/// The token counter the chunk target measures with: the pinned model's tokenizer when
/// `models/dist` has it (as indexing does), else one token per word.
pub fn counter() -> &'static TokenCounter {
    static COUNTER: OnceLock<TokenCounter> = OnceLock::new();
    COUNTER.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../models/dist/all-MiniLM-L6-v2-int8/tokenizer.json");
        TokenCounter::load(&path).unwrap_or_else(|_| TokenCounter::whitespace())
    })
}

/// Chunks a document made from `data` and checks every chunk. Bytes 0..3 choose the maximum,
/// minimum and overlap in tokens, byte 3 the document: Markdown (sections from headings) or
/// text with a page at every form feed (as PDFs are).
pub fn chunk(counter: &TokenCounter, data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let max_tokens = 1 + usize::from(head[0] % 64);
    let cfg = ChunkingConfig {
        max_tokens,
        min_tokens: usize::from(head[1] % 32),
        overlap_tokens: usize::from(head[2] % 16),
    };
    let doc = if head[3] % 2 == 0 {
        match parse::parse_kind(Path::new("fuzz.md"), DocKind::Markdown, rest) {
            Ok(doc) => doc,
            Err(_) => return,
        }
    } else {
        paged_doc(&String::from_utf8_lossy(rest))
    };
    check_doc(&doc);
    // The fast WordPiece count is the tokenizer's own count.
    let sample = &doc.text[..floor_boundary(&doc.text, 2048)];
    assert_eq!(
        counter.count(sample),
        counter.count_slow(sample),
        "{sample:?}"
    );

    let chunker = Chunker::new(counter.clone(), &cfg, max_tokens);
    let chunks = chunker.chunk(&doc);
    let mut last_start = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.ordinal as usize, i);
        assert!(
            c.start < c.end && c.end <= doc.text.len(),
            "chunk {c:?} outside the text"
        );
        assert_eq!(
            &doc.text[c.start..c.end],
            c.text,
            "chunk text is not its span"
        );
        assert_eq!(c.text.trim(), c.text, "chunk not trimmed");
        assert!(c.start >= last_start, "chunks out of order");
        last_start = c.start;
        let tokens = counter.count(&c.text);
        assert!(
            tokens <= max_tokens,
            "chunk of {tokens} tokens > {max_tokens}: {c:?}"
        );
        for p in &doc.pages {
            for cut in [p.start, p.end] {
                assert!(
                    !(c.start < cut && cut < c.end),
                    "chunk {c:?} crosses a page boundary at {cut}"
                );
            }
        }
    }
}

/// A text paged at form feeds (`\x0c`), one section over all of it.
fn paged_doc(text: &str) -> ParsedDoc {
    let mut out = String::new();
    let mut pages = Vec::new();
    for (i, page) in text.split('\x0c').enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        let start = out.len();
        out.push_str(page);
        pages.push(parse::Page {
            number: i as u32 + 1,
            start,
            end: out.len(),
        });
    }
    ParsedDoc {
        kind: DocKind::Pdf,
        title: None,
        sections: vec![parse::Section {
            start: 0,
            end: out.len(),
            heading_path: Vec::new(),
        }],
        text: out,
        pages,
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    }
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Parses and verifies the citations of an answer. `data` is the answer, then NUL-separated
/// source passages (numbered from 1; a passage's first line is its context).
pub fn citations(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let answer = parts.next().unwrap_or_default();
    let sources: Vec<SourceText> = parts
        .take(8)
        .enumerate()
        .map(|(i, p)| {
            let (context, body) = p.split_once('\n').unwrap_or(("", p));
            SourceText {
                n: i + 1,
                text: body,
                context: context.to_owned(),
            }
        })
        .collect();

    for m in cite::parse_marks(answer) {
        assert!(m.start < m.end && m.end <= answer.len(), "{m:?}");
        let group = &answer[m.start..m.end];
        assert!(group.starts_with('[') && group.ends_with(']'), "{group:?}");
    }
    let stripped = cite::strip_marks(answer);
    assert!(stripped.len() <= answer.len());
    for lines in [false, true] {
        let mut at = 0;
        for (s, e) in cite::sentences(answer, lines) {
            assert!(at <= s && s <= e && e <= answer.len(), "sentence {s}..{e}");
            assert!(answer.is_char_boundary(s) && answer.is_char_boundary(e));
            at = e;
        }
    }
    let _ = cite::quotes(answer);
    let _ = cite::normalise(answer);
    let v = cite::verify(answer, &sources, 0.5, "I don't know");
    for s in &v.sentences {
        let (a, b) = s.span;
        assert!(a <= b && b <= answer.len(), "{s:?}");
    }
    for c in &v.citations {
        assert!(c.sentence < v.sentences.len(), "{c:?}");
        assert!(
            c.support.is_finite() && (0.0..=1.0).contains(&c.support),
            "{c:?}"
        );
        let known = sources.iter().any(|s| s.n == c.n);
        assert_eq!(known, c.verdict != cite::Verdict::Invalid, "{c:?}");
    }
}
