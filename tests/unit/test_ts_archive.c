/* tests/unit/test_ts_archive.c: the TorchScript archive reader (frontend/torchscript/
 * ts_zip.c, ts_pickle*.c, ts_archive.c, ts_module.c).
 *
 * Data: tests/data/torchscript/, made by tools/make_ts_fixtures.py with torch (expected
 * tensors as .npy written from torch's own view of each tensor, module/parameter/buffer
 * counts from torch's named_modules/parameters/buffers in modules.txt), plus the shared
 * detectron2 fixtures (torch 1.13 archives) when /work/shared/fixtures is present
 * (D2RT_SHARED_FIXTURES overrides the path; missing: those checks are skipped).
 *
 * Zip: stored, deflated, zip64 (hand-built), bad CRC, size lies (bomb, short, long),
 *      every truncation, every single-byte corruption of a small archive.
 * Pickle: each opcode in a hand-written program with its expected value; torch's
 *      globals (tensor rebuild with strides/offsets, parameters, lists, type tags);
 *      malformed programs each failing with a status; every truncation of each program.
 * Archive: every .npy matches the tensor the reader finds (by module path, saved dict
 *      key or CONSTANTS index), module tree counts and roles, attributes, sources,
 *      extra files, zero-copy of stored tensors, legacy format refusal, corruption.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/torchscript/ts_archive.h"
#include "runtime/npy.h"

#define DATA "tests/data/torchscript/"
static const char HELLO_LINE[] = "hello, zip reader\n";

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)n + 1);
    ck_assert(fread(data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static const char *shared_dir(void)
{
    const char *env = getenv("D2RT_SHARED_FIXTURES");
    const char *dir = env && *env ? env : "/work/shared/fixtures";
    char probe[512];
    snprintf(probe, sizeof probe, "%s/detectron2/mask_rcnn/tracing_torchscript/model.ts", dir);
    FILE *f = fopen(probe, "rb");
    if (!f)
        return NULL;
    fclose(f);
    return dir;
}

/* ================================================================== zip */

static void check_hello(const uint8_t *data, size_t size)
{
    ck_assert_uint_eq(size, 4 * strlen(HELLO_LINE));
    for (int i = 0; i < 4; i++)
        ck_assert(memcmp(data + i * strlen(HELLO_LINE), HELLO_LINE, strlen(HELLO_LINE)) == 0);
}

static void read_hello(const char *file, bool expect_owned)
{
    size_t size;
    unsigned char *img = slurp(file, &size);
    struct d2_error err = { D2_OK, "" };
    struct ts_zip zip;
    ck_assert_msg(ts_zip_open(&zip, img, size, NULL, &err) == D2_OK, "%s: %s", file, err.message);
    ck_assert_uint_eq(zip.num_entries, 1);
    int64_t i = ts_zip_find(&zip, "dir/hello.txt");
    ck_assert_int_eq(i, 0);
    ck_assert_int_eq(ts_zip_find(&zip, "dir/hello"), -1);
    const uint8_t *data;
    size_t n;
    bool owned;
    ck_assert_msg(ts_zip_read(&zip, 0, &data, &n, &owned, &err) == D2_OK, "%s", err.message);
    check_hello(data, n);
    ck_assert(owned == expect_owned);
    if (!owned) /* stored: zero copy, inside the image */
        ck_assert(data >= img && data + n <= img + size);
    else
        d2_free(d2_allocator_default(), (void *)(uintptr_t)data);
    ts_zip_close(&zip);
    free(img);
}

START_TEST(zip_stored_deflated_zip64)
{
    read_hello(DATA "zip_stored.zip", false);
    read_hello(DATA "zip_deflated.zip", true);
    read_hello(DATA "zip_zip64.zip", false);
}
END_TEST

START_TEST(zip_bad_crc)
{
    size_t size;
    unsigned char *img = slurp(DATA "zip_badcrc.zip", &size);
    struct d2_error err = { D2_OK, "" };
    struct ts_zip zip;
    const uint8_t *data;
    size_t n;
    bool owned;
    ck_assert(ts_zip_open(&zip, img, size, NULL, &err) == D2_OK);
    ck_assert_int_eq(ts_zip_read(&zip, 0, &data, &n, &owned, &err), D2_ERR_PARSE);
    ck_assert_msg(strstr(err.message, "CRC32") && strstr(err.message, "dir/hello.txt"), "%s", err.message);
    ts_zip_close(&zip);
    free(img);
}
END_TEST

/* Patch the uncompressed size in the central directory of zip_deflated.zip. */
static enum d2_status read_with_declared_size(uint32_t declared, struct d2_error *err)
{
    size_t size;
    unsigned char *img = slurp(DATA "zip_deflated.zip", &size);
    unsigned char *cd = NULL;
    for (size_t p = 0; p + 4 <= size; p++)
        if (memcmp(img + p, "PK\1\2", 4) == 0)
            cd = img + p;
    ck_assert(cd != NULL);
    for (int b = 0; b < 4; b++)
        cd[24 + b] = (unsigned char)(declared >> (8 * b));
    struct ts_zip zip;
    const uint8_t *data = NULL;
    size_t n;
    bool owned = false;
    enum d2_status st = ts_zip_open(&zip, img, size, NULL, err);
    ck_assert_int_eq(st, D2_OK);
    st = ts_zip_read(&zip, 0, &data, &n, &owned, err);
    if (owned)
        d2_free(d2_allocator_default(), (void *)(uintptr_t)data);
    ts_zip_close(&zip);
    free(img);
    return st;
}

START_TEST(zip_size_lies)
{
    struct d2_error err = { D2_OK, "" };
    uint32_t real = (uint32_t)(4 * strlen(HELLO_LINE));
    ck_assert_int_eq(read_with_declared_size(real, &err), D2_OK);
    d2_error_clear(&err);
    ck_assert_int_eq(read_with_declared_size(0x7FFFFFFFu, &err), D2_ERR_PARSE);
    ck_assert_msg(strstr(err.message, "zip bomb"), "%s", err.message);
    d2_error_clear(&err);
    ck_assert_int_eq(read_with_declared_size(real + 1, &err), D2_ERR_PARSE);
    ck_assert_msg(strstr(err.message, "not the declared"), "%s", err.message);
    d2_error_clear(&err);
    ck_assert_int_eq(read_with_declared_size(real - 1, &err), D2_ERR_PARSE);
    ck_assert_msg(strstr(err.message, "more than"), "%s", err.message);
}
END_TEST

