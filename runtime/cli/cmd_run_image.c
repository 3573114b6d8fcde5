/* runtime/cli/cmd_run_image.c: `d2rt run MODEL IMAGE... [options]`, the predictor path,
 * and the detector metadata flags shared by compile / run / inspect (cli_predict.h).
 *
 * For each image: decode (EXIF applied) in the model's channel order, ResizeShortestEdge
 * from the model metadata, build the inputs the export method expects, run, read the
 * outputs per the metadata and post-process to the original image
 * (runtime/predict.h). Prints a table per image; --out DIR writes DIR/<i>/{boxes,...}.npy,
 * --json FILE COCO results, --vis FILE.png a picture (FILE_<i>.png for several images).
 * Images run one by one unless the model takes a batch (d2_predict_supports_batch):
 * then images of equal padded size share a run (see run_all). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "cli.h"
#include "cli_predict.h"
#include "runtime/load.h"
#include "runtime/predict.h"

static const char run_image_usage[] =
    "usage: d2rt run MODEL|IR IMAGE... [--out DIR] [--json FILE] [--vis FILE.png]\n"
    "                [--score-thresh T] [--pad-value mean|zero] [--roialign-aligned] [--threads N]\n"
    "                [metadata flags]\n"
    "\n"
    "When the inputs are images (JPEG or PNG, detected from content), run the model as\n"
    "detectron2's DefaultPredictor does: decode (EXIF orientation applied), resize\n"
    "(ResizeShortestEdge from the model metadata), run, post-process to the image size.\n"
    "  --out DIR          write DIR/<i>/{boxes,scores,classes[,masks][,keypoints]}.npy\n"
    "  --json FILE        COCO results JSON (image_id: the file stem when it is a number,\n"
    "                     else the image's index; COCO category ids for COCO models)\n"
    "  --vis FILE.png     draw the detections (FILE_<i>.png for several images); draws\n"
    "                     scores above --score-thresh, or above 0.5 without it\n"
    "  --score-thresh T   keep only detections with score > T\n"
    "  --pad-value V      Caffe2 models: pad the input with the pixel mean (default; equals\n"
    "                     DefaultPredictor, which pads with 0 after normalising) or with 0\n"
    "                     (what Caffe2's own examples feed)\n"
    "  --roialign-aligned compiling an ONNX export below opset 16: detectron2's aligned RoIAlign\n"
    "  --threads N        worker threads (0, the default: one per CPU)\n";

const char cli_meta_flags_usage[] =
    "detector metadata (stored in the model.ir; auto-detected when not given):\n"
    "  --export-method M  tracing | scripting | caffe2_tracing | torchvision | onnx\n"
    "  --format BGR|RGB   channel order of the model input (detectron2: BGR)\n"
    "  --min-size N       ResizeShortestEdge short side (default 800; 0: no resize)\n"
    "  --max-size N       ResizeShortestEdge long-side cap (default 1333)\n"
    "  --size-divisibility N  pad the input to a multiple of N (Caffe2 exports; default 32)\n"
    "  --pixel-mean a,b,c / --pixel-std a,b,c  normalisation done outside the graph\n"
    "  --classes coco|FILE    class names: COCO's 80, or one name per line\n"
    "  --outputs ROLES    output roles in order, e.g. boxes,classes,masks,scores,image_size\n"
    "  --label-offset N   model class id - N = index into the class names (torchvision: 1)\n";

/* ---- metadata flags ---- */

static char *classes_text; /* the last --classes FILE's content (one CLI call at a time) */

void cli_meta_overrides_free(struct d2_model_meta_overrides *o)
{
    if (o->class_names == classes_text)
        o->class_names = NULL;
    free(classes_text);
    classes_text = NULL;
}

