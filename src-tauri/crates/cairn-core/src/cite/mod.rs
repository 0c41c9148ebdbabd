//! Citations in an answer: parsing `[n]` marks, splitting the answer into sentences, and
//! checking every citation against the passage it points to.
//!
//! Verification is lexical and deliberately strict, because the default local model is small
//! and invents things (BUILD-FACTS.md):
//! - a citation to a number that was not a source in the prompt is [`Verdict::Invalid`];
//! - a citation is [`Verdict::Supported`] when at least `min_support` of the distinct content
//!   words (stemmed, stop words removed, by [`crate::analysis::content_words`]) of the sentence
//!   that carries it occur in the cited passage (or, for a sentence citing several sources, in
//!   their union, each contributing at least one word), and every "quoted" span of the
//!   sentence appears verbatim (case and whitespace normalised) in a cited passage;
//! - a citation whose sentence states a different number, amount, date or duration than the
//!   matching part of its passage, or the opposite polarity ("may" against "may not"), is
//!   [`Verdict::Contradicted`] ([`contradict`]), whatever its word overlap;
//! - otherwise it is [`Verdict::Unsupported`].
//!
//! Sentences with content words but no citation are flagged `uncited`. Nothing here decides
//! what to show: callers must present invalid, contradicted and unsupported citations as such.

mod contradict;
mod quantity;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

// The analyser lives in `analysis`; content words are re-exported at their historical path.
pub use crate::analysis::{content_stems, content_words};

/// One citation number found in an answer, with the byte span of its bracket group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub n: usize,
    pub start: usize,
    pub end: usize,
}

/// Finds citation groups: `[1]`, `[1][2]`, `[1, 2]`, `[1;2]`. Anything else in brackets
/// (`[note]`, `[1a]`, empty brackets) is not a citation.
pub fn parse_marks(text: &str) -> Vec<Mark> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'[' {
            i += 1;
            continue;
        }
        // A group is at most 40 bytes long: looking further would make `[[[[…]` quadratic.
        let window = &bytes[i + 1..bytes.len().min(i + 42)];
        let Some(close) = window.iter().position(|&b| b == b']').map(|c| i + 1 + c) else {
            i += 1;
            continue;
        };
        let inner = &text[i + 1..close];
        let numbers: Option<Vec<usize>> = if inner.len() <= 40 {
            inner
                .split([',', ';'])
                .map(|p| {
                    let p = p.trim();
                    if !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()) {
                        p.parse().ok()
                    } else {
                        None
                    }
                })
                .collect()
        } else {
            None
        };
        match numbers {
            Some(ns) => {
                for n in ns {
                    out.push(Mark {
                        n,
                        start: i,
                        end: close + 1,
                    });
                }
                i = close + 1;
            }
            None => i += 1,
        }
    }
    out
}

/// Removes citation groups from `text` and tidies the spaces they leave.
pub fn strip_marks(text: &str) -> String {
    let marks = parse_marks(text);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in &marks {
        if m.start >= at {
            out.push_str(&text[at..m.start]);
            at = m.end;
        }
    }
    out.push_str(&text[at..]);
    collapse_ws(&out).replace(" .", ".").replace(" ,", ",")
}

/// Collapses whitespace runs to one space and trims.
pub fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "mr", "mrs", "ms", "dr", "st", "vs", "no", "fig", "cf", "approx", "inc", "ltd",
    "jr", "sr", "prof", "p", "pp", "vol", "al",
];

/// Byte spans of the sentences of `text`, trimmed. A sentence ends at `.`, `!` or `?`
/// (after any closing quotes or brackets and any citation groups that follow) when
/// whitespace and a non-lowercase character follow; a blank line always ends one, and with
/// `lines` so does every line break (answers written as lists).
pub fn sentences(text: &str, lines: bool) -> Vec<(usize, usize)> {
    let marks = parse_marks(text);
    let bytes = text.as_bytes();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' {
            let blank = text[i + 1..]
                .chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\n');
            if lines || blank {
                cuts.push(i);
            }
            i += 1;
            continue;
        }
        if !matches!(b, b'.' | b'!' | b'?') {
            i += 1;
            continue;
        }
        if b == b'.' && is_abbreviation(&text[..i]) {
            i += 1;
            continue;
        }
        // Closing quotes, brackets and repeated terminators, then citation groups.
        let mut j = i + 1;
        while let Some(c) = text[j..].chars().next() {
            if matches!(
                c,
                '"' | '\'' | ')' | '.' | '!' | '?' | '\u{201d}' | '\u{2019}'
            ) {
                j += c.len_utf8();
            } else {
                break;
            }
        }
        loop {
            let k = j + text[j..].len() - text[j..].trim_start_matches([' ', '\t']).len();
            match marks.iter().find(|m| m.start == k) {
                Some(m) => j = m.end,
                None => break,
            }
        }
        let rest = &text[j..];
        let next = rest.trim_start().chars().next();
        let ends = rest.is_empty()
            || (rest.starts_with(char::is_whitespace) && next.is_none_or(|c| !c.is_lowercase()));
        if ends {
            cuts.push(j);
        }
        i = j.max(i + 1);
    }
    let mut spans = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(text.len())) {
        if cut < start {
            continue;
        }
        let piece = &text[start..cut];
        let s = start + (piece.len() - piece.trim_start().len());
        let e = start + piece.trim_end().len();
        if s < e {
            spans.push((s, e));
        }
        start = cut;
    }
    spans
}

