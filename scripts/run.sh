#!/usr/bin/env bash
# Launches the Cairn desktop app with its embedded defaults: sets up what is missing, builds the
# UI and the app (the dev build the tests share), and opens the window. The app's data lives in
# the platform data directory (~/.local/share/cairn on Linux; override with CAIRN_DATA_DIR);
# the models come from models/dist (fetched by setup). Arguments go to the app.
# The CLI is `target/debug/cairn`, built alongside, e.g. `target/debug/cairn demo DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build:ui
# --workspace: the same features as the tests, so the two builds share every dependency.
cargo build --workspace --bins --quiet
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run.sh: no display (DISPLAY/WAYLAND_DISPLAY unset): start Cairn from a desktop session," >&2
  echo "        or headless: xvfb-run -a target/debug/cairn-desktop" >&2
  exit 1
fi
exec target/debug/cairn-desktop "$@"
