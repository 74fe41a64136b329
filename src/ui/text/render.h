/* Renderers turn a Result into text: aligned tables for people, one JSON object per
 * result for programs. Both return a new string; caller frees with free. */
#ifndef QS_RENDER_H
#define QS_RENDER_H

#include "text/result.h"

typedef enum { RENDER_TEXT = 0, RENDER_JSON } RenderMode;

char *render_text(const Result *r);
/* One line, newline-terminated: {"cmd": "...", "ok": true, <fields>, <tables>, "text": [..]} */
char *render_json(const Result *r);
/* The same object as a cJSON tree, for documents that hold several results (`report`).
 * Caller frees with cJSON_Delete. Declared with an incomplete type so that this header
 * does not pull cJSON into every user. */
struct cJSON;
struct cJSON *render_json_object(const Result *r);
/* An error as one JSON line: {"cmd": .., "ok": false, "error": msg, "code": name}. */
char *render_json_error(const char *cmd, const char *code, const char *msg);
/* A value as the text renderer shows it. */
void render_value(const RValue *v, char *buf, size_t cap);

#endif
