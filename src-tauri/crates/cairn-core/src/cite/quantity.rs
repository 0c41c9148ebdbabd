//! Numbers, amounts, percentages, durations and dates in a sentence, for the contradiction
//! check ([`super::contradict`]).
//!
//! Text is scanned into numbers (digits with `,`/`.` separators, or number words up to
//! "ninety-nine"), words and symbols; then each number is read with what surrounds it:
//! `30%`/`30 percent` (percent), `€45`/`45 euros`/`USD 45`, with `thousand`/`million`/`k`
//! (money), `14 days`/`two weeks`/`14-day` (duration, normalised within days, months or
//! seconds), `1 March 2024`/`March 1, 2024`/`2024-03-01`/`March 2024` (date), `2023` alone
//! (year), `3 copies` (a count of a stemmed noun), else a bare number.

/// A duration's scale: durations compare only within one (a month is not a number of days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    Days,
    Months,
    Seconds,
}

/// What a number measures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Percent,
    Money(&'static str),
    Duration(Scale),
    /// Year, month (1–12), day; a year alone is [`Kind::Year`].
    Date(Option<i32>, u32, Option<u32>),
    Year,
    /// A number of something (the noun's stem).
    Count(String),
    Bare,
}

/// One quantity found in text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantity {
    pub kind: Kind,
    /// The number as written ("two weeks" → 2).
    pub number: f64,
    /// Normalised within its kind ("two weeks" → 14 days; "€1.2 million" → 1,200,000).
    pub value: f64,
    /// The words it was read from, for messages.
    pub text: String,
}

impl Quantity {
    /// True when `other` measures the same kind of thing (so two different values conflict).
    pub fn same_kind(&self, other: &Quantity) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Date(..), Kind::Date(..)) => true,
            (Kind::Year, Kind::Date(Some(_), ..)) | (Kind::Date(Some(_), ..), Kind::Year) => true,
            (a, b) => a == b,
        }
    }

    /// True when `other` states the same value (dates: no component disagrees).
    pub fn agrees(&self, other: &Quantity) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Date(y1, m1, d1), Kind::Date(y2, m2, d2)) => {
                m1 == m2 && compatible(*y1, *y2) && compatible(*d1, *d2)
            }
            (Kind::Year, Kind::Date(Some(y), ..)) | (Kind::Date(Some(y), ..), Kind::Year) => {
                f64::from(*y)
                    == if matches!(self.kind, Kind::Year) {
                        self.number
                    } else {
                        other.number
                    }
            }
            (Kind::Date(..), _) | (_, Kind::Date(..)) => false,
            _ => {
                close(self.number, other.number)
                    || (self.same_kind(other) && close(self.value, other.value))
            }
        }
    }
}

fn compatible<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Word(String),
    Sym(char),
}

/// Splits text into numbers, lowercase words and symbols (whitespace dropped), each with the
/// byte span it was read from.
fn scan(text: &str) -> Vec<(Tok, usize, usize)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map_or(text.len(), |c| c.0);
    let ch = |i: usize| chars.get(i).map(|c| c.1);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = ch(i) {
        let start = i;
        if c.is_ascii_digit() {
            while ch(i).is_some_and(|c| {
                c.is_ascii_digit()
                    || (matches!(c, ',' | '.') && ch(i + 1).is_some_and(|n| n.is_ascii_digit()))
            }) {
                i += 1;
            }
            let raw = &text[at(start)..at(i)];
            // "1,200.50" → 1200.5; "3,5" (decimal comma, not 3 digits after) → 3.5.
            let parsed = match raw.rsplit_once(',') {
                Some((_, tail)) if tail.len() != 3 && !raw.contains('.') => {
                    raw.replace(',', ".").parse()
                }
                _ => raw.replace(',', "").parse(),
            };
            if let Ok(n) = parsed {
                out.push((Tok::Num(n), at(start), at(i)));
            }
        } else if c.is_alphabetic() {
            while ch(i).is_some_and(|c| {
                c.is_alphabetic()
                    || (matches!(c, '\'' | '\u{2019}')
                        && ch(i + 1).is_some_and(|n| n.is_alphabetic()))
            }) {
                i += 1;
            }
            let word = text[at(start)..at(i)]
                .to_lowercase()
                .replace('\u{2019}', "'");
            match number_word(&word) {
                Some(n) => out.push((Tok::Num(n), at(start), at(i))),
                None => out.push((Tok::Word(word), at(start), at(i))),
            }
        } else {
            i += 1;
            if !c.is_whitespace() {
                out.push((Tok::Sym(c), at(start), at(i)));
            }
        }
    }
    join_compound_numbers(text, out)
}

