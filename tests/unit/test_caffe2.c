/* tests/unit/test_caffe2.c: the Caffe2 frontend (frontend/caffe2/) and Caffe2
 * operators inside ONNX (frontend/onnx/onnx_caffe2.c).
 *
 * Data: ../shared/fixtures (env D2RT_SHARED overrides ../shared):
 *   caffe2-real/          four real Caffe2 nets (graphs only): op coverage, SSA renaming
 *                         of in-place blobs, Caffe2 argument defaults, clear errors;
 *   detectron2-caffe2/faster_rcnn/  a detectron2 caffe2_tracing export as NetDef and as
 *                         ONNX with org.pytorch._caffe2 ops, run by the CPU executor on
 *                         ref/input_data.npy + ref/input_im_info.npy and matched against
 *                         ref/netdef__* (an independent NetDef interpreter);
 * and tests/data/caffe2/ (tools/make_caffe2_fixtures.py: numpy transliterations of
 * Caffe2 operators) for single-operator nets built here with protobuf-c.
 * Also: malformed, truncated and over-nested protobuf give clean errors.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "frontend/caffe2/caffe2.pb-c.h"
#include "frontend/frontend.h"
#include "runtime/npy.h"

#define DATA "tests/data/caffe2/"

static const char *shared_root(void)
{
    const char *s = getenv("D2RT_SHARED");
    return s && *s ? s : "../shared";
}

static char *shared_path(const char *rel)
{
    static char buf[4][1024];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 1024, "%s/fixtures/%s", shared_root(), rel);
    return p;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root; ../shared must exist)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)n + 1);
    ck_assert(fread(data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static int32_t count_op(const struct d2_graph *g, enum d2_op op)
{
    int32_t n = 0;
    for (uint32_t i = 0; i < g->num_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

static const struct d2_node *first_node(const struct d2_graph *g, enum d2_op op)
{
    for (uint32_t i = 0; i < g->num_nodes; i++)
        if (g->nodes[i].op == op)
            return &g->nodes[i];
    return NULL;
}

/* ---- real Caffe2 nets (graphs only) ---- */

START_TEST(real_resnet50_imports)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_caffe2_import_files(shared_path("caffe2-real/resnet50/predict_net.pb"), NULL, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_int_eq(d2_verify_graph(g, &err), D2_OK);
    ck_assert_int_eq(count_op(g, D2_OP_CONV), 53);
    ck_assert_int_eq(count_op(g, D2_OP_BATCH_NORM), 53);
    ck_assert_int_eq(count_op(g, D2_OP_GEMM), 1);
    ck_assert_uint_eq(g->num_outputs, 1);
    ck_assert_str_eq(g->values[g->outputs[0]].name, "gpu_0/softmax");
    /* The unused training-queue input is dropped; all others (no init net) are inputs. */
    ck_assert_uint_eq(g->num_inputs, 268);
    for (uint32_t i = 0; i < g->num_inputs; i++)
        ck_assert_msg(strstr(g->values[g->inputs[i]].name, "imagenet1k_blobs_queue") == NULL, "unused input kept");
    /* SpatialBN writes gpu_0/res_conv1_bn, then Relu overwrites it in place: SSA names. */
    d2_value_id first = d2_graph_find_value(g, "gpu_0/res_conv1_bn");
    d2_value_id second = d2_graph_find_value(g, "gpu_0/res_conv1_bn_1");
    ck_assert(first != D2_NO_VALUE && second != D2_NO_VALUE);
    ck_assert_int_eq(g->nodes[g->values[first].producer].op, D2_OP_BATCH_NORM);
    const struct d2_node *relu = &g->nodes[g->values[second].producer];
    ck_assert_int_eq(relu->op, D2_OP_RELU);
    ck_assert_uint_eq(relu->inputs[0], first);
    /* The next reader (MaxPool) reads the latest definition. */
    const struct d2_node *pool = first_node(g, D2_OP_MAX_POOL);
    ck_assert_uint_eq(pool->inputs[0], second);
    ck_assert_str_eq(d2_graph_get_metadata(g, "source_format"), "caffe2");
    ck_assert_str_eq(d2_graph_get_metadata(g, "caffe2_net_name"), "resnet50");
    d2_graph_free(g);
}
END_TEST

