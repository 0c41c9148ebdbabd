//! The embedded store's side of a library copy (`store::copy`): rows read from one SQLite
//! read transaction (a snapshot: a writer may go on meanwhile), and a new catalog filled in
//! one write transaction.

use std::path::Path;

use rusqlite::types::{Value, ValueRef};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::store::copy::{Cell, RowSink, RowSource, Table};

const CATALOG: &str = "catalog.sqlite3";

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A data directory's catalog, read in one transaction.
pub(crate) struct SqliteSource {
    catalog: Catalog,
}

impl SqliteSource {
    pub(crate) fn open(data_dir: &Path) -> Result<SqliteSource> {
        let path = data_dir.join(CATALOG);
        if !path.is_file() {
            return Err(Error::NotFound(format!(
                "no library in {}: it has no {CATALOG}",
                data_dir.display()
            )));
        }
        let catalog = Catalog::open(&path)?;
        // The snapshot starts at the first read and lasts until the connection closes.
        catalog.conn().execute_batch("BEGIN DEFERRED")?;
        catalog
            .conn()
            .query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0))?;
        Ok(SqliteSource { catalog })
    }
}

impl RowSource for SqliteSource {
    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        self.catalog.meta(key)
    }

    fn count(&mut self, table: &Table) -> Result<u64> {
        let n: i64 = self.catalog.conn().query_row(
            &format!("SELECT count(*) FROM {}", table.name),
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn rows(&mut self, table: &Table, f: &mut dyn FnMut(Vec<Cell>) -> Result<()>) -> Result<()> {
        let sql = format!("SELECT {} FROM {}", column_list(table), table.name);
        let mut stmt = self.catalog.conn().prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let mut cells = Vec::with_capacity(table.columns.len());
            for i in 0..table.columns.len() {
                cells.push(match r.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Int(n),
                    ValueRef::Real(x) => Cell::Real(x),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
                });
            }
            f(cells)?;
        }
        Ok(())
    }

    fn collections(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// A new catalog in a directory of its own, filled in one transaction.
pub(crate) struct SqliteSink {
    catalog: Catalog,
}

impl SqliteSink {
    /// Creates the catalog in `dir`, which must not hold one yet.
    pub(crate) fn create(dir: &Path) -> Result<SqliteSink> {
        let path = dir.join(CATALOG);
        if path.exists() {
            return Err(Error::Invalid(format!(
                "{} already holds a library",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let catalog = Catalog::open(&path)?;
        catalog.conn().execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteSink { catalog })
    }
}

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(n) => Value::Integer(*n),
        Cell::Real(x) => Value::Real(*x),
        Cell::Text(t) => Value::Text(t.clone()),
        Cell::Bytes(b) => Value::Blob(b.clone()),
    }
}

impl RowSink for SqliteSink {
    fn insert(&mut self, table: &Table, rows: &[Vec<Cell>]) -> Result<()> {
        let marks = vec!["?"; table.columns.len()].join(", ");
        // A new catalog may hold settings already (none today); the copy's win.
        let verb = if table.name == "meta" {
            "INSERT OR REPLACE"
        } else {
            "INSERT"
        };
        let sql = format!(
            "{verb} INTO {} ({}) VALUES ({marks})",
            table.name,
            column_list(table)
        );
        let mut stmt = self.catalog.conn().prepare_cached(&sql)?;
        for row in rows {
            stmt.execute(rusqlite::params_from_iter(row.iter().map(value)))?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.catalog.conn().execute_batch("COMMIT")?;
        Ok(())
    }
}
