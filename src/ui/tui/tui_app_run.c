/* Running a command line: {layer} and {nextpin} filled in from the selection, @actions
 * to tui_app_actions.c, what the workbench carries out itself (play, quit), the rest
 * submitted to the job runner. */
#include "tui/tui_app_internal.h"

#include <stdio.h>
#include <string.h>

#include "quant/plan.h"
#include "text/strbuf.h"

/* Fills {layer} and {nextpin} from the selection; false (with a message) when there is no
 * layer to fill in. */
static bool expand(Tui *t, const char *cmd, char *out, size_t cap)
{
    const TuiState *st = &t->st;
    StrBuf b = { 0 };
    bool ok = true;
    for (const char *p = cmd; *p && ok;) {
        const char *open = strchr(p, '{');
        if (!open) {
            strbuf_printf(&b, "%s", p);
            break;
        }
        strbuf_append(&b, p, (size_t)(open - p));
        const char *close = strchr(open, '}');
        if (!close) {
            strbuf_printf(&b, "%s", open);
            break;
        }
        bool sel = st->sel >= 0 && st->sel < st->snap.n_layers;
        if (!strncmp(open, "{layer}", 7) || !strncmp(open, "{nextpin}", 9)) {
            if (!sel) {
                tui_app_msg(t, TS_BAD, "no layer selected");
                ok = false;
                break;
            }
            if (open[1] == 'l') {
                char q[512];
                tui_app_quote_arg(st->snap.layer[st->sel], q, sizeof q);
                strbuf_printf(&b, "%s", q);
            } else { /* auto > fp32 > fp16 > int8-dyn > int8-static > auto */
                int pin = st->snap.pin[st->sel];
                int next = pin + 1 >= PREC_COUNT ? -1 : pin + 1;
                strbuf_printf(&b, "%s", next < 0 ? "auto" : precision_table[next].name);
            }
        } else {
            strbuf_append(&b, open, (size_t)(close - open + 1));
        }
        p = close + 1;
    }
    if (ok)
        snprintf(out, cap, "%s", b.s ? b.s : "");
    strbuf_release(&b);
    return ok;
}

char *tui_app_pending_slot(TuiState *st, CmdFeeds feeds)
{
    switch (feeds) {
    case CMD_FEEDS_ERRORS:
        return st->pending_error;
    case CMD_FEEDS_METRIC:
        return st->pending_eval;
    case CMD_FEEDS_COMPARE:
        return st->pending_compare;
    default:
        return NULL;
    }
}

/* Figures a line of one command computes, shown as pending until it ends. A compare
 * covers every precision, so it is pending under the key without mode and pins. */
static void mark_pending(Tui *t, const CmdDef *def, const char *line)
{
    char *slot = def ? tui_app_pending_slot(&t->st, def->wb.feeds) : NULL;
    if (!slot || strchr(line, ';') || strchr(line, '\n'))
        return;
    const TuiSnap *sn = &t->st.snap;
    snprintf(slot, TUI_KEY_LEN, "%s", def->wb.feeds == CMD_FEEDS_COMPARE ? sn->base_key : sn->key);
}

/* `play FILE` typed or bound: the workbench plays it itself, a step per key. */
static void play_here(Tui *t, const char *line, size_t name_len, bool echo)
{
    char path[1024] = "";
    const char *p = line + strspn(line, " \t") + name_len;
    p += strspn(p, " \t");
    snprintf(path, sizeof path, "%s", p);
    size_t n = strlen(path);
    while (n && (path[n - 1] == ' ' || path[n - 1] == '\n'))
        path[--n] = '\0';
    if (n >= 2 && (path[0] == '"' || path[0] == '\'') && path[n - 1] == path[0]) {
        path[n - 1] = '\0';
        memmove(path, path + 1, n - 1);
    }
    if (echo)
        tui_app_event(t, TUI_EV_ECHO, NULL, line, false);
    if (!path[0])
        tui_app_msg(t, TS_BAD, "play: usage: play FILE.qs");
    else
        tui_app_play_start(t, path);
}

void tui_app_run_line(Tui *t, const char *line, unsigned flags, bool echo)
{
    char w[32];
    tui_app_first_word(line, w, sizeof w);
    const CmdDef *def = cmd_find(w);
    /* a line of that one command alone is the workbench's to carry out */
    CmdFeeds feeds = def && !strchr(line, ';') ? def->wb.feeds : CMD_FEEDS_CONSOLE;
    if (feeds == CMD_FEEDS_PLAYER) {
        play_here(t, line, strlen(w), echo);
        return;
    }
    if (feeds == CMD_FEEDS_QUIT) {
        tui_app_action(t, "quit");
        return;
    }
    if (echo)
        tui_app_event(t, TUI_EV_ECHO, NULL, line, false);
    bool was_auto = tui_exec_running(&t->ex) && (t->ex.cur.flags & TUI_TASK_AUTO);
    mark_pending(t, def, line);
    TuiRunHow how = tui_exec_submit(&t->ex, line, flags);
    if (how == TUI_RUN_QUEUED && !was_auto) {
        char m[256];
        snprintf(m, sizeof m, "queued: runs after '%s' (Esc cancels that)",
                 t->ex.cur.line ? t->ex.cur.line : "the running job");
        tui_app_msg(t, TS_DIM, m);
    }
    tui_app_pump(t);
}

void tui_app_run(Tui *t, const char *cmd)
{
    t->auto_streak = 0;
    char line[2048];
    if (!expand(t, cmd, line, sizeof line))
        return;
    const char *p = line + strspn(line, " \t");
    if (*p == '@')
        tui_app_action(t, p + 1);
    else if (*p)
        tui_app_run_line(t, p, 0, true);
}
