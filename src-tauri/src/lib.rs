//! Cairn's desktop app: a thin Tauri v2 shell over [`cairn_library::Library`].
//!
//! Every command is `async` and runs engine work on the blocking pool
//! (`tauri::async_runtime::spawn_blocking`), so no engine call ever runs on the main thread or
//! an async runtime thread; the window stays interactive while the library opens and indexes.
//! Errors cross to the UI as [`ErrorInfo`] (kind, message, hint). TypeScript bindings for
//! every command, type and event are generated from this crate into `ui/src/bindings.ts`
//! ([`specta_builder`]; `cargo test -p cairn-desktop` fails when the committed file differs).

mod commands;
mod llm;
mod open;
mod team;

use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use cairn_core::stop::StopToken;
use cairn_library::{ErrorInfo, IndexProgress, Library, LibraryEvent, LibraryOptions};
use serde::{Deserialize, Serialize};
use tauri::Manager;
use tauri_specta::{collect_commands, collect_events, Event};

/// Indexing progress, pushed to the UI.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, Event)]
pub struct ProgressEvent(pub IndexProgress);

/// Folders, documents or marks changed: the UI refreshes what it shows.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, Event)]
pub struct LibraryChanged;

/// What the commands share.
pub struct AppState {
    /// The open library: replaced when the window connects to a team library or back.
    pub library: RwLock<Library>,
    /// When the process started (for the cold-start log line).
    pub started: Instant,
    pub ui_ready_logged: AtomicBool,
    /// Cancels the running answer.
    pub ask_cancel: Mutex<Option<StopToken>>,
    /// Cancels the running evaluation.
    pub eval_cancel: Mutex<Option<StopToken>>,
    /// The answer model, kept loaded while its settings do not change.
    pub generator: llm::GeneratorCache,
}

impl AppState {
    /// The open library (a cheap handle).
    pub fn library(&self) -> Library {
        self.library
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Switches to `library` (the previous one has been shut down by `Library::reopen`).
    pub fn set_library(&self, library: Library) {
        *self.library.write().unwrap_or_else(|p| p.into_inner()) = library;
    }
}

/// The command and event registry, shared by the app and the bindings test.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::ui_ready,
            commands::library_info,
            commands::progress,
            commands::preview_folder,
            commands::pick_folders,
            commands::add_folders,
            commands::remove_folder,
            commands::reindex,
            commands::pause_indexing,
            commands::resume_indexing,
            commands::cancel_indexing,
            commands::search,
            commands::library_contents,
            commands::history,
            commands::deprecate,
            commands::undeprecate,
            commands::forget,
            commands::tag,
            commands::untag,
            commands::ask,
            commands::cancel_ask,
            commands::pick_question_file,
            commands::evaluate,
            commands::cancel_evaluate,
            commands::passage_context,
            commands::sessions,
            commands::session_messages,
            commands::audit_list,
            commands::audit_detail,
            commands::audit_export,
            commands::get_settings,
            commands::save_settings,
            commands::test_connection,
            commands::open_path,
            team::team_form,
            team::test_team,
            team::create_team,
            team::connect_team,
            team::use_personal,
        ])
        .events(collect_events![ProgressEvent, LibraryChanged])
        .typ::<ErrorInfo>()
}

/// Where the generated bindings live, relative to this crate.
pub const BINDINGS: &str = "../ui/src/bindings.ts";

/// The TypeScript exporter settings used for `ui/src/bindings.ts`.
pub fn typescript() -> specta_typescript::Typescript {
    specta_typescript::Typescript::default()
        .bigint(specta_typescript::BigIntExportBehavior::Number)
        .header("// Generated from Rust by tauri-specta (src-tauri/src/lib.rs). Do not edit.\n// @ts-nocheck")
}

/// Uses `<resource dir>/models` (the bundle's copy of models/dist) when it exists and
/// CAIRN_MODELS_DIR is not set; otherwise the engine finds the repository's models/dist.
fn use_bundled_models(app: &tauri::App) {
    if std::env::var_os(cairn_core::embed::MODELS_DIR_ENV).is_some() {
        return;
    }
    if let Ok(dir) = app.path().resource_dir() {
        let models = dir.join("models");
        if models.is_dir() {
            tracing::info!("using bundled models in {}", models.display());
            // Set during setup, before any engine thread starts.
            std::env::set_var(cairn_core::embed::MODELS_DIR_ENV, &models);
        }
    }
}

/// Runs the app.
/// The hidden argument that starts this binary as a parser worker.
pub const PARSE_WORKER_ARG: &str = "__parse-worker";

pub fn run() {
    if let Ok(worker) = cairn_core::parse::isolate::WorkerCommand::current_exe(&[PARSE_WORKER_ARG])
    {
        cairn_core::parse::isolate::register_worker(worker, Default::default());
    }
    let started = Instant::now();
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tantivy=warn,ort=warn".into()),
        )
        .try_init();
    let builder = specta_builder();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            use_bundled_models(app);
            let data_dir = cairn_core::config::default_data_dir();
            tracing::info!("data directory {}", data_dir.display());
            let handle = app.handle().clone();
            let library = Library::open(LibraryOptions::new(data_dir), move |event| {
                let sent = match event {
                    LibraryEvent::Progress(p) => ProgressEvent(p).emit(&handle),
                    LibraryEvent::Changed => LibraryChanged.emit(&handle),
                };
                if let Err(e) = sent {
                    tracing::warn!("sending an event to the window: {e}");
                }
            });
            app.manage(AppState {
                library: RwLock::new(library),
                started,
                ui_ready_logged: AtomicBool::new(false),
                ask_cancel: Mutex::new(None),
                eval_cancel: Mutex::new(None),
                generator: llm::GeneratorCache::default(),
            });
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("building the Cairn window")
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                if let Some(state) = app.try_state::<AppState>() {
                    state.library().shutdown();
                }
            }
        });
}
