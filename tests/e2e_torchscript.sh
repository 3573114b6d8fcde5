#!/usr/bin/env bash
# End-to-end: detectron2's real TorchScript exports (../shared/fixtures/detectron2/*/
# {tracing,scripting}_torchscript/model.ts) run through `d2rt run`, compared with
# detectron2 eager on the same input (ref/eager__*, and ref/eager_alt__* on the second
# input, which has another size: the graphs must not be tied to one shape), by
# matching detections (tests/tools/compare_detections.c: class, IoU >= 0.999,
# |score difference| <= 1e-4, ROI mask probabilities within 1e-4, image_size exact).
# The cases run in parallel. Usage: tests/e2e_torchscript.sh BUILD_DIR
set -u
build=${1:-build}
d2rt=$build/d2rt
cmp=$build/tests/tools/compare_detections
fixtures=${D2RT_SHARED:-../shared}/fixtures/detectron2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run_case() { # name model_dir input ref_prefix compare-args...
  local name=$1 dir=$2 input=$3 prefix=$4; shift 4
  local out=$tmp/$name
  if ! "$d2rt" run "$dir/model.ts" "$dir/ref/$input" --out "$out" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")" >"$tmp/$name.result"; return
  fi
  if r=$("$cmp" "$out" "$dir/ref" "$prefix" "$@"); then echo "ok   $name: $r"; else echo "FAIL $name: $r"; fi \
    >"$tmp/$name.result"
}

mr=$fixtures/mask_rcnn/tracing_torchscript
rn=$fixtures/retinanet/tracing_torchscript
sc=$fixtures/mask_rcnn/scripting_torchscript
names="mask_rcnn_tracing mask_rcnn_tracing_alt retinanet_tracing retinanet_tracing_alt mask_rcnn_scripting mask_rcnn_scripting_alt"
run_case mask_rcnn_tracing "$mr" input_image.npy eager__0_instances_ boxes=0 classes=1 masks=2 scores=3 image_size=4 &
run_case mask_rcnn_tracing_alt "$mr" input_image_alt.npy eager_alt__0_instances_ boxes=0 classes=1 masks=2 scores=3 image_size=4 &
run_case retinanet_tracing "$rn" input_image.npy eager__0_instances_ boxes=0 classes=1 scores=2 image_size=3 &
run_case retinanet_tracing_alt "$rn" input_image_alt.npy eager_alt__0_instances_ boxes=0 classes=1 scores=2 image_size=3 &
# scripted: outputs are the dict [0] in key order pred_boxes, scores, pred_classes, pred_masks
run_case mask_rcnn_scripting "$sc" input_image.npy eager__ boxes=0 scores=1 classes=2 masks=3 &
run_case mask_rcnn_scripting_alt "$sc" input_image_alt.npy eager_alt__ boxes=0 scores=1 classes=2 masks=3 &
wait

fail=0
for n in $names; do
  if [ -f "$tmp/$n.result" ]; then cat "$tmp/$n.result"; else echo "FAIL $n: no result"; fi
  grep -q '^ok ' "$tmp/$n.result" 2>/dev/null || fail=1
done
exit $fail
