#!/usr/bin/env python3
"""Chroma (PyPI `chromadb`, its default ONNX MiniLM embedder) on a BEIR-layout data set, for
the comparison with `cairn eval` on the same set (scripts/bench.sh).

Chroma's embedder is given Cairn's model file and tokenizer.json offline (it would download
its own otherwise): the same weights on both sides. Chroma stores each corpus document as one
record, as its users add them (it pads or truncates every input to 256 tokens). Prints one JSON
object: index seconds, query p50/p95/p99 (ms, one query at a time, embedding included),
nDCG@10 and recall@10 computed as `cairn eval` computes them; with --passages, also the time
to index exactly the texts Cairn embedded (one record each: the same text embedded on both sides).
"""
import argparse
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def load(dataset: Path):
    corpus = [json.loads(l) for l in open(dataset / "corpus.jsonl", encoding="utf-8") if l.strip()]
    queries = {}
    for l in open(dataset / "queries.jsonl", encoding="utf-8"):
        if l.strip():
            q = json.loads(l)
            queries[str(q["_id"])] = q["text"]
    qrels = {}
    with open(dataset / "qrels" / "test.tsv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or (i == 0 and not parts[2].strip().lstrip("-").isdigit()):
                continue
            qid, did, score = parts[0], parts[1], int(parts[2])
            if score > 0:
                qrels.setdefault(qid, {})[did] = score
    return corpus, queries, qrels


def ndcg_at(ranked, rel, k=10):
    # Linear gains, as trec_eval / BEIR and `cairn eval`.
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked, rel, k=10):
    return len([d for d in ranked[:k] if d in rel]) / len(rel) if rel else 0.0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True, type=Path)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--tokenizer", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--passages", type=Path, default=None,
                    help="JSONL of the texts Cairn embedded: also time Chroma indexing exactly those")
    args = ap.parse_args()

    import chromadb
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    work = Path(args.work or tempfile.mkdtemp(prefix="chroma-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    model_dir = work / "model"
    onnx_dir = model_dir / "onnx"
    onnx_dir.mkdir(parents=True)
    shutil.copy(args.model, onnx_dir / "model.onnx")
    shutil.copy(args.tokenizer, onnx_dir / "tokenizer.json")
    # Files Chroma only checks for (it reads model.onnx and tokenizer.json).
    for name in ["config.json", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]:
        (onnx_dir / name).write_text("{}" if name.endswith(".json") else "")

    class OfflineMiniLM(ONNXMiniLM_L6_V2):
        DOWNLOAD_PATH = model_dir

    embed = OfflineMiniLM(preferred_providers=["CPUExecutionProvider"])
    corpus, queries, qrels = load(args.dataset)
    client = chromadb.PersistentClient(path=str(work / "db"))
    col = client.create_collection("bench", embedding_function=embed)

    def add_all(collection, ids, texts):
        t, c = time.perf_counter(), time.process_time()
        step = 256
        for i in range(0, len(texts), step):
            collection.add(ids=ids[i : i + step], documents=texts[i : i + step])
        return time.perf_counter() - t, time.process_time() - c

    index_seconds, index_cpu = add_all(
        col,
        [str(d["_id"]) for d in corpus],
        [(d.get("title", "") + "\n\n" + d["text"]).strip() for d in corpus],
    )
    same = {}
    if args.passages:
        texts = [json.loads(l)["text"] for l in open(args.passages, encoding="utf-8") if l.strip()]
        same_col = client.create_collection("passages", embedding_function=embed)
        secs, cpu = add_all(same_col, [str(i) for i in range(len(texts))], texts)
        same = {"passages": len(texts), "passages_index_seconds": secs, "passages_index_cpu_seconds": cpu}

    times, ndcgs, recalls = [], [], []
    for qid, rel in qrels.items():
        if qid not in queries:
            continue
        t = time.perf_counter()
        r = col.query(query_texts=[queries[qid]], n_results=10)
        times.append((time.perf_counter() - t) * 1000)
        ranked = r["ids"][0]
        ndcgs.append(ndcg_at(ranked, rel))
        recalls.append(recall_at(ranked, rel))
    print(json.dumps({
        "engine": "chroma",
        "chromadb": chromadb.__version__,
        "docs": len(corpus),
        "queries": len(times),
        "index_seconds": index_seconds,
        "index_cpu_seconds": index_cpu,
        **same,
        "query_p50_ms": pct(times, 50),
        "query_p95_ms": pct(times, 95),
        "query_p99_ms": pct(times, 99),
        "ndcg_at_10": statistics.mean(ndcgs) if ndcgs else 0.0,
        "recall_at_10": statistics.mean(recalls) if recalls else 0.0,
    }))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
