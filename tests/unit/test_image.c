/* tests/unit/test_image.c: runtime/image*.c against Pillow 9.4 and detectron2.
 *
 * References:
 *   - ../shared/fixtures/predictor/images (env D2RT_SHARED overrides ../shared): the pixels
 *     detectron2's read_image decoded and ResizeShortestEdge(320, 512) resized for
 *     grace_hopper.jpg and grace_hopper_fliprot90.png. Decode and resize must match exactly.
 *   - tests/data/images/cases.txt (tools/make_image_fixtures.py, Pillow 9.4): decodes of
 *     JPEG (4:2:0 / 4:2:2 / 4:4:4, progressive, gray, CMYK, EXIF orientations 1-8, broken
 *     EXIF) and PNG (every colour type and depth, palettes, tRNS, Adam7, every orientation
 *     source) files; which truncation lengths PIL accepts; EXIF blocks with PIL's answer;
 *     Pillow BILINEAR resizes; ResizeShortestEdge sizes; HWC -> CHW normalisation.
 * Robustness: every truncation and every single-byte corruption of every test image decodes
 * or fails with a message, never crashes (run under `make SAN=1` for memory errors); size
 * limits are enforced before allocation; failing allocations give clean errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/image.h"
#include "runtime/npy.h"

#define DATA "tests/data/images/"

static const char *shared_root(void)
{
    const char *s = getenv("D2RT_SHARED");
    return s && *s ? s : "../shared";
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
    ck_assert(data != NULL);
    ck_assert_int_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void load_npy(const char *path, struct d2_tensor *t)
{
    struct d2_error err = {D2_OK, ""};
    ck_assert_msg(d2_npy_read_file(path, d2_allocator_default(), t, &err) == D2_OK, "%s: %s", path, err.message);
}

static void assert_same_u8(const struct d2_tensor *got, const struct d2_tensor *want, const char *what)
{
    ck_assert_msg(got->dtype == D2_DTYPE_U8 && want->dtype == D2_DTYPE_U8, "%s: dtype", what);
    ck_assert_msg(got->rank == want->rank, "%s: rank %d vs %d", what, got->rank, want->rank);
    for (int i = 0; i < got->rank; i++)
        ck_assert_msg(got->dims[i] == want->dims[i], "%s: dim %d is %lld, expected %lld", what, i,
                      (long long)got->dims[i], (long long)want->dims[i]);
    size_t diff = 0, first = 0;
    for (size_t i = 0; i < got->nbytes; i++) {
        if (((uint8_t *)got->data)[i] != ((uint8_t *)want->data)[i] && diff++ == 0)
            first = i;
    }
    ck_assert_msg(diff == 0, "%s: %zu of %zu bytes differ (first at %zu: %u vs %u)", what, diff, got->nbytes,
                  first, ((uint8_t *)got->data)[first], ((uint8_t *)want->data)[first]);
}

static void release(struct d2_tensor *t) { d2_tensor_release(t, d2_allocator_default()); }

/* ---- the detectron2 fixtures ------------------------------------------------------------ */

static void check_predictor_image(const char *file, const char *stem)
{
    char path[1024], npy[1024];
    struct d2_error err = {D2_OK, ""};
    struct d2_tensor img, resized, want;
    snprintf(path, sizeof path, "%s/fixtures/predictor/images/%s", shared_root(), file);
    ck_assert_msg(d2_image_read_file(path, D2_CHANNELS_BGR, d2_allocator_default(), &img, &err) == D2_OK,
                  "%s", err.message);
    snprintf(npy, sizeof npy, "%s/fixtures/predictor/images/%s.decoded_bgr_uint8.npy", shared_root(), stem);
    load_npy(npy, &want);
    assert_same_u8(&img, &want, npy);
    release(&want);
    ck_assert_int_eq(d2_image_resize_shortest_edge(&img, 320, 512, d2_allocator_default(), &resized, &err), D2_OK);
    snprintf(npy, sizeof npy, "%s/fixtures/predictor/images/%s.resized_bgr_uint8.npy", shared_root(), stem);
    load_npy(npy, &want);
    assert_same_u8(&resized, &want, npy);
    release(&want);
    release(&resized);
    release(&img);
}

