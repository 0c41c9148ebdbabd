//! Embedding and chunking against the real default model (models/dist, installed by
//! `bash models/fetch.sh`). Every test returns early with a message when the files are absent.
//!
//! Throughput numbers are printed, not asserted: `cargo test -p cairn-core --test embed --
//! --nocapture`, and `-- --ignored --nocapture` for the longer benchmark.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use cairn_core::chunk::{embedding_text, ChunkDraft, Chunker};
use cairn_core::config::{ChunkingConfig, Config, EmbeddingConfig};
use cairn_core::embed::{self, Embedder, OnnxEmbedder, TokenCounter};
use cairn_core::parse::{DocKind, Page, ParsedDoc, Section};
use cairn_core::Error;

fn models_dir() -> Option<PathBuf> {
    let dir = embed::default_models_dir()?;
    dir.join(embed::DEFAULT_MODEL_DIR)
        .join("model.onnx")
        .is_file()
        .then_some(dir)
}

macro_rules! require_models {
    () => {
        match models_dir() {
            Some(dir) => dir,
            None => {
                panic!("models/dist is absent: run `bash models/fetch.sh` (the test command does)")
            }
        }
    };
}

fn embedder() -> &'static OnnxEmbedder {
    static EMBEDDER: OnceLock<OnnxEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| OnnxEmbedder::new(&EmbeddingConfig::default()).expect("default model"))
}

fn counter() -> TokenCounter {
    embedder().token_counter()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt())
}

