/* The workbench's pieces without a terminal: the screen buffer, the line editor, the
 * history file, Tab completion, the key table, the layout, the result cache and the
 * `play` script parser and its plain-front-end handler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds/cmd_play.h"
#include "cmds/commands.h"
#include "io/fileio.h"
#include "test_util.h"
#include "tui/tui_complete.h"
#include "tui/tui_history.h"
#include "tui/tui_keys.h"
#include "tui/tui_layout.h"
#include "tui/tui_line.h"
#include "tui/tui_screen.h"
#include "tui/tui_state.h"

static void test_screen(void)
{
    TuiScreen s;
    tui_screen_init(&s, 10, 3, true);
    CHECK(tui_screen_put(&s, 0, 0, 10, "conv1", TS_ACCENT) == 5);
    char row[64];
    tui_screen_row(&s, 0, row, sizeof row);
    CHECK(strcmp(row, "conv1") == 0);
    CHECK(tui_screen_style_at(&s, 0, 0) == TS_ACCENT);
    /* too long: cut with an ellipsis, never past maxw */
    CHECK(tui_screen_put(&s, 0, 1, 6, "batchnorm", TS_NORMAL) == 6);
    tui_screen_row(&s, 1, row, sizeof row);
    CHECK(strcmp(row, "batch\xe2\x80\xa6") == 0);
    /* the right edge of the screen clips too */
    CHECK(tui_screen_put(&s, 7, 2, 100, "abcdef", TS_NORMAL) == 3);
    tui_screen_row(&s, 2, row, sizeof row);
    CHECK(strcmp(row, "       ab\xe2\x80\xa6") == 0);
    /* UTF-8 in, code points per cell, UTF-8 out */
    tui_screen_clear(&s);
    tui_screen_put(&s, 1, 0, 10, "\xc2\xb5s \xe2\x96\x88", TS_NORMAL);
    tui_screen_row(&s, 0, row, sizeof row);
    CHECK(strcmp(row, " \xc2\xb5s \xe2\x96\x88") == 0);
    CHECK(tui_screen_text_width("\xc2\xb5s \xe2\x96\x88") == 4);
    int x = -1;
    CHECK(tui_screen_find(&s, "s \xe2\x96\x88", &x) == 0 && x == 2);
    CHECK(tui_screen_find(&s, "nothing", NULL) == -1);
    /* control characters never reach the terminal */
    tui_screen_put(&s, 0, 1, 10, "a\tb\x1b", TS_NORMAL);
    tui_screen_row(&s, 1, row, sizeof row);
    CHECK(strcmp(row, "a b") == 0);
    tui_screen_release(&s);

    /* ASCII screens: glyphs fall back, other text shows as '?' */
    tui_screen_init(&s, 10, 1, false);
    CHECK(tui_screen_glyph(&s, TG_FULL) == '#');
    CHECK(tui_screen_glyph(&s, TG_HLINE) == '-');
    tui_screen_put(&s, 0, 0, 10, "\xc2\xb5s \xe2\x80\xa6\xe2\x96\x88", TS_NORMAL);
    tui_screen_row(&s, 0, row, sizeof row);
    CHECK(strcmp(row, "?s ~#") == 0); /* glyphs in text get their stand-ins too */
    tui_screen_release(&s);

    /* invalid UTF-8 becomes U+FFFD and decoding moves on */
    const char *p = "\xff" "a";
    CHECK(tui_screen_utf8_next(&p) == 0xfffd && *p == 'a');
}

static void collect_line(void *ctx, const char *start, size_t bytes)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%.*s|", (int)bytes, start);
}