START_TEST(grace_hopper_jpeg_decodes_and_resizes_exactly)
{
    check_predictor_image("grace_hopper.jpg", "grace_hopper");
}
END_TEST

START_TEST(grace_hopper_png_decodes_and_resizes_exactly)
{
    check_predictor_image("grace_hopper_fliprot90.png", "grace_hopper_fliprot90");
}
END_TEST

START_TEST(rgb_order_is_bgr_reversed)
{
    char path[1024];
    struct d2_error err = {D2_OK, ""};
    struct d2_tensor bgr, rgb;
    snprintf(path, sizeof path, "%s/fixtures/predictor/images/grace_hopper.jpg", shared_root());
    ck_assert_int_eq(d2_image_read_file(path, D2_CHANNELS_BGR, d2_allocator_default(), &bgr, &err), D2_OK);
    ck_assert_int_eq(d2_image_read_file(path, D2_CHANNELS_RGB, d2_allocator_default(), &rgb, &err), D2_OK);
    const uint8_t *b = bgr.data, *r = rgb.data;
    for (size_t i = 0; i < bgr.nbytes; i += 3)
        ck_assert(b[i] == r[i + 2] && b[i + 1] == r[i + 1] && b[i + 2] == r[i]);
    release(&bgr);
    release(&rgb);
}
END_TEST

/* ---- cases.txt ---------------------------------------------------------------------------- */

/* Calls fn(words, n_words) for each line of cases.txt starting with `kind`; returns the count. */
static int for_each_case(const char *kind, void (*fn)(char **words, int n))
{
    FILE *f = fopen(DATA "cases.txt", "r");
    ck_assert_msg(f != NULL, "cannot open " DATA "cases.txt (run from the repository root)");
    static char line[65536];
    int count = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char *words[16];
        int n = 0;
        for (char *w = strtok(line, " \n"); w != NULL && n < 16; w = strtok(NULL, " \n"))
            words[n++] = w;
        if (n > 0 && strcmp(words[0], kind) == 0) {
            fn(words, n);
            count++;
        }
    }
    fclose(f);
    return count;
}

static void decode_case(char **w, int n)
{
    char path[512];
    struct d2_error err = {D2_OK, ""};
    struct d2_tensor got, want;
    ck_assert_int_eq(n, 3);
    snprintf(path, sizeof path, DATA "%s", w[1]);
    ck_assert_msg(d2_image_read_file(path, D2_CHANNELS_BGR, d2_allocator_default(), &got, &err) == D2_OK, "%s: %s",
                  w[1], err.message);
    snprintf(path, sizeof path, DATA "%s", w[2]);
    load_npy(path, &want);
    assert_same_u8(&got, &want, w[1]);
    release(&got);
    release(&want);
}

START_TEST(decodes_like_pillow)
{
    ck_assert_int_ge(for_each_case("decode", decode_case), 50);
}
END_TEST

/* Decode exactly `n` bytes from their own allocation, so ASan sees any over-read. When
 * `full` is given, a successful decode must equal it. */
static enum d2_status decode_prefix(const unsigned char *data, size_t n, struct d2_error *err,
                                    const struct d2_tensor *full)
{
    unsigned char *copy = malloc(n ? n : 1);
    struct d2_tensor t;
    memcpy(copy, data, n);
    d2_error_clear(err);
    enum d2_status st = d2_image_decode(copy, n, D2_CHANNELS_BGR, d2_allocator_default(), &t, err);
    if (st == D2_OK) {
        ck_assert(t.data != NULL && t.rank == 3 && t.dims[2] == 3);
        if (full != NULL)
            assert_same_u8(&t, full, "truncated file that PIL decodes in full");
        release(&t);
    } else {
        ck_assert_msg(err->message[0] != '\0', "an error without a message");
        ck_assert(t.data == NULL);
    }
    free(copy);
    return st;
}

