/* Session files: `session save FILE` and `qscope --resume FILE`. A session file is a
 * NumPy .npz archive (formats/arrays/npz.h) of
 *   session        the JSON description (u8 bytes): model path, options, which splits
 *                  there are, the plan, the calibration's full activation statistics,
 *                  the bias correction, the variants
 *   model          the session's model as a .qsm image (u8 bytes; weights as they are now,
 *                  trained or not)
 *   active_model   the weights `variant use` made active (a QAT variant's), when any
 *   variantN_model a variant's own weights (QAT), N its index in "variants"
 *   SPLIT_xK, SPLIT_y, SPLIT_aux   the data splits themselves (f32 inputs, labels, extras)
 * so that a resumed session computes what the saved one did bit for bit. Layout, rules and
 * limits: docs/formats.md ("Session files"). */
#ifndef QS_SESSIONFILE_H
#define QS_SESSIONFILE_H

#include "base/error.h"
#include "session/session.h"

/* Writes s (a model must be loaded) to path.tmp, then renames it over path. */
QsStatus sessionfile_save(const char *path, const Session *s, QsError *err);

/* Reads path into *out (initialised here; release with session_release, also after a
 * failure). The file is hostile: the archive, the .qsm images and the JSON are checked
 * (regular files only, memory budgets, UTF-8 names, every count, index, shape and number)
 * before they are used. */
QsStatus sessionfile_load(const char *path, Session *out, QsError *err);

#endif
