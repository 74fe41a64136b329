/* The workbench drawn into a plain character buffer, driven by key presses, on the bundled
 * mnist_cnn: what a person would see at 80x24 and 200x60 (layer names, a histogram, the
 * precision label changing when 2 is pressed, an error after a bad command, the help, a
 * demo's caption), in UTF-8 and in ASCII. Curses is not involved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tui/tui_app.h"
#include "tui/tui_keys.h"

static Tui *t;
static TuiScreen scr;

static void dump(const char *why)
{
    fprintf(stderr, "---- screen %dx%d (%s) ----\n", scr.w, scr.h, why);
    char row[2048];
    for (int y = 0; y < scr.h; y++) {
        tui_screen_row(&scr, y, row, sizeof row);
        fprintf(stderr, "%s\n", row);
    }
}

static void draw(void)
{
    tui_app_draw(t, &scr);
}

/* A check about the screen: on failure the screen is printed. */
#define SEE(cond, why)                                                                       \
    do {                                                                                     \
        if (!CHECK(cond))                                                                    \
            dump(why);                                                                       \
    } while (0)

static bool row_has(int y, const char *needle)
{
    char row[2048];
    tui_screen_row(&scr, y, row, sizeof row);
    return strstr(row, needle) != NULL;
}

/* Rows whose cells in [x0, x1) hold `glyph` (a code point). */
static int rows_with(uint32_t glyph, int x0, int x1)
{
    int n = 0;
    for (int y = 0; y < scr.h; y++)
        for (int x = x0; x < x1 && x < scr.w; x++)
            if (scr.cells[y * scr.w + x].ch == glyph) {
                n++;
                break;
            }
    return n;
}

/* The first row whose cells [x0, x1) contain needle, or -1. */
static int find_in(const char *needle, int x0, int x1)
{
    TuiScreen part;
    tui_screen_init(&part, x1 - x0, scr.h, scr.utf8);
    for (int y = 0; y < scr.h; y++)
        for (int x = x0; x < x1 && x < scr.w; x++)
            part.cells[y * part.w + x - x0] = scr.cells[y * scr.w + x];
    int y = tui_screen_find(&part, needle, NULL);
    tui_screen_release(&part);
    return y;
}

/* The layer list's row for a layer, or -1. */
static int layer_row(const char *name)
{
    TuiRect r = t->lay.pane[TUI_PANE_LAYERS];
    char pat[64];
    snprintf(pat, sizeof pat, " %s ", name);
    int y = find_in(pat, r.x, r.x + r.w);
    return y >= r.y + 2 ? y : -1;
}

/* Whether the console shows needle on a 200x60 screen (more scrollback than 80x24). */
static bool console_has(const char *needle)
{
    TuiScreen big;
    tui_screen_init(&big, 200, 60, scr.utf8);
    tui_app_draw(t, &big);
    TuiRect r = t->lay.pane[TUI_PANE_CONSOLE];
    int y = tui_screen_find(&big, needle, NULL);
    bool ok = y >= r.y && y < r.y + r.h;
    if (!ok) {
        TuiScreen keep = scr;
        scr = big;
        dump(needle);
        scr = keep;
    }
    tui_screen_release(&big);
    tui_app_draw(t, &scr);
    return ok;
}

static bool all_ascii(void)
{
    for (int i = 0; i < scr.w * scr.h; i++)
        if (scr.cells[i].ch > 0x7e)
            return false;
    return true;
}

static void settle(void)
{
    bool idle = tui_app_settle(t, 300);
    CHECK(idle);
}

static void press(int key)
{
    tui_app_key(t, key);
}

static void test_empty(void)
{
    draw();
    SEE(tui_screen_find(&scr, "no model", NULL) >= 0, "an empty workbench says so");
    SEE(row_has(0, "no model loaded"), "status line without a model");
}