/* Layer names keep their tail; captions wrap at words and lose nothing. */
static void test_names_and_wrap(void)
{
    TuiScreen s;
    tui_screen_init(&s, 40, 3, true);
    char row[160];
    /* fits: as it is */
    CHECK(tui_screen_put_name(&s, 0, 0, 20, "conv1", TS_NORMAL) == 5);
    /* 25 columns into 18: the tail from a '/', after an ellipsis */
    CHECK(tui_screen_put_name(&s, 0, 1, 18, "/features/features.3/Conv", TS_NORMAL) == 17);
    tui_screen_row(&s, 1, row, sizeof row);
    CHECK(strcmp(row, "\xe2\x80\xa6/features.3/Conv") == 0);
    /* a '/' that would leave less than half the room is not used: the plain tail */
    CHECK(tui_screen_put_name(&s, 0, 2, 12, "blocks.11.attention/q", TS_NORMAL) == 12);
    tui_screen_row(&s, 2, row, sizeof row);
    CHECK(strcmp(row, "\xe2\x80\xa6" "attention/q") == 0);
    CHECK(tui_screen_put_name(&s, 20, 2, 8, "/features/features.3/Conv", TS_NORMAL) == 6);
    tui_screen_row(&s, 2, row, sizeof row);
    CHECK(strstr(row, "\xe2\x80\xa6/Conv") != NULL);
    tui_screen_release(&s);

    char out[256] = "";
    CHECK(tui_screen_wrap("The top row is\nthe culprit, and ends here.", 12, collect_line, out) == 4);
    CHECK(strcmp(out, "The top row|is\nthe|culprit, and|ends here.|") == 0);
    out[0] = '\0';
    CHECK(tui_screen_wrap("abcdefghij klm", 4, collect_line, out) == 4); /* a word split */
    CHECK(strcmp(out, "abcd|efgh|ij|klm|") == 0);
    CHECK(tui_screen_wrap("  \n ", 10, NULL, NULL) == 0);
}

static void test_line(void)
{
    TuiLine l;
    tui_line_init(&l);
    const char *typed = "mode fp16";
    for (const char *c = typed; *c; c++)
        CHECK(tui_line_key(&l, *c, NULL) == TUI_LINE_CHANGED);
    CHECK(strcmp(l.buf, "mode fp16") == 0 && l.cur == 9);
    tui_line_key(&l, TUI_KEY_BACKSPACE, NULL);
    tui_line_key(&l, TUI_KEY_BACKSPACE, NULL);
    tui_line_key(&l, '3', NULL);
    tui_line_key(&l, '2', NULL);
    CHECK(strcmp(l.buf, "mode fp32") == 0);
    tui_line_key(&l, TUI_KEY_HOME, NULL);
    tui_line_key(&l, TUI_KEY_DEL, NULL);
    CHECK(strcmp(l.buf, "ode fp32") == 0 && l.cur == 0);
    tui_line_key(&l, TUI_KEY_END, NULL);
    tui_line_key(&l, 'w' & 0x1f, NULL); /* Ctrl-W: the word before the cursor */
    CHECK(strcmp(l.buf, "ode ") == 0);
    tui_line_key(&l, 'u' & 0x1f, NULL); /* Ctrl-U: everything before it */
    CHECK(strcmp(l.buf, "") == 0);
    /* multi-byte characters move as one */
    tui_line_key(&l, 0xb5, NULL);
    tui_line_key(&l, 's', NULL);
    CHECK(strcmp(l.buf, "\xc2\xb5s") == 0 && tui_line_cursor_col(&l) == 2);
    tui_line_key(&l, TUI_KEY_LEFT, NULL);
    tui_line_key(&l, TUI_KEY_LEFT, NULL);
    CHECK(l.cur == 0);
    tui_line_key(&l, TUI_KEY_RIGHT, NULL);
    CHECK(l.cur == 2 && tui_line_cursor_col(&l) == 1);
    CHECK(tui_line_key(&l, TUI_KEY_ENTER, NULL) == TUI_LINE_SUBMIT);
    CHECK(tui_line_key(&l, TUI_KEY_F1, NULL) == TUI_LINE_IGNORED);
    CHECK(tui_line_key(&l, TUI_KEY_ESC, NULL) == TUI_LINE_IGNORED);

    /* history: Up walks back, Down comes forward to what was being typed */
    TuiHistory h;
    tui_history_init(&h, NULL, 10);
    tui_history_add(&h, "load models/mnist_cnn.qsm");
    tui_history_add(&h, "calibrate");
    tui_history_add(&h, "calibrate"); /* a repeat of the last is not kept */
    tui_history_add(&h, "");
    CHECK(h.n == 2);
    tui_line_set(&l, "eva");
    tui_line_key(&l, TUI_KEY_UP, &h);
    CHECK(strcmp(l.buf, "calibrate") == 0);
    tui_line_key(&l, TUI_KEY_UP, &h);
    CHECK(strcmp(l.buf, "load models/mnist_cnn.qsm") == 0);
    tui_line_key(&l, TUI_KEY_UP, &h); /* stays at the oldest */
    CHECK(strcmp(l.buf, "load models/mnist_cnn.qsm") == 0);
    tui_line_key(&l, TUI_KEY_DOWN, &h);
    tui_line_key(&l, TUI_KEY_DOWN, &h);
    CHECK(strcmp(l.buf, "eva") == 0);
    tui_history_release(&h);
    tui_line_release(&l);
}

