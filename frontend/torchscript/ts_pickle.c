/* frontend/torchscript/ts_pickle.c: the pickle virtual machine (protocols 2-5, the
 * opcodes torch.save and torch.jit.save emit, plus their close relatives).
 *
 * Contract (ts_archive.h): ts_pickle_parse runs the program and returns the value STOP
 * leaves. It never reads past the input, never indexes the stack, mark stack or memo
 * without a check, and fails with D2_ERR_PARSE (offset and opcode in the message) on
 * underflow, a bad memo index, truncation, or an opcode it does not know. Torch's
 * globals (what GLOBAL/REDUCE/NEWOBJ/BUILD/BINPERSID mean) live in ts_pickle_torch.c.
 *
 * The VM is iterative: no recursion, so nesting depth cannot overflow the C stack.
 * Memory is linear in the input: every opcode allocates O(1) values, strings are at
 * most the input's size, and tensor copies are budgeted (max_copy_bytes). The tree may
 * share nodes (the memo) and can even hold cycles (a list appended to itself), so code
 * walking it must bound its depth (TS_PICKLE_MAX_DEPTH).
 *
 * Not supported: protocol 0/1 text opcodes (INT, STRING, PUT, GET, INST, OBJ, ...),
 * extension registry codes (EXT1/2/4) and out-of-band buffers (NEXT_BUFFER): torch
 * writes none of them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frontend/torchscript/ts_pickle_internal.h"

/* Opcode bytes (Python's pickle module documents them; pickletools names them). */
enum {
    OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2',
    OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N', OP_BINPERSID = 'Q',
    OP_REDUCE = 'R', OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U', OP_BINUNICODE = 'X',
    OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c', OP_DICT = 'd', OP_EMPTY_DICT = '}',
    OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j', OP_LIST = 'l', OP_EMPTY_LIST = ']',
    OP_BINPUT = 'q', OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't', OP_EMPTY_TUPLE = ')',
    OP_SETITEMS = 'u', OP_BINFLOAT = 'G',
    OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87,
    OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b,
    OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
    OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e, OP_EMPTY_SET = 0x8f,
    OP_ADDITEMS = 0x90, OP_FROZENSET = 0x91, OP_NEWOBJ_EX = 0x92, OP_STACK_GLOBAL = 0x93,
    OP_MEMOIZE = 0x94, OP_FRAME = 0x95, OP_BYTEARRAY8 = 0x96,
};

#define MAX_GLOBAL_NAME 512

