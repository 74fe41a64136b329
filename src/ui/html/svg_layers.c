/* The per-layer figure: one row per layer, two bars (local and accumulated error). */
#include <math.h>
#include <stdio.h>

#include "kern/fmath.h"
#include "html/html_page.h"
#include "html/svg_charts.h"
#include "html/svg_draw.h"

enum {
    LB_W = 720,       /* the figure's width */
    LB_NAME = 190,    /* the name column */
    LB_VALUE = 70,    /* the value text after the longest bar */
    LB_BAR = 10,      /* one bar's height */
    LB_ROW = 2 * LB_BAR + 6,
    LB_TOP = 26,      /* the legend */
    LB_AXIS = 24,     /* the axis below the rows */
    LB_NAME_CHARS = 28,
};

/* The largest power of ten <= m (m > 0, finite), from fmath so the page's axis is the same
 * everywhere: log10 may round to either side of an integer, so the exponent is checked. */
static double decade_below(double m)
{
    int e = (int)floor(fm_log10(m));
    if (fm_powi(10.0, e) > m)
        e--;
    else if (fm_powi(10.0, e + 1) <= m)
        e++;
    return fm_powi(10.0, e);
}

/* The axis' step, 1, 2 or 5 times a power of ten (5 dB for SQNRs up to 50 dB), and its
 * top: the largest finite value rounded up to a step, at least one step. */
static void axis_scale(const SvgLayerRow *rows, int n, double *top, double *step)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            if (isfinite(rows[i].v[k]) && rows[i].v[k] > m)
                m = rows[i].v[k];
    double s = m > 0 ? decade_below(m) : 1.0;
    if (m / s < 2)
        s /= 5;
    else if (m / s < 5)
        s /= 2;
    *step = s;
    *top = fmax(ceil(m / s), 1.0) * s;
}

static void value_text(char *buf, size_t cap, double v, const char *unit)
{
    if (isnan(v))
        snprintf(buf, cap, "none");
    else if (isinf(v))
        snprintf(buf, cap, v > 0 ? "exact" : "-inf %s", unit);
    else
        snprintf(buf, cap, "%.2f %s", v, unit);
}

static void legend(StrBuf *b, const char *const cls[2], const char *const label[2])
{
    for (int k = 0; k < 2; k++) {
        double x = LB_NAME + k * 200.0;
        char c[64];
        snprintf(c, sizeof c, "key %s", cls[k]);
        svg_rect(b, c, x, 8, 14, 10, NULL);
        svg_text(b, NULL, x + 20, 17, "start", label[k]);
    }
}

static void layer_row(StrBuf *b, const SvgLayerRow *row, int i, double y, double scale,
                      double top, const char *const cls[2], const char *const label[2],
                      const char *unit, bool worst)
{
    char v0[48], v1[48], title[64 + 2 * sizeof v0];
    value_text(v0, sizeof v0, row->v[0], unit);
    value_text(v1, sizeof v1, row->v[1], unit);
    strbuf_printf(b, "<g class=\"layer%s\" data-layer=\"", worst ? " worst" : "");
    html_escape(b, row->name);
    strbuf_printf(b, "\" data-index=\"%d\">\n<title>", i);
    html_escape(b, row->name);
    snprintf(title, sizeof title, ": %s %s, %s %s", label[0], v0, label[1], v1);
    html_escape(b, title);
    strbuf_printf(b, "</title>\n");
    char name[4 * LB_NAME_CHARS + 8];
    svg_tail(name, sizeof name, row->name, LB_NAME_CHARS);
    if (worst)
        strbuf_printf(b, "<g font-weight=\"bold\">\n");
    svg_text(b, NULL, LB_NAME - 6, y + LB_BAR + 4, "end", name);
    for (int k = 0; k < 2; k++) {
        double v = row->v[k];
        double w = isnan(v) || v <= 0 ? 0 : isinf(v) ? top * scale : fmin(v, top) * scale;
        char c[64];
        snprintf(c, sizeof c, "bar %s%s", cls[k], isnan(v) ? " none" : "");
        double by = y + k * LB_BAR;
        svg_rect(b, c, LB_NAME, by, w, LB_BAR - 1, NULL);
        if (!isnan(v)) /* no label on an empty bar: the caption says what it means */
            svg_text(b, "val", LB_NAME + w + 4, by + LB_BAR - 1, "start", k ? v1 : v0);
    }
    if (worst)
        strbuf_printf(b, "</g>\n");
    strbuf_printf(b, "</g>\n");
}

void svg_layer_bars(StrBuf *b, const char *id, const char *const cls[2],
                    const char *const label[2], const char *unit, const SvgLayerRow *rows,
                    int n, int worst)
{
    double top, step;
    axis_scale(rows, n, &top, &step);
    double plot = LB_W - LB_NAME - LB_VALUE, scale = plot / top;
    int h = LB_TOP + n * LB_ROW + LB_AXIS;
    char what[160];
    snprintf(what, sizeof what, "%s and %s per layer (%s), one row per layer", label[0],
             label[1], unit);
    svg_begin(b, id, "layers", LB_W, h, what);
    legend(b, cls, label);
    double y_axis = LB_TOP + n * LB_ROW;
    for (double t = 0; t <= top + step / 2; t += step) {
        double x = LB_NAME + t * scale;
        char num[32];
        svg_num(num, sizeof num, t);
        svg_line(b, "grid", x, LB_TOP - 2, x, y_axis);
        svg_text(b, NULL, x, y_axis + 14, "middle", num);
    }
    svg_line(b, "axis", LB_NAME, LB_TOP - 2, LB_NAME, y_axis);
    svg_line(b, "axis", LB_NAME, y_axis, LB_NAME + plot, y_axis);
    for (int i = 0; i < n; i++)
        layer_row(b, &rows[i], i, LB_TOP + i * LB_ROW, scale, top, cls, label, unit,
                  i == worst);
    svg_end(b);
}
