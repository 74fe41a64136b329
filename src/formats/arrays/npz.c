/* NumPy .npz archives: a zip of .npy members.
 *
 * Reading trusts the central directory (found through the end-of-central-directory
 * record) for sizes, method and CRC, and uses each local header only to find where the
 * member's data starts: numpy >= 1.15 writes members with force_zip64, which puts a zip64
 * extra field in the local header while the central directory keeps plain 32-bit sizes,
 * so local zip64 extras are skipped, and only a central directory that really needs zip64
 * (a field set to 0xFFFF/0xFFFFFFFF) is rejected.
 *
 * Writing produces a stored (method 0) archive with fixed timestamps, so saving the same
 * tensors twice gives identical bytes. */
#include "arrays/npz.h"

#include "base/budget.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/utf8.h"
#include "io/fileio.h"
#include "arrays/npy.h"

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP_EOCD64_LOC_SIG 0x07064b50u
#define ZIP_LOCAL_LEN 30
#define ZIP_CENTRAL_LEN 46
#define ZIP_EOCD_LEN 22
#define ZIP_EOCD64_LOC_LEN 20
#define ZIP_MAX_COMMENT 65535
/* Deflate cannot expand data by more than about 1032:1 (258-byte matches coded in as few
 * as 2 bits); a member claiming more than this is lying, and is refused before the
 * allocation it asks for. */
#define ZIP_MAX_DEFLATE_RATIO 1032u
#define ZIP_DEFLATE_SLACK 1024u

typedef struct {
    char *name; /* as stored, e.g. "x.npy"; owned */
    uint16_t flags, method;
    uint32_t crc, csize, usize, local_off;
} ZipEntry;

typedef struct {
    const unsigned char *buf;
    size_t len;
    size_t cd_off; /* end of the member data region */
    ZipEntry *ents;
    int n;
} ZipDir;

static uint16_t npz_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t npz_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void npz_put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void npz_put32(unsigned char *p, uint32_t v)
{
    npz_put16(p, v & 0xffff);
    npz_put16(p + 2, v >> 16);
}

static void npz_dir_release(ZipDir *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->ents[i].name);
    free(d->ents);
    d->ents = NULL;
    d->n = 0;
}

/* Parses the end record and the central directory of buf. */
static QsStatus npz_read_dir(const char *path, const unsigned char *buf, size_t len, ZipDir *d,
                             QsError *err)
{
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->len = len;
    if (len < ZIP_EOCD_LEN)
        return qs_fail(err, QS_EFORMAT, "%s: not a zip archive (%zu bytes, too short)", path, len);
    /* The end record sits in the last 22 + comment bytes; scan back no further. */
    size_t lo = len - ZIP_EOCD_LEN > ZIP_MAX_COMMENT ? len - ZIP_EOCD_LEN - ZIP_MAX_COMMENT : 0;
    size_t eocd = SIZE_MAX;
    for (size_t i = len - ZIP_EOCD_LEN + 1; i-- > lo;)
        if (npz_u32(buf + i) == ZIP_EOCD_SIG &&
            i + ZIP_EOCD_LEN + npz_u16(buf + i + 20) == len) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX)
        return qs_fail(err, QS_EFORMAT,
                       "%s: not a zip archive (no end-of-central-directory record)", path);
    const unsigned char *e = buf + eocd;
    uint16_t disk = npz_u16(e + 4), cd_disk = npz_u16(e + 6);
    uint16_t n_disk = npz_u16(e + 8), n_total = npz_u16(e + 10);
    uint32_t cd_size = npz_u32(e + 12), cd_off = npz_u32(e + 16);
    if (n_total == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu ||
        (eocd >= ZIP_EOCD64_LOC_LEN && npz_u32(e - ZIP_EOCD64_LOC_LEN) == ZIP_EOCD64_LOC_SIG))
        return qs_fail(err, QS_EUNSUPPORTED,
                       "%s: zip64 archives are not supported (archive over 4 GB or 65535 "
                       "members)", path);
    if (disk != 0 || cd_disk != 0 || n_disk != n_total)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: multi-disk zip archives are not supported",
                       path);
    if ((size_t)cd_off > eocd || (size_t)cd_size > eocd - cd_off)
        return qs_fail(err, QS_EFORMAT, "%s: central directory at offset %u (%u bytes) lies "
                       "outside the archive (end record at offset %zu)", path, cd_off, cd_size,
                       eocd);
    d->cd_off = cd_off;
    d->ents = xcalloc(n_total ? n_total : 1, sizeof *d->ents);
    size_t pos = cd_off, end = (size_t)cd_off + cd_size;
    for (int i = 0; i < n_total; i++) {
        if (end - pos < ZIP_CENTRAL_LEN || npz_u32(buf + pos) != ZIP_CENTRAL_SIG) {
            npz_dir_release(d);
            return qs_fail(err, QS_EFORMAT, "%s: central directory entry %d at offset %zu is "
                           "malformed", path, i, pos);
        }
        const unsigned char *c = buf + pos;
        size_t nlen = npz_u16(c + 28), xlen = npz_u16(c + 30), clen = npz_u16(c + 32);
        if (end - pos - ZIP_CENTRAL_LEN < nlen + xlen + clen) {
            npz_dir_release(d);
            return qs_fail(err, QS_EFORMAT, "%s: central directory entry %d at offset %zu runs "
                           "past the directory", path, i, pos);
        }
        ZipEntry *z = &d->ents[d->n++];
        z->flags = npz_u16(c + 8);
        z->method = npz_u16(c + 10);
        z->crc = npz_u32(c + 16);
        z->csize = npz_u32(c + 20);
        z->usize = npz_u32(c + 24);
        z->local_off = npz_u32(c + 42);
        z->name = xmalloc(nlen + 1);
        memcpy(z->name, c + ZIP_CENTRAL_LEN, nlen);
        z->name[nlen] = '\0';
        if (memchr(z->name, '\0', nlen)) {
            npz_dir_release(d);
            return qs_fail(err, QS_EFORMAT, "%s: member %d has a NUL byte in its name", path, i);
        }
        char what[64];
        snprintf(what, sizeof what, "member %d: name", i);
        if (utf8_check_name(z->name, what, err)) { /* base/utf8.h */
            npz_dir_release(d);
            qs_error_prefix(err, "%s", path);
            return err->code;
        }
        pos += ZIP_CENTRAL_LEN + nlen + xlen + clen;
    }
    return QS_OK;
}

