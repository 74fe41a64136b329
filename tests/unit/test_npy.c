/* .npy reader/writer: files written by numpy (values bit-exact, re-serialisation
 * byte-identical), round trips of every dtype and rank, header syntax variants, and broken
 * images (every truncation point of the header, cuts in the data, byte flips, hand-made
 * bad headers), which must all fail with a message and never crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fileio.h"
#include "arrays/npy.h"
#include "test_util.h"

#define FIX "tests/fixtures/data/"

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

static bool has_shape(const Tensor *t, int ndim, const int64_t *dims)
{
    Shape s = shape_make(ndim, dims);
    return shape_equal(&t->shape, &s);
}

/* Loads a numpy-written fixture, checks dtype, shape and the exact bytes, and that
 * serialising it again reproduces numpy's file byte for byte. */
static void check_fixture(const char *name, DType dt, int ndim, const int64_t *dims,
                          const void *want, size_t want_bytes, bool same_file)
{
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    QsError err = { 0 };
    Tensor *t = npy_load(path, &err);
    if (!CHECK(t != NULL)) {
        fprintf(stderr, "  %s: %s\n", name, err.msg);
        return;
    }
    CHECK(t->dtype == dt);
    CHECK(has_shape(t, ndim, dims));
    CHECK(tensor_bytes(t) == want_bytes);
    if (tensor_bytes(t) == want_bytes && !CHECK(memcmp(t->data, want, want_bytes) == 0))
        fprintf(stderr, "  %s: data differs\n", name);
    if (same_file) {
        size_t flen, slen;
        void *file = read_all(path, &flen), *ser;
        if (CHECK_OK(npy_serialize(t, &ser, &slen, &err), &err)) {
            if (!CHECK(slen == flen && memcmp(ser, file, flen) == 0))
                fprintf(stderr, "  %s: npy_serialize differs from numpy's file\n", name);
            free(ser);
        }
        free(file);
    }
    tensor_free(t);
}