fn is_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_lowercase();
    if word.is_empty() {
        return false;
    }
    // Initials ("J. Smith") and known abbreviations; a number before the dot ends a sentence.
    (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
        || ABBREVIATIONS.contains(&word.as_str())
}

/// Text between double quotes (straight or curly) of at least two words or eight characters.
pub fn quotes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((open, close)) = rest
        .char_indices()
        .find(|(_, c)| *c == '"' || *c == '\u{201c}')
        .map(|(i, c)| (i + c.len_utf8(), if c == '"' { '"' } else { '\u{201d}' }))
    {
        let Some(len) = rest[open..].find(close) else {
            break;
        };
        let q = rest[open..open + len].trim();
        if q.split_whitespace().count() >= 2 || q.chars().count() >= 8 {
            out.push(q.to_owned());
        }
        rest = &rest[open + len + close.len_utf8()..];
    }
    out
}

/// Lowercase, curly quotes made straight, whitespace collapsed: for verbatim comparisons.
pub fn normalise(s: &str) -> String {
    collapse_ws(
        &s.to_lowercase()
            .replace(['\u{2018}', '\u{2019}'], "'")
            .replace(['\u{201c}', '\u{201d}'], "\""),
    )
}

/// True when a sentence says the sources do not hold the answer ("I don't know ...").
pub fn is_refusal(sentence: &str, refusal: &str) -> bool {
    let s = normalise(&strip_marks(sentence));
    let r = normalise(refusal);
    let r = r.trim_end_matches('.');
    s.starts_with(r)
        || s.starts_with("i do not know")
        || s.starts_with("i don't know")
        || s.starts_with("the sources do not")
}

/// How a citation checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The cited passage supports the sentence (lexically, and any quote is verbatim in it).
    Supported,
    /// The passage exists but does not support the sentence.
    Unsupported,
    /// The passage says otherwise: a different number, date or amount, or the opposite
    /// polarity ("may" against "may not").
    Contradicted,
    /// The number is not one of the sources that were given.
    Invalid,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Unsupported => "unsupported",
            Verdict::Contradicted => "contradicted",
            Verdict::Invalid => "invalid",
        }
    }
}

/// A source passage as the checker sees it: its number and the text it may support.
#[derive(Debug, Clone)]
pub struct SourceText<'a> {
    pub n: usize,
    /// The passage text.
    pub text: &'a str,
    /// Title and heading path: words there count as support too.
    pub context: String,
}

/// One sentence of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentenceCheck {
    /// Byte span in the answer text.
    pub span: (usize, usize),
    pub text: String,
    /// Source numbers cited by this sentence, in order, without repeats.
    pub cited: Vec<usize>,
    /// Has content words but no citation (refusals are never flagged).
    pub uncited: bool,
}

/// The check of one citation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CitationCheck {
    pub n: usize,
    /// Index into [`Verification::sentences`].
    pub sentence: usize,
    pub verdict: Verdict,
    /// Share of the sentence's content words found in the passage (0 for invalid ones).
    pub support: f32,
    /// Why it is not supported.
    pub reason: Option<String>,
}

/// Sentences and citation verdicts of an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub sentences: Vec<SentenceCheck>,
    pub citations: Vec<CitationCheck>,
}

impl Verification {
    pub fn uncited(&self) -> impl Iterator<Item = &SentenceCheck> {
        self.sentences.iter().filter(|s| s.uncited)
    }

    pub fn all_supported(&self) -> bool {
        self.citations
            .iter()
            .all(|c| c.verdict == Verdict::Supported)
    }
}

