/* The HTML report's writers: escaping (markup, quotes, bytes that are not UTF-8, control
 * characters), names shortened from their meaningful end, one bar per layer whatever its
 * value (NaN, +Inf, negative), no non-finite number reaching an SVG attribute, tables as
 * the console shows them, and command arguments quoted so the lexer reads them back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "html/html_page.h"
#include "html/html_table.h"
#include "html/svg_charts.h"
#include "html/svg_draw.h"
#include "test_util.h"
#include "text/args.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_escape(void)
{
    StrBuf b = { 0 };
    html_escape(&b, "a<b>&\"c\"'d'");
    CHECK(strcmp(b.s, "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;") == 0);
    strbuf_release(&b);
    html_escape(&b, "ok\xff\x1b[31m\xe6\xb1\xa0"); /* a stray byte, ESC, then 池 */
    CHECK(strcmp(b.s, "ok??[31m\xe6\xb1\xa0") == 0);
    strbuf_release(&b);
    html_elemf(&b, "p", "missing", "%s: %d", "<x>", 3);
    CHECK(strcmp(b.s, "<p class=\"missing\">&lt;x&gt;: 3</p>\n") == 0);
    strbuf_release(&b);
    html_from(&b, "hist \"a b\" act");
    CHECK(strcmp(b.s, "<p class=\"from\">from <code>hist &quot;a b&quot; act</code></p>\n") == 0);
    strbuf_release(&b);
}

static void test_tail(void)
{
    char buf[64];
    svg_tail(buf, sizeof buf, "conv1", 8);
    CHECK(strcmp(buf, "conv1") == 0);
    svg_tail(buf, sizeof buf, "/features/features.3/Conv", 8);
    CHECK(strcmp(buf, "\xe2\x80\xa6" ".3/Conv") == 0); /* 8 characters, the ellipsis one */
    /* cut on a character boundary: the tail of 池化/层 in three characters */
    svg_tail(buf, sizeof buf, "\xe6\xb1\xa0\xe5\x8c\x96/\xe5\xb1\x82", 3);
    CHECK(strcmp(buf, "\xe2\x80\xa6/\xe5\xb1\x82") == 0);
}

static void test_layer_bars(void)
{
    SvgLayerRow rows[4] = {
        { "conv1", { 41.5, 41.5 } },
        { "<bn>", { NAN, NAN } },      /* fused: empty bars */
        { "flatten", { INFINITY, 39.0 } },
        { "fc2", { -3.0, 12.0 } },     /* drawn as 0 */
    };
    static const char *const cls[2] = { "local", "accum" };
    static const char *const label[2] = { "local", "accumulated" };
    StrBuf b = { 0 };
    svg_layer_bars(&b, "fig-error", cls, label, "dB", rows, 4, 3);
    CHECK(count(b.s, "<g class=\"layer") == 4);
    CHECK(count(b.s, "class=\"bar local") == 4);
    CHECK(count(b.s, "class=\"bar accum") == 4);
    CHECK(count(b.s, "class=\"bar local none\"") == 1);
    CHECK(count(b.s, "<g class=\"layer worst\" data-layer=\"fc2\"") == 1);
    CHECK(strstr(b.s, "data-layer=\"&lt;bn&gt;\"") != NULL);
    CHECK(strstr(b.s, "exact") != NULL);
    CHECK(!strstr(b.s, "nan") && !strstr(b.s, "=\"inf") && !strstr(b.s, "=\"-"));
    strbuf_release(&b);
}

static void test_small_figures(void)
{
    double mass[4] = { 0, 10, 1000, 0 }, lo[3] = { -1, NAN, -0.5 }, hi[3] = { 2, 1, 0.5 };
    StrBuf b = { 0 };
    svg_histogram(&b, "h", mass, 4, -1, 3, 0, 2);
    CHECK(count(b.s, "<rect class=\"col\"") == 2); /* empty columns are not drawn */
    CHECK(count(b.s, "<rect class=\"clip\"") == 1);
    svg_channel_ranges(&b, "w", lo, hi, 3, 0);
    CHECK(count(b.s, "<rect class=\"range") == 2); /* the NaN channel is left out */
    CHECK(count(b.s, "<rect class=\"range widest\"") == 1);
    CHECK(!strstr(b.s, "nan") && !strstr(b.s, "inf"));
    strbuf_release(&b);
}

static void test_table(void)
{
    Result r;
    result_init(&r, "t");
    result_str(&r, "name", "a<b");
    static const char *const cols[] = { "variant", "metric", NULL };
    RTable *t = result_table(&r, "variants", cols);
    for (int i = 0; i < 3; i++) {
        int row = rtable_add_row(t);
        rtable_str(t, row, 0, i == 1 ? "int8 & co" : "fp32");
        rtable_float(t, row, 1, 0.5 + i * 0.1, RS_PCT);
    }
    StrBuf b = { 0 };
    html_fields(&b, &r);
    CHECK(strstr(b.s, "<dt>name</dt>\n<dd>a&lt;b</dd>") != NULL);
    html_rtable(&b, t, html_row_with(t, "variant", "int8 & co"));
    CHECK(count(b.s, "<tr class=\"mark\"><td>int8 &amp; co</td>"
                     "<td class=\"num\">60.00 %</td>") == 1);
    CHECK(html_row_with(t, "variant", "none") == -1);
    strbuf_release(&b);
    result_release(&r);
}

static void test_quote(void)
{
    const char *args[] = { "conv1", "a b", "x=1;#y", "drop<=1%", "q\"\\", "/f/features.3/Conv" };
    const char *as_is[] = { "conv1", "\"a b\"", "\"x=1;#y\"", "drop<=1%", "\"q\\\"\\\\\"",
                            "/f/features.3/Conv" };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        StrBuf b = { 0 };
        strbuf_printf(&b, "hist ");
        args_quote(&b, args[i]);
        CHECK(strcmp(b.s + 5, as_is[i]) == 0);
        CmdArgs a;
        QsError err = { 0 };
        CHECK_OK(args_parse(b.s, &a, &err), &err);
        CHECK(a.n_pos == 1 && a.n_kv == 0 && strcmp(a.pos[0], args[i]) == 0);
        args_release(&a);
        strbuf_release(&b);
    }
}

int main(void)
{
    test_escape();
    test_tail();
    test_layer_bars();
    test_small_figures();
    test_table();
    test_quote();
    return test_summary("html");
}
