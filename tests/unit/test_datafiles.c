/* .npz, IDX, CSV and the suffix dispatch of datafile_load: files written by numpy and
 * Python's gzip (exact values), round trips through the writers, the broken-file corpus in
 * tests/fixtures/bad_data (every file must fail with its code and message), and damaged
 * archives (every truncation, every byte flipped) that must fail cleanly, never crash. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrays/csv.h"
#include "arrays/datafile.h"
#include "io/fileio.h"
#include "arrays/idx.h"
#include "arrays/npy.h"
#include "arrays/npz.h"
#include "base/budget.h"
#include "test_util.h"

#define FIX "tests/fixtures/data/"
#define BAD "tests/fixtures/bad_data/"

static char tmpdir[] = "/tmp/qs_test_datafiles_XXXXXX";

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void *read_all(const char *path, size_t *len)
{
    void *buf;
    QsError err = { 0 };
    if (fileio_read(path, &buf, len, &err)) {
        fprintf(stderr, "cannot read %s: %s\n", path, err.msg);
        exit(2);
    }
    return buf;
}

static void write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static bool same_tensor(const Tensor *a, const Tensor *b)
{
    return a && b && a->dtype == b->dtype && shape_equal(&a->shape, &b->shape) &&
           memcmp(a->data, b->data, tensor_bytes(a)) == 0;
}

static bool is_shape(const Tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    const int64_t d[3] = { d0, d1, d2 };
    Shape s = shape_make(ndim, d);
    return t && shape_equal(&t->shape, &s);
}

/* ---- npz ---- */

static void check_npz_fixture(const char *path)
{
    static const float x[12] = { 0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f };
    static const int64_t y[4] = { 0, 1, 2, 1 };
    QsError err = { 0 };
    Tensor *tx = npz_load_member(path, "x", &err);
    if (CHECK(tx)) {
        CHECK(tx->dtype == DT_F32 && is_shape(tx, 2, 4, 3, 0));
        CHECK(memcmp(tx->data, x, sizeof x) == 0);
    } else {
        fprintf(stderr, "  %s: %s\n", path, err.msg);
    }
    Tensor *ty = npz_load_member(path, "y.npy", &err); /* the stored name works too */
    CHECK(ty && ty->dtype == DT_I64 && is_shape(ty, 1, 4, 0, 0) &&
          memcmp(ty->data, y, sizeof y) == 0);
    tensor_free(tx);
    tensor_free(ty);

    Tensor *tz = npz_load_member(path, "z", &err);
    expect_error("missing member", tz ? QS_OK : err.code, &err, QS_ENOTFOUND,
                 "no member 'z' (members: x, y)");
    tensor_free(tz);

    char **names;
    int n;
    if (CHECK_OK(npz_list(path, &names, &n, &err), &err)) {
        CHECK(n == 2 && strcmp(names[0], "x") == 0 && strcmp(names[1], "y") == 0);
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
}

static void test_npz(void)
{
    check_npz_fixture(FIX "stored.npz");
    check_npz_fixture(FIX "deflated.npz");

    /* Save every dtype, read each member back bit-identical. */
    const char *names[DT_COUNT] = { "f32", "f16", "i8", "u8", "i32", "long_member.name" };
    Tensor *ts[DT_COUNT];
    QsError err = { 0 };
    for (int dt = 0; dt < DT_COUNT; dt++) {
        ts[dt] = tensor_new((DType)dt, shape_of(2, (int64_t)3, (int64_t)(dt + 1)), &err);
        unsigned char *p = ts[dt]->data;
        for (size_t i = 0; i < tensor_bytes(ts[dt]); i++)
            p[i] = (unsigned char)(i * 73 + (size_t)dt);
    }
    const char *path = tmp_path("rt.npz");
    if (CHECK_OK(npz_save(path, names, (const Tensor *const *)ts, DT_COUNT, &err), &err)) {
        for (int dt = 0; dt < DT_COUNT; dt++) {
            Tensor *u = npz_load_member(path, names[dt], &err);
            if (!CHECK(same_tensor(u, ts[dt])))
                fprintf(stderr, "  member %s: %s\n", names[dt], u ? "differs" : err.msg);
            tensor_free(u);
        }
        /* Saving twice gives identical bytes (fixed timestamps). */
        size_t l1, l2;
        void *b1 = read_all(path, &l1);
        CHECK_OK(npz_save(path, names, (const Tensor *const *)ts, DT_COUNT, &err), &err);
        void *b2 = read_all(path, &l2);
        CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0);
        free(b1);
        free(b2);
    }
    const char *dup[2] = { "a", "a" };
    expect_error("duplicate member", npz_save(path, dup, (const Tensor *const *)ts, 2, &err),
                 &err, QS_EINVAL, "'a' given twice");
    /* An empty archive is valid and lists nothing. */
    const char *epath = tmp_path("empty.npz");
    if (CHECK_OK(npz_save(epath, NULL, NULL, 0, &err), &err)) {
        char **nm;
        int n = -1;
        CHECK_OK(npz_list(epath, &nm, &n, &err), &err);
        CHECK(n == 0);
        free(nm);
        Tensor *u = npz_load_member(epath, "x", &err);
        expect_error("empty archive", u ? QS_OK : err.code, &err, QS_ENOTFOUND, "members: none");
    }
    for (int dt = 0; dt < DT_COUNT; dt++)
        tensor_free(ts[dt]);
}

