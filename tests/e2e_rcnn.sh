#!/usr/bin/env bash
# End-to-end: the project's own torchvision R-CNN fixtures (tests/data/rcnn/<model>_opset<N>,
# made by tools/make_rcnn_fixtures.py: random-weight Faster/Mask/Keypoint R-CNN and
# RetinaNet exported to ONNX at opsets 11 and 17) run through `d2rt run` and compared
# with onnxruntime's (ort_out<k>.npy) and PyTorch eager's (eager_out<k>.npy) outputs by
# matching detections.
# Usage: tests/e2e_rcnn.sh BUILD_DIR
set -u
build=${1:-build}
d2rt=$build/d2rt
cmp=$build/tests/tools/compare_detections
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

for dir in tests/data/rcnn/*_opset*; do
  name=$(basename "$dir")
  out=$tmp/$name
  if ! "$d2rt" run "$dir/model.onnx" "$dir/input_0.npy" --out "$out" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: d2rt run: $(tail -1 "$tmp/$name.log")"; fail=1; continue
  fi
  # Output positions from names.txt (graph order); everything per-detection beyond
  # boxes/labels/scores is compared as an extra field of matched pairs.
  args=(); k=0
  while read -r field; do
    case "$field" in
      boxes) args+=("boxes=$k");;
      labels) args+=("classes=$k");;
      scores) args+=("scores=$k");;
      masks) args+=("extra=$k:1e-4");;
      keypoints) args+=("extra=$k:1e-2");;
      keypoints_scores) args+=("extra=$k:1e-3");;
      *) echo "FAIL $name: unknown output '$field'"; fail=1;;
    esac
    k=$((k + 1))
  done < "$dir/names.txt"
  # onnxruntime on the same file (what the ONNX file says), and PyTorch eager (what
  # torchvision computes); for these torchvision exports the two agree.
  for ref in ort_out eager_out; do
    if r=$("$cmp" "$out" "$dir" $ref "${args[@]}" --ref-indexed); then echo "ok   $name vs $ref: $r"; else echo "FAIL $name vs $ref: $r"; fail=1; fi
  done
done
exit $fail
