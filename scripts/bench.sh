#!/usr/bin/env bash
# One command for Cairn's speed figures against the limit and the peers, on this machine, in one
# run (issue 10; see docs/benchmarks.md "Against the limit and the peers"):
#   - embed vs the limit: Cairn's embedding stage vs bare ONNX Runtime (same model file,
#     tokenizer, truncation, batch size, threads, ONNX Runtime version) on the same passages;
#   - end-to-end index vs pure embed: `cairn eval`'s whole index (parse, chunk, SQLite, tantivy,
#     usearch, embeddings) vs bare ONNX Runtime embedding exactly the passages it embedded;
#   - vs Chroma (PyPI chromadb, its ONNX MiniLM embedder given Cairn's model file offline):
#     index time, query p50/p95/p99, nDCG@10 on the same SciFact subset;
#   - vs Recoll (Debian recollcmd): time until keyword-searchable and peak RSS on a real folder
#     of documentation (python3.11-doc, r-doc-pdf, debian-policy, debian-reference-en);
#   - rescan of that folder unchanged: time, and passages embedded (must be 0);
#   - query latency p50/p95/p99 of bm25, dense and hybrid at SciFact's 15,766 passages and 10×
#     (100× with --search-scales), on generated notes with model-free vectors.
# Writes target/bench/report.md and target/bench/report.json (and prints the table).
#
# Usage: bash scripts/bench.sh [--docs N] [--queries N] [--embed-passages N] [--runs N]
#                              [--search-scales "15766 157660 1576600"]
#   --docs N            SciFact documents (judged ones first; default 1000; 0 = all 5,183)
#   --queries N         judged SciFact queries (default 100; 0 = all 300)
#   --embed-passages N  passages for embed vs the limit (default 500)
#   --runs N            timed runs of each embed measurement, median reported (default 3)
#   --search-scales "N…" passages for the query-latency runs (default "15766 157660")
# Needs the README's set-up (models fetched). Installs what it needs itself: Recoll and the
# documentation packages (apt), a Python venv with onnxruntime, tokenizers, numpy, chromadb.
# Data: $CAIRN_EVAL_DIR/scifact (default ../shared/eval/scifact). Builds `cairn` in release mode
# (or uses $CAIRN_BENCH_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
docs=1000 queries=100 embed_n=500 runs=3 scales="15766 157660"
while [ $# -gt 0 ]; do
  case "$1" in
    --docs) docs=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --embed-passages) embed_n=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --search-scales) scales=$2; shift 2 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
target="${CARGO_TARGET_DIR:-$root/target}"
out="$root/target/bench"
eval_dir="${CAIRN_EVAL_DIR:-$root/../shared/eval}"
scifact="$eval_dir/scifact"
[ -f "$scifact/corpus.jsonl" ] || { echo "bench.sh: no SciFact at $scifact (set CAIRN_EVAL_DIR)" >&2; exit 1; }
mkdir -p "$out"
log() { echo "bench.sh: $* ($(date +%T))" >&2; }

# --- set-up -------------------------------------------------------------------------------
need_apt=()
command -v recollindex >/dev/null || need_apt+=(recollcmd)
command -v /usr/bin/time >/dev/null 2>&1 || need_apt+=(time)
for p in python3.11-doc r-doc-pdf debian-policy debian-reference-en; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q "${need_apt[@]}" >/dev/null
fi
venv="$root/target/bench-venv"
if ! "$venv/bin/python" -c "import onnxruntime, tokenizers, numpy, chromadb" 2>/dev/null; then
  log "installing the Python side (onnxruntime 1.31.1, tokenizers, numpy, chromadb 1.5.9)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q onnxruntime==1.31.1 tokenizers numpy chromadb==1.5.9
fi
py="$venv/bin/python"
if [ -n "${CAIRN_BENCH_BIN:-}" ]; then
  cairn="$CAIRN_BENCH_BIN"
else
  log "building cairn (release)"
  cargo build --release --workspace --bin cairn --quiet
  cairn="$target/release/cairn"
fi
model_dir="$root/models/dist/all-MiniLM-L6-v2-int8"
# Both sides leave ONNX Runtime's thread count at its default (one per core).
threads=$(nproc)

# --- SciFact subset: Cairn eval, pure embed, embed vs the limit, Chroma ------------------------
sub="$out/scifact-subset"
rm -rf "$sub" "$out/cairn-store"
"$py" scripts/bench/subset.py --dataset "$scifact" --out "$sub" --docs "$docs" --queries "$queries" > "$out/subset.json"
log "cairn eval (index + queries) on $(cat "$out/subset.json")"
/usr/bin/time -f '{"peak_rss_kb": %M, "wall_seconds": %e, "cpu_user_seconds": %U, "cpu_sys_seconds": %S}' -o "$out/cairn-eval-time.json" \
  "$cairn" eval --dataset "$sub" --mode hybrid --store "$out/cairn-store" --json > "$out/cairn-eval.json"
