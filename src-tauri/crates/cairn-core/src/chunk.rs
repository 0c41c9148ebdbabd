//! Chunk: a parsed document in, token-bounded chunks that know where they came from out.
//!
//! Chunks follow the document's structure: a chunk never crosses a section boundary (except
//! when tiny neighbouring sections are merged) and never crosses a PDF page boundary. Inside a
//! section, `text-splitter` cuts at the highest semantic level that fits (blank lines, lines,
//! sentences, words, characters) with sizes measured in the embedding model's tokens, so no
//! chunk is ever longer than the model can read. Every chunk carries its exact byte span in
//! [`ParsedDoc::text`], its page and its heading path, which is what citations point at.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use text_splitter::{ChunkConfig, TextSplitter};

use crate::config::ChunkingConfig;
use crate::embed::TokenCounter;
use crate::parse::ParsedDoc;

/// One chunk of a document, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkDraft {
    /// Position of the chunk in its document, from 0.
    pub ordinal: u32,
    /// Byte offset of the chunk's first byte in [`ParsedDoc::text`].
    pub start: usize,
    /// Byte offset one past the chunk's last byte; `doc.text[start..end] == text`.
    pub end: usize,
    /// The PDF page the chunk is on (chunks never cross pages); `None` for other documents.
    pub page: Option<u32>,
    /// Headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// The chunk's text (trimmed of surrounding whitespace).
    pub text: String,
}

/// Cuts documents into chunks of at most `max_tokens` model tokens.
#[derive(Debug)]
pub struct Chunker {
    counter: TokenCounter,
    splitter: TextSplitter<TokenCounter>,
    max_tokens: usize,
    min_tokens: usize,
}

/// A contiguous range of the text that a chunk may not cross out of: one section, or the part
/// of a section on one page.
#[derive(Debug, Clone)]
struct Piece<'d> {
    range: Range<usize>,
    page: Option<u32>,
    heading_path: &'d [String],
    tokens: usize,
}

impl Chunker {
    /// A chunker producing chunks of at most `max_tokens` tokens (pass
    /// [`Config::chunk_tokens`](crate::config::Config::chunk_tokens)); `cfg` gives the minimum
    /// size below which neighbouring pieces are merged and the overlap.
    pub fn new(counter: TokenCounter, cfg: &ChunkingConfig, max_tokens: usize) -> Self {
        let max_tokens = max_tokens.max(1);
        let min_tokens = cfg.min_tokens.min(max_tokens);
        // text-splitter fills each chunk up to `max_tokens` at the highest semantic level that
        // fits. (A range `min..=max` would make it stop as soon as a chunk reaches `min`, which
        // gives chunks of about `min_tokens`.)
        let overlap = cfg.overlap_tokens.min(max_tokens.saturating_sub(1) / 2);
        let config = ChunkConfig::new(max_tokens)
            .with_sizer(counter.clone())
            .with_trim(true)
            .with_overlap(overlap)
            .expect("overlap is below the chunk capacity");
        Chunker {
            counter,
            splitter: TextSplitter::new(config),
            max_tokens,
            min_tokens,
        }
    }

    /// The token counter chunks are measured with.
    pub fn counter(&self) -> &TokenCounter {
        &self.counter
    }

    /// The largest chunk this chunker produces, in tokens.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Cuts `doc` into chunks, in document order.
    pub fn chunk(&self, doc: &ParsedDoc) -> Vec<ChunkDraft> {
        let pieces = self.merge_small(self.pieces(doc), &doc.text);
        let mut out = Vec::new();
        for piece in pieces {
            let text = &doc.text[piece.range.clone()];
            if piece.tokens <= self.max_tokens {
                let (start, end) = trimmed(text, piece.range.start);
                if start < end {
                    self.push(&mut out, doc, start..end, &piece);
                }
                continue;
            }
            for (offset, chunk) in self.splitter.chunk_indices(text) {
                let start = piece.range.start + offset;
                let range = start..start + chunk.len();
                if chunk.trim().is_empty() {
                    continue;
                }
                if self.counter.count(chunk) <= self.max_tokens {
                    self.push(&mut out, doc, range, &piece);
                } else {
                    // text-splitter never returns an oversized chunk when single characters fit;
                    // this is the guarantee should that ever change.
                    for r in self.hard_split(&doc.text, range) {
                        self.push(&mut out, doc, r, &piece);
                    }
                }
            }
        }
        out
    }