/* ---- IDX ---- */

static void test_idx(void)
{
    QsError err = { 0 };
    Tensor *t = idx_load(FIX "images-idx3-ubyte.gz", &err);
    if (CHECK(t)) {
        CHECK(t->dtype == DT_U8 && is_shape(t, 3, 3, 4, 5));
        bool ok = true;
        for (int i = 0; i < 60; i++)
            ok &= ((uint8_t *)t->data)[i] == (uint8_t)(i * 37 % 256);
        CHECK(ok);
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    tensor_free(t);
    t = idx_load(FIX "labels-idx1-ubyte", &err);
    CHECK(t && t->dtype == DT_U8 && is_shape(t, 1, 3, 0, 0) &&
          memcmp(t->data, "\x07\x02\x01", 3) == 0);
    tensor_free(t);
    t = idx_load(FIX "i16.idx", &err);
    static const int32_t i16[] = { -32768, -1, 0, 32767 };
    CHECK(t && t->dtype == DT_I32 && is_shape(t, 1, 4, 0, 0) &&
          memcmp(t->data, i16, sizeof i16) == 0);
    tensor_free(t);
    t = idx_load(FIX "f32.idx", &err);
    static const float f32[] = { 1.0f, -0.5f, 3.25f };
    CHECK(t && t->dtype == DT_F32 && is_shape(t, 2, 1, 3, 0) &&
          memcmp(t->data, f32, sizeof f32) == 0);
    tensor_free(t);
    t = idx_load(FIX "f64.idx", &err);
    const float f64[] = { (float)0.1, -2.5f, (float)1e-40, 3.0f }; /* C's narrowing = numpy's */
    CHECK(t && t->dtype == DT_F32 && is_shape(t, 2, 2, 2, 0) &&
          memcmp(t->data, f64, sizeof f64) == 0);
    tensor_free(t);

    /* Round trips, plain and gzipped, for each writable dtype and a 0-d and empty shape. */
    static const DType writable[] = { DT_U8, DT_I8, DT_I32, DT_F32 };
    const Shape shapes[] = { shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4), shape_of(0),
                             shape_of(2, (int64_t)0, (int64_t)5) };
    for (size_t w = 0; w < 4; w++)
        for (size_t si = 0; si < 3; si++)
            for (int gz = 0; gz < 2; gz++) {
                Tensor *a = tensor_new(writable[w], shapes[si], &err);
                unsigned char *p = a->data;
                for (size_t i = 0; i < tensor_bytes(a); i++)
                    p[i] = (unsigned char)(i * 29 + 3);
                const char *path = tmp_path(gz ? "rt-idx.gz" : "rt.idx");
                if (CHECK_OK(idx_save(path, a, &err), &err)) {
                    size_t len;
                    unsigned char *raw = read_all(path, &len);
                    CHECK(gz ? raw[0] == 0x1f && raw[1] == 0x8b : raw[2] != 0 && raw[0] == 0);
                    free(raw);
                    Tensor *b = idx_load(path, &err);
                    if (!CHECK(same_tensor(a, b)))
                        fprintf(stderr, "  idx %s gz=%d shape #%zu: %s\n",
                                dtype_name(writable[w]), gz, si, b ? "differs" : err.msg);
                    tensor_free(b);
                }
                tensor_free(a);
            }
    Tensor *h = tensor_new(DT_F16, shape_of(1, (int64_t)2), &err);
    expect_error("idx f16", idx_save(tmp_path("h.idx"), h, &err), &err, QS_EUNSUPPORTED,
                 "cannot store f16");
    tensor_free(h);
}

