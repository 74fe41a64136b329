/* The session as a whole (issue 16): what `load` keeps, what counts as unsaved work, and
 * session files read as hostile input (every damaged description is refused with its
 * reason, the session released cleanly). The bit-for-bit resume is
 * tests/scripts/session_resume.sh. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrays/npz.h"
#include "cmds/app.h"
#include "cmds/commands.h"
#include "native/sessionfile.h"
#include "test_util.h"

static void quiet(App *app, const Result *r)
{
    (void)app, (void)r;
}

static void run(App *app, const char *line)
{
    QsError err = { 0 };
    if (!CHECK_OK(cmd_exec_line(app, line, &err), &err))
        fprintf(stderr, "  while running: %s\n", line);
}

/* A spec whose input is MNIST's 784 values flat: the element count of (1, 28, 28). */
static const char flat_spec[] =
    "{\"name\": \"flat\", \"task\": \"classify\", \"seed\": 1,"
    " \"input\": {\"name\": \"x\", \"shape\": [784]},"
    " \"layers\": [{\"kind\": \"dense\", \"name\": \"fc\", \"out\": 10}]}";

static void test_load_keeps_fitting_splits(App *app, const char *dir)
{
    run(app, "load models/mnist_cnn.qsm; data eval models/data/mnist_test.npz n=20 "
             "scale=0.00392156886");
    Session *s = &app->session;
    /* the same input shape: kept */
    run(app, "load models/mnist_mlp.qsm");
    CHECK(s->splits[SPLIT_EVAL].n_x == 1);
    /* the same element count in another shape: a split shaped for another model goes */
    char spec[512];
    snprintf(spec, sizeof spec, "%s/flat.json", dir);
    FILE *f = fopen(spec, "w");
    CHECK(f && fputs(flat_spec, f) >= 0);
    if (f)
        fclose(f);
    char line[600];
    snprintf(line, sizeof line, "init %s", spec);
    run(app, line);
    CHECK(s->splits[SPLIT_EVAL].n_x == 0);
    const RValue *d = result_get(&app->last, "dropped_splits");
    CHECK(d && d->type == RV_STR && strcmp(d->s, "eval") == 0);
    /* registered for the flat model directly, the same file is reshaped as before */
    run(app, "data eval models/data/mnist_test.npz n=20 scale=0.00392156886");
    CHECK(s->splits[SPLIT_EVAL].n_x == 1 && s->splits[SPLIT_EVAL].x[0]->shape.ndim == 2);
}

static void test_unsaved(App *app, const char *dir)
{
    Session *s = &app->session;
    run(app, "load models/mnist_cnn.qsm; data calib models/data/mnist_train.npz n=20 "
             "scale=0.00392156886");
    CHECK(!session_unsaved(s));
    run(app, "mode fp16; quant observer=entropy"); /* one command each to redo */
    CHECK(!session_unsaved(s));
    run(app, "calibrate");
    CHECK(session_unsaved(s));
    char line[600];
    snprintf(line, sizeof line, "session save %s/u.qsess", dir);
    run(app, line);
    CHECK(!session_unsaved(s));
    run(app, "prec conv1 fp32");
    CHECK(session_unsaved(s));
    run(app, "prec conv1 auto");
    CHECK(!session_unsaved(s)); /* back as saved */
    run(app, "variant save v");
    CHECK(session_unsaved(s));
    run(app, "reset");
    CHECK(!session_unsaved(s) && s->q.n_variants == 0 && !s->q.calibrated);
    CHECK(s->splits[SPLIT_CALIB].n_x == 1); /* reset keeps the data */
    run(app, "fold scales"); /* weights changed in place */
    CHECK(session_unsaved(s));
    run(app, "reset"); /* keeps those weights, so they stay unsaved */
    CHECK(session_unsaved(s) && s->q.n_variants == 0);
    snprintf(line, sizeof line, "session save %s/u.qsess", dir);
    run(app, line);
    run(app, "reset");
    CHECK(!session_unsaved(s));
    run(app, "session new");
    CHECK(!s->model && s->splits[SPLIT_CALIB].n_x == 0 && !session_unsaved(s));
}