static bool in_ranges(size_t n, const char *spec)
{
    if (strcmp(spec, "none") == 0)
        return false;
    for (const char *p = spec; *p;) {
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (*end == '-')
            b = strtoul(end + 1, &end, 10);
        if (n >= a && n <= b)
            return true;
        p = *end == ',' ? end + 1 : end;
    }
    return false;
}

static void accept_case(char **w, int n)
{
    char path[512];
    size_t size;
    ck_assert_int_eq(n, 3);
    snprintf(path, sizeof path, DATA "%s", w[1]);
    unsigned char *data = slurp(path, &size);
    struct d2_tensor full;
    struct d2_error full_err = {D2_OK, ""};
    ck_assert_int_eq(d2_image_decode(data, size, D2_CHANNELS_BGR, d2_allocator_default(), &full, &full_err), D2_OK);
    for (size_t len = 0; len <= size; len++) {
        struct d2_error err = {D2_OK, ""};
        enum d2_status st = decode_prefix(data, len, &err, &full);
        bool want_ok = in_ranges(len, w[2]);
        ck_assert_msg((st == D2_OK) == want_ok, "%s truncated to %zu of %zu bytes: %s, PIL %s (%s)", w[1], len, size,
                      st == D2_OK ? "decoded" : "failed", want_ok ? "decodes" : "fails", err.message);
        if (st != D2_OK)
            ck_assert_msg(st == D2_ERR_PARSE, "%s[:%zu]: %s", w[1], len, err.message);
    }
    release(&full);
    free(data);
}

START_TEST(truncated_files_fail_where_pillow_fails)
{
    ck_assert_int_eq(for_each_case("accept", accept_case), 3);
}
END_TEST

/* Every truncation and every single-byte corruption of every decode-case image. */
static void corruption_case(char **w, int n)
{
    char path[512];
    size_t size;
    snprintf(path, sizeof path, DATA "%s", w[1]);
    unsigned char *data = slurp(path, &size);
    struct d2_error err;
    for (size_t len = 0; len < size; len++)
        decode_prefix(data, len, &err, NULL);
    for (size_t i = 0; i < size; i++) {
        unsigned char saved = data[i];
        data[i] = saved ^ 0xFF;
        decode_prefix(data, size, &err, NULL);
        data[i] = (unsigned char)(saved + 1);
        decode_prefix(data, size, &err, NULL);
        data[i] = saved;
    }
    free(data);
}

START_TEST(truncated_and_corrupt_images_never_crash)
{
    ck_assert_int_ge(for_each_case("decode", corruption_case), 50);
}
END_TEST

static unsigned char *base_jpeg;
static size_t base_jpeg_size;

/* The base JPEG with `block` inserted as an APP1 segment right after SOI. */
static void exif_case(char **w, int n)
{
    ck_assert_int_eq(n, 3);
    size_t hex_len = strlen(w[1]), block_len = hex_len / 2;
    ck_assert(block_len + 2 <= 0xFFFF);
    size_t size = base_jpeg_size + 4 + block_len;
    unsigned char *jpeg = malloc(size);
    memcpy(jpeg, base_jpeg, 2);
    jpeg[2] = 0xFF, jpeg[3] = 0xE1;
    jpeg[4] = (unsigned char)((block_len + 2) >> 8), jpeg[5] = (unsigned char)(block_len + 2);
    for (size_t i = 0; i < block_len; i++) {
        unsigned v;
        ck_assert(sscanf(w[1] + 2 * i, "%2x", &v) == 1);
        jpeg[6 + i] = (unsigned char)v;
    }
    memcpy(jpeg + 6 + block_len, base_jpeg + 2, base_jpeg_size - 2);

    struct d2_error err = {D2_OK, ""};
    struct d2_tensor plain, got, want;
    ck_assert_int_eq(d2_image_decode(base_jpeg, base_jpeg_size, D2_CHANNELS_RGB, d2_allocator_default(), &plain, &err), D2_OK);
    ck_assert_msg(d2_image_decode(jpeg, size, D2_CHANNELS_RGB, d2_allocator_default(), &got, &err) == D2_OK, "%s", err.message);
    int orientation = atoi(w[2]);
    ck_assert_int_eq(d2_image_apply_orientation(&plain, orientation, d2_allocator_default(), &want, &err), D2_OK);
    char what[128];
    snprintf(what, sizeof what, "EXIF %.60s (PIL: orientation %d)", w[1], orientation);
    assert_same_u8(&got, &want, what);
    release(&plain);
    release(&got);
    release(&want);
    free(jpeg);
}