/// True for a spelled-out number ("fourteen").
pub(crate) fn is_number_word(w: &str) -> bool {
    number_word(w).is_some()
}

fn number_word(w: &str) -> Option<f64> {
    const ONES: &[&str] = &[
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: &[&str] = &[
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(i) = ONES.iter().position(|x| *x == w) {
        return Some(i as f64);
    }
    TENS.iter()
        .position(|x| *x == w)
        .map(|i| (i as f64 + 2.0) * 10.0)
}

/// "twenty-one" / "twenty one" → 21.
fn join_compound_numbers(text: &str, toks: Vec<(Tok, usize, usize)>) -> Vec<(Tok, usize, usize)> {
    let spelled = |t: &(Tok, usize, usize)| text[t.1..t.2].chars().all(char::is_alphabetic);
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if let Tok::Num(tens) = toks[i].0 {
            let (skip, next) = match toks.get(i + 1) {
                Some((Tok::Sym('-'), ..)) => (2, toks.get(i + 2)),
                other => (1, other),
            };
            if let Some(one_tok @ (Tok::Num(one), _, end)) = next {
                if spelled(&toks[i])
                    && tens >= 20.0
                    && spelled(one_tok)
                    && *one > 0.0
                    && *one < 10.0
                {
                    out.push((Tok::Num(tens + one), toks[i].1, *end));
                    i += skip + 1;
                    continue;
                }
            }
        }
        out.push(toks[i].clone());
        i += 1;
    }
    out
}

fn currency(t: &Tok) -> Option<&'static str> {
    match t {
        Tok::Sym('€') => Some("EUR"),
        Tok::Sym('$') => Some("USD"),
        Tok::Sym('£') => Some("GBP"),
        Tok::Sym('¥') => Some("JPY"),
        Tok::Word(w) => match w.as_str() {
            "eur" | "euro" | "euros" => Some("EUR"),
            "usd" | "dollar" | "dollars" => Some("USD"),
            "gbp" | "pound" | "pounds" => Some("GBP"),
            "jpy" | "yen" => Some("JPY"),
            "chf" | "franc" | "francs" => Some("CHF"),
            _ => None,
        },
        _ => None,
    }
}

fn scale_word(t: Option<&Tok>) -> Option<f64> {
    match t {
        Some(Tok::Word(w)) => match w.as_str() {
            "thousand" | "k" => Some(1e3),
            "million" | "millions" | "m" | "mn" => Some(1e6),
            "billion" | "billions" | "bn" => Some(1e9),
            _ => None,
        },
        _ => None,
    }
}

fn duration_unit(w: &str) -> Option<(Scale, f64)> {
    Some(match w {
        "second" | "seconds" | "sec" | "secs" => (Scale::Seconds, 1.0),
        "minute" | "minutes" | "min" | "mins" => (Scale::Seconds, 60.0),
        "hour" | "hours" | "hr" | "hrs" | "h" => (Scale::Seconds, 3600.0),
        "day" | "days" => (Scale::Days, 1.0),
        "week" | "weeks" => (Scale::Days, 7.0),
        "fortnight" | "fortnights" => (Scale::Days, 14.0),
        "month" | "months" => (Scale::Months, 1.0),
        "year" | "years" => (Scale::Months, 12.0),
        _ => return None,
    })
}

/// Adjectives allowed between a number and its duration unit ("14 business days").
const DURATION_ADJECTIVES: &[&str] = &[
    "business",
    "working",
    "calendar",
    "full",
    "consecutive",
    "additional",
    "more",
    "further",
];