static QsStatus npz_open(const char *path, void **buf, ZipDir *d, QsError *err)
{
    size_t len;
    if (fileio_read(path, buf, &len, err))
        return err->code;
    if (npz_read_dir(path, *buf, len, d, err)) {
        free(*buf);
        *buf = NULL;
        return err->code;
    }
    return QS_OK;
}

/* Returns name without a trailing ".npy" in a new string. */
static char *npz_key(const char *name)
{
    size_t n = strlen(name);
    char *k = xstrdup(name);
    if (n >= 4 && strcmp(name + n - 4, ".npy") == 0)
        k[n - 4] = '\0';
    return k;
}

/* Appends "a, b, c" (the member keys) to msg, truncating politely. */
static void npz_list_into(const ZipDir *d, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < d->n && used + 1 < cap; i++) {
        char *k = npz_key(d->ents[i].name);
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", k);
        free(k);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (d->n == 0)
        snprintf(out, cap, "none");
}

/* Decodes member z into a new buffer of z->usize bytes, checking sizes and the CRC.
 * Sets *data to either a pointer into the archive (stored) or a new buffer (*owned). */
/* Checks member z's directory and local header and finds where its data starts. */
static QsStatus npz_member_data(const char *path, const ZipDir *d, const ZipEntry *z,
                                size_t *data_off_out, QsError *err)
{
    const char *nm = z->name;
    if (z->flags & 1u)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: member '%s' is encrypted", path, nm);
    if (z->csize == 0xffffffffu || z->usize == 0xffffffffu || z->local_off == 0xffffffffu)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: member '%s' needs zip64 (over 4 GB), which "
                       "is not supported", path, nm);
    if (z->method != 0 && z->method != 8)
        return qs_fail(err, QS_EUNSUPPORTED, "%s: member '%s' uses compression method %u "
                       "(only stored and deflate are supported)", path, nm, z->method);
    size_t lo = z->local_off;
    if (lo > d->cd_off || d->cd_off - lo < ZIP_LOCAL_LEN ||
        npz_u32(d->buf + lo) != ZIP_LOCAL_SIG)
        return qs_fail(err, QS_EFORMAT, "%s: member '%s': no local header at offset %zu", path,
                       nm, lo);
    const unsigned char *l = d->buf + lo;
    if (npz_u16(l + 8) != z->method)
        return qs_fail(err, QS_EFORMAT, "%s: member '%s': local header says method %u, "
                       "central directory %u", path, nm, npz_u16(l + 8), z->method);
    size_t nlen = npz_u16(l + 26), data_off = lo + ZIP_LOCAL_LEN + nlen + npz_u16(l + 28);
    if (nlen != strlen(nm) || d->cd_off - lo - ZIP_LOCAL_LEN < nlen ||
        memcmp(l + ZIP_LOCAL_LEN, nm, nlen) != 0)
        return qs_fail(err, QS_EFORMAT, "%s: member '%s': local header at offset %zu names "
                       "another member", path, nm, lo);
    /* With bit 3 clear the local CRC and sizes must be real, unless zip64 moved them to the
     * extra field (numpy's force_zip64 does this only when they overflow). */
    uint32_t lcrc = npz_u32(l + 14), lcs = npz_u32(l + 18), lus = npz_u32(l + 22);
    if (!(npz_u16(l + 6) & 8u) && lcs != 0xffffffffu && lus != 0xffffffffu &&
        (lcrc != z->crc || lcs != z->csize || lus != z->usize))
        return qs_fail(err, QS_EFORMAT, "%s: member '%s': local header (crc %08x, sizes %u/%u) "
                       "disagrees with the central directory (crc %08x, sizes %u/%u)", path, nm,
                       lcrc, lcs, lus, z->crc, z->csize, z->usize);
    if (data_off > d->cd_off || d->cd_off - data_off < z->csize)
        return qs_fail(err, QS_EFORMAT, "%s: member '%s': %u bytes of data at offset %zu run "
                       "past the member area (%zu bytes)", path, nm, z->csize, data_off,
                       d->cd_off);
    if (z->method == 0 && z->csize != z->usize)
        return qs_fail(err, QS_EFORMAT, "%s: stored member '%s' has compressed size %u "
                       "but uncompressed size %u", path, nm, z->csize, z->usize);
    *data_off_out = data_off;
    return QS_OK;
}