START_TEST(zip_every_truncation_and_corruption)
{
    static const char *const files[] = { DATA "zip_stored.zip", DATA "zip_deflated.zip", DATA "zip_zip64.zip" };
    for (size_t f = 0; f < 3; f++) {
        size_t size;
        unsigned char *img = slurp(files[f], &size);
        for (size_t len = 0; len < size; len++) {
            struct d2_error err = { D2_OK, "" };
            struct ts_zip zip;
            unsigned char *cut = malloc(len + 1);
            memcpy(cut, img, len);
            ck_assert_msg(ts_zip_open(&zip, cut, len, NULL, &err) != D2_OK, "%s cut at %zu opened", files[f], len);
            ck_assert(err.message[0] != '\0');
            free(cut);
        }
        /* Any single corrupted byte: open and read either succeed or fail with a
         * message, never touch memory outside the image (run under SAN=1). */
        int failures = 0;
        for (size_t at = 0; at < size; at++) {
            unsigned char *bad = malloc(size);
            memcpy(bad, img, size);
            bad[at] ^= 0x41;
            struct d2_error err = { D2_OK, "" };
            struct ts_zip zip;
            const uint8_t *data;
            size_t n;
            bool owned = false;
            enum d2_status st = ts_zip_open(&zip, bad, size, NULL, &err);
            if (st == D2_OK) {
                for (uint32_t i = 0; i < zip.num_entries && st == D2_OK; i++) {
                    st = ts_zip_read(&zip, i, &data, &n, &owned, &err);
                    if (st == D2_OK && owned)
                        d2_free(d2_allocator_default(), (void *)(uintptr_t)data);
                }
                ts_zip_close(&zip);
            }
            if (st != D2_OK) {
                ck_assert(err.message[0] != '\0');
                failures++;
            }
            free(bad);
        }
        ck_assert_int_gt(failures, 0);
        free(img);
    }
}
END_TEST

START_TEST(zip_not_a_zip)
{
    struct d2_error err = { D2_OK, "" };
    struct ts_zip zip;
    ck_assert_int_eq(ts_zip_open(&zip, "hello", 5, NULL, &err), D2_ERR_PARSE);
    size_t size;
    unsigned char *img = slurp(DATA "legacy.pt", &size);
    d2_error_clear(&err);
    ck_assert_int_eq(ts_zip_open(&zip, img, size, NULL, &err), D2_ERR_PARSE);
    ck_assert_msg(strstr(err.message, "legacy"), "%s", err.message);
    free(img);
    d2_error_clear(&err);
    ck_assert(ts_archive_open_file(DATA "legacy.pt", NULL, &err) == NULL);
    ck_assert_msg(strstr(err.message, "legacy"), "%s", err.message);
}
END_TEST

/* ================================================================ pickle */

/* Six float32 values 0..5 for storage key "0"; other keys are missing. */
static const float storage0[6] = { 0, 1, 2, 3, 4, 5 };
static enum d2_status test_storage(void *user, const char *key, const uint8_t **data, size_t *size,
                                   struct d2_error *err)
{
    (void)user;
    if (strcmp(key, "0") != 0)
        return d2_errorf(err, D2_ERR_PARSE, "no storage '%s'", key);
    *data = (const uint8_t *)storage0;
    *size = sizeof storage0;
    return D2_OK;
}

struct parsed {
    struct d2_arena arena;
    struct ts_value *value;
    struct d2_error err;
    enum d2_status status;
};

static void parse(struct parsed *p, const char *program, size_t len)
{
    struct ts_pickle_options opts = { test_storage, NULL, 1024 };
    d2_arena_init(&p->arena, d2_allocator_default());
    d2_error_clear(&p->err);
    /* Copy to an exact-size heap block so reads past the end are caught under SAN=1. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, program, len);
    p->status = ts_pickle_parse(copy, len, "test.pkl", &opts, &p->arena, &p->value, &p->err);
    free(copy);
    if (p->status != D2_OK)
        ck_assert_msg(p->err.message[0] != '\0', "failure without a message");
}

#define PARSE(p, lit) parse(p, lit, sizeof(lit) - 1)

static struct ts_value *ok(struct parsed *p, const char *lit, size_t len)
{
    parse(p, lit, len);
    ck_assert_msg(p->status == D2_OK, "program failed: %s", p->err.message);
    return p->value;
}
#define OK(p, lit) ok(p, lit, sizeof(lit) - 1)

static void done(struct parsed *p) { d2_arena_deinit(&p->arena); }

static void expect_int(const char *program, size_t len, int64_t want)
{
    struct parsed p;
    struct ts_value *v = ok(&p, program, len);
    ck_assert_int_eq(v->kind, TS_INT);
    ck_assert_int_eq(v->u.i, want);
    done(&p);
}
#define EXPECT_INT(lit, want) expect_int(lit, sizeof(lit) - 1, want)

START_TEST(pickle_scalars)
{
    EXPECT_INT("\x80\x02K\x05.", 5);
    EXPECT_INT("J\xff\xff\xff\xff.", -1);
    EXPECT_INT("J\x00\x00\x00\x80.", INT32_MIN);
    EXPECT_INT("M\x34\x12.", 0x1234);
    EXPECT_INT("\x8a\x00.", 0);
    EXPECT_INT("\x8a\x01\xff.", -1);
    EXPECT_INT("\x8a\x02\x00\x80.", -32768);
    EXPECT_INT("\x8a\x03\x00\x80\x00.", 32768);
    EXPECT_INT("\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.", INT64_MAX);
    EXPECT_INT("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\xff.", INT64_MIN);
    EXPECT_INT("\x8b\x02\x00\x00\x00\x00\x01.", 256);
    EXPECT_INT("\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x07.", 7); /* FRAME */
    struct parsed p;
    struct ts_value *v = OK(&p, "G\x3f\xf8\x00\x00\x00\x00\x00\x00.");
    ck_assert_int_eq(v->kind, TS_FLOAT);
    ck_assert(v->u.f == 1.5);
    done(&p);
    ck_assert_int_eq(OK(&p, "N.")->kind, TS_NONE);
    done(&p);
    v = OK(&p, "\x88.");
    ck_assert(v->kind == TS_BOOL && v->u.b);
    done(&p);
    v = OK(&p, "\x89.");
    ck_assert(v->kind == TS_BOOL && !v->u.b);
    done(&p);
    /* A 9-byte integer that does not fit in 64 bits. */
    PARSE(&p, "\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00.");
    ck_assert_int_eq(p.status, D2_ERR_UNSUPPORTED);
    done(&p);
}
END_TEST

