#!/usr/bin/env bash
# tests/cli.sh: the d2rt command line, happy paths and bad inputs.
#
# usage: tests/cli.sh [D2RT_BINARY]   (default build/d2rt)
# Every bad input must give a non-zero exit below 128 (>= 128 means a signal, i.e. a
# crash) and exactly one stderr line "d2rt: error: ...". Happy paths run the bundled
# example (examples/tiny_convnet.onnx, made by tools/gen_example.py) and compare its
# output with the numpy reference through tests/tools/compare_tensors.
set -u
d2rt=${1:-build/d2rt}
compare=$(dirname "$d2rt")/tests/tools/compare_tensors
model=examples/tiny_convnet.onnx
input=examples/tiny_convnet_input.npy
expected=examples/tiny_convnet_expected.npy
work=$(mktemp -d "${TMPDIR:-/tmp}/d2rt-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_ok NAME CMD...: exit 0, nothing on stderr.
expect_ok() {
  local name=$1; shift
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ $rc -ne 0 ]; then bad "$name: exit $rc: $(head -c 300 "$work/err")"; return 1; fi
  if [ -s "$work/err" ]; then bad "$name: wrote to stderr: $(head -c 300 "$work/err")"; return 1; fi
  ok
}

# expect_error NAME PATTERN CMD...: exit in 1..127, exactly one stderr line
# "d2rt: error: ..." containing PATTERN (an extended regex), nothing else.
expect_error() {
  local name=$1 pattern=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local lines; lines=$(wc -l < "$work/err")
  if [ $rc -eq 0 ]; then bad "$name: succeeded, expected an error"; return 1; fi
  if [ $rc -ge 128 ]; then bad "$name: crashed (exit $rc)"; return 1; fi
  if [ "$lines" -ne 1 ] || ! grep -q '^d2rt: error: ' "$work/err"; then
    bad "$name: expected one 'd2rt: error:' line, got: $(head -c 400 "$work/err")"; return 1
  fi
  if ! grep -Eq -- "$pattern" "$work/err"; then bad "$name: message lacks /$pattern/: $(cat "$work/err")"; return 1; fi
  ok
}

if [ ! -x "$d2rt" ]; then echo "cli tests: $d2rt is not built" >&2; exit 1; fi

# ---- help and usage ----
expect_ok "--help" "$d2rt" --help
grep -q "usage: d2rt" "$work/out" || bad "--help prints usage"
for cmd in compile inspect run; do
  expect_ok "$cmd --help" "$d2rt" "$cmd" --help
  grep -q "usage: d2rt $cmd" "$work/out" || bad "$cmd --help prints its usage"
done
expect_error "no command" "no command" "$d2rt"
expect_error "unknown command" "unknown command 'frobnicate'" "$d2rt" frobnicate
expect_error "unknown option" "unknown option '--bogus'" "$d2rt" run "$model" --bogus
expect_error "run without model" "no model" "$d2rt" run
expect_error "compile without model" "no model" "$d2rt" compile
expect_error "inspect without model" "no model" "$d2rt" inspect

# ---- bad model files ----
: > "$work/empty.onnx"
awk 'BEGIN { srand(7); for (i = 0; i < 4096; i++) printf "%c", int(rand() * 256) }' > "$work/random.bin"
head -c 400 "$model" > "$work/truncated.onnx"
printf 'graph main(%%x: f32[2]) {\n  %%y = relu(%%nope)\n  return %%y\n}\n' > "$work/bad.d2ir"
for cmd in run inspect compile; do
  expect_error "$cmd missing file" "cannot open" "$d2rt" "$cmd" "$work/does-not-exist.onnx"
  expect_error "$cmd empty file" "empty" "$d2rt" "$cmd" "$work/empty.onnx"
  expect_error "$cmd random bytes" "not a model" "$d2rt" "$cmd" "$work/random.bin"
  expect_error "$cmd truncated onnx" "onnx" "$d2rt" "$cmd" "$work/truncated.onnx"
  expect_error "$cmd bad IR text" "ir-text" "$d2rt" "$cmd" "$work/bad.d2ir"
done

