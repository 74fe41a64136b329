#include "cmds/optkind.h"

#include <stdio.h>
#include <string.h>

#include "cmds/commands.h"
#include "cmds/options.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "eval/metrics.h"
#include "kern/sgemm.h"
#include "qat/qat.h"
#include "qat/qat_graph.h"
#include "quant/observer.h"
#include "quant/target.h"
#include "quant/plan.h"
#include "text/render.h"
#include "text/strbuf.h"
#include "train/loss.h"
#include "train/optim.h"

/* ---- choices from the core tables ---- */

const char *choice_precision(int i)
{
    return i >= 0 && i < PREC_COUNT ? precision_table[i].name : NULL;
}

/* Float precisions (no integer weights) lead the table, so the list ends at the first
 * integer row. */
const char *choice_float_precision(int i)
{
    return i >= 0 && i < PREC_COUNT && !precision_is_integer((PrecKind)i)
               ? precision_table[i].name
               : NULL;
}

const char *choice_precision_or_auto(int i)
{
    /* "auto" is the entry right after the last precision */
    const char *name = choice_precision(i);
    return name ? name : i > 0 && choice_precision(i - 1) ? "auto" : NULL;
}

const char *choice_observer(int i)
{
    return i >= 0 && i < OBS_COUNT ? observer_table[i].name : NULL;
}

const char *choice_target(int i)
{
    return i >= 0 && i < QTGT_COUNT ? target_table[i].name : NULL;
}

const char *choice_wgran(int i)
{
    return i >= 0 && i < 2 ? quant_wgran_names[i] : NULL;
}

const char *choice_wgran_or_auto(int i)
{
    return i == 2 ? "auto" : choice_wgran(i);
}

const char *choice_task(int i)
{
    return i >= 0 && i < TASK_COUNT ? task_table[i].name : NULL;
}

const char *choice_task_or_auto(int i)
{
    return i == 0 ? "auto" : choice_task(i - 1);
}

const char *choice_optim(int i)
{
    return i >= 0 && i < OPTIM_COUNT ? optim_table[i].name : NULL;
}

const char *choice_schedule(int i)
{
    return i >= 0 && i < SCHED_COUNT ? optim_sched_table[i].name : NULL;
}

const char *choice_loss(int i)
{
    return i >= 0 && i < LOSS_COUNT ? loss_table[i].short_name : NULL;
}

const char *choice_distill(int i)
{
    return i >= 0 && i < QAT_DISTILL_COUNT ? qat_distill_names[i] : NULL;
}

const char *choice_qat_scales(int i)
{
    return i >= 0 && i < QAT_SCALES_COUNT ? qat_scales_names[i] : NULL;
}

const char *choice_split(int i)
{
    return i >= 0 && i < SPLIT_COUNT ? split_name((SplitId)i) : NULL;
}

const char *choice_split_or_none(int i)
{
    return i == SPLIT_COUNT ? "none" : choice_split(i);
}

const char *choice_synth_source(int i)
{
    const char *gen = NULL;
    for (int k = 0; k <= i && (gen = synth_table[k].name); k++)
        ;
    if (!gen)
        return NULL;
    static _Thread_local char buf[64];
    snprintf(buf, sizeof buf, "synth:%s", gen);
    return buf;
}

const char *choice_blas(int i)
{
    return i >= 0 && i < SGEMM_BACKEND_COUNT ? sgemm_backend_name((SgemmBackend)i) : NULL;
}

/* ---- words of the command language ---- */

static const char *word(const char *const *words, int n, int i)
{
    return i >= 0 && i < n ? words[i] : NULL;
}

const char *choice_output(int i)
{
    static const char *const w[] = { [RENDER_TEXT] = "text", [RENDER_JSON] = "json" };
    return word(w, 2, i);
}

const char *choice_hist_what(int i)
{
    static const char *const w[] = { "act", "weights" };
    return word(w, 2, i);
}

const char *choice_tflite_io(int i)
{
    static const char *const w[] = { "float", "int8", "uint8" }; /* TflIo order */
    return word(w, 3, i);
}