/* The members of a session file other than "session", loaded back to write variants. */
typedef struct Archive {
    int n;
    char **names;
    Tensor **t;
} Archive;

static void archive_read(Archive *a, const char *path)
{
    QsError err = { 0 };
    memset(a, 0, sizeof *a);
    CHECK_OK(npz_list(path, &a->names, &a->n, &err), &err);
    a->t = calloc((size_t)a->n + 1, sizeof *a->t);
    for (int i = 0; i < a->n; i++)
        CHECK((a->t[i] = npz_load_member(path, a->names[i], &err)) != NULL);
}

static void archive_release(Archive *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->names[i]);
        tensor_free(a->t[i]);
    }
    free(a->names);
    free(a->t);
}

static int archive_find(const Archive *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->names[i], name))
            return i;
    return -1;
}

static Tensor *bytes_tensor(const char *s, size_t n)
{
    QsError err = { 0 };
    int64_t len = (int64_t)n;
    Tensor *t = tensor_new(DT_U8, shape_make(1, &len), &err);
    memcpy(t->data, s, n);
    return t;
}

/* Writes the archive with member `name` replaced by t (taken), loads it, expects failure
 * with a message holding needle. */
static void expect_refused(const Archive *a, const char *dir, const char *label,
                           const char *name, Tensor *t, const char *needle)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.qsess", dir);
    const Tensor **ts = calloc((size_t)a->n + 1, sizeof *ts);
    for (int i = 0; i < a->n; i++)
        ts[i] = strcmp(a->names[i], name) ? a->t[i] : t;
    QsError err = { 0 };
    CHECK_OK(npz_save(path, (const char *const *)a->names, ts, a->n, &err), &err);
    free(ts);
    tensor_free(t);
    Session s;
    QsStatus st = sessionfile_load(path, &s, &err);
    session_release(&s);
    if (!CHECK(st != QS_OK) || !CHECK(strstr(err.msg, needle) != NULL))
        fprintf(stderr, "  %s: got %d '%s', wanted '%s'\n", label, st, err.msg, needle);
}

/* The "session" description edited by edit, written back. */
static void refuse_json(const Archive *a, const char *dir, const char *label,
                        void (*edit)(cJSON *), const char *needle)
{
    const Tensor *src = a->t[archive_find(a, "session")];
    cJSON *root = cJSON_ParseWithLength((const char *)src->data, tensor_bytes(src));
    CHECK(root != NULL);
    edit(root);
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    expect_refused(a, dir, label, "session", bytes_tensor(txt, strlen(txt)), needle);
    cJSON_free(txt);
}