START_TEST(pickle_strings)
{
    static const struct { const char *program; size_t len; enum ts_kind kind; } cases[] = {
        { "\x8c\x02hi.", 5, TS_STRING },
        { "X\x02\x00\x00\x00hi.", 8, TS_STRING },
        { "\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi.", 12, TS_STRING },
        { "U\x02hi.", 5, TS_STRING },
        { "T\x02\x00\x00\x00hi.", 8, TS_STRING },
        { "C\x02hi.", 5, TS_BYTES },
        { "B\x02\x00\x00\x00hi.", 8, TS_BYTES },
        { "\x8e\x02\x00\x00\x00\x00\x00\x00\x00hi.", 12, TS_BYTES },
        { "\x96\x02\x00\x00\x00\x00\x00\x00\x00hi.", 12, TS_BYTES },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct parsed p;
        struct ts_value *v = ok(&p, cases[i].program, cases[i].len);
        ck_assert_int_eq(v->kind, cases[i].kind);
        ck_assert_uint_eq(v->u.str.len, 2);
        ck_assert_str_eq(v->u.str.data, "hi");
        done(&p);
    }
}
END_TEST

static void expect_ints(const struct ts_value *v, enum ts_kind kind, int n, const int64_t *want)
{
    ck_assert_msg(v->kind == kind, "got a %s, want a %s", ts_kind_name(v->kind), ts_kind_name(kind));
    ck_assert_uint_eq(v->u.seq.count, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(v->u.seq.items[i]->kind, TS_INT);
        ck_assert_int_eq(v->u.seq.items[i]->u.i, want[i]);
    }
}

START_TEST(pickle_containers)
{
    static const int64_t w[] = { 1, 2, 3, 4 };
    struct parsed p;
    expect_ints(OK(&p, ")."), TS_TUPLE, 0, w); done(&p);
    expect_ints(OK(&p, "K\x01\x85."), TS_TUPLE, 1, w); done(&p);
    expect_ints(OK(&p, "K\x01K\x02\x86."), TS_TUPLE, 2, w); done(&p);
    expect_ints(OK(&p, "K\x01K\x02K\x03\x87."), TS_TUPLE, 3, w); done(&p);
    expect_ints(OK(&p, "(K\x01K\x02K\x03K\x04t."), TS_TUPLE, 4, w); done(&p);
    expect_ints(OK(&p, "]."), TS_LIST, 0, w); done(&p);
    expect_ints(OK(&p, "]K\x01" "a."), TS_LIST, 1, w); done(&p);
    expect_ints(OK(&p, "](K\x01K\x02K\x03" "e."), TS_LIST, 3, w); done(&p);
    expect_ints(OK(&p, "(K\x01K\x02l."), TS_LIST, 2, w); done(&p);
    expect_ints(OK(&p, "\x8f(K\x01K\x02\x90."), TS_SET, 2, w); done(&p);
    expect_ints(OK(&p, "(K\x01\x91."), TS_SET, 1, w); done(&p);
    /* MARK, POP, POP_MARK, DUP */
    expect_ints(OK(&p, "K\x01K\x09" "0\x85."), TS_TUPLE, 1, w); done(&p);
    expect_ints(OK(&p, "K\x01(K\x07K\x08" "1\x85."), TS_TUPLE, 1, w); done(&p);
    struct ts_value *v = OK(&p, "K\x03" "2\x86.");
    static const int64_t three[] = { 3, 3 };
    expect_ints(v, TS_TUPLE, 2, three);
    done(&p);
    /* dicts: SETITEM, SETITEMS, DICT; a repeated key keeps its place, takes the new value */
    v = OK(&p, "}\x8c\x01" "aK\x01s.");
    ck_assert_int_eq(ts_dict_get(v, "a")->u.i, 1);
    done(&p);
    v = OK(&p, "}(\x8c\x01" "aK\x01\x8c\x01" "bK\x02\x8c\x01" "aK\x03u.");
    ck_assert_uint_eq(v->u.dict.count, 2);
    ck_assert_str_eq(v->u.dict.keys[0]->u.str.data, "a");
    ck_assert_int_eq(ts_dict_get(v, "a")->u.i, 3);
    ck_assert_int_eq(ts_dict_get(v, "b")->u.i, 2);
    ck_assert(ts_dict_get(v, "c") == NULL);
    done(&p);
    v = OK(&p, "(\x8c\x01" "aK\x01" "d.");
    ck_assert_int_eq(ts_dict_get(v, "a")->u.i, 1);
    done(&p);
}
END_TEST

START_TEST(pickle_memo)
{
    static const int64_t w[] = { 5, 5 };
    struct parsed p;
    expect_ints(OK(&p, "K\x05q\x00" "0h\x00h\x00\x86."), TS_TUPLE, 2, w); done(&p);
    expect_ints(OK(&p, "K\x05r\x07\x00\x00\x00" "0j\x07\x00\x00\x00j\x07\x00\x00\x00\x86."), TS_TUPLE, 2, w); done(&p);
    expect_ints(OK(&p, "K\x05\x94" "0h\x00h\x00\x86."), TS_TUPLE, 2, w); done(&p);
    /* Shared references: the memo returns the same list, so an append shows in both. */
    struct ts_value *v = OK(&p, "]q\x00h\x00K\x05" "a\x86.");
    ck_assert(v->u.seq.items[0] == v->u.seq.items[1]);
    ck_assert_uint_eq(v->u.seq.items[0]->u.seq.count, 1);
    done(&p);
}
END_TEST

