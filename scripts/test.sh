#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, and the whole workspace's tests (unit,
# integration and black-box CLI tests with the real model files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The remote-generator tests talk to a real OpenAI-compatible server (llama-cpp-python).
bash src-tauri/crates/cairn-llm/tests/openai-server.sh --install >/dev/null
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