static void test_numpy_fixtures(void)
{
    static const uint32_t f4[] = { 0x00000000, 0x80000000, 0x3fc00000, 0xc0100000,
                                   0x7f7fffff, 0x00000001, 0x7f800000, 0x7fc00000 };
    check_fixture("f4.npy", DT_F32, 2, (int64_t[]){ 2, 4 }, f4, sizeof f4, true);
    static const uint16_t f2[] = { 0x0000, 0x8000, 0x3c00, 0x0001, 0x03ff,
                                   0x0400, 0x7bff, 0xc500, 0x3555, 0xfbff };
    check_fixture("f2.npy", DT_F16, 2, (int64_t[]){ 2, 5 }, f2, sizeof f2, true);
    static const uint8_t u1[] = { 0, 1, 127, 128, 255 };
    check_fixture("u1.npy", DT_U8, 1, (int64_t[]){ 5 }, u1, sizeof u1, true);
    static const int8_t i1[] = { -128, -1, 0, 1, 127 };
    check_fixture("i1.npy", DT_I8, 1, (int64_t[]){ 5 }, i1, sizeof i1, true);
    static const int32_t i4[] = { INT32_MIN, -1, 0, 1, INT32_MAX, 123456789 };
    check_fixture("i4.npy", DT_I32, 1, (int64_t[]){ 6 }, i4, sizeof i4, true);
    static const int64_t i8[] = { INT64_MIN, -1, 0, 1, INT64_MAX, (int64_t)1 << 40 };
    check_fixture("i8.npy", DT_I64, 1, (int64_t[]){ 6 }, i8, sizeof i8, true);
    static const float scalar[] = { 7.5f };
    check_fixture("scalar.npy", DT_F32, 0, NULL, scalar, sizeof scalar, true);
    check_fixture("empty.npy", DT_F32, 2, (int64_t[]){ 0, 3 }, "", 0, true);
    static const int8_t d6[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    check_fixture("dims6.npy", DT_I8, 6, (int64_t[]){ 1, 2, 1, 2, 1, 2 }, d6, sizeof d6, true);
    /* Versions 2.0 and 3.0 are read; qscope writes 1.0, so no byte comparison. */
    static const float v[] = { 0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f };
    check_fixture("v2.npy", DT_F32, 2, (int64_t[]){ 3, 2 }, v, sizeof v, false);
    check_fixture("v3.npy", DT_F32, 2, (int64_t[]){ 3, 2 }, v, sizeof v, false);

    /* f8 is narrowed to f32 exactly as numpy's astype(float32) does (round to nearest,
     * subnormal result, overflow to inf): compare bit patterns with numpy's own output. */
    Tensor *f8 = test_load_npy("data/f8.npy"), *ref = test_load_npy("data/f8_as_f4.npy");
    CHECK(f8->dtype == DT_F32 && shape_equal(&f8->shape, &ref->shape));
    CHECK(memcmp(f8->data, ref->data, tensor_bytes(ref)) == 0);
    CHECK(tensor_f32(f8)[0] == 0.1f && tensor_f32(f8)[3] > 3.4e38f);
    tensor_free(f8);
    tensor_free(ref);
}

/* A pattern with every byte value, so dtype-specific bugs show. */
static void fill_pattern(Tensor *t)
{
    unsigned char *p = t->data;
    for (size_t i = 0; i < tensor_bytes(t); i++)
        p[i] = (unsigned char)(i * 151 + 7);
}

static void test_round_trips(const char *tmpdir)
{
    static const int64_t d6[] = { 2, 1, 3, 1, 2, 2 };
    const Shape shapes[] = { shape_of(0), shape_of(1, (int64_t)0), shape_of(1, (int64_t)7),
                             shape_of(2, (int64_t)3, (int64_t)5),
                             shape_of(3, (int64_t)2, (int64_t)0, (int64_t)4),
                             shape_make(6, d6) };
    char path[512];
    snprintf(path, sizeof path, "%s/rt.npy", tmpdir);
    for (int dt = 0; dt < DT_COUNT; dt++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            QsError err = { 0 };
            Tensor *t = tensor_new((DType)dt, shapes[si], &err);
            if (!CHECK(t))
                continue;
            fill_pattern(t);
            void *buf;
            size_t len;
            if (CHECK_OK(npy_serialize(t, &buf, &len, &err), &err)) {
                CHECK((len - tensor_bytes(t)) % 64 == 0); /* data starts 64-aligned */
                CHECK(((unsigned char *)buf)[len - tensor_bytes(t) - 1] == '\n');
                Tensor *u = npy_parse(buf, len, "rt", &err);
                if (CHECK(u)) {
                    CHECK(u->dtype == t->dtype && shape_equal(&u->shape, &t->shape));
                    CHECK(memcmp(u->data, t->data, tensor_bytes(t)) == 0);
                    tensor_free(u);
                } else {
                    fprintf(stderr, "  dtype %s shape #%zu: %s\n", dtype_name((DType)dt), si,
                            err.msg);
                }
                free(buf);
            }
            /* Through the file system too: save then load, and no .tmp left behind. */
            if (CHECK_OK(npy_save(path, t, &err), &err)) {
                Tensor *u = npy_load(path, &err);
                CHECK(u && u->dtype == t->dtype && shape_equal(&u->shape, &t->shape) &&
                      memcmp(u->data, t->data, tensor_bytes(t)) == 0);
                tensor_free(u);
                char tmp[600];
                snprintf(tmp, sizeof tmp, "%s.tmp", path);
                CHECK(access(tmp, F_OK) != 0);
            }
            tensor_free(t);
        }
    unlink(path);
}

/* Builds a version 1.0 image with the given header text and data. */
static unsigned char *make_npy(const char *dict, const void *data, size_t dlen, int major,
                               size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict);
    unsigned char *b = xmalloc(pre + hl + dlen + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (unsigned char)hl;
        b[9] = (unsigned char)(hl >> 8);
    } else {
        b[8] = (unsigned char)hl;
        b[9] = (unsigned char)(hl >> 8);
        b[10] = b[11] = 0;
    }
    memcpy(b + pre, dict, hl);
    if (dlen)
        memcpy(b + pre + hl, data, dlen);
    *len = pre + hl + dlen;
    return b;
}

