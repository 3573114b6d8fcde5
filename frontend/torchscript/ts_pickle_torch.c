/* frontend/torchscript/ts_pickle_torch.c: what torch's pickle globals mean.
 *
 * Contract (ts_pickle_internal.h): GLOBAL accepts only the globals below and refuses
 * any other with D2_ERR_UNSUPPORTED naming it; REDUCE/NEWOBJ/BUILD/BINPERSID apply
 * them with every argument checked (kind, count, range), so a malformed pickle gives
 * D2_ERR_PARSE and never reads outside a storage.
 *
 *   __torch__.*                          TorchScript classes (modules and script
 *                                        classes): NEWOBJ/REDUCE make a TS_OBJECT,
 *                                        BUILD sets its state (the attribute dict)
 *   torch.<T>Storage, torch.UntypedStorage  storage types in persistent ids
 *   torch.float32 ... (dtype objects)    passive TS_GLOBAL values
 *   torch._utils._rebuild_tensor_v2      (storage, offset, size, stride, requires_grad,
 *                                        backward_hooks[, metadata]) → TS_TENSOR
 *   torch._utils._rebuild_parameter[_with_state]   (tensor, requires_grad, hooks[, state])
 *   collections.OrderedDict              → TS_DICT
 *   torch.jit._pickle.build_{int,double,bool,tensor}list, restore_type_tag
 *                                        → the list / value with its type_tag set
 *   builtins.set / frozenset             → TS_SET;  torch.Size → TS_TUPLE
 *   torch.device                         → TS_STRING ("cpu"), type_tag "Device"
 *
 * Persistent ids ('storage', storage_type, key, location, numel) are resolved through
 * the options' load_storage callback (the archive maps key to data/<key>).
 */
#include <string.h>

#include "frontend/torchscript/ts_pickle_internal.h"

#define DEFAULT_MAX_COPY_BYTES ((uint64_t)1 << 30)

static const struct { const char *name; enum d2_dtype dtype; } storage_types[] = {
    { "FloatStorage", D2_DTYPE_F32 },  { "DoubleStorage", D2_DTYPE_F64 }, { "HalfStorage", D2_DTYPE_F16 },
    { "BFloat16Storage", D2_DTYPE_BF16 }, { "LongStorage", D2_DTYPE_I64 }, { "IntStorage", D2_DTYPE_I32 },
    { "ShortStorage", D2_DTYPE_I16 },  { "CharStorage", D2_DTYPE_I8 },    { "ByteStorage", D2_DTYPE_U8 },
    { "BoolStorage", D2_DTYPE_BOOL },  { "UInt16Storage", D2_DTYPE_U16 }, { "UInt32Storage", D2_DTYPE_U32 },
    { "UInt64Storage", D2_DTYPE_U64 }, { "UntypedStorage", D2_DTYPE_U8 },
};

static const char *const dtype_objects[] = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
    "int16", "short", "int8", "uint8", "bool", "uint16", "uint32", "uint64",
};

enum global_role {
    G_UNKNOWN, G_TORCH_CLASS, G_STORAGE, G_DTYPE, G_REBUILD_TENSOR, G_REBUILD_PARAMETER, G_ORDERED_DICT,
    G_BUILD_LIST, G_RESTORE_TYPE_TAG, G_SET, G_FROZENSET, G_SIZE, G_DEVICE,
};

static bool is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* What a global is; *dtype for storages, *list_type for build_*list. */
static enum global_role classify(const char *module, const char *name, enum d2_dtype *dtype, const char **list_type)
{
    if (is(module, "__torch__") || strncmp(module, "__torch__.", 10) == 0)
        return G_TORCH_CLASS;
    if (is(module, "torch") || is(module, "torch.storage") || is(module, "torch.cuda")) {
        for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
            if (is(name, storage_types[i].name)) {
                if (dtype)
                    *dtype = storage_types[i].dtype;
                return G_STORAGE;
            }
    }
    if (is(module, "torch")) {
        for (size_t i = 0; i < sizeof dtype_objects / sizeof dtype_objects[0]; i++)
            if (is(name, dtype_objects[i]))
                return G_DTYPE;
        if (is(name, "Size"))
            return G_SIZE;
        if (is(name, "device"))
            return G_DEVICE;
    }
    if (is(module, "torch._utils")) {
        if (is(name, "_rebuild_tensor_v2"))
            return G_REBUILD_TENSOR;
        if (is(name, "_rebuild_parameter") || is(name, "_rebuild_parameter_with_state"))
            return G_REBUILD_PARAMETER;
    }
    if (is(module, "collections") && is(name, "OrderedDict"))
        return G_ORDERED_DICT;
    if (is(module, "builtins") || is(module, "__builtin__")) {
        if (is(name, "set"))
            return G_SET;
        if (is(name, "frozenset"))
            return G_FROZENSET;
    }
    if (is(module, "torch.jit._pickle")) {
        static const struct { const char *fn, *type; } lists[] = {
            { "build_intlist", "List[int]" }, { "build_doublelist", "List[float]" },
            { "build_boollist", "List[bool]" }, { "build_tensorlist", "List[Tensor]" },
        };
        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
            if (is(name, lists[i].fn)) {
                if (list_type)
                    *list_type = lists[i].type;
                return G_BUILD_LIST;
            }
        if (is(name, "restore_type_tag"))
            return G_RESTORE_TYPE_TAG;
    }
    return G_UNKNOWN;
}