/* ---- CSV ---- */

static void test_csv(void)
{
    QsError err = { 0 };
    Tensor *x = NULL, *y = NULL;
    static const float want_x[9] = { 0.5f, 1, -2, 1e-3f, 2.25f, 3, -0.0f, 4, 5.5f };
    static const int64_t want_y[3] = { 0, 1, 2 };
    if (CHECK_OK(csv_load(FIX "small.csv", -1, &x, &y, &err), &err)) {
        CHECK(x->dtype == DT_F32 && is_shape(x, 2, 3, 3, 0));
        CHECK(memcmp(x->data, want_x, sizeof want_x) == 0); /* strtof: correctly rounded */
        CHECK(y && y->dtype == DT_I64 && is_shape(y, 1, 3, 0, 0) &&
              memcmp(y->data, want_y, sizeof want_y) == 0);
    }
    tensor_free(x);
    tensor_free(y);
    /* No label column: all four columns are features. */
    if (CHECK_OK(csv_load(FIX "small.csv", -2, &x, &y, &err), &err)) {
        CHECK(is_shape(x, 2, 3, 4, 0) && y == NULL);
        CHECK(tensor_f32(x)[3] == 0.0f && tensor_f32(x)[11] == 2.0f);
    }
    tensor_free(x);
    /* Column 0 as labels: 0.5 is not an integer (line 3 of the file). */
    expect_error("label col 0", csv_load(FIX "small.csv", 0, &x, &y, &err), &err, QS_EFORMAT,
                 "small.csv:3: field 1 '0.5' is not an integer label");
    CHECK(x == NULL && y == NULL);
    /* Column 2 holds integers (-2, 3, 5.5)? no: 5.5 on line 7. */
    expect_error("label col 2", csv_load(FIX "small.csv", 2, &x, &y, &err), &err, QS_EFORMAT,
                 "small.csv:7: field 3 '5.5'");
    expect_error("label col 9", csv_load(FIX "small.csv", 9, &x, &y, &err), &err, QS_EINVAL,
                 "label column 9 does not exist (4 fields)");
    /* y may be NULL: the label column is still dropped from x. */
    if (CHECK_OK(csv_load(FIX "small.csv", -1, &x, NULL, &err), &err))
        CHECK(is_shape(x, 2, 3, 3, 0));
    tensor_free(x);

    /* Hand-made cases: "3.0" labels, quoted numbers, no trailing newline, one column. */
    const char *p = tmp_path("t.csv");
    write_all(p, "1,\"2\",3.0\n4,5,-6", 17);
    if (CHECK_OK(csv_load(p, -1, &x, &y, &err), &err)) {
        CHECK(is_shape(x, 2, 2, 2, 0) && tensor_f32(x)[1] == 2.0f && tensor_f32(x)[3] == 5.0f);
        CHECK(((int64_t *)y->data)[0] == 3 && ((int64_t *)y->data)[1] == -6);
    }
    tensor_free(x);
    tensor_free(y);
    write_all(p, "7\n8\n", 4);
    expect_error("label only", csv_load(p, -1, &x, &y, &err), &err, QS_EFORMAT,
                 "no feature columns");
    write_all(p, "1,2\n3,9223372036854775807\n", 26);
    if (CHECK_OK(csv_load(p, -1, &x, &y, &err), &err))
        CHECK(((int64_t *)y->data)[1] == INT64_MAX);
    tensor_free(x);
    tensor_free(y);
    write_all(p, "1,2\n3,1e300\n", 12);
    expect_error("huge label", csv_load(p, -1, &x, &y, &err), &err, QS_EFORMAT,
                 ":2: field 2 '1e300' is not an integer label");
    write_all(p, "", 0);
    expect_error("empty file", csv_load(p, -1, &x, &y, &err), &err, QS_EFORMAT, "no data rows");
    expect_error("missing file", csv_load(tmp_path("nope.csv"), -1, &x, &y, &err), &err, QS_EIO,
                 "nope.csv");

    /* CSV is parsed whole: three times the file is charged to max_memory before reading.
     * 60000 rows of 7 bytes: 420000 bytes, 1.2 MiB asked against 1 MiB. */
    enum { ROWS = 60000 };
    char *big = malloc(ROWS * 7);
    if (CHECK(big != NULL)) {
        for (int i = 0; i < ROWS; i++)
            memcpy(big + 7 * i, "0.25,1\n", 7);
        p = tmp_path("big.csv");
        write_all(p, big, ROWS * 7);
        free(big);
        QS_ASSERT(budget_set_max((int64_t)1 << 20, &err) == QS_OK);
        expect_error("csv over max_memory", csv_load(p, -1, &x, &y, &err), &err, QS_ENOMEM,
                     "big.csv: 1.2 MiB asked, the budget allows 1 MiB (set max_memory=");
        budget_reset_max();
        if (CHECK_OK(csv_load(p, -1, &x, &y, &err), &err))
            CHECK(is_shape(x, 2, ROWS, 1, 0) && tensor_f32(x)[ROWS - 1] == 0.25f);
        tensor_free(x);
        tensor_free(y);
    }
}