static void test_header_syntax(void)
{
    static const float six[6] = { 1, 2, 3, 4, 5, 6 };
    static const struct {
        const char *dict;
        int major;
        DType dt;
        int ndim;
        int64_t d0, d1;
    } ok[] = {
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 1, DT_F32, 2, 2, 3 },
        { "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", 1, DT_F32, 2, 2, 3 },
        { "{ \"descr\" : \"<f4\" , \"fortran_order\":False,\"shape\":(6,)}  \n", 1, DT_F32,
          1, 6, 0 },
        { "{'descr':'<f4','fortran_order':False,'shape':(6L,),}\r\n", 1, DT_F32, 1, 6, 0 },
        { "{'descr': '=i4', 'fortran_order': False, 'shape': (3, 2)}", 2, DT_I32, 2, 3, 2 },
        { "{'descr': '<u1', 'fortran_order': False, 'shape': (4, 6)}", 3, DT_U8, 2, 4, 6 },
        { "{'descr': '>i1', 'fortran_order': False, 'shape': (24,)}", 1, DT_I8, 1, 24, 0 },
        { "{'descr': 'u1', 'fortran_order': False, 'shape': (2, 12)}", 1, DT_U8, 2, 2, 12 },
        { "{'descr': '<f2', 'fortran_order': False, 'shape': ( 3 , 4 , )}", 1, DT_F16, 2, 3, 4 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t len;
        unsigned char *b = make_npy(ok[i].dict, six, sizeof six, ok[i].major, &len);
        QsError err = { 0 };
        Tensor *t = npy_parse(b, len, "hdr", &err);
        if (CHECK(t)) {
            CHECK(t->dtype == ok[i].dt && t->shape.ndim == ok[i].ndim);
            CHECK(t->shape.dim[0] == ok[i].d0 && (ok[i].ndim < 2 || t->shape.dim[1] == ok[i].d1));
            CHECK(memcmp(t->data, six, sizeof six) == 0);
            tensor_free(t);
        } else {
            fprintf(stderr, "  header #%zu: %s\n", i, err.msg);
        }
        free(b);
    }

    static const struct {
        const char *dict;
        QsStatus code;
        const char *needle;
    } bad[] = {
        { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",
          QS_EFORMAT, "'descr' twice" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", QS_EFORMAT,
          "unknown key 'extra'" },
        { "{'descr': '<f4', 'fortran_order': False}", QS_EFORMAT, "lacks 'shape'" },
        { "{'descr': '<f4', 'shape': (6,)}", QS_EFORMAT, "lacks 'fortran_order'" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", QS_EFORMAT,
          "end of header" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", QS_EFORMAT,
          "only padding" },
        { "{'descr': <f4, 'fortran_order': False, 'shape': (6,)}", QS_EFORMAT,
          "quoted string" },
        { "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", QS_EFORMAT, "True or False" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", QS_EFORMAT, "'('" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6 2)}", QS_EFORMAT,
          "',' or ')'" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
          QS_EFORMAT, "64 bits" },
        { "{'descr': '<f4', 'fortran_order': True, 'shape': (6,)}", QS_EUNSUPPORTED,
          "hdr: Fortran-ordered arrays are not supported (save with np.ascontiguousarray)" },
        { "{'descr': '|O', 'fortran_order': False, 'shape': (6,)}", QS_EUNSUPPORTED,
          "object arrays" },
        { "{'descr': '>f4', 'fortran_order': False, 'shape': (6,)}", QS_EUNSUPPORTED,
          "big-endian" },
        { "{'descr': '|f4', 'fortran_order': False, 'shape': (6,)}", QS_EFORMAT,
          "lacks a byte order" },
        { "{'descr': '<U3', 'fortran_order': False, 'shape': (2,)}", QS_EUNSUPPORTED,
          "supported: <f4 <f8 <f2 |u1 |i1 <i4 <i8" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 6)}",
          QS_EUNSUPPORTED, "7 dimensions (at most 6" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (5,)}", QS_EFORMAT,
          "4 unexpected bytes after the data" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (7,)}", QS_EFORMAT,
          "truncated: shape (7) of '<f4' needs 28 data bytes" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}",
          QS_EFORMAT, "too large" },
        { "{'descr': '<i8', 'fortran_order': False, 'shape': (4611686018427387904,)}",
          QS_EFORMAT, "too large" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        unsigned char *b = make_npy(bad[i].dict, six, sizeof six, 1, &len);
        QsError err = { 0 };
        Tensor *t = npy_parse(b, len, "hdr", &err);
        CHECK(t == NULL);
        char label[64];
        snprintf(label, sizeof label, "bad header #%zu", i);
        expect_error(label, t ? QS_OK : err.code, &err, bad[i].code, bad[i].needle);
        tensor_free(t);
        free(b);
    }

    /* The preamble itself. */
    QsError err = { 0 };
    Tensor *t = npy_parse("\x93NUMPY\x01", 7, "short", &err);
    expect_error("7-byte file", t ? QS_OK : err.code, &err, QS_EFORMAT, "short: not a .npy file");
    t = npy_parse("\x93NUMPY\x01\x00\x05", 9, "cut", &err);
    expect_error("cut length", t ? QS_OK : err.code, &err, QS_EFORMAT, "truncated .npy preamble");
    t = npy_parse("\x93NUMPY\x02\x00\x01\x00\x00", 11, "cut2", &err);
    expect_error("cut v2 length", t ? QS_OK : err.code, &err, QS_EFORMAT, "preamble");
    t = npy_parse("\x93NUMPY\x02\x00\x00\x00\x00\x01{}", 14, "v2", &err);
    expect_error("v2 length past end", t ? QS_OK : err.code, &err, QS_EFORMAT,
                 "header length 16777216 runs past the end");
    t = npy_parse("\x93NUMPY\x01\x01\x00\x00", 10, "v11", &err);
    expect_error("version 1.1", t ? QS_OK : err.code, &err, QS_EUNSUPPORTED, "version 1.1");
    err.code = QS_OK;
    t = npy_load("tests/fixtures/data/does-not-exist.npy", &err);
    expect_error("missing file", t ? QS_OK : err.code, &err, QS_EIO, "does-not-exist.npy");
}

