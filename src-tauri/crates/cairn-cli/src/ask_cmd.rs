//! `cairn ask`, `cairn audit`, `cairn pin` and the printing of `cairn eval --abstention`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use cairn_core::answer::{Answer, AnswerMode, AskRequest, Generator};
use cairn_core::audit::{AuditId, AuditRecord, PinId, SessionId};
use cairn_core::cite::Verdict;
use cairn_core::config::Config;
use cairn_core::engine::{Access, Engine};
use cairn_core::eval::AbstentionReport;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct AskArgs {
    /// The question.
    #[arg(required = true)]
    question: Vec<String>,
    /// Answer without a model: the best supporting sentences, quoted verbatim and cited.
    #[arg(long, conflicts_with_all = ["provider", "model", "base_url"])]
    extractive: bool,
    #[command(flatten)]
    llm: crate::generators::LlmArgs,
    /// Continue this conversation (follow-ups are rewritten into standalone questions).
    #[arg(long, conflicts_with = "new_session")]
    session: Option<i64>,
    /// Start a conversation; its id is printed, pass it to --session next time.
    #[arg(long)]
    new_session: bool,
    /// Number of source passages [default: answer.sources from the config].
    #[arg(short = 'n', long)]
    sources: Option<usize>,
    #[command(flatten)]
    filters: crate::FilterArgs,
    /// Print the answer as one JSON object (no streaming).
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// The latest answers (and failed attempts), newest first.
    List {
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Everything recorded about one answer or failed attempt.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Every record, oldest first, as a JSON array.
    Export {
        /// Accepted for symmetry: the export is always JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PinCommand {
    /// Pin a fact.
    Add {
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// List pinned facts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Unpin a fact by its id.
    Remove { id: i64 },
}

pub fn run_ask(data_dir: &Path, config: Config, args: &AskArgs) -> Result<()> {
    let config = args.llm.apply(config)?;
    let generator = if args.extractive {
        None
    } else {
        crate::generators::make_generator(&config)?
    };
    let mode = if generator.is_some() {
        AnswerMode::Generative
    } else {
        if !args.extractive {
            eprintln!(
                "note: no answer model is configured (llm.provider = \"none\"): answering extractively (sentences quoted verbatim from the sources)"
            );
        }
        AnswerMode::Extractive
    };
    let mut engine = Engine::open(data_dir, config, Access::ReadOnly)?;
    let question = args.question.join(" ");
    let session = match (args.session, args.new_session) {
        (Some(id), _) => Some(SessionId(id)),
        (None, true) => {
            let title: String = question.chars().take(80).collect();
            let id = engine.new_session(&title)?;
            if !args.json {
                eprintln!("conversation {id} (continue with --session {id})");
            }
            Some(id)
        }
        (None, false) => None,
    };
    let mut req = AskRequest::new(question, mode);
    req.session = session;
    req.limit = args.sources.unwrap_or(0);
    req.filters = args.filters.build()?;
    let cancel = crate::cancel_flag();
    let stream = !args.json;
    let mut stdout = std::io::stdout();
    let answer = engine.ask(
        &req,
        generator.as_deref().map(|g| g as &dyn Generator),
        &cancel,
        &mut |t| {
            if stream {
                let _ = stdout.write_all(t.as_bytes());
                let _ = stdout.flush();
            }
        },
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&answer)?);
    } else {
        println!();
        print_answer_footer(&answer);
    }
    Ok(())
}

fn verdict_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "✓ supported",
        Verdict::Unsupported => "✗ unsupported",
        Verdict::Invalid => "✗ invalid",
    }
}

fn print_answer_footer(a: &Answer) {
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
                let page = h.page.map(|p| format!(" (page {p})")).unwrap_or_default();
                let heading = if h.heading.is_empty() {
                    String::new()
                } else {
                    format!("  § {}", h.heading.join(" > "))
                };
                println!("  - {}{page}{heading}", h.path.display());
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
                let bad = verdicts
                    .iter()
                    .filter(|v| **v != Verdict::Supported)
                    .count();
                format!(
                    "{warn}✗ {bad} of {} citation(s) unsupported{reset}",
                    verdicts.len()
                )
            };
            println!(
                "  [{}] {}{page}{heading}  v{}  {mark}",
                s.n,
                s.path.display(),
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
            c.reason.as_deref().unwrap_or(""),
            sentence
        );
    }
    for s in a.sentences.iter().filter(|s| s.uncited) {
        println!("{warn}uncited{reset}: \"{}\"", s.text);
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

pub fn run_audit(data_dir: &Path, config: Config, cmd: &AuditCommand) -> Result<()> {
    let engine = Engine::open(data_dir, config, Access::ReadOnly)?;
    match cmd {
        AuditCommand::List { limit, json } => {
            let rows = engine.audit_list(*limit)?;
            if *json {
                println!("{}", serde_json::to_string(&rows)?);
            } else if rows.is_empty() {
                println!("no answers recorded yet");
            } else {
                for r in &rows {
                    let flag = match &r.error {
                        Some(e) => format!("  [failed: {e}]"),
                        None if r.abstained => "  [I don't know]".to_owned(),
                        None => String::new(),
                    };
                    let model = r.model_id.as_deref().unwrap_or("extractive");
                    println!(
                        "{:>5}  {}  {model}  {}{flag}",
                        r.id,
                        crate::fmt_time(r.at),
                        r.question
                    );
                }
            }
        }
        AuditCommand::Show { id, json } => {
            let rec = engine.audit_record(AuditId(*id))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rec)?);
            } else {
                print_record(&rec);
            }
        }
        AuditCommand::Export { .. } => {
            println!("{}", serde_json::to_string(&engine.audit_export()?)?);
        }
    }
    Ok(())
}

fn print_record(r: &AuditRecord) {
    println!("audit {}  {}", r.id, crate::fmt_time(r.at));
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
            p.path.display(),
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
        println!("answer\n{}", r.answer);
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
                    .map(|x| format!(": {x}"))
                    .unwrap_or_default()
            );
        }
    }
    for u in &r.uncited {
        println!("uncited: {u}");
    }
}

pub fn run_pin(data_dir: &Path, config: Config, cmd: &PinCommand) -> Result<()> {
    let engine = Engine::open(data_dir, config, Access::ReadOnly)?;
    match cmd {
        PinCommand::Add { text } => {
            let id = engine.pin_add(&text.join(" "))?;
            println!("pinned fact {id}");
        }
        PinCommand::List { json } => {
            let pins = engine.pins()?;
            if *json {
                println!("{}", serde_json::to_string(&pins)?);
            } else if pins.is_empty() {
                println!("no pinned facts");
            } else {
                for p in &pins {
                    println!("{:>4}  {}", p.id, p.text);
                }
            }
        }
        PinCommand::Remove { id } => {
            engine.pin_remove(PinId(*id))?;
            println!("unpinned fact {id}");
        }
    }
    Ok(())
}

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