/* ---- datafile ---- */

static void test_datafile(void)
{
    QsError err = { 0 };
    Tensor *t = NULL, *y = NULL;
    /* One case per loader row. */
    static const struct {
        const char *spec;
        DType dt;
        int64_t d0;
    } rows[] = {
        { FIX "u1.npy", DT_U8, 5 },          { FIX "stored.npz", DT_F32, 4 },
        { FIX "deflated.npz:y", DT_I64, 4 }, { FIX "f32.idx", DT_F32, 1 },
        { FIX "labels-idx1-ubyte", DT_U8, 3 }, { FIX "images-idx3-ubyte.gz", DT_U8, 3 },
        { FIX "small.csv", DT_F32, 3 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (CHECK_OK(datafile_load(rows[i].spec, "x", &t, &y, &err), &err)) {
            if (!CHECK(t->dtype == rows[i].dt && t->shape.dim[0] == rows[i].d0))
                fprintf(stderr, "  %s: got %s\n", rows[i].spec, dtype_name(t->dtype));
            /* Only the CSV row yields labels. */
            CHECK((y != NULL) == (strstr(rows[i].spec, ".csv") != NULL));
        }
        tensor_free(t);
        tensor_free(y);
        t = y = NULL;
    }
    /* The default member; an absent one is QS_ENOTFOUND (callers probe for "y"). */
    if (CHECK_OK(datafile_load(FIX "stored.npz", "y", &t, NULL, &err), &err))
        CHECK(t->dtype == DT_I64);
    tensor_free(t);
    npz_save(tmp_path("only_x.npz"), (const char *[]){ "x" },
             (const Tensor *const[]){ &(Tensor){ .dtype = DT_U8, .shape = shape_of(1, (int64_t)1),
                                                 .data = "\x05" } }, 1, &err);
    expect_error("absent default", datafile_load(tmp_path("only_x.npz"), "y", &t, NULL, &err),
                 &err, QS_ENOTFOUND, "no member 'y' (members: x)");
    CHECK(t == NULL);
    expect_error("no default", datafile_load(FIX "stored.npz", NULL, &t, NULL, &err), &err,
                 QS_EINVAL, "stored.npz:NAME");
    expect_error("empty member", datafile_load(FIX "stored.npz:", "x", &t, NULL, &err), &err,
                 QS_EINVAL, "empty member name");
    expect_error("bad member", datafile_load(FIX "stored.npz:q", "x", &t, NULL, &err), &err,
                 QS_ENOTFOUND, "no member 'q'");
    expect_error("unknown suffix", datafile_load("data.txt", "x", &t, NULL, &err), &err,
                 QS_EUNSUPPORTED,
                 "data.txt: unknown data file type (supported: .npy, .npz[:MEMBER], .idx, "
                 "-ubyte (MNIST IDX), .gz (gzipped IDX), .csv)");
    expect_error("member on npy", datafile_load(FIX "u1.npy:x", "x", &t, NULL, &err), &err,
                 QS_EUNSUPPORTED, "unknown data file type");
    expect_error("missing npy", datafile_load("nowhere/a.npy", "x", &t, NULL, &err), &err,
                 QS_EIO, "nowhere/a.npy");
}

/* ---- the broken corpus ---- */

static const struct {
    const char *file;
    QsStatus code;
    const char *needle;
} corpus[] = {
    { "fortran.npy", QS_EUNSUPPORTED,
      "fortran.npy: Fortran-ordered arrays are not supported (save with np.ascontiguousarray)" },
    { "object.npy", QS_EUNSUPPORTED, "object arrays ('|O') are not supported" },
    { "bigendian.npy", QS_EUNSUPPORTED, "big-endian dtype '>f4'" },
    { "complex.npy", QS_EUNSUPPORTED, "dtype '<c8' is not supported" },
    { "structured.npy", QS_EUNSUPPORTED, "structured dtypes" },
    { "bad_descr.npy", QS_EUNSUPPORTED, "dtype '<q7'" },
    { "huge_dims.npy", QS_EFORMAT, "shape (1099511627776, 1099511627776) of '<f4' is too large" },
    { "huge_1d.npy", QS_EFORMAT, "needs 4398046511104 data bytes at offset 128, found 16" },
    { "dims7.npy", QS_EUNSUPPORTED, "7 dimensions" },
    { "hdrlen_past_end.npy", QS_EFORMAT, "header length 65535 runs past the end" },
    { "version4.npy", QS_EUNSUPPORTED, "version 4.0" },
    { "truncated.npy", QS_EFORMAT, "truncated: shape (2, 3) of '<f4' needs 24 data bytes at "
                                   "offset 128, found 19" },
    { "trailing.npy", QS_EFORMAT, "3 unexpected bytes" },
    { "missing_shape.npy", QS_EFORMAT, "lacks 'shape'" },
    { "negative_dim.npy", QS_EFORMAT, "non-negative integer" },
    { "not_npy.npy", QS_EFORMAT, "not a .npy file" },
    { "npz_bad_offset.npz", QS_EFORMAT, "member 'x.npy': no local header at offset 2147418112" },
    { "npz_bad_cd.npz", QS_EFORMAT, "central directory at offset 16777215" },
    { "npz_crc.npz", QS_EFORMAT, "member 'x.npy': CRC mismatch" },
    { "npz_deflate_garbage.npz", QS_EFORMAT, "member 'x.npy': corrupt deflate data" },
    { "npz_4gb.npz", QS_EFORMAT, "claims 4294967280 bytes uncompressed" },
    { "npz_stored_4gb.npz", QS_EFORMAT, "4294967280 bytes of data at offset" },
    { "npz_short_usize.npz", QS_EFORMAT, "inflates to more than the declared 100 bytes" },
    { "npz_long_usize.npz", QS_EFORMAT, "member 'x.npy' inflates to 176 bytes, header says 1000" },
    { "npz_local_mismatch.npz", QS_EFORMAT,
      "local header (crc a1dc7216, sizes 102/176) disagrees with the central directory" },
    { "npz_local_name.npz", QS_EFORMAT, "local header at offset 0 names another member" },
    { "npz_zip64.npz", QS_EUNSUPPORTED, "zip64" },
    { "npz_encrypted.npz", QS_EUNSUPPORTED, "member 'x.npy' is encrypted" },
    { "npz_bzip2.npz", QS_EUNSUPPORTED, "compression method 12" },
    { "npz_not_zip.npz", QS_EFORMAT, "not a zip archive" },
    { "idx_bad_magic.idx", QS_EFORMAT, "not an IDX file" },
    { "idx_bad_type.idx", QS_EUNSUPPORTED, "unknown IDX type code 0x07" },
    { "idx_truncated-ubyte", QS_EFORMAT, "truncated: dims (10) of u8 need 10 data bytes, found 5" },
    { "idx_dims7.idx", QS_EUNSUPPORTED, "7 dimensions" },
    { "idx_huge.gz", QS_EFORMAT, "dims (65536, 65536) of u8 declare 4294967296 data bytes" },
    { "idx_overflow.idx", QS_EFORMAT, "too large (size overflows)" },
    { "idx_garbage.gz", QS_EFORMAT, "gzip" },
    { "idx_gz_truncated.gz", QS_EFORMAT, "truncated" },
    { "idx_gz_badcrc.gz", QS_EFORMAT, "incorrect data check" },
    { "csv_not_number.csv", QS_EFORMAT, "csv_not_number.csv:17: field 3 'abc' is not a number" },
    { "csv_ragged.csv", QS_EFORMAT, "csv_ragged.csv:3: 2 fields, expected 3 (as on line 1)" },
    { "csv_bad_label.csv", QS_EFORMAT,
      "csv_bad_label.csv:3: field 2 '1.5' is not an integer label" },
    { "csv_empty_field.csv", QS_EFORMAT, "csv_empty_field.csv:2: field 2 is empty" },
    { "csv_no_rows.csv", QS_EFORMAT, "no data rows" },
    { "unknown.txt", QS_EUNSUPPORTED, "supported: .npy" },
};
#define NCORPUS (sizeof corpus / sizeof corpus[0])

static void test_corpus(void)
{
    for (size_t i = 0; i < NCORPUS; i++) {
        char spec[256];
        snprintf(spec, sizeof spec, BAD "%s", corpus[i].file);
        QsError err = { 0 };
        Tensor *t = NULL, *y = NULL;
        QsStatus st = datafile_load(spec, "x", &t, &y, &err);
        CHECK(t == NULL && y == NULL);
        expect_error(corpus[i].file, st, &err, corpus[i].code, corpus[i].needle);
        tensor_free(t);
        tensor_free(y);
    }
    /* Every file in the directory is in the table, so none is silently skipped. */
    DIR *d = opendir(BAD);
    if (!CHECK(d != NULL))
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "manifest.json") == 0)
            continue;
        bool found = false;
        for (size_t i = 0; i < NCORPUS; i++)
            found |= strcmp(corpus[i].file, e->d_name) == 0;
        if (!CHECK(found))
            fprintf(stderr, "  %s is not in the corpus table\n", e->d_name);
    }
    closedir(d);
}