/// Deterministic pseudo-random words (no rand dependency).
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn word(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "the",
            "index",
            "retrieval",
            "document",
            "of",
            "a",
            "local",
            "search",
            "engine",
            "vector",
            "embedding",
            "chunk",
            "citation",
            "page",
            "heading",
            "and",
            "is",
            "to",
            "knowledge",
            "base",
            "quarterly",
            "revenue",
            "grew",
            "model",
            "tokenizer",
            "runtime",
            "offline",
            "private",
            "notes",
            "meeting",
            "project",
            "deadline",
            "refund",
            "policy",
            "customer",
            "within",
            "days",
            "invoice",
            "contract",
            "Cairn",
            "2024",
            "v1.2.3",
            "e-mail",
            "naïve",
            "café",
            "über",
            "straße",
            "—",
            "(see",
            "below)",
        ];
        WORDS[(self.next() as usize) % WORDS.len()]
    }

    /// Paragraphs of sentences, separated by blank lines.
    fn prose(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes + 200);
        while s.len() < bytes {
            let sentences = 1 + self.next() % 6;
            for _ in 0..sentences {
                let words = 4 + self.next() % 20;
                for i in 0..words {
                    if i > 0 {
                        s.push(' ');
                    }
                    s.push_str(self.word());
                }
                s.push_str(". ");
            }
            // One paragraph in four ends with a single newline.
            s.push_str(["\n", "\n\n", "\n\n", "\n\n"][(self.next() % 4) as usize]);
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Embedding
// ---------------------------------------------------------------------------------------------

#[test]
fn default_model_embeds_meaningfully() {
    require_models!();
    let e = embedder();
    assert_eq!(e.dim(), 384);
    assert_eq!(e.model_id(), cairn_core::config::DEFAULT_MODEL_ID);
    let v = e
        .embed_passages(&[
            "A cat sits on the mat",
            "A kitten is sitting on a rug",
            "Quarterly revenue grew by 12 percent",
        ])
        .unwrap();
    assert_eq!(v.len(), 3);
    for x in &v {
        assert_eq!(x.len(), 384);
        let norm = dot(x, x).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let (kitten, revenue) = (dot(&v[0], &v[1]), dot(&v[0], &v[2]));
    eprintln!("cat~kitten {kitten:.3}, cat~revenue {revenue:.3}");
    assert!(kitten > revenue + 0.2, "kitten {kitten} revenue {revenue}");

    let q = e.embed_query("A cat sits on the mat").unwrap();
    assert!(cosine(&q, &v[0]) > 0.999);
    assert!(e.embed_passages(&[]).unwrap().is_empty());
}

#[test]
fn batch_and_single_embeddings_agree() {
    require_models!();
    let e = embedder();
    let mut words = Words(7);
    // Lengths that sort differently from input order, so the batch is reordered and padded.
    let texts: Vec<String> = [40, 3, 250, 12, 90, 1, 600, 25]
        .iter()
        .map(|&n| (0..n).map(|_| words.word()).collect::<Vec<_>>().join(" "))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = e.embed_passages(&refs).unwrap();
    for (text, b) in refs.iter().zip(&batch) {
        let single = e.embed_passages(&[text]).unwrap().remove(0);
        let c = cosine(&single, b);
        assert!(c > 0.999, "cosine {c} for a text of {} bytes", text.len());
    }
}

#[test]
fn long_input_is_truncated() {
    require_models!();
    let e = embedder();
    let mut words = Words(11);
    let long: String = (0..5000)
        .map(|_| words.word())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(counter().count(&long) > 5000);
    let v = e.embed_query(&long).unwrap();
    assert_eq!(v.len(), 384);
    assert!((dot(&v, &v).sqrt() - 1.0).abs() < 1e-4);
    // Truncation keeps the beginning: the same text cut at 254 tokens' worth embeds the same.
    let head: String = long.split(' ').take(150).collect::<Vec<_>>().join(" ");
    let w = e.embed_query(&head).unwrap();
    assert!(cosine(&v, &w) > 0.9, "cosine {}", cosine(&v, &w));
}

#[test]
fn bad_model_path_is_a_model_error_naming_the_path() {
    require_models!();
    // A configured file that does not exist.
    let cfg = EmbeddingConfig {
        model: PathBuf::from("/nonexistent/cairn-model.onnx"),
        ..EmbeddingConfig::default()
    };
    let err = OnnxEmbedder::new(&cfg).unwrap_err();
    assert!(matches!(err, Error::Model(_)), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/cairn-model.onnx"),
        "{err}"
    );

    // A file that exists but is not an ONNX model.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk-model.onnx");
    std::fs::write(&junk, b"this is not an onnx model").unwrap();
    let cfg = EmbeddingConfig {
        model: junk.clone(),
        ..EmbeddingConfig::default()
    };
    let err = OnnxEmbedder::new(&cfg).unwrap_err();
    assert!(matches!(err, Error::Model(_)), "{err:?}");
    assert!(
        err.to_string().contains(&junk.display().to_string()),
        "{err}"
    );
    eprintln!("{err}");
}

#[test]
fn wrong_dimension_is_reported() {
    require_models!();
    let cfg = EmbeddingConfig {
        dim: 768,
        ..EmbeddingConfig::default()
    };
    let err = OnnxEmbedder::new(&cfg).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Model(_)), "{msg}");
    assert!(msg.contains("384") && msg.contains("768"), "{msg}");
}

#[test]
fn second_library_path_does_not_panic() {
    let dir = require_models!();
    embedder(); // ONNX Runtime loaded from the default path
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join(embed::ORT_LIBRARY_FILE);
    std::fs::copy(dir.join("onnxruntime").join(embed::ORT_LIBRARY_FILE), &copy).unwrap();
    let cfg = EmbeddingConfig {
        onnxruntime: copy,
        threads: 1,
        ..EmbeddingConfig::default()
    };
    let other = OnnxEmbedder::new(&cfg).unwrap();
    let a = other.embed_query("hello world").unwrap();
    let b = embedder().embed_query("hello world").unwrap();
    assert!(cosine(&a, &b) > 0.9999);
}

