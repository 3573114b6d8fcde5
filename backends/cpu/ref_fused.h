/* backends/cpu/ref_fused.h: the fused ops' kernels (backends/cpu/ref_fused.c).
 *
 * d2_cpu_fused_conv_with runs a fused_conv node with the given conv kernel (the
 * reference d2_cpu_ref_conv, or a faster backend's conv) and then applies the
 * residual add and the activation in place, rounding exactly as the separate add
 * and relu ops do. A backend gets a fused_conv kernel from its conv kernel with a
 * one-line wrapper. */
#ifndef D2_BACKENDS_CPU_REF_FUSED_H
#define D2_BACKENDS_CPU_REF_FUSED_H

#include "cpu.h"

enum d2_status d2_cpu_fused_conv_with(struct d2_kernel_ctx *ctx, d2_cpu_kernel_fn conv_kernel);
enum d2_status d2_cpu_ref_fused_conv(struct d2_kernel_ctx *ctx);

#endif
