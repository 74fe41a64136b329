/* UTF-8 validation (utf8.h), after RFC 3629 section 4's table of well-formed sequences. */
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

/* Length of the well-formed sequence at s[0, n), 0 when it is not one; *cp its code point. */
static size_t seq_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c == 0)
        return 0;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0)
        len = 2, v = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, v = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[k] & 0x3F);
    }
    /* overlong forms, surrogates and code points past Unicode's end */
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static bool is_control(uint32_t cp, bool allow_space)
{
    if (allow_space && (cp == '\t' || cp == '\n' || cp == '\r'))
        return false;
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

size_t utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t k = seq_len(u + i, n - i, &cp);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

size_t utf8_control_at(const char *s, size_t n, bool allow_space)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t k = seq_len(u + i, n - i, &cp);
        if (!k || is_control(cp, allow_space))
            return i;
        i += k;
    }
    return n;
}

static QsStatus check(const char *s, size_t n, bool allow_space, const char *what,
                      QsError *err)
{
    size_t bad = utf8_valid_prefix(s, n);
    if (bad < n)
        return qs_fail(err, QS_EFORMAT, "%s is not valid UTF-8 (byte 0x%02x at offset %zu)",
                       what, (unsigned char)s[bad], bad);
    bad = utf8_control_at(s, n, allow_space);
    if (bad < n) {
        const unsigned char *u = (const unsigned char *)s + bad;
        /* C1 controls are two bytes (C2 80..C2 9F): name the code point */
        unsigned cp = u[0] == 0xC2 ? u[1] : u[0];
        return qs_fail(err, QS_EFORMAT, "%s contains the control character 0x%02x at offset %zu",
                       what, cp, bad);
    }
    return QS_OK;
}

QsStatus utf8_check_text(const char *s, size_t n, const char *what, QsError *err)
{
    return check(s, n, true, what, err);
}

QsStatus utf8_check_name(const char *s, const char *what, QsError *err)
{
    return check(s, strlen(s), false, what, err);
}

size_t utf8_make_safe(char *s, bool controls)
{
    unsigned char *u = (unsigned char *)s;
    size_t n = strlen(s), replaced = 0;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t k = seq_len(u + i, n - i, &cp);
        if (k && !(controls && is_control(cp, false))) {
            i += k;
            continue;
        }
        u[i++] = '?';
        replaced++;
    }
    return replaced;
}
