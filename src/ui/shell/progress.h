/* The plain front ends' progress line on stderr: "calibrate    42%  12s left", rewritten in
 * place (carriage return, the text, then clear to the end of the line, so a shorter line
 * leaves nothing behind) and erased when the job ends or anything else is printed. Time
 * left is estimated from the time since the job's first report and the fraction done
 * since then. Shown on a terminal, or anywhere with --progress; never with --quiet. */
#ifndef QS_PROGRESS_H
#define QS_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

/* Sends the line to out (NULL: progress is off, the callbacks do nothing). */
void progress_start(FILE *out);

/* The JobCtx callback (base/job.h): frac in [0, 1] of the whole job, phase a short label. */
void progress_report(void *user, double frac, const char *phase);

/* Erases a line that is showing; call before printing anything else to the terminal. */
void progress_clear(void);

/* The line's text without the control bytes: phase, percent and, once something was done
 * (done > done0), the time left from `elapsed` seconds since done0. Pure, for tests. */
void progress_format(char *buf, size_t cap, const char *phase, double done0, double done,
                     double elapsed);

#endif