START_TEST(real_detectron_c4_defaults)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_caffe2_import_files(
        shared_path("caffe2-real/detectron_e2e_faster_rcnn_R-50-C4_1x/predict_net.pb"), NULL, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_int_eq(d2_verify_graph(g, &err), D2_OK);
    ck_assert_uint_eq(g->num_outputs, 3);
    ck_assert_str_eq(g->values[g->outputs[0]].name, "score_nms");
    /* Old Detectron: no legacy_plus_one argument, so Caffe2's default (true) applies;
     * the threshold is misspelled nms_thres, which Caffe2 ignores (default 0.7). */
    const struct d2_node *gp = first_node(g, D2_OP_GENERATE_PROPOSALS);
    ck_assert_ptr_nonnull(gp);
    const struct d2_attrs_generate_proposals *ga = gp->attrs;
    ck_assert_int_eq(ga->legacy_plus_one, 1);
    ck_assert_int_eq(ga->pre_nms_topn, 6000);
    ck_assert_int_eq(ga->post_nms_topn, 1000);
    ck_assert(fabs(ga->nms_threshold - 0.7) < 1e-12);
    ck_assert(fabs(ga->spatial_scale - 0.0625) < 1e-12);
    const struct d2_attrs_box_roi_align *ra = first_node(g, D2_OP_BOX_ROI_ALIGN)->attrs;
    ck_assert_int_eq(ra->pooled_h, 14);
    ck_assert_int_eq(ra->aligned, 0);
    const struct d2_attrs_box_nms *na = first_node(g, D2_OP_BOX_BATCHED_NMS)->attrs;
    ck_assert_int_eq(na->legacy_plus_one, 1);
    ck_assert_int_eq(na->order, D2_NMS_ORDER_BY_ID);
    ck_assert_int_eq(na->max_output, 100);
    ck_assert_int_eq(na->nan_iou_suppresses, 1);
    const struct d2_attrs_box_decode *da = first_node(g, D2_OP_BOX_DECODE)->attrs;
    ck_assert_uint_eq(da->weights.count, 4);
    ck_assert(da->weights.data[0] == 10.0 && da->weights.data[3] == 5.0);
    ck_assert_int_eq(da->legacy_plus_one, 1);
    d2_graph_free(g);
}
END_TEST

START_TEST(real_unsupported_nets_fail_clearly)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_caffe2_import_files(shared_path("caffe2-real/mask_rcnn_2go_fp32/model.pb"), NULL, NULL, &err);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(err.code, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "BoxWithNMSLimit") && strstr(err.message, "soft-NMS"), "%s", err.message);
    ck_assert_msg(strstr(err.message, "model.pb") != NULL, "%s", err.message);
    memset(&err, 0, sizeof err);
    g = d2_caffe2_import_files(shared_path("caffe2-real/mask_rcnn_2go_int8/model.pb"), NULL, NULL, &err);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(err.code, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "Int8Quantize") && strstr(err.message, "op #1"), "%s", err.message);
}
END_TEST

START_TEST(detect_format_netdef)
{
    size_t n;
    unsigned char *data = slurp(shared_path("detectron2-caffe2/faster_rcnn/caffe2/model.pb"), &n);
    ck_assert_int_eq(d2_detect_format(data, n), D2_FORMAT_CAFFE2);
    free(data);
    data = slurp(shared_path("caffe2-real/resnet50/predict_net.pb"), &n);
    ck_assert_int_eq(d2_detect_format(data, n), D2_FORMAT_CAFFE2);
    free(data);
}
END_TEST

/* ---- detectron2 faster_rcnn end to end ---- */

static double box_iou(const float *a, const float *b)
{
    double iw = fmin(a[2], b[2]) - fmax(a[0], b[0]), ih = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    double inter = iw > 0 && ih > 0 ? iw * ih : 0;
    double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return uni > 0 ? inter / uni : (memcmp(a, b, 16) == 0 ? 1.0 : 0.0);
}