/// Splits `answer` into sentences, attaches each citation group to the sentence it closes,
/// and checks every citation against `sources`.
pub fn verify(
    answer: &str,
    sources: &[SourceText<'_>],
    min_support: f32,
    refusal: &str,
) -> Verification {
    let marks = parse_marks(answer);
    let spans = sentences(answer, true);
    // Marks per sentence; a sentence that starts with marks hands them to the one before
    // ("... fourteen days. [1] Next ...").
    let mut cited: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (si, (s, e)) in spans.iter().enumerate() {
        let mut leading = true;
        let mut at = *s;
        for m in marks.iter().filter(|m| m.start >= *s && m.end <= *e) {
            // A mark starting before `at` shares the group just handed over (`[1, 2]`).
            let gap = answer.get(at..m.start);
            if leading && si > 0 && gap.is_none_or(|g| g.trim().is_empty()) {
                cited[si - 1].push(m.n);
                at = m.end;
                continue;
            }
            leading = false;
            cited[si].push(m.n);
        }
    }
    let passages: Vec<(usize, HashSet<String>, String)> = sources
        .iter()
        .map(|s| {
            let mut stems = content_stems(s.text);
            stems.extend(content_stems(&s.context));
            (s.n, stems, normalise(s.text))
        })
        .collect();
    let mut out = Verification::default();
    for (si, (s, e)) in spans.iter().enumerate() {
        let raw = &answer[*s..*e];
        let claim_text = strip_marks(raw);
        let mut numbers = Vec::new();
        for n in &cited[si] {
            if !numbers.contains(n) {
                numbers.push(*n);
            }
        }
        let claim = content_stems(&claim_text);
        if claim_text.trim().is_empty() && numbers.is_empty() {
            // Only marks, already handed to the sentence before.
            continue;
        }
        let refusal_sentence = is_refusal(raw, refusal);
        let sentence = out.sentences.len();
        out.sentences.push(SentenceCheck {
            span: (*s, *e),
            text: raw.to_owned(),
            cited: numbers.clone(),
            uncited: numbers.is_empty() && !claim.is_empty() && !refusal_sentence,
        });
        let known: Vec<&(usize, HashSet<String>, String)> = numbers
            .iter()
            .filter_map(|n| passages.iter().find(|p| p.0 == *n))
            .collect();
        let union: HashSet<&String> = known
            .iter()
            .flat_map(|p| claim.intersection(&p.1))
            .collect();
        let union_share = share(union.len(), claim.len());
        let quoted = quotes(&claim_text);
        let missing_quote = quoted
            .iter()
            .find(|q| !known.iter().any(|p| p.2.contains(&normalise(q))));
        for n in numbers {
            let Some(p) = known.iter().find(|p| p.0 == n) else {
                out.citations.push(CitationCheck {
                    n,
                    sentence,
                    verdict: Verdict::Invalid,
                    support: 0.0,
                    reason: Some(format!(
                        "there is no source [{n}] (the answer was given {} source{})",
                        sources.len(),
                        if sources.len() == 1 { "" } else { "s" }
                    )),
                });
                continue;
            };
            let own = claim.intersection(&p.1).count();
            let support = share(own, claim.len());
            let lexical = support >= min_support || (union_share >= min_support && own > 0);
            let others: Vec<&str> = known
                .iter()
                .filter(|o| o.0 != n)
                .filter_map(|o| sources.iter().find(|s| s.n == o.0).map(|s| s.text))
                .collect();
            let text = sources.iter().find(|s| s.n == n).map_or("", |s| s.text);
            let contradiction = if claim.is_empty() || refusal_sentence {
                None
            } else {
                contradict::check(&claim_text, text, &others)
            };
            let (verdict, reason) = if let Some(c) = contradiction {
                (Verdict::Contradicted, Some(c.reason(n)))
            } else if claim.is_empty() {
                (
                    Verdict::Unsupported,
                    Some("the sentence has no content words to check".to_owned()),
                )
            } else if !lexical {
                (
                    Verdict::Unsupported,
                    Some(format!(
                        "only {:.0}% of the sentence's content words occur in source [{n}] (needs {:.0}%)",
                        support * 100.0,
                        min_support * 100.0
                    )),
                )
            } else if let Some(q) = missing_quote {
                (
                    Verdict::Unsupported,
                    Some(format!(
                        "the quoted text \"{q}\" is not in the cited source"
                    )),
                )
            } else {
                (Verdict::Supported, None)
            };
            out.citations.push(CitationCheck {
                n,
                sentence,
                verdict,
                support,
                reason,
            });
        }
    }
    out
}

fn share(part: usize, whole: usize) -> f32 {
    if whole == 0 {
        0.0
    } else {
        part as f32 / whole as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> Vec<usize> {
        parse_marks(text).iter().map(|m| m.n).collect()
    }

    #[test]
    fn parses_every_citation_form() {
        assert_eq!(ns("a [1] b [2][3] c [4, 5] d [6;7]"), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(ns("[note] [1a] [] [ 2 ] [x, 1]"), [2]);
        assert_eq!(strip_marks("Fourteen days [1][2]."), "Fourteen days.");
    }

    #[test]
    fn splits_sentences_and_keeps_marks_with_them() {
        let text = "Refunds take 14 days [1]. Groceries are excluded. [2] Dr. Smith agrees! Done";
        let parts: Vec<&str> = sentences(text, true)
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect();
        assert_eq!(
            parts,
            [
                "Refunds take 14 days [1].",
                "Groceries are excluded. [2]",
                "Dr. Smith agrees!",
                "Done"
            ]
        );
        let lines = "- first item [1]\n- second item [2]";
        assert_eq!(sentences(lines, true).len(), 2);
        assert_eq!(sentences(lines, false).len(), 1);
        assert_eq!(sentences("It costs 3.5 euros. Fine.", false).len(), 2);
    }

    #[test]
    fn a_group_of_several_numbers_opening_a_line_belongs_to_the_line_before() {
        // Found by fuzzing: the second number of the group used to slice backwards (a panic).
        let src = [1, 2].map(|n| SourceText {
            n,
            text: "Returns are accepted within fourteen days.",
            context: String::new(),
        });
        let v = verify(
            "Returns are accepted within fourteen days.\n[1, 2] Done.",
            &src,
            0.5,
            "I don't know",
        );
        assert_eq!(v.sentences[0].cited, [1, 2]);
        assert!(v.all_supported(), "{v:?}");
    }

    #[test]
    fn verifies_support_quotes_and_range() {
        let src = [SourceText {
            n: 1,
            text: "Customers may return goods within fourteen days of delivery for a full refund.",
            context: "Refund Policy".into(),
        }];
        let v = verify(
            "Goods may be returned within fourteen days of delivery [1]. \
             Shipping is free worldwide [1]. The policy says \"within thirty days\" [1]. \
             Refunds are full [7]. Nobody knows why.",
            &src,
            0.5,
            "I don't know.",
        );
        let verdicts: Vec<Verdict> = v.citations.iter().map(|c| c.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Supported,
                Verdict::Unsupported,
                Verdict::Unsupported,
                Verdict::Invalid
            ]
        );
        assert!(v.citations[2].reason.as_deref().unwrap().contains("quoted"));
        assert_eq!(v.uncited().count(), 1);
        let v = verify("I don't know.", &src, 0.5, "I don't know.");
        assert_eq!(v.uncited().count(), 0);
    }

    #[test]
    fn a_sentence_citing_two_sources_is_supported_by_their_union() {
        let src = [
            SourceText {
                n: 1,
                text: "The meal allowance abroad is 45 euros per day.",
                context: String::new(),
            },
            SourceText {
                n: 2,
                text: "Receipts are submitted within 30 days.",
                context: String::new(),
            },
        ];
        let v = verify(
            "The allowance is 45 euros and receipts are due within 30 days [1][2].",
            &src,
            0.6,
            "I don't know.",
        );
        assert!(v.all_supported(), "{v:?}");
    }

    #[test]
    fn a_different_number_or_polarity_is_contradicted_not_supported() {
        let src = [SourceText {
            n: 1,
            text: "Customers may return goods within 14 days of delivery for a full refund. \
                   Opened software may not be returned.",
            context: "Refund Policy".into(),
        }];
        let v = verify(
            "Customers may return goods within 30 days of delivery [1]. \
             Customers may return goods within two weeks of delivery [1]. \
             Opened software may be returned [1]. Opened software may not be returned [1].",
            &src,
            0.5,
            "I don't know.",
        );
        let verdicts: Vec<Verdict> = v.citations.iter().map(|c| c.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Contradicted,
                Verdict::Supported,
                Verdict::Contradicted,
                Verdict::Supported
            ],
            "{v:?}"
        );
        assert_eq!(
            v.citations[0].reason.as_deref(),
            Some("the sentence says \"30 days\" but source [1] says \"14 days\"")
        );
        assert!(!v.all_supported());
        assert_eq!(Verdict::Contradicted.as_str(), "contradicted");
        assert_eq!(
            serde_json::to_string(&Verdict::Contradicted).unwrap(),
            "\"contradicted\""
        );
    }
}
