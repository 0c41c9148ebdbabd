#!/usr/bin/env bash
# Builds Cairn's installable bundles with signed updater artifacts:
#   target/<profile>/bundle/deb/Cairn_<version>_amd64.deb (+ .sig)
#   target/<profile>/bundle/rpm/Cairn-<version>-1.x86_64.rpm (+ .sig)
#
# Usage: bash scripts/bundle.sh [--release] [--bundles LIST] [EXTRA TAURI BUNDLE ARGS...]
#   default: debug profile (shares the build with `cargo build --workspace` and the tests), deb + rpm.
#   AppImage (`--bundles deb,rpm,appimage`) needs network: tauri downloads linuxdeploy.
#
# Signing: the updater artifacts are signed with the key in TAURI_SIGNING_PRIVATE_KEY (the key
# text or a path; password in TAURI_SIGNING_PRIVATE_KEY_PASSWORD). Its public key must be the
# one in src-tauri/tauri.conf.json (plugins.updater.pubkey), or be given in
# TAURI_SIGNING_PUBLIC_KEY, which then overrides the config for this build.
# Without TAURI_SIGNING_PRIVATE_KEY a throw-away key pair is generated into
# target/bundle-signing/ (once; never committed) and its public key is passed to this build
# with a `--config` override, so the committed config is never edited.
#
# Afterwards target/bundle-signing/used.pub holds the public key (base64, as in the config) that
# verifies this build's .sig files; the desktop tests read it.
set -euo pipefail
cd "$(dirname "$0")/.."

profile_flag=(--debug)
profile=debug
bundles="deb,rpm"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile_flag=(); profile=release ;;
    --bundles) bundles="$2"; shift ;;
    --bundles=*) bundles="${1#--bundles=}" ;;
    *) extra+=("$1") ;;
  esac
  shift
done

target="${CARGO_TARGET_DIR:-$PWD/target}"
keys="$target/bundle-signing"
mkdir -p "$keys"

override='{}'
if [ -n "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
  if [ -n "${TAURI_SIGNING_PUBLIC_KEY:-}" ]; then
    pub="$TAURI_SIGNING_PUBLIC_KEY"
    override="{\"plugins\":{\"updater\":{\"pubkey\":\"$pub\"}}}"
  else
    pub="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"]["updater"]["pubkey"])' src-tauri/tauri.conf.json)"
  fi
  echo "bundle: signing with the key from TAURI_SIGNING_PRIVATE_KEY"
else
  # A throw-away key: random password, generated once per target directory.
  if [ ! -s "$keys/throwaway.key" ] || [ ! -s "$keys/throwaway.key.pub" ] || [ ! -s "$keys/throwaway.password" ]; then
    rm -f "$keys/throwaway.key" "$keys/throwaway.key.pub"
    python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$keys/throwaway.password"
    chmod 600 "$keys/throwaway.password"
    npx --no-install tauri signer generate --ci -p "$(cat "$keys/throwaway.password")" \
      -w "$keys/throwaway.key" >/dev/null
    echo "bundle: generated a throw-away signing key in $keys/"
  fi
  export TAURI_SIGNING_PRIVATE_KEY="$keys/throwaway.key"
  TAURI_SIGNING_PRIVATE_KEY_PASSWORD="$(cat "$keys/throwaway.password")"
  export TAURI_SIGNING_PRIVATE_KEY_PASSWORD
  pub="$(cat "$keys/throwaway.key.pub")"
  override="{\"plugins\":{\"updater\":{\"pubkey\":\"$pub\"}}}"
fi
printf '%s\n' "$pub" > "$keys/used.pub"

# Stale bundles from an earlier version or key must not be picked up by the tests.
rm -rf "$target/$profile/bundle/deb" "$target/$profile/bundle/rpm" "$target/$profile/bundle/appimage"

start=$(date +%s)
# `tauri build` would run `cargo build -p cairn-desktop`, whose feature resolution differs from
# the workspace's and compiles a second copy of every dependency (llama.cpp included). Build the
# workspace's programs the way the tests do, then let tauri only bundle them.
npm run --silent build:ui
cargo_profile=()
[ "$profile" = release ] && cargo_profile=(--release)
cargo build --workspace --bins --quiet ${cargo_profile[@]+"${cargo_profile[@]}"}
npx --no-install tauri bundle "${profile_flag[@]}" --ci --bundles "$bundles" --config "$override" \
  ${extra[@]+"${extra[@]}"}
echo "bundle: built $bundles ($profile) in $(( $(date +%s) - start )) s:"
find "$target/$profile/bundle" -maxdepth 2 -type f \( -name '*.deb' -o -name '*.rpm' -o -name '*.AppImage' -o -name '*.sig' \) \
  -printf '  %p (%s bytes)\n' | sort
