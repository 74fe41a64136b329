#include "cmds/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/cmd_device.h"
#include "cmds/cmd_handlers.h"
#include "cmds/options.h"
#include "text/strbuf.h"

static const CmdOpt none[] = { { 0 } };

/* ---- positional arguments (completion) ---- */

static const CmdOpt file_arg[] = { { .name = "PATH", .kind = OPT_FILE }, { 0 } };
static const CmdOpt data_args[] = {
    { .name = "SPLIT", .kind = OPT_SPLIT },
    { .name = "X", .kind = OPT_FILE, .choices = choice_synth_source },
    { .name = "Y", .kind = OPT_FILE },
    { 0 },
};
static const CmdOpt mode_args[] = {
    { .name = "PRECISION", .kind = OPT_CHOICE, .choices = choice_precision },
    { 0 },
};
static const CmdOpt prec_args[] = {
    { .name = "LAYER", .kind = OPT_LAYER },
    { .name = "PRECISION", .kind = OPT_CHOICE, .choices = choice_precision_or_auto },
    { 0 },
};
static const CmdOpt hist_args[] = {
    { .name = "LAYER", .kind = OPT_LAYER },
    { .name = "WHAT", .kind = OPT_CHOICE, .choices = choice_hist_what },
    { 0 },
};
static const CmdOpt error_args[] = {
    { .name = "KIND", .kind = OPT_CHOICE, .choices = choice_error_kind },
    { 0 },
};
static const CmdOpt taps_args[] = {
    { .name = "VERB", .kind = OPT_CHOICE, .choices = choice_taps_verb },
    { .name = "FILE", .kind = OPT_FILE },
    { 0 },
};
static const CmdOpt ties_args[] = {
    { .name = "LAYER", .kind = OPT_LAYER },
    { 0 },
};
static const CmdOpt variant_args[] = {
    { .name = "VERB", .kind = OPT_CHOICE, .choices = choice_variant_verb },
    { .name = "NAME", .kind = OPT_VARIANT },
    { 0 },
};
static const CmdOpt session_args[] = {
    { .name = "VERB", .kind = OPT_CHOICE, .choices = choice_session_verb },
    { .name = "FILE", .kind = OPT_FILE },
    { 0 },
};
static const CmdOpt fold_args[] = {
    { .name = "WHAT", .kind = OPT_CHOICE, .choices = choice_fold_what },
    { 0 },
};
static const CmdOpt help_args[] = { { .name = "COMMAND", .kind = OPT_COMMAND }, { 0 } };
static const CmdOpt get_args[] = { { .name = "NAME", .kind = OPT_SETTING }, { 0 } };

/* ---- options ---- */

static const CmdOpt init_opts[] = {
    { "seed", OPT_INT, NULL, "initialisation seed (default: the spec's \"seed\", else 1)" },
    { 0 },
};

static const CmdOpt data_opts[] = {
    { "n", OPT_INT, NULL, "keep only the first N samples (after skip)" },
    { "skip", OPT_INT, NULL, "drop the first K samples (carve a validation split: skip=7000)" },
    { "scale", OPT_FLOAT, NULL,
      "multiply every input value by this first (e.g. 0.00392157 for bytes)" },
    { "mean", OPT_FLOAT, NULL, "then subtract this" },
    { "std", OPT_FLOAT, NULL, "then divide by this" },
    { "labels", OPT_TEXT, NULL, "'none' to ignore a CSV label column or the npz member y" },
    { "seed", OPT_INT, NULL, "synth: the generator's seed (default: option seed)" },
    { 0 },
};

static const CmdOpt eval_opts[] = {
    { "split", OPT_SPLIT, NULL, "the split to evaluate (default eval)" },
    { "n", OPT_INT, NULL, "evaluate only the first N samples" },
    { "task", OPT_CHOICE, choice_task, "what the labels are (default: model metadata, then "
                                       "labels)" },
    { "batch", OPT_INT, NULL, "samples per forward pass (default: option batch)" },
    { 0 },
};

static const CmdOpt train_opts[] = {
    { "epochs", OPT_INT, NULL, "passes over the train split (default 10)" },
    { "lr", OPT_FLOAT, NULL, "learning rate (default: sgd 0.01, adam/adamw 0.001)" },
    { "batch", OPT_INT, NULL, "samples per step (default 32)" },
    { "opt", OPT_CHOICE, choice_optim, "the optimizer (default adam)" },
    { "momentum", OPT_FLOAT, NULL, "sgd momentum (default 0.9)" },
    { "wd", OPT_FLOAT, NULL, "weight decay (default: 0; adamw 0.01, decoupled)" },
    { "loss", OPT_CHOICE, choice_loss, "the loss (default: from the task)" },
    { "class_weights", OPT_TEXT, NULL,
      "auto (inverse class frequency, mean 1) or w0,w1,... (cross-entropy)" },
    { "label_smoothing", OPT_FLOAT, NULL, "cross-entropy label smoothing in [0, 1] (default 0)" },
    { "schedule", OPT_CHOICE, choice_schedule, "the learning-rate schedule (default constant)" },
    { "step_size", OPT_INT, NULL, "step schedule: epochs per decay (default 10)" },
    { "gamma", OPT_FLOAT, NULL, "step schedule: decay factor (default 0.1)" },
    { "clip", OPT_FLOAT, NULL, "clip the global gradient norm to this (default 0: off)" },
    { "val", OPT_CHOICE, choice_split_or_none,
      "the split that picks the best epoch (default calib when labelled, else none: the "
      "train loss; eval only when named, with a warning)" },
    { "patience", OPT_INT, NULL, "stop after K epochs without improvement (default 0: never)" },
    { "seed", OPT_INT, NULL, "shuffling seed (default: option seed)" },
    { 0 },
};

static const CmdOpt bench_opts[] = {
    { "split", OPT_SPLIT, NULL, "the split to time (default eval)" },
    { "n", OPT_INT, NULL, "samples per timed pass (default: the whole split)" },
    { "batch", OPT_INT, NULL, "samples per forward pass (default: option batch)" },
    { "repeat", OPT_INT, NULL,
      "timed passes (default 5); the median is reported with min and max" },
    { "warmup", OPT_INT, NULL,
      "untimed passes first (default 1; with precisions= the first one scores)" },
    { "precisions", OPT_LIST, choice_precision,
      "one row each with file size, memory, latency and the metric (default: time the "
      "current plan only)" },
    { "wgran", OPT_CHOICE, choice_wgran,
      "with precisions=: int8 weight scales per channel or per tensor (default: the plan's)" },
    { "files", OPT_FILE, NULL, "with precisions=: keep each row's ONNX file as "
                              "PREFIX_<precision>.onnx (default: a temporary file, removed)" },
    { "target", OPT_CHOICE, choice_device_target,
      "also the device profile's estimated latency, arena and size per plan (see device)" },
    { "io", OPT_CHOICE, choice_device_io, "with target=: float (default) or int8 graph inputs/outputs" },
    { 0 },
};

