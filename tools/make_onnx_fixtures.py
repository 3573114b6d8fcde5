#!/usr/bin/env python3
"""tools/make_onnx_fixtures.py: small ONNX models for tests/unit/test_onnx_import.c.

Writes into tests/data/onnx/ (run from the repo root with /work/venv/bin/python):
  external_data.onnx + external_data.bin   initializer W stored outside the model
                                           (offset 16, explicit length); W.npy = W
  external_missing.onnx                    external data file that does not exist
  external_traversal.onnx                  external location '../outside.bin'
  if_capture.onnx                          If whose branches read outer values
  loop_capture.onnx                        Loop whose body (and an If nested in it)
                                           reads outer values
  opset9.onnx                              opset-9 forms of Upsample, Slice, Softmax,
                                           Squeeze/Unsqueeze, ReduceSum, Pad, Clip,
                                           TopK, Split, Dropout (with an internal
                                           mask, float before opset 10)
  unknown_op.onnx                          a node 'mystery' of op type FrobnicateX
  deep_nesting.onnx                        If bodies nested 20 deep (limit: 16)
  pb_<test>_<file>.npy                     node-test TensorProtos (../shared/onnx-node)
                                           decoded by onnx.numpy_helper, to check
                                           d2_onnx_parse_tensor against
For each runnable model, <name>.in<k>.npy are its inputs and <name>.out<k>.npy the
outputs computed by onnxruntime (an independent reference).
"""
import os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "onnx")
rng = np.random.default_rng(20240601)


def save(model, name, inputs=None):
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(model, path)
    if inputs is None:
        return
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {i.name: v for i, v in zip(sess.get_inputs(), inputs)}
    outs = sess.run(None, feed)
    for k, v in enumerate(inputs):
        np.save(os.path.join(OUT, f"{name}.in{k}.npy"), v)
    for k, v in enumerate(outs):
        np.save(os.path.join(OUT, f"{name}.out{k}.npy"), np.asarray(v))


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def external_models():
    w = (np.arange(6, dtype=np.float32) * 0.5 - 1.0).reshape(2, 3)
    np.save(os.path.join(OUT, "W.npy"), w)
    with open(os.path.join(OUT, "external_data.bin"), "wb") as f:
        f.write(b"\xAB" * 16)  # padding before the tensor: exercises the offset
        f.write(w.tobytes())

    def model(location, offset="16"):
        t = TensorProto()
        t.name = "W"
        t.data_type = TensorProto.FLOAT
        t.dims.extend([2, 3])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", offset), ("length", str(w.nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        g = helper.make_graph([helper.make_node("Add", ["x", "W"], ["y"], name="add")], "ext",
                              [f32("x", [2, 3])], [f32("y", [2, 3])], [t])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])

    m = model("external_data.bin")
    onnx.save(m, os.path.join(OUT, "external_data.onnx"))  # checker would need the file path
    np.save(os.path.join(OUT, "external_data.in0.npy"), rng.standard_normal((2, 3)).astype(np.float32))
    np.save(os.path.join(OUT, "external_data.out0.npy"), np.load(os.path.join(OUT, "external_data.in0.npy")) + w)
    onnx.save(model("missing.bin"), os.path.join(OUT, "external_missing.onnx"))
    onnx.save(model("../outside.bin"), os.path.join(OUT, "external_traversal.onnx"))


