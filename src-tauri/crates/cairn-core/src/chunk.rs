//! Chunking (in progress).
