//! Token counting: [`TokenCounter`] measures text in the model's tokens so that the chunker
//! cuts chunks that fit the model window. It loads the model's tokenizer.json and counts ASCII
//! text under BERT WordPiece tokenizers with a fast direct implementation (`FastWordPiece`);
//! [`TokenCounter::whitespace`] needs no model files at all (for tests and benchmarks).

use std::path::Path;
use std::sync::Arc;

use tokenizers::Tokenizer;

use super::locate::FETCH_HINT;
use crate::error::{Error, Result};

/// Counts model tokens; cheap to clone and shareable across threads.
///
/// Padding and truncation are disabled whatever the tokenizer.json says (the default one pads
/// and truncates to 128), so [`TokenCounter::count`] is the full length of the text.
///
/// For BERT WordPiece tokenizers (all-MiniLM, bge, e5...) runs of ASCII text are counted by a
/// direct implementation of the same normalisation, pre-tokenisation and WordPiece rules, many
/// times faster than a full `encode`; everything else (non-ASCII words, special-token text,
/// other tokenizer types) goes through the tokenizer itself. Both give the same count.
///
/// [`TokenCounter::whitespace`] builds a counter without a tokenizer, for tests and benchmarks.
#[derive(Clone)]
pub struct TokenCounter {
    /// `None`: the model-free counter of whitespace-separated words.
    tokenizer: Option<Arc<Tokenizer>>,
    fast: Option<Arc<FastWordPiece>>,
    /// Identifies this counter (and its clones) in the per-thread cache of slow counts.
    id: u64,
}

/// Source of [`TokenCounter`] ids.
static NEXT_COUNTER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_counter_id() -> u64 {
    NEXT_COUNTER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Longest piece whose slow count is cached, in bytes.
const SLOW_CACHE_MAX_PIECE: usize = 48;
/// Entries after which the per-thread cache is emptied.
const SLOW_CACHE_CAPACITY: usize = 1 << 16;

thread_local! {
    /// Slow-path counts of short non-ASCII pieces (words like "café", "don’t"), per thread so
    /// that counting never contends: (counter id, piece → count).
    static SLOW_CACHE: std::cell::RefCell<(u64, std::collections::HashMap<Box<str>, u32>)> =
        std::cell::RefCell::new((0, std::collections::HashMap::new()));
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field(
                "vocab_size",
                &self.tokenizer.as_ref().map(|t| t.get_vocab_size(true)),
            )
            .field("fast_path", &self.fast.is_some())
            .finish()
    }
}

impl TokenCounter {
    /// Loads a tokenizer.json.
    pub fn load(path: &Path) -> Result<TokenCounter> {
        TokenCounter::from_tokenizer(load_tokenizer(path)?)
    }

    /// Wraps a tokenizer, disabling its padding and truncation.
    pub fn from_tokenizer(mut tokenizer: Tokenizer) -> Result<TokenCounter> {
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Model(format!("cannot disable tokenizer truncation: {e}")))?;
        let fast = FastWordPiece::new(&tokenizer).map(Arc::new);
        Ok(TokenCounter {
            tokenizer: Some(Arc::new(tokenizer)),
            fast,
            id: next_counter_id(),
        })
    }

    /// A counter that needs no model files: one token per whitespace-separated word.
    ///
    /// Meant for tests and benchmarks of the chunker and the engine where the exact model
    /// tokenisation does not matter; real indexing counts with the model's tokenizer
    /// ([`TokenCounter::load`]).
    pub fn whitespace() -> TokenCounter {
        TokenCounter {
            tokenizer: None,
            fast: None,
            id: next_counter_id(),
        }
    }

    /// Number of tokens in `text`, without special tokens ([CLS], [SEP]).
    pub fn count(&self, text: &str) -> usize {
        match &self.fast {
            Some(fast) => fast.count(text, |piece| self.count_piece_cached(piece)),
            None => self.count_slow(text),
        }
    }

    /// [`TokenCounter::count`] through the tokenizer's full pipeline.
    pub fn count_slow(&self, text: &str) -> usize {
        let Some(tokenizer) = &self.tokenizer else {
            return text.split_whitespace().count();
        };
        match tokenizer.encode_fast(text, false) {
            Ok(encoding) => encoding.len(),
            // Cannot happen with the WordPiece tokenizers we ship; one token per character is
            // an upper bound for them, so chunks stay within bounds.
            Err(_) => text.chars().count(),
        }
    }

    /// The slow count of a piece the fast path cannot handle, memoised per thread.
    fn count_piece_cached(&self, piece: &str) -> usize {
        if piece.len() > SLOW_CACHE_MAX_PIECE {
            return self.count_slow(piece);
        }
        SLOW_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            let (id, map) = &mut *cache;
            if *id != self.id || map.len() >= SLOW_CACHE_CAPACITY {
                *id = self.id;
                map.clear();
            }
            if let Some(&n) = map.get(piece) {
                return n as usize;
            }
            let n = self.count_slow(piece);
            map.insert(piece.into(), n as u32);
            n
        })
    }

    /// Whether the fast path for BERT WordPiece tokenizers is in use.
    pub fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// The wrapped tokenizer (padding and truncation disabled); `None` for
    /// [`TokenCounter::whitespace`].
    pub fn tokenizer(&self) -> Option<&Tokenizer> {
        self.tokenizer.as_deref()
    }
}

impl text_splitter::ChunkSizer for TokenCounter {
    fn size(&self, chunk: &str) -> usize {
        self.count(chunk)
    }
}

