//! `cairn ask`: a cited answer from the collection, streamed as it is written (or one JSON
//! object), in a new or continued conversation.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use cairn_core::answer::{AskRequest, Generator};
use cairn_core::audit::SessionId;
use cairn_core::config::Config;
use cairn_core::engine::Engine;

use crate::args::AskArgs;
use crate::interrupt::cancel_flag;
use crate::print;

/// `cairn ask QUESTION…`.
pub fn ask(data_dir: &Path, config: Config, args: &AskArgs) -> Result<()> {
    let config = args.llm.apply(config)?;
    let (generator, mode) = crate::generators::choose(
        &config,
        args.extractive,
        "answering extractively (sentences quoted verbatim from the sources)",
    )?;
    let mut engine = Engine::open(data_dir, config)?;
    let question = args.question.join(" ");
    let session = match (args.session, args.new_session) {
        (Some(id), _) => Some(SessionId(id)),
        (None, true) => {
            let title: String = question.chars().take(80).collect();
            let id = engine.records().new_session(&title)?;
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
    let cancel = cancel_flag();
    let stream = !args.json;
    let mut stdout = std::io::stdout();
    let answer = engine.ask(
        &req,
        generator.as_deref().map(|g| g as &dyn Generator),
        &cancel,
        &mut |t| {
            if stream {
                let _ = stdout.write_all(crate::print::clean(t).as_bytes());
                let _ = stdout.flush();
            }
        },
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&answer)?);
    } else {
        println!();
        print::print_answer_footer(&answer);
    }
    Ok(())
}
