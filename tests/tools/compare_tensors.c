/* tests/tools/compare_tensors.c: compare two tensor files (.npy or ONNX TensorProto
 * .pb, detected from content) for the conformance scripts.
 *
 * usage: compare_tensors ACTUAL EXPECTED [RTOL ATOL]
 * Floats match when |a - e| <= ATOL + RTOL * |e| (default 1e-3, 1e-5), NaN matches NaN
 * and infinities must be equal; integers and bools must be equal. Dtype and shape must
 * be the same. Exit 0: match; 1: mismatch (one line saying where); 2: unreadable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/ir.h"
#include "runtime/load.h"
#include "runtime/npy.h"

static int load(const char *path, struct d2_tensor *t)
{
    struct d2_error err = { 0 };
    void *data;
    size_t size;
    enum d2_status st = d2_read_file(path, NULL, &data, &size, &err);
    if (st == D2_OK) {
        if (size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0)
            st = d2_npy_parse(data, size, NULL, t, &err);
        else
            st = d2_onnx_parse_tensor(data, size, NULL, t, NULL, &err);
        free(data);
    }
    if (st != D2_OK) {
        printf("cannot read %s: %s\n", path, err.message);
        return 2;
    }
    return 0;
}

/* "f32[1,2]", naming the tensor's dtype as `shown`. */
static void shape_text(const struct d2_tensor *t, enum d2_dtype shown, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s[", d2_dtype_name(shown));
    for (int32_t d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? "," : "", (long long)t->dims[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

int main(int argc, char **argv)
{
    struct d2_tensor a, e;
    double rtol = 1e-3, atol = 1e-5;
    char sa[128], se[128];
    int rc = 0;
    int64_t bad = 0, first_bad = -1;

    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: compare_tensors ACTUAL EXPECTED [RTOL ATOL]\n");
        return 2;
    }
    if (argc == 5) {
        rtol = atof(argv[3]);
        atol = atof(argv[4]);
    }
    if (load(argv[1], &a) != 0)
        return 2;
    if (load(argv[2], &e) != 0) {
        d2_tensor_release(&a, NULL);
        return 2;
    }
    /* d2rt run writes bf16 outputs as f32 (NumPy has no bfloat16): accept that pair
     * when every value is exactly a bf16. */
    if (a.dtype == D2_DTYPE_F32 && e.dtype == D2_DTYPE_BF16) {
        for (int64_t i = 0; i < d2_tensor_numel(&a); i++) {
            float v = ((const float *)a.data)[i];
            if (!isnan(v) && d2_bf16_to_f32(d2_f32_to_bf16(v)) != v) {
                printf("f32 output for a bf16 expectation holds %.9g at %lld, not a bf16 value\n", (double)v,
                       (long long)i);
                rc = 1;
                goto done;
            }
        }
    }
    shape_text(&a, a.dtype == D2_DTYPE_F32 && e.dtype == D2_DTYPE_BF16 ? D2_DTYPE_BF16 : a.dtype, sa, sizeof sa);
    shape_text(&e, e.dtype, se, sizeof se);
    if (strcmp(sa, se) != 0) {
        printf("dtype/shape differ: got %s, expected %s\n", sa, se);
        rc = 1;
        goto done;
    }
    for (int64_t i = 0; i < d2_tensor_numel(&e); i++) {
        bool same;
        if (d2_dtype_is_float(e.dtype)) {
            double x = d2_load_f64(a.data, a.dtype, (size_t)i), y = d2_load_f64(e.data, e.dtype, (size_t)i);
            if (isnan(x) || isnan(y))
                same = isnan(x) && isnan(y);
            else if (isinf(x) || isinf(y))
                same = x == y;
            else
                same = fabs(x - y) <= atol + rtol * fabs(y);
        } else if (e.dtype == D2_DTYPE_U64) {
            same = ((const uint64_t *)a.data)[i] == ((const uint64_t *)e.data)[i];
        } else {
            same = d2_load_i64(a.data, a.dtype, (size_t)i) == d2_load_i64(e.data, e.dtype, (size_t)i);
        }
        if (!same) {
            if (first_bad < 0)
                first_bad = i;
            bad++;
        }
    }
    if (bad) {
        printf("%lld of %lld elements differ (%s); first at %lld: got %.9g, expected %.9g\n", (long long)bad,
               (long long)d2_tensor_numel(&e), se, (long long)first_bad,
               d2_load_f64(a.data, a.dtype, (size_t)first_bad), d2_load_f64(e.data, e.dtype, (size_t)first_bad));
        rc = 1;
    }
done:
    d2_tensor_release(&a, NULL);
    d2_tensor_release(&e, NULL);
    return rc;
}