START_TEST(pickle_objects_and_globals)
{
    struct parsed p;
    struct ts_value *v = OK(&p, "c__torch__.foo\nBar\n)\x81}(\x8c\x01xK\x01ub.");
    ck_assert_int_eq(v->kind, TS_OBJECT);
    ck_assert_str_eq(v->u.object.class_name, "__torch__.foo.Bar");
    ck_assert_str_eq(ts_object_short_name(v), "Bar");
    ck_assert_int_eq(ts_object_attr(v, "x")->u.i, 1);
    done(&p);
    v = OK(&p, "\x8c\x0b__torch__.a\x8c\x01" "B\x93)\x81.");
    ck_assert_str_eq(v->u.object.class_name, "__torch__.a.B");
    ck_assert(v->u.object.state == NULL && v->u.object.args->kind == TS_TUPLE);
    done(&p);
    v = OK(&p, "\x8c\x0b__torch__.a\x8c\x01" "B\x93)}\x92.");  /* NEWOBJ_EX */
    ck_assert_int_eq(v->kind, TS_OBJECT);
    done(&p);
    v = OK(&p, "c__torch__.a\nB\nK\x01\x85R.");  /* REDUCE on a class */
    ck_assert_int_eq(v->u.object.args->u.seq.count, 1);
    done(&p);
    v = OK(&p, "ccollections\nOrderedDict\n)R.");
    ck_assert(v->kind == TS_DICT && v->u.dict.count == 0);
    done(&p);
    v = OK(&p, "ccollections\nOrderedDict\n]\x8c\x01kK\x02\x86" "a\x85R.");
    ck_assert_int_eq(ts_dict_get(v, "k")->u.i, 2);
    done(&p);
    v = OK(&p, "cbuiltins\nset\n](K\x01K\x02" "e\x85R.");
    ck_assert(v->kind == TS_SET && v->u.seq.count == 2);
    done(&p);
    v = OK(&p, "ctorch\nSize\n(K\x02K\x03t\x85R.");
    ck_assert(v->kind == TS_TUPLE && v->u.seq.count == 2);
    done(&p);
    v = OK(&p, "ctorch\ndevice\n\x8c\x03" "cpu\x85R.");
    ck_assert(v->kind == TS_STRING && strcmp(v->u.str.data, "cpu") == 0 && strcmp(v->type_tag, "Device") == 0);
    done(&p);
    v = OK(&p, "ctorch\nfloat32\n.");
    ck_assert(v->kind == TS_GLOBAL && strcmp(v->u.global.name, "float32") == 0);
    done(&p);
    static const int64_t w[] = { 1, 2 };
    v = OK(&p, "ctorch.jit._pickle\nbuild_intlist\n](K\x01K\x02" "e\x85R.");
    expect_ints(v, TS_LIST, 2, w);
    ck_assert_str_eq(v->type_tag, "List[int]");
    done(&p);
    v = OK(&p, "ctorch.jit._pickle\nrestore_type_tag\n}\x8c\x0e" "Dict[str, int]\x86R.");
    ck_assert(v->kind == TS_DICT && strcmp(v->type_tag, "Dict[str, int]") == 0);
    done(&p);
    /* Wrong element type for build_doublelist; unknown globals are named. */
    PARSE(&p, "ctorch.jit._pickle\nbuild_doublelist\n](K\x01" "e\x85R.");
    ck_assert_int_eq(p.status, D2_ERR_PARSE);
    done(&p);
    PARSE(&p, "cos\nsystem\n\x8c\x02ls\x85R.");
    ck_assert_int_eq(p.status, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(p.err.message, "'os.system'"), "%s", p.err.message);
    done(&p);
    PARSE(&p, "\x8c\x08" "builtins\x8c\x04" "eval\x93.");
    ck_assert_int_eq(p.status, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(p.err.message, "'builtins.eval'"), "%s", p.err.message);
    done(&p);
}
END_TEST

/* _rebuild_tensor_v2(storage '0' (6 floats), offset, size, stride, False, OrderedDict()). */
#define TENSOR(offset, size, stride)                                                                   \
    "ctorch._utils\n_rebuild_tensor_v2\n(" "(\x8c\x07storage" "ctorch\nFloatStorage\n\x8c\x01" "0\x8c\x03" \
    "cpuK\x06tQ" offset size stride "\x89" "ccollections\nOrderedDict\n)Rt" "R"

START_TEST(pickle_tensors)
{
    struct parsed p;
    /* contiguous [2,3]: zero copy */
    struct ts_value *v = OK(&p, TENSOR("K\x00", "K\x02K\x03\x86", "K\x03K\x01\x86") ".");
    ck_assert_int_eq(v->kind, TS_TENSOR);
    const struct d2_tensor *t = &v->u.tensor.tensor;
    ck_assert(t->dtype == D2_DTYPE_F32 && t->rank == 2 && t->dims[0] == 2 && t->dims[1] == 3);
    ck_assert(t->data == (const void *)storage0 && !v->u.tensor.copied && !t->owns_data);
    ck_assert_str_eq(v->u.tensor.storage_key, "0");
    done(&p);
    /* transposed view [3,2] strides (1,3): copied contiguous, element (i,j) = storage[i + 3j] */
    v = OK(&p, TENSOR("K\x00", "K\x03K\x02\x86", "K\x01K\x03\x86") ".");
    t = &v->u.tensor.tensor;
    ck_assert(v->u.tensor.copied);
    static const float transposed[6] = { 0, 3, 1, 4, 2, 5 };
    ck_assert(memcmp(t->data, transposed, sizeof transposed) == 0);
    done(&p);
    /* offset 2, [4] */
    v = OK(&p, TENSOR("K\x02", "K\x04\x85", "K\x01\x85") ".");
    ck_assert(v->u.tensor.tensor.data == (const void *)(storage0 + 2) && v->u.tensor.storage_offset == 2);
    done(&p);
    /* scalar and zero-size */
    v = OK(&p, TENSOR("K\x05", ")", ")") ".");
    ck_assert(v->u.tensor.tensor.rank == 0 && *(const float *)v->u.tensor.tensor.data == 5.0f);
    done(&p);
    v = OK(&p, TENSOR("K\x00", "K\x00K\x07\x86", "K\x07K\x01\x86") ".");
    ck_assert(v->u.tensor.tensor.nbytes == 0);
    done(&p);
    /* expanded [3,2] with stride 0 over 1 element: copied */
    v = OK(&p, TENSOR("K\x04", "K\x03K\x02\x86", "K\x00K\x00\x86") ".");
    for (int i = 0; i < 6; i++)
        ck_assert(((const float *)v->u.tensor.tensor.data)[i] == 4.0f);
    done(&p);
    /* a parameter */
    v = OK(&p, "ctorch._utils\n_rebuild_parameter\n(" TENSOR("K\x00", "K\x06\x85", "K\x01\x85") "\x88"
               "ccollections\nOrderedDict\n)Rt" "R.");
    ck_assert(v->kind == TS_TENSOR && v->u.tensor.is_parameter && v->u.tensor.requires_grad);
    done(&p);
    /* out of range: 7 elements of 6, offset past the end, wrong rank of strides */
    PARSE(&p, TENSOR("K\x00", "K\x07\x85", "K\x01\x85") ".");
    ck_assert_int_eq(p.status, D2_ERR_PARSE);
    ck_assert_msg(strstr(p.err.message, "storage '0'"), "%s", p.err.message);
    done(&p);
    PARSE(&p, TENSOR("K\x06", "K\x01\x85", "K\x01\x85") ".");
    ck_assert_int_eq(p.status, D2_ERR_PARSE);
    done(&p);
    PARSE(&p, TENSOR("K\x00", "K\x02K\x03\x86", "K\x01\x85") ".");
    ck_assert_int_eq(p.status, D2_ERR_PARSE);
    done(&p);
    /* copy budget (1024 bytes in these tests): [2^20] floats over stride 0 */
    PARSE(&p, TENSOR("K\x00", "J\x00\x00\x10\x00\x85", "K\x00\x85") ".");
    ck_assert_int_eq(p.status, D2_ERR_UNSUPPORTED);
    done(&p);
    /* a storage that is missing, or declares more elements than it holds */
    PARSE(&p, "(\x8c\x07storage" "ctorch\nFloatStorage\n\x8c\x01" "1\x8c\x03" "cpuK\x01tQ.");
    ck_assert_int_eq(p.status, D2_ERR_PARSE);
    done(&p);
    PARSE(&p, "(\x8c\x07storage" "ctorch\nFloatStorage\n\x8c\x01" "0\x8c\x03" "cpuK\x07tQ.");
    ck_assert_int_eq(p.status, D2_ERR_PARSE);
    done(&p);
    PARSE(&p, "(\x8c\x07storage" "ctorch\nFloatStorage\n\x8c\x04../0\x8c\x03" "cpuK\x01tQ.");
    ck_assert_int_eq(p.status, D2_ERR_PARSE);
    done(&p);
}
END_TEST