/* Cuts a valid image at every header offset and at several data offsets: each must fail
 * with QS_EFORMAT and a message, and (under ASan) never read out of bounds. The cut copy is
 * an exact-size heap block so that any over-read is caught. */
static void test_truncations(const char *file, size_t data_off)
{
    size_t len;
    unsigned char *img = read_all(file, &len);
    int fails = 0, cuts = 0;
    for (size_t cut = 0; cut < len; cut++) {
        if (cut > data_off + 8 && cut != len - 1 && (cut - data_off) % 7 != 0)
            continue;
        unsigned char *b = xmalloc(cut ? cut : 1);
        memcpy(b, img, cut);
        QsError err = { 0 };
        Tensor *t = npy_parse(b, cut, "cut", &err);
        cuts++;
        if (t || err.code != QS_EFORMAT || strncmp(err.msg, "cut: ", 5) != 0) {
            if (fails++ < 3)
                fprintf(stderr, "  %s cut at %zu: %s (%s)\n", file, cut, t ? "loaded" : err.msg,
                        qs_status_name(err.code));
        }
        tensor_free(t);
        free(b);
    }
    CHECK(fails == 0);
    CHECK(cuts > (int)data_off);
    free(img);
}

/* Flips every byte in turn (three ways): the parser may accept (a changed data byte, a
 * space turned into a tab) or refuse, but a refusal must carry a code and a message, and
 * nothing may read out of bounds (ASan). Acceptance implies the size check passed. */
static void test_byte_flips(const char *file, int min_refused)
{
    size_t len;
    unsigned char *img = read_all(file, &len);
    static const unsigned char masks[] = { 0xff, 0x01, 0x80 };
    int bad = 0, refused = 0;
    for (size_t i = 0; i < len; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            unsigned char *b = xmalloc(len);
            memcpy(b, img, len);
            b[i] ^= masks[m];
            QsError err = { 0 };
            Tensor *t = npy_parse(b, len, "flip", &err);
            if (!t) {
                refused++;
                if (err.code == QS_OK || strncmp(err.msg, "flip: ", 6) != 0)
                    bad++;
            }
            tensor_free(t);
            free(b);
        }
    CHECK(bad == 0);
    /* Most header bytes matter: a flip there must be refused. */
    if (!CHECK(refused >= min_refused))
        fprintf(stderr, "  %s: only %d flips refused\n", file, refused);
    free(img);
}

int main(void)
{
    char tmpdir[] = "/tmp/qs_test_npy_XXXXXX";
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_numpy_fixtures();
    test_round_trips(tmpdir);
    test_header_syntax();
    test_truncations(FIX "f4.npy", 128);
    test_truncations(FIX "i8.npy", 128);
    test_truncations(FIX "v2.npy", 128);
    test_truncations(FIX "scalar.npy", 128);
    test_byte_flips(FIX "f4.npy", 150);
    test_byte_flips(FIX "i4.npy", 150);
    rmdir(tmpdir);
    return test_summary("test_npy");
}
