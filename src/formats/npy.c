/* PLACEHOLDER: replaced by the real implementation. */
#include "npy.h"
Tensor *npy_parse(const void *buf, size_t len, const char *what, QsError *err) { (void)buf; (void)len; qs_fail(err, QS_EUNSUPPORTED, "%s: npy not implemented yet", what); return NULL; }
Tensor *npy_load(const char *path, QsError *err) { return npy_parse(NULL, 0, path, err); }
QsStatus npy_serialize(const Tensor *t, void **out, size_t *out_len, QsError *err) { (void)t; (void)out; (void)out_len; return qs_fail(err, QS_EUNSUPPORTED, "npy not implemented yet"); }
QsStatus npy_save(const char *path, const Tensor *t, QsError *err) { (void)t; return qs_fail(err, QS_EUNSUPPORTED, "%s: npy not implemented yet", path); }