static const CmdOpt device_opts[] = {
    { "target", OPT_CHOICE, choice_device_target,
      "the device (without it: the table of targets)" },
    { "io", OPT_CHOICE, choice_device_io, "float (default): QUANTIZE/DEQUANTIZE at an int8 plan's edges; "
                              "int8: int8 graph inputs and outputs" },
    { "variant", OPT_VARIANT, NULL, "profile this saved variant's plan (default: the current "
                                    "plan)" },
    { "part", OPT_TEXT, NULL, "only this part of the model (its metadata 'parts'), deployed as "
                              "a file of its own" },
    { 0 },
};

static const CmdOpt quant_opts[] = {
    { "wgran", OPT_CHOICE, choice_wgran_or_auto,
      "weight scales per output channel (default) or one per tensor; with layer=, auto "
      "makes the layers follow the plan's again" },
    { "layer", OPT_LAYER, NULL, "LAYER,..: set wgran for these layers only (a Conv, Dense, "
      "Gemm or MatMul each)" },
    { "observer", OPT_CHOICE, choice_observer, "how activation ranges are set" },
    { "pct", OPT_FLOAT, NULL, "percentile observer: share of values kept, e.g. 99.99 (default)" },
    { "bits", OPT_INT, NULL, "2 to 8 (default 8), weights and activations" },
    { "asym", OPT_BOOL, NULL, "1 (default): asymmetric activations; 0: symmetric" },
    { "target", OPT_CHOICE, choice_target,
      "whose integer arithmetic int8 runs compute: qscope (default, one rounding, ties to "
      "even), xnnpack (LiteRT's CPU delegate), tflm (TFLite Micro and the reference kernels), "
      "ort (ONNX Runtime); it also sets how int8-dyn quantizes activations (per row, image "
      "or pixel as that runtime's kernels do); docs/quantization.md, Targets" },
    { 0 },
};

static const CmdOpt calibrate_opts[] = {
    { "split", OPT_SPLIT, NULL, "the split to calibrate on (default calib)" },
    { "n", OPT_INT, NULL, "use only the first N samples" },
    { "batch", OPT_INT, NULL, "samples per forward pass (default: option batch)" },
    { "observer", OPT_CHOICE, choice_observer,
      "also switch the observer (no second pass needed later either)" },
    { "wgran", OPT_CHOICE, choice_wgran, "as for quant" },
    { "pct", OPT_FLOAT, NULL, "as for quant" },
    { "bits", OPT_INT, NULL, "as for quant" },
    { "asym", OPT_BOOL, NULL, "as for quant" },
    { 0 },
};

static const CmdOpt compare_opts[] = {
    { "split", OPT_SPLIT, NULL, "the labelled split to compare on (default eval)" },
    { "n", OPT_INT, NULL, "use only the first N samples" },
    { 0 },
};

static const CmdOpt error_opts[] = {
    { "n", OPT_INT, NULL, "samples to measure on (default 256)" },
    { "split", OPT_SPLIT, NULL, "the split (default eval, else calib)" },
    { 0 },
};

static const CmdOpt hist_opts[] = {
    { "width", OPT_INT, NULL, "columns (default 64)" },
    { "height", OPT_INT, NULL, "rows (default 10)" },
    { "top", OPT_INT, NULL, "weights: list every channel up to N, else the N widest "
      "(default 32)" },
    { 0 },
};

static const CmdOpt sens_opts[] = {
    { "split", OPT_SPLIT, NULL, "the labelled split that ranks (default calib; eval only "
                                "when named, with a warning)" },
    { "n", OPT_INT, NULL, "use only the first N samples" },
    { 0 },
};

static const CmdOpt fallback_opts[] = {
    { "drop", OPT_TEXT, NULL, "the largest acceptable drop against FP32, a fraction of the "
                              "metric: 0.01 or 1% (same as drop<=X)" },
    { "to", OPT_CHOICE, choice_float_precision,
      "the precision the layers fall back to (default fp16)" },
    { "split", OPT_SPLIT, NULL, "the labelled split that decides (default calib; eval only "
                                "when named, with a warning); the result is also scored on "
                                "eval" },
    { "n", OPT_INT, NULL, "use only the first N samples" },
    { 0 },
};

static const CmdOpt diagnose_opts[] = {
    { "split", OPT_SPLIT, NULL, "the validation split the errors and fixes are measured on "
      "(default calib; eval only with a warning)" },
    { "n", OPT_INT, NULL, "use only the first N samples (default: all)" },
    { "taps", OPT_FILE, NULL, "a dump of every layer's output from another runtime (taps "
      "save's layout): compared with the plan's run; a dump that differs only on rounding "
      "ties another target's rule reproduces is a target mismatch" },
    { 0 },
};

static const CmdOpt taps_opts[] = {
    { "split", OPT_SPLIT, NULL, "the split whose first samples run (default eval when "
                                "registered, else calib)" },
    { "n", OPT_INT, NULL, "samples (save: default 100; compare: default the file's)" },
    { 0 },
};

static const CmdOpt ties_opts[] = {
    { "split", OPT_SPLIT, NULL, "the split whose first samples run (default eval when "
                                "registered, else calib)" },
    { "n", OPT_INT, NULL, "samples (default 100)" },
    { 0 },
};

static const CmdOpt convergence_opts[] = {
    { "split", OPT_SPLIT, NULL, "the split to walk (default: the one calibrate used, else "
                                "calib)" },
    { "n", OPT_INT, NULL, "use only the first N samples (default: as many as calibrate used "
                          "on that split, else all)" },
    { "tol", OPT_TEXT, NULL, "a range still moves when an end moves by more than this "
                             "fraction of its width in the last doubling (default 5%)" },
    { "layer", OPT_LAYER, NULL, "show only this layer" },
    { "batch", OPT_INT, NULL, "samples per forward pass (default: option batch)" },
    { 0 },
};

static const CmdOpt biascorr_opts[] = {
    { "split", OPT_SPLIT, NULL, "the split to measure on (default calib; eval: a warning)" },
    { "n", OPT_INT, NULL, "use only the first N samples (default: all)" },
    { "batch", OPT_INT, NULL, "samples per forward pass (default: option batch)" },
    { 0 },
};

static const CmdOpt cle_opts[] = {
    { "iters", OPT_INT, NULL,
      "sweeps over the pairs at most (default 100; stops when nothing moves)" },
    { "headroom", OPT_FLOAT, NULL, "Clip/ReLU6 channels: keep pre-activations up to H times "
                                   "the split's maximum unclipped (default 1)" },
    { "split", OPT_SPLIT, NULL, "the split whose pre-activation maxima bound Clip/ReLU6 "
                                "channels and on which the float outputs are verified "
                                "(default calib)" },
    { "n", OPT_INT, NULL, "use only the first N samples (default: all)" },
    { "batch", OPT_INT, NULL, "samples per forward pass (default: option batch)" },
    { 0 },
};