static void test_history_file(void)
{
    char dir[] = "/tmp/qscope_hist_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/.qscope_history", dir);
    TuiHistory h;
    tui_history_init(&h, path, 3);
    CHECK(!h.save_failed);
    tui_history_add(&h, "mode fp16");
    tui_history_add(&h, "calibrate n=100");
    tui_history_add(&h, "eval");
    tui_history_add(&h, "compare");
    CHECK(h.n == 3 && strcmp(h.items[0], "calibrate n=100") == 0); /* the oldest dropped */
    tui_history_release(&h);
    /* a new session reads the last `max` lines back */
    tui_history_init(&h, path, 2);
    CHECK(h.n == 2 && strcmp(h.items[0], "eval") == 0 && strcmp(h.items[1], "compare") == 0);
    tui_history_release(&h);
    /* a file that cannot be written: memory only, and the flag says so */
    tui_history_init(&h, "/nonexistent-qscope-dir/sub/.qscope_history", 5);
    CHECK(h.save_failed);
    tui_history_add(&h, "eval");
    CHECK(h.n == 1);
    tui_history_release(&h);
    /* a FIFO at the history path neither blocks nor receives lines: memory only */
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo_history", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    tui_history_init(&h, fifo, 5);
    CHECK(h.save_failed && h.n == 0);
    tui_history_add(&h, "eval");
    CHECK(h.n == 1);
    tui_history_release(&h);
    unlink(fifo);
    /* HOME unset or empty: no file at all */
    const char *home = getenv("HOME");
    char *saved = home ? strdup(home) : NULL;
    unsetenv("HOME");
    CHECK(tui_history_default_path() == NULL);
    setenv("HOME", "", 1);
    CHECK(tui_history_default_path() == NULL);
    setenv("HOME", dir, 1);
    char *p = tui_history_default_path();
    CHECK(p && strcmp(p, path) == 0);
    free(p);
    if (saved)
        setenv("HOME", saved, 1);
    else
        unsetenv("HOME");
    free(saved);
    remove(path);
    rmdir(dir);
}

/* Completes line at its end; returns the candidates joined with '|'. */
static const char *complete(const char *line)
{
    static char out[1024];
    static const char *const layers[] = { "conv1", "relu1", "relu2", "fc1" };
    static const char *const variants[] = { "ptq", "qat" };
    TuiCompleteNames names = { layers, 4, variants, 2 };
    TuiCompletion c;
    tui_complete(line, strlen(line), &names, &c);
    out[0] = '\0';
    for (int i = 0; i < c.n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "|" : "", c.items[i]);
    tui_complete_release(&c);
    return out;
}

static void test_complete(void)
{
    CHECK(strcmp(complete("mo"), "mode") == 0);
    CHECK(strcmp(complete("ca"), "calibrate") == 0);
    CHECK(strcmp(complete("eval; mo"), "mode") == 0); /* after a ';' a new command starts */
    CHECK(strcmp(complete("mode int8-"), "int8-dyn|int8-static") == 0);
    CHECK(strcmp(complete("calibrate obs"), "observer=") == 0);
    CHECK(strcmp(complete("calibrate observer=p"), "observer=percentile") == 0);
    CHECK(strcmp(complete("quant wgran=t"), "wgran=tensor") == 0);
    CHECK(strcmp(complete("hist re"), "relu1|relu2") == 0);
    CHECK(strcmp(complete("hist relu1 w"), "weights|width=") == 0);
    CHECK(strcmp(complete("prec conv1 fp"), "fp16|fp32") == 0);
    CHECK(strcmp(complete("prec conv1 a"), "auto") == 0);
    CHECK(strcmp(complete("set thr"), "threads=") == 0);
    CHECK(strcmp(complete("help sens"), "sensitivity") == 0);
    CHECK(strcmp(complete("load models/mnist_c"), "models/mnist_cnn.qsm") == 0);
    CHECK(strcmp(complete("source scripts/tr"), "scripts/train/") == 0);
    CHECK(strcmp(complete("play scripts/demos/fp16_"), "scripts/demos/fp16_vs_int8.qs") == 0);
    /* values by the option's kind: a core table's names, the session's variants, lists */
    CHECK(strcmp(complete("set task=de"), "task=detect") == 0);
    CHECK(strcmp(complete("variant use q"), "qat") == 0);
    CHECK(strcmp(complete("save /tmp/x.qsm variant=p"), "variant=ptq") == 0);
    CHECK(strcmp(complete("bench precisions=fp32,int8-s"), "precisions=fp32,int8-static") == 0);
    CHECK(strcmp(complete("qat feature=conv1,re"), "feature=conv1,relu1|feature=conv1,relu2") == 0);
    CHECK(strcmp(complete("data calib synth:f"), "synth:falls") == 0);
    CHECK(strcmp(complete("train val=n"), "val=none") == 0);
    TuiCompletion c;
    tui_complete("hist re", 7, NULL, &c); /* no layers known: nothing to offer */
    CHECK(c.n == 0);
    tui_complete_release(&c);
    static const char *const two[] = { "relu1", "relu2" };
    TuiCompleteNames two_names = { .layers = two, .n_layers = 2 };
    tui_complete("hist re", 7, &two_names, &c);
    char *common = tui_complete_common(&c);
    CHECK(strcmp(common, "relu") == 0 && c.start == 5);
    free(common);
    tui_complete_release(&c);
}