/// Token counting for ASCII text under a BERT tokenizer (BertNormalizer with clean_text,
/// BertPreTokenizer, WordPiece), equal to the tokenizer's own count.
///
/// The text is cut at ASCII whitespace (space, tab, CR, LF), where the BERT pipeline always
/// splits, so counts add up across pieces. A piece that is all ASCII and cannot contain an added
/// token is counted here: ASCII control characters are removed (clean_text), every ASCII
/// punctuation character is a word of one token, and the other words go through greedy
/// longest-match-first WordPiece over the vocabulary (a word longer than
/// `max_input_chars_per_word`, or with no match, is one [UNK]). Other pieces are counted by the
/// tokenizer.
struct FastWordPiece {
    vocab: std::collections::HashSet<String>,
    prefix: String,
    max_chars: usize,
    lowercase: bool,
    /// First bytes of the added tokens (e.g. `[` of `[CLS]`): pieces containing one go the
    /// slow way, as the tokenizer may match an added token there.
    added_first: Vec<u8>,
}

impl FastWordPiece {
    fn new(tokenizer: &Tokenizer) -> Option<FastWordPiece> {
        use tokenizers::models::ModelWrapper;
        use tokenizers::normalizers::NormalizerWrapper;
        use tokenizers::pre_tokenizers::PreTokenizerWrapper;

        let Some(NormalizerWrapper::BertNormalizer(normalizer)) = tokenizer.get_normalizer() else {
            return None;
        };
        if !normalizer.clean_text {
            return None;
        }
        if !matches!(
            tokenizer.get_pre_tokenizer(),
            Some(PreTokenizerWrapper::BertPreTokenizer(_))
        ) {
            return None;
        }
        let ModelWrapper::WordPiece(model) = tokenizer.get_model() else {
            return None;
        };
        let vocab: std::collections::HashSet<String> =
            tokenizers::Model::get_vocab(model).into_keys().collect();
        if !vocab.contains(&model.unk_token) {
            return None;
        }
        let mut added_first = Vec::new();
        for token in tokenizer.get_added_tokens_decoder().values() {
            let first = token.content.bytes().next()?;
            // Only added tokens that start with ASCII punctuation and hold no whitespace keep
            // the pieces independent and rare enough to send the slow way.
            if !first.is_ascii_punctuation() || token.content.chars().any(char::is_whitespace) {
                return None;
            }
            if !added_first.contains(&first) {
                added_first.push(first);
            }
        }
        Some(FastWordPiece {
            vocab,
            prefix: model.continuing_subword_prefix.clone(),
            max_chars: model.max_input_chars_per_word,
            lowercase: normalizer.lowercase,
            added_first,
        })
    }

    fn count(&self, text: &str, slow: impl Fn(&str) -> usize) -> usize {
        let mut total = 0;
        let mut word = String::new();
        let mut key = String::new();
        for piece in text.split([' ', '\t', '\n', '\r']) {
            if piece.is_empty() {
                continue;
            }
            if !piece.is_ascii() || piece.bytes().any(|b| self.added_first.contains(&b)) {
                total += slow(piece);
                continue;
            }
            for b in piece.bytes() {
                if b.is_ascii_control() {
                    // Removed by clean_text (\t, \n, \r were split on above).
                } else if b.is_ascii_punctuation() {
                    total += self.word_count(&word, &mut key) + 1;
                    word.clear();
                } else {
                    word.push(char::from(if self.lowercase {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    }));
                }
            }
            total += self.word_count(&word, &mut key);
            word.clear();
        }
        total
    }

    /// WordPiece tokens of one ASCII word.
    fn word_count(&self, word: &str, key: &mut String) -> usize {
        if word.is_empty() {
            return 0;
        }
        if word.len() > self.max_chars {
            return 1;
        }
        let mut n = 0;
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                let sub = &word[start..end];
                let hit = if start == 0 {
                    self.vocab.contains(sub)
                } else {
                    key.clear();
                    key.push_str(&self.prefix);
                    key.push_str(sub);
                    self.vocab.contains(key.as_str())
                };
                if hit {
                    break true;
                }
                end -= 1;
                if end == start {
                    break false;
                }
            };
            if !found {
                return 1; // the whole word is [UNK]
            }
            n += 1;
            start = end;
        }
        n
    }
}

/// Reads a tokenizer.json, with an error that names the file and the fix.
pub(super) fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(path).map_err(|e| {
        Error::Model(format!(
            "cannot load tokenizer {}: {e}; {FETCH_HINT} or set embedding.tokenizer",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_counter_counts_words_without_model_files() {
        let counter = TokenCounter::whitespace();
        assert_eq!(counter.count(""), 0);
        assert_eq!(counter.count("  one\ttwo\n three  "), 3);
        assert_eq!(counter.count("café, don’t stop."), 3);
        assert_eq!(counter.count_slow("a b c"), 3);
        assert!(!counter.has_fast_path());
        assert!(counter.tokenizer().is_none());
        assert_eq!(text_splitter::ChunkSizer::size(&counter, "x y"), 2);
    }

    #[test]
    fn whitespace_counter_sizes_the_chunker() {
        let text =
            "# Guide\n\nalpha beta gamma delta. epsilon zeta eta theta. iota kappa lambda mu.\n";
        let doc = crate::parse::parse(Path::new("guide.md"), text.as_bytes()).unwrap();
        let cfg = crate::config::ChunkingConfig {
            min_tokens: 1,
            ..Default::default()
        };
        let chunker = crate::chunk::Chunker::new(TokenCounter::whitespace(), &cfg, 5);
        let chunks = chunker.chunk(&doc);
        assert!(chunks.len() >= 3, "{chunks:?}");
        for c in &chunks {
            assert!(c.text.split_whitespace().count() <= 5, "{c:?}");
            assert_eq!(&doc.text[c.start..c.end], c.text);
        }
    }
}
