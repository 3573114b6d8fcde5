#!/usr/bin/env bash
# End-to-end: detectron2's real TorchScript exports (../shared/fixtures/detectron2/*/
# {tracing,scripting}_torchscript/model.ts) run through `d2rt run`, compared with
# detectron2 eager on the same input (ref/eager__*, and ref/eager_alt__* on the second
# input, which has another size: the graphs must not be tied to one shape), by
# matching detections (tests/tools/compare_detections.c: class, IoU >= 0.999,
# |score difference| <= 1e-4, ROI mask probabilities within 1e-4, image_size exact).
# Batches through the scripted model (`d2rt run model.ts a.npy b.npy`: one ImageList of
# both, padded to the larger, as detectron2 does): images of one padded size must give
# each image's single answers; with input_image + input_image_alt, image 0 (the
# larger) gives its single answers and image 1 matches PyTorch running the same batch
# (tests/data/torchscript_models/d2_mask_rcnn_scripting_batch2, from
# tools/make_ts_batch_refs.py; padding moves the smaller image's scores by ~7e-4).
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

# A batch: run_batch_case name model_dir "input input..." then, per check,
# "ref_dir ref_prefix compare-args..." separated by ';'.
run_batch_case() {
  local name=$1 dir=$2 inputs=$3 checks=$4 out=$tmp/$1 args=() r ok=1 summary=""
  for i in $inputs; do args+=("$dir/ref/$i"); done
  if ! "$d2rt" run "$dir/model.ts" "${args[@]}" --out "$out" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")" >"$tmp/$name.result"; return
  fi
  IFS=';' read -ra parts <<<"$checks"
  for c in "${parts[@]}"; do
    # shellcheck disable=SC2086
    set -- $c
    if r=$("$cmp" "$out" "$@"); then summary+=" [$2] $r"; else ok=0; summary+=" [$2] $r"; fi
  done
  if [ $ok = 1 ]; then echo "ok   $name:$summary"; else echo "FAIL $name:$summary"; fi >"$tmp/$name.result"
}

# Held-out torchvision exports (tests/data/torchscript_models/tv_*, from
# tools/make_ts_rcnn_fixtures.py): PyTorch's outputs in ref_<field>.npy. Which out<K>.npy
# holds which field is read from the run's names.txt (its paths end in the dict key,
# e.g. [1][0].boxes), so the test does not depend on the flattening order; the refs are
# linked as ref<K>.npy for compare_detections --ref-indexed.
run_tv_case() { # name model_dir
  local name=$1 dir=$2 out=$tmp/$1 refs=$tmp/$1.refs args=() k=0 path field r
  if ! "$d2rt" run "$dir/model.ts" "$dir/input_0.npy" --out "$out" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")" >"$tmp/$name.result"; return
  fi
  mkdir -p "$refs"
  # scripted: a dict, its fields named in --out's names.txt; traced: a tuple ([0], [1], ...)
  # in the order of the fixture's names.txt
  local -a fields; mapfile -t fields <"$dir/names.txt"
  while read -r path; do
    field=${path##*.}
    case "$field" in \[*) field=${fields[$k]};; esac
    case "$field" in
      boxes) args+=("boxes=$k");;
      labels) args+=("classes=$k");;
      scores) args+=("scores=$k");;
      masks) args+=("extra=$k:1e-4");;
      keypoints) args+=("extra=$k:1e-2");;
      keypoints_scores) args+=("extra=$k:1e-3");;
      *) echo "FAIL $name: unknown output '$path'" >"$tmp/$name.result"; return;;
    esac
    ln -s "$(cd "$dir" && pwd)/ref_$field.npy" "$refs/ref$k.npy"
    k=$((k + 1))
  done <"$out/names.txt"
  if r=$("$cmp" "$out" "$refs" ref "${args[@]}" --ref-indexed); then echo "ok   $name: $r"; else echo "FAIL $name: $r"; fi \
    >"$tmp/$name.result"
}

mr=$fixtures/mask_rcnn/tracing_torchscript
rn=$fixtures/retinanet/tracing_torchscript
sc=$fixtures/mask_rcnn/scripting_torchscript
b2=tests/data/torchscript_models/d2_mask_rcnn_scripting_batch2
names="mask_rcnn_tracing mask_rcnn_tracing_alt retinanet_tracing retinanet_tracing_alt mask_rcnn_scripting mask_rcnn_scripting_alt"
names="$names mask_rcnn_scripting_batch2 mask_rcnn_scripting_batch2_same_size"
tv=tests/data/torchscript_models
names="$names tv_retinanet_script tv_faster_rcnn_script tv_keypoint_rcnn_script tv_mask_rcnn_script"
names="$names tv_retinanet_trace tv_faster_rcnn_trace tv_keypoint_rcnn_trace tv_mask_rcnn_trace"
run_case mask_rcnn_tracing "$mr" input_image.npy eager__0_instances_ boxes=0 classes=1 masks=2 scores=3 image_size=4 &
run_case mask_rcnn_tracing_alt "$mr" input_image_alt.npy eager_alt__0_instances_ boxes=0 classes=1 masks=2 scores=3 image_size=4 &
run_case retinanet_tracing "$rn" input_image.npy eager__0_instances_ boxes=0 classes=1 scores=2 image_size=3 &
run_case retinanet_tracing_alt "$rn" input_image_alt.npy eager_alt__0_instances_ boxes=0 classes=1 scores=2 image_size=3 &
# scripted: outputs are the dict [0] with its keys sorted (--out flattening):
# pred_boxes, pred_classes, pred_masks, scores
run_case mask_rcnn_scripting "$sc" input_image.npy eager__ boxes=0 classes=1 masks=2 scores=3 &
run_case mask_rcnn_scripting_alt "$sc" input_image_alt.npy eager_alt__ boxes=0 classes=1 masks=2 scores=3 &
# batch 2: outputs [0].{pred_boxes,pred_classes,pred_masks,scores} = out0..3, [1].* = out4..7
run_batch_case mask_rcnn_scripting_batch2 "$sc" "input_image.npy input_image_alt.npy" \
  "$sc/ref eager__ boxes=0 classes=1 masks=2 scores=3;$b2 batch2_1__ boxes=4 classes=5 masks=6 scores=7" &
run_batch_case mask_rcnn_scripting_batch2_same_size "$sc" "input_image_alt.npy input_image_alt.npy" \
  "$sc/ref eager_alt__ boxes=0 classes=1 masks=2 scores=3;$sc/ref eager_alt__ boxes=4 classes=5 masks=6 scores=7" &
run_tv_case tv_retinanet_script "$tv/tv_retinanet_script" &
run_tv_case tv_faster_rcnn_script "$tv/tv_faster_rcnn_script" &
run_tv_case tv_keypoint_rcnn_script "$tv/tv_keypoint_rcnn_script" &
run_tv_case tv_mask_rcnn_script "$tv/tv_mask_rcnn_script" &
run_tv_case tv_retinanet_trace "$tv/tv_retinanet_trace" &
run_tv_case tv_faster_rcnn_trace "$tv/tv_faster_rcnn_trace" &
run_tv_case tv_keypoint_rcnn_trace "$tv/tv_keypoint_rcnn_trace" &
run_tv_case tv_mask_rcnn_trace "$tv/tv_mask_rcnn_trace" &
wait

fail=0
for n in $names; do
  if [ -f "$tmp/$n.result" ]; then cat "$tmp/$n.result"; else echo "FAIL $n: no result"; fi
  grep -q '^ok ' "$tmp/$n.result" 2>/dev/null || fail=1
done
exit $fail