static char *read_classes_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, *out;
    size_t size = 0, cap = 0, n;
    char chunk[4096];
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (size + n + 1 > cap) {
            char *grown;
            cap = (size + n + 1) * 2;
            grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                return NULL;
            }
            text = grown;
        }
        memcpy(text + size, chunk, n);
        size += n;
    }
    fclose(f);
    if (!text)
        return NULL;
    text[size] = '\0';
    /* Drop '\r', blank trailing lines and a leading background entry (torchvision's
     * label 0; label_offset already skips it). */
    out = text;
    for (char *p = text; *p; p++)
        if (*p != '\r')
            *out++ = *p;
    *out = '\0';
    while (out > text && out[-1] == '\n')
        *--out = '\0';
    for (const char *bg_names[] = { "__background__\n", "background\n", "__background\n" }, **b = bg_names;
         b < bg_names + 3; b++)
        if (strncmp(text, *b, strlen(*b)) == 0) {
            memmove(text, text + strlen(*b), strlen(text + strlen(*b)) + 1);
            break;
        }
    return text;
}

int cli_meta_flag(int argc, char **argv, int *i, struct d2_model_meta_overrides *o)
{
    static const char *const names[] = { "--min-size", "--max-size", "--format", "--classes", "--export-method",
                                         "--size-divisibility", "--pixel-mean", "--pixel-std", "--outputs",
                                         "--label-offset" };
    const char *flag = argv[*i], *value;
    int which = -1;
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++)
        if (strcmp(flag, names[k]) == 0)
            which = k;
    if (which < 0)
        return 0;
    if (*i + 1 >= argc) {
        cli_fail("%s needs a value", flag);
        return -1;
    }
    value = argv[++*i];
    if (which == 0 || which == 1 || which == 5 || which == 9) {
        char *end;
        long long v = strtoll(value, &end, 10);
        if (end == value || *end || v < 0 || v > 1000000) {
            cli_fail("%s: expected an integer >= 0, got '%s'", flag, value);
            return -1;
        }
        *(which == 0 ? &o->min_size : which == 1 ? &o->max_size : which == 5 ? &o->size_divisibility
                                                                               : &o->label_offset) = v;
        return 1;
    }
    switch (which) {
    case 2: o->input_format = value; break;
    case 4: o->export_method = value; break;
    case 6: o->pixel_mean = value; break;
    case 7: o->pixel_std = value; break;
    case 8: o->outputs = value; break;
    case 3:
        if (strcmp(value, "coco") == 0) {
            o->class_names = "coco";
            break;
        }
        free(classes_text);
        classes_text = read_classes_file(value);
        if (!classes_text) {
            cli_fail("--classes: cannot read '%s': %s", value, errno ? strerror(errno) : "empty file");
            return -1;
        }
        o->class_names = classes_text;
        break;
    default: break;
    }
    return 1;
}

int cli_meta_apply(struct d2_graph *g, const struct d2_model_meta_overrides *o)
{
    struct d2_error err = { 0 };
    if (d2_model_meta_apply(g, o, &err) != D2_OK)
        return cli_fail("%s", err.message);
    return 0;
}

void cli_meta_print(const struct d2_graph *g)
{
    struct d2_model_meta meta;
    struct d2_error err = { 0 };
    if (d2_model_meta_resolve(g, &meta, &err) != D2_OK) {
        printf("# predictor: invalid metadata: %s\n", err.message);
        return;
    }
    printf("# predictor: export_method=%s meta_architecture=%s input_format=%s min_size=%lld max_size=%lld "
           "size_divisibility=%lld\n",
           d2_export_method_name(meta.export_method), meta.meta_architecture,
           meta.input_format == D2_CHANNELS_RGB ? "RGB" : "BGR", (long long)meta.min_size, (long long)meta.max_size,
           (long long)meta.size_divisibility);
    if (meta.has_pixel_mean || meta.has_pixel_std)
        printf("# predictor: pixel_mean=%g,%g,%g pixel_std=%g,%g,%g (outside the graph)\n", meta.pixel_mean[0],
               meta.pixel_mean[1], meta.pixel_mean[2], meta.has_pixel_std ? meta.pixel_std[0] : 1.0,
               meta.has_pixel_std ? meta.pixel_std[1] : 1.0, meta.has_pixel_std ? meta.pixel_std[2] : 1.0);
    printf("# predictor: outputs=");
    for (uint32_t k = 0; k < meta.num_outputs; k++)
        printf("%s%s", k ? "," : "", d2_output_role_name(meta.outputs[k]));
    if (!meta.class_names)
        printf(" classes=(none: printed as ids)\n");
    else if (strcmp(meta.class_names, "coco") == 0)
        printf(" classes=coco (80)\n");
    else {
        size_t n = 1;
        for (const char *p = meta.class_names; *p; p++)
            n += *p == '\n';
        printf(" classes=%zu names label_offset=%lld\n", n, (long long)meta.label_offset);
    }
}

