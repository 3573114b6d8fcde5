/* ir/tensor.c: static value types and concrete tensors. */
#include "ir.h"

#include <string.h>

void d2_type_init_unknown(struct d2_type *t)
{
    memset(t, 0, sizeof *t);
    t->dtype = D2_DTYPE_UNDEFINED;
    t->rank = D2_RANK_UNKNOWN;
    for (int i = 0; i < D2_MAX_RANK; i++)
        t->upper_bounds[i] = -1;
}

void d2_type_init(struct d2_type *t, enum d2_dtype dtype, int32_t rank, const int64_t *dims)
{
    d2_type_init_unknown(t);
    t->dtype = dtype;
    t->rank = rank;
    for (int32_t i = 0; i < rank && i < D2_MAX_RANK; i++)
        t->dims[i] = dims ? dims[i] : D2_DIM_UNKNOWN;
}

bool d2_type_is_static(const struct d2_type *t)
{
    if (t->rank < 0)
        return false;
    for (int32_t i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return false;
    return true;
}

bool d2_type_equal(const struct d2_type *a, const struct d2_type *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int32_t i = 0; i < a->rank; i++) {
        if (a->dims[i] != b->dims[i] || a->upper_bounds[i] != b->upper_bounds[i])
            return false;
        if ((a->symbols[i] == NULL) != (b->symbols[i] == NULL))
            return false;
        if (a->symbols[i] && strcmp(a->symbols[i], b->symbols[i]) != 0)
            return false;
    }
    return true;
}

int64_t d2_dims_numel(int32_t rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int32_t i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return -1;
        if (dims[i] != 0 && n > INT64_MAX / dims[i])
            return -1;
        n *= dims[i];
    }
    return n;
}

int64_t d2_type_numel(const struct d2_type *t)
{
    return d2_type_is_static(t) ? d2_dims_numel(t->rank, t->dims) : -1;
}

int64_t d2_tensor_numel(const struct d2_tensor *t)
{
    return d2_dims_numel(t->rank, t->dims);
}

static enum d2_status tensor_alloc(struct d2_tensor *t, const struct d2_allocator *a, enum d2_dtype dtype,
                                   int32_t rank, const int64_t *dims, bool zero, struct d2_error *err)
{
    int64_t numel;
    size_t esize = d2_dtype_size(dtype);
    memset(t, 0, sizeof *t);
    if (rank < 0 || rank > D2_MAX_RANK)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "tensor rank %d exceeds the limit D2_MAX_RANK=%d",
                         (int)rank, D2_MAX_RANK);
    if (esize == 0)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "tensor of undefined dtype");
    numel = d2_dims_numel(rank, dims);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / esize)
        return d2_errorf(err, D2_ERR_SHAPE, "tensor dims are negative or too large");
    t->dtype = dtype;
    t->rank = rank;
    for (int32_t i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    t->nbytes = (size_t)numel * esize;
    t->data = zero ? d2_calloc(a, t->nbytes ? t->nbytes : 1, 1) : d2_alloc(a, t->nbytes ? t->nbytes : 1);
    if (!t->data)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory allocating a %zu-byte tensor", t->nbytes);
    t->owns_data = true;
    return D2_OK;
}

enum d2_status d2_tensor_alloc(struct d2_tensor *t, const struct d2_allocator *a, enum d2_dtype dtype,
                               int32_t rank, const int64_t *dims, struct d2_error *err)
{
    return tensor_alloc(t, a, dtype, rank, dims, true, err);
}

enum d2_status d2_tensor_alloc_uninitialized(struct d2_tensor *t, const struct d2_allocator *a, enum d2_dtype dtype,
                                             int32_t rank, const int64_t *dims, struct d2_error *err)
{
    return tensor_alloc(t, a, dtype, rank, dims, false, err);
}

void d2_tensor_release(struct d2_tensor *t, const struct d2_allocator *a)
{
    if (t->owns_data)
        d2_free(a, t->data);
    t->data = NULL;
    t->owns_data = false;
    t->nbytes = 0;
}

enum d2_status d2_tensor_copy(struct d2_tensor *dst, const struct d2_tensor *src,
                              const struct d2_allocator *a, struct d2_error *err)
{
    enum d2_status st = d2_tensor_alloc(dst, a, src->dtype, src->rank, src->dims, err);
    if (st == D2_OK && src->nbytes)
        memcpy(dst->data, src->data, src->nbytes);
    return st;
}

void d2_type_from_tensor(struct d2_type *t, const struct d2_tensor *tensor)
{
    d2_type_init(t, tensor->dtype, tensor->rank, tensor->dims);
}
