/* A command's Result as HTML: its fields as a definition list, its tables as <table>s, each
 * value written as the text renderer shows it (render_value), so the report's figures read
 * as the console's. Every string is escaped. */
#ifndef QS_HTML_TABLE_H
#define QS_HTML_TABLE_H

#include "text/result.h"
#include "text/strbuf.h"

/* The fields as <dl class="fields">; nothing when there are none. */
void html_fields(StrBuf *b, const Result *r);
/* t as a <table>, numbers right-aligned; row `mark` (-1: none) highlighted. */
void html_rtable(StrBuf *b, const RTable *t, int mark);
/* The row whose column `col` holds the string `val`, or -1. */
int html_row_with(const RTable *t, const char *col, const char *val);

#endif