static bool known_action(const char *cmd)
{
    static const char *const verbs[] = { "select", "focus", "view", "scroll", "help", "cancel",
                                         "quit", "play", "refresh", "auto", "zoom",
                                         NULL };
    for (int i = 0; verbs[i]; i++)
        if (!strncmp(cmd + 1, verbs[i], strlen(verbs[i])))
            return true;
    return false;
}

static void test_keys(void)
{
    /* every row: a known command or @action, help text, a scope with a pane */
    for (int i = 0; i < tui_keys_count; i++) {
        const TuiBinding *b = &tui_keys_table[i];
        char word[32];
        sscanf(b->cmd, "%31s", word);
        bool ok = b->cmd[0] == '@' ? known_action(b->cmd) : cmd_find(word) != NULL;
        if (!ok)
            fprintf(stderr, "binding %d: '%s' is no command\n", i, b->cmd);
        CHECK(ok);
        CHECK(b->help && b->help[0]);
        CHECK((b->scope & TUI_IN_ALL) != 0);
    }
    /* docs/workbench.md lists every binding's command */
    void *buf = NULL;
    size_t len = 0;
    QsError err = { 0 };
    CHECK_OK(fileio_read("docs/workbench.md", &buf, &len, &err), &err);
    const char *doc = buf;
    for (int i = 0; doc && i < tui_keys_count; i++)
        if (!strstr(doc, tui_keys_table[i].cmd)) {
            fprintf(stderr, "docs/workbench.md does not mention '%s'\n", tui_keys_table[i].cmd);
            CHECK(false);
        }
    free(buf);
    const TuiBinding *b;
    CHECK((b = tui_keys_lookup('2', TUI_IN_LAYERS | TUI_IN_IDLE)) && !strcmp(b->cmd, "mode fp16"));
    CHECK((b = tui_keys_lookup('4', TUI_IN_DETAIL | TUI_IN_JOB)) &&
          !strcmp(b->cmd, "mode int8-static"));
    CHECK(tui_keys_lookup('2', TUI_IN_CONSOLE | TUI_IN_IDLE) == NULL); /* typing there */
    CHECK((b = tui_keys_lookup(TUI_KEY_ESC, TUI_IN_LAYERS | TUI_IN_JOB | TUI_IN_PLAY)) &&
          !strcmp(b->cmd, "@cancel"));
    CHECK((b = tui_keys_lookup(TUI_KEY_ESC, TUI_IN_LAYERS | TUI_IN_IDLE | TUI_IN_PLAY)) &&
          !strcmp(b->cmd, "@play stop"));
    CHECK(tui_keys_lookup(TUI_KEY_ESC, TUI_IN_LAYERS | TUI_IN_IDLE) == NULL);
    CHECK((b = tui_keys_lookup(TUI_KEY_ESC, TUI_IN_CONSOLE | TUI_IN_IDLE)) &&
          !strcmp(b->cmd, "@focus layers"));
    CHECK((b = tui_keys_lookup(TUI_KEY_CTRL_C, TUI_IN_CONSOLE | TUI_IN_JOB)) &&
          !strcmp(b->cmd, "@cancel"));
    CHECK((b = tui_keys_lookup('j', TUI_IN_METRICS | TUI_IN_IDLE)) &&
          !strcmp(b->cmd, "@scroll +1"));
    CHECK((b = tui_keys_lookup('j', TUI_IN_LAYERS | TUI_IN_IDLE)) && !strcmp(b->cmd, "@select +1"));
    CHECK((b = tui_keys_lookup(' ', TUI_IN_LAYERS | TUI_IN_IDLE | TUI_IN_PLAY)) &&
          !strcmp(b->cmd, "@play next"));
    CHECK(tui_keys_lookup(' ', TUI_IN_LAYERS | TUI_IN_IDLE) == NULL);
    CHECK((b = tui_keys_lookup('f', TUI_IN_LAYERS | TUI_IN_IDLE)) &&
          strstr(b->cmd, "{layer}") && strstr(b->cmd, "{nextpin}"));
    char name[16];
    CHECK(strcmp(tui_keys_name(TUI_KEY_CTRL_C, name, sizeof name), "Ctrl-C") == 0);
    CHECK(strcmp(tui_keys_name('q', name, sizeof name), "q") == 0);
    CHECK(strcmp(tui_keys_name(' ', name, sizeof name), "Space") == 0);
}

