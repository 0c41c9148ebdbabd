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
mod marks;
mod quantity;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

// The analyser lives in `analysis`; content words are re-exported at their historical path.
pub use crate::analysis::{content_stems, content_words};
pub use marks::{
    collapse_ws, is_refusal, normalise, parse_marks, quotes, sentences, strip_marks, Mark,
};
pub(crate) use quantity::MONTHS;

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
