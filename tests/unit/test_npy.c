/* tests/unit/test_npy.c: runtime/npy.c against files numpy wrote
 * (tests/data/npy/, made by tools/gen_npy_testdata.py; element i holds i, bools i % 2).
 * Reading: every dtype, scalar, zero-size, rank 8, format versions 2 and 3.
 * Writing: byte-identical to numpy.save for every dtype and shape above.
 * Rejection: big-endian, Fortran order, strings, rank 9, and hand-broken headers,
 * each with a message naming the problem; every truncation of a valid file fails. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/npy.h"

#define DATA "tests/data/npy/"

static const struct { const char *file; enum d2_dtype dtype; } per_dtype[] = {
    { "f4_2x3.npy", D2_DTYPE_F32 }, { "f2_2x3.npy", D2_DTYPE_F16 }, { "f8_2x3.npy", D2_DTYPE_F64 },
    { "i8_2x3.npy", D2_DTYPE_I64 }, { "i4_2x3.npy", D2_DTYPE_I32 }, { "i2_2x3.npy", D2_DTYPE_I16 },
    { "i1_2x3.npy", D2_DTYPE_I8 },  { "u1_2x3.npy", D2_DTYPE_U8 },  { "u2_2x3.npy", D2_DTYPE_U16 },
    { "u4_2x3.npy", D2_DTYPE_U32 }, { "u8_2x3.npy", D2_DTYPE_U64 }, { "b1_2x3.npy", D2_DTYPE_BOOL },
};

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    ck_assert(fread(data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void check_counting(const struct d2_tensor *t)
{
    int64_t n = d2_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double expect = t->dtype == D2_DTYPE_BOOL ? (double)(i % 2) : (double)i;
        ck_assert_msg(d2_load_f64(t->data, t->dtype, (size_t)i) == expect, "element %lld of %s", (long long)i,
                      d2_dtype_name(t->dtype));
    }
}

/* Read path, check dtype/shape/values, write it back, compare with numpy's bytes. */
static void read_check_rewrite(const char *file, enum d2_dtype dtype, int32_t rank, const int64_t *dims,
                               bool compare_bytes)
{
    char path[256], tmp[] = "/tmp/d2_test_npy_XXXXXX";
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor t;
    size_t expected_size, written_size;
    unsigned char *expected, *written;
    int fd;
    snprintf(path, sizeof path, DATA "%s", file);
    ck_assert_msg(d2_npy_read_file(path, NULL, &t, &err) == D2_OK, "%s: %s", file, err.message);
    ck_assert_int_eq(t.dtype, dtype);
    ck_assert_int_eq(t.rank, rank);
    for (int32_t i = 0; i < rank; i++)
        ck_assert_int_eq(t.dims[i], dims[i]);
    check_counting(&t);
    if (compare_bytes) {
        fd = mkstemp(tmp);
        ck_assert(fd >= 0);
        close(fd);
        ck_assert_msg(d2_npy_write_file(tmp, &t, &err) == D2_OK, "%s", err.message);
        expected = slurp(path, &expected_size);
        written = slurp(tmp, &written_size);
        ck_assert_msg(written_size == expected_size && memcmp(written, expected, expected_size) == 0,
                      "%s: writer output differs from numpy.save (%zu vs %zu bytes)", file, written_size,
                      expected_size);
        free(expected);
        free(written);
        unlink(tmp);
    }
    d2_tensor_release(&t, d2_allocator_default());
}

START_TEST(reads_and_rewrites_every_dtype)
{
    static const int64_t dims[] = { 2, 3 };
    for (size_t i = 0; i < sizeof per_dtype / sizeof per_dtype[0]; i++)
        read_check_rewrite(per_dtype[i].file, per_dtype[i].dtype, 2, dims, true);
}
END_TEST

START_TEST(reads_and_rewrites_special_shapes)
{
    static const int64_t zero_by_three[] = { 0, 3 }, five[] = { 5 }, rank8[] = { 2, 1, 1, 1, 1, 1, 1, 3 };
    read_check_rewrite("f8_scalar.npy", D2_DTYPE_F64, 0, NULL, true);
    read_check_rewrite("f4_0x3.npy", D2_DTYPE_F32, 2, zero_by_three, true);
    read_check_rewrite("i8_5.npy", D2_DTYPE_I64, 1, five, true);
    read_check_rewrite("u1_2x1x1x1x1x1x1x3.npy", D2_DTYPE_U8, 8, rank8, true);
}
END_TEST

START_TEST(reads_versions_2_and_3)
{
    static const int64_t dims[] = { 2, 3 };
    read_check_rewrite("v2_i4_2x3.npy", D2_DTYPE_I32, 2, dims, false);
    read_check_rewrite("v3_f2_2x3.npy", D2_DTYPE_F16, 2, dims, false);
}
END_TEST

static void expect_file_rejected(const char *file, enum d2_status code, const char *fragment)
{
    char path[256];
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor t;
    snprintf(path, sizeof path, DATA "%s", file);
    ck_assert_int_eq(d2_npy_read_file(path, NULL, &t, &err), code);
    ck_assert_msg(strstr(err.message, fragment) != NULL, "%s: message '%s' lacks '%s'", file, err.message, fragment);
    ck_assert_ptr_null(t.data);
}

