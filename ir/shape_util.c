/* ir/shape_util.c: helpers shared by the shape functions. */
#include "ir.h"

enum d2_status d2_shape_broadcast(const struct d2_type *a, const struct d2_type *b,
                                  struct d2_type *out, struct d2_error *err)
{
    enum d2_dtype dtype = out->dtype;
    int32_t rank;
    if (a->rank < 0 || b->rank < 0) {
        d2_type_init_unknown(out);
        out->dtype = dtype;
        return D2_OK;
    }
    rank = a->rank > b->rank ? a->rank : b->rank;
    d2_type_init(out, dtype, rank, NULL);
    for (int32_t i = 0; i < rank; i++) {
        /* Align from the right, numpy style. */
        int32_t ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        const char *sa = ia >= 0 ? a->symbols[ia] : NULL;
        const char *sb = ib >= 0 ? b->symbols[ib] : NULL;
        if (da >= 0 && db >= 0) {
            if (da != db && da != 1 && db != 1)
                return d2_errorf(err, D2_ERR_SHAPE, "cannot broadcast dim %d: %lld vs %lld", (int)i,
                                 (long long)da, (long long)db);
            out->dims[i] = da == 1 ? db : da;
        } else if (da == 1) {
            out->dims[i] = db;
            out->symbols[i] = sb;
            out->upper_bounds[i] = ib >= 0 ? b->upper_bounds[ib] : -1;
        } else if (db == 1) {
            out->dims[i] = da;
            out->symbols[i] = sa;
            out->upper_bounds[i] = ia >= 0 ? a->upper_bounds[ia] : -1;
        } else if (da >= 0 || db >= 0) {
            /* One known (not 1), the other unknown: the result must be the known one. */
            out->dims[i] = da >= 0 ? da : db;
        } else {
            out->dims[i] = D2_DIM_UNKNOWN;
            out->symbols[i] = sa && sb && sa == sb ? sa : NULL;
        }
    }
    return D2_OK;
}

bool d2_normalize_axis(int64_t axis, int32_t rank, int64_t *out)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return false;
    *out = axis < 0 ? axis + rank : axis;
    return true;
}

int64_t d2_tensor_get_i64(const struct d2_tensor *t, size_t i)
{
    return d2_load_i64(t->data, t->dtype, i);
}
