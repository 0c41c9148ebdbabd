//! Follow-up questions become standalone queries before retrieval.
//!
//! Only questions that look like follow-ups are rewritten: short ones (at most three content
//! words), ones with a pronoun or demonstrative ("it", "they", "that", ...), and elliptic ones
//! ("and for X?", "what about X?"). With a generator, the rewrite prompt of the answer spec
//! asks for one standalone query; its output is used unless it is empty, longer than
//! [`MAX_REWRITE_CHARS`] or several lines. Otherwise (no generator, or unusable output) the
//! heuristic appends the previous question's content words that the new one lacks.

use crate::stop::StopToken;
use std::collections::HashSet;

use super::prompt::{fill, PromptSpec};
use super::{ChatMessage, GenerateOptions, Generator};
use crate::answer::conversation::{Message, MessageRole};
use crate::cite::content_words as analyze;

/// Longest accepted model rewrite.
pub const MAX_REWRITE_CHARS: usize = 300;

const REFERRING: &[&str] = &[
    "it", "its", "it's", "they", "them", "their", "theirs", "this", "that", "these", "those", "he",
    "him", "his", "she", "her", "hers", "there", "then", "one", "ones", "same", "former", "latter",
    "above",
];

const ELLIPSIS_STARTS: &[&str] = &[
    "and ",
    "but ",
    "also ",
    "what about",
    "how about",
    "and what",
    "what else",
    "why not",
    "so ",
    "or ",
];

/// How the standalone query was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    Unchanged,
    Heuristic,
    Model,
}

impl Rewrite {
    pub fn as_str(self) -> &'static str {
        match self {
            Rewrite::Unchanged => "unchanged",
            Rewrite::Heuristic => "heuristic",
            Rewrite::Model => "model",
        }
    }
}

/// True when `question` probably depends on the conversation before it.
pub fn looks_like_follow_up(question: &str) -> bool {
    let lower = question.trim().to_lowercase();
    if analyze(&lower).len() <= 3 {
        return true;
    }
    if ELLIPSIS_STARTS.iter().any(|s| lower.starts_with(s)) || lower.starts_with("...") {
        return true;
    }
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .any(|w| REFERRING.contains(&w))
}

/// Appends the content words of `previous` that `question` lacks (surface forms, in order).
pub fn heuristic(question: &str, previous: &str) -> String {
    let have: HashSet<String> = analyze(question).into_iter().map(|(t, _, _)| t).collect();
    let mut seen = HashSet::new();
    let extra: Vec<&str> = analyze(previous)
        .into_iter()
        .filter(|(t, _, _)| !have.contains(t) && seen.insert(t.clone()))
        .map(|(_, s, e)| &previous[s..e])
        .collect();
    if extra.is_empty() {
        question.trim().to_owned()
    } else {
        format!("{} {}", question.trim(), extra.join(" "))
    }
}

/// The standalone query for `question` given the conversation so far.
pub fn standalone(
    question: &str,
    history: &[Message],
    generator: Option<&dyn Generator>,
    spec: &PromptSpec,
    cancel: &StopToken,
) -> (String, Rewrite) {
    let previous = history
        .iter()
        .rev()
        .find(|m| m.role == MessageRole::User)
        .map(|m| m.rewritten.as_deref().unwrap_or(&m.content));
    let Some(previous) = previous else {
        return (question.trim().to_owned(), Rewrite::Unchanged);
    };
    if !looks_like_follow_up(question) {
        return (question.trim().to_owned(), Rewrite::Unchanged);
    }
    if let Some(g) = generator {
        if let Some(q) = model_rewrite(g, spec, history, question, cancel) {
            return (q, Rewrite::Model);
        }
    }
    (heuristic(question, previous), Rewrite::Heuristic)
}

fn model_rewrite(
    g: &dyn Generator,
    spec: &PromptSpec,
    history: &[Message],
    question: &str,
    cancel: &StopToken,
) -> Option<String> {
    let turns: Vec<String> = history
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(|m| {
            let who = match m.role {
                MessageRole::User => "User",
                MessageRole::Assistant => "Assistant",
            };
            let text: String = crate::cite::collapse_ws(&m.content)
                .chars()
                .take(300)
                .collect();
            format!("{who}: {text}")
        })
        .collect();
    let messages = [
        ChatMessage::system(spec.rewrite_system.trim()),
        ChatMessage::user(fill(
            spec.rewrite_user.trim_start_matches('\n'),
            &[
                ("history", &turns.join("\n")),
                ("question", question.trim()),
            ],
        )),
    ];
    let opts = GenerateOptions {
        max_tokens: 48,
        temperature: 0.0,
        stop: vec!["\n".into()],
        seed: None,
    };
    let out = g.generate(&messages, &opts, cancel, &mut |_| {}).ok()?;
    let text = out
        .text
        .trim()
        .trim_start_matches("Standalone query:")
        .trim()
        .trim_matches('"')
        .trim();
    let usable = !out.cancelled()
        && !text.is_empty()
        && text.len() <= MAX_REWRITE_CHARS
        && !text.contains('\n')
        && !analyze(text).is_empty();
    usable.then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_are_recognised() {
        assert!(looks_like_follow_up("And for electronics?"));
        assert!(looks_like_follow_up("How long does it take?"));
        assert!(looks_like_follow_up("What about groceries?"));
        assert!(!looks_like_follow_up(
            "How many days do customers have to return goods for a refund?"
        ));
    }

    #[test]
    fn heuristic_appends_missing_words() {
        let q = heuristic(
            "How long does it take?",
            "What is the refund policy for groceries?",
        );
        assert_eq!(q, "How long does it take? refund policy groceries");
    }
}
