/* The HTML report's per-layer error figure: SQNR against FP32 of every layer, local and
 * accumulated, from the results of `layers`, `error local` and `error accum`. */
#include <math.h>
#include <stdlib.h>

#include "cmds/report.h"
#include "html/html_page.h"
#include "html/svg_charts.h"

/* The SQNR an error result gives the layer at run-order index `index`; NaN when it has no
 * row for it (fused into its unit, or the command did not run). */
static double sqnr_at(const Result *e, double index)
{
    const RTable *t = e ? result_find_table(e, "layers") : NULL;
    int ci = rtable_col(t, "index"), cs = rtable_col(t, "sqnr");
    for (int r = 0; t && ci >= 0 && r < t->n_rows; r++)
        if (rvalue_num(rtable_cell(t, r, ci)) == index)
            return rvalue_num(rtable_cell(t, r, cs));
    return NAN;
}

void report_error_figure(StrBuf *b, const Result *layers, const Result *local,
                         const Result *accum)
{
    const RTable *lt = layers ? result_find_table(layers, "layers") : NULL;
    if (!lt || (!local && !accum))
        return; /* the tables below say why */
    int ci = rtable_col(lt, "index"), cn = rtable_col(lt, "name");
    SvgLayerRow *rows = xcalloc(lt->n_rows > 0 ? (size_t)lt->n_rows : 1, sizeof *rows);
    int worst = -1;
    for (int r = 0; r < lt->n_rows; r++) {
        const char *name = rvalue_str(rtable_cell(lt, r, cn));
        double index = rvalue_num(rtable_cell(lt, r, ci));
        rows[r].name = name ? name : "?";
        rows[r].v[0] = sqnr_at(local, index);
        rows[r].v[1] = sqnr_at(accum, index);
        if (isfinite(rows[r].v[0]) && (worst < 0 || rows[r].v[0] < rows[worst].v[0]))
            worst = r;
    }
    static const char *const cls[2] = { "local", "accum" };
    static const char *const label[2] = { "local", "accumulated" };
    strbuf_printf(b, "<figure>\n");
    svg_layer_bars(b, "fig-error", cls, label, "dB", rows, lt->n_rows, worst);
    html_elem(b, "figcaption", NULL,
              "SQNR of each layer's output against FP32, in dB: a longer bar is a smaller "
              "error. Local: the layer alone, fed the float input; accumulated: the quantized "
              "model run whole. A layer without a bar has no output of its own in that run "
              "(it is fused into its unit); 'exact' means no error. The lowest local SQNR "
              "is in bold.");
    strbuf_printf(b, "</figure>\n");
    html_from(b, "error local; error accum");
    free(rows);
}
