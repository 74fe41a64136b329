/* Renderers turn a Result into text: aligned tables for people, one JSON object per
 * result for programs. Both return a new string; caller frees with free. */
#ifndef QS_RENDER_H
#define QS_RENDER_H

#include <stdbool.h>

#include "text/result.h"

typedef enum { RENDER_TEXT = 0, RENDER_JSON } RenderMode;

char *render_text(const Result *r);
/* One line, newline-terminated: {"cmd": "...", "ok": true, <fields>, <tables>, "text": [..]};
 * a range value is [lo, hi]. The keys are listed per command in docs/json.md. */
char *render_json(const Result *r);
/* The same object as a cJSON tree, for documents that hold several results (`report`).
 * Caller frees with cJSON_Delete. Declared with an incomplete type so that this header
 * does not pull cJSON into every user. */
struct cJSON;
struct cJSON *render_json_object(const Result *r);
/* o as JSON text ending in a newline, indented when `formatted`, else on one line; new
 * string, caller frees; o is not freed. The last line of defence for valid JSON: a byte
 * that is not part of valid UTF-8 (a file path, say; names from files are checked when
 * read, utf8.h) becomes '?'. Control characters are escaped by cJSON. */
char *render_json_print(const struct cJSON *o, bool formatted);
/* An error as one JSON line: {"cmd": .., "ok": false, "error": msg, "code": name}; cmd is
 * the command that failed, NULL (written "") for a failure in no command. */
char *render_json_error(const char *cmd, const char *code, const char *msg);
/* A value as the text renderer shows it, appended to b (never truncated); NULL (a key a
 * result does not hold) reads "-", as a null value. */
struct StrBuf;
void render_value_append(struct StrBuf *b, const RValue *v);
/* The same into buf, cut at cap (the workbench's cells, which are cut to a pane anyway). */
void render_value(const RValue *v, char *buf, size_t cap);

#endif
