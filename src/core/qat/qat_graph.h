/* The QAT training graph (docs/qat.md): a copy of a model's graph in which every int8-static
 * linear unit (Conv/Dense/Gemm/MatMul + folded BatchNorm + fused Relu/Clip, grouped exactly
 * as the integer executor groups them) computes with BatchNorm-folded weights that are
 * trainable parameters and pass through a FakeQuant node (per channel or per tensor, as
 * planned), and a FakeQuant node sits at every value the integer executor quantizes. Its
 * float run is the fake-quantized model; qat_graph_export turns it back into a model with
 * the ORIGINAL graph structure plus a calibration that the integer executor lowers to the
 * same grids. */
#ifndef QS_QAT_GRAPH_H
#define QS_QAT_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/calib.h"
#include "base/error.h"
#include "graph/graph.h"
#include "graph/linear_unit.h"
#include "graph/model.h"
#include "quant/plan.h"

/* How activation ranges move during QAT. */
typedef enum {
    QAT_SCALES_EMA = 0,  /* moving-average min/max of each batch (PyTorch's default QAT
                            observer), zero point recomputed with the scale */
    QAT_SCALES_LEARN,    /* LSQ: the scale is a trained parameter, the zero point fixed */
    QAT_SCALES_COUNT
} QatScales;

extern const char *const qat_scales_names[QAT_SCALES_COUNT]; /* "ema", "learn" */

typedef struct QatGraphOpts {
    QatScales scales;
    bool bn_train;            /* units with a BatchNorm keep it, with batch statistics in
                                 training mode (freeze_bn_after > 0), until
                                 qat_graph_freeze_bn */
    const int *features;      /* model nodes whose outputs become extra graph outputs */
    int n_features;
} QatGraphOpts;

/* One activation quantization point: a FakeQuant on a value the executor quantizes. */
typedef struct QatAct {
    int value;                /* the model value whose range it is (calibration index) */
    int obs;                  /* training-graph value it observes (the FakeQuant's input) */
    int obs_node;             /* training-graph node producing obs; -1: a graph input */
    int scale, zero;          /* training-graph constants (1): scale (a parameter under
                                 QAT_SCALES_LEARN) and zero point */
    float lo, hi;             /* QAT_SCALES_EMA: the moving range the grid is made from */
} QatAct;

/* One int8 linear unit with its trainable weights. */
typedef struct QatUnit {
    LinearUnit lin;           /* the model's unit: head, folded BatchNorm, fused clamp, OC, K */
    bool live;                /* its BatchNorm runs with batch statistics (built with
                                 bn_train): w and b are the unfolded weights and bias, and
                                 the BatchNorm's scale and B are trained too */
    int w;                    /* training-graph parameter: the folded weights (live: the
                                 unfolded ones), conv (OC, C/g, KH[, KW]), otherwise (OC, K) */
    int b;                    /* the folded bias (OC) (live: the unfolded one, (OC, 1, ...)):
                                 a parameter when it can be written back; -1: none */
    bool b_trainable;
    int wscale, wzero;        /* the weights' FakeQuant constants, (OC) or (1) */
    int sin;                  /* training-graph scale of its input's grid */
    int bn_node;              /* live: the training-graph BatchNorm node */
    int fw, fr, res;          /* live: F (OC, 1..) for the weights, 1/F and the bias-grid
                                 residual (OC, 1..) for the output; refreshed */
} QatUnit;

typedef struct QatGraph {
    Graph g;                  /* the training graph; owns its constants */
    const Model *m;           /* the model it was made from (not owned; read by export) */
    Plan plan;                /* a copy of the plan */
    int bits;
    bool act_sym;
    QatScales scales;
    int n_act;
    QatAct *act;              /* owned */
    int *act_of_node;         /* [g.n_nodes] the act observing that node's output, -1 */
    int n_units;
    QatUnit *units;           /* owned */
    int *val_of;              /* [m n_values] training-graph value a float reader of the model
                                 value sees (the fake-quantized one where the executor
                                 quantizes it), -1 when the value is folded away */
    int *const_of;            /* [m n_values] training-graph copy of a model constant, -1 */
    int n_features;
    int *feature_value;       /* [n_features] model values, for the teacher */
    int feature_output0;      /* graph output index of the first feature */
    bool bn_train;            /* live units are in (BatchNorm not frozen yet) */
    QatGraphOpts opts;        /* as built (features not owned) */
    const Calibration *cal;   /* the calibration it was built from (not owned, unless own_cal) */
    Model *own_model;         /* after qat_graph_freeze_bn: the model it was rebuilt from */
    Calibration own_cal;
} QatGraph;

/* Builds the training graph of model m under plan p (which must run some layer at
 * int8-static) from calibration cal (the PTQ ranges QAT starts from; observer and options
 * from p). m and cal must outlive qg (it reads them again to export). Fails with QS_EINVAL when p has no int8-static layer, when a feature layer's
 * output is folded away, and with qmodel_build's errors. Release with qat_graph_release. */
QsStatus qat_graph_build(QatGraph *qg, const Model *m, const Plan *p, const Calibration *cal,
                         const QatGraphOpts *o, QsError *err);
void qat_graph_release(QatGraph *qg);

/* Recomputes every weight FakeQuant's scales from the current folded weights, exactly as
 * the integer executor derives them (symmetric, per channel or per tensor). Call after each
 * optimizer step, before a forward. */
void qat_graph_refresh_weights(QatGraph *qg);

/* QAT_SCALES_EMA: sets act k's range and its FakeQuant's scale and zero point
 * (quant_params(lo, hi)). */
void qat_graph_set_range(QatGraph *qg, int k, float lo, float hi);
/* The range act k quantizes: EMA its [lo, hi]; learned s (qmin - z), s (qmax - z). */
void qat_graph_range(const QatGraph *qg, int k, float *lo, float *hi);
/* Keeps learned scales at least 2^-23 (they could step through 0). */
void qat_graph_clamp_scales(QatGraph *qg);

/* Ends the batch-statistics phase: the graph is rebuilt in the frozen form from its own
 * export (each live unit's BatchNorm folded with its running statistics into the weights
 * and bias, which stay the trained parameters), keeping every range. Graph values,
 * nodes and parameters change: runs and optimizers made for it must be made again. Nothing
 * to do when no unit is live. On failure qg is unchanged. */
QsStatus qat_graph_freeze_bn(QatGraph *qg, QsError *err);

/* The model the training graph stands for: a copy of the source model with the original
 * structure in which each unit's head holds the folded weights and the bias (in its bias
 * input, or in its BatchNorm's B when it has one), each folded BatchNorm is an exact
 * identity (scale 1, B = folded bias, mean 0, var 1 - epsilon in float, so the executor's
 * own fold gives back the trained weights bit for bit), and every other constant holds its
 * trained value. *cal (initialised here) is cal0 with each quantization point's statistics
 * replaced by its current range, and *plan (initialised here) is the plan with the min-max
 * observer, which gives back exactly those ranges. Caller frees the model with model_free
 * and releases cal and plan. */
QsStatus qat_graph_export(const QatGraph *qg, const Calibration *cal0, Model **model,
                          Calibration *cal, Plan *plan, QsError *err);

#endif
