//! ZIP-based documents (DOCX, XLSX, PPTX, ODT/ODS/ODP, EPUB): opening the package within the
//! caps of [`limits`], reading its parts, and telling the kinds apart by their members.
//!
//! Every part is read through [`Package::read`], which stops at [`limits::MAX_ZIP_MEMBER_BYTES`]
//! per member and [`limits::MAX_ZIP_TOTAL_BYTES`] for all members together, whatever sizes the
//! archive claims.

use std::io::{Cursor, Read};

use zip::result::ZipError;
use zip::ZipArchive;

use super::{limits, text, DocKind};

/// The OLE2 compound-file signature: encrypted OOXML or a legacy binary Office file.
pub(crate) const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// An open package and what is left of its decompression budget.
pub(crate) struct Package<'b> {
    archive: ZipArchive<Cursor<&'b [u8]>>,
    budget: u64,
    /// The format's name in reasons ("DOCX", "PPTX", …).
    label: &'static str,
}

impl<'b> Package<'b> {
    /// Opens `bytes` as a ZIP package of the format `label`.
    pub(crate) fn open(bytes: &'b [u8], label: &'static str) -> Result<Self, String> {
        let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            if bytes.starts_with(OLE_MAGIC) {
                format!("{label} is encrypted (password-protected) or an old binary Office file")
            } else {
                format!("{label} is damaged (not a valid zip archive: {e})")
            }
        })?;
        if archive.len() > limits::MAX_ZIP_MEMBERS {
            return Err(format!(
                "{label} lists {} parts, more than the {} Cairn opens (a zip bomb?)",
                archive.len(),
                limits::MAX_ZIP_MEMBERS
            ));
        }
        Ok(Package {
            archive,
            budget: limits::MAX_ZIP_TOTAL_BYTES,
            label,
        })
    }

    /// The uncompressed sizes the members declare, summed (a hint only: sizes can lie, which
    /// [`Package::read_bytes`] does not trust).
    pub(crate) fn declared_size(&mut self) -> u64 {
        (0..self.archive.len())
            .filter_map(|i| self.archive.by_index_raw(i).ok().map(|f| f.size()))
            .fold(0u64, u64::saturating_add)
    }

    /// Reads and decodes one part; `Ok(None)` if it does not exist.
    pub(crate) fn read(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.read_bytes(name)? {
            Some(bytes) => text::decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads one part's bytes; `Ok(None)` if it does not exist.
    pub(crate) fn read_bytes(&mut self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let label = self.label;
        let file = match self.archive.by_name(name) {
            Ok(file) => file,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(ZipError::UnsupportedArchive(why)) => {
                return Err(format!("{label} cannot be read ({why})"))
            }
            Err(e) => return Err(format!("{label} is damaged ({e})")),
        };
        let cap = limits::MAX_ZIP_MEMBER_BYTES.min(self.budget);
        let mut bytes = Vec::new();
        file.take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{label} is damaged ({name}: {e})"))?;
        let n = bytes.len() as u64;
        if n > limits::MAX_ZIP_MEMBER_BYTES {
            return Err(format!(
                "{label} part {name} expands to more than {} (a zip bomb?)",
                limits::megabytes(limits::MAX_ZIP_MEMBER_BYTES)
            ));
        }
        if n > cap {
            return Err(format!(
                "{label} parts expand to more than {} in all (a zip bomb?)",
                limits::megabytes(limits::MAX_ZIP_TOTAL_BYTES)
            ));
        }
        self.budget -= n;
        Ok(Some(bytes))
    }
}

/// The kind of the ZIP package in `bytes` from its members: `word/document.xml` (DOCX),
/// `xl/workbook.xml` (XLSX), `ppt/presentation.xml` (PPTX), or the OpenDocument/EPUB
/// `mimetype` member. `None` for other archives and for non-ZIP content.
pub(crate) fn kind_of(bytes: &[u8]) -> Option<DocKind> {
    if !super::detect::is_zip(bytes) {
        return None;
    }
    if let Some(kind) = mimetype_kind(bytes) {
        return Some(kind);
    }
    let archive = ZipArchive::new(Cursor::new(bytes)).ok()?;
    let has = |name: &str| archive.index_for_name(name).is_some();
    if has("word/document.xml") {
        Some(DocKind::Docx)
    } else if has("xl/workbook.xml") {
        Some(DocKind::Spreadsheet)
    } else if has("ppt/presentation.xml") {
        Some(DocKind::Presentation)
    } else if has("META-INF/container.xml") && has("mimetype") {
        Some(DocKind::Epub)
    } else {
        None
    }
}

/// The kind named by an uncompressed first `mimetype` member (OpenDocument and EPUB store it
/// first, so it is visible in the first bytes).
pub(crate) fn mimetype_kind(head: &[u8]) -> Option<DocKind> {
    // Local header: 30 bytes, then the name, then (stored, extra field empty) the content.
    let at = super::detect::find(&head[..head.len().min(200)], b"mimetype")?;
    let rest = &head[at + 8..head.len().min(at + 8 + 100)];
    let starts = |p: &[u8]| super::detect::find(rest, p).is_some_and(|i| i < 40);
    if starts(b"application/epub+zip") {
        Some(DocKind::Epub)
    } else if starts(b"application/vnd.oasis.opendocument.text") {
        Some(DocKind::Odt)
    } else if starts(b"application/vnd.oasis.opendocument.spreadsheet") {
        Some(DocKind::Spreadsheet)
    } else if starts(b"application/vnd.oasis.opendocument.presentation") {
        Some(DocKind::Presentation)
    } else {
        None
    }
}
