/* backends/cpu/fast_detect.h: fast kernels of the detection ops (box_nms,
 * box_batched_nms: fast_detect_nms.c; box_roi_align: fast_detect_roi.c; paste_masks:
 * fast_detect_masks.c), registered in the fast kernel table (fast_ops.c) through
 * d2_cpu_fast_detect_kernel.
 *
 * Contract: every kernel here gives results IDENTICAL to the op's reference kernel
 * (ref_detect2_*.c, ref_postproc_masks.c): the same kept indices in the same order,
 * and bit-equal floats. They get there by doing exactly the reference's arithmetic
 * (same operations, same order, same precision per operation) while doing less of it:
 * NMS splits the candidates into groups that provably cannot suppress each other and
 * runs the greedy loop per group, in parallel; roi_align computes each roi's sampling
 * geometry once instead of once per channel; paste_masks computes per-row and
 * per-column coordinates once instead of per pixel. Anything outside the fast paths
 * (other dtypes, malformed inputs, whose error messages the reference owns) runs the
 * reference kernel. tests/unit/test_fast_detect.c checks the equality. */
#ifndef D2_BACKENDS_CPU_FAST_DETECT_H
#define D2_BACKENDS_CPU_FAST_DETECT_H

#include "cpu.h"

enum d2_status d2_cpu_fast_box_nms(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_box_batched_nms(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_box_roi_align(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_paste_masks(struct d2_kernel_ctx *ctx);

/* The fast detection kernel of op, or NULL when this file set has none. */
d2_cpu_kernel_fn d2_cpu_fast_detect_kernel(enum d2_op op);

#endif
