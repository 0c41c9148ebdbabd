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
