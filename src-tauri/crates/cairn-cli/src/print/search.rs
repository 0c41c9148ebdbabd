//! Search results: numbered passages with location, score, version and labels, the snippet's
//! matches highlighted on a terminal; or one JSON object.

use std::io::IsTerminal;

use anyhow::Result;
use cairn_core::engine::SearchResponse;

/// The results as one JSON object (`cairn search --json`).
pub fn print_search_json(resp: &SearchResponse) -> Result<()> {
    let results: Vec<serde_json::Value> = resp
        .results
        .iter()
        .map(|h| {
            serde_json::json!({
                "path": cairn_core::paths::escaped(&h.path),
                "page": h.page,
                "heading": h.heading.join(" > "),
                "snippet": h.snippet.text,
                "score": h.score,
                "chunk_id": h.chunk_id,
                "version": h.version,
                "status": h.status,
                "deprecated": h.deprecated.as_ref().map(|d| serde_json::json!({
                    "reason": d.reason, "superseded_by": d.superseded_by,
                })),
                "kind": h.kind,
                "byte_span": [h.byte_start, h.byte_end],
            })
        })
        .collect();
    let out = serde_json::json!({
        "results": results,
        "mode": resp.mode,
        "embedded_chunks": resp.embedded_chunks,
        "total_chunks": resp.total_chunks,
        "notice": resp.notice,
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// The snippet with its matches in bold yellow when `color`.
fn highlight(s: &cairn_core::retrieve::Snippet, color: bool) -> String {
    if !color {
        return super::clean(&s.text).into_owned();
    }
    let mut out = String::new();
    let mut at = 0;
    for (a, b) in &s.highlights {
        if *a < at || *b > s.text.len() {
            continue;
        }
        out.push_str(&super::clean(&s.text[at..*a]));
        out.push_str("\x1b[1;33m");
        out.push_str(&super::clean(&s.text[*a..*b]));
        out.push_str("\x1b[0m");
        at = *b;
    }
    out.push_str(&super::clean(&s.text[at..]));
    out
}

/// The results as text (`cairn search`, `cairn demo`).
pub fn print_search(resp: &SearchResponse) {
    let color = std::io::stdout().is_terminal();
    if let Some(n) = &resp.notice {
        println!("note: {n}");
    }
    if resp.results.is_empty() {
        println!("no matching passages");
        return;
    }
    for (i, h) in resp.results.iter().enumerate() {
        let mut loc = crate::print::clean_path(&h.path).to_string();
        if let Some(p) = h.page {
            let word = cairn_core::parse::page_word(&h.kind);
            loc.push_str(&format!(" ({word} {p})"));
        }
        let mut label = String::new();
        if h.status != "current" {
            label.push_str(&format!(" [{}]", h.status.to_uppercase()));
        }
        if let Some(d) = &h.deprecated {
            label.push_str(&format!(" [DEPRECATED: {}", super::clean(&d.reason)));
            if let Some(by) = &d.superseded_by {
                label.push_str(&format!("; superseded by {by}"));
            }
            label.push(']');
        }
        println!(
            "{:>2}. {loc}  [score {:.3}, v{}]{label}",
            i + 1,
            h.score,
            h.version
        );
        if !h.heading.is_empty() {
            println!("    § {}", h.heading.join(" > "));
        }
        println!("    {}", highlight(&h.snippet, color));
    }
}