static QsStatus npz_extract(const char *path, const ZipDir *d, const ZipEntry *z,
                            const unsigned char **data, unsigned char **owned, QsError *err)
{
    *data = NULL;
    *owned = NULL;
    const char *nm = z->name;
    size_t data_off;
    if (npz_member_data(path, d, z, &data_off, err))
        return err->code;
    const unsigned char *src = d->buf + data_off;

    if (z->method == 0) {
        *data = src;
    } else {
        uint64_t limit = (uint64_t)z->csize * ZIP_MAX_DEFLATE_RATIO + ZIP_DEFLATE_SLACK;
        if (z->usize > limit)
            return qs_fail(err, QS_EFORMAT, "%s: member '%s' claims %u bytes uncompressed from "
                           "%u compressed bytes, more than deflate can produce", path, nm,
                           z->usize, z->csize);
        Budget budget = { .limit = budget_max() }; /* 1032:1 may still be too much */
        if (budget_charge(&budget, (int64_t)z->usize, 1, nm, err)) {
            qs_error_prefix(err, "%s", path);
            return err->code;
        }
        unsigned char *out = malloc(z->usize ? z->usize : 1);
        if (!out)
            return qs_fail(err, QS_ENOMEM, "%s: cannot allocate %u bytes for member '%s'",
                           path, z->usize, nm);
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
            free(out);
            return qs_fail(err, QS_ENOMEM, "%s: cannot initialise zlib", path);
        }
        zs.next_in = (Bytef *)src;
        zs.avail_in = z->csize;
        zs.next_out = out;
        zs.avail_out = z->usize;
        int rc = inflate(&zs, Z_FINISH);
        /* One spare byte tells "stream longer than declared" from "exactly right". */
        unsigned char spare;
        int too_long = 0;
        if (rc == Z_BUF_ERROR && zs.avail_out == 0) {
            zs.next_out = &spare;
            zs.avail_out = 1;
            rc = inflate(&zs, Z_FINISH);
            too_long = zs.avail_out == 0;
        }
        uLong produced = zs.total_out;
        char zbuf[128];
        snprintf(zbuf, sizeof zbuf, "%s", zs.msg ? zs.msg : "invalid stream");
        inflateEnd(&zs);
        if (too_long || rc != Z_STREAM_END) {
            free(out);
            if (too_long)
                return qs_fail(err, QS_EFORMAT, "%s: member '%s' inflates to more than the "
                               "declared %u bytes", path, nm, z->usize);
            if (rc == Z_DATA_ERROR)
                return qs_fail(err, QS_EFORMAT, "%s: member '%s': corrupt deflate data (%s)",
                               path, nm, zbuf);
            return qs_fail(err, QS_EFORMAT, "%s: member '%s': deflate stream is truncated "
                           "(%lu of %u bytes)", path, nm, (unsigned long)produced, z->usize);
        }
        if (produced != z->usize) {
            free(out);
            return qs_fail(err, QS_EFORMAT, "%s: member '%s' inflates to %lu bytes, header "
                           "says %u", path, nm, (unsigned long)produced, z->usize);
        }
        *data = out;
        *owned = out;
    }
    uint32_t crc = (uint32_t)crc32_z(0L, *data, z->usize);
    if (crc != z->crc) {
        free(*owned);
        *owned = NULL;
        *data = NULL;
        return qs_fail(err, QS_EFORMAT, "%s: member '%s': CRC mismatch (computed %08x, stored "
                       "%08x)", path, nm, crc, z->crc);
    }
    return QS_OK;
}

