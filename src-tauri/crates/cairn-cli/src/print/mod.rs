//! How results are shown: search results (text with highlights, or JSON), the collection's
//! status and history, index and check reports, answers and the audit log, evaluation reports;
//! and the formats they share (times, durations, sizes).

mod answer;
mod eval;
mod search;
mod status;

pub use answer::{print_answer_footer, print_audit_list, print_record};
pub use eval::{print_abstention, print_eval};
pub use search::{print_search, print_search_json};
pub use status::{print_check, print_history, print_index_report, print_status};

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