/* ---- image detection ---- */

bool cli_is_image_file(const char *path)
{
    unsigned char head[8] = { 0 };
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f)
        return false;
    n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
        return true;
    return n == 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0;
}

/* Options that take a value, so their value is not taken for a positional argument. */
static bool takes_value(const char *opt)
{
    static const char *const with_value[] = { "--out", "-o", "--json", "--vis", "--score-thresh", "--pad-value",
                                              "--min-size", "--max-size", "--format", "--classes",
                                              "--export-method", "--size-divisibility", "--pixel-mean",
                                              "--pixel-std", "--outputs", "--label-offset", "--threads",
                                              "--batch", "--size", "--dump-after", "--init" };
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        if (strcmp(opt, with_value[k]) == 0)
            return true;
    return false;
}

bool cli_run_has_image_input(int argc, char **argv)
{
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            i += takes_value(argv[i]);
            continue;
        }
        if (++positional == 2)
            return cli_is_image_file(argv[i]);
    }
    return false;
}

struct run_options {
    const char *model, *out_dir, *json, *vis;
    int threads;                 /* 0: one per CPU */
    const struct d2_backend_ops *backend;
    void *backend_state;         /* the backend's session (fast kernels, thread pool), or NULL */
    double score_thresh;
    bool has_score_thresh;
    enum d2_pad_value pad;
    struct d2_compile_options compile;
    struct d2_model_meta_overrides meta;
    const char **images;
    int num_images;
};

static int parse_args(int argc, char **argv, struct run_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_meta_flag(argc, argv, &i, &o->meta);
        if (r < 0)
            return 1;
        if (r > 0)
            continue;
        if (takes_value(a) && i + 1 >= argc)
            return cli_fail("run: %s needs a value", a);
        if (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0) {
            o->out_dir = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            o->json = argv[++i];
        } else if (strcmp(a, "--vis") == 0) {
            o->vis = argv[++i];
        } else if (strcmp(a, "--score-thresh") == 0) {
            char *end;
            o->score_thresh = strtod(argv[++i], &end);
            if (end == argv[i] || *end)
                return cli_fail("run: --score-thresh: expected a number, got '%s'", argv[i]);
            o->has_score_thresh = true;
        } else if (strcmp(a, "--pad-value") == 0) {
            const char *v = argv[++i];
            if (strcmp(v, "mean") == 0)
                o->pad = D2_PAD_MEAN;
            else if (strcmp(v, "zero") == 0 || strcmp(v, "0") == 0)
                o->pad = D2_PAD_ZERO;
            else
                return cli_fail("run: --pad-value: expected mean or zero, got '%s'", v);
        } else if (strcmp(a, "--threads") == 0) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || v < 0 || v > 1024)
                return cli_fail("run: --threads: expected a count >= 0, got '%s'", argv[i]);
            o->threads = (int)v;
        } else if (strcmp(a, "--roialign-aligned") == 0) {
            o->compile.roialign_aligned = true;
        } else if (strcmp(a, "--init") == 0) {
            o->compile.caffe2_init_path = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_fail("run: unknown option '%s' for image inputs (see d2rt run --help)", a);
        } else if (!o->model) {
            o->model = a;
        } else {
            if (!cli_is_image_file(a))
                return cli_fail("run: '%s' is not a JPEG or PNG image (image and tensor inputs cannot be mixed)", a);
            o->images[o->num_images++] = a;
        }
    }
    if (!o->model || o->num_images == 0)
        return cli_fail("run: usage: d2rt run MODEL IMAGE... (see d2rt run --help)");
    return 0;
}

