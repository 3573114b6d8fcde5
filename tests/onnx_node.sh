#!/usr/bin/env bash
# tests/onnx_node.sh: the ONNX backend node tests (../shared/onnx-node, 1,802 cases)
# through the d2rt CLI.
#
# usage: tests/onnx_node.sh [D2RT_BINARY]        (default build/d2rt)
#   env D2RT_NODE_TESTS_DIR    test root (default ../shared/onnx-node, as in CI)
#   env D2RT_NODE_TESTS_ALLOW_FAIL=1   report failures but exit 0 (while kernels land)
#   env D2RT_NODE_TESTS_FILTER=GLOB    only tests whose name matches (e.g. 'test_conv*')
#   env D2RT_NODE_TESTS_VERBOSE=1      print every test's result line
#
# Each test is `model.onnx` + `test_data_set_N/{input,output}_K.pb`. For every data set
# the script runs `d2rt run model.onnx input_*.pb --out TMP` and compares TMP/out<K>.npy
# with output_K.pb (tests/tools/compare_tensors: rtol 1e-3, atol 1e-5, exact for
# integers and bools, NaN == NaN). A test is
#   passed       every data set matches;
#   skipped      its name matches a pattern of tests/onnx_node_skip.txt (each with a
#                reason: training ops, strings, sequences, unsupported types...);
#   unsupported  the importer reports an op (or op domain) d2rt does not import;
#   failed       anything else: wrong values, errors at import or run time, crashes.
# The script fails when any test of a supported op fails (unless ALLOW_FAIL is set).
set -u
d2rt=${1:-build/d2rt}
build_dir=$(dirname "$d2rt")
compare=$build_dir/tests/tools/compare_tensors
root=${D2RT_NODE_TESTS_DIR:-../shared/onnx-node}
skip_file=tests/onnx_node_skip.txt
filter=${D2RT_NODE_TESTS_FILTER:-*}

if [ ! -d "$root" ]; then
  echo "onnx node tests: not run ($root is missing)"
  exit 0
fi
for tool in "$d2rt" "$compare"; do
  if [ ! -x "$tool" ]; then
    echo "onnx node tests: $tool is not built (run make)" >&2
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/d2rt-node.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Skip patterns: "glob reason..." per line; '#' starts a comment.
skip_patterns=()
skip_reasons=()
while read -r pattern reason; do
  case "$pattern" in ''|'#'*) continue;; esac
  skip_patterns+=("$pattern")
  skip_reasons+=("$reason")
done < "$skip_file"

# One test: prints exactly one line "STATUS name detail".
run_one() {
  local dir=$1 name out rc err k n expected actual msg set
  name=$(basename "$dir")
  out=$work/$name
  for set in "$dir"/test_data_set_*; do
    [ -d "$set" ] || continue
    rm -rf "$out"; mkdir -p "$out"
    local inputs=()
    n=$(find "$set" -maxdepth 1 -name 'input_*.pb' | wc -l)
    for ((k = 0; k < n; k++)); do inputs+=("$set/input_$k.pb"); done
    "$d2rt" run "$dir/model.onnx" "${inputs[@]}" --out "$out" >"$out.stdout" 2>"$out.stderr"
    rc=$?
    if [ $rc -ge 128 ]; then
      echo "FAIL $name crashed (exit $rc, signal $((rc - 128)))"
      return
    fi
    if [ $rc -ne 0 ]; then
      msg=$(head -n 1 "$out.stderr")
      # The importer names unsupported ops as "(<domain>::<Op>, opset N): op is not supported"
      # and foreign domains as "operator domain '...' is not supported".
      if [[ "$msg" =~ \(([A-Za-z0-9_.]+)::([A-Za-z0-9_]+),\ opset\ [0-9]+\):\ (op\ is\ not\ supported|operator\ domain) ]]; then
        echo "UNSUPPORTED $name ${BASH_REMATCH[2]}"
      else
        echo "FAIL $name ${msg#d2rt: error: }"
      fi
      return
    fi
    n=$(find "$set" -maxdepth 1 -name 'output_*.pb' | wc -l)
    if [ "$(wc -l < "$out/names.txt")" -ne "$n" ]; then
      echo "FAIL $name produced $(wc -l < "$out/names.txt") outputs, expected $n"
      return
    fi
    for ((k = 0; k < n; k++)); do
      expected=$set/output_$k.pb
      actual=$out/out$k.npy
      if ! msg=$("$compare" "$actual" "$expected" 2>&1); then
        echo "FAIL $name output $k ($(basename "$set")): $msg"
        return
      fi
    done
  done
  rm -rf "$out" "$out.stdout" "$out.stderr"
  echo "PASS $name"
}
export -f run_one
export d2rt compare work

# Classify skips here (cheap), run the rest in parallel.
: > "$work/results"
: > "$work/to_run"
total=0
for dir in "$root"/test_*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  # shellcheck disable=SC2053
  [[ $name == $filter ]] || continue
  total=$((total + 1))
  skipped=""
  for i in "${!skip_patterns[@]}"; do
    # shellcheck disable=SC2053
    if [[ $name == ${skip_patterns[$i]} ]]; then skipped=${skip_reasons[$i]}; break; fi
  done
  if [ -n "$skipped" ]; then
    echo "SKIP $name $skipped" >> "$work/results"
  else
    echo "$dir" >> "$work/to_run"
  fi
done
xargs -P "$(nproc)" -I{} bash -c 'run_one "$1"' _ {} < "$work/to_run" >> "$work/results"
sort -o "$work/results" "$work/results"

passed=$(grep -c '^PASS ' "$work/results")
failed=$(grep -c '^FAIL ' "$work/results")
skipped=$(grep -c '^SKIP ' "$work/results")
unsupported=$(grep -c '^UNSUPPORTED ' "$work/results")

if [ "${D2RT_NODE_TESTS_VERBOSE:-0}" = 1 ]; then
  cat "$work/results"
fi
if [ "$unsupported" -gt 0 ]; then
  echo "unsupported ops ($unsupported tests): $(awk '/^UNSUPPORTED /{print $3}' "$work/results" | sort | uniq -c |
    sort -rn | awk '{printf "%s%s(%d)", sep, $2, $1; sep=" "}')"
fi
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  grep '^FAIL ' "$work/results" | cut -c6- | sed 's/^/  /'
  # Group by the ONNX op the error names ("(Split, opset 20)"), else by the test
  # name's first word (test_convtranspose_pad -> convtranspose).
  echo "failures by op: $(grep '^FAIL ' "$work/results" | awk '{
      op = ""
      if (match($0, /\(([A-Za-z0-9_.]+::)?[A-Za-z0-9]+, opset [0-9]+\)/)) {
        op = substr($0, RSTART + 1, RLENGTH - 2); sub(/, opset.*/, "", op); sub(/.*::/, "", op)
      } else { op = $2; sub(/^test_/, "", op); sub(/_.*/, "", op) }
      print op }' | sort | uniq -c | sort -rn | awk '{printf "%s%s(%d)", sep, $2, $1; sep=" "}')"
fi
echo "onnx node tests: $passed passed, $failed failed, $skipped skipped, $unsupported unsupported-op (of $total)"
if [ "$failed" -gt 0 ] && [ "${D2RT_NODE_TESTS_ALLOW_FAIL:-0}" != 1 ]; then
  exit 1
fi
exit 0
