//! Evaluation reports: ranking quality and speed (`cairn eval`), the "I don't know" decision
//! with its threshold sweep (`cairn eval --abstention`), answers (`cairn eval --answers`).

use anyhow::Result;
use cairn_core::eval::{AbstentionReport, AnswerReport, EvalReport};

/// Ranking quality, index time and search latency (`cairn eval` without `--json`).
pub fn print_eval(report: &EvalReport) {
    println!("dataset        {}", report.dataset);
    println!(
        "mode           {}{}",
        report.mode,
        report
            .fusion
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default()
    );
    println!(
        "docs           {} ({} passages)",
        report.docs, report.chunks
    );
    println!("queries        {}", report.queries);
    println!("nDCG@10        {:.4}", report.ndcg_at_10);
    println!("Recall@100     {:.4}", report.recall_at_100);
    println!("MRR@10         {:.4}", report.mrr_at_10);
    println!(
        "index          {:.1} s (keyword-searchable after {:.1} s)",
        report.index_seconds, report.keyword_ready_seconds
    );
    println!(
        "search latency p50 {:.1} ms, p95 {:.1} ms",
        report.search_p50_ms, report.search_p95_ms
    );
}

/// The abstention report, as text or one JSON object (`cairn eval --abstention`).
pub fn print_abstention(r: &AbstentionReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    println!("dataset                      {}", r.dataset);
    println!(
        "queries                      {} ({} answerable, {} not)",
        r.queries, r.answerable, r.unanswerable
    );
    println!(
        "docs                         {} ({} passages)",
        r.docs, r.chunks
    );
    println!(
        "signal                       {} (threshold {})",
        r.signal, r.threshold
    );
    println!(
        "answered when answerable     {:.3}",
        r.answered_when_answerable
    );
    println!(
        "abstained when unanswerable  {:.3}",
        r.abstained_when_unanswerable
    );
    println!(
        "hit@10 when answered         {:.3}",
        r.hit_at_10_when_answered
    );
    println!("balanced accuracy            {:.3}", r.balanced_accuracy);
    println!("\nthreshold  answered|answerable  abstained|unanswerable  hit@10|answered");
    for p in &r.sweep {
        println!(
            "{:>9.3}  {:>19.3}  {:>22.3}  {:>15.3}",
            p.threshold,
            p.answered_when_answerable,
            p.abstained_when_unanswerable,
            p.hit_at_10_when_answered
        );
    }
    Ok(())
}

/// The answer report, as a table or one JSON object (`cairn eval --answers`).
pub fn print_answers(r: &AnswerReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"));
    let s = &r.summary;
    println!("dataset                      {}", r.dataset);
    let model = r.model.as_deref().map(super::clean).unwrap_or_default();
    let endpoint = r
        .endpoint
        .as_deref()
        .map(|e| format!(" at {}", super::clean(e)))
        .unwrap_or_default();
    println!("mode                         {} {model}{endpoint}", r.mode);
    println!(
        "settings                     {} sources, template {}, reranker {}",
        r.sources,
        r.template_version,
        r.reranker
            .as_deref()
            .map(super::clean)
            .unwrap_or_else(|| "off".into())
    );
    println!(
        "questions                    {} ({} answerable, {} not)",
        r.queries, s.answerable, s.unanswerable
    );
    println!("exact match                  {:.3}", s.exact_match);
    println!("token F1                     {:.3}", s.f1);
    println!("answer contained             {:.3}", s.answer_contained);
    println!("answer in sources            {:.3}", s.answer_in_sources);
    println!(
        "answered when answerable     {:.3}",
        s.answered_when_answerable
    );
    println!(
        "abstained when unanswerable  {}",
        opt(s.abstained_when_unanswerable)
    );
    println!("citation precision           {}", opt(s.citation_precision));
    println!("citation recall              {}", opt(s.citation_recall));
    println!(
        "unsupported sentences        {}",
        opt(s.unsupported_sentence_rate)
    );
    println!(
        "time to first token          p50 {}, p95 {}",
        ms(r.ttft_p50_ms),
        ms(r.ttft_p95_ms)
    );
    println!(
        "latency                      p50 {:.0} ms, p95 {:.0} ms, mean {:.0} ms",
        r.latency_p50_ms, r.latency_p95_ms, r.latency_mean_ms
    );
    if r.failed > 0 {
        println!(
            "failed                       {} ({})",
            r.failed,
            r.first_error
                .as_deref()
                .map(super::clean)
                .unwrap_or_default()
        );
    }
    Ok(())
}
