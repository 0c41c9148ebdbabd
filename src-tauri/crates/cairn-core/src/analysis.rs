//! The English text analyser: how text becomes terms. One definition serves the full-text
//! index (`index::text`: indexing, querying), snippet highlighting (`retrieve`) and citation
//! checking (`cite`, and the answer module through it), so that a word matches the same way
//! everywhere.
//!
//! [`analyze`] gives the index's terms: tantivy's simple tokenizer, tokens longer than 40 bytes
//! dropped, lower-cased, Lucene's English stop words removed, Snowball English stemming.
//! [`content_words`] narrows those to the words that carry a claim, for citation support,
//! abstention and extractive answers.

use std::collections::HashSet;

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};

/// The English analyser shared by indexing, querying and snippet highlighting.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::new(Language::English).expect("English stop words exist"))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Analysed terms of `text`, in order, with their byte spans.
pub fn analyze(text: &str) -> Vec<(String, usize, usize)> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token();
        out.push((t.text.clone(), t.offset_from, t.offset_to));
    }
    out
}

/// Function words that the index's (Lucene) stop list keeps but that carry no claim: question
/// words, auxiliaries, pronouns, and the words answers use to refer to their sources.
const FUNCTION_WORDS: &[&str] = &[
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "do",
    "does",
    "did",
    "done",
    "doing",
    "have",
    "has",
    "had",
    "having",
    "can",
    "could",
    "would",
    "should",
    "may",
    "might",
    "must",
    "shall",
    "i",
    "you",
    "we",
    "me",
    "my",
    "our",
    "your",
    "he",
    "she",
    "him",
    "his",
    "her",
    "them",
    "its",
    "also",
    "about",
    "many",
    "much",
    "any",
    "some",
    "more",
    "most",
    "other",
    "than",
    "very",
    "just",
    "only",
    "so",
    "too",
    "from",
    "been",
    "being",
    "were",
    "am",
    "here",
    "according",
    "source",
    "sources",
    "document",
    "documents",
    "passage",
    "passages",
    "stated",
    "states",
    "says",
    "said",
    "mentioned",
    "mentions",
    "both",
    "each",
    "all",
    "yes",
    "don",
    "doesn",
    "isn",
    "aren",
    "won",
    "t",
    "s",
    "m",
    "ll",
    "re",
    "ve",
    "d",
];

/// Content words of `text`: the index analyser's stems (English stemming, stop words removed)
/// minus [`FUNCTION_WORDS`], with their byte spans.
pub fn content_words(text: &str) -> Vec<(String, usize, usize)> {
    analyze(text)
        .into_iter()
        .filter(|(_, s, e)| !FUNCTION_WORDS.contains(&text[*s..*e].to_lowercase().as_str()))
        .collect()
}

/// The distinct content-word stems of `text` (see [`content_words`]).
pub fn content_stems(text: &str) -> HashSet<String> {
    content_words(text).into_iter().map(|(t, _, _)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercased_stemmed_without_stop_words_with_spans() {
        let text = "The Running dogs";
        let terms = analyze(text);
        let stems: Vec<&str> = terms.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(stems, ["run", "dog"]);
        assert_eq!(&text[terms[0].1..terms[0].2], "Running");
    }

    #[test]
    fn content_words_drop_function_words() {
        let stems = content_stems("What does the source say about batteries?");
        let expected: HashSet<String> = ["say", "batteri"].map(String::from).into();
        assert_eq!(stems, expected);
    }
}