/* Member `name` or `name`.npy; QS_ENOTFOUND listing the members when absent. */
static const ZipEntry *npz_find(const char *path, const ZipDir *d, const char *name,
                                QsError *err)
{
    size_t nl = strlen(name);
    for (int i = 0; i < d->n; i++) {
        const char *m = d->ents[i].name;
        if (strcmp(m, name) == 0 ||
            (strncmp(m, name, nl) == 0 && strcmp(m + nl, ".npy") == 0))
            return &d->ents[i];
    }
    char list[384];
    npz_list_into(d, list, sizeof list);
    qs_fail(err, QS_ENOTFOUND, "%s: no member '%s' (members: %s)", path, name, list);
    return NULL;
}

QsStatus npz_member_layout(const char *path, const void *buf, size_t len, const char *name,
                           NpzMemberLayout *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    ZipDir d;
    if (npz_read_dir(path, buf, len, &d, err))
        return err->code;
    const ZipEntry *z = npz_find(path, &d, name, err);
    size_t data_off;
    QsStatus st = z ? npz_member_data(path, &d, z, &data_off, err) : err->code;
    if (!st) {
        out->stored = z->method == 0;
        out->bytes = z->usize;
        out->crc = z->crc;
    }
    if (!st && out->stored) {
        char what[512];
        snprintf(what, sizeof what, "%s:%s", path, z->name);
        if (!(st = npy_layout((const unsigned char *)buf + data_off, z->usize, what, &out->rows,
                              err))) {
            out->data_off = data_off;
            out->rows.offset += data_off;
        }
    }
    npz_dir_release(&d);
    return st;
}

Tensor *npz_load_member(const char *path, const char *name, QsError *err)
{
    void *buf;
    ZipDir d;
    if (npz_open(path, &buf, &d, err))
        return NULL;
    Tensor *t = NULL;
    const ZipEntry *z = npz_find(path, &d, name, err);
    if (!z)
        goto cleanup;
    const unsigned char *data;
    unsigned char *owned;
    if (npz_extract(path, &d, z, &data, &owned, err))
        goto cleanup;
    char what[512];
    snprintf(what, sizeof what, "%s:%s", path, z->name);
    t = npy_parse(data, z->usize, what, err);
    free(owned);
cleanup:
    npz_dir_release(&d);
    free(buf);
    return t;
}

QsStatus npz_list(const char *path, char ***names, int *n, QsError *err)
{
    *names = NULL;
    *n = 0;
    void *buf;
    ZipDir d;
    if (npz_open(path, &buf, &d, err))
        return err->code;
    char **out = xcalloc((size_t)d.n + 1, sizeof *out);
    for (int i = 0; i < d.n; i++)
        out[i] = npz_key(d.ents[i].name);
    *names = out;
    *n = d.n;
    npz_dir_release(&d);
    free(buf);
    return QS_OK;
}

