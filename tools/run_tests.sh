#!/usr/bin/env bash
# Runs every test suite of `make test`. Usage: tools/run_tests.sh BUILD_DIR
# Each suite prints its own summary; the script fails if any suite fails.
set -u
build=${1:-build}
fail=0
run() { echo "== $*"; "$@" || { echo "FAILED: $*"; fail=1; }; }

for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.d) continue;; esac
  run env D2RT_BUILD="$build" "$t"
done
[ -x tests/cli.sh ] && run tests/cli.sh "$build/d2rt"
[ -x tests/onnx_node.sh ] && run tests/onnx_node.sh "$build/d2rt"
# End-to-end suites over real exported models (../shared/fixtures), one script each.
for e in tests/e2e_*.sh; do
  [ -x "$e" ] && run "$e" "$build"
done
exit $fail
