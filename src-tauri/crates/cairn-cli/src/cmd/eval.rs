//! `cairn eval`: retrieval (or, with `--abstention`, the "I don't know" decision) measured on a
//! BEIR-layout dataset.

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::eval::{evaluate, evaluate_abstention, EvalOptions};

use crate::args::EvalArgs;
use crate::print;
use crate::progress::Bar;

/// `cairn eval --dataset DIR …`.
pub fn eval(config: Config, args: &EvalArgs) -> Result<()> {
    let s = &config.search;
    let opts = EvalOptions {
        dataset: args.dataset.clone(),
        mode: args.rank.mode.map_or(s.mode, Into::into),
        fusion: args.rank.fusion.map_or(s.fusion, Into::into),
        alpha: args.rank.alpha.unwrap_or(s.alpha),
        rrf_k: args.rank.rrf_k.unwrap_or(s.rrf_k),
        max_queries: args.max_queries,
        store: args.store.clone(),
    };
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
