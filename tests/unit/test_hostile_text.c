/* Hostile text in the native format and in output (issue 14, finding 5):
 *   - .qsm files whose names carry control characters (through JSON escapes) or an escaped
 *     NUL are refused with the element named; metadata values may hold newlines;
 *   - qsm_serialize refuses a model whose names would make an unloadable file, instead of
 *     writing it and reporting success;
 *   - the JSON renderer emits valid UTF-8 that cJSON parses, whatever bytes a result holds;
 *   - specs, .npz member names and command lines are checked by the same rule. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"
#include "graph/graph.h"
#include "graph/model.h"
#include "native/qsm.h"
#include "native/spec.h"
#include "arrays/npz.h"
#include "text/args.h"
#include "ops/op.h"
#include "text/render.h"
#include "test_graph.h"
#include "test_util.h"

/* A .qsm image without tensors: x (N, 4) -> node `node` (Relu) -> y, with `extra_meta`
 * ("" or ',"meta.k":"v"' in the header's JSON) added to __metadata__. Caller frees. */
static unsigned char *tiny_qsm(const char *node, const char *extra_meta, size_t *len)
{
    char graph[512], hdr[1024];
    /* the graph is a JSON string inside the header: its quotes are escaped */
    snprintf(graph, sizeof graph,
             "{\\\"inputs\\\":[{\\\"name\\\":\\\"x\\\",\\\"shape\\\":[4]}],\\\"nodes\\\":[{"
             "\\\"name\\\":\\\"%s\\\",\\\"op\\\":\\\"Relu\\\",\\\"inputs\\\":[\\\"x\\\"],"
             "\\\"output\\\":\\\"y\\\",\\\"attrs\\\":{}}],\\\"outputs\\\":[\\\"y\\\"],"
             "\\\"params\\\":[]}",
             node);
    int n = snprintf(hdr, sizeof hdr,
                     "{\"__metadata__\":{\"format\":\"qsm\",\"qsm.version\":\"1\","
                     "\"qsm.graph\":\"%s\"%s}}",
                     graph, extra_meta);
    unsigned char *buf = malloc(8 + (size_t)n);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, hdr, (size_t)n);
    *len = 8 + (size_t)n;
    return buf;
}

static void expect_qsm(const char *label, const char *node, const char *meta, const char *msg)
{
    size_t len;
    unsigned char *buf = tiny_qsm(node, meta, &len);
    QsError err = { 0 };
    Model *m = qsm_parse(buf, len, "t.qsm", &err);
    if (msg) {
        CHECK(m == NULL);
        expect_error(label, err.code, &err, QS_EFORMAT, msg);
    } else if (!CHECK(m != NULL)) {
        fprintf(stderr, "%s: %s\n", label, err.msg);
    }
    model_free(m);
    free(buf);
}

static void test_qsm_names(void)
{
    expect_qsm("plain", "relu", "", NULL);
    expect_qsm("utf-8 name", "r\xc3\xa9lu", "", NULL);
    expect_qsm("newline in a metadata value", "relu", ",\"meta.note\":\"two\\nlines\"", NULL);
    /* \\u001b in the header is \u001b in the graph's JSON, ESC in the name */
    expect_qsm("ESC in a node name", "r\\\\u001b[2J", "",
               "t.qsm: the value of 'name' in an element in 'nodes' contains the control "
               "character 0x1b at offset 1");
    expect_qsm("C1 control", "r\\\\u009b", "",
               "the value of 'name' in an element in 'nodes' contains the control character "
               "0x9b at offset 1");
    expect_qsm("newline in a metadata key", "relu", ",\"meta.a\\nb\":\"v\"",
               "t.qsm: a key in '__metadata__' contains the control character 0x0a at offset 6");
    expect_qsm("BEL in a metadata value", "relu", ",\"meta.note\":\"\\u0007\"",
               "t.qsm: the value of 'meta.note' in '__metadata__' contains the control "
               "character 0x07 at offset 0");
    /* cJSON would cut "re\u0000lu" to "re" */
    expect_qsm("escaped NUL", "relu", ",\"meta.k\":\"a\\u0000b\"",
               "t.qsm: the header has an escaped NUL (\\u0000) at byte ");
    expect_qsm("escaped NUL in the graph", "re\\\\u0000lu", "",
               "t.qsm: metadata \"qsm.graph\" has an escaped NUL (\\u0000) at character 57");
    /* an escaped backslash followed by u0000 is text, not a NUL */
    expect_qsm("escaped backslash", "relu", ",\"meta.k\":\"a\\\\u0000b\"", NULL);
}

