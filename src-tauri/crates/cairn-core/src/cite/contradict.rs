//! Does a cited sentence contradict its passage? Two lexical checks, tuned to flag little that
//! is not a contradiction:
//!
//! - **Values.** The passage's sentence that best matches the claim (most shared topic
//!   words: content words that are not numbers or units) is found. Every number, amount,
//!   percentage, duration and date of the sentence ([`super::quantity`]) that is stated
//!   nowhere near it (that sentence, its neighbours, a passage sentence on the same topic, or
//!   another cited passage; in any spelling: "two weeks" is "14 days") is compared with it:
//!   when that sentence states a different value of the same kind ("30 days" against
//!   "14 days", "€45" against "€40", "1 March" against "3 March"), the citation is
//!   contradicted.
//! - **Negation.** Sentence and passage are cut into clauses (at punctuation and at "but",
//!   "unless", "although", …); each claim clause with at least two content words is matched
//!   to the passage clause sharing the most of them (at least two, and half of the claim
//!   clause's); when exactly one of the two is negated ("not", "no", "never", "cannot",
//!   "n't", "no longer", …) and no other cited passage has an equally good clause of the
//!   claim's polarity, the citation is contradicted. Limits ("no later than", "not more than",
//!   "not exceed") are not negations, a tie between clauses of opposite polarity decides
//!   nothing, and a pair with opposite directions ("not … after 30 days" against "within 30
//!   days") is left alone.

use std::collections::HashSet;

use super::quantity::{quantities, Quantity};
use super::{content_stems, sentences};

/// Why a citation contradicts its passage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Contradiction {
    /// The sentence states `claim` where the passage's matching sentence states `source`.
    Value { claim: String, source: String },
    /// The sentence and the passage's matching clause (`source`) differ in negation.
    Negation { claim_negated: bool, source: String },
}

impl Contradiction {
    /// The reason shown with the verdict, naming source `[n]`.
    pub fn reason(&self, n: usize) -> String {
        match self {
            Contradiction::Value { claim, source } => {
                format!("the sentence says \"{claim}\" but source [{n}] says \"{source}\"")
            }
            Contradiction::Negation {
                claim_negated: true,
                source,
            } => format!("the sentence negates what source [{n}] states: \"{source}\""),
            Contradiction::Negation {
                claim_negated: false,
                source,
            } => format!("source [{n}] says the opposite: \"{source}\""),
        }
    }
}

/// Checks `claim` (a sentence, citation marks removed) against `passage`; `others` are the
/// other passages the same sentence cites.
pub(crate) fn check(claim: &str, passage: &str, others: &[&str]) -> Option<Contradiction> {
    value_conflict(claim, passage, others).or_else(|| negation_conflict(claim, passage, others))
}

fn overlap(a: &HashSet<String>, b: &HashSet<String>) -> usize {
    a.intersection(b).count()
}

/// Stems that name a unit, not a topic: they must not make two sentences look related.
const UNIT_STEMS: &[&str] = &[
    "day",
    "week",
    "fortnight",
    "month",
    "year",
    "hour",
    "minut",
    "second",
    "percent",
    "cent",
    "euro",
    "eur",
    "dollar",
    "usd",
    "pound",
    "gbp",
    "per",
];

/// The claim's topic words: content stems that are neither numbers nor units.
fn topic(text: &str) -> HashSet<String> {
    content_stems(text)
        .into_iter()
        .filter(|s| !s.chars().any(|c| c.is_ascii_digit()))
        .filter(|s| !UNIT_STEMS.contains(&s.as_str()) && !super::quantity::is_number_word(s))
        .collect()
}

