/* What an option's value is, and the names a choice takes. Each row of the command table
 * (commands.h) and of the settings (options.h) gives its options a kind: cmd_exec checks
 * every value by it once, before the handler runs; `help` and docs/commands.md show it;
 * Tab completion offers values from it. The names of a choice come from the core table
 * that defines them, so a precision, observer, task, optimizer... added there is
 * accepted, listed and completed everywhere at once. */
#ifndef QS_OPTKIND_H
#define QS_OPTKIND_H

#include <stddef.h>

#include "base/error.h"
#include "text/args.h"
#include "text/strbuf.h"

typedef enum {
    OPT_TEXT = 0, /* anything; the handler reads it */
    OPT_INT,      /* an integer (the handler checks its range) */
    OPT_FLOAT,    /* a finite number */
    OPT_BOOL,     /* 0|1|no|yes|off|on|false|true */
    OPT_CHOICE,   /* one of the names `choices` gives */
    OPT_LIST,     /* NAME,..: names `choices` gives, comma-separated (the handler checks) */
    OPT_SPLIT,    /* a data split: calib, eval or train */
    OPT_FILE,     /* a path, or one of the names `choices` gives when set (synth:NAME) */
    OPT_LAYER,    /* a layer of the model, or LAYER,..: the handler checks them */
    OPT_VARIANT,  /* a saved variant: the handler checks it */
    OPT_COMMAND,  /* a command of the table */
    OPT_SETTING,  /* a setting of `set` */
} OptKind;

/* The i-th name a choice takes (0-based), NULL past the last. Stateless (any thread may
 * call it); a returned name stays valid until the next call on the same thread. */
typedef const char *(*OptChoices)(int i);

/* One option (key=value) or positional argument of a command. */
typedef struct CmdOpt {
    const char *name;     /* the key; for a positional argument its placeholder (PATH) */
    OptKind kind;
    OptChoices choices;   /* OPT_CHOICE and OPT_LIST; NULL otherwise */
    const char *help;
} CmdOpt;

/* Appends to out what the kind takes, for `help`, docs and the man page: "integer",
 * "number", "layer", or the names of a choice joined by ", " ("list of " before them for
 * OPT_LIST, "file or " for OPT_FILE with choices). Never truncated. */
void optkind_describe(StrBuf *out, OptKind kind, OptChoices choices);
/* The names a kind offers for completion: a choice's (a file's generators), the splits,
 * the commands, the settings; NULL for kinds whose values come from elsewhere (files,
 * layers, variants) or that have none. */
OptChoices optkind_choices(OptKind kind, OptChoices choices);

/* Checks value against the kind, with the messages of args.h: "key=value: expected an
 * integer", "... a finite number", "... expected one of a|b|c". Text, list, file, layer
 * and variant values pass: their handler knows the model and the session. */
QsStatus optkind_check(const char *key, const char *value, OptKind kind, OptChoices choices,
                       QsError *err);

/* parse_choice and arg_choice (args.h) over the names of choices. */
QsStatus parse_choice_of(const char *key, const char *s, OptChoices choices, int *out,
                         QsError *err);
QsStatus arg_choice_of(const CmdArgs *a, const char *key, OptChoices choices, int def,
                       int *out, QsError *err);

/* Choices read from the core tables; the index of a name is its enum value there. */
const char *choice_precision(int i);         /* precision_table */
const char *choice_float_precision(int i);   /* its float rows: fp32, fp16 */
const char *choice_precision_or_auto(int i); /* precision_table, then "auto" */
const char *choice_observer(int i);          /* observer_table */
const char *choice_target(int i);            /* target_table: qscope, xnnpack, tflm, ort */
const char *choice_wgran(int i);             /* quant_wgran_names: channel, tensor */
const char *choice_wgran_or_auto(int i);     /* channel, tensor, then "auto" (index 2) */
const char *choice_task(int i);              /* task_table */
const char *choice_task_or_auto(int i);      /* "auto", then task_table (index - 1) */
const char *choice_optim(int i);             /* optim_table */
const char *choice_schedule(int i);          /* optim_sched_table */
const char *choice_loss(int i);              /* loss_table's short names: ce, bce, mse */
const char *choice_distill(int i);           /* qat_distill_names */
const char *choice_qat_scales(int i);        /* qat_scales_names */
const char *choice_split(int i);             /* split_name */
const char *choice_split_or_none(int i);     /* the splits, then "none" */
const char *choice_synth_source(int i);      /* synth:NAME per generator of synth_table */
const char *choice_blas(int i);              /* SgemmBackend: qscope, openblas */
/* Words of the command language itself (no core table holds them). */
const char *choice_output(int i);            /* RenderMode: text, json */
const char *choice_hist_what(int i);         /* act, weights */
const char *choice_tflite_io(int i);         /* float, int8, uint8 (TflIo order) */
const char *choice_error_kind(int i);        /* accum, local */
const char *choice_variant_verb(int i);      /* save, use, drop, list, import */
const char *choice_fold_what(int i);         /* scales */
const char *choice_session_verb(int i);      /* new, save, load */
const char *choice_taps_verb(int i);         /* save, compare */

#endif
