#include "tui/tui_keys.h"

#include <stdio.h>

#include "tui/tui_screen.h"

/* First match wins, so the narrower rows (a job running, a demo playing, the metrics pane)
 * come before the general ones for the same key. */
const TuiBinding tui_keys_table[] = {
    { TUI_KEY_ESC, TUI_IN_ALL | TUI_IN_JOB, "@cancel", "cancel the running job" },
    { TUI_KEY_CTRL_C, TUI_IN_ALL | TUI_IN_JOB, "@cancel", "cancel the running job" },
    { TUI_KEY_CTRL_C, TUI_IN_ALL | TUI_IN_IDLE, "@quit", "quit (offers to save unsaved work)" },
    { 'q', TUI_IN_PANES, "@quit", "quit (asks while a job runs, offers to save unsaved work)" },
    { '?', TUI_IN_PANES, "@help", "this help" },
    { TUI_KEY_F1, TUI_IN_ALL, "@help", "this help" },
    { '1', TUI_IN_PANES, "mode fp32", "whole model at FP32" },
    { '2', TUI_IN_PANES, "mode fp16", "whole model at FP16" },
    { '3', TUI_IN_PANES, "mode int8-dyn", "whole model at INT8 dynamic" },
    { '4', TUI_IN_PANES, "mode int8-static", "whole model at INT8 static" },
    { TUI_KEY_ESC, TUI_IN_PANES | TUI_IN_ZOOM, "@zoom off", "back from the enlarged pane" },
    { ' ', TUI_IN_PANES | TUI_IN_PLAY, "@play next", "demo: run the next step" },
    { TUI_KEY_BACKSPACE, TUI_IN_PANES | TUI_IN_PLAY, "@play back",
      "demo: back one step (replays from the start)" },
    { TUI_KEY_ESC, TUI_IN_PANES | TUI_IN_PLAY, "@play stop", "demo: stop playing" },
    { 'j', TUI_IN_PANES | TUI_IN_ZOOM, "@scroll +1", "enlarged pane: scroll down" },
    { 'k', TUI_IN_PANES | TUI_IN_ZOOM, "@scroll -1", "enlarged pane: scroll up" },
    { TUI_KEY_DOWN, TUI_IN_PANES | TUI_IN_ZOOM, "@scroll +1", "enlarged pane: scroll down" },
    { TUI_KEY_UP, TUI_IN_PANES | TUI_IN_ZOOM, "@scroll -1", "enlarged pane: scroll up" },
    { TUI_KEY_PGDN, TUI_IN_PANES | TUI_IN_ZOOM, "@scroll +page", "enlarged pane: a page down" },
    { TUI_KEY_PGUP, TUI_IN_PANES | TUI_IN_ZOOM, "@scroll -page", "enlarged pane: a page up" },
    { 'j', TUI_IN_METRICS, "@scroll +1", "metrics: scroll down" },
    { 'k', TUI_IN_METRICS, "@scroll -1", "metrics: scroll up" },
    { TUI_KEY_DOWN, TUI_IN_METRICS, "@scroll +1", "metrics: scroll down" },
    { TUI_KEY_UP, TUI_IN_METRICS, "@scroll -1", "metrics: scroll up" },
    { 'j', TUI_IN_PANES, "@select +1", "next layer" },
    { 'k', TUI_IN_PANES, "@select -1", "previous layer" },
    { TUI_KEY_DOWN, TUI_IN_PANES, "@select +1", "next layer" },
    { TUI_KEY_UP, TUI_IN_PANES, "@select -1", "previous layer" },
    { TUI_KEY_PGDN, TUI_IN_PANES, "@select +page", "a page of layers down" },
    { TUI_KEY_PGUP, TUI_IN_PANES, "@select -page", "a page of layers up" },
    { 'g', TUI_IN_PANES, "@select first", "first layer" },
    { TUI_KEY_HOME, TUI_IN_PANES, "@select first", "first layer" },
    { 'G', TUI_IN_PANES, "@select last", "last layer" },
    { TUI_KEY_END, TUI_IN_PANES, "@select last", "last layer" },
    { TUI_KEY_TAB, TUI_IN_PANES, "@focus next", "next pane" },
    { TUI_KEY_BTAB, TUI_IN_ALL, "@focus prev", "previous pane" },
    { 'f', TUI_IN_PANES, "prec {layer} {nextpin}",
      "pin the layer: auto > fp32 > fp16 > int8-dyn > int8-static > auto" },
    { 'F', TUI_IN_PANES, "prec {layer} auto", "unpin the layer (back to the model's mode)" },
    { 'z', TUI_IN_PANES, "@zoom console", "the console to the whole screen and back" },
    { 'Z', TUI_IN_PANES, "@zoom focus", "the focused pane to the whole screen and back" },
    { 'w', TUI_IN_PANES, "@view weights", "detail: weights" },
    { 'a', TUI_IN_PANES, "@view act", "detail: activations" },
    { ':', TUI_IN_PANES, "@focus console", "type a command" },
    { 'c', TUI_IN_PANES, "calibrate", "calibrate on the calib split" },
    { 'e', TUI_IN_PANES, "eval", "evaluate the current plan" },
    { 's', TUI_IN_PANES, "sensitivity", "rank the layers by harm" },
    { 'm', TUI_IN_PANES, "compare", "metrics of every precision and variant" },
    { 'E', TUI_IN_PANES, "error", "per-layer error against FP32" },
    { 'r', TUI_IN_PANES, "@refresh", "recompute the figures shown" },
    { 'A', TUI_IN_PANES, "@auto toggle", "automatic figures on/off" },
    { TUI_KEY_PGUP, TUI_IN_CONSOLE, "@scroll -page", "console: scroll back" },
    { TUI_KEY_PGDN, TUI_IN_CONSOLE, "@scroll +page", "console: scroll forward" },
    { TUI_KEY_ESC, TUI_IN_CONSOLE, "@focus layers", "leave the command line" },
};
const int tui_keys_count = sizeof tui_keys_table / sizeof tui_keys_table[0];

