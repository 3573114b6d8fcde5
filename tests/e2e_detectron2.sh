#!/usr/bin/env bash
# End-to-end: detectron2's real ONNX exports (../shared/fixtures/detectron2/*/tracing_onnx)
# run through `d2rt run`, compared with onnxruntime's outputs on the same file (ort__*),
# by matching detections (tests/tools/compare_detections.c).
# The opset-11 RoiAlign trap (fixtures README, "Known traps" 1): the Mask R-CNN export
# computes legacy RoIAlign, so by default it must match onnxruntime and not detectron2;
# with --roialign-aligned (at run or at compile time) it must match detectron2 eager
# (eager__*) and no longer onnxruntime.
# Usage: tests/e2e_detectron2.sh BUILD_DIR
set -u
build=${1:-build}
d2rt=$build/d2rt
cmp=$build/tests/tools/compare_detections
fixtures=${D2RT_SHARED:-../shared}/fixtures/detectron2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

# check name model ref_dir ref_prefix "run options" compare-args...
check() {
  local name=$1 model=$2 ref=$3 prefix=$4 opts=$5; shift 5
  local out=$tmp/$name
  # shellcheck disable=SC2086 # opts is a word list
  if ! "$d2rt" run "$model" "$ref/input_image.npy" --out "$out" $opts >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")"; fail=1; return
  fi
  if r=$("$cmp" "$out" "$ref" "$prefix" "$@"); then echo "ok   $name: $r"; else echo "FAIL $name: $r"; fail=1; fi
}
# The same, but the comparison must fail (the outputs are meant to differ).
check_differs() {
  local name=$1 model=$2 ref=$3 prefix=$4 opts=$5; shift 5
  local out=$tmp/$name
  # shellcheck disable=SC2086
  if ! "$d2rt" run "$model" "$ref/input_image.npy" --out "$out" $opts >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")"; fail=1; return
  fi
  if r=$("$cmp" "$out" "$ref" "$prefix" "$@"); then echo "FAIL $name: matched, expected a difference: $r"; fail=1
  else echo "ok   $name (differs as expected): $r"; fi
}

mask=$fixtures/mask_rcnn/tracing_onnx
retina=$fixtures/retinanet/tracing_onnx
mask_args="boxes=0 classes=1 masks=2 scores=3 image_size=4"
# shellcheck disable=SC2086
{
check mask_rcnn_tracing_onnx "$mask/model.onnx" "$mask/ref" ort__0_instances_ "" $mask_args
check retinanet_tracing_onnx "$retina/model.onnx" "$retina/ref" ort__0_instances_ "" boxes=0 classes=1 scores=2 image_size=3
check_differs mask_rcnn_tracing_onnx_vs_eager "$mask/model.onnx" "$mask/ref" eager__0_instances_ "" $mask_args
check mask_rcnn_roialign_aligned_vs_eager "$mask/model.onnx" "$mask/ref" eager__0_instances_ --roialign-aligned $mask_args
check_differs mask_rcnn_roialign_aligned_vs_ort "$mask/model.onnx" "$mask/ref" ort__0_instances_ --roialign-aligned $mask_args
# Compiled with the option, the model.ir carries it.
if "$d2rt" compile "$mask/model.onnx" --roialign-aligned -o "$tmp/mask_aligned.ir" >"$tmp/compile.log" 2>&1; then
  check mask_rcnn_compiled_aligned_vs_eager "$tmp/mask_aligned.ir" "$mask/ref" eager__0_instances_ "" $mask_args
else
  echo "FAIL mask_rcnn_compiled_aligned: d2rt compile: $(tail -1 "$tmp/compile.log")"; fail=1
fi
# RetinaNet has no RoiAlign: the option changes nothing.
check retinanet_roialign_aligned "$retina/model.onnx" "$retina/ref" ort__0_instances_ --roialign-aligned boxes=0 classes=1 scores=2 image_size=3
}
exit $fail