#[test]
fn token_counter_matches_the_tokenizer_without_special_tokens() {
    let dir = require_models!();
    let path = dir.join(embed::DEFAULT_MODEL_DIR).join("tokenizer.json");
    let counter = TokenCounter::load(&path).unwrap();
    let mut raw = tokenizers::Tokenizer::from_file(&path).unwrap();
    raw.with_truncation(None).unwrap();
    raw.with_padding(None);
    let mut words = Words(3);
    let long = words.prose(5000);
    for text in [
        "",
        "hello",
        "Hello, world!",
        "Unbelievably tokenizable antidisestablishmentarianism",
        "日本語のテキスト",
        long.as_str(),
    ] {
        let expected = raw.encode(text, false).unwrap().get_ids().len();
        assert_eq!(counter.count(text), expected, "{text:.40}");
    }
    assert!(counter.has_fast_path());

    // The fast path must agree with the tokenizer on anything: random mixtures of ASCII
    // (controls, all punctuation, long words), special-token text and non-ASCII.
    let common: Vec<String> = (0..40).map(|_| words.word().to_string()).collect();
    let alphabet: Vec<String> = (0u8..128)
        .map(|b| char::from(b).to_string())
        .chain(
            [
                "[CLS]", "[mask]", "[SEP]", "##", "token", "izable", "ing", "un", "Straße", "é",
                "e\u{301}", "\u{a0}", "\u{2019}", "\u{2014}", "日本", "ｱ", "\u{fffd}", "🙂",
                "\u{200b}", "\u{85}", "\u{3000}", "ﬁ", "İ", "Ω", "\u{c}", "\u{b}",
            ]
            .map(String::from),
        )
        .chain((0..20).map(|_| {
            let n = 1 + (words.next() % 130) as usize;
            (0..n)
                .map(|_| char::from(b'a' + (words.next() % 26) as u8))
                .collect()
        }))
        .chain(common)
        .collect();
    for _ in 0..4000 {
        let n = (words.next() % 80) as usize;
        let text: String = (0..n)
            .map(|_| {
                let i = (words.next() as usize) % alphabet.len();
                // Mostly words and spaces, like real text.
                [" ", alphabet[i].as_str(), alphabet[i].as_str()][(words.next() % 3) as usize]
            })
            .collect();
        let expected = raw.encode(text.as_str(), false).unwrap().get_ids().len();
        assert_eq!(counter.count(&text), expected, "{text:?}");
        assert_eq!(counter.count_slow(&text), expected, "{text:?}");
    }

    // The shipped tokenizer.json truncates at 128: the counter must not.
    assert!(counter.count(&long) > 500);
    assert_eq!(counter.count("hello world"), 2);
}

#[test]
fn default_files_resolve() {
    let dir = require_models!();
    let r = embed::resolve(&EmbeddingConfig::default()).unwrap();
    assert!(r.model.starts_with(&dir) && r.tokenizer.starts_with(&dir));
    if std::env::var_os(embed::ORT_DYLIB_ENV).is_none() {
        assert!(r.onnxruntime.starts_with(&dir));
    }
}

