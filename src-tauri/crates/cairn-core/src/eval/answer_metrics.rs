//! The scores of one answer against its gold answers, and their means over a question set.
//!
//! Text scores follow the SQuAD v1.1 evaluation script: both strings are normalised (lower
//! case, ASCII punctuation removed, the articles a/an/the removed, whitespace collapsed), exact
//! match is equality of the normalised strings and F1 is the harmonic mean of token precision
//! and recall; the best gold answer counts. Citation marks (`[n]`) are removed from the answer
//! first. "Contained" means a normalised gold answer appears as a run of whole tokens in the
//! normalised answer: the fair score for an extractive answer, which quotes a sentence.

use std::collections::HashMap;

use serde::Serialize;

use crate::cite::Verdict;

/// SQuAD's answer normalisation: lower case, no ASCII punctuation, no articles, single spaces.
pub fn normalize(text: &str) -> String {
    let lower = text.to_lowercase();
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    no_punct
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tokens(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The answer without its citation marks (`[1]`, `[2][3]`).
pub fn strip_citations(answer: &str) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(']') {
            out.push_str(&rest[..open]);
            rest = &after[digits + 1..];
        } else {
            out.push_str(&rest[..=open]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// 1 when the normalised strings are equal, for the best gold answer (0 without gold answers).
pub fn exact_match(prediction: &str, golds: &[String]) -> f64 {
    let p = normalize(prediction);
    golds.iter().any(|g| normalize(g) == p) as u8 as f64
}

fn f1_one(prediction: &[String], gold: &[String]) -> f64 {
    if prediction.is_empty() || gold.is_empty() {
        return (prediction == gold) as u8 as f64;
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for t in gold {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0usize;
    for t in prediction {
        if let Some(c) = counts.get_mut(t.as_str()) {
            if *c > 0 {
                *c -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / prediction.len() as f64;
    let recall = same as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Token F1 against the best gold answer (0 without gold answers).
pub fn f1(prediction: &str, golds: &[String]) -> f64 {
    let p = tokens(prediction);
    golds
        .iter()
        .map(|g| f1_one(&p, &tokens(g)))
        .fold(0.0, f64::max)
}

/// True when a gold answer appears, as whole normalised tokens, in `text`.
pub fn contains_answer(text: &str, golds: &[String]) -> bool {
    let t = tokens(text);
    golds.iter().any(|g| {
        let g = tokens(g);
        !g.is_empty() && t.windows(g.len()).any(|w| w == g.as_slice())
    })
}

/// What the scorer needs of an answer (see [`crate::answer::Answer`]).
#[derive(Debug, Clone, Default)]
pub struct AnswerFacts<'a> {
    pub text: &'a str,
    pub abstained: bool,
    /// (source number, passage text) of the sources the answer was given.
    pub sources: Vec<(usize, &'a str)>,
    /// (source number, index of the citing sentence, verdict) of each citation.
    pub citations: Vec<(usize, usize, Verdict)>,
    /// Per sentence of the answer: does it carry no citation although it has content words.
    pub uncited: Vec<bool>,
}

/// The scores of one answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scores {
    pub answerable: bool,
    pub abstained: bool,
    /// Text scores, for answerable questions (0 when abstained).
    pub exact_match: f64,
    pub f1: f64,
    pub contained: bool,
    /// A gold answer is in one of the sources given (the retrieval's share of the work).
    pub answer_in_sources: bool,
    /// Citations, and those whose passage holds a gold answer or supports the sentence.
    pub citations: usize,
    pub good_citations: usize,
    /// Some citation points to a passage holding a gold answer (None when no source held one,
    /// or the answer abstained).
    pub cites_answer: Option<bool>,
    /// Sentences, and those with no supported citation (uncited or only unsupported,
    /// contradicted or invalid ones).
    pub sentences: usize,
    pub unsupported_sentences: usize,
}

/// Scores one answer. `golds` empty (or `answerable` false) means the right answer is "I don't
/// know".
pub fn score(answer: &AnswerFacts<'_>, golds: &[String], answerable: bool) -> Scores {
    let answerable = answerable && !golds.is_empty();
    let golds: &[String] = if answerable { golds } else { &[] };
    let holds = |n: usize| {
        answer
            .sources
            .iter()
            .any(|(m, text)| *m == n && contains_answer(text, golds))
    };
    let mut s = Scores {
        answerable,
        abstained: answer.abstained,
        answer_in_sources: answer.sources.iter().any(|(n, _)| holds(*n)),
        ..Scores::default()
    };
    if answer.abstained {
        return s;
    }
    let prediction = strip_citations(answer.text);
    if answerable {
        s.exact_match = exact_match(&prediction, golds);
        s.f1 = f1(&prediction, golds);
        s.contained = contains_answer(&prediction, golds);
    }
    s.citations = answer.citations.len();
    s.good_citations = answer
        .citations
        .iter()
        .filter(|(n, _, v)| *v == Verdict::Supported || holds(*n))
        .count();
    if s.answer_in_sources {
        s.cites_answer = Some(answer.citations.iter().any(|(n, _, _)| holds(*n)));
    }
    s.sentences = answer.uncited.len();
    s.unsupported_sentences = answer
        .uncited
        .iter()
        .enumerate()
        .filter(|(i, uncited)| {
            **uncited
                || !answer
                    .citations
                    .iter()
                    .any(|(_, sentence, v)| sentence == i && *v == Verdict::Supported)
        })
        .count();
    s
}

/// Means over a question set (see [`super::AnswerReport`] for each figure's meaning).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub answerable: usize,
    pub unanswerable: usize,
    pub exact_match: f64,
    pub f1: f64,
    pub answer_contained: f64,
    pub answer_in_sources: f64,
    pub answered_when_answerable: f64,
    pub abstained_when_unanswerable: Option<f64>,
    pub citation_precision: Option<f64>,
    pub citation_recall: Option<f64>,
    pub unsupported_sentence_rate: Option<f64>,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Averages scores: text scores over answerable questions (an abstention scores 0), citation
/// precision over all citations, citation recall over answered questions whose sources held a
/// gold answer, the unsupported-sentence rate over the sentences of answered questions.
pub fn summarize(scores: &[Scores]) -> Summary {
    let ans: Vec<&Scores> = scores.iter().filter(|s| s.answerable).collect();
    let n = ans.len().max(1) as f64;
    let unans = scores.len() - ans.len();
    let sum = |f: &dyn Fn(&Scores) -> f64| ans.iter().map(|s| f(s)).sum::<f64>() / n;
    let recall: Vec<bool> = scores.iter().filter_map(|s| s.cites_answer).collect();
    Summary {
        answerable: ans.len(),
        unanswerable: unans,
        exact_match: sum(&|s| s.exact_match),
        f1: sum(&|s| s.f1),
        answer_contained: sum(&|s| s.contained as u8 as f64),
        answer_in_sources: sum(&|s| s.answer_in_sources as u8 as f64),
        answered_when_answerable: sum(&|s| (!s.abstained) as u8 as f64),
        abstained_when_unanswerable: ratio(
            scores
                .iter()
                .filter(|s| !s.answerable && s.abstained)
                .count(),
            unans,
        ),
        citation_precision: ratio(
            scores.iter().map(|s| s.good_citations).sum(),
            scores.iter().map(|s| s.citations).sum(),
        ),
        citation_recall: ratio(recall.iter().filter(|r| **r).count(), recall.len()),
        unsupported_sentence_rate: ratio(
            scores.iter().map(|s| s.unsupported_sentences).sum(),
            scores.iter().map(|s| s.sentences).sum(),
        ),
    }
}

/// The value at quantile `q` (0..1, nearest rank) of `values`, None when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let last = v.len().checked_sub(1)?;
    Some(v[(last as f64 * q).round() as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golds(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalisation_is_squads() {
        assert_eq!(normalize("The  Denver Broncos!"), "denver broncos");
        assert_eq!(normalize("Levi's Stadium, an arena"), "levis stadium arena");
        assert_eq!(normalize("A"), "");
        assert_eq!(
            strip_citations("Paris [1][12]. See [x] and [2"),
            "Paris . See [x] and [2"
        );
    }

    #[test]
    fn exact_match_and_f1_take_the_best_gold_answer() {
        let g = golds(&["Denver Broncos", "the Broncos"]);
        assert_eq!(exact_match("the denver broncos.", &g), 1.0);
        assert_eq!(exact_match("Broncos", &g), 1.0);
        assert_eq!(exact_match("Denver", &g), 0.0);
        // "denver" vs "denver broncos": p = 1, r = 1/2 → 2/3.
        assert!((f1("Denver", &g) - 2.0 / 3.0).abs() < 1e-12);
        // "broncos won game" vs "broncos": p = 1/3, r = 1 → 1/2.
        assert!((f1("The Broncos won the game", &g) - 0.5).abs() < 1e-12);
        // Repeated tokens count once per occurrence in the gold answer.
        assert!((f1("broncos broncos", &golds(&["broncos"])) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(f1("Carolina", &g), 0.0);
        assert_eq!(f1("anything", &[]), 0.0);
    }

    #[test]
    fn containment_is_by_whole_tokens() {
        let g = golds(&["Santa Clara"]);
        assert!(contains_answer(
            "It was held in Santa Clara, California.",
            &g
        ));
        assert!(!contains_answer("It was held in Santa Claran fields.", &g));
        assert!(!contains_answer("anything", &golds(&["the"])));
    }

    #[test]
    fn one_answer_is_scored_with_its_citations_and_sentences() {
        let sources = vec![
            (
                1,
                "Super Bowl 50 was played at Levi's Stadium in Santa Clara.",
            ),
            (2, "The Broncos defeated the Panthers."),
        ];
        let facts = AnswerFacts {
            text: "It was played in Santa Clara [1]. The weather was fine [2]. Tickets sold out.",
            abstained: false,
            sources: sources.clone(),
            citations: vec![(1, 0, Verdict::Unsupported), (2, 1, Verdict::Unsupported)],
            uncited: vec![false, false, true],
        };
        let s = score(&facts, &golds(&["Santa Clara"]), true);
        assert_eq!(s.exact_match, 0.0);
        assert!(s.contained);
        assert!(s.answer_in_sources);
        // [1] holds the gold answer; [2] neither holds it nor supports its sentence.
        assert_eq!((s.citations, s.good_citations), (2, 1));
        assert_eq!(s.cites_answer, Some(true));
        // Sentence 0 has no supported citation, 1 neither, 2 is uncited.
        assert_eq!((s.sentences, s.unsupported_sentences), (3, 3));

        let supported = AnswerFacts {
            citations: vec![(1, 0, Verdict::Supported), (2, 1, Verdict::Supported)],
            ..facts.clone()
        };
        let s2 = score(&supported, &golds(&["Santa Clara"]), true);
        assert_eq!((s2.good_citations, s2.unsupported_sentences), (2, 1));

        let abstained = AnswerFacts {
            text: "I don't know.",
            abstained: true,
            ..AnswerFacts::default()
        };
        let a = score(&abstained, &golds(&["x"]), false);
        assert!(!a.answerable && a.abstained);
        assert_eq!(a.cites_answer, None);

        let sum = summarize(&[s, s2, a]);
        assert_eq!((sum.answerable, sum.unanswerable), (2, 1));
        assert_eq!(sum.answer_contained, 1.0);
        assert_eq!(sum.exact_match, 0.0);
        // F1: "it was played in santa clara weather was fine tickets sold out" (12 tokens,
        // "the" dropped) against "santa clara": p = 2/12, r = 1 → 2/7.
        assert!((sum.f1 - 2.0 / 7.0).abs() < 1e-12, "{}", sum.f1);
        assert_eq!(sum.abstained_when_unanswerable, Some(1.0));
        assert_eq!(sum.citation_precision, Some(3.0 / 4.0));
        assert_eq!(sum.citation_recall, Some(1.0));
        assert_eq!(sum.unsupported_sentence_rate, Some(4.0 / 6.0));
        assert_eq!(sum.answered_when_answerable, 1.0);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[4.0, 1.0, 2.0, 3.0], 0.95), Some(4.0));
    }
}