static const CmdOpt qat_opts[] = {
    { "epochs", OPT_INT, NULL, "passes over the train split (default 3)" },
    { "lr", OPT_FLOAT, NULL,
      "learning rate (default: ten times below train's: adam/adamw 1e-4, sgd 1e-3)" },
    { "batch", OPT_INT, NULL, "samples per step (default 32)" },
    { "opt", OPT_CHOICE, choice_optim, "the optimizer (default adam)" },
    { "momentum", OPT_FLOAT, NULL, "sgd momentum (default 0.9)" },
    { "wd", OPT_FLOAT, NULL, "weight decay (default: 0; adamw 0.01, decoupled)" },
    { "distill", OPT_CHOICE, choice_distill, "distillation from the FP32 model: kl (default "
                                             "for classification), mse (logits; default "
                                             "otherwise) or none" },
    { "T", OPT_FLOAT, NULL, "distillation temperature (default 4)" },
    { "alpha", OPT_FLOAT, NULL,
      "weight of the task loss; 1 - alpha weighs the distillation (default 0.5)" },
    { "feature", OPT_LAYER, NULL, "LAYER,..: also match these layers' outputs to the "
                                  "teacher's (MSE)" },
    { "scales", OPT_CHOICE, choice_qat_scales,
      "activation ranges: ema (moving average, default) or learn (LSQ)" },
    { "freeze_bn_after", OPT_INT, NULL,
      "epochs in which BatchNorms use batch statistics (default 0: frozen)" },
    { "observer_freeze_after", OPT_INT, NULL,
      "epochs in which activation ranges move (default 0: always)" },
    { "patience", OPT_INT, NULL,
      "stop after K epochs without an INT8 improvement (default 0: never)" },
    { "class_weights", OPT_TEXT, NULL, "auto or w0,w1,... for the task loss (cross-entropy)" },
    { "val", OPT_SPLIT, NULL, "the labelled split that picks the epoch and stops early "
                              "(default calib; eval only when named, with a warning)" },
    { "seed", OPT_INT, NULL, "shuffling seed (default: option seed)" },
    { "as", OPT_TEXT, NULL, "the variant's name (default qat)" },
    { 0 },
};

static const CmdOpt pick_opts[] = {
    { "by", OPT_TEXT, NULL,
      "what ranks the variants: metric (the split's accuracy, or MSE; default)" },
    { "export", OPT_FILE, NULL,
      "save the winner to this .qsm (the model plus the winning variant)" },
    { "split", OPT_SPLIT, NULL, "the labelled split that decides (default calib; eval only "
                                "when named, with a warning); the winner is also scored on "
                                "eval" },
    { "n", OPT_INT, NULL, "use only the first N samples" },
    { "target", OPT_CHOICE, choice_device_target,
      "judge latency by the device profile's estimate for that target (and size by its "
      "deployment size) instead of the latency measured here" },
    { "io", OPT_CHOICE, choice_device_io, "with target=: float (default) or int8 graph inputs/outputs" },
    { 0 },
};

static const CmdOpt save_opts[] = {
    { "variant", OPT_VARIANT, NULL, "save this variant alone, on the weights it runs on (a "
                                    "QAT variant's own), made current again by load" },
    { 0 },
};

static const CmdOpt export_opts[] = {
    { "variant", OPT_VARIANT, NULL,
      "export this saved variant's plan (default: the current plan); a precision name "
      "(fp32, fp16, int8-dyn, int8-static; for .tflite also dynamic, int8) is that row of "
      "compare" },
    { "part", OPT_TEXT, NULL, "only this part of the model (its metadata 'parts', e.g. "
                              "encoder)" },
    { "inputs", OPT_TEXT, NULL, "A,B: cut the model at these values (with outputs=)" },
    { "outputs", OPT_TEXT, NULL, "C,..: the values the cut computes" },
    { "verify", OPT_INT, NULL, "load a part back and compare it with the source on N eval "
                               "samples (default 256; 0: off)" },
    { "io", OPT_CHOICE, choice_tflite_io, ".tflite inputs and outputs (default float; int8 "
                                          "and uint8 for the int8 variant)" },
    { "batch", OPT_INT, NULL, ".tflite static batch size (default 1)" },
    { 0 },
};

static const CmdOpt run_opts[] = {
    { "i", OPT_INT, NULL, "the sample to print (default 0)" },
    { "out", OPT_FILE, NULL, "write every sample's outputs to this .npy instead of printing "
                             "one" },
    { "n", OPT_INT, NULL, "run only the first N samples" },
    { "scale", OPT_FLOAT, NULL, "input preprocessing, as for data" },
    { "mean", OPT_FLOAT, NULL, "input preprocessing, as for data" },
    { "std", OPT_FLOAT, NULL, "input preprocessing, as for data" },
    { 0 },
};