#[test]
fn embedding_throughput() {
    require_models!();
    report_embedding_throughput(64);
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn embedding_throughput_long() {
    require_models!();
    report_embedding_throughput(1024);
}

fn report_embedding_throughput(n: usize) {
    let e = embedder();
    let c = counter();
    let mut words = Words(99);
    let chunker = Chunker::new(c.clone(), &ChunkingConfig::default(), 200);
    let doc = plain_doc(&words.prose(n * 1400));
    let chunks: Vec<String> = chunker
        .chunk(&doc)
        .into_iter()
        .filter(|ch| c.count(&ch.text) > 150)
        .take(n)
        .map(|ch| ch.text)
        .collect();
    let avg = chunks.iter().map(|t| c.count(t)).sum::<usize>() / chunks.len().max(1);
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let t = Instant::now();
    let v = e.embed_passages(&refs).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(v.len(), chunks.len());
    eprintln!(
        "embedding throughput: {} chunks of ~{avg} tokens, batch {}, in {secs:.2} s = {:.1} chunks/s",
        chunks.len(),
        EmbeddingConfig::default().batch_size,
        chunks.len() as f64 / secs
    );
}

// ---------------------------------------------------------------------------------------------
// Chunking
// ---------------------------------------------------------------------------------------------

fn plain_doc(text: &str) -> ParsedDoc {
    ParsedDoc {
        kind: DocKind::Text,
        title: None,
        text: text.to_owned(),
        sections: vec![Section {
            start: 0,
            end: text.len(),
            heading_path: vec![],
        }],
        pages: vec![],
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    }
}

fn h(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
}

/// Builds a document from (heading path, body) sections; headings are written into the text
/// (outside the sections, as a Markdown parser would leave them).
fn sectioned_doc(parts: &[(&[&str], &str)]) -> ParsedDoc {
    let mut text = String::new();
    let mut sections = Vec::new();
    for (path, body) in parts {
        if let Some(last) = path.last() {
            text.push_str(last);
            text.push_str("\n\n");
        }
        let start = text.len();
        text.push_str(body);
        sections.push(Section {
            start,
            end: text.len(),
            heading_path: h(path),
        });
        text.push_str("\n\n");
    }
    ParsedDoc {
        kind: DocKind::Markdown,
        title: Some("Doc".into()),
        text,
        sections,
        pages: vec![],
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    }
}

/// Checks the invariants every chunking must keep and returns the chunks.
fn check(chunker: &Chunker, counter: &TokenCounter, doc: &ParsedDoc) -> Vec<ChunkDraft> {
    let chunks = chunker.chunk(doc);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.ordinal as usize, i);
        assert_eq!(&doc.text[c.start..c.end], c.text, "span of chunk {i}");
        assert!(!c.text.trim().is_empty());
        assert_eq!(c.text.trim(), c.text, "chunk {i} is not trimmed");
        let n = counter.count(&c.text);
        assert!(
            n <= chunker.max_tokens(),
            "chunk {i} has {n} tokens > {}",
            chunker.max_tokens()
        );
        if let Some(page) = c.page {
            let p = doc.pages.iter().find(|p| p.number == page).unwrap();
            assert!(
                p.start <= c.start && c.end <= p.end,
                "chunk {i} leaves page {page}"
            );
        }
        if i > 0 {
            assert!(chunks[i - 1].start <= c.start, "chunks out of order");
        }
    }
    chunks
}

/// Without overlap, every non-whitespace character inside a section is in exactly one chunk.
fn assert_covers_sections(doc: &ParsedDoc, chunks: &[ChunkDraft]) {
    let mut covered = vec![0u8; doc.text.len()];
    for c in chunks {
        for b in &mut covered[c.start..c.end] {
            *b += 1;
        }
    }
    for s in &doc.sections {
        for (i, ch) in doc.text[s.start..s.end].char_indices() {
            let at = s.start + i;
            if !ch.is_whitespace() {
                assert_eq!(
                    covered[at], 1,
                    "byte {at} ({ch:?}) covered {} times",
                    covered[at]
                );
            }
        }
    }
}

#[test]
fn sections_keep_headings_and_exact_spans() {
    require_models!();
    let counter = counter();
    let chunker = Chunker::new(counter.clone(), &ChunkingConfig::default(), 200);
    let mut words = Words(5);
    let long = words.prose(6000);
    let medium = words.prose(600);
    let doc = sectioned_doc(&[
        (&[], "Preamble before any heading, long enough to stand alone as its own little chunk of text here and more words to pass the minimum size of thirty-two tokens easily."),
        (&["Install"], &medium),
        (&["Install", "Linux"], &long),
        (&["Usage"], &medium),
    ]);
    let chunks = check(&chunker, &counter, &doc);
    assert_covers_sections(&doc, &chunks);
    assert!(chunks.len() > 4, "{} chunks", chunks.len());
    // Every chunk lies inside one section and carries that section's heading path.
    for c in &chunks {
        let s = doc
            .sections
            .iter()
            .find(|s| s.start <= c.start && c.end <= s.end)
            .expect("chunk inside one section");
        assert_eq!(c.heading_path, s.heading_path);
        assert_eq!(c.page, None);
    }
    let linux: Vec<_> = chunks
        .iter()
        .filter(|c| c.heading_path == h(&["Install", "Linux"]))
        .collect();
    assert!(linux.len() >= 5);
    let sizes: Vec<usize> = linux.iter().map(|c| counter.count(&c.text)).collect();
    eprintln!("token sizes of the long section's chunks: {sizes:?}");
    // Filled towards the maximum, not cut at the minimum.
    let avg = sizes.iter().sum::<usize>() / sizes.len();
    assert!(avg > 120, "average chunk of {avg} tokens");

    let t = embedding_text(doc.title.as_deref(), &linux[0].heading_path, &linux[0].text);
    assert!(t.starts_with("Doc\nInstall > Linux\n\n"));
}

