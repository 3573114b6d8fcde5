#!/usr/bin/env bash
# End-to-end predictor path: `d2rt run MODEL IMAGE` (decode, EXIF, ResizeShortestEdge, model,
# detector_postprocess) must reproduce detectron2's DefaultPredictor answers in
# ../shared/fixtures/predictor/<model>/<stem>/ (tests/tools/compare_instances.c: detections
# matched by class, boxes within 2e-2 px, scores within 1e-5, masks: <= 1% of the true
# pixels differ; tolerances from the fixtures README).
#   - ONNX tracing exports (input fixed at 3x375x320: grace_hopper only): mask_rcnn with
#     --roialign-aligned (the opset-11 export lost aligned=True; DefaultPredictor has it),
#     retinanet; also through a model.ir compiled with the metadata flags.
#   - Caffe2 faster_rcnn NetDef: its boxes/scores/classes equal mask_rcnn's (same weights,
#     fixtures README), on both images; padding with the pixel mean (default) equals
#     DefaultPredictor, zero padding (Caffe2's own convention) must differ; a batch of
#     images (the Caffe2 frontend's per-image batch_splits) gives each image exactly its
#     one-by-one answer.
#   - the demo model (examples/shapes_maskrcnn.{onnx,ir}, torchvision) against onnxruntime;
#   - --json / --vis / --score-thresh produce their files and filter; argument errors.
#   - TorchScript exports (tracing: both models, both images; scripting: mask_rcnn) and the
#     caffe2_tracing ONNX export; TorchScript cases are skipped when the frontend cannot
#     load the file.
# Usage: tests/e2e_predictor.sh BUILD_DIR
set -u
build=${1:-build}
d2rt=$build/d2rt
cmp=$build/tests/tools/compare_instances
shared=${D2RT_SHARED:-../shared}/fixtures
images=$shared/predictor/images
pred=$shared/predictor
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
size="--min-size 320 --max-size 512"   # the fixtures' INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST

# check name "run args" out_subdir ref_dir compare-args...
check() {
  local name=$1 args=$2 sub=$3 ref=$4; shift 4
  local out=$tmp/$name
  # shellcheck disable=SC2086 # args is a word list
  if ! "$d2rt" run $args --out "$out" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")"; fail=1; return
  fi
  if r=$("$cmp" "$out/$sub" "$ref" "$@"); then echo "ok   $name: $r"; else echo "FAIL $name: $r"; fail=1; fi
}
check_differs() {
  local name=$1 args=$2 sub=$3 ref=$4; shift 4
  local out=$tmp/$name
  # shellcheck disable=SC2086
  if ! "$d2rt" run $args --out "$out" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")"; fail=1; return
  fi
  if r=$("$cmp" "$out/$sub" "$ref" "$@"); then echo "FAIL $name: matched, expected a difference: $r"; fail=1
  else echo "ok   $name (differs as expected): $r"; fi
}

gh=$images/grace_hopper.jpg
flip=$images/grace_hopper_fliprot90.png
mask_onnx=$shared/detectron2/mask_rcnn/tracing_onnx/model.onnx
retina_onnx=$shared/detectron2/retinanet/tracing_onnx/model.onnx
c2=$shared/detectron2-caffe2/faster_rcnn/caffe2/model.pb

check mask_rcnn_onnx_grace_hopper "$mask_onnx $gh $size --roialign-aligned" 0 "$pred/mask_rcnn/grace_hopper"
check retinanet_onnx_grace_hopper "$retina_onnx $gh $size" 0 "$pred/retinanet/grace_hopper"
# Without --roialign-aligned the ONNX file computes legacy RoIAlign: not DefaultPredictor.
check_differs mask_rcnn_onnx_legacy_roialign "$mask_onnx $gh $size" 0 "$pred/mask_rcnn/grace_hopper"

