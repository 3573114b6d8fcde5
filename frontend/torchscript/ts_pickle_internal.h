/* frontend/torchscript/ts_pickle_internal.h: what the pickle VM (ts_pickle.c) and
 * torch's globals (ts_pickle_torch.c) share. Not for use outside the two files. */
#ifndef D2_TS_PICKLE_INTERNAL_H
#define D2_TS_PICKLE_INTERNAL_H

#include "frontend/torchscript/ts_archive.h"

struct ts_vm {
    const uint8_t *data;   /* the pickle program */
    size_t size;
    size_t pos;            /* of the next byte to read */
    size_t op_pos;         /* of the opcode being executed (for messages) */
    const char *what;      /* "data.pkl" */
    const struct ts_pickle_options *opts;
    struct d2_arena *arena;
    const struct d2_allocator *alloc; /* for the VM's own stacks (freed at the end) */
    struct d2_error *err;

    struct ts_value **stack;
    uint32_t stack_len, stack_cap;
    uint32_t *marks;       /* stack lengths at each MARK */
    uint32_t marks_len, marks_cap;
    struct ts_value **memo;
    uint32_t memo_cap;     /* slots allocated (NULL = unset) */
    uint32_t memo_count;   /* slots set: MEMOIZE's next index, like Python's len(memo) */
    uint64_t copied_bytes; /* tensor materialization so far (against max_copy_bytes) */
};

/* "data.pkl: offset 123: <message>" with the given code. */
enum d2_status ts_vm_error(struct ts_vm *vm, enum d2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct ts_value *ts_vm_new(struct ts_vm *vm, enum ts_kind kind); /* NULL: err set (NOMEM) */
enum d2_status ts_vm_seq_push(struct ts_vm *vm, struct ts_seq *seq, struct ts_value *item);
enum d2_status ts_vm_dict_set(struct ts_vm *vm, struct ts_dict *dict, struct ts_value *key,
                              struct ts_value *value);

/* GLOBAL / STACK_GLOBAL: a TS_GLOBAL value for a global d2rt knows, else UNSUPPORTED. */
enum d2_status ts_torch_global(struct ts_vm *vm, const char *module, const char *name, struct ts_value **out);
/* REDUCE: callable(*args). */
enum d2_status ts_torch_reduce(struct ts_vm *vm, struct ts_value *callable, struct ts_value *args,
                               struct ts_value **out);
/* NEWOBJ: cls.__new__(cls, *args). */
enum d2_status ts_torch_newobj(struct ts_vm *vm, struct ts_value *cls, struct ts_value *args, struct ts_value **out);
/* BUILD: obj.__setstate__(state). */
enum d2_status ts_torch_build(struct ts_vm *vm, struct ts_value *obj, struct ts_value *state);
/* BINPERSID: ('storage', storage_type, key, location, numel) → TS_STORAGE. */
enum d2_status ts_torch_persistent_load(struct ts_vm *vm, struct ts_value *pid, struct ts_value **out);

#endif