# ---- bad inputs to run ----
printf '\x93NUMPY\x01\x00\x10\x00{garbage}      \n' > "$work/bad.npy"
expect_error "no inputs" "takes 1 input.*'x'" "$d2rt" run "$model"
expect_error "too many inputs" "more were given" "$d2rt" run "$model" "$input" "$input"
expect_error "input given twice" "given twice" "$d2rt" run "$model" "x=$input" "x=$input"
expect_error "wrong dtype" "expected dtype f32.*got i64" "$d2rt" run "$model" tests/cli/input_i64.npy
expect_error "wrong shape" "dim 2 must be 8" "$d2rt" run "$model" tests/cli/input_wrong_shape.npy
expect_error "bad npy" "npy" "$d2rt" run "$model" "$work/bad.npy"
expect_error "input not a tensor" "neither .npy nor an ONNX TensorProto" "$d2rt" run "$model" "$work/random.bin"
expect_error "empty input" "empty" "$d2rt" run "$model" "$work/empty.onnx"
expect_error "missing input file" "cannot open" "$d2rt" run "$model" "$work/nothing.npy"
expect_error "--out without dir" "needs a directory" "$d2rt" run "$model" "$input" --out
expect_error "compile onto itself" "is the input model" "$d2rt" compile "$model" -o "$model"

# ---- happy paths ----
if expect_ok "run npy" "$d2rt" run "$model" "$input" --out "$work/o1"; then
  grep -Eq '^probs: f32\[1,2\] min=[0-9.e-]+ max=[0-9.e-]+ mean=0.5$' "$work/out" || bad "run summary line: $(cat "$work/out")"
  [ "$(cat "$work/o1/names.txt")" = "probs" ] || bad "names.txt"
  "$compare" "$work/o1/out0.npy" "$expected" 1e-5 1e-6 >/dev/null || bad "run npy: output differs from numpy"
fi
if expect_ok "run pb, named" "$d2rt" run "$model" "x=tests/cli/input.pb" --out "$work/o2"; then
  "$compare" "$work/o2/out0.npy" "$expected" 1e-5 1e-6 >/dev/null || bad "run pb: output differs from numpy"
fi
if expect_ok "compile" "$d2rt" compile "$model" -o "$work/tiny.ir"; then
  if expect_ok "run compiled" "$d2rt" run "$work/tiny.ir" "$input" --out "$work/o3"; then
    "$compare" "$work/o3/out0.npy" "$expected" 1e-5 1e-6 >/dev/null || bad "run .ir: output differs from numpy"
  fi
  expect_ok "inspect compiled" "$d2rt" inspect "$work/tiny.ir"
fi
(cd "$work" && "$OLDPWD/$d2rt" compile "$OLDPWD/$model" >/dev/null 2>&1) || bad "compile with default name"
[ -f "$work/tiny_convnet.ir" ] || bad "compile default output name is tiny_convnet.ir"
if expect_ok "inspect onnx" "$d2rt" inspect "$model"; then
  grep -q "conv" "$work/out" || bad "inspect shows the conv op"
  # The model's weights are 4*3*3*3 + 4 + 2*4 + 2 = 122 numbers; lowering may add a few.
  params=$(sed -n 's/^# parameters: \([0-9]*\) in.*/\1/p' "$work/out")
  [ "${params:-0}" -ge 122 ] && [ "${params:-0}" -lt 140 ] || bad "inspect parameter count: '$params'"
fi

# ---- compiler flags (docs/PASSES.md): specialization, IR dumps, the memory plan ----
expect_error "compile --size bad" "not HEIGHTxWIDTH" "$d2rt" compile "$model" -o "$work/s.ir" --size 8by8
expect_error "compile --batch bad" "not a batch size" "$d2rt" compile "$model" -o "$work/s.ir" --batch 0
expect_error "compile --dump-after unknown" "unknown pass 'nope'" "$d2rt" compile "$model" -o "$work/s.ir" --dump-after nope
if expect_ok "compile --dump-after dce" "$d2rt" compile "$model" -o "$work/d.ir" --dump-after dce; then
  [ "$(grep -c '^# ---- IR after pass' "$work/out")" -eq 1 ] && grep -q '^# ---- IR after pass dce ----' "$work/out" ||
    bad "--dump-after dce prints the IR once, after dce"