static void load_npy(const char *path, struct d2_tensor *t)
{
    struct d2_error err = {0};
    ck_assert_msg(d2_npy_read_file(path, NULL, t, &err) == D2_OK, "%s", err.message);
}

/* Run g on the fixture inputs and match (bbox_nms, score_nms, class_nms) against
 * netdef__*: same class, IoU >= 0.999, |score difference| <= 1e-5. The NetDef import also
 * returns batch_splits_nms (detections per image), which must be [n]. */
static void run_faster_rcnn(struct d2_graph *g, const char *label)
{
    struct d2_error err = {0};
    struct d2_tensor in[2], out[4], ref[3];
    uint32_t num_out = g->num_outputs;
    load_npy(shared_path("detectron2-caffe2/faster_rcnn/ref/input_data.npy"), &in[0]);
    load_npy(shared_path("detectron2-caffe2/faster_rcnn/ref/input_im_info.npy"), &in[1]);
    load_npy(shared_path("detectron2-caffe2/faster_rcnn/ref/netdef__bbox_nms.npy"), &ref[0]);
    load_npy(shared_path("detectron2-caffe2/faster_rcnn/ref/netdef__score_nms.npy"), &ref[1]);
    load_npy(shared_path("detectron2-caffe2/faster_rcnn/ref/netdef__class_nms.npy"), &ref[2]);
    ck_assert_uint_eq(g->num_inputs, 2);
    ck_assert_msg(num_out == 3 || num_out == 4, "%s: %u outputs", label, num_out);
    ck_assert_msg(d2_cpu_execute(g, in, 2, out, num_out, NULL, &err) == D2_OK, "%s: %s", label, err.message);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(out[k].dtype, D2_DTYPE_F32);
    int64_t n = out[1].dims[0], n_ref = ref[1].dims[0];
    ck_assert_int_eq(n, n_ref);
    ck_assert_int_eq(out[0].rank, 2);
    ck_assert_int_eq(out[0].dims[0], n);
    const float *ob = out[0].data, *os = out[1].data, *oc = out[2].data;
    const float *rb = ref[0].data, *rs = ref[1].data, *rc = ref[2].data;
    unsigned char used[4096] = {0};
    int64_t matched = 0, same_index = 0;
    double worst_score = 0, worst_iou = 1;
    for (int64_t i = 0; i < n_ref && n <= 4096; i++) {
        int64_t best = -1;
        for (int64_t j = 0; j < n; j++) {
            if (used[j] || oc[j] != rc[i] || fabs(os[j] - rs[i]) > 1e-5 || box_iou(ob + 4 * j, rb + 4 * i) < 0.999)
                continue;
            best = j;
            if (j == i)
                break;
        }
        if (best < 0)
            continue;
        used[best] = 1;
        matched++;
        same_index += best == i;
        worst_score = fmax(worst_score, fabs(os[best] - rs[i]));
        worst_iou = fmin(worst_iou, box_iou(ob + 4 * best, rb + 4 * i));
    }
    printf("%s: %lld/%lld detections matched netdef__ (%lld at the same index), worst |score| %.2g, worst IoU %.7f\n",
           label, (long long)matched, (long long)n_ref, (long long)same_index, worst_score, worst_iou);
    ck_assert_msg(matched == n_ref, "%s: only %lld of %lld detections matched", label, (long long)matched,
                  (long long)n_ref);
    if (num_out == 4) {
        ck_assert_str_eq(g->values[g->outputs[3]].name, "batch_splits_nms");
        ck_assert_int_eq(d2_tensor_numel(&out[3]), 1);
        ck_assert_int_eq((int64_t)((const float *)out[3].data)[0], n);
        d2_tensor_release(&out[3], d2_allocator_default());
    }
    for (int k = 0; k < 3; k++) {
        d2_tensor_release(&out[k], d2_allocator_default());
        d2_tensor_release(&ref[k], d2_allocator_default());
    }
    d2_tensor_release(&in[0], d2_allocator_default());
    d2_tensor_release(&in[1], d2_allocator_default());
}

