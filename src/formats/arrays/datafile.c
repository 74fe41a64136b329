/* Data files by suffix: one table row per format, tried in order (first match wins). */
#include "arrays/datafile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/csv.h"
#include "io/fileio.h"
#include "arrays/idx.h"
#include "arrays/npy.h"
#include "arrays/npz.h"

typedef struct {
    const char *suffix;
    const char *label; /* for the "supported:" list */
    /* member is NULL unless the spec had ":member" (only rows with takes_member). */
    QsStatus (*load)(const char *path, const char *member, const char *default_member,
                     Tensor **out, Tensor **y_out, QsError *err);
    int takes_member;
} DataLoader;

static QsStatus datafile_npy(const char *path, const char *member, const char *def,
                             Tensor **out, Tensor **y_out, QsError *err)
{
    *out = npy_load(path, err);
    return *out ? QS_OK : err->code;
}

static QsStatus datafile_idx(const char *path, const char *member, const char *def,
                             Tensor **out, Tensor **y_out, QsError *err)
{
    *out = idx_load(path, err);
    return *out ? QS_OK : err->code;
}

static QsStatus datafile_csv(const char *path, const char *member, const char *def,
                             Tensor **out, Tensor **y_out, QsError *err)
{
    return csv_load(path, y_out ? -1 : -2, out, y_out, err);
}

/* Without ":member" the caller's default member is loaded; when it is absent the error is
 * QS_ENOTFOUND (callers probe for an optional "y" this way) and lists the members. */
static QsStatus datafile_npz(const char *path, const char *member, const char *def,
                             Tensor **out, Tensor **y_out, QsError *err)
{
    if (!member && !def)
        return qs_fail(err, QS_EINVAL, "%s: name a member as %s:NAME", path, path);
    *out = npz_load_member(path, member ? member : def, err);
    return *out ? QS_OK : err->code;
}

static const DataLoader datafile_loaders[] = {
    { ".npy", ".npy", datafile_npy, 0 },
    { ".npz", ".npz[:MEMBER]", datafile_npz, 1 },
    { ".idx", ".idx", datafile_idx, 0 },
    { "-ubyte", "-ubyte (MNIST IDX)", datafile_idx, 0 },
    { ".gz", ".gz (gzipped IDX)", datafile_idx, 0 },
    { ".csv", ".csv", datafile_csv, 0 },
};
#define DATAFILE_NLOADERS (sizeof datafile_loaders / sizeof datafile_loaders[0])

static const DataLoader *datafile_find(const char *path)
{
    for (size_t i = 0; i < DATAFILE_NLOADERS; i++)
        if (fileio_has_suffix(path, datafile_loaders[i].suffix))
            return &datafile_loaders[i];
    return NULL;
}

QsStatus datafile_load(const char *spec, const char *default_member, Tensor **out,
                       Tensor **y_out, QsError *err)
{
    return datafile_load_mapped(spec, default_member, out, y_out, NULL, err);
}

QsStatus datafile_load_mapped(const char *spec, const char *default_member, Tensor **out,
                              Tensor **y_out, FileMap *map, QsError *err)
{
    if (map)
        memset(map, 0, sizeof *map);
    *out = NULL;
    if (y_out)
        *y_out = NULL;
    char *path = xstrdup(spec);
    const char *member = NULL;
    const DataLoader *ld = datafile_find(path);
    if (!ld) {
        /* "dir/a.npz:x": split at the last ':' and retry for loaders that take members. */
        char *colon = strrchr(path, ':');
        if (colon) {
            *colon = '\0';
            const DataLoader *m = datafile_find(path);
            if (m && m->takes_member) {
                ld = m;
                member = colon + 1;
            } else {
                *colon = ':';
            }
        }
    }
    QsStatus st;
    if (!ld) {
        char list[256];
        size_t used = 0;
        for (size_t i = 0; i < DATAFILE_NLOADERS; i++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                             datafile_loaders[i].label);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        st = qs_fail(err, QS_EUNSUPPORTED, "%s: unknown data file type (supported: %s)", spec,
                     list);
    } else if (member && !*member) {
        st = qs_fail(err, QS_EINVAL, "%s: empty member name after ':'", spec);
    } else if (map && ld->load == datafile_npy) {
        *out = npy_load_mapped(path, map, err);
        st = *out ? QS_OK : err->code;
    } else {
        st = ld->load(path, member, default_member, out, y_out, err);
    }
    free(path);
    return st;
}
