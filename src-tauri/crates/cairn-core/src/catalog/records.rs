//! [`RecordStore`] for the SQLite catalog: conversations, pinned facts and the audit log live
//! in the catalog's file, in the tables and with the queries of [`crate::audit`].

use super::Catalog;
use crate::audit::{
    self, AuditId, AuditRecord, AuditSummary, Message, MessageRole, Pin, PinId, Session, SessionId,
};
use crate::error::Result;
use crate::store::RecordStore;

impl RecordStore for Catalog {
    fn create_session(&self, title: &str) -> Result<SessionId> {
        audit::create_session(&self.conn, title)
    }

    fn session_exists(&self, id: SessionId) -> Result<bool> {
        audit::session_exists(&self.conn, id)
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        audit::list_sessions(&self.conn)
    }

    fn messages(&self, session: SessionId) -> Result<Vec<Message>> {
        audit::messages(&self.conn, session)
    }

    fn add_message(
        &self,
        session: SessionId,
        role: MessageRole,
        content: &str,
        rewritten: Option<&str>,
        audit_id: Option<AuditId>,
    ) -> Result<()> {
        audit::add_message(&self.conn, session, role, content, rewritten, audit_id)
    }

    fn add_pin(&self, text: &str) -> Result<PinId> {
        audit::add_pin(&self.conn, text)
    }

    fn pins(&self) -> Result<Vec<Pin>> {
        audit::pins(&self.conn)
    }

    fn remove_pin(&self, id: PinId) -> Result<()> {
        audit::remove_pin(&self.conn, id)
    }

    fn insert_audit(&self, record: &AuditRecord) -> Result<AuditId> {
        audit::insert_audit(&self.conn, record)
    }

    fn audit_list(&self, limit: usize) -> Result<Vec<AuditSummary>> {
        audit::list_audit(&self.conn, limit)
    }

    fn audit_record(&self, id: AuditId) -> Result<AuditRecord> {
        audit::get_audit(&self.conn, id)
    }

    fn audit_export(&self) -> Result<Vec<AuditRecord>> {
        audit::all_audit(&self.conn)
    }
}