/* Each must fail with a status and a message. */
static const struct { const char *program; size_t len; enum d2_status want; } malformed[] = {
#define M(lit, st) { lit, sizeof(lit) - 1, st }
    M("", D2_ERR_PARSE),                       /* no STOP */
    M(".", D2_ERR_PARSE),                      /* empty stack at STOP */
    M("K\x01K\x02.", D2_ERR_PARSE),            /* two values at STOP */
    M("(K\x01.", D2_ERR_PARSE),                /* unclosed MARK */
    M("0.", D2_ERR_PARSE),                     /* POP underflow */
    M("(0K\x01.", D2_ERR_PARSE),               /* POP below a MARK */
    M("2.", D2_ERR_PARSE),                     /* DUP on nothing */
    M("a.", D2_ERR_PARSE),                     /* APPEND underflow */
    M("K\x01K\x02" "a.", D2_ERR_PARSE),        /* APPEND to an int */
    M("t.", D2_ERR_PARSE),                     /* TUPLE without MARK */
    M("1.", D2_ERR_PARSE),                     /* POP_MARK without MARK */
    M("K\x01\x86.", D2_ERR_PARSE),             /* TUPLE2 with one value */
    M("h\x00.", D2_ERR_PARSE),                 /* memo never stored */
    M("q\x00.", D2_ERR_PARSE),                 /* BINPUT on empty stack */
    M("K\x01r\xff\xff\xff\xff.", D2_ERR_PARSE), /* memo index out of range */
    M("K", D2_ERR_PARSE),                      /* truncated argument */
    M("X\xff\xff\xff\x7f", D2_ERR_PARSE),      /* string longer than the input */
    M("\x8a\x05\x01", D2_ERR_PARSE),           /* truncated LONG1 */
    M("}K\x01s.", D2_ERR_PARSE),               /* SETITEM underflow */
    M("K\x01K\x01K\x02s.", D2_ERR_PARSE),      /* SETITEM on an int */
    M("(K\x01" "d.", D2_ERR_PARSE),            /* DICT with an odd count */
    M("}(K\x01u.", D2_ERR_PARSE),              /* SETITEMS with an odd count */
    M("N)R.", D2_ERR_PARSE),                   /* REDUCE on None */
    M("ctorch\nSize\nK\x01R.", D2_ERR_PARSE),  /* REDUCE arguments not a tuple */
    M("N)\x81.", D2_ERR_PARSE),                /* NEWOBJ of None */
    M("K\x01Q.", D2_ERR_PARSE),                /* persistent id not a tuple */
    M("c__torch__\nA", D2_ERR_PARSE),          /* GLOBAL without newline */
    M("K\x01\x93.", D2_ERR_PARSE),             /* STACK_GLOBAL underflow */
    M("K\x01K\x02\x93.", D2_ERR_PARSE),        /* STACK_GLOBAL of ints */
    M("ctorch._utils\n_rebuild_tensor_v2\n)R.", D2_ERR_PARSE), /* wrong arity */
    M("\x80\x06K\x01.", D2_ERR_UNSUPPORTED),   /* protocol 6 */
    M("I1\n.", D2_ERR_UNSUPPORTED),            /* protocol 0 INT */
    M("\xff.", D2_ERR_UNSUPPORTED),            /* not an opcode */
    M("K\x01)}b.", D2_ERR_PARSE),              /* BUILD underflow leaves an int... */
#undef M
};

START_TEST(pickle_malformed)
{
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        struct parsed p;
        parse(&p, malformed[i].program, malformed[i].len);
        ck_assert_msg(p.status != D2_OK, "malformed program %zu parsed", i);
        if (i + 1 < sizeof malformed / sizeof malformed[0])
            ck_assert_msg(p.status == malformed[i].want, "program %zu: %s (%s)", i, d2_status_name(p.status),
                          p.err.message);
        ck_assert_msg(strstr(p.err.message, "test.pkl"), "program %zu: message '%s' does not name the input", i,
                      p.err.message);
        done(&p);
    }
}
END_TEST

