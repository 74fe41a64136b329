/* The ONNX op rows on both sides are complete and well formed:
 *   - export (onnx_export_op): every OpType has an ONNX op it is written as, or an explicit
 *     reason why it cannot be exported (never both, never neither); an op written as one
 *     node of its own name names that node as qscope's op table does;
 *   - import (ox_op_rows): every row names an ONNX op once, and maps it to a known qscope
 *     op or to a folding or translation function; a folding mode has its evaluator, a row
 *     without a qscope op is always folded, and a direct mapping passes at least one input.
 * So adding an OpType without deciding its export, or an import row that leads nowhere,
 * fails here rather than at a user's export. */
#include <stdio.h>
#include <string.h>

#include "onnx/onnx_export.h"
#include "onnx/onnx_ops.h"
#include "ops/op.h"
#include "test_util.h"

static void test_export_rows(void)
{
    for (int op = 0; op < OP_COUNT; op++) {
        const char *why = NULL;
        const char *name = onnx_export_op(op, &why);
        bool ok = (name != NULL) != (why != NULL);
        if (!CHECK(ok))
            printf("  OpType %d (%s): export row %s\n", op, op_table[op]->name,
                   name ? "has a name and a reason" : "has neither a name nor a reason");
        CHECK(!name || name[0]);
        CHECK(!why || why[0]);
    }
    /* Ops written as themselves keep the op table's ONNX name. */
    static const int same[] = { OP_GEMM, OP_MATMUL, OP_CONV, OP_BATCHNORM, OP_RELU, OP_CLIP,
                                OP_SOFTMAX, OP_MAXPOOL, OP_AVGPOOL, OP_GLOBALAVGPOOL,
                                OP_RESHAPE, OP_CONCAT, OP_REDUCESUM, OP_PAD, OP_RESIZE,
                                OP_SLICE, OP_CONVTRANSPOSE, OP_LAYERNORM, OP_HARDSIGMOID };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        CHECK(strcmp(onnx_export_op(same[i], NULL), op_table[same[i]]->name) == 0);
    const char *why = NULL;
    CHECK(onnx_export_op(OP_FAKEQUANT, &why) == NULL && why != NULL);
    CHECK(onnx_export_op(OP_COUNT, &why) == NULL && why != NULL);
    CHECK(onnx_export_op(OP_DENSE, &why) != NULL && why == NULL);
}

static void test_import_rows(void)
{
    CHECK(ox_n_op_rows > 0);
    for (int i = 0; i < ox_n_op_rows; i++) {
        const OxOpRow *r = &ox_op_rows[i];
        bool named = r->name && r->name[0];
        if (!CHECK(named))
            continue;
        for (int j = 0; j < i; j++)
            if (!CHECK(strcmp(ox_op_rows[j].name, r->name) != 0))
                printf("  import row '%s' appears twice\n", r->name);
        bool known_op = r->op >= 0 && r->op < OP_COUNT;
        bool maps = known_op || r->fold_fn || r->translate;
        if (!CHECK(maps))
            printf("  import row '%s' names no op, folding or translation\n", r->name);
        CHECK(r->op >= -1 && r->op < OP_COUNT);
        CHECK((r->fold == OX_FOLD_NEVER) == (r->fold_fn == NULL));
        /* Without a qscope op or a translation the node can only be folded. */
        if (!known_op && !r->translate)
            CHECK(r->fold == OX_FOLD_ONLY || r->fold == OX_FOLD_SHAPE ||
                  r->fold == OX_FOLD_SOURCE);
        if (known_op && !r->translate)
            CHECK(r->n_in >= 1 && r->n_in <= op_table[r->op]->max_in);
        /* A node that reaches the run-time path needs somewhere to go. */
        if (r->fold != OX_FOLD_ONLY && r->fold != OX_FOLD_SHAPE && r->fold != OX_FOLD_SOURCE)
            CHECK(known_op || r->translate);
    }
    /* Lookup: by name, default domain only. */
    OxNode n;
    memset(&n, 0, sizeof n);
    n.op = (char *)"Conv";
    const OxOpRow *r = ox_op_find(&n);
    CHECK(r && r->op == OP_CONV);
    n.domain = (char *)"ai.onnx";
    CHECK(ox_op_find(&n) == r);
    n.domain = (char *)"com.microsoft";
    CHECK(ox_op_find(&n) == NULL);
    n.domain = NULL;
    n.op = (char *)"NoSuchOp";
    CHECK(ox_op_find(&n) == NULL);
}

int main(void)
{
    test_export_rows();
    test_import_rows();
    return test_summary("onnx_rows");
}
