#!/usr/bin/env python3
"""Turns the figures scripts/bench.sh collected in target/bench/ into report.json and
report.md (the table for docs/benchmarks.md), with the ratios the goals are stated in."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

out = Path(sys.argv[1])


def load(name):
    p = out / name
    return json.loads(p.read_text()) if p.exists() and p.read_text().strip() else {}


def lines(name):
    p = out / name
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []


def med(rows, key):
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else float("nan")


subset = load("subset.json")
ev, ev_time = load("cairn-eval.json"), load("cairn-eval-time.json")
ort_all, ort_all_t = load("ort-all.json"), load("ort-all-time.json")


def cpu(t):
    return t.get("cpu_user_seconds", 0) + t.get("cpu_sys_seconds", 0) if t else None
ec, eo = lines("embed-cairn.jsonl"), lines("embed-ort.jsonl")
chroma = load("chroma.json")
recoll_t, docs_t, docs = load("recoll-time.json"), load("cairn-docs-time.json"), load("cairn-docs.json")
rescan_docs, rescan_docs_t = load("rescan-docs.json"), load("rescan-docs-time.json")
rescan_sf, rescan_sf_t = load("rescan-scifact.json"), load("rescan-scifact-time.json")
extra = load("extra.json")
search = lines("search.jsonl")

cairn_s, ort_s = med(ec, "seconds"), med(eo, "seconds")
r = {
    "machine": {
        "cpus": os.cpu_count(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    },
    "subset": subset,
    "embed_vs_limit": {
        "passages": ec[0]["passages"] if ec else None,
        "cairn_seconds": cairn_s,
        "ort_seconds": ort_s,
        "cairn_tokens_per_s": med(ec, "tokens_per_s"),
        "ort_tokens_per_s": med(eo, "tokens_per_s"),
        # Same passages on both sides: the ratio of their speeds.
        "ratio": ort_s / cairn_s if cairn_s else None,
        # CPU time (every thread) per run: steadier than wall time when the cores are shared.
        "cairn_cpu_seconds": med(ec, "cpu_seconds"),
        "ort_cpu_seconds": med(eo, "cpu_seconds"),
        "cpu_ratio": med(eo, "cpu_seconds") / med(ec, "cpu_seconds") if ec and eo and ec[0].get("cpu_seconds") else None,
        "goal": ">= 0.95",
    },
    "index_vs_pure_embed": {
        "passages_embedded": ort_all.get("passages"),
        "cairn_index_seconds": ev.get("index_seconds"),
        "cairn_keyword_ready_seconds": ev.get("keyword_ready_seconds"),
        "ort_embed_seconds": ort_all.get("seconds"),
        "ratio": ev["index_seconds"] / ort_all["seconds"] if ev and ort_all else None,
        "peak_rss_mb": ev_time.get("peak_rss_kb", 0) / 1024,
        # Whole processes: Cairn's eval (writing the corpus, indexing, loading the model, the
        # queries) against the bare runtime's script (loading, a warm-up, one pass).
        "cairn_cpu_seconds": cpu(ev_time),
        "ort_cpu_seconds": cpu(ort_all_t),
        "cpu_ratio": cpu(ev_time) / cpu(ort_all_t) if ev_time and ort_all_t and cpu(ort_all_t) else None,
        "goal": "<= 1.15",
    },
    "vs_chroma": {
        "cairn": {k: ev.get(k) for k in ["index_seconds", "search_p50_ms", "search_p95_ms", "ndcg_at_10", "chunks"]},
        "chroma": chroma,
        "index_speedup": chroma.get("index_seconds", 0) / ev["index_seconds"] if ev and chroma else None,
        # Chroma given exactly the texts Cairn embedded, one record each.
        "same_passages_speedup": chroma.get("passages_index_seconds", 0) / ev["index_seconds"] if ev and chroma.get("passages_index_seconds") else None,
        "query_p50_speedup": chroma.get("query_p50_ms", 0) / ev["search_p50_ms"] if ev and chroma and ev.get("search_p50_ms") else None,
        "goal": "index >= 3x faster, queries >= 10x faster, nDCG@10 no worse",
    },
    "vs_recoll": {
        "files": docs.get("files_seen"),
        "recoll_seconds": recoll_t.get("wall_seconds"),
        "recoll_peak_rss_mb": recoll_t.get("peak_rss_kb", 0) / 1024,
        "cairn_keyword_ready_seconds": docs.get("keyword_ready_seconds"),
        "cairn_wall_seconds": docs_t.get("wall_seconds"),
        "cairn_peak_rss_mb": docs_t.get("peak_rss_kb", 0) / 1024,
        "cairn_documents": docs.get("new_versions"),
        "cairn_unsupported": docs.get("files_unsupported"),
        "cairn_problems": docs.get("problems"),
        "hits_for_sequence": {"recoll": extra.get("recoll_hits"), "cairn": extra.get("cairn_hits")},
        "speedup": recoll_t["wall_seconds"] / docs_t["wall_seconds"] if recoll_t and docs_t else None,
        "goal": "at least as fast",
    },
    "rescan": {
        "docs_seconds": rescan_docs_t.get("wall_seconds"),
        "docs_new_versions": rescan_docs.get("new_versions"),
        "scifact_seconds": rescan_sf_t.get("wall_seconds"),
        "scifact_texts_embedded": rescan_sf.get("texts_embedded"),
        "goal": "0 embedded",
    },
}
r["query_latency"] = search
(out / "report.json").write_text(json.dumps(r, indent=2))


def f(x, d=2):
    return "—" if x is None or (isinstance(x, float) and x != x) else (f"{x:.{d}f}" if isinstance(x, float) else str(x))


e, i, c, rc, rs = r["embed_vs_limit"], r["index_vs_pure_embed"], r["vs_chroma"], r["vs_recoll"], r["rescan"]
md = f"""| measure | Cairn | reference | ratio (goal) |
|---|---|---|---|
| embed {e['passages']} passages (median of runs) | {f(e['cairn_seconds'])} s, {f(e['cairn_tokens_per_s'], 0)} tokens/s; CPU {f(e['cairn_cpu_seconds'])} s | bare ONNX Runtime {f(e['ort_seconds'])} s, {f(e['ort_tokens_per_s'], 0)} tokens/s; CPU {f(e['ort_cpu_seconds'])} s | **{f(e['ratio'])}** of the limit (CPU time: {f(e['cpu_ratio'])}) (≥ 0.95) |
| index SciFact subset ({subset.get('docs')} docs → {c['cairn'].get('chunks')} passages, {i['passages_embedded']} embedded) | {f(i['cairn_index_seconds'])} s (keyword-searchable after {f(i['cairn_keyword_ready_seconds'])} s), peak RSS {f(i['peak_rss_mb'], 0)} MB; CPU {f(i['cairn_cpu_seconds'], 1)} s (whole eval) | pure embed of the same passages {f(i['ort_embed_seconds'])} s; CPU {f(i['ort_cpu_seconds'], 1)} s (whole script) | **{f(i['ratio'])}×** (CPU time: {f(i['cpu_ratio'])}×) (≤ 1.15) |
| vs Chroma: index | {f(c['cairn'].get('index_seconds'))} s | {f(c['chroma'].get('index_seconds'))} s ({c['chroma'].get('docs')} records, cut at 256 tokens); {f(c['chroma'].get('passages_index_seconds'))} s given Cairn's {c['chroma'].get('passages')} passages | **{f(c['index_speedup'])}×** faster; **{f(c['same_passages_speedup'])}×** on the same passages (≥ 3) |
| vs Chroma: query p50 / p95 | {f(c['cairn'].get('search_p50_ms'))} / {f(c['cairn'].get('search_p95_ms'))} ms (hybrid) | {f(c['chroma'].get('query_p50_ms'))} / {f(c['chroma'].get('query_p95_ms'))} ms | **{f(c['query_p50_speedup'])}×** faster at p50 (≥ 10) |
| vs Chroma: nDCG@10 ({subset.get('queries')} queries) | {f(c['cairn'].get('ndcg_at_10'), 3)} | {f(c['chroma'].get('ndcg_at_10'), 3)} | no worse |
| vs Recoll: keyword-searchable ({rc['files']} files) | {f(rc['cairn_wall_seconds'])} s, peak RSS {f(rc['cairn_peak_rss_mb'], 0)} MB ({rc['cairn_documents']} documents, {rc['cairn_unsupported']} unsupported, {rc['cairn_problems']} problems) | {f(rc['recoll_seconds'])} s, peak RSS {f(rc['recoll_peak_rss_mb'], 0)} MB | **{f(rc['speedup'])}×** (≥ 1) |
| rescan, unchanged | docs folder {f(rs['docs_seconds'])} s ({rs['docs_new_versions']} new versions); SciFact subset {f(rs['scifact_seconds'])} s, **{rs['scifact_texts_embedded']}** passages embedded | | 0 embedded |

Machine: {r['machine']['cpus']} × {r['machine']['cpu']}, Linux {r['machine']['kernel']}; commit {r['machine']['commit']}, {r['machine']['date']}.
"""
if search:
    md += "\n| passages | bm25 p50 / p95 / p99 ms | dense p50 / p95 / p99 ms | hybrid p50 / p95 / p99 ms | index bytes per passage (text + vectors) |\n|---|---|---|---|---|\n"
    for s_ in search:
        lat = s_["latency_ms"]
        cell = lambda m: " / ".join(f(lat[m][p]) for p in ("p50", "p95", "p99"))
        per = (s_["text_index_bytes"] + s_["vector_index_bytes"]) / max(s_["passages"], 1)
        md += f"| {s_['passages']:,} | {cell('bm25')} | {cell('dense')} | {cell('hybrid')} | {per:.0f} |\n"
(out / "report.md").write_text(md)
print(md)
