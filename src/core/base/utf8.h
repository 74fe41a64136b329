/* UTF-8 checks for text read from files (issue 14, finding 5). One rule everywhere:
 *   - text (attribute strings, metadata values, script lines) must be valid UTF-8: shortest
 *     form, no UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no NUL;
 *   - names (of nodes, values, tensors, attributes, metadata keys, archive members) must
 *     also hold no control character (U+0001..U+001F, U+007F, U+0080..U+009F), so that a
 *     name printed in a table or on a terminal cannot break the line or send an escape
 *     sequence.
 * Readers refuse a file that breaks the rule, naming the element and the offending byte
 * and its offset in the string (never the string itself). The last line of defence for
 * output is utf8_make_safe, which error messages and the JSON renderer go through. */
#ifndef QS_UTF8_H
#define QS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Length of the longest valid UTF-8 prefix of s[0, n) (NUL counts as invalid): n when
 * the whole of it is valid. */
size_t utf8_valid_prefix(const char *s, size_t n);
static inline bool utf8_valid(const char *s, size_t n) { return utf8_valid_prefix(s, n) == n; }

/* Offset of the first control character (see above; tab, LF and CR count when
 * allow_space is false) in the valid UTF-8 s[0, n), or n when there is none. */
size_t utf8_control_at(const char *s, size_t n, bool allow_space);

/* Checks text s[0, n) (UTF-8, no control character but tab, LF, CR). Fails with
 * QS_EFORMAT: "<what> is not valid UTF-8 (byte 0xff at offset 5)" or "<what> contains
 * the control character 0x1b at offset 5". */
QsStatus utf8_check_text(const char *s, size_t n, const char *what, QsError *err);
/* Checks a name s (NUL-terminated) the same way, with no control character at all. */
QsStatus utf8_check_name(const char *s, const char *what, QsError *err);

/* Replaces in place every byte that is not part of valid UTF-8 by '?' and, when
 * controls is true, every control character (including tab and newline) by '?' too, so
 * that s can be printed on one line of a terminal or placed in JSON. Returns the number
 * of bytes replaced. */
size_t utf8_make_safe(char *s, bool controls);

#endif
