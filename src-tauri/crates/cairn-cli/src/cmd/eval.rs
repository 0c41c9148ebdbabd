//! `cairn eval`: retrieval (or, with `--abstention`, the "I don't know" decision, or, with
//! `--answers`, the answers themselves) measured on a BEIR-layout dataset or, for answers, on
//! the user's own question file.

use std::path::Path;

use anyhow::Result;
use cairn_core::answer::Generator;
use cairn_core::config::Config;
use cairn_core::engine::Engine;
use cairn_core::eval::{
    evaluate, evaluate_abstention, evaluate_answers, evaluate_answers_on, load_questions,
    EvalOptions,
};

use crate::args::EvalArgs;
use crate::print;
use crate::progress::Bar;

/// `cairn eval --dataset DIR …` or `cairn eval --answers --questions FILE`.
pub fn eval(data_dir: &Path, config: Config, args: &EvalArgs) -> Result<()> {
    if args.answers {
        return answers(data_dir, config, args);
    }
    let dataset = args
        .dataset
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--dataset is needed (--questions goes with --answers)"))?;
    let opts = options(&config, args, dataset);
    let bar = Bar::new(!args.json);
    if args.abstention {
        let report = evaluate_abstention(&opts, &config, args.threshold, &mut |p| bar.update(p))?;
        bar.finish();
        return print::print_abstention(&report, args.json);
    }
    let report = evaluate(&opts, &config, &mut |p| bar.update(p))?;
    bar.finish();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print::print_eval(&report);
    }
    Ok(())
}

fn options(config: &Config, args: &EvalArgs, dataset: std::path::PathBuf) -> EvalOptions {
    let s = &config.search;
    EvalOptions {
        dataset,
        mode: args.rank.mode.map_or(s.mode, Into::into),
        fusion: args.rank.fusion.map_or(s.fusion, Into::into),
        alpha: args.rank.alpha.unwrap_or(s.alpha),
        rrf_k: args.rank.rrf_k.unwrap_or(s.rrf_k),
        max_queries: args.max_queries,
        store: args.store.clone(),
    }
}

/// `cairn eval --answers`: the answer mode is chosen as `cairn ask` chooses it.
fn answers(data_dir: &Path, config: Config, args: &EvalArgs) -> Result<()> {
    let mut config = args.llm.apply(config)?;
    if let Some(n) = args.sources {
        config.answer.sources = n;
        config.answer.local.sources = n;
    }
    let (generator, mode) =
        crate::generators::choose(&config, args.extractive, "evaluating extractive answers")?;
    let generator = generator.as_deref().map(|g| g as &dyn Generator);
    let show = !args.json;
    let mut on_question = |done: usize, total: usize| {
        if show {
            eprint!("\ranswered {done}/{total}");
            if done == total {
                eprintln!();
            }
        }
    };
    let report = if let Some(file) = &args.questions {
        let questions = load_questions(file)?;
        let name = file
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut engine = Engine::open(data_dir, config)?;
        evaluate_answers(
            &mut engine,
            &name,
            &questions,
            args.max_queries,
            generator,
            mode,
            &crate::interrupt::cancel_flag(),
            &mut on_question,
        )?
    } else {
        let dataset = args.dataset.clone().expect("clap requires --dataset");
        let opts = options(&config, args, dataset);
        let bar = Bar::new(show);
        let report = evaluate_answers_on(
            &opts,
            &config,
            generator,
            mode,
            &mut |p| bar.update(p),
            &mut on_question,
        )?;
        bar.finish();
        report
    };
    print::print_answers(&report, args.json)
}