fi
if expect_ok "compile --dump-after all" "$d2rt" compile "$model" -o "$work/d.ir" --dump-after all; then
  grep -q '^# ---- IR after pass fold_constants ----' "$work/out" && grep -q '^# ---- IR after pass memplan ----' "$work/out" ||
    bad "--dump-after all dumps after every pass"
fi
if expect_ok "inspect shows the memory plan" "$d2rt" inspect "$work/d.ir"; then
  grep -Eq '^# activation memory: peak [0-9]+ bytes .* naive sum [0-9]+ bytes' "$work/out" ||
    bad "inspect prints the planned peak and the naive sum"
fi
expect_error "run model.ir --size" "already compiled" "$d2rt" run "$work/d.ir" --size 8x8

# ---- broken TorchScript archives: one error line, never a crash ----
# Cut from a real torch.jit.trace archive (linear_trace); the pickle and code defects
# are tests/data/torchscript_bad/ (tools/make_ts_bad_fixtures.py).
ts=tests/data/torchscript_ops/linear_trace/model.ts
ts_size=$(stat -c %s "$ts")
head -c $((ts_size / 2)) "$ts" >"$work/truncated.ts"
expect_error "truncated .ts" "zip: no end-of-central-directory" "$d2rt" compile "$work/truncated.ts" -o "$work/t.ir"
cp "$ts" "$work/corrupt.ts"
printf 'XXXXXXXXXXXXXXXX' | dd of="$work/corrupt.ts" bs=1 seek=700 conv=notrunc 2>/dev/null # inside data.pkl
expect_error "corrupt .ts" "data.pkl': CRC32 .* does not match" "$d2rt" compile "$work/corrupt.ts" -o "$work/t.ir"
expect_error ".ts pickle with an unknown global" "pickle global 'os.system' is not supported" \
  "$d2rt" compile tests/data/torchscript_bad/unknown_global.ts -o "$work/t.ir"
expect_error ".ts code outside the TorchScript subset" "code/__torch__.py:19:11: expected an expression" \
  "$d2rt" compile tests/data/torchscript_bad/unsupported_construct.ts -o "$work/t.ir"

# ---- environment ----
D2RT_BUFFER_CACHE_MB=lots expect_error "bad D2RT_BUFFER_CACHE_MB" "D2RT_BUFFER_CACHE_MB: 'lots' is not a number of MiB" \
  "$d2rt" run "$model" "$input"

# ---- bench ----
expect_ok "bench model" "$d2rt" bench "$model" "$input" --iters 2 --warmup 1 --threads 1
grep -Eq "^latency: min [0-9.]+ ms, median [0-9.]+ ms" "$work/out" || bad "bench prints the latency"
grep -Eq "^peak memory: [0-9.]+ MB RSS" "$work/out" || bad "bench prints the peak memory"
grep -q "^op  *count" "$work/out" && bad "bench without --profile prints no per-op table"
expect_ok "bench --profile" "$d2rt" bench "$model" "$input" --iters 1 --threads 1 --profile
grep -Eq "^(fused_)?conv +[0-9]+ +[0-9.]+ +[0-9.]+% +[0-9.]+ +[0-9.]+%" "$work/out" ||
  bad "bench --profile lists conv with GFLOP/s and % of peak: $(head -c 600 "$work/out")"
grep -Eq "^FP32 peak \(FMA loop, 1 thread\): [0-9.]+ GFLOP/s" "$work/out" || bad "bench --profile states the peak"
expect_ok "bench --kernel conv" "$d2rt" bench --kernel conv --shape 1,8,9,9,8,3,3,1,1 --iters 3 --threads 1
grep -q "GFLOP/s" "$work/out" || bad "bench --kernel prints GFLOP/s"
expect_error "bench without a model" "nothing to benchmark" "$d2rt" bench
expect_error "bench with a missing input" "the model takes 1 inputs, 0 given" "$d2rt" bench "$model"
expect_error "bench --kernel with a bad shape" "shape" "$d2rt" bench --kernel conv --shape 1,2
expect_error "bench unknown option" "unknown option '--fast'" "$d2rt" bench "$model" "$input" --fast

echo "cli tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
