//! `cairn demo DIR`: index a folder, then answer searches typed at a prompt.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::engine::{SearchRequest, Writer};

use crate::cmd::index::run_index;
use crate::print;

/// `cairn demo DIR`.
pub fn demo(data_dir: &Path, config: Config, dir: &Path) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    let abs = engine.add_folder(dir)?;
    println!(
        "Cairn demo: indexing {} (data in {})",
        crate::print::clean_path(&abs),
        crate::print::clean_path(data_dir)
    );
    run_index(&mut engine, false, false)?;
    println!("\nType a question or keywords and press Enter (empty line or Ctrl-D to quit).");
    let stdin = std::io::stdin();
    loop {
        print!("search> ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let req = SearchRequest::new(line.trim(), engine.config());
        match engine.search(&req) {
            Ok(resp) => print::print_search(&resp),
            Err(e) => eprintln!("error: {e}\n  what to do: {}", crate::hints::hint(&e)),
        }
    }
    Ok(())
}
