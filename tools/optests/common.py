"""tools/optests/common.py: writes one op-test case for build/tests/test_ops.

Usage from a generator script (tools/optests/gen_<family>.py):

    import sys, os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import write_case
    write_case("relu", "basic", GRAPH_TEXT, [x], [np.maximum(x, 0)])

A case is the directory tests/ops/<op>/<case>/ (relative to the repository root,
found from this file's location, so scripts work from any working directory):
    graph.d2ir          the graph in IR text form (docs/IR.md), inputs in order
    in0.npy, in1.npy..  one per graph input, in graph input order
    out0.npy, ...       one per graph output: the expected values
    tol.txt             optional "rtol atol" (default 1e-5 1e-6 for floats)
Expected outputs must come from an independent reference (NumPy, PyTorch), never
from d2rt itself. Re-running a generator rewrites its cases (stale in/out files of
the case are removed first), so generators are idempotent.
"""
import os

import numpy as np

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OPS_DIR = os.path.join(REPO_ROOT, "tests", "ops")

# dtypes the runtime's .npy reader accepts (runtime/npy.c); bf16 has no NumPy dtype.
_SUPPORTED = {"float32", "float16", "float64", "int64", "int32", "int16", "int8",
              "uint8", "uint16", "uint32", "uint64", "bool"}


def _check_name(kind, name):
    if not name or "/" in name or name.startswith(".") or any(c.isspace() for c in name):
        raise ValueError("bad %s name %r (no slashes, spaces or leading dots)" % (kind, name))


def _normalize(array, what):
    """Little-endian, C-contiguous copy of array; rejects dtypes the reader refuses."""
    a = np.asarray(array)
    if a.dtype.name not in _SUPPORTED:
        raise TypeError("%s has dtype %s, which d2rt's .npy reader does not support"
                        % (what, a.dtype))
    # np.asarray(order="C"), not np.ascontiguousarray: the latter turns a 0-d array
    # (a scalar input) into shape (1,).
    return np.asarray(a.astype(a.dtype.newbyteorder("<"), copy=False), order="C")


def case_dir(op, case):
    """Absolute path of tests/ops/<op>/<case>/."""
    _check_name("op", op)
    _check_name("case", case)
    return os.path.join(OPS_DIR, op, case)


def write_case(op, case, graph_text, inputs, outputs, tol=None):
    """Write tests/ops/<op>/<case>/ (graph.d2ir, in<k>.npy, out<k>.npy, tol.txt).

    op, case: directory names; graph_text: IR text whose graph inputs are `inputs`
    in order and whose outputs are `outputs` in order; inputs, outputs: lists of
    numpy arrays (or things np.asarray accepts); tol: None for the default, or
    (rtol, atol). Returns the case directory.
    """
    directory = case_dir(op, case)
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):  # drop stale files from an earlier run
        if name.endswith(".npy") or name == "tol.txt":
            os.remove(os.path.join(directory, name))
    if not graph_text.endswith("\n"):
        graph_text += "\n"
    with open(os.path.join(directory, "graph.d2ir"), "w") as f:
        f.write(graph_text)
    for k, a in enumerate(inputs):
        np.save(os.path.join(directory, "in%d.npy" % k), _normalize(a, "input %d" % k))
    for k, a in enumerate(outputs):
        np.save(os.path.join(directory, "out%d.npy" % k), _normalize(a, "output %d" % k))
    if tol is not None:
        rtol, atol = tol
        with open(os.path.join(directory, "tol.txt"), "w") as f:
            f.write("%r %r\n" % (float(rtol), float(atol)))
    return directory