# A model.ir compiled with the metadata needs no flags at run time.
if "$d2rt" compile "$mask_onnx" --roialign-aligned $size -o "$tmp/mask.ir" >"$tmp/compile.log" 2>&1; then
  check mask_rcnn_ir_grace_hopper "$tmp/mask.ir $gh" 0 "$pred/mask_rcnn/grace_hopper"
  if ! "$d2rt" inspect "$tmp/mask.ir" | grep -q '^meta "min_size" = "320"'; then
    echo "FAIL mask_rcnn_ir_metadata: inspect does not show min_size 320"; fail=1
  else echo "ok   mask_rcnn_ir_metadata"; fi
else
  echo "FAIL mask_rcnn_ir: d2rt compile: $(tail -1 "$tmp/compile.log")"; fail=1
fi
# The fixed 375x320 input refuses an image of another size with a clear message.
if "$d2rt" run "$mask_onnx" "$flip" $size >"$tmp/fixed.log" 2>&1 || ! grep -q 'fixed shape' "$tmp/fixed.log"; then
  echo "FAIL onnx_fixed_shape_error: $(tail -1 "$tmp/fixed.log")"; fail=1
else echo "ok   onnx_fixed_shape_error"; fi

for stem in grace_hopper grace_hopper_fliprot90; do
  img=$gh; [ $stem = grace_hopper ] || img=$flip
  check caffe2_faster_rcnn_$stem "$c2 $img $size" 0 "$pred/mask_rcnn/$stem" boxes_only
done
check_differs caffe2_faster_rcnn_zero_pad "$c2 $gh $size --pad-value zero" 0 "$pred/mask_rcnn/grace_hopper" boxes_only
# A batch: images of equal padded size share a run (grace_hopper and a halved mirror of it,
# tools/make_predictor_batch_image.py, both 375x320 -> 384x320), the fliprot90 image runs
# alone; every answer must equal the one-by-one run exactly.
mirror=tests/data/predictor/grace_hopper_half_mirror.png
# shellcheck disable=SC2086
if ! "$d2rt" run "$c2" "$mirror" $size --out "$tmp/caffe2_mirror_alone" >"$tmp/mirror.log" 2>&1; then
  echo "FAIL caffe2_mirror_alone: d2rt run: $(tail -1 "$tmp/mirror.log")"; fail=1
fi
check caffe2_batch_0 "$c2 $gh $mirror $flip $size" 0 "$pred/mask_rcnn/grace_hopper" boxes_only
if grep -q '^# batch of 2 (padded 384 x 320): images 0 1$' "$tmp/caffe2_batch_0.log"; then
  echo "ok   caffe2_batch_ran_as_batch"; else echo "FAIL caffe2_batch_ran_as_batch: no batch of 2"; fail=1; fi
for pair in "0 caffe2_faster_rcnn_grace_hopper" "1 caffe2_mirror_alone" "2 caffe2_faster_rcnn_grace_hopper_fliprot90"; do
  set -- $pair  # shellcheck disable=SC2086
  if r=$("$cmp" "$tmp/caffe2_batch_0/$1" "$tmp/$2/0" same); then echo "ok   caffe2_batch_image_$1 == alone: $r"
  else echo "FAIL caffe2_batch_image_$1 == alone: $r"; fail=1; fi
done

# TorchScript exports (shape-generic: both images), when the frontend loads them.
for model in mask_rcnn retinanet; do
  ts=$shared/detectron2/$model/tracing_torchscript/model.ts
  if ! "$d2rt" inspect "$ts" >/dev/null 2>&1; then
    echo "skip $model tracing_torchscript: d2rt could not load this TorchScript model"; continue
  fi
  check ${model}_ts_grace_hopper "$ts $gh $size" 0 "$pred/$model/grace_hopper"
  check ${model}_ts_fliprot90 "$ts $flip $size" 0 "$pred/$model/grace_hopper_fliprot90"
done

# scripting (outputs named after the Instances fields, no image_size), shape-generic
ts=$shared/detectron2/mask_rcnn/scripting_torchscript/model.ts
if "$d2rt" inspect "$ts" >/dev/null 2>&1; then
  check mask_rcnn_scripting_fliprot90 "$ts $flip $size" 0 "$pred/mask_rcnn/grace_hopper_fliprot90"