#[test]
fn pdf_chunks_never_cross_pages() {
    require_models!();
    let counter = counter();
    let chunker = Chunker::new(counter.clone(), &ChunkingConfig::default(), 200);
    let mut words = Words(17);
    let mut text = String::new();
    let mut pages = Vec::new();
    for number in 1..=4u32 {
        let start = text.len();
        // Page 3 is short; the others are longer than one chunk.
        let body = words.prose(if number == 3 { 120 } else { 2500 });
        text.push_str(&body);
        pages.push(Page {
            number,
            start,
            end: text.len(),
        });
        text.push('\u{c}');
    }
    // One section across pages 1-2 and part of 3, another for the rest.
    let split = pages[2].start + 40;
    let split = (split..).find(|&i| text.is_char_boundary(i)).unwrap();
    let doc = ParsedDoc {
        kind: DocKind::Pdf,
        title: Some("Report".into()),
        sections: vec![
            Section {
                start: 0,
                end: split,
                heading_path: h(&["Part A"]),
            },
            Section {
                start: split,
                end: text.len(),
                heading_path: h(&["Part B"]),
            },
        ],
        text,
        pages,
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    };
    let chunks = check(&chunker, &counter, &doc);
    assert_covers_sections(&doc, &chunks);
    for number in 1..=4 {
        assert!(
            chunks.iter().any(|c| c.page == Some(number)),
            "no chunk on page {number}"
        );
    }
    for c in &chunks {
        let page = c.page.expect("pdf chunks have pages");
        assert_eq!(doc.page_at(c.start), Some(page));
        let expected = if c.start < split { "Part A" } else { "Part B" };
        assert_eq!(c.heading_path, h(&[expected]));
    }
    // Page 3's two small pieces (end of Part A, start of Part B) belong to different sections:
    // they stay apart so that each keeps its heading.
    let page3: Vec<_> = chunks.iter().filter(|c| c.page == Some(3)).collect();
    assert_eq!(page3.len(), 2, "{page3:#?}");
    assert_eq!(page3[0].heading_path, h(&["Part A"]));
    assert_eq!(page3[1].heading_path, h(&["Part B"]));
}

#[test]
fn tiny_sections_are_merged_within_bounds() {
    require_models!();
    let counter = counter();
    let chunker = Chunker::new(counter.clone(), &ChunkingConfig::default(), 200);
    let doc = sectioned_doc(&[
        (&["A"], "Alpha is short."),
        (&["A", "B"], "Beta is short too."),
        (&["C"], "Gamma as well."),
        (&["D"], "   \n\n  "),
        (&["E"], "Epsilon, part one."),
        (&["E"], "Epsilon, part two."),
    ]);
    let chunks = check(&chunker, &counter, &doc);
    let summary: Vec<_> = chunks
        .iter()
        .map(|c| (c.heading_path.join(" > "), c.text.as_str()))
        .collect();
    // A short lead-in joins its first subsection and takes the subsection's heading path;
    // unrelated sections stay apart; tiny pieces of one section merge; whitespace-only
    // sections produce nothing.
    assert_eq!(
        summary,
        vec![
            (
                "A > B".to_string(),
                "Alpha is short.\n\nB\n\nBeta is short too."
            ),
            ("C".to_string(), "Gamma as well."),
            (
                "E".to_string(),
                "Epsilon, part one.\n\nE\n\nEpsilon, part two."
            ),
        ],
        "{chunks:#?}"
    );

    // Large neighbours are not merged.
    let mut words = Words(23);
    let big1 = words.prose(700);
    let big2 = words.prose(700);
    let doc = sectioned_doc(&[(&["X"], &big1), (&["Y"], &big2)]);
    let chunks = check(&chunker, &counter, &doc);
    assert!(chunks.iter().any(|c| c.heading_path == h(&["Y"])));
}

