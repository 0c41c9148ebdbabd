//! [`StopToken`]: how a long operation (indexing, embedding, an answer) is asked to stop.
//!
//! A token is a shared flag. [`StopToken::child`] makes a token that also stops when its parent
//! does, so "stop because the user cancelled" and "pause because a command is waiting" are two
//! tokens, one checked, with no polling thread in between.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cloneable stop request; clones share the flag.
#[derive(Debug, Clone)]
pub struct StopToken {
    /// This token's own flag first, then its ancestors'.
    flags: Vec<Arc<AtomicBool>>,
}

impl StopToken {
    /// A token that is not stopped.
    pub fn new() -> StopToken {
        StopToken {
            flags: vec![Arc::new(AtomicBool::new(false))],
        }
    }

    /// A token that is already stopped.
    pub fn stopped() -> StopToken {
        let t = StopToken::new();
        t.stop();
        t
    }

    /// A new token that is stopped by [`StopToken::stop`] on itself or on `self`.
    pub fn child(&self) -> StopToken {
        let mut flags = Vec::with_capacity(self.flags.len() + 1);
        flags.push(Arc::new(AtomicBool::new(false)));
        flags.extend(self.flags.iter().cloned());
        StopToken { flags }
    }

    /// A new token that is stopped when either `self` or `other` is (or it is itself).
    pub fn joined(&self, other: &StopToken) -> StopToken {
        let mut joined = self.child();
        joined.flags.extend(other.flags.iter().cloned());
        joined
    }

    /// Asks every holder of this token (and of its children) to stop.
    pub fn stop(&self) {
        self.own().store(true, Ordering::SeqCst);
    }

    /// Clears this token's own request (not its parent's).
    pub fn reset(&self) {
        self.own().store(false, Ordering::SeqCst);
    }

    /// True once this token or an ancestor was stopped.
    pub fn is_stopped(&self) -> bool {
        self.flags.iter().any(|f| f.load(Ordering::SeqCst))
    }

    /// True when this token itself (not an ancestor) was stopped.
    pub fn is_stopped_itself(&self) -> bool {
        self.own().load(Ordering::SeqCst)
    }

    fn own(&self) -> &AtomicBool {
        &self.flags[0]
    }
}

impl Default for StopToken {
    fn default() -> Self {
        StopToken::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_stop_with_their_parent_not_the_reverse() {
        let parent = StopToken::new();
        let child = parent.child();
        assert!(!child.is_stopped());
        child.stop();
        assert!(child.is_stopped() && !parent.is_stopped());
        child.reset();
        parent.stop();
        assert!(child.is_stopped() && !child.is_stopped_itself());
        let other = StopToken::new();
        let either = child.joined(&other);
        assert!(either.is_stopped());
        parent.reset();
        assert!(!either.is_stopped());
        other.stop();
        assert!(either.is_stopped() && !child.is_stopped());
        parent.stop();
        let clone = parent.clone();
        parent.reset();
        assert!(!clone.is_stopped());
    }
}
