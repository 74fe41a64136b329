/* The calibration in a session file: every value's activation statistics, exactly. */
#include "native/sessionfile_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/observer.h"

/* Integers in JSON are doubles: counts stay below 2^53 to be exact. */
#define SF_MAX_COUNT 9007199254740992.0

void sessionfile_split_member(const char *split, const char *part, int k, char *buf,
                              size_t cap)
{
    if (k >= 0)
        snprintf(buf, cap, "%s_%s%d", split, part, k);
    else
        snprintf(buf, cap, "%s_%s", split, part);
}

static void add_double(cJSON *o, const char *key, double v)
{
    if (!isfinite(v)) /* the initial +-Inf of min and max: the reader's default */
        return;
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    cJSON_AddItemToObject(o, key, cJSON_CreateRaw(buf));
}

static cJSON *count_item(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

static void add_count(cJSON *o, const char *key, int64_t v)
{
    cJSON_AddItemToObject(o, key, count_item(v));
}

static cJSON *stats_json(const ActStats *s)
{
    cJSON *o = cJSON_CreateObject();
    add_double(o, "min", s->min);
    add_double(o, "max", s->max);
    add_double(o, "ma_min", s->ma_min);
    add_double(o, "ma_max", s->ma_max);
    add_count(o, "batches", s->batches);
    add_count(o, "count", s->count);
    add_count(o, "nonfinite", s->nonfinite);
    add_double(o, "fp16_overflow", s->fp16_overflow);
    add_double(o, "hist_range", s->hist.range);
    add_count(o, "hist_total", s->hist.total);
    /* the histogram as [bin, count] pairs of its non-empty bins */
    cJSON *bins = cJSON_AddArrayToObject(o, "hist_bins");
    for (int i = 0; i < HIST_BINS; i++)
        if (s->hist.bins[i]) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, count_item(i));
            cJSON_AddItemToArray(pair, count_item(s->hist.bins[i]));
            cJSON_AddItemToArray(bins, pair);
        }
    return o;
}

cJSON *sessionfile_calib_json(const Graph *g, const Calibration *c)
{
    cJSON *o = cJSON_CreateObject();
    add_count(o, "samples", c->samples);
    add_double(o, "ma_momentum", c->ma_momentum);
    cJSON *vals = cJSON_AddObjectToObject(o, "values");
    for (int k = 0; k < c->n_values && k < g->n_values; k++)
        if (c->stats[k].batches || c->stats[k].count)
            cJSON_AddItemToObject(vals, g->values[k].name, stats_json(&c->stats[k]));
    return o;
}

/* A finite number under key into *v; absent keeps *v. False when present and not one. */
static bool get_double(const cJSON *o, const char *key, double *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j)
        return true;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
        return false;
    *v = j->valuedouble;
    return true;
}

static bool is_count(const cJSON *j, double hi)
{
    return cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble <= hi &&
           j->valuedouble == floor(j->valuedouble);
}

/* A count under key (required). */
static bool get_count(const cJSON *o, const char *key, int64_t *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!is_count(j, SF_MAX_COUNT))
        return false;
    *v = (int64_t)j->valuedouble;
    return true;
}

/* What act_stats_observe guarantees and the observers rely on: the histogram holds every
 * finite value over a power-of-two range (as hist_cover makes it), and min <= max and their
 * moving averages are finite exactly when finite values were seen (the averages are not
 * checked for order: rounding may put them an ulp apart either way). */
static bool stats_consistent(const ActStats *s)
{
    if (s->nonfinite > s->count || s->hist.total != s->count - s->nonfinite ||
        !(s->fp16_overflow >= 0 && s->fp16_overflow <= (double)s->count))
        return false;
    bool seen = s->hist.total > 0;
    if (!seen)
        return s->hist.range == 0 && isinf(s->min) && isinf(s->max) && isinf(s->ma_min) &&
               isinf(s->ma_max);
    int e;
    return frexp(s->hist.range, &e) == 0.5 && e >= -200 && e <= 200 && isfinite(s->min) &&
           isfinite(s->max) && isfinite(s->ma_min) && isfinite(s->ma_max) && s->min <= s->max;
}