/* x (N, 4) -> Relu named `name` -> its output. */
static Model *relu_model(const char *name)
{
    Model *m = model_new();
    QsError err = { 0 };
    CHECK_OK(graph_add_input(&m->graph, "x", &(Shape){ .ndim = 1, .dim = { 4 } }, &err), &err);
    tu_add_node(&m->graph, OP_RELU, name, (const char *[]){ "x" }, 1, NULL, 0);
    CHECK_OK(graph_add_output(&m->graph, name, &err), &err);
    CHECK_OK(graph_finalize(&m->graph, &err), &err);
    return m;
}

static void test_save_refuses(void)
{
    static const struct {
        const char *name, *msg;
    } cases[] = {
        { "r\xff", "value 1: name is not valid UTF-8 (byte 0xff at offset 1)" },
        { "r\n", "value 1: name contains the control character 0x0a at offset 1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Model *m = relu_model(cases[i].name);
        void *buf = NULL;
        size_t len = 0;
        QsError err = { 0 };
        CHECK(qsm_serialize(m, &buf, &len, &err) == QS_EFORMAT);
        expect_error(cases[i].msg, err.code, &err, QS_EFORMAT, cases[i].msg);
        free(buf);
        model_free(m);
    }
    /* metadata: a key is a name, a value is text */
    Model *m = relu_model("relu");
    model_meta_set(m, "note", "two\nlines\tand \xe2\x82\xac");
    void *buf = NULL;
    size_t len = 0;
    QsError err = { 0 };
    if (CHECK_OK(qsm_serialize(m, &buf, &len, &err), &err)) {
        Model *back = qsm_parse(buf, len, "t.qsm", &err);
        if (CHECK(back != NULL))
            CHECK(strcmp(model_meta_get(back, "note"), "two\nlines\tand \xe2\x82\xac") == 0);
        model_free(back);
    }
    free(buf);
    buf = NULL;
    model_meta_set(m, "bad", "\xc3(");
    CHECK(qsm_serialize(m, &buf, &len, &err) == QS_EFORMAT);
    expect_error("meta value", err.code, &err, QS_EFORMAT,
                 "metadata 'bad' is not valid UTF-8 (byte 0xc3 at offset 0)");
    free(buf);
    model_free(m);
}

/* The renderer's output is valid UTF-8 and parses, whatever the result holds: bytes that
 * are not UTF-8 become '?', control characters are escaped. */
static void test_json_output(void)
{
    const char *hostile = "a\xff\x1b[31m\n\"q\"\\ \xed\xa0\x80 \xc3\xa9";
    Result r;
    result_init(&r, "info");
    result_str(&r, "name", hostile);
    const char *cols[] = { "layer", NULL };
    RTable *t = result_table(&r, "layers", cols);
    rtable_str(t, rtable_add_row(t), 0, hostile);
    result_textf(&r, "%s", hostile);
    char *line = render_json(&r);
    CHECK(utf8_valid(line, strlen(line)));
    cJSON *o = cJSON_Parse(line);
    if (CHECK(o != NULL)) {
        const char *want = "a?\x1b[31m\n\"q\"\\ ??? \xc3\xa9";
        const cJSON *name = cJSON_GetObjectItem(o, "name");
        CHECK(cJSON_IsString(name) && strcmp(name->valuestring, want) == 0);
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "layers"), 0);
        CHECK(strcmp(cJSON_GetObjectItem(row, "layer")->valuestring, want) == 0);
    }
    cJSON_Delete(o);
    free(line);
    /* the formatted form `report` writes */
    cJSON *doc = render_json_object(&r);
    char *text = render_json_print(doc, true);
    CHECK(utf8_valid(text, strlen(text)) && strchr(text, '\n') != NULL);
    cJSON *back = cJSON_Parse(text);
    CHECK(back != NULL);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(doc);
    char *e = render_json_error("load", "format", "bad \xff file");
    CHECK(utf8_valid(e, strlen(e)) && strstr(e, "bad ? file") != NULL);
    free(e);
    result_release(&r);
}

