/* runtime/cli/cli_predict.h: the image side of the CLI (runtime/cli/cmd_run_image.c):
 * `d2rt run MODEL image.jpg ...` and the detector metadata flags that `compile`, `run`
 * and `inspect` share. */
#ifndef D2_CLI_PREDICT_H
#define D2_CLI_PREDICT_H

#include <stdbool.h>

#include "ir/ir.h"
#include "runtime/model_meta.h"

/* True when the file starts like a JPEG or PNG image. */
bool cli_is_image_file(const char *path);
/* True when argv[1..) names an image as its second positional argument (after MODEL). */
bool cli_run_has_image_input(int argc, char **argv);

/* `d2rt run MODEL IMAGE... [options]`: argv[0] is "run". */
int cli_run_images(int argc, char **argv);

/* If argv[*i] is one of the metadata flags (--min-size N, --max-size N, --format BGR|RGB,
 * --classes coco|FILE, --export-method M, --size-divisibility N, --pixel-mean a,b,c,
 * --pixel-std a,b,c, --outputs ROLES, --label-offset N), consume it and its value into o
 * and return 1; return 0 when it is not one; -1 (message printed) on a bad value. */
int cli_meta_flag(int argc, char **argv, int *i, struct d2_model_meta_overrides *o);
/* Usage lines of those flags. */
extern const char cli_meta_flags_usage[];
/* Resolve the metadata with the overrides and store it in g (compile, run). Returns 0, or
 * 1 after printing the error. */
int cli_meta_apply(struct d2_graph *g, const struct d2_model_meta_overrides *o);
/* Free what cli_meta_flag allocated (a --classes file's text). */
void cli_meta_overrides_free(struct d2_model_meta_overrides *o);
/* Print "# predictor: ..." lines describing the resolved metadata (inspect). */
void cli_meta_print(const struct d2_graph *g);

#endif