/* COCO image id: the file stem when it is all digits (COCO's 000000397133.jpg), else the index. */
static int64_t image_id(const char *path, int index)
{
    const char *base = strrchr(path, '/');
    const char *p;
    int64_t id = 0;
    base = base ? base + 1 : path;
    for (p = base; *p >= '0' && *p <= '9'; p++)
        id = id * 10 + (*p - '0');
    return p != base && (*p == '.' || *p == '\0') && p - base <= 18 ? id : index;
}

static void vis_path(char *buf, size_t size, const char *vis, int index, int count)
{
    const char *dot = strrchr(vis, '.'), *slash = strrchr(vis, '/');
    if (count == 1) {
        snprintf(buf, size, "%s", vis);
        return;
    }
    if (!dot || (slash && dot < slash))
        dot = vis + strlen(vis);
    snprintf(buf, size, "%.*s_%d%s", (int)(dot - vis), vis, index, dot);
}

/* Run the model on images[first .. first + count) and append their instances. */
static int predict_batch(const struct d2_graph *g, const struct d2_model_meta *meta, const struct run_options *o,
                         struct d2_predict_image *images, int first, int count, struct d2_instances *results)
{
    const struct d2_backend_ops *cpu = o->backend;
    struct d2_tensor *ins = calloc(g->num_inputs + 1u, sizeof *ins);
    struct d2_tensor *outs = calloc(g->num_outputs + 1u, sizeof *outs);
    struct d2_error err = { 0 };
    int rc = 1;
    if (!ins || !outs) {
        rc = cli_fail("out of memory");
        goto done;
    }
    if (d2_predict_make_inputs(g, meta, images + first, (uint32_t)count, o->pad, NULL, ins, &err) != D2_OK ||
        (o->backend_state ? cpu->session_execute(o->backend_state, g, ins, g->num_inputs, outs, g->num_outputs, NULL,
                                                 &err)
                          : cpu->execute(g, ins, g->num_inputs, outs, g->num_outputs, NULL, &err)) != D2_OK) {
        rc = cli_fail("%s: %s", o->images[first], err.message);
        goto done;
    }
    for (int b = 0; b < count; b++) {
        struct d2_instances *inst = &results[first + b];
        if (d2_predict_instances(meta, outs, g->num_outputs, &images[first + b], (uint32_t)b, (uint32_t)count, NULL,
                                 inst, &err) != D2_OK ||
            (o->has_score_thresh && d2_instances_keep_scores_above(inst, o->score_thresh, NULL, &err) != D2_OK)) {
            rc = cli_fail("%s: %s", o->images[first + b], err.message);
            goto done;
        }
    }
    rc = 0;
done:
    for (uint32_t i = 0; ins && i < g->num_inputs; i++)
        d2_tensor_release(&ins[i], NULL);
    for (uint32_t k = 0; outs && k < g->num_outputs; k++)
        d2_tensor_release(&outs[k], NULL);
    free(ins);
    free(outs);
    return rc;
}

/* Padded size of an image in a batch: batching pads every image to the largest, which
 * changes what the network sees near the bottom/right edge (as it does in detectron2), so
 * only images of equal padded size share a run and every answer equals the one-by-one one. */
static void padded_size(const struct d2_model_meta *meta, const struct d2_predict_image *image, int64_t *h, int64_t *w)
{
    int64_t div = meta->size_divisibility > 1 ? meta->size_divisibility : 1;
    *h = (image->resized.dims[0] + div - 1) / div * div;
    *w = (image->resized.dims[1] + div - 1) / div * div;
}

/* Run every image: one batch per padded size when the model takes batches (images
 * reordered into contiguous groups through `order`), else one by one. */