/* ---- damaged archives ---- */

typedef Tensor *(*LoadFn)(const char *path);
/* Loads every member (so damage anywhere in the archive can be noticed) and returns the
 * first, or NULL if any member fails. */
static Tensor *load_npz_all(const char *path)
{
    QsError err = { 0 };
    char **names;
    int n;
    Tensor *first = NULL;
    if (npz_list(path, &names, &n, &err) == QS_OK) {
        bool ok = n > 0;
        for (int i = 0; i < n; i++) {
            Tensor *t = ok ? npz_load_member(path, names[i], &err) : NULL;
            ok &= t != NULL;
            if (!first)
                first = t;
            else
                tensor_free(t);
            free(names[i]);
        }
        free(names);
        if (!ok) {
            tensor_free(first);
            first = NULL;
        }
    }
    if (!first && (err.code == QS_OK || !strstr(err.msg, path)))
        fprintf(stderr, "  %s: bad error '%s'\n", path, err.msg), exit(1);
    return first;
}
static Tensor *load_idx(const char *path)
{
    QsError err = { 0 };
    Tensor *t = idx_load(path, &err);
    if (!t && (err.code == QS_OK || !strstr(err.msg, path)))
        fprintf(stderr, "  %s: bad error '%s'\n", path, err.msg), exit(1);
    return t;
}