const char *choice_error_kind(int i)
{
    static const char *const w[] = { "accum", "local" };
    return word(w, 2, i);
}

const char *choice_variant_verb(int i)
{
    static const char *const w[] = { "save", "use", "drop", "list", "import" };
    return word(w, 5, i);
}

const char *choice_session_verb(int i)
{
    static const char *const w[] = { "new", "save", "load" };
    return word(w, 3, i);
}

const char *choice_taps_verb(int i)
{
    static const char *const w[] = { "save", "compare" };
    return word(w, 2, i);
}

const char *choice_fold_what(int i)
{
    return i == 0 ? "scales" : NULL;
}

/* What completion offers for a yes/no option (any word arg_bool reads is accepted). */
static const char *choice_bool(int i)
{
    static const char *const w[] = { "0", "1" };
    return word(w, 2, i);
}

/* ---- checking and describing ---- */

/* At most this many names per choice: the tables are far smaller. */
#define MAX_CHOICES 64

QsStatus parse_choice_of(const char *key, const char *s, OptChoices choices, int *out,
                         QsError *err)
{
    char names[MAX_CHOICES][64];
    const char *list[MAX_CHOICES + 1];
    int n = 0;
    const char *name;
    while (n < MAX_CHOICES && (name = choices(n))) {
        snprintf(names[n], sizeof names[n], "%s", name); /* a name may live in a buffer */
        list[n] = names[n];
        n++;
    }
    list[n] = NULL;
    return parse_choice(key, s, list, out, err);
}

QsStatus arg_choice_of(const CmdArgs *a, const char *key, OptChoices choices, int def,
                       int *out, QsError *err)
{
    const char *s = arg_str(a, key, NULL);
    if (!s) {
        *out = def;
        return QS_OK;
    }
    return parse_choice_of(key, s, choices, out, err);
}

OptChoices optkind_choices(OptKind kind, OptChoices choices)
{
    switch (kind) {
    case OPT_CHOICE:
    case OPT_LIST:
    case OPT_FILE:
        return choices;
    case OPT_BOOL:
        return choice_bool;
    case OPT_SPLIT:
        return choice_split;
    case OPT_COMMAND:
        return choice_command;
    case OPT_SETTING:
        return choice_setting;
    default:
        return NULL;
    }
}

QsStatus optkind_check(const char *key, const char *value, OptKind kind, OptChoices choices,
                       QsError *err)
{
    long l;
    double d;
    int k;
    bool b;
    switch (kind) {
    case OPT_INT:
        return parse_long(key, value, &l, err);
    case OPT_FLOAT:
        return parse_double(key, value, &d, err);
    case OPT_BOOL:
        return parse_bool(key, value, &b, err);
    case OPT_CHOICE:
    case OPT_SPLIT:
        return parse_choice_of(key, value, optkind_choices(kind, choices), &k, err);
    default:
        return QS_OK;
    }
}

void optkind_describe(StrBuf *out, OptKind kind, OptChoices choices)
{
    static const char *const plain[] = {
        [OPT_TEXT] = "text",   [OPT_INT] = "integer",   [OPT_FLOAT] = "number",
        [OPT_BOOL] = "0 or 1", [OPT_FILE] = "file",     [OPT_LAYER] = "layer",
        [OPT_VARIANT] = "variant", [OPT_COMMAND] = "command", [OPT_SETTING] = "option",
    };
    OptChoices names = kind == OPT_BOOL ? NULL : optkind_choices(kind, choices);
    if (!names || kind == OPT_COMMAND || kind == OPT_SETTING) {
        strbuf_printf(out, "%s", plain[kind] ? plain[kind] : "text");
        return;
    }
    strbuf_printf(out, "%s", kind == OPT_LIST ? "list of " : kind == OPT_FILE ? "file or " : "");
    const char *name;
    for (int i = 0; i < MAX_CHOICES && (name = names(i)); i++)
        strbuf_printf(out, "%s%s", i ? ", " : "", name);
}
