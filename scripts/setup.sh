#!/usr/bin/env bash
# Installs what Cairn needs to build and run on Debian/Ubuntu, skipping what is already there:
# system packages, the Rust toolchain check, and the pinned model files (models/fetch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=(build-essential pkg-config cmake clang libclang-dev python3 python3-pip python3-venv unzip)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust) is not installed. Install Rust 1.85 or newer (https://rustup.rs) and run this again." >&2
  exit 1
fi

bash models/fetch.sh