QsStatus npz_save(const char *path, const char *const *names, const Tensor *const *tensors,
                  int n, QsError *err)
{
    if (n < 0 || n > 0xfffe)
        return qs_fail(err, QS_EINVAL, "%s: cannot store %d members", path, n);
    QsStatus st = QS_OK;
    void **imgs = xcalloc((size_t)n + 1, sizeof *imgs);
    size_t *lens = xcalloc((size_t)n + 1, sizeof *lens);
    uint32_t *offs = xcalloc((size_t)n + 1, sizeof *offs);
    unsigned char *out = NULL;
    size_t total = ZIP_EOCD_LEN, cd_size = 0;

    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        if (nl == 0 || nl > 1000) {
            st = qs_fail(err, QS_EINVAL, "%s: member name '%.40s' must be 1 to 1000 bytes",
                         path, names[i]);
            goto cleanup;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                st = qs_fail(err, QS_EINVAL, "%s: member '%s' given twice", path, names[i]);
                goto cleanup;
            }
        if (npy_serialize(tensors[i], &imgs[i], &lens[i], err)) {
            qs_error_prefix(err, "%s: member '%s'", path, names[i]);
            st = err->code;
            goto cleanup;
        }
        size_t entry = ZIP_LOCAL_LEN + ZIP_CENTRAL_LEN + 2 * (nl + 4);
        if (__builtin_add_overflow(total, entry, &total) ||
            __builtin_add_overflow(total, lens[i], &total)) {
            st = qs_fail(err, QS_EUNSUPPORTED, "%s: archive too large", path);
            goto cleanup;
        }
        cd_size += ZIP_CENTRAL_LEN + nl + 4;
    }
    if (total > 0xfffffffeu) {
        st = qs_fail(err, QS_EUNSUPPORTED, "%s: archive of %zu bytes needs zip64, which is not "
                     "supported", path, total);
        goto cleanup;
    }
    out = malloc(total);
    if (!out) {
        st = qs_fail(err, QS_ENOMEM, "%s: cannot allocate %zu bytes", path, total);
        goto cleanup;
    }
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]) + 4;
        uint32_t crc = (uint32_t)crc32_z(0L, imgs[i], lens[i]);
        unsigned char *l = out + pos;
        offs[i] = (uint32_t)pos;
        memset(l, 0, ZIP_LOCAL_LEN);
        npz_put32(l, ZIP_LOCAL_SIG);
        npz_put16(l + 4, 20);     /* version needed: 2.0 */
        npz_put16(l + 12, 0x21);  /* date 1980-01-01, time 00:00: reproducible output */
        npz_put32(l + 14, crc);
        npz_put32(l + 18, (uint32_t)lens[i]);
        npz_put32(l + 22, (uint32_t)lens[i]);
        npz_put16(l + 26, (uint32_t)nl);
        memcpy(l + ZIP_LOCAL_LEN, names[i], nl - 4);
        memcpy(l + ZIP_LOCAL_LEN + nl - 4, ".npy", 4);
        pos += ZIP_LOCAL_LEN + nl;
        memcpy(out + pos, imgs[i], lens[i]);
        pos += lens[i];
    }
    size_t cd_off = pos;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]) + 4;
        const unsigned char *l = out + offs[i];
        unsigned char *c = out + pos;
        memset(c, 0, ZIP_CENTRAL_LEN);
        npz_put32(c, ZIP_CENTRAL_SIG);
        npz_put16(c + 4, 20);                      /* made by: 2.0, MS-DOS attributes */
        memcpy(c + 6, l + 4, 26);                  /* version .. name length, as local */
        npz_put32(c + 42, offs[i]);
        memcpy(c + ZIP_CENTRAL_LEN, l + ZIP_LOCAL_LEN, nl);
        pos += ZIP_CENTRAL_LEN + nl;
    }
    unsigned char *e = out + pos;
    memset(e, 0, ZIP_EOCD_LEN);
    npz_put32(e, ZIP_EOCD_SIG);
    npz_put16(e + 8, (uint32_t)n);
    npz_put16(e + 10, (uint32_t)n);
    npz_put32(e + 12, (uint32_t)cd_size);
    npz_put32(e + 16, (uint32_t)cd_off);
    pos += ZIP_EOCD_LEN;
    QS_ASSERT(pos == total);
    st = fileio_write_atomic(path, out, total, err);
cleanup:
    for (int i = 0; i < n; i++)
        free(imgs[i]);
    free(imgs);
    free(lens);
    free(offs);
    free(out);
    return st;
}
