//! Finding the embedding model's files: [`resolve`] fills the empty paths of an
//! [`EmbeddingConfig`] with the pinned defaults from the models directory
//! ([`crate::paths::default_models_dir`]) and checks that every file exists, giving a
//! [`ResolvedModel`].

use std::path::{Path, PathBuf};

use crate::config::{EmbeddingConfig, LEGACY_MODEL_ID};
use crate::error::{Error, Result};
use crate::paths::{
    default_models_dir, DEFAULT_MODEL_DIR, DEFAULT_MODEL_FILE, LEGACY_MODEL_FILE, MODELS_DIR_ENV,
    ORT_DYLIB_ENV, ORT_LIBRARY_FILE,
};

/// What every "model file missing" message suggests.
pub(super) const FETCH_HINT: &str = "run `bash models/fetch.sh`";

/// The three files an [`OnnxEmbedder`](super::OnnxEmbedder) needs, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The ONNX model file.
    pub model: PathBuf,
    /// The tokenizer.json file.
    pub tokenizer: PathBuf,
    /// The ONNX Runtime shared library.
    pub onnxruntime: PathBuf,
}

/// Fills the empty paths of `cfg` with the default files and checks that all three exist.
///
/// The model and tokenizer default to `<models>/all-MiniLM-L6-v2-int8/` (`model-dynamic.onnx`,
/// or `model.onnx` for a library that still uses the legacy model id); ONNX Runtime to
/// `$ORT_DYLIB_PATH`, then `<models>/onnxruntime/<library>` (see [`default_models_dir`]).
pub fn resolve(cfg: &EmbeddingConfig) -> Result<ResolvedModel> {
    resolve_with(cfg, default_models_dir)
}

fn resolve_with(
    cfg: &EmbeddingConfig,
    models_dir: impl FnOnce() -> Option<PathBuf>,
) -> Result<ResolvedModel> {
    let ort_env = std::env::var_os(ORT_DYLIB_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let needs_default = cfg.model.as_os_str().is_empty()
        || cfg.tokenizer.as_os_str().is_empty()
        || (cfg.onnxruntime.as_os_str().is_empty() && ort_env.is_none());
    let base = if needs_default { models_dir() } else { None };

    let pick = |configured: &Path,
                key: &str,
                env_default: Option<PathBuf>,
                default_rel: &[&str]|
     -> Result<PathBuf> {
        if !configured.as_os_str().is_empty() {
            return check_exists(configured, &format!("embedding.{key}"), false);
        }
        if let Some(path) = env_default {
            return check_exists(&path, &format!("${ORT_DYLIB_ENV}"), true);
        }
        let Some(base) = &base else {
            return Err(Error::Model(format!(
                "cannot find the default model files for embedding.{key}: no models directory \
                 (looked for models/dist next to the executable and the current directory, and \
                 ${MODELS_DIR_ENV}); {FETCH_HINT} in the Cairn source tree, set \
                 ${MODELS_DIR_ENV}, or set embedding.{key} in the config"
            )));
        };
        let path = default_rel
            .iter()
            .fold(base.clone(), |p, part| p.join(part));
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Model(format!(
                "default {key} file {} is missing; {FETCH_HINT} or set embedding.{key} in the \
                 config",
                path.display()
            )))
        }
    };

    Ok(ResolvedModel {
        model: pick(
            &cfg.model,
            "model",
            None,
            &[DEFAULT_MODEL_DIR, default_model_file(&cfg.model_id)],
        )?,
        tokenizer: pick(
            &cfg.tokenizer,
            "tokenizer",
            None,
            &[DEFAULT_MODEL_DIR, "tokenizer.json"],
        )?,
        onnxruntime: pick(
            &cfg.onnxruntime,
            "onnxruntime",
            ort_env,
            &["onnxruntime", ORT_LIBRARY_FILE],
        )?,
    })
}

/// The default model file for a model id: the legacy export for the legacy id, else the default.
fn default_model_file(model_id: &str) -> &'static str {
    if model_id == LEGACY_MODEL_ID {
        LEGACY_MODEL_FILE
    } else {
        DEFAULT_MODEL_FILE
    }
}

/// Checks that a user-given path exists. A bare library name (no folder) is left to the
/// system's library search when `bare_ok`.
fn check_exists(path: &Path, key: &str, bare_ok: bool) -> Result<PathBuf> {
    if path.is_file() || (bare_ok && path.components().count() == 1) {
        return Ok(path.to_owned());
    }
    Err(Error::Model(format!(
        "{} (set by {key}) does not exist; fix {key}, or clear it and {FETCH_HINT} to use the \
         default file",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_default_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddingConfig::default();
        let err = resolve_with(&cfg, || Some(dir.path().to_owned())).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Model(_)), "{msg}");
        assert!(msg.contains("model-dynamic.onnx"), "{msg}");
        assert!(msg.contains("models/fetch.sh"), "{msg}");
        assert!(msg.contains("embedding.model"), "{msg}");

        let err = resolve_with(&cfg, || None).unwrap_err();
        assert!(err.to_string().contains("models/fetch.sh"), "{err}");
    }

    #[test]
    fn configured_paths_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.onnx");
        std::fs::write(&model, b"x").unwrap();
        let cfg = EmbeddingConfig {
            model: model.clone(),
            tokenizer: dir.path().join("nope.json"),
            ..EmbeddingConfig::default()
        };
        let err = resolve_with(&cfg, || None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("nope.json") && msg.contains("embedding.tokenizer"),
            "{msg}"
        );
    }
}