enum d2_status ts_torch_global(struct ts_vm *vm, const char *module, const char *name, struct ts_value **out)
{
    if (classify(module, name, NULL, NULL) == G_UNKNOWN)
        return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "pickle global '%s.%s' is not supported", module, name);
    struct ts_value *v = ts_vm_new(vm, TS_GLOBAL);
    if (!v)
        return vm->err->code;
    v->u.global.module = d2_arena_strdup(vm->arena, module);
    v->u.global.name = d2_arena_strdup(vm->arena, name);
    if (!v->u.global.module || !v->u.global.name)
        return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory");
    *out = v;
    return D2_OK;
}

static enum global_role role_of(const struct ts_value *g, enum d2_dtype *dtype, const char **list_type)
{
    if (g->kind != TS_GLOBAL)
        return G_UNKNOWN;
    return classify(g->u.global.module, g->u.global.name, dtype, list_type);
}

/* ---- tensors -------------------------------------------------------------------- */

/* A tuple of non-negative ints of at most D2_MAX_RANK entries into dims. */
static enum d2_status int_tuple(struct ts_vm *vm, const struct ts_value *t, const char *what, int64_t *dims,
                                int32_t *rank)
{
    if (t->kind != TS_TUPLE && t->kind != TS_LIST)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: %s is a %s, not a tuple", what,
                           ts_kind_name(t->kind));
    if (t->u.seq.count > D2_MAX_RANK)
        return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "_rebuild_tensor_v2: rank %u (at most %d)", t->u.seq.count,
                           D2_MAX_RANK);
    for (uint32_t i = 0; i < t->u.seq.count; i++) {
        const struct ts_value *d = t->u.seq.items[i];
        if (d->kind != TS_INT || d->u.i < 0)
            return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: %s[%u] is not a non-negative int", what, i);
        dims[i] = d->u.i;
    }
    *rank = (int32_t)t->u.seq.count;
    return D2_OK;
}

/* Copy a strided view into a new contiguous buffer (arena), within the copy budget. */
static enum d2_status materialize(struct ts_vm *vm, struct ts_tensor *t, const uint8_t *base, const int64_t *stride)
{
    size_t elsize = d2_dtype_size(t->tensor.dtype);
    uint64_t budget = vm->opts->max_copy_bytes ? vm->opts->max_copy_bytes : DEFAULT_MAX_COPY_BYTES;
    if (t->tensor.nbytes > budget - vm->copied_bytes || vm->copied_bytes > budget)
        return ts_vm_error(vm, D2_ERR_UNSUPPORTED,
                           "tensor of storage '%s': making %zu bytes contiguous exceeds the copy budget of %llu",
                           t->storage_key, t->tensor.nbytes, (unsigned long long)budget);
    vm->copied_bytes += t->tensor.nbytes;
    uint8_t *dst = d2_arena_alloc(vm->arena, t->tensor.nbytes ? t->tensor.nbytes : 1);
    if (!dst)
        return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory copying a %zu-byte tensor", t->tensor.nbytes);
    int64_t index[D2_MAX_RANK] = { 0 };
    int64_t numel = d2_tensor_numel(&t->tensor), src = 0;
    int32_t rank = t->tensor.rank;
    for (int64_t n = 0; n < numel; n++) {
        memcpy(dst + (size_t)n * elsize, base + (size_t)src * elsize, elsize);
        for (int32_t d = rank - 1; d >= 0; d--) { /* odometer: advance the last dim first */
            if (++index[d] < t->tensor.dims[d]) {
                src += stride[d];
                break;
            }
            src -= stride[d] * (index[d] - 1);
            index[d] = 0;
        }
    }
    t->tensor.data = dst;
    t->copied = true;
    return D2_OK;
}

