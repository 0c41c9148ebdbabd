//! Default locations: where Cairn keeps its data and where it finds the model files when
//! neither the command line nor the config names them.
//!
//! This is the one place that reads the location environment variables (`CAIRN_DATA_DIR`,
//! `CAIRN_MODELS_DIR`, `ORT_DYLIB_PATH`) and knows the layout of the models directory. It
//! depends on nothing else in the crate; `config` and `embed` use it (and re-export its items
//! at their historical paths, e.g. `config::default_data_dir`, `embed::default_models_dir`).

use std::path::{Path, PathBuf};

/// Environment variable naming the data directory (what `--data-dir` overrides).
pub const DATA_DIR_ENV: &str = "CAIRN_DATA_DIR";
/// Environment variable naming the folder that holds the model files (what `models/dist` is in
/// the source tree).
pub const MODELS_DIR_ENV: &str = "CAIRN_MODELS_DIR";
/// Environment variable ONNX Runtime's loader uses for the library path.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";
/// Folder of the default embedding model inside the models directory.
pub const DEFAULT_MODEL_DIR: &str = "all-MiniLM-L6-v2-int8";
/// The default model file in [`DEFAULT_MODEL_DIR`]: the export re-quantised for int8 products
/// (models/derive/quantize_dynamic.py).
pub const DEFAULT_MODEL_FILE: &str = "model-dynamic.onnx";
/// The model file libraries indexed before the int8 default keep using (see
/// [`EmbeddingConfig::follow_library`](crate::config::EmbeddingConfig::follow_library)).
pub const LEGACY_MODEL_FILE: &str = "model.onnx";
/// Path of the default local model inside the models directory (see models/manifest.toml).
pub const DEFAULT_LOCAL_LLM: &str = "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
/// File name of the bundled ONNX Runtime library inside `<models>/onnxruntime/`.
#[cfg(target_os = "macos")]
pub const ORT_LIBRARY_FILE: &str = "libonnxruntime.1.31.1.dylib";
/// File name of the bundled ONNX Runtime library inside `<models>/onnxruntime/`.
#[cfg(target_os = "windows")]
pub const ORT_LIBRARY_FILE: &str = "onnxruntime.dll";
/// File name of the bundled ONNX Runtime library inside `<models>/onnxruntime/`.
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
pub const ORT_LIBRARY_FILE: &str = "libonnxruntime.so.1.31.1";

/// Where Cairn keeps its data when `--data-dir` is not given: `$CAIRN_DATA_DIR`, else the
/// platform's data folder for the app, else `.cairn`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("org", "cairn", "cairn")
        .map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".cairn"))
}

/// The folder that holds the default model files, if one can be found.
///
/// In order: `$CAIRN_MODELS_DIR`; a `models/dist` folder in the executable's folder or any of
/// its parents (so `target/debug/cairn` in the source tree finds the repository's
/// `models/dist`), then the same from the current directory; then `<exe_dir>/../share/cairn/models`
/// and `<exe_dir>/resources/models` (installed layouts).
pub fn default_models_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok().or(Some(exe)))
        .and_then(|exe| exe.parent().map(Path::to_owned));
    let cwd = std::env::current_dir().ok();
    for start in exe_dir.iter().chain(cwd.iter()) {
        for dir in start.ancestors() {
            let candidate = dir.join("models").join("dist");
            if candidate.is_dir() {
                return Some(candidate);
            }
        }
    }
    let exe_dir = exe_dir?;
    [
        exe_dir
            .join("..")
            .join("share")
            .join("cairn")
            .join("models"),
        exe_dir.join("resources").join("models"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
}

/// The default local answer model: [`DEFAULT_LOCAL_LLM`] in [`default_models_dir`], or under
/// the relative `models/dist` when no models directory is found. The file may not exist.
pub fn default_local_llm() -> PathBuf {
    default_models_dir()
        .unwrap_or_else(|| PathBuf::from("models").join("dist"))
        .join(DEFAULT_LOCAL_LLM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_local_model_lies_in_a_models_folder() {
        let path = default_local_llm();
        assert!(path.ends_with(DEFAULT_LOCAL_LLM), "{}", path.display());
    }
}

// ---- names that are not UTF-8 -------------------------------------------------------------------
//
// A Unix file name is bytes. Cairn keeps each name exactly: in memory as the `PathBuf` the
// file system gave, in the catalog as a *key* that is the name itself when it is UTF-8 and a
// reversible encoding of its bytes when it is not, and on screen *escaped* (`\xFF` for a byte
// that is not UTF-8). Two names that differ in one byte never share a key, so they are never
// merged, and the same name always gives the same key, so a rescan finds it unchanged.

/// First code point of the private-use block that carries raw bytes in a key: byte `b` is
/// `U+10FF00 + b`. Code points of that block in a real name are encoded the same way (byte by
/// byte), so decoding is exact for every name.
const KEY_BYTE_BASE: u32 = 0x10_FF00;

fn is_key_byte(c: char) -> bool {
    (KEY_BYTE_BASE..=KEY_BYTE_BASE + 0xFF).contains(&(c as u32))
}

fn key_byte(b: u8) -> char {
    char::from_u32(KEY_BYTE_BASE + u32::from(b)).expect("U+10FF00..U+10FFFF are chars")
}

/// The catalog key of a path: the path itself when it is UTF-8 (and free of the key block),
/// else the exact bytes, with every byte that is not part of an ordinary UTF-8 character
/// carried by one private-use code point. [`from_key`] reverses it.
pub fn to_key(path: &Path) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let bytes = path.as_os_str().as_encoded_bytes();
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.chars().any(is_key_byte) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if is_key_byte(c) {
                let mut buf = [0u8; 4];
                out.extend(c.encode_utf8(&mut buf).bytes().map(key_byte));
            } else {
                out.push(c);
            }
        }
        out.extend(chunk.invalid().iter().copied().map(key_byte));
    }
    Cow::Owned(out)
}