START_TEST(exif_orientation_as_pillow_reads_it)
{
    base_jpeg = slurp(DATA "trunc_baseline.jpg", &base_jpeg_size); /* non-square, no EXIF */
    ck_assert_int_ge(for_each_case("exif", exif_case), 80);
    free(base_jpeg);
}
END_TEST

START_TEST(exif_parser_codes)
{
    static const uint8_t ok6[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 1, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0};
    static const uint8_t no_tag[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0};
    static const uint8_t ascii[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 1, 2, 0, 1, 0, 0, 0, '6', 0, 0, 0};
    ck_assert_int_eq(d2_exif_orientation(ok6, sizeof ok6), 6);
    ck_assert_int_eq(d2_exif_orientation(no_tag, sizeof no_tag), D2_EXIF_ABSENT);
    ck_assert_int_eq(d2_exif_orientation(ascii, sizeof ascii), D2_EXIF_OTHER);
    ck_assert_int_eq(d2_exif_orientation((const uint8_t *)"XX*\0\x08\0\0\0", 8), D2_EXIF_INVALID);
    ck_assert_int_eq(d2_exif_orientation(ok6, 0), D2_EXIF_ABSENT);
    for (size_t n = 1; n < sizeof ok6; n++) { /* every truncation: invalid, absent, or 6 */
        int o = d2_exif_orientation(ok6, n);
        ck_assert(o == (n < 8 ? D2_EXIF_INVALID : D2_EXIF_ABSENT));
    }
}
END_TEST

static void resize_case(char **w, int n)
{
    char path[512];
    struct d2_error err = {D2_OK, ""};
    struct d2_tensor in, got, want;
    ck_assert_int_eq(n, 5);
    snprintf(path, sizeof path, DATA "%s", w[1]);
    load_npy(path, &in);
    ck_assert_msg(d2_image_bilinear_resize_u8(&in, atoll(w[2]), atoll(w[3]), d2_allocator_default(), &got, &err) == D2_OK,
                  "%s", err.message);
    snprintf(path, sizeof path, DATA "%s", w[4]);
    load_npy(path, &want);
    assert_same_u8(&got, &want, w[4]);
    release(&in);
    release(&got);
    release(&want);
}

START_TEST(resizes_like_pillow_bilinear)
{
    ck_assert_int_ge(for_each_case("resize", resize_case), 17);
}
END_TEST

static void size_case(char **w, int n)
{
    ck_assert_int_eq(n, 7);
    int64_t nh, nw;
    d2_resize_shortest_edge_size(atoll(w[1]), atoll(w[2]), atoll(w[3]), atoll(w[4]), &nh, &nw);
    ck_assert_msg(nh == atoll(w[5]) && nw == atoll(w[6]), "%sx%s (min %s, max %s): got %lldx%lld, want %sx%s", w[1],
                  w[2], w[3], w[4], (long long)nh, (long long)nw, w[5], w[6]);
}

START_TEST(shortest_edge_sizes_like_detectron2)
{
    ck_assert_int_ge(for_each_case("size", size_case), 90);
    int64_t nh, nw;
    d2_resize_shortest_edge_size(37, 21, 0, 512, &nh, &nw); /* min size 0: no resize */
    ck_assert(nh == 37 && nw == 21);
}
END_TEST