    fn push(&self, out: &mut Vec<ChunkDraft>, doc: &ParsedDoc, range: Range<usize>, piece: &Piece) {
        let text = doc.text[range.clone()].to_owned();
        // A chunk that is only its section's heading line adds nothing: the heading path is
        // indexed and embedded with every chunk of the section.
        if piece
            .heading_path
            .last()
            .is_some_and(|h| h.trim() == text.trim())
            && piece.tokens > self.counter.count(&text)
        {
            return;
        }
        debug_assert_eq!(&doc.text[range.clone()], text);
        out.push(ChunkDraft {
            ordinal: out.len() as u32,
            start: range.start,
            end: range.end,
            page: piece.page,
            heading_path: piece.heading_path.to_vec(),
            text,
        });
    }

    /// Sections cut at page boundaries, whitespace-only parts dropped, with token counts.
    fn pieces<'d>(&self, doc: &'d ParsedDoc) -> Vec<Piece<'d>> {
        let text = &doc.text;
        let sections: Vec<(Range<usize>, &'d [String])> = if doc.sections.is_empty() {
            vec![(0..text.len(), &[])]
        } else {
            doc.sections
                .iter()
                .map(|s| (s.start..s.end, &s.heading_path[..]))
                .collect()
        };

        let mut pieces = Vec::new();
        for (range, heading_path) in sections {
            let start = floor_char_boundary(text, range.start.min(text.len()));
            let end = ceil_char_boundary(text, range.end.min(text.len()));
            if start >= end {
                continue;
            }
            // Cut points: every page start or end strictly inside the section.
            let mut cuts: Vec<usize> = doc
                .pages
                .iter()
                .flat_map(|p| [p.start, p.end])
                .filter(|&at| at > start && at < end && text.is_char_boundary(at))
                .collect();
            cuts.sort_unstable();
            cuts.dedup();
            let bounds = std::iter::once(start)
                .chain(cuts)
                .chain(std::iter::once(end))
                .collect::<Vec<_>>();
            for w in bounds.windows(2) {
                let (a, b) = (w[0], w[1]);
                let slice = &text[a..b];
                if slice.trim().is_empty() {
                    continue;
                }
                pieces.push(Piece {
                    range: a..b,
                    page: page_of(doc, a, b),
                    heading_path,
                    tokens: self.counter.count(slice),
                });
            }
        }
        pieces
    }

    /// Merges neighbouring pieces on the same page while one of them is below `min_tokens` and
    /// the result stays within `max_tokens`, without losing attribution: pieces merge when they
    /// share a heading path, or when the first is a short lead-in of an enclosing section (for
    /// instance just its heading line), which then joins its first subsection.
    fn merge_small<'d>(&self, pieces: Vec<Piece<'d>>, text: &str) -> Vec<Piece<'d>> {
        let mut out: Vec<Piece<'d>> = Vec::with_capacity(pieces.len());
        for piece in pieces {
            if let Some(last) = out.last_mut() {
                let same_section = last.heading_path == piece.heading_path;
                let lead_in = last.tokens < self.min_tokens
                    && piece.heading_path.starts_with(last.heading_path);
                let small = last.tokens < self.min_tokens || piece.tokens < self.min_tokens;
                if small
                    && (same_section || lead_in)
                    && last.page == piece.page
                    && last.tokens + piece.tokens <= self.max_tokens
                {
                    let range = last.range.start..piece.range.end;
                    let tokens = self.counter.count(&text[range.clone()]);
                    if tokens <= self.max_tokens {
                        last.range = range;
                        last.tokens = tokens;
                        last.heading_path = piece.heading_path;
                        continue;
                    }
                }
            }
            out.push(piece);
        }
        out
    }

    /// Cuts `range` into trimmed parts of at most `max_tokens` tokens, at character boundaries
    /// (last resort; see [`Chunker::chunk`]).
    fn hard_split(&self, text: &str, range: Range<usize>) -> Vec<Range<usize>> {
        // Char boundaries of the range, the range's end included.
        let bounds: Vec<usize> = text[range.clone()]
            .char_indices()
            .map(|(i, _)| range.start + i)
            .chain(std::iter::once(range.end))
            .collect();
        let mut out = Vec::new();
        let mut first = 0;
        while first + 1 < bounds.len() {
            // Largest `last` such that text[bounds[first]..bounds[last]] fits; at least one char
            // (one character is one WordPiece token at most).
            let (mut lo, mut hi) = (first + 1, bounds.len() - 1);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if self.counter.count(&text[bounds[first]..bounds[mid]]) <= self.max_tokens {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            let (a, b) = trimmed(&text[bounds[first]..bounds[lo]], bounds[first]);
            if a < b {
                out.push(a..b);
            }
            first = lo;
        }
        out
    }
}

