/* The small per-layer figures: an activation histogram and per-channel weight ranges. */
#include <math.h>
#include <stdio.h>

#include "kern/fmath.h"
#include "html/svg_charts.h"
#include "html/svg_draw.h"

enum {
    SH_W = 340, SH_H = 150,        /* the figure */
    SH_L = 8, SH_R = 8, SH_T = 8,  /* margins */
    SH_B = 30,                     /* the axis labels */
    CR_L = 46,                     /* the channel figure's left margin: its value labels */
};

static double x_of(double v, double xlo, double xhi)
{
    return SH_L + (v - xlo) / (xhi - xlo) * (SH_W - SH_L - SH_R);
}

static double y_of(double v, double ylo, double yhi)
{
    return SH_T + (yhi - v) / (yhi - ylo) * (SH_H - SH_B - SH_T);
}

static void axis_label(StrBuf *b, double x, double y, const char *anchor, double v)
{
    char num[32];
    svg_num(num, sizeof num, v);
    svg_text(b, NULL, x, y, anchor, num);
}

void svg_histogram(StrBuf *b, const char *label, const double *mass, int n, double xlo,
                   double xhi, double clip_lo, double clip_hi)
{
    const double base = SH_H - SH_B, plot_h = base - SH_T;
    svg_begin(b, NULL, "hist", SH_W, SH_H, label);
    double cl = x_of(fmax(clip_lo, xlo), xlo, xhi), ch = x_of(fmin(clip_hi, xhi), xlo, xhi);
    char clip[96], a[32], c[32];
    svg_num(a, sizeof a, clip_lo);
    svg_num(c, sizeof c, clip_hi);
    snprintf(clip, sizeof clip, "clipping range [%s, %s]", a, c);
    svg_rect(b, "clip", cl, SH_T, ch - cl, plot_h, clip);
    double top = 0;
    for (int i = 0; i < n; i++)
        top = fmax(top, fm_log1p(mass[i]));
    double cw = (double)(SH_W - SH_L - SH_R) / n;
    for (int i = 0; i < n; i++) {
        if (!(mass[i] > 0) || !(top > 0))
            continue;
        double h = fm_log1p(mass[i]) / top * plot_h;
        char title[48];
        snprintf(title, sizeof title, "%.0f values", mass[i]);
        svg_rect(b, "col", SH_L + i * cw, base - h, cw, h, title);
    }
    if (xlo < 0 && xhi > 0)
        svg_line(b, "zero", x_of(0, xlo, xhi), SH_T, x_of(0, xlo, xhi), base);
    svg_line(b, "axis", SH_L, base, SH_W - SH_R, base);
    axis_label(b, SH_L, base + 13, "start", xlo);
    axis_label(b, SH_W - SH_R, base + 13, "end", xhi);
    svg_text(b, NULL, SH_W / 2.0, base + 26, "middle", clip);
    svg_end(b);
}

void svg_channel_ranges(StrBuf *b, const char *label, const double *lo, const double *hi,
                        int n, int widest)
{
    const double base = SH_H - SH_B;
    double ylo = 0, yhi = 0;
    for (int i = 0; i < n; i++) {
        if (isfinite(lo[i]) && isfinite(hi[i])) {
            ylo = fmin(ylo, lo[i]);
            yhi = fmax(yhi, hi[i]);
        }
    }
    if (!(yhi > ylo))
        yhi = ylo + 1;
    double cw = (double)(SH_W - CR_L - SH_R) / (n > 0 ? n : 1);
    svg_begin(b, NULL, "channels", SH_W, SH_H, label);
    for (int i = 0; i < n; i++) {
        if (!isfinite(lo[i]) || !isfinite(hi[i]))
            continue;
        char title[96], a[32], c[32];
        svg_num(a, sizeof a, lo[i]);
        svg_num(c, sizeof c, hi[i]);
        snprintf(title, sizeof title, "channel %d: [%s, %s]", i, a, c);
        double y0 = y_of(hi[i], ylo, yhi), y1 = y_of(lo[i], ylo, yhi);
        svg_rect(b, i == widest ? "range widest" : "range", CR_L + i * cw + cw * 0.15, y0,
                 cw * 0.7, fmax(y1 - y0, 0.5), title);
    }
    svg_line(b, "zero", CR_L, y_of(0, ylo, yhi), SH_W - SH_R, y_of(0, ylo, yhi));
    axis_label(b, CR_L - 4, SH_T + 8, "end", yhi);
    axis_label(b, CR_L - 4, base, "end", ylo);
    if (ylo < 0 && yhi > 0)
        axis_label(b, CR_L - 4, y_of(0, ylo, yhi) + 4, "end", 0);
    svg_line(b, "axis", CR_L, base, SH_W - SH_R, base);
    svg_line(b, "axis", CR_L, SH_T, CR_L, base);
    char chans[64];
    snprintf(chans, sizeof chans, "channels 0 to %d", n - 1);
    svg_text(b, NULL, (CR_L + SH_W - SH_R) / 2.0, base + 14, "middle", chans);
    svg_end(b);
}