"$py" scripts/bench/export_passages.py "$out/cairn-store/data/catalog.sqlite3" "$out/passages.jsonl" > /dev/null
log "bare ONNX Runtime on the $(wc -l < "$out/passages.jsonl") passages Cairn embedded"
/usr/bin/time -f '{"peak_rss_kb": %M, "wall_seconds": %e, "cpu_user_seconds": %U, "cpu_sys_seconds": %S}' -o "$out/ort-all-time.json" \
  "$py" scripts/bench/ort_embed.py --model "$model_dir/model-dynamic.onnx" --tokenizer "$model_dir/tokenizer.json" \
  --passages "$out/passages.jsonl" --runs 1 > "$out/ort-all.json"
log "embed vs the limit ($embed_n passages, $runs runs each, alternating)"
: > "$out/embed-cairn.jsonl"; : > "$out/embed-ort.jsonl"
for _ in 1 2; do
  "$cairn" --data-dir "$out/cairn-store" bench embed --passages "$out/passages.jsonl" \
    --limit "$embed_n" --runs "$runs" --json >> "$out/embed-cairn.jsonl"
  "$py" scripts/bench/ort_embed.py --model "$model_dir/model-dynamic.onnx" --tokenizer "$model_dir/tokenizer.json" \
    --passages "$out/passages.jsonl" --limit "$embed_n" --runs "$runs" >> "$out/embed-ort.jsonl"
done
log "Chroma on the same subset"
"$py" scripts/bench/chroma_bench.py --dataset "$sub" --model "$model_dir/model-dynamic.onnx" \
  --tokenizer "$model_dir/tokenizer.json" --work "$out/chroma" --passages "$out/passages.jsonl" > "$out/chroma.json"

# --- a real folder of documentation: Recoll vs Cairn's keyword phase, rescan ------------------
folder="$out/docs"
if [ ! -d "$folder" ]; then
  log "copying the documentation packages' files into $folder"
  mkdir -p "$folder"
  for p in python3.11-doc r-doc-pdf debian-policy debian-reference-en; do dpkg -L "$p"; done |
    while read -r f; do [ -f "$f" ] && cp -L --parents "$f" "$folder/" 2>/dev/null || true; done
fi
rm -rf "$out/recoll" "$out/cairn-docs"
mkdir -p "$out/recoll"
printf 'topdirs = %s\n' "$folder" > "$out/recoll/recoll.conf"
log "Recoll on $(find "$folder" -type f | wc -l) files"
/usr/bin/time -f '{"peak_rss_kb": %M, "wall_seconds": %e, "cpu_user_seconds": %U, "cpu_sys_seconds": %S}' -o "$out/recoll-time.json" \
  recollindex -c "$out/recoll" -z > "$out/recoll.log" 2>&1 || true
recoll_hits=$(recollq -c "$out/recoll" -b "sequence" 2>/dev/null | wc -l || echo 0)
log "Cairn's keyword phase on the same folder"
"$cairn" --data-dir "$out/cairn-docs" add "$folder" > /dev/null
/usr/bin/time -f '{"peak_rss_kb": %M, "wall_seconds": %e, "cpu_user_seconds": %U, "cpu_sys_seconds": %S}' -o "$out/cairn-docs-time.json" \
  "$cairn" --data-dir "$out/cairn-docs" index --no-embed --json > "$out/cairn-docs.json"
cairn_hits=$("$cairn" --data-dir "$out/cairn-docs" search --mode bm25 --json -n 50 sequence | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))' || echo 0)
log "rescans of unchanged collections"
/usr/bin/time -f '{"peak_rss_kb": %M, "wall_seconds": %e, "cpu_user_seconds": %U, "cpu_sys_seconds": %S}' -o "$out/rescan-docs-time.json" \
  "$cairn" --data-dir "$out/cairn-docs" index --no-embed --json > "$out/rescan-docs.json"
# The SciFact store is fully embedded: a rescan with embedding on must embed nothing.
/usr/bin/time -f '{"peak_rss_kb": %M, "wall_seconds": %e, "cpu_user_seconds": %U, "cpu_sys_seconds": %S}' -o "$out/rescan-scifact-time.json" \
  "$cairn" --data-dir "$out/cairn-store/data" index --json > "$out/rescan-scifact.json"
printf '{"recoll_hits": %s, "cairn_hits": %s, "threads": %s}\n' "$recoll_hits" "$cairn_hits" "$threads" > "$out/extra.json"

log "query latency at ${scales// /, } passages"
: > "$out/search.jsonl"
for n in $scales; do
  "$cairn" --data-dir "$out/search-data" bench search --passages "$n" --work-dir "$out" --json >> "$out/search.jsonl"
done

"$py" scripts/bench/report.py "$out"
