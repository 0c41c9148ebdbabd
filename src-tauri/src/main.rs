// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Before any thread starts: no telemetry from ONNX Runtime.
    cairn_core::embed::disable_ort_telemetry();
    // The app parses PDF, DOCX and HTML in worker processes: this binary in worker mode.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == cairn_desktop::PARSE_WORKER_ARG)
    {
        std::process::exit(cairn_core::parse::isolate::serve_worker());
    }
    cairn_desktop::run();
}
