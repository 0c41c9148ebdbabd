//! `cairn team collections|assign|grant|revoke|audit`: a team library's collections, reader
//! roles and audit, through `cairn_core::store::postgres::Admin` (the server decides what the
//! connected role may do; refusals come back with a hint).

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::store::postgres::Admin;
use cairn_core::Error;

use crate::args::TeamCommand;
use crate::print::{clean, fmt_time};

/// `cairn team …`.
pub fn team(config: &Config, cmd: &TeamCommand) -> Result<()> {
    let Some(target) = config.team_library()? else {
        return Err(Error::Invalid(
            "`cairn team` works on a team library: pass --library postgres://USER@HOST/DB or set \
             CAIRN_LIBRARY (docs/team.md)"
                .into(),
        )
        .into());
    };
    let mut admin = Admin::connect(&target)?;
    match cmd {
        TeamCommand::Collections { json } => {
            let list = admin.collections()?;
            if *json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("no collections yet (folders are in `default` until assigned)");
            } else {
                for c in &list {
                    let readers = if c.readers.is_empty() {
                        "no reader role".to_owned()
                    } else {
                        format!("read by {}", c.readers.join(", "))
                    };
                    println!(
                        "{}  {} passage(s) you may read, {readers}",
                        clean(&c.name),
                        c.passages
                    );
                    for f in &c.folders {
                        println!("    {}", clean(f));
                    }
                }
            }
        }
        TeamCommand::Assign { folder, collection } => {
            let moved = admin.set_collection(folder, collection)?;
            println!(
                "{} is now in collection {} ({moved} passage(s) moved)",
                clean(folder),
                clean(collection)
            );
        }
        TeamCommand::Grant { collection, role } => {
            let new = admin.grant(collection, role)?;
            println!(
                "{} {} read collection {}",
                clean(role),
                if new { "may now" } else { "could already" },
                clean(collection)
            );
        }
        TeamCommand::Revoke { collection, role } => {
            let still = admin.revoke(collection, role)?;
            if still.is_empty() {
                println!(
                    "{} may no longer read collection {}",
                    clean(role),
                    clean(collection)
                );
            } else {
                println!(
                    "grant removed, but {} still reads collection {} as a member of {}: revoke \
                     that role's grant or its membership too",
                    clean(role),
                    clean(collection),
                    still.join(", ")
                );
            }
        }
        TeamCommand::Audit {
            limit,
            json,
            export,
        } => {
            let reviewer = admin.is_reviewer()?;
            let rows = admin.audit((!*export).then_some(*limit), *export)?;
            if *json || *export {
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                if !reviewer {
                    println!("(your own answers: only the reviewer role reads everyone's)");
                }
                if rows.is_empty() {
                    println!("no answers recorded yet");
                }
                for r in &rows {
                    println!(
                        "#{}  {}  {}  [{}{}]  {}",
                        r.id,
                        fmt_time(r.at),
                        clean(&r.db_user),
                        r.mode,
                        if r.abstained { ", abstained" } else { "" },
                        clean(&r.question)
                    );
                }
            }
        }
    }
    Ok(())
}
