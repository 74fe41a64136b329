/* Einsum of the batched matrix-product family torch exports for attention and heads,
 * translated into MatMul (and a Transpose of the second operand's last two axes):
 *   L ij, L jk -> L ik    (bij,bjk->bik; bhqk,bhkd->bhqd; ...ij,...jk->...ik)
 *   L ij, L kj -> L ik    (bhqd,bhkd->bhqk: the second operand transposed)
 * where L is the same leading letters (or "...") in all three terms, and per-sample
 * weights over a map (mask and open-vocabulary heads):
 *   L cS, L kc -> L kS    (bchw,bkc->bkhw; either operand first), S one or more letters:
 *                         MatMul(weights, Reshape(map to L c |S|)), reshaped to L k S.
 * Any other equation fails naming it. */
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_ops.h"
#include "ops/op.h"

#define EQ_MAX 64

/* The term s without spaces into out (max EQ_MAX); false when too long. */
static bool eq_term(const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ') {
            if (n + 1 >= EQ_MAX)
                return false;
            out[n++] = s[i];
        }
    out[n] = 0;
    return true;
}

/* The three terms of "A,B->C"; false when the equation has another form. */
static bool eq_split(const char *eq, char *a, char *b, char *c)
{
    const char *comma = strchr(eq, ','), *arrow = strstr(eq, "->");
    if (!comma || !arrow || comma > arrow || strchr(comma + 1, ',') )
        return false;
    return eq_term(eq, (size_t)(comma - eq), a) &&
           eq_term(comma + 1, (size_t)(arrow - comma - 1), b) &&
           eq_term(arrow + 2, strlen(arrow + 2), c);
}

static bool is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* Recognises the family above: *transpose_b when B is "L kj". */
static bool eq_matmul(const char *a, const char *b, const char *c, bool *transpose_b)
{
    size_t la = strlen(a);
    if (la < 2 || strlen(b) != la || strlen(c) != la)
        return false;
    size_t lead = la - 2;
    if (strncmp(a, b, lead) != 0 || strncmp(a, c, lead) != 0)
        return false;
    const char *L = a;
    if (lead >= 3 && strncmp(L, "...", 3) == 0)
        L += 3, lead -= 3;
    for (size_t i = 0; i < lead; i++)
        if (!is_letter(L[i]) || memchr(L + i + 1, L[i], lead - i - 1))
            return false;
    char i = a[la - 2], j = a[la - 1], k = c[la - 1];
    if (!is_letter(i) || !is_letter(j) || !is_letter(k) || i == j || j == k || i == k ||
        c[la - 2] != i || memchr(L, i, lead) || memchr(L, j, lead) || memchr(L, k, lead))
        return false;
    if (b[la - 2] == j && b[la - 1] == k)
        *transpose_b = false;
    else if (b[la - 2] == k && b[la - 1] == j)
        *transpose_b = true;
    else
        return false;
    return true;
}

/* The map form: *map_first when A is "L cS" and B "L kc"; *lead the length of L. */
static bool eq_map(const char *a, const char *b, const char *c, bool *map_first, int *lead)
{
    for (int swap = 0; swap < 2; swap++) {
        const char *m = swap ? b : a, *w = swap ? a : b;
        size_t lm = strlen(m), lw = strlen(w), lc = strlen(c);
        if (lw < 3 || lm < lw || lc != lm)
            continue;
        size_t nl = lw - 2, ns = lm - nl - 1;
        char k = w[nl], ch = w[nl + 1];
        bool ok = strncmp(m, w, nl) == 0 && strncmp(m, c, nl) == 0 && m[nl] == ch &&
                  c[nl] == k && strcmp(m + nl + 1, c + nl + 1) == 0 && ns >= 1;
        for (size_t i = 0; ok && i < lm; i++) /* letters, each once in the map */
            ok = is_letter(m[i]) && !memchr(m + i + 1, m[i], lm - i - 1) && m[i] != k;
        if (ok && is_letter(k)) {
            *map_first = !swap;
            *lead = (int)nl;
            return true;
        }
    }
    return false;
}