/// The exact string that is embedded (and hashed for the embedding cache) for a chunk:
/// `"{title}\n{h1 > h2}\n\n{text}"`, leaving out empty parts. A first heading equal to the
/// title (a Markdown H1 that is also the title) is not repeated.
pub fn embedding_text(title: Option<&str>, heading_path: &[String], text: &str) -> String {
    let title = title.map(str::trim).filter(|t| !t.is_empty());
    let mut headings: Vec<&str> = heading_path
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .collect();
    if title.is_some() && headings.first().copied() == title {
        headings.remove(0);
    }
    let mut header = String::new();
    if let Some(title) = title {
        header.push_str(title);
    }
    if !headings.is_empty() {
        if !header.is_empty() {
            header.push('\n');
        }
        header.push_str(&headings.join(" > "));
    }
    match (header.is_empty(), text.is_empty()) {
        (true, _) => text.to_owned(),
        (false, true) => header,
        (false, false) => format!("{header}\n\n{text}"),
    }
}

/// The page of the piece `a..b` (which lies within one page, or outside all pages).
fn page_of(doc: &ParsedDoc, a: usize, b: usize) -> Option<u32> {
    if doc.pages.is_empty() {
        return None;
    }
    doc.pages
        .iter()
        .find(|p| p.start <= a && b <= p.end)
        .map(|p| p.number)
        .or_else(|| doc.page_at(a))
}

/// Byte span of `s` (which starts at `offset`) without surrounding whitespace.
fn trimmed(s: &str, offset: usize) -> (usize, usize) {
    let start = offset + (s.len() - s.trim_start().len());
    let end = offset + s.trim_end().len();
    (start, end.max(start))
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_text_leaves_out_empty_parts() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            embedding_text(Some("Guide"), &h(&["Install", "Linux"]), "Run it."),
            "Guide\nInstall > Linux\n\nRun it."
        );
        assert_eq!(
            embedding_text(Some("Guide"), &[], "Run it."),
            "Guide\n\nRun it."
        );
        assert_eq!(embedding_text(None, &h(&["A"]), "x"), "A\n\nx");
        assert_eq!(embedding_text(None, &[], "x"), "x");
        assert_eq!(embedding_text(Some("  "), &h(&["", " "]), "x"), "x");
        assert_eq!(
            embedding_text(Some("Guide"), &h(&["Guide", "Setup"]), "x"),
            "Guide\nSetup\n\nx"
        );
    }

    #[test]
    fn hard_split_respects_the_bound() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../models/dist/all-MiniLM-L6-v2-int8/tokenizer.json");
        assert!(
            path.is_file(),
            "{} is absent: run `bash models/fetch.sh` (the test command does)",
            path.display()
        );
        let counter = TokenCounter::load(&path).unwrap();
        let chunker = Chunker::new(counter.clone(), &ChunkingConfig::default(), 5);
        let text = "  The quick brown fox, jumps over the lazy dog; 日本語のテキスト  \n\n antidisestablishmentarianism!! ";
        let parts = chunker.hard_split(text, 1..text.len());
        assert!(parts.len() > 3, "{parts:?}");
        let mut covered = 0;
        for r in &parts {
            let part = &text[r.clone()];
            assert!(counter.count(part) <= 5, "{part:?}");
            assert_eq!(part.trim(), part);
            covered += part.chars().filter(|c| !c.is_whitespace()).count();
        }
        assert_eq!(covered, text.chars().filter(|c| !c.is_whitespace()).count());
    }

    #[test]
    fn trimming_and_char_boundaries() {
        assert_eq!(trimmed("  ab \n", 10), (12, 14));
        assert_eq!(trimmed("   ", 3), (6, 6));
        let s = "aé";
        assert_eq!(floor_char_boundary(s, 2), 1);
        assert_eq!(ceil_char_boundary(s, 2), 3);
    }
}
