/* The UTF-8 validator (src/core/base/utf8.h) on hand-made byte strings: valid one- to
 * four-byte sequences, overlong forms, surrogates, truncated sequences, code points above
 * U+10FFFF, stray continuation bytes, control characters; the exact error messages; and
 * utf8_make_safe, the repair used by error messages and the JSON renderer. */
#include <string.h>

#include "base/utf8.h"
#include "test_util.h"

/* s (n bytes) is valid up to byte `want` (n when valid). */
static void prefix_is(const char *label, const char *s, size_t n, size_t want)
{
    size_t got = utf8_valid_prefix(s, n);
    if (!CHECK(got == want))
        test_check(false, __FILE__, __LINE__, label);
}

static void test_validity(void)
{
    /* valid: ASCII, 2-byte é, 3-byte € and U+FFFF, 4-byte U+1F600 and U+10FFFF, the
     * smallest of each length (U+0080, U+0800, U+10000), the neighbours of the surrogates */
    static const char *const ok[] = { "plain", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xef\xbf\xbf",
                                      "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xc2\x80",
                                      "\xe0\xa0\x80", "\xf0\x90\x80\x80", "\xed\x9f\xbf",
                                      "\xee\x80\x80", "" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        prefix_is(ok[i], ok[i], strlen(ok[i]), strlen(ok[i]));
        CHECK(utf8_valid(ok[i], strlen(ok[i])));
    }
    /* invalid, with the offset of the first bad byte */
    static const struct {
        const char *s;
        size_t at;
    } bad[] = {
        { "ab\xc0\xaf", 2 },             /* overlong '/' (2 bytes) */
        { "\xc1\xbf", 0 },               /* overlong U+007F */
        { "x\xe0\x80\xaf", 1 },          /* overlong '/' (3 bytes) */
        { "\xe0\x9f\xbf", 0 },           /* overlong U+07FF */
        { "\xf0\x8f\xbf\xbf", 0 },       /* overlong U+FFFF (4 bytes) */
        { "\xed\xa0\x80", 0 },           /* surrogate U+D800 */
        { "ok\xed\xbf\xbf", 2 },         /* surrogate U+DFFF */
        { "\xf4\x90\x80\x80", 0 },       /* U+110000 */
        { "\xf7\xbf\xbf\xbf", 0 },       /* U+1FFFFF */
        { "\xf8\x88\x80\x80\x80", 0 },   /* 5-byte form */
        { "a\xff", 1 },                  /* never in UTF-8 */
        { "\x80x", 0 },                  /* stray continuation */
        { "caf\xc3", 3 },                /* truncated 2-byte */
        { "\xe2\x82", 0 },               /* truncated 3-byte */
        { "\xf0\x9f\x98", 0 },           /* truncated 4-byte */
        { "\xe2\x82x", 0 },              /* continuation missing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        prefix_is(bad[i].s, bad[i].s, strlen(bad[i].s), bad[i].at);
        CHECK(!utf8_valid(bad[i].s, strlen(bad[i].s)));
    }
    /* NUL inside the range is refused */
    prefix_is("NUL", "a\0b", 3, 1);
}

static void test_controls(void)
{
    CHECK(utf8_control_at("a\tb", 3, true) == 3);
    CHECK(utf8_control_at("a\tb", 3, false) == 1);
    CHECK(utf8_control_at("ab\x1b[2J", 6, true) == 2);
    CHECK(utf8_control_at("x\x7f", 2, true) == 1);
    CHECK(utf8_control_at("\xc3\xa9\xc2\x85", 4, true) == 2); /* U+0085 NEL */
    CHECK(utf8_control_at("\xc2\xa0", 2, false) == 2);        /* U+00A0 is not a control */
    QsError err = { 0 };
    CHECK(utf8_check_name("layer\xc3\xa9", "name", &err) == QS_OK);
    CHECK(utf8_check_name("a\xffz", "node 3: name", &err) == QS_EFORMAT);
    CHECK(strcmp(err.msg, "node 3: name is not valid UTF-8 (byte 0xff at offset 1)") == 0);
    CHECK(utf8_check_name("ab\ncd", "value 'x': name", &err) == QS_EFORMAT);
    CHECK(strcmp(err.msg, "value 'x': name contains the control character 0x0a at offset 2") == 0);
    CHECK(utf8_check_name("\xc2\x9b" "31m", "name", &err) == QS_EFORMAT); /* C1 CSI */
    CHECK(strcmp(err.msg, "name contains the control character 0x9b at offset 0") == 0);
    CHECK(utf8_check_text("line one\nline two\r\n\ttab", 22, "text", &err) == QS_OK);
    CHECK(utf8_check_text("bell\a", 5, "text", &err) == QS_EFORMAT);
    CHECK(strcmp(err.msg, "text contains the control character 0x07 at offset 4") == 0);
}

static void test_make_safe(void)
{
    char a[] = "ok\xff\xc3\xa9\xed\xa0\x80\x1b[0m\xc3";
    CHECK(utf8_make_safe(a, true) == 6);
    CHECK(strcmp(a, "ok?\xc3\xa9????[0m?") == 0);
    char b[] = "keep\ttabs\nand\xe2\x82\xac \xc0\xaf";
    CHECK(utf8_make_safe(b, false) == 2);
    CHECK(strcmp(b, "keep\ttabs\nand\xe2\x82\xac ??") == 0);
    /* error messages go through it: a quoted byte from a file cannot reach the terminal */
    QsError err = { 0 };
    qs_fail(&err, QS_EFORMAT, "field '%s' is not a number", "\x1b]0;pwned\a\xff");
    CHECK(strcmp(err.msg, "field '?]0;pwned?" "?' is not a number") == 0);
    qs_error_prefix(&err, "data\n.csv");
    CHECK(strcmp(err.msg, "data?.csv: field '?]0;pwned?" "?' is not a number") == 0);
}

int main(void)
{
    test_validity();
    test_controls();
    test_make_safe();
    return test_summary("utf8");
}
