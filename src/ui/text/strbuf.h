/* A growing NUL-terminated string, for renderers that build output before showing it. */
#ifndef QS_STRBUF_H
#define QS_STRBUF_H

#include <stddef.h>

typedef struct StrBuf {
    char *s;      /* always NUL-terminated once anything was appended; owned */
    size_t len, cap;
} StrBuf;

void strbuf_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_append(StrBuf *b, const char *s, size_t n);
void strbuf_pad(StrBuf *b, char c, int n);
/* The text so far: "" before anything was appended. Valid until the next change. */
const char *strbuf_str(const StrBuf *b);
/* Empties the text, keeping the memory for the next one. */
void strbuf_clear(StrBuf *b);
/* Hands the string to the caller (free with free) and empties the buffer. Never NULL. */
char *strbuf_take(StrBuf *b);
void strbuf_release(StrBuf *b);

#endif
