#!/usr/bin/env python3
"""tools/optests/gen_upsample_add.py: op tests of upsample_add (ir/shape_fused2.c).

upsample_add(X, T) {scales} = X + T upsampled by nearest neighbour with integer
factors: Y[n, c, i1..ik] = X[n, c, i1..ik] + T[n, c, i1 // s1, .., ik // sk].
Expected outputs come from NumPy: T is repeated s_i times along each spatial axis
(np.repeat, which is exactly that index rule), then added to X in X's dtype (the
rounding of the add op the fusion replaces). The fused op must match bit for bit,
so every case has tolerance 0 (NaN still matches NaN).
Run: /work/venv/bin/python tools/optests/gen_upsample_add.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402
from gen_nn import ir_attr, ir_type  # noqa: E402

RNG = np.random.default_rng(20261126)


def rand(shape, dtype=np.float32):
    return RNG.uniform(-4.0, 4.0, size=shape).astype(dtype)


def upsample_add_ref(x, t, scales):
    up = t
    for axis, s in enumerate(scales, start=2):
        up = np.repeat(up, s, axis=axis)
    assert up.shape == x.shape
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN on purpose
        return (x + up).astype(x.dtype)


def case(name, x, t, scales, x_dims=None):
    """x_dims: dims to print for X (e.g. '?' for unknown) instead of its shape."""
    text = ("graph main(%%x: %s, %%t: %s) {\n  %%y = upsample_add(%%x, %%t) {scales=%s}\n  return %%y\n}\n"
            % (ir_type(x, x_dims), ir_type(t), ir_attr(list(scales))))
    write_case("upsample_add", name, text, [x, t], [upsample_add_ref(x, t, scales)], (0.0, 0.0))


def main():
    # FPN top-down merge, small: P4 from P5 (2x), channels and batch > 1.
    case("fpn_2x", rand((1, 4, 6, 8)), rand((1, 4, 3, 4)), [2, 2])
    case("batch2_odd_sizes", rand((2, 3, 10, 14)), rand((2, 3, 5, 7)), [2, 2])
    case("scale_1", rand((1, 2, 3, 5)), rand((1, 2, 3, 5)), [1, 1])
    case("mixed_scales", rand((1, 3, 9, 10)), rand((1, 3, 3, 2)), [3, 5])
    case("rank3", rand((2, 3, 10)), rand((2, 3, 5)), [2])
    case("rank5", rand((1, 2, 4, 6, 4)), rand((1, 2, 2, 3, 2)), [2, 2, 2])
    # Rows long enough for the fast kernel's vector loops and several row chunks.
    case("wide_rows", rand((1, 2, 4, 70)), rand((1, 2, 2, 35)), [2, 2])
    # A dim of X unknown at compile time: the shape function takes it from T.
    case("x_dims_unknown", rand((1, 2, 4, 6)), rand((1, 2, 2, 3)), [2, 2], x_dims=["1", "2", "?", "?"])
    # Special values: NaN and infinities propagate as in add, -0 + 0 is +0.
    x = rand((1, 1, 4, 4))
    t = rand((1, 1, 2, 2))
    x[0, 0, 0, 0], t[0, 0, 0, 0] = np.nan, 1.0
    x[0, 0, 0, 2], t[0, 0, 0, 1] = 1.0, np.inf
    x[0, 0, 2, 0], t[0, 0, 1, 0] = np.inf, -np.inf
    x[0, 0, 2, 2], t[0, 0, 1, 1] = -0.0, 0.0
    x[0, 0, 3, 3] = -0.0
    case("special_values", x, t, [2, 2])
    case("f64", rand((1, 2, 4, 6), np.float64), rand((1, 2, 2, 3), np.float64), [2, 2])
    case("f16", rand((1, 2, 4, 6), np.float16), rand((1, 2, 2, 2), np.float16), [2, 3])


if __name__ == "__main__":
    main()
