#!/usr/bin/env bash
# End-to-end: detectron2's real ONNX exports (../shared/fixtures/detectron2/*/tracing_onnx)
# run through `d2rt run`, compared with onnxruntime's outputs on the same file (ort__*),
# by matching detections (tests/tools/compare_detections.c).
# Usage: tests/e2e_detectron2.sh BUILD_DIR
set -u
build=${1:-build}
d2rt=$build/d2rt
cmp=$build/tests/tools/compare_detections
fixtures=${D2RT_SHARED:-../shared}/fixtures/detectron2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

check() { # name model_dir compare-args...
  local name=$1 dir=$2; shift 2
  local out=$tmp/$name
  if ! "$d2rt" run "$dir/model.onnx" "$dir/ref/input_image.npy" --out "$out" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")"; fail=1; return
  fi
  if r=$("$cmp" "$out" "$dir/ref" ort__0_instances_ "$@"); then echo "ok   $name: $r"; else echo "FAIL $name: $r"; fail=1; fi
}

check mask_rcnn_tracing_onnx "$fixtures/mask_rcnn/tracing_onnx" boxes=0 classes=1 masks=2 scores=3 image_size=4
check retinanet_tracing_onnx "$fixtures/retinanet/tracing_onnx" boxes=0 classes=1 scores=2 image_size=3
exit $fail
