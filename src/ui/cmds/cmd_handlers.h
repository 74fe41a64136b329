/* Command handlers, grouped by topic in cmd_*.c; rows of the table in commands.c. */
#ifndef QS_CMD_HANDLERS_H
#define QS_CMD_HANDLERS_H

#include "cmds/commands.h"
#include "eval/metrics.h"

/* Fractions (accuracy, f1, success) show as percentages, error measures (MSE) plain. */
static inline RvStyle task_metric_style(TaskKind t)
{
    return task_table[t].higher_is_better ? RS_PCT : RS_PLAIN;
}

/* "target": the runtime whose integer arithmetic the plan's INT8 figures were computed
 * with (plan_target_name); absent when no layer runs on integers. */
static inline void result_plan_target(Result *r, const Plan *p)
{
    const char *t = plan_target_name(p);
    if (t)
        result_str(r, "target", t);
}

/* cmd_model.c */
QsStatus cmd_load(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_init(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_save(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_info(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_layers(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_fold(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_session.c */
QsStatus cmd_reset(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_session(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_data.c */
QsStatus cmd_data(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_eval(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_run(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_train.c */
QsStatus cmd_train(App *app, const CmdArgs *a, Result *r, QsError *err);
/* The class_weights option of train and qat: "auto" sets *autow; "w0,w1,..." (exactly C
 * finite, non-negative numbers) fills buf (C) and points *given at it; absent: nothing. */
QsStatus cmd_train_class_weights(const CmdArgs *a, int C, float *buf, bool *autow,
                                 const float **given, int *n_given, QsError *err);
/* cmd_qat.c */
QsStatus cmd_qat(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_quant.c */
QsStatus cmd_mode(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_prec(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_quant(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_calibrate(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_variant(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_compare(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_inspect.c */
QsStatus cmd_error(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_hist(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_analyze.c */
QsStatus cmd_sensitivity(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_fallback(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_diagnose(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_taps.c */
QsStatus cmd_taps(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_ties(App *app, const CmdArgs *a, Result *r, QsError *err);
/* diagnose taps=FILE: the dump compared with the plan's run (taps_* fields, and
 * target_mismatch when it differs only on ties another target's rule reproduces) */
QsStatus diagnose_taps(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_convergence(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_fix.c */
QsStatus cmd_biascorr(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_cle(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_pick.c */
QsStatus cmd_pick(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_export.c */
QsStatus cmd_export(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_report.c */
QsStatus cmd_report(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_device.c */
QsStatus cmd_device(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_bench.c */
QsStatus cmd_bench(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_shell.c */
QsStatus cmd_help(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_source(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_echo(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_check(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_let(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_keep(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_set(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_get(App *app, const CmdArgs *a, Result *r, QsError *err);
QsStatus cmd_quit(App *app, const CmdArgs *a, Result *r, QsError *err);
/* cmd_play.c */
QsStatus cmd_play(App *app, const CmdArgs *a, Result *r, QsError *err);

#endif