/* Every proper prefix of a valid program fails (there is no STOP yet). */
START_TEST(pickle_every_truncation)
{
#define P(lit) { lit, sizeof(lit) - 1 }
    static const struct { const char *text; size_t len; } programs[] = {
        P("\x80\x02" TENSOR("K\x00", "K\x02K\x03\x86", "K\x03K\x01\x86") "."),
        P("\x80\x02" TENSOR("K\x00", "K\x03K\x02\x86", "K\x01K\x03\x86") "."),
        P("c__torch__.foo\nBar\n)\x81}(\x8c\x01xK\x01" "X\x02\x00\x00\x00hi]K\x01" "a\x8c\x01y\x8a\x02\x00\x80ub."),
        P("ctorch.jit._pickle\nbuild_intlist\n](K\x01K\x02" "e\x85R."),
        P("\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x07."),
    };
#undef P
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        size_t len = programs[i].len;
        struct parsed p;
        parse(&p, programs[i].text, len);
        ck_assert_msg(p.status == D2_OK, "program %zu: %s", i, p.err.message);
        done(&p);
        for (size_t cut = 0; cut < len; cut++) {
            parse(&p, programs[i].text, cut);
            ck_assert_msg(p.status != D2_OK, "program %zu cut at %zu parsed", i, cut);
            done(&p);
        }
    }
}
END_TEST

START_TEST(pickle_deep_nesting)
{
    /* 200000 nested lists: the VM does not recurse, so this is just data. */
    enum { N = 200000 };
    char *program = malloc(2 * N + 2);
    memset(program, ']', N);
    memset(program + N, 'a', N - 1);
    program[2 * N - 1] = '.';
    struct parsed p;
    parse(&p, program, 2 * N);
    ck_assert_msg(p.status == D2_OK, "%s", p.err.message);
    done(&p);
    free(program);
}
END_TEST

/* ================================================================ archive */

static struct ts_archive *open_ok(const char *path)
{
    struct d2_error err = { D2_OK, "" };
    struct ts_archive *a = ts_archive_open_file(path, NULL, &err);
    ck_assert_msg(a != NULL, "%s: %s", path, err.message);
    return a;
}

/* Compare a reader tensor with a numpy file (bf16 is stored as float32 there). */
static void compare_npy(const struct d2_tensor *got, const char *npy_path)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor want;
    ck_assert_msg(d2_npy_read_file(npy_path, NULL, &want, &err) == D2_OK, "%s: %s", npy_path, err.message);
    ck_assert_msg(got->rank == want.rank, "%s: rank %d vs %d", npy_path, got->rank, want.rank);
    for (int32_t d = 0; d < got->rank; d++)
        ck_assert_msg(got->dims[d] == want.dims[d], "%s: dim %d", npy_path, d);
    if (got->dtype == D2_DTYPE_BF16) {
        ck_assert_int_eq(want.dtype, D2_DTYPE_F32);
        for (int64_t i = 0; i < d2_tensor_numel(got); i++)
            ck_assert(d2_bf16_to_f32(((const uint16_t *)got->data)[i]) == ((const float *)want.data)[i]);
    } else {
        ck_assert_msg(got->dtype == want.dtype, "%s: dtype %s vs %s", npy_path, d2_dtype_name(got->dtype),
                      d2_dtype_name(want.dtype));
        ck_assert_msg(got->nbytes == want.nbytes && (got->nbytes == 0 || memcmp(got->data, want.data, got->nbytes) == 0),
                      "%s: values differ", npy_path);
    }
    d2_tensor_release(&want, d2_allocator_default());
}

/* The tensor named "<module path>.<attr>" in a module tree. */
static const struct ts_value *module_tensor(const struct ts_module *root, const char *dotted)
{
    char path[512];
    snprintf(path, sizeof path, "%s", dotted);
    char *dot = strrchr(path, '.');
    const char *attr = dot ? dot + 1 : path;
    if (dot)
        *dot = '\0';
    const struct ts_module *m = ts_module_find(root, dot ? path : "");
    ck_assert_msg(m != NULL, "no module for %s", dotted);
    const struct ts_module_attr *a = ts_module_attr(m, attr);
    ck_assert_msg(a != NULL && a->value->kind == TS_TENSOR, "no tensor %s", dotted);
    return a->value;
}

