#!/usr/bin/env python3
"""Per-ONNX-op table of the node-test results, for docs/CONFORMANCE.md.

Usage (from the repo root, with a venv that has the onnx package):
    D2RT_NODE_TESTS_VERBOSE=1 tests/onnx_node.sh build/d2rt > /tmp/node.txt
    python tools/conformance_table.py /tmp/node.txt ../shared/onnx-node > table.md

Each test is attributed to the op it tests: the single node of its graph, or for
`_expanded` tests (a function body spelled out in primitive ops) the op of the
test of the same name without the suffix.
"""
import collections
import os
import sys

import onnx


def tested_op(node_dir, name):
    base = name
    for suffix in ("_expanded_ver18", "_expanded"):
        if base.endswith(suffix) and os.path.isdir(os.path.join(node_dir, base[: -len(suffix)])):
            base = base[: -len(suffix)]
            break
    model = onnx.load(os.path.join(node_dir, base, "model.onnx"), load_external_data=False)
    ops = [n.op_type for n in model.graph.node]
    return ops[0] if len(ops) == 1 else (ops[-1] if ops else "?")


def main():
    results_path, node_dir = sys.argv[1], sys.argv[2]
    table = collections.defaultdict(collections.Counter)
    for line in open(results_path):
        parts = line.split()
        if len(parts) < 2 or parts[0] not in ("PASS", "FAIL", "SKIP", "UNSUPPORTED"):
            continue
        op = tested_op(node_dir, parts[1])
        # A function op spelled out in primitive ops is a different test of d2rt:
        # keep it in its own row so an unsupported op does not look half-supported.
        if "_expanded" in parts[1]:
            op += " (expanded)"
        table[op][parts[0]] += 1
    print("| ONNX op | passed | failed | skipped | unsupported |")
    print("|---|---:|---:|---:|---:|")
    for op in sorted(table):
        c = table[op]
        print(f"| {op} | {c['PASS']} | {c['FAIL']} | {c['SKIP']} | {c['UNSUPPORTED']} |")


if __name__ == "__main__":
    main()