fn value_conflict(claim: &str, passage: &str, others: &[&str]) -> Option<Contradiction> {
    let claimed = quantities(claim);
    if claimed.is_empty() {
        return None;
    }
    let about = topic(claim);
    let spans: Vec<&str> = sentences(passage, false)
        .into_iter()
        .map(|(s, e)| &passage[s..e])
        .collect();
    let scores: Vec<usize> = spans.iter().map(|s| overlap(&about, &topic(s))).collect();
    // The passage's sentence that best matches the claim (the first of equals).
    let (best, shared) = scores
        .iter()
        .copied()
        .enumerate()
        .fold((0, 0), |acc, (i, n)| if n > acc.1 { (i, n) } else { acc });
    if shared == 0 || shared < 2.min(about.len()) || (shared as f32) < 0.34 * about.len() as f32 {
        return None;
    }
    // Where the claim's value may be stated: near the matching sentence, in any sentence of
    // the passage on the same topic, or anywhere in another cited passage.
    let near: Vec<Quantity> = spans
        .iter()
        .enumerate()
        .filter(|(i, _)| i.abs_diff(best) <= 1 || scores[*i] >= 2)
        .map(|(_, s)| *s)
        .chain(others.iter().copied())
        .flat_map(quantities)
        .collect();
    let matched = quantities(spans[best]);
    for q in &claimed {
        if near.iter().any(|p| q.agrees(p)) {
            continue;
        }
        if let Some(p) = matched.iter().find(|p| q.same_kind(p) && !q.agrees(p)) {
            return Some(Contradiction::Value {
                claim: q.text.clone(),
                source: p.text.clone(),
            });
        }
    }
    None
}

/// Words where a clause ends and another begins.
const CLAUSE_WORDS: &[&str] = &[
    "but", "while", "whereas", "although", "though", "however", "unless", "except", "yet", "if",
    "when", "because",
];

/// Clauses of `text`: cut at punctuation and at [`CLAUSE_WORDS`].
fn clauses(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in text.split([',', ';', ':', '(', ')', '—', '–', '.', '!', '?', '\n']) {
        let mut start = 0;
        let mut at = 0;
        for word in part.split_inclusive(char::is_whitespace) {
            let w = word.trim().to_lowercase();
            if at > start && CLAUSE_WORDS.contains(&w.as_str()) {
                out.push(&part[start..at]);
                start = at;
            }
            at += word.len();
        }
        out.push(&part[start..]);
    }
    out.into_iter()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('\u{2019}', "'"))
        .collect()
}

const NEGATIONS: &[&str] = &[
    "not", "no", "never", "cannot", "none", "neither", "nor", "nobody", "nothing", "nowhere",
];
const COMPARATIVES: &[&str] = &[
    "later", "earlier", "more", "less", "fewer", "greater", "sooner", "longer", "shorter",
    "higher", "lower",
];

/// True when the clause is negated (an odd number of negations that are not limits).
fn negated(clause: &str) -> bool {
    let w = words(clause);
    let mut count = 0;
    for (i, word) in w.iter().enumerate() {
        let next = w.get(i + 1).map(String::as_str);
        let after = w.get(i + 2).map(String::as_str);
        let cue = NEGATIONS.contains(&word.as_str()) || word.ends_with("n't");
        if !cue {
            continue;
        }
        let limit = (COMPARATIVES.contains(&next.unwrap_or("")) && after == Some("than"))
            || matches!(next, Some("only" | "matter" | "doubt"))
            || next.is_some_and(|n| n.starts_with("exceed"))
            || (next == Some("to") && after.is_some_and(|a| a.starts_with("exceed")))
            || (word == "no" && next.is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())))
            || (word == "not" && i > 0 && matches!(w[i - 1].as_str(), "or" | "if"));
        if !limit {
            count += 1;
        }
    }
    count % 2 == 1
}

/// Words that point one way ("after", "more") and the other ("before", "within", "less"):
/// "not after 30 days" and "within 30 days" agree.
const UP: &[&str] = &[
    "after", "later", "more", "over", "above", "longer", "exceed", "exceeds", "beyond", "least",
    "minimum", "outside",
];
const DOWN: &[&str] = &[
    "before", "within", "earlier", "less", "under", "below", "shorter", "most", "maximum", "up",
    "inside",
];