def if_capture():
    # outer: a = Relu(x); If(cond): then y = a + x*k (k an outer initializer); else y = -a
    k = numpy_helper.from_array(np.array([2.0, 3.0, 4.0], np.float32), "k")
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["xk"]),
                                helper.make_node("Add", ["a", "xk"], ["t_out"])],
                               "then_body", [], [f32("t_out", [3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["a"], ["e_out"])], "else_body", [], [f32("e_out", [3])])
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)]
    g = helper.make_graph(nodes, "if_capture",
                          [f32("x", [3]), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                          [f32("y", [3])], [k])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    save(m, "if_capture", [np.array([-1.0, 0.5, 2.0], np.float32), np.array(True)])


def loop_capture():
    # outer: w = Relu(x). Loop M times: v = v + w; if (i > 0): s = v * 2 else s = v
    # (the nested If reads both the body's v and the outer w).
    then_g = helper.make_graph([helper.make_node("Mul", ["v_new", "two"], ["s_t"]),
                                helper.make_node("Add", ["s_t", "w"], ["s_then"])],
                               "inner_then", [], [f32("s_then", [2])])
    else_g = helper.make_graph([helper.make_node("Identity", ["v_new"], ["s_else"])], "inner_else", [],
                               [f32("s_else", [2])])
    body = helper.make_graph(
        [helper.make_node("Add", ["v_in", "w"], ["v_new"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Greater", ["i", "zero"], ["positive"]),
         helper.make_node("If", ["positive"], ["scan"], then_branch=then_g, else_branch=else_g)],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), f32("v_in", [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), f32("v_new", [2]), f32("scan", [2])])
    nodes = [helper.make_node("Relu", ["x"], ["w"]),
             helper.make_node("Loop", ["M", "", "v0"], ["v_final", "scans"], name="loop", body=body)]
    inits = [numpy_helper.from_array(np.array(3, np.int64), "M"),
             numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    g = helper.make_graph(nodes, "loop_capture", [f32("x", [2]), f32("v0", [2])],
                          [f32("v_final", [2]), f32("scans", [3, 2])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    save(m, "loop_capture", [np.array([1.0, -2.0], np.float32), np.array([0.5, 0.25], np.float32)])


def opset9():
    n = helper.make_node
    nodes = [
        n("Upsample", ["x", "scales"], ["up"], mode="nearest"),                  # [1,2,4,6]
        n("Slice", ["up"], ["sl"], starts=[1, 0], ends=[3, 5], axes=[2, 3]),     # [1,2,2,5]
        n("Softmax", ["sl"], ["sm"], axis=2),                                    # 2-D coercion at axis 2
        n("Squeeze", ["sm"], ["sq"], axes=[0]),                                  # [2,2,5]
        n("Unsqueeze", ["sq"], ["us"], axes=[1]),                                # [2,1,2,5]
        n("ReduceSum", ["us"], ["rs"], axes=[3], keepdims=0),                    # [2,1,2]
        n("Pad", ["x"], ["pd"], pads=[0, 0, 1, 0, 0, 0, 0, 2], value=1.5),       # [1,2,3,5]
        n("Clip", ["pd"], ["cl"], min=-0.5, max=0.5),
        n("TopK", ["cl"], ["tv", "ti"], k=2, axis=3),
        n("Split", ["cl"], ["s0", "s1"], axis=3, split=[2, 3]),
        n("Dropout", ["s1"], ["dr", "mask"], ratio=0.3),
        n("Softmax", ["s0"], ["sm_last"], axis=3),                               # axis = last dim
    ]
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    outs = [f32("rs", [2, 1, 2]), f32("tv", [1, 2, 3, 2]),
            helper.make_tensor_value_info("ti", TensorProto.INT64, [1, 2, 3, 2]), f32("dr", [1, 2, 3, 3]),
            f32("sm_last", [1, 2, 3, 2])]
    # The mask stays internal: onnxruntime returns zeros for an opset < 10 inference
    # mask, ONNX's reference all ones (nothing dropped); the unit test checks the IR.
    g = helper.make_graph(nodes, "opset9", [f32("x", [1, 2, 2, 3])], outs, [scales])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)])
    m.ir_version = 4
    save(m, "opset9", [rng.standard_normal((1, 2, 2, 3)).astype(np.float32)])


def unknown_op():
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="first"),
                           helper.make_node("FrobnicateX", ["r"], ["y"], name="mystery")],
                          "unknown", [f32("x", [2])], [f32("y", [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, os.path.join(OUT, "unknown_op.onnx"))


def deep_nesting(levels=20):
    def leaf(name):  # else branches stay flat so the file grows linearly
        return helper.make_graph([helper.make_node("Identity", ["x"], [name])], name + "_g", [], [f32(name, [1])])
    body = leaf("out0")
    for level in range(1, levels):
        node = helper.make_node("If", ["c"], [f"out{level}"], then_branch=body, else_branch=leaf(f"e{level}"))
        body = helper.make_graph([node], f"level{level}", [], [f32(f"out{level}", [1])])
    top = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=leaf("e_top"))
    g = helper.make_graph([top], "deep", [f32("x", [1]), helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                          [f32("y", [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, os.path.join(OUT, "deep_nesting.onnx"))


def node_test_tensors():
    shared = os.environ.get("D2RT_SHARED", os.path.join(os.path.dirname(OUT), "..", "..", "..", "shared"))
    for test, file in (("test_abs", "input_0"), ("test_and2d", "input_0"),
                       ("test_argmax_default_axis_example", "output_0"),
                       ("test_cast_FLOAT_to_FLOAT16", "output_0"), ("test_cast_FLOAT_to_DOUBLE", "output_0")):
        t = TensorProto()
        with open(os.path.join(shared, "onnx-node", test, "test_data_set_0", file + ".pb"), "rb") as f:
            t.ParseFromString(f.read())
        np.save(os.path.join(OUT, f"pb_{test}_{file}.npy"), numpy_helper.to_array(t))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    external_models()
    if_capture()
    loop_capture()
    opset9()
    unknown_op()
    deep_nesting()
    node_test_tensors()
    print("wrote", sorted(os.listdir(OUT)))