START_TEST(faster_rcnn_netdef_matches_reference)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_caffe2_import_files(shared_path("detectron2-caffe2/faster_rcnn/caffe2/model.pb"),
                                                shared_path("detectron2-caffe2/faster_rcnn/caffe2/model_init.pb"),
                                                NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_int_eq(d2_verify_graph(g, &err), D2_OK);
    ck_assert_str_eq(d2_graph_get_metadata(g, "size_divisibility"), "32");
    ck_assert_str_eq(d2_graph_get_metadata(g, "device"), "cpu");
    ck_assert_str_eq(d2_graph_get_metadata(g, "meta_architecture"), "GeneralizedRCNN");
    const struct d2_type *data = &g->values[g->inputs[0]].type;
    ck_assert_str_eq(g->values[g->inputs[0]].name, "data");
    ck_assert_int_eq(data->dtype, D2_DTYPE_F32);
    ck_assert_int_eq(data->rank, 4);
    ck_assert_int_eq(data->dims[1], 3);
    ck_assert_ptr_nonnull(data->symbols[2]);
    ck_assert_str_eq(g->values[g->inputs[1]].name, "im_info");
    ck_assert_str_eq(g->values[g->outputs[0]].name, "bbox_nms");
    ck_assert_int_eq(count_op(g, D2_OP_GENERATE_PROPOSALS), 5);
    ck_assert_int_eq(count_op(g, D2_OP_BOX_ROI_ALIGN), 4);
    ck_assert_int_eq(count_op(g, D2_OP_FPN_LEVEL_ASSIGN), 1);
    /* detectron2 writes legacy_plus_one=0: the stored argument wins over Caffe2's default. */
    ck_assert_int_eq(((const struct d2_attrs_generate_proposals *)first_node(g, D2_OP_GENERATE_PROPOSALS)->attrs)
                         ->legacy_plus_one, 0);
    const struct d2_attrs_fpn_level_assign *fa = first_node(g, D2_OP_FPN_LEVEL_ASSIGN)->attrs;
    ck_assert(fa->epsilon == 1e-6 && fa->min_level == 2 && fa->max_level == 5);
    run_faster_rcnn(g, "faster_rcnn NetDef");
    d2_graph_free(g);
}
END_TEST

START_TEST(faster_rcnn_onnx_caffe2_domain_matches_reference)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_onnx_import_file(shared_path("detectron2-caffe2/faster_rcnn/onnx/model.onnx"), NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_int_eq(d2_verify_graph(g, &err), D2_OK);
    ck_assert_int_eq(count_op(g, D2_OP_GENERATE_PROPOSALS), 5);
    ck_assert_int_eq(count_op(g, D2_OP_BOX_BATCHED_NMS), 1);
    /* AliasWithName outputs keep their ONNX names (graph outputs). */
    ck_assert_str_eq(g->values[g->outputs[0]].name, "roi_bbox_nms");
    run_faster_rcnn(g, "faster_rcnn ONNX (org.pytorch._caffe2)");
    d2_graph_free(g);
}
END_TEST

/* ---- single-operator nets against numpy ---- */

struct arg_spec {
    const char *name;
    char kind; /* 'i', 'f', 's', 'I' (ints), 'F' (floats) */
    int64_t i;
    double f;
    const char *s;
    const int64_t *ints;
    const float *floats;
    size_t count;
};
#define ARG_I(n, v) { n, 'i', v, 0, NULL, NULL, NULL, 0 }
#define ARG_F(n, v) { n, 'f', 0, v, NULL, NULL, NULL, 0 }
#define ARG_INTS(n, a) { n, 'I', 0, 0, NULL, a, NULL, sizeof(a) / sizeof((a)[0]) }
#define ARG_FLOATS(n, a) { n, 'F', 0, 0, NULL, NULL, a, sizeof(a) / sizeof((a)[0]) }

static void fill_arg(D2rtCaffe2__Argument *a, const struct arg_spec *s)
{
    d2rt_caffe2__argument__init(a);
    a->name = (char *)s->name;
    switch (s->kind) {
    case 'i': a->has_i = 1; a->i = s->i; break;
    case 'f': a->has_f = 1; a->f = (float)s->f; break;
    case 's': a->has_s = 1; a->s.data = (uint8_t *)s->s; a->s.len = strlen(s->s); break;
    case 'I': a->ints = (int64_t *)s->ints; a->n_ints = s->count; break;
    case 'F': a->floats = (float *)s->floats; a->n_floats = s->count; break;
    }
}

