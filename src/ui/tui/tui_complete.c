#include "tui/tui_complete.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "cmds/commands.h"
#include "cmds/options.h"

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

/* Files and directories matching the word; "dir/par" lists dir's entries starting "par". */
static void add_files(TuiCompletion *c, const char *word, int *cap)
{
    const char *slash = strrchr(word, '/');
    size_t dlen = slash ? (size_t)(slash - word) + 1 : 0;
    char *dir = xmalloc(dlen + 3); /* the word's folder, or "./" */
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

static void add_names(TuiCompletion *c, const char *prefix, const char *const *names, int n,
                      int *cap)
{
    for (int i = 0; i < n; i++)
        add(c, prefix, names[i], cap);
}

/* The values an argument or option of this kind takes. */
static void add_values(TuiCompletion *c, const CmdOpt *o, const char *prefix,
                       const TuiCompleteNames *nm, int *cap)
{
    OptChoices choices = optkind_choices(o->kind, o->choices);
    const char *name;
    for (int i = 0; choices && (name = choices(i)); i++)
        add(c, prefix, name, cap);
    if (o->kind == OPT_FILE)
        add_files(c, prefix, cap);
    else if (o->kind == OPT_LAYER && nm)
        add_names(c, prefix, nm->layers, nm->n_layers, cap);
    else if (o->kind == OPT_VARIANT && nm)
        add_names(c, prefix, nm->variants, nm->n_variants, cap);
}

/* The row of option `key` of def (for `set`, the setting's, copied into *tmp), or NULL. */
static const CmdOpt *find_opt(const CmdDef *def, const char *key, CmdOpt *tmp)
{
    if (def->flags & CMD_SETTINGS) {
        const OptionDef *o = option_find(key);
        if (!o)
            return NULL;
        *tmp = (CmdOpt){ .name = o->name, .kind = o->kind, .choices = o->choices };
        return tmp;
    }
    for (const CmdOpt *o = def->opts; o->name; o++)
        if (strcmp(o->name, key) == 0)
            return o;
    return NULL;
}

/* "key=value": the values of option key, each as the whole word. A list (LIST, LAYER)
 * completes its last comma-separated item. */
static void add_option_values(TuiCompletion *out, const CmdDef *def, const char *word,
                              const TuiCompleteNames *nm, int *cap)
{
    const char *eq = strchr(word, '=');
    char key[64];
    size_t klen = (size_t)(eq - word);
    if (klen >= sizeof key)
        return;
    memcpy(key, word, klen);
    key[klen] = '\0';
    CmdOpt tmp;
    const CmdOpt *o = find_opt(def, key, &tmp);
    if (!o)
        return;
    const char *item = eq + 1;
    if (o->kind == OPT_LIST || o->kind == OPT_LAYER) {
        const char *comma = strrchr(item, ',');
        if (comma)
            item = comma + 1;
    }
    size_t head = (size_t)(item - word); /* what stays of the word before each value */
    TuiCompletion vals = { 0 };
    int vcap = 0;
    add_values(&vals, o, item, nm, &vcap);
    for (int i = 0; i < vals.n; i++) {
        char *full = xmalloc(head + strlen(vals.items[i]) + 1);
        memcpy(full, word, head);
        strcpy(full + head, vals.items[i]);
        add(out, word, full, cap);
        free(full);
    }
    tui_complete_release(&vals);
}

/* Option names ("key=") and positional argument `pos` (1-based) of def. */
static void add_options_and_argument(TuiCompletion *out, const CmdDef *def, int pos,
                                     const char *word, const TuiCompleteNames *nm, int *cap)
{
    char opt[80];
    if (def->flags & CMD_SETTINGS) {
        for (int k = 0; k < option_count; k++) {
            snprintf(opt, sizeof opt, "%s=", option_table[k].name);
            add(out, word, opt, cap);
        }
    } else {
        for (const CmdOpt *o = def->opts; o->name; o++) {
            snprintf(opt, sizeof opt, "%s=", o->name);
            add(out, word, opt, cap);
        }
    }
    int n_args = 0;
    while (def->args && def->args[n_args].name)
        n_args++;
    if (pos <= def->max_pos && pos <= n_args)
        add_values(out, &def->args[pos - 1], word, nm, cap);
}

void tui_complete(const char *line, size_t cur, const TuiCompleteNames *names,
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
        if (def && strchr(word, '='))
            add_option_values(out, def, word, names, &cap);
        else if (def)
            add_options_and_argument(out, def, n_pos + 1, word, names, &cap);
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
