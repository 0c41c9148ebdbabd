//! `cairn audit list|show|export`: the log of answers and failed attempts.

use std::path::Path;

use anyhow::Result;
use cairn_core::audit::AuditId;
use cairn_core::config::Config;
use cairn_core::engine::Engine;

use crate::args::AuditCommand;
use crate::print;

/// `cairn audit …`.
pub fn audit(data_dir: &Path, config: Config, cmd: &AuditCommand) -> Result<()> {
    let engine = Engine::open(data_dir, config)?;
    match cmd {
        AuditCommand::List { limit, json } => {
            let rows = engine.records().audit_list(*limit)?;
            if *json {
                println!("{}", serde_json::to_string(&rows)?);
            } else if rows.is_empty() {
                println!("no answers recorded yet");
            } else {
                print::print_audit_list(&rows);
            }
        }
        AuditCommand::Show { id, json } => {
            let rec = engine.records().audit_record(AuditId(*id))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rec)?);
            } else {
                print::print_record(&rec);
            }
        }
        AuditCommand::Export { .. } => {
            println!(
                "{}",
                serde_json::to_string(&engine.records().audit_export()?)?
            );
        }
    }
    Ok(())
}
