#include "shell/progress.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

/* One job reports at a time in the plain front ends, on the thread that runs the command,
 * so the state is a single static record. */
static struct {
    FILE *out;
    bool shown;      /* a line is on the screen */
    bool running;    /* t0 and done0 belong to the current job */
    double t0, done0, last_done;
    int last_pct;
    char last_phase[32];
} pg;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_start(FILE *out)
{
    memset(&pg, 0, sizeof pg);
    pg.out = out;
}

/* "12s left", "3m05s left", "2h07m left". */
static void format_left(char *buf, size_t cap, double s)
{
    if (!(s < 360000.0)) /* NaN, or past 100 hours: nothing worth saying */
        s = 359999.0;
    long t = lround(s);
    if (t < 60)
        snprintf(buf, cap, "%lds left", t);
    else if (t < 3600)
        snprintf(buf, cap, "%ldm%02lds left", t / 60, t % 60);
    else
        snprintf(buf, cap, "%ldh%02ldm left", t / 3600, t / 60 % 60);
}

void progress_format(char *buf, size_t cap, const char *phase, double done0, double done,
                     double elapsed)
{
    int pct = (int)(done * 100.0);
    pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
    int n = snprintf(buf, cap, "%-11s %3d%%", phase ? phase : "", pct);
    if (n < 0 || (size_t)n >= cap || !(done > done0) || done >= 1.0)
        return;
    char left[32];
    format_left(left, sizeof left, elapsed * (1.0 - done) / (done - done0));
    snprintf(buf + n, cap - (size_t)n, "  %s", left);
}

void progress_clear(void)
{
    if (pg.out && pg.shown) {
        fputs("\r\033[K", pg.out);
        fflush(pg.out);
    }
    pg.shown = false;
    pg.running = false;
}

void progress_report(void *user, double frac, const char *phase)
{
    (void)user;
    if (!pg.out)
        return;
    if (!(frac >= 0.0))
        frac = 0.0;
    if (frac >= 1.0) { /* the job is done: its line goes */
        progress_clear();
        return;
    }
    double t = now_seconds();
    if (!pg.running || frac < pg.last_done) { /* a new job, or a new pass inside a command */
        pg.running = true;
        pg.t0 = t;
        pg.done0 = frac;
        pg.last_pct = -1;
    }
    pg.last_done = frac;
    int pct = (int)(frac * 100.0);
    const char *ph = phase ? phase : "";
    if (pct == pg.last_pct && strncmp(ph, pg.last_phase, sizeof pg.last_phase - 1) == 0)
        return;
    pg.last_pct = pct;
    snprintf(pg.last_phase, sizeof pg.last_phase, "%s", ph);
    char line[128];
    progress_format(line, sizeof line, ph, pg.done0, frac, t - pg.t0);
    fprintf(pg.out, "\r%s\033[K", line);
    fflush(pg.out);
    pg.shown = true;
}