const CmdDef cmd_table[] = {
    { .name = "load", .usage = "load PATH.qsm|PATH.onnx|PATH.tflite",
      .summary = "Load a model (its float weights stay the reference for every comparison) "
                 "with a fresh plan, also when it is the same file again: fp32, default "
                 "quant options, no pins, no calibration; data splits stay only when their "
                 "samples are its inputs. A quantized .tflite loads as its float twin "
                 "(dequantized weights) with the file's plan, running on the file's own "
                 "scales, zero points, int8 weights and int32 biases (docs/formats.md).",
      .example = "load models/mnist_cnn.qsm", .min_pos = 1, .max_pos = 1, .opts = none,
      .args = file_arg,
      .wb = { .feeds = CMD_FEEDS_NEW_MODEL, .outdates = CMD_OUTDATES_MODEL }, .run = cmd_load },
    { .name = "init", .usage = "init SPEC.json [seed=S]",
      .summary = "Build a new model from a layer list with seeded initialisation "
                 "(docs/specs.md), with a fresh plan as load.",
      .example = "init models/specs/mnist_cnn.json seed=1", .min_pos = 1, .max_pos = 1,
      .opts = init_opts, .args = file_arg,
      .wb = { .feeds = CMD_FEEDS_NEW_MODEL, .outdates = CMD_OUTDATES_MODEL }, .run = cmd_init },
    { .name = "save", .usage = "save PATH.qsm [variant=NAME]",
      .summary = "Save the model and its variants (written to PATH.tmp, then renamed); with "
                 "variant=NAME, that variant alone on its own weights, current on load.",
      .example = "save /tmp/copy.qsm; save /tmp/qat.qsm variant=qat", .min_pos = 1,
      .max_pos = 1, .flags = CMD_NEEDS_MODEL, .opts = save_opts, .args = file_arg,
      .run = cmd_save },
    /* the session as a whole (cmd_session.c) */
    { .name = "reset", .usage = "reset",
      .summary = "Start the loaded model over: an fp32 plan with default quant options, no "
                 "pins, no calibration, no variants; the weights and the data splits stay.",
      .example = "reset", .flags = CMD_NEEDS_MODEL, .opts = none,
      .wb = { .outdates = CMD_OUTDATES_CALIB }, .run = cmd_reset },
    { .name = "session", .usage = "session new | session save|load FILE",
      .summary = "Start afresh (no model, no data), or save the whole session (model, data "
                 "splits, plan, calibration, variants, pins) to FILE and load it back "
                 "(written to FILE.tmp, then renamed; qscope --resume FILE at start).",
      .example = "session save /tmp/work.qsess; session load /tmp/work.qsess", .min_pos = 1,
      .max_pos = 2, .opts = none, .args = session_args,
      .wb = { .outdates = CMD_OUTDATES_MODEL | CMD_OUTDATES_DATA | CMD_OUTDATES_CALIB,
              .outdates_if = "state=replaced" },
      .run = cmd_session },
    { .name = "info", .usage = "info",
      .summary = "Model inputs, outputs, parameter count, size in bytes and metadata.",
      .example = "info", .flags = CMD_NEEDS_MODEL, .opts = none, .run = cmd_info },
    { .name = "layers", .usage = "layers",
      .summary = "One row per layer: index, name, op, output shape, parameters, precision and "
                 "the kernel that runs under the current plan; with a calibration or a "
                 "quantized plan, weight and activation ranges, scale, zero point, clipped "
                 "share and whose parameters they are (calibrated, or a .tflite's: file; "
                 "before calibrate, the range its grid spans) (under an fp32 plan a labelled "
                 "preview of int8-static).",
      .example = "layers", .flags = CMD_NEEDS_MODEL, .opts = none,
      .wb = { .feeds = CMD_FEEDS_LAYERS }, .run = cmd_layers },
    { .name = "fold", .usage = "fold scales",
      .summary = "Fold fixed per-channel scale layers into the BatchNorm before them or the "
                 "conv/dense weights after them (float-exact) and remove them.",
      .example = "fold scales", .min_pos = 1, .max_pos = 1, .flags = CMD_NEEDS_MODEL,
      .opts = none, .args = fold_args,
      .wb = { .outdates = CMD_OUTDATES_MODEL | CMD_OUTDATES_ON_FAILURE },
      .run = cmd_fold },
    { .name = "data",
      .usage = "data [SPLIT X [Y] | SPLIT synth:NAME [seed=S] [knob=V..]] [n=N] [skip=K] "
               "[scale=S] [mean=M] [std=D]",
      .summary = "Register a data split from .npy, .npz[:member], IDX (.gz) or CSV files, or "
                 "from a seeded generator (synth:NAME, docs/data.md); without arguments, list "
                 "the splits. An uncompressed file of 64 MiB or more stays on disk and is read "
                 "batch by batch, so it may be larger than memory.",
      .example = "data eval models/data/mnist_test.npz scale=0.00392157; "
                 "data calib synth:falls n=500 seed=2", .min_pos = 0,
      .max_pos = 3, .flags = CMD_OWN_OPTS, .opts = data_opts, .args = data_args,
      .wb = { .outdates = CMD_OUTDATES_DATA },
      .run = cmd_data },
    { .name = "eval", .usage = "eval [split=eval] [n=N] [task=..] [batch=B]",
      .summary = "Evaluate the model on a split: accuracy, per-class precision and recall, "
                 "confusion matrix (or bit accuracy, or MSE/MAE).",
      .example = "eval split=eval n=1000", .flags = CMD_NEEDS_MODEL | CMD_JOB,
      .opts = eval_opts, .wb = { .feeds = CMD_FEEDS_METRIC },
      .run = cmd_eval },
    { .name = "run", .usage = "run X.npy [i=K] [out=Y.npy] [n=N]",
      .summary = "Run the model on inputs from a file; print sample K's outputs, or write "
                 "every sample's outputs to a .npy.",
      .example = "run models/data/mnist_test.npz i=3", .min_pos = 1, .max_pos = 1,
      .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = run_opts, .args = file_arg,
      .run = cmd_run },
    { .name = "train",
      .usage = "train epochs=N lr=.. batch=.. opt=.. loss=.. "
               "[class_weights=auto|w0,w1,..] [val=calib] [patience=K] [seed=S]",
      .summary = "Train the float model on the train split; keeps the best epoch's weights by "
                 "the validation metric, stops early after `patience` epochs without "
                 "improvement; Ctrl-C keeps the best so far.",
      .example = "train epochs=3 lr=0.001 batch=64 opt=adam val=calib patience=2 seed=1",
      .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = train_opts,
      .wb = { .outdates = CMD_OUTDATES_MODEL | CMD_OUTDATES_ON_FAILURE },
      .run = cmd_train },
    { .name = "bench",
      .usage = "bench [precisions=P,..] [wgran=..] [files=PREFIX] [target=T] "
               "[split=eval] [n=N] [batch=B] [repeat=R] [warmup=W]",
      .summary = "Time the model's forward pass over a split on this machine: median "
                 "milliseconds per sample with min and max. With precisions=, one table "
                 "with a row per precision: model file size, weights, measured activation "
                 "memory and peak, latency and the metric. Always the process's peak "
                 "resident memory and the weights read in place from the model's file.",
      .example = "bench precisions=fp32,fp16,int8-dyn n=500 batch=1 repeat=5",
      .flags = CMD_NEEDS_MODEL | CMD_JOB,
      .opts = bench_opts, .run = cmd_bench },
    { .name = "device", .usage = "device [target=esp32s3|cortex-m|edgetpu] [io=float|int8] "
                                 "[variant=NAME] [part=NAME]",
      .summary = "Profile the plan for a device: deployment size, the tensor arena TFLite "
                 "Micro plans (batch 1), ops its runtime lacks (Edge TPU: full-integer "
                 "checks, ops mapped), implied arithmetic and an ESTIMATED latency "
                 "(docs/devices.md); no target=: the targets.",
      .example = "device target=esp32s3", .flags = CMD_NEEDS_MODEL, .opts = device_opts,
      .run = cmd_device },
    { .name = "mode", .usage = "mode [PRECISION]",
      .summary = "Switch the whole model's precision (cached: switching back is instant); "
                 "without an argument, show the plan.",
      .example = "mode int8-static", .min_pos = 0, .max_pos = 1, .flags = CMD_NEEDS_MODEL,
      .opts = none, .args = mode_args,
      .run = cmd_mode },
    { .name = "prec", .usage = "prec LAYER PRECISION|auto",
      .summary = "Pin one layer to a precision (a fallback), or back to the model's mode "
                 "with auto.",
      .example = "prec conv1 fp32", .min_pos = 2, .max_pos = 2, .flags = CMD_NEEDS_MODEL,
      .opts = none, .args = prec_args, .wb = { .follow = "layer" },
      .run = cmd_prec },
    { .name = "quant",
      .usage = "quant [wgran=..] [layer=L,..] [observer=..] [pct=P] [bits=B] [asym=0|1] "
               "[target=..]",
      .summary = "Set the quantization options of the plan; without options, show them. "
                 "With layer=, wgran is set for those layers alone.",
      .example = "quant wgran=channel layer=dw1", .flags = CMD_NEEDS_MODEL,
      .opts = quant_opts, .run = cmd_quant },
    { .name = "calibrate", .usage = "calibrate [n=N] [observer=..] [split=calib]",
      .summary = "Run the calib split through the float model and keep every layer's "
                 "activation statistics (ranges and histograms); Ctrl-C keeps the previous "
                 "calibration. On parameters imported from a quantized .tflite, qscope's own "
                 "replace them (said so) and the file's stay as a variant named after the "
                 "file, for compare.",
      .example = "calibrate n=500 observer=minmax", .flags = CMD_NEEDS_MODEL | CMD_JOB,
      .opts = calibrate_opts, .wb = { .outdates = CMD_OUTDATES_CALIB },
      .run = cmd_calibrate },
    { .name = "variant", .usage = "variant save|use|drop NAME | variant list | "
                                  "variant import FILE.tflite [NAME]",
      .summary = "Keep the current plan under a name, switch to a kept one, forget one, or "
                 "list them; import makes a quantized .tflite of this model (paired by value "
                 "names, else by layer order) a variant that runs on the file's own scales, "
                 "zero points, int8 weights and int32 biases (named after the file).",
      .example = "variant save ptq", .min_pos = 1, .max_pos = 3, .flags = CMD_NEEDS_MODEL,
      .opts = none, .args = variant_args,
      .wb = { .outdates = CMD_OUTDATES_CALIB, .outdates_if = "action=use" }, /* brings its own */
      .run = cmd_variant },
    { .name = "compare", .usage = "compare [split=eval] [n=N]",
      .summary = "FP32, FP16, INT8 dynamic, INT8 static and every variant side by side: "
                 "metric, drop against FP32, top-1 agreement, output SQNR, deployed bytes, "
                 "latency per sample measured here.",
      .example = "compare", .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = compare_opts,
      .wb = { .feeds = CMD_FEEDS_COMPARE },
      .run = cmd_compare },
    { .name = "error", .usage = "error [accum|local] [n=N] [split=..]",
      .summary = "Per-layer error of the current plan against FP32: accumulated (the "
                 "quantized model run whole) or local (each layer alone, fed the float "
                 "input): MSE, SQNR, cosine, max abs error, RMSE in quantization steps.",
      .example = "error local n=256", .min_pos = 0, .max_pos = 1,
      .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = error_opts, .args = error_args,
      .wb = { .feeds = CMD_FEEDS_ERRORS },
      .run = cmd_error },
    { .name = "hist", .usage = "hist LAYER [act|weights] [width=W] [height=H] [top=N]",
      .summary = "act: a text histogram of a layer's calibrated output (log scale) with the "
                 "clipping range [ ], zero and the quantization grid ' marked. weights: per "
                 "output channel of its unit (BatchNorm folded, the plan's scale), min, max, "
                 "range against the median, scale, integer levels used and the share of "
                 "nonzero weights rounding to 0; the widest channels named.",
      .example = "hist conv1 act width=64; hist dw1 weights top=8", .min_pos = 1, .max_pos = 2,
      .flags = CMD_NEEDS_MODEL, .opts = hist_opts, .args = hist_args,
      .wb = { .feeds = CMD_FEEDS_HIST, .follow = "layer", .follow_view = "what" },
      .run = cmd_hist },
    { .name = "sensitivity", .usage = "sensitivity [split=calib] [n=N]",
      .summary = "Rank the quantized layers two ways: the metric with only that layer "
                 "quantized, and with every layer but that one.",
      .example = "sensitivity n=1000", .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = sens_opts,
      .wb = { .follow = "worst" },
      .run = cmd_sensitivity },
    { .name = "fallback", .usage = "fallback drop<=X [to=..] [split=calib] [n=N]",
      .summary = "Pin the most harmful layers to FP16 or FP32, greedily, until the drop "
                 "against FP32 on the deciding split is at most X (a fraction of the metric: "
                 "0.01 or 1%); reports the cost in size and latency and the outcome scored on "
                 "eval. The result becomes the current plan.",
      .example = "fallback drop<=0.005 to=fp16", .min_pos = 0, .max_pos = 1,
      .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = fallback_opts, .run = cmd_fallback },
    { .name = "diagnose", .usage = "diagnose [split=calib] [n=N] [taps=FILE.npz]",
      .summary = "List what troubles the plan, each naming the layer (and channels): weight "
                 "channels left few integer levels by a per-tensor scale, layers whose own "
                 "error is far above the rounding floor, activation ranges far wider than "
                 "the next clip, large clipped fractions, accumulated error jumps, FP16 "
                 "overflow, a classifier collapsing to one class (or its output entropy "
                 "collapsing), calibration ranges still moving or set by one sample "
                 "(convergence); each with its evidence and a fix, measured on the "
                 "validation split when it is a plan change; best measured fix first. With "
                 "taps=FILE, a runtime's dump compared layer by layer (taps compare): a "
                 "target mismatch when it differs only on ties another target's rule "
                 "reproduces.",
      .example = "diagnose", .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = diagnose_opts,
      .run = cmd_diagnose },
    { .name = "taps", .usage = "taps save|compare FILE.npz [split=..] [n=N]",
      .summary = "save: every layer's output over a split's first N samples to an .npz (int8 "
                 "codes where the plan runs integers, float elsewhere; keys are value names, "
                 "docs/formats.md). compare: another runtime's dump in that layout against "
                 "this plan's run, layer by layer: identical, propagated (the rerun on the "
                 "file's inputs reproduces it), rounding ties (one step, reproduced by some "
                 "target's rule from the same int32 accumulators, or for other int8 steps "
                 "from the same input codes), or a divergence; names the "
                 "first divergence and the targets whose rule reproduces the dump.",
      .example = "taps save /tmp/taps.npz n=10; taps compare /tmp/taps.npz", .min_pos = 2,
      .max_pos = 2, .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = taps_opts, .args = taps_args,
      .run = cmd_taps },
    { .name = "ties", .usage = "ties [LAYER] [split=..] [n=N]",
      .summary = "For each int8 conv/dense unit (or LAYER's): how many outputs sit on a "
                 "rounding tie of the plan's requantization, or within its resolution (|acc| "
                 "units of the multiplier's last place), and how many outputs each pair of "
                 "targets' rules rounds differently; for the other int8 steps whose "
                 "arithmetic differs between targets (Add, Mul, MatMul of two activations, "
                 "Softmax, Concat, pools, clamps), the pairs only. Exact integer arithmetic "
                 "on the split's first N samples.",
      .example = "ties; ties conv2 n=20", .min_pos = 0, .max_pos = 1,
      .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = ties_opts, .args = ties_args,
      .run = cmd_ties },
    { .name = "convergence", .usage = "convergence [split=S] [n=N] [tol=5%] [layer=L] [batch=B]",
      .summary = "Every layer's activation range (the plan's observer) after 1, 2, 4, ... N "
                 "calibration samples (each point doubling: ceil(N/2^k)), which layers' "
                 "ranges still move in the last doubling, which sample (its index in the "
                 "split) sets each min and max and how far the next sample stays, and the "
                 "suggestion: more samples, a percentile or MSE observer, a sample to look "
                 "at.",
      .example = "convergence", .flags = CMD_NEEDS_MODEL | CMD_JOB,
      .opts = convergence_opts, .wb = { .follow = "worst" }, .run = cmd_convergence },
    { .name = "biascorr", .usage = "biascorr [n=N] [split=calib] [batch=B] | biascorr off",
      .summary = "Empirical bias correction: add to each int8 conv/dense layer's bias the "
                 "per-channel mean of (float - quantized) pre-activation over the split, "
                 "measured layer by layer on the quantized model's own inputs; kept with "
                 "this plan ('biascorr off' drops it). On a .tflite's imported parameters, "
                 "added to the file's int32 biases.",
      .example = "biascorr n=500", .min_pos = 0, .max_pos = 1,
      .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = biascorr_opts, .run = cmd_biascorr },
    { .name = "cle", .usage = "cle [iters=K] [headroom=H] [split=calib] [n=N] [batch=B]",
      .summary = "Cross-layer equalization: rescale conv/dense pairs joined by a ReLU or "
                 "ReLU6 so each channel's folded weight range is equal on both sides (ReLU6 "
                 "channels only while unclipped on the split). Changes the float weights, "
                 "verified; run calibrate again. Refused on a .tflite's imported parameters "
                 "(calibrate first).",
      .example = "cle headroom=1.25", .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = cle_opts,
      .run = cmd_cle },
    { .name = "qat",
      .usage = "qat epochs=N lr=.. [batch=..] [opt=..] [distill=..] [T=..] "
               "[alpha=..] [feature=LAYER,..] [scales=..] [freeze_bn_after=K] "
               "[observer_freeze_after=K] [patience=K] [class_weights=..] [val=calib] [seed=S] "
               "[as=NAME]",
      .summary = "Quantization-aware fine-tuning of the current int8-static plan, starting "
                 "from its calibration: fake-quantized weights (BatchNorm folded) and "
                 "activations, straight-through gradients, distillation from the FP32 model; "
                 "each epoch scored fake-quantized and as real INT8 on the validation split "
                 "(calib); the best INT8 epoch (epoch 0: the PTQ model, said so) becomes the "
                 "current variant, holding its own weights and scored on eval (the FP32 "
                 "model is not changed); Ctrl-C keeps the best so far. Refused on a "
                 ".tflite's imported parameters (calibrate first).",
      .example = "qat epochs=2 lr=0.0001 batch=64 distill=kl T=4 alpha=0.5 seed=1",
      .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = qat_opts,
      /* its variant becomes current, bringing its own calibration (also when cancelled) */
      .wb = { .outdates = CMD_OUTDATES_CALIB | CMD_OUTDATES_ON_FAILURE },
      .run = cmd_qat },
    { .name = "pick", .usage = "pick [size<=KB] [latency<=MS] [drop<=X] [by=metric] "
                               "[split=calib] [target=T] [export=PATH.qsm]",
      .summary = "Apply a decision rule on the deciding split (calib): every variant with "
                 "each constraint met or not (drop<=X a fraction of the metric: 0.01 or 1%), "
                 "the winner (best metric among those meeting all), why each other lost, and "
                 "the winner scored on eval; fails when none qualifies. With target=, latency is "
                 "the device's estimate and size its deployment size.",
      .example = "pick size<=100KB latency<=50ms drop<=10% export=/tmp/winner.qsm",
      .min_pos = 0, .max_pos = 3, .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = pick_opts,
      .run = cmd_pick },
    { .name = "export", .usage = "export PATH.onnx|PATH.qsm|PATH.tflite [variant=NAME] "
                                 "[part=NAME | inputs=A,B outputs=C] [verify=N] "
                                 "[io=float|int8|uint8] [batch=N]",
      .summary = "Write ONNX (opset 17): the float graph for an fp32 plan, QDQ (int8 weights "
                 "per channel, int32 biases, QuantizeLinear/DequantizeLinear with the "
                 "calibrated activation scales) for int8-static, half weights with Cast for "
                 "fp16; pinned layers keep their precision (docs/onnx.md). Or .tflite: fp32, "
                 "fp16 (float16 weights + DEQUANTIZE), dynamic (int8-dyn: int8 weights, "
                 "hybrid kernels) or int8 (int8-static, TFLite's quantization spec), NHWC, "
                 "static batch, verified before it is renamed into place (docs/tflite.md). "
                 "Or .qsm with the plan as a variant. part= or inputs=/outputs= write a sub-model with the plan "
                 "carried over, loaded back and checked against the source.",
      .example = "export /tmp/mnist_int8.onnx variant=ptq; export /tmp/enc.qsm part=encoder "
                 "variant=qat; export /tmp/m.tflite variant=int8 io=int8", .min_pos = 1, .max_pos = 1,
      .flags = CMD_NEEDS_MODEL, .opts = export_opts, .args = file_arg,
      .run = cmd_export },
    { .name = "report",
      .usage = "report PATH.json|PATH.html [size<=KB] [latency<=MS] [drop<=X]",
      .summary = "Write the session as JSON (model, data, plan, calibration, per-layer "
                 "statistics and errors, every variant's metrics and the pick under the given "
                 "constraints: drop<=X 0.01 or 1%, as pick) or as one self-contained HTML page "
                 "to attach to a pull request or a CI run (no script, no network, inline SVG: "
                 "FP32 against the plan and the drop, the worst layers, the plan, compare and "
                 "pick, per-layer error local and accumulated, the sensitivity ranking, "
                 "activation histograms with their clipping ranges, per-channel weight ranges, "
                 "each captioned with the command that made it; docs/report.md). Written to "
                 "PATH.tmp, then renamed.",
      .example = "report /tmp/run.json drop<=1%; report /tmp/run.html drop<=1%", .min_pos = 1,
      .max_pos = 4, .flags = CMD_NEEDS_MODEL | CMD_JOB, .opts = none, .args = file_arg,
      .run = cmd_report },
    { .name = "help", .usage = "help [COMMAND]",
      .summary = "List the commands, or show one command's usage, options and example.",
      .example = "help eval", .min_pos = 0, .max_pos = 1, .opts = none, .args = help_args,
      .run = cmd_help },
    { .name = "source", .usage = "source FILE.qs",
      .summary = "Run the commands of a script; stops at its first error (FILE:LINE).",
      .example = "source scripts/examples/mnist_eval.qs", .min_pos = 1, .max_pos = 1,
      .flags = CMD_TRANSPARENT | CMD_SCRIPT, .opts = none, .args = file_arg,
      .run = cmd_source },
    { .name = "play", .usage = "play FILE.qs",
      .summary = "Run a demo script step by step from a fresh session (session new): each "
                 "step is a command line, captioned by the comments above it. The plain front "
                 "ends print each caption and run the step; the workbench waits for Space "
                 "(Backspace goes back one step by replaying from the start).",
      .example = "play scripts/demos/fp16_vs_int8.qs", .min_pos = 1, .max_pos = 1,
      .flags = CMD_TRANSPARENT | CMD_SCRIPT, .opts = none, .args = file_arg,
      .wb = { .feeds = CMD_FEEDS_PLAYER },
      .run = cmd_play },
    { .name = "echo", .usage = "echo TEXT...",
      .summary = "Print the text (section titles in scripts and reports).",
      .example = "echo \"== float baseline ==\"", .min_pos = 0, .max_pos = 1000,
      .flags = CMD_TRANSPARENT, .opts = none, .run = cmd_echo },
    { .name = "let", .usage = "let [NAME=VALUE ..] [NAME?=VALUE ..]",
      .summary = "Define script variables, used as ${NAME} in later commands; NAME?=VALUE "
                 "only when NAME is not yet defined (defaults that -D NAME=VALUE on the "
                 "command line overrides); without arguments, list them.",
      .example = "let epochs?=3; train epochs=${epochs}", .max_pos = 64,
      .flags = CMD_TRANSPARENT | CMD_OWN_OPTS, .opts = none, .run = cmd_let },
    { .name = "keep", .usage = "keep NAME",
      .summary = "Keep every figure of the previous result as the variable NAME.FIELD, to "
                 "compare results with check or use them as ${NAME.FIELD}.",
      .example = "eval; keep fp32; mode int8-static; calibrate; eval; check accuracy >= fp32.accuracy-0.01",
      .min_pos = 1, .max_pos = 1, .flags = CMD_TRANSPARENT, .opts = none, .run = cmd_keep },
    { .name = "check", .usage = "check FIELD OP VALUE",
      .summary = "Fail (in a script: stop with FILE:LINE, exit 1) unless a figure of the "
                 "previous command's result (or a variable, e.g. one made by keep) compares "
                 "as given; OP is < <= > >= == !=; VALUE is a number, text, or a figure with "
                 "an optional +K or -K; a number may end in % (1% = 0.01).",
      .example = "eval; check accuracy >= 0.95; check recall_small > ptq.recall_small+0.02", .min_pos = 1, .max_pos = 3,
      .flags = CMD_TRANSPARENT, .opts = none, .run = cmd_check },
    { .name = "set", .usage = "set [NAME=VALUE ...]",
      .summary = "Set options; without arguments, list them with their values.",
      .example = "set batch=128 threads=2", .flags = CMD_SETTINGS, .opts = none,
      .wb = { .outdates = CMD_OUTDATES_DATA },
      .run = cmd_set },
    { .name = "get", .usage = "get [NAME]", .summary = "Show one option, or all of them.",
      .example = "get batch", .min_pos = 0, .max_pos = 1, .opts = none, .args = get_args,
      .run = cmd_get },
    { .name = "quit", .usage = "quit",
      .summary = "Leave qscope (also: Ctrl-D); the workbench first offers to save unsaved "
                 "work (calibration, variants, pins, trained weights).",
      .example = "quit", .opts = none, .wb = { .feeds = CMD_FEEDS_QUIT },
      .run = cmd_quit },
};
const int cmd_count = sizeof cmd_table / sizeof cmd_table[0];