static void test_load(void)
{
    tui_app_start(t, "models/mnist_cnn.qsm", NULL);
    /* small splits keep the automatic figures quick (under the sanitizers too) */
    tui_app_run(t, "data calib models/data/mnist_train.npz skip=7000 n=300 scale=0.00392156886");
    tui_app_run(t, "data eval models/data/mnist_test.npz n=300 scale=0.00392156886");
    settle();
    draw();
    static const char *const names[] = { "conv1", "bn1", "relu1", "pool1", "conv2", "fc1", "fc2" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        SEE(tui_screen_find(&scr, names[i], NULL) >= 1, "layer names in the list");
    SEE(row_has(0, "mnist_cnn.qsm") && row_has(0, "fp32"), "status: model and precision");
    SEE(row_has(0, "accuracy") && row_has(0, "%"), "status: the metric came in");
    SEE(tui_screen_find(&scr, "Layers", NULL) == 1, "layer pane title under the status");
    SEE(tui_screen_find(&scr, "Metrics", NULL) > 1, "metrics pane");
    SEE(tui_screen_find(&scr, "Console", NULL) > 10, "console");
    SEE(tui_screen_find(&scr, "int8-dyn", NULL) > 1, "metrics lists the precisions");
    int y = tui_screen_find(&scr, "> fp32", NULL);
    SEE(y > 1 && row_has(y, "%"), "fp32 row highlighted with its metric");
    int yc = layer_row("conv1");
    SEE(yc >= 2 && row_has(yc, "fp32"), "conv1 runs at fp32");
    SEE(tui_screen_style_at(&scr, 5, yc) == TS_SELECTED, "first layer selected");
    SEE(tui_screen_find(&scr, "not calibrated yet: press c", NULL) > 0,
        "detail asks for calibration");
}

static void test_switch(void)
{
    press('2');
    /* at once: no settle, the label and the cached FP16 metric come from the plan snapshot
     * and the compare that already ran */
    draw();
    SEE(row_has(0, "fp16") && !row_has(0, "fp32"), "status precision label after 2");
    SEE(row_has(0, "accuracy"), "fp16 metric at once, from the compare");
    int yc = layer_row("conv1");
    SEE(yc >= 2 && row_has(yc, "fp16"), "layer precision after 2");
    SEE(tui_screen_find(&scr, "> fp16", NULL) > 1, "metrics highlights fp16");
    CHECK(console_has("qscope> mode fp16")); /* the key's command, as if typed */
    settle();
    press('1');
    draw();
    SEE(row_has(0, "fp32"), "back to fp32");
}

static void test_calibrated(void)
{
    tui_app_run(t, "calibrate");
    settle();
    press('4');
    draw();
    /* the per-layer error of INT8 static is new: pending until the error job ends */
    int left = t->lay.pane[TUI_PANE_LAYERS].w;
    SEE(rows_with(0x2026, 0, left) > 0 || rows_with(0x2588, 0, left) > 0, "error pending or in");
    settle();
    draw();
    SEE(row_has(0, "int8-static"), "status after 4");
    SEE(rows_with(0x2588, 0, left) >= 3, "error bars in the layer list");
    SEE(tui_screen_find(&scr, "error (SQNR)", NULL) == 2, "error column header");
    /* a layer with its histogram */
    tui_app_run(t, "@select relu1");
    settle();
    draw();
    SEE(tui_screen_find(&scr, "Detail: relu1", NULL) == 1, "detail follows the selection");
    int hist_rows = rows_with(0x2588, left + 1, scr.w);
    SEE(hist_rows >= 3, "histogram rows drawn with block characters");
    int ya = tui_screen_find(&scr, "\xe2\x94\x94[", NULL); /* the axis: corner, then [ */
    SEE(ya > 2, "histogram axis with the clipping range marked");
    SEE(tui_screen_find(&scr, "scale", NULL) > 1 && tui_screen_find(&scr, "zero point", NULL) > 1,
        "scale and zero point");
    SEE(tui_screen_find(&scr, "clip", NULL) > 1, "clipping range");
    SEE(tui_screen_find(&scr, "> int8-static", NULL) > 1, "metrics highlights int8-static");
    /* weights view */
    press('w');
    settle();
    draw();
    SEE(tui_screen_find(&scr, "weights  a:act", NULL) == 1, "weights view title");
    press('a');
    draw();
    SEE(tui_screen_find(&scr, "act  w:weights", NULL) == 1, "activation view title");
    /* ASCII: the same screen without a single non-ASCII cell */
    TuiScreen utf = scr;
    tui_screen_init(&scr, 80, 24, false);
    draw();
    SEE(all_ascii(), "ASCII fallback");
    SEE(rows_with('#', left + 1, scr.w) >= 3, "ASCII histogram");
    SEE(tui_screen_find(&scr, "conv1", NULL) >= 2, "ASCII layer names");
    tui_screen_release(&scr);
    scr = utf;
}

static void test_big(void)
{
    tui_screen_resize(&scr, 200, 60);
    draw();
    settle(); /* the histogram is asked for again at the new size */
    draw();
    SEE(tui_screen_find(&scr, "(N, 16, 28, 28)", NULL) >= 2, "shapes at 200 columns");
    SEE(tui_screen_find(&scr, "MaxPool", NULL) >= 2, "op names at 200 columns");
    SEE(layer_row("conv1") >= 2 && row_has(layer_row("conv1"), "int8-static"),
        "long precision names");
    int left = t->lay.pane[TUI_PANE_LAYERS].w;
    SEE(rows_with(0x2588, left + 1, scr.w) >= 15, "a tall histogram at 200x60");
    SEE(tui_screen_find(&scr, "latency", NULL) > 1, "every metrics column at 200 columns");
    SEE(tui_screen_find(&scr, "calib 300", NULL) == 0, "status lists the splits");
    tui_screen_resize(&scr, 40, 10);
    draw();
    SEE(tui_screen_find(&scr, "needs at least", NULL) == 0, "too small a terminal");
    tui_screen_resize(&scr, 80, 24);
    draw(); /* keys act on what was drawn last */
    settle();
}

static void test_console(void)
{
    press(':');
    const char *typed = "frobnicate now";
    for (const char *c = typed; *c; c++)
        press(*c);
    draw();
    SEE(tui_screen_find(&scr, "qscope> frobnicate now", NULL) == scr.h - 2, "typed line");
    SEE(scr.cur_on && scr.cur_y == scr.h - 2, "cursor on the command line");
    press(TUI_KEY_ENTER);
    settle();
    draw();
    CHECK(console_has("unknown command 'frobnicate'"));
    /* Enter went back to the panes (as in vi); Tab completes a layer name for hist */
    SEE(!scr.cur_on, "back in the panes after Enter");
    press(':');
    const char *part = "hist rel";
    for (const char *c = part; *c; c++)
        press(*c);
    press(TUI_KEY_TAB); /* relu1, relu2, relu3: completes "relu" */
    press(TUI_KEY_TAB); /* still ambiguous: lists them */
    draw();
    SEE(tui_screen_find(&scr, "qscope> hist relu", NULL) == scr.h - 2, "completed to relu");
    CHECK(console_has("relu1  relu2  relu3")); /* candidates listed */
    press('2');
    press(TUI_KEY_ENTER);
    settle();
    draw();
    SEE(tui_screen_find(&scr, "Detail: relu2", NULL) == 1, "hist typed selects its layer");
    draw();
    SEE(!scr.cur_on, "Enter leaves the command line");
    press(':');
    press('x');
    press(TUI_KEY_ESC);
    draw();
    SEE(!scr.cur_on, "Esc leaves the command line");
    press('f'); /* relu2: auto -> fp32 */
    settle();
    draw();
    CHECK(console_has("qscope> prec relu2 fp32")); /* f runs prec */
    int y = layer_row("relu2");
    SEE(y >= 2 && row_has(y, "*fp32"), "pinned layer marked");
    SEE(row_has(0, "int8-static+pins"), "status shows the pins");
    press('f');
    settle();
    draw();
    y = layer_row("relu2");
    SEE(y >= 2 && row_has(y, "*fp16"), "f cycles the pin");
    tui_app_run(t, "prec relu2 auto");
    settle();
}

/* z: the console takes the screen and gives it back; a long output is shown from its
 * first line with the count of lines below; PgUp reads back until new output comes. */
static void test_zoom(void)
{
    tui_app_run(t, "layers");
    settle();
    draw();
    TuiRect r = t->lay.pane[TUI_PANE_CONSOLE];
    SEE(row_has(r.y + 1, "index") && row_has(r.y + 1, "name"), "a long output from its first line");
    SEE(row_has(r.y, "more lines"), "the console's title counts the lines below");
    int small = r.h;
    press('z');
    draw();
    r = t->lay.pane[TUI_PANE_CONSOLE];
    SEE(r.y == 1 && r.h == scr.h - 2 && r.h > small, "z: the console fills the screen");
    SEE(tui_screen_find(&scr, "Layers", NULL) < 0, "z: the panes make room");
    SEE(tui_screen_find(&scr, " fc2 ", NULL) > 1, "z: the whole table is shown");
    press(TUI_KEY_PGUP);
    draw();
    SEE(row_has(1, "more line"), "PgUp reads back: the lines below are counted");
    tui_app_run(t, "echo new output");
    settle();
    draw();
    SEE(tui_screen_find(&scr, "new output", NULL) > 1, "new output brings the view back");
    press('z');
    draw();
    SEE(t->lay.pane[TUI_PANE_CONSOLE].h == small, "z again: the layout is back");
    SEE(tui_screen_find(&scr, "Layers", NULL) == 1, "z again: the layer list is back");
}

static void test_help(void)
{
    press('?');
    draw();
    SEE(tui_screen_find(&scr, "Keys: each runs the command shown", NULL) >= 0, "help overlay");
    SEE(tui_screen_find(&scr, "whole model at FP16", NULL) >= 0, "help lists the bindings");
    press('x');
    draw();
    SEE(tui_screen_find(&scr, "Keys: each runs", NULL) < 0, "any key closes the help");
    tui_screen_resize(&scr, 200, 60);
    draw();
    press('?');
    draw();
    SEE(tui_screen_find(&scr, "mode int8-static", NULL) >= 0, "wide help shows the commands");
    press('x');
    tui_screen_resize(&scr, 80, 24);
    draw();
}

static void test_play(void)
{
    tui_app_run(t, "play tests/tui/play_small.qs");
    draw();
    SEE(tui_screen_find(&scr, "Step one loads the model.", NULL) > 0, "first caption");
    SEE(tui_screen_find(&scr, "step 1/3", NULL) > 0, "step counter");
    SEE(tui_screen_find(&scr, "Space runs: load models/mnist_cnn.qsm", NULL) > 0, "next command");
    press(' ');
    settle();
    draw();
    SEE(!row_has(0, "calibrated"), "step 1 loaded the model afresh");
    SEE(tui_screen_find(&scr, "Step two switches to FP16.", NULL) > 0, "second caption");
    press(' ');
    settle();
    draw();
    SEE(row_has(0, "fp16"), "step 2 ran");
    SEE(tui_screen_find(&scr, "step 3/3", NULL) > 0, "third step next");
    press(TUI_KEY_BACKSPACE); /* back to step 2: replays step 1 */
    settle();
    draw();
    SEE(row_has(0, "fp32"), "back one step restores the state before step 2");
    SEE(tui_screen_find(&scr, "qscope> mode fp16", NULL) < 0, "back drops step 2's console lines");
    SEE(tui_screen_find(&scr, "model:   models/mnist_cnn.qsm", NULL) > 0,
        "back keeps step 1's console lines");
    SEE(tui_screen_find(&scr, "step 2/3", NULL) > 0, "step 2 is next again");
    press(' ');
    press(' ');
    settle();
    draw();
    CHECK(console_has("hello from step three"));
    SEE(tui_screen_find(&scr, "end of the demo", NULL) > 0, "the end");
    press(TUI_KEY_ESC);
    draw();
    SEE(tui_screen_find(&scr, "step 3/3", NULL) < 0, "Esc closes the demo");
}

/* The weight view's bars in the detail pane: the columns, above the bars' axis (the first
 * corner followed by a line), holding a full block on at least 3 rows (tall) or a lower
 * lower bar of fewer (short); the first tall column, and the digit on the axis under it. */
typedef struct Bars {
    int axis_y, tall, short_, tall_x, tall_rows;
    uint32_t label; /* the axis cell under the first tall column */
    TuiStyle tall_style;
} Bars;

static Bars weight_bars(void)
{
    Bars b = { .axis_y = -1, .tall_x = -1 };
    TuiRect d = t->lay.pane[TUI_PANE_DETAIL];
    int ax = -1;
    for (int y = d.y + 1; y < d.y + d.h && b.axis_y < 0; y++)
        for (int x = d.x; x + 1 < d.x + d.w; x++)
            if (scr.cells[y * scr.w + x].ch == 0x2514 && scr.cells[y * scr.w + x + 1].ch == 0x2500) {
                b.axis_y = y;
                ax = x;
                break;
            }
    if (b.axis_y < 0)
        return b;
    for (int x = ax + 1; x < d.x + d.w; x++) {
        int full = 0, half = 0;
        for (int y = d.y + 1; y < b.axis_y; y++) {
            full += scr.cells[y * scr.w + x].ch == 0x2588;
            half += scr.cells[y * scr.w + x].ch == 0x2584;
        }
        if (full >= 3) {
            b.tall++;
            if (b.tall_x < 0) {
                b.tall_x = x;
                b.tall_rows = full;
                b.label = scr.cells[b.axis_y * scr.w + x].ch;
                b.tall_style = tui_screen_style_at(&scr, x, b.axis_y - 1);
            }
        } else if (half || full) { /* under 3 full cells: a short bar */
            b.short_++;
        }
    }
    return b;
}

/* mnist_dw's dw1 (channel 5 doctored, about 46x the median range, models/README.md): one
 * tall warning-coloured bar over channel 5, 23 short ones, at 80x24 and 200x60. */
static void test_weights(void)
{
    tui_app_run(t, "load models/mnist_dw.qsm");
    settle();
    tui_app_run(t, "@select dw1");
    press('w');
    settle();
    draw();
    SEE(tui_screen_find(&scr, "Detail: dw1", NULL) == 1, "detail shows dw1");
    SEE(tui_screen_find(&scr, "widest: ch 5 (46.4x", NULL) > 1, "the widest channel named");
    Bars b = weight_bars();
    SEE(b.axis_y > 0, "the bars' axis");
    SEE(b.tall == 1 && b.label == '5', "one tall bar, over channel 5 (1 column at 80x24)");
    SEE(b.short_ == 23, "23 short bars, one per other channel");
    SEE(b.tall_rows == b.axis_y - 4, "the widest bar fills the height"); /* title, 2 lines */
    SEE(b.tall_style == TS_WARN, "the wide channel in the warning colour");
    SEE(tui_screen_find(&scr, "levels", NULL) > 1, "levels used");
    tui_screen_resize(&scr, 200, 60);
    draw();
    settle(); /* asked again for the new width */
    draw();
    b = weight_bars();
    SEE(b.tall == 3 && b.label == '5', "channel 5's bar, 3 columns wide at 200x60");
    SEE(b.short_ == 23 * 3, "the other channels, 3 columns each");
    SEE(b.tall_rows == b.axis_y - 4 && b.tall_rows >= 20, "a tall bar at 200x60");
    SEE(tui_screen_find(&scr, "widest: ch 5 (46.4x the median range), ch 11", NULL) > 1,
        "the widest channels named in full");
    tui_screen_resize(&scr, 80, 24);
    draw();
    press('a');
    settle();
}

static void test_cancel_and_quit(void)
{
    /* a long job: the progress bar, then Esc cancels and the session stays as it was */
    tui_app_run(t, "data train models/data/mnist_train.npz n=7000 scale=0.00392156886");
    settle();
    bool was_calibrated = t->app->session.q.calibrated;
    char was_split[16];
    snprintf(was_split, sizeof was_split, "%s", t->app->session.q.calib_split);
    tui_app_run(t, "calibrate split=train");
    tui_app_pump(t);
    draw();
    SEE(row_has(0, "calibrate") && row_has(0, "Esc"), "job on the status line");
    press('q'); /* a job runs: asks first */
    draw();
    SEE(tui_screen_find(&scr, "Quit anyway", NULL) >= 0, "quit asks while a job runs");
    press('n');
    CHECK(!tui_app_quitting(t));
    press(TUI_KEY_ESC);
    settle();
    draw();
    CHECK(console_has("the session is as it was before"));
    CHECK(t->app->session.q.calibrated == was_calibrated);
    CHECK(strcmp(t->app->session.q.calib_split, was_split) == 0); /* not the train split */
    press('q');
    CHECK(tui_app_quitting(t));
}

int main(void)
{
    App app;
    app_init(&app);
    t = tui_app_new(&app, NULL);
    tui_screen_init(&scr, 80, 24, true);
    test_empty();
    test_load();
    test_switch();
    test_calibrated();
    test_big();
    test_console();
    test_zoom();
    test_help();
    test_play();
    test_weights();
    test_cancel_and_quit();
    tui_app_free(t);
    tui_screen_release(&scr);
    app_release(&app);
    return test_summary("tui_layout");
}
