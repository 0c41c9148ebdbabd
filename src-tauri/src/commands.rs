//! The commands the window calls. Each one delegates to `cairn_library::Library` on the
//! blocking pool; none holds logic of its own.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use cairn_core::stop::StopToken;

use cairn_library::{
    AnswerView, AskInput, AuditDetail, AuditItem, ErrorInfo, EvaluateInput, EvaluateProgress,
    EvaluationView, FolderPreview, ForgetSummary, IndexProgress, Library, LibraryContents,
    LibraryInfo, MessageItem, PassageContext, SearchQuery, SearchResults, SessionItem, Settings,
    VersionItem,
};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::{llm, AppState};

pub(crate) type Res<T> = Result<T, ErrorInfo>;

/// Runs blocking engine work off the async runtime and the main thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Res<T> + Send + 'static,
) -> Res<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| ErrorInfo::internal(format!("a background task failed: {e}")))?
}

pub(crate) fn lib(state: &State<'_, AppState>) -> Library {
    state.library()
}

/// Time from process start to the UI's first call, for measuring cold start.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct UiReady {
    pub ms: f64,
}

/// The UI calls this once it has rendered; logs "cairn-desktop: ui ready after N ms".
#[tauri::command]
#[specta::specta]
pub async fn ui_ready(state: State<'_, AppState>) -> Res<UiReady> {
    let ms = state.started.elapsed().as_secs_f64() * 1000.0;
    if !state.ui_ready_logged.swap(true, Ordering::SeqCst) {
        tracing::info!("cairn-desktop: ui ready after {ms:.0} ms");
    }
    Ok(UiReady { ms })
}

#[tauri::command]
#[specta::specta]
pub async fn library_info(state: State<'_, AppState>) -> Res<LibraryInfo> {
    let lib = lib(&state);
    blocking(move || Ok(lib.info())).await
}

#[tauri::command]
#[specta::specta]
pub async fn progress(state: State<'_, AppState>) -> Res<IndexProgress> {
    Ok(state.library().progress())
}

/// What adding this folder would index.
#[tauri::command]
#[specta::specta]
pub async fn preview_folder(state: State<'_, AppState>, path: String) -> Res<FolderPreview> {
    let lib = lib(&state);
    blocking(move || lib.preview_folder(&PathBuf::from(path))).await
}

/// The native folder picker; returns the chosen folders (empty when cancelled).
#[tauri::command]
#[specta::specta]
pub async fn pick_folders(app: AppHandle) -> Res<Vec<String>> {
    blocking(move || {
        let picked = app.dialog().file().blocking_pick_folders();
        Ok(picked
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .map(|p| p.display().to_string())
            .collect())
    })
    .await
}