START_TEST(rejects_unsupported_files)
{
    expect_file_rejected("bad_big_endian.npy", D2_ERR_UNSUPPORTED, "big-endian");
    expect_file_rejected("bad_fortran.npy", D2_ERR_UNSUPPORTED, "Fortran");
    expect_file_rejected("bad_unicode.npy", D2_ERR_UNSUPPORTED, "not supported");
    expect_file_rejected("bad_rank9.npy", D2_ERR_UNSUPPORTED, "D2_MAX_RANK");
    expect_file_rejected("does_not_exist.npy", D2_ERR_IO, "cannot open");
}
END_TEST

/* Build a v1 file image from a header dict text and a payload. */
static size_t make_image(unsigned char *out, const char *dict, const void *payload, size_t payload_size)
{
    size_t n = strlen(dict);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(n & 0xff);
    out[9] = (unsigned char)(n >> 8);
    memcpy(out + 10, dict, n);
    memcpy(out + 10 + n, payload, payload_size);
    return 10 + n + payload_size;
}

static void expect_image_rejected(const unsigned char *image, size_t size, const char *fragment)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor t;
    ck_assert_int_ne(d2_npy_parse(image, size, NULL, &t, &err), D2_OK);
    ck_assert_msg(strstr(err.message, fragment) != NULL, "message '%s' lacks '%s'", err.message, fragment);
}

START_TEST(rejects_malformed_headers)
{
    static const float payload[6] = { 0, 1, 2, 3, 4, 5 };
    static const unsigned char two_bools[2] = { 1, 2 };
    unsigned char image[512];
    size_t n;
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor t;

    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", payload, 24);
    ck_assert_int_eq(d2_npy_parse(image, n, NULL, &t, &err), D2_OK); /* the control case parses */
    d2_tensor_release(&t, d2_allocator_default());

    expect_image_rejected(image, n - 1, "data is 23 bytes");
    image[0] = 'X';
    expect_image_rejected(image, n, "bad magic");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", payload, 24);
    image[6] = 4;
    expect_image_rejected(image, n, "version 4.0");
    image[6] = 1;
    image[9] = 0x7f;
    expect_image_rejected(image, n, "truncated");
    n = make_image(image, "{'descr': '<f4', 'shape': (2, 3), }", payload, 24);
    expect_image_rejected(image, n, "lacks 'fortran_order'");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", payload, 24);
    expect_image_rejected(image, n, "unexpected or repeated key 'extra'");
    n = make_image(image, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", payload, 24);
    expect_image_rejected(image, n, "repeated key");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", payload, 24);
    expect_image_rejected(image, n, "bad shape");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", payload, 24);
    expect_image_rejected(image, n, "too large");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", payload,
                   24);
    expect_image_rejected(image, n, "too large");
    n = make_image(image, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", payload, 24);
    expect_image_rejected(image, n, "'<c8' is not supported");
    n = make_image(image, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", payload, 24);
    expect_image_rejected(image, n, "structured");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,), }", payload, 24);
    expect_image_rejected(image, n, "fortran_order");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } junk", payload, 24);
    expect_image_rejected(image, n, "after the dict");
    n = make_image(image, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", two_bools, 2);
    expect_image_rejected(image, n, "not 0 or 1");
    n = make_image(image, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), ", payload, 0);
    expect_image_rejected(image, n, "header");
}
END_TEST

START_TEST(every_truncation_fails_cleanly)
{
    size_t size;
    unsigned char *data = slurp(DATA "f4_2x3.npy", &size);
    for (size_t n = 0; n < size; n++) {
        struct d2_error err = { D2_OK, "" };
        struct d2_tensor t;
        unsigned char *copy = malloc(n + 1); /* exact size so ASan sees overreads */
        memcpy(copy, data, n);
        ck_assert_int_ne(d2_npy_parse(copy, n, NULL, &t, &err), D2_OK);
        ck_assert(err.message[0] != '\0');
        free(copy);
    }
    free(data);
}
END_TEST

START_TEST(refuses_to_write_bf16)
{
    static const int64_t dims[] = { 2 };
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor t;
    ck_assert_int_eq(d2_tensor_alloc(&t, d2_allocator_default(), D2_DTYPE_BF16, 1, dims, &err),
                     D2_OK);
    ck_assert_int_eq(d2_npy_write_file("/tmp/d2_test_npy_bf16.npy", &t, &err), D2_ERR_UNSUPPORTED);
    ck_assert(strstr(err.message, "bf16") != NULL);
    d2_tensor_release(&t, d2_allocator_default());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, reads_and_rewrites_every_dtype);
    tcase_add_test(tc, reads_and_rewrites_special_shapes);
    tcase_add_test(tc, reads_versions_2_and_3);
    tcase_add_test(tc, rejects_unsupported_files);
    tcase_add_test(tc, rejects_malformed_headers);
    tcase_add_test(tc, every_truncation_fails_cleanly);
    tcase_add_test(tc, refuses_to_write_bf16);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