const CmdDef *cmd_find(const char *name)
{
    for (int i = 0; i < cmd_count; i++)
        if (strcmp(cmd_table[i].name, name) == 0)
            return &cmd_table[i];
    return NULL;
}

const char *choice_command(int i)
{
    return i >= 0 && i < cmd_count ? cmd_table[i].name : NULL;
}

bool cmd_option_at(const CmdDef *def, int i, CmdOpt *out)
{
    int n_settings = (def->flags & CMD_SETTINGS) ? option_count : 0;
    if (i < 0)
        return false;
    if (i < n_settings) {
        const OptionDef *o = &option_table[i];
        *out = (CmdOpt){ o->name, o->kind, o->choices, o->help };
        return true;
    }
    for (const CmdOpt *o = def->opts; o->name; o++)
        if (i-- == n_settings) {
            *out = *o;
            return true;
        }
    return false;
}

bool cmd_result_outdates(const CmdDef *def, const Result *r)
{
    const char *cond = def->wb.outdates_if;
    if (!def->wb.outdates || !cond)
        return def->wb.outdates != 0;
    const char *eq = strchr(cond, '=');
    char field[64];
    snprintf(field, sizeof field, "%.*s", (int)(eq - cond), cond);
    const RValue *v = r ? result_get(r, field) : NULL;
    return v && v->type == RV_STR && strcmp(v->s, eq + 1) == 0;
}

