#!/usr/bin/env python3
"""tools/optests/gen_fused.py: op tests of the fused ops (ir/shape_fused.h).

fused_conv(X, W, B?, R?) {conv attributes, activation} = activation(conv(X, W, B) + R).
Expected outputs come from NumPy: gen_nn.py's float64 conv reference (conv_ref, written
from the ONNX definition), rounded to the input dtype as the unfused conv would be,
then the residual add and the relu, each rounded to the dtype as the separate add
and relu ops round. Run: /work/venv/bin/python tools/optests/gen_fused.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402
from gen_nn import conv_ref, ir_attr, ir_type  # noqa: E402

RNG = np.random.default_rng(20261125)


def rand(shape, dtype=np.float32):
    return RNG.uniform(-1.0, 1.0, size=shape).astype(dtype)


def fused_ref(x, w, b=None, r=None, activation="none", **conv_attrs):
    y = conv_ref(x, w, b, **conv_attrs)  # rounded to x.dtype, like the conv op
    if r is not None:
        y = (y + r).astype(x.dtype)
    if activation == "relu":
        y = np.where(y < 0, np.zeros_like(y), y)
    return y


def fused_case(name, x, w, b=None, r=None, activation="none", tol=None, **conv_attrs):
    params = ["%%x: %s" % ir_type(x), "%%w: %s" % ir_type(w)]
    args = ["%x", "%w"]
    inputs = [x, w]
    if b is not None:
        params.append("%%b: %s" % ir_type(b))
        args.append("%b")
        inputs.append(b)
    elif r is not None:
        args.append("_")
    if r is not None:
        params.append("%%r: %s" % ir_type(r))
        args.append("%r")
        inputs.append(r)
    attrs = dict(conv_attrs)
    if activation != "none":
        attrs["activation"] = activation
    attr_text = " {" + ", ".join("%s=%s" % (k, ir_attr(v)) for k, v in attrs.items()) + "}" if attrs else ""
    text = "graph main(%s) {\n  %%y = fused_conv(%s)%s\n  return %%y\n}\n" % (", ".join(params), ", ".join(args),
                                                                             attr_text)
    y = fused_ref(x, w, b, r, activation, **conv_attrs)
    write_case("fused_conv", name, text, inputs, [y], tol)


def main():
    x = rand((1, 3, 6, 5))
    w = rand((4, 3, 3, 3))
    b = rand((4,))
    fused_case("relu_bias", x, w, b, activation="relu", pads=[1, 1, 1, 1])
    r = rand((1, 4, 6, 5))
    fused_case("residual_relu", x, w, b, r, activation="relu", pads=[1, 1, 1, 1])
    fused_case("residual_no_bias", x, w, None, r, pads=[1, 1, 1, 1])
    r2 = rand((2, 4, 4, 3))
    fused_case("strided_grouped_residual_relu", rand((2, 4, 7, 6)), rand((4, 2, 3, 3)), rand((4,)), r2,
               activation="relu", strides=[2, 2], pads=[1, 1, 1, 0], group=2)
    fused_case("plain", x, w, pads=[0, 0, 0, 0])
    x64 = rand((1, 2, 4, 4), np.float64)
    fused_case("f64_residual_relu", x64, rand((3, 2, 1, 1), np.float64), rand((3,), np.float64),
               rand((1, 3, 4, 4), np.float64), activation="relu")


if __name__ == "__main__":
    main()
