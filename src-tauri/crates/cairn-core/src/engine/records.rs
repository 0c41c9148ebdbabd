//! The handle to a library's sessions, pinned facts and audit log.

use super::Engine;
use crate::audit::{AuditId, AuditRecord, AuditSummary, Message, Pin, PinId, Session, SessionId};
use crate::error::{Error, Result};
use crate::store::RecordStore;

impl Engine {
    /// Sessions, pinned facts and the audit log of this library (user data in the catalog,
    /// appended under the store's own locking; see [`crate::audit`]).
    pub fn records(&self) -> Records<'_> {
        Records {
            store: self.catalog.as_ref(),
        }
    }
}

/// Sessions, pinned facts and the audit log of one library, reached through
/// [`Engine::records`].
pub struct Records<'a> {
    store: &'a dyn RecordStore,
}

impl Records<'_> {
    /// Starts a conversation; `ask` with its id continues it.
    pub fn new_session(&self, title: &str) -> Result<SessionId> {
        self.store.create_session(title.trim())
    }

    /// Conversations, oldest first.
    pub fn sessions(&self) -> Result<Vec<Session>> {
        self.store.sessions()
    }

    /// The messages of a conversation.
    pub fn session_messages(&self, id: SessionId) -> Result<Vec<Message>> {
        if !self.store.session_exists(id)? {
            return Err(Error::NotFound(format!("there is no conversation {id}")));
        }
        self.store.messages(id)
    }

    /// Pins a fact: it is added to every generated answer's prompt.
    pub fn pin_add(&self, text: &str) -> Result<PinId> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Invalid("a pinned fact must not be empty".into()));
        }
        if text.len() > 2000 {
            return Err(Error::Invalid(
                "a pinned fact must be at most 2000 characters".into(),
            ));
        }
        self.store.add_pin(text)
    }

    /// Pinned facts, oldest first.
    pub fn pins(&self) -> Result<Vec<Pin>> {
        self.store.pins()
    }

    /// Unpins a fact.
    pub fn pin_remove(&self, id: PinId) -> Result<()> {
        self.store.remove_pin(id)
    }

    /// The newest `limit` audit records, newest first.
    pub fn audit_list(&self, limit: usize) -> Result<Vec<AuditSummary>> {
        self.store.audit_list(limit)
    }

    /// One full audit record.
    pub fn audit_record(&self, id: AuditId) -> Result<AuditRecord> {
        self.store.audit_record(id)
    }

    /// Every audit record, oldest first.
    pub fn audit_export(&self) -> Result<Vec<AuditRecord>> {
        self.store.audit_export()
    }
}
