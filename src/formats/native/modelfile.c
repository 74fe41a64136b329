#include "native/modelfile.h"

#include <stdlib.h>

#include <stdio.h>

#include "io/fileio.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx_import.h"
#include "native/qsm.h"

typedef struct ModelFormat {
    const char *suffix;
    Model *(*load)(const char *path, QsError *err);
    QsStatus (*save)(const char *path, const Model *m, QsError *err); /* NULL: read only */
} ModelFormat;

enum { MAX_FORMATS = 8 };
static ModelFormat formats[MAX_FORMATS] = {
    { ".qsm", qsm_load, qsm_save },
    { ".onnx", onnx_load, onnx_save },
};
static int N_FORMATS = 2;

void modelfile_register(const char *suffix, Model *(*load)(const char *path, QsError *err))
{
    for (int i = 0; i < N_FORMATS; i++)
        if (formats[i].load == load)
            return;
    QS_ASSERT(N_FORMATS < MAX_FORMATS);
    formats[N_FORMATS++] = (ModelFormat){ suffix, load, NULL };
}

const char *modelfile_suffix(int i)
{
    return i >= 0 && i < N_FORMATS ? formats[i].suffix : NULL;
}

static const ModelFormat *find(const char *path)
{
    for (int i = 0; i < N_FORMATS; i++)
        if (fileio_has_suffix(path, formats[i].suffix))
            return &formats[i];
    return NULL;
}

static QsStatus unknown(const char *path, QsError *err)
{
    char list[128] = "";
    size_t used = 0;
    for (int i = 0; i < N_FORMATS && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 formats[i].suffix);
    return qs_fail(err, QS_EUNSUPPORTED, "%s: unknown model format (supported: %s)", path, list);
}

Model *modelfile_load(const char *path, QsError *err)
{
    const ModelFormat *f = find(path);
    if (!f) {
        unknown(path, err);
        return NULL;
    }
    Model *m = f->load(path, err);
    /* The path is the only argument, so a value refused or a name missing is the file's
     * content: malformed, whichever check found it (an op's attribute, a folded constant). */
    if (!m && err && (err->code == QS_EINVAL || err->code == QS_ENOTFOUND))
        err->code = QS_EFORMAT;
    return m;
}

QsStatus modelfile_save(const char *path, const Model *m, QsError *err)
{
    const ModelFormat *f = find(path);
    if (!f || !f->save)
        return unknown(path, err);
    return f->save(path, m, err);
}

QsStatus modelfile_save_meta(const char *path, Model *m, int n, const char *const *keys,
                             const char *const *vals, QsError *err)
{
    char **old = xcalloc((size_t)(n ? n : 1), sizeof *old);
    for (int i = 0; i < n; i++) {
        const char *o = model_meta_get(m, keys[i]);
        old[i] = o ? xstrdup(o) : NULL;
        if (vals[i])
            model_meta_set(m, keys[i], vals[i]);
        else
            model_meta_remove(m, keys[i]);
    }
    QsStatus st = modelfile_save(path, m, err);
    for (int i = 0; i < n; i++) {
        if (old[i])
            model_meta_set(m, keys[i], old[i]);
        else
            model_meta_remove(m, keys[i]);
        free(old[i]);
    }
    free(old);
    return st;
}
