//! The text side of citations: `[n]` marks (parsing and stripping), splitting an answer into
//! sentences (abbreviations kept), quoted spans, normalisation and refusals.

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
