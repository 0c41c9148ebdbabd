//! `cairn-core`: Cairn's engine. See ARCHITECTURE.md for the map.
//!
//! Modules follow the pipeline: [`watch`] finds files, [`parse`] extracts text and structure,
//! [`chunk`] cuts it into token-bounded, attributed chunks, [`embed`] turns chunks into
//! vectors, [`catalog`] (SQLite) is the source of truth, [`index`] holds the derived tantivy
//! and usearch indexes, [`store`] is the seam the engine reaches them through, [`retrieve`] searches and fuses them, [`eval`] measures the result.
//! [`answer`] turns retrieved passages into cited answers ([`cite`] checks the citations,
//! [`audit`] records them). [`engine::Engine`] ties them together for the binaries.
//! Shared by several stages: [`analysis`] (how text becomes search terms and content words),
//! [`config`] and [`paths`] (default locations of the data and the models).

pub mod analysis;
pub mod answer;
pub mod audit;
pub mod catalog;
pub mod chunk;
pub mod cite;
pub mod config;
mod durable;
pub mod embed;
pub mod engine;
pub mod error;
pub mod eval;
#[doc(hidden)]
pub mod fuzzing;
mod ids;
pub mod index;
pub mod parse;
pub mod paths;
pub mod rerank;
pub mod retrieve;
pub mod stop;
pub mod store;
pub mod watch;

pub use error::{Error, Result};
