#!/usr/bin/env bash
# Runs a real OpenAI-compatible chat-completions server (llama-cpp-python's `llama_cpp.server`)
# for cairn-llm's remote-generator tests, installing it first when it is missing.
#
# Usage:
#   bash openai-server.sh --install               install if missing, print the python used, exit
#   bash openai-server.sh MODEL.gguf PORT [ARGS]  install if missing, then exec the server on
#                                                 127.0.0.1:PORT (extra ARGS go to the server)
#
# Where it is installed: if `python3 -c "import llama_cpp.server"` already works, that python is
# used and nothing is installed. Otherwise a virtualenv at $CAIRN_LLM_VENV (default:
# <target dir>/cairn-llm-venv, the target dir being $CARGO_TARGET_DIR or the workspace's
# target/) gets `llama-cpp-python[server]==0.3.36`. pip builds llama.cpp from the sdist
# (about 6 minutes on 2 cores; needs cmake and a C/C++ compiler) and caches the wheel, so later
# installs take seconds.
#
# Environment: PYTHON (default python3), CAIRN_LLM_VENV, CARGO_TARGET_DIR.
set -euo pipefail

version="0.3.36"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"
venv="${CAIRN_LLM_VENV:-$target_dir/cairn-llm-venv}"
python="${PYTHON:-python3}"

die() {
    echo "openai-server.sh: error: $*" >&2
    exit 1
}

has_server() {
    "$1" -c "import llama_cpp.server" >/dev/null 2>&1
}

# Prints the interpreter that can import llama_cpp.server, installing into the venv if needed.
find_or_install() {
    if has_server "$python"; then
        command -v "$python"
        return
    fi
    if [ -x "$venv/bin/python" ] && has_server "$venv/bin/python"; then
        echo "$venv/bin/python"
        return
    fi
    command -v "$python" >/dev/null 2>&1 || die "$python not found (Python >= 3.8 with venv is needed)"
    command -v cmake >/dev/null 2>&1 || die "cmake not found (apt-get install cmake build-essential)"
    echo "openai-server.sh: installing llama-cpp-python[server]==$version into $venv" \
        "(builds llama.cpp from source the first time, ~6 min on 2 cores)" >&2
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" >&2 \
            || die "could not create a virtualenv at $venv (on Debian/Ubuntu: apt-get install python3-venv)"
    fi
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
        "$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
        "llama-cpp-python[server]==$version" >&2 \
        || die "pip could not install llama-cpp-python[server]==$version into $venv"
    has_server "$venv/bin/python" || die "llama_cpp.server still not importable from $venv"
    echo "$venv/bin/python"
}

case "${1:-}" in
    --install)
        find_or_install
        exit 0
        ;;
    -h | --help | "")
        sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        [ -n "${1:-}" ] && exit 0
        exit 2
        ;;
esac

[ $# -ge 2 ] || die "usage: openai-server.sh MODEL.gguf PORT [extra server args]"
model="$1"
port="$2"
shift 2
[ -f "$model" ] || die "model file not found: $model (run bash models/fetch.sh)"
py="$(find_or_install)"
# exec: the server becomes this process, so killing the pid the caller holds stops it.
exec "$py" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
    --n_ctx 2048 --n_threads 2 "$@"