static void chw_case(char **w, int n)
{
    char path[512];
    struct d2_error err = {D2_OK, ""};
    struct d2_tensor in, got, want;
    ck_assert_int_eq(n, 11);
    float mean[3], std[3];
    for (int i = 0; i < 3; i++) {
        mean[i] = strtof(w[4 + i], NULL);
        std[i] = strtof(w[7 + i], NULL);
    }
    struct d2_image_normalize norm = {mean, std, atoll(w[2]), strtof(w[3], NULL)};
    snprintf(path, sizeof path, DATA "%s", w[1]);
    load_npy(path, &in);
    ck_assert_int_eq(d2_image_to_chw_f32(&in, &norm, d2_allocator_default(), &got, &err), D2_OK);
    snprintf(path, sizeof path, DATA "%s", w[10]);
    load_npy(path, &want);
    ck_assert(got.dtype == D2_DTYPE_F32 && want.dtype == D2_DTYPE_F32 && got.rank == 3);
    ck_assert_msg(got.dims[0] == want.dims[0] && got.dims[1] == want.dims[1] && got.dims[2] == want.dims[2],
                  "%s: shape", w[10]);
    ck_assert_msg(memcmp(got.data, want.data, got.nbytes) == 0, "%s: values differ", w[10]);
    release(&in);
    release(&got);
    release(&want);
}

START_TEST(chw_normalisation_like_numpy_float32)
{
    ck_assert_int_eq(for_each_case("chw", chw_case), 3);
}
END_TEST

/* ---- errors and limits ------------------------------------------------------------------ */

static enum d2_status decode_bytes(const void *data, size_t n, struct d2_error *err)
{
    struct d2_tensor t;
    d2_error_clear(err);
    enum d2_status st = d2_image_decode(data, n, D2_CHANNELS_BGR, d2_allocator_default(), &t, err);
    if (st == D2_OK)
        release(&t);
    return st;
}

START_TEST(rejects_garbage_and_oversized_images)
{
    struct d2_error err;
    ck_assert_int_eq(decode_bytes("", 0, &err), D2_ERR_PARSE);
    ck_assert_int_eq(decode_bytes("GIF89a", 6, &err), D2_ERR_PARSE);
    ck_assert(strstr(err.message, "not a JPEG or PNG") != NULL);
    struct d2_tensor t;
    ck_assert_int_eq(d2_image_read_file(DATA "no_such_file.png", D2_CHANNELS_BGR, d2_allocator_default(), &t, &err),
                     D2_ERR_IO);

    /* PNG: patch IHDR's width/height (and its CRC is then wrong: libpng checks IHDR's CRC,
     * so recompute it by decoding nothing else: build the header by hand). */
    size_t size;
    unsigned char *png = slurp(DATA "png_rgb8.png", &size);
    static const uint32_t sizes[][2] = {{40000, 8}, {8, 32769}, {20000, 20000}};
    for (int i = 0; i < 3; i++) {
        unsigned char *p = png + 16;
        for (int k = 0; k < 2; k++) {
            uint32_t v = sizes[i][k];
            p[4 * k] = (unsigned char)(v >> 24), p[4 * k + 1] = (unsigned char)(v >> 16);
            p[4 * k + 2] = (unsigned char)(v >> 8), p[4 * k + 3] = (unsigned char)v;
        }
        /* CRC-32 of "IHDR" + 13 bytes */
        uint32_t crc = 0xFFFFFFFFu;
        for (int b = 12; b < 29; b++) {
            crc ^= png[b];
            for (int k = 0; k < 8; k++)
                crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        crc ^= 0xFFFFFFFFu;
        png[29] = (unsigned char)(crc >> 24), png[30] = (unsigned char)(crc >> 16);
        png[31] = (unsigned char)(crc >> 8), png[32] = (unsigned char)crc;
        ck_assert_int_eq(decode_bytes(png, size, &err), D2_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(err.message, "too large") != NULL, "%s", err.message);
    }
    free(png);

    /* JPEG: patch the SOF0 frame size. */
    unsigned char *jpeg = slurp(DATA "jpeg_420.jpg", &size);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < size; i++)
        if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    ck_assert(sof != 0);
    for (int i = 0; i < 3; i++) {
        jpeg[sof + 5] = (unsigned char)(sizes[i][1] >> 8), jpeg[sof + 6] = (unsigned char)sizes[i][1];
        jpeg[sof + 7] = (unsigned char)(sizes[i][0] >> 8), jpeg[sof + 8] = (unsigned char)sizes[i][0];
        ck_assert_int_eq(decode_bytes(jpeg, size, &err), D2_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(err.message, "too large") != NULL, "%s", err.message);
    }
    free(jpeg);
}
END_TEST