enum d2_status ts_vm_error(struct ts_vm *vm, enum d2_status code, const char *fmt, ...)
{
    char msg[D2_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return d2_errorf(vm->err, code, "%s: offset %zu: %s", vm->what, vm->op_pos, msg);
}

struct ts_value *ts_vm_new(struct ts_vm *vm, enum ts_kind kind)
{
    struct ts_value *v = d2_arena_alloc(vm->arena, sizeof *v);
    if (!v) {
        ts_vm_error(vm, D2_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->kind = kind;
    return v;
}

/* Grow an arena array to hold `need` pointers (doubling; the old block is abandoned
 * to the arena, which at most doubles the memory used). */
static bool grow(struct ts_vm *vm, struct ts_value ***items, uint32_t count, uint32_t *capacity, uint32_t need)
{
    if (need <= *capacity)
        return true;
    if (need > TS_PICKLE_MAX_STACK)
        return false;
    uint32_t cap = *capacity ? *capacity : 4;
    while (cap < need)
        cap *= 2;
    struct ts_value **n = d2_arena_alloc(vm->arena, (size_t)cap * sizeof *n);
    if (!n)
        return false;
    if (count)
        memcpy(n, *items, (size_t)count * sizeof *n);
    *items = n;
    *capacity = cap;
    return true;
}

enum d2_status ts_vm_seq_push(struct ts_vm *vm, struct ts_seq *seq, struct ts_value *item)
{
    if (!grow(vm, &seq->items, seq->count, &seq->capacity, seq->count + 1))
        return ts_vm_error(vm, D2_ERR_NOMEM, "container too large (%u items)", seq->count);
    seq->items[seq->count++] = item;
    return D2_OK;
}

enum d2_status ts_vm_dict_set(struct ts_vm *vm, struct ts_dict *dict, struct ts_value *key, struct ts_value *value)
{
    /* Python semantics for the keys torch writes (strings, ints): a repeated key
     * replaces the value in place, keeping the first position. */
    for (uint32_t i = 0; i < dict->count; i++) {
        const struct ts_value *k = dict->keys[i];
        if (k->kind != key->kind)
            continue;
        if ((k->kind == TS_STRING && k->u.str.len == key->u.str.len &&
             memcmp(k->u.str.data, key->u.str.data, k->u.str.len) == 0) ||
            (k->kind == TS_INT && k->u.i == key->u.i)) {
            dict->values[i] = value;
            return D2_OK;
        }
    }
    uint32_t cap = dict->capacity;
    if (!grow(vm, &dict->keys, dict->count, &cap, dict->count + 1) ||
        !grow(vm, &dict->values, dict->count, &dict->capacity, dict->count + 1))
        return ts_vm_error(vm, D2_ERR_NOMEM, "dict too large (%u items)", dict->count);
    dict->keys[dict->count] = key;
    dict->values[dict->count++] = value;
    return D2_OK;
}

/* ---- input ------------------------------------------------------------------ */

static enum d2_status take(struct ts_vm *vm, size_t n, const uint8_t **out)
{
    if (n > vm->size - vm->pos)
        return ts_vm_error(vm, D2_ERR_PARSE, "truncated: opcode 0x%02x needs %zu more bytes, %zu left",
                           vm->data[vm->op_pos], n, vm->size - vm->pos);
    *out = vm->data + vm->pos;
    vm->pos += n;
    return D2_OK;
}

static uint64_t le_uint(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

/* A newline-terminated line (GLOBAL's module and name), copied NUL-terminated. */
static enum d2_status read_line(struct ts_vm *vm, char *buf, size_t cap)
{
    const uint8_t *start = vm->data + vm->pos;
    const uint8_t *nl = memchr(start, '\n', vm->size - vm->pos);
    if (!nl)
        return ts_vm_error(vm, D2_ERR_PARSE, "truncated: GLOBAL without a newline");
    size_t len = (size_t)(nl - start);
    if (len >= cap || memchr(start, 0, len))
        return ts_vm_error(vm, D2_ERR_PARSE, "GLOBAL name too long or not text");
    memcpy(buf, start, len);
    buf[len] = '\0';
    vm->pos += len + 1;
    return D2_OK;
}

/* ---- stack, marks, memo --------------------------------------------------------- */

static enum d2_status push(struct ts_vm *vm, struct ts_value *v)
{
    if (!v)
        return vm->err->code ? vm->err->code : D2_ERR_NOMEM;
    if (vm->stack_len == vm->stack_cap) {
        if (vm->stack_cap >= TS_PICKLE_MAX_STACK)
            return ts_vm_error(vm, D2_ERR_PARSE, "stack deeper than %u", TS_PICKLE_MAX_STACK);
        uint32_t cap = vm->stack_cap ? vm->stack_cap * 2 : 64;
        struct ts_value **n = d2_realloc(vm->alloc, vm->stack, (size_t)cap * sizeof *n);
        if (!n)
            return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory for the stack");
        vm->stack = n;
        vm->stack_cap = cap;
    }
    vm->stack[vm->stack_len++] = v;
    return D2_OK;
}

/* The floor of the current frame: values above the last MARK are the only ones an
 * opcode that does not consume the mark may pop. */
static uint32_t frame_floor(const struct ts_vm *vm)
{
    return vm->marks_len ? vm->marks[vm->marks_len - 1] : 0;
}

static enum d2_status pop(struct ts_vm *vm, struct ts_value **out)
{
    if (vm->stack_len <= frame_floor(vm))
        return ts_vm_error(vm, D2_ERR_PARSE, "stack underflow (opcode 0x%02x)", vm->data[vm->op_pos]);
    *out = vm->stack[--vm->stack_len];
    return D2_OK;
}

static enum d2_status top(struct ts_vm *vm, struct ts_value **out)
{
    if (vm->stack_len <= frame_floor(vm))
        return ts_vm_error(vm, D2_ERR_PARSE, "stack underflow (opcode 0x%02x)", vm->data[vm->op_pos]);
    *out = vm->stack[vm->stack_len - 1];
    return D2_OK;
}

/* Pop the last MARK: *first is the stack index of the first value above it. */
static enum d2_status pop_mark(struct ts_vm *vm, uint32_t *first)
{
    if (vm->marks_len == 0)
        return ts_vm_error(vm, D2_ERR_PARSE, "no MARK for opcode 0x%02x", vm->data[vm->op_pos]);
    *first = vm->marks[--vm->marks_len];
    return D2_OK;
}

static enum d2_status memo_put(struct ts_vm *vm, uint64_t index)
{
    struct ts_value *v = NULL;
    enum d2_status st = top(vm, &v);
    if (st != D2_OK)
        return st;
    /* Picklers number memo entries 0, 1, 2, ...: an index beyond the program's
     * length cannot come from one and would only make us allocate. */
    if (index > vm->size || index >= UINT32_MAX)
        return ts_vm_error(vm, D2_ERR_PARSE, "memo index %llu out of range", (unsigned long long)index);
    if (index >= vm->memo_cap) {
        uint32_t cap = vm->memo_cap ? vm->memo_cap : 64;
        while (cap <= index)
            cap *= 2;
        struct ts_value **n = d2_realloc(vm->alloc, vm->memo, (size_t)cap * sizeof *n);
        if (!n)
            return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory for the memo");
        memset(n + vm->memo_cap, 0, (size_t)(cap - vm->memo_cap) * sizeof *n);
        vm->memo = n;
        vm->memo_cap = cap;
    }
    if (!vm->memo[index])
        vm->memo_count++;
    vm->memo[index] = v;
    return D2_OK;
}

static enum d2_status memo_get(struct ts_vm *vm, uint64_t index)
{
    if (index >= vm->memo_cap || !vm->memo[index])
        return ts_vm_error(vm, D2_ERR_PARSE, "memo index %llu was never stored", (unsigned long long)index);
    return push(vm, vm->memo[index]);
}

/* ---- value makers ----------------------------------------------------------------- */

static enum d2_status push_int(struct ts_vm *vm, int64_t i)
{
    struct ts_value *v = ts_vm_new(vm, TS_INT);
    if (v)
        v->u.i = i;
    return push(vm, v);
}

static enum d2_status push_bool(struct ts_vm *vm, bool b)
{
    struct ts_value *v = ts_vm_new(vm, TS_BOOL);
    if (v)
        v->u.b = b;
    return push(vm, v);
}

static enum d2_status push_text(struct ts_vm *vm, enum ts_kind kind, size_t len_bytes)
{
    const uint8_t *p = NULL;
    enum d2_status st = take(vm, len_bytes, &p);
    if (st != D2_OK)
        return st;
    uint64_t len = le_uint(p, (unsigned)len_bytes);
    if (len > vm->size - vm->pos)
        return ts_vm_error(vm, D2_ERR_PARSE, "truncated: %s of %llu bytes, %zu left",
                           kind == TS_STRING ? "string" : "bytes", (unsigned long long)len, vm->size - vm->pos);
    if ((st = take(vm, (size_t)len, &p)) != D2_OK)
        return st;
    struct ts_value *v = ts_vm_new(vm, kind);
    if (!v)
        return vm->err->code;
    char *s = d2_arena_alloc(vm->arena, (size_t)len + 1);
    if (!s)
        return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory for a %llu-byte string", (unsigned long long)len);
    memcpy(s, p, (size_t)len);
    s[len] = '\0';
    v->u.str.data = s;
    v->u.str.len = (size_t)len;
    return push(vm, v);
}

/* LONG1 / LONG4: little-endian two's complement of n bytes. */
static enum d2_status push_long(struct ts_vm *vm, unsigned len_bytes)
{
    const uint8_t *p = NULL;
    enum d2_status st = take(vm, len_bytes, &p);
    if (st != D2_OK)
        return st;
    uint64_t n = le_uint(p, len_bytes);
    if (n > vm->size - vm->pos)
        return ts_vm_error(vm, D2_ERR_PARSE, "truncated: %llu-byte integer", (unsigned long long)n);
    if ((st = take(vm, (size_t)n, &p)) != D2_OK)
        return st;
    if (n == 0)
        return push_int(vm, 0);
    bool negative = (p[n - 1] & 0x80) != 0;
    /* Bytes beyond the eighth must be pure sign extension. */
    for (uint64_t i = 8; i < n; i++)
        if (p[i] != (negative ? 0xFF : 0x00))
            return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "integer wider than 64 bits");
    unsigned used = n < 8 ? (unsigned)n : 8;
    uint64_t u = le_uint(p, used);
    if (negative && used < 8)
        u |= ~(uint64_t)0 << (8 * used);
    if (n > 8 && (((u >> 63) != 0) != negative))
        return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "integer wider than 64 bits");
    int64_t i;
    memcpy(&i, &u, sizeof i);
    return push_int(vm, i);
}

/* Collect stack[first..] into a new sequence value of `kind` and pop them. */
static enum d2_status push_collected(struct ts_vm *vm, enum ts_kind kind, uint32_t first)
{
    struct ts_value *v = ts_vm_new(vm, kind);
    if (!v)
        return vm->err->code;
    uint32_t n = vm->stack_len - first;
    if (n) {
        if (!grow(vm, &v->u.seq.items, 0, &v->u.seq.capacity, n))
            return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory for %u items", n);
        memcpy(v->u.seq.items, vm->stack + first, (size_t)n * sizeof *v->u.seq.items);
        v->u.seq.count = n;
    }
    vm->stack_len = first;
    return push(vm, v);
}

static enum d2_status push_small_tuple(struct ts_vm *vm, uint32_t n)
{
    if (vm->stack_len - frame_floor(vm) < n)
        return ts_vm_error(vm, D2_ERR_PARSE, "stack underflow (TUPLE%u)", n);
    return push_collected(vm, TS_TUPLE, vm->stack_len - n);
}

/* APPEND(S) / ADDITEMS: add stack[first..] to the container below them. */
static enum d2_status extend(struct ts_vm *vm, uint32_t first, bool want_set)
{
    if (first == 0 || first - 1 < frame_floor(vm))
        return ts_vm_error(vm, D2_ERR_PARSE, "stack underflow: nothing to append to");
    struct ts_value *target = vm->stack[first - 1];
    if (target->kind != (want_set ? TS_SET : TS_LIST))
        return ts_vm_error(vm, D2_ERR_PARSE, "%s to a %s", want_set ? "ADDITEMS" : "APPEND",
                           ts_kind_name(target->kind));
    for (uint32_t i = first; i < vm->stack_len; i++) {
        enum d2_status st = ts_vm_seq_push(vm, &target->u.seq, vm->stack[i]);
        if (st != D2_OK)
            return st;
    }
    vm->stack_len = first;
    return D2_OK;
}

/* SETITEM(S): key/value pairs from stack[first..] into the dict below them. */
static enum d2_status set_items(struct ts_vm *vm, uint32_t first)
{
    if (first == 0 || first - 1 < frame_floor(vm))
        return ts_vm_error(vm, D2_ERR_PARSE, "stack underflow: no dict for SETITEM");
    struct ts_value *target = vm->stack[first - 1];
    if (target->kind != TS_DICT)
        return ts_vm_error(vm, D2_ERR_PARSE, "SETITEM on a %s", ts_kind_name(target->kind));
    if ((vm->stack_len - first) % 2 != 0)
        return ts_vm_error(vm, D2_ERR_PARSE, "SETITEMS with an odd number of values");
    for (uint32_t i = first; i < vm->stack_len; i += 2) {
        enum d2_status st = ts_vm_dict_set(vm, &target->u.dict, vm->stack[i], vm->stack[i + 1]);
        if (st != D2_OK)
            return st;
    }
    vm->stack_len = first;
    return D2_OK;
}

static enum d2_status do_mark(struct ts_vm *vm)
{
    if (vm->marks_len == vm->marks_cap) {
        if (vm->marks_cap >= TS_PICKLE_MAX_STACK)
            return ts_vm_error(vm, D2_ERR_PARSE, "more than %u open MARKs", TS_PICKLE_MAX_STACK);
        uint32_t cap = vm->marks_cap ? vm->marks_cap * 2 : 32;
        uint32_t *n = d2_realloc(vm->alloc, vm->marks, (size_t)cap * sizeof *n);
        if (!n)
            return ts_vm_error(vm, D2_ERR_NOMEM, "out of memory for marks");
        vm->marks = n;
        vm->marks_cap = cap;
    }
    vm->marks[vm->marks_len++] = vm->stack_len;
    return D2_OK;
}

static enum d2_status do_global(struct ts_vm *vm, bool from_stack)
{
    char module[MAX_GLOBAL_NAME], name[MAX_GLOBAL_NAME];
    enum d2_status st;
    if (from_stack) {
        struct ts_value *n, *m;
        if ((st = pop(vm, &n)) != D2_OK || (st = pop(vm, &m)) != D2_OK)
            return st;
        if (m->kind != TS_STRING || n->kind != TS_STRING || m->u.str.len >= MAX_GLOBAL_NAME ||
            n->u.str.len >= MAX_GLOBAL_NAME)
            return ts_vm_error(vm, D2_ERR_PARSE, "STACK_GLOBAL needs two short strings");
        memcpy(module, m->u.str.data, m->u.str.len + 1);
        memcpy(name, n->u.str.data, n->u.str.len + 1);
    } else if ((st = read_line(vm, module, sizeof module)) != D2_OK ||
               (st = read_line(vm, name, sizeof name)) != D2_OK) {
        return st;
    }
    struct ts_value *v = NULL;
    if ((st = ts_torch_global(vm, module, name, &v)) != D2_OK)
        return st;
    return push(vm, v);
}

/* Binary operators on the stack: REDUCE, NEWOBJ, BUILD. */
static enum d2_status do_call(struct ts_vm *vm, int op)
{
    struct ts_value *a = NULL, *b = NULL, *out = NULL;
    enum d2_status st;
    if ((st = pop(vm, &b)) != D2_OK || (st = pop(vm, &a)) != D2_OK)
        return st;
    if (op == OP_BUILD) {
        if ((st = ts_torch_build(vm, a, b)) != D2_OK)
            return st;
        return push(vm, a);
    }
    if (b->kind != TS_TUPLE)
        return ts_vm_error(vm, D2_ERR_PARSE, "%s arguments are a %s, not a tuple", op == OP_REDUCE ? "REDUCE" : "NEWOBJ",
                           ts_kind_name(b->kind));
    st = op == OP_REDUCE ? ts_torch_reduce(vm, a, b, &out) : ts_torch_newobj(vm, a, b, &out);
    if (st != D2_OK)
        return st;
    return push(vm, out);
}

static enum d2_status step(struct ts_vm *vm, int op, bool *stopped)
{
    const uint8_t *p = NULL;
    struct ts_value *v = NULL;
    uint32_t first = 0;
    enum d2_status st;
    switch (op) {
    case OP_PROTO:
        if ((st = take(vm, 1, &p)) != D2_OK)
            return st;
        if (p[0] > 5)
            return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "pickle protocol %u (at most 5)", p[0]);
        return D2_OK;
    case OP_FRAME: /* a hint for buffered readers; we have everything in memory */
        return take(vm, 8, &p);
    case OP_STOP:
        *stopped = true;
        return D2_OK;
    case OP_MARK: return do_mark(vm);
    case OP_POP: return pop(vm, &v);
    case OP_POP_MARK:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        vm->stack_len = first;
        return D2_OK;
    case OP_DUP:
        if ((st = top(vm, &v)) != D2_OK)
            return st;
        return push(vm, v);
    case OP_BININT:
        if ((st = take(vm, 4, &p)) != D2_OK)
            return st;
        return push_int(vm, (int32_t)(uint32_t)le_uint(p, 4));
    case OP_BININT1:
        if ((st = take(vm, 1, &p)) != D2_OK)
            return st;
        return push_int(vm, p[0]);
    case OP_BININT2:
        if ((st = take(vm, 2, &p)) != D2_OK)
            return st;
        return push_int(vm, (int64_t)le_uint(p, 2));
    case OP_LONG1: return push_long(vm, 1);
    case OP_LONG4: return push_long(vm, 4);
    case OP_BINFLOAT: {
        if ((st = take(vm, 8, &p)) != D2_OK)
            return st;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = (bits << 8) | p[i]; /* big-endian */
        if (!(v = ts_vm_new(vm, TS_FLOAT)))
            return vm->err->code;
        memcpy(&v->u.f, &bits, sizeof v->u.f);
        return push(vm, v);
    }
    case OP_SHORT_BINUNICODE: return push_text(vm, TS_STRING, 1);
    case OP_BINUNICODE: return push_text(vm, TS_STRING, 4);
    case OP_BINUNICODE8: return push_text(vm, TS_STRING, 8);
    case OP_SHORT_BINSTRING: return push_text(vm, TS_STRING, 1); /* Python 2 str */
    case OP_BINSTRING: return push_text(vm, TS_STRING, 4);
    case OP_SHORT_BINBYTES: return push_text(vm, TS_BYTES, 1);
    case OP_BINBYTES: return push_text(vm, TS_BYTES, 4);
    case OP_BINBYTES8: return push_text(vm, TS_BYTES, 8);
    case OP_BYTEARRAY8: return push_text(vm, TS_BYTES, 8);
    case OP_NONE: return push(vm, ts_vm_new(vm, TS_NONE));
    case OP_NEWTRUE: return push_bool(vm, true);
    case OP_NEWFALSE: return push_bool(vm, false);
    case OP_EMPTY_TUPLE: return push(vm, ts_vm_new(vm, TS_TUPLE));
    case OP_TUPLE1: return push_small_tuple(vm, 1);
    case OP_TUPLE2: return push_small_tuple(vm, 2);
    case OP_TUPLE3: return push_small_tuple(vm, 3);
    case OP_TUPLE:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        return push_collected(vm, TS_TUPLE, first);
    case OP_LIST:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        return push_collected(vm, TS_LIST, first);
    case OP_EMPTY_LIST: return push(vm, ts_vm_new(vm, TS_LIST));
    case OP_APPEND:
        if (vm->stack_len < 2)
            return ts_vm_error(vm, D2_ERR_PARSE, "stack underflow (APPEND)");
        return extend(vm, vm->stack_len - 1, false);
    case OP_APPENDS:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        return extend(vm, first, false);
    case OP_EMPTY_DICT: return push(vm, ts_vm_new(vm, TS_DICT));
    case OP_DICT:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        if (!(v = ts_vm_new(vm, TS_DICT)))
            return vm->err->code;
        if ((vm->stack_len - first) % 2 != 0)
            return ts_vm_error(vm, D2_ERR_PARSE, "DICT with an odd number of values");
        for (uint32_t i = first; i < vm->stack_len; i += 2)
            if ((st = ts_vm_dict_set(vm, &v->u.dict, vm->stack[i], vm->stack[i + 1])) != D2_OK)
                return st;
        vm->stack_len = first;
        return push(vm, v);
    case OP_SETITEM:
        if (vm->stack_len < 3)
            return ts_vm_error(vm, D2_ERR_PARSE, "stack underflow (SETITEM)");
        return set_items(vm, vm->stack_len - 2);
    case OP_SETITEMS:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        return set_items(vm, first);
    case OP_EMPTY_SET: return push(vm, ts_vm_new(vm, TS_SET));
    case OP_ADDITEMS:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        return extend(vm, first, true);
    case OP_FROZENSET:
        if ((st = pop_mark(vm, &first)) != D2_OK)
            return st;
        return push_collected(vm, TS_SET, first);
    case OP_GLOBAL: return do_global(vm, false);
    case OP_STACK_GLOBAL: return do_global(vm, true);
    case OP_REDUCE: case OP_NEWOBJ: case OP_BUILD: return do_call(vm, op);
    case OP_NEWOBJ_EX: {
        struct ts_value *kwargs;
        if ((st = pop(vm, &kwargs)) != D2_OK)
            return st;
        if (kwargs->kind != TS_DICT || kwargs->u.dict.count != 0)
            return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "NEWOBJ_EX with keyword arguments");
        return do_call(vm, OP_NEWOBJ);
    }
    case OP_BINPERSID: {
        struct ts_value *pid, *out = NULL;
        if ((st = pop(vm, &pid)) != D2_OK)
            return st;
        if ((st = ts_torch_persistent_load(vm, pid, &out)) != D2_OK)
            return st;
        return push(vm, out);
    }
    case OP_BINPUT:
        if ((st = take(vm, 1, &p)) != D2_OK)
            return st;
        return memo_put(vm, p[0]);
    case OP_LONG_BINPUT:
        if ((st = take(vm, 4, &p)) != D2_OK)
            return st;
        return memo_put(vm, le_uint(p, 4));
    case OP_MEMOIZE:
        return memo_put(vm, vm->memo_count);
    case OP_BINGET:
        if ((st = take(vm, 1, &p)) != D2_OK)
            return st;
        return memo_get(vm, p[0]);
    case OP_LONG_BINGET:
        if ((st = take(vm, 4, &p)) != D2_OK)
            return st;
        return memo_get(vm, le_uint(p, 4));
    default:
        if (op >= 0x20 && op < 0x7f)
            return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "pickle opcode '%c' (0x%02x) is not supported", op, op);
        return ts_vm_error(vm, D2_ERR_UNSUPPORTED, "pickle opcode 0x%02x is not supported", op);
    }
}

