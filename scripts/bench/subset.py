#!/usr/bin/env python3
"""A deterministic subset of a BEIR-layout data set: the first QUERIES queries that have
judgements, every document judged for them, then other documents in corpus order up to DOCS.
Both Cairn and the peers are measured on the same subset (scripts/bench.sh)."""
import argparse
import json
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("--dataset", required=True, type=Path)
ap.add_argument("--out", required=True, type=Path)
ap.add_argument("--docs", type=int, default=0, help="0: the whole corpus")
ap.add_argument("--queries", type=int, default=0, help="0: every judged query")
a = ap.parse_args()

rows = [l.rstrip("\n").split("\t") for l in open(a.dataset / "qrels" / "test.tsv", encoding="utf-8")]
header = rows[0] if rows and not rows[0][2].strip().lstrip("-").isdigit() else None
judged = [r for r in rows if r is not header and len(r) >= 3]
qids = []
for r in judged:
    if r[0] not in qids:
        qids.append(r[0])
if a.queries:
    qids = qids[: a.queries]
keep_q = set(qids)
judged = [r for r in judged if r[0] in keep_q]
need = {r[1] for r in judged}
corpus = [json.loads(l) for l in open(a.dataset / "corpus.jsonl", encoding="utf-8") if l.strip()]
docs = [d for d in corpus if str(d["_id"]) in need]
if a.docs == 0:
    docs = corpus
else:
    for d in corpus:
        if len(docs) >= a.docs:
            break
        if str(d["_id"]) not in need:
            docs.append(d)
(a.out / "qrels").mkdir(parents=True, exist_ok=True)
with open(a.out / "corpus.jsonl", "w", encoding="utf-8") as f:
    for d in docs:
        f.write(json.dumps(d) + "\n")
with open(a.out / "queries.jsonl", "w", encoding="utf-8") as f:
    for l in open(a.dataset / "queries.jsonl", encoding="utf-8"):
        if l.strip() and str(json.loads(l)["_id"]) in keep_q:
            f.write(l if l.endswith("\n") else l + "\n")
with open(a.out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
    f.write("query-id\tcorpus-id\tscore\n")
    for r in judged:
        f.write("\t".join(r[:3]) + "\n")
print(json.dumps({"docs": len(docs), "queries": len(qids)}))