static uint8_t *pack_net(D2rtCaffe2__NetDef *net, size_t *size)
{
    *size = d2rt_caffe2__net_def__get_packed_size(net);
    uint8_t *buf = malloc(*size + 1);
    ck_assert_uint_eq(d2rt_caffe2__net_def__pack(net, buf), *size);
    return buf;
}

/* A net with one operator `type` reading in0..in{n-1} and writing out0..out{m-1};
 * the inputs come from tests/data/caffe2/<case>.in<k>.npy through an init net of
 * GivenTensorFill / GivenTensorIntFill. Runs it and compares every output with
 * <case>.out<k>.npy (dtype and shape exactly, values within 1e-5 + 1e-5 * |want|). */
static void check_case(const char *name, const char *type, uint32_t n_in, uint32_t n_out, const struct arg_spec *args,
                       size_t n_args)
{
    char path[256], in_names[8][8], out_names[8][8];
    char *in_ptrs[8], *out_ptrs[8];
    struct d2_tensor inputs[8];
    D2rtCaffe2__OperatorDef fills[8], op;
    D2rtCaffe2__OperatorDef *fill_ptrs[8], *op_ptr = &op;
    D2rtCaffe2__Argument fill_args[8][2], *fill_arg_ptrs[8][2], op_args[16], *op_arg_ptrs[16];
    float *floats[8] = {0};
    int64_t *ints[8] = {0};
    int64_t dims[8][D2_MAX_RANK];
    D2rtCaffe2__NetDef init = D2RT_CAFFE2__NET_DEF__INIT, predict = D2RT_CAFFE2__NET_DEF__INIT;
    struct d2_error err = {0};

    for (uint32_t k = 0; k < n_in; k++) {
        snprintf(path, sizeof path, DATA "%s.in%u.npy", name, k);
        load_npy(path, &inputs[k]);
        snprintf(in_names[k], sizeof in_names[k], "in%u", k);
        in_ptrs[k] = in_names[k];
        d2rt_caffe2__operator_def__init(&fills[k]);
        fills[k].type = inputs[k].dtype == D2_DTYPE_F32 ? "GivenTensorFill" : "GivenTensorIntFill";
        fills[k].n_output = 1;
        fills[k].output = &in_ptrs[k];
        int64_t n = d2_tensor_numel(&inputs[k]);
        for (int32_t d = 0; d < inputs[k].rank; d++)
            dims[k][d] = inputs[k].dims[d];
        struct arg_spec shape = { "shape", 'I', 0, 0, NULL, dims[k], NULL, (size_t)inputs[k].rank };
        struct arg_spec values = { "values", inputs[k].dtype == D2_DTYPE_F32 ? 'F' : 'I', 0, 0, NULL, NULL, NULL, (size_t)n };
        if (inputs[k].dtype == D2_DTYPE_F32) {
            values.floats = floats[k] = inputs[k].data;
        } else {
            ints[k] = malloc(sizeof(int64_t) * (size_t)(n + 1));
            for (int64_t i = 0; i < n; i++)
                ints[k][i] = d2_load_i64(inputs[k].data, inputs[k].dtype, (size_t)i);
            values.ints = ints[k];
        }
        fill_arg(&fill_args[k][0], &shape);
        fill_arg(&fill_args[k][1], &values);
        fill_arg_ptrs[k][0] = &fill_args[k][0];
        fill_arg_ptrs[k][1] = &fill_args[k][1];
        fills[k].arg = fill_arg_ptrs[k];
        fills[k].n_arg = 2;
        fill_ptrs[k] = &fills[k];
    }
    for (uint32_t k = 0; k < n_out; k++) {
        snprintf(out_names[k], sizeof out_names[k], "out%u", k);
        out_ptrs[k] = out_names[k];
    }
    for (size_t a = 0; a < n_args; a++) {
        fill_arg(&op_args[a], &args[a]);
        op_arg_ptrs[a] = &op_args[a];
    }
    d2rt_caffe2__operator_def__init(&op);
    op.type = (char *)type;
    op.name = (char *)name;
    op.n_input = n_in;
    op.input = in_ptrs;
    op.n_output = n_out;
    op.output = out_ptrs;
    op.n_arg = n_args;
    op.arg = op_arg_ptrs;
    init.n_op = n_in;
    init.op = fill_ptrs;
    predict.n_op = 1;
    predict.op = &op_ptr;
    predict.n_external_input = n_in;
    predict.external_input = in_ptrs;
    predict.n_external_output = n_out;
    predict.external_output = out_ptrs;

    size_t init_size, predict_size;
    uint8_t *init_buf = pack_net(&init, &init_size), *predict_buf = pack_net(&predict, &predict_size);
    struct d2_graph *g = d2_caffe2_import_buffers(predict_buf, predict_size, init_buf, init_size, NULL, &err);
    ck_assert_msg(g != NULL, "%s: %s", name, err.message);
    ck_assert_msg(d2_verify_graph(g, &err) == D2_OK, "%s: %s", name, err.message);
    ck_assert_uint_eq(g->num_inputs, 0);
    ck_assert_uint_eq(g->num_outputs, n_out);
    struct d2_tensor out[8];
    ck_assert_msg(d2_cpu_execute(g, NULL, 0, out, n_out, NULL, &err) == D2_OK, "%s: %s", name, err.message);
    for (uint32_t k = 0; k < n_out; k++) {
        struct d2_tensor want;
        snprintf(path, sizeof path, DATA "%s.out%u.npy", name, k);
        load_npy(path, &want);
        ck_assert_msg(out[k].dtype == want.dtype, "%s out%u: dtype %s, want %s", name, k, d2_dtype_name(out[k].dtype),
                      d2_dtype_name(want.dtype));
        ck_assert_msg(out[k].rank == want.rank, "%s out%u: rank %d, want %d", name, k, out[k].rank, want.rank);
        for (int32_t d = 0; d < want.rank; d++)
            ck_assert_msg(out[k].dims[d] == want.dims[d], "%s out%u: dim %d is %lld, want %lld", name, k, d,
                          (long long)out[k].dims[d], (long long)want.dims[d]);
        for (int64_t i = 0; i < d2_tensor_numel(&want); i++) {
            double a = d2_load_f64(out[k].data, out[k].dtype, (size_t)i);
            double b = d2_load_f64(want.data, want.dtype, (size_t)i);
            ck_assert_msg(fabs(a - b) <= 1e-5 + 1e-5 * fabs(b), "%s out%u[%lld]: %.9g, want %.9g", name, k,
                          (long long)i, a, b);
        }
        d2_tensor_release(&want, d2_allocator_default());
        d2_tensor_release(&out[k], d2_allocator_default());
    }
    d2_graph_free(g);
    free(init_buf);
    free(predict_buf);
    for (uint32_t k = 0; k < n_in; k++) {
        free(ints[k]);
        d2_tensor_release(&inputs[k], d2_allocator_default());
    }
}

