//! What kind of answer a question asks for, read from its wording ("when" → a date, "how
//! many" → a number, "who" → a name), and whether a sentence holds one. The extractive
//! answerer ([`super::extract`]) prefers sentences that do: a sentence restating the question
//! without a date rarely answers "when".

use std::collections::HashSet;

/// The kind of answer expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A count, amount, size or share.
    Number,
    /// A year, date, month or period.
    Date,
    /// A person, organisation or place: a capitalised name the question does not contain.
    Name,
}

/// A month's name, "may" left out: it is far more often the verb.
fn is_month(w: &str) -> bool {
    w != "may" && crate::cite::MONTHS.contains(&w)
}

const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "billion",
    "dozen", "half", "once", "twice",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The answer kind `question` asks for, when its wording says.
pub fn expected(question: &str) -> Option<Expected> {
    let w = words(question);
    let has = |a: &str| w.iter().any(|x| x == a);
    let pair = |a: &str, b: &[&str]| {
        w.windows(2)
            .any(|p| p[0] == a && b.iter().any(|x| *x == p[1]))
    };
    if pair(
        "how",
        &[
            "many", "much", "long", "old", "far", "large", "big", "high", "tall", "often", "fast",
        ],
    ) || pair("what", &["percentage", "percent", "number", "amount"])
    {
        return Some(Expected::Number);
    }
    if has("when")
        || pair(
            "what",
            &[
                "year", "years", "date", "century", "decade", "month", "day", "time", "era",
            ],
        )
        || pair(
            "which",
            &["year", "years", "date", "century", "decade", "month", "day"],
        )
    {
        return Some(Expected::Date);
    }
    if has("who") || has("whom") || has("whose") || has("where") {
        return Some(Expected::Name);
    }
    None
}

/// True when `sentence` holds an answer of kind `kind` that is not in `question`.
pub fn holds(sentence: &str, question: &str, kind: Expected) -> bool {
    let asked: HashSet<String> = words(question).into_iter().collect();
    let new = |w: &str| !asked.contains(&w.to_lowercase());
    let digits = |w: &str| w.chars().any(|c| c.is_ascii_digit());
    match kind {
        Expected::Number => words(sentence)
            .iter()
            .any(|w| new(w) && (digits(w) || NUMBER_WORDS.contains(&w.as_str()))),
        Expected::Date => words(sentence).iter().any(|w| {
            new(w)
                && (digits(w)
                    || is_month(w)
                    || w.ends_with("century")
                    || w.ends_with("s")
                        && w.len() == 5
                        && w[..4].chars().all(|c| c.is_ascii_digit()))
        }),
        Expected::Name => sentence
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .skip(1)
            .any(|w| w.chars().next().is_some_and(char::is_uppercase) && new(w)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kind_of_answer_from_the_question() {
        assert_eq!(
            expected("How many days do customers have?"),
            Some(Expected::Number)
        );
        assert_eq!(expected("In what year did it open?"), Some(Expected::Date));
        assert_eq!(
            expected("When was the treaty signed?"),
            Some(Expected::Date)
        );
        assert_eq!(expected("Who designed the bridge?"), Some(Expected::Name));
        assert_eq!(expected("Why is the sky blue?"), None);
    }

    #[test]
    fn a_sentence_holds_an_answer_the_question_does_not_contain() {
        let q = "When was the bridge opened?";
        assert!(holds("The bridge was opened in 1932.", q, Expected::Date));
        assert!(holds("It opened in March.", q, Expected::Date));
        assert!(!holds(
            "The bridge was opened by the mayor.",
            q,
            Expected::Date
        ));
        let q = "Who designed the Harbour Bridge?";
        assert!(holds(
            "The Harbour Bridge was designed by John Bradfield.",
            q,
            Expected::Name
        ));
        assert!(!holds(
            "The Harbour Bridge was designed with care.",
            q,
            Expected::Name
        ));
        let q = "How many lanes does the bridge carry in 1932?";
        assert!(holds("It carries eight lanes.", q, Expected::Number));
        assert!(!holds("It carried lanes in 1932.", q, Expected::Number));
    }
}