static bool inside(TuiRect in, TuiRect out)
{
    return in.x >= out.x && in.y >= out.y && in.x + in.w <= out.x + out.w &&
           in.y + in.h <= out.y + out.h;
}

static bool overlap(TuiRect a, TuiRect b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void test_layout(void)
{
    static const int sizes[][2] = { { 80, 24 }, { 200, 60 }, { 100, 30 }, { 60, 16 } };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int cap = 0; cap < 2; cap++) {
            TuiLayout l;
            int w = sizes[k][0], h = sizes[k][1];
            tui_layout_compute(&l, w, h, cap ? 3 : 0, -1); /* a caption of 2 lines */
            CHECK(!l.too_small);
            TuiRect screen = { 0, 0, w, h };
            TuiRect all[] = { l.status, l.hints, l.sep, l.caption, l.pane[0], l.pane[1],
                              l.pane[2], l.pane[3] };
            int n = sizeof all / sizeof all[0], area = 0;
            for (int i = 0; i < n; i++) {
                CHECK(inside(all[i], screen));
                area += all[i].w * all[i].h;
                for (int j = i + 1; j < n; j++)
                    if (all[i].w * all[i].h > 0 && all[j].w * all[j].h > 0)
                        CHECK(!overlap(all[i], all[j]));
            }
            CHECK(area == w * h); /* every cell belongs to something */
            CHECK(l.pane[3].h >= 4);
            if (h >= 24) /* from 80x24 up: a useful number of layers at once */
                CHECK(l.pane[0].h >= 12);
            CHECK((l.caption.h > 0) == cap);
            int hw, hh;
            tui_layout_hist_size(&l, &hw, &hh);
            if (w >= 80 && h >= 24)
                CHECK(hw >= 16 && hh >= 3); /* room for a histogram at 80x24 and up */
        }
    /* a caption box of 10 rows at 80x24 is given whole; the console keeps 5 rows */
    TuiLayout l;
    tui_layout_compute(&l, 80, 24, 10, -1);
    CHECK(l.caption.h == 10 && l.pane[TUI_PANE_CONSOLE].h == 5);
    CHECK(l.pane[TUI_PANE_LAYERS].h == 24 - 2 - 10 - 5);
    /* a zoomed pane takes everything between the status line (and the caption) and the
     * hints; the others get nothing */
    for (int z = 0; z < TUI_PANE_COUNT; z++) {
        tui_layout_compute(&l, 80, 24, 4, z);
        CHECK(l.caption.y == 1 && l.caption.h == 4);
        CHECK(l.pane[z].y == 5 && l.pane[z].h == 24 - 2 - 4 && l.pane[z].w == 80);
        for (int o = 0; o < TUI_PANE_COUNT; o++)
            if (o != z)
                CHECK(l.pane[o].w * l.pane[o].h == 0);
    }
    tui_layout_compute(&l, 40, 10, 0, -1);
    CHECK(l.too_small);
    char d[16];
    tui_layout_duration(5.4, d, sizeof d);
    CHECK(strcmp(d, "5s") == 0);
    tui_layout_duration(125, d, sizeof d);
    CHECK(strcmp(d, "2m05s") == 0);
}