/* Every prefix of the file must be refused (each loses the end record or the gzip
 * trailer); a message naming the file is required (load_* exit otherwise). */
static void test_cuts(const char *file, LoadFn load, const char *tmpname)
{
    size_t len;
    unsigned char *img = read_all(file, &len);
    const char *p = tmp_path(tmpname);
    int loaded = 0;
    for (size_t cut = 0; cut < len; cut++) {
        write_all(p, img, cut);
        Tensor *t = load(p);
        if (t) {
            loaded++;
            fprintf(stderr, "  %s cut at %zu loaded\n", file, cut);
        }
        tensor_free(t);
    }
    CHECK(loaded == 0);
    free(img);
}

/* Flips every byte: accepted or refused, never a crash (ASan watches). Returns how many
 * were refused, so a check can insist that damage is noticed. */
static int flips_refused(const char *file, LoadFn load, const char *tmpname)
{
    size_t len;
    unsigned char *img = read_all(file, &len);
    const char *p = tmp_path(tmpname);
    int refused = 0;
    for (size_t i = 0; i < len; i++) {
        img[i] ^= 0x5a;
        write_all(p, img, len);
        img[i] ^= 0x5a;
        Tensor *t = load(p);
        refused += t == NULL;
        tensor_free(t);
    }
    free(img);
    return refused;
}

