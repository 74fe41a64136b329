/* What a command returns: named scalar fields, tables and preformatted text lines.
 * Handlers fill a Result and never print; renderers (text, JSON, panes) show it, so the
 * same script gives the same figures in every front end. */
#ifndef QS_RESULT_H
#define QS_RESULT_H

#include <stdbool.h>
#include <stdint.h>

/* RV_RANGE is a closed interval [f, hi] (a weight or activation range): JSON [lo, hi], text
 * "[lo, hi]". RV_INTS is a list of integers (channels): JSON [a, b], text "a,b". */
typedef enum { RV_NULL = 0, RV_INT, RV_FLOAT, RV_STR, RV_BOOL, RV_RANGE, RV_INTS } RvType;

/* How the text renderer shows a float; JSON always gets the raw number. */
typedef enum {
    RS_PLAIN = 0,  /* %.6g */
    RS_PCT,        /* fraction shown as "98.12 %" */
    RS_DB,         /* "31.4 dB" */
    RS_BYTES,      /* "1.2 MB" next to the exact count */
    RS_MS,         /* milliseconds, "0.42 ms" */
    RS_FIXED4      /* %.4f */
} RvStyle;

typedef struct RValue {
    RvType type;
    RvStyle style;
    int64_t i;     /* RV_INT, RV_BOOL */
    double f;      /* RV_FLOAT; RV_RANGE's low end */
    double hi;     /* RV_RANGE's high end */
    char *s;       /* RV_STR, owned */
    int64_t *ints; /* RV_INTS, owned */
    int n_ints;
} RValue;

typedef struct RField {
    char *key;     /* stable name, documented in docs/json.md */
    RValue v;
} RField;

typedef struct RTable {
    char *name;    /* JSON key of the array of row objects */
    int n_cols;
    char **cols;   /* column names, also the JSON keys */
    int n_rows, cap_rows;
    RValue *cells; /* n_rows * n_cols, row-major */
} RTable;

typedef struct Result {
    char *cmd;
    int n_fields;
    RField *fields;
    int n_tables;
    RTable *tables;
    int n_text;
    char **text;   /* preformatted lines (help, histograms); JSON "text" array */
} Result;

/* Every key of a result's JSON object is unique, and a duplicate is a programming error
 * stopped by QS_ASSERT where it is added: a field set twice, a field or table named like
 * another field or table of the result or like a key the renderer writes itself (`cmd`,
 * `ok`, `text`), a column named twice in one table. */
void result_init(Result *r, const char *cmd);
void result_release(Result *r);
/* Empties r for the next command, keeping nothing. */
void result_reset(Result *r, const char *cmd);
/* dst (uninitialised) becomes a copy of src that owns its own text and lists. */
void result_copy(Result *dst, const Result *src);

void result_int(Result *r, const char *key, int64_t v);
void result_float(Result *r, const char *key, double v, RvStyle style);
void result_str(Result *r, const char *key, const char *v);
void result_bool(Result *r, const char *key, bool v);
void result_textf(Result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds a table with the given column names (NULL-terminated list). */
RTable *result_table(Result *r, const char *name, const char *const *cols);
/* Appends a row; cells are then set with the cell_* helpers by column index. */
int rtable_add_row(RTable *t);
void rtable_int(RTable *t, int row, int col, int64_t v);
void rtable_float(RTable *t, int row, int col, double v, RvStyle style);
void rtable_str(RTable *t, int row, int col, const char *v);
void rtable_bool(RTable *t, int row, int col, bool v);
void rtable_range(RTable *t, int row, int col, double lo, double hi);
void rtable_ints(RTable *t, int row, int col, const int *v, int n);

/* Lookups used by tests, the workbench and the HTML report; NULL (or -1) when absent. */
const RValue *result_get(const Result *r, const char *key);
const RTable *result_find_table(const Result *r, const char *name);
int rtable_col(const RTable *t, const char *col);
/* Cell (row, col); NULL when t is NULL or row or col is out of range. */
const RValue *rtable_cell(const RTable *t, int row, int col);
/* A value as a double: NaN when absent or not a number. */
double rvalue_num(const RValue *v);
/* The string of a string value, else NULL. */
const char *rvalue_str(const RValue *v);

#endif
