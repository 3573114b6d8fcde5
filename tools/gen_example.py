#!/usr/bin/env python3
"""tools/gen_example.py: the small bundled example model under examples/.

Writes
  examples/tiny_convnet.onnx           a tiny conv net (opset 13):
      x f32[1,3,8,8] -> Conv 3->4 (3x3, pad 1) + bias -> Relu -> MaxPool 2x2
        -> GlobalAveragePool -> Flatten -> Gemm 4->2 -> Softmax -> probs f32[1,2]
  examples/tiny_convnet_input.npy      a fixed input
  examples/tiny_convnet_expected.npy   the expected output, computed with plain numpy
                                       (independently of d2rt and of onnxruntime)
  tests/cli/                           inputs for tests/cli.sh: the input as an ONNX
                                       TensorProto, and wrong-dtype / wrong-shape inputs
Run from the repository root:  /work/venv/bin/python tools/gen_example.py
Deterministic (fixed seed); the files are committed, so the build never needs Python.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = "examples"


def reference(x, w, b, gw, gb):
    """The same network in numpy, written from the op definitions."""
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((n, m, h, wd), dtype=np.float64)
    for i in range(h):
        for j in range(wd):
            patch = xp[:, :, i:i + kh, j:j + kw].astype(np.float64)
            conv[:, :, i, j] = np.einsum("nckl,mckl->nm", patch, w.astype(np.float64))
    conv += b.reshape(1, m, 1, 1)
    relu = np.maximum(conv, 0)
    pooled = relu.reshape(n, m, h // 2, 2, wd // 2, 2).max(axis=(3, 5))
    gap = pooled.mean(axis=(2, 3))
    logits = gap @ gw.astype(np.float64).T + gb
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def main():
    rng = np.random.default_rng(20261125)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.5
    b = rng.standard_normal(4).astype(np.float32) * 0.1
    gw = rng.standard_normal((2, 4)).astype(np.float32)
    gb = np.array([0.25, -0.25], dtype=np.float32)
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)

    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["conv"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu1"),
        helper.make_node("MaxPool", ["relu"], ["pool"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["pool"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "gw", "gb"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 2])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
                     numpy_helper.from_array(gw, "gw"), numpy_helper.from_array(gb, "gb")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="d2rt-tools")
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(OUT, exist_ok=True)
    onnx.save(model, os.path.join(OUT, "tiny_convnet.onnx"))
    np.save(os.path.join(OUT, "tiny_convnet_input.npy"), x)
    np.save(os.path.join(OUT, "tiny_convnet_expected.npy"), reference(x, w, b, gw, gb))

    cli = os.path.join("tests", "cli")
    os.makedirs(cli, exist_ok=True)
    with open(os.path.join(cli, "input.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    np.save(os.path.join(cli, "input_i64.npy"), np.arange(3 * 64, dtype=np.int64).reshape(1, 3, 8, 8))
    np.save(os.path.join(cli, "input_wrong_shape.npy"), np.zeros((1, 3, 4, 4), dtype=np.float32))

    # Cross-check the numpy reference against onnxruntime when it is available.
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(os.path.join(OUT, "tiny_convnet.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"x": x})[0]
        assert np.allclose(got, reference(x, w, b, gw, gb), rtol=1e-5, atol=1e-6), (got, reference(x, w, b, gw, gb))
    except ImportError:
        pass
    print("wrote", OUT + "/tiny_convnet.onnx", "and its input/expected output")


if __name__ == "__main__":
    main()
