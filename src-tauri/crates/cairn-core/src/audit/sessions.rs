//! Conversations (sessions and their messages) and pinned facts, in the catalog's SQLite file.

use rusqlite::{params, Connection, OptionalExtension};

use super::{AuditId, Message, MessageRole, Pin, PinId, Session, SessionId};
use crate::error::{Error, Result};

pub(crate) fn create_session(conn: &Connection, title: &str) -> Result<SessionId> {
    conn.execute(
        "INSERT INTO sessions(created_at, title) VALUES (?1, ?2)",
        params![crate::catalog::now(), title],
    )?;
    Ok(SessionId(conn.last_insert_rowid()))
}

pub(crate) fn session_exists(conn: &Connection, id: SessionId) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM sessions WHERE id = ?1", [id.0], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(crate) fn list_sessions(conn: &Connection) -> Result<Vec<Session>> {
    let mut stmt = conn.prepare(
        "SELECT s.id, s.title, s.created_at,
                (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id)
         FROM sessions s ORDER BY s.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Session {
            id: SessionId(r.get(0)?),
            title: r.get(1)?,
            created_at: r.get(2)?,
            messages: r.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn messages(conn: &Connection, session: SessionId) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare(
        "SELECT id, role, content, rewritten, audit_id, created_at FROM messages
         WHERE session_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([session.0], |r| {
        Ok(Message {
            id: r.get(0)?,
            role: if r.get::<_, String>(1)? == "user" {
                MessageRole::User
            } else {
                MessageRole::Assistant
            },
            content: r.get(2)?,
            rewritten: r.get(3)?,
            audit_id: r.get::<_, Option<i64>>(4)?.map(AuditId),
            created_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn add_message(
    conn: &Connection,
    session: SessionId,
    role: MessageRole,
    content: &str,
    rewritten: Option<&str>,
    audit_id: Option<AuditId>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO messages(session_id, role, content, rewritten, audit_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            session.0,
            role.as_str(),
            content,
            rewritten,
            audit_id.map(|a| a.0),
            crate::catalog::now()
        ],
    )?;
    Ok(())
}

pub(crate) fn add_pin(conn: &Connection, text: &str) -> Result<PinId> {
    conn.execute(
        "INSERT INTO pins(text, created_at) VALUES (?1, ?2)",
        params![text, crate::catalog::now()],
    )?;
    Ok(PinId(conn.last_insert_rowid()))
}

pub(crate) fn pins(conn: &Connection) -> Result<Vec<Pin>> {
    let mut stmt = conn.prepare("SELECT id, text, created_at FROM pins ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Pin {
            id: PinId(r.get(0)?),
            text: r.get(1)?,
            created_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn remove_pin(conn: &Connection, id: PinId) -> Result<()> {
    if conn.execute("DELETE FROM pins WHERE id = ?1", [id.0])? == 0 {
        return Err(Error::NotFound(format!("there is no pinned fact {id}")));
    }
    Ok(())
}