static cJSON *get(cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static cJSON *first_stats(cJSON *root) { return get(get(root, "calibration"), "values")->child; }

static void e_format(cJSON *r) { cJSON_SetValuestring(get(r, "format"), "other"); }
static void e_version(cJSON *r) { cJSON_SetNumberValue(get(r, "version"), 2); }
static void e_batch(cJSON *r) { cJSON_SetNumberValue(get(get(r, "options"), "batch"), 0); }
static void e_split(cJSON *r) { cJSON_SetNumberValue(get(get(get(r, "splits"), "calib"), "inputs"), 2); }
static void e_observer(cJSON *r) { cJSON_SetValuestring(get(get(r, "plan"), "observer"), "bogus"); }
static void e_pin(cJSON *r)
{
    cJSON_AddStringToObject(get(get(r, "plan"), "pins"), "nosuch", "fp16");
}
static void e_total(cJSON *r) /* a bin more than the finite values seen */
{
    cJSON *c = get(first_stats(r), "hist_bins")->child->child->next;
    cJSON_SetNumberValue(c, c->valuedouble + 1);
}
static void e_count(cJSON *r) /* a finite value the histogram does not hold */
{
    cJSON *c = get(first_stats(r), "count");
    cJSON_SetNumberValue(c, c->valuedouble + 1);
}
static void e_range(cJSON *r) { cJSON_SetNumberValue(get(first_stats(r), "hist_range"), 3); }
static void e_minmax(cJSON *r)
{
    cJSON *s = first_stats(r);
    cJSON_ReplaceItemInObject(s, "min", cJSON_CreateNumber(5));
    cJSON_ReplaceItemInObject(s, "max", cJSON_CreateNumber(1));
}
static void e_bin(cJSON *r)
{
    cJSON *pair = get(first_stats(r), "hist_bins")->child;
    cJSON_SetNumberValue(pair->child, 4096);
}
static void e_value(cJSON *r)
{
    cJSON_AddItemToObject(get(get(r, "calibration"), "values"), "no\x01value", cJSON_CreateObject());
}
static void e_variant(cJSON *r) { cJSON_SetValuestring(get(get(r, "variants")->child, "name"), "fp16"); }

static cJSON *first_imported(cJSON *r) { return get(get(get(r, "calibration"), "imported"), "values")->child; }
static cJSON *first_unit(cJSON *r) { return get(get(get(r, "calibration"), "imported"), "units")->child; }
static void e_iscale(cJSON *r) { cJSON_SetNumberValue(cJSON_GetArrayItem(first_imported(r), 0), 0); }
static void e_izp(cJSON *r) { cJSON_SetNumberValue(cJSON_GetArrayItem(first_imported(r), 1), 200); }
static void e_inode(cJSON *r) { cJSON_SetValuestring(get(first_unit(r), "node"), "nosuch"); }
static void e_ioc(cJSON *r)
{
    cJSON_SetNumberValue(get(first_unit(r), "oc"), get(first_unit(r), "oc")->valuedouble + 1);
}

/* A plan on a .tflite's imported parameters: a session file keeps them exactly, and a
 * damaged imported section or member is refused. */
static void test_imported(App *app, const char *dir)
{
    char path[600], line[1400];
    snprintf(path, sizeof path, "%s/imp.qsess", dir);
    snprintf(line, sizeof line, "load models/mnist_dw.qsm; data calib models/data/mnist_train.npz "
             "n=20 scale=0.00392156886; calibrate; mode int8-static; export %s/dw8.tflite; "
             "load %s/dw8.tflite; session save %s", dir, dir, path);
    run(app, line);
    const QImport *mine = app->session.q.calib.imported;
    CHECK(mine != NULL);
    Session s;
    QsError err = { 0 };
    CHECK_OK(sessionfile_load(path, &s, &err), &err);
    /* by name: the reloaded model's values and nodes may be numbered otherwise */
    const QImport *back = s.q.calib.imported;
    const Graph *g0 = &app->session.model->graph, *g1 = &s.model->graph;
    int values = 0, units = 0;
    for (int v = 0; mine && back && v < mine->n_values; v++) {
        if (!mine->has_qp[v])
            continue;
        int w = graph_find_value(g1, g0->values[v].name);
        values += CHECK(w >= 0 && back->has_qp[w] &&
                        !memcmp(&back->qp[w], &mine->qp[v], sizeof back->qp[w]));
    }
    for (int n = 0; mine && back && n < mine->n_nodes; n++) {
        const QImportUnit *u = mine->unit[n];
        if (!u)
            continue;
        int m = graph_find_node(g1, g0->nodes[n].name);
        const QImportUnit *b = m >= 0 ? back->unit[m] : NULL;
        units += CHECK(b && b->oc == u->oc && b->k == u->k && b->n_scales == u->n_scales &&
                       !memcmp(b->codes, u->codes, (size_t)(u->oc * u->k)) &&
                       !memcmp(b->scales, u->scales, (size_t)u->n_scales * sizeof *u->scales) &&
                       !b->bias == !u->bias &&
                       (!u->bias || !memcmp(b->bias, u->bias, (size_t)u->oc * sizeof *u->bias)));
    }
    int want_v = 0, want_u = 0;
    for (int v = 0; mine && v < mine->n_values; v++)
        want_v += mine->has_qp[v];
    for (int n = 0; mine && n < mine->n_nodes; n++)
        want_u += mine->unit[n] != NULL;
    CHECK(back != NULL && want_u > 0 && values == want_v && units == want_u);
    session_release(&s);

    Archive a;
    archive_read(&a, path);
    CHECK(archive_find(&a, "calib_import_unit0_codes") >= 0);
    refuse_json(&a, dir, "imported scale", e_iscale, "imported value");
    refuse_json(&a, dir, "imported zero point", e_izp, "imported value");
    refuse_json(&a, dir, "imported node", e_inode, "imported unit 0 needs a node");
    refuse_json(&a, dir, "imported oc", e_ioc, "do not fit");
    int64_t n = 4;
    expect_refused(&a, dir, "codes dtype", "calib_import_unit0_codes",
                   tensor_new(DT_F32, shape_make(1, &n), &err), "wrong element type");
    int k = archive_find(&a, "calib_import_unit0_scales");
    if (CHECK(k >= 0)) {
        Tensor *t = tensor_new(DT_F32, a.t[k]->shape, &err);
        memcpy(t->data, a.t[k]->data, tensor_bytes(t));
        ((float *)t->data)[0] = NAN;
        expect_refused(&a, dir, "scale NaN", "calib_import_unit0_scales", t,
                       "finite and positive");
    }
    archive_release(&a);
}

static void test_hostile(App *app, const char *dir)
{
    char path[600], line[700];
    snprintf(path, sizeof path, "%s/good.qsess", dir);
    run(app, "load models/mnist_cnn.qsm; data calib models/data/mnist_train.npz n=20 "
             "scale=0.00392156886; calibrate; mode int8-static; variant save v");
    snprintf(line, sizeof line, "session save %s", path);
    run(app, line);
    Session s;
    QsError err = { 0 };
    CHECK_OK(sessionfile_load(path, &s, &err), &err);
    CHECK(s.q.calibrated && s.q.n_variants == 1 && s.splits[SPLIT_CALIB].n_x == 1);
    session_release(&s);

    Archive a;
    archive_read(&a, path);
    CHECK(archive_find(&a, "session") >= 0 && archive_find(&a, "model") >= 0);
    refuse_json(&a, dir, "format", e_format, "not a qscope session file");
    refuse_json(&a, dir, "version", e_version, "not a qscope session file");
    refuse_json(&a, dir, "batch", e_batch, "'options' needs batch");
    refuse_json(&a, dir, "inputs", e_split, "calib_x1");
    refuse_json(&a, dir, "observer", e_observer, "'observer' must name an observer");
    refuse_json(&a, dir, "pin", e_pin, "pin 'nosuch' names no layer");
    refuse_json(&a, dir, "hist_bins", e_total, "do not add up");
    refuse_json(&a, dir, "count", e_count, "inconsistent statistics");
    refuse_json(&a, dir, "hist_range", e_range, "inconsistent statistics");
    refuse_json(&a, dir, "min>max", e_minmax, "inconsistent statistics");
    refuse_json(&a, dir, "bin", e_bin, "hist_bins holds [bin, count] pairs");
    refuse_json(&a, dir, "control", e_value, "control character");
    refuse_json(&a, dir, "variant", e_variant, "needs a new name");
    expect_refused(&a, dir, "model", "model", bytes_tensor("not a model", 11), "model");
    expect_refused(&a, dir, "nul", "session", bytes_tensor("{\"a\":\"\\u0000\"}", 14), "NUL");
    int64_t n = 4;
    expect_refused(&a, dir, "dtype", "calib_x0", tensor_new(DT_I64, shape_make(1, &n), &err),
                   "wrong element type");
    archive_release(&a);
    /* not a regular file */
    CHECK(sessionfile_load(dir, &s, &err) == QS_EIO);
    session_release(&s);
}

int main(void)
{
    char dir[] = "/tmp/qscope_test_session_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    App app;
    app_init(&app);
    app.emit = quiet;
    test_load_keeps_fitting_splits(&app, dir);
    test_unsaved(&app, dir);
    test_hostile(&app, dir);
    test_imported(&app, dir);
    app_release(&app);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("session");
}
