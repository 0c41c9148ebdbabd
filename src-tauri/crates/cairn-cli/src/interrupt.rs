//! Ctrl-C handling: the first press asks the running work to stop at its next batch, the
//! second quits at once (exit code 130).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag Ctrl-C sets (for `cairn index`, `cairn demo` and `cairn ask`).
pub fn cancel_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!(
            "\nstopping after the current batch (committed work is kept; Ctrl-C again to quit now)"
        );
    });
    flag
}

/// Ctrl-C sets `stop` and `interrupt` (so a running embedding stops at its next batch); a
/// second Ctrl-C quits at once. For `cairn watch` and `cairn bench watch`.
pub fn install_stop(interrupt: Arc<AtomicBool>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let _ = ctrlc::set_handler(move || {
        interrupt.store(true, Ordering::SeqCst);
        if s.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current batch (Ctrl-C again to quit now)");
    });
    stop
}
