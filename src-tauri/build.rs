include!("src/command_names.rs");

fn main() {
    // Without ui/dist (a fresh clone before `npm run build:ui`), embed a page that says so,
    // so `cargo build`/`clippy` still work; the scripts build the UI first.
    let dist = std::path::Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        println!("cargo:warning=ui/dist is missing: run `npm ci && npm run build:ui` first; embedding a placeholder page");
        std::fs::create_dir_all(dist).expect("creating ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><meta charset=utf-8><title>Cairn</title><body style=\"font:16px sans-serif;padding:2em\"><h1>Cairn</h1><p>The user interface was not built. Run <code>npm ci &amp;&amp; npm run build:ui</code>, then build again.</p>",
        )
        .expect("writing the placeholder page");
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("running tauri-build");
}