QsStatus cmd_check_options(const CmdDef *def, const CmdArgs *a, QsError *err)
{
    for (int k = 0; k < a->n_kv; k++) {
        bool known = false;
        for (const CmdOpt *o = def->opts; o->name; o++)
            known |= strcmp(o->name, a->keys[k]) == 0;
        if (known)
            continue;
        StrBuf list = { 0 };
        for (const CmdOpt *o = def->opts; o->name; o++)
            strbuf_printf(&list, "%s%s", o == def->opts ? "" : ", ", o->name);
        if (list.len)
            qs_fail(err, QS_EINVAL, "%s: unknown option '%s' (valid: %s)", def->name, a->keys[k],
                    list.s);
        else
            qs_fail(err, QS_EINVAL, "%s: unknown option '%s' (it takes none)", def->name,
                    a->keys[k]);
        strbuf_release(&list);
        return QS_EINVAL;
    }
    return QS_OK;
}

/* `set`: every name must be a setting (checked before anything changes). */
static QsStatus check_setting_names(const CmdArgs *a, QsError *err)
{
    for (int i = 0; i < a->n_kv; i++) {
        if (option_find(a->keys[i]))
            continue;
        StrBuf list = { 0 };
        for (int k = 0; k < option_count; k++)
            strbuf_printf(&list, "%s%s", k ? ", " : "", option_table[k].name);
        qs_fail(err, QS_EINVAL, "set: unknown option '%s' (valid: %s)", a->keys[i], list.s);
        strbuf_release(&list);
        return QS_EINVAL;
    }
    return QS_OK;
}

