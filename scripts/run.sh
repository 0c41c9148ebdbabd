#!/usr/bin/env bash
# Launches Cairn with its embedded defaults. Until the desktop app lands this is the CLI demo:
# it indexes the folder you name (default: ~/Documents) and answers searches at a prompt.
# Data lives in the platform data directory (override with CAIRN_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The dev profile optimises dependencies and the engine (see Cargo.toml) and shares its
# build with the test command; release builds are for bundles.
cargo build -p cairn-cli --quiet
dir="${1:-$HOME/Documents}"
if [ ! -d "$dir" ]; then
  echo "Folder $dir does not exist: run \`bash scripts/run.sh /path/to/your/folder\`." >&2
  exit 1
fi
exec target/debug/cairn demo "$dir"