static enum d2_status rebuild_tensor(struct ts_vm *vm, const struct ts_value *args, struct ts_value **out)
{
    const struct ts_seq *a = &args->u.seq;
    if (a->count != 6 && a->count != 7)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %u", a->count);
    const struct ts_value *storage = a->items[0], *offset = a->items[1];
    if (storage->kind != TS_STORAGE)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: argument 0 is a %s, not a storage",
                           ts_kind_name(storage->kind));
    if (offset->kind != TS_INT || offset->u.i < 0)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: storage offset is not a non-negative int");
    if (a->items[4]->kind != TS_BOOL)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: requires_grad is not a bool");
    struct ts_value *v = ts_vm_new(vm, TS_TENSOR);
    if (!v)
        return vm->err->code;
    struct ts_tensor *t = &v->u.tensor;
    int64_t stride[D2_MAX_RANK];
    int32_t stride_rank = 0;
    enum d2_status st;
    if ((st = int_tuple(vm, a->items[2], "size", t->tensor.dims, &t->tensor.rank)) != D2_OK ||
        (st = int_tuple(vm, a->items[3], "stride", stride, &stride_rank)) != D2_OK)
        return st;
    if (stride_rank != t->tensor.rank)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: %d sizes but %d strides", t->tensor.rank,
                           stride_rank);
    const struct ts_storage *s = &storage->u.storage;
    t->tensor.dtype = s->dtype;
    t->storage_key = s->key;
    t->storage_offset = offset->u.i;
    t->requires_grad = a->items[4]->u.b;
    size_t elsize = d2_dtype_size(s->dtype);
    int64_t numel = d2_dims_numel(t->tensor.rank, t->tensor.dims);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / elsize)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: element count overflows");
    t->tensor.nbytes = (size_t)numel * elsize;
    *out = v;
    if (numel == 0)
        return D2_OK;
    /* The highest element the view touches must lie inside the storage. */
    uint64_t storage_numel = s->nbytes / elsize, last = (uint64_t)offset->u.i;
    bool contiguous = true;
    int64_t expected_stride = 1;
    for (int32_t d = t->tensor.rank - 1; d >= 0; d--) {
        uint64_t span;
        if (__builtin_mul_overflow((uint64_t)(t->tensor.dims[d] - 1), (uint64_t)stride[d], &span) ||
            __builtin_add_overflow(last, span, &last))
            return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_tensor_v2: strides overflow");
        if (t->tensor.dims[d] != 1 && stride[d] != expected_stride)
            contiguous = false;
        expected_stride *= t->tensor.dims[d];
    }
    if (last >= storage_numel)
        return ts_vm_error(vm, D2_ERR_PARSE,
                           "tensor of storage '%s' reads element %llu of a storage of %llu %s elements", s->key,
                           (unsigned long long)last, (unsigned long long)storage_numel, d2_dtype_name(s->dtype));
    const uint8_t *base = s->data + (size_t)offset->u.i * elsize;
    if (contiguous && (uintptr_t)base % elsize == 0) {
        t->tensor.data = (void *)(uintptr_t)base; /* zero copy: borrowed from the archive */
        return D2_OK;
    }
    return materialize(vm, t, base, stride);
}

static enum d2_status rebuild_parameter(struct ts_vm *vm, const struct ts_value *args, struct ts_value **out)
{
    const struct ts_seq *a = &args->u.seq;
    if (a->count < 3 || a->count > 4 || a->items[0]->kind != TS_TENSOR || a->items[1]->kind != TS_BOOL)
        return ts_vm_error(vm, D2_ERR_PARSE, "_rebuild_parameter needs (tensor, requires_grad, hooks[, state])");
    struct ts_value *v = ts_vm_new(vm, TS_TENSOR);
    if (!v)
        return vm->err->code;
    v->u.tensor = a->items[0]->u.tensor;
    v->u.tensor.is_parameter = true;
    v->u.tensor.requires_grad = a->items[1]->u.b;
    *out = v;
    return D2_OK;
}

/* ---- REDUCE, NEWOBJ, BUILD, persistent ids ------------------------------------ */

static enum d2_status new_object(struct ts_vm *vm, const struct ts_value *cls, struct ts_value *args,
                                 struct ts_value **out)
{
    struct ts_value *v = ts_vm_new(vm, TS_OBJECT);
    if (!v)
        return vm->err->code;
    size_t m = strlen(cls->u.global.module), n = strlen(cls->u.global.name);
    char *name = d2_arena_alloc(vm->arena, m + n + 2);
    if (!name)
        return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory");
    memcpy(name, cls->u.global.module, m);
    name[m] = '.';
    memcpy(name + m + 1, cls->u.global.name, n + 1);
    v->u.object.class_name = name;
    v->u.object.args = args;
    *out = v;
    return D2_OK;
}

