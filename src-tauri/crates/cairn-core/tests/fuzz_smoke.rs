//! The fuzz targets' bounded smoke run, on the stable toolchain (part of the test command): every
//! target of `cairn_core::fuzzing` (the bodies the cargo-fuzz targets run) over its generated
//! seeds plus deterministic mutations of them (bit flips, interesting bytes, truncations,
//! deletions, duplications, splices, repeated runs that build deep nesting). A broken promise
//! or a panic fails the test and leaves the input in the temporary directory, named in the
//! message. `CAIRN_FUZZ_ROUNDS` sets the mutations per target (default 2000). The real fuzzers
//! run for longer with cargo-fuzz: docs/fuzzing.md.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use cairn_core::fuzzing::{seeds, Target};

/// splitmix64: a small deterministic generator (no dependency, same inputs on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes that matter to the formats: delimiters, brackets, line breaks, extremes.
const INTERESTING: &[u8] = b"\0\xff\x7f\x80[]<>()/\\\n\r\x0c\t #*`|&;\"'%{}";

/// One deterministic mutation of `input`, sometimes spliced with `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let len = out.len().max(1);
    match rng.below(8) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                if !out.is_empty() {
                    let at = rng.below(out.len());
                    out[at] ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            for _ in 0..1 + rng.below(4) {
                if !out.is_empty() {
                    let at = rng.below(out.len());
                    out[at] = INTERESTING[rng.below(INTERESTING.len())];
                }
            }
        }
        2 => out.truncate(rng.below(len)),
        3 => {
            let at = rng.below(len);
            let n = rng.below(len - at + 1).min(64);
            out.drain(at.min(out.len())..(at + n).min(out.len()));
        }
        4 => {
            let at = rng.below(len).min(out.len());
            let n = (1 + rng.below(32)).min(out.len() - at);
            let copy = out[at..at + n].to_vec();
            out.splice(at..at, copy);
        }
        5 => {
            let cut = rng.below(len).min(out.len());
            let from = rng.below(other.len().max(1)).min(other.len());
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        6 => {
            let at = rng.below(len).min(out.len());
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            out.splice(at..at, bytes);
        }
        _ => {
            // A run of one delimiter (or a short piece of the input) repeated: deep nesting.
            let at = rng.below(len).min(out.len());
            let unit = if rng.below(2) == 0 || out.is_empty() {
                vec![INTERESTING[rng.below(INTERESTING.len())]]
            } else {
                let n = (1 + rng.below(8)).min(out.len() - at).max(1);
                out[at.min(out.len() - n)..at.min(out.len() - n) + n].to_vec()
            };
            let run = unit.repeat(16 << rng.below(8));
            out.splice(at..at, run);
        }
    }
    out
}

/// Runs `target` on `input`; on a panic, saves the input and fails naming it.
fn run_one(target: Target, input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| target.run(input))).is_err() {
        let file = std::env::temp_dir().join(format!("cairn-fuzz-{}-{what}", target.name()));
        std::fs::write(&file, input).unwrap();
        panic!(
            "fuzz target `{}` failed on {what} (input saved to {}; replay it with \
             `cargo fuzz run {} FILE`, docs/fuzzing.md)",
            target.name(),
            file.display(),
            target.fuzz_target()
        );
    }
}

fn smoke(target: Target) {
    let rounds: usize = std::env::var("CAIRN_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let corpus = seeds(target);
    assert!(!corpus.is_empty());
    for (i, seed) in corpus.iter().enumerate() {
        run_one(target, seed, &format!("seed-{i}"));
    }
    let mut rng = Rng(0xCA1F_0000 + target as u64);
    for round in 0..rounds {
        let input = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        let mut mutated = mutate(&mut rng, input, other);
        // Stacked mutations reach further from the seeds.
        for _ in 0..rng.below(3) {
            mutated = mutate(&mut rng, &mutated, other);
        }
        run_one(target, &mutated, &format!("round-{round}"));
    }
}

/// Runs each target on a thread with a large stack: the parsers recurse, and a deep but finite
/// recursion is not what this test looks for (an endless one still fails it).
fn smoke_on_big_stack(target: Target) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || smoke(target))
        .unwrap()
        .join()
        .unwrap_or_else(|_| panic!("fuzz smoke run of `{}` failed", target.name()));
}

#[test]
fn detect() {
    smoke_on_big_stack(Target::Detect);
}

#[test]
fn parse_text() {
    smoke_on_big_stack(Target::Text);
}

#[test]
fn parse_markdown() {
    smoke_on_big_stack(Target::Markdown);
}

#[test]
fn parse_html() {
    smoke_on_big_stack(Target::Html);
}

#[test]
fn parse_pdf() {
    smoke_on_big_stack(Target::Pdf);
}

#[test]
fn parse_docx() {
    smoke_on_big_stack(Target::Docx);
}

#[test]
fn parse_spreadsheet() {
    smoke_on_big_stack(Target::Spreadsheet);
}

#[test]
fn parse_csv() {
    smoke_on_big_stack(Target::Csv);
}

#[test]
fn parse_presentation() {
    smoke_on_big_stack(Target::Presentation);
}

#[test]
fn parse_odt() {
    smoke_on_big_stack(Target::Odt);
}

#[test]
fn parse_epub() {
    smoke_on_big_stack(Target::Epub);
}

#[test]
fn parse_mail() {
    smoke_on_big_stack(Target::Mail);
}

#[test]
fn parse_code() {
    smoke_on_big_stack(Target::Code);
}

#[test]
fn chunk() {
    let tokenizer = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../models/dist/all-MiniLM-L6-v2-int8/tokenizer.json");
    assert!(
        tokenizer.is_file(),
        "{} is absent: run `bash models/fetch.sh` (the test command does)",
        tokenizer.display()
    );
    smoke_on_big_stack(Target::Chunk);
}

#[test]
fn cite() {
    smoke_on_big_stack(Target::Cite);
}

/// With `CAIRN_FUZZ_SEEDS=1`, writes the seeds into the cargo-fuzz corpus folders
/// (`fuzz/corpus/<target>/`, git-ignored) for `cargo fuzz run` (docs/fuzzing.md).
#[test]
fn write_seed_corpus() {
    if std::env::var_os("CAIRN_FUZZ_SEEDS").is_none() {
        return;
    }
    for target in Target::ALL {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target.fuzz_target());
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds(target).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed).unwrap();
        }
    }
}

#[test]
fn seeds_parse() {
    // The seeds are valid documents: each parses (so mutations start from real structure).
    for target in [
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
    ] {
        let kind = cairn_core::parse::DocKind::from_name(target.name()).unwrap();
        for (i, seed) in seeds(target).iter().enumerate() {
            if seed.is_empty() {
                continue;
            }
            let doc = cairn_core::parse::parse_kind(Path::new("seed"), kind, seed)
                .unwrap_or_else(|e| panic!("{} seed {i}: {e}", target.name()));
            assert!(!doc.text.trim().is_empty(), "{} seed {i}", target.name());
        }
    }
}
