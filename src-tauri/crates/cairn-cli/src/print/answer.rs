//! Answers and the audit log: the footer under a streamed answer (sources with their citation
//! verdicts, unsupported and uncited sentences, model and timings), `cairn audit list`'s rows
//! and `cairn audit show`'s record.

use std::io::IsTerminal;

use cairn_core::answer::Answer;
use cairn_core::audit::{AuditRecord, AuditSummary};
use cairn_core::cite::Verdict;

use super::fmt_time;

fn verdict_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "✓ supported",
        Verdict::Unsupported => "✗ unsupported",
        Verdict::Contradicted => "✗ contradicted by the source",
        Verdict::Invalid => "✗ invalid",
    }
}

/// What follows a streamed answer (`cairn ask`).
pub fn print_answer_footer(a: &Answer) {
    let color = std::io::stdout().is_terminal();
    let (warn, reset) = if color {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("", "")
    };
    if let Some(n) = &a.notice {
        println!("note: {n}");
    }
    if a.cancelled {
        println!("(stopped)");
    }
    if a.rewritten_query != a.question {
        println!("(searched for: {})", a.rewritten_query);
    }
    if a.abstained {
        if !a.nearest.is_empty() {
            println!("\nNearest passages:");
            for h in &a.nearest {
                let word = cairn_core::parse::page_word(&h.kind);
                let page = h.page.map(|p| format!(" ({word} {p})")).unwrap_or_default();
                let heading = if h.heading.is_empty() {
                    String::new()
                } else {
                    format!("  § {}", h.heading.join(" > "))
                };
                println!("  - {}{page}{heading}", crate::print::clean_path(&h.path));
                println!("    {}", h.snippet.text);
            }
        }
    } else if !a.sources.is_empty() {
        println!("\nSources:");
        for s in &a.sources {
            let page = s.page.map(|p| format!(" (page {p})")).unwrap_or_default();
            let heading = if s.heading.is_empty() {
                String::new()
            } else {
                format!("  § {}", s.heading.join(" > "))
            };
            let verdicts: Vec<Verdict> = a
                .citations
                .iter()
                .filter(|c| c.n == s.n)
                .map(|c| c.verdict)
                .collect();
            let mark = if verdicts.is_empty() {
                "not cited".to_owned()
            } else if verdicts.iter().all(|v| *v == Verdict::Supported) {
                verdict_mark(Verdict::Supported).to_owned()
            } else {
                let count =
                    |want: fn(&Verdict) -> bool| verdicts.iter().filter(|v| want(v)).count();
                let contradicted = count(|v| *v == Verdict::Contradicted);
                let bad = count(|v| *v != Verdict::Supported);
                if contradicted > 0 {
                    format!(
                        "{warn}✗ {contradicted} of {} citation(s) contradicted by the source{reset}",
                        verdicts.len()
                    )
                } else {
                    format!(
                        "{warn}✗ {bad} of {} citation(s) unsupported{reset}",
                        verdicts.len()
                    )
                }
            };
            println!(
                "  [{}] {}{page}{heading}  v{}  {mark}",
                s.n,
                crate::print::clean_path(&s.path),
                s.version
            );
        }
    }
    for c in a
        .citations
        .iter()
        .filter(|c| c.verdict != Verdict::Supported)
    {
        let sentence = a
            .sentences
            .get(c.sentence)
            .map(|s| s.text.as_str())
            .unwrap_or("");
        println!(
            "{warn}[{}] {}{reset}: {} — \"{}\"",
            c.n,
            verdict_mark(c.verdict),
            super::clean(c.reason.as_deref().unwrap_or("")),
            super::clean(sentence)
        );
    }
    for s in a.sentences.iter().filter(|s| s.uncited) {
        println!("{warn}uncited{reset}: \"{}\"", super::clean(&s.text));
    }
    let mut about = vec![format!("audit {}", a.audit_id), a.template_version.clone()];
    if let Some(m) = &a.model_id {
        about.push(m.clone());
    }
    let t = &a.timings;
    if let Some(ttft) = t.ttft_ms {
        about.push(format!("first token {ttft:.0} ms"));
    }
    if let (Some(n), Some(tps)) = (t.completion_tokens, t.tokens_per_second) {
        about.push(format!("{n} tokens, {tps:.1} tokens/s"));
    }
    println!("({})", about.join("; "));
}

/// The latest answers, one a line (`cairn audit list`).
pub fn print_audit_list(rows: &[AuditSummary]) {
    for r in rows {
        let flag = match &r.error {
            Some(e) => format!("  [failed: {e}]"),
            None if r.abstained => "  [I don't know]".to_owned(),
            None => String::new(),
        };
        let model = r.model_id.as_deref().unwrap_or("extractive");
        println!(
            "{:>5}  {}  {model}  {}{flag}",
            r.id,
            fmt_time(r.at),
            r.question
        );
    }
}

/// Everything recorded about one answer (`cairn audit show`).
pub fn print_record(r: &AuditRecord) {
    println!("audit {}  {}", r.id, fmt_time(r.at));
    if let Some(s) = r.session {
        println!("conversation   {s}");
    }
    println!("question       {}", r.question);
    println!("searched for   {} ({})", r.rewritten_query, r.rewrite);
    println!("mode           {}", r.mode.as_str());
    println!(
        "model          {}{}",
        r.model_id.as_deref().unwrap_or("none"),
        r.endpoint
            .as_deref()
            .map(|e| format!(" at {e}"))
            .unwrap_or_default()
    );
    println!("template       {}", r.template_version);
    println!("filters        {}", r.filters);
    println!(
        "evidence       {:?} signal {:.3} (threshold {:.3}){}",
        r.evidence.basis,
        r.evidence.signal,
        r.evidence.threshold,
        r.evidence
            .dense_top1
            .map(|d| format!(", best cosine {d:.3}"))
            .unwrap_or_default()
    );
    let t = &r.timings;
    println!(
        "latency        retrieval {:.0} ms, first token {}, total {:.0} ms",
        t.retrieval_ms,
        t.ttft_ms
            .map(|x| format!("{x:.0} ms"))
            .unwrap_or_else(|| "-".into()),
        t.total_ms
    );
    println!("abstained      {}", r.abstained);
    if let Some(e) = &r.error {
        println!("error          generation failed, no answer: {e}");
    }
    println!("retrieved");
    for p in &r.retrieved {
        let src = p.source.map(|n| format!("[{n}] ")).unwrap_or_default();
        let page = p.page.map(|x| format!(" page {x}")).unwrap_or_default();
        println!(
            "  {:>2}. {src}{} v{}{page} bytes {}..{}  chunk {}  score {:.3}",
            p.rank,
            crate::print::clean_path(&p.path),
            p.version,
            p.byte_span.0,
            p.byte_span.1,
            p.chunk_id,
            p.score
        );
    }
    if !r.pins.is_empty() {
        println!("pinned facts");
        for p in &r.pins {
            println!("  - {p}");
        }
    }
    if r.error.is_none() || !r.answer.is_empty() {
        println!("answer\n{}", super::clean(&r.answer));
    }
    if !r.citations.is_empty() {
        println!("citations");
        for c in &r.citations {
            println!(
                "  [{}] {} (support {:.0}%){}",
                c.n,
                c.verdict.as_str(),
                c.support * 100.0,
                c.reason
                    .as_deref()
                    .map(|x| format!(": {}", super::clean(x)))
                    .unwrap_or_default()
            );
        }
    }
    for u in &r.uncited {
        println!("uncited: {}", super::clean(u));
    }
}