static void test_cache(void)
{
    TuiCache c;
    tui_state_cache_init(&c, 2);
    Result r;
    result_init(&r, "eval");
    result_float(&r, "accuracy", 0.5, RS_PCT);
    static const char *const cols[] = { "name", "sqnr", NULL };
    RTable *t = result_table(&r, "layers", cols);
    int row = rtable_add_row(t);
    rtable_str(t, row, 0, "conv1");
    rtable_float(t, row, 1, 31.5, RS_DB);
    result_textf(&r, "a line");
    tui_state_cache_put(&c, "a", &r);
    r.fields[0].v.f = 0.75; /* another figure (setting a key twice stops: result.h) */
    tui_state_cache_put(&c, "b", &r);
    const Result *got = tui_state_cache_get(&c, "a"); /* a becomes the most recent */
    CHECK(got && rvalue_num(result_get(got, "accuracy")) == 0.5);
    CHECK(got && result_get(got, "accuracy")->style == RS_PCT);
    const RTable *gt = got ? result_find_table(got, "layers") : NULL;
    CHECK(gt && gt->n_rows == 1 && !strcmp(rtable_cell(gt, 0, 0)->s, "conv1"));
    CHECK(gt && rvalue_num(rtable_cell(gt, 0, rtable_col(gt, "sqnr"))) == 31.5);
    CHECK(got && got->n_text == 1 && !strcmp(got->text[0], "a line"));
    tui_state_cache_put(&c, "c", &r); /* evicts b, the least recently used */
    CHECK(tui_state_cache_peek(&c, "b") == NULL);
    CHECK(tui_state_cache_peek(&c, "a") && tui_state_cache_peek(&c, "c"));
    result_release(&r);
    tui_state_cache_release(&c);
}

static int n_emitted;
static char emitted[4096];

static void capture(App *app, const Result *r)
{
    (void)app;
    n_emitted++;
    for (int i = 0; i < r->n_text; i++)
        snprintf(emitted + strlen(emitted), sizeof emitted - strlen(emitted), "%s\n", r->text[i]);
}

static void test_play(void)
{
    PlayScript ps;
    QsError err = { 0 };
    CHECK_OK(cmd_play_load("tests/tui/play_small.qs", &ps, &err), &err);
    CHECK(ps.n == 3);
    if (ps.n == 3) {
        CHECK(!strcmp(ps.steps[0].caption, "A short demo for the workbench tests.\n"
                                            "Step one loads the model."));
        CHECK(!strcmp(ps.steps[0].line, "load models/mnist_cnn.qsm") && ps.steps[0].lineno == 3);
        CHECK(!strcmp(ps.steps[1].caption, "Step two switches to FP16."));
        CHECK(!strcmp(ps.steps[2].line, "echo hello from step three"));
        CHECK(!strcmp(ps.epilogue, "That was all."));
    }
    cmd_play_release(&ps);
    CHECK(cmd_play_load("tests/tui/no_such_demo.qs", &ps, &err) == QS_EIO);
    CHECK(strstr(err.msg, "no_such_demo.qs") != NULL);
    cmd_play_release(&ps);

    /* the plain front ends: each caption printed, then the step's output */
    App app;
    app_init(&app);
    app.emit = capture;
    emitted[0] = '\0';
    CHECK_OK(cmd_exec_line(&app, "play tests/tui/play_small.qs", &err), &err);
    const char *a = strstr(emitted, "# Step one loads the model.");
    const char *b = strstr(emitted, "# Step two switches to FP16.");
    const char *c = strstr(emitted, "hello from step three");
    const char *d = strstr(emitted, "# That was all.");
    CHECK(a && b && c && d && a < b && b < c && c < d);
    CHECK(app.session.q.plan.mode == PREC_FP16);
    /* a failing step stops the script with FILE:LINE */
    char path[] = "/tmp/qscope_play_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char bad[] = "# caption\necho one\n\nmode fp99\necho never\n";
    CHECK(write(fd, bad, sizeof bad - 1) == (ssize_t)(sizeof bad - 1));
    close(fd);
    char line[128];
    snprintf(line, sizeof line, "play %s", path);
    emitted[0] = '\0';
    QsStatus st = cmd_exec_line(&app, line, &err);
    char want[64];
    snprintf(want, sizeof want, "%s:4:", path);
    expect_error("play stops at the failing line", st, &err, QS_EINVAL, want);
    CHECK(strstr(emitted, "never") == NULL);
    remove(path);
    app_release(&app);
}

int main(void)
{
    test_screen();
    test_names_and_wrap();
    test_line();
    test_history_file();
    test_complete();
    test_keys();
    test_layout();
    test_cache();
    test_play();
    return test_summary("tui_parts");
}
