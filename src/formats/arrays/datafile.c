/* Data files by suffix: one table row per format, tried in order (first match wins). */
#include "arrays/datafile.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/csv.h"
#include "io/fileio.h"
#include "io/filemap.h"
#include "arrays/idx.h"
#include "arrays/npy.h"
#include "arrays/npz.h"

/* Where the rows of a large file f lie (map: the file, mapped, for its headers): *rows
 * set, or *whole when the file must be read whole (compressed). */
typedef QsStatus (*DataLayoutFn)(const char *path, const char *member, FILE *f,
                                 const FileMap *map, RowLayout *rows, bool *whole,
                                 QsError *err);

typedef struct {
    const char *suffix;
    const char *label; /* for the "supported:" list */
    /* member is NULL unless the spec had ":member" (only rows with takes_member). */
    QsStatus (*load)(const char *path, const char *member, const char *default_member,
                     Tensor **out, Tensor **y_out, QsError *err);
    int takes_member;
    DataLayoutFn layout; /* NULL: always read whole (CSV) */
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

static QsStatus datafile_npy_layout(const char *path, const char *member, FILE *f,
                                    const FileMap *map, RowLayout *rows, bool *whole,
                                    QsError *err)
{
    *whole = false;
    return npy_layout(map->addr, map->bytes, path, rows, err);
}

static QsStatus datafile_idx_layout(const char *path, const char *member, FILE *f,
                                    const FileMap *map, RowLayout *rows, bool *whole,
                                    QsError *err)
{
    return idx_layout(path, map->addr, map->bytes, rows, whole, err);
}

/* A stored member of at least rowfile_min() bytes is read in place once its CRC is checked
 * (one pass over it); a deflated one is inflated whole (npz_load_member, within
 * max_memory). */
static QsStatus datafile_npz_layout(const char *path, const char *member, FILE *f,
                                    const FileMap *map, RowLayout *rows, bool *whole,
                                    QsError *err)
{
    NpzMemberLayout m;
    if (npz_member_layout(path, map->addr, map->bytes, member, &m, err))
        return err->code;
    *whole = !m.stored || m.bytes < rowfile_min();
    *rows = m.rows;
    if (*whole)
        return QS_OK;
    uint32_t crc;
    if (rowfile_crc32(f, path, m.data_off, m.bytes, &crc, err))
        return err->code;
    if (crc != m.crc)
        return qs_fail(err, QS_EFORMAT, "%s: member '%s': CRC mismatch (computed %08x, stored "
                       "%08x)", path, member, crc, m.crc);
    return QS_OK;
}

static const DataLoader datafile_loaders[] = {
    { ".npy", ".npy", datafile_npy, 0, datafile_npy_layout },
    { ".npz", ".npz[:MEMBER]", datafile_npz, 1, datafile_npz_layout },
    { ".idx", ".idx", datafile_idx, 0, datafile_idx_layout },
    { "-ubyte", "-ubyte (MNIST IDX)", datafile_idx, 0, datafile_idx_layout },
    { ".gz", ".gz (gzipped IDX)", datafile_idx, 0, NULL },
    { ".csv", ".csv", datafile_csv, 0, NULL },
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
    return datafile_open(spec, default_member, out, y_out, NULL, err);
}

/* The rows of a file of at least rowfile_min() bytes in place, when its format allows:
 * *done false asks for a whole read. The file is opened once: its header is parsed from a
 * mapping of that descriptor and its rows read from it, so it cannot be swapped between. */
static QsStatus datafile_rows(const DataLoader *ld, const char *path, const char *member,
                              DataSource *src, bool *done, QsError *err)
{
    *done = false;
    size_t size;
    FILE *f = fileio_open_read_sized(path, &size, err);
    if (!f)
        return err->code;
    FileMap map = { 0 };
    RowLayout rows;
    bool whole = true;
    QsStatus st = QS_OK;
    if (size >= rowfile_min() && !(st = filemap_open_fd(fileno(f), size, path, &map, err)))
        st = ld->layout(path, member, f, &map, &rows, &whole, err);
    filemap_release(&map); /* only the header's pages were read */
    if (st || whole) {
        fclose(f);
        return st;
    }
    *done = true;
    return rowfile_source(f, path, size, &rows, src, err);
}

QsStatus datafile_open(const char *spec, const char *default_member, Tensor **out,
                       Tensor **y_out, DataSource *src, QsError *err)
{
    if (src)
        memset(src, 0, sizeof *src);
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
    } else {
        bool done = false;
        const char *name = member ? member : default_member;
        st = QS_OK;
        if (src && ld->layout && (name || !ld->takes_member))
            st = datafile_rows(ld, path, name, src, &done, err);
        if (!st && !done)
            st = ld->load(path, member, default_member, out, y_out, err);
    }
    free(path);
    return st;
}