static void test_damage(void)
{
    size_t len;
    free(read_all(FIX "stored.npz", &len));
    test_cuts(FIX "stored.npz", load_npz_all, "cut.npz");
    test_cuts(FIX "deflated.npz", load_npz_all, "cut.npz");
    test_cuts(FIX "images-idx3-ubyte.gz", load_idx, "cut.gz");
    /* A plain IDX file cut short is refused too (its size is fixed by its dims). */
    test_cuts(FIX "f64.idx", load_idx, "cut.idx");
    /* CRCs guard every data byte of an npz and a gzip file, and the local headers are
     * checked against the central directory, so nearly every flip must be refused; in the
     * npz only fields nobody needs may flip unnoticed: per member, the local version,
     * flags and timestamp (8 bytes), numpy's 20-byte zip64 extra, and the central
     * "made by", version, flags (bit 0 aside), timestamp, disk and attribute fields
     * (18 bytes). */
    int r = flips_refused(FIX "stored.npz", load_npz_all, "flip.npz");
    if (!CHECK(r >= (int)len - 2 * 46))
        fprintf(stderr, "  stored.npz: %d of %zu flips refused\n", r, len);
    free(read_all(FIX "deflated.npz", &len));
    r = flips_refused(FIX "deflated.npz", load_npz_all, "flip.npz");
    if (!CHECK(r >= (int)len - 2 * 46))
        fprintf(stderr, "  deflated.npz: %d of %zu flips refused\n", r, len);
    free(read_all(FIX "images-idx3-ubyte.gz", &len));
    r = flips_refused(FIX "images-idx3-ubyte.gz", load_idx, "flip.gz");
    /* gzip header bytes 4-9 (mtime, xfl, os) are not checked by anyone. */
    if (!CHECK(r >= (int)len - 6))
        fprintf(stderr, "  images-idx3-ubyte.gz: %d of %zu flips refused\n", r, len);
}

static void cleanup_tmp(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            unlink(tmp_path(e->d_name));
    closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_npz();
    test_idx();
    test_csv();
    test_datafile();
    test_corpus();
    test_damage();
    cleanup_tmp();
    return test_summary("test_datafiles");
}
