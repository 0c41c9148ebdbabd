//! The team store's side of a library copy (`store::copy`): rows read in one `REPEATABLE
//! READ` transaction by the library's owner (row-level security would hide other
//! collections from anyone else), and an empty library filled in one transaction under the
//! writer's advisory lock, its identity sequences moved past the copied ids.

use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, Statement};

use super::catalog::{words, PgCatalog};
use super::connect::Target;
use crate::error::{Error, Result};
use crate::store::copy::{bad_cell, Cell, RowSink, RowSource, Table};

/// Tables whose `id` is an identity column.
const IDENTITIES: &[&str] = &[
    "folders",
    "documents",
    "versions",
    "chunks",
    "sessions",
    "messages",
    "pins",
    "audit",
];

fn column_list(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A team library read by its owner in one snapshot.
pub(crate) struct PgSource {
    client: Client,
    target: Target,
}

impl PgSource {
    pub(crate) fn open(target: &Target) -> Result<PgSource> {
        let mut client = target.connect()?;
        let err = |e: postgres::Error| target.error(&e);
        let exists: bool = client
            .query_one("SELECT to_regclass('cairn_schema') IS NOT NULL", &[])
            .map_err(err)?
            .get(0);
        if !exists {
            return Err(Error::NotFound(format!(
                "no Cairn library in {}: the database has no Cairn tables",
                target.server()
            )));
        }
        // The owner (or a role that bypasses row-level security) sees every row; anyone else
        // would copy only the collections they may read.
        let sees_all: bool = client
            .query_one(
                "SELECT r.rolsuper OR r.rolbypassrls
                        OR pg_has_role(current_user, c.relowner, 'USAGE')
                 FROM pg_class c, pg_roles r
                 WHERE c.oid = 'chunks'::regclass AND r.rolname = current_user",
                &[],
            )
            .map_err(err)?
            .get(0);
        if !sees_all {
            return Err(Error::Invalid(format!(
                "{} may read only some collections of {}: a copy must be made by the role that \
                 owns the library's tables (the indexer's), or it would leave passages out",
                target.user(),
                target.server()
            )));
        }
        client
            .batch_execute(
                "SET statement_timeout = 0;
                 BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            )
            .map_err(err)?;
        Ok(PgSource {
            client,
            target: target.clone(),
        })
    }

    fn e(&self) -> impl Fn(postgres::Error) -> Error + '_ {
        move |e| self.target.error(&e)
    }
}

impl RowSource for PgSource {
    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        let target = self.target.clone();
        Ok(self
            .client
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .map_err(|e| target.error(&e))?
            .map(|r| r.get(0)))
    }

    fn count(&mut self, table: &Table) -> Result<u64> {
        let target = self.target.clone();
        let n: i64 = self
            .client
            .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
            .map_err(|e| target.error(&e))?
            .get(0);
        Ok(n as u64)
    }

    fn rows(&mut self, table: &Table, f: &mut dyn FnMut(Vec<Cell>) -> Result<()>) -> Result<()> {
        let target = self.target.clone();
        let err = |e: postgres::Error| target.error(&e);
        // JSON comes as text; everything else in its own type.
        let probe = self
            .client
            .prepare(&format!(
                "SELECT {} FROM {}",
                column_list(table.columns),
                table.name
            ))
            .map_err(err)?;
        let select: Vec<String> = table
            .columns
            .iter()
            .zip(probe.columns())
            .map(|(c, col)| match *col.type_() {
                Type::JSON | Type::JSONB => format!("\"{c}\"::text"),
                _ => format!("\"{c}\""),
            })
            .collect();
        let sql = format!("SELECT {} FROM {}", select.join(", "), table.name);
        let params: [&(dyn ToSql + Sync); 0] = [];
        let mut it = self.client.query_raw(&sql, params).map_err(err)?;
        while let Some(row) = it.next().map_err(err)? {
            let mut cells = Vec::with_capacity(table.columns.len());
            for (i, col) in row.columns().iter().enumerate() {
                let cell = match *col.type_() {
                    Type::INT2 => row.get::<_, Option<i16>>(i).map(|n| Cell::Int(n.into())),
                    Type::INT4 => row.get::<_, Option<i32>>(i).map(|n| Cell::Int(n.into())),
                    Type::INT8 => row.get::<_, Option<i64>>(i).map(Cell::Int),
                    Type::FLOAT4 => row.get::<_, Option<f32>>(i).map(|x| Cell::Real(x.into())),
                    Type::FLOAT8 => row.get::<_, Option<f64>>(i).map(Cell::Real),
                    Type::BOOL => row.get::<_, Option<bool>>(i).map(|b| Cell::Int(b.into())),
                    Type::BYTEA => row.get::<_, Option<Vec<u8>>>(i).map(Cell::Bytes),
                    _ => row.get::<_, Option<String>>(i).map(Cell::Text),
                };
                cells.push(cell.unwrap_or(Cell::Null));
            }
            f(cells)?;
        }
        Ok(())
    }

    fn collections(&mut self) -> Result<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT DISTINCT collection FROM folders WHERE collection <> 'default'
                 ORDER BY collection",
                &[],
            )
            .map_err(self.e())?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// An empty team library filled in one transaction, holding the writer's lock.