/* Every <stem>__<name>.npy in DATA with this stem prefix checked against archive a. */
static int check_npys(struct ts_archive *a, const char *stem_prefix, const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert(d != NULL);
    struct dirent *ent;
    int checked = 0;
    size_t sl = strlen(stem_prefix);
    struct d2_error err = { D2_OK, "" };
    while ((ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (strncmp(ent->d_name, stem_prefix, sl) != 0 || n < 4 || strcmp(ent->d_name + n - 4, ".npy") != 0)
            continue;
        char name[512], npy[1024];
        snprintf(name, sizeof name, "%.*s", (int)(n - 4 - sl), ent->d_name + sl);
        snprintf(npy, sizeof npy, "%s%s", dir, ent->d_name);
        const struct ts_value *v;
        if (strncmp(name, "CONSTANTS.c", 11) == 0) {
            const struct ts_value *consts;
            ck_assert_msg(ts_archive_constants(a, &consts, &err) == D2_OK, "%s", err.message);
            long idx = strtol(name + 11, NULL, 10);
            ck_assert((uint32_t)idx < consts->u.seq.count);
            v = consts->u.seq.items[idx];
        } else if (!ts_archive_is_torchscript(a)) {
            const struct ts_value *root;
            ck_assert_msg(ts_archive_data(a, &root, &err) == D2_OK, "%s", err.message);
            v = ts_dict_get(root, name);
        } else {
            const struct ts_module *root;
            ck_assert_msg(ts_archive_module(a, &root, &err) == D2_OK, "%s", err.message);
            v = module_tensor(root, name);
        }
        ck_assert_msg(v && v->kind == TS_TENSOR, "%s: no tensor", ent->d_name);
        compare_npy(&v->u.tensor.tensor, npy);
        checked++;
    }
    closedir(d);
    return checked;
}

struct counts { int modules, params, buffers; };

static void count_tree(const struct ts_module *m, struct counts *c, const struct ts_module **seen, int *num_seen)
{
    for (int i = 0; i < *num_seen; i++)
        if (seen[i] == m)
            return;
    seen[(*num_seen)++] = m;
    c->modules++;
    for (uint32_t i = 0; i < m->num_attrs; i++) {
        const struct ts_module_attr *a = &m->attrs[i];
        if (a->role == TS_ATTR_PARAMETER && a->value->kind == TS_TENSOR)
            c->params++;
        if (a->role == TS_ATTR_BUFFER && a->value->kind == TS_TENSOR)
            c->buffers++;
        if (a->role == TS_ATTR_SUBMODULE)
            count_tree(a->submodule, c, seen, num_seen);
    }
}

/* Module/parameter/buffer counts and root class against torch's (modules.txt). */
static void check_counts(struct ts_archive *a, const char *key)
{
    FILE *f = fopen(DATA "modules.txt", "r");
    ck_assert(f != NULL);
    char file[512], root_class[512];
    int modules, params, buffers;
    bool found = false;
    while (fscanf(f, "%511s %d %d %d %511s", file, &modules, &params, &buffers, root_class) == 5) {
        if (strcmp(file, key) != 0)
            continue;
        found = true;
        struct d2_error err = { D2_OK, "" };
        const struct ts_module *root;
        ck_assert_msg(ts_archive_module(a, &root, &err) == D2_OK, "%s", err.message);
        ck_assert_str_eq(root->class_name, root_class);
        static const struct ts_module *seen[4096];
        int num_seen = 0;
        struct counts c = { 0, 0, 0 };
        count_tree(root, &c, seen, &num_seen);
        ck_assert_msg(c.modules == modules && c.params == params && c.buffers == buffers,
                      "%s: %d modules %d params %d buffers, torch says %d %d %d", key, c.modules, c.params,
                      c.buffers, modules, params, buffers);
    }
    fclose(f);
    ck_assert_msg(found, "%s not in modules.txt", key);
}

START_TEST(archive_script)
{
    struct ts_archive *a = open_ok(DATA "script.pt");
    struct d2_error err = { D2_OK, "" };
    ck_assert_str_eq(ts_archive_prefix(a), "script/");
    ck_assert_int_ge(ts_archive_version(a), 1);
    ck_assert(ts_archive_is_torchscript(a));
    ck_assert(ts_archive_has(a, "data.pkl") && !ts_archive_has(a, "script/data.pkl"));
    bool listed = false;
    for (uint32_t i = 0; i < ts_archive_num_entries(a); i++)
        listed |= strcmp(ts_archive_entry_name(a, i), "code/__torch__.py") == 0;
    ck_assert(listed && ts_archive_entry_name(a, ts_archive_num_entries(a)) == NULL);
    ck_assert_int_eq(check_npys(a, "script__", DATA), 16);
    check_counts(a, "script.pt");

    const struct ts_module *root;
    ck_assert(ts_archive_module(a, &root, &err) == D2_OK);
    ck_assert_str_eq(root->path, "");
    ck_assert(!root->training); /* saved after eval() */
    const struct ts_value *scale = ts_module_attr(root, "scale")->value;
    ck_assert(scale->kind == TS_FLOAT && scale->u.f == 0.75);
    const struct ts_value *names = ts_module_attr(root, "names")->value;
    ck_assert(names->kind == TS_LIST && names->u.seq.count == 2 &&
              strcmp(names->u.seq.items[1]->u.str.data, "bc") == 0);
    static const int64_t sizes[] = { 3, 5, 7 };
    expect_ints(ts_module_attr(root, "sizes")->value, TS_LIST, 3, sizes);
    const struct ts_value *table = ts_module_attr(root, "table")->value;
    ck_assert(table->kind == TS_DICT && ts_dict_get(table, "y")->u.i == 2);
    ck_assert_int_eq(ts_module_attr(root, "head")->role, TS_ATTR_SUBMODULE);
    ck_assert_int_eq(ts_module_attr(root, "counts")->role, TS_ATTR_BUFFER);
    ck_assert_int_eq(ts_module_attr(root, "scale")->role, TS_ATTR_OTHER);
    const struct ts_module *l1 = ts_module_find(root, "layers.1");
    ck_assert(l1 != NULL);
    ck_assert_str_eq(l1->path, "layers.1");
    ck_assert_int_eq(ts_module_attr(l1, "weight")->role, TS_ATTR_PARAMETER);
    ck_assert(ts_module_attr(l1, "weight")->value->u.tensor.tensor.dims[1] == 4);
    ck_assert(ts_module_find(root, "layers.2") == NULL && ts_module_find(root, "nope.x") == NULL);
    const struct ts_module *bn = ts_module_find(root, "block.bn");
    ck_assert_int_eq(ts_module_attr(bn, "running_var")->role, TS_ATTR_BUFFER);
    ck_assert_str_eq(bn->class_name, "__torch__.torch.nn.modules.batchnorm.BatchNorm2d");
    /* a view of a transposed base is materialized; the offset view is not */
    const struct ts_value *tr = ts_module_attr(root, "transposed")->value;
    ck_assert(tr->u.tensor.copied);
    const struct ts_value *ov = ts_module_attr(root, "offset_view")->value;
    ck_assert(!ov->u.tensor.copied && ov->u.tensor.storage_offset == 5);

    const char *text, *file;
    size_t len;
    ck_assert(ts_archive_source(a, "__torch__.Tiny", &text, &len, &file, &err) == D2_OK);
    ck_assert_str_eq(file, "code/__torch__.py");
    ck_assert(strstr(text, "class Tiny(Module):") && strlen(text) == len);
    ck_assert(ts_archive_source(a, bn->class_name, &text, &len, &file, &err) == D2_OK);
    ck_assert_str_eq(file, "code/__torch__/torch/nn/modules/batchnorm.py");
    ck_assert_int_eq(ts_archive_source(a, "__torch__.nothing.Here", &text, &len, &file, &err), D2_ERR_PARSE);
    d2_error_clear(&err);
    ck_assert_int_eq(ts_archive_source(a, "os.path", &text, &len, &file, &err), D2_ERR_INVALID_ARG);
    d2_error_clear(&err);
    const uint8_t *extra;
    ck_assert(ts_archive_extra(a, "meta.json", &extra, &len, &err) == D2_OK);
    ck_assert(len == 8 && memcmp(extra, "{\"k\": 1}", 8) == 0);
    ck_assert_int_eq(ts_archive_extra(a, "missing", &extra, &len, &err), D2_ERR_PARSE);
    ts_archive_close(a);
}
END_TEST

START_TEST(archive_trace_and_save)
{
    struct ts_archive *a = open_ok(DATA "trace.pt");
    ck_assert_int_eq(check_npys(a, "trace__", DATA), 4);
    check_counts(a, "trace.pt");
    ts_archive_close(a);

    a = open_ok(DATA "save.pt");
    struct d2_error err = { D2_OK, "" };
    ck_assert(!ts_archive_is_torchscript(a));
    ck_assert_int_eq(check_npys(a, "save__", DATA), 15);
    const struct ts_value *root;
    ck_assert(ts_archive_data(a, &root, &err) == D2_OK);
    ck_assert(ts_dict_get(root, "param")->u.tensor.is_parameter);
    ck_assert(ts_dict_get(root, "strided")->u.tensor.copied);
    ck_assert_int_eq(ts_dict_get(root, "offset")->u.tensor.storage_offset, 12);
    const struct ts_module *m;
    ck_assert_int_eq(ts_archive_module(a, &m, &err), D2_ERR_PARSE); /* a dict, not a module */
    const struct ts_value *consts;
    d2_error_clear(&err);
    ck_assert(ts_archive_constants(a, &consts, &err) == D2_OK && consts->u.seq.count == 0);
    ts_archive_close(a);
}
END_TEST

START_TEST(archive_zero_copy_from_buffer)
{
    size_t size;
    unsigned char *img = slurp(DATA "script.pt", &size);
    struct d2_error err = { D2_OK, "" };
    struct ts_archive *a = ts_archive_open_buffer(img, size, NULL, &err);
    ck_assert_msg(a != NULL, "%s", err.message);
    const struct ts_module *root;
    ck_assert(ts_archive_module(a, &root, &err) == D2_OK);
    const struct ts_value *w = ts_module_attr(ts_module_find(root, "head"), "weight")->value;
    const uint8_t *p = w->u.tensor.tensor.data;
    ck_assert(p >= img && p + w->u.tensor.tensor.nbytes <= img + size && !w->u.tensor.copied);
    ts_archive_close(a);
    free(img);
}
END_TEST

START_TEST(archive_corruption)
{
    size_t size;
    unsigned char *img = slurp(DATA "trace.pt", &size);
    struct d2_error err;
    /* every truncation fails to open */
    for (size_t len = 0; len < size; len++) {
        d2_error_clear(&err);
        struct ts_archive *a = ts_archive_open_buffer(img, len, NULL, &err);
        ck_assert_msg(a == NULL && err.message[0], "cut at %zu opened", len);
    }
    /* every corrupted byte: whatever fails says why; nothing crashes */
    int failures = 0;
    unsigned char *bad = malloc(size);
    for (size_t at = 0; at < size; at++) {
        memcpy(bad, img, size);
        bad[at] ^= 0x20;
        d2_error_clear(&err);
        struct ts_archive *a = ts_archive_open_buffer(bad, size, NULL, &err);
        enum d2_status st = a ? D2_OK : err.code;
        const struct ts_module *root;
        const struct ts_value *consts;
        if (a && (st = ts_archive_module(a, &root, &err)) == D2_OK)
            st = ts_archive_constants(a, &consts, &err);
        if (st != D2_OK) {
            ck_assert(err.message[0] != '\0');
            failures++;
        }
        ts_archive_close(a);
    }
    ck_assert_int_gt(failures, 0);
    free(bad);
    free(img);
    d2_error_clear(&err);
    ck_assert(ts_archive_open_file(DATA "missing.pt", NULL, &err) == NULL && err.code == D2_ERR_IO);
    d2_error_clear(&err);
    ck_assert(ts_archive_open_file(DATA "zip_stored.zip", NULL, &err) == NULL && err.code == D2_ERR_PARSE);
}
END_TEST

START_TEST(archive_shared_fixtures)
{
    const char *dir = shared_dir();
    if (!dir) {
        fprintf(stderr, "test_ts_archive: shared fixtures not found, skipping\n");
        return;
    }
    static const struct { const char *rel, *stem; int npys; uint32_t constants; } files[] = {
        { "mask_rcnn/tracing_torchscript/model.ts", "shared__mask_rcnn_tracing__", 4, 13 },
        { "mask_rcnn/scripting_torchscript/model.ts", "shared__mask_rcnn_scripting__", 3, 0 },
        { "retinanet/tracing_torchscript/model.ts", "shared__retinanet_tracing__", 2, 8 },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024], key[512];
        snprintf(path, sizeof path, "%s/detectron2/%s", dir, files[i].rel);
        struct ts_archive *a = open_ok(path);
        struct d2_error err = { D2_OK, "" };
        ck_assert_str_eq(ts_archive_prefix(a), "archive/");
        ck_assert(ts_archive_is_torchscript(a));
        ck_assert_int_eq(check_npys(a, files[i].stem, DATA), files[i].npys);
        snprintf(key, sizeof key, "shared:%s", files[i].rel);
        check_counts(a, key);
        const struct ts_value *consts;
        ck_assert_msg(ts_archive_constants(a, &consts, &err) == D2_OK, "%s", err.message);
        ck_assert_uint_eq(consts->u.seq.count, files[i].constants);
        const struct ts_module *root, *conv;
        ck_assert(ts_archive_module(a, &root, &err) == D2_OK);
        conv = ts_module_find(root, "model.backbone.bottom_up.stem.conv1");
        ck_assert(conv != NULL && strstr(conv->class_name, "Conv2d"));
        const char *text;
        size_t len;
        ck_assert_msg(ts_archive_source(a, conv->class_name, &text, &len, NULL, &err) == D2_OK, "%s", err.message);
        ts_archive_close(a);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ts_archive");
    TCase *zip = tcase_create("zip"), *pickle = tcase_create("pickle"), *archive = tcase_create("archive");
    tcase_set_timeout(zip, 120);
    tcase_set_timeout(archive, 300);
    tcase_add_test(zip, zip_stored_deflated_zip64);
    tcase_add_test(zip, zip_bad_crc);
    tcase_add_test(zip, zip_size_lies);
    tcase_add_test(zip, zip_every_truncation_and_corruption);
    tcase_add_test(zip, zip_not_a_zip);
    tcase_add_test(pickle, pickle_scalars);
    tcase_add_test(pickle, pickle_strings);
    tcase_add_test(pickle, pickle_containers);
    tcase_add_test(pickle, pickle_memo);
    tcase_add_test(pickle, pickle_objects_and_globals);
    tcase_add_test(pickle, pickle_tensors);
    tcase_add_test(pickle, pickle_malformed);
    tcase_add_test(pickle, pickle_every_truncation);
    tcase_add_test(pickle, pickle_deep_nesting);
    tcase_add_test(archive, archive_script);
    tcase_add_test(archive, archive_trace_and_save);
    tcase_add_test(archive, archive_zero_copy_from_buffer);
    tcase_add_test(archive, archive_corruption);
    tcase_add_test(archive, archive_shared_fixtures);
    suite_add_tcase(s, zip);
    suite_add_tcase(s, pickle);
    suite_add_tcase(s, archive);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