#[test]
fn adversarial_text_respects_the_token_bound() {
    require_models!();
    let counter = counter();
    for max in [200, 16] {
        let chunker = Chunker::new(counter.clone(), &ChunkingConfig::default(), max);
        let mut words = Words(31);
        let no_spaces: String = (0..10_000)
            .map(|_| (b'a' + (words.next() % 26) as u8) as char)
            .collect();
        let mixed_no_spaces: String = (0..2_000)
            .map(|i| ["ab", "x9", "Q,", "ü", "-"][(i * 7 + i / 3) % 5])
            .collect();
        let digits: String = (0..5_000)
            .map(|i| char::from(b'0' + (i % 10) as u8))
            .collect();
        let numbers: String = (0..3_000)
            .map(|i| format!("{}.{}", i * 7919, i % 97))
            .collect::<Vec<_>>()
            .join(",");
        let cjk: String =
            "知识库是本地优先的检索系统。日本語の文章も含まれます。한국어 문장도 있습니다。"
                .repeat(150);
        let emoji = "👩‍👩‍👧‍👦🏳️‍🌈e\u{301}".repeat(800);
        let spaces = format!("{}x{}", " ".repeat(5_000), "\n".repeat(5_000));
        for text in [
            &no_spaces,
            &mixed_no_spaces,
            &digits,
            &numbers,
            &cjk,
            &emoji,
            &spaces,
        ] {
            let doc = plain_doc(text);
            let chunks = check(&chunker, &counter, &doc);
            assert_covers_sections(&doc, &chunks);
            assert!(!chunks.is_empty());
        }
    }
}

#[test]
fn overlap_and_odd_sections() {
    require_models!();
    let counter = counter();
    let cfg = ChunkingConfig {
        overlap_tokens: 20,
        ..ChunkingConfig::default()
    };
    let chunker = Chunker::new(counter.clone(), &cfg, 100);
    let mut words = Words(41);
    let doc = plain_doc(&words.prose(8000));
    let chunks = check(&chunker, &counter, &doc);
    assert!(
        chunks.windows(2).any(|w| w[1].start < w[0].end),
        "no overlap"
    );

    // No sections at all: the whole text is one section. Out-of-range / mid-character section
    // bounds are clamped instead of panicking.
    let mut doc = plain_doc("Café au lait. Über alles. Straße.");
    doc.sections.clear();
    let chunks = check(&chunker, &counter, &doc);
    assert_eq!(chunks.len(), 1);
    doc.sections = vec![Section {
        start: 4,
        end: 10_000,
        heading_path: vec![],
    }];
    let chunks = check(&chunker, &counter, &doc);
    assert_eq!(chunks[0].start, 3);
    assert!(chunker.chunk(&plain_doc("")).is_empty());
}

#[test]
fn chunking_throughput() {
    require_models!();
    let counter = counter();
    let chunker = Chunker::new(
        counter.clone(),
        &ChunkingConfig::default(),
        Config::default().chunk_tokens(),
    );
    let mut words = Words(77);
    let text = words.prose(4 << 20);
    // 8 sections, as a long structured document.
    let step = text.len() / 8;
    let mut sections = Vec::new();
    let mut start = 0;
    for i in 0..8 {
        let mut end = if i == 7 { text.len() } else { start + step };
        while !text.is_char_boundary(end) {
            end += 1;
        }
        sections.push(Section {
            start,
            end,
            heading_path: h(&["Part", &i.to_string()]),
        });
        start = end;
    }
    let doc = ParsedDoc {
        kind: DocKind::Markdown,
        title: None,
        text,
        sections,
        pages: vec![],
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    };
    let t = Instant::now();
    let chunks = chunker.chunk(&doc);
    let secs = t.elapsed().as_secs_f64();
    let mb = doc.text.len() as f64 / 1e6;
    eprintln!(
        "chunking throughput: {mb:.1} MB into {} chunks in {secs:.2} s = {:.2} MB/s (one thread)",
        chunks.len(),
        mb / secs
    );
    let t = Instant::now();
    let tokens = counter.count(&doc.text);
    eprintln!(
        "  (tokenizing alone: {tokens} tokens in {:.2} s = {:.2} MB/s)",
        t.elapsed().as_secs_f64(),
        mb / t.elapsed().as_secs_f64()
    );
    assert!(!chunks.is_empty());
}