enum d2_status ts_pickle_parse(const uint8_t *data, size_t size, const char *what,
                               const struct ts_pickle_options *opts, struct d2_arena *arena,
                               struct ts_value **out, struct d2_error *err)
{
    static const struct ts_pickle_options no_options;
    struct ts_vm vm;
    memset(&vm, 0, sizeof vm);
    vm.data = data;
    vm.size = data ? size : 0;
    vm.what = what ? what : "pickle";
    vm.opts = opts ? opts : &no_options;
    vm.arena = arena;
    vm.alloc = arena->alloc ? arena->alloc : d2_allocator_default();
    vm.err = err;
    *out = NULL;

    enum d2_status st = D2_OK;
    bool stopped = false;
    while (st == D2_OK && !stopped) {
        vm.op_pos = vm.pos;
        if (vm.pos >= vm.size) {
            st = ts_vm_error(&vm, D2_ERR_PARSE, "truncated: no STOP opcode");
            break;
        }
        st = step(&vm, vm.data[vm.pos++], &stopped);
    }
    if (st == D2_OK) {
        if (vm.stack_len != 1)
            st = ts_vm_error(&vm, D2_ERR_PARSE, "STOP with %u values on the stack (expected 1)", vm.stack_len);
        else if (vm.marks_len != 0)
            st = ts_vm_error(&vm, D2_ERR_PARSE, "STOP with %u unclosed MARKs", vm.marks_len);
        else
            *out = vm.stack[0];
    }
    d2_free(vm.alloc, vm.stack);
    d2_free(vm.alloc, vm.marks);
    d2_free(vm.alloc, vm.memo);
    return st;
}