/// The months' names, lower case, January first.
pub(crate) const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month(w: &str) -> Option<u32> {
    if let Some(i) = MONTHS.iter().position(|m| *m == w) {
        return Some(i as u32 + 1);
    }
    let short = match w {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" | "sept" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    Some(short)
}

fn as_day(t: Option<&Tok>) -> Option<u32> {
    match t {
        Some(Tok::Num(n)) if n.fract() == 0.0 && (1.0..=31.0).contains(n) => Some(*n as u32),
        _ => None,
    }
}

fn as_year(t: Option<&Tok>) -> Option<i32> {
    match t {
        Some(Tok::Num(n)) if n.fract() == 0.0 && (1000.0..=2999.0).contains(n) => Some(*n as i32),
        _ => None,
    }
}

fn is_ordinal(t: Option<&Tok>) -> bool {
    matches!(t, Some(Tok::Word(w)) if matches!(w.as_str(), "st" | "nd" | "rd" | "th"))
}

/// The quantities in `text`, in order.
pub(crate) fn quantities(text: &str) -> Vec<Quantity> {
    let toks = scan(text);
    let tok = |i: usize| toks.get(i).map(|t| &t.0);
    let raw = |from: usize, to: usize| -> String {
        let to = to.min(toks.len());
        if from >= to {
            return String::new();
        }
        text[toks[from].1..toks[to - 1].2].to_owned()
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        // Dates led by a month: "March 1, 2024", "March 2024", "May 1st".
        if let Some(Tok::Word(w)) = tok(i) {
            if let Some(m) = month(w) {
                let mut j = i + 1;
                let day = as_day(tok(j));
                if day.is_some() {
                    j += 1;
                    if is_ordinal(tok(j)) {
                        j += 1;
                    }
                    if tok(j) == Some(&Tok::Sym(',')) && as_year(tok(j + 1)).is_some() {
                        j += 1;
                    }
                }
                let year = as_year(tok(j));
                if year.is_some() {
                    j += 1;
                }
                if day.is_some() || year.is_some() {
                    out.push(Quantity {
                        kind: Kind::Date(year, m, day),
                        number: f64::from(year.unwrap_or(0)),
                        value: 0.0,
                        text: raw(i, j),
                    });
                    i = j;
                    continue;
                }
            }
        }
        // Money led by its currency: "€45", "USD 1,200", "$5 million".
        if let (Some(cur), Some(Tok::Num(n))) = (currency(&toks[i].0), tok(i + 1)) {
            let scale = scale_word(tok(i + 2));
            let end = i + 2 + usize::from(scale.is_some());
            out.push(money(cur, *n, scale, raw(i, end)));
            i = end;
            continue;
        }
        let Some(Tok::Num(n)) = tok(i) else {
            i += 1;
            continue;
        };
        let n = *n;
        // ISO date: 2024-03-01.
        if let (Some(y), Some(Tok::Sym('-')), Some(Tok::Num(m)), Some(Tok::Sym('-'))) =
            (as_year(tok(i)), tok(i + 1), tok(i + 2), tok(i + 3))
        {
            if let Some(d) = as_day(tok(i + 4)).filter(|_| (1.0..=12.0).contains(m)) {
                out.push(Quantity {
                    kind: Kind::Date(Some(y), *m as u32, Some(d)),
                    number: f64::from(y),
                    value: 0.0,
                    text: raw(i, i + 5),
                });
                i += 5;
                continue;
            }
        }
        let mut j = i + 1;
        if is_ordinal(tok(j)) {
            j += 1;
        }
        // Day-led date: "1 March 2024", "1st of March".
        if let Some(d) = as_day(tok(i)) {
            let k = if tok(j) == Some(&Tok::Word("of".into())) {
                j + 1
            } else {
                j
            };
            if let Some(Tok::Word(w)) = tok(k) {
                if let Some(m) = month(w) {
                    let year = as_year(tok(k + 1));
                    let end = k + 1 + usize::from(year.is_some());
                    out.push(Quantity {
                        kind: Kind::Date(year, m, Some(d)),
                        number: f64::from(year.unwrap_or(0)),
                        value: 0.0,
                        text: raw(i, end),
                    });
                    i = end;
                    continue;
                }
            }
        }
        // Percent.
        match (tok(j), tok(j + 1)) {
            (Some(Tok::Sym('%')), _) => {
                out.push(plain(Kind::Percent, n, n, raw(i, j + 1)));
                i = j + 1;
                continue;
            }
            (Some(Tok::Word(w)), _) if w == "percent" || w == "pct" => {
                out.push(plain(Kind::Percent, n, n, raw(i, j + 1)));
                i = j + 1;
                continue;
            }
            (Some(Tok::Word(w)), Some(Tok::Word(c))) if w == "per" && c == "cent" => {
                out.push(plain(Kind::Percent, n, n, raw(i, j + 2)));
                i = j + 2;
                continue;
            }
            _ => {}
        }
        // Money with its currency after: "45 euros", "1.2 million dollars", "10k EUR".
        let scale = scale_word(tok(j));
        let after_scale = j + usize::from(scale.is_some());
        if let Some(cur) = toks.get(after_scale).and_then(|t| currency(&t.0)) {
            out.push(money(cur, n, scale, raw(i, after_scale + 1)));
            i = after_scale + 1;
            continue;
        }
        // Duration: "14 days", "14-day", "14 business days".
        let k = if tok(j) == Some(&Tok::Sym('-')) {
            j + 1
        } else {
            j
        };
        let k = match tok(k) {
            Some(Tok::Word(w)) if DURATION_ADJECTIVES.contains(&w.as_str()) => k + 1,
            _ => k,
        };
        if let Some(Tok::Word(w)) = tok(k) {
            if let Some((scale, factor)) = duration_unit(w) {
                out.push(plain(Kind::Duration(scale), n, n * factor, raw(i, k + 1)));
                i = k + 1;
                continue;
            }
        }
        // A year alone ("in 2023"), unless a noun follows ("2000 employees").
        let noun = match tok(j) {
            Some(Tok::Word(w)) => crate::analysis::content_stems(w).into_iter().next(),
            _ => None,
        };
        let spelled = text[toks[i].1..toks[i].2].chars().all(char::is_alphabetic);
        if as_year(tok(i)).is_some() && noun.is_none() {
            out.push(plain(Kind::Year, n, n, raw(i, j)));
        } else if let Some(stem) = noun {
            out.push(plain(Kind::Count(stem), n, n, raw(i, j + 1)));
        } else if !spelled {
            // A spelled-out number without a unit ("one of them") is not a quantity.
            out.push(plain(Kind::Bare, n, n, raw(i, j)));
        }
        i = j;
    }
    out
}

fn plain(kind: Kind, number: f64, value: f64, text: String) -> Quantity {
    Quantity {
        kind,
        number,
        value,
        text,
    }
}

fn money(cur: &'static str, n: f64, scale: Option<f64>, text: String) -> Quantity {
    plain(Kind::Money(cur), n, n * scale.unwrap_or(1.0), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, f64)> {
        quantities(text)
            .into_iter()
            .map(|q| (q.kind, q.value))
            .collect()
    }

    #[test]
    fn reads_each_kind() {
        use Kind::*;
        assert_eq!(kinds("within 14 days"), [(Duration(Scale::Days), 14.0)]);
        assert_eq!(
            kinds("within fourteen days"),
            [(Duration(Scale::Days), 14.0)]
        );
        assert_eq!(kinds("two weeks"), [(Duration(Scale::Days), 14.0)]);
        assert_eq!(kinds("a 30-day window"), [(Duration(Scale::Days), 30.0)]);
        assert_eq!(kinds("10 business days"), [(Duration(Scale::Days), 10.0)]);
        assert_eq!(kinds("twenty-one days"), [(Duration(Scale::Days), 21.0)]);
        assert_eq!(kinds("3 months"), [(Duration(Scale::Months), 3.0)]);
        assert_eq!(kinds("2 years"), [(Duration(Scale::Months), 24.0)]);
        assert_eq!(kinds("48 hours"), [(Duration(Scale::Seconds), 172800.0)]);
        assert_eq!(kinds("30%"), [(Percent, 30.0)]);
        assert_eq!(kinds("12.5 percent"), [(Percent, 12.5)]);
        assert_eq!(kinds("5 per cent"), [(Percent, 5.0)]);
        assert_eq!(kinds("€45"), [(Money("EUR"), 45.0)]);
        assert_eq!(kinds("45 euros"), [(Money("EUR"), 45.0)]);
        assert_eq!(kinds("$1,200.50"), [(Money("USD"), 1200.5)]);
        assert_eq!(kinds("USD 5 million"), [(Money("USD"), 5e6)]);
        assert_eq!(kinds("1.2 million dollars"), [(Money("USD"), 1.2e6)]);
        assert_eq!(kinds("1 March 2024"), [(Date(Some(2024), 3, Some(1)), 0.0)]);
        assert_eq!(
            kinds("March 1st, 2024"),
            [(Date(Some(2024), 3, Some(1)), 0.0)]
        );
        assert_eq!(kinds("2024-03-01"), [(Date(Some(2024), 3, Some(1)), 0.0)]);
        assert_eq!(kinds("in May 2023"), [(Date(Some(2023), 5, None), 0.0)]);
        assert_eq!(kinds("since 2019."), [(Year, 2019.0)]);
        assert_eq!(kinds("3 copies"), [(Count("copi".into()), 3.0)]);
        assert_eq!(kinds("version 7"), [(Bare, 7.0)]);
        // "may" the verb is not a month.
        assert_eq!(kinds("Customers may return goods"), []);
    }

    #[test]
    fn agreement_and_kinds() {
        let q = |t: &str| quantities(t).remove(0);
        assert!(q("two weeks").agrees(&q("14 days")));
        assert!(q("fourteen days").agrees(&q("14 days")));
        assert!(!q("30 days").agrees(&q("14 days")));
        assert!(q("30 days").same_kind(&q("14 days")));
        assert!(!q("1 month").same_kind(&q("30 days")));
        assert!(q("March 2024").agrees(&q("1 March 2024")));
        assert!(!q("2 March 2024").agrees(&q("1 March 2024")));
        assert!(q("2024").agrees(&q("1 March 2024")));
        assert!(!q("€45").same_kind(&q("$45")));
        assert!(q("45").agrees(&q("€45")));
    }
}