/* A new container holding a sequence's items (set(list), OrderedDict(pairs), Size(t)). */
static enum d2_status from_iterable(struct ts_vm *vm, enum ts_kind kind, const struct ts_value *args,
                                    const char *fn, struct ts_value **out)
{
    struct ts_value *v = ts_vm_new(vm, kind);
    if (!v)
        return vm->err->code;
    *out = v;
    if (args->u.seq.count == 0)
        return D2_OK;
    const struct ts_value *src = args->u.seq.items[0];
    if (args->u.seq.count != 1 || (src->kind != TS_LIST && src->kind != TS_TUPLE && src->kind != TS_SET))
        return ts_vm_error(vm, D2_ERR_PARSE, "%s expects one list or tuple", fn);
    for (uint32_t i = 0; i < src->u.seq.count; i++) {
        struct ts_value *item = src->u.seq.items[i];
        enum d2_status st;
        if (kind == TS_DICT) {
            if (item->kind != TS_TUPLE && item->kind != TS_LIST)
                return ts_vm_error(vm, D2_ERR_PARSE, "%s: item %u is not a pair", fn, i);
            if (item->u.seq.count != 2)
                return ts_vm_error(vm, D2_ERR_PARSE, "%s: item %u is not a pair", fn, i);
            st = ts_vm_dict_set(vm, &v->u.dict, item->u.seq.items[0], item->u.seq.items[1]);
        } else {
            if (kind == TS_TUPLE && item->kind != TS_INT)
                return ts_vm_error(vm, D2_ERR_PARSE, "%s: item %u is not an int", fn, i);
            st = ts_vm_seq_push(vm, &v->u.seq, item);
        }
        if (st != D2_OK)
            return st;
    }
    return D2_OK;
}

static enum d2_status build_list(struct ts_vm *vm, const struct ts_value *args, const char *list_type,
                                 struct ts_value **out)
{
    static const struct { const char *type; enum ts_kind item; } kinds[] = {
        { "List[int]", TS_INT }, { "List[float]", TS_FLOAT }, { "List[bool]", TS_BOOL }, { "List[Tensor]", TS_TENSOR },
    };
    if (args->u.seq.count != 1 || args->u.seq.items[0]->kind != TS_LIST)
        return ts_vm_error(vm, D2_ERR_PARSE, "build list for %s expects one list", list_type);
    struct ts_value *list = args->u.seq.items[0];
    enum ts_kind want = TS_NONE;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (is(kinds[k].type, list_type))
            want = kinds[k].item;
    for (uint32_t i = 0; i < list->u.seq.count; i++)
        if (list->u.seq.items[i]->kind != want)
            return ts_vm_error(vm, D2_ERR_PARSE, "%s item %u is a %s", list_type, i,
                               ts_kind_name(list->u.seq.items[i]->kind));
    list->type_tag = list_type;
    *out = list;
    return D2_OK;
}

enum d2_status ts_torch_reduce(struct ts_vm *vm, struct ts_value *callable, struct ts_value *args,
                               struct ts_value **out)
{
    const char *list_type = NULL;
    const struct ts_seq *a = &args->u.seq;
    switch (role_of(callable, NULL, &list_type)) {
    case G_REBUILD_TENSOR: return rebuild_tensor(vm, args, out);
    case G_REBUILD_PARAMETER: return rebuild_parameter(vm, args, out);
    case G_ORDERED_DICT: return from_iterable(vm, TS_DICT, args, "OrderedDict", out);
    case G_SET: case G_FROZENSET: return from_iterable(vm, TS_SET, args, "set", out);
    case G_SIZE: return from_iterable(vm, TS_TUPLE, args, "torch.Size", out);
    case G_BUILD_LIST: return build_list(vm, args, list_type, out);
    case G_RESTORE_TYPE_TAG:
        if (a->count != 2 || a->items[1]->kind != TS_STRING)
            return ts_vm_error(vm, D2_ERR_PARSE, "restore_type_tag expects (value, type string)");
        a->items[0]->type_tag = a->items[1]->u.str.data;
        *out = a->items[0];
        return D2_OK;
    case G_DEVICE:
        if (a->count < 1 || a->items[0]->kind != TS_STRING)
            return ts_vm_error(vm, D2_ERR_PARSE, "torch.device expects a string");
        if (!(*out = ts_vm_new(vm, TS_STRING)))
            return vm->err->code;
        (*out)->u.str = a->items[0]->u.str;
        (*out)->type_tag = "Device";
        return D2_OK;
    case G_TORCH_CLASS: return new_object(vm, callable, args, out);
    default:
        if (callable->kind == TS_GLOBAL)
            return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "REDUCE: calling '%s.%s' is not supported",
                               callable->u.global.module, callable->u.global.name);
        return ts_vm_error(vm, D2_ERR_PARSE, "REDUCE: a %s is not callable", ts_kind_name(callable->kind));
    }
}