static int run_all(const struct d2_graph *g, const struct d2_model_meta *meta, const struct run_options *o,
                   struct d2_predict_image *images, struct d2_instances *results)
{
    int n = o->num_images, rc = 1;
    if (!d2_predict_supports_batch(g, meta)) {
        for (int i = 0; i < n; i++)
            if (predict_batch(g, meta, o, images, i, 1, results) != 0)
                return 1;
        return 0;
    }
    struct d2_predict_image *group_images = calloc((size_t)n, sizeof *group_images);
    struct d2_instances *group_results = calloc((size_t)n, sizeof *group_results);
    int *members = calloc((size_t)n, sizeof *members);
    char *done = calloc((size_t)n, 1);
    struct run_options group_opts = *o;
    const char **group_paths = calloc((size_t)n, sizeof *group_paths);
    if (!group_images || !group_results || !members || !done || !group_paths) {
        rc = cli_fail("out of memory");
        goto out;
    }
    group_opts.images = group_paths;
    for (int i = 0; i < n; i++) {
        int64_t hi, wi, hj, wj;
        int count = 0;
        if (done[i])
            continue;
        padded_size(meta, &images[i], &hi, &wi);
        for (int j = i; j < n; j++) {
            padded_size(meta, &images[j], &hj, &wj);
            if (!done[j] && hj == hi && wj == wi) {
                done[j] = 1;
                members[count] = j;
                group_images[count] = images[j]; /* shallow: the group borrows the pixels */
                group_paths[count] = o->images[j];
                count++;
            }
        }
        group_opts.num_images = count;
        memset(group_results, 0, sizeof *group_results * (size_t)count);
        if (count > 1) {
            printf("# batch of %d (padded %lld x %lld): images", count, (long long)hi, (long long)wi);
            for (int k = 0; k < count; k++)
                printf(" %d", members[k]);
            printf("\n");
        }
        if (predict_batch(g, meta, &group_opts, group_images, 0, count, group_results) != 0) {
            for (int k = 0; k < count; k++)
                d2_instances_release(&group_results[k], NULL);
            goto out;
        }
        for (int k = 0; k < count; k++)
            results[members[k]] = group_results[k];
    }
    rc = 0;
out:
    free(group_images);
    free(group_results);
    free(members);
    free(done);
    free(group_paths);
    return rc;
}

static int write_results(const struct run_options *o, const struct d2_model_meta *meta,
                         struct d2_predict_image *images, struct d2_instances *results)
{
    struct d2_error err = { 0 };
    char **names = NULL;
    size_t num_names = 0;
    int rc = 1;
    if (d2_model_meta_class_names(meta, NULL, &names, &num_names, &err) != D2_OK)
        return cli_fail("%s", err.message);
    for (int i = 0; i < o->num_images; i++) {
        char *table = d2_instances_format_table(&results[i], (const char *const *)names, num_names, NULL);
        if (!table) {
            rc = cli_fail("out of memory");
            goto done;
        }
        printf("# image %d: %s (%lld x %lld), %lld detections\n%s", i, o->images[i],
               (long long)results[i].image_height, (long long)results[i].image_width, (long long)results[i].count,
               table);
        d2_free(NULL, table);
        if (o->out_dir) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%d", o->out_dir, i);
            if (d2_instances_write_npy_dir(&results[i], dir, &err) != D2_OK) {
                rc = cli_fail("%s", err.message);
                goto done;
            }
        }
        if (o->vis) {
            struct d2_vis_options vo;
            struct d2_tensor picture = { 0 };
            char path[4096];
            d2_vis_options_default(&vo);
            if (o->has_score_thresh)
                vo.min_score = o->score_thresh;
            vis_path(path, sizeof path, o->vis, i, o->num_images);
            if (d2_visualize_instances(&images[i].original, meta->input_format, &results[i],
                                       (const char *const *)names, num_names, &vo, NULL, &picture, &err) != D2_OK ||
                d2_png_write_file(path, &picture, &err) != D2_OK) {
                d2_tensor_release(&picture, NULL);
                rc = cli_fail("%s", err.message);
                goto done;
            }
            d2_tensor_release(&picture, NULL);
            printf("# wrote %s\n", path);
        }
    }
    if (o->json) {
        const struct d2_instances **list = calloc((size_t)o->num_images, sizeof *list);
        int64_t *ids = calloc((size_t)o->num_images, sizeof *ids);
        bool coco = meta->class_names && strcmp(meta->class_names, "coco") == 0;
        char *text = NULL;
        if (list && ids) {
            for (int i = 0; i < o->num_images; i++) {
                list[i] = &results[i];
                ids[i] = image_id(o->images[i], i);
            }
            text = d2_coco_results_json(list, ids, (size_t)o->num_images, coco ? d2_coco_category_ids : NULL,
                                        coco ? D2_COCO_NUM_CLASSES : 0, NULL, &err);
        } else {
            d2_errorf(&err, D2_ERR_NOMEM, "out of memory");
        }
        if (!text || d2_write_text_file(o->json, text, &err) != D2_OK) {
            d2_free(NULL, text);
            free(list);
            free(ids);
            rc = cli_fail("%s", err.message);
            goto done;
        }
        d2_free(NULL, text);
        free(list);
        free(ids);
        printf("# wrote %s\n", o->json);
    }
    rc = 0;
