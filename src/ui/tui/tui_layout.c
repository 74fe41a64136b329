#include "tui/tui_layout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "quant/plan.h"
#include "tui/tui_keys.h"

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void tui_layout_compute(TuiLayout *l, int w, int h, int caption_rows, int zoom)
{
    memset(l, 0, sizeof *l);
    l->w = w;
    l->h = h;
    if (w < 50 || h < 14) {
        l->too_small = true;
        return;
    }
    l->status = (TuiRect){ 0, 0, w, 1 };
    l->hints = (TuiRect){ 0, h - 1, w, 1 };
    int avail = h - 2;
    /* the caption whole if the panes keep 3 rows; the console gives rows back (down to 5)
     * before the panes above it go below 14 rows (12 layers) */
    int caption_h = clampi(caption_rows, 0, avail - 5 - 3);
    int console_h = clampi(h / 4, 5, 14);
    int main_h = avail - caption_h - console_h;
    if (main_h < 14) {
        console_h = clampi(console_h - (14 - main_h), 5, 14);
        main_h = avail - caption_h - console_h;
    }
    if (zoom >= 0 && zoom < TUI_PANE_COUNT) {
        l->caption = (TuiRect){ 0, 1, w, caption_h };
        l->pane[zoom] = (TuiRect){ 0, 1 + caption_h, w, avail - caption_h };
        return;
    }
    int left_w = clampi(w / 2, 30, 72);
    int right_w = w - left_w - 1;
    int metrics_h = clampi(main_h * 2 / 5, 4, 10);
    int detail_h = main_h - metrics_h;
    l->pane[TUI_PANE_LAYERS] = (TuiRect){ 0, 1, left_w, main_h };
    l->sep = (TuiRect){ left_w, 1, 1, main_h };
    l->pane[TUI_PANE_DETAIL] = (TuiRect){ left_w + 1, 1, right_w, detail_h };
    l->pane[TUI_PANE_METRICS] = (TuiRect){ left_w + 1, 1 + detail_h, right_w, metrics_h };
    l->caption = (TuiRect){ 0, 1 + main_h, w, caption_h };
    l->pane[TUI_PANE_CONSOLE] = (TuiRect){ 0, 1 + main_h + caption_h, w, console_h };
}

void tui_layout_hist_size(const TuiLayout *l, int *hw, int *hh)
{
    if (l->too_small) {
        *hw = *hh = 0;
        return;
    }
    const TuiRect *d = &l->pane[TUI_PANE_DETAIL];
    /* title, what it is, two lines of numbers; the axis and its labels under the bars */
    *hw = clampi(d->w - 3, 0, 400);
    *hh = clampi(d->h - 6, 0, 100);
}

