//! The conversation types answers are made of: sessions, their messages, pinned facts, and the
//! ids of audit records. They live with the answers; the audit log (`crate::audit`) stores them
//! and depends on this module, not the other way round.

use serde::{Deserialize, Serialize};

use crate::ids::typed_id;

typed_id!(
    /// A conversation.
    SessionId
);
typed_id!(
    /// One row of the audit log.
    AuditId
);
typed_id!(
    /// A pinned fact.
    PinId
);

/// A fact the user pinned: added to every prompt of the collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    pub id: PinId,
    pub text: String,
    pub created_at: i64,
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

impl MessageRole {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        }
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub role: MessageRole,
    pub content: String,
    /// For questions: the standalone query it was rewritten to.
    pub rewritten: Option<String>,
    /// For answers: the audit row.
    pub audit_id: Option<AuditId>,
    pub created_at: i64,
}

/// A conversation, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub title: String,
    pub created_at: i64,
    pub messages: u64,
}
