#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "run/run.h"
#include "test_util.h"

Node gradcheck_make_node(int op, const char *name, int n_in, const Attr *attrs, int n_attrs)
{
    Node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.name = xstrdup(name);
    n.n_in = n_in;
    n.in = xmalloc((size_t)(n_in ? n_in : 1) * sizeof *n.in);
    for (int i = 0; i < n_in; i++)
        n.in[i] = i;
    n.out = n_in;
    n.n_attrs = n_attrs;
    n.attrs = xcalloc((size_t)(n_attrs ? n_attrs : 1), sizeof *n.attrs);
    for (int i = 0; i < n_attrs; i++)
        n.attrs[i] = attr_copy(&attrs[i]);
    return n;
}

void gradcheck_node_release(Node *n)
{
    free(n->name);
    free(n->in);
    for (int i = 0; i < n->n_attrs; i++)
        attr_release(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

typedef struct {
    const Node *n;
    Tensor *const *in;
    int n_in;
    Tensor out;
    RunCtx rc;
    const double *r;
    GradCheckForward sur;
    void *sur_user;
} Fwd;

static double loss(Fwd *f)
{
    const Tensor *in[64];
    for (int i = 0; i < f->n_in; i++)
        in[i] = f->in[i];
    if (f->sur)
        f->sur(f->sur_user, f->in, f->n_in, &f->out);
    else
        op_table[f->n->op]->forward(f->n, in, &f->out, &f->rc);
    double L = 0;
    const float *o = tensor_f32(&f->out);
    for (int64_t k = 0; k < tensor_numel(&f->out); k++)
        L += (double)o[k] * f->r[k];
    return L;
}

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

bool gradcheck_node(const char *label, const Node *n, Tensor *const *in, int n_in,
                    const bool *check, const GradCheckOpts *opts)
{
    const OpDef *def = op_table[n->op];
    double eps = opts->eps > 0 ? opts->eps : 1e-3;
    bool all_ok = true;
    QsError err = { 0 };
    const Shape *shapes[64];
    for (int i = 0; i < n_in; i++)
        shapes[i] = in[i] ? &in[i]->shape : NULL;
    Shape os;
    if (!def->backward || def->infer(n, shapes, &os, &err)) {
        test_check(false, __FILE__, __LINE__, label);
        fprintf(stderr, "%s: %s\n", label, def->backward ? err.msg : "op has no backward");
        return false;
    }
    Fwd f = { .n = n, .in = in, .n_in = n_in, .sur = opts->surrogate,
              .sur_user = opts->surrogate_user };
    tensor_init(&f.out, DT_F32, os, NULL);
    size_t sbytes = def->scratch ? def->scratch(n, shapes, &os) : 0;
    if (posix_memalign(&f.rc.scratch, 64, sbytes ? sbytes : 64))
        return false;
    f.rc.scratch_bytes = sbytes;
    f.rc.training = opts->training;
    int64_t no = shape_numel(&os);
    double *r = xmalloc((size_t)(no ? no : 1) * sizeof *r);
    unsigned seed = opts->seed ? opts->seed : 12345u;
    for (int64_t k = 0; k < no; k++)
        r[k] = (double)next_rand(&seed) / 8388608.0 - 1.0; /* uniform in [-1, 1) */
    f.r = r;

    /* Analytic gradients, into buffers pre-filled with 1.0 to check accumulation. */
    Tensor dout;
    tensor_init(&dout, DT_F32, os, NULL);
    for (int64_t k = 0; k < no; k++)
        tensor_f32(&dout)[k] = (float)r[k];
    Tensor *din[64] = { 0 };
    for (int i = 0; i < n_in; i++)
        if (in[i] && check[i]) {
            din[i] = tensor_new(DT_F32, in[i]->shape, NULL);
            for (int64_t k = 0; k < tensor_numel(din[i]); k++)
                tensor_f32(din[i])[k] = 1.0f;
        }
    loss(&f); /* forward at the unperturbed point; backward may use its output */
    const Tensor *cin[64];
    for (int i = 0; i < n_in; i++)
        cin[i] = in[i];
    def->backward(n, cin, &f.out, &dout, din, &f.rc);

    for (int i = 0; i < n_in; i++) {
        if (!din[i])
            continue;
        float *x = tensor_f32(in[i]);
        double worst = 0, worst_num = 0, worst_ana = 0;
        int64_t worst_k = -1, bad = 0;
        for (int64_t k = 0; k < tensor_numel(in[i]); k++) {
            float keep = x[k];
            x[k] = keep + (float)eps;
            double lp = loss(&f);
            x[k] = keep - (float)eps;
            double lm = loss(&f);
            /* divide by the perturbation float32 actually applied */
            double h = (double)(keep + (float)eps) - (double)(keep - (float)eps);
            x[k] = keep;
            double num = (lp - lm) / h;
            double ana = (double)tensor_f32(din[i])[k] - 1.0;
            double d = fabs(num - ana);
            double lim = opts->atol + opts->rtol * fmax(fabs(num), fabs(ana));
            if (!(d <= lim)) { /* NaN fails too */
                bad++;
                if (d - lim > worst) {
                    worst = d - lim;
                    worst_k = k;
                    worst_num = num;
                    worst_ana = ana;
                }
            }
        }
        bool ok = bad == 0;
        char what[160];
        snprintf(what, sizeof what, "%s: gradient of input %d", label, i);
        test_check(ok, __FILE__, __LINE__, what);
        if (!ok)
            fprintf(stderr, "  %s: %lld of %lld elements off; worst at %lld: numeric %.6g, "
                            "analytic %.6g\n", what, (long long)bad,
                    (long long)tensor_numel(in[i]), (long long)worst_k, worst_num, worst_ana);
        all_ok &= ok;
        tensor_free(din[i]);
    }
    free(r);
    free(f.rc.scratch);
    tensor_release(&f.out);
    tensor_release(&dout);
    return all_ok;
}

/* ---- whole graphs through run_backward ------------------------------------------------ */

typedef struct {
    Run *run;
    Tensor *const *inputs;
    const double *r;
} GraphFwd;

static double graph_loss(GraphFwd *f)
{
    QsError err = { 0 };
    if (run_forward(f->run, (const Tensor *const *)f->inputs, NULL, NULL, &err))
        return NAN;
    const Tensor *o = run_output(f->run, 0);
    double L = 0;
    for (int64_t k = 0; f->r && k < tensor_numel(o); k++)
        L += (double)tensor_f32(o)[k] * f->r[k];
    return L;
}

/* Compares the central difference of every element of x (moved in place) with ana. */
static bool graph_check_tensor(const char *what, GraphFwd *f, float *x, const float *ana,
                               int64_t n, const GradCheckOpts *opts, double eps)
{
    double worst = 0, worst_num = 0, worst_ana = 0;
    int64_t worst_k = -1, bad = 0;
    for (int64_t k = 0; k < n; k++) {
        float keep = x[k];
        x[k] = keep + (float)eps;
        double lp = graph_loss(f);
        x[k] = keep - (float)eps;
        double lm = graph_loss(f);
        double h = (double)(keep + (float)eps) - (double)(keep - (float)eps);
        x[k] = keep;
        double num = (lp - lm) / h, a = ana[k];
        double d = fabs(num - a), lim = opts->atol + opts->rtol * fmax(fabs(num), fabs(a));
        if (!(d <= lim)) {
            bad++;
            if (!(d - lim <= worst)) {
                worst = d - lim;
                worst_k = k;
                worst_num = num;
                worst_ana = a;
            }
        }
    }
    test_check(bad == 0, __FILE__, __LINE__, what);
    if (bad)
        fprintf(stderr, "  %s: %lld of %lld elements off; worst at %lld: numeric %.6g, "
                        "analytic %.6g\n", what, (long long)bad, (long long)n,
                (long long)worst_k, worst_num, worst_ana);
    return bad == 0;
}

bool gradcheck_graph(const char *label, const Graph *g, Tensor *const *inputs,
                     bool check_inputs, const GradCheckOpts *opts)
{
    double eps = opts->eps > 0 ? opts->eps : 1e-3;
    QsError err = { 0 };
    Run run;
    run_init(&run, g);
    run.training = opts->training;
    if (!test_check_ok(run_enable_grads(&run, check_inputs, &err), &err, __FILE__, __LINE__,
                       label)) {
        run_release(&run);
        return false;
    }
    GraphFwd f = { .run = &run, .inputs = inputs };
    /* forward once for the output shape, then the weights r */
    graph_loss(&f);
    const Tensor *o = run_output(&run, 0);
    int64_t no = tensor_numel(o);
    double *r = xmalloc((size_t)(no ? no : 1) * sizeof *r);
    Tensor *dout0 = tensor_new(DT_F32, o->shape, NULL);
    unsigned seed = opts->seed ? opts->seed : 12345u;
    for (int64_t k = 0; k < no; k++) {
        r[k] = (double)next_rand(&seed) / 8388608.0 - 1.0;
        tensor_f32(dout0)[k] = (float)r[k];
    }
    f.r = r;
    const Tensor **dout = xcalloc((size_t)g->n_outputs, sizeof *dout);
    dout[0] = dout0;
    graph_loss(&f);
    bool ok = test_check_ok(run_backward(&run, dout, &err), &err, __FILE__, __LINE__, label);
    const ParamList *p = run_params(&run);
    /* keep the analytic gradients: every later forward reuses the run */
    float *pg = xmalloc((size_t)(p->numel ? p->numel : 1) * sizeof *pg);
    memcpy(pg, p->buf, (size_t)p->numel * sizeof *pg);
    float *ig[16] = { 0 };
    for (int i = 0; check_inputs && i < g->n_inputs && i < 16; i++) {
        const Tensor *gi = run_input_grad(&run, i);
        if (!gi)
            continue;
        ig[i] = xmalloc(tensor_bytes(gi));
        memcpy(ig[i], gi->data, tensor_bytes(gi));
    }
    for (int i = 0; ok && i < p->n; i++) {
        char what[200];
        snprintf(what, sizeof what, "%s: gradient of parameter '%s'", label,
                 g->values[p->value[i]].name);
        ok &= graph_check_tensor(what, &f, tensor_f32(&p->param[i]), pg + p->offset[i],
                                 tensor_numel(&p->param[i]), opts, eps);
    }
    for (int i = 0; ok && check_inputs && i < g->n_inputs && i < 16; i++) {
        char what[200];
        snprintf(what, sizeof what, "%s: gradient of input '%s'", label,
                 g->values[g->inputs[i]].name);
        bool have = ig[i] != NULL;
        test_check(have, __FILE__, __LINE__, what);
        if (have)
            ok &= graph_check_tensor(what, &f, tensor_f32(inputs[i]), ig[i],
                                     tensor_numel(inputs[i]), opts, eps);
        ok &= have;
    }
    for (int i = 0; i < 16; i++)
        free(ig[i]);
    free(pg);
    free(dout);
    tensor_free(dout0);
    free(r);
    run_release(&run);
    return ok;
}