done:
    d2_free(NULL, names);
    return rc;
}

int cli_run_images(int argc, char **argv)
{
    struct run_options o;
    struct d2_error err = { 0 };
    struct d2_model_meta meta;
    struct d2_graph *g = NULL;
    struct d2_predict_image *images = NULL;
    struct d2_instances *results = NULL;
    int rc = 1;

    if (cli_wants_help(argc, argv)) {
        fputs(run_image_usage, stdout);
        fputs(cli_meta_flags_usage, stdout);
        return 0;
    }
    memset(&o, 0, sizeof o);
    d2_model_meta_overrides_init(&o.meta);
    o.images = calloc((size_t)argc + 1, sizeof *o.images);
    if (!o.images)
        return cli_fail("out of memory");
    if (parse_args(argc, argv, &o) != 0)
        goto done;
    g = d2_load_model_file_with(o.model, NULL, &o.compile, NULL, &err);
    if (!g) {
        rc = cli_fail("%s", err.message);
        goto done;
    }
    if (cli_meta_apply(g, &o.meta) != 0 )
        goto done;
    if (d2_model_meta_resolve(g, &meta, &err) != D2_OK) {
        rc = cli_fail("%s", err.message);
        goto done;
    }
    o.backend = d2_backend_find("cpu");
    if (o.backend->session_new) {
        struct d2_backend_options bo = { o.threads };
        if (o.backend->session_new(&bo, NULL, &o.backend_state, &err) != D2_OK) {
            rc = cli_fail("%s", err.message);
            goto done;
        }
    }
    images = calloc((size_t)o.num_images, sizeof *images);
    results = calloc((size_t)o.num_images, sizeof *results);
    if (!images || !results) {
        rc = cli_fail("out of memory");
        goto done;
    }
    for (int i = 0; i < o.num_images; i++)
        if (d2_predict_load_image(o.images[i], &meta, NULL, &images[i], &err) != D2_OK) {
            rc = cli_fail("%s", err.message);
            goto done;
        }
    if (run_all(g, &meta, &o, images, results) != 0)
        goto done;
    rc = write_results(&o, &meta, images, results);
done:
    for (int i = 0; images && i < o.num_images; i++)
        d2_predict_image_release(&images[i], NULL);
    for (int i = 0; results && i < o.num_images; i++)
        d2_instances_release(&results[i], NULL);
    free(images);
    free(results);
    free(o.images);
    cli_meta_overrides_free(&o.meta);
    if (o.backend_state)
        o.backend->session_free(o.backend_state);
    d2_graph_free(g);
    return rc;
}