/* Every value whose key the command (or, for `set`, the settings) lists, by its kind. Keys
 * it does not list are a CMD_OWN_OPTS handler's (data's generator knobs). */
static QsStatus check_values(const CmdDef *def, const CmdArgs *a, QsError *err)
{
    for (int k = 0; k < a->n_kv; k++) {
        const char *key = a->keys[k];
        if (def->flags & CMD_SETTINGS) {
            const OptionDef *o = option_find(key);
            if (o && optkind_check(key, a->vals[k], o->kind, o->choices, err))
                return err->code;
            continue;
        }
        for (const CmdOpt *o = def->opts; o->name; o++)
            if (strcmp(o->name, key) == 0 &&
                optkind_check(key, a->vals[k], o->kind, o->choices, err))
                return err->code;
    }
    return QS_OK;
}

/* One command text, its ${...} expanded first unless `literal`. */
static QsStatus exec_text(App *app, const char *text, bool literal, Result *r, QsError *err)
{
    CmdArgs a;
    char *expanded = NULL;
    if (!literal && vars_expand(&app->vars, text, &expanded, err))
        return err->code;
    QsStatus pst = args_parse(literal ? text : expanded, &a, err);
    free(expanded);
    if (pst)
        return pst;
    QsStatus st = cmd_exec_args(app, &a, r, err);
    args_release(&a);
    return st;
}

