//! The "Connect to a team library" commands: each delegates to `cairn_library` on the blocking
//! pool. Connecting and going back replace the app's library (`AppState::set_library`) and
//! tell the window to refresh everything.

use cairn_library::{TeamCheck, TeamConnected, TeamForm, TeamInput};
use tauri::{AppHandle, State};
use tauri_specta::Event;

use crate::commands::{blocking, lib, Res};
use crate::{AppState, LibraryChanged};

/// The team library the app is connected to (`None`: the personal library).
#[tauri::command]
#[specta::specta]
pub async fn team_form(state: State<'_, AppState>) -> Res<Option<TeamForm>> {
    let lib = lib(&state);
    blocking(move || Ok(lib.team_form())).await
}

/// Tries the server with the typed password (kept nowhere) and says what it finds.
#[tauri::command]
#[specta::specta]
pub async fn test_team(input: TeamInput) -> Res<TeamCheck> {
    blocking(move || cairn_library::test_team(&input)).await
}

/// Creates a Cairn library in that database (the role becomes its owner).
#[tauri::command]
#[specta::specta]
pub async fn create_team(input: TeamInput) -> Res<TeamCheck> {
    blocking(move || cairn_library::create_team(&input)).await
}

/// Switches the app to the team library (searches, answers, sources and the audit go there).
#[tauri::command]
#[specta::specta]
pub async fn connect_team(
    app: AppHandle,
    state: State<'_, AppState>,
    input: TeamInput,
) -> Res<TeamConnected> {
    let lib = lib(&state);
    let (library, connected) = blocking(move || lib.connect_team(&input)).await?;
    state.set_library(library);
    let _ = LibraryChanged.emit(&app);
    Ok(connected)
}

/// Switches the app back to the personal library (the data directory).
#[tauri::command]
#[specta::specta]
pub async fn use_personal(
    app: AppHandle,
    state: State<'_, AppState>,
    forget_password: bool,
) -> Res<()> {
    let lib = lib(&state);
    let library = blocking(move || lib.use_personal(forget_password)).await?;
    state.set_library(library);
    let _ = LibraryChanged.emit(&app);
    Ok(())
}