/// The path a catalog key stands for (see [`to_key`]).
pub fn from_key(key: &str) -> PathBuf {
    if !key.chars().any(is_key_byte) {
        return PathBuf::from(key);
    }
    let mut bytes = Vec::with_capacity(key.len());
    for c in key.chars() {
        if is_key_byte(c) {
            bytes.push((c as u32 - KEY_BYTE_BASE) as u8);
        } else {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    bytes_to_path(bytes)
}

/// The path with exactly these bytes (on Unix; elsewhere, lossy).
#[cfg(unix)]
pub(crate) fn bytes_to_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
pub(crate) fn bytes_to_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// A path for people: UTF-8 names as they are, every byte that is not UTF-8 as `\xNN`. (The
/// front ends also neutralise control characters; this only makes the bytes visible instead of
/// showing a U+FFFD that two different names would share.)
pub fn escaped(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// The paths an escaped string (as [`escaped`] shows them, e.g. typed back by a person or sent
/// back by the app) may stand for: the string itself, then the bytes its `\xNN` escapes name,
/// when that differs.
pub fn unescape_candidates(shown: &str) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(shown)];
    if !shown.contains("\\x") {
        return out;
    }
    let src = shown.as_bytes();
    let mut bytes = Vec::with_capacity(src.len());
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'\\' && src.get(i + 1) == Some(&b'x') && i + 4 <= src.len() {
            if let Ok(b) = u8::from_str_radix(&shown[i + 2..i + 4], 16) {
                bytes.push(b);
                i += 4;
                continue;
            }
        }
        bytes.push(src[i]);
        i += 1;
    }
    let decoded = bytes_to_path(bytes);
    if decoded != out[0] {
        out.push(decoded);
    }
    out
}

/// The path a person or front end means by `shown` (a path as [`escaped`] shows it): the first
/// of [`unescape_candidates`] that exists, else the string itself.
pub fn resolve_shown(shown: &str) -> PathBuf {
    let mut candidates = unescape_candidates(shown);
    let found = candidates
        .iter()
        .position(|p| p.symlink_metadata().is_ok())
        .unwrap_or(0);
    candidates.swap_remove(found)
}

/// Serde for `PathBuf` fields that are stored and read back (the audit log): the catalog key,
/// so names that are not UTF-8 survive the round trip.
pub mod serde_key {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::path::{Path, PathBuf};

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_key(path))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(super::from_key(&String::deserialize(d)?))
    }

    /// The same for `Option<PathBuf>`.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
            match path {
                Some(p) => s.serialize_some(&*super::super::to_key(p)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
            Ok(Option::<String>::deserialize(d)?.map(|k| super::super::from_key(&k)))
        }
    }
}

/// Serializes a `PathBuf` for output (JSON for scripts and MCP): [`escaped`].
pub fn serialize_escaped<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&escaped(path))
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[cfg(unix)]
    fn raw(bytes: &[u8]) -> PathBuf {
        bytes_to_path(bytes.to_vec())
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_exact_and_distinct() {
        let names: Vec<PathBuf> = vec![
            raw(b"/d/a\xff.txt"),
            raw(b"/d/a\xfe.txt"),
            PathBuf::from("/d/a\u{FFFD}.txt"),
            PathBuf::from("/d/a\u{10FFFF}.txt"),
            raw(b"/d/a\xf4\x8f\xbf\xbf.txt"),
            PathBuf::from("/d/plain.txt"),
            raw(b"/d/\xc3"),
            raw(b"/d/\xed\xa0\x80x"),
        ];
        let keys: Vec<String> = names.iter().map(|p| to_key(p).into_owned()).collect();
        for (p, k) in names.iter().zip(&keys) {
            assert_eq!(&from_key(k), p, "{k:?}");
        }
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        // a\u{10FFFF} and a\xf4\x8f\xbf\xbf are the same bytes, so the same key.
        assert_eq!(unique.len(), keys.len() - 1);
        assert_eq!(to_key(Path::new("/d/plain.txt")), "/d/plain.txt");
        // Prefixes survive: a folder's key is a prefix of its files' keys.
        assert!(keys[0].starts_with("/d/"));
    }

    #[cfg(unix)]
    #[test]
    fn escaped_names_show_their_bytes_and_come_back() {
        let p = raw(b"/d/a\xff.txt");
        assert_eq!(escaped(&p), "/d/a\\xFF.txt");
        assert!(unescape_candidates(&escaped(&p)).contains(&p));
        assert_eq!(
            unescape_candidates("/d/plain.txt"),
            vec![PathBuf::from("/d/plain.txt")]
        );
    }
}