QsStatus cmd_exec(App *app, const char *text, Result *r, QsError *err)
{
    return exec_text(app, text, false, r, err);
}

QsStatus cmd_exec_args(App *app, const CmdArgs *args, Result *r, QsError *err)
{
    const CmdArgs a = *args; /* read only: the caller releases it */
    result_reset(r, a.name);
    QsStatus st = QS_OK;
    const CmdDef *def = cmd_find(a.name);
    if (atomic_load(&app->interrupted)) {
        st = qs_fail(err, QS_ECANCELLED, "%s: not run: interrupted", a.name);
        goto cleanup;
    }
    if (!def) {
        st = qs_fail(err, QS_ENOTFOUND, "unknown command '%s' (try 'help')", a.name);
        goto cleanup;
    }
    if (a.n_pos < def->min_pos || a.n_pos > def->max_pos) {
        st = qs_fail(err, QS_EINVAL, "%s: %d argument%s given; usage: %s", def->name, a.n_pos,
                     a.n_pos == 1 ? "" : "s", def->usage);
        goto cleanup;
    }
    /* names: `set`'s against the settings, CMD_OWN_OPTS handlers' by the handler */
    if ((def->flags & CMD_SETTINGS) && (st = check_setting_names(&a, err)))
        goto cleanup;
    if (!(def->flags & (CMD_SETTINGS | CMD_OWN_OPTS)) && (st = cmd_check_options(def, &a, err)))
        goto cleanup;
    if ((st = check_values(def, &a, err)))
        goto cleanup;
    if ((def->flags & CMD_NEEDS_MODEL) && !app->session.model) {
        st = qs_fail(err, QS_EINVAL, "%s: no model loaded (use 'load PATH.qsm')", def->name);
        goto cleanup;
    }
    atomic_store(&app->cancel, 0);
    st = def->run(app, &a, r, err);
cleanup:
    return st;
}

/* Shows a command's result and keeps it as the previous one for `check`; r is left
 * empty for the next command. */
static void emit_and_keep(App *app, Result *r)
{
    if (app->emit)
        app->emit(app, r);
    const CmdDef *def = cmd_find(r->cmd);
    if (def && !(def->flags & CMD_TRANSPARENT)) {
        result_release(&app->last);
        app->last = *r;
        result_init(r, "");
    }
}

/* Remembers the first len bytes of name as the command that failed (App.failed_cmd). */
static void note_failure(App *app, const char *name, size_t len)
{
    free(app->failed_cmd);
    app->failed_cmd = xmalloc(len + 1);
    memcpy(app->failed_cmd, name, len);
    app->failed_cmd[len] = '\0';
}

/* The command a text names, as written: its first word. */
static void note_failed_text(App *app, const char *text)
{
    text += strspn(text, " \t\r\n");
    note_failure(app, text, strcspn(text, " \t\r\n;"));
}

QsStatus cmd_run_args(App *app, const CmdArgs *a, QsError *err)
{
    Result r;
    result_init(&r, "");
    QsStatus st = cmd_exec_args(app, a, &r, err);
    if (st)
        note_failure(app, a->name, strlen(a->name));
    else
        emit_and_keep(app, &r);
    result_release(&r);
    return st;
}

static QsStatus exec_line(App *app, const char *line, bool literal, QsError *err)
{
    char **cmds;
    int n;
    if (args_split_line(line, &cmds, &n, err)) {
        note_failed_text(app, line);
        return err->code;
    }
    QsStatus st = QS_OK;
    Result r;
    result_init(&r, "");
    for (int i = 0; i < n && !st && !app->quit; i++) {
        result_reset(&r, ""); /* named by cmd_exec_args once the text parses */
        st = exec_text(app, cmds[i], literal, &r, err);
        if (st) {
            if (r.cmd[0])
                note_failure(app, r.cmd, strlen(r.cmd));
            else
                note_failed_text(app, cmds[i]);
            break;
        }
        emit_and_keep(app, &r);
    }
    result_release(&r);
    args_free_split(cmds, n);
    return st;
}

QsStatus cmd_exec_line(App *app, const char *line, QsError *err)
{
    return exec_line(app, line, false, err);
}

QsStatus cmd_exec_line_literal(App *app, const char *line, QsError *err)
{
    return exec_line(app, line, true, err);
}

char *cmd_reference_markdown(void)
{
    StrBuf b = { 0 };
    strbuf_printf(&b, "# qscope commands\n\n"
                      "<!-- Generated by `qscope --commands-md` from the command table in "
                      "src/ui/cmds/commands.c; a test keeps the two equal. -->\n\n"
                      "A command is `name arg key=value ...`; `#` starts a comment and `;` "
                      "separates commands on one line. Values with spaces are quoted with "
                      "\"...\" or '...'. With `--json` (or `set output=json`) every result is "
                      "one JSON object per line: `{\"cmd\": ..., \"ok\": true, ...}`; the field "
                      "names are listed in docs/json.md.\n\n");
    strbuf_printf(&b, "| command | summary |\n|---|---|\n");
    for (int i = 0; i < cmd_count; i++)
        strbuf_printf(&b, "| [`%s`](#%s) | %s |\n", cmd_table[i].name, cmd_table[i].name,
                      cmd_table[i].summary);
    for (int i = 0; i < cmd_count; i++) {
        const CmdDef *d = &cmd_table[i];
        strbuf_printf(&b, "\n## %s\n\n`%s`\n\n%s\n", d->name, d->usage, d->summary);
        StrBuf takes = { 0 };
        if (d->args && d->args[0].name) {
            strbuf_printf(&b, "\n| argument | takes |\n|---|---|\n");
            for (const CmdOpt *o = d->args; o->name; o++) {
                strbuf_clear(&takes);
                optkind_describe(&takes, o->kind, o->choices);
                strbuf_printf(&b, "| `%s` | %s |\n", o->name, strbuf_str(&takes));
            }
        }
        CmdOpt o;
        for (int k = 0; cmd_option_at(d, k, &o); k++) {
            if (k == 0)
                strbuf_printf(&b, "\n| option | takes | meaning |\n|---|---|---|\n");
            strbuf_clear(&takes);
            optkind_describe(&takes, o.kind, o.choices);
            strbuf_printf(&b, "| `%s` | %s | %s |\n", o.name, strbuf_str(&takes), o.help);
        }
        strbuf_release(&takes);
        strbuf_printf(&b, "\nExample:\n\n```\n%s\n```\n", d->example);
    }
    return strbuf_take(&b);
}