/* Specs, .npz member names and command lines go through the same rule. */
static void test_other_readers(void)
{
    QsError err = { 0 };
    const char *ok = "{\"input\": {\"shape\": [4]}, \"layers\": [{\"kind\": \"dense\", "
                     "\"name\": \"d\xc3\xa9\", \"out\": 2}], \"meta\": {\"note\": \"a\\nb\"}}";
    Model *m = spec_parse(ok, "s.json", -1, &err);
    if (!CHECK(m != NULL))
        fprintf(stderr, "spec: %s\n", err.msg);
    model_free(m);
    static const struct {
        const char *json, *msg;
    } bad[] = {
        { "{\"input\": {\"shape\": [4]}, \"layers\": [{\"kind\": \"dense\", \"name\": "
          "\"d\xff\", \"out\": 2}]}",
          "s.json: the file is not valid UTF-8 (byte 0xff at offset 65)" },
        { "{\"input\": {\"shape\": [4]}, \"layers\": [{\"kind\": \"dense\", \"name\": "
          "\"d\\u001b\", \"out\": 2}]}",
          "s.json: the value of 'name' in an element in 'layers' contains the control "
          "character 0x1b at offset 1" },
        { "{\"input\": {\"name\": \"x\\u0000y\", \"shape\": [4]}, \"layers\": []}",
          "s.json: escaped NUL (\\u0000) at byte 21" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = spec_parse(bad[i].json, "s.json", -1, &err);
        CHECK(m == NULL);
        expect_error(bad[i].msg, err.code, &err, QS_EFORMAT, bad[i].msg);
        model_free(m);
    }

    char path[] = "/tmp/qs_hostile_XXXXXX.npz";
    int fd = mkstemps(path, 4);
    if (CHECK(fd >= 0)) {
        close(fd);
        Tensor *t = tensor_new(DT_F32, shape_of(1, 2LL), &err);
        const char *names[1] = { "x\x1b[2J" };
        if (CHECK_OK(npz_save(path, names, (const Tensor *const *)&t, 1, &err), &err)) {
            char **list = NULL;
            int n = 0;
            CHECK(npz_list(path, &list, &n, &err) == QS_EFORMAT);
            CHECK(strstr(err.msg, ": member 0: name contains the control character 0x1b at "
                                  "offset 1") != NULL);
        }
        tensor_free(t);
        unlink(path);
    }

    char **cmds = NULL;
    int n = 0;
    CHECK(args_split_line("let a=\xc3\xa9; echo ok", &cmds, &n, &err) == QS_OK && n == 2);
    args_free_split(cmds, n);
    CHECK(args_split_line("let a=\xff", &cmds, &n, &err) == QS_EFORMAT);
    CHECK(strcmp(err.msg, "the line is not valid UTF-8 (byte 0xff at offset 6)") == 0);
    CHECK(args_split_line("echo \"\x1b[2J\"", &cmds, &n, &err) == QS_EFORMAT);
    CHECK(strcmp(err.msg, "the line contains the control character 0x1b at offset 6") == 0);
}

int main(void)
{
    test_other_readers();
    test_qsm_names();
    test_save_refuses();
    test_json_output();
    return test_summary("hostile_text");
}
