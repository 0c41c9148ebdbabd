//! The TypeScript bindings in ui/src/bindings.ts are generated from the Rust commands and
//! types. This test regenerates them and fails when the committed file differs (run it with
//! `CAIRN_UPDATE_BINDINGS=1` to rewrite the file), and checks that the window's capability
//! grants exactly the app's commands.

use std::path::Path;

include!("../src/command_names.rs");

#[test]
fn typescript_bindings_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = dir.join(cairn_desktop::BINDINGS);
    let fresh = cairn_desktop::specta_builder()
        .export_str(cairn_desktop::typescript())
        .expect("exporting the bindings");
    if std::env::var_os("CAIRN_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &fresh).expect("writing the bindings");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is out of date with the Rust commands: run `CAIRN_UPDATE_BINDINGS=1 cargo test -p cairn-desktop --test bindings` and commit the file",
        path.display()
    );
}

#[test]
fn capability_grants_exactly_the_app_commands() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(dir.join("capabilities/main-window.json")).unwrap();
    let cap: serde_json::Value = serde_json::from_str(&text).unwrap();
    let granted: Vec<String> = cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .filter(|p| p.starts_with("allow-"))
        .collect();
    let mut want: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    let mut got = granted.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    let plugins: Vec<&str> = cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .filter(|p| p.contains(':'))
        .collect();
    assert_eq!(
        plugins,
        ["core:event:allow-listen", "core:event:allow-unlisten"]
    );
}

#[test]
fn csp_is_strict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let conf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tauri.conf.json")).unwrap())
            .unwrap();
    let csp = &conf["app"]["security"]["csp"];
    let all = csp.to_string();
    assert!(!all.contains("unsafe-eval"), "{all}");
    assert!(
        !all.contains("https:") && !all.contains("http://*"),
        "{all}"
    );
    assert!(!all.contains("unsafe-inline"), "{all}");
    assert_eq!(csp["script-src"], "'self'");
    assert_eq!(csp["style-src"], "'self'");
    assert!(
        conf["build"].get("devUrl").is_none(),
        "the UI is always embedded"
    );
}
