#include "tui/tui_complete.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds/commands.h"
#include "base/error.h"
#include "quant/observer.h"
#include "cmds/options.h"
#include "quant/plan.h"

static void add(TuiCompletion *c, const char *prefix, const char *item, int *cap)
{
    if (strncmp(item, prefix, strlen(prefix)) != 0)
        return;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->items[i], item) == 0)
            return;
    if (c->n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        c->items = xrealloc(c->items, (size_t)*cap * sizeof *c->items);
    }
    c->items[c->n++] = xstrdup(item);
}

static void add_list(TuiCompletion *c, const char *prefix, const char *const *list, int *cap)
{
    for (; *list; list++)
        add(c, prefix, *list, cap);
}

static void add_precisions(TuiCompletion *c, const char *prefix, int *cap)
{
    for (int k = 0; k < PREC_COUNT; k++)
        add(c, prefix, precision_table[k].name, cap);
}

/* Files and directories matching the word; "dir/par" lists dir's entries starting "par". */
static void add_files(TuiCompletion *c, const char *word, int *cap)
{
    const char *slash = strrchr(word, '/');
    size_t dlen = slash ? (size_t)(slash - word) + 1 : 0;
    char *dir = xmalloc(dlen + 2);
    if (dlen) {
        memcpy(dir, word, dlen);
        dir[dlen] = '\0';
    } else {
        strcpy(dir, "./");
    }
    const char *base = word + dlen;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (e->d_name[0] == '.' && base[0] != '.')
                continue;
            if (strncmp(e->d_name, base, strlen(base)) != 0)
                continue;
            size_t n = dlen + strlen(e->d_name) + 2;
            char *item = xmalloc(n), *full = xmalloc(strlen(dir) + strlen(e->d_name) + 1);
            strcpy(full, dir);
            strcat(full, e->d_name);
            struct stat sb;
            bool is_dir = stat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
            memcpy(item, word, dlen);
            strcpy(item + dlen, e->d_name);
            if (is_dir)
                strcat(item, "/");
            add(c, word, item, cap);
            free(item);
            free(full);
        }
        closedir(d);
    }
    free(dir);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Values that a key=value option takes, for the options with a fixed set. */
static void add_values(TuiCompletion *c, const char *key, const char *prefix, int *cap)
{
    static const char *const wgran[] = { "channel", "tensor", NULL };
    static const char *const splits[] = { "calib", "eval", "train", NULL };
    static const char *const to[] = { "fp16", "fp32", NULL };
    static const char *const bools[] = { "0", "1", NULL };
    static const char *const opt[] = { "adam", "adamw", "sgd", NULL };
    static const char *const task[] = { "classify", "multilabel", "regress", NULL };
    if (strcmp(key, "observer") == 0)
        for (int k = 0; k < OBS_COUNT; k++)
            add(c, prefix, observer_table[k].name, cap);
    else if (strcmp(key, "wgran") == 0)
        add_list(c, prefix, wgran, cap);
    else if (strcmp(key, "split") == 0 || strcmp(key, "val") == 0)
        add_list(c, prefix, splits, cap);
    else if (strcmp(key, "to") == 0)
        add_list(c, prefix, to, cap);
    else if (strcmp(key, "asym") == 0)
        add_list(c, prefix, bools, cap);
    else if (strcmp(key, "opt") == 0)
        add_list(c, prefix, opt, cap);
    else if (strcmp(key, "task") == 0)
        add_list(c, prefix, task, cap);
    else if (strcmp(key, "out") == 0)
        add_files(c, prefix, cap);
}

/* Positional argument `pos` (1-based) of command `cmd`. */
static void add_positional(TuiCompletion *c, const CmdDef *def, int pos, const char *word,
                           const char *const *layers, int n_layers, int *cap)
{
    static const char *const hist_what[] = { "act", "weights", NULL };
    static const char *const error_kind[] = { "accum", "local", NULL };
    static const char *const variant_verbs[] = { "save", "use", "drop", "list", NULL };
    static const char *const splits[] = { "calib", "eval", "train", NULL };
    static const char *const fold_what[] = { "scales", NULL };
    static const char *const file_cmds[] = { "load", "save", "source", "play", "run", "init",
                                             NULL };
    const char *name = def->name;
    for (const char *const *f = file_cmds; *f; f++)
        if (strcmp(name, *f) == 0) {
            add_files(c, word, cap);
            return;
        }
    if (strcmp(name, "data") == 0) {
        if (pos == 1)
            add_list(c, word, splits, cap);
        else
            add_files(c, word, cap);
    } else if (strcmp(name, "mode") == 0) {
        add_precisions(c, word, cap);
    } else if (strcmp(name, "prec") == 0 || strcmp(name, "hist") == 0) {
        if (pos == 1) {
            for (int i = 0; i < n_layers; i++)
                add(c, word, layers[i], cap);
        } else if (strcmp(name, "prec") == 0) {
            add_precisions(c, word, cap);
            add(c, word, "auto", cap);
        } else {
            add_list(c, word, hist_what, cap);
        }
    } else if (strcmp(name, "error") == 0) {
        add_list(c, word, error_kind, cap);
    } else if (strcmp(name, "variant") == 0 && pos == 1) {
        add_list(c, word, variant_verbs, cap);
    } else if (strcmp(name, "help") == 0) {
        for (int i = 0; i < cmd_count; i++)
            add(c, word, cmd_table[i].name, cap);
    } else if (strcmp(name, "get") == 0) {
        for (int k = 0; k < option_count; k++)
            add(c, word, option_table[k].name, cap);
    } else if (strcmp(name, "fold") == 0) {
        add_list(c, word, fold_what, cap);
    } else if (strcmp(name, "echo") != 0 && strcmp(name, "check") != 0) {
        for (int i = 0; i < n_layers; i++)
            add(c, word, layers[i], cap);
    }
}

