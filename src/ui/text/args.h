/* The command language's lexical layer: a line holds commands separated by ';', '#'
 * starts a comment, a command is `name pos... key=value...`, and values may be quoted
 * with "..." (backslash escapes) or '...' (literal). */
#ifndef QS_ARGS_H
#define QS_ARGS_H

#include <stdbool.h>

#include "base/error.h"
#include "text/strbuf.h"

typedef struct CmdArgs {
    char *name;       /* the command word */
    int n_pos;
    char **pos;       /* positional arguments, unquoted */
    int n_kv;
    char **keys;      /* key=value options in order */
    char **vals;
} CmdArgs;

/* Splits text into command texts at ';' and newlines outside quotes, dropping '#'
 * comments (to the end of their line). Empty commands are skipped. Fails when the line is
 * not valid UTF-8 or holds a control character other than tab, CR and LF (base/utf8.h).
 * Caller frees with args_free_split. */
QsStatus args_split_line(const char *line, char ***cmds, int *n, QsError *err);
void args_free_split(char **cmds, int n);

/* Tokenises one command text. Fails on an unterminated quote or an empty key. A token is
 * an option when it has '=' after a name made of letters, digits, '_' and '-'. */
QsStatus args_parse(const char *text, CmdArgs *a, QsError *err);
void args_release(CmdArgs *a);

/* Appends s as one argument the lexer reads back as s: as it is when it can be, else in
 * "..." with '"' and backslash escaped (empty, white space, a quote, ';', '#', a
 * backslash and a key=value form need it). */
void args_quote(StrBuf *b, const char *s);

/* Option accessors. The value of a missing key is the default. A present but malformed
 * value fails with "key=value: expected ...". */
const char *arg_str(const CmdArgs *a, const char *key, const char *def);
bool arg_has(const CmdArgs *a, const char *key);
QsStatus arg_int(const CmdArgs *a, const char *key, long def, long *out, QsError *err);
QsStatus arg_int_range(const CmdArgs *a, const char *key, long def, long lo, long hi, long *out,
                       QsError *err);
QsStatus arg_float(const CmdArgs *a, const char *key, double def, double *out, QsError *err);
QsStatus arg_bool(const CmdArgs *a, const char *key, bool def, bool *out, QsError *err);
/* choices is NULL-terminated; *out is the index of the match, or def when absent. */
QsStatus arg_choice(const CmdArgs *a, const char *key, const char *const *choices, int def,
                    int *out, QsError *err);

/* Parsers shared with `set`. */
QsStatus parse_long(const char *key, const char *s, long *out, QsError *err);
QsStatus parse_double(const char *key, const char *s, double *out, QsError *err);
QsStatus parse_bool(const char *key, const char *s, bool *out, QsError *err);
QsStatus parse_choice(const char *key, const char *s, const char *const *choices, int *out,
                      QsError *err);

#endif
