//! Ctrl-C handling: the first press asks the running work to stop at its next batch, the
//! second quits at once (exit code 130).

use cairn_core::stop::StopToken;

/// A token Ctrl-C stops; `message` says what happens after the first press.
fn on_ctrl_c(message: &'static str) -> StopToken {
    let token = StopToken::new();
    let t = token.clone();
    let _ = ctrlc::set_handler(move || {
        if t.is_stopped() {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        t.stop();
        eprintln!("\n{message}");
    });
    token
}

/// A token Ctrl-C stops (for `cairn index`, `cairn demo` and `cairn ask`).
pub fn cancel_flag() -> StopToken {
    on_ctrl_c("stopping after the current batch (committed work is kept; Ctrl-C again to quit now)")
}

/// A token Ctrl-C stops; a second Ctrl-C quits at once. For `cairn watch` and `cairn bench
/// watch`, which join it with the watcher's activity token for embedding.
pub fn install_stop() -> StopToken {
    on_ctrl_c("stopping after the current batch (Ctrl-C again to quit now)")
}
