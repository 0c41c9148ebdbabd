//! One module per group of commands, named after the commands: each opens the engine, calls
//! it and prints the result (through [`crate::print`] for anything longer than a line).

pub mod ask;
pub mod audit;
pub mod config;
pub mod curation;
pub mod demo;
pub mod eval;
pub mod forget;
pub mod index;
pub mod migrate;
pub mod pin;
pub mod search;
pub mod team;
pub mod watch;