START_TEST(op_add_legacy_broadcast)
{
    struct arg_spec args[] = { ARG_I("broadcast", 1), ARG_I("axis", 1) };
    check_case("add_legacy_bcast", "Add", 2, 1, args, 2);
}
END_TEST

START_TEST(op_resize_nearest)
{
    struct arg_spec args[] = { ARG_F("height_scale", 2.0), ARG_F("width_scale", 1.5) };
    check_case("resize_nearest", "ResizeNearest", 1, 1, args, 2);
}
END_TEST

START_TEST(op_softmax_coerces_to_2d)
{
    struct arg_spec args[] = { ARG_I("axis", 1) };
    check_case("softmax_axis1", "Softmax", 1, 1, args, 1);
}
END_TEST

START_TEST(op_concat_split_info)
{
    struct arg_spec args[] = { ARG_I("axis", 1) };
    check_case("concat_split", "Concat", 2, 2, args, 1);
}
END_TEST

START_TEST(op_slice_negative_indices)
{
    static const int64_t starts[] = { 1, -3 }, ends[] = { -1, -2 };
    struct arg_spec args[] = { ARG_INTS("starts", starts), ARG_INTS("ends", ends) };
    check_case("slice_negative", "Slice", 1, 1, args, 2);
}
END_TEST

