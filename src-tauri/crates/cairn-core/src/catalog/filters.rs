//! Search filters (folders, kinds, path glob, modification time, tags, deprecation, mail sender
//! and date) and their
//! resolution against the catalog into the set of chunks a retriever may return.

use std::path::{Path, PathBuf};

use super::{Catalog, ChunkId, Marks};
use crate::error::Result;

/// Search filters, resolved against the catalog.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only documents under these folders (registered folder paths or prefixes).
    pub folders: Vec<PathBuf>,
    /// Only these kinds (`pdf`, `markdown`, ...).
    pub kinds: Vec<String>,
    /// Only paths matching this glob (matched against the full path).
    pub path_glob: Option<globset::GlobMatcher>,
    /// Only documents modified at or after this Unix time (seconds).
    pub modified_after: Option<i64>,
    /// Only documents modified at or before this Unix time (seconds).
    pub modified_before: Option<i64>,
    /// Only documents carrying all of these tags (directly or through a tagged folder).
    pub tags: Vec<String>,
    /// Also return deprecated documents (labelled as such).
    pub include_deprecated: bool,
    /// Only passages of mail messages whose sender (`Name <address>`) contains this,
    /// ignoring case.
    pub mail_from: Option<String>,
    /// Only passages of mail messages sent at or after this Unix time (seconds).
    pub sent_after: Option<i64>,
    /// Only passages of mail messages sent at or before this Unix time (seconds).
    pub sent_before: Option<i64>,
}

impl Filters {
    /// True when no positive restriction is set (deprecation handling aside).
    pub fn is_empty(&self) -> bool {
        self.folders.is_empty()
            && self.kinds.is_empty()
            && self.path_glob.is_none()
            && self.modified_after.is_none()
            && self.modified_before.is_none()
            && self.tags.is_empty()
            && !self.filters_mail()
    }

    /// True when a sender or a sending date is asked for: only mail passages can pass.
    pub fn filters_mail(&self) -> bool {
        self.mail_from.is_some() || self.sent_after.is_some() || self.sent_before.is_some()
    }

    /// Whether a passage of the message from `sender`, sent at `sent_at`, passes the mail
    /// filters; `sender` is `None` for passages that are not mail.
    pub fn admits_mail(&self, sender: Option<&str>, sent_at: Option<i64>) -> bool {
        if !self.filters_mail() {
            return true;
        }
        let Some(sender) = sender else {
            return false;
        };
        if let Some(from) = &self.mail_from {
            if !sender.to_lowercase().contains(&from.to_lowercase()) {
                return false;
            }
        }
        match sent_at {
            Some(t) => {
                self.sent_after.is_none_or(|a| t >= a) && self.sent_before.is_none_or(|b| t <= b)
            }
            None => self.sent_after.is_none() && self.sent_before.is_none(),
        }
    }

    /// Whether a document passes the filters (deprecation is checked separately).
    pub fn admits(&self, path: &Path, kind: &str, mtime: i64, marks: &Marks) -> bool {
        if !self.folders.is_empty() && !self.folders.iter().any(|f| path.starts_with(f)) {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k == kind) {
            return false;
        }
        if let Some(g) = &self.path_glob {
            if !g.is_match(path) {
                return false;
            }
        }
        if self.modified_after.is_some_and(|a| mtime < a)
            || self.modified_before.is_some_and(|b| mtime > b)
        {
            return false;
        }
        if !self.tags.is_empty() {
            let have = marks.tags_of(path);
            if !self.tags.iter().all(|t| have.contains(&t.as_str())) {
                return false;
            }
        }
        true
    }
}

/// Which chunks a retriever may return.
#[derive(Debug, Clone, Default)]
pub enum ChunkFilter {
    /// No restriction.
    #[default]
    All,
    /// Only these.
    Allow(std::collections::HashSet<ChunkId>),
    /// All but these.
    Deny(std::collections::HashSet<ChunkId>),
}

impl ChunkFilter {
    /// The filter from a verdict on every current chunk: the passing ids when `filters` sets a
    /// restriction, else (only deprecated documents to leave out) the few that fail.
    pub fn from_verdicts(
        filters: &Filters,
        verdicts: impl IntoIterator<Item = (ChunkId, bool)>,
    ) -> ChunkFilter {
        let mut allow = std::collections::HashSet::new();
        let mut deny = std::collections::HashSet::new();
        for (id, ok) in verdicts {
            if ok {
                allow.insert(id);
            } else {
                deny.insert(id);
            }
        }
        if filters.is_empty() {
            ChunkFilter::Deny(deny)
        } else {
            ChunkFilter::Allow(allow)
        }
    }

    pub fn admits(&self, id: ChunkId) -> bool {
        match self {
            ChunkFilter::All => true,
            ChunkFilter::Allow(s) => s.contains(&id),
            ChunkFilter::Deny(s) => !s.contains(&id),
        }
    }
}

impl Catalog {
    /// The chunk filter for `filters`: current chunks passing them, minus deprecated
    /// documents unless `filters.include_deprecated`.
    pub fn chunk_filter(&self, filters: &Filters, marks: &Marks) -> Result<ChunkFilter> {
        let exclude_deprecated = !filters.include_deprecated && marks.has_deprecations();
        if filters.is_empty() && !exclude_deprecated {
            return Ok(ChunkFilter::All);
        }
        let mut stmt = self.conn.prepare(
            "SELECT c.id, d.path, v.kind, v.mtime, m.sender, m.sent_at FROM chunks c
             JOIN versions v ON v.id = c.version_id JOIN documents d ON d.id = v.doc_id
             LEFT JOIN chunk_mail m ON m.chunk_id = c.id
             WHERE v.status = 'current'",
        )?;
        let mut rows = stmt.query([])?;
        let mut verdicts = Vec::new();
        while let Some(r) = rows.next()? {
            let id = ChunkId(r.get(0)?);
            let path = crate::paths::from_key(&r.get::<_, String>(1)?);
            let kind: String = r.get(2)?;
            let mtime: i64 = r.get(3)?;
            let sender: Option<String> = r.get(4)?;
            let sent_at: Option<i64> = r.get(5)?;
            let ok = filters.admits(&path, &kind, mtime, marks)
                && filters.admits_mail(sender.as_deref(), sent_at)
                && !(exclude_deprecated && marks.deprecation(&path).is_some());
            verdicts.push((id, ok));
        }
        Ok(ChunkFilter::from_verdicts(filters, verdicts))
    }
}