pub(crate) struct PgSink {
    catalog: PgCatalog,
    /// Each copied version: (is current, title), for its passages' own columns.
    versions: HashMap<i64, (bool, String)>,
    statements: HashMap<(&'static str, usize), Statement>,
}

impl PgSink {
    /// Connects as the writer (migrating the schema), refuses a library that holds anything,
    /// and begins the copy's transaction.
    pub(crate) fn open(target: &Target) -> Result<PgSink> {
        let catalog = PgCatalog::connect(target, true)?;
        let counts = catalog.query(
            "SELECT (SELECT count(*) FROM folders), (SELECT count(*) FROM documents),
                    (SELECT count(*) FROM embeddings), (SELECT count(*) FROM audit),
                    (SELECT count(*) FROM sessions) + (SELECT count(*) FROM pins)
                      + (SELECT count(*) FROM deprecations) + (SELECT count(*) FROM tags)
                      + (SELECT count(*) FROM forgotten) + (SELECT count(*) FROM problems)",
            &[],
        )?;
        let n = |i: usize| counts[0].get::<_, i64>(i);
        if (0..5).any(|i| n(i) > 0) {
            return Err(Error::Invalid(format!(
                "the team library {} is not empty ({} folders, {} documents, {} cached vectors, \
                 {} audit records, {} other records): a library is copied only into an empty one",
                target.server(),
                n(0),
                n(1),
                n(2),
                n(3),
                n(4)
            )));
        }
        catalog
            .db()
            .batch_execute("SET statement_timeout = 0; BEGIN")
            .map_err(catalog.e())?;
        Ok(PgSink {
            catalog,
            versions: HashMap::new(),
            statements: HashMap::new(),
        })
    }
}

/// The columns written for `table`: the shared ones plus those only this store has.
fn target_columns(table: &Table) -> Vec<&'static str> {
    let mut cols = table.columns.to_vec();
    if table.name == "chunks" {
        cols.extend(["current", "title", "words"]);
    }
    cols
}