void tui_complete(const char *line, size_t cur, const char *const *layers, int n_layers,
                  TuiCompletion *out)
{
    memset(out, 0, sizeof *out);
    int cap = 0;
    size_t len = strlen(line);
    if (cur > len)
        cur = len;
    /* The command being typed starts after the last ';' before the cursor. */
    size_t cmd_start = cur;
    while (cmd_start > 0 && line[cmd_start - 1] != ';')
        cmd_start--;
    size_t start = cur;
    while (start > cmd_start && line[start - 1] != ' ')
        start--;
    out->start = start;
    char *word = xmalloc(cur - start + 1);
    memcpy(word, line + start, cur - start);
    word[cur - start] = '\0';
    /* The words before it: the command name and the number of positionals. */
    char first[64] = "";
    int n_words = 0, n_pos = 0;
    for (size_t i = cmd_start; i < start;) {
        while (i < start && line[i] == ' ')
            i++;
        size_t j = i;
        while (j < start && line[j] != ' ')
            j++;
        if (j > i) {
            if (n_words == 0 && j - i < sizeof first) {
                memcpy(first, line + i, j - i);
                first[j - i] = '\0';
            } else if (!memchr(line + i, '=', j - i)) {
                n_pos++;
            }
            n_words++;
        }
        i = j;
    }
    if (n_words == 0) {
        for (int i = 0; i < cmd_count; i++)
            add(out, word, cmd_table[i].name, &cap);
    } else if (word[0] == '@') {
        /* workbench actions are not completed: they are bound to keys */
    } else {
        const CmdDef *def = cmd_find(first);
        const char *eq = strchr(word, '=');
        if (def && eq) {
            char key[64];
            size_t klen = (size_t)(eq - word);
            if (klen < sizeof key) {
                memcpy(key, word, klen);
                key[klen] = '\0';
                TuiCompletion vals = { 0 };
                int vcap = 0;
                add_values(&vals, key, eq + 1, &vcap);
                for (int i = 0; i < vals.n; i++) {
                    char *item = xmalloc(klen + 1 + strlen(vals.items[i]) + 1);
                    memcpy(item, word, klen + 1);
                    strcpy(item + klen + 1, vals.items[i]);
                    add(out, word, item, &cap);
                    free(item);
                }
                tui_complete_release(&vals);
            }
        } else if (def) {
            char opt[80];
            if (def->flags & CMD_SETTINGS) {
                for (int k = 0; k < option_count; k++) {
                    snprintf(opt, sizeof opt, "%s=", option_table[k].name);
                    add(out, word, opt, &cap);
                }
            } else {
                for (const CmdOpt *o = def->opts; o->name; o++) {
                    snprintf(opt, sizeof opt, "%s=", o->name);
                    add(out, word, opt, &cap);
                }
            }
            if (n_pos < def->max_pos)
                add_positional(out, def, n_pos + 1, word, layers, n_layers, &cap);
        }
        if (strchr(word, '/') || word[0] == '.') /* anything that looks like a path */
            add_files(out, word, &cap);
    }
    free(word);
    if (out->n > 1)
        qsort(out->items, (size_t)out->n, sizeof *out->items, cmp_str);
}

void tui_complete_release(TuiCompletion *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->items[i]);
    free(c->items);
    memset(c, 0, sizeof *c);
}

char *tui_complete_common(const TuiCompletion *c)
{
    if (c->n == 0)
        return xstrdup("");
    size_t n = strlen(c->items[0]);
    for (int i = 1; i < c->n; i++) {
        size_t k = 0;
        while (k < n && c->items[i][k] == c->items[0][k])
            k++;
        n = k;
    }
    /* never split a UTF-8 sequence */
    while (n > 0 && ((unsigned char)c->items[0][n] & 0xc0) == 0x80)
        n--;
    char *s = xmalloc(n + 1);
    memcpy(s, c->items[0], n);
    s[n] = '\0';
    return s;
}
