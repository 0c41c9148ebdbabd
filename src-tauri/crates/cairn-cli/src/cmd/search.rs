//! `cairn search`: the flags turned into a [`SearchRequest`], the results printed.

use std::path::Path;

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::engine::{Engine, SearchRequest, SearchState};

use crate::args::{parse_date, SearchArgs};
use crate::print;

/// `cairn search QUERY…`.
pub fn search(data_dir: &Path, config: Config, args: &SearchArgs) -> Result<()> {
    let mut engine = Engine::open(data_dir, config)?;
    let req = search_request(args, engine.config())?;
    let resp = engine.search(&req)?;
    if args.json {
        print::print_search_json(&resp)?;
    } else {
        print::print_search(&resp);
    }
    Ok(())
}

fn search_request(args: &SearchArgs, config: &Config) -> Result<SearchRequest> {
    let mut req = SearchRequest::new(args.query.join(" "), config);
    if let Some(m) = args.rank.mode {
        req.mode = m.into();
    }
    if let Some(f) = args.rank.fusion {
        req.fusion = f.into();
    }
    if let Some(a) = args.rank.alpha {
        anyhow::ensure!((0.0..=1.0).contains(&a), "--alpha must be between 0 and 1");
        req.alpha = a;
    }
    if let Some(k) = args.rank.rrf_k {
        req.rrf_k = k;
    }
    if let Some(n) = args.limit {
        req.limit = n.max(1);
        req.candidates = req.candidates.max(n);
    }
    let filters = args.filters.build()?;
    if let Some(t) = &args.as_of {
        let at = chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp())
            .or_else(|_| parse_date(t, true))?;
        req.state = SearchState::AsOf(at);
    } else if args.history {
        req.state = SearchState::History;
    }
    req.filters = filters;
    Ok(req)
}
