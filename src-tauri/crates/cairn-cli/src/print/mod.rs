//! How results are shown: search results (text with highlights, or JSON), the collection's
//! status and history, index and check reports, answers and the audit log, evaluation reports;
//! and the formats they share (times, durations, sizes).

mod answer;
mod eval;
mod search;
mod status;

pub use answer::{print_answer_footer, print_audit_list, print_record};
pub use eval::{print_abstention, print_answers, print_eval};
pub use search::{print_search, print_search_json};
pub use status::{print_check, print_history, print_index_report, print_status};

/// Text from documents, file names and models, made safe for a terminal: control characters
/// (other than newline and tab), DEL, C1 controls and bidirectional overrides are shown as
/// `\u{..}` escapes, so a file name or passage cannot move the cursor, recolour or hide output.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A path for the terminal: lossy UTF-8, then [`clean`].
pub fn clean_path(p: &std::path::Path) -> String {
    clean(&cairn_core::paths::escaped(p)).into_owned()
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// A duration in seconds as `42s`, `3m05s` or `1h02m`.
pub fn fmt_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// A size in bytes as `512 B`, `1.5 KiB`, `2.0 MiB` or `1.1 GiB`.
pub fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped_and_plain_text_is_untouched() {
        assert_eq!(clean("plain café\tline\n"), "plain café\tline\n");
        assert_eq!(clean("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(clean("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(clean("bell\u{7}\r"), "bell\\u{7}\\u{d}");
    }
}
