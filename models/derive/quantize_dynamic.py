#!/usr/bin/env python3
"""Derives the default embedding model from the pinned all-MiniLM-L6-v2 int8 export.

The export stores its weights as int8 but computes in float: each MatMul weight is
`Cast(int8) * scale`, so ONNX Runtime folds them back to float32 at load and runs float
matrix products. This script folds those weights to float32 and re-quantises the model with
ONNX Runtime's dynamic quantisation (per-channel int8 weights, activations quantised per batch),
which runs the products as MatMulInteger: 1.6x less CPU per passage with the same retrieval
quality (docs/benchmarks.md, "int8 embedding"). The output is deterministic for pinned tool
versions; fetch.sh checks it against the sha256 in models/manifest.toml.

Usage: quantize_dynamic.py SOURCE.onnx OUT.onnx
"""
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic


def fold_weights(model):
    """Replaces every MatMul weight `Cast(int8 initializer) * scale` by a float32 initializer."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    folded = 0
    for node in g.node:
        if node.op_type != "MatMul" or node.input[1] not in producer:
            continue
        mul = producer[node.input[1]]
        if mul.op_type != "Mul":
            continue
        cast = producer.get(mul.input[0])
        scale = mul.input[1]
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits or scale not in inits:
            continue
        weight = numpy_helper.to_array(inits[cast.input[0]]).astype(np.float32)
        weight = weight * numpy_helper.to_array(inits[scale]).astype(np.float32)
        name = node.input[1] + "_fp32"
        g.initializer.append(numpy_helper.from_array(weight, name))
        node.input[1] = name
        folded += 1
    # Drop the nodes and initializers nothing reads any more.
    while True:
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        keep = [n for n in g.node if any(o in used for o in n.output)]
        if len(keep) == len(g.node):
            break
        del g.node[:]
        g.node.extend(keep)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return folded


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    model = onnx.load(str(source))
    folded = fold_weights(model)
    if folded == 0:
        sys.exit(f"quantize_dynamic.py: {source} has no int8 MatMul weights to fold (not the pinned export?)")
    onnx.checker.check_model(model)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "folded.onnx"
        onnx.save(model, str(fp32))
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)
    print(f"folded {folded} weights, quantised dynamically: {out}")


if __name__ == "__main__":
    main()
