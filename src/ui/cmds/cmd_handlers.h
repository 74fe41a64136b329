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

#define CMD_HANDLER(name) QsStatus name(App *app, const CmdArgs *a, Result *r, QsError *err)

/* cmd_model.c */
CMD_HANDLER(cmd_load);
CMD_HANDLER(cmd_init);
CMD_HANDLER(cmd_save);
CMD_HANDLER(cmd_info);
CMD_HANDLER(cmd_layers);
CMD_HANDLER(cmd_fold);
/* cmd_data.c */
CMD_HANDLER(cmd_data);
CMD_HANDLER(cmd_eval);
CMD_HANDLER(cmd_run);
/* cmd_train.c */
CMD_HANDLER(cmd_train);
/* The class_weights option of train and qat: "auto" sets *autow; "w0,w1,..." (exactly C
 * finite, non-negative numbers) fills buf (C) and points *given at it; absent: nothing. */
QsStatus cmd_train_class_weights(const CmdArgs *a, int C, float *buf, bool *autow,
                                 const float **given, int *n_given, QsError *err);
/* cmd_qat.c */
CMD_HANDLER(cmd_qat);
/* cmd_quant.c */
CMD_HANDLER(cmd_mode);
CMD_HANDLER(cmd_prec);
CMD_HANDLER(cmd_quant);
CMD_HANDLER(cmd_calibrate);
CMD_HANDLER(cmd_variant);
CMD_HANDLER(cmd_compare);
/* cmd_inspect.c */
CMD_HANDLER(cmd_error);
CMD_HANDLER(cmd_hist);
/* cmd_analyze.c */
CMD_HANDLER(cmd_sensitivity);
CMD_HANDLER(cmd_fallback);
CMD_HANDLER(cmd_diagnose);
/* cmd_fix.c */
CMD_HANDLER(cmd_biascorr);
CMD_HANDLER(cmd_cle);
/* cmd_pick.c */
CMD_HANDLER(cmd_pick);
/* cmd_export.c */
CMD_HANDLER(cmd_export);
/* cmd_report.c */
CMD_HANDLER(cmd_report);
/* cmd_bench.c */
CMD_HANDLER(cmd_bench);
/* cmd_shell.c */
CMD_HANDLER(cmd_help);
CMD_HANDLER(cmd_source);
CMD_HANDLER(cmd_echo);
CMD_HANDLER(cmd_check);
CMD_HANDLER(cmd_let);
CMD_HANDLER(cmd_keep);
CMD_HANDLER(cmd_set);
CMD_HANDLER(cmd_get);
CMD_HANDLER(cmd_quit);
/* cmd_play.c */
CMD_HANDLER(cmd_play);

#endif
