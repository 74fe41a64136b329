/* Text checks shared by the JSON-based readers (.qsm headers and graphs, model specs),
 * after the rule of base/utf8.h: every key and string of a document is a name (valid
 * UTF-8, no control character), except text, which may hold tabs and newlines: the
 * string values of one top-level object (the metadata) and strings under the key "s"
 * (string attributes of .qsm graph nodes). */
#ifndef QS_JSONTEXT_H
#define QS_JSONTEXT_H

#include <cJSON.h>
#include <stddef.h>

#include "base/error.h"

/* Offset of the first "\u0000" escape in the JSON text s[0, n), or n. cJSON ends the
 * string there, which would silently cut a name short; readers refuse it. */
size_t json_nul_escape_at(const char *s, size_t n);

/* Checks the keys and strings of the object root; the string values of root's member
 * text_key (NULL: none) are text. where names root in errors: "<where>: the value of
 * 'name' in an element in 'nodes' contains the control character 0x1b at offset 1". */
QsStatus json_check_names(const cJSON *root, const char *where, const char *text_key,
                          QsError *err);

#endif
