#!/usr/bin/env python3
"""tools/optests/gen_control.py: op tests for the control-flow ops `if` and `loop`.

Semantics (docs/IR.md): regions are self-contained; captured values are passed as
trailing node inputs. Expected outputs are computed here with NumPy, by running the
same computation as plain Python control flow.
Run: /work/venv/bin/python tools/optests/gen_control.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

rng = np.random.default_rng(424242)

IF_TWO_BRANCHES = """graph main(%c: bool[], %x: f32[2,3], %y: f32[2,3]) {
  %o: f32[2,3] = if(%c, %x, %y) {} {
    graph then(%a: f32[2,3], %b: f32[2,3]) {
      %s = add(%a, %b)
      return %s
    }
    graph else(%a2: f32[2,3], %b2: f32[2,3]) {
      %p = mul(%a2, %b2)
      return %p
    }
  }
  return %o
}
"""

# The branches return different shapes: the output's type is only known at run time.
IF_SHAPES_DIFFER = """graph main(%c: bool[], %x: f32[2,3]) {
  %o = if(%c, %x) {} {
    graph then(%a: f32[2,3]) {
      %n = neg(%a)
      return %n
    }
    graph else(%a2: f32[2,3]) {
      %t = transpose(%a2)
      return %t
    }
  }
  return %o
}
"""

LOOP_TRIP_COUNT = """graph main(%m: i64[], %v0: f32[3], %x: f32[3]) {
  %v, %scan = loop(%m, _, %v0, %x) {num_carried=1} {
    graph body(%i: i64[], %cond: bool[], %v_in: f32[3], %x_in: f32[3]) {
      %v_out = add(%v_in, %x_in)
      return %cond, %v_out, %v_out
    }
  }
  return %v, %scan
}
"""

# while (cond): body sets cond' = i < limit, so it runs limit + 1 times; the scan
# output is the iteration number as f32.
LOOP_CONDITION = """graph main(%cond0: bool[], %v0: f32[2], %limit: i64[]) {
  %v, %iters = loop(_, %cond0, %v0, %limit) {num_carried=1} {
    graph body(%i: i64[], %cond: bool[], %v_in: f32[2], %lim: i64[]) {
      %again = less(%i, %lim)
      %v_out = mul(%v_in, %v_in)
      %i_f = cast(%i) {to=f32}
      return %again, %v_out, %i_f
    }
  }
  return %v, %iters
}
"""


def gen_if():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = rng.standard_normal((2, 3)).astype(np.float32)
    for taken in (True, False):
        want = x + y if taken else x * y
        write_case("if", "then" if taken else "else", IF_TWO_BRANCHES, [np.array(taken), x, y], [want])
    for taken in (True, False):
        want = -x if taken else x.T.copy()
        write_case("if", "shapes_differ_" + ("then" if taken else "else"), IF_SHAPES_DIFFER,
                   [np.array(taken), x], [want])


def gen_loop():
    v0 = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal(3).astype(np.float32)
    for trips in (4, 1, 0):
        v = v0.copy()
        scans = []
        for _ in range(trips):
            v = (v + x).astype(np.float32)
            scans.append(v)
        scan = np.stack(scans) if scans else np.zeros((0, 3), np.float32)
        write_case("loop", "trip_count_%d" % trips, LOOP_TRIP_COUNT, [np.array(trips, np.int64), v0, x], [v, scan])

    w0 = np.array([1.5, -0.5], np.float32)
    for cond0, limit in ((True, 2), (False, 2), (True, 0)):
        v, i, iters = w0.copy(), 0, []
        cond = cond0
        while cond:
            cond = i < limit
            v = (v * v).astype(np.float32)
            iters.append(np.float32(i))
            i += 1
        write_case("loop", "condition_%s_limit_%d" % ("true" if cond0 else "false", limit), LOOP_CONDITION,
                   [np.array(cond0), w0, np.array(limit, np.int64)], [v, np.array(iters, np.float32)])


if __name__ == "__main__":
    gen_if()
    gen_loop()
    print("wrote tests/ops/if and tests/ops/loop")
