//! `cairn pin add|list|remove`: the facts every generated answer's prompt includes.

use std::path::Path;

use anyhow::Result;
use cairn_core::audit::PinId;
use cairn_core::config::Config;
use cairn_core::engine::Engine;

use crate::args::PinCommand;

/// `cairn pin …`.
pub fn pin(data_dir: &Path, config: Config, cmd: &PinCommand) -> Result<()> {
    let engine = Engine::open(data_dir, config)?;
    match cmd {
        PinCommand::Add { text } => {
            let id = engine.records().pin_add(&text.join(" "))?;
            println!("pinned fact {id}");
        }
        PinCommand::List { json } => {
            let pins = engine.records().pins()?;
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
            engine.records().pin_remove(PinId(*id))?;
            println!("unpinned fact {id}");
        }
    }
    Ok(())
}