else
  echo "skip mask_rcnn scripting_torchscript: d2rt cannot load it"
fi
# the caffe2_tracing ONNX export (org.pytorch._caffe2 ops, inputs x.1/x.3 fixed at 384x320)
check caffe2_onnx_grace_hopper "$shared/detectron2-caffe2/faster_rcnn/onnx/model.onnx $gh $size" 0 \
  "$pred/mask_rcnn/grace_hopper" boxes_only

# The demo model (examples/, torchvision Mask R-CNN ONNX: the graph resizes and normalises,
# d2rt feeds the RGB picture / 255) against onnxruntime's outputs on the same input
# (tests/data/predictor/shapes/, tools/make_shapes_predictor_ref.py), from the ONNX file
# and from the committed model.ir that carries the class names. A stale model.ir (the
# artifact format changed) fails here: rebuild it with
#   build/d2rt compile examples/shapes_maskrcnn.onnx --classes examples/classes.txt -o examples/shapes_maskrcnn.ir
check shapes_onnx "examples/shapes_maskrcnn.onnx examples/shapes.png --classes examples/classes.txt" 0 \
  tests/data/predictor/shapes box_tol=1e-3 score_tol=1e-5 mask_frac=0.001 min_match=1
check shapes_ir "examples/shapes_maskrcnn.ir examples/shapes.png --vis $tmp/shapes_vis.png" 0 \
  tests/data/predictor/shapes box_tol=1e-3 score_tol=1e-5 mask_frac=0.001 min_match=1
if grep -q '  circle  ' "$tmp/shapes_ir.log" && [ -s "$tmp/shapes_vis.png" ]; then echo "ok   shapes_ir_names_and_vis"
else echo "FAIL shapes_ir_names_and_vis: no class names in the table or no picture"; fail=1; fi

# Bad arguments: one error line each, non-zero exit.
expect_error() {
  local name=$1 needle=$2; shift 2
  if "$d2rt" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then echo "FAIL $name: succeeded"; fail=1; return; fi
  if [ "$(wc -l <"$tmp/$name.err")" -eq 1 ] && grep -q "^d2rt: error: .*$needle" "$tmp/$name.err"; then
    echo "ok   $name"; else echo "FAIL $name: $(cat "$tmp/$name.err")"; fail=1; fi
}
expect_error bad_pad_value "expected mean or zero" run "$retina_onnx" "$gh" --pad-value half
expect_error bad_format 'input_format = "YUV"' run "$retina_onnx" "$gh" --format YUV
expect_error bad_min_size "expected an integer" run "$retina_onnx" "$gh" --min-size big
expect_error image_and_npy "not a JPEG or PNG" run "$retina_onnx" "$gh" \
  "$shared/detectron2/retinanet/tracing_onnx/ref/input_image.npy"
expect_error bad_outputs "names 2 outputs, the model has 4" run "$retina_onnx" "$gh" --outputs boxes,scores
expect_error missing_classes_file "cannot read" compile "$retina_onnx" --classes "$tmp/nonexistent.txt" -o "$tmp/x.ir"

# Output files: --json, --vis, --score-thresh.
if "$d2rt" run "$retina_onnx" "$gh" $size --score-thresh 0.25 --json "$tmp/r.json" --vis "$tmp/r.png" \
     --out "$tmp/thresh" >"$tmp/files.log" 2>&1 \
   && [ -s "$tmp/r.png" ] && grep -q '"category_id"' "$tmp/r.json" \
   && n=$(grep -o '"score"' "$tmp/r.json" | wc -l) && [ "$n" -gt 0 ] && [ "$n" -lt 100 ]; then
  echo "ok   json_vis_score_thresh: $n detections above 0.25"
else
  echo "FAIL json_vis_score_thresh: $(tail -1 "$tmp/files.log")"; fail=1
fi
exit $fail
