/* How the commands that decide something read their split and their thresholds
 * (docs/plans.md, "Which split decides").
 *
 * Decisions -- QAT's kept epoch and early stopping, train's best epoch, fallback's pins,
 * the sensitivity ranking, bias correction, pick's winner -- are made on a validation
 * split: `calib` unless the command is given another (split= or val=). The test split
 * `eval` decides only when named, and then the result carries a warning: its figures are
 * no longer held out. Every such result names the split that decided (`decided_on`) and
 * the one its headline figures were scored on (`scored_on`: eval when it is labelled and
 * did not decide, else the deciding split).
 *
 * Thresholds on a drop are fractions of the metric: 0.01 and 1% are the same value. */
#ifndef QS_DECIDE_H
#define QS_DECIDE_H

#include <stdbool.h>

#include "cmds/app.h"
#include "text/args.h"
#include "text/result.h"

typedef struct Decision {
    int split;      /* SplitId that decides */
    int scored;     /* SplitId the outcome is scored on */
} Decision;

/* Split id holds samples (and labels when `labels`). */
bool decide_split_usable(const Session *s, int id, bool labels);

/* The deciding split of command `cmd` from option `key` (default calib). It must hold
 * samples, and labels when `labels` is set; the messages say how to register one.
 * d->scored is eval when eval is usable (labelled when `labels`) and not deciding, else
 * the deciding split. */
QsStatus decide_split(const Session *s, const CmdArgs *a, const char *key, const char *cmd,
                      bool labels, Decision *d, QsError *err);

/* `decided_on` and `scored_on` (split names), and `warning` when eval decided. */
void decide_fields(const Decision *d, Result *r);
/* The same for a split id, or none (< 0: "none"), with scored = decided. */
void decide_fields_split(int split, Result *r);

/* A number as strtod reads it (inf included) with an optional '%' after it (then divided
 * by 100): "0.01", "1%". */
bool parse_number_pct(const char *s, double *out);
/* A drop threshold (a fraction of the metric): "0.01" or "1%"; negative, malformed or
 * non-finite values fail with "KEY=S: ...". */
QsStatus parse_fraction(const char *key, const char *s, double *out, QsError *err);

#endif