static QsStatus stats_from_json(const cJSON *o, const char *where, ActStats *s, QsError *err)
{
    act_stats_init(s);
    const cJSON *bins = cJSON_GetObjectItemCaseSensitive(o, "hist_bins");
    if (!cJSON_IsObject(o) || !get_double(o, "min", &s->min) || !get_double(o, "max", &s->max) ||
        !get_double(o, "ma_min", &s->ma_min) || !get_double(o, "ma_max", &s->ma_max) ||
        !get_count(o, "batches", &s->batches) || !get_count(o, "count", &s->count) ||
        !get_count(o, "nonfinite", &s->nonfinite) ||
        !get_double(o, "fp16_overflow", &s->fp16_overflow) ||
        !get_double(o, "hist_range", &s->hist.range) ||
        !get_count(o, "hist_total", &s->hist.total) || !cJSON_IsArray(bins))
        return qs_fail(err, QS_EFORMAT, "%s: statistics need finite numbers and the counts "
                       "batches, count, nonfinite, hist_total and the array hist_bins", where);
    if (!stats_consistent(s))
        return qs_fail(err, QS_EFORMAT, "%s: inconsistent statistics (min above max, bounds "
                       "without finite values or finite values without bounds, or a histogram "
                       "that does not hold every finite value over a power-of-two range)",
                       where);
    int64_t sum = 0;
    int last = -1;
    for (const cJSON *p = bins->child; p; p = p->next) {
        const cJSON *i = cJSON_GetArrayItem(p, 0), *c = cJSON_GetArrayItem(p, 1);
        if (cJSON_GetArraySize(p) != 2 || !is_count(i, HIST_BINS - 1) ||
            !is_count(c, SF_MAX_COUNT) || (int)i->valuedouble <= last)
            return qs_fail(err, QS_EFORMAT, "%s: hist_bins holds [bin, count] pairs with "
                           "bins rising from 0 to %d", where, HIST_BINS - 1);
        last = (int)i->valuedouble;
        s->hist.bins[last] = (int64_t)c->valuedouble;
        if (__builtin_add_overflow(sum, s->hist.bins[last], &sum) || sum > s->hist.total)
            break;
    }
    if (sum != s->hist.total)
        return qs_fail(err, QS_EFORMAT, "%s: the histogram's bins do not add up to hist_total",
                       where);
    return QS_OK;
}

QsStatus sessionfile_calib_from_json(const cJSON *o, const char *where, const Graph *g,
                                     Calibration *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(o, "values");
    int64_t samples;
    double mom = 0;
    if (!cJSON_IsObject(o) || !cJSON_IsObject(vals) || !get_count(o, "samples", &samples) ||
        !get_double(o, "ma_momentum", &mom))
        return qs_fail(err, QS_EFORMAT, "%s: a calibration needs samples, ma_momentum and "
                       "the object values", where);
    Calibration c = { .n_values = g->n_values, .samples = samples, .ma_momentum = mom };
    c.stats = xmalloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *c.stats);
    bool *seen = xcalloc((size_t)(g->n_values ? g->n_values : 1), sizeof *seen);
    for (int k = 0; k < g->n_values; k++)
        act_stats_init(&c.stats[k]);
    QsStatus st = QS_OK;
    for (const cJSON *it = vals->child; it && !st; it = it->next) {
        int v = graph_find_value(g, it->string);
        char w[320];
        snprintf(w, sizeof w, "%s: value '%.200s'", where, it->string);
        if (v < 0 || seen[v])
            st = qs_fail(err, QS_EFORMAT, "%s names no value of the model, or twice", w);
        else
            st = stats_from_json(it, w, &c.stats[v], err);
        if (v >= 0)
            seen[v] = true;
    }
    free(seen);
    if (st) {
        calib_release(&c);
        return st;
    }
    *out = c;
    return QS_OK;
}