void tui_layout_duration(double sec, char *buf, int cap)
{
    if (!(sec >= 0))
        sec = 0;
    long s = lround(sec);
    if (s < 60)
        snprintf(buf, (size_t)cap, "%lds", s);
    else if (s < 3600)
        snprintf(buf, (size_t)cap, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, (size_t)cap, "%ldh%02ldm", s / 3600, (s / 60) % 60);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int put_seg(TuiScreen *s, int x, int y, int xmax, const char *text, TuiStyle st)
{
    if (x >= xmax)
        return x;
    return x + tui_screen_put(s, x, y, xmax - x, text, st);
}

static int put_sep(TuiScreen *s, int x, int y, int xmax)
{
    if (x + 3 > xmax)
        return xmax;
    tui_screen_putc(s, x + 1, y, tui_screen_glyph(s, TG_VLINE), TS_STATUS);
    return x + 3;
}

void tui_layout_status(TuiScreen *s, TuiRect r, const TuiState *st)
{
    const TuiSnap *sn = &st->snap;
    int y = r.y;
    tui_screen_fill(s, r, ' ', TS_STATUS);
    /* the job, right-aligned */
    int job_w = 0;
    if (st->job.running) {
        char what[40], left[32] = "", pct[16] = "";
        snprintf(what, sizeof what, "%s%.30s", st->job.automatic ? "auto: " : "", st->job.line);
        job_w = clampi(r.w * 9 / 20, 30, 64);
        int x = r.x + r.w - job_w, xmax = r.x + r.w - 1;
        if (st->job.frac >= 0) {
            snprintf(pct, sizeof pct, "%3d%%", (int)floor(100.0 * st->job.frac + 1e-9));
            if (st->job.frac > 0.01 && st->job.elapsed > 0.3) {
                char d[16];
                double rest = st->job.elapsed * (1 - st->job.frac) / st->job.frac;
                tui_layout_duration(rest, d, sizeof d);
                snprintf(left, sizeof left, " %s left", d);
            }
        } else {
            snprintf(pct, sizeof pct, "...");
        }
        int name_w = r.w >= 100 ? 16 : 12;
        int bar = job_w - name_w - 1 - 5 - (int)strlen(left) - 6;
        if (bar > 20) {
            name_w += bar - 20;
            bar = 20;
        }
        if (bar < 4)
            bar = 4;
        int used = tui_screen_put(s, x, y, name_w, what,
                                  st->job.automatic ? TS_STATUS : TS_STATUS_HI);
        x += used + 1;
        tui_pane_bar(s, x, y, bar, st->job.frac, TS_PROGRESS, TS_STATUS);
        x += bar + 1;
        x = put_seg(s, x, y, xmax, pct, TS_STATUS_HI);
        x = put_seg(s, x, y, xmax, left, TS_STATUS);
        if (!st->job.automatic)
            x = put_seg(s, x, y, xmax, "  Esc", TS_STATUS_HI);
        if (st->job.queued)
            x = put_seg(s, x, y, xmax, "+q", TS_STATUS);
        (void)x;
    }
    int x = r.x + 1, xmax = r.x + r.w - job_w - 1;
    if (r.w >= 100) {
        x = put_seg(s, x, y, xmax, "qscope", TS_STATUS_HI);
        x = put_sep(s, x, y, xmax);
    }
    if (!sn->model) {
        put_seg(s, x, y, xmax, "no model loaded", TS_STATUS);
        return;
    }
    x = put_seg(s, x, y, xmax, base_name(sn->model_path), TS_STATUS);
    x = put_sep(s, x, y, xmax);
    x = put_seg(s, x, y, xmax, sn->plan_label, TS_STATUS_HI);
    x = put_sep(s, x, y, xmax);
    double m, ref;
    RvStyle ms, rs;
    const char *name, *rname;
    char buf[96];
    if (tui_state_metric(st, sn->key, &m, &ms, &name)) {
        RValue v = { .type = RV_FLOAT, .f = m, .style = ms };
        char val[32];
        tui_pane_fmt_value(&v, val, sizeof val);
        snprintf(buf, sizeof buf, "%s %s", name, val);
        x = put_seg(s, x, y, xmax, buf, TS_STATUS_HI);
        if (tui_state_metric(st, sn->fp32_key, &ref, &rs, &rname) &&
            strcmp(sn->key, sn->fp32_key) != 0) {
            RValue d = { .type = RV_FLOAT, .f = ref - m, .style = ms };
            tui_pane_fmt_value(&d, val, sizeof val);
            snprintf(buf, sizeof buf, "  drop %s", val);
            x = put_seg(s, x, y, xmax, buf, TS_STATUS);
        }
    } else {
        bool pending = (st->pending_eval[0] && !strcmp(st->pending_eval, sn->key)) ||
                       (st->pending_compare[0] && !strcmp(st->pending_compare, sn->base_key));
        x = put_seg(s, x, y, xmax, pending ? "metric …" : "metric -", TS_STATUS);
    }
    x = put_sep(s, x, y, xmax);
    bool any = false;
    for (int i = 0; i < 3; i++) {
        if (!sn->split_n[i])
            continue;
        char sb[48];
        snprintf(sb, sizeof sb, "%s%s %lld", any ? " " : "", split_name((SplitId)i),
                 (long long)sn->split_n[i]);
        x = put_seg(s, x, y, xmax, sb, TS_STATUS);
        any = true;
    }
    if (!any)
        x = put_seg(s, x, y, xmax, "no data", TS_STATUS);
    if (sn->calibrated)
        x = put_seg(s, x, y, xmax, " (calibrated)", TS_STATUS);
}

typedef struct Hint {
    const char *key, *what;
} Hint;

static void draw_hint_list(TuiScreen *s, TuiRect r, const Hint *h, int n)
{
    int x = r.x + 1, xmax = r.x + r.w;
    for (int i = 0; i < n; i++) {
        int need = tui_screen_text_width(h[i].key) + 1 + tui_screen_text_width(h[i].what) + 2;
        if (x + need > xmax)
            break;
        x += tui_screen_put(s, x, r.y, xmax - x, h[i].key, TS_KEY) + 1;
        x += tui_screen_put(s, x, r.y, xmax - x, h[i].what, TS_STATUS) + 2;
    }
}

void tui_layout_hints(TuiScreen *s, TuiRect r, const TuiState *st)
{
    static const Hint normal[] = {
        { "?", "help" },  { "1-4", "precision" }, { "j/k", "layer" },  { "Tab", "pane" },
        { "z", "zoom" },  { "f", "pin" },         { "w/a", "view" },   { ":", "command" },
        { "c", "calibrate" }, { "e", "eval" },    { "s", "sensitivity" }, { "m", "compare" },
        { "q", "quit" },
    };
    static const Hint play[] = {
        { "Space", "next step" }, { "Bksp", "back" }, { "Esc", "stop demo" }, { "z", "zoom" },
        { "?", "help" },          { "1-4", "precision" }, { "j/k", "layer" }, { ":", "command" },
        { "q", "quit" },
    };
    static const Hint zoomed[] = {
        { "z/Esc", "back" }, { "j/k PgUp/PgDn", "scroll" }, { ":", "command" }, { "?", "help" },
        { "q", "quit" },
    };
    static const Hint zoomed_play[] = {
        { "Space", "next step" }, { "Bksp", "back" }, { "z/Esc", "back from zoom" },
        { "j/k PgUp/PgDn", "scroll" }, { "?", "help" },
    };
    static const Hint job[] = {
        { "Esc", "cancel job" }, { "?", "help" }, { "j/k", "layer" }, { "Tab", "pane" },
        { "w/a", "view" },       { ":", "queue a command" }, { "q", "quit" },
    };
    static const Hint console[] = {
        { "Enter", "run" },       { "Tab", "complete" }, { "Up/Down", "history" },
        { "PgUp/PgDn", "scroll" }, { "Esc", "leave" },    { "F1", "help" },
    };
    tui_screen_fill(s, r, ' ', TS_STATUS);
    if (st->focus == TUI_PANE_CONSOLE)
        draw_hint_list(s, r, console, sizeof console / sizeof console[0]);
    else if (st->job.running && !st->job.automatic)
        draw_hint_list(s, r, job, sizeof job / sizeof job[0]);
    else if (st->zoom >= 0 && st->playing)
        draw_hint_list(s, r, zoomed_play, sizeof zoomed_play / sizeof zoomed_play[0]);
    else if (st->zoom >= 0)
        draw_hint_list(s, r, zoomed, sizeof zoomed / sizeof zoomed[0]);
    else if (st->playing)
        draw_hint_list(s, r, play, sizeof play / sizeof play[0]);
    else
        draw_hint_list(s, r, normal, sizeof normal / sizeof normal[0]);
}

/* The caption box: a title row (the demo, the step, and "Space runs: CMD" when it fits
 * there), then the caption word-wrapped, then the command when the title row could not
 * hold it. */
typedef struct CaptionParts {
    char head[192];
    char next[1100];   /* "Space runs: CMD" or the end-of-demo note */
    bool next_on_head;
} CaptionParts;

static void caption_parts(const TuiState *st, int w, CaptionParts *cp)
{
    bool end = st->play_step >= st->play_steps;
    snprintf(cp->head, sizeof cp->head, " %s  step %d/%d ", st->play_name,
             end ? st->play_steps : st->play_step + 1, st->play_steps);
    if (!end && st->play_next)
        snprintf(cp->next, sizeof cp->next, "Space runs: %s", st->play_next);
    else
        snprintf(cp->next, sizeof cp->next, "end of the demo  Esc closes");
    /* arrow, head, a space, next, a margin */
    cp->next_on_head = 2 + tui_screen_text_width(cp->head) + 1 +
                       tui_screen_text_width(cp->next) + 1 <= w;
}

static int caption_width(int w)
{
    return w - 3; /* from column 2, a margin on the right */
}

int tui_layout_caption_rows(const TuiState *st, int w)
{
    if (!st->playing)
        return 0;
    CaptionParts cp;
    caption_parts(st, w, &cp);
    int rows = 1 + tui_screen_wrap(st->play_caption ? st->play_caption : "", caption_width(w),
                                   NULL, NULL);
    if (!cp.next_on_head)
        rows += tui_screen_wrap(cp.next, caption_width(w), NULL, NULL);
    return rows;
}

typedef struct CaptionDraw {
    TuiScreen *s;
    TuiRect r;
    int y;
    TuiStyle style;
} CaptionDraw;

/* One wrapped line, runs of blanks and newlines shown as one space. */
static void caption_line(void *ctx, const char *start, size_t bytes)
{
    CaptionDraw *d = ctx;
    if (d->y >= d->r.y + d->r.h)
        return;
    char line[1024];
    size_t n = 0;
    for (size_t i = 0; i < bytes && n + 1 < sizeof line; i++) {
        bool blank = start[i] == ' ' || start[i] == '\n' || start[i] == '\t';
        if (blank && n > 0 && line[n - 1] == ' ')
            continue;
        line[n++] = blank ? ' ' : start[i];
    }
    line[n] = '\0';
    tui_screen_put(d->s, d->r.x + 2, d->y++, caption_width(d->r.w), line, d->style);
}

void tui_layout_caption(TuiScreen *s, TuiRect r, const TuiState *st)
{
    if (r.h <= 0)
        return;
    tui_screen_fill(s, r, ' ', TS_NORMAL);
    CaptionParts cp;
    caption_parts(st, r.w, &cp);
    tui_screen_fill(s, (TuiRect){ r.x, r.y, r.w, 1 }, ' ', TS_TITLE_FOCUS);
    tui_screen_putc(s, r.x + 1, r.y, tui_screen_glyph(s, TG_ARROW), TS_TITLE_FOCUS);
    int x = r.x + 2 + tui_screen_put(s, r.x + 2, r.y, r.w - 3, cp.head, TS_TITLE_FOCUS);
    if (cp.next_on_head)
        tui_screen_put(s, x + 1, r.y, r.w - x - 2, cp.next, TS_TITLE_FOCUS);
    CaptionDraw d = { s, r, r.y + 1, TS_ACCENT };
    tui_screen_wrap(st->play_caption ? st->play_caption : "", caption_width(r.w), caption_line,
                    &d);
    if (!cp.next_on_head) {
        d.style = TS_DIM;
        tui_screen_wrap(cp.next, caption_width(r.w), caption_line, &d);
    }
}

typedef struct HelpRow {
    char keys[32];
    const char *cmd, *help;
} HelpRow;

void tui_layout_help(TuiScreen *s)
{
    HelpRow rows[64];
    int n = 0;
    for (int i = 0; i < tui_keys_count && n < 64; i++) {
        const TuiBinding *b = &tui_keys_table[i];
        char name[16];
        tui_keys_name(b->key, name, sizeof name);
        int k;
        for (k = 0; k < n; k++)
            if (!strcmp(rows[k].cmd, b->cmd) && !strcmp(rows[k].help, b->help))
                break;
        if (k < n) { /* another key for the same thing */
            size_t len = strlen(rows[k].keys);
            if (!strstr(rows[k].keys, name) && len + strlen(name) + 2 < sizeof rows[k].keys)
                snprintf(rows[k].keys + len, sizeof rows[k].keys - len, " %s", name);
            continue;
        }
        snprintf(rows[n].keys, sizeof rows[n].keys, "%s", name);
        rows[n].cmd = b->cmd;
        rows[n].help = b->help;
        n++;
    }
    int bw = s->w < 150 ? s->w : 150, kw = 4;
    for (int i = 0; i < n; i++)
        kw = tui_screen_text_width(rows[i].keys) > kw ? tui_screen_text_width(rows[i].keys) : kw;
    int inner_h = s->h - 4;
    int cols = n > inner_h - 2 ? 2 : 1;
    int per_col = (n + cols - 1) / cols;
    int bh = per_col + 4 < s->h - 2 ? per_col + 4 : s->h - 2;
    int bx = (s->w - bw) / 2, by = (s->h - bh) / 2;
    TuiRect box = { bx, by, bw, bh };
    tui_screen_fill(s, box, ' ', TS_NORMAL);
    tui_pane_title(s, (TuiRect){ bx, by, bw, 1 }, "Keys: each runs the command shown",
                   "any key closes", true);
    int col_w = (bw - 2) / cols;
    bool show_cmd = col_w >= 64;
    for (int i = 0; i < n; i++) {
        int c = i / per_col, row = i % per_col;
        int x = bx + 1 + c * col_w, y = by + 2 + row;
        if (y >= by + bh - 1)
            continue;
        tui_screen_put(s, x, y, kw, rows[i].keys, TS_KEY);
        if (show_cmd) {
            tui_screen_put(s, x + kw + 1, y, 24, rows[i].cmd, TS_ACCENT);
            tui_screen_put(s, x + kw + 26, y, col_w - kw - 27, rows[i].help, TS_NORMAL);
        } else {
            tui_screen_put(s, x + kw + 1, y, col_w - kw - 2, rows[i].help, TS_NORMAL);
        }
    }
    tui_screen_put(s, bx + 1, by + bh - 1, bw - 2,
                   "@... changes only the view; the rest are commands you can type at ':'",
                   TS_DIM);
}

void tui_layout_question(TuiScreen *s, const char *text)
{
    int w = tui_screen_text_width(text) + 4;
    if (w > s->w)
        w = s->w;
    int x = (s->w - w) / 2, y = s->h / 2 - 1;
    tui_screen_fill(s, (TuiRect){ x, y, w, 3 }, ' ', TS_TITLE_FOCUS);
    tui_screen_put(s, x + 2, y + 1, w - 4, text, TS_TITLE_FOCUS);
}

void tui_layout_too_small(TuiScreen *s)
{
    tui_screen_clear(s);
    tui_screen_putf(s, 0, 0, s->w, TS_BAD, "qscope needs at least 50x14 (80x24 is best);");
    tui_screen_putf(s, 0, 1, s->w, TS_BAD, "this terminal is %dx%d. q quits.", s->w, s->h);
}
