#!/usr/bin/env python3
"""Bare ONNX Runtime on the passages `cairn bench embed` reads: the physical limit Cairn's
embedding stage is compared with (scripts/bench.sh).

Same model file, tokenizer.json, truncation (max_tokens), batch size and padded-token budget,
threads and ONNX Runtime version as Cairn; batches sorted by length and padded to their longest
member; mean pooling and
L2 normalisation in numpy. Prints one JSON object like `cairn bench embed --json`.
"""
import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--passages", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batch-tokens", type=int, default=2048,
                    help="padded tokens per batch at most, as Cairn's embedding.batch_tokens; 0: no limit")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0, help="0: ONNX Runtime's default")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    texts = []
    with open(args.passages, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
                if args.limit and len(texts) >= args.limit:
                    break

    tok = Tokenizer.from_file(args.tokenizer)
    tok.enable_truncation(max_length=args.max_tokens)
    tok.no_padding()
    opts = ort.SessionOptions()
    if args.threads > 0:
        opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]

    def embed(batch_texts):
        encs = tok.encode_batch_fast(batch_texts)
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out = [None] * len(encs)
        batches, cur = [], []
        for i in order:
            n = len(encs[i].ids)
            if cur and (len(cur) >= args.batch_size
                        or (args.batch_tokens and (len(cur) + 1) * n > args.batch_tokens)):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        for idx in batches:
            seq = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), seq), dtype=np.int64)
            mask = np.zeros((len(idx), seq), dtype=np.int64)
            types = np.zeros((len(idx), seq), dtype=np.int64)
            for r, i in enumerate(idx):
                e = encs[i]
                n = len(e.ids)
                ids[r, :n] = e.ids
                mask[r, :n] = e.attention_mask
                types[r, :n] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = sess.run(None, {k: feed[k] for k in names})[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for r, i in enumerate(idx):
                out[i] = pooled[r]
        return out, sum(len(e.ids) for e in encs)

    embed(texts[: args.batch_size * 2])  # warm-up, as Cairn's side does
    times = []
    tokens = 0
    cpu0 = time.process_time()
    for _ in range(max(args.runs, 1)):
        t = time.perf_counter()
        _, tokens = embed(texts)
        times.append(time.perf_counter() - t)
    cpu_seconds = (time.process_time() - cpu0) / max(args.runs, 1)
    seconds = statistics.median(times)
    print(json.dumps({
        "engine": "onnxruntime",
        "passages": len(texts),
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "passages_per_s": len(texts) / seconds,
        "cpu_seconds": cpu_seconds,
        "batch_size": args.batch_size,
        "batch_tokens": args.batch_tokens,
        "max_tokens": args.max_tokens,
        "threads": args.threads,
        "runs": max(args.runs, 1),
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