/// Adds folders and starts indexing them; returns their absolute paths.
#[tauri::command]
#[specta::specta]
pub async fn add_folders(state: State<'_, AppState>, paths: Vec<String>) -> Res<Vec<String>> {
    let lib = lib(&state);
    let paths = paths.into_iter().map(PathBuf::from).collect();
    blocking(move || {
        let added = lib.add_folders(paths)?;
        Ok(added.iter().map(|p| p.display().to_string()).collect())
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_folder(state: State<'_, AppState>, path: String) -> Res<u32> {
    let lib = lib(&state);
    blocking(move || Ok(lib.remove_folder(PathBuf::from(path))? as u32)).await
}

#[tauri::command]
#[specta::specta]
pub async fn reindex(state: State<'_, AppState>) -> Res<()> {
    let lib = lib(&state);
    blocking(move || lib.reindex()).await
}

#[tauri::command]
#[specta::specta]
pub async fn pause_indexing(state: State<'_, AppState>) -> Res<()> {
    state.library().pause();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn resume_indexing(state: State<'_, AppState>) -> Res<()> {
    state.library().resume();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_indexing(state: State<'_, AppState>) -> Res<()> {
    state.library().cancel();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn search(state: State<'_, AppState>, query: SearchQuery) -> Res<SearchResults> {
    let lib = lib(&state);
    blocking(move || lib.search(&query)).await
}

#[tauri::command]
#[specta::specta]
pub async fn library_contents(state: State<'_, AppState>) -> Res<LibraryContents> {
    let lib = lib(&state);
    blocking(move || lib.contents()).await
}

#[tauri::command]
#[specta::specta]
pub async fn history(state: State<'_, AppState>, path: String) -> Res<Vec<VersionItem>> {
    let lib = lib(&state);
    blocking(move || lib.history(&cairn_core::paths::resolve_shown(&path))).await
}

/// Deprecates a document or folder, optionally superseded by another document.
#[tauri::command]
#[specta::specta]
pub async fn deprecate(
    state: State<'_, AppState>,
    path: String,
    reason: String,
    superseded_by: Option<String>,
) -> Res<()> {
    let lib = lib(&state);
    let by = superseded_by
        .filter(|s| !s.trim().is_empty())
        .map(PathBuf::from);
    blocking(move || lib.deprecate(cairn_core::paths::resolve_shown(&path), reason, by)).await
}

/// Erases a document (or a folder's documents) from Cairn: every version, passage and vector;
/// answers that used it are redacted in the audit log.
#[tauri::command]
#[specta::specta]
pub async fn forget(state: State<'_, AppState>, path: String) -> Res<ForgetSummary> {
    let lib = lib(&state);
    blocking(move || lib.forget(PathBuf::from(path))).await
}

#[tauri::command]
#[specta::specta]
pub async fn undeprecate(state: State<'_, AppState>, path: String) -> Res<()> {
    let lib = lib(&state);
    blocking(move || lib.undeprecate(path)).await
}

#[tauri::command]
#[specta::specta]
pub async fn tag(state: State<'_, AppState>, path: String, tags: Vec<String>) -> Res<()> {
    let lib = lib(&state);
    blocking(move || lib.tag(cairn_core::paths::resolve_shown(&path), tags)).await
}

#[tauri::command]
#[specta::specta]
pub async fn untag(state: State<'_, AppState>, path: String, tags: Vec<String>) -> Res<()> {
    let lib = lib(&state);
    blocking(move || lib.untag(cairn_core::paths::resolve_shown(&path), tags)).await
}

/// Answers a question; the answer's text streams through `tokens` as it is written.
#[tauri::command]
#[specta::specta]
pub async fn ask(
    state: State<'_, AppState>,
    input: AskInput,
    tokens: Channel<String>,
) -> Res<AnswerView> {
    let lib = lib(&state);
    let cancel = StopToken::new();
    *state.ask_cancel.lock().unwrap_or_else(|p| p.into_inner()) = Some(cancel.clone());
    let generator = state.generator.clone();
    blocking(move || {
        let model = match input.mode.as_str() {
            "generative" => generator.get(&lib.config())?,
            _ => None,
        };
        let mut send = |t: &str| {
            let _ = tokens.send(t.to_owned());
        };
        lib.ask(&input, model.as_deref(), &cancel, &mut send)
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_ask(state: State<'_, AppState>) -> Res<()> {
    if let Some(c) = state
        .ask_cancel
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        c.stop();
    }
    Ok(())
}

/// The native file picker for a question file (CSV or JSONL); None when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_question_file(app: AppHandle) -> Res<Option<String>> {
    blocking(move || {
        let picked = app
            .dialog()
            .file()
            .add_filter("Questions (CSV, JSONL)", &["csv", "jsonl", "json"])
            .blocking_pick_file();
        Ok(picked
            .and_then(|p| p.into_path().ok())
            .map(|p| p.display().to_string()))
    })
    .await
}

/// Asks every question of a question file in each chosen answer mode and scores the answers;
/// `progress` receives a message per question.
#[tauri::command]
#[specta::specta]
pub async fn evaluate(
    state: State<'_, AppState>,
    input: EvaluateInput,
    progress: Channel<EvaluateProgress>,
) -> Res<EvaluationView> {
    let lib = lib(&state);
    let cancel = StopToken::new();
    *state.eval_cancel.lock().unwrap_or_else(|p| p.into_inner()) = Some(cancel.clone());
    let generator = state.generator.clone();
    blocking(move || {
        let model = if input.modes.iter().any(|m| m == "generative") {
            generator.get(&lib.config())?
        } else {
            None
        };
        lib.evaluate(&input, model.as_deref(), &cancel, &mut |p| {
            let _ = progress.send(p);
        })
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_evaluate(state: State<'_, AppState>) -> Res<()> {
    if let Some(c) = state
        .eval_cancel
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        c.stop();
    }
    Ok(())
}

/// The passages around a cited one.
#[tauri::command]
#[specta::specta]
pub async fn passage_context(state: State<'_, AppState>, chunk_id: i64) -> Res<PassageContext> {
    let lib = lib(&state);
    blocking(move || lib.passage_context(chunk_id)).await
}

#[tauri::command]
#[specta::specta]
pub async fn sessions(state: State<'_, AppState>) -> Res<Vec<SessionItem>> {
    let lib = lib(&state);
    blocking(move || lib.sessions()).await
}

#[tauri::command]
#[specta::specta]
pub async fn session_messages(state: State<'_, AppState>, id: i64) -> Res<Vec<MessageItem>> {
    let lib = lib(&state);
    blocking(move || lib.session_messages(id)).await
}

#[tauri::command]
#[specta::specta]
pub async fn audit_list(state: State<'_, AppState>) -> Res<Vec<AuditItem>> {
    let lib = lib(&state);
    blocking(move || lib.audit_list(500)).await
}

#[tauri::command]
#[specta::specta]
pub async fn audit_detail(state: State<'_, AppState>, id: i64) -> Res<AuditDetail> {
    let lib = lib(&state);
    blocking(move || lib.audit_detail(id)).await
}

/// Writes the audit log as JSON into the data folder's `exports/`; returns the file.
#[tauri::command]
#[specta::specta]
pub async fn audit_export(state: State<'_, AppState>) -> Res<String> {
    let lib = lib(&state);
    blocking(move || Ok(lib.audit_export(None)?.display().to_string())).await
}

/// Settings, and whether an API key is stored for the remote endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct SettingsView {
    pub settings: Settings,
    pub api_key_stored: bool,
}

impl SettingsView {
    /// `settings` with whether a key for its remote endpoint is stored.
    fn of(settings: Settings) -> SettingsView {
        let api_key_stored =
            llm::has_api_key(&settings.remote_api_key_env, &settings.remote_base_url);
        SettingsView {
            settings,
            api_key_stored,
        }
    }
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, AppState>) -> Res<SettingsView> {
    let lib = lib(&state);
    blocking(move || Ok(SettingsView::of(lib.settings()))).await
}

/// Saves settings; a non-empty `api_key` goes to the OS keychain (bound to the remote base
/// URL), never to a file.
#[tauri::command]
#[specta::specta]
pub async fn save_settings(
    state: State<'_, AppState>,
    settings: Settings,
    api_key: Option<String>,
) -> Res<SettingsView> {
    let lib = lib(&state);
    blocking(move || {
        // The settings first: a key is stored only with the endpoint it belongs to saved.
        let saved = lib.save_settings(&settings)?;
        if let Some(key) = api_key.filter(|k| !k.trim().is_empty()) {
            llm::store_api_key(
                &saved.remote_api_key_env,
                &saved.remote_base_url,
                key.trim(),
            )?;
        }
        Ok(SettingsView::of(saved))
    })
    .await
}

/// Tries the answer model these settings describe, with the typed key if any; stores nothing
/// (not the key, not the settings).
#[tauri::command]
#[specta::specta]
pub async fn test_connection(
    state: State<'_, AppState>,
    settings: Settings,
    api_key: Option<String>,
) -> Res<String> {
    let lib = lib(&state);
    blocking(move || {
        let config = settings.apply(lib.config())?;
        llm::test_connection(&config, api_key.filter(|k| !k.trim().is_empty()))
    })
    .await
}

/// Opens a document with the OS's default app, at `page` for PDFs where the OS allows it. Only a
/// current document of the library is opened; a program, script or launcher (by type, or an
/// executable that starts like one) is revealed in the file manager instead, never run.
#[tauri::command]
#[specta::specta]
pub async fn open_path(
    app: AppHandle,
    state: State<'_, AppState>,
    path: String,
    page: Option<u32>,
) -> Res<()> {
    let lib = lib(&state);
    blocking(move || {
        let file = cairn_core::paths::resolve_shown(&path);
        if !file.exists() {
            return Err(cairn_core::Error::NotFound(format!("{path} no longer exists")).into());
        }
        // Only a current document of the library is opened, and nothing that could run.
        if !lib.is_current_document(&file)? {
            return Err(cairn_core::Error::NotFound(format!(
                "{path} is not a current document of the library"
            ))
            .into());
        }
        if crate::open::could_run(&file) {
            return app
                .opener()
                .reveal_item_in_dir(&file)
                .map_err(|e| ErrorInfo {
                    kind: "open".into(),
                    message: format!("cannot show {path} in the file manager: {e}"),
                    hint: "Open its folder from your file manager.".into(),
                    user_error: true,
                });
        }
        let is_pdf = file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
        let opener = app.opener();
        let result = match (page, is_pdf, cfg!(target_os = "linux")) {
            // xdg-open drops URL fragments: start the default viewer at the page ourselves.
            (Some(n), true, true) => match crate::open::pdf_at_page(&file, n) {
                Some(started) => started.map_err(tauri_plugin_opener::Error::Io),
                None => opener.open_path(&path, None::<&str>),
            },
            // macOS and Windows viewers honour #page=N.
            (Some(n), true, false) => match tauri::Url::from_file_path(&file) {
                Ok(mut url) => {
                    url.set_fragment(Some(&format!("page={n}")));
                    opener.open_url(url.as_str(), None::<&str>)
                }
                Err(()) => opener.open_path(&path, None::<&str>),
            },
            _ => opener.open_path(&path, None::<&str>),
        };
        result.map_err(|e| ErrorInfo {
            kind: "open".into(),
            message: format!("cannot open {path}: {e}"),
            hint: "Install an app for this file type, or open the file from your file manager."
                .into(),
            user_error: true,
        })
    })
    .await
}