START_TEST(op_affine_channel)
{
    check_case("affine_channel", "AffineChannel", 3, 1, NULL, 0);
}
END_TEST

START_TEST(op_bbox_transform_scaled_legacy)
{
    static const float weights[] = { 10, 10, 5, 5 };
    struct arg_spec args[] = { ARG_FLOATS("weights", weights), ARG_I("apply_scale", 1) };
    check_case("bbox_transform", "BBoxTransform", 3, 2, args, 2);
}
END_TEST

START_TEST(op_box_with_nms_limit_defaults)
{
    struct arg_spec args[] = { ARG_F("score_thresh", 0.3), ARG_F("nms", 0.5), ARG_I("detections_per_im", 8) };
    check_case("box_with_nms", "BoxWithNMSLimit", 2, 6, args, 3);
}
END_TEST

/* ---- SSA renaming and errors on hand-built nets ---- */

START_TEST(inplace_blobs_get_fresh_names)
{
    /* x -> Relu(x) in place, Sigmoid(x) in place, output x. */
    char *x[] = { "x" };
    D2rtCaffe2__OperatorDef ops[2], *op_ptrs[2] = { &ops[0], &ops[1] };
    D2rtCaffe2__NetDef net = D2RT_CAFFE2__NET_DEF__INIT;
    for (int i = 0; i < 2; i++) {
        d2rt_caffe2__operator_def__init(&ops[i]);
        ops[i].type = i ? "Sigmoid" : "Relu";
        ops[i].n_input = ops[i].n_output = 1;
        ops[i].input = ops[i].output = x;
    }
    net.n_op = 2;
    net.op = op_ptrs;
    net.n_external_input = net.n_external_output = 1;
    net.external_input = net.external_output = x;
    size_t size;
    uint8_t *buf = pack_net(&net, &size);
    struct d2_error err = {0};
    struct d2_graph *g = d2_caffe2_import_buffers(buf, size, NULL, 0, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_uint_eq(g->num_inputs, 1);
    ck_assert_str_eq(g->values[g->inputs[0]].name, "x");
    ck_assert_str_eq(g->values[g->nodes[0].outputs[0]].name, "x_1");
    ck_assert_uint_eq(g->nodes[1].inputs[0], g->nodes[0].outputs[0]);
    ck_assert_str_eq(g->values[g->nodes[1].outputs[0]].name, "x_2");
    ck_assert_uint_eq(g->outputs[0], g->nodes[1].outputs[0]);
    d2_graph_free(g);
    free(buf);
}
END_TEST

START_TEST(errors_name_the_operator)
{
    char *in[] = { "a" }, *out[] = { "b" }, *missing[] = { "nope" };
    D2rtCaffe2__OperatorDef op, *op_ptr = &op;
    D2rtCaffe2__NetDef net = D2RT_CAFFE2__NET_DEF__INIT;
    d2rt_caffe2__operator_def__init(&op);
    op.type = "FrobnicateX";
    op.name = "mystery";
    op.n_input = op.n_output = 1;
    op.input = in;
    op.output = out;
    net.n_op = 1;
    net.op = &op_ptr;
    net.n_external_input = net.n_external_output = 1;
    net.external_input = in;
    net.external_output = out;
    size_t size;
    uint8_t *buf = pack_net(&net, &size);
    struct d2_error err = {0};
    ck_assert_ptr_null(d2_caffe2_import_buffers(buf, size, NULL, 0, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "op #0 'mystery' (FrobnicateX)") != NULL, "%s", err.message);
    free(buf);
    /* An undefined input blob. */
    op.type = "Relu";
    op.input = missing;
    buf = pack_net(&net, &size);
    memset(&err, 0, sizeof err);
    ck_assert_ptr_null(d2_caffe2_import_buffers(buf, size, NULL, 0, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_PARSE);
    ck_assert_msg(strstr(err.message, "'nope' is not defined") != NULL, "%s", err.message);
    /* A non-fill operator in the init net. */
    memset(&err, 0, sizeof err);
    ck_assert_ptr_null(d2_caffe2_import_buffers(buf, size, buf, size, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "init_net op #0") != NULL, "%s", err.message);
    free(buf);
}
END_TEST

START_TEST(malformed_protobuf_fails_cleanly)
{
    size_t n;
    unsigned char *data = slurp(shared_path("caffe2-real/detectron_e2e_faster_rcnn_R-50-C4_1x/predict_net.pb"), &n);
    size_t cuts[] = { 1, 2, 7, 100, n / 3, n / 2, n - 1 };
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        struct d2_error err = {0};
        struct d2_graph *g = d2_caffe2_import_buffers(data, cuts[c], NULL, 0, NULL, &err);
        if (g) { /* a cut on a message boundary is a valid, shorter net */
            d2_graph_free(g);
            continue;
        }
        ck_assert_msg(err.code != D2_OK && err.message[0], "cut at %zu: no message", cuts[c]);
        ck_assert_msg(strchr(err.message, '\n') == NULL, "multi-line message");
    }
    /* Random bytes. */
    unsigned char junk[512];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 16);
    struct d2_error err = {0};
    struct d2_graph *g = d2_caffe2_import_buffers(junk, sizeof junk, NULL, 0, NULL, &err);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(err.code, D2_ERR_PARSE);
    /* Nets nested 40 deep through Argument.n: refused before protobuf recursion. */
    unsigned char nested[4096];
    size_t len = 0;
    for (int d = 0; d < 40; d++) {
        /* NetDef{op{arg{n: <inner>}}}: wrap the inner bytes three times. */
        static const uint8_t tags[3] = { 0x42 /* Argument.n */, 0x2a /* OperatorDef.arg */, 0x12 /* NetDef.op */ };
        for (int t = 0; t < 3; t++) {
            ck_assert(len < 127 * 0 + 4000);
            uint8_t hdr[3];
            size_t h = 0;
            hdr[h++] = tags[t];
            if (len < 128) {
                hdr[h++] = (uint8_t)len;
            } else {
                hdr[h++] = (uint8_t)(len | 0x80);
                hdr[h++] = (uint8_t)(len >> 7);
            }
            memmove(nested + h, nested, len);
            memcpy(nested, hdr, h);
            len += h;
        }
    }
    memset(&err, 0, sizeof err);
    ck_assert_ptr_null(d2_caffe2_import_buffers(nested, len, NULL, 0, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "nests nets") != NULL, "%s", err.message);
    /* Missing file. */
    memset(&err, 0, sizeof err);
    ck_assert_ptr_null(d2_caffe2_import_files("/nonexistent/model.pb", NULL, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_IO);
    free(data);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("caffe2");
    TCase *tc = tcase_create("caffe2");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, real_resnet50_imports);
    tcase_add_test(tc, real_detectron_c4_defaults);
    tcase_add_test(tc, real_unsupported_nets_fail_clearly);
    tcase_add_test(tc, detect_format_netdef);
    tcase_add_test(tc, faster_rcnn_netdef_matches_reference);
    tcase_add_test(tc, faster_rcnn_onnx_caffe2_domain_matches_reference);
    tcase_add_test(tc, op_add_legacy_broadcast);
    tcase_add_test(tc, op_resize_nearest);
    tcase_add_test(tc, op_softmax_coerces_to_2d);
    tcase_add_test(tc, op_concat_split_info);
    tcase_add_test(tc, op_slice_negative_indices);
    tcase_add_test(tc, op_affine_channel);
    tcase_add_test(tc, op_bbox_transform_scaled_legacy);
    tcase_add_test(tc, op_box_with_nms_limit_defaults);
    tcase_add_test(tc, inplace_blobs_get_fresh_names);
    tcase_add_test(tc, errors_name_the_operator);
    tcase_add_test(tc, malformed_protobuf_fails_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
