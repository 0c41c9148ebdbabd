//! Sessions, pinned facts and the audit log, reached through the engine's catalog.

use super::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Starts a conversation; `ask` with its id continues it.
    pub fn new_session(&self, title: &str) -> Result<crate::audit::SessionId> {
        crate::audit::create_session(self.catalog.conn(), title.trim())
    }

    /// Conversations, oldest first.
    pub fn sessions(&self) -> Result<Vec<crate::audit::Session>> {
        crate::audit::list_sessions(self.catalog.conn())
    }

    /// The messages of a conversation.
    pub fn session_messages(
        &self,
        id: crate::audit::SessionId,
    ) -> Result<Vec<crate::audit::Message>> {
        if !crate::audit::session_exists(self.catalog.conn(), id)? {
            return Err(Error::NotFound(format!("there is no conversation {id}")));
        }
        crate::audit::messages(self.catalog.conn(), id)
    }

    /// Pins a fact: it is added to every generated answer's prompt.
    pub fn pin_add(&self, text: &str) -> Result<crate::audit::PinId> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Invalid("a pinned fact must not be empty".into()));
        }
        if text.len() > 2000 {
            return Err(Error::Invalid(
                "a pinned fact must be at most 2000 characters".into(),
            ));
        }
        crate::audit::add_pin(self.catalog.conn(), text)
    }

    /// Pinned facts, oldest first.
    pub fn pins(&self) -> Result<Vec<crate::audit::Pin>> {
        crate::audit::pins(self.catalog.conn())
    }

    /// Unpins a fact.
    pub fn pin_remove(&self, id: crate::audit::PinId) -> Result<()> {
        crate::audit::remove_pin(self.catalog.conn(), id)
    }

    /// The newest `limit` audit records, newest first.
    pub fn audit_list(&self, limit: usize) -> Result<Vec<crate::audit::AuditSummary>> {
        crate::audit::list_audit(self.catalog.conn(), limit)
    }

    /// One full audit record.
    pub fn audit_record(&self, id: crate::audit::AuditId) -> Result<crate::audit::AuditRecord> {
        crate::audit::get_audit(self.catalog.conn(), id)
    }

    /// Every audit record, oldest first.
    pub fn audit_export(&self) -> Result<Vec<crate::audit::AuditRecord>> {
        crate::audit::all_audit(self.catalog.conn())
    }
}