/* Emits the map form: weights (L k c) times the map (L c S) flattened over S. */
static QsStatus einsum_map(OxCtx *c, int map_in, int lead)
{
    OxVal *m = ox_in(c, map_in), *w = ox_in(c, 1 - map_in);
    int rm = m->shape.ndim;
    if (w->shape.ndim != lead + 2 || rm < lead + 2 || lead < 1)
        return ox_nfail(c, QS_ESHAPE, "the inputs' ranks do not match the equation");
    const char *wname = w->name;
    int64_t flat[QS_MAX_DIMS], back[QS_MAX_DIMS], p = 1;
    for (int d = 0; d < lead; d++)
        flat[d] = back[d] = d == 0 ? 0 : m->shape.dim[d];
    flat[lead] = m->shape.dim[lead];
    back[lead] = w->shape.dim[lead];
    for (int d = lead + 1; d < rm; d++) {
        p *= m->shape.dim[d];
        back[d] = m->shape.dim[d];
    }
    flat[lead + 1] = p;
    Attr af = attr_ints("shape", flat, lead + 2), ab = attr_ints("shape", back, rm);
    char *rs = ox_unique_name(c, "flat"), *mm = ox_unique_name(c, "matmul");
    QsStatus st = ox_emit_as(c, OP_RESHAPE, &m, 1, &af, 1, rs, rs);
    if (!st) {
        OxVal *ins[2] = { ox_val(c->x, wname), ox_val(c->x, rs) };
        st = ox_emit_as(c, OP_MATMUL, ins, 2, NULL, 0, mm, mm);
    }
    if (!st) {
        OxVal *prod = ox_val(c->x, mm);
        st = ox_emit(c, OP_RESHAPE, &prod, 1, &ab, 1);
    }
    attr_release(&af);
    attr_release(&ab);
    free(rs);
    free(mm);
    return st;
}

QsStatus ox_tr_einsum(OxCtx *c, const OxOpRow *r)
{
    (void)r;
    const OxAttr *ea = ox_attr_get(c->n, "equation");
    const char *eq = ea && ea->s ? ea->s : "";
    char ta[EQ_MAX], tb[EQ_MAX], tc[EQ_MAX];
    bool tr = false, map_first = false;
    int lead = 0;
    bool split = c->n->n_in == 2 && eq_split(eq, ta, tb, tc);
    if (split && !eq_matmul(ta, tb, tc, &tr) && eq_map(ta, tb, tc, &map_first, &lead))
        return einsum_map(c, map_first ? 0 : 1, lead);
    if (!split || !eq_matmul(ta, tb, tc, &tr))
        return ox_nfail(c, QS_EUNSUPPORTED, "equation \"%s\" is not supported (only batched "
                        "matrix products \"L ij,L jk->L ik\" and \"L ij,L kj->L ik\", L the "
                        "same leading letters or ... in all three, and \"L cS,L kc->L kS\")",
                        eq);
    OxVal *a = ox_in(c, 0), *b = ox_in(c, 1);
    int ra = a->shape.ndim, rb = b->shape.ndim;
    bool ell = strncmp(ta, "...", 3) == 0;
    int want = (int)strlen(ta) - (ell ? 3 : 0);
    if (ra < 2 || rb < 2 || (!ell && (ra != want || rb != want)) ||
        (ell && (ra < want || rb < want)))
        return ox_nfail(c, QS_ESHAPE, "equation \"%s\" does not match inputs of rank %d and "
                        "%d", eq, ra, rb);
    if (!tr)
        return ox_emit(c, OP_MATMUL, c->in, 2, NULL, 0);
    const char *aname = a->name;
    int64_t perm[QS_MAX_DIMS];
    for (int d = 0; d < rb; d++)
        perm[d] = d;
    perm[rb - 2] = rb - 1;
    perm[rb - 1] = rb - 2;
    Attr p = attr_ints("perm", perm, rb);
    char *t = ox_unique_name(c, "transpose");
    QsStatus st = ox_emit_as(c, OP_TRANSPOSE, &b, 1, &p, 1, t, t);
    attr_release(&p);
    if (!st) {
        OxVal *ins[2] = { ox_val(c->x, aname), ox_val(c->x, t) };
        st = ox_emit(c, OP_MATMUL, ins, 2, NULL, 0);
    }
    free(t);
    return st;
}