START_TEST(resize_argument_errors)
{
    struct d2_error err = {D2_OK, ""};
    struct d2_tensor in, out;
    static const int64_t dims[3] = {4, 5, 3};
    ck_assert_int_eq(d2_tensor_alloc(&in, d2_allocator_default(), D2_DTYPE_U8, 3, dims, &err), D2_OK);
    ck_assert_int_eq(d2_image_bilinear_resize_u8(&in, 0, 5, d2_allocator_default(), &out, &err), D2_ERR_INVALID_ARG);
    ck_assert_int_eq(d2_image_bilinear_resize_u8(&in, 40000, 5, d2_allocator_default(), &out, &err), D2_ERR_INVALID_ARG);
    in.dtype = D2_DTYPE_F32;
    ck_assert_int_eq(d2_image_bilinear_resize_u8(&in, 2, 2, d2_allocator_default(), &out, &err), D2_ERR_INVALID_ARG);
    ck_assert_int_eq(d2_image_to_chw_f32(&in, NULL, d2_allocator_default(), &out, &err), D2_ERR_INVALID_ARG);
    in.dtype = D2_DTYPE_U8;
    release(&in);
}
END_TEST

/* An allocator that fails from the n-th call on. */
struct failing_state { int calls, fail_at; };

static void *failing_realloc(void *user, void *ptr, size_t size)
{
    struct failing_state *s = user;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (s->calls++ >= s->fail_at)
        return NULL;
    return realloc(ptr, size);
}

START_TEST(allocation_failures_are_clean)
{
    static const char *files[] = {"png_interlaced_rgb8.png", "png_raw_profile_text.png", "jpeg_orient6.jpg"};
    for (int f = 0; f < 3; f++) {
        char path[256];
        snprintf(path, sizeof path, DATA "%s", files[f]);
        int fail_at = 0;
        for (;; fail_at++) {
            struct failing_state s = {0, fail_at};
            struct d2_allocator a = {failing_realloc, &s};
            struct d2_error err = {D2_OK, ""};
            struct d2_tensor t, r;
            enum d2_status st = d2_image_read_file(path, D2_CHANNELS_BGR, &a, &t, &err);
            if (st == D2_OK) {
                st = d2_image_bilinear_resize_u8(&t, 7, 9, &a, &r, &err);
                d2_tensor_release(&t, &a);
                if (st == D2_OK) {
                    d2_tensor_release(&r, &a);
                    break;
                }
            }
            ck_assert_msg(st == D2_ERR_NOMEM, "%s, failing allocation %d: %s (%s)", files[f], fail_at,
                          d2_status_name(st), err.message);
            ck_assert(fail_at < 1000);
        }
        ck_assert_int_gt(fail_at, 2);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("image");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, grace_hopper_jpeg_decodes_and_resizes_exactly);
    tcase_add_test(tc, grace_hopper_png_decodes_and_resizes_exactly);
    tcase_add_test(tc, rgb_order_is_bgr_reversed);
    tcase_add_test(tc, decodes_like_pillow);
    tcase_add_test(tc, truncated_files_fail_where_pillow_fails);
    tcase_add_test(tc, truncated_and_corrupt_images_never_crash);
    tcase_add_test(tc, exif_orientation_as_pillow_reads_it);
    tcase_add_test(tc, exif_parser_codes);
    tcase_add_test(tc, resizes_like_pillow_bilinear);
    tcase_add_test(tc, shortest_edge_sizes_like_detectron2);
    tcase_add_test(tc, chw_normalisation_like_numpy_float32);
    tcase_add_test(tc, rejects_garbage_and_oversized_images);
    tcase_add_test(tc, resize_argument_errors);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