enum d2_status ts_torch_newobj(struct ts_vm *vm, struct ts_value *cls, struct ts_value *args, struct ts_value **out)
{
    switch (role_of(cls, NULL, NULL)) {
    case G_TORCH_CLASS: return new_object(vm, cls, args, out);
    case G_ORDERED_DICT: return from_iterable(vm, TS_DICT, args, "OrderedDict", out);
    case G_SET: return from_iterable(vm, TS_SET, args, "set", out);
    default:
        if (cls->kind == TS_GLOBAL)
            return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "NEWOBJ of '%s.%s' is not supported", cls->u.global.module,
                               cls->u.global.name);
        return ts_vm_error(vm, D2_ERR_PARSE, "NEWOBJ of a %s (not a class)", ts_kind_name(cls->kind));
    }
}

enum d2_status ts_torch_build(struct ts_vm *vm, struct ts_value *obj, struct ts_value *state)
{
    if (obj->kind == TS_OBJECT) {
        obj->u.object.state = state;
        return D2_OK;
    }
    /* Python's default __setstate__ with no state, or an empty __dict__: nothing to do. */
    if (state->kind == TS_NONE || (state->kind == TS_DICT && state->u.dict.count == 0))
        return D2_OK;
    return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "BUILD with state on a %s", ts_kind_name(obj->kind));
}

/* Storage keys name archive entries: keep them to plain file names. */
static bool safe_key(const char *key, size_t len)
{
    if (len == 0 || len > 64 || is(key, ".") || is(key, ".."))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    return true;
}

enum d2_status ts_torch_persistent_load(struct ts_vm *vm, struct ts_value *pid, struct ts_value **out)
{
    if (pid->kind != TS_TUPLE || pid->u.seq.count != 5)
        return ts_vm_error(vm, D2_ERR_PARSE, "persistent id is not a 5-tuple ('storage', type, key, location, numel)");
    struct ts_value **f = pid->u.seq.items;
    enum d2_dtype dtype = D2_DTYPE_UNDEFINED;
    if (f[0]->kind != TS_STRING || !is(f[0]->u.str.data, "storage"))
        return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "persistent id of kind other than 'storage'");
    if (role_of(f[1], &dtype, NULL) != G_STORAGE)
        return ts_vm_error(vm, D2_ERR_PARSE, "persistent id: %s is not a storage type", ts_kind_name(f[1]->kind));
    if (f[2]->kind != TS_STRING || !safe_key(f[2]->u.str.data, f[2]->u.str.len))
        return ts_vm_error(vm, D2_ERR_PARSE, "persistent id: storage key is not a plain name");
    if (f[3]->kind != TS_STRING || f[4]->kind != TS_INT || f[4]->u.i < 0)
        return ts_vm_error(vm, D2_ERR_PARSE, "persistent id: bad location or element count");
    const char *key = f[2]->u.str.data;
    if (!vm->opts->load_storage)
        return ts_vm_error(vm, D2_ERR_PARSE, "storage '%s' referenced, but no storage loader", key);
    const uint8_t *bytes = NULL;
    size_t nbytes = 0;
    enum d2_status st = vm->opts->load_storage(vm->opts->load_storage_user, key, &bytes, &nbytes, vm->err);
    if (st != D2_OK)
        return st;
    size_t elsize = d2_dtype_size(dtype);
    uint64_t numel = (uint64_t)f[4]->u.i;
    if (numel > nbytes / elsize)
        return ts_vm_error(vm, D2_ERR_PARSE, "storage '%s' declares %llu %s elements but holds %zu bytes", key,
                           (unsigned long long)numel, d2_dtype_name(dtype), nbytes);
    struct ts_value *v = ts_vm_new(vm, TS_STORAGE);
    if (!v)
        return vm->err->code;
    v->u.storage.dtype = dtype;
    v->u.storage.key = key;
    v->u.storage.location = f[3]->u.str.data;
    v->u.storage.data = bytes;
    v->u.storage.nbytes = (size_t)numel * elsize;
    *out = v;
    return D2_OK;
}