/// `cell` as a parameter of type `ty`.
fn param(table: &Table, column: &str, cell: &Cell, ty: &Type) -> Result<Box<dyn ToSql + Sync>> {
    let bad = || bad_cell(table, column, cell);
    let int = |c: &Cell| match c {
        Cell::Int(n) => Ok(Some(*n)),
        Cell::Null => Ok(None),
        _ => Err(bad()),
    };
    Ok(match *ty {
        Type::INT8 => Box::new(int(cell)?),
        Type::INT4 => Box::new(
            int(cell)?
                .map(i32::try_from)
                .transpose()
                .map_err(|_| bad())?,
        ),
        Type::INT2 => Box::new(
            int(cell)?
                .map(i16::try_from)
                .transpose()
                .map_err(|_| bad())?,
        ),
        Type::BOOL => Box::new(int(cell)?.map(|n| n != 0)),
        Type::FLOAT4 | Type::FLOAT8 => {
            let x = match cell {
                Cell::Real(x) => Some(*x),
                Cell::Int(n) => Some(*n as f64),
                Cell::Null => None,
                _ => return Err(bad()),
            };
            if *ty == Type::FLOAT4 {
                Box::new(x.map(|x| x as f32))
            } else {
                Box::new(x)
            }
        }
        Type::BYTEA => Box::new(match cell {
            Cell::Bytes(b) => Some(b.clone()),
            Cell::Null => None,
            _ => return Err(bad()),
        }),
        _ => Box::new(match cell {
            Cell::Text(t) => Some(t.clone()),
            Cell::Int(n) => Some(n.to_string()),
            Cell::Null => None,
            _ => return Err(bad()),
        }),
    })
}

impl RowSink for PgSink {
    fn insert(&mut self, table: &Table, rows: &[Vec<Cell>]) -> Result<()> {
        let cols = target_columns(table);
        let mut db = self.catalog.db();
        let key = (table.name, rows.len());
        if !self.statements.contains_key(&key) {
            let mut values = Vec::with_capacity(rows.len());
            for r in 0..rows.len() {
                let marks: Vec<String> = cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let n = r * cols.len() + i + 1;
                        // A JSON column takes its text.
                        if table.name == "audit" && *c == "record" {
                            format!("${n}::text::jsonb")
                        } else {
                            format!("${n}")
                        }
                    })
                    .collect();
                values.push(format!("({})", marks.join(", ")));
            }
            let conflict = if table.name == "meta" {
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            } else {
                ""
            };
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}{conflict}",
                table.name,
                column_list(&cols),
                values.join(", ")
            );
            let stmt = db
                .prepare(&sql)
                .map_err(|e| self.catalog.target.error(&e))?;
            self.statements.insert(key, stmt);
        }
        let stmt = &self.statements[&key];
        let types = stmt.params();
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(types.len());
        for row in rows {
            let mut cells: Vec<Cell> = row.clone();
            match table.name {
                "versions" => {
                    // id, …, status (3), …, title (8)
                    let current = matches!(&row[3], Cell::Text(s) if s == "current");
                    let title = match &row[8] {
                        Cell::Text(t) => t.clone(),
                        _ => String::new(),
                    };
                    if let Cell::Int(id) = row[0] {
                        self.versions.insert(id, (current, title));
                    }
                }
                "chunks" => {
                    // version_id (1), text (7)
                    let (current, title) = match row[1] {
                        Cell::Int(v) => self.versions.get(&v).cloned().unwrap_or_default(),
                        _ => Default::default(),
                    };
                    let n = match &row[7] {
                        Cell::Text(t) => words(t),
                        _ => 0,
                    };
                    cells.extend([
                        Cell::Int(current.into()),
                        Cell::Text(title),
                        Cell::Int(n.into()),
                    ]);
                }
                _ => {}
            }
            for (cell, column) in cells.iter().zip(&cols) {
                let ty = &types[params.len()];
                params.push(param(table, column, cell, ty)?);
            }
        }
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        db.execute(stmt, &refs)
            .map_err(|e| self.catalog.target.error(&e))?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let mut db = self.catalog.db();
        let err = |e: postgres::Error| self.catalog.target.error(&e);
        for t in IDENTITIES {
            db.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'),
                                   coalesce((SELECT max(id) FROM {t}), 0) + 1, false)"
                ),
                &[],
            )
            .map_err(err)?;
        }
        db.batch_execute("COMMIT").map_err(err)?;
        Ok(())
    }
}
