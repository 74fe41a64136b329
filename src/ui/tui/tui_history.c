#include "tui/tui_history.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/fileio.h"

/* The history file for appending, only when it is a regular file (or new): a FIFO or a
 * device at that path must neither block the workbench nor receive its lines. */
static FILE *history_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    struct stat st;
    FILE *f = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "a") : NULL;
    if (!f)
        close(fd);
    return f;
}

static void push(TuiHistory *h, const char *line)
{
    if (h->n == h->max) { /* drop the oldest */
        free(h->items[0]);
        memmove(h->items, h->items + 1, (size_t)(h->n - 1) * sizeof *h->items);
        h->n--;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->items = xrealloc(h->items, (size_t)h->cap * sizeof *h->items);
    }
    h->items[h->n++] = xstrdup(line);
}

/* Rewrites the file with what is in memory: it had grown past twice the limit. */
static void compact(TuiHistory *h)
{
    size_t n = strlen(h->path) + 5;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp", h->path);
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    for (int i = 0; ok && i < h->n; i++)
        ok = fprintf(f, "%s\n", h->items[i]) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok)
        ok = rename(tmp, h->path) == 0;
    if (!ok)
        remove(tmp);
    free(tmp);
}

static void probe(TuiHistory *h);

void tui_history_init(TuiHistory *h, const char *path, int max)
{
    memset(h, 0, sizeof *h);
    h->max = max < 1 ? 1 : max;
    if (!path)
        return;
    h->path = xstrdup(path);
    QsError err = { 0 };
    FILE *f = fileio_open_read(path, &err); /* regular files only: a FIFO would block */
    if (!f) {
        probe(h);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lines = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len > 0) {
            push(h, line);
            lines++;
        }
    }
    free(line);
    fclose(f);
    if (lines > 2 * h->max)
        compact(h);
    probe(h);
}

/* Whether the file can be appended to, asked once up front so the console can say so. */
static void probe(TuiHistory *h)
{
    FILE *f = history_append(h->path);
    if (!f || fclose(f) != 0)
        h->save_failed = true;
}

void tui_history_release(TuiHistory *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->items[i]);
    free(h->items);
    free(h->path);
    memset(h, 0, sizeof *h);
}

void tui_history_add(TuiHistory *h, const char *line)
{
    if (!line[0] || strchr(line, '\n') || (h->n && strcmp(h->items[h->n - 1], line) == 0))
        return;
    push(h, line);
    if (!h->path || h->save_failed)
        return;
    FILE *f = history_append(h->path);
    if (!f || fprintf(f, "%s\n", line) < 0)
        h->save_failed = true;
    if (f && fclose(f) != 0)
        h->save_failed = true;
}

char *tui_history_default_path(void)
{
    const char *home = getenv("HOME");
    if (!home || !home[0])
        return NULL;
    size_t n = strlen(home) + sizeof "/.qscope_history";
    char *p = xmalloc(n);
    snprintf(p, n, "%s/.qscope_history", home);
    return p;
}
