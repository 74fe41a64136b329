/* The validation discipline and drop thresholds (decide.h). */
#include "cmds/decide.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool decide_split_usable(const Session *s, int id, bool labels)
{
    return id >= 0 && id < SPLIT_COUNT && s->splits[id].n_x && (!labels || s->splits[id].y);
}

QsStatus decide_split(const Session *s, const CmdArgs *a, const char *key, const char *cmd,
                      bool labels, Decision *d, QsError *err)
{
    const char *given = arg_str(a, key, NULL);
    const char *want = given ? given : split_name(SPLIT_CALIB);
    int id = split_find(want);
    if (id < 0)
        return qs_fail(err, QS_EINVAL, "%s: %s=%s is not a split (calib, eval, train)", cmd, key,
                       want);
    if (!decide_split_usable(s, id, labels)) {
        if (!given)
            return qs_fail(err, QS_EINVAL, "%s: decides on a validation split, by default "
                           "calib, which is %s; register one ('data calib X%s') or name one "
                           "with %s=... (%s=eval works, with a warning: eval is the test split)",
                           cmd, s->splits[id].n_x ? "unlabelled" : "empty",
                           labels ? " Y" : "", key, key);
        return qs_fail(err, QS_EINVAL, "%s: %s=%s: that split is %s", cmd, key, want,
                       s->splits[id].n_x ? "unlabelled" : "empty");
    }
    d->split = id;
    d->scored = id != SPLIT_EVAL && decide_split_usable(s, SPLIT_EVAL, labels) ? SPLIT_EVAL : id;
    return QS_OK;
}

void decide_fields(const Decision *d, Result *r)
{
    result_str(r, "decided_on", split_name((SplitId)d->split));
    result_str(r, "scored_on", split_name((SplitId)d->scored));
    if (d->split == SPLIT_EVAL)
        result_str(r, "warning", "decided on eval, the test split: its figures are no longer "
                                 "a held-out estimate (decide on calib or another split)");
}

void decide_fields_split(int split, Result *r)
{
    if (split < 0) {
        result_str(r, "decided_on", "none");
        result_str(r, "scored_on", "none");
        return;
    }
    Decision d = { .split = split, .scored = split };
    decide_fields(&d, r);
}

bool parse_number_pct(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE)
        return false;
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (*end)
        return false;
    *out = v;
    return true;
}

QsStatus parse_fraction(const char *key, const char *s, double *out, QsError *err)
{
    double v;
    if (!parse_number_pct(s, &v) || !isfinite(v))
        return qs_fail(err, QS_EINVAL, "%s=%s: expected a fraction of the metric, e.g. 0.01 "
                       "or 1%%", key, s);
    if (v < 0)
        return qs_fail(err, QS_EINVAL, "%s=%s: a drop threshold must not be negative (0.01 "
                       "or 1%% allows one point of accuracy)", key, s);
    *out = v;
    return QS_OK;
}