const TuiBinding *tui_keys_lookup(int key, unsigned where)
{
    for (int i = 0; i < tui_keys_count; i++) {
        const TuiBinding *b = &tui_keys_table[i];
        unsigned conds = b->scope & ~(unsigned)TUI_IN_ALL;
        if (b->key == key && (b->scope & where & TUI_IN_ALL) && (conds & where) == conds)
            return b;
    }
    return NULL;
}

const char *tui_keys_name(int key, char *buf, size_t cap)
{
    static const struct {
        int key;
        const char *name;
    } names[] = {
        { TUI_KEY_CTRL_C, "Ctrl-C" }, { TUI_KEY_TAB, "Tab" },       { TUI_KEY_ENTER, "Enter" },
        { TUI_KEY_ESC, "Esc" },       { TUI_KEY_BACKSPACE, "Bksp" }, { TUI_KEY_UP, "Up" },
        { TUI_KEY_DOWN, "Down" },     { TUI_KEY_LEFT, "Left" },     { TUI_KEY_RIGHT, "Right" },
        { TUI_KEY_HOME, "Home" },     { TUI_KEY_END, "End" },       { TUI_KEY_PGUP, "PgUp" },
        { TUI_KEY_PGDN, "PgDn" },     { TUI_KEY_DEL, "Del" },       { TUI_KEY_BTAB, "S-Tab" },
        { TUI_KEY_F1, "F1" },         { ' ', "Space" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].key == key) {
            snprintf(buf, cap, "%s", names[i].name);
            return buf;
        }
    if (key > 0 && key < 32)
        snprintf(buf, cap, "Ctrl-%c", '@' + key);
    else if (key > 0 && key < 0x110000) {
        char enc[5];
        tui_screen_utf8_encode((unsigned)key, enc);
        snprintf(buf, cap, "%s", enc);
    } else
        snprintf(buf, cap, "?");
    return buf;
}