fn opposite_directions(a: &str, b: &str) -> bool {
    let (a, b) = (words(a), words(b));
    let has = |w: &[String], set: &[&str]| w.iter().any(|x| set.contains(&x.as_str()));
    (has(&a, UP) && has(&b, DOWN)) || (has(&a, DOWN) && has(&b, UP))
}

/// The passage clauses sharing the most content words with `stems`, and how many.
fn best_clauses<'a>(stems: &HashSet<String>, text: &'a str) -> (usize, Vec<&'a str>) {
    let mut best = (0, Vec::new());
    for c in clauses(text) {
        let n = overlap(stems, &content_stems(c));
        if n > best.0 {
            best = (n, vec![c]);
        } else if n == best.0 && n > 0 {
            best.1.push(c);
        }
    }
    best
}

fn negation_conflict(claim: &str, passage: &str, others: &[&str]) -> Option<Contradiction> {
    for clause in clauses(claim) {
        let stems = content_stems(clause);
        if stems.len() < 2 {
            continue;
        }
        let (shared, matched) = best_clauses(&stems, passage);
        if shared < 2 || (shared as f32) < 0.5 * stems.len() as f32 {
            continue;
        }
        let claim_negated = negated(clause);
        let polarities: HashSet<bool> = matched.iter().map(|c| negated(c)).collect();
        if polarities.len() != 1 || polarities.contains(&claim_negated) {
            continue;
        }
        let source = matched[0];
        if opposite_directions(clause, source) {
            continue;
        }
        let backed_elsewhere = others.iter().any(|o| {
            let (n, cs) = best_clauses(&stems, o);
            n >= shared && cs.iter().any(|c| negated(c) == claim_negated)
        });
        if !backed_elsewhere {
            return Some(Contradiction::Negation {
                claim_negated,
                source: source.to_owned(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "Customers may return goods within fourteen days of delivery for a full \
        refund. Opened software cannot be returned. Refunds are paid within 5 business days. \
        The restocking fee is 15%. The meal allowance abroad is €45 per day. The policy took \
        effect on 1 March 2024. Claims must be filed no later than 30 days after purchase. \
        Gift cards are no longer accepted.";

    fn flagged(claim: &str) -> Option<Contradiction> {
        check(claim, POLICY, &[])
    }

    #[test]
    fn different_values_are_flagged() {
        for (claim, said, source) in [
            (
                "Customers may return goods within 30 days of delivery.",
                "30 days",
                "fourteen days",
            ),
            (
                "Goods can be returned for a full refund within 3 weeks.",
                "3 weeks",
                "fourteen days",
            ),
            (
                "Refunds are paid within 10 business days.",
                "10 business days",
                "5 business days",
            ),
            ("The restocking fee is 20%.", "20%", "15%"),
            (
                "Refunds for goods take 30 days.",
                "30 days",
                "fourteen days",
            ),
            ("The meal allowance abroad is €50 per day.", "€50", "€45"),
            (
                "The meal allowance abroad is 50 euros a day.",
                "50 euros",
                "€45",
            ),
            (
                "The policy took effect on 3 March 2024.",
                "3 March 2024",
                "1 March 2024",
            ),
            (
                "The policy took effect on March 1, 2023.",
                "March 1, 2023",
                "1 March 2024",
            ),
        ] {
            assert_eq!(
                flagged(claim),
                Some(Contradiction::Value {
                    claim: said.into(),
                    source: source.into()
                }),
                "{claim}"
            );
        }
    }

    #[test]
    fn same_values_in_any_spelling_are_fine() {
        for claim in [
            "Customers may return goods within 14 days of delivery.",
            "Goods may be returned within two weeks for a full refund.",
            "Customers may return goods within fourteen days.",
            "Refunds are paid within 5 business days.",
            "The restocking fee is 15 percent.",
            "The meal allowance abroad is 45 euros per day.",
            "The policy took effect in March 2024.",
            "The policy took effect on 2024-03-01.",
            // A number of another kind is no conflict.
            "Customers may return 2 items within fourteen days of delivery.",
            // No matching sentence: the support check decides, not this one.
            "The office opens at 9 on 3 Mondays.",
        ] {
            assert_eq!(flagged(claim), None, "{claim}");
        }
    }

    #[test]
    fn a_value_stated_near_the_matching_sentence_is_fine() {
        let passage = "Refunds take 14 days for goods bought in store. Online orders differ: \
                       30 days. Shipping is 5 euros.";
        assert_eq!(
            check(
                "Refunds for goods bought online take 30 days.",
                passage,
                &[]
            ),
            None
        );
        // Far away and on another topic, the same number does not count.
        let far = "Refunds take 14 days for goods bought in store. Staff badges are blue. \
                   Parking is free. Meetings last 30 days at most.";
        assert!(check("Refunds for goods bought in store take 30 days.", far, &[]).is_some());
    }

    #[test]
    fn another_cited_passage_can_hold_the_value() {
        let other = "Receipts are submitted within 30 days.";
        let claim = "The meal allowance abroad is €45 and receipts are due within 30 days.";
        assert_eq!(check(claim, POLICY, &[other]), None);
        assert!(check("Customers may return goods within 30 days.", POLICY, &[]).is_some());
    }

    #[test]
    fn negation_mismatches_are_flagged() {
        for (claim, negated_claim) in [
            ("Customers may not return goods within fourteen days.", true),
            ("Customers cannot return goods for a full refund.", true),
            (
                "Customers can't get a full refund for returned goods.",
                true,
            ),
            ("Opened software can be returned.", false),
            ("Opened software may be returned for a refund.", false),
            ("Gift cards are accepted.", false),
            (
                "Customers never get a full refund for returned goods.",
                true,
            ),
        ] {
            match flagged(claim) {
                Some(Contradiction::Negation { claim_negated, .. }) => {
                    assert_eq!(claim_negated, negated_claim, "{claim}")
                }
                other => panic!("{claim}: {other:?}"),
            }
        }
    }

    #[test]
    fn agreeing_polarity_and_limits_are_fine() {
        for claim in [
            "Customers may return goods within fourteen days of delivery.",
            "Opened software cannot be returned.",
            "Opened software is not returnable, but goods may be returned.",
            "Gift cards are no longer accepted.",
            "Gift cards are not accepted anymore.",
            // A limit is not a negation.
            "Claims must be filed within 30 days after purchase.",
            "Claims must be filed no later than 30 days after purchase.",
            // Opposite directions with opposite polarity say the same thing.
            "Customers may not return goods after fourteen days of delivery.",
            // Too little in common to match a clause.
            "Nothing is known about shipping.",
        ] {
            assert_eq!(flagged(claim), None, "{claim}");
        }
    }

    #[test]
    fn ties_between_polarities_decide_nothing() {
        let passage = "Staff may work remotely. Contractors may not work remotely.";
        assert_eq!(check("Interns may work remotely.", passage, &[]), None);
    }

    #[test]
    fn clauses_cut_at_punctuation_and_conjunctions() {
        assert_eq!(
            clauses("Goods may be returned, but software cannot unless sealed; fine."),
            [
                "Goods may be returned",
                "but software cannot",
                "unless sealed",
                "fine"
            ]
        );
        assert!(negated("may not be returned"));
        assert!(negated("isn't allowed"));
        assert!(!negated("no later than 30 days"));
        assert!(!negated("must not exceed 30 days"));
        assert!(!negated("see No. 5"));
        assert!(!negated("not only this"));
        assert!(negated("no longer accepted"));
    }

    #[test]
    fn reasons_name_the_source() {
        let r = Contradiction::Value {
            claim: "30 days".into(),
            source: "14 days".into(),
        }
        .reason(2);
        assert_eq!(
            r,
            "the sentence says \"30 days\" but source [2] says \"14 days\""
        );
    }
}
