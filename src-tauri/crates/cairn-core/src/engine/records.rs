//! The handle to a library's sessions, pinned facts and audit log.

use super::Engine;
use crate::audit::Records;

impl Engine {
    /// Sessions, pinned facts and the audit log of this library (user data in the catalog's
    /// SQLite file, appended through SQLite's own locking; see [`crate::audit`]).
    pub fn records(&self) -> Records<'_> {
        Records::new(self.catalog.as_ref())
    }
}
