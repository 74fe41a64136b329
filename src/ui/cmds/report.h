/* `report`: the session written to a file for a pull request or a CI run. Both forms run
 * the commands that answer a reader's questions, quietly, and keep their results: the JSON
 * report (cmd_report.c) stores them as the commands' JSON; the HTML report
 * (report_html.c, report_layers.c) shows them as tables and inline SVG figures, each
 * captioned with the command line that made it. A command that cannot run in this session
 * (no calibration, no labels) becomes a one-line "skipped" entry with its reason. */
#ifndef QS_REPORT_H
#define QS_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "cmds/app.h"
#include "text/result.h"
#include "text/strbuf.h"

/* Runs the command text `cmd` quietly into r. When it fails for any reason but
 * cancellation, *ran is false, why holds its message and QS_OK is returned; a cancellation
 * (Ctrl-C) fails the report with QS_ECANCELLED. */
QsStatus report_run(App *app, const char *cmd, Result *r, bool *ran, char *why, size_t cap,
                    QsError *err);

/* Writes the HTML report to path (atomically: path.tmp, then renamed). `title_cmd`: the
 * report's own command line, shown under the title; `pick`: the pick command to run. */
QsStatus report_html(App *app, const char *path, const char *title_cmd, const char *pick,
                     QsError *err);

/* The HTML report's per-layer figures (report_layers.c). `layers` is the result of the
 * `layers` command, `local` and `accum` those of `error local` and `error accum` (each NULL
 * when its command failed; the page then says why next to it). */
/* SQNR per layer, local and accumulated: one row per row of `layers`, so one bar per
 * layer and kind; a layer with no figure of its own (fused into its unit) has an empty
 * bar. Nothing when neither error command ran. */
void report_error_figure(StrBuf *b, const Result *layers, const Result *local,
                         const Result *accum);
/* The sections of activation histograms (`hist LAYER act` for each layer whose output is
 * quantized) and of per-channel weight ranges (`hist LAYER weights` for each layer with
 * weights), each figure captioned with its command. */
QsStatus report_act_section(App *app, StrBuf *b, const Result *layers, QsError *err);
QsStatus report_weight_section(App *app, StrBuf *b, const Result *layers, QsError *err);

#endif
